//! Import of an Envoy cluster from a YAML bootstrap (`static_resources.clusters[]`), a file
//! holding a `clusters:` list, or a single cluster, with the `hash_policy` of the routes that
//! send to it (`static_resources.listeners[]...route_config...routes[].route`).
//!
//! Read: `lb_policy` (ROUND_ROBIN, LEAST_REQUEST, RING_HASH, MAGLEV), `load_assignment`
//! endpoints with `load_balancing_weight` and `health_status`, `ring_hash_lb_config`,
//! `maglev_lb_config`, `least_request_lb_config`, `outlier_detection` (consecutive 5xx),
//! `health_checks` (interval and thresholds) and one `hash_policy` (cookie without `ttl`,
//! header `:path`, `connection_properties.source_ip`). Field names and defaults are those of
//! envoy/config/cluster/v3/cluster.proto, outlier_detection.proto and route_components.proto.
//! What changes routing but is not modelled (priorities, subsets, circuit breakers, slow start,
//! other hash functions, generated cookies, ...) is refused at its line. Checked against the
//! source; no Envoy runs here.

use super::envoy_cluster::{health_check, hosts, outlier_conf};
use super::yaml::{self, Node, Value};
use super::{ConfigError, Imported, Note, choose};
use crate::balancer::registry::{self, Family, MethodParams};
use crate::balancer::{BalancerConf, FailurePolicy, HaproxyRetries, HashKey, envoy_maglev, envoy_ring_hash};
use crate::engine::SimTime;

/// Whether `text` looks like Envoy config: a `static_resources:`, `clusters:` or `lb_policy:` key.
pub fn looks_like_envoy(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start().trim_start_matches("- ");
        l.starts_with("static_resources:") || l.starts_with("clusters:") || l.starts_with("lb_policy:")
    })
}

pub(super) fn refuse(line: usize, field: &str, why: &str) -> ConfigError {
    ConfigError::new(
        line,
        format!("`{field}` is not modelled: {why}; remove it to import the cluster"),
    )
}

pub(super) fn note(notes: &mut Vec<Note>, line: usize, message: impl Into<String>) {
    notes.push(Note {
        file: None,
        line,
        message: message.into(),
    });
}

/// A protobuf JSON Duration (`"5s"`, `"0.25s"`) or a `{seconds, nanos}` mapping.
pub(super) fn duration(n: &Node, what: &str) -> Result<SimTime, ConfigError> {
    let bad = || {
        ConfigError::new(
            n.line,
            format!("`{what}` must be a duration such as \"5s\" or \"0.25s\""),
        )
    };
    if let Value::Map(_) = n.v {
        let s = n.get_u64("seconds")?.unwrap_or(0);
        let ns = n.get_u64("nanos")?.unwrap_or(0);
        return Ok(SimTime::from_nanos(s.saturating_mul(1_000_000_000).saturating_add(ns)));
    }
    let t = n.str(what)?;
    let num = t.strip_suffix('s').ok_or_else(bad)?;
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if whole.is_empty() || frac.len() > 9 || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let w: u64 = whole.parse().map_err(|_| bad())?;
    let f: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    Ok(SimTime::from_nanos(w.saturating_mul(1_000_000_000).saturating_add(f)))
}

/// A `google.protobuf.UInt32Value`: a number or `{value: N}`.
pub(super) fn wrapped_u64(parent: &Node, key: &str) -> Result<Option<u64>, ConfigError> {
    match parent.get(key) {
        Some(n) if matches!(n.v, Value::Map(_)) => n.get_u64("value"),
        _ => parent.get_u64(key),
    }
}

/// The clusters of the file, by name.
fn clusters(docs: &[Node]) -> Result<Vec<(String, &Node)>, ConfigError> {
    let mut out = Vec::new();
    for d in docs {
        let list = if let Some(sr) = d.get("static_resources") {
            sr.get("clusters")
        } else {
            d.get("clusters")
        };
        let items: Vec<&Node> = match list {
            Some(l) => l.seq("clusters")?.iter().collect(),
            None if d.get("name").is_some() => vec![d],
            None => Vec::new(),
        };
        for c in items {
            let name = c
                .get_str("name")?
                .ok_or_else(|| ConfigError::new(c.line, "a cluster needs a `name`"))?;
            out.push((name.to_string(), c));
        }
    }
    Ok(out)
}

/// Every `route:` action that sends to `cluster`, anywhere under the listeners.
fn routes_to<'a>(n: &'a Node, cluster: &str, out: &mut Vec<&'a Node>) {
    match &n.v {
        Value::Map(m) => {
            for (k, _, v) in m {
                if k == "route" && v.get("cluster").and_then(|c| c.str("cluster").ok()) == Some(cluster) {
                    out.push(v);
                }
                routes_to(v, cluster, out);
            }
        }
        Value::Seq(s) => s.iter().for_each(|i| routes_to(i, cluster, out)),
        _ => {}
    }
}

/// The hash key of the routes to `cluster` (one `hash_policy` entry), with its line.
fn hash_policy(docs: &[Node], cluster: &str, notes: &mut Vec<Note>) -> Result<Option<(HashKey, usize)>, ConfigError> {
    let mut routes = Vec::new();
    for d in docs {
        let listeners = d
            .get("static_resources")
            .and_then(|s| s.get("listeners"))
            .or_else(|| d.get("listeners"));
        if let Some(l) = listeners {
            routes_to(l, cluster, &mut routes);
        }
    }
    let mut found: Option<(HashKey, usize)> = None;
    for r in routes {
        let Some(hp) = r.get("hash_policy") else { continue };
        let list = hp.seq("hash_policy")?;
        if list.len() > 1 {
            return Err(refuse(
                list[1].line,
                "hash_policy",
                "Envoy combines several hash policies into one hash; give one",
            ));
        }
        let Some(p) = list.first() else { continue };
        let key = if let Some(c) = p.get("cookie") {
            if let Some(t) = c.get("ttl") {
                return Err(refuse(
                    t.line,
                    "cookie.ttl",
                    "with a ttl Envoy generates the cookie itself (not modelled)",
                ));
            }
            let name = c
                .get_str("name")?
                .ok_or_else(|| ConfigError::new(c.line, "a cookie hash policy needs `name`"))?;
            note(
                notes,
                c.line,
                format!("cookie `{name}` hashed as the application's session cookie"),
            );
            HashKey::Cookie(name.to_string())
        } else if let Some(h) = p.get("header") {
            match h.get_str("header_name")? {
                Some(":path") => HashKey::RequestUri,
                Some(other) => {
                    return Err(refuse(
                        h.line,
                        &format!("header_name: {other}"),
                        "sessim's requests carry no headers but `:path`",
                    ));
                }
                None => return Err(ConfigError::new(h.line, "a header hash policy needs `header_name`")),
            }
        } else if let Some(cp) = p.get("connection_properties") {
            if cp.get_bool("source_ip")? != Some(true) {
                return Err(ConfigError::new(
                    cp.line,
                    "`connection_properties` hashes only with `source_ip: true`",
                ));
            }
            HashKey::RemoteAddr
        } else {
            let what = p.map("hash_policy")?.first().map_or("(empty)", |(k, _, _)| k.as_str());
            return Err(refuse(
                p.line,
                &format!("hash_policy {what}"),
                "only cookie, header `:path` and connection_properties.source_ip are modelled",
            ));
        };
        if let Some((k, l)) = &found
            && *k != key
        {
            return Err(ConfigError::new(
                p.line,
                format!("routes to `{cluster}` hash different keys ({k} at line {l}, {key} here); sessim models one"),
            ));
        }
        found = Some((key, p.line));
    }
    Ok(found)
}

/// Envoy's cluster named `wanted`, or the only one in `text`.
pub fn import(text: &str, wanted: Option<&str>) -> Result<Imported, ConfigError> {
    let docs = yaml::load(text)?;
    let found = clusters(&docs)?;
    let (name, c) = choose("cluster", &found, wanted)?;
    let mut notes = Vec::new();
    let mut lb = "ROUND_ROBIN";
    let mut ring: Option<&Node> = None;
    let mut maglev: Option<&Node> = None;
    let mut least: Option<&Node> = None;
    let mut outlier_node: Option<&Node> = None;
    let mut checks: Option<&Node> = None;
    let mut assignment: Option<&Node> = None;
    for (k, line, v) in c.map("cluster")? {
        let line = *line;
        match k.as_str() {
            "name"
            | "alt_stat_name"
            | "connect_timeout"
            | "dns_lookup_family"
            | "dns_refresh_rate"
            | "respect_dns_ttl"
            | "transport_socket"
            | "typed_extension_protocol_options"
            | "http2_protocol_options"
            | "http_protocol_options"
            | "per_connection_buffer_limit_bytes"
            | "upstream_connection_options"
            | "metadata" => {
                if k == "connect_timeout" {
                    note(
                        &mut notes,
                        line,
                        "connect_timeout ignored: a down host refuses at once in sessim",
                    );
                }
            }
            "type" => match v.str("type")? {
                "STATIC" | "STRICT_DNS" | "LOGICAL_DNS" => {}
                t => {
                    return Err(refuse(
                        line,
                        &format!("type: {t}"),
                        "sessim needs the hosts in `load_assignment` (STATIC, STRICT_DNS, LOGICAL_DNS)",
                    ));
                }
            },
            "lb_policy" => lb = v.str("lb_policy")?,
            "ring_hash_lb_config" => ring = Some(v),
            "maglev_lb_config" => maglev = Some(v),
            "least_request_lb_config" => least = Some(v),
            "round_robin_lb_config" => {
                if v.get("slow_start_config").is_some() {
                    return Err(refuse(v.line, "slow_start_config", "slow start is not modelled"));
                }
            }
            "outlier_detection" => outlier_node = Some(v),
            "health_checks" => checks = Some(v),
            "load_assignment" => assignment = Some(v),
            "common_lb_config" => {
                for (ck, cl, cv) in v.map("common_lb_config")? {
                    let ok = ck == "healthy_panic_threshold"
                        && cv.get_str("value")?.and_then(|t| t.parse::<f64>().ok()) == Some(50.0);
                    if !ok {
                        return Err(refuse(
                            *cl,
                            &format!("common_lb_config.{ck}"),
                            "only the default panic threshold (50%) is modelled",
                        ));
                    }
                }
            }
            other => {
                return Err(refuse(
                    line,
                    other,
                    "it changes how Envoy picks or limits hosts, and sessim does not model it",
                ));
            }
        }
    }
    let lb_line = c
        .map("cluster")?
        .iter()
        .find(|(k, _, _)| k == "lb_policy")
        .map_or(c.line, |e| e.1);
    let Some(policy) = registry::by_directive(Family::Envoy, lb) else {
        return Err(refuse(
            lb_line,
            &format!("lb_policy: {lb}"),
            &format!(
                "sessim models {}",
                super::and_list(&registry::directives(Family::Envoy))
            ),
        ));
    };
    for (cfg, field, policy) in [
        (ring, "ring_hash_lb_config", "RING_HASH"),
        (maglev, "maglev_lb_config", "MAGLEV"),
        (least, "least_request_lb_config", "LEAST_REQUEST"),
    ] {
        if let Some(n) = cfg
            && lb != policy
        {
            return Err(ConfigError::new(
                n.line,
                format!("`{field}` applies to lb_policy {policy}, not {lb}"),
            ));
        }
    }
    let outlier = outlier_node.map(|o| outlier_conf(o, &mut notes)).transpose()?;
    let hash = hash_policy(&docs, name, &mut notes)?;
    let hash_key = || -> Result<HashKey, ConfigError> {
        hash.clone().map(|(k, _)| k).ok_or_else(|| {
            ConfigError::new(
                lb_line,
                format!(
                    "lb_policy {lb} without a route `hash_policy` for `{name}`: Envoy then hashes nothing and \
                     picks a random host (not modelled); add a hash_policy to the route"
                ),
            )
        })
    };
    let mut params = MethodParams {
        outlier,
        ..MethodParams::default()
    };
    match lb {
        "LEAST_REQUEST" => {
            let mut choice_count = 2;
            let mut bias = 1.0;
            if let Some(l) = least {
                for (k, line, v) in l.map("least_request_lb_config")? {
                    match k.as_str() {
                        "choice_count" => {
                            choice_count = wrapped_u64(l, "choice_count")?
                                .and_then(|n| u32::try_from(n).ok())
                                .filter(|&n| n >= 2)
                                .ok_or_else(|| ConfigError::new(*line, "`choice_count` must be at least 2"))?;
                        }
                        "active_request_bias" => {
                            let t = v.get_str("default_value")?.ok_or_else(|| {
                                ConfigError::new(*line, "`active_request_bias` needs `default_value`")
                            })?;
                            bias = t
                                .parse::<f64>()
                                .ok()
                                .filter(|b| b.is_finite() && *b >= 0.0)
                                .ok_or_else(|| {
                                    ConfigError::new(*line, format!("`active_request_bias` must be >= 0, got `{t}`"))
                                })?;
                        }
                        other => return Err(refuse(*line, other, "not modelled")),
                    }
                }
            }
            params.choice_count = choice_count;
            params.active_request_bias = bias;
        }
        "RING_HASH" => {
            let mut min = envoy_ring_hash::DEFAULT_MIN_RING;
            let mut max = envoy_ring_hash::DEFAULT_MAX_RING;
            if let Some(r) = ring {
                for (k, line, v) in r.map("ring_hash_lb_config")? {
                    match k.as_str() {
                        "minimum_ring_size" => min = wrapped_u64(r, k)?.unwrap_or(min),
                        "maximum_ring_size" => max = wrapped_u64(r, k)?.unwrap_or(max),
                        "hash_function" if v.str(k)? == "XX_HASH" => {}
                        "hash_function" => {
                            return Err(refuse(
                                *line,
                                "hash_function: MURMUR_HASH_2",
                                "the ring is built with xxHash64",
                            ));
                        }
                        other => return Err(refuse(*line, other, "not modelled")),
                    }
                }
            }
            let cap = envoy_ring_hash::DEFAULT_MAX_RING;
            if min == 0 || min > cap || max > cap || min > max {
                return Err(ConfigError::new(
                    ring.map_or(c.line, |r| r.line),
                    format!("ring sizes {min}..{max}: need 1 <= minimum_ring_size <= maximum_ring_size <= {cap}"),
                ));
            }
            params.key = hash_key()?;
            params.minimum_ring_size = min;
            params.maximum_ring_size = max;
        }
        "MAGLEV" => {
            let mut table_size = envoy_maglev::DEFAULT_TABLE_SIZE;
            if let Some(m) = maglev {
                for (k, line, _) in m.map("maglev_lb_config")? {
                    match k.as_str() {
                        "table_size" => table_size = wrapped_u64(m, k)?.unwrap_or(table_size),
                        other => return Err(refuse(*line, other, "not modelled")),
                    }
                }
                if table_size > envoy_maglev::MAX_TABLE_SIZE || !envoy_maglev::is_prime(table_size) {
                    return Err(ConfigError::new(
                        m.line,
                        format!(
                            "table_size {table_size} must be a prime number up to {}",
                            envoy_maglev::MAX_TABLE_SIZE
                        ),
                    ));
                }
            }
            params.key = hash_key()?;
            params.table_size = table_size;
        }
        _ => {}
    }
    let method = (policy.method)(&params);
    // A policy without a `key` (ROUND_ROBIN, LEAST_REQUEST) does not hash.
    if let Some((_, line)) = &hash
        && !policy.takes("key")
    {
        note(
            &mut notes,
            *line,
            format!("hash_policy ignored: lb_policy {lb} does not hash"),
        );
    }
    let check = checks.map(health_check).transpose()?;
    let assignment = assignment.ok_or_else(|| {
        ConfigError::new(
            c.line,
            format!("cluster `{name}` has no `load_assignment`: sessim needs its hosts"),
        )
    })?;
    let servers = hosts(assignment, check, &mut notes)?;
    if let Some(o) = outlier_node
        && servers.len() >= 5
        && o.get("enforcing_success_rate").is_none()
    {
        note(
            &mut notes,
            o.line,
            "success-rate ejection (on by default from 5 hosts and 100 requests per interval) is not modelled; \
             set `enforcing_success_rate: 0` to match",
        );
    }
    Ok(Imported {
        name: name.clone(),
        conf: BalancerConf {
            method,
            servers,
            cookie: None,
            // Envoy without a route retry_policy: one attempt, then 503.
            failure: FailurePolicy::Haproxy(HaproxyRetries {
                retries: 0,
                redispatch: None,
                connect_timeout: SimTime::ZERO,
            }),
        },
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::envoy::OutlierConf;
    use crate::balancer::envoy_least_request::EnvoyLeastRequestConf;
    use crate::balancer::envoy_maglev::EnvoyMaglevConf;
    use crate::balancer::envoy_ring_hash::EnvoyRingHashConf;
    use crate::balancer::{Bias, Method};

    const BOOT: &str = "\
static_resources:
  listeners:
    - name: main
      address:
        socket_address: {address: 0.0.0.0, port_value: 8080}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: [\"*\"]
                      routes:
                        - match: {prefix: /}
                          route:
                            cluster: shop
                            hash_policy:
                              - cookie: {name: PHPSESSID}
  clusters:
    - name: shop
      type: STATIC
      connect_timeout: 0.25s
      lb_policy: RING_HASH
      ring_hash_lb_config:
        minimum_ring_size: 2048
      outlier_detection:
        consecutive_5xx: 3
        interval: 5s
        base_ejection_time: 15s
        max_ejection_percent: 50
      load_assignment:
        cluster_name: shop
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: {address: 10.0.0.1, port_value: 8080}
              - endpoint:
                  address:
                    socket_address: {address: 10.0.0.2, port_value: 8080}
                load_balancing_weight: 3
";

    #[test]
    fn bootstrap_ring_hash_with_cookie_hash_policy() {
        let i = import(BOOT, None).map_err(|e| e.to_string());
        let Ok(i) = i else { panic!("{i:?}") };
        assert_eq!(i.name, "shop");
        assert_eq!(
            i.conf.method,
            Method::new(EnvoyRingHashConf {
                key: HashKey::Cookie("PHPSESSID".into()),
                minimum_ring_size: 2048,
                maximum_ring_size: envoy_ring_hash::DEFAULT_MAX_RING,
                outlier: Some(OutlierConf {
                    consecutive_5xx: 3,
                    interval: SimTime::from_secs(5),
                    base_ejection_time: SimTime::from_secs(15),
                    // Not in the file: Envoy's default 300 s.
                    max_ejection_time: SimTime::from_secs(300),
                    max_ejection_percent: 50,
                }),
            })
        );
        let w: Vec<(&str, u32)> = i.conf.servers.iter().map(|s| (s.name.as_str(), s.weight)).collect();
        assert_eq!(w, [("10.0.0.1:8080", 1), ("10.0.0.2:8080", 3)]);
        assert!(
            i.notes
                .iter()
                .any(|n| n.line == 25 && n.message.contains("connect_timeout"))
        );
    }

    #[test]
    fn other_policies_and_keys() {
        let lr = BOOT
            .replace("lb_policy: RING_HASH", "lb_policy: LEAST_REQUEST")
            .replace(
                "ring_hash_lb_config:\n        minimum_ring_size: 2048",
                "least_request_lb_config:\n        choice_count: 3\n        active_request_bias: {default_value: 0.5, runtime_key: b}",
            );
        let m = import(&lr, None).map(|i| i.conf.method).map_err(|e| e.to_string());
        assert!(
            matches!(m.as_ref().map(|m| m.downcast_ref::<EnvoyLeastRequestConf>()), Ok(Some(EnvoyLeastRequestConf { choice_count: 3, active_request_bias: Bias(b), .. })) if *b == 0.5),
            "{m:?}"
        );
        let mg = BOOT
            .replace("lb_policy: RING_HASH", "lb_policy: MAGLEV")
            .replace(
                "ring_hash_lb_config:\n        minimum_ring_size: 2048",
                "maglev_lb_config: {table_size: 251}",
            )
            .replace(
                "- cookie: {name: PHPSESSID}",
                "- connection_properties: {source_ip: true}",
            );
        let m = import(&mg, None).map(|i| i.conf.method).map_err(|e| e.to_string());
        assert!(
            matches!(
                m.as_ref().map(|m| m.downcast_ref::<EnvoyMaglevConf>()),
                Ok(Some(EnvoyMaglevConf {
                    key: HashKey::RemoteAddr,
                    table_size: 251,
                    ..
                }))
            ),
            "{m:?}"
        );
        let path = BOOT.replace("- cookie: {name: PHPSESSID}", "- header: {header_name: \":path\"}");
        let m = import(&path, None).map(|i| i.conf.method).map_err(|e| e.to_string());
        assert!(
            matches!(
                m.as_ref().map(|m| m.downcast_ref::<EnvoyRingHashConf>()),
                Ok(Some(EnvoyRingHashConf {
                    key: HashKey::RequestUri,
                    ..
                }))
            ),
            "{m:?}"
        );
    }

    fn error(text: &str) -> String {
        import(text, None).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn unmodelled_fields_are_refused_at_their_line() {
        let t = BOOT.replace("- cookie: {name: PHPSESSID}", "- cookie: {name: s, ttl: 3600s}");
        assert!(
            error(&t).starts_with("line 21: `cookie.ttl` is not modelled"),
            "{}",
            error(&t)
        );
        let t = BOOT.replace(
            "                            hash_policy:\n                              - cookie: {name: PHPSESSID}\n",
            "",
        );
        assert!(
            error(&t).starts_with("line 24: lb_policy RING_HASH without a route `hash_policy`"),
            "{}",
            error(&t)
        );
        let t = BOOT.replace("lb_policy: RING_HASH", "lb_policy: RANDOM");
        assert!(
            error(&t).starts_with("line 26: `lb_policy: RANDOM` is not modelled"),
            "{}",
            error(&t)
        );
        let t = BOOT.replace("      type: STATIC\n", "      type: EDS\n");
        assert!(
            error(&t).starts_with("line 24: `type: EDS` is not modelled"),
            "{}",
            error(&t)
        );
        let t = BOOT.replace(
            "        interval: 5s\n",
            "        interval: 5s\n        success_rate_stdev_factor: 1900\n",
        );
        assert!(
            error(&t).starts_with("line 32: `outlier_detection.success_rate_stdev_factor`"),
            "{}",
            error(&t)
        );
        let t = BOOT.replace(
            "      - lb_endpoints:",
            "      - priority: 1\n            lb_endpoints:",
        );
        assert!(
            error(&t).starts_with("line 37: `priority` is not modelled"),
            "{}",
            error(&t)
        );
        let t = BOOT.replace("      connect_timeout: 0.25s\n", "      circuit_breakers: {}\n");
        assert!(
            error(&t).starts_with("line 25: `circuit_breakers` is not modelled"),
            "{}",
            error(&t)
        );
        let t = BOOT.replace("interval: 5s", "interval: 5 seconds");
        assert!(
            error(&t).starts_with("line 31: `interval` must be a duration"),
            "{}",
            error(&t)
        );
        let t = BOOT.replace("load_balancing_weight: 3", "load_balancing_weight: 0");
        assert!(
            error(&t).starts_with("line 44: load_balancing_weight 0"),
            "{}",
            error(&t)
        );
    }

    #[test]
    fn durations_follow_protobuf_json() {
        let n = |t: &str| Node {
            line: 1,
            v: Value::Scalar {
                text: t.into(),
                string: true,
            },
        };
        assert_eq!(duration(&n("0.25s"), "d").ok(), Some(SimTime::from_millis(250)));
        assert_eq!(duration(&n("30s"), "d").ok(), Some(SimTime::from_secs(30)));
        assert!(duration(&n("30"), "d").is_err());
        assert!(duration(&n(".5s"), "d").is_err());
    }

    #[test]
    fn mangled_configs_never_panic() {
        for t in super::super::mangled(&BOOT[BOOT.len() - 500..]) {
            let _ = import(&t, None);
        }
    }
}
