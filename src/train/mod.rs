//! The training command: data, networks, the loop, and everything written to the run directory.

pub mod loss;
pub mod metrics;
pub mod progress;
pub mod run_dir;
pub mod step;
pub mod summary;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use crate::cli::{Act, Arch, DatasetKind, TrainArgs};
use crate::data::{self, Batcher};
use crate::device;
use crate::model::{Generator, NetConfig, dcgan};
use crate::probe::dead::DeadTracker;
use crate::probe::layer_name;
use crate::report::grid::save_grid;
use metrics::MetricsLog;
use progress::Progress;
use step::{Gan, StepScalars};
use summary::Summary;

/// Everything about a run, written to `config.json`.
#[derive(Debug, Serialize)]
struct RunConfig<'a> {
    gan_version: &'static str,
    burn_version: &'static str,
    args: &'a TrainArgs,
    net: &'a NetConfig,
    device: &'a str,
    threads: usize,
    dataset: DatasetInfo<'a>,
    started: String,
    command_line: Vec<String>,
}

#[derive(Debug, Serialize)]
struct DatasetInfo<'a> {
    kind: DatasetKind,
    path: Option<&'a Path>,
    len: usize,
    skipped_files: usize,
    channels: usize,
    size: usize,
    classes: &'a [String],
}

/// Trains as `args` says and returns the run directory.
pub fn run(args: &TrainArgs) -> Result<PathBuf> {
    if args.arch == Arch::Dcgan {
        dcgan::stages(args.image_size as usize)?;
    }
    let (data, skipped) = data::load(&data::Spec {
        kind: args.dataset,
        path: args.data.clone(),
        size: args.image_size as usize,
        channels: args.channels.map(|c| c as usize),
        limit: args.dataset_size.map(|n| n as usize),
        seed: args.seed,
        skip_bad: args.skip_bad_images,
    })?;
    if skipped > 0 {
        eprintln!(
            "skipped {skipped} unreadable image file(s) under {} (--skip-bad-images)",
            args.data.as_deref().unwrap_or(Path::new("?")).display()
        );
    }
    if args.batch_size as usize > data.len {
        bail!(
            "--batch-size {} is larger than the dataset ({} images)",
            args.batch_size,
            data.len
        );
    }
    let net = NetConfig {
        arch: args.arch,
        image_size: data.size,
        channels: data.channels,
        latent_dim: args.latent_dim as usize,
        disc_act: args.disc_act,
        gen_act: args.gen_act,
        alpha: args.alpha,
        disc_batch_norm: true,
    };
    device::set_threads(args.threads);
    let opened = device::open(args.backend)?;
    let dev = opened.device.clone();
    dev.seed(args.seed);
    let ad = dev.clone().autodiff();
    let mut gan = Gan::new(&net, args.lr, args.beta1, &ad)?;

    // Only now, with every input checked, touch the output folder.
    let dir = run_dir::create(&args.out, args.name.as_deref(), &default_name(args))?;
    let config = RunConfig {
        gan_version: env!("CARGO_PKG_VERSION"),
        burn_version: "0.22.1",
        args,
        net: &net,
        device: &opened.description,
        threads: rayon::current_num_threads(),
        dataset: DatasetInfo {
            kind: args.dataset,
            path: args.data.as_deref(),
            len: data.len,
            skipped_files: skipped,
            channels: data.channels,
            size: data.size,
            classes: &data.class_names,
        },
        started: chrono::Local::now().to_rfc3339(),
        command_line: std::env::args().collect(),
    };
    write_json(&dir.join("config.json"), &config)?;
    eprintln!("run directory: {}  [{}]", dir.display(), opened.description);

    let layers = gan.d.hidden_layers();
    let probes = !args.no_probes;
    let columns = metric_columns(layers, probes);
    let mut log = MetricsLog::create(&dir.join("metrics.csv"), &columns)?;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut dead = DeadTracker::new(args.dead_window as usize);
    let batch = args.batch_size as usize;
    let latent = args.latent_dim as usize;
    let mut batcher = Batcher::new(data.len, batch, args.seed);
    // Separate streams: the fixed sample noise depends on the seed and latent size only.
    let mut noise_rng = StdRng::seed_from_u64(args.seed ^ 0x4e4f_4953_4500_0001);
    let fixed_z = normal_tensor(
        &mut StdRng::seed_from_u64(args.seed ^ 0x4649_5845_4400_0001),
        args.sample_count as usize,
        latent,
        &dev,
    );
    let samples = dir.join("samples");
    let save = |g: &Generator, name: &str| save_samples(g, &fixed_z, &net, &samples.join(name));
    save(&gan.g, "step_000000.png")?;

    let mut progress = Progress::new(args.steps, args.quiet);
    let started = Instant::now();
    let mut last_log = (Instant::now(), 0u64);
    for step in 0..args.steps {
        let real = Tensor::<4>::from_data(
            TensorData::new(
                batcher.next_batch(&data),
                [batch, data.channels, data.size, data.size],
            ),
            &ad,
        );
        let z_d = normal_tensor(&mut noise_rng, batch, latent, &ad);
        let z_g = normal_tensor(&mut noise_rng, batch, latent, &ad);
        let done = step + 1;
        let logged = step % args.log_every == 0 || done == args.steps;
        let out = gan.step(real, z_d, z_g, logged && probes);

        if logged {
            let s = out.read()?;
            let ms = last_log.0.elapsed().as_secs_f64() * 1e3 / (done - last_log.1) as f64;
            last_log = (Instant::now(), done);
            for (name, v) in [("loss_d", s.loss_d), ("loss_g", s.loss_g)] {
                if !v.is_finite() {
                    progress.finish();
                    bail!(
                        "training diverged at step {step}: {name} is {v}; try a lower --lr (outputs so far are in {})",
                        dir.display()
                    );
                }
            }
            let row = metric_row(&s, &mut dead, ms);
            log.write(step, &row)?;
            progress.update(step, &s, ms);
            rows.push(row);
        } else {
            progress.tick(step);
        }
        if args.sample_every > 0 && done % args.sample_every == 0 && done < args.steps {
            let t = Instant::now();
            save(&gan.g, &format!("step_{done:06}.png"))?;
            // Keep sampling out of step_ms.
            last_log.0 += t.elapsed();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    save(&gan.g, &format!("step_{:06}.png", args.steps))?;
    fs::copy(
        samples.join(format!("step_{:06}.png", args.steps)),
        samples.join("final.png"),
    )
    .context("writing samples/final.png")?;
    progress.finish();

    let summary = Summary {
        steps: args.steps,
        logged_steps: rows.len(),
        wall_seconds: secs,
        ms_per_step: secs * 1e3 / args.steps as f64,
        metrics: summary::column_stats(&columns, &rows),
    };
    write_json(&dir.join("summary.json"), &summary)?;
    print_summary(&summary, layers, &samples.join("final.png"));
    Ok(dir)
}

/// metrics.csv columns after `step`, in order. Column names are a public interface (README).
pub fn metric_columns(layers: usize, probes: bool) -> Vec<String> {
    let mut c: Vec<String> = ["loss_d", "loss_g", "d_real", "d_fake"]
        .map(String::from)
        .to_vec();
    if probes {
        c.push("d_grad_zero".into());
        for metric in [
            "d_grad_zero",
            "d_preact_nonpos",
            "d_dead_units",
            "d_dead_units_persistent",
        ] {
            c.extend((0..layers).map(|l| format!("{metric}_{}", layer_name(l))));
        }
        for name in [
            "d_dead_units_persistent",
            "d_param_grad_zero",
            "g_signal_zero",
            "g_signal_norm",
        ] {
            c.push(name.into());
        }
    }
    c.push("step_ms".into());
    c
}

/// One metrics.csv row in `metric_columns` order.
fn metric_row(s: &StepScalars, dead: &mut DeadTracker, ms: f64) -> Vec<f64> {
    let mut row = vec![s.loss_d, s.loss_g, s.d_real, s.d_fake];
    if let Some(p) = &s.sparsity {
        row.push(p.d_grad_zero);
        row.extend(p.layers.iter().map(|l| l.grad_zero));
        row.extend(p.layers.iter().map(|l| l.preact_nonpos));
        row.extend(p.layers.iter().map(|l| l.dead_units));
        let persistent = dead.push(p.layers.iter().map(|l| l.dead_mask.clone()).collect());
        row.extend(&persistent);
        // Unit-weighted over all layers.
        let units: Vec<usize> = p.layers.iter().map(|l| l.dead_mask.len()).collect();
        let total: usize = units.iter().sum();
        let dead_units: f64 = persistent
            .iter()
            .zip(&units)
            .map(|(f, &u)| f * u as f64)
            .sum();
        row.push(dead_units / total as f64);
        row.extend([p.d_param_grad_zero, p.g_signal_zero, p.g_signal_norm]);
    }
    row.push(ms);
    row
}

/// The end-of-run lines on the console.
fn print_summary(summary: &Summary, layers: usize, final_png: &Path) {
    let m = &summary.metrics;
    eprintln!(
        "done: {} steps in {:.1} s ({:.0} ms/step); samples: {}",
        summary.steps,
        summary.wall_seconds,
        summary.ms_per_step,
        final_png.display()
    );
    let fmt = |name: &str| {
        m.get(name)
            .map(|s| format!("{name} {:.3} (mean {:.3})", s.last, s.mean))
    };
    let mut parts: Vec<String> = [
        "loss_d",
        "loss_g",
        "d_grad_zero",
        "g_signal_zero",
        "g_signal_norm",
    ]
    .iter()
    .filter_map(|n| fmt(n))
    .collect();
    for l in 0..layers {
        let name = layer_name(l);
        if let (Some(z), Some(d)) = (
            m.get(&format!("d_grad_zero_{name}")),
            m.get(&format!("d_dead_units_{name}")),
        ) {
            parts.push(format!(
                "{name}: grad zero {:.3}, dead units {:.3}",
                z.last, d.last
            ));
        }
    }
    eprintln!("final (mean over logged steps): {}", parts.join("; "));
}

/// Default run name: dataset, architecture, activation (with alpha), seed and start time.
fn default_name(args: &TrainArgs) -> String {
    let act = match args.disc_act {
        Act::Relu => "relu".to_string(),
        Act::Leaky => format!("leaky{}", args.alpha),
    };
    let dataset = args.dataset.name();
    let arch = format!("{:?}", args.arch).to_lowercase();
    let time = chrono::Local::now().format("%Y%m%d-%H%M%S");
    format!("{dataset}-{arch}-{act}-s{}-{time}", args.seed)
}

/// A `[rows, cols]` tensor of N(0, 1) noise drawn on the host, so every backend sees the same.
fn normal_tensor(rng: &mut StdRng, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..rows * cols)
        .map(|_| StandardNormal.sample(rng))
        .collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

/// Writes the grid of G(fixed noise), with batch norm in inference mode.
fn save_samples(g: &Generator, z: &Tensor<2>, net: &NetConfig, path: &Path) -> Result<()> {
    let images = g.valid().forward(z.clone());
    let [n, ..] = images.dims();
    let values: Vec<f32> = images
        .into_data()
        .try_into_vec()
        .map_err(|e| anyhow::anyhow!("reading samples from the device: {e:?}"))?;
    save_grid(&values, n, net.channels, net.image_size, path)
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
