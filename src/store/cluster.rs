//! A shared store cluster (Redis, memcached or a SQL database): its servers as queueing
//! stations, which server holds a session, items with a lifetime, memory with eviction,
//! session locks, and what a crash loses. [`super::shared`] and [`super::cached_db`] drive
//! their requests through it.
//!
//! Simplifications: an operation's effect is applied when it is issued (the station processes
//! the operations of one key in issue order, so the outcome is the same); a timed-out operation
//! still takes effect on the server (the server runs it after the client left); the consistent
//! hash ring uses this crate's mixer, not libmemcached's MD5 (same properties: 160 points per
//! server, a server's removal moves only its keys); lock items take slab memory (a memcached
//! lock item as memcached sizes it, [`Cluster::lock_bytes`]) but are never evicted; memory is
//! accounted per session item as `item_overhead` + key + value.

use super::config::{Eviction, Persistence, Spread, StoreConfig, StoreKind};
use super::slabs::Slabs;
use super::station::{OpResult, Station};
use super::table::Table;
use super::{Access, Env, LostCause, Progress, ServerReport, SessionId, StoreTotals, apply_write};
use crate::engine::SimTime;
use crate::engine::rng::{self, Stream};
use rustc_hash::FxHashMap;

/// Bytes of a phpredis lock's value (`<hostname>|<pid>`, `lock_acquire` in
/// `redis_session.c`), besides the key's `_LOCK` suffix.
const LOCK_VALUE: u32 = 16;

/// memcached's `sizeof(item)` on a 64-bit build (`memcached.h`: three pointers, two times,
/// `nbytes`, refcount, flags, class id and key length, padded to 8) and its CAS field.
const MEMCACHED_ITEM: u32 = 48;
const MEMCACHED_CAS: u32 = 8;

/// Bytes on the wire of one store operation besides the session data: the command and its
/// reply framing and the key, both ways (a RESP `GET PHPREDIS_SESSION:<26-char id>` is about
/// 60 bytes, its reply header a dozen; memcached's text protocol is alike). TCP/IP headers are
/// not counted. Only for the network cost (`store_mb`).
pub(crate) const OP_WIRE_BYTES: u64 = 100;

pub(crate) struct Cluster {
    pub(crate) cfg: StoreConfig,
    label: &'static str,
    stations: Vec<Station>,
    /// Servers that are down: their clients' connections are refused.
    down: Vec<bool>,
    t: Table,
    /// memcached: one slab allocator per server; otherwise byte counts.
    slabs: Vec<Slabs>,
    used: Vec<u64>,
    items: Vec<u64>,
    evictions: Vec<u64>,
    lists_per_server: u32,
    tomb: u32,
    ring: Vec<(u64, u32)>,
    svc_key: u64,
    lifetime: SimTime,
    warmup: SimTime,
    /// Session id -> (request holding the lock + 1, slab class of the lock item).
    locks: FxHashMap<SessionId, (u32, u16)>,
    /// Distinguishes the draws of two clusters of one strategy (cache and database).
    draw_salt: u64,
    /// Bytes the measured operations put on the network (`store_mb`).
    wire_bytes: u64,
}

impl Cluster {
    pub(crate) fn new(cfg: &StoreConfig, label: &'static str, lifetime: SimTime, env: Env, draw_salt: u64) -> Self {
        let n = cfg.servers as usize;
        let slabs: Vec<Slabs> = if cfg.kind == StoreKind::Memcached {
            let memory = if cfg.memory == 0 { u64::MAX / 2 } else { cfg.memory };
            (0..n)
                .map(|_| Slabs::new(memory, cfg.page_size, cfg.growth_factor))
                .collect()
        } else {
            Vec::new()
        };
        let lists_per_server = slabs.first().map(|s| s.classes()).unwrap_or(1) as u32;
        let ring = match cfg.spread {
            Spread::Modulo => Vec::new(),
            Spread::Consistent => {
                // 160 points per server, as php-memcached's consistent distribution (ketama).
                let mut r: Vec<(u64, u32)> = (0..n as u32)
                    .flat_map(|s| (0..160u64).map(move |i| (rng::key(&[0x6b65_7461_6d61, s as u64, i]), s)))
                    .collect();
                r.sort_unstable();
                r
            }
        };
        Cluster {
            cfg: cfg.clone(),
            label,
            down: vec![false; n],
            stations: (0..n)
                .map(|_| {
                    Station::new(
                        cfg.concurrency,
                        env.connections,
                        cfg.max_connections,
                        (env.warmup, env.duration),
                        env.bucket,
                    )
                })
                .collect(),
            t: Table::new(n * lists_per_server as usize + 1),
            slabs,
            used: vec![0; n],
            items: vec![0; n],
            evictions: vec![0; n],
            lists_per_server,
            tomb: n as u32 * lists_per_server,
            ring,
            svc_key: rng::stream_key(env.seed, env.rep, Stream::StoreService),
            lifetime,
            warmup: env.warmup,
            locks: FxHashMap::default(),
            draw_salt,
            wire_bytes: 0,
        }
    }

    /// The server that holds session `sid`.
    #[inline]
    pub(crate) fn server_of(&self, sid: SessionId) -> u32 {
        let n = self.cfg.servers;
        if n == 1 {
            return 0;
        }
        let h = rng::mix64(sid ^ 0x5345_5256);
        match self.cfg.spread {
            Spread::Modulo => (h % n as u64) as u32,
            Spread::Consistent => {
                let i = self.ring.partition_point(|&(p, _)| p < h);
                self.ring.get(i).or(self.ring.first()).map(|&(_, s)| s).unwrap_or(0)
            }
        }
    }

    /// Starts loading what a read of `sid` will look up first.
    #[inline]
    pub(crate) fn prefetch(&self, sid: SessionId) {
        self.t.prefetch(sid);
    }

    /// Starts loading `sid`'s item (its index entry should be in the cache by now).
    #[inline]
    pub(crate) fn prefetch_item(&self, sid: SessionId) {
        self.t.prefetch_item(sid);
    }

    /// Issues one operation of request `a` on the server of its session.
    pub(crate) fn op(&mut self, a: &Access, p: &mut Progress, now: SimTime) -> OpResult {
        let s = self.server_of(a.sid) as usize;
        if self.down.get(s).copied().unwrap_or(false) {
            // Neither phpredis nor php-memcached moves a session off a dead server: the
            // connection is refused and the operation fails.
            return OpResult::Refused(now + self.cfg.rtt);
        }
        if a.measured {
            self.wire_bytes += OP_WIRE_BYTES;
        }
        let draw = a.index.wrapping_mul(4096) ^ (p.ops as u64) ^ self.draw_salt;
        p.ops = p.ops.wrapping_add(1);
        let mut r = rng::item_rng(self.svc_key ^ a.user_key, draw);
        let service = SimTime::from_secs_f64(self.cfg.service_time.sample(&mut r));
        self.stations[s].op(a.conn, now, service, self.cfg.rtt, self.cfg.timeout, a.measured)
    }

    /// An operation that carries the session data (a read's reply, a write's request): its
    /// bytes count on the network too.
    pub(crate) fn op_value(&mut self, a: &Access, p: &mut Progress, now: SimTime) -> OpResult {
        let r = self.op(a, p, now);
        if a.measured && !matches!(r, OpResult::Refused(_)) {
            self.wire_bytes += a.bytes as u64;
        }
        r
    }

    /// Bytes the measured operations put on the network.
    pub(crate) fn wire_bytes(&self) -> u64 {
        self.wire_bytes
    }

    fn list_of(&self, server: u32, class: u16) -> u32 {
        server * self.lists_per_server + class as u32
    }

    /// Frees expired items at the head of `list` (memcached reclaims expired items at the LRU
    /// tail when it allocates; Redis expires keys actively), and old tombstones.
    fn reclaim(&mut self, list: u32, now: SimTime) {
        for l in [list, self.tomb] {
            while let Some(h) = self.t.head(l) {
                if self.t.item(h).stamp > now {
                    break;
                }
                self.drop_item(h);
            }
        }
    }

    /// Removes an item and frees its memory.
    fn drop_item(&mut self, slot: u32) {
        let it = self.t.remove(slot);
        if it.gone.is_none() {
            let s = it.aux as usize;
            self.free_mem(s, it.class, it.bytes);
            self.items[s] -= 1;
        }
    }

    fn free_mem(&mut self, server: usize, class: u16, bytes: u32) {
        match self.slabs.get_mut(server) {
            Some(sl) => sl.free(class, chunks(sl, bytes)),
            None => self.used[server] = self.used[server].saturating_sub(bytes as u64),
        }
    }

    /// Turns a live item into a tombstone remembering why it is gone, until it would have
    /// expired anyway.
    fn bury(&mut self, slot: u32, cause: LostCause, now: SimTime) {
        let (s, class, bytes) = {
            let it = self.t.item(slot);
            (it.aux as usize, it.class, it.bytes)
        };
        self.free_mem(s, class, bytes);
        self.items[s] -= 1;
        let tomb = self.tomb;
        self.t.move_to(slot, tomb, now);
        let it = self.t.item_mut(slot);
        it.gone = Some(cause);
        it.stamp = now + self.lifetime;
    }

    /// Remembers that session `sid` is gone (e.g. its creating write was refused).
    pub(crate) fn tombstone(&mut self, sid: SessionId, cause: LostCause, now: SimTime) {
        if let Some(slot) = self.t.get(sid) {
            if self.t.item(slot).gone.is_none() {
                self.bury(slot, cause, now);
            }
            return;
        }
        let slot = self.t.insert(sid, self.tomb, now);
        let it = self.t.item_mut(slot);
        it.gone = Some(cause);
        it.stamp = now + self.lifetime;
    }

    /// A read of `sid` reaching its server at `now`: the item's slot, or why it is missing.
    /// memcached bumps an item in its LRU when it is read.
    pub(crate) fn lookup(&mut self, sid: SessionId, now: SimTime) -> Result<u32, LostCause> {
        let Some(slot) = self.t.get(sid) else {
            return Err(LostCause::Expired);
        };
        let it = self.t.item(slot);
        if let Some(cause) = it.gone {
            return Err(cause);
        }
        if it.stamp <= now {
            self.drop_item(slot);
            return Err(LostCause::Expired);
        }
        let list = it.list;
        if !self.slabs.is_empty() {
            self.t.touch(slot, now);
        } else {
            // The write that follows the read moves the item to the tail of its list.
            self.t.prefetch_neighbours(slot);
        }
        self.reclaim(list, now);
        Ok(slot)
    }

    pub(crate) fn version(&self, slot: u32) -> u32 {
        self.t.item(slot).version
    }

    pub(crate) fn version_of(&self, sid: SessionId) -> Option<u32> {
        self.t
            .get(sid)
            .filter(|&s| self.t.item(s).gone.is_none())
            .map(|s| self.t.item(s).version)
    }

    /// Makes room for an item of `bytes` (class `class`) on `server`; false: out of memory.
    fn make_room(&mut self, server: u32, class: u16, bytes: u32, now: SimTime) -> bool {
        let s = server as usize;
        loop {
            let fits = match self.slabs.get_mut(s) {
                Some(sl) => {
                    let n = chunks(sl, bytes);
                    sl.alloc(class, n)
                }
                None => {
                    if self.cfg.memory == 0 || self.used[s] + bytes as u64 <= self.cfg.memory {
                        self.used[s] += bytes as u64;
                        true
                    } else {
                        false
                    }
                }
            };
            if fits {
                return true;
            }
            if self.cfg.eviction == Eviction::NoEviction {
                return false;
            }
            // Evict the least recently used session of the class (memcached) or of the server.
            let list = self.list_of(server, class);
            let Some(v) = self.t.head(list) else {
                return false;
            };
            if self.t.item(v).stamp <= now {
                self.drop_item(v);
            } else {
                if now >= self.warmup {
                    self.evictions[s] += 1;
                }
                self.bury(v, LostCause::Eviction, now);
            }
        }
    }

    /// A write (SET/SETEX/UPDATE) of session `a.sid` at `now`. `read_version`: the version the
    /// request read (None for a creation). Returns false when the server refused it for lack
    /// of memory or because the item is too large.
    pub(crate) fn store(
        &mut self,
        a: &Access,
        read_version: Option<u32>,
        now: SimTime,
        totals: &mut StoreTotals,
    ) -> bool {
        let server = self.server_of(a.sid);
        let bytes = self.cfg.item_overhead + self.cfg.key_bytes + a.bytes;
        let class = match self.slabs.get(server as usize) {
            Some(sl) => match sl.class_of(bytes) {
                Some((c, _)) => c,
                None => {
                    self.stations[server as usize].rejected += a.measured as u64;
                    return false;
                }
            },
            None => 0,
        };
        let list = self.list_of(server, class);
        self.reclaim(list, now);
        let existing = self.t.get(a.sid).filter(|&s| self.t.item(s).gone.is_none());
        let version = match existing {
            Some(slot) => {
                let it = self.t.item(slot);
                let same = it.class == class && it.bytes == bytes;
                let mut v = it.version;
                if let Some(rv) = read_version {
                    apply_write(&mut v, rv, a.measured, totals);
                } else {
                    v = v.wrapping_add(1);
                }
                if same {
                    self.t.move_to(slot, list, now);
                    let it = self.t.item_mut(slot);
                    it.version = v;
                    it.stamp = now + self.lifetime;
                    return true;
                }
                self.drop_item(slot);
                v
            }
            None => 0,
        };
        if !self.make_room(server, class, bytes, now) {
            self.stations[server as usize].rejected += a.measured as u64;
            if existing.is_some() || read_version.is_none() {
                // The old item is gone (replaced) or the new one never existed.
                self.tombstone(a.sid, LostCause::StoreFailure, now);
            }
            return false;
        }
        let slot = self.t.insert(a.sid, list, now);
        let it = self.t.item_mut(slot);
        it.aux = server;
        it.class = class;
        it.bytes = bytes;
        it.version = version;
        it.stamp = now + self.lifetime;
        self.items[server as usize] += 1;
        true
    }

    /// A timestamp refresh (Redis `EXPIRE`, memcached `touch`): the item lives on.
    pub(crate) fn refresh(&mut self, sid: SessionId, now: SimTime) {
        if let Some(slot) = self.t.get(sid)
            && self.t.item(slot).gone.is_none()
            && self.t.item(slot).stamp > now
        {
            self.t.touch(slot, now);
            self.t.item_mut(slot).stamp = now + self.lifetime;
        }
    }

    /// Bytes of a session's lock item. memcached (php-memcached's `add lock.<key>` of the
    /// value "1"): what `do_item_alloc` in `items.c` asks its slab class for, `item_make_header`
    /// (`sizeof(item)` + key with its terminating NUL + value with its "\r\n"; no flags
    /// suffix, the flags being 0) plus the CAS field (`settings.use_cas`, on by default):
    /// 48 + (key + 5 + 1) + (1 + 2) + 8, 105 bytes with the default 40-byte key, a 120-byte
    /// chunk of the second class. Redis and SQL: `item_overhead` + the key with its `_LOCK`
    /// suffix + the lock's value.
    pub(crate) fn lock_bytes(&self) -> u32 {
        match self.cfg.kind {
            StoreKind::Memcached => MEMCACHED_ITEM + (self.cfg.key_bytes + 5 + 1) + (1 + 2) + MEMCACHED_CAS,
            StoreKind::Redis | StoreKind::Sql => self.cfg.item_overhead + self.cfg.key_bytes + 5 + LOCK_VALUE,
        }
    }

    /// `SET key NX` / memcached `add` on the lock key: true if the request now holds the lock.
    pub(crate) fn try_lock(&mut self, sid: SessionId, req: u32, now: SimTime) -> bool {
        if self.locks.contains_key(&sid) {
            return false;
        }
        let server = self.server_of(sid);
        let bytes = self.lock_bytes();
        let class = match self.slabs.get(server as usize) {
            Some(sl) => sl.class_of(bytes).map(|c| c.0).unwrap_or(0),
            None => 0,
        };
        if !self.make_room(server, class, bytes, now) {
            return false;
        }
        self.locks.insert(sid, (req + 1, class));
        true
    }

    /// Deletes the lock if `req` holds it.
    pub(crate) fn unlock(&mut self, sid: SessionId, req: u32) {
        if let Some(&(holder, class)) = self.locks.get(&sid)
            && holder == req + 1
        {
            self.locks.remove(&sid);
            let server = self.server_of(sid) as usize;
            let bytes = self.lock_bytes();
            self.free_mem(server, class, bytes);
        }
    }

    /// Locks held now.
    pub(crate) fn locks_held(&self) -> u64 {
        self.locks.len() as u64
    }

    /// Server `server` crashed and restarted at `now`: items whose latest write its persistence
    /// had not saved are lost (created since: the session is gone; updated since: the update is
    /// lost). Returns (sessions lost, updates lost).
    /// Server `server` goes down (refusing connections) or comes back.
    pub(crate) fn set_down(&mut self, server: usize, down: bool) {
        if let Some(d) = self.down.get_mut(server) {
            *d = down;
        }
    }

    pub(crate) fn crash(&mut self, server: usize, now: SimTime, totals: &mut StoreTotals) -> (u64, u64) {
        let saved_until = match self.cfg.persistence {
            Persistence::None => SimTime::MAX,
            Persistence::Snapshot { every } => {
                let e = every.as_nanos().max(1);
                SimTime(now.as_nanos() / e * e)
            }
            // appendfsync everysec: up to the last second of writes.
            Persistence::AppendOnly => now.saturating_sub(SimTime::from_secs(1)),
            Persistence::Durable => now,
        };
        let mut lost = (0, 0);
        for slot in self.t.slots() {
            let it = self.t.item(slot);
            if it.gone.is_some() || it.aux as usize != server {
                continue;
            }
            let written = it.stamp.saturating_sub(self.lifetime);
            let created = it.created;
            if self.cfg.persistence == Persistence::None || created >= saved_until {
                self.bury(slot, LostCause::StoreFailure, now);
                lost.0 += 1;
            } else if written > saved_until {
                lost.1 += 1;
                if now >= self.warmup {
                    totals.lost_updates += 1;
                }
            }
        }
        // The crashed server's lock items vanish with it.
        let doomed: Vec<SessionId> = self
            .locks
            .keys()
            .copied()
            .filter(|&sid| self.server_of(sid) as usize == server)
            .collect();
        for sid in doomed {
            self.locks.remove(&sid);
        }
        if let Some(sl) = self.slabs.get_mut(server)
            && self.cfg.persistence == Persistence::None
        {
            sl.reset();
        }
        lost
    }

    pub(crate) fn reports(&self, window: (SimTime, SimTime)) -> Vec<ServerReport> {
        self.stations
            .iter()
            .enumerate()
            .map(|(i, st)| {
                let (utilization, wait_mean_ms, latency_mean_ms, latency_p99_ms) = st.summary();
                ServerReport {
                    name: format!("{}{}", self.label, i + 1),
                    ops: st.ops,
                    utilization,
                    wait_mean_ms,
                    latency_mean_ms,
                    latency_p99_ms,
                    rejected: st.rejected,
                    timeouts: st.timeouts,
                    evictions: self.evictions[i],
                    items: self.items[i],
                    memory_bytes: match self.slabs.get(i) {
                        Some(sl) => sl.memory_used(),
                        None => self.used[i],
                    },
                    connections: st.open_conns,
                    refused_connections: st.refused_conns,
                    bucket_utilization: st.bucket_utilization(window.1),
                    hist: st.hist().clone(),
                    wait_ns: st.wait_ns(),
                }
            })
            .collect()
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.iter().sum()
    }

    /// Sessions stored (live items).
    #[cfg(test)]
    pub fn items(&self) -> u64 {
        self.items.iter().sum()
    }
}

fn chunks(sl: &Slabs, bytes: u32) -> u32 {
    sl.class_of(bytes).map(|c| c.1).unwrap_or(1)
}
