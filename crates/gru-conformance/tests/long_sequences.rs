//! Long sequences of very different lengths in one batch (issue 17, item 9: the UEA PLAID
//! shape, 100 to 1344 steps, one channel): the fast path on 1 and 2 threads computes what the
//! scalar reference computes, forward and backward, each sequence's result is the one it
//! gets alone (its batch partners' lengths and the padding do not leak in), and the
//! parameter gradients match f64 finite differences over all 1344 steps.

use gru_conformance::cases::{Case, Lengths};
use gru_conformance::compare::{check_close, widen};
use gru_core::Engine;
use gru_core::{GruSpec, NativeEngine, OutputMode, Plan, SequenceBatch};

const LENGTHS: [usize; 4] = [1344, 100, 517, 1000];

fn long_case() -> Case<f64> {
    let spec = GruSpec { output_mode: OutputMode::Last, ..GruSpec::new(1, 8) };
    let mut case = Case::<f64>::random(&spec, 1344, LENGTHS.len(), Lengths::Equal, false, 1344);
    case.lengths = LENGTHS.to_vec();
    case
}

#[test]
fn the_fast_path_matches_the_reference_over_1344_steps() {
    let case = long_case();
    let (want, want_g) = case.run(&NativeEngine::reference()).unwrap();
    for threads in [1, 2] {
        let (got, g) = case.run(&NativeEngine::with_threads(threads)).unwrap();
        let what = format!("{threads} threads");
        check_close("y", &got.y, &widen(&want.y), 1e-12).unwrap_or_else(|e| panic!("{what}: {e}"));
        check_close("h_t", &got.h_t, &widen(&want.h_t), 1e-12).unwrap_or_else(|e| panic!("{what}: {e}"));
        check_close("dx", &g.dx, &widen(&want_g.dx), 1e-10).unwrap_or_else(|e| panic!("{what}: {e}"));
        check_close("params", &g.params.to_flat(), &widen(&want_g.params.to_flat()), 1e-10)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    }
    // The gradient reaches the first step of the longest sequence (no NaN, no underflow to
    // an exact zero through 1344 steps) and no padded step of the shorter ones.
    let (_, g) = case.run(&NativeEngine::new()).unwrap();
    let (b, i) = (case.batch, case.spec.input_size);
    assert!(g.dx[0].is_finite() && g.dx[0] != 0.0, "dL/dx at step 0: {}", g.dx[0]);
    for (s, &len) in LENGTHS.iter().enumerate() {
        for t in len..case.steps {
            assert_eq!(g.dx[(t * b + s) * i], 0.0, "sequence {s} step {t} is padding");
        }
    }
}

#[test]
fn each_long_sequence_gets_what_it_gets_alone() {
    let case = long_case();
    let engine = NativeEngine::new();
    let mut batched = engine.prepare(&case.spec, &case.params, &Plan::inference()).unwrap();
    let all = batched.forward(&case.batch_view()).unwrap();
    let h = case.spec.hidden_size;
    for (s, &len) in LENGTHS.iter().enumerate() {
        let x: Vec<f64> = (0..len).map(|t| case.x[t * case.batch + s]).collect();
        let alone = batched.forward(&SequenceBatch::new(&x, len, 1)).unwrap();
        check_close("y", &all.y[s * h..(s + 1) * h], &alone.y, 1e-12).unwrap_or_else(|e| panic!("sequence {s}: {e}"));
    }
}

#[test]
fn parameter_gradients_match_finite_differences_over_1344_steps() {
    let case = long_case();
    let engine = NativeEngine::new();
    let (_, g) = case.run(&engine).unwrap();
    let analytic = g.params.to_flat();
    let flat = case.params.to_flat();
    let loss = |delta_at: usize, delta: f64| {
        let mut c = case.clone();
        let mut p = flat.clone();
        p[delta_at] += delta;
        c.params.set_flat(&p).unwrap();
        let mut prepared = engine.prepare(&c.spec, &c.params, &Plan::inference()).unwrap();
        c.loss(&prepared.forward(&c.batch_view()).unwrap())
    };
    // Every 7th parameter: every gate's input and recurrent weights and biases.
    let eps = 1e-6;
    let mut checked = 0;
    for k in (0..flat.len()).step_by(7) {
        let numeric = (loss(k, eps) - loss(k, -eps)) / (2.0 * eps);
        let err = (numeric - analytic[k]).abs();
        assert!(err <= 1e-6 * (1.0 + numeric.abs()), "parameter {k}: analytic {} vs numeric {numeric}", analytic[k]);
        checked += 1;
    }
    assert!(checked >= 30, "{checked}");
}
