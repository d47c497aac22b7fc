//! Helpers shared by the integration tests.

use sessim::metrics::RunResult;
use sessim::metrics::stats::{Estimate, estimate};
use sessim::scenario::{Scenario, load_str};
use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `sessim` binary with `args` in `dir`.
pub fn sessim(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sessim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the sessim binary runs")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario(text: &str) -> Scenario {
    match load_str(text, "test.toml", &[]) {
        Ok(s) => s,
        Err(e) => panic!("test scenario is invalid: {e}"),
    }
}

/// The estimate of one summary metric over the replications of strategy `s`.
pub fn metric(runs: &[RunResult], s: usize, name: &str) -> Estimate {
    let v: Vec<f64> = runs
        .iter()
        .filter(|r| r.strategy_index == s)
        .filter_map(|r| r.summary.metric(name))
        .collect();
    estimate(&v)
}

/// Asserts that `exact` lies in the 95% Student-t interval of the estimate, as
/// shared/docs/validation.md prescribes: |mean - exact| <= t(R-1, 0.975) sd / sqrt(R).
pub fn assert_within_ci(what: &str, e: Estimate, exact: f64) {
    assert!(
        (e.mean - exact).abs() <= e.ci95,
        "{what}: simulated {:.4} ± {:.4} (95% CI, {} replications) does not contain the exact {:.4}",
        e.mean,
        e.ci95,
        e.n,
        exact
    );
}
