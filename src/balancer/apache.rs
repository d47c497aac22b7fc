//! Apache httpd 2.4 `mod_proxy_balancer`: `lbmethod=byrequests|bybusyness|bytraffic` with
//! `stickysession` routes (Tomcat's `jvmRoute`), hot standbys and the worker error state.
//!
//! Sources (apache/httpd, branch 2.4.x):
//! * `modules/proxy/proxy_util.c` `proxy_balancer_get_best_worker`: the members of lbset 0
//!   that are not draining are visited in config order; a member in error state is first
//!   offered a retry (`ap_proxy_retry_worker`: the error clears once
//!   `now > error_time + retry`, never for a stopped member); the usable non-standby members
//!   are compared by the lbmethod's `is_best` callback; only when none is usable are the
//!   usable hot standbys (`status=+H`) compared.
//! * `modules/proxy/balancers/mod_lbmethod_byrequests.c` `is_best_byrequests`: every member
//!   compared gets `lbstatus += lbfactor`, the largest `lbstatus` wins (the first on ties),
//!   and the winner pays `lbstatus -= total` (the sum of the factors added).
//! * `mod_lbmethod_bybusyness.c` `is_best_bybusyness`: the same accounting, but the fewest
//!   requests in flight (`busy`) wins; on equal `busy` the larger `lbstatus`.
//! * `mod_lbmethod_bytraffic.c` `is_best_bytraffic`: the smallest
//!   `transferred / lbfactor + read / lbfactor` (integer divisions) wins, the first on ties.
//! * `modules/proxy/mod_proxy_balancer.c`: `find_session_route` reads the sticky value from
//!   the URL path parameter (`get_path_param`, the name after `|` in `stickysession=`) or
//!   else the cookie (`get_cookie_param`); the route is what follows the *first* separator
//!   (`strchr`, `stickysessionsep`, default `.`); `find_route_worker` returns the first
//!   usable member with that `route=` (non-standby members first, then standbys), offering
//!   a retry to one in error. A routed request updates every usable member's `lbstatus` as
//!   the lbmethod would (the default `updatelbstatus`). When the route's member is unusable,
//!   `nofailover=On` answers 503; otherwise the lbmethod picks another member.
//!   `force_recovery`: when every member is in error state and `forcerecovery` is on (the
//!   default), all errors are cleared before choosing.
//! * `modules/proxy/mod_proxy.c` `proxy_handler`: a connection failure puts the member in
//!   error state (`error_time = now`) and the request is tried again on a newly chosen
//!   member, at most `maxattempts` more times (default: members - 1). A response of the
//!   member, whatever its status, is passed to the client.
//!
//! Units: `lbfactor` is `loadfactor x 100` as Apache stores it (`loadfactor=1` is 100;
//! 1..100, decimals allowed), kept in [`ServerConf::weight`]. The route of a member is its
//! [`ServerConf::cookie`], `retry=` its [`ServerConf::fail_timeout`] (Apache's default 60 s),
//! `status=+H` is [`ServerConf::backup`] and `+D`/`+S` are [`ServerConf::down`].
//!
//! Traffic: sessim models no request or response sizes, so `bytraffic` counts
//! [`ApacheConf::request_bytes`] sent and [`ApacheConf::response_bytes`] read per completed
//! request (defaults 400 and 16384: a GET with its headers and a small page).

use super::{Attempt, ClientInfo, Needs, PeerState, Policy, ServerConf, SimRng, SimTime};

/// `lbmethod=` of a balancer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbMethod {
    /// `byrequests` (the default): weighted request counting.
    ByRequests,
    /// `bybusyness`: fewest requests in flight.
    ByBusyness,
    /// `bytraffic`: fewest bytes, weighted.
    ByTraffic,
}

impl LbMethod {
    /// The name Apache uses.
    pub fn name(self) -> &'static str {
        match self {
            LbMethod::ByRequests => "byrequests",
            LbMethod::ByBusyness => "bybusyness",
            LbMethod::ByTraffic => "bytraffic",
        }
    }
}

/// `stickysession=COOKIE|PATHPARAM` and `stickysessionsep=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sticky {
    /// The cookie holding the session id (`JSESSIONID`).
    pub cookie: String,
    /// The URL path parameter (`jsessionid`); the cookie name when `|` is not given.
    pub path: String,
    /// `stickysessionsep` (default `.`; `None` = Off: the whole value is the route).
    pub separator: Option<char>,
}

/// The balancer-wide settings of a `<Proxy "balancer://...">` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApacheConf {
    /// `lbmethod=`.
    pub lbmethod: LbMethod,
    /// `stickysession=`, if set.
    pub sticky: Option<Sticky>,
    /// `nofailover=On`: a request whose route's member is unusable gets 503.
    pub nofailover: bool,
    /// `forcerecovery=` (default On).
    pub forcerecovery: bool,
    /// `maxattempts=`: failover attempts after the first (default members - 1).
    pub maxattempts: Option<u32>,
    /// Bytes sent to the member per request, for `bytraffic`.
    pub request_bytes: u64,
    /// Bytes read from the member per request, for `bytraffic`.
    pub response_bytes: u64,
}

impl Default for ApacheConf {
    fn default() -> Self {
        ApacheConf {
            lbmethod: LbMethod::ByRequests,
            sticky: None,
            nofailover: false,
            forcerecovery: true,
            maxattempts: None,
            request_bytes: 400,
            response_bytes: 16384,
        }
    }
}

impl ApacheConf {
    /// Attempts per request: `maxattempts + 1`, by default one per member. sessim stops at
    /// one attempt per member (with `forcerecovery` Apache may go round again).
    pub fn max_attempts(&self, members: usize) -> u32 {
        let n = u32::try_from(members).unwrap_or(u32::MAX);
        let default = n.saturating_sub(1);
        self.maxattempts.unwrap_or(default).saturating_add(1).min(n.max(1))
    }
}

/// Apache's `lbfactor` for `loadfactor=1`.
pub const LBFACTOR_ONE: u32 = 100;

/// One `mod_proxy_balancer` balancer.
pub struct ApacheBalancer {
    conf: ApacheConf,
    lbfactor: Vec<i64>,
    route: Vec<String>,
    standby: Vec<bool>,
    disabled: Vec<bool>,
    retry: Vec<SimTime>,
    lbstatus: Vec<i64>,
    error_since: Vec<Option<SimTime>>,
    transferred: Vec<u64>,
    read: Vec<u64>,
    /// Failed attempts since the member's last success (the router compares them with
    /// `max_fails` to notice the member failing).
    fails: Vec<u32>,
}

impl ApacheBalancer {
    /// A balancer over `servers` (config order).
    pub fn new(servers: &[ServerConf], conf: ApacheConf) -> Self {
        let n = servers.len();
        ApacheBalancer {
            conf,
            lbfactor: servers.iter().map(|s| i64::from(s.weight.max(1))).collect(),
            route: servers.iter().map(|s| s.cookie.clone().unwrap_or_default()).collect(),
            standby: servers.iter().map(|s| s.backup).collect(),
            disabled: servers.iter().map(|s| s.down).collect(),
            retry: servers.iter().map(|s| s.fail_timeout).collect(),
            lbstatus: vec![0; n],
            error_since: vec![None; n],
            transferred: vec![0; n],
            read: vec![0; n],
            fails: vec![0; n],
        }
    }

    /// `PROXY_WORKER_IS_USABLE`: neither disabled/stopped nor in error state.
    fn usable(&self, i: usize) -> bool {
        !self.disabled.get(i).copied().unwrap_or(true) && self.error_since.get(i).is_some_and(|e| e.is_none())
    }

    /// `ap_proxy_retry_worker`: a member in error becomes usable once its `retry` has passed.
    fn offer_retry(&mut self, i: usize, now: SimTime) {
        if let (Some(slot), Some(&retry)) = (self.error_since.get_mut(i), self.retry.get(i))
            && let Some(since) = *slot
            && now > since + retry
        {
            *slot = None;
        }
    }

    /// `force_recovery`: when every member is in error, clear them all.
    fn force_recovery(&mut self, now: SimTime) {
        let n = self.error_since.len();
        for i in 0..n {
            if self.error_since[i].is_none() {
                return;
            }
            self.offer_retry(i, now);
            if self.error_since[i].is_none() {
                return;
            }
        }
        if self.conf.forcerecovery {
            self.error_since.iter_mut().for_each(|e| *e = None);
        }
    }

    fn traffic(&self, i: usize) -> u64 {
        let f = u64::try_from(self.lbfactor[i]).unwrap_or(1).max(1);
        self.transferred[i] / f + self.read[i] / f
    }

    /// `is_best_*`: whether member `i` beats `best`, with the lbmethod's accounting.
    fn is_best(&mut self, i: usize, best: Option<usize>, total: &mut i64, peers: &[PeerState]) -> bool {
        let busy = |k: usize| peers.get(k).map_or(0, |p| p.conns);
        match self.conf.lbmethod {
            LbMethod::ByRequests => {
                self.lbstatus[i] += self.lbfactor[i];
                *total += self.lbfactor[i];
                best.is_none_or(|b| self.lbstatus[i] > self.lbstatus[b])
            }
            LbMethod::ByBusyness => {
                self.lbstatus[i] += self.lbfactor[i];
                *total += self.lbfactor[i];
                best.is_none_or(|b| busy(i) < busy(b) || (busy(i) == busy(b) && self.lbstatus[i] > self.lbstatus[b]))
            }
            LbMethod::ByTraffic => best.is_none_or(|b| self.traffic(i) < self.traffic(b)),
        }
    }

    /// `proxy_balancer_get_best_worker` with the lbmethod, then the winner's payment.
    fn best(&mut self, peers: &[PeerState], now: SimTime) -> Option<usize> {
        let n = self.lbfactor.len();
        let mut total = 0i64;
        let mut best = None;
        let mut standbys = 0u64;
        for i in 0..n {
            if !self.usable(i) {
                self.offer_retry(i, now);
            }
            if !self.usable(i) {
                continue;
            }
            if self.standby[i] {
                standbys |= 1 << i;
            } else if self.is_best(i, best, &mut total, peers) {
                best = Some(i);
            }
        }
        if best.is_none() {
            for i in (0..n).filter(|&i| standbys & (1 << i) != 0) {
                if self.is_best(i, best, &mut total, peers) {
                    best = Some(i);
                }
            }
        }
        if let Some(b) = best
            && self.conf.lbmethod != LbMethod::ByTraffic
        {
            self.lbstatus[b] -= total;
        }
        best
    }

    /// The route in the request, as `find_session_route` extracts it.
    fn route_of<'c>(&self, client: &ClientInfo<'c>) -> Option<&'c str> {
        let sticky = self.conf.sticky.as_ref()?;
        let value = path_param(client.uri, &sticky.path).or(client.session_cookie.filter(|v| !v.is_empty()))?;
        let route = match sticky.separator {
            Some(sep) => &value[value.find(sep)? + sep.len_utf8()..],
            None => value,
        };
        (!route.is_empty()).then_some(route)
    }

    /// `find_route_worker`: the first usable member with `route` (standbys second).
    fn route_worker(&mut self, route: &str, now: SimTime) -> Option<usize> {
        for standby in [false, true] {
            for i in 0..self.route.len() {
                if self.standby[i] != standby || self.route[i].is_empty() || self.route[i] != route {
                    continue;
                }
                if !self.usable(i) {
                    self.offer_retry(i, now);
                }
                if self.usable(i) {
                    return Some(i);
                }
            }
        }
        None
    }
}

/// `get_path_param` with `scolonpathdelim` On (the default): the value of `name=` anywhere
/// in the URL, up to `;`, `?` or `&`.
fn path_param<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    const DELIMS: [char; 3] = [';', '?', '&'];
    if name.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(pos) = url.get(from..).and_then(|s| s.find(name)) {
        let after = from + pos + name.len();
        if url.as_bytes().get(after) == Some(&b'=') && after + 1 < url.len() {
            // apr_strtok: leading delimiters are skipped; only delimiters means no value.
            let rest = url[after + 1..].trim_start_matches(DELIMS);
            let end = rest.find(DELIMS).unwrap_or(rest.len());
            return (end > 0).then(|| &rest[..end]);
        }
        from = from + pos + 1;
    }
    None
}

impl Policy for ApacheBalancer {
    fn needs(&self) -> Needs {
        let sticky = self.conf.sticky.is_some();
        Needs {
            session_route: sticky,
            uri: sticky,
            ..Needs::default()
        }
    }

    fn pick(
        &mut self,
        client: &ClientInfo<'_>,
        peers: &[PeerState],
        _attempt: &mut Attempt,
        now: SimTime,
        _rng: &mut SimRng,
    ) -> Option<usize> {
        self.force_recovery(now);
        let route = self.route_of(client);
        let mut chosen = None;
        if let Some(route) = route {
            if let Some(i) = self.route_worker(route, now) {
                // The default `updatelbstatus`: every usable member gains its factor, the
                // routed one pays the total.
                let mut total = 0;
                for k in 0..self.lbfactor.len() {
                    if self.usable(k) {
                        self.lbstatus[k] += self.lbfactor[k];
                        total += self.lbfactor[k];
                    }
                }
                self.lbstatus[i] -= total;
                chosen = Some(i);
            } else if self.conf.nofailover && self.route.iter().any(|r| r == route) {
                return None;
            }
        }
        match chosen {
            Some(i) => Some(i),
            None => self.best(peers, now),
        }
    }

    fn report(&mut self, peer: usize, ok: bool, _peers: &[PeerState], now: SimTime) {
        let Some(fails) = self.fails.get_mut(peer) else { return };
        if ok {
            *fails = 0;
            self.transferred[peer] = self.transferred[peer].saturating_add(self.conf.request_bytes);
            self.read[peer] = self.read[peer].saturating_add(self.conf.response_bytes);
        } else {
            // A connection failure: the member enters error state (mod_proxy.c).
            *fails = fails.saturating_add(1);
            self.error_since[peer] = Some(now);
        }
    }

    fn fails(&self, peer: usize) -> u32 {
        self.fails.get(peer).copied().unwrap_or(0)
    }
}

/// The policy `apache` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "apache",
    directive: "",
    title: "apache mod_proxy_balancer",
    family: super::registry::Family::Apache,
    backup: true,
    keys: &["lbmethod", "stickysession", "nofailover", "forcerecovery", "retry"],
    method: |p| super::Method::new(p.apache.clone()),
};

impl super::Algorithm for ApacheConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(ApacheBalancer::new(servers, self.clone()))
    }

    fn summary(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, " (lbmethod={}", self.lbmethod.name())?;
        if let Some(s) = &self.sticky {
            write!(f, " stickysession={}|{}", s.cookie, s.path)?;
            write!(f, " nofailover={}", if self.nofailover { "On" } else { "Off" })?;
        }
        write!(f, " forcerecovery={})", if self.forcerecovery { "On" } else { "Off" })
    }

    /// Its keys, and `retry`: the members' `fail_timeout` (the first one's).
    fn keys(&self, servers: &[ServerConf], keys: &mut super::Keys) {
        keys.put("lbmethod", self.lbmethod.name());
        if let Some(s) = &self.sticky {
            keys.put("stickysession", format!("{}|{}", s.cookie, s.path));
            keys.put("nofailover", self.nofailover);
        }
        keys.put("forcerecovery", self.forcerecovery);
        if let Some(s) = servers.first() {
            keys.put("retry", s.fail_timeout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{client, rng};
    use super::*;
    use crate::balancer::Bookkeeping;

    fn members(factors: &[u32]) -> Vec<ServerConf> {
        factors
            .iter()
            .enumerate()
            .map(|(i, &f)| {
                let mut s =
                    ServerConf::new(format!("t{}", i + 1), format!("127.0.0.1:{}", 18081 + i)).weight(f * LBFACTOR_ONE);
                s.cookie = Some(format!("r{}", i + 1));
                s.fail_timeout = SimTime::from_secs(60);
                s
            })
            .collect()
    }

    fn run(p: &mut ApacheBalancer, peers: &mut [PeerState], c: &ClientInfo<'_>, n: usize, now: SimTime) -> Vec<usize> {
        let mut g = rng();
        (0..n)
            .filter_map(|_| {
                let mut a = Attempt::default();
                let i = p.pick_counted(c, peers, &mut a, now, &mut g)?;
                p.report_counted(i, true, peers, now);
                Some(i)
            })
            .collect()
    }

    /// byrequests with factors 1,1,1,2: by hand from is_best_byrequests, lbstatus starts at 0,
    /// each round adds (1,1,1,2)x100, the max wins (first on ties) and pays 500:
    /// round 1: (100,100,100,200) -> d, d=-300; round 2: (200,200,200,-100) -> a, a=-300;
    /// round 3: (-200,300,300,100) -> b; round 4: (-100,-100,400,300) -> c; round 5:
    /// (0,0,0,500) -> d, leaving (0,0,0,0): the cycle of 5 repeats.
    #[test]
    fn byrequests_weighted_sequence_from_the_source() {
        let s = members(&[1, 1, 1, 2]);
        let mut p = ApacheBalancer::new(&s, ApacheConf::default());
        let mut peers = PeerState::for_servers(&s);
        let got = run(&mut p, &mut peers, &client("10.0.0.1"), 10, SimTime::ZERO);
        assert_eq!(got, vec![3, 0, 1, 2, 3, 3, 0, 1, 2, 3]);
    }

    /// bybusyness: with member 0 holding a request, the others are preferred; among equal
    /// busy the lbstatus rule rotates them.
    #[test]
    fn bybusyness_prefers_idle_then_lbstatus() {
        let s = members(&[1, 1, 1]);
        let conf = ApacheConf {
            lbmethod: LbMethod::ByBusyness,
            ..ApacheConf::default()
        };
        let mut p = ApacheBalancer::new(&s, conf);
        let mut peers = PeerState::for_servers(&s);
        let mut g = rng();
        let c = client("10.0.0.1");
        let mut a = Attempt::default();
        // First pick: all busy 0, lbstatus all 100: the first wins; it stays busy.
        assert_eq!(p.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g), Some(0));
        // Busy (1,0,0): 1 and 2 tie on busy; lbstatus (−200+100, 200, 200): 1 wins (first).
        let got = run(&mut p, &mut peers, &c, 4, SimTime::ZERO);
        assert_eq!(got, vec![1, 2, 1, 2]);
    }

    /// bytraffic: the least bytes per factor; with factor 2 member 1 takes two of every three.
    #[test]
    fn bytraffic_weights_bytes() {
        let s = members(&[1, 2]);
        let conf = ApacheConf {
            lbmethod: LbMethod::ByTraffic,
            request_bytes: 100,
            response_bytes: 900,
            ..ApacheConf::default()
        };
        let mut p = ApacheBalancer::new(&s, conf);
        let mut peers = PeerState::for_servers(&s);
        // traffic = transferred/lbfactor + read/lbfactor, integer divisions (lbfactor 100 and
        // 200): member 0 after k requests 100k/100 + 900k/100 = 10k; member 1 100k/200 +
        // 900k/200 = 0+4, 1+9, 1+13, 2+18 for k = 1..4. Smallest wins, the first on ties:
        // (0,0) -> 0; (10,0) -> 1; (10,4) -> 1; (10,10) -> 0; (20,10) -> 1; (20,14) -> 1.
        let got = run(&mut p, &mut peers, &client("10.0.0.1"), 6, SimTime::ZERO);
        assert_eq!(got, vec![0, 1, 1, 0, 1, 1]);
    }

    #[test]
    fn sticky_route_from_cookie_or_url_and_failover() {
        let s = members(&[1, 1, 1]);
        let conf = ApacheConf {
            sticky: Some(Sticky {
                cookie: "JSESSIONID".into(),
                path: "jsessionid".into(),
                separator: Some('.'),
            }),
            ..ApacheConf::default()
        };
        let mut p = ApacheBalancer::new(&s, conf.clone());
        let mut peers = PeerState::for_servers(&s);
        let cookie = ClientInfo {
            session_cookie: Some("0123abcd.r3"),
            ..client("10.0.0.1")
        };
        assert_eq!(run(&mut p, &mut peers, &cookie, 3, SimTime::ZERO), vec![2, 2, 2]);
        // The URL path parameter wins over the cookie.
        let url = ClientInfo {
            uri: "/app;jsessionid=ffff.r2?x=1",
            ..cookie
        };
        assert_eq!(run(&mut p, &mut peers, &url, 1, SimTime::ZERO), vec![1]);
        assert_eq!(path_param("/x;jsessionid=a.b;y", "jsessionid"), Some("a.b"));
        assert_eq!(path_param("/x;jsessionid=", "jsessionid"), None);
        assert_eq!(path_param("/x;jsessionid=;;v&w", "jsessionid"), Some("v"));
        // Everything after the first '.' is the route: "a.r1.x" has route "r1.x", no member's.
        let dotted = ClientInfo {
            session_cookie: Some("a.r1.x"),
            ..client("10.0.0.1")
        };
        assert_eq!(p.route_of(&dotted), Some("r1.x"));
        // Member r3 fails: it enters error state, the request goes elsewhere, and so do the
        // next ones until `retry` (60 s) has passed.
        let mut g = rng();
        let mut a = Attempt::default();
        assert_eq!(
            p.pick_counted(&cookie, &mut peers, &mut a, SimTime::ZERO, &mut g),
            Some(2)
        );
        p.report_counted(2, false, &mut peers, SimTime::ZERO);
        let second = p.pick_counted(&cookie, &mut peers, &mut a, SimTime::ZERO, &mut g);
        assert!(matches!(second, Some(0 | 1)));
        assert!(!run(&mut p, &mut peers, &cookie, 5, SimTime::from_secs(60)).contains(&2));
        assert_eq!(run(&mut p, &mut peers, &cookie, 1, SimTime::from_secs(61)), vec![2]);
        // nofailover=On: 503 while the route's member is in error.
        let mut p = ApacheBalancer::new(
            &s,
            ApacheConf {
                nofailover: true,
                ..conf
            },
        );
        let mut peers = PeerState::for_servers(&s);
        let mut a = Attempt::default();
        let _ = p.pick_counted(&cookie, &mut peers, &mut a, SimTime::ZERO, &mut g);
        p.report_counted(2, false, &mut peers, SimTime::ZERO);
        assert_eq!(p.pick_counted(&cookie, &mut peers, &mut a, SimTime::ZERO, &mut g), None);
    }

    #[test]
    fn hot_standby_only_when_no_other_and_forcerecovery() {
        let mut s = members(&[1, 1, 1]);
        s[2].backup = true;
        let mut p = ApacheBalancer::new(&s, ApacheConf::default());
        let mut peers = PeerState::for_servers(&s);
        let c = client("10.0.0.1");
        assert_eq!(run(&mut p, &mut peers, &c, 4, SimTime::ZERO), vec![0, 1, 0, 1]);
        p.report_counted(0, false, &mut peers, SimTime::ZERO);
        p.report_counted(1, false, &mut peers, SimTime::ZERO);
        peers.iter_mut().for_each(|q| q.conns = 0);
        assert_eq!(run(&mut p, &mut peers, &c, 2, SimTime::ZERO), vec![2, 2]);
        // All three in error: forcerecovery clears them and the primaries are chosen again.
        p.report_counted(2, false, &mut peers, SimTime::ZERO);
        peers.iter_mut().for_each(|q| q.conns = 0);
        assert!(matches!(run(&mut p, &mut peers, &c, 1, SimTime::ZERO)[..], [0] | [1]));
        let mut p = ApacheBalancer::new(
            &s,
            ApacheConf {
                forcerecovery: false,
                ..ApacheConf::default()
            },
        );
        for i in 0..3 {
            p.report_counted(i, false, &mut peers, SimTime::ZERO);
        }
        peers.iter_mut().for_each(|q| q.conns = 0);
        assert!(run(&mut p, &mut peers, &c, 1, SimTime::from_secs(1)).is_empty());
    }

    #[test]
    fn max_attempts_default_is_one_per_member() {
        let c = ApacheConf::default();
        assert_eq!(c.max_attempts(4), 4);
        assert_eq!(c.max_attempts(1), 1);
        let c = ApacheConf {
            maxattempts: Some(1),
            ..c
        };
        assert_eq!(c.max_attempts(4), 2);
    }
}
