//! Inferring users from a log, in one pass with memory bounded by the users active at once.
//!
//! A user is identified by its client id (a session cookie, a CSV `client_id`) when the line
//! has one, else by its address and user agent. A user's session ends after `gap` without a
//! request (30 minutes by default, the usual web-analytics convention): the next request starts
//! a new session, i.e. a new simulated user who must log in. Idle users are forgotten through a
//! time-ordered queue, so the table holds only users seen within the last `gap`.

use super::LogRecord;
use crate::engine::rng;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// What the sessionizer says about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visit {
    /// A stable number for this user session (0, 1, 2, ... in order of first request).
    pub user: u64,
    /// Whether this request starts the session (the user has to log in).
    pub first: bool,
}

/// Groups a log's requests into user sessions: by client identity, a session ending after
/// a gap without requests.
pub struct Sessionizer {
    gap_ns: i64,
    /// Identity hash -> (user number, last request time).
    active: FxHashMap<u64, (u64, i64)>,
    /// (last request time, identity) in time order; stale entries are skipped lazily.
    idle: VecDeque<(i64, u64)>,
    next_user: u64,
    /// Users forgotten (idle longer than the gap) since the caller last drained this: their
    /// session in the log is over.
    pub ended: Vec<u64>,
}

impl Sessionizer {
    /// A sessionizer ending a session after `gap_ns` without requests.
    pub fn new(gap_ns: i64) -> Self {
        Sessionizer {
            gap_ns,
            active: FxHashMap::default(),
            idle: VecDeque::new(),
            next_user: 0,
            ended: Vec::new(),
        }
    }

    /// The identity of a line's client: its id, or its address and user agent.
    pub fn identity(r: &LogRecord) -> u64 {
        let text_hash = |s: &str| {
            s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            })
        };
        match &r.client_id {
            Some(id) => rng::key(&[1, text_hash(id)]),
            None => {
                let addr = match r.client_ip {
                    std::net::IpAddr::V4(a) => u32::from(a) as u128,
                    std::net::IpAddr::V6(a) => u128::from(a),
                };
                let ua = r.user_agent.as_deref().map_or(0, text_hash);
                rng::key(&[2, addr as u64, (addr >> 64) as u64, ua])
            }
        }
    }

    /// Assigns the request at `time_ns` from client `identity` to a user session. Times must
    /// not decrease (the caller clamps them).
    pub fn visit(&mut self, identity: u64, time_ns: i64) -> Visit {
        // Forget users idle longer than the gap.
        while let Some(&(t, id)) = self.idle.front() {
            if time_ns - t <= self.gap_ns {
                break;
            }
            self.idle.pop_front();
            if self.active.get(&id).is_some_and(|&(_, last)| last == t)
                && let Some((user, _)) = self.active.remove(&id)
            {
                self.ended.push(user);
            }
        }
        let v = match self.active.get_mut(&identity) {
            Some((user, last)) => {
                *last = time_ns;
                Visit {
                    user: *user,
                    first: false,
                }
            }
            None => {
                let user = self.next_user;
                self.next_user += 1;
                self.active.insert(identity, (user, time_ns));
                Visit { user, first: true }
            }
        };
        self.idle.push_back((time_ns, identity));
        // Lazy deletion leaves stale queue entries; compact when they dominate so that memory
        // stays proportional to the active users.
        if self.idle.len() > 64 && self.idle.len() > 4 * self.active.len() {
            let active = &self.active;
            self.idle
                .retain(|&(t, id)| active.get(&id).is_some_and(|&(_, last)| last == t));
        }
        v
    }

    /// Users seen within the last gap.
    pub fn active(&self) -> usize {
        self.active.len()
    }

    /// Sessions started so far.
    pub fn sessions(&self) -> u64 {
        self.next_user
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn a_gap_starts_a_new_session() {
        let mut s = Sessionizer::new(1800 * S);
        assert_eq!(s.visit(7, 0), Visit { user: 0, first: true });
        assert_eq!(s.visit(8, 10 * S), Visit { user: 1, first: true });
        assert_eq!(s.visit(7, 1000 * S), Visit { user: 0, first: false });
        // 1800 s after 1000 s is still the same session; one nanosecond more is not.
        assert_eq!(s.visit(7, 2800 * S), Visit { user: 0, first: false });
        assert_eq!(s.visit(7, 4600 * S + 1), Visit { user: 2, first: true });
        assert_eq!(s.sessions(), 3);
    }

    #[test]
    fn memory_follows_active_users_not_requests() {
        let mut s = Sessionizer::new(60 * S);
        // 200k requests from 1M distinct clients over time, at most ~100 active at once.
        for i in 0..200_000i64 {
            s.visit(i as u64 % 1_000_000 + (i / 100) as u64 * 7, i * S / 2);
            assert!(s.active() <= 200, "active {} at request {i}", s.active());
            assert!(s.idle.len() <= 4 * s.active().max(64) + 1);
        }
    }

    #[test]
    fn identity_prefers_the_client_id() {
        let mut r = LogRecord {
            line: 1,
            time_ns: 0,
            subsecond: false,
            client_ip: [10, 0, 0, 1].into(),
            client_id: None,
            user_agent: Some("a".into()),
            path: None,
            bytes: None,
            service_time: None,
            upstream: None,
        };
        let by_addr = Sessionizer::identity(&r);
        r.user_agent = Some("b".into());
        assert_ne!(
            Sessionizer::identity(&r),
            by_addr,
            "another browser behind the same address"
        );
        r.client_id = Some("sid".into());
        let with_id = Sessionizer::identity(&r);
        r.client_ip = [10, 9, 9, 9].into();
        assert_eq!(
            Sessionizer::identity(&r),
            with_id,
            "the id follows the user across addresses"
        );
    }
}
