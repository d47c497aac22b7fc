//! Integration tests, one binary: the command line ([`cli`]), determinism ([`determinism`]) and
//! agreement with queueing theory ([`theory`]).

mod cli;
mod common;
mod determinism;
mod storage;
mod theory;
