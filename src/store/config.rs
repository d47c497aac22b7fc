//! The configuration of the session storage strategies (`[sessions]`), as the scenario loader
//! validates it: what every strategy in this folder is built from. The loader
//! (`scenario::load`) fills these in; nothing downstream re-checks them.

use crate::dist::{Dist, Kind};
use crate::engine::SimTime;
use std::fmt;

/// Where sessions live and what keeping them costs (`[sessions]`).
#[derive(Clone, Debug)]
pub struct SessionsConfig {
    /// The strategy (`storage`).
    pub(crate) storage: StorageKind,
    /// Idle time after which a session is deleted: PHP `session.gc_maxlifetime`, the TTL that
    /// phpredis and php-memcached set, Tomcat's `maxInactiveInterval`.
    pub(crate) lifetime: SimTime,
    /// PHP's garbage collection runs at a session start with probability
    /// `gc_probability / gc_divisor` (local files only).
    pub(crate) gc_probability: u32,
    /// See `gc_probability`.
    pub(crate) gc_divisor: u32,
    /// When a request writes its session back.
    pub(crate) write: WriteMode,
    /// Largest cookie a browser keeps [bytes] (`cookie`).
    pub(crate) cookie_limit: u32,
    /// Bytes of the essential-fields cookie of `cookie_fallback`.
    pub(crate) fallback_cookie_bytes: u32,
    /// Tomcat replication (`replicated_all`, `replicated_backup`).
    pub(crate) replication: ReplicationConfig,
    /// The shared store (`shared`) or the database of `cached_db`.
    pub(crate) store: StoreConfig,
    /// The cache in front of the database (`cached_db`).
    pub(crate) cache: StoreConfig,
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
    /// Every mode by its scenario name.
    pub(crate) const ALL: &'static [(&'static str, WriteMode)] = &[
        ("lazy", WriteMode::Lazy),
        ("modified", WriteMode::Modified),
        ("always", WriteMode::Always),
    ];
}

/// Tomcat cluster replication (`[sessions.replication]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationConfig {
    /// CPU time the sending node spends per message [s].
    pub(crate) send_cpu: SimTime,
    /// CPU time a receiving node spends per message [s].
    pub(crate) receive_cpu: SimTime,
    /// Bytes of a message besides the session data.
    pub(crate) message_overhead: u32,
    /// Network round trip between nodes.
    pub(crate) rtt: SimTime,
    /// DeltaManager's asynchronous send: a delta is on the wire this long after its request.
    /// (No longer read by the strategies: the channel model in `store/tomcat/` times messages.)
    pub(crate) send_window: SimTime,
    /// Tomcat's `channelSendOptions` (DeltaManager) / `mapSendOptions` (BackupManager); `None`:
    /// Tomcat's default for the strategy (async for `replicated_all`, sync for
    /// `replicated_backup`).
    pub(crate) send_mode: Option<crate::store::tomcat::channel::SendMode>,
    /// Upper bound of a message's extra one-way delay (uniform): lets asynchronous messages
    /// overtake each other (`store/tomcat/channel.rs`).
    pub(crate) jitter: SimTime,
    /// Receiver threads per node (`ReceiverBase.maxThreads`, default 15).
    pub(crate) receiver_threads: u32,
    /// A synchronous send to a dead member gives up after this (`AbstractSender.timeout`).
    pub(crate) sender_timeout: SimTime,
    /// Membership heartbeat period and drop timeout (McastService `frequency`/`dropTime` or
    /// StaticMembership `pingInterval`/`expirationTime`).
    pub(crate) membership: crate::store::tomcat::membership::Membership,
    /// `JvmRouteBinderValve` is configured: a failed-over session is renamed to the serving
    /// node's `jvmRoute`, so the balancer sticks to that node.
    pub(crate) jvm_route_binder: bool,
}

/// The kind of a shared store: sets the defaults of every other figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// Redis (one thread, RDB/AOF persistence).
    Redis,
    /// memcached (worker threads, slabs, LRU).
    Memcached,
    /// A SQL database (durable).
    Sql,
}

impl StoreKind {
    /// Every kind by its scenario name.
    pub(crate) const ALL: &'static [(&'static str, StoreKind)] = &[
        ("redis", StoreKind::Redis),
        ("memcached", StoreKind::Memcached),
        ("sql", StoreKind::Sql),
    ];

    /// The scenario name.
    pub(crate) fn name(self) -> &'static str {
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
    /// Every spread by its scenario name.
    pub(crate) const ALL: &'static [(&'static str, Spread)] =
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
    /// Every policy by its scenario name.
    pub(crate) const ALL: &'static [(&'static str, Eviction)] =
        &[("lru", Eviction::Lru), ("noeviction", Eviction::NoEviction)];
}

/// What a store server crash loses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// Everything (memcached; Redis without RDB or AOF).
    None,
    /// Writes since the last snapshot, taken every `every` (Redis RDB).
    Snapshot {
        /// The snapshot period.
        every: SimTime,
    },
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
    /// Every choice by its scenario name.
    pub(crate) const ALL: &'static [(&'static str, LockFail)] = &[
        ("drop_write", LockFail::DropWrite),
        ("lose_session", LockFail::LoseSession),
    ];
}

/// One shared store cluster (`[sessions.store]` or `[sessions.cache]`), every figure resolved
/// from its kind's preset and the scenario's overrides.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Its kind, which sets every default.
    pub(crate) kind: StoreKind,
    /// Servers in the cluster.
    pub(crate) servers: u32,
    /// How sessions are spread over the servers.
    pub(crate) spread: Spread,
    /// Server time per operation [s].
    pub(crate) service_time: Dist,
    /// Operations a server works on at once (Redis 1 thread; memcached worker threads; SQL cores).
    pub(crate) concurrency: u32,
    /// Network round trip between a backend and a store server.
    pub(crate) rtt: SimTime,
    /// The client gives up on an operation after this long (phpredis `timeout`/`read_timeout`).
    pub(crate) timeout: SimTime,
    /// Connections a server accepts (memcached `-c`, Redis `maxclients`, MySQL
    /// `max_connections`); 0 = unlimited.
    pub(crate) max_connections: u32,
    /// Memory per server for items [bytes]; 0 = unlimited.
    pub(crate) memory: u64,
    /// What a full server does with a new item.
    pub(crate) eviction: Eviction,
    /// memcached slab chunk growth factor (`-f`).
    pub(crate) growth_factor: f64,
    /// memcached slab page size (`-I`) [bytes]; also the largest item.
    pub(crate) page_size: u32,
    /// Bytes an item takes besides its value: the item header.
    pub(crate) item_overhead: u32,
    /// Bytes of an item's key (`PHPREDIS_SESSION:` + a 26-character id).
    pub(crate) key_bytes: u32,
    /// What a crash loses.
    pub(crate) persistence: Persistence,
    /// Whether the handler locks the session for the length of a request.
    pub(crate) locking: bool,
    /// Pause between two lock attempts.
    pub(crate) lock_wait: SimTime,
    /// Lock attempts after the first before giving up.
    pub(crate) lock_retries: u32,
    /// What giving up on the lock does.
    pub(crate) lock_fail: LockFail,
}

/// The session storage strategies. Adding one means a file under `src/store/`, an arm here, its
/// line in `StorageKind::ALL` and its arm in `StorageKind::info` (see the README, "How to add
/// a storage strategy").
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
    /// Every strategy by its scenario name (the registration list).
    pub(crate) const ALL: &'static [(&'static str, StorageKind)] = &[
        ("local", StorageKind::Local),
        ("replicated_all", StorageKind::ReplicatedAll),
        ("replicated_backup", StorageKind::ReplicatedBackup),
        ("shared", StorageKind::Shared),
        ("cached_db", StorageKind::CachedDb),
        ("cookie", StorageKind::Cookie),
        ("cookie_fallback", StorageKind::CookieFallback),
    ];

    /// The scenario name.
    pub(crate) fn name(self) -> &'static str {
        name_in(Self::ALL, self)
    }
}

/// The scenario-file name of `k` in a table of (name, value) choices.
pub(crate) fn name_in<T: PartialEq + Copy>(all: &[(&'static str, T)], k: T) -> &'static str {
    all.iter().find(|(_, v)| *v == k).map_or("?", |(n, _)| *n)
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
