//! Crash detection: when the other members drop a member that has crashed.
//!
//! Both Tribes membership services work the same way, checked against the source:
//!
//! * Multicast (`tribes/membership/McastServiceImpl.java`): each member's `SenderThread`
//!   broadcasts a heartbeat every `frequency` (default 500 ms, `McastService`'s
//!   `mcastFrequency`) and, after each send, calls `checkExpired()`, which drops every member
//!   whose last heartbeat is more than `dropTime` old (default 3000 ms, `memberDropTime`;
//!   `Membership.MbrEntry.hasExpired`: `now - lastHeardFrom > maxtime`, strictly).
//! * Static (`tribes/membership/StaticMembershipProvider.java`): a ping thread pings the
//!   static members every `pingInterval` (default 1000 ms) and expires those not heard from for
//!   more than `expirationTime` (default 5000 ms) in the same loop.
//!
//! So a member that crashes at `t` was last heard at its last beat at or before `t`, and is
//! dropped at the first check whose age exceeds the timeout. Until then the others keep it in
//! their view and keep sending to it. All members are taken to beat in phase (every member
//! beats at multiples of the period): the detection time is then exact to the period.
//!
//! A member that stops cleanly (a deploy stops the node after draining it) is not waited for:
//! both services announce the stop. `McastServiceImpl.stop` sends one last heartbeat with
//! `Member.SHUTDOWN_PAYLOAD` as its command, and the receivers remove the member and call
//! `memberDisappeared` on it at once; `StaticMembershipProvider.stopMembership` sends a
//! `MemberMessage.MSG_STOP` with the same effect. The replicated maps also broadcast their own
//! `MapMessage.MSG_STOP` on `breakdown()` (`tribes/tipis/AbstractReplicatedMap.java`), whose
//! receivers run `memberDisappeared` (so a BackupManager's backups take over at once). The
//! announcement is one datagram or message: it is taken to arrive at the stop itself.

use crate::engine::SimTime;

/// How a member leaves the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Departure {
    /// It crashed: the others notice after the membership timeout.
    Crash,
    /// It was stopped cleanly and said so: the others drop it at once.
    Stop,
}

/// A membership service and its timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Membership {
    /// Heartbeat / ping period: `frequency` (multicast) or `pingInterval` (static).
    pub(crate) period: SimTime,
    /// Silence after which a member is dropped: `dropTime` or `expirationTime`.
    pub(crate) timeout: SimTime,
}

impl Membership {
    /// `McastService` defaults: frequency 500 ms, dropTime 3000 ms (cluster-howto's example
    /// uses the same values).
    pub(crate) const MULTICAST: Membership = Membership {
        period: SimTime::from_millis(500),
        timeout: SimTime::from_millis(3000),
    };
    /// `StaticMembershipProvider` defaults: pingInterval 1000 ms, expirationTime 5000 ms.
    pub(crate) const STATIC: Membership = Membership {
        period: SimTime::from_millis(1000),
        timeout: SimTime::from_millis(5000),
    };

    /// The `membership` key's values.
    pub(crate) const ALL: &'static [(&'static str, Membership)] =
        &[("multicast", Membership::MULTICAST), ("static", Membership::STATIC)];

    /// When the survivors drop a member that left at `at`, by crash or by a clean stop.
    pub(crate) fn dropped_at(&self, how: Departure, at: SimTime) -> SimTime {
        match how {
            Departure::Crash => self.detected_at(at),
            Departure::Stop => at,
        }
    }

    /// When the survivors drop a member that crashed at `crash`: the first check (a multiple
    /// of the period) more than `timeout` after the member's last beat (the last multiple of
    /// the period at or before the crash).
    pub(crate) fn detected_at(&self, crash: SimTime) -> SimTime {
        let p = self.period.as_nanos().max(1);
        let last = crash.as_nanos() / p * p;
        // The smallest k * p with k * p - last > timeout.
        let due = last + self.timeout.as_nanos();
        SimTime::from_nanos((due / p + 1) * p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multicast_and_static_detection_by_hand() {
        // Multicast, crash at 1.2 s: last heartbeat 1.0 s; checks at 4.0 s (age 3.0 s, not
        // more than 3 s) and 4.5 s (3.5 s): dropped at 4.5 s.
        let m = Membership::MULTICAST;
        assert_eq!(m.detected_at(SimTime::from_millis(1200)), SimTime::from_millis(4500));
        // A crash right on a beat (1.0 s, the beat was sent): same last beat, same 4.5 s.
        assert_eq!(m.detected_at(SimTime::from_millis(1000)), SimTime::from_millis(4500));
        // Static, crash at 7.3 s: last ping 7 s; 12 s is an age of exactly 5 s: 13 s.
        let s = Membership::STATIC;
        assert_eq!(s.detected_at(SimTime::from_millis(7300)), SimTime::from_secs(13));
        // A timeout that is not a multiple of the period: 1 s period, 2.5 s timeout, crash at
        // 0.4 s: last beat 0 s, first check past 2.5 s is 3 s.
        let odd = Membership {
            period: SimTime::from_secs(1),
            timeout: SimTime::from_millis(2500),
        };
        assert_eq!(odd.detected_at(SimTime::from_millis(400)), SimTime::from_secs(3));
    }

    #[test]
    fn a_clean_stop_is_dropped_at_once() {
        // The stop announcement (SHUTDOWN_PAYLOAD / MSG_STOP) arrives with the stop: no wait
        // for the timeout, whichever service, where a crash at 1.2 s waits until 4.5 s.
        let at = SimTime::from_millis(1200);
        for m in [Membership::MULTICAST, Membership::STATIC] {
            assert_eq!(m.dropped_at(Departure::Stop, at), at);
        }
        assert_eq!(
            Membership::MULTICAST.dropped_at(Departure::Crash, at),
            SimTime::from_millis(4500)
        );
    }
}
