//! Training-step benchmark: ms/step for arch × disc-act × backend × batch × probes on/off.
//!
//! `cargo bench --bench step -- [--arch dcgan,mlp] [--acts relu,leaky] [--backends flex]
//!  [--batches 64] [--warmup 3] [--steps 15] [--threads N] [--device ADAPTER] [--outside-pool]`. For each arch,
//! backend and batch, one training per activation × probes off/on runs `warmup` untimed steps,
//! then `steps` timed ones, all taking turns step by step; each step ends with the read-back of
//! its scalars (so asynchronous backends are timed to completion). Prints median, min and max
//! ms/step and peak memory per configuration, the probes' overhead and each activation's cost
//! against the first (medians of step-by-step ratios).

use std::time::Instant;

use anyhow::Result;
use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Parser;
use gan::device;
use gan::device::{Adapter, BackendKind};
use gan::model::NetConfig;
use gan::model::{Act, Arch};
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
    #[arg(long, default_value = "auto", value_parser = |s: &str| s.parse::<Adapter>())]
    device: Adapter,
    /// Run the steps on the main thread rather than on a worker of the thread pool (as `gan`
    /// trains): for measuring what running inside the pool gains.
    #[arg(long)]
    outside_pool: bool,
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
    gan::alloc::keep_freed_memory();
    device::set_threads(args.threads)?;
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
                let time =
                    || time_interleaved(&dev, arch, &args.acts, batch, args.warmup, args.steps);
                let runs = match args.outside_pool {
                    true => time()?,
                    false => device::in_pool(time)?,
                };
                for (i, &act) in args.acts.iter().enumerate() {
                    let peak = peak_memory(&dev, arch, act, batch)?
                        .map(|m| format!("{m:.0}"))
                        .unwrap_or_else(|| "?".into());
                    for (probe, t) in [("off", &runs[2 * i]), ("on", &runs[2 * i + 1])] {
                        let (median, min, max) = spread(t);
                        println!(
                            "{:<6} {:<6} {:<8} {:>5} {:<6} {:>9.1} {:>9.1} {:>9.1} {:>9}",
                            format!("{arch:?}").to_lowercase(),
                            act.name(),
                            format!("{backend:?}").to_lowercase(),
                            batch,
                            probe,
                            median,
                            min,
                            max,
                            peak
                        );
                    }
                    println!(
                        "       probe overhead: {:+.1}%",
                        ratio(&runs[2 * i + 1], &runs[2 * i])
                    );
                }
                for (i, act) in args.acts.iter().enumerate().skip(1) {
                    println!(
                        "       {} vs {}: {:+.1}%",
                        act.name(),
                        args.acts[0].name(),
                        ratio(&runs[2 * i], &runs[0])
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

/// The networks `gan` trains for `arch` with discriminator activation `act`.
fn net(arch: Arch, act: Act) -> NetConfig {
    NetConfig {
        arch,
        disc_act: act,
        ..NetConfig::default()
    }
}

/// One step's inputs: a real batch and the two noise batches.
fn inputs(dev: &Device, batch: usize) -> (Tensor<4>, Tensor<2>, Tensor<2>) {
    (
        Tensor::random([batch, 1, 28, 28], Distribution::Uniform(-1.0, 1.0), dev),
        Tensor::random([batch, 100], Distribution::Normal(0.0, 1.0), dev),
        Tensor::random([batch, 100], Distribution::Normal(0.0, 1.0), dev),
    )
}

/// Milliseconds of every timed step, for each activation without and then with probes
/// (`[act0 off, act0 on, act1 off, ...]`). All trainings take turns step by step, so drift in
/// the machine's speed hits them alike and their per-step ratios compare like with like.
fn time_interleaved(
    dev: &Device,
    arch: Arch,
    acts: &[Act],
    batch: usize,
    warmup: usize,
    steps: usize,
) -> Result<Vec<Vec<f64>>> {
    let ad = dev.clone().autodiff();
    let mut gans = Vec::new();
    for &act in acts {
        for _probes in [false, true] {
            gans.push(Gan::new(&net(arch, act), 2e-4, 2e-4, 0.5, &ad)?);
        }
    }
    let (real, z_d, z_g) = inputs(&ad, batch);
    let mut times = vec![Vec::with_capacity(steps); gans.len()];
    for i in 0..warmup + steps {
        for (k, gan) in gans.iter_mut().enumerate() {
            if i == 0 {
                // burn draws weights lazily, at first use: the same seed before each first
                // step gives all trainings identical starting weights.
                dev.seed(1);
            }
            let t = Instant::now();
            gan.step(real.clone(), z_d.clone(), z_g.clone(), k % 2 == 1)
                .read()?;
            if i >= warmup {
                times[k].push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    Ok(times)
}

/// Peak resident memory of one training of `act` (with probes) over two steps, in MiB.
fn peak_memory(dev: &Device, arch: Arch, act: Act, batch: usize) -> Result<Option<f64>> {
    let ad = dev.clone().autodiff();
    reset_peak_memory();
    let mut gan = Gan::new(&net(arch, act), 2e-4, 2e-4, 0.5, &ad)?;
    let (real, z_d, z_g) = inputs(&ad, batch);
    for _ in 0..2 {
        gan.step(real.clone(), z_d.clone(), z_g.clone(), true)
            .read()?;
    }
    Ok(peak_memory_mib())
}

/// (median, min, max) of `times`.
fn spread(times: &[f64]) -> (f64, f64, f64) {
    let mut t = times.to_vec();
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[0], t[t.len() - 1])
}

/// How much slower `a` is than `b`, in percent: the median of their step-by-step ratios.
fn ratio(a: &[f64], b: &[f64]) -> f64 {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    (spread(&ratios).0 - 1.0) * 100.0
}
