//! Counting during a run: per-request outcomes, the latency histogram, per-backend counters
//! and time-series buckets. Memory is fixed by the number of backends and buckets, never by the
//! number of requests (latencies go into an HDR histogram with 3 significant digits).

use super::loss::LostCause;
use super::sources::WorkerAreas;
use crate::engine::SimTime;
use hdrhistogram::Histogram;

mod finish;
mod recovery;

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

pub(crate) struct Collector {
    warmup: SimTime,
    faults: Vec<FaultAcc>,
    pub(crate) killed_in_flight: u64,
    pub(crate) requests: u64,
    pub(crate) completed: u64,
    pub(crate) rejected: u64,
    pub(crate) no_server: u64,
    pub(crate) users: u64,
    pub(crate) relogins: u64,
    pub(crate) session_requests: u64,
    pub(crate) failed_attempts: u64,
    pub(crate) retries: u64,
    pub(crate) errors_502: u64,
    pub(crate) errors_503: u64,
    /// Distinct users (arrived after the warm-up) logged out at least once.
    pub(crate) users_logged_out: u64,
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
    /// Waits under 1 µs (most, below saturation), added to `wait_hist` at the end in one
    /// `record_n`: the same histogram for a third of the recording work.
    wait_zeros: u64,
    service_sum_ns: u128,
}

impl Collector {
    pub(crate) fn new(backends: usize, warmup: SimTime, bucket_width: SimTime) -> Self {
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
            wait_zeros: 0,
            wait_hist: Histogram::new_with_bounds(1, 86_400_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).expect("3 digits is valid")),
            service_sum_ns: 0,
        }
    }

    /// Whether a request that arrived at `arrival` counts in the statistics.
    #[inline]
    pub(crate) fn measured(&self, arrival: SimTime) -> bool {
        arrival >= self.warmup
    }

    #[inline]
    pub(crate) fn user_arrived(&mut self, now: SimTime) {
        if self.measured(now) {
            self.users += 1;
        }
    }

    /// A request arrived at the balancer; `relogin` if it is a login after a lost session.
    #[inline]
    pub(crate) fn request_arrived(&mut self, now: SimTime, relogin: bool) {
        if relogin && let Some(f) = self.faults.last_mut() {
            f.relogins += 1;
        }
        if self.measured(now) {
            self.requests += 1;
            self.relogins += relogin as u64;
        }
    }

    #[inline]
    pub(crate) fn routed(&mut self, b: usize, arrival: SimTime) {
        self.bucket[b].requests += 1;
        if self.measured(arrival) {
            self.backends[b].requests += 1;
        }
    }

    #[inline]
    pub(crate) fn no_server(&mut self, arrival: SimTime) {
        self.fault_failed();
        if self.measured(arrival) {
            self.no_server += 1;
        }
    }

    /// An attempt on backend `b` failed: connection refused, or a 502 from its web server.
    #[inline]
    pub(crate) fn failed_attempt(&mut self, b: usize, arrival: SimTime) {
        if self.measured(arrival) {
            self.failed_attempts += 1;
            self.backends[b].failed_attempts += 1;
        }
    }

    /// The balancer tries a request again (nginx next upstream, HAProxy retry or redispatch).
    #[inline]
    pub(crate) fn retried(&mut self, arrival: SimTime) {
        if self.measured(arrival) {
            self.retries += 1;
        }
    }

    /// The client got a 502 (nginx ran out of tries, or a backend's 502 was passed on).
    #[inline]
    pub(crate) fn error_502(&mut self, b: usize, arrival: SimTime) {
        self.bucket[b].errors += 1;
        self.fault_failed();
        if self.measured(arrival) {
            self.errors_502 += 1;
        }
    }

    /// The client got a 503 from HAProxy after its retries.
    #[inline]
    pub(crate) fn error_503(&mut self, b: usize, arrival: SimTime) {
        self.bucket[b].errors += 1;
        self.fault_failed();
        if self.measured(arrival) {
            self.errors_503 += 1;
        }
    }

    #[inline]
    pub(crate) fn rejected(&mut self, b: usize, arrival: SimTime) {
        self.bucket[b].errors += 1;
        self.fault_failed();
        if self.measured(arrival) {
            self.rejected += 1;
            self.backends[b].errors += 1;
        }
    }

    /// A request that needed its session looked it up on backend `b`.
    #[inline]
    pub(crate) fn session_lookup(&mut self, b: usize, arrival: SimTime, lost: Option<LostCause>) {
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
    pub(crate) fn completed(&mut self, b: usize, arrival: SimTime, now: SimTime) {
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
    pub(crate) fn served(&mut self, arrival: SimTime, wait: SimTime, service: SimTime) {
        if self.measured(arrival) {
            self.served += 1;
            self.waited += (wait > SimTime::ZERO) as u64;
            self.wait_sum_ns += wait.as_nanos() as u128;
            match wait.as_nanos() / 1_000 {
                0 => self.wait_zeros += 1,
                us => self.wait_hist.saturating_record(us),
            }
            self.service_sum_ns += service.as_nanos() as u128;
        }
    }

    /// A request in flight on backend `b` died with it: the client gets a 502.
    pub(crate) fn killed(&mut self, b: usize, arrival: SimTime) {
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
    pub(crate) fn fault_started(&mut self, kind: &'static str, target: String, at: SimTime) -> u32 {
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
    pub(crate) fn faults_started(&self) -> u32 {
        self.faults.len() as u32
    }

    /// A user lost their session: `first` if it is the first time for a user who arrived after
    /// the warm-up, `in_fault` if it is the first time since the latest fault started.
    #[inline]
    pub(crate) fn user_logged_out(&mut self, first: bool, in_fault: bool) {
        self.users_logged_out += first as u64;
        if in_fault && let Some(f) = self.faults.last_mut() {
            f.users_logged_out += 1;
        }
    }

    /// The balancer noticed fault `f` (first time only).
    pub(crate) fn fault_detected(&mut self, f: u32, now: SimTime) {
        if let Some(a) = self.faults.get_mut(f as usize) {
            a.detected.get_or_insert(now);
        }
    }

    /// The target of fault `f` is serving again.
    pub(crate) fn fault_recovered(&mut self, f: u32, now: SimTime) {
        if let Some(a) = self.faults.get_mut(f as usize) {
            a.recovered.get_or_insert(now);
        }
    }

    /// Snapshot of busy-worker integrals at the end of the warm-up.
    pub(crate) fn warmup_ended(&mut self, backends: &[impl WorkerAreas], now: SimTime) {
        for (i, b) in backends.iter().enumerate() {
            self.busy_at_warmup[i] = b.areas_at(now).0;
        }
    }

    /// Closes the current time bucket at `now` and opens the next.
    pub(crate) fn close_bucket(&mut self, backends: &[impl WorkerAreas], up: &[bool], now: SimTime) {
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
    pub(crate) fn run_ended(&mut self, backends: &[impl WorkerAreas], now: SimTime) {
        self.busy_end_time = Some(now);
        for (i, b) in backends.iter().enumerate() {
            self.busy_at_end[i] = b.areas_at(now).0;
        }
    }
}
