//! The Caddy policy end to end: a Caddyfile imported by `balancer.config` (`sessim check`,
//! errors naming the file and line, exit code 2) and by `sessim replay --balancer Caddyfile`,
//! whose every routing decision is Caddy's `ip_hash`.

use crate::common::{repo, sessim};
use sessim::balancer::caddy::fnv1a32;
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
        CADDYFILE.replace("lb_policy ip_hash", "lb_policy client_ip_hash"),
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
    // Line 13 of the file: `lb_policy client_ip_hash`.
    assert!(
        err.contains("bad.caddyfile:13: lb_policy client_ip_hash does not exist in Caddy 2.6"),
        "{err}"
    );
}

/// The `log_format` of the committed nginx log: combined plus `$upstream_addr`.
const UPSTREAM_FORMAT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $upstream_addr"#;

#[test]
fn replay_through_a_caddyfile_routes_every_line_by_caddys_ip_hash() {
    // The 400 requests of tests/data's nginx log, replayed through Caddy `ip_hash` over the
    // same four addresses: each line must go to the address with the highest FNV-1a 32 of
    // "<client ip><dial address>" (selectionpolicies.go hostByHashing), computed here.
    let data = repo().join("tests/data");
    let log = data.join("nginx-ip_hash-3111-down.log");
    let d = tempfile::tempdir().expect("tempdir");
    fs::write(d.path().join("Caddyfile"), CADDYFILE).expect("write");
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
    for row in &rows {
        let line: usize = row["request"].parse().expect("request number");
        let ip = &ips[line - 1];
        let want = (0..4)
            .max_by_key(|&i| (fnv1a32(&[ip.as_bytes(), dials[i].as_bytes()]), std::cmp::Reverse(i)))
            .unwrap_or(0);
        assert_eq!(row["backend"], dials[want], "line {line} ({ip}): {row:?}");
        per[want] += 1;
    }
    // The log's clients reach more than one upstream (the check is not vacuous).
    assert!(per.iter().filter(|&&n| n > 0).count() >= 2, "{per:?}");
}
