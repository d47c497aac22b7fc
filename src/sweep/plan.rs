//! `sessim plan`: per strategy, the smallest configuration that meets every target, found with
//! far fewer simulations than the full grid.
//!
//! Assumption: each axis lists its values from the cheapest to the most generous (more
//! backends, more workers, more store servers), and once a configuration meets the targets,
//! every configuration at least as generous on every axis does too (monotonicity). Then:
//!
//! - one axis (or a `zip` sweep, which is one axis of points): bisection. Check the largest
//!   value; if it fails, nothing meets the targets; else halve the interval between the last
//!   value known to fail and the first known to pass: 1 + ceil(log2 n) points instead of n.
//! - two axes A x B: a staircase search of the Pareto frontier. For each value of A in order,
//!   bisect B below the best B found so far (a configuration with more A and no less B is
//!   dominated); stop when B's smallest value passes. At most n_A (1 + log2 n_B) points, and
//!   every Pareto-minimal configuration is reported (with two axes there is no single
//!   "smallest": 3 backends x 3 workers and 5 x 2 are both minimal).
//!
//! A target is judged by its 95% confidence interval over replications, so that a
//! configuration is only called sufficient when the data say so: `m < v` is met when the upper
//! bound mean + half-width is below v, `m > v` when the lower bound is above v. This needs at
//! least two replications. Every strategy searches on its own, but the points they need in
//! one round run together on the thread pool; results are deterministic.

use super::grid::{Mode, Sweep};
use super::spec;
use crate::dist::suggest;
use crate::error::{Error, Result};
use crate::metrics::SummaryRow;
use crate::metrics::round6;
use crate::metrics::stats::{Estimate, estimate};
use crate::runner;
use crate::sim;
use rayon::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// A target such as `latency_p99_ms<300`.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub metric: String,
    pub cmp: Cmp,
    pub value: f64,
}

impl Target {
    /// Parses `METRIC<VALUE`, `METRIC<=VALUE`, `METRIC>VALUE` or `METRIC>=VALUE`.
    pub fn parse(s: &str) -> Result<Target> {
        let bad = |m: String| Error::bad_input(format!("--target '{s}': {m}"));
        let pos = s
            .find(['<', '>'])
            .ok_or_else(|| bad("expected METRIC<VALUE or METRIC>VALUE, e.g. --target 'latency_p99_ms<300'".into()))?;
        let metric = s[..pos].trim();
        let rest = &s[pos..];
        let (cmp, value) = if let Some(v) = rest.strip_prefix("<=") {
            (Cmp::Le, v)
        } else if let Some(v) = rest.strip_prefix(">=") {
            (Cmp::Ge, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Cmp::Lt, v)
        } else {
            (Cmp::Gt, &rest[1..])
        };
        if !SummaryRow::METRICS.contains(&metric) {
            return Err(bad(format!(
                "unknown metric `{metric}`{}; metrics: {}",
                suggest(metric, SummaryRow::METRICS),
                SummaryRow::METRICS.join(", ")
            )));
        }
        let value: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| bad(format!("`{}` is not a number", value.trim())))?;
        Ok(Target {
            metric: metric.to_string(),
            cmp,
            value,
        })
    }

    /// The end of the confidence interval that must clear the target.
    pub fn bound(&self, e: &Estimate) -> f64 {
        match self.cmp {
            Cmp::Lt | Cmp::Le => e.mean + e.ci95,
            Cmp::Gt | Cmp::Ge => e.mean - e.ci95,
        }
    }

    /// Met when the whole 95% interval is on the right side.
    pub fn met(&self, e: &Estimate) -> bool {
        let b = self.bound(e);
        match self.cmp {
            Cmp::Lt => b < self.value,
            Cmp::Le => b <= self.value,
            Cmp::Gt => b > self.value,
            Cmp::Ge => b >= self.value,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.cmp {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        };
        write!(f, "{}{op}{}", self.metric, self.value)
    }
}

/// One configuration evaluated for one strategy.
#[derive(Clone, Debug)]
pub struct Evaluated {
    pub point: usize,
    /// One estimate per target, in target order.
    pub estimates: Vec<Estimate>,
    pub met: bool,
}

/// The answer for one strategy.
#[derive(Clone, Debug)]
pub struct StrategyPlan {
    pub label: String,
    /// The minimal configurations (points) that meet every target; empty if none does.
    pub answers: Vec<usize>,
    /// Every configuration run, in the order the search ran them.
    pub evaluated: Vec<Evaluated>,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub strategies: Vec<StrategyPlan>,
    /// Simulations run (points x replications, over strategies).
    pub runs: usize,
    /// Simulations the full grid would have needed.
    pub grid_runs: usize,
}

/// The staircase search, replayed from the start against what is known: returns the Pareto
/// frontier once every point it needs is known, or the next point `(i, j)` it needs.
pub fn staircase(
    n_a: usize,
    n_b: usize,
    known: impl Fn(usize, usize) -> Option<bool>,
) -> Result<Vec<(usize, usize)>, (usize, usize)> {
    let mut frontier = Vec::new();
    let mut hi = n_b; // candidates for B are 0..hi
    for i in 0..n_a {
        if hi == 0 {
            break;
        }
        let top = hi - 1;
        if !known(i, top).ok_or((i, top))? {
            continue;
        }
        // Invariant: `pass` meets the targets; every index <= `fail` is known (or, for -1,
        // assumed) to fail.
        let (mut fail, mut pass) = (-1isize, top);
        while pass as isize - fail > 1 {
            let mid = ((fail + pass as isize) / 2) as usize;
            if known(i, mid).ok_or((i, mid))? {
                pass = mid;
            } else {
                fail = mid as isize;
            }
        }
        frontier.push((i, pass));
        hi = pass;
    }
    Ok(frontier)
}

/// Finds, per strategy, the smallest configurations of `sweep` meeting every target.
pub fn plan(sweep: &Sweep, targets: &[Target], jobs: usize) -> Result<Plan> {
    if targets.is_empty() {
        return Err(Error::bad_input(
            "plan: give at least one --target, e.g. --target 'latency_p99_ms<300'",
        ));
    }
    if sweep.replications < 2 {
        return Err(Error::bad_input(format!(
            "plan judges each target by its 95% confidence interval, which needs at least 2 replications; \
             the scenario has {}: add --replications 3 (or more)",
            sweep.replications
        )));
    }
    let (n_a, n_b) = match (sweep.mode, sweep.axes.len()) {
        (Mode::Zip, _) | (Mode::Grid, 1) => (1, sweep.points.len()),
        (Mode::Grid, 2) => (sweep.axes[0].values.len(), sweep.axes[1].values.len()),
        (Mode::Grid, n) => {
            return Err(Error::bad_input(format!(
                "plan searches one or two axes; {n} are given (--vary or [sweep] axes): fix the others with --set"
            )));
        }
    };
    let point_of = |i: usize, j: usize| i * n_b + j;
    let pool = runner::pool(jobs)?;
    let s_count = sweep.strategies.len();
    let reps = sweep.replications;
    let mut cache: BTreeMap<(usize, usize), Evaluated> = BTreeMap::new();
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); s_count];
    let mut answers: Vec<Option<Vec<usize>>> = vec![None; s_count];
    let mut runs = 0;
    loop {
        let mut needed: Vec<(usize, usize)> = Vec::new();
        for (s, answer) in answers.iter_mut().enumerate() {
            if answer.is_some() {
                continue;
            }
            match staircase(n_a, n_b, |i, j| cache.get(&(s, point_of(i, j))).map(|e| e.met)) {
                Ok(f) => *answer = Some(f.into_iter().map(|(i, j)| point_of(i, j)).collect()),
                Err((i, j)) => needed.push((s, point_of(i, j))),
            }
        }
        if needed.is_empty() {
            break;
        }
        let tasks: Vec<(usize, usize, u32)> = needed
            .iter()
            .flat_map(|&(s, p)| (0..reps).map(move |r| (s, p, r)))
            .collect();
        runs += tasks.len();
        let results: Vec<crate::metrics::RunResult> = pool.install(|| {
            tasks
                .par_iter()
                .map(|&(s, p, r)| sim::run(&sweep.points[p].scenario, s, r))
                .collect()
        });
        // A replayed log that could not be read (or broke `strict`) is bad input.
        crate::runner::check_replay(&results)?;
        let rows: Vec<SummaryRow> = results.into_iter().map(|r| r.summary).collect();
        for (k, &(s, p)) in needed.iter().enumerate() {
            let mine = &rows[k * reps as usize..(k + 1) * reps as usize];
            let estimates: Vec<Estimate> = targets
                .iter()
                .map(|t| estimate(&mine.iter().filter_map(|r| r.metric(&t.metric)).collect::<Vec<_>>()))
                .collect();
            let met = targets.iter().zip(&estimates).all(|(t, e)| t.met(e));
            cache.insert(
                (s, p),
                Evaluated {
                    point: p,
                    estimates,
                    met,
                },
            );
            order[s].push(p);
        }
    }
    let strategies = (0..s_count)
        .map(|s| StrategyPlan {
            label: sweep.strategies[s].clone(),
            answers: answers[s].clone().unwrap_or_default(),
            evaluated: order[s].iter().filter_map(|p| cache.get(&(s, *p)).cloned()).collect(),
        })
        .collect();
    Ok(Plan {
        strategies,
        runs,
        grid_runs: sweep.runs(),
    })
}

/// `plan.csv`: one row per strategy and configuration run, in search order.
pub fn plan_csv(sweep: &Sweep, targets: &[Target], plan: &Plan) -> Result<Vec<u8>> {
    let mut header: Vec<String> = vec!["strategy".into(), "step".into(), "point".into()];
    header.extend(sweep.axes.iter().map(|a| a.key.clone()));
    header.push("meets_targets".into());
    header.push("answer".into());
    for t in targets {
        header.push(format!("{}_mean", t.metric));
        header.push(format!("{}_ci95", t.metric));
    }
    let mut out = super::output::record_bytes(&header)?;
    let num = |x: f64| {
        if x.is_finite() {
            round6(x).to_string()
        } else {
            String::new()
        }
    };
    for sp in &plan.strategies {
        for (step, e) in sp.evaluated.iter().enumerate() {
            let mut rec = vec![sp.label.clone(), (step + 1).to_string(), e.point.to_string()];
            rec.extend(sweep.points[e.point].values.iter().map(spec::display));
            rec.push(e.met.to_string());
            rec.push(sp.answers.contains(&e.point).to_string());
            for est in &e.estimates {
                rec.push(num(est.mean));
                rec.push(num(est.ci95));
            }
            out.extend(super::output::record_bytes(&rec)?);
        }
    }
    Ok(out)
}

/// The configuration of a point, as `backends.count=9, backends.workers=2`.
pub fn describe(sweep: &Sweep, p: usize) -> String {
    sweep
        .axes
        .iter()
        .zip(&sweep.points[p].values)
        .map(|(a, v)| format!("{}={}", a.key, spec::display(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_clear_errors() {
        let t = Target::parse("latency_p99_ms<300").unwrap();
        assert_eq!((t.metric.as_str(), t.cmp, t.value), ("latency_p99_ms", Cmp::Lt, 300.0));
        assert_eq!(Target::parse(" throughput_rps >= 1e3").unwrap().cmp, Cmp::Ge);
        assert_eq!(
            Target::parse("lost_session_pct<=0.1").unwrap().to_string(),
            "lost_session_pct<=0.1"
        );
        let e = Target::parse("latency_p99<300").unwrap_err();
        assert!(
            e.to_string().starts_with(
                "--target 'latency_p99<300': unknown metric `latency_p99`; did you mean `latency_p99_ms`?; \
                 metrics: requests, completed,"
            ),
            "{e}"
        );
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            Target::parse("latency_p99_ms=300").unwrap_err().to_string(),
            "--target 'latency_p99_ms=300': expected METRIC<VALUE or METRIC>VALUE, e.g. --target 'latency_p99_ms<300'"
        );
        assert_eq!(
            Target::parse("latency_p99_ms<3OO").unwrap_err().to_string(),
            "--target 'latency_p99_ms<3OO': `3OO` is not a number"
        );
    }

    #[test]
    fn a_target_is_met_only_by_its_whole_interval() {
        let e = Estimate {
            n: 3,
            mean: 0.28,
            sd: 0.01,
            ci95: 0.015,
        };
        assert!(Target::parse("backend_utilization<0.3").unwrap().met(&e)); // 0.295 < 0.3
        assert!(!Target::parse("backend_utilization<0.29").unwrap().met(&e)); // 0.295 >= 0.29
        assert!(Target::parse("backend_utilization>0.26").unwrap().met(&e)); // 0.265 > 0.26
        assert!(!Target::parse("backend_utilization>0.27").unwrap().met(&e));
    }

    /// Drives the staircase against a known feasibility function, returning the frontier and
    /// the points probed.
    fn search(n_a: usize, n_b: usize, ok: impl Fn(usize, usize) -> bool) -> (Vec<(usize, usize)>, usize) {
        let mut known = BTreeMap::new();
        loop {
            match staircase(n_a, n_b, |i, j| known.get(&(i, j)).copied()) {
                Ok(f) => return (f, known.len()),
                Err((i, j)) => {
                    known.insert((i, j), ok(i, j));
                }
            }
        }
    }

    #[test]
    fn bisection_on_one_axis() {
        // Feasible from index 8 on (of 63): 1 + 6 probes instead of 63.
        let (f, probes) = search(1, 63, |_, j| j >= 8);
        assert_eq!(f, [(0, 8)]);
        assert!(probes <= 7, "{probes}");
        assert_eq!(search(1, 10, |_, _| false).0, []);
        assert_eq!(search(1, 10, |_, _| true).0, [(0, 0)]);
    }

    #[test]
    fn staircase_finds_the_pareto_frontier() {
        // Feasible when (i + 1) * (j + 1) >= 9 on 8 x 8: for i + 1 = 1..8 the least j + 1 is
        // 9 (none), 5, 3, 3, 2, 2, 2, 2; Pareto-minimal: (2, 5), (3, 3), (5, 2).
        let (f, probes) = search(8, 8, |i, j| (i + 1) * (j + 1) >= 9);
        assert_eq!(f, [(1, 4), (2, 2), (4, 1)]);
        assert!(probes < 64 / 2, "{probes}");
    }
}
