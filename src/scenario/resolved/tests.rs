//! The round trip of [`super::to_toml`]: the resolved file loads back into the same validated
//! scenario (compared by `Debug`, which shows every field), on every bundled scenario and on
//! scenarios that set every key to a value other than its default; and every key the loader
//! accepts is one the resolved file writes (or is listed below with the reason it is not).

use super::to_toml;
use crate::scenario::{Scenario, load, load_str};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Everything of a scenario but its recorded source table (which is the file's text).
fn shape(sc: &Scenario) -> String {
    format!(
        "{:?} {:?} {} {:?} {:?} {} {:?}\n{:#?}",
        sc.name, sc.description, sc.seed, sc.duration, sc.warmup, sc.replications, sc.bucket, sc.strategies
    )
}

/// Resolves `sc`, loads the text back and checks both give the same scenario, and that
/// resolving again gives the same text.
fn round_trip(sc: &Scenario, what: &str) -> String {
    let text = to_toml(sc);
    let back = load_str(&text, "resolved.toml", &[]).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
    let (a, b) = (shape(sc), shape(&back));
    if a != b {
        let line = a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(0);
        let near = |s: &str| {
            s.lines()
                .skip(line.saturating_sub(3))
                .take(6)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{what}: the resolved file loads into another scenario; first difference near:\n{}\n--- vs ---\n{}\n\n{text}",
            near(&a),
            near(&b)
        );
    }
    assert_eq!(to_toml(&back), text, "{what}: resolving twice differs");
    text
}

#[test]
fn every_bundled_scenario_round_trips() {
    let mut n = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for p in &files {
        let sc = load(p, &[]).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        round_trip(&sc, &p.display().to_string());
        n += 1;
    }
    // 21 bundled scenarios when this was written; fewer means the folder was not read.
    assert!(n >= 21, "only {n} scenarios read");
}

/// A scenario whose every key is set, and to a value other than its default, over strategies
/// of every balancer family: a key the serialiser forgets loads back as its default, and the
/// comparison fails.
fn kitchen_sink() -> String {
    let data = root().join("tests/data");
    let nginx = data.join("nginx-ip_hash-3111-down.nginx.conf");
    let haproxy = data.join("conformance/haproxy/base.cfg");
    format!(
        r#"
name = "everything"
description = "every key, none at its default"
seed = 7
duration = "20s"
warmup = "2s"
replications = 2
[output]
bucket = "500ms"

[workload]
users_per_second = 3.5
pages = 77
profile = [{{ at = "0s", factor = 1.0 }}, {{ at = "5s", factor = 1.5 }}]
profile_repeat = "10s"
[[workload.classes]]
name = "a"
share = 0.25
login = false
requests = {{ dist = "poisson", mean = 4 }}
think_time = {{ dist = "lognormal", mean = "2s", cv = 0.5 }}
refuse_cookies = 0.1
session_size = {{ dist = "uniform", min = 500, max = "2KB" }}
session_modify = 0.3
parallel = 2
[[workload.classes]]
name = "b"
share = 0.75
requests = {{ dist = "empirical", values = [1, 2, 5], weights = [1, 2, 1] }}
think_time = {{ dist = "pareto", scale = "1s", shape = 2.5 }}
session_size = {{ dist = "normal", mean = 3000, sd = 500 }}
[workload.addresses]
networks = 300
nat_share = 0.2
nat_addresses = 7
network_skew = 1.1

[backends]
queue = 17
workers = 3
service_time = {{ dist = "geometric", mean = "30ms" }}
[[backends.servers]]
name = "web1"
weight = 2
max_conns = 10
max_fails = 2
fail_timeout = "5s"
[[backends.servers]]
name = "web2"
workers = 5
service_time = "40ms"
[[backends.servers]]
name = "web3"
queue = 3
backup = true
[[backends.servers]]
name = "web4"
down = true

[sessions]
storage = "shared"
gc_maxlifetime = "30m"
gc_probability = 3
gc_divisor = 50
write = "always"
cookie_limit = "3KB"
fallback_cookie_size = 300
[sessions.replication]
send_cpu = "150us"
receive_cpu = "120us"
message_overhead = 123
rtt = "300us"
send_window = "7ms"
send_mode = "sync"
jitter = "1ms"
receiver_threads = 4
sender_timeout = "2s"
membership = "static"
membership_period = "700ms"
membership_timeout = "4s"
jvm_route_binder = false
[sessions.store]
kind = "memcached"
servers = 2
distribution = "modulo"
service_time = {{ dist = "exponential", mean = "33us" }}
concurrency = 3
rtt = "250us"
timeout = "4s"
max_connections = 999
memory = "32MiB"
eviction = "noeviction"
growth_factor = 1.5
page_size = "512KiB"
item_overhead = 60
key_size = 44
persistence = "snapshot"
snapshot_every = "30s"
locking = false
lock_wait = "40ms"
lock_retries = 9
lock_fail = "drop_write"
[sessions.cache]
kind = "redis"
servers = 3
distribution = "consistent"
persistence = "aof"
locking = true
lock_fail = "lose_session"
eviction = "lru"

[[faults]]
kind = "crash"
at = "5s"
target = "web1"
downtime = "2s"
[[faults]]
kind = "app_down"
at = "6s"
target = "web2"
[[faults]]
kind = "slow"
at = "7s"
target = "web2"
factor = 2.5
duration = "3s"
[[faults]]
kind = "rolling_restart"
at = "8s"
targets = ["web1", "web2"]
gap = "1s"
downtime = "500ms"
mode = "crash"
[[faults]]
kind = "random"
targets = ["web2"]
mtbf = {{ dist = "exponential", mean = "9s" }}
mttr = "1s"
failure = "app_down"
[[faults]]
kind = "crash"
at = "9s"
target = "cache2"
downtime = "1s"

[costs]
currency = "EUR"
backend_per_hour = 0.1
worker_per_hour = 0.01
redis_server_per_hour = 0.2
memcached_server_per_hour = 0.3
sql_server_per_hour = 0.4
store_memory_per_gb_hour = 0.05
network_per_gb = 0.02
lost_session = 0.001
logout = 0.002

[[strategy]]
label = "nginx round-robin, cached_db"
sessions = {{ storage = "cached_db", cache = {{ persistence = "snapshot", snapshot_every = "20s" }} }}
balancer = {{ policy = "round_robin", max_fails = 3, fail_timeout = "20s", next_upstream = ["error", "http_502", "http_429"], next_upstream_tries = 2 }}

[[strategy]]
label = "nginx hash"
balancer = {{ policy = "hash_consistent", key = "request_uri", next_upstream = ["off"] }}
backends.servers = [{{ name = "web1" }}, {{ name = "web2" }}, {{ name = "web3" }}]
sessions.storage = "local"
faults = [{{ kind = "drain", at = "3s", target = "web3", downtime = "1s" }}]

[[strategy]]
label = "haproxy cookie"
balancer = {{ policy = "cookie", cookie_name = "SRV", cookie_balance = "leastconn", check = true, inter = "3s", fall = 4, rise = 3, retries = 1, redispatch = true, connect_timeout = "2s" }}
backends.servers = [{{ name = "web1", cookie = "a", max_conns = 4 }}, {{ name = "web2", cookie = "b", backup = true }}, {{ name = "web3" }}]
sessions.storage = "replicated_backup"
faults = []

[[strategy]]
label = "haproxy source"
balancer = {{ policy = "source", hash_type = "consistent", check = false, retries = 0 }}
backends.servers = [{{ name = "web1" }}, {{ name = "web2" }}, {{ name = "web3" }}]
sessions.storage = "replicated_all"
faults = []

[[strategy]]
label = "envoy ring"
balancer = {{ policy = "envoy_ring_hash", key = "cookie", minimum_ring_size = 512, maximum_ring_size = 4096, check = true, inter = "2s", rise = 3, fall = 2, outlier_detection = {{ consecutive_5xx = 3, interval = "5s", base_ejection_time = "20s", max_ejection_time = "200s", max_ejection_percent = 50 }} }}
backends.servers = [{{ name = "web1", weight = 3 }}, {{ name = "web2" }}, {{ name = "web3", down = true }}]
sessions.storage = "cookie"
faults = []

[[strategy]]
label = "envoy least request"
balancer = {{ policy = "envoy_least_request", choice_count = 3, active_request_bias = 0.5 }}
backends.servers = [{{ name = "web1" }}, {{ name = "web2" }}]
sessions.storage = "cookie_fallback"
faults = []

[[strategy]]
label = "envoy maglev"
balancer = {{ policy = "envoy_maglev", key = "remote_addr", table_size = 131 }}
backends.servers = [{{ name = "web1" }}, {{ name = "web2" }}]
faults = []

[[strategy]]
label = "kube"
balancer = {{ policy = "kube_proxy", session_affinity = "ClientIP", affinity_timeout = "60s", recent_list_size = 50, inter = "3s", rise = 2, fall = 2 }}
backends.servers = [{{ name = "web1" }}, {{ name = "web2" }}]
faults = []

[[strategy]]
label = "apache"
balancer = {{ policy = "apache", lbmethod = "bybusyness", stickysession = "JSESSIONID|jsessionid", nofailover = true, forcerecovery = false, retry = "30s" }}
backends.servers = [{{ name = "web1", cookie = "r1", weight = 50 }}, {{ name = "web2", cookie = "r2" }}, {{ name = "web3", backup = true }}]
faults = []

[[strategy]]
label = "caddy"
balancer = {{ policy = "caddy", lb_policy = "cookie lb s3cret", lb_retries = 2, lb_try_duration = "3s", lb_try_interval = "100ms", fail_duration = "10s", max_fails = 2, unhealthy_status = ["5xx", 404], unhealthy_latency = "2s", unhealthy_request_count = 40, health_interval = "5s" }}
backends.servers = [{{ name = "web1", max_conns = 7 }}, {{ name = "web2" }}]
faults = []

[[strategy]]
label = "caddy header"
balancer = {{ policy = "caddy", lb_policy = "header X-Session" }}
backends.servers = [{{ name = "web1" }}, {{ name = "web2" }}]
faults = []

[[strategy]]
label = "caddy weighted_round_robin"
balancer = {{ policy = "caddy", lb_policy = "weighted_round_robin 3 1" }}
backends.servers = [{{ name = "web1" }}, {{ name = "web2" }}]
faults = []

[[strategy]]
label = "imported nginx"
balancer = {{ config = "{nginx}", upstream = "app" }}
backends = {{ workers = 6, servers = [{{ name = "127.0.0.1:18122", queue = 9, service_time = "70ms" }}] }}
faults = []

[[strategy]]
label = "imported haproxy"
balancer = {{ config = "{haproxy}", backend = "app" }}
backends = {{ queue = 12, servers = [] }}
faults = [{{ kind = "crash", at = "4s", target = "s2" }}]
"#,
        nginx = nginx.display(),
        haproxy = haproxy.display()
    )
}

/// A replayed log with every `[workload.replay]` key set.
fn replay_sink() -> String {
    let log = root().join("tests/data/nginx-ip_hash-3111-down.log");
    format!(
        r#"
name = "replayed"
duration = "1h"
[workload]
refuse_cookies = 0.2
session_size = "3KB"
session_modify = 0.4
[workload.replay]
file = "{log}"
format = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $upstream_addr $cookie_uid'
id_cookie = "uid"
session_gap = "10m"
time_scale = 0.5
clone = 2
from = "1s"
to = "50m"
service_time = "model"
login = false
strict = true
"#,
        log = log.display()
    )
}

/// One class of users by the flat `[workload]` keys, none at its default.
const FLAT: &str = r#"
name = "flat"
duration = "1m"
[workload]
users_per_second = 2
login = false
requests = 3
think_time = { dist = "uniform", min = "1s", max = "1.5s" }
refuse_cookies = 0.5
session_size = 12345
session_modify = 0.25
parallel = 3
"#;

#[test]
fn every_key_set_round_trips() {
    round_trip(&load_str(FLAT, "flat.toml", &[]).unwrap(), "flat workload");
    let sc = load_str(&kitchen_sink(), "everything.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sc.strategies.len(), 14);
    round_trip(&sc, "kitchen sink");
    let sc = load_str(&replay_sink(), "replayed.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    let text = round_trip(&sc, "replay sink");
    // A replay shows only what applies to it: none of the synthetic users' keys.
    for k in [
        "users_per_second",
        "think_time",
        "[workload.addresses]",
        "classes",
        "pages",
    ] {
        assert!(!text.contains(k), "{k} in a replay's resolved file:\n{text}");
    }
}

/// Every key path of a resolved file, without array indices or the `strategy.` prefix
/// (`backends.servers.name`).
fn written_keys(text: &str) -> BTreeSet<String> {
    fn walk(t: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
        for (k, v) in t {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(sub) if !sub.contains_key("dist") => walk(sub, &path, out),
                toml::Value::Array(a) if a.iter().all(toml::Value::is_table) && !a.is_empty() => {
                    out.insert(path.clone());
                    for x in a.iter().filter_map(toml::Value::as_table) {
                        walk(x, &path, out);
                    }
                }
                _ => {}
            }
            out.insert(path);
        }
    }
    let table: toml::Table = toml::from_str(text).unwrap();
    let mut out = BTreeSet::new();
    walk(&table, "", &mut out);
    out.into_iter()
        .map(|k| k.strip_prefix("strategy.").map_or(k.clone(), str::to_string))
        .collect()
}

/// The keys the loader accepts in a section, from its own "valid keys here" message.
fn accepted_keys(section: &str, array: bool) -> Vec<String> {
    let head = if section.is_empty() {
        String::new()
    } else if array {
        format!("[[{section}]]\n")
    } else {
        format!("[{section}]\n")
    };
    let base = "name = \"t\"\nduration = \"10s\"\n";
    let text = if section.starts_with("workload") {
        format!("{base}{head}zzz_unknown = 1\n")
    } else {
        format!("{base}{head}zzz_unknown = 1\n[workload]\nusers_per_second = 1\n")
    };
    let e = load_str(&text, "probe.toml", &[]).map(|_| ()).unwrap_err().to_string();
    let list = e
        .split("valid keys here: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{section}: {e}"));
    list.lines()
        .next()
        .unwrap_or("")
        .split(", ")
        .map(|k| k.trim().to_string())
        .collect()
}

#[test]
fn every_key_the_loader_takes_is_written() {
    let mut written = written_keys(&to_toml(&load_str(&kitchen_sink(), "e.toml", &[]).unwrap()));
    written.extend(written_keys(&to_toml(
        &load_str(&replay_sink(), "r.toml", &[]).unwrap(),
    )));
    written.extend(written_keys(&to_toml(&load_str(FLAT, "f.toml", &[]).unwrap())));
    // Keys the resolved file does not need.
    let not_written = [
        // A `rolling_restart` is written as the drains or crashes it expands into.
        "faults.gap",
        "faults.mode",
    ];
    let sections: &[(&str, bool)] = &[
        ("", false),
        ("output", false),
        ("workload", false),
        ("workload.replay", false),
        ("workload.classes", true),
        ("workload.profile", true),
        ("workload.addresses", false),
        ("balancer", false),
        ("balancer.outlier_detection", false),
        ("backends", false),
        ("backends.servers", true),
        ("sessions", false),
        ("sessions.replication", false),
        ("sessions.store", false),
        ("sessions.cache", false),
        ("faults", true),
        ("costs", false),
    ];
    let mut missing = Vec::new();
    for (section, array) in sections {
        for k in accepted_keys(section, *array) {
            let path = if section.is_empty() {
                k.clone()
            } else {
                format!("{section}.{k}")
            };
            if !written.contains(&path) && !not_written.contains(&path.as_str()) {
                missing.push(path);
            }
        }
    }
    // `workload.profile` steps are inline tables: their keys are checked by the round trip.
    missing.retain(|p| !p.starts_with("workload.profile."));
    assert!(missing.is_empty(), "keys the resolved file never writes: {missing:?}");
}

#[test]
fn a_sweep_file_keeps_its_axes_and_its_scenario() {
    let p = root().join("scenarios/capacity-sweep.toml");
    let sc = load(&p, &[]).unwrap();
    let text = round_trip(&sc, "capacity-sweep");
    let back = load_str(&text, "resolved.toml", &[]).unwrap();
    assert_eq!(back.source().get("sweep"), sc.source().get("sweep"));
}

#[test]
fn an_imported_balancer_round_trips_from_another_folder() {
    // Paths are written absolute: the resolved file works wherever it is saved.
    let sc = load_str(&kitchen_sink(), "everything.toml", &[]).unwrap();
    let text = to_toml(&sc);
    let dir = std::env::temp_dir().join(format!("sessim-resolved-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("resolved.toml");
    std::fs::write(&file, &text).unwrap();
    let back = load(Path::new(&file), &[]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(shape(&back.unwrap()), shape(&sc));
}
