//! Scenario presets: training settings under which ReLU and LeakyReLU may behave differently.

use crate::cli::{Arch, Scenario, TrainArgs};

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

/// What the scenario is meant to show (README and report).
pub fn purpose(s: Scenario) -> &'static str {
    match s {
        Scenario::Baseline => {
            "DCGAN as published (batch norm in D, lr 2e-4): does the activation matter in the common case?"
        }
        Scenario::NoBatchNorm => {
            "DCGAN without batch norm in D: nothing re-centres the pre-activations, so ReLU units can die and stay dead."
        }
        Scenario::HighLr => {
            "DCGAN at lr 1e-3 (5x the default): large updates can push ReLU units into the dead zone."
        }
        Scenario::DeepMlp => {
            "A six-hidden-layer MLP discriminator: zero gradients compound with depth."
        }
    }
}

/// Applies the scenario to `t`, leaving every flag the user gave explicitly as given.
pub fn apply(s: Scenario, t: &mut TrainArgs) {
    let given = |id: &str| t.explicit.iter().any(|e| e == id);
    let (steps, batch) = (given("steps"), given("batch_size"));
    let (arch, depth, bn, lr) = (
        given("arch"),
        given("disc_depth"),
        given("no_disc_batch_norm"),
        given("lr"),
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
    if !given("eval_every") {
        let quarter = (t.steps / 4).max(1);
        t.eval_every = quarter.div_ceil(t.log_every) * t.log_every;
    }
    if !given("eval_samples") {
        t.eval_samples = 1000;
    }
    // About ten frames in each progress.gif.
    if !given("sample_every") {
        t.sample_every = (t.steps / 10).max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_fill_in_only_what_was_not_given() {
        let mut t = TrainArgs::default();
        apply(Scenario::HighLr, &mut t);
        assert_eq!((t.lr, t.steps, t.batch_size), (1e-3, 200, 32));
        assert_eq!(t.eval_every % t.log_every, 0);
        assert!(t.eval_every >= t.steps / 4);
        let mut t = TrainArgs {
            lr: 5e-4,
            steps: 40,
            explicit: vec!["lr".into(), "steps".into()],
            ..TrainArgs::default()
        };
        apply(Scenario::HighLr, &mut t);
        assert_eq!((t.lr, t.steps), (5e-4, 40));
        let mut t = TrainArgs::default();
        apply(Scenario::DeepMlp, &mut t);
        assert_eq!((t.arch, t.disc_depth), (Arch::Mlp, 6));
        let mut t = TrainArgs::default();
        apply(Scenario::NoBatchNorm, &mut t);
        assert!(t.no_disc_batch_norm);
    }
}
