//! The `[balancer]` keys of the Envoy policies and of kube-proxy: which keys apply to which
//! policy, their Envoy / Kubernetes defaults, and the servers they balance over.
//!
//! Envoy and kube-proxy do not retry a failed request by default (Envoy: no `retry_policy`;
//! kube-proxy: a refused connection reaches the client), so their failure rule is fixed: one
//! attempt, then an error (503). They learn that a backend is down from health checks (Envoy's
//! active `health_checks`, off unless `check = true`; a pod's readiness for kube-proxy, on by
//! default) and, for Envoy, from `[balancer.outlier_detection]`.

use super::{PathResult, at_least, duration, err};
use crate::balancer::envoy::OutlierConf;
use crate::balancer::kube_proxy::{DEFAULT_AFFINITY_TIMEOUT, DEFAULT_RECENT_LIST_SIZE};
use crate::balancer::registry::{self, Family, MethodParams, PolicyInfo};
use crate::balancer::{
    BalancerConf, CheckConf, CheckedConf, FailurePolicy, HaproxyRetries, HashKey, ServerConf, envoy_maglev,
    envoy_ring_hash,
};
use crate::engine::SimTime;
use crate::scenario::raw::{RawBackends, RawBalancer};
use crate::scenario::{BackendConfig, BalancerConfig};

/// The keys of this file, with whether they are set.
pub(super) fn set_keys(b: &RawBalancer) -> [(&'static str, bool); 9] {
    [
        ("choice_count", b.choice_count.is_some()),
        ("active_request_bias", b.active_request_bias.is_some()),
        ("minimum_ring_size", b.minimum_ring_size.is_some()),
        ("maximum_ring_size", b.maximum_ring_size.is_some()),
        ("table_size", b.table_size.is_some()),
        ("outlier_detection", b.outlier_detection.is_some()),
        ("session_affinity", b.session_affinity.is_some()),
        ("affinity_timeout", b.affinity_timeout.is_some()),
        ("recent_list_size", b.recent_list_size.is_some()),
    ]
}

/// Which policies each key of [`set_keys`] applies to: the registered policies whose own keys
/// include it (`Err` names them).
fn applies(key: &str, policy: &PolicyInfo) -> Result<(), String> {
    if policy.keys.contains(&key) {
        return Ok(());
    }
    Err(match registry::taking(key).as_slice() {
        [rest @ .., last] if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        names => names.join(", "),
    })
}

/// Refuses a key of this file on a policy it does not apply to (any nginx or HAProxy policy).
pub(super) fn reject_foreign(b: &RawBalancer, policy: &PolicyInfo) -> PathResult<()> {
    for (k, set) in set_keys(b) {
        if set && let Err(names) = applies(k, policy) {
            return err(format!("balancer.{k}"), format!("applies only to the policies {names}"));
        }
    }
    Ok(())
}

/// Refuses the keys of this file next to `balancer.config`.
pub(super) fn reject_with_config(b: &RawBalancer) -> PathResult<()> {
    for (k, set) in set_keys(b) {
        if set {
            return err(
                format!("balancer.{k}"),
                "cannot be combined with `balancer.config` (nginx and HAProxy files only); remove it",
            );
        }
    }
    Ok(())
}

/// The balancer of an Envoy or kube-proxy policy from the scenario keys.
pub(super) fn from_keys(
    b: &RawBalancer,
    bk: &RawBackends,
    backends: &[BackendConfig],
    policy: &'static PolicyInfo,
) -> PathResult<BalancerConfig> {
    let name = policy.name;
    let kube = policy.family == Family::KubeProxy;
    reject_foreign(b, policy)?;
    let nginx_or_haproxy = [
        ("cookie_name", b.cookie_name.is_some()),
        ("cookie_balance", b.cookie_balance.is_some()),
        ("hash_type", b.hash_type.is_some()),
        ("max_fails", b.max_fails.is_some()),
        ("fail_timeout", b.fail_timeout.is_some()),
        ("next_upstream", b.next_upstream.is_some()),
        ("next_upstream_tries", b.next_upstream_tries.is_some()),
        ("retries", b.retries.is_some()),
        ("redispatch", b.redispatch.is_some()),
        ("connect_timeout", b.connect_timeout.is_some()),
        ("upstream", b.upstream.is_some()),
        ("backend", b.backend.is_some()),
    ];
    for (k, set) in nginx_or_haproxy {
        if set {
            return err(
                format!("balancer.{k}"),
                format!(
                    "is an nginx or HAProxy setting; policy `{name}` makes one attempt per request and \
                     learns of failures from `check`/`inter`/`fall`/`rise`{}",
                    if kube {
                        ""
                    } else {
                        " and `[balancer.outlier_detection]`"
                    }
                ),
            );
        }
    }
    if b.key.is_some() && !policy.keys.contains(&"key") {
        return err(
            "balancer.key",
            "applies only to the policies hash, hash_consistent, envoy_ring_hash and envoy_maglev",
        );
    }
    let key = match b.key.as_deref().unwrap_or("remote_addr") {
        "remote_addr" => HashKey::RemoteAddr,
        "cookie" => HashKey::Cookie("PHPSESSID".into()),
        "request_uri" => HashKey::RequestUri,
        other => {
            return err(
                "balancer.key",
                format!("unknown value `{other}`; choose one of: remote_addr, cookie, request_uri"),
            );
        }
    };
    let outlier = match &b.outlier_detection {
        None => None,
        Some(o) => {
            let d = OutlierConf::default();
            let dur = |v: &Option<toml::Value>, k: &str, default: SimTime| -> PathResult<SimTime> {
                match v {
                    Some(v) => duration(v, &format!("balancer.outlier_detection.{k}")),
                    None => Ok(default),
                }
            };
            let interval = dur(&o.interval, "interval", d.interval)?;
            if interval < SimTime::from_millis(1) {
                return err("balancer.outlier_detection.interval", "must be at least 1ms");
            }
            let pct = o.max_ejection_percent.unwrap_or(d.max_ejection_percent);
            if pct > 100 {
                return err(
                    "balancer.outlier_detection.max_ejection_percent",
                    format!("is a percentage (0..=100), got {pct}"),
                );
            }
            Some(OutlierConf {
                consecutive_5xx: at_least(
                    o.consecutive_5xx.unwrap_or(d.consecutive_5xx),
                    1,
                    "balancer.outlier_detection.consecutive_5xx",
                )?,
                interval,
                base_ejection_time: dur(&o.base_ejection_time, "base_ejection_time", d.base_ejection_time)?,
                max_ejection_time: dur(&o.max_ejection_time, "max_ejection_time", d.max_ejection_time)?,
                max_ejection_percent: pct,
            })
        }
    };
    let affinity = if kube {
        match b.session_affinity.as_deref().unwrap_or("None") {
            "None" => {
                if b.affinity_timeout.is_some() {
                    return err(
                        "balancer.affinity_timeout",
                        "applies only with session_affinity = \"ClientIP\"",
                    );
                }
                None
            }
            "ClientIP" => Some(match &b.affinity_timeout {
                None => DEFAULT_AFFINITY_TIMEOUT,
                Some(v) => {
                    let t = duration(v, "balancer.affinity_timeout")?;
                    if t.as_nanos() % 1_000_000_000 != 0 || t < SimTime::from_secs(1) {
                        return err(
                            "balancer.affinity_timeout",
                            format!("timeoutSeconds is a whole number of seconds (1..=86400), got {t}"),
                        );
                    }
                    t
                }
            }),
            other => {
                return err(
                    "balancer.session_affinity",
                    format!("unknown value `{other}`; choose one of: None, ClientIP (as in the Service spec)"),
                );
            }
        }
    } else {
        None
    };
    let params = MethodParams {
        key,
        outlier,
        choice_count: b.choice_count.unwrap_or(2),
        active_request_bias: b.active_request_bias.unwrap_or(1.0),
        minimum_ring_size: b.minimum_ring_size.unwrap_or(envoy_ring_hash::DEFAULT_MIN_RING),
        maximum_ring_size: b.maximum_ring_size.unwrap_or(envoy_ring_hash::DEFAULT_MAX_RING),
        table_size: b.table_size.unwrap_or(envoy_maglev::DEFAULT_TABLE_SIZE),
        affinity,
        recent_list_size: at_least(
            b.recent_list_size.unwrap_or(DEFAULT_RECENT_LIST_SIZE),
            1,
            "balancer.recent_list_size",
        )?,
        ..MethodParams::default()
    };
    let method = (policy.method)(&params);
    // Envoy's active health checks (off unless asked: `health_checks` is optional); a pod's
    // readiness for kube-proxy (on: the kubelet reports a stopped container at once, then the
    // EndpointSlice and kube-proxy's sync follow, about a second).
    let check = if b.check.unwrap_or(kube) {
        let inter = match &b.inter {
            Some(v) => duration(v, "balancer.inter")?,
            None if kube => SimTime::from_secs(1),
            None => SimTime::from_secs(5),
        };
        if inter < SimTime::from_millis(1) {
            return err("balancer.inter", format!("must be at least 1ms, got {inter}"));
        }
        let (rise, fall) = if kube { (1, 1) } else { (2, 3) };
        Some(CheckConf {
            inter,
            fastinter: inter,
            downinter: inter,
            rise: at_least(b.rise.unwrap_or(rise), 1, "balancer.rise")?,
            fall: at_least(b.fall.unwrap_or(fall), 1, "balancer.fall")?,
        })
    } else {
        for (k, set) in [
            ("inter", b.inter.is_some()),
            ("fall", b.fall.is_some()),
            ("rise", b.rise.is_some()),
        ] {
            if set {
                return err(format!("balancer.{k}"), "applies only with `check = true`");
            }
        }
        None
    };
    let raw_servers = bk.servers.as_deref().unwrap_or(&[]);
    let mut servers = Vec::with_capacity(backends.len());
    for (i, be) in backends.iter().enumerate() {
        let path = format!("backends.servers[{i}]");
        if let Some(r) = raw_servers.get(i) {
            for (k, set) in [
                ("max_conns", r.max_conns.is_some()),
                ("max_fails", r.max_fails.is_some()),
                ("fail_timeout", r.fail_timeout.is_some()),
                ("cookie", r.cookie.is_some()),
            ] {
                if set {
                    return err(
                        format!("{path}.{k}"),
                        format!("is an nginx or HAProxy setting; policy `{name}` does not use it"),
                    );
                }
            }
        }
        if be.backup {
            return err(
                format!("{path}.backup"),
                format!("policy `{name}` has no backup servers (Envoy priorities are not modelled)"),
            );
        }
        let mut s = ServerConf::new(be.name.clone(), be.name.clone());
        s.weight = be.weight;
        s.down = be.down;
        s.check = check;
        servers.push(s);
    }
    let conf = BalancerConf {
        method,
        servers,
        cookie: None,
        // One attempt, then 503.
        failure: FailurePolicy::Haproxy(HaproxyRetries {
            retries: 0,
            redispatch: None,
            connect_timeout: SimTime::ZERO,
        }),
    };
    let conf = CheckedConf::new(conf).map_err(|e| {
        let path = match &e {
            crate::balancer::BalancerError::BadWeight { .. } => "backends",
            // The parameter that `CheckedConf` checks for each policy.
            _ => match policy.name {
                "envoy_least_request" => "balancer.choice_count",
                "envoy_ring_hash" => "balancer.minimum_ring_size",
                "envoy_maglev" => "balancer.table_size",
                "kube_proxy" => "balancer.affinity_timeout",
                _ => "balancer.policy",
            },
        };
        (path.to_string(), e.to_string())
    })?;
    Ok(BalancerConfig {
        policy,
        conf,
        import: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::load_str;
    use crate::balancer::envoy_least_request::EnvoyLeastRequestConf;
    use crate::balancer::envoy_maglev::EnvoyMaglevConf;
    use crate::balancer::envoy_ring_hash::EnvoyRingHashConf;
    use crate::balancer::envoy_rr::EnvoyRoundRobinConf;
    use crate::balancer::kube_proxy::KubeProxyConf;
    use crate::balancer::{Method, envoy::OutlierConf};
    use crate::engine::SimTime;

    const BASE: &str = "name = \"t\"\nduration = \"10s\"\n[workload]\nusers_per_second = 5\n";

    fn method(balancer: &str) -> Result<Method, String> {
        let text = format!("{BASE}[balancer]\n{balancer}\n");
        load_str(&text, "x.toml", &[])
            .map(|s| s.strategies[0].system.balancer.conf.conf().method.clone())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn envoy_and_kube_defaults_are_the_upstream_ones() {
        assert_eq!(
            method("policy = \"envoy_least_request\"").ok(),
            Some(Method::new(EnvoyLeastRequestConf {
                choice_count: 2,
                active_request_bias: crate::balancer::Bias(1.0),
                outlier: None
            }))
        );
        assert!(matches!(
            method("policy = \"envoy_ring_hash\"")
                .ok()
                .as_ref()
                .and_then(|m| m.downcast_ref::<EnvoyRingHashConf>()),
            Some(EnvoyRingHashConf {
                minimum_ring_size: 1024,
                maximum_ring_size: 8_388_608,
                ..
            })
        ));
        assert!(matches!(
            method("policy = \"envoy_maglev\"\nkey = \"cookie\"")
                .ok()
                .as_ref()
                .and_then(|m| m.downcast_ref::<EnvoyMaglevConf>()),
            Some(EnvoyMaglevConf { table_size: 65537, .. })
        ));
        assert_eq!(
            method("policy = \"kube_proxy\"\nsession_affinity = \"ClientIP\"").ok(),
            Some(Method::new(KubeProxyConf {
                affinity: Some(SimTime::from_secs(10800)),
                recent_list_size: 100
            }))
        );
        assert_eq!(
            method("policy = \"envoy_round_robin\"\noutlier_detection = {}").ok(),
            Some(Method::new(EnvoyRoundRobinConf {
                outlier: Some(OutlierConf::default())
            }))
        );
    }

    #[test]
    fn bad_envoy_and_kube_keys_name_the_key_and_the_fix() {
        for (balancer, key, words) in [
            (
                "policy = \"envoy_maglev\"\ntable_size = 65536",
                "balancer.table_size",
                "prime",
            ),
            (
                "policy = \"envoy_ring_hash\"\nminimum_ring_size = 20\nmaximum_ring_size = 10",
                "balancer.minimum_ring_size",
                "minimum_ring_size (20) > maximum_ring_size (10)",
            ),
            (
                "policy = \"envoy_least_request\"\nchoice_count = 1",
                "balancer.choice_count",
                "below 2",
            ),
            (
                "policy = \"round_robin\"\ntable_size = 7",
                "balancer.table_size",
                "envoy_maglev",
            ),
            (
                "policy = \"kube_proxy\"\nsession_affinity = \"Cookie\"",
                "balancer.session_affinity",
                "ClientIP",
            ),
            (
                "policy = \"kube_proxy\"\naffinity_timeout = \"60s\"",
                "balancer.affinity_timeout",
                "session_affinity = \"ClientIP\"",
            ),
            (
                "policy = \"kube_proxy\"\nsession_affinity = \"ClientIP\"\naffinity_timeout = \"1.5s\"",
                "balancer.affinity_timeout",
                "whole number",
            ),
            (
                "policy = \"envoy_round_robin\"\nretries = 2",
                "balancer.retries",
                "one attempt",
            ),
            (
                "policy = \"kube_proxy\"\noutlier_detection = {}",
                "balancer.outlier_detection",
                "envoy_",
            ),
            (
                "policy = \"envoy_maglev\"\noutlier_detection = { max_ejection_percent = 120 }",
                "balancer.outlier_detection.max_ejection_percent",
                "0..=100",
            ),
            (
                "policy = \"envoy_round_robin\"\nkey = \"cookie\"",
                "balancer.key",
                "envoy_ring_hash",
            ),
        ] {
            let e = method(balancer).err().unwrap_or_default();
            assert!(e.contains(key) && e.contains(words), "{balancer}: {e}");
        }
    }
}
