//! A stream step of the native fast path allocates nothing once it has run a step of the
//! largest `n` (the warm-up), and neither do `open`, `close`, `reset`, `state` and
//! `set_state`: a counting global allocator counts the allocations of this test's thread
//! while it steps (every reset mode, two layers, n varying below the warm-up's).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use gru_core::{GruParams, GruSpec, NativeEngine, ResetGateMode, StreamSet};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: as `alloc`; `ptr` came from this allocator, that is from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations_of(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn params(spec: &GruSpec) -> GruParams<f32> {
    let mut p = GruParams::zeros(spec);
    let flat: Vec<f32> = (0..p.num_params()).map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.4).collect();
    p.set_flat(&flat).unwrap();
    p
}

#[test]
fn a_warm_stream_step_allocates_nothing() {
    for mode in ResetGateMode::ALL {
        for hidden in [8, 96] {
            let spec = GruSpec::new(5, hidden).with_depth(2).with_reset_gate_mode(mode);
            let capacity = 6;
            let mut set = StreamSet::prepare(&NativeEngine::new(), &spec, &params(&spec), capacity).unwrap();
            let ids: Vec<_> = (0..capacity).map(|_| set.open().unwrap()).collect();
            let frames: Vec<f32> = (0..capacity * 5).map(|i| (i as f32 * 0.37).sin()).collect();
            let h = vec![0.25f32; 2 * hidden];
            // Warm-up: one step of every stream.
            set.step(&frames, &ids).unwrap();
            let mut checksum = 0.0f32;
            let count = allocations_of(|| {
                for round in 0..50 {
                    // Streams 0..5 (stream 5 closes below), n from 1 to 5.
                    let n = 1 + round % (capacity - 1);
                    let start = round % (capacity - n);
                    let y = set.step(&frames[..n * 5], &ids[start..start + n]).unwrap();
                    checksum += y[0];
                    if round % 7 == 0 {
                        set.reset(&ids[..2]).unwrap();
                        set.set_state(ids[3], &h).unwrap();
                        checksum += set.state(ids[4]).unwrap()[0];
                    }
                    if round == 11 {
                        set.close(ids[5]).unwrap();
                        let again = set.open().unwrap();
                        assert_eq!(again.slot(), ids[5].slot());
                        set.close(again).unwrap();
                    }
                }
            });
            assert!(checksum.is_finite());
            assert_eq!(count, 0, "{mode:?} H{hidden}: {count} allocations in 50 warm steps");
        }
    }
}
