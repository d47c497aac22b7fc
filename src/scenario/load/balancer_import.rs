//! `balancer.config = "file"`: the balancer imported from a real config file (nginx, HAProxy,
//! Apache httpd, Caddyfile or Caddy JSON, Kubernetes Service, Envoy), which defines the server
//! list; `[backends]` gives the defaults and per-server entries matched by name.

use super::*;
use crate::balancer::config::{ConfigError, Imported, caddy_json, caddyfile, envoy, haproxy, httpd, k8s, nginx};
use std::path::Path;

use super::balancer::set_keys;

/// Which language a config file is written in: HAProxy files start with a section keyword
/// (`global`, `defaults`, `backend`, ... as the HAProxy reader knows them,
/// [`haproxy::SECTIONS`]); anything else is read as nginx.
fn looks_like_haproxy(text: &str) -> bool {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| !l.is_empty())
        .and_then(|l| l.split_whitespace().next())
        .is_some_and(|w| haproxy::SECTIONS.contains(&w))
}

/// Whether a config file is Apache httpd's: it has a `BalancerMember` line or a
/// `<Proxy balancer://...>` block.
fn looks_like_httpd(text: &str) -> bool {
    text.lines().map(str::trim_start).any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("balancermember") || (l.starts_with("<proxy") && l.contains("balancer://"))
    })
}

pub(super) fn from_config(
    b: &RawBalancer,
    bk: &RawBackends,
    file: &str,
    base_dir: &Path,
) -> PathResult<(BalancerConfig, Vec<BackendConfig>)> {
    if b.policy.is_some() {
        return err(
            "balancer.policy",
            "cannot be combined with `balancer.config`: the config file sets the method (remove one of them)",
        );
    }
    for (k, set) in set_keys(b) {
        if set && k != "upstream" && k != "backend" {
            return err(
                format!("balancer.{k}"),
                "cannot be combined with `balancer.config`: the config file sets it (remove one of them)",
            );
        }
    }
    super::envoy_kube::reject_with_config(b)?;
    if b.upstream.is_some() && b.backend.is_some() {
        return err(
            "balancer.backend",
            "`upstream` names an nginx block and `backend` an HAProxy section: set only one",
        );
    }
    let full = base_dir.join(file);
    let shown = full.display().to_string();
    let text = std::fs::read_to_string(&full)
        .map_err(|e| ("balancer.config".to_string(), format!("cannot read {shown}: {e}")))?;
    // Kubernetes manifests and Envoy YAML: `upstream` names the Service or the cluster.
    let yaml = if b.backend.is_some() {
        None
    } else if k8s::looks_like_k8s(&text) {
        Some("kubernetes")
    } else if envoy::looks_like_envoy(&text) {
        Some("envoy")
    } else {
        None
    };
    let is_caddy_json = yaml.is_none() && b.backend.is_none() && caddy_json::looks_like_caddy_json(&text);
    let is_caddy =
        yaml.is_none() && !is_caddy_json && b.backend.is_none() && caddyfile::looks_like_caddyfile(file, &text);
    let is_httpd = yaml.is_none() && !is_caddy && !is_caddy_json && b.backend.is_none() && looks_like_httpd(&text);
    let is_haproxy = !is_caddy
        && !is_caddy_json
        && !is_httpd
        && yaml.is_none()
        && match (&b.upstream, &b.backend) {
            (Some(_), _) => false,
            (_, Some(_)) => true,
            _ => looks_like_haproxy(&text),
        };
    let which = if is_haproxy {
        "balancer.backend"
    } else {
        "balancer.upstream"
    };
    let at_line = |e: ConfigError| {
        let message = match e.message.strip_suffix("name the one to use") {
            Some(head) => format!("{head}name the one to use with {which}"),
            None => e.message,
        };
        let file = e.file.as_ref().map_or(shown.clone(), |p| p.display().to_string());
        let msg = if e.line > 0 {
            format!("{file}:{}: {message}", e.line)
        } else {
            format!("{file}: {message}")
        };
        ("balancer.config".to_string(), msg)
    };
    let imported: Imported = if yaml == Some("kubernetes") {
        k8s::import(&text, b.upstream.as_deref()).map_err(at_line)?
    } else if yaml == Some("envoy") {
        envoy::import(&text, b.upstream.as_deref()).map_err(at_line)?
    } else if is_caddy_json {
        caddy_json::import(&text, b.upstream.as_deref()).map_err(at_line)?
    } else if is_caddy {
        caddyfile::import(&text, b.upstream.as_deref()).map_err(at_line)?
    } else if is_httpd {
        httpd::import(&text, b.upstream.as_deref()).map_err(at_line)?
    } else if is_haproxy {
        haproxy::import(&text, b.backend.as_deref()).map_err(at_line)?
    } else {
        nginx::import_file(&full, b.upstream.as_deref()).map_err(at_line)?
    };
    let notes = imported
        .notes
        .iter()
        .map(|n| {
            let file = n.file.as_ref().map_or(shown.clone(), |p| p.display().to_string());
            if n.line > 0 {
                format!("{file}:{}: {}", n.line, n.message)
            } else {
                format!("{file}: {}", n.message)
            }
        })
        .collect();
    let servers = &imported.conf.servers;

    // The config defines the server list; [backends] gives workers, queue and service times.
    if let Some(n) = bk.count
        && n as usize != servers.len()
    {
        return err(
            "backends.count",
            format!(
                "is {n} but {shown} lists {} servers; drop `count` (the config file defines the servers) \
                 or make them agree",
                servers.len()
            ),
        );
    }
    if bk.weight.is_some() {
        return err(
            "backends.weight",
            format!("cannot be combined with `balancer.config`: the weights come from {shown}"),
        );
    }
    let default_service = match &bk.service_time {
        Some(v) => parse_dist(v, Kind::Duration, "backends.service_time")?,
        None => Dist::exponential(0.05).map_err(|m| ("backends.service_time".to_string(), m))?,
    };
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    let raw_servers = bk.servers.as_deref().unwrap_or(&[]);
    for (i, r) in raw_servers.iter().enumerate() {
        let path = format!("backends.servers[{i}]");
        let Some(name) = &r.name else {
            return err(
                format!("{path}.name"),
                format!(
                    "with `balancer.config`, an entry names the server it describes: one of {}",
                    names.join(", ")
                ),
            );
        };
        if !names.contains(&name.as_str()) {
            return err(
                format!("{path}.name"),
                format!(
                    "`{name}` is not a server of {shown}{}; its servers are: {}",
                    suggest(name, &names),
                    names.join(", ")
                ),
            );
        }
        let balancer_key = [
            ("weight", r.weight.is_some()),
            ("backup", r.backup.is_some()),
            ("down", r.down.is_some()),
            ("max_conns", r.max_conns.is_some()),
            ("max_fails", r.max_fails.is_some()),
            ("fail_timeout", r.fail_timeout.is_some()),
            ("cookie", r.cookie.is_some()),
        ]
        .into_iter()
        .find(|(_, set)| *set);
        if let Some((k, _)) = balancer_key {
            return err(
                format!("{path}.{k}"),
                format!("cannot be combined with `balancer.config`: set it in {shown}"),
            );
        }
    }
    let mut backends: Vec<BackendConfig> = Vec::with_capacity(servers.len());
    for s in servers {
        if backends.iter().any(|o| o.name == s.name) {
            return err(
                "balancer.config",
                format!(
                    "{shown}: server `{}` appears twice; sessim needs distinct servers",
                    s.name
                ),
            );
        }
        if s.name.contains([',', '"', '\n']) {
            return err(
                "balancer.config",
                format!("{shown}: server name `{}` cannot contain commas or quotes", s.name),
            );
        }
        let entry = raw_servers
            .iter()
            .position(|r| r.name.as_deref() == Some(s.name.as_str()));
        let raw = entry.and_then(|i| raw_servers.get(i));
        let path = match entry {
            Some(i) => format!("backends.servers[{i}]"),
            None => "backends".to_string(),
        };
        let service_time = match raw.and_then(|r| r.service_time.as_ref()) {
            Some(v) => parse_dist(v, Kind::Duration, &format!("{path}.service_time"))?,
            None => default_service.clone(),
        };
        backends.push(BackendConfig {
            name: s.name.clone(),
            weight: s.weight,
            workers: at_least(
                raw.and_then(|r| r.workers).or(bk.workers).unwrap_or(8),
                1,
                &format!("{path}.workers"),
            )?,
            queue: raw.and_then(|r| r.queue).or(bk.queue).unwrap_or(100),
            service_time,
            backup: s.backup,
            down: s.down,
        });
    }
    if backends.iter().all(|s| s.down) {
        return err(
            "balancer.config",
            format!("{shown}: every server is marked `down`: nothing could serve a request"),
        );
    }
    let policy = imported.conf.info();
    let conf = CheckedConf::new(imported.conf).map_err(|e| ("balancer.config".to_string(), format!("{shown}: {e}")))?;
    Ok((
        BalancerConfig {
            policy,
            conf,
            import: Some(ImportInfo {
                path: shown,
                format: if let Some(y) = yaml {
                    y
                } else if is_caddy {
                    "caddy"
                } else if is_caddy_json {
                    "caddy json"
                } else if is_httpd {
                    "httpd"
                } else if is_haproxy {
                    "haproxy"
                } else {
                    "nginx"
                },
                block: imported.name,
                notes,
            }),
        },
        backends,
    ))
}
