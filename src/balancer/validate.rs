//! The checks nginx, HAProxy, Apache and Envoy make of a balancer configuration (and sessim's
//! own limits), run once by [`super::CheckedConf::new`]: the servers (their number, weights as
//! the family accepts them, `backup` as the policy allows it), then the algorithm's own
//! parameters ([`super::Algorithm::validate`]), then cookie persistence.

use super::{BalancerConf, BalancerError, MAX_SERVERS};

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
    let info = conf.method.info();
    for srv in s {
        if let Err(range) = info.family.check_weight(srv.weight) {
            return Err(BalancerError::BadWeight {
                name: srv.name.clone(),
                weight: srv.weight,
                range,
            });
        }
        if srv.backup && !info.backup {
            return Err(BalancerError::BackupNotAllowed {
                name: srv.name.clone(),
                method: info.title,
            });
        }
    }
    conf.method.validate()?;
    if conf.cookie.is_some() && !info.is_haproxy() {
        return Err(BalancerError::CookieNeedsHaproxy(info.title));
    }
    Ok(())
}
