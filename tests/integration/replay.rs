//! Log replay and the per-request trace, end to end through the binary: nginx's own routing
//! decisions reproduced line by line, every log format with bad input, strictness, and tracing
//! that changes no result and no byte across thread counts.

use crate::common::{repo, sessim};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// The `log_format` of the conformance test's nginx: combined plus `$upstream_addr`.
const UPSTREAM_FORMAT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $upstream_addr"#;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// trace.csv as rows of (column -> value).
fn trace_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).expect("trace.csv reads");
    let header: Vec<String> = r.headers().expect("header").iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("row");
            header.iter().cloned().zip(rec.iter().map(str::to_string)).collect()
        })
        .collect()
}

#[test]
fn replaying_real_nginx_log_matches_its_upstream_addr_on_every_line() {
    // tests/data/README.md: 400 requests that nginx 1.22.1 balanced with ip_hash over
    // 127.0.0.1:18121-18124 (weights 3,1,1,1; the third down). nginx names a server by its
    // address, so the trace's `backend` is directly comparable with `$upstream_addr`.
    let data = repo().join("tests/data");
    let log = data.join("nginx-ip_hash-3111-down.log");
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let o = sessim(
        d.path(),
        &[
            "replay",
            log.to_str().unwrap(),
            "--balancer",
            data.join("nginx-ip_hash-3111-down.nginx.conf").to_str().unwrap(),
            "--format",
            UPSTREAM_FORMAT,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = trace_rows(&out.join("trace.csv"));
    let logged: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(logged.len(), 400);
    assert_eq!(rows.len(), logged.len(), "one trace row per log line");
    let by_line: BTreeMap<usize, &BTreeMap<String, String>> =
        rows.iter().map(|r| (r["request"].parse().unwrap(), r)).collect();
    for (i, upstream) in logged.iter().enumerate() {
        let r = by_line[&(i + 1)];
        assert_eq!(&r["backend"], upstream, "line {}: {r:?}", i + 1);
        assert_eq!(r["outcome"], "ok");
        // backend_index is the server's position in the upstream block.
        let index = [
            "127.0.0.1:18121",
            "127.0.0.1:18122",
            "127.0.0.1:18123",
            "127.0.0.1:18124",
        ]
        .iter()
        .position(|a| a == upstream)
        .unwrap();
        assert_eq!(r["backend_index"], index.to_string());
    }
    let replay = fs::read_to_string(out.join("replay.csv")).unwrap();
    assert!(replay.contains(",400,400,400,0,0"), "{replay}");
}

const CONFIG: &str = "upstream app {\n    server 10.0.0.1:80;\n    server 10.0.0.2:80;\n}\n";

/// A log of `n` good lines in `format` for client i (10.0.<i/250>.<i%250+1>), one second
/// apart, with `extra` lines (by 1-based position) replacing good ones.
fn log(format: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let ip = format!("10.0.{}.{}", i / 250, i % 250 + 1);
            let sec = i % 60;
            let min = i / 60;
            match format {
                "combined" => format!(
                    "{ip} - - [22/Nov/2026:03:{min:02}:{sec:02} +0000] \"GET /p/{i} HTTP/1.1\" 200 5 \"-\" \"ua\""
                ),
                "main" => format!(
                    "{ip} - - [22/Nov/2026:03:{min:02}:{sec:02} +0000] \"GET /p/{i} HTTP/1.1\" 200 5 \"-\" \"ua\" \"-\""
                ),
                "haproxy" => format!(
                    "haproxy[1]: {ip}:4000 [22/Nov/2026:03:{min:02}:{sec:02}.250] web app/s1 0/0/1/20/21 200 5 - - ---- \
                     1/1/0/0/0 0/0 \"GET /p/{i} HTTP/1.1\""
                ),
                _ => format!("{}.5,{ip},/p/{i},0.02", i),
            }
            .into_bytes()
        })
        .collect()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

fn replay(dir: &Path, log: &Path, format: &str, extra: &[&str]) -> std::process::Output {
    fs::write(dir.join("lb.conf"), CONFIG).unwrap();
    let mut args = vec![
        "replay",
        log.to_str().unwrap(),
        "--balancer",
        "lb.conf",
        "--format",
        format,
        "--out",
        "out",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    sessim(dir, &args)
}

#[test]
fn every_format_replays_with_malformed_non_utf8_and_gigantic_lines_reported() {
    for format in ["combined", "main", "haproxy", "csv"] {
        let d = tempfile::tempdir().unwrap();
        let mut lines = log(format, 20);
        if format == "csv" {
            lines.insert(0, b"time,client_ip,path,service_time".to_vec());
        }
        let header = usize::from(format == "csv");
        // Line numbers (1-based, header included): 3 malformed, 6 not UTF-8 at all,
        // 9 gigantic (1 MiB).
        lines[2 + header] = b"this is not a log line".to_vec();
        lines[5 + header] = vec![0xff, 0xfe, 0xfd];
        lines[8 + header] = vec![b'x'; 1 << 20];
        let path = d.path().join("access.log");
        fs::write(&path, join(&lines)).unwrap();
        let o = replay(d.path(), &path, format, &[]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        let err = stderr(&o);
        let shown = path.display().to_string();
        assert!(err.contains("3 malformed lines"), "{format}: {err}");
        for l in [3 + header, 6 + header, 9 + header] {
            assert!(err.contains(&format!("{shown}:{l}: ")), "{format}: line {l} in {err}");
        }
        let bad = fs::read_to_string(d.path().join("out/replay_bad_lines.csv")).unwrap();
        assert_eq!(bad.lines().count(), 4, "{format}: {bad}");
        assert!(bad.contains("longer than"), "{format}: {bad}");
        let rows = trace_rows(&d.path().join("out/trace.csv"));
        assert_eq!(rows.len(), 17, "{format}: every good line replayed");

        // --strict: the first malformed line is an error naming file:line, exit code 2, and no
        // output that looks complete.
        let d2 = tempfile::tempdir().unwrap();
        let path2 = d2.path().join("access.log");
        fs::write(&path2, join(&lines)).unwrap();
        let o = replay(d2.path(), &path2, format, &["--strict"]);
        assert_eq!(o.status.code(), Some(2), "{format}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.starts_with(&format!("error: {}:{}: ", path2.display(), 3 + header)),
            "{format}: {err}"
        );
        assert!(err.contains("strict"), "{format}: {err}");
        assert!(!d2.path().join("out/trace.csv").exists());
        assert!(!d2.path().join("out/summary.csv").exists());
    }
}

#[test]
fn an_empty_log_or_one_without_a_good_line_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let empty = d.path().join("empty.log");
    fs::write(&empty, b"").unwrap();
    let o = replay(d.path(), &empty, "combined", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "error: {}: no request to replay (0 lines read, 0 malformed); check the log format (`--format`, or workload.replay.format), from and to\n",
            empty.display()
        )
    );
    let junk = d.path().join("junk.log");
    fs::write(&junk, b"a\n\xff\n").unwrap();
    let o = replay(d.path(), &junk, "haproxy", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("2 lines read, 2 malformed; line 1: "),
        "{}",
        stderr(&o)
    );
    let csv = d.path().join("bad.csv");
    fs::write(&csv, b"time,clientip\n1,10.0.0.1\n").unwrap();
    let o = replay(d.path(), &csv, "csv", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with(&format!(
            "error: {}:1: CSV header: unknown CSV column `clientip`",
            csv.display()
        )),
        "{}",
        stderr(&o)
    );
}

const SYNTHETIC: &str = r#"
name = "traced"
duration = "60s"
warmup = "5s"
replications = 2
[workload]
users_per_second = 20
requests = 5
think_time = "1s"
[backends]
count = 3
[[strategy]]
label = "rr"
balancer.policy = "round_robin"
[[strategy]]
label = "ip"
balancer.policy = "ip_hash"
"#;

#[test]
fn tracing_changes_no_result_and_no_byte_across_jobs() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("s.toml"), SYNTHETIC).unwrap();
    let plain = sessim(d.path(), &["run", "s.toml", "--out", "plain", "-q"]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    for jobs in ["1", "3"] {
        let out = format!("t{jobs}");
        let trace = format!("t{jobs}.csv");
        let o = sessim(
            d.path(),
            &["run", "s.toml", "--out", &out, "-q", "--jobs", jobs, "--trace", &trace],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        for f in ["summary.csv", "backends.csv", "timeseries.csv"] {
            assert_eq!(
                fs::read(d.path().join("plain").join(f)).unwrap(),
                fs::read(d.path().join(&out).join(f)).unwrap(),
                "{f} with --trace, --jobs {jobs}"
            );
        }
    }
    let t1 = fs::read(d.path().join("t1.csv")).unwrap();
    assert_eq!(
        t1,
        fs::read(d.path().join("t3.csv")).unwrap(),
        "trace bytes for --jobs 1 and 3"
    );
    let rows = trace_rows(&d.path().join("t1.csv"));
    // Every request arriving after the warm-up, and those before it, each traced once.
    let summary = fs::read_to_string(d.path().join("plain/summary.csv")).unwrap();
    assert!(rows.len() as u64 > 4 * 2 * 20 * 50, "{} rows; {summary}", rows.len());
    // Runs appear in (strategy, replication) order.
    let order: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["strategy"].clone(), r["replication"].clone()))
        .fold(Vec::new(), |mut v, k| {
            if v.last() != Some(&k) {
                v.push(k);
            }
            v
        });
    let want: Vec<(String, String)> = [("rr", "0"), ("rr", "1"), ("ip", "0"), ("ip", "1")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(order, want);

    // A 10% sample keeps the same requests in both strategies: a request (replication, user,
    // index) that both strategies sent is sampled in both or in neither. (Near the end, or
    // after a lost session, the strategies' users send different requests.)
    let o = sessim(
        d.path(),
        &[
            "run",
            "s.toml",
            "--out",
            "s",
            "-q",
            "--trace",
            "s.csv",
            "--trace-sample",
            "0.1",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let sampled = trace_rows(&d.path().join("s.csv"));
    type Key = (String, String, String);
    let keys = |rows: &[BTreeMap<String, String>], label: &str| -> std::collections::BTreeSet<Key> {
        rows.iter()
            .filter(|r| r["strategy"] == label)
            .map(|r| (r["replication"].clone(), r["user"].clone(), r["request"].clone()))
            .collect()
    };
    let both: std::collections::BTreeSet<Key> = keys(&rows, "rr").intersection(&keys(&rows, "ip")).cloned().collect();
    let (rr, ip) = (keys(&sampled, "rr"), keys(&sampled, "ip"));
    let rr_common: Vec<&Key> = rr.iter().filter(|k| both.contains(*k)).collect();
    let ip_common: Vec<&Key> = ip.iter().filter(|k| both.contains(*k)).collect();
    assert!(rr_common.len() > 100, "{}", rr_common.len());
    assert!(rr_common == ip_common, "the strategies sampled different requests");
    let share = sampled.len() as f64 / rows.len() as f64;
    assert!((0.07..0.13).contains(&share), "sampled share {share}");
    assert_eq!(
        fs::read(d.path().join("plain/summary.csv")).unwrap(),
        fs::read(d.path().join("s/summary.csv")).unwrap()
    );
}

#[test]
fn replay_scenarios_reject_synthetic_keys_and_bad_replay_keys() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.log"), join(&log("combined", 3))).unwrap();
    let base = "name = \"r\"\nduration = \"10m\"\n[workload.replay]\nfile = \"a.log\"\n";
    let cases = [
        (
            base.replace(
                "[workload.replay]",
                "[workload]\nusers_per_second = 3\n[workload.replay]",
            ),
            "error: s.toml:4:20: workload.users_per_second: describes synthetic users and cannot be combined with \
             `workload.replay` (the log gives the requests); remove one of them\n",
        ),
        (
            format!("{base}clone = 0\n"),
            "error: s.toml:5:9: workload.replay.clone: must be between 1 and 1000, got 0\n",
        ),
        (
            format!("{base}format = \"apache\"\n"),
            "error: s.toml:5:10: workload.replay.format: unknown format `apache`; choose combined, main, haproxy, csv \
             or an nginx log_format string\n",
        ),
        (
            format!("{base}service_time = \"logged\"\n"),
            "error: s.toml:5:16: workload.replay.service_time: unknown value `logged`; choose one of: auto, log, \
             model\n",
        ),
    ];
    for (text, want) in &cases {
        fs::write(d.path().join("s.toml"), text).unwrap();
        let o = sessim(d.path(), &["check", "s.toml"]);
        assert_eq!(o.status.code(), Some(2), "{text}");
        // The first line names line:column and the fix; the file's line and a caret follow.
        let e = stderr(&o);
        assert_eq!(e.lines().next(), want.lines().next(), "{text}");
        assert!(e.lines().nth(3).is_some_and(|l| l.contains('^')), "{text}: {e}");
    }
    // --strict on a synthetic scenario says why it does not apply.
    fs::write(d.path().join("syn.toml"), SYNTHETIC).unwrap();
    let o = sessim(d.path(), &["run", "syn.toml", "--strict", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: --strict applies to replayed logs, and this scenario has no [workload.replay]\n"
    );
}

#[test]
fn clones_multiply_users_with_distinct_addresses_and_window_and_scale_apply() {
    let d = tempfile::tempdir().unwrap();
    // 120 lines, one per second from 03:00:00; the window keeps [30s, 90s): 60 lines.
    fs::write(d.path().join("a.log"), join(&log("combined", 120))).unwrap();
    let text = "name = \"c\"\nduration = \"10m\"\n[workload.replay]\nfile = \"a.log\"\nclone = 3\nfrom = \"30s\"\n\
                to = \"90s\"\ntime_scale = 0.5\nlogin = false\n[backends]\ncount = 2\n";
    fs::write(d.path().join("c.toml"), text).unwrap();
    let o = sessim(d.path(), &["run", "c.toml", "--out", "o", "-q", "--trace", "t.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = trace_rows(&d.path().join("t.csv"));
    assert_eq!(rows.len(), 180, "60 lines x 3 copies");
    let addrs: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["client_ip"].as_str()).collect();
    assert_eq!(addrs.len(), 180, "every copy has its own address");
    let users: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["user"].as_str()).collect();
    assert_eq!(users.len(), 180);
    // Line 31 (03:00:30) is the window's first: time 0.5 s x 0.5; line 90 at 59.5 s x 0.5.
    let arrival = |line: &str| -> f64 {
        rows.iter().find(|r| r["request"] == line).unwrap()["arrival_s"]
            .parse()
            .unwrap()
    };
    assert_eq!(arrival("31"), 0.25);
    assert_eq!(arrival("90"), 29.75);
    assert!(
        rows.iter().all(|r| r["session_found"].is_empty()),
        "login off: no sessions"
    );
}

#[test]
fn a_sweep_over_a_broken_strict_replay_is_bad_input() {
    // Every point of a sweep replays the same log: a malformed line under `strict` must stop
    // the sweep with exit 2 and the file:line, not write rows.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("bad.log"),
        "10.0.0.1 - - [22/Nov/2026:03:08:40 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"ua\"\nnot a log line\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("s.toml"),
        "name = \"bad\"\nduration = \"1m\"\n[workload.replay]\nfile = \"bad.log\"\nformat = \"combined\"\n\
         strict = true\n[[sweep.axes]]\nkey = \"backends.count\"\nvalues = [2, 3]\n",
    )
    .unwrap();
    let o = sessim(d.path(), &["sweep", "s.toml", "--out", "sw", "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.log:2"), "{}", stderr(&o));
    assert!(!d.path().join("sw/sweep_summary.csv").exists());
}
