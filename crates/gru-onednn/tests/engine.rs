//! The oneDNN engine on its own: loading, refusals, and agreement with the native scalar
//! reference path on the shapes that exercise its parts (depth with I != dirs·H,
//! bidirectional stacks, ragged batches with repeated lengths, plans, `set_params`).
//! The full suite (fixtures, option cross product, properties, bad input) is in
//! `crates/gru-conformance`.

use gru_core::{
    output_shape, state_len, Engine, EngineKind, GruError, GruParams, GruSpec, Mode, NativeEngine, OutputGrads,
    OutputMode, Plan, ResetGateMode, SequenceBatch, StateActivation,
};
use gru_onednn::OneDnnEngine;

/// The engine, or `None` (and the test skips with a notice) where libdnnl is not installed
/// and `GRU_REQUIRE_ONEDNN=1` is not set (CI sets it).
fn engine_or_skip(test: &str) -> Option<OneDnnEngine> {
    OneDnnEngine::load_or_skip(test).expect("GRU_REQUIRE_ONEDNN=1: libdnnl.so.2 must load (apt-get install libdnnl2)")
}

fn engine() -> OneDnnEngine {
    OneDnnEngine::load().expect("checked by engine_or_skip at the start of the test")
}

/// Deterministic values in (-scale, scale).
fn values(n: usize, salt: f64, scale: f64) -> Vec<f32> {
    (0..n).map(|k| ((0.61 * k as f64 + salt).sin() * scale) as f32).collect()
}

fn params(spec: &GruSpec, salt: f64) -> GruParams<f32> {
    let mut p = GruParams::zeros(spec);
    let flat = values(p.num_params(), salt, 0.8);
    p.set_flat(&flat).unwrap();
    p
}

/// The largest `|a - b| / (1 + |b|)`.
fn worst(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs() / (1.0 + f64::from(y).abs())).fold(0.0, f64::max)
}

#[test]
fn loads_onednn_2() {
    let Some(_) = engine_or_skip("loads_onednn_2") else { return };
    let e = engine();
    assert_eq!(e.version().0, 2);
    assert_eq!(<OneDnnEngine as Engine<f32>>::kind(&e), EngineKind::OneDNN);
}

#[test]
fn a_missing_library_is_a_typed_error_naming_the_package() {
    let err = OneDnnEngine::load_from("libdnnl-not-here.so.2").unwrap_err();
    match &err {
        GruError::EngineUnavailable { engine, reason } => {
            assert_eq!(engine, "OneDNN");
            assert!(
                reason.contains("libdnnl-not-here.so.2") && reason.contains("apt-get install libdnnl2"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A library that loads but is not oneDNN 2.x.
    let err = OneDnnEngine::load_from("libm.so.6").unwrap_err();
    assert!(matches!(&err, GruError::EngineUnavailable { reason, .. } if reason.contains("dnnl_")), "{err:?}");
}

#[test]
fn refusals_name_the_option() {
    let Some(_) = engine_or_skip("refusals_name_the_option") else { return };
    let e = engine();
    let spec = GruSpec::new(3, 4);
    let cases = [
        (spec.clone().with_state_activation(StateActivation::Softsign), "state_activation"),
        (spec.clone().with_gate_activation(gru_core::GateActivation::HARD_SIGMOID), "gate_activation"),
        (spec.clone().with_clip(Some(1.0)), "clip"),
    ];
    for (s, field) in cases {
        let err = e.prepare(&s, &GruParams::<f32>::zeros(&s), &Plan::training()).err().unwrap();
        assert!(matches!(&err, GruError::Unsupported { field: f, .. } if f == field), "{err:?}");
    }
    let err = e.prepare(&spec, &GruParams::<f64>::zeros(&spec), &Plan::inference()).err().unwrap();
    assert!(matches!(&err, GruError::Unsupported { field, value, .. } if field == "dtype" && value == "f64"));
}

/// Runs forward (inference), forward_train and backward on both engines; returns the
/// worst errors (values, gradients) of oneDNN against the scalar reference.
fn compare(spec: &GruSpec, steps: usize, lengths: &[usize], plan: &Plan) -> (f64, f64) {
    let batch = lengths.len();
    let p = params(spec, 0.3);
    let x = values(steps * batch * spec.input_size, 1.1, 1.0);
    let h0 = values(state_len(spec, batch), 2.1, 1.0);
    let dy = values(output_shape(spec, steps, batch).iter().product(), 3.7, 1.0);
    let dh_t = values(state_len(spec, batch), 4.3, 1.0);
    let input = SequenceBatch::new(&x, steps, batch).with_lengths(lengths).with_initial_state(&h0);
    let grads_in = OutputGrads { dy: &dy, dh_t: Some(&dh_t) };

    let mut r = NativeEngine::reference().prepare(spec, &p, &Plan::training()).unwrap();
    let (ro, rs) = r.forward_train(&input).unwrap();
    let rg = r.backward(rs, &grads_in).unwrap();

    let mut o = engine().prepare(spec, &p, plan).unwrap();
    let (oo, os) = o.forward_train(&input).unwrap();
    assert_eq!(oo.computed_by, "OneDNN");
    let og = o.backward(os, &grads_in).unwrap();
    let inference = engine().prepare(spec, &p, &Plan::inference()).unwrap().forward(&input).unwrap();
    assert_eq!((&inference.y, &inference.h_t), (&oo.y, &oo.h_t), "{spec:?}: inference differs from training");
    let v = worst(&oo.y, &ro.y).max(worst(&oo.h_t, &ro.h_t));
    let g = worst(&og.dx, &rg.dx).max(worst(&og.dh0, &rg.dh0)).max(worst(&og.params.to_flat(), &rg.params.to_flat()));
    (v, g)
}

#[test]
fn matches_the_reference_path_on_every_part_layout() {
    let Some(_) = engine_or_skip("matches_the_reference_path_on_every_part_layout") else { return };
    // (I, H, depth, bidirectional): one layer; depth with I != H (two parts); I == H (one
    // multi-layer part); bidirectional stacks (one part per layer), I == 2H included.
    let shapes = [(3, 4, 1, false), (3, 4, 3, false), (4, 4, 3, false), (3, 4, 2, true), (8, 4, 3, true)];
    for mode in ResetGateMode::ALL {
        for (i, h, d, bi) in shapes {
            for output in [OutputMode::Sequence, OutputMode::Last] {
                for lengths in [&[5, 5, 5, 5][..], &[5, 1, 3, 3][..], &[1][..]] {
                    let spec = GruSpec::new(i, h)
                        .with_depth(d)
                        .with_bidirectional(bi)
                        .with_reset_gate_mode(mode)
                        .with_output_mode(output);
                    let steps = *lengths.iter().max().unwrap();
                    let (v, g) = compare(&spec, steps, lengths, &Plan::training());
                    assert!(v <= 1e-5 && g <= 1e-4, "{spec:?} {lengths:?}: values {v:e}, gradients {g:e}");
                }
            }
        }
    }
}

#[test]
fn planned_shapes_and_new_parameters() {
    let Some(_) = engine_or_skip("planned_shapes_and_new_parameters") else { return };
    let spec = GruSpec::new(5, 6).with_depth(2).with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication);
    let plan = Plan { batch_sizes: vec![2, 4], max_steps: Some(7), mode: Mode::Training };
    let (v, g) = compare(&spec, 7, &[7, 7, 7, 7], &plan);
    assert!(v <= 1e-5 && g <= 1e-4, "values {v:e}, gradients {g:e}");

    // set_params: the same results as a stack prepared with the new parameters.
    let x = values(4 * 2 * 5, 0.9, 1.0);
    let input = SequenceBatch::new(&x, 4, 2);
    let mut a = engine().prepare(&spec, &params(&spec, 0.3), &plan).unwrap();
    let before = a.forward(&input).unwrap();
    let q = params(&spec, 5.0);
    a.set_params(&q).unwrap();
    let after = a.forward(&input).unwrap();
    let fresh = engine().prepare(&spec, &q, &Plan::inference()).unwrap().forward(&input).unwrap();
    assert_ne!(before.y, after.y);
    assert_eq!(after.y, fresh.y);
}
