//! Envoy `LEAST_REQUEST`.
//!
//! Checked against the source (envoyproxy/envoy; no Envoy binary runs here):
//! `source/extensions/load_balancing_policies/least_request/least_request_lb.cc`.
//! - Equal weights (`N_CHOICES`, the default selection method): `choice_count` (default 2)
//!   draws `hosts[random() % n]`, with repetition; the first draw is the candidate and a later
//!   one replaces it only with strictly fewer active requests.
//! - Unequal weights: the EDF scheduler of `EdfLoadBalancerBase` (see [`super::envoy_rr`])
//!   with the dynamic weight `weight / (active + 1)^active_request_bias` (default bias 1.0;
//!   0 makes it weighted round-robin), evaluated when a host is (re)inserted.
//!
//! The random draws come from the simulator's balancer stream, not Envoy's generator: the
//! structure of each decision is Envoy's, the particular numbers cannot be; the tests check
//! Envoy's own vectors with the draws injected, and the shares statistically.

use super::envoy::{Hosts, OutlierConf, indices};
use super::envoy_rr::{Edf, weights_equal};
use super::{Attempt, ClientInfo, PeerState, Policy, ServerConf, SimRng, SimTime};
use rand::Rng;

/// `unweightedHostPickNChoices`: `draw()` is Envoy's `random_.random()`.
pub fn n_choices(
    hosts: &[usize],
    active: impl Fn(usize) -> u32,
    choices: u32,
    mut draw: impl FnMut() -> u64,
) -> Option<usize> {
    if hosts.is_empty() {
        return None;
    }
    let mut candidate: Option<usize> = None;
    for _ in 0..choices.max(1) {
        let h = hosts[(draw() % hosts.len() as u64) as usize];
        candidate = match candidate {
            Some(c) if active(h) >= active(c) => Some(c),
            _ => Some(h),
        };
    }
    candidate
}

/// `LeastRequestLoadBalancer::hostWeight` without slow start.
pub fn dynamic_weight(weight: u32, active: u32, bias: f64) -> f64 {
    let w = f64::from(weight);
    let a = f64::from(active) + 1.0;
    if bias == 1.0 {
        w / a
    } else if bias != 0.0 {
        w / a.powf(bias)
    } else {
        w
    }
}

/// Envoy `LEAST_REQUEST`.
pub struct EnvoyLeastRequest {
    servers: Vec<ServerConf>,
    choice_count: u32,
    bias: f64,
    hosts: Hosts,
    seed: Option<u64>,
    edf: Option<Edf>,
    current: Vec<usize>,
}

impl EnvoyLeastRequest {
    /// The policy over `servers` with the configured parameters.
    pub fn new(servers: &[ServerConf], choice_count: u32, bias: f64, outlier: Option<OutlierConf>) -> Self {
        EnvoyLeastRequest {
            servers: servers.to_vec(),
            choice_count,
            bias,
            hosts: Hosts::new(servers, outlier),
            seed: None,
            edf: None,
            current: Vec::new(),
        }
    }
}

impl Policy for EnvoyLeastRequest {
    fn pick(
        &mut self,
        _client: &ClientInfo<'_>,
        peers: &[PeerState],
        _attempt: &mut Attempt,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<usize> {
        let seed = *self.seed.get_or_insert_with(|| rng.next_u64());
        let (mask, _panic, changed) = self.hosts.usable(peers, now);
        let (servers, bias) = (&self.servers, self.bias);
        if changed || self.current.is_empty() {
            self.current = indices(mask).collect();
            self.edf = (!weights_equal(&self.current, servers) && self.current.len() > 1).then(|| {
                Edf::with_picks(
                    &self.current,
                    |h| dynamic_weight(servers[h].weight, peers[h].conns, bias),
                    seed as u32,
                )
            });
        }
        let i = match self.edf.as_mut() {
            Some(edf) => edf.pick_and_add(|h| dynamic_weight(servers[h].weight, peers[h].conns, bias))?,
            None => n_choices(&self.current, |h| peers[h].conns, self.choice_count, || rng.next_u64())?,
        };
        Some(i)
    }

    fn report(&mut self, peer: usize, ok: bool, _peers: &[PeerState], now: SimTime) {
        self.hosts.record(peer, ok, now);
    }
}

/// The policy `envoy_least_request` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "envoy_least_request",
    directive: "LEAST_REQUEST",
    title: "envoy LEAST_REQUEST",
    family: super::registry::Family::Envoy,
    backup: false,
    keys: &["choice_count", "active_request_bias", "outlier_detection"],
    method: |p| {
        super::Method::new(EnvoyLeastRequestConf {
            choice_count: p.choice_count,
            active_request_bias: super::Bias(p.active_request_bias),
            outlier: p.outlier,
        })
    },
};

/// The algorithm of `envoy_least_request`: Envoy `LEAST_REQUEST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvoyLeastRequestConf {
    /// Hosts drawn per pick (`choice_count`, default 2).
    pub choice_count: u32,
    /// `active_request_bias` (default 1.0), used when weights differ.
    pub active_request_bias: super::Bias,
    /// `outlier_detection`, when configured.
    pub outlier: Option<OutlierConf>,
}

impl super::Algorithm for EnvoyLeastRequestConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(EnvoyLeastRequest::new(
            servers,
            self.choice_count,
            self.active_request_bias.0,
            self.outlier,
        ))
    }

    /// Envoy's ranges: `choice_count` `gte: 2`, a bias that is a number >= 0.
    fn validate(&self) -> Result<(), super::BalancerError> {
        super::envoy::check_outlier(self.outlier.as_ref())?;
        let bad = |s: String| Err(super::BalancerError::BadParameter(s));
        let choice_count = self.choice_count;
        if choice_count < 2 {
            return bad(format!("choice_count {choice_count} is below 2 (Envoy: `gte: 2`)"));
        }
        let bias = self.active_request_bias.0;
        if !(bias.is_finite() && bias >= 0.0) {
            return bad(format!("active_request_bias {bias} must be a number >= 0"));
        }
        Ok(())
    }

    fn summary(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            " (choice_count {}, active_request_bias {})",
            self.choice_count, self.active_request_bias.0
        )
    }

    fn keys(&self, _servers: &[ServerConf], keys: &mut super::Keys) {
        keys.put("choice_count", self.choice_count as i64);
        keys.put("active_request_bias", self.active_request_bias.0);
    }

    fn outlier(&self) -> Option<&OutlierConf> {
        self.outlier.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_choices_matches_envoys_normal_test() {
        // test/extensions/load_balancing_policies/least_request/least_request_lb_test.cc
        // (formerly load_balancer_impl_test.cc), `LeastRequestLoadBalancerTest, Normal`: two
        // hosts, the mocked draws for the two choices are 2 and 3 (2 % 2 = host 0, 3 % 2 =
        // host 1; Envoy's first draw, 0, chooses the priority and is not part of the choice).
        let hosts = [0, 1];
        let mut draws = [2u64, 3].into_iter();
        // Active 1 and 2: host 0.
        let active = [1, 2];
        assert_eq!(
            n_choices(&hosts, |h| active[h], 2, || draws.next().unwrap_or(0)),
            Some(0)
        );
        // Active 2 and 1: host 1.
        let mut draws = [2u64, 3].into_iter();
        let active = [2, 1];
        assert_eq!(
            n_choices(&hosts, |h| active[h], 2, || draws.next().unwrap_or(0)),
            Some(1)
        );
        // A tie keeps the first draw (`sampled < candidate` only).
        let mut draws = [3u64, 2].into_iter();
        assert_eq!(n_choices(&hosts, |_| 0, 2, || draws.next().unwrap_or(0)), Some(1));
    }

    #[test]
    fn dynamic_weight_is_weight_over_active_plus_one_to_the_bias() {
        // weight / (active + 1)^bias: 6 / 3 = 2 with bias 1; 8 / 4^0.5 = 4; bias 0: 5.
        assert_eq!(dynamic_weight(6, 2, 1.0), 2.0);
        assert_eq!(dynamic_weight(8, 3, 0.5), 4.0);
        assert_eq!(dynamic_weight(5, 9, 0.0), 5.0);
    }

    #[test]
    fn two_choices_share_is_statistically_right() {
        // With every host idle (ties), P2C keeps the first draw: each of n hosts is chosen
        // with probability 1/n. 4 hosts, 40000 picks released at once: expected 10000 each,
        // standard deviation sqrt(40000 * 1/4 * 3/4) = 86.6; 5 sigma = 433.
        let s = crate::balancer::testutil::servers(&[1, 1, 1, 1]);
        let mut p = EnvoyLeastRequest::new(&s, 2, 1.0, None);
        let mut peers = PeerState::for_servers(&s);
        let c = crate::balancer::testutil::client("10.0.0.1");
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &c, 40_000);
        let mut n = [0i64; 4];
        for i in got.into_iter().flatten() {
            n[i] += 1;
        }
        for k in n {
            assert!((k - 10_000).abs() < 433, "{n:?}");
        }
    }

    #[test]
    fn two_choices_avoid_the_busy_host() {
        // Host 0 holds 5 requests, the others none: host 0 wins only when both draws are 0,
        // probability 1/4 * 1/4 = 1/16. Over 16000 picks (released at once) expect 1000,
        // standard deviation sqrt(16000 * 1/16 * 15/16) = 30.6; 5 sigma = 153.
        let s = crate::balancer::testutil::servers(&[1, 1, 1, 1]);
        let mut p = EnvoyLeastRequest::new(&s, 2, 1.0, None);
        let mut peers = PeerState::for_servers(&s);
        peers[0].conns = 5;
        let c = crate::balancer::testutil::client("10.0.0.1");
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &c, 16_000);
        let busy = got.iter().filter(|&&g| g == Some(0)).count() as i64;
        assert!((busy - 1000).abs() < 153, "{busy}");
    }

    #[test]
    fn unequal_weights_use_edf_with_active_requests() {
        // Weights 1 and 3, no request in flight, bias 1: the EDF of weights 1 and 3 (seed 0)
        // picks host 1 three times for every pick of host 0: 3000 and 1000 of 4000.
        let s = crate::balancer::testutil::servers(&[1, 3]);
        let mut p = EnvoyLeastRequest::new(&s, 2, 1.0, None);
        p.seed = Some(0);
        let mut peers = PeerState::for_servers(&s);
        let c = crate::balancer::testutil::client("10.0.0.1");
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &c, 4000);
        // (±1: the deadlines are sums of floating-point 1/3.)
        let ones = got.iter().filter(|&&g| g == Some(1)).count() as i64;
        assert!((ones - 3000).abs() <= 1, "{ones}");
        // With 2 requests held on host 1 its weight is 3 / 3 = 1 when re-inserted: after the
        // first pick the two hosts alternate.
        let mut p = EnvoyLeastRequest::new(&s, 2, 1.0, None);
        p.seed = Some(0);
        let mut peers = PeerState::for_servers(&s);
        peers[1].conns = 2;
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &c, 1000);
        let ones = got.iter().filter(|&&g| g == Some(1)).count() as i64;
        assert!((ones - 500).abs() <= 1, "{ones}");
    }
}
