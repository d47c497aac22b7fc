//! Failures: what breaks, when, and for how long.
//!
//! A scenario lists faults in `[[faults]]`: scheduled ones on a named backend or store server
//! (`crash`, `app_down`, `drain`, `slow`), a `rolling_restart` of every backend, and `random`
//! failures whose times between failures and repair times follow distributions (an alternating
//! renewal process per component). This module turns them into one time-ordered stream of
//! primitive [`Action`]s, and says what each does to a backend ([`backend_effects`]); the
//! simulator carries the effects out on its model. Random
//! failures draw from their own stream, keyed by the component, so compared strategies see the
//! same failures at the same times.

use crate::dist::Dist;
use crate::engine::SimTime;
use crate::engine::rng::{self, ItemRng, Stream};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What a fault happens to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A backend, by its index in the balancer's server list.
    Backend(usize),
    /// A session store server, by its index in the store cluster.
    Store(usize),
}

/// The kinds of fault a scenario can schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// The process dies: in-flight requests fail, local state is lost, the node refuses
    /// connections until it restarts (after `downtime`, or never).
    Crash {
        /// How long the node stays down (`None`: for the rest of the run).
        downtime: Option<SimTime>,
    },
    /// The application dies behind a live web server, which answers 502 itself.
    AppDown {
        /// How long the application stays down (`None`: for the rest of the run).
        downtime: Option<SimTime>,
    },
    /// Graceful: the balancer stops sending new users, in-flight requests finish, then the
    /// node stops; it restarts after `downtime` (or never).
    Drain {
        /// How long the node stays stopped after the drain (`None`: for the rest of the run).
        downtime: Option<SimTime>,
    },
    /// Service times multiplied by `factor` for `duration`.
    Slow {
        /// The multiplier of every service time.
        factor: f64,
        /// How long the slowdown lasts.
        duration: SimTime,
    },
}

/// One scheduled fault.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// When it starts.
    pub at: SimTime,
    /// What it strikes.
    pub target: Target,
    /// What it does.
    pub kind: FaultKind,
}

/// Random failures of a set of components: up for a draw of `mtbf`, down for a draw of
/// `mttr`, again and again.
#[derive(Clone, Debug)]
pub struct RandomFailures {
    /// The components that fail, each on its own schedule.
    pub targets: Vec<Target>,
    /// Time between failures (from repair to the next failure) \[s\].
    pub mtbf: Dist,
    /// Time to repair \[s\].
    pub mttr: Dist,
    /// Whether a failure is a crash (state lost) or an application failure (502s).
    pub app_only: bool,
}

/// Everything a scenario says about failures.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    /// The `[[faults]]` at fixed times, in file order.
    pub scheduled: Vec<Fault>,
    /// The random failures (`[[faults]]` with `mtbf`).
    pub random: Vec<RandomFailures>,
}

impl FaultPlan {
    /// Whether the scenario has no fault at all.
    pub fn is_empty(&self) -> bool {
        self.scheduled.is_empty() && self.random.is_empty()
    }
}

/// A primitive change of state, as the simulator applies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// The process dies.
    Crash,
    /// A dead or stopped process starts again.
    Restart,
    /// The application dies behind its web server.
    AppDown,
    /// The application is back.
    AppUp,
    /// The balancer stops sending new users; the node stops once its requests are done.
    DrainStart,
    /// Service-time factor in thousandths (so that actions stay `Eq` and `Ord`).
    SlowStart {
        /// The service-time factor times 1000.
        factor_milli: u32,
    },
    /// Service times are back to normal.
    SlowEnd,
}

/// One thing an [`Action`] does to a backend. [`backend_effects`] says which, in which order;
/// the simulator carries each out on its model (and schedules what follows), deciding nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Effect {
    /// A fault of this kind starts on the backend (a `faults.csv` row).
    Begin(&'static str),
    /// The balancer knows at once: a drain is the operator's own act.
    KnownAtOnce,
    /// The process stops accepting connections (a crash).
    ProcessDies,
    /// The application dies (`true`) behind a live web server, which answers 502; or comes
    /// back (`false`).
    AppDown(bool),
    /// The requests on the backend fail: the balancer answers 502 and does not retry them.
    KillInFlight,
    /// What the process held in memory or on its disk is gone, without warning (a crash).
    LoseMemory,
    /// Out of the balancer; once its last request is done it stops cleanly (a replicating
    /// node announces that it leaves) and what it held is gone.
    Drain,
    /// Service times multiplied by this factor (1 = normal).
    Slow(f64),
    /// A drained node that has not stopped yet does not stop after all.
    CancelStop,
    /// The stopped process starts again, empty, with idle workers, and rejoins its cluster.
    StartEmpty,
    /// Back in the balancer after a drain.
    Undrain,
    /// The fault on the backend is over (its recovery time in `faults.csv`).
    End,
}

/// What a backend is doing when an action reaches it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackendNow {
    /// Its process is not running (crashed, or stopped after a drain).
    pub stopped: bool,
    /// It is out of the balancer (drained).
    pub drained: bool,
}

/// What `action` does to a backend in state `now`, in the order it happens.
pub fn backend_effects(action: Action, now: BackendNow) -> Vec<Effect> {
    use Effect::*;
    match action {
        Action::Crash => vec![Begin("crash"), ProcessDies, KillInFlight, LoseMemory],
        // The sessions on disk survive an application failure.
        Action::AppDown => vec![Begin("app_down"), AppDown(true), KillInFlight],
        Action::DrainStart => vec![Begin("drain"), KnownAtOnce, Drain],
        Action::SlowStart { factor_milli } => vec![Begin("slow"), Slow(factor_milli as f64 / 1000.0)],
        Action::SlowEnd => vec![Slow(1.0), End],
        Action::AppUp => vec![AppDown(false), End],
        Action::Restart => {
            let mut e = vec![CancelStop];
            if now.stopped {
                e.push(StartEmpty);
            }
            if now.drained {
                e.push(Undrain);
            }
            e.push(End);
            e
        }
    }
}

/// An action at a time on a target, with the index of the fault it comes from (scheduled
/// faults first, in file order; then random failures numbered as they occur).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scheduled {
    /// When it happens.
    pub at: SimTime,
    /// Order among simultaneous actions: the order they were generated in.
    pub seq: u64,
    /// What it happens to.
    pub target: Target,
    /// What happens.
    pub action: Action,
    /// The index of the fault it belongs to.
    pub fault: u32,
    /// For a random failure's repair: the stream that draws its next failure.
    stream: Option<u32>,
}

/// Produces the actions of a plan in time order, lazily for random failures: memory holds one
/// pending failure per component, not the whole run.
pub struct Schedule {
    heap: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    random: Vec<RandomFailures>,
    /// Per (random group, target): the generator of its up and down times.
    streams: Vec<(usize, Target, ItemRng)>,
    next_fault: u32,
    end: SimTime,
}

impl Schedule {
    /// The schedule of `plan` for replication `rep`; nothing is generated at or after `end`.
    pub fn new(plan: &FaultPlan, seed: u64, rep: u32, end: SimTime) -> Self {
        let mut s = Schedule {
            heap: BinaryHeap::new(),
            seq: 0,
            random: plan.random.clone(),
            streams: Vec::new(),
            next_fault: plan.scheduled.len() as u32,
            end,
        };
        for (i, f) in plan.scheduled.iter().enumerate() {
            let i = i as u32;
            let (start, stop) = match &f.kind {
                FaultKind::Crash { downtime } => (Action::Crash, downtime.map(|d| (d, Action::Restart))),
                FaultKind::AppDown { downtime } => (Action::AppDown, downtime.map(|d| (d, Action::AppUp))),
                FaultKind::Drain { downtime } => (Action::DrainStart, downtime.map(|d| (d, Action::Restart))),
                FaultKind::Slow { factor, duration } => (
                    Action::SlowStart {
                        factor_milli: (factor * 1000.0).round().clamp(1.0, u32::MAX as f64) as u32,
                    },
                    Some((*duration, Action::SlowEnd)),
                ),
            };
            s.push(f.at, f.target, start, i, None);
            if let Some((d, a)) = stop {
                s.push(f.at + d, f.target, a, i, None);
            }
        }
        let base = rng::stream_key(seed, rep, Stream::Failures);
        for (g, group) in plan.random.iter().enumerate() {
            for &t in &group.targets {
                let id = match t {
                    Target::Backend(b) => b as u64,
                    Target::Store(k) => (1 << 32) | k as u64,
                };
                // Keyed by group and component, never by position in the run: the same
                // component fails at the same times in every strategy.
                let mut r = rng::item_rng(base, rng::key(&[g as u64, id]));
                let first = SimTime::from_secs_f64(group.mtbf.sample(&mut r));
                s.streams.push((g, t, r));
                s.random_failure(s.streams.len() - 1, first);
            }
        }
        s
    }

    fn push(&mut self, at: SimTime, target: Target, action: Action, fault: u32, stream: Option<u32>) {
        self.heap.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            target,
            action,
            fault,
            stream,
        }));
        self.seq += 1;
    }

    /// Schedules a failure of random stream `idx` at `at`, and its repair.
    fn random_failure(&mut self, idx: usize, at: SimTime) {
        if at >= self.end {
            return;
        }
        let (g, target) = (self.streams[idx].0, self.streams[idx].1);
        let down = SimTime::from_secs_f64(self.random[g].mttr.sample(&mut self.streams[idx].2));
        let fault = self.next_fault;
        self.next_fault += 1;
        let (fail, repair) = if self.random[g].app_only {
            (Action::AppDown, Action::AppUp)
        } else {
            (Action::Crash, Action::Restart)
        };
        self.push(at, target, fail, fault, None);
        self.push(at + down, target, repair, fault, Some(idx as u32));
    }

    /// The time of the next action, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse(s)| s.at)
    }

    /// The next action in time order (FIFO among equal times).
    pub fn next_action(&mut self) -> Option<Scheduled> {
        let Reverse(s) = self.heap.pop()?;
        if let Some(idx) = s.stream {
            let idx = idx as usize;
            let up = SimTime::from_secs_f64(self.random[self.streams[idx].0].mtbf.sample(&mut self.streams[idx].2));
            self.random_failure(idx, s.at + up);
        }
        Some(s)
    }

    /// Faults numbered so far (scheduled ones plus random failures generated).
    pub fn faults(&self) -> u32 {
        self.next_fault
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut Schedule) -> Vec<(SimTime, Target, Action, u32)> {
        std::iter::from_fn(|| s.next_action())
            .map(|a| (a.at, a.target, a.action, a.fault))
            .collect()
    }

    #[test]
    fn scheduled_faults_expand_in_time_order() {
        let t = SimTime::from_secs;
        let plan = FaultPlan {
            scheduled: vec![
                Fault {
                    at: t(100),
                    target: Target::Backend(1),
                    kind: FaultKind::Crash { downtime: Some(t(50)) },
                },
                Fault {
                    at: t(120),
                    target: Target::Backend(0),
                    kind: FaultKind::Slow {
                        factor: 2.5,
                        duration: t(10),
                    },
                },
                Fault {
                    at: t(100),
                    target: Target::Store(0),
                    kind: FaultKind::AppDown { downtime: None },
                },
            ],
            random: vec![],
        };
        let mut s = Schedule::new(&plan, 1, 0, t(1000));
        assert_eq!(
            drain(&mut s),
            vec![
                (t(100), Target::Backend(1), Action::Crash, 0),
                (t(100), Target::Store(0), Action::AppDown, 2),
                (t(120), Target::Backend(0), Action::SlowStart { factor_milli: 2500 }, 1),
                (t(130), Target::Backend(0), Action::SlowEnd, 1),
                (t(150), Target::Backend(1), Action::Restart, 0),
            ]
        );
    }

    #[test]
    fn random_failures_alternate_and_are_common_to_strategies() {
        let plan = FaultPlan {
            scheduled: vec![],
            random: vec![RandomFailures {
                targets: vec![Target::Backend(0), Target::Backend(1)],
                mtbf: Dist::exponential(100.0).unwrap(),
                mttr: Dist::exponential(10.0).unwrap(),
                app_only: false,
            }],
        };
        let end = SimTime::from_secs(200_000);
        let a = drain(&mut Schedule::new(&plan, 5, 0, end));
        let b = drain(&mut Schedule::new(&plan, 5, 0, end));
        assert_eq!(a, b);
        assert_ne!(a, drain(&mut Schedule::new(&plan, 5, 1, end)));
        // Per component: crash, restart, crash, restart, ... and the long-run fraction of time
        // down is MTTR / (MTBF + MTTR) = 10 / 110 (alternating renewal process).
        for comp in [Target::Backend(0), Target::Backend(1)] {
            let mine: Vec<&(SimTime, Target, Action, u32)> = a.iter().filter(|x| x.1 == comp).collect();
            assert!(
                mine.chunks(2)
                    .all(|p| p[0].2 == Action::Crash && p.get(1).is_none_or(|r| r.2 == Action::Restart))
            );
            let down: f64 = mine
                .chunks(2)
                .filter(|p| p.len() == 2)
                .map(|p| (p[1].0 - p[0].0).as_secs_f64())
                .sum();
            let frac = down / end.as_secs_f64();
            // ~1800 cycles: the fraction's standard error is about 0.003.
            assert!((frac - 10.0 / 110.0).abs() < 0.012, "down fraction {frac}");
        }
    }
}

#[cfg(test)]
mod effect_tests {
    use super::Effect::*;
    use super::*;

    #[test]
    fn a_crash_kills_what_is_in_flight_and_loses_memory_an_app_failure_keeps_the_disk() {
        let now = BackendNow::default();
        assert_eq!(
            backend_effects(Action::Crash, now),
            vec![Begin("crash"), ProcessDies, KillInFlight, LoseMemory]
        );
        let app = backend_effects(Action::AppDown, now);
        assert_eq!(app, vec![Begin("app_down"), AppDown(true), KillInFlight]);
        assert!(!app.contains(&LoseMemory));
    }

    #[test]
    fn a_drain_kills_nothing_and_the_balancer_knows_at_once() {
        let e = backend_effects(Action::DrainStart, BackendNow::default());
        assert_eq!(e, vec![Begin("drain"), KnownAtOnce, Drain]);
        assert!(!e.contains(&KillInFlight));
    }

    #[test]
    fn a_restart_starts_only_a_stopped_process_and_undrains_only_a_drained_one() {
        let r = |stopped, drained| backend_effects(Action::Restart, BackendNow { stopped, drained });
        // After a crash: stopped, never drained.
        assert_eq!(r(true, false), vec![CancelStop, StartEmpty, End]);
        // After a drain whose node stopped: both.
        assert_eq!(r(true, true), vec![CancelStop, StartEmpty, Undrain, End]);
        // A drained node still finishing its requests when its downtime ends: it stays up.
        assert_eq!(r(false, true), vec![CancelStop, Undrain, End]);
    }

    #[test]
    fn slow_factors_come_back_from_thousandths() {
        assert_eq!(
            backend_effects(Action::SlowStart { factor_milli: 2500 }, BackendNow::default()),
            vec![Begin("slow"), Slow(2.5)]
        );
        assert_eq!(
            backend_effects(Action::SlowEnd, BackendNow::default()),
            vec![Slow(1.0), End]
        );
    }
}
