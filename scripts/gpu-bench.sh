#!/usr/bin/env bash
# GPU benchmark: ms/step of a full DCGAN-28 training step (D update + G update) on wgpu and
# ndarray at batch 64 and 256, with flex as the CPU reference. For a machine with a GPU
# (NVIDIA or other, through Vulkan); on a machine without one, wgpu reports that and stops.
#
#   scripts/gpu-bench.sh [--device ADAPTER] [--quick]
#
# --device picks the wgpu adapter (auto, N, discrete:N, ...). --quick times fewer steps.
# Prints one table per backend; see benches/step.rs for the columns.
#
# STEP_BIN=PATH runs an already built bench binary (`cargo bench --bench step --no-run` prints
# its path) instead of building: for a GPU machine without a Rust toolchain.
# TORCH_PEER=PATH (../shared/bench/torch_gan_step.py) also times PyTorch's step on the same GPU,
# in plain float32 and with TF32, through scripts/torch-gpu-step.py.
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
if [[ -n "${STEP_BIN:-}" ]]; then
    bench() { "$STEP_BIN" --arch dcgan --batches 64,256 "$@"; }
else
    cargo bench --bench step --no-run
    bench() { cargo bench --bench step -- --arch dcgan --batches 64,256 "$@"; }
fi

echo "== wgpu (adapter: $device)"
bench --backends wgpu --device "$device" --acts relu,leaky --warmup 3 --steps "$gpu_steps"
if [[ -n "${TORCH_PEER:-}" ]]; then
    echo "== PyTorch on the GPU, float32"
    python3 scripts/torch-gpu-step.py "$TORCH_PEER" --warmup 5 --steps "$((gpu_steps * 2))"
    echo "== PyTorch on the GPU, TF32 allowed"
    python3 scripts/torch-gpu-step.py "$TORCH_PEER" --warmup 5 --steps "$((gpu_steps * 2))" --tf32
fi
echo "== flex (CPU reference)"
bench --backends flex --acts relu,leaky --warmup 1 --steps "$cpu_steps"
echo "== ndarray (slow transposed convolutions: few steps)"
bench --backends ndarray --acts relu --warmup 1 --steps "$cpu_steps"
