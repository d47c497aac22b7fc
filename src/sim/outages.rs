//! What failures do to the system: the fault schedule's actions on backends and store
//! servers, liveness changes, and HAProxy's health checks seeing them.

use super::trace::Outcome;
use super::{Liveness, Sim};
use crate::engine::SimTime;
use crate::faults::{self, Action, BackendNow, Effect, Scheduled, Target};

impl Sim<'_> {
    /// The backend's web server starts (`alive`) or stops accepting connections; a backend that
    /// comes back has its application up. Requests already on it are not touched: what a crash
    /// does to them is the fault model's business.
    pub(super) fn set_backend_alive(&mut self, b: usize, alive: bool) {
        if let Some(s) = self.cluster.liveness.get_mut(b) {
            *s = if alive { Liveness::Up } else { Liveness::Dead };
        }
    }

    /// The application of a live backend stops (`down`: its web server answers every request
    /// with 502) or comes back. No effect on a dead backend.
    pub(super) fn set_app_down(&mut self, b: usize, down: bool) {
        if let Some(s) = self.cluster.liveness.get_mut(b)
            && *s != Liveness::Dead
        {
            *s = if down { Liveness::AppDown } else { Liveness::Up };
        }
    }

    /// An HAProxy health check (a TCP connect) of backend `b` completes: it passes when the
    /// backend accepts connections. Checks stop once arrivals stop.
    pub(super) fn health_check(&mut self, b: usize, now: SimTime) {
        let ok = self.cluster.liveness[b] != Liveness::Dead;
        let Some((change, next)) = self.router.health_check(b, ok, now) else {
            return;
        };
        if change == Some(false)
            && let Some(f) = self.outages.fault_on[b]
        {
            self.metrics.fault_detected(f, now);
        }
        if self.open {
            self.queue.push(next, super::Ev::Check { backend: b as u32 });
        }
    }

    /// Carries out one action of the fault schedule: the effects [`faults::backend_effects`]
    /// lists, in its order.
    pub(super) fn apply_fault(&mut self, a: Scheduled, now: SimTime) {
        let b = match a.target {
            Target::Backend(b) if b < self.cluster.backends.len() => b,
            Target::Backend(_) => return,
            Target::Store(k) => return self.apply_store_fault(k, a.action, now),
        };
        let state = BackendNow {
            stopped: self.cluster.liveness[b] == Liveness::Dead,
            drained: self.outages.drained[b],
        };
        for effect in faults::backend_effects(a.action, state) {
            self.apply_effect(b, effect, now);
        }
    }

    fn apply_effect(&mut self, b: usize, effect: Effect, now: SimTime) {
        match effect {
            Effect::Begin(kind) => {
                let name = self.system.backends[b].name.clone();
                self.outages.fault_on[b] = Some(self.metrics.fault_started(kind, name, now));
            }
            Effect::KnownAtOnce => {
                if let Some(f) = self.outages.fault_on[b] {
                    self.metrics.fault_detected(f, now);
                }
            }
            Effect::ProcessDies => self.set_backend_alive(b, false),
            Effect::AppDown(down) => self.set_app_down(b, down),
            Effect::KillInFlight => self.kill_in_flight(b, now),
            Effect::LoseMemory => self.store.crash_node(b, now),
            Effect::Drain => {
                // No new requests; those already queued or served finish; then it stops.
                self.outages.drained[b] = true;
                self.outages.draining[b] = true;
                self.router.set_server_up(b, false);
                if self.cluster.backends[b].idle() {
                    self.stop_drained(b, now);
                }
            }
            Effect::Slow(factor) => self.outages.slow[b] = factor,
            Effect::CancelStop => self.outages.draining[b] = false,
            Effect::StartEmpty => {
                self.set_backend_alive(b, true);
                if self.cluster.track_workers {
                    self.cluster.free_workers[b] = (0..self.system.backends[b].workers).rev().collect();
                }
                self.store.restart_node(b, now);
            }
            Effect::Undrain => {
                self.outages.drained[b] = false;
                self.router.set_server_up(b, true);
            }
            Effect::End => self.recovered(b, now),
        }
    }

    /// A store server crashes, losing what its persistence setting loses, and refuses
    /// connections until it restarts.
    fn apply_store_fault(&mut self, k: usize, action: Action, now: SimTime) {
        match action {
            Action::Crash => {
                let name = self
                    .outages
                    .store_names
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| format!("store{}", k + 1));
                let f = self.metrics.fault_started("crash", name, now);
                let len = self.outages.store_names.len().max(k + 1);
                self.outages.store_fault.resize(len, None);
                self.outages.store_fault[k] = Some(f);
                self.store.crash_server(k, now);
                self.store.set_server_down(k, true);
            }
            Action::Restart => {
                self.store.set_server_down(k, false);
                if let Some(f) = self.outages.store_fault.get_mut(k).and_then(Option::take) {
                    self.metrics.fault_recovered(f, now);
                }
            }
            _ => {}
        }
    }

    fn recovered(&mut self, b: usize, now: SimTime) {
        if let Some(f) = self.outages.fault_on[b].take() {
            self.metrics.fault_recovered(f, now);
        }
    }

    /// A drained server has finished its last request: it stops, and with it what it held
    /// in memory or on its disk (a deploy replaces the server).
    pub(super) fn stop_drained(&mut self, b: usize, now: SimTime) {
        self.outages.draining[b] = false;
        self.set_backend_alive(b, false);
        self.store.stop_node(b, now);
    }

    /// Requests on backend `b` die with it: the balancer answers 502 and does not retry them
    /// elsewhere (a request already passed to a server is not idempotent to nginx's default
    /// `proxy_next_upstream`; HAProxy does not redispatch a request it has sent either).
    fn kill_in_flight(&mut self, b: usize, now: SimTime) {
        let queued = self.cluster.backends[b].reset(now);
        let victims: Vec<u32> = self
            .requests
            .iter()
            .filter(|(_, r)| r.on_backend && !r.dead && r.backend == b as u32)
            .map(|(k, _)| k as u32)
            .collect();
        for req in victims {
            let r = if queued.contains(&req) {
                // Waiting in the queue: no event refers to it.
                self.requests.remove(req as usize)
            } else {
                // In service: its pending event will only remove it.
                let r = &mut self.requests[req as usize];
                r.dead = true;
                r.clone()
            };
            self.router.release(b, false, now);
            self.metrics.killed(b, r.arrival);
            self.request_over(req, &r, Outcome::Error502, now);
        }
        self.note_nginx_detection(b, now);
        if self.cluster.track_workers {
            self.cluster.free_workers[b].clear();
        }
    }

    /// nginx notices a failed server when its failures reach `max_fails`: the fault on it
    /// is detected.
    pub(super) fn note_nginx_detection(&mut self, b: usize, now: SimTime) {
        if let Some(f) = self.outages.fault_on[b]
            && self.router.nginx_detected(b)
        {
            self.metrics.fault_detected(f, now);
        }
    }
}
