//! Runs every strategy and replication of a scenario, in parallel on `jobs` threads
//! (`crate::parallel`). Results come back in (strategy, replication) order whatever the thread count, and
//! each run depends only on the scenario, its strategy and its replication: the output is
//! byte-identical for every `--jobs`.

use crate::error::{Error, Result};
use crate::metrics::RunResult;
use crate::scenario::Scenario;
use crate::sim::{self, trace, trace::Tracer};
use crate::workload::replay::source::ReplayReport;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use tempfile::NamedTempFile;

/// The (strategy, replication) of every run of a scenario: strategy-major, then replication.
fn tasks(sc: &Scenario) -> Vec<(usize, u32)> {
    (0..sc.strategies.len())
        .flat_map(|s| (0..sc.replications).map(move |r| (s, r)))
        .collect()
}

/// All runs of a scenario on `jobs` threads (0 = one per core): strategy-major, then
/// replication. A replayed log that cannot be read, broke `strict`, or gave no request is bad
/// input.
pub fn run_all(sc: &Scenario, jobs: usize) -> Result<Vec<RunResult>> {
    run_all_with_replay(sc, jobs).map(|(runs, _)| runs)
}

/// [`run_all`], with what reading the replayed log found (every run read the same log: the
/// first run's report speaks for all).
pub fn run_all_with_replay(sc: &Scenario, jobs: usize) -> Result<(Vec<RunResult>, Option<ReplayReport>)> {
    run_all_reporting(sc, jobs, &|| {})
}

/// [`run_all_with_replay`], calling `done` as each (strategy, replication) run ends (from the
/// thread that ran it; `sessim run`'s progress line counts them).
fn run_all_reporting(
    sc: &Scenario,
    jobs: usize,
    done: &(dyn Fn() + Sync),
) -> Result<(Vec<RunResult>, Option<ReplayReport>)> {
    let tasks = tasks(sc);
    let runs = crate::parallel::map(jobs, tasks.len(), |k| {
        let (s, r) = tasks[k];
        let run = sim::run(sc, s, r)?;
        done();
        Ok(run)
    })?;
    checked_runs(runs)
}

/// The results of `runs`, in order, and the first run's replay report; a replay report that
/// [`check_report`] refuses is bad input.
pub(crate) fn checked_runs(runs: Vec<sim::Run>) -> Result<(Vec<RunResult>, Option<ReplayReport>)> {
    let mut results = Vec::with_capacity(runs.len());
    let mut first = None;
    for run in runs {
        if let Some(rep) = &run.replay {
            check_report(rep)?;
        }
        if results.is_empty() {
            first = run.replay;
        }
        results.push(run.result);
    }
    Ok((results, first))
}

/// Where `--trace` writes and which share of the requests it keeps.
#[derive(Clone, Debug)]
pub(crate) struct TraceSpec {
    /// The trace file to write.
    pub(crate) path: PathBuf,
    /// Fraction of requests kept (0 < sample <= 1), chosen by request identity.
    pub(crate) sample: f64,
}

/// All runs of a scenario, as [`run_all`], and the trace of every run when asked for: each
/// run streams its rows to a hidden temporary file next to the target, and the parts are
/// joined in (strategy, replication) order under a header into one more temporary file, so
/// the trace's bytes do not depend on `jobs`. The caller publishes it (`persist`) together
/// with the run's other outputs. A replayed log's fatal problem is returned as bad input.
pub(crate) fn run_all_traced(
    sc: &Scenario,
    jobs: usize,
    trace: Option<&TraceSpec>,
    done: &(dyn Fn() + Sync),
) -> Result<(Vec<RunResult>, Option<ReplayReport>, Option<NamedTempFile>)> {
    let Some(spec) = trace else {
        let (runs, replay) = run_all_reporting(sc, jobs, done)?;
        return Ok((runs, replay, None));
    };
    let dir = match spec.path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let name = spec
        .path
        .file_name()
        .map_or("trace.csv".into(), |n| n.to_string_lossy().into_owned());
    let tasks = tasks(sc);
    let parts = crate::parallel::map(jobs, tasks.len(), |k| {
        let (s, r) = tasks[k];
        let part = NamedTempFile::with_prefix_in(format!(".{name}.part{s}-{r}."), &dir)
            .map_err(|e| Error::io(&spec.path, e))?;
        let file = part.reopen().map_err(|e| Error::io(part.path(), e))?;
        let mut tracer = Tracer::new(Box::new(BufWriter::with_capacity(1 << 16, file)), spec.sample);
        let run = sim::run_traced(sc, s, r, &[], Some(&mut tracer))?;
        tracer.finish().map_err(|source| Error::Csv {
            path: spec.path.clone(),
            source,
        })?;
        done();
        Ok((run, part))
    })?;
    let (runs, files): (Vec<sim::Run>, Vec<NamedTempFile>) = parts.into_iter().unzip();
    let (runs, replay) = checked_runs(runs)?;
    let mut joined = NamedTempFile::with_prefix_in(format!(".{name}."), &dir).map_err(|e| Error::io(&spec.path, e))?;
    {
        let mut w = BufWriter::new(joined.as_file_mut());
        let io = |e| Error::io(&spec.path, e);
        w.write_all(trace::HEADER.as_bytes()).map_err(io)?;
        w.write_all(b"\n").map_err(io)?;
        for f in &files {
            let mut r = f.reopen().map_err(io)?;
            std::io::copy(&mut r, &mut w).map_err(io)?;
        }
        w.flush().map_err(io)?;
    }
    Ok((runs, replay, Some(joined)))
}

/// A replayed log that broke `strict`, or gave no request at all, is bad input.
pub(crate) fn check_report(rep: &ReplayReport) -> Result<()> {
    if let Some(e) = &rep.error {
        return Err(Error::bad_input(e.clone()));
    }
    if rep.requests == 0 {
        let first = rep
            .bad
            .first()
            .map(|b| format!("; line {}: {}", b.line, b.reason))
            .unwrap_or_default();
        return Err(Error::bad_input(format!(
            "{}: no request to replay ({} lines read, {} malformed{first}); check the log format \
             (`--format`, or workload.replay.format), from and to",
            rep.file, rep.lines, rep.bad_count
        )));
    }
    Ok(())
}
