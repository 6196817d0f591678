//! One training session over a run directory: set-up (fresh or resumed), the step loop, and the
//! ending.

use std::fs;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use burn::prelude::*;

use super::checkpoint;
use super::interrupt::StopFlag;
use super::progress::{PlanBar, Progress};
use super::record::{self, HarmValues};
use super::resume::Resume;
use super::schedule::Schedule;
use super::step::{Gan, StepScalars};
use super::{Outcome, default_name};
use crate::data::{Batcher, Dataset};
use crate::device::{self, OpenedDevice};
use crate::eval::TrainingEval;
use crate::metric::{self, Column, Metric, Probes};
use crate::model::NetConfig;
use crate::model::condition::{self, Condition};
use crate::probe::dead::DeadTracker;
use crate::probe::frozen::FrozenTracker;
use crate::probe::probe_set::{self, ProbeSet};
use crate::rng::{Stream, normal_values};
use crate::run::checkpoint::State;
use crate::run::config::{BURN_VERSION, DatasetInfo, GAN_VERSION, Resumption};
use crate::run::grid::save_grid;
use crate::run::metrics::MetricsLog;
use crate::run::{RunConfig, RunDir, RunLock, Status, Summary, summary};
use crate::settings::TrainSettings;

/// Everything the loop works with.
pub struct Trainer {
    settings: TrainSettings,
    schedule: Schedule,
    data: Dataset,
    net: NetConfig,
    /// The device without autodiff (sampling, quality).
    dev: Device,
    /// The same device with autodiff (training).
    ad: Device,
    gan: Gan,
    quality: Option<TrainingEval>,
    /// The fixed probe set of the harm measures (probed runs).
    probe_set: Option<ProbeSet>,
    /// Units dead on it at the last logged step on the schedule.
    probe_dead: Vec<Vec<bool>>,
    /// D's parameters whose gradient stayed exactly zero.
    frozen: FrozenTracker,
    columns: Vec<Column>,
    run: RunDir,
    /// Held until the trainer is dropped: no other process writes to the run meanwhile.
    _lock: RunLock,
    log: MetricsLog,
    /// The rows written so far (the summary's input).
    rows: Vec<Vec<f64>>,
    dead: DeadTracker,
    /// The fixed sample noise: the host copy goes into checkpoints, the tensor into grids.
    fixed_z_host: Vec<f32>,
    fixed_z: Tensor<2>,
    /// The first step of this session, and the training seconds of earlier sessions.
    start: u64,
    prior_seconds: f64,
    /// Steps done so far.
    done: u64,
    last_checkpoint: Option<u64>,
    progress: Progress,
    chatty: bool,
    started: Instant,
    /// When the current step_ms interval began, and at which step.
    interval: (Instant, u64),
}

impl Trainer {
    /// Phases 2 and 3: the device, networks and evaluator, then the run directory (created,
    /// or reopened for `--resume`). The run directory is touched only after every input has
    /// been checked.
    pub fn new(
        settings: &TrainSettings,
        (data, skipped): (Dataset, usize),
        resume: Option<Resume>,
        plan: Option<PlanBar>,
    ) -> Result<Self> {
        if settings.condition == Condition::Class
            && (!data.labelled() || data.class_names.len() < 2)
        {
            bail!(
                "--condition class needs labelled data of two or more classes, and this {} data has {} \
                 (a folder gets its classes from its sub-folders' names)",
                settings.dataset.name(),
                match data.class_names.len() {
                    0 => "no labels".to_string(),
                    n => format!("{n} class"),
                }
            );
        }
        let net = settings.net(data.size, data.channels, data.class_names.len());
        if let Some(r) = &resume {
            let saved = r.run.config()?.net;
            // The settings that shape the networks may not change on resume, but a folder's
            // images (their classes, say) can change under the run.
            if saved.classes != net.classes {
                bail!(
                    "{}: the run is conditioned on {} classes and the data now has {}; resume it on the data it was trained on",
                    r.run.path().display(),
                    saved.classes,
                    net.classes
                );
            }
        }
        let opened = device::open(settings.backend, settings.device)?;
        let dev = opened.device.clone();
        // Before the networks, which `Gan::seeded` draws from the run's seed: training the
        // evaluator (on its first use) seeds flex itself.
        let quality = match settings.eval_every {
            0 => None,
            _ => Some(TrainingEval::new(settings, &dev)?),
        };
        let ad = dev.clone().autodiff();
        let mut gan = Gan::seeded(
            &net,
            settings.rate_d(),
            settings.rate_g(),
            settings.beta1,
            settings.seed,
            &ad,
        )?;
        let quality_metrics = quality.as_ref().map_or(&[][..], TrainingEval::metrics);
        let probes = match (settings.no_probes, &resume) {
            (true, _) => Probes::Off,
            // A run from before the harm measures keeps its columns.
            (false, Some(r)) if !has_harm_columns(&r.run)? => Probes::Sparsity,
            (false, _) => Probes::All,
        };
        let columns = metric::layout(gan.d.hidden_layers(), probes, quality_metrics);
        let probe_set =
            (probes == Probes::All).then(|| ProbeSet::new(&data, settings.seed, &net, &dev));
        let chatty = plan.is_none();
        let window = settings.dead_window as usize;
        let opened_run = match resume {
            Some(r) => resumed(r, settings, &columns, &opened, &mut gan, chatty)?,
            None => fresh(settings, (&data, skipped), &net, &columns, &opened, chatty)?,
        };
        let (run, lock, log, rows, state) = opened_run;
        if chatty && !device::on_host(&dev) {
            // Measured on an H200: the first step took 40 s on a fresh machine, 8 s afterwards.
            eprintln!(
                "the first steps compile the GPU's kernels: a slow start, longest on a machine's first run (kernels are cached afterwards)"
            );
        }
        let count = settings.sample_count as usize;
        if state.fixed_z.len() != count * net.noise_dim() {
            bail!(
                "{}: the checkpoint's sample noise does not match --sample-count",
                run.path().display()
            );
        }
        let fixed_z = Tensor::<2>::from_data(
            TensorData::new(state.fixed_z.clone(), [count, net.noise_dim()]),
            &dev,
        );
        let progress = match plan {
            Some(p) => Progress::Plan(p),
            None => Progress::new(settings.steps, settings.quiet),
        };
        let trainer = Trainer {
            schedule: Schedule::of(settings),
            settings: settings.clone(),
            data,
            net,
            dev,
            ad,
            gan,
            quality,
            probe_set,
            probe_dead: state.probe_dead.clone(),
            frozen: FrozenTracker::with_state(
                window as u32,
                state.frozen_seen,
                state.frozen_runs.clone(),
            ),
            columns,
            run,
            _lock: lock,
            log,
            rows,
            dead: DeadTracker::with_history(window, state.dead_history),
            fixed_z_host: state.fixed_z,
            fixed_z,
            start: state.step,
            prior_seconds: state.train_seconds,
            done: state.step,
            last_checkpoint: (state.step > 0).then_some(state.step),
            progress,
            chatty,
            started: Instant::now(),
            interval: (Instant::now(), state.step),
        };
        if trainer.start == 0 {
            trainer.save_grid(0)?;
        }
        Ok(trainer)
    }

    /// Phase 3: the step loop, until the last step or a stop request; says how it ended.
    pub fn train(&mut self) -> Result<Status> {
        let stop = StopFlag::install()?;
        let probes = !self.settings.no_probes;
        let mut batcher = Batcher::new(
            self.data.len,
            self.settings.batch_size as usize,
            self.settings.seed,
        );
        // Fault injection for the divergence tests: a NaN pixel in the batch of this step.
        let nan_at: Option<u64> = std::env::var("GAN_FAULT_NAN_AT_STEP")
            .ok()
            .and_then(|v| v.parse().ok());
        for step in self.start..self.settings.steps {
            let logged = self.schedule.logged(step);
            let (mut pixels, labels) = batcher.batch_with_labels(step, &self.data);
            if nan_at == Some(step) {
                pixels[0] = f32::NAN;
            }
            let out = self.step((pixels, &labels), step, logged && probes);
            self.done = step + 1;
            let checkpoint_now = self.schedule.checkpoint_due(self.done);
            // A signal during the step lets it finish; the checkpoint then covers it.
            // A stop on the last step is just the end of the run.
            let stopping = stop.requested() && !self.schedule.is_last(self.done);
            if logged || checkpoint_now || stopping {
                let s = out.read()?;
                self.check_losses(step, &s)?;
                if logged {
                    self.log_row(step, &s)?;
                }
            }
            if !logged {
                self.progress.tick(step);
            }
            if self.schedule.grid_due(self.done) {
                self.off_the_clock(|t| t.save_grid(t.done))?;
            }
            if checkpoint_now || stopping {
                self.off_the_clock(|t| t.checkpoint_or_diverge(step))?;
            }
            if stopping {
                return Ok(Status::Interrupted);
            }
        }
        Ok(Status::Finished)
    }

    /// Phase 4: the final grid and checkpoint (when finished), the animation, the summary.
    pub fn finish(mut self, ended: Status) -> Result<Outcome> {
        self.progress.finish();
        let dir = self.run.path().to_path_buf();
        if ended == Status::Finished {
            self.save_grid(self.done)?;
            fs::copy(self.run.grid_path(self.done), self.run.final_grid())
                .context("writing samples/final.png")?;
            self.checkpoint_or_diverge(self.done - 1)?;
        }
        self.run.write_progress_gif()?;
        let summary = self.summary(ended, None);
        self.run.write_summary(&summary)?;
        if ended == Status::Interrupted {
            eprintln!(
                "interrupted after step {} of {}; checkpoint written. Continue with: gan --resume {}",
                self.done,
                self.settings.steps,
                dir.display()
            );
            return Ok(Outcome::Interrupted(dir));
        }
        if self.chatty {
            let layers = self.gan.d.hidden_layers();
            record::print_summary(&summary, layers, &self.run.final_grid());
        }
        Ok(Outcome::Finished(dir))
    }

    /// One training step on the images `pixels` of classes `labels`, with the noise of step
    /// `step`.
    fn step(
        &mut self,
        (pixels, labels): (Vec<f32>, &[u32]),
        step: u64,
        probe: bool,
    ) -> super::step::StepOutput {
        let (batch, d) = (self.settings.batch_size as usize, &self.data);
        let real = Tensor::<4>::from_data(
            TensorData::new(pixels, [batch, d.channels, d.size, d.size]),
            &self.ad,
        );
        let real = condition::real_input(real, labels, self.net.classes);
        let (z_d, z_g) = step_noise(self.settings.seed, step, batch, &self.net, &self.ad);
        self.gan.step(real, z_d, z_g, probe)
    }

    /// Stops the run as diverged when a loss is not finite.
    fn check_losses(&mut self, step: u64, s: &StepScalars) -> Result<()> {
        for (name, v) in [("loss_d", s.loss_d), ("loss_g", s.loss_g)] {
            if !v.is_finite() {
                return Err(self.diverged(step, &format!("{name} is {v}")));
            }
        }
        Ok(())
    }

    /// Writes step `step`'s metrics.csv row (measuring quality when due).
    fn log_row(&mut self, step: u64, s: &StepScalars) -> Result<()> {
        let ms =
            self.interval.0.elapsed().as_secs_f64() * 1e3 / (self.done - self.interval.1) as f64;
        let quality = match &self.quality {
            Some(q) if self.schedule.measured(step) => {
                q.measure(&self.gan.g.valid(), &self.net, &self.dev)?
            }
            _ => Vec::new(),
        };
        let on_schedule = self.schedule.on_log_schedule(step);
        let harm = match (&self.probe_set, &s.sparsity) {
            (Some(set), Some(p)) => {
                let reading = set.measure(&self.gan.g, &self.gan.d)?;
                let frozen = match on_schedule {
                    true => self.frozen.push(&p.param_zero_mask, &p.param_layers),
                    false => self.frozen.peek(&p.param_zero_mask, &p.param_layers),
                };
                let values = HarmValues {
                    frozen,
                    dead: probe_set::fractions(&reading.dead),
                    fake_only: probe_set::fractions(&reading.dead_fake_only),
                    revived: probe_set::revived(&self.probe_dead, &reading.dead)
                        .unwrap_or(f64::NAN),
                };
                // Like the dead-unit window: only rows on the schedule move it on.
                if on_schedule {
                    self.probe_dead = reading.dead;
                }
                Some(values)
            }
            _ => None,
        };
        let row = record::row(
            &self.columns,
            s,
            &mut self.dead,
            ms,
            on_schedule,
            &quality,
            harm.as_ref(),
        );
        // Measuring quality is not part of step_ms.
        self.interval = (Instant::now(), self.done);
        self.log.write(step, &row)?;
        self.progress.update(step, s, ms);
        self.rows.push(row);
        Ok(())
    }

    /// Runs `f` with its time kept out of step_ms.
    fn off_the_clock(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let t = Instant::now();
        f(self)?;
        self.interval.0 += t.elapsed();
        Ok(())
    }

    /// Writes the grid of G(fixed noise) after `done` steps, with batch norm in inference mode.
    fn save_grid(&self, done: u64) -> Result<()> {
        let images = self.gan.g.valid().forward(self.fixed_z.clone());
        let [n, ..] = images.dims();
        let values: Vec<f32> = images
            .into_data()
            .try_into_vec()
            .map_err(|e| anyhow!("reading samples from the device: {e:?}"))?;
        let path = self.run.grid_path(done);
        save_grid(&values, n, self.net.channels, self.net.image_size, &path)
    }

    /// Writes a checkpoint after `self.done` steps, or stops the run as diverged at `step` when
    /// a parameter is no longer finite.
    fn checkpoint_or_diverge(&mut self, step: u64) -> Result<()> {
        let finite =
            checkpoint::params_finite(&self.gan.g)? && checkpoint::params_finite(&self.gan.d)?;
        if !finite {
            return Err(self.diverged(step, "a parameter became NaN or infinite"));
        }
        let state = State {
            step: self.done,
            fixed_z: self.fixed_z_host.clone(),
            dead_history: self.dead.history(),
            train_seconds: self.prior_seconds + self.started.elapsed().as_secs_f64(),
            seed: self.settings.seed,
            probe_dead: self.probe_dead.clone(),
            frozen_seen: self.frozen.state().0,
            frozen_runs: self.frozen.state().1.to_vec(),
        };
        if let Err(e) = checkpoint::save(self.run.path(), &self.gan, &state) {
            return Err(checkpoint_failed(
                self.done,
                self.last_checkpoint,
                self.run.path(),
                &e,
            ));
        }
        self.last_checkpoint = Some(self.done);
        Ok(())
    }

    /// summary.json's content now.
    fn summary(&self, status: Status, diverged_at_step: Option<u64>) -> Summary {
        let secs = self.started.elapsed().as_secs_f64();
        let steps = diverged_at_step.unwrap_or(self.done);
        Summary {
            status,
            steps,
            planned_steps: self.settings.steps,
            diverged_at_step,
            logged_steps: self.rows.len(),
            wall_seconds: self.prior_seconds + secs,
            ms_per_step: secs * 1e3 / (steps.saturating_sub(self.start)).max(1) as f64,
            metrics: summary::run_stats(&metric::names(&self.columns), &self.rows),
            evaluator_accuracy: self
                .quality
                .as_ref()
                .and_then(TrainingEval::evaluator_accuracy),
        }
    }

    /// Records a divergence at `step` in summary.json and builds the error that stops the run.
    fn diverged(&mut self, step: u64, why: &str) -> anyhow::Error {
        self.progress.finish();
        let summary = self.summary(Status::Diverged, Some(step));
        // The grids so far, animated like every run's; best effort, the divergence is the news.
        let _ = self.run.write_progress_gif();
        if let Err(e) = self.run.write_summary(&summary) {
            return e.context(format!("training diverged at step {step} ({why})"));
        }
        let dir = self.run.path().display();
        let resume = match self.last_checkpoint {
            Some(k) => format!(
                "the last good checkpoint (step {k}) is kept; continue from it with a lower rate: gan --resume {dir} {}",
                lower_rates(&self.settings)
            ),
            None => format!(
                "no checkpoint was written before it; try a lower --lr (outputs so far are in {dir})"
            ),
        };
        anyhow!("training diverged at step {step}: {why}; {resume}")
    }
}

/// The rate flags that continue a diverged run at a tenth of its rates: `--lr 2e-5`, plus
/// `--lr-d`/`--lr-g` where the run set its own (they would override a lower --lr).
fn lower_rates(s: &TrainSettings) -> String {
    let mut flags = format!("--lr {:e}", s.lr / 10.0);
    if let Some(d) = s.lr_d {
        flags += &format!(" --lr-d {:e}", d / 10.0);
    }
    if let Some(g) = s.lr_g {
        flags += &format!(" --lr-g {:e}", g / 10.0);
    }
    flags
}

/// The error that stops a run whose checkpoint after `done` steps could not be written (a full
/// disk, say): what failed, and what is left to continue from.
fn checkpoint_failed(
    done: u64,
    last: Option<u64>,
    dir: &std::path::Path,
    e: &anyhow::Error,
) -> anyhow::Error {
    let dir = dir.display();
    let kept = match last {
        Some(k) => format!(
            "the previous checkpoint (step {k}) is intact; once the cause is fixed, continue with: gan --resume {dir}"
        ),
        None => format!(
            "no checkpoint was written before it, so the run cannot be resumed (outputs so far are in {dir})"
        ),
    };
    anyhow!("writing the checkpoint after step {done} failed: {e:#}; {kept}")
}

/// The run directory, its metrics log and rows so far, and the loop state to start from.
type OpenedRun = (RunDir, RunLock, MetricsLog, Vec<Vec<f64>>, State);

/// A new run directory with its config.json, metrics.csv header and fixed sample noise.
fn fresh(
    settings: &TrainSettings,
    (data, skipped): (&Dataset, usize),
    net: &NetConfig,
    columns: &[Column],
    opened: &OpenedDevice,
    chatty: bool,
) -> Result<OpenedRun> {
    let (run, lock) = RunDir::create(
        &settings.out,
        settings.name.as_deref(),
        &default_name(settings),
    )?;
    RunConfig {
        gan_version: GAN_VERSION.into(),
        burn_version: BURN_VERSION.into(),
        args: settings.clone(),
        net: net.clone(),
        device: opened.description.clone(),
        threads: rayon::current_num_threads(),
        dataset: DatasetInfo {
            kind: Some(settings.dataset),
            path: settings.data.clone(),
            len: data.len,
            skipped_files: skipped,
            channels: data.channels,
            size: data.size,
            classes: data.class_names.clone(),
        },
        started: chrono::Local::now().to_rfc3339(),
        command_line: std::env::args().collect(),
        resumes: Vec::new(),
    }
    .write(run.path())?;
    if chatty {
        eprintln!(
            "run directory: {}  [{}]",
            run.path().display(),
            opened.description
        );
    }
    let log = MetricsLog::create(&run.metrics_path(), &metric::names(columns))?;
    let count = settings.sample_count as usize * net.latent_dim;
    let z = normal_values(&mut Stream::FixedNoise.rng(settings.seed), count);
    let state = State {
        step: 0,
        // Every class equally often, in turn, when conditional.
        fixed_z: net.noise_rows(z, condition::balanced(net.classes)),
        dead_history: Vec::new(),
        train_seconds: 0.0,
        seed: settings.seed,
        probe_dead: Vec::new(),
        frozen_seen: 0,
        frozen_runs: Vec::new(),
    };
    Ok((run, lock, log, Vec::new(), state))
}

/// The run directory of `--resume` with the checkpoint loaded into `gan`, metrics.csv cut back
/// to the checkpoint, and the resumption recorded in config.json.
fn resumed(
    r: Resume,
    settings: &TrainSettings,
    columns: &[Column],
    opened: &OpenedDevice,
    gan: &mut Gan,
    chatty: bool,
) -> Result<OpenedRun> {
    checkpoint::load_into(&r.checkpoint, gan)?;
    let every = r.saved_log_every;
    let at = r.state.step;
    // Rows of steps not yet checkpointed are redone; rows off the saved schedule were
    // end-of-run rows that an uninterrupted run would not have.
    let (log, rows) = MetricsLog::reopen(&r.run.metrics_path(), &metric::names(columns), |s| {
        s < at && s % every == 0
    })?;
    RunConfig::record_resume(
        r.run.path(),
        Resumption {
            at_step: at,
            steps: settings.steps,
            device: opened.description.clone(),
            started: chrono::Local::now().to_rfc3339(),
            command_line: std::env::args().collect(),
        },
    )?;
    if chatty {
        eprintln!(
            "resuming {} at step {at} of {}  [{}]",
            r.run.path().display(),
            settings.steps,
            opened.description
        );
    }
    Ok((r.run, r.lock, log, rows, r.state))
}

/// Whether the run's metrics.csv has the harm measures' columns (runs from before them do not).
fn has_harm_columns(run: &RunDir) -> Result<bool> {
    let (header, _) = crate::run::metrics::read(&run.metrics_path())?;
    let probe = Metric::DDeadProbe.name();
    Ok(header.iter().any(|c| c == probe))
}

/// The two noise batches of step `step` (with uniformly drawn classes when conditional): drawn
/// from a stream seeded by (seed, step), so a resumed run draws exactly what an uninterrupted
/// one would.
fn step_noise(
    seed: u64,
    step: u64,
    batch: usize,
    net: &NetConfig,
    device: &Device,
) -> (Tensor<2>, Tensor<2>) {
    let mut rng = Stream::StepNoise.rng_at(seed, step);
    let mut z = || {
        let values = normal_values(&mut rng, batch * net.latent_dim);
        let classes = condition::drawn(&mut rng, batch, net.classes);
        Tensor::from_data(
            TensorData::new(
                net.noise_rows(values, |i| classes[i]),
                [batch, net.noise_dim()],
            ),
            device,
        )
    };
    let z_d = z();
    (z_d, z())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
    }

    #[test]
    fn a_failed_checkpoint_says_what_is_left_to_resume() {
        let e = anyhow!("No space left on device (os error 28)").context("writing x/optim_d.bpk");
        let dir = std::path::Path::new("outputs/r");
        let with = checkpoint_failed(500, Some(250), dir, &e).to_string();
        assert!(
            with.contains("after step 500 failed: writing x/optim_d.bpk: No space left"),
            "{with}"
        );
        assert!(
            with.contains("previous checkpoint (step 250) is intact"),
            "{with}"
        );
        assert!(with.contains("gan --resume outputs/r"), "{with}");
        let without = checkpoint_failed(250, None, dir, &e).to_string();
        assert!(
            without.contains("no checkpoint was written before it"),
            "{without}"
        );
        for m in [&with, &without] {
            assert!(!m.contains("Io(") && !m.contains('\n'), "{m}");
        }
    }

    #[test]
    fn step_noise_depends_on_seed_and_step_only() {
        let dev = Device::flex();
        let net = NetConfig {
            latent_dim: 3,
            ..NetConfig::default()
        };
        let (a_d, a_g) = step_noise(1, 5, 2, &net, &dev);
        let (b_d, b_g) = step_noise(1, 5, 2, &net, &dev);
        let (a_d, a_g) = (values(a_d), values(a_g));
        assert_eq!(a_d, values(b_d));
        assert_eq!(a_g, values(b_g));
        assert_ne!(a_d, a_g, "the D and G batches are different draws");
        assert_ne!(a_d, values(step_noise(1, 6, 2, &net, &dev).0));
        assert_ne!(a_d, values(step_noise(2, 5, 2, &net, &dev).0));

        // Conditional: the same latent values, each row followed by a one-hot class.
        let cond = NetConfig { classes: 4, ..net };
        let (c_d, _) = step_noise(1, 5, 2, &cond, &dev);
        let c_d = values(c_d);
        assert_eq!(c_d.len(), 2 * 7);
        for (row, latent) in c_d.chunks(7).zip(a_d.chunks(3)) {
            assert_eq!(
                &row[..3],
                latent,
                "the latent part is the unconditional draw"
            );
            let hot = &row[3..];
            assert_eq!(hot.iter().filter(|&&v| v == 1.0).count(), 1, "{hot:?}");
            assert_eq!(hot.iter().filter(|&&v| v == 0.0).count(), 3, "{hot:?}");
        }
    }
}
