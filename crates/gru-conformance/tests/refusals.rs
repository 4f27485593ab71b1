//! What OneDNN cannot compute is refused at `prepare` with a typed error naming the option
//! (and the suite really runs OneDNN on what it can: the other suites' `paths()`).

mod common;

use common::*;
use gru_conformance::engines;
use gru_core::{GateActivation, GruSpec, Plan, StateActivation};

/// OneDNN runs every check above in f32 (the suite's spec is tanh, sigmoid, no clip).
#[test]
fn onednn_is_under_test_in_f32() {
    if !gru_conformance::onednn_under_test("onednn_is_under_test_in_f32") {
        return;
    }
    assert!(paths::<f32>().iter().any(|e| e.computed_by == "OneDNN"));
    assert!(!paths::<f64>().iter().any(|e| e.computed_by == "OneDNN"));
}

/// OneDNN refuses f64 and the options its GRU does not have at `prepare`, in both modes,
/// with `Unsupported` naming the engine, the option and its value: never a panic, never a
/// silent other computation.
#[test]
fn onednn_refuses_what_it_cannot_compute() {
    let refused: [(GruSpec, &str, &str); 3] = [
        (spec().with_state_activation(StateActivation::Softsign), "state_activation", "softsign"),
        (spec().with_gate_activation(GateActivation::HARD_SIGMOID), "gate_activation", "hard-sigmoid"),
        (spec().with_clip(Some(0.5)), "clip", "0.5"),
    ];
    for e in engines::<f32>().into_iter().filter(|e| e.computed_by == "OneDNN") {
        for (bad, field, value) in &refused {
            assert_eq!(e.refusal(bad), Some(*field));
            e.check_refused(bad, &params(bad)).unwrap();
            let err = e.engine.prepare(bad, &params::<f32>(bad), &Plan::inference()).err().expect("refused");
            assert_display(&err, &["OneDNN", &format!("`{field}`"), value]);
        }
    }
    for e in engines::<f64>().into_iter().filter(|e| e.computed_by == "OneDNN") {
        assert_eq!(e.refusal(&spec()), Some("dtype"));
        e.check_refused(&spec(), &params(&spec())).unwrap();
        let err = e.engine.prepare(&spec(), &params::<f64>(&spec()), &Plan::training()).err().expect("refused");
        assert_display(&err, &["OneDNN", "`dtype`", "f64"]);
    }
}

/// CuDNN's own check (`gru_cudnn::check_supported`, run before any GPU is touched) refuses
/// exactly what the suite's independent list says, on every point of the option cross
/// product, reversed or not, in f32 and f64: runs on every machine, GPU or not.
#[test]
fn cudnn_refuses_what_the_suite_says_on_every_option() {
    let points = gru_conformance::cases::cross_product();
    assert_eq!(points.len(), 1152);
    let mut accepted = 0;
    for point in points {
        for reverse in [false, true] {
            if reverse && point.bidirectional {
                continue; // a bidirectional stack runs both directions
            }
            let mut spec = point.spec(3, 4);
            spec.reverse = reverse;
            for dtype in [gru_core::DType::F32, gru_core::DType::F64] {
                let expected = gru_conformance::cudnn_refuses(&spec, dtype);
                match (gru_cudnn::check_supported(&spec, dtype), expected) {
                    (Ok(()), None) => accepted += 1,
                    (Err(gru_core::GruError::Unsupported { engine, field, .. }), Some(f)) => {
                        assert_eq!((engine.as_str(), field.as_str()), ("CuDNN", f), "{spec:?} {dtype}");
                    }
                    (got, want) => panic!("{spec:?} in {dtype}: cuDNN says {got:?}, the suite expects {want:?}"),
                }
            }
        }
    }
    // f32, tanh, sigmoid, no clip, not reverse-only, two of the three reset modes.
    assert_eq!(accepted, 1152 / 2 / 2 / 2 / 3 * 2);
}

/// On a GPU: `prepare` refuses each option cuDNN's GRU does not have, in both modes, with
/// `Unsupported` naming the engine, the option and its value.
#[test]
fn cudnn_refuses_what_it_cannot_compute() {
    if !gru_conformance::cudnn_under_test("cudnn_refuses_what_it_cannot_compute") {
        return;
    }
    let mut reverse = spec().with_bidirectional(false);
    reverse.reverse = true;
    let refused: [(GruSpec, &str, &str); 5] = [
        (spec().with_reset_gate_mode(gru_core::ResetGateMode::BeforeMultiplication), "reset_gate_mode", "before"),
        (spec().with_state_activation(StateActivation::Softsign), "state_activation", "softsign"),
        (spec().with_gate_activation(GateActivation::HARD_SIGMOID), "gate_activation", "hard-sigmoid"),
        (spec().with_clip(Some(0.5)), "clip", "0.5"),
        (reverse, "reverse", "true"),
    ];
    let under_test = engines::<f32>().into_iter().filter(|e| e.computed_by == "CuDNN").collect::<Vec<_>>();
    assert_eq!(under_test.len(), 1, "CuDNN loads but is not among the engines under test");
    for e in under_test {
        for (bad, field, value) in &refused {
            e.check_refused(bad, &params(bad)).unwrap();
            let err = e.engine.prepare(bad, &params::<f32>(bad), &Plan::inference()).err().expect("refused");
            assert_display(&err, &["CuDNN", &format!("`{field}`"), value]);
        }
    }
    for e in engines::<f64>().into_iter().filter(|e| e.computed_by == "CuDNN") {
        e.check_refused(&spec(), &params(&spec())).unwrap();
    }
}

/// OneDNN and CuDNN have no regularizers: each one (input dropout, recurrent dropout,
/// zoneout, weight drop, layer norm) is refused by their checks (run on every machine,
/// before any library or GPU is touched) with `Unsupported` naming it and its value, as the
/// suite's independent list says; and at `prepare` in both modes where the engine loads.
#[test]
fn onednn_and_cudnn_refuse_every_regularizer() {
    use gru_core::{DType, GruError, Regularization};
    let base = spec().with_bidirectional(false);
    let refused: [(Regularization, &str, &str); 5] = [
        (Regularization::NONE.with_input_dropout(0.25), "regularization.input_dropout", "0.25"),
        (Regularization::NONE.with_recurrent_dropout(0.5), "regularization.recurrent_dropout", "0.5"),
        (Regularization::NONE.with_zoneout(0.1), "regularization.zoneout", "0.1"),
        (Regularization::NONE.with_weight_drop(0.3), "regularization.weight_drop", "0.3"),
        (Regularization::NONE.with_layer_norm(true), "regularization.layer_norm", "true"),
    ];
    for (reg, field, value) in refused {
        let bad = base.clone().with_regularization(reg);
        let checks = [
            ("OneDNN", gru_onednn::check_supported(&bad, DType::F32)),
            ("CuDNN", gru_cudnn::check_supported(&bad, DType::F32)),
        ];
        for (engine, got) in checks {
            match got {
                Err(err @ GruError::Unsupported { .. }) => {
                    let GruError::Unsupported { engine: e, field: f, .. } = &err else { unreachable!() };
                    assert_eq!((e.as_str(), f.as_str()), (engine, field));
                    assert_display(&err, &[engine, &format!("`{field}`"), value]);
                }
                other => panic!("{engine} {field}: expected Unsupported, got {other:?}"),
            }
        }
        assert_eq!(gru_conformance::onednn_refuses(&bad, DType::F32), Some(field));
        assert_eq!(gru_conformance::cudnn_refuses(&bad, DType::F32), Some(field));
        for e in engines::<f32>().into_iter().filter(|e| e.computed_by != gru_core::native::FAST_PATH) {
            if e.refusal(&bad).is_some() {
                e.check_refused(&bad, &params(&bad)).unwrap();
            }
        }
        // The native engine computes them.
        for e in engines::<f32>().into_iter().filter(|e| e.computed_by.starts_with("Korali")) {
            assert!(e.refusal(&bad).is_none());
            e.engine.prepare(&bad, &params(&bad), &Plan::training()).unwrap();
        }
    }
}
