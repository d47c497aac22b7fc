//! nginx `ip_hash`: a client's /24 (IPv4) or whole address (IPv6) picks its server.
//!
//! Source: nginx/nginx `src/http/modules/ngx_http_upstream_ip_hash_module.c` (1.22),
//! `ngx_http_upstream_init_ip_hash_peer` (key = first 3 bytes of an IPv4 address, all
//! 16 of an IPv6 one; hash starts at 89) and `ngx_http_upstream_get_ip_hash_peer`:
//!
//! ```text
//! loop:
//!     for b in key: hash = (hash * 113 + b) % 6271
//!     w = hash % total_weight            (total_weight counts `down` peers)
//!     peer = first peer in config order with w < weight, subtracting weights
//!     if tried, down, failed or full: tries += 1; if tries > 20: round-robin; loop
//! ```
//!
//! The hash carries over to the next attempt of the same request (it is saved in the
//! request's peer data), so a retry continues the sequence instead of restarting it.
//! With a single server, or after 20 unlucky draws, nginx falls back to round-robin.

use super::round_robin::NginxPeers;
use super::{Attempt, ClientInfo, PeerState, Policy, ServerConf, SimRng, SimTime, nginx_secs};
use std::net::IpAddr;

/// nginx `ip_hash`.
pub struct IpHash {
    peers: NginxPeers,
}

impl IpHash {
    /// An ip_hash balancer over `servers` (config order; no backup servers).
    pub fn new(servers: &[ServerConf]) -> Self {
        IpHash {
            peers: NginxPeers::new(servers),
        }
    }
}

/// The bytes nginx hashes: the first three octets of IPv4, all sixteen of IPv6.
fn key(addr: &IpAddr, buf: &mut [u8; 16]) -> usize {
    match addr {
        IpAddr::V4(v4) => {
            buf[..3].copy_from_slice(&v4.octets()[..3]);
            3
        }
        IpAddr::V6(v6) => {
            buf.copy_from_slice(&v6.octets());
            16
        }
    }
}

/// One round of the ip_hash recurrence over `key`, from `hash`.
pub fn ip_hash_step(hash: u32, key: &[u8]) -> u32 {
    // u64 so that no starting value can overflow; results are < 6271.
    let mut h = u64::from(hash);
    for &b in key {
        h = (h * 113 + u64::from(b)) % 6271;
    }
    h as u32
}

/// The server index that the first round of ip_hash gives `addr` (no failures), for
/// explaining results: `walk(ip_hash_step(89, key) % total_weight)`.
pub fn first_choice(servers: &[ServerConf], addr: &IpAddr) -> Option<usize> {
    let total: u32 = servers.iter().filter(|s| !s.backup).map(|s| s.weight).sum();
    if total == 0 {
        return None;
    }
    let mut buf = [0u8; 16];
    let n = key(addr, &mut buf);
    let mut w = ip_hash_step(89, &buf[..n]) % total;
    for (i, s) in servers.iter().enumerate().filter(|(_, s)| !s.backup) {
        if w < s.weight {
            return Some(i);
        }
        w -= s.weight;
    }
    None
}

/// Map a point of the weight space `[0, total_weight)` to a primary peer, walking the
/// peers in config order and subtracting weights (shared with `hash`).
pub(crate) fn walk(peers: &NginxPeers, mut w: i64) -> Option<usize> {
    for &i in &peers.primary {
        let weight = peers.weight(i);
        if w < weight {
            return Some(i);
        }
        w -= weight;
    }
    None
}

impl Policy for IpHash {
    fn pick(
        &mut self,
        client: &ClientInfo<'_>,
        peers: &[PeerState],
        attempt: &mut Attempt,
        now: SimTime,
        _rng: &mut SimRng,
    ) -> Option<usize> {
        if attempt.count == 0 {
            attempt.hash = 89;
            attempt.tries = 0;
        }
        let now_s = nginx_secs(now);
        if attempt.tries > 20 || self.peers.single || self.peers.total_weight == 0 {
            return self.peers.get_round_robin_peer(peers, attempt, now_s);
        }
        let mut buf = [0u8; 16];
        let n = key(&client.addr, &mut buf);
        let mut hash = attempt.hash;
        let total = i64::from(self.peers.total_weight);
        loop {
            hash = ip_hash_step(hash, &buf[..n]);
            let chosen = walk(&self.peers, i64::from(hash) % total)
                .filter(|&i| !attempt.was_tried(i) && peers.get(i).is_some_and(|p| self.peers.available(i, p, now_s)));
            if let Some(i) = chosen {
                self.peers.take(i, now_s);
                attempt.hash = hash;
                return Some(i);
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

/// The policy `ip_hash` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "ip_hash",
    directive: "ip_hash",
    title: "nginx ip_hash",
    family: super::registry::Family::Nginx,
    backup: false,
    keys: &[],
    method: |_| super::Method::new(IpHashConf),
};

/// The algorithm of `ip_hash` (no parameters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpHashConf;

impl super::Algorithm for IpHashConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(IpHash::new(servers))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{client, rng, sequence, servers};
    use super::super::{Attempt, PeerState, SECOND};
    use super::*;
    use crate::balancer::Bookkeeping;

    #[test]
    fn recurrence_hand_computed() {
        // 127.0.0.x, key 127 0 0:
        //   h = (89*113 + 127) % 6271 = 10184 % 6271 = 3913
        //   h = (3913*113 + 0) % 6271 = 442169 % 6271 = 3199   (6271*70 = 438970)
        //   h = (3199*113 + 0) % 6271 = 361487 % 6271 = 4040   (6271*57 = 357447)
        assert_eq!(ip_hash_step(89, &[127, 0, 0]), 4040);
        // 192.168.1.x: (89*113+192)%6271 = 10249%6271 = 3978;
        //   (3978*113+168)%6271 = 449682%6271 = 4441 (6271*71 = 445241);
        //   (4441*113+1)%6271   = 501834%6271 = 154  (6271*80 = 501680).
        assert_eq!(ip_hash_step(89, &[192, 168, 1]), 154);
    }

    #[test]
    fn weights_3_1_1_1_hand_computed() {
        // total weight 6, slots [0,3) b1, 3 b2, 4 b3, 5 b4.
        // 127.0.0.x -> 4040 % 6 = 2 -> b1.  192.168.1.x -> 154 % 6 = 4 -> b3.
        let conf = servers(&[3, 1, 1, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut p = IpHash::new(&conf);
        assert_eq!(sequence(&mut p, &mut peers, &client("127.0.0.9"), 3), [Some(0); 3]);
        assert_eq!(sequence(&mut p, &mut peers, &client("192.168.1.200"), 2), [Some(2); 2]);
        // The whole /24 shares the server: the last octet is not hashed.
        assert_eq!(first_choice(&conf, &"192.168.1.1".parse().unwrap()), Some(2));
    }

    #[test]
    fn down_server_rehashes_only_its_clients() {
        // 192.168.1.x lands on b3 (w=4). With b3 down the recurrence continues from 154:
        //   (154*113+192)%6271  = 17594%6271  = 5052 (6271*2 = 12542)
        //   (5052*113+168)%6271 = 571044%6271 = 383  (6271*91 = 570661)
        //   (383*113+1)%6271    = 43280%6271  = 5654 (6271*6 = 37626)
        //   5654 % 6 = 2 -> b1.
        let mut conf = servers(&[3, 1, 1, 1]);
        conf[2].down = true;
        let mut peers = PeerState::for_servers(&conf);
        let mut p = IpHash::new(&conf);
        assert_eq!(sequence(&mut p, &mut peers, &client("192.168.1.7"), 1), [Some(0)]);
        // 127.0.0.x keeps b1 (its share of the weight space did not move).
        assert_eq!(sequence(&mut p, &mut peers, &client("127.0.0.7"), 1), [Some(0)]);
    }

    #[test]
    fn retry_continues_the_hash_sequence() {
        let conf = servers(&[3, 1, 1, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut p = IpHash::new(&conf);
        let c = client("192.168.1.7");
        let mut g = rng();
        let mut a = Attempt::default();
        let t = SimTime::from_secs(10);
        assert_eq!(p.pick_counted(&c, &mut peers, &mut a, t, &mut g), Some(2));
        p.report_counted(2, false, &mut peers, t);
        // Same continuation as with b3 down: b1.
        assert_eq!(p.pick_counted(&c, &mut peers, &mut a, t, &mut g), Some(0));
        p.report_counted(0, true, &mut peers, t);
        // b3 is failed for 10 s: a new request re-hashes to b1 too.
        let mut a = Attempt::default();
        assert_eq!(p.pick_counted(&c, &mut peers, &mut a, t + SECOND, &mut g), Some(0));
    }

    #[test]
    fn ipv6_hashes_all_sixteen_bytes() {
        let conf = servers(&[1, 1, 1, 1]);
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        let mut ka = [0u8; 16];
        let mut kb = [0u8; 16];
        assert_eq!(key(&a, &mut ka), 16);
        key(&b, &mut kb);
        assert_ne!(ip_hash_step(89, &ka), ip_hash_step(89, &kb));
        assert!(first_choice(&conf, &a).is_some());
    }
}
