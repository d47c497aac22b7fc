//! A radix heap over `(time, insertion sequence)` keys: the event queue the simulator uses.
//!
//! A radix heap (Ahuja, Mehlhorn, Orlin and Tarjan, "Faster algorithms for the shortest path
//! problem", J. ACM 37(2), 1990) needs only that popped keys never decrease, which holds here:
//! a pushed time is clamped to the clock and its sequence number is larger than every earlier
//! one, so every key pushed is larger than the last key popped. The key is the 128-bit
//! `time << 64 | seq`, unique per event, so the order is exactly the binary heap's: by time,
//! then FIFO among equal times.
//!
//! Bucket `i > 0` holds the keys whose highest bit differing from `last` (the last key popped)
//! is bit `i - 1`; bucket 0 holds a key equal to `last`. A push is one XOR, one
//! `leading_zeros` and a `Vec::push`. A pop that finds bucket 0 empty takes the lowest
//! non-empty bucket, makes its minimum the new `last`, and moves its other entries into lower
//! buckets; every entry moves down at most once per bucket level, so a pop costs O(log of the
//! key range) amortised, with sequential scans of contiguous buckets instead of the binary
//! heap's jumps across one large array (which at a million pending events are cache misses at
//! nearly every level).
//!
//! One refinement for small queues: when the lowest bucket holds at most 32 entries it is sorted
//! into a short `front` list whole, and the next pops take from it directly; an event pushed
//! between the front's keys is inserted into it in order. With a few dozen pending events (the
//! reference model) most pops are then a `Vec::pop`.

use crate::engine::SimTime;

/// Buckets 0..=128: a key of 128 bits differs from `last` in its highest bit at most at 127.
const BUCKETS: usize = 129;

/// Capacity [entries] an emptied bucket keeps for its next use (256 KiB of entries).
const KEEP_AT_MOST: usize = 8192;

/// A bucket this small is sorted into `front` whole instead of being redistributed.
const SORT_AT_MOST: usize = 32;

/// The future-event list: a radix heap keyed by `(time, insertion)`.
pub struct RadixQueue<E> {
    /// The next events, sorted by descending key (the earliest last); every key in it is at
    /// most `last`, every key in the buckets above it. With few pending events (a small model)
    /// most pops come from here without touching the buckets.
    front: Vec<(u128, E)>,
    buckets: Vec<Vec<(u128, E)>>,
    /// Bit `i` of word `i / 64` set when bucket `i` is not empty.
    occupied: [u64; 3],
    /// The last key popped (0 before the first pop).
    last: u128,
    len: usize,
    seq: u64,
    now: SimTime,
}

impl<E> Default for RadixQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn bucket_of(key: u128, last: u128) -> usize {
    let x = key ^ last;
    if x == 0 { 0 } else { 128 - x.leading_zeros() as usize }
}

impl<E> RadixQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        RadixQueue {
            front: Vec::with_capacity(SORT_AT_MOST),
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: [0; 3],
            last: 0,
            len: 0,
            seq: 0,
            now: SimTime::ZERO,
        }
    }

    /// The time of the event popped last (the simulation clock).
    pub fn now(&self) -> SimTime {
        self.now
    }

    #[inline]
    fn put(&mut self, key: u128, event: E) {
        let b = bucket_of(key, self.last);
        self.buckets[b].push((key, event));
        self.occupied[b / 64] |= 1 << (b % 64);
    }

    /// Schedules `event` at `time`. A time in the past is clamped to `now`: the clock never
    /// runs backwards.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let time = time.max(self.now);
        let key = ((time.as_nanos() as u128) << 64) | self.seq as u128;
        self.seq += 1;
        self.len += 1;
        if key < self.last {
            // Among the sorted front (keys only fall below `last` while the front holds some).
            // Every key in the front has a smaller sequence number than this one, so the
            // entries that must stay before it are exactly those of a later time: comparing
            // the times (the upper 64 bits) suffices. Scanned from the earliest end: a new
            // event mostly falls among the next few, and a short scan beats a binary search's
            // unpredictable branches (reference model: 5% of the whole run; README, "Speed").
            let t = time.as_nanos();
            let mut at = self.front.len();
            while at > 0 && ((self.front[at - 1].0 >> 64) as u64) <= t {
                at -= 1;
            }
            self.front.insert(at, (key, event));
        } else {
            self.put(key, event);
        }
    }

    /// The lowest non-empty bucket.
    #[inline]
    fn lowest(&self) -> Option<usize> {
        self.occupied
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(i, w)| i * 64 + w.trailing_zeros() as usize)
    }

    /// Removes the earliest event and advances the clock to its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.len == 0 {
            return None;
        }
        if self.front.is_empty() {
            self.refill();
        }
        let (key, event) = self.front.pop()?;
        self.len -= 1;
        self.now = SimTime((key >> 64) as u64);
        Some((self.now, event))
    }

    /// Fills the empty front with the earliest events: the lowest non-empty bucket, sorted,
    /// when it is small; otherwise that bucket is redistributed below a new `last` (its
    /// minimum), as a radix heap does, until the lowest bucket is small.
    fn refill(&mut self) {
        while let Some(i) = self.lowest() {
            let mut entries = std::mem::take(&mut self.buckets[i]);
            self.occupied[i / 64] &= !(1 << (i % 64));
            if entries.len() <= SORT_AT_MOST {
                // Every other bucket holds larger keys. `last` becomes the largest key taken:
                // it shares the bits above i - 1 with the old `last`, so the buckets above
                // stay valid.
                self.front.append(&mut entries);
                self.front.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
                self.last = self.front[0].0;
                self.buckets[i] = entries;
                return;
            }
            self.last = entries.iter().map(|e| e.0).min().unwrap_or(self.last);
            // Every entry of bucket i shares `last`'s bits above bit i - 1, so each lands in a
            // bucket below i; the minimum lands in bucket 0.
            for (key, event) in entries.drain(..) {
                self.put(key, event);
            }
            // Keep the emptied vector's capacity for the next time this bucket fills, unless it
            // is large: a bucket that once held a million entries would otherwise keep their
            // room for the whole run (and every bucket likewise), several times what is pending.
            if entries.capacity() <= KEEP_AT_MOST {
                self.buckets[i] = entries;
            }
        }
    }

    /// Up to `k` of the next events, earliest first, as far as they are already sorted (in the
    /// front list): a hint for prefetching, not a complete peek.
    #[inline]
    pub fn peek_ahead(&self, k: usize) -> impl Iterator<Item = &E> {
        self.front.iter().rev().take(k).map(|e| &e.1)
    }

    /// The next event, when it is already known without work (it is in the front list); a
    /// hint for prefetching, not a complete peek.
    #[inline]
    pub fn peek_next(&self) -> Option<&E> {
        self.front.last().map(|e| &e.1)
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
