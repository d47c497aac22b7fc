//! Each node's own copy of each session, and the messages on their way to it.
//!
//! A node's copy knows how many of the session's changes it has applied. A change is made on
//! the node that serves a request (its own copy has it at once) and reaches the other copies
//! as messages, applied when the receiving node has processed them (see [`super::channel`]).
//! What a copy lacks decides what a read there sees ([`ReadSeen`]):
//!
//! * a change still on its way: the read is **stale** (it will catch up);
//! * a change that was dropped: the read is **partial**. DeltaManager drops a delta for a
//!   session it does not know (`ha/session/DeltaManager.java`, `handleSESSION_DELTA`:
//!   `findSession` returns null, the message is only logged,
//!   `deltaManager.receiveMessage.delta.unknown`). The session-created message carries no data
//!   (`sendCreateSession` sends `EVT_SESSION_CREATED` with a null payload; `handleSESSION_CREATED`
//!   makes an empty session), so a copy whose login delta arrived before its creation lacks
//!   what the login wrote (the user id) for good: later deltas carry only later changes
//!   (`DeltaSession.getDiff`). Only a full transfer (a node's start-up state transfer,
//!   `EVT_GET_ALL_SESSIONS` / `EVT_ALL_SESSION_DATA`) replaces the copy;
//! * no copy at all: **missing**.

use super::ReadSeen;
use crate::engine::SimTime;
use crate::store::SessionId;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// A message that changes a copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Msg {
    /// `EVT_SESSION_CREATED`: an empty session with this id.
    Created,
    /// `EVT_SESSION_DELTA`: one change.
    Delta,
    /// A full copy of the session (BackupManager's `MSG_BACKUP`, a state transfer).
    // Applied below but sent by no one yet (the state transfer copies whole maps with
    // `transfer`); it was hidden from dead-code analysis while `Msg` was public.
    #[allow(dead_code)]
    Full,
}

/// One node's copy of one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Copy {
    /// Changes applied.
    pub(crate) applied: u32,
    /// Changes dropped because they arrived before the copy existed.
    pub(crate) dropped: u32,
}

type Pending = Reverse<(SimTime, u64, u32, u32, SessionId, Msg)>;

/// The copies of every node.
#[derive(Debug, Default)]
pub(crate) struct Copies {
    nodes: Vec<HashMap<SessionId, Copy>>,
    /// Deltas dropped by a node before its copy was created.
    orphans: HashMap<(u32, SessionId), u32>,
    /// Changes made to each session so far (on any node).
    changes: HashMap<SessionId, u32>,
    pending: BinaryHeap<Pending>,
    epoch: Vec<u32>,
    seq: u64,
    /// Deltas dropped so far (for the tests and the report).
    pub(crate) dropped_deltas: u64,
}

impl Copies {
    pub(crate) fn new(nodes: usize) -> Self {
        Copies {
            nodes: vec![HashMap::new(); nodes],
            epoch: vec![0; nodes],
            ..Copies::default()
        }
    }

    /// Node `node` has processed `msg` for `sid` at `at` (applied when time reaches it).
    pub(crate) fn deliver(&mut self, node: u32, sid: SessionId, msg: Msg, at: SimTime) {
        let e = self.epoch[node as usize];
        self.pending.push(Reverse((at, self.seq, node, e, sid, msg)));
        self.seq += 1;
    }

    /// Applies every message processed by `now`, in time order (ties in send order).
    pub(crate) fn advance(&mut self, now: SimTime) {
        while let Some(&Reverse((at, _, node, epoch, sid, msg))) = self.pending.peek() {
            if at > now {
                break;
            }
            self.pending.pop();
            if epoch == self.epoch[node as usize] {
                self.apply(node, sid, msg);
            }
        }
    }

    fn apply(&mut self, node: u32, sid: SessionId, msg: Msg) {
        let map = &mut self.nodes[node as usize];
        match msg {
            Msg::Created => {
                if let std::collections::hash_map::Entry::Vacant(v) = map.entry(sid) {
                    let dropped = self.orphans.remove(&(node, sid)).unwrap_or(0);
                    v.insert(Copy { applied: 0, dropped });
                }
            }
            Msg::Delta => match map.get_mut(&sid) {
                Some(c) => c.applied += 1,
                None => {
                    *self.orphans.entry((node, sid)).or_insert(0) += 1;
                    self.dropped_deltas += 1;
                }
            },
            Msg::Full => {
                // A full copy holds every change made so far.
                let all = self.changes.get(&sid).copied().unwrap_or(0);
                let c = map.entry(sid).or_default();
                c.applied = c.applied.max(all);
                c.dropped = 0;
            }
        }
    }

    /// The serving node creates the session: its own copy exists at once.
    pub(crate) fn create_local(&mut self, node: u32, sid: SessionId) {
        self.nodes[node as usize].insert(sid, Copy::default());
        self.changes.entry(sid).or_insert(0);
    }

    /// The serving node changes the session: its own copy has the change at once.
    pub(crate) fn change_local(&mut self, node: u32, sid: SessionId) {
        *self.changes.entry(sid).or_insert(0) += 1;
        if let Some(c) = self.nodes[node as usize].get_mut(&sid) {
            c.applied += 1;
        }
    }

    /// What a read of `sid` on `node` sees.
    pub(crate) fn read(&self, node: u32, sid: SessionId) -> ReadSeen {
        let Some(c) = self.nodes[node as usize].get(&sid) else {
            return ReadSeen::Missing;
        };
        if c.dropped > 0 {
            return ReadSeen::Partial;
        }
        let all = self.changes.get(&sid).copied().unwrap_or(0);
        if c.applied + c.dropped < all {
            ReadSeen::Stale
        } else {
            ReadSeen::Fresh
        }
    }

    /// Sessions with a message still on its way to a node in `running`.
    pub(crate) fn pending_to(&self, running: &[bool]) -> std::collections::HashSet<SessionId> {
        self.pending
            .iter()
            .filter(|Reverse((_, _, n, e, _, _))| running[*n as usize] && *e == self.epoch[*n as usize])
            .map(|Reverse((_, _, _, _, sid, _))| *sid)
            .collect()
    }

    pub(crate) fn has(&self, node: u32, sid: SessionId) -> bool {
        self.nodes[node as usize].contains_key(&sid)
    }

    pub(crate) fn len(&self, node: usize) -> u64 {
        self.nodes[node].len() as u64
    }

    #[cfg(test)]
    pub fn is_empty(&self, node: usize) -> bool {
        self.nodes[node].is_empty()
    }

    /// Node `node` crashed: its copies are gone and messages still on their way to it are
    /// never applied.
    pub(crate) fn drop_node(&mut self, node: usize) {
        self.nodes[node].clear();
        self.orphans.retain(|&(n, _), _| n as usize != node);
        self.epoch[node] += 1;
    }

    /// Node `to` starts and receives every copy of node `from` (state transfer: the sender's
    /// copies as they are, partial ones included).
    pub(crate) fn transfer(&mut self, to: usize, from: usize) {
        self.nodes[to] = self.nodes[from].clone();
    }

    /// The session expired or was invalidated everywhere.
    pub(crate) fn forget(&mut self, sid: SessionId) {
        for m in &mut self.nodes {
            m.remove(&sid);
        }
        self.changes.remove(&sid);
        for n in 0..self.nodes.len() as u32 {
            self.orphans.remove(&(n, sid));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_before_its_create_is_dropped_until_a_full_transfer() {
        // Node 0 creates session 7 and writes the user id (one change). Node 1 processes the
        // delta at 2 ms and the creation at 3 ms: the delta finds no session and is dropped;
        // the creation makes an empty copy that lacks the user id: partial. Node 2 gets them in
        // order: fresh.
        let ms = SimTime::from_millis;
        let mut c = Copies::new(3);
        c.create_local(0, 7);
        c.change_local(0, 7);
        c.deliver(1, 7, Msg::Delta, ms(2));
        c.deliver(1, 7, Msg::Created, ms(3));
        c.deliver(2, 7, Msg::Created, ms(2));
        c.deliver(2, 7, Msg::Delta, ms(3));
        c.advance(ms(1));
        assert_eq!((c.read(1, 7), c.read(2, 7)), (ReadSeen::Missing, ReadSeen::Missing));
        c.advance(ms(2));
        // Node 2 has the empty session but not yet the delta: stale.
        assert_eq!((c.read(1, 7), c.read(2, 7)), (ReadSeen::Missing, ReadSeen::Stale));
        c.advance(ms(3));
        assert_eq!((c.read(1, 7), c.read(2, 7)), (ReadSeen::Partial, ReadSeen::Fresh));
        assert_eq!(c.dropped_deltas, 1);
        // A later change reaches node 1: still partial (the delta carries only the new change).
        c.change_local(0, 7);
        c.deliver(1, 7, Msg::Delta, ms(10));
        c.advance(ms(10));
        assert_eq!(c.read(1, 7), ReadSeen::Partial);
        // Node 1 restarts and receives node 0's copies: fresh.
        c.drop_node(1);
        c.transfer(1, 0);
        assert_eq!(c.read(1, 7), ReadSeen::Fresh);
    }

    #[test]
    fn messages_to_a_crashed_node_are_not_applied_after_its_restart() {
        let ms = SimTime::from_millis;
        let mut c = Copies::new(2);
        c.create_local(0, 1);
        c.deliver(1, 1, Msg::Created, ms(5));
        c.drop_node(1);
        c.advance(ms(10));
        assert_eq!(c.read(1, 1), ReadSeen::Missing);
        assert!(c.is_empty(1));
    }
}
