//! Loading a scenario: TOML text -> table -> `--set` overrides -> one merged table per strategy
//! -> raw structs -> validated [`Scenario`].
//!
//! Every message starts with the file name and the key path (`backends.servers[2].workers`)
//! and says what to change. Unknown keys are rejected with the nearest valid key suggested.

mod apache;
mod balancer;
mod balancer_import;
mod caddy;
mod envoy_kube;
mod faults;
pub(crate) mod locate;
pub(crate) mod replay;
mod sessions;
#[cfg(test)]
mod tests;
mod workload;

use super::raw::*;
use super::*;
use crate::balancer::MAX_SERVERS;
use crate::dist::{self, suggest, type_name};
use crate::error::{Error, Result};
use std::path::Path;
use toml::{Table, Value};

/// Keys a `[[strategy]]` entry may set besides `label`: the parts of a system.
const STRATEGY_KEYS: &[&str] = &[
    "label", "workload", "balancer", "backends", "sessions", "faults", "costs",
];

/// A `--set KEY=VALUE` override of one scenario key by its dotted path.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// The dotted key path, e.g. `backends.servers[1].weight`.
    pub path: String,
    /// The value, read as TOML.
    pub value: Value,
    /// The argument as the user wrote it (`--set backends.count=8`, `--seed 7`): a value it
    /// sets that fails validation is blamed on it, not on the file.
    pub arg: String,
}

impl Override {
    /// Parses `KEY=VALUE`. The value is read as TOML (`8`, `0.5`, `true`, `"5s"`,
    /// `{ dist = "exponential", mean = "50ms" }`); anything that is not valid TOML is taken as
    /// a string, so `--set balancer.policy=random` needs no quotes.
    pub fn parse(s: &str) -> Result<Override> {
        let (path, raw) = s
            .split_once('=')
            .ok_or_else(|| Error::bad_input(format!("--set {s}: expected KEY=VALUE, e.g. --set backends.count=8")))?;
        let path = path.trim();
        if path.is_empty() {
            return Err(Error::bad_input(format!("--set {s}: the key is empty")));
        }
        let raw = raw.trim();
        let value = match toml::from_str::<Table>(&format!("v = {raw}")) {
            Ok(mut t) => t.remove("v").unwrap_or(Value::String(raw.to_string())),
            Err(_) => Value::String(raw.to_string()),
        };
        Ok(Override {
            path: path.to_string(),
            value,
            arg: format!("--set {s}"),
        })
    }
}

/// Reads and validates a scenario file, applying overrides in order.
pub fn load(path: &Path, overrides: &[Override]) -> Result<Scenario> {
    load_with(
        path,
        &Overrides {
            set: overrides.to_vec(),
            strict: false,
        },
    )
}

/// Everything the command line changes in a scenario file, applied to its table before it is
/// validated (a validated [`Scenario`] is never edited).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `--set KEY=VALUE` (and `--seed`, `--replications`), in order.
    pub set: Vec<Override>,
    /// `--strict`: every replayed log of the scenario stops at its first malformed line.
    pub strict: bool,
}

/// Reads and validates a scenario file with the command line's overrides.
pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Scenario> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::bad_input(format!("{}: cannot read the scenario file: {e}", path.display())))?;
    let origin = path.display().to_string();
    let mut table = parse(&text, &origin, &overrides.set)?;
    if overrides.strict {
        set_strict(&mut table)?;
    }
    let src = Source {
        name: &origin,
        text: Some(&text),
        set: &overrides.set,
    };
    validate(table, &src, None)
}

/// Validates scenario text; `origin` names it in messages (usually the file path).
pub fn load_str(text: &str, origin: &str, overrides: &[Override]) -> Result<Scenario> {
    let src = Source {
        name: origin,
        text: Some(text),
        set: overrides,
    };
    validate(parse(text, origin, overrides)?, &src, None)
}

/// Scenario text as a table, `--set` overrides applied.
fn parse(text: &str, origin: &str, overrides: &[Override]) -> Result<Table> {
    let mut table = parse_text(text, origin)?;
    for o in overrides {
        set_path(&mut table, &o.path, o.value.clone())
            .map_err(|m| Error::bad_input(format!("{origin}: --set {}: {m}", o.path)))?;
    }
    Ok(table)
}

/// Scenario text as a table; a syntax error shows its line and a caret, as Cargo does.
pub(crate) fn parse_text(text: &str, origin: &str) -> Result<Table> {
    toml::from_str(text).map_err(|e| Error::bad_input(locate::syntax_error(origin, text, &e)))
}

/// Where a table being validated came from, so that a problem can be shown where it is: the
/// `--set` argument that wrote the value, else the file's line and column (with its text),
/// else the file and the key path (tables a sweep or `replay` built have no text).
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    /// The file's name in messages.
    pub name: &'a str,
    /// The file's text, when the table is the file's (plus `--set`).
    pub text: Option<&'a str>,
    /// The overrides applied to the table.
    pub set: &'a [Override],
}

impl Source<'_> {
    /// A source with no text and no overrides: messages name the file and the key path.
    pub(crate) fn plain(name: &str) -> Source<'_> {
        Source {
            name,
            text: None,
            set: &[],
        }
    }

    /// The error for a problem at `path` of the base table, or of strategy `i` (labelled, with
    /// its own table `st`) when it comes from merging the two. The value is blamed where it was
    /// written: a key the strategy does not set is the base's, whichever strategy found it.
    fn blame(&self, base: &Table, strategy: Option<(usize, &str, &Table)>, path: &str, msg: String) -> Error {
        let segs = locate::segments(path);
        let mine = match strategy {
            Some((_, _, st)) if !segs.is_empty() => {
                let (ds, db) = (locate::depth(st, &segs), locate::depth(base, &segs));
                ds == segs.len() || (db < segs.len() && ds >= db && ds > 0)
            }
            _ => false,
        };
        let shown_path = if segs.is_empty() { "(top level)" } else { path };
        let (full, shown, msg) = match strategy {
            Some((i, label, _)) if mine => {
                let mut full = vec![locate::Seg::Key("strategy".into()), locate::Seg::Index(i)];
                full.extend(segs);
                (full, format!("strategy[{i}] \"{label}\": {shown_path}"), msg)
            }
            Some((i, label, st)) => {
                // The base's key, but the strategy changes the same section: say which one
                // the combination failed in.
                let section = match segs.first() {
                    Some(locate::Seg::Key(k)) if st.contains_key(k) => Some(k),
                    _ => None,
                };
                let msg = match section {
                    Some(k) => format!("{msg} (with the [{k}] keys of strategy[{i}] \"{label}\")"),
                    None => msg,
                };
                (segs, shown_path.to_string(), msg)
            }
            None => (segs, shown_path.to_string(), msg),
        };
        if let Some(o) = self
            .set
            .iter()
            .rev()
            .find(|o| locate::is_prefix(&locate::segments(o.path.trim()), &full))
        {
            return Error::bad_input(format!("{}: {shown}: {msg}", o.arg));
        }
        let head = format!("{shown}: {msg}");
        if let Some(text) = self.text
            && let Some(range) = locate::span(text, &full, msg.starts_with("unknown key"))
        {
            return Error::bad_input(locate::render(self.name, text, range, &head));
        }
        Error::bad_input(format!("{}: {head}", self.name))
    }
}

/// `--strict`: `strict = true` in every `[workload.replay]` of the table, the base's and each
/// strategy's; bad input when there is none.
pub(crate) fn set_strict(table: &mut Table) -> Result<()> {
    fn replay_of(t: &mut Table) -> Option<&mut Table> {
        match t.get_mut("workload")? {
            Value::Table(w) => match w.get_mut("replay")? {
                Value::Table(r) => Some(r),
                _ => None,
            },
            _ => None,
        }
    }
    let mut any = false;
    if let Some(r) = replay_of(table) {
        r.insert("strict".into(), Value::Boolean(true));
        any = true;
    }
    if let Some(Value::Array(strategies)) = table.get_mut("strategy") {
        for st in strategies {
            if let Value::Table(st) = st
                && let Some(r) = replay_of(st)
            {
                r.insert("strict".into(), Value::Boolean(true));
                any = true;
            }
        }
    }
    if any {
        Ok(())
    } else {
        Err(Error::bad_input(
            "--strict applies to replayed logs, and this scenario has no [workload.replay]",
        ))
    }
}

/// Validates an already-parsed scenario table (sweeps build these from a base and a grid point).
pub fn from_table(table: Table, origin: &str) -> Result<Scenario> {
    validate(table, &Source::plain(origin), None)
}

/// How long a replayed log lasts (the time of its last request): what a scenario whose
/// duration comes from its log ([`replay::load_replay`]) asks of the caller, who reads the log.
pub type LogSpan<'a> = &'a dyn Fn(&ReplayConfig) -> Result<SimTime>;

/// Validates a table once. With `span`, the duration is not the table's (a placeholder) but one
/// second past the last request of the first strategy's log, in whole seconds: the top-level
/// keys that depend on it (warmup, bucket) are validated after the systems.
fn validate(mut table: Table, src: &Source, span: Option<LogSpan>) -> Result<Scenario> {
    let origin = src.name;
    let mut source = table.clone();
    // The `[sweep]` section belongs to `sessim sweep` and `sessim plan` (crate::sweep), which
    // validate it and set its axis values into copies of this table. A single run ignores it.
    table.remove("sweep");
    let strategies = match table.remove("strategy") {
        None => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(src.blame(
                &table,
                None,
                "strategy",
                format!("expected an array of tables ([[strategy]]), got {}", type_name(&other)),
            ));
        }
    };
    let base_bad = |path: &str, msg: String| src.blame(&table, None, path, msg);

    // Files a scenario names (a balancer config) are relative to the scenario's folder.
    let base_dir = Path::new(origin).parent().unwrap_or(Path::new("")).to_path_buf();
    let check_base = |t: &Table| -> PathResult<()> {
        let raw = deserialize(t)?;
        validate_top(&raw)?;
        validate_system(&raw, &base_dir).map(|_| ())
    };
    let mut base_raw = deserialize_or_hint(&table, &check_base).map_err(|(p, m)| base_bad(&p, m))?;
    let mut top = match span {
        None => Some(validate_top(&base_raw).map_err(|(p, m)| base_bad(&p, m))?),
        Some(_) => None,
    };
    let mut systems: Vec<Strategy> = Vec::new();

    if strategies.is_empty() {
        let system = validate_system(&base_raw, &base_dir).map_err(|(p, m)| base_bad(&p, m))?;
        let label = format!("{} + {}", system.balancer.policy.name, system.sessions.storage.name());
        systems.push(Strategy { label, system });
    }
    for (i, s) in strategies.into_iter().enumerate() {
        let at = format!("strategy[{i}]");
        let Value::Table(mut st) = s else {
            return Err(base_bad(&at, "expected a table ([[strategy]])".into()));
        };
        let label = match st.remove("label") {
            Some(Value::String(l)) if !l.trim().is_empty() => l,
            Some(Value::String(_)) => return Err(base_bad(&format!("{at}.label"), "must not be empty".into())),
            Some(other) => {
                return Err(base_bad(
                    &format!("{at}.label"),
                    format!("expected a string, got {}", type_name(&other)),
                ));
            }
            None => {
                return Err(base_bad(
                    &at,
                    "needs a `label`, e.g. label = \"ip_hash + local\"".into(),
                ));
            }
        };
        let bad = |path: &str, msg: String| src.blame(&table, Some((i, &label, &st)), path, msg);
        for k in st.keys() {
            if !STRATEGY_KEYS.contains(&k.as_str()) {
                return Err(bad(
                    k,
                    format!(
                        "unknown key `{k}`: a strategy may override only {}{}",
                        STRATEGY_KEYS[1..].join(", "),
                        suggest(k, STRATEGY_KEYS)
                    ),
                ));
            }
        }
        if systems.iter().any(|s| s.label == label) {
            return Err(base_bad(
                &format!("{at}.label"),
                format!("two strategies have the label \"{label}\"; labels must be unique"),
            ));
        }
        let mut merged = table.clone();
        merge(&mut merged, st.clone());
        let check = |t: &Table| -> PathResult<()> { validate_system(&deserialize(t)?, &base_dir).map(|_| ()) };
        let raw = deserialize_or_hint(&merged, &check).map_err(|(p, m)| bad(&p, m))?;
        let system = validate_system(&raw, &base_dir).map_err(|(p, m)| bad(&p, m))?;
        systems.push(Strategy { label, system });
    }
    if let Some(span) = span {
        let Some(cfg) = systems.first().and_then(|s| s.system.workload.replay.as_ref()) else {
            return Err(Error::bad_input(format!(
                "{origin}: no [workload.replay] after setting the log"
            )));
        };
        let secs = span(cfg)?.as_secs_f64().floor() as u64 + 1;
        let duration = Value::String(format!("{secs}s"));
        source.insert("duration".into(), duration.clone());
        base_raw.duration = duration;
        top = Some(validate_top(&base_raw).map_err(|(p, m)| base_bad(&p, m))?);
    }
    let Some(mut scenario) = top else {
        return Err(Error::internal(
            "scenario loader: the top-level keys were not validated",
        ));
    };
    scenario.strategies = systems;
    scenario.source = source;
    Ok(scenario)
}

/// Deep merge: tables merge key by key, anything else replaces. A distribution (a table with a
/// `dist` key) replaces the base's as a whole: its parameters belong together.
pub fn merge(base: &mut Table, over: Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(o)) if !o.contains_key("dist") => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Sets `value` at a dotted path such as `backends.servers[1].weight` or
/// `strategy[0].balancer.policy`, creating tables on the way.
pub fn set_path(table: &mut Table, path: &str, value: Value) -> std::result::Result<(), String> {
    let mut segs: Vec<(&str, Option<usize>)> = Vec::new();
    for seg in path.split('.') {
        let (name, idx) = match seg.split_once('[') {
            Some((n, rest)) => {
                let i = rest
                    .strip_suffix(']')
                    .and_then(|x| x.parse::<usize>().ok())
                    .ok_or_else(|| format!("`{seg}`: an index is written name[0]"))?;
                (n, Some(i))
            }
            None => (seg, None),
        };
        if name.is_empty() {
            return Err("empty key in the path".into());
        }
        segs.push((name, idx));
    }
    let mut cur = table;
    for (n, (name, idx)) in segs.iter().enumerate() {
        let last = n + 1 == segs.len();
        match idx {
            None if last => {
                cur.insert(name.to_string(), value);
                return Ok(());
            }
            None => {
                let entry = cur
                    .entry(name.to_string())
                    .or_insert_with(|| Value::Table(Table::new()));
                cur = match entry {
                    Value::Table(t) => t,
                    other => return Err(format!("`{name}` is {}, not a table", type_name(other))),
                };
            }
            Some(i) => {
                let Some(Value::Array(arr)) = cur.get_mut(*name) else {
                    return Err(format!("`{name}` is not an array in the scenario"));
                };
                let len = arr.len();
                let Some(item) = arr.get_mut(*i) else {
                    return Err(format!("`{name}` has {len} entries; index {i} is out of range"));
                };
                if last {
                    *item = value;
                    return Ok(());
                }
                cur = match item {
                    Value::Table(t) => t,
                    other => return Err(format!("`{name}[{i}]` is {}, not a table", type_name(other))),
                };
            }
        }
    }
    Ok(())
}

type PathResult<T> = std::result::Result<T, (String, String)>;

fn deserialize(table: &Table) -> PathResult<RawScenario> {
    serde_path_to_error::deserialize::<_, RawScenario>(Value::Table(table.clone())).map_err(|e| {
        let path = e.path().to_string();
        let msg = friendly_serde_message(&e.inner().to_string());
        (if path == "." { "(top level)".to_string() } else { path }, msg)
    })
}

/// [`deserialize`], and for a negative count the least value the key takes: serde only knows
/// the field is unsigned, so the table is checked again with 0 there (`check` validates it)
/// and the validation's own "must be at least N" is taken when it fails at the same key.
fn deserialize_or_hint(table: &Table, check: &dyn Fn(&Table) -> PathResult<()>) -> PathResult<RawScenario> {
    deserialize(table).map_err(|(path, msg)| {
        let Some(got) = msg.strip_prefix(NEGATIVE).and_then(|r| r.split(", got ").nth(1)) else {
            return (path, msg);
        };
        let mut zero = table.clone();
        if set_path(&mut zero, &path, Value::Integer(0)).is_ok()
            && let Err((p, m)) = check(&zero)
            && p == path
            && let Some(rest) = m.strip_prefix("must be at least ")
            && let Some((min, _)) = rest.split_once(", got 0")
        {
            return (path, format!("must be at least {min}, got {got}"));
        }
        (path, msg)
    })
}

/// How [`friendly_serde_message`] starts the message for a negative number where a count goes.
const NEGATIVE: &str = "must be a whole number, 0 or more";

/// Rewrites serde's messages in the scenario's terms: "key" not "field", a suggestion for an
/// unknown key, and types in words ("a whole number", not "u32").
pub(crate) fn friendly_serde_message(msg: &str) -> String {
    let msg = msg.lines().next().unwrap_or(msg).trim();
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((got, tail)) = rest.split_once('`')
    {
        let valid: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        return format!(
            "unknown key `{got}`{}; valid keys here: {}",
            suggest(got, &valid),
            valid.join(", ")
        );
    }
    if let Some(rest) = msg.strip_prefix("missing field `")
        && let Some((k, _)) = rest.split_once('`')
    {
        return format!("missing key `{k}`; see docs/scenario-format.md");
    }
    if let Some(rest) = msg.strip_prefix("invalid value: integer `")
        && let Some((n, tail)) = rest.split_once('`')
        && let Ok(n) = n.parse::<i128>()
        && let Some(ty) = tail.strip_prefix(", expected ")
    {
        if n < 0 {
            return format!("{NEGATIVE}, got {n}");
        }
        let max = match ty {
            "u8" => Some(u8::MAX as u64),
            "u16" => Some(u16::MAX as u64),
            "u32" => Some(u32::MAX as u64),
            _ => None,
        };
        if let Some(max) = max {
            return format!("must be at most {max}, got {n}");
        }
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ")
        && let Some((got, ty)) = rest.rsplit_once(", expected ")
    {
        return format!("expected {}, got {got}", type_in_words(ty));
    }
    msg.to_string()
}

/// serde's name of an expected type, in the scenario's words.
fn type_in_words(ty: &str) -> &str {
    match ty {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" => "a whole number",
        "f32" | "f64" => "a number",
        "a sequence" => "an array",
        "a map" => "a table",
        t if t.starts_with("struct ") => "a table",
        t => t,
    }
}

fn err<T>(path: impl Into<String>, msg: impl Into<String>) -> PathResult<T> {
    Err((path.into(), msg.into()))
}

fn duration(v: &Value, path: &str) -> PathResult<SimTime> {
    dist::parse_scalar(v, Kind::Duration)
        .map(SimTime::from_secs_f64)
        .map_err(|m| (path.to_string(), m))
}

fn parse_dist(v: &Value, kind: Kind, path: &str) -> PathResult<Dist> {
    dist::parse(v, kind).map_err(|m| (path.to_string(), m))
}

fn fraction(v: f64, path: &str) -> PathResult<f64> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        err(path, format!("must be a fraction between 0 and 1, got {v}"))
    }
}

fn at_least(v: u32, min: u32, path: &str) -> PathResult<u32> {
    if v >= min {
        Ok(v)
    } else {
        err(path, format!("must be at least {min}, got {v}"))
    }
}

fn choice<T: Copy>(got: &str, all: &[(&str, T)], path: &str) -> PathResult<T> {
    if let Some((_, k)) = all.iter().find(|(n, _)| *n == got) {
        return Ok(*k);
    }
    let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
    err(
        path,
        format!(
            "unknown value `{got}`{}; choose one of: {}",
            suggest(got, &names),
            names.join(", ")
        ),
    )
}

fn validate_top(raw: &RawScenario) -> PathResult<Scenario> {
    if raw.name.trim().is_empty() {
        return err("name", "must not be empty");
    }
    if raw.name.contains(['/', '\\']) || raw.name.starts_with('.') {
        return err(
            "name",
            format!("`{}` is used as a folder name: no slashes, no leading dot", raw.name),
        );
    }
    let duration = duration(&raw.duration, "duration")?;
    if duration == SimTime::ZERO {
        return err("duration", "must be longer than 0s");
    }
    let warmup = match &raw.warmup {
        Some(v) => duration_fn(v, "warmup")?,
        // A replayed log is measured whole: its first requests are real traffic, not an
        // empty-start transient to discard.
        None if raw.workload.replay.is_some() => SimTime::ZERO,
        // 5% of the run, as validation.md recommends for an empty-start bias.
        None => SimTime(duration.as_nanos() / 20),
    };
    if warmup >= duration {
        return err(
            "warmup",
            format!("must be shorter than the duration ({duration}), got {warmup}"),
        );
    }
    let replications = at_least(raw.replications.unwrap_or(1), 1, "replications")?;
    let bucket = match raw.output.as_ref().and_then(|o| o.bucket.as_ref()) {
        Some(v) => {
            let b = duration_fn(v, "output.bucket")?;
            if b == SimTime::ZERO {
                return err("output.bucket", "must be longer than 0s");
            }
            if duration.as_nanos() / b.as_nanos().max(1) > 100_000 {
                return err(
                    "output.bucket",
                    format!("{b} makes more than 100000 buckets over {duration}; choose a wider bucket"),
                );
            }
            b
        }
        None => default_bucket(duration),
    };
    Ok(Scenario {
        name: raw.name.clone(),
        description: raw.description.clone(),
        seed: raw.seed.unwrap_or(1),
        duration,
        warmup,
        replications,
        bucket,
        strategies: Vec::new(),
        source: Table::new(),
    })
}

fn duration_fn(v: &Value, path: &str) -> PathResult<SimTime> {
    duration(v, path)
}

/// A round bucket width giving about 100 buckets: 1, 2 or 5 times a power of ten seconds.
pub fn default_bucket(duration: SimTime) -> SimTime {
    let target = duration.as_secs_f64() / 100.0;
    let mut best = 1e-3;
    for exp in -3..=7 {
        for m in [1.0, 2.0, 5.0] {
            let w = m * 10f64.powi(exp);
            if w <= target {
                best = w;
            }
        }
    }
    SimTime::from_secs_f64(best)
}

fn validate_system(raw: &RawScenario, base_dir: &Path) -> PathResult<System> {
    let workload = workload::validate_workload(&raw.workload, base_dir)?;
    let (balancer, backends) = balancer::validate(&raw.balancer, &raw.backends, base_dir)?;
    let sessions = sessions::validate_sessions(&raw.sessions)?;
    let faults = faults::validate(raw.faults.as_deref().unwrap_or(&[]), &backends, &sessions)?;
    let costs = validate_costs(raw.costs.as_ref())?;
    Ok(System {
        workload,
        balancer,
        backends,
        sessions,
        faults,
        costs,
    })
}

fn validate_costs(r: Option<&RawCosts>) -> PathResult<CostsConfig> {
    let Some(r) = r else {
        return Ok(CostsConfig::default());
    };
    let price = |v: Option<f64>, key: &str| -> PathResult<f64> {
        match v {
            None => Ok(0.0),
            Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
            Some(x) => err(
                format!("costs.{key}"),
                format!("a price must be a number at least 0, got {x}"),
            ),
        }
    };
    Ok(CostsConfig {
        currency: r.currency.clone().unwrap_or_default(),
        backend_per_hour: price(r.backend_per_hour, "backend_per_hour")?,
        worker_per_hour: price(r.worker_per_hour, "worker_per_hour")?,
        server_per_hour: [
            price(r.redis_server_per_hour, "redis_server_per_hour")?,
            price(r.memcached_server_per_hour, "memcached_server_per_hour")?,
            price(r.sql_server_per_hour, "sql_server_per_hour")?,
        ],
        store_memory_per_gb_hour: price(r.store_memory_per_gb_hour, "store_memory_per_gb_hour")?,
        network_per_gb: price(r.network_per_gb, "network_per_gb")?,
        lost_session: price(r.lost_session, "lost_session")?,
        logout: price(r.logout, "logout")?,
    })
}

fn size(v: &Value, path: &str) -> PathResult<u64> {
    let x = dist::parse_scalar(v, Kind::Bytes).map_err(|m| (path.to_string(), m))?;
    if x > u32::MAX as f64 * 1024.0 {
        return err(path, format!("{x} bytes is too large"));
    }
    Ok(x.round() as u64)
}

fn size32(v: &Value, path: &str) -> PathResult<u32> {
    let x = size(v, path)?;
    u32::try_from(x).map_err(|_| (path.to_string(), format!("at most {} bytes, got {x}", u32::MAX)))
}

fn opt_duration(v: &Option<Value>, path: &str, default: SimTime) -> PathResult<SimTime> {
    match v {
        Some(v) => duration(v, path),
        None => Ok(default),
    }
}

fn validate_backends(b: &RawBackends) -> PathResult<Vec<BackendConfig>> {
    let default_service = match &b.service_time {
        Some(v) => parse_dist(v, Kind::Duration, "backends.service_time")?,
        None => Dist::exponential(0.05).map_err(|m| ("backends.service_time".to_string(), m))?,
    };
    let servers: Vec<RawServer> = match (&b.servers, b.count) {
        (Some(list), Some(n)) if list.len() != n as usize => {
            return err(
                "backends.count",
                format!(
                    "is {n} but backends.servers lists {} servers; drop `count` or make them agree",
                    list.len()
                ),
            );
        }
        (Some(list), _) if list.is_empty() => return err("backends.servers", "must list at least one server"),
        (Some(list), _) if list.len() > MAX_SERVERS => {
            return err(
                "backends.servers",
                format!("at most {MAX_SERVERS} backends behind one balancer, got {}", list.len()),
            );
        }
        (Some(_), _) => Vec::new(),
        (None, n) => {
            let n = at_least(n.unwrap_or(4), 1, "backends.count")?;
            if n as usize > MAX_SERVERS {
                return err(
                    "backends.count",
                    format!("at most {MAX_SERVERS} backends behind one balancer, got {n}"),
                );
            }
            (0..n).map(|_| RawServer::default()).collect()
        }
    };
    let list: &[RawServer] = b.servers.as_deref().unwrap_or(&servers);
    let mut out: Vec<BackendConfig> = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let path = if b.servers.is_some() {
            format!("backends.servers[{i}]")
        } else {
            "backends".to_string()
        };
        let name = s.name.clone().unwrap_or_else(|| format!("web{}", i + 1));
        if name.trim().is_empty() || name.contains([',', '"', '\n']) {
            return err(
                format!("{path}.name"),
                format!("`{name}` must be non-empty, without commas or quotes"),
            );
        }
        if out.iter().any(|o| o.name == name) {
            return err(
                format!("{path}.name"),
                format!("two backends are named `{name}`; names must be unique"),
            );
        }
        let weight = s.weight.or(b.weight).unwrap_or(1);
        if !(1..=1000).contains(&weight) {
            return err(
                format!("{path}.weight"),
                format!("must be between 1 and 1000, got {weight}"),
            );
        }
        let service_time = match &s.service_time {
            Some(v) => parse_dist(v, Kind::Duration, &format!("{path}.service_time"))?,
            None => default_service.clone(),
        };
        out.push(BackendConfig {
            name,
            weight,
            workers: at_least(s.workers.or(b.workers).unwrap_or(8), 1, &format!("{path}.workers"))?,
            queue: s.queue.or(b.queue).unwrap_or(100),
            service_time,
            backup: s.backup.unwrap_or(false),
            down: s.down.unwrap_or(false),
        });
    }
    if out.iter().all(|s| s.down) {
        return err(
            "backends",
            "every backend is marked `down`: nothing could serve a request",
        );
    }
    Ok(out)
}
