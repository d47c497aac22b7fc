//! Load-balancer policies that decide exactly as nginx (1.22) and HAProxy (2.6) do.
//!
//! This module owns the choice of a backend for one attempt of one request, the
//! balancer-side runtime state that drives that choice (connection counts, nginx
//! passive-failure state, the health-check view of each server), the retry rules of
//! each balancer, and the import of real `nginx.conf` / `haproxy.cfg` files. It knows
//! nothing about the event queue, the backends' queues or sessions: the simulator calls
//! [`Policy::pick`] when an attempt starts, [`Policy::report`] when it ends, and
//! [`Policy::set_server_up`] when a health check changes its mind.
//!
//! Determinism: no policy reads a clock or OS entropy; the only randomness comes from the
//! [`SimRng`] passed in (nginx `random`). No policy allocates in `pick`/`report`.
//!
//! Time: nginx measures `fail_timeout` with `ngx_time()`, whole seconds of wall-clock
//! time; the nginx policies convert [`SimTime`] to whole seconds (plus a fixed
//! epoch offset so that the zero-initialised `checked`/`accessed` fields behave as they
//! do in a real process started long after 1970).

use std::fmt;
use std::net::IpAddr;

pub mod apache;
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
pub mod random;
pub mod round_robin;
pub mod source;

pub use crate::engine::{SimRng, SimTime};

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

/// Runtime view of one server, shared by the simulator and the policy.
///
/// `conns` is raised by `pick` and lowered by `report`. `up` is the health-check view
/// (HAProxy); only HAProxy-flavoured policies read it, since open-source nginx has no
/// active checks. The other fields are nginx's per-peer state
/// (`ngx_http_upstream_rr_peer_t`), which the nginx-flavoured policies maintain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerState {
    /// Connections in flight (nginx `conns`, HAProxy `served`).
    pub conns: u32,
    /// Health checks consider the server up.
    pub up: bool,
    /// nginx: failures counted since the last success after a check.
    pub fails: u32,
    /// nginx: start of the current failure-check window [s].
    pub checked: i64,
    /// nginx: time of the last failure [s].
    pub accessed: i64,
    /// nginx: weight lowered by failures, recovering by one per selection round.
    pub effective_weight: i64,
    /// nginx: smooth weighted round-robin accumulator.
    pub current_weight: i64,
}

impl PeerState {
    /// Initial state of a server: up, no connection, nginx weights as configured.
    pub fn new(conf: &ServerConf) -> Self {
        PeerState {
            conns: 0,
            up: true,
            fails: 0,
            checked: 0,
            accessed: 0,
            effective_weight: i64::from(conf.weight),
            current_weight: 0,
        }
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
    /// Policy scratch: nginx's per-request `tries` of the hash/random modules.
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
    Set { name: &'a str, value: &'a str },
    /// The chosen server has no cookie value: HAProxy sends an expired cookie.
    Clear { name: &'a str },
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

impl HashKey {
    /// What hashing this key reads from the request.
    pub fn needs(&self) -> Needs {
        Needs {
            session_cookie: matches!(self, HashKey::Cookie(_)),
            uri: matches!(self, HashKey::RequestUri),
            ..Needs::default()
        }
    }
}

/// A load-balancing policy: one file per policy implements this.
pub trait Policy: Send {
    /// Short name for reports (`nginx ip_hash`, `haproxy roundrobin`, ...).
    fn name(&self) -> &'static str;

    /// The request attributes this policy reads (default: only the address).
    fn needs(&self) -> Needs {
        Needs::default()
    }

    /// Pick the server for the next attempt of a request. `attempt` carries the
    /// request's state across attempts (servers tried, hash position). `None` = no
    /// server is available: nginx answers 502 ("no live upstreams"), HAProxy 503.
    /// On `Some(i)`, `peers[i].conns` has been incremented.
    fn pick(
        &mut self,
        client: &ClientInfo<'_>,
        peers: &mut [PeerState],
        attempt: &mut Attempt,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<usize>;

    /// End of an attempt on `peer`: `ok = false` when the attempt counts as a failure
    /// for the balancer (see [`NextUpstream::verdict`] for nginx). Decrements `conns`;
    /// nginx policies do their passive failure accounting here.
    fn report(&mut self, peer: usize, ok: bool, peers: &mut [PeerState], now: SimTime) {
        let _ = (ok, now);
        if let Some(p) = peers.get_mut(peer) {
            p.conns = p.conns.saturating_sub(1);
        }
    }

    /// A health check marked `peer` up or down. HAProxy policies rebuild their lookup
    /// structures here, as `set_server_status_up/down` do.
    fn set_server_up(&mut self, peer: usize, up: bool, peers: &mut [PeerState]) {
        if let Some(p) = peers.get_mut(peer) {
            p.up = up;
        }
    }

    /// Another layer (cookie persistence) sent a connection to `peer` without asking
    /// this policy; HAProxy's leastconn re-sorts the server (`server_take_conn`).
    fn server_took_conn(&mut self, peer: usize, peers: &mut [PeerState]) {
        let _ = (peer, peers);
    }

    /// The `Set-Cookie` that the response of the attempt sends (HAProxy cookie insert).
    fn response_cookie(&self, peer: usize, attempt: &Attempt) -> SetCookie<'_> {
        let _ = (peer, attempt);
        SetCookie::Keep
    }
}

/// The key of nginx `hash` / `hash ... consistent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashKey {
    /// `$remote_addr`: the client address as text (`127.0.0.1`).
    RemoteAddr,
    /// `$cookie_NAME`: the session cookie value (empty when absent).
    Cookie(String),
    /// `$request_uri`: the request URI.
    RequestUri,
}

impl HashKey {
    /// Write the key's bytes for `client` into `buf`; returns the used prefix.
    /// Allocation-free: an address is formatted into the stack buffer.
    pub(crate) fn bytes<'b>(&self, client: &ClientInfo<'b>, buf: &'b mut [u8; 64]) -> &'b [u8] {
        match self {
            HashKey::RemoteAddr => {
                use std::io::Write;
                let mut cursor = std::io::Cursor::new(&mut buf[..]);
                // 64 bytes hold any IPv4 or IPv6 text form; on the impossible overflow
                // the key is what fit.
                let _ = write!(cursor, "{}", client.addr);
                let n = usize::try_from(cursor.position()).unwrap_or(0).min(64);
                &buf[..n]
            }
            HashKey::Cookie(_) => client.session_cookie.unwrap_or("").as_bytes(),
            HashKey::RequestUri => client.uri.as_bytes(),
        }
    }
}

impl fmt::Display for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashKey::RemoteAddr => write!(f, "$remote_addr"),
            HashKey::Cookie(name) => write!(f, "$cookie_{name}"),
            HashKey::RequestUri => write!(f, "$request_uri"),
        }
    }
}

/// Which algorithm a balancer uses, with its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// nginx default: smooth weighted round-robin, with backup servers.
    RoundRobin,
    /// nginx `ip_hash`.
    IpHash,
    /// nginx `hash KEY` / `hash KEY consistent`.
    Hash { key: HashKey, consistent: bool },
    /// nginx `least_conn`.
    LeastConn,
    /// nginx `random` / `random two [least_conn]`.
    Random { two: bool },
    /// HAProxy `balance roundrobin` (lb_fwrr.c).
    HaproxyRoundRobin,
    /// HAProxy `balance source`, map-based or `hash-type consistent`, optionally with
    /// the `avalanche` hash modifier.
    Source { consistent: bool, avalanche: bool },
    /// HAProxy `balance leastconn` (lb_fwlc.c).
    HaproxyLeastConn,
    /// Envoy `ROUND_ROBIN` (EDF when weights differ).
    EnvoyRoundRobin { outlier: Option<envoy::OutlierConf> },
    /// Envoy `LEAST_REQUEST`.
    EnvoyLeastRequest {
        choice_count: u32,
        active_request_bias: Bias,
        outlier: Option<envoy::OutlierConf>,
    },
    /// Envoy `RING_HASH` with a hash policy.
    EnvoyRingHash {
        key: HashKey,
        minimum_ring_size: u64,
        maximum_ring_size: u64,
        outlier: Option<envoy::OutlierConf>,
    },
    /// Envoy `MAGLEV` with a hash policy.
    EnvoyMaglev {
        key: HashKey,
        table_size: u64,
        outlier: Option<envoy::OutlierConf>,
    },
    /// A Kubernetes Service through kube-proxy's iptables rules; `affinity` is
    /// `sessionAffinity: ClientIP` with its `timeoutSeconds`.
    KubeProxy {
        affinity: Option<SimTime>,
        recent_list_size: u32,
    },
    /// Apache httpd `mod_proxy_balancer` (lbmethod, stickysession routes).
    Apache(apache::ApacheConf),
}

/// Envoy's `active_request_bias` (a double), compared by its bits so that [`Method`] stays `Eq`.
#[derive(Clone, Copy, Debug)]
pub struct Bias(pub f64);

impl PartialEq for Bias {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for Bias {}

impl Method {
    /// Whether this is one of Envoy's algorithms or kube-proxy (no retries, health from checks).
    pub fn is_envoy_or_kube(&self) -> bool {
        matches!(
            self,
            Method::EnvoyRoundRobin { .. }
                | Method::EnvoyLeastRequest { .. }
                | Method::EnvoyRingHash { .. }
                | Method::EnvoyMaglev { .. }
                | Method::KubeProxy { .. }
        )
    }

    /// Whether this is one of HAProxy's algorithms.
    pub fn is_haproxy(&self) -> bool {
        matches!(
            self,
            Method::HaproxyRoundRobin | Method::Source { .. } | Method::HaproxyLeastConn
        )
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

/// nginx `proxy_next_upstream` and its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextUpstream {
    /// `error` (connection errors; always counted as a failure of the peer).
    pub error: bool,
    /// `timeout` (always counted as a failure of the peer).
    pub timeout: bool,
    /// `http_500`, `http_502`, `http_503`, `http_504`, `http_403`, `http_404`,
    /// `http_429`, in that bit order.
    pub http: u8,
    /// `non_idempotent`: also retry POST/LOCK/PATCH once the request was sent.
    pub non_idempotent: bool,
    /// `proxy_next_upstream_tries` (0 = no limit but the number of servers).
    pub tries: u32,
    /// `proxy_next_upstream_timeout` (0 = none).
    pub timeout_limit: SimTime,
}

/// HTTP statuses that `proxy_next_upstream` can name, in [`NextUpstream::http`] bit order.
pub const NEXT_UPSTREAM_STATUSES: [u16; 7] = [500, 502, 503, 504, 403, 404, 429];

impl Default for NextUpstream {
    /// nginx's default: `error timeout`.
    fn default() -> Self {
        NextUpstream {
            error: true,
            timeout: true,
            http: 0,
            non_idempotent: false,
            tries: 0,
            timeout_limit: SimTime::ZERO,
        }
    }
}

/// How an attempt ended, as the balancer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A response the balancer passes on (any status not listed below).
    Response(u16),
    /// Connection refused/reset before a response (nginx `error`).
    ConnectError,
    /// No answer in time (nginx `timeout`).
    Timeout,
}

/// What nginx does after one attempt ([`NextUpstream::verdict`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Pass `ok = !peer_failed` to [`Policy::report`].
    pub peer_failed: bool,
    /// Try the next peer (if tries remain); otherwise the client gets the answer or an
    /// error (502 for errors, 504 for timeouts).
    pub next: bool,
}

impl NextUpstream {
    /// nginx's decision after an attempt (`ngx_http_upstream_next`,
    /// `ngx_http_upstream_test_next` in src/http/ngx_http_upstream.c): errors and
    /// timeouts always count against the peer, even when not listed; an HTTP status is
    /// only a failure when listed, and 403/404 then move on without counting
    /// (`NGX_PEER_NEXT`). A listed-away 502 from a live backend is a success.
    pub fn verdict(&self, outcome: AttemptOutcome) -> Verdict {
        match outcome {
            AttemptOutcome::ConnectError => Verdict {
                peer_failed: true,
                next: self.error,
            },
            AttemptOutcome::Timeout => Verdict {
                peer_failed: true,
                next: self.timeout,
            },
            AttemptOutcome::Response(status) => {
                let listed = NEXT_UPSTREAM_STATUSES
                    .iter()
                    .position(|&s| s == status)
                    .is_some_and(|bit| self.http & (1 << bit) != 0);
                Verdict {
                    peer_failed: listed && status != 403 && status != 404,
                    next: listed,
                }
            }
        }
    }

    /// Maximum attempts for a request: every primary and backup server once
    /// (`ngx_http_upstream_tries`), capped by `proxy_next_upstream_tries`. A single
    /// server upstream gets one attempt (`peers->single`).
    pub fn max_attempts(&self, servers: &[ServerConf]) -> u32 {
        let n = u32::try_from(servers.len()).unwrap_or(u32::MAX);
        if self.tries > 0 { n.min(self.tries) } else { n }
    }
}

/// HAProxy `retries` and `option redispatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HaproxyRetries {
    /// `retries` (default 3): connection attempts after the first.
    pub retries: u32,
    /// `option redispatch [interval]`: `None` when off; default interval -1 (the last
    /// retry).
    pub redispatch: Option<i32>,
    /// `timeout connect` (0 = none): the turn-around delay before a retry on the same
    /// server is `min(timeout connect, 1 s)`.
    pub connect_timeout: SimTime,
}

impl Default for HaproxyRetries {
    fn default() -> Self {
        HaproxyRetries {
            retries: 3,
            redispatch: None,
            connect_timeout: SimTime::ZERO,
        }
    }
}

/// What HAProxy does after a failed connection attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAction {
    /// Retry the same server after `delay` (the turn-around timer).
    Same { delay: SimTime },
    /// Load-balance again now, avoiding the failed server: call `pick` again.
    Redispatch,
    /// Give up: 503 to the client.
    GiveUp,
}

impl HaproxyRetries {
    /// Decision after the `failures`-th failed connection attempt of a request
    /// (HAProxy 2.6 `back_handle_st_cer` / `stream_choose_redispatch`): with
    /// `option redispatch`, a request that did not follow a cookie is redispatched on
    /// every retry when the algorithm is round-robin-like and more than one active
    /// server exists; otherwise every `interval`-th retry (negative: counted from the
    /// last), or at once if the server is already known down.
    pub fn after_failure(
        &self,
        failures: u32,
        direct: bool,
        server_known_down: bool,
        active_servers: u32,
        round_robin_kind: bool,
    ) -> RetryAction {
        if failures > self.retries {
            return RetryAction::GiveUp;
        }
        if let Some(interval) = self.redispatch {
            let done = i64::from(failures);
            let interval = i64::from(interval);
            let by_interval = if interval > 0 {
                done % interval == 0
            } else if interval < 0 {
                let period = i64::from(self.retries) + 1 + interval;
                period > 0 && done % period == 0
            } else {
                false
            };
            let free_choice = !direct && active_servers > 1 && round_robin_kind;
            if server_known_down || by_interval || free_choice {
                return RetryAction::Redispatch;
            }
        }
        let delay = if self.connect_timeout > SimTime::ZERO {
            self.connect_timeout.min(SECOND)
        } else {
            SECOND
        };
        RetryAction::Same { delay }
    }
}

/// The retry rules of the balancer a policy imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailurePolicy {
    /// nginx passive detection and `proxy_next_upstream`.
    Nginx(NextUpstream),
    /// HAProxy `retries` / `option redispatch`.
    Haproxy(HaproxyRetries),
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
        name: String,
        weight: u32,
        range: &'static str,
    },
    /// `backup` with a method that does not allow it.
    #[error("server {name}: `backup` cannot be used with {method} (nginx refuses this configuration)")]
    BackupNotAllowed { name: String, method: &'static str },
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
        let s = &conf.servers;
        let inner: Box<dyn Policy> = match &conf.method {
            Method::RoundRobin => Box::new(round_robin::NginxRoundRobin::new(s)),
            Method::IpHash => Box::new(ip_hash::IpHash::new(s)),
            Method::Hash { key, consistent: false } => Box::new(hash::Hash::new(s, key.clone())),
            Method::Hash { key, consistent: true } => Box::new(hash::ConsistentHash::new(s, key.clone())),
            Method::LeastConn => Box::new(least_conn::NginxLeastConn::new(s)),
            Method::Random { two } => Box::new(random::Random::new(s, *two)),
            Method::HaproxyRoundRobin => Box::new(haproxy_rr::HaproxyRoundRobin::new(s)),
            Method::Source {
                consistent: false,
                avalanche,
            } => Box::new(source::SourceMap::with_avalanche(s, *avalanche)),
            Method::Source {
                consistent: true,
                avalanche,
            } => Box::new(source::SourceConsistent::with_avalanche(s, *avalanche)),
            Method::HaproxyLeastConn => Box::new(least_conn::HaproxyLeastConn::new(s)),
            Method::EnvoyRoundRobin { outlier } => Box::new(envoy_rr::EnvoyRoundRobin::new(s, *outlier)),
            Method::EnvoyLeastRequest {
                choice_count,
                active_request_bias,
                outlier,
            } => Box::new(envoy_least_request::EnvoyLeastRequest::new(
                s,
                *choice_count,
                active_request_bias.0,
                *outlier,
            )),
            Method::EnvoyRingHash {
                key,
                minimum_ring_size,
                maximum_ring_size,
                outlier,
            } => Box::new(envoy_ring_hash::EnvoyRingHash::new(
                s,
                key.clone(),
                *minimum_ring_size,
                *maximum_ring_size,
                *outlier,
            )),
            Method::EnvoyMaglev {
                key,
                table_size,
                outlier,
            } => Box::new(envoy_maglev::EnvoyMaglev::new(s, key.clone(), *table_size, *outlier)),
            Method::KubeProxy {
                affinity,
                recent_list_size,
            } => Box::new(kube_proxy::KubeProxy::new(s, *affinity, *recent_list_size)),
            Method::Apache(a) => Box::new(apache::ApacheBalancer::new(s, a.clone())),
        };
        match &conf.cookie {
            None => inner,
            Some(c) => Box::new(cookie::CookieInsert::new(s, c.clone(), inner)),
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
        matches!(self.method, Method::HaproxyRoundRobin | Method::HaproxyLeastConn)
    }
}

fn method_name(m: &Method) -> &'static str {
    match m {
        Method::RoundRobin => "nginx round-robin",
        Method::IpHash => "nginx ip_hash",
        Method::Hash { consistent: false, .. } => "nginx hash",
        Method::Hash { consistent: true, .. } => "nginx hash consistent",
        Method::LeastConn => "nginx least_conn",
        Method::Random { .. } => "nginx random",
        Method::HaproxyRoundRobin => "haproxy roundrobin",
        Method::Source { .. } => "haproxy source",
        Method::HaproxyLeastConn => "haproxy leastconn",
        Method::EnvoyRoundRobin { .. } => "envoy ROUND_ROBIN",
        Method::EnvoyLeastRequest { .. } => "envoy LEAST_REQUEST",
        Method::EnvoyRingHash { .. } => "envoy RING_HASH",
        Method::EnvoyMaglev { .. } => "envoy MAGLEV",
        Method::KubeProxy { .. } => "kube-proxy",
        Method::Apache(_) => "apache mod_proxy_balancer",
    }
}

fn validate(conf: &BalancerConf) -> Result<(), BalancerError> {
    let s = &conf.servers;
    if s.is_empty() {
        return Err(BalancerError::NoServers);
    }
    if s.len() > MAX_SERVERS {
        return Err(BalancerError::TooManyServers(s.len()));
    }
    if s.iter().all(|x| x.backup) {
        return Err(BalancerError::NoPrimary);
    }
    let haproxy = conf.method.is_haproxy();
    for srv in s {
        // nginx: weight=0 is "invalid parameter"; HAProxy accepts 0..=256. sessim caps
        // nginx weights at 1000 (consistent hashing keeps 160 points per unit).
        let (ok, range) = if let Method::Apache(_) = conf.method {
            // Apache keeps loadfactor x 100 (`loadfactor` 1..100).
            (
                (100..=10_000).contains(&srv.weight),
                "loadfactor 1..100 (lbfactor 100..=10000)",
            )
        } else if haproxy {
            (srv.weight <= 256, "0..=256")
        } else {
            ((1..=MAX_NGINX_WEIGHT).contains(&srv.weight), "1..=1000 (sessim limit)")
        };
        if !ok {
            return Err(BalancerError::BadWeight {
                name: srv.name.clone(),
                weight: srv.weight,
                range,
            });
        }
        // Only round-robin and least_conn accept `backup` in nginx
        // (NGX_HTTP_UPSTREAM_BACKUP in their flags).
        let backup_ok = haproxy || matches!(conf.method, Method::RoundRobin | Method::LeastConn | Method::Apache(_));
        if srv.backup && !backup_ok {
            return Err(BalancerError::BackupNotAllowed {
                name: srv.name.clone(),
                method: method_name(&conf.method),
            });
        }
    }
    validate_envoy_kube(&conf.method)?;
    if conf.cookie.is_some() && !haproxy {
        return Err(BalancerError::CookieNeedsHaproxy(method_name(&conf.method)));
    }
    Ok(())
}

/// The ranges Envoy's config validation (and sessim) accept for the Envoy and kube-proxy
/// parameters.
fn validate_envoy_kube(m: &Method) -> Result<(), BalancerError> {
    let bad = |s: String| Err(BalancerError::BadParameter(s));
    let outlier = match m {
        Method::EnvoyRoundRobin { outlier }
        | Method::EnvoyLeastRequest { outlier, .. }
        | Method::EnvoyRingHash { outlier, .. }
        | Method::EnvoyMaglev { outlier, .. } => *outlier,
        _ => None,
    };
    if let Some(o) = outlier {
        if o.max_ejection_percent > 100 {
            return bad(format!("max_ejection_percent {} is above 100", o.max_ejection_percent));
        }
        if o.interval == SimTime::ZERO {
            return bad("the outlier detection interval must be positive".into());
        }
    }
    match m {
        Method::EnvoyLeastRequest {
            choice_count,
            active_request_bias,
            ..
        } => {
            if *choice_count < 2 {
                return bad(format!("choice_count {choice_count} is below 2 (Envoy: `gte: 2`)"));
            }
            if !(active_request_bias.0.is_finite() && active_request_bias.0 >= 0.0) {
                return bad(format!(
                    "active_request_bias {} must be a number >= 0",
                    active_request_bias.0
                ));
            }
        }
        Method::EnvoyRingHash {
            minimum_ring_size,
            maximum_ring_size,
            ..
        } => {
            let cap = envoy_ring_hash::DEFAULT_MAX_RING;
            if *minimum_ring_size == 0 || *minimum_ring_size > cap || *maximum_ring_size > cap {
                return bad(format!("ring sizes must be within 1..={cap} (Envoy: `lte: 8388608`)"));
            }
            if minimum_ring_size > maximum_ring_size {
                // Envoy's own message.
                return bad(format!(
                    "ring hash: minimum_ring_size ({minimum_ring_size}) > maximum_ring_size ({maximum_ring_size})"
                ));
            }
        }
        Method::EnvoyMaglev { table_size, .. }
            if *table_size > envoy_maglev::MAX_TABLE_SIZE || !envoy_maglev::is_prime(*table_size) =>
        {
            return bad(format!(
                "table_size {table_size}: the table size of maglev must be a prime number up to {}",
                envoy_maglev::MAX_TABLE_SIZE
            ));
        }
        Method::KubeProxy {
            affinity,
            recent_list_size,
        } => {
            if let Some(t) = affinity
                && (*t == SimTime::ZERO || *t > SimTime::from_secs(86400))
            {
                return bad(format!(
                    "timeoutSeconds {t} must be within 1..=86400 s (Kubernetes API)"
                ));
            }
            if *recent_list_size == 0 {
                return bad("recent_list_size must be at least 1".into());
            }
        }
        _ => {}
    }
    Ok(())
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
                let p = policy.pick(client, peers, &mut a, SimTime::ZERO, &mut rng);
                if let Some(i) = p {
                    policy.report(i, true, peers, SimTime::ZERO);
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
    fn next_upstream_default_counts_errors_not_502() {
        let d = NextUpstream::default();
        assert_eq!(
            d.verdict(AttemptOutcome::ConnectError),
            Verdict {
                peer_failed: true,
                next: true
            }
        );
        // A 502 answered by a live backend web server: passed to the client, success.
        assert_eq!(
            d.verdict(AttemptOutcome::Response(502)),
            Verdict {
                peer_failed: false,
                next: false
            }
        );
        let with_502 = NextUpstream { http: 0b10, ..d };
        assert!(with_502.verdict(AttemptOutcome::Response(502)).peer_failed);
        let with_404 = NextUpstream { http: 1 << 5, ..d };
        assert_eq!(
            with_404.verdict(AttemptOutcome::Response(404)),
            Verdict {
                peer_failed: false,
                next: true
            }
        );
        let off = NextUpstream {
            error: false,
            timeout: false,
            ..d
        };
        // `off` still counts a refused connection against the peer.
        assert_eq!(
            off.verdict(AttemptOutcome::ConnectError),
            Verdict {
                peer_failed: true,
                next: false
            }
        );
    }

    #[test]
    fn haproxy_redispatch_on_last_retry_for_cookie_requests() {
        let r = HaproxyRetries {
            retries: 3,
            redispatch: Some(-1),
            connect_timeout: SimTime::from_millis(100),
        };
        let same = RetryAction::Same {
            delay: SimTime::from_millis(100),
        };
        // Direct (cookie) request: retries 1 and 2 stay, retry 3 (the last) redispatches.
        assert_eq!(r.after_failure(1, true, false, 4, true), same);
        assert_eq!(r.after_failure(2, true, false, 4, true), same);
        assert_eq!(r.after_failure(3, true, false, 4, true), RetryAction::Redispatch);
        assert_eq!(r.after_failure(4, true, false, 4, true), RetryAction::GiveUp);
        // Balanced round-robin request: redispatched on every retry.
        assert_eq!(r.after_failure(1, false, false, 4, true), RetryAction::Redispatch);
        // Without option redispatch: always the same server, then 503.
        let plain = HaproxyRetries { redispatch: None, ..r };
        assert_eq!(plain.after_failure(3, false, false, 4, true), same);
        assert_eq!(plain.after_failure(4, false, false, 4, true), RetryAction::GiveUp);
    }

    #[test]
    fn build_rejects_bad_input_without_panicking() {
        let mut conf = BalancerConf {
            method: Method::IpHash,
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
