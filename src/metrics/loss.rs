//! Why a request did not find its session: every loss cause declared once, with its
//! `summary.csv` column, the legend the charts and the report use, and what it means. The
//! column order of `summary.csv` is the order of the `lost_*` fields of
//! [`super::SummaryRow`] (kept as it was first written); the order here is the order the
//! causes are counted, stacked in charts and listed in the report.

use super::SummaryRow;

/// Declares [`LostCause`] from one list: `Variant => summary_column, "legend", "meaning"`. The
/// column is the [`SummaryRow`] field that counts the cause, so a cause without its column
/// (or with a misspelt one) does not compile.
macro_rules! lost_causes {
    ( $( $(#[$meta:meta])* $variant:ident => $field:ident, $legend:literal ),* $(,)? ) => {
        /// Why a request did not find its session.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
        pub enum LostCause {
            $( $(#[$meta])* $variant, )*
        }

        impl LostCause {
            /// How many causes there are.
            pub(crate) const COUNT: usize = [ $( LostCause::$variant ),* ].len();
            /// Every cause, in declaration order (the order of `LostCause as usize`).
            pub(crate) const ALL: [LostCause; Self::COUNT] = [ $( LostCause::$variant ),* ];

            /// The column name in `summary.csv`.
            pub(crate) fn column(self) -> &'static str {
                match self {
                    $( LostCause::$variant => stringify!($field), )*
                }
            }

            /// The cause as charts and the report name it.
            pub(crate) fn legend(self) -> &'static str {
                match self {
                    $( LostCause::$variant => $legend, )*
                }
            }
        }

        impl SummaryRow {
            /// The sessions lost to `cause` (its `lost_*` column).
            pub(crate) fn lost(&self, cause: LostCause) -> u64 {
                match cause {
                    $( LostCause::$variant => self.$field, )*
                }
            }

            /// Sets the sessions lost to `cause`.
            pub(crate) fn set_lost(&mut self, cause: LostCause, n: u64) {
                match cause {
                    $( LostCause::$variant => self.$field = n, )*
                }
            }
        }
    };
}

lost_causes! {
    /// The request landed on a node that does not hold the session (it lives elsewhere).
    RoutedElsewhere => lost_routed_elsewhere, "routed to a server without it",
    /// The node that held the session failed and lost it.
    NodeFailure => lost_node_failure, "server crashed",
    /// The shared store lost it (a crash without persistence) or refused it (connection limit,
    /// out of memory).
    StoreFailure => lost_store_failure, "store failed",
    /// The store evicted it to make room before it expired (memcached LRU).
    Eviction => lost_eviction, "evicted by the store",
    /// The session idled longer than its lifetime and was deleted (gc_maxlifetime, TTL).
    Expired => lost_expired, "expired",
    /// The client sends no cookies, so the session cannot travel with it.
    CookieRefused => lost_cookie_refused, "cookies refused",
    /// The session does not fit in a cookie: the browser dropped it.
    CookieTooLarge => lost_cookie_too_large, "cookie too large",
    /// The handler gave up waiting for the session lock and ran without the session.
    LockTimeout => lost_lock_timeout, "lock timeout",
    /// A store operation took longer than the client's timeout.
    StoreTimeout => lost_store_timeout, "store timeout",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_its_own_summary_column() {
        // Each cause's column is a metric of summary.csv, and no two causes share one.
        let mut seen = Vec::new();
        for c in LostCause::ALL {
            assert!(SummaryRow::METRICS.contains(&c.column()), "{}", c.column());
            assert!(!seen.contains(&c.column()));
            seen.push(c.column());
            let mut r = SummaryRow::default();
            r.set_lost(c, 7);
            assert_eq!(r.metric(c.column()), Some(7.0));
            assert_eq!(r.lost(c), 7);
        }
        assert_eq!(seen.len(), LostCause::COUNT);
    }
}
