//! Plain-language verdicts generated from the numbers: per metric, who did best and worst, and
//! whether the 95% confidence intervals support the difference at all. The rule is deliberately
//! conservative: two strategies are called different only when their intervals do not overlap;
//! otherwise they are "indistinguishable". With one replication there is no interval and no
//! difference is claimed.

use super::input::{RunTables, SweepTables};
use super::series::{self, KNEE_UTILISATION, Slice, fmt_num, metric_estimate, strategies};
use crate::metrics::loss::LostCause;
use crate::metrics::stats::Estimate;
use crate::metrics::{Column, FaultRow, SummaryRow, col};

/// The service targets the sweep verdict (and the notebook) judge capacity by.
pub(crate) const TARGET_P99_MS: f64 = 300.0;
pub(crate) const TARGET_LOST_PCT: f64 = 0.1;

/// One verdict: the metric it is about and a sentence or two.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Verdict {
    pub(crate) metric: String,
    pub(crate) text: String,
}

/// `x ± h` with `decimals`, or just `x` without an interval.
pub(crate) fn fmt_est(e: &Estimate, decimals: usize) -> String {
    if e.n == 0 || !e.mean.is_finite() {
        "n/a".into()
    } else if e.ci95.is_finite() {
        format!("{:.*} ± {:.*}", decimals, e.mean, decimals, e.ci95)
    } else {
        format!("{:.*}", decimals, e.mean)
    }
}

fn overlap(a: &Estimate, b: &Estimate) -> bool {
    (a.mean - b.mean).abs() <= a.ci95 + b.ci95
}

/// Best, worst and ties of `items` for one metric (lower is better unless `higher_better`).
pub(crate) fn compare(items: &[(String, Estimate)], higher_better: bool, decimals: usize, unit: &str) -> String {
    let items: Vec<&(String, Estimate)> = items.iter().filter(|(_, e)| e.n > 0 && e.mean.is_finite()).collect();
    if items.is_empty() {
        return "no data.".into();
    }
    let show = |(n, e): &(String, Estimate)| format!("{n} {}{unit}", fmt_est(e, decimals));
    if items.len() == 1 {
        return format!("{}.", show(items[0]));
    }
    if items.iter().any(|(_, e)| !e.ci95.is_finite()) {
        let all: Vec<String> = items.iter().map(|i| show(i)).collect();
        return format!(
            "{}. One replication: no confidence interval, so no difference is claimed.",
            all.join("; ")
        );
    }
    if items.iter().all(|(_, e)| e.mean == 0.0 && e.ci95 == 0.0) {
        return "0 for every strategy.".into();
    }
    let mut sorted = items.clone();
    sorted.sort_by(|a, b| {
        let o = a.1.mean.total_cmp(&b.1.mean);
        if higher_better { o.reverse() } else { o }
    });
    let best = sorted[0];
    let worst = sorted[sorted.len() - 1];
    if overlap(&best.1, &worst.1) {
        let all: Vec<String> = sorted.iter().map(|i| show(i)).collect();
        return format!(
            "indistinguishable: the 95% confidence intervals overlap ({}).",
            all.join("; ")
        );
    }
    let tied: Vec<&str> = sorted[1..]
        .iter()
        .filter(|(_, e)| overlap(&best.1, e))
        .map(|(n, _)| n.as_str())
        .collect();
    let mut text = format!("best: {}", show(best));
    if !tied.is_empty() {
        text.push_str(&format!(", indistinguishable from {}", tied.join(", ")));
    }
    text.push_str(&format!("; worst: {}.", show(worst)));
    text
}

/// "web2 crashed", "web3's application went down", ...
fn fault_phrase(f: &FaultRow) -> String {
    match f.kind.as_str() {
        "crash" => format!("{} crashed", f.target),
        "app_down" => format!("{}'s application went down", f.target),
        "drain" => format!("{} was drained", f.target),
        "slow" => format!("{} slowed down", f.target),
        k => format!("{} had a {k}", f.target),
    }
}

/// The distinct faults of the first replication of the first strategy with faults.
fn faults_phrase(t: &RunTables) -> Option<String> {
    let first = t.faults.first()?;
    let mut phrases: Vec<String> = Vec::new();
    for f in t
        .faults
        .iter()
        .filter(|f| f.strategy == first.strategy && f.replication == first.replication)
    {
        let p = fault_phrase(f);
        if !phrases.contains(&p) {
            phrases.push(p);
        }
    }
    let more = phrases.len() > 3;
    phrases.truncate(3);
    Some(format!("{}{}", phrases.join(", "), if more { ", ..." } else { "" }))
}

fn lost_sentence(t: &RunTables, s: &str) -> String {
    let rows: Vec<&SummaryRow> = t.summary.iter().filter(|r| r.strategy == s).collect();
    if rows.iter().all(|r| r.sessions_lost == 0) {
        return format!("{s} lost no sessions");
    }
    let e = metric_estimate(&t.summary, s, col::lost_session_pct);
    let top = LostCause::ALL
        .into_iter()
        .map(|c| (rows.iter().map(|r| r.lost(c) as f64).sum::<f64>(), c))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let why = match (top, faults_phrase(t)) {
        (Some((_, LostCause::NodeFailure | LostCause::StoreFailure)), Some(f)) => format!(", mostly when {f}"),
        (Some((_, cause)), _) => format!(", mostly {}", cause.legend()),
        (None, _) => String::new(),
    };
    format!(
        "{s} lost {}% of its session requests{why}{}",
        fmt_est(&e, 2),
        store_refusals(t, s).unwrap_or_default()
    )
}

/// Why a store refused operations, from `stores.csv`: workers refused a connection at the
/// server's limit ("286000 store operations refused: 6384 backend workers found redis1 at its
/// connection limit of 10000").
fn store_refusals(t: &RunTables, s: &str) -> Option<String> {
    let reps = t.summary.iter().filter(|r| r.strategy == s).count().max(1) as f64;
    let rejected: u64 = t
        .summary
        .iter()
        .filter(|r| r.strategy == s)
        .map(|r| r.store_rejected)
        .sum();
    let rows: Vec<&crate::metrics::StoreRow> = t.stores.iter().filter(|r| r.strategy == s).collect();
    let refused: u64 = rows.iter().map(|r| r.refused_connections).sum();
    if rejected == 0 {
        return None;
    }
    let mut text = format!(
        " ({} store operations refused per replication",
        fmt_num((rejected as f64 / reps).round())
    );
    if refused > 0 {
        let busiest = rows.iter().max_by_key(|r| r.refused_connections)?;
        text.push_str(&format!(
            ": {} backend workers per replication were refused a connection, {} holding {} connections, its limit",
            fmt_num((refused as f64 / reps).round()),
            busiest.server,
            busiest.connections
        ));
    }
    text.push(')');
    Some(text)
}

fn metric_items(summary: &[SummaryRow], names: &[String], metric: Column) -> Vec<(String, Estimate)> {
    names
        .iter()
        .map(|s| (s.clone(), metric_estimate(summary, s, metric)))
        .collect()
}

/// The verdicts of a run folder.
pub(crate) fn run_verdicts(t: &RunTables) -> Vec<Verdict> {
    let names = strategies(&t.summary);
    let s = &t.summary;
    let mut out = Vec::new();
    let lost: Vec<String> = names.iter().map(|n| lost_sentence(t, n)).collect();
    out.push(Verdict {
        metric: "Lost sessions".into(),
        text: format!(
            "{}{}. Fewest lost: {}",
            faults_phrase(t)
                .map(|f| format!("During the run {f}. "))
                .unwrap_or_default(),
            lost.join("; "),
            compare(&metric_items(s, &names, col::lost_session_pct), false, 2, "%")
        ),
    });
    out.push(Verdict {
        metric: "Imbalance".into(),
        text: format!(
            "Coefficient of variation of requests per backend (0 = perfectly even): {}",
            compare(&metric_items(s, &names, col::imbalance_cov), false, 3, "")
        ),
    });
    out.push(Verdict {
        metric: "Latency".into(),
        text: format!(
            "p99 response time: {}",
            compare(&metric_items(s, &names, col::latency_p99_ms), false, 1, " ms")
        ),
    });
    out.push(Verdict {
        metric: "Errors".into(),
        text: format!(
            "Requests that failed: {}",
            compare(&metric_items(s, &names, col::errors), false, 0, "")
        ),
    });
    if s.iter().any(|r| r.store_ops > 0) {
        let with: Vec<String> = names
            .iter()
            .filter(|n| s.iter().any(|r| &&r.strategy == n && r.store_ops > 0))
            .cloned()
            .collect();
        out.push(Verdict {
            metric: "Store".into(),
            text: format!(
                "Utilisation of the busiest store server (saturated near {KNEE_UTILISATION}): {}",
                compare(&metric_items(s, &with, col::store_utilization), false, 3, "")
            ),
        });
    }
    if s.iter().any(|r| r.replication_msgs > 0) {
        let with: Vec<String> = names
            .iter()
            .filter(|n| s.iter().any(|r| &&r.strategy == n && r.replication_msgs > 0))
            .cloned()
            .collect();
        out.push(Verdict {
            metric: "Replication".into(),
            text: format!(
                "Replication messages between nodes: {}",
                compare(&metric_items(s, &with, col::replication_msgs), false, 0, "")
            ),
        });
    }
    if let Some(v) = cost_verdict(s, &names) {
        out.push(v);
    }
    out
}

/// Cost per hour, when the scenario has prices: the strategies that meet the targets (p99 <
/// [`TARGET_P99_MS`] and lost sessions < [`TARGET_LOST_PCT`]%, each judged by the upper end of
/// its 95% interval) ranked by mean cost, cheapest first, then those that miss them.
pub(crate) fn cost_verdict(s: &[SummaryRow], names: &[String]) -> Option<Verdict> {
    if !s.iter().any(|r| r.cost_total_per_h > 0.0) {
        return None;
    }
    let upper = |e: &Estimate| e.mean + if e.ci95.is_finite() { e.ci95 } else { 0.0 };
    let mut meet: Vec<(f64, String)> = Vec::new();
    let mut miss: Vec<String> = Vec::new();
    for n in names {
        let cost = metric_estimate(s, n, col::cost_total_per_h);
        let p99 = metric_estimate(s, n, col::latency_p99_ms);
        let lost = metric_estimate(s, n, col::lost_session_pct);
        let text = format!("{n} {}/h", fmt_est(&cost, 3));
        if upper(&p99) < TARGET_P99_MS && upper(&lost) < TARGET_LOST_PCT {
            meet.push((cost.mean, text));
        } else {
            miss.push(text);
        }
    }
    meet.sort_by(|a, b| a.0.total_cmp(&b.0));
    let ranked: Vec<String> = meet.into_iter().map(|(_, t)| t).collect();
    let mut text = format!(
        "Cost per hour (cost_total_per_h: backends, store servers, network, lost sessions). Meeting p99 < \
         {TARGET_P99_MS} ms and lost sessions < {TARGET_LOST_PCT}% (upper end of the 95% interval), cheapest \
         first: {}.",
        if ranked.is_empty() {
            "none".to_string()
        } else {
            ranked.join("; ")
        }
    );
    if !miss.is_empty() {
        text.push_str(&format!(" Missing a target: {}.", miss.join("; ")));
    }
    text.push_str(" `sessim plan` finds each strategy's cheapest sufficient configuration.");
    Some(Verdict {
        metric: "Cost".into(),
        text,
    })
}

/// The verdicts of a sweep folder: saturation knees, the load at which each strategy breaks
/// the targets (p99 < [`TARGET_P99_MS`] and lost sessions < [`TARGET_LOST_PCT`]%, judged by the
/// upper end of the 95% interval), and the comparison at the highest swept value.
pub(crate) fn sweep_verdicts(t: &SweepTables) -> Vec<Verdict> {
    let Some(slices) = series::slices(t) else {
        return vec![Verdict {
            metric: "Sweep".into(),
            text: "No numeric axis: nothing to draw along, see sweep.csv.".into(),
        }];
    };
    let names = series::sweep_strategies(t);
    let mut out = Vec::new();
    for slice in &slices {
        let key = &t.axes[slice.axis];
        let at = if slice.fixed.is_empty() {
            String::new()
        } else {
            format!(" ({})", slice.fixed.join(", "))
        };
        out.push(Verdict {
            metric: format!("Saturation{at}"),
            text: knees(t, slice, &names, key, "backends", |r| r.backend_utilization),
        });
        if t.rows.iter().any(|r| r.summary.store_ops > 0) {
            let with: Vec<String> = names
                .iter()
                .filter(|n| {
                    t.rows
                        .iter()
                        .any(|r| &&r.summary.strategy == n && r.summary.store_ops > 0)
                })
                .cloned()
                .collect();
            out.push(Verdict {
                metric: format!("Store saturation{at}"),
                text: knees(t, slice, &with, key, "the busiest store server", |r| {
                    r.store_utilization
                }),
            });
        }
        out.push(Verdict {
            metric: format!("Capacity{at}"),
            text: capacity(t, slice, &names, key),
        });
        if let Some((x, p)) = slice.points.last() {
            let items = |f: &dyn Fn(&SummaryRow) -> f64| -> Vec<(String, Estimate)> {
                names
                    .iter()
                    .map(|s| {
                        let v: Vec<f64> = t
                            .rows
                            .iter()
                            .filter(|r| r.point == *p && &r.summary.strategy == s)
                            .map(|r| f(&r.summary))
                            .collect();
                        (s.clone(), crate::metrics::stats::estimate(&v))
                    })
                    .collect()
            };
            out.push(Verdict {
                metric: format!("At the highest {key}{at}"),
                text: format!(
                    "At {key} = {}: p99 response time {} Lost sessions: {}",
                    fmt_num(*x),
                    compare(&items(&|r| r.latency_p99_ms), false, 1, " ms"),
                    compare(&items(&|r| r.lost_session_pct), false, 2, "%")
                ),
            });
            let here: Vec<SummaryRow> = t
                .rows
                .iter()
                .filter(|r| r.point == *p)
                .map(|r| r.summary.clone())
                .collect();
            if let Some(v) = cost_verdict(&here, &names) {
                out.push(Verdict {
                    metric: format!("Cost at the highest {key}{at}"),
                    text: format!("At {key} = {}: {}", fmt_num(*x), v.text),
                });
            }
        }
    }
    out
}

fn knees(
    t: &SweepTables,
    slice: &Slice,
    names: &[String],
    key: &str,
    what: &str,
    f: impl Fn(&SummaryRow) -> f64 + Copy,
) -> String {
    let max = slice.points.last().map_or(f64::NAN, |p| p.0);
    let parts: Vec<String> = names
        .iter()
        .map(|s| match series::knee(t, slice, s, f) {
            Some(x) => format!("{s} at {key} = {}", fmt_num(x)),
            None => format!("{s} not up to {}", fmt_num(max)),
        })
        .collect();
    format!(
        "The first {key} at which {what} reach a mean utilisation of {KNEE_UTILISATION} (the knee): {}.",
        parts.join("; ")
    )
}

/// "meets the targets up to X, breaks them at Y" per strategy.
fn capacity(t: &SweepTables, slice: &Slice, names: &[String], key: &str) -> String {
    let parts: Vec<String> = names
        .iter()
        .map(|s| {
            let p99 = series::along(t, slice, s, |r| r.latency_p99_ms);
            let lost = series::along(t, slice, s, |r| r.lost_session_pct);
            let upper = |e: &Estimate| e.mean + if e.ci95.is_finite() { e.ci95 } else { 0.0 };
            let ok: Vec<bool> = p99
                .iter()
                .zip(&lost)
                .map(|(a, b)| a.n > 0 && upper(a) < TARGET_P99_MS && upper(b) < TARGET_LOST_PCT)
                .collect();
            match ok.iter().position(|m| !m) {
                None => format!(
                    "{s} meets them at every {key} up to {}",
                    fmt_num(slice.points.last().map_or(0.0, |p| p.0))
                ),
                Some(0) => format!("{s} misses them already at {}", fmt_num(slice.points[0].0)),
                Some(i) => format!(
                    "{s} meets them up to {} and breaks them at {}",
                    fmt_num(slice.points[i - 1].0),
                    fmt_num(slice.points[i].0)
                ),
            }
        })
        .collect();
    format!(
        "Targets p99 < {TARGET_P99_MS} ms and lost sessions < {TARGET_LOST_PCT}% (upper end of the 95% interval): {}.",
        parts.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::stats::estimate;

    fn e(v: &[f64]) -> Estimate {
        estimate(v)
    }

    #[test]
    fn overlapping_intervals_are_indistinguishable() {
        // a: 10 ± 12.7 (t(1) * 1 / 1), b: 11 ± 12.7: overlap.
        let items = vec![("a".to_string(), e(&[9.0, 11.0])), ("b".to_string(), e(&[10.0, 12.0]))];
        assert_eq!(
            compare(&items, false, 1, " ms"),
            "indistinguishable: the 95% confidence intervals overlap (a 10.0 ± 12.7 ms; b 11.0 ± 12.7 ms)."
        );
    }

    #[test]
    fn separated_intervals_name_best_worst_and_ties() {
        // a 1 ± 0.0, b 1.05 ± 0.635, c 50 ± 0.0: b's interval reaches a's; c is apart.
        let items = vec![
            ("c".to_string(), e(&[50.0, 50.0])),
            ("a".to_string(), e(&[1.0, 1.0])),
            ("b".to_string(), e(&[1.0, 1.1])),
        ];
        assert_eq!(
            compare(&items, false, 2, "%"),
            "best: a 1.00 ± 0.00%, indistinguishable from b; worst: c 50.00 ± 0.00%."
        );
    }

    #[test]
    fn one_replication_claims_nothing() {
        let items = vec![("a".to_string(), e(&[1.0])), ("b".to_string(), e(&[5.0]))];
        assert_eq!(
            compare(&items, false, 0, ""),
            "a 1; b 5. One replication: no confidence interval, so no difference is claimed."
        );
    }

    #[test]
    fn refused_store_operations_are_explained_by_the_connection_limit() {
        // Two replications refusing 280000 and 292000 operations: 286000 per replication; the
        // workers refused 6384 and 6384 times at redis1 holding 10000 connections.
        let row = |rep: u32, rejected: u64| SummaryRow {
            strategy: "redis".into(),
            replication: rep,
            session_requests: 1000,
            sessions_lost: 500,
            lost_store_failure: 500,
            lost_session_pct: 50.0,
            store_ops: 1,
            store_rejected: rejected,
            ..SummaryRow::default()
        };
        let store = |rep: u32| crate::metrics::StoreRow {
            strategy: "redis".into(),
            replication: rep,
            server: "redis1".into(),
            connections: 10000,
            refused_connections: 6384,
            ..Default::default()
        };
        let t = RunTables {
            summary: vec![row(0, 280_000), row(1, 292_000)],
            stores: vec![store(0), store(1)],
            ..RunTables::default()
        };
        assert_eq!(
            lost_sentence(&t, "redis"),
            "redis lost 50.00 ± 0.00% of its session requests, mostly store failed (286000 store operations refused per \
             replication: 6384 backend workers per replication were refused a connection, redis1 holding 10000 connections, \
             its limit)"
        );
    }

    #[test]
    fn lost_sessions_say_who_lost_nothing_and_why_the_others_lost() {
        let row = |s: &str, rep: u32, lost: u64| SummaryRow {
            scenario: "x".into(),
            strategy: s.into(),
            replication: rep,
            session_requests: 1000,
            sessions_lost: lost,
            lost_node_failure: lost,
            lost_session_pct: lost as f64 / 10.0,
            ..SummaryRow::default()
        };
        let t = RunTables {
            summary: vec![
                row("ip_hash", 0, 40),
                row("ip_hash", 1, 42),
                row("redis", 0, 0),
                row("redis", 1, 0),
            ],
            faults: vec![FaultRow {
                strategy: "ip_hash".into(),
                kind: "crash".into(),
                target: "web2".into(),
                ..FaultRow::default()
            }],
            ..RunTables::default()
        };
        let v = run_verdicts(&t);
        assert_eq!(
            v[0].text,
            "During the run web2 crashed. ip_hash lost 4.10 ± 1.27% of its session requests, mostly when web2 crashed; redis lost no sessions. \
             Fewest lost: best: redis 0.00 ± 0.00%; worst: ip_hash 4.10 ± 1.27%."
        );
    }

    #[test]
    fn the_cost_verdict_ranks_the_strategies_meeting_the_targets_by_cost() {
        // Three replications each. a: cost 2, p99 200, no loss -> meets. b: cost 1, p99 200,
        // no loss -> meets and is cheaper. c: cost 0.5 but p99 400 -> misses p99 < 300.
        let mk = |st: &str, cost: f64, p99: f64, rep: u32| SummaryRow {
            strategy: st.into(),
            replication: rep,
            cost_total_per_h: cost,
            latency_p99_ms: p99,
            ..SummaryRow::default()
        };
        let rows: Vec<SummaryRow> = (0..3)
            .flat_map(|r| [mk("a", 2.0, 200.0, r), mk("b", 1.0, 200.0, r), mk("c", 0.5, 400.0, r)])
            .collect();
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let v = cost_verdict(&rows, &names).unwrap().text;
        assert!(
            v.contains("cheapest first: b 1.000 ± 0.000/h; a 2.000 ± 0.000/h."),
            "{v}"
        );
        assert!(v.contains("Missing a target: c 0.500 ± 0.000/h."), "{v}");
        let free: Vec<SummaryRow> = rows
            .iter()
            .map(|r| SummaryRow {
                cost_total_per_h: 0.0,
                ..r.clone()
            })
            .collect();
        assert!(cost_verdict(&free, &names).is_none(), "no prices, no cost verdict");
    }
}
