//! The checks nginx, HAProxy, Apache and Envoy make of a balancer configuration (and sessim's
//! own limits), run once by [`super::CheckedConf::new`].

use super::{BalancerConf, BalancerError, MAX_NGINX_WEIGHT, MAX_SERVERS, Method, envoy_maglev, envoy_ring_hash};
use crate::engine::SimTime;

pub(super) fn validate(conf: &BalancerConf) -> Result<(), BalancerError> {
    let s = &conf.servers;
    if s.is_empty() {
        return Err(BalancerError::NoServers);
    }
    if s.len() > MAX_SERVERS {
        return Err(BalancerError::TooManyServers(s.len()));
    }
    if s.iter().all(|x| x.backup) {
        return Err(BalancerError::NoPrimary);
    }
    let haproxy = conf.method.is_haproxy();
    for srv in s {
        // nginx: weight=0 is "invalid parameter"; HAProxy accepts 0..=256. sessim caps
        // nginx weights at 1000 (consistent hashing keeps 160 points per unit).
        let (ok, range) = if let Method::Apache(_) = conf.method {
            // Apache keeps loadfactor x 100 (`loadfactor` 1..100).
            (
                (100..=10_000).contains(&srv.weight),
                "loadfactor 1..100 (lbfactor 100..=10000)",
            )
        } else if let Method::Caddy(_) = conf.method {
            // Caddy 2.6 has no upstream weights (2.7's weighted_round_robin has its own).
            (
                srv.weight == 1,
                "1: Caddy has no upstream weights (Caddy 2.7's `lb_policy weighted_round_robin W1 W2 ...` carries them)",
            )
        } else if haproxy {
            (srv.weight <= 256, "0..=256")
        } else {
            ((1..=MAX_NGINX_WEIGHT).contains(&srv.weight), "1..=1000 (sessim limit)")
        };
        if !ok {
            return Err(BalancerError::BadWeight {
                name: srv.name.clone(),
                weight: srv.weight,
                range,
            });
        }
        if srv.backup && !conf.method.info().backup {
            return Err(BalancerError::BackupNotAllowed {
                name: srv.name.clone(),
                method: conf.method.info().title,
            });
        }
    }
    validate_envoy_kube(&conf.method)?;
    if conf.cookie.is_some() && !haproxy {
        return Err(BalancerError::CookieNeedsHaproxy(conf.method.info().title));
    }
    Ok(())
}

/// The ranges Envoy's config validation (and sessim) accept for the Envoy and kube-proxy
/// parameters.
fn validate_envoy_kube(m: &Method) -> Result<(), BalancerError> {
    let bad = |s: String| Err(BalancerError::BadParameter(s));
    let outlier = match m {
        Method::EnvoyRoundRobin { outlier }
        | Method::EnvoyLeastRequest { outlier, .. }
        | Method::EnvoyRingHash { outlier, .. }
        | Method::EnvoyMaglev { outlier, .. } => *outlier,
        _ => None,
    };
    if let Some(o) = outlier {
        if o.max_ejection_percent > 100 {
            return bad(format!("max_ejection_percent {} is above 100", o.max_ejection_percent));
        }
        if o.interval == SimTime::ZERO {
            return bad("the outlier detection interval must be positive".into());
        }
    }
    match m {
        Method::EnvoyLeastRequest {
            choice_count,
            active_request_bias,
            ..
        } => {
            if *choice_count < 2 {
                return bad(format!("choice_count {choice_count} is below 2 (Envoy: `gte: 2`)"));
            }
            if !(active_request_bias.0.is_finite() && active_request_bias.0 >= 0.0) {
                return bad(format!(
                    "active_request_bias {} must be a number >= 0",
                    active_request_bias.0
                ));
            }
        }
        Method::EnvoyRingHash {
            minimum_ring_size,
            maximum_ring_size,
            ..
        } => {
            let cap = envoy_ring_hash::DEFAULT_MAX_RING;
            if *minimum_ring_size == 0 || *minimum_ring_size > cap || *maximum_ring_size > cap {
                return bad(format!("ring sizes must be within 1..={cap} (Envoy: `lte: 8388608`)"));
            }
            if minimum_ring_size > maximum_ring_size {
                // Envoy's own message.
                return bad(format!(
                    "ring hash: minimum_ring_size ({minimum_ring_size}) > maximum_ring_size ({maximum_ring_size})"
                ));
            }
        }
        Method::EnvoyMaglev { table_size, .. }
            if *table_size > envoy_maglev::MAX_TABLE_SIZE || !envoy_maglev::is_prime(*table_size) =>
        {
            return bad(format!(
                "table_size {table_size}: the table size of maglev must be a prime number up to {}",
                envoy_maglev::MAX_TABLE_SIZE
            ));
        }
        Method::KubeProxy {
            affinity,
            recent_list_size,
        } => {
            if let Some(t) = affinity
                && (*t == SimTime::ZERO || *t > SimTime::from_secs(86400))
            {
                return bad(format!(
                    "timeoutSeconds {t} must be within 1..=86400 s (Kubernetes API)"
                ));
            }
            if *recent_list_size == 0 {
                return bad("recent_list_size must be at least 1".into());
            }
        }
        _ => {}
    }
    Ok(())
}
