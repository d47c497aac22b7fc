//! Session storage: where a user's session lives and what makes a request not find it.
//!
//! One small trait, one file per strategy. The simulator calls [`SessionStore::create`] when
//! a login request completes, [`SessionStore::lookup`] when a later request of the session
//! starts on a backend, and [`SessionStore::remove`] when the session is abandoned. A store
//! knows backends only by index; it knows nothing of the balancer or of queues.

pub mod local;

use crate::engine::SimTime;
use crate::scenario::{SessionsConfig, StorageKind};

/// A session identifier (random, derived from the user and its login count).
pub type SessionId = u64;

/// Why a request did not find its session. The order is the column order of `summary.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LostCause {
    /// The request landed on a node that does not hold the session (it lives elsewhere).
    RoutedElsewhere = 0,
    /// The node that held the session failed and lost it.
    NodeFailure = 1,
}

impl LostCause {
    pub const COUNT: usize = 2;
    pub const ALL: [LostCause; Self::COUNT] = [LostCause::RoutedElsewhere, LostCause::NodeFailure];

    /// The column name in `summary.csv`.
    pub fn column(self) -> &'static str {
        match self {
            LostCause::RoutedElsewhere => "lost_routed_elsewhere",
            LostCause::NodeFailure => "lost_node_failure",
        }
    }
}

/// The result of looking up a session at the start of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Found,
    Lost(LostCause),
}

pub trait SessionStore: Send {
    /// A login on `backend` created session `sid`.
    fn create(&mut self, sid: SessionId, backend: usize, now: SimTime);
    /// A request of session `sid` starts on `backend`: is the session there?
    fn lookup(&mut self, sid: SessionId, backend: usize, now: SimTime) -> Lookup;
    /// The session is abandoned (its user logged in again or left).
    fn remove(&mut self, sid: SessionId);
    /// Sessions held by `backend` now.
    fn held_by(&self, backend: usize) -> u64;
}

pub fn build(cfg: &SessionsConfig, backends: usize) -> Box<dyn SessionStore> {
    match cfg.storage {
        StorageKind::Local => Box::new(local::Local::new(backends)),
    }
}
