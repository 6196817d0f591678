#!/usr/bin/env bash
# GPU benchmark: ms/step of a full DCGAN-28 training step (D update + G update) on wgpu and
# ndarray at batch 64 and 256, with flex as the CPU reference. For a machine with a GPU
# (NVIDIA or other, through Vulkan); on a machine without one, wgpu reports that and stops.
#
#   scripts/gpu-bench.sh [--device ADAPTER] [--quick]
#
# --device picks the wgpu adapter (auto, N, discrete:N, ...). --quick times fewer steps.
# Prints one table per backend; see benches/step.rs for the columns.
set -euo pipefail
cd "$(dirname "$0")/.."

device=auto
gpu_steps=20
cpu_steps=3
while (($#)); do
    case "$1" in
        --device) device="$2"; shift 2 ;;
        --quick) gpu_steps=5; cpu_steps=1; shift ;;
        *) echo "usage: $0 [--device ADAPTER] [--quick]" >&2; exit 2 ;;
    esac
done

if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi
nproc | sed 's/^/CPU cores: /'

# Build once; the bench binary is then run per backend.
cargo bench --bench step --no-run

bench() { cargo bench --bench step -- --arch dcgan --batches 64,256 "$@"; }

echo "== wgpu (adapter: $device)"
bench --backends wgpu --device "$device" --acts relu,leaky --warmup 3 --steps "$gpu_steps"
echo "== flex (CPU reference)"
bench --backends flex --acts relu,leaky --warmup 1 --steps "$cpu_steps"
echo "== ndarray (slow transposed convolutions: few steps)"
bench --backends ndarray --acts relu --warmup 1 --steps "$cpu_steps"
