//! `summary.json`: mean and final value of every metric of a run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metric::{self, Column, Metric};

/// Mean and final value of one metric.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stat {
    /// Mean over the logged steps.
    pub mean: f64,
    /// Value at the last logged step.
    pub last: f64,
}

/// How a run's latest training command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All planned steps done.
    Finished,
    /// Stopped by Ctrl-C or SIGTERM, after writing a checkpoint.
    Interrupted,
    /// Stopped because a loss or parameter became NaN or infinite.
    Diverged,
}

/// What a run reports when its training command ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// How it ended.
    pub status: Status,
    /// Steps trained.
    pub steps: u64,
    /// Steps planned (--steps).
    pub planned_steps: u64,
    /// The step whose loss or update was not finite, if the run diverged.
    pub diverged_at_step: Option<u64>,
    /// Logged steps the statistics cover.
    pub logged_steps: usize,
    /// Wall-clock seconds of the training loop (all segments of a resumed run).
    pub wall_seconds: f64,
    /// Mean milliseconds per step over the latest segment.
    pub ms_per_step: f64,
    /// Per metrics.csv column.
    pub metrics: BTreeMap<String, Stat>,
    /// Held-out accuracy of the evaluator behind the eval_* columns (with --eval-every).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluator_accuracy: Option<f64>,
}

/// Mean and last value of each column over `rows` (each row in `columns` order); NaN marks a
/// value not measured at that row (eval_* columns) and is left out.
pub fn column_stats(columns: &[String], rows: &[Vec<f64>]) -> BTreeMap<String, Stat> {
    let mut out = BTreeMap::new();
    for (i, name) in columns.iter().enumerate() {
        let values: Vec<f64> = rows.iter().map(|r| r[i]).filter(|v| !v.is_nan()).collect();
        if let Some(&last) = values.last() {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            out.insert(name.clone(), Stat { mean, last });
        }
    }
    out
}

/// `column_stats`, plus the metrics derived from several columns of a row (`d_collapsed`:
/// the share of logged rows at which D had collapsed, and whether it had at the last one).
pub fn run_stats(columns: &[String], rows: &[Vec<f64>]) -> BTreeMap<String, Stat> {
    let mut out = column_stats(columns, rows);
    let layers = columns
        .iter()
        .filter_map(|c| Column::parse(c))
        .filter(|c| c.metric == Metric::DDeadProbe && c.layer.is_some())
        .count();
    let flags: Vec<f64> = rows
        .iter()
        .filter_map(|row| {
            let value = |name: &str| {
                let i = columns.iter().position(|c| c == name)?;
                Some(row[i])
            };
            metric::collapsed(value, layers).map(f64::from)
        })
        .collect();
    if let Some(&last) = flags.last() {
        let mean = flags.iter().sum::<f64>() / flags.len() as f64;
        out.insert(Metric::DCollapsed.name().to_string(), Stat { mean, last });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_is_derived_from_starved_fakes_or_a_layer_dead_on_the_probe_set() {
        let cols: Vec<String> = ["g_starved", "d_dead_probe_h1", "d_dead_probe_h2"]
            .map(String::from)
            .to_vec();
        let rows = [
            vec![0.0, 0.2, 0.9],
            // Layer 2 dead on every probe image: D's output no longer depends on the input.
            vec![0.1, 0.3, 1.0],
            // Most fakes starved.
            vec![0.8, 0.1, 0.1],
            vec![0.5, 0.1, 0.1],
        ];
        let s = run_stats(&cols, &rows);
        assert_eq!(
            s["d_collapsed"],
            Stat {
                mean: 0.5,
                last: 0.0
            }
        );
        // Without the harm columns (older runs, --no-probes) there is no collapse measure.
        let s = run_stats(&["loss_d".to_string()], &[vec![0.3]]);
        assert!(!s.contains_key("d_collapsed"));
    }

    #[test]
    fn mean_and_last_per_column() {
        let cols = vec!["a".to_string(), "b".to_string()];
        let s = column_stats(&cols, &[vec![1.0, 10.0], vec![3.0, 20.0]]);
        assert_eq!(
            s["a"],
            Stat {
                mean: 2.0,
                last: 3.0
            }
        );
        assert_eq!(
            s["b"],
            Stat {
                mean: 15.0,
                last: 20.0
            }
        );
    }

    #[test]
    fn unmeasured_values_are_left_out() {
        let cols = vec!["a".to_string(), "eval_fd".to_string(), "never".to_string()];
        let rows = [
            vec![1.0, 4.0, f64::NAN],
            vec![2.0, f64::NAN, f64::NAN],
            vec![3.0, 2.0, f64::NAN],
            vec![4.0, f64::NAN, f64::NAN],
        ];
        let s = column_stats(&cols, &rows);
        assert_eq!(
            s["eval_fd"],
            Stat {
                mean: 3.0,
                last: 2.0
            }
        );
        assert_eq!(s["a"].mean, 2.5);
        assert!(!s.contains_key("never"));
    }
}
