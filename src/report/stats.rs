//! Mean and spread over seeds (the report's table; the comparisons are in `paired`).

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
}
