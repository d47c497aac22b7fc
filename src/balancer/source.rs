//! HAProxy `balance source`: the client address picks the server.
//!
//! Sources: haproxy/haproxy `src/backend.c` `get_server_sh` (the key is the XOR of the
//! address's 32-bit big-endian words: an IPv4 address as one integer; with one usable
//! server no hashing at all; the `avalanche` modifier applies `full_hash`), `src/lb_map.c`
//! (`init_server_map`: effective weight = user weight / GCD of all weights;
//! `recalc_server_map`: each of `tot_weight` slots goes to the server whose running
//! score `(wscore + tot) / tot` is highest, first in config order on ties, which then
//! loses `tot`; `map_get_server_hash`: `map[h % tot_weight]`) and `src/lb_chash.c`
//! (`chash_init_server_tree`: `16 * weight` points per server keyed
//! `full_hash(puid * SRV_EWGHT_RANGE + n)`, puid = 1-based position;
//! `chash_get_server_hash`: of the points just before and at-or-after the hash, the
//! nearer wins, the one before on ties; the server to avoid moves on to following points).
//!
//! Map-based: any server going up or down rebuilds the map and most clients move
//! (checked against HAProxy 2.6.12). Consistent: see [`SourceConsistent`], also checked
//! against HAProxy 2.6.12.

use super::haproxy_lb::{BE_WEIGHT_SCALE, Backend, EbTree, SRV_EWGHT_RANGE, full_hash};
use super::haproxy_rr::avoid_of;
use super::{Attempt, ClientInfo, PeerState, Policy, ServerConf, SimRng, SimTime};
use std::net::IpAddr;

/// `get_server_sh`'s key: XOR of the address's 32-bit words (network order).
pub fn source_key(addr: &IpAddr) -> u32 {
    match addr {
        IpAddr::V4(v4) => u32::from_be_bytes(v4.octets()),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            o.chunks_exact(4)
                .fold(0u32, |h, w| h ^ u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        }
    }
}

fn gcd_of_weights(servers: &[ServerConf]) -> u32 {
    // init_server_map: start from the first non-zero weight; zero weights are skipped.
    let mut it = servers.iter().map(|s| s.weight).skip_while(|&w| w == 0);
    let Some(mut g) = it.next() else { return 1 };
    for mut w in it {
        if g <= 1 {
            break;
        }
        while w != 0 {
            let t = g % w;
            g = w;
            w = t;
        }
    }
    g.max(1)
}

/// HAProxy `balance source` with the default `hash-type map-based`.
pub struct SourceMap {
    be: Backend,
    map: Vec<usize>,
    wscore: Vec<i64>,
    avalanche: bool,
}

impl SourceMap {
    /// A map-based source-hash backend over `servers` (config order).
    pub fn new(servers: &[ServerConf]) -> Self {
        Self::with_avalanche(servers, false)
    }

    /// `hash-type map-based avalanche`.
    pub fn with_avalanche(servers: &[ServerConf], avalanche: bool) -> Self {
        let g = gcd_of_weights(servers);
        // wdiv = 1 for map-based; eweight = (uweight * wdiv + wmult - 1) / wmult.
        let be = Backend::new(servers, |w| w.div_ceil(g));
        let act: u32 = (0..be.len()).filter(|&i| !be.is_backup(i)).map(|i| be.eweight(i)).sum();
        let bck: u32 = (0..be.len()).filter(|&i| be.is_backup(i)).map(|i| be.eweight(i)).sum();
        let size = usize::try_from(act.max(bck).max(1)).unwrap_or(1);
        let mut m = SourceMap {
            map: Vec::with_capacity(size),
            wscore: vec![0; servers.len()],
            be,
            avalanche,
        };
        m.recalc();
        m
    }

    /// The map (server index per slot), for tests and explanations.
    pub fn slots(&self) -> &[usize] {
        &self.map
    }

    /// `recalc_server_map`.
    fn recalc(&mut self) {
        self.map.clear();
        if self.be.tot_used == 0 {
            return;
        }
        let tot = i64::from(self.be.tot_weight);
        let want_backup = self.be.srv_act == 0;
        self.wscore.iter_mut().for_each(|w| *w = 0);
        for _ in 0..tot {
            let mut best: Option<usize> = None;
            let mut max: i64 = 0;
            for i in 0..self.be.len() {
                if self.be.is_backup(i) != want_backup || !self.be.is_usable(i) {
                    continue;
                }
                if tot == 1 {
                    best = Some(i);
                    break;
                }
                self.wscore[i] += i64::from(self.be.eweight(i));
                let v = (self.wscore[i] + tot) / tot;
                if best.is_none() || v > max {
                    max = v;
                    best = Some(i);
                }
            }
            match best {
                Some(b) => {
                    self.map.push(b);
                    self.wscore[b] -= tot;
                }
                None => break,
            }
        }
    }

    /// The server `get_server_sh` gives `addr` now.
    pub fn lookup(&self, addr: &IpAddr) -> Option<usize> {
        if self.be.tot_weight == 0 || self.map.is_empty() {
            return None;
        }
        let h = if self.be.tot_used == 1 {
            0
        } else if self.avalanche {
            full_hash(source_key(addr))
        } else {
            source_key(addr)
        };
        let n = u32::try_from(self.map.len()).unwrap_or(u32::MAX);
        self.map.get((h % n) as usize).copied()
    }
}

impl Policy for SourceMap {
    fn pick(
        &mut self,
        client: &ClientInfo<'_>,
        _peers: &[PeerState],
        attempt: &mut Attempt,
        _now: SimTime,
        _rng: &mut SimRng,
    ) -> Option<usize> {
        attempt.direct = false;
        // The map ignores the server to avoid: a redispatch lands on the same server.
        self.lookup(&client.addr)
    }

    fn set_server_up(&mut self, peer: usize, up: bool, _peers: &[PeerState]) {
        if self.be.set_up(peer, up).is_some() {
            self.recalc();
        }
    }
}

/// HAProxy `balance source` with `hash-type consistent`: the chash tree of
/// src/lb_chash.c (16 * weight points per server at `full_hash(puid * 4096 + n)`; the
/// request at `full_hash` of the address; the nearer of the points around it, the one
/// before on ties). Conformant with HAProxy 2.6.12 on loopback
/// (tests/integration/conformance.rs: weights 3,1,1,1 with and without `avalanche`, and
/// 3,1,2,1 with the third server disabled, 400 source addresses each, 100%).
pub struct SourceConsistent {
    be: Backend,
    act: EbTree,
    bck: EbTree,
    /// Point keys of each server (`lb_nodes`), `16 * weight` of them.
    keys: Vec<Vec<u32>>,
}

impl SourceConsistent {
    /// A consistent source-hash backend over `servers` (config order).
    pub fn new(servers: &[ServerConf]) -> Self {
        Self::with_avalanche(servers, false)
    }

    /// `hash-type consistent avalanche`: the same tree and the same lookup (the address
    /// is mixed by full_hash with or without the modifier, see [`Self::lookup`]).
    pub fn with_avalanche(servers: &[ServerConf], _avalanche: bool) -> Self {
        let be = Backend::new(servers, |w| w * BE_WEIGHT_SCALE);
        let keys: Vec<Vec<u32>> = servers
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let puid = u32::try_from(i + 1).unwrap_or(u32::MAX);
                (0..s.weight.saturating_mul(BE_WEIGHT_SCALE))
                    .map(|n| full_hash(puid.wrapping_mul(SRV_EWGHT_RANGE).wrapping_add(n)))
                    .collect()
            })
            .collect();
        let total: usize = keys.iter().map(Vec::len).sum();
        let mut c = SourceConsistent {
            act: EbTree::with_capacity(total),
            bck: EbTree::with_capacity(total),
            be,
            keys,
        };
        for i in 0..c.be.len() {
            if c.be.is_usable(i) {
                c.queue(i);
            }
        }
        c
    }

    fn queue(&mut self, i: usize) {
        let tree = if self.be.is_backup(i) {
            &mut self.bck
        } else {
            &mut self.act
        };
        // chash_queue_dequeue_srv inserts nodes 0..eweight in order.
        let n = self.be.eweight(i) as usize;
        for &k in self.keys[i].iter().take(n) {
            tree.insert(k, i);
        }
    }

    /// `chash_get_server_hash(p, hash, avoid)`.
    pub fn lookup(&self, addr: &IpAddr, avoid: Option<usize>) -> Option<usize> {
        let root = if self.be.srv_act > 0 {
            &self.act
        } else if let Some(f) = self.be.fbck {
            return Some(f);
        } else if self.be.srv_bck > 0 {
            &self.bck
        } else {
            return None;
        };
        // With the chash tree the address is mixed by full_hash whether or not `avalanche`
        // is given: checked against HAProxy 2.6.12 on loopback (400 of 400 clients agree,
        // and 800 of 800 with one server disabled; the raw address agrees on 219 of 400).
        // get_server_sh as read applies full_hash only with `avalanche`; the step that
        // mixes it otherwise was not found in the source read.
        let hash = if self.be.tot_used == 1 {
            0
        } else {
            full_hash(source_key(addr))
        };
        let len = root.len();
        if len == 0 {
            return None;
        }
        let next = root.lookup_ge(hash).unwrap_or(0);
        let prev = if next == 0 { len - 1 } else { next - 1 };
        let (nkey, nsrv) = root.get(next)?;
        let (pkey, psrv) = root.get(prev)?;
        let dp = hash.wrapping_sub(pkey);
        let dn = nkey.wrapping_sub(hash);
        let (mut at, mut srv) = if dp <= dn { (prev, psrv) } else { (next, nsrv) };
        let mut wraps = 0;
        while Some(srv) == avoid {
            at += 1;
            if at >= len {
                at = 0;
                wraps += 1;
                if wraps > 1 {
                    break;
                }
            }
            srv = root.get(at)?.1;
        }
        Some(srv)
    }
}

impl Policy for SourceConsistent {
    fn pick(
        &mut self,
        client: &ClientInfo<'_>,
        _peers: &[PeerState],
        attempt: &mut Attempt,
        _now: SimTime,
        _rng: &mut SimRng,
    ) -> Option<usize> {
        attempt.direct = false;
        self.lookup(&client.addr, avoid_of(attempt))
    }

    fn set_server_up(&mut self, peer: usize, up: bool, _peers: &[PeerState]) {
        match self.be.set_up(peer, up) {
            Some(true) => self.queue(peer),
            Some(false) => {
                self.act.remove_all(peer);
                self.bck.remove_all(peer);
            }
            None => {}
        }
    }
}

/// The policy `source` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "source",
    directive: "source",
    title: "haproxy source",
    family: super::registry::Family::Haproxy,
    backup: true,
    keys: &["hash_type"],
    method: |p| {
        super::Method::new(SourceConf {
            consistent: p.consistent,
            avalanche: p.avalanche,
        })
    },
};

/// The algorithm of `source`: HAProxy `balance source`, map-based or `hash-type consistent`,
/// optionally with the `avalanche` hash modifier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceConf {
    /// `hash-type consistent` rather than map-based.
    pub consistent: bool,
    /// The `avalanche` hash modifier.
    pub avalanche: bool,
}

impl super::Algorithm for SourceConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        if self.consistent {
            Box::new(SourceConsistent::with_avalanche(servers, self.avalanche))
        } else {
            Box::new(SourceMap::with_avalanche(servers, self.avalanche))
        }
    }

    fn summary(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            " (hash-type {})",
            if self.consistent { "consistent" } else { "map-based" }
        )
    }

    fn keys(&self, _servers: &[ServerConf], keys: &mut super::Keys) {
        keys.put("hash_type", if self.consistent { "consistent" } else { "map-based" });
    }
}

#[cfg(test)]
mod tests {
    use super::super::PeerState;
    use super::super::testutil::{client, sequence, servers};
    use super::*;
    use crate::balancer::Bookkeeping;

    #[test]
    fn map_for_weights_3_1_1_1() {
        // GCD 1, eweights 3,1,1,1, tot 6. Scores (wscore+6)/6 after adding weights:
        // slot0: a 3->1, b 1->1, c 1->1, d 1->1 -> a (first), a=-3
        // slot1: a 0->1, b 2->1, c 2->1, d 2->1 -> a, a=-6
        // slot2: a -3->0, b 3->1, c 3, d 3 -> b, b=-3
        // slot3: a 0->1, b -2->0, c 4->1, d 4->1 -> a, a=-6
        // slot4: a -3->0, b -1->0, c 5->1, d 5->1 -> c, c=-1
        // slot5: a 0->1, b 0->1, c 0->1, d 6->2 -> d
        let s = SourceMap::new(&servers(&[3, 1, 1, 1]));
        assert_eq!(s.slots(), [0, 0, 1, 0, 2, 3]);
    }

    #[test]
    fn equal_weights_address_modulo_servers() {
        // Equal weights: declaration order, so server = ip % n.
        let conf = servers(&[2, 2, 2, 2]);
        let mut peers = PeerState::for_servers(&conf);
        let mut s = SourceMap::new(&conf);
        assert_eq!(s.slots(), [0, 1, 2, 3]);
        // 127.0.0.5 = 0x7f000005 = 2130706437; % 4 = 1.
        assert_eq!(sequence(&mut s, &mut peers, &client("127.0.0.5"), 1), [Some(1)]);
    }

    #[test]
    fn server_down_rebuilds_map() {
        let conf = servers(&[1, 1, 1, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut s = SourceMap::new(&conf);
        s.set_up_counted(1, false, &mut peers);
        assert_eq!(s.slots(), [0, 2, 3]);
        // 127.0.0.5 % 3 = 2130706437 % 3 = 0 -> b1.
        assert_eq!(sequence(&mut s, &mut peers, &client("127.0.0.5"), 1), [Some(0)]);
        s.set_up_counted(1, true, &mut peers);
        assert_eq!(s.slots(), [0, 1, 2, 3]);
    }

    #[test]
    fn ipv6_key_xors_words() {
        let a: IpAddr = "::1:0:0:2".parse().unwrap();
        // words: 0, 0, 0x00010000, 0x00000002 -> 0x00010002
        assert_eq!(source_key(&a), 0x0001_0002);
    }

    #[test]
    fn consistent_moves_only_the_removed_servers_clients() {
        let conf = servers(&[1, 1, 1, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut s = SourceConsistent::with_avalanche(&conf, true);
        let addrs: Vec<IpAddr> = (0..300u32)
            .map(|i| IpAddr::from((0x0a00_0000u32 + i * 7919).to_be_bytes()))
            .collect();
        let before: Vec<_> = addrs.iter().map(|a| s.lookup(a, None)).collect();
        s.set_up_counted(2, false, &mut peers);
        for (a, b) in addrs.iter().zip(&before) {
            let now = s.lookup(a, None);
            if *b != Some(2) {
                assert_eq!(now, *b);
            } else {
                assert_ne!(now, Some(2));
            }
        }
    }
}
