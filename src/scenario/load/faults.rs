//! Validating `[[faults]]`: each entry's `kind` decides which keys apply; targets are backend
//! names or store server names (as `stores.csv` names them: `redis1`, `cache1`, `db1`, ...).
//! A `rolling_restart` expands here into one drain (or crash) per backend.

use super::{PathResult, duration, err, parse_dist};
use crate::dist::{Kind, suggest};
use crate::engine::SimTime;
use crate::faults::{Fault, FaultKind, FaultPlan, RandomFailures, Target};
use crate::scenario::raw::RawFault;
use crate::scenario::{BackendConfig, SessionsConfig};
use crate::store;

const KINDS: &[&str] = &["crash", "app_down", "drain", "slow", "rolling_restart", "random"];

/// Which keys each kind takes besides `kind`.
fn allowed(kind: &str) -> &'static [&'static str] {
    match kind {
        "crash" => &["at", "target", "downtime"],
        "app_down" | "drain" => &["at", "target", "downtime"],
        "slow" => &["at", "target", "factor", "duration"],
        "rolling_restart" => &["at", "targets", "gap", "downtime", "mode"],
        "random" => &["targets", "mtbf", "mttr", "failure"],
        _ => &[],
    }
}

pub(super) fn validate(
    raw: &[RawFault],
    backends: &[BackendConfig],
    sessions: &SessionsConfig,
) -> PathResult<FaultPlan> {
    let stores = store::server_names(sessions);
    let mut names: Vec<&str> = backends.iter().map(|b| b.name.as_str()).collect();
    names.extend(stores.iter().map(String::as_str));
    let target = |name: &str, path: &str| -> PathResult<Target> {
        if let Some(i) = backends.iter().position(|b| b.name == name) {
            return Ok(Target::Backend(i));
        }
        if let Some(i) = stores.iter().position(|s| s == name) {
            return Ok(Target::Store(i));
        }
        err(
            path,
            format!(
                "no backend or store server is named `{name}`{}; there are: {}",
                suggest(name, &names),
                names.join(", ")
            ),
        )
    };
    let mut plan = FaultPlan::default();
    for (i, f) in raw.iter().enumerate() {
        let at_path = format!("faults[{i}]");
        let p = |k: &str| format!("{at_path}.{k}");
        if !KINDS.contains(&f.kind.as_str()) {
            return err(
                p("kind"),
                format!(
                    "unknown kind `{}`{}; choose one of: {}",
                    f.kind,
                    suggest(&f.kind, KINDS),
                    KINDS.join(", ")
                ),
            );
        }
        let ok = allowed(&f.kind);
        let given: [(&str, bool); 11] = [
            ("at", f.at.is_some()),
            ("target", f.target.is_some()),
            ("targets", f.targets.is_some()),
            ("downtime", f.downtime.is_some()),
            ("factor", f.factor.is_some()),
            ("duration", f.duration.is_some()),
            ("gap", f.gap.is_some()),
            ("mode", f.mode.is_some()),
            ("mtbf", f.mtbf.is_some()),
            ("mttr", f.mttr.is_some()),
            ("failure", f.failure.is_some()),
        ];
        for (k, set) in given {
            if set && !ok.contains(&k) {
                return err(
                    p(k),
                    format!(
                        "does not apply to kind = \"{}\", which takes: {}",
                        f.kind,
                        ok.join(", ")
                    ),
                );
            }
        }
        let at = match &f.at {
            Some(v) => Some(duration(v, &p("at"))?),
            None if ok.contains(&"at") => {
                return err(&at_path, format!("a `{}` fault needs `at`, e.g. at = \"20m\"", f.kind));
            }
            None => None,
        };
        let downtime = f.downtime.as_ref().map(|v| duration(v, &p("downtime"))).transpose()?;
        match f.kind.as_str() {
            "crash" | "app_down" | "drain" | "slow" => {
                let name = f
                    .target
                    .as_deref()
                    .ok_or((at_path.clone(), format!("a `{}` fault needs a `target`", f.kind)))?;
                let t = target(name, &p("target"))?;
                let at = at.unwrap_or(SimTime::ZERO);
                let kind = match f.kind.as_str() {
                    "crash" => FaultKind::Crash { downtime },
                    "app_down" => FaultKind::AppDown { downtime },
                    "drain" => FaultKind::Drain { downtime },
                    _ => {
                        let factor = f
                            .factor
                            .ok_or((at_path.clone(), "a `slow` fault needs `factor`".to_string()))?;
                        if !(factor > 0.0 && factor.is_finite()) {
                            return err(p("factor"), format!("must be positive, got {factor}"));
                        }
                        let d = f
                            .duration
                            .as_ref()
                            .ok_or((at_path.clone(), "a `slow` fault needs `duration`".to_string()))?;
                        FaultKind::Slow {
                            factor,
                            duration: duration(d, &p("duration"))?,
                        }
                    }
                };
                if let Target::Store(_) = t
                    && !matches!(kind, FaultKind::Crash { .. })
                {
                    return err(
                        p("target"),
                        format!(
                            "`{name}` is a store server: only kind = \"crash\" applies to it (with a `downtime`, \
                             or \"0s\" to restart at once)"
                        ),
                    );
                }
                plan.scheduled.push(Fault { at, target: t, kind });
            }
            "rolling_restart" => {
                let gap = match &f.gap {
                    Some(v) => duration(v, &p("gap"))?,
                    None => return err(&at_path, "a `rolling_restart` needs `gap` (time between two servers)"),
                };
                let downtime = downtime.ok_or((at_path.clone(), "a `rolling_restart` needs `downtime`".to_string()))?;
                let crash = match f.mode.as_deref().unwrap_or("drain") {
                    "drain" => false,
                    "crash" => true,
                    m => return err(p("mode"), format!("unknown mode `{m}`; choose drain or crash")),
                };
                let targets = backend_targets(f, backends, &target, &p("targets"))?;
                let at = at.unwrap_or(SimTime::ZERO);
                for (k, t) in targets.into_iter().enumerate() {
                    let kind = if crash {
                        FaultKind::Crash {
                            downtime: Some(downtime),
                        }
                    } else {
                        FaultKind::Drain {
                            downtime: Some(downtime),
                        }
                    };
                    plan.scheduled.push(Fault {
                        at: at + SimTime(gap.as_nanos().saturating_mul(k as u64)),
                        target: t,
                        kind,
                    });
                }
            }
            _ => {
                let mtbf = f.mtbf.as_ref().ok_or((
                    at_path.clone(),
                    "`random` failures need `mtbf` (time between failures)".to_string(),
                ))?;
                let mttr = f.mttr.as_ref().ok_or((
                    at_path.clone(),
                    "`random` failures need `mttr` (time to repair)".to_string(),
                ))?;
                let mtbf = parse_dist(mtbf, Kind::Duration, &p("mtbf"))?;
                let mttr = parse_dist(mttr, Kind::Duration, &p("mttr"))?;
                if mtbf.mean() <= 0.0 {
                    return err(p("mtbf"), "must have a positive mean");
                }
                let app_only = match f.failure.as_deref().unwrap_or("crash") {
                    "crash" => false,
                    "app_down" => true,
                    m => return err(p("failure"), format!("unknown failure `{m}`; choose crash or app_down")),
                };
                let targets = backend_targets(f, backends, &target, &p("targets"))?;
                plan.random.push(RandomFailures {
                    targets,
                    mtbf,
                    mttr,
                    app_only,
                });
            }
        }
    }
    Ok(plan)
}

/// The backends a multi-target fault names (all of them when `targets` is absent).
fn backend_targets(
    f: &RawFault,
    backends: &[BackendConfig],
    target: &dyn Fn(&str, &str) -> PathResult<Target>,
    path: &str,
) -> PathResult<Vec<Target>> {
    match &f.targets {
        None => Ok((0..backends.len()).map(Target::Backend).collect()),
        Some(list) if list.is_empty() => err(path, "must name at least one backend, or be left out for all"),
        Some(list) => list
            .iter()
            .map(|n| match target(n, path)? {
                t @ Target::Backend(_) => Ok(t),
                Target::Store(_) => err(
                    path,
                    format!("`{n}` is a store server; only backends restart or fail at random"),
                ),
            })
            .collect(),
    }
}
