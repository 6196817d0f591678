//! `metrics.csv`: one row per logged step, flushed at once so a crashed run stays readable.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result, ensure};

/// Appends rows of named numeric columns to a CSV file.
pub struct MetricsLog {
    writer: csv::Writer<File>,
    columns: usize,
}

impl MetricsLog {
    /// Creates the file and writes the header `step, <columns...>`.
    pub fn create(path: &Path, columns: &[String]) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut writer = csv::Writer::from_writer(file);
        writer.write_record(std::iter::once("step").chain(columns.iter().map(String::as_str)))?;
        writer.flush()?;
        Ok(MetricsLog {
            writer,
            columns: columns.len(),
        })
    }

    /// Writes one row; `values` follow the header's order.
    pub fn write(&mut self, step: u64, values: &[f64]) -> Result<()> {
        ensure!(
            values.len() == self.columns,
            "metrics row has {} values for {} columns",
            values.len(),
            self.columns
        );
        let mut record = Vec::with_capacity(values.len() + 1);
        record.push(step.to_string());
        record.extend(values.iter().map(|v| format!("{v}")));
        self.writer
            .write_record(&record)
            .context("writing metrics.csv")?;
        self.writer.flush().context("writing metrics.csv")?;
        Ok(())
    }
}
