//! The data of every chart, computed from result rows: pure functions from
//! [`RunTables`]/[`SweepTables`] to chart inputs ([`crate::report::charts`]), separate from
//! drawing so that the numbers drawn can be tested.
//!
//! Conventions:
//! - Strategies appear in the order of their first row in `summary.csv` (the scenario's order)
//!   and keep one colour in every chart (the strategies' palette); loss causes and backends
//!   have palettes of their own ([`ColourKey`]).
//! - A bar or point is the mean over replications; its interval the 95% Student-t half-width
//!   ([`crate::metrics::stats::estimate`]), absent with one replication.
//! - Time series show the first replication of each strategy (averaging replications would
//!   blur random failures, which differ between replications), with that replication's faults.
//! - A chart with nothing to show for the run (no faults, no store, no sweep axis) is not
//!   produced at all.
//! - The saturation knee is the first swept value at which the mean utilisation (of the
//!   backends' workers, or of the busiest store server) reaches [`KNEE_UTILISATION`]. At 0.9 an
//!   M/M/1 queue already waits 9 service times on average (rho / (1 - rho)), and waiting grows
//!   without bound past it, so this is where latency turns upward.

use super::charts::{BarGroups, Bars, Chart, EventBand, LineChart, Marker, Percentiles, Scale, Series, StackedBars};
use super::charts::{TimeSeries, XySeries};
use super::input::{RunTables, SweepTables};
use crate::metrics::loss::LostCause;
use crate::metrics::stats::{Estimate, estimate};
use crate::metrics::{Column, FaultRow, SummaryRow, TimeseriesRow, col};

/// Utilisation at which a sweep point counts as saturated (see the module doc).
pub const KNEE_UTILISATION: f64 = 0.9;

/// Which palette colours a chart's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColourKey {
    Strategies,
    Causes,
    Backends,
}

/// A chart to draw: its file stem, its data, its palette, and a sentence for the report.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartSpec {
    pub stem: String,
    pub chart: Chart,
    pub colours: ColourKey,
    pub caption: String,
}

/// Strategies in order of first appearance.
pub fn strategies(summary: &[SummaryRow]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in summary {
        if !out.contains(&r.strategy) {
            out.push(r.strategy.clone());
        }
    }
    out
}

/// The estimate of one summary metric over the replications of `strategy`.
pub fn metric_estimate(summary: &[SummaryRow], strategy: &str, metric: Column) -> Estimate {
    let v: Vec<f64> = summary
        .iter()
        .filter(|r| r.strategy == strategy)
        .filter_map(|r| metric.of(r))
        .collect();
    estimate(&v)
}

/// `Some(half-widths)` when every one is finite (there were replications), else `None`.
fn cis(e: &[Estimate]) -> Option<Vec<f64>> {
    e.iter()
        .all(|e| e.ci95.is_finite())
        .then(|| e.iter().map(|e| e.ci95).collect())
}

fn mean_or_nan(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Lost sessions by strategy, stacked by cause, as a percentage of the requests that needed a
/// session; whiskers are the interval of the total (`lost_session_pct`). Causes no strategy
/// lost anything to are left out (the first is kept when nothing was lost at all, so the chart
/// shows zeros). `None` when no request needed a session.
pub fn lost_sessions(summary: &[SummaryRow]) -> Option<ChartSpec> {
    if summary.iter().all(|r| r.session_requests == 0) {
        return None;
    }
    let names = strategies(summary);
    let mut layers = Vec::new();
    for (k, cause) in LostCause::ALL.into_iter().enumerate() {
        let values: Vec<f64> = names
            .iter()
            .map(|s| {
                let pcts: Vec<f64> = summary
                    .iter()
                    .filter(|r| &r.strategy == s && r.session_requests > 0)
                    .map(|r| 100.0 * r.lost(cause) as f64 / r.session_requests as f64)
                    .collect();
                if pcts.is_empty() { 0.0 } else { mean_or_nan(&pcts) }
            })
            .collect();
        if values.iter().any(|v| *v > 0.0) || k == 0 {
            layers.push(Series {
                name: cause.legend().to_string(),
                values,
                ci: None,
            });
        }
    }
    if layers.len() > 1 && layers[0].values.iter().all(|v| *v == 0.0) {
        layers.remove(0);
    }
    let totals: Vec<Estimate> = names
        .iter()
        .map(|s| metric_estimate(summary, s, col::lost_session_pct))
        .collect();
    Some(ChartSpec {
        stem: "lost_sessions".into(),
        colours: ColourKey::Causes,
        caption: "Requests of logged-in users that did not find their session, by cause; whiskers: 95% \
                  confidence interval of the total over replications."
            .into(),
        chart: StackedBars {
            title: "Lost sessions by strategy and cause".into(),
            x_label: "strategy".into(),
            y_label: "lost sessions [% of requests needing a session]".into(),
            categories: names,
            layers,
            total_ci: cis(&totals),
        }
        .into(),
    })
}

/// Backends in the order of their index in `backends.csv`.
fn backends(rows: &[crate::metrics::BackendRow]) -> Vec<String> {
    let mut idx: Vec<(u32, String)> = Vec::new();
    for r in rows {
        if !idx.iter().any(|(_, b)| b == &r.backend) {
            idx.push((r.backend_index, r.backend.clone()));
        }
    }
    idx.sort_by_key(|(i, _)| *i);
    idx.into_iter().map(|(_, b)| b).collect()
}

/// Requests per backend, one bar per strategy in each backend's group (mean over
/// replications, with intervals). `None` without `backends.csv` rows.
pub fn requests_per_backend(t: &RunTables) -> Option<ChartSpec> {
    if t.backends.is_empty() {
        return None;
    }
    let names = strategies(&t.summary);
    let servers = backends(&t.backends);
    let series: Vec<Series> = names
        .iter()
        .map(|s| {
            let e: Vec<Estimate> = servers
                .iter()
                .map(|b| {
                    let v: Vec<f64> = t
                        .backends
                        .iter()
                        .filter(|r| &r.strategy == s && &r.backend == b)
                        .map(|r| r.requests as f64)
                        .collect();
                    estimate(&v)
                })
                .collect();
            Series {
                name: s.clone(),
                values: e.iter().map(|e| if e.n == 0 { 0.0 } else { e.mean }).collect(),
                ci: cis(&e),
            }
        })
        .collect();
    Some(ChartSpec {
        stem: "requests_per_backend".into(),
        colours: ColourKey::Strategies,
        caption: "Requests routed to each backend after the warm-up (mean over replications, 95% CI): \
                  equal bars mean balanced load."
            .into(),
        chart: BarGroups {
            title: "Requests per backend by strategy".into(),
            x_label: "backend".into(),
            y_label: "requests after warm-up [requests]".into(),
            categories: servers,
            series,
        }
        .into(),
    })
}

/// The coefficient of variation of requests per backend, by strategy.
pub fn imbalance(summary: &[SummaryRow]) -> ChartSpec {
    let names = strategies(summary);
    let e: Vec<Estimate> = names
        .iter()
        .map(|s| metric_estimate(summary, s, col::imbalance_cov))
        .collect();
    ChartSpec {
        stem: "imbalance_cov".into(),
        colours: ColourKey::Strategies,
        caption: "Coefficient of variation (sd / mean) of completed requests across backends: 0 is perfectly \
                  balanced."
            .into(),
        chart: Bars {
            title: "Load imbalance by strategy".into(),
            x_label: "strategy".into(),
            y_label: "coefficient of variation of requests per backend [-]".into(),
            categories: names,
            values: e.iter().map(|e| e.mean).collect(),
            ci: cis(&e),
        }
        .into(),
    }
}

/// p50, p95 and p99 response time by strategy (means over replications, with intervals).
pub fn latency_percentiles(summary: &[SummaryRow]) -> ChartSpec {
    let names = strategies(summary);
    let percentiles = [
        ("p50", col::latency_p50_ms),
        ("p95", col::latency_p95_ms),
        ("p99", col::latency_p99_ms),
    ]
    .iter()
    .map(|(p, col)| {
        let e: Vec<Estimate> = names.iter().map(|s| metric_estimate(summary, s, *col)).collect();
        Series {
            name: p.to_string(),
            values: e.iter().map(|e| e.mean).collect(),
            ci: cis(&e),
        }
    })
    .collect();
    ChartSpec {
        stem: "latency_percentiles".into(),
        colours: ColourKey::Strategies,
        caption: "Response time from arrival at the balancer to completion, after the warm-up.".into(),
        chart: Percentiles {
            title: "Response time percentiles by strategy".into(),
            x_label: "strategy".into(),
            y_label: "response time [ms]".into(),
            categories: names,
            percentiles,
        }
        .into(),
    }
}

/// The first replication of `strategy` present in the time series.
fn first_replication(rows: &[TimeseriesRow], strategy: &str) -> Option<u32> {
    rows.iter()
        .filter(|r| r.strategy == strategy)
        .map(|r| r.replication)
        .min()
}

/// End of the last bucket [s]: the last start plus the bucket width.
fn run_end(rows: &[TimeseriesRow]) -> f64 {
    let mut times: Vec<f64> = rows.iter().map(|r| r.time_s).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    match times.as_slice() {
        [] => 0.0,
        [t] => *t,
        [.., a, b] => b + (b - a),
    }
}

/// The bucket width [s] (difference of the first two bucket starts), for labels.
fn bucket_s(rows: &[TimeseriesRow]) -> Option<f64> {
    let mut times: Vec<f64> = rows.iter().map(|r| r.time_s).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    (times.len() >= 2).then(|| times[1] - times[0])
}

fn bucket_label(rows: &[TimeseriesRow]) -> String {
    match bucket_s(rows) {
        Some(b) => format!("per {} s bucket", fmt_num(b)),
        None => "per bucket".into(),
    }
}

/// A number without needless decimals: 10 not 10.0, 2.5 as is.
pub fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// At most this many fault bands are drawn on one chart (random failures can make many).
pub const MAX_BANDS: usize = 12;

/// The bands of one strategy's faults: from the fault to its detection by the balancer, then
/// from detection to recovery (to the end of the run if it never recovered).
pub fn fault_bands(faults: &[&FaultRow], end_s: f64) -> Vec<EventBand> {
    let mut bands = Vec::new();
    for f in faults {
        let what = format!("{} {}", f.target, f.kind);
        let recovered = f.recovered_s.unwrap_or(end_s);
        match f.detected_s {
            Some(d) if d > f.at_s => {
                bands.push(EventBand {
                    label: format!("{what}, undetected"),
                    start: f.at_s,
                    end: d,
                });
                bands.push(EventBand {
                    label: format!("{what}, detected, down"),
                    start: d,
                    end: recovered.max(d),
                });
            }
            Some(_) => bands.push(EventBand {
                label: format!("{what}, detected at once"),
                start: f.at_s,
                end: recovered,
            }),
            None => bands.push(EventBand {
                label: format!("{what}, never detected"),
                start: f.at_s,
                end: recovered,
            }),
        }
    }
    bands.truncate(MAX_BANDS);
    bands
}

/// Bands shared by strategies (from the fault to recovery), for charts that show every
/// strategy: the first replication's faults of every strategy, without duplicates.
fn common_bands(t: &RunTables, names: &[String], end_s: f64) -> Vec<EventBand> {
    let mut bands: Vec<EventBand> = Vec::new();
    for s in names {
        let Some(rep) = t
            .faults
            .iter()
            .filter(|f| &f.strategy == s)
            .map(|f| f.replication)
            .min()
        else {
            continue;
        };
        for f in t.faults.iter().filter(|f| &f.strategy == s && f.replication == rep) {
            let b = EventBand {
                label: format!("{} {} until recovery", f.target, f.kind),
                start: f.at_s,
                end: f.recovered_s.unwrap_or(end_s),
            };
            if !bands.contains(&b) {
                bands.push(b);
            }
        }
    }
    bands.truncate(MAX_BANDS);
    bands
}

/// Requests per backend per time bucket, one chart per strategy (its first replication), with
/// its faults as bands: crash to detection to recovery.
pub fn requests_over_time(t: &RunTables) -> Vec<ChartSpec> {
    if t.timeseries.is_empty() {
        return Vec::new();
    }
    let end = run_end(&t.timeseries);
    let per = bucket_label(&t.timeseries);
    let servers: Vec<String> = {
        let mut v: Vec<String> = Vec::new();
        for r in &t.timeseries {
            if !v.contains(&r.backend) {
                v.push(r.backend.clone());
            }
        }
        v
    };
    let mut out = Vec::new();
    for (k, s) in strategies(&t.summary).iter().enumerate() {
        let Some(rep) = first_replication(&t.timeseries, s) else {
            continue;
        };
        let rows: Vec<&TimeseriesRow> = t
            .timeseries
            .iter()
            .filter(|r| &r.strategy == s && r.replication == rep)
            .collect();
        let series = servers
            .iter()
            .map(|b| {
                let mine: Vec<&&TimeseriesRow> = rows.iter().filter(|r| &r.backend == b).collect();
                XySeries {
                    name: b.clone(),
                    x: mine.iter().map(|r| r.time_s).collect(),
                    y: mine.iter().map(|r| r.requests as f64).collect(),
                    ci: None,
                }
            })
            .collect();
        let faults: Vec<&FaultRow> = t
            .faults
            .iter()
            .filter(|f| &f.strategy == s && f.replication == rep)
            .collect();
        out.push(ChartSpec {
            stem: format!("requests_over_time_{}", k + 1),
            colours: ColourKey::Backends,
            caption: format!(
                "Requests routed to each backend over simulated time (warm-up included), {s}, replication {rep}{}.",
                if faults.is_empty() {
                    String::new()
                } else {
                    "; shaded: each fault from its start to its detection by the balancer, then to recovery".to_string()
                }
            ),
            chart: TimeSeries {
                title: format!("Requests per backend over time: {s} (replication {rep})"),
                x_label: "simulated time [s]".into(),
                y_label: format!("requests [{per}]"),
                series,
                bands: fault_bands(&faults, end),
            }
            .into(),
        });
    }
    out
}

/// One value per bucket per strategy (the first replication), summed over backends (`max`
/// over backends when `max` is set), or `None` when every value is zero.
fn per_strategy_over_time(t: &RunTables, value: impl Fn(&TimeseriesRow) -> f64, max: bool) -> Option<Vec<XySeries>> {
    let mut any = false;
    let mut out = Vec::new();
    for s in strategies(&t.summary) {
        let Some(rep) = first_replication(&t.timeseries, &s) else {
            continue;
        };
        let mut x: Vec<f64> = Vec::new();
        let mut y: Vec<f64> = Vec::new();
        // A bucket's count belongs to its whole width: drawn at its middle, so that errors of a
        // crash do not appear before the crash's band starts.
        let half = bucket_s(&t.timeseries).unwrap_or(0.0) / 2.0;
        for r in t.timeseries.iter().filter(|r| r.strategy == s && r.replication == rep) {
            let v = value(r);
            any |= v > 0.0;
            match x.last() {
                Some(last) if *last == r.time_s + half => {
                    if let Some(acc) = y.last_mut() {
                        *acc = if max { acc.max(v) } else { *acc + v };
                    }
                }
                _ => {
                    x.push(r.time_s + half);
                    y.push(v);
                }
            }
        }
        out.push(XySeries {
            name: s,
            x,
            y,
            ci: None,
        });
    }
    any.then_some(out)
}

/// Reads one value of a time-series row.
type BucketValue = fn(&TimeseriesRow) -> f64;

/// Errors and lost sessions per time bucket, every strategy on one chart each, with the faults
/// from their start to recovery. A chart whose every value is zero is not produced.
pub fn errors_and_losses_over_time(t: &RunTables) -> Vec<ChartSpec> {
    if t.timeseries.is_empty() {
        return Vec::new();
    }
    let names = strategies(&t.summary);
    let end = run_end(&t.timeseries);
    let bands = common_bands(t, &names, end);
    let per = bucket_label(&t.timeseries);
    let mut out = Vec::new();
    let kinds: [(&str, &str, &str, BucketValue); 2] = [
        ("errors_over_time", "Errors over time", "errors", |r| r.errors as f64),
        (
            "lost_sessions_over_time",
            "Lost sessions over time",
            "lost sessions",
            |r| r.sessions_lost as f64,
        ),
    ];
    for (stem, title, what, f) in kinds {
        if let Some(series) = per_strategy_over_time(t, f, false) {
            out.push(ChartSpec {
                stem: stem.into(),
                colours: ColourKey::Strategies,
                caption: format!(
                    "{} per time bucket, all backends, first replication of each strategy{}.",
                    capitalise(what),
                    if bands.is_empty() {
                        ""
                    } else {
                        "; shaded: each fault until recovery"
                    }
                ),
                chart: TimeSeries {
                    title: format!("{title} (first replication)"),
                    x_label: "simulated time [s]".into(),
                    y_label: format!("{what} [{per}]"),
                    series,
                    bands: bands.clone(),
                }
                .into(),
            });
        }
    }
    if let Some(mut series) = per_strategy_over_time(t, |r| r.store_utilization, true) {
        // Strategies without store servers would only add flat zero lines.
        series.retain(|s| s.y.iter().any(|y| *y > 0.0));
        out.push(ChartSpec {
            stem: "store_utilization_over_time".into(),
            colours: ColourKey::Strategies,
            caption: "Busy fraction of the busiest session-store server per time bucket, first replication; \
                      strategies with store servers only."
                .into(),
            chart: TimeSeries {
                title: "Store utilisation over time (busiest store server)".into(),
                x_label: "simulated time [s]".into(),
                y_label: "store utilisation [0..1]".into(),
                series,
                bands,
            }
            .into(),
        });
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The warm-up of the run as `scenario.toml` records it [s], if it is there.
fn warmup_s(t: &RunTables) -> Option<f64> {
    let table: toml::Table = toml::from_str(&t.scenario_toml).ok()?;
    let w = table.get("warmup")?.as_str()?;
    crate::dist::parse_duration(w).ok()
}

/// The cluster's p50 and p99 latency per bucket (`cluster_latency_p50_ms`,
/// `cluster_latency_p99_ms`), one line per strategy (first replication), at each bucket's
/// middle; the warm-up and the faults (until recovery) shaded. Not drawn for files without
/// those columns (all zero).
pub fn latency_over_time(t: &RunTables) -> Vec<ChartSpec> {
    if t.timeseries.is_empty() {
        return Vec::new();
    }
    let names = strategies(&t.summary);
    let end = run_end(&t.timeseries);
    let mut bands = Vec::new();
    if let Some(w) = warmup_s(t).filter(|w| *w > 0.0) {
        bands.push(EventBand {
            label: "warm-up (not measured)".into(),
            start: 0.0,
            end: w.min(end),
        });
    }
    bands.extend(common_bands(t, &names, end));
    bands.truncate(MAX_BANDS);
    let kinds: [(&str, &str, BucketValue); 2] = [
        ("latency_p99_over_time", "99th percentile", |r| r.cluster_latency_p99_ms),
        ("latency_p50_over_time", "median", |r| r.cluster_latency_p50_ms),
    ];
    let mut out = Vec::new();
    for (stem, what, f) in kinds {
        // Every backend's row of a bucket holds the same cluster-wide value: take the max.
        let Some(series) = per_strategy_over_time(t, f, true) else {
            continue;
        };
        out.push(ChartSpec {
            stem: stem.into(),
            colours: ColourKey::Strategies,
            caption: format!(
                "Response time, {what} of the requests completed in each time bucket (all backends), first replication of \
                 each strategy, drawn at the bucket's middle; shaded: the warm-up{}.",
                if bands.len() > 1 { " and each fault until recovery" } else { "" }
            ),
            chart: TimeSeries {
                title: format!("Response time over time, {what} (first replication)"),
                x_label: "simulated time [s]".into(),
                y_label: format!("response time, {what} [ms]"),
                series,
                bands: bands.clone(),
            }
            .into(),
        });
    }
    out
}

/// Every chart of a run folder, in the order the report shows them.
pub fn run_charts(t: &RunTables) -> Vec<ChartSpec> {
    let mut out = Vec::new();
    out.extend(lost_sessions(&t.summary));
    out.extend(requests_per_backend(t));
    out.push(imbalance(&t.summary));
    out.push(latency_percentiles(&t.summary));
    out.extend(latency_over_time(t));
    out.extend(requests_over_time(t));
    out.extend(errors_and_losses_over_time(t));
    out
}

// ---------------------------------------------------------------------------------------------
// Sweeps

/// One point of a sweep: its number and axis values.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    pub point: usize,
    pub axes: Vec<String>,
}

/// A slice of a sweep along one numeric axis: the other axes held at fixed values.
#[derive(Clone, Debug, PartialEq)]
pub struct Slice {
    /// The axis drawn along x.
    pub axis: usize,
    /// `key=value` of the other axes, empty with one axis.
    pub fixed: Vec<String>,
    /// (x, point) in increasing x.
    pub points: Vec<(f64, usize)>,
}

/// At most this many slices are drawn (each is a set of charts).
pub const MAX_SLICES: usize = 6;

/// The first axis whose every value is a number, and the slices along it (at most
/// [`MAX_SLICES`]); `None` when no axis is numeric.
pub fn slices(t: &SweepTables) -> Option<Vec<Slice>> {
    let axis = (0..t.axes.len()).find(|a| {
        t.rows.iter().all(|r| {
            r.axes
                .get(*a)
                .is_some_and(|v| v.parse::<f64>().is_ok_and(f64::is_finite))
        })
    })?;
    let mut out: Vec<Slice> = Vec::new();
    for r in &t.rows {
        let fixed: Vec<String> = t
            .axes
            .iter()
            .zip(&r.axes)
            .enumerate()
            .filter(|(i, _)| *i != axis)
            .map(|(_, (k, v))| format!("{k}={v}"))
            .collect();
        let x: f64 = r.axes[axis].parse().unwrap_or(f64::NAN);
        let slice = match out.iter_mut().position(|s| s.fixed == fixed) {
            Some(i) => &mut out[i],
            None => {
                out.push(Slice {
                    axis,
                    fixed,
                    points: Vec::new(),
                });
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        if !slice.points.iter().any(|(_, p)| *p == r.point) {
            slice.points.push((x, r.point));
        }
    }
    for s in &mut out {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out.truncate(MAX_SLICES);
    Some(out)
}

/// Mean and interval of `value` at each point of a slice for one strategy.
pub fn along(t: &SweepTables, slice: &Slice, strategy: &str, value: impl Fn(&SummaryRow) -> f64) -> Vec<Estimate> {
    slice
        .points
        .iter()
        .map(|(_, p)| {
            let v: Vec<f64> = t
                .rows
                .iter()
                .filter(|r| r.point == *p && r.summary.strategy == strategy)
                .map(|r| value(&r.summary))
                .filter(|v| v.is_finite())
                .collect();
            estimate(&v)
        })
        .collect()
}

/// The first x of the slice at which the mean of `utilisation` reaches [`KNEE_UTILISATION`].
pub fn knee(t: &SweepTables, slice: &Slice, strategy: &str, utilisation: impl Fn(&SummaryRow) -> f64) -> Option<f64> {
    along(t, slice, strategy, utilisation)
        .iter()
        .zip(&slice.points)
        .find(|(e, _)| e.mean >= KNEE_UTILISATION)
        .map(|(_, (x, _))| *x)
}

fn xy(slice: &Slice, name: &str, e: &[Estimate]) -> XySeries {
    XySeries {
        name: name.to_string(),
        x: slice.points.iter().map(|(x, _)| *x).collect(),
        y: e.iter().map(|e| e.mean).collect(),
        // A missing interval (one replication) is drawn as no band.
        ci: Some(
            e.iter()
                .map(|e| if e.ci95.is_finite() { e.ci95 } else { 0.0 })
                .collect(),
        ),
    }
}

/// A label for the x axis: the key, with its unit when it is a known one.
fn axis_label(key: &str) -> String {
    let unit = match key.rsplit('.').next().unwrap_or(key) {
        "users_per_second" => " [users/s]",
        "count" if key.starts_with("backends") => " [backends]",
        "workers" => " [workers per backend]",
        _ => "",
    };
    format!("{key}{unit}")
}

fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    out.trim_matches('_').to_string()
}

/// y is drawn on a log scale when it spans more than two decades (latency past saturation).
fn y_scale(series: &[XySeries]) -> Scale {
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.y.iter().copied())
        .filter(|y| *y > 0.0)
        .collect();
    let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ys.iter().copied().fold(0.0, f64::max);
    if lo.is_finite() && hi / lo > 100.0 {
        Scale::Log
    } else {
        Scale::Linear
    }
}

/// The sweep strategies in order of first appearance.
pub fn sweep_strategies(t: &SweepTables) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &t.rows {
        if !out.contains(&r.summary.strategy) {
            out.push(r.summary.strategy.clone());
        }
    }
    out
}

/// A line chart of one metric along a slice, every strategy, with 95% bands and knee markers.
fn line(
    t: &SweepTables,
    slice: &Slice,
    names: &[String],
    title: &str,
    y_label: &str,
    value: &dyn Fn(&SummaryRow) -> f64,
    markers: Vec<Marker>,
) -> LineChart {
    let key = &t.axes[slice.axis];
    let series: Vec<XySeries> = names.iter().map(|s| xy(slice, s, &along(t, slice, s, value))).collect();
    let suffix = if slice.fixed.is_empty() {
        String::new()
    } else {
        format!(" ({})", slice.fixed.join(", "))
    };
    LineChart {
        title: format!("{title}{suffix}"),
        x_label: axis_label(key),
        y_label: y_label.to_string(),
        y_scale: y_scale(&series),
        series,
        x_scale: Scale::Linear,
        markers,
    }
}

/// Knee markers of every strategy that reaches the knee, labelled with the strategy.
fn knee_markers(
    t: &SweepTables,
    slice: &Slice,
    names: &[String],
    what: &str,
    utilisation: &dyn Fn(&SummaryRow) -> f64,
) -> Vec<Marker> {
    // Strategies with their knee at the same x share one marker, so labels never pile up.
    let mut out: Vec<(f64, Vec<&str>)> = Vec::new();
    for s in names {
        if let Some(x) = knee(t, slice, s, utilisation) {
            match out.iter_mut().find(|(k, _)| *k == x) {
                Some((_, v)) => v.push(s),
                None => out.push((x, vec![s])),
            }
        }
    }
    out.into_iter()
        .map(|(x, v)| Marker {
            x,
            y: None,
            label: format!("{what} knee: {}", v.join("; ")),
        })
        .collect()
}

fn error_pct(r: &SummaryRow) -> f64 {
    if r.requests == 0 {
        0.0
    } else {
        100.0 * r.errors as f64 / r.requests as f64
    }
}

fn replication_per_request(r: &SummaryRow) -> f64 {
    if r.completed == 0 {
        f64::NAN
    } else {
        r.replication_msgs as f64 / r.completed as f64
    }
}

/// Every chart of a sweep folder: along the first numeric axis, per slice of the others.
pub fn sweep_charts(t: &SweepTables) -> Vec<ChartSpec> {
    let Some(slices) = slices(t) else {
        return Vec::new();
    };
    let names = sweep_strategies(t);
    let has_store = t.rows.iter().any(|r| r.summary.store_ops > 0);
    let mut out = Vec::new();
    for (i, slice) in slices.iter().enumerate() {
        let key = t.axes[slice.axis].clone();
        let axis = slug(&key);
        let suffix = if slices.len() > 1 {
            format!("_{}", i + 1)
        } else {
            String::new()
        };
        let backend_util: &dyn Fn(&SummaryRow) -> f64 = &|r| r.backend_utilization;
        let store_util: &dyn Fn(&SummaryRow) -> f64 = &|r| r.store_utilization;
        let backend_knees = knee_markers(t, slice, &names, "backend", backend_util);
        let mut push = |stem: String, chart: LineChart, caption: String| {
            out.push(ChartSpec {
                stem,
                chart: chart.into(),
                colours: ColourKey::Strategies,
                caption,
            })
        };
        let knee_note = format!(
            " Dashed lines: the saturation knee, the first {key} at which the mean utilisation reaches {KNEE_UTILISATION}."
        );
        push(
            format!("latency_p99_vs_{axis}{suffix}"),
            line(
                t,
                slice,
                &names,
                &format!("p99 response time against {key}"),
                "p99 response time [ms]",
                &|r| r.latency_p99_ms,
                backend_knees.clone(),
            ),
            format!("Mean over replications with its 95% confidence band.{knee_note}"),
        );
        push(
            format!("lost_sessions_vs_{axis}{suffix}"),
            line(
                t,
                slice,
                &names,
                &format!("Lost sessions against {key}"),
                "lost sessions [% of requests needing a session]",
                &|r| r.lost_session_pct,
                Vec::new(),
            ),
            "Mean over replications with its 95% confidence band.".into(),
        );
        push(
            format!("error_rate_vs_{axis}{suffix}"),
            line(
                t,
                slice,
                &names,
                &format!("Errors against {key}"),
                "errors [% of requests]",
                &error_pct,
                Vec::new(),
            ),
            "Requests rejected (full queue), refused or answered 502/503, mean with its 95% band.".into(),
        );
        push(
            format!("backend_utilization_vs_{axis}{suffix}"),
            line(
                t,
                slice,
                &names,
                &format!("Backend utilisation against {key}"),
                "mean worker utilisation [0..1]",
                backend_util,
                backend_knees,
            ),
            format!("Mean utilisation of the backends' workers.{knee_note}"),
        );
        if has_store {
            let store_names: Vec<String> = names
                .iter()
                .filter(|s| {
                    t.rows
                        .iter()
                        .any(|r| &r.summary.strategy == *s && r.summary.store_ops > 0)
                })
                .cloned()
                .collect();
            let store_knees = knee_markers(t, slice, &store_names, "store", store_util);
            push(
                format!("store_utilization_vs_{axis}{suffix}"),
                line(
                    t,
                    slice,
                    &store_names,
                    &format!("Store utilisation against {key}"),
                    "utilisation of the busiest store server [0..1]",
                    store_util,
                    store_knees.clone(),
                ),
                format!("Strategies with store servers only.{knee_note}"),
            );
            push(
                format!("store_p99_vs_{axis}{suffix}"),
                line(
                    t,
                    slice,
                    &store_names,
                    &format!("Store p99 latency against {key}"),
                    "store operation p99 latency [ms]",
                    &|r| r.store_latency_p99_ms,
                    store_knees,
                ),
                format!("Latency of a store operation as its client sees it (queue, service, round trip).{knee_note}"),
            );
        }
        if key == "backends.count" {
            let repl: Vec<String> = names
                .iter()
                .filter(|s| {
                    t.rows
                        .iter()
                        .any(|r| &r.summary.strategy == *s && r.summary.replication_msgs > 0)
                })
                .cloned()
                .collect();
            if !repl.is_empty() {
                push(
                    format!("replication_vs_nodes{suffix}"),
                    line(
                        t,
                        slice,
                        &repl,
                        "Replication messages against node count",
                        "replication messages per completed request",
                        &replication_per_request,
                        Vec::new(),
                    ),
                    "Messages between nodes per completed request (all-to-all grows with N - 1), strategies that \
                     replicate only."
                        .into(),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::BackendRow;

    fn row(strategy: &str, rep: u32, f: impl FnOnce(&mut SummaryRow)) -> SummaryRow {
        let mut r = SummaryRow {
            scenario: "s".into(),
            strategy: strategy.into(),
            replication: rep,
            ..SummaryRow::default()
        };
        f(&mut r);
        r
    }

    /// Two strategies, two replications each, hand-chosen numbers.
    fn summary() -> Vec<SummaryRow> {
        vec![
            row("ip_hash", 0, |r| {
                r.session_requests = 1000;
                r.lost_node_failure = 30;
                r.lost_routed_elsewhere = 10;
                r.lost_session_pct = 4.0;
                r.imbalance_cov = 0.2;
                r.latency_p50_ms = 10.0;
                r.latency_p95_ms = 50.0;
                r.latency_p99_ms = 100.0;
            }),
            row("ip_hash", 1, |r| {
                r.session_requests = 1000;
                r.lost_node_failure = 50;
                r.lost_routed_elsewhere = 10;
                r.lost_session_pct = 6.0;
                r.imbalance_cov = 0.4;
                r.latency_p50_ms = 12.0;
                r.latency_p95_ms = 54.0;
                r.latency_p99_ms = 110.0;
            }),
            row("cookie+redis", 0, |r| {
                r.session_requests = 1000;
                r.imbalance_cov = 0.01;
                r.latency_p50_ms = 11.0;
                r.latency_p95_ms = 40.0;
                r.latency_p99_ms = 80.0;
            }),
            row("cookie+redis", 1, |r| {
                r.session_requests = 1000;
                r.imbalance_cov = 0.03;
                r.latency_p50_ms = 13.0;
                r.latency_p95_ms = 44.0;
                r.latency_p99_ms = 90.0;
            }),
        ]
    }

    #[test]
    fn lost_sessions_are_stacked_by_cause_with_the_totals_interval() {
        let spec = lost_sessions(&summary()).unwrap();
        // ip_hash: routed elsewhere 10/1000 = 1% both times; crashed 3% and 5%, mean 4%.
        // Total 4% and 6%: mean 5, sd sqrt(2), half-width t(1) * sqrt(2) / sqrt(2) = 12.7062.
        // Causes nobody lost to are left out.
        insta::assert_debug_snapshot!(spec.chart);
    }

    #[test]
    fn nothing_lost_still_shows_zeros_and_no_session_requests_draws_nothing() {
        let s: Vec<SummaryRow> = summary().into_iter().filter(|r| r.strategy == "cookie+redis").collect();
        let Some(ChartSpec {
            chart: Chart::Stacked(c),
            ..
        }) = lost_sessions(&s)
        else {
            panic!("a stacked chart")
        };
        assert_eq!(c.layers.len(), 1);
        assert_eq!(c.layers[0].values, [0.0]);
        let none: Vec<SummaryRow> = s
            .into_iter()
            .map(|mut r| {
                r.session_requests = 0;
                r
            })
            .collect();
        assert!(lost_sessions(&none).is_none());
    }

    #[test]
    fn imbalance_and_percentiles_are_means_with_intervals() {
        let s = summary();
        insta::assert_debug_snapshot!((imbalance(&s).chart, latency_percentiles(&s).chart));
    }

    #[test]
    fn requests_per_backend_groups_by_backend_index() {
        let b = |s: &str, rep: u32, i: u32, n: u64| BackendRow {
            scenario: "s".into(),
            strategy: s.into(),
            replication: rep,
            backend_index: i,
            backend: format!("web{}", i + 1),
            requests: n,
            ..BackendRow::default()
        };
        let t = RunTables {
            summary: summary(),
            // Listed out of index order: the chart still goes web1, web2.
            backends: vec![
                b("ip_hash", 0, 1, 300),
                b("ip_hash", 0, 0, 100),
                b("ip_hash", 1, 1, 320),
                b("ip_hash", 1, 0, 120),
                b("cookie+redis", 0, 0, 200),
                b("cookie+redis", 0, 1, 200),
                b("cookie+redis", 1, 0, 210),
                b("cookie+redis", 1, 1, 190),
            ],
            ..RunTables::default()
        };
        insta::assert_debug_snapshot!(requests_per_backend(&t).unwrap().chart);
    }

    fn ts(s: &str, rep: u32, t: f64, b: &str, requests: u64, errors: u64, lost: u64) -> TimeseriesRow {
        TimeseriesRow {
            scenario: "s".into(),
            strategy: s.into(),
            replication: rep,
            time_s: t,
            backend: b.into(),
            requests,
            errors,
            sessions_lost: lost,
            up: 1,
            ..TimeseriesRow::default()
        }
    }

    fn fault(s: &str, rep: u32, detected: Option<f64>, recovered: Option<f64>) -> FaultRow {
        FaultRow {
            scenario: "s".into(),
            strategy: s.into(),
            replication: rep,
            kind: "crash".into(),
            target: "web2".into(),
            at_s: 10.0,
            detected_s: detected,
            recovered_s: recovered,
            ..FaultRow::default()
        }
    }

    fn over_time() -> RunTables {
        let mut timeseries = Vec::new();
        for (s, errs) in [("ip_hash", 3), ("cookie+redis", 0)] {
            for rep in [1, 0] {
                for (k, t) in [0.0, 10.0, 20.0].iter().enumerate() {
                    let k = k as u64;
                    timeseries.push(ts(s, rep, *t, "web1", 10 + k + rep as u64, 0, 0));
                    let down = *t == 10.0;
                    timeseries.push(ts(
                        s,
                        rep,
                        *t,
                        "web2",
                        if down { 0 } else { 9 },
                        if down { errs } else { 0 },
                        0,
                    ));
                }
            }
        }
        RunTables {
            summary: summary(),
            timeseries,
            faults: vec![
                fault("ip_hash", 0, Some(12.5), Some(20.0)),
                fault("ip_hash", 1, Some(11.0), Some(20.0)),
                fault("cookie+redis", 0, Some(10.0), None),
            ],
            ..RunTables::default()
        }
    }

    #[test]
    fn latency_over_time_is_per_strategy_at_bucket_middles_with_warm_up_and_fault_bands() {
        let mut t = over_time();
        // p99 = 100 + bucket start in ms on every backend's row of replication 0 (replication 1
        // has 1 ms, so drawing it would show); p50 a tenth of that.
        for r in &mut t.timeseries {
            let base = if r.replication == 0 { 100.0 + r.time_s } else { 1.0 };
            r.cluster_latency_p99_ms = base;
            r.cluster_latency_p50_ms = base / 10.0;
        }
        t.scenario_toml = "name = \"x\"\nwarmup = \"4s\"\n".into();
        let charts = latency_over_time(&t);
        assert_eq!(
            charts.iter().map(|c| c.stem.as_str()).collect::<Vec<_>>(),
            ["latency_p99_over_time", "latency_p50_over_time"]
        );
        let Chart::TimeSeries(c) = &charts[0].chart else {
            panic!("a time series")
        };
        assert_eq!(c.series.len(), 2, "one line per strategy");
        assert_eq!(c.series[0].x, [5.0, 15.0, 25.0], "10 s buckets at their middles");
        assert_eq!(
            c.series[0].y,
            [100.0, 110.0, 120.0],
            "replication 0, not the sum of backends"
        );
        assert_eq!(
            c.bands[0],
            EventBand {
                label: "warm-up (not measured)".into(),
                start: 0.0,
                end: 4.0
            }
        );
        // Then the faults as on the errors chart: ip_hash's crash 10..20 s, cookie+redis's to
        // the end of the run (30 s).
        assert_eq!(c.bands.len(), 3);
        assert_eq!((c.bands[1].start, c.bands[1].end, c.bands[2].end), (10.0, 20.0, 30.0));
        let Chart::TimeSeries(c) = &charts[1].chart else {
            panic!("a time series")
        };
        assert_eq!(c.series[1].y, [10.0, 11.0, 12.0]);
        // Files from before these columns (all zero) draw no latency chart.
        assert!(latency_over_time(&over_time()).is_empty());
    }

    #[test]
    fn requests_over_time_use_the_first_replication_and_its_faults() {
        let charts = requests_over_time(&over_time());
        assert_eq!(charts.len(), 2);
        assert_eq!(charts[0].stem, "requests_over_time_1");
        // Replication 0 of ip_hash: web1 10, 11, 12; web2 9, 0, 9. Its crash at 10 s was
        // detected at 12.5 s and web2 served again at 20 s. cookie+redis's never recovered:
        // its band runs to the end of the last bucket, 20 + 10 = 30 s.
        insta::assert_debug_snapshot!(charts.iter().map(|c| &c.chart).collect::<Vec<_>>());
    }

    #[test]
    fn errors_over_time_sum_backends_and_all_zero_charts_are_not_drawn() {
        let charts = errors_and_losses_over_time(&over_time());
        // No lost sessions and no store anywhere: only the errors chart.
        assert_eq!(
            charts.iter().map(|c| c.stem.as_str()).collect::<Vec<_>>(),
            ["errors_over_time"]
        );
        let Chart::TimeSeries(c) = &charts[0].chart else {
            panic!("a time series")
        };
        assert_eq!(c.series[0].name, "ip_hash");
        // 10 s buckets starting at 0, 10, 20 s: drawn at their middles.
        assert_eq!(c.series[0].x, [5.0, 15.0, 25.0]);
        assert_eq!(c.series[0].y, [0.0, 3.0, 0.0]);
        assert_eq!(c.series[1].y, [0.0, 0.0, 0.0]);
        // The two strategies' crashes are one band (same start and recovery), plus the one that
        // never recovered.
        assert_eq!(
            c.bands,
            [
                EventBand {
                    label: "web2 crash until recovery".into(),
                    start: 10.0,
                    end: 20.0
                },
                EventBand {
                    label: "web2 crash until recovery".into(),
                    start: 10.0,
                    end: 30.0
                }
            ]
        );
    }

    fn sweep() -> SweepTables {
        // Load 10, 20, 40 for two strategies with 2 replications: utilisation 0.3, 0.6, 0.95 for
        // "a" (knee at 40) and 0.2, 0.4, 0.8 for "b" (no knee).
        let mut rows = Vec::new();
        for (p, load) in [10.0, 20.0, 40.0].iter().enumerate() {
            for (s, util) in [("a", [0.3, 0.6, 0.95]), ("b", [0.2, 0.4, 0.8])] {
                for rep in 0..2u32 {
                    let d = if rep == 0 { -1.0 } else { 1.0 };
                    rows.push(crate::report::input::SweepRow {
                        point: p,
                        axes: vec![fmt_num(*load)],
                        summary: row(s, rep, |r| {
                            r.backend_utilization = util[p] + d * 0.01;
                            r.latency_p99_ms = 100.0 * (p + 1) as f64 + d * 5.0;
                            r.requests = 1000;
                            r.errors = if p == 2 { 10 } else { 0 };
                            r.lost_session_pct = 1.0;
                        }),
                    });
                }
            }
        }
        SweepTables {
            axes: vec!["workload.users_per_second".into()],
            rows,
            scenario_toml: String::new(),
        }
    }

    #[test]
    fn the_knee_is_the_first_load_reaching_ninety_percent() {
        let t = sweep();
        let s = &slices(&t).unwrap()[0];
        assert_eq!(knee(&t, s, "a", |r| r.backend_utilization), Some(40.0));
        assert_eq!(knee(&t, s, "b", |r| r.backend_utilization), None);
    }

    #[test]
    fn sweep_charts_without_store_or_node_axis() {
        let charts = sweep_charts(&sweep());
        assert_eq!(
            charts.iter().map(|c| c.stem.as_str()).collect::<Vec<_>>(),
            [
                "latency_p99_vs_workload_users_per_second",
                "lost_sessions_vs_workload_users_per_second",
                "error_rate_vs_workload_users_per_second",
                "backend_utilization_vs_workload_users_per_second"
            ]
        );
        // p99 of "a": (95, 105), (195, 205), (295, 305): means 100, 200, 300, half-width
        // t(1) * sd / sqrt(2) = 12.7062 * 7.0711 / 1.4142 = 63.531.
        insta::assert_debug_snapshot!(charts[0].chart);
    }

    #[test]
    fn a_non_numeric_axis_draws_no_sweep_chart() {
        let mut t = sweep();
        for r in &mut t.rows {
            r.axes[0] = "round_robin".into();
        }
        assert!(sweep_charts(&t).is_empty());
    }
}
