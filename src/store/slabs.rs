//! memcached's memory as memcached manages it (memcached `slabs.c`): memory is handed out in
//! pages (1 MiB by default) to slab classes whose chunk sizes grow by a factor (`-f`, 1.25);
//! an item takes the smallest chunk that holds it, and a page once given to a class stays
//! there. So how many sessions fit depends on their size class, not on bytes divided by size.
//!
//! Classes as `slabs_init` builds them: the first chunk is 96 bytes (a 48-byte item header plus
//! the default `-n 48`), each next one is the previous times the factor, rounded up to 8
//! bytes, until half a page (`slab_chunk_max`), which is the last class. An item larger than
//! that takes several chunks of the last class (memcached 1.6 chunked items), up to one page.

/// The smallest chunk: `sizeof(item)` (48) + the default minimum space `-n 48`.
const MIN_CHUNK: u32 = 96;
const ALIGN: u32 = 8;

#[derive(Clone, Debug)]
pub(crate) struct Slabs {
    page_size: u32,
    chunk: Vec<u32>,
    per_page: Vec<u32>,
    pages: Vec<u64>,
    used: Vec<u64>,
    /// Pages not yet given to any class.
    free_pages: u64,
}

impl Slabs {
    pub(crate) fn new(memory: u64, page_size: u32, factor: f64) -> Self {
        let chunk_max = page_size / 2;
        let mut chunk = Vec::new();
        let mut size = MIN_CHUNK;
        // memcached: `if (size >= settings.slab_chunk_size_max / factor) break;`
        while (size as f64) < chunk_max as f64 / factor && chunk.len() < 62 {
            if !size.is_multiple_of(ALIGN) {
                size += ALIGN - size % ALIGN;
            }
            chunk.push(size);
            // `size *= factor` on an unsigned int: truncates.
            size = (size as f64 * factor) as u32;
        }
        chunk.push(chunk_max.max(MIN_CHUNK));
        let per_page: Vec<u32> = chunk.iter().map(|c| (page_size / c).max(1)).collect();
        let n = chunk.len();
        Slabs {
            page_size,
            chunk,
            per_page,
            pages: vec![0; n],
            used: vec![0; n],
            free_pages: memory / page_size as u64,
        }
    }

    pub(crate) fn classes(&self) -> usize {
        self.chunk.len()
    }

    #[cfg(test)]
    pub fn chunk_size(&self, class: usize) -> u32 {
        self.chunk[class]
    }

    /// The class of an item of `bytes` (header, key and value), and how many chunks it takes;
    /// `None` if it is larger than a page (memcached's item size limit `-I`).
    pub(crate) fn class_of(&self, bytes: u32) -> Option<(u16, u32)> {
        if bytes > self.page_size {
            return None;
        }
        let last = self.chunk.len() - 1;
        match self.chunk.iter().position(|&c| c >= bytes) {
            Some(c) => Some((c as u16, 1)),
            None => Some((last as u16, bytes.div_ceil(self.chunk[last]))),
        }
    }

    /// Takes `n` chunks of `class` from its free chunks or from new pages; false if the class
    /// is full and no page is left (the caller evicts from the class's LRU, or fails). A class
    /// without any page gets one even past the limit, as in memcached.
    pub(crate) fn alloc(&mut self, class: u16, n: u32) -> bool {
        let c = class as usize;
        let n = n as u64;
        loop {
            let capacity = self.pages[c] * self.per_page[c] as u64;
            if self.used[c] + n <= capacity {
                self.used[c] += n;
                return true;
            }
            if self.free_pages > 0 {
                self.free_pages -= 1;
            } else if self.pages[c] > 0 {
                return false;
            }
            // memcached's `do_slabs_newslab` refuses a page past the memory limit only to a
            // class that already has one (`p->slabs > 0`): every class gets its first page.
            self.pages[c] += 1;
        }
    }

    pub(crate) fn free(&mut self, class: u16, n: u32) {
        let c = class as usize;
        self.used[c] = self.used[c].saturating_sub(n as u64);
    }

    /// Bytes of pages handed to classes (past the limit by the first pages of late classes).
    pub(crate) fn memory_used(&self) -> u64 {
        self.pages.iter().sum::<u64>() * self.page_size as u64
    }

    #[cfg(test)]
    /// Chunks of `class` that its pages hold.
    pub fn capacity(&self, class: u16) -> u64 {
        self.pages[class as usize] * self.per_page[class as usize] as u64
    }

    /// Forgets every item and page (a restart).
    pub(crate) fn reset(&mut self) {
        let total: u64 = self.pages.iter().sum();
        self.free_pages += total;
        self.pages.iter_mut().for_each(|p| *p = 0);
        self.used.iter_mut().for_each(|u| *u = 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_memcached_vv_output() {
        // `memcached -vv` with the defaults prints: class 1 chunk 96 perslab 10922, 2: 120 8738,
        // 3: 152 6898, 4: 192 5461, 5: 240 4369, 6: 304 3449, 7: 384 2730, 8: 480 2184,
        // 9: 600 1747, 10: 752 1394, 11: 944 1110, 12: 1184 885, ..., the last 524288 perslab 2.
        let s = Slabs::new(64 << 20, 1 << 20, 1.25);
        let first: Vec<(u32, u32)> = (0..12).map(|c| (s.chunk[c], s.per_page[c])).collect();
        assert_eq!(
            first,
            vec![
                (96, 10922),
                (120, 8738),
                (152, 6898),
                (192, 5461),
                (240, 4369),
                (304, 3449),
                (384, 2730),
                (480, 2184),
                (600, 1747),
                (752, 1394),
                (944, 1110),
                (1184, 885)
            ]
        );
        let last = s.classes() - 1;
        assert_eq!((s.chunk[last], s.per_page[last]), (524_288, 2));
        // memcached 1.6 with -f 1.25 has 39 classes ending with 524288.
        assert_eq!(s.classes(), 39);
    }

    #[test]
    fn capacity_is_pages_times_chunks_per_page() {
        // 3 MiB = 3 pages. A 1000-byte session + 40-byte key + 50-byte header = 1090 bytes
        // takes a 1184-byte chunk (class 12): 885 per page. Bytes divided by size would say
        // 3 * 1048576 / 1090 = 2886 fit; the slab allocator holds 3 * 885 = 2655.
        let mut s = Slabs::new(3 << 20, 1 << 20, 1.25);
        let (class, n) = s.class_of(1090).unwrap();
        assert_eq!((s.chunk_size(class as usize), n), (1184, 1));
        let mut stored = 0;
        while s.alloc(class, 1) {
            stored += 1;
        }
        assert_eq!(stored, 3 * 885);
        // Every page went to that class. A small item (a lock) still gets its class's first
        // page past the limit (memcached's `p->slabs > 0` rule): 8738 chunks of 120 bytes, and
        // no second page.
        let (small, _) = s.class_of(100).unwrap();
        for _ in 0..8738 {
            assert!(s.alloc(small, 1));
        }
        assert!(!s.alloc(small, 1));
        assert_eq!(s.capacity(small), 8738);
        s.free(class, 1);
        assert!(s.alloc(class, 1), "a freed chunk is reused");
        assert!(s.class_of((1 << 20) + 1).is_none(), "larger than a page: refused");
        assert_eq!(s.class_of(600_000), Some((38, 2)), "chunked over two 512 KiB chunks");
    }
}
