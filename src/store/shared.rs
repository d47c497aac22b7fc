//! `shared`: every backend keeps its sessions in one store cluster (Redis with phpredis,
//! memcached with php-memcached, or a SQL table), as `session.save_handler = redis` does.
//!
//! A request of a session, holding its worker throughout: with locking on, `SET NX` (or
//! memcached `add`) on the lock key, retried every `lock_wait` up to `lock_retries` times
//! (phpredis: 100 x 20 ms, then it reads unlocked and refuses to write; php-memcached: 150 ms x
//! 5, then the read fails and the request runs without its session); then `GET`. At the end:
//! `SETEX` when the session changed (or always, by `sessions.write`), else the TTL refresh that
//! `lazy_write` does (`EXPIRE` / `touch`), and `DEL` of the lock. A login writes the new
//! session; with locking it first takes the new id's lock and reads it, as `session_start`
//! does (`Shared::login_step`). Each operation queues at the session's server and costs a network round trip; one
//! that takes longer than the client's timeout fails (`lost_store_timeout` on a read), and a
//! worker over the server's connection limit is refused (`store_rejected`,
//! `lost_store_failure`).

use super::cluster::Cluster;
use super::config::{LockFail, SessionsConfig, StoreKind, WriteMode};
use super::station::OpResult;
use super::{Access, Env, LostCause, Progress, ServerReport, SessionId, SessionStore, Step, StoreTotals, write_kind};
use crate::engine::SimTime;

/// What the rest of the crate asks of this strategy (see [`super::Info`]): store servers
/// named `<kind><i>` (`redis1`, `redis2`); every backend worker holds a connection to each.
pub(crate) const INFO: super::Info = super::Info {
    build: |cfg, env| Box::new(Shared::new(cfg, env)),
    server_names: |cfg| super::cluster_names(&cfg.store, cfg.store.kind.name()),
    clusters: |cfg| vec![&cfg.store],
    uses_connections: true,
};

pub(crate) struct Shared {
    c: Cluster,
    write: WriteMode,
    totals: StoreTotals,
}

impl Shared {
    pub(crate) fn new(cfg: &SessionsConfig, env: Env) -> Self {
        Shared {
            c: Cluster::new(&cfg.store, cfg.store.kind.name(), cfg.lifetime, env, 0),
            write: cfg.write,
            totals: StoreTotals::default(),
        }
    }
}

// Positions in a phase.
const LOCK: u8 = 1;
const GET: u8 = 2;
const SET: u8 = 3;
const TOUCH: u8 = 4;
const UNLOCK: u8 = 5;
// A login under a locking handler, before its SET (see `login_step`).
const NEW_EXIST: u8 = 6;
const NEW_LOCK: u8 = 7;
const NEW_GET: u8 = 8;
const DONE: u8 = 9;

/// The lock-then-read phase on one cluster (shared with `cached_db`'s cache-less paths).
pub(crate) fn read_phase(
    c: &mut Cluster,
    totals: &mut StoreTotals,
    a: &Access,
    p: &mut Progress,
    now: SimTime,
) -> Step {
    if p.step == 0 {
        p.since = now;
        p.step = if c.cfg.locking { LOCK } else { GET };
    }
    match p.step {
        LOCK => match c.op(a, p, now) {
            OpResult::Refused(t) => {
                p.lost = Some(LostCause::StoreFailure);
                p.step = DONE;
                Step::Wait(t)
            }
            OpResult::Timeout(t) | OpResult::Dropped(t) => {
                p.lost = Some(LostCause::StoreTimeout);
                p.step = DONE;
                Step::Wait(t)
            }
            OpResult::Ok(t) => {
                if c.try_lock(a.sid, a.req, now) {
                    p.locked = true;
                    totals.lock_wait(a.measured, t - p.since);
                    p.step = GET;
                    Step::Wait(t)
                } else if p.tries < c.cfg.lock_retries {
                    p.tries += 1;
                    Step::Wait(t + c.cfg.lock_wait)
                } else {
                    totals.lock_wait(a.measured, t - p.since);
                    match c.cfg.lock_fail {
                        LockFail::DropWrite => {
                            p.drop_write = true;
                            p.step = GET;
                        }
                        LockFail::LoseSession => {
                            p.lost = Some(LostCause::LockTimeout);
                            p.step = DONE;
                        }
                    }
                    Step::Wait(t)
                }
            }
        },
        GET => {
            let r = c.op_value(a, p, now);
            match r {
                OpResult::Refused(_) => p.lost = Some(LostCause::StoreFailure),
                OpResult::Timeout(_) | OpResult::Dropped(_) => p.lost = Some(LostCause::StoreTimeout),
                OpResult::Ok(_) => match c.lookup(a.sid, now) {
                    Ok(slot) => p.read_version = c.version(slot),
                    Err(cause) => p.lost = Some(cause),
                },
            }
            p.step = DONE;
            Step::Wait(r.at())
        }
        _ => Step::Ready,
    }
}

impl Shared {
    /// A login under a locking handler: `session_start` runs for an id the client does not
    /// have yet, so PHP creates one and reads it (php-src `ext/session/session.c`,
    /// `php_session_initialize`: `s_create_sid` when there is no id, then `s_read` of it),
    /// which takes the new id's lock; the write then stores the session and the close deletes
    /// the lock. The operations, in order:
    /// - php-memcached (`php_memcached_session.c`): `PS_CREATE_SID_FUNC` checks the new id
    ///   for a collision with `memcached_exist` (libmemcached `exist.cc`: an `add` of an empty
    ///   value with an expiry in 1970, which memcached stores already expired: no lasting
    ///   item); `PS_READ_FUNC` takes the lock, `php_memc_sess_lock`: `add lock.<id>` of the
    ///   value "1", then `get`s the id (a miss); `PS_WRITE_FUNC` `set`s it; `PS_CLOSE_FUNC`
    ///   `delete`s the lock. 5 operations.
    /// - phpredis (`redis_session.c`): `PS_CREATE_SID_FUNC` takes the lock itself
    ///   (`lock_acquire`: `SET <key>_LOCK <secret> NX PX <expire>`); `PS_READ_FUNC`'s
    ///   `lock_acquire` then sees it already held and only `GET`s (a miss); `PS_WRITE_FUNC`
    ///   `SETEX`; `PS_CLOSE_FUNC` releases the lock (`EVALSHA` of the release script). 4
    ///   operations; a SQL store is modelled alike.
    ///
    /// Simplification: the login's `session_start` operations are issued after its
    /// application time rather than before it. The request holds its worker throughout, so
    /// its response time is the same sum, and no other request can contend for a lock of an
    /// id nobody has yet. A failed lock or read fails `session_start`: the session is not
    /// created (its next page finds it lost), and a lock taken is released.
    fn login_step(&mut self, a: &Access, p: &mut Progress, now: SimTime) -> Step {
        let failed = |c: &mut Cluster, p: &mut Progress, cause: LostCause| {
            c.tombstone(a.sid, cause, now);
            p.step = if p.locked { UNLOCK } else { DONE };
        };
        match p.step {
            NEW_EXIST => {
                // A failed `memcached_exist` is taken as "no collision": the id is used.
                let r = self.c.op(a, p, now);
                p.step = NEW_LOCK;
                Step::Wait(r.at())
            }
            NEW_LOCK => {
                let r = self.c.op(a, p, now);
                match r {
                    OpResult::Refused(_) => failed(&mut self.c, p, LostCause::StoreFailure),
                    OpResult::Timeout(_) | OpResult::Dropped(_) => failed(&mut self.c, p, LostCause::StoreTimeout),
                    OpResult::Ok(_) => {
                        if self.c.try_lock(a.sid, a.req, now) {
                            p.locked = true;
                            p.step = NEW_GET;
                        } else {
                            // Only a full store without eviction refuses the lock of a new id.
                            failed(&mut self.c, p, LostCause::StoreFailure);
                        }
                    }
                }
                Step::Wait(r.at())
            }
            _ => {
                // The read of the new id finds nothing: no session data on the wire.
                let r = self.c.op(a, p, now);
                match r {
                    OpResult::Refused(_) => failed(&mut self.c, p, LostCause::StoreFailure),
                    OpResult::Timeout(_) | OpResult::Dropped(_) => failed(&mut self.c, p, LostCause::StoreTimeout),
                    OpResult::Ok(_) => p.step = SET,
                }
                Step::Wait(r.at())
            }
        }
    }
}

impl SessionStore for Shared {
    #[inline]
    fn prefetch(&self, sid: SessionId) {
        self.c.prefetch(sid);
    }

    #[inline]
    fn prefetch_item(&self, sid: SessionId) {
        self.c.prefetch_item(sid);
    }

    fn read(&mut self, a: &Access, p: &mut Progress, now: SimTime) -> Step {
        read_phase(&mut self.c, &mut self.totals, a, p, now)
    }

    fn write(&mut self, a: &Access, p: &mut Progress, create: bool, now: SimTime, _: &mut Vec<u32>) -> Step {
        let after = |p: &Progress| if p.locked { UNLOCK } else { DONE };
        if p.step == 0 {
            p.step = if create && self.c.cfg.locking && !p.locked {
                // `session_start` of the login page, before its write: see `login_step`.
                if self.c.cfg.kind == StoreKind::Memcached {
                    NEW_EXIST
                } else {
                    NEW_LOCK
                }
            } else if create {
                SET
            } else if p.lost.is_some() {
                after(p)
            } else if p.drop_write {
                // phpredis refuses to write a session whose lock it does not hold.
                if a.modified && a.measured {
                    self.totals.lost_updates += 1;
                }
                after(p)
            } else {
                match write_kind(self.write, a.modified) {
                    (true, _) => SET,
                    (false, true) => TOUCH,
                    (false, false) => after(p),
                }
            };
        }
        match p.step {
            NEW_EXIST | NEW_LOCK | NEW_GET => self.login_step(a, p, now),
            SET => {
                let r = self.c.op_value(a, p, now);
                match r {
                    OpResult::Refused(_) => {
                        if create {
                            self.c.tombstone(a.sid, LostCause::StoreFailure, now);
                        }
                    }
                    OpResult::Dropped(_) => {
                        if create {
                            self.c.tombstone(a.sid, LostCause::StoreTimeout, now);
                        }
                    }
                    // A write that timed out once started is still applied on the server.
                    OpResult::Ok(_) | OpResult::Timeout(_) => {
                        let rv = if create { None } else { Some(p.read_version) };
                        self.c.store(a, rv, now, &mut self.totals);
                    }
                }
                p.step = after(p);
                Step::Wait(r.at())
            }
            TOUCH => {
                let r = self.c.op(a, p, now);
                if matches!(r, OpResult::Ok(_) | OpResult::Timeout(_)) {
                    self.c.refresh(a.sid, now);
                }
                p.step = after(p);
                Step::Wait(r.at())
            }
            UNLOCK => {
                let r = self.c.op(a, p, now);
                // A refused or timed-out DEL leaves the lock to its expiry; the lock expiry is
                // not modelled, so the lock is released either way.
                self.c.unlock(a.sid, a.req);
                p.locked = false;
                p.step = DONE;
                Step::Wait(r.at())
            }
            _ => Step::Ready,
        }
    }

    fn held_by(&self, _: usize) -> u64 {
        0
    }

    fn locks_held(&self) -> u64 {
        self.c.locks_held()
    }

    fn totals(&self) -> StoreTotals {
        let mut t = self.totals.clone();
        t.evictions = self.c.evictions();
        t.store_bytes = self.c.wire_bytes();
        t
    }

    fn servers(&self, window: (SimTime, SimTime)) -> Vec<ServerReport> {
        self.c.reports(window)
    }

    fn crash_server(&mut self, server: usize, now: SimTime) {
        self.c.crash(server, now, &mut self.totals);
    }

    fn set_server_down(&mut self, server: usize, down: bool) {
        self.c.set_down(server, down);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;

    /// A memcached `shared` store of 2 MiB (two 1 MiB pages) with 250 000-byte sessions, and
    /// `locking` as given.
    fn store(locking: bool) -> Shared {
        let text = format!(
            "name = \"t\"\nduration = \"100s\"\n[workload]\nusers_per_second = 1\nsession_size = 250000\n\
             [sessions]\nstorage = \"shared\"\n\
             [sessions.store]\nkind = \"memcached\"\nmemory = \"2MiB\"\nlocking = {locking}\n"
        );
        let sc = load_str(&text, "t.toml", &[]).unwrap();
        let env = Env {
            backends: 1,
            connections: 1,
            seed: 1,
            rep: 0,
            warmup: SimTime::ZERO,
            duration: SimTime::from_secs(100),
            bucket: SimTime::from_secs(10),
        };
        Shared::new(&sc.strategies()[0].system.sessions, env)
    }

    /// Runs login `i` (a new session id `i + 1`) at `i` seconds to its end; returns how many
    /// store operations it made.
    fn login(s: &mut Shared, i: u32) -> u16 {
        let a = Access {
            req: i,
            sid: i as u64 + 1,
            backend: 0,
            conn: 0,
            user_key: 7,
            index: i as u64,
            bytes: 250_000,
            cookies: true,
            modified: true,
            measured: true,
        };
        let mut p = Progress::default();
        let mut now = SimTime::from_secs(i as u64);
        while let Step::Wait(t) = s.write(&a, &mut p, true, now, &mut Vec::new()) {
            now = t;
        }
        assert!(!p.locked, "the login released its lock");
        p.ops
    }

    /// Issue 13, item 2, worked by hand. Items: a session is `item_overhead` 50 + key 40 +
    /// 250 000 = 250 090 bytes, which takes a 252 696-byte chunk (class 36 of memcached's
    /// defaults, numbered from 1 as `memcached -vv` does; 1 048 576 / 252 696 = 4 per page); a php-memcached lock item is 48 (item
    /// header) + 46 (key `memc.sess.key.lock.<26 chars>` with its NUL) + 3 (value "1" and
    /// "\r\n") + 8 (CAS) = 105 bytes, a 120-byte chunk (class 2, 8738 per page).
    ///
    /// With locking, the first login's `add lock.<id>` is the first item stored: class 2 takes
    /// page 1; its `set` then gives class 36 page 2; that is the 2 MiB. Logins 2 to 4 fill class
    /// 36's page (4 sessions); logins 5 and 6 find it full with no page left (memcached's
    /// `do_slabs_newslab` refuses a class that has a page once `mem_malloced + len >
    /// mem_limit`) and evict the least recently used sessions, those of logins 1 and 2. So 6
    /// logins hold 4 sessions with 2 evictions, in exactly 2 MiB of pages; each login made 5
    /// operations (exist, add lock, get, set, delete lock).
    ///
    /// Without locking, the sessions' class takes both pages: 8 sessions fit, so 6 logins hold
    /// 6 with no eviction and 10 hold 8 with 2 evictions, in 2 MiB; one operation each (set).
    #[test]
    fn a_locking_login_gives_the_lock_class_the_first_page() {
        let mut s = store(true);
        let ops: Vec<u16> = (0..6).map(|i| login(&mut s, i)).collect();
        assert_eq!(ops, vec![5; 6]);
        assert_eq!((s.c.items(), s.c.evictions()), (4, 2));
        assert_eq!(s.c.locks_held(), 0);
        let r = &s.c.reports((SimTime::ZERO, SimTime::from_secs(100)))[0];
        assert_eq!((r.items, r.evictions, r.memory_bytes), (4, 2, 2 << 20));
        assert_eq!(s.c.lock_bytes(), 105);

        let mut s = store(false);
        let ops: Vec<u16> = (0..6).map(|i| login(&mut s, i)).collect();
        assert_eq!(ops, vec![1; 6]);
        assert_eq!((s.c.items(), s.c.evictions()), (6, 0));
        for i in 6..10 {
            login(&mut s, i);
        }
        assert_eq!((s.c.items(), s.c.evictions()), (8, 2));
        let r = &s.c.reports((SimTime::ZERO, SimTime::from_secs(100)))[0];
        assert_eq!(r.memory_bytes, 2 << 20);
    }
}
