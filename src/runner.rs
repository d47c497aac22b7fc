//! Runs every strategy and replication of a scenario, in parallel on a rayon pool of `jobs`
//! threads. Results come back in (strategy, replication) order whatever the thread count, and
//! each run depends only on the scenario, its strategy and its replication: the output is
//! byte-identical for every `--jobs`.

use crate::error::{Error, Result};
use crate::metrics::RunResult;
use crate::scenario::Scenario;
use crate::sim;
use rayon::prelude::*;

/// Builds a thread pool with `jobs` threads (0 = one per core).
pub fn pool(jobs: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| Error::bad_input(format!("--jobs {jobs}: cannot start the thread pool: {e}")))
}

/// All runs of a scenario: strategy-major, then replication.
pub fn run_all(sc: &Scenario, jobs: usize) -> Result<Vec<RunResult>> {
    let tasks: Vec<(usize, u32)> = (0..sc.strategies.len())
        .flat_map(|s| (0..sc.replications).map(move |r| (s, r)))
        .collect();
    let pool = pool(jobs)?;
    Ok(pool.install(|| tasks.par_iter().map(|&(s, r)| sim::run(sc, s, r)).collect()))
}
