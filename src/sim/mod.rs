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
//! resumes through `Ev::Store`.
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
//! Routing (`balancer::router::Router`, asked by `Sim::route`) follows the balancer's own retry rules. A backend is *alive* (its
//! web server accepts connections) or dead (connection refused), and its application is up or
//! down (a live web server answering 502 itself, as nginx in front of a dead PHP-FPM does).
//! nginx: a refused connection counts against the peer (`max_fails`/`fail_timeout`) and the
//! next peer is tried at once, up to one try per server; a 502 is retried only with `http_502`
//! in `proxy_next_upstream`; when tries run out the client gets 502. HAProxy: a refused
//! connection is retried on the same server after `min(timeout connect, 1s)`, redispatched to
//! another as `option redispatch` says, and answered 503 after `retries`; health checks
//! (`Ev::Check`) see each backend's real liveness and mark it down after `fall` failures.
//! Simplifications: a refused connection takes no time; health checks are TCP checks (a live
//! web server passes them even when its application is down) and stop when arrivals stop.

//!
//! The files: this one holds the model's types and the event loop; `request.rs` the life of a
//! request (arrive, route, queue, session read, service, session write, respond, think);
//! `replayed.rs` the arrivals and departures of a replayed log; `outages.rs` what the fault
//! schedule and health checks do to backends and store servers.

use crate::backend::Backend;
use crate::balancer::Attempt;
use crate::balancer::router::Router;
use crate::engine::rng::{self, Stream};
use crate::engine::{EventQueue, SimTime};
use crate::faults::Schedule;
use crate::metrics::RunResult;
use crate::metrics::collector::Collector;
use crate::scenario::{Scenario, System};
use crate::store::{self, Progress, SessionId, SessionStore};
use std::sync::atomic::{AtomicU64, Ordering};

/// Simulated time \[ns\] that the runs of this process have covered so far, summed over runs: a
/// progress counter for the command line (`sessim run`'s progress line reads it). Each run adds
/// its clock's advance every few thousand events and exactly its `duration` in total; nothing
/// in a result depends on it.
pub static SIMULATED_NS: AtomicU64 = AtomicU64::new(0);

/// Events between two updates of [`SIMULATED_NS`].
const PROGRESS_EVERY: u64 = 1 << 14;
use crate::workload::replay::feed::Feed;
use crate::workload::replay::source::ReplayReport;
use crate::workload::{Arrivals, Population, UserProfile};
use slab::Slab;
use std::net::IpAddr;
use trace::Tracer;

mod outages;
mod replayed;
mod request;
mod slots;
#[cfg(test)]
mod tests;
pub mod trace;

/// The events of the model. Small and `Copy`: the queue moves them by value.
#[derive(Clone, Copy, Debug)]
enum Ev {
    /// The next user arrives.
    NextUser,
    /// The next request of a replayed log arrives.
    Replay,
    /// A user sends its next request. `sid` is the session the user held when the event was
    /// scheduled (0: none), a hint for [`Sim::prefetch_ahead`] only.
    Send { user: u32, sid: u64 },
    /// A worker finished the application part of a request (`sid`: as in `Send`).
    Done { req: u32, sid: u64 },
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
    /// Caddy's `lb_try_interval` ran out: the request is routed again.
    Reroute { req: u32 },
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
    /// When the change happens.
    pub at: SimTime,
    /// The backend, in balancer order.
    pub backend: usize,
    /// Its new state.
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
    /// A replayed request that re-logs in releases the lock it took on its lost session
    /// before it creates the new one.
    Release,
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
    progress: Progress,
    /// Admitted by its backend (serving or queued), as opposed to between attempts.
    on_backend: bool,
    /// When its backend last admitted it (serving at once or queued), and when a worker took
    /// it: the wait for a worker is the difference.
    admitted: SimTime,
    started: SimTime,
    /// Killed by a crash while in service: its pending event only removes it.
    dead: bool,
}

/// Where the users and their requests come from, and the per-request draws of the workload.
struct Workload {
    population: Population,
    arrivals: Arrivals,
    /// Number of the next modelled user.
    next_user: u64,
    /// Per class: requests per page, and the share of requests that change the session out of
    /// 2^20.
    parallel: Vec<u32>,
    modify_below: Vec<u32>,
    writes_key: u64,
    session_id_key: u64,
    /// A replayed log, instead of the modelled arrivals.
    replay: Option<Feed>,
}

/// The backends: their queues and workers, and whether each is up.
struct Cluster {
    backends: Vec<Backend>,
    /// Per backend: whether its web server accepts connections and its application answers.
    liveness: Vec<Liveness>,
    /// Free worker ids per backend (a stack) and each backend's first connection index.
    free_workers: Vec<Vec<u32>>,
    worker_base: Vec<u32>,
    /// Only stores with servers (connection limits) need to know which worker runs a request.
    track_workers: bool,
}

/// What the fault schedule is doing to the system now.
struct Outages<'a> {
    /// Liveness changes given by the caller ([`run_with`]).
    changes: &'a [StateChange],
    /// The failure schedule, and per backend: the service-time factor of a `slow` fault,
    /// whether it is taken out of the balancer (`drain`) and still finishing its requests, and
    /// the fault (its `faults.csv` number) affecting it now.
    schedule: Schedule,
    slow: Vec<f64>,
    drained: Vec<bool>,
    draining: Vec<bool>,
    fault_on: Vec<Option<u32>>,
    store_names: Vec<String>,
    /// Per store server: the fault affecting it now.
    store_fault: Vec<Option<u32>>,
}

/// Where the trace rows of the run go.
struct TraceTo<'a> {
    tracer: &'a mut Tracer,
    /// Strategy label and replication, for trace rows.
    label: &'a str,
    replication: u32,
}

struct Sim<'a> {
    scenario: &'a Scenario,
    system: &'a System,
    queue: EventQueue<Ev>,
    workload: Workload,
    users: slots::Slots<User>,
    requests: Slab<Req>,
    cluster: Cluster,
    router: Router<'a>,
    store: Box<dyn SessionStore>,
    /// Requests a store call handed a lock to (reused buffer).
    woken: Vec<u32>,
    outages: Outages<'a>,
    metrics: Collector,
    /// Per backend: serving and in the balancer, for the time series (reused buffer).
    up_buf: Vec<bool>,
    /// Arrivals go on (the scenario's duration is not reached).
    open: bool,
    events: u64,
    trace: Option<TraceTo<'a>>,
}

/// Why a run could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The replayed log cannot be opened or read from the start; the message names it.
    #[error("{0}")]
    ReplayLog(String),
}

/// One run's results, and what reading its replayed log found (`None` without replay).
#[derive(Clone, Debug)]
pub struct Run {
    /// The metrics of the run.
    pub result: RunResult,
    /// Malformed lines, or the error that stopped the log, of a replayed workload.
    pub replay: Option<ReplayReport>,
}

/// Runs strategy `strategy` of `sc`, replication `rep`.
pub fn run(sc: &Scenario, strategy: usize, rep: u32) -> Result<Run, RunError> {
    run_with(sc, strategy, rep, &[])
}

/// Runs strategy `strategy` of `sc`, replication `rep`, with backends changing state at the
/// given times (changes at the same time apply in the order given, before anything else
/// happening then). Backend indices past the last backend are ignored.
pub fn run_with(sc: &Scenario, strategy: usize, rep: u32, changes: &[StateChange]) -> Result<Run, RunError> {
    run_traced(sc, strategy, rep, changes, None)
}

/// [`run_with`], writing a row per (sampled) request to `tracer`. Tracing changes no result.
/// A replayed log that cannot be opened is an error; its later problems (malformed lines, the
/// error that stopped it) are in [`Run::replay`].
pub fn run_traced<'a>(
    sc: &'a Scenario,
    strategy: usize,
    rep: u32,
    changes: &'a [StateChange],
    tracer: Option<&'a mut Tracer>,
) -> Result<Run, RunError> {
    let system = &sc.strategies[strategy].system;
    let seed = sc.seed;
    let n = system.backends.len();
    let mut worker_base = Vec::with_capacity(n);
    let mut connections = 0u32;
    for b in &system.backends {
        worker_base.push(connections);
        connections = connections.saturating_add(b.workers);
    }
    let env = store::Env {
        backends: n,
        connections,
        seed,
        rep,
        warmup: sc.warmup,
        duration: sc.duration,
        bucket: sc.bucket,
    };
    let replay = match system.workload.replay.as_ref() {
        None => None,
        Some(cfg) => Some(Feed::open(cfg).map_err(RunError::ReplayLog)?),
    };
    let router = Router::new(&system.balancer.conf, rng::stream(seed, rep, Stream::Balancer));
    let label = &sc.strategies[strategy].label;
    let mut sim = Sim {
        scenario: sc,
        system,
        queue: EventQueue::new(),
        workload: Workload {
            population: Population::new(&system.workload, seed, rep),
            arrivals: Arrivals::new(&system.workload, seed, rep),
            next_user: 0,
            parallel: system.workload.classes.iter().map(|c| c.parallel).collect(),
            modify_below: system
                .workload
                .classes
                .iter()
                .map(|c| (c.session_modify * (1u32 << 20) as f64).round() as u32)
                .collect(),
            writes_key: rng::stream_key(seed, rep, Stream::SessionWrites),
            session_id_key: rng::stream_key(seed, rep, Stream::SessionIds),
            replay,
        },
        users: slots::Slots::with_capacity(1024),
        requests: Slab::with_capacity(1024),
        cluster: Cluster {
            backends: system
                .backends
                .iter()
                .map(|b| Backend::new(b.workers, b.queue))
                .collect(),
            liveness: vec![Liveness::Up; n],
            free_workers: system.backends.iter().map(|b| (0..b.workers).rev().collect()).collect(),
            worker_base,
            track_workers: store::tracks_workers(&system.sessions),
        },
        router,
        store: store::build(&system.sessions, env),
        woken: Vec::new(),
        outages: Outages {
            changes,
            schedule: Schedule::new(&system.faults, seed, rep, sc.duration),
            slow: vec![1.0; n],
            drained: vec![false; n],
            draining: vec![false; n],
            fault_on: vec![None; n],
            store_names: store::server_names(&system.sessions),
            store_fault: Vec::new(),
        },
        metrics: Collector::new(n, sc.warmup, sc.bucket),
        up_buf: vec![true; n],
        open: true,
        events: 0,
        trace: tracer.map(|tracer| TraceTo {
            tracer,
            label,
            replication: rep,
        }),
    };
    sim.start();
    let mut reported = SimTime::ZERO;
    while let Some((now, ev)) = sim.queue.pop() {
        sim.events += 1;
        if sim.events.is_multiple_of(PROGRESS_EVERY) {
            let t = now.min(sc.duration);
            if t > reported {
                SIMULATED_NS.fetch_add((t - reported).as_nanos(), Ordering::Relaxed);
                reported = t;
            }
        }
        sim.prefetch_ahead();
        sim.handle(now, ev);
    }
    if sc.duration > reported {
        SIMULATED_NS.fetch_add((sc.duration - reported).as_nanos(), Ordering::Relaxed);
    }
    // Every pick was reported exactly once: the balancer's connection counts are back to 0.
    debug_assert!(sim.router.all_released(), "connection counts leaked");
    // Every lock taken was released (a crash may leave one behind, as a killed PHP worker
    // leaves its lock key to expire).
    debug_assert!(
        sim.store.locks_held() == 0 || sim.metrics.faults_started() > 0 || !changes.is_empty(),
        "session locks leaked"
    );
    let held: Vec<u64> = (0..n).map(|b| sim.store.held_by(b)).collect();
    let totals = sim.store.totals();
    let servers = sim.store.servers((sc.warmup, sc.duration));
    let replay = sim.workload.replay.as_ref().map(Feed::report);
    let mut result = sim.metrics.finish(
        (&sc.name, label, rep, seed),
        strategy,
        &system.backends,
        &held,
        sc.duration - sc.warmup,
        sim.events,
        &totals,
        &servers,
    );
    crate::cost::apply(&mut result.summary, system, (sc.duration - sc.warmup).as_secs_f64());
    Ok(Run { result, replay })
}

/// How many of the next events [`Sim::prefetch_ahead`] looks at.
const PREFETCH_AHEAD: usize = 4;

/// [`Sim::prefetch_ahead`] only pays when the users alive outgrow the cache: below this many
/// user slots (6 MiB of records) it is skipped.
const PREFETCH_FROM: usize = 1 << 16;

impl Sim<'_> {
    /// What the next events will read is most likely not in the cache (a million users, each
    /// touched every few minutes; millions of sessions): start loading it while this event is
    /// handled, as a pipeline in which each stage reads only what was asked for one event
    /// earlier. A `Send` or `Done` carries its user's session id, so the index entry needs no
    /// user record first. The events two and more ahead: their user records. The event after
    /// this one: its session's index entry (and its user record). The event after that: it was
    /// the one after this one when the previous event was handled, so its index entry has
    /// arrived: its session item. A session read (`Cluster::lookup` at a `Send`) or write
    /// (`Cluster::store` at a `Done`) then finds the entry and the item in the cache instead
    /// of waiting for one DRAM miss after the other. Hints only: no result depends on them.
    #[inline]
    fn prefetch_ahead(&self) {
        if self.users.slots() < PREFETCH_FROM {
            return;
        }
        for (i, ev) in self.queue.peek_ahead(PREFETCH_AHEAD).enumerate() {
            let (user, sid) = match *ev {
                Ev::Send { user, sid } => (user, sid),
                Ev::Done { req, sid } => match self.requests.get(req as usize) {
                    Some(r) => (r.user, sid),
                    None => continue,
                },
                Ev::Store { req } => match self.requests.get(req as usize) {
                    Some(r) => (r.user, 0),
                    None => continue,
                },
                _ => continue,
            };
            match i {
                0 if sid != 0 => self.store.prefetch_item(sid),
                0 => {}
                1 => {
                    if sid != 0 {
                        self.store.prefetch(sid);
                    }
                    self.users.prefetch(user);
                }
                _ => self.users.prefetch(user),
            }
        }
    }

    fn start(&mut self) {
        for c in self.outages.changes {
            if c.backend < self.cluster.backends.len() {
                self.queue.push(
                    c.at,
                    Ev::Liveness {
                        backend: c.backend as u32,
                        state: c.state,
                    },
                );
            }
        }
        for (b, first) in self.router.start_checks() {
            self.queue.push(first, Ev::Check { backend: b as u32 });
        }
        if let Some(t) = self.outages.schedule.peek_time() {
            self.queue.push(t, Ev::Fault);
        }
        if self.workload.replay.is_some() {
            self.read_ahead();
        } else if let Some(t) = self.workload.arrivals.next_arrival() {
            self.queue.push(t, Ev::NextUser);
        }
        if self.scenario.warmup > SimTime::ZERO {
            self.queue.push(self.scenario.warmup, Ev::WarmupEnd);
        }
        if self.scenario.bucket < self.scenario.duration {
            self.queue.push(self.scenario.bucket, Ev::Tick);
        }
        self.queue.push(self.scenario.duration, Ev::Close);
    }

    #[inline]
    fn handle(&mut self, now: SimTime, ev: Ev) {
        match ev {
            Ev::NextUser => self.user_arrives(now),
            Ev::Replay => self.replayed_request(now),
            Ev::Send { user, .. } => self.send(user, now),
            Ev::Done { req, .. } | Ev::Store { req } if self.requests[req as usize].dead => {
                self.requests.remove(req as usize);
            }
            Ev::Done { req, .. } => self.app_done(req, now),
            Ev::Store { req } => match self.requests[req as usize].phase {
                Phase::Read => self.session_read(req, now),
                Phase::Write => self.session_write(req, now),
                Phase::Release => self.release_lost(req, now),
            },
            Ev::WarmupEnd => self.metrics.warmup_ended(&self.cluster.backends, now),
            Ev::Tick => {
                self.close_bucket(now);
                let next = now + self.scenario.bucket;
                if next < self.scenario.duration {
                    self.queue.push(next, Ev::Tick);
                }
            }
            Ev::Close => {
                // Ticks fall strictly before the duration, so the last bucket (possibly shorter
                // than the others) is still open here.
                self.close_bucket(now);
                self.metrics.run_ended(&self.cluster.backends, now);
                self.open = false;
            }
            Ev::Retry { req } => self.retry_same_server(req, now),
            Ev::Reroute { req } => self.route(req, now),
            Ev::Check { backend } => self.health_check(backend as usize, now),
            Ev::Fault => {
                while self.outages.schedule.peek_time().is_some_and(|t| t <= now) {
                    if let Some(a) = self.outages.schedule.next_action() {
                        self.apply_fault(a, now);
                    }
                }
                if let Some(t) = self.outages.schedule.peek_time() {
                    self.queue.push(t, Ev::Fault);
                }
            }
            Ev::Liveness { backend, state } => {
                let b = backend as usize;
                self.set_backend_alive(b, state != Liveness::Dead);
                self.set_app_down(b, state == Liveness::AppDown);
            }
        }
    }

    fn close_bucket(&mut self, now: SimTime) {
        for (b, up) in self.up_buf.iter_mut().enumerate() {
            *up = self.cluster.liveness[b] == Liveness::Up && !self.outages.drained[b];
        }
        self.metrics.close_bucket(&self.cluster.backends, &self.up_buf, now);
    }
}

/// The record of a user alive: with a million of them, its size is the workload's memory
/// (README, "Speed"). `Option` is how `slots::Slots` holds it.
const _: () = assert!(std::mem::size_of::<Option<User>>() == 96);
