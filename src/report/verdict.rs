//! The plain-language verdict: what the numbers say about ReLU vs LeakyReLU, and no more.

use crate::metric::{Metric, Take};
use crate::model::Act;

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

/// The judgement of `r` vs `l`, naming the seeds each side had.
fn judged(r: &MeanStd, l: &MeanStd) -> String {
    let seeds = match r.n == l.n {
        true => format!("{} seeds", r.n),
        false => format!("{} and {} seeds", r.n, l.n),
    };
    match difference(r, l) {
        Difference::Clear => format!("a clear difference over {seeds}"),
        Difference::NotClear => format!("no clear difference over {seeds}"),
        Difference::TooFewSeeds => {
            format!("{seeds}: too few to judge against seed-to-seed noise")
        }
    }
}

/// The quality comparison: how it came out, which side is better, the metric, both values.
type QualityOutcome = (Difference, Option<Act>, &'static str, MeanStd, MeanStd);

/// The comparison of one relu group with one leaky group.
pub fn compare(relu: &GroupStats, leaky: &GroupStats) -> Verdict {
    let get = |g: &GroupStats, m: Metric, t: Take| g.metrics.get(&m.key(t)).copied();
    let name = &leaky.label;
    let mut findings = Vec::new();

    // Sparsity: the premise of the folklore.
    let sparsity =
        get(relu, Metric::DGradZero, Take::Mean).zip(get(leaky, Metric::DGradZero, Take::Mean));
    if let Some((r, l)) = sparsity {
        findings.push(format!(
            "Gradient sparsity: with relu, {} of the discriminator's activation gradients were \
             exactly zero (mean over training), against {} with {name}: {}.",
            pct(r.mean),
            pct(l.mean),
            judged(&r, &l)
        ));
    }
    // "Sparser" is said only where the numbers show it.
    let relu_sparser =
        sparsity.is_some_and(|(r, l)| r.mean > l.mean && difference(&r, &l) == Difference::Clear);
    if let Some((r, l)) = get(relu, Metric::DDeadUnitsPersistent, Take::Last).zip(get(
        leaky,
        Metric::DDeadUnitsPersistent,
        Take::Last,
    )) {
        findings.push(format!(
            "Persistently dead units at the end: {} (relu) vs {} ({name}): {}.",
            pct(r.mean),
            pct(l.mean),
            judged(&r, &l)
        ));
    }

    // Quality: the folklore's conclusion.
    let quality = [(Metric::EvalFd, "FD"), (Metric::EvalMmdPixel, "pixel MMD²")]
        .into_iter()
        .find_map(|(m, what)| Some((what, get(relu, m, Take::Last)?, get(leaky, m, Take::Last)?)));
    let mut quality_outcome: Option<QualityOutcome> = None;
    if let Some((what, r, l)) = quality {
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
            judged(&r, &l)
        ));
        for (key, what) in [
            (Metric::EvalPrecision, "precision"),
            (Metric::EvalRecall, "recall"),
            (Metric::EvalClassCoverage, "class coverage"),
        ] {
            if let Some((r, l)) = get(relu, key, Take::Last).zip(get(leaky, key, Take::Last)) {
                findings.push(format!(
                    "Final {what}: {} (relu) vs {} ({name}): {}.",
                    r.show(3),
                    l.show(3),
                    judged(&r, &l)
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

    // Cost: the mean of step_ms, which leaves out sampling, checkpoints and quality measurement.
    let cost = get(relu, Metric::StepMs, Take::Mean).zip(get(leaky, Metric::StepMs, Take::Mean));
    if let Some((r, l)) = cost {
        findings.push(format!(
            "Cost: {:.0} ms/step (relu) vs {:.0} ms/step ({name}), {:+.1}%: {}.",
            r.mean,
            l.mean,
            100.0 * (l.mean / r.mean - 1.0),
            judged(&r, &l)
        ));
    }

    let conclusion = conclude(relu, leaky, quality_outcome, cost, relu_sparser);
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

fn conclude(
    relu: &GroupStats,
    leaky: &GroupStats,
    quality: Option<QualityOutcome>,
    cost: Option<(MeanStd, MeanStd)>,
    relu_sparser: bool,
) -> String {
    let name = &leaky.label;
    let all_diverged = |g: &GroupStats| g.diverged == g.runs;
    // A configuration that always diverges loses, whatever else.
    match (all_diverged(relu), all_diverged(leaky)) {
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
    // Some runs diverged: said beside whatever the rest shows.
    let partial = match relu.diverged + leaky.diverged {
        0 => String::new(),
        _ => format!(
            " Note: {} of {} relu and {} of {} {name} runs diverged and are not in the averages.",
            relu.diverged, relu.runs, leaky.diverged, leaky.runs
        ),
    };
    let Some((d, better, what, r, l)) = quality else {
        return "No quality metric in these runs (train with --eval-every), so only the gradient \
                statistics can be compared: they show what each activation does to the gradients, \
                not which trains the better generator."
            .to_string()
            + &partial;
    };
    let seeds = match r.n == l.n {
        true => format!("{} seeds", r.n),
        false => format!("{} and {} seeds", r.n, l.n),
    };
    let verdict = match (d, better) {
        (Difference::TooFewSeeds, _) => format!(
            "With fewer than two seeds on a side the quality difference ({what} {:.3} vs {:.3}) \
             cannot be told apart from seed-to-seed noise; rerun with --seeds 3 or more before \
             preferring either.",
            r.mean, l.mean
        ),
        (Difference::Clear, Some(Act::Leaky)) => format!(
            "Prefer {name} in this setting: its samples are measurably better ({what} {:.3} vs \
             {:.3} over {seeds}).",
            l.mean, r.mean
        ),
        (Difference::Clear, _) => format!(
            "Prefer relu in this setting: its samples are measurably better ({what} {:.3} vs {:.3} \
             over {seeds}){}.",
            r.mean,
            l.mean,
            match relu_sparser {
                true => ", despite its sparser gradients",
                false => "",
            }
        ),
        (Difference::NotClear, _) => {
            let mut s = format!(
                "No clear quality difference in this setting ({what} {:.3} relu vs {:.3} {name} \
                 over {seeds}; this does not show they are equal){}",
                r.mean,
                l.mean,
                match relu_sparser {
                    true => {
                        ": relu's sparser gradients did not measurably hurt sample quality here"
                    }
                    false => "",
                }
            );
            if let Some((rc, lc)) = cost
                && difference(&rc, &lc) == Difference::Clear
            {
                let (cheap, dear, ratio) = match rc.mean <= lc.mean {
                    true => ("relu", name.as_str(), lc.mean / rc.mean - 1.0),
                    false => (name.as_str(), "relu", rc.mean / lc.mean - 1.0),
                };
                s += &format!(
                    "; {dear} costs {:.0}% more per step than {cheap}",
                    100.0 * ratio
                );
            }
            s + "."
        }
    };
    verdict + &partial
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
        // Swapped numbers: relu wins, "despite" its (clearly) sparser gradients.
        let v = compare(
            &group(
                Act::Relu,
                0,
                &[
                    ("d_grad_zero:mean", &[0.50, 0.52, 0.51]),
                    ("eval_fd:last", &[20.0, 21.0, 19.5]),
                ],
            ),
            &group(
                Act::Leaky,
                0,
                &[
                    ("d_grad_zero:mean", &[0.0, 0.0, 0.0]),
                    ("eval_fd:last", &[30.0, 32.0, 31.0]),
                ],
            ),
        );
        assert!(v.conclusion.starts_with("Prefer relu"), "{}", v.conclusion);
        assert!(
            v.conclusion.contains("despite its sparser"),
            "{}",
            v.conclusion
        );
    }

    #[test]
    fn overlapping_quality_says_no_clear_difference() {
        let relu = group(
            Act::Relu,
            0,
            &[
                ("d_grad_zero:mean", &[0.50, 0.52, 0.51]),
                ("eval_fd:last", &[25.0, 31.0, 28.0]),
                ("step_ms:mean", &[100.0, 101.0, 99.0]),
            ],
        );
        let leaky = group(
            Act::Leaky,
            0,
            &[
                ("d_grad_zero:mean", &[0.0, 0.0, 0.0]),
                ("eval_fd:last", &[27.0, 30.0, 26.0]),
                ("step_ms:mean", &[120.0, 121.0, 119.0]),
            ],
        );
        let v = compare(&relu, &leaky);
        assert!(
            v.conclusion.starts_with("No clear quality difference"),
            "{}",
            v.conclusion
        );
        assert!(v.conclusion.contains("does not show they are equal"));
        assert!(
            v.conclusion
                .contains("leaky α=0.2 costs 20% more per step than relu"),
            "{}",
            v.conclusion
        );
        assert!(v.conclusion.contains("relu's sparser gradients did not"));
        // The sparsity difference is still reported as clear.
        assert!(
            v.findings[0].contains("a clear difference"),
            "{:?}",
            v.findings
        );
    }

    #[test]
    fn one_seed_no_quality_or_divergence_limit_the_claim() {
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
        // Partial divergence is named in the conclusion; seeds are counted per side.
        let v = compare(
            &group(Act::Relu, 1, &[("eval_fd:last", &[9.0, 9.4])]),
            &group(Act::Leaky, 0, &[("eval_fd:last", &[9.1, 9.3, 9.2])]),
        );
        assert!(v.conclusion.contains("1 of 3 relu"), "{}", v.conclusion);
        assert!(v.findings[0].contains("2 and 3 seeds"), "{:?}", v.findings);
        // Nothing to pair.
        let v = verdicts(&[group(Act::Relu, 0, &[])]);
        assert!(v[0].conclusion.contains("nothing to compare"));
    }
}
