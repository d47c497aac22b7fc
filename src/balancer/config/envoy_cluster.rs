//! The parts of an Envoy cluster besides its `lb_policy`, for the Envoy importer:
//! `outlier_detection` (envoy/config/cluster/v3/outlier_detection.proto), `health_checks`
//! (its interval and thresholds) and the `load_assignment` endpoints with their weights and
//! `health_status`. Checked against the source; no Envoy runs here.

use super::envoy::{duration, note, refuse, wrapped_u64};
use super::yaml::Node;
use super::{ConfigError, Note};
use crate::balancer::envoy::OutlierConf;
use crate::balancer::{CheckConf, MAX_NGINX_WEIGHT, MAX_SERVERS, ServerConf};
use crate::engine::SimTime;

pub(super) fn outlier_conf(o: &Node, notes: &mut Vec<Note>) -> Result<OutlierConf, ConfigError> {
    let mut c = OutlierConf::default();
    for (k, line, v) in o.map("outlier_detection")? {
        let line = *line;
        match k.as_str() {
            "consecutive_5xx" => {
                c.consecutive_5xx = wrapped_u64(o, k)?
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| ConfigError::new(line, "`consecutive_5xx` must be at least 1"))?;
            }
            "interval" => {
                c.interval = duration(v, k)?;
                if c.interval < SimTime::from_millis(1) {
                    return Err(ConfigError::new(line, "`interval` must be at least 1ms"));
                }
            }
            "base_ejection_time" => c.base_ejection_time = duration(v, k)?,
            "max_ejection_time" => c.max_ejection_time = duration(v, k)?,
            "max_ejection_percent" => {
                c.max_ejection_percent = wrapped_u64(o, k)?
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|&n| n <= 100)
                    .ok_or_else(|| ConfigError::new(line, "`max_ejection_percent` is a percentage (0..=100)"))?;
            }
            "enforcing_consecutive_5xx" if wrapped_u64(o, k)? == Some(100) => {}
            "enforcing_success_rate"
            | "enforcing_consecutive_gateway_failure"
            | "enforcing_failure_percentage"
            | "enforcing_consecutive_local_origin_failure"
                if wrapped_u64(o, k)? == Some(0) =>
            {
                note(notes, line, format!("{k}: 0, as modelled"));
            }
            "split_external_local_origin_errors" if o.get_bool(k)? == Some(false) => {}
            other => {
                return Err(refuse(
                    line,
                    &format!("outlier_detection.{other}"),
                    "sessim ejects on consecutive 5xx only (enforced at 100%)",
                ));
            }
        }
    }
    Ok(c)
}

pub(super) fn health_check(list: &Node) -> Result<CheckConf, ConfigError> {
    let items = list.seq("health_checks")?;
    let [h] = items else {
        return Err(ConfigError::new(
            list.line,
            "sessim models exactly one entry in `health_checks`",
        ));
    };
    let interval = h
        .get("interval")
        .map(|n| duration(n, "interval"))
        .transpose()?
        .ok_or_else(|| ConfigError::new(h.line, "a health check needs `interval`"))?;
    if interval < SimTime::from_millis(1) {
        return Err(ConfigError::new(h.line, "`interval` must be at least 1ms"));
    }
    let threshold = |k: &str| -> Result<u32, ConfigError> {
        wrapped_u64(h, k)?
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n >= 1)
            .ok_or_else(|| ConfigError::new(h.line, format!("a health check needs `{k}` (at least 1)")))
    };
    Ok(CheckConf {
        inter: interval,
        fastinter: interval,
        downinter: interval,
        rise: threshold("healthy_threshold")?,
        fall: threshold("unhealthy_threshold")?,
    })
}

pub(super) fn hosts(a: &Node, check: Option<CheckConf>, notes: &mut Vec<Note>) -> Result<Vec<ServerConf>, ConfigError> {
    if let Some(p) = a.get("policy")
        && let Some(d) = p.get("drop_overloads")
    {
        return Err(refuse(
            d.line,
            "drop_overloads",
            "sessim does not drop requests at the balancer",
        ));
    }
    let mut servers: Vec<ServerConf> = Vec::new();
    for loc in a
        .get("endpoints")
        .map(|n| n.seq("endpoints"))
        .transpose()?
        .unwrap_or(&[])
    {
        if let Some(p) = loc.get("priority")
            && p.str("priority")? != "0"
        {
            return Err(refuse(
                p.line,
                "priority",
                "Envoy priorities (failover levels) are not modelled",
            ));
        }
        if let Some(w) = loc.get("load_balancing_weight") {
            note(
                notes,
                w.line,
                "locality weight ignored: locality-weighted balancing is off by default",
            );
        }
        for e in loc
            .get("lb_endpoints")
            .map(|n| n.seq("lb_endpoints"))
            .transpose()?
            .unwrap_or(&[])
        {
            let sa = e
                .get("endpoint")
                .and_then(|x| x.get("address"))
                .and_then(|x| x.get("socket_address"))
                .ok_or_else(|| ConfigError::new(e.line, "an lb_endpoint needs `endpoint.address.socket_address`"))?;
            let host = sa
                .get_str("address")?
                .ok_or_else(|| ConfigError::new(sa.line, "a socket_address needs `address`"))?;
            let port = sa
                .get_u64("port_value")?
                .ok_or_else(|| ConfigError::new(sa.line, "a socket_address needs `port_value`"))?;
            let addr = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let weight = wrapped_u64(e, "load_balancing_weight")?.unwrap_or(1);
            let wline = e.get("load_balancing_weight").map_or(e.line, |n| n.line);
            if weight == 0 || weight > u64::from(MAX_NGINX_WEIGHT) {
                return Err(ConfigError::new(
                    wline,
                    format!("load_balancing_weight {weight}: sessim accepts 1..={MAX_NGINX_WEIGHT}"),
                ));
            }
            let mut s = ServerConf::new(addr.clone(), addr.clone());
            s.weight = weight as u32;
            s.check = check;
            match e.get_str("health_status")? {
                None | Some("UNKNOWN" | "HEALTHY") => {}
                Some("UNHEALTHY" | "DRAINING" | "TIMEOUT") => {
                    note(
                        notes,
                        e.line,
                        format!("{addr} is not healthy in the config: marked down"),
                    );
                    s.down = true;
                }
                Some(other) => {
                    return Err(refuse(
                        e.get("health_status").map_or(e.line, |n| n.line),
                        &format!("health_status: {other}"),
                        "degraded hosts are not modelled",
                    ));
                }
            }
            if servers.iter().any(|o| o.name == addr) {
                return Err(ConfigError::new(e.line, format!("host {addr} appears twice")));
            }
            servers.push(s);
        }
    }
    if servers.is_empty() {
        return Err(ConfigError::new(a.line, "`load_assignment` lists no `lb_endpoints`"));
    }
    if servers.len() > MAX_SERVERS {
        return Err(ConfigError::new(
            a.line,
            format!("{} hosts; sessim models at most {MAX_SERVERS}", servers.len()),
        ));
    }
    Ok(servers)
}
