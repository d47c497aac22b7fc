//! The command line: clap types and the glue that turns arguments into library calls. No clap
//! type goes below this module.

use crate::error::{Error, Result};
use crate::metrics::RunResult;
use crate::report::csv_out::{self, OutputDir};
use crate::report::{self, table};
use crate::runner::{self, TraceSpec};
use crate::scenario::{self, Override, Scenario};
use crate::sweep::plan::{self as planner, Target};
use crate::sweep::run::{self as sweeper, Options};
use crate::sweep::{AxesFrom, Shard, Sweep, shard};
use crate::workload::replay::source::ReplayReport;
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "sessim",
    version,
    about = "Compare session strategies for web clusters behind a load balancer"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run every strategy of a scenario and write summary.csv, backends.csv, timeseries.csv.
    Run(RunArgs),
    /// Validate a scenario and print it with every default filled in.
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
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The output folder of `sessim run` (summary.csv, ...) or `sessim sweep` (sweep.csv, ...).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

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

#[derive(Args, Debug)]
pub struct RunArgs {
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
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Do not draw DIR/charts/ and DIR/report.html (`sessim report DIR` draws them later).
    #[arg(long)]
    pub no_charts: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
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

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The output folders of every shard (`sessim sweep --shard I/N --out DIR`).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged sweep.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
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
}

impl ScenarioArgs {
    /// Loads the scenario with `--set`, `--seed` and `--replications` applied.
    pub fn load(&self) -> Result<Scenario> {
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
            });
        }
        if let Some(r) = self.replications {
            overrides.push(Override {
                path: "replications".into(),
                value: toml::Value::Integer(r as i64),
            });
        }
        scenario::load(&self.scenario, &overrides)
    }
}

/// Runs the command line; returns the error to report (its exit code says what kind).
pub fn main_with(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => run(&args),
        Command::Sweep(args) => sweep_cmd(&args),
        Command::Merge(args) => merge_cmd(&args),
        Command::Plan(args) => plan_cmd(&args),
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
            print!("{sc}");
            if sc.source.contains_key("sweep") {
                let origin = args.scenario.scenario.display().to_string();
                let sw = Sweep::build(&sc, &origin, &[], AxesFrom::FileAndVary)?;
                print!("\n{}", sw.describe());
            }
            println!(
                "\nok: {} is valid ({} strategies)",
                args.scenario.scenario.display(),
                sc.strategies.len()
            );
            Ok(())
        }
    }
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
    let mut sc = args.scenario.load()?;
    warn(&args.scenario.scenario, &sc);
    if args.trace.strict {
        set_strict(&mut sc)?;
    }
    let out_dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(&sc.name));
    check_out(&out_dir)?;
    let spec = trace_spec(args.trace.trace.clone(), args.trace.trace_sample)?;
    run_and_report(&sc, &out_dir, spec.as_ref(), args.jobs, args.quiet, !args.no_charts)
}

fn trace_spec(path: Option<PathBuf>, sample: f64) -> Result<Option<TraceSpec>> {
    if !(sample > 0.0 && sample <= 1.0) {
        return Err(Error::bad_input(format!(
            "--trace-sample {sample}: must be above 0 and at most 1 (0.01 keeps 1% of the requests)"
        )));
    }
    Ok(path.map(|path| TraceSpec { path, sample }))
}

/// `--strict`: every replayed log of the scenario stops at its first malformed line.
fn set_strict(sc: &mut Scenario) -> Result<()> {
    let mut any = false;
    for s in &mut sc.strategies {
        if let Some(r) = &mut s.system.workload.replay {
            r.strict = true;
            any = true;
        }
    }
    if !any {
        return Err(Error::bad_input(
            "--strict applies to replayed logs, and this scenario has no [workload.replay]",
        ));
    }
    if let Some(toml::Value::Table(w)) = sc.source.get_mut("workload")
        && let Some(toml::Value::Table(r)) = w.get_mut("replay")
    {
        r.insert("strict".into(), toml::Value::Boolean(true));
    }
    Ok(())
}

/// Runs every strategy, writes the outputs (and the trace) all or nothing, prints the table.
fn run_and_report(
    sc: &Scenario,
    out_dir: &Path,
    spec: Option<&TraceSpec>,
    jobs_arg: Option<u32>,
    quiet: bool,
    charts: bool,
) -> Result<()> {
    let started = Instant::now();
    let (runs, trace_file) = runner::run_all_traced(sc, jobs(jobs_arg), spec)?;
    let elapsed = started.elapsed();
    let replay = runs.first().and_then(|r| r.replay.clone());
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
    if !quiet {
        let labels: Vec<String> = sc.strategies.iter().map(|s| s.label.clone()).collect();
        println!(
            "{}: {} strategies x {} replications, {} simulated (warm-up {} discarded)",
            sc.name,
            sc.strategies.len(),
            sc.replications,
            sc.duration,
            sc.warmup
        );
        println!("{}", table::render(&labels, &runs));
        print_answers(&report::answer::run_answers(&tables_of(&runs)));
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

/// The run's results as the report reads them back from the files.
fn tables_of(runs: &[RunResult]) -> report::input::RunTables {
    report::input::RunTables {
        summary: runs.iter().map(|r| r.summary.clone()).collect(),
        faults: runs.iter().flat_map(|r| r.faults.iter().cloned()).collect(),
        ..Default::default()
    }
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
    let source = toml::to_string(&sc.source)
        .map_err(|e| Error::bad_input(format!("cannot record the scenario as TOML: {e}")))?;
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
        println!("{}", table::sweep_table(&outcome.summary, sw.axes.len(), 60));
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

fn plan_cmd(args: &PlanArgs) -> Result<()> {
    let targets = args
        .targets
        .iter()
        .map(|t| Target::parse(t))
        .collect::<Result<Vec<_>>>()?;
    let objective = planner::parse_objective(&args.minimize)?;
    if let Some(g) = args.growth
        && !(g.is_finite() && g > 1.0)
    {
        return Err(Error::bad_input(format!(
            "--growth {g}: the factor must be above 1, e.g. --growth 1.5 for 50% more load"
        )));
    }
    let sc = args.scenario.load()?;
    let origin = args.scenario.scenario.display().to_string();
    let out_dir = args.out.clone().unwrap_or_else(|| {
        let sub = if args.max_load.is_some() { "max-load" } else { "plan" };
        Path::new("output").join(&sc.name).join(sub)
    });
    check_out(&out_dir)?;
    let started = Instant::now();
    let opts = planner::Options {
        targets: &targets,
        objective: objective.clone(),
        jobs: jobs(args.jobs),
        progress: !args.quiet,
        only: Vec::new(),
    };
    let names: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
    let reps = sc.replications;
    if let Some(spec) = &args.max_load {
        let values =
            crate::sweep::spec::parse(spec).map_err(|m| Error::bad_input(format!("--max-load {spec}: {m}")))?;
        let loads: Vec<f64> = values
            .iter()
            .map(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| {
                Error::bad_input(format!(
                    "--max-load {spec}: the values are users per second: numbers, e.g. 10..400+10"
                ))
            })?;
        let sw = planner::load_sweep(&sc, &origin, &loads)?;
        let mut cache = planner::Cache::open(&out_dir, &sw, args.resume)?;
        let answers = planner::max_load(&sw, &opts, &mut cache)?;
        let mut out = OutputDir::create(&out_dir)?;
        out.bytes("max_load.csv", &planner::max_load_csv(&sw, &targets, &answers)?)?;
        out.commit()?;
        if !args.quiet {
            println!(
                "{}: the largest load meeting {} (each judged by its 95% CI over {reps} replications; \
                 bisection over {} loads)",
                sw.name,
                names.join(" and "),
                loads.len()
            );
            println!("{}", table::max_load_table(&sw, &targets, &answers));
            let n: usize = answers.iter().map(|a| a.evaluated.len()).sum();
            println!(
                "{} simulations in {:.1} s instead of {} for every load; every load run is in {}",
                n * reps as usize,
                started.elapsed().as_secs_f64(),
                loads.len() * answers.len() * reps as usize,
                out_dir.join("max_load.csv").display()
            );
        }
        return Ok(());
    }
    let from = if args.vary.is_empty() {
        AxesFrom::FileAndVary
    } else {
        AxesFrom::VaryOnly
    };
    let sw = Sweep::build(&sc, &origin, &args.vary, from)?;
    let mut cache = planner::Cache::open(&out_dir, &sw, args.resume)?;
    let plan = planner::plan(&sw, &opts, &mut cache)?;
    let mut out = OutputDir::create(&out_dir)?;
    out.bytes("plan.csv", &planner::plan_csv(&sw, &targets, &plan)?)?;
    out.commit()?;
    if !args.quiet {
        println!(
            "{}: the cheapest configuration by {objective} meeting {} (a target is met when its whole 95% \
             CI over {reps} replications is on the right side)",
            sw.name,
            names.join(" and "),
        );
        println!("{}", table::plan_table(&sw, &targets, &plan));
        match plan.winner() {
            Some(w) => {
                let sp = &plan.strategies[w];
                if let Some(e) = sp.answer_eval() {
                    println!(
                        "winner: {} with {}, {objective} {:.3} ± {:.3}",
                        sp.label,
                        planner::describe(&sw, e.point),
                        e.objective.mean,
                        e.objective.ci95
                    );
                }
            }
            None => println!("no strategy meets the targets on this grid: widen the axes"),
        }
        println!(
            "{} of {} configurations simulated ({} of {} runs{}) in {:.1} s; every configuration run is in {}",
            plan.configurations,
            plan.grid_configurations,
            plan.runs,
            plan.grid_runs,
            if plan.resumed > 0 {
                format!(", {} read back by --resume", plan.resumed)
            } else {
                String::new()
            },
            started.elapsed().as_secs_f64(),
            out_dir.join("plan.csv").display()
        );
    }
    if let Some(g) = args.growth {
        growth(args, &sc, &origin, &sw, &plan, &opts, g, &out_dir)?;
    }
    Ok(())
}

/// `--growth G`: per strategy, the largest load (between the scenario's and G times it) that
/// the cheapest configuration carries within the targets, and the cheapest configuration at G
/// times the load.
#[allow(clippy::too_many_arguments)]
fn growth(
    args: &PlanArgs,
    sc: &Scenario,
    origin: &str,
    sw: &Sweep,
    plan: &planner::Plan,
    opts: &planner::Options,
    g: f64,
    out_dir: &Path,
) -> Result<()> {
    let started = Instant::now();
    let load = planner::base_load(sc)?;
    // Eleven loads from the scenario's to G times it, bisected.
    let loads: Vec<f64> = (0..=10).map(|k| load * (1.0 + (g - 1.0) * k as f64 / 10.0)).collect();
    let mut carry: Vec<Option<(f64, Option<f64>)>> = Vec::new();
    for (s, sp) in plan.strategies.iter().enumerate() {
        let Some(p) = sp.answer else {
            carry.push(None);
            continue;
        };
        let chosen = planner::with_values(sc, origin, &planner::values_of(sw, p))?;
        let lsw = planner::load_sweep(&chosen, origin, &loads)?;
        let mut cache = planner::Cache::open(&out_dir.join(format!("growth-carry-{s}")), &lsw, args.resume)?;
        let o = planner::Options {
            only: vec![s],
            ..clone_opts(opts)
        };
        let a = planner::max_load(&lsw, &o, &mut cache)?;
        let largest = a.first().and_then(|a| a.largest);
        carry.push(Some((
            largest.map_or(f64::NAN, |i| loads[i]),
            largest.and_then(|i| loads.get(i + 1).copied()),
        )));
    }
    let grown = planner::with_values(sc, origin, &[(planner::LOAD_KEY.into(), toml::Value::Float(load * g))])?;
    let from = if args.vary.is_empty() {
        AxesFrom::FileAndVary
    } else {
        AxesFrom::VaryOnly
    };
    let gsw = Sweep::build(&grown, origin, &args.vary, from)?;
    let mut cache = planner::Cache::open(&out_dir.join("growth-plan"), &gsw, args.resume)?;
    let gplan = planner::plan(&gsw, &clone_opts(opts), &mut cache)?;
    let mut out = OutputDir::create(&out_dir.join("growth-plan"))?;
    out.bytes("plan.csv", &planner::plan_csv(&gsw, opts.targets, &gplan)?)?;
    out.commit()?;
    if args.quiet {
        return Ok(());
    }
    println!(
        "\ngrowth to {g} x {load} = {} users/s: where the cheapest configuration stops meeting the targets, and the next one",
        load * g
    );
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "strategy".to_string(),
        format!("cheapest at {load} users/s"),
        "meets the targets up to".to_string(),
        format!("cheapest at {} users/s", load * g),
        opts.objective.clone(),
    ]);
    for (s, sp) in plan.strategies.iter().enumerate() {
        let now = sp.answer.map_or("none".to_string(), |p| planner::describe(sw, p));
        let upto = match carry[s] {
            None => String::new(),
            Some((l, _)) if l.is_nan() => format!("fails at {load} (noise: rerun with more replications)"),
            Some((l, None)) => format!("{l:.1} users/s and beyond"),
            Some((l, Some(next))) => format!("{l:.1} users/s (fails at {next:.1})"),
        };
        let gp = &gplan.strategies[s];
        let (later, cost) = match gp.answer_eval() {
            Some(e) => (
                planner::describe(&gsw, e.point),
                format!("{:.3} ± {:.3}", e.objective.mean, e.objective.ci95),
            ),
            None => ("none on this grid".to_string(), String::new()),
        };
        t.add_row(vec![sp.label.clone(), now, upto, later, cost]);
    }
    println!("{t}");
    if let Some(w) = gplan.winner() {
        println!("winner at {} users/s: {}", load * g, gplan.strategies[w].label);
    }
    println!(
        "growth: {:.1} s; files in {} and {}/growth-carry-*",
        started.elapsed().as_secs_f64(),
        out_dir.join("growth-plan").display(),
        out_dir.display()
    );
    Ok(())
}

fn clone_opts<'a>(o: &planner::Options<'a>) -> planner::Options<'a> {
    planner::Options {
        targets: o.targets,
        objective: o.objective.clone(),
        jobs: o.jobs,
        progress: o.progress,
        only: o.only.clone(),
    }
}

/// Keys of `[workload]` that the log replaces: dropped from a `--scenario` given to `replay`.
const SYNTHETIC_WORKLOAD_KEYS: &[&str] = &[
    "users_per_second",
    "profile",
    "profile_repeat",
    "pages",
    "login",
    "requests",
    "think_time",
    "parallel",
    "classes",
    "addresses",
];

fn absolute(p: &Path) -> Result<String> {
    let abs = std::path::absolute(p).map_err(|e| Error::io(p, e))?;
    Ok(abs.display().to_string())
}

/// The scenario `sessim replay` runs: the given one (or an empty one, routing only) with the
/// log as its workload and the config as its balancer.
fn replay_table(args: &ReplayArgs) -> Result<(toml::Table, String)> {
    use toml::Value;
    let (mut table, origin) = match &args.scenario {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Error::bad_input(format!("{}: cannot read the scenario file: {e}", p.display())))?;
            let t: toml::Table =
                toml::from_str(&text).map_err(|e| Error::bad_input(format!("{}: not valid TOML: {e}", p.display())))?;
            (t, p.display().to_string())
        }
        None => {
            let stem = args
                .log
                .file_stem()
                .map_or("log".into(), |s| s.to_string_lossy().into_owned())
                .replace(['/', '\\'], "_");
            let mut t = toml::Table::new();
            t.insert(
                "name".into(),
                Value::String(format!("replay-{}", stem.trim_start_matches('.'))),
            );
            (t, "replay".to_string())
        }
    };
    // The duration is set from the log itself once it is known; a placeholder until then.
    table.insert("duration".into(), Value::String("1s".into()));
    table.remove("warmup");
    let workload = table
        .entry("workload")
        .or_insert_with(|| Value::Table(toml::Table::new()));
    let Value::Table(workload) = workload else {
        return Err(Error::bad_input(format!("{origin}: workload: expected a table")));
    };
    for k in SYNTHETIC_WORKLOAD_KEYS {
        workload.remove(*k);
    }
    let replay = workload
        .entry("replay")
        .or_insert_with(|| Value::Table(toml::Table::new()));
    let Value::Table(replay) = replay else {
        return Err(Error::bad_input(format!("{origin}: workload.replay: expected a table")));
    };
    replay.insert("file".into(), Value::String(absolute(&args.log)?));
    if let Some(f) = &args.format {
        replay.insert("format".into(), Value::String(f.clone()));
    }
    if args.scenario.is_none() {
        // Routing only: no sessions to find or lose.
        replay.insert("login".into(), Value::Boolean(false));
    }
    if args.strict {
        replay.insert("strict".into(), Value::Boolean(true));
    }
    let mut balancer = toml::Table::new();
    balancer.insert("config".into(), Value::String(absolute(&args.balancer)?));
    if let Some(u) = &args.upstream {
        balancer.insert("upstream".into(), Value::String(u.clone()));
    }
    if let Some(b) = &args.backend {
        balancer.insert("backend".into(), Value::String(b.clone()));
    }
    table.insert("balancer".into(), Value::Table(balancer));
    // The config is the balancer of every strategy: strategies keep their other overrides
    // (storage, backends) and compare those behind it.
    if let Some(Value::Array(strategies)) = table.get_mut("strategy") {
        for st in strategies {
            if let Value::Table(st) = st {
                st.remove("balancer");
            }
        }
    }
    Ok((table, origin))
}

fn replay_cmd(args: &ReplayArgs) -> Result<()> {
    let (mut table, origin) = replay_table(args)?;
    let probe = scenario::load::from_table(table.clone(), &origin)?;
    let Some(cfg) = probe.strategies.first().and_then(|s| s.system.workload.replay.clone()) else {
        return Err(Error::bad_input(format!(
            "{origin}: no [workload.replay] after setting the log"
        )));
    };
    // One streaming pass to learn how long the replay lasts: arrivals stop at the duration.
    let (last, report) = crate::workload::replay::source::span(&cfg).map_err(Error::bad_input)?;
    runner::check_report(&report)?;
    let secs = last.as_secs_f64().floor() as u64 + 1;
    table.insert("duration".into(), toml::Value::String(format!("{secs}s")));
    let sc = scenario::load::from_table(table, &origin)?;
    let spec = trace_spec(Some(args.out.join("trace.csv")), args.trace_sample)?;
    check_out(&args.out)?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    run_and_report(&sc, &args.out, spec.as_ref(), args.jobs, args.quiet, true)
}
