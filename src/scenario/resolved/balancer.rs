//! The `[balancer]` table of a resolved scenario: the policy and its keys, whatever family.

use super::super::BalancerConfig;
use super::values::*;
use super::*;
use crate::balancer::registry::Family;
use crate::balancer::{FailurePolicy, HashKey, Method, NEXT_UPSTREAM_STATUSES};
use crate::engine::SimTime;
use toml::Value;

pub(super) fn hash_key(k: &HashKey) -> &'static str {
    match k {
        HashKey::RemoteAddr => "remote_addr",
        HashKey::Cookie(_) => "cookie",
        HashKey::RequestUri => "request_uri",
    }
}

/// The `[balancer]` keys of a policy, every one of them (an imported balancer: the file and
/// its block; the file sets the rest).
pub(super) fn balancer(b: &BalancerConfig) -> Tbl {
    let mut t: Tbl = Vec::new();
    let c = b.conf.conf();
    if let Some(i) = &b.import {
        put(&mut t, "config", abs(std::path::Path::new(&i.path)));
        put(
            &mut t,
            if i.format == "haproxy" { "backend" } else { "upstream" },
            i.block.as_str(),
        );
        return t;
    }
    put(&mut t, "policy", b.policy.name);
    let check = c.servers.first().and_then(|s| s.check);
    let put_check = |t: &mut Tbl| match check {
        Some(k) => {
            put(t, "check", true);
            put(t, "inter", dur(k.inter));
            put(t, "fall", k.fall as i64);
            put(t, "rise", k.rise as i64);
        }
        None => put(t, "check", false),
    };
    match &c.method {
        Method::Hash { key, .. } => put(&mut t, "key", hash_key(key)),
        Method::Source { consistent, .. } => put(
            &mut t,
            "hash_type",
            if *consistent { "consistent" } else { "map-based" },
        ),
        Method::EnvoyLeastRequest {
            choice_count,
            active_request_bias,
            ..
        } => {
            put(&mut t, "choice_count", *choice_count as i64);
            put(&mut t, "active_request_bias", active_request_bias.0);
        }
        Method::EnvoyRingHash {
            key,
            minimum_ring_size,
            maximum_ring_size,
            ..
        } => {
            put(&mut t, "key", hash_key(key));
            put(&mut t, "minimum_ring_size", *minimum_ring_size as i64);
            put(&mut t, "maximum_ring_size", *maximum_ring_size as i64);
        }
        Method::EnvoyMaglev { key, table_size, .. } => {
            put(&mut t, "key", hash_key(key));
            put(&mut t, "table_size", *table_size as i64);
        }
        Method::KubeProxy {
            affinity,
            recent_list_size,
        } => {
            match affinity {
                Some(a) => {
                    put(&mut t, "session_affinity", "ClientIP");
                    put(&mut t, "affinity_timeout", dur(*a));
                }
                None => put(&mut t, "session_affinity", "None"),
            }
            put(&mut t, "recent_list_size", *recent_list_size as i64);
        }
        Method::Apache(a) => {
            put(&mut t, "lbmethod", a.lbmethod.name());
            if let Some(s) = &a.sticky {
                put(&mut t, "stickysession", format!("{}|{}", s.cookie, s.path));
                put(&mut t, "nofailover", a.nofailover);
            }
            put(&mut t, "forcerecovery", a.forcerecovery);
            if let Some(s) = c.servers.first() {
                put(&mut t, "retry", dur(s.fail_timeout));
            }
        }
        Method::Caddy(cd) => {
            use crate::balancer::caddy::LbPolicy;
            let line = match &cd.policy {
                LbPolicy::RandomChoose(k) => format!("random_choose {k}"),
                LbPolicy::Header(h) => format!("header {h}"),
                LbPolicy::Cookie { name, secret } if secret.is_empty() => format!("cookie {name}"),
                LbPolicy::Cookie { name, secret } => format!("cookie {name} {secret}"),
                // JSON's empty `weights` behave as one weight (`pool[0]` always), which the
                // Caddyfile syntax can say.
                LbPolicy::WeightedRoundRobin(w) if w.is_empty() => "weighted_round_robin 1".into(),
                LbPolicy::WeightedRoundRobin(w) => {
                    let w: Vec<String> = w.iter().map(u64::to_string).collect();
                    format!("weighted_round_robin {}", w.join(" "))
                }
                p => p.name().to_string(),
            };
            put(&mut t, "lb_policy", line);
            put(&mut t, "lb_retries", cd.retries as i64);
            put(&mut t, "lb_try_duration", dur(cd.try_duration));
            if cd.try_interval > SimTime::ZERO {
                put(&mut t, "lb_try_interval", dur(cd.try_interval));
            }
            put(&mut t, "fail_duration", dur(cd.fail_duration));
            if cd.fail_duration > SimTime::ZERO {
                put(&mut t, "max_fails", cd.max_fails as i64);
                // The passive keys need fail_duration (the loader says so); each is written
                // only when set, as Caddy's defaults are "none".
                if !cd.unhealthy_status.is_empty() {
                    let statuses: Vec<Value> = cd
                        .unhealthy_status
                        .iter()
                        .map(|&c| Value::String(if c < 100 { format!("{c}xx") } else { c.to_string() }))
                        .collect();
                    put(&mut t, "unhealthy_status", Value::Array(statuses));
                }
                if cd.unhealthy_latency > SimTime::ZERO {
                    put(&mut t, "unhealthy_latency", dur(cd.unhealthy_latency));
                }
                if cd.unhealthy_request_count > 0 {
                    put(&mut t, "unhealthy_request_count", cd.unhealthy_request_count as i64);
                }
            }
            if let Some(i) = cd.health_interval {
                put(&mut t, "health_interval", dur(i));
            }
        }
        _ => {}
    }
    if let Some(k) = &c.cookie {
        put(&mut t, "cookie_name", k.name.as_str());
        put(
            &mut t,
            "cookie_balance",
            match &c.method {
                Method::HaproxyLeastConn => "leastconn",
                Method::Source { .. } => "source",
                _ => "roundrobin",
            },
        );
    }
    let mut outlier_t = None;
    if let Method::EnvoyRoundRobin { outlier }
    | Method::EnvoyLeastRequest { outlier, .. }
    | Method::EnvoyRingHash { outlier, .. }
    | Method::EnvoyMaglev { outlier, .. } = &c.method
    {
        put_check(&mut t);
        if let Some(o) = outlier {
            let mut ot: Tbl = Vec::new();
            put(&mut ot, "consecutive_5xx", o.consecutive_5xx as i64);
            put(&mut ot, "interval", dur(o.interval));
            put(&mut ot, "base_ejection_time", dur(o.base_ejection_time));
            put(&mut ot, "max_ejection_time", dur(o.max_ejection_time));
            put(&mut ot, "max_ejection_percent", o.max_ejection_percent as i64);
            outlier_t = Some(ot);
        }
    }
    match b.policy.family {
        Family::Nginx => {
            let (max_fails, fail_timeout) = nginx_failure(c);
            put(&mut t, "max_fails", max_fails as i64);
            put(&mut t, "fail_timeout", dur(fail_timeout));
            if let FailurePolicy::Nginx(n) = c.failure {
                let mut words: Vec<Value> = Vec::new();
                if n.error {
                    words.push("error".into());
                }
                if n.timeout {
                    words.push("timeout".into());
                }
                for (bit, status) in NEXT_UPSTREAM_STATUSES.iter().enumerate() {
                    if n.http & (1 << bit) != 0 {
                        words.push(format!("http_{status}").into());
                    }
                }
                if words.is_empty() {
                    words.push("off".into());
                }
                put(&mut t, "next_upstream", Value::Array(words));
                put(&mut t, "next_upstream_tries", n.tries as i64);
            }
        }
        Family::Haproxy => {
            put_check(&mut t);
            if let FailurePolicy::Haproxy(h) = c.failure {
                put(&mut t, "retries", h.retries as i64);
                put(&mut t, "redispatch", h.redispatch.is_some());
                put(&mut t, "connect_timeout", dur(h.connect_timeout));
            }
        }
        Family::KubeProxy => put_check(&mut t),
        Family::Apache | Family::Envoy | Family::Caddy => {}
    }
    if let Some(ot) = outlier_t {
        put_node(&mut t, "outlier_detection", Node::T(ot));
    }
    t
}

/// The nginx family's `max_fails` and `fail_timeout` most servers have (the first such on a
/// tie): written in `[balancer]`, and on a server only where it differs.
pub(super) fn nginx_failure(c: &crate::balancer::BalancerConf) -> (u32, SimTime) {
    let pairs: Vec<(u32, SimTime)> = c.servers.iter().map(|s| (s.max_fails, s.fail_timeout)).collect();
    let count = |p: &(u32, SimTime)| pairs.iter().filter(|q| *q == p).count();
    let mut best = pairs.first().copied().unwrap_or((1, SimTime::from_secs(10)));
    for p in &pairs {
        if count(p) > count(&best) {
            best = *p;
        }
    }
    best
}
