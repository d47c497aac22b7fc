//! Caddy 2.6 `reverse_proxy`: its `lb_policy` selection policies, its retry loop
//! (`lb_retries`, `lb_try_duration`, `lb_try_interval`), passive health checks
//! (`fail_duration`, `max_fails`, `unhealthy_status`, `unhealthy_latency`,
//! `unhealthy_request_count`) and active ones (`health_uri`, `health_interval`).
//!
//! Sources (caddyserver/caddy, tag v2.6.2, the version Debian bookworm ships):
//! * `modules/caddyhttp/reverseproxy/selectionpolicies.go`: every policy walks the upstreams
//!   in config order and skips those not `Available()`.
//!   - `round_robin`: `robin = atomic.AddUint32(&robin, 1)` *then* `pool[robin % n]`, up to
//!     `n` times until an available one: the first request goes to the *second* upstream.
//!   - `first`: the first available upstream.
//!   - `least_conn`: the fewest requests in flight; ties broken by reservoir sampling
//!     (`weakrand.Int() % count == 0`), i.e. uniformly among the tied.
//!   - `random`: reservoir sampling over the available upstreams (`selectRandomHost`).
//!   - `random_choose N` (default 2, at least 2): reservoir sampling of `k = min(N, len)`
//!     slots where the index `i` counts *every* upstream, available or not
//!     (`j = Intn(i + 1)`, `j < k` replaces slot `j`), then `leastRequests`: the first
//!     upstream with no request in flight wins at once; otherwise every upstream whose
//!     count is `<=` the best seen so far is appended to a list (not only the true minimum)
//!     and one of that list is drawn uniformly.
//!   - `ip_hash`, `uri_hash`, `header FIELD`: `hostByHashing`, rendezvous (highest random
//!     weight) hashing: FNV-1a 32 of `key + upstream.String()` (the dial address) for each
//!     available upstream; the strictly highest hash wins, starting from 0 (the first of
//!     equal hashes wins). `ip_hash` hashes the client address without its port
//!     (`net.SplitHostPort(RemoteAddr)`), `uri_hash` the raw request URI, `header` the
//!     header's value (`Host` is `req.Host`); an empty header value falls back to `random`.
//!   - `cookie [NAME [SECRET]]` (default name `lb`, empty secret): the cookie value is
//!     `hex(HMAC-SHA256(secret, dial))`; the first available upstream whose value equals
//!     the client's cookie is chosen; with no cookie or no match, `random` chooses and the
//!     response sets the cookie (`Set-Cookie: NAME=VALUE; Path=/`). 2.6 has no
//!     configurable fallback (that came in 2.7).
//! * Two policies came in Caddy 2.7; sessim models them from tag v2.7.6 (the last 2.7
//!   release) of the same file, checked against the source only (Debian ships 2.6.2, which
//!   refuses them):
//!   - `weighted_round_robin W1 W2 ...` (`WeightedRoundRobinSelection`): `UnmarshalCaddyfile`
//!     takes at least one weight, each a whole number (`strconv.Atoi`) of at least 1;
//!     `Provision` sums them. `Select`: an empty pool gives nothing; fewer than two weights
//!     give `pool[0]` whether it is available or not, without touching the counter.
//!     Otherwise `index = atomic.AddUint32(&index, 1)` (the first request sees 1),
//!     `current = index % total`, the slot is the first `i` with `current <` the running sum
//!     of the weights; the available upstreams are collected in config order, at most as
//!     many as there are weights, and the slot taken modulo their number picks one. The
//!     weights need not match the upstreams in number: with fewer weights only the first
//!     that many available upstreams are ever chosen; with more, the slots wrap. An
//!     unavailable upstream's turns go to the next available ones (the list closes up).
//!   - `client_ip_hash` (`ClientIPHashSelection`): `hostByHashing` on the `client_ip`
//!     variable, which `server.go` `determineTrustedProxy` sets to the remote address
//!     (`netip` text, no port) unless it is in `trusted_proxies` *and* the request carries a
//!     client IP header. sessim's clients connect directly and send no `X-Forwarded-For`, so
//!     the key is the client's address, as `ip_hash`'s. 2.7's `hostByHashing` hashes
//!     `upstream.String() + key` (the dial first: changed in 2.7 by PR #5229), not 2.6's
//!     `key + dial`; `client_ip_hash` uses 2.7's order, the other hash policies keep 2.6.2's.
//! * `hosts.go` `Upstream.Available` = `Healthy() && !Full()`; `Healthy` = not marked
//!   unhealthy by the active checker and, when the handler has passive checks at all (any
//!   of `fail_duration`, `max_fails`, `unhealthy_*` written), `Fails() < MaxFails`; `Full` =
//!   `MaxRequests > 0 && NumRequests() >= MaxRequests`. `provisionUpstream` copies
//!   `unhealthy_request_count` into the `MaxRequests` of every upstream without its own
//!   `max_requests`, so a backend with that many requests in flight is skipped by every
//!   policy. `Provision` defaults `max_fails` to 1 only when `fail_duration` is set: with
//!   passive keys but no `fail_duration`, `MaxFails` stays 0 and `0 < 0` is false, so every
//!   upstream is unhealthy and every request gets 503 (checked against the real server).
//! * `reverseproxy.go` `reverseProxy`: `countRequest(1)` before the round trip and
//!   `countRequest(-1)` when the response has been copied (the in-flight count); after the
//!   round trip (`duration` = until the response headers), one failure is counted for *each*
//!   `unhealthy_status` entry the status matches (`caddyhttp.StatusCodeMatches`: `5` is
//!   `5xx`, written `5xx` in the Caddyfile) and one more when `duration >= unhealthy_latency`.
//!   The response still goes to the client: a 5xx is never retried in 2.6.
//! * `healthchecks.go` `countFailure`: with `fail_duration > 0`, a failure is counted at
//!   once and forgotten `fail_duration` later (one timer per failure); with `fail_duration`
//!   0 nothing is counted. The active checker
//!   runs all checks at start, then every `health_interval` (default 30 s); a single failed
//!   check marks the upstream unhealthy and a single passed one healthy again (2.6 has no
//!   `health_passes`/`health_fails`).
//! * `reverseproxy.go` `Provision`: `max_fails` defaults to 1 when `fail_duration` is set;
//!   `try_interval` defaults to 250 ms when `try_duration` is set (an explicit 0 too); the
//!   default policy is `random`. `proxyLoopIteration`/`tryAgain`: a dial error counts a
//!   failure, and so does nothing when no upstream is available ("no upstreams available",
//!   503); either way `tryAgain` decides: no retry unless `lb_retries` or `lb_try_duration`
//!   is set; stop once `retries >= lb_retries` (the loop iterations before this one,
//!   selections that found nothing included) or `lb_try_duration` has passed since the
//!   request came in; otherwise wait `lb_try_interval` and select again (the same policy,
//!   which may pick the same upstream). A response of the upstream, whatever its status,
//!   ends the loop ([`CaddyConf::try_again`]).
//!
//! The selection functions below are pure: they read the peers' state and return the
//! chosen index; [`CaddyBalancer`] does the bookkeeping (in-flight counts, passive fails).
//! Randomness: Caddy's `math/rand` stream cannot be reproduced (seeded from the clock), so
//! the random draws come from the simulator's [`SimRng`] with the same distribution.

use super::{
    Attempt, CheckConf, ClientInfo, FailurePolicy, Needs, NextUpstream, PeerState, Policy, ServerConf, SetCookie,
    SimRng, SimTime,
};

mod selection;
pub use selection::{
    LbPolicy, NAMES, cookie_match, cookie_value, first, fnv1a32, host_by_hashing, host_by_hashing_v27, least_conn,
    parse_weights, random, random_choose, round_robin, weighted_round_robin,
};

/// The `reverse_proxy` settings sessim models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaddyConf {
    /// `lb_policy` (default `random`).
    pub policy: LbPolicy,
    /// `lb_retries` (default 0).
    pub retries: u32,
    /// `lb_try_duration` (default 0: no time-based retries).
    pub try_duration: SimTime,
    /// `lb_try_interval` (default 250 ms when `lb_try_duration` is set).
    pub try_interval: SimTime,
    /// `fail_duration` (0 = failures are never counted).
    pub fail_duration: SimTime,
    /// `max_fails` as `Provision` leaves it: as written, else 1 with `fail_duration`, else 0.
    pub max_fails: u32,
    /// Passive health checks are configured (Caddy's `HealthChecks.Passive` is not nil): an
    /// upstream is healthy only while its counted failures are below `max_fails`.
    pub passive: bool,
    /// `unhealthy_status`: each entry a status (`503`) or a class (`5` for `5xx`).
    pub unhealthy_status: Vec<u16>,
    /// `unhealthy_latency` (0 = off): a response whose headers took at least this long
    /// counts a failure.
    pub unhealthy_latency: SimTime,
    /// `unhealthy_request_count` (0 = off): the `max_requests` of every upstream without its own.
    pub unhealthy_request_count: u32,
    /// `health_uri` with `health_interval` (default 30 s): active checks.
    pub health_interval: Option<SimTime>,
}

impl Default for CaddyConf {
    fn default() -> Self {
        CaddyConf {
            policy: LbPolicy::Random,
            retries: 0,
            try_duration: SimTime::ZERO,
            try_interval: SimTime::ZERO,
            fail_duration: SimTime::ZERO,
            max_fails: 1,
            passive: false,
            unhealthy_status: Vec::new(),
            unhealthy_latency: SimTime::ZERO,
            unhealthy_request_count: 0,
            health_interval: None,
        }
    }
}

/// Most proxy-loop iterations sessim accepts for one request (`lb_retries + 1`, or
/// `lb_try_duration / lb_try_interval + 1`): each is an event of the simulation.
pub const MAX_TRIES: u64 = 10_000;

/// One `unhealthy_status` argument as the Caddyfile reads it: `5xx` is the class `5`, any
/// other a status. sessim takes the classes `1xx`..`5xx` and the statuses 100..=599.
pub fn parse_status(arg: &str) -> Result<u16, String> {
    let v = match arg.strip_suffix("xx") {
        Some(class) if arg.len() == 3 => class.parse::<u16>().ok().filter(|c| (1..=5).contains(c)),
        _ => arg.parse::<u16>().ok().filter(|s| (100..=599).contains(s)),
    };
    v.ok_or_else(|| format!("unhealthy_status `{arg}`: write a status (100-599) or a class such as 5xx"))
}

/// `caddyhttp.StatusCodeMatches`: equal, or `configured < 100` and `actual` in that class.
pub fn status_matches(actual: u16, configured: u16) -> bool {
    actual == configured || (configured < 100 && actual / 100 == configured)
}

impl CaddyConf {
    /// Selections per request: one, plus `lb_retries`; with `lb_try_duration` alone Caddy
    /// retries until the duration is over, which sessim bounds by one selection per
    /// upstream (`members`).
    pub fn max_attempts(&self, members: usize) -> u32 {
        let n = u32::try_from(members).unwrap_or(u32::MAX).max(1);
        if self.retries > 0 {
            self.retries.saturating_add(1)
        } else if self.try_duration > SimTime::ZERO {
            n
        } else {
            1
        }
    }
}

impl CaddyConf {
    /// `tryAgain` after the `iterations`-th iteration of the proxy loop (a dial error, or a
    /// selection that found no available upstream), `elapsed` after the request came in:
    /// `Some(wait)` = select again after `wait` (`lb_try_interval`, 0 = at once), `None` =
    /// give up. The error is a dial error or "no upstreams available", which `tryAgain`
    /// retries for a GET (sessim's requests) whatever `lb_retry_match` says.
    pub fn try_again(&self, iterations: u32, elapsed: SimTime) -> Option<SimTime> {
        if self.try_duration == SimTime::ZERO && self.retries == 0 {
            return None;
        }
        if self.try_duration > SimTime::ZERO && elapsed >= self.try_duration {
            return None;
        }
        // `retries` counts the iterations before the one that just failed.
        if self.retries > 0 && iterations.saturating_sub(1) >= self.retries {
            return None;
        }
        Some(self.try_interval)
    }

    /// Refuses settings whose retry loop would take more than [`MAX_TRIES`] iterations.
    pub fn limits(&self) -> Result<(), String> {
        let by_retries = if self.retries > 0 {
            u64::from(self.retries) + 1
        } else {
            0
        };
        let by_time = if self.try_duration > SimTime::ZERO && self.try_interval > SimTime::ZERO {
            self.try_duration.as_nanos() / self.try_interval.as_nanos() + 1
        } else {
            0
        };
        let tries = match (by_retries, by_time) {
            (0, t) | (t, 0) => t,
            (r, t) => r.min(t),
        };
        if tries > MAX_TRIES {
            return Err(format!(
                "lb_retries / lb_try_duration / lb_try_interval allow {tries} tries per request; sessim \
                 simulates at most {MAX_TRIES} (raise lb_try_interval or lower the others)"
            ));
        }
        Ok(())
    }

    /// The failure handling of a Caddy handler: dial errors are retried while `lb_retries` /
    /// `lb_try_duration` allow; a response of the upstream, any status, goes to the client.
    pub fn failure(&self, servers: usize) -> FailurePolicy {
        FailurePolicy::Nginx(NextUpstream {
            error: true,
            // A response timeout is retried too for GET (`tryAgain`), sessim's requests.
            timeout: true,
            http: 0,
            non_idempotent: true,
            tries: self.max_attempts(servers),
            timeout_limit: SimTime::ZERO,
        })
    }

    /// Active checks: one failure marks an upstream unhealthy, one pass healthy again
    /// (HAProxy's counter with `rise = fall = 1` behaves so).
    pub fn check(&self) -> Option<CheckConf> {
        self.health_interval.map(|i| CheckConf {
            inter: i,
            fastinter: i,
            downinter: i,
            rise: 1,
            fall: 1,
        })
    }
}

/// One Caddy `reverse_proxy` handler over `servers` (config order).
pub struct CaddyBalancer {
    conf: CaddyConf,
    dials: Vec<String>,
    /// The cookie value of each upstream (cookie policy).
    values: Vec<String>,
    down: Vec<bool>,
    max_requests: Vec<u32>,
    robin: u32,
    /// Passive health: when each counted failure is forgotten.
    fails: Vec<Vec<SimTime>>,
}

impl CaddyBalancer {
    /// `countFailure` `n` times on `peer` (nothing with `fail_duration` 0).
    fn count_failures(&mut self, peer: usize, n: usize, now: SimTime) {
        if self.conf.fail_duration > SimTime::ZERO
            && let Some(f) = self.fails.get_mut(peer)
        {
            f.retain(|&t| t > now);
            for _ in 0..n {
                f.push(now + self.conf.fail_duration);
            }
        }
    }
}

impl CaddyBalancer {
    /// A handler over `servers`; each server's `addr` is its dial address.
    pub fn new(servers: &[ServerConf], conf: CaddyConf) -> Self {
        let secret = match &conf.policy {
            LbPolicy::Cookie { secret, .. } => Some(secret.as_str()),
            _ => None,
        };
        CaddyBalancer {
            dials: servers.iter().map(|s| s.addr.clone()).collect(),
            values: servers
                .iter()
                .map(|s| secret.map(|k| cookie_value(k, &s.addr)).unwrap_or_default())
                .collect(),
            down: servers.iter().map(|s| s.down).collect(),
            // provisionUpstream: unhealthy_request_count is the default max_requests.
            max_requests: servers
                .iter()
                .map(|s| {
                    if s.max_conns > 0 {
                        s.max_conns
                    } else {
                        conf.unhealthy_request_count
                    }
                })
                .collect(),
            robin: 0,
            fails: vec![Vec::new(); servers.len()],
            conf,
        }
    }

    /// `Available()` of every upstream as a bitmask.
    fn available(&self, peers: &[PeerState], now: SimTime) -> u64 {
        let mut mask = 0u64;
        for (i, p) in peers.iter().enumerate().take(64) {
            let passive_ok = !self.conf.passive
                || (self.fails[i].iter().filter(|&&t| t > now).count() as u64) < u64::from(self.conf.max_fails);
            let full = self.max_requests[i] > 0 && p.conns >= self.max_requests[i];
            if p.up && !self.down[i] && passive_ok && !full {
                mask |= 1u64 << i;
            }
        }
        mask
    }
}

/// The server cookie values of `servers` under the cookie policy (what
/// [`ServerConf::cookie`] carries so that the client presents it back).
pub fn server_cookies(servers: &mut [ServerConf], conf: &CaddyConf) {
    if let LbPolicy::Cookie { secret, .. } = &conf.policy {
        for s in servers {
            s.cookie = Some(cookie_value(secret, &s.addr));
        }
    }
}

impl Policy for CaddyBalancer {
    fn needs(&self) -> Needs {
        Needs {
            session_cookie: matches!(self.conf.policy, LbPolicy::Header(_)),
            uri: matches!(self.conf.policy, LbPolicy::UriHash),
            server_cookie: matches!(self.conf.policy, LbPolicy::Cookie { .. }),
            session_route: false,
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
        let avail = self.available(peers, now);
        let n = peers.len();
        attempt.direct = false;
        // One proxy-loop iteration per selection, whether it finds an upstream or not.
        attempt.tries += 1;
        let chosen = match &self.conf.policy {
            LbPolicy::RoundRobin => {
                let (c, r) = round_robin(self.robin, n, avail);
                self.robin = r;
                c
            }
            LbPolicy::LeastConn => least_conn(peers, avail, rng),
            LbPolicy::Random => random(n, avail, rng),
            LbPolicy::RandomChoose(k) => random_choose(*k, peers, avail, rng),
            LbPolicy::First => first(n, avail),
            LbPolicy::IpHash => {
                let mut buf = [0u8; 64];
                let key = super::HashKey::RemoteAddr.bytes(client, &mut buf);
                host_by_hashing(key, &self.dials, avail)
            }
            LbPolicy::ClientIpHash => {
                // client_ip without trusted proxies (or without a client IP header, which
                // sessim's clients never send) is the remote address, as for ip_hash.
                let mut buf = [0u8; 64];
                let key = super::HashKey::RemoteAddr.bytes(client, &mut buf);
                host_by_hashing_v27(key, &self.dials, avail)
            }
            LbPolicy::WeightedRoundRobin(w) => {
                let (c, r) = weighted_round_robin(self.robin, w, n, avail);
                self.robin = r;
                c
            }
            LbPolicy::UriHash => host_by_hashing(client.uri.as_bytes(), &self.dials, avail),
            LbPolicy::Header(_) => match client.session_cookie {
                Some(v) if !v.is_empty() => host_by_hashing(v.as_bytes(), &self.dials, avail),
                _ => random(n, avail, rng),
            },
            LbPolicy::Cookie { .. } => match client.server_cookie.and_then(|c| cookie_match(c, &self.values, avail)) {
                Some(i) => {
                    attempt.direct = true;
                    Some(i)
                }
                None => random(n, avail, rng),
            },
        }?;
        Some(chosen)
    }

    fn report(&mut self, peer: usize, ok: bool, _peers: &[PeerState], now: SimTime) {
        self.count_failures(peer, usize::from(!ok), now);
    }

    fn report_response(&mut self, peer: usize, status: u16, latency: SimTime, _peers: &[PeerState], now: SimTime) {
        if !self.conf.passive {
            return;
        }
        // One failure per matching unhealthy_status entry, one more for the latency.
        let by_status = self
            .conf
            .unhealthy_status
            .iter()
            .filter(|&&c| status_matches(status, c))
            .count();
        let slow = self.conf.unhealthy_latency > SimTime::ZERO && latency >= self.conf.unhealthy_latency;
        self.count_failures(peer, by_status + usize::from(slow), now);
    }

    fn response_cookie(&self, peer: usize, attempt: &Attempt) -> SetCookie<'_> {
        match &self.conf.policy {
            LbPolicy::Cookie { name, .. } if !attempt.direct => match self.values.get(peer) {
                Some(v) => SetCookie::Set { name, value: v },
                None => SetCookie::Keep,
            },
            _ => SetCookie::Keep,
        }
    }
}

/// The policy `caddy` (registered in [`super::registry::POLICIES`]); its keys are Caddy's own
/// subdirective names, read by `scenario/load/caddy.rs`.
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "caddy",
    directive: "",
    title: "caddy reverse_proxy",
    family: super::registry::Family::Caddy,
    backup: false,
    keys: &[
        "lb_policy",
        "lb_retries",
        "lb_try_duration",
        "lb_try_interval",
        "fail_duration",
        "unhealthy_status",
        "unhealthy_latency",
        "unhealthy_request_count",
        "max_fails",
        "health_interval",
    ],
    method: |p| super::Method::new(p.caddy.clone()),
};

impl super::Algorithm for CaddyConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(CaddyBalancer::new(servers, self.clone()))
    }

    fn summary(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, " (lb_policy {}", self.policy.name())?;
        match &self.policy {
            LbPolicy::RandomChoose(k) => write!(f, " {k}")?,
            LbPolicy::Header(h) => write!(f, " {h}")?,
            LbPolicy::Cookie { name, .. } => write!(f, " {name}")?,
            LbPolicy::WeightedRoundRobin(w) => {
                for x in w {
                    write!(f, " {x}")?;
                }
            }
            _ => {}
        }
        write!(f, ", lb_retries {}", self.retries)?;
        if self.try_duration > SimTime::ZERO {
            write!(f, ", lb_try_duration {}", self.try_duration)?;
        }
        if self.try_interval > SimTime::ZERO {
            write!(f, ", lb_try_interval {}", self.try_interval)?;
        }
        if self.fail_duration > SimTime::ZERO {
            write!(
                f,
                ", fail_duration {}, max_fails {}",
                self.fail_duration, self.max_fails
            )?;
        }
        if !self.unhealthy_status.is_empty() {
            write!(f, ", unhealthy_status {}", self.unhealthy_status_words().join(" "))?;
        }
        if self.unhealthy_latency > SimTime::ZERO {
            write!(f, ", unhealthy_latency {}", self.unhealthy_latency)?;
        }
        if self.unhealthy_request_count > 0 {
            write!(f, ", unhealthy_request_count {}", self.unhealthy_request_count)?;
        }
        if let Some(i) = self.health_interval {
            write!(f, ", health_interval {i}")?;
        }
        write!(f, ")")
    }

    fn keys(&self, _servers: &[ServerConf], keys: &mut super::Keys) {
        let line = match &self.policy {
            LbPolicy::RandomChoose(k) => format!("random_choose {k}"),
            LbPolicy::Header(h) => format!("header {h}"),
            LbPolicy::Cookie { name, secret } if secret.is_empty() => format!("cookie {name}"),
            LbPolicy::Cookie { name, secret } => format!("cookie {name} {secret}"),
            // JSON's empty `weights` behave as one weight (`pool[0]` always), which the
            // Caddyfile syntax can say.
            LbPolicy::WeightedRoundRobin(w) if w.is_empty() => "weighted_round_robin 1".into(),
            LbPolicy::WeightedRoundRobin(w) => {
                let w: Vec<String> = w.iter().map(u64::to_string).collect();
                format!("weighted_round_robin {}", w.join(" "))
            }
            p => p.name().to_string(),
        };
        keys.put("lb_policy", line);
        keys.put("lb_retries", self.retries as i64);
        keys.put("lb_try_duration", self.try_duration);
        if self.try_interval > SimTime::ZERO {
            keys.put("lb_try_interval", self.try_interval);
        }
        keys.put("fail_duration", self.fail_duration);
        if self.fail_duration > SimTime::ZERO {
            keys.put("max_fails", self.max_fails as i64);
            // The passive keys need fail_duration (the loader says so); each is written
            // only when set, as Caddy's defaults are "none".
            if !self.unhealthy_status.is_empty() {
                keys.put("unhealthy_status", self.unhealthy_status_words());
            }
            if self.unhealthy_latency > SimTime::ZERO {
                keys.put("unhealthy_latency", self.unhealthy_latency);
            }
            if self.unhealthy_request_count > 0 {
                keys.put("unhealthy_request_count", self.unhealthy_request_count as i64);
            }
        }
        if let Some(i) = self.health_interval {
            keys.put("health_interval", i);
        }
    }
}

impl CaddyConf {
    /// `unhealthy_status` as the Caddyfile writes it: a class as `5xx`, a code as itself.
    fn unhealthy_status_words(&self) -> Vec<String> {
        self.unhealthy_status
            .iter()
            .map(|&c| if c < 100 { format!("{c}xx") } else { c.to_string() })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{client, rng, servers};
    use super::*;
    use crate::balancer::Bookkeeping;

    fn dials(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("127.0.0.1:{}", 18081 + i)).collect()
    }

    /// A Caddy balancer over `servers` with its peers' state and a random stream: what the
    /// tests through the balancer share.
    struct Rig {
        b: CaddyBalancer,
        peers: Vec<PeerState>,
        r: SimRng,
    }

    impl Rig {
        fn new(servers: &[ServerConf], conf: CaddyConf) -> Self {
            Rig {
                b: CaddyBalancer::new(servers, conf),
                peers: PeerState::for_servers(servers),
                r: rng(),
            }
        }

        /// One request of `c` at `t`: a pick, and the attempt on the chosen upstream (if
        /// any) reported as a success (`ok`) or a failure.
        fn pick_report(&mut self, c: &ClientInfo<'_>, t: SimTime, ok: bool) -> Option<usize> {
            let mut a = Attempt::default();
            let i = self.b.pick_counted(c, &mut self.peers, &mut a, t, &mut self.r);
            if let Some(i) = i {
                self.b.report_counted(i, ok, &mut self.peers, t);
            }
            i
        }
    }

    #[test]
    fn fnv1a32_matches_the_published_vectors() {
        // FNV-1a 32 test vectors (Fowler/Noll/Vo reference test suite, as Go's hash/fnv tests):
        // "" -> 0x811c9dc5, "a" -> 0xe40c292c, "foobar" -> 0xbf9cf968.
        assert_eq!(fnv1a32(&[b""]), 0x811c_9dc5);
        assert_eq!(fnv1a32(&[b"a"]), 0xe40c_292c);
        assert_eq!(fnv1a32(&[b"foo", b"bar"]), 0xbf9c_f968);
    }

    #[test]
    fn cookie_value_is_hmac_sha256_hex() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            cookie_value("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn round_robin_starts_at_the_second_upstream_and_skips_unavailable() {
        // AddUint32 returns the incremented counter: 1 % 3 = upstream 1 first.
        let (c, r) = round_robin(0, 3, 0b111);
        assert_eq!((c, r), (Some(1), 1));
        let (c, r) = round_robin(r, 3, 0b111);
        assert_eq!((c, r), (Some(2), 2));
        // Upstream 0 unavailable: 3 % 3 = 0 is skipped, 4 % 3 = 1 taken.
        assert_eq!(round_robin(r, 3, 0b110), (Some(1), 4));
        assert_eq!(round_robin(0, 3, 0), (None, 3));
    }

    #[test]
    fn host_by_hashing_takes_the_highest_hash_of_the_available() {
        let d = dials(4);
        let key = b"10.1.2.3";
        let hashes: Vec<u32> = d.iter().map(|x| fnv1a32(&[key, x.as_bytes()])).collect();
        let max = (0..4).max_by_key(|&i| hashes[i]);
        assert_eq!(host_by_hashing(key, &d, 0b1111), max);
        // Without the winner, the next highest wins: rendezvous hashing moves only its keys.
        let Some(w) = max else { return };
        let rest = (0..4).filter(|&i| i != w).max_by_key(|&i| hashes[i]);
        assert_eq!(host_by_hashing(key, &d, 0b1111 & !(1 << w)), rest);
    }

    #[test]
    fn least_conn_is_uniform_among_ties() {
        let s = servers(&[1, 1, 1]);
        let mut peers = PeerState::for_servers(&s);
        peers[0].conns = 2;
        let mut r = rng();
        let mut n = [0u32; 3];
        for _ in 0..3000 {
            if let Some(i) = least_conn(&peers, 0b111, &mut r) {
                n[i] += 1;
            }
        }
        assert_eq!(n[0], 0);
        // Binomial(3000, 1/2): sd = sqrt(3000/4) = 27.4; 1500 +- 5 sd.
        assert!((1363..=1637).contains(&n[1]), "{n:?}");
    }

    #[test]
    fn random_choose_keeps_leastrequests_quirk() {
        // Both upstreams are always chosen (k = 2 = n). Slot order is random; with counts
        // [3, 1] leastRequests keeps upstream 0 whenever it comes first (both appended), so
        // upstream 0 wins 1/2 * 1/2 = 1/4 of the time, not never.
        let s = servers(&[1, 1]);
        let mut peers = PeerState::for_servers(&s);
        peers[0].conns = 3;
        peers[1].conns = 1;
        let mut r = rng();
        let mut zero = 0u32;
        let trials = 4000u32;
        for _ in 0..trials {
            if random_choose(2, &peers, 0b11, &mut r) == Some(0) {
                zero += 1;
            }
        }
        // Binomial(4000, 1/4): mean 1000, sd = sqrt(4000 * 3/16) = 27.4; +- 5 sd.
        assert!((863..=1137).contains(&zero), "{zero}");
        // An idle upstream in the slots wins at once.
        peers[1].conns = 0;
        assert_eq!(random_choose(2, &peers, 0b11, &mut r), Some(1));
    }

    #[test]
    fn random_is_uniform_chi_square() {
        // Chi-square with 3 degrees of freedom: P(X > 16.27) = 0.001.
        let mut r = rng();
        let mut n = [0f64; 4];
        let trials = 8000.0;
        for _ in 0..8000 {
            if let Some(i) = random(4, 0b1111, &mut r) {
                n[i] += 1.0;
            }
        }
        let e = trials / 4.0;
        let chi: f64 = n.iter().map(|o| (o - e) * (o - e) / e).sum();
        assert!(chi < 16.27, "{chi} {n:?}");
    }

    #[test]
    fn passive_failures_expire_after_fail_duration() {
        let s = servers(&[1, 1, 1]);
        let conf = CaddyConf {
            policy: LbPolicy::First,
            fail_duration: SimTime::from_secs(30),
            max_fails: 2,
            passive: true,
            ..CaddyConf::default()
        };
        let mut rig = Rig::new(&s, conf);
        let c = client("10.0.0.1");
        let mut pick = |t: u64, ok: bool| rig.pick_report(&c, SimTime::from_secs(t), ok);
        assert_eq!(pick(0, false), Some(0));
        // One failure < max_fails 2: still available.
        assert_eq!(pick(1, false), Some(0));
        // Two failures: unavailable until the first is forgotten at 0 + 30 s.
        assert_eq!(pick(2, true), Some(1));
        assert_eq!(pick(29, true), Some(1));
        assert_eq!(pick(30, true), Some(0));
    }

    #[test]
    fn unhealthy_status_and_latency_count_as_reverseproxy_go_does() {
        // reverseproxy.go reverseProxy: one countFailure per matching unhealthy_status entry,
        // one more when duration >= unhealthy_latency. max_fails 2: an upstream is skipped
        // (`first` moves on) once two failures are remembered.
        assert!(status_matches(502, 5) && status_matches(404, 404) && !status_matches(404, 5));
        assert_eq!(parse_status("5xx"), Ok(5));
        assert!(parse_status("6xx").is_err() && parse_status("42").is_err());
        let s = servers(&[1, 1]);
        let conf = CaddyConf {
            policy: LbPolicy::First,
            fail_duration: SimTime::from_secs(10),
            max_fails: 2,
            passive: true,
            unhealthy_status: vec![5, 503],
            unhealthy_latency: SimTime::from_millis(500),
            ..CaddyConf::default()
        };
        let mut r = rng();
        let c = client("10.0.0.1");
        let t = SimTime::from_secs(1);
        let run = |status: u16, latency_ms: u64, r: &mut SimRng| {
            let mut b = CaddyBalancer::new(&s, conf.clone());
            let mut peers = PeerState::for_servers(&s);
            let mut a = Attempt::default();
            let i = b.pick_counted(&c, &mut peers, &mut a, t, r);
            assert_eq!(i, Some(0));
            b.report_response_counted(0, status, SimTime::from_millis(latency_ms), &mut peers, t);
            assert_eq!(peers[0].conns, 0);
            let mut a = Attempt::default();
            b.pick_counted(&c, &mut peers, &mut a, t, r)
        };
        // 503 matches both `5xx` and `503`: two failures at once.
        assert_eq!(run(503, 0, &mut r), Some(1));
        // 502 matches only `5xx`: one failure, still available.
        assert_eq!(run(502, 0, &mut r), Some(0));
        // 502 and slow: two.
        assert_eq!(run(502, 500, &mut r), Some(1));
        // 200 just under the latency: none; 200 at it: one.
        assert_eq!(run(200, 499, &mut r), Some(0));
        assert_eq!(run(200, 500, &mut r), Some(0));
        // Without fail_duration nothing is counted, and max_fails 0 makes every upstream
        // unhealthy (Fails() < MaxFails is 0 < 0); real Caddy 2.6.2 answers 503.
        let off = CaddyConf {
            fail_duration: SimTime::ZERO,
            max_fails: 0,
            ..conf.clone()
        };
        let mut b = CaddyBalancer::new(&s, off);
        let mut peers = PeerState::for_servers(&s);
        assert_eq!(b.pick_counted(&c, &mut peers, &mut Attempt::default(), t, &mut r), None);
    }

    #[test]
    fn unhealthy_request_count_is_every_upstreams_max_requests() {
        // provisionUpstream: MaxRequests = unhealthy_request_count unless the upstream has its
        // own; Full() = NumRequests >= MaxRequests. `first` with 2 each: 0, 0, 1, 1, none.
        let mut s = servers(&[1, 1, 1]);
        s[2].max_conns = 1;
        let conf = CaddyConf {
            policy: LbPolicy::First,
            fail_duration: SimTime::from_secs(10),
            passive: true,
            unhealthy_request_count: 2,
            ..CaddyConf::default()
        };
        let mut b = CaddyBalancer::new(&s, conf);
        let mut peers = PeerState::for_servers(&s);
        let mut r = rng();
        let c = client("10.0.0.1");
        let picks: Vec<Option<usize>> = (0..6)
            .map(|_| b.pick_counted(&c, &mut peers, &mut Attempt::default(), SimTime::ZERO, &mut r))
            .collect();
        assert_eq!(picks, [Some(0), Some(0), Some(1), Some(1), Some(2), None]);
        b.report_response_counted(1, 200, SimTime::ZERO, &mut peers, SimTime::ZERO);
        assert_eq!(
            b.pick_counted(&c, &mut peers, &mut Attempt::default(), SimTime::ZERO, &mut r),
            Some(1)
        );
    }

    #[test]
    fn try_again_follows_lb_retries_and_lb_try_duration() {
        // tryAgain (reverseproxy.go): retries = iterations before the one that failed.
        let retries = CaddyConf {
            retries: 2,
            ..CaddyConf::default()
        };
        let t = SimTime::ZERO;
        assert_eq!(retries.try_again(1, t), Some(SimTime::ZERO));
        assert_eq!(retries.try_again(2, t), Some(SimTime::ZERO));
        assert_eq!(retries.try_again(3, t), None);
        assert_eq!(CaddyConf::default().try_again(1, t), None);
        // lb_try_duration 1s, interval 250 ms: tries at 0, 0.25, 0.5, 0.75 and 1 s; at 1 s
        // elapsed >= try_duration ends it: 5 iterations.
        let dur = CaddyConf {
            try_duration: SimTime::from_secs(1),
            try_interval: SimTime::from_millis(250),
            ..CaddyConf::default()
        };
        let mut n = 1;
        let mut now = SimTime::ZERO;
        while let Some(w) = dur.try_again(n, now) {
            now += w;
            n += 1;
        }
        assert_eq!((n, now), (5, SimTime::from_secs(1)));
        assert!(dur.limits().is_ok());
    }

    #[test]
    fn cookie_follows_its_upstream_and_sets_one_otherwise() {
        let s = servers(&[1, 1, 1]);
        let conf = CaddyConf {
            policy: LbPolicy::Cookie {
                name: "lb".into(),
                secret: "k".into(),
            },
            ..CaddyConf::default()
        };
        let mut b = CaddyBalancer::new(&s, conf);
        let mut peers = PeerState::for_servers(&s);
        let mut r = rng();
        let v2 = cookie_value("k", &s[2].addr);
        let mut c = client("10.0.0.1");
        c.server_cookie = Some(&v2);
        let mut a = Attempt::default();
        assert_eq!(b.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut r), Some(2));
        assert_eq!(b.response_cookie(2, &a), SetCookie::Keep);
        c.server_cookie = Some("nonsense");
        let mut a = Attempt::default();
        let i = b.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut r);
        let Some(i) = i else { panic!("no upstream") };
        let v = cookie_value("k", &s[i].addr);
        assert_eq!(b.response_cookie(i, &a), SetCookie::Set { name: "lb", value: &v });
    }

    #[test]
    fn parse_takes_caddy_2_7_policies_and_refuses_bad_weights() {
        // WeightedRoundRobinSelection.UnmarshalCaddyfile (v2.7.6): at least one weight, each
        // strconv.Atoi-parsed (sign allowed) and >= 1; client_ip_hash takes no argument.
        assert_eq!(
            LbPolicy::parse("weighted_round_robin", &["3", "+1"]),
            Ok(LbPolicy::WeightedRoundRobin(vec![3, 1]))
        );
        assert_eq!(LbPolicy::parse("client_ip_hash", &[]), Ok(LbPolicy::ClientIpHash));
        assert!(LbPolicy::parse("client_ip_hash", &["x"]).is_err());
        assert!(LbPolicy::parse("weighted_round_robin", &[]).is_err_and(|e| e.contains("one weight per upstream")));
        assert!(LbPolicy::parse("weighted_round_robin", &["3", "0"]).is_err_and(|e| e.contains("`0`")));
        assert!(LbPolicy::parse("weighted_round_robin", &["-2"]).is_err());
        assert!(LbPolicy::parse("weighted_round_robin", &["1.5"]).is_err_and(|e| e.contains("`1.5`")));
        let big = i64::MAX.to_string();
        assert!(LbPolicy::parse("weighted_round_robin", &[&big, "1"]).is_err_and(|e| e.contains("too large")));
        assert!(LbPolicy::parse("sticky", &[]).is_err_and(|e| e.contains("2.7 adds weighted_round_robin")));
        assert!(LbPolicy::parse("random_choose", &["1"]).is_err());
        assert_eq!(LbPolicy::parse("random_choose", &["3"]), Ok(LbPolicy::RandomChoose(3)));
        assert_eq!(
            LbPolicy::parse("cookie", &[]),
            Ok(LbPolicy::Cookie {
                name: "lb".into(),
                secret: String::new()
            })
        );
    }

    /// `weighted_round_robin` through `n` selections from a fresh counter.
    fn wrr_run(weights: &[u64], n: usize, avail: u64, picks: usize) -> Vec<Option<usize>> {
        let mut index = 0;
        (0..picks)
            .map(|_| {
                let (c, r) = weighted_round_robin(index, weights, n, avail);
                index = r;
                c
            })
            .collect()
    }

    #[test]
    fn weighted_round_robin_matches_caddys_own_test() {
        // selectionpolicies_test.go TestWeightedRoundRobinPolicy (v2.7.6): weights 3 2 1 over
        // three upstreams give 0 0 1 1 2 0; then upstream 0 down gives 1; up again, 0; then
        // upstream 1 full gives 2.
        let w = [3, 2, 1];
        let mut index = 0;
        let mut pick = |avail: u64| {
            let (c, r) = weighted_round_robin(index, &w, 3, avail);
            index = r;
            c
        };
        let first: Vec<Option<usize>> = (0..6).map(|_| pick(0b111)).collect();
        assert_eq!(first, [Some(0), Some(0), Some(1), Some(1), Some(2), Some(0)]);
        assert_eq!(pick(0b110), Some(1));
        assert_eq!(pick(0b111), Some(0));
        assert_eq!(pick(0b101), Some(2));
    }

    #[test]
    fn weighted_round_robin_hand_worked_sequences() {
        // WeightedRoundRobinSelection.Select (v2.7.6): index = 1, 2, ...; current = index % total;
        // slot = first i with current < running sum; pick = available[slot % len(available)],
        // available capped at len(weights).
        // 3 1 (total 4): current 1 2 3 0 1 2 3 0 -> slots 0 0 1 0 0 0 1 0.
        let s: Vec<Option<usize>> = [0, 0, 1, 0, 0, 0, 1, 0].into_iter().map(Some).collect();
        assert_eq!(wrr_run(&[3, 1], 2, 0b11, 8), s);
        // Upstream 0 unavailable: the list is [1], every slot is 1 (its turns move on).
        assert_eq!(wrr_run(&[3, 1], 2, 0b10, 4), [Some(1); 4]);
        // Fewer weights than upstreams (1 1 over three): the list is capped at the first two
        // available, so upstream 2 is chosen only when 0 or 1 is not available.
        // current 1 0 1 0 -> slots 1 0 1 0 -> upstreams 1 0 1 0.
        assert_eq!(wrr_run(&[1, 1], 3, 0b111, 4), [Some(1), Some(0), Some(1), Some(0)]);
        // Upstream 0 unavailable: list [1, 2]; slots 1 0 -> upstreams 2 1.
        assert_eq!(wrr_run(&[1, 1], 3, 0b110, 2), [Some(2), Some(1)]);
        // More weights than upstreams (1 1 1 over two): current 1 2 0 -> slots 1 2 0 ->
        // upstreams 1 % 2 = 1, 2 % 2 = 0, 0.
        assert_eq!(wrr_run(&[1, 1, 1], 2, 0b11, 3), [Some(1), Some(0), Some(0)]);
        // One weight: `return pool[0]` even when it is not available, counter untouched.
        assert_eq!(weighted_round_robin(5, &[4], 3, 0b110), (Some(0), 5));
        // No weights at all (JSON without `weights`) is the same `len(r.Weights) < 2` branch.
        assert_eq!(weighted_round_robin(5, &[], 3, 0b111), (Some(0), 5));
        // None available: nothing, but the counter moved (AddUint32 ran first).
        assert_eq!(weighted_round_robin(5, &[1, 1], 2, 0), (None, 6));
        assert_eq!(weighted_round_robin(5, &[1, 1], 0, 0), (None, 5));
        // The uint32 counter wraps: 2^32 - 1 = 3 x 1431655765, so with 1 2 (total 3) the
        // index 2^32 - 1 gives current 0 (slot 0) and the wrapped index 0 gives 0 again.
        assert_eq!(
            weighted_round_robin(u32::MAX - 1, &[1, 2], 2, 0b11),
            (Some(0), u32::MAX)
        );
        assert_eq!(weighted_round_robin(u32::MAX, &[1, 2], 2, 0b11), (Some(0), 0));
    }

    #[test]
    fn client_ip_hash_matches_caddys_own_test() {
        // selectionpolicies_test.go TestClientIPHashPolicy (v2.7.6), dials 0.0.0.1..3 and
        // client_ip 172.0.0.1..4 (the port, if any, is cut before hashing).
        let d: Vec<String> = ["0.0.0.1", "0.0.0.2", "0.0.0.3"].map(String::from).to_vec();
        for ip in ["172.0.0.1", "172.0.0.2", "172.0.0.3", "172.0.0.4"] {
            assert_eq!(host_by_hashing_v27(ip.as_bytes(), &d, 0b111), Some(1), "{ip}");
        }
        // 2.6.2's key + dial order would answer 0 0 2 1 for .1 .. .4 (FNV-1a 32 of
        // "172.0.0.1" + "0.0.0.N" etc., worked out with the same fnv1a32), so the vector
        // tells the two orders apart.
        assert_eq!(host_by_hashing(b"172.0.0.1", &d, 0b111), Some(0));
        assert_eq!(host_by_hashing(b"172.0.0.3", &d, 0b111), Some(2));
        // Upstream 1 unhealthy: .4 and .2 go to upstream 0.
        assert_eq!(host_by_hashing_v27(b"172.0.0.4", &d, 0b101), Some(0));
        assert_eq!(host_by_hashing_v27(b"172.0.0.2", &d, 0b101), Some(0));
        // Upstream 2 unhealthy: .3 and .4 stay on upstream 1.
        assert_eq!(host_by_hashing_v27(b"172.0.0.3", &d, 0b011), Some(1));
        assert_eq!(host_by_hashing_v27(b"172.0.0.4", &d, 0b011), Some(1));
        // The pool shrunk to 0.0.0.2, 0.0.0.3: every address goes to the first (0.0.0.2).
        let d2: Vec<String> = ["0.0.0.2", "0.0.0.3"].map(String::from).to_vec();
        for ip in ["172.0.0.1", "172.0.0.2", "172.0.0.3", "172.0.0.4"] {
            assert_eq!(host_by_hashing_v27(ip.as_bytes(), &d2, 0b11), Some(0), "{ip}");
        }
        assert_eq!(host_by_hashing_v27(b"172.0.0.4", &d2, 0), None);
        // Issue #4135: nine upstreams without a dial, only the last healthy: it is found.
        let empty = vec![String::new(); 9];
        assert_eq!(host_by_hashing_v27(b"172.0.0.4", &empty, 1 << 8), Some(8));
    }

    #[test]
    fn client_ip_hash_hashes_the_dial_first_through_the_balancer() {
        // The balancer keys client_ip_hash by the client's address with 2.7's dial + key
        // order: the same answers as host_by_hashing_v27 for every client, whatever 2.6's
        // key + dial order (ip_hash) would give.
        let mut s = servers(&[1, 1, 1]);
        for (i, srv) in s.iter_mut().enumerate() {
            srv.addr = format!("0.0.0.{}", i + 1);
        }
        let d: Vec<String> = s.iter().map(|x| x.addr.clone()).collect();
        let conf = CaddyConf {
            policy: LbPolicy::ClientIpHash,
            ..CaddyConf::default()
        };
        let mut b = CaddyBalancer::new(&s, conf);
        let mut peers = PeerState::for_servers(&s);
        let mut r = rng();
        for k in 0..50u8 {
            let ip = format!("10.0.{k}.7");
            let c = client(&ip);
            let got = b.pick_counted(&c, &mut peers, &mut Attempt::default(), SimTime::ZERO, &mut r);
            assert_eq!(got, host_by_hashing_v27(ip.as_bytes(), &d, 0b111), "{ip}");
            if let Some(i) = got {
                b.report_response_counted(i, 200, SimTime::ZERO, &mut peers, SimTime::ZERO);
            }
        }
        // Caddy's vector: 172.0.0.1 -> upstream 1.
        let c = client("172.0.0.1");
        assert_eq!(
            b.pick_counted(&c, &mut peers, &mut Attempt::default(), SimTime::ZERO, &mut r),
            Some(1)
        );
    }

    #[test]
    fn weighted_round_robin_through_the_balancer_skips_a_failed_upstream() {
        // 3 1 over two upstreams with passive checks (fail_duration 10 s, max_fails 1): the
        // counter runs 1.. as in weighted_round_robin_hand_worked_sequences, 0 0 1 0; a failure
        // on upstream 0 at the 4th (t = 3 s) makes the 5th..8th all go to upstream 1 (the
        // list is [1]) until it is forgotten at 3 + 10 = 13 s, when the 9th (index 9, current
        // 1, slot 0) is upstream 0 again.
        let s = servers(&[1, 1]);
        let conf = CaddyConf {
            policy: LbPolicy::WeightedRoundRobin(vec![3, 1]),
            fail_duration: SimTime::from_secs(10),
            max_fails: 1,
            passive: true,
            ..CaddyConf::default()
        };
        let mut rig = Rig::new(&s, conf);
        let c = client("10.0.0.1");
        let got: Vec<Option<usize>> = (0..9u64)
            .map(|k| rig.pick_report(&c, SimTime::from_secs(if k == 8 { 13 } else { k }), k != 3))
            .collect();
        let want: Vec<Option<usize>> = [0, 0, 1, 0, 1, 1, 1, 1, 0].into_iter().map(Some).collect();
        assert_eq!(got, want);
    }
}
