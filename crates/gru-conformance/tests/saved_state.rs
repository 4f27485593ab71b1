//! Training calls and saved state are refused with typed errors, never a panic, on every
//! engine of the suite in every dtype it computes (the native paths in f64 and f32, OneDNN
//! in f32): training calls on an inference stack, state saved by another engine, path,
//! dtype, spec or parameter version.

mod common;

use common::*;
use gru_conformance::EngineUnderTest;
use gru_core::{GruError, GruParams, GruSpec, Mode, OutputGrads, Plan, Real, SequenceBatch};

#[test]
fn training_calls_on_an_inference_engine() {
    on_every_engine(training_calls_on_inference_on::<f64>, training_calls_on_inference_on::<f32>);
}

fn training_calls_on_inference_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    let path = e.name;
    let x = x_for::<T>(&spec, STEPS, BATCH);
    let batch = SequenceBatch::new(&x, STEPS, BATCH);
    let mut gru = prepare(e, &spec, Mode::Inference);
    assert_eq!(gru.mode(), Mode::Inference);
    gru.forward(&batch).expect("forward works in inference mode");
    let err = gru.forward_train(&batch).unwrap_err();
    assert_eq!(err, GruError::ModeMismatch { operation: "forward_train".into(), mode: "Inference".into() }, "{path}");
    assert_display(&err, &["`forward_train`", "Mode::Inference"]);

    // A Saved from a training engine of the same path is still refused.
    let (_, saved) = prepare(e, &spec, Mode::Training).forward_train(&batch).expect("good batch");
    let dy = dy_for::<T>(&spec, STEPS, BATCH);
    let err = gru.backward(saved, &OutputGrads { dy: &dy, dh_t: None }).unwrap_err();
    assert_eq!(err, GruError::ModeMismatch { operation: "backward".into(), mode: "Inference".into() }, "{path}");
    assert_display(&err, &["`backward`", "Mode::Inference"]);
}

fn assert_saved_mismatch(err: GruError, words: &[&str]) {
    assert!(matches!(err, GruError::SavedMismatch { .. }), "expected SavedMismatch, got {err:?}");
    assert_display(&err, &["saved"]);
    assert_display(&err, words);
}

/// State saved by one engine (or path) is refused by every other, naming both; f32 state
/// is refused by an f64 engine of the same path.
#[test]
fn saved_state_from_the_other_path_or_dtype() {
    saved_state_across_engines::<f64>();
    saved_state_across_engines::<f32>();

    // f32 state handed to an f64 engine of the same path.
    let spec = spec();
    let x = x_for::<f64>(&spec, STEPS, BATCH);
    let dy = dy_for::<f64>(&spec, STEPS, BATCH);
    let grads = OutputGrads { dy: &dy, dh_t: None };
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    for (e, e32) in paths::<f64>()
        .iter()
        .filter_map(|e| paths::<f32>().into_iter().find(|e32| e32.computed_by == e.computed_by).map(|e32| (e, e32)))
    {
        let mut gru32 =
            e32.engine.prepare(&spec, &GruParams::<f32>::zeros(&spec), &Plan::training()).expect("f32 prepare");
        let (_, saved) = gru32.forward_train(&SequenceBatch::new(&x32, STEPS, BATCH)).expect("good batch");
        let err = prepare(e, &spec, Mode::Training).backward(saved, &grads).unwrap_err();
        assert_saved_mismatch(err, &["dtype"]);
    }
}

fn saved_state_across_engines<T: Real>() {
    let spec = spec();
    let x = x_for::<T>(&spec, STEPS, BATCH);
    let batch = SequenceBatch::new(&x, STEPS, BATCH);
    let dy = dy_for::<T>(&spec, STEPS, BATCH);
    let grads = OutputGrads { dy: &dy, dh_t: None };
    let all = paths::<T>();
    for from in &all {
        for to in all.iter().filter(|to| to.computed_by != from.computed_by) {
            let (_, saved) = prepare(from, &spec, Mode::Training).forward_train(&batch).expect("good batch");
            assert_eq!(saved.producer(), from.computed_by);
            let err = prepare(to, &spec, Mode::Training).backward(saved, &grads).unwrap_err();
            assert_saved_mismatch(err, &[from.computed_by, to.computed_by]);
        }
    }
}

/// State saved by a stack prepared for another spec (here H = 3 vs 2) must be refused
/// with a typed `SavedMismatch`, never reach the kernels (it used to panic there).
#[test]
fn saved_state_from_an_engine_with_another_spec() {
    on_every_engine(saved_state_from_another_spec_on::<f64>, saved_state_from_another_spec_on::<f32>);
}

fn saved_state_from_another_spec_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    let other = GruSpec::new(3, 3).with_depth(2).with_bidirectional(true);
    let x = x_for::<T>(&spec, STEPS, BATCH);
    let dy = dy_for::<T>(&spec, STEPS, BATCH);
    let (_, saved) =
        prepare(e, &other, Mode::Training).forward_train(&SequenceBatch::new(&x, STEPS, BATCH)).expect("good batch");
    let err = prepare(e, &spec, Mode::Training).backward(saved, &OutputGrads { dy: &dy, dh_t: None }).unwrap_err();
    assert!(matches!(err, GruError::SavedMismatch { .. }), "{}: {err:?}", e.name);
}

/// State saved before `set_params` belongs to the old parameters: backward refuses it.
#[test]
fn saved_state_from_before_set_params() {
    on_every_engine(saved_state_from_before_set_params_on::<f64>, saved_state_from_before_set_params_on::<f32>);
}

fn saved_state_from_before_set_params_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    let x = x_for::<T>(&spec, STEPS, BATCH);
    let dy = dy_for::<T>(&spec, STEPS, BATCH);
    let mut gru = prepare(e, &spec, Mode::Training);
    let (_, saved) = gru.forward_train(&SequenceBatch::new(&x, STEPS, BATCH)).expect("good batch");
    gru.set_params(&GruParams::zeros(&spec)).expect("same shapes");
    let err = gru.backward(saved, &OutputGrads { dy: &dy, dh_t: None }).unwrap_err();
    assert!(matches!(&err, GruError::SavedMismatch { reason } if reason.contains("set_params")), "{err:?}");
}
