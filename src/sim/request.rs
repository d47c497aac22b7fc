//! The life of a request: a user arrives and sends a page, the balancer routes each request,
//! the backend admits or queues it, a worker reads the session, the application serves it, the
//! session is written back, the response goes out, and the user thinks before its next page.

use super::trace::{Outcome, TraceRow};
use super::{Ev, Kind, Liveness, Phase, Req, Sim, User};
use crate::backend::Admit;
use crate::balancer::client::{self, ClientText, Uri};
use crate::balancer::router::{Answer, Retry, Route};
use crate::balancer::{Attempt, AttemptOutcome, SetCookie};
use crate::engine::SimTime;
use crate::engine::rng;
use crate::store::{self, Access, Progress, Step};
use crate::workload::RELOGIN_INDEX;
use crate::workload::replay::feed::Feed;
use std::net::IpAddr;

impl Sim<'_> {
    /// Arrive: the next modelled user comes and sends its first page.
    pub(super) fn user_arrives(&mut self, now: SimTime) {
        if !self.open {
            return;
        }
        let profile = self
            .workload
            .population
            .user(&self.system.workload, self.workload.next_user);
        self.workload.next_user += 1;
        if let Some(t) = self.workload.arrivals.next_arrival() {
            self.queue.push(t, Ev::NextUser);
        }
        self.metrics.user_arrived(now);
        let mut user = User {
            profile,
            in_flight: 0,
            remaining: profile.requests,
            next_index: 1,
            needs_login: profile.login,
            logins: 0,
            session: None,
            server_cookie: None,
            session_node: None,
            addr: IpAddr::V4(profile.addr),
            login_pending: false,
            ended: false,
            count_logout: self.metrics.measured(now),
            fault_mark: 0,
        };
        if !profile.login {
            if user.remaining == 0 {
                return;
            }
            user.remaining -= 1;
        }
        let slot = self.users.insert(user) as u32;
        self.send(slot, now);
    }

    /// The user sends its next page: a login if it needs one, else its next planned page, as
    /// one request or `parallel` requests at once.
    pub(super) fn send(&mut self, slot: u32, now: SimTime) {
        if !self.open {
            self.leave(slot);
            return;
        }
        let user = &self.users[slot as usize];
        if let Some(sid) = user.session {
            // Its read comes after routing and admission: start loading the session's entry.
            self.store.prefetch(sid);
        }
        let (kind, index) = if user.needs_login {
            if user.logins == 0 {
                (Kind::Login, 0)
            } else {
                (Kind::Relogin, RELOGIN_INDEX + user.logins as u64)
            }
        } else {
            let k = if user.profile.login {
                Kind::Session
            } else {
                Kind::Anonymous
            };
            (k, (user.next_index - 1) as u64 + 1)
        };
        let class = user.profile.class as usize;
        let n = if matches!(kind, Kind::Session | Kind::Anonymous) {
            self.users[slot as usize].next_index += 1;
            self.workload.parallel[class]
        } else {
            1
        };
        self.users[slot as usize].in_flight = n;
        // The page's first request keeps the page's index (so `parallel = 1` draws exactly as
        // before); the others get indices of their own above 2^48.
        self.send_one(slot, kind, index, now);
        for i in 1..n {
            self.send_one(slot, kind, index | ((i as u64) << 48), now);
        }
    }

    /// One request of a page: the balancer routes it.
    fn send_one(&mut self, slot: u32, kind: Kind, index: u64, now: SimTime) {
        let req = self.new_request(slot, kind, index, now);
        self.route(req, now);
    }

    /// A request arrives at the balancer.
    #[inline]
    pub(super) fn new_request(&mut self, slot: u32, kind: Kind, index: u64, now: SimTime) -> u32 {
        self.metrics.request_arrived(now, kind == Kind::Relogin);
        self.requests.insert(Req {
            user: slot,
            arrival: now,
            backend: u32::MAX,
            worker: 0,
            kind,
            index,
            attempt: Attempt::default(),
            failures: 0,
            phase: Phase::Read,
            progress: Progress::default(),
            on_backend: false,
            admitted: now,
            started: now,
            dead: false,
        }) as u32
    }

    /// Route: asks the balancer for a server and tries it, again and again as the balancer's
    /// retry rules say, until the request is served, queued, answered with an error or waiting
    /// for HAProxy's turn-around timer.
    pub(super) fn route(&mut self, req: u32, now: SimTime) {
        loop {
            let request = &self.requests[req as usize];
            let user = &self.users[request.user as usize];
            let needs = self.router.needs();
            let uri = if !needs.uri {
                None
            } else if let Some(feed) = &self.workload.replay {
                Some(Uri::Path(feed.path(req)))
            } else {
                let page = self
                    .workload
                    .population
                    .page(&self.system.workload, user.profile.key, request.index);
                Some(Uri::Page(page))
            };
            let mut text = ClientText::new();
            let client = text.render(
                needs,
                &self.router.conf().servers,
                client::Request {
                    addr: user.addr,
                    session: user.session,
                    accepts_cookies: user.profile.accepts_cookies,
                    session_node: user.session_node,
                    server_cookie: user.server_cookie,
                    uri,
                },
            );
            let attempt = &mut self.requests[req as usize].attempt;
            match self.router.route(&client, attempt, now) {
                Route::Connect(b) => {
                    if self.connect(req, b, now) {
                        return;
                    }
                }
                Route::NoServer => {
                    // Caddy's `tryAgain` may select again, at once or after lb_try_interval.
                    let r = &self.requests[req as usize];
                    if let Some(wait) = self.router.no_server(&r.attempt, now - r.arrival) {
                        self.metrics.retried(r.arrival);
                        if wait == SimTime::ZERO {
                            continue;
                        }
                        self.queue.push(now + wait, Ev::Reroute { req });
                        return;
                    }
                    // nginx: 502 "no live upstreams"; HAProxy: 503 "no server available".
                    let r = self.requests.remove(req as usize);
                    self.metrics.no_server(r.arrival);
                    self.request_over(req, &r, Outcome::NoServer, now);
                    return;
                }
            }
        }
    }

    /// HAProxy's turn-around timer ran out: the connection is retried on the same server.
    pub(super) fn retry_same_server(&mut self, req: u32, now: SimTime) {
        let b = self.requests[req as usize].backend as usize;
        self.router.reconnect(b);
        if !self.connect(req, b, now) {
            self.route(req, now);
        }
    }

    /// Queue: one attempt of request `req` on backend `b`, which the balancer has counted as a
    /// connection. Returns `false` when the balancer must pick again now.
    fn connect(&mut self, req: u32, b: usize, now: SimTime) -> bool {
        let r = &mut self.requests[req as usize];
        r.backend = b as u32;
        let arrival = r.arrival;
        match self.cluster.liveness[b] {
            Liveness::Up => {}
            Liveness::Dead => {
                // Connection refused.
                self.metrics.failed_attempt(b, arrival);
                return self.after_failure(req, b, AttemptOutcome::ConnectError, now);
            }
            Liveness::AppDown => {
                // The web server answers 502 itself.
                self.set_cookie(req, b);
                self.metrics.failed_attempt(b, arrival);
                return self.after_failure(req, b, AttemptOutcome::Response(502), now);
            }
        }
        self.set_cookie(req, b);
        self.metrics.routed(b, arrival);
        match self.cluster.backends[b].admit(req, now) {
            Admit::Start => {
                let r = &mut self.requests[req as usize];
                r.on_backend = true;
                r.admitted = now;
                if self.cluster.track_workers {
                    r.worker = self.cluster.free_workers[b].pop().unwrap_or(0);
                }
                self.start_service(req, now)
            }
            Admit::Queued => {
                let r = &mut self.requests[req as usize];
                r.on_backend = true;
                r.admitted = now;
            }
            Admit::Rejected => {
                // The backend answers 503 itself at once: a response, not a failure of the peer
                // (but Caddy's `unhealthy_status` may count it).
                self.router.release_response(b, 503, SimTime::ZERO, now);
                let r = self.requests.remove(req as usize);
                self.metrics.rejected(b, r.arrival);
                self.request_over(req, &r, Outcome::Rejected, now);
            }
        }
        true
    }

    /// The client keeps the `Set-Cookie` of a response (HAProxy cookie insert), unless it
    /// refuses cookies.
    fn set_cookie(&mut self, req: u32, b: usize) {
        if !self.router.needs().server_cookie {
            return;
        }
        let r = &self.requests[req as usize];
        let user = &mut self.users[r.user as usize];
        if !user.profile.accepts_cookies {
            return;
        }
        match self.router.response_cookie(b, &r.attempt) {
            SetCookie::Keep => {}
            SetCookie::Set { .. } => user.server_cookie = u8::try_from(b).ok(),
            SetCookie::Clear { .. } => user.server_cookie = None,
        }
    }

    /// A failed attempt on `b`: the balancer decides; retry, redispatch or give up as it
    /// says. Returns `false` when the balancer must pick again now.
    fn after_failure(&mut self, req: u32, b: usize, outcome: AttemptOutcome, now: SimTime) -> bool {
        let r = &mut self.requests[req as usize];
        r.failures += 1;
        let arrival = r.arrival;
        let decision = self
            .router
            .after_failure(b, outcome, r.failures, &r.attempt, now - arrival, now);
        if decision.detected {
            self.note_nginx_detection(b, now);
        }
        match decision.retry {
            Retry::PickAgain => {
                self.metrics.retried(arrival);
                false
            }
            Retry::PickAfter(wait) => {
                self.metrics.retried(arrival);
                self.queue.push(now + wait, Ev::Reroute { req });
                true
            }
            Retry::SameAfter(delay) => {
                self.metrics.retried(arrival);
                self.queue.push(now + delay, Ev::Retry { req });
                true
            }
            Retry::Fail(answer) => {
                let r = self.requests.remove(req as usize);
                let outcome = match answer {
                    Answer::Error502 => {
                        self.metrics.error_502(b, arrival);
                        Outcome::Error502
                    }
                    Answer::Error503 => {
                        self.metrics.error_503(b, arrival);
                        Outcome::Error503
                    }
                };
                self.request_over(req, &r, outcome, now);
                true
            }
        }
    }

    /// What the store is told about request `req`.
    #[inline]
    fn access(&self, req: u32) -> Access {
        let r = &self.requests[req as usize];
        let user = &self.users[r.user as usize];
        let b = r.backend as usize;
        Access {
            req,
            sid: user.session.unwrap_or(0),
            backend: r.backend,
            conn: self.cluster.worker_base[b] + r.worker,
            user_key: user.profile.key,
            index: r.index,
            bytes: user.profile.session_bytes,
            cookies: user.profile.accepts_cookies,
            modified: rng::item_below(self.workload.writes_key ^ user.profile.key, r.index, 1 << 20)
                < self.workload.modify_below[user.profile.class as usize],
            measured: self.metrics.measured(r.arrival),
        }
    }

    /// A worker takes the request: a request of a logged-in user first reads its session.
    fn start_service(&mut self, req: u32, now: SimTime) {
        self.requests[req as usize].started = now;
        if self.requests[req as usize].kind == Kind::Session {
            let r = &mut self.requests[req as usize];
            r.phase = Phase::Read;
            r.progress = Progress::default();
            self.session_read(req, now);
        } else {
            self.start_app(req, now);
        }
    }

    /// Session read: the store finds the session, or says why it is lost.
    pub(super) fn session_read(&mut self, req: u32, now: SimTime) {
        let access = self.access(req);
        let holds_session = self.users[self.requests[req as usize].user as usize].session.is_some();
        let mut progress = self.requests[req as usize].progress;
        let step = store::read_session(self.store.as_mut(), holds_session, &access, &mut progress, now);
        self.requests[req as usize].progress = progress;
        match step {
            Step::Ready => {
                let r = &self.requests[req as usize];
                let lost = r.progress.lost;
                self.metrics.session_lookup(r.backend as usize, r.arrival, lost);
                if lost.is_none() && self.store.rebinds_route() {
                    // JvmRouteBinderValve: the session id now carries this node's route.
                    let b = u8::try_from(r.backend).ok();
                    self.users[r.user as usize].session_node = b;
                }
                if lost.is_some() {
                    // The application answers with its login page; the user must log in again.
                    let user = &mut self.users[r.user as usize];
                    user.needs_login = true;
                    let first = std::mem::replace(&mut user.count_logout, false);
                    let faults = self.metrics.faults_started();
                    let in_fault = faults > 0 && user.fault_mark < faults;
                    if in_fault {
                        user.fault_mark = faults;
                    }
                    self.metrics.user_logged_out(first, in_fault);
                }
                self.start_app(req, now);
            }
            Step::Wait(t) => self.queue.push(t, Ev::Store { req }),
            Step::Blocked => {}
        }
    }

    /// Service: the application serves the request, for the log's time or the model's.
    fn start_app(&mut self, req: u32, now: SimTime) {
        let r = &self.requests[req as usize];
        let b = r.backend as usize;
        let user = &self.users[r.user as usize];
        let logged = self.workload.replay.as_ref().and_then(|feed| feed.service_time(req));
        let service = match logged {
            Some(t) => t,
            None => {
                let mut draws = self.workload.population.service_rng(user.profile.key, r.index);
                SimTime::from_secs_f64(self.system.backends[b].service_time.sample(&mut draws))
            }
        };
        // A `slow` fault stretches the service, whether it came from the log or the model.
        let slow = self.outages.slow[b];
        let service = if slow == 1.0 {
            service
        } else {
            SimTime::from_secs_f64(service.as_secs_f64() * slow)
        };
        let sid = user.session.unwrap_or(0);
        self.queue.push(now + service, Ev::Done { req, sid });
    }

    /// The application is done: a login creates the session, a session request writes it back.
    pub(super) fn app_done(&mut self, req: u32, now: SimTime) {
        if self.workload.replay.is_some() {
            self.replayed_relogin(req);
        }
        let r = &mut self.requests[req as usize];
        if r.kind == Kind::Relogin && r.progress.locked {
            // The request holds the lock of the session it lost (replay folds the re-login
            // into it): delete that lock before the user switches to the new session, as
            // `session_regenerate_id` closes the old session before it opens the new one.
            r.phase = Phase::Release;
            r.progress = r.progress.for_write();
            return self.release_lost(req, now);
        }
        self.create_or_write(req, now);
    }

    /// Phase [`Phase::Release`]: the lock of the lost session is deleted (the store's write
    /// phase of a request that found nothing: only the unlock); then the login goes on.
    pub(super) fn release_lost(&mut self, req: u32, now: SimTime) {
        let access = self.access(req);
        let mut progress = self.requests[req as usize].progress;
        let step = self.store.write(&access, &mut progress, false, now, &mut self.woken);
        self.requests[req as usize].progress = progress;
        while let Some(w) = self.woken.pop() {
            self.queue.push(now, Ev::Store { req: w });
        }
        match step {
            Step::Ready | Step::Blocked => self.create_or_write(req, now),
            Step::Wait(t) => self.queue.push(t, Ev::Store { req }),
        }
    }

    /// After the application (and a released lock): a login creates the session, a session
    /// request writes it back.
    fn create_or_write(&mut self, req: u32, now: SimTime) {
        let r = &self.requests[req as usize];
        match r.kind {
            Kind::Anonymous => return self.respond(req, now),
            Kind::Login | Kind::Relogin => {
                let user = &mut self.users[r.user as usize];
                let old = user.session.take();
                let sid = rng::key(&[self.workload.session_id_key, user.profile.key, user.logins as u64]);
                user.logins += 1;
                user.needs_login = false;
                user.login_pending = false;
                user.session = Some(sid);
                user.session_node = u8::try_from(r.backend).ok();
                if let Some(old) = old {
                    self.store.abandon(old);
                }
            }
            Kind::Session => {}
        }
        let r = &mut self.requests[req as usize];
        r.phase = Phase::Write;
        r.progress = r.progress.for_write();
        self.session_write(req, now);
    }

    /// Session write: the store writes the session back (or creates it) and releases its lock.
    pub(super) fn session_write(&mut self, req: u32, now: SimTime) {
        let access = self.access(req);
        let create = matches!(self.requests[req as usize].kind, Kind::Login | Kind::Relogin);
        let mut progress = self.requests[req as usize].progress;
        let step = self.store.write(&access, &mut progress, create, now, &mut self.woken);
        self.requests[req as usize].progress = progress;
        while let Some(w) = self.woken.pop() {
            self.queue.push(now, Ev::Store { req: w });
        }
        match step {
            Step::Ready | Step::Blocked => self.respond(req, now),
            Step::Wait(t) => self.queue.push(t, Ev::Store { req }),
        }
    }

    /// Respond: the request is complete; its worker takes the next queued request.
    fn respond(&mut self, req: u32, now: SimTime) {
        let r = self.requests.remove(req as usize);
        let b = r.backend as usize;
        // The response's headers leave now; the attempt connected at `admitted`.
        self.router.release_response(b, 200, now - r.admitted, now);
        match self.cluster.backends[b].finish(now) {
            Some(next) => {
                self.requests[next as usize].worker = r.worker;
                self.start_service(next, now);
            }
            None => {
                if self.cluster.track_workers {
                    self.cluster.free_workers[b].push(r.worker);
                }
            }
        }
        self.metrics.completed(b, r.arrival, now);
        self.metrics.served(r.arrival, r.started - r.admitted, now - r.started);
        if self.outages.draining[b] && self.cluster.backends[b].idle() {
            self.stop_drained(b, now);
        }
        self.request_over(req, &r, Outcome::Ok, now);
    }

    /// Request `req` (already removed, as `r`) ended with `outcome`: trace it, then tell its
    /// user.
    #[inline]
    pub(super) fn request_over(&mut self, req: u32, r: &Req, outcome: Outcome, now: SimTime) {
        if self.trace.is_some() {
            self.trace(r, outcome, now);
        }
        if let Some(feed) = &mut self.workload.replay {
            feed.forget(req);
            return self.replayed_request_ended(r);
        }
        self.request_ended(r.user, now);
    }

    /// Writes the trace row of a request that ended, if it is sampled.
    fn trace(&mut self, r: &Req, outcome: Outcome, now: SimTime) {
        let user = &self.users[r.user as usize];
        let (request, identity) = match self.workload.replay {
            Some(_) => (Feed::request_number(r.index), [r.index, 0]),
            None => (r.index, [user.profile.key, r.index]),
        };
        let Some(to) = self.trace.as_mut() else {
            return;
        };
        if !to.tracer.keeps(&identity) {
            return;
        }
        let servers = &self.router.conf().servers;
        let backend = servers.get(r.backend as usize);
        let reached = matches!(outcome, Outcome::Ok | Outcome::Rejected);
        let looked_up = outcome == Outcome::Ok && (r.kind == Kind::Session || r.progress.lost.is_some());
        let lost = r.progress.lost.filter(|_| looked_up);
        to.tracer.row(&TraceRow {
            strategy: to.label,
            replication: to.replication,
            request,
            user: user.profile.id,
            client_ip: user.addr,
            arrival_s: crate::metrics::round6(r.arrival.as_secs_f64()),
            backend_index: backend.map(|_| r.backend),
            backend: backend.map_or("", |s| s.name.as_str()),
            attempts: r.failures + reached as u32,
            outcome: outcome.name(),
            latency_ms: crate::metrics::round6((now - r.arrival).as_millis_f64()),
            session_found: looked_up.then_some(lost.is_none()),
            lost_cause: lost.map(|c| c.column().trim_start_matches("lost_")),
            wait_ms: (outcome == Outcome::Ok).then(|| crate::metrics::round6((r.started - r.admitted).as_millis_f64())),
        });
    }

    /// One request of the user's page ended (completed, rejected or unroutable).
    fn request_ended(&mut self, slot: u32, now: SimTime) {
        let user = &mut self.users[slot as usize];
        user.in_flight = user.in_flight.saturating_sub(1);
        if user.in_flight == 0 {
            self.think(slot, now);
        }
    }

    /// Think: after a page, the user thinks, then logs in again or sends the next planned
    /// page; or leaves.
    fn think(&mut self, slot: u32, now: SimTime) {
        let user = &mut self.users[slot as usize];
        let index = if user.needs_login {
            // A first login that failed is retried with its own draws; a re-login has its own.
            RELOGIN_INDEX + user.logins as u64
        } else if user.remaining > 0 {
            user.remaining -= 1;
            user.next_index as u64
        } else {
            self.leave(slot);
            return;
        };
        let profile = user.profile;
        let think = self
            .workload
            .population
            .think_time(&self.system.workload, &profile, index);
        let sid = user.session.unwrap_or(0);
        self.queue.push(now + think, Ev::Send { user: slot, sid });
    }

    /// The user leaves. A server-side session stays until it expires, as on a real server.
    pub(super) fn leave(&mut self, slot: u32) {
        let user = self.users.remove(slot as usize);
        if let Some(sid) = user.session {
            self.store.abandon(sid);
        }
    }
}
