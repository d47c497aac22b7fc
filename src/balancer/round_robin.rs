//! nginx's smooth weighted round-robin, the default of an `upstream` block.
//!
//! From nginx `src/http/ngx_http_upstream_round_robin.c`, `ngx_http_upstream_get_peer`: for
//! each usable peer in configuration order, `current_weight += effective_weight` and
//! `total += effective_weight`; the peer with the largest `current_weight` wins (the first one
//! on ties); then the winner's `current_weight -= total`. Weights 5,1,1 give a a b a c a a:
//! spread out, not bunched. One global state for all clients: round-robin ignores who asks.
//! Backup servers (a separate peer list in nginx) are used only when no primary is usable.
//! `effective_weight` only differs from `weight` after passive failures, which the balancer
//! issue adds; here it equals `weight`.

use super::{ClientInfo, PeerState, Policy, untried};
use crate::engine::{SimRng, SimTime};

pub struct SmoothRoundRobin {
    current: Vec<i64>,
}

impl SmoothRoundRobin {
    pub fn new(n: usize) -> Self {
        SmoothRoundRobin { current: vec![0; n] }
    }
}

impl SmoothRoundRobin {
    /// One round of the algorithm over the primaries (`backup == false`) or the backups.
    #[inline]
    fn round(&mut self, peers: &[PeerState], tried: u64, backup: bool) -> Option<usize> {
        let mut best = usize::MAX;
        let mut best_cw = i64::MIN;
        let mut total: i64 = 0;
        for (i, p) in peers.iter().enumerate() {
            if p.backup != backup || !p.usable() || !untried(i, tried) {
                continue;
            }
            let w = p.weight as i64;
            let cw = self.current[i] + w;
            self.current[i] = cw;
            total += w;
            if cw > best_cw {
                best = i;
                best_cw = cw;
            }
        }
        if best == usize::MAX {
            return None;
        }
        self.current[best] -= total;
        Some(best)
    }
}

impl Policy for SmoothRoundRobin {
    fn pick(&mut self, _: &ClientInfo, peers: &[PeerState], tried: u64, _: SimTime, _: &mut SimRng) -> Option<usize> {
        // nginx keeps backups in a second peer list, tried only when no primary is usable.
        self.round(peers, tried, false)
            .or_else(|| self.round(peers, tried, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{Stream, stream};

    pub(crate) fn peers(weights: &[u32]) -> Vec<PeerState> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| PeerState {
                name: format!("b{i}"),
                weight: w,
                backup: false,
                down: false,
                conns: 0,
            })
            .collect()
    }

    fn sequence(p: &[PeerState], n: usize) -> Vec<usize> {
        let mut rr = SmoothRoundRobin::new(p.len());
        let mut rng = stream(0, 0, Stream::Balancer);
        let c = ClientInfo {
            addr: [10, 0, 0, 1].into(),
            session: None,
            page: 0,
        };
        (0..n)
            .map(|_| rr.pick(&c, p, 0, SimTime::ZERO, &mut rng).unwrap())
            .collect()
    }

    #[test]
    fn weights_5_1_1_1_interleave_as_nginx_does() {
        // Hand-worked with the algorithm above (cw after adding, winner, cw after -= 8):
        // [5,1,1,1] -> 0 -> [-3,1,1,1]; [2,2,2,2] -> 0 -> [-6,2,2,2]; [-1,3,3,3] -> 1 -> [-1,-5,3,3];
        // [4,-4,4,4] -> 0 -> [-4,-4,4,4]; [1,-3,5,5] -> 2 -> [1,-3,-3,5]; [6,-2,-2,6] -> 0 -> ...
        assert_eq!(sequence(&peers(&[5, 1, 1, 1]), 8), vec![0, 0, 1, 0, 2, 0, 3, 0]);
    }

    #[test]
    fn weights_5_1_1_spread_out() {
        // The example of nginx's commit message for smooth weighted round-robin.
        assert_eq!(sequence(&peers(&[5, 1, 1]), 7), vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn equal_weights_rotate_strictly() {
        assert_eq!(sequence(&peers(&[1, 1, 1, 1]), 8), vec![0, 1, 2, 3, 0, 1, 2, 3]);
    }

    #[test]
    fn down_and_tried_servers_are_skipped_and_backups_wait() {
        let mut p = peers(&[1, 1, 1]);
        p[1].down = true;
        p[2].backup = true;
        assert_eq!(sequence(&p, 3), vec![0, 0, 0]);
        let mut rr = SmoothRoundRobin::new(3);
        let mut rng = stream(0, 0, Stream::Balancer);
        let c = ClientInfo {
            addr: [10, 0, 0, 1].into(),
            session: None,
            page: 0,
        };
        // Server 0 already tried: the only usable primary is gone, so the backup serves.
        assert_eq!(rr.pick(&c, &p, 0b001, SimTime::ZERO, &mut rng), Some(2));
        assert_eq!(rr.pick(&c, &p, 0b101, SimTime::ZERO, &mut rng), None);
    }
}
