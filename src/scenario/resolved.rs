//! `sessim check`'s resolved scenario: the validated [`Scenario`] written back as a scenario
//! file, every default filled in, in the units the loader reads (`"1m 30s"`, `"4KB"`), so that
//! `sessim run` accepts it unchanged and builds the same scenario from it (the round trip is
//! tested on every bundled scenario in `tests`).
//!
//! Layout: the top-level keys, then the sections every strategy shares (the base), then one
//! `[[strategy]]` per strategy with its label and, whole, each section in which it differs. A
//! deep merge of a strategy over the base then gives back exactly that strategy's tables: a
//! section is either wholly in the base or wholly in the strategy. Everything is written
//! explicitly (per-server values rather than the `[backends]` defaults they came from), and a
//! `rolling_restart` appears as the drains or crashes it expands into.
//!
//! A replayed log's workload shows only what applies to it: the `[workload.replay]` keys and
//! the session's size and writes.

use super::{
    BackendConfig, BalancerConfig, CostsConfig, LogFormat, Persistence, Scenario, ServiceSource, SessionsConfig,
    StoreConfig, StoreKind, System, Workload,
};
use crate::balancer::registry::Family;
use crate::balancer::{FailurePolicy, HashKey, Method, NEXT_UPSTREAM_STATUSES};
use crate::dist::{Dist, Kind};
use crate::engine::SimTime;
use crate::faults::{FaultKind, FaultPlan, Target};
use crate::store::config::{Eviction, LockFail, Spread, StorageKind, WriteMode};
use crate::store::tomcat::channel::SendMode;
use toml::Value;

/// A table whose keys keep the order they are written in (the `toml` crate sorts its own).
type Tbl = Vec<(String, Node)>;

/// One entry of a table: a value written inline, a sub-table, or an array of tables.
#[derive(Clone)]
enum Node {
    V(Value),
    T(Tbl),
    A(Vec<Tbl>),
}

fn put(t: &mut Tbl, k: &str, v: impl Into<Value>) {
    t.push((k.to_string(), Node::V(v.into())));
}

fn put_node(t: &mut Tbl, k: &str, n: Node) {
    t.push((k.to_string(), n));
}

/// Writes `t` under the header path `prefix` (empty at the top): its values first, then its
/// sub-tables and arrays of tables with full header paths.
fn emit(out: &mut String, prefix: &str, t: &Tbl) {
    for (k, n) in t {
        if let Node::V(v) = n {
            out.push_str(&format!("{k} = {}\n", show(v)));
        }
    }
    for (k, n) in t {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match n {
            Node::V(_) => {}
            Node::T(sub) => {
                // A table holding only tables needs no header of its own.
                if sub.is_empty() || sub.iter().any(|(_, n)| matches!(n, Node::V(_))) {
                    out.push_str(&format!("\n[{path}]\n"));
                }
                emit(out, &path, sub);
            }
            Node::A(items) => {
                for item in items {
                    out.push_str(&format!("\n[[{path}]]\n"));
                    emit(out, &path, item);
                }
            }
        }
    }
}

fn render(t: &Tbl) -> String {
    let mut s = String::new();
    emit(&mut s, "", t);
    s
}

/// A TOML table from a file (the `[sweep]` section) as a node, arrays of tables kept as such.
fn from_toml(t: &toml::Table) -> Tbl {
    t.iter()
        .map(|(k, v)| {
            let n = match v {
                Value::Table(sub) => Node::T(from_toml(sub)),
                Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_table) => {
                    Node::A(a.iter().filter_map(|x| x.as_table().map(from_toml)).collect())
                }
                other => Node::V(other.clone()),
            };
            (k.clone(), n)
        })
        .collect()
}

/// A time as the loader reads it back to the same nanosecond: the shorter of whole-number
/// groups (`"1h 30m"`, `"250ms"`, `"0s"`, summed exactly) and one decimal (`"1.5s"`).
fn dur(t: SimTime) -> Value {
    let mut n = t.as_nanos();
    if n == 0 {
        return Value::String("0s".into());
    }
    let total = n;
    let mut parts = Vec::new();
    for (unit, len) in [
        ("h", 3_600_000_000_000u64),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if n >= len {
            parts.push(format!("{}{unit}", n / len));
            n %= len;
        }
    }
    let mut best = parts.join(" ");
    for (unit, len) in [("h", 3.6e12), ("m", 6e10), ("s", 1e9), ("ms", 1e6), ("us", 1e3)] {
        let x = format!("{}", total as f64 / len);
        if x.contains('.') {
            let c = format!("{x}{unit}");
            let back = crate::dist::parse_duration(&c).map(SimTime::from_secs_f64);
            if c.len() < best.len() && back == Ok(t) {
                best = c;
            }
        }
    }
    Value::String(best)
}

/// Seconds (a distribution's parameter) as a duration the loader reads back to the same `f64`:
/// the shortest of whole nanoseconds (summed exactly) and a decimal in one unit (read as
/// `n * unit`, e.g. `"10.0us"` for the 10 us that `10.0 * 1e-6` makes), among those exact.
fn secs(v: f64) -> Value {
    let mut best: Option<String> = None;
    let mut consider = |c: String| {
        if best.as_ref().is_none_or(|b| c.len() < b.len()) {
            best = Some(c);
        }
    };
    let n = (v * 1e9).round();
    if (0.0..1.8e19).contains(&n)
        && std::time::Duration::from_nanos(n as u64).as_secs_f64() == v
        && let Value::String(s) = dur(SimTime(n as u64))
    {
        consider(s);
    }
    for (unit, scale) in [
        ("h", 3600.0),
        ("m", 60.0),
        ("s", 1.0),
        ("ms", 1e-3),
        ("us", 1e-6),
        ("ns", 1e-9),
    ] {
        let x = format!("{}", v / scale);
        let x = if x.contains('.') { x } else { format!("{x}.0") };
        if x.parse::<f64>().is_ok_and(|p| p * scale == v) {
            consider(format!("{x}{unit}"));
        }
    }
    Value::String(best.unwrap_or_else(|| format!("{v}s")))
}

/// A size in bytes: with a unit when it is a whole number of them (`"64MiB"`, `"4KB"`).
fn bytes(n: u64) -> Value {
    if n > 0 {
        for (unit, len) in [
            ("GiB", 1u64 << 30),
            ("MiB", 1 << 20),
            ("GB", 1_000_000_000),
            ("MB", 1_000_000),
            ("KB", 1_000),
        ] {
            if n.is_multiple_of(len) {
                return Value::String(format!("{}{unit}", n / len));
            }
        }
    }
    Value::Integer(n as i64)
}

/// A number of `kind` as the loader reads it.
fn scalar(v: f64, kind: Kind) -> Value {
    let whole = v.fract() == 0.0 && v.abs() < 9e15;
    match kind {
        Kind::Duration => secs(v),
        Kind::Bytes if whole => bytes(v as u64),
        Kind::Count if whole => Value::Integer(v as i64),
        _ => Value::Float(v),
    }
}

/// `x` to `digits` significant digits.
fn round_sig(x: f64, digits: usize) -> f64 {
    format!("{:.*e}", digits.saturating_sub(1), x).parse().unwrap_or(x)
}

/// A lognormal's `mean` and `cv`, as most files write them, with the fewest significant digits
/// that give back exactly its mu and sigma by the loader's formula (src/dist.rs:
/// sigma^2 = ln(1 + cv^2), mu = ln(mean) - sigma^2 / 2); `None` when no such pair exists.
fn mean_cv(mu: f64, sigma: f64, kind: Kind) -> Option<(Value, f64)> {
    let exact_cv = (sigma * sigma).exp_m1().sqrt();
    let cv = (1..=17)
        .map(|d| round_sig(exact_cv, d))
        .find(|cv| (1.0 + cv * cv).ln().sqrt() == sigma)?;
    let s2 = (1.0 + cv * cv).ln();
    let exact_mean = (mu + s2 / 2.0).exp();
    (1..=17).find_map(|d| {
        let v = scalar(round_sig(exact_mean, d), kind);
        let m = crate::dist::parse_scalar(&v, kind).ok()?;
        (m.ln() - s2 / 2.0 == mu).then_some((v, cv))
    })
}

/// A value as written in the file; a distribution's table with `dist` first and its
/// parameters in the order the docs give them.
fn show(v: &Value) -> String {
    match v {
        Value::Table(t) if t.contains_key("dist") => {
            const ORDER: &[&str] = &[
                "dist", "value", "mean", "cv", "mu", "sigma", "sd", "min", "max", "scale", "shape", "values", "weights",
            ];
            let mut keys: Vec<&String> = t.keys().collect();
            keys.sort_by_key(|k| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
            let parts: Vec<String> = keys.iter().map(|k| format!("{k} = {}", show(&t[*k]))).collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// A distribution: a constant as a plain value, anything else as `{ dist = ..., ... }`.
fn dist(d: &Dist, kind: Kind) -> Value {
    let mut t = toml::Table::new();
    let mut name = |n: &str| {
        t.insert("dist".into(), Value::String(n.into()));
    };
    match d {
        Dist::Constant(v) => return scalar(*v, kind),
        Dist::Exponential { mean, .. } => {
            name("exponential");
            t.insert("mean".into(), scalar(*mean, kind));
        }
        Dist::Uniform { min, max } => {
            name("uniform");
            t.insert("min".into(), scalar(*min, kind));
            t.insert("max".into(), scalar(*max, kind));
        }
        Dist::Normal { mean, sd, .. } => {
            name("normal");
            t.insert("mean".into(), scalar(*mean, kind));
            t.insert("sd".into(), scalar(*sd, kind));
        }
        Dist::LogNormal { mu, sigma, .. } => {
            name("lognormal");
            match mean_cv(*mu, *sigma, kind) {
                Some((mean, cv)) => {
                    t.insert("mean".into(), mean);
                    t.insert("cv".into(), Value::Float(cv));
                }
                None => {
                    t.insert("mu".into(), Value::Float(*mu));
                    t.insert("sigma".into(), Value::Float(*sigma));
                }
            }
        }
        Dist::Pareto { scale, shape, .. } => {
            name("pareto");
            t.insert("scale".into(), scalar(*scale, kind));
            t.insert("shape".into(), Value::Float(*shape));
        }
        Dist::Geometric { mean, .. } => {
            name("geometric");
            t.insert("mean".into(), scalar(*mean, kind));
        }
        Dist::Poisson { mean, .. } => {
            name("poisson");
            t.insert("mean".into(), scalar(*mean, kind));
        }
        Dist::Empirical { values, weights, .. } => {
            name("empirical");
            t.insert(
                "values".into(),
                Value::Array(values.iter().map(|v| scalar(*v, kind)).collect()),
            );
            t.insert(
                "weights".into(),
                Value::Array(weights.iter().map(|w| Value::Float(*w)).collect()),
            );
        }
    }
    Value::Table(t)
}

/// The scenario name of an enum value, from its `ALL` list.
fn name_of<T: PartialEq>(all: &[(&'static str, T)], v: &T) -> &'static str {
    all.iter().find(|(_, x)| x == v).map_or("", |(n, _)| *n)
}

/// A path as an absolute one, so that the resolved file works from any folder.
fn abs(p: &std::path::Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// The resolved scenario as a scenario file (see the module's comment).
pub fn to_toml(sc: &Scenario) -> String {
    let mut top: Tbl = Vec::new();
    put(&mut top, "name", sc.name.as_str());
    if let Some(d) = &sc.description {
        put(&mut top, "description", d.as_str());
    }
    put(&mut top, "seed", sc.seed as i64);
    put(&mut top, "duration", dur(sc.duration));
    put(&mut top, "warmup", dur(sc.warmup));
    put(&mut top, "replications", sc.replications as i64);
    put_node(
        &mut top,
        "output",
        Node::T(vec![("bucket".into(), Node::V(dur(sc.bucket)))]),
    );

    let sections: Vec<Vec<(&'static str, Option<Node>)>> =
        sc.strategies.iter().map(|s| system_sections(&s.system)).collect();
    let names: Vec<&'static str> = sections
        .first()
        .map_or(Vec::new(), |s| s.iter().map(|(k, _)| *k).collect());
    // A section is the base's when every strategy has it alike.
    let same = |k: usize| -> bool {
        let shown = |s: &Vec<(&str, Option<Node>)>| s[k].1.as_ref().map(|n| render(&vec![("x".into(), n.clone())]));
        sections.iter().all(|s| shown(s) == shown(&sections[0]))
    };
    let mut in_base: Vec<bool> = (0..names.len()).map(same).collect();
    let strategies_written = sc.source.contains_key("strategy");
    if !strategies_written {
        in_base.iter_mut().for_each(|b| *b = true);
    }
    let build = |in_base: &[bool]| -> String {
        let mut t = top.clone();
        for (k, name) in names.iter().enumerate() {
            if in_base[k] {
                if let Some(n) = &sections[0][k].1 {
                    put_node(&mut t, name, n.clone());
                }
            } else if *name == "workload" {
                // The base needs a valid workload of its own: the one key every strategy's
                // workload also sets (and so overrides).
                put_node(&mut t, "workload", minimal_workload(&sc.strategies[0].system.workload));
            }
        }
        let mut out = render(&t);
        if strategies_written {
            let mut arr = Vec::new();
            for (s, secs) in sc.strategies.iter().zip(&sections) {
                let mut st: Tbl = vec![("label".into(), Node::V(Value::String(s.label.clone())))];
                for (k, (name, n)) in secs.iter().enumerate() {
                    if !in_base[k]
                        && let Some(n) = n
                    {
                        put_node(&mut st, name, n.clone());
                    }
                }
                arr.push(st);
            }
            let mut s = String::new();
            emit(&mut s, "", &vec![("strategy".into(), Node::A(arr))]);
            out.push_str(&s);
        }
        if let Some(Value::Table(sw)) = sc.source.get("sweep") {
            let mut s = String::new();
            emit(&mut s, "", &vec![("sweep".into(), Node::T(from_toml(sw)))]);
            out.push_str(&s);
        }
        out
    };
    // The base is validated on its own: a shared section may need another that is not shared
    // (a fault naming a backend of the strategies' own `[backends]`). Such sections move into
    // the strategies, faults first, which changes no strategy's merged tables.
    if strategies_written {
        for move_out in ["faults", "sessions", "backends", "balancer", "costs", "workload"] {
            let base_only = {
                let mut t = top.clone();
                for (k, name) in names.iter().enumerate() {
                    if in_base[k]
                        && let Some(n) = &sections[0][k].1
                    {
                        put_node(&mut t, name, n.clone());
                    } else if *name == "workload" {
                        put_node(&mut t, "workload", minimal_workload(&sc.strategies[0].system.workload));
                    }
                }
                render(&t)
            };
            if super::load_str(&base_only, "base.toml", &[]).is_ok() {
                break;
            }
            if let Some(k) = names.iter().position(|n| *n == move_out) {
                in_base[k] = false;
            }
        }
    }
    build(&in_base)
}

/// A workload of one key that every strategy's own workload section sets too.
fn minimal_workload(w: &Workload) -> Node {
    match &w.replay {
        Some(r) => Node::T(vec![(
            "replay".into(),
            Node::T(vec![("file".into(), Node::V(Value::String(abs(&r.file))))]),
        )]),
        None => Node::T(vec![(
            "users_per_second".into(),
            Node::V(Value::Float(w.users_per_second)),
        )]),
    }
}

/// A system's sections, in file order; `None` for one with nothing to write.
fn system_sections(s: &System) -> Vec<(&'static str, Option<Node>)> {
    vec![
        ("workload", Some(Node::T(workload(&s.workload)))),
        ("balancer", Some(Node::T(balancer(&s.balancer)))),
        ("backends", Some(Node::T(backends(s)))),
        ("sessions", Some(Node::T(sessions(&s.sessions)))),
        ("faults", faults(&s.faults, &s.backends, &s.sessions)),
        ("costs", Some(Node::T(costs(&s.costs)))),
    ]
}

fn workload(w: &Workload) -> Tbl {
    let mut t: Tbl = Vec::new();
    let class_keys = |t: &mut Tbl, c: &super::UserClass, replay: bool| {
        if !replay {
            put(t, "login", c.login);
            put(t, "requests", dist(&c.requests, Kind::Count));
            put(t, "think_time", dist(&c.think_time, Kind::Duration));
        }
        put(t, "refuse_cookies", c.refuse_cookies);
        put(t, "session_size", dist(&c.session_size, Kind::Bytes));
        put(t, "session_modify", c.session_modify);
        if !replay {
            put(t, "parallel", c.parallel as i64);
        }
    };
    if let Some(r) = &w.replay {
        if let Some(c) = w.classes.first() {
            class_keys(&mut t, c, true);
        }
        let mut rt: Tbl = Vec::new();
        put(&mut rt, "file", abs(&r.file));
        put(
            &mut rt,
            "format",
            match &r.format {
                LogFormat::Nginx(f) => f.as_str(),
                LogFormat::Haproxy => "haproxy",
                LogFormat::Csv => "csv",
            },
        );
        if let Some(c) = &r.id_cookie {
            put(&mut rt, "id_cookie", c.as_str());
        }
        put(&mut rt, "session_gap", dur(r.session_gap));
        put(&mut rt, "time_scale", r.time_scale);
        put(&mut rt, "clone", r.clone as i64);
        put(&mut rt, "from", dur(r.from));
        if let Some(to) = r.to {
            put(&mut rt, "to", dur(to));
        }
        put(&mut rt, "service_time", name_of(ServiceSource::ALL, &r.service));
        put(&mut rt, "login", r.login);
        put(&mut rt, "strict", r.strict);
        put_node(&mut t, "replay", Node::T(rt));
        return t;
    }
    put(&mut t, "users_per_second", w.users_per_second);
    if !w.profile.is_empty() {
        let steps = w
            .profile
            .iter()
            .map(|p| {
                let mut s = toml::Table::new();
                s.insert("at".into(), dur(p.at));
                s.insert("factor".into(), Value::Float(p.factor));
                Value::Table(s)
            })
            .collect();
        put(&mut t, "profile", Value::Array(steps));
    }
    if let Some(r) = w.profile_repeat {
        put(&mut t, "profile_repeat", dur(r));
    }
    put(&mut t, "pages", w.pages as i64);
    match w.classes.as_slice() {
        // The single class the flat keys make.
        [c] if c.name == "user" && c.share == 1.0 => class_keys(&mut t, c, false),
        list => {
            let items = list
                .iter()
                .map(|c| {
                    let mut ct: Tbl = Vec::new();
                    put(&mut ct, "name", c.name.as_str());
                    put(&mut ct, "share", c.share);
                    class_keys(&mut ct, c, false);
                    ct
                })
                .collect();
            put_node(&mut t, "classes", Node::A(items));
        }
    }
    let a = &w.addresses;
    let mut at: Tbl = Vec::new();
    put(&mut at, "networks", a.networks as i64);
    put(&mut at, "network_skew", a.network_skew);
    put(&mut at, "nat_share", a.nat_share);
    put(&mut at, "nat_addresses", a.nat_addresses as i64);
    put_node(&mut t, "addresses", Node::T(at));
    t
}

fn hash_key(k: &HashKey) -> &'static str {
    match k {
        HashKey::RemoteAddr => "remote_addr",
        HashKey::Cookie(_) => "cookie",
        HashKey::RequestUri => "request_uri",
    }
}

/// The `[balancer]` keys of a policy, every one of them (an imported balancer: the file and
/// its block; the file sets the rest).
fn balancer(b: &BalancerConfig) -> Tbl {
    let mut t: Tbl = Vec::new();
    let c = b.conf.conf();
    if let Some(i) = &b.import {
        put(&mut t, "config", abs(std::path::Path::new(&i.path)));
        put(
            &mut t,
            if i.format == "haproxy" { "backend" } else { "upstream" },
            i.block.as_str(),
        );
        return t;
    }
    put(&mut t, "policy", b.policy.name);
    let check = c.servers.first().and_then(|s| s.check);
    let put_check = |t: &mut Tbl| match check {
        Some(k) => {
            put(t, "check", true);
            put(t, "inter", dur(k.inter));
            put(t, "fall", k.fall as i64);
            put(t, "rise", k.rise as i64);
        }
        None => put(t, "check", false),
    };
    match &c.method {
        Method::Hash { key, .. } => put(&mut t, "key", hash_key(key)),
        Method::Source { consistent, .. } => put(
            &mut t,
            "hash_type",
            if *consistent { "consistent" } else { "map-based" },
        ),
        Method::EnvoyLeastRequest {
            choice_count,
            active_request_bias,
            ..
        } => {
            put(&mut t, "choice_count", *choice_count as i64);
            put(&mut t, "active_request_bias", active_request_bias.0);
        }
        Method::EnvoyRingHash {
            key,
            minimum_ring_size,
            maximum_ring_size,
            ..
        } => {
            put(&mut t, "key", hash_key(key));
            put(&mut t, "minimum_ring_size", *minimum_ring_size as i64);
            put(&mut t, "maximum_ring_size", *maximum_ring_size as i64);
        }
        Method::EnvoyMaglev { key, table_size, .. } => {
            put(&mut t, "key", hash_key(key));
            put(&mut t, "table_size", *table_size as i64);
        }
        Method::KubeProxy {
            affinity,
            recent_list_size,
        } => {
            match affinity {
                Some(a) => {
                    put(&mut t, "session_affinity", "ClientIP");
                    put(&mut t, "affinity_timeout", dur(*a));
                }
                None => put(&mut t, "session_affinity", "None"),
            }
            put(&mut t, "recent_list_size", *recent_list_size as i64);
        }
        Method::Apache(a) => {
            put(&mut t, "lbmethod", a.lbmethod.name());
            if let Some(s) = &a.sticky {
                put(&mut t, "stickysession", format!("{}|{}", s.cookie, s.path));
                put(&mut t, "nofailover", a.nofailover);
            }
            put(&mut t, "forcerecovery", a.forcerecovery);
            if let Some(s) = c.servers.first() {
                put(&mut t, "retry", dur(s.fail_timeout));
            }
        }
        Method::Caddy(cd) => {
            use crate::balancer::caddy::LbPolicy;
            let line = match &cd.policy {
                LbPolicy::RandomChoose(k) => format!("random_choose {k}"),
                LbPolicy::Header(h) => format!("header {h}"),
                LbPolicy::Cookie { name, secret } if secret.is_empty() => format!("cookie {name}"),
                LbPolicy::Cookie { name, secret } => format!("cookie {name} {secret}"),
                // JSON's empty `weights` behave as one weight (`pool[0]` always), which the
                // Caddyfile syntax can say.
                LbPolicy::WeightedRoundRobin(w) if w.is_empty() => "weighted_round_robin 1".into(),
                LbPolicy::WeightedRoundRobin(w) => {
                    let w: Vec<String> = w.iter().map(u64::to_string).collect();
                    format!("weighted_round_robin {}", w.join(" "))
                }
                p => p.name().to_string(),
            };
            put(&mut t, "lb_policy", line);
            put(&mut t, "lb_retries", cd.retries as i64);
            put(&mut t, "lb_try_duration", dur(cd.try_duration));
            if cd.try_interval > SimTime::ZERO {
                put(&mut t, "lb_try_interval", dur(cd.try_interval));
            }
            put(&mut t, "fail_duration", dur(cd.fail_duration));
            if cd.fail_duration > SimTime::ZERO {
                put(&mut t, "max_fails", cd.max_fails as i64);
                // The passive keys need fail_duration (the loader says so); each is written
                // only when set, as Caddy's defaults are "none".
                if !cd.unhealthy_status.is_empty() {
                    let statuses: Vec<Value> = cd
                        .unhealthy_status
                        .iter()
                        .map(|&c| Value::String(if c < 100 { format!("{c}xx") } else { c.to_string() }))
                        .collect();
                    put(&mut t, "unhealthy_status", Value::Array(statuses));
                }
                if cd.unhealthy_latency > SimTime::ZERO {
                    put(&mut t, "unhealthy_latency", dur(cd.unhealthy_latency));
                }
                if cd.unhealthy_request_count > 0 {
                    put(&mut t, "unhealthy_request_count", cd.unhealthy_request_count as i64);
                }
            }
            if let Some(i) = cd.health_interval {
                put(&mut t, "health_interval", dur(i));
            }
        }
        _ => {}
    }
    if let Some(k) = &c.cookie {
        put(&mut t, "cookie_name", k.name.as_str());
        put(
            &mut t,
            "cookie_balance",
            match &c.method {
                Method::HaproxyLeastConn => "leastconn",
                Method::Source { .. } => "source",
                _ => "roundrobin",
            },
        );
    }
    let mut outlier_t = None;
    if let Method::EnvoyRoundRobin { outlier }
    | Method::EnvoyLeastRequest { outlier, .. }
    | Method::EnvoyRingHash { outlier, .. }
    | Method::EnvoyMaglev { outlier, .. } = &c.method
    {
        put_check(&mut t);
        if let Some(o) = outlier {
            let mut ot: Tbl = Vec::new();
            put(&mut ot, "consecutive_5xx", o.consecutive_5xx as i64);
            put(&mut ot, "interval", dur(o.interval));
            put(&mut ot, "base_ejection_time", dur(o.base_ejection_time));
            put(&mut ot, "max_ejection_time", dur(o.max_ejection_time));
            put(&mut ot, "max_ejection_percent", o.max_ejection_percent as i64);
            outlier_t = Some(ot);
        }
    }
    match b.policy.family {
        Family::Nginx => {
            let (max_fails, fail_timeout) = nginx_failure(c);
            put(&mut t, "max_fails", max_fails as i64);
            put(&mut t, "fail_timeout", dur(fail_timeout));
            if let FailurePolicy::Nginx(n) = c.failure {
                let mut words: Vec<Value> = Vec::new();
                if n.error {
                    words.push("error".into());
                }
                if n.timeout {
                    words.push("timeout".into());
                }
                for (bit, status) in NEXT_UPSTREAM_STATUSES.iter().enumerate() {
                    if n.http & (1 << bit) != 0 {
                        words.push(format!("http_{status}").into());
                    }
                }
                if words.is_empty() {
                    words.push("off".into());
                }
                put(&mut t, "next_upstream", Value::Array(words));
                put(&mut t, "next_upstream_tries", n.tries as i64);
            }
        }
        Family::Haproxy => {
            put_check(&mut t);
            if let FailurePolicy::Haproxy(h) = c.failure {
                put(&mut t, "retries", h.retries as i64);
                put(&mut t, "redispatch", h.redispatch.is_some());
                put(&mut t, "connect_timeout", dur(h.connect_timeout));
            }
        }
        Family::KubeProxy => put_check(&mut t),
        Family::Apache | Family::Envoy | Family::Caddy => {}
    }
    if let Some(ot) = outlier_t {
        put_node(&mut t, "outlier_detection", Node::T(ot));
    }
    t
}

/// The nginx family's `max_fails` and `fail_timeout` most servers have (the first such on a
/// tie): written in `[balancer]`, and on a server only where it differs.
fn nginx_failure(c: &crate::balancer::BalancerConf) -> (u32, SimTime) {
    let pairs: Vec<(u32, SimTime)> = c.servers.iter().map(|s| (s.max_fails, s.fail_timeout)).collect();
    let count = |p: &(u32, SimTime)| pairs.iter().filter(|q| *q == p).count();
    let mut best = pairs.first().copied().unwrap_or((1, SimTime::from_secs(10)));
    for p in &pairs {
        if count(p) > count(&best) {
            best = *p;
        }
    }
    best
}

/// `[backends]`: `count` and the values every server shares when the servers are alike and
/// named as `count` names them (`web1`, `web2`, ...); else every server listed with its own
/// values (with what the balancer keeps of each server, for the families whose servers take
/// it).
fn backends(s: &System) -> Tbl {
    let c = s.balancer.conf.conf();
    let family = s.balancer.policy.family;
    let imported = s.balancer.import.is_some();
    let cookie_policy = c.cookie.is_some() || family == Family::Apache;
    let failure = nginx_failure(c);
    let first = &s.backends[0];
    let alike = !imported
        && s.backends.iter().zip(&c.servers).enumerate().all(|(i, (b, sv))| {
            b.name == format!("web{}", i + 1)
                && (b.weight, b.workers, b.queue) == (first.weight, first.workers, first.queue)
                && format!("{:?}", b.service_time) == format!("{:?}", first.service_time)
                && !b.backup
                && !b.down
                && sv.max_conns == 0
                && (family != Family::Nginx || (sv.max_fails, sv.fail_timeout) == failure)
                && (!cookie_policy || sv.cookie.as_deref() == Some(b.name.as_str()))
        });
    let mut t: Tbl = Vec::new();
    if alike {
        put(&mut t, "count", s.backends.len() as i64);
        put(&mut t, "weight", first.weight as i64);
        put(&mut t, "workers", first.workers as i64);
        put(&mut t, "queue", first.queue as i64);
        put(&mut t, "service_time", dist(&first.service_time, Kind::Duration));
        return t;
    }
    let servers = s
        .backends
        .iter()
        .zip(&c.servers)
        .map(|(b, sv): (&BackendConfig, _)| {
            let mut t: Tbl = Vec::new();
            put(&mut t, "name", b.name.as_str());
            if !imported {
                put(&mut t, "weight", b.weight as i64);
            }
            put(&mut t, "workers", b.workers as i64);
            put(&mut t, "queue", b.queue as i64);
            put(&mut t, "service_time", dist(&b.service_time, Kind::Duration));
            if imported {
                return t;
            }
            put(&mut t, "backup", b.backup);
            put(&mut t, "down", b.down);
            if !matches!(family, Family::Envoy | Family::KubeProxy) {
                put(&mut t, "max_conns", sv.max_conns as i64);
            }
            if family == Family::Nginx && (sv.max_fails, sv.fail_timeout) != failure {
                put(&mut t, "max_fails", sv.max_fails as i64);
                put(&mut t, "fail_timeout", dur(sv.fail_timeout));
            }
            if cookie_policy
                && let Some(v) = &sv.cookie
                && *v != b.name
            {
                put(&mut t, "cookie", v.as_str());
            }
            t
        })
        .collect();
    put_node(&mut t, "servers", Node::A(servers));
    t
}

fn store(st: &StoreConfig) -> Tbl {
    let mut t: Tbl = Vec::new();
    put(&mut t, "kind", name_of(StoreKind::ALL, &st.kind));
    put(&mut t, "servers", st.servers as i64);
    put(&mut t, "distribution", name_of(Spread::ALL, &st.spread));
    put(&mut t, "service_time", dist(&st.service_time, Kind::Duration));
    put(&mut t, "concurrency", st.concurrency as i64);
    put(&mut t, "rtt", dur(st.rtt));
    put(&mut t, "timeout", dur(st.timeout));
    put(&mut t, "max_connections", st.max_connections as i64);
    put(&mut t, "memory", bytes(st.memory));
    put(&mut t, "eviction", name_of(Eviction::ALL, &st.eviction));
    put(&mut t, "growth_factor", st.growth_factor);
    put(&mut t, "page_size", bytes(st.page_size as u64));
    put(&mut t, "item_overhead", bytes(st.item_overhead as u64));
    put(&mut t, "key_size", bytes(st.key_bytes as u64));
    match st.persistence {
        Persistence::None => put(&mut t, "persistence", "none"),
        Persistence::Snapshot { every } => {
            put(&mut t, "persistence", "snapshot");
            put(&mut t, "snapshot_every", dur(every));
        }
        Persistence::AppendOnly => put(&mut t, "persistence", "aof"),
        Persistence::Durable => put(&mut t, "persistence", "durable"),
    }
    put(&mut t, "locking", st.locking);
    put(&mut t, "lock_wait", dur(st.lock_wait));
    put(&mut t, "lock_retries", st.lock_retries as i64);
    put(&mut t, "lock_fail", name_of(LockFail::ALL, &st.lock_fail));
    t
}

fn sessions(s: &SessionsConfig) -> Tbl {
    let mut t: Tbl = Vec::new();
    put(&mut t, "storage", name_of(StorageKind::ALL, &s.storage));
    put(&mut t, "gc_maxlifetime", dur(s.lifetime));
    put(&mut t, "gc_probability", s.gc_probability as i64);
    put(&mut t, "gc_divisor", s.gc_divisor as i64);
    put(&mut t, "write", name_of(WriteMode::ALL, &s.write));
    put(&mut t, "cookie_limit", bytes(s.cookie_limit as u64));
    put(&mut t, "fallback_cookie_size", bytes(s.fallback_cookie_bytes as u64));
    let r = &s.replication;
    let mut rt: Tbl = Vec::new();
    put(&mut rt, "send_cpu", dur(r.send_cpu));
    put(&mut rt, "receive_cpu", dur(r.receive_cpu));
    put(&mut rt, "message_overhead", bytes(r.message_overhead as u64));
    put(&mut rt, "rtt", dur(r.rtt));
    put(&mut rt, "send_window", dur(r.send_window));
    if let Some(m) = &r.send_mode {
        put(&mut rt, "send_mode", name_of(SendMode::ALL, m));
    }
    put(&mut rt, "jitter", dur(r.jitter));
    put(&mut rt, "receiver_threads", r.receiver_threads as i64);
    put(&mut rt, "sender_timeout", dur(r.sender_timeout));
    // The kind's preset is replaced by both of its figures.
    put(&mut rt, "membership", "multicast");
    put(&mut rt, "membership_period", dur(r.membership.period));
    put(&mut rt, "membership_timeout", dur(r.membership.timeout));
    put(&mut rt, "jvm_route_binder", r.jvm_route_binder);
    put_node(&mut t, "replication", Node::T(rt));
    put_node(&mut t, "store", Node::T(store(&s.store)));
    put_node(&mut t, "cache", Node::T(store(&s.cache)));
    t
}

fn faults(p: &FaultPlan, backends: &[BackendConfig], sessions: &SessionsConfig) -> Option<Node> {
    if p.is_empty() {
        return None;
    }
    let stores = crate::store::server_names(sessions);
    let name = |t: &Target| -> String {
        match t {
            Target::Backend(i) => backends.get(*i).map_or(String::new(), |b| b.name.clone()),
            Target::Store(i) => stores.get(*i).cloned().unwrap_or_default(),
        }
    };
    let mut items = Vec::new();
    for f in &p.scheduled {
        let mut t: Tbl = Vec::new();
        let (kind, downtime) = match &f.kind {
            FaultKind::Crash { downtime } => ("crash", *downtime),
            FaultKind::AppDown { downtime } => ("app_down", *downtime),
            FaultKind::Drain { downtime } => ("drain", *downtime),
            FaultKind::Slow { .. } => ("slow", None),
        };
        put(&mut t, "kind", kind);
        put(&mut t, "at", dur(f.at));
        put(&mut t, "target", name(&f.target));
        if let Some(d) = downtime {
            put(&mut t, "downtime", dur(d));
        }
        if let FaultKind::Slow { factor, duration } = &f.kind {
            put(&mut t, "factor", *factor);
            put(&mut t, "duration", dur(*duration));
        }
        items.push(t);
    }
    for r in &p.random {
        let mut t: Tbl = Vec::new();
        put(&mut t, "kind", "random");
        put(
            &mut t,
            "targets",
            Value::Array(r.targets.iter().map(|x| Value::String(name(x))).collect()),
        );
        put(&mut t, "mtbf", dist(&r.mtbf, Kind::Duration));
        put(&mut t, "mttr", dist(&r.mttr, Kind::Duration));
        put(&mut t, "failure", if r.app_only { "app_down" } else { "crash" });
        items.push(t);
    }
    Some(Node::A(items))
}

fn costs(c: &CostsConfig) -> Tbl {
    let mut t: Tbl = Vec::new();
    put(&mut t, "currency", c.currency.as_str());
    put(&mut t, "backend_per_hour", c.backend_per_hour);
    put(&mut t, "worker_per_hour", c.worker_per_hour);
    put(&mut t, "redis_server_per_hour", c.server_per_hour[0]);
    put(&mut t, "memcached_server_per_hour", c.server_per_hour[1]);
    put(&mut t, "sql_server_per_hour", c.server_per_hour[2]);
    put(&mut t, "store_memory_per_gb_hour", c.store_memory_per_gb_hour);
    put(&mut t, "network_per_gb", c.network_per_gb);
    put(&mut t, "lost_session", c.lost_session);
    put(&mut t, "logout", c.logout);
    t
}

#[cfg(test)]
#[path = "resolved_tests.rs"]
mod tests;
