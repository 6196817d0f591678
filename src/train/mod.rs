//! The training command: settings in, a run directory out.
//!
//! `run` goes through four phases: `prepare` (settings, thread pool, data), `Trainer::new`
//! (device, networks, evaluator, run directory: fresh or resumed), `Trainer::train` (the step
//! loop) and `Trainer::finish` (final grid, checkpoint, animation, summary).

mod adam;
pub mod checkpoint;
pub mod interrupt;
pub mod loss;
pub mod progress;
mod record;
pub mod resume;
mod schedule;
pub mod step;
mod trainer;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::data::{self, Dataset};
use crate::device;
use crate::settings::{Given, TrainSettings};
pub use progress::PlanBar;
use resume::Resume;
use trainer::Trainer;

/// What to train: settings, which of them were given explicitly, and a run to continue.
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// The settings (for `--resume`, the flags given: the run's own settings are merged in).
    pub settings: TrainSettings,
    /// The settings given explicitly on the command line.
    pub given: Given,
    /// Continue this run directory from its last checkpoint.
    pub resume: Option<PathBuf>,
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

/// Trains as `job` says (a new run, or `--resume`) and says how it ended.
pub fn run(job: &Job) -> Result<Outcome> {
    run_in_plan(job, None)
}

/// Like `run`, as one run of a plan (gan compare): progress goes to the plan's bar, and the
/// per-run console lines are left to the plan.
pub fn run_in_plan(job: &Job, plan: Option<PlanBar>) -> Result<Outcome> {
    let (settings, resume, data) = prepare(job)?;
    let mut trainer = Trainer::new(&settings, data, resume, plan)?;
    let ended = device::in_pool(|| trainer.train())?;
    trainer.finish(ended)
}

/// Phase 1: the settings (merged with the run's for `--resume`), the thread pool, the data.
fn prepare(job: &Job) -> Result<(TrainSettings, Option<Resume>, (Dataset, usize))> {
    let (mut settings, resume) = match &job.resume {
        Some(dir) => {
            let (s, r) = resume::plan(dir, &job.settings, &job.given)?;
            (s, Some(r))
        }
        None => (job.settings.clone(), None),
    };
    if resume.is_none()
        && let Some(p) = &settings.data
        && let Ok(abs) = fs::canonicalize(p)
    {
        // Absolute, so the run can be resumed from any folder.
        settings.data = Some(abs);
    }
    settings.validate()?;
    // Before anything parallel (the data loaders use rayon's global pool too).
    device::set_threads(settings.threads)?;
    let (data, skipped) = data::load(&settings.data_spec())?;
    if skipped > 0 {
        eprintln!(
            "skipped {skipped} unreadable image file(s) under {} (--skip-bad-images)",
            settings.data.as_deref().unwrap_or(Path::new("?")).display()
        );
    }
    if settings.batch_size as usize > data.len {
        bail!(
            "--batch-size {} is larger than the dataset ({} images)",
            settings.batch_size,
            data.len
        );
    }
    Ok((settings, resume, (data, skipped)))
}

/// Default run name: dataset, architecture, activation (with alpha), seed and start time.
fn default_name(s: &TrainSettings) -> String {
    let time = chrono::Local::now().format("%Y%m%d-%H%M%S");
    format!(
        "{}-{}-{}-s{}-{time}",
        s.dataset.name(),
        s.arch.name(),
        s.act_label(),
        s.seed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Act, Arch};

    #[test]
    fn default_names_say_what_was_trained() {
        let s = TrainSettings {
            disc_act: Act::Relu,
            arch: Arch::Mlp,
            seed: 7,
            ..TrainSettings::default()
        };
        assert!(default_name(&s).starts_with("centred-mlp-relu-s7-"));
        let leaky = default_name(&TrainSettings::default());
        assert!(leaky.starts_with("centred-dcgan-leaky0.2-s42-"), "{leaky}");
        let outlines = TrainSettings {
            dataset: crate::data::DatasetKind::Shapes,
            ..TrainSettings::default()
        };
        assert!(default_name(&outlines).starts_with("shapes-dcgan-"));
    }

    #[test]
    fn a_batch_larger_than_the_data_is_refused_before_any_output() {
        let tmp = tempfile::tempdir().unwrap();
        let job = Job {
            settings: TrainSettings {
                dataset_size: Some(10),
                batch_size: 16,
                out: tmp.path().to_path_buf(),
                ..TrainSettings::default()
            },
            ..Job::default()
        };
        let err = prepare(&job).unwrap_err().to_string();
        assert!(err.contains("larger than the dataset"), "{err}");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
