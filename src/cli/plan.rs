//! `sessim plan`: the cheapest configuration meeting the targets, the largest load
//! (`--max-load`), and the answer for a growing load (`--growth`), with their tables.

use super::{PlanArgs, check_out, jobs};
use crate::error::{Error, Result};
use crate::report::csv_out::OutputDir;
use crate::scenario::Scenario;
use crate::sweep::plan::{self as planner, Target};
use crate::sweep::{AxesFrom, Sweep};
use std::path::Path;
use std::time::Instant;

pub(super) fn plan_cmd(args: &PlanArgs) -> Result<()> {
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
        let charts = if args.no_charts {
            Vec::new()
        } else {
            draw_charts(&out_dir, &targets)?
        };
        if !args.quiet {
            println!(
                "{}: the largest load meeting {} (each judged by its 95% CI over {reps} replications; \
                 bisection over {} loads)",
                sw.name,
                names.join(" and "),
                loads.len()
            );
            println!(
                "{}",
                super::show(&crate::sweep::table::max_load_table(&sw, &targets, &answers))
            );
            let n: usize = answers.iter().map(|a| a.evaluated.len()).sum();
            println!(
                "{} simulations in {:.1} s instead of {} for every load; every load run is in {}",
                n * reps as usize,
                started.elapsed().as_secs_f64(),
                loads.len() * answers.len() * reps as usize,
                out_dir.join("max_load.csv").display()
            );
            print_charts(&out_dir, &charts);
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
    let charts = if args.no_charts {
        Vec::new()
    } else {
        draw_charts(&out_dir, &targets)?
    };
    if !args.quiet {
        println!(
            "{}: the cheapest configuration by {objective} meeting {} (a target is met when its whole 95% \
             CI over {reps} replications is on the right side)",
            sw.name,
            names.join(" and "),
        );
        println!(
            "{}",
            super::show(&crate::sweep::table::plan_table(&sw, &targets, &plan))
        );
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
        print_charts(&out_dir, &charts);
    }
    if let Some(g) = args.growth {
        growth(args, &sc, &origin, &sw, &plan, &opts, g, &out_dir)?;
    }
    Ok(())
}

/// Draws `dir/charts/` from `dir/plan_runs.csv` (every simulation the plan ran, rows as in
/// `sweep.csv`): per target, its metric against the searched axis with the target as a line.
/// Returns the charts' stems.
fn draw_charts(dir: &Path, targets: &[Target]) -> Result<Vec<String>> {
    let path = dir.join(planner::RUNS);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let t = crate::report::input::parse_sweep(&path, &bytes)?;
    // The report draws plain target lines: it does not import the planner.
    let lines: Vec<_> = targets
        .iter()
        .map(|t| crate::report::series::TargetLine {
            metric: t.metric.clone(),
            op: t.cmp.symbol(),
            value: t.value,
        })
        .collect();
    let specs = crate::report::series::plan_charts(&t, &lines);
    let names = crate::report::series::sweep_strategies(&t);
    let mut palettes = crate::report::Palettes::new(&names, &[], &[]);
    let rendered = crate::report::render_all(specs, &mut palettes)?;
    let mut out = OutputDir::create(&dir.join(crate::report::CHARTS_DIR))?;
    for r in &rendered {
        out.bytes(&format!("{}.png", r.spec.stem), &r.png)?;
        out.bytes(&format!("{}.svg", r.spec.stem), r.svg.as_bytes())?;
    }
    out.commit()?;
    Ok(rendered.into_iter().map(|r| r.spec.stem).collect())
}

fn print_charts(dir: &Path, stems: &[String]) {
    if !stems.is_empty() {
        println!(
            "charts in {}: {}",
            dir.join(crate::report::CHARTS_DIR).display(),
            stems.join(", ")
        );
    }
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
    println!("{}", super::show(&t));
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
