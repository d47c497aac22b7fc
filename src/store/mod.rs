//! Session storage: where a user's session lives, what reading and writing it costs, and which
//! events lose it.
//!
//! One small trait, one file per strategy. A request of a logged-in user goes through two store
//! phases while it holds its backend worker (as PHP does): `SessionStore::read` when a worker
//! takes it (the session lock, then the read) and `SessionStore::write` after the application
//! has run (the write, then the unlock); a login only writes (it creates the session). A phase
//! may finish at once (files on the local disk), after a remote operation (`Step::Wait`: the
//! simulator calls the phase again at that time), or block on a lock until another request
//! releases it (`Step::Blocked`: the releasing call names it in `woken`). The request's
//! progress lives in the simulator's request record (`Progress`), so the stores keep no
//! per-request state.
//!
//! Remote operations are served by `station::Station`s: FIFO servers with `concurrency`
//! slots whose every operation's start and end are known when it is issued, so an operation
//! costs no event of its own and a client timeout is exact. A store knows backends only by
//! index; it knows nothing of the balancer or of the backends' queues.

pub(crate) mod cached_db;
pub(crate) mod cluster;
pub(crate) mod config;
pub(crate) mod cookie;
pub(crate) mod cookie_fallback;
pub(crate) mod index;
pub(crate) mod local;
pub(crate) mod replicated_all;
pub(crate) mod replicated_backup;
pub(crate) mod shared;
pub(crate) mod slabs;
pub(crate) mod station;
pub(crate) mod table;
pub(crate) mod tomcat;

use crate::engine::SimTime;
pub use config::{
    Eviction, LockFail, Persistence, ReplicationConfig, SessionsConfig, Spread, StorageKind, StoreConfig, StoreKind,
    WriteMode,
};

/// A session identifier (random, derived from the user and its login count).
pub(crate) type SessionId = u64;

/// Why a request did not find its session: declared in [`crate::metrics::loss`], the one
/// place that knows its column, legend and meaning.
pub(crate) use crate::metrics::loss::LostCause;

/// What the simulator tells a store about the request in a phase.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Access {
    /// The request's id in the simulator (what [`Step::Blocked`] requests are woken by).
    pub(crate) req: u32,
    pub(crate) sid: SessionId,
    pub(crate) backend: u32,
    /// The worker's connection: an index over every worker of every backend (each PHP-FPM
    /// child holds its own persistent connection to each store server).
    pub(crate) conn: u32,
    /// The user's key and the request's index: per-request draws are keyed by them, so that
    /// compared strategies see the same draws.
    pub(crate) user_key: u64,
    pub(crate) index: u64,
    /// The user's session data [bytes].
    pub(crate) bytes: u32,
    /// Whether the client sends cookies.
    pub(crate) cookies: bool,
    /// Whether the request changes the session.
    pub(crate) modified: bool,
    /// Whether the request counts in the statistics (arrived after the warm-up).
    pub(crate) measured: bool,
}

/// A request's progress through the store. The simulator keeps it in the request, resets it at
/// the start of each phase, and hands it to every call of the phase.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Progress {
    /// Store-private position in the phase.
    pub(crate) step: u8,
    /// Store operations this request issued (indexes its service-time draws).
    pub(crate) ops: u16,
    /// Lock attempts so far.
    pub(crate) tries: u32,
    /// Set by a read that did not find the session; the simulator reads it when the read is
    /// [`Step::Ready`].
    pub(crate) lost: Option<LostCause>,
    /// The request holds the session's lock.
    pub(crate) locked: bool,
    /// The handler gave up on the lock and will not write (phpredis).
    pub(crate) drop_write: bool,
    /// The version of the session the request read (for last-writer-wins accounting).
    pub(crate) read_version: u32,
    /// When the current wait began (lock waits).
    pub(crate) since: SimTime,
}

impl Progress {
    /// The progress a request starts its write phase with, after its read phase ended with
    /// `self`: what the read found and holds (loss, lock, dropped write, version read) carries
    /// over, and so does the operation counter, which picks each store operation's
    /// service-time draw: the write phase's operations must not reuse the read phase's draws.
    pub(crate) fn for_write(&self) -> Progress {
        Progress {
            ops: self.ops,
            lost: self.lost,
            locked: self.locked,
            drop_write: self.drop_write,
            read_version: self.read_version,
            ..Progress::default()
        }
    }
}

/// The read phase of a request whose client holds a session (`holds_session`) or none: without
/// one, the session is lost as expired at once (the server has nothing to find); with one, the
/// store reads it.
#[inline]
pub(crate) fn read_session(
    store: &mut dyn SessionStore,
    holds_session: bool,
    a: &Access,
    p: &mut Progress,
    now: SimTime,
) -> Step {
    if holds_session {
        store.read(a, p, now)
    } else {
        p.lost = Some(LostCause::Expired);
        Step::Ready
    }
}

/// Whether the stores of `cfg` need to know which worker (store connection) runs a request:
/// only those with servers and connection limits.
pub(crate) fn tracks_workers(cfg: &SessionsConfig) -> bool {
    match cfg.storage {
        StorageKind::Shared | StorageKind::CachedDb => true,
        StorageKind::Local
        | StorageKind::ReplicatedAll
        | StorageKind::ReplicatedBackup
        | StorageKind::Cookie
        | StorageKind::CookieFallback => false,
    }
}

/// How a phase goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The phase is over: carry on now.
    Ready,
    /// Call the phase again at this time.
    Wait(SimTime),
    /// Waiting for a lock: a later call will name this request in `woken`; then call the
    /// phase again.
    Blocked,
}

/// What the stores count and report: metrics-owned types ([`crate::metrics::sources`]).
pub(crate) use crate::metrics::sources::{ServerReport, StoreTotals};

/// A session storage strategy. One implementation per file in this folder.
pub(crate) trait SessionStore: Send {
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

    /// Starts loading session `sid`'s item, once what [`SessionStore::prefetch`] asked for has
    /// arrived (no effect on any result).
    #[inline]
    fn prefetch_item(&self, _sid: SessionId) {}

    /// The user will never present session `sid` again (it logged in anew, or left). A
    /// server-side session stays until it expires; client-side state is dropped.
    fn abandon(&mut self, _sid: SessionId) {}

    /// Sessions held by `backend` now.
    fn held_by(&self, backend: usize) -> u64;

    /// Session locks held now (lock items in a store cluster). Every request releases the
    /// locks it took, so without crashes this is 0 once the last request has ended.
    fn locks_held(&self) -> u64 {
        0
    }

    /// Counters for `summary.csv`.
    fn totals(&self) -> StoreTotals;

    /// Per store server figures (empty for strategies without store servers).
    fn servers(&self, _window: (SimTime, SimTime)) -> Vec<ServerReport> {
        Vec::new()
    }

    /// Backend `backend` crashed at `now`: its memory is gone. (Driven by the failures issue.)
    fn crash_node(&mut self, _backend: usize, _now: SimTime) {}

    /// Backend `backend` was stopped cleanly at `now` (drained, then stopped, as a deploy
    /// does): its memory is gone as in a crash, but a clustered node announces that it leaves,
    /// so the others need not wait for a timeout to notice.
    fn stop_node(&mut self, backend: usize, now: SimTime) {
        self.crash_node(backend, now)
    }

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

/// Everything the rest of the crate asks of one storage strategy, declared beside it in its
/// file (`INFO`) and found through [`StorageKind::info`]: what it is built from, and what the
/// loader, the warnings and the simulator must know before (or without) building it.
pub(crate) struct Info {
    /// The strategy's store, for one run.
    pub(crate) build: fn(&SessionsConfig, Env) -> Box<dyn SessionStore>,
    /// Its store servers, in `crash_server` order, named as `stores.csv` names them.
    pub(crate) server_names: fn(&SessionsConfig) -> Vec<String>,
    /// The store clusters it runs (their servers cost money), in `server_names` order.
    pub(crate) clusters: fn(&SessionsConfig) -> Vec<&StoreConfig>,
    /// Whether every backend worker holds a connection to each of its store servers (so the
    /// simulator tracks which worker serves a request, and `max_connections` applies).
    pub(crate) uses_connections: bool,
}

impl StorageKind {
    /// The strategy's [`Info`]: the one place a storage kind is mapped to its file.
    pub(crate) fn info(self) -> &'static Info {
        match self {
            StorageKind::Local => &local::INFO,
            StorageKind::ReplicatedAll => &replicated_all::INFO,
            StorageKind::ReplicatedBackup => &replicated_backup::INFO,
            StorageKind::Shared => &shared::INFO,
            StorageKind::CachedDb => &cached_db::INFO,
            StorageKind::Cookie => &cookie::INFO,
            StorageKind::CookieFallback => &cookie_fallback::INFO,
        }
    }
}

impl SessionsConfig {
    /// The store servers of this configuration, in `crash_server` order, named as `stores.csv`
    /// names them (none for strategies without store servers).
    pub(crate) fn server_names(&self) -> Vec<String> {
        (self.storage.info().server_names)(self)
    }

    /// The store clusters the strategy runs, in [`SessionsConfig::server_names`] order (none
    /// for strategies without store servers).
    pub(crate) fn store_clusters(&self) -> Vec<&StoreConfig> {
        (self.storage.info().clusters)(self)
    }

    /// Whether every backend worker holds a connection to each store server.
    pub(crate) fn uses_connections(&self) -> bool {
        self.storage.info().uses_connections
    }
}

/// The store servers of a configuration (see [`SessionsConfig::server_names`]).
pub(crate) fn server_names(cfg: &SessionsConfig) -> Vec<String> {
    cfg.server_names()
}

/// For a strategy's [`Info`]: no store servers.
pub(crate) fn no_servers(_: &SessionsConfig) -> Vec<String> {
    Vec::new()
}

/// For a strategy's [`Info`]: no store clusters.
pub(crate) fn no_clusters(_: &SessionsConfig) -> Vec<&StoreConfig> {
    Vec::new()
}

/// For a strategy's [`Info`]: the servers of one store cluster, `<label><i>` from 1.
pub(crate) fn cluster_names(c: &StoreConfig, label: &str) -> Vec<String> {
    (1..=c.servers).map(|i| format!("{label}{i}")).collect()
}

/// Whether a write of this request carries session data (and so can overwrite a concurrent
/// update), and whether it costs a store operation at all.
#[inline]
pub(crate) fn write_kind(mode: WriteMode, modified: bool) -> (bool, bool) {
    match mode {
        WriteMode::Lazy => (modified, true),
        WriteMode::Modified => (modified, modified),
        WriteMode::Always => (true, true),
    }
}

/// Last writer wins: a data write replaces the session with what the request read plus its
/// own change. If another write landed after this request's read, that write's update is lost.
#[inline]
pub(crate) fn apply_write(version: &mut u32, read_version: u32, measured: bool, totals: &mut StoreTotals) {
    if *version != read_version && measured {
        totals.lost_updates += 1;
    }
    *version = version.wrapping_add(1);
}

/// Context every strategy is built with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Env {
    pub(crate) backends: usize,
    /// Workers of all backends: the number of client connections per store server.
    pub(crate) connections: u32,
    pub(crate) seed: u64,
    pub(crate) rep: u32,
    pub(crate) warmup: SimTime,
    pub(crate) duration: SimTime,
    pub(crate) bucket: SimTime,
}

/// The store of `cfg`'s strategy, for one run.
pub(crate) fn build(cfg: &SessionsConfig, env: Env) -> Box<dyn SessionStore> {
    (cfg.storage.info().build)(cfg, env)
}

#[cfg(test)]
mod tests {
    use crate::scenario::load_str;

    fn sessions(storage: &str, extra: &str) -> super::SessionsConfig {
        let text = format!(
            "name = \"t\"\nduration = \"10s\"\n[workload]\nusers_per_second = 1\n[sessions]\nstorage = \"{storage}\"\n{extra}"
        );
        let sc = load_str(&text, "t.toml", &[]).unwrap();
        sc.strategies()[0].system.sessions.clone()
    }

    /// Each strategy answers from its own file: the servers `stores.csv` names (as the
    /// fault targets and the cost columns count them), its clusters, its connections.
    #[test]
    fn every_strategy_names_its_servers_clusters_and_connections() {
        for &(name, kind) in super::StorageKind::ALL {
            let extra = match name {
                "shared" => "[sessions.store]\nkind = \"redis\"\nservers = 2\n",
                "cached_db" => "[sessions.cache]\nservers = 2\n[sessions.store]\nservers = 1\n",
                _ => "",
            };
            let s = sessions(name, extra);
            assert_eq!(s.storage, kind);
            let (names, conns): (Vec<&str>, bool) = match name {
                "shared" => (vec!["redis1", "redis2"], true),
                "cached_db" => (vec!["cache1", "cache2", "db1"], true),
                _ => (vec![], false),
            };
            assert_eq!(s.server_names(), names, "{name}");
            assert_eq!(s.uses_connections(), conns, "{name}");
            let servers: u32 = s.store_clusters().iter().map(|c| c.servers).sum();
            assert_eq!(servers as usize, names.len(), "{name}");
        }
    }
}
