//! The end of a run: the counts turned into the result rows (summary, backends, time series,
//! faults, stores).

use super::Collector;
use crate::engine::SimTime;
use crate::metrics::loss::LostCause;
use crate::metrics::sources::{BackendShape, ServerReport, StoreTotals};
use crate::metrics::{BackendRow, RunResult, StoreRow, SummaryRow, TimeseriesRow, round6, stats};
use hdrhistogram::Histogram;

impl Collector {
    /// Turns the counts into result rows.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish(
        mut self,
        ids: (&str, &str, u32, u64),
        strategy_index: usize,
        backends: &[impl BackendShape],
        sessions_held: &[u64],
        measured: SimTime,
        events: u64,
        store: &StoreTotals,
        servers: &[ServerReport],
    ) -> RunResult {
        let (scenario, strategy, replication, seed) = ids;
        if self.wait_zeros > 0 {
            self.wait_hist.saturating_record_n(0, self.wait_zeros);
        }
        let secs = measured.as_secs_f64().max(1e-12);
        let serving: Vec<f64> = backends
            .iter()
            .zip(&self.backends)
            .filter(|(c, _)| c.balanced())
            .map(|(_, b)| b.completed as f64)
            .collect();
        let (cov, mom) = stats::imbalance(&serving);
        let lost_total: u64 = self.lost.iter().sum();
        let pct = |q: f64| {
            if self.hist.is_empty() {
                0.0
            } else {
                self.hist.value_at_quantile(q) as f64 / 1000.0
            }
        };
        let mut util_sum = 0.0;
        let backend_rows: Vec<BackendRow> = backends
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let b = &self.backends[i];
                let busy = (self.busy_at_end[i] - self.busy_at_warmup[i]) as f64 / 1e9;
                let util = busy / (c.workers() as f64 * secs);
                util_sum += util;
                BackendRow {
                    scenario: scenario.to_string(),
                    strategy: strategy.to_string(),
                    replication,
                    backend_index: i as u32,
                    backend: c.name().to_string(),
                    requests: b.requests,
                    completed: b.completed,
                    errors: b.errors,
                    utilization: round6(util),
                    sessions_held: sessions_held[i],
                    sessions_lost: b.lost,
                    failed_attempts: b.failed_attempts,
                }
            })
            .collect();
        let mut summary = SummaryRow {
            scenario: scenario.to_string(),
            strategy: strategy.to_string(),
            replication,
            seed,
            requests: self.requests,
            completed: self.completed,
            errors: self.rejected + self.no_server + self.errors_502 + self.errors_503,
            users: self.users,
            sessions_lost: lost_total,
            lost_session_pct: round6(if self.session_requests > 0 {
                100.0 * lost_total as f64 / self.session_requests as f64
            } else {
                0.0
            }),
            relogins: self.relogins,
            imbalance_cov: round6(cov),
            imbalance_max_over_mean: round6(mom),
            latency_mean_ms: round6(if self.completed > 0 {
                self.latency_sum_ns as f64 / self.completed as f64 / 1e6
            } else {
                0.0
            }),
            latency_p50_ms: round6(pct(0.50)),
            latency_p95_ms: round6(pct(0.95)),
            latency_p99_ms: round6(pct(0.99)),
            throughput_rps: round6(self.completed as f64 / secs),
            session_requests: self.session_requests,
            rejected: self.rejected,
            no_server: self.no_server,
            backend_utilization: round6(util_sum / backends.len() as f64),
            failed_attempts: self.failed_attempts,
            retries: self.retries,
            errors_502: self.errors_502,
            errors_503: self.errors_503,
            killed_in_flight: self.killed_in_flight,
            store_ops: servers.iter().map(|s| s.ops).sum(),
            store_utilization: round6(servers.iter().map(|s| s.utilization).fold(0.0, f64::max)),
            store_wait_mean_ms: round6({
                let ops: u64 = servers.iter().map(|s| s.ops).sum();
                let wait: u128 = servers.iter().map(|s| s.wait_ns).sum();
                if ops > 0 { wait as f64 / ops as f64 / 1e6 } else { 0.0 }
            }),
            store_latency_p99_ms: round6({
                let mut all: Option<Histogram<u64>> = None;
                for s in servers {
                    match &mut all {
                        None => all = Some(s.hist.clone()),
                        Some(h) => {
                            let _ = h.add(&s.hist);
                        }
                    }
                }
                match all {
                    Some(h) if !h.is_empty() => h.value_at_quantile(0.99) as f64 / 1e6,
                    _ => 0.0,
                }
            }),
            store_rejected: servers.iter().map(|s| s.rejected).sum(),
            store_evictions: store.evictions,
            replication_msgs: store.replication_msgs,
            replication_mb: round6(store.replication_bytes as f64 / 1e6),
            lock_wait_mean_ms: round6(if store.lock_waits > 0 {
                store.lock_wait_ns as f64 / store.lock_waits as f64 / 1e6
            } else {
                0.0
            }),
            lost_updates: store.lost_updates,
            store_timeouts: servers.iter().map(|s| s.timeouts).sum(),
            replication_cpu_s: round6(store.replication_cpu_ns as f64 / 1e9),
            cookie_bytes_mean: round6(if store.cookie_requests > 0 {
                store.cookie_bytes as f64 / store.cookie_requests as f64
            } else {
                0.0
            }),
            user_requests: self.requests - self.relogins,
            extra_backend_pct: round6(if self.requests > self.relogins {
                100.0 * (self.relogins + self.retries) as f64 / (self.requests - self.relogins) as f64
            } else {
                0.0
            }),
            users_logged_out: self.users_logged_out,
            users_logged_out_pct: round6(if self.users > 0 {
                100.0 * self.users_logged_out as f64 / self.users as f64
            } else {
                0.0
            }),
            offered_rps: round6(self.requests as f64 / secs),
            store_mb: round6(store.store_bytes as f64 / 1e6),
            cookie_mb: round6(store.cookie_bytes as f64 / 1e6),
            // Filled in by `cost::apply`, which knows the strategy's prices.
            cost_backends_per_h: 0.0,
            cost_store_per_h: 0.0,
            cost_network_per_h: 0.0,
            cost_lost_per_h: 0.0,
            cost_total_per_h: 0.0,
            // The `lost_*` columns: one per cause, set below from the one list of causes.
            stale_reads: store.stale_reads,
            partial_reads: store.partial_reads,
            wait_mean_ms: round6(if self.served > 0 {
                self.wait_sum_ns as f64 / self.served as f64 / 1e6
            } else {
                0.0
            }),
            wait_p99_ms: round6(if self.wait_hist.is_empty() {
                0.0
            } else {
                self.wait_hist.value_at_quantile(0.99) as f64 / 1000.0
            }),
            p_wait: round6(if self.served > 0 {
                self.waited as f64 / self.served as f64
            } else {
                0.0
            }),
            service_mean_ms: round6(if self.served > 0 {
                self.service_sum_ns as f64 / self.served as f64 / 1e6
            } else {
                0.0
            }),
            ..SummaryRow::default()
        };
        for cause in LostCause::ALL {
            summary.set_lost(cause, self.lost[cause as usize]);
        }
        let width = self.bucket_width.as_nanos().max(1);
        let store_util = |start: SimTime| -> f64 {
            let k = (start.as_nanos() / width) as usize;
            servers
                .iter()
                .filter_map(|s| s.bucket_utilization.get(k))
                .fold(0.0, |a: f64, &b| a.max(b))
        };
        let timeseries = self
            .rows
            .iter()
            .map(|r| TimeseriesRow {
                scenario: scenario.to_string(),
                strategy: strategy.to_string(),
                replication,
                time_s: round6(r.start.as_secs_f64()),
                backend: backends[r.backend].name().to_string(),
                requests: r.requests,
                busy_workers: round6(r.busy_workers),
                queue_length: round6(r.queue_length),
                up: r.up as u8,
                sessions_lost: r.lost,
                errors: r.errors,
                latency_mean_ms: round6(if r.completed > 0 {
                    r.latency_ns as f64 / r.completed as f64 / 1e6
                } else {
                    0.0
                }),
                store_utilization: round6(store_util(r.start)),
                cluster_latency_p50_ms: round6(r.p50_ms),
                cluster_latency_p99_ms: round6(r.p99_ms),
            })
            .collect();
        let stores = servers
            .iter()
            .map(|s| StoreRow {
                scenario: scenario.to_string(),
                strategy: strategy.to_string(),
                replication,
                server: s.name.clone(),
                ops: s.ops,
                utilization: round6(s.utilization),
                wait_mean_ms: round6(s.wait_mean_ms),
                latency_mean_ms: round6(s.latency_mean_ms),
                latency_p99_ms: round6(s.latency_p99_ms),
                rejected: s.rejected,
                timeouts: s.timeouts,
                evictions: s.evictions,
                items: s.items,
                memory_mb: round6(s.memory_bytes as f64 / 1e6),
                connections: s.connections,
                refused_connections: s.refused_connections,
            })
            .collect();
        let faults = self.fault_rows((scenario, strategy, replication));
        RunResult {
            strategy_index,
            summary,
            backends: backend_rows,
            timeseries,
            faults,
            stores,
            events,
        }
    }
}
