//! One simulation: a strategy's system, one replication, from the first arrival until the
//! last request in flight has finished.
//!
//! The model owns the event type and the life of a request:
//! user arrives -> a page: one request, or `parallel` requests at once -> balancer picks a
//! backend -> the backend admits, queues or rejects it -> a worker takes it -> session phase
//! *read* (lock wait, then the read; a request of a logged-in user only) -> application
//! service time -> session phase *write* (a login creates the session; the lock is released)
//! -> completion -> when all requests of the page are done, the user thinks and sends the next
//! page, logs in again after a lost session, or leaves. The request keeps its worker through
//! both session phases, as PHP does; a store phase that waits (a lock, a remote operation)
//! resumes through [`Ev::Store`].
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
use crate::scenario::{Scenario, StorageKind, System};
use crate::store::{self, Access, Progress, SessionId, SessionStore, Step};
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
    /// A worker finished the application part of a request.
    Done { req: u32 },
    /// A session phase of a request resumes (after a lock wait or a store operation).
    Store { req: u32 },
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
    /// Requests of the current page not yet finished.
    in_flight: u32,
    /// Planned requests not yet sent.
    remaining: u32,
    /// Index of the next planned request (1-based; 0 is the login).
    next_index: u32,
    needs_login: bool,
    logins: u32,
    session: Option<SessionId>,
}

/// Which session phase a request is in while the store works on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Read,
    Write,
}

struct Req {
    user: u32,
    arrival: SimTime,
    backend: u32,
    /// The worker serving it (its connection to the store), valid once started.
    worker: u32,
    kind: Kind,
    index: u64,
    phase: Phase,
    prog: Progress,
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
    /// Free worker ids per backend (a stack) and each backend's first connection index.
    free_workers: Vec<Vec<u32>>,
    worker_base: Vec<u32>,
    /// Only stores with servers (connection limits) need to know which worker runs a request.
    track_workers: bool,
    /// Per class: requests per page, and the share of requests that change the session out of
    /// 2^20.
    parallel: Vec<u32>,
    modify_below: Vec<u32>,
    writes_key: u64,
    /// Requests a store call handed a lock to (reused buffer).
    woken: Vec<u32>,
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
    let mut worker_base = Vec::with_capacity(sys.backends.len());
    let mut connections = 0u32;
    for b in &sys.backends {
        worker_base.push(connections);
        connections = connections.saturating_add(b.workers);
    }
    let env = store::Env {
        backends: sys.backends.len(),
        connections,
        seed,
        rep,
        warmup: sc.warmup,
        duration: sc.duration,
        bucket: sc.bucket,
    };
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
        store: store::build(&sys.sessions, env),
        free_workers: sys.backends.iter().map(|b| (0..b.workers).rev().collect()).collect(),
        worker_base,
        track_workers: matches!(sys.sessions.storage, StorageKind::Shared | StorageKind::CachedDb),
        parallel: sys.workload.classes.iter().map(|c| c.parallel).collect(),
        modify_below: sys
            .workload
            .classes
            .iter()
            .map(|c| (c.session_modify * (1u32 << 20) as f64).round() as u32)
            .collect(),
        writes_key: rng::stream_key(seed, rep, Stream::SessionWrites),
        woken: Vec::new(),
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
    let totals = sim.store.totals();
    let servers = sim.store.servers((sc.warmup, sc.duration));
    sim.m.finish(
        (&sc.name, label, rep, seed),
        strategy,
        &sys.backends,
        &held,
        sc.duration - sc.warmup,
        sim.events,
        &totals,
        &servers,
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
            Ev::Store { req } => match self.reqs[req as usize].phase {
                Phase::Read => self.store_read(req, now),
                Phase::Write => self.store_write(req, now),
            },
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
            in_flight: 0,
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

    /// The user sends its next page: a login if it needs one, else its next planned page, as
    /// one request or `parallel` requests at once.
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
        let class = u.profile.class as usize;
        let n = if matches!(kind, Kind::Session | Kind::Anonymous) {
            self.users[slot as usize].next_index += 1;
            self.parallel[class]
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

    fn send_one(&mut self, slot: u32, kind: Kind, index: u64, now: SimTime) {
        let u = &self.users[slot as usize];
        self.m.request_arrived(now, kind == Kind::Relogin);
        let client = ClientInfo {
            addr: IpAddr::V4(u.profile.addr),
            session: if u.profile.accepts_cookies { u.session } else { None },
            page: self.pop.page(&self.sys.workload, u.profile.key, index),
        };
        let Some(b) = self.policy.pick(&client, &self.peers, 0, now, &mut self.bal_rng) else {
            self.m.no_server(now);
            self.request_ended(slot, now);
            return;
        };
        self.m.routed(b, now);
        let req = self.reqs.insert(Req {
            user: slot,
            arrival: now,
            backend: b as u32,
            worker: 0,
            kind,
            index,
            phase: Phase::Read,
            prog: Progress::default(),
        }) as u32;
        match self.backends[b].admit(req, now) {
            Admit::Start => {
                if self.track_workers {
                    self.reqs[req as usize].worker = self.free_workers[b].pop().unwrap_or(0);
                }
                self.start_service(req, now)
            }
            Admit::Queued => {}
            Admit::Rejected => {
                self.reqs.remove(req as usize);
                self.m.rejected(b, now);
                self.request_ended(slot, now);
                return;
            }
        }
        self.peers[b].conns += 1;
    }

    /// What the store is told about request `req`.
    #[inline]
    fn access(&self, req: u32) -> Access {
        let r = &self.reqs[req as usize];
        let u = &self.users[r.user as usize];
        let b = r.backend as usize;
        Access {
            req,
            sid: u.session.unwrap_or(0),
            backend: r.backend,
            conn: self.worker_base[b] + r.worker,
            user_key: u.profile.key,
            index: r.index,
            bytes: u.profile.session_bytes,
            cookies: u.profile.accepts_cookies,
            modified: rng::item_below(self.writes_key ^ u.profile.key, r.index, 1 << 20)
                < self.modify_below[u.profile.class as usize],
            measured: self.m.measured(r.arrival),
        }
    }

    /// A worker takes the request: a request of a logged-in user first reads its session.
    fn start_service(&mut self, req: u32, now: SimTime) {
        if self.reqs[req as usize].kind == Kind::Session {
            let r = &mut self.reqs[req as usize];
            r.phase = Phase::Read;
            r.prog = Progress::default();
            self.store_read(req, now);
        } else {
            self.start_app(req, now);
        }
    }

    fn store_read(&mut self, req: u32, now: SimTime) {
        let a = self.access(req);
        let mut p = self.reqs[req as usize].prog;
        let step = if self.users[self.reqs[req as usize].user as usize].session.is_none() {
            p.lost = Some(store::LostCause::Expired);
            Step::Ready
        } else {
            self.store.read(&a, &mut p, now)
        };
        self.reqs[req as usize].prog = p;
        match step {
            Step::Ready => {
                let r = &self.reqs[req as usize];
                let lost = r.prog.lost;
                self.m.session_lookup(r.backend as usize, r.arrival, lost);
                if lost.is_some() {
                    // The application answers with its login page; the user must log in again.
                    self.users[r.user as usize].needs_login = true;
                }
                self.start_app(req, now);
            }
            Step::Wait(t) => self.q.push(t, Ev::Store { req }),
            Step::Blocked => {}
        }
    }

    /// The application serves the request.
    fn start_app(&mut self, req: u32, now: SimTime) {
        let r = &self.reqs[req as usize];
        let b = r.backend as usize;
        let u = &self.users[r.user as usize];
        let mut srng = self.pop.service_rng(u.profile.key, r.index);
        let st = SimTime::from_secs_f64(self.sys.backends[b].service_time.sample(&mut srng));
        self.q.push(now + st, Ev::Done { req });
    }

    /// The application is done: a login creates the session, a session request writes it back.
    fn done(&mut self, req: u32, now: SimTime) {
        let r = &self.reqs[req as usize];
        match r.kind {
            Kind::Anonymous => return self.finish(req, now),
            Kind::Login | Kind::Relogin => {
                let u = &mut self.users[r.user as usize];
                let old = u.session.take();
                let sid = rng::key(&[self.sid_key, u.profile.key, u.logins as u64]);
                u.logins += 1;
                u.needs_login = false;
                u.session = Some(sid);
                if let Some(old) = old {
                    self.store.abandon(old);
                }
            }
            Kind::Session => {}
        }
        let r = &mut self.reqs[req as usize];
        r.phase = Phase::Write;
        let lost = r.prog.lost;
        let locked = r.prog.locked;
        let drop_write = r.prog.drop_write;
        let read_version = r.prog.read_version;
        r.prog = Progress {
            lost,
            locked,
            drop_write,
            read_version,
            ..Progress::default()
        };
        self.store_write(req, now);
    }

    fn store_write(&mut self, req: u32, now: SimTime) {
        let a = self.access(req);
        let create = matches!(self.reqs[req as usize].kind, Kind::Login | Kind::Relogin);
        let mut p = self.reqs[req as usize].prog;
        let step = self.store.write(&a, &mut p, create, now, &mut self.woken);
        self.reqs[req as usize].prog = p;
        while let Some(w) = self.woken.pop() {
            self.q.push(now, Ev::Store { req: w });
        }
        match step {
            Step::Ready | Step::Blocked => self.finish(req, now),
            Step::Wait(t) => self.q.push(t, Ev::Store { req }),
        }
    }

    /// The request is complete: its worker takes the next queued request.
    fn finish(&mut self, req: u32, now: SimTime) {
        let r = self.reqs.remove(req as usize);
        let b = r.backend as usize;
        self.peers[b].conns -= 1;
        match self.backends[b].finish(now) {
            Some(next) => {
                self.reqs[next as usize].worker = r.worker;
                self.start_service(next, now);
            }
            None => {
                if self.track_workers {
                    self.free_workers[b].push(r.worker);
                }
            }
        }
        self.m.completed(b, r.arrival, now);
        self.request_ended(r.user, now);
    }

    /// One request of the user's page ended (completed, rejected or unroutable).
    fn request_ended(&mut self, slot: u32, now: SimTime) {
        let u = &mut self.users[slot as usize];
        u.in_flight = u.in_flight.saturating_sub(1);
        if u.in_flight == 0 {
            self.next_step(slot, now);
        }
    }

    /// After a page: think, then log in again or send the next planned page; or leave.
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

    /// The user leaves. A server-side session stays until it expires, as on a real server.
    fn leave(&mut self, slot: u32) {
        let u = self.users.remove(slot as usize);
        if let Some(sid) = u.session {
            self.store.abandon(sid);
        }
    }
}
