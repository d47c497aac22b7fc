//! What Envoy's load balancers share: the request hash of the route's hash policy, the set of
//! hosts a pick may use (healthy hosts, or all of them in panic), and outlier detection.
//!
//! Checked against the source (envoyproxy/envoy, no Envoy binary runs here):
//! - `source/common/http/hash_policy.cc`: a `header` policy hashes the header value, a `cookie`
//!   policy the cookie value, `connection_properties { source_ip: true }` the client address
//!   as text (`addressAsString`, no port), each with `HashUtil::xxHash64(value)` (seed 0). A
//!   missing cookie (without `ttl`) or header yields no hash, and the hashing balancers then
//!   draw a random one (`ThreadAwareLoadBalancerBase::LoadBalancerImpl::chooseHost`).
//! - `source/common/upstream/load_balancer_impl.cc` (`isHostSetInPanic`): when fewer than
//!   `healthy_panic_threshold` percent (default 50) of the hosts are healthy, every host is used.
//! - `source/common/upstream/outlier_detection_impl.cc`: `consecutive_5xx` (default 5)
//!   consecutive 5xx responses (a refused connection counts as a 503 unless
//!   `split_external_local_origin_errors` is set) eject a host, unless `max_ejection_percent`
//!   (default 10) of the hosts are already ejected; the `interval` timer (default 10 s) brings a
//!   host back when `min(base_ejection_time * backoff, max_ejection_time)` has passed since its
//!   ejection (defaults 30 s and 300 s); `backoff` grows by one per ejection and shrinks by one
//!   per interval the host spends un-ejected.

use super::{ClientInfo, HashKey, PeerState, SimRng, SimTime};
use rand::Rng;
use xxhash_rust::xxh64::xxh64;

/// Envoy's `HashUtil::xxHash64(value, seed)`.
pub fn xx_hash64(bytes: &[u8], seed: u64) -> u64 {
    xxh64(bytes, seed)
}

/// The request hash of the route's hash policy (`None`: the policy yields none).
/// `RemoteAddr` is `connection_properties.source_ip`, `Cookie` a `cookie` policy on the
/// session cookie, `RequestUri` a `header` policy on `:path`.
pub fn request_hash(key: &HashKey, client: &ClientInfo<'_>) -> Option<u64> {
    match key {
        HashKey::RemoteAddr => {
            let mut buf = [0u8; 64];
            let bytes = key.bytes(client, &mut buf);
            (!bytes.is_empty()).then(|| xx_hash64(bytes, 0))
        }
        HashKey::Cookie(_) => client
            .session_cookie
            .filter(|v| !v.is_empty())
            .map(|v| xx_hash64(v.as_bytes(), 0)),
        HashKey::RequestUri => (!client.uri.is_empty()).then(|| xx_hash64(client.uri.as_bytes(), 0)),
    }
}

/// The request hash, or Envoy's `random_.random()` when the policy yields none.
pub fn hash_or_random(key: &HashKey, client: &ClientInfo<'_>, rng: &mut SimRng) -> u64 {
    request_hash(key, client).unwrap_or_else(|| rng.next_u64())
}

/// `outlier_detection` of an Envoy cluster (only the consecutive-5xx detector).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutlierConf {
    /// `consecutive_5xx` (default 5).
    pub consecutive_5xx: u32,
    /// `interval` (default 10 s).
    pub interval: SimTime,
    /// `base_ejection_time` (default 30 s).
    pub base_ejection_time: SimTime,
    /// `max_ejection_time` (default 300 s).
    pub max_ejection_time: SimTime,
    /// `max_ejection_percent` (default 10).
    pub max_ejection_percent: u32,
}

impl Default for OutlierConf {
    fn default() -> Self {
        OutlierConf {
            consecutive_5xx: 5,
            interval: SimTime::from_secs(10),
            base_ejection_time: SimTime::from_secs(30),
            max_ejection_time: SimTime::from_secs(300),
            max_ejection_percent: 10,
        }
    }
}

/// The ranges Envoy's config validation accepts for `outlier_detection` (every Envoy
/// algorithm's [`super::Algorithm::validate`] runs this first).
pub(crate) fn check_outlier(outlier: Option<&OutlierConf>) -> Result<(), super::BalancerError> {
    let bad = |s: String| Err(super::BalancerError::BadParameter(s));
    if let Some(o) = outlier {
        if o.max_ejection_percent > 100 {
            return bad(format!("max_ejection_percent {} is above 100", o.max_ejection_percent));
        }
        if o.interval == SimTime::ZERO {
            return bad("the outlier detection interval must be positive".into());
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, Default)]
struct HostMonitor {
    consecutive_5xx: u32,
    ejected: bool,
    last_ejection: SimTime,
    backoff: u64,
}

/// Envoy's outlier `DetectorImpl` for one cluster.
#[derive(Clone, Debug)]
pub struct Outlier {
    conf: OutlierConf,
    hosts: Vec<HostMonitor>,
    /// The next firing of the interval timer (armed at cluster start).
    next_tick: SimTime,
}

impl Outlier {
    /// Outlier detection over `hosts` hosts, none ejected.
    pub fn new(conf: OutlierConf, hosts: usize) -> Self {
        Outlier {
            conf,
            hosts: vec![HostMonitor::default(); hosts],
            next_tick: conf.interval,
        }
    }

    /// Whether host `i` is ejected now.
    pub fn ejected(&self, i: usize) -> bool {
        self.hosts.get(i).is_some_and(|h| h.ejected)
    }

    /// Runs the interval timer up to `now` (`onIntervalTimer` / `checkHostForUneject`).
    /// Returns whether an ejection ended.
    pub fn advance(&mut self, now: SimTime) -> bool {
        let mut changed = false;
        let max = self.conf.max_ejection_time;
        while self.next_tick <= now && self.conf.interval > SimTime::ZERO {
            let t = self.next_tick;
            for h in &mut self.hosts {
                if !h.ejected {
                    h.backoff = h.backoff.saturating_sub(1);
                    continue;
                }
                let wait = scale(self.conf.base_ejection_time, h.backoff).min(max);
                if wait <= t.saturating_sub(h.last_ejection) {
                    h.ejected = false;
                    h.consecutive_5xx = 0;
                    changed = true;
                }
            }
            self.next_tick = t + self.conf.interval;
        }
        changed
    }

    /// The result of an attempt on host `i` (`putHttpResponseCode`): `ok = false` is a 5xx or a
    /// refused connection. Returns whether the host was ejected.
    pub fn record(&mut self, i: usize, ok: bool, now: SimTime) -> bool {
        let n = self.hosts.len();
        let active = self.hosts.iter().filter(|h| h.ejected).count();
        let conf = self.conf;
        let Some(h) = self.hosts.get_mut(i) else {
            return false;
        };
        if ok {
            h.consecutive_5xx = 0;
            return false;
        }
        h.consecutive_5xx = h.consecutive_5xx.saturating_add(1);
        // `++consecutive_5xx_ == threshold`: fires once per run of errors.
        if h.consecutive_5xx != conf.consecutive_5xx || h.ejected {
            return false;
        }
        // `ejectHost`: refused while the ejected share reaches max_ejection_percent.
        let ejected_percent = 100.0 * active as f64 / n as f64;
        if ejected_percent >= f64::from(conf.max_ejection_percent) {
            return false;
        }
        h.ejected = true;
        h.last_ejection = now;
        if scale(conf.base_ejection_time, h.backoff) < conf.max_ejection_time + conf.base_ejection_time {
            h.backoff += 1;
        }
        true
    }
}

fn scale(t: SimTime, k: u64) -> SimTime {
    SimTime::from_nanos(t.as_nanos().saturating_mul(k))
}

/// Bit i set: host i is in the set a pick uses. Envoy keeps the hosts that are healthy (health
/// checks and outlier detection agree), or every host when the cluster is in panic
/// (`healthy_panic_threshold` 50%). Hosts marked `down` in the scenario are not in the cluster.
/// Returns the mask and whether the cluster is in panic.
pub fn usable_hosts(peers: &[PeerState], present: u64, outlier: Option<&Outlier>) -> (u64, bool) {
    let healthy = healthy_hosts(peers, present, outlier);
    let total = present.count_ones();
    // `isHostSetInPanic`: healthy_percent < 50 -> all hosts.
    if total > 0 && 100.0 * f64::from(healthy.count_ones()) / f64::from(total) < 50.0 {
        (present, true)
    } else {
        (healthy, false)
    }
}

fn healthy_hosts(peers: &[PeerState], present: u64, outlier: Option<&Outlier>) -> u64 {
    let mut healthy = 0u64;
    for (i, p) in peers.iter().enumerate().take(64) {
        let bit = 1u64 << i;
        if present & bit != 0 && p.up && !outlier.is_some_and(|o| o.ejected(i)) {
            healthy |= bit;
        }
    }
    healthy
}

/// Bit mask of the servers that are in the cluster (not `down`).
pub fn present_mask(servers: &[super::ServerConf]) -> u64 {
    servers
        .iter()
        .enumerate()
        .take(64)
        .filter(|(_, s)| !s.down)
        .fold(0u64, |m, (i, _)| m | (1u64 << i))
}

/// Envoy's test hosts `tcp://127.0.0.1:90` ... `:95` (the ring hash and Maglev tests'): the
/// hashed address is `127.0.0.1:9x`.
#[cfg(test)]
pub(crate) fn test_hosts(ports: &[u16], weights: &[u32]) -> Vec<super::ServerConf> {
    ports
        .iter()
        .zip(weights)
        .map(|(p, &w)| super::ServerConf::new(format!(":{p}"), format!("127.0.0.1:{p}")).weight(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxhash64_matches_the_reference_vectors() {
        // The xxHash64 reference value of the empty input with seed 0 (xxhash's own test
        // vectors: 0xEF46DB3751D8E999).
        assert_eq!(xx_hash64(b"", 0), 0xEF46_DB37_51D8_E999);
    }

    #[test]
    fn outlier_ejects_after_five_errors_and_returns_after_base_time() {
        let mut o = Outlier::new(OutlierConf::default(), 4);
        let t = SimTime::from_secs(1);
        // Four errors then a success: the run is broken, no ejection.
        for _ in 0..4 {
            assert!(!o.record(0, false, t));
        }
        o.record(0, true, t);
        for k in 0..5 {
            // The fifth consecutive error ejects (`consecutive_5xx` = 5).
            assert_eq!(o.record(0, false, t), k == 4);
        }
        assert!(o.ejected(0));
        // A second host reaching 5 errors is not ejected: 1 of 4 = 25% >= 10%.
        for _ in 0..5 {
            assert!(!o.record(1, false, t));
        }
        // Ejected at 1 s with backoff 1: 30 s must pass, checked at the 10 s ticks: the tick at
        // 30 s sees 29 s, the tick at 40 s sees 39 s >= 30 s.
        o.advance(SimTime::from_secs(30));
        assert!(o.ejected(0));
        assert!(o.advance(SimTime::from_secs(40)));
        assert!(!o.ejected(0));
        // Ejected again at once: backoff is 2 (the tick at 50 s has not run), so 60 s.
        for _ in 0..5 {
            o.record(0, false, SimTime::from_secs(41));
        }
        assert!(o.ejected(0));
        o.advance(SimTime::from_secs(100));
        assert!(o.ejected(0), "41 s + 60 s is after the 100 s tick");
        o.advance(SimTime::from_secs(110));
        assert!(!o.ejected(0));
    }

    #[test]
    fn panic_uses_every_host() {
        let servers = crate::balancer::testutil::servers(&[1, 1, 1, 1]);
        let mut peers = PeerState::for_servers(&servers);
        let present = present_mask(&servers);
        peers[0].up = false;
        // 3 of 4 healthy (75% >= 50%): the healthy ones.
        assert_eq!(usable_hosts(&peers, present, None), (0b1110, false));
        peers[1].up = false;
        // 2 of 4 = 50% is not below the threshold.
        assert_eq!(usable_hosts(&peers, present, None), (0b1100, false));
        peers[2].up = false;
        // 25% < 50%: panic, all hosts.
        assert_eq!(usable_hosts(&peers, present, None), (0b1111, true));
    }
}

/// The host bookkeeping every Envoy policy shares: which servers are in the cluster, the
/// outlier detector, and the health state the policy's tables were last built for (Envoy
/// rebuilds them on every health change: `refresh()` from the priority-update callback).
#[derive(Clone, Debug)]
pub struct Hosts {
    present: u64,
    outlier: Option<Outlier>,
    built_for: Option<u64>,
}

impl Hosts {
    /// The hosts of `servers`, all healthy, with outlier detection when configured.
    pub fn new(servers: &[super::ServerConf], outlier: Option<OutlierConf>) -> Self {
        Hosts {
            present: present_mask(servers),
            outlier: outlier.map(|c| Outlier::new(c, servers.len())),
            built_for: None,
        }
    }

    /// The hosts a pick at `now` uses: (mask, in panic, health changed since the last call;
    /// the policy then rebuilds its tables).
    pub fn usable(&mut self, peers: &[PeerState], now: SimTime) -> (u64, bool, bool) {
        if let Some(o) = self.outlier.as_mut() {
            o.advance(now);
        }
        let healthy = healthy_hosts(peers, self.present, self.outlier.as_ref());
        let (mask, panic) = usable_hosts(peers, self.present, self.outlier.as_ref());
        let changed = self.built_for != Some(healthy);
        self.built_for = Some(healthy);
        (mask, panic, changed)
    }

    /// The end of an attempt: outlier detection counts it.
    pub fn record(&mut self, peer: usize, ok: bool, now: SimTime) {
        if let Some(o) = self.outlier.as_mut() {
            o.advance(now);
            o.record(peer, ok, now);
        }
    }
}

/// The indices set in `mask`, in config order (Envoy's host vector order).
pub fn indices(mask: u64) -> impl Iterator<Item = usize> {
    (0..64usize).filter(move |&i| mask & (1u64 << i) != 0)
}
