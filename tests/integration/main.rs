//! Integration tests, one binary: the command line ([`cli`]), determinism ([`determinism`]),
//! sweeps, shards, resume and plan ([`sweep`]) and agreement with queueing theory ([`theory`]).

mod cli;
mod common;
mod determinism;
mod sweep;
mod theory;
