//! `shared`: every backend keeps its sessions in one store cluster (Redis with phpredis,
//! memcached with php-memcached, or a SQL table), as `session.save_handler = redis` does.
//!
//! A request of a session, holding its worker throughout: with locking on, `SET NX` (or
//! memcached `add`) on the lock key, retried every `lock_wait` up to `lock_retries` times
//! (phpredis: 100 x 20 ms, then it reads unlocked and refuses to write; php-memcached: 150 ms x
//! 5, then the read fails and the request runs without its session); then `GET`. At the end:
//! `SETEX` when the session changed (or always, by `sessions.write`), else the TTL refresh that
//! `lazy_write` does (`EXPIRE` / `touch`), and `DEL` of the lock. A login writes the new
//! session. Each operation queues at the session's server and costs a network round trip; one
//! that takes longer than the client's timeout fails (`lost_store_timeout` on a read), and a
//! worker over the server's connection limit is refused (`store_rejected`,
//! `lost_store_failure`).

use super::cluster::Cluster;
use super::config::{LockFail, SessionsConfig, WriteMode};
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

pub struct Shared {
    c: Cluster,
    write: WriteMode,
    totals: StoreTotals,
}

impl Shared {
    pub fn new(cfg: &SessionsConfig, env: Env) -> Self {
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
const DONE: u8 = 9;

/// The lock-then-read phase on one cluster (shared with `cached_db`'s cache-less paths).
pub fn read_phase(c: &mut Cluster, totals: &mut StoreTotals, a: &Access, p: &mut Progress, now: SimTime) -> Step {
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

impl SessionStore for Shared {
    #[inline]
    fn prefetch(&self, sid: SessionId) {
        self.c.prefetch(sid);
    }

    fn read(&mut self, a: &Access, p: &mut Progress, now: SimTime) -> Step {
        read_phase(&mut self.c, &mut self.totals, a, p, now)
    }

    fn write(&mut self, a: &Access, p: &mut Progress, create: bool, now: SimTime, _: &mut Vec<u32>) -> Step {
        let after = |p: &Progress| if p.locked { UNLOCK } else { DONE };
        if p.step == 0 {
            p.step = if create {
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
