//! `local`: the session lives on the backend whose login created it, as PHP's default `files`
//! handler keeps it on that host's disk (php-src `ext/session/mod_files.c`). A request that
//! lands on any other backend does not find it.
//!
//! The file lock: `flock(LOCK_EX)` from session start until the request ends, with no timeout,
//! so concurrent requests of one session on its node run one after another, each holding its
//! worker while it waits (FIFO here; `flock` promises no order). Garbage collection: at a
//! session start, with probability `gc_probability / gc_divisor` (drawn per request from the
//! storage stream), PHP deletes the node's sessions idle longer than `gc_maxlifetime`; until a
//! collection runs, an idle session is still found. A session is not deleted when its user
//! leaves: it idles until collected, as on a real server.
//!
//! Reading and writing a local file costs no modelled time (it is part of the service time).

use super::config::{SessionsConfig, WriteMode};
use super::table::Table;
use super::{Access, Env, LostCause, Progress, SessionStore, Step, StoreTotals, apply_write, write_kind};
use crate::engine::SimTime;
use crate::engine::rng::{self, Stream};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// What the rest of the crate asks of this strategy (see [`super::Info`]): store servers
/// none.
pub(crate) const INFO: super::Info = super::Info {
    build: |cfg, env| Box::new(Local::new(cfg, env)),
    server_names: super::no_servers,
    clusters: super::no_clusters,
    uses_connections: false,
};

pub(crate) struct Local {
    t: Table,
    tomb: u32,
    lifetime: SimTime,
    gc_probability: u32,
    gc_divisor: u32,
    gc_key: u64,
    write: WriteMode,
    /// Requests waiting for a session's lock, in arrival order (only while there are any).
    waiters: FxHashMap<super::SessionId, VecDeque<u32>>,
    totals: StoreTotals,
    /// `cookie_fallback`: the bytes of the essential-fields cookie that restores a session on
    /// a node that does not hold it.
    fallback: Option<u32>,
}

const WAITING: u8 = 1;

impl Local {
    pub(crate) fn new(cfg: &SessionsConfig, env: Env) -> Self {
        Local {
            t: Table::new(env.backends + 1),
            tomb: env.backends as u32,
            lifetime: cfg.lifetime,
            gc_probability: cfg.gc_probability,
            gc_divisor: cfg.gc_divisor,
            gc_key: rng::stream_key(env.seed, env.rep, Stream::Storage),
            write: cfg.write,
            waiters: FxHashMap::default(),
            totals: StoreTotals::default(),
            fallback: None,
        }
    }

    pub(crate) fn with_fallback(cfg: &SessionsConfig, env: Env, cookie_bytes: u32) -> Self {
        let mut l = Self::new(cfg, env);
        l.fallback = Some(cookie_bytes);
        l
    }

    /// PHP's probabilistic garbage collection on `backend`, drawn per request.
    fn maybe_gc(&mut self, a: &Access, now: SimTime) {
        if self.gc_probability == 0
            || rng::item_below(self.gc_key ^ a.user_key, a.index, self.gc_divisor) >= self.gc_probability
        {
            return;
        }
        // mod_files deletes files whose mtime is older than now - gc_maxlifetime.
        while let Some(h) = self.t.head(a.backend) {
            let it = self.t.item(h);
            if it.touched + self.lifetime >= now || it.aux != 0 {
                break;
            }
            self.t.remove(h);
        }
        while let Some(h) = self.t.head(self.tomb) {
            if self.t.item(h).stamp > now {
                break;
            }
            self.t.remove(h);
        }
    }

    /// Takes the lock of the session in `slot` for `a`, or queues behind its holder.
    fn lock_or_wait(&mut self, slot: u32, a: &Access, p: &mut Progress, now: SimTime) -> Step {
        let it = self.t.item_mut(slot);
        if it.aux == 0 {
            it.aux = a.req + 1;
            p.locked = true;
            p.read_version = it.version;
            self.t.touch(slot, now);
            self.totals.lock_wait(a.measured, SimTime::ZERO);
            Step::Ready
        } else {
            self.waiters.entry(a.sid).or_default().push_back(a.req);
            p.since = now;
            p.step = WAITING;
            Step::Blocked
        }
    }

    fn missing(&mut self, a: &Access, p: &mut Progress, now: SimTime, cause: LostCause) -> Step {
        match self.fallback {
            Some(bytes) if a.cookies => {
                // The essential-fields cookie restores the session on this node.
                if a.measured {
                    self.totals.cookie_requests += 1;
                    self.totals.cookie_bytes += bytes as u64;
                }
                let slot = self.t.insert(a.sid, a.backend, now);
                self.lock_or_wait(slot, a, p, now)
            }
            Some(_) => {
                p.lost = Some(LostCause::CookieRefused);
                Step::Ready
            }
            None => {
                p.lost = Some(cause);
                Step::Ready
            }
        }
    }
}

impl SessionStore for Local {
    fn read(&mut self, a: &Access, p: &mut Progress, now: SimTime) -> Step {
        if p.step == WAITING {
            // The holder handed the lock over.
            p.step = 0;
            let Some(slot) = self.t.get(a.sid) else {
                p.lost = Some(LostCause::NodeFailure);
                return Step::Ready;
            };
            p.locked = true;
            p.read_version = self.t.item(slot).version;
            self.t.touch(slot, now);
            self.totals.lock_wait(a.measured, now - p.since);
            return Step::Ready;
        }
        let step = match self.t.get(a.sid) {
            Some(slot) => {
                let it = self.t.item(slot);
                match it.gone {
                    Some(cause) => self.missing(a, p, now, cause),
                    None if it.list != a.backend => self.missing(a, p, now, LostCause::RoutedElsewhere),
                    None => {
                        if a.measured && self.fallback.is_some() && a.cookies {
                            self.totals.cookie_requests += 1;
                            self.totals.cookie_bytes += self.fallback.unwrap_or(0) as u64;
                        }
                        self.lock_or_wait(slot, a, p, now)
                    }
                }
            }
            None => self.missing(a, p, now, LostCause::Expired),
        };
        // PHP collects garbage after reading (php_session_initialize).
        self.maybe_gc(a, now);
        step
    }

    fn write(&mut self, a: &Access, p: &mut Progress, create: bool, now: SimTime, woken: &mut Vec<u32>) -> Step {
        if create {
            self.t.insert(a.sid, a.backend, now);
            return Step::Ready;
        }
        if !p.locked {
            return Step::Ready;
        }
        let Some(slot) = self.t.get(a.sid) else {
            return Step::Ready;
        };
        let (data, _) = write_kind(self.write, a.modified);
        if data {
            let rv = p.read_version;
            let it = self.t.item_mut(slot);
            apply_write(&mut it.version, rv, a.measured, &mut self.totals);
        }
        self.t.touch(slot, now);
        p.locked = false;
        // Release: the next waiter gets the lock at once (flock wakes a blocked locker).
        let next = match self.waiters.get_mut(&a.sid) {
            Some(q) => {
                let n = q.pop_front();
                if q.is_empty() {
                    self.waiters.remove(&a.sid);
                }
                n
            }
            None => None,
        };
        let it = self.t.item_mut(slot);
        match next {
            Some(r) => {
                it.aux = r + 1;
                woken.push(r);
            }
            None => it.aux = 0,
        }
        Step::Ready
    }

    fn held_by(&self, backend: usize) -> u64 {
        self.t.len(backend as u32)
    }

    fn totals(&self) -> StoreTotals {
        self.totals.clone()
    }

    /// The node's sessions are gone (its disk survives a process crash, but the failures issue
    /// treats a crash as losing the node's state, as for a replaced instance).
    fn crash_node(&mut self, backend: usize, now: SimTime) {
        while let Some(h) = self.t.head(backend as u32) {
            let tomb = self.tomb;
            self.t.move_to(h, tomb, now);
            let it = self.t.item_mut(h);
            it.gone = Some(LostCause::NodeFailure);
            it.stamp = now + self.lifetime;
            it.aux = 0;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenario::load_str;

    fn cfg(extra: &str) -> SessionsConfig {
        let text = format!(
            "name = \"t\"\nduration = \"1h\"\n[workload]\nusers_per_second = 1\n[sessions]\nstorage = \"local\"\n{extra}"
        );
        load_str(&text, "t.toml", &[]).unwrap().strategies[0]
            .system
            .sessions
            .clone()
    }

    pub(crate) fn env(backends: usize) -> Env {
        Env {
            backends,
            connections: 8,
            seed: 1,
            rep: 0,
            warmup: SimTime::ZERO,
            duration: SimTime::from_secs(3600),
            bucket: SimTime::from_secs(60),
        }
    }

    pub(crate) fn access(req: u32, sid: u64, backend: u32) -> Access {
        Access {
            req,
            sid,
            backend,
            conn: backend,
            user_key: 7,
            index: req as u64,
            bytes: 1000,
            cookies: true,
            modified: true,
            measured: true,
        }
    }

    #[test]
    fn session_is_found_only_where_it_was_created() {
        let mut s = Local::new(&cfg(""), env(3));
        let t = SimTime::ZERO;
        let mut w = Vec::new();
        s.write(&access(0, 42, 1), &mut Progress::default(), true, t, &mut w);
        let mut p = Progress::default();
        assert_eq!(s.read(&access(1, 42, 1), &mut p, t), Step::Ready);
        assert_eq!(p.lost, None);
        s.write(&access(1, 42, 1), &mut p, false, t, &mut w);
        let mut p = Progress::default();
        s.read(&access(2, 42, 0), &mut p, t);
        assert_eq!(p.lost, Some(LostCause::RoutedElsewhere));
        assert_eq!(s.held_by(1), 1);
        s.write(&access(3, 42, 2), &mut Progress::default(), true, t, &mut w);
        assert_eq!((s.held_by(1), s.held_by(2)), (0, 1));
        let mut p = Progress::default();
        s.read(&access(4, 99, 2), &mut p, t);
        assert_eq!(p.lost, Some(LostCause::Expired), "never stored, or collected");
    }

    #[test]
    fn the_file_lock_serialises_concurrent_requests() {
        // Four requests of one session start together on its node: the first takes the lock,
        // the others queue in order, each woken by the previous one's write.
        let mut s = Local::new(&cfg(""), env(1));
        let mut w = Vec::new();
        s.write(&access(0, 5, 0), &mut Progress::default(), true, SimTime::ZERO, &mut w);
        let mut ps = [Progress::default(); 4];
        let t = SimTime::from_secs(1);
        let steps: Vec<Step> = (0..4)
            .map(|i| s.read(&access(i + 1, 5, 0), &mut ps[i as usize], t))
            .collect();
        assert_eq!(steps, vec![Step::Ready, Step::Blocked, Step::Blocked, Step::Blocked]);
        for i in 0..4u32 {
            let done = SimTime::from_millis(1000 + 200 * (i as u64 + 1));
            s.write(&access(i + 1, 5, 0), &mut ps[i as usize], false, done, &mut w);
            if i < 3 {
                assert_eq!(w.pop(), Some(i + 2), "the next in line is woken");
                assert_eq!(s.read(&access(i + 2, 5, 0), &mut ps[i as usize + 1], done), Step::Ready);
            }
        }
        // Serialised: no update is lost. Waits 0, 200, 400 and 600 ms: mean 300 ms.
        assert_eq!(s.totals().lost_updates, 0);
        assert_eq!(s.totals().lock_waits, 4);
        assert_eq!(s.totals().lock_wait_ns, 1_200_000_000);
    }

    #[test]
    fn garbage_collection_deletes_only_sessions_idle_past_the_lifetime() {
        // gc_probability = gc_divisor: every session start collects. Lifetime 100 s.
        let c = cfg("gc_maxlifetime = \"100s\"\ngc_probability = 1\ngc_divisor = 1\n");
        let mut s = Local::new(&c, env(1));
        let mut w = Vec::new();
        let t = SimTime::from_secs;
        s.write(&access(0, 1, 0), &mut Progress::default(), true, t(0), &mut w);
        s.write(&access(0, 2, 0), &mut Progress::default(), true, t(50), &mut w);
        s.write(&access(0, 3, 0), &mut Progress::default(), true, t(120), &mut w);
        // At 130 s session 1 is idle 130 s (collected), session 2 80 s (kept).
        let mut p = Progress::default();
        s.read(&access(1, 3, 0), &mut p, t(130));
        assert_eq!(s.held_by(0), 2);
        let mut p = Progress::default();
        s.read(&access(2, 1, 0), &mut p, t(131));
        assert_eq!(p.lost, Some(LostCause::Expired));
    }

    #[test]
    fn a_crash_loses_the_nodes_sessions() {
        // Node 0 holds sessions 1 and 2, node 1 holds 3. Node 0 crashes: exactly 2 lost.
        let mut s = Local::new(&cfg(""), env(2));
        let mut w = Vec::new();
        for (sid, b) in [(1, 0), (2, 0), (3, 1)] {
            s.write(
                &access(0, sid, b),
                &mut Progress::default(),
                true,
                SimTime::ZERO,
                &mut w,
            );
        }
        s.crash_node(0, SimTime::from_secs(1));
        let lost: Vec<Option<LostCause>> = [(1, 0), (2, 0), (3, 1)]
            .iter()
            .map(|&(sid, b)| {
                let mut p = Progress::default();
                s.read(&access(9, sid, b), &mut p, SimTime::from_secs(2));
                s.write(&access(9, sid, b), &mut p, false, SimTime::from_secs(2), &mut w);
                p.lost
            })
            .collect();
        assert_eq!(
            lost,
            vec![Some(LostCause::NodeFailure), Some(LostCause::NodeFailure), None]
        );
    }
}
