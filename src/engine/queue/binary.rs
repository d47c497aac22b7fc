//! The future-event list as `std`'s binary heap ordered by `(time, insertion sequence)`: the
//! queue sessim used first, kept as the baseline the benchmark compares the others with
//! (`--features queue-binary`).

use crate::engine::SimTime;
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
pub struct BinaryQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
    now: SimTime,
}

impl<E> Default for BinaryQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> BinaryQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        BinaryQueue {
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

    /// The next event only (a heap knows no further ahead without work; see
    /// [`super::radix::RadixQueue::peek_ahead`]).
    #[inline]
    pub fn peek_ahead(&self, k: usize) -> impl Iterator<Item = &E> {
        self.heap.peek().map(|e| &e.event).into_iter().take(k)
    }

    /// The next event (see [`super::radix::RadixQueue::peek_next`]).
    #[inline]
    pub fn peek_next(&self) -> Option<&E> {
        self.heap.peek().map(|e| &e.event)
    }

    /// The number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}
