//! HAProxy `balance roundrobin`: the "fast weighted round-robin" of `lb_fwrr.c`.
//!
//! Its order differs from nginx's smooth round-robin: HAProxy places each server at
//! positions spaced `total_weight / eweight` apart in a window, with effective weights
//! scaled by 16, and breaks ties by the tree keys below. With equal weights both give a
//! strict rotation; with weights 3,1,1,1 nginx gives a b a c d a, HAProxy a b a c a d
//! (observed on HAProxy 2.6.12, `tests/conformance.rs`), and 5,1,1,1 give
//! a a b a c a d a (nginx) against a a b a a c a d (HAProxy).
//!
//! Source: haproxy/haproxy `src/lb_fwrr.c` (2.x): `fwrr_init_server_groups`,
//! `fwrr_queue_by_weight` (key `SRV_EWGHT_MAX - eweight` in the init/next trees),
//! `fwrr_queue_srv` (key `SRV_UWGHT_RANGE * npos + (SRV_EWGHT_MAX + rweight -
//! eweight) / BE_WEIGHT_SCALE` in the current tree, or the next tree when the
//! position falls outside the window), `fwrr_get_srv*`, `fwrr_switch_trees`,
//! `fwrr_get_server_from_group`, `fwrr_update_position`, `fwrr_get_next_server`
//! (saturated and avoided servers requeued) and `fwrr_set_server_status_up/down`.
//!
//! Simplifications: `option allbackups` and slowstart are not modelled; a saturated
//! server (`maxconn`) is skipped, and when all are saturated `pick` returns `None`
//! where HAProxy would queue the request in the backend.

use super::haproxy_lb::{BE_WEIGHT_SCALE, Backend, EbTree, SRV_EWGHT_MAX, SRV_UWGHT_RANGE};
use super::{Attempt, ClientInfo, MAX_SERVERS, PeerState, Policy, ServerConf, SimRng, SimTime};

/// Which tree a server sits in (`srv->lb_tree`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    None,
    Curr,
    T0,
    T1,
}

/// One group of servers (active or backup): `struct fwrr_group`.
#[derive(Clone, Debug)]
struct Group {
    curr: EbTree,
    t0: EbTree,
    t1: EbTree,
    /// `init` is t0 (false) or t1 (true); `next` is the other.
    init_is_t1: bool,
    curr_pos: i64,
    curr_weight: i64,
    next_weight: i64,
}

impl Group {
    fn new(n: usize, weight: u32) -> Self {
        let w = i64::from(weight);
        Group {
            curr: EbTree::with_capacity(n),
            t0: EbTree::with_capacity(n),
            t1: EbTree::with_capacity(n),
            init_is_t1: false,
            curr_pos: w,
            curr_weight: w,
            next_weight: w,
        }
    }

    fn init_where(&self) -> Where {
        if self.init_is_t1 { Where::T1 } else { Where::T0 }
    }

    fn next_where(&self) -> Where {
        if self.init_is_t1 { Where::T0 } else { Where::T1 }
    }

    fn tree(&mut self, w: Where) -> Option<&mut EbTree> {
        match w {
            Where::None => None,
            Where::Curr => Some(&mut self.curr),
            Where::T0 => Some(&mut self.t0),
            Where::T1 => Some(&mut self.t1),
        }
    }

    fn init(&self) -> &EbTree {
        if self.init_is_t1 { &self.t1 } else { &self.t0 }
    }
}

/// Per-server fwrr state (`npos`, `lpos`, `rweight`, `lb_tree`).
#[derive(Clone, Copy, Debug)]
struct Pos {
    npos: i64,
    lpos: i64,
    rweight: i64,
    lb_tree: Where,
}

/// The fwrr machinery, reusable by the cookie policy.
#[derive(Clone, Debug)]
pub(crate) struct Fwrr {
    pub be: Backend,
    act: Group,
    bck: Group,
    pos: Vec<Pos>,
    /// Scratch list of extracted servers (`full`), preallocated.
    full: Vec<usize>,
}

impl Fwrr {
    pub fn new(servers: &[ServerConf]) -> Self {
        // fwrr_init_server_groups: wdiv = BE_WEIGHT_SCALE, wmult = 1.
        let be = Backend::new(servers, |w| w * BE_WEIGHT_SCALE);
        let n = servers.len();
        let mut f = Fwrr {
            act: Group::new(n, be.tot_wact),
            bck: Group::new(n, be.tot_wbck),
            pos: vec![
                Pos {
                    npos: 0,
                    lpos: 0,
                    rweight: 0,
                    lb_tree: Where::None,
                };
                n
            ],
            full: Vec::with_capacity(MAX_SERVERS),
            be,
        };
        for i in 0..n {
            if f.be.is_usable(i) {
                f.queue_by_weight_init(i);
            }
        }
        f
    }

    fn group(&mut self, i: usize) -> &mut Group {
        if self.be.is_backup(i) {
            &mut self.bck
        } else {
            &mut self.act
        }
    }

    fn eweight(&self, i: usize) -> i64 {
        i64::from(self.be.eweight(i))
    }

    /// `fwrr_queue_by_weight(tree, s)`.
    fn queue_by_weight(&mut self, i: usize, w: Where) {
        let key = SRV_EWGHT_MAX.wrapping_sub(self.be.eweight(i));
        if let Some(t) = self.group(i).tree(w) {
            t.insert(key, i);
        }
        self.pos[i].lb_tree = w;
    }

    fn queue_by_weight_init(&mut self, i: usize) {
        let w = self.group(i).init_where();
        self.queue_by_weight(i, w);
    }

    /// `fwrr_dequeue_srv`: remove from whichever tree holds it (lb_tree unchanged).
    fn dequeue(&mut self, i: usize) {
        let w = self.pos[i].lb_tree;
        if let Some(t) = self.group(i).tree(w) {
            t.remove(i);
        }
    }

    /// `fwrr_queue_srv`.
    fn queue_srv(&mut self, i: usize) {
        let usable = self.be.is_usable(i);
        let ew = self.eweight(i);
        let g = if self.be.is_backup(i) { &self.bck } else { &self.act };
        let (cw, nw) = (g.curr_weight, g.next_weight);
        let next = g.next_where();
        if !usable {
            self.pos[i].lb_tree = Where::None;
        } else if ew <= 0 || self.pos[i].npos >= 2 * cw || self.pos[i].npos >= cw + nw {
            self.pos[i].npos -= cw;
            self.queue_by_weight(i, next);
        } else {
            let p = self.pos[i];
            let key = i64::from(SRV_UWGHT_RANGE) * p.npos
                + (i64::from(SRV_EWGHT_MAX) + p.rweight - ew) / i64::from(BE_WEIGHT_SCALE);
            // eb32 keys are unsigned 32-bit: wrap as C does.
            let key = key as u32;
            self.group(i).curr.insert(key, i);
            self.pos[i].lb_tree = Where::Curr;
        }
    }

    /// `fwrr_get_srv`: prepare a server extracted from its tree.
    fn get_srv(&mut self, i: usize) {
        let g = if self.be.is_backup(i) { &self.bck } else { &self.act };
        let (init, next, cw, cp) = (g.init_where(), g.next_where(), g.curr_weight, g.curr_pos);
        let p = &mut self.pos[i];
        if p.lb_tree == init {
            p.npos = 0;
            p.rweight = 0;
        } else if p.lb_tree == next {
            p.npos += cw;
        } else if p.lb_tree == Where::None {
            p.npos = cp;
        }
    }

    /// `fwrr_get_server_from_group`.
    fn server_from_group(&mut self, backup: bool) -> Option<usize> {
        let g = if backup { &self.bck } else { &self.act };
        let s1 = g.curr.first().map(|(_, s)| s);
        if let Some(s) = s1
            && self.eweight(s) > 0
            && self.pos[s].npos <= g.curr_pos
        {
            return Some(s);
        }
        if let Some((_, s2)) = g.init().first()
            && self.eweight(s2) > 0
        {
            self.pos[s2].npos = 0;
            self.pos[s2].rweight = 0;
            return Some(s2);
        }
        s1
    }

    /// `fwrr_update_position`.
    fn update_position(&mut self, i: usize, backup: bool) {
        let ew = self.eweight(i);
        if ew == 0 {
            return;
        }
        let g = if backup { &self.bck } else { &self.act };
        let (cp, nw) = (g.curr_pos, g.next_weight);
        let p = &mut self.pos[i];
        if p.npos == 0 {
            p.npos = cp;
        }
        p.lpos = p.npos;
        p.npos += nw / ew;
        p.rweight += nw % ew;
        if p.rweight >= ew {
            p.rweight -= ew;
            p.npos += 1;
        }
    }

    /// `fwrr_get_next_server(p, srvtoavoid)`.
    pub fn next_server(&mut self, avoid: Option<usize>, peers: &[PeerState]) -> Option<usize> {
        let backup = if self.be.srv_act > 0 {
            false
        } else if let Some(f) = self.be.fbck {
            return Some(f);
        } else if self.be.srv_bck > 0 {
            true
        } else {
            return None;
        };
        let mut switched = false;
        let mut avoided: Option<usize> = None;
        self.full.clear();
        let chosen: Option<usize>;
        'outer: loop {
            {
                let g = if backup { &mut self.bck } else { &mut self.act };
                if g.curr_weight == 0 {
                    g.curr_pos = g.next_weight;
                    g.curr_weight = g.next_weight;
                }
            }
            let srv = loop {
                if let Some(s) = self.server_from_group(backup) {
                    break s;
                }
                if switched {
                    if let Some(a) = avoided {
                        chosen = Some(a);
                        break 'outer;
                    }
                    // Nothing usable: requeue what was extracted.
                    self.requeue(None, switched, backup);
                    return None;
                }
                switched = true;
                let g = if backup { &mut self.bck } else { &mut self.act };
                // fwrr_switch_trees
                g.init_is_t1 = !g.init_is_t1;
                g.curr_weight = g.next_weight;
                g.curr_pos = g.curr_weight;
            };
            self.update_position(srv, backup);
            self.dequeue(srv);
            {
                let g = if backup { &mut self.bck } else { &mut self.act };
                g.curr_pos += 1;
            }
            if !self.be.saturated(srv, peers) {
                if avoid != Some(srv) || avoided.is_some() {
                    chosen = Some(srv);
                    break;
                }
                avoided = Some(srv);
            }
            // Saturated or avoided: chain for requeueing. Extracted servers are not
            // requeued before the end, so each is chained at most once.
            if self.full.len() < MAX_SERVERS {
                self.full.push(srv);
            }
        }
        if let Some(s) = chosen {
            self.queue_srv(s);
        }
        self.requeue(chosen, switched, backup);
        chosen
    }

    /// Requeue the extracted servers, most recent first, except the chosen one.
    fn requeue(&mut self, chosen: Option<usize>, switched: bool, _backup: bool) {
        let n = self.full.len();
        for k in (0..n).rev() {
            let f = self.full[k];
            if Some(f) == chosen {
                continue;
            }
            if switched {
                self.queue_by_weight_init(f);
            } else {
                self.queue_srv(f);
            }
        }
        self.full.clear();
    }

    /// `fwrr_set_server_status_up/down` for a committed health change.
    pub fn set_up(&mut self, i: usize, up: bool) {
        let Some(now_usable) = self.be.set_up(i, up) else {
            return;
        };
        let ew = self.eweight(i);
        if now_usable {
            self.group(i).next_weight += ew;
            self.get_srv(i);
            let g = if self.be.is_backup(i) { &self.bck } else { &self.act };
            let (cp, cw, nw) = (g.curr_pos, g.curr_weight, g.next_weight);
            if ew > 0 {
                self.pos[i].npos = cp + (nw + cw - cp) / ew;
            }
            self.queue_srv(i);
        } else {
            self.group(i).next_weight -= ew;
            self.dequeue(i);
            self.pos[i].lb_tree = Where::None;
        }
    }
}

/// HAProxy `balance roundrobin`.
pub struct HaproxyRoundRobin {
    fwrr: Fwrr,
}

impl HaproxyRoundRobin {
    /// A roundrobin backend over `servers` (config order).
    pub fn new(servers: &[ServerConf]) -> Self {
        HaproxyRoundRobin {
            fwrr: Fwrr::new(servers),
        }
    }
}

/// HAProxy avoids only the server of the previous attempt when redispatching.
pub(crate) fn avoid_of(attempt: &Attempt) -> Option<usize> {
    if attempt.count > 0 {
        attempt.current.map(usize::from)
    } else {
        None
    }
}

impl Policy for HaproxyRoundRobin {
    fn pick(
        &mut self,
        _client: &ClientInfo<'_>,
        peers: &[PeerState],
        attempt: &mut Attempt,
        _now: SimTime,
        _rng: &mut SimRng,
    ) -> Option<usize> {
        attempt.direct = false;
        let avoid = avoid_of(attempt);
        self.fwrr.next_server(avoid, peers)
    }

    fn set_server_up(&mut self, peer: usize, up: bool, _peers: &[PeerState]) {
        self.fwrr.set_up(peer, up);
    }
}

/// The policy `haproxy_roundrobin` (registered in [`super::registry::POLICIES`]).
pub(crate) static POLICY: super::registry::PolicyInfo = super::registry::PolicyInfo {
    name: "haproxy_roundrobin",
    directive: "roundrobin",
    title: "haproxy roundrobin",
    family: super::registry::Family::Haproxy,
    backup: true,
    keys: &[],
    method: |_| super::Method::new(HaproxyRoundRobinConf),
};

/// The algorithm of `haproxy_roundrobin` (no parameters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HaproxyRoundRobinConf;

impl super::Algorithm for HaproxyRoundRobinConf {
    fn info(&self) -> &'static super::registry::PolicyInfo {
        &POLICY
    }

    fn build(&self, servers: &[ServerConf]) -> Box<dyn Policy> {
        Box::new(HaproxyRoundRobin::new(servers))
    }

    fn redispatch_every_retry(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{client, sequence, servers};
    use super::super::{Attempt, PeerState};
    use super::*;
    use crate::balancer::Bookkeeping;

    fn run(weights: &[u32], n: usize) -> Vec<usize> {
        let conf = servers(weights);
        let mut peers = PeerState::for_servers(&conf);
        let mut rr = HaproxyRoundRobin::new(&conf);
        sequence(&mut rr, &mut peers, &client("10.0.0.1"), n)
            .into_iter()
            .flatten()
            .collect()
    }

    #[test]
    fn equal_weights_strict_rotation() {
        assert_eq!(run(&[1, 1, 1, 1], 8), [0, 1, 2, 3, 0, 1, 2, 3]);
    }

    #[test]
    fn weights_3_1_1_1_differ_from_nginx() {
        // Observed on HAProxy 2.6.12 (tests/conformance.rs, cookie case, first phase):
        // a b a c a d, repeating; nginx's smooth round-robin gives a b a c d a.
        assert_eq!(run(&[3, 1, 1, 1], 12), [0, 1, 0, 2, 0, 3, 0, 1, 0, 2, 0, 3]);
        // Weights 5,1,1,1: a a b a a c a d (nginx: a a b a c a d a).
        assert_eq!(run(&[5, 1, 1, 1], 8), [0, 0, 1, 0, 0, 2, 0, 3]);
    }

    #[test]
    fn down_server_skipped_and_readmitted() {
        let conf = servers(&[1, 1, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut rr = HaproxyRoundRobin::new(&conf);
        let c = client("10.0.0.1");
        rr.set_up_counted(1, false, &mut peers);
        let got: Vec<_> = sequence(&mut rr, &mut peers, &c, 4);
        assert!(got.iter().all(|s| *s != Some(1) && s.is_some()));
        rr.set_up_counted(1, true, &mut peers);
        let got: Vec<_> = sequence(&mut rr, &mut peers, &c, 6);
        assert!(got.contains(&Some(1)));
    }

    #[test]
    fn redispatch_avoids_previous_server() {
        let conf = servers(&[1, 1]);
        let mut peers = PeerState::for_servers(&conf);
        let mut rr = HaproxyRoundRobin::new(&conf);
        let c = client("10.0.0.1");
        let mut g = super::super::testutil::rng();
        let mut a = Attempt::default();
        let first = rr.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g);
        let second = rr.pick_counted(&c, &mut peers, &mut a, SimTime::ZERO, &mut g);
        assert_ne!(first, second);
    }
}
