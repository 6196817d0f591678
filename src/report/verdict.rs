//! The plain-language verdict: what the numbers say about ReLU vs LeakyReLU, and no more.

use crate::cli::Act;

use super::groups::GroupStats;
use super::stats::{Difference, MeanStd, difference};

/// What one relu-vs-leaky comparison found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// `relu vs leaky α=0.2`, plus the setting when the groups differ in more.
    pub title: String,
    /// One sentence per aspect: sparsity, dead units, quality, stability, cost.
    pub findings: Vec<String>,
    /// The answer for this setting.
    pub conclusion: String,
}

/// Verdicts for every leaky group against the relu group of the same setting; a single
/// explanatory verdict when there is nothing to pair.
pub fn verdicts(groups: &[GroupStats]) -> Vec<Verdict> {
    let mut out = Vec::new();
    for leaky in groups.iter().filter(|g| g.act == Act::Leaky) {
        if let Some(relu) = groups
            .iter()
            .find(|g| g.act == Act::Relu && g.setting == leaky.setting)
        {
            out.push(compare(relu, leaky));
        }
    }
    if out.is_empty() {
        out.push(Verdict {
            title: "no comparison".into(),
            findings: Vec::new(),
            conclusion:
                "These runs do not include a relu and a leaky configuration with otherwise \
                         equal settings, so there is nothing to compare."
                    .into(),
        });
    }
    out
}

/// Percent with one decimal.
fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

fn judged(d: Difference, n: usize) -> String {
    match d {
        Difference::Clear => format!("a clear difference over {n} seeds"),
        Difference::NotClear => format!("no clear difference over {n} seeds"),
        Difference::TooFewSeeds => "one seed: no spread to judge it against".into(),
    }
}

/// The comparison of one relu group with one leaky group.
pub fn compare(relu: &GroupStats, leaky: &GroupStats) -> Verdict {
    let get = |g: &GroupStats, key: &str| g.metrics.get(key).copied();
    let n = relu.runs.min(leaky.runs);
    let name = &leaky.label;
    let mut findings = Vec::new();

    // Sparsity: the premise of the folklore.
    let sparsity = get(relu, "d_grad_zero:mean").zip(get(leaky, "d_grad_zero:mean"));
    if let Some((r, l)) = sparsity {
        findings.push(format!(
            "Gradient sparsity: with relu, {} of the discriminator's activation gradients were \
             exactly zero (mean over training), against {} with {name}: {}.",
            pct(r.mean),
            pct(l.mean),
            judged(difference(&r, &l), n)
        ));
    }
    if let Some((r, l)) =
        get(relu, "d_dead_units_persistent:last").zip(get(leaky, "d_dead_units_persistent:last"))
    {
        findings.push(format!(
            "Persistently dead units at the end: {} (relu) vs {} ({name}): {}.",
            pct(r.mean),
            pct(l.mean),
            judged(difference(&r, &l), n)
        ));
    }

    // Quality: the folklore's conclusion.
    let quality = [
        ("eval_fd:last", "FD", true),
        ("eval_mmd_pixel:last", "pixel MMD²", true),
    ]
    .into_iter()
    .find_map(|(key, what, lower)| Some((what, lower, get(relu, key)?, get(leaky, key)?)));
    let mut quality_outcome = None;
    if let Some((what, _, r, l)) = quality {
        let d = difference(&r, &l);
        let better = match (d, l.mean < r.mean) {
            (Difference::Clear, true) => Some(Act::Leaky),
            (Difference::Clear, false) => Some(Act::Relu),
            _ => None,
        };
        quality_outcome = Some((d, better, what, r, l));
        findings.push(format!(
            "Sample quality (final {what}, lower is better): {} (relu) vs {} ({name}): {}.",
            r.show(3),
            l.show(3),
            judged(d, n)
        ));
        for (key, what) in [
            ("eval_precision:last", "precision"),
            ("eval_recall:last", "recall"),
            ("eval_class_coverage:last", "class coverage"),
        ] {
            if let Some((r, l)) = get(relu, key).zip(get(leaky, key)) {
                findings.push(format!(
                    "Final {what}: {} (relu) vs {} ({name}): {}.",
                    r.show(3),
                    l.show(3),
                    judged(difference(&r, &l), n)
                ));
            }
        }
    }

    // Stability.
    if relu.diverged + leaky.diverged > 0 {
        findings.push(format!(
            "Divergence: {} of {} relu runs and {} of {} {name} runs diverged (NaN or infinite \
             loss) and are left out of the other numbers.",
            relu.diverged, relu.runs, leaky.diverged, leaky.runs
        ));
    }

    // Cost.
    let cost = get(relu, "ms_per_step:mean").zip(get(leaky, "ms_per_step:mean"));
    if let Some((r, l)) = cost {
        findings.push(format!(
            "Cost: {:.0} ms/step (relu) vs {:.0} ms/step ({name}), {:+.1}%: {}.",
            r.mean,
            l.mean,
            100.0 * (l.mean / r.mean - 1.0),
            judged(difference(&r, &l), n)
        ));
    }

    let conclusion = conclude(relu, leaky, quality_outcome, cost, n);
    let title = match leaky.setting.is_empty() {
        true => format!("relu vs {}", leaky.label),
        false => format!(
            "relu vs {} — {}",
            leaky.label.split(" (").next().unwrap_or(""),
            leaky.setting
        ),
    };
    Verdict {
        title,
        findings,
        conclusion,
    }
}

type QualityOutcome = (Difference, Option<Act>, &'static str, MeanStd, MeanStd);

fn conclude(
    relu: &GroupStats,
    leaky: &GroupStats,
    quality: Option<QualityOutcome>,
    cost: Option<(MeanStd, MeanStd)>,
    n: usize,
) -> String {
    let name = &leaky.label;
    let all_but = |g: &GroupStats| g.diverged == g.runs;
    // A configuration that always diverges loses, whatever else.
    match (all_but(relu), all_but(leaky)) {
        (true, false) => {
            return format!("Prefer {name} here: every relu run diverged and {name} trained.");
        }
        (false, true) => {
            return format!("Prefer relu here: every {name} run diverged and relu trained.");
        }
        (true, true) => {
            return "Both activations diverged in every run: this setting does not train.".into();
        }
        _ => {}
    }
    let Some((d, better, what, r, l)) = quality else {
        return "No quality metric in these runs (train with --eval-every), so only the gradient \
                statistics can be compared: they show what each activation does to the gradients, \
                not which trains the better generator."
            .into();
    };
    match (d, better) {
        (Difference::TooFewSeeds, _) => format!(
            "With one seed per configuration the quality difference ({what} {:.3} vs {:.3}) cannot \
             be told apart from seed-to-seed noise; rerun with --seeds 3 or more before preferring either.",
            r.mean, l.mean
        ),
        (Difference::Clear, Some(Act::Leaky)) => format!(
            "Prefer {name} in this setting: its samples are measurably better ({what} {:.3} vs {:.3} \
             over {n} seeds).",
            l.mean, r.mean
        ),
        (Difference::Clear, _) => format!(
            "Prefer relu in this setting: its samples are measurably better ({what} {:.3} vs {:.3} \
             over {n} seeds), despite its sparser gradients.",
            r.mean, l.mean
        ),
        (Difference::NotClear, _) => {
            let mut s = format!(
                "No clear quality difference in this setting: relu's sparser gradients did not \
                 measurably change sample quality over {n} seeds, so either activation is fine here"
            );
            if let Some((rc, lc)) = cost
                && difference(&rc, &lc) == Difference::Clear
            {
                let (cheap, ratio) = match rc.mean <= lc.mean {
                    true => ("relu", lc.mean / rc.mean - 1.0),
                    false => (name.as_str(), rc.mean / lc.mean - 1.0),
                };
                s += &format!("; {cheap} is {:.0}% cheaper per step", 100.0 * ratio);
            }
            s + "."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn group(act: Act, diverged: usize, metrics: &[(&str, &[f64])]) -> GroupStats {
        GroupStats {
            label: match act {
                Act::Relu => "relu".into(),
                Act::Leaky => "leaky α=0.2".into(),
            },
            setting: String::new(),
            act,
            runs: 3,
            diverged,
            metrics: metrics
                .iter()
                .map(|(k, v)| (k.to_string(), MeanStd::of(v).unwrap()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn a_clear_quality_difference_picks_the_better_activation() {
        let relu = group(
            Act::Relu,
            0,
            &[
                ("d_grad_zero:mean", &[0.50, 0.52, 0.51]),
                ("eval_fd:last", &[30.0, 32.0, 31.0]),
            ],
        );
        let leaky = group(
            Act::Leaky,
            0,
            &[
                ("d_grad_zero:mean", &[0.0, 0.0, 0.0]),
                ("eval_fd:last", &[20.0, 21.0, 19.5]),
            ],
        );
        let v = &verdicts(&[relu.clone(), leaky.clone()])[0];
        assert!(
            v.findings[0].contains("51.0%") && v.findings[0].contains("a clear difference"),
            "{v:?}"
        );
        assert!(
            v.conclusion.starts_with("Prefer leaky α=0.2"),
            "{}",
            v.conclusion
        );
        // Swapped numbers: relu wins.
        let v = compare(
            &group(Act::Relu, 0, &[("eval_fd:last", &[20.0, 21.0, 19.5])]),
            &group(Act::Leaky, 0, &[("eval_fd:last", &[30.0, 32.0, 31.0])]),
        );
        assert!(v.conclusion.starts_with("Prefer relu"), "{}", v.conclusion);
    }

    #[test]
    fn overlapping_quality_says_no_clear_difference() {
        let relu = group(
            Act::Relu,
            0,
            &[
                ("d_grad_zero:mean", &[0.50, 0.52, 0.51]),
                ("eval_fd:last", &[25.0, 31.0, 28.0]),
                ("ms_per_step:mean", &[100.0, 101.0, 99.0]),
            ],
        );
        let leaky = group(
            Act::Leaky,
            0,
            &[
                ("d_grad_zero:mean", &[0.0, 0.0, 0.0]),
                ("eval_fd:last", &[27.0, 30.0, 26.0]),
                ("ms_per_step:mean", &[120.0, 121.0, 119.0]),
            ],
        );
        let v = compare(&relu, &leaky);
        assert!(
            v.conclusion.starts_with("No clear quality difference"),
            "{}",
            v.conclusion
        );
        assert!(
            v.conclusion.contains("relu is 20% cheaper"),
            "{}",
            v.conclusion
        );
        // The sparsity difference is still reported as clear.
        assert!(
            v.findings[0].contains("a clear difference"),
            "{:?}",
            v.findings
        );
    }

    #[test]
    fn one_seed_or_no_quality_or_divergence_limit_the_claim() {
        let one = |act, fd: f64| GroupStats {
            runs: 1,
            ..group(act, 0, &[("eval_fd:last", &[fd])])
        };
        let v = compare(&one(Act::Relu, 30.0), &one(Act::Leaky, 10.0));
        assert!(
            v.conclusion.contains("cannot be told apart"),
            "{}",
            v.conclusion
        );
        let v = compare(
            &group(Act::Relu, 0, &[("d_grad_zero:mean", &[0.5, 0.5, 0.51])]),
            &group(Act::Leaky, 0, &[("d_grad_zero:mean", &[0.0, 0.0, 0.0])]),
        );
        assert!(
            v.conclusion.starts_with("No quality metric"),
            "{}",
            v.conclusion
        );
        let v = compare(
            &group(Act::Relu, 3, &[]),
            &group(Act::Leaky, 0, &[("eval_fd:last", &[9.0, 9.5, 9.2])]),
        );
        assert!(
            v.conclusion.contains("every relu run diverged"),
            "{}",
            v.conclusion
        );
        assert!(
            v.findings.iter().any(|f| f.contains("3 of 3 relu runs")),
            "{:?}",
            v.findings
        );
        // Nothing to pair.
        let v = verdicts(&[group(Act::Relu, 0, &[])]);
        assert!(v[0].conclusion.contains("nothing to compare"));
    }
}
