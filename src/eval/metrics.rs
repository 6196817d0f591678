//! Sample-quality statistics on feature vectors: Fréchet distance, k-NN precision and recall,
//! class coverage, and a pixel-space kernel MMD for data without labels.

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rayon::prelude::*;

/// `n` feature vectors of length `dim`, row-major.
#[derive(Debug, Clone)]
pub struct Features {
    /// The values, `n * dim` of them.
    pub values: Vec<f32>,
    /// Length of one vector.
    pub dim: usize,
}

impl Features {
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.values.len() / self.dim.max(1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// Mean vector and (unbiased) covariance matrix.
    pub fn gaussian(&self) -> (DVector<f64>, DMatrix<f64>) {
        let (n, d) = (self.len(), self.dim);
        let x = DMatrix::from_row_iterator(n, d, self.values.iter().map(|&v| v as f64));
        let mean = DVector::from_iterator(d, x.column_iter().map(|c| c.mean()));
        let centred = DMatrix::from_fn(n, d, |i, j| x[(i, j)] - mean[j]);
        let cov = centred.transpose() * &centred / (n.max(2) - 1) as f64;
        (mean, cov)
    }
}

/// Fréchet distance between the Gaussians fitted to two feature sets.
pub fn frechet_distance(a: &Features, b: &Features) -> f64 {
    let (m1, s1) = a.gaussian();
    let (m2, s2) = b.gaussian();
    frechet_gaussians(&m1, &s1, &m2, &s2)
}

/// ‖μ1−μ2‖² + tr(Σ1) + tr(Σ2) − 2·tr((Σ1^½ Σ2 Σ1^½)^½), the Fréchet (2-Wasserstein) distance
/// between N(μ1, Σ1) and N(μ2, Σ2).
pub fn frechet_gaussians(
    m1: &DVector<f64>,
    s1: &DMatrix<f64>,
    m2: &DVector<f64>,
    s2: &DMatrix<f64>,
) -> f64 {
    let root1 = sqrt_psd(s1);
    let cross = sqrt_psd(&(&root1 * s2 * &root1));
    let d = (m1 - m2).norm_squared() + s1.trace() + s2.trace() - 2.0 * cross.trace();
    // Rounding can leave a tiny negative for identical inputs; a NaN stays NaN (f64::max would
    // turn it into 0, a perfect score).
    if d < 0.0 { 0.0 } else { d }
}

/// Square root of a symmetric positive semi-definite matrix (negative rounding clipped to 0).
fn sqrt_psd(m: &DMatrix<f64>) -> DMatrix<f64> {
    let sym = (m + m.transpose()) * 0.5;
    let eig = SymmetricEigen::new(sym);
    let roots = eig.eigenvalues.map(|v| v.max(0.0).sqrt());
    &eig.eigenvectors * DMatrix::from_diagonal(&roots) * eig.eigenvectors.transpose()
}

fn dist2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Squared distance of each vector of `x` to its k-th nearest other vector in `x`.
fn knn_radii(x: &Features, k: usize) -> Vec<f32> {
    (0..x.len())
        .into_par_iter()
        .map(|i| {
            let mut d: Vec<f32> = (0..x.len())
                .filter(|&j| j != i)
                .map(|j| dist2(x.row(i), x.row(j)))
                .collect();
            if d.is_empty() {
                // A single vector: no neighbours, a ball of radius 0.
                return 0.0;
            }
            let k = k.min(d.len()).max(1) - 1;
            *d.select_nth_unstable_by(k, f32::total_cmp).1
        })
        .collect()
}

/// Fraction of `query` vectors inside at least one k-NN ball of `manifold`.
fn inside(manifold: &Features, radii: &[f32], query: &Features) -> f64 {
    let hits = inside_each(manifold, radii, query)
        .into_iter()
        .filter(|&hit| hit)
        .count();
    hits as f64 / query.len().max(1) as f64
}

/// For each `query` vector, whether it lies inside at least one k-NN ball of `manifold`.
fn inside_each(manifold: &Features, radii: &[f32], query: &Features) -> Vec<bool> {
    (0..query.len())
        .into_par_iter()
        .map(|i| (0..manifold.len()).any(|j| dist2(query.row(i), manifold.row(j)) <= radii[j]))
        .collect()
}

/// For each `fake` vector, whether it lies inside the real manifold (the union of each real
/// vector's ball reaching its k-th nearest other real vector): the samples precision counts.
pub fn inside_real(real: &Features, fake: &Features, k: usize) -> Vec<bool> {
    inside_each(real, &knn_radii(real, k), fake)
}

/// Improved precision and recall (Kynkäänniemi et al. 2019): precision is the share of fake
/// samples inside the real manifold (union of k-NN balls), recall the share of real samples
/// inside the fake manifold.
pub fn precision_recall(real: &Features, fake: &Features, k: usize) -> (f64, f64) {
    let precision = inside(real, &knn_radii(real, k), fake);
    let recall = inside(fake, &knn_radii(fake, k), real);
    (precision, recall)
}

/// Class coverage of predicted labels: the share of the `classes` that receive at least
/// `min_share` of the predictions, and the KL divergence (nats) of the predicted-class histogram
/// from uniform (0 when every class is equally frequent, ln(classes) for a single class).
pub fn class_coverage(predicted: &[usize], classes: usize, min_share: f64) -> (f64, f64) {
    let mut counts = vec![0usize; classes];
    for &p in predicted {
        counts[p] += 1;
    }
    let n = predicted.len().max(1) as f64;
    let produced = counts
        .iter()
        .filter(|&&c| c > 0 && c as f64 / n >= min_share)
        .count();
    let kl = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            p * (p * classes as f64).ln()
        })
        .sum::<f64>();
    (produced as f64 / classes as f64, kl.max(0.0))
}

/// The share of `predicted` labels in each of `classes` classes.
pub fn class_shares(predicted: &[usize], classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; classes];
    for &p in predicted {
        counts[p] += 1;
    }
    let n = predicted.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / n).collect()
}

/// Squared maximum mean discrepancy with a Gaussian kernel whose width is the median pairwise
/// distance of the pooled samples (unbiased estimate; near 0 for one distribution).
pub fn mmd_rbf(a: &Features, b: &Features) -> f64 {
    let pooled: Vec<&[f32]> = (0..a.len())
        .map(|i| a.row(i))
        .chain((0..b.len()).map(|i| b.row(i)))
        .collect();
    // Median heuristic over a bounded number of pairs.
    let mut d: Vec<f32> = Vec::new();
    let step = (pooled.len() / 200).max(1);
    for i in (0..pooled.len()).step_by(step) {
        for j in (i + 1..pooled.len()).step_by(step) {
            d.push(dist2(pooled[i], pooled[j]));
        }
    }
    let mid = d.len() / 2;
    let width = if d.is_empty() {
        1.0
    } else {
        (*d.select_nth_unstable_by(mid, f32::total_cmp).1 as f64).max(1e-12)
    };
    let k = |x: &[f32], y: &[f32]| (-(dist2(x, y) as f64) / width).exp();
    let mean_within = |f: &Features| {
        let n = f.len();
        let s: f64 = (0..n)
            .into_par_iter()
            .map(|i| {
                (0..n)
                    .filter(|&j| j != i)
                    .map(|j| k(f.row(i), f.row(j)))
                    .sum::<f64>()
            })
            .sum();
        s / (n * (n - 1)).max(1) as f64
    };
    let cross: f64 = (0..a.len())
        .into_par_iter()
        .map(|i| (0..b.len()).map(|j| k(a.row(i), b.row(j))).sum::<f64>())
        .sum::<f64>()
        / (a.len() * b.len()).max(1) as f64;
    mean_within(a) + mean_within(b) - 2.0 * cross
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Normal};

    /// `n` samples of N(mean, diag(std²)) in `dim` dimensions.
    fn gaussian(n: usize, means: &[f32], stds: &[f32], seed: u64) -> Features {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut values = Vec::with_capacity(n * means.len());
        for _ in 0..n {
            for (m, s) in means.iter().zip(stds) {
                values.push(Normal::new(*m, *s).unwrap().sample(&mut rng));
            }
        }
        Features {
            values,
            dim: means.len(),
        }
    }

    #[test]
    fn frechet_distance_of_known_gaussians_matches_the_closed_form() {
        // Diagonal covariances: FD = Σ (μ1−μ2)² + Σ (σ1−σ2)².
        let (m1, m2) = (
            DVector::from_vec(vec![0.0, 1.0, 2.0]),
            DVector::from_vec(vec![1.0, 1.0, 0.0]),
        );
        let (s1, s2) = (vec![1.0, 4.0, 9.0], vec![4.0, 4.0, 1.0]);
        let fd = frechet_gaussians(
            &m1,
            &DMatrix::from_diagonal(&DVector::from_vec(s1.clone())),
            &m2,
            &DMatrix::from_diagonal(&DVector::from_vec(s2.clone())),
        );
        let want: f64 = (&m1 - &m2).norm_squared()
            + s1.iter()
                .zip(&s2)
                .map(|(a, b): (&f64, &f64)| (a.sqrt() - b.sqrt()).powi(2))
                .sum::<f64>();
        assert!((fd - want).abs() < 1e-9, "{fd} vs {want}");
        // A full (rotated) covariance against itself: 0.
        let s = DMatrix::from_row_slice(2, 2, &[2.0, 0.8, 0.8, 1.0]);
        let m = DVector::from_vec(vec![0.5, -0.5]);
        assert!(frechet_gaussians(&m, &s, &m, &s) < 1e-9);
        // A broken input reads as broken, not as a perfect 0.
        let bad = DMatrix::from_row_slice(2, 2, &[f64::NAN, 0.0, 0.0, 1.0]);
        assert!(frechet_gaussians(&m, &bad, &m, &s).is_nan());
        // Sampled: close to the exact value.
        let a = gaussian(4000, &[0.0, 0.0], &[1.0, 1.0], 1);
        let b = gaussian(4000, &[2.0, 0.0], &[1.0, 2.0], 2);
        let fd = frechet_distance(&a, &b);
        assert!((fd - 5.0).abs() < 0.3, "{fd}");
    }

    #[test]
    fn same_distribution_scores_high_and_noise_scores_low() {
        let means = [0.0f32; 8];
        let stds = [1.0f32; 8];
        let real = gaussian(600, &means, &stds, 3);
        let held_out = gaussian(600, &means, &stds, 4);
        let (p, r) = precision_recall(&real, &held_out, 3);
        // Finite samples: a fresh point misses all k-NN balls now and then (~0.89 here).
        assert!(p > 0.85 && r > 0.85, "precision {p} recall {r}");
        assert!(frechet_distance(&real, &held_out) < 0.3);
        assert!(mmd_rbf(&real, &held_out).abs() < 0.01);

        let far = gaussian(600, &[6.0f32; 8], &stds, 5);
        let (p, r) = precision_recall(&real, &far, 3);
        assert!(p < 0.05 && r < 0.05, "precision {p} recall {r}");
        assert!(frechet_distance(&real, &far) > 200.0);
        assert!(mmd_rbf(&real, &far) > 0.5);

        // A collapsed generator: precise (inside the real manifold) but without recall.
        let collapsed = gaussian(600, &means, &[0.05f32; 8], 6);
        let (p, r) = precision_recall(&real, &collapsed, 3);
        assert!(p > 0.9 && r < 0.2, "precision {p} recall {r}");
    }

    #[test]
    fn the_samples_inside_the_real_manifold_are_the_ones_precision_counts() {
        let means = [0.0f32; 8];
        let real = gaussian(300, &means, &[1.0f32; 8], 3);
        // Half near the real data, half far from it.
        let mut fake = gaussian(100, &means, &[1.0f32; 8], 4);
        fake.values
            .extend(gaussian(100, &[6.0f32; 8], &[1.0f32; 8], 5).values);
        let inside = inside_real(&real, &fake, 3);
        assert_eq!(inside.len(), 200);
        let share = inside.iter().filter(|&&i| i).count() as f64 / 200.0;
        assert_eq!(share, precision_recall(&real, &fake, 3).0);
        assert!(inside[..100].iter().filter(|&&i| i).count() > 80);
        assert!(inside[100..].iter().all(|&i| !i));
    }

    #[test]
    fn one_class_covers_one_kth_with_maximal_kl() {
        let (cov, kl) = class_coverage(&[2; 100], 4, 0.01);
        assert_eq!(cov, 0.25);
        assert!((kl - 4f64.ln()).abs() < 1e-12);
        let even: Vec<usize> = (0..100).map(|i| i % 4).collect();
        let (cov, kl) = class_coverage(&even, 4, 0.01);
        assert_eq!(cov, 1.0);
        assert!(kl.abs() < 1e-12);
        // A class seen once in 1000 does not count as produced.
        let mut rare = vec![0usize; 999];
        rare.push(1);
        assert_eq!(class_coverage(&rare, 2, 0.01).0, 0.5);
    }
}
