//! The `[balancer]` keys of the policy `caddy`: Caddy 2.6 `reverse_proxy`'s own subdirective
//! names (`lb_policy`, `lb_retries`, `lb_try_duration`, `lb_try_interval`, `fail_duration`,
//! `max_fails`, `unhealthy_status`, `unhealthy_latency`, `unhealthy_request_count`,
//! `health_interval`), turned into a checked [`BalancerConf`].

use super::*;
use crate::balancer::ServerConf;
use crate::balancer::caddy::{CaddyConf, LbPolicy, parse_status, server_cookies};
use crate::balancer::registry::{self, PolicyInfo};

/// The fields of `[balancer]` that hold Caddy's own keys, by key name, with whether they are
/// set (`None`: not a key of this file).
fn caddy_key_set(b: &RawBalancer, key: &str) -> Option<bool> {
    Some(match key {
        "lb_policy" => b.lb_policy.is_some(),
        "lb_retries" => b.lb_retries.is_some(),
        "lb_try_duration" => b.lb_try_duration.is_some(),
        "lb_try_interval" => b.lb_try_interval.is_some(),
        "fail_duration" => b.fail_duration.is_some(),
        "unhealthy_status" => b.unhealthy_status.is_some(),
        "unhealthy_latency" => b.unhealthy_latency.is_some(),
        "unhealthy_request_count" => b.unhealthy_request_count.is_some(),
        "health_interval" => b.health_interval.is_some(),
        _ => return None,
    })
}

/// Refuses the keys of Caddy's description ([`caddy::POLICY`](crate::balancer::caddy)) under
/// a policy that does not take them; a family key it shares (`max_fails`) is left to the
/// family checks.
pub(super) fn reject_foreign(b: &RawBalancer, policy: &PolicyInfo) -> PathResult<()> {
    for &k in crate::balancer::caddy::POLICY.keys {
        if registry::is_family_key(k) || policy.takes(k) {
            continue;
        }
        if caddy_key_set(b, k) == Some(true) {
            return err(format!("balancer.{k}"), "applies only to the policy caddy");
        }
    }
    Ok(())
}

/// The Caddy settings of `[balancer]` (defaults as Caddy 2.6.2's `Provision`).
pub(super) fn conf_of(b: &RawBalancer) -> PathResult<CaddyConf> {
    let policy = match b.lb_policy.as_deref() {
        None => LbPolicy::Random,
        Some(line) => {
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some((name, args)) = words.split_first() else {
                return err(
                    "balancer.lb_policy",
                    "is empty; write e.g. \"round_robin\" or \"cookie lb SECRET\"",
                );
            };
            LbPolicy::parse(name, args).map_err(|m| ("balancer.lb_policy".to_string(), m))?
        }
    };
    let opt_duration = |v: &Option<Value>, path: &str| -> PathResult<SimTime> {
        match v {
            Some(v) => duration(v, path),
            None => Ok(SimTime::ZERO),
        }
    };
    let try_duration = opt_duration(&b.lb_try_duration, "balancer.lb_try_duration")?;
    let fail_duration = opt_duration(&b.fail_duration, "balancer.fail_duration")?;
    let health_interval = match &b.health_interval {
        Some(v) => {
            let t = duration(v, "balancer.health_interval")?;
            if t < SimTime::from_millis(1) {
                return err("balancer.health_interval", "must be at least 1ms");
            }
            Some(t)
        }
        None => None,
    };
    let try_interval = opt_duration(&b.lb_try_interval, "balancer.lb_try_interval")?;
    let unhealthy_latency = opt_duration(&b.unhealthy_latency, "balancer.unhealthy_latency")?;
    let mut unhealthy_status = Vec::new();
    for (i, v) in b.unhealthy_status.iter().flatten().enumerate() {
        let path = format!("balancer.unhealthy_status[{i}]");
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Integer(n) => n.to_string(),
            other => {
                return err(
                    path,
                    format!("must be a status or a class such as \"5xx\", got {other}"),
                );
            }
        };
        unhealthy_status.push(parse_status(&text).map_err(|m| (path, m))?);
    }
    if b.unhealthy_status.as_ref().is_some_and(|v| v.is_empty()) {
        return err(
            "balancer.unhealthy_status",
            "is empty; list statuses or classes, e.g. [\"5xx\"]",
        );
    }
    // Without fail_duration Caddy counts no failure at all; and with any passive key set
    // it leaves max_fails at 0, so that every upstream is unhealthy (`Fails() < 0`).
    if fail_duration == SimTime::ZERO {
        for (k, set) in [
            ("max_fails", b.max_fails.is_some()),
            ("unhealthy_status", b.unhealthy_status.is_some()),
            ("unhealthy_latency", b.unhealthy_latency.is_some()),
        ] {
            if set {
                return err(
                    format!("balancer.{k}"),
                    "counts only with `fail_duration` set (Caddy forgets nothing it never counted); set fail_duration",
                );
            }
        }
        if b.unhealthy_request_count.is_some() {
            return err(
                "balancer.unhealthy_request_count",
                "needs `fail_duration`: without it Caddy 2.6 leaves max_fails at 0 and marks every \
                 upstream unhealthy (every request gets 503); set fail_duration",
            );
        }
    }
    let conf = CaddyConf {
        policy,
        retries: b.lb_retries.unwrap_or(0),
        try_duration,
        // Provision: 250 ms when lb_try_duration is set and the interval is 0.
        try_interval: if try_duration > SimTime::ZERO && try_interval == SimTime::ZERO {
            SimTime::from_millis(250)
        } else {
            try_interval
        },
        fail_duration,
        max_fails: b.max_fails.unwrap_or(1).max(1),
        passive: fail_duration > SimTime::ZERO,
        unhealthy_status,
        unhealthy_latency,
        unhealthy_request_count: b.unhealthy_request_count.unwrap_or(0),
        health_interval,
    };
    conf.limits().map_err(|m| ("balancer.lb_retries".to_string(), m))?;
    Ok(conf)
}

/// The balancer of the policy `caddy` from the scenario keys.
pub(super) fn from_keys(b: &RawBalancer, bk: &RawBackends, backends: &[BackendConfig]) -> PathResult<BalancerConfig> {
    let others = [
        ("key", b.key.is_some()),
        ("cookie_name", b.cookie_name.is_some()),
        ("cookie_balance", b.cookie_balance.is_some()),
        ("hash_type", b.hash_type.is_some()),
        ("fail_timeout", b.fail_timeout.is_some()),
        ("next_upstream", b.next_upstream.is_some()),
        ("next_upstream_tries", b.next_upstream_tries.is_some()),
        ("check", b.check.is_some()),
        ("inter", b.inter.is_some()),
        ("fall", b.fall.is_some()),
        ("rise", b.rise.is_some()),
        ("retries", b.retries.is_some()),
        ("redispatch", b.redispatch.is_some()),
        ("connect_timeout", b.connect_timeout.is_some()),
        ("lbmethod", b.lbmethod.is_some()),
        ("stickysession", b.stickysession.is_some()),
        ("nofailover", b.nofailover.is_some()),
        ("forcerecovery", b.forcerecovery.is_some()),
        ("retry", b.retry.is_some()),
        ("upstream", b.upstream.is_some()),
        ("backend", b.backend.is_some()),
    ];
    for (k, set) in others {
        if set {
            return err(
                format!("balancer.{k}"),
                format!(
                    "does not apply to the policy caddy; use {}",
                    crate::balancer::caddy::POLICY.keys.join(", ")
                ),
            );
        }
    }
    let conf = conf_of(b)?;
    let raw_servers = bk.servers.as_deref().unwrap_or(&[]);
    let check = conf.check();
    let mut servers = Vec::with_capacity(backends.len());
    for (i, be) in backends.iter().enumerate() {
        let path = format!("backends.servers[{i}]");
        if let Some(r) = raw_servers.get(i) {
            for (k, set) in [
                ("max_fails", r.max_fails.is_some()),
                ("fail_timeout", r.fail_timeout.is_some()),
                ("cookie", r.cookie.is_some()),
            ] {
                if set {
                    return err(
                        format!("{path}.{k}"),
                        "is an nginx or HAProxy setting; policy `caddy` does not use it",
                    );
                }
            }
        }
        if be.backup {
            return err(format!("{path}.backup"), "Caddy 2.6 has no backup upstreams");
        }
        // The dial address is the backend's name: hashing and cookies depend on it.
        let mut s = ServerConf::new(be.name.clone(), be.name.clone());
        s.weight = be.weight;
        s.down = be.down;
        // `max_requests` of the upstream.
        s.max_conns = raw_servers.get(i).and_then(|r| r.max_conns).unwrap_or(0);
        s.check = check;
        servers.push(s);
    }
    server_cookies(&mut servers, &conf);
    let failure = conf.failure(servers.len());
    let bc = BalancerConf {
        method: Method::new(conf),
        servers,
        cookie: None,
        failure,
    };
    let conf = CheckedConf::new(bc).map_err(|e| {
        let path = match &e {
            crate::balancer::BalancerError::BadWeight { .. } => "backends",
            _ => "balancer.policy",
        };
        (path.to_string(), e.to_string())
    })?;
    Ok(BalancerConfig {
        policy: &crate::balancer::caddy::POLICY,
        conf,
        import: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::load_str;
    use crate::balancer::Method;
    use crate::balancer::caddy::{CaddyConf, LbPolicy};

    const BASE: &str = "name = \"t\"\nduration = \"10s\"\n[workload]\nusers_per_second = 5\n";

    fn load(balancer: &str) -> Result<Method, String> {
        let text = format!("{BASE}[balancer]\n{balancer}\n");
        load_str(&text, "x.toml", &[])
            .map(|s| s.strategies[0].system.balancer.conf.conf().method.clone())
            .map_err(|e| e.to_string())
    }

    /// Every key of Caddy's description is read from the scenario: its own keys here, the
    /// family key it shares (`max_fails`) by the nginx checks. A key added to the description
    /// without a field fails this test instead of going unchecked.
    #[test]
    fn every_key_of_the_description_has_its_field() {
        let b = super::RawBalancer::default();
        for &k in crate::balancer::caddy::POLICY.keys {
            assert!(
                crate::balancer::registry::is_family_key(k) || super::caddy_key_set(&b, k) == Some(false),
                "`{k}` has no field in caddy_key_set"
            );
        }
    }

    #[test]
    fn caddy_keys_load_with_caddy_defaults() {
        let m = load("policy = \"caddy\"\nlb_policy = \"cookie lb s3cret\"\nfail_duration = \"30s\"");
        let Some(c) = m.as_ref().ok().and_then(|m| m.downcast_ref::<CaddyConf>()) else {
            panic!("{m:?}")
        };
        assert_eq!(
            c.policy,
            LbPolicy::Cookie {
                name: "lb".into(),
                secret: "s3cret".into()
            }
        );
        assert_eq!(c.max_fails, 1);
    }

    #[test]
    fn bad_caddy_keys_name_the_key_and_the_fix() {
        let e = load("policy = \"caddy\"\nlb_policy = \"weighted_round_robin 3 x\"").unwrap_err();
        assert!(
            e.contains("balancer.lb_policy") && e.contains("invalid weight `x`"),
            "{e}"
        );
        let m = load("policy = \"caddy\"\nlb_policy = \"weighted_round_robin 3 1\"");
        assert!(
            matches!(m.as_ref().map(|m| m.downcast_ref::<CaddyConf>()), Ok(Some(c)) if c.policy == LbPolicy::WeightedRoundRobin(vec![3, 1])),
            "{m:?}"
        );
        let m = load("policy = \"caddy\"\nlb_policy = \"client_ip_hash\"");
        assert!(
            matches!(m.as_ref().map(|m| m.downcast_ref::<CaddyConf>()), Ok(Some(c)) if c.policy == LbPolicy::ClientIpHash),
            "{m:?}"
        );
        let e = load("policy = \"round_robin\"\nlb_retries = 2").unwrap_err();
        assert!(e.contains("balancer.lb_retries") && e.contains("caddy"), "{e}");
        let e = load("policy = \"caddy\"\nretries = 2").unwrap_err();
        assert!(e.contains("balancer.retries") && e.contains("lb_retries"), "{e}");
    }
}
