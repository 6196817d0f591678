//! `metrics.csv`: one row per logged step, flushed at once so a crashed run stays readable.

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

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

    /// Reopens a resumed run's file for appending, keeping only the rows `keep(step)` accepts
    /// (rewritten atomically); returns the log and the kept rows, `step` column excluded.
    pub fn reopen(
        path: &Path,
        columns: &[String],
        keep: impl Fn(u64) -> bool,
    ) -> Result<(Self, Vec<Vec<f64>>)> {
        let (header, rows) = read(path)?;
        if header[1..] != *columns {
            bail!(
                "{}: its columns are not those of this run's settings; cannot append",
                path.display()
            );
        }
        let kept: Vec<Vec<f64>> = rows.into_iter().filter(|r| keep(r[0] as u64)).collect();
        let tmp = path.with_extension("csv.tmp");
        {
            let mut w = csv::Writer::from_path(&tmp)
                .with_context(|| format!("writing {}", tmp.display()))?;
            w.write_record(&header)?;
            for row in &kept {
                let mut rec = vec![(row[0] as u64).to_string()];
                rec.extend(row[1..].iter().map(|&v| cell(v)));
                w.write_record(&rec)?;
            }
            w.flush()?;
        }
        fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let log = MetricsLog {
            writer: csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(file),
            columns: columns.len(),
        };
        Ok((log, kept.into_iter().map(|r| r[1..].to_vec()).collect()))
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
        record.extend(values.iter().map(|&v| cell(v)));
        self.writer
            .write_record(&record)
            .context("writing metrics.csv")?;
        self.writer.flush().context("writing metrics.csv")?;
        Ok(())
    }
}

/// Reads a metrics.csv: its header (starting with `step`) and its complete rows, step first;
/// empty cells (not measured at that step) read as NaN.
pub fn read(path: &Path) -> Result<(Vec<String>, Vec<Vec<f64>>)> {
    let ctx = || format!("reading {}", path.display());
    let mut reader = csv::Reader::from_path(path).with_context(ctx)?;
    let header: Vec<String> = reader
        .headers()
        .with_context(ctx)?
        .iter()
        .map(String::from)
        .collect();
    if header.first().map(String::as_str) != Some("step") {
        bail!("{}: not a gan metrics file", path.display());
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(ctx)?;
        let values: Vec<f64> = record
            .iter()
            .map(|v| match v.is_empty() {
                true => Ok(f64::NAN),
                false => v.parse::<f64>(),
            })
            .collect::<Result<_, _>>()
            .with_context(|| format!("{}: a row is not numeric", path.display()))?;
        // A crash mid-write can leave a short last row: it is dropped.
        if values.len() == header.len() {
            rows.push(values);
        }
    }
    Ok((header, rows))
}

/// A CSV cell: NaN (not measured at this step) is left empty.
fn cell(v: f64) -> String {
    match v.is_nan() {
        true => String::new(),
        false => format!("{v}"),
    }
}
