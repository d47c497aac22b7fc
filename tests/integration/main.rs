//! Integration tests, one binary: the command line ([`cli`]), the chart layer ([`charts`]), determinism ([`determinism`]),
//! sweeps, shards, resume and plan ([`sweep`]), agreement with queueing theory ([`theory`]), the balancer's failure detection and retries
//! ([`balancer`]), config import ([`config_import`]) and, ignored unless asked for, conformance
//! with real nginx and HAProxy ([`conformance`]).

mod balancer;
mod charts;
mod cli;
mod common;
mod config_import;
mod conformance;
mod determinism;
mod storage;
mod sweep;
mod theory;
