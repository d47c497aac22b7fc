//! Weighted random choice per request, as nginx's `random` directive without `two`
//! (`src/http/modules/ngx_http_upstream_random_module.c`: a uniform draw over the total weight,
//! walked through the peers in order). Backups are used only when no primary is usable.

use super::{ClientInfo, PeerState, Policy, untried, use_backups};
use crate::engine::{SimRng, SimTime};
use rand::RngExt;

pub struct WeightedRandom;

impl Policy for WeightedRandom {
    fn pick(&mut self, _: &ClientInfo, peers: &[PeerState], tried: u64, _: SimTime, rng: &mut SimRng) -> Option<usize> {
        let backups = use_backups(peers, tried);
        let ok = |i: usize, p: &PeerState| p.backup == backups && p.usable() && untried(i, tried);
        let total: u64 = peers
            .iter()
            .enumerate()
            .filter(|(i, p)| ok(*i, p))
            .map(|(_, p)| p.weight as u64)
            .sum();
        if total == 0 {
            return None;
        }
        let mut x = rng.random_range(0..total);
        for (i, p) in peers.iter().enumerate() {
            if !ok(i, p) {
                continue;
            }
            if x < p.weight as u64 {
                return Some(i);
            }
            x -= p.weight as u64;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{Stream, stream};

    #[test]
    fn frequencies_follow_weights() {
        let peers: Vec<PeerState> = [3u32, 1]
            .iter()
            .enumerate()
            .map(|(i, &w)| PeerState {
                name: format!("b{i}"),
                weight: w,
                backup: false,
                down: false,
                conns: 0,
            })
            .collect();
        let mut rng = stream(5, 0, Stream::Balancer);
        let c = ClientInfo {
            addr: [10, 0, 0, 1].into(),
            session: None,
            page: 0,
        };
        let n = 40_000;
        let zeros = (0..n)
            .filter(|_| WeightedRandom.pick(&c, &peers, 0, SimTime::ZERO, &mut rng) == Some(0))
            .count();
        // Binomial(40000, 0.75): sd 86.6; 4 sd = 346.
        assert!((zeros as f64 - 30_000.0).abs() < 346.0, "{zeros}");
        assert_eq!(WeightedRandom.pick(&c, &peers, 0b11, SimTime::ZERO, &mut rng), None);
    }
}
