//! Tomcat 10 session replication, modelled mechanism by mechanism from the Tomcat source
//! (apache/tomcat, checked against the source; no Tomcat runs here). Each file is one piece,
//! with hand-worked tests beside it:
//!
//! * [`membership`]: when the survivors notice a crashed member (multicast heartbeats,
//!   `McastServiceImpl`, or static membership pings, `StaticMembershipProvider`).
//! * [`channel`]: how a Tribes message travels: the send options (`channelSendOptions`:
//!   synchronous acknowledgement or asynchronous dispatch), delivery delay and order, and the
//!   receiving node's receiver threads (`NioReceiver`, `ReceiverBase.maxThreads`).
//! * [`copies`]: each node's own copy of each session, with what it has applied, and the
//!   classification of a read as fresh, stale or partial.
//! * [`delta`]: `DeltaManager` all-to-all replication over per-node copies.
//! * [`backup`]: `BackupManager` (`LazyReplicatedMap`): backup placement, the proxy fetch,
//!   and the re-backup after a member disappears.
//! * [`route`]: the `.jvmRoute` suffix of the session id and `JvmRouteBinderValve`.

pub(crate) mod backup;
pub(crate) mod channel;
pub(crate) mod copies;
pub(crate) mod delta;
pub(crate) mod membership;
#[cfg(test)]
pub(crate) mod route;

/// How a read found the copy of the session on the node that served it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadSeen {
    /// The copy holds every change made so far.
    Fresh,
    /// The copy lacks changes that are still on their way (they will arrive).
    Stale,
    /// The copy lacks a change that was dropped (a delta that arrived before the session's
    /// creation): it stays without it until a later full transfer.
    Partial,
    /// The node holds no copy at all.
    Missing,
}
