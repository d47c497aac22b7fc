//! The users: when they arrive, who they are (class, address, cookie support, how many
//! requests), and how long they think between requests.
//!
//! Everything about user k is drawn from generators keyed by `(seed, replication, k)` (see
//! [`crate::engine::rng`]), so every strategy of a scenario sees exactly the same users. This
//! module knows nothing about balancers, backends or stores.

pub mod addresses;
pub mod arrivals;
pub mod replay;

use crate::engine::SimTime;
use crate::engine::rng::{self, ItemRng, Stream};
use crate::scenario::Workload;
use rand::RngExt;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;

pub use addresses::AddressPool;
pub use arrivals::Arrivals;

/// Everything fixed about one user when it arrives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UserProfile {
    /// The user's index in arrival order (0-based).
    pub id: u64,
    /// Key of the user's per-request generators (think and service times, pages).
    pub key: u64,
    /// Its `[[workload.class]]`, by position.
    pub class: u16,
    /// Its client address.
    pub addr: std::net::Ipv4Addr,
    /// Whether its browser keeps cookies.
    pub accepts_cookies: bool,
    /// Whether it logs in (and so has a session).
    pub login: bool,
    /// Requests besides the login request.
    pub requests: u32,
    /// Size of the user's session data \[bytes\].
    pub session_bytes: u32,
}

/// Draws users and their per-request randomness for one replication.
pub struct Population {
    profile_key: u64,
    think_key: u64,
    service_key: u64,
    page_key: u64,
    classes: Option<WeightedIndex<f64>>,
    addresses: AddressPool,
}

/// Indices of re-login requests live in their own range, so a re-login never shifts the draws
/// of the user's planned requests (which stay common across strategies).
pub const RELOGIN_INDEX: u64 = 1 << 40;

impl Population {
    /// The users of replication `rep` of a run with `seed`.
    pub fn new(w: &Workload, seed: u64, rep: u32) -> Self {
        let classes = if w.classes.len() > 1 {
            WeightedIndex::new(w.classes.iter().map(|c| c.share)).ok()
        } else {
            None
        };
        Population {
            profile_key: rng::stream_key(seed, rep, Stream::UserProfile),
            think_key: rng::stream_key(seed, rep, Stream::ThinkTime),
            service_key: rng::stream_key(seed, rep, Stream::ServiceTime),
            page_key: rng::stream_key(seed, rep, Stream::RequestAttrs),
            classes,
            addresses: AddressPool::new(&w.addresses, seed, rep),
        }
    }

    /// User `id`'s profile; the same for every strategy.
    pub fn user(&self, w: &Workload, id: u64) -> UserProfile {
        let mut r = rng::item_rng(self.profile_key, id);
        let class = match &self.classes {
            Some(ix) => ix.sample(&mut r),
            None => 0,
        };
        let c = &w.classes[class];
        let addr = self.addresses.draw(&mut r);
        let accepts_cookies = !(c.refuse_cookies > 0.0 && r.random_bool(c.refuse_cookies));
        let requests = c.requests.sample(&mut r).round().min(u32::MAX as f64) as u32;
        let key = rand::Rng::next_u64(&mut r);
        // Drawn after the key, so that adding it changed no earlier draw; only users with a
        // session need it. Adding 0.5 and truncating rounds a non-negative draw without a
        // libm call (the cast saturates).
        let session_bytes = if c.login {
            (c.session_size.sample(&mut r) + 0.5) as u32
        } else {
            0
        };
        UserProfile {
            id,
            key,
            session_bytes,
            class: class as u16,
            addr,
            accepts_cookies,
            login: c.login,
            requests,
        }
    }

    /// A replayed log's user `id` at address `addr`: its key, cookie refusal and session size
    /// drawn as for a synthetic user of the first class, the same in every strategy.
    pub fn replay_user(&self, w: &Workload, id: u64, addr: std::net::IpAddr, login: bool) -> UserProfile {
        let mut r = rng::item_rng(self.profile_key, id);
        let c = &w.classes[0];
        let accepts_cookies = !(c.refuse_cookies > 0.0 && r.random_bool(c.refuse_cookies));
        let key = rand::Rng::next_u64(&mut r);
        let session_bytes = if login {
            (c.session_size.sample(&mut r) + 0.5) as u32
        } else {
            0
        };
        UserProfile {
            id,
            key,
            class: 0,
            addr: match addr {
                std::net::IpAddr::V4(a) => a,
                std::net::IpAddr::V6(_) => std::net::Ipv4Addr::UNSPECIFIED,
            },
            accepts_cookies,
            login,
            requests: 0,
            session_bytes,
        }
    }

    /// The think time before request `index` of the user with key `key`.
    #[inline]
    pub fn think_time(&self, w: &Workload, user: &UserProfile, index: u64) -> SimTime {
        let mut r = rng::item_rng(self.think_key ^ user.key, index);
        SimTime::from_secs_f64(w.classes[user.class as usize].think_time.sample(&mut r))
    }

    /// The generator for the service time of request `index` of a user: the same request gets
    /// the same draw in every strategy, whichever backend serves it.
    #[inline]
    pub fn service_rng(&self, user_key: u64, index: u64) -> ItemRng {
        rng::item_rng(self.service_key ^ user_key, index)
    }

    /// The page (URL number) of request `index` of a user, uniform over `pages`.
    #[inline]
    pub fn page(&self, w: &Workload, user_key: u64, index: u64) -> u32 {
        rng::item_below(self.page_key ^ user_key, index, w.pages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;

    fn workload(extra: &str) -> Workload {
        let text = format!("name = \"t\"\nduration = \"1h\"\n[workload]\nusers_per_second = 10\n{extra}");
        load_str(&text, "t.toml", &[]).unwrap().strategies[0]
            .system
            .workload
            .clone()
    }

    #[test]
    fn users_are_reproducible_and_independent_of_order() {
        let w = workload("");
        let p = Population::new(&w, 7, 0);
        let forward: Vec<UserProfile> = (0..100).map(|i| p.user(&w, i)).collect();
        let backward: Vec<UserProfile> = (0..100).rev().map(|i| p.user(&w, i)).collect();
        assert!(forward.iter().eq(backward.iter().rev()));
        let other_rep = Population::new(&w, 7, 1);
        assert_ne!(forward[0].key, other_rep.user(&w, 0).key);
    }

    #[test]
    fn class_shares_and_cookie_refusal_follow_the_scenario() {
        let w = workload(
            "[[workload.classes]]\nname = \"browser\"\nshare = 0.9\nrefuse_cookies = 0.2\n\
             [[workload.classes]]\nname = \"api\"\nshare = 0.1\nlogin = false\n",
        );
        let p = Population::new(&w, 1, 0);
        let n = 50_000;
        let users: Vec<UserProfile> = (0..n).map(|i| p.user(&w, i)).collect();
        let api = users.iter().filter(|u| u.class == 1).count() as f64 / n as f64;
        assert!((api - 0.1).abs() < 0.01, "api share {api}");
        assert!(
            users
                .iter()
                .filter(|u| u.class == 1)
                .all(|u| !u.login && u.accepts_cookies)
        );
        let browsers: Vec<&UserProfile> = users.iter().filter(|u| u.class == 0).collect();
        let refuse = browsers.iter().filter(|u| !u.accepts_cookies).count() as f64 / browsers.len() as f64;
        assert!((refuse - 0.2).abs() < 0.01, "refusal {refuse}");
    }
}
