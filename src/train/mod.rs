//! The training command: data, networks, the loop, and everything written to the run directory.

pub mod checkpoint;
pub mod interrupt;
pub mod loss;
pub mod metrics;
pub mod progress;
pub mod resume;
pub mod run_dir;
pub mod step;
pub mod summary;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use crate::cli::{Act, Arch, DatasetKind, TrainArgs};
use crate::data::{self, Batcher, stream_seed};
use crate::device;
use crate::eval::TrainingEval;
use crate::model::{Generator, NetConfig, dcgan};
use crate::probe::dead::DeadTracker;
use crate::probe::layer_name;
use crate::report::gif::write_progress_gif;
use crate::report::grid::save_grid;
use checkpoint::State;
use interrupt::StopFlag;
use metrics::MetricsLog;
pub use progress::PlanBar;
use progress::Progress;
use resume::Resume;
use step::{Gan, StepScalars};
use summary::{Status, Summary};

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

/// How a training command ended (errors aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// All planned steps done.
    Finished(PathBuf),
    /// Stopped by Ctrl-C/SIGTERM after a checkpoint; resumable.
    Interrupted(PathBuf),
}

impl Outcome {
    /// The process exit status for this outcome.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Finished(_) => 0,
            Outcome::Interrupted(_) => interrupt::EXIT_CODE,
        }
    }
}

/// Trains as `args` says (a new run, or `--resume`) and says how it ended.
pub fn run(args: &TrainArgs) -> Result<Outcome> {
    run_in_plan(args, None)
}

/// Like `run`, as one run of a plan (gan compare): progress goes to the plan's bar, and the
/// per-run console lines are left to the plan.
pub fn run_in_plan(args: &TrainArgs, plan: Option<PlanBar>) -> Result<Outcome> {
    let (mut args, resume) = match &args.resume {
        Some(_) => {
            let (a, r) = resume::plan(args)?;
            (a, Some(r))
        }
        None => (args.clone(), None),
    };
    if resume.is_none() {
        // Absolute, so the run can be resumed from any folder.
        if let Some(p) = &args.data
            && let Ok(abs) = fs::canonicalize(p)
        {
            args.data = Some(abs);
        }
    }
    train(&args, resume, plan)
}

/// The training proper, fresh or resumed.
fn train(args: &TrainArgs, resume: Option<Resume>, plan: Option<PlanBar>) -> Result<Outcome> {
    let chatty = plan.is_none();
    validate(args)?;
    let (data, skipped) = data::load(&data::Spec::of(args))?;
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
        disc_batch_norm: !args.no_disc_batch_norm,
        disc_depth: args.disc_depth as usize,
    };
    device::set_threads(args.threads);
    let opened = device::open(args.backend, args.device)?;
    let dev = opened.device.clone();
    dev.seed(args.seed);
    let ad = dev.clone().autodiff();
    let mut gan = Gan::new(&net, args.lr, args.beta1, &ad)?;

    let layers = gan.d.hidden_layers();
    let probes = !args.no_probes;
    let quality = match args.eval_every {
        0 => None,
        _ => Some(TrainingEval::new(args, &dev)?),
    };
    let mut columns = metric_columns(layers, probes);
    if let Some(q) = &quality {
        columns.extend(q.columns());
    }
    let latent = args.latent_dim as usize;
    let sample_count = args.sample_count as usize;

    // Only now, with every input checked, touch the output folder.
    let (dir, mut log, mut rows, mut dead, fixed_z, start, prior_seconds) = match resume {
        Some(r) => {
            checkpoint::load_into(&r.checkpoint, &mut gan)?;
            let every = r.saved_log_every;
            let resumed_at = r.state.step;
            // Rows of steps not yet checkpointed are redone; rows off the saved schedule were
            // end-of-run rows that an uninterrupted run would not have.
            let (log, rows) = MetricsLog::reopen(&r.dir.join("metrics.csv"), &columns, |s| {
                s < resumed_at && s % every == 0
            })?;
            resume::record(
                &r.dir,
                serde_json::json!({
                    "at_step": resumed_at,
                    "steps": args.steps,
                    "device": opened.description,
                    "started": chrono::Local::now().to_rfc3339(),
                    "command_line": std::env::args().collect::<Vec<_>>(),
                }),
            )?;
            chatty.then(|| {
                eprintln!(
                    "resuming {} at step {resumed_at} of {}  [{}]",
                    r.dir.display(),
                    args.steps,
                    opened.description
                )
            });
            let dead = DeadTracker::with_history(args.dead_window as usize, r.state.dead_history);
            (
                r.dir,
                log,
                rows,
                dead,
                r.state.fixed_z,
                resumed_at,
                r.state.train_seconds,
            )
        }
        None => {
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
            chatty.then(|| eprintln!("run directory: {}  [{}]", dir.display(), opened.description));
            let log = MetricsLog::create(&dir.join("metrics.csv"), &columns)?;
            // A stream of its own: the fixed noise depends on the seed and sizes only.
            let fixed_z = normal_values(
                &mut StdRng::seed_from_u64(args.seed ^ 0x4649_5845_4400_0001),
                sample_count * latent,
            );
            let dead = DeadTracker::new(args.dead_window as usize);
            (dir, log, Vec::new(), dead, fixed_z, 0, 0.0)
        }
    };
    if fixed_z.len() != sample_count * latent {
        bail!(
            "{}: the checkpoint's sample noise does not match --sample-count",
            dir.display()
        );
    }
    // The host copy goes into checkpoints; the tensor into every sample grid.
    let fixed_z_host = fixed_z;
    let fixed_z = Tensor::<2>::from_data(
        TensorData::new(fixed_z_host.clone(), [sample_count, latent]),
        &dev,
    );
    let samples = dir.join("samples");
    let save = |g: &Generator, name: &str| save_samples(g, &fixed_z, &net, &samples.join(name));
    if start == 0 {
        save(&gan.g, "step_000000.png")?;
    }

    // Fault injection for the divergence tests: a NaN pixel in the batch of this step.
    let nan_at: Option<u64> = std::env::var("GAN_FAULT_NAN_AT_STEP")
        .ok()
        .and_then(|v| v.parse().ok());
    let stop = StopFlag::install()?;
    let batch = args.batch_size as usize;
    let mut batcher = Batcher::new(data.len, batch, args.seed);
    let mut progress = match plan {
        Some(p) => Progress::Plan(p),
        None => Progress::new(args.steps, args.quiet),
    };
    let started = Instant::now();
    let mut last_log = (Instant::now(), start);
    let mut last_checkpoint = (start > 0).then_some(start);
    let mut ended = Status::Finished;
    let mut done = start;
    let ctx = LoopContext {
        dir: &dir,
        args,
        columns: &columns,
        prior_seconds,
        start,
        evaluator_accuracy: quality.as_ref().and_then(TrainingEval::evaluator_accuracy),
    };
    for step in start..args.steps {
        let mut pixels = batcher.batch(step, &data);
        if nan_at == Some(step) {
            pixels[0] = f32::NAN;
        }
        let real = Tensor::<4>::from_data(
            TensorData::new(pixels, [batch, data.channels, data.size, data.size]),
            &ad,
        );
        let (z_d, z_g) = step_noise(args.seed, step, batch, latent, &ad);
        done = step + 1;
        let on_schedule = step % args.log_every == 0;
        let logged = on_schedule || done == args.steps;
        let checkpoint_now = args.checkpoint_every > 0 && done % args.checkpoint_every == 0;
        let out = gan.step(real, z_d, z_g, logged && probes);
        // A signal during the step lets it finish; the checkpoint then covers it.
        // A stop on the last step is just the end of the run.
        let stopping = stop.requested() && done < args.steps;

        if logged || checkpoint_now || stopping {
            let s = out.read()?;
            for (name, v) in [("loss_d", s.loss_d), ("loss_g", s.loss_g)] {
                if !v.is_finite() {
                    progress.finish();
                    let why = format!("{name} is {v}");
                    return Err(ctx.diverged(step, &why, &rows, last_checkpoint, started));
                }
            }
            if logged {
                let ms = last_log.0.elapsed().as_secs_f64() * 1e3 / (done - last_log.1) as f64;
                let mut row = metric_row(&s, &mut dead, ms, on_schedule);
                if let Some(q) = &quality {
                    let now = step % args.eval_every == 0 || done == args.steps;
                    match now {
                        true => row.extend(q.measure(&gan.g.valid(), &net, &dev)?),
                        // Left empty in metrics.csv.
                        false => row.extend(std::iter::repeat_n(f64::NAN, q.width())),
                    }
                }
                // Measuring quality is not part of step_ms.
                last_log = (Instant::now(), done);
                log.write(step, &row)?;
                progress.update(step, &s, ms);
                rows.push(row);
            }
        }
        if !logged {
            progress.tick(step);
        }
        if args.sample_every > 0 && done % args.sample_every == 0 && done < args.steps {
            let t = Instant::now();
            save(&gan.g, &format!("step_{done:06}.png"))?;
            // Keep sampling out of step_ms.
            last_log.0 += t.elapsed();
        }
        if (checkpoint_now && done < args.steps) || stopping {
            let t = Instant::now();
            if !ctx.checkpoint(&gan, &dead, &fixed_z_host, done, started)? {
                progress.finish();
                let why = "a parameter became NaN or infinite";
                return Err(ctx.diverged(step, why, &rows, last_checkpoint, started));
            }
            last_checkpoint = Some(done);
            last_log.0 += t.elapsed();
        }
        if stopping {
            ended = Status::Interrupted;
            break;
        }
    }
    progress.finish();
    if ended == Status::Finished {
        save(&gan.g, &format!("step_{done:06}.png"))?;
        fs::copy(
            samples.join(format!("step_{done:06}.png")),
            samples.join("final.png"),
        )
        .context("writing samples/final.png")?;
        if !ctx.checkpoint(&gan, &dead, &fixed_z_host, done, started)? {
            let why = "a parameter became NaN or infinite";
            return Err(ctx.diverged(done - 1, why, &rows, last_checkpoint, started));
        }
    }
    write_progress_gif(&samples, &dir.join("progress.gif"))?;
    let summary = ctx.summary(done, &rows, started, ended, None);
    write_json(&dir.join("summary.json"), &summary)?;
    if ended == Status::Interrupted {
        eprintln!(
            "interrupted after step {done} of {}; checkpoint written. Continue with: gan --resume {}",
            args.steps,
            dir.display()
        );
        return Ok(Outcome::Interrupted(dir));
    }
    if chatty {
        print_summary(&summary, layers, &samples.join("final.png"));
    }
    Ok(Outcome::Finished(dir))
}

/// Checks the flags that can be judged without the data (gan compare runs this on every planned
/// run before creating anything).
pub fn validate(args: &TrainArgs) -> Result<()> {
    if args.arch == Arch::Dcgan {
        dcgan::stages(args.image_size as usize)?;
    }
    if args.arch == Arch::Dcgan && args.disc_depth != 2 {
        bail!("--disc-depth applies to --arch mlp (the DCGAN's depth follows --image-size)");
    }
    if args.arch == Arch::Mlp && args.no_disc_batch_norm {
        bail!("--no-disc-batch-norm applies to --arch dcgan (the MLP discriminator has none)");
    }
    if !args.eval_every.is_multiple_of(args.log_every) {
        bail!(
            "--eval-every {} must be a multiple of --log-every {} (quality values go into metrics.csv rows)",
            args.eval_every,
            args.log_every
        );
    }
    Ok(())
}

/// What the loop's helpers need to know about the run.
struct LoopContext<'a> {
    dir: &'a Path,
    args: &'a TrainArgs,
    columns: &'a [String],
    prior_seconds: f64,
    start: u64,
    evaluator_accuracy: Option<f64>,
}

impl LoopContext<'_> {
    /// Writes a checkpoint after `done` steps, unless a parameter is no longer finite (false).
    fn checkpoint(
        &self,
        gan: &Gan,
        dead: &DeadTracker,
        fixed_z: &[f32],
        done: u64,
        started: Instant,
    ) -> Result<bool> {
        if !checkpoint::params_finite(&gan.g)? || !checkpoint::params_finite(&gan.d)? {
            return Ok(false);
        }
        let state = State {
            step: done,
            fixed_z: fixed_z.to_vec(),
            dead_history: dead.history(),
            train_seconds: self.prior_seconds + started.elapsed().as_secs_f64(),
            seed: self.args.seed,
        };
        checkpoint::save(self.dir, gan, &state)?;
        Ok(true)
    }

    /// summary.json's content after `done` steps.
    fn summary(
        &self,
        done: u64,
        rows: &[Vec<f64>],
        started: Instant,
        status: Status,
        diverged_at_step: Option<u64>,
    ) -> Summary {
        let secs = started.elapsed().as_secs_f64();
        Summary {
            status,
            steps: done,
            planned_steps: self.args.steps,
            diverged_at_step,
            logged_steps: rows.len(),
            wall_seconds: self.prior_seconds + secs,
            ms_per_step: secs * 1e3 / (done - self.start).max(1) as f64,
            metrics: summary::column_stats(self.columns, rows),
            evaluator_accuracy: self.evaluator_accuracy,
        }
    }

    /// Records a divergence at `step` in summary.json and builds the error that stops the run.
    fn diverged(
        &self,
        step: u64,
        why: &str,
        rows: &[Vec<f64>],
        last_checkpoint: Option<u64>,
        started: Instant,
    ) -> anyhow::Error {
        let summary = self.summary(step, rows, started, Status::Diverged, Some(step));
        // The grids so far, animated like every run's; best effort, the divergence is the news.
        let samples = self.dir.join("samples");
        let _ = write_progress_gif(&samples, &self.dir.join("progress.gif"));
        if let Err(e) = write_json(&self.dir.join("summary.json"), &summary) {
            return e.context(format!("training diverged at step {step} ({why})"));
        }
        let resume = match last_checkpoint {
            Some(k) => format!(
                "the last good checkpoint (step {k}) is kept; continue from it with a lower rate: gan --resume {} --lr {:e}",
                self.dir.display(),
                self.args.lr / 10.0
            ),
            None => format!(
                "no checkpoint was written before it; try a lower --lr (outputs so far are in {})",
                self.dir.display()
            ),
        };
        anyhow!("training diverged at step {step}: {why}; {resume}")
    }
}

/// The two noise batches of step `step`: drawn from a stream seeded by (seed, step), so a
/// resumed run draws exactly what an uninterrupted one would.
fn step_noise(
    seed: u64,
    step: u64,
    batch: usize,
    latent: usize,
    device: &Device,
) -> (Tensor<2>, Tensor<2>) {
    let mut rng = StdRng::seed_from_u64(stream_seed(seed, 0x4e4f_4953_4500_0001, step));
    let mut z = || {
        Tensor::from_data(
            TensorData::new(normal_values(&mut rng, batch * latent), [batch, latent]),
            device,
        )
    };
    let z_d = z();
    (z_d, z())
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

/// One metrics.csv row in `metric_columns` order; only rows on the log schedule enter the
/// dead-unit window.
fn metric_row(s: &StepScalars, dead: &mut DeadTracker, ms: f64, on_schedule: bool) -> Vec<f64> {
    let mut row = vec![s.loss_d, s.loss_g, s.d_real, s.d_fake];
    if let Some(p) = &s.sparsity {
        row.push(p.d_grad_zero);
        row.extend(p.layers.iter().map(|l| l.grad_zero));
        row.extend(p.layers.iter().map(|l| l.preact_nonpos));
        row.extend(p.layers.iter().map(|l| l.dead_units));
        let masks = p.layers.iter().map(|l| l.dead_mask.clone()).collect();
        let persistent = match on_schedule {
            true => dead.push(masks),
            false => dead.peek(masks),
        };
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
    let quality: Vec<String> = m
        .iter()
        .filter(|(name, _)| name.starts_with("eval_"))
        .map(|(name, s)| format!("{} {:.3}", &name[5..], s.last))
        .collect();
    if !quality.is_empty() {
        eprintln!("final quality: {}", quality.join(", "));
    }
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

/// `n` N(0, 1) values drawn on the host, so every backend sees the same noise.
pub fn normal_values(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
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
