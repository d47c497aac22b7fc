//! The grid of a sweep: the `[sweep]` section and `--vary` axes, expanded into points, each a
//! validated [`Scenario`] (the base scenario table with the axis values set by their dotted
//! paths, then validated like any scenario file).
//!
//! Every point is validated before anything runs, and an error names the axis and the value
//! that made the point invalid: `x.toml: sweep.axes[1] backends.count=0: backends.count: must
//! be at least 1, got 0`.

use super::spec;
use crate::dist::{suggest, type_name};
use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::scenario::load::{friendly_serde_message, from_table, set_path};
use serde::Deserialize;
use toml::{Table, Value};

/// At most this many points: every point is validated (and kept) before the sweep starts.
pub(crate) const MAX_POINTS: usize = 100_000;

/// Keys that cannot be swept, with the reason.
const FIXED_KEYS: &[(&str, &str)] = &[
    (
        "seed",
        "a sweep keeps one seed so that every point sees the same users; use replications for independent runs",
    ),
    (
        "replications",
        "every point runs the same replications; use --replications",
    ),
    ("name", "the name labels the whole sweep"),
    ("sweep", "the sweep cannot vary itself"),
    (
        "strategy",
        "vary a key inside a strategy instead, e.g. strategy[0].backends.count",
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    mode: Option<String>,
    baseline: Option<String>,
    steady_state: Option<bool>,
    #[serde(default)]
    axes: Vec<RawAxis>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAxis {
    key: String,
    values: Option<Vec<Value>>,
    range: Option<String>,
}

/// How axes combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every combination; the first axis varies slowest.
    Grid,
    /// The axes vary together: point k takes the k-th value of every axis.
    Zip,
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Grid => "grid",
            Mode::Zip => "zip",
        }
    }
}

/// One axis: a dotted key path and its values, in order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Axis {
    pub(crate) key: String,
    pub(crate) values: Vec<Value>,
    /// Where it was defined, for messages: `sweep.axes[1]` or `--vary`.
    pub(crate) origin: String,
}

/// One point of the grid.
#[derive(Clone, Debug)]
pub struct Point {
    /// The value of each axis at this point, in axis order.
    pub(crate) values: Vec<Value>,
    /// The scenario at this point: the file with the axes' values set.
    pub scenario: Scenario,
}

/// A validated sweep: its axes, its points in grid order, and what every point runs.
#[derive(Clone, Debug)]
pub struct Sweep {
    pub(crate) name: String,
    pub(crate) axes: Vec<Axis>,
    pub(crate) mode: Mode,
    /// The grid's points, in grid order (in a full grid the last axis varies fastest).
    pub points: Vec<Point>,
    /// Strategy labels, the same at every point, in scenario order.
    pub strategies: Vec<String>,
    /// Replications at every point (`replications`, or `--replications`).
    pub replications: u32,
    /// Index of the strategy that paired differences are taken against.
    pub(crate) baseline: usize,
    /// Whether to add MSER-5 and batch-means columns for single long runs.
    pub(crate) steady_state: bool,
    /// The scenario table the points were made from (`[sweep]` section and `--set` included).
    pub(crate) source: Table,
}

/// Which axes a sweep uses: the file's `[sweep]` axes with `--vary` ones merged in (a `--vary`
/// of a key the file sweeps replaces its values), or only the `--vary` ones (`sessim plan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxesFrom {
    /// The file's `[sweep]` axes, with `--vary` ones merged in (`sessim sweep`).
    FileAndVary,
    /// Only the `--vary` axes (`sessim plan`).
    VaryOnly,
}

impl Sweep {
    /// Builds the sweep of a loaded scenario; `origin` (the file name) starts every message.
    pub fn build(sc: &Scenario, origin: &str, vary: &[String], axes_from: AxesFrom) -> Result<Sweep> {
        let bad = |m: String| Error::bad_input(format!("{origin}: {m}"));
        let raw = match sc.source.get("sweep") {
            None => None,
            Some(Value::Table(t)) => Some(
                serde_path_to_error::deserialize::<_, RawSweep>(Value::Table(t.clone())).map_err(|e| {
                    let path = e.path().to_string();
                    let at = if path == "." {
                        "sweep".into()
                    } else {
                        format!("sweep.{path}")
                    };
                    bad(format!("{at}: {}", friendly_serde_message(&e.inner().to_string())))
                })?,
            ),
            Some(other) => {
                return Err(bad(format!(
                    "sweep: expected a table ([sweep]), got {}",
                    type_name(other)
                )));
            }
        };
        let mode = match raw.as_ref().and_then(|r| r.mode.as_deref()) {
            None | Some("grid") => Mode::Grid,
            Some("zip") => Mode::Zip,
            Some(m) => {
                return Err(bad(format!(
                    "sweep.mode: unknown value `{m}`{}; choose one of: grid, zip",
                    suggest(m, &["grid", "zip"])
                )));
            }
        };
        let mut axes: Vec<Axis> = Vec::new();
        if axes_from == AxesFrom::FileAndVary {
            for (i, a) in raw.iter().flat_map(|r| &r.axes).enumerate() {
                let at = format!("sweep.axes[{i}]");
                let values = match (&a.values, &a.range) {
                    (Some(v), None) if !v.is_empty() => v.clone(),
                    (Some(_), None) => return Err(bad(format!("{at}.values: the list is empty"))),
                    (None, Some(r)) => spec::parse(r).map_err(|m| bad(format!("{at}.range: {m}")))?,
                    _ => {
                        return Err(bad(format!(
                            "{at}: give exactly one of `values = [...]` or `range = \"10..100+10\"`"
                        )));
                    }
                };
                check_key(&a.key).map_err(|m| bad(format!("{at}.key: {m}")))?;
                if axes.iter().any(|x| x.key == a.key) {
                    return Err(bad(format!("{at}.key: `{}` is swept twice", a.key)));
                }
                axes.push(Axis {
                    key: a.key.clone(),
                    values,
                    origin: at,
                });
            }
        }
        for v in vary {
            let (key, values) = parse_vary(v)?;
            let axis = Axis {
                key: key.clone(),
                values,
                origin: "--vary".into(),
            };
            match axes.iter_mut().find(|a| a.key == key) {
                Some(a) => *a = axis,
                None => axes.push(axis),
            }
        }
        if axes.is_empty() {
            return Err(bad(
                "nothing to sweep: add a [sweep] section with [[sweep.axes]] (see docs/scenario-format.md) or \
                 give --vary KEY=SPEC, e.g. --vary workload.users_per_second=10..100+10"
                    .into(),
            ));
        }
        let n_points = match mode {
            Mode::Zip => {
                let n = axes[0].values.len();
                if let Some(a) = axes.iter().find(|a| a.values.len() != n) {
                    return Err(bad(format!(
                        "sweep.mode = \"zip\" varies the axes together, so they need as many values each: \
                         {} {} has {n}, {} {} has {}",
                        axes[0].origin,
                        axes[0].key,
                        a.origin,
                        a.key,
                        a.values.len()
                    )));
                }
                n
            }
            Mode::Grid => axes
                .iter()
                .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()))
                .unwrap_or(usize::MAX),
        };
        if n_points > MAX_POINTS {
            return Err(bad(format!(
                "the sweep has {n_points} points; at most {MAX_POINTS}: use fewer values or sweep in several runs"
            )));
        }

        let mut base = sc.source.clone();
        base.remove("sweep");
        let mut points = Vec::with_capacity(n_points);
        for p in 0..n_points {
            let values = point_values(&axes, mode, p);
            let mut table = base.clone();
            for (a, v) in axes.iter().zip(&values) {
                set_path(&mut table, &a.key, v.clone())
                    .map_err(|m| bad(format!("{} {}={}: {m}", a.origin, a.key, spec::display(v))))?;
            }
            let mut scenario = from_table(table, origin).map_err(|e| {
                let msg = e.to_string();
                let rest = msg.strip_prefix(&format!("{origin}: ")).unwrap_or(&msg);
                bad(format!("{}: {rest}", describe_point(&axes, &values, p, rest)))
            })?;
            // The points' tables are the base's plus the axis values: no need to keep them.
            scenario.forget_source();
            let labels: Vec<&str> = scenario.strategies.iter().map(|s| s.label.as_str()).collect();
            let base_labels: Vec<&str> = sc.strategies.iter().map(|s| s.label.as_str()).collect();
            if labels != base_labels {
                return Err(bad(format!(
                    "{}: the strategies differ from the scenario's ({}); a sweep must not rename or add strategies",
                    describe_point(&axes, &values, p, ""),
                    labels.join(", ")
                )));
            }
            points.push(Point { values, scenario });
        }

        let strategies: Vec<String> = sc.strategies.iter().map(|s| s.label.clone()).collect();
        let baseline = match raw.as_ref().and_then(|r| r.baseline.as_deref()) {
            None => 0,
            Some(b) => strategies.iter().position(|s| s == b).ok_or_else(|| {
                let names: Vec<&str> = strategies.iter().map(String::as_str).collect();
                bad(format!(
                    "sweep.baseline: no strategy is labelled `{b}`{}; labels: {}",
                    suggest(b, &names),
                    names.join(", ")
                ))
            })?,
        };
        Ok(Sweep {
            name: sc.name.clone(),
            axes,
            mode,
            points,
            strategies,
            replications: sc.replications,
            baseline,
            steady_state: raw.as_ref().and_then(|r| r.steady_state).unwrap_or(false),
            source: sc.source.clone(),
        })
    }

    /// Runs in the whole sweep: points x strategies x replications.
    pub fn runs(&self) -> usize {
        self.points.len() * self.strategies.len() * self.replications as usize
    }

    /// A few lines for `sessim check`.
    pub(crate) fn describe(&self) -> String {
        let mut s = format!(
            "sweep        {} of {} points x {} strategies x {} replications = {} runs (baseline: {})\n",
            self.mode.name(),
            self.points.len(),
            self.strategies.len(),
            self.replications,
            self.runs(),
            self.strategies[self.baseline]
        );
        for a in &self.axes {
            let vals: Vec<String> = a.values.iter().map(spec::display).collect();
            s.push_str(&format!("  axis       {} = {}\n", a.key, vals.join(", ")));
        }
        if self.steady_state {
            s.push_str("  steady-state columns (MSER-5 truncation, batch means) on\n");
        }
        s
    }
}

/// The axis values of point `p`: in a grid the last axis varies fastest.
pub(crate) fn point_values(axes: &[Axis], mode: Mode, p: usize) -> Vec<Value> {
    match mode {
        Mode::Zip => axes.iter().map(|a| a.values[p].clone()).collect(),
        Mode::Grid => {
            let mut rest = p;
            let mut out = vec![Value::Boolean(false); axes.len()];
            for (i, a) in axes.iter().enumerate().rev() {
                let n = a.values.len();
                out[i] = a.values[rest % n].clone();
                rest /= n;
            }
            out
        }
    }
}

/// Names the axis an error is about (`sweep.axes[1] backends.count=0`) when the message's key
/// path is an axis key, else the whole point.
fn describe_point(axes: &[Axis], values: &[Value], p: usize, msg: &str) -> String {
    let mentions = |key: &str| {
        msg.match_indices(key).any(|(i, _)| {
            let before_ok = i == 0 || msg[..i].ends_with(' ');
            let after = msg[i + key.len()..].chars().next();
            before_ok && matches!(after, Some(':' | '.' | '['))
        })
    };
    if let Some((a, v)) = axes.iter().zip(values).find(|(a, _)| mentions(&a.key)) {
        return format!("{} {}={}", a.origin, a.key, spec::display(v));
    }
    let all: Vec<String> = axes
        .iter()
        .zip(values)
        .map(|(a, v)| format!("{}={}", a.key, spec::display(v)))
        .collect();
    format!("sweep point {p} ({})", all.join(", "))
}

fn check_key(key: &str) -> std::result::Result<(), String> {
    if key.trim().is_empty() {
        return Err("the key is empty; write a dotted path such as backends.count".into());
    }
    if key.contains([',', '"', '\n', '=']) {
        return Err(format!("`{key}`: a key path has no commas, quotes or `=`"));
    }
    let first = key.split(['.', '[']).next().unwrap_or(key);
    if let Some((_, why)) = FIXED_KEYS
        .iter()
        .find(|(k, _)| *k == first && (first != "strategy" || key == "strategy"))
    {
        return Err(format!("`{key}` cannot be swept: {why}"));
    }
    Ok(())
}

/// Parses `--vary KEY=SPEC`.
pub(crate) fn parse_vary(s: &str) -> Result<(String, Vec<Value>)> {
    let (key, sp) = s.split_once('=').ok_or_else(|| {
        Error::bad_input(format!(
            "--vary {s}: expected KEY=SPEC, e.g. --vary backends.count=2..16 or --vary balancer.policy=round_robin,random"
        ))
    })?;
    let key = key.trim();
    check_key(key).map_err(|m| Error::bad_input(format!("--vary {s}: {m}")))?;
    let values = spec::parse(sp).map_err(|m| Error::bad_input(format!("--vary {s}: {m}")))?;
    Ok((key.to_string(), values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;

    const BASE: &str = r#"
name = "t"
duration = "10s"
[workload]
users_per_second = 5
[[strategy]]
label = "rr"
[[strategy]]
label = "random"
balancer.policy = "random"
"#;

    fn build(extra: &str, vary: &[&str]) -> Result<Sweep> {
        let sc = load_str(&format!("{BASE}{extra}"), "x.toml", &[])?;
        let vary: Vec<String> = vary.iter().map(|s| s.to_string()).collect();
        Sweep::build(&sc, "x.toml", &vary, AxesFrom::FileAndVary)
    }

    fn shown(s: &Sweep) -> Vec<String> {
        s.points
            .iter()
            .map(|p| p.values.iter().map(spec::display).collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn a_grid_varies_the_last_axis_fastest() {
        let s = build(
            "[[sweep.axes]]\nkey = \"backends.count\"\nvalues = [2, 3]\n\
             [[sweep.axes]]\nkey = \"workload.users_per_second\"\nrange = \"10..30+10\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(shown(&s), ["2 10", "2 20", "2 30", "3 10", "3 20", "3 30"]);
        assert_eq!(s.points[4].scenario.strategies[1].system.backends.len(), 3);
        assert_eq!(
            s.points[4].scenario.strategies[1].system.workload.users_per_second,
            20.0
        );
        assert_eq!(s.strategies, ["rr", "random"]);
        assert_eq!(s.runs(), 6 * 2);
    }

    #[test]
    fn zip_varies_axes_together() {
        let s = build(
            "[sweep]\nmode = \"zip\"\nbaseline = \"random\"\n[[sweep.axes]]\nkey = \"backends.count\"\n\
             values = [2, 4, 8]\n[[sweep.axes]]\nkey = \"workload.users_per_second\"\nrange = \"10..40x2\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(shown(&s), ["2 10", "4 20", "8 40"]);
        assert_eq!(s.baseline, 1);
        let e = build(
            "[sweep]\nmode = \"zip\"\n[[sweep.axes]]\nkey = \"backends.count\"\nvalues = [2, 4]\n\
             [[sweep.axes]]\nkey = \"workload.users_per_second\"\nrange = \"10..40x2\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.toml: sweep.mode = \"zip\" varies the axes together, so they need as many values each: \
             sweep.axes[0] backends.count has 2, sweep.axes[1] workload.users_per_second has 3"
        );
    }

    #[test]
    fn vary_adds_axes_and_replaces_the_files() {
        let s = build(
            "[[sweep.axes]]\nkey = \"backends.count\"\nvalues = [2, 3]\n",
            &["backends.count=5,6,7", "balancer.policy=round_robin,random"],
        )
        .unwrap();
        assert_eq!(s.axes.len(), 2);
        assert_eq!(s.points.len(), 6);
        assert_eq!(shown(&s)[5], "7 random");
    }

    #[test]
    fn errors_name_the_axis_and_the_point() {
        let e = build(
            "[[sweep.axes]]\nkey = \"workload.users_per_second\"\nvalues = [5]\n\
             [[sweep.axes]]\nkey = \"backends.count\"\nvalues = [2, 0]\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.toml: sweep.axes[1] backends.count=0: backends.count: must be at least 1, got 0"
        );
        assert_eq!(e.exit_code(), 2);
        let e = build("", &["backends.count=1,0"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.toml: --vary backends.count=0: backends.count: must be at least 1, got 0"
        );
        let e = build("", &["backends.cont=1,2"]).unwrap_err().to_string();
        assert!(
            e.starts_with("x.toml: --vary backends.cont=1: backends.cont: unknown key `cont`; did you mean `count`?"),
            "{e}"
        );
        let e = build("", &["backends.servers[2].weight=1,2"]).unwrap_err().to_string();
        assert_eq!(
            e,
            "x.toml: --vary backends.servers[2].weight=1: `servers` is not an array in the scenario"
        );
        let e = build("", &["seed=1,2"]).unwrap_err().to_string();
        assert!(e.starts_with("--vary seed=1,2: `seed` cannot be swept"), "{e}");
        let e = build("", &["backends.count"]).unwrap_err().to_string();
        assert!(e.starts_with("--vary backends.count: expected KEY=SPEC"), "{e}");
        let e = build("", &["backends.count=9..2"]).unwrap_err().to_string();
        assert_eq!(
            e,
            "--vary backends.count=9..2: `9..2`: the end 2 is below the start 9; ranges go upwards"
        );
        let e = build("", &[]).unwrap_err().to_string();
        assert!(e.starts_with("x.toml: nothing to sweep"), "{e}");
        let e = build("[sweep]\nmode = \"zp\"\n", &["backends.count=1"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "x.toml: sweep.mode: unknown value `zp`; did you mean `zip`?; choose one of: grid, zip"
        );
        let e = build("[sweep]\nbaseline = \"rrr\"\n", &["backends.count=1"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "x.toml: sweep.baseline: no strategy is labelled `rrr`; did you mean `rr`?; labels: rr, random"
        );
        let e = build("[[sweep.axes]]\nkey = \"backends.count\"\nrnage = \"1..3\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x.toml: sweep.axes[0].rnage: unknown key `rnage`; did you mean `range`?"),
            "{e}"
        );
        let e = build("[[sweep.axes]]\nkey = \"backends.count\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("sweep.axes[0]: give exactly one of"), "{e}");
        let e = build(
            "[[sweep.axes]]\nkey = \"backends.count\"\nvalues = [1]\n[[sweep.axes]]\nkey = \"backends.count\"\nvalues = [2]\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "x.toml: sweep.axes[1].key: `backends.count` is swept twice");
    }

    #[test]
    fn a_point_error_without_an_axis_key_names_the_whole_point() {
        // Both axes are fine alone; together the warm-up is not shorter than the duration.
        let e = build("", &["duration=\"10s\",\"20s\"", "warmup=\"15s\""])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x.toml: --vary warmup=15s: warmup: must be shorter"),
            "{e}"
        );
    }

    #[test]
    fn run_and_check_accept_a_sweep_section() {
        let sc = load_str(
            &format!("{BASE}[sweep]\nmode = \"grid\"\n[[sweep.axes]]\nkey = \"backends.count\"\nvalues = [1]\n"),
            "x.toml",
            &[],
        )
        .unwrap();
        assert!(sc.source.contains_key("sweep"), "kept in the recorded source");
    }
}
