//! The charts of a run folder: lost sessions by cause, requests per backend, imbalance and
//! latency percentiles; `run_charts` lists them with the charts over time (`over_time.rs`).

use super::*;

/// Lost sessions by strategy, stacked by cause, as a percentage of the requests that needed a
/// session; whiskers are the interval of the total (`lost_session_pct`). Causes no strategy
/// lost anything to are left out (the first is kept when nothing was lost at all, so the chart
/// shows zeros). `None` when no request needed a session.
pub(crate) fn lost_sessions(summary: &[SummaryRow]) -> Option<ChartSpec> {
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

/// The layers of [`backend_work`], bottom first.
pub(crate) const WORK_LAYERS: [&str; 3] = [
    "the users' own requests",
    "re-logins after a lost session",
    "retries (further attempts)",
];

/// The work the backends did by strategy, stacked: the users' own requests (`user_requests`),
/// the re-logins a lost session forced (`relogins`) and the balancer's further attempts
/// (`retries`), means over replications; whiskers: the interval of the total. The extra on top
/// of the first layer is `extra_backend_pct` of it. `None` for a folder without
/// `user_requests` (an older sessim) or without requests.
pub(crate) fn backend_work(summary: &[SummaryRow]) -> Option<ChartSpec> {
    if col::user_requests.absent_in(summary) || summary.iter().all(|r| r.requests == 0) {
        return None;
    }
    let names = strategies(summary);
    let parts: [fn(&SummaryRow) -> f64; 3] = [|r| r.user_requests as f64, |r| r.relogins as f64, |r| r.retries as f64];
    let of = |s: &str, f: &dyn Fn(&SummaryRow) -> f64| -> Estimate {
        estimate(&summary.iter().filter(|r| r.strategy == s).map(f).collect::<Vec<f64>>())
    };
    let layers = WORK_LAYERS
        .iter()
        .zip(parts)
        .map(|(name, f)| Series {
            name: name.to_string(),
            values: names.iter().map(|s| of(s, &f).mean).collect(),
            ci: None,
        })
        .collect();
    let totals: Vec<Estimate> = names
        .iter()
        .map(|s| of(s, &|r| parts.iter().map(|f| f(r)).sum()))
        .collect();
    Some(ChartSpec {
        stem: "backend_work".into(),
        colours: ColourKey::Work,
        caption: "What the backends served after the warm-up: the users' own requests, and on top the extra work the \
                  strategy caused (re-logins after lost sessions, and the balancer's retries); the table's extra backend \
                  work is the top two parts as a % of the bottom one. Whiskers: 95% confidence interval of the total."
            .into(),
        chart: StackedBars {
            title: "Backend work by strategy: the users' requests and the extra".into(),
            x_label: "strategy".into(),
            y_label: "requests and attempts after the warm-up [requests]".into(),
            categories: names,
            layers,
            total_ci: cis(&totals),
        }
        .into(),
    })
}

/// Backends in the order of their index in `backends.csv`.
pub(super) fn backends(rows: &[crate::metrics::BackendRow]) -> Vec<String> {
    let mut idx: Vec<(u32, String)> = Vec::new();
    for r in rows {
        if !idx.iter().any(|(_, b)| b == &r.backend) {
            idx.push((r.backend_index, r.backend.clone()));
        }
    }
    idx.sort_by_key(|(i, _)| *i);
    idx.into_iter().map(|(_, b)| b).collect()
}

/// The name of the `k`-th busiest backend (from 0) of `n`: "busiest (max/mean)", "2nd", ...,
/// "least busy".
pub(crate) fn rank_name(k: usize, n: usize) -> String {
    match k + 1 {
        1 => "busiest (max/mean)".into(),
        r if r == n => "least busy".into(),
        r => {
            let suffix = match (r % 10, r % 100) {
                (1, x) if x != 11 => "st",
                (2, x) if x != 12 => "nd",
                (3, x) if x != 13 => "rd",
                _ => "th",
            };
            format!("{r}{suffix}")
        }
    }
}

/// Each backend's load over the mean load of the backends (1 = its fair share), ranked in each
/// replication (busiest first: its share is that replication's max/mean), one bar per strategy
/// in each rank's group, the mean over replications with its interval. Ranked, not by name:
/// which backend is the busiest differs between replications (a NAT address hashes elsewhere
/// under another seed), so a mean by name would average a 1.85 and three 0.7s into four 1s.
/// The mean is over the backends that served any request in the replication, so that a
/// `backup` server left idle or a backend down for the whole run does not make the others look
/// busy (an idle one ranks last with share 0). Counts are not shown: re-logins inflate them for a
/// strategy that loses sessions. `None` without `backends.csv` rows.
pub(crate) fn requests_per_backend(t: &RunTables) -> Option<ChartSpec> {
    if t.backends.is_empty() {
        return None;
    }
    let names = strategies(&t.summary);
    let n = backends(&t.backends).len();
    let series: Vec<Series> = names
        .iter()
        .map(|s| {
            let mine: Vec<&crate::metrics::BackendRow> = t.backends.iter().filter(|r| &r.strategy == s).collect();
            let mut reps: Vec<u32> = mine.iter().map(|r| r.replication).collect();
            reps.sort_unstable();
            reps.dedup();
            // Per replication, the shares in decreasing order.
            let ranked: Vec<Vec<f64>> = reps
                .iter()
                .filter_map(|rep| {
                    let v: Vec<f64> = mine
                        .iter()
                        .filter(|r| r.replication == *rep)
                        .map(|r| r.requests as f64)
                        .collect();
                    let serving: Vec<f64> = v.iter().copied().filter(|x| *x > 0.0).collect();
                    let m = mean_or_nan(&serving);
                    (m > 0.0).then(|| {
                        let mut shares: Vec<f64> = v.iter().map(|x| x / m).collect();
                        shares.sort_by(|a, b| b.total_cmp(a));
                        shares
                    })
                })
                .collect();
            let e: Vec<Estimate> = (0..n)
                .map(|k| estimate(&ranked.iter().filter_map(|r| r.get(k).copied()).collect::<Vec<f64>>()))
                .collect();
            Series {
                name: s.clone(),
                values: e.iter().map(|e| if e.n == 0 { f64::NAN } else { e.mean }).collect(),
                ci: cis(&e),
            }
        })
        .collect();
    Some(ChartSpec {
        stem: "requests_per_backend".into(),
        colours: ColourKey::Strategies,
        caption: "Each backend's requests after the warm-up over the mean of the backends that served any (1 = its \
                  fair share, dashed), ranked in each replication, busiest first: the first group is the max/mean. \
                  Mean over replications with its 95% CI. Shares, not counts: re-logins inflate the counts of a \
                  strategy that loses sessions."
            .into(),
        chart: BarGroups {
            title: "Load per backend over the mean, busiest first".into(),
            x_label: "backends, ranked by load in each replication".into(),
            y_label: "requests over the mean of the backends (1 = fair share)".into(),
            categories: (0..n).map(|k| rank_name(k, n)).collect(),
            series,
            reference: vec![Threshold {
                y: 1.0,
                label: "dashed line: fair share (1)".into(),
            }],
        }
        .into(),
    })
}

/// The coefficient of variation of requests per backend, by strategy.
pub(crate) fn imbalance(summary: &[SummaryRow]) -> ChartSpec {
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
            y_label: "requests per backend: sd / mean (0 = even)".into(),
            categories: names,
            values: e.iter().map(|e| e.mean).collect(),
            ci: cis(&e),
        }
        .into(),
    }
}

/// p50, p95 and p99 response time by strategy (means over replications, with intervals).
pub(crate) fn latency_percentiles(summary: &[SummaryRow]) -> ChartSpec {
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

/// Every chart of a run folder, in the order the report shows them.
pub(crate) fn run_charts(t: &RunTables) -> Vec<ChartSpec> {
    let mut out = Vec::new();
    out.extend(lost_sessions(&t.summary));
    out.extend(backend_work(&t.summary));
    out.extend(requests_per_backend(t));
    out.push(imbalance(&t.summary));
    out.push(latency_percentiles(&t.summary));
    out.extend(latency_over_time(t));
    out.extend(imbalance_over_time(t));
    out.extend(errors_and_losses_over_time(t));
    out
}

// ---------------------------------------------------------------------------------------------
// Sweeps
