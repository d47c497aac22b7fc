//! What a validated scenario can still get wrong: warnings about configurations that are valid
//! but cannot do what the file seems to ask (`sessim check` and `sessim run` print them).

use super::{BackendConfig, Scenario, StorageKind, System};

/// Configurations that must fail, computed from the rates (lower bounds: re-logins, retries
/// and lock polling only add work), for synthetic workloads:
/// - the serving backends' utilisation at the peak arrival rate, `lambda x E[S] / workers`, at or
///   above 1;
/// - a `shared` store's busiest-possible utilisation at or above 1: every login writes once and
///   every request of a logged-in user reads and writes once (`lambda_ops x E[S] / (concurrency x
///   servers)`, spread evenly; the busiest server is at least that);
/// - more backend workers than a store server's `max_connections` (each worker holds one
///   connection to every server);
/// - a `cookie` session whose mean size, base64-encoded plus 80 bytes, exceeds `cookie_limit`.
fn must_fail(sys: &System) -> Vec<String> {
    let mut out = Vec::new();
    let serving: Vec<&BackendConfig> = sys.backends.iter().filter(|b| !b.down && !b.backup).collect();
    let workers: u64 = serving.iter().map(|b| b.workers as u64).sum();
    if sys.workload.replay.is_none() {
        let peak = sys.workload.profile.iter().map(|p| p.factor).fold(1.0_f64, f64::max);
        let peak = if sys.workload.profile.is_empty() { 1.0 } else { peak };
        let users = sys.workload.users_per_second * peak;
        let (mut req, mut ops) = (0.0, 0.0);
        for c in &sys.workload.classes {
            let pages = c.requests.mean() * c.parallel as f64;
            let login = if c.login { 1.0 } else { 0.0 };
            req += c.share * (login + pages);
            ops += c.share * login * (1.0 + 2.0 * pages);
        }
        let rps = users * req;
        let service = serving.iter().map(|b| b.service_time.mean()).sum::<f64>() / serving.len().max(1) as f64;
        let util = rps * service / workers.max(1) as f64;
        if workers > 0 && util.is_finite() && util >= 1.0 {
            out.push(format!(
                "the backends must saturate: {rps:.0} requests/s offered at the peak x {:.1} ms mean service time over \
                 {workers} workers is a utilisation of {util:.2} (at least 1): queues grow until requests are rejected; add \
                 backends or workers, or lower the load",
                service * 1e3
            ));
        }
        if sys.sessions.storage == StorageKind::Shared {
            let st = &sys.sessions.store;
            let cap = (st.concurrency as f64) * (st.servers as f64);
            let u = users * ops * st.service_time.mean() / cap.max(1.0);
            if u.is_finite() && u >= 1.0 {
                out.push(format!(
                    "the session store must saturate: at least {:.0} operations/s at the peak x {:.3} ms per operation \
                     over {} server(s) x {} at once is a utilisation of {u:.2} (at least 1): operations queue until they \
                     time out; add store servers or lower the load",
                    users * ops,
                    st.service_time.mean() * 1e3,
                    st.servers,
                    st.concurrency
                ));
            }
        }
        if sys.sessions.storage == StorageKind::Cookie {
            for c in &sys.workload.classes {
                let bytes = (c.session_size.mean() / 3.0).ceil() * 4.0 + 80.0;
                if c.login && bytes > sys.sessions.cookie_limit as f64 {
                    out.push(format!(
                        "cookie sessions of {:.0} bytes on average become cookies of {bytes:.0} bytes (base64 + 80), over \
                         cookie_limit = {}: browsers drop them and most sessions are lost (lost_cookie_too_large)",
                        c.session_size.mean(),
                        sys.sessions.cookie_limit
                    ));
                    break;
                }
            }
        }
    }
    if sys.sessions.uses_connections() {
        let mut stores = vec![("sessions.store", &sys.sessions.store)];
        if sys.sessions.storage == StorageKind::CachedDb {
            stores.push(("sessions.cache", &sys.sessions.cache));
        }
        for (key, st) in stores {
            let max = st.max_connections as u64;
            if max > 0 && workers > max {
                out.push(format!(
                    "{} backends x their workers = {workers} connections to each {key} server exceed its \
                     max_connections = {max}: once {max} workers have connected (each keeps its connection), the other {} are \
                     refused on every attempt (store_rejected, lost sessions); raise max_connections or lower the workers",
                    serving.len(),
                    workers - max
                ));
            }
        }
    }
    out
}

impl Scenario {
    /// What is valid but cannot do what the file seems to ask: a scheduled fault that starts at
    /// or after the end of the run never happens (and no output will show it), and the
    /// configurations that must fail ([`must_fail`]). One message per distinct problem, naming
    /// the strategies it applies to unless it applies to all.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut found: Vec<(String, Vec<&str>)> = Vec::new();
        for st in &self.strategies {
            let stores = crate::store::server_names(&st.system.sessions);
            for f in &st.system.faults.scheduled {
                if f.at < self.duration {
                    continue;
                }
                let target = match f.target {
                    crate::faults::Target::Backend(i) => st.system.backends.get(i).map(|b| b.name.clone()),
                    crate::faults::Target::Store(i) => stores.get(i).cloned(),
                }
                .unwrap_or_default();
                let kind = match f.kind {
                    crate::faults::FaultKind::Crash { .. } => "crash",
                    crate::faults::FaultKind::AppDown { .. } => "app_down",
                    crate::faults::FaultKind::Drain { .. } => "drain",
                    crate::faults::FaultKind::Slow { .. } => "slow",
                };
                let text = format!(
                    "faults: the `{kind}` fault of {target} at {} starts at or after the end of the run (duration = \"{}\"): \
                     it never happens and no output shows it; make `at` earlier or `duration` longer",
                    f.at, self.duration
                );
                match found.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, who)) => who.push(&st.label),
                    None => found.push((text, vec![&st.label])),
                }
            }
        }
        for st in &self.strategies {
            for text in must_fail(&st.system) {
                match found.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, who)) => who.push(&st.label),
                    None => found.push((text, vec![&st.label])),
                }
            }
        }
        let all = self.strategies.len();
        found
            .into_iter()
            .map(|(text, who)| {
                if who.len() == all {
                    text
                } else {
                    format!("strategy `{}`: {text}", who.join("`, `"))
                }
            })
            .collect()
    }
}
