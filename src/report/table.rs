//! The comparison table printed after `sessim run`: one line per strategy, each figure the
//! mean over replications with its 95% confidence half-width when there are several.

use crate::metrics::RunResult;
use crate::metrics::stats::estimate;
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

/// Renders the table; `labels` are the strategies in scenario order.
pub fn render(labels: &[String], runs: &[RunResult]) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec!["strategy".to_string()];
    header.extend(COLUMNS.iter().map(|c| c.0.to_string()));
    t.set_header(header);
    for (i, label) in labels.iter().enumerate() {
        let mine: Vec<&RunResult> = runs.iter().filter(|r| r.strategy_index == i).collect();
        let mut row = vec![label.clone()];
        for (_, col, decimals) in COLUMNS {
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
    for c in 1..=COLUMNS.len() {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string()
}
