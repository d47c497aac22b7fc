//! `replicated_all`: Tomcat's DeltaManager (apache/tomcat `ha/session/DeltaManager.java`).
//! Every node holds every session; after each request that changed the session (and at its
//! creation) the node sends one delta message to every other node: N - 1 messages, each
//! costing the sender `send_cpu` (on the request's worker, so the request takes longer) and
//! each receiver `receive_cpu`, and `message_overhead` + session bytes on the network. So the
//! cost of a write grows with the node count; the Tomcat clustering how-to advises against
//! all-to-all beyond about 4 nodes.
//!
//! Sends are asynchronous: a delta is on the wire for `send_window` after its request. If the
//! sending node crashes within that window the delta is lost: a new session never reached the
//! others (lost, `lost_node_failure`), an update is a lost update. Otherwise any node can carry
//! on after failures, short of all nodes failing.
//!
//! Simplifications: the copies are one shared state (a delta applies everywhere when it is
//! sent); receiver CPU is counted (`replication_cpu_s`) but does not take the receivers'
//! workers; Tomcat has no cross-node session lock, so concurrent requests lose updates.

use super::config::{ReplicationConfig, SessionsConfig, WriteMode};
use super::table::Table;
use super::{Access, Env, LostCause, Progress, SessionStore, Step, StoreTotals, apply_write, write_kind};
use crate::engine::SimTime;

/// What the rest of the crate asks of this strategy (see [`super::Info`]): store servers
/// none.
pub(crate) const INFO: super::Info = super::Info {
    build: |cfg, env| Box::new(ReplicatedAll::new(cfg, env)),
    server_names: super::no_servers,
    clusters: super::no_clusters,
    uses_connections: false,
};

pub struct ReplicatedAll {
    t: Table,
    nodes: usize,
    down: Vec<bool>,
    cfg: ReplicationConfig,
    lifetime: SimTime,
    write: WriteMode,
    totals: StoreTotals,
}

const LIVE: u32 = 0;
const TOMB: u32 = 1;
const DONE: u8 = 9;

impl ReplicatedAll {
    pub fn new(cfg: &SessionsConfig, env: Env) -> Self {
        ReplicatedAll {
            t: Table::new(2),
            nodes: env.backends,
            down: vec![false; env.backends],
            cfg: cfg.replication.clone(),
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
                self.t.remove(h);
            }
        }
    }

    /// One delta from `a.backend` to every other node; returns the sender's CPU time.
    fn replicate(&mut self, a: &Access) -> SimTime {
        let msgs = self.nodes.saturating_sub(1) as u64;
        if a.measured {
            self.totals.replication_msgs += msgs;
            self.totals.replication_bytes += msgs * (self.cfg.message_overhead as u64 + a.bytes as u64);
            self.totals.replication_cpu_ns += msgs * (self.cfg.send_cpu.as_nanos() + self.cfg.receive_cpu.as_nanos());
        }
        SimTime(msgs * self.cfg.send_cpu.as_nanos())
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
        let cpu = if create {
            let slot = self.t.insert(a.sid, LIVE, now);
            self.t.item_mut(slot).aux = a.backend;
            self.replicate(a)
        } else if p.lost.is_none() && write_kind(self.write, a.modified).0 {
            let Some(slot) = self.t.get(a.sid).filter(|&s| self.t.item(s).gone.is_none()) else {
                return Step::Ready;
            };
            let rv = p.read_version;
            let it = self.t.item_mut(slot);
            apply_write(&mut it.version, rv, a.measured, &mut self.totals);
            it.aux = a.backend;
            it.stamp = now;
            self.t.touch(slot, now);
            self.replicate(a)
        } else {
            SimTime::ZERO
        };
        if cpu == SimTime::ZERO {
            return Step::Ready;
        }
        p.step = DONE;
        Step::Wait(now + cpu)
    }

    fn held_by(&self, backend: usize) -> u64 {
        if self.down[backend] { 0 } else { self.t.len(LIVE) }
    }

    fn totals(&self) -> StoreTotals {
        self.totals.clone()
    }

    /// A node that starts pulls every session from the others (DeltaManager's state
    /// transfer): one message per live session, of its size plus the message overhead.
    fn restart_node(&mut self, backend: usize, _now: SimTime) {
        if !self.down[backend] {
            return;
        }
        self.down[backend] = false;
        for slot in self.t.slots() {
            let it = self.t.item(slot);
            if it.gone.is_none() {
                self.totals.replication_msgs += 1;
                self.totals.replication_bytes += self.cfg.message_overhead as u64 + it.bytes as u64;
            }
        }
    }

    fn crash_node(&mut self, backend: usize, now: SimTime) {
        self.down[backend] = true;
        let all_down = self.down.iter().all(|&d| d);
        for slot in self.t.slots() {
            let it = self.t.item(slot);
            if it.gone.is_some() {
                continue;
            }
            let unsent = it.aux as usize == backend && it.stamp + self.cfg.send_window > now;
            if all_down || (unsent && it.version == 0) {
                self.t.move_to(slot, TOMB, now);
                let it = self.t.item_mut(slot);
                it.gone = Some(LostCause::NodeFailure);
                it.stamp = now + self.lifetime;
            } else if unsent && now >= SimTime::ZERO {
                self.totals.lost_updates += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;
    use crate::store::local::tests::{access, env};

    fn store(nodes: usize) -> ReplicatedAll {
        let text = "name = \"t\"\nduration = \"1h\"\n[workload]\nusers_per_second = 1\n[sessions]\n\
                    storage = \"replicated_all\"\nreplication = { send_cpu = \"1ms\", receive_cpu = \"2ms\", \
                    message_overhead = 100, send_window = \"10ms\" }\n";
        let cfg = load_str(text, "t.toml", &[]).unwrap().strategies[0]
            .system
            .sessions
            .clone();
        ReplicatedAll::new(&cfg, env(nodes))
    }

    #[test]
    fn cost_grows_with_the_node_count_by_hand() {
        // One creation and one changed request, 1000-byte session, on 2 and on 5 nodes:
        // 2 x (N - 1) messages of 100 + 1000 bytes; the sender waits (N - 1) x 1 ms each time.
        for (n, msgs) in [(2usize, 2u64), (5, 8)] {
            let mut s = store(n);
            let mut w = Vec::new();
            let mut p = Progress::default();
            let step = s.write(&access(0, 1, 0), &mut p, true, SimTime::ZERO, &mut w);
            assert_eq!(step, Step::Wait(SimTime::from_millis(n as u64 - 1)));
            let mut p = Progress::default();
            s.read(&access(1, 1, 1), &mut p, SimTime::from_secs(1));
            assert_eq!(p.lost, None, "every node holds the session");
            s.write(&access(1, 1, 1), &mut p, false, SimTime::from_secs(1), &mut w);
            let t = s.totals();
            assert_eq!((t.replication_msgs, t.replication_bytes), (msgs, msgs * 1100));
            assert_eq!(t.replication_cpu_ns, msgs * 3_000_000);
            assert_eq!(s.held_by(n - 1), 1);
        }
    }

    #[test]
    fn a_crash_loses_only_deltas_still_unsent() {
        // Sessions 1 and 2 created on node 0 at 0 s and 0.995 s; node 0 crashes at 1 s with a
        // 10 ms send window: session 2's creation was unsent (lost), session 1 survives.
        let mut s = store(3);
        let mut w = Vec::new();
        s.write(&access(0, 1, 0), &mut Progress::default(), true, SimTime::ZERO, &mut w);
        s.write(
            &access(0, 2, 0),
            &mut Progress::default(),
            true,
            SimTime::from_millis(995),
            &mut w,
        );
        s.crash_node(0, SimTime::from_secs(1));
        let mut lost = Vec::new();
        for sid in [1, 2] {
            let mut p = Progress::default();
            s.read(&access(1, sid, 1), &mut p, SimTime::from_secs(2));
            lost.push(p.lost);
        }
        assert_eq!(lost, vec![None, Some(LostCause::NodeFailure)]);
    }
}
