//! Every balancer policy sessim models, described once, in one list.
//!
//! Each policy's file declares its [`PolicyInfo`] (its name in scenario files, the balancer
//! family it imitates, whether servers may be `backup`, the `[balancer]` keys it takes beyond
//! its family's); [`POLICIES`] lists them all. The scenario loader (names, accepted keys), the
//! balancer's validation (the `backup` rule, names in messages) and the docs test find policies
//! here, so that a new policy is its file plus one line in [`POLICIES`].

use super::apache::ApacheConf;
use super::caddy::CaddyConf;
use super::envoy::OutlierConf;
use super::{BalancerConf, HashKey, Method};
use crate::engine::SimTime;

/// The balancer software a policy imitates: it decides the retry rules and which family keys
/// (nginx `max_fails`..., HAProxy `check`...) the policy takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// nginx 1.22: passive `max_fails`/`fail_timeout`, `proxy_next_upstream`.
    Nginx,
    /// HAProxy 2.6: health checks, `retries`, `option redispatch`.
    Haproxy,
    /// Apache httpd 2.4 `mod_proxy_balancer`.
    Apache,
    /// Envoy: one attempt, health checks, outlier detection.
    Envoy,
    /// Kubernetes kube-proxy (iptables mode): one attempt, readiness.
    KubeProxy,
    /// Caddy 2.6 `reverse_proxy`: `lb_retries`/`lb_try_duration`, passive and active health.
    Caddy,
}

/// The `[balancer]` keys of the nginx family.
pub const NGINX_KEYS: &[&str] = &["max_fails", "fail_timeout", "next_upstream", "next_upstream_tries"];
/// The `[balancer]` keys of the HAProxy family.
pub const HAPROXY_KEYS: &[&str] = &[
    "check",
    "inter",
    "fall",
    "rise",
    "retries",
    "redispatch",
    "connect_timeout",
];

/// Everything sessim knows about one policy, besides its algorithm (its [`super::Algorithm`],
/// which [`PolicyInfo::method`] builds).
#[derive(Debug)]
pub struct PolicyInfo {
    /// Its name in scenario files (`balancer.policy`).
    pub name: &'static str,
    /// Its name in messages (`nginx ip_hash`).
    pub title: &'static str,
    /// The software it imitates.
    pub family: Family,
    /// Whether its servers may be `backup` (nginx: only round-robin and least_conn carry
    /// `NGX_HTTP_UPSTREAM_BACKUP` in their flags; every HAProxy algorithm and Apache's
    /// hot standby do; Envoy priorities are not modelled).
    pub backup: bool,
    /// The `[balancer]` keys it takes beyond its family's.
    pub keys: &'static [&'static str],
    /// How the imitated software's config selects it, as the config importers read it
    /// (`roundrobin` for HAProxy `balance roundrobin`, `hash consistent` for nginx `hash KEY
    /// consistent`, `RING_HASH` for Envoy `lb_policy: RING_HASH`); empty when the config has
    /// no such name (the software's default, or a whole config format of its own).
    pub directive: &'static str,
    /// How to build its algorithm from the parameters the scenario gives.
    pub method: fn(&MethodParams) -> Method,
}

/// The parameters of every algorithm, as a scenario file sets them (each policy reads its
/// own; the others keep their defaults).
#[derive(Clone, Debug)]
pub struct MethodParams {
    /// nginx `hash` / Envoy hash policy key.
    pub key: HashKey,
    /// HAProxy `hash-type consistent` (`balance source`).
    pub consistent: bool,
    /// HAProxy's `avalanche` hash modifier (`hash-type ... avalanche`).
    pub avalanche: bool,
    /// The algorithm that cookie persistence balances new clients with.
    pub cookie_balance: Method,
    /// Apache `lbmethod` and `stickysession`.
    pub apache: ApacheConf,
    /// Envoy outlier detection.
    pub outlier: Option<OutlierConf>,
    /// Envoy `LEAST_REQUEST` `choice_count`.
    pub choice_count: u32,
    /// Envoy `LEAST_REQUEST` `active_request_bias`.
    pub active_request_bias: f64,
    /// Envoy `RING_HASH` ring sizes.
    pub minimum_ring_size: u64,
    /// See [`MethodParams::minimum_ring_size`].
    pub maximum_ring_size: u64,
    /// Envoy `MAGLEV` `table_size`.
    pub table_size: u64,
    /// kube-proxy `sessionAffinity: ClientIP` `timeoutSeconds`.
    pub affinity: Option<SimTime>,
    /// kube-proxy's xt_recent list size.
    pub recent_list_size: u32,
    /// Caddy's `reverse_proxy` settings.
    pub caddy: CaddyConf,
}

impl Default for MethodParams {
    /// The defaults of nginx, HAProxy, Apache, Envoy and Kubernetes.
    fn default() -> Self {
        MethodParams {
            key: HashKey::RemoteAddr,
            consistent: false,
            avalanche: false,
            cookie_balance: Method::new(super::haproxy_rr::HaproxyRoundRobinConf),
            apache: ApacheConf::default(),
            outlier: None,
            choice_count: 2,
            active_request_bias: 1.0,
            minimum_ring_size: super::envoy_ring_hash::DEFAULT_MIN_RING,
            maximum_ring_size: super::envoy_ring_hash::DEFAULT_MAX_RING,
            table_size: super::envoy_maglev::DEFAULT_TABLE_SIZE,
            affinity: None,
            recent_list_size: super::kube_proxy::DEFAULT_RECENT_LIST_SIZE,
            caddy: CaddyConf::default(),
        }
    }
}

impl BalancerConf {
    /// The policy this balancer amounts to: `cookie` when it inserts a persistence cookie,
    /// else its algorithm's.
    pub fn info(&self) -> &'static PolicyInfo {
        if self.cookie.is_some() {
            &super::cookie::POLICY
        } else {
            self.method.info()
        }
    }
}

impl Family {
    /// The `[balancer]` keys every policy of this family takes (nginx's passive failure
    /// detection, HAProxy's checks and retries); the other families' policies list all their
    /// keys as their own.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Family::Nginx => NGINX_KEYS,
            Family::Haproxy => HAPROXY_KEYS,
            Family::Apache | Family::Envoy | Family::KubeProxy | Family::Caddy => &[],
        }
    }

    /// Whether the family's software accepts a server weight of `weight`; `Err` gives the
    /// range it accepts, in words.
    pub fn check_weight(self, weight: u32) -> Result<(), &'static str> {
        let (ok, range) = match self {
            // Apache keeps loadfactor x 100 (`loadfactor` 1..100).
            Family::Apache => (
                (100..=10_000).contains(&weight),
                "loadfactor 1..100 (lbfactor 100..=10000)",
            ),
            // Caddy 2.6 has no upstream weights (2.7's weighted_round_robin has its own).
            Family::Caddy => (
                weight == 1,
                "1: Caddy has no upstream weights (Caddy 2.7's `lb_policy weighted_round_robin W1 W2 ...` carries them)",
            ),
            // HAProxy accepts 0..=256.
            Family::Haproxy => (weight <= 256, "0..=256"),
            // nginx: weight=0 is "invalid parameter". sessim caps nginx weights at 1000
            // (consistent hashing keeps 160 points per unit); Envoy and kube-proxy alike.
            Family::Nginx | Family::Envoy | Family::KubeProxy => (
                (1..=super::MAX_NGINX_WEIGHT).contains(&weight),
                "1..=1000 (sessim limit)",
            ),
        };
        if ok { Ok(()) } else { Err(range) }
    }
}

/// Whether `key` is a key of a whole family (nginx or HAProxy), which no single policy owns.
pub fn is_family_key(key: &str) -> bool {
    NGINX_KEYS.contains(&key) || HAPROXY_KEYS.contains(&key)
}

impl PolicyInfo {
    /// Whether it takes the `[balancer]` key `key`: one of its own or of its family's.
    pub fn takes(&self, key: &str) -> bool {
        self.keys.contains(&key) || self.family.keys().contains(&key)
    }

    /// Whether it imitates HAProxy (health checks, `retries`, `option redispatch`) rather than
    /// nginx (passive `max_fails`, `proxy_next_upstream`).
    pub fn is_haproxy(&self) -> bool {
        self.family == Family::Haproxy
    }

    /// Whether it is one of Envoy's algorithms or kube-proxy (no retries, health from checks).
    pub fn is_envoy_or_kube(&self) -> bool {
        matches!(self.family, Family::Envoy | Family::KubeProxy)
    }
}

impl PartialEq for PolicyInfo {
    /// Policies are told apart by their (unique) name.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for PolicyInfo {}

/// Every policy, in the order of the docs' table (suggestions and `choose one of` lists show
/// them in this order).
pub static POLICIES: &[&PolicyInfo] = &[
    &super::round_robin::POLICY,
    &super::ip_hash::POLICY,
    &super::hash::POLICY,
    &super::hash::CONSISTENT_POLICY,
    &super::least_conn::NGINX_POLICY,
    &super::random::POLICY,
    &super::random::TWO_LEAST_CONN_POLICY,
    &super::haproxy_rr::POLICY,
    &super::least_conn::HAPROXY_POLICY,
    &super::source::POLICY,
    &super::cookie::POLICY,
    &super::envoy_rr::POLICY,
    &super::envoy_least_request::POLICY,
    &super::envoy_ring_hash::POLICY,
    &super::envoy_maglev::POLICY,
    &super::kube_proxy::POLICY,
    &super::apache::POLICY,
    &super::caddy::POLICY,
];

/// The policy named `name` in a scenario file.
pub fn find(name: &str) -> Option<&'static PolicyInfo> {
    POLICIES.iter().copied().find(|p| p.name == name)
}

/// The policy of `family` that its config selects with `directive` (see
/// [`PolicyInfo::directive`]).
pub fn by_directive(family: Family, directive: &str) -> Option<&'static PolicyInfo> {
    POLICIES
        .iter()
        .copied()
        .find(|p| p.family == family && !p.directive.is_empty() && p.directive == directive)
}

/// The directives of `family`'s policies, in list order (for "choose one of" messages).
pub fn directives(family: Family) -> Vec<&'static str> {
    POLICIES
        .iter()
        .filter(|p| p.family == family && !p.directive.is_empty())
        .map(|p| p.directive)
        .collect()
}

/// The names of the policies whose own keys include `key`, in list order.
pub fn taking(key: &str) -> Vec<&'static str> {
    POLICIES
        .iter()
        .filter(|p| p.keys.contains(&key))
        .map(|p| p.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, p) in POLICIES.iter().enumerate() {
            assert!(
                POLICIES[..i].iter().all(|q| q.name != p.name && q.title != p.title),
                "{} is registered twice",
                p.name
            );
        }
    }

    /// The docs cannot drift: every registered policy has its row in the policy table of
    /// docs/scenario-format.md (a line starting "| `<name>` |"), and every row of that table
    /// names a registered policy.
    #[test]
    fn every_policy_is_in_the_docs_table() {
        let docs = include_str!("../../docs/scenario-format.md");
        let table: Vec<&str> = docs
            .lines()
            .skip_while(|l| !l.starts_with("| `policy` | balancer | what it does |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
            .collect();
        assert!(
            !table.is_empty(),
            "the policy table of docs/scenario-format.md was not found"
        );
        for p in POLICIES {
            assert!(
                table.contains(&p.name),
                "policy `{}` has no row in the docs table",
                p.name
            );
        }
        for name in &table {
            assert!(
                find(name).is_some(),
                "the docs table lists `{name}`, which is not registered"
            );
        }
        assert_eq!(table.len(), POLICIES.len());
    }
}
