//! Charts and report.html of whole folders: `sessim run` and `sessim sweep` draw them without
//! being asked; `sessim report DIR` redraws them from the CSV files alone; every chart file is
//! a valid PNG and SVG; the page is well-formed and names no URL; bad CSV files are bad input
//! (exit 2, file and line named) and leave the previous output untouched.

use crate::common::{repo, sessim};
use std::fs;
use std::path::{Path, PathBuf};

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = sessim(dir, args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A small node-failure run (the crash at 10 min, 12 min simulated): faults, a store, 5
/// strategies, 2 replications.
pub fn node_failure_run(dir: &Path) -> PathBuf {
    let scenario = repo().join("scenarios/node-failure.toml");
    ok(
        dir,
        &[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            "run",
            "--replications",
            "2",
            "--set",
            "duration=\"12m\"",
            "--quiet",
        ],
    );
    dir.join("run")
}

/// A small capacity sweep (8 loads x 3 strategies x 2 replications of 2 minutes).
pub fn capacity_sweep(dir: &Path) -> PathBuf {
    let scenario = repo().join("scenarios/capacity-sweep.toml");
    ok(
        dir,
        &[
            "sweep",
            scenario.to_str().unwrap(),
            "--out",
            "sweep",
            "--replications",
            "2",
            "--set",
            "duration=\"2m\"",
            "--set",
            "warmup=\"20s\"",
            "--quiet",
        ],
    );
    dir.join("sweep")
}

/// The chart stems in `dir/charts`, after checking that each has a valid PNG and SVG.
pub fn check_charts(dir: &Path) -> Vec<String> {
    let charts = dir.join("charts");
    let mut stems: Vec<String> = fs::read_dir(&charts)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".svg").map(str::to_string))
        .collect();
    stems.sort();
    let files = fs::read_dir(&charts).unwrap().count();
    assert_eq!(
        files,
        2 * stems.len(),
        "a PNG and an SVG per chart, nothing else: {stems:?}"
    );
    for s in &stems {
        let png = fs::read(charts.join(format!("{s}.png"))).unwrap();
        assert!(png.len() > 5000, "{s}.png is {} bytes", png.len());
        // The PNG signature, then the IHDR chunk with the canvas size: 600 px high, 1000 px wide
        // (up to 2400 for many categories), the same as the SVG's.
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{s}.png");
        assert_eq!(&png[12..16], b"IHDR", "{s}.png");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert!((1000..=2400).contains(&width), "{s}.png width {width}");
        assert_eq!(
            u32::from_be_bytes(png[20..24].try_into().unwrap()),
            600,
            "{s}.png height"
        );
        let svg = fs::read_to_string(charts.join(format!("{s}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{s}.svg: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg", "{s}.svg");
        let svg_width = doc.root_element().attribute("width").map(str::to_string);
        assert_eq!(svg_width, Some(width.to_string()), "{s}.svg width");
        assert!(
            doc.descendants().filter(|n| n.has_tag_name("text")).count() >= 3,
            "{s}.svg has text"
        );
    }
    stems
}

/// Checks that report.html is well-formed XML, names no URL, and inlines one SVG per chart.
pub fn check_report(dir: &Path, stems: &[String]) -> String {
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    // The page starts with <!DOCTYPE html>, which XML parsers see as a (trivial) DTD.
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(&html, opts)
        .unwrap_or_else(|e| panic!("report.html is not well-formed: {e}"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained: no URL"
    );
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("<img"));
    let figures: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("figure"))
        .map(|n| n.attribute("id").unwrap_or_default().to_string())
        .collect();
    let mut sorted = figures.clone();
    sorted.sort();
    assert_eq!(sorted, stems, "one figure per chart file");
    for f in doc.descendants().filter(|n| n.has_tag_name("figure")) {
        assert_eq!(
            f.children().filter(|c| c.has_tag_name("svg")).count(),
            1,
            "an inline SVG"
        );
    }
    html
}

#[test]
fn run_draws_charts_and_a_report_and_report_redraws_them() {
    let d = tempfile::tempdir().unwrap();
    let run = node_failure_run(d.path());
    let stems = check_charts(&run);
    assert_eq!(
        stems,
        [
            "backend_work",
            "errors_over_time",
            "imbalance_cov",
            "imbalance_over_time",
            "latency_p50_over_time",
            "latency_p99_over_time",
            "latency_percentiles",
            "lost_sessions",
            "lost_sessions_over_time",
            "requests_per_backend",
            "store_utilization_over_time"
        ]
    );
    let html = check_report(&run, &stems);
    assert!(html.contains("<h2>Verdict</h2>"));
    assert!(html.contains("HAProxy cookie + Redis lost no sessions"), "{html}");
    assert!(html.contains("During the run web2 crashed."));
    assert!(
        html.contains("name = &quot;node-failure&quot;"),
        "the scenario, escaped"
    );

    // Redrawing from the files gives the same bytes.
    let before = fs::read(run.join("charts/lost_sessions.png")).unwrap();
    let page = fs::read(run.join("report.html")).unwrap();
    let out = ok(d.path(), &["report", "run"]);
    assert!(out.contains("11 charts (PNG + SVG)"), "{out}");
    assert_eq!(fs::read(run.join("charts/lost_sessions.png")).unwrap(), before);
    assert_eq!(fs::read(run.join("report.html")).unwrap(), page);

    // An edited CSV redraws: without faults there are no fault bands, and a chart that no longer
    // has data (lost sessions over time, when nothing was lost) is removed, not left stale.
    fs::write(run.join("faults.csv"), "").unwrap();
    let ts = fs::read_to_string(run.join("timeseries.csv")).unwrap();
    let mut lines = ts.lines();
    let header = lines.next().unwrap();
    let lost = header.split(',').position(|c| c == "sessions_lost").unwrap();
    let mut edited = format!("{header}\n");
    for l in lines {
        let mut f: Vec<&str> = l.split(',').collect();
        f[lost] = "0";
        edited.push_str(&f.join(","));
        edited.push('\n');
    }
    fs::write(run.join("timeseries.csv"), edited).unwrap();
    ok(d.path(), &["report", "run", "--quiet"]);
    let stems = check_charts(&run);
    assert!(!stems.contains(&"lost_sessions_over_time".to_string()), "{stems:?}");
    let html = check_report(&run, &stems);
    assert!(html.contains("Fault bands: the scenario has no faults."));
    assert!(html.contains("Lost sessions over time: no session was lost in any time bucket."));
}

#[test]
fn sweep_draws_charts_along_the_axis_and_report_redraws_them() {
    let d = tempfile::tempdir().unwrap();
    let sweep = capacity_sweep(d.path());
    let stems = check_charts(&sweep);
    assert_eq!(
        stems,
        [
            "backend_utilization_vs_workload_users_per_second",
            "error_rate_vs_workload_users_per_second",
            "latency_p99_vs_workload_users_per_second",
            "lost_sessions_vs_workload_users_per_second"
        ]
    );
    let html = check_report(&sweep, &stems);
    assert!(html.contains("Saturation."), "{html}");
    assert!(html.contains("Store utilisation and store p99 against load: no strategy has store servers."));
    let page = fs::read(sweep.join("report.html")).unwrap();
    fs::remove_dir_all(sweep.join("charts")).unwrap();
    fs::remove_file(sweep.join("report.html")).unwrap();
    let out = ok(d.path(), &["report", "sweep"]);
    assert!(out.contains("4 charts (PNG + SVG)"), "{out}");
    assert_eq!(
        fs::read(sweep.join("report.html")).unwrap(),
        page,
        "the same page from the files"
    );
}

#[test]
fn a_node_count_sweep_with_a_store_and_replication_draws_those_charts() {
    let d = tempfile::tempdir().unwrap();
    fs::write(
        d.path().join("nodes.toml"),
        r#"
name = "nodes"
seed = 3
duration = "40s"
warmup = "10s"
replications = 2
[workload]
users_per_second = 20
requests = { dist = "geometric", mean = 5 }
think_time = { dist = "exponential", mean = "2s" }
[backends]
count = 2
workers = 8
service_time = { dist = "exponential", mean = "20ms" }
[sessions]
storage = "replicated_all"
[[strategy]]
label = "all-to-all"
[[strategy]]
label = "redis"
sessions.storage = "shared"
sessions.store = { kind = "redis" }
[[sweep.axes]]
key = "backends.count"
values = [2, 3, 4]
"#,
    )
    .unwrap();
    ok(d.path(), &["sweep", "nodes.toml", "--out", "s", "--quiet"]);
    let stems = check_charts(&d.path().join("s"));
    for s in [
        "replication_vs_nodes",
        "store_utilization_vs_backends_count",
        "store_p99_vs_backends_count",
    ] {
        assert!(stems.contains(&s.to_string()), "{s} in {stems:?}");
    }
}

#[test]
fn bad_or_missing_csv_files_are_bad_input_and_leave_the_output_alone() {
    let d = tempfile::tempdir().unwrap();
    let run = node_failure_run(d.path());
    let page = fs::read(run.join("report.html")).unwrap();
    let chart = fs::read(run.join("charts/imbalance_cov.svg")).unwrap();

    let summary = fs::read_to_string(run.join("summary.csv")).unwrap();
    let broken = summary.replacen(",0.0,", ",zero,", 1);
    let line = broken.lines().position(|l| l.contains("zero")).unwrap() + 1;
    fs::write(run.join("summary.csv"), &broken).unwrap();
    let o = sessim(d.path(), &["report", "run"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with(&format!("error: run/summary.csv: line {line}: column `")),
        "{err}"
    );
    assert!(err.contains("invalid float literal"), "{err}");

    fs::write(run.join("summary.csv"), &summary).unwrap();
    fs::write(run.join("backends.csv"), "scenario,strategy\nx\n").unwrap();
    let o = sessim(d.path(), &["report", "run"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: run/backends.csv: line 2: 1 fields where the header has 2\n"
    );

    let o = sessim(d.path(), &["report", "nowhere"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: nowhere: neither summary.csv (a `sessim run` folder) nor sweep.csv (a `sessim sweep` folder) is there\n"
    );

    // Nothing was rewritten, and no temporary file was left behind.
    assert_eq!(fs::read(run.join("report.html")).unwrap(), page);
    assert_eq!(fs::read(run.join("charts/imbalance_cov.svg")).unwrap(), chart);
    for dir in [run.clone(), run.join("charts")] {
        for e in fs::read_dir(&dir).unwrap() {
            let n = e.unwrap().file_name().into_string().unwrap();
            assert!(!n.starts_with('.'), "{n} left in {}", dir.display());
        }
    }
}

#[test]
fn no_charts_skips_them() {
    let d = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/quick-start.toml");
    ok(
        d.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            "q",
            "--no-charts",
            "--quiet",
            "--set",
            "duration=\"2m\"",
        ],
    );
    assert!(d.path().join("q/summary.csv").is_file());
    assert!(!d.path().join("q/charts").exists());
    assert!(!d.path().join("q/report.html").exists());
}

/// `path` without the CSV columns `drop` (as a folder written before they existed).
fn without_columns(path: &Path, drop: &[&str]) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().clone();
    let keep: Vec<usize> = (0..header.len()).filter(|&i| !drop.contains(&&header[i])).collect();
    assert_eq!(keep.len(), header.len() - drop.len(), "every dropped column was there");
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(keep.iter().map(|&i| &header[i])).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        w.write_record(keep.iter().map(|&i| &rec[i])).unwrap();
    }
    fs::write(path, w.into_inner().unwrap()).unwrap();
}

#[test]
fn a_folder_without_later_columns_is_drawn_and_says_what_is_missing() {
    // An older sessim wrote no cost columns and no users_logged_out_pct; lost_expired is an
    // earlier column, dropped too to show that any metric column may be missing.
    let d = tempfile::tempdir().unwrap();
    let run = node_failure_run(d.path());
    let charts_before = check_charts(&run);
    without_columns(
        &run.join("summary.csv"),
        &["cost_total_per_h", "users_logged_out_pct", "lost_expired"],
    );
    let out = ok(d.path(), &["report", "run"]);
    // Named in summary.csv's column order.
    let note = "the folder has no column lost_expired, users_logged_out_pct, cost_total_per_h \
                (written by an older sessim): shown as absent, not as 0.";
    assert!(out.contains(&format!("note: {note}")), "{out}");
    // Every chart is still drawn: none of them needs the dropped columns.
    assert_eq!(check_charts(&run), charts_before);
    let page = fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        page.contains("summary.csv has no column lost_expired, users_logged_out_pct, cost_total_per_h"),
        "the page carries the note"
    );
    // The headline table keeps the cost column, each strategy's cell marked absent.
    assert!(page.contains("<th>cost [/h]</th>"));
    // So does the headline column "users logged out [%]": two absent cells per strategy.
    assert!(page.contains("<th>users logged out [%]</th>"));
    let strategies = page.matches("<td>absent</td>").count();
    assert_eq!(
        strategies, 10,
        "one absent cost cell and one absent users-logged-out cell per strategy of node-failure"
    );

    // The same in a sweep folder: its summary columns follow `point` and the axes.
    let sweep = capacity_sweep(d.path());
    without_columns(&sweep.join("sweep.csv"), &["cost_total_per_h"]);
    let out = ok(d.path(), &["report", "sweep"]);
    assert!(out.contains("note: the folder has no column cost_total_per_h"), "{out}");
    let page = fs::read_to_string(sweep.join("report.html")).unwrap();
    assert!(page.contains("sweep.csv has no column cost_total_per_h"));
}
