//! What the simulator hands the collector: the totals and per-server figures a session store
//! counts ([`StoreTotals`], [`ServerReport`]), and two small traits through which the
//! collector reads a backend's state and its configuration ([`WorkerAreas`],
//! [`BackendShape`]). They live here, not in `store/`, `backend/` or `scenario/`, so that
//! metrics depends on none of them (metrics is a leaf: the parts that produce numbers depend
//! on it, never the other way round).

use crate::engine::SimTime;

/// A backend's busy-worker and queue integrals (implemented by [`crate::backend::Backend`]).
pub(crate) trait WorkerAreas {
    /// Integrals up to `now` without changing state: (busy worker-ns, queued request-ns).
    fn areas_at(&self, now: SimTime) -> (u128, u128);
}

/// What the collector needs of a backend's configuration (implemented by
/// [`crate::scenario::BackendConfig`]).
pub(crate) trait BackendShape {
    /// The backend's name (a `backends.csv` and `timeseries.csv` column).
    fn name(&self) -> &str;
    /// Its workers: utilisation is busy worker-time over `workers` x measured time.
    fn workers(&self) -> u32;
    /// Whether it takes part in the balance: neither `down` nor `backup` (the imbalance
    /// columns count only these).
    fn balanced(&self) -> bool;
}

/// Counters a store keeps for `summary.csv` (requests measured after the warm-up only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreTotals {
    pub(crate) replication_msgs: u64,
    pub(crate) replication_bytes: u64,
    /// CPU time spent on replication, senders and receivers [ns].
    pub(crate) replication_cpu_ns: u64,
    pub(crate) lock_waits: u64,
    /// Total time requests waited for a session lock [ns].
    pub(crate) lock_wait_ns: u128,
    /// Writes that overwrote a state written after their read (last writer wins).
    pub(crate) lost_updates: u64,
    pub(crate) evictions: u64,
    /// Requests that carried the session (or its fallback) in a cookie, and the bytes.
    pub(crate) cookie_requests: u64,
    pub(crate) cookie_bytes: u64,
    /// Bytes of store operations on the network (see `store::cluster::OP_WIRE_BYTES`).
    pub(crate) store_bytes: u64,
    /// Reads that found a copy lacking changes still on their way (replicated strategies).
    pub(crate) stale_reads: u64,
    /// Reads that found a copy lacking a change it dropped (DeltaManager: a delta that arrived
    /// before its session's creation).
    pub(crate) partial_reads: u64,
}

impl StoreTotals {
    pub(crate) fn lock_wait(&mut self, measured: bool, waited: SimTime) {
        if measured {
            self.lock_waits += 1;
            self.lock_wait_ns += waited.as_nanos() as u128;
        }
    }
}

/// One store server's figures at the end of a run (a row of `stores.csv`).
#[derive(Clone, Debug)]
pub struct ServerReport {
    pub(crate) name: String,
    pub(crate) ops: u64,
    pub(crate) utilization: f64,
    pub(crate) wait_mean_ms: f64,
    pub(crate) latency_mean_ms: f64,
    pub(crate) latency_p99_ms: f64,
    pub(crate) rejected: u64,
    pub(crate) timeouts: u64,
    pub(crate) evictions: u64,
    pub(crate) items: u64,
    pub(crate) memory_bytes: u64,
    pub(crate) connections: u64,
    pub(crate) refused_connections: u64,
    /// Busy fraction per time bucket (for `timeseries.csv`).
    pub(crate) bucket_utilization: Vec<f64>,
    /// Client-side operation latencies [ns] (merged over servers for the summary).
    pub(crate) hist: hdrhistogram::Histogram<u64>,
    /// Total queue wait [ns].
    pub(crate) wait_ns: u128,
}
