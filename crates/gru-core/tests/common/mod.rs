//! The counting global allocator of the allocation tests (`set_params_in_place.rs`,
//! `stream_alloc.rs`, `stream_split_alloc.rs`, and through `#[path]` the stream allocation
//! tests of `gru` and `gru-onednn`): each test binary that declares `mod common;` counts
//! the allocations made while a closure runs, per thread and in the whole process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the allocations of each thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Allocations of every thread.
static ALL_THREADS: AtomicUsize = AtomicUsize::new(0);

fn count() {
    // `try_with`: a thread being torn down has no counter left (nothing to count there).
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
    ALL_THREADS.fetch_add(1, Ordering::Relaxed);
}

// SAFETY: every call is passed on unchanged to the system allocator, which upholds the
// `GlobalAlloc` contract; the counters (a const-initialized thread-local `Cell` and a
// static atomic) never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's layout, as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's layout, as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
#[allow(dead_code)] // Not every test binary that declares `mod common;` uses it.
pub fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Allocations made by every thread of the process while `f` runs: for code that hands
/// work to threads of its own. Only meaningful where nothing else runs at the same time
/// (a test binary of one test).
#[allow(dead_code)] // Not every test binary that declares `mod common;` uses it.
pub fn allocations_everywhere_during(f: impl FnOnce()) -> usize {
    let before = ALL_THREADS.load(Ordering::SeqCst);
    f();
    ALL_THREADS.load(Ordering::SeqCst) - before
}
