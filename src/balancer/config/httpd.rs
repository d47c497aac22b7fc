//! Import of an Apache httpd 2.4 `mod_proxy_balancer` balancer from an `httpd.conf` (or any
//! file holding its directives).
//!
//! Reads `<Proxy "balancer://NAME">` blocks with their `BalancerMember URL key=value ...`
//! lines (`loadfactor`, `route`, `status`, `retry`) and `ProxySet key=value ...` lines
//! (`lbmethod`, `stickysession`, `stickysessionsep`, `nofailover`, `forcerecovery`,
//! `maxattempts`), the same directives outside a block with the balancer URL as their first
//! argument, and the balancer parameters written on `ProxyPass PATH "balancer://NAME/" ...`.
//! Parameters are checked as `mod_proxy.c` (`set_worker_param`, `set_balancer_param`) checks
//! them; parameters that change decisions but are not modelled are errors naming the line,
//! the others are notes.
//!
//! Syntax as `ap_cfg_getline` / `ap_getword_conf` read it (server/util.c, server/config.c):
//! one directive per line, a trailing `\` continues it on the next line, a line whose first
//! non-blank character is `#` is a comment, arguments are words or `"..."` / `'...'` strings
//! (a `\` inside quotes escapes the next character), directive and parameter names are
//! case-insensitive.

use super::{ConfigError, Imported, Note, choose};
use crate::balancer::apache::{ApacheConf, LBFACTOR_ONE, LbMethod, Sticky};
use crate::balancer::{BalancerConf, FailurePolicy, Method, NextUpstream, ServerConf, SimTime};

/// One logical line (continuations joined) split into words.
struct Line {
    no: usize,
    words: Vec<String>,
}

fn split(text: &str) -> Result<Vec<Line>, ConfigError> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if pending.is_empty() {
            start = i + 1;
        }
        if let Some(head) = raw.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(raw);
        let line = std::mem::take(&mut pending);
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        out.push(Line {
            no: start,
            words: words(t, start)?,
        });
    }
    if !pending.trim().is_empty() {
        return Err(ConfigError::new(start, "the file ends inside a `\\` continued line"));
    }
    Ok(out)
}

fn words(t: &str, no: usize) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    let mut chars = t.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&c) = chars.peek() else { break };
        let mut w = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(x) = chars.next() {
                if x == c {
                    closed = true;
                    break;
                }
                if x == '\\'
                    && let Some(&n) = chars.peek()
                    && (n == c || n == '\\')
                {
                    w.push(n);
                    chars.next();
                    continue;
                }
                w.push(x);
            }
            if !closed {
                return Err(ConfigError::new(no, format!("unterminated {c}...{c} string")));
            }
        } else {
            while let Some(x) = chars.next_if(|x| !x.is_whitespace()) {
                w.push(x);
            }
        }
        out.push(w);
    }
    Ok(out)
}

const PREFIX: &str = "balancer://";

/// `balancer://NAME/...` -> `NAME` (case-insensitive scheme, as `ap_proxy_get_balancer`).
fn balancer_name(url: &str) -> Option<String> {
    let head = url.get(..PREFIX.len())?;
    if !head.eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let rest = &url[PREFIX.len()..];
    let name = rest.split('/').next().unwrap_or("");
    (!name.is_empty()).then(|| name.to_ascii_lowercase())
}

/// The `host:port` of a member URL (`http://127.0.0.1:8080/app` -> `127.0.0.1:8080`).
fn member_addr(url: &str, no: usize) -> Result<String, ConfigError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| ConfigError::new(no, format!("`{url}` is not a member URL such as http://10.0.0.1:8080")))?;
    let port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        "ajp" => 8009,
        other => {
            return Err(ConfigError::new(
                no,
                format!("member scheme `{other}` is not supported; use http://, https:// or ajp://"),
            ));
        }
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(ConfigError::new(no, format!("`{url}` has no host")));
    }
    let has_port = host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) && !host.ends_with(']');
    Ok(if has_port {
        host.to_string()
    } else {
        format!("{host}:{port}")
    })
}

/// `stickysession=COOKIE[|PATHPARAM]` as `set_balancer_param` splits it.
pub fn sticky_of(v: &str) -> Result<Sticky, String> {
    let (cookie, path) = match v.split_once('|') {
        Some((c, p)) => (c, p),
        None => (v, v),
    };
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_graphic() && !b";,=|\"".contains(&c));
    if !ok(cookie) || !ok(path) || v.len() >= 64 {
        return Err(format!(
            "`{v}` is not a stickysession: write the cookie name and, after `|`, the URL parameter \
             (e.g. JSESSIONID|jsessionid), shorter than 64 characters"
        ));
    }
    Ok(Sticky {
        cookie: cookie.to_string(),
        path: path.to_string(),
        separator: Some('.'),
    })
}

fn on_off(key: &str, v: &str, no: usize) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(ConfigError::new(no, format!("{key} must be On or Off, got `{v}`"))),
    }
}

/// A balancer as the file builds it up.
struct Building {
    name: String,
    line: usize,
    conf: ApacheConf,
    members: Vec<ServerConf>,
}

fn param(word: &str, no: usize) -> Result<(String, &str), ConfigError> {
    match word.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_ascii_lowercase(), v)),
        _ => Err(ConfigError::new(no, format!("`{word}` is not a key=value parameter"))),
    }
}

/// `set_balancer_param` for one parameter.
fn balancer_param(b: &mut ApacheConf, word: &str, no: usize, notes: &mut Vec<Note>) -> Result<(), ConfigError> {
    let (key, v) = param(word, no)?;
    match key.as_str() {
        "lbmethod" => {
            b.lbmethod = match v.to_ascii_lowercase().as_str() {
                "byrequests" => LbMethod::ByRequests,
                "bybusyness" => LbMethod::ByBusyness,
                "bytraffic" => LbMethod::ByTraffic,
                "heartbeat" => {
                    return Err(ConfigError::new(
                        no,
                        "lbmethod=heartbeat balances by the load mod_heartbeat reports over multicast, \
                         which sessim does not model; use byrequests, bybusyness or bytraffic",
                    ));
                }
                other => {
                    return Err(ConfigError::new(
                        no,
                        format!("unknown lbmethod `{other}`; use byrequests, bybusyness or bytraffic"),
                    ));
                }
            }
        }
        "stickysession" => {
            let sep = b.sticky.as_ref().and_then(|s| s.separator);
            let mut s = sticky_of(v).map_err(|m| ConfigError::new(no, m))?;
            if b.sticky.is_some() {
                s.separator = sep;
            }
            b.sticky = Some(s);
        }
        "stickysessionsep" => {
            let sep = if v.eq_ignore_ascii_case("off") {
                None
            } else {
                let mut c = v.chars();
                match (c.next(), c.next()) {
                    (Some(ch), None) => Some(ch),
                    _ => {
                        return Err(ConfigError::new(
                            no,
                            "stickysessionsep must be a single character or Off",
                        ));
                    }
                }
            };
            match &mut b.sticky {
                Some(s) => s.separator = sep,
                None => {
                    return Err(ConfigError::new(
                        no,
                        "stickysessionsep comes after stickysession= in sessim's reader; set stickysession first",
                    ));
                }
            }
        }
        "nofailover" => b.nofailover = on_off("nofailover", v, no)?,
        "forcerecovery" => b.forcerecovery = on_off("forcerecovery", v, no)?,
        "maxattempts" => {
            let n: i64 = v.trim().parse().unwrap_or(-1);
            if n < 0 {
                return Err(ConfigError::new(
                    no,
                    "maximum number of attempts must be a positive number",
                ));
            }
            b.maxattempts = u32::try_from(n).ok();
        }
        "scolonpathdelim" => {
            if !on_off("scolonpathdelim", v, no)? {
                return Err(ConfigError::new(
                    no,
                    "scolonpathdelim=Off is not modelled (sessim reads ;jsessionid= as Apache's default On)",
                ));
            }
        }
        "timeout" => {
            if v.trim() != "0" {
                return Err(ConfigError::new(
                    no,
                    "balancer timeout= (waiting for a member to become free) is not modelled; remove it",
                ));
            }
        }
        "failonstatus" | "failontimeout" => {
            return Err(ConfigError::new(
                no,
                format!("{key}= (a response putting the member in error) is not modelled; remove it"),
            ));
        }
        "growth" | "nonce" => notes.push(Note {
            file: None,
            line: no,
            message: format!("{key}= does not change balancing decisions"),
        }),
        _ => {
            return Err(ConfigError::new(
                no,
                format!(
                    "`{key}` is not a balancer parameter sessim knows; it reads lbmethod, stickysession, \
                     stickysessionsep, nofailover, forcerecovery, maxattempts"
                ),
            ));
        }
    }
    Ok(())
}

/// Worker parameters that do not change which member is chosen.
const IGNORED_WORKER_PARAMS: &[&str] = &[
    "timeout",
    "connectiontimeout",
    "keepalive",
    "ttl",
    "min",
    "max",
    "smax",
    "acquire",
    "ping",
    "flushpackets",
    "flushwait",
    "disablereuse",
    "enablereuse",
    "iobuffersize",
    "receivebuffersize",
    "responsefieldsize",
    "secret",
    "upgrade",
    "addressttl",
];

/// `set_worker_param` for one parameter of a `BalancerMember`.
fn worker_param(s: &mut ServerConf, word: &str, no: usize, notes: &mut Vec<Note>) -> Result<(), ConfigError> {
    let (key, v) = param(word, no)?;
    match key.as_str() {
        "loadfactor" => {
            // mod_proxy.c: ival = atof(val) * 100, 100..=10000.
            let f: f64 = v.trim().parse().unwrap_or(0.0);
            let ival = (f * 100.0) as i64;
            if !(100..=10_000).contains(&ival) {
                return Err(ConfigError::new(no, "LoadFactor must be a number between 1..100"));
            }
            s.weight = u32::try_from(ival).unwrap_or(LBFACTOR_ONE);
        }
        "route" => {
            if v.len() >= 64 {
                return Err(ConfigError::new(no, "Route length must be < 64 characters"));
            }
            s.cookie = Some(v.to_string());
        }
        "retry" => {
            let secs: i64 = v.trim().parse().unwrap_or(-1);
            if secs < 0 {
                return Err(ConfigError::new(no, "Retry must be a positive value (seconds)"));
            }
            s.fail_timeout = SimTime::from_secs(u64::try_from(secs).unwrap_or(0));
        }
        "status" => {
            let mut on = true;
            for c in v.chars() {
                match c.to_ascii_uppercase() {
                    '+' => on = true,
                    '-' => on = false,
                    'D' | 'S' => s.down = on,
                    'H' => s.backup = on,
                    'I' | 'R' | 'E' | 'N' | 'C' => {
                        return Err(ConfigError::new(
                            no,
                            format!(
                                "status flag `{c}` is not modelled; sessim reads +H (hot standby), +D \
                                 (disabled) and +S (stopped)"
                            ),
                        ));
                    }
                    _ => return Err(ConfigError::new(no, "Unknown status parameter option")),
                }
            }
        }
        "lbset" => {
            if v.trim() != "0" {
                return Err(ConfigError::new(no, "lbset other than 0 is not modelled; remove it"));
            }
        }
        "redirect" => {
            return Err(ConfigError::new(no, "redirect= is not modelled; remove it"));
        }
        k if k.starts_with("hc") => {
            return Err(ConfigError::new(
                no,
                "mod_proxy_hcheck health checks are not modelled; remove the hc* parameters",
            ));
        }
        k if IGNORED_WORKER_PARAMS.contains(&k) => notes.push(Note {
            file: None,
            line: no,
            message: format!("{key}= does not change balancing decisions"),
        }),
        _ => {
            return Err(ConfigError::new(
                no,
                format!("`{key}` is not a BalancerMember parameter"),
            ));
        }
    }
    Ok(())
}

fn find<'a>(list: &'a mut Vec<Building>, name: &str, no: usize) -> &'a mut Building {
    if let Some(i) = list.iter().position(|b| b.name == name) {
        return &mut list[i];
    }
    list.push(Building {
        name: name.to_string(),
        line: no,
        conf: ApacheConf::default(),
        members: Vec::new(),
    });
    let last = list.len() - 1;
    &mut list[last]
}

/// Import the balancer `wanted` (its name, with or without `balancer://`), or the only one.
pub fn import(text: &str, wanted: Option<&str>) -> Result<Imported, ConfigError> {
    let lines = split(text)?;
    let mut notes = Vec::new();
    let mut found: Vec<Building> = Vec::new();
    // The balancer of the enclosing `<Proxy balancer://...>` block, if any.
    let mut inside: Option<(String, usize)> = None;
    for line in &lines {
        let no = line.no;
        let Some(first) = line.words.first() else { continue };
        let d = first.to_ascii_lowercase();
        let args = &line.words[1..];
        if let Some(open) = d.strip_prefix('<') {
            if let Some(closing) = open.strip_prefix('/') {
                if closing.trim_end_matches('>') == "proxy" {
                    inside = None;
                }
                continue;
            }
            if open == "proxy" || open == "proxy>" {
                let target = args.first().map(|a| a.trim_end_matches('>')).unwrap_or("");
                if let Some(name) = balancer_name(target) {
                    if inside.is_some() {
                        return Err(ConfigError::new(no, "<Proxy> blocks cannot be nested"));
                    }
                    find(&mut found, &name, no);
                    inside = Some((name, no));
                }
            }
            continue;
        }
        match d.as_str() {
            "balancermember" => {
                let (name, rest) = match (&inside, args.first().and_then(|a| balancer_name(a))) {
                    (_, Some(n)) => (n, &args[1..]),
                    (Some((n, _)), None) => (n.clone(), args),
                    (None, None) => {
                        return Err(ConfigError::new(
                            no,
                            "BalancerMember outside <Proxy \"balancer://NAME\"> must name its balancer first",
                        ));
                    }
                };
                let Some(url) = rest.first() else {
                    return Err(ConfigError::new(no, "BalancerMember needs the member's URL"));
                };
                let addr = member_addr(url, no)?;
                let mut s = ServerConf::new(addr.clone(), addr);
                s.weight = LBFACTOR_ONE;
                s.fail_timeout = SimTime::from_secs(60);
                s.max_fails = 1;
                for w in &rest[1..] {
                    worker_param(&mut s, w, no, &mut notes)?;
                }
                let b = find(&mut found, &name, no);
                if b.members.iter().any(|m| m.addr == s.addr) {
                    return Err(ConfigError::new(
                        no,
                        format!("member {} is already in balancer://{name}", s.addr),
                    ));
                }
                b.members.push(s);
            }
            "proxyset" => {
                let (name, rest) = match (&inside, args.first().and_then(|a| balancer_name(a))) {
                    (_, Some(n)) => (n, &args[1..]),
                    (Some((n, _)), None) => (n.clone(), args),
                    (None, None) => {
                        notes.push(Note {
                            file: None,
                            line: no,
                            message: "ProxySet for a worker, not a balancer: ignored".into(),
                        });
                        continue;
                    }
                };
                let b = find(&mut found, &name, no);
                for w in rest {
                    balancer_param(&mut b.conf, w, no, &mut notes)?;
                }
            }
            "proxypass" => {
                if let Some(name) = args.get(1).and_then(|a| balancer_name(a)) {
                    let b = find(&mut found, &name, no);
                    // mod_proxy.c add_pass: the key=value parameters of a ProxyPass to a
                    // balancer are balancer parameters; bare flags (nocanon, ...) are not.
                    for w in args[2..].iter().filter(|w| w.contains('=')) {
                        balancer_param(&mut b.conf, w, no, &mut notes)?;
                    }
                }
            }
            _ => {}
        }
    }
    if let Some((_, open)) = inside {
        return Err(ConfigError::new(open, "<Proxy> block is not closed with </Proxy>"));
    }
    let pairs: Vec<(String, Building)> = found.into_iter().map(|b| (b.name.clone(), b)).collect();
    let wanted = wanted.map(|w| balancer_name(w).unwrap_or_else(|| w.to_ascii_lowercase()));
    let (name, b) = choose("balancer", &pairs, wanted.as_deref())?;
    if b.members.is_empty() {
        return Err(ConfigError::new(
            b.line,
            format!("balancer://{name} has no BalancerMember"),
        ));
    }
    let n = b.members.len();
    let conf = BalancerConf {
        method: Method::new(b.conf.clone()),
        servers: b.members.clone(),
        cookie: None,
        failure: FailurePolicy::Nginx(NextUpstream {
            error: true,
            timeout: false,
            http: 0,
            non_idempotent: false,
            tries: b.conf.max_attempts(n),
            timeout_limit: SimTime::ZERO,
        }),
    };
    Ok(Imported {
        name: name.clone(),
        conf,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
# Tomcat behind Apache
<Proxy "balancer://tomcats">
    BalancerMember "http://10.0.0.1:8080" loadfactor=2 route=tomcat1 retry=30
    BalancerMember http://10.0.0.2:8080 route=tomcat2 \
        timeout=10
    BalancerMember "http://10.0.0.3:8080" route=spare status=+H
    ProxySet lbmethod=bybusyness stickysession=JSESSIONID|jsessionid nofailover=Off
</Proxy>
ProxyPass "/" "balancer://tomcats/" maxattempts=1
"#;

    #[test]
    fn reads_members_and_balancer_parameters() {
        let imp = import(CONF, None).expect("imports");
        assert_eq!(imp.name, "tomcats");
        let Some(a) = imp.conf.method.downcast_ref::<ApacheConf>() else {
            panic!("an Apache method")
        };
        assert_eq!(a.lbmethod, LbMethod::ByBusyness);
        let s = a.sticky.as_ref().expect("sticky");
        assert_eq!(
            (s.cookie.as_str(), s.path.as_str(), s.separator),
            ("JSESSIONID", "jsessionid", Some('.'))
        );
        assert_eq!(a.maxattempts, Some(1));
        let m = &imp.conf.servers;
        assert_eq!(m.len(), 3);
        assert_eq!(
            (m[0].addr.as_str(), m[0].weight, m[0].cookie.as_deref()),
            ("10.0.0.1:8080", 200, Some("tomcat1"))
        );
        assert_eq!(m[0].fail_timeout, SimTime::from_secs(30));
        assert_eq!((m[1].weight, m[1].fail_timeout), (100, SimTime::from_secs(60)));
        assert!(m[2].backup && !m[0].backup);
        // maxattempts=1: two attempts in all.
        let FailurePolicy::Nginx(n) = imp.conf.failure else {
            panic!("failover rules")
        };
        assert_eq!(n.tries, 2);
        assert_eq!(imp.notes.len(), 1, "timeout= is a note: {:?}", imp.notes);
        assert!(crate::balancer::build(&imp.conf).is_ok());
    }

    #[test]
    fn errors_name_the_line() {
        let bad = CONF.replace("loadfactor=2", "loadfactor=101");
        assert_eq!(import(&bad, None).err().map(|e| e.line), Some(4));
        let bad = CONF.replace("bybusyness", "heartbeat");
        let e = import(&bad, None).expect_err("heartbeat refused");
        assert_eq!(e.line, 8);
        assert!(e.message.contains("heartbeat"), "{}", e.message);
        let bad = CONF.replace("</Proxy>", "");
        assert_eq!(import(&bad, None).err().map(|e| e.line), Some(3));
        let bad = CONF.replace("status=+H", "status=+R");
        assert_eq!(import(&bad, None).err().map(|e| e.line), Some(7));
        assert!(import("ServerName x\n", None).is_err());
        assert!(import(CONF, Some("balancer://nope")).is_err());
        assert!(import(CONF, Some("balancer://tomcats")).is_ok());
    }

    #[test]
    fn mangled_files_never_panic() {
        for text in super::super::mangled(CONF) {
            let _ = import(&text, None);
        }
    }
}
