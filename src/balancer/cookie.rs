//! HAProxy cookie persistence: `cookie SERVERID insert indirect nocache`.
//!
//! Sources: haproxy/haproxy `src/http_ana.c`: `http_manage_client_side_cookies`
//! (a request whose cookie value equals a server's `cookie` goes straight to the first
//! such server that is not stopped, `SF_DIRECT`; one naming a stopped server is
//! load-balanced) and `http_manage_server_side_cookies` / the insert step of
//! `http_process_res_common` (a response to a request that was not direct gets
//! `Set-Cookie: SERVERID=<value>; path=/`, or an expired cookie when the server has no
//! value). A redispatch clears `SF_DIRECT` (`stream_choose_redispatch`), so the
//! redispatched response sets a new cookie.
//!
//! The balancing itself is the backend's `balance` algorithm (roundrobin in the seeds),
//! wrapped here. The cookie is a session cookie; clients that refuse cookies send none
//! and are balanced afresh on every request.

use super::{Attempt, ClientInfo, CookieConf, Needs, PeerState, Policy, ServerConf, SetCookie, SimRng, SimTime};

/// Cookie insert persistence over an HAProxy balancing policy.
pub struct CookieInsert {
    conf: CookieConf,
    cookies: Vec<Option<String>>,
    disabled: Vec<bool>,
    inner: Box<dyn Policy>,
}

impl CookieInsert {
    /// Wrap `inner` (built over the same `servers`).
    pub fn new(servers: &[ServerConf], conf: CookieConf, inner: Box<dyn Policy>) -> Self {
        CookieInsert {
            conf,
            cookies: servers.iter().map(|s| s.cookie.clone()).collect(),
            disabled: servers.iter().map(|s| s.down).collect(),
            inner,
        }
    }

    /// The first server whose cookie is `value` and that is not stopped.
    fn direct_target(&self, value: &str, peers: &[PeerState]) -> Option<usize> {
        self.cookies.iter().enumerate().find_map(|(i, c)| {
            let named = c.as_deref() == Some(value);
            let running = !self.disabled.get(i).copied().unwrap_or(true) && peers.get(i).is_some_and(|p| p.up);
            (named && running).then_some(i)
        })
    }
}

impl Policy for CookieInsert {
    fn needs(&self) -> Needs {
        Needs {
            server_cookie: true,
            ..self.inner.needs()
        }
    }

    fn pick(
        &mut self,
        client: &ClientInfo<'_>,
        peers: &[PeerState],
        attempt: &mut Attempt,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<usize> {
        // Persistence applies to the first attempt; a redispatch balances. The connection
        // reaches the inner policy through `server_took_conn` (HAProxy's leastconn re-sorts).
        if attempt.count == 0
            && let Some(value) = client.server_cookie
            && let Some(i) = self.direct_target(value, peers)
        {
            attempt.direct = true;
            return Some(i);
        }
        let chosen = self.inner.pick(client, peers, attempt, now, rng);
        attempt.direct = false;
        chosen
    }

    fn report(&mut self, peer: usize, ok: bool, peers: &[PeerState], now: SimTime) {
        self.inner.report(peer, ok, peers, now);
    }

    fn set_server_up(&mut self, peer: usize, up: bool, peers: &[PeerState]) {
        self.inner.set_server_up(peer, up, peers);
    }

    fn server_took_conn(&mut self, peer: usize, peers: &[PeerState]) {
        self.inner.server_took_conn(peer, peers);
    }

    fn fails(&self, peer: usize) -> u32 {
        self.inner.fails(peer)
    }

    fn response_cookie(&self, peer: usize, attempt: &Attempt) -> SetCookie<'_> {
        if attempt.direct {
            return SetCookie::Keep;
        }
        match self.cookies.get(peer) {
            Some(Some(value)) => SetCookie::Set {
                name: &self.conf.name,
                value,
            },
            _ => SetCookie::Clear { name: &self.conf.name },
        }
    }
}

/// The policy `cookie` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "cookie",
    directive: "",
    title: "haproxy cookie insert",
    family: super::registry::Family::Haproxy,
    backup: true,
    keys: &["cookie_name", "cookie_balance"],
    method: |p| p.cookie_balance.clone(),
};

#[cfg(test)]
mod tests {
    use super::super::haproxy_rr::HaproxyRoundRobin;
    use super::super::testutil::{client, rng, servers};
    use super::super::{Attempt, ClientInfo, PeerState, Policy, SetCookie};
    use super::*;
    use crate::balancer::Bookkeeping;

    fn setup() -> (CookieInsert, Vec<PeerState>) {
        let mut conf = servers(&[1, 1, 1]);
        for (i, s) in conf.iter_mut().enumerate() {
            s.cookie = Some(format!("s{}", i + 1));
        }
        let inner = Box::new(HaproxyRoundRobin::new(&conf));
        let c = CookieConf {
            name: "SERVERID".into(),
            indirect: true,
            nocache: true,
        };
        (CookieInsert::new(&conf, c, inner), PeerState::for_servers(&conf))
    }

    /// HAProxy's `connect_server` (src/backend.c) calls the algorithm's `server_take_conn` for
    /// every connection, a same-server retry after the turn-around timer included; leastconn's
    /// `fwlc_srv_reposition` (src/lb_fwlc.c) then queues the server behind the others of its
    /// key. Through the cookie wrapper the balanced policy must hear the reconnect too.
    #[test]
    fn a_reconnect_reaches_the_balanced_leastconn() {
        let conf = servers(&[1, 1]);
        let inner = Box::new(super::super::least_conn::HaproxyLeastConn::new(&conf));
        let c = CookieConf {
            name: "SERVERID".into(),
            indirect: false,
            nocache: false,
        };
        let mut p = CookieInsert::new(&conf, c, inner);
        let mut peers = PeerState::for_servers(&conf);
        let anon = client("10.0.0.1");
        let mut g = rng();
        let mut pick = |p: &mut CookieInsert, peers: &mut [PeerState]| {
            let mut a = Attempt::default();
            p.pick_counted(&anon, peers, &mut a, SimTime::ZERO, &mut g)
        };
        // Keys (SRV_EWGHT_MAX 4096 / eweight 16): idle 0, one connection (1+1)*256 = 512.
        // A -> b1 (tree b2:0 b1:512), B -> b2 (b1:512 b2:512).
        assert_eq!(pick(&mut p, &mut peers), Some(0));
        assert_eq!(pick(&mut p, &mut peers), Some(1));
        // A's connection to b1 is refused (b1:0 b2:512), then retried on b1: b1 goes back
        // to 512, queued behind b2.
        p.report_counted(0, false, &mut peers, SimTime::ZERO);
        p.connect_counted(0, &mut peers);
        // C: both hold one connection; b2 is first in the tree. Without the reconnect's
        // re-sort b1 would still sit at key 0 and take C.
        assert_eq!(pick(&mut p, &mut peers), Some(1));
    }

    #[test]
    fn first_request_balanced_then_pinned() {
        let (mut p, mut peers) = setup();
        let mut g = rng();
        let anon = client("10.0.0.1");
        let mut a = Attempt::default();
        assert_eq!(
            p.pick_counted(&anon, &mut peers, &mut a, SimTime::ZERO, &mut g),
            Some(0)
        );
        assert_eq!(
            p.response_cookie(0, &a),
            SetCookie::Set {
                name: "SERVERID",
                value: "s1"
            }
        );
        // A client pinned to s3 goes there whatever the rotation says.
        let pinned = ClientInfo {
            server_cookie: Some("s3"),
            ..anon
        };
        for _ in 0..3 {
            let mut a = Attempt::default();
            assert_eq!(
                p.pick_counted(&pinned, &mut peers, &mut a, SimTime::ZERO, &mut g),
                Some(2)
            );
            assert_eq!(p.response_cookie(2, &a), SetCookie::Keep);
            p.report_counted(2, true, &mut peers, SimTime::ZERO);
        }
        // The rotation continued independently: next anonymous request gets s2.
        let mut a = Attempt::default();
        assert_eq!(
            p.pick_counted(&anon, &mut peers, &mut a, SimTime::ZERO, &mut g),
            Some(1)
        );
    }

    #[test]
    fn down_server_cookie_is_rebalanced_and_reset() {
        let (mut p, mut peers) = setup();
        let mut g = rng();
        p.set_up_counted(2, false, &mut peers);
        let pinned = ClientInfo {
            server_cookie: Some("s3"),
            ..client("10.0.0.1")
        };
        let mut a = Attempt::default();
        let got = p.pick_counted(&pinned, &mut peers, &mut a, SimTime::ZERO, &mut g);
        assert!(matches!(got, Some(0) | Some(1)));
        assert!(matches!(p.response_cookie(got.unwrap_or(0), &a), SetCookie::Set { .. }));
        // Unknown cookie value: balanced too.
        let stale = ClientInfo {
            server_cookie: Some("nope"),
            ..client("10.0.0.1")
        };
        let mut a = Attempt::default();
        assert!(
            p.pick_counted(&stale, &mut peers, &mut a, SimTime::ZERO, &mut g)
                .is_some()
        );
        assert!(!a.direct);
    }
}
