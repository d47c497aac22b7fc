//! The scenario file as serde reads it: every key optional where it has a default, unknown
//! keys rejected. Nothing here is trusted: [`super::load`] converts it into a validated
//! [`super::Scenario`]. Distributions and durations stay as raw TOML values so that their
//! messages can name the key path (see [`crate::dist::parse`]).

use serde::Deserialize;
use toml::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: String,
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub duration: Value,
    pub warmup: Option<Value>,
    pub replications: Option<u32>,
    pub output: Option<RawOutput>,
    pub workload: RawWorkload,
    #[serde(default)]
    pub balancer: RawBalancer,
    #[serde(default)]
    pub backends: RawBackends,
    #[serde(default)]
    pub sessions: RawSessions,
    pub faults: Option<Vec<RawFault>>,
    pub costs: Option<RawCosts>,
}

/// `[costs]`: prices, all optional (0 when not given).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCosts {
    pub currency: Option<String>,
    pub backend_per_hour: Option<f64>,
    pub worker_per_hour: Option<f64>,
    pub redis_server_per_hour: Option<f64>,
    pub memcached_server_per_hour: Option<f64>,
    pub sql_server_per_hour: Option<f64>,
    pub store_memory_per_gb_hour: Option<f64>,
    pub network_per_gb: Option<f64>,
    pub lost_session: Option<f64>,
    pub logout: Option<f64>,
}

/// One `[[faults]]` entry; which keys apply depends on `kind` (checked in validation).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub kind: String,
    pub at: Option<Value>,
    pub target: Option<String>,
    pub targets: Option<Vec<String>>,
    pub downtime: Option<Value>,
    pub factor: Option<f64>,
    pub duration: Option<Value>,
    pub gap: Option<Value>,
    pub mode: Option<String>,
    pub mtbf: Option<Value>,
    pub mttr: Option<Value>,
    pub failure: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub bucket: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub users_per_second: Option<f64>,
    pub replay: Option<RawReplay>,
    pub profile: Option<Vec<RawProfileStep>>,
    pub profile_repeat: Option<Value>,
    pub pages: Option<u32>,
    pub login: Option<bool>,
    pub requests: Option<Value>,
    pub think_time: Option<Value>,
    pub refuse_cookies: Option<f64>,
    pub session_size: Option<Value>,
    pub session_modify: Option<f64>,
    pub parallel: Option<u32>,
    pub classes: Option<Vec<RawNamedClass>>,
    pub addresses: Option<RawAddresses>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReplay {
    pub file: String,
    pub format: Option<String>,
    pub id_cookie: Option<String>,
    pub session_gap: Option<Value>,
    pub time_scale: Option<f64>,
    pub clone: Option<u32>,
    pub from: Option<Value>,
    pub to: Option<Value>,
    pub service_time: Option<String>,
    pub login: Option<bool>,
    pub strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfileStep {
    pub at: Value,
    pub factor: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNamedClass {
    pub name: String,
    pub share: f64,
    pub login: Option<bool>,
    pub requests: Option<Value>,
    pub think_time: Option<Value>,
    pub refuse_cookies: Option<f64>,
    pub session_size: Option<Value>,
    pub session_modify: Option<f64>,
    pub parallel: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAddresses {
    pub networks: Option<u32>,
    pub nat_share: Option<f64>,
    pub nat_addresses: Option<u32>,
    pub network_skew: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBalancer {
    pub policy: Option<String>,
    pub key: Option<String>,
    pub cookie_name: Option<String>,
    pub cookie_balance: Option<String>,
    pub hash_type: Option<String>,
    pub max_fails: Option<u32>,
    pub fail_timeout: Option<Value>,
    pub next_upstream: Option<Vec<String>>,
    pub next_upstream_tries: Option<u32>,
    pub check: Option<bool>,
    pub inter: Option<Value>,
    pub fall: Option<u32>,
    pub rise: Option<u32>,
    pub retries: Option<u32>,
    pub redispatch: Option<bool>,
    pub connect_timeout: Option<Value>,
    pub lbmethod: Option<String>,
    pub stickysession: Option<String>,
    pub nofailover: Option<bool>,
    pub forcerecovery: Option<bool>,
    pub retry: Option<Value>,
    pub config: Option<String>,
    pub upstream: Option<String>,
    pub backend: Option<String>,
    // Envoy and kube-proxy (src/scenario/load/envoy_kube.rs).
    pub choice_count: Option<u32>,
    pub active_request_bias: Option<f64>,
    pub minimum_ring_size: Option<u64>,
    pub maximum_ring_size: Option<u64>,
    pub table_size: Option<u64>,
    pub outlier_detection: Option<RawOutlier>,
    pub session_affinity: Option<String>,
    pub affinity_timeout: Option<Value>,
    pub recent_list_size: Option<u32>,
    // Caddy (src/scenario/load/caddy.rs).
    pub lb_policy: Option<String>,
    pub lb_retries: Option<u32>,
    pub lb_try_duration: Option<Value>,
    pub lb_try_interval: Option<Value>,
    pub fail_duration: Option<Value>,
    pub unhealthy_status: Option<Vec<Value>>,
    pub unhealthy_latency: Option<Value>,
    pub unhealthy_request_count: Option<u32>,
    pub health_interval: Option<Value>,
}

/// `[balancer.outlier_detection]` (Envoy).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutlier {
    pub consecutive_5xx: Option<u32>,
    pub interval: Option<Value>,
    pub base_ejection_time: Option<Value>,
    pub max_ejection_time: Option<Value>,
    pub max_ejection_percent: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackends {
    pub count: Option<u32>,
    pub workers: Option<u32>,
    pub queue: Option<u32>,
    pub weight: Option<u32>,
    pub service_time: Option<Value>,
    pub servers: Option<Vec<RawServer>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub name: Option<String>,
    pub weight: Option<u32>,
    pub workers: Option<u32>,
    pub queue: Option<u32>,
    pub service_time: Option<Value>,
    pub backup: Option<bool>,
    pub down: Option<bool>,
    pub max_conns: Option<u32>,
    pub max_fails: Option<u32>,
    pub fail_timeout: Option<Value>,
    pub cookie: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    pub storage: Option<String>,
    pub gc_maxlifetime: Option<Value>,
    pub gc_probability: Option<u32>,
    pub gc_divisor: Option<u32>,
    pub write: Option<String>,
    pub cookie_limit: Option<Value>,
    pub fallback_cookie_size: Option<Value>,
    pub replication: Option<RawReplication>,
    pub store: Option<RawStore>,
    pub cache: Option<RawStore>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReplication {
    pub send_cpu: Option<Value>,
    pub receive_cpu: Option<Value>,
    pub message_overhead: Option<Value>,
    pub rtt: Option<Value>,
    pub send_window: Option<Value>,
    pub send_mode: Option<String>,
    pub jitter: Option<Value>,
    pub receiver_threads: Option<u32>,
    pub sender_timeout: Option<Value>,
    pub membership: Option<String>,
    pub membership_period: Option<Value>,
    pub membership_timeout: Option<Value>,
    pub jvm_route_binder: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub kind: Option<String>,
    pub servers: Option<u32>,
    pub distribution: Option<String>,
    pub service_time: Option<Value>,
    pub concurrency: Option<u32>,
    pub rtt: Option<Value>,
    pub timeout: Option<Value>,
    pub max_connections: Option<u32>,
    pub memory: Option<Value>,
    pub eviction: Option<String>,
    pub growth_factor: Option<f64>,
    pub page_size: Option<Value>,
    pub item_overhead: Option<Value>,
    pub key_size: Option<Value>,
    pub persistence: Option<String>,
    pub snapshot_every: Option<Value>,
    pub locking: Option<bool>,
    pub lock_wait: Option<Value>,
    pub lock_retries: Option<u32>,
    pub lock_fail: Option<String>,
}
