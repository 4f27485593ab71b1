//! The OneDNN stream step keeps its primitives and buffers across steps: once a step of
//! each `n` has run, a step allocates nothing on the Rust side (the counting allocator of
//! gru-core's allocation tests counts this test's thread; oneDNN's own heap is not Rust's).
//! It still computes what `forward` over one step computes. Skipped with a notice where
//! libdnnl is not installed, unless `GRU_REQUIRE_ONEDNN=1` (CI).

#[path = "../../gru-core/tests/common/mod.rs"]
mod common;

use common::allocations_during;
use gru_core::{Engine, GruParams, GruSpec, Plan, ResetGateMode, SequenceBatch, StreamSet};
use gru_onednn::OneDnnEngine;

fn params(spec: &GruSpec) -> GruParams<f32> {
    let mut p = GruParams::zeros(spec);
    let flat: Vec<f32> = (0..p.num_params()).map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.4).collect();
    p.set_flat(&flat).unwrap();
    p
}

#[test]
fn a_warm_onednn_stream_step_allocates_nothing_and_equals_forward() {
    let Some(engine) = OneDnnEngine::load_or_skip("a_warm_onednn_stream_step_allocates_nothing_and_equals_forward")
        .expect("GRU_REQUIRE_ONEDNN=1: libdnnl.so.2 must load (apt-get install libdnnl2)")
    else {
        return;
    };
    for mode in ResetGateMode::ALL {
        // I != H and depth 3: two primitives (layer 0, then layers 1 and 2).
        for (input, depth) in [(5, 3), (8, 1)] {
            let spec = GruSpec::new(input, 8).with_depth(depth).with_reset_gate_mode(mode);
            let p = params(&spec);
            let capacity = 4;
            let mut set = StreamSet::prepare(&engine, &spec, &p, capacity).unwrap();
            assert_eq!(set.prepared().computed_by(), gru_onednn::COMPUTED_BY);
            let ids: Vec<_> = (0..capacity).map(|_| set.open().unwrap()).collect();
            let frames: Vec<f32> = (0..capacity * input).map(|i| (i as f32 * 0.37).sin()).collect();
            // Warm-up: a step of each n (each has its primitive).
            for n in 1..=capacity {
                set.step(&frames[..n * input], &ids[..n]).unwrap();
            }
            // The step computes what forward over one step does with the states as h0.
            let mut whole = engine.prepare(&spec, &p, &Plan::inference()).unwrap();
            let h0: Vec<f32> = (0..depth)
                .flat_map(|layer| (0..3).flat_map(move |i| (0..8).map(move |k| (layer, i, k))))
                .map(|(layer, i, k)| set.state(ids[i]).unwrap()[layer * 8 + k])
                .collect();
            let expected =
                whole.forward(&SequenceBatch::new(&frames[..3 * input], 1, 3).with_initial_state(&h0)).unwrap();
            let y = set.step(&frames[..3 * input], &ids[..3]).unwrap().to_vec();
            assert_eq!(y, expected.y, "{mode:?} I{input} D{depth}");

            let mut checksum = 0.0f32;
            assert!(allocations_during(|| drop(std::hint::black_box(vec![0u8; 16]))) >= 1);
            let count = allocations_during(|| {
                for round in 0..40 {
                    let n = 1 + round % capacity;
                    checksum += set.step(&frames[..n * input], &ids[..n]).unwrap()[0];
                }
            });
            assert!(checksum.is_finite());
            assert_eq!(count, 0, "{mode:?} I{input} D{depth}: {count} allocations in 40 warm steps");
        }
    }
}
