//! Session id -> table slot: an open-addressing hash table with linear probing, made for
//! millions of live sessions.
//!
//! A slot is 16 bytes (the id and the item's slot), four to a cache line, and a lookup compares
//! ids in place: usually one cache miss, where a general-purpose map touches its control bytes
//! and then its bucket. Removal shifts the following entries of the run back (Knuth, TAOCP
//! vol. 3, 6.4, Algorithm R), so there are no tombstones and probe runs stay short. The table
//! doubles when it is 3/4 full and never shrinks: its size follows the most sessions alive at
//! once. Iteration order is never exposed.

use super::SessionId;

/// An empty slot's `slot` value (no table holds 2^32 - 1 items).
const EMPTY: u32 = u32::MAX;

#[derive(Clone, Copy)]
#[repr(C)]
struct Entry {
    sid: SessionId,
    slot: u32,
}

const VACANT: Entry = Entry { sid: 0, slot: EMPTY };

pub(crate) struct SidIndex {
    entries: Vec<Entry>,
    /// `entries.len() - 1` (a power of two minus one).
    mask: usize,
    len: usize,
}

impl Default for SidIndex {
    fn default() -> Self {
        Self::with_capacity(1024)
    }
}

impl SidIndex {
    pub(crate) fn with_capacity(n: usize) -> Self {
        let size = (n.max(16) * 4 / 3).next_power_of_two();
        SidIndex {
            entries: vec![VACANT; size],
            mask: size - 1,
            len: 0,
        }
    }

    /// Where `sid`'s probe run starts. Session ids are random 64-bit keys, but ids from any
    /// source are spread by a Fibonacci multiply (Knuth, TAOCP vol. 3, 6.4), top bits taken.
    #[inline]
    fn home(&self, sid: SessionId) -> usize {
        let bits = self.mask.count_ones();
        if bits == 0 {
            return 0;
        }
        (sid.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    #[inline]
    pub(crate) fn get(&self, sid: SessionId) -> Option<u32> {
        let mut i = self.home(sid);
        loop {
            let e = self.entries[i];
            if e.slot == EMPTY {
                return None;
            }
            if e.sid == sid {
                return Some(e.slot);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Asks the processor to start loading `sid`'s entry, for a [`SidIndex::get`] soon after.
    #[inline]
    pub(crate) fn prefetch(&self, sid: SessionId) {
        crate::engine::prefetch(self.entries.as_ptr().wrapping_add(self.home(sid)));
    }

    /// Maps `sid` to `slot`, replacing what it mapped to.
    pub(crate) fn insert(&mut self, sid: SessionId, slot: u32) {
        if (self.len + 1) * 4 > self.entries.len() * 3 {
            self.grow();
        }
        let mut i = self.home(sid);
        loop {
            let e = &mut self.entries[i];
            if e.slot == EMPTY {
                *e = Entry { sid, slot };
                self.len += 1;
                return;
            }
            if e.sid == sid {
                e.slot = slot;
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Unmaps `sid`; returns the slot it mapped to.
    pub(crate) fn remove(&mut self, sid: SessionId) -> Option<u32> {
        let mut i = self.home(sid);
        loop {
            let e = self.entries[i];
            if e.slot == EMPTY {
                return None;
            }
            if e.sid == sid {
                break;
            }
            i = (i + 1) & self.mask;
        }
        let removed = self.entries[i].slot;
        // Shift back every later entry of the run that may move into the hole: one whose home
        // is not cyclically within (hole, its position].
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let e = self.entries[j];
            if e.slot == EMPTY {
                break;
            }
            let home = self.home(e.sid);
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.entries[hole] = e;
                hole = j;
            }
        }
        self.entries[hole] = VACANT;
        self.len -= 1;
        Some(removed)
    }

    fn grow(&mut self) {
        let old = std::mem::replace(&mut self.entries, vec![VACANT; (self.mask + 1) * 2]);
        self.mask = self.entries.len() - 1;
        self.len = 0;
        for e in old.into_iter().filter(|e| e.slot != EMPTY) {
            self.insert(e.sid, e.slot);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::mix64;
    use std::collections::HashMap;

    /// Against std's map under random inserts, replacements and removals, with clustered ids
    /// (small integers, whose homes collide) as well as random ones, through several growths.
    #[test]
    fn behaves_as_a_map() {
        let mut ix = SidIndex::with_capacity(4);
        let mut reference: HashMap<u64, u32> = HashMap::new();
        for step in 0..200_000u64 {
            let r = mix64(step);
            let sid = if r.is_multiple_of(3) {
                r % 512
            } else {
                mix64(r) % 50_000
            };
            match (r >> 8) % 4 {
                0 | 1 => {
                    ix.insert(sid, step as u32);
                    reference.insert(sid, step as u32);
                }
                2 => assert_eq!(ix.remove(sid), reference.remove(&sid), "step {step}"),
                _ => assert_eq!(ix.get(sid), reference.get(&sid).copied(), "step {step}"),
            }
            assert_eq!(ix.len(), reference.len());
        }
        for (&sid, &slot) in &reference {
            assert_eq!(ix.get(sid), Some(slot));
        }
        // Wrap-around runs: ids whose homes are the last entries.
        let mut small = SidIndex::with_capacity(8);
        let last: Vec<u64> = (0..100_000u64)
            .filter(|&s| small.home(s) >= small.mask - 1)
            .take(5)
            .collect();
        for (k, &s) in last.iter().enumerate() {
            small.insert(s, k as u32);
        }
        assert_eq!(small.remove(last[0]), Some(0));
        for (k, &s) in last.iter().enumerate().skip(1) {
            assert_eq!(small.get(s), Some(k as u32));
        }
    }
}
