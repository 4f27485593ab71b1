//! A stream step whose hidden units are split between the caller and a helper thread
//! (`native/step_team.rs`) allocates nothing on any thread once it has run a step of the
//! largest `n`: a counting global allocator counts the allocations of the whole process
//! while the streams step (the only test of this binary, so nothing else runs meanwhile).

mod common;

use common::allocations_everywhere_during;
use gru_core::{GruParams, GruSpec, NativeEngine, ResetGateMode, StreamSet};

fn params(spec: &GruSpec) -> GruParams<f32> {
    let mut p = GruParams::zeros(spec);
    let flat: Vec<f32> = (0..p.num_params()).map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.2).collect();
    p.set_flat(&flat).unwrap();
    p
}

#[test]
fn a_warm_split_stream_step_allocates_nothing_on_any_thread() {
    for mode in [ResetGateMode::AfterMultiplication, ResetGateMode::RecurrentBiasAfterMultiplication] {
        let spec = GruSpec::new(5, 130).with_depth(2).with_reset_gate_mode(mode);
        let capacity = 4;
        let engine = NativeEngine::with_threads(2).with_unit_split(true);
        let mut set = StreamSet::prepare(&engine, &spec, &params(&spec), capacity).unwrap();
        let ids: Vec<_> = (0..capacity).map(|_| set.open().unwrap()).collect();
        let frames: Vec<f32> = (0..capacity * 5).map(|i| (i as f32 * 0.37).sin()).collect();
        // Warm-up: a step of every stream (starts the helper thread, sizes the buffers).
        set.step(&frames, &ids).unwrap();
        let explained = set.prepared().explain().unwrap_or_default();
        assert!(explained.contains("unit-split on 2 workers"), "{mode:?}: {explained}");
        // The counter sees an allocation (a check that can fail).
        assert!(allocations_everywhere_during(|| drop(std::hint::black_box(vec![0u8; 16]))) >= 1);
        let mut checksum = 0.0f32;
        let count = allocations_everywhere_during(|| {
            for round in 0..200 {
                let n = 1 + round % capacity;
                let y = set.step(&frames[..n * 5], &ids[..n]).unwrap();
                checksum += y[0];
                if round % 50 == 49 {
                    // Long enough for the helper to park: the next step wakes it.
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
        });
        assert!(checksum.is_finite());
        assert_eq!(count, 0, "{mode:?}: {count} allocations in 200 warm split steps");
        assert!(set.prepared().explain().unwrap_or_default().contains("unit-split on 2 workers"));
    }
}
