//! `--resume RUN_DIR`: the saved settings of a run, with the few a user may change.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde_json::Value;

use crate::run::checkpoint::{self, State};
use crate::run::{RunDir, RunLock};
use crate::settings::{Given, Role, TrainSettings};

/// What a resumed run continues from.
#[derive(Debug)]
pub struct Resume {
    /// The run directory.
    pub run: RunDir,
    /// Its lock, held from planning to the end of training.
    pub lock: RunLock,
    /// The checkpoint folder loaded.
    pub checkpoint: PathBuf,
    /// Its loop state.
    pub state: State,
    /// log_every of the saved run: rows off its schedule were end-of-run rows.
    pub saved_log_every: u64,
}

/// The settings of the run in `dir`, with the changes that the explicitly `given` flags of
/// `flags` make to them, and the checkpoint to continue from. Only settings whose role may
/// change on resume (speed, logging, length, rate) may differ from the saved ones.
pub fn plan(dir: &Path, flags: &TrainSettings, given: &Given) -> Result<(TrainSettings, Resume)> {
    let run = RunDir::open(dir, "--resume")?;
    // Before reading anything: a run that another process trains is not ours to continue.
    let lock = run.lock()?;
    let saved = run.config()?.args;
    let mut merged = saved.to_map();
    let flags_map = flags.to_map();
    for key in given.iter() {
        let (name, flag) = (key.name(), key.flag());
        let (was, now) = (&merged[name], &flags_map[name]);
        match key.role() {
            Role::Place => bail!(
                "{flag} does not apply to --resume: the run stays in {}",
                dir.display()
            ),
            role if role.may_change_on_resume() => {
                merged.insert(name.into(), now.clone());
            }
            _ if was != now => bail!(
                "{} was trained with {flag} {}; resuming with {flag} {} would change the model or its data. \
                 Start a new run instead",
                dir.display(),
                show(was),
                show(now),
            ),
            _ => {}
        }
    }
    let settings: TrainSettings = serde_json::from_value(Value::Object(merged))?;
    let checkpoint = checkpoint::require(dir)?;
    let state = checkpoint::read_state(&checkpoint)?;
    if state.step >= settings.steps {
        bail!(
            "{} already finished its {} steps; give --steps N with N > {} to train on",
            dir.display(),
            state.step,
            state.step
        );
    }
    Ok((
        settings,
        Resume {
            run,
            lock,
            checkpoint,
            state,
            saved_log_every: saved.log_every,
        },
    ))
}

/// A flag value as a user would type it.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(unset)".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NetConfig;
    use crate::run::RunConfig;
    use crate::settings::Key;

    /// A run directory with settings `s` and a checkpoint state at step 10 (no weights:
    /// planning reads only the settings and the state).
    fn saved_run(s: &TrainSettings) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let config = RunConfig {
            gan_version: "0.1.0".into(),
            burn_version: "0.22.1".into(),
            args: s.clone(),
            net: NetConfig::default(),
            device: "flex".into(),
            threads: 1,
            dataset: Default::default(),
            started: String::new(),
            command_line: Vec::new(),
            resumes: Vec::new(),
        };
        config.write(tmp.path()).unwrap();
        let state = State {
            step: 10,
            fixed_z: Vec::new(),
            dead_history: Vec::new(),
            train_seconds: 0.0,
            seed: s.seed,
            probe_dead: Vec::new(),
            frozen_seen: 0,
            frozen_runs: Vec::new(),
        };
        checkpoint::write(tmp.path(), &state, |_| Ok(())).unwrap();
        tmp
    }

    #[test]
    fn resume_keeps_the_saved_settings_and_takes_only_what_may_change() {
        let saved = TrainSettings {
            steps: 20,
            lr: 1e-3,
            batch_size: 8,
            ..TrainSettings::default()
        };
        let run = saved_run(&saved);
        let flags = TrainSettings {
            steps: 40,
            lr: 1e-4,
            // Not given: the default must not replace the saved 8.
            batch_size: 64,
            ..TrainSettings::default()
        };
        let given = Given::of([Key::Steps, Key::Lr]);
        let (s, r) = plan(run.path(), &flags, &given).unwrap();
        assert_eq!((s.steps, s.lr, s.batch_size), (40, 1e-4, 8));
        assert_eq!(r.state.step, 10);
    }

    #[test]
    fn resume_refuses_model_changes_places_and_finished_runs() {
        let saved = TrainSettings {
            steps: 20,
            ..TrainSettings::default()
        };
        let run = saved_run(&saved);
        let flags = TrainSettings {
            batch_size: 8,
            ..TrainSettings::default()
        };
        let err = plan(run.path(), &flags, &Given::of([Key::BatchSize])).unwrap_err();
        assert!(
            err.to_string()
                .contains("--batch-size 64; resuming with --batch-size 8"),
            "{err}"
        );
        // Given but equal to the saved value: fine.
        assert!(
            plan(
                run.path(),
                &TrainSettings {
                    steps: 20,
                    ..flags.clone()
                },
                &Given::of([Key::LatentDim])
            )
            .is_ok()
        );
        let err = plan(run.path(), &flags, &Given::of([Key::Name])).unwrap_err();
        assert!(err.to_string().contains("--name does not apply"), "{err}");
        let short = TrainSettings {
            steps: 10,
            ..TrainSettings::default()
        };
        let err = plan(run.path(), &short, &Given::of([Key::Steps])).unwrap_err();
        assert!(
            err.to_string().contains("already finished its 10 steps"),
            "{err}"
        );
    }
}
