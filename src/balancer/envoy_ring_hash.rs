//! Envoy `RING_HASH` (ketama-style consistent hashing with xxHash64).
//!
//! Checked against the source (envoyproxy/envoy; no Envoy binary runs here):
//! `source/extensions/load_balancing_policies/ring_hash/ring_hash_lb.cc` (formerly
//! `source/common/upstream/ring_hash_lb.cc`) and `.../common/thread_aware_lb_impl.cc`.
//! - The ring is built from the healthy hosts (all hosts in panic), their weights normalised
//!   to sum 1; `scale = min(ceil(min_w * minimum_ring_size) / min_w, maximum_ring_size)`
//!   (defaults 1024 and 8388608), so the lightest host gets a whole number of entries. Walking
//!   the hosts in order with running sums, a host gets entries while `current < target`
//!   (`target += scale * w`), the i-th hashed as `xxHash64("<address>_<i>")`; the entries are
//!   sorted by hash.
//! - A request hash `h` goes to the first entry with hash >= h, wrapping to entry 0 (the
//!   ketama binary search of `Ring::chooseHost`).
//! - The ring is rebuilt on every health change (`ThreadAwareLoadBalancerBase::refresh`).
//! - The request hash comes from the route's hash policy ([`super::envoy::request_hash`]); a
//!   request without one gets `random()`, drawn from the simulator's balancer stream.

use super::envoy::{Hosts, OutlierConf, hash_or_random, indices, xx_hash64};
use super::{Attempt, ClientInfo, HashKey, Needs, PeerState, Policy, ServerConf, SimRng, SimTime};

/// Envoy's default `minimum_ring_size`.
pub const DEFAULT_MIN_RING: u64 = 1024;
/// Envoy's default `maximum_ring_size`.
pub const DEFAULT_MAX_RING: u64 = 8 * 1024 * 1024;

/// A built ring: (hash, server index), sorted by hash.
#[derive(Clone, Debug, Default)]
pub struct Ring {
    entries: Vec<(u64, usize)>,
}

impl Ring {
    /// `Ring::Ring` over `hosts` (server indices in host order, with their address and weight).
    pub fn build(hosts: &[usize], servers: &[ServerConf], min_ring: u64, max_ring: u64) -> Ring {
        if hosts.is_empty() {
            return Ring::default();
        }
        let sum: f64 = hosts.iter().map(|&h| f64::from(servers[h].weight)).sum();
        let normalized: Vec<f64> = hosts.iter().map(|&h| f64::from(servers[h].weight) / sum).collect();
        let min_w = normalized.iter().copied().fold(1.0f64, f64::min);
        let scale = ((min_w * min_ring as f64).ceil() / min_w).min(max_ring as f64);
        let ring_size = scale.ceil() as usize;
        let mut entries = Vec::with_capacity(ring_size);
        let (mut current, mut target) = (0.0f64, 0.0f64);
        let mut key = Vec::with_capacity(96);
        for (&h, &w) in hosts.iter().zip(&normalized) {
            target += scale * w;
            let mut i: u64 = 0;
            while current < target {
                key.clear();
                key.extend_from_slice(servers[h].addr.as_bytes());
                key.push(b'_');
                key.extend_from_slice(i.to_string().as_bytes());
                entries.push((xx_hash64(&key, 0), h));
                i += 1;
                current += 1.0;
            }
        }
        entries.sort_by_key(|e| e.0);
        Ring { entries }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the ring has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `Ring::chooseHost(h, 0)`: the ketama binary search (signed indices, as the source).
    pub fn choose(&self, h: u64) -> Option<usize> {
        let n = self.entries.len() as i64;
        if n == 0 {
            return None;
        }
        let (mut lowp, mut highp) = (0i64, n);
        let midp = loop {
            let midp = (lowp + highp) / 2;
            if midp == n {
                break 0;
            }
            let midval = self.entries[midp as usize].0;
            let midval1 = if midp == 0 {
                0
            } else {
                self.entries[midp as usize - 1].0
            };
            if h <= midval && h > midval1 {
                break midp;
            }
            if midval < h {
                lowp = midp + 1;
            } else {
                highp = midp - 1;
            }
            if lowp > highp {
                break 0;
            }
        };
        Some(self.entries[midp as usize].1)
    }

    /// How many entries each server holds.
    pub fn counts(&self, servers: usize) -> Vec<usize> {
        let mut c = vec![0; servers];
        for &(_, h) in &self.entries {
            c[h] += 1;
        }
        c
    }
}

/// Envoy `RING_HASH` with a hash policy.
pub struct EnvoyRingHash {
    servers: Vec<ServerConf>,
    key: HashKey,
    min_ring: u64,
    max_ring: u64,
    hosts: Hosts,
    ring: Ring,
}

impl EnvoyRingHash {
    /// The policy over `servers` with the configured parameters.
    pub fn new(
        servers: &[ServerConf],
        key: HashKey,
        min_ring: u64,
        max_ring: u64,
        outlier: Option<OutlierConf>,
    ) -> Self {
        EnvoyRingHash {
            servers: servers.to_vec(),
            key,
            min_ring,
            max_ring,
            hosts: Hosts::new(servers, outlier),
            ring: Ring::default(),
        }
    }
}

impl Policy for EnvoyRingHash {
    fn needs(&self) -> Needs {
        self.key.needs()
    }

    fn pick(
        &mut self,
        client: &ClientInfo<'_>,
        peers: &[PeerState],
        _attempt: &mut Attempt,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<usize> {
        let (mask, _panic, changed) = self.hosts.usable(peers, now);
        if changed {
            let hosts: Vec<usize> = indices(mask).collect();
            self.ring = Ring::build(&hosts, &self.servers, self.min_ring, self.max_ring);
        }
        let h = hash_or_random(&self.key, client, rng);
        let i = self.ring.choose(h)?;
        Some(i)
    }

    fn report(&mut self, peer: usize, ok: bool, _peers: &[PeerState], now: SimTime) {
        self.hosts.record(peer, ok, now);
    }
}

/// The policy `envoy_ring_hash` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "envoy_ring_hash",
    directive: "RING_HASH",
    title: "envoy RING_HASH",
    family: super::registry::Family::Envoy,
    backup: false,
    keys: &["key", "minimum_ring_size", "maximum_ring_size", "outlier_detection"],
    method: |p| {
        super::Method::new(EnvoyRingHashConf {
            key: p.key.clone(),
            minimum_ring_size: p.minimum_ring_size,
            maximum_ring_size: p.maximum_ring_size,
            outlier: p.outlier,
        })
    },
};

/// The algorithm of `envoy_ring_hash`: Envoy `RING_HASH` with a hash policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvoyRingHashConf {
    /// The hash policy.
    pub key: HashKey,
    /// `minimum_ring_size` (default 1024).
    pub minimum_ring_size: u64,
    /// `maximum_ring_size` (default 8M).
    pub maximum_ring_size: u64,
    /// `outlier_detection`, when configured.
    pub outlier: Option<OutlierConf>,
}

impl super::Algorithm for EnvoyRingHashConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(EnvoyRingHash::new(
            servers,
            self.key.clone(),
            self.minimum_ring_size,
            self.maximum_ring_size,
            self.outlier,
        ))
    }

    /// Envoy's ranges: both sizes `lte: 8388608`, the minimum not above the maximum.
    fn validate(&self) -> Result<(), super::BalancerError> {
        super::envoy::check_outlier(self.outlier.as_ref())?;
        let bad = |s: String| Err(super::BalancerError::BadParameter(s));
        let (minimum_ring_size, maximum_ring_size) = (self.minimum_ring_size, self.maximum_ring_size);
        let cap = DEFAULT_MAX_RING;
        if minimum_ring_size == 0 || minimum_ring_size > cap || maximum_ring_size > cap {
            return bad(format!("ring sizes must be within 1..={cap} (Envoy: `lte: 8388608`)"));
        }
        if minimum_ring_size > maximum_ring_size {
            // Envoy's own message.
            return bad(format!(
                "ring hash: minimum_ring_size ({minimum_ring_size}) > maximum_ring_size ({maximum_ring_size})"
            ));
        }
        Ok(())
    }

    fn summary(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            " (hash {}, minimum_ring_size {}, maximum_ring_size {})",
            self.key, self.minimum_ring_size, self.maximum_ring_size
        )
    }

    fn keys(&self, _servers: &[ServerConf], keys: &mut super::Keys) {
        keys.put("key", self.key.key_name());
        keys.put("minimum_ring_size", self.minimum_ring_size as i64);
        keys.put("maximum_ring_size", self.maximum_ring_size as i64);
    }

    fn outlier(&self) -> Option<&OutlierConf> {
        self.outlier.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::balancer::envoy::test_hosts as envoy_hosts;

    #[test]
    fn ring_matches_envoys_basic_test() {
        // test/extensions/load_balancing_policies/ring_hash/ring_hash_lb_test.cc,
        // `RingHashLoadBalancerTest, Basic`: six hosts :90..:95, minimum_ring_size 12: a ring of
        // 12 entries, 2 per host, at exactly these positions (the test's table).
        let s = envoy_hosts(&[90, 91, 92, 93, 94, 95], &[1; 6]);
        let ring = Ring::build(&[0, 1, 2, 3, 4, 5], &s, 12, DEFAULT_MAX_RING);
        let want: [(u64, usize); 12] = [
            (833437586790550860, 4),
            (928266305478181108, 2),
            (1033482794131418490, 0),
            (3551244743356806947, 5),
            (3851675632748031481, 3),
            (5583722120771150861, 1),
            (6311230543546372928, 1),
            (7700377290971790572, 3),
            (13144177310400110813, 5),
            (13444792449719432967, 2),
            (15516499411664133160, 4),
            (16117243373044804889, 0),
        ];
        assert_eq!(ring.entries, want);
        // The test's lookups: hash 0 and u64::MAX -> :94; 3551244743356806947 (an entry's own
        // hash) -> :95; one more -> :93; 16117243373044804880 -> :90.
        assert_eq!(ring.choose(0), Some(4));
        assert_eq!(ring.choose(u64::MAX), Some(4));
        assert_eq!(ring.choose(3551244743356806947), Some(5));
        assert_eq!(ring.choose(3551244743356806948), Some(3));
        assert_eq!(ring.choose(16117243373044804880), Some(0));
    }

    #[test]
    fn default_ring_size_and_weights() {
        // Defaults: 4 equal hosts, min_w = 1/4, scale = ceil(256) * 4 = 1024 entries, 256 each.
        let s = envoy_hosts(&[80, 81, 82, 83], &[1; 4]);
        let ring = Ring::build(&[0, 1, 2, 3], &s, DEFAULT_MIN_RING, DEFAULT_MAX_RING);
        assert_eq!(ring.len(), 1024);
        assert_eq!(ring.counts(4), vec![256; 4]);
        // Weights 1 and 2: min_w = 1/3, scale = ceil(1024/3) * 3 = 1026: 342 and 684 entries.
        let s = envoy_hosts(&[80, 81], &[1, 2]);
        let ring = Ring::build(&[0, 1], &s, DEFAULT_MIN_RING, DEFAULT_MAX_RING);
        assert_eq!(ring.counts(2), vec![342, 684]);
        // maximum_ring_size caps it: 10 entries for weights 1 and 2 -> 3.33 and 6.67 by running
        // sums: host 0 gets 4 (current 0..4 < 3.33), host 1 gets 6 (4..10 < 10).
        let ring = Ring::build(&[0, 1], &s, DEFAULT_MIN_RING, 10);
        assert_eq!(ring.counts(2), vec![4, 6]);
    }

    #[test]
    fn a_lost_host_moves_its_keys_and_the_regrown_ring_moves_some_more() {
        // With the ring size fixed (768 = 3 hosts x 256), removing host 2 of 4 moves exactly
        // the hashes that were on it: the other hosts keep their 256 entries each.
        let s = envoy_hosts(&[80, 81, 82, 83], &[1; 4]);
        let full = Ring::build(&[0, 1, 2, 3], &s, DEFAULT_MIN_RING, DEFAULT_MAX_RING);
        let fixed = Ring::build(&[0, 1, 3], &s, 768, DEFAULT_MAX_RING);
        // With the default minimum_ring_size 1024, Envoy rebuilds the 3-host ring with
        // scale = ceil(1024 / 3) * 3 = 1026 entries, 342 per host: 86 new entries per host
        // (`_256` .. `_341`) take keys from the other hosts too.
        let regrown = Ring::build(&[0, 1, 3], &s, DEFAULT_MIN_RING, DEFAULT_MAX_RING);
        assert_eq!(regrown.counts(4), vec![342, 342, 0, 342]);
        let (mut on_lost, mut others, mut others_moved) = (0, 0, 0);
        for k in 0..20_000u64 {
            let h = xx_hash64(&k.to_le_bytes(), 0);
            let a = full.choose(h);
            if a == Some(2) {
                on_lost += 1;
                continue;
            }
            others += 1;
            assert_eq!(a, fixed.choose(h));
            others_moved += usize::from(a != regrown.choose(h));
        }
        assert!(on_lost > 0);
        // A key lands on one of the 258 new entries with probability about 258/1026, owned by
        // another host 2 times in 3: about 16.8% of the keys of the surviving hosts move.
        let share = others_moved as f64 / others as f64;
        assert!((0.10..0.25).contains(&share), "{share}");
    }

    #[test]
    fn cookie_hash_policy_is_sticky_and_missing_cookie_is_random() {
        let s = envoy_hosts(&[80, 81, 82, 83], &[1; 4]);
        let mut p = EnvoyRingHash::new(&s, HashKey::Cookie("PHPSESSID".into()), 1024, DEFAULT_MAX_RING, None);
        let mut peers = PeerState::for_servers(&s);
        let mut c = crate::balancer::testutil::client("10.0.0.1");
        c.session_cookie = Some("abc123");
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &c, 20);
        assert!(got.iter().all(|g| *g == got[0]) && got[0].is_some());
        // Envoy: the request hash is xxHash64 of the cookie value.
        let h = xx_hash64(b"abc123", 0);
        let ring = Ring::build(&[0, 1, 2, 3], &s, 1024, DEFAULT_MAX_RING);
        assert_eq!(got[0], ring.choose(h));
        // No cookie: random hashes spread over all four hosts.
        c.session_cookie = None;
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &c, 200);
        let mut seen = [false; 4];
        for i in got.into_iter().flatten() {
            seen[i] = true;
        }
        assert_eq!(seen, [true; 4]);
    }
}
