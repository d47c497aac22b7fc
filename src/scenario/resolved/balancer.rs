//! The `[balancer]` table of a resolved scenario: the policy and its keys, whatever family.

use super::super::BalancerConfig;
use super::values::*;
use super::*;
use crate::balancer::registry::Family;
use crate::balancer::{FailurePolicy, KeyValue, Keys, NEXT_UPSTREAM_STATUSES};
use crate::engine::SimTime;
use toml::Value;

/// The `[balancer]` keys of a policy, every one of them (an imported balancer: the file and
/// its block; the file sets the rest).
pub(super) fn balancer(b: &BalancerConfig) -> Tbl {
    let mut t: Tbl = Vec::new();
    let c = b.conf.conf();
    if let Some(i) = &b.import {
        put(&mut t, "config", abs(std::path::Path::new(&i.path)));
        put(
            &mut t,
            if i.format == "haproxy" { "backend" } else { "upstream" },
            i.block.as_str(),
        );
        return t;
    }
    put(&mut t, "policy", b.policy.name);
    let check = c.servers.first().and_then(|s| s.check);
    let put_check = |t: &mut Tbl| match check {
        Some(k) => {
            put(t, "check", true);
            put(t, "inter", dur(k.inter));
            put(t, "fall", k.fall as i64);
            put(t, "rise", k.rise as i64);
        }
        None => put(t, "check", false),
    };
    let mut keys = Keys::default();
    c.method.keys(&c.servers, &mut keys);
    for (k, v) in keys.0 {
        put(&mut t, k, key_value(v));
    }
    if let Some(k) = &c.cookie {
        put(&mut t, "cookie_name", k.name.as_str());
        put(
            &mut t,
            "cookie_balance",
            // The HAProxy algorithm's `balance` name, as the loader looks it up.
            c.method.info().directive,
        );
    }
    let mut outlier_t = None;
    if let Some(o) = c.method.outlier() {
        let mut ot: Tbl = Vec::new();
        put(&mut ot, "consecutive_5xx", o.consecutive_5xx as i64);
        put(&mut ot, "interval", dur(o.interval));
        put(&mut ot, "base_ejection_time", dur(o.base_ejection_time));
        put(&mut ot, "max_ejection_time", dur(o.max_ejection_time));
        put(&mut ot, "max_ejection_percent", o.max_ejection_percent as i64);
        outlier_t = Some(ot);
    }
    match b.policy.family {
        Family::Nginx => {
            let (max_fails, fail_timeout) = nginx_failure(c);
            put(&mut t, "max_fails", max_fails as i64);
            put(&mut t, "fail_timeout", dur(fail_timeout));
            if let FailurePolicy::Nginx(n) = c.failure {
                let mut words: Vec<Value> = Vec::new();
                if n.error {
                    words.push("error".into());
                }
                if n.timeout {
                    words.push("timeout".into());
                }
                for (bit, status) in NEXT_UPSTREAM_STATUSES.iter().enumerate() {
                    if n.http & (1 << bit) != 0 {
                        words.push(format!("http_{status}").into());
                    }
                }
                if words.is_empty() {
                    words.push("off".into());
                }
                put(&mut t, "next_upstream", Value::Array(words));
                put(&mut t, "next_upstream_tries", n.tries as i64);
            }
        }
        Family::Haproxy => {
            put_check(&mut t);
            if let FailurePolicy::Haproxy(h) = c.failure {
                put(&mut t, "retries", h.retries as i64);
                put(&mut t, "redispatch", h.redispatch.is_some());
                put(&mut t, "connect_timeout", dur(h.connect_timeout));
            }
        }
        Family::Envoy | Family::KubeProxy => put_check(&mut t),
        Family::Apache | Family::Caddy => {}
    }
    if let Some(ot) = outlier_t {
        put_node(&mut t, "outlier_detection", Node::T(ot));
    }
    t
}

/// The nginx family's `max_fails` and `fail_timeout` most servers have (the first such on a
/// tie): written in `[balancer]`, and on a server only where it differs.
pub(super) fn nginx_failure(c: &crate::balancer::BalancerConf) -> (u32, SimTime) {
    let pairs: Vec<(u32, SimTime)> = c.servers.iter().map(|s| (s.max_fails, s.fail_timeout)).collect();
    let count = |p: &(u32, SimTime)| pairs.iter().filter(|q| *q == p).count();
    let mut best = pairs.first().copied().unwrap_or((1, SimTime::from_secs(10)));
    for p in &pairs {
        if count(p) > count(&best) {
            best = *p;
        }
    }
    best
}

/// A key's value as TOML: a duration as the loader reads it back ([`dur`]).
fn key_value(v: KeyValue) -> Value {
    match v {
        KeyValue::Str(s) => Value::String(s),
        KeyValue::Int(n) => Value::Integer(n),
        KeyValue::Float(x) => Value::Float(x),
        KeyValue::Bool(b) => Value::Boolean(b),
        KeyValue::Time(t) => dur(t),
        KeyValue::List(l) => Value::Array(l.into_iter().map(Value::String).collect()),
    }
}
