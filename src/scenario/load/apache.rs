//! The `[balancer]` keys of the policy `apache` (mod_proxy_balancer), turned into an
//! [`ApacheConf`].

use super::*;
use crate::balancer::apache::{ApacheConf, LbMethod};
use crate::balancer::config::httpd;

/// The `[balancer]` keys of the policy `apache`, with Apache's defaults.
pub(super) fn apache_conf(b: &RawBalancer) -> PathResult<ApacheConf> {
    let lbmethod = match b.lbmethod.as_deref().unwrap_or("byrequests") {
        "byrequests" => LbMethod::ByRequests,
        "bybusyness" => LbMethod::ByBusyness,
        "bytraffic" => LbMethod::ByTraffic,
        "heartbeat" => {
            return err(
                "balancer.lbmethod",
                "`heartbeat` balances by the load that mod_heartbeat reports over multicast, which \
                 sessim does not model; choose byrequests, bybusyness or bytraffic",
            );
        }
        other => {
            return err(
                "balancer.lbmethod",
                format!(
                    "unknown value `{other}`{}; choose one of: byrequests, bybusyness, bytraffic",
                    suggest(other, &["byrequests", "bybusyness", "bytraffic"])
                ),
            );
        }
    };
    let sticky = match b.stickysession.as_deref() {
        None => None,
        Some(v) => Some(httpd::sticky_of(v).map_err(|m| ("balancer.stickysession".to_string(), m))?),
    };
    if sticky.is_none() && b.nofailover.is_some() {
        return err("balancer.nofailover", "applies only with `stickysession`");
    }
    Ok(ApacheConf {
        lbmethod,
        sticky,
        nofailover: b.nofailover.unwrap_or(false),
        forcerecovery: b.forcerecovery.unwrap_or(true),
        ..ApacheConf::default()
    })
}
