//! nginx `random` and `random two least_conn` (power of two choices).
//!
//! Source: nginx/nginx `src/http/modules/ngx_http_upstream_random_module.c` (1.22):
//! `ngx_http_upstream_update_random` (ranges: each peer's cumulative weight start),
//! `ngx_http_upstream_peek_random_peer` (`x = random() % total_weight`, binary
//! search of the ranges), `ngx_http_upstream_get_random_peer` (redraw while the peer
//! is tried, down, failed or full; after 20 draws, round-robin) and
//! `ngx_http_upstream_get_random2_peer` (two distinct usable draws; the second wins
//! unless it has strictly more `conns / weight` than the first).
//!
//! The draws come from the simulator's [`SimRng`], not libc `random()`: the
//! structure of each decision is nginx's, the particular random numbers cannot be.
//! `two` without `least_conn` is the same method (least_conn is its only criterion).

use super::round_robin::NginxPeers;
use super::{Attempt, ClientInfo, PeerState, Policy, ServerConf, SimRng, SimTime, nginx_secs};
use rand::RngExt;

/// nginx `random [two [least_conn]]`.
pub struct Random {
    peers: NginxPeers,
    /// `ranges[k]`: total weight of the primary peers before peer k.
    ranges: Vec<u32>,
    two: bool,
}

impl Random {
    /// A random upstream over `servers` (config order; no backups).
    pub fn new(servers: &[ServerConf], two: bool) -> Self {
        let peers = NginxPeers::new(servers);
        let mut acc = 0;
        let ranges = peers
            .primary
            .iter()
            .map(|&i| {
                let start = acc;
                acc += servers[i].weight;
                start
            })
            .collect();
        Random { peers, ranges, two }
    }

    /// `ngx_http_upstream_peek_random_peer`: a weighted draw of a primary peer.
    fn peek(&self, rng: &mut SimRng) -> Option<usize> {
        let total = self.peers.total_weight;
        if total == 0 || self.ranges.is_empty() {
            return None;
        }
        let x = rng.random_range(0..total);
        let (mut i, mut j) = (0usize, self.ranges.len());
        while j - i > 1 {
            let k = (i + j) / 2;
            if x < self.ranges[k] {
                j = k;
            } else {
                i = k;
            }
        }
        self.peers.primary.get(i).copied()
    }

    fn usable(&self, i: usize, peers: &[PeerState], attempt: &Attempt, now_s: i64) -> bool {
        !attempt.was_tried(i) && peers.get(i).is_some_and(|p| self.peers.available(i, p, now_s))
    }
}

impl Policy for Random {
    fn pick(
        &mut self,
        _client: &ClientInfo<'_>,
        peers: &[PeerState],
        attempt: &mut Attempt,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<usize> {
        if attempt.count == 0 {
            attempt.tries = 0;
        }
        let now_s = nginx_secs(now);
        if attempt.tries > 20 || self.peers.single {
            return self.peers.get_round_robin_peer(peers, attempt, now_s);
        }
        let mut prev: Option<usize> = None;
        loop {
            let Some(i) = self.peek(rng) else {
                return self.peers.get_round_robin_peer(peers, attempt, now_s);
            };
            let fresh = prev != Some(i) && self.usable(i, peers, attempt, now_s);
            if fresh {
                if !self.two {
                    self.peers.take(i, now_s);
                    return Some(i);
                }
                if let Some(p) = prev {
                    let c = |k: usize| i64::from(peers.get(k).map_or(0, |s| s.conns));
                    let w = |k: usize| self.peers.weight(k);
                    let chosen = if c(i) * w(p) > c(p) * w(i) { p } else { i };
                    self.peers.take(chosen, now_s);
                    return Some(chosen);
                }
                prev = Some(i);
            }
            attempt.tries += 1;
            if attempt.tries > 20 {
                return self.peers.get_round_robin_peer(peers, attempt, now_s);
            }
        }
    }

    fn report(&mut self, peer: usize, ok: bool, _peers: &[PeerState], now: SimTime) {
        self.peers.free(peer, ok, nginx_secs(now));
    }

    fn fails(&self, peer: usize) -> u32 {
        self.peers.fails(peer)
    }
}

/// The policy `random` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "random",
    directive: "random",
    title: "nginx random",
    family: super::registry::Family::Nginx,
    backup: false,
    keys: &[],
    method: |_| super::Method::new(RandomConf { two: false }),
};

/// The policy `random_two_least_conn` (registered in [`super::registry::POLICIES`]).
pub(crate) static TWO_LEAST_CONN_POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "random_two_least_conn",
    directive: "random two",
    title: "nginx random two least_conn",
    family: super::registry::Family::Nginx,
    backup: false,
    keys: &[],
    method: |_| super::Method::new(RandomConf { two: true }),
};

/// The algorithm of `random` and `random_two_least_conn`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RandomConf {
    /// `random two`: the less loaded of two random servers.
    pub two: bool,
}

impl super::Algorithm for RandomConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        if self.two { &TWO_LEAST_CONN_POLICY } else { &POLICY }
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(Random::new(servers, self.two))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{client, rng, servers};
    use super::super::{Attempt, PeerState};
    use super::*;
    use crate::balancer::Bookkeeping;

    #[test]
    fn weighted_draws_follow_weights() {
        let conf = servers(&[3, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut p = Random::new(&conf, false);
        let c = client("10.0.0.1");
        let mut g = rng();
        let mut count = [0u32; 2];
        for _ in 0..4000 {
            let mut a = Attempt::default();
            let i = p
                .pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g)
                .unwrap_or(9);
            count[i] += 1;
            p.report_counted(i, true, &mut peers, SimTime::ZERO);
        }
        // Expected 3000 / 1000; binomial sd = sqrt(4000 * .75 * .25) = 27.4.
        assert!((2890..=3110).contains(&count[0]), "{count:?}");
    }

    #[test]
    fn two_choices_prefers_less_loaded() {
        let conf = servers(&[1, 1]);
        let mut peers = PeerState::for_servers(&conf);
        peers[0].conns = 5;
        let mut p = Random::new(&conf, true);
        let c = client("10.0.0.1");
        let mut g = rng();
        // The two draws must be distinct, so b2 (0 conns) always wins.
        for _ in 0..20 {
            let mut a = Attempt::default();
            assert_eq!(p.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g), Some(1));
            p.report_counted(1, true, &mut peers, SimTime::ZERO);
        }
    }

    #[test]
    fn frequencies_follow_weights_and_tried_servers_are_not_drawn() {
        // From the foundation's weighted random: weights 3,1 over 40000 draws.
        let conf = servers(&[3, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut p = Random::new(&conf, false);
        let c = client("10.0.0.1");
        let mut g = rng();
        let n = 40_000;
        let zeros = (0..n)
            .filter(|_| {
                let mut a = Attempt::default();
                let i = p.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g);
                if let Some(i) = i {
                    p.report_counted(i, true, &mut peers, SimTime::ZERO);
                }
                i == Some(0)
            })
            .count();
        // Binomial(40000, 0.75): sd 86.6; 4 sd = 346.
        assert!((zeros as f64 - 30_000.0).abs() < 346.0, "{zeros}");
        // Both servers tried (refused) in this request: nothing is left.
        let mut a = Attempt::default();
        let first = p.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g);
        assert!(first.is_some());
        p.report_counted(first.unwrap_or(0), false, &mut peers, SimTime::ZERO);
        let second = p.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g);
        assert!(second.is_some() && second != first);
        p.report_counted(second.unwrap_or(0), false, &mut peers, SimTime::ZERO);
        assert_eq!(p.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g), None);
    }

    #[test]
    fn same_seed_same_choices() {
        let conf = servers(&[1, 2, 3]);
        let run = || {
            let mut peers = PeerState::for_servers(&conf);
            let mut p = Random::new(&conf, false);
            let c = client("10.0.0.1");
            let mut g = rng();
            (0..50)
                .map(|_| {
                    let mut a = Attempt::default();
                    let i = p.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g);
                    if let Some(i) = i {
                        p.report_counted(i, true, &mut peers, SimTime::ZERO);
                    }
                    i
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
