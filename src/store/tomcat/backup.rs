//! `BackupManager` (`ha/session/BackupManager.java`) over `LazyReplicatedMap`
//! (`tribes/tipis/LazyReplicatedMap.java`, `AbstractReplicatedMap.java`), checked against the
//! source.
//!
//! * **Placement** (`LazyReplicatedMap.publishEntryInfo`): the node that puts a session asks
//!   its map for `getNextBackupIndex()`: a per-map counter (`currentNode`) over the map's
//!   current members, the local node excluded (`getMapMembers()`), that wraps to 0 (and the
//!   counter to 1) once it reaches the member count. So each node rotates its *own* new sessions
//!   over the others, independently of the other nodes, and a change of membership shifts the
//!   rotation. `mapMembers` is a `HashMap` keyed by `Member`; the model orders the members by
//!   node index. It sends `MSG_BACKUP` with the session to that one member, then `MSG_PROXY`
//!   (no data) to every other member, both with `mapSendOptions` (default
//!   `SYNCHRONIZED_ACK | USE_ACK`: the sender waits for each). A failed backup send
//!   (`ChannelException`: a dead member still in the view, after the sender timeout) moves on
//!   to the next member.
//! * **Replication** (`BackupManager.requestCompleted` -> `AbstractReplicatedMap.replicate`):
//!   at the end of a request that made the session dirty, the primary sends `MSG_BACKUP` to its
//!   backup node.
//! * **Access elsewhere** (`AbstractReplicatedMap.get`): on the backup node, the entry becomes
//!   primary and `publishEntryInfo` picks a new backup by that node's counter. On a node that
//!   holds a proxy entry, an RPC `MSG_RETRIEVE_BACKUP` goes to the entry's *backup* node (not to
//!   the primary; `RpcChannel.FIRST_REPLY`, `rpcTimeout` default 15 s,
//!   `BackupManager.DEFAULT_REPL_TIMEOUT`); then `MSG_NOTIFY_MAPMEMBER` to the backup and
//!   `MSG_PROXY` to the others: this node is primary, the backup stays, the old primary keeps
//!   a proxy. The node asks the backup *its proxy entry names*: after a publish, the proxies
//!   learn the new backup only when its `MSG_PROXY` reaches them, so during a re-backup walk
//!   they still ask the old one. A backup that left the view fails the send at once; a crashed
//!   one still in the view fails it after the sender's `timeout` (3 s), and `RpcChannel.send`
//!   throws that `ChannelException` through to `get` (the 15 s `rpcTimeout`,
//!   `BackupManager.DEFAULT_REPL_TIMEOUT`, is the wait for a reply to a message that was
//!   sent); a live member without the entry answers null. In each case `get` returns null:
//!   the session is not found.
//! * **A member disappears** (`AbstractReplicatedMap.memberDisappeared`), once membership drops
//!   it ([`super::membership`]): each survivor walks its entries one by one; an entry it is
//!   primary for whose backup was the member gets a new backup (`publishEntryInfo`), an entry it
//!   is backup for whose primary was the member becomes primary here and gets a new backup. Each
//!   publish is synchronous, so one survivor's re-backup takes the sum of its publishes; the
//!   code measures it from before the walk to after it (`abstractReplicatedMap.relocate.complete`
//!   logs `System.currentTimeMillis() - start`), and [`BackupCluster::rebackups`] records the
//!   same span per survivor. Survivors walk in parallel (each its own membership thread).
//!
//! A session is lost when every node holding its data has crashed: primary and backup, where a
//! backup holds the data only once its `MSG_BACKUP` has been processed.

use super::channel::{Channel, ChannelConfig};
use super::membership::{Departure, Membership};
use crate::engine::SimTime;
use crate::store::SessionId;
use std::collections::BTreeMap;

/// Who holds one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The primary node (None: it crashed and no survivor has taken over yet).
    pub(crate) primary: Option<u32>,
    pub(crate) backup: Option<u32>,
    /// When the backup has processed the data (it holds nothing before).
    pub(crate) backup_from: SimTime,
    /// When the backup has processed the latest change.
    pub(crate) synced_at: SimTime,
    /// The backup that the proxy entries on the other nodes name until `proxies_from`, when
    /// the `MSG_PROXY` of the latest publish has reached them (None: before the first publish
    /// reaches them they hold no entry at all).
    pub(crate) proxy_backup: Option<u32>,
    pub(crate) proxies_from: SimTime,
}

impl Entry {
    /// The backup that a proxy entry names at `now`: who a fetch from a third node asks.
    fn asked_by_proxy(&self, now: SimTime) -> Option<u32> {
        if now < self.proxies_from {
            self.proxy_backup
        } else {
            self.backup
        }
    }

    /// Whether node `m` holds the data at `now`.
    fn held_on(&self, m: u32, now: SimTime) -> bool {
        self.primary == Some(m) || (self.backup == Some(m) && self.backup_from <= now)
    }
}

/// What an access found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// The node is primary: read locally.
    Local,
    /// The node was backup and took the session over.
    TookOver,
    /// As `TookOver`, but the backup had not yet processed the latest change (an asynchronous
    /// `mapSendOptions`): a stale read.
    TookOverStale,
    /// The node fetched the session from the backup by RPC.
    Fetched,
    /// Not found (no entry, or no reply from the backup).
    Missing,
}

/// One survivor's re-backup after a member disappeared: from the membership event to the end
/// of the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rebackup {
    pub(crate) node: u32,
    pub(crate) start: SimTime,
    pub(crate) end: SimTime,
    /// Entries it re-published.
    pub(crate) entries: u32,
}

pub(crate) struct BackupCluster {
    pub(crate) ch: Channel,
    nodes: usize,
    alive: Vec<bool>,
    dropped_at: Vec<Option<SimTime>>,
    /// Membership drops still to process (time, member), in time order.
    detections: Vec<(SimTime, u32)>,
    membership: Membership,
    /// `AbstractReplicatedMap.currentNode` of each node's map.
    counter: Vec<usize>,
    pub(crate) entries: BTreeMap<SessionId, Entry>,
    pub(crate) rebackups: Vec<Rebackup>,
    /// Sessions lost to crashes, in the order lost.
    pub(crate) lost: Vec<SessionId>,
    pub(crate) msgs: u64,
}

impl BackupCluster {
    pub(crate) fn new(cfg: ChannelConfig, membership: Membership, nodes: usize, seed: u64) -> Self {
        BackupCluster {
            ch: Channel::new(cfg, nodes, seed),
            nodes,
            alive: vec![true; nodes],
            dropped_at: vec![None; nodes],
            detections: Vec::new(),
            membership,
            counter: vec![0; nodes],
            entries: BTreeMap::new(),
            rebackups: Vec::new(),
            lost: Vec::new(),
            msgs: 0,
        }
    }

    fn in_view(&self, m: usize, now: SimTime) -> bool {
        self.dropped_at[m].is_none_or(|t| now < t)
    }

    /// `getMapMembers()` of node `n`'s map at `now`.
    fn members(&self, n: u32, now: SimTime) -> Vec<u32> {
        (0..self.nodes)
            .filter(|&m| m != n as usize && self.in_view(m, now))
            .map(|m| m as u32)
            .collect()
    }

    /// `getNextBackupIndex()`.
    fn next_index(&mut self, n: u32, size: usize) -> Option<usize> {
        if size == 0 {
            return None;
        }
        let c = &mut self.counter[n as usize];
        let mut node = *c;
        *c += 1;
        if node >= size {
            node = 0;
            *c = 1;
        }
        Some(node)
    }

    fn send(&mut self, to: &[u32], now: SimTime) -> (SimTime, Vec<(u32, SimTime)>) {
        self.msgs += to.len() as u64;
        let s = self.ch.send(to, &self.alive, now);
        (s.resume, s.applied)
    }

    /// `publishEntryInfo` from node `n` at `now`: the backup chosen, when it holds the data,
    /// and when the publishing thread goes on.
    fn publish(&mut self, n: u32, now: SimTime) -> (Option<u32>, SimTime, SimTime) {
        let members = self.members(n, now);
        let Some(first) = self.next_index(n, members.len()) else {
            return (None, SimTime::MAX, now);
        };
        let mut idx = first;
        let mut t = now;
        loop {
            let next = members[idx];
            idx = (idx + 1) % members.len();
            let (resume, applied) = self.send(&[next], t);
            t = resume;
            if let Some(&(_, at)) = applied.first() {
                let proxies: Vec<u32> = members.iter().copied().filter(|&m| m != next).collect();
                if !proxies.is_empty() {
                    t = self.send(&proxies, t).0;
                }
                return (Some(next), at, t);
            }
            if idx == first {
                return (None, SimTime::MAX, t);
            }
        }
    }

    /// Processes the membership drops due by `now`.
    pub(crate) fn advance(&mut self, now: SimTime) {
        while let Some(&(at, dead)) = self.detections.first() {
            if at > now {
                break;
            }
            self.detections.remove(0);
            self.member_disappeared(dead, at);
        }
        self.ch.prune(now);
    }

    /// `memberDisappeared` on every survivor at `at`, walks interleaved in time order.
    fn member_disappeared(&mut self, dead: u32, at: SimTime) {
        let survivors: Vec<u32> = (0..self.nodes as u32).filter(|&s| self.alive[s as usize]).collect();
        // Each survivor's work list, in its map's (key) order.
        let mut work: Vec<(u32, SimTime, Vec<SessionId>, u32)> = survivors
            .iter()
            .map(|&s| {
                let list = self
                    .entries
                    .iter()
                    .filter(|(_, e)| {
                        (e.primary == Some(s) && e.backup == Some(dead)) || (e.primary.is_none() && e.backup == Some(s))
                    })
                    .map(|(&k, _)| k)
                    .collect();
                (s, at, list, 0)
            })
            .collect();
        while let Some(i) = (0..work.len())
            .filter(|&i| !work[i].2.is_empty())
            .min_by_key(|&i| (work[i].1, i))
        {
            let (s, t) = (work[i].0, work[i].1);
            let sid = work[i].2.remove(0);
            let (b, from, end) = self.publish(s, t);
            if let Some(e) = self.entries.get_mut(&sid) {
                // Until this publish's MSG_PROXY reaches them, the proxies still name the old
                // backup: the member that left (case [1]) or this node (case [4]).
                e.proxy_backup = e.backup;
                e.proxies_from = end;
                e.primary = Some(s);
                e.backup = b;
                e.backup_from = from;
                e.synced_at = from;
            }
            work[i].1 = end;
            work[i].3 += 1;
        }
        for (s, end, _, n) in work {
            self.rebackups.push(Rebackup {
                node: s,
                start: at,
                end,
                entries: n,
            });
        }
    }

    /// A login on `node` puts the session (publish) and, at the end of the request, replicates
    /// it to its backup: when the request may go on.
    pub(crate) fn create(&mut self, sid: SessionId, node: u32, now: SimTime) -> SimTime {
        self.advance(now);
        let (backup, from, t) = self.publish(node, now);
        self.entries.insert(
            sid,
            Entry {
                primary: Some(node),
                backup,
                backup_from: from,
                synced_at: from,
                proxy_backup: None,
                proxies_from: t,
            },
        );
        self.replicate(sid, t)
    }

    /// `replicate`: `MSG_BACKUP` from the primary to its backup.
    fn replicate(&mut self, sid: SessionId, now: SimTime) -> SimTime {
        match self.entries.get(&sid).and_then(|e| e.backup) {
            Some(b) => {
                let (t, applied) = self.send(&[b], now);
                if let (Some(&(_, at)), Some(e)) = (applied.first(), self.entries.get_mut(&sid)) {
                    e.synced_at = e.synced_at.max(at);
                }
                t
            }
            None => now,
        }
    }

    /// A request of `sid` starts on `node`: what it finds and when it may go on.
    pub(crate) fn access(&mut self, sid: SessionId, node: u32, now: SimTime) -> (Found, SimTime) {
        self.advance(now);
        let Some(e) = self.entries.get(&sid).copied() else {
            return (Found::Missing, now);
        };
        if e.primary == Some(node) {
            return (Found::Local, now);
        }
        // A node chosen as the backup holds the data once its MSG_BACKUP is processed; before
        // that it holds only what the proxies hold (or nothing), and goes on as a proxy.
        if e.backup == Some(node) && e.backup_from <= now {
            let stale = e.synced_at > now;
            let (b, from, t) = self.publish(node, now);
            self.entries.insert(
                sid,
                Entry {
                    primary: Some(node),
                    backup: b,
                    backup_from: from,
                    synced_at: from,
                    // The proxies named this node as the backup until its MSG_PROXY.
                    proxy_backup: Some(node),
                    proxies_from: t,
                },
            );
            return (if stale { Found::TookOverStale } else { Found::TookOver }, t);
        }
        // A proxy entry: ask the backup it names (which a publish under way may not have
        // updated yet).
        let Some(b) = e.asked_by_proxy(now) else {
            // No proxy entry here yet: nothing to ask.
            return (Found::Missing, now);
        };
        if !self.in_view(b as usize, now) {
            // A member that left the view: the RPC's send fails at once (the stopped node
            // refuses the connection; a dropped one is no longer a destination).
            return (Found::Missing, now);
        }
        if !self.alive[b as usize] {
            // A crashed member still in the view: the RPC's send waits for the Tribes
            // acknowledgement until the sender's timeout, and `RpcChannel.send` throws the
            // `ChannelException` to `get`, which returns null (it does not wait `rpcTimeout`).
            self.msgs += 1;
            return (Found::Missing, now + self.ch.cfg.sender_timeout);
        }
        if !e.held_on(b, now) {
            // The member has no entry yet: `replyRequest` answers null after one exchange.
            let (t, _) = self.send(&[b], now);
            return (Found::Missing, t);
        }
        let (mut t, _) = self.send(&[b], now);
        t = self.send(&[b], t).0;
        let others: Vec<u32> = self.members(node, t).into_iter().filter(|&m| m != b).collect();
        if !others.is_empty() {
            t = self.send(&others, t).0;
        }
        if let Some(e) = self.entries.get_mut(&sid) {
            e.primary = Some(node);
            if e.backup != Some(b) {
                // `get` keeps the backup its proxy entry named, which holds the data.
                e.backup = Some(b);
                e.backup_from = now;
                e.synced_at = now;
            }
        }
        (Found::Fetched, t)
    }

    /// A request on the primary changed the session: replicate it.
    pub(crate) fn changed(&mut self, sid: SessionId, node: u32, now: SimTime) -> SimTime {
        self.advance(now);
        match self.entries.get(&sid) {
            Some(e) if e.primary == Some(node) => self.replicate(sid, now),
            _ => now,
        }
    }

    #[cfg(test)]
    /// Node `node` crashed at `now`: what it held is gone.
    pub fn crash(&mut self, node: usize, now: SimTime) {
        self.leave(node, Departure::Crash, now);
    }

    /// Node `node` crashed or stopped (`how`) at `now`: what it held is gone, and the
    /// survivors run `memberDisappeared` when membership drops it (at once for a clean stop).
    pub(crate) fn leave(&mut self, node: usize, how: Departure, now: SimTime) {
        self.advance(now);
        self.alive[node] = false;
        let n = node as u32;
        let mut gone = Vec::new();
        for (&sid, e) in self.entries.iter_mut() {
            if e.primary == Some(n) {
                e.primary = None;
            }
            // A backup holds the data once its MSG_BACKUP has been processed, while it runs.
            let backup_holds = e.backup.is_some_and(|b| self.alive[b as usize]) && e.backup_from <= now;
            if e.primary.is_none() && !backup_holds {
                gone.push(sid);
            }
        }
        for sid in gone {
            self.entries.remove(&sid);
            self.lost.push(sid);
        }
        let at = self.membership.dropped_at(how, now);
        self.dropped_at[node] = Some(at);
        let pos = self.detections.partition_point(|&(t, _)| t <= at);
        self.detections.insert(pos, (at, n));
        self.advance(now);
    }

    /// Node `node` starts at `now`, empty, and joins the view.
    pub(crate) fn restart(&mut self, node: usize, now: SimTime) {
        self.advance(now);
        self.alive[node] = true;
        self.dropped_at[node] = None;
        self.detections.retain(|&(_, m)| m as usize != node);
        self.ch.restart(node, now);
    }

    /// Sessions whose data `node` holds (primary or backup).
    pub(crate) fn held_by(&self, node: usize) -> u64 {
        let n = Some(node as u32);
        if !self.alive[node] {
            return 0;
        }
        self.entries
            .values()
            .filter(|e| e.primary == n || e.backup == n)
            .count() as u64
    }

    pub(crate) fn forget(&mut self, sid: SessionId) {
        self.entries.remove(&sid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tomcat::channel::SendMode;
    use crate::store::tomcat::channel::tests::cfg;

    const MS: fn(u64) -> SimTime = SimTime::from_millis;

    /// 4 nodes, sync, 1 ms serialise, 4 ms round trip, 2 ms processing (one exchange: 7 ms),
    /// enough receiver threads that nothing queues. Sessions 0..12 created on node sid % 4 at
    /// sid seconds.
    fn cluster() -> BackupCluster {
        let mut c = cfg(SendMode::Sync);
        c.receiver_threads = 64;
        let mut b = BackupCluster::new(c, Membership::MULTICAST, 4, 1);
        for sid in 0..12u64 {
            b.create(sid, (sid % 4) as u32, SimTime::from_secs(sid));
        }
        b
    }

    fn pairs(b: &BackupCluster) -> Vec<(u64, u32, u32)> {
        b.entries
            .iter()
            .map(|(&k, e)| (k, e.primary.unwrap_or(99), e.backup.unwrap_or(99)))
            .collect()
    }

    #[test]
    fn each_node_rotates_its_own_sessions_over_the_others() {
        // Node 0's members are [1, 2, 3]: its sessions 0, 4, 8 go to 1, 2, 3. Node 1's are
        // [0, 2, 3]: 1, 5, 9 -> 0, 2, 3. Node 2: [0, 1, 3]. Node 3: [0, 1, 2].
        let b = cluster();
        let want = vec![
            (0, 0, 1),
            (1, 1, 0),
            (2, 2, 0),
            (3, 3, 0),
            (4, 0, 2),
            (5, 1, 2),
            (6, 2, 1),
            (7, 3, 1),
            (8, 0, 3),
            (9, 1, 3),
            (10, 2, 3),
            (11, 3, 2),
        ];
        assert_eq!(pairs(&b), want);
        // A login waits for MSG_BACKUP (7 ms), MSG_PROXY to the 2 others (7 ms) and the
        // end-of-request MSG_BACKUP (7 ms): 21 ms. 1 + 2 + 1 messages per login.
        let mut b = cluster();
        assert_eq!(b.create(99, 0, SimTime::from_secs(50)), SimTime::from_secs(50) + MS(21));
        assert_eq!(b.msgs, 13 * 4);
    }

    #[test]
    fn a_proxy_fetches_from_the_backup_and_the_backup_takes_over() {
        let mut b = cluster();
        let t = SimTime::from_secs(20);
        // Session 0 (primary 0, backup 1) on node 2: RPC to the backup (7 ms), notify the
        // backup (7 ms), proxy to the others but the backup (nodes 0, 3: 7 ms). Node 2 becomes
        // primary, node 1 stays backup.
        assert_eq!(b.access(0, 2, t), (Found::Fetched, t + MS(21)));
        assert_eq!(b.entries[&0].primary, Some(2));
        assert_eq!(b.entries[&0].backup, Some(1));
        // Session 4 (primary 0, backup 2) on node 2: takes over and publishes a new backup by
        // node 2's counter (it stood at 3 after three logins: wraps to index 0 = node 0):
        // MSG_BACKUP + MSG_PROXY = 14 ms.
        let t = SimTime::from_secs(30);
        assert_eq!(b.access(4, 2, t), (Found::TookOver, t + MS(14)));
        assert_eq!((b.entries[&4].primary, b.entries[&4].backup), (Some(2), Some(0)));
    }

    #[test]
    fn two_simultaneous_crashes_lose_exactly_the_doubly_placed_sessions() {
        // Nodes 0 and 1 crash together: lost are the sessions with primary and backup in
        // {0, 1}: sessions 0 (0, 1) and 1 (1, 0).
        let mut b = cluster();
        b.crash(0, SimTime::from_secs(100));
        b.crash(1, SimTime::from_secs(100));
        assert_eq!(b.lost, vec![0, 1]);
    }

    #[test]
    fn rebackup_after_the_first_crash_then_a_double_crash() {
        // Node 0 crashes at 100 s; multicast drops it at 103.5 s (membership.rs). Each survivor
        // re-publishes, in key order, the entries it is primary for with backup 0 and those it
        // backs up with primary 0, each publish a MSG_BACKUP + MSG_PROXY (14 ms; the view is
        // now 3 nodes, so one proxy), picking backups by its counter over its 2 members:
        //   node 1 (members [2, 3], counter 3 -> wraps to 0): 0 -> 2, 1 -> 3;
        //   node 2 ([1, 3]): 2 -> 1, 4 -> 3;  node 3 ([1, 2]): 3 -> 1, 8 -> 2.
        // Each survivor's walk: 2 entries x 14 ms = 28 ms, as relocate.complete would log.
        let mut b = cluster();
        b.crash(0, SimTime::from_secs(100));
        assert!(b.lost.is_empty());
        b.advance(SimTime::from_secs(104));
        let det = SimTime::from_millis(103_500);
        assert_eq!(
            b.rebackups,
            (1..4)
                .map(|n| Rebackup {
                    node: n,
                    start: det,
                    end: det + MS(28),
                    entries: 2
                })
                .collect::<Vec<_>>()
        );
        let want = vec![
            (0, 1, 2),
            (1, 1, 3),
            (2, 2, 1),
            (3, 3, 1),
            (4, 2, 3),
            (5, 1, 2),
            (6, 2, 1),
            (7, 3, 1),
            (8, 3, 2),
            (9, 1, 3),
            (10, 2, 3),
            (11, 3, 2),
        ];
        assert_eq!(pairs(&b), want);
        // Then nodes 1 and 2 crash together: lost are the sessions on exactly {1, 2}:
        // 0 (1, 2), 2 (2, 1), 5 (1, 2), 6 (2, 1).
        b.crash(1, SimTime::from_secs(200));
        b.crash(2, SimTime::from_secs(200));
        assert_eq!(b.lost, vec![0, 2, 5, 6]);
    }

    #[test]
    fn a_clean_stop_rebacks_up_at_once() {
        // The same walk as a crash of node 0 (above), but node 0 is stopped at 100 s and
        // announces it: memberDisappeared runs at 100 s, not at 103.5 s. Same pairs, each
        // survivor's walk 28 ms from 100 s; no session is lost.
        let mut b = cluster();
        let at = SimTime::from_secs(100);
        b.leave(0, Departure::Stop, at);
        assert!(b.lost.is_empty());
        assert_eq!(
            b.rebackups,
            (1..4)
                .map(|n| Rebackup {
                    node: n,
                    start: at,
                    end: at + MS(28),
                    entries: 2
                })
                .collect::<Vec<_>>()
        );
        assert_eq!(b.entries[&0].primary, Some(1));
        assert_eq!(b.entries[&0].backup, Some(2));
        // A request for session 4 (primary 2, backup 3 after the walk) on node 3 at 100.1 s:
        // the backup takes it over and publishes to its two members [1, 2] only, MSG_BACKUP
        // then MSG_PROXY, 7 ms each: done at 100.114 s. (With node 0 still in the view, as
        // after a crash before 103.5 s, a send to it would wait the sender timeout.)
        let (found, t) = b.access(4, 3, MS(100_100));
        assert_eq!(found, Found::TookOver);
        assert_eq!(t, MS(100_114));
    }

    #[test]
    fn during_the_walk_a_proxy_asks_the_backup_it_knows() {
        // Node 0 stops at 100 s. Node 1's walk (see the crash test above): session 0 (primary
        // was 0, backup 1: node 1 becomes primary, new backup 2) published 100.000-100.014 s,
        // its MSG_PROXY done at 100.014 s; session 1 (primary 1, backup was 0: new backup 3)
        // published 100.014-100.028 s, node 3 holding the data at 100.019 s.
        let mut b = cluster();
        b.leave(0, Departure::Stop, SimTime::from_secs(100));
        // Session 0 on node 3 at 100.005 s: its proxy still names node 1 as the backup, and
        // node 1 holds the data (it is primary now): fetched, 3 exchanges of 7 ms (RPC, notify
        // the backup, MSG_PROXY to node 2): 100.026 s.
        assert_eq!(b.access(0, 3, MS(100_005)), (Found::Fetched, MS(100_026)));
        // Session 1 on node 2 at 100.010 s: its proxy still names node 0, which left: the
        // RPC fails at once and the session is not found (as in Tomcat until the MSG_PROXY).
        assert_eq!(b.access(1, 2, MS(100_010)), (Found::Missing, MS(100_010)));
        // At 100.030 s the proxy names node 3, which holds the data: fetched by 100.051 s.
        assert_eq!(b.access(1, 2, MS(100_030)), (Found::Fetched, MS(100_051)));
    }

    #[test]
    fn a_backup_whose_data_has_not_arrived_acts_as_a_proxy() {
        // As above: session 0's new backup is node 2, which processes the MSG_BACKUP at
        // 100.005 s. A request on node 2 at 100.003 s finds only its proxy entry, naming node
        // 1 (which holds the data): fetched, 3 exchanges of 7 ms: 100.024 s. Node 2 is then
        // primary and, as `get` does, keeps the backup its proxy named: node 1.
        let mut b = cluster();
        b.leave(0, Departure::Stop, SimTime::from_secs(100));
        assert_eq!(b.entries[&0].backup, Some(2));
        assert_eq!(b.access(0, 2, MS(100_003)), (Found::Fetched, MS(100_024)));
        assert_eq!((b.entries[&0].primary, b.entries[&0].backup), (Some(2), Some(1)));
    }

    #[test]
    fn a_fetch_from_a_crashed_backup_waits_the_sender_timeout() {
        // Node 1 crashes at 20 s (dropped at 23.5 s). Session 0 (primary 0, backup 1) asked
        // for on node 2 at 21 s: the RPC to node 1 fails after the 3 s sender timeout of
        // `cfg` (channel.rs tests), not after the 15 s rpcTimeout.
        let mut b = cluster();
        b.crash(1, SimTime::from_secs(20));
        let timeout = b.ch.cfg.sender_timeout;
        assert_eq!(timeout, SimTime::from_secs(3));
        assert_eq!(
            b.access(0, 2, SimTime::from_secs(21)),
            (Found::Missing, SimTime::from_secs(24))
        );
    }

    #[test]
    fn a_crash_during_the_rebackup_loses_what_is_not_yet_backed_up() {
        // As above, node 1 re-publishes session 0 from 103.500 s (its new backup, node 2, has
        // processed the data at 103.505 s: 1 + 2 + 2 ms) then session 1 from 103.514 s (node 3
        // holds it at 103.519 s). Node 1 crashing at 103.517 s loses session 1 (its only copy
        // was node 1) and not session 0. Session 5 (1, 2) keeps its backup on node 2.
        let mut b = cluster();
        b.crash(0, SimTime::from_secs(100));
        b.crash(1, MS(103_517));
        assert_eq!(b.lost, vec![1]);
        assert_eq!(b.entries[&0].backup, Some(2));
    }
}
