//! nginx smooth weighted round-robin with backup servers, and the per-peer machinery
//! (availability, passive failure accounting) that every nginx-flavoured policy shares.
//!
//! Source: nginx/nginx `src/http/ngx_http_upstream_round_robin.c` (1.22):
//! `ngx_http_upstream_init_round_robin` (primary and backup peer lists, total weight
//! counting `down` peers), `ngx_http_upstream_get_round_robin_peer` (single peer,
//! failover to the backup list), `ngx_http_upstream_get_peer` (the smooth weighted
//! selection) and `ngx_http_upstream_free_round_robin_peer` (passive failure accounting).
//!
//! Simplification: one peer per `server` line (nginx resolves a host name to all its
//! addresses, one peer each); and, as nginx without a `zone`, the state is that of one
//! worker process.

use super::{Attempt, ClientInfo, PeerState, Policy, ServerConf, SimRng, SimTime, nginx_secs};

/// Static data of one nginx peer, kept together so that a selection round reads one
/// cache line per peer.
#[derive(Clone, Copy, Debug)]
struct Static {
    weight: i64,
    /// nginx keeps fail_timeout in whole seconds (`ngx_parse_time(.., 1)`).
    fail_timeout: i64,
    max_fails: u32,
    max_conns: u32,
    down: bool,
}

/// nginx's runtime state of one peer (`ngx_http_upstream_rr_peer_t`) besides `conns`,
/// which the shared [`PeerState`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NginxPeer {
    /// Failures counted since the last success after a check.
    pub fails: u32,
    /// Start of the current failure-check window [s].
    pub checked: i64,
    /// Time of the last failure [s].
    pub accessed: i64,
    /// Weight lowered by failures, recovering by one per selection round.
    pub effective_weight: i64,
    /// Smooth weighted round-robin accumulator.
    pub current_weight: i64,
}

/// Static per-peer data of an nginx upstream, split into the primary and backup lists
/// as `ngx_http_upstream_init_round_robin` builds them, and each peer's runtime state.
#[derive(Clone, Debug)]
pub(crate) struct NginxPeers {
    /// Global indices of the primary peers, config order.
    pub primary: Vec<usize>,
    /// Global indices of the backup peers, config order.
    pub backup: Vec<usize>,
    /// Sum of the primary weights, `down` peers included (`peers->total_weight`).
    pub total_weight: u32,
    /// `peers->single`: exactly one primary peer and no backup.
    pub single: bool,
    stat: Vec<Static>,
    /// Runtime state of each peer, config order.
    pub state: Vec<NginxPeer>,
}

impl NginxPeers {
    pub fn new(servers: &[ServerConf]) -> Self {
        let primary: Vec<usize> = (0..servers.len()).filter(|&i| !servers[i].backup).collect();
        let backup: Vec<usize> = (0..servers.len()).filter(|&i| servers[i].backup).collect();
        let total_weight = primary.iter().map(|&i| servers[i].weight).sum();
        NginxPeers {
            single: primary.len() == 1 && backup.is_empty(),
            primary,
            backup,
            total_weight,
            stat: servers
                .iter()
                .map(|s| Static {
                    weight: i64::from(s.weight),
                    fail_timeout: i64::try_from(s.fail_timeout.as_nanos() / super::SECOND.as_nanos())
                        .unwrap_or(i64::MAX),
                    max_fails: s.max_fails,
                    max_conns: s.max_conns,
                    down: s.down,
                })
                .collect(),
            state: servers
                .iter()
                .map(|s| NginxPeer {
                    fails: 0,
                    checked: 0,
                    accessed: 0,
                    effective_weight: i64::from(s.weight),
                    current_weight: 0,
                })
                .collect(),
        }
    }

    /// nginx `fails` of peer `i`.
    pub fn fails(&self, i: usize) -> u32 {
        self.state.get(i).map_or(0, |n| n.fails)
    }

    pub fn weight(&self, i: usize) -> i64 {
        self.stat.get(i).map_or(1, |s| s.weight)
    }

    pub fn is_down(&self, i: usize) -> bool {
        self.stat.get(i).is_none_or(|s| s.down)
    }

    /// `max_conns && conns >= max_conns`.
    pub fn is_full(&self, i: usize, p: &PeerState) -> bool {
        self.stat.get(i).is_some_and(|s| full(s, p))
    }

    /// Neither `down`, failed nor full.
    pub fn available(&self, i: usize, p: &PeerState, now_s: i64) -> bool {
        match (self.stat.get(i), self.state.get(i)) {
            (Some(s), Some(n)) => usable(s, n, p, now_s),
            _ => false,
        }
    }

    /// nginx's own step once a peer is chosen: the start of a new failure-check window
    /// (`if now - checked > fail_timeout: checked = now`). The `tried` bit and `conns++`
    /// are the bookkeeping's ([`super::Bookkeeping::pick_counted`]).
    pub fn take(&mut self, i: usize, now_s: i64) {
        let timeout = self.stat.get(i).map_or(0, |s| s.fail_timeout);
        if let Some(n) = self.state.get_mut(i)
            && now_s - n.checked > timeout
        {
            n.checked = now_s;
        }
    }

    /// Smooth weighted selection over one peer list (`ngx_http_upstream_get_peer`):
    /// every usable peer gains its effective weight, the largest current weight wins
    /// (ties: the first in config order) and loses the total. The effective weight of
    /// a peer that failed recovers by one per round.
    pub fn get_peer(&mut self, backup: bool, peers: &[PeerState], attempt: &Attempt, now_s: i64) -> Option<usize> {
        let mut best = usize::MAX;
        let mut best_cw = i64::MIN;
        let mut total: i64 = 0;
        // Bit i: server i was tried (servers past 64 are never marked; build() refuses them).
        let tried = attempt.tried;
        let mut visit = |i: usize, s: &Static, n: &mut NginxPeer, p: &PeerState| {
            if (i < 64 && tried & (1u64 << i) != 0) || !usable(s, n, p, now_s) {
                return;
            }
            n.current_weight += n.effective_weight;
            total += n.effective_weight;
            if n.effective_weight < s.weight {
                n.effective_weight += 1;
            }
            if n.current_weight > best_cw {
                best_cw = n.current_weight;
                best = i;
            }
        };
        if !backup && self.backup.is_empty() {
            // Every peer is primary: walk the arrays together, without index lookups.
            for (i, ((s, n), p)) in self.stat.iter().zip(self.state.iter_mut()).zip(peers).enumerate() {
                visit(i, s, n, p);
            }
        } else {
            let list = if backup { &self.backup } else { &self.primary };
            for &i in list {
                if let (Some(s), Some(n), Some(p)) = (self.stat.get(i), self.state.get_mut(i), peers.get(i)) {
                    visit(i, s, n, p);
                }
            }
        }
        let n = self.state.get_mut(best)?;
        n.current_weight -= total;
        self.take(best, now_s);
        Some(best)
    }

    /// `ngx_http_upstream_get_round_robin_peer`: the single-peer shortcut, the smooth
    /// selection, and the switch of this request to the backup list once no primary is
    /// usable. Returns `None` for 502 "no live upstreams".
    pub fn get_round_robin_peer(&mut self, peers: &[PeerState], attempt: &mut Attempt, now_s: i64) -> Option<usize> {
        let found = if !attempt.backup && self.single {
            // The single peer ignores max_fails: only `down` and max_conns stop it.
            let i = self.primary.first().copied()?;
            let usable = peers.get(i).is_some_and(|p| !self.is_down(i) && !self.is_full(i, p));
            usable.then_some(i)
        } else {
            self.get_peer(attempt.backup, peers, attempt, now_s)
        };
        if found.is_some() {
            return found;
        }
        if !attempt.backup && !self.backup.is_empty() {
            attempt.backup = true;
            return self.get_peer(true, peers, attempt, now_s);
        }
        None
    }

    /// `ngx_http_upstream_free_round_robin_peer` (after the bookkeeping's `conns--`): passive accounting. A
    /// failure raises `fails`, stamps `accessed = checked = now` and lowers the
    /// effective weight by `weight / max_fails`; a success clears `fails` only if a
    /// check window opened after the last failure (`accessed < checked`). A single-peer
    /// upstream never counts failures.
    pub fn free(&mut self, i: usize, ok: bool, now_s: i64) {
        let single = self.single;
        let weight = self.weight(i);
        let max_fails = i64::from(self.stat.get(i).map_or(0, |s| s.max_fails));
        let Some(p) = self.state.get_mut(i) else { return };
        if !single {
            if !ok {
                p.fails += 1;
                p.accessed = now_s;
                p.checked = now_s;
                if max_fails > 0 {
                    p.effective_weight -= weight / max_fails;
                }
                if p.effective_weight < 0 {
                    p.effective_weight = 0;
                }
            } else if p.accessed < p.checked {
                p.fails = 0;
            }
        }
    }
}

#[inline]
fn failed(s: &Static, n: &NginxPeer, now_s: i64) -> bool {
    s.max_fails > 0 && n.fails >= s.max_fails && now_s - n.checked <= s.fail_timeout
}

#[inline]
fn full(s: &Static, p: &PeerState) -> bool {
    s.max_conns > 0 && p.conns >= s.max_conns
}

/// `p.up` is false for an nginx peer only when an operator takes the server out (sessim's
/// `drain` fault: `down` and a reload); open-source nginx has no health checks to clear it.
#[inline]
fn usable(s: &Static, n: &NginxPeer, p: &PeerState, now_s: i64) -> bool {
    !s.down && p.up && !failed(s, n, now_s) && !full(s, p)
}

/// nginx's default method: smooth weighted round-robin, backup servers when every
/// primary is down, failed or full.
pub struct NginxRoundRobin {
    peers: NginxPeers,
}

impl NginxRoundRobin {
    /// A round-robin balancer over `servers` (config order).
    pub fn new(servers: &[ServerConf]) -> Self {
        NginxRoundRobin {
            peers: NginxPeers::new(servers),
        }
    }
}

impl Policy for NginxRoundRobin {
    fn pick(
        &mut self,
        _client: &ClientInfo<'_>,
        peers: &[PeerState],
        attempt: &mut Attempt,
        now: SimTime,
        _rng: &mut SimRng,
    ) -> Option<usize> {
        self.peers.get_round_robin_peer(peers, attempt, nginx_secs(now))
    }

    fn report(&mut self, peer: usize, ok: bool, _peers: &[PeerState], now: SimTime) {
        self.peers.free(peer, ok, nginx_secs(now));
    }

    fn fails(&self, peer: usize) -> u32 {
        self.peers.fails(peer)
    }
}

/// The policy `round_robin` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "round_robin",
    directive: "",
    title: "nginx round-robin",
    family: super::registry::Family::Nginx,
    backup: true,
    keys: &[],
    method: |_| super::Method::new(RoundRobinConf),
};

/// The algorithm of `round_robin` (no parameters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundRobinConf;

impl super::Algorithm for RoundRobinConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(NginxRoundRobin::new(servers))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{client, rng, sequence, servers};
    use super::super::{Attempt, PeerState, Policy};
    use super::*;
    use crate::balancer::Bookkeeping;

    fn run(weights: &[u32], n: usize) -> Vec<usize> {
        let conf = servers(weights);
        let mut peers = PeerState::for_servers(&conf);
        let mut rr = NginxRoundRobin::new(&conf);
        sequence(&mut rr, &mut peers, &client("10.0.0.1"), n)
            .into_iter()
            .flatten()
            .collect()
    }

    #[test]
    fn smooth_weights_5_1_1_1() {
        // Hand-worked (cw after adding weights, total 8; winner loses 8):
        // 1: 5 1 1 1 -> a (-3 1 1 1)   2: 2 2 2 2 -> a (-6 2 2 2)
        // 3: -1 3 3 3 -> b (-1 -5 3 3) 4: 4 -4 4 4 -> a (-4 -4 4 4)
        // 5: 1 -3 5 5 -> c (1 -3 -3 5) 6: 6 -2 -2 6 -> a (-2 -2 -2 6)
        // 7: 3 -1 -1 7 -> d (3 -1 -1 -1) 8: 8 0 0 0 -> a (0 0 0 0): the cycle restarts.
        assert_eq!(run(&[5, 1, 1, 1], 16), [0, 0, 1, 0, 2, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]);
    }

    #[test]
    fn smooth_weights_5_1_1_and_equal() {
        // real-systems.md: 5,1,1 give a a b a c a a.
        assert_eq!(run(&[5, 1, 1], 7), [0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(run(&[1, 1, 1, 1], 8), [0, 1, 2, 3, 0, 1, 2, 3]);
        // 3,1,1,1: a(3) b(1->b) a c d a: cw rounds 3111>a, 0222>b, 3-333>a, 0-244>c,
        // 3-1-15>d, 6000>a.
        assert_eq!(run(&[3, 1, 1, 1], 6), [0, 1, 0, 2, 3, 0]);
    }

    #[test]
    fn passive_failure_disables_for_fail_timeout_then_recovers() {
        let conf = servers(&[1, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut rr = NginxRoundRobin::new(&conf);
        let c = client("10.0.0.1");
        let mut g = rng();
        let t0 = SimTime::from_secs(100);
        // Request 1: b1 refuses (max_fails=1) -> retried on b2.
        let mut a = Attempt::default();
        assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, t0, &mut g), Some(0));
        rr.report_counted(0, false, &mut peers, t0);
        assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, t0, &mut g), Some(1));
        rr.report_counted(1, true, &mut peers, t0);
        assert_eq!(rr.fails(0), 1);
        assert_eq!(rr.peers.state[0].effective_weight, 0);
        // For fail_timeout (10 s, inclusive) only b2 is used.
        for t in [t0, t0 + SimTime::from_secs(5), t0 + SimTime::from_secs(10)] {
            let mut a = Attempt::default();
            assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, t, &mut g), Some(1));
            rr.report_counted(1, true, &mut peers, t);
        }
        // 11 s later b1 is tried again; its success clears `fails`
        // (checked was moved to now when it was picked, so accessed < checked).
        let t = t0 + SimTime::from_secs(11);
        let mut seen = vec![];
        for _ in 0..3 {
            let mut a = Attempt::default();
            let i = rr.pick_counted(&c, &mut peers, &mut a, t, &mut g);
            if let Some(i) = i {
                rr.report_counted(i, true, &mut peers, t);
            }
            seen.push(i);
        }
        assert!(seen.contains(&Some(0)));
        assert_eq!(rr.fails(0), 0);
    }

    #[test]
    fn backup_used_only_when_primaries_unavailable() {
        let mut conf = servers(&[1, 1, 1]);
        conf[2].backup = true;
        let mut peers = PeerState::for_servers(&conf);
        let mut rr = NginxRoundRobin::new(&conf);
        let c = client("10.0.0.1");
        let mut g = rng();
        let t = SimTime::from_secs(50);
        // Both primaries refuse: the request walks b1, b2, then the backup.
        let mut a = Attempt::default();
        assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, t, &mut g), Some(0));
        rr.report_counted(0, false, &mut peers, t);
        assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, t, &mut g), Some(1));
        rr.report_counted(1, false, &mut peers, t);
        assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, t, &mut g), Some(2));
        rr.report_counted(2, true, &mut peers, t);
        // Next request goes straight to the backup while both are failed.
        let mut a = Attempt::default();
        assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, t, &mut g), Some(2));
        // And nothing is left after the backup fails too.
        rr.report_counted(2, false, &mut peers, t);
        let mut a = Attempt::default();
        assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, t, &mut g), None);
    }

    #[test]
    fn single_peer_never_counts_failures() {
        let conf = servers(&[1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut rr = NginxRoundRobin::new(&conf);
        let c = client("10.0.0.1");
        let mut g = rng();
        for _ in 0..3 {
            let mut a = Attempt::default();
            assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g), Some(0));
            rr.report_counted(0, false, &mut peers, SimTime::ZERO);
        }
        assert_eq!(rr.fails(0), 0);
    }

    #[test]
    fn down_and_tried_servers_are_skipped_and_backups_wait() {
        // From the foundation's round-robin: a down primary is skipped, the backup waits.
        let mut conf = servers(&[1, 1, 1]);
        conf[1].down = true;
        conf[2].backup = true;
        assert_eq!(run_conf(&conf, 3), [0, 0, 0]);
        let mut peers = PeerState::for_servers(&conf);
        let mut rr = NginxRoundRobin::new(&conf);
        let c = client("10.0.0.1");
        let mut g = rng();
        // Server 0 already tried (refused): the only usable primary is gone, the backup serves;
        // once the backup is tried too, nothing is left (502).
        let mut a = Attempt::default();
        assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g), Some(0));
        rr.report_counted(0, false, &mut peers, SimTime::ZERO);
        assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g), Some(2));
        rr.report_counted(2, false, &mut peers, SimTime::ZERO);
        assert_eq!(rr.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g), None);
    }

    fn run_conf(conf: &[ServerConf], n: usize) -> Vec<usize> {
        let mut peers = PeerState::for_servers(conf);
        let mut rr = NginxRoundRobin::new(conf);
        sequence(&mut rr, &mut peers, &client("10.0.0.1"), n)
            .into_iter()
            .flatten()
            .collect()
    }

    #[test]
    fn down_peer_skipped_and_max_conns_respected() {
        let mut conf = servers(&[1, 1, 1]);
        conf[1].down = true;
        conf[2].max_conns = 1;
        let mut peers = PeerState::for_servers(&conf);
        let mut rr = NginxRoundRobin::new(&conf);
        let c = client("10.0.0.1");
        let mut g = rng();
        let mut picks = vec![];
        // Never released: b3 holds one connection, then only b1 remains.
        for _ in 0..4 {
            let mut a = Attempt::default();
            picks.push(rr.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g));
        }
        assert_eq!(picks, [Some(0), Some(2), Some(0), Some(0)]);
    }
}
