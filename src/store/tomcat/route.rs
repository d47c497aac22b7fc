//! The session id's `.jvmRoute` suffix and `JvmRouteBinderValve`
//! (`ha/session/JvmRouteBinderValve.java`), checked against the source.
//!
//! With a `jvmRoute` set, Tomcat's session ids end in `.<jvmRoute>` of the node that made them
//! (`SessionIdGeneratorBase.generateSessionId(route)`), and Apache's `stickysession` sends a
//! request to the member whose `route=` is that suffix (`src/balancer/apache.rs`). A manager
//! finds a session by its whole id, suffix included (`ManagerBase.findSession(id)`).
//!
//! When the route's node is down, Apache sends the request to another member. There,
//! `JvmRouteBinderValve.handleJvmRoute` takes the part after the first `.` of the requested id
//! as the request's route; when it differs from the local `jvmRoute`:
//! * if the manager finds the requested id, the session is renamed to `<id>.<local route>`
//!   (`changeSessionID`: `manager.changeSessionId`, which DeltaManager replicates as
//!   `EVT_CHANGE_SESSION_ID`) and the response carries the new cookie, so Apache sticks to this
//!   node from now on;
//! * else, if it finds `<id>.<local route>` (already renamed), the request's id is rewritten to
//!   it (`changeRequestSessionID`);
//! * else nothing: the lookup misses.
//!
//! An id without a suffix (no `.`) has no request route and is left alone, valve or not.
//! Without the valve, the cookie keeps naming the dead node: each request is failed over
//! again, and a lookup with the old id on a node where the session was renamed misses.

/// A session id as the model sees it: a base and the route suffix (a node index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoutedId {
    pub(crate) base: u64,
    pub(crate) route: Option<u32>,
}

/// What the lookup of a request's session id found on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Found under the requested id.
    Found,
    /// Found; the session was renamed to the local route (`changeSessionID`): the client gets
    /// the new id.
    Renamed(RoutedId),
    /// Found under `<id>.<local route>`: the request's id was rewritten (`changeRequestSessionID`).
    Rewritten(RoutedId),
    /// Not found.
    Miss,
}

/// Looks up `requested` on the node whose route is `local`; `exists` says whether the node's
/// manager holds an id. `valve`: whether `JvmRouteBinderValve` is configured.
pub fn lookup(requested: RoutedId, local: u32, valve: bool, exists: impl Fn(RoutedId) -> bool) -> Lookup {
    let found = exists(requested);
    if valve
        && let Some(r) = requested.route
        && r != local
    {
        let new = RoutedId {
            base: requested.base,
            route: Some(local),
        };
        if found {
            return Lookup::Renamed(new);
        }
        if exists(new) {
            return Lookup::Rewritten(new);
        }
        return Lookup::Miss;
    }
    if found { Lookup::Found } else { Lookup::Miss }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(route: Option<u32>) -> RoutedId {
        RoutedId { base: 42, route }
    }

    #[test]
    fn wrong_or_missing_suffix_with_and_without_the_valve() {
        // Node 2 holds the session under "42.1" (made on node 1, replicated).
        let held = |i: RoutedId| i == id(Some(1));
        // The right id finds it, valve or not; the valve renames it to node 2's route.
        assert_eq!(lookup(id(Some(1)), 2, false, held), Lookup::Found);
        assert_eq!(lookup(id(Some(1)), 2, true, held), Lookup::Renamed(id(Some(2))));
        // On node 1 itself the route matches: no rename.
        assert_eq!(lookup(id(Some(1)), 1, true, held), Lookup::Found);
        // A suffix-less id misses, valve or not (no '.': no request route to compare).
        assert_eq!(lookup(id(None), 2, false, held), Lookup::Miss);
        assert_eq!(lookup(id(None), 2, true, held), Lookup::Miss);
        // Node 3 already renamed the session to "42.3"; a request still carrying "42.1"
        // misses without the valve and is rewritten with it.
        let renamed = |i: RoutedId| i == id(Some(3));
        assert_eq!(lookup(id(Some(1)), 3, false, renamed), Lookup::Miss);
        assert_eq!(lookup(id(Some(1)), 3, true, renamed), Lookup::Rewritten(id(Some(3))));
        // On a node that holds neither id, the valve cannot help.
        assert_eq!(lookup(id(Some(1)), 0, true, renamed), Lookup::Miss);
    }
}
