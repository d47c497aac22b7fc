//! Import of an nginx `upstream` from a whole `nginx.conf` or a lone `upstream` block.
//!
//! Reads: the `server` lines in order (`weight`, `max_fails`, `fail_timeout`,
//! `max_conns`, `down`, `backup`), the method (none = round-robin, `ip_hash`,
//! `hash KEY [consistent]`, `least_conn`, `random [two [least_conn]]`), and the
//! `proxy_next_upstream` / `_tries` / `_timeout` in force where a `proxy_pass` names the
//! upstream (inherited http -> server -> location, as nginx merges them). Commercial or
//! unmodelled directives that change decisions are errors naming their line; the rest
//! become notes. Syntax, and the place, shape and arity of directives, follow nginx's
//! `ngx_conf_parse` (src/core/ngx_conf_file.c), see `nginx_grammar.rs`;
//! [`import_file`] follows `include`s.

use super::{ConfigError, Imported, Note, choose};
use crate::balancer::registry::{self, Family, MethodParams};
use crate::balancer::round_robin::RoundRobinConf;
use crate::balancer::{
    BalancerConf, FailurePolicy, HashKey, Method, NEXT_UPSTREAM_STATUSES, NextUpstream, ServerConf, SimTime,
};

use super::nginx_grammar::{Directive, LINE_STRIDE, check, parse_main, shown};
use std::path::Path;

/// Parse an nginx time. `sec_default`: no unit means seconds (`ngx_parse_time(.., 1)`,
/// where `ms` is not allowed); otherwise milliseconds (`ngx_conf_set_msec_slot`).
fn parse_time(s: &str, sec_default: bool) -> Option<SimTime> {
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000 * MS;
    let mut total: u64 = 0;
    let b = s.as_bytes();
    let mut i = 0;
    if b.is_empty() {
        return None;
    }
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
        let n: u64 = s[start..i].parse().ok()?;
        let unit = if i < b.len() && b[i] == b'm' && i + 1 < b.len() && b[i + 1] == b's' {
            i += 2;
            if sec_default {
                return None;
            }
            MS
        } else if i < b.len() {
            let u = match b[i] {
                b's' => S,
                b'm' => 60 * S,
                b'h' => 3600 * S,
                b'd' => 86_400 * S,
                b'w' => 7 * 86_400 * S,
                b'M' => 30 * 86_400 * S,
                b'y' => 365 * 86_400 * S,
                _ => return None,
            };
            i += 1;
            u
        } else if sec_default {
            S
        } else {
            MS
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(SimTime(total))
}

fn parse_u32(v: &str, line: usize, what: &str) -> Result<u32, ConfigError> {
    v.parse::<u32>()
        .map_err(|_| ConfigError::new(line, format!("invalid {what} \"{v}\": expected a number")))
}

/// Collect `upstream` blocks anywhere in the tree.
fn upstreams<'a>(ds: &'a [Directive], out: &mut Vec<(String, &'a Directive)>) {
    for d in ds {
        if d.name() == "upstream" && d.block.is_some() {
            out.push((d.args.get(1).cloned().unwrap_or_default(), d));
        } else if let Some(b) = &d.block {
            upstreams(b, out);
        }
    }
}

/// The `proxy_next_upstream*` settings a level sets, if any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct NextSettings {
    next: Option<(NextUpstream, usize)>,
    tries: Option<u32>,
    timeout: Option<SimTime>,
}

fn level_settings(ds: &[Directive], base: NextSettings) -> Result<NextSettings, ConfigError> {
    let mut s = base;
    for d in ds {
        match d.name() {
            "proxy_next_upstream" => {
                let mut n = NextUpstream {
                    error: false,
                    timeout: false,
                    http: 0,
                    non_idempotent: false,
                    tries: 0,
                    timeout_limit: SimTime::ZERO,
                };
                for a in &d.args[1..] {
                    match a.as_str() {
                        "error" => n.error = true,
                        "timeout" => n.timeout = true,
                        "off" => {}
                        "non_idempotent" => n.non_idempotent = true,
                        "invalid_header" | "updating" => {}
                        other => {
                            let code = other.strip_prefix("http_").and_then(|c| c.parse().ok());
                            match code.and_then(|c: u16| NEXT_UPSTREAM_STATUSES.iter().position(|&s| s == c)) {
                                Some(bit) => n.http |= 1 << bit,
                                None => {
                                    return Err(ConfigError::new(
                                        d.line,
                                        format!("invalid value \"{other}\" in proxy_next_upstream"),
                                    ));
                                }
                            }
                        }
                    }
                }
                s.next = Some((n, d.line));
            }
            "proxy_next_upstream_tries" => {
                let v = d.args.get(1).map_or("", String::as_str);
                s.tries = Some(parse_u32(v, d.line, "proxy_next_upstream_tries")?);
            }
            "proxy_next_upstream_timeout" => {
                let v = d.args.get(1).map_or("", String::as_str);
                s.timeout = Some(
                    parse_time(v, false).ok_or_else(|| ConfigError::new(d.line, format!("invalid time \"{v}\"")))?,
                );
            }
            _ => {}
        }
    }
    Ok(s)
}

/// Whether `proxy_pass` target `url` names upstream `name`.
fn names_upstream(url: &str, name: &str) -> bool {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '$', '?']).next().unwrap_or("");
    host == name
}

/// Walk http/server/location levels; record the settings where `proxy_pass` names
/// the upstream.
fn find_next_upstream(
    ds: &[Directive],
    inherited: NextSettings,
    name: &str,
    found: &mut Vec<(usize, NextSettings)>,
) -> Result<(), ConfigError> {
    let here = level_settings(ds, inherited)?;
    for d in ds {
        if d.name() == "proxy_pass" && d.args.get(1).is_some_and(|u| names_upstream(u, name)) {
            found.push((d.line, here));
        }
        if let Some(b) = &d.block
            && d.name() != "upstream"
        {
            find_next_upstream(b, here, name, found)?;
        }
    }
    Ok(())
}

fn hash_key(v: &str, line: usize) -> Result<HashKey, ConfigError> {
    match v {
        "$remote_addr" => Ok(HashKey::RemoteAddr),
        "$request_uri" => Ok(HashKey::RequestUri),
        _ => match v.strip_prefix("$cookie_") {
            Some(name)
                if !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                Ok(HashKey::Cookie(name.to_string()))
            }
            _ => Err(ConfigError::new(
                line,
                format!("hash key \"{v}\" is not modelled: sessim models $remote_addr, $request_uri and $cookie_NAME"),
            )),
        },
    }
}

/// Whether the file is a lone block meant to be included in `http` (an `upstream`
/// block, maybe with `server` blocks), not a whole `nginx.conf`.
fn is_lone(tree: &[Directive]) -> bool {
    !tree.iter().any(|d| matches!(d.name(), "http" | "events"))
}

/// Import an upstream from a config's text. `wanted` names it when the file has several.
/// `include`s are not followed (there is no file to resolve them against): they give a
/// note. [`import_file`] follows them.
pub fn import(text: &str, wanted: Option<&str>) -> Result<Imported, ConfigError> {
    let tree = parse_main(text)?;
    check(&tree, is_lone(&tree))?;
    import_tree(&tree, wanted)
}

/// Import an upstream from a config file, following `include`s as nginx does
/// (`ngx_conf_include`, src/core/ngx_conf_file.c): a relative path is taken from the
/// directory of the file given (nginx's conf prefix with `-c`), also in nested includes;
/// a name with `*` or `?` in its last part is a glob, its matches read in name order, and
/// no match is not an error; a plain name that cannot be opened is an error. Errors and
/// notes in an included file name that file.
pub fn import_file(path: &Path, wanted: Option<&str>) -> Result<Imported, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(0, format!("cannot read {}: {e}", path.display())))?;
    let mut files = vec![path.to_path_buf()];
    let prefix = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let result = parse_main(&text).and_then(|mut tree| {
        super::nginx_include::expand(&mut tree, &prefix, &mut files, 0)?;
        check(&tree, is_lone(&tree))?;
        import_tree(&tree, wanted)
    });
    let locate = |line: usize| {
        let k = line / LINE_STRIDE;
        (files.get(k).filter(|_| k > 0).cloned(), shown(line))
    };
    match result {
        Ok(mut imp) => {
            for n in &mut imp.notes {
                if n.file.is_none() {
                    (n.file, n.line) = locate(n.line);
                }
            }
            Ok(imp)
        }
        Err(mut e) => {
            if e.file.is_none() {
                (e.file, e.line) = locate(e.line);
            }
            Err(e)
        }
    }
}

fn import_tree(tree: &[Directive], wanted: Option<&str>) -> Result<Imported, ConfigError> {
    if !is_lone(tree) && !tree.iter().any(|d| d.name() == "events") {
        return Err(ConfigError::new(
            0,
            "no \"events\" section in configuration: nginx needs `events { }` in a whole nginx.conf",
        ));
    }
    let mut found = Vec::new();
    upstreams(tree, &mut found);
    for (i, (n, d)) in found.iter().enumerate() {
        if let Some((_, first)) = found[..i].iter().find(|(m, _)| m.eq_ignore_ascii_case(n)) {
            return Err(ConfigError::new(
                d.line,
                format!(
                    "duplicate upstream \"{n}\" (first at line {}): rename one",
                    shown(first.line)
                ),
            ));
        }
    }
    let (name, up) = choose("upstream", &found, wanted)?;
    let up: &Directive = up;
    let mut notes = Vec::new();
    let mut method = Method::new(RoundRobinConf);
    let mut method_line: Option<usize> = None;
    let mut servers: Vec<(ServerConf, usize)> = Vec::new();
    let body = up.block.as_deref().unwrap_or(&[]);
    for d in body {
        let args = &d.args[1..];
        let set_method = |m: Method, notes: &mut Vec<Note>, prev: &mut Option<usize>| {
            if let Some(p) = prev {
                notes.push(Note {
                    file: None,
                    line: d.line,
                    message: format!(
                        "load balancing method redefined (line {}); nginx uses the last one",
                        shown(*p)
                    ),
                });
            }
            *prev = Some(d.line);
            m
        };
        match d.name() {
            "server" => servers.push((server(d)?, d.line)),
            "ip_hash" | "least_conn" => {
                let m = registered(d.name(), HashKey::RemoteAddr, d.line)?;
                method = set_method(m, &mut notes, &mut method_line);
            }
            "hash" => {
                let key = hash_key(args.first().map_or("", String::as_str), d.line)?;
                let consistent = match args.get(1).map(String::as_str) {
                    None => false,
                    Some("consistent") => true,
                    Some(other) => {
                        return Err(ConfigError::new(
                            d.line,
                            format!("invalid parameter \"{other}\" of hash"),
                        ));
                    }
                };
                let m = registered(if consistent { "hash consistent" } else { "hash" }, key, d.line)?;
                method = set_method(m, &mut notes, &mut method_line);
            }
            "random" => {
                let two = match (args.first().map(String::as_str), args.get(1).map(String::as_str)) {
                    (None, None) => false,
                    (Some("two"), None | Some("least_conn")) => true,
                    (Some("two"), Some(other)) | (Some(other), _) => {
                        return Err(ConfigError::new(
                            d.line,
                            format!(
                                "invalid parameter \"{other}\" of random (nginx open source knows `random [two [least_conn]]`)"
                            ),
                        ));
                    }
                    (None, Some(_)) => false,
                };
                let m = registered(if two { "random two" } else { "random" }, HashKey::RemoteAddr, d.line)?;
                method = set_method(m, &mut notes, &mut method_line);
            }
            "keepalive" | "keepalive_requests" | "keepalive_time" | "keepalive_timeout"
            | "zone" | "resolver" | "resolver_timeout" => notes.push(Note {
                file: None,
                line: d.line,
                message: format!(
                    "`{}` does not change which server is chosen; ignored{}",
                    d.name(),
                    if d.name() == "zone" {
                        " (with a zone the workers share one state; sessim models one state, as with worker_processes 1)"
                    } else {
                        ""
                    }
                ),
            }),
            "sticky" | "least_time" | "queue" | "ntlm" | "state" => {
                return Err(ConfigError::new(
                    d.line,
                    format!(
                        "`{}` (NGINX Plus) changes balancing and is not modelled; remove it or use ip_hash/hash",
                        d.name()
                    ),
                ));
            }
            other => {
                return Err(ConfigError::new(
                    d.line,
                    format!("unknown directive \"{other}\" in upstream `{name}`"),
                ));
            }
        }
    }
    if servers.is_empty() {
        // nginx checks this once the block is read, and reports the line of its `}`.
        return Err(ConfigError::new(
            up.end,
            format!(
                "no servers are inside upstream `{name}` (opened on line {}): add a server line",
                shown(up.line)
            ),
        ));
    }
    let allows_backup = method.info().backup;
    for (s, line) in &servers {
        if s.backup && !allows_backup {
            return Err(ConfigError::new(
                *line,
                "invalid parameter \"backup\": this load balancing method does not support backup servers",
            ));
        }
    }
    if servers.iter().all(|(s, _)| s.backup) {
        return Err(ConfigError::new(
            up.line,
            format!("no servers in upstream `{name}` (only backup servers)"),
        ));
    }
    if servers.len() > crate::balancer::MAX_SERVERS {
        return Err(ConfigError::new(
            up.line,
            format!(
                "upstream `{name}` has {} servers; sessim supports at most {}",
                servers.len(),
                crate::balancer::MAX_SERVERS
            ),
        ));
    }
    // proxy_next_upstream where this upstream is used.
    let mut uses = Vec::new();
    find_next_upstream(tree, NextSettings::default(), name, &mut uses)?;
    let mut next = NextUpstream::default();
    match uses.first() {
        None => notes.push(Note {
            file: None,
            line: up.line,
            message: format!(
                "no proxy_pass to `{name}` found: using nginx's default proxy_next_upstream error timeout"
            ),
        }),
        Some((_, s)) => {
            if let Some((n, _)) = s.next {
                next = n;
            }
            next.tries = s.tries.unwrap_or(0);
            next.timeout_limit = s.timeout.unwrap_or(SimTime::ZERO);
            if uses.iter().any(|(_, o)| o != s) {
                notes.push(Note {
                    file: None,
                    line: uses.get(1).map_or(0, |u| u.0),
                    message: "locations proxying to this upstream differ in proxy_next_upstream; using the first one's"
                        .into(),
                });
            }
        }
    }
    for d in tree {
        worker_note(d, &mut notes);
    }
    Ok(Imported {
        name: name.clone(),
        conf: BalancerConf {
            method,
            servers: servers.into_iter().map(|(s, _)| s).collect(),
            cookie: None,
            failure: FailurePolicy::Nginx(next),
        },
        notes,
    })
}

fn worker_note(d: &Directive, notes: &mut Vec<Note>) {
    match d.name() {
        "worker_processes" if d.args.get(1).is_some_and(|v| v != "1") => notes.push(Note {
            file: None,
            line: d.line,
            message: format!(
                "worker_processes {}: without a zone each worker keeps its own round-robin and failure state; sessim models one worker",
                d.args.get(1).map_or("", String::as_str)
            ),
        }),
        "include" => notes.push(Note {
            file: None,
            line: d.line,
            message: format!(
                "include {} is not followed: upstreams or proxy_next_upstream in it are not seen",
                d.args.get(1).map_or("", String::as_str)
            ),
        }),
        _ => {}
    }
    if let Some(b) = &d.block {
        for x in b {
            worker_note(x, notes);
        }
    }
}

/// The algorithm an upstream directive selects, as the registry describes it
/// ([`registry::by_directive`]); `directive` is the directive with the arguments that choose
/// between policies (`hash consistent`, `random two`).
fn registered(directive: &str, key: HashKey, line: usize) -> Result<Method, ConfigError> {
    match registry::by_directive(Family::Nginx, directive) {
        Some(p) => Ok((p.method)(&MethodParams {
            key,
            ..MethodParams::default()
        })),
        None => Err(ConfigError::new(line, format!("`{directive}` is not modelled"))),
    }
}

fn server(d: &Directive) -> Result<ServerConf, ConfigError> {
    let Some(addr) = d.args.get(1) else {
        return Err(ConfigError::new(d.line, "`server` needs an address"));
    };
    let mut s = ServerConf::new(addr.clone(), addr.clone());
    for a in &d.args[2..] {
        let (k, v) = match a.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (a.as_str(), None),
        };
        match (k, v) {
            ("weight", Some(v)) => {
                s.weight = parse_u32(v, d.line, "weight")?;
                if s.weight == 0 {
                    return Err(ConfigError::new(d.line, "invalid parameter \"weight=0\""));
                }
                if s.weight > crate::balancer::MAX_NGINX_WEIGHT {
                    return Err(ConfigError::new(
                        d.line,
                        format!(
                            "weight={} is above sessim's limit of {}",
                            s.weight,
                            crate::balancer::MAX_NGINX_WEIGHT
                        ),
                    ));
                }
            }
            ("max_fails", Some(v)) => s.max_fails = parse_u32(v, d.line, "max_fails")?,
            ("max_conns", Some(v)) => s.max_conns = parse_u32(v, d.line, "max_conns")?,
            ("fail_timeout", Some(v)) => {
                s.fail_timeout = parse_time(v, true).ok_or_else(|| {
                    ConfigError::new(
                        d.line,
                        format!("invalid fail_timeout \"{v}\" (nginx takes whole seconds: 10s, 1m)"),
                    )
                })?;
            }
            ("down", None) => s.down = true,
            ("backup", None) => s.backup = true,
            ("slow_start" | "route" | "service" | "drain" | "resolve", _) => {
                return Err(ConfigError::new(
                    d.line,
                    format!("server parameter \"{k}\" (NGINX Plus) is not modelled"),
                ));
            }
            _ => {
                return Err(ConfigError::new(
                    d.line,
                    format!("invalid parameter \"{a}\" of server {addr}"),
                ));
            }
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::hash::HashConf;
    use crate::balancer::ip_hash::IpHashConf;
    use crate::balancer::random::RandomConf;

    const FULL: &str = r#"
user www-data;
worker_processes 1;
events { worker_connections 64; }
http {
    proxy_next_upstream error timeout http_502;
    upstream app {
        ip_hash;
        server 127.0.0.1:18081 weight=3;
        server 127.0.0.1:18082 max_fails=2 fail_timeout=30s;
        server 127.0.0.1:18083 down;
        server 127.0.0.1:18084 max_conns=10; # comment
        keepalive 8;
    }
    upstream other { server 10.0.0.1:80; }
    server {
        listen 127.0.0.1:18080;
        location / { proxy_pass http://app; proxy_next_upstream_tries 2; }
    }
}
"#;

    #[test]
    fn whole_file_with_name() {
        let imp = import(FULL, Some("app")).expect("imports");
        assert_eq!(imp.conf.method, Method::new(IpHashConf));
        let s = &imp.conf.servers;
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].weight, 3);
        assert_eq!((s[1].max_fails, s[1].fail_timeout), (2, SimTime::from_secs(30)));
        assert!(s[2].down);
        assert_eq!(s[3].max_conns, 10);
        let FailurePolicy::Nginx(n) = imp.conf.failure else {
            panic!("nginx failure policy expected")
        };
        assert_eq!((n.error, n.timeout, n.http, n.tries), (true, true, 0b10, 2));
        assert!(imp.notes.iter().any(|n| n.message.contains("keepalive")));
    }

    #[test]
    fn several_upstreams_need_a_name() {
        let e = import(FULL, None).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("line 0: the file has 2 upstreams (app, other); name the one to use")
        );
        let e = import(FULL, Some("nope")).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("line 0: no upstream named `nope`; the file has: app, other")
        );
    }

    #[test]
    fn lone_block_and_methods() {
        let imp = import(
            "upstream u {\n hash $remote_addr consistent;\n server 127.0.0.1:1;\n server 127.0.0.1:2;\n}\n",
            None,
        )
        .expect("imports");
        assert_eq!(
            imp.conf.method,
            Method::new(HashConf {
                key: HashKey::RemoteAddr,
                consistent: true
            })
        );
        let imp = import("upstream u { random two least_conn; server a:1; server b:1; }", None).expect("imports");
        assert_eq!(imp.conf.method, Method::new(RandomConf { two: true }));
        let imp = import("upstream u { hash $cookie_PHPSESSID; server a:1; server b:1; }", None).expect("imports");
        assert!(
            matches!(imp.conf.method.downcast_ref::<HashConf>(), Some(HashConf { key: HashKey::Cookie(c), consistent: false }) if c == "PHPSESSID")
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = import("upstream u {\n server a:1;\n sticky cookie srv;\n}", None).err();
        assert_eq!(e.map(|e| e.line), Some(3));
        let e = import("upstream u {\n ip_hash;\n server a:1 backup;\n server b:1;\n}", None).err();
        assert_eq!(e.map(|e| e.line), Some(3));
        let e = import("upstream u {\n server a:1 weight=x;\n}", None).err();
        assert_eq!(e.map(|e| e.line), Some(2));
        let e = import("upstream u {\n server a:1\n}", None).err();
        assert_eq!(e.map(|e| e.line), Some(3));
        // An unclosed block: nginx reports the end of the file (line 3, after the last
        // newline); the message names the block's line.
        let e = import("upstream u {\n server a:1;\n", None).err();
        assert_eq!(e.as_ref().map(|e| e.line), Some(3));
        assert!(e.is_some_and(|e| e.message.contains("opened on line 1")));
        // The bug of issue 13: a missing `;` after ip_hash used to swallow the next server.
        let e = import("upstream u {\n ip_hash\n server a:1;\n server b:1;\n}", None).err();
        assert!(e.is_some_and(|e| e.line == 3 && e.message.contains("\"ip_hash\"")));
        let e = import("upstream u {\n hash $host;\n server a:1;\n}", None).err();
        assert_eq!(e.map(|e| e.line), Some(2));
        assert!(import("", None).is_err());
        assert!(import("}}}{{;;\"", None).is_err());
    }

    #[test]
    fn includes_are_followed_relative_to_the_main_file() {
        // nginx takes a relative include from the main file's folder (its conf prefix with
        // -c), in nested includes too; a glob may match nothing; a plain missing file is an
        // error; an error inside an included file names that file and its own line.
        let d = tempfile::tempdir().expect("tempdir");
        let w = |name: &str, text: &str| std::fs::write(d.path().join(name), text).expect("write");
        std::fs::create_dir(d.path().join("inc")).expect("mkdir");
        w(
            "main.conf",
            "events {}\nhttp {\n include inc/up.conf;\n include inc/none-*.conf;\n}\n",
        );
        w("inc/up.conf", "upstream app {\n include inc/s-*.conf;\n}\n");
        w("inc/s-2.conf", "server 127.0.0.1:2;\n");
        w("inc/s-1.conf", "server 127.0.0.1:1 weight=4;\n");
        let imp = import_file(&d.path().join("main.conf"), None).expect("imports");
        // Glob matches in name order: s-1 then s-2.
        let addrs: Vec<(&str, u32)> = imp.conf.servers.iter().map(|s| (s.addr.as_str(), s.weight)).collect();
        assert_eq!(addrs, vec![("127.0.0.1:1", 4), ("127.0.0.1:2", 1)]);
        w("inc/s-2.conf", "# second\nserver 127.0.0.1:2 wieght=1;\n");
        let e = import_file(&d.path().join("main.conf"), None).expect_err("error");
        assert_eq!((e.file, e.line), (Some(d.path().join("inc/s-2.conf")), 2));
        w("main.conf", "events {}\nhttp {\n include inc/missing.conf;\n}\n");
        let e = import_file(&d.path().join("main.conf"), None).expect_err("error");
        assert_eq!((e.file, e.line), (None, 3));
        assert!(e.message.contains("missing.conf"));
        // Text-only import cannot follow includes: a note says so.
        let imp = import("upstream u { server a:1; }\ninclude x.conf;\n", None).expect("imports");
        assert!(imp.notes.iter().any(|n| n.message.contains("not followed")));
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("10s", true), Some(SimTime::from_secs(10)));
        assert_eq!(parse_time("10", true), Some(SimTime::from_secs(10)));
        assert_eq!(parse_time("1m30s", true), Some(SimTime::from_secs(90)));
        assert_eq!(parse_time("500ms", true), None);
        assert_eq!(parse_time("500ms", false), Some(SimTime::from_millis(500)));
        assert_eq!(parse_time("500", false), Some(SimTime::from_millis(500)));
        assert_eq!(parse_time("99999999999999999999d", true), None);
    }

    #[test]
    fn never_panics_on_garbage() {
        let samples = [
            "upstream",
            "upstream {",
            "upstream x { server; }",
            "upstream x { server a weight= ; }",
            "upstream x { random two foo; server a; }",
            "\"",
            "upstream x { server a fail_timeout=; }",
            "http { upstream a { server b; } upstream a { server c; } }",
        ];
        for s in samples {
            let _ = import(s, None);
            let _ = import(s, Some("x"));
        }
    }

    #[test]
    fn no_panic_on_truncated_or_mangled_files() {
        // Every prefix, and the file with each character removed or doubled, must give
        // a result or an error, never a panic; the resulting policies must build or
        // refuse cleanly.
        for candidate in crate::balancer::config::mangled(FULL) {
            for name in [None, Some("app")] {
                if let Ok(imp) = import(&candidate, name) {
                    let _ = crate::balancer::build(&imp.conf);
                }
            }
        }
    }
}
