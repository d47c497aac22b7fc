//! Counting during a run: per-request outcomes, the latency histogram, per-backend counters
//! and time-series buckets. Memory is fixed by the number of backends and buckets, never by the
//! number of requests (latencies go into an HDR histogram with 3 significant digits).

use super::loss::LostCause;
use super::sources::{BackendShape, ServerReport, StoreTotals, WorkerAreas};
use super::{BackendRow, FaultRow, RunResult, StoreRow, SummaryRow, TimeseriesRow, round6, stats};
use crate::engine::SimTime;
use hdrhistogram::Histogram;

#[derive(Clone, Default)]
struct PerBackend {
    requests: u64,
    completed: u64,
    errors: u64,
    lost: u64,
    failed_attempts: u64,
}

#[derive(Clone, Copy, Default)]
struct Bucket {
    requests: u64,
    lost: u64,
    errors: u64,
    completed: u64,
    latency_ns: u128,
    busy_area: u128,
    queue_area: u128,
}

/// A finished bucket of one backend, with its time averages already computed.
struct ClosedBucket {
    start: SimTime,
    backend: usize,
    requests: u64,
    lost: u64,
    errors: u64,
    completed: u64,
    latency_ns: u128,
    busy_workers: f64,
    queue_length: f64,
    up: bool,
    /// Percentiles of the latency of every request completed in the bucket, all backends [ms].
    p50_ms: f64,
    p99_ms: f64,
}

/// Counts of one fault while it is the latest.
struct FaultAcc {
    kind: &'static str,
    target: String,
    at: SimTime,
    detected: Option<SimTime>,
    recovered: Option<SimTime>,
    failed: u64,
    lost: [u64; LostCause::COUNT],
    relogins: u64,
    /// Distinct users logged out while this fault was the latest.
    users_logged_out: u64,
}

pub struct Collector {
    warmup: SimTime,
    faults: Vec<FaultAcc>,
    pub killed_in_flight: u64,
    pub requests: u64,
    pub completed: u64,
    pub rejected: u64,
    pub no_server: u64,
    pub users: u64,
    pub relogins: u64,
    pub session_requests: u64,
    pub failed_attempts: u64,
    pub retries: u64,
    pub errors_502: u64,
    pub errors_503: u64,
    /// Distinct users (arrived after the warm-up) logged out at least once.
    pub users_logged_out: u64,
    lost: [u64; LostCause::COUNT],
    latency_sum_ns: u128,
    hist: Histogram<u64>,
    /// The latencies completed in the current bucket, all backends [us]; reset per bucket.
    /// Two significant digits up to an hour keep it at ~25 KB, so resetting it per bucket stays
    /// cheap even with 100000 buckets; percentiles of a chart need no more.
    bucket_hist: Histogram<u64>,
    backends: Vec<PerBackend>,
    bucket_width: SimTime,
    bucket_start: SimTime,
    bucket: Vec<Bucket>,
    rows: Vec<ClosedBucket>,
    busy_at_warmup: Vec<u128>,
    busy_at_end: Vec<u128>,
    /// When the measured window closed (the last bucket's end).
    busy_end_time: Option<SimTime>,
    /// Measured completed requests: their waits for a worker (sum, how many waited at all,
    /// histogram in us) and the time their worker held them (sum).
    served: u64,
    waited: u64,
    wait_sum_ns: u128,
    wait_hist: Histogram<u64>,
    service_sum_ns: u128,
}

impl Collector {
    pub fn new(backends: usize, warmup: SimTime, bucket_width: SimTime) -> Self {
        Collector {
            warmup,
            faults: Vec::new(),
            killed_in_flight: 0,
            requests: 0,
            completed: 0,
            rejected: 0,
            no_server: 0,
            users: 0,
            relogins: 0,
            session_requests: 0,
            failed_attempts: 0,
            retries: 0,
            errors_502: 0,
            errors_503: 0,
            users_logged_out: 0,
            lost: [0; LostCause::COUNT],
            latency_sum_ns: 0,
            // 1 us to 1 day, 3 significant digits: percentiles within 0.1%.
            hist: Histogram::new_with_bounds(1, 86_400_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).expect("3 digits is valid")),
            bucket_hist: Histogram::new_with_bounds(1, 3_600_000_000, 2)
                .unwrap_or_else(|_| Histogram::new(2).expect("2 digits is valid")),
            backends: vec![PerBackend::default(); backends],
            bucket_width,
            bucket_start: SimTime::ZERO,
            bucket: vec![Bucket::default(); backends],
            rows: Vec::new(),
            busy_at_warmup: vec![0; backends],
            busy_at_end: vec![0; backends],
            busy_end_time: None,
            served: 0,
            waited: 0,
            wait_sum_ns: 0,
            wait_hist: Histogram::new_with_bounds(1, 86_400_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).expect("3 digits is valid")),
            service_sum_ns: 0,
        }
    }

    /// Whether a request that arrived at `arrival` counts in the statistics.
    #[inline]
    pub fn measured(&self, arrival: SimTime) -> bool {
        arrival >= self.warmup
    }

    #[inline]
    pub fn user_arrived(&mut self, now: SimTime) {
        if self.measured(now) {
            self.users += 1;
        }
    }

    /// A request arrived at the balancer; `relogin` if it is a login after a lost session.
    #[inline]
    pub fn request_arrived(&mut self, now: SimTime, relogin: bool) {
        if relogin && let Some(f) = self.faults.last_mut() {
            f.relogins += 1;
        }
        if self.measured(now) {
            self.requests += 1;
            self.relogins += relogin as u64;
        }
    }

    #[inline]
    pub fn routed(&mut self, b: usize, arrival: SimTime) {
        self.bucket[b].requests += 1;
        if self.measured(arrival) {
            self.backends[b].requests += 1;
        }
    }

    #[inline]
    pub fn no_server(&mut self, arrival: SimTime) {
        self.fault_failed();
        if self.measured(arrival) {
            self.no_server += 1;
        }
    }

    /// An attempt on backend `b` failed: connection refused, or a 502 from its web server.
    #[inline]
    pub fn failed_attempt(&mut self, b: usize, arrival: SimTime) {
        if self.measured(arrival) {
            self.failed_attempts += 1;
            self.backends[b].failed_attempts += 1;
        }
    }

    /// The balancer tries a request again (nginx next upstream, HAProxy retry or redispatch).
    #[inline]
    pub fn retried(&mut self, arrival: SimTime) {
        if self.measured(arrival) {
            self.retries += 1;
        }
    }

    /// The client got a 502 (nginx ran out of tries, or a backend's 502 was passed on).
    #[inline]
    pub fn error_502(&mut self, b: usize, arrival: SimTime) {
        self.bucket[b].errors += 1;
        self.fault_failed();
        if self.measured(arrival) {
            self.errors_502 += 1;
        }
    }

    /// The client got a 503 from HAProxy after its retries.
    #[inline]
    pub fn error_503(&mut self, b: usize, arrival: SimTime) {
        self.bucket[b].errors += 1;
        self.fault_failed();
        if self.measured(arrival) {
            self.errors_503 += 1;
        }
    }

    #[inline]
    pub fn rejected(&mut self, b: usize, arrival: SimTime) {
        self.bucket[b].errors += 1;
        self.fault_failed();
        if self.measured(arrival) {
            self.rejected += 1;
            self.backends[b].errors += 1;
        }
    }

    /// A request that needed its session looked it up on backend `b`.
    #[inline]
    pub fn session_lookup(&mut self, b: usize, arrival: SimTime, lost: Option<LostCause>) {
        if let Some(cause) = lost {
            self.bucket[b].lost += 1;
            if let Some(f) = self.faults.last_mut() {
                f.lost[cause as usize] += 1;
            }
        }
        if self.measured(arrival) {
            self.session_requests += 1;
            if let Some(cause) = lost {
                self.lost[cause as usize] += 1;
                self.backends[b].lost += 1;
            }
        }
    }

    #[inline]
    pub fn completed(&mut self, b: usize, arrival: SimTime, now: SimTime) {
        // Counted in the bucket where it completes (the request may have arrived earlier).
        self.bucket[b].completed += 1;
        self.bucket[b].latency_ns += (now - arrival).as_nanos() as u128;
        self.bucket_hist
            .saturating_record(((now - arrival).as_nanos() / 1_000).max(1));
        if self.measured(arrival) {
            self.completed += 1;
            self.backends[b].completed += 1;
            let ns = (now - arrival).as_nanos();
            self.latency_sum_ns += ns as u128;
            self.hist.saturating_record((ns / 1_000).max(1));
        }
    }

    /// A completed request that arrived at `arrival` waited `wait` in its backend's queue for
    /// a worker, which then held it for `service` (session phases and application). Counted
    /// for measured requests, beside [`Collector::completed`].
    pub fn served(&mut self, arrival: SimTime, wait: SimTime, service: SimTime) {
        if self.measured(arrival) {
            self.served += 1;
            self.waited += (wait > SimTime::ZERO) as u64;
            self.wait_sum_ns += wait.as_nanos() as u128;
            self.wait_hist.saturating_record(wait.as_nanos() / 1_000);
            self.service_sum_ns += service.as_nanos() as u128;
        }
    }

    /// A request in flight on backend `b` died with it: the client gets a 502.
    pub fn killed(&mut self, b: usize, arrival: SimTime) {
        self.error_502(b, arrival);
        if self.measured(arrival) {
            self.killed_in_flight += 1;
        }
    }

    #[inline]
    fn fault_failed(&mut self) {
        if let Some(f) = self.faults.last_mut() {
            f.failed += 1;
        }
    }

    /// A fault starts; returns its number (its row in `faults.csv`).
    pub fn fault_started(&mut self, kind: &'static str, target: String, at: SimTime) -> u32 {
        self.faults.push(FaultAcc {
            kind,
            target,
            at,
            detected: None,
            recovered: None,
            failed: 0,
            lost: [0; LostCause::COUNT],
            relogins: 0,
            users_logged_out: 0,
        });
        (self.faults.len() - 1) as u32
    }

    /// How many faults have started so far.
    #[inline]
    pub fn faults_started(&self) -> u32 {
        self.faults.len() as u32
    }

    /// A user lost their session: `first` if it is the first time for a user who arrived after
    /// the warm-up, `in_fault` if it is the first time since the latest fault started.
    #[inline]
    pub fn user_logged_out(&mut self, first: bool, in_fault: bool) {
        self.users_logged_out += first as u64;
        if in_fault && let Some(f) = self.faults.last_mut() {
            f.users_logged_out += 1;
        }
    }

    /// The balancer noticed fault `f` (first time only).
    pub fn fault_detected(&mut self, f: u32, now: SimTime) {
        if let Some(a) = self.faults.get_mut(f as usize) {
            a.detected.get_or_insert(now);
        }
    }

    /// The target of fault `f` is serving again.
    pub fn fault_recovered(&mut self, f: u32, now: SimTime) {
        if let Some(a) = self.faults.get_mut(f as usize) {
            a.recovered.get_or_insert(now);
        }
    }

    /// Snapshot of busy-worker integrals at the end of the warm-up.
    pub fn warmup_ended(&mut self, backends: &[impl WorkerAreas], now: SimTime) {
        for (i, b) in backends.iter().enumerate() {
            self.busy_at_warmup[i] = b.areas_at(now).0;
        }
    }

    /// Closes the current time bucket at `now` and opens the next.
    pub fn close_bucket(&mut self, backends: &[impl WorkerAreas], up: &[bool], now: SimTime) {
        let width = (now - self.bucket_start).as_nanos().max(1) as f64;
        let q = |h: &Histogram<u64>, q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        let (p50_ms, p99_ms) = (q(&self.bucket_hist, 0.50), q(&self.bucket_hist, 0.99));
        self.bucket_hist.reset();
        for (i, b) in backends.iter().enumerate() {
            let (busy, queue) = b.areas_at(now);
            let acc = self.bucket[i];
            self.rows.push(ClosedBucket {
                start: self.bucket_start,
                backend: i,
                requests: acc.requests,
                lost: acc.lost,
                errors: acc.errors,
                completed: acc.completed,
                latency_ns: acc.latency_ns,
                busy_workers: (busy - acc.busy_area) as f64 / width,
                queue_length: (queue - acc.queue_area) as f64 / width,
                up: up.get(i).copied().unwrap_or(true),
                p50_ms,
                p99_ms,
            });
            self.bucket[i] = Bucket {
                busy_area: busy,
                queue_area: queue,
                ..Bucket::default()
            };
        }
        self.bucket_start = now;
    }

    /// Snapshot at the end of the measured window (the scenario's duration).
    pub fn run_ended(&mut self, backends: &[impl WorkerAreas], now: SimTime) {
        self.busy_end_time = Some(now);
        for (i, b) in backends.iter().enumerate() {
            self.busy_at_end[i] = b.areas_at(now).0;
        }
    }

    pub fn bucket_width(&self) -> SimTime {
        self.bucket_width
    }

    /// Turns the counts into result rows.
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        self,
        ids: (&str, &str, u32, u64),
        strategy_index: usize,
        backends: &[impl BackendShape],
        sessions_held: &[u64],
        measured: SimTime,
        events: u64,
        store: &StoreTotals,
        servers: &[ServerReport],
    ) -> RunResult {
        let (scenario, strategy, replication, seed) = ids;
        let secs = measured.as_secs_f64().max(1e-12);
        let serving: Vec<f64> = backends
            .iter()
            .zip(&self.backends)
            .filter(|(c, _)| c.balanced())
            .map(|(_, b)| b.completed as f64)
            .collect();
        let (cov, mom) = stats::imbalance(&serving);
        let lost_total: u64 = self.lost.iter().sum();
        let pct = |q: f64| {
            if self.hist.is_empty() {
                0.0
            } else {
                self.hist.value_at_quantile(q) as f64 / 1000.0
            }
        };
        let mut util_sum = 0.0;
        let backend_rows: Vec<BackendRow> = backends
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let b = &self.backends[i];
                let busy = (self.busy_at_end[i] - self.busy_at_warmup[i]) as f64 / 1e9;
                let util = busy / (c.workers() as f64 * secs);
                util_sum += util;
                BackendRow {
                    scenario: scenario.to_string(),
                    strategy: strategy.to_string(),
                    replication,
                    backend_index: i as u32,
                    backend: c.name().to_string(),
                    requests: b.requests,
                    completed: b.completed,
                    errors: b.errors,
                    utilization: round6(util),
                    sessions_held: sessions_held[i],
                    sessions_lost: b.lost,
                    failed_attempts: b.failed_attempts,
                }
            })
            .collect();
        let mut summary = SummaryRow {
            scenario: scenario.to_string(),
            strategy: strategy.to_string(),
            replication,
            seed,
            requests: self.requests,
            completed: self.completed,
            errors: self.rejected + self.no_server + self.errors_502 + self.errors_503,
            users: self.users,
            sessions_lost: lost_total,
            lost_session_pct: round6(if self.session_requests > 0 {
                100.0 * lost_total as f64 / self.session_requests as f64
            } else {
                0.0
            }),
            relogins: self.relogins,
            imbalance_cov: round6(cov),
            imbalance_max_over_mean: round6(mom),
            latency_mean_ms: round6(if self.completed > 0 {
                self.latency_sum_ns as f64 / self.completed as f64 / 1e6
            } else {
                0.0
            }),
            latency_p50_ms: round6(pct(0.50)),
            latency_p95_ms: round6(pct(0.95)),
            latency_p99_ms: round6(pct(0.99)),
            throughput_rps: round6(self.completed as f64 / secs),
            session_requests: self.session_requests,
            rejected: self.rejected,
            no_server: self.no_server,
            backend_utilization: round6(util_sum / backends.len() as f64),
            failed_attempts: self.failed_attempts,
            retries: self.retries,
            errors_502: self.errors_502,
            errors_503: self.errors_503,
            killed_in_flight: self.killed_in_flight,
            store_ops: servers.iter().map(|s| s.ops).sum(),
            store_utilization: round6(servers.iter().map(|s| s.utilization).fold(0.0, f64::max)),
            store_wait_mean_ms: round6({
                let ops: u64 = servers.iter().map(|s| s.ops).sum();
                let wait: u128 = servers.iter().map(|s| s.wait_ns).sum();
                if ops > 0 { wait as f64 / ops as f64 / 1e6 } else { 0.0 }
            }),
            store_latency_p99_ms: round6({
                let mut all: Option<Histogram<u64>> = None;
                for s in servers {
                    match &mut all {
                        None => all = Some(s.hist.clone()),
                        Some(h) => {
                            let _ = h.add(&s.hist);
                        }
                    }
                }
                match all {
                    Some(h) if !h.is_empty() => h.value_at_quantile(0.99) as f64 / 1e6,
                    _ => 0.0,
                }
            }),
            store_rejected: servers.iter().map(|s| s.rejected).sum(),
            store_evictions: store.evictions,
            replication_msgs: store.replication_msgs,
            replication_mb: round6(store.replication_bytes as f64 / 1e6),
            lock_wait_mean_ms: round6(if store.lock_waits > 0 {
                store.lock_wait_ns as f64 / store.lock_waits as f64 / 1e6
            } else {
                0.0
            }),
            lost_updates: store.lost_updates,
            store_timeouts: servers.iter().map(|s| s.timeouts).sum(),
            replication_cpu_s: round6(store.replication_cpu_ns as f64 / 1e9),
            cookie_bytes_mean: round6(if store.cookie_requests > 0 {
                store.cookie_bytes as f64 / store.cookie_requests as f64
            } else {
                0.0
            }),
            user_requests: self.requests - self.relogins,
            extra_backend_pct: round6(if self.requests > self.relogins {
                100.0 * (self.relogins + self.retries) as f64 / (self.requests - self.relogins) as f64
            } else {
                0.0
            }),
            users_logged_out: self.users_logged_out,
            users_logged_out_pct: round6(if self.users > 0 {
                100.0 * self.users_logged_out as f64 / self.users as f64
            } else {
                0.0
            }),
            offered_rps: round6(self.requests as f64 / secs),
            store_mb: round6(store.store_bytes as f64 / 1e6),
            cookie_mb: round6(store.cookie_bytes as f64 / 1e6),
            // Filled in by `cost::apply`, which knows the strategy's prices.
            cost_backends_per_h: 0.0,
            cost_store_per_h: 0.0,
            cost_network_per_h: 0.0,
            cost_lost_per_h: 0.0,
            cost_total_per_h: 0.0,
            // The `lost_*` columns: one per cause, set below from the one list of causes.
            stale_reads: store.stale_reads,
            partial_reads: store.partial_reads,
            wait_mean_ms: round6(if self.served > 0 {
                self.wait_sum_ns as f64 / self.served as f64 / 1e6
            } else {
                0.0
            }),
            wait_p99_ms: round6(if self.wait_hist.is_empty() {
                0.0
            } else {
                self.wait_hist.value_at_quantile(0.99) as f64 / 1000.0
            }),
            p_wait: round6(if self.served > 0 {
                self.waited as f64 / self.served as f64
            } else {
                0.0
            }),
            service_mean_ms: round6(if self.served > 0 {
                self.service_sum_ns as f64 / self.served as f64 / 1e6
            } else {
                0.0
            }),
            ..SummaryRow::default()
        };
        for cause in LostCause::ALL {
            summary.set_lost(cause, self.lost[cause as usize]);
        }
        let width = self.bucket_width.as_nanos().max(1);
        let store_util = |start: SimTime| -> f64 {
            let k = (start.as_nanos() / width) as usize;
            servers
                .iter()
                .filter_map(|s| s.bucket_utilization.get(k))
                .fold(0.0, |a: f64, &b| a.max(b))
        };
        let timeseries = self
            .rows
            .iter()
            .map(|r| TimeseriesRow {
                scenario: scenario.to_string(),
                strategy: strategy.to_string(),
                replication,
                time_s: round6(r.start.as_secs_f64()),
                backend: backends[r.backend].name().to_string(),
                requests: r.requests,
                busy_workers: round6(r.busy_workers),
                queue_length: round6(r.queue_length),
                up: r.up as u8,
                sessions_lost: r.lost,
                errors: r.errors,
                latency_mean_ms: round6(if r.completed > 0 {
                    r.latency_ns as f64 / r.completed as f64 / 1e6
                } else {
                    0.0
                }),
                store_utilization: round6(store_util(r.start)),
                cluster_latency_p50_ms: round6(r.p50_ms),
                cluster_latency_p99_ms: round6(r.p99_ms),
            })
            .collect();
        let stores = servers
            .iter()
            .map(|s| StoreRow {
                scenario: scenario.to_string(),
                strategy: strategy.to_string(),
                replication,
                server: s.name.clone(),
                ops: s.ops,
                utilization: round6(s.utilization),
                wait_mean_ms: round6(s.wait_mean_ms),
                latency_mean_ms: round6(s.latency_mean_ms),
                latency_p99_ms: round6(s.latency_p99_ms),
                rejected: s.rejected,
                timeouts: s.timeouts,
                evictions: s.evictions,
                items: s.items,
                memory_mb: round6(s.memory_bytes as f64 / 1e6),
                connections: s.connections,
                refused_connections: s.refused_connections,
            })
            .collect();
        let faults = self.fault_rows((scenario, strategy, replication));
        RunResult {
            strategy_index,
            summary,
            backends: backend_rows,
            timeseries,
            faults,
            stores,
            events,
        }
    }
}

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

    fn fault_rows(&self, ids: (&str, &str, u32)) -> Vec<FaultRow> {
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
