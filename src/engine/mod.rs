//! The discrete-event engine: simulated time, the future-event list and random streams.
//!
//! It knows nothing about load balancers, backends or sessions: the model in [`crate::sim`]
//! owns the event type and decides what each event does.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::EventQueue;
pub use rng::{SimRng, Stream};
pub use time::SimTime;

/// Asks the processor to start loading the cache line at `ptr` (a hint: it reads nothing, may
/// be ignored, and is never wrong). Big tables read at random (users, sessions) cost a DRAM
/// miss per access; a load started while other work runs overlaps with it.
#[inline(always)]
pub fn prefetch<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 never faults, whatever the address; SSE is part of x86-64.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}
