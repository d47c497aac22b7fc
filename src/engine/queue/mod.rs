//! The future-event list: events ordered by `(time, insertion sequence)`.
//!
//! Equal times come out in FIFO order, so the order of simultaneous events is fixed by the
//! order in which the model scheduled them, never by queue internals. The payload is a small
//! `Copy` enum owned by the model; this module knows nothing about what events mean.
//!
//! Two implementations with the same interface and the same order, event for event:
//! [`radix::RadixQueue`], the one the simulator uses (fast with millions of pending events),
//! and [`binary::BinaryQueue`], `std`'s binary heap, the baseline. `cargo build --features
//! queue-binary` makes [`EventQueue`] the binary heap, for measuring one against the other on
//! whole runs (README, "Speed").

pub mod binary;
pub mod radix;

/// The queue the simulator runs on.
#[cfg(not(feature = "queue-binary"))]
pub type EventQueue<E> = radix::RadixQueue<E>;
/// The queue the simulator runs on.
#[cfg(feature = "queue-binary")]
pub type EventQueue<E> = binary::BinaryQueue<E>;

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

    /// Both implementations pop the same events in the same order, under a workload like the
    /// simulator's: many pending events, times drawn ahead of the clock (some equal to it,
    /// some equal to each other), pushes interleaved with pops.
    #[test]
    fn radix_and_binary_heaps_pop_identically() {
        use crate::engine::rng::{self, Stream};
        use rand::RngExt;
        let mut r = rng::stream(7, 0, Stream::Balancer);
        let mut a = radix::RadixQueue::new();
        let mut b = binary::BinaryQueue::new();
        let mut id = 0u64;
        for round in 0..200_000u64 {
            let pushes = if round < 5_000 { 3 } else { r.random_range(0..3) };
            for _ in 0..pushes {
                let now = a.now().as_nanos();
                let dt = match r.random_range(0..4) {
                    0 => 0,
                    1 => r.random_range(0..1_000),
                    2 => r.random_range(0..1_000_000_000),
                    _ => r.random_range(0..u64::from(u32::MAX)) << 8,
                };
                // A quarter of pushes into the past: clamped to the clock by both.
                let t = if r.random_range(0..4) == 0 {
                    now.saturating_sub(dt)
                } else {
                    now + dt
                };
                a.push(SimTime(t), id);
                b.push(SimTime(t), id);
                id += 1;
            }
            assert_eq!(a.pop(), b.pop(), "round {round}");
            assert_eq!(a.len(), b.len());
        }
        while let Some(x) = b.pop() {
            assert_eq!(a.pop(), Some(x));
        }
        assert!(a.is_empty());
    }
}
