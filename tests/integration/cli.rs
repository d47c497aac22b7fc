//! The command line: exit codes and exact error text for bad input, and the files a run writes.

use crate::common::{repo, sessim};
use std::fs;

fn write(dir: &std::path::Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).expect("write test scenario");
}

const OK: &str = r#"
name = "tiny"
duration = "30s"
warmup = "5s"
[workload]
users_per_second = 5
requests = 3
think_time = "1s"
[backends]
count = 2
"#;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `check` and `run` on each (file, text) and asserts exit code 2 and the exact stderr.
fn assert_refused(cases: &[(&str, String, String)], extra: &[&str]) {
    let d = tempfile::tempdir().unwrap();
    for (name, text, want) in cases {
        write(d.path(), name, text);
        for cmd in ["check", "run"] {
            let mut args = vec![cmd, name];
            args.extend_from_slice(extra);
            let o = sessim(d.path(), &args);
            assert_eq!(o.status.code(), Some(2), "{cmd} {name}: {}", stderr(&o));
            assert_eq!(stderr(&o), *want, "{cmd} {name}");
        }
    }
    // A failed run writes nothing.
    assert!(!d.path().join("output").exists());
}

// OK's lines: 1 is empty, 2 `name`, 3 `duration`, ..., 9 `[backends]`, 10 `count = 2`; the
// column is where the value starts (an unknown key: where the key starts), counted from 1.
#[test]
fn bad_scenarios_exit_2_with_the_place_and_the_fix() {
    let cases: &[(&str, String, String)] = &[
        (
            "typo.toml",
            OK.replace("count = 2", "count = 2\nwokers = 3"),
            "error: typo.toml:11:1: backends.wokers: unknown key `wokers`; did you mean `workers`?; valid keys here: \
             count, workers, queue, weight, service_time, servers\n   |\n11 | wokers = 3\n   | ^^^^^^\n"
                .into(),
        ),
        (
            "zero.toml",
            OK.replace(
                "count = 2",
                "servers = [{ name = \"a\" }, { name = \"b\" }, { name = \"c\", workers = 0 }]",
            ),
            format!(
                "error: zero.toml:10:68: backends.servers[2].workers: must be at least 1, got 0\n   |\n\
                 10 | servers = [{{ name = \"a\" }}, {{ name = \"b\" }}, {{ name = \"c\", workers = 0 }}]\n   | {}^\n",
                " ".repeat(67)
            ),
        ),
        (
            "unit.toml",
            OK.replace("\"1s\"", "1"),
            "error: unit.toml:8:14: workload.think_time: a duration needs a unit: write \"1s\" or \"1ms\", not 1\n  \
             |\n8 | think_time = 1\n  |              ^\n"
                .into(),
        ),
        (
            "policy.toml",
            format!("{OK}[balancer]\npolicy = \"roundrobin\"\n"),
            "error: policy.toml:12:10: balancer.policy: unknown value `roundrobin`; did you mean `round_robin`?; \
             choose one of: round_robin, ip_hash, hash, hash_consistent, least_conn, random, \
             random_two_least_conn, haproxy_roundrobin, leastconn, source, cookie, envoy_round_robin, \
             envoy_least_request, envoy_ring_hash, envoy_maglev, kube_proxy, apache, caddy\n   |\n\
             12 | policy = \"roundrobin\"\n   |          ^^^^^^^^^^^^\n"
                .into(),
        ),
        (
            // A count below its minimum is said in the scenario's terms (the validation's
            // minimum, 1 for backends.count), not serde's "expected u32".
            "negative.toml",
            OK.replace("count = 2", "count = -2"),
            "error: negative.toml:10:9: backends.count: must be at least 1, got -2\n   |\n10 | count = -2\n   |         ^^\n"
                .into(),
        ),
        (
            // A queue may be 0: the message says so.
            "queue.toml",
            OK.replace("count = 2", "count = 2\nqueue = -1"),
            "error: queue.toml:11:9: backends.queue: must be a whole number, 0 or more, got -1\n   |\n\
             11 | queue = -1\n   |         ^^\n"
                .into(),
        ),
        (
            "store-as-strategy.toml",
            format!("{OK}[sessions]\nstorage = \"redis\"\n"),
            "error: store-as-strategy.toml:12:11: sessions.storage: `redis` is a store, not a strategy: write \
             storage = \"shared\" with store.kind = \"redis\" (every backend reads one redis), or storage = \
             \"cached_db\" for a cache in front of a database\n   |\n12 | storage = \"redis\"\n   |           ^^^^^^^\n"
                .into(),
        ),
        (
            "months.toml",
            OK.replace("\"30s\"", "\"10M\""),
            "error: months.toml:3:12: duration: `10M`: `M` is ambiguous (minutes or months?); for minutes write \
             \"10m\" or \"10min\"; months vary in length: write days, e.g. \"30d\"\n  |\n3 | duration = \"10M\"\n  \
             |            ^^^^^\n"
                .into(),
        ),
        (
            "syntax.toml",
            OK.replace("\"30s\"", "30s"),
            "error: syntax.toml:3:12: not valid TOML: string values must be quoted, expected literal string\n  |\n\
             3 | duration = 30s\n  |            ^^^\n"
                .into(),
        ),
        (
            // The base's mistake is the base's, whichever strategy's merge found it first.
            "base.toml",
            format!(
                "{}[[strategy]]\nlabel = \"a\"\nbalancer.policy = \"random\"\n[[strategy]]\nlabel = \"b\"\n",
                OK.replace("count = 2", "count = 2\nworkers = 0")
            ),
            "error: base.toml:11:11: backends.workers: must be at least 1, got 0\n   |\n11 | workers = 0\n   |           ^\n"
                .into(),
        ),
        (
            // A strategy's own mistake is the strategy's.
            "strategy.toml",
            format!("{OK}[[strategy]]\nlabel = \"a\"\nbackends.workers = 0\n"),
            "error: strategy.toml:13:20: strategy[0] \"a\": backends.workers: must be at least 1, got 0\n   |\n\
             13 | backends.workers = 0\n   |                    ^\n"
                .into(),
        ),
    ];
    assert_refused(cases, &[]);
}

#[test]
fn a_bad_set_is_blamed_on_the_argument() {
    let cases: &[(&str, String, String)] = &[(
        "ok.toml",
        OK.into(),
        "error: --set backends.count=-2: backends.count: must be at least 1, got -2\n".into(),
    )];
    assert_refused(cases, &["--set", "backends.count=-2"]);
    let cases: &[(&str, String, String)] = &[(
        "ok.toml",
        OK.into(),
        "error: --set workload.think_time=5S: workload.think_time: `5S`: units are lower-case: write \"5s\", \
         not `S`\n"
            .into(),
    )];
    assert_refused(cases, &["--set", "workload.think_time=5S"]);
}

#[test]
fn missing_file_and_bad_arguments_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let o = sessim(d.path(), &["run", "nope.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("error: nope.toml: cannot read the scenario file:"),
        "{}",
        stderr(&o)
    );
    write(d.path(), "ok.toml", OK);
    let o = sessim(d.path(), &["run", "ok.toml", "--set", "backends.count"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: --set backends.count: expected KEY=VALUE, e.g. --set backends.count=8\n"
    );
    let o = sessim(d.path(), &["run", "ok.toml", "--jobs", "0"]);
    assert_eq!(o.status.code(), Some(2), "clap rejects --jobs 0");
    let o = sessim(d.path(), &["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn run_writes_every_file_with_the_documented_columns() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "ok.toml", OK);
    let o = sessim(d.path(), &["run", "ok.toml", "--replications", "2", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "--quiet prints nothing");
    let out = d.path().join("output/tiny");
    let summary = fs::read_to_string(out.join("summary.csv")).unwrap();
    let header = summary.lines().next().unwrap();
    // The columns the foundation promises, in this order, at the start of the header.
    assert!(header.starts_with(
        "scenario,strategy,replication,seed,requests,completed,errors,users,sessions_lost,lost_session_pct,\
         relogins,imbalance_cov,imbalance_max_over_mean,latency_mean_ms,latency_p50_ms,latency_p95_ms,\
         latency_p99_ms,throughput_rps"
    ));
    assert_eq!(summary.lines().count(), 3, "header + 1 strategy x 2 replications");
    let backends = fs::read_to_string(out.join("backends.csv")).unwrap();
    assert_eq!(backends.lines().count(), 1 + 2 * 2);
    let ts = fs::read_to_string(out.join("timeseries.csv")).unwrap();
    // 30 s at the default bucket (0.2 s for 30 s: about 100 buckets... 150) x 2 backends x 2 reps.
    assert!(ts.lines().count() > 100);
    // No faults and no store servers: those files hold their header alone, never zero bytes.
    let faults = fs::read_to_string(out.join("faults.csv")).unwrap();
    assert!(
        faults.starts_with("scenario,strategy,replication,fault,kind,target,at_s,") && faults.lines().count() == 1,
        "{faults}"
    );
    let stores = fs::read_to_string(out.join("stores.csv")).unwrap();
    assert!(
        stores.starts_with("scenario,strategy,replication,server,") && stores.lines().count() == 1,
        "{stores}"
    );
    let recorded = fs::read_to_string(out.join("scenario.toml")).unwrap();
    assert!(recorded.contains("replications = 2"), "the override is recorded");
    // No temporary files left behind.
    let names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

#[test]
fn check_prints_the_resolved_scenario() {
    let o = sessim(&repo(), &["check", "scenarios/quick-start.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("strategy[0]  round-robin + local files"), "{out}");
    assert!(out.contains("backend    web4"), "defaults are filled in: {out}");
    assert!(
        out.ends_with("ok: scenarios/quick-start.toml is valid (3 strategies)\n"),
        "{out}"
    );
    // A scenario without [[strategy]] is one strategy, and says so in the singular.
    let o = sessim(&repo(), &["check", "scenarios/reference.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.ends_with("ok: scenarios/reference.toml is valid (1 strategy)\n"),
        "{out}"
    );
}

#[test]
fn every_bundled_scenario_is_valid() {
    for entry in fs::read_dir(repo().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let rel = path.strip_prefix(repo()).unwrap().to_str().unwrap().to_string();
            let o = sessim(&repo(), &["check", &rel]);
            assert_eq!(o.status.code(), Some(0), "{rel}: {}", stderr(&o));
        }
    }
}

#[test]
fn piped_tables_are_tab_separated_and_exports_hold_the_same_table() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "ok.toml", OK);
    fs::create_dir(d.path().join("ex")).unwrap();
    let o = sessim(
        d.path(),
        &[
            "run",
            "ok.toml",
            "--no-charts",
            "--export-json",
            "ex/t.json",
            "--export-markdown",
            "ex/t.md",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The test's stdout is a pipe: no box drawing, a tab-separated header and one line per
    // strategy (the default label of a scenario without [[strategy]]).
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains('│') && !out.contains('─'), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.starts_with("strategy\t"))
        .expect("a header line");
    assert!(
        lines[head].starts_with("strategy\tuser requests\textra work %\terrors\tlost sessions %\t"),
        "{out}"
    );
    let row: Vec<&str> = lines[head + 1].split('\t').collect();
    assert_eq!(row[0], "round_robin + local");
    assert_eq!(row.len(), lines[head].split('\t').count());
    // The JSON holds summary.csv's numbers: one replication, so the mean is the row's value
    // and there is no interval.
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.path().join("ex/t.json")).unwrap()).unwrap();
    assert_eq!(json["scenario"], "tiny");
    let summary = fs::read_to_string(d.path().join("output/tiny/summary.csv")).unwrap();
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let values: Vec<&str> = summary.lines().nth(1).unwrap().split(',').collect();
    let requests: f64 = values[header.iter().position(|h| *h == "user_requests").unwrap()]
        .parse()
        .unwrap();
    let s = &json["strategies"][0];
    assert_eq!(s["label"], "round_robin + local");
    assert_eq!(s["values"]["user_requests"]["mean"].as_f64(), Some(requests));
    assert!(s["values"]["user_requests"]["ci95"].is_null());
    assert_eq!(row[1], format!("{requests:.0}"), "the table shows the same figure");
    // The Markdown table is the printed one: the same header and cells.
    let md = fs::read_to_string(d.path().join("ex/t.md")).unwrap();
    let md_lines: Vec<&str> = md.lines().collect();
    assert_eq!(md_lines[0], format!("| {} |", lines[head].replace('\t', " | ")));
    assert!(md_lines[1].starts_with("| :--- | ---: |"), "{md}");
    assert_eq!(md_lines[2], format!("| {} |", lines[head + 1].replace('\t', " | ")));
    // Written through a temporary file and renamed: nothing else in the folder.
    let mut names: Vec<String> = fs::read_dir(d.path().join("ex"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["t.json", "t.md"]);
}

#[test]
fn an_export_that_cannot_be_written_is_refused_before_the_run() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "ok.toml", OK);
    let cases = [
        (
            vec!["--export-json", "nope/t.json"],
            "error: --export-json nope/t.json: the folder nope does not exist; create it or name another file\n",
        ),
        (
            vec!["--export-markdown", "."],
            "error: --export-markdown .: is a folder; name the file to write\n",
        ),
        (
            vec!["--export-json", "t.x", "--export-markdown", "t.x"],
            "error: --export-json and --export-markdown both name t.x; name two files\n",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["run", "ok.toml"];
        args.extend(extra.iter());
        let o = sessim(d.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        assert_eq!(stderr(&o), want, "{extra:?}");
        assert!(!d.path().join("output").exists(), "nothing ran: {extra:?}");
    }
}

#[test]
fn a_long_run_into_a_pipe_draws_no_progress_line() {
    // reference.toml cut to 30 simulated minutes runs for about 3 s in a debug build, past the
    // 2 s after which a terminal gets the progress line; stdout and stderr here are pipes, so
    // stderr must stay empty (no bar, no escape codes).
    let d = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/reference.toml");
    let o = sessim(
        d.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--set",
            "duration=\"30m\"",
            "--no-charts",
            "--out",
            "o",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "no progress line into a pipe");
}

#[test]
fn check_of_a_replay_shows_only_what_applies_to_it() {
    let o = sessim(&repo(), &["check", "scenarios/replay-example.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // The log gives arrivals, requests, pauses and addresses: no user classes, no rate, no
    // address population; the session's size and writes still apply.
    assert!(
        out.contains("  workload   replay scenarios/data/replay-example.log"),
        "{out}"
    );
    assert!(
        out.contains("             session 1000 B, modify 1, refuse cookies 0\n"),
        "{out}"
    );
    for absent in ["    class ", "  addresses  ", "users/s"] {
        assert!(!out.contains(absent), "`{absent}` in {out}");
    }
}

#[test]
fn checks_output_is_a_scenario_that_runs_to_the_same_bytes() {
    // `sessim check` prints the resolved scenario (the summary as `#` comments): saved as it
    // is, `sessim run` accepts it and writes the same result files as the original file does
    // (round trip of every key: src/scenario/resolved_tests.rs). Tomcat replication with its
    // crashes at 6 and 7 min covers faults, stores and the per-strategy sections.
    let d = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str]); 2] = [
        (
            "scenarios/quick-start.toml",
            &["--set", "duration=2m", "--replications", "2"],
        ),
        (
            "scenarios/tomcat-replication.toml",
            &["--set", "duration=8m", "--replications", "2"],
        ),
    ];
    for (i, (file, sets)) in cases.iter().enumerate() {
        let mut args = vec!["check", file];
        args.extend_from_slice(sets);
        let o = sessim(&repo(), &args);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", stderr(&o));
        let resolved = d.path().join(format!("resolved{i}.toml"));
        fs::write(&resolved, &o.stdout).unwrap();
        let (a, b) = (d.path().join(format!("a{i}")), d.path().join(format!("b{i}")));
        let mut run_a = vec!["run", file, "--quiet", "--no-charts", "--out", a.to_str().unwrap()];
        run_a.extend_from_slice(sets);
        let o = sessim(&repo(), &run_a);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", stderr(&o));
        let o = sessim(
            &repo(),
            &[
                "run",
                resolved.to_str().unwrap(),
                "--quiet",
                "--no-charts",
                "--out",
                b.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(0), "resolved {file}: {}", stderr(&o));
        for f in [
            "summary.csv",
            "backends.csv",
            "timeseries.csv",
            "faults.csv",
            "stores.csv",
        ] {
            let (x, y) = (fs::read(a.join(f)), fs::read(b.join(f)));
            assert!(x.is_ok() || f == "faults.csv", "{file}: no {f}");
            assert!(
                x.ok() == y.ok(),
                "{file}: {f} differs between the file and its resolved form"
            );
        }
    }
}
