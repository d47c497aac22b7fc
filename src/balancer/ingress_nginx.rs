//! ingress-nginx's Lua balancers for cookie affinity and `upstream-hash-by`, as pure functions
//! over read-only state: each returns the chosen endpoint index (and the cookie to set).
//!
//! Sources (kubernetes/ingress-nginx, rootfs/etc/nginx/lua/; openresty/lua-resty-balancer):
//! - balancer.lua `get_implementation`: `affinity: cookie` selects `sticky_persistent` when
//!   `affinity-mode: persistent`, else `sticky_balanced`; otherwise `upstream-hash-by` selects
//!   `chash`; otherwise `load-balance` (default `round_robin`).
//! - sticky.lua `balance` (lines 173-199): the cookie's key is looked up (`instance:find`); a
//!   new upstream is picked when there is no cookie, when the lookup finds nothing, or when the
//!   request's previous attempt failed and `session-cookie-change-on-failure` is true
//!   (`last_failure ~= nil and change_on_failure or upstream_from_cookie == nil`, Lua's `and`
//!   binding tighter than `or`); only a new pick sets the cookie (`<key>|<backend key>`).
//!   Without `change-on-failure`, a retry after a failure goes back to the cookie's endpoint.
//! - sticky_balanced.lua `pick_new_upstream` (lines 40-51): up to 20 random keys
//!   `"<ngx.now()+i>.<worker pid>.<math.random(999999)>"`, each hashed onto the ring; the first
//!   that lands on an endpoint not yet tried by this request wins and becomes the cookie.
//!   Later requests hash the cookie's key again, so when the endpoint is gone the key lands on
//!   the next point of the ring (another endpoint) without a new cookie, and when it returns
//!   the key lands on it again.
//! - sticky_persistent.lua + util/nodemap.lua: the cookie is md5(backend name .. endpoint);
//!   a lookup finds the endpoint only while it is in the backend; otherwise (and for new
//!   clients) `random_except(tried)`: a uniform choice among the endpoints not yet tried.
//! - resty.chash (lib/resty/chash.lua, chash.c): 160 points per endpoint of weight 1 (ingress-
//!   nginx gives every endpoint weight 1, util.lua `get_nodes`); point 0 is
//!   crc32(`ip:port` ++ 4 zero bytes), point i is crc32(`ip:port` ++ little-endian point i-1)
//!   (`chash_point_init_crc` continues the id's CRC over the previous hash); a key maps to the
//!   first point whose hash is >= crc32(key), wrapping to the first point (`_find_id`).
//!
//! Two points with the same hash (a 32-bit collision among 160 x endpoints points) are ordered
//! by endpoint index here; chash.c's bucket sort may order them otherwise. Checked against the
//! source; no ingress-nginx runs here. Not yet wired into the simulator: balanced mode needs the
//! client to keep the cookie key's hash, and the simulator's cookie slot holds a server index.

use super::SimRng;
use rand::RngExt;

/// Points per endpoint of weight 1 (chash.lua `CONSISTENT_POINTS`).
pub const POINTS_PER_NODE: usize = 160;
/// sticky_balanced.lua `MAX_UPSTREAM_CHECKS_COUNT`.
pub const MAX_UPSTREAM_CHECKS: u32 = 20;
/// The cookie name when `session-cookie-name` is not set (ingress-nginx annotation default).
pub const DEFAULT_COOKIE_NAME: &str = "INGRESSCOOKIE";

/// The `affinity-mode` annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffinityMode {
    /// `balanced` (default): the cookie holds a random key hashed onto the ring.
    Balanced,
    /// `persistent`: the cookie names the endpoint.
    Persistent,
}

/// The 160 point hashes of one endpoint (`chash_point_init_crc`).
pub fn node_points(id: &str) -> impl Iterator<Item = u32> + '_ {
    let mut prev = 0u32;
    (0..POINTS_PER_NODE).map(move |_| {
        let mut h = crc32fast::Hasher::new();
        h.update(id.as_bytes());
        h.update(&prev.to_le_bytes());
        prev = h.finalize();
        prev
    })
}

/// resty.chash's ring over the endpoints that are in the backend.
#[derive(Clone, Debug, Default)]
pub struct Ring {
    /// (point hash, endpoint index), sorted.
    points: Vec<(u32, usize)>,
}

impl Ring {
    /// The ring of `nodes` (endpoint index, `ip:port`).
    pub fn new<'a>(nodes: impl IntoIterator<Item = (usize, &'a str)>) -> Ring {
        let mut points: Vec<(u32, usize)> = nodes
            .into_iter()
            .flat_map(|(i, id)| node_points(id).map(move |h| (h, i)))
            .collect();
        points.sort_unstable();
        Ring { points }
    }

    /// The endpoint of the first point with hash >= `hash`, wrapping (`_find_id`); `None` on
    /// an empty ring.
    pub fn find_hash(&self, hash: u32) -> Option<usize> {
        let i = self.points.partition_point(|&(h, _)| h < hash);
        self.points.get(i).or_else(|| self.points.first()).map(|&(_, n)| n)
    }

    /// `instance:find(key)`: crc32 of the key's text.
    pub fn find(&self, key: &str) -> Option<usize> {
        self.find_hash(crc32fast::hash(key.as_bytes()))
    }
}

/// The text of a new balanced-mode key (sticky_balanced.lua line 42): Lua's `%s` of
/// `ngx.now() + i` (seconds with millisecond precision, printed with `%.14g`, so trailing
/// zeros and a bare `.` vanish), the worker's pid and `math.random(999999)`.
pub fn balanced_key(now_ms: u64, i: u32, pid: u32, random: u32) -> String {
    let secs = now_ms / 1000 + u64::from(i);
    let ms = now_ms % 1000;
    if ms == 0 {
        format!("{secs}.{pid}.{random}")
    } else {
        let frac = format!("{ms:03}");
        format!("{secs}.{}.{pid}.{random}", frac.trim_end_matches('0'))
    }
}

/// sticky_balanced `pick_new_upstream`: the endpoint and the cookie key's hash, or `None`
/// when 20 keys in a row land on endpoints this request already tried (`tried` bit i).
pub fn pick_balanced(ring: &Ring, tried: u64, now_ms: u64, pid: u32, rng: &mut SimRng) -> Option<(usize, u32)> {
    for i in 1..=MAX_UPSTREAM_CHECKS {
        let key = balanced_key(now_ms, i, pid, rng.random_range(1..=999_999));
        let hash = crc32fast::hash(key.as_bytes());
        let node = ring.find_hash(hash)?;
        if node >= 64 || tried & (1u64 << node) == 0 {
            return Some((node, hash));
        }
    }
    None
}

/// sticky_persistent `pick_new_upstream` (`random_except`): a uniform choice among the
/// endpoints in the backend (`present` bit i) not tried by this request.
pub fn pick_persistent(present: u64, tried: u64, rng: &mut SimRng) -> Option<usize> {
    let valid = present & !tried;
    let n = valid.count_ones();
    if n == 0 {
        return None;
    }
    let k = rng.random_range(0..n);
    (0..64).filter(|&i| valid & (1u64 << i) != 0).nth(k as usize)
}

/// What the client's affinity cookie refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cookie {
    /// No cookie (or not parsable).
    Absent,
    /// Balanced mode: the hash of the cookie's key.
    Key(u32),
    /// Persistent mode: the endpoint the cookie names.
    Endpoint(usize),
}

/// The outcome of one `balance()` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The endpoint; `None`: no peer (nginx then fails the request with 502).
    pub peer: Option<usize>,
    /// The cookie the response sets, when a new upstream was picked.
    pub set: Option<Cookie>,
}

/// The inputs of sticky.lua `balance` for one attempt.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// The affinity cookie the client sent.
    pub cookie: Cookie,
    /// A previous attempt of this request failed (`ngx_balancer.get_last_failure() ~= nil`).
    pub last_failed: bool,
    /// Endpoints already tried by this request (`ngx.var.upstream_addr`), bit i.
    pub tried: u64,
    /// Simulated time in milliseconds since the epoch (`ngx.now()`).
    pub now_ms: u64,
}

/// sticky.lua `balance` for either mode. `present` (bit i) is the backend's endpoint set, the
/// one the ring or node map was built from; `ring` is its ring (balanced mode).
pub fn sticky_balance(
    mode: AffinityMode,
    ring: &Ring,
    present: u64,
    change_on_failure: bool,
    req: Request,
    rng: &mut SimRng,
) -> Choice {
    let from_cookie = match (mode, req.cookie) {
        (AffinityMode::Balanced, Cookie::Key(h)) => ring.find_hash(h),
        (AffinityMode::Persistent, Cookie::Endpoint(i)) => (i < 64 && present & (1u64 << i) != 0).then_some(i),
        _ => None,
    };
    let pick_new = (req.last_failed && change_on_failure) || from_cookie.is_none();
    if !pick_new {
        return Choice {
            peer: from_cookie,
            set: None,
        };
    }
    match mode {
        AffinityMode::Balanced => match pick_balanced(ring, req.tried, req.now_ms, 1, rng) {
            Some((peer, hash)) => Choice {
                peer: Some(peer),
                set: Some(Cookie::Key(hash)),
            },
            None => Choice { peer: None, set: None },
        },
        AffinityMode::Persistent => match pick_persistent(present, req.tried, rng) {
            Some(peer) => Choice {
                peer: Some(peer),
                set: Some(Cookie::Endpoint(peer)),
            },
            None => Choice { peer: None, set: None },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::rng;

    const NODES: [&str; 4] = [
        "10.244.1.11:8080",
        "10.244.2.12:8080",
        "10.244.1.13:8080",
        "10.244.2.14:8080",
    ];

    fn ring(skip: Option<usize>) -> Ring {
        Ring::new(
            NODES
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != skip)
                .map(|(i, n)| (i, *n)),
        )
    }

    #[test]
    fn point_hashes_continue_the_crc_of_the_id() {
        // chash.c chash_point_init_crc: crc32(id ++ le(prev)), prev starting at 0. Expected
        // values from Python's zlib.crc32(b"10.244.1.11:8080" + struct.pack("<I", prev)).
        let p: Vec<u32> = node_points(NODES[0]).take(3).collect();
        assert_eq!(p, [545_307_786, 1_858_950_434, 2_492_650_040]);
        assert_eq!(node_points(NODES[0]).count(), 160);
    }

    #[test]
    fn keys_land_on_the_first_point_at_or_after_their_crc() {
        // Expected endpoints from an independent Python build of the same ring (sorted
        // (hash, node) pairs, bisect_left of zlib.crc32(key), wrapping to 0), chash.lua
        // `_find_id`; the second column is with endpoint 1 removed from the backend.
        let full = ring(None);
        let minus1 = ring(Some(1));
        for (key, want, without1) in [
            ("1700000001.5.1.123456", 1, 2),
            ("1700000002.5.1.999999", 3, 3),
            ("1700000001.25.1.42", 2, 2),
            ("abc", 2, 2),
            ("1700000001.1.7", 1, 3),
        ] {
            assert_eq!(full.find(key), Some(want), "{key}");
            assert_eq!(minus1.find(key), Some(without1), "{key} without endpoint 1");
        }
        assert_eq!(Ring::default().find("x"), None);
        // Past the last point: the first point's endpoint (wrap).
        let last_wraps = full.find_hash(u32::MAX);
        assert_eq!(last_wraps, full.find_hash(0));
    }

    #[test]
    fn balanced_keys_print_like_lua() {
        // ngx.now() = 1700000000.5 -> "%s" of 1700000001.5 (i = 1) is "1700000001.5" (%.14g).
        assert_eq!(balanced_key(1_700_000_000_500, 1, 7, 42), "1700000001.5.7.42");
        assert_eq!(balanced_key(1_700_000_000_000, 2, 7, 42), "1700000002.7.42");
        assert_eq!(balanced_key(1_700_000_000_120, 1, 7, 42), "1700000001.12.7.42");
    }

    #[test]
    fn cookie_is_followed_and_only_a_new_pick_sets_one() {
        let r = ring(None);
        let mut g = rng();
        // sticky.lua 176-187: a cookie whose key maps onto the ring is followed, no Set-Cookie.
        let h = crc32fast::hash(b"1700000001.5.1.123456");
        let req = Request {
            cookie: Cookie::Key(h),
            last_failed: false,
            tried: 0,
            now_ms: 0,
        };
        let c = sticky_balance(AffinityMode::Balanced, &r, 0b1111, false, req, &mut g);
        assert_eq!(
            c,
            Choice {
                peer: Some(1),
                set: None
            }
        );
        // Endpoint 1 gone: the same key lands on the next point of the ring (endpoint 2, from
        // the vector above) and the cookie is not rewritten (find never returns nil on a
        // non-empty chash ring).
        let c = sticky_balance(AffinityMode::Balanced, &ring(Some(1)), 0b1101, false, req, &mut g);
        assert_eq!(
            c,
            Choice {
                peer: Some(2),
                set: None
            }
        );
        // A retry after a failure without change-on-failure: back to the cookie's endpoint
        // (sticky.lua 182-186), even though it was tried.
        let retry = Request {
            last_failed: true,
            tried: 0b0010,
            ..req
        };
        let c = sticky_balance(AffinityMode::Balanced, &r, 0b1111, false, retry, &mut g);
        assert_eq!(c.peer, Some(1));
        // With change-on-failure: a new key that avoids the tried endpoint, and a new cookie.
        for _ in 0..50 {
            let c = sticky_balance(AffinityMode::Balanced, &r, 0b1111, true, retry, &mut g);
            assert!(c.peer.is_some_and(|p| p != 1), "{c:?}");
            assert!(matches!(c.set, Some(Cookie::Key(k)) if r.find_hash(k) == c.peer));
        }
    }

    #[test]
    fn persistent_cookie_follows_its_endpoint_or_picks_uniformly() {
        let r = Ring::default();
        let mut g = rng();
        let req = Request {
            cookie: Cookie::Endpoint(2),
            last_failed: false,
            tried: 0,
            now_ms: 0,
        };
        let c = sticky_balance(AffinityMode::Persistent, &r, 0b1111, false, req, &mut g);
        assert_eq!(
            c,
            Choice {
                peer: Some(2),
                set: None
            }
        );
        // Endpoint 2 left the backend: nodemap find is nil, a new endpoint and a new cookie.
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            let c = sticky_balance(AffinityMode::Persistent, &r, 0b1011, false, req, &mut g);
            let p = c.peer.unwrap_or(2);
            assert_ne!(p, 2);
            assert_eq!(c.set, Some(Cookie::Endpoint(p)));
            counts[p] += 1;
        }
        // random_except: uniform over the 3 endpoints left, 4000/3 = 1333 each; the bound
        // 1333 +- 150 is about 5 standard deviations (sqrt(4000 * 1/3 * 2/3) = 29.8).
        for p in [0, 1, 3] {
            assert!((1183..=1483).contains(&counts[p]), "{counts:?}");
        }
        // Every endpoint tried: no peer.
        let all = Request {
            cookie: Cookie::Absent,
            tried: 0b1111,
            last_failed: true,
            ..req
        };
        assert_eq!(
            sticky_balance(AffinityMode::Persistent, &r, 0b1111, true, all, &mut g),
            Choice { peer: None, set: None }
        );
    }

    #[test]
    fn balanced_new_cookies_spread_by_ring_share() {
        // New clients get the endpoint of a random key: each endpoint's share of the ring,
        // which the Python build measures as 0.246, 0.253, 0.245, 0.255 for these four.
        let r = ring(None);
        let mut g = rng();
        let mut counts = [0u32; 4];
        for t in 0..8000u64 {
            if let Some((p, _)) = pick_balanced(&r, 0, 1_700_000_000_000 + t * 7, 1, &mut g) {
                counts[p] += 1;
            }
        }
        // 8000 x share +- 200 (about 5 standard deviations, sqrt(8000 x 0.25 x 0.75) = 38.7).
        for (p, share) in [0.246, 0.253, 0.245, 0.255].iter().enumerate() {
            let want = 8000.0 * share;
            assert!((f64::from(counts[p]) - want).abs() < 200.0, "{counts:?}");
        }
    }
}
