//! A backend server: a pool of workers and a bounded queue in front of it.
//!
//! It tracks the time integrals of busy workers and queue length, so utilisation and mean
//! queue length over any window are exact (work conservation), not sampled.

use crate::engine::SimTime;
use std::collections::VecDeque;

/// What happened to a request offered to a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    /// A worker was free: start it now.
    Start,
    /// All workers busy: the request waits in the queue.
    Queued,
    /// The queue is full: the request is rejected.
    Rejected,
}

pub(crate) struct Backend {
    pub(crate) workers: u32,
    pub(crate) queue_cap: u32,
    pub(crate) busy: u32,
    queue: VecDeque<u32>,
    last: SimTime,
    /// Integral of busy workers over time [worker-ns].
    busy_area: u128,
    /// Integral of queue length over time [request-ns].
    queue_area: u128,
}

impl Backend {
    pub(crate) fn new(workers: u32, queue_cap: u32) -> Self {
        Backend {
            workers,
            queue_cap,
            busy: 0,
            queue: VecDeque::with_capacity(queue_cap.min(1024) as usize),
            last: SimTime::ZERO,
            busy_area: 0,
            queue_area: 0,
        }
    }

    #[inline]
    fn advance(&mut self, now: SimTime) {
        let dt = (now - self.last).as_nanos() as u128;
        self.busy_area += self.busy as u128 * dt;
        self.queue_area += self.queue.len() as u128 * dt;
        self.last = now;
    }

    /// Offers request `req` to the backend at `now`.
    #[inline]
    pub(crate) fn admit(&mut self, req: u32, now: SimTime) -> Admit {
        self.advance(now);
        if self.busy < self.workers {
            self.busy += 1;
            Admit::Start
        } else if (self.queue.len() as u32) < self.queue_cap {
            self.queue.push_back(req);
            Admit::Queued
        } else {
            Admit::Rejected
        }
    }

    /// A worker finished at `now`; returns the queued request it starts next, if any.
    #[inline]
    pub(crate) fn finish(&mut self, now: SimTime) -> Option<u32> {
        self.advance(now);
        match self.queue.pop_front() {
            Some(next) => Some(next),
            None => {
                self.busy -= 1;
                None
            }
        }
    }

    /// Integrals up to `now` without changing state: (busy worker-ns, queued request-ns).
    pub(crate) fn areas_at(&self, now: SimTime) -> (u128, u128) {
        let dt = (now - self.last).as_nanos() as u128;
        (
            self.busy_area + self.busy as u128 * dt,
            self.queue_area + self.queue.len() as u128 * dt,
        )
    }

    /// The server dies at `now`: no worker busy, nobody waiting. Returns the requests that were
    /// waiting in the queue (those in service are the caller's to account for).
    pub(crate) fn reset(&mut self, now: SimTime) -> Vec<u32> {
        self.advance(now);
        self.busy = 0;
        self.queue.drain(..).collect()
    }

    /// No request in service or waiting.
    pub(crate) fn idle(&self) -> bool {
        self.busy == 0 && self.queue.is_empty()
    }
}

impl crate::metrics::sources::WorkerAreas for Backend {
    fn areas_at(&self, now: SimTime) -> (u128, u128) {
        Backend::areas_at(self, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_then_queue_then_reject() {
        let mut b = Backend::new(2, 1);
        let t = SimTime::from_secs;
        assert_eq!(b.admit(1, t(0)), Admit::Start);
        assert_eq!(b.admit(2, t(0)), Admit::Start);
        assert_eq!(b.admit(3, t(1)), Admit::Queued);
        assert_eq!(b.admit(4, t(1)), Admit::Rejected);
        assert_eq!(b.finish(t(2)), Some(3), "the queued request takes the freed worker");
        assert_eq!(b.finish(t(3)), None);
        assert_eq!(b.busy, 1);
        // Busy: 2 workers over 0..3 s, then 1 over 3..4 s = 7 worker-seconds.
        // Queue: 1 request over 1..2 s = 1 request-second.
        let (busy, queue) = b.areas_at(t(4));
        assert_eq!(busy, 7 * 1_000_000_000);
        assert_eq!(queue, 1_000_000_000);
    }
}
