//! The `[balancer]` table and the balancer keys of `[backends]`: turns them, or an imported
//! nginx/HAProxy config file, into a checked [`BalancerConf`] whose server i is backend i.
//!
//! Two ways to describe a balancer:
//! - scenario keys: `[backends]` defines the servers (names, weights, order, `backup`, `down`,
//!   `max_conns`, nginx `max_fails`/`fail_timeout`, HAProxy `cookie`), `[balancer]` the policy
//!   and its failure detection;
//! - `config = "file"`: the config file defines the server list (names, weights, order and every
//!   balancer setting), `[backends]` only the defaults for workers, queue and service time, and
//!   optional per-server entries matched by name.

use super::*;
use crate::balancer::apache::LBFACTOR_ONE;
use crate::balancer::registry::{self, Family, HAPROXY_KEYS, MethodParams, NGINX_KEYS, PolicyInfo};
use crate::balancer::{
    BalancerError, CheckConf, CookieConf, HaproxyRetries, NEXT_UPSTREAM_STATUSES, NextUpstream, ServerConf,
};
use crate::balancer::{apache, cookie};
use std::path::Path;

use super::apache::apache_conf;
use super::balancer_import::from_config;

/// The balancer of a system and the backends it balances over.
pub(super) fn validate(
    b: &RawBalancer,
    bk: &RawBackends,
    base_dir: &Path,
) -> PathResult<(BalancerConfig, Vec<BackendConfig>)> {
    match &b.config {
        Some(file) => from_config(b, bk, file, base_dir),
        None => {
            let backends = validate_backends(bk)?;
            let balancer = from_keys(b, bk, &backends)?;
            Ok((balancer, backends))
        }
    }
}

/// Keys of `[balancer]` besides `policy` and `config`, with whether they are set; for the
/// checks that a key applies to the policy in use.
pub(super) fn set_keys(b: &RawBalancer) -> [(&'static str, bool); 22] {
    [
        ("key", b.key.is_some()),
        ("cookie_name", b.cookie_name.is_some()),
        ("cookie_balance", b.cookie_balance.is_some()),
        ("hash_type", b.hash_type.is_some()),
        ("max_fails", b.max_fails.is_some()),
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
        ("upstream", b.upstream.is_some()),
        ("backend", b.backend.is_some()),
        ("lbmethod", b.lbmethod.is_some()),
        ("stickysession", b.stickysession.is_some()),
        ("nofailover", b.nofailover.is_some()),
        ("forcerecovery", b.forcerecovery.is_some()),
        ("retry", b.retry.is_some()),
    ]
}

fn from_keys(b: &RawBalancer, bk: &RawBackends, backends: &[BackendConfig]) -> PathResult<BalancerConfig> {
    let all: Vec<(&str, &'static PolicyInfo)> = registry::POLICIES.iter().map(|p| (p.name, *p)).collect();
    let policy = choice(b.policy.as_deref().unwrap_or("round_robin"), &all, "balancer.policy")?;
    if policy.family == Family::Caddy {
        return super::caddy::from_keys(b, bk, backends);
    }
    super::caddy::reject_foreign(b, policy)?;
    if policy.is_envoy_or_kube() {
        return super::envoy_kube::from_keys(b, bk, backends, policy);
    }
    super::envoy_kube::reject_foreign(b, policy)?;
    let name = policy.name;
    let haproxy = policy.is_haproxy();
    let apache = policy.family == Family::Apache;
    let apache_keys = apache::POLICY.keys;
    for (k, set) in set_keys(b) {
        if !set {
            continue;
        }
        let path = format!("balancer.{k}");
        // The policies (nginx, HAProxy, Apache) whose own keys include `k`.
        let owners: Vec<&str> = registry::taking(k)
            .into_iter()
            .filter(|n| registry::find(n).is_some_and(|p| !p.is_envoy_or_kube()))
            .collect();
        let why = match k {
            "upstream" | "backend" => Some("names a block of `balancer.config`; set `config` too".to_string()),
            // A family key (Caddy's `max_fails` is nginx's too) gets the family messages below.
            k if !owners.is_empty() && !policy.takes(k) && !registry::is_family_key(k) => {
                Some(match owners.as_slice() {
                    [one] => format!("applies only to the policy {one}"),
                    [rest @ .., last] => format!("applies only to the policies {} and {last}", rest.join(", ")),
                    [] => String::new(),
                })
            }
            k if apache && (NGINX_KEYS.contains(&k) || HAPROXY_KEYS.contains(&k)) => Some(format!(
                "does not apply to the policy apache; use {}",
                apache_keys.join(", ")
            )),
            k if haproxy && NGINX_KEYS.contains(&k) => Some(format!(
                "is an nginx setting, and policy `{name}` follows HAProxy; use {}",
                HAPROXY_KEYS.join(", ")
            )),
            k if !haproxy && HAPROXY_KEYS.contains(&k) => Some(format!(
                "is an HAProxy setting, and policy `{name}` follows nginx; use {}",
                NGINX_KEYS.join(", ")
            )),
            _ => None,
        };
        if let Some(why) = why {
            return err(path, why);
        }
    }

    let key = match b.key.as_deref().unwrap_or("remote_addr") {
        "remote_addr" => HashKey::RemoteAddr,
        "cookie" => HashKey::Cookie("PHPSESSID".into()),
        "request_uri" => HashKey::RequestUri,
        other => {
            return err(
                "balancer.key",
                format!(
                    "unknown value `{other}`{}; choose one of: remote_addr, cookie, request_uri",
                    suggest(other, &["remote_addr", "cookie", "request_uri"])
                ),
            );
        }
    };
    let consistent_source = match b.hash_type.as_deref().unwrap_or("map-based") {
        "map-based" => false,
        "consistent" => true,
        other => {
            return err(
                "balancer.hash_type",
                format!("unknown value `{other}`; choose one of: map-based, consistent"),
            );
        }
    };
    // The algorithms HAProxy's `balance` names, as the registry lists them.
    let haproxy_method = |algo: &str, path: &str| -> PathResult<Method> {
        match registry::by_directive(Family::Haproxy, algo) {
            Some(p) => Ok((p.method)(&MethodParams::default())),
            None => {
                let names = registry::directives(Family::Haproxy);
                err(
                    path,
                    format!(
                        "unknown value `{algo}`{}; choose one of: {}",
                        suggest(algo, &names),
                        names.join(", ")
                    ),
                )
            }
        }
    };
    let params = MethodParams {
        key,
        consistent: consistent_source,
        cookie_balance: haproxy_method(
            b.cookie_balance.as_deref().unwrap_or("roundrobin"),
            "balancer.cookie_balance",
        )?,
        apache: apache_conf(b)?,
        ..MethodParams::default()
    };
    let method = (policy.method)(&params);
    let cookie = match policy {
        p if *p == cookie::POLICY => {
            let name = b.cookie_name.clone().unwrap_or_else(|| "SERVERID".into());
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
            {
                return err(
                    "balancer.cookie_name",
                    format!("`{name}` is not a cookie name: use letters, digits, _ and -"),
                );
            }
            Some(CookieConf {
                name,
                indirect: true,
                nocache: true,
            })
        }
        _ => None,
    };

    // nginx passive failure detection: defaults max_fails=1 fail_timeout=10s.
    let max_fails = b.max_fails.unwrap_or(1);
    let fail_timeout = match &b.fail_timeout {
        Some(v) => whole_seconds(v, "balancer.fail_timeout")?,
        None => SimTime::from_secs(10),
    };
    let (max_fails, fail_timeout) = if apache {
        // Apache: the first connection failure puts the member in error state for `retry`.
        let retry = match &b.retry {
            Some(v) => duration(v, "balancer.retry")?,
            None => SimTime::from_secs(60),
        };
        (1, retry)
    } else {
        (max_fails, fail_timeout)
    };
    let failure = if apache {
        // mod_proxy fails over on connection errors only; a member's response (any status)
        // goes to the client. `maxattempts` defaults to one attempt per member.
        FailurePolicy::Nginx(NextUpstream {
            error: true,
            timeout: false,
            http: 0,
            non_idempotent: false,
            tries: 0,
            timeout_limit: SimTime::ZERO,
        })
    } else if haproxy {
        let connect_timeout = match &b.connect_timeout {
            Some(v) => duration(v, "balancer.connect_timeout")?,
            None => SimTime::ZERO,
        };
        FailurePolicy::Haproxy(HaproxyRetries {
            retries: b.retries.unwrap_or(3),
            // `option redispatch` without an interval: the last retry (-1).
            redispatch: b.redispatch.unwrap_or(false).then_some(-1),
            connect_timeout,
        })
    } else {
        let mut n = NextUpstream {
            error: false,
            timeout: false,
            http: 0,
            non_idempotent: false,
            tries: b.next_upstream_tries.unwrap_or(0),
            timeout_limit: SimTime::ZERO,
        };
        let words: Vec<String> = b
            .next_upstream
            .clone()
            .unwrap_or_else(|| vec!["error".into(), "timeout".into()]);
        for (i, w) in words.iter().enumerate() {
            match w.as_str() {
                "error" => n.error = true,
                "timeout" => n.timeout = true,
                "off" | "invalid_header" | "non_idempotent" => {}
                other => {
                    let bit = other
                        .strip_prefix("http_")
                        .and_then(|c| c.parse::<u16>().ok())
                        .and_then(|c| NEXT_UPSTREAM_STATUSES.iter().position(|&s| s == c));
                    match bit {
                        Some(bit) => n.http |= 1 << bit,
                        None => {
                            return err(
                                format!("balancer.next_upstream[{i}]"),
                                format!(
                                    "unknown value `{other}`; choose from: error, timeout, invalid_header, \
                                     non_idempotent, off, {}",
                                    NEXT_UPSTREAM_STATUSES.map(|s| format!("http_{s}")).join(", ")
                                ),
                            );
                        }
                    }
                }
            }
        }
        FailurePolicy::Nginx(n)
    };
    // HAProxy active checks: defaults inter 2s fall 3 rise 2, on unless `check = false`.
    let check = if haproxy && b.check.unwrap_or(true) {
        let inter = match &b.inter {
            Some(v) => duration(v, "balancer.inter")?,
            None => SimTime::from_secs(2),
        };
        if inter < SimTime::from_millis(1) {
            return err("balancer.inter", format!("must be at least 1ms, got {inter}"));
        }
        Some(CheckConf {
            inter,
            fastinter: inter,
            downinter: inter,
            rise: at_least(b.rise.unwrap_or(2), 1, "balancer.rise")?,
            fall: at_least(b.fall.unwrap_or(3), 1, "balancer.fall")?,
        })
    } else {
        None
    };

    let raw_servers = bk.servers.as_deref().unwrap_or(&[]);
    let mut servers = Vec::with_capacity(backends.len());
    for (i, be) in backends.iter().enumerate() {
        let raw = raw_servers.get(i);
        let path = format!("backends.servers[{i}]");
        let mut s = ServerConf::new(be.name.clone(), be.name.clone());
        s.weight = be.weight;
        s.backup = be.backup;
        s.down = be.down;
        s.max_conns = raw.and_then(|r| r.max_conns).unwrap_or(0);
        s.max_fails = max_fails;
        s.fail_timeout = fail_timeout;
        s.check = check;
        if let Some(r) = raw {
            if haproxy && (r.max_fails.is_some() || r.fail_timeout.is_some()) {
                let k = if r.max_fails.is_some() {
                    "max_fails"
                } else {
                    "fail_timeout"
                };
                return err(
                    format!("{path}.{k}"),
                    format!("is an nginx setting, and policy `{name}` follows HAProxy (health checks)"),
                );
            }
            if r.cookie.is_some() && *policy != cookie::POLICY && !apache {
                return err(
                    format!("{path}.cookie"),
                    "applies only to the policies cookie (HAProxy cookie value) and apache (route)",
                );
            }
            if apache && (r.max_fails.is_some() || r.fail_timeout.is_some()) {
                return err(
                    format!("{path}.fail_timeout"),
                    "is an nginx setting; the policy apache uses `balancer.retry`",
                );
            }
            if let Some(m) = r.max_fails {
                s.max_fails = m;
            }
            if let Some(v) = &r.fail_timeout {
                s.fail_timeout = whole_seconds(v, &format!("{path}.fail_timeout"))?;
            }
        }
        // HAProxy: the server's `cookie` value; sessim's default is the backend's name.
        let value = raw.and_then(|r| r.cookie.clone()).unwrap_or_else(|| be.name.clone());
        if value.is_empty() || value.contains([';', ',', ' ', '"']) {
            return err(
                format!("{path}.cookie"),
                format!("`{value}` cannot be a cookie value (no spaces, commas, semicolons or quotes)"),
            );
        }
        s.cookie = Some(value);
        if apache {
            // `loadfactor` = the backend's weight; Apache keeps it x 100.
            if !(1..=100).contains(&be.weight) {
                return err(
                    format!("{path}.weight"),
                    format!("is the Apache loadfactor, 1..100; got {}", be.weight),
                );
            }
            s.weight = be.weight * LBFACTOR_ONE;
        }
        servers.push(s);
    }
    let conf = BalancerConf {
        method,
        servers,
        cookie,
        failure,
    };
    let conf = CheckedConf::new(conf).map_err(|e| {
        let path = match e {
            BalancerError::NotConformant(..) => "balancer.hash_type",
            BalancerError::BadWeight { .. } | BalancerError::BackupNotAllowed { .. } | BalancerError::NoPrimary => {
                "backends"
            }
            _ => "balancer.policy",
        };
        (path.to_string(), e.to_string())
    })?;
    Ok(BalancerConfig {
        policy,
        conf,
        import: None,
    })
}

/// nginx keeps `fail_timeout` in whole seconds (`ngx_parse_time(value, 1)`).
fn whole_seconds(v: &Value, path: &str) -> PathResult<SimTime> {
    let t = duration(v, path)?;
    if t.as_nanos() % 1_000_000_000 != 0 {
        return err(path, format!("nginx counts fail_timeout in whole seconds, got {t}"));
    }
    Ok(t)
}
