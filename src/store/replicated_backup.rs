//! `replicated_backup`: Tomcat's BackupManager (apache/tomcat `ha/session/BackupManager.java`,
//! `tribes/tipis/LazyReplicatedMap.java`), over [`super::tomcat::backup`]. Each session has a
//! primary node (where it was created) and one backup node, which the creating node picks by
//! its own map's round-robin counter over the other members; every other member gets a proxy
//! entry. A login waits for `MSG_BACKUP` to the backup, `MSG_PROXY` to the others and the
//! end-of-request `MSG_BACKUP`; a request that changed the session sends one `MSG_BACKUP`
//! (all with `send_mode`, Tomcat's `mapSendOptions`, default synchronous). A request on the
//! backup node takes the session over there and picks a new backup; one on any other node
//! fetches it by RPC from the *backup* (not the primary) and becomes primary, the backup staying.
//! When membership drops a crashed member (after its timeout), each survivor re-publishes the
//! entries that lost their backup or primary, one synchronous publish after another; a session
//! is lost when every node holding its data has crashed before it was backed up again.

use super::config::{ReplicationConfig, SessionsConfig, WriteMode};
use super::table::Table;
use super::tomcat::backup::{BackupCluster, Found};
use super::tomcat::channel::SendMode;
use super::tomcat::membership::Departure;
use super::{Access, Env, LostCause, Progress, SessionStore, Step, StoreTotals, apply_write, write_kind};
use crate::engine::SimTime;
use crate::engine::rng::{Stream, stream_key};

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

pub(crate) struct ReplicatedBackup {
    t: Table,
    b: BackupCluster,
    cfg: ReplicationConfig,
    lifetime: SimTime,
    write: WriteMode,
    totals: StoreTotals,
}

impl ReplicatedBackup {
    pub(crate) fn new(cfg: &SessionsConfig, env: Env) -> Self {
        let r = &cfg.replication;
        ReplicatedBackup {
            t: Table::new(2),
            b: BackupCluster::new(
                super::replicated_all::channel_config(r, SendMode::Sync),
                r.membership,
                env.backends,
                stream_key(env.seed, env.rep, Stream::Storage),
            ),
            cfg: r.clone(),
            lifetime: cfg.lifetime,
            write: cfg.write,
            totals: StoreTotals::default(),
        }
    }

    /// Counts the messages sent since `before`; `data` of them carry the session's bytes.
    fn count(&mut self, a: &Access, before: u64, data: u64) {
        let n = self.b.msgs - before;
        if a.measured && n > 0 {
            self.totals.replication_msgs += n;
            self.totals.replication_bytes += n * self.cfg.message_overhead as u64 + data * a.bytes as u64;
            self.totals.replication_cpu_ns += n * (self.cfg.send_cpu.as_nanos() + self.cfg.receive_cpu.as_nanos());
        }
    }

    fn expire(&mut self, now: SimTime) {
        while let Some(h) = self.t.head(LIVE) {
            if self.t.item(h).touched + self.lifetime > now {
                break;
            }
            let sid = self.t.item(h).sid;
            self.t.remove(h);
            self.b.forget(sid);
        }
        while let Some(h) = self.t.head(TOMB) {
            if self.t.item(h).stamp > now {
                break;
            }
            self.t.remove(h);
        }
    }

    /// Moves the sessions the cluster lost since `from` to the tombstones.
    fn leave(&mut self, backend: usize, how: Departure, now: SimTime) {
        let from = self.b.lost.len();
        self.b.leave(backend, how, now);
        self.bury(from, now);
    }

    fn bury(&mut self, from: usize, now: SimTime) {
        for i in from..self.b.lost.len() {
            let sid = self.b.lost[i];
            if let Some(slot) = self.t.get(sid).filter(|&s| self.t.item(s).gone.is_none()) {
                self.t.move_to(slot, TOMB, now);
                let it = self.t.item_mut(slot);
                it.gone = Some(LostCause::NodeFailure);
                it.stamp = now + self.lifetime;
            }
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
        let before = self.b.msgs;
        let (found, t) = self.b.access(a.sid, a.backend, now);
        // The fetch reply carries the session.
        let data = (found == Found::Fetched) as u64;
        self.count(a, before, data);
        match found {
            Found::Missing => p.lost = Some(LostCause::RoutedElsewhere),
            Found::TookOverStale => self.totals.stale_reads += a.measured as u64,
            _ => self.t.touch(slot, now),
        }
        if t <= now {
            return Step::Ready;
        }
        p.step = DONE;
        Step::Wait(t)
    }

    fn write(&mut self, a: &Access, p: &mut Progress, create: bool, now: SimTime, _: &mut Vec<u32>) -> Step {
        if p.step == DONE {
            return Step::Ready;
        }
        let before = self.b.msgs;
        let t = if create {
            self.t.insert(a.sid, LIVE, now);
            let t = self.b.create(a.sid, a.backend, now);
            // MSG_BACKUP twice (publish, end of request) carry the session; the proxies do not.
            self.count(a, before, 2);
            t
        } else if p.lost.is_none() && write_kind(self.write, a.modified).0 {
            let Some(slot) = self.t.get(a.sid).filter(|&s| self.t.item(s).gone.is_none()) else {
                return Step::Ready;
            };
            let rv = p.read_version;
            apply_write(&mut self.t.item_mut(slot).version, rv, a.measured, &mut self.totals);
            let t = self.b.changed(a.sid, a.backend, now);
            self.count(a, before, 1);
            t
        } else {
            return Step::Ready;
        };
        if t <= now {
            return Step::Ready;
        }
        p.step = DONE;
        Step::Wait(t)
    }

    fn held_by(&self, backend: usize) -> u64 {
        self.b.held_by(backend)
    }

    fn totals(&self) -> StoreTotals {
        self.totals.clone()
    }

    fn rebinds_route(&self) -> bool {
        self.cfg.jvm_route_binder
    }

    /// The node rejoins, empty; it becomes a candidate backup again.
    fn restart_node(&mut self, backend: usize, now: SimTime) {
        let from = self.b.lost.len();
        self.b.restart(backend, now);
        self.bury(from, now);
    }

    fn crash_node(&mut self, backend: usize, now: SimTime) {
        self.leave(backend, Departure::Crash, now);
    }

    /// A clean stop: the others drop the node at once and its backups take over at once.
    fn stop_node(&mut self, backend: usize, now: SimTime) {
        self.leave(backend, Departure::Stop, now);
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
    fn placement_fetch_from_the_backup_and_double_failure_by_hand() {
        // 4 nodes; sessions 1..=6 created on node 0 at 1..=6 s: node 0's own counter over its
        // members [1, 2, 3] places the backups on 1, 2, 3, 1, 2, 3. One synchronous exchange
        // is 1 + 1.5 + 2 + 1.5 = 6 ms; a login waits for MSG_BACKUP, MSG_PROXY (to the two
        // others) and the end-of-request MSG_BACKUP: 18 ms.
        let mut s = store(4);
        let mut w = Vec::new();
        for sid in 1..=6 {
            let t = SimTime::from_secs(sid);
            let step = s.write(&access(0, sid, 0), &mut Progress::default(), true, t, &mut w);
            assert_eq!(step, Step::Wait(t + SimTime::from_millis(18)));
        }
        assert_eq!((s.held_by(0), s.held_by(1), s.held_by(2), s.held_by(3)), (6, 2, 2, 2));
        // Session 1 (backup node 1) requested on node 2: fetched by RPC from the backup
        // (6 ms), MSG_NOTIFY_MAPMEMBER to the backup (6 ms), MSG_PROXY to nodes 0 and 3
        // (6 ms); node 2 becomes primary, node 1 stays backup.
        let mut p = Progress::default();
        let t = SimTime::from_secs(10);
        assert_eq!(
            s.read(&access(1, 1, 2), &mut p, t),
            Step::Wait(t + SimTime::from_millis(18))
        );
        assert_eq!(p.lost, None);
        // Nodes 0 and 1 crash together at 20 s: lost is session 4 (primary 0, backup 1).
        // Session 1 now lives on 2 with its backup on 1: it survives on node 2. The others had
        // their backup on 2 or 3 and are re-published there once membership drops the dead
        // (23.5 s), so at 30 s node 3 finds every one of them.
        s.crash_node(0, SimTime::from_secs(20));
        s.crash_node(1, SimTime::from_secs(20));
        let lost: Vec<u64> = (1..=6)
            .filter(|&sid| {
                let mut p = Progress::default();
                let mut now = SimTime::from_secs(30);
                while let Step::Wait(t) = s.read(&access(9, sid, 3), &mut p, now) {
                    now = t;
                }
                p.lost.is_some()
            })
            .collect();
        assert_eq!(lost, vec![4]);
        assert_eq!(s.held_by(0), 0);
    }
}
