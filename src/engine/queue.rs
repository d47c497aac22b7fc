//! The future-event list: a binary heap ordered by `(time, insertion sequence)`.
//!
//! Equal times come out in FIFO order, so the order of simultaneous events is fixed by the
//! order in which the model scheduled them, never by heap internals. The payload is a small
//! `Copy` enum owned by the model; this module knows nothing about what events mean.

use super::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Entry<E> {
    /// `time << 64 | seq`: one integer comparison orders by time, then by insertion.
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest entry first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// A priority queue of events keyed by simulated time, FIFO among equal times.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(1024),
            seq: 0,
            now: SimTime::ZERO,
        }
    }

    /// The time of the event popped last (the simulation clock).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `time`. A time in the past is clamped to `now`: the clock never
    /// runs backwards.
    pub fn push(&mut self, time: SimTime, event: E) {
        let time = time.max(self.now);
        let key = ((time.as_nanos() as u128) << 64) | self.seq as u128;
        self.seq += 1;
        self.heap.push(Entry { key, event });
    }

    /// Removes the earliest event and advances the clock to its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let e = self.heap.pop()?;
        self.now = SimTime((e.key >> 64) as u64);
        Some((self.now, e.event))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order() {
        let mut q = EventQueue::new();
        for t in [5u64, 1, 9, 3, 7] {
            q.push(SimTime(t), t);
        }
        let order: Vec<u64> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![1, 3, 5, 7, 9]);
    }

    #[test]
    fn equal_times_are_fifo() {
        let mut q = EventQueue::new();
        q.push(SimTime(10), "a");
        q.push(SimTime(5), "x");
        q.push(SimTime(10), "b");
        q.push(SimTime(10), "c");
        assert_eq!(q.pop(), Some((SimTime(5), "x")));
        // Scheduled while the clock is at 5, still behind the earlier ones at 10.
        q.push(SimTime(10), "d");
        let rest: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(rest, vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn clock_advances_and_past_is_clamped() {
        let mut q = EventQueue::new();
        q.push(SimTime(100), 1);
        assert_eq!(q.pop(), Some((SimTime(100), 1)));
        assert_eq!(q.now(), SimTime(100));
        q.push(SimTime(50), 2);
        assert_eq!(q.pop(), Some((SimTime(100), 2)));
        assert!(q.is_empty());
    }

    #[test]
    fn large_times_keep_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(u64::MAX - 1), 2);
        q.push(SimTime(1 << 40), 1);
        assert_eq!(q.pop().map(|x| x.1), Some(1));
        assert_eq!(q.pop().map(|x| x.1), Some(2));
    }
}
