//! What a run returns: the rows of `summary.csv`, `backends.csv` and `timeseries.csv` as typed
//! structs ([`RunResult`]), and the statistics that turn replications into confidence
//! intervals ([`stats`]).
//!
//! These types are the contract between the simulator and everything that consumes its output
//! (the CSV writers, sweeps, charts, the HTML report, log replay). Columns are only ever added,
//! never renamed. Every statistic counts only requests that arrived after the warm-up.

pub(crate) mod collector;
pub(crate) mod loss;
pub(crate) mod sources;
pub mod stats;

use serde::{Deserialize, Serialize};

/// Declares the summary row once: its identifying columns, then its numeric metrics, so that
/// the CSV header, the list of metric names, the vector of values and the typed columns
/// ([`col`]) can never disagree.
///
/// Reading a file: the identifying columns must be there; a metric column the file lacks (a
/// folder written by a version before the column was added) reads as 0 and is named in
/// [`SummaryRow::absent`], so that [`SummaryRow::metric`] and [`Column::of`] answer `None` for
/// it and the report shows it as absent rather than as a measured 0.
macro_rules! summary_row {
    ( $( $(#[$meta:meta])* $field:ident : $ty:ty ),* $(,)? ) => {
        /// One row of `summary.csv`: one strategy and replication.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        pub struct SummaryRow {
            /// The scenario's name.
            pub scenario: String,
            /// The strategy's label.
            pub strategy: String,
            /// The replication, from 0.
            pub replication: u32,
            /// The replication's seed.
            pub seed: u64,
            $( $(#[$meta])* #[serde(default)] pub $field: $ty, )*
            /// The metric columns the file this row was read from lacks (empty for a row the
            /// simulator made): [`SummaryRow::metric`] and [`Column::of`] answer `None` for
            /// them. Not a column.
            #[serde(skip)]
            pub(crate) absent: Vec<&'static str>,
        }

        impl SummaryRow {
            /// Names of the numeric metric columns, in column order.
            pub const METRICS: &'static [&'static str] = &[ $( stringify!($field) ),* ];

            /// The metric values in the order of [`Self::METRICS`].
            pub fn values(&self) -> Vec<f64> {
                vec![ $( self.$field as f64 ),* ]
            }

            /// One metric by its column name; `None` for an unknown name or a column absent
            /// from the file the row was read from.
            pub fn metric(&self, name: &str) -> Option<f64> {
                if self.absent.iter().any(|a| *a == name) {
                    return None;
                }
                match name {
                    $( stringify!($field) => Some(self.$field as f64), )*
                    _ => None,
                }
            }
        }

        /// The numeric columns of `summary.csv` as typed values: `col::latency_p99_ms` is the
        /// column, its name and how to read it from a row, so that the report names a column
        /// the compiler checks instead of a string.
        #[allow(non_upper_case_globals)]
        pub mod col {
            use super::{Column, SummaryRow};
            $(
                #[doc = concat!("The `", stringify!($field), "` column of `summary.csv`.")]
                pub const $field: Column = Column {
                    name: stringify!($field),
                    read: |r: &SummaryRow| r.$field as f64,
                };
            )*
        }
    };
}

/// One numeric column of `summary.csv` (see [`col`]).
#[derive(Clone, Copy)]
pub struct Column {
    /// The column's name in the CSV header.
    pub(crate) name: &'static str,
    read: fn(&SummaryRow) -> f64,
}

impl Column {
    /// The column's value in `row`; `None` when the file `row` was read from lacks the column.
    pub(crate) fn of(self, row: &SummaryRow) -> Option<f64> {
        if row.absent.contains(&self.name) {
            None
        } else {
            Some((self.read)(row))
        }
    }

    /// Whether any of `rows` came from a file without this column.
    pub(crate) fn absent_in(self, rows: &[SummaryRow]) -> bool {
        rows.iter().any(|r| r.absent.contains(&self.name))
    }
}

impl std::fmt::Debug for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "col::{}", self.name)
    }
}

impl PartialEq for Column {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl SummaryRow {
    /// Notes which metric columns a file's `header` lacks, for every row read from it.
    pub(crate) fn absent_from(header: &csv::StringRecord) -> Vec<&'static str> {
        Self::METRICS
            .iter()
            .copied()
            .filter(|m| !header.iter().any(|h| h == *m))
            .collect()
    }
}

summary_row! {
    /// Requests that arrived at the balancer after the warm-up (logins and re-logins included).
    requests: u64,
    /// Requests answered by a backend.
    completed: u64,
    /// Requests that got an error: `rejected + no_server + errors_502 + errors_503`.
    errors: u64,
    /// Users who arrived after the warm-up.
    users: u64,
    /// Requests of a logged-in user that did not find the session.
    sessions_lost: u64,
    /// `sessions_lost` as a percentage of the requests that needed a session.
    lost_session_pct: f64,
    /// Login requests made again after a lost session.
    relogins: u64,
    /// Coefficient of variation (population sd / mean) of completed requests per backend,
    /// over the backends that are neither `down` nor `backup`.
    imbalance_cov: f64,
    /// Busiest backend's completed requests over the mean.
    imbalance_max_over_mean: f64,
    /// Response time from arrival at the balancer to completion \[ms\].
    latency_mean_ms: f64,
    /// Median of the same response time (HDR histogram, 3 significant digits) \[ms\].
    latency_p50_ms: f64,
    /// 95th percentile of the same response time \[ms\].
    latency_p95_ms: f64,
    /// 99th percentile of the same response time \[ms\].
    latency_p99_ms: f64,
    /// Completed requests per second of measured time [requests/s].
    throughput_rps: f64,
    /// Requests that needed a session (the denominator of `lost_session_pct`).
    session_requests: u64,
    /// Requests rejected because the backend's queue was full.
    rejected: u64,
    /// Requests for which the balancer had no usable server.
    no_server: u64,
    /// Mean utilisation of the backends' workers (0..1).
    backend_utilization: f64,
    /// Lost sessions by cause.
    lost_routed_elsewhere: u64,
    /// Of `sessions_lost`: the node that held the session failed and lost it.
    lost_node_failure: u64,
    /// Attempts that failed: a connection refused by a dead backend, or a 502 from a backend
    /// whose application is down.
    failed_attempts: u64,
    /// Attempts after the first of a request (nginx next upstream, HAProxy retry/redispatch).
    retries: u64,
    /// Requests answered 502: nginx ran out of tries, or a backend's own 502 was passed on.
    errors_502: u64,
    /// Requests answered 503 by HAProxy after its retries.
    errors_503: u64,
    /// Requests in flight on a backend when it crashed or its application died: the balancer
    /// answers 502 (they are counted in `errors_502` too). Not retried: a request already sent
    /// is not idempotent to nginx (`proxy_next_upstream` without `non_idempotent`).
    killed_in_flight: u64,
    /// Store operations (every server of every store cluster).
    store_ops: u64,
    /// Utilisation of the busiest store server (0..1).
    store_utilization: f64,
    /// Mean time a store operation waited in its server's queue \[ms\].
    store_wait_mean_ms: f64,
    /// 99th percentile of a store operation's latency as its client sees it (queue, service,
    /// round trip) \[ms\].
    store_latency_p99_ms: f64,
    /// Store operations refused: connection limit, out of memory, item too large.
    store_rejected: u64,
    /// Sessions a store evicted before they expired.
    store_evictions: u64,
    /// Replication messages between nodes, and their size [MB = 10^6 bytes].
    replication_msgs: u64,
    /// The replication messages' size [MB = 10^6 bytes].
    replication_mb: f64,
    /// Mean wait for a session lock over requests that took (or gave up on) a lock \[ms\].
    lock_wait_mean_ms: f64,
    /// Writes that overwrote an update made after their read (last writer wins).
    lost_updates: u64,
    /// Of `sessions_lost`: the shared store lost the session (a crash without persistence) or
    /// refused it (connection limit, out of memory).
    lost_store_failure: u64,
    /// Of `sessions_lost`: the store evicted the session before it expired (memcached LRU).
    lost_eviction: u64,
    /// Of `sessions_lost`: the client sends no cookies, so the session cannot travel with it.
    lost_cookie_refused: u64,
    /// Of `sessions_lost`: the session did not fit in a cookie and the browser dropped it.
    lost_cookie_too_large: u64,
    /// Of `sessions_lost`: the handler gave up waiting for the session lock and ran without
    /// the session (`lock_fail = "lose_session"`).
    lost_lock_timeout: u64,
    /// Of `sessions_lost`: a store operation took longer than the client's timeout.
    lost_store_timeout: u64,
    /// Sessions deleted after idling past their lifetime (gc_maxlifetime, TTL).
    lost_expired: u64,
    /// Store operations whose client gave up (timeout).
    store_timeouts: u64,
    /// CPU time spent on replication, senders and receivers \[s\].
    replication_cpu_s: f64,
    /// Mean bytes of session cookie per request that carried one (`cookie`, `cookie_fallback`).
    cookie_bytes_mean: f64,
    /// Requests the users themselves made: `requests` minus `relogins` (the extra logins a
    /// lost session forced). Older files lack the columns from here on.
    user_requests: u64,
    /// Extra backend work the strategy caused, as a percentage of the users' own requests:
    /// `100 * (relogins + retries) / user_requests` [%].
    extra_backend_pct: f64,
    /// Distinct users (arrived after the warm-up) logged out at least once: they lost a session
    /// and saw the login page.
    users_logged_out: u64,
    /// `users_logged_out` as a percentage of `users` [%].
    users_logged_out_pct: f64,
    /// Requests that arrived at the balancer per second of measured time, re-logins included:
    /// the offered load [requests/s].
    offered_rps: f64,
    // The columns from here on were added later: `sessim report` reads folders written before
    // them and shows them as absent (see `SummaryRow::absent`).
    /// Store operations' bytes on the network: per operation its command, key and reply
    /// framing (100 B), plus the session data a read returns or a write sends \[MB\].
    store_mb: f64,
    /// Session cookie bytes the clients sent (`cookie`, `cookie_fallback`) \[MB\].
    cookie_mb: f64,
    /// Cost per hour of the backends: `backend_per_hour` x backends + `worker_per_hour` x
    /// workers (see [`crate::cost`]) [currency/h].
    cost_backends_per_h: f64,
    /// Cost per hour of the store servers the strategy uses, by kind, and of their memory
    /// [currency/h].
    cost_store_per_h: f64,
    /// `network_per_gb` x (replication + store + cookie bytes) per measured hour [currency/h].
    cost_network_per_h: f64,
    /// `lost_session` x lost sessions + `logout` x re-logins, per measured hour [currency/h].
    cost_lost_per_h: f64,
    /// The sum of the four parts [currency/h].
    cost_total_per_h: f64,
    /// Replicated strategies: reads whose node's copy lacked changes still on their way
    /// (asynchronous replication; `store/tomcat/`).
    stale_reads: u64,
    /// Replicated strategies: reads whose node's copy lacked a change it had dropped (a
    /// DeltaManager delta that arrived before the session's creation).
    partial_reads: u64,
    /// Mean time a completed request waited in its backend's queue for a worker, zero
    /// included (the queueing part of `latency_mean_ms`) \[ms\].
    wait_mean_ms: f64,
    /// 99th percentile of that wait \[ms\].
    wait_p99_ms: f64,
    /// Share of completed requests that waited for a worker at all (0..1): Erlang C's
    /// P(wait > 0) for an M/M/c backend.
    p_wait: f64,
    /// Mean time a worker held a completed request: its session phases and the application
    /// (the service time of the queueing model) \[ms\].
    service_mean_ms: f64,
}

/// One row of `backends.csv`: one backend in one strategy and replication.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackendRow {
    /// The scenario's name.
    pub scenario: String,
    /// The strategy's label.
    pub strategy: String,
    /// The replication, from 0.
    pub replication: u32,
    /// 0-based position in the balancer's server list.
    pub backend_index: u32,
    /// The backend's name.
    pub backend: String,
    /// Requests routed to this backend after the warm-up.
    pub requests: u64,
    /// Requests this backend answered after the warm-up.
    pub completed: u64,
    /// Requests on this backend that got an error after the warm-up (rejected by its full queue, 502).
    pub errors: u64,
    /// Busy worker-time over available worker-time after the warm-up (0..1).
    pub utilization: f64,
    /// Sessions this backend holds at the end of the run.
    pub sessions_held: u64,
    /// Requests on this backend that did not find their session.
    pub sessions_lost: u64,
    /// Attempts on this backend that failed (connection refused, or its web server's 502).
    pub failed_attempts: u64,
}

/// One row of `timeseries.csv`: one backend during one time bucket. Buckets cover the whole
/// run, warm-up included, so the start-up transient is visible.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeseriesRow {
    /// The scenario's name.
    pub scenario: String,
    /// The strategy's label.
    pub strategy: String,
    /// The replication, from 0.
    pub replication: u32,
    /// Start of the bucket \[s\].
    pub time_s: f64,
    /// The backend's name.
    pub backend: String,
    /// Requests routed to the backend in the bucket.
    pub requests: u64,
    /// Time-averaged busy workers over the bucket.
    pub busy_workers: f64,
    /// Time-averaged requests waiting in the backend's queue.
    pub queue_length: f64,
    /// 1 if the backend was serving at the end of the bucket (not crashed, application up,
    /// not drained), else 0.
    pub up: u8,
    /// Requests on the backend in the bucket that did not find their session.
    pub sessions_lost: u64,
    /// Requests on the backend in the bucket that got an error (rejected, 502, 503).
    pub errors: u64,
    /// Mean response time of the requests that arrived in the bucket and completed \[ms\].
    pub latency_mean_ms: f64,
    /// Busy fraction of the busiest store server in the bucket (0 without store servers).
    pub store_utilization: f64,
    /// Median and 99th percentile of the latency of every request completed in the bucket, all
    /// backends (the same on every backend's row; 0 if none completed) \[ms\]. Older files lack
    /// them: read as 0.
    #[serde(default)]
    pub cluster_latency_p50_ms: f64,
    /// 99th percentile of the same (see `cluster_latency_p50_ms`) \[ms\].
    #[serde(default)]
    pub cluster_latency_p99_ms: f64,
}

/// One row of `stores.csv`: one store server in one strategy and replication (only strategies
/// with store servers: `shared`, `cached_db`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreRow {
    /// The scenario's name.
    pub scenario: String,
    /// The strategy's label.
    pub strategy: String,
    /// The replication, from 0.
    pub replication: u32,
    /// `redis1`, `memcached2`, `cache1`, `db1`, ...
    pub server: String,
    /// Operations issued after the warm-up.
    pub ops: u64,
    /// Busy slot-time over available slot-time after the warm-up (0..1).
    pub utilization: f64,
    /// Mean wait in the server's queue \[ms\].
    pub wait_mean_ms: f64,
    /// Mean and 99th percentile of the latency the client sees \[ms\].
    pub latency_mean_ms: f64,
    /// 99th percentile of the latency the client sees, capped at its timeout \[ms\].
    pub latency_p99_ms: f64,
    /// Operations refused (connection limit, out of memory).
    pub rejected: u64,
    /// Operations whose client gave up.
    pub timeouts: u64,
    /// Sessions the server evicted before they expired (memory full).
    pub evictions: u64,
    /// Sessions held at the end.
    pub items: u64,
    /// Memory in use at the end [MB = 10^6 bytes] (memcached: pages given to slab classes).
    pub memory_mb: f64,
    /// Client connections open at the end, and workers refused a connection.
    pub connections: u64,
    /// Workers refused a connection (`max_connections` reached).
    pub refused_connections: u64,
}

/// One row of `faults.csv`: one fault in one strategy and replication. Counts run from the
/// fault until the next fault starts (or the run ends), warm-up included.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultRow {
    /// The scenario's name.
    pub scenario: String,
    /// The strategy's label.
    pub strategy: String,
    /// The replication, from 0.
    pub replication: u32,
    /// Faults in time order: scheduled ones by start time, random failures as they occur.
    pub fault: u32,
    /// crash, app_down, drain, slow, restart is not a fault: it ends one.
    pub kind: String,
    /// The backend (or store server) the fault hit, by name.
    pub target: String,
    /// When the fault started [s of simulated time].
    pub at_s: f64,
    /// When the balancer noticed (HAProxy health checks marked it down, nginx counted
    /// `max_fails` failures); empty if it never did.
    pub detected_s: Option<f64>,
    /// When the target was serving again; empty if never during the run.
    pub recovered_s: Option<f64>,
    /// Requests that got an error: killed in flight, refused, 502/503, rejected.
    pub requests_failed: u64,
    /// Requests that did not find their session while this fault was the latest.
    pub sessions_lost: u64,
    /// Of `sessions_lost`: sessions that were on the failed node.
    pub lost_node_failure: u64,
    /// Of `sessions_lost`: requests the balancer sent to a node other than the one holding the session.
    pub lost_routed_elsewhere: u64,
    /// Of `sessions_lost`: sessions lost to a failed or refusing store.
    pub lost_store_failure: u64,
    /// Of `sessions_lost`: every other cause (eviction, expiry, cookies, lock and store timeouts).
    pub lost_other: u64,
    /// `sessions_lost` minus what the pre-fault loss rate (after the warm-up, before the first
    /// fault) would lose over the same window: the fault's own cost. May be negative by chance.
    pub lost_above_baseline: f64,
    /// Users sent back to the login page (re-login requests).
    pub relogins: u64,
    /// From the fault to the end of the first time bucket, after recovery (or detection), whose
    /// mean latency is within 10% of the mean before the first fault; empty if never.
    pub latency_normal_after_s: Option<f64>,
    /// Distinct users logged out (a lost session sent them to the login page) while this fault
    /// was the latest, warm-up included. Older files lack the columns from here on.
    #[serde(default)]
    pub users_logged_out: u64,
    /// Normal latency before the faults: the 95th percentile (nearest rank) of the cluster's
    /// mean latency over the last 10 buckets (`NORMAL_BUCKETS`,
    /// src/metrics/collector/recovery.rs) before the first fault
    /// (after the warm-up) \[ms\]; empty if no such bucket completed a request.
    #[serde(default)]
    pub normal_latency_ms: Option<f64>,
    /// From the fault to the start of the first 3 consecutive (`NORMAL_RUN`) buckets
    /// whose mean latency is at most `normal_latency_ms` \[s\]; 0 if latency never rose; empty if
    /// it never came back during the run.
    #[serde(default)]
    pub time_to_normal_s: Option<f64>,
    /// The same, measured from the recovery (the target serving again) and searching from
    /// there: how long latency stays high after the target is back \[s\]; empty if it never
    /// recovered or latency never came back.
    #[serde(default)]
    pub time_to_normal_after_recovery_s: Option<f64>,
}

/// Everything one simulation (one strategy, one replication) produced.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Index of the strategy in the scenario.
    pub strategy_index: usize,
    /// Its row of `summary.csv`.
    pub summary: SummaryRow,
    /// Its rows of `backends.csv`, one per backend in server-list order.
    pub backends: Vec<BackendRow>,
    /// Its rows of `timeseries.csv`, one per time bucket and backend.
    pub timeseries: Vec<TimeseriesRow>,
    /// Its rows of `faults.csv`, one per fault in time order.
    pub faults: Vec<FaultRow>,
    /// Its rows of `stores.csv`, one per store server (empty without store servers).
    pub stores: Vec<StoreRow>,
    /// Events the engine processed (for benchmarks).
    pub events: u64,
}

/// Rounds to 6 decimals so that CSV files stay readable and identical across platforms' float
/// formatting of the last bits.
pub(crate) fn round6(x: f64) -> f64 {
    if x.is_finite() { (x * 1e6).round() / 1e6 } else { x }
}
