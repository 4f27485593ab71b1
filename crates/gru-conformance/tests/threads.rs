//! The fast path's threads (the batch split between workers) compute what one thread and
//! the scalar reference compute, for every reset mode, ragged and bidirectional batches.

use gru_conformance::cases::{cross_product, Case};
use gru_conformance::compare::{check_close, widen, Tolerance};
use gru_core::{NativeEngine, Real};

fn check<T: Real>() {
    let tol = Tolerance::of(T::DTYPE);
    // Every 7th point of the cross product: all modes, activations, depths, directions.
    for (i, point) in cross_product().iter().enumerate().filter(|(i, _)| i % 7 == 0) {
        let case = Case::<T>::random(&point.spec(3, 4), 6, 11, point.lengths, point.given_h0, 500 + i as u64);
        let (ref_out, ref_g) = case.run(&NativeEngine::reference()).unwrap();
        for threads in [1, 2, 3] {
            let (out, g) = case.run(&NativeEngine::with_threads(threads)).unwrap();
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
        let mut reference = NativeEngine::reference().prepare(&case.spec, &case.params, &Plan::inference()).unwrap();
        let want = reference.forward(&case.batch_view()).unwrap();
        for threads in [2, 3] {
            let engine = NativeEngine::with_threads(threads).with_unit_split(true);
            let mut fast = engine.prepare(&case.spec, &case.params, &Plan::inference()).unwrap();
            let got = fast.forward(&case.batch_view()).unwrap();
            check_close("y", &got.y, &widen(&want.y), 1e-12).unwrap_or_else(|e| panic!("{threads} {point:?}: {e}"));
            check_close("h_t", &got.h_t, &widen(&want.h_t), 1e-12)
                .unwrap_or_else(|e| panic!("{threads} {point:?}: {e}"));
        }
    }
}

/// f32 at sizes where the packed-panel kernel cuts its work into blocks (K > 1024 input
/// columns, T·B > 96 rows, 3H and the unit split's 3U not multiples of 16), every reset
/// mode, ragged lengths: inference by default (the unit split serves this small batch),
/// on one thread and with the units forced, and training on one and two threads, all equal
/// to the scalar reference. Weights are scaled to a trained network's size (about
/// 1/sqrt(fan-in)): with the suite's usual ±0.8 over 1100 inputs the recurrence is chaotic
/// and f32 rounding alone grows to 3e-4 in 40 steps, on every path alike.
#[test]
fn panel_kernel_blocks_match_the_reference_f32() {
    use gru_conformance::cases::Lengths;
    use gru_core::{Engine, GruSpec, Plan, ResetGateMode};
    let tol = Tolerance::of(gru_core::DType::F32);
    for (i, mode) in ResetGateMode::ALL.into_iter().enumerate() {
        let spec = GruSpec::new(1100, 130).with_reset_gate_mode(mode);
        let mut case = Case::<f32>::random(&spec, 40, 6, Lengths::Ragged, true, 1300 + i as u64);
        let scaled: Vec<f32> = case.params.to_flat().iter().map(|v| v * 0.05).collect();
        case.params.set_flat(&scaled).unwrap();
        let (ref_out, ref_g) = case.run(&NativeEngine::reference()).unwrap();
        let engines = [
            ("default", NativeEngine::new()),
            ("1 thread", NativeEngine::with_threads(1)),
            ("units", NativeEngine::with_threads(2).with_unit_split(true)),
        ];
        for (name, engine) in &engines {
            let mut fast = engine.prepare(&case.spec, &case.params, &Plan::inference()).unwrap();
            let got = fast.forward(&case.batch_view()).unwrap();
            let what = format!("{name} {mode:?} inference");
            check_close("y", &got.y, &widen(&ref_out.y), tol.values).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_close("h_t", &got.h_t, &widen(&ref_out.h_t), tol.values).unwrap_or_else(|e| panic!("{what}: {e}"));
        }
        for threads in [1, 2] {
            let (out, g) = case.run(&NativeEngine::with_threads(threads)).unwrap();
            let what = format!("{threads} threads {mode:?} training");
            check_close("y", &out.y, &widen(&ref_out.y), tol.values).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_close("dx", &g.dx, &widen(&ref_g.dx), tol.grads).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_close("dh0", &g.dh0, &widen(&ref_g.dh0), tol.grads).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_close("params", &g.params.to_flat(), &widen(&ref_g.params.to_flat()), tol.grads)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    }
}

/// The unit split keeps its buffers across calls: one prepared stack called with batches of
/// other shapes and lengths in turn (ragged after equal, shorter after longer, and back)
/// still equals the reference on every call.
#[test]
fn unit_split_buffers_are_reused_safely_across_calls() {
    use gru_conformance::cases::Lengths;
    use gru_core::{Engine, GruSpec, Plan, ResetGateMode};
    let spec = GruSpec::new(5, 8).with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication);
    let base = Case::<f32>::random(&spec, 9, 5, Lengths::Equal, false, 77);
    let engine = NativeEngine::with_threads(2).with_unit_split(true);
    let mut fast = engine.prepare(&spec, &base.params, &Plan::inference()).unwrap();
    let mut reference = NativeEngine::reference().prepare(&spec, &base.params, &Plan::inference()).unwrap();
    for (k, (steps, batch, lengths)) in [
        (9, 5, Lengths::Equal),
        (9, 5, Lengths::Ragged),
        (4, 3, Lengths::Ragged),
        (12, 2, Lengths::Ragged),
        (9, 5, Lengths::Equal),
    ]
    .into_iter()
    .enumerate()
    {
        let mut case = Case::<f32>::random(&spec, steps, batch, lengths, k % 2 == 0, 90 + k as u64);
        case.params = base.params.clone();
        let want = reference.forward(&case.batch_view()).unwrap();
        let got = fast.forward(&case.batch_view()).unwrap();
        check_close("y", &got.y, &widen(&want.y), 1e-5).unwrap_or_else(|e| panic!("call {k}: {e}"));
        check_close("h_t", &got.h_t, &widen(&want.h_t), 1e-5).unwrap_or_else(|e| panic!("call {k}: {e}"));
    }
}

/// Training where one recurrent sweep runs and the large GEMMs are split (large H, few
/// sequences per thread) equals training on one thread, every reset mode.
#[test]
fn training_with_one_sweep_and_split_gemms_matches_one_thread() {
    use gru_conformance::cases::Lengths;
    use gru_core::{GruSpec, ResetGateMode};
    for (i, mode) in ResetGateMode::ALL.into_iter().enumerate() {
        let spec = GruSpec::new(16, 512).with_reset_gate_mode(mode);
        let mut case = Case::<f32>::random(&spec, 4, 5, Lengths::Ragged, true, 1400 + i as u64);
        let scaled: Vec<f32> = case.params.to_flat().iter().map(|v| v * 0.05).collect();
        case.params.set_flat(&scaled).unwrap();
        let (one_out, one_g) = case.run(&NativeEngine::with_threads(1)).unwrap();
        let (out, g) = case.run(&NativeEngine::with_threads(2)).unwrap();
        let what = format!("{mode:?}");
        check_close("y", &out.y, &widen(&one_out.y), 1e-6).unwrap_or_else(|e| panic!("{what}: {e}"));
        check_close("dx", &g.dx, &widen(&one_g.dx), 1e-5).unwrap_or_else(|e| panic!("{what}: {e}"));
        check_close("params", &g.params.to_flat(), &widen(&one_g.params.to_flat()), 1e-5)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

/// Training with the hidden units split between workers (forward trace per worker, the
/// backward sweep's per-step reduction of dh) equals the reference on every fifth point of
/// the cross product (after modes: before-multiplication does not split), f32 and f64,
/// outputs and every gradient, on 2 and 3 workers.
#[test]
fn unit_split_training_matches_the_reference() {
    fn check<T: Real>() {
        use gru_core::ResetGateMode;
        let tol = Tolerance::of(T::DTYPE);
        for (i, point) in cross_product().iter().enumerate().filter(|(i, _)| i % 5 == 0) {
            if point.mode == ResetGateMode::BeforeMultiplication {
                continue;
            }
            let case = Case::<T>::random(&point.spec(3, 7), 6, 5, point.lengths, point.given_h0, 1500 + i as u64);
            let (ref_out, ref_g) = case.run(&NativeEngine::reference()).unwrap();
            for threads in [2, 3] {
                let engine = NativeEngine::with_threads(threads).with_unit_split(true);
                let (out, g) = case.run(&engine).unwrap();
                let what = format!("{} {threads} workers {point:?}", T::DTYPE);
                check_close("y", &out.y, &widen(&ref_out.y), tol.values).unwrap_or_else(|e| panic!("{what}: {e}"));
                check_close("h_t", &out.h_t, &widen(&ref_out.h_t), tol.values)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                check_close("dx", &g.dx, &widen(&ref_g.dx), tol.grads).unwrap_or_else(|e| panic!("{what}: {e}"));
                check_close("dh0", &g.dh0, &widen(&ref_g.dh0), tol.grads).unwrap_or_else(|e| panic!("{what}: {e}"));
                check_close("params", &g.params.to_flat(), &widen(&ref_g.params.to_flat()), tol.grads)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
        }
    }
    check::<f64>();
    check::<f32>();
}

/// The batch split's weight gradients of a block above 4 M parameters (I = 4, H = 1200:
/// each part's products in turn on all threads, added into one set, instead of a copy per
/// part) equal the reference's, with ragged lengths, in f64 (the path is the same in f32,
/// where sums of 1200 products of this case's weights exceed the f32 tolerance).
#[test]
fn batch_split_of_a_large_block_matches_the_reference() {
    fn check_large<T: Real>() {
        let tol = Tolerance::of(T::DTYPE);
        let point = cross_product()[0];
        let spec = point.spec(4, 1200);
        // 18 sequences on 2 threads: more than 8 per thread, so the batch split (not one sweep).
        let case = Case::<T>::random(&spec, 2, 18, gru_conformance::cases::Lengths::Ragged, true, 77);
        let (ref_out, ref_g) = case.run(&NativeEngine::reference()).unwrap();
        let (out, g) = case.run(&NativeEngine::with_threads(2).with_unit_split(false)).unwrap();
        check_close("y", &out.y, &widen(&ref_out.y), tol.values).unwrap();
        check_close("dx", &g.dx, &widen(&ref_g.dx), tol.grads).unwrap();
        check_close("params", &g.params.to_flat(), &widen(&ref_g.params.to_flat()), tol.grads).unwrap();
    }
    check_large::<f64>();
}

/// The batch split keeps per-part buffers across calls (each part's output and input copy,
/// the packed activations of the weight gradients, the later parts' own gradients): one
/// prepared training stack called with batches of other sizes and lengths in turn, one with
/// a part whose sequences are all empty, gives each call the bits of a freshly prepared
/// stack, and the reference's values.
#[test]
fn batch_split_buffers_are_reused_safely_across_training_calls() {
    use gru_conformance::cases::Lengths;
    use gru_core::{Engine, GruSpec, OutputGrads, Plan};
    let spec = GruSpec::new(5, 8).with_depth(2).with_bidirectional(true);
    let base = Case::<f32>::random(&spec, 7, 8, Lengths::Equal, false, 31);
    let engine = NativeEngine::with_threads(2).with_unit_split(false);
    let mut kept = engine.prepare(&spec, &base.params, &Plan::training()).unwrap();
    let tol = Tolerance::of(gru_core::DType::F32);
    for (k, (steps, batch, lengths)) in [
        (7, 8, Lengths::Equal),
        (5, 12, Lengths::Ragged),
        (9, 8, Lengths::WithEmpty),
        (7, 8, Lengths::Ragged),
        (6, 9, Lengths::Equal),
    ]
    .into_iter()
    .enumerate()
    {
        let mut case = Case::<f32>::random(&spec, steps, batch, lengths, k % 2 == 1, 60 + k as u64);
        case.params = base.params.clone();
        if k == 3 {
            // The second part (sequences 4..8) holds empty sequences only.
            case.lengths[4..].fill(0);
        }
        let call = |gru: &mut dyn gru_core::PreparedGru<f32>| {
            let (out, saved) = gru.forward_train(&case.batch_view()).unwrap();
            let g = gru.backward(saved, &OutputGrads { dy: &case.dy, dh_t: Some(&case.dh_t) }).unwrap();
            (out.y, out.h_t, g.dx, g.dh0, g.params.to_flat())
        };
        let got = call(&mut *kept);
        let fresh = call(&mut *engine.prepare(&spec, &case.params, &Plan::training()).unwrap());
        assert!(got == fresh, "call {k}: a reused stack differs from a fresh one");
        let (_, want) = case.run(&NativeEngine::reference()).unwrap();
        check_close("dx", &got.2, &widen(&want.dx), tol.grads).unwrap_or_else(|e| panic!("call {k}: {e}"));
        check_close("params", &got.4, &widen(&want.params.to_flat()), tol.grads)
            .unwrap_or_else(|e| panic!("call {k}: {e}"));
    }
}
