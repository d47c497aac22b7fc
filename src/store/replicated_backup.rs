//! `replicated_backup`: Tomcat's BackupManager (apache/tomcat `ha/session/BackupManager.java`,
//! `tribes/tipis/LazyReplicatedMap.java`). Each session has a primary node (where it was
//! created) and one backup node, chosen round-robin among the others at creation. A request
//! that changed the session sends one synchronous backup message (the request waits
//! `send_cpu` + `rtt` + `receive_cpu`). A request landing on the backup node takes the session
//! over there (the old primary becomes the backup); one landing on a node that holds neither
//! copy fetches the session from its primary by RPC (extra latency: `rtt` plus both CPU costs)
//! and becomes its primary, the old primary keeping a copy as backup. A session is lost only if
//! its primary and its backup both fail before it is backed up again.
//!
//! Simplification: after its backup node fails, a session is backed up again at its next
//! request (Tomcat re-replicates when membership changes, after failure detection).

use super::config::{ReplicationConfig, SessionsConfig, WriteMode};
use super::table::Table;
use super::{Access, Env, LostCause, Progress, SessionStore, Step, StoreTotals, apply_write, write_kind};
use crate::engine::SimTime;

const NONE: u32 = u32::MAX;
const LIVE: u32 = 0;
const TOMB: u32 = 1;
const DONE: u8 = 9;

/// What the rest of the crate asks of this strategy (see [`super::Info`]): store servers
/// none.
pub(crate) const INFO: super::Info = super::Info {
    build: |cfg, env| Box::new(ReplicatedBackup::new(cfg, env)),
    server_names: super::no_servers,
    clusters: super::no_clusters,
    uses_connections: false,
};

pub struct ReplicatedBackup {
    t: Table,
    nodes: usize,
    down: Vec<bool>,
    held: Vec<u64>,
    rr: usize,
    cfg: ReplicationConfig,
    lifetime: SimTime,
    write: WriteMode,
    totals: StoreTotals,
}

impl ReplicatedBackup {
    pub fn new(cfg: &SessionsConfig, env: Env) -> Self {
        ReplicatedBackup {
            t: Table::new(2),
            nodes: env.backends,
            down: vec![false; env.backends],
            held: vec![0; env.backends],
            rr: 0,
            cfg: cfg.replication.clone(),
            lifetime: cfg.lifetime,
            write: cfg.write,
            totals: StoreTotals::default(),
        }
    }

    /// The next backup node round-robin, skipping `primary` and nodes that are down.
    fn choose_backup(&mut self, primary: u32) -> u32 {
        for _ in 0..self.nodes {
            let b = self.rr % self.nodes;
            self.rr = self.rr.wrapping_add(1);
            if b as u32 != primary && !self.down[b] {
                return b as u32;
            }
        }
        NONE
    }

    fn hold(&mut self, node: u32, delta: i64) {
        if let Some(h) = self.held.get_mut(node as usize) {
            *h = (*h as i64 + delta).max(0) as u64;
        }
    }

    fn set_roles(&mut self, slot: u32, primary: u32, backup: u32) {
        let (op, ob) = (self.t.item(slot).aux, self.t.item(slot).aux2);
        self.hold(op, -1);
        self.hold(ob, -1);
        self.hold(primary, 1);
        self.hold(backup, 1);
        let it = self.t.item_mut(slot);
        it.aux = primary;
        it.aux2 = backup;
    }

    /// `n` messages carrying `bytes` of session each; returns the latency of one synchronous
    /// exchange (sender CPU, round trip, receiver CPU).
    fn message(&mut self, a: &Access, n: u64, bytes: u32) -> SimTime {
        if a.measured {
            self.totals.replication_msgs += n;
            self.totals.replication_bytes += n * self.cfg.message_overhead as u64 + bytes as u64;
            self.totals.replication_cpu_ns += n * (self.cfg.send_cpu.as_nanos() + self.cfg.receive_cpu.as_nanos());
        }
        self.cfg.send_cpu + self.cfg.rtt + self.cfg.receive_cpu
    }

    fn expire(&mut self, now: SimTime) {
        while let Some(h) = self.t.head(LIVE) {
            if self.t.item(h).touched + self.lifetime > now {
                break;
            }
            let (p, b) = (self.t.item(h).aux, self.t.item(h).aux2);
            self.hold(p, -1);
            self.hold(b, -1);
            self.t.remove(h);
        }
        while let Some(h) = self.t.head(TOMB) {
            if self.t.item(h).stamp > now {
                break;
            }
            self.t.remove(h);
        }
    }
}

impl SessionStore for ReplicatedBackup {
    fn read(&mut self, a: &Access, p: &mut Progress, now: SimTime) -> Step {
        if p.step == DONE {
            return Step::Ready;
        }
        self.expire(now);
        let Some(slot) = self.t.get(a.sid) else {
            p.lost = Some(LostCause::Expired);
            return Step::Ready;
        };
        if let Some(cause) = self.t.item(slot).gone {
            p.lost = Some(cause);
            return Step::Ready;
        }
        p.read_version = self.t.item(slot).version;
        self.t.touch(slot, now);
        let (primary, backup) = (self.t.item(slot).aux, self.t.item(slot).aux2);
        let b = a.backend;
        if b == primary {
            return Step::Ready;
        }
        if b == backup {
            // The backup takes over as primary; the others learn the new owner.
            self.message(a, 1, 0);
            self.set_roles(slot, b, primary);
            return Step::Ready;
        }
        // A proxy entry: fetch the session from its primary (request and reply).
        let latency = self.message(a, 2, a.bytes);
        self.set_roles(slot, b, primary);
        p.step = DONE;
        Step::Wait(now + latency)
    }

    fn write(&mut self, a: &Access, p: &mut Progress, create: bool, now: SimTime, _: &mut Vec<u32>) -> Step {
        if p.step == DONE {
            return Step::Ready;
        }
        let slot = if create {
            let slot = self.t.insert(a.sid, LIVE, now);
            let it = self.t.item_mut(slot);
            it.aux = NONE;
            it.aux2 = NONE;
            let backup = self.choose_backup(a.backend);
            self.set_roles(slot, a.backend, backup);
            slot
        } else if p.lost.is_none() && write_kind(self.write, a.modified).0 {
            let Some(slot) = self.t.get(a.sid).filter(|&s| self.t.item(s).gone.is_none()) else {
                return Step::Ready;
            };
            let rv = p.read_version;
            apply_write(&mut self.t.item_mut(slot).version, rv, a.measured, &mut self.totals);
            if self.t.item(slot).aux2 == NONE {
                let backup = self.choose_backup(a.backend);
                self.set_roles(slot, a.backend, backup);
            }
            slot
        } else {
            return Step::Ready;
        };
        if self.t.item(slot).aux2 == NONE {
            return Step::Ready;
        }
        let latency = self.message(a, 1, a.bytes);
        p.step = DONE;
        Step::Wait(now + latency)
    }

    fn held_by(&self, backend: usize) -> u64 {
        self.held[backend]
    }

    fn totals(&self) -> StoreTotals {
        self.totals.clone()
    }

    /// The node rejoins, empty; it becomes a candidate backup again.
    fn restart_node(&mut self, backend: usize, _now: SimTime) {
        self.down[backend] = false;
    }

    fn crash_node(&mut self, backend: usize, now: SimTime) {
        self.down[backend] = true;
        let b = backend as u32;
        for slot in self.t.slots() {
            let it = self.t.item(slot);
            if it.gone.is_some() {
                continue;
            }
            let (primary, backup) = (it.aux, it.aux2);
            if primary == b {
                if backup != NONE && !self.down[backup as usize] {
                    self.set_roles(slot, backup, NONE);
                } else {
                    self.set_roles(slot, NONE, NONE);
                    self.t.move_to(slot, TOMB, now);
                    let it = self.t.item_mut(slot);
                    it.gone = Some(LostCause::NodeFailure);
                    it.stamp = now + self.lifetime;
                }
            } else if backup == b {
                self.set_roles(slot, primary, NONE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;
    use crate::store::local::tests::{access, env};

    fn store(nodes: usize) -> ReplicatedBackup {
        let text = "name = \"t\"\nduration = \"1h\"\n[workload]\nusers_per_second = 1\n[sessions]\n\
                    storage = \"replicated_backup\"\nreplication = { send_cpu = \"1ms\", receive_cpu = \"2ms\", \
                    rtt = \"3ms\", message_overhead = 100 }\n";
        let cfg = load_str(text, "t.toml", &[]).unwrap().strategies[0]
            .system
            .sessions
            .clone();
        ReplicatedBackup::new(&cfg, env(nodes))
    }

    #[test]
    fn backup_round_robin_fetch_and_double_failure_by_hand() {
        // 4 nodes; sessions 1..=6 created on node 0: backups round-robin over nodes 1, 2, 3,
        // 1, 2, 3 (the counter skips node 0). Each creation waits 1 + 3 + 2 = 6 ms.
        let mut s = store(4);
        let mut w = Vec::new();
        for sid in 1..=6 {
            let step = s.write(
                &access(0, sid, 0),
                &mut Progress::default(),
                true,
                SimTime::ZERO,
                &mut w,
            );
            assert_eq!(step, Step::Wait(SimTime::from_millis(6)));
        }
        assert_eq!((s.held_by(0), s.held_by(1), s.held_by(2), s.held_by(3)), (6, 2, 2, 2));
        // Session 1 (backup node 1) requested on node 2: fetched by RPC, 6 ms more; node 2
        // becomes its primary and node 0 its backup.
        let mut p = Progress::default();
        assert_eq!(
            s.read(&access(1, 1, 2), &mut p, SimTime::from_secs(1)),
            Step::Wait(SimTime::from_millis(1006))
        );
        assert_eq!(p.lost, None);
        // Nodes 0 and 1 crash together: lost are the sessions whose two copies were on them:
        // session 4 (primary 0, backup 1). Session 1 now lives on 2 (+ backup 0): survives.
        s.crash_node(0, SimTime::from_secs(2));
        s.crash_node(1, SimTime::from_secs(2));
        let lost: Vec<u64> = (1..=6)
            .filter(|&sid| {
                let mut p = Progress::default();
                s.read(&access(9, sid, 3), &mut p, SimTime::from_secs(3));
                p.lost.is_some()
            })
            .collect();
        assert_eq!(lost, vec![4]);
    }
}
