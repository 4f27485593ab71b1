//! The fast path's threads (the batch split between workers) compute what one thread and
//! the scalar reference compute, for every reset mode, ragged and bidirectional batches.

use gru_conformance::cases::{cross_product, Case};
use gru_conformance::compare::{check_close, widen, Tolerance};
use gru_core::{KoraliEngine, Real};

fn check<T: Real>() {
    let tol = Tolerance::of(T::DTYPE);
    // Every 7th point of the cross product: all modes, activations, depths, directions.
    for (i, point) in cross_product().iter().enumerate().filter(|(i, _)| i % 7 == 0) {
        let case = Case::<T>::random(&point.spec(3, 4), 6, 11, point.lengths, point.given_h0, 500 + i as u64);
        let (ref_out, ref_g) = case.run(&KoraliEngine::reference()).unwrap();
        for threads in [1, 2, 3] {
            let (out, g) = case.run(&KoraliEngine::with_threads(threads)).unwrap();
            let what = format!("{} threads {point:?}", threads);
            check_close("y", &out.y, &widen(&ref_out.y), tol.values).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_close("h_t", &out.h_t, &widen(&ref_out.h_t), tol.values).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_close("dx", &g.dx, &widen(&ref_g.dx), tol.grads).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_close("dh0", &g.dh0, &widen(&ref_g.dh0), tol.grads).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_close("params", &g.params.to_flat(), &widen(&ref_g.params.to_flat()), tol.grads)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    }
}

#[test]
fn threads_match_the_reference_f64() {
    check::<f64>();
}

#[test]
fn threads_match_the_reference_f32() {
    check::<f32>();
}

/// Inference with the hidden units split between threads equals the reference.
#[test]
fn unit_split_inference_matches_the_reference() {
    use gru_core::{Engine, Plan, ResetGateMode};
    for (i, point) in cross_product().iter().enumerate().filter(|(i, _)| i % 5 == 0) {
        if point.mode == ResetGateMode::BeforeMultiplication {
            continue;
        }
        let case = Case::<f64>::random(&point.spec(3, 7), 6, 5, point.lengths, point.given_h0, 900 + i as u64);
        let mut reference = KoraliEngine::reference().prepare(&case.spec, &case.params, &Plan::inference()).unwrap();
        let want = reference.forward(&case.batch_view()).unwrap();
        for threads in [2, 3] {
            let engine = KoraliEngine::with_threads(threads).with_unit_split(true);
            let mut fast = engine.prepare(&case.spec, &case.params, &Plan::inference()).unwrap();
            let got = fast.forward(&case.batch_view()).unwrap();
            check_close("y", &got.y, &widen(&want.y), 1e-12).unwrap_or_else(|e| panic!("{threads} {point:?}: {e}"));
            check_close("h_t", &got.h_t, &widen(&want.h_t), 1e-12)
                .unwrap_or_else(|e| panic!("{threads} {point:?}: {e}"));
        }
    }
}
