//! HAProxy active health checks: when a server is marked down and up again.
//!
//! Sources: haproxy/haproxy `src/check.c` `set_server_check_status` (the `health`
//! counter: a failure decrements it and drops it to 0 once below `rise`; a success
//! increments it and jumps to `rise + fall - 1` once it reaches `rise`; the server is
//! down at 0 and up again at `rise`), `srv_getinter` (`inter` when fully up,
//! `downinter` when down, `fastinter` in between, each defaulting to `inter`),
//! `start_checks` (the first checks of a proxy's servers are spread over one interval
//! by position), and `src/server.c` (`health = rise` at start: a server starts up, but
//! "will fall down at first failure" until a first check passes).
//!
//! The driver (the simulator) asks [`HealthCheck::next_check`], decides the result from
//! the backend's true state, calls [`HealthCheck::record`], and on a transition calls
//! [`Policy::set_server_up`](super::Policy::set_server_up).
//! Simplification: a check's own duration (connect, `timeout check`) is the driver's
//! business: it records the result when the check completes.

use super::{CheckConf, SimTime};

/// The health-check state of one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    conf: CheckConf,
    health: u32,
    up: bool,
    next: SimTime,
}

impl HealthCheck {
    /// A server as HAProxy starts it: up, with `health = rise`; first check at
    /// `first_check`.
    pub fn new(conf: CheckConf, first_check: SimTime) -> Self {
        HealthCheck {
            conf,
            health: conf.rise,
            up: true,
            next: first_check,
        }
    }

    /// `start_checks`: the first check of the `pos`-th of `n` checked servers is
    /// delayed by `inter * pos / n` so that checks are spread over one interval.
    pub fn first_check_offset(inter: SimTime, pos: usize, n: usize) -> SimTime {
        if n == 0 {
            return SimTime::ZERO;
        }
        let (pos, n) = (pos as u128, n as u128);
        SimTime(u64::try_from(u128::from(inter.as_nanos()) * pos / n).unwrap_or(inter.as_nanos()))
    }

    /// Whether checks consider the server up.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// The `health` counter (0 ..= rise + fall - 1).
    pub fn health(&self) -> u32 {
        self.health
    }

    /// When the next check is due.
    pub fn next_check(&self) -> SimTime {
        self.next
    }

    /// `srv_getinter`.
    fn interval(&self) -> SimTime {
        let full = self.conf.rise.max(1).saturating_add(self.conf.fall.max(1) - 1);
        if self.health == full {
            self.conf.inter
        } else if !self.up && self.health == 0 {
            self.conf.downinter
        } else {
            self.conf.fastinter
        }
    }

    /// Record a check result completed at `now`; schedules the next check and returns
    /// `Some(up)` when the server changes state.
    pub fn record(&mut self, ok: bool, now: SimTime) -> Option<bool> {
        let rise = self.conf.rise.max(1);
        let full = rise.saturating_add(self.conf.fall.max(1) - 1);
        if ok {
            if self.health < full {
                self.health += 1;
                if self.health >= rise {
                    self.health = full;
                }
            }
        } else if self.health > 0 {
            self.health -= 1;
            if self.health < rise {
                self.health = 0;
            }
        }
        let before = self.up;
        if self.health == 0 {
            self.up = false;
        } else if self.health >= rise {
            self.up = true;
        }
        self.next = now + self.interval();
        (before != self.up).then_some(self.up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fall_3_rise_2() {
        let mut h = HealthCheck::new(CheckConf::default(), SimTime::ZERO);
        // First check passes: health jumps to rise + fall - 1 = 4.
        assert_eq!(h.record(true, SimTime::ZERO), None);
        assert_eq!(h.health(), 4);
        assert_eq!(h.next_check(), SimTime::from_secs(2));
        // Three failures: 3, 2 (still up), then 1 < rise -> 0: down at the third.
        assert_eq!(h.record(false, SimTime::from_secs(2)), None);
        assert_eq!(h.record(false, SimTime::from_secs(4)), None);
        assert_eq!(h.record(false, SimTime::from_secs(6)), Some(false));
        // Two successes bring it back: 1, then 2 >= rise -> up.
        assert_eq!(h.record(true, SimTime::from_secs(8)), None);
        assert_eq!(h.record(true, SimTime::from_secs(10)), Some(true));
        assert_eq!(h.health(), 4);
    }

    #[test]
    fn falls_at_first_failure_before_any_success() {
        // health starts at rise: one failure -> below rise -> 0.
        let mut h = HealthCheck::new(CheckConf::default(), SimTime::ZERO);
        assert_eq!(h.record(false, SimTime::ZERO), Some(false));
    }

    #[test]
    fn intervals_follow_state() {
        let conf = CheckConf {
            inter: SimTime::from_secs(2),
            fastinter: SimTime::from_millis(500),
            downinter: SimTime::from_secs(5),
            rise: 2,
            fall: 3,
        };
        let mut h = HealthCheck::new(conf, SimTime::ZERO);
        h.record(true, SimTime::ZERO);
        assert_eq!(h.next_check(), SimTime::from_secs(2));
        h.record(false, SimTime::from_secs(10));
        assert_eq!(h.next_check(), SimTime::from_millis(10_500));
        h.record(false, SimTime::from_secs(11));
        h.record(false, SimTime::from_secs(12));
        assert!(!h.is_up());
        assert_eq!(h.next_check(), SimTime::from_secs(17));
        assert_eq!(
            HealthCheck::first_check_offset(SimTime::from_secs(2), 1, 4),
            SimTime::from_millis(500)
        );
    }
}
