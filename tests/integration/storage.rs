//! Session storage: the shared store against queueing theory, each cause of a lost session
//! with a hand-worked count on a tiny scenario, and the session locks of the real handlers
//! (shared/docs/real-systems.md: files serialise, phpredis without a lock loses updates,
//! php-memcached gives up after 5 x 150 ms).
//!
//! The tiny scenarios let users arrive only during the first 100 s of a 400 s run and finish
//! long before its end, with constant think and service times and ample workers, so that every
//! user's story is the same and the expected counts are a multiple of the number of users.

use crate::common::{assert_within_ci, metric, scenario};
use sessim::metrics::SummaryRow;
use sessim::runner::run_all;

/// Users who arrive during the first 100 s, log in, and make `requests` pages of `parallel`
/// requests 1 s apart; one backend of 200 workers with a constant 10 ms service.
fn tiny(requests: u32, parallel: u32, extra_workload: &str, sessions: &str) -> SummaryRow {
    let text = format!(
        r#"
name = "tiny"
seed = 11
duration = "400s"
warmup = "0s"
[workload]
users_per_second = 0.5
profile = [{{ at = "0s", factor = 1 }}, {{ at = "100s", factor = 0 }}]
requests = {requests}
parallel = {parallel}
think_time = "1s"
{extra_workload}
[backends]
count = 1
workers = 200
service_time = "10ms"
[sessions]
{sessions}
"#
    );
    let sc = scenario(&text);
    let runs = run_all(&sc, 1).unwrap();
    let s = runs[0].summary.clone();
    assert!(
        s.users >= 20,
        "the scenario should bring a few dozen users, got {}",
        s.users
    );
    s
}

#[test]
fn cookie_refused_loses_every_session_request() {
    // Each user: login, page 1 lost (no cookie), re-login, page 2 lost, re-login, page 3
    // lost, re-login, leaves: 3 lost sessions and 3 re-logins per user.
    let s = tiny(3, 1, "refuse_cookies = 1.0", "storage = \"cookie\"");
    assert_eq!(s.lost_cookie_refused, 3 * s.users);
    assert_eq!(s.sessions_lost, 3 * s.users);
    assert_eq!(s.relogins, 3 * s.users);
}

#[test]
fn cookie_too_large_is_dropped_by_the_browser() {
    // 3020 bytes of session encode to 4 * 1007 + 80 = 4108 bytes > 4096: every page is lost
    // (3 per user). 3000 bytes encode to 4080 bytes: none is lost.
    let s = tiny(3, 1, "session_size = 3020", "storage = \"cookie\"");
    assert_eq!(s.lost_cookie_too_large, 3 * s.users);
    assert_eq!(s.sessions_lost, 3 * s.users);
    let s = tiny(3, 1, "session_size = 3000", "storage = \"cookie\"");
    assert_eq!(s.sessions_lost, 0);
    assert_eq!(s.cookie_bytes_mean, 4080.0);
}

#[test]
fn store_out_of_memory_fails_every_write() {
    // Redis with maxmemory 100 bytes and noeviction: a 1000-byte session never fits. Each
    // login's SETEX is refused (OOM): 4 logins per user (1 + 3 re-logins), 4 rejected
    // operations; each of the 3 pages finds nothing: 3 lost sessions (store failure) per user.
    let s = tiny(
        3,
        1,
        "",
        "storage = \"shared\"\nstore = { kind = \"redis\", memory = 100 }",
    );
    assert_eq!(s.lost_store_failure, 3 * s.users);
    assert_eq!(s.store_rejected, 4 * s.users);
}

#[test]
fn store_timeout_turns_into_lost_sessions() {
    // Every operation takes 100 ms on the server and the client waits 50 ms: every read times
    // out. 3 lost sessions per user (each page), all by timeout; every operation timed out:
    // 4 logins' writes + 3 reads per user.
    let s = tiny(
        3,
        1,
        "",
        "storage = \"shared\"\nstore = { kind = \"redis\", service_time = \"100ms\", timeout = \"50ms\" }",
    );
    assert_eq!(s.lost_store_timeout, 3 * s.users);
    assert_eq!(s.store_timeouts, 7 * s.users);
}

#[test]
fn store_connection_limit_refuses_workers_past_it() {
    // memcached accepting 1 connection; each PHP worker holds its own. The first worker to use
    // the store (worker 0, the top of the free-worker stack) gets the one connection; every
    // other worker is refused on every attempt. A page of 2 parallel requests runs on two
    // distinct workers, so at least one of them is refused and loses its session: at least 2
    // lost sessions per user (2 pages), all of them store failures. (The exact count depends
    // on how users overlap: a login refused on another worker loses the next page too.)
    let s = tiny(
        2,
        2,
        "",
        "storage = \"shared\"\nstore = { kind = \"memcached\", max_connections = 1, locking = false }",
    );
    assert_eq!(s.sessions_lost, s.lost_store_failure);
    assert!(
        s.lost_store_failure >= 2 * s.users,
        "{} for {} users",
        s.lost_store_failure,
        s.users
    );
    assert!(s.store_rejected >= 2 * s.users);
}

#[test]
fn ttl_expiry_loses_sessions_of_users_who_think_too_long() {
    // Redis TTL 10 s (gc_maxlifetime), users think 20 s: every page finds its session expired.
    let text = r#"
name = "ttl"
seed = 3
duration = "400s"
warmup = "0s"
[workload]
users_per_second = 0.5
profile = [{ at = "0s", factor = 1 }, { at = "100s", factor = 0 }]
requests = 2
think_time = "20s"
[backends]
count = 1
workers = 50
service_time = "10ms"
[sessions]
storage = "shared"
gc_maxlifetime = "10s"
"#;
    let runs = run_all(&scenario(text), 1).unwrap();
    let s = &runs[0].summary;
    assert_eq!(s.lost_expired, 2 * s.users);
}

#[test]
fn memcached_evicts_every_session_when_users_return_in_a_longer_cycle() {
    // 1 MiB of memcached = 1 page. A 1000-byte session + 40-byte key + 50-byte header = 1090
    // bytes takes a 1184-byte chunk: 885 sessions fit (floor(1048576 / 1184)). Users log in and
    // come back once after exactly 1000 s. At 2 users/s, 2000 sessions are created while a
    // user is away: more than fit, so LRU evicts every session before its owner returns
    // (loss 100%, not the overflow fraction 1 - 885/2000). At 0.3 users/s, at most
    // 0.3 x (1000 + 1440) = 732 sessions (the away ones, plus the ones idling until their
    // 1440 s TTL) are ever held: none is evicted.
    let run = |rate: f64| {
        let text = format!(
            r#"
name = "evict"
seed = 5
duration = "5000s"
warmup = "2500s"
[workload]
users_per_second = {rate}
requests = 1
think_time = "1000s"
[backends]
count = 2
workers = 50
service_time = "10ms"
[sessions]
storage = "shared"
store = {{ kind = "memcached", memory = "1MiB", locking = false }}
"#
        );
        run_all(&scenario(&text), 1).unwrap()[0].summary.clone()
    };
    let s = run(2.0);
    assert!(s.session_requests > 1000);
    assert_eq!(
        s.lost_eviction, s.session_requests,
        "every returning user lost the session"
    );
    assert!(s.store_evictions >= s.lost_eviction);
    let s = run(0.3);
    assert!(s.session_requests > 100);
    assert_eq!((s.lost_eviction, s.store_evictions), (0, 0));
}

#[test]
fn files_lock_serialises_four_parallel_requests() {
    // PHP files: four requests of one page, 200 ms each, on the session's node: the lock runs
    // them one after another, finishing at 0.2, 0.4, 0.6 and 0.8 s (the page takes 0.8 s).
    // Latency over the login (0.2 s) and the 4 requests: (200 + 200 + 400 + 600 + 800) / 5 =
    // 440 ms. Lock waits 0, 200, 400, 600 ms: mean 300 ms. No update is lost.
    let text = r#"
name = "lock"
seed = 9
duration = "400s"
warmup = "0s"
[workload]
users_per_second = 0.2
profile = [{ at = "0s", factor = 1 }, { at = "100s", factor = 0 }]
requests = 1
parallel = 4
think_time = "1s"
[backends]
count = 1
workers = 100
service_time = "200ms"
[sessions]
storage = "local"
"#;
    let runs = run_all(&scenario(text), 1).unwrap();
    let s = &runs[0].summary;
    assert_eq!(s.sessions_lost, 0);
    assert_eq!(s.lost_updates, 0);
    assert!((s.latency_mean_ms - 440.0).abs() < 1e-6, "{}", s.latency_mean_ms);
    assert!((s.lock_wait_mean_ms - 300.0).abs() < 1e-6, "{}", s.lock_wait_mean_ms);
    assert!((s.latency_p99_ms - 800.0).abs() < 1.0, "{}", s.latency_p99_ms);
}

#[test]
fn phpredis_without_lock_loses_three_of_four_increments() {
    // phpredis (locking off by default): the four requests read the same session, each
    // writes its own increment, the last write wins: 3 lost updates per page, so per user.
    let s = tiny(1, 4, "", "storage = \"shared\"\nstore = { kind = \"redis\" }");
    assert_eq!(s.lost_updates, 3 * s.users);
    assert_eq!(s.sessions_lost, 0);
}

#[test]
fn phpredis_with_lock_serialises_by_polling() {
    // redis.session.locking_enabled = 1: 100 retries every 20 ms. Four 200 ms requests: each
    // waiter polls until the holder's DEL, so the waits are about 0, 200, 400 and 600 ms,
    // rounded up to the 20 ms polling grid (plus round trips): mean between 300 and 330 ms.
    let text = r#"
name = "redislock"
seed = 9
duration = "400s"
warmup = "0s"
[workload]
users_per_second = 0.2
profile = [{ at = "0s", factor = 1 }, { at = "100s", factor = 0 }]
requests = 1
parallel = 4
think_time = "1s"
[backends]
count = 1
workers = 100
service_time = "200ms"
[sessions]
storage = "shared"
store = { kind = "redis", locking = true }
"#;
    let runs = run_all(&scenario(text), 1).unwrap();
    let s = &runs[0].summary;
    assert_eq!((s.sessions_lost, s.lost_updates), (0, 0));
    assert!((300.0..330.0).contains(&s.lock_wait_mean_ms), "{}", s.lock_wait_mean_ms);
}

#[test]
fn php_memcached_lock_gives_up_after_five_retries() {
    // php-memcached: lock attempts at 0, 150, 300, 450, 600 and 750 ms (5 retries), then the
    // read fails and the request runs without its session. Two 1 s requests per page: the
    // second gives up while the first still holds the lock: 1 lost session (lock timeout) per
    // page; 2 pages per user (a re-login in between).
    let text = r#"
name = "mclock"
seed = 9
duration = "400s"
warmup = "0s"
[workload]
users_per_second = 0.2
profile = [{ at = "0s", factor = 1 }, { at = "100s", factor = 0 }]
requests = 2
parallel = 2
think_time = "1s"
[backends]
count = 1
workers = 100
service_time = "1s"
[sessions]
storage = "shared"
store = { kind = "memcached" }
"#;
    let runs = run_all(&scenario(text), 1).unwrap();
    let s = &runs[0].summary;
    assert_eq!(s.lost_lock_timeout, 2 * s.users);
    assert_eq!(s.sessions_lost, 2 * s.users);
    // Lock waits: the holder's first attempt (a round trip, 0.2 ms) and the giver-up's
    // 5 x 150 ms + 6 round trips: mean about (0.2 + 751.2) / 2 = 375.7 ms.
    assert!((s.lock_wait_mean_ms - 375.7).abs() < 1.0, "{}", s.lock_wait_mean_ms);
}

#[test]
fn a_one_server_store_is_mm1_in_utilisation_and_close_in_response() {
    // One Redis server, exponential service s = 1 ms, one thread. Users log in (1 SETEX) and
    // make 4 pages (GET + SETEX each): K = 9 operations per user, so the operation rate is
    // lambda_ops = 9 x users/s = 9 x 55.555 = 500/s and the utilisation is exactly
    // u = lambda_ops x s = 0.5 (work conservation, any arrival pattern).
    // If operations were a Poisson stream, the mean response would be the M/M/1 value
    // s / (1 - u) = 2 ms. They are not quite: a request's GET and SETEX are 50 ms apart, so the
    // stream is only approximately Poisson (shared/docs/validation.md): checked loosely, within
    // 5%, while the utilisation is checked tightly (95% CI). 12 replications: with the
    // independent per-operation draws of issue 13, 6 replications of seed 77 put the utilisation
    // at 0.5021 +- 0.0021, just outside its interval (a 1-in-20 event); 12 give 0.5 inside.
    let text = r#"
name = "mm1"
seed = 77
duration = "500s"
warmup = "50s"
replications = 12
[workload]
users_per_second = 55.5555556
requests = 4
think_time = { dist = "exponential", mean = "2s" }
[backends]
count = 4
workers = 64
queue = 10000
[sessions]
storage = "shared"
store = { kind = "redis", service_time = { dist = "exponential", mean = "1ms" }, rtt = "0s" }
"#;
    let runs = run_all(&scenario(text), 2).unwrap();
    assert_within_ci("store utilisation", metric(&runs, 0, "store_utilization"), 0.5);
    let wait = metric(&runs, 0, "store_wait_mean_ms").mean;
    let response = wait + 1.0;
    assert!(
        (response - 2.0).abs() / 2.0 < 0.05,
        "mean operation response {response:.4} ms vs M/M/1 2 ms"
    );
    for r in &runs {
        assert_eq!(r.summary.sessions_lost, 0);
    }
}

/// One Redis server (one thread, exponential service of mean `s` = 250 us, no round trip) fed
/// by logged-in users: a login SETEX, then 4 pages of GET + SETEX, 9 operations per user.
fn store_mm1(users_per_second: f64) -> Vec<sessim::metrics::RunResult> {
    let text = format!(
        r#"
name = "store-mm1"
seed = 5
duration = "120s"
warmup = "20s"
replications = 8
[workload]
users_per_second = {users_per_second}
requests = 4
think_time = {{ dist = "exponential", mean = "2s" }}
[backends]
count = 4
workers = 256
queue = 10000
service_time = {{ dist = "exponential", mean = "50ms" }}
[sessions]
storage = "shared"
store = {{ kind = "redis", service_time = {{ dist = "exponential", mean = "250us" }}, rtt = "0s" }}
"#
    );
    run_all(&scenario(&text), 2).unwrap()
}

#[test]
fn store_operation_wait_is_mm1_at_half_and_four_fifths_utilisation() {
    // Operation rate lambda = 9 x users/s; utilisation rho = lambda x s. Users arrive as a
    // Poisson stream and the 50 ms application time (with ample workers) separates a request's
    // GET from its SETEX, so the operations are close to a Poisson stream; each operation
    // draws its own exponential service. M/M/1 (Kleinrock, Queueing Systems I, eq. 3.26 with
    // W = rho / (mu - lambda)): mean wait in queue Wq = rho / (mu - lambda), mu = 1 / s = 4000/s.
    //   rho = 0.5: lambda = 2000/s (222.22 users/s), Wq = 0.5 / 2000 s = 0.25 ms.
    //   rho = 0.8: lambda = 3200/s (355.56 users/s), Wq = 0.8 / 800 s = 1.0 ms.
    // Before issue 13's fix a request's SETEX reused its GET's service-time draw, which made
    // the service times of a request's two operations equal and the wait about 4.5% too high
    // at rho = 0.8.
    for (users, rho, wq) in [(222.222_222, 0.5, 0.25), (355.555_556, 0.8, 1.0)] {
        let runs = store_mm1(users);
        assert_within_ci("store utilisation", metric(&runs, 0, "store_utilization"), rho);
        assert_within_ci(
            "store mean operation wait [ms]",
            metric(&runs, 0, "store_wait_mean_ms"),
            wq,
        );
    }
}
