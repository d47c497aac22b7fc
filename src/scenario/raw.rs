//! The scenario file as serde reads it: every key optional where it has a default, unknown
//! keys rejected. Nothing here is trusted: [`super::load`] converts it into a validated
//! [`super::Scenario`]. Distributions and durations stay as raw TOML values so that their
//! messages can name the key path (see [`crate::dist::parse`]).

use serde::Deserialize;
use toml::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) seed: Option<u64>,
    pub(crate) duration: Value,
    pub(crate) warmup: Option<Value>,
    pub(crate) replications: Option<u32>,
    pub(crate) output: Option<RawOutput>,
    pub(crate) workload: RawWorkload,
    #[serde(default)]
    pub(crate) balancer: RawBalancer,
    #[serde(default)]
    pub(crate) backends: RawBackends,
    #[serde(default)]
    pub(crate) sessions: RawSessions,
    pub(crate) faults: Option<Vec<RawFault>>,
    pub(crate) costs: Option<RawCosts>,
}

/// `[costs]`: prices, all optional (0 when not given).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCosts {
    pub(crate) currency: Option<String>,
    pub(crate) backend_per_hour: Option<f64>,
    pub(crate) worker_per_hour: Option<f64>,
    pub(crate) redis_server_per_hour: Option<f64>,
    pub(crate) memcached_server_per_hour: Option<f64>,
    pub(crate) sql_server_per_hour: Option<f64>,
    pub(crate) store_memory_per_gb_hour: Option<f64>,
    pub(crate) network_per_gb: Option<f64>,
    pub(crate) lost_session: Option<f64>,
    pub(crate) logout: Option<f64>,
}

/// One `[[faults]]` entry; which keys apply depends on `kind` (checked in validation).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub(crate) kind: String,
    pub(crate) at: Option<Value>,
    pub(crate) target: Option<String>,
    pub(crate) targets: Option<Vec<String>>,
    pub(crate) downtime: Option<Value>,
    pub(crate) factor: Option<f64>,
    pub(crate) duration: Option<Value>,
    pub(crate) gap: Option<Value>,
    pub(crate) mode: Option<String>,
    pub(crate) mtbf: Option<Value>,
    pub(crate) mttr: Option<Value>,
    pub(crate) failure: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutput {
    pub(crate) bucket: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkload {
    pub(crate) users_per_second: Option<f64>,
    pub(crate) replay: Option<RawReplay>,
    pub(crate) profile: Option<Vec<RawProfileStep>>,
    pub(crate) profile_repeat: Option<Value>,
    pub(crate) pages: Option<u32>,
    pub(crate) login: Option<bool>,
    pub(crate) requests: Option<Value>,
    pub(crate) think_time: Option<Value>,
    pub(crate) refuse_cookies: Option<f64>,
    pub(crate) session_size: Option<Value>,
    pub(crate) session_modify: Option<f64>,
    pub(crate) parallel: Option<u32>,
    pub(crate) classes: Option<Vec<RawNamedClass>>,
    pub(crate) addresses: Option<RawAddresses>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplay {
    pub(crate) file: String,
    pub(crate) format: Option<String>,
    pub(crate) id_cookie: Option<String>,
    pub(crate) session_gap: Option<Value>,
    pub(crate) time_scale: Option<f64>,
    pub(crate) clone: Option<u32>,
    pub(crate) from: Option<Value>,
    pub(crate) to: Option<Value>,
    pub(crate) service_time: Option<String>,
    pub(crate) login: Option<bool>,
    pub(crate) strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProfileStep {
    pub(crate) at: Value,
    pub(crate) factor: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNamedClass {
    pub(crate) name: String,
    pub(crate) share: f64,
    pub(crate) login: Option<bool>,
    pub(crate) requests: Option<Value>,
    pub(crate) think_time: Option<Value>,
    pub(crate) refuse_cookies: Option<f64>,
    pub(crate) session_size: Option<Value>,
    pub(crate) session_modify: Option<f64>,
    pub(crate) parallel: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAddresses {
    pub(crate) networks: Option<u32>,
    pub(crate) nat_share: Option<f64>,
    pub(crate) nat_addresses: Option<u32>,
    pub(crate) network_skew: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBalancer {
    pub(crate) policy: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) cookie_name: Option<String>,
    pub(crate) cookie_balance: Option<String>,
    pub(crate) hash_type: Option<String>,
    pub(crate) max_fails: Option<u32>,
    pub(crate) fail_timeout: Option<Value>,
    pub(crate) next_upstream: Option<Vec<String>>,
    pub(crate) next_upstream_tries: Option<u32>,
    pub(crate) check: Option<bool>,
    pub(crate) inter: Option<Value>,
    pub(crate) fall: Option<u32>,
    pub(crate) rise: Option<u32>,
    pub(crate) retries: Option<u32>,
    pub(crate) redispatch: Option<bool>,
    pub(crate) connect_timeout: Option<Value>,
    pub(crate) lbmethod: Option<String>,
    pub(crate) stickysession: Option<String>,
    pub(crate) nofailover: Option<bool>,
    pub(crate) forcerecovery: Option<bool>,
    pub(crate) retry: Option<Value>,
    pub(crate) config: Option<String>,
    pub(crate) upstream: Option<String>,
    pub(crate) backend: Option<String>,
    // Envoy and kube-proxy (src/scenario/load/envoy_kube.rs).
    pub(crate) choice_count: Option<u32>,
    pub(crate) active_request_bias: Option<f64>,
    pub(crate) minimum_ring_size: Option<u64>,
    pub(crate) maximum_ring_size: Option<u64>,
    pub(crate) table_size: Option<u64>,
    pub(crate) outlier_detection: Option<RawOutlier>,
    pub(crate) session_affinity: Option<String>,
    pub(crate) affinity_timeout: Option<Value>,
    pub(crate) recent_list_size: Option<u32>,
    // Caddy (src/scenario/load/caddy.rs).
    pub(crate) lb_policy: Option<String>,
    pub(crate) lb_retries: Option<u32>,
    pub(crate) lb_try_duration: Option<Value>,
    pub(crate) lb_try_interval: Option<Value>,
    pub(crate) fail_duration: Option<Value>,
    pub(crate) unhealthy_status: Option<Vec<Value>>,
    pub(crate) unhealthy_latency: Option<Value>,
    pub(crate) unhealthy_request_count: Option<u32>,
    pub(crate) health_interval: Option<Value>,
}

/// `[balancer.outlier_detection]` (Envoy).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutlier {
    pub(crate) consecutive_5xx: Option<u32>,
    pub(crate) interval: Option<Value>,
    pub(crate) base_ejection_time: Option<Value>,
    pub(crate) max_ejection_time: Option<Value>,
    pub(crate) max_ejection_percent: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackends {
    pub(crate) count: Option<u32>,
    pub(crate) workers: Option<u32>,
    pub(crate) queue: Option<u32>,
    pub(crate) weight: Option<u32>,
    pub(crate) service_time: Option<Value>,
    pub(crate) servers: Option<Vec<RawServer>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub(crate) name: Option<String>,
    pub(crate) weight: Option<u32>,
    pub(crate) workers: Option<u32>,
    pub(crate) queue: Option<u32>,
    pub(crate) service_time: Option<Value>,
    pub(crate) backup: Option<bool>,
    pub(crate) down: Option<bool>,
    pub(crate) max_conns: Option<u32>,
    pub(crate) max_fails: Option<u32>,
    pub(crate) fail_timeout: Option<Value>,
    pub(crate) cookie: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSessions {
    pub(crate) storage: Option<String>,
    pub(crate) gc_maxlifetime: Option<Value>,
    pub(crate) gc_probability: Option<u32>,
    pub(crate) gc_divisor: Option<u32>,
    pub(crate) write: Option<String>,
    pub(crate) cookie_limit: Option<Value>,
    pub(crate) fallback_cookie_size: Option<Value>,
    pub(crate) replication: Option<RawReplication>,
    pub(crate) store: Option<RawStore>,
    pub(crate) cache: Option<RawStore>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplication {
    pub(crate) send_cpu: Option<Value>,
    pub(crate) receive_cpu: Option<Value>,
    pub(crate) message_overhead: Option<Value>,
    pub(crate) rtt: Option<Value>,
    pub(crate) send_window: Option<Value>,
    pub(crate) send_mode: Option<String>,
    pub(crate) jitter: Option<Value>,
    pub(crate) receiver_threads: Option<u32>,
    pub(crate) sender_timeout: Option<Value>,
    pub(crate) membership: Option<String>,
    pub(crate) membership_period: Option<Value>,
    pub(crate) membership_timeout: Option<Value>,
    pub(crate) jvm_route_binder: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub(crate) kind: Option<String>,
    pub(crate) servers: Option<u32>,
    pub(crate) distribution: Option<String>,
    pub(crate) service_time: Option<Value>,
    pub(crate) concurrency: Option<u32>,
    pub(crate) rtt: Option<Value>,
    pub(crate) timeout: Option<Value>,
    pub(crate) max_connections: Option<u32>,
    pub(crate) memory: Option<Value>,
    pub(crate) eviction: Option<String>,
    pub(crate) growth_factor: Option<f64>,
    pub(crate) page_size: Option<Value>,
    pub(crate) item_overhead: Option<Value>,
    pub(crate) key_size: Option<Value>,
    pub(crate) persistence: Option<String>,
    pub(crate) snapshot_every: Option<Value>,
    pub(crate) locking: Option<bool>,
    pub(crate) lock_wait: Option<Value>,
    pub(crate) lock_retries: Option<u32>,
    pub(crate) lock_fail: Option<String>,
}
