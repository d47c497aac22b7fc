//! Loading a scenario: TOML text -> table -> `--set` overrides -> one merged table per strategy
//! -> raw structs -> validated [`Scenario`].
//!
//! Every message starts with the file name and the key path (`backends.servers[2].workers`)
//! and says what to change. Unknown keys are rejected with the nearest valid key suggested.

mod balancer;
mod envoy_kube;
mod faults;

use super::raw::*;
use super::*;
use crate::balancer::MAX_SERVERS;
use crate::dist::{self, suggest, type_name};
use crate::error::{Error, Result};
use crate::store::tomcat::channel::SendMode;
use crate::store::tomcat::membership::Membership;
use std::path::Path;
use toml::{Table, Value};

/// Keys a `[[strategy]]` entry may set besides `label`: the parts of a system.
const STRATEGY_KEYS: &[&str] = &[
    "label", "workload", "balancer", "backends", "sessions", "faults", "costs",
];

/// A `--set KEY=VALUE` override of one scenario key by its dotted path.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub path: String,
    pub value: Value,
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
        })
    }
}

/// Reads and validates a scenario file, applying overrides in order.
pub fn load(path: &Path, overrides: &[Override]) -> Result<Scenario> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::bad_input(format!("{}: cannot read the scenario file: {e}", path.display())))?;
    load_str(&text, &path.display().to_string(), overrides)
}

/// Validates scenario text; `origin` names it in messages (usually the file path).
pub fn load_str(text: &str, origin: &str, overrides: &[Override]) -> Result<Scenario> {
    let mut table: Table = toml::from_str(text).map_err(|e| {
        // toml's message already says line and column and shows the line.
        Error::bad_input(format!("{origin}: not valid TOML: {e}"))
    })?;
    for o in overrides {
        set_path(&mut table, &o.path, o.value.clone())
            .map_err(|m| Error::bad_input(format!("{origin}: --set {}: {m}", o.path)))?;
    }
    from_table(table, origin)
}

/// Validates an already-parsed scenario table (sweeps build these from a base and a grid point).
pub fn from_table(mut table: Table, origin: &str) -> Result<Scenario> {
    let source = table.clone();
    // The `[sweep]` section belongs to `sessim sweep` and `sessim plan` (crate::sweep), which
    // validate it and set its axis values into copies of this table. A single run ignores it.
    table.remove("sweep");
    let bad = |path: &str, msg: String| Error::bad_input(format!("{origin}: {path}: {msg}"));
    let strategies = match table.remove("strategy") {
        None => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(bad(
                "strategy",
                format!("expected an array of tables ([[strategy]]), got {}", type_name(&other)),
            ));
        }
    };

    // Files a scenario names (a balancer config) are relative to the scenario's folder.
    let base_dir = Path::new(origin).parent().unwrap_or(Path::new("")).to_path_buf();
    let base_raw = deserialize(&table).map_err(|(p, m)| bad(&p, m))?;
    let mut scenario = validate_top(&base_raw).map_err(|(p, m)| bad(&p, m))?;

    if strategies.is_empty() {
        let system = validate_system(&base_raw, &base_dir).map_err(|(p, m)| bad(&p, m))?;
        let label = format!("{} + {}", system.balancer.policy.name(), system.sessions.storage.name());
        scenario.strategies.push(Strategy { label, system });
    }
    for (i, s) in strategies.into_iter().enumerate() {
        let at = format!("strategy[{i}]");
        let Value::Table(mut st) = s else {
            return Err(bad(&at, "expected a table ([[strategy]])".into()));
        };
        let label = match st.remove("label") {
            Some(Value::String(l)) if !l.trim().is_empty() => l,
            Some(Value::String(_)) => return Err(bad(&format!("{at}.label"), "must not be empty".into())),
            Some(other) => {
                return Err(bad(
                    &format!("{at}.label"),
                    format!("expected a string, got {}", type_name(&other)),
                ));
            }
            None => return Err(bad(&at, "needs a `label`, e.g. label = \"ip_hash + local\"".into())),
        };
        let at = format!("strategy[{i}] \"{label}\"");
        for k in st.keys() {
            if !STRATEGY_KEYS.contains(&k.as_str()) {
                return Err(bad(
                    &format!("{at}.{k}"),
                    format!(
                        "a strategy may override only {}{}",
                        STRATEGY_KEYS[1..].join(", "),
                        suggest(k, STRATEGY_KEYS)
                    ),
                ));
            }
        }
        if scenario.strategies.iter().any(|s| s.label == label) {
            return Err(bad(&at, "two strategies have this label; labels must be unique".into()));
        }
        let mut merged = table.clone();
        merge(&mut merged, st);
        let raw = deserialize(&merged).map_err(|(p, m)| bad(&format!("{at}: {p}"), m))?;
        let system = validate_system(&raw, &base_dir).map_err(|(p, m)| bad(&format!("{at}: {p}"), m))?;
        scenario.strategies.push(Strategy { label, system });
    }
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

/// Rewrites serde's messages in the scenario's terms: "key" not "field", and a suggestion for
/// an unknown key.
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
    msg.replace("invalid type: ", "wrong type: ")
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
    let workload = validate_workload(&raw.workload, base_dir)?;
    let (balancer, backends) = balancer::validate(&raw.balancer, &raw.backends, base_dir)?;
    let sessions = validate_sessions(&raw.sessions)?;
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

fn validate_sessions(r: &RawSessions) -> PathResult<SessionsConfig> {
    let storage = choice(
        r.storage.as_deref().unwrap_or("local"),
        StorageKind::ALL,
        "sessions.storage",
    )?;
    // PHP's defaults (php.ini): session.gc_maxlifetime = 1440, gc_probability = 1, gc_divisor = 100.
    let lifetime = opt_duration(&r.gc_maxlifetime, "sessions.gc_maxlifetime", SimTime::from_secs(1440))?;
    if lifetime == SimTime::ZERO {
        return err("sessions.gc_maxlifetime", "must be longer than 0s");
    }
    let gc_divisor = at_least(r.gc_divisor.unwrap_or(100), 1, "sessions.gc_divisor")?;
    let gc_probability = r.gc_probability.unwrap_or(1);
    if gc_probability > gc_divisor {
        return err(
            "sessions.gc_probability",
            format!("must be at most gc_divisor ({gc_divisor}), got {gc_probability}"),
        );
    }
    let rp = r.replication.as_ref();
    let rd = RawReplication::default();
    let rp = rp.unwrap_or(&rd);
    let replication = ReplicationConfig {
        send_cpu: opt_duration(&rp.send_cpu, "sessions.replication.send_cpu", SimTime::from_micros(100))?,
        receive_cpu: opt_duration(
            &rp.receive_cpu,
            "sessions.replication.receive_cpu",
            SimTime::from_micros(100),
        )?,
        message_overhead: match &rp.message_overhead {
            Some(v) => size32(v, "sessions.replication.message_overhead")?,
            None => 300,
        },
        rtt: opt_duration(&rp.rtt, "sessions.replication.rtt", SimTime::from_micros(200))?,
        send_window: opt_duration(
            &rp.send_window,
            "sessions.replication.send_window",
            SimTime::from_millis(10),
        )?,
        send_mode: match &rp.send_mode {
            Some(m) => Some(choice(m, SendMode::ALL, "sessions.replication.send_mode")?),
            None => None,
        },
        jitter: opt_duration(&rp.jitter, "sessions.replication.jitter", SimTime::ZERO)?,
        receiver_threads: at_least(
            rp.receiver_threads.unwrap_or(15),
            1,
            "sessions.replication.receiver_threads",
        )?,
        sender_timeout: opt_duration(
            &rp.sender_timeout,
            "sessions.replication.sender_timeout",
            SimTime::from_secs(3),
        )?,
        membership: {
            let base = choice(
                rp.membership.as_deref().unwrap_or("multicast"),
                Membership::ALL,
                "sessions.replication.membership",
            )?;
            let period = opt_duration(
                &rp.membership_period,
                "sessions.replication.membership_period",
                base.period,
            )?;
            if period == SimTime::ZERO {
                return err("sessions.replication.membership_period", "must be more than 0");
            }
            Membership {
                period,
                timeout: opt_duration(
                    &rp.membership_timeout,
                    "sessions.replication.membership_timeout",
                    base.timeout,
                )?,
            }
        },
        // SimpleTcpCluster.checkDefaults adds JvmRouteBinderValve when no valve is configured.
        jvm_route_binder: rp.jvm_route_binder.unwrap_or(true),
    };
    let cookie_limit = match &r.cookie_limit {
        Some(v) => at_least(size32(v, "sessions.cookie_limit")?, 1, "sessions.cookie_limit")?,
        None => 4096,
    };
    let fallback_cookie_bytes = match &r.fallback_cookie_size {
        Some(v) => size32(v, "sessions.fallback_cookie_size")?,
        None => 256,
    };
    if fallback_cookie_bytes > cookie_limit {
        return err(
            "sessions.fallback_cookie_size",
            format!("must fit in sessions.cookie_limit ({cookie_limit} B), got {fallback_cookie_bytes} B"),
        );
    }
    // Django's cached_db writes through to its database: there the store defaults to SQL.
    let default_store = if storage == StorageKind::CachedDb {
        StoreKind::Sql
    } else {
        StoreKind::Redis
    };
    let store = validate_store(r.store.as_ref(), "sessions.store", default_store)?;
    let cache = validate_store(r.cache.as_ref(), "sessions.cache", StoreKind::Memcached)?;
    Ok(SessionsConfig {
        storage,
        lifetime,
        gc_probability,
        gc_divisor,
        write: choice(r.write.as_deref().unwrap_or("lazy"), WriteMode::ALL, "sessions.write")?,
        cookie_limit,
        fallback_cookie_bytes,
        replication,
        store,
        cache,
    })
}

/// A store's figures: the kind's preset (shared/docs/real-systems.md), then each key the
/// scenario sets.
fn validate_store(r: Option<&RawStore>, at: &str, default_kind: StoreKind) -> PathResult<StoreConfig> {
    let empty = RawStore::default();
    let r = r.unwrap_or(&empty);
    let p = |k: &str| format!("{at}.{k}");
    let kind = match &r.kind {
        Some(k) => choice(k, StoreKind::ALL, &p("kind"))?,
        None => default_kind,
    };
    let us = SimTime::from_micros;
    // Presets. Redis: one command thread at about 100k operations/s without pipelining (10 us
    // each), maxclients 10000, no maxmemory, noeviction, RDB snapshots (the `save 60 10000`
    // rule applies under any real session load), phpredis locking off, 100 retries x 20 ms.
    // memcached: 4 worker threads at over 200k requests/s (20 us each per thread), -c 1024,
    // -m 64 (MiB), LRU eviction, no persistence, php-memcached locking on: 150 ms x 5 retries.
    // SQL: simple queries of 10 to 100 us server side on 8 cores, MySQL max_connections 151.
    let (service_us, concurrency, max_conn, memory, eviction, persistence, locking, wait_ms, retries, fail, spread) =
        match kind {
            StoreKind::Redis => (
                10.0,
                1,
                10_000,
                0,
                Eviction::NoEviction,
                Persistence::Snapshot {
                    every: SimTime::from_secs(60),
                },
                false,
                20,
                100,
                LockFail::DropWrite,
                Spread::Modulo,
            ),
            StoreKind::Memcached => (
                20.0,
                4,
                1024,
                64 << 20,
                Eviction::Lru,
                Persistence::None,
                true,
                150,
                5,
                LockFail::LoseSession,
                Spread::Consistent,
            ),
            StoreKind::Sql => (
                100.0,
                8,
                151,
                0,
                Eviction::NoEviction,
                Persistence::Durable,
                false,
                20,
                100,
                LockFail::DropWrite,
                Spread::Modulo,
            ),
        };
    let servers = at_least(r.servers.unwrap_or(1), 1, &p("servers"))?;
    if servers > 1024 {
        return err(p("servers"), format!("at most 1024 servers, got {servers}"));
    }
    let service_time = match &r.service_time {
        Some(v) => parse_dist(v, Kind::Duration, &p("service_time"))?,
        None => Dist::exponential(service_us * 1e-6).map_err(|m| (p("service_time"), m))?,
    };
    let concurrency = at_least(r.concurrency.unwrap_or(concurrency), 1, &p("concurrency"))?;
    if concurrency > 100_000 {
        return err(p("concurrency"), format!("at most 100000, got {concurrency}"));
    }
    let timeout = opt_duration(&r.timeout, &p("timeout"), SimTime::from_secs(5))?;
    if timeout == SimTime::ZERO {
        return err(p("timeout"), "must be longer than 0s");
    }
    let growth_factor = r.growth_factor.unwrap_or(1.25);
    if !(growth_factor > 1.0 && growth_factor <= 4.0) {
        return err(
            p("growth_factor"),
            format!("must be above 1 and at most 4 (memcached -f), got {growth_factor}"),
        );
    }
    let page_size = match &r.page_size {
        Some(v) => size32(v, &p("page_size"))?,
        None => 1 << 20,
    };
    if !(1024..=(1 << 30)).contains(&page_size) {
        return err(
            p("page_size"),
            format!("must be between 1KiB and 1GiB (memcached -I), got {page_size} B"),
        );
    }
    let memory = match &r.memory {
        Some(v) => size(v, &p("memory"))?,
        None => memory,
    };
    if kind == StoreKind::Memcached && memory != 0 && memory < page_size as u64 {
        return err(
            p("memory"),
            format!("must hold at least one slab page ({page_size} B), got {memory} B; 0 means unlimited"),
        );
    }
    let every = opt_duration(&r.snapshot_every, &p("snapshot_every"), SimTime::from_secs(60))?;
    let persistence = match r.persistence.as_deref() {
        None => match persistence {
            Persistence::Snapshot { .. } => Persistence::Snapshot { every },
            x => x,
        },
        Some(name) => {
            const NAMES: &[(&str, u8)] = &[("none", 0), ("snapshot", 1), ("aof", 2), ("durable", 3)];
            match choice(name, NAMES, &p("persistence"))? {
                0 => Persistence::None,
                1 => Persistence::Snapshot { every },
                2 => Persistence::AppendOnly,
                _ => Persistence::Durable,
            }
        }
    };
    if r.snapshot_every.is_some() && !matches!(persistence, Persistence::Snapshot { .. }) {
        return err(p("snapshot_every"), "applies only with persistence = \"snapshot\"");
    }
    if let Persistence::Snapshot { every } = persistence
        && every == SimTime::ZERO
    {
        return err(p("snapshot_every"), "must be longer than 0s");
    }
    Ok(StoreConfig {
        kind,
        servers,
        spread: match &r.distribution {
            Some(d) => choice(d, Spread::ALL, &p("distribution"))?,
            None => spread,
        },
        service_time,
        concurrency,
        rtt: opt_duration(&r.rtt, &p("rtt"), us(200))?,
        timeout,
        max_connections: r.max_connections.unwrap_or(max_conn),
        memory,
        eviction: match &r.eviction {
            Some(e) => choice(e, Eviction::ALL, &p("eviction"))?,
            None => eviction,
        },
        growth_factor,
        page_size,
        item_overhead: match &r.item_overhead {
            Some(v) => size32(v, &p("item_overhead"))?,
            None => 50,
        },
        key_bytes: match &r.key_size {
            Some(v) => size32(v, &p("key_size"))?,
            None => match kind {
                // "PHPREDIS_SESSION:" + 26 characters; "memc.sess.key." + 26; Django's 40-char key.
                StoreKind::Redis => 43,
                StoreKind::Memcached => 40,
                StoreKind::Sql => 40,
            },
        },
        persistence,
        locking: r.locking.unwrap_or(locking),
        lock_wait: opt_duration(&r.lock_wait, &p("lock_wait"), SimTime::from_millis(wait_ms))?,
        lock_retries: r.lock_retries.unwrap_or(retries),
        lock_fail: match &r.lock_fail {
            Some(f) => choice(f, LockFail::ALL, &p("lock_fail"))?,
            None => fail,
        },
    })
}

/// Keys of `[workload]` that describe synthetic users: meaningless with a replayed log.
fn synthetic_keys(w: &RawWorkload) -> [(&'static str, bool); 9] {
    [
        ("users_per_second", w.users_per_second.is_some()),
        ("profile", w.profile.is_some()),
        ("profile_repeat", w.profile_repeat.is_some()),
        ("pages", w.pages.is_some()),
        ("login", w.login.is_some()),
        ("requests", w.requests.is_some()),
        ("think_time", w.think_time.is_some()),
        ("parallel", w.parallel.is_some()),
        ("classes", w.classes.is_some()),
    ]
}

fn validate_replay(r: &RawReplay, w: &RawWorkload, base_dir: &Path) -> PathResult<ReplayConfig> {
    for (k, set) in synthetic_keys(w) {
        if set {
            let hint = if k == "login" {
                "; set workload.replay.login instead"
            } else {
                ""
            };
            return err(
                format!("workload.{k}"),
                format!(
                    "describes synthetic users and cannot be combined with `workload.replay` (the log gives \
                     the requests){hint}; remove one of them"
                ),
            );
        }
    }
    let p = "workload.replay";
    if r.file.trim().is_empty() {
        return err(
            format!("{p}.file"),
            "must name the log file, relative to the scenario file",
        );
    }
    if w.addresses.is_some() {
        return err(
            "workload.addresses",
            "describes synthetic users' addresses and cannot be combined with `workload.replay` (the log \
             gives the addresses); remove it",
        );
    }
    let format = match r.format.as_deref().unwrap_or("combined") {
        "haproxy" => LogFormat::Haproxy,
        "csv" => LogFormat::Csv,
        f => {
            if !f.contains('$') && f != "combined" && f != "main" {
                return err(
                    format!("{p}.format"),
                    format!("unknown format `{f}`; choose combined, main, haproxy, csv or an nginx log_format string"),
                );
            }
            // combined, main, or an nginx log_format string: compiled now so that a mistake is
            // reported against the key.
            crate::workload::replay::nginx::NginxFormat::new(f, r.id_cookie.as_deref())
                .map_err(|m| (format!("{p}.format"), m))?;
            LogFormat::Nginx(f.to_string())
        }
    };
    if r.id_cookie.is_some() && !matches!(format, LogFormat::Nginx(_)) {
        return err(
            format!("{p}.id_cookie"),
            "applies to nginx formats with `$cookie_NAME` only (a CSV log has its `client_id` column)",
        );
    }
    let session_gap = opt_duration(
        &r.session_gap,
        &format!("{p}.session_gap"),
        SimTime::from_secs_f64(1800.0),
    )?;
    if session_gap == SimTime::ZERO {
        return err(format!("{p}.session_gap"), "must be longer than 0s");
    }
    let time_scale = r.time_scale.unwrap_or(1.0);
    if !(time_scale > 0.0 && time_scale <= 1e6) {
        return err(
            format!("{p}.time_scale"),
            format!("must be above 0 and at most 1e6 (0.5 replays twice as fast), got {time_scale}"),
        );
    }
    let clone = r.clone.unwrap_or(1);
    if !(1..=MAX_CLONES).contains(&clone) {
        return err(
            format!("{p}.clone"),
            format!("must be between 1 and {MAX_CLONES}, got {clone}"),
        );
    }
    let from = opt_duration(&r.from, &format!("{p}.from"), SimTime::ZERO)?;
    let to = match &r.to {
        Some(v) => Some(duration(v, &format!("{p}.to"))?),
        None => None,
    };
    if let Some(t) = to
        && t <= from
    {
        return err(format!("{p}.to"), format!("must be after `from` ({from}), got {t}"));
    }
    let service = choice(
        r.service_time.as_deref().unwrap_or("auto"),
        ServiceSource::ALL,
        &format!("{p}.service_time"),
    )?;
    Ok(ReplayConfig {
        file: base_dir.join(&r.file),
        format,
        id_cookie: r.id_cookie.clone(),
        session_gap,
        time_scale,
        clone,
        from,
        to,
        service,
        login: r.login.unwrap_or(true),
        strict: r.strict.unwrap_or(false),
    })
}

/// Most copies `clone` may ask for (a replayed request's index keeps the copy in 10 bits).
pub const MAX_CLONES: u32 = 1000;

fn validate_workload(w: &RawWorkload, base_dir: &Path) -> PathResult<Workload> {
    let replay = match &w.replay {
        Some(r) => Some(validate_replay(r, w, base_dir)?),
        None => None,
    };
    let users_per_second = match (w.users_per_second, &replay) {
        (Some(u), _) => u,
        (None, Some(_)) => 1.0,
        (None, None) => {
            return err(
                "workload.users_per_second",
                "missing key `users_per_second` (or give a `[workload.replay]` log); see docs/scenario-format.md",
            );
        }
    };
    if !(users_per_second > 0.0 && users_per_second.is_finite()) {
        return err(
            "workload.users_per_second",
            format!("must be positive, got {users_per_second}"),
        );
    }
    let mut profile = Vec::new();
    if let Some(steps) = &w.profile {
        for (i, s) in steps.iter().enumerate() {
            let at = duration(&s.at, &format!("workload.profile[{i}].at"))?;
            if !(s.factor >= 0.0 && s.factor.is_finite()) {
                return err(
                    format!("workload.profile[{i}].factor"),
                    format!("must be 0 or more, got {}", s.factor),
                );
            }
            if i == 0 && at != SimTime::ZERO {
                return err("workload.profile[0].at", "the first step must start at \"0s\"");
            }
            if let Some(prev) = profile.last() {
                let prev: &ProfileStep = prev;
                if at <= prev.at {
                    return err(
                        format!("workload.profile[{i}].at"),
                        format!("steps must be in increasing time order ({at} is not after {})", prev.at),
                    );
                }
            }
            profile.push(ProfileStep { at, factor: s.factor });
        }
    }
    let profile_repeat = match &w.profile_repeat {
        None => None,
        Some(v) => {
            let r = duration(v, "workload.profile_repeat")?;
            match profile.last() {
                None => return err("workload.profile_repeat", "needs a `profile` to repeat"),
                Some(last) if r <= last.at => {
                    return err(
                        "workload.profile_repeat",
                        format!("must be longer than the last profile step's time ({})", last.at),
                    );
                }
                _ => Some(r),
            }
        }
    };
    let base = RawNamedClass {
        name: "user".into(),
        share: 1.0,
        login: w.login,
        requests: w.requests.clone(),
        think_time: w.think_time.clone(),
        refuse_cookies: w.refuse_cookies,
        session_size: w.session_size.clone(),
        session_modify: w.session_modify,
        parallel: w.parallel,
    };
    let classes = match &w.classes {
        None => vec![validate_class(&base, &base, "workload")?],
        Some(list) if list.is_empty() => {
            return err("workload.classes", "must have at least one class, or be left out");
        }
        Some(list) => {
            let mut out = Vec::new();
            for (i, c) in list.iter().enumerate() {
                let path = format!("workload.classes[{i}]");
                if c.share < 0.0 || !c.share.is_finite() {
                    return err(format!("{path}.share"), format!("must be 0 or more, got {}", c.share));
                }
                out.push(validate_class(c, &base, &path)?);
            }
            let total: f64 = out.iter().map(|c| c.share).sum();
            if (total - 1.0).abs() > 1e-6 {
                return err(
                    "workload.classes",
                    format!("shares must add up to 1, they add up to {total}"),
                );
            }
            out
        }
    };
    let a = w.addresses.as_ref();
    let addresses = AddressModel {
        networks: at_least(
            a.and_then(|a| a.networks).unwrap_or(2000),
            1,
            "workload.addresses.networks",
        )?,
        nat_share: fraction(
            a.and_then(|a| a.nat_share).unwrap_or(0.05),
            "workload.addresses.nat_share",
        )?,
        nat_addresses: at_least(
            a.and_then(|a| a.nat_addresses).unwrap_or(20),
            1,
            "workload.addresses.nat_addresses",
        )?,
        network_skew: match a.and_then(|a| a.network_skew).unwrap_or(0.0) {
            s if (0.0..=10.0).contains(&s) => s,
            s => {
                return err(
                    "workload.addresses.network_skew",
                    format!("must be between 0 and 10, got {s}"),
                );
            }
        },
    };
    if addresses.networks > 1 << 23 {
        return err(
            "workload.addresses.networks",
            format!("at most {} networks, got {}", 1 << 23, addresses.networks),
        );
    }
    Ok(Workload {
        users_per_second,
        profile,
        profile_repeat,
        pages: at_least(w.pages.unwrap_or(1000), 1, "workload.pages")?,
        classes,
        addresses,
        replay,
    })
}

fn validate_class(c: &RawNamedClass, base: &RawNamedClass, path: &str) -> PathResult<UserClass> {
    if c.name.trim().is_empty() {
        return err(format!("{path}.name"), "must not be empty");
    }
    let requests = match c.requests.as_ref().or(base.requests.as_ref()) {
        Some(v) => parse_dist(v, Kind::Count, &format!("{path}.requests"))?,
        None => Dist::Geometric {
            mean: 10.0,
            geo: rand_distr::Geometric::new(1.0 / 11.0).map_err(|e| (path.to_string(), e.to_string()))?,
        },
    };
    let think_time = match c.think_time.as_ref().or(base.think_time.as_ref()) {
        Some(v) => parse_dist(v, Kind::Duration, &format!("{path}.think_time"))?,
        None => Dist::exponential(5.0).map_err(|m| (path.to_string(), m))?,
    };
    Ok(UserClass {
        name: c.name.clone(),
        share: c.share,
        login: c.login.or(base.login).unwrap_or(true),
        requests,
        think_time,
        refuse_cookies: fraction(
            c.refuse_cookies.or(base.refuse_cookies).unwrap_or(0.0),
            &format!("{path}.refuse_cookies"),
        )?,
        session_size: match c.session_size.as_ref().or(base.session_size.as_ref()) {
            Some(v) => {
                let d = parse_dist(v, Kind::Bytes, &format!("{path}.session_size"))?;
                if d.mean().is_nan() || d.mean() >= 1e9 {
                    return err(format!("{path}.session_size"), "the mean must be below 1GB");
                }
                d
            }
            None => Dist::constant(1000.0),
        },
        session_modify: fraction(
            c.session_modify.or(base.session_modify).unwrap_or(1.0),
            &format!("{path}.session_modify"),
        )?,
        parallel: match c.parallel.or(base.parallel).unwrap_or(1) {
            p @ 1..=64 => p,
            p => return err(format!("{path}.parallel"), format!("must be between 1 and 64, got {p}")),
        },
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
duration = "10s"
[workload]
users_per_second = 5
"#;

    fn load_err(text: &str) -> String {
        match load_str(text, "x.toml", &[]) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn minimal_scenario_gets_documented_defaults() {
        let s = load_str(MINIMAL, "x.toml", &[]).unwrap();
        assert_eq!(s.seed, 1);
        assert_eq!(s.warmup, SimTime::from_millis(500)); // 5% of 10 s
        assert_eq!(s.bucket, SimTime::from_millis(100)); // about 100 buckets
        assert_eq!(s.strategies.len(), 1);
        assert_eq!(s.strategies[0].label, "round_robin + local");
        let sys = &s.strategies[0].system;
        assert_eq!(sys.backends.len(), 4);
        assert_eq!(sys.backends[3].name, "web4");
        assert_eq!(sys.backends[0].workers, 8);
        assert_eq!(sys.workload.classes[0].requests.mean(), 10.0);
    }

    #[test]
    fn strategies_merge_over_the_base() {
        let text = format!(
            "{MINIMAL}\n[backends]\ncount = 3\nworkers = 2\n\n[[strategy]]\nlabel = \"a\"\n\n[[strategy]]\nlabel = \"b\"\nbalancer.policy = \"random\"\nbackends.workers = 5\n"
        );
        let s = load_str(&text, "x.toml", &[]).unwrap();
        assert_eq!(s.strategies.len(), 2);
        assert_eq!(s.strategies[0].system.balancer.policy, PolicyKind::RoundRobin);
        assert_eq!(s.strategies[1].system.balancer.policy, PolicyKind::Random);
        assert_eq!(s.strategies[1].system.backends.len(), 3, "count kept from the base");
        assert_eq!(s.strategies[1].system.backends[0].workers, 5);
        assert_eq!(s.strategies[0].system.backends[0].workers, 2);
    }

    #[test]
    fn a_strategy_distribution_replaces_the_base_one() {
        let text = format!(
            "{MINIMAL}[backends]\nservice_time = {{ dist = \"uniform\", min = \"1ms\", max = \"3ms\" }}\n\
             [[strategy]]\nlabel = \"a\"\nbackends.service_time = {{ dist = \"exponential\", mean = \"9ms\" }}\n"
        );
        let s = load_str(&text, "x.toml", &[]).unwrap();
        assert!((s.strategies[0].system.backends[0].service_time.mean() - 0.009).abs() < 1e-12);
    }

    #[test]
    fn unknown_keys_name_the_path_and_suggest() {
        let e = load_err(&format!("{MINIMAL}[backends]\nwokers = 3\n"));
        assert_eq!(
            e,
            "x.toml: backends.wokers: unknown key `wokers`; did you mean `workers`?; valid keys here: \
             count, workers, queue, weight, service_time, servers"
        );
        let e = load_err(&format!(
            "{MINIMAL}[[strategy]]\nlabel = \"a\"\nbalancer.polcy = \"random\"\n"
        ));
        assert!(
            e.starts_with("x.toml: strategy[0] \"a\": balancer.polcy: unknown key `polcy`; did you mean `policy`?"),
            "{e}"
        );
    }

    #[test]
    fn range_errors_name_the_server() {
        let e = load_err(&format!(
            "{MINIMAL}[backends]\nservers = [{{ name = \"a\" }}, {{ name = \"b\" }}, {{ name = \"c\", workers = 0 }}]\n"
        ));
        assert_eq!(e, "x.toml: backends.servers[2].workers: must be at least 1, got 0");
    }

    #[test]
    fn bad_values_explain_the_fix() {
        let e = load_err(&MINIMAL.replace("\"10s\"", "10"));
        assert!(e.contains("duration: a duration needs a unit"), "{e}");
        let e = load_err(&format!("{MINIMAL}[balancer]\npolicy = \"round-robin\"\n"));
        assert!(
            e.contains("balancer.policy: unknown value `round-robin`; did you mean `round_robin`?"),
            "{e}"
        );
        let e = load_err(&format!("{MINIMAL}[[workload.classes]]\nname = \"a\"\nshare = 0.5\n"));
        assert!(e.contains("shares must add up to 1"), "{e}");
        let e = load_err("name = \"t\"\nduration = \"10s\"\n");
        assert!(e.contains("missing key `workload`"), "{e}");
        let e = load_err("name = \"t\"\nduration = [\n");
        assert!(e.starts_with("x.toml: not valid TOML"), "{e}");
    }

    #[test]
    fn overrides_set_dotted_paths() {
        let o = [
            Override::parse("backends.count=6").unwrap(),
            Override::parse("balancer.policy=random").unwrap(),
            Override::parse("workload.think_time={ dist = \"constant\", value = \"2s\" }").unwrap(),
        ];
        let s = load_str(MINIMAL, "x.toml", &o).unwrap();
        let sys = &s.strategies[0].system;
        assert_eq!(sys.backends.len(), 6);
        assert_eq!(sys.balancer.policy, PolicyKind::Random);
        assert_eq!(sys.workload.classes[0].think_time.mean(), 2.0);
        assert!(Override::parse("nokey").is_err());
        let bad = [Override::parse("backends.servers[3].weight=2").unwrap()];
        let e = load_str(MINIMAL, "x.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("`servers` is not an array"), "{e}");
    }

    #[test]
    fn store_presets_and_overrides() {
        let text = format!(
            "{MINIMAL}[sessions]\nstorage = \"shared\"\nstore = {{ kind = \"memcached\", servers = 3, lock_retries = 2 }}\n"
        );
        let s = load_str(&text, "x.toml", &[]).unwrap();
        let st = &s.strategies[0].system.sessions.store;
        assert_eq!((st.servers, st.concurrency, st.max_connections), (3, 4, 1024));
        assert_eq!(
            (st.memory, st.eviction, st.spread),
            (64 << 20, Eviction::Lru, Spread::Consistent)
        );
        assert_eq!(
            (st.locking, st.lock_wait, st.lock_retries),
            (true, SimTime::from_millis(150), 2)
        );
        assert_eq!(st.lock_fail, LockFail::LoseSession);
        // cached_db's database defaults to SQL, its cache to memcached.
        let s = load_str(
            &format!("{MINIMAL}[sessions]\nstorage = \"cached_db\"\n"),
            "x.toml",
            &[],
        )
        .unwrap();
        let se = &s.strategies[0].system.sessions;
        assert_eq!((se.store.kind, se.cache.kind), (StoreKind::Sql, StoreKind::Memcached));
    }

    #[test]
    fn session_keys_are_checked_with_their_path() {
        let e = load_err(&format!(
            "{MINIMAL}[sessions]\nstorage = \"shared\"\nstore = {{ kind = \"redis\", timout = \"1s\" }}\n"
        ));
        assert!(
            e.starts_with("x.toml: sessions.store.timout: unknown key `timout`; did you mean `timeout`?"),
            "{e}"
        );
        let e = load_err(&format!("{MINIMAL}[sessions]\nstore = {{ kind = \"mongodb\" }}\n"));
        assert!(
            e.contains("sessions.store.kind: unknown value `mongodb`; choose one of: redis, memcached, sql"),
            "{e}"
        );
        let e = load_err(&format!(
            "{MINIMAL}[sessions]\nstore = {{ kind = \"memcached\", memory = \"100KB\" }}\n"
        ));
        assert!(
            e.contains("sessions.store.memory: must hold at least one slab page"),
            "{e}"
        );
        let e = load_err(&format!("{MINIMAL}[sessions]\nstore = {{ persistence = \"rdb\" }}\n"));
        assert!(e.contains("sessions.store.persistence: unknown value `rdb`"), "{e}");
        let e = load_err(&format!("{MINIMAL}parallel = 0\n"));
        assert!(e.contains("workload.parallel: must be between 1 and 64, got 0"), "{e}");
        let e = load_err(&format!("{MINIMAL}[sessions]\ngc_probability = 5\ngc_divisor = 2\n"));
        assert!(
            e.contains("sessions.gc_probability: must be at most gc_divisor (2), got 5"),
            "{e}"
        );
    }

    #[test]
    fn default_bucket_is_round() {
        assert_eq!(default_bucket(SimTime::from_secs(3600)), SimTime::from_secs(20));
        assert_eq!(default_bucket(SimTime::from_secs(60)), SimTime::from_millis(500));
    }
}
