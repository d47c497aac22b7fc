//! The future-event list: events ordered by `(time, insertion sequence)`.
//!
//! Equal times come out in FIFO order, so the order of simultaneous events is fixed by the
//! order in which the model scheduled them, never by queue internals. The payload is a small
//! `Copy` enum owned by the model; this module knows nothing about what events mean.
//!
//! Three implementations with the same interface and the same order, event for event:
//! [`radix::RadixQueue`], the one the simulator uses (fast with millions of pending events),
//! [`ladder::LadderQueue`], a ladder queue (Tang, Goh and Thng 2005, after Brown's 1988
//! calendar queue), and [`binary::BinaryQueue`], `std`'s binary heap, the baseline. `cargo
//! build --features queue-binary` (or `queue-ladder`) makes [`EventQueue`] that queue, for
//! measuring them against each other on whole runs (README, "Speed").

pub mod binary;
pub mod ladder;
pub mod radix;

/// The queue the simulator runs on.
#[cfg(not(any(feature = "queue-binary", feature = "queue-ladder")))]
pub type EventQueue<E> = radix::RadixQueue<E>;
/// The queue the simulator runs on.
#[cfg(feature = "queue-binary")]
pub type EventQueue<E> = binary::BinaryQueue<E>;
/// The queue the simulator runs on.
#[cfg(all(feature = "queue-ladder", not(feature = "queue-binary")))]
pub type EventQueue<E> = ladder::LadderQueue<E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimTime;

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

    /// A workload like the simulator's, fed to the binary heap and to `other` alike: many
    /// pending events, times drawn ahead of the clock (some equal to it, some equal to each
    /// other, some far ahead), pushes interleaved with pops; both must pop the same events in
    /// the same order. The binary heap orders by the unique `(time, seq)` key by construction,
    /// so agreeing with it event for event is the FIFO-among-equal-times property.
    fn pops_like_binary_heap<Q>(
        mut push: impl FnMut(&mut Q, SimTime, u64),
        mut pop: impl FnMut(&mut Q) -> Option<(SimTime, u64)>,
        now: impl Fn(&Q) -> SimTime,
        len: impl Fn(&Q) -> usize,
        mut a: Q,
    ) {
        use crate::engine::rng::{self, Stream};
        use rand::RngExt;
        let mut r = rng::stream(7, 0, Stream::Balancer);
        let mut b = binary::BinaryQueue::new();
        let mut id = 0u64;
        for round in 0..200_000u64 {
            let pushes = if round < 5_000 { 3 } else { r.random_range(0..3) };
            for _ in 0..pushes {
                let t_now = now(&a).as_nanos();
                let dt = match r.random_range(0..4) {
                    0 => 0,
                    1 => r.random_range(0..1_000),
                    2 => r.random_range(0..1_000_000_000),
                    _ => r.random_range(0..u64::from(u32::MAX)) << 8,
                };
                // A quarter of pushes into the past: clamped to the clock by both.
                let t = if r.random_range(0..4) == 0 {
                    t_now.saturating_sub(dt)
                } else {
                    t_now + dt
                };
                push(&mut a, SimTime(t), id);
                b.push(SimTime(t), id);
                id += 1;
            }
            assert_eq!(pop(&mut a), b.pop(), "round {round}");
            assert_eq!(len(&a), b.len());
        }
        while let Some(x) = b.pop() {
            assert_eq!(pop(&mut a), Some(x));
        }
        assert_eq!(len(&a), 0);
    }

    #[test]
    fn radix_and_binary_heaps_pop_identically() {
        pops_like_binary_heap(
            |q: &mut radix::RadixQueue<u64>, t, e| q.push(t, e),
            |q| q.pop(),
            |q| q.now(),
            |q| q.len(),
            radix::RadixQueue::new(),
        );
    }

    #[test]
    fn ladder_and_binary_heap_pop_identically() {
        pops_like_binary_heap(
            |q: &mut ladder::LadderQueue<u64>, t, e| q.push(t, e),
            |q| q.pop(),
            |q| q.now(),
            |q| q.len(),
            ladder::LadderQueue::new(),
        );
    }

    /// The ladder's special cases: a burst of more than its threshold (50) of events at one
    /// time (sorted whole, FIFO), a bucket spread into finer rungs, and times near u64::MAX
    /// (rung bounds past 2^64); each checked against the binary heap.
    #[test]
    fn ladder_bursts_and_extremes_match_binary_heap() {
        let mut a = ladder::LadderQueue::new();
        let mut b = binary::BinaryQueue::new();
        let mut id = 0u64;
        let mut both = |t: u64, a: &mut ladder::LadderQueue<u64>, b: &mut binary::BinaryQueue<u64>| {
            a.push(SimTime(t), id);
            b.push(SimTime(t), id);
            id += 1;
        };
        for _ in 0..500 {
            both(1_000, &mut a, &mut b);
        }
        for i in 0..5_000u64 {
            both(2_000 + (i * 7919) % 3_000, &mut a, &mut b);
        }
        for i in 0..200u64 {
            both(u64::MAX - i % 3, &mut a, &mut b);
        }
        for _ in 0..3_000 {
            assert_eq!(a.pop(), b.pop());
            // Pushes into the bucket being drained and just behind it.
            let t = a.now().as_nanos();
            both(t, &mut a, &mut b);
            both(t.saturating_add(5), &mut a, &mut b);
            assert_eq!(a.pop(), b.pop());
        }
        while let Some(x) = b.pop() {
            assert_eq!(a.pop(), Some(x));
        }
        assert!(a.is_empty());
    }
}
