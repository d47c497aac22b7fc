//! Statistics over replications: mean, sample standard deviation and the 95% Student-t
//! confidence half-width, t(R-1, 0.975) * sd / sqrt(R) (statrs for the quantile).

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean, sample standard deviation and 95% confidence half-width of a set of values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// How many values (replications) it is over.
    pub n: usize,
    /// Their mean; NaN without values.
    pub mean: f64,
    /// Their sample standard deviation (divisor n - 1); NaN with fewer than two values.
    pub sd: f64,
    /// Half-width of the 95% confidence interval; NaN with fewer than two values.
    pub ci95: f64,
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom.
pub(crate) fn t975(df: usize) -> f64 {
    match StudentsT::new(0.0, 1.0, df as f64) {
        Ok(t) => t.inverse_cdf(0.975),
        Err(_) => f64::NAN,
    }
}

/// Mean, sample standard deviation and 95% Student-t confidence half-width of `values`, as the
/// comparison table, the sweep and the report state a metric over replications.
pub fn estimate(values: &[f64]) -> Estimate {
    let n = values.len();
    if n == 0 {
        return Estimate {
            n,
            mean: f64::NAN,
            sd: f64::NAN,
            ci95: f64::NAN,
        };
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Estimate {
            n,
            mean,
            sd: f64::NAN,
            ci95: f64::NAN,
        };
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    Estimate {
        n,
        mean,
        sd,
        ci95: t975(n - 1) * sd / (n as f64).sqrt(),
    }
}

/// Population coefficient of variation and max over mean of a set of loads.
pub(crate) fn imbalance(loads: &[f64]) -> (f64, f64) {
    if loads.is_empty() {
        return (0.0, 0.0);
    }
    let n = loads.len() as f64;
    let mean = loads.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return (0.0, 0.0);
    }
    let sd = (loads.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n).sqrt();
    let max = loads.iter().cloned().fold(f64::MIN, f64::max);
    (sd / mean, max / mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        // Student-t tables: t(4, 0.975) = 2.776, t(9, 0.975) = 2.262, t(29, 0.975) = 2.045.
        assert!((t975(4) - 2.7764).abs() < 1e-3);
        assert!((t975(9) - 2.2622).abs() < 1e-3);
        assert!((t975(29) - 2.0452).abs() < 1e-3);
    }

    #[test]
    fn estimate_by_hand() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squares 32, sample sd sqrt(32/7) = 2.13809;
        // half-width t(7) * sd / sqrt(8) = 2.36462 * 2.13809 / 2.82843 = 1.78748.
        let e = estimate(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(e.mean, 5.0);
        assert!((e.sd - 2.13809).abs() < 1e-5);
        assert!((e.ci95 - 1.78748).abs() < 1e-4, "{}", e.ci95);
        assert!(estimate(&[3.0]).ci95.is_nan());
    }

    #[test]
    fn imbalance_by_hand() {
        // loads 1, 2, 3, 6: mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5.
        let (cov, mom) = imbalance(&[1.0, 2.0, 3.0, 6.0]);
        assert!((cov - 3.5f64.sqrt() / 3.0).abs() < 1e-12);
        assert_eq!(mom, 2.0);
        assert_eq!(imbalance(&[0.0, 0.0]), (0.0, 0.0));
    }
}
