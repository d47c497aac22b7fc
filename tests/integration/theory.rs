//! Agreement with queueing theory (formulas from shared/docs/validation.md). Each check
//! compares the mean over R independent replications, warm-up discarded, with the exact value
//! through a 95% Student-t interval: |mean - exact| <= t(R-1, 0.975) sd / sqrt(R).

use crate::common::{assert_within_ci, metric, scenario};
use sessim::runner::run_all;

/// N backends with one worker each, exponential service with mean 50 ms (mu = 20/s), users of
/// one request each with no login, so requests form a Poisson stream of rate `lambda`.
fn single_server_backends(policy: &str, n: u32, lambda: f64, reps: u32, duration: &str) -> String {
    format!(
        r#"
name = "theory"
seed = 2024
duration = "{duration}"
replications = {reps}
[workload]
users_per_second = {lambda}
login = false
requests = 1
[backends]
count = {n}
workers = 1
queue = 100000
service_time = {{ dist = "exponential", mean = "50ms" }}
[balancer]
policy = "{policy}"
"#
    )
}

#[test]
fn random_routing_is_n_independent_mm1_queues() {
    // Poisson splitting: each backend is M/M/1 with lambda_b = lambda / N.
    // N = 4, lambda = 48/s: lambda_b = 12/s, mu = 20/s, rho = 0.6.
    // Mean response T = 1 / (mu - lambda_b) = 1 / 8 s = 125 ms.
    // Utilisation = rho = 0.6 exactly in expectation (work conservation).
    // Response time ~ Exp(mu - lambda_b): p99 = ln(100) / 8 s = 575.65 ms.
    let sc = scenario(&single_server_backends("random", 4, 48.0, 10, "2000s"));
    let runs = run_all(&sc, 2).unwrap();
    assert_within_ci("M/M/1 mean response [ms]", metric(&runs, 0, "latency_mean_ms"), 125.0);
    assert_within_ci("M/M/1 utilisation", metric(&runs, 0, "backend_utilization"), 0.6);
    assert_within_ci(
        "M/M/1 p99 [ms]",
        metric(&runs, 0, "latency_p99_ms"),
        100f64.ln() / 8.0 * 1000.0,
    );
}

/// The root in (0, 1) of sigma = (N lambda_b / (N lambda_b + mu (1 - sigma)))^N, by fixed-point
/// iteration (the map is a contraction on (0, 1) for rho < 1).
fn erlang_sigma(n: u32, lambda_b: f64, mu: f64) -> f64 {
    let mut s = 0.5;
    for _ in 0..10_000 {
        s = (n as f64 * lambda_b / (n as f64 * lambda_b + mu * (1.0 - s))).powi(n as i32);
    }
    s
}

#[test]
fn erlang_sigma_matches_the_documented_checks() {
    // validation.md: N = 1 gives sigma = rho; N = 2, rho = 0.5 gives (3 - sqrt 5) / 2.
    assert!((erlang_sigma(1, 0.6, 1.0) - 0.6).abs() < 1e-12);
    assert!((erlang_sigma(2, 0.5, 1.0) - (3.0 - 5f64.sqrt()) / 2.0).abs() < 1e-12);
}

#[test]
fn round_robin_routing_is_erlang_n_m_1() {
    // A global round-robin pointer sends every N-th Poisson arrival to a backend: Erlang-N
    // interarrivals of mean 1/lambda_b. G/M/1: T = 1 / (mu (1 - sigma)).
    // N = 4, lambda_b = 12/s, mu = 20/s: sigma = 0.4224..., T = 86.6 ms (less than random's 125).
    let sigma = erlang_sigma(4, 12.0, 20.0);
    let exact_ms = 1000.0 / (20.0 * (1.0 - sigma));
    let sc = scenario(&single_server_backends("round_robin", 4, 48.0, 10, "2000s"));
    let runs = run_all(&sc, 2).unwrap();
    assert_within_ci(
        "E4/M/1 mean response [ms]",
        metric(&runs, 0, "latency_mean_ms"),
        exact_ms,
    );
    assert_within_ci("E4/M/1 utilisation", metric(&runs, 0, "backend_utilization"), 0.6);
    // Round-robin balances completed requests almost perfectly.
    assert!(metric(&runs, 0, "imbalance_cov").mean < 0.001);
}

#[test]
fn reference_scenario_matches_the_markov_chain_value() {
    // scenarios/reference.toml: 8 backends x 4 workers, round-robin, exponential 50 ms service,
    // 448 requests/s (rho = 0.7). E_8/M/4 has no closed form; validation.md gives the exact mean
    // response from a Markov chain on (jobs, arrival phase): 56.49 ms.
    let text = std::fs::read_to_string(crate::common::repo().join("scenarios/reference.toml")).unwrap();
    let o = [
        sessim::scenario::Override::parse("duration=\"20m\"").unwrap(),
        sessim::scenario::Override::parse("warmup=\"1m\"").unwrap(),
        sessim::scenario::Override::parse("replications=8").unwrap(),
    ];
    let sc = sessim::scenario::load_str(&text, "reference.toml", &o).unwrap();
    let runs = run_all(&sc, 2).unwrap();
    assert_within_ci("E8/M/4 mean response [ms]", metric(&runs, 0, "latency_mean_ms"), 56.49);
    assert_within_ci("E8/M/4 utilisation", metric(&runs, 0, "backend_utilization"), 0.7);
}

#[test]
fn random_routing_loses_n_minus_1_over_n_of_local_sessions() {
    // With local sessions and random routing, each request after a login lands on the node
    // holding the session with probability 1/N, independently: lost fraction (N - 1) / N.
    // N = 4: 75%.
    let sc = scenario(
        r#"
name = "lost"
seed = 7
duration = "600s"
replications = 8
[workload]
users_per_second = 10
requests = { dist = "geometric", mean = 5 }
think_time = { dist = "exponential", mean = "1s" }
[backends]
count = 4
[balancer]
policy = "random"
"#,
    );
    let runs = run_all(&sc, 2).unwrap();
    assert_within_ci("lost session %", metric(&runs, 0, "lost_session_pct"), 75.0);
    // Every lost session sends its user back to the login page once. Counts differ only by
    // re-logins on the other side of the warm-up or of the end from the request that lost.
    for r in &runs {
        let s = &r.summary;
        assert_eq!(s.lost_routed_elsewhere, s.sessions_lost);
        assert!(
            s.sessions_lost.abs_diff(s.relogins) <= 60,
            "lost {} vs re-logins {}",
            s.sessions_lost,
            s.relogins
        );
    }
}

/// Erlang C: the probability that an arrival at an M/M/c queue with offered load `a` =
/// lambda / mu waits, by validation.md's stable recursion B_0 = 1,
/// B_k = a B_(k-1) / (k + a B_(k-1)) (Erlang B), C = B_c / (1 - rho (1 - B_c)), rho = a / c.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    b / (1.0 - a / c as f64 * (1.0 - b))
}

#[test]
fn erlang_c_matches_the_documented_checks() {
    // validation.md: c = 2, a = 1 gives C = 1/3; c = 10, a = 8 gives C = 0.40918.
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    assert!((erlang_c(10, 8.0) - 0.40918).abs() < 1e-5);
}

/// N backends with `workers` workers each, exponential 50 ms service (mu = 20/s), Poisson
/// requests of rate `lambda` with no login (no session phases: a worker holds a request for
/// its service time alone).
fn multi_worker_backends(policy: &str, n: u32, workers: u32, lambda: f64) -> String {
    single_server_backends(policy, n, lambda, 10, "2000s").replace("workers = 1", &format!("workers = {workers}"))
}

#[test]
fn random_routing_waits_as_erlang_c_says() {
    // Poisson splitting: each of N = 4 backends is M/M/c with c = 2 workers, lambda_b =
    // 112 / 4 = 28/s, mu = 20/s: a = 1.4, rho = 0.7. Erlang C: P(wait > 0) = C = 0.57647 (the
    // recursion: B_1 = 1.4 / 2.4, B_2 = 1.4 B_1 / (2 + 1.4 B_1) = 0.28994; C = B_2 / (1 - 0.7
    // (1 - B_2)) = 0.57647). Mean wait W_q = C / (c mu - lambda_b) = C / 12 s = 48.04 ms. The
    // wait of a waiting request is Exp(c mu - lambda_b), so P(W_q > t) = C exp(-(c mu -
    // lambda_b) t) and the p99 of the wait is ln(100 C) / (c mu - lambda_b) = 337.9 ms. A worker
    // holds a request for its service time alone: mean 1/mu = 50 ms.
    let (c, lambda_b, mu) = (2u32, 28.0, 20.0);
    let cc = erlang_c(c, lambda_b / mu);
    let rate = c as f64 * mu - lambda_b;
    let sc = scenario(&multi_worker_backends("random", 4, c, 4.0 * lambda_b));
    let runs = run_all(&sc, 2).unwrap();
    assert_within_ci("M/M/2 P(wait > 0)", metric(&runs, 0, "p_wait"), cc);
    assert_within_ci(
        "M/M/2 mean wait [ms]",
        metric(&runs, 0, "wait_mean_ms"),
        1000.0 * cc / rate,
    );
    assert_within_ci(
        "M/M/2 wait p99 [ms]",
        metric(&runs, 0, "wait_p99_ms"),
        1000.0 * (100.0 * cc).ln() / rate,
    );
    assert_within_ci("M/M/2 mean service [ms]", metric(&runs, 0, "service_mean_ms"), 50.0);
}

#[test]
fn round_robin_waits_as_erlang_n_m_1_says() {
    // Round-robin sends every N-th Poisson arrival to a backend: Erlang-N interarrivals, a
    // G/M/1 queue. G/M/1 theory: an arrival finds k waiting or served with probability
    // (1 - sigma) sigma^k, where sigma in (0, 1) solves sigma = A*(mu (1 - sigma)) and A* is the
    // Laplace-Stieltjes transform of the interarrival time; for Erlang-N of mean 1/lambda_b,
    // A*(s) = (N lambda_b / (N lambda_b + s))^N, which gives validation.md's equation. So
    // P(wait > 0) = sigma, the mean wait W = sigma / (mu (1 - sigma)) and, the wait of one that
    // waits being Exp(mu (1 - sigma)), the p99 of the wait ln(100 sigma) / (mu (1 - sigma)).
    // N = 4, lambda_b = 12/s, mu = 20/s: sigma = 0.42163, W = 36.45 ms, p99 = 323.5 ms
    // (random routing, M/M/1 at rho = 0.6, would wait 75 ms on average).
    let (lambda_b, mu) = (12.0, 20.0);
    let sigma = erlang_sigma(4, lambda_b, mu);
    let rate = mu * (1.0 - sigma);
    let sc = scenario(&single_server_backends("round_robin", 4, 4.0 * lambda_b, 10, "2000s"));
    let runs = run_all(&sc, 2).unwrap();
    assert_within_ci("E4/M/1 P(wait > 0)", metric(&runs, 0, "p_wait"), sigma);
    assert_within_ci(
        "E4/M/1 mean wait [ms]",
        metric(&runs, 0, "wait_mean_ms"),
        1000.0 * sigma / rate,
    );
    assert_within_ci(
        "E4/M/1 wait p99 [ms]",
        metric(&runs, 0, "wait_p99_ms"),
        1000.0 * (100.0 * sigma).ln() / rate,
    );
    assert_within_ci("E4/M/1 mean service [ms]", metric(&runs, 0, "service_mean_ms"), 50.0);
}
