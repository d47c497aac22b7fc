//! A ladder queue over `(time, insertion sequence)` keys (`--features queue-ladder`).
//!
//! The ladder queue of W. T. Tang, R. S. M. Goh and I. L.-J. Thng ("Ladder queue: an O(1)
//! priority queue structure for large-scale discrete event simulation", ACM TOMACS 15(3),
//! 2005) refines R. Brown's calendar queue ("Calendar queues: a fast O(1) priority queue
//! implementation for the simulation event set problem", CACM 31(10), 1988): instead of one
//! array of day-buckets that must be resized as the queue grows, it keeps three tiers:
//!
//! - **Top**: an unsorted list of the far-future events (time at or after `top_start`); a push
//!   there is an append.
//! - **Rungs**: arrays of buckets of equal width in time, each rung spanning one bucket of the
//!   rung above it. When the ladder is empty the whole Top is spread into a new rung 0 of
//!   about as many buckets as events; a bucket about to be taken that holds more than
//!   `THRES` events is spread into a finer rung below instead of being sorted.
//! - **Bottom**: the next events, sorted (here descending, the earliest last, so a pop is a
//!   `Vec::pop`); it is refilled from the first non-empty bucket of the lowest rung.
//!
//! Every event is moved a bounded number of times (Top, at most a few rungs, Bottom), so push
//! and pop are O(1) amortised whatever the number pending. The order is exactly the binary
//! heap's: Bottom is sorted by the unique key `time << 64 | seq` and every other tier holds
//! only later times, so events pop by time and FIFO among equal times (a later push has a
//! larger sequence number, and when its time falls into Bottom's range it is inserted in key
//! order).
//!
//! Departures from the paper, none of which changes the order: a rung has at most
//! `MAX_BUCKETS` buckets (the paper sizes rung 0 by the Top count alone), a bucket whose
//! events all share one time (or whose width is one nanosecond, or at the `MAX_RUNGS`
//! limit) is sorted into Bottom whatever its size, and Bottom is not turned back into a rung
//! when pushes make it long (pushes land in Bottom only when their time is inside the one
//! bucket being drained). Rungs and their buckets are kept for reuse, so after the first
//! spreads nothing is allocated per event.

use crate::engine::SimTime;

/// A bucket with more events than this is spread into a finer rung rather than sorted (the
/// paper's threshold, chosen there by measurement).
const THRES: usize = 50;

/// At most this many rungs; below it a bucket is sorted whatever its size (the paper uses 8).
const MAX_RUNGS: usize = 8;

/// At most this many buckets per rung (1.5 MiB of bucket headers).
const MAX_BUCKETS: usize = 1 << 16;

struct Rung<E> {
    /// The lower bound [ns] of bucket 0.
    start: u64,
    /// The width [ns] of each bucket, at least 1.
    width: u64,
    /// The lower bound of bucket `cur`: a push at or after it (and before the rung above's
    /// `cur_start`, or `top_start` for rung 0) lands in this rung.
    cur_start: u128,
    /// The next bucket to take; every bucket below it is empty.
    cur: usize,
    /// Events in this rung's buckets.
    count: usize,
    buckets: Vec<Vec<(u128, E)>>,
}

/// The future-event list as a ladder queue keyed by `(time, insertion)`.
pub struct LadderQueue<E> {
    /// The next events, sorted by descending key (the earliest last).
    bottom: Vec<(u128, E)>,
    /// `rungs[..nrungs]` are in use, coarsest first; the others are kept for reuse.
    rungs: Vec<Rung<E>>,
    nrungs: usize,
    /// Unsorted events at or after `top_start`.
    top: Vec<(u128, E)>,
    top_start: u128,
    top_min: u64,
    top_max: u64,
    len: usize,
    seq: u64,
    now: SimTime,
}

impl<E> Default for LadderQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn time_of(key: u128) -> u64 {
    (key >> 64) as u64
}

impl<E> LadderQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        LadderQueue {
            bottom: Vec::with_capacity(THRES),
            rungs: Vec::new(),
            nrungs: 0,
            top: Vec::new(),
            top_start: 0,
            top_min: u64::MAX,
            top_max: 0,
            len: 0,
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
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let time = time.max(self.now);
        let t = time.as_nanos();
        let key = ((t as u128) << 64) | self.seq as u128;
        self.seq += 1;
        self.len += 1;
        if t as u128 >= self.top_start {
            self.top_min = self.top_min.min(t);
            self.top_max = self.top_max.max(t);
            self.top.push((key, event));
            return;
        }
        for r in &mut self.rungs[..self.nrungs] {
            if t as u128 >= r.cur_start {
                let b = ((t - r.start) / r.width) as usize;
                r.buckets[b].push((key, event));
                r.count += 1;
                return;
            }
        }
        let at = self.bottom.partition_point(|e| e.0 > key);
        self.bottom.insert(at, (key, event));
    }

    /// Removes the earliest event and advances the clock to its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.len == 0 {
            return None;
        }
        if self.bottom.is_empty() {
            self.refill();
        }
        let (key, event) = self.bottom.pop()?;
        self.len -= 1;
        self.now = SimTime(time_of(key));
        Some((self.now, event))
    }

    /// Spreads `entries` (times `min..=max`, all before `end`) into rung `self.nrungs`, reusing
    /// its allocation when it exists, and makes it the lowest rung in use.
    fn spawn(&mut self, entries: &mut Vec<(u128, E)>, min: u64, end: u128) {
        let span = end - min as u128;
        let nb = entries.len().clamp(1, MAX_BUCKETS) as u128;
        let width = span.div_ceil(nb).max(1) as u64;
        let nb = span.div_ceil(width as u128) as usize;
        if self.rungs.len() == self.nrungs {
            self.rungs.push(Rung {
                start: 0,
                width: 1,
                cur_start: 0,
                cur: 0,
                count: 0,
                buckets: Vec::new(),
            });
        }
        let r = &mut self.rungs[self.nrungs];
        r.start = min;
        r.width = width;
        r.cur = 0;
        r.cur_start = min as u128;
        r.count = entries.len();
        r.buckets.truncate(nb);
        r.buckets.resize_with(nb, Vec::new);
        for (key, event) in entries.drain(..) {
            let b = ((time_of(key) - min) / width) as usize;
            r.buckets[b].push((key, event));
        }
        self.nrungs += 1;
    }

    /// Sorts `entries` into the empty Bottom.
    fn sort_into_bottom(&mut self, entries: &mut Vec<(u128, E)>) {
        debug_assert!(self.bottom.is_empty());
        std::mem::swap(&mut self.bottom, entries);
        self.bottom.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
    }

    /// Fills the empty Bottom with the earliest events (the queue is not empty).
    fn refill(&mut self) {
        loop {
            if self.nrungs == 0 {
                let mut top = std::mem::take(&mut self.top);
                let (min, max) = (self.top_min, self.top_max);
                self.top_start = max as u128 + 1;
                self.top_min = u64::MAX;
                self.top_max = 0;
                if top.len() <= THRES || min == max {
                    self.sort_into_bottom(&mut top);
                    self.top = top;
                    return;
                }
                self.spawn(&mut top, min, max as u128 + 1);
                self.top = top;
                continue;
            }
            let lowest = self.nrungs - 1;
            let r = &mut self.rungs[lowest];
            if r.count == 0 {
                // Drained; the rung above goes on from its next bucket.
                self.nrungs -= 1;
                continue;
            }
            while r.buckets[r.cur].is_empty() {
                r.cur += 1;
            }
            let b = r.cur;
            r.cur += 1;
            r.cur_start = r.start as u128 + r.cur as u128 * r.width as u128;
            let end = r.cur_start;
            let width = r.width;
            let mut entries = std::mem::take(&mut r.buckets[b]);
            r.count -= entries.len();
            let (mut min, mut max) = (u64::MAX, 0);
            for e in &entries {
                min = min.min(time_of(e.0));
                max = max.max(time_of(e.0));
            }
            if entries.len() <= THRES || width == 1 || min == max || self.nrungs == MAX_RUNGS {
                self.sort_into_bottom(&mut entries);
            } else {
                self.spawn(&mut entries, min, end);
            }
            // Give the bucket back the emptied vector (Bottom's old one or its own), for its
            // capacity; the rung below, if spawned, took the events.
            self.rungs[lowest].buckets[b] = entries;
            if !self.bottom.is_empty() {
                return;
            }
        }
    }

    /// Up to `k` of the next events, earliest first, as far as they are already sorted (in
    /// Bottom): a hint for prefetching, not a complete peek.
    #[inline]
    pub fn peek_ahead(&self, k: usize) -> impl Iterator<Item = &E> {
        self.bottom.iter().rev().take(k).map(|e| &e.1)
    }

    /// The next event, when it is already known without work (see [`Self::peek_ahead`]).
    #[inline]
    pub fn peek_next(&self) -> Option<&E> {
        self.bottom.last().map(|e| &e.1)
    }

    /// The number of pending events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
