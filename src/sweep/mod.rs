//! Parameter sweeps and capacity planning: grids of scenarios (`grid`, axes written as
//! `spec`s), their parallel execution with replications ([`run`]), the files a sweep writes
//! and reads back for `--resume` (`output`), statistics over replications with paired
//! differences (`summary`) and for single long runs (`steady`), sharding across machines
//! and merging (`shard`), and the search for the cheapest sufficient configuration and the largest
//! load a configuration carries ([`plan`]).
//!
//! This module owns everything about many runs; one run is [`crate::sim::run`], which knows
//! nothing of sweeps. A point of a sweep is an ordinary [`crate::scenario::Scenario`]: the
//! base scenario table with the axis values set by their dotted paths, validated like a file.
//!
//! Determinism: every row depends only on (point, strategy, replication), and rows are
//! written in grid order, never in completion order, so the files are byte-identical for any
//! `--jobs`, after `--resume`, and after merging shards. Every point uses the scenario's seed,
//! so neighbouring points see the same users too (common random numbers along the axes as
//! well as across strategies).

pub(crate) mod grid;
pub(crate) mod output;
pub mod plan;
pub mod run;
pub(crate) mod shard;
pub(crate) mod spec;
pub(crate) mod steady;
pub(crate) mod summary;
pub(crate) mod table;

pub use grid::{AxesFrom, Sweep};
pub use shard::Shard;
