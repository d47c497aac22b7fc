//! Load-balancer policies that decide exactly as nginx (1.22) and HAProxy (2.6) do.
//!
//! This module owns the choice of a backend for one attempt of one request, the
//! balancer-side runtime state that drives that choice (connection counts, nginx
//! passive-failure state, the health-check view of each server), the retry rules of
//! each balancer, and the import of real `nginx.conf` / `haproxy.cfg` files. It knows
//! nothing about the event queue, the backends' queues or sessions: the simulator's router
//! calls [`Policy::pick`] when an attempt starts, [`Policy::report`] when it ends, and
//! [`Policy::set_server_up`] when a health check changes its mind, always through
//! [`Bookkeeping`], which keeps the shared [`PeerState`] and the attempt's counts.
//!
//! Determinism: no policy reads a clock or OS entropy; the only randomness comes from the
//! [`SimRng`] passed in (nginx `random`). No policy allocates in `pick`/`report`.
//!
//! Time: nginx measures `fail_timeout` with `ngx_time()`, whole seconds of wall-clock
//! time; the nginx policies convert [`SimTime`] to whole seconds (plus a fixed
//! epoch offset so that the zero-initialised `checked`/`accessed` fields behave as they
//! do in a real process started long after 1970).

use std::net::IpAddr;

pub mod apache;
pub mod caddy;
pub(crate) mod client;
pub mod config;
pub mod cookie;
pub mod envoy;
pub mod envoy_least_request;
pub mod envoy_maglev;
pub mod envoy_ring_hash;
pub mod envoy_rr;
mod haproxy_lb;
pub mod haproxy_rr;
pub mod hash;
pub mod health;
pub mod ingress_nginx;
pub mod ip_hash;
pub mod kube_proxy;
pub mod least_conn;
mod method;
pub mod random;
pub mod registry;
mod retry;
pub mod round_robin;
pub(crate) mod router;
pub mod source;
mod validate;

pub use crate::engine::{SimRng, SimTime};
pub use method::{Algorithm, AlgorithmAny, Bias, HashKey, KeyValue, Keys, Method};
pub use retry::{
    AttemptOutcome, FailurePolicy, HaproxyRetries, NEXT_UPSTREAM_STATUSES, NextUpstream, RetryAction, Verdict,
};
use validate::validate;

/// One second of [`SimTime`].
pub const SECOND: SimTime = SimTime::from_secs(1);
/// One millisecond of [`SimTime`].
pub const MILLISECOND: SimTime = SimTime::from_millis(1);
/// Servers per balancer: the `tried` bitmap of an [`Attempt`] is a `u64`.
pub const MAX_SERVERS: usize = 64;
/// Largest nginx weight sessim accepts (nginx has no limit; 160 consistent-hash
/// points per unit of weight bound the memory).
pub const MAX_NGINX_WEIGHT: u32 = 1000;

/// Static config of one server, in balancer order (as in the config file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConf {
    /// Name shown in results (HAProxy server name; nginx: the address).
    pub name: String,
    /// Address as written in the config (`127.0.0.1:8081`); nginx consistent hashing
    /// hashes this text, not the resolved address.
    pub addr: String,
    /// nginx `weight=` (default 1) / HAProxy `weight` (default 1, 0..=256).
    pub weight: u32,
    /// nginx `backup` / HAProxy `backup`.
    pub backup: bool,
    /// nginx `down` / HAProxy `disabled` (maintenance): never chosen.
    pub down: bool,
    /// nginx `max_conns=` / HAProxy `maxconn` (0 = unlimited).
    pub max_conns: u32,
    /// nginx `max_fails=` (default 1; 0 disables passive failure accounting).
    pub max_fails: u32,
    /// nginx `fail_timeout=` (default 10 s; nginx keeps whole seconds).
    pub fail_timeout: SimTime,
    /// HAProxy `cookie <value>` of the server line; Apache `route=` of a `BalancerMember`.
    pub cookie: Option<String>,
    /// HAProxy `check` with its `inter`/`fastinter`/`downinter`/`rise`/`fall`.
    pub check: Option<CheckConf>,
}

impl ServerConf {
    /// A server with the defaults of nginx and HAProxy (weight 1, max_fails 1,
    /// fail_timeout 10 s, no check).
    pub fn new(name: impl Into<String>, addr: impl Into<String>) -> Self {
        ServerConf {
            name: name.into(),
            addr: addr.into(),
            weight: 1,
            backup: false,
            down: false,
            max_conns: 0,
            max_fails: 1,
            fail_timeout: SimTime::from_secs(10),
            cookie: None,
            check: None,
        }
    }

    /// Builder helper: set the weight.
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }
}

/// HAProxy active health-check parameters of one server (`check inter .. rise .. fall ..`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckConf {
    /// Interval between checks while the server is fully up (default 2 s).
    pub inter: SimTime,
    /// Interval while the server is in transition (default: `inter`).
    pub fastinter: SimTime,
    /// Interval while the server is down (default: `inter`).
    pub downinter: SimTime,
    /// Consecutive successes to mark a down server up (default 2).
    pub rise: u32,
    /// Consecutive failures to mark an up server down (default 3).
    pub fall: u32,
}

impl Default for CheckConf {
    fn default() -> Self {
        CheckConf {
            inter: SimTime::from_secs(2),
            fastinter: SimTime::from_secs(2),
            downinter: SimTime::from_secs(2),
            rise: 2,
            fall: 3,
        }
    }
}

/// What the balancer knows about the client of one request.
#[derive(Clone, Copy, Debug)]
pub struct ClientInfo<'a> {
    /// Source address of the connection (nginx `$remote_addr`, HAProxy `src`).
    pub addr: IpAddr,
    /// The application's session cookie value (PHPSESSID), for `hash $cookie_...`.
    pub session_cookie: Option<&'a str>,
    /// Request URI (nginx `$request_uri`).
    pub uri: &'a str,
    /// Value of the balancer's persistence cookie (HAProxy `SERVERID`) sent by the
    /// client; `None` if it has none or refuses cookies.
    pub server_cookie: Option<&'a str>,
}

/// Runtime view of one server that the simulator's router keeps and every policy reads.
///
/// Only the bookkeeping in [`Bookkeeping`] writes it: `conns` rises when a pick (or a
/// reconnect) counts a connection and falls when the attempt is reported; `up` follows
/// the health checks (HAProxy, Envoy, kube-proxy) and the `drain` fault. A policy's own
/// per-server state (nginx's `fails`/`checked`/weights, Apache's error state, ...) lives in
/// the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerState {
    /// Connections in flight (nginx `conns`, HAProxy `served`).
    pub conns: u32,
    /// Health checks consider the server up.
    pub up: bool,
}

impl PeerState {
    /// Initial state of a server: up, no connection.
    pub fn new(_conf: &ServerConf) -> Self {
        PeerState { conns: 0, up: true }
    }

    /// Initial states of all servers of a balancer, in config order.
    pub fn for_servers(servers: &[ServerConf]) -> Vec<PeerState> {
        servers.iter().map(PeerState::new).collect()
    }
}

/// The state of one request across its attempts (nginx keeps it in the request's
/// `peer.data`; HAProxy in the stream). Create one per request with
/// [`Attempt::default`] and pass the same value to every `pick` of that request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempt {
    /// Bit i set: server i was already chosen for this request (nginx `tried`; for
    /// HAProxy, the server to avoid when redispatching).
    pub tried: u64,
    /// Number of picks made so far for this request.
    pub count: u32,
    /// HAProxy: the last pick followed a persistence cookie (`SF_DIRECT`).
    pub direct: bool,
    /// Policy scratch: the running hash (nginx ip_hash / hash) or point index (chash).
    pub(crate) hash: u32,
    /// Policy scratch: nginx's per-request `tries` of the hash/random modules; Caddy: the
    /// proxy-loop iterations (selections) so far.
    pub(crate) tries: u32,
    /// Policy scratch: nginx `hash` rehash counter.
    pub(crate) rehash: u32,
    /// Policy scratch: nginx switched this request to the backup servers.
    pub(crate) backup: bool,
    /// Policy scratch: server chosen by the last pick (nginx `rrp->current`).
    pub(crate) current: Option<u8>,
}

impl Attempt {
    /// Whether server `i` was already chosen for this request.
    pub fn was_tried(&self, i: usize) -> bool {
        i < MAX_SERVERS && self.tried & (1u64 << i) != 0
    }

    pub(crate) fn mark(&mut self, i: usize) {
        if i < MAX_SERVERS {
            self.tried |= 1u64 << i;
            self.current = u8::try_from(i).ok();
        }
    }
}

/// What the response of an attempt does to the client's persistence cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCookie<'a> {
    /// No `Set-Cookie` (no cookie persistence, or the request followed its cookie).
    Keep,
    /// `Set-Cookie: name=value; path=/` (HAProxy `insert`).
    Set {
        /// The cookie's name (`SERVERID`).
        name: &'a str,
        /// The chosen server's cookie value.
        value: &'a str,
    },
    /// The chosen server has no cookie value: HAProxy sends an expired cookie.
    Clear {
        /// The cookie's name.
        name: &'a str,
    },
}

/// Which parts of [`ClientInfo`] a policy reads besides the address, so that the simulator
/// renders the session cookie and the URI only for the policies that hash them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// `ClientInfo::session_cookie` (nginx `hash $cookie_PHPSESSID`).
    pub session_cookie: bool,
    /// `ClientInfo::uri` (nginx `hash $request_uri`).
    pub uri: bool,
    /// `ClientInfo::server_cookie` and [`Policy::response_cookie`] (HAProxy cookie insert).
    pub server_cookie: bool,
    /// `ClientInfo::session_cookie` as Tomcat renders JSESSIONID: `<id>.<route>`, the route
    /// ([`ServerConf::cookie`]) of the server that created the session (Apache
    /// `stickysession`).
    pub session_route: bool,
}

/// A load-balancing policy: one file per policy implements this.
///
/// A policy decides; it does not count. Its methods read the servers' shared state
/// ([`PeerState`]) and never write it: the [`Bookkeeping`] methods (which the simulator's
/// router and the tests call) mark the chosen server tried, count the attempt and the
/// connection after a pick, take the connection off before a report, and set `up` before
/// a health change, each in one place.
pub trait Policy: Send {
    /// The request attributes this policy reads (default: only the address).
    fn needs(&self) -> Needs {
        Needs::default()
    }

    /// Choose the server for the next attempt of a request. `attempt` carries the
    /// request's state across attempts (servers tried, picks made so far, hash position);
    /// the pick being made is not counted yet. `None` = no server is available: nginx
    /// answers 502 ("no live upstreams"), HAProxy 503. On `Some(i)` the bookkeeping marks
    /// `i` tried, counts the attempt and the connection, then calls
    /// [`Policy::server_took_conn`].
    fn pick(
        &mut self,
        client: &ClientInfo<'_>,
        peers: &[PeerState],
        attempt: &mut Attempt,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<usize>;

    /// End of an attempt on `peer` (its connection is already taken off `conns`): `ok =
    /// false` when the attempt counts as a failure for the balancer (see
    /// [`NextUpstream::verdict`] for nginx). nginx policies do their passive failure
    /// accounting here.
    fn report(&mut self, peer: usize, ok: bool, peers: &[PeerState], now: SimTime) {
        let _ = (peer, ok, peers, now);
    }

    /// A response of the server ended an attempt on `peer`: its HTTP `status` and `latency`,
    /// the time from the connection to the response's headers. Caddy's passive health checks
    /// count some as failures (`unhealthy_status`, `unhealthy_latency`); for every other
    /// policy a response is a success: [`Policy::report`] with `ok = true`.
    fn report_response(&mut self, peer: usize, status: u16, latency: SimTime, peers: &[PeerState], now: SimTime) {
        let _ = (status, latency);
        self.report(peer, true, peers, now);
    }

    /// A health check marked `peer` up or down (`peers[peer].up` already says so).
    /// HAProxy policies rebuild their lookup structures here, as
    /// `set_server_status_up/down` do.
    fn set_server_up(&mut self, peer: usize, up: bool, peers: &[PeerState]) {
        let _ = (peer, up, peers);
    }

    /// `peer` took a connection, already counted in `conns`: after every pick, and when
    /// the turn-around timer sends a request back to the same server without a pick.
    /// HAProxy's leastconn re-sorts the server here (`server_take_conn`).
    fn server_took_conn(&mut self, peer: usize, peers: &[PeerState]) {
        let _ = (peer, peers);
    }

    /// The failures this balancer counted against `peer` since its last success (nginx
    /// `fails`, Apache's error state); the router compares them with `max_fails`.
    fn fails(&self, peer: usize) -> u32 {
        let _ = peer;
        0
    }

    /// The `Set-Cookie` that the response of the attempt sends (HAProxy cookie insert).
    fn response_cookie(&self, peer: usize, attempt: &Attempt) -> SetCookie<'_> {
        let _ = (peer, attempt);
        SetCookie::Keep
    }
}

/// The bookkeeping around every [`Policy`], written once: what a pick, a report, a health
/// change and a reconnect do to the shared [`PeerState`] and to the request's [`Attempt`].
/// The router calls these, never the policy's methods directly; so do the tests.
pub trait Bookkeeping {
    /// [`Policy::pick`], then, on `Some(i)`: `i` is marked tried, the attempt counted,
    /// `peers[i].conns` incremented and [`Policy::server_took_conn`] told.
    fn pick_counted(
        &mut self,
        client: &ClientInfo<'_>,
        peers: &mut [PeerState],
        attempt: &mut Attempt,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<usize>;

    /// `peers[peer].conns` decremented, then [`Policy::report`].
    fn report_counted(&mut self, peer: usize, ok: bool, peers: &mut [PeerState], now: SimTime);

    /// `peers[peer].conns` decremented, then [`Policy::report_response`].
    fn report_response_counted(
        &mut self,
        peer: usize,
        status: u16,
        latency: SimTime,
        peers: &mut [PeerState],
        now: SimTime,
    );

    /// `peers[peer].up` set, then [`Policy::set_server_up`].
    fn set_up_counted(&mut self, peer: usize, up: bool, peers: &mut [PeerState]);

    /// A connection to `peer` without a pick (HAProxy's turn-around timer): `conns`
    /// incremented, then [`Policy::server_took_conn`].
    fn connect_counted(&mut self, peer: usize, peers: &mut [PeerState]);
}

impl<P: Policy + ?Sized> Bookkeeping for P {
    #[inline]
    fn pick_counted(
        &mut self,
        client: &ClientInfo<'_>,
        peers: &mut [PeerState],
        attempt: &mut Attempt,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<usize> {
        let chosen = self.pick(client, peers, attempt, now, rng)?;
        attempt.mark(chosen);
        attempt.count += 1;
        self.connect_counted(chosen, peers);
        Some(chosen)
    }

    #[inline]
    fn report_counted(&mut self, peer: usize, ok: bool, peers: &mut [PeerState], now: SimTime) {
        if let Some(p) = peers.get_mut(peer) {
            p.conns = p.conns.saturating_sub(1);
        }
        self.report(peer, ok, peers, now);
    }

    #[inline]
    fn report_response_counted(
        &mut self,
        peer: usize,
        status: u16,
        latency: SimTime,
        peers: &mut [PeerState],
        now: SimTime,
    ) {
        if let Some(p) = peers.get_mut(peer) {
            p.conns = p.conns.saturating_sub(1);
        }
        self.report_response(peer, status, latency, peers, now);
    }

    fn set_up_counted(&mut self, peer: usize, up: bool, peers: &mut [PeerState]) {
        if let Some(p) = peers.get_mut(peer) {
            p.up = up;
        }
        self.set_server_up(peer, up, peers);
    }

    #[inline]
    fn connect_counted(&mut self, peer: usize, peers: &mut [PeerState]) {
        if let Some(p) = peers.get_mut(peer) {
            p.conns += 1;
        }
        self.server_took_conn(peer, peers);
    }
}

/// HAProxy `cookie NAME insert [indirect] [nocache]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieConf {
    /// Cookie name (`SERVERID`).
    pub name: String,
    /// `indirect`: the cookie is not passed to the server nor re-set when valid.
    pub indirect: bool,
    /// `nocache`: adds `Cache-control: private` (no effect on routing).
    pub nocache: bool,
}

/// A complete balancer description: what the config import produces and what
/// [`build`] turns into a [`Policy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalancerConf {
    /// The algorithm.
    pub method: Method,
    /// Servers in config order.
    pub servers: Vec<ServerConf>,
    /// HAProxy cookie insert persistence, if configured.
    pub cookie: Option<CookieConf>,
    /// Retry rules.
    pub failure: FailurePolicy,
}

/// A balancer description that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BalancerError {
    /// No server at all.
    #[error("the balancer has no servers")]
    NoServers,
    /// No primary (non-backup) server (nginx: `no servers in upstream`).
    #[error("the balancer has only backup servers; nginx and HAProxy need at least one primary server")]
    NoPrimary,
    /// More servers than the `tried` bitmap holds.
    #[error("the balancer has {0} servers; at most {MAX_SERVERS} are supported")]
    TooManyServers(usize),
    /// A weight out of range.
    #[error("server {name}: weight {weight} is out of range ({range})")]
    BadWeight {
        /// The server.
        name: String,
        /// Its weight.
        weight: u32,
        /// The range the software accepts, in words.
        range: &'static str,
    },
    /// `backup` with a method that does not allow it.
    #[error("server {name}: `backup` cannot be used with {method} (nginx refuses this configuration)")]
    BackupNotAllowed {
        /// The server marked `backup`.
        name: String,
        /// The method, as the config names it.
        method: &'static str,
    },
    /// A parameter out of the range the real software accepts.
    #[error("{0}")]
    BadParameter(String),
    /// A method whose implementation does not yet agree with the real balancer.
    #[error("{0} is not modelled exactly yet: {1}")]
    NotConformant(&'static str, &'static str),
    /// Cookie persistence on an nginx method.
    #[error("cookie insert persistence is an HAProxy feature; it cannot wrap {0}")]
    CookieNeedsHaproxy(&'static str),
}

/// A [`BalancerConf`] that [`CheckedConf::new`] accepted: building its policy cannot fail.
/// The validated scenario holds one per strategy, so nothing past loading re-checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedConf {
    conf: BalancerConf,
}

impl CheckedConf {
    /// Checks `conf` as nginx and HAProxy check their configs (and sessim's own limits).
    pub fn new(conf: BalancerConf) -> Result<Self, BalancerError> {
        validate(&conf)?;
        Ok(CheckedConf { conf })
    }

    /// The description.
    pub fn conf(&self) -> &BalancerConf {
        &self.conf
    }

    /// A fresh policy (its own round-robin position, connection counts and hash tables).
    pub fn policy(&self) -> Box<dyn Policy> {
        let conf = &self.conf;
        let inner = conf.method.build(&conf.servers);
        match &conf.cookie {
            None => inner,
            Some(c) => Box::new(cookie::CookieInsert::new(&conf.servers, c.clone(), inner)),
        }
    }
}

/// Build the policy that `conf` describes.
pub fn build(conf: &BalancerConf) -> Result<Box<dyn Policy>, BalancerError> {
    Ok(CheckedConf::new(conf.clone())?.policy())
}

impl BalancerConf {
    /// HAProxy's `stream_choose_redispatch` redispatches a request that did not follow a
    /// cookie on every retry when the algorithm is not a hash (`BE_LB_KIND_HI`): roundrobin
    /// and leastconn.
    pub fn haproxy_redispatch_every_retry(&self) -> bool {
        self.method.redispatch_every_retry()
    }
}

/// nginx's `ngx_time()` for a simulated instant: whole seconds, offset so that a
/// zero-initialised `checked` lies far in the past as it does in a real process.
pub(crate) fn nginx_secs(now: SimTime) -> i64 {
    const EPOCH_OFFSET: i64 = 1_000_000_000;
    EPOCH_OFFSET + i64::try_from(now.as_nanos() / SECOND.as_nanos()).unwrap_or(i64::MAX - EPOCH_OFFSET)
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    pub fn servers(weights: &[u32]) -> Vec<ServerConf> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| ServerConf::new(format!("b{}", i + 1), format!("127.0.0.1:{}", 18081 + i)).weight(w))
            .collect()
    }

    pub fn client(addr: &str) -> ClientInfo<'static> {
        ClientInfo {
            addr: addr.parse().unwrap_or(IpAddr::from([127, 0, 0, 1])),
            session_cookie: None,
            uri: "/",
            server_cookie: None,
        }
    }

    pub fn rng() -> SimRng {
        crate::engine::rng::stream(7, 0, crate::engine::Stream::Balancer)
    }

    /// Pick for `n` fresh requests from `client`, releasing each at once.
    pub fn sequence(
        policy: &mut dyn Policy,
        peers: &mut [PeerState],
        client: &ClientInfo<'_>,
        n: usize,
    ) -> Vec<Option<usize>> {
        let mut rng = rng();
        (0..n)
            .map(|_| {
                let mut a = Attempt::default();
                let p = policy.pick_counted(client, peers, &mut a, SimTime::ZERO, &mut rng);
                if let Some(i) = p {
                    policy.report_counted(i, true, peers, SimTime::ZERO);
                }
                p
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_rejects_bad_input_without_panicking() {
        let mut conf = BalancerConf {
            method: Method::new(ip_hash::IpHashConf),
            servers: vec![],
            cookie: None,
            failure: FailurePolicy::Nginx(NextUpstream::default()),
        };
        assert_eq!(build(&conf).err(), Some(BalancerError::NoServers));
        conf.servers = testutil::servers(&[1, 1]);
        conf.servers[1].backup = true;
        assert!(matches!(
            build(&conf).err(),
            Some(BalancerError::BackupNotAllowed { .. })
        ));
        conf.servers = testutil::servers(&[0]);
        assert!(matches!(build(&conf).err(), Some(BalancerError::BadWeight { .. })));
        conf.servers = testutil::servers(&[1; 65]);
        assert_eq!(build(&conf).err(), Some(BalancerError::TooManyServers(65)));
    }
}
