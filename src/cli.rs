//! The command line: clap types and the glue that turns arguments into library calls. No clap
//! type goes below this module.
// The doc comments of the clap types are the `--help` text, written for a terminal: `[sweep]`
// and `<scenario name>` are meant literally there, not as rustdoc links or HTML.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

use crate::error::{Error, Result};
use crate::metrics::RunResult;
use crate::report::csv_out::{self, OutputDir};
use crate::report::{self, table};
use crate::runner::{self, TraceSpec};
use crate::scenario::load::replay::ReplayOverride;
use crate::scenario::load::{Overrides, load_with};
use crate::scenario::{self, Override, Scenario};
use crate::sweep::run::{self as sweeper, Options};
use crate::sweep::{AxesFrom, Shard, Sweep, shard};
use crate::workload::replay::source::ReplayReport;
use clap::{Args, Parser, Subcommand};

mod export;
mod plan;
#[cfg(test)]
mod tests;
pub use export::ExportArgs;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "sessim",
    version,
    about = "Compare session strategies for web clusters behind a load balancer"
)]
/// The `sessim` command line.
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run every strategy of a scenario and write summary.csv, backends.csv, timeseries.csv.
    Run(RunArgs),
    /// Validate a scenario and print it resolved, as a scenario file with every default filled in
    /// (the summary above it as `#` comments).
    Check(CheckArgs),
    /// Run a grid of scenarios (axes from [sweep] and --vary) x strategies x replications and
    /// write sweep.csv and sweep_summary.csv.
    Sweep(SweepArgs),
    /// Join the folders of the shards of one sweep into the folder an unsharded run writes.
    Merge(MergeArgs),
    /// Find per strategy the smallest configuration meeting every --target.
    Plan(PlanArgs),
    /// Replay an access log through the balancer of an nginx, HAProxy or Apache httpd config and write
    /// DIR/trace.csv (where each request went) and the usual summary files.
    Replay(ReplayArgs),
    /// Redraw the charts (DIR/charts/) and DIR/report.html of a run or sweep folder from its CSV
    /// files alone (e.g. after `sessim merge`, or after editing a CSV file).
    Report(ReportArgs),
}

/// `--trace`, `--trace-sample` and `--strict` of `sessim run`.
#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Write one CSV row per request to FILE (see README, "Trace").
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Keep this fraction of the requests in the trace (0 < P <= 1), the same requests in
    /// every strategy.
    #[arg(long, value_name = "P", default_value_t = 1.0)]
    pub trace_sample: f64,
    /// Replay: a malformed log line is an error (exit code 2) instead of counted and skipped.
    #[arg(long)]
    pub strict: bool,
}

/// `sessim replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The access log.
    pub log: PathBuf,
    /// The nginx, HAProxy or Apache httpd config, or the Kubernetes Service or Envoy cluster YAML,
    /// whose balancer routes the requests.
    #[arg(long, value_name = "CONFIG")]
    pub balancer: PathBuf,
    /// A scenario giving the rest (backends, sessions, strategies, replay keys); its workload
    /// becomes this log and its balancer this config.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Log format: combined, main, haproxy, csv or an nginx log_format string [default: the
    /// scenario's, else combined].
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// The nginx upstream block (or Apache balancer://NAME, Kubernetes Service or Envoy cluster)
    /// to use, when the config has several.
    #[arg(long, value_name = "NAME", conflicts_with = "backend")]
    pub upstream: Option<String>,
    /// The HAProxy backend (or listen) section to use, when the config has several.
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Keep this fraction of the requests in the trace (0 < P <= 1).
    #[arg(long, value_name = "P", default_value_t = 1.0)]
    pub trace_sample: f64,
    /// A malformed log line is an error (exit code 2) instead of counted and skipped.
    #[arg(long)]
    pub strict: bool,
    /// Worker threads [default: one per core]. The output is the same for any value.
    #[arg(long, short, value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Print nothing but errors and the replay's malformed-line summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// `--export-json` and `--export-markdown`.
    #[command(flatten)]
    pub export: ExportArgs,
}

/// `sessim report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The output folder of `sessim run` (summary.csv, ...) or `sessim sweep` (sweep.csv, ...).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The scenario file and the overrides every scenario command takes.
#[derive(Args, Debug)]
pub struct ScenarioArgs {
    /// The scenario file (TOML); see docs/scenario-format.md.
    pub scenario: PathBuf,
    /// Override a scenario key by its dotted path, e.g. --set backends.count=8 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Use this seed instead of the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run this many replications instead of the scenario's.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub replications: Option<u32>,
}

/// `sessim run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The scenario and its overrides.
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Output folder [default: output/<scenario name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads [default: one per core]. The output is the same for any value.
    #[arg(long, short, value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// The trace and `--strict`.
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Do not draw DIR/charts/ and DIR/report.html (`sessim report DIR` draws them later).
    #[arg(long)]
    pub no_charts: bool,
    /// `--export-json` and `--export-markdown`.
    #[command(flatten)]
    pub export: ExportArgs,
}

/// `sessim check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The scenario and its overrides.
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

/// `sessim sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// The scenario and its overrides.
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Sweep a key over values: KEY=1,2,4 or KEY=2..64 or KEY=10..100+10 or KEY=10..1000x1.5
    /// (repeatable; replaces the [sweep] axis of the same key).
    #[arg(long = "vary", value_name = "KEY=SPEC")]
    pub vary: Vec<String>,
    /// Output folder [default: output/<scenario name>/sweep].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads [default: one per core]. The output is the same for any value.
    #[arg(long, short, value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Run only slice I of N of the grid (I counts from 0: points p with p % N == I).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Continue the sweep in the output folder: keep its complete rows, run the rest.
    #[arg(long)]
    pub resume: bool,
    /// No progress bar and no table.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not draw DIR/charts/ and DIR/report.html (`sessim report DIR` draws them later). A
    /// shard (--shard) never draws them: draw the merged folder.
    #[arg(long)]
    pub no_charts: bool,
}

/// `sessim merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The output folders of every shard (`sessim sweep --shard I/N --out DIR`).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged sweep.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `sessim plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The scenario and its overrides.
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// A target every answer must meet, judged by its 95% confidence interval:
    /// METRIC<VALUE, METRIC<=VALUE, METRIC>VALUE or METRIC>=VALUE (repeatable).
    #[arg(long = "target", value_name = "METRIC<VALUE", required = true)]
    pub targets: Vec<String>,
    /// An axis to search, least generous value first: KEY=SPEC as for `sweep` (repeatable;
    /// default: the [sweep] axes).
    #[arg(long = "vary", value_name = "KEY=SPEC")]
    pub vary: Vec<String>,
    /// The cost column to minimise: cost_total_per_h, cost_backends_per_h, cost_store_per_h,
    /// cost_network_per_h or cost_lost_per_h.
    #[arg(long, value_name = "COLUMN", default_value = "cost_total_per_h")]
    pub minimize: String,
    /// Instead of a configuration, find per strategy the largest workload.users_per_second
    /// among SPEC's values (e.g. 10..400+10) that the scenario's configuration (with --set)
    /// carries within the targets, by bisection.
    #[arg(long, value_name = "SPEC", conflicts_with_all = ["vary", "growth"])]
    pub max_load: Option<String>,
    /// Also answer for a load growing to G times the scenario's: up to which load the cheapest
    /// configuration meets the targets, and the cheapest configuration at G times the load.
    #[arg(long, value_name = "G")]
    pub growth: Option<f64>,
    /// Output folder for plan.csv [default: output/<scenario name>/plan, or .../max-load].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads [default: one per core]. The answer is the same for any value.
    #[arg(long, short, value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Continue the plan in the output folder: reuse the simulations in its plan_runs.csv.
    #[arg(long)]
    pub resume: bool,
    /// Print nothing but errors (and no progress line).
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not draw DIR/charts/ (each target's metric against the searched axis).
    #[arg(long)]
    pub no_charts: bool,
}

impl ReplayArgs {
    /// The arguments that make the scenario.
    fn replay_override(&self) -> ReplayOverride {
        ReplayOverride {
            log: self.log.clone(),
            balancer: self.balancer.clone(),
            scenario: self.scenario.clone(),
            format: self.format.clone(),
            upstream: self.upstream.clone(),
            backend: self.backend.clone(),
            strict: self.strict,
        }
    }
}

impl ScenarioArgs {
    /// Loads the scenario with `--set`, `--seed` and `--replications` applied.
    pub fn load(&self) -> Result<Scenario> {
        self.load_strict(false)
    }

    /// Loads the scenario with the overrides and, with `strict`, `--strict`: all applied to the
    /// file's table before it is validated.
    pub fn load_strict(&self, strict: bool) -> Result<Scenario> {
        load_with(
            &self.scenario,
            &Overrides {
                set: self.overrides()?,
                strict,
            },
        )
    }

    /// `--set`, `--seed` and `--replications` as overrides, in that order.
    fn overrides(&self) -> Result<Vec<Override>> {
        let mut overrides = self
            .set
            .iter()
            .map(|s| Override::parse(s))
            .collect::<Result<Vec<_>>>()?;
        if let Some(seed) = self.seed {
            let seed =
                i64::try_from(seed).map_err(|_| Error::bad_input(format!("--seed {seed}: at most {}", i64::MAX)))?;
            overrides.push(Override {
                path: "seed".into(),
                value: toml::Value::Integer(seed),
                arg: format!("--seed {seed}"),
            });
        }
        if let Some(r) = self.replications {
            overrides.push(Override {
                path: "replications".into(),
                value: toml::Value::Integer(r as i64),
                arg: format!("--replications {r}"),
            });
        }
        Ok(overrides)
    }
}

/// Runs the command line; returns the error to report (its exit code says what kind).
pub fn main_with(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => run(&args),
        Command::Sweep(args) => sweep_cmd(&args),
        Command::Merge(args) => merge_cmd(&args),
        Command::Plan(args) => plan::plan_cmd(&args),
        Command::Replay(args) => replay_cmd(&args),
        Command::Report(args) => {
            let o = report::report_dir(&args.dir)?;
            if !args.quiet {
                print_report(&o);
            }
            Ok(())
        }
        Command::Check(args) => {
            let sc = args.scenario.load()?;
            warn(&args.scenario.scenario, &sc);
            // The summary as `#` comments over the resolved scenario: the whole output is a
            // scenario file that `sessim run` accepts as it is.
            let mut summary = sc.to_string();
            if sc.source.contains_key("sweep") {
                let origin = args.scenario.scenario.display().to_string();
                let sw = Sweep::build(&sc, &origin, &[], AxesFrom::FileAndVary)?;
                summary.push_str(&format!("\n{}", sw.describe()));
            }
            print!("{}", commented(&summary));
            print!("\n{}", scenario::resolved::to_toml(&sc));
            let n = sc.strategies.len();
            println!(
                "\n# ok: {} is valid ({n} {})",
                args.scenario.scenario.display(),
                if n == 1 { "strategy" } else { "strategies" }
            );
            Ok(())
        }
    }
}

/// Text as TOML comment lines (`# ` before each line, `#` alone for an empty one).
fn commented(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "#\n".to_string()
            } else {
                format!("# {l}\n")
            }
        })
        .collect()
}

fn jobs(j: Option<u32>) -> usize {
    j.map(|j| j as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `--out DIR` must name a folder (created if missing): an existing file there, or a file
/// where a parent folder should be, is bad input, found before anything runs.
fn check_out(dir: &Path) -> Result<()> {
    if let Some(p) = dir.ancestors().find(|p| !p.as_os_str().is_empty() && p.exists())
        && !p.is_dir()
    {
        let what = if p == dir {
            String::new()
        } else {
            format!(" (in the way of {})", dir.display())
        };
        return Err(Error::bad_input(format!(
            "--out {}: {} is a file, not a folder{what}; name a folder (it is created if missing)",
            dir.display(),
            p.display()
        )));
    }
    Ok(())
}

/// Prints the scenario's warnings on stderr, each naming the file.
fn warn(file: &Path, sc: &Scenario) {
    for w in sc.warnings() {
        eprintln!("warning: {}: {w}", file.display());
    }
}

fn run(args: &RunArgs) -> Result<()> {
    let sc = args.scenario.load_strict(args.trace.strict)?;
    warn(&args.scenario.scenario, &sc);
    let out_dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(&sc.name));
    check_out(&out_dir)?;
    args.export.check()?;
    let spec = trace_spec(args.trace.trace.clone(), args.trace.trace_sample)?;
    run_and_report(
        &sc,
        &out_dir,
        spec.as_ref(),
        args.jobs,
        args.quiet,
        !args.no_charts,
        &args.export,
    )
}

fn trace_spec(path: Option<PathBuf>, sample: f64) -> Result<Option<TraceSpec>> {
    if !(sample > 0.0 && sample <= 1.0) {
        return Err(Error::bad_input(format!(
            "--trace-sample {sample}: must be above 0 and at most 1 (0.01 keeps 1% of the requests)"
        )));
    }
    Ok(path.map(|path| TraceSpec { path, sample }))
}

/// Runs every strategy, writes the outputs (and the trace) all or nothing, prints the table.
fn run_and_report(
    sc: &Scenario,
    out_dir: &Path,
    spec: Option<&TraceSpec>,
    jobs_arg: Option<u32>,
    quiet: bool,
    charts: bool,
    export: &ExportArgs,
) -> Result<()> {
    let started = Instant::now();
    let progress = RunProgress::start(sc, !quiet);
    let ran = runner::run_all_traced(sc, jobs(jobs_arg), spec, &|| progress.one_done());
    progress.finish();
    let (runs, replay, trace_file) = ran?;
    let elapsed = started.elapsed();
    if let Some(rep) = &replay {
        // Malformed lines are never skipped silently: said even under --quiet.
        if rep.bad_count > 0 || !quiet {
            eprint!("{}", replay_summary(rep));
        }
    }
    write_outputs(out_dir, sc, &runs, replay.as_ref())?;
    if let (Some(f), Some(spec)) = (trace_file, spec) {
        persist(f, &spec.path)?;
    }
    let drawn = if charts {
        Some(report::report_dir(out_dir)?)
    } else {
        None
    };
    let labels: Vec<String> = sc.strategies.iter().map(|s| s.label.clone()).collect();
    let shown = table::render(&labels, &runs);
    export.write(sc, &runs, &shown)?;
    if !quiet {
        println!(
            "{}: {} strategies x {} replications, {} simulated (warm-up {} discarded)",
            sc.name,
            sc.strategies.len(),
            sc.replications,
            sc.duration,
            sc.warmup
        );
        println!("{}", show(&shown));
        // The same sentences as report.html's, from the files just written (every input the
        // answers use, stores.csv and scenario.toml's send modes included): the report's own
        // when it was drawn, else read back.
        match &drawn {
            Some(o) => print_answers(&o.answers),
            None => print_answers(&report::answer::run_answers(&report::input::read_run(out_dir)?)),
        }
        let reqs: u64 = runs.iter().map(|r| r.summary.requests).sum();
        println!(
            "{} requests simulated in {:.2} s; results in {}",
            reqs,
            elapsed.as_secs_f64(),
            out_dir.display()
        );
        if let Some(o) = &drawn {
            print_report(o);
        }
    }
    Ok(())
}

/// `sessim run`'s progress line on stderr: simulated time done of the total (every strategy x
/// replication run's duration), the runs finished, elapsed and ETA. Drawn only when stdout and
/// stderr are both terminals, and only once the run has taken [`RunProgress::AFTER`]: a quick
/// run prints no bar at all. The simulated time comes from [`crate::sim::SIMULATED_NS`], which the
/// runs advance as their clocks move, so a single long run moves the bar too.
struct RunProgress {
    bar: indicatif::ProgressBar,
    done: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl RunProgress {
    /// How long a run goes before its progress line appears.
    const AFTER: std::time::Duration = std::time::Duration::from_secs(2);
    /// How often the line is brought up to date.
    const EVERY: std::time::Duration = std::time::Duration::from_millis(250);

    fn start(sc: &Scenario, enabled: bool) -> RunProgress {
        use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
        use std::io::IsTerminal;
        use std::sync::atomic::{AtomicU64, Ordering};
        let runs = (sc.strategies.len() as u64) * u64::from(sc.replications);
        // The bar counts simulated milliseconds, so indicatif's ETA follows the simulated rate.
        let total_ms = sc.duration.as_nanos() / 1_000_000 * runs;
        let bar = ProgressBar::with_draw_target(Some(total_ms.max(1)), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {msg}, {elapsed} elapsed, ETA {eta}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(sc.name.clone());
        let done = std::sync::Arc::new(AtomicU64::new(0));
        let mut p = RunProgress {
            bar,
            done: done.clone(),
            stop: None,
        };
        if enabled && std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let bar = p.bar.clone();
            let base = crate::sim::SIMULATED_NS.load(Ordering::Relaxed);
            let started = std::time::Instant::now();
            let total = crate::engine::SimTime::from_nanos(sc.duration.as_nanos() * runs);
            let shower = std::thread::spawn(move || {
                let mut shown = false;
                while rx.recv_timeout(Self::EVERY) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                    let ns = crate::sim::SIMULATED_NS.load(Ordering::Relaxed).saturating_sub(base);
                    bar.set_position(ns / 1_000_000);
                    bar.set_message(format!(
                        "{} of {} simulated, {}/{} runs",
                        // Whole seconds: the line stays short.
                        crate::engine::SimTime::from_secs(ns / 1_000_000_000),
                        total,
                        done.load(Ordering::Relaxed),
                        runs
                    ));
                    if !shown && started.elapsed() >= Self::AFTER {
                        bar.set_draw_target(ProgressDrawTarget::stderr());
                        shown = true;
                    }
                }
            });
            p.stop = Some((tx, shower));
        }
        p
    }

    fn one_done(&self) {
        self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn finish(mut self) {
        if let Some((tx, shower)) = self.stop.take() {
            let _ = tx.send(());
            let _ = shower.join();
        }
        self.bar.finish_and_clear();
    }
}

/// Publishes a finished temporary file under its final name, as an ordinary file.
fn persist(f: tempfile::NamedTempFile, target: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = f.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    f.persist(target).map_err(|e| Error::io(target, e.error))?;
    Ok(())
}

/// What reading the log found, for stderr.
fn replay_summary(rep: &ReplayReport) -> String {
    let mut s = format!(
        "replay: {}: {} lines, {} requests replayed, {} user sessions, {} malformed lines\n",
        rep.file, rep.lines, rep.requests, rep.sessions, rep.bad_count
    );
    for b in &rep.bad {
        s.push_str(&format!("  {}:{}: {}\n", rep.file, b.line, b.reason));
    }
    if rep.bad_count > rep.bad.len() as u64 {
        s.push_str(&format!(
            "  ... and {} more (--strict stops at the first)\n",
            rep.bad_count - rep.bad.len() as u64
        ));
    }
    s
}

/// The answer sentences under the table.
fn print_answers(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    println!("Answer:");
    for l in lines {
        println!("- {l}");
    }
}

/// One line about the charts and the report drawn.
fn print_report(o: &report::Outcome) {
    println!(
        "{} charts (PNG + SVG) in {}; report in {}",
        o.charts.len(),
        o.report.with_file_name(report::CHARTS_DIR).display(),
        o.report.display()
    );
    if let Some(note) = report::absent_note(&o.absent, "the folder") {
        println!("note: {note}");
    }
}

/// Writes every output file of a run into `dir`, all or nothing.
pub fn write_run_outputs(dir: &Path, sc: &Scenario, runs: &[RunResult]) -> Result<()> {
    write_outputs(dir, sc, runs, None)
}

fn write_outputs(dir: &Path, sc: &Scenario, runs: &[RunResult], replay: Option<&ReplayReport>) -> Result<()> {
    let mut out = OutputDir::create(dir)?;
    csv_out::write_runs(&mut out, runs)?;
    if let Some(rep) = replay {
        csv_out::write_replay(&mut out, rep)?;
    }
    let source =
        toml::to_string(&sc.source).map_err(|e| Error::internal(format!("cannot record the scenario as TOML: {e}")))?;
    let header = format!(
        "# The scenario exactly as run (after --set, --seed and --replications), by sessim {}.\n",
        env!("CARGO_PKG_VERSION")
    );
    out.bytes("scenario.toml", format!("{header}{source}").as_bytes())?;
    out.commit()?;
    Ok(())
}

fn sweep_cmd(args: &SweepArgs) -> Result<()> {
    let sc = args.scenario.load()?;
    let origin = args.scenario.scenario.display().to_string();
    let shard = match &args.shard {
        None => Shard::WHOLE,
        Some(s) => Shard::parse(s).map_err(|m| Error::bad_input(format!("--shard {m}")))?,
    };
    let sw = Sweep::build(&sc, &origin, &args.vary, AxesFrom::FileAndVary)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(&sc.name).join("sweep"));
    check_out(&out)?;
    let outcome = sweeper::run(
        &sw,
        &Options {
            out: out.clone(),
            jobs: jobs(args.jobs),
            shard,
            resume: args.resume,
            progress: !args.quiet,
        },
    )?;
    let drawn = if args.no_charts || shard != Shard::WHOLE {
        None
    } else {
        Some(report::report_dir(&out)?)
    };
    if !args.quiet {
        println!(
            "{}: {} points x {} strategies x {} replications{}",
            sw.name,
            sw.points.len(),
            sw.strategies.len(),
            sw.replications,
            if shard == Shard::WHOLE {
                String::new()
            } else {
                format!(", shard {shard} ({} runs)", outcome.runs)
            }
        );
        match table::sweep_table(&outcome.summary, sw.axes.len(), 60) {
            Ok(t) => println!("{}", show(&t)),
            Err(line) => println!("{line}"),
        }
        if shard == Shard::WHOLE {
            // From the files just written, as `sessim report` reads them.
            print_answers(&report::answer::sweep_answers(&report::input::read_sweep(&out)?));
        }
        println!(
            "{} runs ({} already done), {} requests simulated in {:.2} s; results in {}",
            outcome.runs,
            outcome.resumed,
            outcome.requests,
            outcome.elapsed.as_secs_f64(),
            out.display()
        );
        if let Some(o) = &drawn {
            print_report(o);
        }
    }
    Ok(())
}

fn merge_cmd(args: &MergeArgs) -> Result<()> {
    let r = shard::merge(&args.dirs, &args.out)?;
    println!(
        "merged {} shards: {} points, {} rows into {}",
        r.shards,
        r.points,
        r.rows,
        args.out.display()
    );
    Ok(())
}

fn replay_cmd(args: &ReplayArgs) -> Result<()> {
    let sc = scenario::load::replay::load_replay(&args.replay_override(), &|cfg| {
        // One streaming pass to learn how long the replay lasts: arrivals stop at the duration.
        let (last, report) = crate::workload::replay::source::span(cfg).map_err(Error::bad_input)?;
        runner::check_report(&report)?;
        Ok(last)
    })?;
    let spec = trace_spec(Some(args.out.join("trace.csv")), args.trace_sample)?;
    check_out(&args.out)?;
    args.export.check()?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    run_and_report(&sc, &args.out, spec.as_ref(), args.jobs, args.quiet, true, &args.export)
}

/// A table as printed: box-drawn on a terminal; when stdout is a pipe or a file, plain text a
/// script can read ([`plain`]).
pub(crate) fn show(t: &comfy_table::Table) -> String {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        t.to_string()
    } else {
        plain(t)
    }
}

/// A table as tab-separated lines: the header, then one line per row, the cells as the box
/// shows them (`12.3 ± 0.4`); a tab or newline inside a cell becomes a space.
pub(crate) fn plain(t: &comfy_table::Table) -> String {
    let line = |cells: Vec<String>| {
        cells
            .into_iter()
            .map(|c| c.replace(['\t', '\n'], " "))
            .collect::<Vec<_>>()
            .join("\t")
    };
    let mut lines = Vec::new();
    if let Some(h) = t.header() {
        lines.push(line(h.cell_iter().map(|c| c.content()).collect()));
    }
    for row in t.row_iter() {
        lines.push(line(row.cell_iter().map(|c| c.content()).collect()));
    }
    lines.join("\n")
}
