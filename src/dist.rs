//! Probability distributions as a scenario states them, validated, and how to sample them.
//!
//! One type serves three kinds of quantity: durations (in seconds), counts and sizes (in bytes).
//! The kind only changes how a value is written in a scenario file (a duration needs a unit,
//! `"250ms"`; a size may be `"4KB"`) and how a sample is rounded by its user. Parsing from TOML
//! lives here too, because a distribution is where users type the most and deserve the most
//! precise messages.

use rand::RngExt;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand_distr::{Exp, Geometric, LogNormal, Normal, Pareto, Poisson};
use toml::Value;

/// What a distribution's values measure; fixes how they are written in a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Seconds; written with a unit (`"250ms"`, `"5s"`, `"2h"`).
    Duration,
    /// A whole number of things (requests, items).
    Count,
    /// Bytes; written as a number or with a unit (`"4KB"`, `"1.5MB"`, 1 KB = 1000 bytes).
    Bytes,
}

/// A validated distribution over non-negative values (seconds, counts or bytes), one variant
/// per `dist = "..."` name of docs/scenario-format.md ("Distributions"). Values are in the
/// quantity's base unit: seconds for durations, bytes for sizes.
#[derive(Clone, Debug)]
pub enum Dist {
    /// `dist = "constant"` (or a bare value): always this value.
    Constant(f64),
    /// `dist = "exponential"`: memoryless, as Poisson arrivals' gaps.
    Exponential {
        /// The mean (`mean`).
        mean: f64,
        /// The sampler, rate 1/`mean`.
        exp: Exp<f64>,
    },
    /// `dist = "uniform"`: every value in `[min, max]` equally likely.
    Uniform {
        /// The smallest value (`min`).
        min: f64,
        /// The largest value (`max`), at least `min`.
        max: f64,
    },
    /// Normal truncated at zero: negative draws are redrawn.
    Normal {
        /// The mean before truncation (`mean`), positive.
        mean: f64,
        /// The standard deviation before truncation (`sd`).
        sd: f64,
        /// The untruncated sampler.
        normal: Normal<f64>,
    },
    /// `dist = "lognormal"`, from `mean` and `cv` or from `mu` and `sigma`.
    LogNormal {
        /// The distribution's mean, exp(mu + sigma^2 / 2).
        mean: f64,
        /// The mean and standard deviation of the value's logarithm (what `sessim check`
        /// writes back: `rand_distr::LogNormal` does not give them out).
        mu: f64,
        /// The standard deviation of the value's logarithm (see `mu`).
        sigma: f64,
        /// The sampler.
        ln: LogNormal<f64>,
    },
    /// `dist = "pareto"`: a heavy tail above a minimum.
    Pareto {
        /// The minimum value (`scale`, or derived from `mean`).
        scale: f64,
        /// The tail index alpha (`shape`); the mean is infinite for a shape of at most 1.
        shape: f64,
        /// The sampler.
        pareto: Pareto<f64>,
    },
    /// Number of failures before the first success: support 0, 1, 2, ...
    Geometric {
        /// The mean (`mean`); the success probability is 1/(1 + mean).
        mean: f64,
        /// The sampler.
        geo: Geometric,
    },
    /// `dist = "poisson"`: a count with this mean.
    Poisson {
        /// The mean, which is also the variance (`mean`).
        mean: f64,
        /// The sampler.
        poisson: Poisson<f64>,
    },
    /// `dist = "empirical"`: one of the listed values, with probability proportional to its
    /// weight.
    Empirical {
        /// The possible values (`values`).
        values: Vec<f64>,
        /// Their weights (`weights`, all 1 by default).
        weights: Vec<f64>,
        /// The sampler over the values' indices.
        index: WeightedIndex<f64>,
    },
}

/// Every distribution name a scenario may use, for messages.
pub(crate) const NAMES: &[&str] = &[
    "constant",
    "exponential",
    "uniform",
    "normal",
    "lognormal",
    "pareto",
    "geometric",
    "poisson",
    "empirical",
];

impl Dist {
    /// Draws one value (never negative).
    #[inline]
    pub(crate) fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Exponential { exp, .. } => exp.sample(rng),
            Dist::Uniform { min, max } => {
                if max > min {
                    rng.random_range(*min..*max)
                } else {
                    *min
                }
            }
            Dist::Normal { normal, mean, .. } => {
                // Rejection keeps the shape of the normal above zero. The mean is validated to
                // be positive, so each draw is accepted with probability above one half; the
                // bound only guards against pathological parameters.
                for _ in 0..64 {
                    let x = normal.sample(rng);
                    if x >= 0.0 {
                        return x;
                    }
                }
                *mean
            }
            Dist::LogNormal { ln, .. } => ln.sample(rng),
            Dist::Pareto { pareto, .. } => pareto.sample(rng),
            Dist::Geometric { geo, .. } => geo.sample(rng) as f64,
            Dist::Poisson { poisson, .. } => poisson.sample(rng),
            Dist::Empirical { values, index, .. } => values[index.sample(rng)],
        }
    }

    /// The distribution's mean (infinite for a Pareto with shape <= 1).
    pub(crate) fn mean(&self) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Exponential { mean, .. }
            | Dist::LogNormal { mean, .. }
            | Dist::Geometric { mean, .. }
            | Dist::Poisson { mean, .. } => *mean,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Normal { mean, sd, .. } => {
                // Mean of a normal truncated below at 0: mean + sd * phi(a) / (1 - Phi(a)),
                // a = -mean/sd.
                let a = -mean / sd;
                let phi = (-0.5 * a * a).exp() / (2.0 * std::f64::consts::PI).sqrt();
                let tail = 0.5 * statrs::function::erf::erfc(a / std::f64::consts::SQRT_2);
                mean + sd * phi / tail
            }
            Dist::Pareto { scale, shape, .. } => {
                if *shape > 1.0 {
                    shape * scale / (shape - 1.0)
                } else {
                    f64::INFINITY
                }
            }
            Dist::Empirical { values, weights, .. } => {
                let total: f64 = weights.iter().sum();
                values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total
            }
        }
    }

    pub(crate) fn constant(v: f64) -> Dist {
        Dist::Constant(v)
    }

    pub(crate) fn exponential(mean: f64) -> Result<Dist, String> {
        if !(mean > 0.0 && mean.is_finite()) {
            return Err(format!("mean must be positive, got {mean}"));
        }
        let exp = Exp::new(1.0 / mean).map_err(|e| e.to_string())?;
        Ok(Dist::Exponential { mean, exp })
    }

    /// A short human description, in the units of `kind`, for `sessim check`.
    pub(crate) fn describe(&self, kind: Kind) -> String {
        let f = |v: f64| format_value(v, kind);
        match self {
            Dist::Constant(v) => f(*v),
            Dist::Exponential { mean, .. } => format!("exponential(mean {})", f(*mean)),
            Dist::Uniform { min, max } => format!("uniform({} .. {})", f(*min), f(*max)),
            Dist::Normal { mean, sd, .. } => format!("normal(mean {}, sd {}, truncated at 0)", f(*mean), f(*sd)),
            Dist::LogNormal { mean, .. } => format!("lognormal(mean {})", f(*mean)),
            Dist::Pareto { scale, shape, .. } => format!("pareto(scale {}, shape {shape})", f(*scale)),
            Dist::Geometric { mean, .. } => format!("geometric(mean {})", f(*mean)),
            Dist::Poisson { mean, .. } => format!("poisson(mean {})", f(*mean)),
            Dist::Empirical { values, .. } => format!("empirical({} values, mean {})", values.len(), f(self.mean())),
        }
    }
}

fn format_value(v: f64, kind: Kind) -> String {
    match kind {
        Kind::Duration => {
            if v == 0.0 {
                "0s".into()
            } else if v < 1e-3 {
                format!("{}us", round_sig(v * 1e6))
            } else if v < 1.0 {
                format!("{}ms", round_sig(v * 1e3))
            } else {
                format!("{}s", round_sig(v))
            }
        }
        Kind::Count => format!("{}", round_sig(v)),
        Kind::Bytes => format!("{} B", round_sig(v)),
    }
}

fn round_sig(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Parses a duration written as a string with a unit: `"250ms"`, `"5s"`, `"1h 30m"`,
/// `"1h30m"`, `"0.5s"`. Returns seconds.
///
/// Units are lower-case and mean one thing each: `ns`, `us` (or `µs`), `ms`, `s`, `m` (or
/// `min`), `h`, `d`, `w`, and their long forms (`sec`, `minutes`, `hours`, ...). `M`, which other
/// tools read as months, and every other upper-case unit are refused with the spelling to use,
/// and so are months and years, whose length varies (docs/scenario-format.md, "Durations").
pub(crate) fn parse_duration(s: &str) -> Result<f64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration; write it with a unit, e.g. \"250ms\" or \"5s\"".into());
    }
    if !t.contains(|c: char| !(c.is_ascii_digit() || c == '.')) {
        return Err(format!("`{s}` has no unit; write e.g. \"{s}s\" or \"{s}ms\""));
    }
    // (number, unit) groups, e.g. "1h 30m" -> [("1", "h"), ("30", "m")].
    let mut groups: Vec<(&str, &str)> = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_end);
        if num.is_empty() {
            return Err(format!(
                "`{s}` is not a duration; write a number and a unit, e.g. \"250ms\", \"5s\", \"1h 30m\""
            ));
        }
        let after = after.trim_start();
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(after.len());
        let (unit, tail) = after.split_at(unit_end);
        if unit.is_empty() {
            return Err(format!(
                "`{s}`: `{num}` has no unit; write e.g. \"{num}s\" or \"{num}ms\""
            ));
        }
        groups.push((num, unit));
        rest = tail.trim_start();
    }
    let mut units = Vec::with_capacity(groups.len());
    for &(num, unit) in &groups {
        units.push(duration_unit(unit).map_err(|why| format!("`{s}`: {why}", why = why(num)))?);
    }
    if let [(num, _)] = groups[..]
        && num.contains('.')
    {
        let n: f64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration: `{num}` is not a number"))?;
        return Ok(n * units[0].1);
    }
    if groups.iter().all(|(num, _)| !num.contains('.')) {
        // Whole numbers: summed in nanoseconds, exactly.
        let mut total: u128 = 0;
        for (&(num, _), &(ns, _)) in groups.iter().zip(&units) {
            let n: u128 = num
                .parse()
                .map_err(|_| format!("`{s}` is not a duration: `{num}` is too large"))?;
            total = total
                .checked_add(n.checked_mul(ns).ok_or_else(|| format!("`{s}` is too long"))?)
                .ok_or_else(|| format!("`{s}` is too long"))?;
        }
        let total = u64::try_from(total).map_err(|_| format!("`{s}` is too long"))?;
        return Ok(std::time::Duration::from_nanos(total).as_secs_f64());
    }
    let mut secs = 0.0;
    for (&(num, _), &(_, scale)) in groups.iter().zip(&units) {
        let n: f64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration: `{num}` is not a number"))?;
        secs += n * scale;
    }
    Ok(secs)
}

/// What to say about a unit that is refused, given the number written before it.
type UnitRefusal = Box<dyn Fn(&str) -> String>;

/// A duration unit: its length in nanoseconds and in seconds, or why it is refused.
fn duration_unit(unit: &str) -> Result<(u128, f64), UnitRefusal> {
    if let Some(x) = unit_seconds(unit) {
        return Ok(x);
    }
    let u = unit.to_string();
    Err(match unit {
        "M" => Box::new(|n: &str| {
            format!(
                "`M` is ambiguous (minutes or months?); for minutes write \"{n}m\" or \"{n}min\"; months vary in length: write days, e.g. \"30d\""
            )
        }),
        "mo" | "mon" | "month" | "months" | "y" | "yr" | "year" | "years" | "Y" => Box::new(move |_: &str| {
            format!(
                "months and years vary in length, so `{u}` is not a unit here; write days, e.g. \"30d\" or \"365d\""
            )
        }),
        _ if unit_seconds(&unit.to_lowercase()).is_some() => {
            let lower = unit.to_lowercase();
            Box::new(move |n: &str| format!("units are lower-case: write \"{n}{lower}\", not `{u}`"))
        }
        _ => Box::new(move |_: &str| format!("unknown unit `{u}`; use ns, us, ms, s, m (or min), h, d or w")),
    })
}

/// A unit's length in nanoseconds and in seconds (the seconds as the parser has always
/// scaled a fraction, so that "0.5s" and "1.5h" keep their exact values).
fn unit_seconds(unit: &str) -> Option<(u128, f64)> {
    Some(match unit {
        "ns" | "nsec" | "nsecs" => (1, 1e-9),
        "us" | "usec" | "usecs" | "µs" => (1_000, 1e-6),
        "ms" | "msec" | "msecs" => (1_000_000, 1e-3),
        "s" | "sec" | "secs" | "second" | "seconds" => (1_000_000_000, 1.0),
        "m" | "min" | "mins" | "minute" | "minutes" => (60_000_000_000, 60.0),
        "h" | "hr" | "hrs" | "hour" | "hours" => (3_600_000_000_000, 3600.0),
        "d" | "day" | "days" => (86_400_000_000_000, 86400.0),
        "w" | "week" | "weeks" => (604_800_000_000_000, 604_800.0),
        _ => return None,
    })
}

/// Parses a size: a number of bytes, or a string with a unit (`"512B"`, `"4KB"`, `"1.5MB"`,
/// `"64MiB"`). Decimal units are powers of 1000, binary ones (KiB, MiB, GiB) powers of 1024.
pub(crate) fn parse_bytes(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let pos = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(pos);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size; write e.g. \"4KB\" or 4096"))?;
    let scale = match unit.trim() {
        "" | "B" | "b" => 1.0,
        "KB" | "kB" | "K" | "k" => 1e3,
        "MB" | "M" => 1e6,
        "GB" | "G" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        u => {
            return Err(format!(
                "`{s}`: unknown size unit `{u}`; use B, KB, MB, GB, KiB, MiB or GiB"
            ));
        }
    };
    Ok(n * scale)
}

/// Reads one number of `kind` from a TOML value: a string with a unit for durations, a number
/// (or a string with a unit) for sizes, a number for counts.
pub(crate) fn parse_scalar(v: &Value, kind: Kind) -> Result<f64, String> {
    let x = match (v, kind) {
        (Value::String(s), Kind::Duration) => parse_duration(s)?,
        (Value::String(s), Kind::Bytes) => parse_bytes(s)?,
        (Value::Integer(_) | Value::Float(_), Kind::Duration) => {
            return Err(format!(
                "a duration needs a unit: write \"{}s\" or \"{}ms\", not {}",
                v, v, v
            ));
        }
        (Value::Integer(i), _) => *i as f64,
        (Value::Float(f), _) => *f,
        (Value::String(s), Kind::Count) => {
            return Err(format!("expected a number, got the string \"{s}\""));
        }
        (other, _) => return Err(format!("expected {}, got {}", expected(kind), type_name(other))),
    };
    if !x.is_finite() || x < 0.0 {
        return Err(format!("must be a non-negative number, got {x}"));
    }
    Ok(x)
}

fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Duration => "a duration such as \"250ms\"",
        Kind::Count => "a number",
        Kind::Bytes => "a size such as \"4KB\" or 4096",
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// Parses a distribution: a plain value (a constant), or a table `{ dist = "...", ... }`.
/// Errors are phrased relative to the value; the caller prefixes the key path.
pub(crate) fn parse(v: &Value, kind: Kind) -> Result<Dist, String> {
    let t = match v {
        Value::Table(t) => t,
        other => return parse_scalar(other, kind).map(Dist::Constant),
    };
    let name = match t.get("dist") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Err(format!("`dist` must be a string, got {}", type_name(other))),
        None => {
            return Err(format!(
                "a distribution table needs `dist = \"...\"`, one of: {}",
                NAMES.join(", ")
            ));
        }
    };
    let allowed: &[&str] = match name {
        "constant" => &["value"],
        "exponential" => &["mean"],
        "uniform" => &["min", "max"],
        "normal" => &["mean", "sd"],
        "lognormal" => &["mean", "cv", "mu", "sigma"],
        "pareto" => &["scale", "shape", "mean"],
        "geometric" | "poisson" => &["mean"],
        "empirical" => &["values", "weights"],
        other => {
            return Err(format!(
                "unknown distribution `{other}`{}; use one of: {}",
                suggest(other, NAMES),
                NAMES.join(", ")
            ));
        }
    };
    for key in t.keys() {
        if key != "dist" && !allowed.contains(&key.as_str()) {
            return Err(format!(
                "unknown key `{key}` for a {name} distribution{}; it takes: {}",
                suggest(key, allowed),
                allowed.join(", ")
            ));
        }
    }
    let get = |k: &str| -> Result<Option<f64>, String> {
        t.get(k)
            .map(|v| parse_scalar(v, kind).map_err(|e| format!("{k}: {e}")))
            .transpose()
    };
    let need = |k: &str| -> Result<f64, String> { get(k)?.ok_or_else(|| format!("a {name} distribution needs `{k}`")) };
    // Plain positive numbers (shapes, coefficients) are unit-free whatever the kind.
    let num = |k: &str| -> Result<Option<f64>, String> {
        match t.get(k) {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(Value::Float(f)) => Ok(Some(*f)),
            Some(other) => Err(format!("{k}: expected a number, got {}", type_name(other))),
        }
    };
    let d = match name {
        "constant" => Dist::Constant(need("value")?),
        "exponential" => Dist::exponential(need("mean")?)?,
        "uniform" => {
            let (min, max) = (need("min")?, need("max")?);
            if max < min {
                return Err(format!("max must be at least min, got min {min} and max {max}"));
            }
            Dist::Uniform { min, max }
        }
        "normal" => {
            let (mean, sd) = (need("mean")?, need("sd")?);
            if mean <= 0.0 {
                return Err("mean must be positive (the normal is truncated at 0)".into());
            }
            let normal = Normal::new(mean, sd).map_err(|e| format!("sd: {e}"))?;
            Dist::Normal { mean, sd, normal }
        }
        "lognormal" => {
            let (mu, sigma) = match (get("mean")?, num("cv")?, num("mu")?, num("sigma")?) {
                (Some(mean), Some(cv), None, None) => {
                    if mean <= 0.0 || cv <= 0.0 {
                        return Err("mean and cv must be positive".into());
                    }
                    // For X ~ LogNormal(mu, sigma): cv^2 = exp(sigma^2) - 1 and
                    // mean = exp(mu + sigma^2 / 2).
                    let s2 = (1.0 + cv * cv).ln();
                    (mean.ln() - s2 / 2.0, s2.sqrt())
                }
                (None, None, Some(mu), Some(sigma)) => (mu, sigma),
                _ => {
                    return Err("a lognormal takes either `mean` and `cv`, or `mu` and `sigma` \
                                (of the logarithm of the value in seconds, counts or bytes)"
                        .into());
                }
            };
            let ln = LogNormal::new(mu, sigma).map_err(|e| format!("sigma: {e}"))?;
            Dist::LogNormal {
                mean: (mu + sigma * sigma / 2.0).exp(),
                mu,
                sigma,
                ln,
            }
        }
        "pareto" => {
            let shape = num("shape")?.ok_or("a pareto distribution needs `shape` (alpha)")?;
            if shape <= 0.0 {
                return Err(format!("shape must be positive, got {shape}"));
            }
            let scale = match (get("scale")?, get("mean")?) {
                (Some(s), None) => s,
                (None, Some(m)) => {
                    if shape <= 1.0 {
                        return Err("a pareto with shape <= 1 has no finite mean; give `scale`".into());
                    }
                    m * (shape - 1.0) / shape
                }
                _ => return Err("a pareto takes `shape` and either `scale` (the minimum) or `mean`".into()),
            };
            let pareto = Pareto::new(scale, shape).map_err(|e| format!("scale: {e}"))?;
            Dist::Pareto { scale, shape, pareto }
        }
        "geometric" => {
            let mean = need("mean")?;
            // Failures before the first success with success probability p has mean (1-p)/p.
            let geo = Geometric::new(1.0 / (1.0 + mean)).map_err(|e| format!("mean: {e}"))?;
            Dist::Geometric { mean, geo }
        }
        "poisson" => {
            let mean = need("mean")?;
            if mean == 0.0 {
                Dist::Constant(0.0)
            } else {
                let poisson = Poisson::new(mean).map_err(|e| format!("mean: {e}"))?;
                Dist::Poisson { mean, poisson }
            }
        }
        "empirical" => {
            let values = match t.get("values") {
                Some(Value::Array(a)) if !a.is_empty() => a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| parse_scalar(v, kind).map_err(|e| format!("values[{i}]: {e}")))
                    .collect::<Result<Vec<f64>, String>>()?,
                _ => return Err("an empirical distribution needs a non-empty array `values`".into()),
            };
            let weights = match t.get("weights") {
                None => vec![1.0; values.len()],
                Some(Value::Array(a)) => a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        Value::Integer(n) if *n >= 0 => Ok(*n as f64),
                        Value::Float(f) if *f >= 0.0 && f.is_finite() => Ok(*f),
                        _ => Err(format!("weights[{i}]: expected a non-negative number")),
                    })
                    .collect::<Result<Vec<f64>, String>>()?,
                Some(other) => return Err(format!("weights: expected an array, got {}", type_name(other))),
            };
            if weights.len() != values.len() {
                return Err(format!(
                    "weights has {} entries but values has {}; give one weight per value",
                    weights.len(),
                    values.len()
                ));
            }
            let index =
                WeightedIndex::new(weights.iter().copied()).map_err(|_| "weights must not all be zero".to_string())?;
            Dist::Empirical { values, weights, index }
        }
        _ => unreachable!("names are checked above"),
    };
    Ok(d)
}

/// `"; did you mean `x`?"` when a candidate is close to `got`, else an empty string.
pub(crate) fn suggest(got: &str, candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(got, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{Stream, stream};

    fn val(s: &str) -> Value {
        let t: toml::Table = toml::from_str(&format!("x = {s}")).expect("test TOML");
        t["x"].clone()
    }

    fn sample_mean(d: &Dist, n: usize) -> f64 {
        let mut r = stream(1, 0, Stream::ServiceTime);
        (0..n).map(|_| d.sample(&mut r)).sum::<f64>() / n as f64
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(0.25));
        assert_eq!(parse_duration("2h"), Ok(7200.0));
        assert_eq!(parse_duration("1h 30m"), Ok(5400.0));
        assert_eq!(parse_duration("0.5s"), Ok(0.5));
        assert_eq!(parse_duration("200us"), Ok(0.0002));
        assert!(parse_duration("5").unwrap_err().contains("has no unit"));
        assert!(parse_duration("1.5parsecs").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn every_documented_unit_has_its_length() {
        // The units table of docs/scenario-format.md ("Durations"), each as its length in s.
        let cases = [
            ("3ns", 3e-9),
            ("3us", 3e-6),
            ("3µs", 3e-6),
            ("3ms", 0.003),
            ("3s", 3.0),
            ("3sec", 3.0),
            ("3seconds", 3.0),
            ("3m", 180.0),
            ("3min", 180.0),
            ("3minutes", 180.0),
            ("3h", 10_800.0),
            ("3hr", 10_800.0),
            ("3hours", 10_800.0),
            ("3d", 259_200.0),
            ("3days", 259_200.0),
            ("3w", 1_814_400.0),
            ("3weeks", 1_814_400.0),
            // Groups add up, with or without spaces.
            ("1h30m", 5400.0),
            ("1d 2h 3m 4s", 93_784.0),
            ("2 s", 2.0),
            // A fraction with one unit scales as it always has; with several, each adds.
            ("1.5h", 5400.0),
            ("1.5m 30s", 120.0),
        ];
        for (text, secs) in cases {
            let got = parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!((got - secs).abs() <= secs * 1e-12, "{text}: {got} s, expected {secs} s");
        }
        // Whole numbers are summed in nanoseconds, so these are exact.
        assert_eq!(
            parse_duration("3ms"),
            Ok(std::time::Duration::from_millis(3).as_secs_f64())
        );
    }

    #[test]
    fn case_ambiguous_units_are_refused_with_the_spelling_to_use() {
        assert_eq!(
            parse_duration("10M").unwrap_err(),
            "`10M`: `M` is ambiguous (minutes or months?); for minutes write \"10m\" or \"10min\"; months vary \
             in length: write days, e.g. \"30d\""
        );
        for text in ["2mo", "1y", "3months", "1year"] {
            let e = parse_duration(text).unwrap_err();
            assert!(e.contains("months and years vary in length"), "{text}: {e}");
            assert!(e.contains("write days, e.g. \"30d\" or \"365d\""), "{text}: {e}");
        }
        assert_eq!(
            parse_duration("5S").unwrap_err(),
            "`5S`: units are lower-case: write \"5s\", not `S`"
        );
        assert_eq!(
            parse_duration("20MS").unwrap_err(),
            "`20MS`: units are lower-case: write \"20ms\", not `MS`"
        );
        assert_eq!(
            parse_duration("1h 5x").unwrap_err(),
            "`1h 5x`: unknown unit `x`; use ns, us, ms, s, m (or min), h, d or w"
        );
        assert!(parse_duration("ms").unwrap_err().contains("write a number and a unit"));
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_bytes("4KB"), Ok(4000.0));
        assert_eq!(parse_bytes("1KiB"), Ok(1024.0));
        assert_eq!(parse_bytes("512"), Ok(512.0));
        assert!(parse_bytes("3 parsecs").is_err());
    }

    #[test]
    fn scalar_kinds_are_enforced() {
        assert!(parse(&val("5"), Kind::Duration).unwrap_err().contains("needs a unit"));
        assert!(
            parse(&val("\"5s\""), Kind::Count)
                .unwrap_err()
                .contains("expected a number")
        );
        assert!(matches!(parse(&val("7"), Kind::Count), Ok(Dist::Constant(v)) if v == 7.0));
        assert!(parse(&val("-1"), Kind::Count).is_err());
    }

    #[test]
    fn unknown_names_and_keys_get_suggestions() {
        let e = parse(&val("{ dist = \"exponentail\", mean = \"1s\" }"), Kind::Duration).unwrap_err();
        assert!(e.contains("did you mean `exponential`"), "{e}");
        let e = parse(&val("{ dist = \"exponential\", maen = \"1s\" }"), Kind::Duration).unwrap_err();
        assert!(
            e.contains("unknown key `maen`") && e.contains("did you mean `mean`"),
            "{e}"
        );
        let e = parse(&val("{ mean = \"1s\" }"), Kind::Duration).unwrap_err();
        assert!(e.contains("needs `dist"), "{e}");
    }

    #[test]
    fn sample_means_match_the_stated_means() {
        // 200k draws: the standard error of each mean is below 1% for these shapes.
        let cases = [
            ("{ dist = \"exponential\", mean = \"50ms\" }", 0.05),
            ("{ dist = \"uniform\", min = \"1s\", max = \"3s\" }", 2.0),
            ("{ dist = \"lognormal\", mean = \"2s\", cv = 1.5 }", 2.0),
            ("{ dist = \"pareto\", mean = \"1s\", shape = 3.0 }", 1.0),
            ("{ dist = \"normal\", mean = \"1s\", sd = \"0.2s\" }", 1.0),
        ];
        for (src, want) in cases {
            let d = parse(&val(src), Kind::Duration).expect(src);
            assert!(
                (d.mean() - want).abs() < 1e-6 * want.max(1.0),
                "{src}: mean() = {}",
                d.mean()
            );
            let got = sample_mean(&d, 200_000);
            assert!(
                (got - want).abs() < 0.03 * want,
                "{src}: sample mean {got}, want {want}"
            );
        }
        for (src, want) in [
            ("{ dist = \"geometric\", mean = 9 }", 9.0),
            ("{ dist = \"poisson\", mean = 4 }", 4.0),
        ] {
            let d = parse(&val(src), Kind::Count).expect(src);
            let got = sample_mean(&d, 200_000);
            assert!(
                (got - want).abs() < 0.02 * want,
                "{src}: sample mean {got}, want {want}"
            );
        }
    }

    #[test]
    fn truncated_normal_mean_accounts_for_truncation() {
        // mean 1, sd 1: E[X | X >= 0] = 1 + phi(-1) / (1 - Phi(-1)) = 1 + 0.24197 / 0.84134 = 1.28760.
        let d = parse(&val("{ dist = \"normal\", mean = 1, sd = 1 }"), Kind::Count).unwrap();
        assert!((d.mean() - 1.28760).abs() < 1e-4, "{}", d.mean());
        assert!((sample_mean(&d, 200_000) - 1.28760).abs() < 0.01);
    }

    #[test]
    fn empirical_uses_weights() {
        let d = parse(
            &val("{ dist = \"empirical\", values = [1, 10], weights = [3, 1] }"),
            Kind::Count,
        )
        .unwrap();
        assert_eq!(d.mean(), 3.25);
        assert!((sample_mean(&d, 100_000) - 3.25).abs() < 0.05);
        let e = parse(
            &val("{ dist = \"empirical\", values = [1, 10], weights = [3] }"),
            Kind::Count,
        )
        .unwrap_err();
        assert!(e.contains("one weight per value"), "{e}");
    }
}
