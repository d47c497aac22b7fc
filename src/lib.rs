#![warn(missing_docs)]
//! # sessim
//!
//! A discrete-event simulator that compares how web clusters keep user sessions behind a load
//! balancer: sticky balancing (`ip_hash`, source hash, cookies), replication, shared stores and
//! client-side sessions, against the same simulated users and failures.
//!
//! ## Architecture
//!
//! Dependencies point one way: `cli -> {runner, sweep, report} -> sim -> {engine, workload,
//! balancer, backend, store, metrics}`.
//!
//! - [`engine`]: simulated time, the event queue, random streams. Knows nothing of the model.
//! - [`scenario`]: the scenario file, validated into a [`scenario::Scenario`].
//! - [`workload`]: users, their addresses, arrivals and think times; or a replayed access log.
//! - [`balancer`]: the balancer policies, one file each behind [`balancer::Policy`].
//! - [`backend`]: worker pools and bounded queues.
//! - [`store`]: session storage strategies, one file each behind `store::SessionStore`.
//! - [`sim`]: one run: the life of a request from arrival to completion.
//! - [`metrics`]: the result rows every consumer reads ([`metrics::RunResult`]) and statistics.
//! - [`runner`]: strategies x replications in parallel (on the crate's one parallel loop,
//!   `parallel`, which hands results on in task order).
//! - [`sweep`]: grids of scenarios with replications, sharding and merging, capacity plans.
//! - [`report`]: CSV files, the comparison table, the charts and report.html.
//!
//! ## The determinism contract
//!
//! A scenario and a seed determine every output byte, whatever the thread count. Simulated
//! time is an integer (nanoseconds); simultaneous events run in the order they were scheduled;
//! every random purpose draws from its own stream derived from `(seed, replication, stream)`
//! and, per user and request, from the user's key and the request's index, so compared
//! strategies see the same users, requests and think times (common random numbers). No OS
//! entropy is used and no hash-map iteration order reaches a result.

pub mod alloc;
pub mod backend;
pub mod balancer;
pub mod cli;
pub mod cost;
pub mod dist;
pub mod engine;
pub mod error;
pub mod faults;
pub mod metrics;
pub mod output;
mod parallel;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sim;
pub mod store;
pub mod sweep;
pub mod workload;

pub use error::{Error, Result};
