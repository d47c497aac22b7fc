//! `replicated_all`: Tomcat's DeltaManager (apache/tomcat `ha/session/DeltaManager.java`),
//! over per-node copies ([`super::tomcat::delta`]). Every node holds its own copy of every
//! session it has heard of; a login sends `EVT_SESSION_CREATED` then the login's delta to every
//! other member, and each request that changed the session sends one delta to every other
//! member (N - 1 messages, `message_overhead` + session bytes each; the creation and
//! `EVT_SESSION_ACCESSED` carry no session data). The messages go with `send_mode`
//! (`channelSendOptions`, Tomcat's default asynchronous): synchronous requests wait for every
//! member's acknowledgement; asynchronous ones go on and the copies catch up later, possibly
//! out of order ([`super::tomcat::channel`]). Each receiving node processes every message on its
//! `receiver_threads` for `receive_cpu`, so the work (and the wait for a synchronous
//! acknowledgement) grows with the node count; the Tomcat clustering how-to advises against
//! all-to-all beyond about 4 nodes.
//!
//! A read sees the copy of the node that serves it: no copy yet (the creation has not arrived)
//! is a lost session (`lost_routed_elsewhere`); a copy that lacks changes still on their way is
//! a stale read (`stale_reads`), one that dropped a delta which arrived before its creation is a
//! partial read (`partial_reads`). A crashed member stays a destination until membership drops
//! it ([`super::tomcat::membership`]). A session is lost to a crash only if no running node
//! holds a copy. Tomcat has no cross-node session lock, so concurrent requests lose updates.

use super::config::{ReplicationConfig, SessionsConfig, WriteMode};
use super::table::Table;
use super::tomcat::ReadSeen;
use super::tomcat::channel::{ChannelConfig, SendMode};
use super::tomcat::delta::DeltaCluster;
use super::tomcat::membership::Departure;
use super::{Access, Env, LostCause, Progress, SessionStore, Step, StoreTotals, apply_write, write_kind};
use crate::engine::SimTime;
use crate::engine::rng::{Stream, stream_key};

/// What the rest of the crate asks of this strategy (see [`super::Info`]): store servers
/// none.
pub(crate) const INFO: super::Info = super::Info {
    build: |cfg, env| Box::new(ReplicatedAll::new(cfg, env)),
    server_names: super::no_servers,
    clusters: super::no_clusters,
    uses_connections: false,
};

pub(crate) struct ReplicatedAll {
    t: Table,
    nodes: usize,
    down: Vec<bool>,
    cfg: ReplicationConfig,
    d: DeltaCluster,
    lifetime: SimTime,
    write: WriteMode,
    totals: StoreTotals,
}

const LIVE: u32 = 0;
const TOMB: u32 = 1;
const DONE: u8 = 9;

/// The channel of a replication configuration; `default` is the strategy's Tomcat send mode.
pub(crate) fn channel_config(r: &ReplicationConfig, default: SendMode) -> ChannelConfig {
    ChannelConfig {
        mode: r.send_mode.unwrap_or(default),
        send_cpu: r.send_cpu,
        receive_cpu: r.receive_cpu,
        rtt: r.rtt,
        jitter: r.jitter,
        receiver_threads: r.receiver_threads,
        sender_timeout: r.sender_timeout,
    }
}

impl ReplicatedAll {
    pub(crate) fn new(cfg: &SessionsConfig, env: Env) -> Self {
        let r = &cfg.replication;
        ReplicatedAll {
            t: Table::new(2),
            nodes: env.backends,
            down: vec![false; env.backends],
            cfg: r.clone(),
            d: DeltaCluster::new(
                channel_config(r, SendMode::Async),
                r.membership,
                env.backends,
                stream_key(env.seed, env.rep, Stream::Storage),
            ),
            lifetime: cfg.lifetime,
            write: cfg.write,
            totals: StoreTotals::default(),
        }
    }

    /// Tomcat's background expiry: sessions idle past their lifetime, oldest first.
    fn expire(&mut self, now: SimTime) {
        for l in [LIVE, TOMB] {
            while let Some(h) = self.t.head(l) {
                let it = self.t.item(h);
                let end = if l == LIVE {
                    it.touched + self.lifetime
                } else {
                    it.stamp
                };
                if end > now {
                    break;
                }
                let sid = it.sid;
                self.t.remove(h);
                self.d.forget(sid);
            }
        }
    }

    /// Counts what a cluster call sent since `before` (messages, sends); `data` of the
    /// messages carry the session's `bytes`.
    fn count(&mut self, a: &Access, before: (u64, u64), data: u64, bytes: u32) {
        let (n, sends) = (self.d.msgs - before.0, self.d.sends - before.1);
        if a.measured && n > 0 {
            self.totals.replication_msgs += n;
            self.totals.replication_bytes += n * self.cfg.message_overhead as u64 + data * bytes as u64;
            self.totals.replication_cpu_ns +=
                sends * self.cfg.send_cpu.as_nanos() + n * self.cfg.receive_cpu.as_nanos();
        }
    }
}

impl SessionStore for ReplicatedAll {
    fn read(&mut self, a: &Access, p: &mut Progress, now: SimTime) -> Step {
        self.expire(now);
        match self.t.get(a.sid) {
            None => p.lost = Some(LostCause::Expired),
            Some(slot) => match self.t.item(slot).gone {
                Some(cause) => p.lost = Some(cause),
                None => {
                    p.read_version = self.t.item(slot).version;
                    match self.d.read(a.sid, a.backend, now) {
                        ReadSeen::Fresh => {}
                        ReadSeen::Stale => self.totals.stale_reads += a.measured as u64,
                        ReadSeen::Partial => self.totals.partial_reads += a.measured as u64,
                        ReadSeen::Missing => {
                            p.lost = Some(LostCause::RoutedElsewhere);
                            return Step::Ready;
                        }
                    }
                    self.t.touch(slot, now);
                }
            },
        }
        Step::Ready
    }

    fn write(&mut self, a: &Access, p: &mut Progress, create: bool, now: SimTime, _: &mut Vec<u32>) -> Step {
        if p.step == DONE {
            return Step::Ready;
        }
        let before = (self.d.msgs, self.d.sends);
        let resume = if create && p.step == 0 {
            let slot = self.t.insert(a.sid, LIVE, now);
            let it = self.t.item_mut(slot);
            it.aux = a.backend;
            it.bytes = a.bytes;
            // The creation (no data), then, once its send returned, the login's delta.
            let t = self.d.create_session(a.sid, a.backend, now);
            self.count(a, before, 0, a.bytes);
            if t > now {
                p.step = 1;
                return Step::Wait(t);
            }
            let before = (self.d.msgs, self.d.sends);
            let t = self.d.login_delta(a.sid, a.backend, now);
            let n = self.d.msgs - before.0;
            self.count(a, before, n, a.bytes);
            t
        } else if create {
            let t = self.d.login_delta(a.sid, a.backend, now);
            let n = self.d.msgs - before.0;
            self.count(a, before, n, a.bytes);
            t
        } else if p.lost.is_none() {
            let Some(slot) = self.t.get(a.sid).filter(|&s| self.t.item(s).gone.is_none()) else {
                return Step::Ready;
            };
            let data = write_kind(self.write, a.modified).0;
            if data {
                let rv = p.read_version;
                let it = self.t.item_mut(slot);
                apply_write(&mut it.version, rv, a.measured, &mut self.totals);
                it.aux = a.backend;
                it.bytes = a.bytes;
                self.t.touch(slot, now);
            }
            let t = self.d.complete(a.sid, a.backend, data, now);
            let n = self.d.msgs - before.0;
            self.count(a, before, if data { n } else { 0 }, a.bytes);
            t
        } else {
            now
        };
        if resume <= now {
            return Step::Ready;
        }
        p.step = DONE;
        Step::Wait(resume)
    }

    fn held_by(&self, backend: usize) -> u64 {
        if self.down[backend] {
            0
        } else {
            self.d.copies.len(backend)
        }
    }

    fn totals(&self) -> StoreTotals {
        self.totals.clone()
    }

    fn rebinds_route(&self) -> bool {
        self.cfg.jvm_route_binder
    }

    /// A node that starts pulls every session from a running member (DeltaManager's state
    /// transfer): one message per session, of its size plus the message overhead.
    fn restart_node(&mut self, backend: usize, now: SimTime) {
        if !self.down[backend] {
            return;
        }
        self.down[backend] = false;
        let n = self.d.restart(backend, now);
        let bytes: u64 = self
            .t
            .slots()
            .into_iter()
            .map(|s| self.t.item(s))
            .filter(|it| it.gone.is_none() && self.d.copies.has(backend as u32, it.sid))
            .map(|it| it.bytes as u64)
            .sum();
        self.totals.replication_msgs += n;
        self.totals.replication_bytes += n * self.cfg.message_overhead as u64 + bytes;
    }

    /// The node's copies are gone; a session is lost when no running node holds a copy.
    fn crash_node(&mut self, backend: usize, now: SimTime) {
        self.leave(backend, Departure::Crash, now);
    }

    /// A clean stop: as a crash, except that the others drop the node from their view at once
    /// (no sends to it wait for their timeout).
    fn stop_node(&mut self, backend: usize, now: SimTime) {
        self.leave(backend, Departure::Stop, now);
    }
}

impl ReplicatedAll {
    fn leave(&mut self, backend: usize, how: Departure, now: SimTime) {
        self.down[backend] = true;
        self.d.leave(backend, how, now);
        let running: Vec<bool> = self.down.iter().map(|d| !d).collect();
        let coming = self.d.copies.pending_to(&running);
        for slot in self.t.slots() {
            let it = self.t.item(slot);
            if it.gone.is_some() {
                continue;
            }
            let sid = it.sid;
            let held =
                coming.contains(&sid) || (0..self.nodes).any(|n| !self.down[n] && self.d.copies.has(n as u32, sid));
            if !held {
                self.t.move_to(slot, TOMB, now);
                let it = self.t.item_mut(slot);
                it.gone = Some(LostCause::NodeFailure);
                it.stamp = now + self.lifetime;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;
    use crate::store::local::tests::{access, env};

    const MS: fn(u64) -> SimTime = SimTime::from_millis;

    fn store(nodes: usize, mode: &str) -> ReplicatedAll {
        let text = format!(
            "name = \"t\"\nduration = \"1h\"\n[workload]\nusers_per_second = 1\n[sessions]\n\
             storage = \"replicated_all\"\nreplication = {{ send_cpu = \"1ms\", receive_cpu = \"2ms\", \
             rtt = \"4ms\", message_overhead = 100, receiver_threads = 1{mode} }}\n"
        );
        let cfg = load_str(&text, "t.toml", &[]).unwrap().strategies[0]
            .system
            .sessions
            .clone();
        ReplicatedAll::new(&cfg, env(nodes))
    }

    /// Runs a write phase to its end: the times it waited until.
    fn write_all(s: &mut ReplicatedAll, a: &Access, create: bool, mut now: SimTime) -> Vec<SimTime> {
        let mut p = Progress::default();
        let mut w = Vec::new();
        let mut waits = Vec::new();
        while let Step::Wait(t) = s.write(a, &mut p, create, now, &mut w) {
            waits.push(t);
            now = t;
        }
        waits
    }

    #[test]
    fn async_cost_grows_with_the_node_count_by_hand() {
        // Async, 1 ms serialise: a login waits 1 ms for the creation's send and 1 ms for its
        // delta's; a change 1 ms. Per login 2 x (N - 1) messages (the creation 100 B, the delta
        // 100 + 1000 B), per change N - 1 of 1100 B: 3 (N - 1) messages of 2300 (N - 1) B in
        // all; CPU 3 sends x 1 ms + 3 (N - 1) receptions x 2 ms.
        for n in [2u64, 5] {
            let mut s = store(n as usize, "");
            assert_eq!(
                write_all(&mut s, &access(0, 1, 0), true, SimTime::ZERO),
                vec![MS(1), MS(2)]
            );
            let mut p = Progress::default();
            s.read(&access(1, 1, 1), &mut p, SimTime::from_secs(1));
            assert_eq!(p.lost, None, "node 1 has its copy by now");
            let t = SimTime::from_secs(1);
            assert_eq!(write_all(&mut s, &access(1, 1, 1), false, t), vec![t + MS(1)]);
            let tot = s.totals();
            let m = 3 * (n - 1);
            assert_eq!((tot.replication_msgs, tot.replication_bytes), (m, 2300 * (n - 1)));
            assert_eq!(tot.replication_cpu_ns, 3_000_000 + m * 2_000_000);
            assert_eq!((tot.stale_reads, tot.partial_reads), (0, 0));
            assert_eq!(s.held_by(n as usize - 1), 1);
        }
    }

    #[test]
    fn sync_login_waits_for_both_acks_and_leaves_no_stale_copy() {
        // Sync, idle receivers: each send 1 + 2 + 2 + 2 = 7 ms, so the login returns at 14 ms
        // with every copy complete; a read on node 2 then is fresh.
        let mut s = store(3, ", send_mode = \"sync\"");
        assert_eq!(
            write_all(&mut s, &access(0, 1, 0), true, SimTime::ZERO),
            vec![MS(7), MS(14)]
        );
        let mut p = Progress::default();
        s.read(&access(1, 1, 2), &mut p, MS(14));
        assert_eq!(p.lost, None);
        assert_eq!((s.totals().stale_reads, s.totals().partial_reads), (0, 0));
    }

    #[test]
    fn async_reads_soon_after_a_change_are_stale() {
        // Async: a change on node 0 at 1 s reaches node 1 at 1 s + 1 + 2 + 2 ms = 1.005 s. A
        // read there at 1.004 s is stale (counted), at 1.005 s fresh.
        let mut s = store(2, "");
        write_all(&mut s, &access(0, 1, 0), true, SimTime::ZERO);
        write_all(&mut s, &access(1, 1, 0), false, SimTime::from_secs(1));
        for (t, stale) in [(1004, 1), (1005, 1)] {
            let mut p = Progress::default();
            s.read(&access(2, 1, 1), &mut p, MS(t));
            assert_eq!((p.lost, s.totals().stale_reads), (None, stale));
        }
    }

    #[test]
    fn a_session_whose_creation_left_before_the_crash_survives() {
        // Session 1 created on node 0 at 0 (both messages out); session 2's login at 999 ms
        // sent its creation (processed on node 1 at 999 + 1 + 2 + 2 = 1004 ms) and node 0
        // crashed at 1 s, before the login's delta (the login itself died with the node, so
        // its user never saw the session). Neither is lost: the creation was on its way.
        let mut s = store(3, "");
        write_all(&mut s, &access(0, 1, 0), true, SimTime::ZERO);
        let mut p = Progress::default();
        let mut w = Vec::new();
        assert_eq!(
            s.write(&access(1, 2, 0), &mut p, true, MS(999), &mut w),
            Step::Wait(MS(1000))
        );
        s.crash_node(0, MS(1000));
        let mut lost = Vec::new();
        for sid in [1, 2] {
            let mut p = Progress::default();
            s.read(&access(2, sid, 1), &mut p, SimTime::from_secs(2));
            lost.push(p.lost);
        }
        assert_eq!(lost, vec![None, None]);
        assert_eq!((s.totals().stale_reads, s.totals().partial_reads), (0, 0));
        assert_eq!(s.held_by(0), 0);
        assert_eq!(s.held_by(1), 2);
    }
}
