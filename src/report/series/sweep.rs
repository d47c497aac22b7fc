//! The charts of a sweep folder: each metric against a numeric swept axis, one chart per
//! combination of the other axes (a [`Slice`]), with the saturation knee marked.

use crate::report::verdict::{TARGET_LOST_PCT, TARGET_P99_MS};

use super::*;

/// A slice of a sweep along one numeric axis: the other axes held at fixed values.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Slice {
    /// The axis drawn along x.
    pub(crate) axis: usize,
    /// `key=value` of the other axes, empty with one axis.
    pub(crate) fixed: Vec<String>,
    /// (x, point) in increasing x.
    pub(crate) points: Vec<(f64, usize)>,
}

/// At most this many slices are drawn (each is a set of charts).
pub(crate) const MAX_SLICES: usize = 6;

/// The first axis whose every value is a number, and the slices along it (at most
/// [`MAX_SLICES`]); `None` when no axis is numeric.
pub(crate) fn slices(t: &SweepTables) -> Option<Vec<Slice>> {
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
pub(crate) fn along(
    t: &SweepTables,
    slice: &Slice,
    strategy: &str,
    value: impl Fn(&SummaryRow) -> f64,
) -> Vec<Estimate> {
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
pub(crate) fn knee(
    t: &SweepTables,
    slice: &Slice,
    strategy: &str,
    utilisation: impl Fn(&SummaryRow) -> f64,
) -> Option<f64> {
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

/// What a swept key is, in words: the known keys by name, any other by its last part with
/// spaces for underscores (`backends.servers[0].weight` is "weight"), so that no chart shows a
/// raw key as an axis title.
pub(crate) fn axis_name(key: &str) -> String {
    match key {
        "workload.users_per_second" => "arriving users per second".into(),
        "backends.count" => "number of backends".into(),
        "backends.workers" => "workers per backend".into(),
        "backends.queue" => "queue places per backend".into(),
        "sessions.store.servers" => "store servers".into(),
        "sessions.store.concurrency" => "concurrent operations per store server".into(),
        _ => key
            .rsplit('.')
            .next()
            .unwrap_or(key)
            .split('[')
            .next()
            .unwrap_or(key)
            .replace('_', " "),
    }
}

/// A label for the x axis: what the key is in words, with its unit when it is a known one.
pub(crate) fn axis_label(key: &str) -> String {
    let unit = match key {
        "workload.users_per_second" => " [users/s]",
        "backends.count" => " [backends]",
        "backends.workers" => " [workers]",
        "backends.queue" => " [requests]",
        "sessions.store.servers" => " [servers]",
        _ => "",
    };
    format!("{}{unit}", axis_name(key))
}

/// The x axis of a slice's charts: the swept values, or for a sweep of
/// `workload.users_per_second` the offered load, the users' own requests per second
/// measured at each point (`offered_rps x user_requests / requests`: the request rate with
/// re-logins left out, nearly the same for every strategy since they see the same users; the
/// mean over strategies and replications). The slice's points keep their order.
pub(crate) struct XAxis {
    /// The slice, its x values replaced when the axis is the offered load.
    pub(crate) slice: Slice,
    /// The axis title, with its unit.
    pub(crate) label: String,
    /// What x is, for chart titles ("offered load").
    pub(crate) name: String,
}

/// The label of the offered-load axis.
pub(crate) const OFFERED_LOAD: &str = "offered load [requests/s]";

/// The offered load at sweep point `point`: the users' own requests per second,
/// `offered_rps x user_requests / requests` of each row (the request rate at the balancer
/// without the re-logins a strategy causes), the mean over the point's strategies and
/// replications; NaN without rows: the charts' x axis.
pub(crate) fn offered_load(t: &SweepTables, point: usize) -> f64 {
    let v: Vec<f64> = t
        .rows
        .iter()
        .filter(|r| r.point == point && r.summary.requests > 0)
        .map(|r| users_own_rps(&r.summary))
        .collect();
    mean_or_nan(&v)
}

/// One run's offered load: its users' own requests per second, `offered_rps x user_requests /
/// requests` (NaN without requests). Users wait for each answer before they think and ask
/// again, so a strategy that makes them wait longer is offered slightly less.
pub(crate) fn users_own_rps(r: &SummaryRow) -> f64 {
    if r.requests == 0 {
        f64::NAN
    } else {
        r.offered_rps * r.user_requests as f64 / r.requests as f64
    }
}

/// See [`XAxis`]: the offered load needs the `offered_rps` and `user_requests` columns, and a
/// finite, positive value at every point; otherwise the axis stays the swept key.
pub(crate) fn x_axis(t: &SweepTables, slice: &Slice) -> XAxis {
    let key = &t.axes[slice.axis];
    let keep = || XAxis {
        slice: slice.clone(),
        label: axis_label(key),
        name: axis_name(key),
    };
    let summaries: Vec<SummaryRow> = t.rows.iter().map(|r| r.summary.clone()).collect();
    if key != "workload.users_per_second"
        || col::offered_rps.absent_in(&summaries)
        || col::user_requests.absent_in(&summaries)
    {
        return keep();
    }
    let mut points = Vec::with_capacity(slice.points.len());
    for (_, p) in &slice.points {
        let x = offered_load(t, *p);
        if !(x.is_finite() && x > 0.0) {
            return keep();
        }
        points.push((x, *p));
    }
    XAxis {
        slice: Slice {
            axis: slice.axis,
            fixed: slice.fixed.clone(),
            points,
        },
        label: OFFERED_LOAD.into(),
        name: "offered load".into(),
    }
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
pub(crate) fn sweep_strategies(t: &SweepTables) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &t.rows {
        if !out.contains(&r.summary.strategy) {
            out.push(r.summary.strategy.clone());
        }
    }
    out
}

/// A line chart of one metric along a slice, every strategy, with 95% bands and knee markers.
#[allow(clippy::too_many_arguments)]
pub(super) fn line(
    t: &SweepTables,
    x: &XAxis,
    names: &[String],
    title: &str,
    y_label: &str,
    value: &dyn Fn(&SummaryRow) -> f64,
    markers: Vec<Marker>,
    targets: Vec<Threshold>,
) -> LineChart {
    let slice = &x.slice;
    let series: Vec<XySeries> = names.iter().map(|s| xy(slice, s, &along(t, slice, s, value))).collect();
    let suffix = if slice.fixed.is_empty() {
        String::new()
    } else {
        format!(" ({})", slice.fixed.join(", "))
    };
    LineChart {
        title: format!("{title}{suffix}"),
        x_label: x.label.clone(),
        y_label: y_label.to_string(),
        y_scale: y_scale(&series),
        series,
        x_scale: Scale::Linear,
        markers,
        targets,
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
pub(crate) fn sweep_charts(t: &SweepTables) -> Vec<ChartSpec> {
    let Some(slices) = slices(t) else {
        return Vec::new();
    };
    let names = sweep_strategies(t);
    let has_store = t.rows.iter().any(|r| r.summary.store_ops > 0);
    let mut out = Vec::new();
    for (i, swept) in slices.iter().enumerate() {
        let key = t.axes[swept.axis].clone();
        let axis = slug(&key);
        let x = x_axis(t, swept);
        let slice = &x.slice;
        let what = x.name.clone();
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
        let offered = if x.label == OFFERED_LOAD {
            format!(
                " x: the offered load, the users' own requests per second (re-logins left out) measured at each swept {} \
                 ({}).",
                axis_label(&key),
                swept
                    .points
                    .iter()
                    .map(|(v, _)| fmt_num(*v))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        };
        let knee_note = format!(
            " Dashed lines: the saturation knee, the first point at which the mean utilisation reaches \
             {KNEE_UTILISATION}.{offered}"
        );
        let target_note = " Dotted red line: the target the verdicts judge by (upper end of the interval).";
        push(
            format!("latency_p99_vs_{axis}{suffix}"),
            line(
                t,
                &x,
                &names,
                &format!("p99 response time against {what}"),
                "p99 response time [ms]",
                &|r| r.latency_p99_ms,
                backend_knees.clone(),
                vec![Threshold {
                    y: TARGET_P99_MS,
                    label: format!("target of the verdicts: p99 < {TARGET_P99_MS} ms"),
                }],
            ),
            format!("Mean over replications with its 95% confidence band.{knee_note}{target_note}"),
        );
        push(
            format!("lost_sessions_vs_{axis}{suffix}"),
            line(
                t,
                &x,
                &names,
                &format!("Lost sessions against {what}"),
                "lost sessions [% of requests needing a session]",
                &|r| r.lost_session_pct,
                Vec::new(),
                vec![Threshold {
                    y: TARGET_LOST_PCT,
                    label: format!("target of the verdicts: < {TARGET_LOST_PCT}%"),
                }],
            ),
            format!("Mean over replications with its 95% confidence band.{target_note}{offered}"),
        );
        push(
            format!("error_rate_vs_{axis}{suffix}"),
            line(
                t,
                &x,
                &names,
                &format!("Errors against {what}"),
                "errors [% of requests]",
                &error_pct,
                Vec::new(),
                Vec::new(),
            ),
            format!("Requests rejected (full queue), refused or answered 502/503, mean with its 95% band.{offered}"),
        );
        push(
            format!("backend_utilization_vs_{axis}{suffix}"),
            line(
                t,
                &x,
                &names,
                &format!("Backend utilisation against {what}"),
                "mean worker utilisation [fraction of time busy]",
                backend_util,
                backend_knees,
                Vec::new(),
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
                    &x,
                    &store_names,
                    &format!("Store utilisation against {what}"),
                    "busiest store server's utilisation [fraction of time busy]",
                    store_util,
                    store_knees.clone(),
                    Vec::new(),
                ),
                format!("Strategies with store servers only.{knee_note}"),
            );
            push(
                format!("store_p99_vs_{axis}{suffix}"),
                line(
                    t,
                    &x,
                    &store_names,
                    &format!("Store p99 latency against {what}"),
                    "store operation p99 latency [ms]",
                    &|r| r.store_latency_p99_ms,
                    store_knees,
                    Vec::new(),
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
                        &x,
                        &repl,
                        "Replication messages against node count",
                        "replication messages per completed request",
                        &replication_per_request,
                        Vec::new(),
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
