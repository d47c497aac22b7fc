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
//! With `[workload.replay]` the requests come from a log instead (`Ev::Replay`): one request
//! is read ahead and arrives at its time; a user (an inferred log session) is created at its
//! first request and leaves when the log says its session is over and its last request has
//! ended. Its requests are an open stream; with login, a request that loses its session is
//! itself the re-login (see docs/scenario-format.md). Every request that ends may be written to
//! a [`trace::Tracer`], which reads the request and changes nothing.
//!
//! Arrivals stop at the scenario's duration; requests already in the system then finish, so
//! every measured request has an outcome. Memory holds the users and requests in flight, plus
//! fixed-size statistics: it does not grow with the number of requests simulated.
//!
//! Routing ([`Sim::route`]) follows the balancer's own retry rules. A backend is *alive* (its
//! web server accepts connections) or dead (connection refused), and its application is up or
//! down (a live web server answering 502 itself, as nginx in front of a dead PHP-FPM does).
//! nginx: a refused connection counts against the peer (`max_fails`/`fail_timeout`) and the
//! next peer is tried at once, up to one try per server; a 502 is retried only with `http_502`
//! in `proxy_next_upstream`; when tries run out the client gets 502. HAProxy: a refused
//! connection is retried on the same server after `min(timeout connect, 1s)`, redispatched to
//! another as `option redispatch` says, and answered 503 after `retries`; health checks
//! ([`Ev::Check`]) see each backend's real liveness and mark it down after `fall` failures.
//! Simplifications: a refused connection takes no time; health checks are TCP checks (a live
//! web server passes them even when its application is down) and stop when arrivals stop.

use crate::backend::{Admit, Backend};
use crate::balancer::health::HealthCheck;
use crate::balancer::{
    Attempt, AttemptOutcome, ClientInfo, FailurePolicy, Needs, PeerState, Policy, RetryAction, SetCookie,
};
use crate::engine::rng::{self, SimRng, Stream};
use crate::engine::{EventQueue, SimTime};
use crate::faults::{Action, Schedule, Scheduled, Target};
use crate::metrics::RunResult;
use crate::metrics::collector::Collector;
use crate::scenario::{Scenario, StorageKind, System};
use crate::store::{self, Access, Progress, SessionId, SessionStore, Step};
use crate::workload::replay::source::{ReplayReport, ReplayRequest, ReplaySource};
use crate::workload::{Arrivals, Population, RELOGIN_INDEX, UserProfile};
use rustc_hash::FxHashMap;
use slab::Slab;
use std::net::IpAddr;
use trace::{Outcome, TraceRow, Tracer};

mod slots;
pub mod trace;

/// The events of the model. Small and `Copy`: the queue moves them by value.
#[derive(Clone, Copy, Debug)]
enum Ev {
    /// The next user arrives.
    NextUser,
    /// The next request of a replayed log arrives.
    Replay,
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
    /// HAProxy's turn-around timer ran out: connect to the same server again.
    Retry { req: u32 },
    /// An HAProxy health check of a backend completes.
    Check { backend: u32 },
    /// A backend changes state (see [`Liveness`]).
    Liveness { backend: u32, state: Liveness },
    /// The fault schedule has actions due.
    Fault,
}

/// The state of a backend as the outside world sees it. The failures of the fault schedule map
/// onto these: a crash is [`Liveness::Dead`] until its restart, an application failure
/// [`Liveness::AppDown`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Serving.
    Up,
    /// The host refuses connections (process or host down).
    Dead,
    /// The web server is up but its application is not: every request is answered 502.
    AppDown,
}

/// A backend's change of state at a time, for [`run_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateChange {
    pub at: SimTime,
    pub backend: usize,
    pub state: Liveness,
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
    /// The balancer's persistence cookie the client holds (HAProxy `SERVERID`), as the index of
    /// the server whose cookie value it is. Never set for users who refuse cookies.
    server_cookie: Option<u8>,
    /// The server that created the current session (its route is JSESSIONID's suffix).
    session_node: Option<u8>,
    /// The client's address (a replayed log's may be IPv6).
    addr: IpAddr,
    /// Replay: a login of this user is in flight.
    login_pending: bool,
    /// Replay: the user's session in the log is over; it leaves when its last request ends.
    ended: bool,
    /// Whether this user's being logged out counts in `users_logged_out`: it arrived after
    /// the warm-up and has not been counted yet.
    count_logout: bool,
    /// The number of faults started when this user was last counted in a fault's
    /// `users_logged_out` (0: never), so that each user counts once per fault.
    fault_mark: u32,
}

/// Which session phase a request is in while the store works on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Read,
    Write,
}

#[derive(Clone)]
struct Req {
    user: u32,
    arrival: SimTime,
    backend: u32,
    /// The worker serving it (its connection to the store), valid once started.
    worker: u32,
    kind: Kind,
    index: u64,
    /// The balancer's state for this request across its attempts.
    attempt: Attempt,
    /// Failed connection attempts so far (HAProxy `retries` counts these).
    failures: u32,
    phase: Phase,
    prog: Progress,
    /// Admitted by its backend (serving or queued), as opposed to between attempts.
    on_backend: bool,
    /// Killed by a crash while in service: its pending event only removes it.
    dead: bool,
}

struct Sim<'a> {
    sc: &'a Scenario,
    sys: &'a System,
    q: EventQueue<Ev>,
    pop: Population,
    arrivals: Arrivals,
    next_user: u64,
    users: slots::Slots<User>,
    reqs: Slab<Req>,
    backends: Vec<Backend>,
    peers: Vec<PeerState>,
    policy: Box<dyn Policy>,
    /// What the policy reads from a request besides the address.
    needs: Needs,
    /// nginx: tries per request (`ngx_http_upstream_tries`, capped by
    /// `proxy_next_upstream_tries`).
    max_attempts: u32,
    /// Per backend: whether its web server accepts connections and its application answers.
    state: Vec<Liveness>,
    /// Per backend: HAProxy's health checks of it, when configured.
    health: Vec<Option<HealthCheck>>,
    changes: &'a [StateChange],
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
    /// The failure schedule, and per backend: the service-time factor of a `slow` fault,
    /// whether it is taken out of the balancer (`drain`) and still finishing its requests, and
    /// the fault (its `faults.csv` number) affecting it now.
    faults: Schedule,
    slow: Vec<f64>,
    drained: Vec<bool>,
    draining: Vec<bool>,
    fault_on: Vec<Option<u32>>,
    store_names: Vec<String>,
    /// Per store server: the fault affecting it now.
    store_fault: Vec<Option<u32>>,
    up_buf: Vec<bool>,
    bal_rng: SimRng,
    sid_key: u64,
    m: Collector,
    open: bool,
    events: u64,
    replay: Option<Replay<'a>>,
    tracer: Option<&'a mut Tracer>,
    /// Strategy label and replication, for trace rows.
    label: &'a str,
    rep: u32,
}

/// The state of a replayed workload: the log and the users active in it.
struct Replay<'a> {
    cfg: &'a crate::scenario::ReplayConfig,
    source: ReplaySource,
    /// The next request, read ahead; it arrives at its time.
    next: Option<ReplayRequest>,
    /// Simulated user number -> slot in `users`.
    slots: FxHashMap<u64, u32>,
    /// Per request slot: the log's service time [ns] (`u64::MAX`: none) and the path when the
    /// balancer hashes it.
    service_ns: Vec<u64>,
    paths: Vec<Option<Box<str>>>,
}

/// Runs strategy `strategy` of `sc`, replication `rep`.
pub fn run(sc: &Scenario, strategy: usize, rep: u32) -> RunResult {
    run_with(sc, strategy, rep, &[])
}

/// Runs strategy `strategy` of `sc`, replication `rep`, with backends changing state at the
/// given times (changes at the same time apply in the order given, before anything else
/// happening then). Backend indices past the last backend are ignored.
pub fn run_with(sc: &Scenario, strategy: usize, rep: u32, changes: &[StateChange]) -> RunResult {
    run_traced(sc, strategy, rep, changes, None)
}

/// [`run_with`], writing a row per (sampled) request to `tracer`. Tracing changes no result.
/// A replayed log's problems (malformed lines, or the error that stopped it) are in
/// [`RunResult::replay`].
pub fn run_traced<'a>(
    sc: &'a Scenario,
    strategy: usize,
    rep: u32,
    changes: &'a [StateChange],
    tracer: Option<&'a mut Tracer>,
) -> RunResult {
    let sys = &sc.strategies[strategy].system;
    let seed = sc.seed;
    let bal = sys.balancer.conf.conf();
    let policy = sys.balancer.conf.policy();
    let n = sys.backends.len();
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
    let replay = match sys.workload.replay.as_ref() {
        None => None,
        Some(cfg) => match ReplaySource::open(cfg) {
            Ok(source) => Some(Replay {
                cfg,
                source,
                next: None,
                slots: FxHashMap::default(),
                service_ns: Vec::new(),
                paths: Vec::new(),
            }),
            Err(m) => return failed_replay(sc, strategy, rep, m),
        },
    };
    let mut sim = Sim {
        sc,
        sys,
        q: EventQueue::new(),
        pop: Population::new(&sys.workload, seed, rep),
        arrivals: Arrivals::new(&sys.workload, seed, rep),
        next_user: 0,
        users: slots::Slots::with_capacity(1024),
        reqs: Slab::with_capacity(1024),
        backends: sys.backends.iter().map(|b| Backend::new(b.workers, b.queue)).collect(),
        peers: PeerState::for_servers(&bal.servers),
        needs: policy.needs(),
        policy,
        max_attempts: match bal.failure {
            FailurePolicy::Nginx(nu) => nu.max_attempts(&bal.servers),
            FailurePolicy::Haproxy(_) => 1,
        },
        state: vec![Liveness::Up; n],
        health: vec![None; n],
        changes,
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
        faults: Schedule::new(&sys.faults, seed, rep, sc.duration),
        slow: vec![1.0; n],
        drained: vec![false; n],
        draining: vec![false; n],
        fault_on: vec![None; n],
        store_names: store::server_names(&sys.sessions),
        store_fault: Vec::new(),
        up_buf: vec![true; n],
        bal_rng: rng::stream(seed, rep, Stream::Balancer),
        sid_key: rng::stream_key(seed, rep, Stream::SessionIds),
        m: Collector::new(sys.backends.len(), sc.warmup, sc.bucket),
        open: true,
        events: 0,
        replay,
        tracer,
        label: &sc.strategies[strategy].label,
        rep,
    };
    sim.start();
    while let Some((now, ev)) = sim.q.pop() {
        sim.events += 1;
        // The next event's user record is most likely a DRAM miss (a million users, each
        // touched every few minutes): start loading it while this event is handled.
        match sim.q.peek_next() {
            Some(&Ev::Send { user }) => sim.users.prefetch(user),
            Some(&Ev::Done { req }) | Some(&Ev::Store { req }) => {
                if let Some(r) = sim.reqs.get(req as usize) {
                    sim.users.prefetch(r.user);
                }
            }
            _ => {}
        }
        sim.handle(now, ev);
    }
    // Every pick was reported exactly once: the balancer's connection counts are back to 0.
    debug_assert!(sim.peers.iter().all(|p| p.conns == 0), "connection counts leaked");
    let held: Vec<u64> = (0..sys.backends.len()).map(|b| sim.store.held_by(b)).collect();
    let label = &sc.strategies[strategy].label;
    let totals = sim.store.totals();
    let servers = sim.store.servers((sc.warmup, sc.duration));
    let replay_report = sim.replay.as_ref().map(|r| r.source.report());
    let mut result = sim.m.finish(
        (&sc.name, label, rep, seed),
        strategy,
        &sys.backends,
        &held,
        sc.duration - sc.warmup,
        sim.events,
        &totals,
        &servers,
    );
    crate::metrics::cost::apply(&mut result.summary, sys, (sc.duration - sc.warmup).as_secs_f64());
    result.replay = replay_report;
    result
}

/// The result of a run whose log could not be opened: empty, with the reason.
fn failed_replay(sc: &Scenario, strategy: usize, rep: u32, msg: String) -> RunResult {
    let sys = &sc.strategies[strategy].system;
    let m = Collector::new(sys.backends.len(), sc.warmup, sc.bucket);
    let held = vec![0; sys.backends.len()];
    let mut r = m.finish(
        (&sc.name, &sc.strategies[strategy].label, rep, sc.seed),
        strategy,
        &sys.backends,
        &held,
        sc.duration - sc.warmup,
        0,
        &Default::default(),
        &[],
    );
    r.replay = Some(ReplayReport {
        error: Some(msg),
        ..ReplayReport::default()
    });
    r
}

impl Sim<'_> {
    fn start(&mut self) {
        for c in self.changes {
            if c.backend < self.backends.len() {
                self.q.push(
                    c.at,
                    Ev::Liveness {
                        backend: c.backend as u32,
                        state: c.state,
                    },
                );
            }
        }
        // HAProxy `start_checks`: the first checks of a backend's servers are spread over one
        // interval by position.
        let servers = &self.sys.balancer.conf.conf().servers;
        let checked = servers.iter().filter(|s| s.check.is_some()).count();
        let mut pos = 0;
        for (b, s) in servers.iter().enumerate() {
            if let Some(c) = s.check {
                let first = HealthCheck::first_check_offset(c.inter, pos, checked);
                pos += 1;
                self.health[b] = Some(HealthCheck::new(c, first));
                self.q.push(first, Ev::Check { backend: b as u32 });
            }
        }
        if let Some(t) = self.faults.peek_time() {
            self.q.push(t, Ev::Fault);
        }
        if self.replay.is_some() {
            self.read_ahead();
        } else if let Some(t) = self.arrivals.next_arrival() {
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
            Ev::Replay => self.replayed_request(now),
            Ev::Send { user } => self.send(user, now),
            Ev::Done { req } | Ev::Store { req } if self.reqs[req as usize].dead => {
                self.reqs.remove(req as usize);
            }
            Ev::Done { req } => self.done(req, now),
            Ev::Store { req } => match self.reqs[req as usize].phase {
                Phase::Read => self.store_read(req, now),
                Phase::Write => self.store_write(req, now),
            },
            Ev::WarmupEnd => self.m.warmup_ended(&self.backends, now),
            Ev::Tick => {
                self.close_bucket(now);
                let next = now + self.sc.bucket;
                if next < self.sc.duration {
                    self.q.push(next, Ev::Tick);
                }
            }
            Ev::Close => {
                // Ticks fall strictly before the duration, so the last bucket (possibly shorter
                // than the others) is still open here.
                self.close_bucket(now);
                self.m.run_ended(&self.backends, now);
                self.open = false;
            }
            Ev::Retry { req } => self.retry_same_server(req, now),
            Ev::Check { backend } => self.health_check(backend as usize, now),
            Ev::Fault => {
                while self.faults.peek_time().is_some_and(|t| t <= now) {
                    if let Some(a) = self.faults.next_action() {
                        self.apply_fault(a, now);
                    }
                }
                if let Some(t) = self.faults.peek_time() {
                    self.q.push(t, Ev::Fault);
                }
            }
            Ev::Liveness { backend, state } => {
                let b = backend as usize;
                self.set_backend_alive(b, state != Liveness::Dead, now);
                self.set_app_down(b, state == Liveness::AppDown, now);
            }
        }
    }

    /// The backend's web server starts (`alive`) or stops accepting connections; a backend that
    /// comes back has its application up. Requests already on it are not touched: what a crash
    /// does to them is the fault model's business.
    pub fn set_backend_alive(&mut self, b: usize, alive: bool, _now: SimTime) {
        if let Some(s) = self.state.get_mut(b) {
            *s = if alive { Liveness::Up } else { Liveness::Dead };
        }
    }

    /// The application of a live backend stops (`down`: its web server answers every request
    /// with 502) or comes back. No effect on a dead backend.
    pub fn set_app_down(&mut self, b: usize, down: bool, _now: SimTime) {
        if let Some(s) = self.state.get_mut(b)
            && *s != Liveness::Dead
        {
            *s = if down { Liveness::AppDown } else { Liveness::Up };
        }
    }

    /// An HAProxy health check (a TCP connect) of backend `b` completes: it passes when the
    /// backend accepts connections. Checks stop once arrivals stop.
    fn health_check(&mut self, b: usize, now: SimTime) {
        let ok = self.state[b] != Liveness::Dead;
        let Some(h) = self.health[b].as_mut() else {
            return;
        };
        let change = h.record(ok, now);
        let next = h.next_check();
        if let Some(up) = change {
            self.policy.set_server_up(b, up, &mut self.peers);
            if !up && let Some(f) = self.fault_on[b] {
                self.m.fault_detected(f, now);
            }
        }
        if self.open {
            self.q.push(next, Ev::Check { backend: b as u32 });
        }
    }

    fn close_bucket(&mut self, now: SimTime) {
        for (b, up) in self.up_buf.iter_mut().enumerate() {
            *up = self.state[b] == Liveness::Up && !self.drained[b];
        }
        self.m.close_bucket(&self.backends, &self.up_buf, now);
    }

    /// Carries out one action of the fault schedule.
    fn apply_fault(&mut self, a: Scheduled, now: SimTime) {
        let b = match a.target {
            Target::Backend(b) if b < self.backends.len() => b,
            Target::Backend(_) => return,
            Target::Store(k) => {
                // A store server crashes, losing what its persistence setting loses, and
                // refuses connections until it restarts.
                match a.action {
                    Action::Crash => {
                        let name = self
                            .store_names
                            .get(k)
                            .cloned()
                            .unwrap_or_else(|| format!("store{}", k + 1));
                        let f = self.m.fault_started("crash", name, now);
                        self.store_fault.resize(self.store_names.len().max(k + 1), None);
                        self.store_fault[k] = Some(f);
                        self.store.crash_server(k, now);
                        self.store.set_server_down(k, true);
                    }
                    Action::Restart => {
                        self.store.set_server_down(k, false);
                        if let Some(f) = self.store_fault.get_mut(k).and_then(Option::take) {
                            self.m.fault_recovered(f, now);
                        }
                    }
                    _ => {}
                }
                return;
            }
        };
        let name = self.sys.backends[b].name.clone();
        match a.action {
            Action::Crash => {
                self.fault_on[b] = Some(self.m.fault_started("crash", name, now));
                self.set_backend_alive(b, false, now);
                self.kill_in_flight(b, now);
                self.store.crash_node(b, now);
            }
            Action::AppDown => {
                // The application dies; its host's web server stays up and answers 502. The
                // sessions on disk survive.
                self.fault_on[b] = Some(self.m.fault_started("app_down", name, now));
                self.set_app_down(b, true, now);
                self.kill_in_flight(b, now);
            }
            Action::DrainStart => {
                // The operator takes the server out of the balancer: no new requests, except
                // those already queued or served, which finish; then it stops.
                let f = self.m.fault_started("drain", name, now);
                self.fault_on[b] = Some(f);
                self.m.fault_detected(f, now);
                self.drained[b] = true;
                self.draining[b] = true;
                self.policy.set_server_up(b, false, &mut self.peers);
                if self.backends[b].idle() {
                    self.stop_drained(b, now);
                }
            }
            Action::SlowStart { factor_milli } => {
                self.fault_on[b] = Some(self.m.fault_started("slow", name, now));
                self.slow[b] = factor_milli as f64 / 1000.0;
            }
            Action::SlowEnd => {
                self.slow[b] = 1.0;
                self.recovered(b, now);
            }
            Action::AppUp => {
                self.set_app_down(b, false, now);
                self.recovered(b, now);
            }
            Action::Restart => {
                // The node comes back empty.
                self.draining[b] = false;
                if self.state[b] == Liveness::Dead {
                    self.set_backend_alive(b, true, now);
                    if self.track_workers {
                        self.free_workers[b] = (0..self.sys.backends[b].workers).rev().collect();
                    }
                    self.store.restart_node(b, now);
                }
                if self.drained[b] {
                    self.drained[b] = false;
                    self.policy.set_server_up(b, true, &mut self.peers);
                }
                self.recovered(b, now);
            }
        }
    }

    fn recovered(&mut self, b: usize, now: SimTime) {
        if let Some(f) = self.fault_on[b].take() {
            self.m.fault_recovered(f, now);
        }
    }

    /// A drained server has finished its last request: it stops, and with it what it held
    /// in memory or on its disk (a deploy replaces the server).
    fn stop_drained(&mut self, b: usize, now: SimTime) {
        self.draining[b] = false;
        self.set_backend_alive(b, false, now);
        self.store.crash_node(b, now);
    }

    /// Requests on backend `b` die with it: the balancer answers 502 and does not retry them
    /// elsewhere (a request already passed to a server is not idempotent to nginx's default
    /// `proxy_next_upstream`; HAProxy does not redispatch a request it has sent either).
    fn kill_in_flight(&mut self, b: usize, now: SimTime) {
        let queued = self.backends[b].reset(now);
        let victims: Vec<u32> = self
            .reqs
            .iter()
            .filter(|(_, r)| r.on_backend && !r.dead && r.backend == b as u32)
            .map(|(k, _)| k as u32)
            .collect();
        for req in victims {
            let r = if queued.contains(&req) {
                // Waiting in the queue: no event refers to it.
                self.reqs.remove(req as usize)
            } else {
                // In service: its pending event will only remove it.
                let r = &mut self.reqs[req as usize];
                r.dead = true;
                r.clone()
            };
            self.policy.report(b, false, &mut self.peers, now);
            self.m.killed(b, r.arrival);
            self.request_over(req, &r, Outcome::Error502, now);
        }
        self.note_nginx_detection(b, now);
        if self.track_workers {
            self.free_workers[b].clear();
        }
    }

    /// nginx notices a failed server when its failures reach `max_fails`.
    fn note_nginx_detection(&mut self, b: usize, now: SimTime) {
        let bal = self.sys.balancer.conf.conf();
        if let (FailurePolicy::Nginx(_), Some(f)) = (&bal.failure, self.fault_on[b]) {
            let max = bal.servers.get(b).map_or(0, |s| s.max_fails);
            if max > 0 && self.peers[b].fails >= max {
                self.m.fault_detected(f, now);
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
            server_cookie: None,
            session_node: None,
            addr: IpAddr::V4(profile.addr),
            login_pending: false,
            ended: false,
            count_logout: self.m.measured(now),
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
    fn send(&mut self, slot: u32, now: SimTime) {
        if !self.open {
            self.leave(slot);
            return;
        }
        let u = &self.users[slot as usize];
        if let Some(sid) = u.session {
            // Its read comes after routing and admission: start loading the session's entry.
            self.store.prefetch(sid);
        }
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

    /// One request of a page: the balancer routes it.
    fn send_one(&mut self, slot: u32, kind: Kind, index: u64, now: SimTime) {
        let req = self.new_request(slot, kind, index, now);
        self.route(req, now);
    }

    /// A request arrives at the balancer.
    #[inline]
    fn new_request(&mut self, slot: u32, kind: Kind, index: u64, now: SimTime) -> u32 {
        self.m.request_arrived(now, kind == Kind::Relogin);
        self.reqs.insert(Req {
            user: slot,
            arrival: now,
            backend: u32::MAX,
            worker: 0,
            kind,
            index,
            attempt: Attempt::default(),
            failures: 0,
            phase: Phase::Read,
            prog: Progress::default(),
            on_backend: false,
            dead: false,
        }) as u32
    }

    /// Asks the balancer for a server and tries it, again and again as the balancer's retry
    /// rules say, until the request is served, queued, answered with an error or waiting for
    /// HAProxy's turn-around timer.
    fn route(&mut self, req: u32, now: SimTime) {
        loop {
            let (user, index) = {
                let r = &self.reqs[req as usize];
                (r.user, r.index)
            };
            let u = &self.users[user as usize];
            // The request as the balancer sees it, rendered only if the policy reads it, into
            // stack buffers: PHPSESSID as 16 hex digits, the URI as /page/<n>.
            let mut sid_buf = [0u8; 16];
            let mut uri_buf = [0u8; 16];
            let mut routed_buf = [0u8; ROUTED_SID_MAX];
            let session_cookie = match u.session {
                Some(sid) if self.needs.session_cookie && u.profile.accepts_cookies => Some(hex16(sid, &mut sid_buf)),
                Some(sid) if self.needs.session_route && u.profile.accepts_cookies => {
                    let route = u
                        .session_node
                        .and_then(|n| self.sys.balancer.conf.conf().servers.get(usize::from(n)))
                        .and_then(|s| s.cookie.as_deref())
                        .unwrap_or("");
                    Some(routed_sid(sid, route, &mut routed_buf))
                }
                _ => None,
            };
            let uri = if self.needs.uri && self.replay.is_none() {
                page_uri(self.pop.page(&self.sys.workload, u.profile.key, index), &mut uri_buf)
            } else {
                "/"
            };
            let server_cookie = match u.server_cookie {
                Some(i) if self.needs.server_cookie => {
                    self.sys.balancer.conf.conf().servers[i as usize].cookie.as_deref()
                }
                _ => None,
            };
            let uri = match &self.replay {
                Some(rp) if self.needs.uri => rp.paths.get(req as usize).and_then(|p| p.as_deref()).unwrap_or("/"),
                _ => uri,
            };
            let client = ClientInfo {
                addr: u.addr,
                session_cookie,
                uri,
                server_cookie,
            };
            let attempt = &mut self.reqs[req as usize].attempt;
            let picked = self
                .policy
                .pick(&client, &mut self.peers, attempt, now, &mut self.bal_rng);
            let Some(b) = picked else {
                // nginx: 502 "no live upstreams"; HAProxy: 503 "no server available".
                let r = self.reqs.remove(req as usize);
                self.m.no_server(r.arrival);
                self.request_over(req, &r, Outcome::NoServer, now);
                return;
            };
            if self.connect(req, b, now) {
                return;
            }
        }
    }

    /// HAProxy's turn-around timer ran out: the connection is retried on the same server.
    fn retry_same_server(&mut self, req: u32, now: SimTime) {
        let b = self.reqs[req as usize].backend as usize;
        self.peers[b].conns += 1;
        self.policy.server_took_conn(b, &mut self.peers);
        if !self.connect(req, b, now) {
            self.route(req, now);
        }
    }

    /// One attempt of request `req` on backend `b`, which the balancer has counted as a
    /// connection. Returns `false` when the balancer must pick again now.
    fn connect(&mut self, req: u32, b: usize, now: SimTime) -> bool {
        let r = &mut self.reqs[req as usize];
        r.backend = b as u32;
        let arrival = r.arrival;
        match self.state[b] {
            Liveness::Up => {}
            Liveness::Dead => {
                // Connection refused.
                self.m.failed_attempt(b, arrival);
                return self.after_failure(req, b, AttemptOutcome::ConnectError, now);
            }
            Liveness::AppDown => {
                // The web server answers 502 itself.
                self.set_cookie(req, b);
                self.m.failed_attempt(b, arrival);
                return self.after_failure(req, b, AttemptOutcome::Response(502), now);
            }
        }
        self.set_cookie(req, b);
        self.m.routed(b, arrival);
        match self.backends[b].admit(req, now) {
            Admit::Start => {
                let r = &mut self.reqs[req as usize];
                r.on_backend = true;
                if self.track_workers {
                    r.worker = self.free_workers[b].pop().unwrap_or(0);
                }
                self.start_service(req, now)
            }
            Admit::Queued => self.reqs[req as usize].on_backend = true,
            Admit::Rejected => {
                // The backend answers 503 itself: a response, not a failure of the peer.
                self.policy.report(b, true, &mut self.peers, now);
                let r = self.reqs.remove(req as usize);
                self.m.rejected(b, r.arrival);
                self.request_over(req, &r, Outcome::Rejected, now);
            }
        }
        true
    }

    /// The client keeps the `Set-Cookie` of a response (HAProxy cookie insert), unless it
    /// refuses cookies.
    fn set_cookie(&mut self, req: u32, b: usize) {
        if !self.needs.server_cookie {
            return;
        }
        let r = &self.reqs[req as usize];
        let u = &mut self.users[r.user as usize];
        if !u.profile.accepts_cookies {
            return;
        }
        match self.policy.response_cookie(b, &r.attempt) {
            SetCookie::Keep => {}
            SetCookie::Set { .. } => u.server_cookie = u8::try_from(b).ok(),
            SetCookie::Clear { .. } => u.server_cookie = None,
        }
    }

    /// A failed attempt on `b`: tell the balancer, then retry, redispatch or give up as it
    /// would. Returns `false` when the balancer must pick again now.
    fn after_failure(&mut self, req: u32, b: usize, outcome: AttemptOutcome, now: SimTime) -> bool {
        let bal = self.sys.balancer.conf.conf();
        let r = &mut self.reqs[req as usize];
        r.failures += 1;
        let (failures, direct, count, arrival) = (r.failures, r.attempt.direct, r.attempt.count, r.arrival);
        match bal.failure {
            FailurePolicy::Nginx(nu) => {
                let v = nu.verdict(outcome);
                self.policy.report(b, !v.peer_failed, &mut self.peers, now);
                self.note_nginx_detection(b, now);
                if v.next && count < self.max_attempts {
                    self.m.retried(arrival);
                    return false;
                }
                // The last error, or the backend's own 502, reaches the client.
                let r = self.reqs.remove(req as usize);
                self.m.error_502(b, arrival);
                self.request_over(req, &r, Outcome::Error502, now);
                true
            }
            FailurePolicy::Haproxy(h) => {
                self.policy
                    .report(b, outcome != AttemptOutcome::ConnectError, &mut self.peers, now);
                if outcome != AttemptOutcome::ConnectError {
                    // A 502 from the server is a response: HAProxy passes it on.
                    let r = self.reqs.remove(req as usize);
                    self.m.error_502(b, arrival);
                    self.request_over(req, &r, Outcome::Error502, now);
                    return true;
                }
                let active = bal
                    .servers
                    .iter()
                    .zip(&self.peers)
                    .filter(|(s, p)| !s.backup && !s.down && p.up)
                    .count() as u32;
                let known_down = !self.peers[b].up;
                match h.after_failure(
                    failures,
                    direct,
                    known_down,
                    active,
                    bal.haproxy_redispatch_every_retry(),
                ) {
                    RetryAction::Same { delay } => {
                        self.m.retried(arrival);
                        self.q.push(now + delay, Ev::Retry { req });
                        true
                    }
                    RetryAction::Redispatch => {
                        self.m.retried(arrival);
                        false
                    }
                    RetryAction::GiveUp => {
                        let r = self.reqs.remove(req as usize);
                        self.m.error_503(b, arrival);
                        self.request_over(req, &r, Outcome::Error503, now);
                        true
                    }
                }
            }
        }
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
                if lost.is_none() && self.store.rebinds_route() {
                    // JvmRouteBinderValve: the session id now carries this node's route.
                    let b = u8::try_from(r.backend).ok();
                    self.users[r.user as usize].session_node = b;
                }
                if lost.is_some() {
                    // The application answers with its login page; the user must log in again.
                    let u = &mut self.users[r.user as usize];
                    u.needs_login = true;
                    let first = std::mem::replace(&mut u.count_logout, false);
                    let faults = self.m.faults_started();
                    let in_fault = faults > 0 && u.fault_mark < faults;
                    if in_fault {
                        u.fault_mark = faults;
                    }
                    self.m.user_logged_out(first, in_fault);
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
        let logged = match &self.replay {
            Some(rp) => rp.service_ns.get(req as usize).copied().unwrap_or(u64::MAX),
            None => u64::MAX,
        };
        let st = if logged != u64::MAX {
            SimTime(logged)
        } else {
            let mut srng = self.pop.service_rng(u.profile.key, r.index);
            SimTime::from_secs_f64(self.sys.backends[b].service_time.sample(&mut srng))
        };
        // A `slow` fault stretches the service, whether it came from the log or the model.
        let st = if self.slow[b] == 1.0 {
            st
        } else {
            SimTime::from_secs_f64(st.as_secs_f64() * self.slow[b])
        };
        self.q.push(now + st, Ev::Done { req });
    }

    /// The application is done: a login creates the session, a session request writes it back.
    fn done(&mut self, req: u32, now: SimTime) {
        let r = &self.reqs[req as usize];
        if self.replay.is_some() && r.kind == Kind::Session && r.prog.lost.is_some() && !r.prog.locked {
            // Replay folds the re-login into the request that lost its session: the log has
            // no extra request for it, and the user's next logged request must find the new
            // session where this one created it.
            let arrival = r.arrival;
            self.reqs[req as usize].kind = Kind::Relogin;
            if self.m.measured(arrival) {
                self.m.relogins += 1;
            }
        }
        let r = &self.reqs[req as usize];
        match r.kind {
            Kind::Anonymous => return self.finish(req, now),
            Kind::Login | Kind::Relogin => {
                let u = &mut self.users[r.user as usize];
                let old = u.session.take();
                let sid = rng::key(&[self.sid_key, u.profile.key, u.logins as u64]);
                u.logins += 1;
                u.needs_login = false;
                u.login_pending = false;
                u.session = Some(sid);
                u.session_node = u8::try_from(r.backend).ok();
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
        // The operation counter carries over: it picks each store operation's service-time
        // draw, so the write phase's operations must not reuse the read phase's draws.
        let ops = r.prog.ops;
        r.prog = Progress {
            ops,
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
        self.policy.report(b, true, &mut self.peers, now);
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
        if self.draining[b] && self.backends[b].idle() {
            self.stop_drained(b, now);
        }
        self.request_over(req, &r, Outcome::Ok, now);
    }

    /// Request `req` (already removed, as `r`) ended with `outcome`: trace it, then tell its
    /// user.
    #[inline]
    fn request_over(&mut self, req: u32, r: &Req, outcome: Outcome, now: SimTime) {
        if self.tracer.is_some() {
            self.trace(r, outcome, now);
        }
        if let Some(rp) = &mut self.replay {
            if let Some(s) = rp.service_ns.get_mut(req as usize) {
                *s = u64::MAX;
            }
            if let Some(p) = rp.paths.get_mut(req as usize) {
                *p = None;
            }
            return self.replayed_request_ended(r);
        }
        self.request_ended(r.user, now);
    }

    /// Writes the trace row of a request that ended, if it is sampled.
    fn trace(&mut self, r: &Req, outcome: Outcome, now: SimTime) {
        let u = &self.users[r.user as usize];
        let (request, identity) = match self.replay {
            Some(_) => (r.index >> COPY_BITS, [r.index, 0]),
            None => (r.index, [u.profile.key, r.index]),
        };
        let Some(t) = self.tracer.as_deref_mut() else {
            return;
        };
        if !t.keeps(&identity) {
            return;
        }
        let servers = &self.sys.balancer.conf.conf().servers;
        let backend = servers.get(r.backend as usize);
        let reached = matches!(outcome, Outcome::Ok | Outcome::Rejected);
        let looked_up = outcome == Outcome::Ok && (r.kind == Kind::Session || r.prog.lost.is_some());
        let lost = r.prog.lost.filter(|_| looked_up);
        t.row(&TraceRow {
            strategy: self.label,
            replication: self.rep,
            request,
            user: u.profile.id,
            client_ip: u.addr,
            arrival_s: crate::metrics::round6(r.arrival.as_secs_f64()),
            backend_index: backend.map(|_| r.backend),
            backend: backend.map_or("", |s| s.name.as_str()),
            attempts: r.failures + reached as u32,
            outcome: outcome.name(),
            latency_ms: crate::metrics::round6((now - r.arrival).as_millis_f64()),
            session_found: looked_up.then_some(lost.is_none()),
            lost_cause: lost.map(|c| c.column().trim_start_matches("lost_")),
        });
    }

    /// One request of the user's page ended (completed, rejected or unroutable).
    fn request_ended(&mut self, slot: u32, now: SimTime) {
        let u = &mut self.users[slot as usize];
        u.in_flight = u.in_flight.saturating_sub(1);
        if u.in_flight == 0 {
            self.next_step(slot, now);
        }
    }

    /// Reads the next request of the log and schedules its arrival; at the end of the log, or
    /// on an error (which the run's report carries), arrivals stop.
    fn read_ahead(&mut self) {
        let Some(rp) = &mut self.replay else { return };
        rp.next = rp.source.next_request().ok().flatten();
        if let Some(n) = &rp.next
            && n.at < self.sc.duration
        {
            self.q.push(n.at, Ev::Replay);
        }
        // Users whose log session ended leave once their last request is over.
        if rp.source.ended.is_empty() {
            return;
        }
        let ended: Vec<u64> = std::mem::take(&mut rp.source.ended);
        for id in ended {
            let Some(rp) = &mut self.replay else { return };
            let Some(slot) = rp.slots.remove(&id) else { continue };
            let u = &mut self.users[slot as usize];
            u.ended = true;
            if u.in_flight == 0 {
                self.leave(slot);
            }
        }
    }

    /// A request of the log arrives: its user (created at its session's first request) sends
    /// it at once, whatever else the user has in flight (a log is an open stream).
    fn replayed_request(&mut self, now: SimTime) {
        if !self.open {
            return;
        }
        let Some(rp) = &mut self.replay else { return };
        let Some(n) = rp.next.take() else { return };
        let login_on = rp.cfg.login;
        let slot = match rp.slots.get(&n.user) {
            Some(&s) => s,
            None => {
                let profile = self.pop.replay_user(&self.sys.workload, n.user, n.addr, login_on);
                self.m.user_arrived(now);
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
                    addr: n.addr,
                    login_pending: false,
                    ended: false,
                    count_logout: self.m.measured(now),
                    fault_mark: 0,
                }) as u32;
                if let Some(rp) = &mut self.replay {
                    rp.slots.insert(n.user, slot);
                }
                slot
            }
        };
        let u = &mut self.users[slot as usize];
        // With login, a request of a user without a session logs in, unless a login is already
        // in flight: then the client has no session cookie yet and the request goes without.
        let kind = if !login_on {
            Kind::Anonymous
        } else if u.session.is_some() {
            Kind::Session
        } else if u.login_pending {
            Kind::Anonymous
        } else {
            u.login_pending = true;
            if u.logins == 0 { Kind::Login } else { Kind::Relogin }
        };
        u.in_flight += 1;
        let index = (n.line << COPY_BITS) | n.copy as u64;
        let req = self.new_request(slot, kind, index, now);
        if let Some(rp) = &mut self.replay {
            let i = req as usize;
            if rp.service_ns.len() <= i {
                rp.service_ns.resize(i + 1, u64::MAX);
            }
            rp.service_ns[i] = n
                .service_time
                .map_or(u64::MAX, |s| SimTime::from_secs_f64(s).as_nanos());
            if self.needs.uri {
                if rp.paths.len() <= i {
                    rp.paths.resize(i + 1, None);
                }
                rp.paths[i] = n.path.map(String::into_boxed_str);
            }
        }
        self.route(req, now);
        self.read_ahead();
    }

    /// A replayed request ended: the user leaves when its log session is over (or arrivals
    /// have stopped) and nothing of it is in flight. A failed login lets the next request log
    /// in again.
    fn replayed_request_ended(&mut self, r: &Req) {
        let open = self.open;
        let u = &mut self.users[r.user as usize];
        u.in_flight = u.in_flight.saturating_sub(1);
        if matches!(r.kind, Kind::Login | Kind::Relogin) && u.session.is_none() {
            u.login_pending = false;
        }
        if u.in_flight == 0 && (u.ended || !open) {
            let id = u.profile.id;
            if let Some(rp) = &mut self.replay {
                rp.slots.remove(&id);
            }
            self.leave(r.user);
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

/// A replayed request's index is its log line shifted by this, plus its copy number.
const COPY_BITS: u32 = 10;

/// `sid` as 16 lowercase hex digits: the PHPSESSID value nginx's `hash $cookie_PHPSESSID` reads.
#[inline]
fn hex16(sid: u64, buf: &mut [u8; 16]) -> &str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, c) in buf.iter_mut().enumerate() {
        *c = HEX[((sid >> (60 - 4 * i)) & 0xF) as usize];
    }
    std::str::from_utf8(buf).unwrap_or("")
}

/// Longest `<hex16>.<route>` session id rendered; longer routes are cut (Apache's own limit
/// is 63 bytes).
const ROUTED_SID_MAX: usize = 96;

/// `sid` as Tomcat's JSESSIONID with a `jvmRoute`: 16 hex digits, `.`, the route of the
/// server that created the session (Apache `stickysession` reads the suffix).
fn routed_sid<'b>(sid: u64, route: &str, buf: &'b mut [u8; ROUTED_SID_MAX]) -> &'b str {
    let mut hex = [0u8; 16];
    buf[..16].copy_from_slice(hex16(sid, &mut hex).as_bytes());
    buf[16] = b'.';
    let mut n = route.len().min(ROUTED_SID_MAX - 17);
    while !route.is_char_boundary(n) {
        n -= 1;
    }
    buf[17..17 + n].copy_from_slice(&route.as_bytes()[..n]);
    std::str::from_utf8(&buf[..17 + n]).unwrap_or("")
}

/// `/page/<n>`: the URI nginx's `hash $request_uri` reads.
#[inline]
fn page_uri(n: u32, buf: &mut [u8; 16]) -> &str {
    const PREFIX: &[u8] = b"/page/";
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 10];
    let mut k = digits.len();
    let mut v = n;
    loop {
        k -= 1;
        digits[k] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let len = PREFIX.len() + digits.len() - k;
    buf[PREFIX.len()..len].copy_from_slice(&digits[k..]);
    std::str::from_utf8(&buf[..len]).unwrap_or("/")
}

/// The record of a user alive: with a million of them, its size is the workload's memory
/// (README, "Speed"). `Option` is how `slots::Slots` holds it.
const _: () = assert!(std::mem::size_of::<Option<User>>() == 96);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_attributes_render_without_allocating() {
        let mut b = [0u8; 16];
        assert_eq!(hex16(0x0123_4567_89ab_cdef, &mut b), "0123456789abcdef");
        let mut u = [0u8; 16];
        assert_eq!(page_uri(0, &mut u), "/page/0");
        assert_eq!(page_uri(u32::MAX, &mut u), "/page/4294967295");
    }
}
