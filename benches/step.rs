//! Training-step benchmark: ms/step for arch × disc-act × backend × batch × probes on/off.
//!
//! `cargo bench --bench step -- [--arch dcgan,mlp] [--acts relu,leaky] [--backends flex]
//!  [--batches 64] [--warmup 3] [--steps 15] [--threads N] [--device ADAPTER]`. Each configuration runs `warmup` untimed steps,
//! then `steps` timed ones, each ending with the read-back of its scalars (so asynchronous
//! backends are timed to completion). Prints median, min and max ms/step, and the probes' overhead.

use std::time::Instant;

use anyhow::Result;
use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Parser;
use gan::cli::{Act, Adapter, Arch, BackendKind};
use gan::device;
use gan::model::NetConfig;
use gan::train::step::Gan;

#[derive(Parser)]
struct Args {
    #[arg(long, value_delimiter = ',', default_value = "dcgan")]
    arch: Vec<Arch>,
    #[arg(long, value_delimiter = ',', default_value = "relu,leaky")]
    acts: Vec<Act>,
    #[arg(long, value_delimiter = ',', default_value = "flex")]
    backends: Vec<BackendKind>,
    #[arg(long, value_delimiter = ',', default_value = "64")]
    batches: Vec<usize>,
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    #[arg(long, default_value_t = 15)]
    steps: usize,
    #[arg(long)]
    threads: Option<u32>,
    /// wgpu adapter (auto, N, discrete:N, integrated:N, virtual:N, cpu).
    #[arg(long, default_value = "auto", value_parser = gan::cli::parse_adapter)]
    device: Adapter,
    /// cargo bench passes --bench; accepted and ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// mimalloc keeps freed tensor buffers for reuse; glibc's malloc returns large ones to the OS
/// and the next step pays page faults and zeroing for fresh memory (~10% of a DCGAN step).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let args = Args::parse();
    device::set_threads(args.threads);
    println!("threads: {}", rayon::current_num_threads());
    println!(
        "{:<6} {:<6} {:<8} {:>5} {:<6} {:>9} {:>9} {:>9} {:>9}",
        "arch", "act", "backend", "batch", "probes", "median", "min", "max", "peak MiB"
    );
    for &backend in &args.backends {
        let opened = device::open(backend, args.device)?;
        println!("device: {}", opened.description);
        let dev = opened.device;
        for &arch in &args.arch {
            for &batch in &args.batches {
                for &act in &args.acts {
                    reset_peak_memory();
                    let [off, on] = time_pair(&dev, arch, act, batch, args.warmup, args.steps)?;
                    // Both trainings live at once, so this is the peak of the pair.
                    let peak = peak_memory_mib()
                        .map(|m| format!("{m:.0}"))
                        .unwrap_or_else(|| "?".into());
                    for (probe, t) in [("off", off), ("on", on)] {
                        println!(
                            "{:<6} {:<6} {:<8} {:>5} {:<6} {:>9.1} {:>9.1} {:>9.1} {:>9}",
                            format!("{arch:?}").to_lowercase(),
                            act.name(),
                            format!("{backend:?}").to_lowercase(),
                            batch,
                            probe,
                            t.0,
                            t.1,
                            t.2,
                            peak
                        );
                    }
                    println!(
                        "       probe overhead: {:+.1}%",
                        (on.0 / off.0 - 1.0) * 100.0
                    );
                }
            }
        }
    }
    Ok(())
}

/// Resets the process's peak resident memory (Linux: writing 5 to /proc/self/clear_refs).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident memory since the last reset, in MiB (Linux `VmHWM`); host memory
/// only, so a GPU backend's device memory is not in it.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// (median, min, max) ms per step without and with probes. The two trainings alternate step
/// by step, so drift in machine load hits both alike.
fn time_pair(
    dev: &Device,
    arch: Arch,
    act: Act,
    batch: usize,
    warmup: usize,
    steps: usize,
) -> Result<[(f64, f64, f64); 2]> {
    let ad = dev.clone().autodiff();
    let net = NetConfig {
        arch,
        image_size: 28,
        channels: 1,
        latent_dim: 100,
        disc_act: act,
        gen_act: Act::Relu,
        alpha: 0.2,
        disc_batch_norm: true,
        disc_depth: 2,
    };
    let mut gans = [
        Gan::new(&net, 2e-4, 0.5, &ad)?,
        Gan::new(&net, 2e-4, 0.5, &ad)?,
    ];
    let real = Tensor::<4>::random([batch, 1, 28, 28], Distribution::Uniform(-1.0, 1.0), &ad);
    let z_d = Tensor::<2>::random([batch, 100], Distribution::Normal(0.0, 1.0), &ad);
    let z_g = Tensor::<2>::random([batch, 100], Distribution::Normal(0.0, 1.0), &ad);
    let mut times = [Vec::with_capacity(steps), Vec::with_capacity(steps)];
    for i in 0..warmup + steps {
        for (k, gan) in gans.iter_mut().enumerate() {
            if i == 0 {
                // burn draws weights lazily, at first use: the same seed before each first
                // step gives both trainings identical starting weights.
                dev.seed(1);
            }
            let t = Instant::now();
            gan.step(real.clone(), z_d.clone(), z_g.clone(), k == 1)
                .read()?;
            if i >= warmup {
                times[k].push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    Ok(times.map(|mut t| {
        t.sort_by(f64::total_cmp);
        (t[t.len() / 2], t[0], t[t.len() - 1])
    }))
}
