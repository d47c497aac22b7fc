//! The answer a capacity planner asks for, in words and numbers, from the result files alone:
//! per strategy how many users were logged out and how much extra work the strategy caused;
//! per fault who was logged out, what failed and how long latency stayed above normal; per
//! store how busy it was; after a sweep, the offered load at which a store or the backends
//! become the bottleneck. The same lines are printed under the terminal table and head
//! `report.html`. Numbers are means over replications, with the 95% confidence half-width when
//! there are several (as in the tables).

use super::input::{RunTables, SweepTables};
use super::series::{self, KNEE_UTILISATION, Slice, fmt_num, metric_estimate, strategies};
use super::verdict::{compare, fmt_est};
use crate::metrics::stats::{Estimate, estimate};
use crate::metrics::{Column, FaultRow, SummaryRow, col};

/// Below this mean percentage of users logged out a strategy counts as keeping sessions.
pub(crate) const KEEPS_SESSIONS_PCT: f64 = 0.1;

fn est(v: impl IntoIterator<Item = f64>) -> Estimate {
    estimate(&v.into_iter().collect::<Vec<f64>>())
}

/// Seconds as "45 s" or "3 min 20 s".
pub(crate) fn fmt_secs(s: f64) -> String {
    if s < 120.0 {
        format!("{} s", fmt_num((s * 10.0).round() / 10.0))
    } else {
        let m = (s / 60.0).floor();
        let r = (s - 60.0 * m).round();
        if r == 0.0 {
            format!("{m} min")
        } else {
            format!("{m} min {r} s")
        }
    }
}

/// One sentence per strategy: users logged out, lost session requests, and the extra work.
fn strategy_line(t: &RunTables, s: &str) -> String {
    let m = |c: Column| metric_estimate(&t.summary, s, c);
    let users = m(col::users);
    let out = m(col::users_logged_out);
    if out.mean == 0.0 && m(col::sessions_lost).mean == 0.0 {
        return format!(
            "{s}: no user was logged out (of {} users); the strategy added {}% backend work ({} retries) to the users' own {} requests.",
            fmt_est(&users, 0),
            fmt_est(&m(col::extra_backend_pct), 1),
            fmt_est(&m(col::retries), 0),
            fmt_est(&m(col::user_requests), 0),
        );
    }
    format!(
        "{s}: {} of {} users ({}%) were logged out at least once, and {}% of the requests that needed a session found none; \
         the {} re-logins{} are {}% extra backend work on top of the users' own {} requests.",
        fmt_est(&out, 0),
        fmt_est(&users, 0),
        fmt_est(&m(col::users_logged_out_pct), 2),
        fmt_est(&m(col::lost_session_pct), 2),
        fmt_est(&m(col::relogins), 0),
        if m(col::retries).mean > 0.0 {
            format!(" and {} retries", fmt_est(&m(col::retries), 0))
        } else {
            String::new()
        },
        fmt_est(&m(col::extra_backend_pct), 1),
        fmt_est(&m(col::user_requests), 0),
    )
}

/// "Fixes": when one strategy logs users out and others do not, which keep the sessions.
fn fixes_line(t: &RunTables, names: &[String]) -> Option<String> {
    let pct = |s: &String| metric_estimate(&t.summary, s, col::users_logged_out_pct).mean;
    let losing: Vec<&String> = names.iter().filter(|s| pct(s) >= KEEPS_SESSIONS_PCT).collect();
    let keeping: Vec<&String> = names.iter().filter(|s| pct(s) < KEEPS_SESSIONS_PCT).collect();
    if losing.is_empty() || names.len() < 2 {
        return None;
    }
    let items: Vec<(String, Estimate)> = names
        .iter()
        .map(|s| (s.clone(), metric_estimate(&t.summary, s, col::users_logged_out_pct)))
        .collect();
    let who = if keeping.is_empty() {
        "No strategy keeps every session".to_string()
    } else {
        format!(
            "Fewer than {KEEPS_SESSIONS_PCT}% of users are logged out with {}",
            keeping.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )
    };
    Some(format!(
        "{who}. Users logged out at least once, {}",
        compare(&items, false, 2, "%")
    ))
}

/// "web3 crashed at 600 s and was back at 780 s".
fn fault_event(f: &FaultRow) -> String {
    let what = match f.kind.as_str() {
        "crash" => "crashed",
        "app_down" => "lost its application",
        "drain" => "was drained",
        "slow" => "slowed down",
        k => k,
    };
    let back = match f.recovered_s {
        Some(r) => format!(" and was serving again at {}", fmt_secs(r)),
        None => " and was not back before the end of the run".to_string(),
    };
    format!("{} {what} at {}{back}", f.target, fmt_secs(f.at_s))
}

/// One fault of one strategy over its replications.
pub(crate) struct FaultGroup {
    pub(crate) strategy: String,
    /// "web3 crashed at 10 min and was serving again at 13 min".
    pub(crate) event: String,
    pub(crate) replications: usize,
    pub(crate) detected_s: Estimate,
    pub(crate) users_logged_out: Estimate,
    pub(crate) requests_failed: Estimate,
    pub(crate) sessions_lost: Estimate,
    pub(crate) normal_latency_ms: Estimate,
    pub(crate) time_to_normal_s: Estimate,
    pub(crate) time_to_normal_after_recovery_s: Estimate,
    /// Replications in which latency was not back to normal by the end of the run.
    pub(crate) never_normal: usize,
}

/// The faults of a run folder, per strategy and fault number, over replications (only faults
/// that happened are in `faults.csv`, so only those are here).
pub(crate) fn fault_groups(t: &RunTables) -> Vec<FaultGroup> {
    let mut out = Vec::new();
    for s in strategies(&t.summary) {
        let rows: Vec<&FaultRow> = t.faults.iter().filter(|f| f.strategy == s).collect();
        let mut numbers: Vec<u32> = rows.iter().map(|f| f.fault).collect();
        numbers.sort_unstable();
        numbers.dedup();
        for k in numbers {
            let of: Vec<&FaultRow> = rows.iter().copied().filter(|f| f.fault == k).collect();
            let Some(first) = of.first() else { continue };
            // Random failures differ by replication: name the kind, count over all.
            let same = of.iter().all(|f| f.target == first.target && f.at_s == first.at_s);
            out.push(FaultGroup {
                strategy: s.clone(),
                event: if same {
                    fault_event(first)
                } else {
                    format!("fault {k} ({}, differs by replication)", first.kind)
                },
                replications: of.len(),
                detected_s: est(of.iter().filter_map(|f| f.detected_s.map(|d| d - f.at_s))),
                users_logged_out: est(of.iter().map(|f| f.users_logged_out as f64)),
                requests_failed: est(of.iter().map(|f| f.requests_failed as f64)),
                sessions_lost: est(of.iter().map(|f| f.sessions_lost as f64)),
                normal_latency_ms: est(of.iter().filter_map(|f| f.normal_latency_ms)),
                time_to_normal_s: est(of.iter().filter_map(|f| f.time_to_normal_s)),
                time_to_normal_after_recovery_s: est(of.iter().filter_map(|f| f.time_to_normal_after_recovery_s)),
                never_normal: of.iter().filter(|f| f.time_to_normal_s.is_none()).count(),
            });
        }
    }
    out
}

/// One sentence per fault and strategy, over the replications.
fn fault_lines(t: &RunTables) -> Vec<String> {
    fault_groups(t)
        .iter()
        .map(|g| {
            let normal = &g.normal_latency_ms;
            let latency = if normal.n == 0 {
                "normal latency is unknown (no bucket before the first fault)".to_string()
            } else if g.never_normal > 0 {
                format!(
                    "latency was still above normal ({} ms) at the end of the run in {} of {} replications",
                    fmt_est(normal, 1),
                    g.never_normal,
                    g.replications
                )
            } else if g.time_to_normal_s.mean == 0.0 {
                format!("latency never rose above normal ({} ms)", fmt_est(normal, 1))
            } else {
                let ttr = &g.time_to_normal_after_recovery_s;
                let after = if ttr.n > 0 {
                    format!(", {} s after it was back", fmt_est(ttr, 0))
                } else {
                    String::new()
                };
                format!(
                    "the other users saw latency above normal ({} ms) for {} s after the fault{after}",
                    fmt_est(normal, 1),
                    fmt_est(&g.time_to_normal_s, 0)
                )
            };
            format!(
                "{}: {}: {} users logged out, {} requests failed; {latency}.",
                g.strategy,
                g.event,
                fmt_est(&g.users_logged_out, 0),
                fmt_est(&g.requests_failed, 0)
            )
        })
        .collect()
}

/// One sentence per strategy with store servers.
fn store_lines(t: &RunTables, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|s| t.summary.iter().any(|r| &r.strategy == *s && r.store_ops > 0))
        .map(|s| {
            let m = |c: Column| metric_estimate(&t.summary, s, c);
            let util = m(col::store_utilization);
            let state = if util.mean >= KNEE_UTILISATION {
                "saturated: it is the bottleneck"
            } else {
                "not the bottleneck"
            };
            format!(
                "{s}: the busiest store server was {} busy ({state}); an operation waited {} ms in its queue on average, \
                 p99 {} ms; {} operations refused, {} timed out.",
                fmt_est(&util, 3),
                fmt_est(&m(col::store_wait_mean_ms), 3),
                fmt_est(&m(col::store_latency_p99_ms), 2),
                fmt_est(&m(col::store_rejected), 0),
                fmt_est(&m(col::store_timeouts), 0),
            )
        })
        .collect()
}

/// Each strategy's label and whether its replication sends synchronously, from the run's
/// `scenario.toml` (base `[sessions]` merged with the strategy's): `sessions.replication.send_mode`,
/// else Tomcat's default for its storage (`replicated_backup` sync, `replicated_all` async).
fn send_modes(scenario_toml: &str) -> Vec<(String, bool)> {
    let Ok(table) = scenario_toml.parse::<toml::Table>() else {
        return Vec::new();
    };
    let get = |t: &toml::Table, path: &[&str]| -> Option<String> {
        let mut v = t.get(path[0])?;
        for k in &path[1..] {
            v = v.as_table()?.get(*k)?;
        }
        v.as_str().map(str::to_string)
    };
    let storage = get(&table, &["sessions", "storage"]);
    let mode = get(&table, &["sessions", "replication", "send_mode"]);
    let strategies = table
        .get("strategy")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    strategies
        .iter()
        .filter_map(|st| {
            let st = st.as_table()?;
            let label = st.get("label")?.as_str()?.to_string();
            let storage = get(st, &["sessions", "storage"]).or(storage.clone());
            let mode = get(st, &["sessions", "replication", "send_mode"]).or(mode.clone());
            let sync = match mode.as_deref() {
                Some(m) => m == "sync",
                None => storage.as_deref() == Some("replicated_backup"),
            };
            Some((label, sync))
        })
        .collect()
}

/// Session replication (Tomcat DeltaManager / BackupManager): per replicating strategy, what
/// its nodes' copies showed, what crashes lost and what it cost; then the trade-off between
/// them. Nothing when no strategy replicates.
fn replication_lines(t: &RunTables, names: &[String]) -> Vec<String> {
    let m = |s: &str, c: Column| metric_estimate(&t.summary, s, c);
    let reps: Vec<&String> = names
        .iter()
        .filter(|s| m(s, col::replication_msgs).mean > 0.0)
        .collect();
    let mut out: Vec<String> = reps
        .iter()
        .map(|s| {
            format!(
                "{s} (replication): {} stale reads (a node's copy lacked a change still on its way) and {} partial reads (its copy had dropped a change); {} session requests lost to node failures; p99 latency {} ms; {} replication messages.",
                fmt_est(&m(s, col::stale_reads), 0),
                fmt_est(&m(s, col::partial_reads), 0),
                fmt_est(&m(s, col::lost_node_failure), 0),
                fmt_est(&m(s, col::latency_p99_ms), 1),
                fmt_est(&m(s, col::replication_msgs), 0),
            )
        })
        .collect();
    if reps.len() >= 2 {
        let by = |c: Column, max: bool| {
            let mut best: Option<(f64, &str)> = None;
            for s in &reps {
                let v = m(s, c).mean;
                if best.is_none_or(|b| if max { v > b.0 } else { v < b.0 }) {
                    best = Some((v, s.as_str()));
                }
            }
            best.unwrap_or((0.0, ""))
        };
        let stale = by(col::stale_reads, true);
        let lost = by(col::lost_node_failure, true);
        // The latency of waiting: the fastest strategy that sends synchronously against the
        // fastest that does not (each strategy's send mode from the run's scenario.toml), so
        // that a strategy slowed by a crash's timeouts is not taken for the cost of sync.
        let modes = send_modes(&t.scenario_toml);
        let fastest = |sync: bool| {
            reps.iter()
                .filter(|s| modes.iter().any(|(l, m)| l == s.as_str() && *m == sync))
                .map(|s| (m(s, col::latency_p99_ms).mean, s.as_str()))
                .min_by(|a, b| a.0.total_cmp(&b.0))
        };
        let mut line = match (fastest(true), fastest(false)) {
            (Some(sync), Some(not)) => format!(
                "Replication trade-off: waiting for acknowledgements (synchronous sends) costs latency (p99 {} ms under {} against {} ms under {}); ",
                fmt_num(round1(sync.0)),
                sync.1,
                fmt_num(round1(not.0)),
                not.1
            ),
            _ => "Replication trade-off: ".to_string(),
        };
        let partial = by(col::partial_reads, true);
        match (stale.0 > 0.0, partial.0 > 0.0) {
            (true, true) => {
                line += &format!(
                    "not waiting leaves other nodes' copies behind ({} stale reads under {}) or missing changes ({} partial reads under {}); ",
                    fmt_num(stale.0.round()),
                    stale.1,
                    fmt_num(partial.0.round()),
                    partial.1
                )
            }
            (true, false) => {
                line += &format!(
                    "not waiting leaves other nodes' copies behind ({} stale reads under {}); ",
                    fmt_num(stale.0.round()),
                    stale.1
                )
            }
            (false, true) => {
                line += &format!(
                    "not waiting lets other nodes' copies miss changes that arrived out of order ({} partial reads under {}); ",
                    fmt_num(partial.0.round()),
                    partial.1
                )
            }
            (false, false) => line += "no strategy read a stale or partial copy; ",
        }
        if lost.0 > 0.0 {
            line += &format!(
                "and keeping fewer copies loses sessions when the nodes holding them crash together ({} session requests under {}).",
                fmt_num(lost.0.round()),
                lost.1
            );
        } else {
            line += "and no crash lost a replicated session.";
        }
        out.push(line);
    }
    out
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The answer lines of a run folder.
pub(crate) fn run_answers(t: &RunTables) -> Vec<String> {
    let names = strategies(&t.summary);
    let mut out: Vec<String> = names.iter().map(|s| strategy_line(t, s)).collect();
    out.extend(fixes_line(t, &names));
    out.extend(fault_lines(t));
    out.extend(store_lines(t, &names));
    out.extend(replication_lines(t, &names));
    out
}

/// One point of a strategy's load line: the swept value, the offered load (the users' own
/// requests/s, the charts' x), this strategy's request rate at the balancer (`offered_rps`:
/// with its re-logins) and a utilisation.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LoadPoint {
    x: f64,
    offered: f64,
    at_balancer: f64,
    busy: f64,
}

/// The load and a utilisation at each point of a slice, for one strategy (means over its
/// replications; the charts' x axis is the mean of the offered load over every strategy).
fn load_and(t: &SweepTables, slice: &Slice, s: &str, f: fn(&SummaryRow) -> f64) -> Vec<LoadPoint> {
    let rps = series::along(t, slice, s, |r| r.offered_rps);
    let own = series::along(t, slice, s, series::users_own_rps);
    let u = series::along(t, slice, s, f);
    slice
        .points
        .iter()
        .zip(rps.iter().zip(&u).zip(&own))
        .filter(|(_, ((a, b), _))| a.n > 0 && b.n > 0)
        .map(|((x, _), ((a, b), o))| LoadPoint {
            x: *x,
            offered: o.mean,
            at_balancer: a.mean,
            busy: b.mean,
        })
        .collect()
}

/// "1 Redis: the utilisation of the busiest store server reaches 0.9 (the bottleneck) between
/// users/s = 80 (offered load 800 requests/s, 878 at the balancer (re-logins included),
/// 0.838 busy) and ...; ... reaches 1 near 1047 requests/s at the balancer." `extrapolate` only
/// where utilisation is proportional to load below the knee (not for backend workers held by
/// waits on a store). The offered load is the users' own requests (the charts' x axis); the
/// rate at the balancer is what the utilisation law applies to (U = lambda x S / c).
fn bottleneck_line(what: &str, key: &str, s: &str, pts: &[LoadPoint], extrapolate: bool) -> Option<String> {
    let first = pts.first()?;
    let knee = pts.iter().position(|p| p.busy >= KNEE_UTILISATION);
    let at = |p: &LoadPoint| {
        format!(
            "{key} = {} (offered load {:.0} requests/s, {:.0} at the balancer, {:.3} busy)",
            fmt_num(p.x),
            p.offered,
            p.at_balancer,
            p.busy
        )
    };
    // Below saturation utilisation grows in proportion to the load (U = lambda x S / c), so the
    // last point below the knee extrapolates to the load at which it would be fully busy.
    let below = pts[..knee.unwrap_or(pts.len())].iter().rev().find(|p| p.busy > 0.0);
    let full = below
        .filter(|_| extrapolate)
        .map(|p| {
            format!(
                "; from {}, utilisation grows in proportion to load and reaches 1 near {:.0} requests/s at the balancer",
                at(p),
                p.at_balancer / p.busy
            )
        })
        .unwrap_or_default();
    Some(match knee {
        Some(0) => format!(
            "{s}: the utilisation of {what} is already past {KNEE_UTILISATION} (the bottleneck) at the lowest load, {}{full}.",
            at(first)
        ),
        Some(i) => format!(
            "{s}: the utilisation of {what} reaches {KNEE_UTILISATION} (the bottleneck) between {} and {}{full}.",
            at(&pts[i - 1]),
            at(&pts[i])
        ),
        None => format!(
            "{s}: the utilisation of {what} stays below {KNEE_UTILISATION} up to {}{full}.",
            at(pts.last()?)
        ),
    })
}

/// The answer lines of a sweep folder: where the store and the backends saturate, at which
/// offered load and request rate at the balancer.
pub(crate) fn sweep_answers(t: &SweepTables) -> Vec<String> {
    let Some(slices) = series::slices(t) else {
        return Vec::new();
    };
    let Some(slice) = slices.first() else {
        return Vec::new();
    };
    let key = &t.axes[slice.axis];
    let names = series::sweep_strategies(t);
    let mut out = Vec::new();
    for s in &names {
        let store = t
            .rows
            .iter()
            .any(|r| &r.summary.strategy == s && r.summary.store_ops > 0);
        let store_pts = load_and(t, slice, s, |r| r.store_utilization);
        let store_knee = store_pts.iter().position(|p| p.busy >= KNEE_UTILISATION);
        if store {
            out.extend(bottleneck_line("the busiest store server", key, s, &store_pts, true));
        }
        let pts = load_and(t, slice, s, |r| r.backend_utilization);
        let knee = pts.iter().position(|p| p.busy >= KNEE_UTILISATION);
        match (store_knee, knee) {
            // A worker waiting for a saturated store is busy: the store, not the backends, is
            // the cause.
            (Some(k), Some(b)) if store && k <= b => out.push(format!(
                "{s}: the backends' workers fill up too from {key} = {} on ({:.3} busy), held by requests waiting for the store.",
                fmt_num(pts[b].x),
                pts[b].busy
            )),
            _ => out.extend(bottleneck_line("the backends' workers", key, s, &pts, !store)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_as_words() {
        assert_eq!(fmt_secs(45.0), "45 s");
        assert_eq!(fmt_secs(12.34), "12.3 s");
        assert_eq!(fmt_secs(600.0), "10 min");
        assert_eq!(fmt_secs(620.0), "10 min 20 s");
    }

    fn pt(x: f64, offered: f64, at_balancer: f64, busy: f64) -> LoadPoint {
        LoadPoint {
            x,
            offered,
            at_balancer,
            busy,
        }
    }

    #[test]
    fn no_knee_and_no_extrapolation_say_so() {
        // Highest point 0.5 busy at 500 requests/s at the balancer (450 of them the users'
        // own): below the knee; without extrapolation the sentence ends there.
        let pts = [pt(1.0, 90.0, 100.0, 0.1), pt(5.0, 450.0, 500.0, 0.5)];
        assert_eq!(
            bottleneck_line("the workers", "n", "b", &pts, false).unwrap_or_default(),
            "b: the utilisation of the workers stays below 0.9 up to n = 5 (offered load 450 requests/s, 500 at the \
             balancer, 0.500 busy)."
        );
    }

    #[test]
    fn a_bottleneck_is_placed_between_two_points_and_extrapolated() {
        // Utilisation 0.3, 0.6, 0.95 at 300, 600, 950 requests/s at the balancer: the knee lies
        // between the second and third point; 600 / 0.6 = 1000 requests/s at full utilisation
        // (the utilisation law applies to every request the balancer passes on).
        let pts = [
            pt(10.0, 290.0, 300.0, 0.3),
            pt(20.0, 580.0, 600.0, 0.6),
            pt(30.0, 870.0, 950.0, 0.95),
        ];
        assert_eq!(
            bottleneck_line("the store", "users/s", "a", &pts, true).unwrap_or_default(),
            "a: the utilisation of the store reaches 0.9 (the bottleneck) between users/s = 20 \
             (offered load 580 requests/s, 600 at the balancer, 0.600 busy) and users/s = 30 (offered load 870 requests/s, \
             950 at the balancer, 0.950 busy); from users/s = 20 (offered load 580 requests/s, 600 at the balancer, 0.600 \
             busy), utilisation grows in proportion to load and reaches 1 near 1000 requests/s at the balancer."
        );
    }

    #[test]
    fn send_modes_follow_the_strategy_then_the_base_then_tomcats_default() {
        // Base: replicated_all (Tomcat's default for DeltaManager: async, channelSendOptions 8);
        // one strategy sets sync; one switches to replicated_backup (BackupManager's default
        // mapSendOptions is synchronous); one switches storage but keeps an explicit async.
        let toml = r#"
[sessions]
storage = "replicated_all"
[[strategy]]
label = "delta async"
[[strategy]]
label = "delta sync"
sessions.replication.send_mode = "sync"
[[strategy]]
label = "backup"
sessions.storage = "replicated_backup"
[[strategy]]
label = "backup async"
sessions = { storage = "replicated_backup", replication = { send_mode = "async" } }
"#;
        assert_eq!(
            send_modes(toml),
            vec![
                ("delta async".to_string(), false),
                ("delta sync".to_string(), true),
                ("backup".to_string(), true),
                ("backup async".to_string(), false),
            ]
        );
        assert!(send_modes("not = [valid").is_empty());
    }
}
