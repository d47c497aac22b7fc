//! Client addresses: users come from many /24 networks, and a share of them sit behind a few
//! shared NAT or proxy addresses (many users, one address).
//!
//! This matters because nginx `ip_hash` hashes only the first three octets of an IPv4 address:
//! a whole /24, or a corporate NAT, is pinned to one backend. Network k's prefix is an affine
//! bijection of k over 24 bits, so distinct networks never collide; NAT addresses live in
//! networks of their own.

use crate::engine::rng::{self, Stream};
use crate::scenario::AddressModel;
use rand::RngExt;
use rand_distr::{Distribution, Zipf};
use std::net::Ipv4Addr;

/// The client addresses of one replication: /24 networks (uniform or Zipf-skewed), hosts
/// within them, and the shared NAT addresses.
pub struct AddressPool {
    networks: u32,
    nat_share: f64,
    nat_addresses: u32,
    zipf: Option<Zipf<f64>>,
    /// Offset of the bijection; differs per seed so that a sweep does not always use the same
    /// prefixes.
    offset: u32,
}

/// An odd multiplier makes `k -> k * M + offset (mod 2^24)` a bijection.
const MULT: u32 = 0x9E_37_79;

impl AddressPool {
    /// The pool `m` describes, for replication `rep` of a run with `seed`.
    pub fn new(m: &AddressModel, seed: u64, rep: u32) -> Self {
        let zipf = if m.network_skew > 0.0 {
            Zipf::new(m.networks as f64, m.network_skew).ok()
        } else {
            None
        };
        let offset = (rng::stream_key(seed, rep, Stream::IpPopulation) & 0xFF_FFFF) as u32;
        AddressPool {
            networks: m.networks,
            nat_share: m.nat_share,
            nat_addresses: m.nat_addresses,
            zipf,
            offset,
        }
    }

    /// The /24 prefix (the top 24 bits) of network `k`.
    fn prefix(&self, k: u32) -> u32 {
        (k.wrapping_mul(MULT).wrapping_add(self.offset)) & 0xFF_FFFF
    }

    /// One user's address.
    pub fn draw<R: rand::Rng + ?Sized>(&self, r: &mut R) -> Ipv4Addr {
        if self.nat_share > 0.0 && r.random_bool(self.nat_share) {
            // NAT address j is host .1 of network `networks + j`: never shared with ordinary users.
            let j = r.random_range(0..self.nat_addresses);
            return Ipv4Addr::from((self.prefix(self.networks + j) << 8) | 1);
        }
        let k = match &self.zipf {
            Some(z) => (z.sample(r) as u32).saturating_sub(1).min(self.networks - 1),
            None => r.random_range(0..self.networks),
        };
        let host = r.random_range(2..=254u32);
        Ipv4Addr::from((self.prefix(k) << 8) | host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn model(networks: u32, nat_share: f64, nat_addresses: u32, skew: f64) -> AddressModel {
        AddressModel {
            networks,
            nat_share,
            nat_addresses,
            network_skew: skew,
        }
    }

    #[test]
    fn prefixes_are_distinct() {
        let p = AddressPool::new(&model(1 << 20, 0.0, 1, 0.0), 1, 0);
        let mut seen: Vec<u32> = (0..(1 << 20) + 64).map(|k| p.prefix(k)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), (1 << 20) + 64);
    }

    #[test]
    fn nat_share_concentrates_users_on_few_addresses() {
        let p = AddressPool::new(&model(1000, 0.3, 5, 0.0), 1, 0);
        let mut r = rng::stream(1, 0, Stream::UserProfile);
        let mut by_addr: BTreeMap<Ipv4Addr, u32> = BTreeMap::new();
        let n = 100_000;
        for _ in 0..n {
            *by_addr.entry(p.draw(&mut r)).or_default() += 1;
        }
        let mut counts: Vec<u32> = by_addr.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top5: u32 = counts[..5].iter().sum();
        // 30% of users behind 5 addresses; ordinary addresses are ~1000 x 253 hosts, so rarely shared.
        assert!((top5 as f64 / n as f64 - 0.3).abs() < 0.01, "{top5}");
        let nets: std::collections::BTreeSet<u32> = by_addr.keys().map(|a| u32::from(*a) >> 8).collect();
        assert_eq!(nets.len(), 1005, "1000 ordinary networks and 5 NAT networks");
    }

    #[test]
    fn skew_makes_some_networks_popular() {
        let p = AddressPool::new(&model(1000, 0.0, 1, 1.2), 1, 0);
        let mut r = rng::stream(2, 0, Stream::UserProfile);
        let mut by_net: BTreeMap<u32, u32> = BTreeMap::new();
        for _ in 0..50_000 {
            *by_net.entry(u32::from(p.draw(&mut r)) >> 8).or_default() += 1;
        }
        let max = *by_net.values().max().unwrap();
        assert!(
            max > 5_000,
            "the most popular network should carry >10% of users, got {max}"
        );
    }
}
