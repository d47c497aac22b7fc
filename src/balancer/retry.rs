//! The retry rules of the balancers imitated: nginx `proxy_next_upstream` (which attempts
//! count against a server, which move on to the next) and HAProxy `retries` / `option
//! redispatch`. [`super::router::Router`] applies them.

use super::{SECOND, ServerConf};
use crate::engine::SimTime;

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
    /// Pass `ok = !peer_failed` to [`Policy::report`](super::Policy::report).
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
    Same {
        /// How long the turn-around timer waits.
        delay: SimTime,
    },
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
}
