//! Scenario files: the raw format (`raw`), loading, merging strategies and `--set` overrides
//! ([`load`]), and the validated [`Scenario`] that the rest of the crate trusts.
//!
//! A scenario is a base system plus a list of strategies, each a label and a partial system
//! that is deep-merged over the base. Everything past [`load::load`] can assume the values
//! here are in range: nothing downstream re-checks input.

mod check;
mod display;
pub(crate) mod load;
pub(crate) mod raw;
pub(crate) mod resolved;

use crate::balancer::registry::PolicyInfo;
use crate::balancer::{BalancerConf, CheckedConf, FailurePolicy, HashKey, Method};
use crate::dist::{Dist, Kind};
use crate::engine::SimTime;
use std::fmt;

// The storage strategies' configuration lives with them in `crate::store::config`; re-exported
// here so that `scenario::SessionsConfig` and the other old paths keep working.
pub(crate) use crate::store::config::{
    Eviction, LockFail, Persistence, ReplicationConfig, SessionsConfig, Spread, StorageKind, StoreConfig, StoreKind,
    WriteMode,
};

pub use load::{Override, load, load_str};

/// A validated scenario: what every run, sweep and report starts from. Only the loader
/// ([`load`]) makes one, and nothing edits it afterwards: its fields are private to the crate
/// (read them through the accessors), so a `Scenario` is always one the loader accepted.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) seed: u64,
    /// Arrivals stop at this time; requests in flight then are allowed to finish.
    pub(crate) duration: SimTime,
    /// Statistics count only requests that arrive at or after this time.
    pub(crate) warmup: SimTime,
    pub(crate) replications: u32,
    /// Width of a `timeseries.csv` bucket.
    pub(crate) bucket: SimTime,
    /// The systems to compare, in file order. Never empty.
    pub(crate) strategies: Vec<Strategy>,
    /// The scenario as a TOML table after `--set` overrides (strategies included): what
    /// `scenario.toml` in the output folder records, and what sweeps vary.
    pub(crate) source: toml::Table,
}

impl Scenario {
    /// The scenario's `name` (also its output folder's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The scenario's `description`, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The seed every random stream derives from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Arrivals stop at this time; requests in flight then are allowed to finish.
    pub fn duration(&self) -> SimTime {
        self.duration
    }

    /// Statistics count only requests that arrive at or after this time.
    pub fn warmup(&self) -> SimTime {
        self.warmup
    }

    /// Independent runs of every strategy.
    pub fn replications(&self) -> u32 {
        self.replications
    }

    /// Width of a `timeseries.csv` bucket.
    pub fn bucket(&self) -> SimTime {
        self.bucket
    }

    /// The systems to compare, in file order. Never empty.
    pub fn strategies(&self) -> &[Strategy] {
        &self.strategies
    }

    /// The scenario as a TOML table after the overrides (strategies included): what
    /// `scenario.toml` in the output folder records, and what sweeps vary.
    pub fn source(&self) -> &toml::Table {
        &self.source
    }

    /// The same scenario without its recorded table (a sweep point's is its base's plus the
    /// axis values: not worth keeping per point). The table is a record only: nothing reads
    /// it to run, so the scenario stays the one the loader accepted.
    pub(crate) fn forget_source(&mut self) {
        self.source = toml::Table::new();
    }

    /// The same scenario with no `[sweep]` section in its recorded table (a sweep built from it
    /// then has only the axes it is given).
    pub(crate) fn without_sweep_section(mut self) -> Scenario {
        self.source.remove("sweep");
        self
    }
}

/// One labelled system of the comparison.
#[derive(Clone, Debug)]
pub struct Strategy {
    /// The strategy's label (`[[strategy]] label`, or `<policy> + <storage>` without one), as the
    /// `strategy` column of every CSV writes it.
    pub label: String,
    /// The cluster this strategy simulates: the shared sections with the strategy's own keys applied.
    pub system: System,
}

/// Everything that describes one simulated cluster and its users.
#[derive(Clone, Debug)]
pub struct System {
    /// `[workload]`: the users, their arrivals, requests and think times (or the replayed log).
    pub workload: Workload,
    pub(crate) balancer: BalancerConfig,
    /// In balancer order (as in the config file). Never empty.
    pub(crate) backends: Vec<BackendConfig>,
    pub(crate) sessions: SessionsConfig,
    /// What fails, when (see [`crate::faults`]).
    pub(crate) faults: crate::faults::FaultPlan,
    /// Prices (`[costs]`), for the `cost_*` columns.
    pub(crate) costs: CostsConfig,
}

/// `[costs]`: what the cluster and its failures cost. Every price defaults to 0, so a scenario
/// without `[costs]` has `cost_*` columns of 0.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CostsConfig {
    /// A label for the reports only (`USD`, `EUR`); no conversion.
    pub(crate) currency: String,
    pub(crate) backend_per_hour: f64,
    pub(crate) worker_per_hour: f64,
    /// Per store server and hour, by kind (in `StoreKind::ALL` order: redis, memcached, sql).
    pub(crate) server_per_hour: [f64; 3],
    /// Per GB (10^9 bytes) of configured store memory and hour (servers with `memory = 0`,
    /// unlimited, cost nothing here).
    pub(crate) store_memory_per_gb_hour: f64,
    /// Per GB (10^9 bytes) of replication, store and cookie traffic.
    pub(crate) network_per_gb: f64,
    /// Per request that lost its session.
    pub(crate) lost_session: f64,
    /// Per re-login (a user sent back to the login page).
    pub(crate) logout: f64,
}

/// `[workload]` validated: who the users are, how fast they arrive and what they request
/// (docs/scenario-format.md, "Workload").
#[derive(Clone, Debug)]
pub struct Workload {
    /// Mean user arrival rate [users/s] before the profile's factor.
    pub(crate) users_per_second: f64,
    /// Piecewise-constant rate factors: from `at` on, the rate is `users_per_second * factor`.
    /// Starts at time zero; empty means a constant factor 1.
    pub(crate) profile: Vec<ProfileStep>,
    /// When set, the profile repeats with this period (e.g. 24 h for a daily cycle).
    pub(crate) profile_repeat: Option<SimTime>,
    /// Distinct URLs the users request (`$request_uri` hashing).
    pub(crate) pages: u32,
    /// User classes; shares sum to 1. Never empty.
    pub(crate) classes: Vec<UserClass>,
    pub(crate) addresses: AddressModel,
    /// When set, the requests come from an access log instead of the synthetic users; the
    /// first class still gives the session size and the share of requests that modify it.
    pub(crate) replay: Option<ReplayConfig>,
}

/// `[workload.replay]`: an access log as the workload.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayConfig {
    /// The log file, resolved against the scenario's folder.
    pub(crate) file: std::path::PathBuf,
    pub(crate) format: LogFormat,
    /// nginx: the cookie whose `$cookie_NAME` value identifies a client.
    pub(crate) id_cookie: Option<String>,
    /// A user session ends after this long without a request.
    pub(crate) session_gap: SimTime,
    /// Simulated time = log time since the start x `time_scale` (0.5 replays twice as fast).
    pub(crate) time_scale: f64,
    /// Each user is replayed this many times, with distinct addresses and ids.
    pub(crate) clone: u32,
    /// Replay only requests logged in [from, to) after the log's first second.
    pub(crate) from: SimTime,
    pub(crate) to: Option<SimTime>,
    pub(crate) service: ServiceSource,
    /// With login, an inferred session's first request logs in and later ones need the session.
    pub(crate) login: bool,
    /// A malformed line is an error rather than counted and skipped.
    pub(crate) strict: bool,
}

/// How a log's lines are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// An nginx `log_format` string (`combined` and `main` are resolved by the reader).
    Nginx(String),
    /// HAProxy `option httplog`.
    Haproxy,
    /// The documented CSV with a header row.
    Csv,
}

/// Where a replayed request's service time comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServiceSource {
    /// The log's time when the line has one, else the backend's distribution.
    Auto,
    /// Always the log's: a line without one is malformed.
    Log,
    /// Always the backend's distribution, ignoring the log's times.
    Model,
}

impl ServiceSource {
    pub(crate) const ALL: &'static [(&'static str, ServiceSource)] = &[
        ("auto", ServiceSource::Auto),
        ("log", ServiceSource::Log),
        ("model", ServiceSource::Model),
    ];
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ProfileStep {
    pub(crate) at: SimTime,
    pub(crate) factor: f64,
}

#[derive(Clone, Debug)]
pub(crate) struct UserClass {
    pub(crate) name: String,
    /// Fraction of arriving users in this class (0..=1).
    pub(crate) share: f64,
    /// Whether the user logs in first (and so has a session that can be lost).
    pub(crate) login: bool,
    /// Requests besides the login request [count].
    pub(crate) requests: Dist,
    /// Pause before each request after the first [s].
    pub(crate) think_time: Dist,
    /// Fraction of users who refuse cookies (0..=1).
    pub(crate) refuse_cookies: f64,
    /// Size of a user's session data [bytes], drawn once per user.
    pub(crate) session_size: Dist,
    /// Fraction of requests that change the session (0..=1).
    pub(crate) session_modify: f64,
    /// Requests a page sends at once (the page and its AJAX calls) [count, >= 1].
    pub(crate) parallel: u32,
}

/// Where user addresses come from: many /24 networks, and a share of users behind a few
/// shared NAT or proxy addresses.
#[derive(Clone, Debug, PartialEq)]
pub struct AddressModel {
    /// Distinct /24 networks that ordinary users come from.
    pub(crate) networks: u32,
    /// Fraction of users behind a shared NAT/proxy address (0..=1).
    pub(crate) nat_share: f64,
    /// How many shared NAT/proxy addresses there are.
    pub(crate) nat_addresses: u32,
    /// Zipf exponent of network popularity; 0 is uniform.
    pub(crate) network_skew: f64,
}

/// The balancer of a system: a policy with its failure detection and retry rules, over the
/// backends in order (server i of the balancer is backend i).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BalancerConfig {
    /// The policy (for an imported config, the one its method amounts to).
    pub(crate) policy: &'static PolicyInfo,
    /// The full description the simulator builds its policy from, already checked.
    pub(crate) conf: CheckedConf,
    /// Set when the balancer was imported from an nginx or HAProxy config file.
    pub(crate) import: Option<ImportInfo>,
}

/// Where an imported balancer came from, and what the import left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImportInfo {
    /// The config file as written in the scenario.
    pub(crate) path: String,
    /// `nginx` or `haproxy`.
    pub(crate) format: &'static str,
    /// The `upstream` block or `backend`/`listen` section used.
    pub(crate) block: String,
    /// Directives read but ignored because they do not change routing, as `file:line: text`.
    pub(crate) notes: Vec<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct BackendConfig {
    pub(crate) name: String,
    pub(crate) weight: u32,
    /// Requests served at once (PHP-FPM children, Tomcat threads).
    pub(crate) workers: u32,
    /// Requests that may wait for a worker; one more is rejected with an error.
    pub(crate) queue: u32,
    /// Time a worker spends on one request [s].
    pub(crate) service_time: Dist,
    /// Used only when every non-backup server is unavailable.
    pub(crate) backup: bool,
    /// Marked `down` in the balancer's configuration: never chosen.
    pub(crate) down: bool,
}

impl crate::metrics::sources::BackendShape for BackendConfig {
    fn name(&self) -> &str {
        &self.name
    }
    fn workers(&self) -> u32 {
        self.workers
    }
    fn balanced(&self) -> bool {
        !self.down && !self.backup
    }
}

impl fmt::Display for BalancerConfig {
    /// The balancer lines of `sessim check`: policy, its parameters, retry rules, import notes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.conf.conf();
        write!(f, "  balancer   {}", self.policy.name)?;
        c.method.summary(f)?;
        if let Some(k) = &c.cookie {
            write!(f, " (cookie {} insert indirect nocache)", k.name)?;
        }
        writeln!(f)?;
        if let Some(o) = c.method.outlier() {
            writeln!(
                f,
                "             outlier_detection consecutive_5xx {}, interval {}, base_ejection_time {}, \
                 max_ejection_time {}, max_ejection_percent {}",
                o.consecutive_5xx, o.interval, o.base_ejection_time, o.max_ejection_time, o.max_ejection_percent
            )?;
        }
        match c.failure {
            FailurePolicy::Nginx(n) => {
                let mut words: Vec<String> = Vec::new();
                if n.error {
                    words.push("error".into());
                }
                if n.timeout {
                    words.push("timeout".into());
                }
                for (bit, status) in crate::balancer::NEXT_UPSTREAM_STATUSES.iter().enumerate() {
                    if n.http & (1 << bit) != 0 {
                        words.push(format!("http_{status}"));
                    }
                }
                if words.is_empty() {
                    words.push("off".into());
                }
                write!(f, "             proxy_next_upstream {}", words.join(" "))?;
                if n.tries > 0 {
                    write!(f, ", tries {}", n.tries)?;
                }
                writeln!(f)?;
            }
            FailurePolicy::Haproxy(h) => writeln!(
                f,
                "             retries {}, redispatch {}, connect timeout {}",
                h.retries,
                if h.redispatch.is_some() { "on" } else { "off" },
                if h.connect_timeout > SimTime::ZERO {
                    h.connect_timeout.to_string()
                } else {
                    "none".to_string()
                }
            )?,
        }
        if let Some(i) = &self.import {
            writeln!(f, "             imported from {} ({} `{}`)", i.path, i.format, i.block)?;
            for n in &i.notes {
                writeln!(f, "             note: {n}")?;
            }
        }
        Ok(())
    }
}
