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

use super::{ConfigError, Imported, Note, choose};
use crate::balancer::{
    BalancerConf, CheckConf, CookieConf, FailurePolicy, HaproxyRetries, Method, ServerConf, SimTime,
};

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

const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "resolvers",
    "peers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "fcgi-app",
    "crt-store",
    "traces",
    "log-forward",
];

/// Keywords of the proxy sections (`defaults`, `frontend`, `backend`, `listen`) that
/// HAProxy 2.6 knows: those `cfg_parse_listen` (src/cfgparse-listen.c) parses itself, and
/// those modules register for the `listen` class (the list `haproxy -dKcfg` prints).
/// Any other first word is refused, as HAProxy refuses it ("unknown keyword 'X' in
/// 'backend' section", cfgparse-listen.c). Checked against `haproxy -c` 2.6.12: no keyword
/// of these lists (nor of [`GLOBAL_KEYWORDS`], [`OPTIONS`]), written alone in its section, is
/// reported unknown; the corpus of tests/integration/config_conformance.rs checks whole files.
const PROXY_KEYWORDS: &[&str] = &[
    // cfgparse-listen.c
    "acl",
    "backlog",
    "balance",
    "bind",
    "capture",
    "cookie",
    "default-server",
    "default_backend",
    "description",
    "disabled",
    "dispatch",
    "dynamic-cookie-key",
    "email-alert",
    "enabled",
    "force-persist",
    "fullconn",
    "grace",
    "hash-balance-factor",
    "hash-type",
    "http-reuse",
    "http-send-name-header",
    "id",
    "ignore-persist",
    "load-server-state-from-file",
    "log",
    "log-format",
    "log-format-sd",
    "log-tag",
    "maxconn",
    "mode",
    "monitor",
    "monitor-uri",
    "no",
    "option",
    "persist",
    "redirect",
    "retries",
    "server",
    "server-state-file-name",
    "server-template",
    "source",
    "stats",
    "stick",
    "stick-table",
    "unique-id-format",
    "unique-id-header",
    "use-server",
    "use_backend",
    // registered for the `listen` class (haproxy -dKcfg, 2.6.12)
    "clitcpka-cnt",
    "clitcpka-idle",
    "clitcpka-intvl",
    "clitimeout",
    "compression",
    "contimeout",
    "declare",
    "errorfile",
    "errorfiles",
    "errorloc",
    "errorloc302",
    "errorloc303",
    "external-check",
    "filter",
    "http-after-response",
    "http-check",
    "http-error",
    "http-request",
    "http-response",
    "max-keep-alive-queue",
    "rate-limit",
    "retry-on",
    "srvtcpka-cnt",
    "srvtcpka-idle",
    "srvtcpka-intvl",
    "srvtimeout",
    "tcp-check",
    "tcp-request",
    "tcp-response",
    "timeout",
    "use-fcgi-app",
];

/// Keywords of the `global` section HAProxy 2.6 knows: those `cfg_parse_global`
/// (src/cfgparse-global.c) parses itself and those registered for the `global` class.
const GLOBAL_KEYWORDS: &[&str] = &[
    // cfgparse-global.c
    "busy-polling",
    "chroot",
    "cpu-map",
    "daemon",
    "description",
    "expose-experimental-directives",
    "external-check",
    "fd-hard-limit",
    "gid",
    "group",
    "h2-workaround-bogus-websocket-clients",
    "insecure-fork-wanted",
    "insecure-setuid-wanted",
    "localpeer",
    "log",
    "log-send-hostname",
    "log-tag",
    "master-worker",
    "max-spread-checks",
    "maxcompcpuusage",
    "maxcomprate",
    "maxconn",
    "maxconnrate",
    "maxpipes",
    "maxsessrate",
    "maxsslrate",
    "maxzlibmem",
    "node",
    "noepoll",
    "noevports",
    "nogetaddrinfo",
    "nokqueue",
    "nopoll",
    "noreuseport",
    "nosplice",
    "numa-cpu-mapping",
    "pidfile",
    "presetenv",
    "quiet",
    "resetenv",
    "server-state-base",
    "server-state-file",
    "set-dumpable",
    "setenv",
    "spread-checks",
    "ssl-server-verify",
    "strict-limits",
    "tune.buffers.limit",
    "tune.buffers.reserve",
    "tune.bufsize",
    "tune.chksize",
    "tune.comp.maxlevel",
    "tune.http.cookielen",
    "tune.http.logurilen",
    "tune.http.maxhdr",
    "tune.idletimer",
    "tune.maxaccept",
    "tune.maxpollevents",
    "tune.maxrewrite",
    "tune.pattern.cache-size",
    "tune.pipesize",
    "tune.rcvbuf.client",
    "tune.rcvbuf.server",
    "tune.recv_enough",
    "tune.runqueue-depth",
    "tune.sndbuf.client",
    "tune.sndbuf.server",
    "uid",
    "ulimit-n",
    "unix-bind",
    "unsetenv",
    "user",
    "zero-warning",
    // registered for the `global` class (haproxy -dKcfg, 2.6.12)
    "ca-base",
    "close-spread-time",
    "crt-base",
    "default-path",
    "h1-accept-payload-with-any-method",
    "h1-case-adjust",
    "h1-case-adjust-file",
    "hard-stop-after",
    "httpclient.resolvers.id",
    "httpclient.resolvers.prefer",
    "httpclient.ssl.ca-file",
    "httpclient.ssl.verify",
    "issuers-chain-path",
    "lua-load",
    "lua-load-per-thread",
    "lua-prepend-path",
    "maxsslconn",
    "mworker-max-reloads",
    "nbthread",
    "no-memory-trimming",
    "pp2-never-send-local",
    "profiling.tasks",
    "set-var",
    "set-var-fmt",
    "ssl-default-bind-ciphers",
    "ssl-default-bind-ciphersuites",
    "ssl-default-bind-curves",
    "ssl-default-bind-options",
    "ssl-default-server-ciphers",
    "ssl-default-server-ciphersuites",
    "ssl-default-server-options",
    "ssl-dh-param-file",
    "ssl-load-extra-del-ext",
    "ssl-load-extra-files",
    "ssl-mode-async",
    "ssl-propquery",
    "ssl-provider",
    "ssl-provider-path",
    "ssl-skip-self-issued-ca",
    "stats",
    "thread-group",
    "thread-groups",
    "tune.fail-alloc",
    "tune.fd.edge-triggered",
    "tune.h2.header-table-size",
    "tune.h2.initial-window-size",
    "tune.h2.max-concurrent-streams",
    "tune.h2.max-frame-size",
    "tune.idle-pool.shared",
    "tune.listener.multi-queue",
    "tune.lua.forced-yield",
    "tune.lua.maxmem",
    "tune.lua.service-timeout",
    "tune.lua.session-timeout",
    "tune.lua.task-timeout",
    "tune.peers.max-updates-at-once",
    "tune.pool-high-fd-ratio",
    "tune.pool-low-fd-ratio",
    "tune.sched.low-latency",
    "tune.ssl.cachesize",
    "tune.ssl.capture-buffer-size",
    "tune.ssl.capture-cipherlist-size",
    "tune.ssl.default-dh-param",
    "tune.ssl.force-private-cache",
    "tune.ssl.hard-maxrecord",
    "tune.ssl.keylog",
    "tune.ssl.lifetime",
    "tune.ssl.maxrecord",
    "tune.ssl.ssl-ctx-cache-size",
    "tune.vars.check-max-size",
    "tune.vars.global-max-size",
    "tune.vars.proc-max-size",
    "tune.vars.reqres-max-size",
    "tune.vars.sess-max-size",
    "tune.vars.txn-max-size",
];

/// `option` names HAProxy 2.6 knows (the `cfg_opts`/`cfg_opts2` tables of
/// src/cfgparse-listen.c, the options it parses itself, and the registered ones).
const OPTIONS: &[&str] = &[
    "abortonclose",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "allbackups",
    "checkcache",
    "clitcpka",
    "contstats",
    "disable-h2-upgrade",
    "dontlog-normal",
    "dontlognull",
    "external-check",
    "forwardfor",
    "h1-case-adjust-bogus-client",
    "h1-case-adjust-bogus-server",
    "http-buffer-request",
    "http-ignore-probes",
    "http-keep-alive",
    "http-no-delay",
    "http-pretend-keepalive",
    "http-restrict-req-hdr-names",
    "http-server-close",
    "http-use-proxy-header",
    "httpchk",
    "httpclose",
    "httplog",
    "idle-close-on-response",
    "independent-streams",
    "ldap-check",
    "log-health-checks",
    "log-separate-errors",
    "logasap",
    "mysql-check",
    "nolinger",
    "originalto",
    "persist",
    "pgsql-check",
    "prefer-last-server",
    "redis-check",
    "redispatch",
    "smtpchk",
    "socket-stats",
    "splice-auto",
    "splice-request",
    "splice-response",
    "spop-check",
    "srvtcpka",
    "ssl-hello-chk",
    "tcp-check",
    "tcp-smart-accept",
    "tcp-smart-connect",
    "tcpka",
    "tcplog",
    "transparent",
];

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
    balance: Option<(Method, usize)>,
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
                "roundrobin" => Method::HaproxyRoundRobin,
                "leastconn" => Method::HaproxyLeastConn,
                "source" => Method::Source {
                    consistent: false,
                    avalanche: false,
                },
                // `balance` alone changes nothing: cfg_parse_listen only parses it when it
                // has an argument (src/cfgparse-listen.c), and `haproxy -c` accepts it.
                "" => {
                    note(
                        notes,
                        "`balance` without an algorithm changes nothing (HAProxy ignores it)".into(),
                    );
                    return Ok(());
                }
                other => {
                    return Err(ConfigError::new(
                        l.no,
                        format!("balance {other} is not modelled; sessim supports roundrobin, leastconn and source"),
                    ));
                }
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

/// A server line being built: check parameters are kept even before `check` appears
/// (`default-server inter 1s` then `server ... check`).
struct SrvBuild {
    srv: ServerConf,
    check: bool,
    cc: CheckConf,
    fastinter: Option<SimTime>,
    downinter: Option<SimTime>,
}

impl SrvBuild {
    fn new(name: &str, addr: &str) -> Self {
        SrvBuild {
            srv: ServerConf::new(name, addr),
            check: false,
            cc: CheckConf::default(),
            fastinter: None,
            downinter: None,
        }
    }

    /// `fastinter`/`downinter` default to `inter` (`srv_getinter`).
    fn finish(mut self) -> ServerConf {
        if self.check {
            self.cc.fastinter = self.fastinter.unwrap_or(self.cc.inter);
            self.cc.downinter = self.downinter.unwrap_or(self.cc.inter);
            self.srv.check = Some(self.cc);
        }
        self.srv
    }
}

/// Apply server keywords (from `default-server` or `server`).
fn server_params(b: &mut SrvBuild, words: &[String], line: usize, notes: &mut Vec<Note>) -> Result<(), ConfigError> {
    let mut i = 0;
    while i < words.len() {
        let k = words[i].as_str();
        let srv = &mut b.srv;
        match k {
            "weight" => {
                // HAProxy 2.6 reads the value with atol() (srv_parse_weight, src/server.c):
                // leading digits, anything else is 0; `haproxy -c` accepts `weight x`.
                let raw = words.get(i + 1).map_or("", String::as_str);
                let digits = raw.bytes().take_while(u8::is_ascii_digit).count();
                let v: u32 = if digits == 0 {
                    0
                } else {
                    raw[..digits].parse().unwrap_or(u32::MAX)
                };
                if digits != raw.len() {
                    notes.push(Note {
                        file: None,
                        line,
                        message: format!("weight \"{raw}\" is read as {v} (HAProxy reads leading digits, atol)"),
                    });
                }
                if v > 256 {
                    return Err(ConfigError::new(
                        line,
                        format!("weight of server is not within 0 and 256 ({v}): use a weight from 0 to 256"),
                    ));
                }
                srv.weight = v;
                i += 1;
            }
            "check" => b.check = true,
            "no-check" => b.check = false,
            "inter" => {
                b.cc.inter = time(words, i + 1, line, "inter")?;
                i += 1;
            }
            "fastinter" => {
                b.fastinter = Some(time(words, i + 1, line, "fastinter")?);
                i += 1;
            }
            "downinter" => {
                b.downinter = Some(time(words, i + 1, line, "downinter")?);
                i += 1;
            }
            "fall" => {
                b.cc.fall = num(words, i + 1, line, "fall")?.max(1);
                i += 1;
            }
            "rise" => {
                b.cc.rise = num(words, i + 1, line, "rise")?.max(1);
                i += 1;
            }
            "backup" => srv.backup = true,
            "disabled" => srv.down = true,
            "enabled" => srv.down = false,
            "cookie" => {
                srv.cookie = words.get(i + 1).cloned();
                if srv.cookie.is_none() {
                    return Err(ConfigError::new(line, "'cookie' expects a value"));
                }
                i += 1;
            }
            "maxconn" => {
                // atol() like `weight` (srv_parse_maxconn, src/server.c): `haproxy -c`
                // accepts a missing or non-numeric value as 0 (no limit).
                let raw = words.get(i + 1).map_or("", String::as_str);
                let digits = raw.bytes().take_while(u8::is_ascii_digit).count();
                srv.max_conns = if digits == 0 {
                    0
                } else {
                    raw[..digits].parse().unwrap_or(u32::MAX)
                };
                if digits == 0 || digits != raw.len() {
                    notes.push(Note {
                        file: None,
                        line,
                        message: format!(
                            "maxconn \"{raw}\" is read as {} (HAProxy reads leading digits, atol)",
                            srv.max_conns
                        ),
                    });
                }
                i += 1;
            }
            "port" | "addr" | "maxqueue" | "minconn" | "resolvers" | "init-addr" | "ssl" | "verify" | "sni"
            | "alpn" | "check-ssl" | "send-proxy" | "send-proxy-v2" | "proto" | "resolve-prefer" | "pool-max-conn"
            | "check-send-proxy" | "ca-file" | "crt" | "error-limit" | "id" => {
                let takes_arg = !matches!(
                    k,
                    "ssl" | "send-proxy" | "send-proxy-v2" | "check-ssl" | "check-send-proxy"
                );
                notes.push(Note {
                    file: None,
                    line,
                    message: format!("server keyword `{k}` does not change which server is chosen; ignored"),
                });
                if takes_arg {
                    i += 1;
                }
            }
            "slowstart" | "track" | "agent-check" | "observe" | "on-error" | "on-marked-down" | "on-marked-up"
            | "redir" | "hash-key" => {
                return Err(ConfigError::new(
                    line,
                    format!("server keyword `{k}` changes selection or health and is not modelled"),
                ));
            }
            other => {
                return Err(ConfigError::new(line, format!("unknown server keyword \"{other}\"")));
            }
        }
        i += 1;
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
    let method = match set.balance.map(|(m, _)| m) {
        None | Some(Method::HaproxyRoundRobin) => Method::HaproxyRoundRobin,
        Some(Method::Source { .. }) => Method::Source {
            consistent: set.consistent,
            avalanche: set.avalanche,
        },
        Some(m) => m,
    };
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
        assert_eq!(imp.conf.method, Method::HaproxyRoundRobin);
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
            Method::Source {
                consistent: true,
                avalanche: true
            }
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
            Method::Source {
                consistent: false,
                avalanche: false
            }
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
        assert_eq!(imp.conf.method, Method::HaproxyRoundRobin);
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
