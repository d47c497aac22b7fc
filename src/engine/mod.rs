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
