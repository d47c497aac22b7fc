//! nginx `hash $key` and `hash $key consistent`.
//!
//! Source: nginx/nginx `src/http/modules/ngx_http_upstream_hash_module.c` (1.22).
//!
//! CRC32: nginx's `ngx_crc32_short`/`ngx_crc32_long` (src/core/ngx_crc32.h) are the
//! standard reflected IEEE CRC32 (init `0xffffffff`, final xor), computed with a 16-
//! or 256-entry table; `ngx_crc32_update` continues a running (un-finalised) CRC, so
//! "update then final" over several buffers equals the CRC32 of their concatenation,
//! which is what `crc32fast::Hasher` computes.
//!
//! * `hash KEY` (`ngx_http_upstream_get_hash_peer`): per round,
//!   `h = (crc32([rehash as decimal] ++ KEY) >> 16) & 0x7fff` (the rehash prefix is
//!   omitted in the first round), `acc += h`, `w = acc % total_weight`, walk the
//!   weights; a tried/down/failed/full peer costs a round (20 at most, then
//!   round-robin). Compatible with Cache::Memcached.
//! * `hash KEY consistent` (`ngx_http_upstream_init_chash`,
//!   `ngx_http_upstream_get_chash_peer`): each peer gets `160 * weight` points; point
//!   `j` is `crc32(HOST "\0" PORT prev)`, where `prev` is point `j-1` as 4
//!   little-endian bytes (0 for the first), i.e. a CRC over `host\0port` continued with
//!   the previous point's hash. HOST/PORT split the `server` text at its last `:` when
//!   only digits follow (no port: empty PORT). Points are sorted, duplicates dropped;
//!   the request starts at the first point `>= crc32(KEY)` (wrapping) and moves one
//!   point per unusable peer (20 at most, then round-robin). Among peers with that
//!   server text, the smooth round-robin picks.
//!
//! An empty key (e.g. `$cookie_PHPSESSID` for a client without the cookie) and a single
//! server fall back to round-robin, as nginx does.

use super::round_robin::NginxPeers;
use super::{Attempt, ClientInfo, HashKey, Needs, PeerState, Policy, ServerConf, SimRng, SimTime, nginx_secs};

/// CRC32 (IEEE) of the concatenation of `parts`, as nginx's init/update/final.
pub fn crc32_parts(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

/// Decimal digits of `n` into `buf` (nginx `ngx_sprintf("%ui")`), allocation-free.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    &buf[i..]
}

/// nginx `hash KEY` (not consistent).
pub struct Hash {
    peers: NginxPeers,
    key: HashKey,
}

impl Hash {
    /// A `hash KEY` balancer over `servers` (config order; no backup servers).
    pub fn new(servers: &[ServerConf], key: HashKey) -> Self {
        Hash {
            peers: NginxPeers::new(servers),
            key,
        }
    }
}

impl Policy for Hash {
    fn needs(&self) -> Needs {
        self.key.needs()
    }

    fn pick(
        &mut self,
        client: &ClientInfo<'_>,
        peers: &[PeerState],
        attempt: &mut Attempt,
        now: SimTime,
        _rng: &mut SimRng,
    ) -> Option<usize> {
        if attempt.count == 0 {
            attempt.hash = 0;
            attempt.rehash = 0;
            attempt.tries = 0;
        }
        let now_s = nginx_secs(now);
        let mut kbuf = [0u8; 64];
        let key = self.key.bytes(client, &mut kbuf);
        if attempt.tries > 20 || self.peers.single || key.is_empty() || self.peers.total_weight == 0 {
            return self.peers.get_round_robin_peer(peers, attempt, now_s);
        }
        let total = self.peers.total_weight;
        loop {
            let mut dbuf = [0u8; 10];
            let crc = if attempt.rehash > 0 {
                crc32_parts(&[decimal(attempt.rehash, &mut dbuf), key])
            } else {
                crc32_parts(&[key])
            };
            attempt.hash = attempt.hash.wrapping_add((crc >> 16) & 0x7fff);
            attempt.rehash += 1;
            let w = i64::from(attempt.hash % total);
            let chosen = super::ip_hash::walk(&self.peers, w)
                .filter(|&i| !attempt.was_tried(i) && peers.get(i).is_some_and(|p| self.peers.available(i, p, now_s)));
            if let Some(i) = chosen {
                self.peers.take(i, now_s);
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

/// One point of the consistent-hash ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Point {
    hash: u32,
    /// Index of the first peer with the same `server` text.
    group: usize,
}

/// nginx `hash KEY consistent`.
pub struct ConsistentHash {
    peers: NginxPeers,
    key: HashKey,
    points: Vec<Point>,
    /// Per global server index: its group (first index with the same server text).
    group: Vec<usize>,
}

/// Split a `server` text as `ngx_http_upstream_init_chash` does: `unix:` paths have no
/// port; otherwise the port is what follows the last `:` if it is all digits.
fn host_port(server: &str) -> (&[u8], &[u8]) {
    let b = server.as_bytes();
    if b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"unix:") {
        return (&b[5..], &[]);
    }
    for j in 0..b.len() {
        let c = b[b.len() - j - 1];
        if c == b':' {
            return (&b[..b.len() - j - 1], &b[b.len() - j..]);
        }
        if !c.is_ascii_digit() {
            break;
        }
    }
    (b, &[])
}

/// The `160 * weight` points of one server text, in generation order.
pub fn chash_points(server: &str, weight: u32) -> impl Iterator<Item = u32> + '_ {
    let (host, port) = host_port(server);
    let mut base = crc32fast::Hasher::new();
    base.update(host);
    base.update(&[0]);
    base.update(port);
    let mut prev: u32 = 0;
    (0..weight.saturating_mul(160)).map(move |_| {
        let mut h = base.clone();
        h.update(&prev.to_le_bytes());
        prev = h.finalize();
        prev
    })
}

impl ConsistentHash {
    /// A `hash KEY consistent` balancer over `servers` (config order; no backups).
    pub fn new(servers: &[ServerConf], key: HashKey) -> Self {
        let peers = NginxPeers::new(servers);
        let group: Vec<usize> = servers
            .iter()
            .map(|s| servers.iter().position(|t| t.addr == s.addr).unwrap_or(0))
            .collect();
        let mut points: Vec<Point> = Vec::new();
        for &i in &peers.primary {
            let s = &servers[i];
            points.extend(chash_points(&s.addr, s.weight).map(|hash| Point { hash, group: group[i] }));
        }
        // ngx_qsort then drop equal neighbours, keeping the first (a stable sort here;
        // two servers' points colliding is a 1e-4-order event whose winner glibc's
        // qsort decides).
        points.sort_by_key(|p| p.hash);
        points.dedup_by_key(|p| p.hash);
        ConsistentHash {
            peers,
            key,
            points,
            group,
        }
    }

    /// `ngx_http_upstream_find_chash_point`: index of the first point `>= hash`
    /// (may equal the number of points; taken modulo when used).
    fn find(&self, hash: u32) -> u32 {
        let i = self.points.partition_point(|p| p.hash < hash);
        u32::try_from(i).unwrap_or(0)
    }
}

impl Policy for ConsistentHash {
    fn needs(&self) -> Needs {
        self.key.needs()
    }

    fn pick(
        &mut self,
        client: &ClientInfo<'_>,
        peers: &[PeerState],
        attempt: &mut Attempt,
        now: SimTime,
        _rng: &mut SimRng,
    ) -> Option<usize> {
        let mut kbuf = [0u8; 64];
        let key = self.key.bytes(client, &mut kbuf);
        if attempt.count == 0 {
            attempt.tries = 0;
            attempt.hash = self.find(crc32_parts(&[key]));
        }
        let now_s = nginx_secs(now);
        let n = u32::try_from(self.points.len()).unwrap_or(0);
        if attempt.tries > 20 || self.peers.single || key.is_empty() || n == 0 {
            return self.peers.get_round_robin_peer(peers, attempt, now_s);
        }
        loop {
            let group = self
                .points
                .get((attempt.hash % n) as usize)
                .map_or(usize::MAX, |p| p.group);
            let mut best: Option<usize> = None;
            let mut total: i64 = 0;
            for &i in &self.peers.primary {
                if attempt.was_tried(i) || self.group.get(i) != Some(&group) {
                    continue;
                }
                let Some(p) = peers.get(i) else { continue };
                if !self.peers.available(i, p, now_s) {
                    continue;
                }
                let weight = self.peers.weight(i);
                let Some(p) = self.peers.state.get_mut(i) else { continue };
                p.current_weight += p.effective_weight;
                total += p.effective_weight;
                if p.effective_weight < weight {
                    p.effective_weight += 1;
                }
                let cw = p.current_weight;
                if best.is_none_or(|b| cw > self.peers.state.get(b).map_or(i64::MIN, |q| q.current_weight)) {
                    best = Some(i);
                }
            }
            if let Some(b) = best {
                if let Some(p) = self.peers.state.get_mut(b) {
                    p.current_weight -= total;
                }
                self.peers.take(b, now_s);
                return Some(b);
            }
            attempt.hash = attempt.hash.wrapping_add(1);
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

/// The policy `hash` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "hash",
    directive: "hash",
    title: "nginx hash",
    family: super::registry::Family::Nginx,
    backup: false,
    keys: &["key"],
    method: |p| {
        super::Method::new(HashConf {
            key: p.key.clone(),
            consistent: false,
        })
    },
};

/// The policy `hash_consistent` (registered in [`super::registry::POLICIES`]).
pub(crate) static CONSISTENT_POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "hash_consistent",
    directive: "hash consistent",
    title: "nginx hash consistent",
    family: super::registry::Family::Nginx,
    backup: false,
    keys: &["key"],
    method: |p| {
        super::Method::new(HashConf {
            key: p.key.clone(),
            consistent: true,
        })
    },
};

/// The algorithm of `hash` and `hash_consistent`: nginx `hash KEY [consistent]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashConf {
    /// What is hashed.
    pub key: HashKey,
    /// `consistent` (ketama points) rather than modulo.
    pub consistent: bool,
}

impl super::Algorithm for HashConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        if self.consistent { &CONSISTENT_POLICY } else { &POLICY }
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        if self.consistent {
            Box::new(ConsistentHash::new(servers, self.key.clone()))
        } else {
            Box::new(Hash::new(servers, self.key.clone()))
        }
    }

    fn summary(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, " (key {})", self.key)
    }

    fn keys(&self, _servers: &[ServerConf], keys: &mut super::Keys) {
        keys.put("key", self.key.key_name());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{client, sequence, servers};
    use super::super::{ClientInfo, PeerState};
    use super::*;

    #[test]
    fn crc32_matches_ieee_check_value() {
        // The CRC-32/ISO-HDLC check value: nginx's table gives the same.
        assert_eq!(crc32_parts(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32_parts(&[b"1234", b"56789"]), 0xCBF4_3926);
    }

    #[test]
    fn host_port_split() {
        assert_eq!(host_port("127.0.0.1:18081"), (&b"127.0.0.1"[..], &b"18081"[..]));
        assert_eq!(host_port("backend"), (&b"backend"[..], &b""[..]));
        assert_eq!(host_port("unix:/tmp/x"), (&b"/tmp/x"[..], &b""[..]));
        assert_eq!(host_port("[::1]:80"), (&b"[::1]"[..], &b"80"[..]));
    }

    #[test]
    fn points_chain_previous_hash() {
        // Point 0 = crc32("127.0.0.1\0" "18081" 00 00 00 00); point 1 continues with
        // point 0's value as 4 little-endian bytes.
        let p: Vec<u32> = chash_points("127.0.0.1:18081", 1).take(2).collect();
        let p0 = crc32_parts(&[b"127.0.0.1", b"\0", b"18081", &[0, 0, 0, 0]]);
        let p1 = crc32_parts(&[b"127.0.0.1", b"\0", b"18081", &p0.to_le_bytes()]);
        assert_eq!(p, [p0, p1]);
        assert_eq!(chash_points("a:1", 3).count(), 480);
    }

    #[test]
    fn plain_hash_formula() {
        // key "abc": crc32 = 0x352441C2 -> (0x352441C2 >> 16) & 0x7fff = 0x3524 = 13604;
        // 13604 % 4 = 0 -> b1.
        assert_eq!(crc32_parts(&[b"abc"]), 0x3524_41C2);
        let conf = servers(&[1, 1, 1, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut h = Hash::new(&conf, HashKey::RequestUri);
        let c = ClientInfo {
            uri: "abc",
            ..client("10.0.0.1")
        };
        assert_eq!(sequence(&mut h, &mut peers, &c, 2), [Some(0), Some(0)]);
    }

    #[test]
    fn consistent_removal_moves_only_that_servers_keys() {
        let four = servers(&[1, 1, 1, 1]);
        let three = servers(&[1, 1, 1]);
        let mut p4 = ConsistentHash::new(&four, HashKey::RemoteAddr);
        let mut p3 = ConsistentHash::new(&three, HashKey::RemoteAddr);
        let mut s4 = PeerState::for_servers(&four);
        let mut s3 = PeerState::for_servers(&three);
        let mut moved = 0;
        for i in 0..400u32 {
            let addr = format!("10.{}.{}.{}", i % 7, i / 7 % 256, i % 251);
            let c = client(&addr);
            let a = sequence(&mut p4, &mut s4, &c, 1)[0];
            let b = sequence(&mut p3, &mut s3, &c, 1)[0];
            if a != Some(3) {
                assert_eq!(a, b, "{addr} moved although its server stayed");
            } else {
                moved += 1;
            }
        }
        assert!(moved > 0);
    }

    #[test]
    fn empty_key_falls_back_to_round_robin() {
        let conf = servers(&[1, 1, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut h = ConsistentHash::new(&conf, HashKey::Cookie("PHPSESSID".into()));
        let got = sequence(&mut h, &mut peers, &client("10.0.0.1"), 3);
        assert_eq!(got, [Some(0), Some(1), Some(2)]);
    }
}
