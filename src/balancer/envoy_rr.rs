//! Envoy `ROUND_ROBIN`, and the EDF scheduler that Envoy's weighted balancers share.
//!
//! Checked against the source (envoyproxy/envoy; no Envoy binary runs here):
//! - `source/common/upstream/edf_scheduler.h`: each entry has a deadline `current_time +
//!   1/weight`; a pick pops the earliest deadline (ties: the lower insertion number, FIFO),
//!   moves `current_time` to it and re-inserts the entry with its weight at that moment.
//!   `createWithPicks(entries, weight, picks)` builds a scheduler as if `picks` picks had
//!   been made (`picks % 429496729`): each entry starts with `floor(picks * w_i / W)` emulated
//!   picks (weights raised by 1e-13, one fewer when the floating point disagrees), the rest
//!   are real picks.
//! - `source/extensions/load_balancing_policies/common/load_balancer_impl.cc`
//!   (`EdfLoadBalancerBase`): `seed_ = random()` once per balancer; on every host-set or health
//!   change each host source's scheduler is rebuilt with `createWithPicks(hosts, weight,
//!   seed_)`, unless all weights are equal (or a single host), when no EDF is built and the
//!   unweighted pick is used; the hosts are the healthy ones, or all of them in panic.
//! - `source/extensions/load_balancing_policies/round_robin/round_robin_lb.h`: the unweighted
//!   pick is `hosts[rr_index++ % hosts.size()]`, one index per host source, starting at
//!   `seed_` and kept across refreshes.
//!
//! `seed_` is drawn from the simulator's balancer stream at the first pick (Envoy draws it
//! from its own random generator when the balancer is created).

use super::envoy::{Hosts, OutlierConf, indices};
use super::{Attempt, ClientInfo, PeerState, Policy, ServerConf, SimRng, SimTime};
use rand::Rng;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, Debug)]
struct EdfEntry {
    deadline: f64,
    order: u64,
    host: usize,
}

impl PartialEq for EdfEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for EdfEntry {}
impl PartialOrd for EdfEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for EdfEntry {
    /// Reversed so that `BinaryHeap` (a max-heap) pops the earliest deadline, then the
    /// earliest insertion.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .deadline
            .total_cmp(&self.deadline)
            .then_with(|| other.order.cmp(&self.order))
    }
}

/// Envoy's `EdfScheduler` over host indices.
#[derive(Clone, Debug, Default)]
pub struct Edf {
    queue: BinaryHeap<EdfEntry>,
    current_time: f64,
    order_offset: u64,
}

impl Edf {
    /// `add`: deadline `current_time + 1/weight`.
    pub fn add(&mut self, weight: f64, host: usize) {
        let deadline = self.current_time + 1.0 / weight;
        self.queue.push(EdfEntry {
            deadline,
            order: self.order_offset,
            host,
        });
        self.order_offset += 1;
    }

    /// `pickAndAdd`: the earliest deadline, re-inserted with `weight(host)`.
    pub fn pick_and_add(&mut self, mut weight: impl FnMut(usize) -> f64) -> Option<usize> {
        let top = self.queue.pop()?;
        self.current_time = top.deadline;
        self.add(weight(top.host), top.host);
        Some(top.host)
    }

    /// `createWithPicks`: `hosts` in host-vector order, `weight` their weights.
    pub fn with_picks(hosts: &[usize], mut weight: impl FnMut(usize) -> f64, picks: u32) -> Self {
        let picks = picks % 429_496_729;
        if hosts.is_empty() {
            return Edf::default();
        }
        let aug = |w: f64| w + 1e-13;
        let weights_sum: f64 = hosts.iter().map(|&h| aug(weight(h))).sum();
        let mut queue = BinaryHeap::with_capacity(hosts.len());
        let mut picks_so_far: u32 = 0;
        let mut max_pick_time = 0.0f64;
        for (i, &h) in hosts.iter().enumerate() {
            let w = aug(weight(h));
            // `static_cast<uint32_t>(w * picks / weights_sum)`.
            let mut floor = (w * f64::from(picks) / weights_sum) as u32;
            if floor > 0 && f64::from(floor) / w >= f64::from(picks) / weights_sum {
                floor -= 1;
            }
            let pick_time = f64::from(floor) / w;
            let deadline = f64::from(floor + 1) / w;
            queue.push(EdfEntry {
                deadline,
                order: i as u64,
                host: h,
            });
            max_pick_time = max_pick_time.max(pick_time);
            picks_so_far += floor;
        }
        let mut edf = Edf {
            queue,
            current_time: max_pick_time,
            order_offset: hosts.len() as u64,
        };
        while picks_so_far < picks {
            edf.pick_and_add(&mut weight);
            picks_so_far += 1;
        }
        edf
    }
}

/// Whether Envoy skips the EDF (`hostWeightsAreEqual` or at most one host).
pub fn weights_equal(hosts: &[usize], servers: &[ServerConf]) -> bool {
    let mut w = hosts.iter().map(|&h| servers[h].weight);
    match w.next() {
        None => true,
        Some(first) => w.all(|x| x == first),
    }
}

/// Envoy `ROUND_ROBIN`.
pub struct EnvoyRoundRobin {
    weights: Vec<f64>,
    servers: Vec<ServerConf>,
    hosts: Hosts,
    seed: Option<u64>,
    edf: Option<Edf>,
    /// `rr_indexes_` of the healthy-hosts source and of the all-hosts source (panic).
    rr_index: [Option<u64>; 2],
    current: Vec<usize>,
}

impl EnvoyRoundRobin {
    /// The policy over `servers` with the configured parameters.
    pub fn new(servers: &[ServerConf], outlier: Option<OutlierConf>) -> Self {
        EnvoyRoundRobin {
            weights: servers.iter().map(|s| f64::from(s.weight)).collect(),
            servers: servers.to_vec(),
            hosts: Hosts::new(servers, outlier),
            seed: None,
            edf: None,
            rr_index: [None; 2],
            current: Vec::new(),
        }
    }
}

impl Policy for EnvoyRoundRobin {
    fn pick(
        &mut self,
        _client: &ClientInfo<'_>,
        peers: &[PeerState],
        _attempt: &mut Attempt,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<usize> {
        let seed = *self.seed.get_or_insert_with(|| rng.next_u64());
        let (mask, panic, changed) = self.hosts.usable(peers, now);
        let source = usize::from(panic);
        if changed || self.current.is_empty() {
            self.current = indices(mask).collect();
            let w = &self.weights;
            self.edf = (!weights_equal(&self.current, &self.servers) && self.current.len() > 1)
                .then(|| Edf::with_picks(&self.current, |h| w[h], seed as u32));
            self.rr_index[source].get_or_insert(seed);
        }
        if self.current.is_empty() {
            return None;
        }
        let i = match self.edf.as_mut() {
            Some(edf) => {
                let w = &self.weights;
                edf.pick_and_add(|h| w[h])?
            }
            None => {
                let idx = self.rr_index[source].get_or_insert(seed);
                let i = self.current[(*idx % self.current.len() as u64) as usize];
                *idx = idx.wrapping_add(1);
                i
            }
        };
        Some(i)
    }

    fn report(&mut self, peer: usize, ok: bool, _peers: &[PeerState], now: SimTime) {
        self.hosts.record(peer, ok, now);
    }
}

/// The policy `envoy_round_robin` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "envoy_round_robin",
    directive: "ROUND_ROBIN",
    title: "envoy ROUND_ROBIN",
    family: super::registry::Family::Envoy,
    backup: false,
    keys: &["outlier_detection"],
    method: |p| super::Method::new(EnvoyRoundRobinConf { outlier: p.outlier }),
};

/// The algorithm of `envoy_round_robin`: Envoy `ROUND_ROBIN` (EDF when weights differ).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnvoyRoundRobinConf {
    /// `outlier_detection`, when configured.
    pub outlier: Option<OutlierConf>,
}

impl super::Algorithm for EnvoyRoundRobinConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(EnvoyRoundRobin::new(servers, self.outlier))
    }

    fn validate(&self) -> Result<(), super::BalancerError> {
        super::envoy::check_outlier(self.outlier.as_ref())
    }

    fn outlier(&self) -> Option<&OutlierConf> {
        self.outlier.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::Bookkeeping;
    use crate::balancer::testutil::{client, servers};

    /// Envoy's tests mock `random()` to return 0 unless told otherwise, so `seed_` = 0.
    fn zero_seeded(weights: &[u32]) -> (EnvoyRoundRobin, Vec<PeerState>) {
        let s = servers(weights);
        let mut p = EnvoyRoundRobin::new(&s, None);
        p.seed = Some(0);
        (p, PeerState::for_servers(&s))
    }

    #[test]
    fn weighted_matches_envoys_round_robin_weighted_test() {
        // test/extensions/load_balancing_policies/round_robin/round_robin_lb_test.cc (formerly
        // test/common/upstream/load_balancer_impl_test.cc), `RoundRobinLoadBalancerTest,
        // Weighted`: hosts :80 weight 1 and :81 weight 2 are picked 1, 0, 1, 1, 0, 1.
        let (mut p, mut peers) = zero_seeded(&[1, 2]);
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &client("10.0.0.1"), 6);
        let want: Vec<Option<usize>> = [1, 0, 1, 1, 0, 1].into_iter().map(Some).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn equal_weights_rotate_from_the_seed() {
        // `hosts[rr_index++ % n]` with rr_index starting at seed_: seed 0 gives 0,1,2,0,...
        let (mut p, mut peers) = zero_seeded(&[1, 1, 1]);
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &client("10.0.0.1"), 5);
        assert_eq!(got, vec![Some(0), Some(1), Some(2), Some(0), Some(1)]);
        // Seed 7 over 3 hosts starts at 7 % 3 = 1.
        let s = servers(&[1, 1, 1]);
        let mut p = EnvoyRoundRobin::new(&s, None);
        p.seed = Some(7);
        let mut peers = PeerState::for_servers(&s);
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &client("10.0.0.1"), 3);
        assert_eq!(got, vec![Some(1), Some(2), Some(0)]);
    }

    #[test]
    fn with_picks_equals_that_many_picks_from_empty() {
        // edf_scheduler_test.cc, `EdfSchedulerTest,
        // SchedulerWithSomePicksEqualToEmptyWithAddedEntries`: 128 entries with weights
        // (100.5 - 0.01) / 128 * i + 0.01 (all different, so that no tie is broken differently),
        // created with P picks for P in {5, 140, 501, 123456, 894571}, pick as an empty
        // scheduler into which the entries were added one after the other and then picked P
        // times.
        let weights: Vec<f64> = (0..128).map(|i| (100.5 - 0.01) / 128.0 * f64::from(i) + 0.01).collect();
        let hosts: Vec<usize> = (0..weights.len()).collect();
        for picks in [5u32, 140, 501, 123_456, 894_571] {
            let mut a = Edf::with_picks(&hosts, |h| weights[h], picks);
            let mut b = Edf::default();
            for &h in &hosts {
                b.add(weights[h], h);
            }
            for _ in 0..picks {
                b.pick_and_add(|h| weights[h]);
            }
            for k in 0..(2 * hosts.len()) {
                assert_eq!(
                    a.pick_and_add(|h| weights[h]),
                    b.pick_and_add(|h| weights[h]),
                    "picks {picks}, pick {k}"
                );
            }
        }
    }

    #[test]
    fn weighted_shares_follow_the_weights() {
        // EDF gives each host exactly weight/sum of the picks over a whole cycle: weights
        // 1, 2, 3 over 600 picks give 100, 200, 300.
        let (mut p, mut peers) = zero_seeded(&[1, 2, 3]);
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &client("10.0.0.1"), 600);
        let mut n = [0i32; 3];
        for i in got.into_iter().flatten() {
            n[i] += 1;
        }
        // (±1: the deadlines are sums of floating-point 1/w.)
        for (k, want) in n.iter().zip([100, 200, 300]) {
            assert!((k - want).abs() <= 1, "{n:?}");
        }
    }

    #[test]
    fn a_host_marked_down_leaves_the_rotation() {
        let (mut p, mut peers) = zero_seeded(&[1, 1, 1, 1]);
        p.set_up_counted(1, false, &mut peers);
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &client("10.0.0.1"), 6);
        // Healthy hosts 0, 2, 3 from index 0.
        assert_eq!(got, vec![Some(0), Some(2), Some(3), Some(0), Some(2), Some(3)]);
    }
}
