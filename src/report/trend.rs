//! A monotone trend across ordered levels (the LeakyReLU slope α, ReLU as α = 0), blocked by
//! seed: Page's test in its Spearman form. The statistic is the mean over seeds of the rank
//! correlation between level and value; its p-value comes from shuffling the values among the
//! levels within each seed (the seed's runs share initial weights, data order and noise, so only
//! the level is exchangeable under "no effect").

use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Level orderings drawn for the permutation p-value when there are too many to enumerate.
const SAMPLED: usize = 100_000;
/// Enumerate every within-seed ordering up to this many combinations.
const EXACT: f64 = 200_000.0;

/// Average ranks (1-based; ties share their mean rank).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's ρ between the level index (0, 1, ...) and `v`; 0 when `v` is constant.
pub fn rho(v: &[f64]) -> f64 {
    let k = v.len();
    if k < 2 {
        return 0.0;
    }
    let r = ranks(v);
    let m = (k as f64 + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (i, ri) in r.iter().enumerate() {
        let x = i as f64 + 1.0 - m;
        let y = ri - m;
        sxy += x * y;
        sxx += x * x;
        syy += y * y;
    }
    if syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Mean ρ over `blocks` (each one seed's values, in level order).
pub fn mean_rho(blocks: &[Vec<f64>]) -> f64 {
    blocks.iter().map(|b| rho(b)).sum::<f64>() / blocks.len().max(1) as f64
}

/// Two-sided permutation p-value of `mean_rho`: exact over every within-seed ordering when
/// there are at most 200 000 combinations, else from 100 000 sampled ones.
pub fn trend_p(blocks: &[Vec<f64>], rng: &mut StdRng) -> f64 {
    let observed = mean_rho(blocks).abs() - 1e-12;
    let combos: f64 = blocks
        .iter()
        .map(|b| (1..=b.len()).map(|i| i as f64).product::<f64>())
        .product();
    if combos <= EXACT {
        // Every ordering of every block: odometer over the blocks' permutations.
        let perms: Vec<Vec<Vec<f64>>> = blocks.iter().map(|b| permutations(b)).collect();
        let mut idx = vec![0usize; blocks.len()];
        let (mut hits, mut total) = (0u64, 0u64);
        loop {
            let rho_sum: f64 = idx.iter().zip(&perms).map(|(&i, p)| rho(&p[i])).sum();
            if (rho_sum / blocks.len() as f64).abs() >= observed {
                hits += 1;
            }
            total += 1;
            let mut b = 0;
            loop {
                if b == idx.len() {
                    return hits as f64 / total as f64;
                }
                idx[b] += 1;
                if idx[b] < perms[b].len() {
                    break;
                }
                idx[b] = 0;
                b += 1;
            }
        }
    }
    let mut shuffled = blocks.to_vec();
    let mut hits = 0usize;
    for _ in 0..SAMPLED {
        for b in &mut shuffled {
            b.shuffle(rng);
        }
        if mean_rho(&shuffled).abs() >= observed {
            hits += 1;
        }
    }
    // The observed ordering counts as one of the draws.
    (hits + 1) as f64 / (SAMPLED + 1) as f64
}

/// Every ordering of `v`.
fn permutations(v: &[f64]) -> Vec<Vec<f64>> {
    if v.len() <= 1 {
        return vec![v.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..v.len() {
        let mut rest = v.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn spearman_rho_of_known_orderings() {
        assert!((rho(&[1.0, 2.0, 3.0, 4.0]) - 1.0).abs() < 1e-12);
        assert!((rho(&[9.0, 5.0, 2.0, 0.5]) + 1.0).abs() < 1e-12);
        assert_eq!(rho(&[3.0, 3.0, 3.0]), 0.0);
        // Textbook: ranks (1, 3, 2, 4) against (1, 2, 3, 4): 1 − 6·Σd²/(n(n²−1)) = 1 − 12/60.
        assert!((rho(&[1.0, 3.0, 2.0, 4.0]) - 0.8).abs() < 1e-12);
        // Ties take their mean rank: (1, 2.5, 2.5) gives ρ = 0.866.
        assert!((rho(&[0.0, 1.0, 1.0]) - 3f64.sqrt() / 2.0).abs() < 1e-12);
    }

    #[test]
    fn exact_p_values_of_small_designs() {
        let mut rng = StdRng::seed_from_u64(1);
        // Two levels, three seeds, all rising: only the all-rising and all-falling orderings
        // of 2³ reach |mean ρ| = 1, so p = 2/8.
        let rising = vec![vec![1.0, 2.0]; 3];
        assert!((trend_p(&rising, &mut rng) - 0.25).abs() < 1e-12);
        // Three levels, two seeds, both perfectly rising: 2 of 36 orderings.
        let b = vec![vec![0.1, 0.5, 0.9], vec![0.2, 0.3, 0.8]];
        assert!((trend_p(&b, &mut rng) - 2.0 / 36.0).abs() < 1e-12);
    }

    #[test]
    fn sampled_p_values_find_a_real_trend_and_not_noise() {
        let mut rng = StdRng::seed_from_u64(2);
        // Six levels, five seeds, falling in every seed: far below 0.001.
        let falling: Vec<Vec<f64>> = (0..5)
            .map(|s| (0..6).map(|l| 10.0 - l as f64 + 0.1 * s as f64).collect())
            .collect();
        assert!((mean_rho(&falling) + 1.0).abs() < 1e-12);
        assert!(trend_p(&falling, &mut rng) < 0.001);
        // Orderings that cancel out: ρ = +1 and −1, no trend.
        let mixed = vec![
            (0..6).map(|l| l as f64).collect::<Vec<_>>(),
            (0..6).map(|l| -(l as f64)).collect(),
            vec![2.0, 5.0, 1.0, 4.0, 0.0, 3.0],
        ];
        assert!(trend_p(&mixed, &mut rng) > 0.5);
    }
}
