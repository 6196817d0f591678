//! Comparing two arms over seeds: paired by seed where the runs share their seeds (same initial
//! weights, data order and noise), unpaired otherwise. Effect with a bootstrap confidence
//! interval, an exact (or sampled) permutation test, a standardised effect size, an equivalence
//! test (TOST) against a margin, Holm's correction, and the seeds a paired test would need.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use std::collections::HashMap;

use statrs::distribution::{Binomial, ContinuousCDF, Discrete, Hypergeometric, Normal, StudentsT};
use statrs::statistics::{Max, Min};

/// Level of every test and interval: 5% two-sided, 95% intervals.
pub const ALPHA: f64 = 0.05;
/// Power the sample-size estimate aims for.
pub const POWER: f64 = 0.8;
/// Bootstrap resamples.
const BOOTSTRAP: usize = 10_000;
/// Sign patterns (or label shuffles) drawn when there are too many to enumerate.
const SAMPLED: usize = 100_000;
/// Exact sign-flip enumeration up to this many pairs (2^16 patterns).
const EXACT_PAIRS: usize = 16;

/// One metric of two arms (`a` the reference, `b` the other), compared over seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Paired by seed (else two independent groups).
    pub paired: bool,
    /// Pairs, or the smaller group's size.
    pub n: usize,
    /// Mean of `a`.
    pub mean_a: f64,
    /// Mean of `b`.
    pub mean_b: f64,
    /// The effect: mean of b − a per pair (paired) or mean(b) − mean(a).
    pub diff: f64,
    /// 95% bootstrap percentile interval of `diff` (None with fewer than 2 pairs / per group).
    pub ci: Option<(f64, f64)>,
    /// Two-sided permutation p-value (sign flips, or label shuffles when unpaired).
    pub p: Option<f64>,
    /// Standardised effect: d_z = diff / sd(differences) (paired) or Cohen's d (pooled sd).
    pub effect: Option<f64>,
    /// Standard deviation of the paired differences (paired) or the pooled one (unpaired).
    pub sd: f64,
}

/// How a comparison comes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The arms differ: p < α and the interval excludes 0.
    Different,
    /// Equivalent within the margin (both one-sided tests reject at α).
    Equivalent,
    /// Neither: more seeds are needed to tell.
    Inconclusive,
}

impl Comparison {
    /// The paired comparison of `a[i]` with `b[i]` (the same seed).
    pub fn paired(a: &[f64], b: &[f64], seed: u64) -> Comparison {
        assert_eq!(a.len(), b.len(), "pairs");
        let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
        let n = d.len();
        let mut rng = StdRng::seed_from_u64(seed);
        let sd = sample_sd(&d);
        Comparison {
            paired: true,
            n,
            mean_a: mean(a),
            mean_b: mean(b),
            diff: mean(&d),
            ci: (n >= 2).then(|| bootstrap_ci(&d, &mut rng)),
            p: (n >= 1).then(|| sign_flip_p(&d, &mut rng)),
            effect: (n >= 2 && sd > 0.0).then(|| mean(&d) / sd),
            sd,
        }
    }

    /// Two independent groups (runs that do not share seeds).
    pub fn unpaired(a: &[f64], b: &[f64], seed: u64) -> Comparison {
        let mut rng = StdRng::seed_from_u64(seed);
        let (na, nb) = (a.len(), b.len());
        let pooled = match na + nb > 2 {
            true => ((sum_sq(a) + sum_sq(b)) / (na + nb - 2) as f64).sqrt(),
            false => 0.0,
        };
        let diff = mean(b) - mean(a);
        let enough = na >= 2 && nb >= 2;
        Comparison {
            paired: false,
            n: na.min(nb),
            mean_a: mean(a),
            mean_b: mean(b),
            diff,
            ci: enough.then(|| bootstrap_ci_unpaired(a, b, &mut rng)),
            p: (na >= 1 && nb >= 1).then(|| permutation_p(a, b, &mut rng)),
            effect: (enough && pooled > 0.0).then(|| diff / pooled),
            sd: pooled,
        }
    }

    /// Whether the arms differ clearly: p < α and the interval excludes 0.
    pub fn clear(&self) -> bool {
        self.differs(self.p)
    }

    /// The difference rule, judged on `p` (raw, or corrected for a secondary metric).
    fn differs(&self, p: Option<f64>) -> bool {
        p.is_some_and(|p| p < ALPHA) && self.ci.is_some_and(|(lo, hi)| lo > 0.0 || hi < 0.0)
    }

    /// The TOST p-value for equivalence within ±`margin` (the larger of the two one-sided
    /// t-tests' p-values); None without spread to test against.
    pub fn tost(&self, margin: f64) -> Option<f64> {
        if self.n < 2 || margin <= 0.0 {
            return None;
        }
        if self.sd == 0.0 {
            // No spread: equivalent exactly when the constant difference is inside.
            return Some(if self.diff.abs() < margin { 0.0 } else { 1.0 });
        }
        let (se, df) = match self.paired {
            true => (self.sd / (self.n as f64).sqrt(), (self.n - 1) as f64),
            false => (
                self.sd * (2.0 / self.n as f64).sqrt(),
                (2 * self.n - 2) as f64,
            ),
        };
        let t = StudentsT::new(0.0, 1.0, df).ok()?;
        let lower = 1.0 - t.cdf((self.diff + margin) / se);
        let upper = t.cdf((self.diff - margin) / se);
        Some(lower.max(upper))
    }

    /// The outcome against equivalence margin ±`margin`, testing difference at `p` (a
    /// corrected p-value for secondary metrics).
    pub fn outcome(&self, margin: f64, p: Option<f64>) -> Outcome {
        if self.differs(p) {
            Outcome::Different
        } else if self.tost(margin).is_some_and(|p| p < ALPHA) {
            Outcome::Equivalent
        } else {
            Outcome::Inconclusive
        }
    }

    /// Paired seeds needed to detect a difference of `margin` with power 0.8 at the observed
    /// spread (None without spread): the paired t-test's number, but never fewer than the exact
    /// sign-flip test needs to reach α at all (6 at α = 0.05).
    pub fn seeds_needed(&self, margin: f64) -> Option<usize> {
        let n = (self.n >= 2).then(|| seeds_needed(self.sd, margin, ALPHA, POWER))??;
        Some(n.max(min_pairs(ALPHA)))
    }
}

fn mean(v: &[f64]) -> f64 {
    match v.len() {
        0 => f64::NAN,
        n => v.iter().sum::<f64>() / n as f64,
    }
}

fn sum_sq(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum()
}

fn sample_sd(v: &[f64]) -> f64 {
    match v.len() {
        0 | 1 => 0.0,
        n => (sum_sq(v) / (n - 1) as f64).sqrt(),
    }
}

/// The fewest pairs whose exact two-sided sign-flip test can reach p < `alpha` (its smallest
/// p-value is 2/2^n).
pub fn min_pairs(alpha: f64) -> usize {
    (1..64)
        .find(|&n| 2.0 / 2f64.powi(n as i32) < alpha)
        .unwrap_or(64)
}

/// Two-sided sign-flip permutation p-value of the mean of paired differences `d`: exact over
/// all 2^n sign patterns for n ≤ 16, else from sampled patterns (the observed one counted).
pub fn sign_flip_p(d: &[f64], rng: &mut StdRng) -> f64 {
    let n = d.len();
    let observed = d.iter().sum::<f64>().abs();
    // Sums equal to the observed one up to rounding count as "as extreme".
    let tol = 1e-12 * d.iter().map(|x| x.abs()).sum::<f64>().max(1e-300);
    let extreme = |signs: &mut dyn FnMut(usize) -> bool| -> bool {
        let s: f64 = (0..n).map(|i| if signs(i) { -d[i] } else { d[i] }).sum();
        s.abs() >= observed - tol
    };
    if n <= EXACT_PAIRS {
        let total = 1u64 << n;
        let hits = (0..total)
            .filter(|&mask| extreme(&mut |i| mask >> i & 1 == 1))
            .count();
        hits as f64 / total as f64
    } else {
        let hits = (0..SAMPLED)
            .filter(|_| extreme(&mut |_| rng.random::<bool>()))
            .count();
        (hits + 1) as f64 / (SAMPLED + 1) as f64
    }
}

/// Two-sided permutation p-value of mean(b) − mean(a) over relabellings of the pooled values:
/// exact when there are at most 100 000 of them, else sampled.
pub fn permutation_p(a: &[f64], b: &[f64], rng: &mut StdRng) -> f64 {
    let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    let (na, n) = (a.len(), pooled.len());
    let total: f64 = pooled.iter().sum();
    let stat = |sum_a: f64| ((total - sum_a) / (n - na) as f64 - sum_a / na as f64).abs();
    let observed = stat(a.iter().sum());
    let tol = 1e-12 * pooled.iter().map(|x| x.abs()).sum::<f64>().max(1e-300);
    let combinations = binomial(n, na);
    if combinations <= SAMPLED as f64 {
        let (mut hits, mut all) = (0usize, 0usize);
        for_each_subset(n, na, &mut |idx| {
            let s: f64 = idx.iter().map(|&i| pooled[i]).sum();
            all += 1;
            if stat(s) >= observed - tol {
                hits += 1;
            }
        });
        hits as f64 / all as f64
    } else {
        let mut order: Vec<usize> = (0..n).collect();
        let hits = (0..SAMPLED)
            .filter(|_| {
                order.shuffle(rng);
                stat(order[..na].iter().map(|&i| pooled[i]).sum()) >= observed - tol
            })
            .count();
        (hits + 1) as f64 / (SAMPLED + 1) as f64
    }
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |c, i| c * (n - i) as f64 / (i + 1) as f64)
}

/// Calls `f` with every k-subset of 0..n (as sorted indices).
fn for_each_subset(n: usize, k: usize, f: &mut dyn FnMut(&[usize])) {
    fn go(start: usize, n: usize, k: usize, cur: &mut Vec<usize>, f: &mut dyn FnMut(&[usize])) {
        if cur.len() == k {
            return f(cur);
        }
        for i in start..=n - (k - cur.len()) {
            cur.push(i);
            go(i + 1, n, k, cur, f);
            cur.pop();
        }
    }
    go(0, n, k, &mut Vec::with_capacity(k), f);
}

/// The 95% percentile bootstrap interval of the mean of `d`.
pub fn bootstrap_ci(d: &[f64], rng: &mut StdRng) -> (f64, f64) {
    let n = d.len();
    let mut means: Vec<f64> = (0..BOOTSTRAP)
        .map(|_| (0..n).map(|_| d[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    percentile_interval(&mut means)
}

/// The 95% percentile bootstrap interval of mean(b) − mean(a), resampling each group.
fn bootstrap_ci_unpaired(a: &[f64], b: &[f64], rng: &mut StdRng) -> (f64, f64) {
    let resampled_mean = |v: &[f64], rng: &mut StdRng| {
        (0..v.len())
            .map(|_| v[rng.random_range(0..v.len())])
            .sum::<f64>()
            / v.len() as f64
    };
    let mut diffs: Vec<f64> = (0..BOOTSTRAP)
        .map(|_| resampled_mean(b, rng) - resampled_mean(a, rng))
        .collect();
    percentile_interval(&mut diffs)
}

fn percentile_interval(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64) as usize).min(v.len() - 1)];
    (at(ALPHA / 2.0), at(1.0 - ALPHA / 2.0))
}

/// Fisher's exact test of two rates, `a_yes` of `a_n` against `b_yes` of `b_n`: the two-sided
/// p-value sums the hypergeometric probabilities of every table with the same margins that is
/// no more likely than the observed one. None when a group is empty.
pub fn fisher_exact(a_yes: u64, a_n: u64, b_yes: u64, b_n: u64) -> Option<f64> {
    if a_n == 0 || b_n == 0 || a_yes > a_n || b_yes > b_n {
        return None;
    }
    let (lo, p) = fisher_p_values(a_n, b_n, a_yes + b_yes);
    p.get(a_yes.checked_sub(lo)? as usize).copied()
}

/// The probability that Fisher's exact test at level `alpha` rejects, with `n` runs in each
/// group, when the true rates are `rate_a` and `rate_b`: the sum over the outcomes (x of n, y of
/// n) of their binomial probabilities where the test's p is ≤ alpha. Outcomes rarer than 1e-12
/// are skipped.
pub fn fisher_power(n: u64, rate_a: f64, rate_b: f64, alpha: f64) -> f64 {
    let likely = |rate: f64| -> Vec<(u64, f64)> {
        let Ok(b) = Binomial::new(rate.clamp(0.0, 1.0), n) else {
            return Vec::new();
        };
        (0..=n)
            .map(|x| (x, b.pmf(x)))
            .filter(|&(_, q)| q > 1e-12)
            .collect()
    };
    let (a, b) = (likely(rate_a), likely(rate_b));
    // The test's p depends on x only through the table's margin x + y: computed once per margin.
    let mut p_by_margin: HashMap<u64, (u64, Vec<f64>)> = HashMap::new();
    let mut power = 0.0;
    for &(x, qa) in &a {
        for &(y, qb) in &b {
            let (lo, p) = p_by_margin
                .entry(x + y)
                .or_insert_with(|| fisher_p_values(n, n, x + y));
            if p[(x - *lo) as usize] <= alpha {
                power += qa * qb;
            }
        }
    }
    power
}

/// Fisher's two-sided p for every table of a group of `a_n` against one of `b_n` with `total`
/// yes in all, indexed by the first group's count from the returned lowest possible one: the
/// sum of the hypergeometric probabilities of the tables no more likely than that one (up to a
/// relative 1e-7, so tables as likely up to rounding count), from one sorted cumulative sum.
fn fisher_p_values(a_n: u64, b_n: u64, total: u64) -> (u64, Vec<f64>) {
    let Ok(h) = Hypergeometric::new(a_n + b_n, total, a_n) else {
        return (0, Vec::new());
    };
    let (lo, hi) = (h.min(), h.max());
    let pmf: Vec<f64> = (lo..=hi).map(|x| h.pmf(x)).collect();
    let mut sorted = pmf.clone();
    sorted.sort_by(f64::total_cmp);
    let cumulative: Vec<f64> = sorted
        .iter()
        .scan(0.0, |sum, q| {
            *sum += q;
            Some(*sum)
        })
        .collect();
    let p = pmf
        .iter()
        .map(|&q| {
            let within = sorted.partition_point(|&s| s <= q * (1.0 + 1e-7));
            cumulative[within - 1].min(1.0)
        })
        .collect();
    (lo, p)
}

/// Runs per group Fisher's exact test needs to reach `power` at level `alpha` when the true
/// rates are `rate_a` and `rate_b`: the smallest n up to `max` from four fifths of the normal
/// approximation's n on (the exact test needs more, never that much less), or None (equal
/// rates, or more than `max` would be needed).
pub fn fisher_runs_needed(
    rate_a: f64,
    rate_b: f64,
    alpha: f64,
    power: f64,
    max: u64,
) -> Option<u64> {
    let gap = (rate_a - rate_b).abs();
    if gap < 1e-12 {
        return None;
    }
    let z = Normal::standard();
    let mean = (rate_a + rate_b) / 2.0;
    let approx = ((z.inverse_cdf(1.0 - alpha / 2.0) * (2.0 * mean * (1.0 - mean)).sqrt()
        + z.inverse_cdf(power) * (rate_a * (1.0 - rate_a) + rate_b * (1.0 - rate_b)).sqrt())
        / gap)
        .powi(2);
    let start = ((0.8 * approx).floor() as u64).max(2);
    (start..=max).find(|&n| fisher_power(n, rate_a, rate_b, alpha) >= power)
}

/// Holm's step-down adjustment of `p` (same order as given), controlling the family-wise
/// error rate.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Pairs a two-sided paired t-test at level `alpha` needs to detect a mean difference `delta`
/// with `power`, when the differences have standard deviation `sd`: the smallest n with
/// n ≥ ((t(1−α/2, n−1) + t(power, n−1)) · sd / delta)², at least 2. None for sd = 0.
pub fn seeds_needed(sd: f64, delta: f64, alpha: f64, power: f64) -> Option<usize> {
    if sd <= 0.0 || delta <= 0.0 || !sd.is_finite() || !delta.is_finite() {
        return None;
    }
    let ratio = (sd / delta).powi(2);
    for n in 2..=1_000_000usize {
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64).ok()?;
        let need = (t.inverse_cdf(1.0 - alpha / 2.0) + t.inverse_cdf(power)).powi(2) * ratio;
        if n as f64 >= need {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal as NormalDist};

    /// The normal-approximation sample size ((z(1−α/2) + z(power)) · sd / delta)², unrounded:
    /// the closed form the paired t-test's estimate is checked against.
    fn seeds_needed_normal(sd: f64, delta: f64, alpha: f64, power: f64) -> f64 {
        let z = statrs::distribution::Normal::standard();
        ((z.inverse_cdf(1.0 - alpha / 2.0) + z.inverse_cdf(power)) * sd / delta).powi(2)
    }

    #[test]
    fn exact_sign_flip_p_values() {
        let mut rng = StdRng::seed_from_u64(1);
        // Five positive differences: only all-plus and all-minus are as extreme: 2/32.
        let p = sign_flip_p(&[0.3, 1.0, 0.2, 0.8, 0.5], &mut rng);
        assert!((p - 2.0 / 32.0).abs() < 1e-12, "{p}");
        // Three pairs can never go below 2/8.
        assert!((sign_flip_p(&[1.0, 2.0, 3.0], &mut rng) - 0.25).abs() < 1e-12);
        // All zero: every pattern is as extreme.
        assert_eq!(sign_flip_p(&[0.0, 0.0, 0.0, 0.0], &mut rng), 1.0);
        // d = (1, -1, 2): |sum| = 2; patterns with |±1 ±1 ±2| >= 2: all but (+1,-1... ) counted
        // by hand: sums 2,4,0,2,-2,0,-4,-2 -> 6 of 8.
        assert!((sign_flip_p(&[1.0, -1.0, 2.0], &mut rng) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn sampled_sign_flips_for_many_pairs_stay_in_range_and_find_a_consistent_shift() {
        let mut rng = StdRng::seed_from_u64(2);
        let d: Vec<f64> = (0..30)
            .map(|i| 0.1 + ((i * 7) % 11) as f64 / 10.0 - 0.5)
            .collect();
        let p = sign_flip_p(&d, &mut rng);
        assert!(p > 0.0 && p <= 1.0);
        let strong: Vec<f64> = (0..30).map(|i| 1.0 + (i % 3) as f64 * 0.1).collect();
        assert!(sign_flip_p(&strong, &mut rng) < 1e-4);
    }

    #[test]
    fn unpaired_permutation_p_values() {
        let mut rng = StdRng::seed_from_u64(3);
        // Completely separated groups of 3: 2 of C(6,3) = 20 labellings as extreme.
        let p = permutation_p(&[1.0, 2.0, 3.0], &[10.0, 11.0, 12.0], &mut rng);
        assert!((p - 2.0 / 20.0).abs() < 1e-12, "{p}");
        let same = permutation_p(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], &mut rng);
        assert_eq!(same, 1.0);
    }

    #[test]
    fn bootstrap_intervals_cover_the_mean_about_95_percent_of_the_time() {
        let mut data_rng = StdRng::seed_from_u64(4);
        let normal = NormalDist::new(1.0, 2.0).unwrap();
        let reps = 300;
        let mut covered = 0;
        for r in 0..reps {
            let d: Vec<f64> = (0..30).map(|_| normal.sample(&mut data_rng)).collect();
            let (lo, hi) = bootstrap_ci(&d, &mut StdRng::seed_from_u64(r));
            if lo <= 1.0 && 1.0 <= hi {
                covered += 1;
            }
        }
        let rate = covered as f64 / reps as f64;
        // The percentile interval undercovers a little at n = 30 (about 93-94%).
        assert!((0.90..=0.98).contains(&rate), "coverage {rate}");
    }

    #[test]
    fn tost_inside_and_outside_the_margin() {
        // Tight differences around 0.01 with margin 0.5: equivalent.
        let a = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0];
        let b_close = [10.02, 10.99, 12.01, 13.0, 14.03, 14.98];
        let c = Comparison::paired(&a, &b_close, 1);
        assert!(c.tost(0.5).unwrap() < ALPHA);
        assert_eq!(c.outcome(0.5, c.p), Outcome::Equivalent);
        // A shift of 2 with margin 0.5: not equivalent, and clearly different.
        let b_far: Vec<f64> = a.iter().map(|x| x + 2.0 + (x % 2.0) * 0.1).collect();
        let c = Comparison::paired(&a, &b_far, 1);
        assert!(c.tost(0.5).unwrap() > 0.5);
        assert_eq!(c.outcome(0.5, c.p), Outcome::Different);
        // Noisy and few: neither.
        let c = Comparison::paired(&[1.0, 5.0, 2.0], &[4.0, 1.0, 3.0], 1);
        assert_eq!(c.outcome(0.5, c.p), Outcome::Inconclusive);
        assert!(c.seeds_needed(0.5).unwrap() > 10);
    }

    #[test]
    fn identical_arms_are_never_different() {
        let a = [3.0, 4.5, 2.0, 7.0];
        let c = Comparison::paired(&a, &a, 9);
        assert_eq!(c.p, Some(1.0));
        assert!(!c.clear());
        assert_eq!(c.outcome(0.1, c.p), Outcome::Equivalent);
        let u = Comparison::unpaired(&a, &a, 9);
        assert!(!u.clear());
    }

    #[test]
    fn holm_adjusts_a_known_list() {
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.03, 0.06, 0.06, 0.02];
        for (a, w) in adjusted.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{adjusted:?}");
        }
        // 2 × 0.8 caps at 1, and the adjusted values never decrease down the order.
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
    }

    #[test]
    fn sample_size_matches_the_paired_t_test() {
        // d_z = 0.5 at α = 0.05 two-sided, power 0.8: 34 pairs (the normal approximation
        // gives 31.4; the t quantiles add the usual two or three).
        assert_eq!(seeds_needed(1.0, 0.5, 0.05, 0.8), Some(34));
        for (sd, delta) in [(1.0, 1.0), (2.0, 0.5), (0.3, 0.2)] {
            let n = seeds_needed(sd, delta, 0.05, 0.8).unwrap() as f64;
            let z = seeds_needed_normal(sd, delta, 0.05, 0.8);
            assert!(
                n >= z && n <= z.ceil() + 3.0,
                "sd {sd} delta {delta}: {n} vs {z}"
            );
        }
        assert_eq!(seeds_needed(0.0, 0.5, 0.05, 0.8), None);
        // A large effect: the t-test would need 3 pairs, but the exact test cannot go below
        // 2/2^n, so fewer than 6 pairs can never show it at 5%.
        assert_eq!(min_pairs(0.05), 6);
        assert_eq!(seeds_needed(0.3, 1.0, 0.05, 0.8), Some(3));
        let c = Comparison::paired(&[1.0, 2.0, 3.0], &[1.2, 2.5, 3.1], 1);
        assert_eq!(c.seeds_needed(10.0), Some(6));
    }

    #[test]
    fn fishers_power_and_the_runs_it_needs() {
        // Rates 1 and 0: every outcome is n of n against 0 of n, whose p is 2/C(2n, n):
        // 2/20 = 0.1 for n = 3, 2/70 = 0.029 for n = 4.
        assert_eq!(fisher_power(3, 1.0, 0.0, 0.05), 0.0);
        assert!((fisher_power(4, 1.0, 0.0, 0.05) - 1.0).abs() < 1e-12);
        assert_eq!(fisher_runs_needed(1.0, 0.0, 0.05, 0.8, 100), Some(4));
        // By hand for n = 2, rates 0.5 and 0: no 2-by-2 table of two runs each reaches 0.05.
        assert_eq!(fisher_power(2, 0.5, 0.0, 0.05), 0.0);
        // 10% against 0%: 78 runs each (power 0.804; 77 give 0.794), as an independent exact
        // enumeration with Python's math.comb finds.
        let n = fisher_runs_needed(0.1, 0.0, 0.05, 0.8, 500).unwrap();
        assert_eq!(n, 78);
        assert!((fisher_power(78, 0.1, 0.0, 0.05) - 0.80418).abs() < 1e-4);
        assert!((fisher_power(77, 0.1, 0.0, 0.05) - 0.79415).abs() < 1e-4);
        // Larger differences need fewer runs; equal rates have no answer.
        assert!(fisher_runs_needed(0.8, 0.1, 0.05, 0.8, 500).unwrap() < n);
        assert_eq!(fisher_runs_needed(0.3, 0.3, 0.05, 0.8, 500), None);
        assert_eq!(fisher_runs_needed(0.1, 0.0, 0.05, 0.8, 10), None);
        // The per-margin p-values are the definition's, table by table: the direct sum of the
        // tables no more likely than the observed one.
        let direct = |x: u64, total: u64| {
            let h = Hypergeometric::new(16, total, 8).unwrap();
            let observed = h.pmf(x);
            (h.min()..=h.max())
                .map(|y| h.pmf(y))
                .filter(|&q| q <= observed * (1.0 + 1e-7))
                .sum::<f64>()
                .min(1.0)
        };
        for total in 0..=16 {
            let (lo, p) = fisher_p_values(8, 8, total);
            for (i, &p) in p.iter().enumerate() {
                let x = lo + i as u64;
                let want = direct(x, total);
                assert!(
                    (p - want).abs() < 1e-12,
                    "x {x} of total {total}: {p} vs {want}"
                );
            }
        }
        // Close rates need many runs, or more than the cap: answered either way.
        let n = fisher_runs_needed(0.5, 0.3, 0.05, 0.8, 300).unwrap();
        assert!((80..120).contains(&n), "{n}");
        assert_eq!(fisher_runs_needed(0.55, 0.5, 0.05, 0.8, 300), None);
    }

    #[test]
    fn fisher_exact_on_textbook_tables() {
        // Fisher's lady tasting tea: 3 of 4 against 1 of 4, two-sided p = 34/70.
        let p = fisher_exact(3, 4, 1, 4).unwrap();
        assert!((p - 34.0 / 70.0).abs() < 1e-9, "{p}");
        // Every run of one arm collapsed and none of the other: 2 / C(20, 10).
        let p = fisher_exact(10, 10, 0, 10).unwrap();
        assert!((p - 2.0 / 184_756.0).abs() < 1e-12, "{p}");
        // No event on either side: nothing to tell apart.
        assert!((fisher_exact(0, 10, 0, 10).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(fisher_exact(1, 0, 0, 3), None);
    }
}
