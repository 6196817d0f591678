//! A finished (or stopped) run directory as the report reads it: settings, summary, metrics.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::run::{RunDir, Status, Summary};
use crate::settings::TrainSettings;

/// One run directory, read whole.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run directory and its files.
    files: RunDir,
    /// Its folder name.
    pub name: String,
    /// The training settings in its config.json.
    pub args: TrainSettings,
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
        let run = RunDir::open(dir, "run")?;
        if let Some(holder) = run.in_progress()? {
            bail!(
                "{} is still training ({holder}); wait for it to finish or leave it out",
                dir.display()
            );
        }
        let args = run.config()?.args;
        let Some(summary) = run.summary()? else {
            bail!("{}: not a finished run (no summary.json)", dir.display());
        };
        if summary.status == Status::Interrupted {
            bail!(
                "{} was interrupted after {} of {} steps; finish it (gan --resume {}) or leave it out",
                dir.display(),
                summary.steps,
                summary.planned_steps,
                dir.display()
            );
        }
        let (columns, rows) = read_metrics(&run.metrics_path())?;
        Ok(Run {
            name: run.name(),
            files: run,
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
            crate::model::Act::Relu => "relu".into(),
            crate::model::Act::Leaky => format!("leaky α={}", self.args.alpha),
        }
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        self.files.path()
    }

    /// The final sample grid.
    pub fn final_grid(&self) -> PathBuf {
        self.files.final_grid()
    }

    /// The animation of the sample grids.
    pub fn progress_gif(&self) -> PathBuf {
        self.files.progress_gif()
    }
}

/// A metrics.csv row: the step and its values.
type Row = (u64, Vec<f64>);

/// metrics.csv: column names (without `step`) and rows (empty cells read as NaN).
fn read_metrics(path: &Path) -> Result<(Vec<String>, Vec<Row>)> {
    let (header, rows) = crate::run::metrics::read(path)?;
    let rows = rows
        .into_iter()
        .map(|r| (r[0] as u64, r[1..].to_vec()))
        .collect();
    Ok((header[1..].to_vec(), rows))
}
