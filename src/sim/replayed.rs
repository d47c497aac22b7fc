//! A replayed log's requests (`Ev::Replay`): one request is read ahead and arrives at its
//! time; a user (an inferred log session) is created at its first request and leaves when the
//! log says its session is over and its last request has ended. The log itself, and what it
//! says about each request in flight, is `workload::replay::feed::Feed`.

use super::{Ev, Kind, Req, Sim, User};
use crate::engine::SimTime;
use crate::workload::replay::feed::Feed;

impl Sim<'_> {
    /// Reads the next request of the log and schedules its arrival; at the end of the log, or
    /// on an error (which the run's report carries), arrivals stop.
    pub(super) fn read_ahead(&mut self) {
        let Some(feed) = &mut self.workload.replay else { return };
        if let Some(at) = feed.read_ahead()
            && at < self.scenario.duration
        {
            self.queue.push(at, Ev::Replay);
        }
        // Users whose log session ended leave once their last request is over.
        for slot in feed.take_ended() {
            let user = &mut self.users[slot as usize];
            user.ended = true;
            if user.in_flight == 0 {
                self.leave(slot);
            }
        }
    }

    /// A request of the log arrives: its user (created at its session's first request) sends
    /// it at once, whatever else the user has in flight (a log is an open stream).
    pub(super) fn replayed_request(&mut self, now: SimTime) {
        if !self.open {
            return;
        }
        let Some(feed) = &mut self.workload.replay else { return };
        let Some(mut next) = feed.take_next() else { return };
        let login_on = feed.login();
        let slot = match feed.slot_of(next.user) {
            Some(s) => s,
            None => {
                let profile =
                    self.workload
                        .population
                        .replay_user(&self.system.workload, next.user, next.addr, login_on);
                self.metrics.user_arrived(now);
                let slot = self.users.insert(User {
                    profile,
                    in_flight: 0,
                    remaining: 0,
                    next_index: 1,
                    needs_login: login_on,
                    logins: 0,
                    session: None,
                    server_cookie: None,
                    session_node: None,
                    addr: next.addr,
                    login_pending: false,
                    ended: false,
                    count_logout: self.metrics.measured(now),
                    fault_mark: 0,
                }) as u32;
                if let Some(feed) = &mut self.workload.replay {
                    feed.add_user(next.user, slot);
                }
                slot
            }
        };
        let user = &mut self.users[slot as usize];
        // With login, a request of a user without a session logs in, unless a login is already
        // in flight: then the client has no session cookie yet and the request goes without.
        let kind = if !login_on {
            Kind::Anonymous
        } else if user.session.is_some() {
            Kind::Session
        } else if user.login_pending {
            Kind::Anonymous
        } else {
            user.login_pending = true;
            if user.logins == 0 { Kind::Login } else { Kind::Relogin }
        };
        user.in_flight += 1;
        let req = self.new_request(slot, kind, Feed::index(&next), now);
        let keep_path = self.router.needs().uri;
        if let Some(feed) = &mut self.workload.replay {
            feed.record(req, &mut next, keep_path);
        }
        self.route(req, now);
        self.read_ahead();
    }

    /// Replay folds the re-login into the request that lost its session: the log has no extra
    /// request for it, and the user's next logged request must find the new session where this
    /// one created it. A request that took the lost session's lock (a locking store whose lock
    /// key outlived the data) re-logs in too; `app_done` releases that lock first.
    pub(super) fn replayed_relogin(&mut self, req: u32) {
        let r = &mut self.requests[req as usize];
        if r.kind == Kind::Session && r.progress.lost.is_some() {
            r.kind = Kind::Relogin;
            if self.metrics.measured(r.arrival) {
                self.metrics.relogins += 1;
            }
        }
    }

    /// A replayed request ended: the user leaves when its log session is over (or arrivals
    /// have stopped) and nothing of it is in flight. A failed login lets the next request log
    /// in again.
    pub(super) fn replayed_request_ended(&mut self, r: &Req) {
        let open = self.open;
        let user = &mut self.users[r.user as usize];
        user.in_flight = user.in_flight.saturating_sub(1);
        if matches!(r.kind, Kind::Login | Kind::Relogin) && user.session.is_none() {
            user.login_pending = false;
        }
        if user.in_flight == 0 && (user.ended || !open) {
            let id = user.profile.id;
            if let Some(feed) = &mut self.workload.replay {
                feed.remove_user(id);
            }
            self.leave(r.user);
        }
    }
}
