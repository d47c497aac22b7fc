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
    BackendConfig, CostsConfig, LogFormat, Persistence, Scenario, ServiceSource, SessionsConfig, StoreConfig,
    StoreKind, System, Workload,
};
use crate::balancer::registry::Family;
use crate::dist::Kind;
use crate::faults::{FaultKind, FaultPlan, Target};
use crate::store::config::{Eviction, LockFail, Spread, StorageKind, WriteMode};
use crate::store::tomcat::channel::SendMode;
use toml::Value;

mod balancer;
mod values;

use balancer::{balancer, nginx_failure};
use values::*;

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

/// The resolved scenario as a scenario file (see the module's comment).
pub(crate) fn to_toml(sc: &Scenario) -> String {
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
mod tests;
