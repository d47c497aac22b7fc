//! The value spec of one sweep axis, shared by the `[sweep]` section and `--vary KEY=SPEC`:
//!
//! - a list: `1,2,4,8`, `round_robin,random`, or a TOML array `[1, 2.5, "x"]` (needed when a
//!   value itself contains commas, such as a distribution table);
//! - a linear range `START..END` (step 1) or `START..END+STEP`, END included when reached;
//! - a geometric range `START..ENDxFACTOR` (e.g. `10..1000x1.5`): START, START*FACTOR, ...
//!   while at most END.
//!
//! A range whose START (and STEP) are written as integers yields integers; a geometric range
//! with an integer START rounds each value to the nearest integer and drops repeats, so
//! `1..20x1.5` is 1, 2, 3, 5, 8, 11, 17. Float values are rounded to 12 significant digits so
//! that `0.1..0.5+0.1` is 0.1, 0.2, 0.3, 0.4, 0.5 and not 0.30000000000000004.

use toml::Value;

/// At most this many values per axis: a typo such as `1..1e9` must not allocate a billion.
pub(crate) const MAX_VALUES: usize = 100_000;

/// Parses a spec string into its values, in order. The message (without a prefix) says what
/// is wrong and shows the valid forms.
pub(crate) fn parse(spec: &str) -> Result<Vec<Value>, String> {
    let s = spec.trim();
    if s.is_empty() {
        return Err(format!("no values; {FORMS}"));
    }
    if s.starts_with('[') {
        let t: toml::Table = toml::from_str(&format!("v = {s}"))
            .map_err(|e| format!("`{s}` is not a TOML array: {}", first_line(&e)))?;
        return match t.get("v") {
            Some(Value::Array(a)) if !a.is_empty() => Ok(a.clone()),
            _ => Err(format!("`{s}`: the list is empty; {FORMS}")),
        };
    }
    if let Some((start, rest)) = s.split_once("..") {
        return range(start.trim(), rest.trim(), s);
    }
    let values: Vec<Value> = s.split(',').map(|v| scalar(v.trim())).collect();
    if values.iter().any(|v| matches!(v, Value::String(x) if x.is_empty())) {
        return Err(format!("`{s}` has an empty value; {FORMS}"));
    }
    Ok(values)
}

const FORMS: &str = "write a list `1,2,4`, a range `2..64` or `10..100+10`, or a geometric range `10..1000x1.5`";

fn first_line(e: &impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or("").to_string()
}

/// One value as TOML (`8`, `0.5`, `true`, `"5s"`), or a plain string when it is not TOML, so
/// that `random` needs no quotes (as `--set` reads its values).
fn scalar(raw: &str) -> Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").unwrap_or(Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

/// A number of a range, and whether it was written as an integer.
fn number(raw: &str, what: &str, spec: &str) -> Result<(f64, bool), String> {
    if raw.is_empty() {
        return Err(format!("`{spec}`: the {what} is missing; {FORMS}"));
    }
    if let Ok(i) = raw.parse::<i64>() {
        return Ok((i as f64, true));
    }
    match raw.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok((x, false)),
        _ => Err(format!("`{spec}`: the {what} `{raw}` is not a number; {FORMS}")),
    }
}

fn range(start: &str, rest: &str, spec: &str) -> Result<Vec<Value>, String> {
    let (start, start_int) = number(start, "start", spec)?;
    // `x` or `*` introduces a factor, `+` a step; otherwise the step is 1.
    let (end, op) = if let Some((e, f)) = rest.split_once(['x', '*']) {
        (e.trim(), Some(('x', f.trim())))
    } else if let Some((e, st)) = rest.split_once('+') {
        (e.trim(), Some(('+', st.trim())))
    } else {
        (rest, None)
    };
    let (end, _) = number(end, "end", spec)?;
    if end < start {
        return Err(format!(
            "`{spec}`: the end {end} is below the start {start}; ranges go upwards"
        ));
    }
    let mut out: Vec<Value> = Vec::new();
    // A relative tolerance so that 0.1..0.5+0.1 reaches 0.5 despite rounding.
    let limit = end + 1e-9 * end.abs().max(1.0);
    match op {
        Some(('x', f)) => {
            let (factor, _) = number(f, "factor", spec)?;
            if factor <= 1.0 {
                return Err(format!("`{spec}`: the factor must be above 1, got {factor}"));
            }
            if start <= 0.0 {
                return Err(format!(
                    "`{spec}`: a geometric range needs a positive start, got {start}"
                ));
            }
            // Bounds the loop below (rounding may drop repeats, so counting values is not enough).
            if (end / start).ln() / factor.ln() > MAX_VALUES as f64 {
                return Err(too_many(spec));
            }
            for k in 0.. {
                let x = start * factor.powi(k);
                if x > limit {
                    break;
                }
                let v = if start_int {
                    Value::Integer(x.round() as i64)
                } else {
                    Value::Float(round12(x))
                };
                if out.last() != Some(&v) {
                    out.push(v);
                }
                if out.len() > MAX_VALUES {
                    return Err(too_many(spec));
                }
            }
        }
        step => {
            let (step, step_int) = match step {
                Some((_, st)) => number(st, "step", spec)?,
                None => (1.0, true),
            };
            if step <= 0.0 {
                return Err(format!("`{spec}`: the step must be positive, got {step}"));
            }
            if (end - start) / step > MAX_VALUES as f64 {
                return Err(too_many(spec));
            }
            for k in 0.. {
                let x = start + step * k as f64;
                if x > limit {
                    break;
                }
                out.push(if start_int && step_int {
                    Value::Integer(x.round() as i64)
                } else {
                    Value::Float(round12(x))
                });
            }
        }
    }
    Ok(out)
}

fn too_many(spec: &str) -> String {
    format!("`{spec}` makes more than {MAX_VALUES} values; use a larger step or factor")
}

/// Rounds to 12 significant digits (exact for the decimal steps people write).
fn round12(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    format!("{x:.11e}").parse().unwrap_or(x)
}

/// How a value is written in `sweep.csv` and in messages: strings bare, anything else as TOML.
pub(crate) fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(spec: &str) -> Vec<String> {
        parse(spec).unwrap().iter().map(display).collect()
    }

    #[test]
    fn lists() {
        assert_eq!(shown("1,2,4"), ["1", "2", "4"]);
        assert_eq!(shown("round_robin, random"), ["round_robin", "random"]);
        assert_eq!(shown("0.5,\"5s\",true"), ["0.5", "5s", "true"]);
        assert_eq!(
            shown("[{ dist = \"constant\", value = \"1s\" }, 3]"),
            ["{ dist = \"constant\", value = \"1s\" }", "3"]
        );
        assert_eq!(parse("7").unwrap(), [Value::Integer(7)]);
    }

    #[test]
    fn linear_ranges_include_the_end() {
        assert_eq!(shown("2..6"), ["2", "3", "4", "5", "6"]);
        assert_eq!(shown("10..40+10"), ["10", "20", "30", "40"]);
        assert_eq!(shown("10..45+10"), ["10", "20", "30", "40"]);
        assert_eq!(shown("0.1..0.5+0.1"), ["0.1", "0.2", "0.3", "0.4", "0.5"]);
        assert_eq!(shown("1..2+0.5"), ["1.0", "1.5", "2.0"]);
        assert_eq!(shown("3..3"), ["3"]);
    }

    #[test]
    fn geometric_ranges() {
        // 10 * 1.5^k: 10, 15, 22.5, 33.75, 50.625, 75.9375, ... rounded half away from zero when
        // START is an integer.
        assert_eq!(
            shown("10..1000x1.5"),
            [
                "10", "15", "23", "34", "51", "76", "114", "171", "256", "384", "577", "865"
            ]
        );
        assert_eq!(shown("10.0..60 x1.5"), ["10.0", "15.0", "22.5", "33.75", "50.625"]);
        assert_eq!(shown("2..64x2"), ["2", "4", "8", "16", "32", "64"]);
        // Repeats after rounding are dropped.
        assert_eq!(shown("1..20x1.5"), ["1", "2", "3", "5", "8", "11", "17"]);
    }

    #[test]
    fn errors_show_the_valid_forms() {
        let e = parse("").unwrap_err();
        assert!(e.starts_with("no values; write a list"), "{e}");
        assert_eq!(
            parse("5..2").unwrap_err(),
            "`5..2`: the end 2 is below the start 5; ranges go upwards"
        );
        assert_eq!(
            parse("1..10+0").unwrap_err(),
            "`1..10+0`: the step must be positive, got 0"
        );
        assert_eq!(
            parse("1..10x1").unwrap_err(),
            "`1..10x1`: the factor must be above 1, got 1"
        );
        assert_eq!(
            parse("0..10x2").unwrap_err(),
            "`0..10x2`: a geometric range needs a positive start, got 0"
        );
        assert!(
            parse("a..10")
                .unwrap_err()
                .starts_with("`a..10`: the start `a` is not a number")
        );
        assert!(parse("1..x").unwrap_err().starts_with("`1..x`: the end is missing"));
        assert!(parse("1..1e9").unwrap_err().contains("more than 100000 values"));
        assert!(
            parse("1..10x1.000000000001")
                .unwrap_err()
                .contains("more than 100000 values")
        );
        assert!(parse("1,,2").unwrap_err().contains("empty value"));
        assert!(parse("[1, 2").unwrap_err().contains("is not a TOML array"));
        assert!(parse("[]").unwrap_err().contains("the list is empty"));
    }
}
