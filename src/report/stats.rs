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
    /// Welch's t-test rejects equal means at 95% (two-sided), and the means differ by more
    /// than a hair.
    Clear,
    /// Within the noise across seeds.
    NotClear,
    /// Fewer than two seeds on a side: no spread to judge the difference against.
    TooFewSeeds,
}

/// Whether `a` and `b` differ beyond their seed-to-seed noise: Welch's t-test at 95%
/// (two-sided; |Δmean| > t(0.975, ν)·√(sa²/na + sb²/nb) with the Welch–Satterthwaite ν, rounded
/// down), and by more than 1% of the larger magnitude so that two all-but-identical constants are
/// not called different.
pub fn difference(a: &MeanStd, b: &MeanStd) -> Difference {
    if a.n < 2 || b.n < 2 {
        return Difference::TooFewSeeds;
    }
    let delta = (a.mean - b.mean).abs();
    let floor = 0.01 * a.mean.abs().max(b.mean.abs());
    let (va, vb) = (a.std.powi(2) / a.n as f64, b.std.powi(2) / b.n as f64);
    let se = (va + vb).sqrt();
    let clear = match se > 0.0 {
        true => {
            let df =
                (va + vb).powi(2) / (va.powi(2) / (a.n - 1) as f64 + vb.powi(2) / (b.n - 1) as f64);
            delta > t975(df) * se && delta > floor
        }
        // No spread at all: any difference above the floor is systematic.
        false => delta > floor,
    };
    match clear {
        true => Difference::Clear,
        false => Difference::NotClear,
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (rounded down: conservative).
fn t975(df: f64) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    let k = df.floor().max(1.0) as usize;
    match k {
        1..=30 => T[k - 1],
        31..=60 => 2.000,
        _ => 1.960,
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
        // 2.5 standard errors apart with 3 seeds a side: over 2·SE, but Welch's t with about
        // 4 degrees of freedom needs 2.78·SE.
        let a = ms(&[9.0, 10.0, 11.0]);
        let b = ms(&[11.04, 12.04, 13.04]);
        assert_eq!(difference(&a, &b), Difference::NotClear);
        let b = ms(&[12.3, 13.3, 14.3]);
        assert_eq!(difference(&a, &b), Difference::Clear);
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
