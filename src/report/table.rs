//! The tables printed on the terminal: after `sessim run` one line per strategy, each figure
//! the mean over replications with its 95% confidence half-width when there are several;
//! after `sessim sweep` the same per point; after `sessim plan` each strategy's cheapest
//! sufficient configuration (or, with `--max-load`, its largest load).

use crate::metrics::RunResult;
use crate::metrics::stats::estimate;
use crate::sweep::Sweep;
use crate::sweep::plan::{LoadAnswer, Plan, Target, describe};
use crate::sweep::spec;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

/// (header, summary column, decimals)
const COLUMNS: &[(&str, &str, usize)] = &[
    ("requests", "requests", 0),
    ("errors", "errors", 0),
    ("lost sessions %", "lost_session_pct", 2),
    ("re-logins", "relogins", 0),
    ("imbalance CoV", "imbalance_cov", 3),
    ("max/mean", "imbalance_max_over_mean", 3),
    ("mean ms", "latency_mean_ms", 1),
    ("p99 ms", "latency_p99_ms", 1),
    ("req/s", "throughput_rps", 1),
];

/// Shown as well when a strategy has store servers: the store as a bottleneck.
const STORE_COLUMNS: &[(&str, &str, usize)] = &[
    ("store util", "store_utilization", 3),
    ("store wait ms", "store_wait_mean_ms", 3),
    ("store refused", "store_rejected", 0),
];

/// Renders the table; `labels` are the strategies in scenario order.
pub fn render(labels: &[String], runs: &[RunResult]) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let mut columns: Vec<(&str, &str, usize)> = COLUMNS.to_vec();
    if runs.iter().any(|r| r.summary.store_ops > 0) {
        columns.extend_from_slice(STORE_COLUMNS);
    }
    let mut header = vec!["strategy".to_string()];
    header.extend(columns.iter().map(|c| c.0.to_string()));
    t.set_header(header);
    for (i, label) in labels.iter().enumerate() {
        let mine: Vec<&RunResult> = runs.iter().filter(|r| r.strategy_index == i).collect();
        let has_store = mine.iter().any(|r| r.summary.store_ops > 0);
        let mut row = vec![label.clone()];
        for (_, col, decimals) in &columns {
            if !has_store && STORE_COLUMNS.iter().any(|c| c.1 == *col) {
                row.push("-".into());
                continue;
            }
            let vals: Vec<f64> = mine.iter().filter_map(|r| r.summary.metric(col)).collect();
            let e = estimate(&vals);
            row.push(if e.ci95.is_nan() {
                format!("{:.*}", decimals, e.mean)
            } else {
                format!("{:.*} ± {:.*}", decimals, e.mean, decimals, e.ci95)
            });
        }
        t.add_row(row);
    }
    for c in 1..=columns.len() {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string()
}

/// The summary columns shown after a sweep (the file has them all).
const SWEEP_COLUMNS: &[(&str, &str, usize)] = &[
    ("lost sessions %", "lost_session_pct", 2),
    ("errors", "errors", 0),
    ("mean ms", "latency_mean_ms", 1),
    ("p99 ms", "latency_p99_ms", 1),
    ("utilisation", "backend_utilization", 3),
];

/// The table printed after a sweep, from the bytes of `sweep_summary.csv`: one line per point
/// and strategy; past `max_rows` lines, a pointer to the file instead.
pub fn sweep_table(summary_csv: &[u8], axes: usize, max_rows: usize) -> String {
    let mut r = csv::Reader::from_reader(summary_csv);
    let header: Vec<String> = match r.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(_) => return String::new(),
    };
    let col = |n: &str| header.iter().position(|h| h == n);
    let (Some(strategy), Some(metric), Some(mean), Some(ci)) =
        (col("strategy"), col("metric"), col("mean"), col("ci95"))
    else {
        return String::new();
    };
    // (point and axes, strategy) -> cells, in file order.
    let mut lines: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for rec in r.records().flatten() {
        let key: Vec<String> = rec
            .iter()
            .take(axes + 1)
            .map(str::to_string)
            .chain([rec[strategy].to_string()])
            .collect();
        let Some(c) = SWEEP_COLUMNS.iter().position(|(_, m, _)| *m == &rec[metric]) else {
            continue;
        };
        if lines.last().is_none_or(|(k, _)| *k != key) {
            lines.push((key.clone(), vec![String::new(); SWEEP_COLUMNS.len()]));
        }
        let decimals = SWEEP_COLUMNS[c].2;
        let m: f64 = rec[mean].parse().unwrap_or(f64::NAN);
        let cell = match rec[ci].parse::<f64>() {
            Ok(h) => format!("{m:.decimals$} ± {h:.decimals$}"),
            Err(_) => format!("{m:.decimals$}"),
        };
        if let Some((_, cells)) = lines.last_mut() {
            cells[c] = cell;
        }
    }
    if lines.len() > max_rows {
        return format!("({} point x strategy lines: see sweep_summary.csv)", lines.len());
    }
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let mut head: Vec<String> = header[..=axes].to_vec();
    head.push("strategy".into());
    head.extend(SWEEP_COLUMNS.iter().map(|c| c.0.to_string()));
    t.set_header(head);
    for (key, cells) in lines {
        t.add_row(key.into_iter().chain(cells).collect::<Vec<_>>());
    }
    for c in (axes + 2)..(axes + 2 + SWEEP_COLUMNS.len()) {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string()
}

/// `12.345 ± 0.678`, or the mean alone when there is no interval.
fn pm(e: &crate::metrics::stats::Estimate, decimals: usize) -> String {
    if e.ci95.is_finite() {
        format!("{:.decimals$} ± {:.decimals$}", e.mean, e.ci95)
    } else {
        format!("{:.decimals$}", e.mean)
    }
}

/// The table printed by `sessim plan`: per strategy, the cheapest configuration meeting every
/// target, its cost, each target's mean and 95% half-width, the smallest margin (how far the
/// interval's end is from the target, % of the target) and how many configurations the search
/// simulated.
pub fn plan_table(sweep: &Sweep, targets: &[Target], plan: &Plan) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let mut head = vec![
        "strategy".to_string(),
        "cheapest configuration".to_string(),
        plan.objective.clone(),
    ];
    head.extend(targets.iter().map(|t| t.to_string()));
    head.push("margin".into());
    head.push("simulated".into());
    t.set_header(head);
    for sp in &plan.strategies {
        let mut row = vec![sp.label.clone()];
        match sp.answer_eval() {
            None => {
                row.push("none meets the targets".into());
                row.push(String::new());
                row.extend(targets.iter().map(|_| String::new()));
                row.push(String::new());
            }
            Some(e) => {
                row.push(describe(sweep, e.point));
                row.push(pm(&e.objective, 3));
                row.extend(e.estimates.iter().map(|x| pm(x, 3)));
                let margin = targets
                    .iter()
                    .zip(&e.estimates)
                    .map(|(t, x)| (t.margin_pct(x), &t.metric))
                    .filter(|(m, _)| m.is_finite())
                    .min_by(|a, b| a.0.total_cmp(&b.0));
                row.push(match margin {
                    Some((m, metric)) => format!("{m:.1}% ({metric})"),
                    None => String::new(),
                });
            }
        }
        row.push(sp.evaluated.len().to_string());
        t.add_row(row);
    }
    t.to_string()
}

/// The table printed by `sessim plan --max-load` (and `--growth`): per strategy, the largest
/// load meeting every target, and the targets there.
pub fn max_load_table(sweep: &Sweep, targets: &[Target], answers: &[LoadAnswer]) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let mut head = vec!["strategy".to_string(), "largest users/s meeting targets".to_string()];
    head.extend(targets.iter().map(|t| t.to_string()));
    head.push("next load tried".into());
    head.push("simulated".into());
    t.set_header(head);
    for a in answers {
        let mut row = vec![a.label.clone()];
        match a.largest.and_then(|p| a.evaluated.iter().find(|e| e.point == p)) {
            None => {
                row.push("none (the smallest load fails)".into());
                row.extend(targets.iter().map(|_| String::new()));
            }
            Some(e) => {
                row.push(
                    sweep.points[e.point]
                        .values
                        .iter()
                        .map(spec::display)
                        .collect::<Vec<_>>()
                        .join(" "),
                );
                row.extend(e.estimates.iter().map(|x| pm(x, 3)));
            }
        }
        // The smallest load known to fail, with the target it misses.
        let next = a.evaluated.iter().filter(|e| !e.met).min_by_key(|e| e.point).map(|e| {
            let missed: Vec<String> = targets
                .iter()
                .zip(&e.estimates)
                .filter(|(t, x)| !t.met(x))
                .map(|(t, x)| format!("{} {}", t.metric, pm(x, 3)))
                .collect();
            format!(
                "{}: {}",
                sweep.points[e.point]
                    .values
                    .iter()
                    .map(spec::display)
                    .collect::<Vec<_>>()
                    .join(" "),
                missed.join(", ")
            )
        });
        row.push(next.unwrap_or_else(|| "none fails".into()));
        row.push(a.evaluated.len().to_string());
        t.add_row(row);
    }
    t.to_string()
}
