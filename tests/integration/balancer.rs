//! Failure detection and retries as nginx and HAProxy do them (issue 3), on whole runs: a
//! backend dead from the start or from a given time, or whose application answers 502.

use crate::common::scenario;
use sessim::engine::SimTime;
use sessim::metrics::RunResult;
use sessim::sim::{Liveness, StateChange, run_with};

/// Four backends, users of one request each (no sessions), `rate` requests per second.
fn one_request_users(balancer: &str, duration: &str, rate: f64) -> String {
    format!(
        r#"
name = "failures"
seed = 3
duration = "{duration}"
warmup = "0s"
[workload]
users_per_second = {rate}
login = false
requests = 1
[backends]
count = 4
workers = 4
service_time = "10ms"
[balancer]
{balancer}
"#
    )
}

/// Users with sessions in local files who send `requests` requests 1 s apart.
fn session_users(balancer: &str, duration: &str) -> String {
    format!(
        r#"
name = "failures"
seed = 5
duration = "{duration}"
warmup = "0s"
[workload]
users_per_second = 10
requests = 30
think_time = "1s"
[backends]
count = 4
workers = 8
service_time = "10ms"
[balancer]
{balancer}
"#
    )
}

fn run(text: &str, changes: &[StateChange]) -> RunResult {
    run_with(&scenario(text), 0, 0, changes).expect("run").result
}

fn web2(at_s: u64, state: Liveness) -> StateChange {
    StateChange {
        at: SimTime::from_secs(at_s),
        backend: 1,
        state,
    }
}

#[test]
fn nginx_retries_a_refused_connection_and_probes_a_dead_server_once_per_fail_timeout() {
    // web2 refuses connections from the start. nginx sends it its round-robin turn; the attempt
    // fails and the request is retried at once on the next peer (proxy_next_upstream error), so
    // no client sees an error. max_fails=1: the failure marks web2 failed while
    // now - checked <= fail_timeout (10 s, whole seconds inclusive): for 11 s. Then one request
    // probes it, fails, and the 11 s start again. Over 120 s: one probe at t of the first request
    // after s = 0, 11, 22, ..., 110: 11 probes.
    let r = run(
        &one_request_users("policy = \"round_robin\"", "120s", 50.0),
        &[web2(0, Liveness::Dead)],
    );
    let s = &r.summary;
    assert_eq!(s.failed_attempts, 11, "{s:?}");
    assert_eq!(s.retries, s.failed_attempts, "every failed attempt was retried");
    assert_eq!((s.errors, s.errors_502, s.no_server), (0, 0, 0), "{s:?}");
    assert_eq!(s.completed, s.requests);
    assert_eq!(r.backends[1].completed, 0);
    assert_eq!(r.backends[1].failed_attempts, 11);
}

#[test]
fn nginx_max_fails_and_fail_timeout_change_the_probe_rate() {
    // max_fails=3 fail_timeout=30s: web2 is failed only after 3 failures within one window,
    // then skipped for 31 s. Without max_fails (0), it is never marked failed: every turn of
    // web2 (a quarter of the requests) fails and is retried.
    let slow = run(
        &one_request_users(
            "policy = \"round_robin\"\nmax_fails = 3\nfail_timeout = \"30s\"",
            "120s",
            50.0,
        ),
        &[web2(0, Liveness::Dead)],
    );
    // First window (s = 0): 3 failures (the effective weight drops by weight / max_fails = 0
    // per failure, so web2 keeps its turns until the third). `fails` is cleared only by a
    // success, so each later probe (s = 31, 62, 93) fails once and re-marks it at once:
    // 3 + 1 + 1 + 1 = 6.
    assert_eq!(slow.summary.failed_attempts, 6, "{:?}", slow.summary);
    let never = run(
        &one_request_users("policy = \"round_robin\"\nmax_fails = 0", "120s", 50.0),
        &[web2(0, Liveness::Dead)],
    );
    let s = &never.summary;
    let quarter = s.requests as f64 / 4.0;
    assert!(
        (s.failed_attempts as f64 - quarter).abs() <= 2.0,
        "every fourth request first tries web2: {} of {}",
        s.failed_attempts,
        s.requests
    );
    assert_eq!(s.errors, 0);
}

#[test]
fn nginx_passes_a_502_from_a_live_web_server_unless_http_502_is_listed() {
    // real-systems.md: with the default `proxy_next_upstream error timeout` a 502 answered by a
    // live backend web server is a response: never retried, never counted against the peer, so
    // web2 keeps its full round-robin share and a quarter of the clients get 502.
    let plain = run(
        &one_request_users("policy = \"round_robin\"", "60s", 50.0),
        &[web2(0, Liveness::AppDown)],
    );
    let s = &plain.summary;
    assert_eq!(s.retries, 0);
    assert_eq!(s.errors_502, s.failed_attempts);
    assert!(
        (s.errors_502 as f64 - s.requests as f64 / 4.0).abs() <= 1.0,
        "{} of {}",
        s.errors_502,
        s.requests
    );
    // With http_502 listed, the 502 counts as a failure: retried on the next peer, and web2
    // is probed once per 11 s as for a refused connection (60 s: s = 0, 11, ..., 55).
    let listed = run(
        &one_request_users(
            "policy = \"round_robin\"\nnext_upstream = [\"error\", \"timeout\", \"http_502\"]",
            "60s",
            50.0,
        ),
        &[web2(0, Liveness::AppDown)],
    );
    let s = &listed.summary;
    assert_eq!((s.errors_502, s.failed_attempts, s.retries), (0, 6, 6), "{s:?}");
}

#[test]
fn nginx_ip_hash_rehashes_only_the_dead_servers_clients() {
    // ip_hash with web2 dead: its clients' first attempt fails and is retried from the current
    // hash; the other clients never touch web2. A server marked `down` in the scenario is never
    // tried at all.
    let dead = run(
        &one_request_users("policy = \"ip_hash\"", "60s", 50.0),
        &[web2(0, Liveness::Dead)],
    );
    assert_eq!(dead.summary.errors, 0);
    assert!(dead.summary.failed_attempts > 0);
    assert_eq!(dead.backends[1].completed, 0);
    let marked = scenario(&one_request_users("policy = \"ip_hash\"", "60s", 50.0).replace(
        "count = 4",
        "servers = [{ name = \"web1\" }, { name = \"web2\", down = true }, { name = \"web3\" }, { name = \"web4\" }]",
    ));
    let r = run_with(&marked, 0, 0, &[]).expect("run").result;
    assert_eq!((r.summary.failed_attempts, r.backends[1].requests), (0, 0));
    assert_eq!(r.summary.errors, 0);
}

#[test]
fn haproxy_checks_mark_a_dead_server_down_after_fall_times_inter() {
    // web2 dies at 60 s. Checks every 2 s (inter), fall 3: the three failing checks end at most
    // 3 x 2 s after the death, then no request goes to web2 any more: a run of 300 s has
    // exactly the failed attempts of a run of 80 s (the users up to 80 s are the same in both).
    let bal = "policy = \"haproxy_roundrobin\"\nredispatch = true";
    let short = run(&one_request_users(bal, "80s", 50.0), &[web2(60, Liveness::Dead)]);
    let long = run(&one_request_users(bal, "300s", 50.0), &[web2(60, Liveness::Dead)]);
    assert!(short.summary.failed_attempts > 0);
    assert_eq!(short.summary.failed_attempts, long.summary.failed_attempts);
    // Round-robin requests are redispatched on every retry (more than one active server), so
    // no client sees an error.
    assert_eq!(long.summary.errors, 0, "{:?}", long.summary);
    assert_eq!(long.summary.retries, long.summary.failed_attempts);
    // Without health checks HAProxy never learns: web2's turn keeps failing.
    let blind = "policy = \"haproxy_roundrobin\"\nredispatch = true\ncheck = false";
    let b = run(&one_request_users(blind, "300s", 50.0), &[web2(60, Liveness::Dead)]);
    assert!(
        b.summary.failed_attempts > 10 * long.summary.failed_attempts,
        "{:?}",
        b.summary
    );
}

#[test]
fn haproxy_dead_from_the_start_is_down_at_its_first_check() {
    // A server starts with health = rise: the first failing check marks it down
    // (src/server.c; "will fall down at first failure"). Its first check is at
    // inter * 1 / 4 = 0.5 s (start_checks spreads them by position), so only requests before
    // 0.5 s can try it.
    let r = run(
        &one_request_users("policy = \"haproxy_roundrobin\"\nredispatch = true", "60s", 50.0),
        &[web2(0, Liveness::Dead)],
    );
    assert!(r.summary.failed_attempts <= 10, "{:?}", r.summary);
    assert_eq!(r.summary.errors, 0);
}

#[test]
fn haproxy_cookie_users_of_a_dead_server_retry_then_are_repinned() {
    // Cookie insert over roundrobin; web2 dies at 100 s. Until checks mark it down (at most
    // 6 s), its pinned users' requests fail: retried on web2 after the 1 s turn-around
    // (no `timeout connect`), and with `option redispatch` the last of the 3 retries goes
    // elsewhere; without it the client gets 503. Once web2 is down, its users are balanced
    // afresh and get a new cookie: their session (in web2's files) is lost once.
    let with = run(
        &session_users("policy = \"cookie\"\nredispatch = true", "200s"),
        &[web2(100, Liveness::Dead)],
    );
    let s = &with.summary;
    assert!(s.failed_attempts > 0 && s.errors_503 == 0, "{s:?}");
    assert!(s.lost_routed_elsewhere > 0, "web2's users were re-pinned: {s:?}");
    let without = run(
        &session_users("policy = \"cookie\"", "200s"),
        &[web2(100, Liveness::Dead)],
    );
    let s = &without.summary;
    assert!(s.errors_503 > 0, "{s:?}");
    // Each 503 took the first attempt and 3 retries on web2.
    assert_eq!(s.failed_attempts, 4 * s.errors_503, "{s:?}");
    // Before the death nobody is re-pinned: sticky sessions lose nothing.
    let healthy = run(&session_users("policy = \"cookie\"", "200s"), &[]);
    assert_eq!(healthy.summary.sessions_lost, 0, "{:?}", healthy.summary);
    // Users who refuse cookies are balanced afresh on every request and lose their session.
    let refusing = scenario(
        &session_users("policy = \"cookie\"", "100s")
            .replace("think_time = \"1s\"", "think_time = \"1s\"\nrefuse_cookies = 1.0"),
    );
    let r = run_with(&refusing, 0, 0, &[]).expect("run").result;
    assert!(r.summary.lost_session_pct > 50.0, "{:?}", r.summary);
}

#[test]
fn ip_hash_nat_scenario_shows_ip_hash_imbalanced_and_cookies_balanced() {
    // scenarios/ip-hash-nat.toml: 60% of the users behind 6 NAT addresses. ip_hash pins each
    // NAT address (its /24) to one server, so 6 heavy keys fall on 4 servers; cookie stickiness
    // pins users, balanced by round-robin on their first request.
    let path = crate::common::repo().join("scenarios/ip-hash-nat.toml");
    let o = [sessim::scenario::Override::parse("replications=2").expect("override")];
    let sc = sessim::scenario::load(&path, &o).expect("bundled scenario loads");
    let runs = sessim::runner::run_all(&sc, 2).expect("runs");
    let ip_hash = crate::common::metric(&runs, 0, "imbalance_cov");
    let cookie = crate::common::metric(&runs, 1, "imbalance_cov");
    assert!(ip_hash.mean > 0.3, "ip_hash CoV {}", ip_hash.mean);
    assert!(cookie.mean < 0.05, "cookie CoV {}", cookie.mean);
    // Both are sticky: ip_hash loses nothing, cookies lose only refusing users' sessions (2%).
    assert_eq!(crate::common::metric(&runs, 0, "lost_session_pct").mean, 0.0);
    assert!(crate::common::metric(&runs, 1, "lost_session_pct").mean < 3.0);
}

fn bundled(name: &str, overrides: &[&str]) -> Vec<sessim::metrics::RunResult> {
    let path = crate::common::repo().join(format!("scenarios/{name}"));
    let o: Vec<_> = overrides
        .iter()
        .map(|s| sessim::scenario::Override::parse(s).expect("override"))
        .collect();
    let sc = sessim::scenario::load(&path, &o).expect("bundled scenario loads");
    sessim::runner::run_all(&sc, 2).expect("runs")
}

#[test]
fn k8s_affinity_scenario_random_loses_three_quarters_and_a_big_recent_list_keeps_sessions() {
    // scenarios/k8s-affinity.toml, shortened. Strategies: 0 nginx ip_hash, 1 kube-proxy None,
    // 2 ClientIP with the kernel's 100-address lists, 3 ClientIP with 100000-address lists.
    let runs = bundled("k8s-affinity.toml", &["replications=2", "duration=\"12m\""]);
    let lost = |s| crate::common::metric(&runs, s, "lost_session_pct").mean;
    // A uniform random endpoint per connection over N = 4 pods: a logged-in request finds its
    // session with probability 1/N, so about (N-1)/N = 75% are lost (a little less: the
    // re-login request itself creates the session where it lands).
    assert!((70.0..76.0).contains(&lost(1)), "None {}", lost(1));
    // Affinity that is never evicted keeps sessions except web2's, as ip_hash does.
    assert!(
        lost(3) < 2.0 && lost(0) < 2.0,
        "ClientIP {} ip_hash {}",
        lost(3),
        lost(0)
    );
    // With 100 addresses per list and thousands of clients per pod, most clients' entries are
    // evicted between their requests: far more is lost than with the big list.
    assert!(lost(2) > 30.0, "ClientIP with ip_list_tot 100: {}", lost(2));
}

#[test]
fn envoy_ring_hash_scenario_outlier_detection_fails_fewer_requests_than_slow_checks() {
    // scenarios/envoy-ring-hash.toml, shortened. Envoy makes one attempt per request: until it
    // learns of web2's crash every request hashed to web2 fails. Health checks every 5 s, 3 in
    // a row, take 10-15 s; outlier detection ejects after 5 failures in a row. nginx retries a
    // refused connection on the next server, so its clients see almost no error.
    let runs = bundled("envoy-ring-hash.toml", &["replications=2", "duration=\"12m\""]);
    let errors = |s| crate::common::metric(&runs, s, "errors").mean;
    assert!(errors(0) < 10.0, "nginx {}", errors(0));
    assert!(
        errors(2) < errors(1) / 5.0,
        "outlier {} checks {}",
        errors(2),
        errors(1)
    );
    assert!(errors(3) > 50.0, "maglev with checks {}", errors(3));
}
