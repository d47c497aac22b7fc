//! `cookie_fallback`: the seeds' hybrid. The session stays on the node as with `local` (files,
//! their lock and garbage collection), and a small cookie holding its essential fields (the
//! user id, the login) restores it on whichever node the user lands on. So a request on a node
//! without the session does not lose it; only users who refuse cookies do
//! (`lost_cookie_refused`). Every request of a user with cookies carries the fallback cookie
//! (`sessions.fallback_cookie_size` bytes), counted in `cookie_bytes_mean`.
//!
//! Simplification: restoring the session on a node moves it there (the stale copy on the old
//! node is dropped at once instead of idling until collected).

use super::config::SessionsConfig;
use super::local::Local;
use super::{Access, Env, Progress, SessionStore, Step, StoreTotals};
use crate::engine::SimTime;

/// What the rest of the crate asks of this strategy (see [`super::Info`]): store servers
/// none.
pub(crate) const INFO: super::Info = super::Info {
    build: |cfg, env| Box::new(CookieFallback::new(cfg, env)),
    server_names: super::no_servers,
    clusters: super::no_clusters,
    uses_connections: false,
};

pub(crate) struct CookieFallback(Local);

impl CookieFallback {
    pub(crate) fn new(cfg: &SessionsConfig, env: Env) -> Self {
        CookieFallback(Local::with_fallback(cfg, env, cfg.fallback_cookie_bytes))
    }
}

impl SessionStore for CookieFallback {
    fn read(&mut self, a: &Access, p: &mut Progress, now: SimTime) -> Step {
        self.0.read(a, p, now)
    }

    fn write(&mut self, a: &Access, p: &mut Progress, create: bool, now: SimTime, woken: &mut Vec<u32>) -> Step {
        self.0.write(a, p, create, now, woken)
    }

    fn held_by(&self, backend: usize) -> u64 {
        self.0.held_by(backend)
    }

    fn totals(&self) -> StoreTotals {
        self.0.totals()
    }

    fn crash_node(&mut self, backend: usize, now: SimTime) {
        self.0.crash_node(backend, now)
    }

    fn stop_node(&mut self, backend: usize, now: SimTime) {
        self.0.stop_node(backend, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;
    use crate::store::LostCause;
    use crate::store::local::tests::{access, env};

    #[test]
    fn the_cookie_restores_the_session_elsewhere_unless_refused() {
        let text = "name = \"t\"\nduration = \"1h\"\n[workload]\nusers_per_second = 1\n\
                    [sessions]\nstorage = \"cookie_fallback\"\n";
        let cfg = load_str(text, "t.toml", &[]).unwrap().strategies[0]
            .system
            .sessions
            .clone();
        let mut s = CookieFallback::new(&cfg, env(2));
        let mut w = Vec::new();
        let t = SimTime::ZERO;
        s.write(&access(0, 1, 0), &mut Progress::default(), true, t, &mut w);
        s.write(&access(0, 2, 0), &mut Progress::default(), true, t, &mut w);
        // Session 1's user lands on node 1 with cookies: restored, not lost, now held there.
        let mut p = Progress::default();
        s.read(&access(1, 1, 1), &mut p, t);
        assert_eq!(p.lost, None);
        s.write(&access(1, 1, 1), &mut p, false, t, &mut w);
        assert_eq!((s.held_by(0), s.held_by(1)), (1, 1));
        // Session 2's user refuses cookies: lost on node 1.
        let mut a = access(2, 2, 1);
        a.cookies = false;
        let mut p = Progress::default();
        s.read(&a, &mut p, t);
        assert_eq!(p.lost, Some(LostCause::CookieRefused));
        // 1 request carried the 256-byte fallback cookie.
        assert_eq!((s.totals().cookie_requests, s.totals().cookie_bytes), (1, 256));
    }
}
