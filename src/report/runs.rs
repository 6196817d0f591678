//! A finished (or stopped) run directory as the report reads it: settings, summary, metrics.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cli::{Act, TrainArgs};
use crate::train::summary::Summary;

/// One run directory, read whole.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run directory.
    pub dir: PathBuf,
    /// Its folder name.
    pub name: String,
    /// The training settings in its config.json.
    pub args: TrainArgs,
    /// Its summary.json.
    pub summary: Summary,
    /// metrics.csv header without `step`.
    pub columns: Vec<String>,
    /// metrics.csv rows: the step, then the values (NaN where not measured).
    pub rows: Vec<Row>,
}

impl Run {
    /// Reads the run in `dir`; a run that never wrote summary.json (still training, or killed)
    /// is refused with a one-line reason.
    pub fn load(dir: &Path) -> Result<Run> {
        if !dir.is_dir() {
            bail!("{}: no such run directory", dir.display());
        }
        let read = |file: &str| -> Result<serde_json::Value> {
            let path = dir.join(file);
            let text = fs::read_to_string(&path)
                .with_context(|| format!("{}: not a finished run (no {file})", dir.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))
        };
        let config = read("config.json")?;
        let args: TrainArgs =
            serde_json::from_value(config["args"].clone()).with_context(|| {
                format!("{}: unreadable settings", dir.join("config.json").display())
            })?;
        let summary: Summary = serde_json::from_value(read("summary.json")?)
            .with_context(|| format!("{}: unreadable", dir.join("summary.json").display()))?;
        if summary.status == crate::train::summary::Status::Interrupted {
            bail!(
                "{} was interrupted after {} of {} steps; finish it (gan --resume {}) or leave it out",
                dir.display(),
                summary.steps,
                summary.planned_steps,
                dir.display()
            );
        }
        let (columns, rows) = read_metrics(&dir.join("metrics.csv"))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        Ok(Run {
            dir: dir.to_path_buf(),
            name,
            args,
            summary,
            columns,
            rows,
        })
    }

    /// The values of `column` over steps (NaN-free).
    pub fn series(&self, column: &str) -> Vec<(u64, f64)> {
        let Some(i) = self.columns.iter().position(|c| c == column) else {
            return Vec::new();
        };
        self.rows
            .iter()
            .filter(|(_, r)| !r[i].is_nan())
            .map(|(s, r)| (*s, r[i]))
            .collect()
    }

    /// The activation under comparison, as a label: `relu` or `leaky α=0.2`.
    pub fn activation_label(&self) -> String {
        match self.args.disc_act {
            Act::Relu => "relu".into(),
            Act::Leaky => format!("leaky α={}", self.args.alpha),
        }
    }

    /// The final sample grid.
    pub fn final_grid(&self) -> PathBuf {
        self.dir.join("samples").join("final.png")
    }

    /// The animation of the sample grids.
    pub fn progress_gif(&self) -> PathBuf {
        self.dir.join("progress.gif")
    }
}

/// A metrics.csv row: the step and its values.
type Row = (u64, Vec<f64>);

/// metrics.csv: column names (without `step`) and rows (empty cells read as NaN).
fn read_metrics(path: &Path) -> Result<(Vec<String>, Vec<Row>)> {
    let (header, rows) = crate::train::metrics::read(path)?;
    let rows = rows
        .into_iter()
        .map(|r| (r[0] as u64, r[1..].to_vec()))
        .collect();
    Ok((header[1..].to_vec(), rows))
}
