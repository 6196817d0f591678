#!/usr/bin/env bash
# gan's training step against the PyTorch peer, side by side in one session on this machine
# (issue #9: compare ratios measured together, never absolute times from different sessions).
# Needs PyTorch: python3 -m venv ~/torch-venv && ~/torch-venv/bin/pip install torch numpy
# Usage: scripts/bench-vs-torch.sh [THREADS]      (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
python="${TORCH_PYTHON:-$HOME/torch-venv/bin/python}"
peer="${TORCH_PEER:-../shared/bench/torch_gan_step.py}"
[ -x "$python" ] || { echo "bench-vs-torch: no Python with PyTorch at $python (set TORCH_PYTHON)" >&2; exit 1; }
[ -f "$peer" ] || { echo "bench-vs-torch: no peer script at $peer (set TORCH_PEER)" >&2; exit 1; }
cargo build --release --bench step >/dev/null 2>&1 || cargo build --release --bench step
echo "== PyTorch $("$python" -c 'import torch; print(torch.__version__)'), DCGAN-28, batch 64, $threads threads"
for act in relu leaky; do
    "$python" "$peer" --arch dcgan --act "$act" --threads "$threads" --batch 64
done
echo "== gan (burn flex), same model and batch, $threads threads"
cargo bench --bench step -- --arch dcgan --acts relu,leaky --backends flex --batches 64 \
    --warmup 3 --steps 15 --threads "$threads"
