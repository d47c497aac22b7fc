//! A store server as a queueing resource: `concurrency` slots and one FIFO queue, like a
//! [`crate::backend::Backend`], but with every operation's start and end computed when it is
//! issued.
//!
//! That is exact for a first-come-first-served server whose operations are never withdrawn
//! (a server runs a command even after its client has given up waiting): an operation starts
//! when the earliest of the `concurrency` slots is free and it is the oldest waiting, which is
//! Lindley's recursion for c servers. So an operation needs no event of its own, its client
//! learns at once whether it will time out, and ops of one key are processed in the order they
//! were issued (what lets the stores apply an operation's effect when it is issued).
//!
//! The network round trip is added after service: shifting every arrival by the same half
//! round trip changes no queue. An operation whose client gives up before it starts is
//! withdrawn (it takes no server time); that too is known when it is issued, since its start
//! depends only on earlier operations.

use crate::engine::SimTime;
use hdrhistogram::Histogram;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What the client of an operation sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpResult {
    /// The reply arrives at this time.
    Ok(SimTime),
    /// The client gives up at this time; the server had started the operation, so it runs
    /// it to the end (its effect happens).
    Timeout(SimTime),
    /// The client gives up at this time before the server started the operation: its closed
    /// connection is dropped unread (Redis frees a disconnected client with its pending
    /// query), so the operation never runs and takes no server time.
    Dropped(SimTime),
    /// The connection was refused (over the server's connection limit); known at this time.
    Refused(SimTime),
}

impl OpResult {
    pub(crate) fn at(self) -> SimTime {
        match self {
            OpResult::Ok(t) | OpResult::Timeout(t) | OpResult::Dropped(t) | OpResult::Refused(t) => t,
        }
    }
}

const CONN_UNKNOWN: u8 = 0;
const CONN_OPEN: u8 = 1;
const CONN_REFUSED: u8 = 2;

pub(crate) struct Station {
    pub(crate) concurrency: u32,
    /// When each busy slot becomes free (at most `concurrency` entries).
    free_at: BinaryHeap<Reverse<u64>>,
    window: (u64, u64),
    busy_ns: u128,
    bucket_ns: u64,
    buckets: Vec<u64>,
    pub(crate) ops: u64,
    wait_ns: u128,
    latency_ns: u128,
    hist: Histogram<u64>,
    pub(crate) rejected: u64,
    pub(crate) timeouts: u64,
    conns: Vec<u8>,
    max_conns: u32,
    pub(crate) open_conns: u64,
    pub(crate) refused_conns: u64,
}

impl Station {
    /// `connections`: client connections there can be (workers of all backends);
    /// `max_conns`: how many the server accepts (0 = all). Busy time is measured over
    /// `window` and per `bucket` from time zero.
    pub(crate) fn new(
        concurrency: u32,
        connections: u32,
        max_conns: u32,
        window: (SimTime, SimTime),
        bucket: SimTime,
    ) -> Self {
        let nb = (window.1.as_nanos() / bucket.as_nanos().max(1) + 1).min(200_000) as usize;
        Station {
            concurrency,
            free_at: BinaryHeap::with_capacity(concurrency.min(4096) as usize),
            window: (window.0.as_nanos(), window.1.as_nanos()),
            busy_ns: 0,
            bucket_ns: bucket.as_nanos().max(1),
            buckets: vec![0; nb],
            ops: 0,
            wait_ns: 0,
            latency_ns: 0,
            // 100 ns to 1 day, 3 significant digits.
            hist: Histogram::new_with_bounds(1, 86_400_000_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).expect("3 digits is valid")),
            rejected: 0,
            timeouts: 0,
            conns: vec![CONN_UNKNOWN; connections as usize],
            max_conns,
            open_conns: 0,
            refused_conns: 0,
        }
    }

    /// Whether the worker's persistent connection `conn` is (or can be) open. The first
    /// `max_conns` workers to connect are accepted and keep their connection; later ones are
    /// refused on every attempt (memcached: `ERROR Too many open connections`).
    fn connect(&mut self, conn: u32) -> bool {
        let Some(state) = self.conns.get_mut(conn as usize) else {
            return true;
        };
        match *state {
            CONN_OPEN => true,
            CONN_REFUSED => false,
            _ => {
                if self.max_conns == 0 || self.open_conns < self.max_conns as u64 {
                    *state = CONN_OPEN;
                    self.open_conns += 1;
                    true
                } else {
                    *state = CONN_REFUSED;
                    self.refused_conns += 1;
                    false
                }
            }
        }
    }

    /// Queues an operation of `service` issued at `now`: returns its (start, end).
    pub(crate) fn serve(&mut self, now: SimTime, service: SimTime) -> (SimTime, SimTime) {
        let now = now.as_nanos();
        let start = if (self.free_at.len() as u32) < self.concurrency {
            now
        } else {
            match self.free_at.pop() {
                Some(Reverse(free)) => free.max(now),
                None => now,
            }
        };
        let end = start.saturating_add(service.as_nanos());
        self.free_at.push(Reverse(end));
        // Busy time inside the measured window, and per bucket.
        let (w0, w1) = self.window;
        let (a, b) = (start.max(w0), end.min(w1));
        if b > a {
            self.busy_ns += (b - a) as u128;
        }
        let mut t = start;
        while t < end {
            let k = (t / self.bucket_ns) as usize;
            if k >= self.buckets.len() {
                break;
            }
            let edge = ((k as u64 + 1) * self.bucket_ns).min(end);
            self.buckets[k] += edge - t;
            t = edge;
        }
        (SimTime(start), SimTime(end))
    }

    /// One operation of a client on connection `conn`, issued at `now`.
    pub(crate) fn op(
        &mut self,
        conn: u32,
        now: SimTime,
        service: SimTime,
        rtt: SimTime,
        timeout: SimTime,
        measured: bool,
    ) -> OpResult {
        if !self.connect(conn) {
            self.rejected += measured as u64;
            return OpResult::Refused(now + rtt);
        }
        let start = if (self.free_at.len() as u32) < self.concurrency {
            now
        } else {
            self.free_at.peek().map(|r| SimTime(r.0)).unwrap_or(now).max(now)
        };
        if start - now > timeout {
            if measured {
                self.ops += 1;
                self.timeouts += 1;
                self.wait_ns += timeout.as_nanos() as u128;
                self.latency_ns += timeout.as_nanos() as u128;
                self.hist.saturating_record(timeout.as_nanos().max(1));
            }
            return OpResult::Dropped(now + timeout);
        }
        let (start, end) = self.serve(now, service);
        let reply = end + rtt;
        let took = reply - now;
        if measured {
            // The client's view: it stops waiting at its timeout.
            let seen = took.min(timeout);
            self.ops += 1;
            self.wait_ns += (start - now).as_nanos() as u128;
            self.latency_ns += seen.as_nanos() as u128;
            self.hist.saturating_record(seen.as_nanos().max(1));
        }
        if took > timeout {
            self.timeouts += measured as u64;
            OpResult::Timeout(now + timeout)
        } else {
            OpResult::Ok(reply)
        }
    }

    /// (utilisation, mean queue wait [ms], mean latency [ms], p99 latency [ms]) over the window.
    pub(crate) fn summary(&self) -> (f64, f64, f64, f64) {
        let (w0, w1) = self.window;
        let avail = (w1.saturating_sub(w0)) as f64 * self.concurrency as f64;
        let util = if avail > 0.0 { self.busy_ns as f64 / avail } else { 0.0 };
        let n = self.ops.max(1) as f64;
        let p99 = if self.hist.is_empty() {
            0.0
        } else {
            self.hist.value_at_quantile(0.99) as f64 / 1e6
        };
        (
            util,
            self.wait_ns as f64 / n / 1e6,
            self.latency_ns as f64 / n / 1e6,
            p99,
        )
    }

    /// Busy fraction of each bucket up to `end` (the last bucket may be shorter).
    pub(crate) fn bucket_utilization(&self, end: SimTime) -> Vec<f64> {
        let end = end.as_nanos();
        let n = end.div_ceil(self.bucket_ns) as usize;
        (0..n.min(self.buckets.len()))
            .map(|k| {
                let start = k as u64 * self.bucket_ns;
                let width = (end.min(start + self.bucket_ns) - start).max(1) as f64;
                self.buckets[k] as f64 / (width * self.concurrency as f64)
            })
            .collect()
    }

    /// Latency histogram (merged across servers for the summary's p99).
    pub(crate) fn hist(&self) -> &Histogram<u64> {
        &self.hist
    }

    pub(crate) fn wait_ns(&self) -> u128 {
        self.wait_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> SimTime {
        SimTime::from_millis(x)
    }

    #[test]
    fn fifo_with_two_slots_by_hand() {
        // Two slots, ops of 10 ms issued at 0, 0, 0, 5: the third waits for the first slot
        // (starts at 10), the fourth for the second (starts at 10 too, issued later: FIFO).
        let mut s = Station::new(2, 4, 0, (ms(0), ms(100)), ms(10));
        assert_eq!(s.serve(ms(0), ms(10)), (ms(0), ms(10)));
        assert_eq!(s.serve(ms(0), ms(10)), (ms(0), ms(10)));
        assert_eq!(s.serve(ms(0), ms(10)), (ms(10), ms(20)));
        assert_eq!(s.serve(ms(5), ms(10)), (ms(10), ms(20)));
        // Busy 40 ms of 2 x 100 ms available.
        assert!((s.summary().0 - 0.2).abs() < 1e-12);
        // Buckets of 10 ms: 2 slots busy in [0, 10) and [10, 20).
        let b = s.bucket_utilization(ms(30));
        assert_eq!(b, vec![1.0, 1.0, 0.0]);
    }

    #[test]
    fn timeouts_and_refused_connections() {
        // One slot, 1 s ops, 1.5 s timeout, 1 ms round trip: the second op replies at 2.001 s
        // after being issued at 0: the client gives up at 1.5 s.
        let mut s = Station::new(1, 3, 2, (ms(0), ms(10_000)), ms(1000));
        let (sec, rtt, to) = (SimTime::from_secs(1), ms(1), ms(1500));
        assert_eq!(s.op(0, ms(0), sec, rtt, to, true), OpResult::Ok(ms(1001)));
        assert_eq!(s.op(1, ms(0), sec, rtt, to, true), OpResult::Timeout(ms(1500)));
        // A third op would start at 2 s, after its client gave up at 1.5 s: never run.
        assert_eq!(s.op(0, ms(0), sec, rtt, to, true), OpResult::Dropped(ms(1500)));
        assert_eq!(s.serve(ms(0), SimTime::ZERO).0, ms(2000), "the dropped op took no time");
        // A third worker is over the limit of 2 connections: refused, every time.
        assert_eq!(s.op(2, ms(0), sec, rtt, to, true), OpResult::Refused(ms(1)));
        assert_eq!(s.op(2, ms(5000), sec, rtt, to, true), OpResult::Refused(ms(5001)));
        assert_eq!(
            (s.ops, s.timeouts, s.rejected, s.open_conns, s.refused_conns),
            (3, 2, 2, 2, 1)
        );
    }
}
