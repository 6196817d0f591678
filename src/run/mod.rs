//! The run directory: the one place that knows its files and reads and writes them.
//!
//! ```text
//! <run>/config.json       settings, networks, machine, resumptions   (config)
//!       metrics.csv       one row per logged step                     (metrics)
//!       summary.json      how the latest command ended, per-column stats (summary)
//!       samples/step_NNNNNN.png, final.png   fixed-noise grids        (grid)
//!       progress.gif      those grids animated                        (gif)
//!       checkpoint/       networks, optimizer states, loop state      (checkpoint)
//!       eval/             gan eval's measurements
//!       train.lock        held by the process training it             (lock)
//! ```

pub mod checkpoint;
pub mod config;
mod create;
pub mod gif;
pub mod grid;
pub mod lock;
pub mod metrics;
pub mod summary;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use burn::prelude::*;
use serde::Serialize;

use crate::model::{Generator, NetConfig};
pub use config::RunConfig;
pub use lock::{LockError, RunLock};
pub use summary::{Status, Summary};

const CONFIG: &str = "config.json";
const SUMMARY: &str = "summary.json";
const METRICS: &str = "metrics.csv";
const SAMPLES: &str = "samples";
const PROGRESS: &str = "progress.gif";
const EVAL: &str = "eval";

/// A run directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates `<out>/<name>` and its `samples/` folder, locked for this process; with no
    /// name, a unique default one. An existing directory is never reused.
    pub fn create(out: &Path, name: Option<&str>, default_name: &str) -> Result<(RunDir, RunLock)> {
        let (path, lock) = create::create(out, name, default_name, SAMPLES)?;
        Ok((RunDir { path }, lock))
    }

    /// An existing run directory (`what` names the flag it came from, for the error).
    pub fn open(path: &Path, what: &str) -> Result<RunDir> {
        if !path.is_dir() {
            bail!("{what} {}: no such run directory", path.display());
        }
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its folder name.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }

    /// Takes the run's lock (only its trainer writes to it), or says who holds it.
    pub fn lock(&self) -> Result<RunLock, LockError> {
        RunLock::acquire(&self.path)
    }

    /// Whether another process trains the run now: its lock's holder, if so.
    pub fn in_progress(&self) -> Result<Option<lock::Holder>> {
        Ok(match lock::state(&self.path)? {
            lock::State::Held(h) => Some(h),
            lock::State::Free | lock::State::Stale(_) => None,
        })
    }

    /// `config.json`.
    pub fn config(&self) -> Result<RunConfig> {
        RunConfig::read(&self.path)
    }

    /// `metrics.csv`.
    pub fn metrics_path(&self) -> PathBuf {
        self.path.join(METRICS)
    }

    /// `summary.json`, if the run has written one (a run still training has not).
    pub fn summary(&self) -> Result<Option<Summary>> {
        let path = self.path.join(SUMMARY);
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .with_context(|| format!("{}: not a gan summary", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes `summary.json` atomically.
    pub fn write_summary(&self, summary: &Summary) -> Result<()> {
        write_json(&self.path.join(SUMMARY), summary)
    }

    /// The `samples/` folder.
    pub fn samples(&self) -> PathBuf {
        self.path.join(SAMPLES)
    }

    /// The fixed-noise grid after `step` steps.
    pub fn grid_path(&self, step: u64) -> PathBuf {
        self.samples().join(format!("step_{step:06}.png"))
    }

    /// The final fixed-noise grid.
    pub fn final_grid(&self) -> PathBuf {
        self.samples().join("final.png")
    }

    /// The animation of the grids.
    pub fn progress_gif(&self) -> PathBuf {
        self.path.join(PROGRESS)
    }

    /// Writes `progress.gif` from the grids so far.
    pub fn write_progress_gif(&self) -> Result<usize> {
        gif::write_progress_gif(&self.samples(), &self.progress_gif())
    }

    /// The folder of `gan eval`'s measurements.
    pub fn eval_dir(&self) -> PathBuf {
        self.path.join(EVAL)
    }

    /// The newest loadable checkpoint folder, or an error saying why there is none.
    pub fn checkpoint(&self) -> Result<PathBuf> {
        checkpoint::require(&self.path)
    }

    /// The checkpointed generator on `device` (batch norm in inference mode), its networks'
    /// settings and the step it was saved at.
    pub fn generator(&self, device: &Device) -> Result<(Generator, NetConfig, u64)> {
        let net = self.config()?.net;
        let ckpt = self.checkpoint()?;
        let step = checkpoint::read_state(&ckpt)?.step;
        let file = ckpt.join(checkpoint::GENERATOR);
        let g = Generator::new(&net, device)?
            .try_load_file(&file)
            .map_err(|e| anyhow!("loading {}: {e}", file.display()))?;
        Ok((g, net, step))
    }
}

/// Prefix of the staged copies `write_json` renames into place.
pub const STAGING_PREFIX: &str = ".staged.";

/// Writes `value` as pretty JSON, atomically: staged under a name unique to this process and
/// call, then renamed over the target, so concurrent writers never share a temporary file and a
/// reader sees the whole file or none.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!("{STAGING_PREFIX}{name}.{}.{n}", std::process::id()));
    let text = serde_json::to_string_pretty(value)? + "\n";
    fs::write(&tmp, text).with_context(|| format!("writing {}", path.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
