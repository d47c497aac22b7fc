//! report.html in a real browser: Debian's headless Chromium opens the page of a run and of a
//! sweep from a file:// URL (no network), takes a screenshot, and we check that every chart
//! rendered (each inline `<svg>` has a nonzero size, drawn content and text set in a font) and
//! that the page logged nothing to the console (it has no script, so any console line is an
//! error: a failed resource, a parse problem). A control page with a deliberate error proves
//! the console scan sees errors at all.
//!
//! Ignored by plain `cargo test` (it needs `chromium`); `.ci/run` installs it and runs
//! `cargo test --test integration -- --ignored browser`. Screenshots are kept in
//! `target/browser/`.

use crate::report::{capacity_sweep, check_charts, check_report, node_failure_run};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> PathBuf {
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!("chromium is not installed: apt-get install chromium (.ci/run does)");
}

/// Runs headless Chromium on `page` with `extra` flags and a fresh profile, killed after 90 s.
/// Returns (stdout, stderr).
fn run_chromium(page: &Path, extra: &[String], profile: &Path) -> (String, String) {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2400",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(extra.iter().cloned());
    args.push(url);
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(chromium())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "chromium failed: {status}: {}",
                std::fs::read_to_string(&err).unwrap()
            );
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (
        std::fs::read_to_string(out).unwrap(),
        std::fs::read_to_string(err).unwrap(),
    )
}

/// Console lines Chromium logged for the page (`INFO:CONSOLE...` with --enable-logging).
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// Measures every inline SVG after layout: appended to a copy of the page (the report itself
/// has no script), it writes the results as attributes of `<body>`, which --dump-dom prints.
const PROBE: &str = r#"<script>
(function () {
  var svgs = document.querySelectorAll('svg'), bad = [];
  for (var i = 0; i < svgs.length; i++) {
    var r = svgs[i].getBoundingClientRect(), box = svgs[i].getBBox();
    var texts = svgs[i].querySelectorAll('text'), textOk = texts.length > 0;
    for (var j = 0; j < texts.length; j++) {
      if (texts[j].textContent.trim() && !(texts[j].getComputedTextLength() > 0)) { textOk = false; }
    }
    if (!(r.width > 100 && r.height > 50 && box.width > 100 && box.height > 50 && textOk)) {
      bad.push(i + ':' + Math.round(r.width) + 'x' + Math.round(r.height) + ':' + textOk);
    }
  }
  document.body.setAttribute('data-svgs', String(svgs.length));
  document.body.setAttribute('data-bad', bad.join(' '));
})();
</script>
</body>"#;

fn attribute(dom: &str, name: &str) -> String {
    let key = format!("{name}=\"");
    let start = dom
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in the dumped DOM: {dom}"))
        + key.len();
    let end = dom[start..].find('"').unwrap() + start;
    dom[start..end].to_string()
}

fn check_in_browser(dir: &Path, name: &str) {
    let stems = check_charts(dir);
    let html = check_report(dir, &stems);
    let shots = crate::common::repo().join("target/browser");
    std::fs::create_dir_all(&shots).unwrap();
    let profiles = tempfile::tempdir().unwrap();

    // 1. The page as it is: a screenshot, and not one console line.
    let shot = shots.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    let (_, err) = run_chromium(
        &dir.join("report.html"),
        &[format!("--screenshot={}", shot.display())],
        &profiles.path().join("a"),
    );
    assert_eq!(console_lines(&err), Vec::<&str>::new(), "console messages of {name}");
    let png = std::fs::read(&shot).expect("a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 50_000,
        "a screenshot of a page with charts, not a blank one: {} bytes",
        png.len()
    );

    // 2. A copy with the probe: every chart has a size, drawn content and set text.
    let probed = dir.join("report-probe.html");
    std::fs::write(&probed, html.replacen("</body>", PROBE, 1)).unwrap();
    let (dom, err) = run_chromium(&probed, &["--dump-dom".to_string()], &profiles.path().join("b"));
    std::fs::remove_file(&probed).unwrap();
    assert_eq!(console_lines(&err), Vec::<&str>::new(), "the probe itself ran cleanly");
    assert_eq!(
        attribute(&dom, "data-svgs"),
        stems.len().to_string(),
        "one rendered <svg> per chart"
    );
    assert_eq!(
        attribute(&dom, "data-bad"),
        "",
        "charts that did not render (index:size:text)"
    );
}

#[test]
#[ignore = "needs Debian's chromium; .ci/run installs it and runs this with --ignored"]
fn browser_renders_the_run_and_sweep_reports_without_console_errors() {
    // The console scan must see errors when there are some, or its silence proves nothing.
    let d = tempfile::tempdir().unwrap();
    let control = d.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><html><body><p>control</p><script>noSuchFunction();</script></body></html>",
    )
    .unwrap();
    let (_, err) = run_chromium(&control, &["--dump-dom".to_string()], &d.path().join("p"));
    let lines = console_lines(&err);
    assert!(
        lines.iter().any(|l| l.contains("noSuchFunction is not defined")),
        "the console scan missed a deliberate error: {err}"
    );

    let run = node_failure_run(d.path());
    check_in_browser(&run, "node-failure");
    let sweep = capacity_sweep(d.path());
    check_in_browser(&sweep, "capacity-sweep");
}
