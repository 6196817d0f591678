#!/usr/bin/env python3
"""The PyTorch peer's training step (../shared/bench/torch_gan_step.py) on a CUDA GPU.

The peer itself times the CPU only. This runs its very Trainer (same models, losses, Adam and
data) with every tensor on the GPU, so `scripts/gpu-bench.sh` can print PyTorch's ms/step beside
the wgpu backend's on the same card.

    scripts/torch-gpu-step.py PEER.py [--arch dcgan] [--batches 64,256] [--acts relu,leaky]
                              [--warmup 5] [--steps 50] [--device cuda] [--tf32]

Each step ends in the peer's `.item()` reads of the losses, which wait for the GPU, so a host
clock around the step times the whole step. --tf32 lets cuDNN and cuBLAS use TF32 (PyTorch's
default for convolutions); without it both stay in plain float32, as burn's wgpu kernels do.
"""
import argparse
import importlib.util
import statistics
import sys
import time

import torch


def load_peer(path):
    spec = importlib.util.spec_from_file_location("torch_gan_step", path)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    return peer


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("peer", help="path of torch_gan_step.py")
    ap.add_argument("--arch", choices=["dcgan", "mlp"], default="dcgan")
    ap.add_argument("--batches", default="64,256")
    ap.add_argument("--acts", default="relu,leaky")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tf32", action="store_true")
    a = ap.parse_args()

    if a.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("torch-gpu-step: PyTorch sees no CUDA device")
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    # Factory calls inside the peer (parameters, data, noise, labels) then land on the device.
    torch.set_default_device(a.device)
    peer = load_peer(a.peer)
    cuda = a.device.startswith("cuda")
    if cuda:
        print(f"device: {torch.cuda.get_device_name()} (torch {torch.__version__}, tf32 {'on' if a.tf32 else 'off'})")
    print(f"{'arch':<6} {'act':<6} {'batch':>5} {'median ms':>10} {'min':>8} {'max':>8} {'peak MiB':>9}")
    for batch in (int(b) for b in a.batches.split(",")):
        for act in a.acts.split(","):
            args = argparse.Namespace(arch=a.arch, act=act, alpha=0.2, batch=batch, seed=0,
                                      dcgan_init=False, dataset_size=1024, sparsity=False,
                                      preact_stats=False, freeze_d_in_g=False)
            tr = peer.Trainer(args)
            for _ in range(a.warmup):
                tr.step()
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            wall = []
            for _ in range(a.steps):
                t0 = time.perf_counter()
                tr.step()
                if cuda:
                    torch.cuda.synchronize()
                wall.append((time.perf_counter() - t0) * 1e3)
            peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else float("nan")
            print(f"{a.arch:<6} {act:<6} {batch:>5} {statistics.median(wall):>10.3f} "
                  f"{min(wall):>8.3f} {max(wall):>8.3f} {peak:>9.1f}")


if __name__ == "__main__":
    main()
