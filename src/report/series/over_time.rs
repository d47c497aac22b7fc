//! The charts of a run over time: imbalance, errors and lost sessions, latency, one line per
//! strategy, with the warm-up shaded and the faults as bands.

use super::*;

/// The first replication of `strategy` present in the time series.
pub(super) fn first_replication(rows: &[TimeseriesRow], strategy: &str) -> Option<u32> {
    rows.iter()
        .filter(|r| r.strategy == strategy)
        .map(|r| r.replication)
        .min()
}

/// End of the last bucket [s]: the last start plus the bucket width.
pub(super) fn run_end(rows: &[TimeseriesRow]) -> f64 {
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
pub(super) fn bucket_s(rows: &[TimeseriesRow]) -> Option<f64> {
    let mut times: Vec<f64> = rows.iter().map(|r| r.time_s).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    (times.len() >= 2).then(|| times[1] - times[0])
}

pub(super) fn bucket_label(rows: &[TimeseriesRow]) -> String {
    match bucket_s(rows) {
        Some(b) => format!("per {} s bucket", fmt_num(b)),
        None => "per bucket".into(),
    }
}

/// A number without needless decimals: 10 not 10.0, 2.5 as is.
pub(crate) fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// At most this many fault bands are drawn on one chart (random failures can make many).
pub(crate) const MAX_BANDS: usize = 12;

/// Bands shared by strategies (from the fault to recovery), for charts that show every
/// strategy: the first replication's faults of every strategy, without duplicates.
pub(super) fn common_bands(t: &RunTables, names: &[String], end_s: f64) -> Vec<EventBand> {
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

/// The load imbalance per time bucket: the busiest backend's requests over the mean of the
/// backends that served any request in the bucket (1 = even), one line per strategy (its first
/// replication) at the bucket's middle, with the faults until recovery. One line per strategy
/// rather than one per backend: a crash shows as the survivors' share rising, and strategies
/// compare on one chart. Empty buckets (no request anywhere) are missing, not 1.
pub(crate) fn imbalance_over_time(t: &RunTables) -> Vec<ChartSpec> {
    if t.timeseries.is_empty() {
        return Vec::new();
    }
    let names = strategies(&t.summary);
    let end = run_end(&t.timeseries);
    let bands = common_bands(t, &names, end);
    let half = bucket_s(&t.timeseries).unwrap_or(0.0) / 2.0;
    let mut series = Vec::new();
    for s in &names {
        let Some(rep) = first_replication(&t.timeseries, s) else {
            continue;
        };
        // (bucket start, max, sum, serving backends)
        let mut buckets: Vec<(f64, f64, f64, usize)> = Vec::new();
        for r in t.timeseries.iter().filter(|r| &r.strategy == s && r.replication == rep) {
            let v = r.requests as f64;
            let i = match buckets.iter().position(|b| b.0 == r.time_s) {
                Some(i) => i,
                None => {
                    buckets.push((r.time_s, 0.0, 0.0, 0));
                    buckets.len() - 1
                }
            };
            let b = &mut buckets[i];
            if r.requests > 0 {
                b.1 = b.1.max(v);
                b.2 += v;
                b.3 += 1;
            }
        }
        series.push(XySeries {
            name: s.clone(),
            x: buckets.iter().map(|b| b.0 + half).collect(),
            y: buckets
                .iter()
                .map(|b| if b.3 == 0 { f64::NAN } else { b.1 / (b.2 / b.3 as f64) })
                .collect(),
            ci: None,
        });
    }
    if series.is_empty() {
        return Vec::new();
    }
    vec![ChartSpec {
        stem: "imbalance_over_time".into(),
        colours: ColourKey::Strategies,
        caption: format!(
            "The busiest backend's requests in each time bucket over the mean of the backends that served any (1 = even), \
             first replication of each strategy, warm-up included, drawn at the bucket's middle{}. The first buckets hold \
             few requests, so their ratio is noisy.",
            if bands.is_empty() {
                ""
            } else {
                "; shaded: each fault until recovery"
            }
        ),
        chart: TimeSeries {
            title: format!("Load imbalance {} (first replication)", bucket_label(&t.timeseries)),
            x_label: "simulated time [s]".into(),
            y_label: "busiest backend / mean of the backends (1 = even)".into(),
            series,
            bands,
        }
        .into(),
    }]
}

/// One value per bucket per strategy (the first replication), summed over backends (`max`
/// over backends when `max` is set), or `None` when every value is zero.
pub(super) fn per_strategy_over_time(
    t: &RunTables,
    value: impl Fn(&TimeseriesRow) -> f64,
    max: bool,
) -> Option<Vec<XySeries>> {
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
pub(super) type BucketValue = fn(&TimeseriesRow) -> f64;

/// Errors and lost sessions per time bucket, every strategy on one chart each, with the faults
/// from their start to recovery. A chart whose every value is zero is not produced.
pub(crate) fn errors_and_losses_over_time(t: &RunTables) -> Vec<ChartSpec> {
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
                y_label: "store utilisation [fraction of time busy]".into(),
                series,
                bands,
            }
            .into(),
        });
    }
    out
}

pub(super) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The warm-up of the run as `scenario.toml` records it [s], if it is there.
pub(super) fn warmup_s(t: &RunTables) -> Option<f64> {
    let table: toml::Table = toml::from_str(&t.scenario_toml).ok()?;
    let w = table.get("warmup")?.as_str()?;
    crate::dist::parse_duration(w).ok()
}

/// The cluster's p50 and p99 latency per bucket (`cluster_latency_p50_ms`,
/// `cluster_latency_p99_ms`), one line per strategy (first replication), at each bucket's
/// middle; the warm-up and the faults (until recovery) shaded. Not drawn for files without
/// those columns (all zero).
pub(crate) fn latency_over_time(t: &RunTables) -> Vec<ChartSpec> {
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
