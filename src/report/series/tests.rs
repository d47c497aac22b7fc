//! Snapshot and unit tests of the chart data.

use super::*;
use crate::metrics::{BackendRow, FaultRow};

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
    let spec = requests_per_backend(&t).unwrap();
    let Chart::Grouped(c) = &spec.chart else {
        panic!("grouped bars")
    };
    assert_eq!(c.categories, ["busiest (max/mean)", "least busy"]);
    // ip_hash, replication 0: web1 100, web2 300, mean 200: shares 1.5 and 0.5 busiest first;
    // replication 1: 320 and 120 over 220: 1.4545 and 0.5455. Means 1.4773 and 0.5227.
    let ip = &c.series[0].values;
    assert!((ip[0] - (1.5 + 320.0 / 220.0) / 2.0).abs() < 1e-12, "{ip:?}");
    assert!((ip[1] - (0.5 + 120.0 / 220.0) / 2.0).abs() < 1e-12, "{ip:?}");
    // cookie+redis: 1 and 1, then 210/200 and 190/200: busiest 1.025, least 0.975.
    let ck = &c.series[1].values;
    assert!((ck[0] - 1.025).abs() < 1e-12 && (ck[1] - 0.975).abs() < 1e-12, "{ck:?}");
    // The fair share is drawn.
    assert_eq!(c.reference[0].y, 1.0);
    insta::assert_debug_snapshot!(spec.chart);
}

#[test]
fn load_shares_ignore_backends_that_served_nothing() {
    // A backup server that never served (0 requests) beside two that served 100 and 300:
    // the mean is 200 (not 133), so the shares are 0.5 and 1.5 and the backup's is 0.
    let b = |i: u32, n: u64| BackendRow {
        strategy: "haproxy".into(),
        backend_index: i,
        backend: format!("web{}", i + 1),
        requests: n,
        ..BackendRow::default()
    };
    let t = RunTables {
        summary: vec![row("haproxy", 0, |_| {})],
        backends: vec![b(0, 100), b(1, 300), b(2, 0)],
        ..RunTables::default()
    };
    let Chart::Grouped(c) = requests_per_backend(&t).unwrap().chart else {
        panic!("grouped bars")
    };
    assert_eq!(c.series[0].values, [1.5, 0.5, 0.0]);
}

#[test]
fn a_busiest_backend_that_moves_between_replications_is_not_averaged_away() {
    // ip-hash-nat's pattern: one backend takes 1.8 of the mean, but which one depends on the
    // replication. By name, each backend would average (1.8 + 0.73 + ...) / 2; ranked, the
    // busiest stays 1.8 in both replications. Shares: 180/100 and 73.3/100 x 3 (mean 100).
    let b = |rep: u32, i: u32, n: u64| BackendRow {
        strategy: "ip_hash".into(),
        replication: rep,
        backend_index: i,
        backend: format!("web{}", i + 1),
        requests: n,
        ..BackendRow::default()
    };
    let mut backends = Vec::new();
    for i in 0..4 {
        backends.push(b(0, i, if i == 0 { 1800 } else { 733 }));
        backends.push(b(1, i, if i == 3 { 1800 } else { 733 }));
    }
    let t = RunTables {
        summary: vec![row("ip_hash", 0, |_| {})],
        backends,
        ..RunTables::default()
    };
    let Chart::Grouped(c) = requests_per_backend(&t).unwrap().chart else {
        panic!("grouped bars")
    };
    // Mean of 1800, 733, 733, 733 = 999.75: 1800 / 999.75 = 1.8005 in both replications.
    assert!((c.series[0].values[0] - 1800.0 / 999.75).abs() < 1e-12);
    assert_eq!(c.series[0].ci.as_ref().unwrap()[0], 0.0);
    assert_eq!(c.categories, ["busiest (max/mean)", "2nd", "3rd", "least busy"]);
    assert_eq!(rank_name(10, 20), "11th");
    assert_eq!(rank_name(21, 30), "22nd");
}

#[test]
fn backend_work_stacks_the_users_requests_and_the_extra() {
    let s = vec![
        row("round-robin", 0, |r| {
            r.requests = 1700;
            r.user_requests = 1000;
            r.relogins = 700;
            r.retries = 20;
        }),
        row("round-robin", 1, |r| {
            r.requests = 1720;
            r.user_requests = 1010;
            r.relogins = 710;
            r.retries = 30;
        }),
        row("ip_hash", 0, |r| {
            r.requests = 1000;
            r.user_requests = 1000;
        }),
        row("ip_hash", 1, |r| {
            r.requests = 1010;
            r.user_requests = 1010;
        }),
    ];
    let spec = backend_work(&s).unwrap();
    assert_eq!(spec.colours, ColourKey::Work);
    let Chart::Stacked(c) = &spec.chart else {
        panic!("stacked bars")
    };
    let layer = |k: usize| c.layers[k].values.clone();
    // Means: users' own 1005 for both; re-logins 705 and 0; retries 25 and 0.
    assert_eq!(layer(0), [1005.0, 1005.0]);
    assert_eq!(layer(1), [705.0, 0.0]);
    assert_eq!(layer(2), [25.0, 0.0]);
    // Totals 1000 + 700 + 20 = 1720 and 1010 + 710 + 30 = 1750 for round-robin: sd
    // 30 / sqrt(2), half-width t(1) 12.7062 x sd / sqrt(2) = 12.7062 x 15 = 190.59.
    let ci = c.total_ci.as_ref().unwrap();
    assert!((ci[0] - 12.706_204_736 * 15.0).abs() < 1e-6, "{ci:?}");
    // A folder without the column (an older sessim) draws no such chart.
    let mut old = s.clone();
    for r in &mut old {
        r.absent.push("user_requests");
    }
    assert!(backend_work(&old).is_none());
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
fn imbalance_over_time_is_the_busiest_backend_over_the_mean_per_bucket() {
    let charts = imbalance_over_time(&over_time());
    assert_eq!(charts.len(), 1);
    assert_eq!(charts[0].stem, "imbalance_over_time");
    let Chart::TimeSeries(c) = &charts[0].chart else {
        panic!("a time series")
    };
    // One line per strategy, replication 0, at the 10 s buckets' middles.
    assert_eq!(c.series.len(), 2);
    assert_eq!(c.series[0].x, [5.0, 15.0, 25.0]);
    // ip_hash replication 0: web1 10, 11, 12; web2 9, 0, 9. Bucket 0: 10 / 9.5; bucket 1:
    // web2 served nothing (crashed), so the mean is web1's alone: 11 / 11 = 1; bucket 2:
    // 12 / 10.5.
    assert_eq!(c.series[0].y, [10.0 / 9.5, 1.0, 12.0 / 10.5]);
    // The faults until recovery, as on the errors chart: ip_hash's 10..20 s, cookie+redis's
    // never recovered, to the end of the last bucket, 20 + 10 = 30 s.
    assert_eq!(c.bands.len(), 2);
    assert_eq!((c.bands[0].start, c.bands[0].end, c.bands[1].end), (10.0, 20.0, 30.0));
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
fn a_users_per_second_sweep_is_drawn_against_the_offered_load() {
    let mut t = sweep();
    // Each point offers 5 requests/s per user/s, 800 of 1000 of them the users' own (the
    // rest re-logins): the users' own rate is 10 x 5 x 0.8 = 40, then 80 and 160 requests/s.
    for r in &mut t.rows {
        let load: f64 = r.axes[0].parse().unwrap();
        r.summary.offered_rps = load * 5.0;
        r.summary.user_requests = 800;
    }
    let slice = &slices(&t).unwrap()[0];
    let x = x_axis(&t, slice);
    assert_eq!(x.label, "offered load [requests/s]");
    assert_eq!(
        x.slice.points.iter().map(|p| p.0).collect::<Vec<_>>(),
        [40.0, 80.0, 160.0]
    );
    let charts = sweep_charts(&t);
    let Chart::Line(c) = &charts[0].chart else {
        panic!("a line chart")
    };
    assert_eq!(c.x_label, "offered load [requests/s]");
    assert_eq!(c.title, "p99 response time against offered load");
    // The knee of "a" (0.95 busy at the third point) sits at its offered load, 160.
    assert_eq!(c.markers[0].x, 160.0);
    // The p99 chart carries the verdicts' target, 300 ms; the lost sessions chart 0.1%.
    assert_eq!(c.targets[0].y, 300.0);
    let Chart::Line(c) = &charts[1].chart else {
        panic!("a line chart")
    };
    assert_eq!(c.targets[0].y, 0.1);
    // Without the columns (a folder from an older sessim) the axis stays users/s.
    for r in &mut t.rows {
        r.summary.absent.push("offered_rps");
    }
    let x = x_axis(&t, slice);
    assert_eq!(x.label, "arriving users per second [users/s]");
    assert_eq!(
        x.slice.points.iter().map(|p| p.0).collect::<Vec<_>>(),
        [10.0, 20.0, 40.0]
    );
}

#[test]
fn axis_titles_are_words_not_keys() {
    assert_eq!(
        axis_label("workload.users_per_second"),
        "arriving users per second [users/s]"
    );
    assert_eq!(axis_label("backends.count"), "number of backends [backends]");
    assert_eq!(axis_label("backends.workers"), "workers per backend [workers]");
    // An unknown key: its last part in words, without an index.
    assert_eq!(axis_label("backends.servers[0].weight"), "weight");
    assert_eq!(axis_label("balancer.max_fails"), "max fails");
}

#[test]
fn a_non_numeric_axis_draws_no_sweep_chart() {
    let mut t = sweep();
    for r in &mut t.rows {
        r.axes[0] = "round_robin".into();
    }
    assert!(sweep_charts(&t).is_empty());
}
