//! The command line: clap types and the glue that turns arguments into library calls. No clap
//! type goes below this module.

use crate::error::{Error, Result};
use crate::metrics::RunResult;
use crate::report::csv_out::{self, OutputDir};
use crate::report::table;
use crate::runner;
use crate::scenario::{self, Override, Scenario};
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
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
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
        Command::Check(args) => {
            let sc = args.scenario.load()?;
            print!("{sc}");
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

fn run(args: &RunArgs) -> Result<()> {
    let sc = args.scenario.load()?;
    let out_dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(&sc.name));
    let started = Instant::now();
    let runs = runner::run_all(&sc, jobs(args.jobs))?;
    let elapsed = started.elapsed();
    write_run_outputs(&out_dir, &sc, &runs)?;
    if !args.quiet {
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
        let reqs: u64 = runs.iter().map(|r| r.summary.requests).sum();
        println!(
            "{} requests simulated in {:.2} s; results in {}",
            reqs,
            elapsed.as_secs_f64(),
            out_dir.display()
        );
    }
    Ok(())
}

/// Writes every output file of a run into `dir`, all or nothing.
pub fn write_run_outputs(dir: &Path, sc: &Scenario, runs: &[RunResult]) -> Result<()> {
    let mut out = OutputDir::create(dir)?;
    csv_out::write_runs(&mut out, runs)?;
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
