//! Import of an HAProxy `backend` or `listen` section from a whole `haproxy.cfg` or a
//! lone section.
//!
//! Reads `balance` (roundrobin, leastconn, source), `hash-type` (map-based or
//! consistent, and the `avalanche` modifier), `cookie NAME insert [indirect]
//! [nocache]`, `option redispatch [interval]`, `retries`, `timeout connect`,
//! `default-server` and `server` lines (`weight`, `check`, `inter`, `fastinter`,
//! `downinter`, `fall`, `rise`, `backup`, `cookie`, `disabled`, `maxconn`), with the
//! values of the last unnamed `defaults` section before it, as HAProxy inherits them.
//! Syntax follows HAProxy's line parser (src/cfgparse.c `readcfgfile`): one statement
//! per line, `#` comments, `"..."` with `\` escapes, `'...'` verbatim. Every section is
//! checked as `haproxy -c` checks it (`validate`): unknown keywords and options, nameless
//! or same-named proxies and same-named servers are errors naming the line.

mod keywords;
mod server;

use super::{ConfigError, Imported, Note, choose};
use crate::balancer::registry::{self, Family, MethodParams, PolicyInfo};
use crate::balancer::{BalancerConf, CookieConf, FailurePolicy, HaproxyRetries, ServerConf, SimTime};
pub(crate) use keywords::SECTIONS;
use keywords::{GLOBAL_KEYWORDS, OPTIONS, PROXY_KEYWORDS};
use server::{SrvBuild, server_params};

/// One config line split into words.
#[derive(Clone, Debug)]
struct Line {
    no: usize,
    words: Vec<String>,
}

fn split(text: &str) -> Result<Vec<Line>, ConfigError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let no = i + 1;
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        let mut chars = raw.chars();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, '#') => break,
                (None, c) if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                }
                (None, '"' | '\'') => {
                    quote = Some(c);
                    in_word = true;
                }
                (Some(q), c) if c == q => quote = None,
                (Some('\''), c) => cur.push(c),
                (_, '\\') => {
                    in_word = true;
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                (_, c) => {
                    in_word = true;
                    cur.push(c);
                }
            }
        }
        if quote.is_some() {
            return Err(ConfigError::new(no, "unterminated quoted string"));
        }
        if in_word {
            words.push(cur);
        }
        if !words.is_empty() {
            out.push(Line { no, words });
        }
    }
    Ok(out)
}

/// HAProxy time: default unit ms; `us`, `ms`, `s`, `m`, `h`, `d`.
fn parse_time(s: &str) -> Option<SimTime> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000 * MS;
    let unit: u64 = match &s[digits..] {
        "" | "ms" => MS,
        "us" => 1000,
        "s" => S,
        "m" => 60 * S,
        "h" => 3600 * S,
        "d" => 86_400 * S,
        _ => return None,
    };
    n.checked_mul(unit).map(SimTime)
}

fn num(words: &[String], i: usize, line: usize, what: &str) -> Result<u32, ConfigError> {
    let v = words.get(i).map_or("", String::as_str);
    v.parse::<u32>()
        .map_err(|_| ConfigError::new(line, format!("'{what}' expects an integer argument, got \"{v}\"")))
}

fn time(words: &[String], i: usize, line: usize, what: &str) -> Result<SimTime, ConfigError> {
    let v = words.get(i).map_or("", String::as_str);
    parse_time(v)
        .ok_or_else(|| ConfigError::new(line, format!("'{what}' expects a time (2000, 2s, 500ms), got \"{v}\"")))
}

/// Settings a `defaults` section passes on, and a backend accumulates.
#[derive(Clone, Debug, Default)]
struct Settings {
    balance: Option<(&'static PolicyInfo, usize)>,
    consistent: bool,
    avalanche: bool,
    cookie: Option<CookieConf>,
    redispatch: Option<i32>,
    retries: Option<u32>,
    connect_timeout: Option<SimTime>,
    /// `default-server` parameters (words after the keyword), with their line.
    default_server: Vec<(Vec<String>, usize)>,
}

/// Apply one statement of a defaults/backend/listen section.
fn apply(s: &mut Settings, l: &Line, notes: &mut Vec<Note>) -> Result<(), ConfigError> {
    let w = &l.words;
    let kw = w[0].as_str();
    let note = |notes: &mut Vec<Note>, m: String| {
        notes.push(Note {
            file: None,
            line: l.no,
            message: m,
        })
    };
    match kw {
        "balance" => {
            let algo = w.get(1).map_or("", String::as_str);
            let m = match algo {
                // `balance` alone changes nothing: cfg_parse_listen only parses it when it
                // has an argument (src/cfgparse-listen.c), and `haproxy -c` accepts it.
                "" => {
                    note(
                        notes,
                        "`balance` without an algorithm changes nothing (HAProxy ignores it)".into(),
                    );
                    return Ok(());
                }
                other => match registry::by_directive(Family::Haproxy, other) {
                    Some(p) => p,
                    None => {
                        return Err(ConfigError::new(
                            l.no,
                            format!(
                                "balance {other} is not modelled; sessim supports {}",
                                super::and_list(&registry::directives(Family::Haproxy))
                            ),
                        ));
                    }
                },
            };
            s.balance = Some((m, l.no));
        }
        "hash-type" => {
            match w.get(1).map(String::as_str) {
                Some("map-based") => s.consistent = false,
                Some("consistent") => s.consistent = true,
                other => {
                    return Err(ConfigError::new(
                        l.no,
                        format!(
                            "hash-type {} is not modelled (map-based or consistent)",
                            other.unwrap_or("")
                        ),
                    ));
                }
            }
            // `hash-type <method> [<function> [<modifier>]]`: the function (unused by
            // `balance source`, which hashes the address itself) must come first.
            s.avalanche = false;
            match w.get(2).map(String::as_str) {
                None | Some("sdbm" | "djb2" | "wt6" | "crc32" | "none") => {}
                Some(other) => {
                    return Err(ConfigError::new(
                        l.no,
                        format!(
                            "'hash-type' only supports the hash functions sdbm, djb2, crc32, wt6 (got \"{other}\"; write e.g. `hash-type consistent sdbm avalanche`)"
                        ),
                    ));
                }
            }
            match w.get(3).map(String::as_str) {
                None => {}
                Some("avalanche") => s.avalanche = true,
                Some(other) => {
                    return Err(ConfigError::new(
                        l.no,
                        format!("unknown hash-type modifier \"{other}\""),
                    ));
                }
            }
        }
        "cookie" => {
            let Some(name) = w.get(1) else {
                return Err(ConfigError::new(l.no, "'cookie' needs a cookie name"));
            };
            let mut c = CookieConf {
                name: name.clone(),
                indirect: false,
                nocache: false,
            };
            let mut insert = false;
            let mut i = 2;
            while i < w.len() {
                match w[i].as_str() {
                    "insert" => insert = true,
                    "indirect" => c.indirect = true,
                    "nocache" => c.nocache = true,
                    "httponly" | "secure" | "preserve" => {}
                    "domain" | "attr" => i += 1,
                    other @ ("rewrite" | "prefix" | "postonly" | "maxidle" | "maxlife" | "dynamic") => {
                        return Err(ConfigError::new(
                            l.no,
                            format!("cookie option \"{other}\" changes persistence and is not modelled"),
                        ));
                    }
                    other => {
                        return Err(ConfigError::new(l.no, format!("unknown cookie option \"{other}\"")));
                    }
                }
                i += 1;
            }
            if !insert {
                return Err(ConfigError::new(
                    l.no,
                    "only `cookie NAME insert ...` persistence is modelled",
                ));
            }
            s.cookie = Some(c);
        }
        "retries" => s.retries = Some(num(w, 1, l.no, "retries")?),
        "option" | "no" => {
            let (negated, opt) = if kw == "no" {
                (true, w.get(2).map(String::as_str))
            } else {
                (false, w.get(1).map(String::as_str))
            };
            if kw == "no" && w.get(1).map(String::as_str) != Some("option") {
                return Err(ConfigError::new(
                    l.no,
                    format!("unknown keyword 'no {}'", w.get(1).map_or("", String::as_str)),
                ));
            }
            match opt {
                Some("redispatch") => {
                    s.redispatch = if negated {
                        None
                    } else {
                        let iv = match w.get(2) {
                            None => -1,
                            Some(v) => v
                                .parse::<i32>()
                                .map_err(|_| ConfigError::new(l.no, format!("invalid redispatch interval \"{v}\"")))?,
                        };
                        Some(iv)
                    };
                }
                Some(o @ ("persist" | "allbackups")) => {
                    return Err(ConfigError::new(
                        l.no,
                        format!("option {o} changes server selection and is not modelled"),
                    ));
                }
                Some(o) if !OPTIONS.contains(&o) => {
                    return Err(ConfigError::new(
                        l.no,
                        format!("unknown option '{o}' (HAProxy 2.6 refuses it): check the spelling"),
                    ));
                }
                Some(o) => note(
                    notes,
                    format!("option {o} does not change which server is chosen; ignored"),
                ),
                None => return Err(ConfigError::new(l.no, "'option' needs a name")),
            }
        }
        "timeout" => {
            let which = w.get(1).map_or("", String::as_str);
            let v = time(w, 2, l.no, "timeout")?;
            if which == "connect" {
                s.connect_timeout = Some(v);
            } else {
                note(
                    notes,
                    format!("timeout {which} is not used by the balancer model; ignored"),
                );
            }
        }
        "default-server" => s.default_server.push((w[1..].to_vec(), l.no)),
        "stick-table"
        | "stick"
        | "hash-balance-factor"
        | "use-server"
        | "force-persist"
        | "ignore-persist"
        | "persist"
        | "dispatch" => {
            return Err(ConfigError::new(
                l.no,
                format!("`{kw}` changes server selection and is not modelled"),
            ));
        }
        _ => note(notes, format!("`{kw}` does not change which server is chosen; ignored")),
    }
    Ok(())
}

/// What `haproxy -c` refuses in any section, whether or not it is the one imported
/// (src/cfgparse.c `readcfgfile` hands each line to its section's parser): an unknown
/// keyword or `option`, a proxy without a name or with the name of another proxy of the
/// same side, two servers of one proxy with one name. Sections other than `global` and
/// the proxies (`resolvers`, `peers`, ...) are not read.
fn validate(sections: &[(&str, &str, usize, &[Line])]) -> Result<(), ConfigError> {
    let is_proxy = |k: &str| matches!(k, "defaults" | "frontend" | "backend" | "listen");
    for (i, &(kind, name, line, body)) in sections.iter().enumerate() {
        if is_proxy(kind) && kind != "defaults" {
            if name.is_empty() {
                return Err(ConfigError::new(
                    line,
                    format!("'{kind}' expects <name> as an argument"),
                ));
            }
            let back = |k: &str| matches!(k, "backend" | "listen");
            let front = |k: &str| matches!(k, "frontend" | "listen");
            if let Some(&(ok, _, ol, _)) = sections[..i]
                .iter()
                .find(|(k, n, _, _)| *n == name && ((back(k) && back(kind)) || (front(k) && front(kind))))
            {
                return Err(ConfigError::new(
                    line,
                    format!("{kind} '{name}' has the same name as {ok} '{name}' declared at line {ol}: rename one"),
                ));
            }
        }
        let known: &[&str] = match kind {
            "global" => GLOBAL_KEYWORDS,
            k if is_proxy(k) => PROXY_KEYWORDS,
            _ => continue,
        };
        let mut servers: Vec<(&str, usize)> = Vec::new();
        for l in body {
            let kw = l.words[0].as_str();
            if !known.contains(&kw) {
                return Err(ConfigError::new(
                    l.no,
                    format!(
                        "unknown keyword '{kw}' in '{kind}' section (HAProxy 2.6 refuses it): check the spelling or the section"
                    ),
                ));
            }
            let opt = match (kw, l.words.get(1).map(String::as_str)) {
                ("option", o) => o,
                ("no", Some("option")) => l.words.get(2).map(String::as_str),
                ("no", other) => {
                    return Err(ConfigError::new(
                        l.no,
                        format!("'no' must be followed by 'option', not '{}'", other.unwrap_or("")),
                    ));
                }
                _ => None,
            };
            if let Some(o) = opt
                && !OPTIONS.contains(&o)
            {
                return Err(ConfigError::new(
                    l.no,
                    format!("unknown option '{o}' (HAProxy 2.6 refuses it): check the spelling"),
                ));
            }
            if kw == "server"
                && is_proxy(kind)
                && let Some(sname) = l.words.get(1)
            {
                if let Some((_, first)) = servers.iter().find(|(n, _)| n == sname) {
                    return Err(ConfigError::new(
                        l.no,
                        format!(
                            "{kind} '{name}', another server named '{sname}' was already defined at line {first}: use distinct names"
                        ),
                    ));
                }
                servers.push((sname, l.no));
            }
        }
    }
    Ok(())
}

/// Import a backend or listen section. `wanted` names it when the file has several.
pub fn import(text: &str, wanted: Option<&str>) -> Result<Imported, ConfigError> {
    let lines = split(text)?;
    // Group into sections; remember the defaults in force at each proxy.
    struct Section {
        kind: String,
        name: String,
        line: usize,
        body: Vec<Line>,
        defaults: Option<usize>,
    }
    let mut sections: Vec<Section> = Vec::new();
    let mut last_defaults: Option<usize> = None;
    for l in lines {
        let kw = l.words[0].as_str();
        if SECTIONS.contains(&kw) {
            let name = l.words.get(1).cloned().unwrap_or_default();
            let idx = sections.len();
            let defaults = last_defaults;
            if kw == "defaults" {
                last_defaults = Some(idx);
            }
            sections.push(Section {
                kind: kw.to_string(),
                name,
                line: l.no,
                body: Vec::new(),
                defaults,
            });
        } else if let Some(s) = sections.last_mut() {
            s.body.push(l);
        } else {
            return Err(ConfigError::new(
                l.no,
                format!("unknown keyword '{kw}' out of section: start with `backend NAME` or `listen NAME`"),
            ));
        }
    }
    validate(
        &sections
            .iter()
            .map(|s| (s.kind.as_str(), s.name.as_str(), s.line, &s.body[..]))
            .collect::<Vec<_>>(),
    )?;
    let proxies: Vec<(String, usize)> = sections
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind == "backend" || s.kind == "listen")
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    let (name, idx) = choose("backend or listen section", &proxies, wanted)?;
    let sec = &sections[*idx];
    let mut notes = Vec::new();
    let mut set = Settings::default();
    if let Some(d) = sec.defaults {
        for l in &sections[d].body {
            apply(&mut set, l, &mut notes)?;
        }
    }
    let mut servers: Vec<ServerConf> = Vec::new();
    for l in &sec.body {
        if l.words[0] == "server" {
            let (Some(sname), Some(addr)) = (l.words.get(1), l.words.get(2)) else {
                return Err(ConfigError::new(l.no, "'server' expects <name> <addr>[:<port>]"));
            };
            let mut b = SrvBuild::new(sname, addr);
            for (dw, dl) in &set.default_server {
                server_params(&mut b, dw, *dl, &mut notes)?;
            }
            server_params(&mut b, &l.words[3..], l.no, &mut notes)?;
            servers.push(b.finish());
        } else {
            apply(&mut set, l, &mut notes)?;
        }
    }
    if servers.is_empty() {
        return Err(ConfigError::new(
            sec.line,
            format!(
                "{} `{name}` has no server lines: HAProxy accepts it (every request gets a 503); a backend without servers is not modelled",
                sec.kind
            ),
        ));
    }
    if servers.len() > crate::balancer::MAX_SERVERS {
        return Err(ConfigError::new(
            sec.line,
            format!(
                "`{name}` has {} servers; sessim supports at most {}",
                servers.len(),
                crate::balancer::MAX_SERVERS
            ),
        ));
    }
    if servers.iter().all(|s| s.backup) {
        return Err(ConfigError::new(sec.line, format!("`{name}` has only backup servers")));
    }
    // HAProxy's default algorithm is roundrobin.
    let params = MethodParams {
        consistent: set.consistent,
        avalanche: set.avalanche,
        ..MethodParams::default()
    };
    let method = (set
        .balance
        .map_or(&crate::balancer::haproxy_rr::POLICY, |(p, _)| p)
        .method)(&params);
    if let Some(c) = &set.cookie
        && servers.iter().all(|s| s.cookie.is_none())
    {
        notes.push(Note {
            file: None,
            line: sec.line,
            message: format!(
                "cookie {} is set but no server has a `cookie` value: every response clears it",
                c.name
            ),
        });
    }
    Ok(Imported {
        name: name.clone(),
        conf: BalancerConf {
            method,
            servers,
            cookie: set.cookie,
            failure: FailurePolicy::Haproxy(HaproxyRetries {
                retries: set.retries.unwrap_or(3),
                redispatch: set.redispatch,
                connect_timeout: set.connect_timeout.unwrap_or(SimTime::ZERO),
            }),
        },
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::Method;
    use crate::balancer::haproxy_rr::HaproxyRoundRobinConf;
    use crate::balancer::source::SourceConf;

    const CFG: &str = r#"
global
    maxconn 100

defaults
    mode http
    retries 2
    option redispatch
    timeout connect 100ms
    timeout client 5s
    default-server inter 1s fall 2 rise 1

frontend fe
    bind 127.0.0.1:18090
    default_backend app

backend app
    balance roundrobin
    cookie SERVERID insert indirect nocache
    server b1 127.0.0.1:18081 check cookie s1 weight 3
    server b2 127.0.0.1:18082 check cookie s2
    server b3 127.0.0.1:18083 check cookie s3 backup

listen stats
    bind 127.0.0.1:18091
    balance source
    hash-type consistent sdbm avalanche
    server x 127.0.0.1:1
"#;

    #[test]
    fn backend_with_defaults() {
        let imp = import(CFG, Some("app")).expect("imports");
        assert_eq!(imp.conf.method, Method::new(HaproxyRoundRobinConf));
        let c = imp.conf.cookie.as_ref().expect("cookie");
        assert_eq!((c.name.as_str(), c.indirect, c.nocache), ("SERVERID", true, true));
        let s = &imp.conf.servers;
        assert_eq!(s[0].weight, 3);
        assert_eq!(s[1].cookie.as_deref(), Some("s2"));
        assert!(s[2].backup);
        let chk = s[0].check.expect("check");
        assert_eq!(
            (chk.inter, chk.fall, chk.rise, chk.fastinter),
            (SimTime::from_secs(1), 2, 1, SimTime::from_secs(1))
        );
        assert_eq!(
            imp.conf.failure,
            FailurePolicy::Haproxy(HaproxyRetries {
                retries: 2,
                redispatch: Some(-1),
                connect_timeout: SimTime::from_millis(100)
            })
        );
        let l = import(CFG, Some("stats")).expect("imports");
        assert_eq!(
            l.conf.method,
            Method::new(SourceConf {
                consistent: true,
                avalanche: true
            })
        );
        // Conformant with HAProxy 2.6.12 (tests/integration/conformance.rs), so it builds.
        assert!(crate::balancer::build(&l.conf).is_ok());
    }

    #[test]
    fn lone_section_and_errors() {
        let imp = import(
            "backend b\n balance source\n server a 127.0.0.1:1\n server c 127.0.0.1:2 weight 2\n",
            None,
        )
        .expect("imports");
        assert_eq!(
            imp.conf.method,
            Method::new(SourceConf {
                consistent: false,
                avalanche: false
            })
        );
        let e = import(CFG, None).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("line 0: the file has 2 backend or listen sections (app, stats); name the one to use")
        );
        let e = import("backend b\n balance uri\n server a 1.2.3.4:80\n", None).err();
        assert_eq!(e.map(|e| e.line), Some(2));
        let e = import("backend b\n server a 1.2.3.4:80 weight 300\n", None).err();
        assert_eq!(e.map(|e| e.line), Some(2));
        let e = import("backend b\n server a 1.2.3.4:80 slowstart 10s\n", None).err();
        assert_eq!(e.map(|e| e.line), Some(2));
        let e = import("server a b\n", None).err();
        assert_eq!(e.map(|e| e.line), Some(1));
        let e = import("backend b\n cookie S rewrite\n server a 1:1\n", None).err();
        assert_eq!(e.map(|e| e.line), Some(2));
        for garbage in [
            "",
            "backend",
            "backend b\n server",
            "backend b\n server a \"x",
            "backend b\n retries x\n server a b",
        ] {
            let _ = import(garbage, None);
        }
    }

    #[test]
    fn refused_as_haproxy_refuses() {
        // Each as `haproxy -c` 2.6.12 answers (tests/data/conformance/haproxy/ has the same
        // cases run through the real binary).
        let line = |t: &str| import(t, None).err().map(|e| (e.line, e.message));
        let e = line("backend b\n frobnicate 1\n server a 1.2.3.4:80\n");
        assert!(e.is_some_and(|(l, m)| l == 2 && m.contains("unknown keyword 'frobnicate' in 'backend'")));
        let e = line("global\n frobnicate\nbackend b\n server a 1.2.3.4:80\n");
        assert!(e.is_some_and(|(l, m)| l == 2 && m.contains("'global'")));
        let e = line("backend b\n server a 1.2.3.4:80\n server a 1.2.3.4:81\n");
        assert!(e.is_some_and(|(l, m)| l == 3 && m.contains("another server named 'a'")));
        let e = line("backend b\n option redispach\n server a 1.2.3.4:80\n");
        assert!(e.is_some_and(|(l, m)| l == 2 && m.contains("unknown option")));
        let e = line("backend b\n server a 1.2.3.4:80\nbackend b\n server c 1.2.3.4:80\n");
        assert!(e.is_some_and(|(l, _)| l == 3));
        // Accepted by HAProxy: `weight x` is atol("x") = 0, `balance` alone changes nothing.
        let imp = import(
            "backend b\n balance\n server a 1.2.3.4:80 weight x\n server c 1.2.3.4:81\n",
            None,
        )
        .expect("imports");
        assert_eq!(imp.conf.servers[0].weight, 0);
        assert_eq!(imp.conf.method, Method::new(HaproxyRoundRobinConf));
    }

    #[test]
    fn no_panic_on_truncated_or_mangled_files() {
        // Every prefix, and the file with each character removed or doubled, must give
        // a result or an error, never a panic; the resulting policies must build or
        // refuse cleanly.
        for candidate in crate::balancer::config::mangled(CFG) {
            for name in [None, Some("app")] {
                if let Ok(imp) = import(&candidate, name) {
                    let _ = crate::balancer::build(&imp.conf);
                }
            }
        }
    }
}
