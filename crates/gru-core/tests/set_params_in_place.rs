//! `PreparedGru::set_params` on the native engine refreshes the packed weights in the
//! buffers it already has: it allocates nothing (counted by this binary's global
//! allocator, on the calling thread), and the refreshed engine computes what an engine
//! freshly prepared with the new parameters computes, bit for bit: every reset mode, f32
//! (the panel kernel where the CPU has AVX-512) and f64, inference and training, dense
//! blocks and the unit split.

mod common;

use common::allocations_during;
use gru_core::{Engine, GruParams, GruSpec, NativeEngine, OutputGrads, Plan, Real, ResetGateMode, SequenceBatch};

/// Deterministic values in (-0.5, 0.5) (a 64-bit LCG).
fn values<T: Real>(n: usize, seed: u64) -> Vec<T> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            T::lit((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        })
        .collect()
}

fn params<T: Real>(spec: &GruSpec, seed: u64) -> GruParams<T> {
    let mut p = GruParams::<T>::zeros(spec);
    p.set_flat(&values(p.num_params(), seed)).expect("same length");
    p
}

fn bits<T: Real>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.widen().to_bits()).collect()
}

/// Every output and gradient of one forward (and, in training, backward) pass.
fn results<T: Real>(engine: &NativeEngine, spec: &GruSpec, p: &GruParams<T>, plan: &Plan, fresh: bool) -> Vec<u64> {
    let (steps, batch) = (4, 3);
    let x = values::<T>(steps * batch * spec.input_size, 7);
    let lengths = [4, 2, 3];
    let b = SequenceBatch::new(&x, steps, batch).with_lengths(&lengths);
    let mut gru = if fresh {
        engine.prepare(spec, p, plan).expect("prepare")
    } else {
        // Prepared with other parameters, then given `p` twice: neither call allocates.
        let mut gru = engine.prepare(spec, &params(spec, 99), plan).expect("prepare");
        let other = params::<T>(spec, 98);
        let first = allocations_during(|| gru.set_params(&other).expect("set_params"));
        let second = allocations_during(|| gru.set_params(p).expect("set_params"));
        assert_eq!((first, second), (0, 0), "allocations in set_params ({:?}, {:?})", spec.reset_gate_mode, plan.mode);
        gru
    };
    if plan.mode == gru_core::Mode::Inference {
        let o = gru.forward(&b).expect("forward");
        return [bits(&o.y), bits(&o.h_t)].concat();
    }
    let (o, saved) = gru.forward_train(&b).expect("forward_train");
    let dy = values::<T>(o.y.len(), 8);
    let dh_t = values::<T>(o.h_t.len(), 9);
    let g = gru.backward(saved, &OutputGrads { dy: &dy, dh_t: Some(&dh_t) }).expect("backward");
    [bits(&o.y), bits(&o.h_t), bits(&g.dx), bits(&g.dh0), bits(&g.params.to_flat())].concat()
}

fn check<T: Real>() {
    let engines = [
        NativeEngine::with_threads(1),
        NativeEngine::with_threads(2).with_unit_split(true),
        NativeEngine::with_threads(3).with_unit_split(true),
    ];
    for mode in ResetGateMode::ALL {
        // H = 20: unit slices of 10 and 6-7 units, panels with zero-padded tails.
        let spec = GruSpec::new(7, 20).with_reset_gate_mode(mode).with_depth(2).with_bidirectional(true);
        let p = params::<T>(&spec, 1);
        for engine in &engines {
            for plan in [Plan::inference(), Plan::training()] {
                let refreshed = results(engine, &spec, &p, &plan, false);
                let fresh = results(engine, &spec, &p, &plan, true);
                assert!(refreshed == fresh, "set_params vs prepare differ: {mode:?} {:?} {engine:?}", plan.mode);
            }
        }
    }
}

#[test]
fn set_params_allocates_nothing_and_equals_a_fresh_prepare_f32() {
    check::<f32>();
}

#[test]
fn set_params_allocates_nothing_and_equals_a_fresh_prepare_f64() {
    check::<f64>();
}

#[test]
fn the_counter_counts() {
    assert_eq!(allocations_during(|| drop(std::hint::black_box(vec![0u8; 16]))), 1);
    let p = params::<f32>(&GruSpec::new(3, 4), 1);
    assert!(allocations_during(|| drop(std::hint::black_box(p.clone()))) > 0);
}
