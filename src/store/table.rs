//! The session table every server-side strategy keeps: session id -> item, with each item on
//! one of several intrusive doubly linked lists in order of last touch (a node's sessions, a
//! store server's LRU, a memcached slab class's LRU).
//!
//! Lists serve both expiry and eviction without scanning: every item of a list shares one
//! lifetime, so the list's head is the next to expire and the least recently used. Memory is
//! the live items plus tombstones (items remembered as gone, with the cause, until they would
//! have expired), so it is bounded by the sessions alive within one lifetime.

use super::index::SidIndex;
use super::{LostCause, SessionId};
use crate::engine::SimTime;

const NIL: u32 = u32::MAX;

/// One session in a table: 64 bytes, aligned to a cache line, so that reading an item (its id,
/// its tombstone mark, its lifetime) and relinking it cost one cache miss each. `aux`, `aux2`
/// and `stamp` belong to the strategy (`local`: `aux` is the request holding the file lock,
/// plus one, 0 when unlocked; `cluster`: `aux` is the server; `replicated_backup`: the
/// primary and the backup node).
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub(crate) struct Item {
    pub(crate) sid: SessionId,
    /// Last touch (the list order).
    pub(crate) touched: SimTime,
    pub(crate) stamp: SimTime,
    /// When the item was created.
    pub(crate) created: SimTime,
    pub(crate) list: u32,
    prev: u32,
    next: u32,
    /// Bytes (or slab class) the item takes, as its strategy accounts them.
    pub(crate) bytes: u32,
    /// Data writes so far (last-writer-wins accounting).
    pub(crate) version: u32,
    pub(crate) aux: u32,
    pub(crate) aux2: u32,
    pub(crate) class: u16,
    /// A tombstone: the session is gone, for this reason.
    pub(crate) gone: Option<LostCause>,
}

const _: () = assert!(std::mem::size_of::<Item>() == 64);

/// `list` of a free slot; its `next` links the free slots.
const FREE: u32 = u32::MAX;

pub(crate) struct Table {
    map: SidIndex,
    /// Items by slot; free slots are reused last-freed first (as the `slab` crate does, so
    /// slot numbers, and with them the order of [`Table::slots`], are what they were).
    items: Vec<Item>,
    free: u32,
    live: usize,
    /// (head, tail, length) of each list.
    lists: Vec<(u32, u32, u64)>,
}

impl Table {
    pub(crate) fn new(lists: usize) -> Self {
        Table {
            map: SidIndex::default(),
            items: Vec::with_capacity(1024),
            free: NIL,
            live: 0,
            lists: vec![(NIL, NIL, 0); lists],
        }
    }

    #[inline]
    pub(crate) fn get(&self, sid: SessionId) -> Option<u32> {
        self.map.get(sid)
    }

    #[inline]
    pub(crate) fn item(&self, slot: u32) -> &Item {
        &self.items[slot as usize]
    }

    #[inline]
    pub(crate) fn item_mut(&mut self, slot: u32) -> &mut Item {
        &mut self.items[slot as usize]
    }

    /// Starts loading `sid`'s index entry (see [`crate::engine::prefetch`]).
    #[inline]
    pub(crate) fn prefetch(&self, sid: SessionId) {
        self.map.prefetch(sid);
    }

    /// Starts loading `sid`'s item: reads its index entry (which [`Table::prefetch`] should
    /// have loaded by now) and asks for the item's cache line.
    #[inline]
    pub(crate) fn prefetch_item(&self, sid: SessionId) {
        if let Some(slot) = self.map.get(sid) {
            crate::engine::prefetch(self.items.as_ptr().wrapping_add(slot as usize));
        }
    }

    /// Starts loading the list neighbours of the item in `slot`, which a [`Table::touch`] or
    /// [`Table::move_to`] of it will relink.
    #[inline]
    pub(crate) fn prefetch_neighbours(&self, slot: u32) {
        let it = &self.items[slot as usize];
        for n in [it.prev, it.next] {
            if n != NIL {
                crate::engine::prefetch(self.items.as_ptr().wrapping_add(n as usize));
            }
        }
    }

    /// Inserts `sid` at the tail of `list` (replacing any item of that id).
    pub(crate) fn insert(&mut self, sid: SessionId, list: u32, now: SimTime) -> u32 {
        if let Some(old) = self.get(sid) {
            self.remove(old);
        }
        let item = Item {
            sid,
            touched: now,
            stamp: now,
            created: now,
            list,
            prev: NIL,
            next: NIL,
            bytes: 0,
            version: 0,
            aux: 0,
            aux2: 0,
            class: 0,
            gone: None,
        };
        let slot = if self.free != NIL {
            let slot = self.free;
            self.free = self.items[slot as usize].next;
            self.items[slot as usize] = item;
            slot
        } else {
            self.items.push(item);
            (self.items.len() - 1) as u32
        };
        self.live += 1;
        self.map.insert(sid, slot);
        self.link_tail(slot);
        slot
    }

    fn link_tail(&mut self, slot: u32) {
        let list = self.items[slot as usize].list as usize;
        let tail = self.lists[list].1;
        {
            let it = &mut self.items[slot as usize];
            it.prev = tail;
            it.next = NIL;
        }
        if tail == NIL {
            self.lists[list].0 = slot;
        } else {
            self.items[tail as usize].next = slot;
        }
        self.lists[list].1 = slot;
        self.lists[list].2 += 1;
    }

    fn unlink(&mut self, slot: u32) {
        let (list, prev, next) = {
            let it = &self.items[slot as usize];
            (it.list as usize, it.prev, it.next)
        };
        if prev == NIL {
            self.lists[list].0 = next;
        } else {
            self.items[prev as usize].next = next;
        }
        if next == NIL {
            self.lists[list].1 = prev;
        } else {
            self.items[next as usize].prev = prev;
        }
        self.lists[list].2 -= 1;
    }

    /// Marks the item used at `now`: it moves to the tail of its list.
    #[inline]
    pub(crate) fn touch(&mut self, slot: u32, now: SimTime) {
        self.unlink(slot);
        self.items[slot as usize].touched = now;
        self.link_tail(slot);
    }

    /// Moves the item to the tail of another list.
    pub(crate) fn move_to(&mut self, slot: u32, list: u32, now: SimTime) {
        self.unlink(slot);
        let it = &mut self.items[slot as usize];
        it.list = list;
        it.touched = now;
        self.link_tail(slot);
    }

    pub(crate) fn remove(&mut self, slot: u32) -> Item {
        self.unlink(slot);
        let it = self.items[slot as usize].clone();
        self.map.remove(it.sid);
        let freed = &mut self.items[slot as usize];
        freed.list = FREE;
        freed.next = self.free;
        self.free = slot;
        self.live -= 1;
        it
    }

    /// The least recently touched item of `list`.
    #[inline]
    pub(crate) fn head(&self, list: u32) -> Option<u32> {
        match self.lists[list as usize].0 {
            NIL => None,
            s => Some(s),
        }
    }

    pub(crate) fn len(&self, list: u32) -> u64 {
        self.lists[list as usize].2
    }

    /// Every item, in slot order (for rare whole-table events such as a crash; slot order is
    /// deterministic, unlike hash-map order).
    pub(crate) fn slots(&self) -> Vec<u32> {
        (0..self.items.len() as u32)
            .filter(|&k| self.items[k as usize].list != FREE)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_touch_order() {
        let t0 = SimTime::from_secs;
        let mut t = Table::new(2);
        let a = t.insert(1, 0, t0(1));
        let b = t.insert(2, 0, t0(2));
        let c = t.insert(3, 1, t0(3));
        assert_eq!((t.len(0), t.len(1)), (2, 1));
        assert_eq!(t.head(0), Some(a));
        t.touch(a, t0(4));
        assert_eq!(t.head(0), Some(b), "touching moves to the tail");
        t.move_to(b, 1, t0(5));
        assert_eq!(t.head(0), Some(a));
        assert_eq!(t.head(1), Some(c));
        assert_eq!(t.remove(c).sid, 3);
        assert_eq!(t.head(1), Some(b));
        assert_eq!(t.get(3), None);
        t.remove(a);
        assert_eq!(t.head(0), None);
        assert_eq!(t.len(0), 0);
    }
}
