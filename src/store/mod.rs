//! Session storage: where a user's session lives, what reading and writing it costs, and which
//! events lose it.
//!
//! One small trait, one file per strategy. A request of a logged-in user goes through two store
//! phases while it holds its backend worker (as PHP does): [`SessionStore::read`] when a worker
//! takes it (the session lock, then the read) and [`SessionStore::write`] after the application
//! has run (the write, then the unlock); a login only writes (it creates the session). A phase
//! may finish at once (files on the local disk), after a remote operation ([`Step::Wait`]: the
//! simulator calls the phase again at that time), or block on a lock until another request
//! releases it ([`Step::Blocked`]: the releasing call names it in `woken`). The request's
//! progress lives in the simulator's request record ([`Progress`]), so the stores keep no
//! per-request state.
//!
//! Remote operations are served by [`station::Station`]s: FIFO servers with `concurrency`
//! slots whose every operation's start and end are known when it is issued, so an operation
//! costs no event of its own and a client timeout is exact. A store knows backends only by
//! index; it knows nothing of the balancer or of the backends' queues.

pub mod cached_db;
pub mod cluster;
pub mod cookie;
pub mod cookie_fallback;
pub mod index;
pub mod local;
pub mod replicated_all;
pub mod replicated_backup;
pub mod shared;
pub mod slabs;
pub mod station;
pub mod table;
pub mod tomcat;

use crate::engine::SimTime;
use crate::scenario::{SessionsConfig, StorageKind, WriteMode};

/// A session identifier (random, derived from the user and its login count).
pub type SessionId = u64;

/// Why a request did not find its session. The order is the column order of `summary.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LostCause {
    /// The request landed on a node that does not hold the session (it lives elsewhere).
    RoutedElsewhere = 0,
    /// The node that held the session failed and lost it.
    NodeFailure = 1,
    /// The shared store lost it (a crash without persistence) or refused it (connection limit,
    /// out of memory).
    StoreFailure = 2,
    /// The store evicted it to make room before it expired (memcached LRU).
    Eviction = 3,
    /// The client sends no cookies, so the session cannot travel with it.
    CookieRefused = 4,
    /// The session does not fit in a cookie: the browser dropped it.
    CookieTooLarge = 5,
    /// The handler gave up waiting for the session lock and ran without the session.
    LockTimeout = 6,
    /// A store operation took longer than the client's timeout.
    StoreTimeout = 7,
    /// The session idled longer than its lifetime and was deleted (gc_maxlifetime, TTL).
    Expired = 8,
}

impl LostCause {
    pub const COUNT: usize = 9;
    pub const ALL: [LostCause; Self::COUNT] = [
        LostCause::RoutedElsewhere,
        LostCause::NodeFailure,
        LostCause::StoreFailure,
        LostCause::Eviction,
        LostCause::CookieRefused,
        LostCause::CookieTooLarge,
        LostCause::LockTimeout,
        LostCause::StoreTimeout,
        LostCause::Expired,
    ];

    /// The column name in `summary.csv`.
    pub fn column(self) -> &'static str {
        match self {
            LostCause::RoutedElsewhere => "lost_routed_elsewhere",
            LostCause::NodeFailure => "lost_node_failure",
            LostCause::StoreFailure => "lost_store_failure",
            LostCause::Eviction => "lost_eviction",
            LostCause::CookieRefused => "lost_cookie_refused",
            LostCause::CookieTooLarge => "lost_cookie_too_large",
            LostCause::LockTimeout => "lost_lock_timeout",
            LostCause::StoreTimeout => "lost_store_timeout",
            LostCause::Expired => "lost_expired",
        }
    }
}

/// What the simulator tells a store about the request in a phase.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    /// The request's id in the simulator (what [`Step::Blocked`] requests are woken by).
    pub req: u32,
    pub sid: SessionId,
    pub backend: u32,
    /// The worker's connection: an index over every worker of every backend (each PHP-FPM
    /// child holds its own persistent connection to each store server).
    pub conn: u32,
    /// The user's key and the request's index: per-request draws are keyed by them, so that
    /// compared strategies see the same draws.
    pub user_key: u64,
    pub index: u64,
    /// The user's session data [bytes].
    pub bytes: u32,
    /// Whether the client sends cookies.
    pub cookies: bool,
    /// Whether the request changes the session.
    pub modified: bool,
    /// Whether the request counts in the statistics (arrived after the warm-up).
    pub measured: bool,
}

/// A request's progress through the store. The simulator keeps it in the request, resets it at
/// the start of each phase, and hands it to every call of the phase.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Store-private position in the phase.
    pub step: u8,
    /// Store operations this request issued (indexes its service-time draws).
    pub ops: u16,
    /// Lock attempts so far.
    pub tries: u32,
    /// Set by a read that did not find the session; the simulator reads it when the read is
    /// [`Step::Ready`].
    pub lost: Option<LostCause>,
    /// The request holds the session's lock.
    pub locked: bool,
    /// The handler gave up on the lock and will not write (phpredis).
    pub drop_write: bool,
    /// The version of the session the request read (for last-writer-wins accounting).
    pub read_version: u32,
    /// When the current wait began (lock waits).
    pub since: SimTime,
}

/// How a phase goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The phase is over: carry on now.
    Ready,
    /// Call the phase again at this time.
    Wait(SimTime),
    /// Waiting for a lock: a later call will name this request in `woken`; then call the
    /// phase again.
    Blocked,
}

/// Counters a store keeps for `summary.csv` (requests measured after the warm-up only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreTotals {
    pub replication_msgs: u64,
    pub replication_bytes: u64,
    /// CPU time spent on replication, senders and receivers [ns].
    pub replication_cpu_ns: u64,
    pub lock_waits: u64,
    /// Total time requests waited for a session lock [ns].
    pub lock_wait_ns: u128,
    /// Writes that overwrote a state written after their read (last writer wins).
    pub lost_updates: u64,
    pub evictions: u64,
    /// Requests that carried the session (or its fallback) in a cookie, and the bytes.
    pub cookie_requests: u64,
    pub cookie_bytes: u64,
    /// Bytes of store operations on the network (see [`cluster::OP_WIRE_BYTES`]).
    pub store_bytes: u64,
    /// Reads that found a copy lacking changes still on their way (replicated strategies).
    pub stale_reads: u64,
    /// Reads that found a copy lacking a change it dropped (DeltaManager: a delta that arrived
    /// before its session's creation).
    pub partial_reads: u64,
}

impl StoreTotals {
    pub fn lock_wait(&mut self, measured: bool, waited: SimTime) {
        if measured {
            self.lock_waits += 1;
            self.lock_wait_ns += waited.as_nanos() as u128;
        }
    }
}

/// One store server's figures at the end of a run (a row of `stores.csv`).
#[derive(Clone, Debug)]
pub struct ServerReport {
    pub name: String,
    pub ops: u64,
    pub utilization: f64,
    pub wait_mean_ms: f64,
    pub latency_mean_ms: f64,
    pub latency_p99_ms: f64,
    pub rejected: u64,
    pub timeouts: u64,
    pub evictions: u64,
    pub items: u64,
    pub memory_bytes: u64,
    pub connections: u64,
    pub refused_connections: u64,
    /// Busy fraction per time bucket (for `timeseries.csv`).
    pub bucket_utilization: Vec<f64>,
    /// Client-side operation latencies [ns] (merged over servers for the summary).
    pub hist: hdrhistogram::Histogram<u64>,
    /// Total queue wait [ns].
    pub wait_ns: u128,
}

/// A session storage strategy. One implementation per file in this folder.
pub trait SessionStore: Send {
    /// A worker starts request `a` of an existing session: lock (if the handler locks) and read.
    /// When it returns [`Step::Ready`], `p.lost` says whether the session was found.
    fn read(&mut self, a: &Access, p: &mut Progress, now: SimTime) -> Step;

    /// The application has run: write the session back (`create`: a login creates it) and
    /// release the lock. Called for every request that was read, found or not, so that a lock
    /// is always released. Requests blocked on a lock that this call hands over are pushed to
    /// `woken`.
    fn write(&mut self, a: &Access, p: &mut Progress, create: bool, now: SimTime, woken: &mut Vec<u32>) -> Step;

    /// A request of session `sid` is on its way: a hint to start loading what its read will
    /// look up (no effect on any result).
    #[inline]
    fn prefetch(&self, _sid: SessionId) {}

    /// The user will never present session `sid` again (it logged in anew, or left). A
    /// server-side session stays until it expires; client-side state is dropped.
    fn abandon(&mut self, _sid: SessionId) {}

    /// Sessions held by `backend` now.
    fn held_by(&self, backend: usize) -> u64;

    /// Counters for `summary.csv`.
    fn totals(&self) -> StoreTotals;

    /// Per store server figures (empty for strategies without store servers).
    fn servers(&self, _window: (SimTime, SimTime)) -> Vec<ServerReport> {
        Vec::new()
    }

    /// Backend `backend` crashed at `now`: its memory is gone. (Driven by the failures issue.)
    fn crash_node(&mut self, _backend: usize, _now: SimTime) {}

    /// Store server `server` crashed and restarted at `now`, losing what its persistence
    /// setting loses. (Driven by the failures issue.)
    fn crash_server(&mut self, _server: usize, _now: SimTime) {}

    /// Store server `server` refuses connections (`down`) or accepts them again.
    fn set_server_down(&mut self, _server: usize, _down: bool) {}

    /// Backend `backend` is running again at `now`, empty: it rejoins the cluster.
    fn restart_node(&mut self, _backend: usize, _now: SimTime) {}

    /// Whether a request that found its session renames it to the serving node's route
    /// (Tomcat's `JvmRouteBinderValve`): the simulator then gives the user's session id that
    /// node's suffix, which route-sticky balancers follow.
    fn rebinds_route(&self) -> bool {
        false
    }
}

/// The store servers of a configuration, in `crash_server` order, named as `stores.csv` names
/// them: `<kind><i>` for a shared store (`redis1`, `redis2`), `cache<i>` then `db<i>` for
/// cached_db; none for the other strategies.
pub fn server_names(cfg: &SessionsConfig) -> Vec<String> {
    let n = |c: &crate::scenario::StoreConfig, label: &str| {
        (1..=c.servers).map(|i| format!("{label}{i}")).collect::<Vec<_>>()
    };
    match cfg.storage {
        StorageKind::Shared => n(&cfg.store, cfg.store.kind.name()),
        StorageKind::CachedDb => {
            let mut v = n(&cfg.cache, "cache");
            v.extend(n(&cfg.store, "db"));
            v
        }
        _ => Vec::new(),
    }
}

/// Whether a write of this request carries session data (and so can overwrite a concurrent
/// update), and whether it costs a store operation at all.
#[inline]
pub fn write_kind(mode: WriteMode, modified: bool) -> (bool, bool) {
    match mode {
        WriteMode::Lazy => (modified, true),
        WriteMode::Modified => (modified, modified),
        WriteMode::Always => (true, true),
    }
}

/// Last writer wins: a data write replaces the session with what the request read plus its
/// own change. If another write landed after this request's read, that write's update is lost.
#[inline]
pub fn apply_write(version: &mut u32, read_version: u32, measured: bool, totals: &mut StoreTotals) {
    if *version != read_version && measured {
        totals.lost_updates += 1;
    }
    *version = version.wrapping_add(1);
}

/// Context every strategy is built with.
#[derive(Clone, Copy, Debug)]
pub struct Env {
    pub backends: usize,
    /// Workers of all backends: the number of client connections per store server.
    pub connections: u32,
    pub seed: u64,
    pub rep: u32,
    pub warmup: SimTime,
    pub duration: SimTime,
    pub bucket: SimTime,
}

pub fn build(cfg: &SessionsConfig, env: Env) -> Box<dyn SessionStore> {
    match cfg.storage {
        StorageKind::Local => Box::new(local::Local::new(cfg, env)),
        StorageKind::ReplicatedAll => Box::new(replicated_all::ReplicatedAll::new(cfg, env)),
        StorageKind::ReplicatedBackup => Box::new(replicated_backup::ReplicatedBackup::new(cfg, env)),
        StorageKind::Shared => Box::new(shared::Shared::new(cfg, env)),
        StorageKind::CachedDb => Box::new(cached_db::CachedDb::new(cfg, env)),
        StorageKind::Cookie => Box::new(cookie::Cookie::new(cfg)),
        StorageKind::CookieFallback => Box::new(cookie_fallback::CookieFallback::new(cfg, env)),
    }
}
