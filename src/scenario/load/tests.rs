//! The loader's unit tests: messages name the file, the key and the fix.

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
    assert_eq!(s.strategies[0].system.balancer.policy.name, "round_robin");
    assert_eq!(s.strategies[1].system.balancer.policy.name, "random");
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
    // MINIMAL starts with an empty line: `[backends]` is line 6, `wokers` line 7; an unknown
    // key is pointed at by its name.
    assert_eq!(
        e,
        "x.toml:7:1: backends.wokers: unknown key `wokers`; did you mean `workers`?; valid keys here: \
         count, workers, queue, weight, service_time, servers\n  |\n7 | wokers = 3\n  | ^^^^^^"
    );
    let e = load_err(&format!(
        "{MINIMAL}[[strategy]]\nlabel = \"a\"\nbalancer.polcy = \"random\"\n"
    ));
    assert!(
        e.starts_with("x.toml:8:10: strategy[0] \"a\": balancer.polcy: unknown key `polcy`; did you mean `policy`?"),
        "{e}"
    );
}

#[test]
fn range_errors_name_the_server() {
    let e = load_err(&format!(
        "{MINIMAL}[backends]\nservers = [{{ name = \"a\" }}, {{ name = \"b\" }}, {{ name = \"c\", workers = 0 }}]\n"
    ));
    // The caret is under the `0` of `workers = 0`, column 68 of line 7.
    assert_eq!(
        e,
        "x.toml:7:68: backends.servers[2].workers: must be at least 1, got 0\n  |\n7 | servers = [{ name = \"a\" }, \
         { name = \"b\" }, { name = \"c\", workers = 0 }]\n  |                                                                    ^"
    );
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
    assert!(e.starts_with("x.toml:2:13: not valid TOML: unclosed array"), "{e}");
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
    assert_eq!(sys.balancer.policy.name, "random");
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
        e.starts_with("x.toml:8:27: sessions.store.timout: unknown key `timout`; did you mean `timeout`?"),
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
