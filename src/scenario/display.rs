//! `sessim check`'s rendering of a validated scenario, every default filled in (the balancer's
//! lines are beside [`super::BalancerConfig`]; the sessions' beside their config in
//! `crate::store::config`).

use super::{Scenario, System};
use crate::dist::Kind;
use std::fmt;

impl fmt::Display for Scenario {
    /// The resolved scenario, every default filled in, as `sessim check` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario     {}", self.name)?;
        if let Some(d) = &self.description {
            writeln!(f, "description  {d}")?;
        }
        writeln!(f, "seed         {}", self.seed)?;
        writeln!(f, "duration     {} (warm-up {} discarded)", self.duration, self.warmup)?;
        writeln!(f, "replications {}", self.replications)?;
        writeln!(f, "bucket       {}", self.bucket)?;
        for (i, s) in self.strategies.iter().enumerate() {
            writeln!(f, "\nstrategy[{i}]  {}", s.label)?;
            write!(f, "{}", s.system)?;
        }
        Ok(())
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.workload;
        if let Some(r) = &w.replay {
            writeln!(
                f,
                "  workload   replay {} ({:?}), session gap {}, time scale {}, clone {}, login {}, service {:?}{}",
                r.file.display(),
                r.format,
                r.session_gap,
                r.time_scale,
                r.clone,
                r.login,
                r.service,
                if r.strict { ", strict" } else { "" }
            )?;
            // The log gives the arrivals, the requests, the pauses and the addresses: of the
            // synthetic workload only the session's size and writes (and cookie refusal) apply.
            if let Some(c) = w.classes.first() {
                writeln!(
                    f,
                    "             session {}, modify {}, refuse cookies {}",
                    c.session_size.describe(Kind::Bytes),
                    c.session_modify,
                    c.refuse_cookies
                )?;
            }
        } else {
            writeln!(f, "  workload   {} users/s, {} pages", w.users_per_second, w.pages)?;
            self.fmt_synthetic(f)?;
        }
        write!(f, "{}", self.balancer)?;
        let servers = &self.balancer.conf.conf().servers;
        for (b, s) in self.backends.iter().zip(servers) {
            write!(
                f,
                "  backend    {:<8} weight {}, {} workers, queue {}, service {}{}{}",
                b.name,
                b.weight,
                b.workers,
                b.queue,
                b.service_time.describe(Kind::Duration),
                if b.backup { ", backup" } else { "" },
                if b.down { ", down" } else { "" }
            )?;
            if s.max_conns > 0 {
                write!(f, ", max_conns {}", s.max_conns)?;
            }
            if !self.balancer.policy.is_haproxy() && !self.balancer.policy.is_envoy_or_kube() {
                write!(f, ", max_fails {}, fail_timeout {}", s.max_fails, s.fail_timeout)?;
            }
            if let Some(c) = &s.check {
                write!(f, ", check inter {} fall {} rise {}", c.inter, c.fall, c.rise)?;
            }
            if self.balancer.conf.conf().cookie.is_some()
                && let Some(c) = &s.cookie
            {
                write!(f, ", cookie {c}")?;
            }
            writeln!(f)?;
        }
        write!(f, "{}", self.sessions)
    }
}

impl System {
    /// The synthetic workload's lines: the rate profile, the user classes and the addresses
    /// (none of which a replayed log uses).
    fn fmt_synthetic(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.workload;
        for p in &w.profile {
            writeln!(f, "             from {} rate x{}", p.at, p.factor)?;
        }
        if let Some(r) = w.profile_repeat {
            writeln!(f, "             profile repeats every {r}")?;
        }
        for c in &w.classes {
            writeln!(
                f,
                "    class {:<10} share {}, login {}, requests {}, think {}, refuse cookies {}, session {}, \
                 modify {}, parallel {}",
                c.name,
                c.share,
                c.login,
                c.requests.describe(Kind::Count),
                c.think_time.describe(Kind::Duration),
                c.refuse_cookies,
                c.session_size.describe(Kind::Bytes),
                c.session_modify,
                c.parallel
            )?;
        }
        let a = &w.addresses;
        writeln!(
            f,
            "  addresses  {} /24 networks (skew {}), {} of users behind {} NAT addresses",
            a.networks, a.network_skew, a.nat_share, a.nat_addresses
        )?;
        Ok(())
    }
}
