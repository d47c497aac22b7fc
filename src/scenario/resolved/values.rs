//! Values as the loader reads them: durations and sizes in its units, distributions, paths.

use crate::dist::{Dist, Kind};
use crate::engine::SimTime;
use toml::Value;

/// A time as the loader reads it back to the same nanosecond: the shorter of whole-number
/// groups (`"1h 30m"`, `"250ms"`, `"0s"`, summed exactly) and one decimal (`"1.5s"`).
pub(super) fn dur(t: SimTime) -> Value {
    let mut n = t.as_nanos();
    if n == 0 {
        return Value::String("0s".into());
    }
    let total = n;
    let mut parts = Vec::new();
    for (unit, len) in [
        ("h", 3_600_000_000_000u64),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if n >= len {
            parts.push(format!("{}{unit}", n / len));
            n %= len;
        }
    }
    let mut best = parts.join(" ");
    for (unit, len) in [("h", 3.6e12), ("m", 6e10), ("s", 1e9), ("ms", 1e6), ("us", 1e3)] {
        let x = format!("{}", total as f64 / len);
        if x.contains('.') {
            let c = format!("{x}{unit}");
            let back = crate::dist::parse_duration(&c).map(SimTime::from_secs_f64);
            if c.len() < best.len() && back == Ok(t) {
                best = c;
            }
        }
    }
    Value::String(best)
}

/// Seconds (a distribution's parameter) as a duration the loader reads back to the same `f64`:
/// the shortest of whole nanoseconds (summed exactly) and a decimal in one unit (read as
/// `n * unit`, e.g. `"10.0us"` for the 10 us that `10.0 * 1e-6` makes), among those exact.
pub(super) fn secs(v: f64) -> Value {
    let mut best: Option<String> = None;
    let mut consider = |c: String| {
        if best.as_ref().is_none_or(|b| c.len() < b.len()) {
            best = Some(c);
        }
    };
    let n = (v * 1e9).round();
    if (0.0..1.8e19).contains(&n)
        && std::time::Duration::from_nanos(n as u64).as_secs_f64() == v
        && let Value::String(s) = dur(SimTime(n as u64))
    {
        consider(s);
    }
    for (unit, scale) in [
        ("h", 3600.0),
        ("m", 60.0),
        ("s", 1.0),
        ("ms", 1e-3),
        ("us", 1e-6),
        ("ns", 1e-9),
    ] {
        let x = format!("{}", v / scale);
        let x = if x.contains('.') { x } else { format!("{x}.0") };
        if x.parse::<f64>().is_ok_and(|p| p * scale == v) {
            consider(format!("{x}{unit}"));
        }
    }
    Value::String(best.unwrap_or_else(|| format!("{v}s")))
}

/// A size in bytes: with a unit when it is a whole number of them (`"64MiB"`, `"4KB"`).
pub(super) fn bytes(n: u64) -> Value {
    if n > 0 {
        for (unit, len) in [
            ("GiB", 1u64 << 30),
            ("MiB", 1 << 20),
            ("GB", 1_000_000_000),
            ("MB", 1_000_000),
            ("KB", 1_000),
        ] {
            if n.is_multiple_of(len) {
                return Value::String(format!("{}{unit}", n / len));
            }
        }
    }
    Value::Integer(n as i64)
}

/// A number of `kind` as the loader reads it.
pub(super) fn scalar(v: f64, kind: Kind) -> Value {
    let whole = v.fract() == 0.0 && v.abs() < 9e15;
    match kind {
        Kind::Duration => secs(v),
        Kind::Bytes if whole => bytes(v as u64),
        Kind::Count if whole => Value::Integer(v as i64),
        _ => Value::Float(v),
    }
}

/// `x` to `digits` significant digits.
pub(super) fn round_sig(x: f64, digits: usize) -> f64 {
    format!("{:.*e}", digits.saturating_sub(1), x).parse().unwrap_or(x)
}

/// A lognormal's `mean` and `cv`, as most files write them, with the fewest significant digits
/// that give back exactly its mu and sigma by the loader's formula (src/dist.rs:
/// sigma^2 = ln(1 + cv^2), mu = ln(mean) - sigma^2 / 2); `None` when no such pair exists.
pub(super) fn mean_cv(mu: f64, sigma: f64, kind: Kind) -> Option<(Value, f64)> {
    let exact_cv = (sigma * sigma).exp_m1().sqrt();
    let cv = (1..=17)
        .map(|d| round_sig(exact_cv, d))
        .find(|cv| (1.0 + cv * cv).ln().sqrt() == sigma)?;
    let s2 = (1.0 + cv * cv).ln();
    let exact_mean = (mu + s2 / 2.0).exp();
    (1..=17).find_map(|d| {
        let v = scalar(round_sig(exact_mean, d), kind);
        let m = crate::dist::parse_scalar(&v, kind).ok()?;
        (m.ln() - s2 / 2.0 == mu).then_some((v, cv))
    })
}

/// A value as written in the file; a distribution's table with `dist` first and its
/// parameters in the order the docs give them.
pub(super) fn show(v: &Value) -> String {
    match v {
        Value::Table(t) if t.contains_key("dist") => {
            const ORDER: &[&str] = &[
                "dist", "value", "mean", "cv", "mu", "sigma", "sd", "min", "max", "scale", "shape", "values", "weights",
            ];
            let mut keys: Vec<&String> = t.keys().collect();
            keys.sort_by_key(|k| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
            let parts: Vec<String> = keys.iter().map(|k| format!("{k} = {}", show(&t[*k]))).collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// A distribution: a constant as a plain value, anything else as `{ dist = ..., ... }`.
pub(super) fn dist(d: &Dist, kind: Kind) -> Value {
    let mut t = toml::Table::new();
    let mut name = |n: &str| {
        t.insert("dist".into(), Value::String(n.into()));
    };
    match d {
        Dist::Constant(v) => return scalar(*v, kind),
        Dist::Exponential { mean, .. } => {
            name("exponential");
            t.insert("mean".into(), scalar(*mean, kind));
        }
        Dist::Uniform { min, max } => {
            name("uniform");
            t.insert("min".into(), scalar(*min, kind));
            t.insert("max".into(), scalar(*max, kind));
        }
        Dist::Normal { mean, sd, .. } => {
            name("normal");
            t.insert("mean".into(), scalar(*mean, kind));
            t.insert("sd".into(), scalar(*sd, kind));
        }
        Dist::LogNormal { mu, sigma, .. } => {
            name("lognormal");
            match mean_cv(*mu, *sigma, kind) {
                Some((mean, cv)) => {
                    t.insert("mean".into(), mean);
                    t.insert("cv".into(), Value::Float(cv));
                }
                None => {
                    t.insert("mu".into(), Value::Float(*mu));
                    t.insert("sigma".into(), Value::Float(*sigma));
                }
            }
        }
        Dist::Pareto { scale, shape, .. } => {
            name("pareto");
            t.insert("scale".into(), scalar(*scale, kind));
            t.insert("shape".into(), Value::Float(*shape));
        }
        Dist::Geometric { mean, .. } => {
            name("geometric");
            t.insert("mean".into(), scalar(*mean, kind));
        }
        Dist::Poisson { mean, .. } => {
            name("poisson");
            t.insert("mean".into(), scalar(*mean, kind));
        }
        Dist::Empirical { values, weights, .. } => {
            name("empirical");
            t.insert(
                "values".into(),
                Value::Array(values.iter().map(|v| scalar(*v, kind)).collect()),
            );
            t.insert(
                "weights".into(),
                Value::Array(weights.iter().map(|w| Value::Float(*w)).collect()),
            );
        }
    }
    Value::Table(t)
}

/// The scenario name of an enum value, from its `ALL` list.
pub(super) fn name_of<T: PartialEq>(all: &[(&'static str, T)], v: &T) -> &'static str {
    all.iter().find(|(_, x)| x == v).map_or("", |(n, _)| *n)
}

/// A path as an absolute one, so that the resolved file works from any folder.
pub(super) fn abs(p: &std::path::Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}
