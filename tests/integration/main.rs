//! Integration tests, one binary: the command line ([`cli`]), determinism ([`determinism`]),
//! sweeps, shards, resume and plan ([`sweep`]), agreement with queueing theory ([`theory`]), the balancer's failure detection and retries
//! ([`balancer`]), config import ([`config_import`]), log replay and the trace ([`replay`]) and, ignored unless asked for, conformance
//! with real nginx and HAProxy ([`conformance`]).

mod balancer;
mod cli;
mod common;
mod config_import;
mod conformance;
mod determinism;
mod faults;
mod replay;
mod storage;
mod sweep;
mod theory;
