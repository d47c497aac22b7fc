//! `sessim plan`: per strategy, the cheapest configuration that meets every target (and, with
//! `--max-load`, the largest load a configuration carries), found with far fewer simulations
//! than the full grid.
//!
//! The statistical rule: a target is judged by its 95% confidence interval over replications,
//! so that a configuration is only called sufficient when the data say so: `m < v` is met when
//! the upper bound mean + half-width is below v, `m > v` when the lower bound is above v. This
//! needs at least two replications. The objective (`--minimize`, a `cost_*` column by default
//! `cost_total_per_h`) is compared by its mean.
//!
//! Assumptions: every axis lists its values from the least to the most generous (more
//! backends, workers, store servers or memory), and feasibility is monotone: a configuration at
//! least as generous on every axis as one that meets the targets meets them too, and one at most
//! as generous as a failing one fails.
//!
//! The search (`search`), per strategy: every configuration of the grid has a lower bound of
//! its objective known before any simulation, the fixed cost of its backends and store servers
//! ([`crate::cost::fixed_per_hour`]; network and lost-session costs are never
//! negative). Configurations are visited in increasing lower bound (ties: fewer axis steps
//! first, then grid order):
//!
//! - one whose lower bound is above the best objective found so far ends the search: no later
//!   one can be cheaper (branch and bound; one of equal bound is still looked at, so that of
//!   equally cheap configurations the least generous wins);
//! - one at most as generous as a failing configuration fails (monotonicity): skipped;
//! - one at least as generous as a passing configuration costs at least as much in backends and
//!   store: skipped when the objective is `cost_total_per_h`, `cost_backends_per_h` or
//!   `cost_store_per_h` (its network and lost-session costs are assumed not to fall by more than
//!   its extra fixed cost), simulated otherwise;
//! - any other is decided by bisection along the last axis through it (its "line"): between the
//!   most generous point of the line known to fail and the least generous known to pass (the
//!   line's top first when none is known to pass). Each line takes at most 1 + ceil(log2 n)
//!   simulations, and a failure also rules out every configuration below it in the other
//!   lines.
//!
//! With one axis this is plain bisection (7 configurations instead of 63 for `2..64`); with
//! two it is the staircase walk of the Pareto frontier, cut short by the cost bound. Every
//! strategy searches on its own, but the configurations they need in one round run together on
//! the thread pool. Every simulation is appended to `plan_runs.csv` as soon as its round ends;
//! `--resume` reads it back and replays the search, so a resumed plan gives the same answer
//! and `plan.csv` as an uninterrupted one. Results are deterministic for any `--jobs`.
//!
//! Sharding: the search is adaptive (which configuration runs next depends on the last
//! result), so it does not fit `--shard`'s fixed slices of the grid; it runs on one machine.

use super::grid::{AxesFrom, Mode, Sweep};
use super::output;
use super::spec;
use crate::error::{Error, Result};
use crate::metrics::round6;
use crate::metrics::stats::Estimate;
use crate::runner;
use crate::scenario::Scenario;
use crate::sim;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;

mod cache;
mod target;
pub use cache::{Cache, RUNS};
pub use target::{Cmp, OBJECTIVES, Target, parse_objective};

/// A lower bound of `objective` for strategy `s` at a point, known before simulating it.
fn lower_bound(sc: &Scenario, s: usize, objective: &str) -> f64 {
    let (b, st) = crate::cost::fixed_per_hour(&sc.strategies[s].system);
    match objective {
        "cost_total_per_h" => b + st,
        "cost_backends_per_h" => b,
        "cost_store_per_h" => st,
        _ => 0.0,
    }
}

/// One configuration evaluated for one strategy.
#[derive(Clone, Debug)]
pub struct Evaluated {
    /// The configuration: an index into the sweep's points.
    pub point: usize,
    /// One estimate per target, in target order.
    pub estimates: Vec<Estimate>,
    /// The `--minimize` column over replications.
    pub(crate) objective: Estimate,
    pub(crate) met: bool,
}

/// The answer for one strategy.
#[derive(Clone, Debug)]
pub struct StrategyPlan {
    pub(crate) label: String,
    /// The cheapest configuration (point) meeting every target; None if none does.
    pub answer: Option<usize>,
    /// Every configuration the search looked at, in the order it asked for them.
    pub evaluated: Vec<Evaluated>,
}

impl StrategyPlan {
    pub(crate) fn answer_eval(&self) -> Option<&Evaluated> {
        self.answer.and_then(|p| self.evaluated.iter().find(|e| e.point == p))
    }
}

/// What `sessim plan` found: per strategy, the cheapest configuration meeting every target, and
/// what the search cost.
#[derive(Clone, Debug)]
pub struct Plan {
    /// One answer per strategy searched, in scenario order.
    pub strategies: Vec<StrategyPlan>,
    pub(crate) objective: String,
    /// Simulations the search used (configurations x replications, over strategies), of which
    /// `resumed` came from `plan_runs.csv`.
    pub runs: usize,
    pub(crate) resumed: usize,
    /// Simulations the full grid would have needed.
    pub grid_runs: usize,
    /// Configurations simulated (over strategies) and in the grid (per strategy x strategies).
    pub(crate) configurations: usize,
    pub(crate) grid_configurations: usize,
}

impl Plan {
    /// The strategy with the cheapest answer (ties: the first in scenario order).
    pub(crate) fn winner(&self) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        for (s, sp) in self.strategies.iter().enumerate() {
            if let Some(e) = sp.answer_eval()
                && best.is_none_or(|(b, _)| e.objective.mean < b)
            {
                best = Some((e.objective.mean, s));
            }
        }
        best.map(|(_, s)| s)
    }
}

/// What the search knows of one simulated configuration: met, and the objective's mean.
pub(crate) type Known = BTreeMap<usize, (bool, f64)>;

/// The shape of the configuration space and the order of the search.
pub(crate) struct Space {
    /// Values per axis (one axis of points in a zip sweep); the last axis varies fastest.
    pub(crate) dims: Vec<usize>,
    /// The objective's lower bound per point.
    pub(crate) lower: Vec<f64>,
    /// Whether a point at least as generous as a passing one may be skipped.
    pub(crate) skip_dominating: bool,
}

impl Space {
    fn coords(&self, mut p: usize) -> Vec<usize> {
        let mut c = vec![0; self.dims.len()];
        for (i, n) in self.dims.iter().enumerate().rev() {
            c[i] = p % n;
            p /= n;
        }
        c
    }

    fn index(&self, c: &[usize]) -> usize {
        c.iter().zip(&self.dims).fold(0, |acc, (x, n)| acc * n + x)
    }

    /// Points in search order: lower bound, then axis steps, then grid order.
    pub(crate) fn order(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.lower.len()).collect();
        v.sort_by(|&a, &b| {
            let sa: usize = self.coords(a).iter().sum();
            let sb: usize = self.coords(b).iter().sum();
            self.lower[a]
                .total_cmp(&self.lower[b])
                .then(sa.cmp(&sb))
                .then(a.cmp(&b))
        });
        v
    }
}

fn leq(a: &[usize], b: &[usize]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y)
}

/// The cost-ordered search, replayed from the start against what is known: the cheapest
/// passing point (None if none passes) once every point it needs is known, or the next point
/// it needs.
pub(crate) fn search(space: &Space, order: &[usize], known: &Known) -> std::result::Result<Option<usize>, usize> {
    let sims: Vec<(Vec<usize>, bool, f64, usize)> =
        known.iter().map(|(&p, &(m, o))| (space.coords(p), m, o, p)).collect();
    let fails = |c: &[usize]| sims.iter().any(|(f, m, _, _)| !m && leq(c, f));
    let passes = |c: &[usize]| sims.iter().any(|(q, m, _, _)| *m && leq(q, c));
    // The best passing point so far: least objective, then earliest in the search order.
    let rank: BTreeMap<usize, usize> = order.iter().enumerate().map(|(i, &p)| (p, i)).collect();
    let best = || {
        sims.iter()
            .filter(|(_, m, _, _)| *m)
            .min_by(|a, b| a.2.total_cmp(&b.2).then(rank[&a.3].cmp(&rank[&b.3])))
            .map(|(_, _, o, p)| (*o, *p))
    };
    let best_now = best();
    for &p in order {
        if best_now.is_some_and(|(b, _)| b < space.lower[p]) {
            break;
        }
        if known.contains_key(&p) {
            continue;
        }
        let c = space.coords(p);
        if fails(&c) {
            continue;
        }
        if passes(&c) {
            if space.skip_dominating {
                continue;
            }
            return Err(p);
        }
        // Bisection along the last axis through p.
        let last = c.len() - 1;
        let n = space.dims[last] as isize;
        let at = |k: isize| {
            let mut x = c.clone();
            x[last] = k as usize;
            x
        };
        let mut lo = -1isize;
        let mut hi = n;
        for k in 0..n {
            let x = at(k);
            if fails(&x) {
                lo = k;
            }
            if hi == n && passes(&x) {
                hi = k;
            }
        }
        if lo >= hi {
            // Noisy, non-monotone data: decide p itself.
            return Err(p);
        }
        let k = if hi == n { n - 1 } else { (lo + hi).div_euclid(2) };
        return Err(space.index(&at(k)));
    }
    Ok(best_now.map(|(_, p)| p))
}

/// The largest passing index of a load axis whose feasibility falls with the load (a prefix of
/// the axis passes): the smallest load first (if it fails, nothing passes), then bisection
/// between the largest load known to pass and the smallest known to fail (or the end).
pub(crate) fn largest_passing(
    n: usize,
    known: impl Fn(usize) -> Option<bool>,
) -> std::result::Result<Option<usize>, usize> {
    if n == 0 {
        return Ok(None);
    }
    if !known(0).ok_or(0usize)? {
        return Ok(None);
    }
    let (mut pass, mut fail) = (0usize, n);
    while fail - pass > 1 {
        let mid = (pass + fail) / 2;
        if known(mid).ok_or(mid)? {
            pass = mid;
        } else {
            fail = mid;
        }
    }
    Ok(Some(pass))
}

/// How to search.
pub struct Options<'a> {
    /// The `--target` conditions every answer must meet.
    pub targets: &'a [Target],
    /// The `--minimize` column.
    pub objective: String,
    /// Worker threads (`--jobs`).
    pub jobs: usize,
    /// Draw a progress line on stderr (only if it is a terminal).
    pub progress: bool,
    /// Search only these strategies (all when empty).
    pub only: Vec<usize>,
}

fn check(sweep: &Sweep, opts: &Options) -> Result<()> {
    if opts.targets.is_empty() {
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
    Ok(())
}

fn progress(enabled: bool, what: &str) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} {prefix}: {msg}, {elapsed} elapsed")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Runs the simulations of `needed` (strategy, point) that the cache lacks, on `jobs` threads.
fn simulate(sweep: &Sweep, needed: &[(usize, usize)], cache: &mut Cache, jobs: usize) -> Result<usize> {
    let tasks: Vec<(usize, usize, u32)> = needed
        .iter()
        .flat_map(|&(s, p)| (0..sweep.replications).map(move |r| (s, p, r)))
        .filter(|&(s, p, r)| !cache.rows.contains_key(&(s, p, r)))
        .collect();
    let results = crate::parallel::map(jobs, tasks.len(), |k| {
        let (s, p, r) = tasks[k];
        Ok(sim::run(&sweep.points[p].scenario, s, r)?)
    })?;
    // A replayed log that could not be read (or broke `strict`) is bad input.
    let (results, _) = runner::checked_runs(results)?;
    for (&(s, p, r), res) in tasks.iter().zip(results) {
        cache.insert(sweep, s, p, r, res.summary)?;
    }
    cache.flush()?;
    Ok(tasks.len())
}

/// Finds, per strategy, the cheapest configuration of `sweep` meeting every target.
pub fn plan(sweep: &Sweep, opts: &Options, cache: &mut Cache) -> Result<Plan> {
    check(sweep, opts)?;
    parse_objective(&opts.objective)?;
    let dims: Vec<usize> = match sweep.mode {
        Mode::Zip => vec![sweep.points.len()],
        Mode::Grid => sweep.axes.iter().map(|a| a.values.len()).collect(),
    };
    let s_count = sweep.strategies.len();
    let searched: Vec<usize> = if opts.only.is_empty() {
        (0..s_count).collect()
    } else {
        opts.only.clone()
    };
    let skip_dominating = matches!(
        opts.objective.as_str(),
        "cost_total_per_h" | "cost_backends_per_h" | "cost_store_per_h"
    );
    let spaces: Vec<Space> = (0..s_count)
        .map(|s| Space {
            dims: dims.clone(),
            lower: sweep
                .points
                .iter()
                .map(|pt| lower_bound(&pt.scenario, s, &opts.objective))
                .collect(),
            skip_dominating,
        })
        .collect();
    let orders: Vec<Vec<usize>> = spaces.iter().map(Space::order).collect();
    let reps = sweep.replications;
    let mut known: Vec<Known> = vec![Known::new(); s_count];
    let mut seen: Vec<Vec<Evaluated>> = vec![Vec::new(); s_count];
    let mut answers: Vec<Option<Option<usize>>> = vec![None; s_count];
    let mut simulated = 0;
    let bar = progress(opts.progress, &sweep.name);
    let before = cache.resumed;
    loop {
        let mut needed: Vec<(usize, usize)> = Vec::new();
        for &s in &searched {
            while answers[s].is_none() {
                match search(&spaces[s], &orders[s], &known[s]) {
                    Ok(a) => answers[s] = Some(a),
                    Err(p) if cache.has(s, p, reps) => {
                        let e = cache.evaluate(s, p, reps, opts.targets, &opts.objective);
                        known[s].insert(p, (e.met, e.objective.mean));
                        seen[s].push(e);
                    }
                    Err(p) => {
                        needed.push((s, p));
                        break;
                    }
                }
            }
        }
        if needed.is_empty() {
            break;
        }
        simulated += simulate(sweep, &needed, cache, opts.jobs)?;
        let done = searched.iter().filter(|&&s| answers[s].is_some()).count();
        bar.set_message(format!(
            "{} configurations x {reps} replications simulated, {done}/{} strategies decided",
            seen.iter().map(Vec::len).sum::<usize>() + needed.len(),
            searched.len()
        ));
    }
    bar.finish_and_clear();
    let strategies: Vec<StrategyPlan> = (0..s_count)
        .map(|s| StrategyPlan {
            label: sweep.strategies[s].clone(),
            answer: answers[s].flatten(),
            evaluated: seen[s].clone(),
        })
        .collect();
    let configurations: usize = seen.iter().map(Vec::len).sum();
    Ok(Plan {
        strategies,
        objective: opts.objective.clone(),
        runs: configurations * reps as usize,
        resumed: (configurations * reps as usize).saturating_sub(simulated).min(before),
        grid_runs: sweep.points.len() * searched.len() * reps as usize,
        configurations,
        grid_configurations: sweep.points.len() * searched.len(),
    })
}

/// The answer of `--max-load` for one strategy.
#[derive(Clone, Debug)]
pub(crate) struct LoadAnswer {
    pub(crate) label: String,
    /// The largest load value (an index of the load axis) meeting every target; None if even
    /// the smallest fails.
    pub(crate) largest: Option<usize>,
    /// Every load simulated, in search order.
    pub(crate) evaluated: Vec<Evaluated>,
}

/// `--max-load`: per strategy, the largest value of the one (load) axis of `sweep` that meets
/// every target, by bisection on that axis.
pub(crate) fn max_load(sweep: &Sweep, opts: &Options, cache: &mut Cache) -> Result<Vec<LoadAnswer>> {
    check(sweep, opts)?;
    let n = sweep.points.len();
    let s_count = sweep.strategies.len();
    let searched: Vec<usize> = if opts.only.is_empty() {
        (0..s_count).collect()
    } else {
        opts.only.clone()
    };
    let reps = sweep.replications;
    let mut seen: Vec<Vec<Evaluated>> = vec![Vec::new(); s_count];
    let mut answers: Vec<Option<Option<usize>>> = vec![None; s_count];
    let bar = progress(opts.progress, &format!("{} (max load)", sweep.name));
    let objective = if opts.objective.is_empty() {
        "cost_total_per_h".to_string()
    } else {
        opts.objective.clone()
    };
    loop {
        let mut needed = Vec::new();
        for &s in &searched {
            while answers[s].is_none() {
                let met: BTreeMap<usize, bool> = seen[s].iter().map(|e| (e.point, e.met)).collect();
                match largest_passing(n, |i| met.get(&i).copied()) {
                    Ok(a) => answers[s] = Some(a),
                    Err(p) if cache.has(s, p, reps) => {
                        seen[s].push(cache.evaluate(s, p, reps, opts.targets, &objective));
                    }
                    Err(p) => {
                        needed.push((s, p));
                        break;
                    }
                }
            }
        }
        if needed.is_empty() {
            break;
        }
        simulate(sweep, &needed, cache, opts.jobs)?;
        bar.set_message(format!(
            "{} loads simulated",
            seen.iter().map(Vec::len).sum::<usize>() + needed.len()
        ));
    }
    bar.finish_and_clear();
    Ok(searched
        .iter()
        .map(|&s| LoadAnswer {
            label: sweep.strategies[s].clone(),
            largest: answers[s].flatten(),
            evaluated: seen[s].clone(),
        })
        .collect())
}

/// The key `--max-load` and `--growth` vary.
pub(crate) const LOAD_KEY: &str = "workload.users_per_second";

/// The scenario's load: its base `workload.users_per_second`.
pub(crate) fn base_load(sc: &Scenario) -> Result<f64> {
    sc.source
        .get("workload")
        .and_then(|w| w.get("users_per_second"))
        .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
        .ok_or_else(|| {
            Error::bad_input(
                "--max-load and --growth vary workload.users_per_second, which the scenario does not set \
                 (a replayed log has no rate to scale): set it, e.g. --set workload.users_per_second=50",
            )
        })
}

/// The scenario with `key = value` set (a configuration the planner chose, or another load).
pub(crate) fn with_values(sc: &Scenario, origin: &str, values: &[(String, toml::Value)]) -> Result<Scenario> {
    let mut t = sc.source.clone();
    for (k, v) in values {
        crate::scenario::load::set_path(&mut t, k, v.clone())
            .map_err(|m| Error::bad_input(format!("{origin}: {k}: {m}")))?;
    }
    crate::scenario::load::from_table(t, origin)
}

/// A sweep of the scenario's load over `values` (users per second), nothing else varied.
pub(crate) fn load_sweep(sc: &Scenario, origin: &str, values: &[f64]) -> Result<Sweep> {
    let spec: Vec<String> = values
        .iter()
        .map(|v| toml::Value::Float(round6(*v)).to_string())
        .collect();
    let spec = format!("[{}]", spec.join(", "));
    let sc = sc.clone().without_sweep_section();
    Sweep::build(&sc, origin, &[format!("{LOAD_KEY}={spec}")], AxesFrom::VaryOnly)
}

/// `plan.csv`: one row per strategy and configuration looked at, in search order.
pub(crate) fn plan_csv(sweep: &Sweep, targets: &[Target], plan: &Plan) -> Result<Vec<u8>> {
    let mut header: Vec<String> = vec!["strategy".into(), "step".into(), "point".into()];
    header.extend(sweep.axes.iter().map(|a| a.key.clone()));
    header.push("meets_targets".into());
    header.push("answer".into());
    header.push(format!("{}_mean", plan.objective));
    header.push(format!("{}_ci95", plan.objective));
    for t in targets {
        header.push(format!("{}_mean", t.metric));
        header.push(format!("{}_ci95", t.metric));
    }
    let mut out = output::record_bytes(&header)?;
    for sp in &plan.strategies {
        for (step, e) in sp.evaluated.iter().enumerate() {
            let mut rec = vec![sp.label.clone(), (step + 1).to_string(), e.point.to_string()];
            rec.extend(sweep.points[e.point].values.iter().map(spec::display));
            rec.push(e.met.to_string());
            rec.push((sp.answer == Some(e.point)).to_string());
            rec.push(num(e.objective.mean));
            rec.push(num(e.objective.ci95));
            for est in &e.estimates {
                rec.push(num(est.mean));
                rec.push(num(est.ci95));
            }
            out.extend(output::record_bytes(&rec)?);
        }
    }
    Ok(out)
}

/// `max_load.csv`: one row per strategy and load looked at, in search order.
pub(crate) fn max_load_csv(sweep: &Sweep, targets: &[Target], answers: &[LoadAnswer]) -> Result<Vec<u8>> {
    let mut header: Vec<String> = vec!["strategy".into(), "step".into(), LOAD_KEY.into()];
    header.push("meets_targets".into());
    header.push("answer".into());
    for t in targets {
        header.push(format!("{}_mean", t.metric));
        header.push(format!("{}_ci95", t.metric));
    }
    let mut out = output::record_bytes(&header)?;
    for a in answers {
        for (step, e) in a.evaluated.iter().enumerate() {
            let mut rec = vec![a.label.clone(), (step + 1).to_string()];
            rec.extend(sweep.points[e.point].values.iter().map(spec::display));
            rec.push(e.met.to_string());
            rec.push((a.largest == Some(e.point)).to_string());
            for est in &e.estimates {
                rec.push(num(est.mean));
                rec.push(num(est.ci95));
            }
            out.extend(output::record_bytes(&rec)?);
        }
    }
    Ok(out)
}

fn num(x: f64) -> String {
    if x.is_finite() {
        round6(x).to_string()
    } else {
        String::new()
    }
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

/// The axis values of a point, as `--set` pairs.
pub(crate) fn values_of(sweep: &Sweep, p: usize) -> Vec<(String, toml::Value)> {
    sweep
        .axes
        .iter()
        .zip(&sweep.points[p].values)
        .map(|(a, v)| (a.key.clone(), v.clone()))
        .collect()
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

    /// Drives the search against a known feasibility and objective, returning the answer and
    /// the points simulated in order.
    fn drive(space: &Space, ok: impl Fn(&[usize]) -> bool, obj: impl Fn(usize) -> f64) -> (Option<usize>, Vec<usize>) {
        let order = space.order();
        let mut known = Known::new();
        let mut probes = Vec::new();
        loop {
            match search(space, &order, &known) {
                Ok(a) => return (a, probes),
                Err(p) => {
                    assert!(!known.contains_key(&p), "asked twice for {p}");
                    probes.push(p);
                    known.insert(p, (ok(&space.coords(p)), obj(p)));
                }
            }
        }
    }

    #[test]
    fn one_axis_is_bisection() {
        // Feasible from index 8 on (of 16), no costs: the top first, then halving:
        // 15 passes, 7 fails, 11, 9, 8 pass: 5 probes instead of 16.
        let space = Space {
            dims: vec![16],
            lower: vec![0.0; 16],
            skip_dominating: true,
        };
        let (a, probes) = drive(&space, |c| c[0] >= 8, |_| 0.0);
        assert_eq!(a, Some(8));
        assert_eq!(probes, [15, 7, 11, 9, 8]);
        // Feasible from 8 of 63: at most 1 + ceil(log2 63) = 7 probes.
        let space = Space {
            dims: vec![63],
            lower: (0..63).map(|i| i as f64).collect(),
            skip_dominating: true,
        };
        let (a, probes) = drive(&space, |c| c[0] >= 8, |p| p as f64);
        assert_eq!(a, Some(8));
        assert!(probes.len() <= 7, "{probes:?}");
        assert_eq!(drive(&space, |_| false, |p| p as f64).0, None);
        assert_eq!(drive(&space, |_| true, |p| p as f64).0, Some(0));
    }

    /// A tiny deterministic generator for the brute-force comparisons (SplitMix64).
    fn splitmix(x: &mut u64) -> u64 {
        *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn the_search_finds_the_brute_force_cheapest_on_random_monotone_spaces() {
        // 300 random spaces of 1 to 3 axes: feasible when a weighted sum of the coordinates
        // reaches a threshold (monotone), cost a positive price per step of each axis plus a
        // random non-negative variable part. The answer must be the cheapest feasible point
        // by brute force (ties: search order), and use fewer probes than the grid on average.
        let mut seed = 7u64;
        let (mut probes_total, mut grid_total) = (0, 0);
        for case in 0..300 {
            let k = 1 + (splitmix(&mut seed) % 3) as usize;
            let dims: Vec<usize> = (0..k).map(|_| 2 + (splitmix(&mut seed) % 9) as usize).collect();
            let n: usize = dims.iter().product();
            let w: Vec<f64> = (0..k).map(|_| 1.0 + (splitmix(&mut seed) % 5) as f64).collect();
            let price: Vec<f64> = (0..k).map(|_| 0.5 + (splitmix(&mut seed) % 7) as f64).collect();
            let reach: f64 = dims.iter().zip(&w).map(|(d, w)| (d - 1) as f64 * w).sum();
            let threshold = (splitmix(&mut seed) % 1000) as f64 / 1000.0 * reach * 1.1;
            let space = Space {
                dims: dims.clone(),
                lower: vec![0.0; n],
                skip_dominating: true,
            };
            let fixed: Vec<f64> = (0..n)
                .map(|p| space.coords(p).iter().zip(&price).map(|(c, pr)| *c as f64 * pr).sum())
                .collect();
            // Variable part: small, so that a dominating point is never cheaper (the
            // assumption `skip_dominating` rests on).
            let var: Vec<f64> = (0..n).map(|_| (splitmix(&mut seed) % 100) as f64 / 1000.0).collect();
            let space = Space {
                lower: fixed.clone(),
                ..space
            };
            let ok = |c: &[usize]| c.iter().zip(&w).map(|(c, w)| *c as f64 * w).sum::<f64>() >= threshold;
            let obj = |p: usize| fixed[p] + var[p];
            let (a, probes) = drive(&space, ok, obj);
            let order = space.order();
            let brute = order
                .iter()
                .filter(|&&p| ok(&space.coords(p)))
                .min_by(|&&x, &&y| obj(x).total_cmp(&obj(y)));
            assert_eq!(a, brute.copied(), "case {case}: dims {dims:?}, probes {probes:?}");
            probes_total += probes.len();
            grid_total += n;
        }
        assert!(probes_total * 2 < grid_total, "{probes_total} of {grid_total}");
    }

    #[test]
    fn load_bisection_finds_the_largest_passing_load() {
        // Loads 0..20 pass up to index 12.
        let mut probes = Vec::new();
        let ok = |i: usize| i <= 12;
        let mut known = BTreeMap::new();
        let a = loop {
            match largest_passing(21, |i| known.get(&i).copied()) {
                Ok(a) => break a,
                Err(i) => {
                    probes.push(i);
                    known.insert(i, ok(i));
                }
            }
        };
        assert_eq!(a, Some(12));
        // (pass, fail) = (0, 21) -> 10 passes -> (10, 21) -> 15 fails -> 12 passes -> 13 fails.
        assert_eq!(probes, [0, 10, 15, 12, 13]);
        assert_eq!(largest_passing(5, |_| Some(false)), Ok(None));
        assert_eq!(largest_passing(5, |_| Some(true)), Ok(Some(4)));
    }

    #[test]
    fn objectives_and_margins() {
        assert_eq!(parse_objective("cost_total_per_h").unwrap(), "cost_total_per_h");
        let e = parse_objective("cost_totl_per_h").unwrap_err().to_string();
        assert!(
            e.starts_with("--minimize cost_totl_per_h: not a cost column; did you mean `cost_total_per_h`?"),
            "{e}"
        );
        let t = Target::parse("latency_p99_ms<300").unwrap();
        // Upper bound 240 + 15 = 255: 45 below 300 = 15%.
        let e = Estimate {
            n: 3,
            mean: 240.0,
            sd: 1.0,
            ci95: 15.0,
        };
        assert!((t.margin_pct(&e) - 15.0).abs() < 1e-9);
    }
}
