//! Pieces shared by the HAProxy-flavoured policies: the ordering of HAProxy's eb32
//! trees, and the active/backup server counts of a backend.
//!
//! Sources: haproxy/haproxy `src/backend.c` (`recount_servers`,
//! `update_backend_weight`), `include/haproxy/server-t.h` (`SRV_UWGHT_RANGE` 256,
//! `SRV_EWGHT_MAX` 256*16), `include/haproxy/backend-t.h` (`BE_WEIGHT_SCALE` 16),
//! and ebtree's duplicate handling (equal keys keep insertion order; `eb32_first`
//! returns the earliest inserted).

use super::{PeerState, ServerConf};

/// `BE_WEIGHT_SCALE`: effective weights are user weights times 16 (except map-based).
pub(crate) const BE_WEIGHT_SCALE: u32 = 16;
/// `SRV_UWGHT_RANGE`.
pub(crate) const SRV_UWGHT_RANGE: u32 = 256;
/// `SRV_EWGHT_MAX` = `SRV_UWGHT_MAX` (256) * `BE_WEIGHT_SCALE`.
pub(crate) const SRV_EWGHT_MAX: u32 = 256 * BE_WEIGHT_SCALE;
/// `SRV_EWGHT_RANGE` = `SRV_UWGHT_RANGE` * `BE_WEIGHT_SCALE`.
pub(crate) const SRV_EWGHT_RANGE: u32 = SRV_UWGHT_RANGE * BE_WEIGHT_SCALE;

/// An eb32 tree allowing duplicates, as a sorted vector: ascending keys, equal keys
/// in insertion order. Allocated once with enough capacity; inserting and removing
/// never reallocate.
#[derive(Clone, Debug, Default)]
pub(crate) struct EbTree {
    items: Vec<(u32, usize)>,
}

impl EbTree {
    pub fn with_capacity(n: usize) -> Self {
        EbTree {
            items: Vec::with_capacity(n),
        }
    }

    /// `eb32_insert`: after every node of the same key.
    pub fn insert(&mut self, key: u32, owner: usize) {
        let pos = self.items.partition_point(|&(k, _)| k <= key);
        self.items.insert(pos, (key, owner));
    }

    /// `eb32_delete` of the (single) node of `owner`; false if absent.
    pub fn remove(&mut self, owner: usize) -> bool {
        match self.items.iter().position(|&(_, o)| o == owner) {
            Some(pos) => {
                self.items.remove(pos);
                true
            }
            None => false,
        }
    }

    /// Delete every node of `owner` (a consistent-hash server's points).
    pub fn remove_all(&mut self, owner: usize) {
        self.items.retain(|&(_, o)| o != owner);
    }

    pub fn first(&self) -> Option<(u32, usize)> {
        self.items.first().copied()
    }

    pub fn get(&self, i: usize) -> Option<(u32, usize)> {
        self.items.get(i).copied()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, usize)> + '_ {
        self.items.iter().copied()
    }

    /// Index of `eb32_lookup_ge(key)`: the first node with a key `>= key`.
    pub fn lookup_ge(&self, key: u32) -> Option<usize> {
        let i = self.items.partition_point(|&(k, _)| k < key);
        (i < self.items.len()).then_some(i)
    }
}

/// The static data and the usable-server counts of one HAProxy backend.
#[derive(Clone, Debug)]
pub(crate) struct Backend {
    /// Effective weight of each server (`next_eweight` = `cur_eweight` here).
    pub eweight: Vec<u32>,
    pub backup: Vec<bool>,
    /// `disabled` (maintenance) servers are never usable.
    pub disabled: Vec<bool>,
    pub maxconn: Vec<u32>,
    /// Committed usable state (`srv_currently_usable`).
    pub usable: Vec<bool>,
    pub srv_act: u32,
    pub srv_bck: u32,
    pub tot_wact: u32,
    pub tot_wbck: u32,
    /// First usable backup server (`lbprm.fbck`; no `option allbackups`).
    pub fbck: Option<usize>,
    pub tot_weight: u32,
    pub tot_used: u32,
}

impl Backend {
    /// `eweight_of(uweight)` computes the algorithm's effective weight.
    pub fn new(servers: &[ServerConf], eweight_of: impl Fn(u32) -> u32) -> Self {
        let eweight: Vec<u32> = servers.iter().map(|s| eweight_of(s.weight)).collect();
        let disabled: Vec<bool> = servers.iter().map(|s| s.down).collect();
        let usable = (0..servers.len()).map(|i| !disabled[i] && eweight[i] > 0).collect();
        let mut b = Backend {
            eweight,
            backup: servers.iter().map(|s| s.backup).collect(),
            disabled,
            maxconn: servers.iter().map(|s| s.max_conns).collect(),
            usable,
            srv_act: 0,
            srv_bck: 0,
            tot_wact: 0,
            tot_wbck: 0,
            fbck: None,
            tot_weight: 0,
            tot_used: 0,
        };
        b.recount();
        b
    }

    pub fn len(&self) -> usize {
        self.eweight.len()
    }

    pub fn eweight(&self, i: usize) -> u32 {
        self.eweight.get(i).copied().unwrap_or(0)
    }

    pub fn is_backup(&self, i: usize) -> bool {
        self.backup.get(i).copied().unwrap_or(false)
    }

    pub fn is_usable(&self, i: usize) -> bool {
        self.usable.get(i).copied().unwrap_or(false)
    }

    /// Whether the server would be usable with health state `up` (`srv_willbe_usable`).
    pub fn would_be_usable(&self, i: usize, up: bool) -> bool {
        up && !self.disabled.get(i).copied().unwrap_or(true) && self.eweight(i) > 0
    }

    /// `maxconn` reached (no queue model: `served >= maxconn`).
    pub fn saturated(&self, i: usize, peers: &[PeerState]) -> bool {
        let max = self.maxconn.get(i).copied().unwrap_or(0);
        max > 0 && peers.get(i).is_some_and(|p| p.conns >= max)
    }

    /// `recount_servers` then `update_backend_weight`.
    pub fn recount(&mut self) {
        self.srv_act = 0;
        self.srv_bck = 0;
        self.tot_wact = 0;
        self.tot_wbck = 0;
        self.fbck = None;
        for i in 0..self.len() {
            if !self.usable[i] {
                continue;
            }
            if self.backup[i] {
                if self.srv_bck == 0 {
                    self.fbck = Some(i);
                }
                self.srv_bck += 1;
                self.tot_wbck += self.eweight[i];
            } else {
                self.srv_act += 1;
                self.tot_wact += self.eweight[i];
            }
        }
        if self.srv_act > 0 {
            self.tot_weight = self.tot_wact;
            self.tot_used = self.srv_act;
        } else if let Some(f) = self.fbck {
            // Only the first backup server is used.
            self.tot_weight = self.eweight[f];
            self.tot_used = 1;
        } else {
            self.tot_weight = self.tot_wbck;
            self.tot_used = self.srv_bck;
        }
    }

    /// Commit a health change; returns `Some(new usable state)` when it changed.
    pub fn set_up(&mut self, i: usize, up: bool) -> Option<bool> {
        let now = self.would_be_usable(i, up);
        let slot = self.usable.get_mut(i)?;
        if *slot == now {
            return None;
        }
        *slot = now;
        self.recount();
        Some(now)
    }
}

/// `full_hash` (include/haproxy/tools.h): Bob Jenkins' / Thomas Wang's 32-bit integer
/// avalanche used for consistent-hash keys and the `avalanche` hash modifier.
pub(crate) fn full_hash(mut a: u32) -> u32 {
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    // Then "multiplying by a large prime close to 3/4 of the tree" (tools.h): without this
    // step the ring points and avalanche keys are not HAProxy's.
    a.wrapping_mul(3_221_225_473)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_keep_insertion_order() {
        let mut t = EbTree::with_capacity(4);
        t.insert(5, 1);
        t.insert(3, 2);
        t.insert(5, 3);
        t.insert(3, 4);
        let v: Vec<_> = t.iter().collect();
        assert_eq!(v, [(3, 2), (3, 4), (5, 1), (5, 3)]);
        assert!(t.remove(2));
        assert_eq!(t.first(), Some((3, 4)));
        assert_eq!(t.lookup_ge(4), Some(1));
        assert_eq!(t.lookup_ge(6), None);
    }

    #[test]
    fn full_hash_known_values() {
        // Computed step by step from the definition for a = 0:
        // 0x7ed55d16 -> ... ; the function must be a bijection-like mixer, and
        // full_hash(0) != 0.
        assert_ne!(full_hash(0), 0);
        assert_ne!(full_hash(1), full_hash(2));
        // Exact values, from a line-by-line transcription of tools.h's full_hash (the six
        // mixing steps, then * 3221225473, all mod 2^32) evaluated in Python.
        assert_eq!(full_hash(0), 0xab4e_d927);
        assert_eq!(full_hash(1), 0x3486_81b6);
        assert_eq!(full_hash(0x7f01_0101), 0x82d0_5f7a);
    }
}
