//! Steady-state statistics for single long runs (the `steady_state` option): the MSER-5
//! truncation point and a batch-means confidence interval.
//!
//! They are computed from the run's time series, not from a per-request stream: the series
//! already exists (one value per `output.bucket` and backend, at most 100000 buckets), so
//! memory stays bounded by the number of buckets whatever the run length, and the simulator is
//! untouched. The observed quantity is the number of requests in the system (busy workers +
//! queue, summed over backends, time-averaged per bucket); by Little's law its mean over the
//! throughput is the mean response time. The price of buckets is resolution: MSER-5 can only
//! truncate at a multiple of 5 buckets, so set `output.bucket` small enough (the default
//! gives about 100 buckets per run).
//!
//! MSER-5 (White 1997; White, Cobb & Spratt 2000): group the series into batch means of 5
//! consecutive observations Z_1..Z_k, and choose the truncation d (0 <= d <= k/2) minimising
//! sum_{j>d} (Z_j - mean_{j>d} Z)^2 / (k - d)^2. Batch means (Law & Kelton, ch. 9): after the
//! truncation (or the scenario's warm-up, whichever is later), split the rest into B = 20
//! equal batches; the half-width is t(B-1, 0.975) sd(batch means) / sqrt(B).

use crate::metrics::TimeseriesRow;
use crate::metrics::round6;
use crate::metrics::stats::estimate;

/// Batches for the batch-means interval (Law & Kelton recommend 10 to 30).
const BATCHES: usize = 20;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct SteadyState {
    /// MSER-5's truncation point [s of simulated time]; None if the series is too short.
    pub(crate) truncation_s: Option<f64>,
    /// Batch-means mean of the requests in the system after the truncation.
    pub(crate) mean: Option<f64>,
    /// Its 95% batch-means confidence half-width.
    pub(crate) ci95: Option<f64>,
}

/// MSER-5's truncation, in observations of the original series (a multiple of 5), or None
/// with fewer than 4 batches of 5.
pub(crate) fn mser5(series: &[f64]) -> Option<usize> {
    let z: Vec<f64> = series.chunks_exact(5).map(|c| c.iter().sum::<f64>() / 5.0).collect();
    let k = z.len();
    if k < 4 {
        return None;
    }
    let mut best: Option<(f64, usize)> = None;
    for d in 0..=k / 2 {
        let tail = &z[d..];
        let n = tail.len() as f64;
        let mean = tail.iter().sum::<f64>() / n;
        let stat = tail.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n * n);
        if best.is_none_or(|(b, _)| stat < b) {
            best = Some((stat, d));
        }
    }
    best.map(|(_, d)| d * 5)
}

/// Mean and 95% batch-means half-width of a series, with [`BATCHES`] batches (the oldest
/// observations that do not fill a batch are left out); None with fewer than 2 observations
/// per batch.
pub(crate) fn batch_means(series: &[f64]) -> Option<(f64, f64)> {
    let size = series.len() / BATCHES;
    if size < 2 {
        return None;
    }
    let skip = series.len() - size * BATCHES;
    let means: Vec<f64> = series[skip..]
        .chunks_exact(size)
        .map(|c| c.iter().sum::<f64>() / size as f64)
        .collect();
    let e = estimate(&means);
    Some((e.mean, e.ci95))
}

/// The steady-state statistics of one run from its time series (rows ordered by bucket, then
/// backend, as the collector produces them).
pub(crate) fn from_timeseries(rows: &[TimeseriesRow], warmup_s: f64) -> SteadyState {
    let mut times: Vec<f64> = Vec::new();
    let mut series: Vec<f64> = Vec::new();
    for r in rows {
        if times.last() != Some(&r.time_s) {
            times.push(r.time_s);
            series.push(0.0);
        }
        if let Some(last) = series.last_mut() {
            *last += r.busy_workers + r.queue_length;
        }
    }
    let Some(d) = mser5(&series) else {
        return SteadyState::default();
    };
    let truncation_s = times.get(d).copied();
    // Never count the warm-up the scenario discards everywhere else.
    let from = times.iter().position(|t| *t >= warmup_s).unwrap_or(times.len()).max(d);
    let bm = batch_means(&series[from..]);
    SteadyState {
        truncation_s: truncation_s.map(round6),
        mean: bm.map(|(m, _)| round6(m)),
        ci95: bm.map(|(_, c)| round6(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mser5_cuts_off_an_initial_transient() {
        // 50 observations of a ramp 0, 1, ..., 9 then a constant 10 (with a +-1 wiggle):
        // batches 0..1 are the ramp; the minimum of the MSER statistic drops them.
        let mut s: Vec<f64> = (0..10).map(|i| i as f64).collect();
        s.extend((0..90).map(|i| 10.0 + if i % 2 == 0 { 1.0 } else { -1.0 }));
        assert_eq!(mser5(&s), Some(10));
        // A stationary series is not truncated.
        let flat: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        assert_eq!(mser5(&flat), Some(0));
        assert_eq!(mser5(&[1.0; 19]), None);
    }

    #[test]
    fn batch_means_by_hand() {
        // 40 observations, 20 batches of 2: batch j holds (j, j), so the batch means are
        // 0, 1, ..., 19: mean 9.5, sample sd sqrt(35) = 5.91608 (variance of 0..19 is
        // 20*21/12 = 35), half-width t(19, 0.975) sd / sqrt(20) = 2.09302 * 5.91608 / 4.47214
        // = 2.76883.
        let s: Vec<f64> = (0..40).map(|i| (i / 2) as f64).collect();
        let (m, ci) = batch_means(&s).unwrap();
        assert_eq!(m, 9.5);
        assert!((ci - 2.76883).abs() < 1e-4, "{ci}");
        // Observations that do not fill a batch are the oldest ones, left out.
        let mut t = vec![1000.0];
        t.extend(&s);
        assert_eq!(batch_means(&t).unwrap().0, 9.5);
        assert!(batch_means(&[1.0; 39]).is_none());
    }
}
