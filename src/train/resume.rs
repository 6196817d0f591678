//! `--resume RUN_DIR`: the saved settings of a run, with the few a user may change.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::checkpoint::{self, State};
use crate::cli::TrainArgs;

/// Flags that may differ from the saved run: they change speed, logging or the total length,
/// not the model, the data or the random streams.
const MAY_CHANGE: [&str; 9] = [
    "steps",
    "lr",
    "backend",
    "device",
    "threads",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "quiet",
];

/// What a resumed run continues from.
#[derive(Debug)]
pub struct Resume {
    /// The run directory.
    pub dir: PathBuf,
    /// The checkpoint folder loaded.
    pub checkpoint: PathBuf,
    /// Its loop state.
    pub state: State,
    /// log_every of the saved run: rows off its schedule were end-of-run rows.
    pub saved_log_every: u64,
}

/// The settings of the run in `given.resume`, with the changes `given` makes to them, and the
/// checkpoint to continue from. Refuses changes to model- or data-defining settings.
pub fn plan(given: &TrainArgs) -> Result<(TrainArgs, Resume)> {
    let dir = given.resume.clone().expect("called for --resume");
    let config_path = dir.join("config.json");
    if !dir.is_dir() {
        bail!("--resume {}: no such run directory", dir.display());
    }
    let text = fs::read_to_string(&config_path)
        .with_context(|| format!("--resume {}: reading config.json", dir.display()))?;
    let config: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a gan config", config_path.display()))?;
    let saved_args = config
        .get("args")
        .with_context(|| format!("{}: no \"args\" in it", config_path.display()))?;
    let saved: TrainArgs = serde_json::from_value(saved_args.clone())
        .with_context(|| format!("{}: unreadable settings", config_path.display()))?;

    let mut merged = serde_json::to_value(&saved)?;
    let given_json = serde_json::to_value(given)?;
    for id in &given.explicit {
        let flag = format!("--{}", id.replace('_', "-"));
        match id.as_str() {
            "resume" => {}
            "out" | "name" => bail!(
                "{flag} does not apply to --resume: the run stays in {}",
                dir.display()
            ),
            _ if MAY_CHANGE.contains(&id.as_str()) => merged[id] = given_json[id].clone(),
            _ if given_json[id] != merged[id] => bail!(
                "{} was trained with {flag} {}; resuming with {flag} {} would change the model or its data. \
                 Start a new run instead",
                dir.display(),
                show(&merged[id]),
                show(&given_json[id]),
            ),
            _ => {}
        }
    }
    let mut args: TrainArgs = serde_json::from_value(merged)?;
    args.resume = Some(dir.clone());
    args.explicit = given.explicit.clone();

    let checkpoint = checkpoint::require(&dir)?;
    let state = checkpoint::read_state(&checkpoint)?;
    if state.step >= args.steps {
        bail!(
            "{} already finished its {} steps; give --steps N with N > {} to train on",
            dir.display(),
            state.step,
            state.step
        );
    }
    Ok((
        args,
        Resume {
            dir,
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

/// Adds a record of this resumption to the run's config.json (written atomically).
pub fn record(dir: &Path, entry: Value) -> Result<()> {
    let path = dir.join("config.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut config: Value = serde_json::from_str(&text)?;
    match config.get_mut("resumes").and_then(Value::as_array_mut) {
        Some(list) => list.push(entry),
        None => config["resumes"] = Value::Array(vec![entry]),
    }
    let tmp = dir.join("config.json.tmp");
    fs::write(&tmp, serde_json::to_string_pretty(&config)? + "\n")
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}
