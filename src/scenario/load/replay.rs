//! `sessim replay`'s scenario: a log as the workload and a balancer config as the balancer,
//! over a given scenario (or an empty one: routing only), applied to the table before it is
//! validated, once, with the duration taken from the log.

use super::{LogSpan, Source, parse_text, set_strict, validate};
use crate::error::{Error, Result};
use crate::scenario::Scenario;
use std::path::{Path, PathBuf};

/// What `sessim replay` changes in its scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReplayOverride {
    /// The access log.
    pub(crate) log: PathBuf,
    /// The nginx, HAProxy or Apache httpd config whose balancer routes the requests.
    pub(crate) balancer: PathBuf,
    /// The scenario giving the rest; none for routing only (no sessions).
    pub(crate) scenario: Option<PathBuf>,
    /// The log format, when not the scenario's (or combined).
    pub(crate) format: Option<String>,
    /// The nginx upstream block (or Apache `balancer://NAME`) to use.
    pub(crate) upstream: Option<String>,
    /// The HAProxy backend or listen section to use.
    pub(crate) backend: Option<String>,
    /// A malformed line is an error.
    pub(crate) strict: bool,
}

/// The scenario `sessim replay` runs, validated once: `span` reads the first strategy's log and
/// says when its last request arrives (arrivals stop one second after, in whole seconds).
pub(crate) fn load_replay(o: &ReplayOverride, span: LogSpan) -> Result<Scenario> {
    let (table, origin) = replay_table(o)?;
    // The table is the file's with the log and the config put in: keys the command line set
    // have no place in the file's text, so messages name the key path only.
    validate(table, &Source::plain(&origin), Some(span))
}

/// Keys of `[workload]` that the log replaces: dropped from a `--scenario` given to `replay`.
const SYNTHETIC_WORKLOAD_KEYS: &[&str] = &[
    "users_per_second",
    "profile",
    "profile_repeat",
    "pages",
    "login",
    "requests",
    "think_time",
    "parallel",
    "classes",
    "addresses",
];

fn absolute(p: &Path) -> Result<String> {
    let abs = std::path::absolute(p).map_err(|e| Error::io(p, e))?;
    Ok(abs.display().to_string())
}

/// The table of the scenario `sessim replay` runs: the given one (or an empty one, routing
/// only) with the log as its workload and the config as its balancer.
fn replay_table(args: &ReplayOverride) -> Result<(toml::Table, String)> {
    use toml::Value;
    let (mut table, origin) = match &args.scenario {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Error::bad_input(format!("{}: cannot read the scenario file: {e}", p.display())))?;
            let t = parse_text(&text, &p.display().to_string())?;
            (t, p.display().to_string())
        }
        None => {
            let stem = args
                .log
                .file_stem()
                .map_or("log".into(), |s| s.to_string_lossy().into_owned())
                .replace(['/', '\\'], "_");
            let mut t = toml::Table::new();
            t.insert(
                "name".into(),
                Value::String(format!("replay-{}", stem.trim_start_matches('.'))),
            );
            (t, "replay".to_string())
        }
    };
    // The duration is set from the log itself once it is known; a placeholder until then.
    table.insert("duration".into(), Value::String("1s".into()));
    table.remove("warmup");
    let workload = table
        .entry("workload")
        .or_insert_with(|| Value::Table(toml::Table::new()));
    let Value::Table(workload) = workload else {
        return Err(Error::bad_input(format!("{origin}: workload: expected a table")));
    };
    for k in SYNTHETIC_WORKLOAD_KEYS {
        workload.remove(*k);
    }
    let replay = workload
        .entry("replay")
        .or_insert_with(|| Value::Table(toml::Table::new()));
    let Value::Table(replay) = replay else {
        return Err(Error::bad_input(format!("{origin}: workload.replay: expected a table")));
    };
    replay.insert("file".into(), Value::String(absolute(&args.log)?));
    if let Some(f) = &args.format {
        replay.insert("format".into(), Value::String(f.clone()));
    }
    if args.scenario.is_none() {
        // Routing only: no sessions to find or lose.
        replay.insert("login".into(), Value::Boolean(false));
    }
    let mut balancer = toml::Table::new();
    balancer.insert("config".into(), Value::String(absolute(&args.balancer)?));
    if let Some(u) = &args.upstream {
        balancer.insert("upstream".into(), Value::String(u.clone()));
    }
    if let Some(b) = &args.backend {
        balancer.insert("backend".into(), Value::String(b.clone()));
    }
    table.insert("balancer".into(), Value::Table(balancer));
    // The config is the balancer of every strategy: strategies keep their other overrides
    // (storage, backends) and compare those behind it.
    if let Some(Value::Array(strategies)) = table.get_mut("strategy") {
        for st in strategies {
            if let Value::Table(st) = st {
                st.remove("balancer");
            }
        }
    }
    if args.strict {
        set_strict(&mut table)?;
    }
    Ok((table, origin))
}
