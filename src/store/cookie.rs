//! `cookie`: the session travels in the client's cookie (Django `signed_cookies`, Rails'
//! cookie store): no server holds it, so no node or store failure loses it. It costs request
//! bytes, it is lost on every request of a client that refuses cookies
//! (`lost_cookie_refused`), and a session whose encoded cookie exceeds the browser's limit
//! (`sessions.cookie_limit`, 4096 bytes by default, RFC 6265's minimum that browsers keep) is
//! dropped by the browser, so the next request does not have it (`lost_cookie_too_large`).
//!
//! The encoded cookie: base64 of the data (4 bytes per 3) plus 80 bytes of name, timestamp and
//! signature (Django: `sessionid=`, a base62 timestamp and a 27-character HMAC, with
//! separators). Concurrent requests each carry the cookie they were sent with and the last
//! response's `Set-Cookie` wins: their updates are lost as with an unlocked store.

use super::config::{SessionsConfig, WriteMode};
use super::{Access, LostCause, Progress, SessionId, SessionStore, Step, StoreTotals, apply_write, write_kind};
use crate::engine::SimTime;
use rustc_hash::FxHashMap;

/// Bytes of a session cookie besides the encoded data.
pub(crate) const COOKIE_OVERHEAD: u32 = 80;

/// The bytes of the cookie carrying `data` bytes of session.
pub(crate) fn cookie_bytes(data: u32) -> u32 {
    data.div_ceil(3).saturating_mul(4).saturating_add(COOKIE_OVERHEAD)
}

/// What the rest of the crate asks of this strategy (see [`super::Info`]): store servers
/// none.
pub(crate) const INFO: super::Info = super::Info {
    build: |cfg, _| Box::new(Cookie::new(cfg)),
    server_names: super::no_servers,
    clusters: super::no_clusters,
    uses_connections: false,
};

pub(crate) struct Cookie {
    limit: u32,
    write: WriteMode,
    /// The version the client's cookie jar holds, per session (dropped when the user leaves).
    versions: FxHashMap<SessionId, u32>,
    totals: StoreTotals,
}

impl Cookie {
    pub(crate) fn new(cfg: &SessionsConfig) -> Self {
        Cookie {
            limit: cfg.cookie_limit,
            write: cfg.write,
            versions: FxHashMap::default(),
            totals: StoreTotals::default(),
        }
    }
}

impl SessionStore for Cookie {
    fn read(&mut self, a: &Access, p: &mut Progress, _: SimTime) -> Step {
        let bytes = cookie_bytes(a.bytes);
        p.lost = if !a.cookies {
            Some(LostCause::CookieRefused)
        } else if bytes > self.limit {
            Some(LostCause::CookieTooLarge)
        } else {
            if a.measured {
                self.totals.cookie_requests += 1;
                self.totals.cookie_bytes += bytes as u64;
            }
            p.read_version = self.versions.get(&a.sid).copied().unwrap_or(0);
            None
        };
        Step::Ready
    }

    fn write(&mut self, a: &Access, p: &mut Progress, create: bool, _: SimTime, _: &mut Vec<u32>) -> Step {
        if create {
            if a.cookies && cookie_bytes(a.bytes) <= self.limit {
                self.versions.insert(a.sid, 0);
            }
        } else if p.lost.is_none() && write_kind(self.write, a.modified).0 {
            let v = self.versions.entry(a.sid).or_insert(0);
            apply_write(v, p.read_version, a.measured, &mut self.totals);
        }
        Step::Ready
    }

    fn abandon(&mut self, sid: SessionId) {
        self.versions.remove(&sid);
    }

    fn held_by(&self, _: usize) -> u64 {
        0
    }

    fn totals(&self) -> StoreTotals {
        self.totals.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;
    use crate::store::local::tests::access;

    #[test]
    fn refused_and_too_large_cookies_by_hand() {
        // 3000 bytes encode to 4000 + 80 = 4080 <= 4096: kept. 3020 bytes: 4028 + 80 = 4108 > 4096.
        assert_eq!(cookie_bytes(3000), 4080);
        assert_eq!(cookie_bytes(3020), 4108);
        let text = "name = \"t\"\nduration = \"1h\"\n[workload]\nusers_per_second = 1\n\
                    [sessions]\nstorage = \"cookie\"\n";
        let cfg = load_str(text, "t.toml", &[]).unwrap().strategies[0]
            .system
            .sessions
            .clone();
        let mut s = Cookie::new(&cfg);
        let read = |s: &mut Cookie, bytes: u32, cookies: bool| {
            let mut a = access(1, 1, 0);
            a.bytes = bytes;
            a.cookies = cookies;
            let mut p = Progress::default();
            s.read(&a, &mut p, SimTime::ZERO);
            p.lost
        };
        assert_eq!(read(&mut s, 3000, true), None);
        assert_eq!(read(&mut s, 3020, true), Some(LostCause::CookieTooLarge));
        assert_eq!(read(&mut s, 10, false), Some(LostCause::CookieRefused));
        assert_eq!((s.totals.cookie_requests, s.totals.cookie_bytes), (1, 4080));
    }

    #[test]
    fn concurrent_requests_lose_updates_last_cookie_wins() {
        // Four concurrent requests carry the same cookie (version 0); each response sets its
        // own: three of the four increments are lost.
        let text = "name = \"t\"\nduration = \"1h\"\n[workload]\nusers_per_second = 1\n\
                    [sessions]\nstorage = \"cookie\"\n";
        let cfg = load_str(text, "t.toml", &[]).unwrap().strategies[0]
            .system
            .sessions
            .clone();
        let mut s = Cookie::new(&cfg);
        let mut w = Vec::new();
        s.write(&access(0, 1, 0), &mut Progress::default(), true, SimTime::ZERO, &mut w);
        let mut ps = [Progress::default(); 4];
        for (i, p) in ps.iter_mut().enumerate() {
            s.read(&access(i as u32 + 1, 1, 0), p, SimTime::ZERO);
        }
        for (i, p) in ps.iter_mut().enumerate() {
            s.write(&access(i as u32 + 1, 1, 0), p, false, SimTime::ZERO, &mut w);
        }
        assert_eq!(s.totals.lost_updates, 3);
    }
}
