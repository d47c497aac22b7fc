//! Import of a Caddy 2.6 JSON config's `reverse_proxy` handler (what `caddy adapt` makes of a
//! Caddyfile, or a config written for the admin API).
//!
//! Every object with `"handler": "reverse_proxy"` anywhere in the file is a balancer, named by
//! its JSON path (`apps.http.servers.srv0.routes[0].handle[0]`; `upstream` picks one when
//! there are several). Its fields are those of `modules/caddyhttp/reverseproxy` in caddy
//! v2.6.2: `upstreams` (`dial`, `max_requests`), `load_balancing` (`selection_policy` with
//! `policy` and its `choose` / `field` / `name` / `secret`, `retries`, `try_duration`,
//! `try_interval`), `health_checks.passive` (`fail_duration`, `max_fails`,
//! `unhealthy_status`, `unhealthy_latency`, `unhealthy_request_count`) and
//! `health_checks.active` (`uri`/`path`/`port`, `interval`), with the defaults of
//! `Handler.Provision` exactly as the Caddyfile import applies them. A duration is a
//! string (`"10s"`, `caddy.ParseDuration`) or an integer of nanoseconds (`caddy.Duration`).
//! Fields that change which upstream is chosen but are not modelled are errors naming their
//! JSON path; those that do not are notes.

use super::caddyfile::{dial_of, imported, parse_duration};
use super::{ConfigError, Imported, Note};
use crate::balancer::SimTime;
use crate::balancer::caddy::{CaddyConf, LbPolicy, parse_status};
use serde_json::{Map, Value};

/// Whether a config file is Caddy JSON: a JSON object with a `reverse_proxy` handler.
pub fn looks_like_caddy_json(text: &str) -> bool {
    text.trim_start().starts_with('{') && text.contains("\"reverse_proxy\"")
}

fn fail(path: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::new(0, format!("{path}: {message}"))
}

fn find(v: &Value, path: String, out: &mut Vec<(String, Map<String, Value>)>) {
    match v {
        Value::Object(m) => {
            if m.get("handler").and_then(Value::as_str) == Some("reverse_proxy") {
                out.push((path.clone(), m.clone()));
            }
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                find(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                find(x, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// `caddy.Duration`: a duration string or whole nanoseconds.
fn duration(v: &Value, path: &str) -> Result<SimTime, ConfigError> {
    match v {
        Value::String(s) => {
            parse_duration(s).ok_or_else(|| fail(path, format!("`{s}` is not a duration (e.g. \"30s\")")))
        }
        Value::Number(n) => n
            .as_u64()
            .map(SimTime::from_nanos)
            .ok_or_else(|| fail(path, "must be a duration string or whole nanoseconds >= 0")),
        _ => Err(fail(path, "must be a duration string or whole nanoseconds")),
    }
}

fn count(v: &Value, path: &str) -> Result<u32, ConfigError> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| fail(path, "must be a whole number >= 0"))
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, ConfigError> {
    v.as_str().ok_or_else(|| fail(path, "must be a string"))
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ConfigError> {
    v.as_object().ok_or_else(|| fail(path, "must be an object"))
}

/// The handler's keys that do not change which upstream is chosen.
const NOTED: &[&str] = &[
    "transport",
    "headers",
    "flush_interval",
    "trusted_proxies",
    "buffer_requests",
    "buffer_responses",
    "max_buffer_size",
    "rewrite",
    "handle_response",
];

fn policy(m: &Map<String, Value>, path: &str) -> Result<LbPolicy, ConfigError> {
    let name = match m.get("policy") {
        Some(v) => string(v, &format!("{path}.policy"))?,
        None => return Err(fail(path, "has no `policy`")),
    };
    let extra = |key: &str| {
        m.get(key)
            .map(|v| string(v, &format!("{path}.{key}")).map(str::to_string))
    };
    for k in m.keys() {
        let allowed: &[&str] = match name {
            "random_choose" => &["policy", "choose"],
            "header" => &["policy", "field"],
            "cookie" => &["policy", "name", "secret"],
            "weighted_round_robin" => &["policy", "weights"],
            _ => &["policy"],
        };
        if !allowed.contains(&k.as_str()) {
            return Err(fail(
                &format!("{path}.{k}"),
                format!("unknown field of the `{name}` policy"),
            ));
        }
    }
    match name {
        // RandomChoiceSelection.Provision: choose 0 is 2; Validate: at least 2.
        "random_choose" => {
            let k = match m.get("choose") {
                Some(v) => count(v, &format!("{path}.choose"))?,
                None => 0,
            };
            let k = if k == 0 { 2 } else { k };
            LbPolicy::parse(name, &[&k.to_string()]).map_err(|e| fail(path, e))
        }
        "header" => match extra("field").transpose()? {
            Some(f) if !f.is_empty() => Ok(LbPolicy::Header(f)),
            _ => Err(fail(path, "the header policy needs a `field`")),
        },
        "cookie" => Ok(LbPolicy::Cookie {
            name: extra("name")
                .transpose()?
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "lb".into()),
            secret: extra("secret").transpose()?.unwrap_or_default(),
        }),
        // Caddy 2.7's `weights` (`[]int`): none or one means `pool[0]` always. JSON accepts
        // 0 and negative weights, which can leave a total of 0 (Caddy 2.7.6 then divides by
        // zero); sessim takes the Caddyfile's rule, each at least 1.
        "weighted_round_robin" => match m.get("weights") {
            None => Ok(LbPolicy::WeightedRoundRobin(Vec::new())),
            Some(Value::Array(ws)) => {
                let args: Vec<String> = ws.iter().map(Value::to_string).collect();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                if args.is_empty() {
                    return Ok(LbPolicy::WeightedRoundRobin(Vec::new()));
                }
                crate::balancer::caddy::parse_weights(&args)
                    .map(LbPolicy::WeightedRoundRobin)
                    .map_err(|e| fail(&format!("{path}.weights"), e))
            }
            Some(_) => Err(fail(&format!("{path}.weights"), "must be a list of whole numbers")),
        },
        other => LbPolicy::parse(other, &[]).map_err(|e| fail(path, e)),
    }
}

fn handler(
    path: &str,
    h: &Map<String, Value>,
    notes: &mut Vec<Note>,
) -> Result<(Vec<(String, u32)>, CaddyConf), ConfigError> {
    let mut c = CaddyConf::default();
    let mut try_interval = SimTime::ZERO;
    let mut max_fails = None;
    let mut health_uri = false;
    let mut interval = None;
    let mut ups = Vec::new();
    for (k, v) in h {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "handler" => {}
            "upstreams" => {
                let Some(list) = v.as_array() else {
                    return Err(fail(&p, "must be an array of upstreams"));
                };
                for (i, u) in list.iter().enumerate() {
                    let up = format!("{p}[{i}]");
                    let u = object(u, &up)?;
                    let mut dial = None;
                    let mut max = 0;
                    for (f, x) in u {
                        match f.as_str() {
                            "dial" => dial = Some(string(x, &format!("{up}.dial"))?),
                            "max_requests" => max = count(x, &format!("{up}.max_requests"))?,
                            "lookup_srv" => {
                                return Err(fail(
                                    &format!("{up}.lookup_srv"),
                                    "SRV upstreams are not modelled; list the dial addresses",
                                ));
                            }
                            other => return Err(fail(&format!("{up}.{other}"), "unknown field of an upstream")),
                        }
                    }
                    let Some(dial) = dial else {
                        return Err(fail(&up, "has no `dial` address"));
                    };
                    let d = dial_of(dial, 0).map_err(|e| fail(&format!("{up}.dial"), e.message))?;
                    if ups.iter().any(|(x, _)| x == &d) {
                        return Err(fail(&format!("{up}.dial"), format!("upstream `{d}` is listed twice")));
                    }
                    ups.push((d, max));
                }
            }
            "load_balancing" => {
                for (f, x) in object(v, &p)? {
                    let q = format!("{p}.{f}");
                    match f.as_str() {
                        "selection_policy" => c.policy = policy(object(x, &q)?, &q)?,
                        "retries" => c.retries = count(x, &q)?,
                        "try_duration" => c.try_duration = duration(x, &q)?,
                        "try_interval" => try_interval = duration(x, &q)?,
                        "retry_match" => notes.push(Note {
                            file: None,
                            line: 0,
                            message: format!("{q} ignored: sessim's requests are GETs, which Caddy retries anyway"),
                        }),
                        other => return Err(fail(&format!("{p}.{other}"), "unknown field of load_balancing")),
                    }
                }
            }
            "health_checks" => {
                for (f, x) in object(v, &p)? {
                    let q = format!("{p}.{f}");
                    match f.as_str() {
                        "passive" => {
                            // A passive object, even empty, makes `Healthy()` compare Fails() with MaxFails.
                            c.passive = true;
                            for (g, y) in object(x, &q)? {
                                let r = format!("{q}.{g}");
                                match g.as_str() {
                                    "fail_duration" => c.fail_duration = duration(y, &r)?,
                                    "max_fails" => max_fails = Some(count(y, &r)?),
                                    "unhealthy_latency" => c.unhealthy_latency = duration(y, &r)?,
                                    "unhealthy_request_count" => c.unhealthy_request_count = count(y, &r)?,
                                    "unhealthy_status" => {
                                        let Some(list) = y.as_array() else {
                                            return Err(fail(&r, "must be an array of statuses"));
                                        };
                                        for (i, s) in list.iter().enumerate() {
                                            let n = count(s, &format!("{r}[{i}]"))?;
                                            // In JSON a class is its digit: 5 for 5xx.
                                            let text = if n < 10 { format!("{n}xx") } else { n.to_string() };
                                            let st = parse_status(&text).map_err(|e| fail(&format!("{r}[{i}]"), e))?;
                                            c.unhealthy_status.push(st);
                                        }
                                    }
                                    other => {
                                        return Err(fail(
                                            &format!("{q}.{other}"),
                                            "unknown field of passive health checks",
                                        ));
                                    }
                                }
                            }
                        }
                        "active" => {
                            for (g, y) in object(x, &q)? {
                                let r = format!("{q}.{g}");
                                match g.as_str() {
                                    "uri" | "path" => health_uri |= !string(y, &r)?.is_empty(),
                                    "port" => health_uri |= count(y, &r)? > 0,
                                    "interval" => interval = Some(duration(y, &r)?),
                                    "headers" | "timeout" | "max_size" | "expect_status" | "expect_body" => {
                                        notes.push(Note {
                                            file: None,
                                            line: 0,
                                            message: format!(
                                                "{r} ignored: sessim's checks pass while the backend is up"
                                            ),
                                        })
                                    }
                                    other => {
                                        return Err(fail(
                                            &format!("{q}.{other}"),
                                            "unknown field of active health checks",
                                        ));
                                    }
                                }
                            }
                        }
                        other => return Err(fail(&format!("{p}.{other}"), "unknown field of health_checks")),
                    }
                }
            }
            "dynamic_upstreams" => return Err(fail(&p, "dynamic upstreams are not modelled; list the upstreams")),
            "circuit_breaker" => return Err(fail(&p, "circuit breakers are not modelled; remove it")),
            n if NOTED.contains(&n) => notes.push(Note {
                file: None,
                line: 0,
                message: format!("{p} ignored: it does not change which upstream is chosen"),
            }),
            _ => {
                return Err(fail(
                    &p,
                    "unknown field of the reverse_proxy handler (Caddy 2.6 refuses it too)",
                ));
            }
        }
    }
    // Provision, as for a Caddyfile.
    c.max_fails = match max_fails {
        Some(n) if n > 0 => n,
        _ => u32::from(c.fail_duration > SimTime::ZERO),
    };
    if c.passive && c.max_fails == 0 {
        notes.push(Note {
            file: None,
            line: 0,
            message: format!(
                "{path}.health_checks.passive without fail_duration: Caddy 2.6 leaves max_fails at 0, so every \
                 upstream is unhealthy and every request gets 503"
            ),
        });
    }
    c.try_interval = if try_interval == SimTime::ZERO && c.try_duration > SimTime::ZERO {
        SimTime::from_millis(250)
    } else {
        try_interval
    };
    if health_uri {
        c.health_interval = Some(interval.unwrap_or(SimTime::from_secs(30)));
    }
    c.limits().map_err(|e| fail(&format!("{path}.load_balancing"), e))?;
    if ups.is_empty() {
        return Err(fail(path, "has no upstreams"));
    }
    Ok((ups, c))
}

/// Import the `reverse_proxy` handler of a Caddy JSON config; `wanted` is its JSON path when
/// the file has several.
pub fn import(text: &str, wanted: Option<&str>) -> Result<Imported, ConfigError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| ConfigError::new(e.line(), format!("not valid JSON: {e}")))?;
    let mut found = Vec::new();
    find(&v, String::new(), &mut found);
    let (name, h) = super::choose("reverse_proxy handler", &found, wanted)?;
    let mut notes = Vec::new();
    let (ups, conf) = handler(name, h, &mut notes)?;
    imported(name, &ups, conf, notes, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `caddy adapt` (Caddy 2.6.2) of a Caddyfile with `lb_policy cookie lb s3cret`,
    /// `fail_duration 10s`, `max_fails 2`, `unhealthy_status 5xx 404`, `unhealthy_latency 2s`,
    /// `unhealthy_request_count 5`, `lb_retries 2`, `lb_try_duration 3s`.
    const ADAPTED: &str = r#"{"apps":{"http":{"servers":{"srv0":{"listen":["127.0.0.1:18590"],
      "routes":[{"handle":[{"handler":"reverse_proxy",
        "health_checks":{"passive":{"fail_duration":10000000000,"max_fails":2,
          "unhealthy_latency":2000000000,"unhealthy_request_count":5,"unhealthy_status":[5,404]}},
        "load_balancing":{"retries":2,"selection_policy":{"policy":"cookie","name":"lb","secret":"s3cret"},
          "try_duration":3000000000},
        "upstreams":[{"dial":"127.0.0.1:18591"},{"dial":"127.0.0.1:18592","max_requests":3}]}]}]}}}}}"#;

    #[test]
    fn imports_what_caddy_adapt_writes_as_the_caddyfile_import_does() {
        let imp = import(ADAPTED, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(imp.name, "apps.http.servers.srv0.routes[0].handle[0]");
        let Some(c) = imp.conf.method.downcast_ref::<CaddyConf>() else {
            panic!("not caddy")
        };
        let caddyfile = super::super::caddyfile::import(
            ":80 {\n reverse_proxy 127.0.0.1:18591 127.0.0.1:18592 {\n  lb_policy cookie lb s3cret\n  \
             fail_duration 10s\n  max_fails 2\n  unhealthy_status 5xx 404\n  unhealthy_latency 2s\n  \
             unhealthy_request_count 5\n  lb_retries 2\n  lb_try_duration 3s\n }\n}\n",
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let Some(want) = caddyfile.conf.method.downcast_ref::<CaddyConf>() else {
            panic!("not caddy")
        };
        assert_eq!(c, want);
        assert_eq!(c.try_interval, SimTime::from_millis(250));
        assert_eq!(imp.conf.servers[1].max_conns, 3);
        assert_eq!(imp.conf.servers[0].cookie, caddyfile.conf.servers[0].cookie);
    }

    #[test]
    fn errors_name_the_json_path() {
        let e = import(&ADAPTED.replace("\"cookie\"", "\"weighted_round_robin\""), None).unwrap_err();
        assert!(
            e.message
                .starts_with("apps.http.servers.srv0.routes[0].handle[0].load_balancing.selection_policy.name"),
            "{e}"
        );
        let wrr = |ws: &str| {
            ADAPTED.replace(
                "{\"policy\":\"cookie\",\"name\":\"lb\",\"secret\":\"s3cret\"}",
                &format!("{{\"policy\":\"weighted_round_robin\",\"weights\":{ws}}}"),
            )
        };
        let e = import(&wrr("[3,0]"), None).unwrap_err();
        assert!(
            e.message.contains("selection_policy.weights") && e.message.contains("`0`"),
            "{e}"
        );
        let e = import(&wrr("[3,1.5]"), None).unwrap_err();
        assert!(e.message.contains("`1.5`"), "{e}");
        let ok = import(&wrr("[3,1]"), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(ok.conf.method.downcast_ref::<CaddyConf>(), Some(c) if c.policy == LbPolicy::WeightedRoundRobin(vec![3, 1])),
            "{:?}",
            ok.conf.method
        );
        let e = import(&ADAPTED.replace("\"max_fails\"", "\"max_fail\""), None).unwrap_err();
        assert!(e.message.contains("health_checks.passive.max_fail: unknown"), "{e}");
        let e = import(&ADAPTED.replace("[5,404]", "[5,42]"), None).unwrap_err();
        assert!(e.message.contains("unhealthy_status[1]"), "{e}");
        let e = import("{\"apps\": [", None).unwrap_err();
        assert!(e.message.contains("not valid JSON"), "{e}");
        assert!(import("{}", None).is_err_and(|e| e.message.contains("no reverse_proxy handler")));
    }

    #[test]
    fn no_panic_on_mangled_input() {
        for t in super::super::mangled(ADAPTED) {
            let _ = import(&t, None);
        }
    }
}
