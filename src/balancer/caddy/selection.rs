//! Caddy's selection policies (`lb_policy`, `modules/caddyhttp/reverseproxy/selectionpolicies.go`
//! of v2.6.2, and v2.7.6 for the two 2.7 policies): their names and arguments ([`LbPolicy`]), and
//! each policy as a pure function of the upstreams' state that returns the chosen index. What
//! each does, quirks included, is in the docs of [`super`]; [`super::CaddyBalancer`] calls them.

use crate::balancer::{MAX_SERVERS, PeerState, SimRng};
use hmac::{Hmac, Mac};
use rand::RngExt;
use sha2::Sha256;

/// Caddy's `lb_policy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LbPolicy {
    /// `round_robin`.
    RoundRobin,
    /// `least_conn`.
    LeastConn,
    /// `random` (Caddy's default).
    Random,
    /// `random_choose N`.
    RandomChoose(u32),
    /// `first`.
    First,
    /// `ip_hash`.
    IpHash,
    /// `uri_hash`.
    UriHash,
    /// `header FIELD`; sessim's clients send the session id in it (see the docs).
    Header(String),
    /// `cookie [NAME [SECRET]]`.
    Cookie {
        /// The cookie's name (`lb` by default).
        name: String,
        /// The HMAC key (empty by default).
        secret: String,
    },
    /// `weighted_round_robin W1 W2 ...` (Caddy 2.7): the weights in upstream order.
    WeightedRoundRobin(Vec<u64>),
    /// `client_ip_hash` (Caddy 2.7).
    ClientIpHash,
}

impl LbPolicy {
    /// The Caddyfile name.
    pub fn name(&self) -> &'static str {
        match self {
            LbPolicy::RoundRobin => "round_robin",
            LbPolicy::LeastConn => "least_conn",
            LbPolicy::Random => "random",
            LbPolicy::RandomChoose(_) => "random_choose",
            LbPolicy::First => "first",
            LbPolicy::IpHash => "ip_hash",
            LbPolicy::UriHash => "uri_hash",
            LbPolicy::Header(_) => "header",
            LbPolicy::Cookie { .. } => "cookie",
            LbPolicy::WeightedRoundRobin(_) => "weighted_round_robin",
            LbPolicy::ClientIpHash => "client_ip_hash",
        }
    }

    /// Parse `lb_policy NAME ARGS...` as Caddy 2.6.2's `UnmarshalCaddyfile` methods do (and
    /// 2.7.6's for `weighted_round_robin` and `client_ip_hash`).
    pub fn parse(name: &str, args: &[&str]) -> Result<LbPolicy, String> {
        let no_args = |p: LbPolicy| {
            if args.is_empty() {
                Ok(p)
            } else {
                Err(format!("lb_policy {name} takes no arguments; got `{}`", args.join(" ")))
            }
        };
        match name {
            "round_robin" => no_args(LbPolicy::RoundRobin),
            "least_conn" => no_args(LbPolicy::LeastConn),
            "random" => no_args(LbPolicy::Random),
            "first" => no_args(LbPolicy::First),
            "ip_hash" => no_args(LbPolicy::IpHash),
            "uri_hash" => no_args(LbPolicy::UriHash),
            "random_choose" => match args {
                [n] => match n.parse::<u32>() {
                    Ok(k) if k >= 2 => Ok(LbPolicy::RandomChoose(k)),
                    _ => Err(format!(
                        "random_choose {n}: choose must be a whole number of at least 2"
                    )),
                },
                _ => Err(
                    "lb_policy random_choose takes one argument, the number of choices (e.g. `random_choose 2`)".into(),
                ),
            },
            "header" => match args {
                [f] => Ok(LbPolicy::Header((*f).to_string())),
                _ => Err("lb_policy header takes one argument, the header field (e.g. `header X-Session`)".into()),
            },
            "cookie" => match args {
                [] => Ok(LbPolicy::Cookie {
                    name: "lb".into(),
                    secret: String::new(),
                }),
                [n] => Ok(LbPolicy::Cookie {
                    name: (*n).to_string(),
                    secret: String::new(),
                }),
                [n, s] => Ok(LbPolicy::Cookie {
                    name: (*n).to_string(),
                    secret: (*s).to_string(),
                }),
                _ => Err("lb_policy cookie takes at most two arguments: `cookie [NAME [SECRET]]`".into()),
            },
            "client_ip_hash" => no_args(LbPolicy::ClientIpHash),
            "weighted_round_robin" => parse_weights(args).map(LbPolicy::WeightedRoundRobin),
            _ => Err(format!(
                "unknown lb_policy `{name}`; Caddy 2.6 has {} (and 2.7 adds {})",
                NAMES[..9].join(", "),
                NAMES[9..].join(", ")
            )),
        }
    }
}

/// `WeightedRoundRobinSelection.UnmarshalCaddyfile` (v2.7.6): one or more weights, each a
/// whole number (`strconv.Atoi`, a leading sign allowed) of at least 1. sessim also refuses
/// weights whose sum would not fit Go's `int` (Caddy would overflow).
pub fn parse_weights(args: &[&str]) -> Result<Vec<u64>, String> {
    if args.is_empty() {
        return Err("lb_policy weighted_round_robin needs one weight per upstream, in order (e.g.                     `weighted_round_robin 3 1`)"
            .into());
    }
    let mut total: i64 = 0;
    let mut weights = Vec::with_capacity(args.len());
    for w in args {
        let v = match w.parse::<i64>() {
            Ok(v) if v >= 1 => v,
            Ok(_) => {
                return Err(format!(
                    "weighted_round_robin: invalid weight `{w}`: a weight must be a whole number of at least 1"
                ));
            }
            Err(_) => {
                return Err(format!(
                    "weighted_round_robin: invalid weight `{w}`: write a whole number of at least 1"
                ));
            }
        };
        total = total
            .checked_add(v)
            .ok_or_else(|| "weighted_round_robin: the weights' sum is too large (over 2^63 - 1)".to_string())?;
        weights.push(v.unsigned_abs());
    }
    Ok(weights)
}

/// The policies of Caddy 2.6.2, then the two that came in 2.7.
pub const NAMES: [&str; 11] = [
    "random",
    "random_choose",
    "least_conn",
    "round_robin",
    "first",
    "ip_hash",
    "uri_hash",
    "header",
    "cookie",
    "weighted_round_robin",
    "client_ip_hash",
];

/// FNV-1a 32 (Go's `hash/fnv` `New32a`): offset basis 2166136261, prime 16777619.
pub fn fnv1a32(parts: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for part in parts {
        for &b in *part {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// `hostByHashing`: the available upstream with the strictly highest
/// FNV-1a(`key` + dial), scanning from a best of 0 (a hash of 0 never wins).
pub fn host_by_hashing(key: &[u8], dials: &[String], available: u64) -> Option<usize> {
    let mut best = 0u32;
    let mut chosen = None;
    for (i, d) in dials.iter().enumerate() {
        if !is_set(available, i) {
            continue;
        }
        let h = fnv1a32(&[key, d.as_bytes()]);
        if h > best {
            best = h;
            chosen = Some(i);
        }
    }
    chosen
}

/// Caddy 2.7's `hostByHashing`: as [`host_by_hashing`] but FNV-1a 32 of dial + `key`
/// (v2.7.6 `hash(up.String() + s)`; 2.6.2 hashed `s + up.String()`).
pub fn host_by_hashing_v27(key: &[u8], dials: &[String], available: u64) -> Option<usize> {
    let mut best = 0u32;
    let mut chosen = None;
    for (i, d) in dials.iter().enumerate() {
        if !is_set(available, i) {
            continue;
        }
        let h = fnv1a32(&[d.as_bytes(), key]);
        if h > best {
            best = h;
            chosen = Some(i);
        }
    }
    chosen
}

/// `WeightedRoundRobinSelection.Select` (v2.7.6) over `n` upstreams: returns the choice and
/// the counter after it (advanced once per selection with two weights or more).
pub fn weighted_round_robin(index: u32, weights: &[u64], n: usize, available: u64) -> (Option<usize>, u32) {
    if n == 0 {
        return (None, index);
    }
    if weights.len() < 2 {
        // `return pool[0]`: no availability check, no counter.
        return (Some(0), index);
    }
    let index = index.wrapping_add(1);
    let total: u64 = weights.iter().sum();
    let current = u64::from(index) % total.max(1);
    let mut running = 0u64;
    let mut slot = 0usize;
    for (i, &w) in weights.iter().enumerate() {
        running += w;
        if current < running {
            slot = i;
            break;
        }
    }
    // The first `len(weights)` available upstreams, in config order.
    let mut upstreams = [0usize; MAX_SERVERS];
    let mut len = 0usize;
    for i in (0..n).filter(|&i| is_set(available, i)) {
        if len == weights.len() || len == upstreams.len() {
            break;
        }
        upstreams[len] = i;
        len += 1;
    }
    if len == 0 {
        return (None, index);
    }
    (Some(upstreams[slot % len]), index)
}

/// `round_robin`: returns the choice and the counter after it (advanced once per look).
pub fn round_robin(robin: u32, n: usize, available: u64) -> (Option<usize>, u32) {
    let mut r = robin;
    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
    for _ in 0..n32 {
        r = r.wrapping_add(1);
        let i = (r % n32) as usize;
        if is_set(available, i) {
            return (Some(i), r);
        }
    }
    (None, r)
}

/// `first`.
pub fn first(n: usize, available: u64) -> Option<usize> {
    (0..n).find(|&i| is_set(available, i))
}

/// `selectRandomHost`: reservoir sampling, uniform over the available upstreams.
pub fn random(n: usize, available: u64, rng: &mut SimRng) -> Option<usize> {
    let mut chosen = None;
    for (seen, i) in (1u32..).zip((0..n).filter(|&i| is_set(available, i))) {
        if rng.random_range(0..seen) == 0 {
            chosen = Some(i);
        }
    }
    chosen
}

/// `least_conn`: the fewest in flight, uniform among ties (reservoir sampling).
pub fn least_conn(peers: &[PeerState], available: u64, rng: &mut SimRng) -> Option<usize> {
    let mut chosen = None;
    let mut least = u32::MAX;
    let mut count = 0u32;
    for (i, p) in peers.iter().enumerate() {
        if !is_set(available, i) {
            continue;
        }
        if chosen.is_none() || p.conns < least {
            least = p.conns;
            count = 0;
        }
        if p.conns == least {
            count += 1;
            if rng.random_range(0..count) == 0 {
                chosen = Some(i);
            }
        }
    }
    chosen
}

/// `random_choose K` with `leastRequests`, quirks included (see the module docs).
pub fn random_choose(k: u32, peers: &[PeerState], available: u64, rng: &mut SimRng) -> Option<usize> {
    let k = (k as usize).min(peers.len()).min(MAX_SERVERS);
    let mut slots = [usize::MAX; MAX_SERVERS];
    for i in 0..peers.len() {
        if !is_set(available, i) {
            continue;
        }
        let j = rng.random_range(0..=i);
        if j < k {
            slots[j] = i;
        }
    }
    // leastRequests: the first idle one wins; else every one <= the best so far is kept.
    let mut best = [0usize; MAX_SERVERS];
    let mut nbest = 0;
    let mut best_reqs: Option<u32> = None;
    for &i in slots[..k].iter().filter(|&&i| i != usize::MAX) {
        let reqs = peers[i].conns;
        if reqs == 0 {
            return Some(i);
        }
        if best_reqs.is_none_or(|b| reqs <= b) {
            best_reqs = Some(reqs);
            best[nbest] = i;
            nbest += 1;
        }
    }
    if nbest == 0 {
        return None;
    }
    Some(best[rng.random_range(0..nbest)])
}

/// `hashCookie`: hex(HMAC-SHA256(secret, dial)).
pub fn cookie_value(secret: &str, dial: &str) -> String {
    // HMAC accepts a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(dial.as_bytes());
    let bytes = mac.finalize().into_bytes();
    let mut s = String::with_capacity(64);
    for b in bytes {
        use std::fmt::Write;
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `CookieHashSelection.Select` without the fallback: the first available upstream whose
/// cookie value equals `cookie`.
pub fn cookie_match(cookie: &str, values: &[String], available: u64) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .find(|&(i, v)| is_set(available, i) && v == cookie)
        .map(|(i, _)| i)
}

fn is_set(mask: u64, i: usize) -> bool {
    i < 64 && mask & (1u64 << i) != 0
}
