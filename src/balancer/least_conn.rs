//! Least connections: nginx `least_conn` and HAProxy `balance leastconn`.
//!
//! * nginx (`src/http/modules/ngx_http_upstream_least_conn_module.c`,
//!   `ngx_http_upstream_get_least_conn_peer`): the usable peer with the smallest
//!   `conns / weight` (compared as `conns_a * weight_b < conns_b * weight_a`); when
//!   several tie, the smooth weighted round-robin runs among the tied peers only,
//!   starting at the first of them. Backup servers when no primary is usable.
//! * HAProxy (`src/lb_fwlc.c`, `fwlc_queue_srv`, `fwlc_get_next_server`,
//!   `fwlc_srv_reposition`): servers sit in a tree keyed `0` when idle, else
//!   `(inflight + 1) * SRV_EWGHT_MAX / eweight`; the first non-saturated server that is
//!   not the one to avoid wins. A server is re-queued (behind equal keys) each time it
//!   takes or drops a connection, which is what rotates equally loaded servers.

use super::haproxy_lb::{BE_WEIGHT_SCALE, Backend, EbTree, SRV_EWGHT_MAX};
use super::haproxy_rr::avoid_of;
use super::round_robin::NginxPeers;
use super::{Attempt, ClientInfo, PeerState, Policy, ServerConf, SimRng, SimTime, nginx_secs};

/// nginx `least_conn`.
pub struct NginxLeastConn {
    peers: NginxPeers,
}

impl NginxLeastConn {
    /// A least_conn upstream over `servers` (config order; backups allowed).
    pub fn new(servers: &[ServerConf]) -> Self {
        NginxLeastConn {
            peers: NginxPeers::new(servers),
        }
    }

    fn get(&mut self, backup: bool, peers: &[PeerState], attempt: &mut Attempt, now_s: i64) -> Option<usize> {
        let nginx = &mut self.peers;
        let list = if backup { &nginx.backup } else { &nginx.primary };
        let usable = |nginx: &NginxPeers, i: usize, peers: &[PeerState], attempt: &Attempt| {
            !attempt.was_tried(i) && peers.get(i).is_some_and(|p| nginx.available(i, p, now_s))
        };
        let ratio = |nginx: &NginxPeers, i: usize, peers: &[PeerState]| {
            (i64::from(peers.get(i).map_or(0, |p| p.conns)), nginx.weight(i))
        };
        let mut best: Option<(usize, usize)> = None; // (global index, position)
        let mut many = false;
        for (pos, &i) in list.iter().enumerate() {
            if !usable(nginx, i, peers, attempt) {
                continue;
            }
            let (c, w) = ratio(nginx, i, peers);
            match best {
                None => {
                    best = Some((i, pos));
                    many = false;
                }
                Some((b, _)) => {
                    let (bc, bw) = ratio(nginx, b, peers);
                    if c * bw < bc * w {
                        best = Some((i, pos));
                        many = false;
                    } else if c * bw == bc * w {
                        many = true;
                    }
                }
            }
        }
        let Some((mut b, start)) = best else {
            if !backup && !nginx.backup.is_empty() {
                attempt.backup = true;
                return self.get(true, peers, attempt, now_s);
            }
            return None;
        };
        if many {
            let (bc, bw) = ratio(nginx, b, peers);
            let mut total: i64 = 0;
            for &i in &list[start..] {
                if !usable(nginx, i, peers, attempt) {
                    continue;
                }
                let (c, w) = ratio(nginx, i, peers);
                if c * bw != bc * w {
                    continue;
                }
                let weight = nginx.weight(i);
                let Some(p) = nginx.state.get_mut(i) else { continue };
                p.current_weight += p.effective_weight;
                total += p.effective_weight;
                if p.effective_weight < weight {
                    p.effective_weight += 1;
                }
                let cw = p.current_weight;
                if cw > nginx.state.get(b).map_or(i64::MIN, |q| q.current_weight) {
                    b = i;
                }
            }
            if let Some(p) = nginx.state.get_mut(b) {
                p.current_weight -= total;
            }
        }
        nginx.take(b, now_s);
        Some(b)
    }
}

impl Policy for NginxLeastConn {
    fn pick(
        &mut self,
        _client: &ClientInfo<'_>,
        peers: &[PeerState],
        attempt: &mut Attempt,
        now: SimTime,
        _rng: &mut SimRng,
    ) -> Option<usize> {
        let now_s = nginx_secs(now);
        if self.peers.single && !attempt.backup {
            return self.peers.get_round_robin_peer(peers, attempt, now_s);
        }
        self.get(attempt.backup, peers, attempt, now_s)
    }

    fn report(&mut self, peer: usize, ok: bool, _peers: &[PeerState], now: SimTime) {
        self.peers.free(peer, ok, nginx_secs(now));
    }

    fn fails(&self, peer: usize) -> u32 {
        self.peers.fails(peer)
    }
}

/// HAProxy `balance leastconn`.
pub struct HaproxyLeastConn {
    be: Backend,
    act: EbTree,
    bck: EbTree,
}

impl HaproxyLeastConn {
    /// A leastconn backend over `servers` (config order).
    pub fn new(servers: &[ServerConf]) -> Self {
        let be = Backend::new(servers, |w| w * BE_WEIGHT_SCALE);
        let n = servers.len();
        let mut l = HaproxyLeastConn {
            be,
            act: EbTree::with_capacity(n),
            bck: EbTree::with_capacity(n),
        };
        for i in 0..n {
            if l.be.is_usable(i) {
                l.queue(i, 0);
            }
        }
        l
    }

    /// `fwlc_queue_srv`.
    fn queue(&mut self, i: usize, inflight: u32) {
        let ew = self.be.eweight(i).max(1);
        let key = if inflight > 0 {
            inflight.saturating_add(1).wrapping_mul(SRV_EWGHT_MAX) / ew
        } else {
            0
        };
        let tree = if self.be.is_backup(i) {
            &mut self.bck
        } else {
            &mut self.act
        };
        tree.insert(key, i);
    }

    /// `fwlc_srv_reposition`: only servers still in a tree move.
    fn reposition(&mut self, i: usize, peers: &[PeerState]) {
        if !self.be.is_usable(i) {
            return;
        }
        let removed = if self.be.is_backup(i) {
            self.bck.remove(i)
        } else {
            self.act.remove(i)
        };
        if removed {
            self.queue(i, peers.get(i).map_or(0, |p| p.conns));
        }
    }
}

impl Policy for HaproxyLeastConn {
    fn pick(
        &mut self,
        _client: &ClientInfo<'_>,
        peers: &[PeerState],
        attempt: &mut Attempt,
        _now: SimTime,
        _rng: &mut SimRng,
    ) -> Option<usize> {
        attempt.direct = false;
        let avoid = avoid_of(attempt);
        let tree = if self.be.srv_act > 0 {
            &self.act
        } else if let Some(f) = self.be.fbck {
            return Some(f);
        } else if self.be.srv_bck > 0 {
            &self.bck
        } else {
            return None;
        };
        let mut chosen = None;
        let mut avoided = None;
        for (_, s) in tree.iter() {
            if self.be.saturated(s, peers) {
                continue;
            }
            if Some(s) != avoid {
                chosen = Some(s);
                break;
            }
            avoided = Some(s);
        }
        // The chosen server is re-sorted once the bookkeeping counts its connection
        // (`server_took_conn`).
        chosen.or(avoided)
    }

    fn report(&mut self, peer: usize, _ok: bool, peers: &[PeerState], _now: SimTime) {
        self.reposition(peer, peers);
    }

    /// After every counted connection, as HAProxy's `server_take_conn` hook. A pick of the
    /// first backup (`fbck`) re-sorts it in the backup tree, which HAProxy reads only when
    /// there is no usable backup at all (without `option allbackups`), so it changes no
    /// decision.
    fn server_took_conn(&mut self, peer: usize, peers: &[PeerState]) {
        self.reposition(peer, peers);
    }

    fn set_server_up(&mut self, peer: usize, up: bool, peers: &[PeerState]) {
        match self.be.set_up(peer, up) {
            Some(true) => self.queue(peer, peers.get(peer).map_or(0, |p| p.conns)),
            Some(false) => {
                self.act.remove(peer);
                self.bck.remove(peer);
            }
            None => {}
        }
    }
}

/// The policy `least_conn` (registered in [`super::registry::POLICIES`]).
pub(crate) static NGINX_POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "least_conn",
    directive: "least_conn",
    title: "nginx least_conn",
    family: super::registry::Family::Nginx,
    backup: true,
    keys: &[],
    method: |_| super::Method::new(LeastConnConf),
};

/// The policy `leastconn` (registered in [`super::registry::POLICIES`]).
pub(crate) static HAPROXY_POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "leastconn",
    directive: "leastconn",
    title: "haproxy leastconn",
    family: super::registry::Family::Haproxy,
    backup: true,
    keys: &[],
    method: |_| super::Method::new(HaproxyLeastConnConf),
};

/// The algorithm of `least_conn` (nginx) (no parameters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeastConnConf;

impl super::Algorithm for LeastConnConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &NGINX_POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(NginxLeastConn::new(servers))
    }
}

/// The algorithm of `leastconn` (HAProxy) (no parameters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HaproxyLeastConnConf;

impl super::Algorithm for HaproxyLeastConnConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &HAPROXY_POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(HaproxyLeastConn::new(servers))
    }

    fn redispatch_every_retry(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{client, rng, servers};
    use super::super::{Attempt, PeerState, Policy};
    use super::*;
    use crate::balancer::Bookkeeping;

    fn picks(p: &mut dyn Policy, peers: &mut [PeerState], n: usize) -> Vec<Option<usize>> {
        let c = client("10.0.0.1");
        let mut g = rng();
        (0..n)
            .map(|_| {
                let mut a = Attempt::default();
                p.pick_counted(&c, peers, &mut a, SimTime::ZERO, &mut g)
            })
            .collect()
    }

    #[test]
    fn nginx_fills_least_loaded_weighted() {
        // Never released. Weights 2,1: conns/weight compared crosswise.
        // 1: both 0 -> tie -> smooth rr among a(2), b(1): a (cw 2 vs 1), a=-1
        // 2: a 1/2 vs b 0/1 -> b            3: a 1/2 vs b 1/1 -> a
        // 4: a 2/2 = b 1/1 -> tie: a cw -1+2=1, b 1+1=2 -> b, b=-1
        let conf = servers(&[2, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut p = NginxLeastConn::new(&conf);
        assert_eq!(picks(&mut p, &mut peers, 4), [Some(0), Some(1), Some(0), Some(1)]);
    }

    #[test]
    fn haproxy_idle_servers_rotate_then_least_loaded() {
        let conf = servers(&[1, 1, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut p = HaproxyLeastConn::new(&conf);
        // Never released: 0 1 2 (each taken server moves behind), then all have 1.
        assert_eq!(picks(&mut p, &mut peers, 4), [Some(0), Some(1), Some(2), Some(0)]);
        // Release b2: it is the least loaded.
        p.report_counted(1, true, &mut peers, SimTime::ZERO);
        assert_eq!(picks(&mut p, &mut peers, 1), [Some(1)]);
    }
}
