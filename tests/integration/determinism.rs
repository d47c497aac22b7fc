//! Same scenario and seed: the same bytes, on every run and for every thread count; compared
//! strategies see the same users.

use crate::common::{repo, scenario, sessim};
use sessim::runner::run_all;
use std::fs;

/// Every file of a result folder, charts included (`charts/NAME`), with its bytes.
fn outputs(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if e.file_type().unwrap().is_dir() {
            for (inner, bytes) in outputs(&e.path()) {
                v.push((format!("{name}/{inner}"), bytes));
            }
        } else {
            v.push((name, fs::read(e.path()).unwrap()));
        }
    }
    v.sort();
    v
}

#[test]
fn same_seed_same_bytes_for_any_jobs() {
    let d = tempfile::tempdir().unwrap();
    let qs = repo().join("scenarios/quick-start.toml");
    let qs = qs.to_str().unwrap();
    let run = |out: &str, jobs: &str| {
        let o = sessim(
            d.path(),
            &[
                "run",
                qs,
                "--out",
                out,
                "--jobs",
                jobs,
                "--set",
                "duration=\"3m\"",
                "--quiet",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        outputs(&d.path().join(out))
    };
    let a = run("a", "1");
    let b = run("b", "2");
    let c = run("c", "1");
    let top: Vec<&str> = a
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !n.starts_with("charts/"))
        .collect();
    assert_eq!(
        top,
        [
            "backends.csv",
            "faults.csv",
            "report.html",
            "scenario.toml",
            "stores.csv",
            "summary.csv",
            "timeseries.csv"
        ],
        "summary, backends, timeseries, faults, stores, scenario and the report"
    );
    // The charts are part of the same bytes: deterministic too.
    assert!(
        a.iter().any(|(n, _)| n == "charts/lost_sessions.png"),
        "{:?}",
        a.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    assert!(a == b, "--jobs 1 and --jobs 2 differ");
    assert!(a == c, "two runs with the same seed differ");
    let o = sessim(
        d.path(),
        &[
            "run",
            qs,
            "--out",
            "s",
            "--seed",
            "43",
            "--set",
            "duration=\"3m\"",
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(outputs(&d.path().join("s")) != a, "another seed gives other results");
}

#[test]
fn compared_strategies_see_the_same_users() {
    // Users are closed loops (a request follows the previous answer plus a think time), so
    // queueing shifts their later requests. With ample workers and a constant service time
    // there is no queueing: every request's latency is its service time whichever backend
    // serves it, so round-robin and random must see identical users, identical requests and
    // identical latencies, replication by replication. A third strategy with other service
    // times sees the same users arriving.
    let sc = scenario(
        r#"
name = "crn"
duration = "2m"
replications = 3
[workload]
users_per_second = 30
login = false
requests = { dist = "geometric", mean = 4 }
think_time = { dist = "exponential", mean = "2s" }
[backends]
count = 3
workers = 1000
service_time = { dist = "uniform", min = "5ms", max = "15ms" }
[[strategy]]
label = "rr"
balancer.policy = "round_robin"
[[strategy]]
label = "random"
balancer.policy = "random"
[[strategy]]
label = "random, slower servers"
balancer.policy = "random"
backends.service_time = { dist = "exponential", mean = "200ms" }
"#,
    );
    let runs = run_all(&sc, 2).unwrap();
    for rep in 0..3 {
        let of = |s: usize| &runs[s * 3 + rep as usize].summary;
        assert_eq!(
            (of(1).users, of(1).requests, of(1).latency_mean_ms, of(1).latency_p99_ms),
            (of(0).users, of(0).requests, of(0).latency_mean_ms, of(0).latency_p99_ms),
            "replication {rep}: round-robin and random saw different users or draws"
        );
        assert_eq!(of(2).users, of(0).users, "replication {rep}");
        assert_ne!(of(2).latency_mean_ms, of(0).latency_mean_ms);
    }
    assert_ne!(
        runs[0].summary.users, runs[1].summary.users,
        "replications differ from each other"
    );
}
