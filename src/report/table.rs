//! The tables printed on the terminal: after `sessim run` one line per strategy, each figure
//! the mean over replications with its 95% confidence half-width when there are several;
//! after `sessim sweep` the same per point. The tables of `sessim plan` are
//! [`crate::sweep::table`]'s (they read the sweep's own types).

use crate::metrics::stats::estimate;
use crate::metrics::{Column, RunResult, col};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

/// (header, summary column, decimals)
/// The users' own requests come first and the work the strategy added (re-logins, retries)
/// beside them as a percentage, so that a strategy that loses sessions does not look busiest;
/// the distinct users it logged out stand beside the lost requests.
const COLUMNS: &[(&str, Column, usize)] = &[
    ("user requests", col::user_requests, 0),
    ("extra work %", col::extra_backend_pct, 1),
    ("errors", col::errors, 0),
    ("lost sessions %", col::lost_session_pct, 2),
    ("users logged out %", col::users_logged_out_pct, 2),
    ("re-logins", col::relogins, 0),
    ("imbalance CoV", col::imbalance_cov, 3),
    ("max/mean", col::imbalance_max_over_mean, 3),
    ("mean ms", col::latency_mean_ms, 1),
    ("p99 ms", col::latency_p99_ms, 1),
    ("wait ms", col::wait_mean_ms, 1),
    ("req/s incl. extra", col::throughput_rps, 1),
];

/// Shown as well when a strategy has store servers: the store as a bottleneck.
const STORE_COLUMNS: &[(&str, Column, usize)] = &[
    ("store util", col::store_utilization, 3),
    ("store wait ms", col::store_wait_mean_ms, 3),
    ("store refused", col::store_rejected, 0),
];

/// The columns of the table of `runs`: (header, summary column, decimals). The store's are
/// there when a strategy has store servers. `--export-json` and `--export-markdown` export
/// these columns.
pub(crate) fn columns(runs: &[RunResult]) -> Vec<(&'static str, Column, usize)> {
    let mut columns: Vec<(&str, Column, usize)> = COLUMNS.to_vec();
    if runs.iter().any(|r| r.summary.store_ops > 0) {
        columns.extend_from_slice(STORE_COLUMNS);
    }
    columns
}

/// Whether `col` is one of the store's columns, shown as `-` for a strategy without a store.
pub(crate) fn is_store_column(col: Column) -> bool {
    STORE_COLUMNS.iter().any(|c| c.1 == col)
}

/// The table (box-drawn when displayed; the command line prints it as plain text when stdout
/// is not a terminal); `labels` are the strategies in scenario order.
pub(crate) fn render(labels: &[String], runs: &[RunResult]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let columns = columns(runs);
    let mut header = vec!["strategy".to_string()];
    header.extend(columns.iter().map(|c| c.0.to_string()));
    t.set_header(header);
    for (i, label) in labels.iter().enumerate() {
        let mine: Vec<&RunResult> = runs.iter().filter(|r| r.strategy_index == i).collect();
        let has_store = mine.iter().any(|r| r.summary.store_ops > 0);
        let mut row = vec![label.clone()];
        for (_, col, decimals) in &columns {
            if !has_store && is_store_column(*col) {
                row.push("-".into());
                continue;
            }
            let vals: Vec<f64> = mine.iter().filter_map(|r| col.of(&r.summary)).collect();
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
    t
}

/// The summary columns shown after a sweep (the file has them all).
const SWEEP_COLUMNS: &[(&str, Column, usize)] = &[
    ("lost sessions %", col::lost_session_pct, 2),
    ("errors", col::errors, 0),
    ("mean ms", col::latency_mean_ms, 1),
    ("p99 ms", col::latency_p99_ms, 1),
    ("utilisation", col::backend_utilization, 3),
];

/// The table printed after a sweep, from the bytes of `sweep_summary.csv`: one line per point
/// and strategy; past `max_rows` lines (or for a file it cannot read), `Err` with the line to
/// print instead.
pub(crate) fn sweep_table(summary_csv: &[u8], axes: usize, max_rows: usize) -> Result<Table, String> {
    let mut r = csv::Reader::from_reader(summary_csv);
    let header: Vec<String> = match r.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(_) => return Err(String::new()),
    };
    let col = |n: &str| header.iter().position(|h| h == n);
    let (Some(strategy), Some(metric), Some(mean), Some(ci)) =
        (col("strategy"), col("metric"), col("mean"), col("ci95"))
    else {
        return Err(String::new());
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
        let Some(c) = SWEEP_COLUMNS.iter().position(|(_, m, _)| m.name == &rec[metric]) else {
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
        return Err(format!(
            "({} point x strategy lines: see sweep_summary.csv)",
            lines.len()
        ));
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
    Ok(t)
}
