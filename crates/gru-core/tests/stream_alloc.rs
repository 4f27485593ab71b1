//! A stream step of the native fast path allocates nothing once it has run a step of the
//! largest `n` (the warm-up), and neither do `open`, `close`, `reset`, `state` and
//! `set_state`: a counting global allocator counts the allocations of this test's thread
//! while it steps (every reset mode, two layers, n varying below the warm-up's).

mod common;

use common::allocations_during as allocations_of;
use gru_core::{GruParams, GruSpec, NativeEngine, ResetGateMode, StreamSet};

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
            // The counter sees an allocation of this thread (a check that can fail).
            assert!(allocations_of(|| drop(std::hint::black_box(vec![0u8; 16]))) >= 1);
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
