//! Helpers shared by the bad-input, saved-state and refusal suites: the well-formed
//! problem every check starts from, the engines that compute it, and assertions that check
//! an error's variant, its fields and its `Display` text.
#![allow(dead_code)] // each test crate uses its own subset

use gru_conformance::{engines, EngineUnderTest};
use gru_core::{GruError, GruParams, GruSpec, Mode, Plan, PreparedGru, Real, SequenceBatch};

/// T, B of the well-formed batch every test starts from.
pub const STEPS: usize = 4;
pub const BATCH: usize = 3;

/// Two layers, bidirectional, I = 3, H = 2: four blocks, layer 1 reads 2H = 4 channels.
pub fn spec() -> GruSpec {
    GruSpec::new(3, 2).with_depth(2).with_bidirectional(true)
}

/// The engines of the suite that compute `spec()` in `T`: f64 the native paths, f32 also
/// OneDNN (checked to be there in `refusals.rs`).
pub fn paths<T: Real>() -> Vec<EngineUnderTest<T>> {
    engines::<T>().into_iter().filter(|e| e.refusal(&spec()).is_none()).collect()
}

/// Runs `check` on every engine that computes `spec()`, in f64 and in f32.
pub fn on_every_engine(check: fn(&EngineUnderTest<f64>), check32: fn(&EngineUnderTest<f32>)) {
    paths::<f64>().iter().for_each(check);
    paths::<f32>().iter().for_each(check32);
}

/// Small deterministic values in (-1, 1).
pub fn values<T: Real>(n: usize, salt: f64) -> Vec<T> {
    (0..n).map(|k| T::lit((0.7 * k as f64 + salt).sin())).collect()
}

pub fn params<T: Real>(spec: &GruSpec) -> GruParams<T> {
    let mut p = GruParams::zeros(spec);
    let flat = values(p.num_params(), 0.3);
    p.set_flat(&flat).expect("flat length is num_params");
    p
}

pub fn prepare<T: Real>(e: &EngineUnderTest<T>, spec: &GruSpec, mode: Mode) -> Box<dyn PreparedGru<T>> {
    let plan = Plan { mode, ..Plan::default() };
    e.engine.prepare(spec, &params(spec), &plan).expect("a valid spec, params and plan prepare")
}

pub fn x_for<T: Real>(spec: &GruSpec, steps: usize, batch: usize) -> Vec<T> {
    values(steps * batch * spec.input_size, 1.1)
}

pub fn dy_for<T: Real>(spec: &GruSpec, steps: usize, batch: usize) -> Vec<T> {
    values(gru_core::output_shape(spec, steps, batch).iter().product(), 2.3)
}

/// Asserts that `err`'s Display text contains every one of `words`.
pub fn assert_display(err: &GruError, words: &[&str]) {
    let text = err.to_string();
    for w in words {
        assert!(text.contains(w), "Display of {err:?} is {text:?}: it does not name {w:?}");
    }
}

/// Asserts a `ShapeMismatch` for `field` with these sizes, and that Display names them.
#[track_caller]
pub fn assert_shape(err: GruError, field: &str, expected: usize, actual: usize) {
    match &err {
        GruError::ShapeMismatch { field: f, expected: e, actual: a, .. } => {
            assert_eq!((f.as_str(), *e, *a), (field, expected, actual), "{err:?}");
        }
        other => panic!("expected ShapeMismatch for `{field}`, got {other:?}"),
    }
    assert_display(&err, &[&format!("`{field}`"), &expected.to_string(), &actual.to_string()]);
}

/// Asserts a `NonFinite` for `field[index]` with a value like `value` (NaN matches NaN).
#[track_caller]
pub fn assert_non_finite(err: GruError, field: &str, index: usize, value: f64) {
    match &err {
        GruError::NonFinite { field: f, index: i, value: v } => {
            assert_eq!((f.as_str(), *i), (field, index), "{err:?}");
            assert!(v.to_bits() == value.to_bits() || (v.is_nan() && value.is_nan()), "{err:?}: value {v} vs {value}");
        }
        other => panic!("expected NonFinite for `{field}[{index}]`, got {other:?}"),
    }
    assert_display(&err, &[&format!("`{field}[{index}]`"), &value.to_string()]);
}

/// Asserts an `InvalidOption` for `field` = `value`.
#[track_caller]
pub fn assert_option(err: GruError, field: &str, value: &str) {
    match &err {
        GruError::InvalidOption { field: f, value: v, .. } => {
            assert_eq!((f.as_str(), v.as_str()), (field, value), "{err:?}")
        }
        other => panic!("expected InvalidOption for `{field}` = {value}, got {other:?}"),
    }
    assert_display(&err, &[&format!("`{field}`"), value]);
}

/// Runs `forward` and `forward_train` on a fresh training engine and returns both errors.
pub fn forward_errors<T: Real>(e: &EngineUnderTest<T>, spec: &GruSpec, batch: &SequenceBatch<'_, T>) -> [GruError; 2] {
    let mut gru = prepare(e, spec, Mode::Training);
    let a = gru.forward(batch).expect_err("forward accepted bad input");
    let b = gru.forward_train(batch).expect_err("forward_train accepted bad input");
    [a, b]
}
