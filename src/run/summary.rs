//! `summary.json`: mean and final value of every metric of a run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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
