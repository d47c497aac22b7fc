//! The Caddy policy end to end: a Caddyfile imported by `balancer.config` (`sessim check`,
//! errors naming the file and line, exit code 2) and by `sessim replay --balancer Caddyfile`,
//! whose every routing decision is Caddy's `ip_hash`; and Caddy's passive health and retry
//! loop in whole runs (`unhealthy_status` against a web server answering 502,
//! `unhealthy_request_count` with `lb_try_duration`'s 250 ms waits).

use crate::common::{repo, scenario, sessim};
use sessim::balancer::caddy::fnv1a32;
use sessim::runner::run_all;
use std::collections::BTreeMap;
use std::fs;

const CADDYFILE: &str = "{
\tadmin off
}

(health) {
\tfail_duration 30s
\tmax_fails 2
}

:8080 {
\treverse_proxy 127.0.0.1:18121 127.0.0.1:18122 {
\t\tto 127.0.0.1:18123 127.0.0.1:18124
\t\tlb_policy ip_hash
\t\tlb_retries 1
\t\timport health
\t}
}
";

#[test]
fn caddyfile_imports_and_errors_name_the_line() {
    let d = tempfile::tempdir().expect("tempdir");
    fs::write(d.path().join("Caddyfile"), CADDYFILE).expect("write");
    fs::write(
        d.path().join("bad.caddyfile"),
        CADDYFILE.replace("lb_policy ip_hash", "lb_policy weighted_round_robin 3 0"),
    )
    .expect("write");
    let text = |file: &str| {
        format!(
            "name = \"imp\"\nduration = \"20s\"\nwarmup = \"2s\"\n[workload]\nusers_per_second = 2\n\
             requests = 3\nthink_time = \"1s\"\n[balancer]\nconfig = \"{file}\"\n"
        )
    };
    fs::write(d.path().join("ok.toml"), text("Caddyfile")).expect("write");
    fs::write(d.path().join("bad.toml"), text("bad.caddyfile")).expect("write");
    let ok = sessim(d.path(), &["check", "ok.toml"]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(
        out.contains("caddy reverse_proxy (lb_policy ip_hash, lb_retries 1, fail_duration 30s, max_fails 2)")
            || out.contains("(lb_policy ip_hash, lb_retries 1, fail_duration 30s, max_fails 2)"),
        "{out}"
    );
    let bad = sessim(d.path(), &["check", "bad.toml"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    // Line 13 of the file: `lb_policy weighted_round_robin 3 0` (Caddy 2.7's
    // UnmarshalCaddyfile refuses a weight below 1).
    assert!(
        err.contains("bad.caddyfile:13: weighted_round_robin: invalid weight `0`"),
        "{err}"
    );
}

/// The `log_format` of the committed nginx log: combined plus `$upstream_addr`.
const UPSTREAM_FORMAT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $upstream_addr"#;

#[test]
fn replay_through_a_caddyfile_routes_every_line_by_caddys_ip_hash() {
    // The 400 requests of tests/data's nginx log, replayed through Caddy `ip_hash` over the
    // same four addresses: each line must go to the address with the highest FNV-1a 32 of
    // "<client ip><dial address>" (selectionpolicies.go hostByHashing, v2.6.2), computed here.
    replay_routes_by_hash("lb_policy ip_hash", false);
}

#[test]
fn replay_through_a_caddyfile_routes_every_line_by_caddy_2_7_client_ip_hash() {
    // The same log through Caddy 2.7's `client_ip_hash`: client_ip is the remote address (no
    // trusted proxies, no client IP header), hashed by v2.7.6's hostByHashing as
    // "<dial address><client ip>" (selectionpolicies.go ClientIPHashSelection).
    replay_routes_by_hash("lb_policy client_ip_hash", true);
}

/// Replays the nginx log through CADDYFILE with `policy` and checks every line's upstream
/// is the highest FNV-1a 32 of ip + dial (`dial_first`: dial + ip).
fn replay_routes_by_hash(policy: &str, dial_first: bool) {
    let data = repo().join("tests/data");
    let log = data.join("nginx-ip_hash-3111-down.log");
    let d = tempfile::tempdir().expect("tempdir");
    fs::write(
        d.path().join("Caddyfile"),
        CADDYFILE.replace("lb_policy ip_hash", policy),
    )
    .expect("write");
    let o = sessim(
        d.path(),
        &[
            "replay",
            log.to_str().expect("utf-8 path"),
            "--balancer",
            "Caddyfile",
            "--format",
            UPSTREAM_FORMAT,
            "--out",
            "out",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut r = csv::Reader::from_path(d.path().join("out/trace.csv")).expect("trace.csv");
    let header: Vec<String> = r.headers().expect("header").iter().map(str::to_string).collect();
    let rows: Vec<BTreeMap<String, String>> = r
        .records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.expect("row").iter().map(str::to_string))
                .collect()
        })
        .collect();
    let ips: Vec<String> = fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(|l| l.split(' ').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(rows.len(), ips.len(), "one trace row per log line");
    let dials = [
        "127.0.0.1:18121",
        "127.0.0.1:18122",
        "127.0.0.1:18123",
        "127.0.0.1:18124",
    ];
    let mut per = [0usize; 4];
    // Lines where the other hash order would choose another upstream.
    let mut order_matters = 0usize;
    for row in &rows {
        let line: usize = row["request"].parse().expect("request number");
        let ip = &ips[line - 1];
        let want = (0..4)
            .max_by_key(|&i| {
                let (ip, dial) = (ip.as_bytes(), dials[i].as_bytes());
                let h = if dial_first {
                    fnv1a32(&[dial, ip])
                } else {
                    fnv1a32(&[ip, dial])
                };
                (h, std::cmp::Reverse(i))
            })
            .unwrap_or(0);
        assert_eq!(row["backend"], dials[want], "line {line} ({ip}): {row:?}");
        let other = (0..4)
            .max_by_key(|&i| {
                let (ip, dial) = (ip.as_bytes(), dials[i].as_bytes());
                let h = if dial_first {
                    fnv1a32(&[ip, dial])
                } else {
                    fnv1a32(&[dial, ip])
                };
                (h, std::cmp::Reverse(i))
            })
            .unwrap_or(0);
        order_matters += usize::from(other != want);
        per[want] += 1;
    }
    // The log's clients reach more than one upstream (the check is not vacuous).
    assert!(per.iter().filter(|&&n| n > 0).count() >= 2, "{per:?}");
    // And the two orders disagree on some lines, so 2.6's and 2.7's are told apart.
    assert!(order_matters > 0, "{order_matters}");
}

#[test]
fn unhealthy_status_takes_a_502_answering_backend_out_after_one_failure() {
    // web2's application goes down at 2 min (its web server answers 502 at once) and stays
    // down past the end. round_robin, fail_duration 1h, max_fails 1. With `unhealthy_status
    // 5xx` the first 502 counts a failure (reverseproxy.go reverseProxy) and web2 is not
    // Available() for the rest of the run: exactly one request fails per replication (that
    // 502, or a request in flight on web2 when the application went down, which counts
    // too). Without it a 502 is a response like any other and web2 keeps its quarter of
    // the requests, failing them all, unless such a killed request happened to count.
    let text = r#"
name = "caddy-unhealthy-status"
seed = 4
duration = "6m"
warmup = "1m"
replications = 4
[workload]
users_per_second = 5
requests = { dist = "geometric", mean = 10 }
think_time = { dist = "exponential", mean = "5s" }
[backends]
count = 4
workers = 16
service_time = "20ms"
[sessions]
storage = "local"
[balancer]
policy = "caddy"
lb_policy = "round_robin"
fail_duration = "1h"
[[faults]]
kind = "app_down"
target = "web2"
at = "2m"
downtime = "10m"
[[strategy]]
label = "unhealthy_status 5xx"
balancer.unhealthy_status = ["5xx"]
[[strategy]]
label = "without"
"#;
    let runs = run_all(&scenario(text), 1).expect("runs");
    let failed = |s: usize| -> Vec<u64> {
        runs.iter()
            .filter(|r| r.strategy_index == s)
            .map(|r| r.faults[0].requests_failed)
            .collect()
    };
    assert_eq!(failed(0), [1, 1, 1, 1]);
    // About 5 users/s x 10 requests / (10 x 5 s + ...) over 4 min, a quarter on web2: far
    // more than 100 in a replication where web2 was idle when its application went down.
    assert!(failed(1).iter().any(|&n| n > 100), "{:?}", failed(1));
}

#[test]
fn lb_try_duration_waits_lb_try_interval_for_a_free_upstream() {
    // One upstream, `unhealthy_request_count 1` (full with one request in flight),
    // `lb_try_duration 1s` (so lb_try_interval 250 ms, Provision's default), a constant
    // 100 ms service. A request that finds the upstream full selects again every 250 ms
    // (tryAgain) while less than 1 s has passed: it is served after 100 + 250 k ms for some
    // k in 0..=4 (the selection at 1000 ms is the last, allowed by the check at 750 ms), or
    // gets 503 at exactly 1000 ms. Nothing else is possible.
    let d = tempfile::tempdir().expect("tempdir");
    let text = r#"
name = "caddy-try"
seed = 3
duration = "2m"
warmup = "10s"
replications = 1
[workload]
users_per_second = 8
requests = 3
think_time = "1s"
[backends]
count = 1
workers = 4
service_time = "100ms"
[sessions]
storage = "local"
[balancer]
policy = "caddy"
lb_policy = "first"
fail_duration = "1m"
unhealthy_request_count = 1
lb_try_duration = "1s"
"#;
    fs::write(d.path().join("try.toml"), text).expect("write");
    let o = sessim(
        d.path(),
        &["run", "try.toml", "--trace", "trace.csv", "--out", "out", "--quiet"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut r = csv::Reader::from_path(d.path().join("trace.csv")).expect("trace.csv");
    let header = r.headers().expect("header").clone();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .unwrap_or_else(|| panic!("no column {n}"))
    };
    let (outcome, latency) = (col("outcome"), col("latency_ms"));
    let mut seen = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.expect("row");
        let ms: f64 = rec[latency].parse().expect("latency");
        *seen.entry((rec[outcome].to_string(), ms as u64)).or_insert(0u32) += 1;
        let ok = match &rec[outcome] {
            "ok" => [100.0, 350.0, 600.0, 850.0, 1100.0].contains(&ms),
            "no_server" => ms == 1000.0,
            _ => false,
        };
        assert!(ok, "{rec:?}");
    }
    // Every wait happened (k = 0..=4) and some requests gave up: the check is not vacuous.
    assert_eq!(seen.len(), 6, "{seen:?}");
}

#[test]
fn caddy_json_imports_and_errors_name_the_json_path() {
    // The JSON `caddy adapt` writes for CADDYFILE's proxy (Caddy 2.6.2: durations in
    // nanoseconds, the snippet inlined).
    let json = r#"{"apps":{"http":{"servers":{"srv0":{"listen":[":8080"],"routes":[{"handle":[
      {"handler":"reverse_proxy","health_checks":{"passive":{"fail_duration":30000000000,"max_fails":2}},
       "load_balancing":{"retries":1,"selection_policy":{"policy":"ip_hash"}},
       "upstreams":[{"dial":"127.0.0.1:18121"},{"dial":"127.0.0.1:18122"},{"dial":"127.0.0.1:18123"},
                    {"dial":"127.0.0.1:18124"}]}]}]}}}}}"#;
    let d = tempfile::tempdir().expect("tempdir");
    fs::write(d.path().join("caddy.json"), json).expect("write");
    fs::write(d.path().join("bad.json"), json.replace("\"max_fails\"", "\"max_fail\"")).expect("write");
    let text = |file: &str| {
        format!(
            "name = \"imp\"\nduration = \"20s\"\nwarmup = \"2s\"\n[workload]\nusers_per_second = 2\n\
             requests = 3\nthink_time = \"1s\"\n[balancer]\nconfig = \"{file}\"\n"
        )
    };
    fs::write(d.path().join("ok.toml"), text("caddy.json")).expect("write");
    fs::write(d.path().join("bad.toml"), text("bad.json")).expect("write");
    let ok = sessim(d.path(), &["check", "ok.toml"]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(
        out.contains("(lb_policy ip_hash, lb_retries 1, fail_duration 30s, max_fails 2)"),
        "{out}"
    );
    let bad = sessim(d.path(), &["check", "bad.toml"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains(
            "bad.json: apps.http.servers.srv0.routes[0].handle[0].health_checks.passive.max_fail: unknown field"
        ),
        "{err}"
    );
}
