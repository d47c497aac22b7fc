//! One simulation: a strategy's system, one replication, from the first arrival until the
//! last request in flight has finished.
//!
//! The model owns the event type and the life of a request:
//! user arrives -> request -> balancer picks a backend -> the backend admits, queues or
//! rejects it -> a worker starts it (the session is looked up) -> service time -> completion
//! (a login creates the session) -> the user thinks and sends the next request, logs in again
//! after a lost session, or leaves.
//!
//! Arrivals stop at the scenario's duration; requests already in the system then finish, so
//! every measured request has an outcome. Memory holds the users and requests in flight, plus
//! fixed-size statistics: it does not grow with the number of requests simulated.

use crate::backend::{Admit, Backend};
use crate::balancer::{self, ClientInfo, PeerState, Policy};
use crate::engine::rng::{self, SimRng, Stream};
use crate::engine::{EventQueue, SimTime};
use crate::metrics::RunResult;
use crate::metrics::collector::Collector;
use crate::scenario::{Scenario, System};
use crate::store::{self, Lookup, SessionId, SessionStore};
use crate::workload::{Arrivals, Population, RELOGIN_INDEX, UserProfile};
use slab::Slab;
use std::net::IpAddr;

/// The events of the model. Small and `Copy`: the queue moves them by value.
#[derive(Clone, Copy, Debug)]
enum Ev {
    /// The next user arrives.
    NextUser,
    /// A user sends its next request.
    Send { user: u32 },
    /// A worker finished a request.
    Done { req: u32 },
    /// The warm-up ends: snapshot the integrals.
    WarmupEnd,
    /// A time-series bucket ends.
    Tick,
    /// The scenario's duration is reached: arrivals stop.
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The first login of a user.
    Login,
    /// A login after a lost session.
    Relogin,
    /// A request of a logged-in user: needs the session.
    Session,
    /// A request of a user who never logs in.
    Anonymous,
}

struct User {
    profile: UserProfile,
    /// Planned requests not yet sent.
    remaining: u32,
    /// Index of the next planned request (1-based; 0 is the login).
    next_index: u32,
    needs_login: bool,
    logins: u32,
    session: Option<SessionId>,
}

struct Req {
    user: u32,
    arrival: SimTime,
    backend: u32,
    kind: Kind,
    index: u64,
}

struct Sim<'a> {
    sc: &'a Scenario,
    sys: &'a System,
    q: EventQueue<Ev>,
    pop: Population,
    arrivals: Arrivals,
    next_user: u64,
    users: Slab<User>,
    reqs: Slab<Req>,
    backends: Vec<Backend>,
    peers: Vec<PeerState>,
    policy: Box<dyn Policy>,
    store: Box<dyn SessionStore>,
    bal_rng: SimRng,
    sid_key: u64,
    m: Collector,
    open: bool,
    events: u64,
}

/// Runs strategy `strategy` of `sc`, replication `rep`.
pub fn run(sc: &Scenario, strategy: usize, rep: u32) -> RunResult {
    let sys = &sc.strategies[strategy].system;
    let seed = sc.seed;
    let mut sim = Sim {
        sc,
        sys,
        q: EventQueue::new(),
        pop: Population::new(&sys.workload, seed, rep),
        arrivals: Arrivals::new(&sys.workload, seed, rep),
        next_user: 0,
        users: Slab::with_capacity(1024),
        reqs: Slab::with_capacity(1024),
        backends: sys.backends.iter().map(|b| Backend::new(b.workers, b.queue)).collect(),
        peers: sys.backends.iter().map(PeerState::from_config).collect(),
        policy: balancer::build(&sys.balancer, &sys.backends),
        store: store::build(&sys.sessions, sys.backends.len()),
        bal_rng: rng::stream(seed, rep, Stream::Balancer),
        sid_key: rng::stream_key(seed, rep, Stream::SessionIds),
        m: Collector::new(sys.backends.len(), sc.warmup, sc.bucket),
        open: true,
        events: 0,
    };
    sim.start();
    while let Some((now, ev)) = sim.q.pop() {
        sim.events += 1;
        sim.handle(now, ev);
    }
    let held: Vec<u64> = (0..sys.backends.len()).map(|b| sim.store.held_by(b)).collect();
    let label = &sc.strategies[strategy].label;
    sim.m.finish(
        (&sc.name, label, rep, seed),
        strategy,
        &sys.backends,
        &held,
        sc.duration - sc.warmup,
        sim.events,
    )
}

impl Sim<'_> {
    fn start(&mut self) {
        if let Some(t) = self.arrivals.next_arrival() {
            self.q.push(t, Ev::NextUser);
        }
        if self.sc.warmup > SimTime::ZERO {
            self.q.push(self.sc.warmup, Ev::WarmupEnd);
        }
        if self.sc.bucket < self.sc.duration {
            self.q.push(self.sc.bucket, Ev::Tick);
        }
        self.q.push(self.sc.duration, Ev::Close);
    }

    #[inline]
    fn handle(&mut self, now: SimTime, ev: Ev) {
        match ev {
            Ev::NextUser => self.user_arrives(now),
            Ev::Send { user } => self.send(user, now),
            Ev::Done { req } => self.done(req, now),
            Ev::WarmupEnd => self.m.warmup_ended(&self.backends, now),
            Ev::Tick => {
                self.m.close_bucket(&self.backends, now);
                let next = now + self.sc.bucket;
                if next < self.sc.duration {
                    self.q.push(next, Ev::Tick);
                }
            }
            Ev::Close => {
                // Ticks fall strictly before the duration, so the last bucket (possibly shorter
                // than the others) is still open here.
                self.m.close_bucket(&self.backends, now);
                self.m.run_ended(&self.backends, now);
                self.open = false;
            }
        }
    }

    fn user_arrives(&mut self, now: SimTime) {
        if !self.open {
            return;
        }
        let profile = self.pop.user(&self.sys.workload, self.next_user);
        self.next_user += 1;
        if let Some(t) = self.arrivals.next_arrival() {
            self.q.push(t, Ev::NextUser);
        }
        self.m.user_arrived(now);
        let mut user = User {
            profile,
            remaining: profile.requests,
            next_index: 1,
            needs_login: profile.login,
            logins: 0,
            session: None,
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

    /// The user sends its next request: a login if it needs one, else its next planned request.
    fn send(&mut self, slot: u32, now: SimTime) {
        if !self.open {
            self.leave(slot);
            return;
        }
        let u = &self.users[slot as usize];
        let (kind, index) = if u.needs_login {
            if u.logins == 0 {
                (Kind::Login, 0)
            } else {
                (Kind::Relogin, RELOGIN_INDEX + u.logins as u64)
            }
        } else {
            let k = if u.profile.login {
                Kind::Session
            } else {
                Kind::Anonymous
            };
            (k, (u.next_index - 1) as u64 + 1)
        };
        if matches!(kind, Kind::Session | Kind::Anonymous) {
            self.users[slot as usize].next_index += 1;
        }
        let u = &self.users[slot as usize];
        self.m.request_arrived(now, kind == Kind::Relogin);
        let client = ClientInfo {
            addr: IpAddr::V4(u.profile.addr),
            session: if u.profile.accepts_cookies { u.session } else { None },
            page: self.pop.page(&self.sys.workload, u.profile.key, index),
        };
        let Some(b) = self.policy.pick(&client, &self.peers, 0, now, &mut self.bal_rng) else {
            self.m.no_server(now);
            self.next_step(slot, now);
            return;
        };
        self.m.routed(b, now);
        let req = self.reqs.insert(Req {
            user: slot,
            arrival: now,
            backend: b as u32,
            kind,
            index,
        }) as u32;
        match self.backends[b].admit(req, now) {
            Admit::Start => self.start_service(req, now),
            Admit::Queued => {}
            Admit::Rejected => {
                self.reqs.remove(req as usize);
                self.m.rejected(b, now);
                self.next_step(slot, now);
                return;
            }
        }
        self.peers[b].conns += 1;
    }

    /// A worker takes the request: look up its session, then serve it.
    fn start_service(&mut self, req: u32, now: SimTime) {
        let r = &self.reqs[req as usize];
        let b = r.backend as usize;
        let u = &self.users[r.user as usize];
        if r.kind == Kind::Session {
            let lost = match u.session {
                Some(sid) => match self.store.lookup(sid, b, now) {
                    Lookup::Found => None,
                    Lookup::Lost(cause) => Some(cause),
                },
                None => Some(store::LostCause::NodeFailure),
            };
            self.m.session_lookup(b, r.arrival, lost);
            if lost.is_some() {
                // The application answers with its login page; the user must log in again.
                self.users[r.user as usize].needs_login = true;
            }
        }
        let u = &self.users[r.user as usize];
        let mut srng = self.pop.service_rng(u.profile.key, r.index);
        let st = SimTime::from_secs_f64(self.sys.backends[b].service_time.sample(&mut srng));
        self.q.push(now + st, Ev::Done { req });
    }

    fn done(&mut self, req: u32, now: SimTime) {
        let r = self.reqs.remove(req as usize);
        let b = r.backend as usize;
        self.peers[b].conns -= 1;
        if let Some(next) = self.backends[b].finish(now) {
            self.start_service(next, now);
        }
        self.m.completed(b, r.arrival, now);
        if matches!(r.kind, Kind::Login | Kind::Relogin) {
            let u = &mut self.users[r.user as usize];
            if let Some(old) = u.session.take() {
                self.store.remove(old);
            }
            let sid = rng::key(&[self.sid_key, u.profile.key, u.logins as u64]);
            u.logins += 1;
            u.needs_login = false;
            u.session = Some(sid);
            self.store.create(sid, b, now);
        }
        self.next_step(r.user, now);
    }

    /// After a request: think, then log in again or send the next planned request; or leave.
    fn next_step(&mut self, slot: u32, now: SimTime) {
        let u = &mut self.users[slot as usize];
        let index = if u.needs_login {
            // A first login that failed is retried with its own draws; a re-login has its own.
            RELOGIN_INDEX + u.logins as u64
        } else if u.remaining > 0 {
            u.remaining -= 1;
            u.next_index as u64
        } else {
            self.leave(slot);
            return;
        };
        let profile = u.profile;
        let think = self.pop.think_time(&self.sys.workload, &profile, index);
        self.q.push(now + think, Ev::Send { user: slot });
    }

    fn leave(&mut self, slot: u32) {
        let u = self.users.remove(slot as usize);
        if let Some(sid) = u.session {
            self.store.remove(sid);
        }
    }
}
