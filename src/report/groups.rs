//! Runs grouped into configurations (same settings but the seed), and their per-seed statistics.

use std::collections::BTreeMap;

use crate::metric::{Cell, Column, Metric, Take};
use crate::model::Act;
use crate::run::Status;
use crate::settings::Key;

use super::runs::Run;
use super::stats::MeanStd;

/// A number in the report's table: a metric, how it is reduced, how it is shown.
#[derive(Debug, Clone, Copy)]
pub struct TableMetric {
    /// The metric.
    pub metric: Metric,
    /// Reduction, heading and decimals.
    pub cell: Cell,
}

/// The table's metrics, in `Metric::ALL` order; those no run has are left out when shown.
pub fn table() -> Vec<TableMetric> {
    Metric::ALL
        .into_iter()
        .flat_map(|metric| {
            metric
                .shown()
                .table
                .iter()
                .map(move |&cell| TableMetric { metric, cell })
        })
        .collect()
}

impl TableMetric {
    /// A key unique among the table's metrics: `eval_fd:last`.
    pub fn key(&self) -> String {
        self.metric.key(self.cell.take)
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
    /// The negative slope of D's activation: 0 for ReLU, α for LeakyReLU (the order of an α
    /// sweep).
    pub slope: f64,
    /// Runs in the group.
    pub runs: usize,
    /// Runs that diverged.
    pub diverged: usize,
    /// By `Column::key`, over the runs that did not diverge.
    pub metrics: BTreeMap<String, MeanStd>,
    /// By `Column::key`, each run's value with its seed (runs that did not diverge), for paired
    /// comparisons across groups.
    pub values: BTreeMap<String, Vec<(u64, f64)>>,
}

/// Mean and spread of each key's per-seed values.
pub fn spread(values: &BTreeMap<String, Vec<(u64, f64)>>) -> BTreeMap<String, MeanStd> {
    values
        .iter()
        .filter_map(|(k, v)| {
            let v: Vec<f64> = v.iter().map(|x| x.1).collect();
            Some((k.clone(), MeanStd::of(&v)?))
        })
        .collect()
}

/// Groups `runs` by their settings apart from the seed (and bookkeeping), in first-seen order.
pub fn group(runs: Vec<Run>) -> Vec<Group> {
    let settings = |r: &Run| -> BTreeMap<String, serde_json::Value> {
        // Settings that cannot be serialised (a non-UTF-8 path) compare as absent.
        let v = r.args.to_map();
        // Only the settings that define a configuration (not the seed, the arm, the machine).
        Key::ALL
            .iter()
            .filter(|k| k.role().defines_configuration())
            .filter_map(|k| Some((k.name().to_string(), v.get(k.name())?.clone())))
            .collect()
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
        // Every column's final and mean value per seed (per-layer columns too: a comparison
        // may be judged on one layer).
        let mut values: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
        for r in &ok {
            for (name, stat) in &r.summary.metrics {
                let Some(column) = Column::parse(name) else {
                    continue;
                };
                for (take, v) in [(Take::Mean, stat.mean), (Take::Last, stat.last)] {
                    values
                        .entry(column.key(take))
                        .or_default()
                        .push((r.args.seed, v));
                }
            }
        }
        let metrics = spread(&values);
        GroupStats {
            label: self.label.clone(),
            setting: self.setting.clone(),
            act: self.act,
            slope: match self.act {
                Act::Relu => 0.0,
                Act::Leaky => self.runs.first().map_or(0.0, |r| r.args.alpha),
            },
            runs: self.runs.len(),
            diverged: self.runs.len() - ok.len(),
            metrics,
            values,
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
