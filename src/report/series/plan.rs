//! The charts of `sessim plan`: each `--target`'s metric against the searched axis, one line
//! per strategy through the configurations the search simulated, the target drawn as a
//! labelled dotted line ("target p99 < 300 ms").

use super::sweep::{Slice, slices, slug, sweep_strategies, x_axis, y_scale};
use super::{ChartSpec, ColourKey};
use crate::metrics::stats::estimate;
use crate::report::charts::{LineChart, Scale, Threshold, XySeries};
use crate::report::input::SweepTables;

/// A metric in words and its unit, for axis titles and target labels: (name, short name,
/// unit). Columns without a phrase of their own are named by their key with spaces, and the
/// unit read from the key's suffix.
fn words(metric: &str) -> (String, String, String) {
    let known = |name: &str, short: &str, unit: &str| Some((name.to_string(), short.to_string(), unit.to_string()));
    let w = match metric {
        "latency_p99_ms" => known("p99 response time", "p99", "ms"),
        "latency_p95_ms" => known("p95 response time", "p95", "ms"),
        "latency_p50_ms" => known("median response time", "p50", "ms"),
        "latency_mean_ms" => known("mean response time", "mean response time", "ms"),
        "lost_session_pct" => known("lost sessions", "lost sessions", "%"),
        "users_logged_out_pct" => known("users logged out", "users logged out", "%"),
        "extra_backend_pct" => known("extra backend work", "extra work", "%"),
        "imbalance_cov" => known("imbalance (CoV of requests per backend)", "imbalance CoV", ""),
        "backend_utilization" => known("backend utilisation", "backend utilisation", ""),
        "store_utilization" => known("busiest store server's utilisation", "store utilisation", ""),
        _ => None,
    };
    w.unwrap_or_else(|| {
        let (stem, unit) = [
            ("_ms", "ms"),
            ("_pct", "%"),
            ("_rps", "requests/s"),
            ("_per_h", "per hour"),
            ("_mb", "MB"),
        ]
        .iter()
        .find_map(|(suffix, unit)| metric.strip_suffix(suffix).map(|s| (s, *unit)))
        .unwrap_or((metric, ""));
        let name = stem.replace('_', " ");
        (name.clone(), name, unit.to_string())
    })
}

/// A `sessim plan` target as its chart draws it: the metric's column, the comparison as
/// written (`<`, `<=`, `>`, `>=`) and the value. The CLI makes these from the planner's
/// targets, so that the report never imports the sweep module.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TargetLine {
    /// The column of `summary.csv` the target bounds (`latency_p99_ms`).
    pub(crate) metric: String,
    /// The comparison, as written.
    pub(crate) op: &'static str,
    /// The bound, in the column's unit.
    pub(crate) value: f64,
}

/// "target p99 < 300 ms", "target lost sessions < 0.1%".
pub(crate) fn target_label(t: &TargetLine) -> String {
    let (_, short, unit) = words(&t.metric);
    let op = t.op;
    let value = super::fmt_num(t.value);
    match unit.as_str() {
        "" => format!("target {short} {op} {value}"),
        "%" => format!("target {short} {op} {value}%"),
        u => format!("target {short} {op} {value} {u}"),
    }
}

/// One strategy's line: the slice's points the plan simulated for it (mean over its
/// replications, 95% band), the others left out rather than drawn as gaps.
fn simulated(t: &SweepTables, slice: &Slice, strategy: &str, metric: &str) -> Option<XySeries> {
    let mut s = XySeries {
        name: strategy.to_string(),
        x: Vec::new(),
        y: Vec::new(),
        ci: Some(Vec::new()),
    };
    for (x, p) in &slice.points {
        let v: Vec<f64> = t
            .rows
            .iter()
            .filter(|r| r.point == *p && r.summary.strategy == strategy)
            .filter_map(|r| r.summary.metric(metric))
            .filter(|v| v.is_finite())
            .collect();
        if v.is_empty() {
            continue;
        }
        let e = estimate(&v);
        s.x.push(*x);
        s.y.push(e.mean);
        if let Some(ci) = &mut s.ci {
            ci.push(if e.ci95.is_finite() { e.ci95 } else { 0.0 });
        }
    }
    (!s.x.is_empty()).then_some(s)
}

/// Per target and per slice of the other axes (at most six), the target's metric against the
/// first numeric axis of the plan's simulations (`plan_runs.csv` read as a sweep); none when
/// no axis is numeric. A plan over `workload.users_per_second` (`--max-load`) is drawn against
/// the offered load, as a sweep is.
pub(crate) fn plan_charts(t: &SweepTables, targets: &[TargetLine]) -> Vec<ChartSpec> {
    let Some(all) = slices(t) else {
        return Vec::new();
    };
    let names = sweep_strategies(t);
    let mut out = Vec::new();
    for (i, swept) in all.iter().enumerate() {
        let x = x_axis(t, swept);
        let axis = slug(&t.axes[swept.axis]);
        let suffix = if all.len() > 1 {
            format!("_{}", i + 1)
        } else {
            String::new()
        };
        let fixed = if swept.fixed.is_empty() {
            String::new()
        } else {
            format!(" ({})", swept.fixed.join(", "))
        };
        for (k, target) in targets.iter().enumerate() {
            // Two targets on one metric (a band) share a chart.
            if targets[..k].iter().any(|o| o.metric == target.metric) {
                continue;
            }
            let (name, _, unit) = words(&target.metric);
            let series: Vec<XySeries> = names
                .iter()
                .filter_map(|s| simulated(t, &x.slice, s, &target.metric))
                .collect();
            if series.is_empty() {
                continue;
            }
            let lines: Vec<Threshold> = targets
                .iter()
                .filter(|o| o.metric == target.metric)
                .map(|o| Threshold {
                    y: o.value,
                    label: target_label(o),
                })
                .collect();
            let unit = match target.metric.as_str() {
                "lost_session_pct" => "% of requests needing a session".to_string(),
                "users_logged_out_pct" => "% of users".to_string(),
                _ => unit,
            };
            let y_label = if unit.is_empty() {
                name.clone()
            } else {
                format!("{name} [{unit}]")
            };
            let chart = LineChart {
                title: format!("Plan: {name} against {}{fixed}", x.name),
                x_label: x.label.clone(),
                y_label,
                y_scale: y_scale(&series),
                series,
                x_scale: Scale::Linear,
                markers: Vec::new(),
                targets: lines,
            };
            out.push(ChartSpec {
                stem: format!("plan_{}_vs_{axis}{suffix}", target.metric),
                chart: chart.into(),
                colours: ColourKey::Strategies,
                caption: format!(
                    "{} of every configuration the plan simulated, mean over replications with its 95% band; the \
                     search skips the configurations it can decide without simulating them, so a line joins only \
                     the points it looked at. Dotted red line: the --target, met when the whole interval is on \
                     its side.{}",
                    capitalised(&name),
                    if x.label == super::sweep::OFFERED_LOAD {
                        " x: the offered load, the users' own requests per second measured at each load tried \
                         (re-logins left out)."
                    } else {
                        ""
                    }
                ),
            });
        }
    }
    out
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::SummaryRow;
    use crate::report::charts::Chart;
    use crate::report::input::SweepRow;

    fn line(metric: &str, op: &'static str, value: f64) -> TargetLine {
        TargetLine {
            metric: metric.to_string(),
            op,
            value,
        }
    }

    fn row(point: usize, count: &str, strategy: &str, replication: u32, p99: f64) -> SweepRow {
        SweepRow {
            point,
            axes: vec![count.to_string()],
            summary: SummaryRow {
                strategy: strategy.to_string(),
                replication,
                latency_p99_ms: p99,
                ..SummaryRow::default()
            },
        }
    }

    #[test]
    fn a_target_is_a_labelled_line_over_the_simulated_points_only() {
        // Strategy a simulated at 2 and 8 backends (p99 400, 410 and 100, 120 ms over two
        // replications: means 405 and 110), b at 4 only: b's line holds its one point, and
        // nothing is drawn where the search did not simulate.
        let t = SweepTables {
            axes: vec!["backends.count".into()],
            rows: vec![
                row(0, "2", "a", 0, 400.0),
                row(0, "2", "a", 1, 410.0),
                row(2, "8", "a", 0, 100.0),
                row(2, "8", "a", 1, 120.0),
                row(1, "4", "b", 0, 250.0),
            ],
            scenario_toml: String::new(),
        };
        let targets = [line("latency_p99_ms", "<", 300.0), line("lost_session_pct", "<", 0.1)];
        let charts = plan_charts(&t, &targets);
        let stems: Vec<&str> = charts.iter().map(|c| c.stem.as_str()).collect();
        assert_eq!(
            stems,
            [
                "plan_latency_p99_ms_vs_backends_count",
                "plan_lost_session_pct_vs_backends_count"
            ]
        );
        let Chart::Line(c) = &charts[0].chart else {
            panic!("a line chart")
        };
        assert_eq!(c.x_label, "number of backends [backends]");
        assert_eq!(c.y_label, "p99 response time [ms]");
        assert_eq!(c.targets.len(), 1);
        assert_eq!(c.targets[0].y, 300.0);
        assert_eq!(c.targets[0].label, "target p99 < 300 ms");
        assert_eq!(c.series[0].x, [2.0, 8.0]);
        assert_eq!(c.series[0].y, [405.0, 110.0]);
        assert_eq!(c.series[1].x, [4.0]);
        let Chart::Line(c) = &charts[1].chart else {
            panic!("a line chart")
        };
        assert_eq!(c.targets[0].label, "target lost sessions < 0.1%");
        assert_eq!(c.y_label, "lost sessions [% of requests needing a session]");
    }

    #[test]
    fn labels_name_the_metric_and_its_unit() {
        let l = |metric: &str, op: &'static str, value: f64| target_label(&line(metric, op, value));
        assert_eq!(l("latency_p99_ms", "<=", 250.0), "target p99 <= 250 ms");
        assert_eq!(l("throughput_rps", ">", 100.0), "target throughput > 100 requests/s");
        assert_eq!(l("imbalance_cov", "<", 0.05), "target imbalance CoV < 0.05");
    }
}
