//! The plain-language verdict: what the numbers say about ReLU vs LeakyReLU, and no more.
//!
//! Each comparison names its primary metric before it runs (`Spec`); the verdict leads with it.
//! Runs of one seed are paired (same initial weights, data order and noise), so the arms are
//! compared per seed (leaky − relu): mean difference with a bootstrap interval, an exact
//! sign-flip permutation test and d_z. "No difference" is claimed only by an equivalence test
//! against a margin; otherwise the verdict is inconclusive and says how many seeds it would
//! take. Secondary metrics are Holm-corrected and never decide the verdict.

use crate::metric::{Metric, Take};
use crate::model::Act;

use super::groups::{GroupStats, table};
use super::paired::{ALPHA, Comparison, Outcome, holm};

/// What a comparison is judged on, fixed before the runs are looked at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    /// The primary metric and its reduction (default: the final FD).
    pub primary: (Metric, Take),
    /// Equivalence margin, as a fraction of relu's mean of each metric (default 0.1: ±10%).
    pub margin: f64,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            primary: (Metric::EvalFd, Take::Last),
            margin: 0.1,
        }
    }
}

/// One seed's values of a metric: (seed, relu, leaky).
pub type Pair = (u64, f64, f64);

/// Seed of the bootstrap and sampled permutations: a report is reproducible.
const STATS_SEED: u64 = 0x5354_4154;

/// One metric compared between the arms.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The metric.
    pub metric: Metric,
    /// Its reduction.
    pub take: Take,
    /// Table heading.
    pub heading: String,
    /// The comparison's primary metric.
    pub primary: bool,
    /// leaky − relu over seeds.
    pub c: Comparison,
    /// The p-value the outcome is judged on: raw for the primary and the cost, Holm-adjusted
    /// over the secondary metrics otherwise.
    pub p_judged: Option<f64>,
    /// The equivalence margin, in the metric's units.
    pub margin: f64,
    /// Equivalence test p-value.
    pub p_tost: Option<f64>,
    /// How it came out.
    pub outcome: Outcome,
    /// Paired seeds needed to detect a difference of the margin (when inconclusive).
    pub seeds_needed: Option<usize>,
    /// Per seed: (seed, relu, leaky), for the paired plot (paired rows only).
    pub pairs: Vec<Pair>,
}

/// What one relu-vs-leaky comparison found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// `relu vs leaky α=0.2`, plus the setting when the groups differ in more.
    pub title: String,
    /// One sentence per metric: primary first, then secondary, divergence, cost.
    pub findings: Vec<String>,
    /// The answer for this setting.
    pub conclusion: String,
    /// The comparisons behind it (primary first).
    pub rows: Vec<Row>,
}

/// Verdicts for every leaky group against the relu group of the same setting; a single
/// explanatory verdict when there is nothing to pair.
pub fn verdicts(groups: &[GroupStats], spec: &Spec) -> Vec<Verdict> {
    let mut out = Vec::new();
    for leaky in groups.iter().filter(|g| g.act == Act::Leaky) {
        if let Some(relu) = groups
            .iter()
            .find(|g| g.act == Act::Relu && g.setting == leaky.setting)
        {
            out.push(compare(relu, leaky, spec));
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
            rows: Vec::new(),
        });
    }
    out
}

/// The comparison of `metric`/`take` between the groups, paired on their common seeds when
/// they share at least two, else unpaired; None when a side lacks it.
fn comparison(
    relu: &GroupStats,
    leaky: &GroupStats,
    metric: Metric,
    take: Take,
) -> Option<(Comparison, Vec<Pair>)> {
    let key = metric.key(take);
    let (r, l) = (relu.values.get(&key)?, leaky.values.get(&key)?);
    let pairs: Vec<Pair> = r
        .iter()
        .filter_map(|&(seed, rv)| {
            let &(_, lv) = l.iter().find(|(s, _)| *s == seed)?;
            Some((seed, rv, lv))
        })
        .collect();
    if pairs.len() >= 2 {
        let (a, b): (Vec<f64>, Vec<f64>) = pairs.iter().map(|&(_, x, y)| (x, y)).unzip();
        Some((Comparison::paired(&a, &b, STATS_SEED), pairs))
    } else {
        let a: Vec<f64> = r.iter().map(|x| x.1).collect();
        let b: Vec<f64> = l.iter().map(|x| x.1).collect();
        Some((Comparison::unpaired(&a, &b, STATS_SEED), Vec::new()))
    }
}

/// The primary metric actually used: the spec's, or for unlabelled data (no FD) the pixel MMD.
fn primary_of(relu: &GroupStats, leaky: &GroupStats, spec: &Spec) -> (Metric, Take) {
    let has = |m: Metric, t: Take| {
        let k = m.key(t);
        relu.values.contains_key(&k) && leaky.values.contains_key(&k)
    };
    match spec.primary {
        (Metric::EvalFd, t) if !has(Metric::EvalFd, t) && has(Metric::EvalMmdPixel, t) => {
            (Metric::EvalMmdPixel, t)
        }
        p => p,
    }
}

/// Builds the rows: the primary, then the secondary table metrics (Holm-corrected together),
/// then the cost.
fn rows(relu: &GroupStats, leaky: &GroupStats, spec: &Spec) -> Vec<Row> {
    let (pm, pt) = primary_of(relu, leaky, spec);
    let mut candidates: Vec<(Metric, Take, String)> = vec![(pm, pt, heading_of(pm, pt))];
    for t in table() {
        let (m, k) = (t.metric, t.cell.take);
        if (m, k) != (pm, pt) && m != Metric::StepMs {
            candidates.push((m, k, t.cell.heading.to_string()));
        }
    }
    if (pm, pt) != (Metric::StepMs, Take::Mean) {
        candidates.push((
            Metric::StepMs,
            Take::Mean,
            heading_of(Metric::StepMs, Take::Mean),
        ));
    }
    let mut rows: Vec<Row> = candidates
        .into_iter()
        .enumerate()
        .filter_map(|(i, (metric, take, heading))| {
            let (c, pairs) = comparison(relu, leaky, metric, take)?;
            let base = match c.mean_a.abs() > 0.0 {
                true => c.mean_a.abs(),
                false => c.mean_b.abs(),
            };
            let margin = (spec.margin * base).max(f64::MIN_POSITIVE);
            Some(Row {
                metric,
                take,
                heading,
                primary: i == 0,
                p_tost: c.tost(margin),
                p_judged: c.p,
                outcome: Outcome::Inconclusive,
                seeds_needed: None,
                margin,
                c,
                pairs,
            })
        })
        .collect();
    // Holm over the secondary metrics: not the primary, not the cost, and not the mechanism
    // rows (they differ by definition; testing them would only spend the family's error rate).
    let family: Vec<usize> = (0..rows.len())
        .filter(|&i| !rows[i].primary && rows[i].metric != Metric::StepMs)
        .filter(|&i| !rows[i].metric.differs_by_definition())
        .filter(|&i| rows[i].c.p.is_some())
        .collect();
    let adjusted = holm(
        &family
            .iter()
            .map(|&i| rows[i].c.p.unwrap_or(1.0))
            .collect::<Vec<_>>(),
    );
    for (&i, p) in family.iter().zip(adjusted) {
        rows[i].p_judged = Some(p);
    }
    for r in &mut rows {
        r.outcome = r.c.outcome(r.margin, r.p_judged);
        if r.outcome == Outcome::Inconclusive {
            r.seeds_needed = r.c.seeds_needed(r.margin);
        }
    }
    rows
}

/// A table heading for a metric not in the table (or the table's own).
fn heading_of(metric: Metric, take: Take) -> String {
    table()
        .into_iter()
        .find(|t| t.metric == metric && t.cell.take == take)
        .map(|t| t.cell.heading.to_string())
        .unwrap_or_else(|| metric.key(take))
}

/// A number with three significant decimals at most.
fn num(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.1}"),
        a if a >= 1.0 => format!("{v:.3}"),
        _ => format!("{v:.4}"),
    }
}

/// `p = 0.031` (or `p < 0.001`).
fn show_p(p: f64) -> String {
    match p < 0.001 {
        true => "p < 0.001".into(),
        false => format!("p = {p:.3}"),
    }
}

impl Row {
    /// The effect as a reader wants it: `Δ = -10.8 [95% CI -11.4, -10.2], p = 0.031, d_z = -5.1,
    /// paired over 6 seeds`.
    pub fn effect(&self) -> String {
        let c = &self.c;
        let mut s = format!("Δ = {}", num(c.diff));
        if let Some((lo, hi)) = c.ci {
            s += &format!(" [95% CI {}, {}]", num(lo), num(hi));
        }
        if let Some(p) = c.p {
            s += &format!(", {}", show_p(p));
        }
        let holm =
            !self.primary && self.metric != Metric::StepMs && !self.metric.differs_by_definition();
        if let Some(p) = self.p_judged.filter(|_| holm) {
            s += &format!(" (Holm {})", show_p(p));
        }
        if let Some(d) = c.effect {
            s += &format!(", d{} = {d:.2}", if c.paired { "_z" } else { "" });
        }
        s += &match c.paired {
            true => format!(", paired over {} seeds", c.n),
            false => ", unpaired (the arms do not share seeds)".to_string(),
        };
        s
    }

    /// The outcome in words.
    pub fn outcome_words(&self) -> String {
        match self.outcome {
            Outcome::Different => "different".into(),
            Outcome::Equivalent => format!(
                "equivalent within ±{} (TOST {})",
                num(self.margin),
                show_p(self.p_tost.unwrap_or(1.0))
            ),
            Outcome::Inconclusive => match self.seeds_needed {
                Some(n) => format!(
                    "inconclusive: ~{n} paired seeds would detect a difference of ±{}",
                    num(self.margin)
                ),
                None => "inconclusive".into(),
            },
        }
    }
}

/// The comparison of one relu group with one leaky group.
pub fn compare(relu: &GroupStats, leaky: &GroupStats, spec: &Spec) -> Verdict {
    let name = &leaky.label;
    let rows = rows(relu, leaky, spec);
    let mut findings = Vec::new();
    for r in &rows {
        let role = match (r.primary, r.metric.differs_by_definition()) {
            (true, _) => "Primary",
            (false, true) => "Mechanism (differs by definition)",
            (false, false) if r.metric == Metric::StepMs => "Cost",
            (false, false) => "Secondary",
        };
        findings.push(format!(
            "{role} — {}: {} (relu) vs {} ({name}); {}: {}.",
            r.heading,
            num(r.c.mean_a),
            num(r.c.mean_b),
            r.effect(),
            r.outcome_words()
        ));
    }
    if relu.diverged + leaky.diverged > 0 {
        findings.push(format!(
            "Divergence: {} of {} relu runs and {} of {} {name} runs diverged (NaN or infinite \
             loss) and are left out of the other numbers.",
            relu.diverged, relu.runs, leaky.diverged, leaky.runs
        ));
    }
    let conclusion = conclude(relu, leaky, &rows, spec);
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
        rows,
    }
}

fn conclude(relu: &GroupStats, leaky: &GroupStats, rows: &[Row], spec: &Spec) -> String {
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
    let partial = match relu.diverged + leaky.diverged {
        0 => String::new(),
        _ => format!(
            " Note: {} of {} relu and {} of {} {name} runs diverged and are not in the numbers.",
            relu.diverged, relu.runs, leaky.diverged, leaky.runs
        ),
    };
    let Some(p) = rows.iter().find(|r| r.primary) else {
        let (m, t) = spec.primary;
        return format!(
            "The primary metric ({}) was not measured in these runs{}, so nothing is concluded: \
             the other rows show what each activation does to the gradients, not which trains \
             the better generator.",
            m.key(t),
            match m.name().starts_with("eval_") {
                true => " (train with --eval-every)",
                false => "",
            }
        ) + &partial;
    };
    let what = &p.heading;
    if p.c.n < 2 {
        return format!(
            "With fewer than two seeds per side the primary metric ({what}: {} relu vs {} {name}) \
             cannot be judged against seed-to-seed noise; rerun with more --seeds.",
            num(p.c.mean_a),
            num(p.c.mean_b)
        ) + &partial;
    }
    let mut s = match p.outcome {
        Outcome::Different => {
            let leaky_lower = p.c.diff < 0.0;
            match p.metric.lower_is_better() {
                Some(lower) => {
                    let better = match leaky_lower == lower {
                        true => name.as_str(),
                        false => "relu",
                    };
                    format!(
                        "Prefer {better} in this setting: the primary metric ({what}) is \
                         measurably better ({} relu vs {} {name}; {}).",
                        num(p.c.mean_a),
                        num(p.c.mean_b),
                        p.effect()
                    )
                }
                None => format!(
                    "The primary metric ({what}) differs: {} relu vs {} {name} ({}).",
                    num(p.c.mean_a),
                    num(p.c.mean_b),
                    p.effect()
                ),
            }
        }
        Outcome::Equivalent => format!(
            "No difference in the primary metric ({what}): equivalent within ±{:.0}% of relu's \
             ({}, TOST {}); in this setting the activation does not matter for it.",
            100.0 * spec.margin,
            p.effect(),
            show_p(p.p_tost.unwrap_or(1.0))
        ),
        Outcome::Inconclusive => {
            let need = match p.seeds_needed {
                Some(n) => format!(
                    " With this spread, about {n} paired seeds would be needed to detect a \
                     difference of ±{:.0}% (power 0.8, α = {ALPHA}).",
                    100.0 * spec.margin
                ),
                None => String::new(),
            };
            format!(
                "Inconclusive on the primary metric ({what}): {}; neither a difference nor \
                 equivalence within ±{:.0}% is shown.{need}",
                p.effect(),
                100.0 * spec.margin
            )
        }
    };
    if let Some(cost) = rows
        .iter()
        .find(|r| r.metric == Metric::StepMs && !r.primary)
        .filter(|r| r.outcome == Outcome::Different)
    {
        let (cheap, dear, ratio) = match cost.c.mean_a <= cost.c.mean_b {
            true => ("relu", name.as_str(), cost.c.mean_b / cost.c.mean_a - 1.0),
            false => (name.as_str(), "relu", cost.c.mean_a / cost.c.mean_b - 1.0),
        };
        s += &format!(
            " {dear} costs {:.0}% more per step than {cheap}.",
            100.0 * ratio
        );
    }
    s + &partial
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::stats::MeanStd;
    use std::collections::BTreeMap;

    /// A group whose runs have seeds 42, 43, ... with these values per metric key.
    fn group(act: Act, diverged: usize, metrics: &[(&str, &[f64])]) -> GroupStats {
        let runs = metrics.iter().map(|(_, v)| v.len()).max().unwrap_or(0) + diverged;
        GroupStats {
            label: match act {
                Act::Relu => "relu".into(),
                Act::Leaky => "leaky α=0.2".into(),
            },
            setting: String::new(),
            act,
            runs,
            diverged,
            metrics: metrics
                .iter()
                .map(|(k, v)| (k.to_string(), MeanStd::of(v).unwrap()))
                .collect::<BTreeMap<_, _>>(),
            values: metrics
                .iter()
                .map(|(k, v)| {
                    let seeded = v.iter().enumerate().map(|(i, &x)| (42 + i as u64, x));
                    (k.to_string(), seeded.collect())
                })
                .collect(),
        }
    }

    fn spec() -> Spec {
        Spec::default()
    }

    #[test]
    fn a_clear_paired_difference_in_the_primary_picks_the_better_activation() {
        let relu = group(
            Act::Relu,
            0,
            &[
                ("d_grad_zero:mean", &[0.50, 0.52, 0.51, 0.5, 0.49, 0.5]),
                ("eval_fd:last", &[30.0, 32.0, 31.0, 29.0, 33.0, 30.5]),
            ],
        );
        let leaky = group(
            Act::Leaky,
            0,
            &[
                ("d_grad_zero:mean", &[0.0; 6]),
                ("eval_fd:last", &[20.0, 21.0, 19.5, 20.5, 22.0, 19.0]),
            ],
        );
        let v = &verdicts(&[relu.clone(), leaky.clone()], &spec())[0];
        assert!(
            v.conclusion.starts_with("Prefer leaky α=0.2"),
            "{}",
            v.conclusion
        );
        // Six pairs all one way: the exact sign-flip p is 2/64.
        assert!(v.conclusion.contains("p = 0.031"), "{}", v.conclusion);
        assert!(
            v.conclusion.contains("paired over 6 seeds"),
            "{}",
            v.conclusion
        );
        assert!(
            v.findings[0].starts_with("Primary — FD (final)"),
            "{:?}",
            v.findings
        );
        assert!(
            v.findings
                .iter()
                .any(|f| f.starts_with("Mechanism (differs by definition)")),
            "{:?}",
            v.findings
        );
        // Swapped: relu wins.
        let v = compare(
            &leaky_as(&leaky, Act::Relu),
            &leaky_as(&relu, Act::Leaky),
            &spec(),
        );
        assert!(v.conclusion.starts_with("Prefer relu"), "{}", v.conclusion);
    }

    fn leaky_as(g: &GroupStats, act: Act) -> GroupStats {
        GroupStats {
            act,
            label: match act {
                Act::Relu => "relu".into(),
                Act::Leaky => "leaky α=0.2".into(),
            },
            ..g.clone()
        }
    }

    #[test]
    fn three_seeds_can_only_be_inconclusive_and_say_how_many_are_needed() {
        let relu = group(Act::Relu, 0, &[("eval_fd:last", &[30.0, 32.0, 31.0])]);
        let leaky = group(Act::Leaky, 0, &[("eval_fd:last", &[20.0, 21.0, 19.5])]);
        let v = compare(&relu, &leaky, &spec());
        // Three pairs: the exact p can never go below 2/8.
        assert!(v.conclusion.starts_with("Inconclusive"), "{}", v.conclusion);
        assert!(v.conclusion.contains("p = 0.250"), "{}", v.conclusion);
        assert!(
            v.conclusion.contains("paired seeds would be needed"),
            "{}",
            v.conclusion
        );
    }

    #[test]
    fn equivalence_is_claimed_only_by_the_equivalence_test() {
        let relu = group(
            Act::Relu,
            0,
            &[
                (
                    "eval_fd:last",
                    &[30.0, 32.0, 31.0, 29.0, 33.0, 30.5, 31.5, 30.0],
                ),
                (
                    "step_ms:mean",
                    &[100.0, 101.0, 99.0, 100.0, 100.5, 99.5, 100.0, 101.0],
                ),
            ],
        );
        let leaky = group(
            Act::Leaky,
            0,
            &[
                (
                    "eval_fd:last",
                    &[30.2, 31.9, 31.1, 29.3, 32.8, 30.4, 31.6, 30.1],
                ),
                (
                    "step_ms:mean",
                    &[120.0, 121.0, 119.0, 120.0, 120.5, 119.5, 120.0, 121.0],
                ),
            ],
        );
        let v = compare(&relu, &leaky, &spec());
        assert!(
            v.conclusion
                .starts_with("No difference in the primary metric"),
            "{}",
            v.conclusion
        );
        assert!(
            v.conclusion.contains("equivalent within ±10%"),
            "{}",
            v.conclusion
        );
        assert!(
            v.conclusion
                .contains("leaky α=0.2 costs 20% more per step than relu"),
            "{}",
            v.conclusion
        );
    }

    #[test]
    fn missing_primary_one_seed_and_divergence_limit_the_claim() {
        let v = compare(
            &group(Act::Relu, 0, &[("d_grad_zero:mean", &[0.5, 0.5, 0.51])]),
            &group(Act::Leaky, 0, &[("d_grad_zero:mean", &[0.0, 0.0, 0.0])]),
            &spec(),
        );
        assert!(
            v.conclusion.contains("was not measured"),
            "{}",
            v.conclusion
        );
        assert!(v.conclusion.contains("--eval-every"), "{}", v.conclusion);
        let v = compare(
            &group(Act::Relu, 0, &[("eval_fd:last", &[30.0])]),
            &group(Act::Leaky, 0, &[("eval_fd:last", &[10.0])]),
            &spec(),
        );
        assert!(
            v.conclusion.contains("fewer than two seeds"),
            "{}",
            v.conclusion
        );
        let v = compare(
            &group(Act::Relu, 3, &[]),
            &group(Act::Leaky, 0, &[("eval_fd:last", &[9.0, 9.5, 9.2])]),
            &spec(),
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
        let v = compare(
            &group(Act::Relu, 1, &[("eval_fd:last", &[9.0, 9.4])]),
            &group(Act::Leaky, 0, &[("eval_fd:last", &[9.1, 9.3, 9.2])]),
            &spec(),
        );
        assert!(v.conclusion.contains("1 of 3 relu"), "{}", v.conclusion);
        let v = verdicts(&[group(Act::Relu, 0, &[])], &spec());
        assert!(v[0].conclusion.contains("nothing to compare"));
    }

    #[test]
    fn unlabelled_data_falls_back_to_pixel_mmd_and_unshared_seeds_to_unpaired() {
        let relu = group(
            Act::Relu,
            0,
            &[("eval_mmd_pixel:last", &[0.10, 0.12, 0.11])],
        );
        let mut leaky = group(
            Act::Leaky,
            0,
            &[("eval_mmd_pixel:last", &[0.05, 0.06, 0.055])],
        );
        // Other seeds: nothing to pair.
        for v in leaky.values.values_mut() {
            for (s, _) in v.iter_mut() {
                *s += 100;
            }
        }
        let v = compare(&relu, &leaky, &spec());
        assert_eq!(v.rows[0].metric, Metric::EvalMmdPixel);
        assert!(!v.rows[0].c.paired);
        assert!(v.conclusion.contains("unpaired"), "{}", v.conclusion);
    }

    #[test]
    fn secondary_metrics_are_holm_corrected() {
        let six = |x: f64| -> Vec<f64> { (0..6).map(|i| x + i as f64 * 0.01).collect() };
        let (r1, l1, r2, l2) = (six(1.0), six(2.0), six(5.0), six(6.0));
        let relu = group(
            Act::Relu,
            0,
            &[
                ("eval_fd:last", &six(30.0)),
                ("loss_d:last", &r1),
                ("loss_g:last", &r2),
            ],
        );
        let leaky = group(
            Act::Leaky,
            0,
            &[
                ("eval_fd:last", &six(30.0)),
                ("loss_d:last", &l1),
                ("loss_g:last", &l2),
            ],
        );
        let v = compare(&relu, &leaky, &spec());
        let loss_d = v.rows.iter().find(|r| r.metric == Metric::LossD).unwrap();
        // Raw p = 2/64 for both; Holm over the two: 2 × 2/64.
        assert!((loss_d.c.p.unwrap() - 2.0 / 64.0).abs() < 1e-12);
        assert!((loss_d.p_judged.unwrap() - 4.0 / 64.0).abs() < 1e-12);
        assert_ne!(loss_d.outcome, Outcome::Different);
    }
}
