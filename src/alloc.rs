//! The allocator of the `sessim` binary and the benchmark: the system allocator, asking the
//! kernel to back large blocks with 2 MiB pages.
//!
//! At a million users the simulator's big arrays (the session tables, the users, the event
//! queue's buckets) are hundreds of MiB read at random: with 4 KiB pages nearly every access
//! also misses the TLB and walks the page table. Linux backs a region with transparent huge
//! pages when it is marked `MADV_HUGEPAGE` (madvise(2); the default `enabled` mode on Debian is
//! `madvise`), so every block of 8 MiB or more is marked when it is allocated or grown. This
//! changes where memory sits, never what the simulation computes. Elsewhere than Linux it is
//! the plain system allocator.

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, with large blocks advised onto huge pages.
pub struct HugePages;

/// Blocks at least this large are advised (smaller ones would round up to a whole huge page).
const THRESHOLD: usize = 8 << 20;
const HUGE_PAGE: usize = 2 << 20;

#[cfg(target_os = "linux")]
fn advise(ptr: *mut u8, size: usize) {
    if ptr.is_null() || size < THRESHOLD {
        return;
    }
    // Only the whole 2 MiB pages inside the block.
    let start = (ptr as usize).div_ceil(HUGE_PAGE) * HUGE_PAGE;
    let end = (ptr as usize + size) / HUGE_PAGE * HUGE_PAGE;
    if start < end {
        // SAFETY: [start, end) lies inside a block the system allocator just returned to us;
        // MADV_HUGEPAGE changes how the kernel backs those pages, not their contents, and a
        // failure (a kernel without THP) leaves them as they were.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_ptr: *mut u8, _size: usize) {}

// SAFETY: every method forwards to `System` with the same arguments and returns its result;
// `advise` only adds a hint on memory `System` handed out.
unsafe impl GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let p = unsafe { System.alloc(layout) };
        advise(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let p = unsafe { System.alloc_zeroed(layout) };
        advise(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as received.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        advise(p, new_size);
        p
    }
}
