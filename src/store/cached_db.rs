//! `cached_db`: Django's `django.contrib.sessions.backends.cached_db`, a write-through cache
//! (memcached by default, `[sessions.cache]`) in front of a database (SQL by default,
//! `[sessions.store]`).
//!
//! A read tries the cache; on a miss (evicted, expired, or the cache failed or timed out) it
//! reads the database and, if found, refills the cache. A write goes to the database, then to
//! the cache. So a cache eviction costs a database read, not a session; only the database
//! losing a session loses it. Django does not lock sessions, so neither does this strategy
//! (the clusters' `locking` keys are ignored): concurrent requests lose updates, last writer
//! wins. An unchanged session under `write = "lazy"` refreshes the cache's TTL only.

use super::cluster::Cluster;
use super::config::{SessionsConfig, WriteMode};
use super::station::OpResult;
use super::{Access, Env, LostCause, Progress, ServerReport, SessionStore, Step, StoreTotals, write_kind};
use crate::engine::SimTime;

/// What the rest of the crate asks of this strategy (see [`super::Info`]): store servers
/// the cache's `cache<i>` then the database's `db<i>`; every backend worker holds a connection to each.
pub(crate) const INFO: super::Info = super::Info {
    build: |cfg, env| Box::new(CachedDb::new(cfg, env)),
    server_names: |cfg| {
        let mut names = super::cluster_names(&cfg.cache, "cache");
        names.extend(super::cluster_names(&cfg.store, "db"));
        names
    },
    clusters: |cfg| vec![&cfg.cache, &cfg.store],
    uses_connections: true,
};

pub(crate) struct CachedDb {
    cache: Cluster,
    db: Cluster,
    write: WriteMode,
    totals: StoreTotals,
}

impl CachedDb {
    pub(crate) fn new(cfg: &SessionsConfig, env: Env) -> Self {
        CachedDb {
            cache: Cluster::new(&cfg.cache, "cache", cfg.lifetime, env, 0x0cac_4e00),
            db: Cluster::new(&cfg.store, "db", cfg.lifetime, env, 0x0db0_0000),
            write: cfg.write,
            totals: StoreTotals::default(),
        }
    }
}

const CACHE_GET: u8 = 1;
const DB_GET: u8 = 2;
const REFILL: u8 = 3;
const DB_SET: u8 = 4;
const CACHE_SET: u8 = 5;
const CACHE_TOUCH: u8 = 6;
const DONE: u8 = 9;

impl SessionStore for CachedDb {
    fn read(&mut self, a: &Access, p: &mut Progress, now: SimTime) -> Step {
        if p.step == 0 {
            p.step = CACHE_GET;
        }
        match p.step {
            CACHE_GET => {
                let r = self.cache.op_value(a, p, now);
                let hit = matches!(r, OpResult::Ok(_)) && self.cache.lookup(a.sid, now).is_ok();
                p.step = if hit { DONE } else { DB_GET };
                if hit {
                    // The database holds the authoritative version.
                    p.read_version = self.db.version_of(a.sid).unwrap_or(0);
                }
                Step::Wait(r.at())
            }
            DB_GET => {
                let r = self.db.op_value(a, p, now);
                p.step = DONE;
                match r {
                    OpResult::Refused(_) => p.lost = Some(LostCause::StoreFailure),
                    OpResult::Timeout(_) | OpResult::Dropped(_) => p.lost = Some(LostCause::StoreTimeout),
                    OpResult::Ok(_) => match self.db.lookup(a.sid, now) {
                        Ok(slot) => {
                            p.read_version = self.db.version(slot);
                            p.step = REFILL;
                        }
                        Err(cause) => p.lost = Some(cause),
                    },
                }
                Step::Wait(r.at())
            }
            REFILL => {
                let r = self.cache.op_value(a, p, now);
                if matches!(r, OpResult::Ok(_) | OpResult::Timeout(_)) {
                    self.cache.store(a, None, now, &mut StoreTotals::default());
                }
                p.step = DONE;
                Step::Wait(r.at())
            }
            _ => Step::Ready,
        }
    }

    fn write(&mut self, a: &Access, p: &mut Progress, create: bool, now: SimTime, _: &mut Vec<u32>) -> Step {
        if p.step == 0 {
            p.step = if create {
                DB_SET
            } else if p.lost.is_some() {
                DONE
            } else {
                match write_kind(self.write, a.modified) {
                    (true, _) => DB_SET,
                    (false, true) => CACHE_TOUCH,
                    (false, false) => DONE,
                }
            };
        }
        match p.step {
            DB_SET => {
                let r = self.db.op_value(a, p, now);
                match r {
                    OpResult::Refused(_) => {
                        if create {
                            self.db.tombstone(a.sid, LostCause::StoreFailure, now);
                        }
                    }
                    OpResult::Dropped(_) => {
                        if create {
                            self.db.tombstone(a.sid, LostCause::StoreTimeout, now);
                        }
                    }
                    _ => {
                        let rv = if create { None } else { Some(p.read_version) };
                        self.db.store(a, rv, now, &mut self.totals);
                    }
                }
                p.step = CACHE_SET;
                Step::Wait(r.at())
            }
            CACHE_SET => {
                let r = self.cache.op_value(a, p, now);
                if matches!(r, OpResult::Ok(_) | OpResult::Timeout(_)) {
                    self.cache.store(a, None, now, &mut StoreTotals::default());
                }
                p.step = DONE;
                Step::Wait(r.at())
            }
            CACHE_TOUCH => {
                let r = self.cache.op(a, p, now);
                if matches!(r, OpResult::Ok(_) | OpResult::Timeout(_)) {
                    self.cache.refresh(a.sid, now);
                }
                p.step = DONE;
                Step::Wait(r.at())
            }
            _ => Step::Ready,
        }
    }

    fn held_by(&self, _: usize) -> u64 {
        0
    }

    fn totals(&self) -> StoreTotals {
        let mut t = self.totals.clone();
        t.evictions = self.cache.evictions() + self.db.evictions();
        t.store_bytes = self.cache.wire_bytes() + self.db.wire_bytes();
        t
    }

    fn servers(&self, window: (SimTime, SimTime)) -> Vec<ServerReport> {
        let mut v = self.cache.reports(window);
        v.extend(self.db.reports(window));
        v
    }

    /// Server numbering: the cache's servers first, then the database's.
    fn set_server_down(&mut self, server: usize, down: bool) {
        let n = self.cache.cfg.servers as usize;
        if server < n {
            self.cache.set_down(server, down);
        } else {
            self.db.set_down(server - n, down);
        }
    }

    fn crash_server(&mut self, server: usize, now: SimTime) {
        let n = self.cache.cfg.servers as usize;
        if server < n {
            self.cache.crash(server, now, &mut StoreTotals::default());
        } else {
            self.db.crash(server - n, now, &mut self.totals);
        }
    }
}
