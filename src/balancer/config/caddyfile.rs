//! Import of a Caddyfile's `reverse_proxy` (Caddy 2.6).
//!
//! The Caddyfile grammar as `caddyconfig/caddyfile/lexer.go` and `parse.go` define it:
//! tokens separated by white space, `"..."` (with `\"`) and `` `...` `` quotes, `#` comments
//! from a token start to the end of the line, `{` / `}` as tokens of their own opening and
//! closing blocks; a directive is the tokens of one line. The file holds an optional global
//! options block (a first block with no address), snippets `(name) { ... }` pulled in by
//! `import name`, and site blocks `address[, address] { ... }` (or a single site without
//! braces). `reverse_proxy [matcher] [upstreams...] { ... }` may sit in any nested block
//! (`handle`, `route`, ...). Its subdirectives are read as
//! `modules/caddyhttp/reverseproxy/caddyfile.go` `UnmarshalCaddyfile` does; upstream
//! addresses become dial addresses as `parseUpstreamDialAddress` does (`http://` and no
//! scheme: port 80 by default; `https://`: 443).
//!
//! Subdirectives that change which upstream is chosen but are not modelled are errors
//! naming the line; those that do not are notes. `import` of a file is refused (inline it).

use super::{ConfigError, Imported, Note};
use crate::balancer::caddy::{CaddyConf, LbPolicy, parse_status, server_cookies};
use crate::balancer::{BalancerConf, Method, ServerConf, SimTime};

mod lexer;
use lexer::{Dir, expand, parse_block, tokenize};

/// A Caddy duration (`caddy.ParseDuration`: Go's `time.ParseDuration` plus `d` for days).
pub fn parse_duration(s: &str) -> Option<SimTime> {
    if s == "0" {
        return Some(SimTime::ZERO);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(n);
        let v: f64 = num.parse().ok()?;
        let u = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(u);
        let secs = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return None,
        };
        total += v * secs;
        rest = tail;
    }
    (total.is_finite() && total < 1e9).then(|| SimTime::from_secs_f64(total))
}

/// `parseUpstreamDialAddress`: the dial address of an upstream as written.
pub(crate) fn dial_of(up: &str, line: usize) -> Result<String, ConfigError> {
    if up.contains('{') {
        return Err(ConfigError::new(
            line,
            format!("upstream `{up}` uses a placeholder: dynamic upstreams are not modelled; list the addresses"),
        ));
    }
    let (rest, default_port) = if let Some(r) = up.strip_prefix("http://") {
        (r, "80")
    } else if let Some(r) = up.strip_prefix("https://") {
        (r, "443")
    } else if let Some(r) = up.strip_prefix("h2c://") {
        (r, "80")
    } else if up.contains("://") {
        return Err(ConfigError::new(
            line,
            format!("upstream `{up}`: unsupported scheme (use http:// or https://)"),
        ));
    } else {
        (up, "80")
    };
    if rest.contains('/') {
        return Err(ConfigError::new(
            line,
            format!("upstream `{up}`: an upstream address cannot have a path (Caddy refuses it too)"),
        ));
    }
    if rest.is_empty() {
        return Err(ConfigError::new(line, format!("upstream `{up}` has no host")));
    }
    let has_port = match rest.rsplit_once(':') {
        Some((h, p)) => !h.ends_with(':') && !p.is_empty() && (!h.contains(':') || h.ends_with(']')),
        None => false,
    };
    if has_port {
        let p = rest.rsplit_once(':').map_or("", |(_, p)| p);
        if p.contains('-') {
            return Err(ConfigError::new(
                line,
                format!("upstream `{up}`: port ranges are not supported; list each upstream"),
            ));
        }
        if p.parse::<u16>().is_err() {
            return Err(ConfigError::new(line, format!("upstream `{up}`: `{p}` is not a port")));
        }
        Ok(rest.to_string())
    } else {
        Ok(format!("{rest}:{default_port}"))
    }
}

/// One `reverse_proxy` found: the site it belongs to, and its directive.
struct Found {
    name: String,
    dir: Dir,
}

fn find_proxies(site: &str, dirs: &[Dir], out: &mut Vec<Found>) {
    for d in dirs {
        if d.words.first().map(String::as_str) == Some("reverse_proxy") {
            out.push(Found {
                name: site.to_string(),
                dir: d.clone(),
            });
        } else if let Some(b) = &d.block {
            find_proxies(site, b, out);
        }
    }
}

fn is_matcher(w: &str) -> bool {
    w.starts_with('/') || w.starts_with('@') || w == "*"
}

/// Subdirectives that do not change which upstream is chosen.
const NOTED: &[&str] = &[
    "header_up",
    "header_down",
    "transport",
    "flush_interval",
    "buffer_requests",
    "buffer_responses",
    "max_buffer_size",
    "request_buffers",
    "response_buffers",
    "trusted_proxies",
    "handle_response",
    "replace_status",
    "copy_response",
    "copy_response_headers",
    "method",
    "rewrite",
    "health_port",
    "health_timeout",
    "health_status",
    "health_body",
    "health_headers",
    "health_path",
    "lb_retry_match",
];

fn one_arg(d: &Dir) -> Result<&str, ConfigError> {
    match d.words.as_slice() {
        [_, v] => Ok(v),
        _ => Err(ConfigError::new(
            d.line,
            format!("`{}` takes one argument", d.words.first().map_or("", String::as_str)),
        )),
    }
}

fn duration_arg(d: &Dir) -> Result<SimTime, ConfigError> {
    let v = one_arg(d)?;
    parse_duration(v).ok_or_else(|| {
        ConfigError::new(
            d.line,
            format!("`{} {v}`: not a duration (write e.g. 30s, 500ms, 1m)", d.words[0]),
        )
    })
}

fn count_arg(d: &Dir) -> Result<u32, ConfigError> {
    let v = one_arg(d)?;
    v.parse::<u32>()
        .map_err(|_| ConfigError::new(d.line, format!("`{} {v}`: not a whole number", d.words[0])))
}

fn proxy_conf(d: &Dir, notes: &mut Vec<Note>) -> Result<(Vec<String>, CaddyConf), ConfigError> {
    let mut ups: Vec<(String, usize)> = Vec::new();
    let mut args = &d.words[1..];
    if args.first().is_some_and(|w| is_matcher(w)) {
        args = &args[1..];
    }
    ups.extend(args.iter().map(|a| (a.clone(), d.line)));
    let mut c = CaddyConf::default();
    let mut health_uri = false;
    let mut interval = None;
    let mut try_interval = None;
    let mut max_fails_set = false;
    // Any passive key makes Caddy's `HealthChecks.Passive` non-nil.
    let mut passive = false;
    for s in d.block.as_deref().unwrap_or(&[]) {
        let Some(name) = s.words.first().map(String::as_str) else {
            continue;
        };
        let words: Vec<&str> = s.words.iter().map(String::as_str).collect();
        match name {
            "to" => {
                if words.len() < 2 {
                    return Err(ConfigError::new(s.line, "`to` needs at least one upstream address"));
                }
                ups.extend(words[1..].iter().map(|w| ((*w).to_string(), s.line)));
            }
            "lb_policy" => {
                let Some((p, a)) = words[1..].split_first() else {
                    return Err(ConfigError::new(s.line, "`lb_policy` needs a policy name"));
                };
                if s.block.is_some() {
                    return Err(ConfigError::new(
                        s.line,
                        format!("lb_policy {p}: a block after the policy is not supported"),
                    ));
                }
                c.policy = LbPolicy::parse(p, a).map_err(|m| ConfigError::new(s.line, m))?;
            }
            "lb_retries" => c.retries = count_arg(s)?,
            "lb_try_duration" => c.try_duration = duration_arg(s)?,
            "lb_try_interval" => try_interval = Some(duration_arg(s)?),
            "fail_duration" => {
                c.fail_duration = duration_arg(s)?;
                passive = true;
            }
            "max_fails" => {
                c.max_fails = count_arg(s)?;
                max_fails_set = true;
                passive = true;
            }
            "unhealthy_status" => {
                if words.len() < 2 {
                    return Err(ConfigError::new(
                        s.line,
                        "`unhealthy_status` needs statuses, e.g. `5xx` or `503`",
                    ));
                }
                for w in &words[1..] {
                    c.unhealthy_status
                        .push(parse_status(w).map_err(|m| ConfigError::new(s.line, m))?);
                }
                passive = true;
            }
            "unhealthy_latency" => {
                c.unhealthy_latency = duration_arg(s)?;
                passive = true;
            }
            "unhealthy_request_count" => {
                c.unhealthy_request_count = count_arg(s)?;
                passive = true;
            }
            "health_uri" => {
                one_arg(s)?;
                health_uri = true;
            }
            "health_interval" => interval = Some(duration_arg(s)?),
            "max_requests" => {
                return Err(ConfigError::new(
                    s.line,
                    "`max_requests` is not a Caddy 2.6 reverse_proxy subdirective (only a field of an upstream \
                     in JSON); use `unhealthy_request_count`",
                ));
            }
            "dynamic" => {
                return Err(ConfigError::new(
                    s.line,
                    "dynamic upstreams are not modelled; list the upstreams with `to`",
                ));
            }
            n if NOTED.contains(&n) => notes.push(Note {
                file: None,
                line: s.line,
                message: format!("`{n}` ignored: it does not change which upstream is chosen"),
            }),
            other => {
                return Err(ConfigError::new(
                    s.line,
                    format!("unrecognized reverse_proxy subdirective `{other}` (Caddy 2.6 refuses it too)"),
                ));
            }
        }
    }
    c.passive = passive;
    // Provision: max_fails 0 becomes 1 only when fail_duration is set.
    if !max_fails_set || c.max_fails == 0 {
        c.max_fails = u32::from(c.fail_duration > SimTime::ZERO);
    }
    if c.fail_duration == SimTime::ZERO && passive {
        let message = if c.max_fails == 0 {
            "passive health keys without fail_duration: Caddy 2.6 leaves max_fails at 0, so every upstream \
             is unhealthy and every request gets 503; set fail_duration"
        } else {
            "passive health keys without fail_duration: Caddy counts no failures"
        };
        notes.push(Note {
            file: None,
            line: d.line,
            message: message.into(),
        });
    }
    if health_uri {
        // Provision: the interval defaults to 30 s.
        c.health_interval = Some(interval.unwrap_or(SimTime::from_secs(30)));
    } else if interval.is_some() {
        notes.push(Note {
            file: None,
            line: d.line,
            message: "health_interval without health_uri: Caddy runs no active checks".into(),
        });
    }
    // Provision: 250 ms when lb_try_duration is set and the interval is 0.
    c.try_interval = match try_interval {
        Some(t) if t > SimTime::ZERO => t,
        _ if c.try_duration > SimTime::ZERO => SimTime::from_millis(250),
        _ => SimTime::ZERO,
    };
    c.limits().map_err(|m| ConfigError::new(d.line, m))?;
    if ups.is_empty() {
        return Err(ConfigError::new(
            d.line,
            "reverse_proxy has no upstreams: add addresses or `to`",
        ));
    }
    let mut dials = Vec::with_capacity(ups.len());
    for (u, line) in &ups {
        let dial = dial_of(u, *line)?;
        if dials.contains(&dial) {
            return Err(ConfigError::new(*line, format!("upstream `{dial}` is listed twice")));
        }
        dials.push(dial);
    }
    Ok((dials, c))
}

/// Import the `reverse_proxy` of a Caddyfile; `wanted` names its site address when the
/// file has several `reverse_proxy` directives.
pub fn import(text: &str, wanted: Option<&str>) -> Result<Imported, ConfigError> {
    let toks = tokenize(text)?;
    let mut pos = 0;
    let top = parse_block(&toks, &mut pos, 0, None)?;
    let mut snippets: Vec<(String, Vec<Dir>)> = Vec::new();
    let mut sites: Vec<(String, Vec<Dir>)> = Vec::new();
    let mut rest = top.into_iter().enumerate().peekable();
    while let Some((i, d)) = rest.next() {
        match (&d.block, d.words.first()) {
            // The global options block: only as the first thing in the file.
            (Some(_), None) if i == 0 => {}
            (Some(_), None) => {
                return Err(ConfigError::new(
                    d.line,
                    "a block with no site address (only the first block may be the global options)",
                ));
            }
            (Some(b), Some(w)) if w.starts_with('(') && w.ends_with(')') => {
                snippets.push((w.trim_matches(['(', ')']).to_string(), b.clone()));
            }
            (Some(b), Some(_)) => sites.push((d.words.join(" ").trim_end_matches(',').to_string(), b.clone())),
            (None, Some(_)) if sites.is_empty() => {
                // A single site without braces: this line is its address, the rest its body.
                let body: Vec<Dir> = rest.by_ref().map(|(_, d)| d).collect();
                sites.push((d.words.join(" "), body));
            }
            (None, _) => {
                return Err(ConfigError::new(
                    d.line,
                    "a directive outside any site block: put it inside `address { ... }`",
                ));
            }
        }
    }
    let mut found = Vec::new();
    for (name, body) in sites {
        let body = expand(body, &snippets, 0)?;
        find_proxies(&name, &body, &mut found);
    }
    // Several proxies in one site: name them `site#2`, `site#3`, ...
    let mut named: Vec<(String, Dir)> = Vec::new();
    for f in found {
        let same = named
            .iter()
            .filter(|(n, _)| n == &f.name || n.starts_with(&format!("{}#", f.name)))
            .count();
        let n = if same == 0 {
            f.name
        } else {
            format!("{}#{}", f.name, same + 1)
        };
        named.push((n, f.dir));
    }
    let (name, dir) = super::choose("reverse_proxy site", &named, wanted)?;
    let mut notes = Vec::new();
    let (dials, conf) = proxy_conf(dir, &mut notes)?;
    let ups: Vec<(String, u32)> = dials.into_iter().map(|d| (d, 0)).collect();
    imported(name, &ups, conf, notes, dir.line)
}

/// The balancer of one `reverse_proxy` handler: its upstreams (dial address and
/// `max_requests`, 0 = none) and settings; `line` is where errors about it point.
pub(crate) fn imported(
    name: &str,
    ups: &[(String, u32)],
    conf: CaddyConf,
    notes: Vec<Note>,
    line: usize,
) -> Result<Imported, ConfigError> {
    if ups.len() > crate::balancer::MAX_SERVERS {
        return Err(ConfigError::new(
            line,
            format!(
                "{} upstreams; sessim supports at most {}",
                ups.len(),
                crate::balancer::MAX_SERVERS
            ),
        ));
    }
    let check = conf.check();
    let mut servers: Vec<ServerConf> = ups
        .iter()
        .map(|(d, max)| {
            let mut s = ServerConf::new(d.clone(), d.clone());
            s.check = check;
            s.max_conns = *max;
            s
        })
        .collect();
    server_cookies(&mut servers, &conf);
    let failure = conf.failure(servers.len());
    Ok(Imported {
        name: name.to_string(),
        conf: BalancerConf {
            method: Method::new(conf),
            servers,
            cookie: None,
            failure,
        },
        notes,
    })
}

/// Whether a config file is a Caddyfile: named `Caddyfile*` / `*.caddyfile`, or with a
/// `reverse_proxy` directive.
pub fn looks_like_caddyfile(file_name: &str, text: &str) -> bool {
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    base.starts_with("Caddyfile")
        || base.ends_with(".caddyfile")
        || base.ends_with(".Caddyfile")
        || text.lines().any(|l| l.trim_start().starts_with("reverse_proxy"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::caddy::cookie_value;

    const FILE: &str = r#"{
	admin off
}

(proxy_common) {
	lb_retries 2
	fail_duration 30s
}

:8080 {
	# the app
	reverse_proxy /app/* 127.0.0.1:8081 http://127.0.0.1:8082 {
		to localhost:8083
		lb_policy cookie lb "s3 cret"
		import proxy_common
		max_fails 2
		health_uri /health
		header_up X-Real-IP {remote_host}
	}
}
"#;

    #[test]
    fn imports_upstreams_policy_snippets_and_health() {
        let imp = import(FILE, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(imp.name, ":8080");
        let addrs: Vec<&str> = imp.conf.servers.iter().map(|s| s.addr.as_str()).collect();
        assert_eq!(addrs, ["127.0.0.1:8081", "127.0.0.1:8082", "localhost:8083"]);
        let Some(c) = imp.conf.method.downcast_ref::<CaddyConf>() else {
            panic!("not caddy")
        };
        assert_eq!(
            c.policy,
            LbPolicy::Cookie {
                name: "lb".into(),
                secret: "s3 cret".into()
            }
        );
        assert_eq!((c.retries, c.max_fails), (2, 2));
        assert_eq!(c.fail_duration, SimTime::from_secs(30));
        assert_eq!(c.health_interval, Some(SimTime::from_secs(30)));
        assert_eq!(
            imp.conf.servers[0].cookie.as_deref(),
            Some(cookie_value("s3 cret", "127.0.0.1:8081").as_str())
        );
        assert!(imp.notes.iter().any(|n| n.message.contains("header_up")));
    }

    #[test]
    fn errors_name_the_line() {
        let bad = FILE.replace("lb_policy cookie lb \"s3 cret\"", "lb_policy weighted_round_robin 3 0");
        let e = import(&bad, None).unwrap_err();
        assert_eq!(e.line, 14, "{e}");
        assert!(e.message.contains("invalid weight `0`"), "{e}");
        let bad = FILE.replace("lb_policy cookie lb \"s3 cret\"", "lb_policy client_ip_hash x");
        let e = import(&bad, None).unwrap_err();
        assert_eq!(e.line, 14, "{e}");
        let e = import(&FILE.replace("max_fails 2", "max_requests 5"), None).unwrap_err();
        assert_eq!(e.line, 16, "{e}");
        assert!(e.message.contains("unhealthy_request_count"), "{e}");
        let e = import(&FILE.replace("max_fails 2", "unhealthy_status 5xx 99"), None).unwrap_err();
        assert_eq!(e.line, 16, "{e}");
        // 1m / 1ms + 1 = 60001 tries per request: more than sessim simulates; with
        // lb_retries 2 (FILE's snippet) there are only 3.
        let fast = ":80 {\n reverse_proxy a:1 {\n  lb_try_duration 1m\n  lb_try_interval 1ms\n }\n}\n";
        let e = import(fast, None).unwrap_err();
        assert!(e.message.contains("60001 tries") && e.line == 2, "{e}");
        assert!(import(&fast.replace("1ms", "1ms\n  lb_retries 2"), None).is_ok());
        let e = import(&FILE.replace("import proxy_common", "import other.caddy"), None).unwrap_err();
        assert!(e.message.contains("snippet"), "{e}");
        let e = import(":80 {\n reverse_proxy {\n", None).unwrap_err();
        assert!(e.message.contains("never closed"), "{e}");
    }

    #[test]
    fn single_site_without_braces_and_durations() {
        let imp = import(
            "localhost\nreverse_proxy a:1 b:2 {\n lb_policy ip_hash\n lb_try_duration 1m30s\n}\n",
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let Some(c) = imp.conf.method.downcast_ref::<CaddyConf>() else {
            panic!("not caddy")
        };
        assert_eq!(c.policy, LbPolicy::IpHash);
        assert_eq!(c.try_duration, SimTime::from_secs(90));
        // Caddy 2.7's two policies (checked against the source only).
        for (line, want) in [
            (
                "lb_policy weighted_round_robin 3 1",
                LbPolicy::WeightedRoundRobin(vec![3, 1]),
            ),
            ("lb_policy client_ip_hash", LbPolicy::ClientIpHash),
        ] {
            let imp = import(&format!("localhost\nreverse_proxy a:1 b:2 {{\n {line}\n}}\n"), None)
                .unwrap_or_else(|e| panic!("{e}"));
            let Some(c) = imp.conf.method.downcast_ref::<CaddyConf>() else {
                panic!("not caddy")
            };
            assert_eq!(c.policy, want, "{line}");
        }
        assert_eq!(c.try_interval, SimTime::from_millis(250));
        assert_eq!(parse_duration("1d"), Some(SimTime::from_secs(86400)));
        assert_eq!(parse_duration("10"), None);
    }

    fn caddy_conf(text: &str) -> (CaddyConf, Vec<Note>) {
        let imp = import(text, None).unwrap_or_else(|e| panic!("{e}"));
        let Some(c) = imp.conf.method.downcast_ref::<CaddyConf>().cloned() else {
            panic!("not caddy")
        };
        (c, imp.notes)
    }

    #[test]
    fn passive_health_keys_as_caddy_provisions_them() {
        // `caddy adapt` of this block gives unhealthy_status [5, 404], unhealthy_latency 2 s,
        // unhealthy_request_count 5, max_fails 2 (Caddy 2.6.2, checked by hand).
        let (c, _) = caddy_conf(
            ":80 {\n reverse_proxy a:1 b:2 {\n  fail_duration 10s\n  max_fails 2\n  unhealthy_status 5xx 404\n  \
             unhealthy_latency 2s\n  unhealthy_request_count 5\n  lb_retries 2\n  lb_try_interval 100ms\n }\n}\n",
        );
        assert!(c.passive);
        assert_eq!(c.unhealthy_status, [5, 404]);
        assert_eq!(c.unhealthy_latency, SimTime::from_secs(2));
        assert_eq!((c.unhealthy_request_count, c.max_fails), (5, 2));
        assert_eq!(c.try_interval, SimTime::from_millis(100));
        // fail_duration alone: Provision's max_fails 1.
        let (c, _) = caddy_conf(":80 {\n reverse_proxy a:1 {\n  fail_duration 10s\n }\n}\n");
        assert_eq!((c.passive, c.max_fails), (true, 1));
        // A passive key without fail_duration: max_fails stays 0, every upstream unhealthy.
        let (c, notes) = caddy_conf(":80 {\n reverse_proxy a:1 {\n  unhealthy_request_count 3\n }\n}\n");
        assert_eq!((c.passive, c.max_fails), (true, 0));
        assert!(notes.iter().any(|n| n.message.contains("503")), "{notes:?}");
        // No passive key: passive checks off.
        let (c, _) = caddy_conf(":80 {\n reverse_proxy a:1 {\n  lb_try_duration 5s\n  lb_try_interval 0\n }\n}\n");
        assert!(!c.passive);
        // An explicit 0 interval with lb_try_duration is Provision's 250 ms too.
        assert_eq!(c.try_interval, SimTime::from_millis(250));
    }

    #[test]
    fn no_panic_on_mangled_input() {
        for t in super::super::mangled(FILE) {
            let _ = import(&t, None);
        }
    }
}
