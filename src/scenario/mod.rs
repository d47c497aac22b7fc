//! Scenario files: the raw format ([`raw`]), loading, merging strategies and `--set` overrides
//! ([`load`]), and the validated [`Scenario`] that the rest of the crate trusts.
//!
//! A scenario is a base system plus a list of strategies, each a label and a partial system
//! that is deep-merged over the base. Everything past [`load::load`] can assume the values
//! here are in range: nothing downstream re-checks input.

pub mod load;
pub mod raw;

use crate::balancer::{BalancerConf, CheckedConf, FailurePolicy, HashKey, Method};
use crate::dist::{Dist, Kind};
use crate::engine::SimTime;
use std::fmt;

pub use load::{Override, load, load_str};

/// A validated scenario: what every run, sweep and report starts from.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub seed: u64,
    /// Arrivals stop at this time; requests in flight then are allowed to finish.
    pub duration: SimTime,
    /// Statistics count only requests that arrive at or after this time.
    pub warmup: SimTime,
    pub replications: u32,
    /// Width of a `timeseries.csv` bucket.
    pub bucket: SimTime,
    /// The systems to compare, in file order. Never empty.
    pub strategies: Vec<Strategy>,
    /// The scenario as a TOML table after `--set` overrides (strategies included): what
    /// `scenario.toml` in the output folder records, and what sweeps vary.
    pub source: toml::Table,
}

/// One labelled system of the comparison.
#[derive(Clone, Debug)]
pub struct Strategy {
    pub label: String,
    pub system: System,
}

/// Everything that describes one simulated cluster and its users.
#[derive(Clone, Debug)]
pub struct System {
    pub workload: Workload,
    pub balancer: BalancerConfig,
    /// In balancer order (as in the config file). Never empty.
    pub backends: Vec<BackendConfig>,
    pub sessions: SessionsConfig,
    /// What fails, when (see [`crate::faults`]).
    pub faults: crate::faults::FaultPlan,
    /// Prices (`[costs]`), for the `cost_*` columns.
    pub costs: CostsConfig,
}

/// `[costs]`: what the cluster and its failures cost. Every price defaults to 0, so a scenario
/// without `[costs]` has `cost_*` columns of 0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostsConfig {
    /// A label for the reports only (`USD`, `EUR`); no conversion.
    pub currency: String,
    pub backend_per_hour: f64,
    pub worker_per_hour: f64,
    /// Per store server and hour, by kind (in `StoreKind::ALL` order: redis, memcached, sql).
    pub server_per_hour: [f64; 3],
    /// Per GB (10^9 bytes) of configured store memory and hour (servers with `memory = 0`,
    /// unlimited, cost nothing here).
    pub store_memory_per_gb_hour: f64,
    /// Per GB (10^9 bytes) of replication, store and cookie traffic.
    pub network_per_gb: f64,
    /// Per request that lost its session.
    pub lost_session: f64,
    /// Per re-login (a user sent back to the login page).
    pub logout: f64,
}

#[derive(Clone, Debug)]
pub struct Workload {
    /// Mean user arrival rate [users/s] before the profile's factor.
    pub users_per_second: f64,
    /// Piecewise-constant rate factors: from `at` on, the rate is `users_per_second * factor`.
    /// Starts at time zero; empty means a constant factor 1.
    pub profile: Vec<ProfileStep>,
    /// When set, the profile repeats with this period (e.g. 24 h for a daily cycle).
    pub profile_repeat: Option<SimTime>,
    /// Distinct URLs the users request (`$request_uri` hashing).
    pub pages: u32,
    /// User classes; shares sum to 1. Never empty.
    pub classes: Vec<UserClass>,
    pub addresses: AddressModel,
    /// When set, the requests come from an access log instead of the synthetic users; the
    /// first class still gives the session size and the share of requests that modify it.
    pub replay: Option<ReplayConfig>,
}

/// `[workload.replay]`: an access log as the workload.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayConfig {
    /// The log file, resolved against the scenario's folder.
    pub file: std::path::PathBuf,
    pub format: LogFormat,
    /// nginx: the cookie whose `$cookie_NAME` value identifies a client.
    pub id_cookie: Option<String>,
    /// A user session ends after this long without a request.
    pub session_gap: SimTime,
    /// Simulated time = log time since the start x `time_scale` (0.5 replays twice as fast).
    pub time_scale: f64,
    /// Each user is replayed this many times, with distinct addresses and ids.
    pub clone: u32,
    /// Replay only requests logged in [from, to) after the log's first second.
    pub from: SimTime,
    pub to: Option<SimTime>,
    pub service: ServiceSource,
    /// With login, an inferred session's first request logs in and later ones need the session.
    pub login: bool,
    /// A malformed line is an error rather than counted and skipped.
    pub strict: bool,
}

/// How a log's lines are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// An nginx `log_format` string (`combined` and `main` are resolved by the reader).
    Nginx(String),
    /// HAProxy `option httplog`.
    Haproxy,
    /// The documented CSV with a header row.
    Csv,
}

/// Where a replayed request's service time comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceSource {
    /// The log's time when the line has one, else the backend's distribution.
    Auto,
    /// Always the log's: a line without one is malformed.
    Log,
    /// Always the backend's distribution, ignoring the log's times.
    Model,
}

impl ServiceSource {
    pub const ALL: &'static [(&'static str, ServiceSource)] = &[
        ("auto", ServiceSource::Auto),
        ("log", ServiceSource::Log),
        ("model", ServiceSource::Model),
    ];
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProfileStep {
    pub at: SimTime,
    pub factor: f64,
}

#[derive(Clone, Debug)]
pub struct UserClass {
    pub name: String,
    /// Fraction of arriving users in this class (0..=1).
    pub share: f64,
    /// Whether the user logs in first (and so has a session that can be lost).
    pub login: bool,
    /// Requests besides the login request [count].
    pub requests: Dist,
    /// Pause before each request after the first [s].
    pub think_time: Dist,
    /// Fraction of users who refuse cookies (0..=1).
    pub refuse_cookies: f64,
    /// Size of a user's session data [bytes], drawn once per user.
    pub session_size: Dist,
    /// Fraction of requests that change the session (0..=1).
    pub session_modify: f64,
    /// Requests a page sends at once (the page and its AJAX calls) [count, >= 1].
    pub parallel: u32,
}

/// Where user addresses come from: many /24 networks, and a share of users behind a few
/// shared NAT or proxy addresses.
#[derive(Clone, Debug, PartialEq)]
pub struct AddressModel {
    /// Distinct /24 networks that ordinary users come from.
    pub networks: u32,
    /// Fraction of users behind a shared NAT/proxy address (0..=1).
    pub nat_share: f64,
    /// How many shared NAT/proxy addresses there are.
    pub nat_addresses: u32,
    /// Zipf exponent of network popularity; 0 is uniform.
    pub network_skew: f64,
}

/// The balancer of a system: a policy with its failure detection and retry rules, over the
/// backends in order (server i of the balancer is backend i).
#[derive(Clone, Debug, PartialEq)]
pub struct BalancerConfig {
    /// The policy's scenario name (for an imported config, the name of its method).
    pub policy: PolicyKind,
    /// The full description the simulator builds its policy from, already checked.
    pub conf: CheckedConf,
    /// Set when the balancer was imported from an nginx or HAProxy config file.
    pub import: Option<ImportInfo>,
}

/// Where an imported balancer came from, and what the import left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportInfo {
    /// The config file as written in the scenario.
    pub path: String,
    /// `nginx` or `haproxy`.
    pub format: &'static str,
    /// The `upstream` block or `backend`/`listen` section used.
    pub block: String,
    /// Directives read but ignored because they do not change routing, as `file:line: text`.
    pub notes: Vec<String>,
}

/// The balancer policies. Adding one means adding a file under `src/balancer/` and an arm here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// nginx's smooth weighted round-robin (the default of an `upstream` block).
    RoundRobin,
    /// nginx `ip_hash`.
    IpHash,
    /// nginx `hash $key`.
    Hash,
    /// nginx `hash $key consistent`.
    HashConsistent,
    /// nginx `least_conn`.
    LeastConn,
    /// nginx `random`: weighted random choice per request.
    Random,
    /// nginx `random two least_conn` (power of two choices).
    RandomTwoLeastConn,
    /// HAProxy `balance roundrobin`.
    HaproxyRoundRobin,
    /// HAProxy `balance leastconn`.
    HaproxyLeastConn,
    /// HAProxy `balance source`.
    Source,
    /// HAProxy `cookie SERVERID insert indirect nocache` over a `balance` algorithm.
    Cookie,
    /// Envoy `ROUND_ROBIN`.
    EnvoyRoundRobin,
    /// Envoy `LEAST_REQUEST`.
    EnvoyLeastRequest,
    /// Envoy `RING_HASH`.
    EnvoyRingHash,
    /// Envoy `MAGLEV`.
    EnvoyMaglev,
    /// A Kubernetes Service through kube-proxy (iptables mode).
    KubeProxy,
    /// Apache httpd `mod_proxy_balancer` (`lbmethod`, `stickysession` routes).
    Apache,
}

impl PolicyKind {
    pub const ALL: &'static [(&'static str, PolicyKind)] = &[
        ("round_robin", PolicyKind::RoundRobin),
        ("ip_hash", PolicyKind::IpHash),
        ("hash", PolicyKind::Hash),
        ("hash_consistent", PolicyKind::HashConsistent),
        ("least_conn", PolicyKind::LeastConn),
        ("random", PolicyKind::Random),
        ("random_two_least_conn", PolicyKind::RandomTwoLeastConn),
        ("haproxy_roundrobin", PolicyKind::HaproxyRoundRobin),
        ("leastconn", PolicyKind::HaproxyLeastConn),
        ("source", PolicyKind::Source),
        ("cookie", PolicyKind::Cookie),
        ("envoy_round_robin", PolicyKind::EnvoyRoundRobin),
        ("envoy_least_request", PolicyKind::EnvoyLeastRequest),
        ("envoy_ring_hash", PolicyKind::EnvoyRingHash),
        ("envoy_maglev", PolicyKind::EnvoyMaglev),
        ("kube_proxy", PolicyKind::KubeProxy),
        ("apache", PolicyKind::Apache),
    ];

    pub fn name(self) -> &'static str {
        name_in(Self::ALL, self)
    }

    /// Whether the policy imitates HAProxy (health checks, `retries`, `option redispatch`)
    /// rather than nginx (passive `max_fails`, `proxy_next_upstream`).
    pub fn is_haproxy(self) -> bool {
        matches!(
            self,
            PolicyKind::HaproxyRoundRobin | PolicyKind::HaproxyLeastConn | PolicyKind::Source | PolicyKind::Cookie
        )
    }

    /// The policy an imported balancer amounts to.
    pub fn of(conf: &BalancerConf) -> PolicyKind {
        if conf.cookie.is_some() {
            return PolicyKind::Cookie;
        }
        match conf.method {
            Method::RoundRobin => PolicyKind::RoundRobin,
            Method::IpHash => PolicyKind::IpHash,
            Method::Hash { consistent: false, .. } => PolicyKind::Hash,
            Method::Hash { consistent: true, .. } => PolicyKind::HashConsistent,
            Method::LeastConn => PolicyKind::LeastConn,
            Method::Random { two: false } => PolicyKind::Random,
            Method::Random { two: true } => PolicyKind::RandomTwoLeastConn,
            Method::HaproxyRoundRobin => PolicyKind::HaproxyRoundRobin,
            Method::HaproxyLeastConn => PolicyKind::HaproxyLeastConn,
            Method::Source { .. } => PolicyKind::Source,
            Method::EnvoyRoundRobin { .. } => PolicyKind::EnvoyRoundRobin,
            Method::EnvoyLeastRequest { .. } => PolicyKind::EnvoyLeastRequest,
            Method::EnvoyRingHash { .. } => PolicyKind::EnvoyRingHash,
            Method::EnvoyMaglev { .. } => PolicyKind::EnvoyMaglev,
            Method::KubeProxy { .. } => PolicyKind::KubeProxy,
            Method::Apache(_) => PolicyKind::Apache,
        }
    }

    /// Whether the policy imitates Envoy or kube-proxy (no retries; health from checks).
    pub fn is_envoy_or_kube(self) -> bool {
        matches!(
            self,
            PolicyKind::EnvoyRoundRobin
                | PolicyKind::EnvoyLeastRequest
                | PolicyKind::EnvoyRingHash
                | PolicyKind::EnvoyMaglev
                | PolicyKind::KubeProxy
        )
    }
}

#[derive(Clone, Debug)]
pub struct BackendConfig {
    pub name: String,
    pub weight: u32,
    /// Requests served at once (PHP-FPM children, Tomcat threads).
    pub workers: u32,
    /// Requests that may wait for a worker; one more is rejected with an error.
    pub queue: u32,
    /// Time a worker spends on one request [s].
    pub service_time: Dist,
    /// Used only when every non-backup server is unavailable.
    pub backup: bool,
    /// Marked `down` in the balancer's configuration: never chosen.
    pub down: bool,
}

/// Where sessions live and what keeping them costs (`[sessions]`).
#[derive(Clone, Debug)]
pub struct SessionsConfig {
    pub storage: StorageKind,
    /// Idle time after which a session is deleted: PHP `session.gc_maxlifetime`, the TTL that
    /// phpredis and php-memcached set, Tomcat's `maxInactiveInterval`.
    pub lifetime: SimTime,
    /// PHP's garbage collection runs at a session start with probability
    /// `gc_probability / gc_divisor` (local files only).
    pub gc_probability: u32,
    pub gc_divisor: u32,
    /// When a request writes its session back.
    pub write: WriteMode,
    /// Largest cookie a browser keeps [bytes] (`cookie`).
    pub cookie_limit: u32,
    /// Bytes of the essential-fields cookie of `cookie_fallback`.
    pub fallback_cookie_bytes: u32,
    pub replication: ReplicationConfig,
    /// The shared store (`shared`) or the database of `cached_db`.
    pub store: StoreConfig,
    /// The cache in front of the database (`cached_db`).
    pub cache: StoreConfig,
}

/// When the session is written back at the end of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// PHP's default `session.lazy_write = 1`: a changed session is written; an unchanged one
    /// only has its timestamp refreshed (phpredis `EXPIRE`, php-memcached `touch`): one store
    /// operation either way, but an unchanged write cannot overwrite anyone's update.
    Lazy,
    /// Written only when changed; nothing otherwise (Django's default).
    Modified,
    /// Written on every request, changed or not (`lazy_write = 0`,
    /// Django `SESSION_SAVE_EVERY_REQUEST`): an unchanged write can overwrite a concurrent update.
    Always,
}

impl WriteMode {
    pub const ALL: &'static [(&'static str, WriteMode)] = &[
        ("lazy", WriteMode::Lazy),
        ("modified", WriteMode::Modified),
        ("always", WriteMode::Always),
    ];
}

/// Tomcat cluster replication (`[sessions.replication]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationConfig {
    /// CPU time the sending node spends per message [s].
    pub send_cpu: SimTime,
    /// CPU time a receiving node spends per message [s].
    pub receive_cpu: SimTime,
    /// Bytes of a message besides the session data.
    pub message_overhead: u32,
    /// Network round trip between nodes.
    pub rtt: SimTime,
    /// DeltaManager's asynchronous send: a delta is on the wire this long after its request.
    /// (No longer read by the strategies: the channel model in `store/tomcat/` times messages.)
    pub send_window: SimTime,
    /// Tomcat's `channelSendOptions` (DeltaManager) / `mapSendOptions` (BackupManager); `None`:
    /// Tomcat's default for the strategy (async for `replicated_all`, sync for
    /// `replicated_backup`).
    pub send_mode: Option<crate::store::tomcat::channel::SendMode>,
    /// Upper bound of a message's extra one-way delay (uniform): lets asynchronous messages
    /// overtake each other (`store/tomcat/channel.rs`).
    pub jitter: SimTime,
    /// Receiver threads per node (`ReceiverBase.maxThreads`, default 15).
    pub receiver_threads: u32,
    /// A synchronous send to a dead member gives up after this (`AbstractSender.timeout`).
    pub sender_timeout: SimTime,
    /// Membership heartbeat period and drop timeout (McastService `frequency`/`dropTime` or
    /// StaticMembership `pingInterval`/`expirationTime`).
    pub membership: crate::store::tomcat::membership::Membership,
    /// `JvmRouteBinderValve` is configured: a failed-over session is renamed to the serving
    /// node's `jvmRoute`, so the balancer sticks to that node.
    pub jvm_route_binder: bool,
}

/// The kind of a shared store: sets the defaults of every other figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Redis,
    Memcached,
    Sql,
}

impl StoreKind {
    pub const ALL: &'static [(&'static str, StoreKind)] = &[
        ("redis", StoreKind::Redis),
        ("memcached", StoreKind::Memcached),
        ("sql", StoreKind::Sql),
    ];

    pub fn name(self) -> &'static str {
        name_in(Self::ALL, self)
    }
}

/// How sessions are spread over the servers of a store, by session id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spread {
    /// `hash(id) % servers` (phpredis with several hosts in `save_path`).
    Modulo,
    /// A hash ring with 160 points per server (php-memcached, libmemcached's ketama).
    Consistent,
}

impl Spread {
    pub const ALL: &'static [(&'static str, Spread)] =
        &[("modulo", Spread::Modulo), ("consistent", Spread::Consistent)];
}

/// What a full store does with a new item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// Evict the least recently used item (memcached; Redis `allkeys-lru`).
    Lru,
    /// Refuse the write with an out-of-memory error (Redis `noeviction`; memcached `-M`).
    NoEviction,
}

impl Eviction {
    pub const ALL: &'static [(&'static str, Eviction)] =
        &[("lru", Eviction::Lru), ("noeviction", Eviction::NoEviction)];
}

/// What a store server crash loses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// Everything (memcached; Redis without RDB or AOF).
    None,
    /// Writes since the last snapshot, taken every `every` (Redis RDB).
    Snapshot { every: SimTime },
    /// About the last second of writes (Redis `appendfsync everysec`).
    AppendOnly,
    /// Nothing that was acknowledged (a SQL database with a synced log).
    Durable,
}

/// What a session handler does when it gives up waiting for a session lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockFail {
    /// Read the session anyway, unlocked, and refuse to write it at the end (phpredis):
    /// the request keeps its session but its update is lost.
    DropWrite,
    /// The read fails: the request runs without its session (php-memcached), a lost session.
    LoseSession,
}

impl LockFail {
    pub const ALL: &'static [(&'static str, LockFail)] = &[
        ("drop_write", LockFail::DropWrite),
        ("lose_session", LockFail::LoseSession),
    ];
}

/// One shared store cluster (`[sessions.store]` or `[sessions.cache]`), every figure resolved
/// from its kind's preset and the scenario's overrides.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub kind: StoreKind,
    pub servers: u32,
    pub spread: Spread,
    /// Server time per operation [s].
    pub service_time: Dist,
    /// Operations a server works on at once (Redis 1 thread; memcached worker threads; SQL cores).
    pub concurrency: u32,
    /// Network round trip between a backend and a store server.
    pub rtt: SimTime,
    /// The client gives up on an operation after this long (phpredis `timeout`/`read_timeout`).
    pub timeout: SimTime,
    /// Connections a server accepts (memcached `-c`, Redis `maxclients`, MySQL
    /// `max_connections`); 0 = unlimited.
    pub max_connections: u32,
    /// Memory per server for items [bytes]; 0 = unlimited.
    pub memory: u64,
    pub eviction: Eviction,
    /// memcached slab chunk growth factor (`-f`).
    pub growth_factor: f64,
    /// memcached slab page size (`-I`) [bytes]; also the largest item.
    pub page_size: u32,
    /// Bytes an item takes besides its value: the item header.
    pub item_overhead: u32,
    /// Bytes of an item's key (`PHPREDIS_SESSION:` + a 26-character id).
    pub key_bytes: u32,
    pub persistence: Persistence,
    pub locking: bool,
    /// Pause between two lock attempts.
    pub lock_wait: SimTime,
    /// Lock attempts after the first before giving up.
    pub lock_retries: u32,
    pub lock_fail: LockFail,
}

/// The session storage strategies. Adding one means a file under `src/store/` and an arm here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKind {
    /// On the backend that created it (PHP's default files handler), with its lock and GC.
    Local,
    /// Every node holds every session (Tomcat DeltaManager).
    ReplicatedAll,
    /// A primary and one backup node per session (Tomcat BackupManager).
    ReplicatedBackup,
    /// A shared store cluster: Redis, memcached or a SQL database.
    Shared,
    /// Django's `cached_db`: a write-through cache in front of a database.
    CachedDb,
    /// In the client's cookie.
    Cookie,
    /// On the node, restored from an essential-fields cookie on any other node.
    CookieFallback,
}

impl StorageKind {
    pub const ALL: &'static [(&'static str, StorageKind)] = &[
        ("local", StorageKind::Local),
        ("replicated_all", StorageKind::ReplicatedAll),
        ("replicated_backup", StorageKind::ReplicatedBackup),
        ("shared", StorageKind::Shared),
        ("cached_db", StorageKind::CachedDb),
        ("cookie", StorageKind::Cookie),
        ("cookie_fallback", StorageKind::CookieFallback),
    ];

    pub fn name(self) -> &'static str {
        name_in(Self::ALL, self)
    }
}

/// The scenario-file name of `k` in a table of (name, value) choices.
fn name_in<T: PartialEq + Copy>(all: &[(&'static str, T)], k: T) -> &'static str {
    all.iter().find(|(_, v)| *v == k).map_or("?", |(n, _)| *n)
}

/// Configurations that must fail, computed from the rates (lower bounds: re-logins, retries
/// and lock polling only add work), for synthetic workloads:
/// - the serving backends' utilisation at the peak arrival rate, `lambda x E[S] / workers`, at or
///   above 1;
/// - a `shared` store's busiest-possible utilisation at or above 1: every login writes once and
///   every request of a logged-in user reads and writes once (`lambda_ops x E[S] / (concurrency x
///   servers)`, spread evenly; the busiest server is at least that);
/// - more backend workers than a store server's `max_connections` (each worker holds one
///   connection to every server);
/// - a `cookie` session whose mean size, base64-encoded plus 80 bytes, exceeds `cookie_limit`.
fn must_fail(sys: &System) -> Vec<String> {
    let mut out = Vec::new();
    let serving: Vec<&BackendConfig> = sys.backends.iter().filter(|b| !b.down && !b.backup).collect();
    let workers: u64 = serving.iter().map(|b| b.workers as u64).sum();
    if sys.workload.replay.is_none() {
        let peak = sys.workload.profile.iter().map(|p| p.factor).fold(1.0_f64, f64::max);
        let peak = if sys.workload.profile.is_empty() { 1.0 } else { peak };
        let users = sys.workload.users_per_second * peak;
        let (mut req, mut ops) = (0.0, 0.0);
        for c in &sys.workload.classes {
            let pages = c.requests.mean() * c.parallel as f64;
            let login = if c.login { 1.0 } else { 0.0 };
            req += c.share * (login + pages);
            ops += c.share * login * (1.0 + 2.0 * pages);
        }
        let rps = users * req;
        let service = serving.iter().map(|b| b.service_time.mean()).sum::<f64>() / serving.len().max(1) as f64;
        let util = rps * service / workers.max(1) as f64;
        if workers > 0 && util.is_finite() && util >= 1.0 {
            out.push(format!(
                "the backends must saturate: {rps:.0} requests/s offered at the peak x {:.1} ms mean service time over \
                 {workers} workers is a utilisation of {util:.2} (at least 1): queues grow until requests are rejected; add \
                 backends or workers, or lower the load",
                service * 1e3
            ));
        }
        if sys.sessions.storage == StorageKind::Shared {
            let st = &sys.sessions.store;
            let cap = (st.concurrency as f64) * (st.servers as f64);
            let u = users * ops * st.service_time.mean() / cap.max(1.0);
            if u.is_finite() && u >= 1.0 {
                out.push(format!(
                    "the session store must saturate: at least {:.0} operations/s at the peak x {:.3} ms per operation \
                     over {} server(s) x {} at once is a utilisation of {u:.2} (at least 1): operations queue until they \
                     time out; add store servers or lower the load",
                    users * ops,
                    st.service_time.mean() * 1e3,
                    st.servers,
                    st.concurrency
                ));
            }
        }
        if sys.sessions.storage == StorageKind::Cookie {
            for c in &sys.workload.classes {
                let bytes = (c.session_size.mean() / 3.0).ceil() * 4.0 + 80.0;
                if c.login && bytes > sys.sessions.cookie_limit as f64 {
                    out.push(format!(
                        "cookie sessions of {:.0} bytes on average become cookies of {bytes:.0} bytes (base64 + 80), over \
                         cookie_limit = {}: browsers drop them and most sessions are lost (lost_cookie_too_large)",
                        c.session_size.mean(),
                        sys.sessions.cookie_limit
                    ));
                    break;
                }
            }
        }
    }
    let uses_store = matches!(sys.sessions.storage, StorageKind::Shared | StorageKind::CachedDb);
    if uses_store {
        let mut stores = vec![("sessions.store", &sys.sessions.store)];
        if sys.sessions.storage == StorageKind::CachedDb {
            stores.push(("sessions.cache", &sys.sessions.cache));
        }
        for (key, st) in stores {
            let max = st.max_connections as u64;
            if max > 0 && workers > max {
                out.push(format!(
                    "{} backends x their workers = {workers} connections to each {key} server exceed its \
                     max_connections = {max}: once {max} workers have connected (each keeps its connection), the other {} are \
                     refused on every attempt (store_rejected, lost sessions); raise max_connections or lower the workers",
                    serving.len(),
                    workers - max
                ));
            }
        }
    }
    out
}

impl Scenario {
    /// What is valid but cannot do what the file seems to ask: a scheduled fault that starts at
    /// or after the end of the run never happens (and no output will show it), and the
    /// configurations that must fail ([`must_fail`]). One message per distinct problem, naming
    /// the strategies it applies to unless it applies to all.
    pub fn warnings(&self) -> Vec<String> {
        let mut found: Vec<(String, Vec<&str>)> = Vec::new();
        for st in &self.strategies {
            let stores = crate::store::server_names(&st.system.sessions);
            for f in &st.system.faults.scheduled {
                if f.at < self.duration {
                    continue;
                }
                let target = match f.target {
                    crate::faults::Target::Backend(i) => st.system.backends.get(i).map(|b| b.name.clone()),
                    crate::faults::Target::Store(i) => stores.get(i).cloned(),
                }
                .unwrap_or_default();
                let kind = match f.kind {
                    crate::faults::FaultKind::Crash { .. } => "crash",
                    crate::faults::FaultKind::AppDown { .. } => "app_down",
                    crate::faults::FaultKind::Drain { .. } => "drain",
                    crate::faults::FaultKind::Slow { .. } => "slow",
                };
                let text = format!(
                    "faults: the `{kind}` fault of {target} at {} starts at or after the end of the run (duration = \"{}\"): \
                     it never happens and no output shows it; make `at` earlier or `duration` longer",
                    f.at, self.duration
                );
                match found.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, who)) => who.push(&st.label),
                    None => found.push((text, vec![&st.label])),
                }
            }
        }
        for st in &self.strategies {
            for text in must_fail(&st.system) {
                match found.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, who)) => who.push(&st.label),
                    None => found.push((text, vec![&st.label])),
                }
            }
        }
        let all = self.strategies.len();
        found
            .into_iter()
            .map(|(text, who)| {
                if who.len() == all {
                    text
                } else {
                    format!("strategy `{}`: {text}", who.join("`, `"))
                }
            })
            .collect()
    }
}

impl fmt::Display for Scenario {
    /// The resolved scenario, every default filled in, as `sessim check` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario     {}", self.name)?;
        if let Some(d) = &self.description {
            writeln!(f, "description  {d}")?;
        }
        writeln!(f, "seed         {}", self.seed)?;
        writeln!(f, "duration     {} (warm-up {} discarded)", self.duration, self.warmup)?;
        writeln!(f, "replications {}", self.replications)?;
        writeln!(f, "bucket       {}", self.bucket)?;
        for (i, s) in self.strategies.iter().enumerate() {
            writeln!(f, "\nstrategy[{i}]  {}", s.label)?;
            write!(f, "{}", s.system)?;
        }
        Ok(())
    }
}

impl fmt::Display for BalancerConfig {
    /// The balancer lines of `sessim check`: policy, its parameters, retry rules, import notes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.conf.conf();
        write!(f, "  balancer   {}", self.policy.name())?;
        match &c.method {
            Method::Hash { key, .. } => write!(f, " (key {key})")?,
            Method::EnvoyLeastRequest {
                choice_count,
                active_request_bias,
                ..
            } => write!(
                f,
                " (choice_count {choice_count}, active_request_bias {})",
                active_request_bias.0
            )?,
            Method::EnvoyRingHash {
                key,
                minimum_ring_size,
                maximum_ring_size,
                ..
            } => write!(
                f,
                " (hash {key}, minimum_ring_size {minimum_ring_size}, maximum_ring_size {maximum_ring_size})"
            )?,
            Method::EnvoyMaglev { key, table_size, .. } => write!(f, " (hash {key}, table_size {table_size})")?,
            Method::KubeProxy {
                affinity,
                recent_list_size,
            } => match affinity {
                Some(t) => write!(
                    f,
                    " (sessionAffinity ClientIP, timeoutSeconds {}, recent list {recent_list_size})",
                    t.as_nanos() / 1_000_000_000
                )?,
                None => write!(f, " (sessionAffinity None)")?,
            },
            Method::Source { consistent, .. } => write!(
                f,
                " (hash-type {})",
                if *consistent { "consistent" } else { "map-based" }
            )?,
            Method::Apache(a) => {
                write!(f, " (lbmethod={}", a.lbmethod.name())?;
                if let Some(s) = &a.sticky {
                    write!(f, " stickysession={}|{}", s.cookie, s.path)?;
                    write!(f, " nofailover={}", if a.nofailover { "On" } else { "Off" })?;
                }
                write!(f, " forcerecovery={})", if a.forcerecovery { "On" } else { "Off" })?;
            }
            _ => {}
        }
        if let Some(k) = &c.cookie {
            write!(f, " (cookie {} insert indirect nocache)", k.name)?;
        }
        writeln!(f)?;
        if let Method::EnvoyRoundRobin { outlier: Some(o) }
        | Method::EnvoyLeastRequest { outlier: Some(o), .. }
        | Method::EnvoyRingHash { outlier: Some(o), .. }
        | Method::EnvoyMaglev { outlier: Some(o), .. } = &c.method
        {
            writeln!(
                f,
                "             outlier_detection consecutive_5xx {}, interval {}, base_ejection_time {}, \
                 max_ejection_time {}, max_ejection_percent {}",
                o.consecutive_5xx, o.interval, o.base_ejection_time, o.max_ejection_time, o.max_ejection_percent
            )?;
        }
        match c.failure {
            FailurePolicy::Nginx(n) => {
                let mut words: Vec<String> = Vec::new();
                if n.error {
                    words.push("error".into());
                }
                if n.timeout {
                    words.push("timeout".into());
                }
                for (bit, status) in crate::balancer::NEXT_UPSTREAM_STATUSES.iter().enumerate() {
                    if n.http & (1 << bit) != 0 {
                        words.push(format!("http_{status}"));
                    }
                }
                if words.is_empty() {
                    words.push("off".into());
                }
                write!(f, "             proxy_next_upstream {}", words.join(" "))?;
                if n.tries > 0 {
                    write!(f, ", tries {}", n.tries)?;
                }
                writeln!(f)?;
            }
            FailurePolicy::Haproxy(h) => writeln!(
                f,
                "             retries {}, redispatch {}, connect timeout {}",
                h.retries,
                if h.redispatch.is_some() { "on" } else { "off" },
                if h.connect_timeout > SimTime::ZERO {
                    h.connect_timeout.to_string()
                } else {
                    "none".to_string()
                }
            )?,
        }
        if let Some(i) = &self.import {
            writeln!(f, "             imported from {} ({} `{}`)", i.path, i.format, i.block)?;
            for n in &i.notes {
                writeln!(f, "             note: {n}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.workload;
        if let Some(r) = &w.replay {
            writeln!(
                f,
                "  workload   replay {} ({:?}), session gap {}, time scale {}, clone {}, login {}, service {:?}{}",
                r.file.display(),
                r.format,
                r.session_gap,
                r.time_scale,
                r.clone,
                r.login,
                r.service,
                if r.strict { ", strict" } else { "" }
            )?;
        } else {
            writeln!(f, "  workload   {} users/s, {} pages", w.users_per_second, w.pages)?;
        }
        for p in &w.profile {
            writeln!(f, "             from {} rate x{}", p.at, p.factor)?;
        }
        if let Some(r) = w.profile_repeat {
            writeln!(f, "             profile repeats every {r}")?;
        }
        for c in &w.classes {
            writeln!(
                f,
                "    class {:<10} share {}, login {}, requests {}, think {}, refuse cookies {}, session {}, \
                 modify {}, parallel {}",
                c.name,
                c.share,
                c.login,
                c.requests.describe(Kind::Count),
                c.think_time.describe(Kind::Duration),
                c.refuse_cookies,
                c.session_size.describe(Kind::Bytes),
                c.session_modify,
                c.parallel
            )?;
        }
        let a = &w.addresses;
        writeln!(
            f,
            "  addresses  {} /24 networks (skew {}), {} of users behind {} NAT addresses",
            a.networks, a.network_skew, a.nat_share, a.nat_addresses
        )?;
        write!(f, "{}", self.balancer)?;
        let servers = &self.balancer.conf.conf().servers;
        for (b, s) in self.backends.iter().zip(servers) {
            write!(
                f,
                "  backend    {:<8} weight {}, {} workers, queue {}, service {}{}{}",
                b.name,
                b.weight,
                b.workers,
                b.queue,
                b.service_time.describe(Kind::Duration),
                if b.backup { ", backup" } else { "" },
                if b.down { ", down" } else { "" }
            )?;
            if s.max_conns > 0 {
                write!(f, ", max_conns {}", s.max_conns)?;
            }
            if !self.balancer.policy.is_haproxy() && !self.balancer.policy.is_envoy_or_kube() {
                write!(f, ", max_fails {}, fail_timeout {}", s.max_fails, s.fail_timeout)?;
            }
            if let Some(c) = &s.check {
                write!(f, ", check inter {} fall {} rise {}", c.inter, c.fall, c.rise)?;
            }
            if self.balancer.conf.conf().cookie.is_some()
                && let Some(c) = &s.cookie
            {
                write!(f, ", cookie {c}")?;
            }
            writeln!(f)?;
        }
        write!(f, "{}", self.sessions)
    }
}

impl fmt::Display for SessionsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self;
        writeln!(
            f,
            "  sessions   {}, gc_maxlifetime {}, write {:?}",
            s.storage.name(),
            s.lifetime,
            s.write
        )?;
        match s.storage {
            StorageKind::Local => writeln!(f, "             gc probability {}/{}", s.gc_probability, s.gc_divisor),
            StorageKind::ReplicatedAll | StorageKind::ReplicatedBackup => {
                let r = &s.replication;
                writeln!(
                    f,
                    "             send cpu {}, receive cpu {}, overhead {} B, rtt {}, send window {}",
                    r.send_cpu, r.receive_cpu, r.message_overhead, r.rtt, r.send_window
                )
            }
            StorageKind::Shared => write!(f, "{}", DisplayStore("store", &s.store)),
            StorageKind::CachedDb => {
                write!(f, "{}", DisplayStore("cache", &s.cache))?;
                write!(f, "{}", DisplayStore("store", &s.store))
            }
            StorageKind::Cookie => writeln!(f, "             cookie limit {} B", s.cookie_limit),
            StorageKind::CookieFallback => writeln!(f, "             fallback cookie {} B", s.fallback_cookie_bytes),
        }
    }
}

struct DisplayStore<'a>(&'static str, &'a StoreConfig);

impl fmt::Display for DisplayStore<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.1;
        writeln!(
            f,
            "    {:<6}   {} x {} ({:?}), service {}, concurrency {}, rtt {}, timeout {}, max connections {}",
            self.0,
            c.servers,
            c.kind.name(),
            c.spread,
            c.service_time.describe(Kind::Duration),
            c.concurrency,
            c.rtt,
            c.timeout,
            c.max_connections
        )?;
        writeln!(
            f,
            "             memory {} B ({:?}), persistence {:?}, locking {} (wait {}, {} retries, {:?})",
            c.memory, c.eviction, c.persistence, c.locking, c.lock_wait, c.lock_retries, c.lock_fail
        )
    }
}
