//! Normal latency and the return to it after a fault (docs/scenario-format.md, "Faults"), and
//! the fault rows built from them.

use super::Collector;
use crate::engine::SimTime;
use crate::metrics::loss::LostCause;
use crate::metrics::{FaultRow, round6};

/// How many buckets before the first fault define normal latency (see [`normal_latency`]).
pub const NORMAL_BUCKETS: usize = 10;
/// How many consecutive normal buckets mark the return to normal (see [`back_to_normal`]).
pub const NORMAL_RUN: usize = 3;

/// A bucket of cluster-wide latency: (start, end, mean latency of the requests completed in it,
/// None if none completed).
pub type LatencyBucket = (SimTime, SimTime, Option<f64>);

/// Normal latency before `first` (the first fault): the 95th percentile by nearest rank
/// (the ceil(0.95 n)-th smallest) of the mean latencies of the last [`NORMAL_BUCKETS`] buckets
/// that start at or after `warmup` and end at or before `first`; if there are none after the
/// warm-up, those before `first` at all. None without such a bucket.
pub fn normal_latency(buckets: &[LatencyBucket], warmup: SimTime, first: SimTime) -> Option<f64> {
    let last = |from: SimTime| -> Vec<f64> {
        let v: Vec<f64> = buckets
            .iter()
            .filter(|b| b.0 >= from && b.1 <= first)
            .filter_map(|b| b.2)
            .collect();
        v[v.len().saturating_sub(NORMAL_BUCKETS)..].to_vec()
    };
    let mut v = last(warmup);
    if v.is_empty() {
        v = last(SimTime::ZERO);
    }
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = (0.95 * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// When latency is normal again, searching from `from`: the start of the first run of
/// [`NORMAL_RUN`] consecutive buckets (fewer if the run ends first), beginning with the bucket
/// that holds `from` or a later one, whose mean latency is at most `normal`; a bucket in which
/// nothing completed is not normal. Never earlier than `from`. None if latency never returns.
pub fn back_to_normal(buckets: &[LatencyBucket], from: SimTime, normal: f64) -> Option<SimTime> {
    let start = buckets.iter().position(|b| b.1 > from)?;
    let ok = |b: &LatencyBucket| b.2.is_some_and(|l| l <= normal);
    (start..buckets.len())
        .find(|&i| buckets[i..buckets.len().min(i + NORMAL_RUN)].iter().all(ok))
        .map(|i| buckets[i].0.max(from))
}

impl Collector {
    /// Cluster-wide mean latency per time bucket: (start, end, mean latency [ns] or None).
    fn cluster_latency(&self) -> Vec<(SimTime, SimTime, Option<f64>)> {
        let mut out: Vec<(SimTime, SimTime, Option<f64>)> = Vec::new();
        let mut i = 0;
        while i < self.rows.len() {
            let start = self.rows[i].start;
            let (mut n, mut ns) = (0u64, 0u128);
            while i < self.rows.len() && self.rows[i].start == start {
                n += self.rows[i].completed;
                ns += self.rows[i].latency_ns;
                i += 1;
            }
            out.push((start, start + self.bucket_width, (n > 0).then(|| ns as f64 / n as f64)));
        }
        // The last bucket ends at the duration, possibly earlier than start + width.
        if let (Some(last), Some(end)) = (out.last_mut(), self.busy_end_time) {
            last.1 = end;
        }
        out
    }

    pub(super) fn fault_rows(&self, ids: (&str, &str, u32)) -> Vec<FaultRow> {
        let (scenario, strategy, replication) = ids;
        let buckets = self.cluster_latency();
        // Normal latency: the mean over buckets after the warm-up and before the first fault
        // (or before the first fault at all, if it falls in the warm-up).
        let first = self.faults.first().map_or(SimTime::MAX, |f| f.at);
        let mean_of = |from: SimTime| {
            let v: Vec<f64> = buckets
                .iter()
                .filter(|b| b.0 >= from && b.1 <= first)
                .filter_map(|b| b.2)
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let normal = mean_of(self.warmup).or_else(|| mean_of(SimTime::ZERO));
        let p95 = normal_latency(&buckets, self.warmup, first);
        // Sessions lost per second before the first fault (after the warm-up).
        let (mut lost_before, mut secs_before) = (0u64, 0.0);
        let mut last_start = None;
        for r in &self.rows {
            if r.start >= self.warmup && r.start + self.bucket_width <= first {
                lost_before += r.lost;
                if last_start != Some(r.start) {
                    secs_before += self.bucket_width.as_secs_f64();
                    last_start = Some(r.start);
                }
            }
        }
        let base_rate = if secs_before > 0.0 {
            lost_before as f64 / secs_before
        } else {
            0.0
        };
        let end = self.busy_end_time.unwrap_or(SimTime::MAX);
        let secs = |t: SimTime| round6(t.as_secs_f64());
        self.faults
            .iter()
            .enumerate()
            // A fault scheduled at or after the end starts while the last requests drain: it
            // is outside the run (`check` warns about it) and no output claims it.
            .filter(|(_, f)| f.at < end)
            .map(|(k, f)| {
                let from = f.recovered.or(f.detected).unwrap_or(f.at).max(f.at);
                let back = normal.and_then(|n| {
                    buckets
                        .iter()
                        .find(|b| b.0 >= from && b.2.is_some_and(|l| l <= 1.1 * n))
                        .map(|b| b.1 - f.at)
                });
                let lost: u64 = f.lost.iter().sum();
                let until = self.faults.get(k + 1).map_or(end, |n| n.at).max(f.at);
                let of = |c: LostCause| f.lost[c as usize];
                let known = of(LostCause::NodeFailure) + of(LostCause::RoutedElsewhere) + of(LostCause::StoreFailure);
                FaultRow {
                    scenario: scenario.to_string(),
                    strategy: strategy.to_string(),
                    replication,
                    fault: k as u32,
                    kind: f.kind.to_string(),
                    target: f.target.clone(),
                    at_s: secs(f.at),
                    detected_s: f.detected.map(secs),
                    recovered_s: f.recovered.map(secs),
                    requests_failed: f.failed,
                    sessions_lost: lost,
                    lost_node_failure: of(LostCause::NodeFailure),
                    lost_routed_elsewhere: of(LostCause::RoutedElsewhere),
                    lost_store_failure: of(LostCause::StoreFailure),
                    lost_other: lost - known,
                    lost_above_baseline: round6(lost as f64 - base_rate * (until - f.at).as_secs_f64()),
                    relogins: f.relogins,
                    latency_normal_after_s: back.map(secs),
                    users_logged_out: f.users_logged_out,
                    normal_latency_ms: p95.map(|n| round6(n / 1e6)),
                    time_to_normal_s: p95
                        .and_then(|n| back_to_normal(&buckets, f.at, n))
                        .map(|t| secs(t - f.at)),
                    time_to_normal_after_recovery_s: p95.and_then(|n| {
                        let r = f.recovered?;
                        back_to_normal(&buckets, r, n).map(|t| secs(t - r))
                    }),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod normal_tests {
    use super::*;

    /// Ten-second buckets with the given mean latencies in ms (None: nothing completed).
    fn buckets(ms: &[Option<f64>]) -> Vec<LatencyBucket> {
        ms.iter()
            .enumerate()
            .map(|(i, l)| {
                let s = SimTime::from_secs(10 * i as u64);
                (s, s + SimTime::from_secs(10), l.map(|x| x * 1e6))
            })
            .collect()
    }

    #[test]
    fn normal_is_the_p95_of_the_last_ten_pre_fault_buckets() {
        // Warm-up 0..20 s (buckets 0, 1 excluded: 900 ms), then 12 buckets 20..140 s before the
        // fault at 140 s. The last ten are 40..140 s: 41, 42, ..., 50 ms. Nearest rank of p95 over
        // ten values is the ceil(9.5) = 10th smallest: 50 ms. The 60 and 61 ms of 20..40 s are
        // not among the last ten.
        let mut ms = vec![Some(900.0), Some(900.0), Some(60.0), Some(61.0)];
        ms.extend((41..=50).map(|x| Some(x as f64)));
        ms.push(Some(500.0)); // the fault's bucket
        let b = buckets(&ms);
        let n = normal_latency(&b, SimTime::from_secs(20), SimTime::from_secs(140));
        assert_eq!(n, Some(50.0 * 1e6));
        // Only two buckets after a 100 s warm-up: 49, 50 -> rank ceil(1.9) = 2: 50 ms.
        assert_eq!(
            normal_latency(&b, SimTime::from_secs(120), SimTime::from_secs(140)),
            Some(50.0 * 1e6)
        );
        // A fault inside the warm-up falls back to every bucket before it: 900, 900 -> 900 ms.
        assert_eq!(
            normal_latency(&b, SimTime::from_secs(100), SimTime::from_secs(20)),
            Some(900.0 * 1e6)
        );
        assert_eq!(normal_latency(&b, SimTime::ZERO, SimTime::from_secs(5)), None);
    }

    #[test]
    fn back_to_normal_needs_three_normal_buckets_and_is_measured_from_fault_and_recovery() {
        // Normal = 50 ms. Fault at 25 s (bucket 20..30), recovery at 45 s (bucket 40..50).
        // Buckets: 0: 40, 1: 45, 2: 200 (fault), 3: none (nothing completed), 4: 120,
        // 5: 48, 6: 90 (a single bad bucket after one good one), 7: 40, 8: 41, 9: 42.
        // From the fault: bucket 0-1 lie before it; the first run of three normal buckets is
        // 7, 8, 9 (5 is followed by 6), so back at 70 s: 45 s after the fault, 25 s after the
        // recovery.
        let ms = [
            Some(40.0),
            Some(45.0),
            Some(200.0),
            None,
            Some(120.0),
            Some(48.0),
            Some(90.0),
            Some(40.0),
            Some(41.0),
            Some(42.0),
        ];
        let b = buckets(&ms);
        let n = 50.0 * 1e6;
        assert_eq!(
            back_to_normal(&b, SimTime::from_secs(25), n),
            Some(SimTime::from_secs(70))
        );
        assert_eq!(
            back_to_normal(&b, SimTime::from_secs(45), n),
            Some(SimTime::from_secs(70))
        );
        // From 72 s: its bucket 70..80 and the next two are normal: back at once, at 72 s.
        assert_eq!(
            back_to_normal(&b, SimTime::from_secs(72), n),
            Some(SimTime::from_secs(72))
        );
        // From 3 s: 0..10 and 10..20 are normal but 20..30 is not, so the search goes on to 70 s.
        assert_eq!(
            back_to_normal(&b, SimTime::from_secs(3), n),
            Some(SimTime::from_secs(70))
        );
        // Near the end a shorter run counts: from 95 s only bucket 9 is left, and it is normal.
        assert_eq!(
            back_to_normal(&b, SimTime::from_secs(95), n),
            Some(SimTime::from_secs(95))
        );
        // Latency that never comes back.
        let high = buckets(&[Some(40.0), Some(400.0), Some(400.0)]);
        assert_eq!(back_to_normal(&high, SimTime::from_secs(12), n), None);
    }
}
