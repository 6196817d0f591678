#!/usr/bin/env bash
# gan's training step against the PyTorch peer, side by side in one session on this machine
# (issue #9: compare ratios measured together, never absolute times from different sessions).
# For each architecture and thread count: PyTorch's median ms/step (relu, leaky), gan's (burn
# flex, probes off and on), the ratio gan / PyTorch, and each side's peak resident memory.
# Needs PyTorch: python3 -m venv ~/torch-venv && ~/torch-venv/bin/pip install torch numpy
# Usage: scripts/bench-vs-torch.sh [THREADS...]      (default: 1 2)
#   ARCHS="dcgan mlp" BATCH=64 STEPS=15 (gan's timed steps; PyTorch's own defaults otherwise)
#   STEP_BIN=path: time that step-bench binary (e.g. an earlier build's) instead of building
#   ROUNDS=3: gan and PyTorch take turns this many times; medians over the rounds (a noisy
#   machine's drift hits both sides of each round alike)
set -euo pipefail
# A relative STEP_BIN means the caller's directory, not the repository root this moves to.
[ -n "${STEP_BIN:-}" ] && STEP_BIN="$(realpath -- "$STEP_BIN" 2>/dev/null || echo "$STEP_BIN")"
cd "$(dirname "$0")/.."
threads=("${@:-1 2}")
read -r -a threads <<<"${threads[*]}"
archs="${ARCHS:-dcgan mlp}"
batch="${BATCH:-64}"
steps="${STEPS:-15}"
rounds="${ROUNDS:-3}"
python="${TORCH_PYTHON:-$HOME/torch-venv/bin/python}"
peer="${TORCH_PEER:-../shared/bench/torch_gan_step.py}"
[ -x "$python" ] || { echo "bench-vs-torch: no Python with PyTorch at $python (set TORCH_PYTHON)" >&2; exit 1; }
[ -f "$peer" ] || { echo "bench-vs-torch: no peer script at $peer (set TORCH_PEER)" >&2; exit 1; }
# Say so before building: a build (or another cargo holding the build lock) can take minutes,
# and its output is hidden unless it fails.
if [ -n "${STEP_BIN:-}" ]; then
    [ -x "$STEP_BIN" ] || { echo "bench-vs-torch: STEP_BIN=$STEP_BIN is not an executable" >&2; exit 1; }
    echo "bench-vs-torch: gan's side is $STEP_BIN" >&2
else
    echo "bench-vs-torch: building the step bench (cargo build --release --bench step)..." >&2
    cargo build --release --bench step >/dev/null 2>&1 || cargo build --release --bench step
fi
# gan's step bench: the built one, or STEP_BIN (another build's, for a before/after pass).
step_bench() {
    if [ -n "${STEP_BIN:-}" ]; then "$STEP_BIN" "$@"; else cargo bench --bench step -- "$@"; fi
}
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
isa="AVX2"; grep -q avx512f /proc/cpuinfo && isa="AVX-512"
echo "CPU: $cpu ($isa), $(nproc) cores; PyTorch $("$python" -c 'import torch; print(torch.__version__)')"

# PyTorch's median ms/step and the process's peak RSS (MiB) for one act and thread count.
torch_step() {
    "$python" - "$peer" "$@" <<'EOF'
import json, resource, runpy, sys, io, contextlib
peer, args = sys.argv[1], sys.argv[2:]
sys.argv = [peer, "--json", *args]
out = io.StringIO()
with contextlib.redirect_stdout(out):
    runpy.run_path(peer, run_name="__main__")
r = json.loads(out.getvalue().strip().splitlines()[-1])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{r['ms_step_median']:.2f} {peak:.0f}")
EOF
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

printf '\n%-6s %-7s %-6s %14s %9s %14s %9s %8s %8s %10s\n' arch threads act "torch ms" "torch MiB" \
    "gan ms (off)" "gan MiB" ratio "probes" "leaky/relu"
for arch in $archs; do
    for t in "${threads[@]}"; do
        # Each round times gan (every act, probes off and on, taking turns) and then PyTorch's
        # relu and leaky steps; the ratio is the median over rounds of each round's own ratio,
        # so drift in the machine's speed between rounds cancels.
        declare -A tms=() tmib=() off=() on=() mib=() ratio=() cost=()
        for ((r = 0; r < rounds; r++)); do
            gan_out="$(step_bench --arch "$arch" --acts relu,leaky --backends flex \
                --batches "$batch" --warmup 3 --steps "$steps" --threads "$t" 2>/dev/null)"
            for act in relu leaky; do
                res="$(torch_step --arch "$arch" --act "$act" --threads "$t" --batch "$batch" 2>/dev/null)" ||
                    { echo "bench-vs-torch: the PyTorch peer failed ($arch, $act, $t threads)" >&2; exit 1; }
                read -r torch_ms torch_mib <<<"$res"
                o="$(awk -v a="$act" '$2 == a && $5 == "off" {print $6}' <<<"$gan_out")"
                n="$(awk -v a="$act" '$2 == a && $5 == "on" {print $6}' <<<"$gan_out")"
                tms[$act]+=" $torch_ms"
                tmib[$act]="$torch_mib"
                off[$act]+=" $o"
                on[$act]+=" $(awk -v n="$n" -v o="$o" 'BEGIN {print n / o}')"
                mib[$act]="$(awk -v a="$act" '$2 == a && $5 == "off" {print $9}' <<<"$gan_out")"
                ratio[$act]+=" $(awk -v o="$o" -v tm="$torch_ms" 'BEGIN {print o / tm}')"
            done
            cost[leaky]+=" $(awk '$2 == "leaky" && $5 == "off" {l = $6} $2 == "relu" && $5 == "off" {r = $6} END {print l / r}' <<<"$gan_out")"
        done
        for act in relu leaky; do
            c=1; [ "$act" = leaky ] && c="$(median <<<"${cost[leaky]}")"
            awk -v arch="$arch" -v t="$t" -v act="$act" -v tm="$(median <<<"${tms[$act]}")" \
                -v tmib="${tmib[$act]}" -v off="$(median <<<"${off[$act]}")" \
                -v on="$(median <<<"${on[$act]}")" -v mib="${mib[$act]}" \
                -v r="$(median <<<"${ratio[$act]}")" -v c="$c" 'BEGIN {
                printf "%-6s %-7s %-6s %14.2f %9s %14.2f %9s %8.2f %+7.1f%% %+9.1f%%\n",
                    arch, t, act, tm, tmib, off, mib, r, 100 * (on - 1), 100 * (c - 1)
            }'
        done
        unset tms tmib off on mib ratio cost
    done
done
echo
echo "$rounds round(s); ms = medians over rounds of each side's median ms per step (D update + G update,"
echo "batch $batch); ratio = gan (probes off) / PyTorch, the median of the rounds' own ratios;"
echo "probes = gan's probe overhead; leaky/relu = gan's LeakyReLU step against its ReLU step."
echo "MiB = peak resident memory: PyTorch's whole process (its libraries included), gan's step alone (after a reset)."
