//! `config.json`: every setting of a run, the networks, the machine, and each resumption.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::data::DatasetKind;
use crate::model::NetConfig;
use crate::settings::TrainSettings;

/// This program's version, as config.json records it.
pub const GAN_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The burn version it is built on (pinned in Cargo.toml).
pub const BURN_VERSION: &str = "0.22.1";

/// Everything about a run, written to `config.json` when it starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    /// The gan version that started the run.
    #[serde(default)]
    pub gan_version: String,
    /// The burn version it ran on.
    #[serde(default)]
    pub burn_version: String,
    /// The training settings.
    pub args: TrainSettings,
    /// The two networks.
    pub net: NetConfig,
    /// The device it started on, in words.
    #[serde(default)]
    pub device: String,
    /// CPU threads of the pool.
    #[serde(default)]
    pub threads: usize,
    /// The data as loaded.
    #[serde(default)]
    pub dataset: DatasetInfo,
    /// When it started (RFC 3339).
    #[serde(default)]
    pub started: String,
    /// The command that started it.
    #[serde(default)]
    pub command_line: Vec<String>,
    /// Each `--resume`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumes: Vec<Resumption>,
}

/// The data a run trains on, as loaded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Which dataset.
    pub kind: Option<DatasetKind>,
    /// Its files, for the real datasets.
    pub path: Option<PathBuf>,
    /// Images.
    pub len: usize,
    /// Unreadable files skipped (--skip-bad-images).
    pub skipped_files: usize,
    /// Channels per image.
    pub channels: usize,
    /// Side length in pixels.
    pub size: usize,
    /// Class names (empty: unlabelled).
    pub classes: Vec<String>,
}

/// One `--resume` of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Resumption {
    /// The checkpoint's step it continued from.
    pub at_step: u64,
    /// The total steps it aimed for.
    pub steps: u64,
    /// The device it ran on, in words.
    pub device: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// The command.
    pub command_line: Vec<String>,
}

impl RunConfig {
    /// Reads `dir/config.json`; every reader of a run's settings goes through this, so the
    /// errors read the same everywhere.
    pub fn read(dir: &Path) -> Result<RunConfig> {
        let path = dir.join(super::CONFIG);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!(
                    "{}: not a gan run directory (no config.json)",
                    dir.display()
                )
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a gan run configuration", path.display()))?;
        serde_json::from_value(value.clone()).map_err(|e| {
            let by = value["gan_version"]
                .as_str()
                .unwrap_or("an unknown version");
            anyhow::anyhow!(
                "{}: written by gan {by}, whose settings gan {GAN_VERSION} cannot read ({e})",
                path.display()
            )
        })
    }

    /// Writes `dir/config.json` atomically (a crash leaves the old file or the new one).
    pub fn write(&self, dir: &Path) -> Result<()> {
        super::write_json(&dir.join(super::CONFIG), self)
    }

    /// Adds `resumption` to the run's config.json.
    pub fn record_resume(dir: &Path, resumption: Resumption) -> Result<()> {
        let mut config = RunConfig::read(dir)?;
        config.resumes.push(resumption);
        config.write(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_of_the_previous_version_reads() {
        // As written by gan 0.1.0 before the settings had a type of their own.
        let old = r#"{
          "gan_version": "0.1.0", "burn_version": "0.22.1",
          "args": {"disc_act": "relu", "alpha": 0.2, "gen_act": "relu", "arch": "mlp",
                   "dataset": "fashion-mnist", "data": null, "image_size": 28, "steps": 20,
                   "batch_size": 8, "lr": 0.0002, "seed": 5, "backend": "flex",
                   "device": {"discrete": 1}, "threads": 1, "out": "outputs", "name": "x"},
          "net": {"arch": "mlp", "image_size": 28, "channels": 1, "latent_dim": 100,
                  "disc_act": "relu", "gen_act": "relu", "alpha": 0.2, "disc_batch_norm": true},
          "device": "flex (CPU, 1 threads)", "threads": 1,
          "dataset": {"kind": "fashion-mnist", "path": null, "len": 60000, "skipped_files": 0,
                      "channels": 1, "size": 28, "classes": ["T-shirt/top"]},
          "started": "2026-11-29T10:00:00+00:00", "command_line": ["gan"],
          "resumes": [{"at_step": 10, "steps": 20, "device": "flex", "started": "t",
                       "command_line": ["gan", "--resume", "x"]}]
        }"#;
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("config.json"), old).unwrap();
        let c = RunConfig::read(tmp.path()).unwrap();
        assert_eq!(c.args.steps, 20);
        assert_eq!(c.args.device, crate::device::Adapter::Discrete(1));
        assert_eq!(c.args.dataset, DatasetKind::FashionMnist);
        assert_eq!(c.net.disc_depth, 2);
        assert_eq!(c.resumes.len(), 1);
        // Written back and read again: nothing lost.
        c.write(tmp.path()).unwrap();
        let again = RunConfig::read(tmp.path()).unwrap();
        assert_eq!(again.args, c.args);
        assert_eq!(again.resumes, c.resumes);
    }

    #[test]
    fn unreadable_configs_are_refused_with_the_file_and_version() {
        let tmp = tempfile::tempdir().unwrap();
        let err = RunConfig::read(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("not a gan run directory"), "{err}");
        fs::write(tmp.path().join("config.json"), "{not json").unwrap();
        let err = format!("{:#}", RunConfig::read(tmp.path()).unwrap_err());
        assert!(
            err.contains("config.json: not a gan run configuration"),
            "{err}"
        );
        let future = r#"{"gan_version": "9.0.0", "args": {"arch": "transformer"}, "net": {}}"#;
        fs::write(tmp.path().join("config.json"), future).unwrap();
        let err = RunConfig::read(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("written by gan 9.0.0"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
