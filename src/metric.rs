//! The metrics a run logs, defined once: their `metrics.csv` column names and order, and how
//! the report plots and tabulates them. The CSV header, the row writer, the report's curves
//! and table, and the verdict all derive from `Metric` and `LAYOUT`.
//!
//! Column names are a public interface (README, "metrics.csv"): change them only with it.

use std::fmt;

/// A quantity in `metrics.csv` (for per-layer metrics, the family of `<name>_h<l>` columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Discriminator loss (real + fake BCE).
    LossD,
    /// Generator loss (non-saturating BCE).
    LossG,
    /// Mean D(x) on the real batch.
    DReal,
    /// Mean D(G(z)) on the fake batch.
    DFake,
    /// Fraction of exactly-zero entries of dL_D/dz (all layers, and per layer).
    DGradZero,
    /// Fraction of pre-activations ≤ 0, per layer.
    DPreactNonpos,
    /// Fraction of units dead on both batches of the step, per layer.
    DDeadUnits,
    /// Fraction of units dead in each of the last --dead-window logged steps.
    DDeadUnitsPersistent,
    /// Fraction of exactly-zero entries of D's parameter gradients.
    DParamGradZero,
    /// Fraction of exactly-zero entries of dL_G/dx.
    GSignalZero,
    /// Mean per-sample L2 norm of dL_G/dx.
    GSignalNorm,
    /// Fraction of fake samples whose whole gradient dL_G/dx has norm ≤ `STARVED_NORM`.
    GStarved,
    /// 10th percentile over the batch of the per-sample L2 norm of dL_G/dx.
    GSignalNormP10,
    /// Fraction of units dead on the fixed probe set (all layers, and per layer).
    DDeadProbe,
    /// Fraction of units dead on the probe set's fakes but alive on some real image.
    DDeadFakeOnly,
    /// Of the units dead on the probe set at the previous logged step, the fraction alive now.
    DRevived,
    /// Fraction of D's parameters whose gradient was exactly 0 in each of the last
    /// --dead-window logged steps (all parameters, and per hidden layer).
    DParamFrozen,
    /// 1 when D has collapsed at a logged step, else 0: most fakes starved, or a hidden layer
    /// dead on every probe image (D's output is then the same for every input). Derived from
    /// the columns above (see `collapsed`); in summary.json, not a metrics.csv column.
    DCollapsed,
    /// Wall milliseconds per step since the previous logged row.
    StepMs,
    /// Fréchet distance in the evaluator's features.
    EvalFd,
    /// k-NN precision.
    EvalPrecision,
    /// k-NN recall.
    EvalRecall,
    /// Share of classes produced.
    EvalClassCoverage,
    /// KL divergence of the class histogram from uniform.
    EvalClassKl,
    /// Pixel-space MMD² (unlabelled data).
    EvalMmdPixel,
}

/// Which value of a metric a run contributes to the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Mean over the run's logged steps.
    Mean,
    /// Value at the last step it was measured.
    Last,
}

/// A row of the report's table.
#[derive(Debug, Clone, Copy)]
pub struct Cell {
    /// Mean over the run or final value.
    pub take: Take,
    /// Table heading.
    pub heading: &'static str,
    /// Decimals shown.
    pub digits: usize,
}

/// How the report shows a metric.
#[derive(Debug, Clone, Copy)]
pub struct Shown {
    /// Curve title over steps (None: not plotted), and its y axis.
    pub curve: Option<(&'static str, &'static str)>,
    /// Title of each layer's curve, before the layer name (None: per-layer not plotted).
    pub layer_curve: Option<&'static str>,
    /// Rows of the report's table.
    pub table: &'static [Cell],
}

const NOT_SHOWN: Shown = Shown {
    curve: None,
    layer_curve: None,
    table: &[],
};

impl Metric {
    /// Every metric, in the order the report shows them.
    pub const ALL: [Metric; 25] = [
        Metric::DGradZero,
        Metric::DDeadProbe,
        Metric::DDeadFakeOnly,
        Metric::DRevived,
        Metric::DParamFrozen,
        Metric::DCollapsed,
        Metric::GStarved,
        Metric::GSignalNormP10,
        Metric::DDeadUnitsPersistent,
        Metric::GSignalNorm,
        Metric::LossD,
        Metric::LossG,
        Metric::EvalFd,
        Metric::EvalPrecision,
        Metric::EvalRecall,
        Metric::EvalClassCoverage,
        Metric::EvalClassKl,
        Metric::EvalMmdPixel,
        Metric::StepMs,
        Metric::DReal,
        Metric::DFake,
        Metric::DPreactNonpos,
        Metric::DDeadUnits,
        Metric::DParamGradZero,
        Metric::GSignalZero,
    ];

    /// The quality metrics of labelled data (an evaluator's features), in column order.
    pub const QUALITY_LABELLED: [Metric; 5] = [
        Metric::EvalFd,
        Metric::EvalPrecision,
        Metric::EvalRecall,
        Metric::EvalClassCoverage,
        Metric::EvalClassKl,
    ];

    /// The quality metric of unlabelled data.
    pub const QUALITY_UNLABELLED: [Metric; 1] = [Metric::EvalMmdPixel];

    /// The column name (the prefix of per-layer columns).
    pub fn name(self) -> &'static str {
        match self {
            Metric::LossD => "loss_d",
            Metric::LossG => "loss_g",
            Metric::DReal => "d_real",
            Metric::DFake => "d_fake",
            Metric::DGradZero => "d_grad_zero",
            Metric::DPreactNonpos => "d_preact_nonpos",
            Metric::DDeadUnits => "d_dead_units",
            Metric::DDeadUnitsPersistent => "d_dead_units_persistent",
            Metric::DParamGradZero => "d_param_grad_zero",
            Metric::GSignalZero => "g_signal_zero",
            Metric::GSignalNorm => "g_signal_norm",
            Metric::GStarved => "g_starved",
            Metric::GSignalNormP10 => "g_signal_norm_p10",
            Metric::DDeadProbe => "d_dead_probe",
            Metric::DDeadFakeOnly => "d_dead_fake_only",
            Metric::DRevived => "d_revived",
            Metric::DParamFrozen => "d_param_frozen",
            Metric::DCollapsed => "d_collapsed",
            Metric::StepMs => "step_ms",
            Metric::EvalFd => "eval_fd",
            Metric::EvalPrecision => "eval_precision",
            Metric::EvalRecall => "eval_recall",
            Metric::EvalClassCoverage => "eval_class_coverage",
            Metric::EvalClassKl => "eval_class_kl",
            Metric::EvalMmdPixel => "eval_mmd_pixel",
        }
    }

    /// How the report shows it.
    pub fn shown(self) -> Shown {
        use Take::{Last, Mean};
        match self {
            Metric::DGradZero => Shown {
                curve: Some((
                    "Discriminator gradient zeros (all layers)",
                    "fraction exactly 0",
                )),
                layer_curve: Some("Gradient zeros, layer"),
                table: &[
                    Cell {
                        take: Mean,
                        heading: "D grad zeros (mean)",
                        digits: 3,
                    },
                    Cell {
                        take: Last,
                        heading: "D grad zeros (final)",
                        digits: 3,
                    },
                ],
            },
            Metric::DDeadUnitsPersistent => Shown {
                curve: Some(("Persistently dead units (all layers)", "fraction of units")),
                layer_curve: Some("Persistently dead units, layer"),
                table: &[Cell {
                    take: Last,
                    heading: "dead units (final)",
                    digits: 3,
                }],
            },
            Metric::GSignalNorm => Shown {
                curve: Some(("Generator's learning signal ‖dL_G/dx‖", "mean L2 norm")),
                layer_curve: None,
                table: &[Cell {
                    take: Mean,
                    heading: "G signal norm (mean)",
                    digits: 4,
                }],
            },
            Metric::LossD => Shown {
                curve: Some(("Discriminator loss", "BCE")),
                layer_curve: None,
                table: &[Cell {
                    take: Last,
                    heading: "loss D (final)",
                    digits: 3,
                }],
            },
            Metric::LossG => Shown {
                curve: Some(("Generator loss", "BCE")),
                layer_curve: None,
                table: &[Cell {
                    take: Last,
                    heading: "loss G (final)",
                    digits: 3,
                }],
            },
            Metric::EvalFd => Shown {
                curve: Some((
                    "Fréchet distance (evaluator features)",
                    "FD (lower is better)",
                )),
                layer_curve: None,
                table: &[Cell {
                    take: Last,
                    heading: "FD (final)",
                    digits: 2,
                }],
            },
            Metric::EvalPrecision => Shown {
                curve: Some(("Precision (k-NN manifold)", "share of samples")),
                layer_curve: None,
                table: &[Cell {
                    take: Last,
                    heading: "precision",
                    digits: 3,
                }],
            },
            Metric::EvalRecall => Shown {
                curve: Some(("Recall (k-NN manifold)", "share of real images")),
                layer_curve: None,
                table: &[Cell {
                    take: Last,
                    heading: "recall",
                    digits: 3,
                }],
            },
            Metric::EvalClassCoverage => Shown {
                curve: Some(("Class coverage", "share of classes")),
                layer_curve: None,
                table: &[Cell {
                    take: Last,
                    heading: "class coverage",
                    digits: 2,
                }],
            },
            Metric::EvalClassKl => Shown {
                curve: None,
                layer_curve: None,
                table: &[Cell {
                    take: Last,
                    heading: "class KL",
                    digits: 3,
                }],
            },
            Metric::EvalMmdPixel => Shown {
                curve: Some(("Pixel-space MMD²", "MMD² (lower is better)")),
                layer_curve: None,
                table: &[Cell {
                    take: Last,
                    heading: "pixel MMD²",
                    digits: 4,
                }],
            },
            Metric::DDeadProbe => Shown {
                curve: Some((
                    "Dead units on the fixed probe set (all layers)",
                    "fraction of units",
                )),
                layer_curve: Some("Dead units on the probe set, layer"),
                table: &[Cell {
                    take: Last,
                    heading: "dead on probe set (final)",
                    digits: 3,
                }],
            },
            Metric::DDeadFakeOnly => Shown {
                curve: Some(("Units dead on G's images only", "fraction of units")),
                layer_curve: None,
                table: &[Cell {
                    take: Last,
                    heading: "dead on fakes only (final)",
                    digits: 3,
                }],
            },
            Metric::DRevived => Shown {
                curve: None,
                layer_curve: None,
                table: &[Cell {
                    take: Mean,
                    heading: "revived (mean)",
                    digits: 3,
                }],
            },
            Metric::DParamFrozen => Shown {
                curve: Some((
                    "Frozen weights of D (zero gradient all window)",
                    "fraction of parameters",
                )),
                layer_curve: Some("Frozen weights, layer"),
                table: &[Cell {
                    take: Last,
                    heading: "frozen weights (final)",
                    digits: 3,
                }],
            },
            Metric::DCollapsed => Shown {
                curve: None,
                layer_curve: None,
                table: &[Cell {
                    take: Last,
                    heading: "collapsed (final)",
                    digits: 2,
                }],
            },
            Metric::GStarved => Shown {
                curve: Some(("Starved fakes (‖dL_G/dx‖ ≈ 0)", "fraction of samples")),
                layer_curve: None,
                table: &[Cell {
                    take: Mean,
                    heading: "starved fakes (mean)",
                    digits: 3,
                }],
            },
            Metric::GSignalNormP10 => Shown {
                curve: None,
                layer_curve: None,
                table: &[Cell {
                    take: Mean,
                    heading: "G signal norm p10 (mean)",
                    digits: 4,
                }],
            },
            Metric::StepMs => Shown {
                curve: None,
                layer_curve: None,
                table: &[Cell {
                    take: Mean,
                    heading: "ms/step",
                    digits: 0,
                }],
            },
            Metric::DReal
            | Metric::DFake
            | Metric::DPreactNonpos
            | Metric::DDeadUnits
            | Metric::DParamGradZero
            | Metric::GSignalZero => NOT_SHOWN,
        }
    }

    /// Whether a run's value is 0 or 1 (an event happened or not): compared between arms as a
    /// rate, by Fisher's exact test.
    pub fn yes_no(self) -> bool {
        matches!(self, Metric::DCollapsed)
    }

    /// Which way is better, where there is one: Some(true) when lower is better.
    pub fn lower_is_better(self) -> Option<bool> {
        match self {
            Metric::EvalFd
            | Metric::EvalMmdPixel
            | Metric::EvalClassKl
            | Metric::DDeadUnits
            | Metric::DDeadUnitsPersistent
            | Metric::DDeadProbe
            | Metric::DDeadFakeOnly
            | Metric::DParamFrozen
            | Metric::DCollapsed
            | Metric::GStarved
            | Metric::StepMs => Some(true),
            Metric::EvalPrecision | Metric::EvalRecall | Metric::EvalClassCoverage => Some(false),
            _ => None,
        }
    }

    /// It differs between ReLU and LeakyReLU by definition (ReLU's derivative is exactly 0 for
    /// z ≤ 0, LeakyReLU's never is): a mechanism to show, not evidence of harm.
    pub fn differs_by_definition(self) -> bool {
        matches!(
            self,
            Metric::DGradZero | Metric::DParamGradZero | Metric::GSignalZero
        )
    }

    /// The key of one of its values in the report's statistics: `eval_fd:last`.
    pub fn key(self, take: Take) -> String {
        Column::total(self).key(take)
    }
}

/// One `metrics.csv` column: a metric, for all layers or for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Column {
    /// The metric.
    pub metric: Metric,
    /// The hidden layer (0-based) of a per-layer column.
    pub layer: Option<usize>,
}

impl Column {
    /// The all-layers (or only) column of `metric`.
    pub const fn total(metric: Metric) -> Column {
        Column {
            metric,
            layer: None,
        }
    }

    /// The column name: `d_grad_zero`, `d_grad_zero_h2`.
    pub fn name(&self) -> String {
        match self.layer {
            None => self.metric.name().to_string(),
            Some(l) => format!("{}_{}", self.metric.name(), layer_name(l)),
        }
    }

    /// The column and reduction a statistics key names: `eval_fd:last`, `d_dead_probe_h1:mean`,
    /// or a bare column name for its last value.
    pub fn parse_key(key: &str) -> Option<(Column, Take)> {
        let (name, take) = match key.rsplit_once(':') {
            Some((n, "last")) => (n, Take::Last),
            Some((n, "mean")) => (n, Take::Mean),
            Some(_) => return None,
            None => (key, Take::Last),
        };
        Some((Column::parse(name)?, take))
    }

    /// The key of one of its values in the report's statistics: `d_dead_probe_h1:last` (for
    /// the all-layers column, the metric's own key).
    pub fn key(&self, take: Take) -> String {
        match take {
            Take::Mean => format!("{}:mean", self.name()),
            Take::Last => format!("{}:last", self.name()),
        }
    }

    /// The column called `name`, if it is one of ours.
    pub fn parse(name: &str) -> Option<Column> {
        let per_layer = name.rsplit_once("_h").and_then(|(m, l)| {
            let l: usize = l.parse().ok()?;
            let metric = Metric::ALL.into_iter().find(|x| x.name() == m)?;
            (l >= 1 && metric.per_layer()).then_some(Column {
                metric,
                layer: Some(l - 1),
            })
        });
        per_layer.or_else(|| {
            Metric::ALL
                .into_iter()
                .find(|x| x.name() == name)
                .map(Column::total)
        })
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Metric {
    /// Whether `metrics.csv` has one column of it per hidden layer (`<name>_h1`, ...).
    pub fn per_layer(self) -> bool {
        PROBE_LAYOUT
            .iter()
            .chain(HARM_LAYOUT)
            .any(|slot| matches!(slot, Slot::Layers(ms) if ms.contains(&self)))
    }
}

/// The name of hidden layer `l` (0-based) in column names and the report: `h1`, `h2`, ...
pub fn layer_name(l: usize) -> String {
    format!("h{}", l + 1)
}

/// A place in the `metrics.csv` layout.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// The all-layers (or only) column of a metric.
    Total(Metric),
    /// One column per hidden layer of each of these metrics, metric by metric.
    Layers(&'static [Metric]),
}

/// The columns of a probed step, in `metrics.csv` order.
const PROBE_LAYOUT: &[Slot] = &[
    Slot::Total(Metric::DGradZero),
    Slot::Layers(&[
        Metric::DGradZero,
        Metric::DPreactNonpos,
        Metric::DDeadUnits,
        Metric::DDeadUnitsPersistent,
    ]),
    Slot::Total(Metric::DDeadUnitsPersistent),
    Slot::Total(Metric::DParamGradZero),
    Slot::Total(Metric::GSignalZero),
    Slot::Total(Metric::GSignalNorm),
];

/// The columns of the harm measures (added after the first layout: runs written before them
/// keep their columns when resumed).
const HARM_LAYOUT: &[Slot] = &[
    Slot::Total(Metric::GStarved),
    Slot::Total(Metric::GSignalNormP10),
    Slot::Total(Metric::DDeadProbe),
    Slot::Layers(&[Metric::DDeadProbe, Metric::DDeadFakeOnly]),
    Slot::Total(Metric::DDeadFakeOnly),
    Slot::Total(Metric::DRevived),
    Slot::Total(Metric::DParamFrozen),
    Slot::Layers(&[Metric::DParamFrozen]),
];

/// The norm at or below which a fake sample's gradient dL_G/dx counts as starved (G learns
/// nothing from it): gradients of a working D are orders of magnitude larger.
pub const STARVED_NORM: f64 = 1e-8;

/// Which probe columns a run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probes {
    /// None (--no-probes).
    Off,
    /// The sparsity probes only (runs written before the harm measures).
    Sparsity,
    /// The sparsity probes and the harm measures.
    All,
}

/// The `metrics.csv` columns after `step`, in order: the training scalars, the probes (with
/// `layers` hidden layers), `step_ms`, then the `quality` metrics.
pub fn layout(layers: usize, probes: Probes, quality: &[Metric]) -> Vec<Column> {
    let mut c: Vec<Column> = [Metric::LossD, Metric::LossG, Metric::DReal, Metric::DFake]
        .map(Column::total)
        .to_vec();
    let slots: Vec<&Slot> = match probes {
        Probes::Off => Vec::new(),
        Probes::Sparsity => PROBE_LAYOUT.iter().collect(),
        Probes::All => PROBE_LAYOUT.iter().chain(HARM_LAYOUT).collect(),
    };
    for slot in slots {
        match *slot {
            Slot::Total(m) => c.push(Column::total(m)),
            Slot::Layers(ms) => {
                for &metric in ms {
                    c.extend((0..layers).map(|l| Column {
                        metric,
                        layer: Some(l),
                    }));
                }
            }
        }
    }
    c.push(Column::total(Metric::StepMs));
    c.extend(quality.iter().map(|&m| Column::total(m)));
    c
}

/// Share of starved fakes above which D counts as collapsed: G learns from fewer than half of
/// its samples.
pub const COLLAPSED_STARVED: f64 = 0.5;

/// Whether one metrics.csv row (`value` reads a column by name) shows a collapsed D: more than
/// half the fakes starved, or some hidden layer dead on every probe image (`d_dead_probe_hN`
/// = 1). None when the row lacks the harm columns.
pub fn collapsed(value: impl Fn(&str) -> Option<f64>, layers: usize) -> Option<bool> {
    let starved = value(Metric::GStarved.name()).filter(|v| !v.is_nan())?;
    let layer_dead = (0..layers).any(|l| {
        let name = Column {
            metric: Metric::DDeadProbe,
            layer: Some(l),
        }
        .name();
        value(&name) == Some(1.0)
    });
    Some(starved > COLLAPSED_STARVED || layer_dead)
}

/// The names of `columns`.
pub fn names(columns: &[Column]) -> Vec<String> {
    columns.iter().map(Column::name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_the_public_column_order() {
        let names = names(&layout(2, Probes::Sparsity, &Metric::QUALITY_UNLABELLED));
        assert_eq!(
            names,
            [
                "loss_d",
                "loss_g",
                "d_real",
                "d_fake",
                "d_grad_zero",
                "d_grad_zero_h1",
                "d_grad_zero_h2",
                "d_preact_nonpos_h1",
                "d_preact_nonpos_h2",
                "d_dead_units_h1",
                "d_dead_units_h2",
                "d_dead_units_persistent_h1",
                "d_dead_units_persistent_h2",
                "d_dead_units_persistent",
                "d_param_grad_zero",
                "g_signal_zero",
                "g_signal_norm",
                "step_ms",
                "eval_mmd_pixel"
            ]
        );
        let plain = self::names(&layout(3, Probes::Off, &[]));
        assert_eq!(plain, ["loss_d", "loss_g", "d_real", "d_fake", "step_ms"]);
        let all = self::names(&layout(2, Probes::All, &[]));
        assert_eq!(
            all[17..],
            [
                "g_starved",
                "g_signal_norm_p10",
                "d_dead_probe",
                "d_dead_probe_h1",
                "d_dead_probe_h2",
                "d_dead_fake_only_h1",
                "d_dead_fake_only_h2",
                "d_dead_fake_only",
                "d_revived",
                "d_param_frozen",
                "d_param_frozen_h1",
                "d_param_frozen_h2",
                "step_ms"
            ]
        );
    }

    #[test]
    fn column_names_parse_back() {
        for c in layout(11, Probes::All, &Metric::QUALITY_LABELLED) {
            assert_eq!(Column::parse(&c.name()), Some(c), "{c}");
        }
        assert_eq!(Column::parse("step"), None);
        assert_eq!(Column::parse("d_grad_zero_h0"), None);
        assert_eq!(Column::parse("nonsense_h2"), None);
    }

    #[test]
    fn keys_parse_back() {
        let total = |m| Some((Column::total(m), Take::Last));
        assert_eq!(Column::parse_key("eval_fd:last"), total(Metric::EvalFd));
        assert_eq!(
            Column::parse_key("step_ms:mean"),
            Some((Column::total(Metric::StepMs), Take::Mean))
        );
        assert_eq!(
            Column::parse_key("d_dead_units_persistent"),
            total(Metric::DDeadUnitsPersistent)
        );
        let h1 = Column {
            metric: Metric::DDeadProbe,
            layer: Some(0),
        };
        assert_eq!(
            Column::parse_key("d_dead_probe_h1:last"),
            Some((h1, Take::Last))
        );
        assert_eq!(h1.key(Take::Mean), "d_dead_probe_h1:mean");
        assert_eq!(
            Column::total(Metric::EvalFd).key(Take::Last),
            Metric::EvalFd.key(Take::Last)
        );
        // Only metrics measured per layer have layer columns.
        assert!(Metric::DDeadProbe.per_layer() && !Metric::EvalFd.per_layer());
        assert_eq!(Column::parse_key("eval_fd:max"), None);
        assert_eq!(Column::parse_key("nonsense"), None);
        assert_eq!(Column::parse_key("d_dead_probe_h0"), None);
        assert_eq!(Column::parse_key("eval_fd_h1"), None);
    }

    #[test]
    fn every_metric_is_listed_once_and_named_uniquely() {
        let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
    }
}
