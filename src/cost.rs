//! The `cost_*` columns of `summary.csv`: what one strategy's cluster costs per hour at the
//! simulated load, from the prices of its `[costs]` section (`CostsConfig`).
//!
//! - backends: `backend_per_hour` x configured backends (backup and `down` ones included:
//!   they are paid for) + `worker_per_hour` x the workers of every backend;
//! - store: per server of the clusters the strategy uses (`shared`: `[sessions.store]`;
//!   `cached_db`: the cache and the database), priced by kind, plus
//!   `store_memory_per_gb_hour` x the configured memory of each server;
//! - network: `network_per_gb` x (replication + store operations' + cookie bytes) over the
//!   measured time, scaled to an hour;
//! - lost: `lost_session` x lost sessions + `logout` x re-logins over the measured time,
//!   scaled to an hour.
//!
//! The first two depend only on the configuration ([`fixed_per_hour`]); the last two on what
//! the run measured, so they vary between replications and get confidence intervals in a
//! sweep. Every part is non-negative, so the fixed part is a lower bound of the total: the
//! planner uses it to stop searching (`crate::sweep::plan`).

use crate::metrics::{SummaryRow, round6};
use crate::scenario::{CostsConfig, StoreConfig, StoreKind, System};

/// The index of a store kind in [`CostsConfig::server_per_hour`].
fn kind_index(k: StoreKind) -> usize {
    match k {
        StoreKind::Redis => 0,
        StoreKind::Memcached => 1,
        StoreKind::Sql => 2,
    }
}

/// The store clusters a strategy runs (their servers cost money); none for local, replicated
/// and cookie sessions.
pub(crate) fn store_clusters(sys: &System) -> Vec<&StoreConfig> {
    sys.sessions.store_clusters()
}

/// `(backends, store)` cost per hour: what the configuration costs before any request.
pub fn fixed_per_hour(sys: &System) -> (f64, f64) {
    let c: &CostsConfig = &sys.costs;
    let workers: u64 = sys.backends.iter().map(|b| b.workers as u64).sum();
    let backends = c.backend_per_hour * sys.backends.len() as f64 + c.worker_per_hour * workers as f64;
    let store: f64 = store_clusters(sys)
        .iter()
        .map(|s| {
            let per_server = c.server_per_hour[kind_index(s.kind)] + c.store_memory_per_gb_hour * s.memory as f64 / 1e9;
            per_server * s.servers as f64
        })
        // From +0.0: an empty f64 sum is -0.0, which would print as `-0.0`.
        .fold(0.0, |a, b| a + b);
    (backends, store)
}

/// Fills the `cost_*` columns of `row`, measured over `measured_s` seconds.
pub(crate) fn apply(row: &mut SummaryRow, sys: &System, measured_s: f64) {
    let c = &sys.costs;
    let (backends, store) = fixed_per_hour(sys);
    let per_h = 3600.0 / measured_s.max(1e-12);
    // The MB columns are rounded to 6 decimals: 1 byte, far below any price's resolution.
    let gb = (row.replication_mb + row.store_mb + row.cookie_mb) / 1000.0;
    let network = c.network_per_gb * gb * per_h;
    let lost = (c.lost_session * row.sessions_lost as f64 + c.logout * row.relogins as f64) * per_h;
    row.cost_backends_per_h = round6(backends);
    row.cost_store_per_h = round6(store);
    row.cost_network_per_h = round6(network);
    row.cost_lost_per_h = round6(lost);
    row.cost_total_per_h = round6(backends + store + network + lost);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;

    #[test]
    fn each_part_by_hand() {
        let sc = load_str(
            r#"
name = "c"
duration = "100s"
[workload]
users_per_second = 1
[backends]
count = 3
workers = 4
[sessions]
storage = "shared"
store = { kind = "redis", servers = 2, memory = "500MB" }
[costs]
backend_per_hour = 0.1
worker_per_hour = 0.01
redis_server_per_hour = 0.2
memcached_server_per_hour = 5
store_memory_per_gb_hour = 0.4
network_per_gb = 0.02
lost_session = 0.001
logout = 0.5
"#,
            "c.toml",
            &[],
        )
        .unwrap();
        let sys = &sc.strategies[0].system;
        // Backends: 3 x 0.1 + 12 workers x 0.01 = 0.42. Store: 2 Redis servers x (0.2 +
        // 0.4 x 0.5 GB) = 0.8 (the memcached price does not apply).
        let (b, s) = fixed_per_hour(sys);
        assert!((b - 0.42).abs() < 1e-12 && (s - 0.8).abs() < 1e-12, "{b} {s}");
        let mut row = SummaryRow {
            replication_mb: 30.0,
            store_mb: 60.0,
            cookie_mb: 10.0,
            sessions_lost: 40,
            relogins: 2,
            ..SummaryRow::default()
        };
        // Over 360 s (a tenth of an hour): 100 MB = 0.1 GB -> 1 GB/h x 0.02 = 0.02;
        // (40 x 0.001 + 2 x 0.5) x 10 = 10.4.
        apply(&mut row, sys, 360.0);
        assert_eq!(row.cost_backends_per_h, 0.42);
        assert_eq!(row.cost_store_per_h, 0.8);
        assert_eq!(row.cost_network_per_h, 0.02);
        assert_eq!(row.cost_lost_per_h, 10.4);
        assert_eq!(row.cost_total_per_h, 11.64);
    }

    #[test]
    fn without_costs_everything_is_zero_and_local_sessions_have_no_store() {
        let sc = load_str(
            "name = \"c\"\nduration = \"10s\"\n[workload]\nusers_per_second = 1\n[costs]\nredis_server_per_hour = 9\n",
            "c.toml",
            &[],
        )
        .unwrap();
        assert_eq!(fixed_per_hour(&sc.strategies[0].system), (0.0, 0.0));
    }

    #[test]
    fn costs_merge_per_strategy_and_reject_unknown_keys() {
        let text = r#"
name = "c"
duration = "10s"
[workload]
users_per_second = 1
[costs]
backend_per_hour = 1
[[strategy]]
label = "a"
[[strategy]]
label = "b"
costs.backend_per_hour = 3
"#;
        let sc = load_str(text, "c.toml", &[]).unwrap();
        // 4 backends by default (docs/scenario-format.md): 4 x 1 and 4 x 3.
        assert_eq!(fixed_per_hour(&sc.strategies[0].system).0, 4.0);
        assert_eq!(fixed_per_hour(&sc.strategies[1].system).0, 12.0);
        let e = load_str(
            &text.replace("backend_per_hour = 1", "backend_per_hr = 1"),
            "c.toml",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("costs.backend_per_hr: unknown key `backend_per_hr`; did you mean `backend_per_hour`?"),
            "{e}"
        );
        let e = load_str(
            &text.replace("backend_per_hour = 1", "backend_per_hour = -1"),
            "c.toml",
            &[],
        )
        .unwrap_err()
        .to_string();
        // The base's price, not strategy[0]'s (which does not set it): line 7 of the file.
        assert!(
            e.starts_with("c.toml:7:20: costs.backend_per_hour: a price must be a number at least 0, got -1\n"),
            "{e}"
        );
    }
}
