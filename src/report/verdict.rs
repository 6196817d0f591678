//! The plain-language verdict: what the numbers say about ReLU vs LeakyReLU, and no more.
//!
//! Each comparison names its primary metric before it runs (`Spec`); the verdict leads with it.
//! Runs of one seed are paired (same initial weights, data order and noise), so the arms are
//! compared per seed (leaky − relu): mean difference with a bootstrap interval, an exact
//! sign-flip permutation test and d_z. "No difference" is claimed only by an equivalence test
//! against a margin; otherwise the verdict is inconclusive and says how many seeds it would
//! take. Secondary metrics are Holm-corrected and never decide the verdict.

use crate::metric::{Column, Metric, Take, layer_name};
use crate::model::Act;

use std::collections::BTreeMap;

use super::groups::{GroupStats, spread, table};
use super::paired::{ALPHA, Comparison, Outcome, POWER, fisher_exact, fisher_runs_needed, holm};

/// What a comparison is judged on, fixed before the runs are looked at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    /// The primary metric (all layers, or one layer's column) and its reduction (default: the
    /// final FD).
    pub primary: (Column, Take),
    /// Equivalence margin, as a fraction of relu's mean of each metric (default 0.1: ±10%).
    pub margin: f64,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            primary: (Column::total(Metric::EvalFd), Take::Last),
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
    /// The metric (all layers, or one layer's column).
    pub column: Column,
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
    /// For a yes/no primary judged by Fisher's exact test (when inconclusive): runs of each arm
    /// the test needs for power 0.8 if the true rates were the observed ones.
    pub runs_needed: Option<u64>,
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
    /// What the rows' two columns hold: `relu` and the leaky group, or for an interaction the
    /// activation's effect at each of the two settings.
    pub arms: [String; 2],
    /// The lead result in one line (the primary's effect, or the trend statistic) and how it
    /// came out; None when nothing was judged.
    pub headline: Option<(String, Outcome)>,
}

/// The primary row's effect and outcome.
fn headline(rows: &[Row]) -> Option<(String, Outcome)> {
    rows.iter()
        .find(|r| r.primary)
        .map(|r| (r.effect(), r.outcome))
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
            arms: ["relu".into(), "leaky".into()],
            headline: None,
        });
    }
    // A 2 × 2 design (two settings × relu/leaky) asks first whether the activation's effect
    // depends on the setting; a sweep of slopes whether the primary metric moves with α.
    if let Some(i) = interaction(groups, spec) {
        out.insert(0, i);
    }
    for (k, t) in trends(groups, spec).into_iter().enumerate() {
        out.insert(k, t);
    }
    out
}

/// Seed of the sampled trend permutations: a report is reproducible.
const TREND_SEED: u64 = 0x5452_454e;

/// The trend of the primary metric across slopes, one verdict per setting that holds at least
/// three slopes (ReLU counts as α = 0): Page's test in its Spearman form over the seeds that
/// have every slope (`trend.rs`).
pub fn trends(groups: &[GroupStats], spec: &Spec) -> Vec<Verdict> {
    let (column, take) = spec.primary;
    let key = column.key(take);
    let mut settings: Vec<&str> = Vec::new();
    for g in groups {
        if !settings.contains(&g.setting.as_str()) {
            settings.push(&g.setting);
        }
    }
    let mut out = Vec::new();
    for setting in settings {
        let mut levels: Vec<&GroupStats> = groups
            .iter()
            .filter(|g| g.setting == setting && g.values.contains_key(&key))
            .collect();
        levels.sort_by(|a, b| a.slope.total_cmp(&b.slope));
        levels.dedup_by(|a, b| a.slope == b.slope);
        if levels.len() < 3 {
            continue;
        }
        // Seeds that have every level, each a block of values in slope order.
        let seeds: Vec<u64> = levels[0].values[&key].iter().map(|v| v.0).collect();
        let blocks: Vec<Vec<f64>> = seeds
            .iter()
            .filter_map(|seed| {
                levels
                    .iter()
                    .map(|g| g.values[&key].iter().find(|v| v.0 == *seed).map(|v| v.1))
                    .collect()
            })
            .collect();
        let slopes = levels
            .iter()
            .map(|g| format!("{}", g.slope))
            .collect::<Vec<_>>()
            .join(", ");
        let heading = heading_of(column, take);
        let findings = levels
            .iter()
            .map(|g| {
                let s = g.metrics.get(&key);
                format!(
                    "α = {}: {} {} over {} seeds.",
                    g.slope,
                    heading,
                    s.map_or("–".into(), |s| format!(
                        "{} ± {}",
                        num(s.mean),
                        num(s.std)
                    )),
                    s.map_or(0, |s| s.n)
                )
            })
            .collect();
        let where_ = match setting.is_empty() {
            true => String::new(),
            false => format!(" at {setting}"),
        };
        let mut headline = None;
        let conclusion = if blocks.len() < 2 {
            format!(
                "Fewer than two seeds have every slope ({slopes}), so no trend in the primary metric ({heading}) can be judged{where_}."
            )
        } else {
            let rho = super::trend::mean_rho(&blocks);
            let mut rng = rand::SeedableRng::seed_from_u64(TREND_SEED);
            let p = super::trend::trend_p(&blocks, &mut rng);
            let stat = format!(
                "mean Spearman ρ between α and {heading} = {rho:.2} over {} seeds, {}",
                blocks.len(),
                show_p(p)
            );
            let outcome = match p < ALPHA {
                true => Outcome::Different,
                false => Outcome::Inconclusive,
            };
            headline = Some((stat.clone(), outcome));
            match p < ALPHA {
                true => format!(
                    "The primary metric ({heading}) {} monotonically as α grows over {slopes}{where_} ({stat}).",
                    if rho < 0.0 { "falls" } else { "rises" }
                ),
                false => format!(
                    "No monotone trend of the primary metric ({heading}) across α = {slopes} is shown{where_} ({stat})."
                ),
            }
        };
        out.push(Verdict {
            title: format!("trend across α = {slopes}{where_}"),
            findings,
            conclusion,
            rows: Vec::new(),
            arms: ["relu".into(), "leaky".into()],
            headline,
        });
    }
    out
}

/// The interaction of a 2 × 2 design: when the groups hold relu and one leaky slope at exactly
/// two settings (say two D learning rates), whether the activation's effect differs between
/// them. Per seed, (leaky − relu at the second setting) − (leaky − relu at the first), tested
/// like any paired effect; the equivalence margin is the spec's fraction of relu's value at
/// the first setting.
pub fn interaction(groups: &[GroupStats], spec: &Spec) -> Option<Verdict> {
    let cells: Vec<(&GroupStats, &GroupStats)> = groups
        .iter()
        .filter(|g| g.act == Act::Leaky)
        .filter_map(|l| {
            let r = groups
                .iter()
                .find(|g| g.act == Act::Relu && g.setting == l.setting)?;
            Some((r, l))
        })
        .collect();
    if cells.len() != 2 || cells[0].0.setting == cells[1].0.setting {
        return None;
    }
    let effect = |(relu, leaky): (&GroupStats, &GroupStats)| -> GroupStats {
        let mut values = BTreeMap::new();
        for (key, r) in &relu.values {
            let Some(l) = leaky.values.get(key) else {
                continue;
            };
            let d: Vec<(u64, f64)> = by_seed(r, l)
                .into_iter()
                .map(|(seed, rv, lv)| (seed, lv - rv))
                .collect();
            if !d.is_empty() {
                values.insert(key.clone(), d);
            }
        }
        let metrics = spread(&values);
        GroupStats {
            label: format!("leaky − relu at {}", leaky.setting),
            setting: leaky.setting.clone(),
            act: leaky.act,
            slope: leaky.slope,
            runs: relu.runs.min(leaky.runs),
            diverged: relu.diverged + leaky.diverged,
            metrics,
            values,
        }
    };
    let (first, second) = (effect(cells[0]), effect(cells[1]));
    let rows = rows_scaled(&first, &second, spec, Some(cells[0].0));
    let (sa, sb) = (&first.setting, &second.setting);
    let (la, lb) = (
        format!("leaky − relu at {sa}"),
        format!("leaky − relu at {sb}"),
    );
    let findings = rows.iter().map(|r| r.finding(&la, &lb)).collect();
    let conclusion = match rows.iter().find(|r| r.primary) {
        None => format!(
            "The primary metric ({}) was not measured in these runs, so the interaction is not judged.",
            spec.primary.0.key(spec.primary.1)
        ),
        Some(p) => {
            let what = &p.heading;
            let effects = format!(
                "leaky − relu is {} at {sa} and {} at {sb}",
                num(p.c.mean_a),
                num(p.c.mean_b)
            );
            match p.outcome {
                Outcome::Different => format!(
                    "The activation's effect on the primary metric ({what}) depends on the setting: {effects}; the difference {}.",
                    p.effect()
                ),
                Outcome::Equivalent if p.identical() => format!(
                    "The activation's effect on the primary metric ({what}) is the same at both \
                     settings: {effects}, in every seed."
                ),
                Outcome::Equivalent => format!(
                    "The activation's effect on the primary metric ({what}) is the same at both \
                     settings within ±{} ({effects}; TOST {}).",
                    num(p.margin),
                    show_p(p.p_tost.unwrap_or(1.0))
                ),
                Outcome::Inconclusive => format!(
                    "Inconclusive on whether the activation's effect on the primary metric ({what}) depends on the setting: {effects}; the difference {}.{}",
                    p.effect(),
                    p.seeds_needed.map_or(String::new(), |n| format!(
                        " About {n} paired seeds would detect a difference of ±{} (power 0.8).",
                        num(p.margin)
                    ))
                ),
            }
        }
    };
    Some(Verdict {
        title: format!("interaction: the activation's effect at {sa} vs at {sb}"),
        findings,
        conclusion,
        headline: headline(&rows),
        rows,
        arms: [format!("effect at {sa}"), format!("effect at {sb}")],
    })
}

/// The row's role in words.
fn role(r: &Row) -> &'static str {
    match (r.primary, r.column.metric.differs_by_definition()) {
        (true, _) => "Primary",
        (false, true) => "Mechanism (differs by definition)",
        (false, false) if r.column.metric == Metric::StepMs => "Cost",
        (false, false) => "Secondary",
    }
}

/// The seeds both sides have, with each side's value: (seed, a, b).
fn by_seed(a: &[(u64, f64)], b: &[(u64, f64)]) -> Vec<Pair> {
    a.iter()
        .filter_map(|&(seed, av)| {
            let &(_, bv) = b.iter().find(|(s, _)| *s == seed)?;
            Some((seed, av, bv))
        })
        .collect()
}

/// The comparison of `column`/`take` between the groups, paired on their common seeds when
/// they share at least two, else unpaired; None when a side lacks it.
fn comparison(
    relu: &GroupStats,
    leaky: &GroupStats,
    column: Column,
    take: Take,
) -> Option<(Comparison, Vec<Pair>)> {
    let key = column.key(take);
    let (r, l) = (relu.values.get(&key)?, leaky.values.get(&key)?);
    let pairs = by_seed(r, l);
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
fn primary_of(relu: &GroupStats, leaky: &GroupStats, spec: &Spec) -> (Column, Take) {
    let has = |m: Metric, t: Take| {
        let k = m.key(t);
        relu.values.contains_key(&k) && leaky.values.contains_key(&k)
    };
    let (fd, mmd) = (Metric::EvalFd, Metric::EvalMmdPixel);
    match spec.primary {
        (c, t) if c == Column::total(fd) && !has(fd, t) && has(mmd, t) => (Column::total(mmd), t),
        p => p,
    }
}

/// Builds the rows: the primary, then the secondary table metrics (Holm-corrected together),
/// then the cost.
fn rows(relu: &GroupStats, leaky: &GroupStats, spec: &Spec) -> Vec<Row> {
    rows_scaled(relu, leaky, spec, None)
}

/// `rows`, with the equivalence margins a fraction of `scale`'s mean of each metric (default:
/// of `relu`'s, the reference arm).
fn rows_scaled(
    relu: &GroupStats,
    leaky: &GroupStats,
    spec: &Spec,
    scale: Option<&GroupStats>,
) -> Vec<Row> {
    let (pm, pt) = primary_of(relu, leaky, spec);
    let mut candidates: Vec<(Column, Take, String)> = vec![(pm, pt, heading_of(pm, pt))];
    for t in table() {
        let (c, k) = (Column::total(t.metric), t.cell.take);
        if (c, k) != (pm, pt) && t.metric != Metric::StepMs {
            candidates.push((c, k, t.cell.heading.to_string()));
        }
    }
    let cost = (Column::total(Metric::StepMs), Take::Mean);
    if (pm, pt) != cost {
        candidates.push((cost.0, cost.1, heading_of(cost.0, cost.1)));
    }
    let mut rows: Vec<Row> = candidates
        .into_iter()
        .enumerate()
        .filter_map(|(i, (column, take, heading))| {
            let (c, pairs) = comparison(relu, leaky, column, take)?;
            let base = match scale {
                Some(g) => g
                    .metrics
                    .get(&column.key(take))
                    .map_or(0.0, |s| s.mean.abs()),
                None => match c.mean_a.abs() > 0.0 {
                    true => c.mean_a.abs(),
                    false => c.mean_b.abs(),
                },
            };
            let margin = (spec.margin * base).max(f64::MIN_POSITIVE);
            Some(Row {
                column,
                take,
                heading,
                primary: i == 0,
                p_tost: c.tost(margin),
                p_judged: c.p,
                outcome: Outcome::Inconclusive,
                seeds_needed: None,
                runs_needed: None,
                margin,
                c,
                pairs,
            })
        })
        .collect();
    // Holm over the secondary metrics: not the primary, not the cost, and not the mechanism
    // rows (they differ by definition; testing them would only spend the family's error rate).
    let family: Vec<usize> = (0..rows.len())
        .filter(|&i| !rows[i].primary && rows[i].column.metric != Metric::StepMs)
        .filter(|&i| !rows[i].column.metric.differs_by_definition())
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
    // A yes/no primary (a run collapsed or not) is judged by Fisher's exact test of the two
    // rates, as named before the runs; its sample size is Fisher's too, not the paired t-test's
    // (whose margin, a share of one rate, means little for counts).
    if scale.is_none()
        && let Some(r) = rows.iter_mut().find(|r| r.primary)
        && let Some((p, [(ry, rn), (ly, ln)])) = rates(relu, leaky, r.column, r.take)
    {
        r.p_judged = Some(p);
        r.outcome = r.c.outcome(r.margin, r.p_judged);
        r.seeds_needed = None;
        if r.outcome == Outcome::Inconclusive {
            let (a, b) = (ry as f64 / rn as f64, ly as f64 / ln as f64);
            r.runs_needed = fisher_runs_needed(a, b, ALPHA, POWER, MAX_RUNS_NEEDED);
        }
    }
    rows
}

/// The largest number of runs per arm a Fisher sample size is searched up to.
const MAX_RUNS_NEEDED: u64 = 300;

/// For a yes/no metric (`Metric::yes_no`, final values): Fisher's exact p and the counts
/// ((relu yes, relu n), (leaky yes, leaky n)); None for other metrics.
fn rates(
    relu: &GroupStats,
    leaky: &GroupStats,
    column: Column,
    take: Take,
) -> Option<(f64, [(u64, u64); 2])> {
    if !column.metric.yes_no() || take != Take::Last {
        return None;
    }
    let key = column.key(take);
    let count = |g: &GroupStats| -> Option<(u64, u64)> {
        let v = g.values.get(&key)?;
        Some((
            v.iter().filter(|x| x.1 >= 0.5).count() as u64,
            v.len() as u64,
        ))
    };
    let (r, l) = (count(relu)?, count(leaky)?);
    Some((fisher_exact(r.0, r.1, l.0, l.1)?, [r, l]))
}

/// A table heading for a metric not in the table (or the table's own); one layer's column
/// adds the layer: `dead on probe set (final), layer h1`.
fn heading_of(column: Column, take: Take) -> String {
    let total = table()
        .into_iter()
        .find(|t| t.metric == column.metric && t.cell.take == take)
        .map(|t| t.cell.heading.to_string())
        .unwrap_or_else(|| column.metric.key(take));
    match column.layer {
        None => total,
        Some(l) => format!("{total}, layer {}", layer_name(l)),
    }
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
        let holm = !self.primary
            && self.column.metric != Metric::StepMs
            && !self.column.metric.differs_by_definition();
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

    /// Whether the two arms gave the same value in every seed (a margin around 0 then means
    /// nothing: there is no spread to test against).
    pub fn identical(&self) -> bool {
        self.c.diff == 0.0 && self.c.sd == 0.0 && self.c.mean_a == self.c.mean_b
    }

    /// One line: the role, both arms' values (labelled `a` and `b`), the effect and outcome.
    pub fn finding(&self, a: &str, b: &str) -> String {
        format!(
            "{} — {}: {} ({a}) vs {} ({b}); {}: {}.",
            role(self),
            self.heading,
            num(self.c.mean_a),
            num(self.c.mean_b),
            self.effect(),
            self.outcome_words()
        )
    }

    /// The outcome in words.
    pub fn outcome_words(&self) -> String {
        match self.outcome {
            Outcome::Different => "different".into(),
            Outcome::Equivalent if self.identical() => {
                format!("the same in every seed ({})", num(self.c.mean_a))
            }
            Outcome::Equivalent => format!(
                "equivalent within ±{} (TOST {})",
                num(self.margin),
                show_p(self.p_tost.unwrap_or(1.0))
            ),
            Outcome::Inconclusive => match (self.seeds_needed, self.runs_needed) {
                (Some(n), _) => format!(
                    "inconclusive: ~{n} paired seeds would detect a difference of ±{}",
                    num(self.margin)
                ),
                (None, Some(n)) => format!(
                    "inconclusive: ~{n} runs of each would detect rates as far apart as these"
                ),
                (None, None) => "inconclusive".into(),
            },
        }
    }
}

/// The comparison of one relu group with one leaky group.
pub fn compare(relu: &GroupStats, leaky: &GroupStats, spec: &Spec) -> Verdict {
    let name = &leaky.label;
    let rows = rows(relu, leaky, spec);
    let mut findings: Vec<String> = rows.iter().map(|r| r.finding("relu", name)).collect();
    if let Some((p, [(ry, rn), (ly, ln)])) = rows
        .iter()
        .find(|r| r.primary)
        .and_then(|r| rates(relu, leaky, r.column, r.take))
    {
        findings.push(format!(
            "Collapsed runs: {ry} of {rn} relu vs {ly} of {ln} {name}; Fisher's exact test {} \
             (the primary's judged p).",
            show_p(p)
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
        headline: headline(&rows),
        rows,
        arms: ["relu".into(), "leaky".into()],
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
        let (c, t) = spec.primary;
        return format!(
            "The primary metric ({}) was not measured in these runs{}, so nothing is concluded: \
             the other rows show what each activation does to the gradients, not which trains \
             the better generator.",
            c.key(t),
            match c.metric.name().starts_with("eval_") {
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
            match p.column.metric.lower_is_better() {
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
        Outcome::Equivalent if p.identical() => format!(
            "No difference in the primary metric ({what}): {} for relu and {name} in every seed; \
             in this setting the activation does not change it.",
            num(p.c.mean_a)
        ),
        Outcome::Equivalent => format!(
            "No difference in the primary metric ({what}): equivalent within ±{:.0}% of relu's \
             ({}, TOST {}); in this setting the activation does not matter for it.",
            100.0 * spec.margin,
            p.effect(),
            show_p(p.p_tost.unwrap_or(1.0))
        ),
        Outcome::Inconclusive => {
            let need = match (p.seeds_needed, p.runs_needed) {
                (Some(n), _) => format!(
                    " With this spread, about {n} paired seeds would be needed to detect a \
                     difference of ±{:.0}% (power 0.8, α = {ALPHA}).",
                    100.0 * spec.margin
                ),
                (None, Some(n)) => format!(
                    " If the true rates were the observed ones, about {n} runs of each would \
                     give Fisher's exact test power 0.8 (α = {ALPHA})."
                ),
                (None, None) => String::new(),
            };
            format!(
                "Inconclusive on the primary metric ({what}): {}; neither a difference nor \
                 equivalence within ±{:.0}% is shown.{need}",
                p.effect(),
                100.0 * spec.margin
            )
        }
    };
    if let Some((fisher, [(ry, rn), (ly, ln)])) = rates(relu, leaky, p.column, p.take) {
        s += &format!(
            " Runs that collapsed: {ry} of {rn} relu, {ly} of {ln} {name} (Fisher's exact test {}).",
            show_p(fisher)
        );
    }
    if let Some(cost) = rows
        .iter()
        .find(|r| r.column.metric == Metric::StepMs && !r.primary)
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
            slope: match act {
                Act::Relu => 0.0,
                Act::Leaky => 0.2,
            },
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
        assert_eq!(v.rows[0].column, Column::total(Metric::EvalMmdPixel));
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
        let loss_d = v
            .rows
            .iter()
            .find(|r| r.column.metric == Metric::LossD)
            .unwrap();
        // Raw p = 2/64 for both; Holm over the two: 2 × 2/64.
        assert!((loss_d.c.p.unwrap() - 2.0 / 64.0).abs() < 1e-12);
        assert!((loss_d.p_judged.unwrap() - 4.0 / 64.0).abs() < 1e-12);
        assert_ne!(loss_d.outcome, Outcome::Different);
    }

    #[test]
    fn a_two_by_two_design_tests_the_interaction_per_seed() {
        let at = |act, setting: &str, v: &[f64]| GroupStats {
            setting: setting.into(),
            label: format!("{act:?} ({setting})"),
            ..group(act, 0, &[("d_dead_probe:last", v)])
        };
        // leaky − relu per seed: 0 at the low rate; −0.3, −0.2, −0.4, −0.3, −0.25 at the high.
        let groups = [
            at(Act::Relu, "lr-d=0.0002", &[0.1, 0.2, 0.1, 0.15, 0.1]),
            at(Act::Leaky, "lr-d=0.0002", &[0.1, 0.2, 0.1, 0.15, 0.1]),
            at(Act::Relu, "lr-d=0.002", &[0.5, 0.4, 0.6, 0.5, 0.45]),
            at(Act::Leaky, "lr-d=0.002", &[0.2, 0.2, 0.2, 0.2, 0.2]),
        ];
        let spec = Spec {
            primary: (Column::total(Metric::DDeadProbe), Take::Last),
            margin: 0.1,
        };
        let all = verdicts(&groups, &spec);
        // The interaction first, then one verdict per setting.
        assert_eq!(all.len(), 3);
        let i = &all[0];
        assert!(i.title.starts_with("interaction"), "{}", i.title);
        let p = &i.rows[0];
        assert!(p.primary && p.c.paired && p.c.n == 5);
        assert!((p.c.mean_a - 0.0).abs() < 1e-12 && (p.c.diff + 0.29).abs() < 1e-9);
        // All five contrasts negative: the exact sign-flip p is 2/32.
        assert!((p.c.p.unwrap() - 2.0 / 32.0).abs() < 1e-12);
        // Margin: 10% of relu's mean at the first setting (0.13).
        assert!((p.margin - 0.013).abs() < 1e-12);
        // 2/32 > 0.05: five seeds cannot show it, and the verdict says so.
        assert!(
            i.conclusion.starts_with("Inconclusive on whether"),
            "{}",
            i.conclusion
        );
        assert_eq!(i.arms[0], "effect at lr-d=0.0002");
        assert!(!i.conclusion.contains("  "), "{}", i.conclusion);
        // Without two settings there is no interaction.
        assert!(interaction(&groups[..2], &spec).is_none());
        assert!(
            !verdicts(&groups[2..], &spec)[0]
                .title
                .starts_with("interaction")
        );
    }

    #[test]
    fn a_primary_on_one_layer_is_judged_on_that_layer_only() {
        // Layer 1 differs in every seed; all layers together do not.
        let relu = group(
            Act::Relu,
            0,
            &[
                (
                    "d_dead_probe_h1:last",
                    &[0.30, 0.35, 0.40, 0.32, 0.38, 0.36],
                ),
                ("d_dead_probe:last", &[0.1, 0.2, 0.1, 0.2, 0.1, 0.2]),
            ],
        );
        let leaky = group(
            Act::Leaky,
            0,
            &[
                ("d_dead_probe_h1:last", &[0.0, 0.01, 0.0, 0.02, 0.0, 0.01]),
                ("d_dead_probe:last", &[0.1, 0.2, 0.1, 0.2, 0.1, 0.2]),
            ],
        );
        let spec = Spec {
            primary: Column::parse_key("d_dead_probe_h1:last").unwrap(),
            margin: 0.1,
        };
        let v = compare(&relu, &leaky, &spec);
        let p = &v.rows[0];
        assert!(p.primary && p.column.layer == Some(0), "{p:?}");
        assert_eq!(p.heading, "dead on probe set (final), layer h1");
        assert_eq!(p.outcome, Outcome::Different);
        assert!(v.conclusion.contains("layer h1"), "{}", v.conclusion);
        // The all-layers row is a secondary row of its own, identical in every seed.
        let all = v
            .rows
            .iter()
            .find(|r| r.column == Column::total(Metric::DDeadProbe))
            .unwrap();
        assert!(!all.primary && all.identical());
    }

    #[test]
    fn three_slopes_or_more_get_a_trend_test_of_the_primary() {
        let at = |act, slope: f64, v: &[f64]| GroupStats {
            slope,
            label: format!("α={slope}"),
            ..group(act, 0, &[("d_dead_probe:last", v)])
        };
        let spec = Spec {
            primary: (Column::total(Metric::DDeadProbe), Take::Last),
            margin: 0.1,
        };
        // Falling with α in each of three seeds (relu first, as α = 0).
        let groups = [
            at(Act::Leaky, 0.3, &[0.01, 0.0, 0.02]),
            at(Act::Relu, 0.0, &[0.3, 0.25, 0.28]),
            at(Act::Leaky, 0.05, &[0.1, 0.12, 0.09]),
        ];
        let all = verdicts(&groups, &spec);
        assert_eq!(all.len(), 3, "a trend, then relu vs each slope");
        let t = &all[0];
        assert_eq!(t.title, "trend across α = 0, 0.05, 0.3");
        // ρ = −1 in every seed; exactly 2 of the 6³ orderings reach |mean ρ| = 1.
        assert!(
            t.conclusion.contains("falls monotonically"),
            "{}",
            t.conclusion
        );
        assert!(t.conclusion.contains("ρ between α and"), "{}", t.conclusion);
        assert!(t.conclusion.contains("p = 0.009"), "{}", t.conclusion);
        assert!(t.rows.is_empty() && t.findings.len() == 3);
        assert!(!t.conclusion.contains("  "), "{}", t.conclusion);
        // Two levels: no trend test.
        assert!(trends(&groups[..2], &spec).is_empty());
    }

    #[test]
    fn collapse_is_judged_by_fishers_exact_test_of_the_two_rates() {
        let spec = Spec {
            primary: (Column::total(Metric::DCollapsed), Take::Last),
            margin: 0.1,
        };
        // 8 of 10 relu runs collapsed, 1 of 10 leaky: Fisher's two-sided p = 0.0055.
        let relu: Vec<f64> = (0..10).map(|i| f64::from(i < 8)).collect();
        let leaky: Vec<f64> = (0..10).map(|i| f64::from(i == 9)).collect();
        let v = compare(
            &group(Act::Relu, 0, &[("d_collapsed:last", &relu)]),
            &group(Act::Leaky, 0, &[("d_collapsed:last", &leaky)]),
            &spec,
        );
        let p = &v.rows[0];
        let fisher = fisher_exact(8, 10, 1, 10).unwrap();
        assert!((fisher - 0.005_477).abs() < 1e-5, "{fisher}");
        assert_eq!(p.p_judged, Some(fisher));
        assert_eq!(p.outcome, Outcome::Different);
        assert!(v.conclusion.starts_with("Prefer leaky"), "{}", v.conclusion);
        assert!(
            v.conclusion
                .contains("8 of 10 relu, 1 of 10 leaky α=0.2 (Fisher's exact test p = 0.005)"),
            "{}",
            v.conclusion
        );
    }

    #[test]
    fn an_inconclusive_collapse_rate_states_fishers_sample_size_not_the_t_tests() {
        let spec = Spec {
            primary: (Column::total(Metric::DCollapsed), Take::Last),
            margin: 0.1,
        };
        // deep-narrow's outcome on the silhouettes: 1 of 10 relu runs collapsed, 0 of 10 leaky.
        let relu: Vec<f64> = (0..10).map(|i| f64::from(i == 0)).collect();
        let leaky = vec![0.0; 10];
        let v = compare(
            &group(Act::Relu, 0, &[("d_collapsed:last", &relu)]),
            &group(Act::Leaky, 0, &[("d_collapsed:last", &leaky)]),
            &spec,
        );
        let p = &v.rows[0];
        assert_eq!(p.outcome, Outcome::Inconclusive);
        assert_eq!(p.seeds_needed, None);
        let n = fisher_runs_needed(0.1, 0.0, ALPHA, POWER, MAX_RUNS_NEEDED).unwrap();
        assert_eq!(p.runs_needed, Some(n));
        assert!(
            v.conclusion.contains(&format!(
                "about {n} runs of each would give Fisher's exact test power 0.8"
            )),
            "{}",
            v.conclusion
        );
        assert!(!v.conclusion.contains("paired seeds"), "{}", v.conclusion);
    }

    #[test]
    fn arms_equal_in_every_seed_are_called_the_same_not_equivalent_within_zero() {
        let spec = Spec {
            primary: (Column::total(Metric::DDeadProbe), Take::Last),
            margin: 0.1,
        };
        let zeros = [0.0; 6];
        let v = compare(
            &group(Act::Relu, 0, &[("d_dead_probe:last", &zeros)]),
            &group(Act::Leaky, 0, &[("d_dead_probe:last", &zeros)]),
            &spec,
        );
        assert_eq!(v.rows[0].outcome, Outcome::Equivalent);
        assert_eq!(v.rows[0].outcome_words(), "the same in every seed (0.0000)");
        assert!(v.conclusion.contains("in every seed"), "{}", v.conclusion);
        assert!(!v.conclusion.contains("±0"), "{}", v.conclusion);
    }
}
