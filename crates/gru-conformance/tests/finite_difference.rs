//! f64 finite-difference checks of every gradient (x, h0 and every parameter group of
//! every block) for every option value with every reset mode, on every engine that
//! computes in f64. OneDNN does not (its RNNs are f32): there the test checks its typed
//! refusal of f64 on every point; its f32 gradients are checked against the fixtures and
//! the scalar reference path (`fixtures.rs`, `cross_product.rs`).
//!
//! Central differences with step 1e-6 on `L = Σ y ⊙ dy + Σ h_T ⊙ dh_T`. Hard-sigmoid and
//! clip have kinks where the function is not differentiable: an element whose left and
//! right one-sided differences disagree sits on a kink and is skipped (counted, and the
//! count must stay tiny); everywhere else the analytic gradient must match.

use gru_conformance::cases::{Case, Lengths, OptionPoint};
use gru_conformance::engines;
use gru_core::{state_len, Engine, GateActivation, OutputMode, Plan, SequenceBatch, StateActivation};

const EPS: f64 = 1e-6;
const TOL: f64 = 1e-6;

/// The loss of `case` with its inputs, h0 and parameters as given.
fn loss(engine: &dyn Engine<f64>, case: &Case<f64>, h0: &[f64]) -> f64 {
    let mut prepared = engine.prepare(&case.spec, &case.params, &Plan::inference()).expect("prepare");
    let batch = SequenceBatch::new(&case.x, case.steps, case.batch).with_lengths(&case.lengths).with_initial_state(h0);
    case.loss(&prepared.forward(&batch).expect("forward"))
}

/// Which values a finite difference perturbs.
#[derive(Clone, Copy, Debug)]
enum Target {
    X,
    H0,
    Params,
}

struct Tally {
    checked: usize,
    kinks: usize,
    failures: Vec<String>,
}

fn check_target(
    engine: &dyn Engine<f64>,
    case: &Case<f64>,
    h0: &[f64],
    analytic: &[f64],
    target: Target,
    what: &str,
    tally: &mut Tally,
) {
    let n = analytic.len();
    for i in 0..n {
        let eval = |delta: f64| {
            let mut c = case.clone();
            let mut h = h0.to_vec();
            match target {
                Target::X => c.x[i] += delta,
                Target::H0 => h[i] += delta,
                Target::Params => {
                    let mut flat = c.params.to_flat();
                    flat[i] += delta;
                    c.params.set_flat(&flat).expect("same size");
                }
            }
            loss(engine, &c, &h)
        };
        let (lp, l0, lm) = (eval(EPS), eval(0.0), eval(-EPS));
        let (right, left) = ((lp - l0) / EPS, (l0 - lm) / EPS);
        if (right - left).abs() > 1e-4 * (1.0 + right.abs()) {
            tally.kinks += 1;
            continue;
        }
        let fd = (lp - lm) / (2.0 * EPS);
        tally.checked += 1;
        if (analytic[i] - fd).abs() > TOL * (1.0 + fd.abs()) {
            tally.failures.push(format!("{what}[{i}]: analytic {} vs finite difference {fd}", analytic[i]));
        }
    }
}

/// Every option value with every reset mode: 3 modes × 2 state × 2 gate (one with
/// non-default alpha/beta) × clip {none, 0.7}, with depth, directions, output mode,
/// lengths and initial state rotating so that each of their values meets each mode.
fn points() -> Vec<OptionPoint> {
    let mut out = Vec::new();
    let mut k = 0usize;
    for mode in gru_core::ResetGateMode::ALL {
        for state in [StateActivation::Tanh, StateActivation::Softsign] {
            for gate in [GateActivation::Sigmoid, GateActivation::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.45 }] {
                for clip in [None, Some(0.7)] {
                    out.push(OptionPoint {
                        mode,
                        state,
                        gate,
                        clip,
                        depth: 1 + k % 3,
                        bidirectional: k % 2 == 1,
                        output: if (k / 2).is_multiple_of(2) { OutputMode::Sequence } else { OutputMode::Last },
                        lengths: if (k / 4).is_multiple_of(2) { Lengths::Ragged } else { Lengths::Equal },
                        given_h0: (k / 3).is_multiple_of(2),
                    });
                    k += 1;
                }
            }
        }
    }
    out
}

#[test]
fn gradients_match_finite_differences_for_every_option() {
    let mut tally = Tally { checked: 0, kinks: 0, failures: Vec::new() };
    let mut refused = 0;
    for (i, point) in points().iter().enumerate() {
        let case = Case::<f64>::random(&point.spec(2, 3), 4, 3, point.lengths, point.given_h0, 7000 + i as u64);
        let h0 = case.h0.clone().unwrap_or_else(|| vec![0.0; state_len(&case.spec, case.batch)]);
        for e in engines::<f64>() {
            if e.refusal(&case.spec).is_some() {
                refused += 1;
                tally.failures.extend(e.check_refused(&case.spec, &case.params).err());
                continue;
            }
            let (_, grads) = case.run(e.engine.as_ref()).expect("run");
            let what = |t: &str| format!("{} {point:?} d{t}", e.name);
            check_target(e.engine.as_ref(), &case, &h0, &grads.dx, Target::X, &what("x"), &mut tally);
            check_target(e.engine.as_ref(), &case, &h0, &grads.dh0, Target::H0, &what("h0"), &mut tally);
            check_target(
                e.engine.as_ref(),
                &case,
                &h0,
                &grads.params.to_flat(),
                Target::Params,
                &what("params"),
                &mut tally,
            );
        }
    }
    eprintln!(
        "finite differences: {} elements checked, {} on kinks skipped; {refused} (engine, point) pairs refused",
        tally.checked, tally.kinks
    );
    if gru_conformance::onednn_loads() {
        assert_eq!(refused, points().len(), "OneDNN refuses f64 at every point");
    }
    assert!(
        tally.failures.is_empty(),
        "{} failures:\n{}",
        tally.failures.len(),
        tally.failures[..tally.failures.len().min(10)].join("\n")
    );
    assert!(tally.kinks * 200 < tally.checked, "too many kinks skipped: {} of {}", tally.kinks, tally.checked);
    assert!(tally.checked > 10_000);
}
