//! The checkpoint folder of a run: its layout, its loop state, and the atomic swap.
//!
//! Layout under the run directory: `checkpoint/` holds `generator.bpk`, `discriminator.bpk`,
//! `optim_g.bpk`, `optim_d.bpk` (burn's burnpack records) and `state.json`, written last. A new
//! checkpoint is assembled in `checkpoint.tmp/` and swapped in by renames, so a crash at any
//! moment leaves `checkpoint/` or `checkpoint.old/` complete and loadable. What goes into the
//! records is the trainer's business (`train::checkpoint`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Folder of the current checkpoint.
pub const DIR: &str = "checkpoint";
const TMP: &str = "checkpoint.tmp";
const OLD: &str = "checkpoint.old";
const STATE: &str = "state.json";
const FROZEN: &str = "frozen.bin";
/// The generator's record in a checkpoint folder.
pub const GENERATOR: &str = "generator.bpk";
/// The discriminator's record.
pub const DISCRIMINATOR: &str = "discriminator.bpk";
/// The generator's Adam state.
pub const OPTIM_G: &str = "optim_g.bpk";
/// The discriminator's Adam state.
pub const OPTIM_D: &str = "optim_d.bpk";

/// The loop state beside the weights: everything else a resumed run needs to continue exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// Steps completed.
    pub step: u64,
    /// The fixed sample noise, `sample_count × (latent_dim + classes)` row-major (see `NetConfig::noise_dim`).
    pub fixed_z: Vec<f32>,
    /// Dead-unit masks of the last logged steps, oldest first (per step, per layer, per unit).
    pub dead_history: Vec<Vec<Vec<bool>>>,
    /// Seconds spent training so far.
    pub train_seconds: f64,
    /// Data order and noise are drawn per step from streams seeded by (seed, step), so this
    /// seed and `step` are the whole random state.
    pub seed: u64,
    /// Units dead on the probe set at the last logged step on the schedule (per layer), for
    /// the revival measure; empty before the first (and in runs from before it existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probe_dead: Vec<Vec<bool>>,
    /// Logged steps the frozen-weights count has seen (up to its window).
    #[serde(default)]
    pub frozen_seen: u32,
    /// Per entry of D's parameters, the logged steps in a row its gradient was zero: kept in
    /// `frozen.bin` beside state.json (little-endian u16s), not in the JSON.
    #[serde(skip)]
    pub frozen_runs: Vec<u16>,
}

/// Writes a checkpoint into `run/checkpoint/`, atomically: `records` writes the network and
/// optimizer records into the folder it is given, then `state` is written last.
pub fn write(run: &Path, state: &State, records: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = run.join(TMP);
    if tmp.exists() {
        // Left by a crash during an earlier write.
        fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    records(&tmp)?;
    let frozen: Vec<u8> = state
        .frozen_runs
        .iter()
        .flat_map(|r| r.to_le_bytes())
        .collect();
    let frozen_path = tmp.join(FROZEN);
    fs::write(&frozen_path, frozen)
        .with_context(|| format!("writing {}", frozen_path.display()))?;
    let state_path = tmp.join(STATE);
    fs::write(&state_path, serde_json::to_string(state)?)
        .with_context(|| format!("writing {}", state_path.display()))?;
    sync_dir(&tmp);

    let (cur, old) = (run.join(DIR), run.join(OLD));
    if old.exists() {
        fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    if cur.exists() {
        fs::rename(&cur, &old).with_context(|| format!("moving {}", cur.display()))?;
    }
    fs::rename(&tmp, &cur).with_context(|| format!("moving {}", tmp.display()))?;
    sync_dir(run);
    if old.exists() {
        fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    Ok(())
}

/// Best effort: make the renames durable before going on.
fn sync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// The newest complete checkpoint folder of `run`: `checkpoint/`, else `checkpoint.old/`.
pub fn latest(run: &Path) -> Option<PathBuf> {
    [DIR, OLD]
        .iter()
        .map(|d| run.join(d))
        .find(|d| d.join(STATE).is_file())
}

/// Reads the loop state of a checkpoint folder.
pub fn read_state(ckpt: &Path) -> Result<State> {
    let path = ckpt.join(STATE);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut state: State = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a gan checkpoint state", path.display()))?;
    // Checkpoints from before the frozen-weights measure have none: it starts afresh.
    let frozen = ckpt.join(FROZEN);
    if frozen.is_file() {
        let bytes = fs::read(&frozen).with_context(|| format!("reading {}", frozen.display()))?;
        state.frozen_runs = bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
    }
    Ok(state)
}

/// The newest loadable checkpoint of `run`, or an error saying why there is none.
pub fn require(run: &Path) -> Result<PathBuf> {
    match latest(run) {
        Some(c) => Ok(c),
        None if run.join(TMP).exists() => bail!(
            "{}: the only checkpoint is an unfinished write ({TMP}); the run cannot be resumed",
            run.display()
        ),
        None => bail!("{}: no checkpoint yet", run.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            step: 3,
            fixed_z: vec![0.5; 4],
            dead_history: vec![vec![vec![true, false]]],
            train_seconds: 1.0,
            seed: 3,
            probe_dead: vec![vec![true]],
            frozen_seen: 2,
            frozen_runs: vec![0, 2, 1, 65535],
        }
    }

    #[test]
    fn written_checkpoints_replace_the_last_and_keep_their_state() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), &state(), |d| Ok(fs::write(d.join("a"), "1")?)).unwrap();
        let later = State { step: 5, ..state() };
        write(tmp.path(), &later, |d| Ok(fs::write(d.join("a"), "2")?)).unwrap();
        let ckpt = latest(tmp.path()).unwrap();
        assert_eq!(ckpt, tmp.path().join(DIR));
        assert_eq!(read_state(&ckpt).unwrap(), later);
        assert_eq!(fs::read_to_string(ckpt.join("a")).unwrap(), "2");
        assert!(!tmp.path().join(OLD).exists() && !tmp.path().join(TMP).exists());
    }

    #[test]
    fn a_failed_write_leaves_the_previous_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), &state(), |_| Ok(())).unwrap();
        let failed = write(tmp.path(), &state(), |_| bail!("disk full"));
        assert!(failed.is_err());
        assert_eq!(read_state(&require(tmp.path()).unwrap()).unwrap(), state());
    }

    #[test]
    fn an_unfinished_write_leaves_the_previous_checkpoint_loadable() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path();
        fs::create_dir_all(run.join(OLD)).unwrap();
        fs::write(run.join(OLD).join(STATE), "{}").unwrap();
        fs::create_dir_all(run.join(TMP)).unwrap();
        // Crash between the two renames: only checkpoint.old is complete.
        assert_eq!(latest(run), Some(run.join(OLD)));
        fs::create_dir_all(run.join(DIR)).unwrap();
        assert_eq!(latest(run), Some(run.join(OLD)), "no state.json yet");
        fs::write(run.join(DIR).join(STATE), "{}").unwrap();
        assert_eq!(latest(run), Some(run.join(DIR)));
        fs::remove_dir_all(run.join(DIR)).unwrap();
        fs::remove_dir_all(run.join(OLD)).unwrap();
        let err = require(run).unwrap_err().to_string();
        assert!(err.contains("unfinished write"), "{err}");
    }
}
