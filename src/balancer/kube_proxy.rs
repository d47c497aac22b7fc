//! A Kubernetes Service behind kube-proxy in iptables mode, with `sessionAffinity: None` or
//! `ClientIP`.
//!
//! Checked against the source (no cluster runs here):
//! - kubernetes/kubernetes `pkg/proxy/iptables/proxier.go` (`writeServiceToEndpointRules`):
//!   with `ClientIP` affinity, the service chain first has, for each ready endpoint in order,
//!   `-m recent --name KUBE-SEP-X --rcheck --seconds T --reap -j KUBE-SEP-X` (T =
//!   `timeoutSeconds`, default 10800); then for endpoint i of n (counting from 0) `-m statistic
//!   --mode random --probability 1/(n-i)` printed with `%0.10f`, the last endpoint without a
//!   condition (a uniform choice). Each `KUBE-SEP-X` chain starts with `-m recent --name
//!   KUBE-SEP-X --set` before its DNAT. These NAT rules see only the first packet of a
//!   connection: sessim treats each request as a new connection (no keep-alive).
//! - torvalds/linux `net/netfilter/xt_statistic.c`: the rule matches when
//!   `(get_random_u32() & 0x7FFFFFFF) < probability`, with iptables storing
//!   `lround(0x80000000 * p)` (`libxt_statistic.c`).
//! - torvalds/linux `net/netfilter/xt_recent.c` (`recent_mt`): `--rcheck --seconds T` matches
//!   when the client's entry has a time stamp no older than T seconds, without refreshing it;
//!   `--reap` then drops the list's oldest entry if it is older than T; `--set` creates the
//!   entry or adds a time stamp (moving it to the young end). A list keeps at most
//!   `ip_list_tot` addresses (module parameter, default 100): a new address evicts the oldest.
//!   A list is destroyed with the last rule naming it (`recent_mt_destroy`).
//! - A pod that stops leaves the Service's endpoints (not ready); its `KUBE-SEP` chain and its
//!   recent list go with it, so when it comes back (same or new IP) its affinity is gone and its
//!   former clients are balanced afresh. sessim applies this when health checking (the
//!   readiness view, keys `inter`/`fall`/`rise`) marks the backend down.
//!
//! The random numbers come from the simulator's balancer stream.

use super::{Attempt, ClientInfo, PeerState, Policy, ServerConf, SimRng, SimTime};
use rand::Rng;
use std::collections::VecDeque;
use std::net::IpAddr;

/// `timeoutSeconds` default (3 hours).
pub const DEFAULT_AFFINITY_TIMEOUT: SimTime = SimTime::from_secs(10800);
/// xt_recent's default `ip_list_tot`.
pub const DEFAULT_RECENT_LIST_SIZE: u32 = 100;

/// The value iptables stores for `--probability p` printed by kube-proxy as `%0.10f`.
pub fn statistic_threshold(n_left: usize) -> u32 {
    let printed = format!("{:.10}", 1.0 / n_left as f64);
    let p: f64 = printed.parse().unwrap_or(1.0);
    // lround(0x80000000 * p): round half away from zero.
    (2_147_483_648.0 * p).round().min(f64::from(u32::MAX)) as u32
}

/// The statistic chain: endpoint i of n is taken when its rule matches, the last one always.
/// `draw()` is the kernel's `get_random_u32()`.
pub fn random_endpoint(n: usize, mut draw: impl FnMut() -> u32) -> Option<usize> {
    if n == 0 {
        return None;
    }
    for i in 0..n - 1 {
        if (draw() & 0x7FFF_FFFF) < statistic_threshold(n - i) {
            return Some(i);
        }
    }
    Some(n - 1)
}

/// One xt_recent list: (address, last time stamp), oldest first (the LRU list).
#[derive(Clone, Debug, Default)]
struct RecentList {
    entries: VecDeque<(IpAddr, SimTime)>,
}

impl RecentList {
    /// `--rcheck --seconds T --reap`.
    fn rcheck_reap(&mut self, addr: IpAddr, now: SimTime, timeout: SimTime) -> bool {
        let Some(&(_, last)) = self.entries.iter().find(|(a, _)| *a == addr) else {
            return false;
        };
        // The stamp matches unless `time_after(jiffies - T, stamp)`: stamp >= now - T.
        let fresh = now.saturating_sub(last) <= timeout;
        if let Some(&(_, oldest)) = self.entries.front()
            && now.saturating_sub(oldest) > timeout
        {
            self.entries.pop_front();
        }
        fresh
    }

    /// `--set`.
    fn set(&mut self, addr: IpAddr, now: SimTime, cap: u32) {
        if let Some(k) = self.entries.iter().position(|(a, _)| *a == addr) {
            self.entries.remove(k);
        } else if self.entries.len() >= cap as usize {
            self.entries.pop_front();
        }
        self.entries.push_back((addr, now));
    }
}

/// kube-proxy (iptables mode) in front of a Service's endpoints.
pub struct KubeProxy {
    /// `ClientIP` affinity timeout; `None` for `sessionAffinity: None`.
    affinity: Option<SimTime>,
    list_size: u32,
    present: Vec<bool>,
    lists: Vec<RecentList>,
    ready: Vec<usize>,
}

impl KubeProxy {
    /// The policy over `servers` with the configured parameters.
    pub fn new(servers: &[ServerConf], affinity: Option<SimTime>, list_size: u32) -> Self {
        KubeProxy {
            affinity,
            list_size,
            present: servers.iter().map(|s| !s.down).collect(),
            lists: vec![RecentList::default(); servers.len()],
            ready: Vec::with_capacity(servers.len()),
        }
    }
}

impl Policy for KubeProxy {
    fn pick(
        &mut self,
        client: &ClientInfo<'_>,
        peers: &[PeerState],
        _attempt: &mut Attempt,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<usize> {
        self.ready.clear();
        self.ready
            .extend((0..peers.len()).filter(|&i| self.present.get(i).copied().unwrap_or(false) && peers[i].up));
        let mut chosen = None;
        if let Some(timeout) = self.affinity {
            for &e in &self.ready {
                if self.lists[e].rcheck_reap(client.addr, now, timeout) {
                    chosen = Some(e);
                    break;
                }
            }
        }
        let i = match chosen {
            Some(e) => e,
            None => {
                let k = random_endpoint(self.ready.len(), || rng.next_u32())?;
                self.ready[k]
            }
        };
        if self.affinity.is_some() {
            self.lists[i].set(client.addr, now, self.list_size);
        }
        Some(i)
    }

    fn set_server_up(&mut self, peer: usize, up: bool, _peers: &[PeerState]) {
        if !up && let Some(l) = self.lists.get_mut(peer) {
            // The endpoint's KUBE-SEP chain and its recent list are deleted.
            l.entries.clear();
        }
    }
}

/// The policy `kube_proxy` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "kube_proxy",
    directive: "",
    title: "kube-proxy",
    family: super::registry::Family::KubeProxy,
    backup: false,
    keys: &["session_affinity", "affinity_timeout", "recent_list_size"],
    method: |p| {
        super::Method::new(KubeProxyConf {
            affinity: p.affinity,
            recent_list_size: p.recent_list_size,
        })
    },
};

/// The algorithm of `kube_proxy`: a Kubernetes Service through kube-proxy's iptables rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KubeProxyConf {
    /// `sessionAffinity: ClientIP` with its `timeoutSeconds`; `None`: no affinity.
    pub affinity: Option<SimTime>,
    /// Addresses each endpoint's xt_recent list keeps (the kernel's `ip_list_tot`).
    pub recent_list_size: u32,
}

impl super::Algorithm for KubeProxyConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(KubeProxy::new(servers, self.affinity, self.recent_list_size))
    }

    /// The Kubernetes API's range of `timeoutSeconds`; a list of at least one address.
    fn validate(&self) -> Result<(), super::BalancerError> {
        let bad = |s: String| Err(super::BalancerError::BadParameter(s));
        if let Some(t) = self.affinity
            && (t == SimTime::ZERO || t > SimTime::from_secs(86400))
        {
            return bad(format!(
                "timeoutSeconds {t} must be within 1..=86400 s (Kubernetes API)"
            ));
        }
        if self.recent_list_size == 0 {
            return bad("recent_list_size must be at least 1".into());
        }
        Ok(())
    }

    fn summary(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.affinity {
            Some(t) => write!(
                f,
                " (sessionAffinity ClientIP, timeoutSeconds {}, recent list {})",
                t.as_nanos() / 1_000_000_000,
                self.recent_list_size
            ),
            None => write!(f, " (sessionAffinity None)"),
        }
    }

    fn keys(&self, _servers: &[ServerConf], keys: &mut super::Keys) {
        match self.affinity {
            Some(a) => {
                keys.put("session_affinity", "ClientIP");
                keys.put("affinity_timeout", a);
            }
            None => keys.put("session_affinity", "None"),
        }
        keys.put("recent_list_size", self.recent_list_size as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::Bookkeeping;
    use crate::balancer::testutil::{client, servers};

    #[test]
    fn statistic_thresholds_are_kube_proxys_printed_probabilities() {
        // 1/2 printed 0.5000000000 -> 0x40000000; 1/3 printed 0.3333333333 ->
        // round(2^31 * 0.3333333333) = round(715827882.67 - 0.07) = 715827883 (the printing
        // truncates 3.3e-11, i.e. 0.07 of a unit); 1/1 -> 2^31 (matches every masked draw).
        assert_eq!(statistic_threshold(2), 0x4000_0000);
        assert_eq!(statistic_threshold(3), 715_827_883);
        assert_eq!(statistic_threshold(1), 0x8000_0000);
    }

    #[test]
    fn random_chain_is_uniform() {
        // P(endpoint i) = prod_{j<i} (1 - 1/(n-j)) * 1/(n-i) = 1/n. 4 endpoints, 40000 new
        // connections: 10000 each, sd sqrt(40000 * 3/16) = 86.6; 5 sigma = 433.
        let s = servers(&[1, 1, 1, 1]);
        let mut p = KubeProxy::new(&s, None, DEFAULT_RECENT_LIST_SIZE);
        let mut peers = PeerState::for_servers(&s);
        let got = crate::balancer::testutil::sequence(&mut p, &mut peers, &client("10.0.0.1"), 40_000);
        let mut n = [0i64; 4];
        for i in got.into_iter().flatten() {
            n[i] += 1;
        }
        for k in n {
            assert!((k - 10_000).abs() < 433, "{n:?}");
        }
        // Injected draws: the first rule (p = 1/4, threshold 2^29) matches a draw below 2^29.
        assert_eq!(random_endpoint(4, || 0x1FFF_FFFF), Some(0));
        // Draws of 2^31 - 1 never match: the last endpoint.
        assert_eq!(random_endpoint(4, || 0x7FFF_FFFF), Some(3));
    }

    fn pick_at(p: &mut KubeProxy, peers: &mut [PeerState], addr: &str, t: u64, rng: &mut SimRng) -> Option<usize> {
        let mut a = Attempt::default();
        let c = client(addr);
        let i = p.pick_counted(&c, peers, &mut a, SimTime::from_secs(t), rng);
        if let Some(i) = i {
            p.report_counted(i, true, peers, SimTime::from_secs(t));
        }
        i
    }

    #[test]
    fn client_ip_affinity_holds_for_the_timeout_from_the_last_connection() {
        let s = servers(&[1, 1, 1, 1]);
        let mut p = KubeProxy::new(&s, Some(SimTime::from_secs(100)), DEFAULT_RECENT_LIST_SIZE);
        let mut peers = PeerState::for_servers(&s);
        let mut rng = crate::balancer::testutil::rng();
        let first = pick_at(&mut p, &mut peers, "10.0.0.7", 0, &mut rng);
        // Every connection refreshes the stamp (`--set`), so 90 s gaps keep the affinity long
        // after 100 s from the first connection.
        for t in [90, 180, 270, 360] {
            assert_eq!(pick_at(&mut p, &mut peers, "10.0.0.7", t, &mut rng), first);
        }
        // Exactly T seconds idle still matches (stamp >= now - T).
        assert_eq!(pick_at(&mut p, &mut peers, "10.0.0.7", 460, &mut rng), first);
        // After more than T idle the client is balanced afresh: over 200 clients, about 3/4
        // land elsewhere; at least one must.
        let mut moved = 0;
        for k in 0..200 {
            let addr = format!("10.1.{}.{}", k / 250, k % 250 + 1);
            let a = pick_at(&mut p, &mut peers, &addr, 1000, &mut rng);
            let b = pick_at(&mut p, &mut peers, &addr, 1101, &mut rng);
            moved += usize::from(a != b);
        }
        // Expected 150 of 200 (3/4); sd sqrt(200 * 3/16) = 6.1; 5 sigma = 31.
        assert!((moved as i64 - 150).abs() < 31, "{moved}");
    }

    #[test]
    fn pod_restart_drops_its_affinity() {
        let s = servers(&[1, 1, 1]);
        let mut p = KubeProxy::new(&s, Some(DEFAULT_AFFINITY_TIMEOUT), DEFAULT_RECENT_LIST_SIZE);
        let mut peers = PeerState::for_servers(&s);
        let mut rng = crate::balancer::testutil::rng();
        // Find clients pinned to endpoint 1.
        let pinned: Vec<String> = (1..60)
            .map(|k| format!("10.0.0.{k}"))
            .filter(|a| pick_at(&mut p, &mut peers, a, 0, &mut rng) == Some(1))
            .collect();
        assert!(!pinned.is_empty());
        // The pod goes away: its clients go to the others and stay there (affinity re-set).
        p.set_up_counted(1, false, &mut peers);
        let moved: Vec<Option<usize>> = pinned
            .iter()
            .map(|a| pick_at(&mut p, &mut peers, a, 10, &mut rng))
            .collect();
        assert!(moved.iter().all(|m| *m == Some(0) || *m == Some(2)));
        // It comes back: its recent list is empty and the clients' new affinity holds.
        p.set_up_counted(1, true, &mut peers);
        for (a, m) in pinned.iter().zip(&moved) {
            assert_eq!(pick_at(&mut p, &mut peers, a, 20, &mut rng), *m);
        }
    }

    #[test]
    fn recent_list_forgets_the_oldest_beyond_ip_list_tot() {
        // A list holds at most ip_list_tot addresses: with a 2-entry list, the third client on
        // the same endpoint evicts the first.
        let s = servers(&[1]);
        let mut p = KubeProxy::new(&s, Some(DEFAULT_AFFINITY_TIMEOUT), 2);
        let mut peers = PeerState::for_servers(&s);
        let mut rng = crate::balancer::testutil::rng();
        for a in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            pick_at(&mut p, &mut peers, a, 0, &mut rng);
        }
        let listed: Vec<IpAddr> = p.lists[0].entries.iter().map(|e| e.0).collect();
        assert_eq!(listed, vec![client("10.0.0.2").addr, client("10.0.0.3").addr]);
    }
}
