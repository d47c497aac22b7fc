//! The load balancer: a policy that picks a backend for each request attempt, behind one small
//! trait, one file per policy.
//!
//! A policy sees the request's client ([`ClientInfo`]) and a read-only view of the servers
//! ([`PeerState`]: configuration plus what the balancer currently believes about each one).
//! It never sees the simulator's internals: no queues, no sessions. Policies decide as the real
//! software does; each file cites the upstream source it follows.

pub mod random;
pub mod round_robin;

use crate::engine::{SimRng, SimTime};
use crate::scenario::{BackendConfig, BalancerConfig, PolicyKind};
use std::net::IpAddr;

/// What the balancer knows about the client of one request.
#[derive(Clone, Copy, Debug)]
pub struct ClientInfo {
    /// The client address (`$remote_addr`, HAProxy `src`).
    pub addr: IpAddr,
    /// The session id the client presents, if it has one and sends cookies.
    pub session: Option<u64>,
    /// Which page (URL number) is requested.
    pub page: u32,
}

/// One server as the balancer sees it.
#[derive(Clone, Debug)]
pub struct PeerState {
    pub name: String,
    pub weight: u32,
    pub backup: bool,
    /// Marked `down` in the configuration.
    pub down: bool,
    /// Requests this balancer has sent to the server that have not completed.
    pub conns: u32,
}

impl PeerState {
    pub fn from_config(b: &BackendConfig) -> Self {
        PeerState {
            name: b.name.clone(),
            weight: b.weight,
            backup: b.backup,
            down: b.down,
            conns: 0,
        }
    }

    /// Whether the balancer may send a request to this server now.
    #[inline]
    pub fn usable(&self) -> bool {
        !self.down
    }
}

/// A balancing algorithm. One implementation per file in this folder.
pub trait Policy: Send {
    /// Picks the server for one attempt of a request. `tried` has bit i set for servers already
    /// tried for this request. `None` means no server is available (nginx answers 502).
    fn pick(
        &mut self,
        client: &ClientInfo,
        peers: &[PeerState],
        tried: u64,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<usize>;
}

/// Builds the policy named in the scenario.
pub fn build(cfg: &BalancerConfig, backends: &[BackendConfig]) -> Box<dyn Policy> {
    match cfg.policy {
        PolicyKind::RoundRobin => Box::new(round_robin::SmoothRoundRobin::new(backends.len())),
        PolicyKind::Random => Box::new(random::WeightedRandom),
    }
}

/// Servers of the tier that nginx and HAProxy use now: the primaries while any of them is
/// usable, otherwise the backups.
#[inline]
pub fn use_backups(peers: &[PeerState], tried: u64) -> bool {
    !peers
        .iter()
        .enumerate()
        .any(|(i, p)| !p.backup && p.usable() && (i >= 64 || tried & (1 << i) == 0))
}

#[inline]
pub(crate) fn untried(i: usize, tried: u64) -> bool {
    i >= 64 || tried & (1u64 << i) == 0
}
