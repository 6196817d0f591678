//! Runs grouped into configurations (same settings but the seed), and their per-seed statistics.

use std::collections::BTreeMap;

use crate::cli::Act;
use crate::train::summary::Status;

use super::runs::Run;
use super::stats::MeanStd;

/// Which value of a metric a run contributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Mean over the run's logged steps.
    Mean,
    /// Value at the last step it was measured.
    Last,
}

/// A number in the report's table: which column, how it is reduced, how it is shown.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// metrics.csv column.
    pub column: &'static str,
    /// Mean over the run or final value.
    pub take: Take,
    /// Table heading.
    pub heading: &'static str,
    /// Decimals shown.
    pub digits: usize,
}

/// The table's metrics, in order; those no run has are left out.
pub const METRICS: &[Metric] = &[
    Metric {
        column: "d_grad_zero",
        take: Take::Mean,
        heading: "D grad zeros (mean)",
        digits: 3,
    },
    Metric {
        column: "d_grad_zero",
        take: Take::Last,
        heading: "D grad zeros (final)",
        digits: 3,
    },
    Metric {
        column: "d_dead_units_persistent",
        take: Take::Last,
        heading: "dead units (final)",
        digits: 3,
    },
    Metric {
        column: "g_signal_norm",
        take: Take::Mean,
        heading: "G signal norm (mean)",
        digits: 4,
    },
    Metric {
        column: "loss_d",
        take: Take::Last,
        heading: "loss D (final)",
        digits: 3,
    },
    Metric {
        column: "loss_g",
        take: Take::Last,
        heading: "loss G (final)",
        digits: 3,
    },
    Metric {
        column: "eval_fd",
        take: Take::Last,
        heading: "FD (final)",
        digits: 2,
    },
    Metric {
        column: "eval_precision",
        take: Take::Last,
        heading: "precision",
        digits: 3,
    },
    Metric {
        column: "eval_recall",
        take: Take::Last,
        heading: "recall",
        digits: 3,
    },
    Metric {
        column: "eval_class_coverage",
        take: Take::Last,
        heading: "class coverage",
        digits: 2,
    },
    Metric {
        column: "eval_class_kl",
        take: Take::Last,
        heading: "class KL",
        digits: 3,
    },
    Metric {
        column: "eval_mmd_pixel",
        take: Take::Last,
        heading: "pixel MMD²",
        digits: 4,
    },
    Metric {
        column: "step_ms",
        take: Take::Mean,
        heading: "ms/step",
        digits: 0,
    },
];

impl Metric {
    /// A key unique among `METRICS`.
    pub fn key(&self) -> String {
        match self.take {
            Take::Mean => format!("{}:mean", self.column),
            Take::Last => format!("{}:last", self.column),
        }
    }

    /// This metric's value for `run`, from its summary.json.
    pub fn of(&self, run: &Run) -> Option<f64> {
        let stat = run.summary.metrics.get(self.column)?;
        Some(match self.take {
            Take::Mean => stat.mean,
            Take::Last => stat.last,
        })
    }
}

/// Runs of one configuration, differing only in seed.
#[derive(Debug, Clone)]
pub struct Group {
    /// How the report names it: the activation, plus any other setting that differs between
    /// the groups.
    pub label: String,
    /// The other settings that differ between groups (empty when only the activation does).
    pub setting: String,
    /// Discriminator activation.
    pub act: Act,
    /// Its runs, by seed.
    pub runs: Vec<Run>,
}

/// Per-seed statistics of a group, the input of the verdict.
#[derive(Debug, Clone)]
pub struct GroupStats {
    /// As in `Group`.
    pub label: String,
    /// As in `Group`.
    pub setting: String,
    /// As in `Group`.
    pub act: Act,
    /// Runs in the group.
    pub runs: usize,
    /// Runs that diverged.
    pub diverged: usize,
    /// By `Metric::key`, over the runs that did not diverge.
    pub metrics: BTreeMap<String, MeanStd>,
}

/// Settings that do not make two runs different configurations.
const NOT_CONFIGURATION: &[&str] = &[
    "seed",
    "name",
    "out",
    "quiet",
    "threads",
    "backend",
    "device",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "eval_every",
    "sample_count",
    "disc_act",
    "alpha",
];

/// Groups `runs` by their settings apart from the seed (and bookkeeping), in first-seen order.
pub fn group(runs: Vec<Run>) -> Vec<Group> {
    let settings = |r: &Run| -> BTreeMap<String, serde_json::Value> {
        // Settings that cannot be serialised (a non-UTF-8 path) compare as absent.
        let v = serde_json::to_value(&r.args).unwrap_or_default();
        v.as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| !NOT_CONFIGURATION.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let all: Vec<_> = runs.iter().map(settings).collect();
    // Settings whose values differ between runs name the groups.
    let differing: Vec<&String> = all
        .first()
        .map(|first| {
            first
                .keys()
                .filter(|k| all.iter().any(|s| s.get(*k) != first.get(*k)))
                .collect()
        })
        .unwrap_or_default();
    let mut groups: Vec<Group> = Vec::new();
    for (run, s) in runs.into_iter().zip(&all) {
        let setting: Vec<String> = differing
            .iter()
            .map(|k| format!("{}={}", k.replace('_', "-"), show(&s[*k])))
            .collect();
        let setting = setting.join(" ");
        let label = match setting.is_empty() {
            true => run.activation_label(),
            false => format!("{} ({setting})", run.activation_label()),
        };
        match groups.iter_mut().find(|g| g.label == label) {
            Some(g) => g.runs.push(run),
            None => groups.push(Group {
                label,
                setting,
                act: run.args.disc_act,
                runs: vec![run],
            }),
        }
    }
    for g in &mut groups {
        g.runs.sort_by_key(|r| r.args.seed);
    }
    groups
}

fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Group {
    /// Statistics over the group's seeds.
    pub fn stats(&self) -> GroupStats {
        let ok: Vec<&Run> = self
            .runs
            .iter()
            .filter(|r| r.summary.status != Status::Diverged)
            .collect();
        let mut metrics = BTreeMap::new();
        for m in METRICS {
            let values: Vec<f64> = ok.iter().filter_map(|r| m.of(r)).collect();
            if let Some(s) = MeanStd::of(&values) {
                metrics.insert(m.key(), s);
            }
        }
        GroupStats {
            label: self.label.clone(),
            setting: self.setting.clone(),
            act: self.act,
            runs: self.runs.len(),
            diverged: self.runs.len() - ok.len(),
            metrics,
        }
    }

    /// Mean and spread of `column` across the group's seeds at each step any run logged it:
    /// (step, mean, mean − std, mean + std).
    pub fn band(&self, column: &str) -> Vec<(u64, f64, f64, f64)> {
        let mut by_step: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for run in &self.runs {
            for (step, v) in run.series(column) {
                by_step.entry(step).or_default().push(v);
            }
        }
        by_step
            .into_iter()
            .filter_map(|(step, v)| {
                let s = MeanStd::of(&v)?;
                Some((step, s.mean, s.mean - s.std, s.mean + s.std))
            })
            .collect()
    }
}
