//! The charts of a sweep folder: each metric against a numeric swept axis, one chart per
//! combination of the other axes (a [`Slice`]), with the saturation knee marked.

use super::*;

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

pub(super) fn xy(slice: &Slice, name: &str, e: &[Estimate]) -> XySeries {
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
pub(super) fn axis_label(key: &str) -> String {
    let unit = match key.rsplit('.').next().unwrap_or(key) {
        "users_per_second" => " [users/s]",
        "count" if key.starts_with("backends") => " [backends]",
        "workers" => " [workers per backend]",
        _ => "",
    };
    format!("{key}{unit}")
}

pub(super) fn slug(s: &str) -> String {
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
pub(super) fn y_scale(series: &[XySeries]) -> Scale {
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
pub(super) fn line(
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
pub(super) fn knee_markers(
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

pub(super) fn error_pct(r: &SummaryRow) -> f64 {
    if r.requests == 0 {
        0.0
    } else {
        100.0 * r.errors as f64 / r.requests as f64
    }
}

pub(super) fn replication_per_request(r: &SummaryRow) -> f64 {
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
