//! Running a sweep: every (point, strategy, replication) of the shard, on `--jobs` threads (`crate::parallel`), with
//! the rows written in grid order as they become available.
//!
//! Workers never touch files. They take runs in grid order from a shared counter (so at any
//! moment the runs in flight are the next few in grid order), simulate, format the row, and
//! send it to the main thread. The main thread keeps an ordered reassembly buffer (a map from
//! run index to row): whenever the next row in grid order is there, it is appended to
//! `sweep.csv` and flushed, so a kill loses only runs not yet written, and the buffer holds at
//! most the rows of runs that finished ahead of a slower one. Each run depends only on its
//! point, strategy and replication, so the file is the same for any `--jobs`.

use super::grid::Sweep;
use super::output::{self, MANIFEST, Manifest, ROWS, SUMMARY};
use super::shard::Shard;
use super::steady;
use super::summary::{Layout, summary_csv};
use crate::error::{Error, Result};
use crate::output::OutputDir;
use crate::sim;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct Options {
    /// The folder the sweep writes (`sweep.csv`, `sweep_summary.csv`, charts), `--out`.
    pub out: PathBuf,
    /// Worker threads.
    pub jobs: usize,
    /// Which share of the grid's runs this process makes (`--shard I/N`; `Shard::WHOLE` for all).
    pub shard: Shard,
    /// Continue the sweep already in `out` instead of starting afresh.
    pub resume: bool,
    /// Show a progress bar on stderr (only if it is a terminal).
    pub progress: bool,
}

/// What a finished sweep did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Runs of this shard.
    pub(crate) runs: usize,
    /// Runs found complete in `sweep.csv` and skipped (`--resume`).
    pub(crate) resumed: usize,
    pub(crate) elapsed: Duration,
    /// Requests simulated over this shard's runs (the closing line of `sessim sweep` prints them).
    pub requests: u64,
    /// The bytes of `sweep_summary.csv`.
    pub(crate) summary: Vec<u8>,
}

/// One simulation of the sweep.
#[derive(Clone, Copy, Debug)]
struct Task {
    point: usize,
    strategy: usize,
    replication: u32,
}

fn tasks(sweep: &Sweep, shard: Shard) -> Vec<Task> {
    let mut t = Vec::new();
    for point in (0..sweep.points.len()).filter(|p| shard.holds(*p)) {
        for strategy in 0..sweep.strategies.len() {
            for replication in 0..sweep.replications {
                t.push(Task {
                    point,
                    strategy,
                    replication,
                });
            }
        }
    }
    t
}

/// Runs the sweep into `opts.out`: `sweep.toml`, `sweep.csv` (progressively) and, at the end,
/// `sweep_summary.csv`.
pub fn run(sweep: &Sweep, opts: &Options) -> Result<Outcome> {
    let started = Instant::now();
    let manifest = Manifest::new(sweep, opts.shard)?;
    let all = tasks(sweep, opts.shard);
    let dir = &opts.out;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let rows_path = dir.join(ROWS);
    let summary_path = dir.join(SUMMARY);

    let done = if opts.resume {
        resume_point(dir, &manifest, &all, sweep)?
    } else {
        0
    };
    // From here until the summary is written, the folder holds an unfinished sweep: no
    // summary may suggest otherwise.
    match std::fs::remove_file(&summary_path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&summary_path, e)),
    }
    let mut file = if opts.resume {
        std::fs::OpenOptions::new()
            .append(true)
            .open(&rows_path)
            .map_err(|e| Error::io(&rows_path, e))?
    } else {
        let mut m = OutputDir::create(dir)?;
        m.bytes(MANIFEST, manifest.text()?.as_bytes())?;
        m.commit()?;
        let mut f = std::fs::File::create(&rows_path).map_err(|e| Error::io(&rows_path, e))?;
        f.write_all(&output::record_bytes(&manifest.columns)?)
            .map_err(|e| Error::io(&rows_path, e))?;
        f
    };

    let todo = &all[done..];
    let bar = progress_bar(opts.progress, all.len() as u64, done as u64, sweep);
    let per_point = sweep.strategies.len() * sweep.replications as usize;
    let requests = execute(sweep, todo, opts.jobs, |k, row| {
        file.write_all(row).map_err(|e| Error::io(&rows_path, e))?;
        let n = done + k + 1;
        bar.set_position(n as u64);
        bar.set_message(format!(
            "{}/{} points",
            n / per_point,
            opts.shard.points_of(sweep.points.len())
        ));
        Ok(())
    })?;
    file.sync_data().map_err(|e| Error::io(&rows_path, e))?;
    drop(file);
    bar.finish_and_clear();

    // The summary is computed from the file, so it is the same however the file was made.
    let bytes = std::fs::read(&rows_path).map_err(|e| Error::io(&rows_path, e))?;
    let existing = output::read_existing(&bytes, &manifest.columns);
    if existing.rows.len() != all.len() {
        return Err(Error::bad_input(format!(
            "{}: expected {} rows after the sweep, found {}; was the file changed while the sweep ran?",
            rows_path.display(),
            all.len(),
            existing.rows.len()
        )));
    }
    let summary = summary_csv(
        &Layout {
            columns: &manifest.columns,
            axes: sweep.axes.len(),
            strategies: &sweep.strategies,
            baseline: sweep.baseline,
        },
        &existing.rows,
    )?;
    let mut out = OutputDir::create(dir)?;
    out.bytes(SUMMARY, &summary)?;
    out.commit()?;
    Ok(Outcome {
        runs: all.len(),
        resumed: done,
        elapsed: started.elapsed(),
        requests,
        summary,
    })
}

/// Checks that `dir` holds this sweep and shard, cuts a partial trailing row, and returns how
/// many runs are already written.
fn resume_point(dir: &Path, manifest: &Manifest, all: &[Task], sweep: &Sweep) -> Result<usize> {
    let found = Manifest::read(dir)
        .map_err(|e| Error::bad_input(format!("--resume: {e}; to start this sweep afresh, leave out --resume")))?;
    if found.fingerprint != manifest.fingerprint {
        return Err(Error::bad_input(format!(
            "--resume: {} holds another sweep (fingerprint {}, this one is {}): the scenario, --set, \
             --vary, --replications or the sessim version differ; choose another --out, or leave out \
             --resume to start afresh",
            dir.display(),
            found.fingerprint,
            manifest.fingerprint
        )));
    }
    if found.shard != manifest.shard {
        return Err(Error::bad_input(format!(
            "--resume: {} holds shard {} of this sweep, not shard {}",
            dir.display(),
            found.shard,
            manifest.shard
        )));
    }
    let path = dir.join(ROWS);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let existing = output::read_existing(&bytes, &manifest.columns);
    let strategy_col = 1 + sweep.axes.len() + 1;
    for (k, r) in existing.rows.iter().enumerate() {
        let t = all.get(k);
        let matches = t.is_some_and(|t| {
            r[0] == *t.point.to_string()
                && r[strategy_col] == *sweep.strategies[t.strategy]
                && r[strategy_col + 1] == *t.replication.to_string()
        });
        if !matches {
            return Err(Error::bad_input(format!(
                "--resume: {} row {} is not the run expected there (point {}, strategy {}, replication {}): \
                 the file was changed; delete the folder and start afresh",
                path.display(),
                k + 2,
                &r[0],
                &r[strategy_col],
                &r[strategy_col + 1]
            )));
        }
    }
    // Cut what follows the last complete row (a row cut short by a kill), or start the file
    // again if even the header is incomplete.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    if existing.header_ok {
        f.set_len(existing.valid_len).map_err(|e| Error::io(&path, e))?;
    } else {
        f.set_len(0).map_err(|e| Error::io(&path, e))?;
        let mut f = f;
        f.write_all(&output::record_bytes(&manifest.columns)?)
            .map_err(|e| Error::io(&path, e))?;
    }
    Ok(existing.rows.len())
}

fn progress_bar(enabled: bool, len: u64, pos: u64, sweep: &Sweep) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} runs, {msg}, {per_sec}, {elapsed} elapsed, ETA {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(sweep.name.clone());
    bar.set_position(pos);
    bar.reset_eta();
    bar
}

/// Runs `todo` on `jobs` threads and hands each row, in order, to `write` with its index in
/// `todo`. Returns the requests simulated.
fn execute(
    sweep: &Sweep,
    todo: &[Task],
    jobs: usize,
    mut write: impl FnMut(usize, &[u8]) -> Result<()>,
) -> Result<u64> {
    let mut requests = 0u64;
    crate::parallel::ordered(
        jobs,
        todo.len(),
        |k| run_one(sweep, todo[k]),
        |k, (row, reqs)| {
            requests += reqs;
            write(k, &row)
        },
    )?;
    Ok(requests)
}

/// One simulation, reduced to its row of `sweep.csv` (the run's per-backend and time-series
/// rows are dropped here, on the worker).
fn run_one(sweep: &Sweep, t: Task) -> Result<(Vec<u8>, u64)> {
    let point = &sweep.points[t.point];
    // A replayed log that could not be read (or broke `strict`) is bad input, not a row.
    let run = sim::run(&point.scenario, t.strategy, t.replication)?;
    if let Some(rep) = &run.replay {
        crate::runner::check_report(rep)?;
    }
    let r = run.result;
    let steady = sweep
        .steady_state
        .then(|| steady::from_timeseries(&r.timeseries, point.scenario.warmup.as_secs_f64()));
    Ok((
        output::row_bytes(t.point, &point.values, &r.summary, steady.as_ref())?,
        r.summary.requests,
    ))
}
