//! A logged step as a metrics.csv row (in `metric::layout` order), and the console's
//! end-of-run lines.

use std::path::Path;

use crate::metric::{Column, Metric, layer_name};
use crate::probe::dead::DeadTracker;
use crate::run::Summary;

use super::step::StepScalars;

/// The harm measures of a logged step beyond the step's own probes, as fractions.
#[derive(Debug, Clone, PartialEq)]
pub struct HarmValues {
    /// D's frozen weights: all parameters, per hidden layer.
    pub frozen: (f64, Vec<f64>),
    /// Units dead on the probe set: all layers, per layer.
    pub dead: (f64, Vec<f64>),
    /// Units dead on its fakes only: all layers, per layer.
    pub fake_only: (f64, Vec<f64>),
    /// Of the units dead at the previous logged step, the fraction alive now (NaN: none were).
    pub revived: f64,
}

/// One metrics.csv row for `columns`. `quality` holds the values of the quality columns
/// (NaN where this row measures none), `harm` the harm measures beyond the step's probes.
/// Only rows on the log schedule enter the dead-unit window.
pub fn row(
    columns: &[Column],
    s: &StepScalars,
    dead: &mut DeadTracker,
    ms: f64,
    on_schedule: bool,
    quality: &[(Metric, f64)],
    harm: Option<&HarmValues>,
) -> Vec<f64> {
    // Persistently dead units per layer, and unit-weighted over all layers.
    let persistent = s.sparsity.as_ref().map(|p| {
        let masks = p.layers.iter().map(|l| l.dead_mask.clone()).collect();
        let per_layer = match on_schedule {
            true => dead.push(masks),
            false => dead.peek(masks),
        };
        let units: Vec<usize> = p.layers.iter().map(|l| l.dead_mask.len()).collect();
        let total: usize = units.iter().sum();
        let dead_units: f64 = per_layer
            .iter()
            .zip(&units)
            .map(|(f, &u)| f * u as f64)
            .sum();
        (per_layer, dead_units / total.max(1) as f64)
    });
    columns
        .iter()
        .map(|c| {
            let probe = s.sparsity.as_ref();
            let layer = |f: fn(&crate::probe::LayerSparsity) -> f64| {
                c.layer
                    .and_then(|l| probe.and_then(|p| p.layers.get(l)))
                    .map_or(f64::NAN, f)
            };
            match (c.metric, c.layer) {
                (Metric::LossD, _) => s.loss_d,
                (Metric::LossG, _) => s.loss_g,
                (Metric::DReal, _) => s.d_real,
                (Metric::DFake, _) => s.d_fake,
                (Metric::StepMs, _) => ms,
                (Metric::DGradZero, None) => probe.map_or(f64::NAN, |p| p.d_grad_zero),
                (Metric::DGradZero, Some(_)) => layer(|l| l.grad_zero),
                (Metric::DPreactNonpos, _) => layer(|l| l.preact_nonpos),
                (Metric::DDeadUnits, _) => layer(|l| l.dead_units),
                (Metric::DDeadUnitsPersistent, None) => {
                    persistent.as_ref().map_or(f64::NAN, |p| p.1)
                }
                (Metric::DDeadUnitsPersistent, Some(l)) => persistent
                    .as_ref()
                    .and_then(|p| p.0.get(l).copied())
                    .unwrap_or(f64::NAN),
                (Metric::DParamGradZero, _) => probe.map_or(f64::NAN, |p| p.d_param_grad_zero),
                (Metric::GSignalZero, _) => probe.map_or(f64::NAN, |p| p.g_signal_zero),
                (Metric::GSignalNorm, _) => probe.map_or(f64::NAN, |p| p.g_signal_norm),
                (Metric::GStarved, _) => probe.map_or(f64::NAN, |p| p.g_starved),
                (Metric::GSignalNormP10, _) => probe.map_or(f64::NAN, |p| p.g_signal_norm_p10),
                (Metric::DDeadProbe, l) => split(harm.map(|v| &v.dead), l),
                (Metric::DDeadFakeOnly, l) => split(harm.map(|v| &v.fake_only), l),
                (Metric::DRevived, _) => harm.map_or(f64::NAN, |v| v.revived),
                (Metric::DParamFrozen, l) => split(harm.map(|v| &v.frozen), l),
                (m, _) => quality
                    .iter()
                    .find(|(q, _)| *q == m)
                    .map_or(f64::NAN, |(_, v)| *v),
            }
        })
        .collect()
}

/// The all-layers value (`layer` None) or one layer's of a (total, per-layer) pair.
fn split(v: Option<&(f64, Vec<f64>)>, layer: Option<usize>) -> f64 {
    match (v, layer) {
        (Some((total, _)), None) => *total,
        (Some((_, per)), Some(l)) => per.get(l).copied().unwrap_or(f64::NAN),
        (None, _) => f64::NAN,
    }
}

/// The end-of-run lines on the console.
pub fn print_summary(summary: &Summary, layers: usize, final_png: &Path) {
    let m = &summary.metrics;
    eprintln!(
        "done: {} steps in {:.1} s ({:.0} ms/step); samples: {}",
        summary.steps,
        summary.wall_seconds,
        summary.ms_per_step,
        final_png.display()
    );
    let fmt = |metric: Metric| {
        let name = metric.name();
        m.get(name)
            .map(|s| format!("{name} {:.3} (mean {:.3})", s.last, s.mean))
    };
    let mut parts: Vec<String> = [
        Metric::LossD,
        Metric::LossG,
        Metric::DGradZero,
        Metric::GSignalZero,
        Metric::GSignalNorm,
    ]
    .into_iter()
    .filter_map(fmt)
    .collect();
    let quality: Vec<String> = Metric::QUALITY_LABELLED
        .iter()
        .chain(&Metric::QUALITY_UNLABELLED)
        .filter_map(|q| m.get(q.name()).map(|s| (q, s)))
        .map(|(q, s)| format!("{} {:.3}", &q.name()[5..], s.last))
        .collect();
    if !quality.is_empty() {
        eprintln!("final quality: {}", quality.join(", "));
    }
    for l in 0..layers {
        let col = |metric| {
            Column {
                metric,
                layer: Some(l),
            }
            .name()
        };
        if let (Some(z), Some(d)) = (
            m.get(&col(Metric::DGradZero)),
            m.get(&col(Metric::DDeadUnits)),
        ) {
            parts.push(format!(
                "{}: grad zero {:.3}, dead units {:.3}",
                layer_name(l),
                z.last,
                d.last
            ));
        }
    }
    eprintln!("final (mean over logged steps): {}", parts.join("; "));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{Probes, layout};
    use crate::probe::{LayerSparsity, Sparsity};

    fn scalars(probed: bool) -> StepScalars {
        let layer = |g: f64, dead: Vec<bool>| LayerSparsity {
            grad_zero: g,
            preact_nonpos: g + 0.1,
            dead_units: dead.iter().filter(|&&d| d).count() as f64 / dead.len() as f64,
            dead_mask: dead,
        };
        StepScalars {
            loss_d: 1.0,
            loss_g: 2.0,
            d_real: 0.6,
            d_fake: 0.4,
            sparsity: probed.then(|| Sparsity {
                layers: vec![
                    layer(0.5, vec![true, false]),
                    layer(0.25, vec![true, true, false, false]),
                ],
                d_grad_zero: 0.3,
                d_param_grad_zero: 0.05,
                g_signal_zero: 0.0,
                g_signal_norm: 0.7,
                g_starved: 0.125,
                g_signal_norm_p10: 0.02,
                param_zero_mask: vec![false; 4],
                param_layers: vec![(Some(0), 2), (Some(1), 2)],
            }),
        }
    }

    #[test]
    fn a_row_has_each_value_under_its_column() {
        let columns = layout(2, Probes::All, &[Metric::EvalMmdPixel]);
        let mut dead = DeadTracker::new(10);
        let row = row(
            &columns,
            &scalars(true),
            &mut dead,
            12.0,
            true,
            &[(Metric::EvalMmdPixel, 0.01)],
            Some(&HarmValues {
                frozen: (0.05, vec![0.0, 0.1]),
                dead: (0.25, vec![0.5, 0.125]),
                fake_only: (0.1, vec![0.0, 0.2]),
                revived: 0.75,
            }),
        );
        let got = |name: &str| row[columns.iter().position(|c| c.name() == name).unwrap()];
        assert_eq!(row.len(), columns.len());
        assert_eq!(
            (got("loss_d"), got("loss_g"), got("d_real"), got("d_fake")),
            (1.0, 2.0, 0.6, 0.4)
        );
        assert_eq!((got("d_grad_zero"), got("d_grad_zero_h2")), (0.3, 0.25));
        assert_eq!(got("d_preact_nonpos_h1"), 0.6);
        assert_eq!((got("d_dead_units_h1"), got("d_dead_units_h2")), (0.5, 0.5));
        // One step seen: persistent = dead now; 1 + 2 of 6 units overall.
        assert_eq!(got("d_dead_units_persistent_h2"), 0.5);
        assert_eq!(got("d_dead_units_persistent"), 0.5);
        assert_eq!(got("d_param_grad_zero"), 0.05);
        assert_eq!((got("g_signal_zero"), got("g_signal_norm")), (0.0, 0.7));
        assert_eq!((got("step_ms"), got("eval_mmd_pixel")), (12.0, 0.01));
        assert_eq!((got("g_starved"), got("g_signal_norm_p10")), (0.125, 0.02));
        assert_eq!((got("d_dead_probe"), got("d_dead_probe_h2")), (0.25, 0.125));
        assert_eq!(
            (got("d_dead_fake_only"), got("d_dead_fake_only_h2")),
            (0.1, 0.2)
        );
        assert_eq!(got("d_revived"), 0.75);
        assert_eq!(
            (got("d_param_frozen"), got("d_param_frozen_h2")),
            (0.05, 0.1)
        );
    }

    #[test]
    fn rows_off_the_schedule_do_not_enter_the_dead_window() {
        let columns = layout(2, Probes::Sparsity, &[]);
        let mut dead = DeadTracker::new(10);
        row(&columns, &scalars(true), &mut dead, 1.0, false, &[], None);
        assert!(dead.history().is_empty());
        row(&columns, &scalars(true), &mut dead, 1.0, true, &[], None);
        assert_eq!(dead.history().len(), 1);
        let plain = layout(2, Probes::Off, &[]);
        assert_eq!(
            super::row(&plain, &scalars(false), &mut dead, 3.0, true, &[], None),
            [1.0, 2.0, 0.6, 0.4, 3.0]
        );
    }
}
