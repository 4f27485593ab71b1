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
