//! A slab of records addressed by `u32` slots, for the users alive in a run: a vector with
//! freed slots reused last-freed first (the numbering the `slab` crate gives), whose record
//! addresses can be computed without reading memory, so that the record of the next event
//! can be prefetched while the current one is handled.

use crate::engine::prefetch;

pub struct Slots<T> {
    entries: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Slots<T> {
    pub fn with_capacity(n: usize) -> Self {
        Slots {
            entries: Vec::with_capacity(n),
            free: Vec::new(),
        }
    }

    pub fn insert(&mut self, value: T) -> usize {
        match self.free.pop() {
            Some(k) => {
                self.entries[k as usize] = Some(value);
                k as usize
            }
            None => {
                self.entries.push(Some(value));
                self.entries.len() - 1
            }
        }
    }

    /// Removes the record in `slot`. Panics if there is none (a model bug, never input).
    pub fn remove(&mut self, slot: usize) -> T {
        let v = self.entries[slot].take().expect("removed a free slot");
        self.free.push(slot as u32);
        v
    }

    /// How many slots there are, free or not.
    #[inline]
    pub fn slots(&self) -> usize {
        self.entries.len()
    }

    /// Starts loading the record in `slot` (a hint; any slot number is harmless): its first
    /// and its last byte, for a record that is not a whole number of cache lines (a user's is
    /// 96 bytes: every other one straddles two lines).
    #[inline]
    pub fn prefetch(&self, slot: u32) {
        let at = self.entries.as_ptr().wrapping_add(slot as usize);
        prefetch(at);
        if !std::mem::size_of::<Option<T>>().is_multiple_of(64) {
            prefetch((at as *const u8).wrapping_add(std::mem::size_of::<Option<T>>() - 1));
        }
    }
}

impl<T> std::ops::Index<usize> for Slots<T> {
    type Output = T;
    #[inline]
    fn index(&self, slot: usize) -> &T {
        self.entries[slot].as_ref().expect("read a free slot")
    }
}

impl<T> std::ops::IndexMut<usize> for Slots<T> {
    #[inline]
    fn index_mut(&mut self, slot: usize) -> &mut T {
        self.entries[slot].as_mut().expect("wrote a free slot")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_slots_as_slab_does() {
        let mut a = Slots::with_capacity(2);
        let mut b = slab::Slab::with_capacity(2);
        for step in 0..1000u64 {
            let r = crate::engine::rng::mix64(step);
            if r.is_multiple_of(3) && !b.is_empty() {
                let k = (r >> 8) as usize % b.capacity();
                if b.contains(k) {
                    assert_eq!(a.remove(k), b.remove(k));
                }
            } else {
                assert_eq!(a.insert(step), b.insert(step));
            }
        }
    }
}
