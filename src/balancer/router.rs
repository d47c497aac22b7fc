//! The balancer as the simulator sees it: one [`Router`] per run owns the policy, the
//! runtime state of every server (connections, nginx failure state, health-check view), the
//! retry rules of the balancer imitated and its health checks. The simulator asks it where
//! an attempt goes ([`Router::route`]), tells it how the attempt ended
//! ([`Router::after_failure`], [`Router::release`]), and only schedules what it answers.
//!
//! Determinism: the only randomness is the balancer's own stream, drawn by the policy in
//! the order of the calls; every state update happens in the order the loop used to make
//! it, so that outputs stay byte-identical.

use super::health::HealthCheck;
use super::{
    Attempt, AttemptOutcome, BalancerConf, Bookkeeping, CheckedConf, ClientInfo, FailurePolicy, Needs, PeerState,
    Policy, RetryAction, SetCookie, caddy::CaddyConf,
};
use crate::engine::{SimRng, SimTime};

/// Where an attempt of a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Connect to this server (the balancer counted the connection).
    Connect(usize),
    /// No server is available: nginx 502 "no live upstreams", HAProxy 503.
    NoServer,
}

/// What the balancer does after a failed attempt ([`Router::after_failure`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Pick again now (nginx next upstream, HAProxy redispatch).
    PickAgain,
    /// Caddy's `lb_try_interval`: pick again after this wait ([`Router::route`] again).
    PickAfter(SimTime),
    /// HAProxy's turn-around timer: connect to the same server after this delay
    /// ([`Router::reconnect`]).
    SameAfter(SimTime),
    /// Give up: the client gets this answer.
    Fail(Answer),
}

/// The error a client gets when the balancer gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// nginx: the last error or the backend's own 502; HAProxy: a server's 502 passed on.
    Error502,
    /// HAProxy after `retries`.
    Error503,
}

/// The decision after a failed attempt, and whether nginx's passive detection now counts
/// the server as failed (its failures reached `max_fails`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AfterFailure {
    /// nginx noticed the server failing (for the fault's detection time).
    pub detected: bool,
    /// What happens to the request.
    pub retry: Retry,
}

/// One run's balancer: policy, server state, retry rules, health checks.
pub(crate) struct Router<'a> {
    conf: &'a BalancerConf,
    /// Caddy's settings when the algorithm is Caddy's: its retry loop (`tryAgain`) replaces
    /// nginx's tries.
    caddy: Option<&'a CaddyConf>,
    policy: Box<dyn Policy>,
    peers: Vec<PeerState>,
    /// What the policy reads from a request besides the address.
    needs: Needs,
    /// nginx: tries per request (`ngx_http_upstream_tries`, capped by
    /// `proxy_next_upstream_tries`); HAProxy counts failures instead.
    max_attempts: u32,
    /// Per server: HAProxy's health checks of it, when configured.
    health: Vec<Option<HealthCheck>>,
    rng: SimRng,
}

impl<'a> Router<'a> {
    /// A fresh balancer for `conf`, drawing from `rng`.
    pub(crate) fn new(conf: &'a CheckedConf, rng: SimRng) -> Self {
        let policy = conf.policy();
        let conf = conf.conf();
        Router {
            conf,
            caddy: conf.method.downcast_ref::<CaddyConf>(),
            needs: policy.needs(),
            policy,
            peers: PeerState::for_servers(&conf.servers),
            max_attempts: match conf.failure {
                FailurePolicy::Nginx(nu) => nu.max_attempts(&conf.servers),
                FailurePolicy::Haproxy(_) => 1,
            },
            health: vec![None; conf.servers.len()],
            rng,
        }
    }

    /// What the policy reads from a request besides the address.
    #[inline]
    pub(crate) fn needs(&self) -> Needs {
        self.needs
    }

    /// The balancer's description (servers in config order).
    #[inline]
    pub(crate) fn conf(&self) -> &'a BalancerConf {
        self.conf
    }

    /// Starts HAProxy's health checks (`start_checks`): the first checks of the servers are
    /// spread over one interval by position. Returns each checked server with the time of its
    /// first check.
    pub(crate) fn start_checks(&mut self) -> Vec<(usize, SimTime)> {
        let servers = &self.conf.servers;
        let checked = servers.iter().filter(|s| s.check.is_some()).count();
        let mut pos = 0;
        let mut first_checks = Vec::with_capacity(checked);
        for (b, s) in servers.iter().enumerate() {
            if let Some(c) = s.check {
                let first = HealthCheck::first_check_offset(c.inter, pos, checked);
                pos += 1;
                self.health[b] = Some(HealthCheck::new(c, first));
                first_checks.push((b, first));
            }
        }
        first_checks
    }

    /// A health check (a TCP connect) of server `b` completed; `ok` when it accepted the
    /// connection. Returns whether the check changed the server's state (`Some(up)`) and the
    /// time of its next check; `None` when `b` is not checked.
    pub(crate) fn health_check(&mut self, b: usize, ok: bool, now: SimTime) -> Option<(Option<bool>, SimTime)> {
        let h = self.health.get_mut(b)?.as_mut()?;
        let change = h.record(ok, now);
        let next = h.next_check();
        if let Some(up) = change {
            self.policy.set_up_counted(b, up, &mut self.peers);
        }
        Some((change, next))
    }

    /// Takes server `b` out of the balancer (`up = false`: a drain) or puts it back.
    pub(crate) fn set_server_up(&mut self, b: usize, up: bool) {
        self.policy.set_up_counted(b, up, &mut self.peers);
    }

    /// Where the next attempt of a request goes. `attempt` carries the request's state
    /// across attempts.
    #[inline]
    pub(crate) fn route(&mut self, client: &ClientInfo<'_>, attempt: &mut Attempt, now: SimTime) -> Route {
        match self
            .policy
            .pick_counted(client, &mut self.peers, attempt, now, &mut self.rng)
        {
            Some(b) => Route::Connect(b),
            None => Route::NoServer,
        }
    }

    /// HAProxy's turn-around timer ran out: the same server `b` gets the connection again,
    /// without a new pick.
    pub(crate) fn reconnect(&mut self, b: usize) {
        self.policy.connect_counted(b, &mut self.peers);
    }

    /// An attempt on `b` ended: `ok = false` when it counts as a failure of the server.
    #[inline]
    pub(crate) fn release(&mut self, b: usize, ok: bool, now: SimTime) {
        self.policy.report_counted(b, ok, &mut self.peers, now);
    }

    /// An attempt on `b` ended with a response of the server: its `status`, `latency` from the
    /// connection to the response's headers (Caddy's passive health checks read both).
    #[inline]
    pub(crate) fn release_response(&mut self, b: usize, status: u16, latency: SimTime, now: SimTime) {
        self.policy
            .report_response_counted(b, status, latency, &mut self.peers, now);
    }

    /// No server was available for a request that came in `elapsed` ago: Caddy's `tryAgain`
    /// may select again (`Some(wait)`); every other balancer gives up at once (`None`).
    pub(crate) fn no_server(&self, attempt: &Attempt, elapsed: SimTime) -> Option<SimTime> {
        self.caddy.and_then(|c| c.try_again(attempt.tries, elapsed))
    }

    /// The `Set-Cookie` the response of an attempt on `b` sends (HAProxy cookie insert).
    pub(crate) fn response_cookie(&self, b: usize, attempt: &Attempt) -> SetCookie<'_> {
        self.policy.response_cookie(b, attempt)
    }

    /// An attempt of a request on `b` failed with `outcome`; `failures` counts the request's
    /// failed attempts including this one, `elapsed` the time since the request came in.
    /// Releases the attempt and decides as the balancer would: retry, redispatch or give up.
    pub(crate) fn after_failure(
        &mut self,
        b: usize,
        outcome: AttemptOutcome,
        failures: u32,
        attempt: &Attempt,
        elapsed: SimTime,
        now: SimTime,
    ) -> AfterFailure {
        match self.conf.failure {
            FailurePolicy::Nginx(nu) => {
                let v = nu.verdict(outcome);
                match outcome {
                    // The server's own error page (502 of a web server whose application is
                    // down): a response, answered at once.
                    AttemptOutcome::Response(status) if !v.peer_failed => {
                        self.release_response(b, status, SimTime::ZERO, now);
                    }
                    _ => self.release(b, !v.peer_failed, now),
                }
                let detected = self.nginx_detected(b);
                let again = match self.caddy {
                    Some(c) if v.next => c.try_again(attempt.tries, elapsed),
                    Some(_) => None,
                    None => (v.next && attempt.count < self.max_attempts).then_some(SimTime::ZERO),
                };
                let retry = match again {
                    Some(SimTime::ZERO) => Retry::PickAgain,
                    Some(wait) => Retry::PickAfter(wait),
                    None => Retry::Fail(Answer::Error502),
                };
                AfterFailure { detected, retry }
            }
            FailurePolicy::Haproxy(h) => {
                let refused = outcome == AttemptOutcome::ConnectError;
                match outcome {
                    AttemptOutcome::Response(status) => self.release_response(b, status, SimTime::ZERO, now),
                    _ => self.release(b, !refused, now),
                }
                if !refused {
                    // A 502 from the server is a response: HAProxy passes it on.
                    return AfterFailure {
                        detected: false,
                        retry: Retry::Fail(Answer::Error502),
                    };
                }
                let active = self
                    .conf
                    .servers
                    .iter()
                    .zip(&self.peers)
                    .filter(|(s, p)| !s.backup && !s.down && p.up)
                    .count() as u32;
                let known_down = !self.peers[b].up;
                let action = h.after_failure(
                    failures,
                    attempt.direct,
                    known_down,
                    active,
                    self.conf.haproxy_redispatch_every_retry(),
                );
                let retry = match action {
                    RetryAction::Same { delay } => Retry::SameAfter(delay),
                    RetryAction::Redispatch => Retry::PickAgain,
                    RetryAction::GiveUp => Retry::Fail(Answer::Error503),
                };
                AfterFailure { detected: false, retry }
            }
        }
    }

    /// nginx notices a failed server when its failures reach `max_fails`.
    pub(crate) fn nginx_detected(&self, b: usize) -> bool {
        if let FailurePolicy::Nginx(_) = self.conf.failure {
            let max = self.conf.servers.get(b).map_or(0, |s| s.max_fails);
            max > 0 && self.policy.fails(b) >= max
        } else {
            false
        }
    }

    /// Every pick was released: the connection counts are back to 0.
    pub(crate) fn all_released(&self) -> bool {
        self.peers.iter().all(|p| p.conns == 0)
    }
}
