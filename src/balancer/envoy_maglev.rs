//! Envoy `MAGLEV` (Maglev consistent hashing, table size 65537 by default).
//!
//! Checked against the source (envoyproxy/envoy; no Envoy binary runs here):
//! `source/extensions/load_balancing_policies/maglev/maglev_lb.cc` (formerly
//! `source/common/upstream/maglev_lb.cc`), the paper's pseudocode listing 1.
//! - The hosts (healthy ones, all in panic) are sorted by their hash key (the address text);
//!   each gets `offset = xxHash64(key) % M` and `skip = xxHash64(key, seed 1) % (M - 1) + 1`,
//!   its permutation being `(offset + skip * next) % M`.
//! - Rounds `iteration = 1, 2, ...` walk the sorted hosts; a host takes a turn when
//!   `iteration * w >= target` (then `target += max_w`; `w` the normalised weight), claiming
//!   the next free slot of its permutation, until all `M` slots are filled.
//! - A request hash `h` goes to `table[h % M]`; the table is rebuilt on every health change.
//!   `M` must be prime (Envoy refuses the config otherwise).

use super::envoy::{Hosts, OutlierConf, hash_or_random, indices, xx_hash64};
use super::{Attempt, ClientInfo, HashKey, Needs, PeerState, Policy, ServerConf, SimRng, SimTime};

/// Envoy's `MaglevTable::DefaultTableSize`.
pub const DEFAULT_TABLE_SIZE: u64 = 65537;
/// Largest `table_size` Envoy's config validation accepts (`lte: 5000011`).
pub const MAX_TABLE_SIZE: u64 = 5_000_011;

/// Whether `n` is prime (Envoy's `Primes::isPrime`).
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2u64;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

/// A built Maglev table of server indices.
#[derive(Clone, Debug, Default)]
pub struct MaglevTable {
    table: Vec<u8>,
}

impl MaglevTable {
    /// Builds the table of size `m` over `hosts` (server indices).
    pub fn build(hosts: &[usize], servers: &[ServerConf], m: u64) -> MaglevTable {
        if hosts.is_empty() || m < 2 {
            return MaglevTable::default();
        }
        let sum: f64 = hosts.iter().map(|&h| f64::from(servers[h].weight)).sum();
        struct Entry {
            host: usize,
            offset: u64,
            skip: u64,
            weight: f64,
            target: f64,
            next: u64,
        }
        let mut sorted: Vec<(&str, usize)> = hosts.iter().map(|&h| (servers[h].addr.as_str(), h)).collect();
        sorted.sort();
        let mut max_w = 0.0f64;
        let mut entries: Vec<Entry> = sorted
            .iter()
            .map(|&(key, h)| {
                let weight = f64::from(servers[h].weight) / sum;
                max_w = max_w.max(weight);
                Entry {
                    host: h,
                    offset: xx_hash64(key.as_bytes(), 0) % m,
                    skip: xx_hash64(key.as_bytes(), 1) % (m - 1) + 1,
                    weight,
                    target: 0.0,
                    next: 0,
                }
            })
            .collect();
        let size = usize::try_from(m).unwrap_or(usize::MAX);
        let mut table: Vec<Option<u8>> = vec![None; size];
        let mut filled = 0usize;
        let perm = |e: &Entry| ((e.offset as u128 + e.skip as u128 * e.next as u128) % m as u128) as usize;
        let mut iteration: u32 = 1;
        while filled < size {
            for e in entries.iter_mut() {
                if filled >= size {
                    break;
                }
                if f64::from(iteration) * e.weight < e.target {
                    continue;
                }
                e.target += max_w;
                let mut c = perm(e);
                while table[c].is_some() {
                    e.next += 1;
                    c = perm(e);
                }
                table[c] = u8::try_from(e.host).ok();
                e.next += 1;
                filled += 1;
            }
            iteration += 1;
        }
        MaglevTable {
            table: table.into_iter().map(|x| x.unwrap_or(0)).collect(),
        }
    }

    /// `chooseHost(hash, 0)`: `table[hash % M]`.
    pub fn choose(&self, hash: u64) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        let i = (hash % self.table.len() as u64) as usize;
        self.table.get(i).map(|&h| usize::from(h))
    }

    /// Table entries per server.
    pub fn counts(&self, servers: usize) -> Vec<usize> {
        let mut c = vec![0; servers];
        for &h in &self.table {
            c[usize::from(h)] += 1;
        }
        c
    }
}

/// Envoy `MAGLEV` with a hash policy.
pub struct EnvoyMaglev {
    servers: Vec<ServerConf>,
    key: HashKey,
    table_size: u64,
    hosts: Hosts,
    table: MaglevTable,
}

impl EnvoyMaglev {
    /// The policy over `servers` with the configured parameters.
    pub fn new(servers: &[ServerConf], key: HashKey, table_size: u64, outlier: Option<OutlierConf>) -> Self {
        EnvoyMaglev {
            servers: servers.to_vec(),
            key,
            table_size,
            hosts: Hosts::new(servers, outlier),
            table: MaglevTable::default(),
        }
    }
}

impl Policy for EnvoyMaglev {
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
            self.table = MaglevTable::build(&hosts, &self.servers, self.table_size);
        }
        let h = hash_or_random(&self.key, client, rng);
        let i = self.table.choose(h)?;
        Some(i)
    }

    fn report(&mut self, peer: usize, ok: bool, _peers: &[PeerState], now: SimTime) {
        self.hosts.record(peer, ok, now);
    }
}

/// The policy `envoy_maglev` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "envoy_maglev",
    directive: "MAGLEV",
    title: "envoy MAGLEV",
    family: super::registry::Family::Envoy,
    backup: false,
    keys: &["key", "table_size", "outlier_detection"],
    method: |p| {
        super::Method::new(EnvoyMaglevConf {
            key: p.key.clone(),
            table_size: p.table_size,
            outlier: p.outlier,
        })
    },
};

/// The algorithm of `envoy_maglev`: Envoy `MAGLEV` with a hash policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvoyMaglevConf {
    /// The hash policy.
    pub key: HashKey,
    /// The lookup table's size (a prime, default 65537).
    pub table_size: u64,
    /// `outlier_detection`, when configured.
    pub outlier: Option<OutlierConf>,
}

impl super::Algorithm for EnvoyMaglevConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(EnvoyMaglev::new(
            servers,
            self.key.clone(),
            self.table_size,
            self.outlier,
        ))
    }

    /// Envoy's range: a prime table size up to [`MAX_TABLE_SIZE`].
    fn validate(&self) -> Result<(), super::BalancerError> {
        super::envoy::check_outlier(self.outlier.as_ref())?;
        let table_size = self.table_size;
        if table_size > MAX_TABLE_SIZE || !is_prime(table_size) {
            return Err(super::BalancerError::BadParameter(format!(
                "table_size {table_size}: the table size of maglev must be a prime number up to {MAX_TABLE_SIZE}"
            )));
        }
        Ok(())
    }

    fn summary(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, " (hash {}, table_size {})", self.key, self.table_size)
    }

    fn keys(&self, _servers: &[ServerConf], keys: &mut super::Keys) {
        keys.put("key", self.key.key_name());
        keys.put("table_size", self.table_size as i64);
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
    fn table_matches_envoys_basic_test() {
        // test/extensions/load_balancing_policies/maglev/maglev_lb_test.cc,
        // `MaglevLoadBalancerTest, Basic`: hosts :90..:95, table size 7; hash i picks
        // hosts[{2, 4, 0, 1, 5, 0, 3}[i % 7]].
        let s = envoy_hosts(&[90, 91, 92, 93, 94, 95], &[1; 6]);
        let t = MaglevTable::build(&[0, 1, 2, 3, 4, 5], &s, 7);
        let want = [2, 4, 0, 1, 5, 0, 3];
        for i in 0..21u64 {
            assert_eq!(t.choose(i), Some(want[(i % 7) as usize]), "hash {i}");
        }
        // `BasicWithRetryHostPredicate`: hash 10 -> slot 3 -> :91.
        assert_eq!(t.choose(10), Some(1));
        // Same test, `min_entries_per_host` 1 and `max_entries_per_host` 2.
        let c = t.counts(6);
        assert_eq!((c.iter().min(), c.iter().max()), (Some(&1), Some(&2)));
    }

    #[test]
    fn table_matches_envoys_weighted_test() {
        // maglev_lb_test.cc, `MaglevLoadBalancerTest, Weighted`: :90 weight 1, :91 weight 2,
        // table size 17; the expected assignments and 6 / 11 entries per host.
        let s = envoy_hosts(&[90, 91], &[1, 2]);
        let t = MaglevTable::build(&[0, 1], &s, 17);
        let want = [1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1];
        for i in 0..51u64 {
            assert_eq!(t.choose(i), Some(want[(i % 17) as usize]), "hash {i}");
        }
        assert_eq!(t.counts(2), vec![6, 11]);
    }

    #[test]
    fn shuffled_host_order_gives_the_same_table() {
        // `BasicStability`: the hosts are sorted by key before the table is filled, so the host
        // order of the cluster does not matter.
        let s = envoy_hosts(&[90, 91, 92, 93, 94, 95], &[1; 6]);
        let a = MaglevTable::build(&[0, 1, 2, 3, 4, 5], &s, 7);
        let b = MaglevTable::build(&[3, 5, 0, 4, 1, 2], &s, 7);
        assert_eq!(a.table, b.table);
    }

    #[test]
    fn default_table_is_balanced_and_prime_checked() {
        // 65537 slots over 4 equal hosts: Maglev fills in turns, so counts differ by at most 1
        // (65537 = 4 * 16384 + 1).
        let s = envoy_hosts(&[80, 81, 82, 83], &[1; 4]);
        let t = MaglevTable::build(&[0, 1, 2, 3], &s, DEFAULT_TABLE_SIZE);
        let c = t.counts(4);
        assert_eq!(c.iter().sum::<usize>(), 65537);
        assert!(c.iter().all(|&k| k == 16384 || k == 16385), "{c:?}");
        assert!(is_prime(65537) && is_prime(7) && is_prime(17));
        assert!(!is_prime(8) && !is_prime(65536) && !is_prime(1));
    }
}
