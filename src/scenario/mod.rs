//! Scenario files: the raw format ([`raw`]), loading, merging strategies and `--set` overrides
//! ([`load`]), and the validated [`Scenario`] that the rest of the crate trusts.
//!
//! A scenario is a base system plus a list of strategies, each a label and a partial system
//! that is deep-merged over the base. Everything past [`load::load`] can assume the values
//! here are in range: nothing downstream re-checks input.

pub mod load;
pub mod raw;

use crate::balancer::{BalancerConf, CheckedConf, FailurePolicy, HashKey, Method};
use crate::dist::{Dist, Kind};
use crate::engine::SimTime;
use std::fmt;

pub use load::{Override, load, load_str};

/// A validated scenario: what every run, sweep and report starts from.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub seed: u64,
    /// Arrivals stop at this time; requests in flight then are allowed to finish.
    pub duration: SimTime,
    /// Statistics count only requests that arrive at or after this time.
    pub warmup: SimTime,
    pub replications: u32,
    /// Width of a `timeseries.csv` bucket.
    pub bucket: SimTime,
    /// The systems to compare, in file order. Never empty.
    pub strategies: Vec<Strategy>,
    /// The scenario as a TOML table after `--set` overrides (strategies included): what
    /// `scenario.toml` in the output folder records, and what sweeps vary.
    pub source: toml::Table,
}

/// One labelled system of the comparison.
#[derive(Clone, Debug)]
pub struct Strategy {
    pub label: String,
    pub system: System,
}

/// Everything that describes one simulated cluster and its users.
#[derive(Clone, Debug)]
pub struct System {
    pub workload: Workload,
    pub balancer: BalancerConfig,
    /// In balancer order (as in the config file). Never empty.
    pub backends: Vec<BackendConfig>,
    pub sessions: SessionsConfig,
}

#[derive(Clone, Debug)]
pub struct Workload {
    /// Mean user arrival rate [users/s] before the profile's factor.
    pub users_per_second: f64,
    /// Piecewise-constant rate factors: from `at` on, the rate is `users_per_second * factor`.
    /// Starts at time zero; empty means a constant factor 1.
    pub profile: Vec<ProfileStep>,
    /// When set, the profile repeats with this period (e.g. 24 h for a daily cycle).
    pub profile_repeat: Option<SimTime>,
    /// Distinct URLs the users request (`$request_uri` hashing).
    pub pages: u32,
    /// User classes; shares sum to 1. Never empty.
    pub classes: Vec<UserClass>,
    pub addresses: AddressModel,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProfileStep {
    pub at: SimTime,
    pub factor: f64,
}

#[derive(Clone, Debug)]
pub struct UserClass {
    pub name: String,
    /// Fraction of arriving users in this class (0..=1).
    pub share: f64,
    /// Whether the user logs in first (and so has a session that can be lost).
    pub login: bool,
    /// Requests besides the login request [count].
    pub requests: Dist,
    /// Pause before each request after the first [s].
    pub think_time: Dist,
    /// Fraction of users who refuse cookies (0..=1).
    pub refuse_cookies: f64,
}

/// Where user addresses come from: many /24 networks, and a share of users behind a few
/// shared NAT or proxy addresses.
#[derive(Clone, Debug, PartialEq)]
pub struct AddressModel {
    /// Distinct /24 networks that ordinary users come from.
    pub networks: u32,
    /// Fraction of users behind a shared NAT/proxy address (0..=1).
    pub nat_share: f64,
    /// How many shared NAT/proxy addresses there are.
    pub nat_addresses: u32,
    /// Zipf exponent of network popularity; 0 is uniform.
    pub network_skew: f64,
}

/// The balancer of a system: a policy with its failure detection and retry rules, over the
/// backends in order (server i of the balancer is backend i).
#[derive(Clone, Debug, PartialEq)]
pub struct BalancerConfig {
    /// The policy's scenario name (for an imported config, the name of its method).
    pub policy: PolicyKind,
    /// The full description the simulator builds its policy from, already checked.
    pub conf: CheckedConf,
    /// Set when the balancer was imported from an nginx or HAProxy config file.
    pub import: Option<ImportInfo>,
}

/// Where an imported balancer came from, and what the import left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportInfo {
    /// The config file as written in the scenario.
    pub path: String,
    /// `nginx` or `haproxy`.
    pub format: &'static str,
    /// The `upstream` block or `backend`/`listen` section used.
    pub block: String,
    /// Directives read but ignored because they do not change routing, as `file:line: text`.
    pub notes: Vec<String>,
}

/// The balancer policies. Adding one means adding a file under `src/balancer/` and an arm here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// nginx's smooth weighted round-robin (the default of an `upstream` block).
    RoundRobin,
    /// nginx `ip_hash`.
    IpHash,
    /// nginx `hash $key`.
    Hash,
    /// nginx `hash $key consistent`.
    HashConsistent,
    /// nginx `least_conn`.
    LeastConn,
    /// nginx `random`: weighted random choice per request.
    Random,
    /// nginx `random two least_conn` (power of two choices).
    RandomTwoLeastConn,
    /// HAProxy `balance roundrobin`.
    HaproxyRoundRobin,
    /// HAProxy `balance leastconn`.
    HaproxyLeastConn,
    /// HAProxy `balance source`.
    Source,
    /// HAProxy `cookie SERVERID insert indirect nocache` over a `balance` algorithm.
    Cookie,
}

impl PolicyKind {
    pub const ALL: &'static [(&'static str, PolicyKind)] = &[
        ("round_robin", PolicyKind::RoundRobin),
        ("ip_hash", PolicyKind::IpHash),
        ("hash", PolicyKind::Hash),
        ("hash_consistent", PolicyKind::HashConsistent),
        ("least_conn", PolicyKind::LeastConn),
        ("random", PolicyKind::Random),
        ("random_two_least_conn", PolicyKind::RandomTwoLeastConn),
        ("haproxy_roundrobin", PolicyKind::HaproxyRoundRobin),
        ("leastconn", PolicyKind::HaproxyLeastConn),
        ("source", PolicyKind::Source),
        ("cookie", PolicyKind::Cookie),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// Whether the policy imitates HAProxy (health checks, `retries`, `option redispatch`)
    /// rather than nginx (passive `max_fails`, `proxy_next_upstream`).
    pub fn is_haproxy(self) -> bool {
        matches!(
            self,
            PolicyKind::HaproxyRoundRobin | PolicyKind::HaproxyLeastConn | PolicyKind::Source | PolicyKind::Cookie
        )
    }

    /// The policy an imported balancer amounts to.
    pub fn of(conf: &BalancerConf) -> PolicyKind {
        if conf.cookie.is_some() {
            return PolicyKind::Cookie;
        }
        match conf.method {
            Method::RoundRobin => PolicyKind::RoundRobin,
            Method::IpHash => PolicyKind::IpHash,
            Method::Hash { consistent: false, .. } => PolicyKind::Hash,
            Method::Hash { consistent: true, .. } => PolicyKind::HashConsistent,
            Method::LeastConn => PolicyKind::LeastConn,
            Method::Random { two: false } => PolicyKind::Random,
            Method::Random { two: true } => PolicyKind::RandomTwoLeastConn,
            Method::HaproxyRoundRobin => PolicyKind::HaproxyRoundRobin,
            Method::HaproxyLeastConn => PolicyKind::HaproxyLeastConn,
            Method::Source { .. } => PolicyKind::Source,
        }
    }
}

#[derive(Clone, Debug)]
pub struct BackendConfig {
    pub name: String,
    pub weight: u32,
    /// Requests served at once (PHP-FPM children, Tomcat threads).
    pub workers: u32,
    /// Requests that may wait for a worker; one more is rejected with an error.
    pub queue: u32,
    /// Time a worker spends on one request [s].
    pub service_time: Dist,
    /// Used only when every non-backup server is unavailable.
    pub backup: bool,
    /// Marked `down` in the balancer's configuration: never chosen.
    pub down: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SessionsConfig {
    pub storage: StorageKind,
}

/// The session storage strategies. Adding one means a file under `src/store/` and an arm here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKind {
    /// On the backend that created it (PHP's default files handler).
    Local,
}

impl StorageKind {
    pub const ALL: &'static [(&'static str, StorageKind)] = &[("local", StorageKind::Local)];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

impl fmt::Display for Scenario {
    /// The resolved scenario, every default filled in, as `sessim check` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario     {}", self.name)?;
        if let Some(d) = &self.description {
            writeln!(f, "description  {d}")?;
        }
        writeln!(f, "seed         {}", self.seed)?;
        writeln!(f, "duration     {} (warm-up {} discarded)", self.duration, self.warmup)?;
        writeln!(f, "replications {}", self.replications)?;
        writeln!(f, "bucket       {}", self.bucket)?;
        for (i, s) in self.strategies.iter().enumerate() {
            writeln!(f, "\nstrategy[{i}]  {}", s.label)?;
            write!(f, "{}", s.system)?;
        }
        Ok(())
    }
}

impl fmt::Display for BalancerConfig {
    /// The balancer lines of `sessim check`: policy, its parameters, retry rules, import notes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.conf.conf();
        write!(f, "  balancer   {}", self.policy.name())?;
        match &c.method {
            Method::Hash { key, .. } => write!(f, " (key {key})")?,
            Method::Source { consistent, .. } => write!(
                f,
                " (hash-type {})",
                if *consistent { "consistent" } else { "map-based" }
            )?,
            _ => {}
        }
        if let Some(k) = &c.cookie {
            write!(f, " (cookie {} insert indirect nocache)", k.name)?;
        }
        writeln!(f)?;
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

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.workload;
        writeln!(f, "  workload   {} users/s, {} pages", w.users_per_second, w.pages)?;
        for p in &w.profile {
            writeln!(f, "             from {} rate x{}", p.at, p.factor)?;
        }
        if let Some(r) = w.profile_repeat {
            writeln!(f, "             profile repeats every {r}")?;
        }
        for c in &w.classes {
            writeln!(
                f,
                "    class {:<10} share {}, login {}, requests {}, think {}, refuse cookies {}",
                c.name,
                c.share,
                c.login,
                c.requests.describe(Kind::Count),
                c.think_time.describe(Kind::Duration),
                c.refuse_cookies
            )?;
        }
        let a = &w.addresses;
        writeln!(
            f,
            "  addresses  {} /24 networks (skew {}), {} of users behind {} NAT addresses",
            a.networks, a.network_skew, a.nat_share, a.nat_addresses
        )?;
        write!(f, "{}", self.balancer)?;
        let servers = &self.balancer.conf.conf().servers;
        for (b, s) in self.backends.iter().zip(servers) {
            write!(
                f,
                "  backend    {:<8} weight {}, {} workers, queue {}, service {}{}{}",
                b.name,
                b.weight,
                b.workers,
                b.queue,
                b.service_time.describe(Kind::Duration),
                if b.backup { ", backup" } else { "" },
                if b.down { ", down" } else { "" }
            )?;
            if s.max_conns > 0 {
                write!(f, ", max_conns {}", s.max_conns)?;
            }
            if !self.balancer.policy.is_haproxy() {
                write!(f, ", max_fails {}, fail_timeout {}", s.max_fails, s.fail_timeout)?;
            }
            if let Some(c) = &s.check {
                write!(f, ", check inter {} fall {} rise {}", c.inter, c.fall, c.rise)?;
            }
            if self.balancer.conf.conf().cookie.is_some()
                && let Some(c) = &s.cookie
            {
                write!(f, ", cookie {c}")?;
            }
            writeln!(f)?;
        }
        writeln!(f, "  sessions   {}", self.sessions.storage.name())
    }
}
