//! The arrows that must never exist (README, "Architecture"), checked on the source: a part's
//! code outside its unit tests names no `crate::` module it must not depend on. Comments do
//! not count (a doc link is no dependency); `#[cfg(test)]` code at the end of a file does not
//! either (tests may build a scenario to drive a store).

use std::fs;
use std::path::{Path, PathBuf};

/// (part, as a folder or a file under src/; the modules it must never name).
const RULES: &[(&str, &[&str])] = &[
    // The engine knows nothing of the model.
    (
        "engine",
        &[
            "scenario", "workload", "balancer", "backend", "store", "sim", "metrics", "faults", "report", "sweep",
            "runner", "cli",
        ],
    ),
    // The balancer knows nothing of queues, sessions or the event loop.
    (
        "balancer",
        &["sim", "backend", "store", "metrics", "report", "sweep", "runner", "cli"],
    ),
    // Metrics is a leaf: the result rows every consumer reads.
    (
        "metrics",
        &[
            "scenario", "backend", "store", "balancer", "workload", "sim", "faults", "report", "sweep", "runner", "cli",
        ],
    ),
    // Report and sweep never import each other (both write through output.rs).
    ("report", &["sweep", "sim", "runner", "cli", "store", "balancer"]),
    ("sweep", &["report", "cli"]),
    ("output.rs", &["report", "sweep", "runner", "cli"]),
    // Drawing only: plain series in, PNG and SVG out.
    (
        "report/charts",
        &[
            "metrics", "scenario", "sim", "store", "balancer", "sweep", "runner", "cli",
        ],
    ),
    // The model's parts do not reach up to the run loop or the CLI.
    ("store", &["sim", "balancer", "report", "sweep", "runner", "cli"]),
    (
        "workload",
        &["sim", "balancer", "store", "report", "sweep", "runner", "cli"],
    ),
    ("faults", &["sim", "report", "sweep", "runner", "cli"]),
    (
        "backend",
        &["sim", "store", "balancer", "report", "sweep", "runner", "cli"],
    ),
    ("sim", &["report", "sweep", "runner", "cli"]),
    ("error.rs", &["report", "sweep", "cli"]),
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    for entry in fs::read_dir(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The `crate::NAME` modules a file's code names, with their line numbers (comments and the
/// trailing `#[cfg(test)]` module left out).
fn crate_refs(text: &str) -> Vec<(usize, String)> {
    let mut refs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let code = code.split(" //").next().unwrap_or(code);
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            refs.push((i + 1, name));
            rest = after;
        }
    }
    refs
}

#[test]
fn no_part_names_a_module_it_must_not_depend_on() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    let mut checked = 0;
    for (part, forbidden) in RULES {
        let mut files = Vec::new();
        rust_files(&src.join(part), &mut files);
        assert!(!files.is_empty(), "src/{part} has no Rust file: update RULES");
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            for (line, name) in crate_refs(&text) {
                checked += 1;
                if forbidden.contains(&name.as_str()) {
                    broken.push(format!(
                        "{}:{line}: src/{part} must not use crate::{name}",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} crate:: paths found: is the scan reading the code?"
    );
    assert!(broken.is_empty(), "arrows that must not exist:\n{}", broken.join("\n"));
}

#[test]
fn the_scan_sees_a_forbidden_path_and_skips_comments_and_tests() {
    let text = "use crate::engine::SimTime;\n\
                // crate::sweep in a comment\n\
                fn f() { crate::report::x(); } // crate::cli\n\
                #[cfg(test)]\n\
                mod tests { use crate::scenario::load_str; }\n";
    let names: Vec<String> = crate_refs(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["engine", "report"]);
}
