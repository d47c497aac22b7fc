//! How a Tribes message travels from one node to the others (checked against the source).
//!
//! * **Send options** (`tribes/Channel.java`): `SEND_OPTIONS_USE_ACK` = 2,
//!   `SEND_OPTIONS_SYNCHRONIZED_ACK` = 4, `SEND_OPTIONS_ASYNCHRONOUS` = 8. The cluster's
//!   `channelSendOptions` defaults to `SEND_OPTIONS_ASYNCHRONOUS` (`ha/tcp/SimpleTcpCluster`
//!   field `channelSendOptions`), and that is what `DeltaManager` sends with;
//!   `BackupManager`'s `mapSendOptions` defaults to `SYNCHRONIZED_ACK | USE_ACK` (6).
//!   - Synchronous (6): the sending thread (the request's own thread: `ReplicationValve`
//!     sends at the end of the request) waits until every receiver has *processed* the
//!     message and acknowledged it: send CPU, half a round trip, the receiver's queue and
//!     processing, half a round trip back, the slowest receiver deciding.
//!   - Asynchronous (8): `group/interceptors/MessageDispatchInterceptor.sendMessage` hands
//!     the message to an executor (`ExecutorFactory.newThreadPool`, `maxThreads` 10,
//!     `maxSpareThreads` 2) and returns: the request goes on after serialising the message.
//! * **Order.** Each queued message is a separate task of that pool, sent by whichever thread
//!   takes it through a pooled sender (`PooledParallelSender`, its own sockets), and received
//!   by whichever receiver thread reads that socket. Nothing keeps a sender's messages in
//!   order: two messages of one sender can arrive in either order (not per-sender FIFO). The
//!   model draws each message's extra one-way delay per receiver, uniform in `[0, jitter)`, so
//!   two messages sent less than `jitter` apart may arrive reversed; with `jitter` 0 they arrive
//!   in send order. (A synchronous sender waits for the acknowledgement, so its next message
//!   leaves after the previous one was processed: never reversed.)
//! * **Receiver cost.** A received message is read and processed on the receiving node's
//!   receiver threads, not on the request workers: `transport/nio/NioReceiver` hands each
//!   readable key to an `NioReplicationTask` from its task pool (`ReceiverBase.maxThreads`,
//!   default 15), which deserialises the message and calls the cluster's `messageReceived`
//!   (DeltaManager's `handleSESSION_DELTA` runs there). The model queues each message on the
//!   receiving node's `receiver_threads` FIFO servers for `receive_cpu`: with all-to-all, a node
//!   receives N - 1 messages for every change in the cluster, so the queue (and the
//!   synchronous sender's wait) grows with the node count.
//! * **A dead member.** Until membership drops it, a crashed member stays a destination. A
//!   synchronous send then waits for the acknowledgement until the sender's `timeout` (default
//!   3000 ms, `transport/AbstractSender.java`); an asynchronous one fails on a dispatch thread
//!   and the request does not notice.

use crate::engine::SimTime;
use crate::engine::rng::{key, mix64};

/// `channelSendOptions` as the model uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendMode {
    /// `SEND_OPTIONS_SYNCHRONIZED_ACK | SEND_OPTIONS_USE_ACK` (6).
    Sync,
    /// `SEND_OPTIONS_ASYNCHRONOUS` (8).
    Async,
}

impl SendMode {
    pub(crate) const ALL: &'static [(&'static str, SendMode)] = &[("sync", SendMode::Sync), ("async", SendMode::Async)];
}

/// A channel's timing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChannelConfig {
    pub(crate) mode: SendMode,
    /// Serialising a message, on the sending request's thread.
    pub(crate) send_cpu: SimTime,
    /// Processing a message on a receiver thread.
    pub(crate) receive_cpu: SimTime,
    /// Round trip between two nodes.
    pub(crate) rtt: SimTime,
    /// Upper bound of a message's extra one-way delay (see the module comment).
    pub(crate) jitter: SimTime,
    /// Receiver threads per node (`ReceiverBase.maxThreads`).
    pub(crate) receiver_threads: u32,
    /// A synchronous send to a dead member gives up after this (`AbstractSender.timeout`).
    pub(crate) sender_timeout: SimTime,
}

/// Identical servers (threads) with a calendar: a job takes the thread on which it can end
/// first, starting at its arrival or in the first idle gap after it. Jobs offered in arrival
/// order are served first come, first served; a job reserved for later (the second message of
/// a synchronous exchange, computed when the exchange starts) does not hold up jobs that arrive
/// before it.
#[derive(Clone, Debug)]
pub(crate) struct Pool {
    /// Each thread's reserved intervals, sorted, disjoint.
    threads: Vec<Vec<(SimTime, SimTime)>>,
    busy: SimTime,
}

impl Pool {
    pub(crate) fn new(threads: u32) -> Self {
        Pool {
            threads: vec![Vec::new(); threads.max(1) as usize],
            busy: SimTime::ZERO,
        }
    }

    /// Forgets intervals over by `now` (no later job arrives before `now`).
    pub(crate) fn prune(&mut self, now: SimTime) {
        for t in &mut self.threads {
            let k = t.partition_point(|&(_, e)| e <= now);
            t.drain(..k);
        }
    }

    /// When a job arriving at `arrive` and needing `work` can start on `thread`.
    fn start_on(list: &[(SimTime, SimTime)], arrive: SimTime, work: SimTime) -> SimTime {
        let mut c = arrive;
        for &(s, e) in list {
            if e <= c {
                continue;
            }
            if s >= c + work {
                break;
            }
            c = c.max(e);
        }
        c
    }

    /// A job that arrives at `arrive` and needs `work`: when it ends.
    pub(crate) fn serve(&mut self, arrive: SimTime, work: SimTime) -> SimTime {
        let mut best = (SimTime::MAX, 0);
        for (i, t) in self.threads.iter().enumerate() {
            let start = Self::start_on(t, arrive, work);
            if start < best.0 {
                best = (start, i);
            }
        }
        let (start, i) = best;
        let end = start + work;
        let t = &mut self.threads[i];
        let pos = t.partition_point(|&(s, _)| s < start);
        // Touching intervals merge, so a backlog stays one interval (the list holds gaps only).
        let joins_prev = pos > 0 && t[pos - 1].1 == start;
        let joins_next = pos < t.len() && t[pos].0 == end;
        match (joins_prev, joins_next) {
            (true, true) => {
                t[pos - 1].1 = t[pos].1;
                t.remove(pos);
            }
            (true, false) => t[pos - 1].1 = end,
            (false, true) => t[pos].0 = start,
            (false, false) => t.insert(pos, (start, end)),
        }
        self.busy += work;
        end
    }

    #[cfg(test)]
    /// Total work served.
    pub fn busy(&self) -> SimTime {
        self.busy
    }

    /// The node restarted at `now`: its threads are idle.
    pub(crate) fn reset(&mut self, _now: SimTime) {
        for t in &mut self.threads {
            t.clear();
        }
    }
}

/// What one send did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sent {
    /// When the sending thread may go on.
    pub(crate) resume: SimTime,
    /// For each live receiver: when it has processed the message.
    pub(crate) applied: Vec<(u32, SimTime)>,
}

/// The channel between the nodes of one cluster: the receiver threads of every node.
#[derive(Clone, Debug)]
pub(crate) struct Channel {
    pub(crate) cfg: ChannelConfig,
    rx: Vec<Pool>,
    seq: u64,
    key: u64,
}

impl Channel {
    pub(crate) fn new(cfg: ChannelConfig, nodes: usize, seed: u64) -> Self {
        Channel {
            cfg,
            rx: (0..nodes).map(|_| Pool::new(cfg.receiver_threads)).collect(),
            seq: 0,
            key: seed,
        }
    }

    /// The extra one-way delay of message `seq` to `to`: uniform in `[0, jitter)`.
    fn jitter(&self, seq: u64, to: u32) -> SimTime {
        let j = self.cfg.jitter.as_nanos();
        if j == 0 {
            return SimTime::ZERO;
        }
        SimTime::from_nanos(mix64(key(&[self.key, seq, to as u64])) % j)
    }

    /// Sends one message at `now` to each of `to`; `alive[n]` says whether member `n` is
    /// running (a dead one that is still in the sender's view gets nothing).
    pub(crate) fn send(&mut self, to: &[u32], alive: &[bool], now: SimTime) -> Sent {
        let seq = self.seq;
        self.seq += 1;
        let c = self.cfg;
        let t0 = now + c.send_cpu;
        let half = SimTime::from_nanos(c.rtt.as_nanos() / 2);
        let mut resume = t0;
        let mut applied = Vec::with_capacity(to.len());
        for &r in to {
            let ack = if alive.get(r as usize).copied().unwrap_or(false) {
                let arrive = t0 + half + self.jitter(seq, r);
                let end = self.rx[r as usize].serve(arrive, c.receive_cpu);
                applied.push((r, end));
                end + half
            } else {
                t0 + c.sender_timeout
            };
            if c.mode == SendMode::Sync {
                resume = resume.max(ack);
            }
        }
        Sent { resume, applied }
    }

    /// Forgets receiver work over by `now`: call with the simulation's clock (no later send
    /// starts before it).
    pub(crate) fn prune(&mut self, now: SimTime) {
        for p in &mut self.rx {
            p.prune(now);
        }
    }

    /// Node `node` restarted at `now` with idle receiver threads.
    pub(crate) fn restart(&mut self, node: usize, now: SimTime) {
        if let Some(p) = self.rx.get_mut(node) {
            p.reset(now);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn cfg(mode: SendMode) -> ChannelConfig {
        ChannelConfig {
            mode,
            send_cpu: SimTime::from_millis(1),
            receive_cpu: SimTime::from_millis(2),
            rtt: SimTime::from_millis(4),
            jitter: SimTime::ZERO,
            receiver_threads: 1,
            sender_timeout: SimTime::from_secs(3),
        }
    }

    #[test]
    fn sync_waits_for_the_slowest_ack_async_does_not() {
        let alive = [true; 3];
        // Sync, idle receivers: 1 ms serialise + 2 ms out + 2 ms process + 2 ms back = 7 ms;
        // each receiver has applied it at 1 + 2 + 2 = 5 ms.
        let mut ch = Channel::new(cfg(SendMode::Sync), 3, 1);
        let s = ch.send(&[1, 2], &alive, SimTime::ZERO);
        assert_eq!(s.resume, SimTime::from_millis(7));
        assert_eq!(
            s.applied,
            vec![(1, SimTime::from_millis(5)), (2, SimTime::from_millis(5))]
        );
        // A second message at 1 ms to node 1 only: arrives at 4 ms, node 1's single receiver
        // thread is busy until 5 ms: applied at 7 ms, acknowledged at 9 ms.
        let s = ch.send(&[1], &alive, SimTime::from_millis(1));
        assert_eq!(s.applied, vec![(1, SimTime::from_millis(7))]);
        assert_eq!(s.resume, SimTime::from_millis(9));
        // Async: the request goes on after serialising (1 ms); delivery as before (5 ms).
        let mut ch = Channel::new(cfg(SendMode::Async), 3, 1);
        let s = ch.send(&[1, 2], &alive, SimTime::ZERO);
        assert_eq!(s.resume, SimTime::from_millis(1));
        assert_eq!(s.applied[0], (1, SimTime::from_millis(5)));
    }

    #[test]
    fn a_dead_member_in_the_view_costs_a_sync_sender_its_timeout() {
        // Node 2 is dead but not yet dropped: the sync sender waits 1 ms + 3 s for its ack.
        let alive = [true, true, false];
        let mut ch = Channel::new(cfg(SendMode::Sync), 3, 1);
        let s = ch.send(&[1, 2], &alive, SimTime::ZERO);
        assert_eq!(s.resume, SimTime::from_millis(3001));
        assert_eq!(s.applied.len(), 1);
        let mut ch = Channel::new(cfg(SendMode::Async), 3, 1);
        assert_eq!(ch.send(&[1, 2], &alive, SimTime::ZERO).resume, SimTime::from_millis(1));
    }

    #[test]
    fn pool_serves_first_free_thread() {
        // Two threads, three 1 ms jobs at 0: two end at 1 ms, the third waits and ends at 2 ms.
        let mut p = Pool::new(2);
        let ends: Vec<_> = (0..3)
            .map(|_| p.serve(SimTime::ZERO, SimTime::from_millis(1)))
            .collect();
        assert_eq!(
            ends,
            vec![
                SimTime::from_millis(1),
                SimTime::from_millis(1),
                SimTime::from_millis(2)
            ]
        );
        assert_eq!(p.busy(), SimTime::from_millis(3));
        // One thread with a job reserved at [10, 11) ms: a 2 ms job arriving at 0 runs in the
        // gap before it (ends 2 ms); a 2 ms job arriving at 9 ms cannot fit before 10 ms and
        // runs after the reservation (11 to 13 ms).
        let mut p = Pool::new(1);
        assert_eq!(
            p.serve(SimTime::from_millis(10), SimTime::from_millis(1)),
            SimTime::from_millis(11)
        );
        assert_eq!(p.serve(SimTime::ZERO, SimTime::from_millis(2)), SimTime::from_millis(2));
        assert_eq!(
            p.serve(SimTime::from_millis(9), SimTime::from_millis(2)),
            SimTime::from_millis(13)
        );
    }

    #[test]
    fn async_messages_sent_together_arrive_reversed_half_the_time() {
        // Two messages sent at the same instant with independent uniform delays U1, U2 on
        // [0, jitter): P(U2 < U1) = 1/2. Over 2000 pairs, with many receiver threads (no
        // queueing), the reversed fraction is 0.5 +- 0.05 (about 4.5 standard deviations:
        // sd = sqrt(0.25 / 2000) = 0.011).
        let mut c = cfg(SendMode::Async);
        c.jitter = SimTime::from_millis(2);
        c.receiver_threads = 100;
        let mut ch = Channel::new(c, 2, 42);
        let alive = [true; 2];
        let mut reversed = 0;
        for i in 0..2000u64 {
            let t = SimTime::from_secs(i);
            let a = ch.send(&[1], &alive, t).applied[0].1;
            let b = ch.send(&[1], &alive, t).applied[0].1;
            reversed += (b < a) as u32;
        }
        let f = reversed as f64 / 2000.0;
        assert!((f - 0.5).abs() < 0.05, "reversed fraction {f}");
        // Sync never reverses: the second leaves after the first's acknowledgement.
        c.mode = SendMode::Sync;
        let mut ch = Channel::new(c, 2, 42);
        for i in 0..200u64 {
            let t = SimTime::from_secs(i);
            let s1 = ch.send(&[1], &alive, t);
            let s2 = ch.send(&[1], &alive, s1.resume);
            assert!(s2.applied[0].1 > s1.applied[0].1);
        }
    }
}
