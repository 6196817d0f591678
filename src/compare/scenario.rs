//! Scenario presets: training settings under which ReLU and LeakyReLU may behave differently.

use serde::{Deserialize, Serialize};

use crate::metric::{Metric, Take};
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
    /// DCGAN at lr 1e-3 (5× the default).
    HighLr,
    /// An MLP discriminator six hidden layers deep.
    DeepMlp,
}

impl Scenario {
    /// Every scenario, in the order `--help` lists them.
    pub const ALL: [Scenario; 4] = [
        Scenario::Baseline,
        Scenario::NoBatchNorm,
        Scenario::HighLr,
        Scenario::DeepMlp,
    ];

    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::NoBatchNorm => "no-batch-norm",
            Scenario::HighLr => "high-lr",
            Scenario::DeepMlp => "deep-mlp",
        }
    }

    /// The metric the scenario's verdict is judged on, named before it runs.
    pub fn primary(self) -> (Metric, Take) {
        match self {
            Scenario::Baseline | Scenario::NoBatchNorm | Scenario::HighLr | Scenario::DeepMlp => {
                (Metric::EvalFd, Take::Last)
            }
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            Scenario::Baseline => "DCGAN as published (batch norm in D, lr 2e-4): the common case",
            Scenario::NoBatchNorm => {
                "DCGAN without batch norm in D: nothing re-centres the pre-activations, so ReLU units can die and stay dead"
            }
            Scenario::HighLr => {
                "DCGAN at lr 1e-3 (5x the default): large updates push units into the dead zone"
            }
            Scenario::DeepMlp => {
                "an MLP discriminator six hidden layers deep: zero gradients compound with depth"
            }
        }
    }
}

/// Steps of a scenario's runs unless --steps is given: a default `gan compare` (2 configurations
/// × 3 seeds) stays within about 10 minutes on a 2-core CPU.
pub fn default_steps(s: Scenario) -> u64 {
    match s {
        Scenario::DeepMlp => 1500,
        _ => 200,
    }
}

/// Images per batch unless --batch-size is given.
pub fn default_batch(s: Scenario) -> u32 {
    match s {
        Scenario::DeepMlp => 64,
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
        Arch::Mlp => format!(", {} hidden layers in D", t.disc_depth),
        Arch::Dcgan => String::new(),
    };
    let setting = format!("{arch}{bn}{depth}, lr {:e}", t.lr);
    let question = match s {
        Scenario::Baseline => "does the activation matter in the common case?",
        Scenario::NoBatchNorm => {
            "nothing re-centres the pre-activations, so ReLU units can die and stay dead."
        }
        Scenario::HighLr => "large updates can push ReLU units into the dead zone.",
        Scenario::DeepMlp => "zero gradients compound with depth.",
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
    match s {
        Scenario::Baseline => {}
        Scenario::NoBatchNorm => {
            if !bn && t.arch == Arch::Dcgan {
                t.no_disc_batch_norm = true;
            }
        }
        Scenario::HighLr => {
            if !lr {
                t.lr = 1e-3;
            }
        }
        Scenario::DeepMlp => {
            if !arch {
                t.arch = Arch::Mlp;
            }
            if !depth && t.arch == Arch::Mlp {
                t.disc_depth = 6;
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
}
