//! Statistics over seeds: mean, spread, and whether two groups differ by more than their noise.

/// Mean, sample standard deviation and count of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanStd {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub std: f64,
    /// Number of values.
    pub n: usize,
}

impl MeanStd {
    /// Mean and spread of `values`; None when there are none.
    pub fn of(values: &[f64]) -> Option<MeanStd> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = match n {
            1 => 0.0,
            _ => values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64,
        };
        Some(MeanStd {
            mean,
            std: var.sqrt(),
            n,
        })
    }

    /// `mean ± std` with `digits` decimals (just the mean for one value).
    pub fn show(&self, digits: usize) -> String {
        match self.n {
            1 => format!("{:.*}", digits, self.mean),
            _ => format!("{:.*} ± {:.*}", digits, self.mean, digits, self.std),
        }
    }
}

/// How two groups of per-seed values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// The means differ by more than twice the standard error of their difference (Welch),
    /// and by more than a hair.
    Clear,
    /// Within the noise across seeds.
    NotClear,
    /// Fewer than two seeds on a side: no spread to judge the difference against.
    TooFewSeeds,
}

/// Whether `a` and `b` differ beyond their seed-to-seed noise: |Δmean| > 2·√(sa²/na + sb²/nb)
/// (about a 95% two-sided test for normal noise), with a floor of 1% of the larger magnitude so
/// that two all-but-identical constants are not called different.
pub fn difference(a: &MeanStd, b: &MeanStd) -> Difference {
    if a.n < 2 || b.n < 2 {
        return Difference::TooFewSeeds;
    }
    let delta = (a.mean - b.mean).abs();
    let se = (a.std.powi(2) / a.n as f64 + b.std.powi(2) / b.n as f64).sqrt();
    let floor = 0.01 * a.mean.abs().max(b.mean.abs());
    match delta > 2.0 * se && delta > floor {
        true => Difference::Clear,
        false => Difference::NotClear,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[f64]) -> MeanStd {
        MeanStd::of(v).unwrap()
    }

    #[test]
    fn mean_and_sample_std() {
        let m = ms(&[1.0, 2.0, 3.0]);
        assert_eq!((m.mean, m.std, m.n), (2.0, 1.0, 3));
        assert_eq!(m.show(2), "2.00 ± 1.00");
        assert_eq!(ms(&[4.0]).show(1), "4.0");
        assert!(MeanStd::of(&[]).is_none());
    }

    #[test]
    fn separated_groups_differ_and_overlapping_ones_do_not() {
        let relu = ms(&[0.51, 0.50, 0.52]);
        let leaky = ms(&[0.0, 0.0, 0.0]);
        assert_eq!(difference(&relu, &leaky), Difference::Clear);
        let a = ms(&[10.0, 14.0, 12.0]);
        let b = ms(&[11.0, 15.0, 13.5]);
        assert_eq!(difference(&a, &b), Difference::NotClear);
        // Identical constants are not "different", nor are near-identical ones.
        assert_eq!(
            difference(&ms(&[1.0, 1.0]), &ms(&[1.0, 1.0])),
            Difference::NotClear
        );
        assert_eq!(
            difference(&ms(&[1.0, 1.0]), &ms(&[1.001, 1.001])),
            Difference::NotClear
        );
        assert_eq!(
            difference(&ms(&[1.0]), &ms(&[5.0, 6.0])),
            Difference::TooFewSeeds
        );
    }
}
