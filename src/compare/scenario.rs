//! Scenario presets: training settings under which ReLU and LeakyReLU may behave differently.

use serde::{Deserialize, Serialize};

use crate::data::DatasetKind;
use crate::metric::{Column, Metric, Take};
use crate::model::Arch;
use crate::settings::{Given, Key, TrainSettings};

/// A preset of training settings that shows the activations in a particular regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// DCGAN as published (batch norm in D, lr 2e-4): the common case.
    Baseline,
    /// DCGAN without batch norm in D.
    NoBatchNorm,
    /// DCGAN without batch norm in D, judged on its first layer, which sees the raw pixels
    /// (mostly the constant −1 background).
    Uncentred,
    /// DCGAN at lr 1e-3 (5× the default).
    HighLr,
    /// A 2 × 2 design: D's learning rate 2e-4 and 2e-3 (G's 2e-4) × relu/leaky.
    HighLrD,
    /// An MLP discriminator six hidden layers deep.
    DeepMlp,
    /// An MLP discriminator six hidden layers of 32 units deep at lr 1e-3, 10 seeds.
    DeepNarrow,
    /// deep-mlp's settings at α ∈ {0 (ReLU), 0.01, 0.05, 0.1, 0.2, 0.3}.
    AlphaSweep,
}

impl Scenario {
    /// Every scenario, in the order `--help` lists them.
    pub const ALL: [Scenario; 8] = [
        Scenario::Baseline,
        Scenario::NoBatchNorm,
        Scenario::Uncentred,
        Scenario::HighLr,
        Scenario::HighLrD,
        Scenario::DeepMlp,
        Scenario::DeepNarrow,
        Scenario::AlphaSweep,
    ];

    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::NoBatchNorm => "no-batch-norm",
            Scenario::Uncentred => "uncentred",
            Scenario::HighLr => "high-lr",
            Scenario::HighLrD => "high-lr-d",
            Scenario::DeepMlp => "deep-mlp",
            Scenario::DeepNarrow => "deep-narrow",
            Scenario::AlphaSweep => "alpha-sweep",
        }
    }

    /// The metric the scenario's verdict is judged on, named before it runs.
    pub fn primary(self) -> (Column, Take) {
        let total = |m| (Column::total(m), Take::Last);
        match self {
            Scenario::Baseline | Scenario::NoBatchNorm | Scenario::HighLr | Scenario::DeepMlp => {
                total(Metric::EvalFd)
            }
            // The mechanism itself: do ReLU units die more at the high rate than LeakyReLU's?
            Scenario::HighLrD => total(Metric::DDeadProbe),
            // Where deep-mlp showed ReLU units dying: does the dead share fall as α grows?
            Scenario::AlphaSweep => total(Metric::DDeadProbe),
            // Whether the run survives: the share of runs whose D collapsed.
            Scenario::DeepNarrow => total(Metric::DCollapsed),
            // The layer that sees the uncentred input: its units dead on every probe image.
            Scenario::Uncentred => (
                Column {
                    metric: Metric::DDeadProbe,
                    layer: Some(0),
                },
                Take::Last,
            ),
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            Scenario::Baseline => "DCGAN as published (batch norm in D, lr 2e-4): the common case",
            Scenario::NoBatchNorm => {
                "DCGAN without batch norm in D: nothing re-centres the pre-activations, so ReLU units can die and stay dead"
            }
            Scenario::Uncentred => {
                "DCGAN without batch norm in D, judged on D's first layer, which sees the raw pixels (mostly the constant -1 background); primary: its units dead on the probe set"
            }
            Scenario::HighLr => {
                "DCGAN at lr 1e-3 (5x the default): large updates push units into the dead zone"
            }
            Scenario::HighLrD => {
                "2 x 2: D's lr 2e-4 and 2e-3 (G's 2e-4) x relu/leaky; primary: the interaction on units dead on the probe set"
            }
            Scenario::DeepMlp => {
                "an MLP discriminator six hidden layers deep: zero gradients compound with depth"
            }
            Scenario::DeepNarrow => {
                "an MLP discriminator of six hidden layers of 32 units at lr 1e-3, 10 seeds; primary: the rate of collapsed runs (Fisher's exact test)"
            }
            Scenario::AlphaSweep => {
                "deep-mlp at alpha 0 (relu), 0.01, 0.05, 0.1, 0.2, 0.3; primary: the monotone trend of units dead on the probe set"
            }
        }
    }
}

/// Steps of a scenario's runs unless --steps is given: a default `gan compare` (2 configurations
/// × 3 seeds) stays within about 10 minutes on a 2-core CPU.
pub fn default_steps(s: Scenario) -> u64 {
    match s {
        Scenario::DeepMlp | Scenario::DeepNarrow | Scenario::AlphaSweep => 1500,
        _ => 200,
    }
}

/// Seeds per configuration unless --seeds is given: 3 keeps a default comparison within
/// minutes (its report says how many more it would need); the 2 × 2 design gets 6, the fewest
/// with which the exact sign-flip test can reach p < 0.05; deep-narrow, whose primary is a
/// yes/no per run, 10 (Fisher's test then detects 8 of 10 against 1 of 10 at p = 0.005).
pub fn default_seeds(s: Scenario) -> u32 {
    match s {
        Scenario::HighLrD => 6,
        Scenario::DeepNarrow => 10,
        _ => 3,
    }
}

/// Images per batch unless --batch-size is given.
pub fn default_batch(s: Scenario) -> u32 {
    match s {
        Scenario::DeepMlp | Scenario::DeepNarrow | Scenario::AlphaSweep => 64,
        _ => 32,
    }
}

/// What the scenario is meant to show, for the settings `t` it was applied to (README and
/// report): a preset overridden by explicit flags is described as run.
pub fn purpose(s: Scenario, t: &TrainSettings) -> String {
    let arch = match t.arch {
        Arch::Dcgan => "DCGAN",
        Arch::Mlp => "MLP pair",
    };
    let bn = match (t.arch, t.no_disc_batch_norm) {
        (Arch::Dcgan, false) => ", batch norm in D",
        (Arch::Dcgan, true) => ", no batch norm in D",
        (Arch::Mlp, _) => "",
    };
    let depth = match t.arch {
        Arch::Mlp => match t.disc_width {
            Some(w) => format!(", {} hidden layers of {w} units in D", t.disc_depth),
            None => format!(", {} hidden layers in D", t.disc_depth),
        },
        Arch::Dcgan => String::new(),
    };
    let setting = format!("{arch}{bn}{depth}, {}", t.rates());
    let question = match s {
        Scenario::Baseline => "does the activation matter in the common case?",
        Scenario::NoBatchNorm => {
            "nothing re-centres the pre-activations, so ReLU units can die and stay dead."
        }
        Scenario::Uncentred => {
            "D's first layer sees the raw pixels, mostly the constant −1 background, so its \
             units' inputs hardly vary: do its ReLU units die on the real and generated images \
             where its LeakyReLU units do not?"
        }
        Scenario::HighLr => "large updates can push ReLU units into the dead zone.",
        Scenario::HighLrD => {
            "does a 10x larger D step kill more ReLU units than LeakyReLU units (the interaction), \
             and does it cost quality?"
        }
        Scenario::DeepMlp => "zero gradients compound with depth.",
        Scenario::DeepNarrow => {
            "a narrow, deep D has few units per layer to lose: does ReLU's dying make whole runs \
             collapse (D constant, or G starved of gradient)?"
        }
        Scenario::AlphaSweep => {
            "how much slope does it take: does the share of dead units fall steadily as α grows?"
        }
    };
    format!("{setting}: {question}")
}

/// Applies the scenario to `t`, leaving every setting the user gave explicitly as given.
pub fn apply(s: Scenario, t: &mut TrainSettings, given: &Given) {
    let (steps, batch) = (given.has(Key::Steps), given.has(Key::BatchSize));
    let (arch, depth, bn, lr) = (
        given.has(Key::Arch),
        given.has(Key::DiscDepth),
        given.has(Key::NoDiscBatchNorm),
        given.has(Key::Lr),
    );
    if !steps {
        t.steps = default_steps(s);
    }
    if !batch {
        t.batch_size = default_batch(s);
    }
    // The scenarios were chosen and measured on the silhouettes at random positions (the
    // default data until the centred ones, #17's seventeenth round): they keep them, so the
    // findings stay reproducible by the same command.
    if !given.has(Key::Dataset) {
        t.dataset = DatasetKind::Silhouettes;
    }
    match s {
        Scenario::Baseline => {}
        Scenario::NoBatchNorm | Scenario::Uncentred => {
            if !bn && t.arch == Arch::Dcgan {
                t.no_disc_batch_norm = true;
            }
        }
        Scenario::HighLr => {
            if !lr {
                t.lr = 1e-3;
            }
        }
        // Its two D rates are its levels.
        Scenario::HighLrD => {}
        Scenario::DeepMlp | Scenario::DeepNarrow | Scenario::AlphaSweep => {
            if !arch {
                t.arch = Arch::Mlp;
            }
            if !depth && t.arch == Arch::Mlp {
                t.disc_depth = 6;
            }
            if s == Scenario::DeepNarrow {
                if !given.has(Key::DiscWidth) && t.arch == Arch::Mlp {
                    t.disc_width = Some(32);
                }
                if !lr {
                    t.lr = 1e-3;
                }
            }
        }
    }
    // Quality a few times per run, on fewer images than gan eval's default to stay quick.
    if !given.has(Key::EvalEvery) {
        let quarter = (t.steps / 4).max(1);
        t.eval_every = quarter.div_ceil(t.log_every) * t.log_every;
    }
    if !given.has(Key::EvalSamples) {
        t.eval_samples = 1000;
    }
    // About ten frames in each progress.gif.
    if !given.has(Key::SampleEvery) {
        t.sample_every = (t.steps / 10).max(1);
    }
}

/// The LeakyReLU slopes a scenario compares when --alphas is not given (empty: --alpha's).
pub fn default_alphas(s: Scenario) -> Vec<f64> {
    match s {
        Scenario::AlphaSweep => vec![0.01, 0.05, 0.1, 0.2, 0.3],
        _ => Vec::new(),
    }
}

/// The levels of a scenario's second factor, beside the activation: each one's tag in run names
/// and its settings. One untagged level, unless the scenario is a 2 × 2 design whose factor the
/// user did not fix with a flag.
pub fn levels(s: Scenario, base: &TrainSettings, given: &Given) -> Vec<(String, TrainSettings)> {
    match s {
        Scenario::HighLrD if !given.has(Key::LrD) => [2e-4, 2e-3]
            .map(|lr| {
                let t = TrainSettings {
                    lr_d: Some(lr),
                    ..base.clone()
                };
                (format!("lrd{lr:e}"), t)
            })
            .to_vec(),
        _ => vec![(String::new(), base.clone())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_fill_in_only_what_was_not_given() {
        let none = Given::default();
        let mut t = TrainSettings::default();
        apply(Scenario::HighLr, &mut t, &none);
        assert_eq!((t.lr, t.steps, t.batch_size), (1e-3, 200, 32));
        assert_eq!(t.eval_every % t.log_every, 0);
        assert!(t.eval_every >= t.steps / 4);
        let mut t = TrainSettings {
            lr: 5e-4,
            steps: 40,
            ..TrainSettings::default()
        };
        apply(Scenario::HighLr, &mut t, &Given::of([Key::Lr, Key::Steps]));
        assert_eq!((t.lr, t.steps), (5e-4, 40));
        let mut t = TrainSettings::default();
        apply(Scenario::DeepMlp, &mut t, &none);
        assert_eq!((t.arch, t.disc_depth), (Arch::Mlp, 6));
        let mut t = TrainSettings::default();
        apply(Scenario::NoBatchNorm, &mut t, &none);
        assert!(t.no_disc_batch_norm);
        // The data the findings were measured on, not the default training's, unless given.
        assert_eq!(TrainSettings::default().dataset, DatasetKind::Centred);
        assert_eq!(t.dataset, DatasetKind::Silhouettes);
        let mut t = TrainSettings::default();
        apply(Scenario::Baseline, &mut t, &Given::of([Key::Dataset]));
        assert_eq!(t.dataset, DatasetKind::Centred);
    }

    #[test]
    fn the_description_follows_the_settings_used() {
        let mut t = TrainSettings::default();
        apply(Scenario::Baseline, &mut t, &Given::default());
        let dcgan = purpose(Scenario::Baseline, &t);
        assert!(
            dcgan.starts_with("DCGAN, batch norm in D, lr 2e-4"),
            "{dcgan}"
        );
        let mut t = TrainSettings {
            arch: Arch::Mlp,
            ..TrainSettings::default()
        };
        apply(Scenario::Baseline, &mut t, &Given::of([Key::Arch]));
        let mlp = purpose(Scenario::Baseline, &t);
        assert!(mlp.starts_with("MLP pair, 2 hidden layers in D"), "{mlp}");
        assert!(!mlp.contains("DCGAN"), "{mlp}");
    }

    #[test]
    fn high_lr_d_is_two_levels_of_d_rate_unless_the_rate_is_given() {
        let mut t = TrainSettings::default();
        apply(Scenario::HighLrD, &mut t, &Given::default());
        let l = levels(Scenario::HighLrD, &t, &Given::default());
        let rates: Vec<(f64, f64)> = l.iter().map(|(_, s)| (s.rate_d(), s.rate_g())).collect();
        assert_eq!(rates, [(2e-4, 2e-4), (2e-3, 2e-4)]);
        assert_eq!(l[1].0, "lrd2e-3");
        assert!(purpose(Scenario::HighLrD, &l[1].1).contains("lr D 2e-3, G 2e-4"));
        let given = Given::of([Key::LrD]);
        assert_eq!(levels(Scenario::HighLrD, &t, &given).len(), 1);
        assert_eq!(levels(Scenario::Baseline, &t, &Given::default()).len(), 1);
    }

    #[test]
    fn deep_narrow_is_a_narrow_deep_mlp_at_a_high_rate_judged_on_collapse() {
        let mut t = TrainSettings::default();
        apply(Scenario::DeepNarrow, &mut t, &Given::default());
        assert_eq!(
            (t.arch, t.disc_depth, t.disc_width, t.lr),
            (Arch::Mlp, 6, Some(32), 1e-3)
        );
        assert_eq!(default_seeds(Scenario::DeepNarrow), 10);
        assert_eq!(
            Scenario::DeepNarrow.primary(),
            (Column::total(Metric::DCollapsed), Take::Last)
        );
        assert!(purpose(Scenario::DeepNarrow, &t).contains("6 hidden layers of 32 units"));
    }

    #[test]
    fn uncentred_is_dcgan_without_batch_norm_judged_on_the_first_layer() {
        let mut t = TrainSettings::default();
        apply(Scenario::Uncentred, &mut t, &Given::default());
        assert!(t.no_disc_batch_norm && t.arch == Arch::Dcgan);
        let (column, take) = Scenario::Uncentred.primary();
        assert_eq!(column.key(take), "d_dead_probe_h1:last");
        assert!(purpose(Scenario::Uncentred, &t).contains("no batch norm in D"));
    }
}
