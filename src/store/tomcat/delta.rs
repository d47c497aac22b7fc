//! `DeltaManager` (`ha/session/DeltaManager.java`, `DeltaSession.java`), checked against the
//! source: all-to-all replication over per-node copies.
//!
//! * A new session: `sendCreateSession` sends `EVT_SESSION_CREATED` (no data) to every member
//!   when the session is created; at the end of the request `ReplicationValve` calls
//!   `requestCompleted`, which sends `EVT_SESSION_DELTA` with the request's changes
//!   (`session.getDiff()`) because the session is dirty. The model sends the creation, then the
//!   delta when the creation's send has returned (at once when asynchronous).
//! * A request that changed the session sends one `EVT_SESSION_DELTA` to every member.
//! * A request that did not change it, served by a node whose copy is not the primary one
//!   (`isPrimarySession()` false: another node served the last request), sends
//!   `EVT_SESSION_ACCESSED` (no data, no change); then this node's copy becomes primary.
//! * Receiving: `handleSESSION_CREATED` makes an empty session, `handleSESSION_DELTA` applies
//!   the delta to the session it finds and drops it when there is none (see [`super::copies`]).
//! * Every message goes to every member in the sender's view, with the cluster's
//!   `channelSendOptions` (default asynchronous); see [`super::channel`] for what that costs.
//! * A crashed member stays in the view until membership drops it ([`super::membership`]).
//! * A node that starts asks a running member for all sessions (`getAllClusterSessions`,
//!   `EVT_GET_ALL_SESSIONS`) and receives its copies (`EVT_ALL_SESSION_DATA`).

use super::ReadSeen;
use super::channel::{Channel, ChannelConfig};
use super::copies::{Copies, Msg};
use super::membership::{Departure, Membership};
use crate::engine::SimTime;
use crate::store::SessionId;
use std::collections::HashMap;

pub(crate) struct DeltaCluster {
    pub(crate) ch: Channel,
    pub(crate) copies: Copies,
    nodes: usize,
    alive: Vec<bool>,
    /// When the others drop a crashed member from their view (None: in the view).
    dropped_at: Vec<Option<SimTime>>,
    membership: Membership,
    /// The node whose copy is primary (served the last request).
    primary: HashMap<SessionId, u32>,
    /// Messages sent, and those sent to a dead member still in the view.
    pub(crate) msgs: u64,
    pub(crate) dead_sends: u64,
    /// Sends (one serialisation each, to all destinations).
    pub(crate) sends: u64,
}

impl DeltaCluster {
    pub(crate) fn new(cfg: ChannelConfig, membership: Membership, nodes: usize, seed: u64) -> Self {
        DeltaCluster {
            ch: Channel::new(cfg, nodes, seed),
            copies: Copies::new(nodes),
            nodes,
            alive: vec![true; nodes],
            dropped_at: vec![None; nodes],
            membership,
            primary: HashMap::new(),
            msgs: 0,
            dead_sends: 0,
            sends: 0,
        }
    }

    /// Applies what has been processed by `now`.
    pub(crate) fn advance(&mut self, now: SimTime) {
        self.copies.advance(now);
        self.ch.prune(now);
    }

    /// Whether member `m` is in the others' view at `now`.
    fn in_view(&self, m: usize, now: SimTime) -> bool {
        self.dropped_at[m].is_none_or(|t| now < t)
    }

    fn broadcast(&mut self, from: u32, sid: SessionId, msg: Msg, now: SimTime) -> SimTime {
        let to: Vec<u32> = (0..self.nodes)
            .filter(|&m| m != from as usize && self.in_view(m, now))
            .map(|m| m as u32)
            .collect();
        let sent = self.ch.send(&to, &self.alive, now);
        self.msgs += to.len() as u64;
        self.sends += 1;
        self.dead_sends += to.iter().filter(|&&m| !self.alive[m as usize]).count() as u64;
        for (r, at) in sent.applied {
            self.copies.deliver(r, sid, msg, at);
        }
        sent.resume
    }

    #[cfg(test)]
    /// A login on `node` creates `sid` and writes it: when the request may go on.
    pub fn create(&mut self, sid: SessionId, node: u32, now: SimTime) -> SimTime {
        let t = self.create_session(sid, node, now);
        self.login_delta(sid, node, t)
    }

    /// The creation: `EVT_SESSION_CREATED` to every member. When the sender may go on.
    pub(crate) fn create_session(&mut self, sid: SessionId, node: u32, now: SimTime) -> SimTime {
        self.advance(now);
        self.copies.create_local(node, sid);
        self.primary.insert(sid, node);
        self.broadcast(node, sid, Msg::Created, now)
    }

    /// The end of the login request: its delta (what the login wrote) to every member.
    pub(crate) fn login_delta(&mut self, sid: SessionId, node: u32, now: SimTime) -> SimTime {
        self.advance(now);
        if !self.copies.has(node, sid) {
            return now;
        }
        self.copies.change_local(node, sid);
        self.broadcast(node, sid, Msg::Delta, now)
    }

    /// A request on `node` changed `sid` (`modified`) or only accessed it.
    pub(crate) fn complete(&mut self, sid: SessionId, node: u32, modified: bool, now: SimTime) -> SimTime {
        self.advance(now);
        if !self.copies.has(node, sid) {
            return now;
        }
        let was = self.primary.insert(sid, node);
        if modified {
            self.copies.change_local(node, sid);
            self.broadcast(node, sid, Msg::Delta, now)
        } else if was != Some(node) {
            // EVT_SESSION_ACCESSED: a message, no change to any copy.
            let to: Vec<u32> = (0..self.nodes)
                .filter(|&m| m != node as usize && self.in_view(m, now))
                .map(|m| m as u32)
                .collect();
            let sent = self.ch.send(&to, &self.alive, now);
            self.msgs += to.len() as u64;
            self.sends += 1;
            sent.resume
        } else {
            now
        }
    }

    /// What a read of `sid` on `node` sees at `now`.
    pub(crate) fn read(&mut self, sid: SessionId, node: u32, now: SimTime) -> ReadSeen {
        self.advance(now);
        self.copies.read(node, sid)
    }

    /// Node `node` crashed (or stopped, `how`) at `now`: its copies are gone, and the others
    /// drop it from their view when membership tells them.
    pub(crate) fn leave(&mut self, node: usize, how: Departure, now: SimTime) {
        self.advance(now);
        self.alive[node] = false;
        self.copies.drop_node(node);
        self.dropped_at[node] = Some(self.membership.dropped_at(how, now));
    }

    #[cfg(test)]
    /// Node `node` crashed at `now`.
    pub fn crash(&mut self, node: usize, now: SimTime) {
        self.leave(node, Departure::Crash, now);
    }

    /// Node `node` starts at `now`: it joins the view and copies a running member's sessions.
    /// Returns the number of sessions transferred.
    pub(crate) fn restart(&mut self, node: usize, now: SimTime) -> u64 {
        self.advance(now);
        self.alive[node] = true;
        self.dropped_at[node] = None;
        self.ch.restart(node, now);
        match (0..self.nodes).find(|&m| m != node && self.alive[m]) {
            Some(from) => {
                self.copies.transfer(node, from);
                self.copies.len(node)
            }
            None => 0,
        }
    }

    pub(crate) fn forget(&mut self, sid: SessionId) {
        self.copies.forget(sid);
        self.primary.remove(&sid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tomcat::channel::SendMode;
    use crate::store::tomcat::channel::tests::cfg;

    const MS: fn(u64) -> SimTime = SimTime::from_millis;

    #[test]
    fn async_reads_right_after_the_login_are_missing_then_stale_then_fresh() {
        // 2 nodes, async, 1 ms serialise, 4 ms round trip, 2 ms processing, 1 receiver
        // thread, no jitter. Login on node 0 at 0: the creation leaves at 1 ms, arrives at
        // 3 ms, is processed by 5 ms; the delta leaves at 2 ms, arrives at 4 ms, waits for the
        // thread until 5 ms, is processed by 7 ms. The login returns at 2 ms.
        let mut d = DeltaCluster::new(cfg(SendMode::Async), Membership::MULTICAST, 2, 1);
        assert_eq!(d.create(1, 0, SimTime::ZERO), MS(2));
        assert_eq!(d.read(1, 1, MS(4)), ReadSeen::Missing);
        assert_eq!(d.read(1, 1, MS(6)), ReadSeen::Stale);
        assert_eq!(d.read(1, 1, MS(7)), ReadSeen::Fresh);
        assert_eq!(d.read(1, 0, MS(0)), ReadSeen::Fresh, "the login's own node");
        assert_eq!(d.msgs, 2);
    }

    #[test]
    fn sync_mode_has_no_stale_reads() {
        // Sync, 4 nodes, 2 ms jitter: every request returns only after every member applied
        // its messages, so the user's next request (sent when the response arrived) finds a
        // fresh copy on whichever node serves it. 300 sessions, each created and then changed
        // twice on rotating nodes.
        let mut c = cfg(SendMode::Sync);
        c.jitter = MS(2);
        let mut d = DeltaCluster::new(c, Membership::MULTICAST, 4, 9);
        let mut seen = Vec::new();
        for sid in 0..300u64 {
            let mut t = SimTime::from_secs(sid);
            let mut node = (sid % 4) as u32;
            t = d.create(sid, node, t);
            for _ in 0..2 {
                node = (node + 1) % 4;
                seen.push(d.read(sid, node, t));
                t = d.complete(sid, node, true, t);
            }
            seen.push(d.read(sid, (node + 1) % 4, t));
        }
        assert_eq!(seen.len(), 900);
        assert!(seen.iter().all(|&s| s == ReadSeen::Fresh));
        assert_eq!(d.copies.dropped_deltas, 0);
    }

    #[test]
    fn async_with_jitter_drops_the_login_delta_on_half_the_copies() {
        // Creation and login delta leave together (no serialise time, no round trip) with a
        // uniform [0, 10 ms) delay each per receiver and no receiver queueing: on each of the
        // 3 other nodes the delta comes first with probability 1/2, and that copy is partial
        // for good. 1000 sessions x 3 copies: 0.5 +- 0.04 (sd = sqrt(0.25 / 3000) = 0.009).
        let mut c = cfg(SendMode::Async);
        c.send_cpu = SimTime::ZERO;
        c.rtt = SimTime::ZERO;
        c.jitter = MS(10);
        c.receiver_threads = 1000;
        let mut d = DeltaCluster::new(c, Membership::MULTICAST, 4, 5);
        for sid in 0..1000u64 {
            d.create(sid, 0, SimTime::from_secs(sid));
        }
        let end = SimTime::from_secs(2000);
        let mut partial = 0;
        for sid in 0..1000u64 {
            for n in 1..4 {
                match d.read(sid, n, end) {
                    ReadSeen::Partial => partial += 1,
                    s => assert_eq!(s, ReadSeen::Fresh),
                }
            }
        }
        assert_eq!(partial as u64, d.copies.dropped_deltas);
        let f = partial as f64 / 3000.0;
        assert!((f - 0.5).abs() < 0.04, "partial fraction {f}");
    }

    #[test]
    fn sends_go_to_the_dead_member_until_membership_drops_it() {
        // 3 nodes, sync, multicast membership; node 2 crashes at 1.2 s and is dropped at
        // 4.5 s (see membership.rs). A change on node 0 at 2 s waits 1 ms + the 3 s sender
        // timeout for node 2's ack; at 5 s only node 1 is sent to: 1 + 2 + 2 + 2 = 7 ms.
        let mut d = DeltaCluster::new(cfg(SendMode::Sync), Membership::MULTICAST, 3, 1);
        d.create(1, 0, SimTime::ZERO);
        d.crash(2, MS(1200));
        let sent = d.msgs;
        assert_eq!(d.complete(1, 0, true, SimTime::from_secs(2)), MS(5001));
        assert_eq!((d.msgs - sent, d.dead_sends), (2, 1));
        assert_eq!(d.complete(1, 0, true, SimTime::from_secs(5)), MS(5007));
        assert_eq!((d.msgs - sent, d.dead_sends), (3, 1));
        // Node 2 restarts and copies node 0's sessions: fresh there.
        assert_eq!(d.restart(2, SimTime::from_secs(6)), 1);
        assert_eq!(d.read(1, 2, SimTime::from_secs(6)), ReadSeen::Fresh);
    }

    #[test]
    fn a_cleanly_stopped_member_is_not_sent_to() {
        // As above, but node 2 is stopped (drained, then shut down) at 1.2 s: it announced
        // the stop, so the change at 2 s goes to node 1 only: 1 ms serialise + 2 ms there
        // + 2 ms processing + 2 ms back = 7 ms, and nothing waits for the 3 s timeout.
        let mut d = DeltaCluster::new(cfg(SendMode::Sync), Membership::MULTICAST, 3, 1);
        d.create(1, 0, SimTime::ZERO);
        d.leave(2, Departure::Stop, MS(1200));
        let sent = d.msgs;
        assert_eq!(d.complete(1, 0, true, SimTime::from_secs(2)), MS(2007));
        assert_eq!((d.msgs - sent, d.dead_sends), (1, 0));
    }
}
