//! The config readers against the real servers' own config checks: every file of the
//! corpus in tests/data/conformance/ (written by its generate.py: variants of one real
//! nginx.conf and one real haproxy.cfg, each one edit away from the base) goes through
//! `nginx -t -c` / `haproxy -c -f` and through sessim's reader and policy builder, as
//! `sessim check` reads a `balancer.config`.
//!
//! Agreement, per file:
//! - the real server rejects it: sessim rejects it too, naming a line (`file:line`) unless
//!   the real server's message names none (nginx's `no "events" section`);
//! - the real server accepts it: sessim accepts it, or refuses it with a message that says
//!   what is "not modelled".
//!
//! Also counted (not required): sessim's error names the same file and line as the real
//! server's. Needs `nginx` and `haproxy` (Debian packages); `#[ignore]`d like
//! [`crate::conformance`], run by .ci/run's `cargo test --test integration -- --ignored
//! conformance`. nginx -t runs with its pid file and error log in a temporary folder; a
//! lone `upstream` file is checked by nginx through a wrapper that includes it in `http`.
//! Nothing is started: both checks only parse (nginx -t opens no listening socket).

use sessim::balancer::build;
use sessim::balancer::config::{ConfigError, haproxy, nginx};
use std::path::{Path, PathBuf};
use std::process::Command;

fn require(name: &str) -> PathBuf {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` not found: install it (apt-get install nginx haproxy)"))
}

fn corpus(dir: &str, ext: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/conformance")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

/// What the real server said: accepted, or its first error with the file and line it names.
struct Real {
    ok: bool,
    message: String,
    place: Option<(String, usize)>,
}

/// What sessim said: accepted, or its error with the file and line it names.
struct Ours {
    ok: bool,
    message: String,
    place: Option<(String, usize)>,
}

fn ours(main: &Path, r: Result<sessim::balancer::config::Imported, ConfigError>) -> Ours {
    match r {
        Ok(imp) => match build(&imp.conf) {
            Ok(_) => Ours {
                ok: true,
                message: String::new(),
                place: None,
            },
            Err(e) => Ours {
                ok: false,
                message: e.to_string(),
                place: None,
            },
        },
        Err(e) => {
            let file = e.file.clone().unwrap_or_else(|| main.to_path_buf());
            Ours {
                ok: false,
                place: (e.line > 0).then(|| (file.display().to_string(), e.line)),
                message: e.to_string(),
            }
        }
    }
}

#[derive(Default)]
struct Tally {
    files: usize,
    agree: usize,
    rejected: usize,
    same_place: usize,
    disagreements: Vec<String>,
    /// Rejected by both, at different places: printed, not a failure.
    other_place: Vec<String>,
}

impl Tally {
    fn add(&mut self, name: &str, real: &Real, ours: &Ours) {
        self.files += 1;
        let agree = if real.ok {
            ours.ok || ours.message.contains("not modelled")
        } else {
            self.rejected += 1;
            !ours.ok && (ours.place.is_some() || real.place.is_none())
        };
        // Same place: the same file and line, or no line in either (nginx's `no "events"
        // section` names none).
        if !real.ok && !ours.ok && real.place == ours.place {
            self.same_place += 1;
        } else if !real.ok && !ours.ok {
            self.other_place.push(format!(
                "{name}: real at {:?} ({}); sessim at {:?} ({})",
                real.place, real.message, ours.place, ours.message
            ));
        }
        if agree {
            self.agree += 1;
        } else {
            self.disagreements.push(format!(
                "{name}: real {} ({}); sessim {} ({})",
                if real.ok { "accepts" } else { "rejects" },
                real.message,
                if ours.ok { "accepts" } else { "rejects" },
                ours.message
            ));
        }
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what}: sessim agrees on {} of {} files ({} rejected by {what}, {} accepted); same file:line as {what} on {} of the {} rejected",
            self.agree,
            self.files,
            self.rejected,
            self.files - self.rejected,
            self.same_place,
            self.rejected
        )
    }
}

/// `... in /path/file.conf:12` at the end of an nginx [emerg] line.
fn nginx_place(msg: &str) -> Option<(String, usize)> {
    let (_, tail) = msg.rsplit_once(" in ")?;
    let (file, line) = tail.trim().rsplit_once(':')?;
    Some((file.to_string(), line.parse().ok()?))
}

fn run_nginx(bin: &Path, file: &Path) -> Real {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let lone = file
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("lone-"));
    let conf = if lone {
        // A lone upstream block, included in http as a deployment would.
        let wrap = d.join("wrap.conf");
        let text = format!(
            "events {{ }}\nhttp {{\n    include {};\n    server {{ listen 127.0.0.1:18400; location / {{ proxy_pass http://app; }} }}\n}}\n",
            file.display()
        );
        std::fs::write(&wrap, text).expect("write wrapper");
        wrap
    } else {
        file.to_path_buf()
    };
    let out = Command::new(bin)
        .arg("-t")
        .arg("-q")
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(d.join("error.log"))
        .arg("-g")
        .arg(format!("pid {};", d.join("nginx.pid").display()))
        .output()
        .expect("run nginx -t");
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err
        .lines()
        .find(|l| l.contains("[emerg]"))
        .unwrap_or_default()
        .to_string();
    Real {
        ok: out.status.success(),
        place: nginx_place(&first),
        message: first
            .split_once("[emerg] ")
            .map_or(first.clone(), |(_, m)| m.to_string()),
    }
}

/// `[file:12]` in an HAProxy [ALERT] line.
fn haproxy_place(msg: &str) -> Option<(String, usize)> {
    let open = msg.find("config : ")?;
    let rest = &msg[open..];
    let a = rest.find('[')?;
    let b = rest[a..].find(']')? + a;
    let (file, line) = rest[a + 1..b].rsplit_once(':')?;
    Some((file.to_string(), line.parse().ok()?))
}

fn run_haproxy(bin: &Path, file: &Path) -> Real {
    let out = Command::new(bin)
        .arg("-c")
        .arg("-f")
        .arg(file)
        .output()
        .expect("run haproxy -c");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let first = text
        .lines()
        .find(|l| l.contains("[ALERT]"))
        .unwrap_or_default()
        .to_string();
    // Exit code 2 with "has no error but will not start (no listener)" is a lone backend:
    // a valid section that needs a frontend to run, which is what sessim imports.
    let no_listener_only = out.status.code() == Some(2) && text.contains("has no error");
    Real {
        ok: out.status.success() || no_listener_only,
        place: haproxy_place(&first),
        message: first
            .split_once("config : ")
            .map_or(first.clone(), |(_, m)| m.to_string()),
    }
}

#[test]
#[ignore = "needs nginx and haproxy (apt-get install nginx haproxy); .ci/run runs it"]
fn config_reader_conformance_corpus() {
    let nginx_bin = require("nginx");
    let haproxy_bin = require("haproxy");
    let mut ng = Tally::default();
    for f in corpus("nginx", "conf") {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let real = run_nginx(&nginx_bin, &f);
        let us = ours(&f, nginx::import_file(&f, Some("app")));
        ng.add(&name, &real, &us);
    }
    let mut hx = Tally::default();
    for f in corpus("haproxy", "cfg") {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let real = run_haproxy(&haproxy_bin, &f);
        let text = std::fs::read_to_string(&f).expect("read corpus file");
        let us = ours(&f, haproxy::import(&text, Some("app")));
        hx.add(&name, &real, &us);
    }
    let summary = format!("{}\n{}", ng.line("nginx -t"), hx.line("haproxy -c"));
    println!("{summary}");
    let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/conformance");
    if std::fs::create_dir_all(&keep).is_ok() {
        let _ = std::fs::write(keep.join("config-readers.txt"), format!("{summary}\n"));
    }
    let all: Vec<&String> = ng.disagreements.iter().chain(&hx.disagreements).collect();
    for d in ng.other_place.iter().chain(&hx.other_place) {
        println!("elsewhere: {d}");
    }
    for d in &all {
        println!("DISAGREE {d}");
    }
    // The corpus must exercise both sides: at least 30 files each server rejects in all,
    // and at least 30 it accepts (issue 13's requirement).
    let rejected = ng.rejected + hx.rejected;
    let accepted = ng.files + hx.files - rejected;
    assert!(
        rejected >= 30 && accepted >= 30,
        "corpus too small: {rejected} rejected, {accepted} accepted"
    );
    assert!(all.is_empty(), "{} disagreements (above)", all.len());
}
