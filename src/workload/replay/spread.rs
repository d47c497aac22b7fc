//! Spreading one-second timestamps: a log with second resolution (nginx `$time_local`) puts
//! every request of a second at its start, which would turn a steady stream into bursts. The
//! k requests logged in one second are placed at `second + (i + 0.5) / k` for i = 0..k in log
//! order, so the order is kept (a round-robin balancer's decisions depend on it) and the result
//! is deterministic. Memory: one second of requests.

use super::LogRecord;
use std::collections::VecDeque;

/// Spreads the requests logged within one second evenly over it, in log order.
pub struct Spreader {
    pending: VecDeque<LogRecord>,
    ready: VecDeque<LogRecord>,
}

impl Default for Spreader {
    fn default() -> Self {
        Self::new()
    }
}

impl Spreader {
    /// A spreader holding nothing yet.
    pub fn new() -> Self {
        Spreader {
            pending: VecDeque::new(),
            ready: VecDeque::new(),
        }
    }

    fn flush(&mut self) {
        let k = self.pending.len() as i64;
        for (i, mut r) in self.pending.drain(..).enumerate() {
            r.time_ns += (2 * i as i64 + 1) * 1_000_000_000 / (2 * k);
            self.ready.push_back(r);
        }
    }

    /// Feeds the next record of the log.
    pub fn push(&mut self, r: LogRecord) {
        if !r.subsecond {
            if self.pending.front().is_some_and(|p| p.time_ns != r.time_ns) {
                self.flush();
            }
            self.pending.push_back(r);
        } else {
            self.flush();
            self.ready.push_back(r);
        }
    }

    /// The next record whose time is final.
    pub fn pop(&mut self) -> Option<LogRecord> {
        self.ready.pop_front()
    }

    /// At the end of the log: release what is pending.
    pub fn finish(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: u64, sec: i64) -> LogRecord {
        LogRecord {
            line,
            time_ns: sec * 1_000_000_000,
            subsecond: false,
            client_ip: [10, 0, 0, 1].into(),
            client_id: None,
            user_agent: None,
            path: None,
            bytes: None,
            service_time: None,
            upstream: None,
        }
    }

    #[test]
    fn requests_of_a_second_are_spread_in_order() {
        let mut s = Spreader::new();
        for (l, t) in [(1, 5), (2, 5), (3, 5), (4, 5), (5, 6)] {
            s.push(rec(l, t));
        }
        s.finish();
        let out: Vec<(u64, i64)> = std::iter::from_fn(|| s.pop()).map(|r| (r.line, r.time_ns)).collect();
        // Four requests in second 5 at 5.125, 5.375, 5.625, 5.875; one alone in 6 at 6.5.
        assert_eq!(
            out,
            vec![
                (1, 5_125_000_000),
                (2, 5_375_000_000),
                (3, 5_625_000_000),
                (4, 5_875_000_000),
                (5, 6_500_000_000)
            ]
        );
    }
}
