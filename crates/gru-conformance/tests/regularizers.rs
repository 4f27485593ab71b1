//! The regularizers (`gru_core::Regularization`): f64 finite-difference checks of every
//! gradient with the masks fixed by the draw, for every option alone and all together, with
//! the three reset modes, bidirectional and depth 2; the fast path against the scalar
//! reference (f32 and f64, one sweep, the batch split and the unit split); and the inference
//! form (dropouts vanish, zoneout's expectation, layer norm stays).

use gru_conformance::cases::{Case, Lengths};
use gru_conformance::compare::{check_close, widen, Tolerance};
use gru_core::{
    state_len, Engine, GruGradients, GruOutput, GruSpec, NativeEngine, OutputGrads, OutputMode, Plan, Real,
    Regularization, ResetGateMode,
};

/// The draw every check trains with.
const DRAW: u64 = 11;

/// Each regularizer alone (rates high enough that a small case has both mask values), and
/// all of them together.
fn options() -> Vec<(&'static str, Regularization)> {
    let seeded = Regularization::NONE.with_seed(42);
    vec![
        ("input dropout", seeded.with_input_dropout(0.3)),
        ("recurrent dropout", seeded.with_recurrent_dropout(0.35)),
        ("zoneout", seeded.with_zoneout(0.3)),
        ("weight drop", seeded.with_weight_drop(0.3)),
        ("layer norm", seeded.with_layer_norm(true)),
        (
            "all",
            seeded
                .with_input_dropout(0.2)
                .with_recurrent_dropout(0.25)
                .with_zoneout(0.2)
                .with_weight_drop(0.2)
                .with_layer_norm(true),
        ),
    ]
}

/// The option × reset-mode points, with depth, directions, output mode and lengths rotating.
fn points() -> Vec<(String, GruSpec, Lengths, bool)> {
    let mut out = Vec::new();
    let mut k = 0usize;
    for (name, reg) in options() {
        for mode in ResetGateMode::ALL {
            let spec = GruSpec::new(2, 3)
                .with_reset_gate_mode(mode)
                .with_depth(1 + k % 2)
                .with_bidirectional(k % 3 != 1)
                .with_output_mode(if k % 4 == 3 { OutputMode::Last } else { OutputMode::Sequence })
                .with_regularization(reg);
            let lengths = if k.is_multiple_of(2) { Lengths::Ragged } else { Lengths::Equal };
            out.push((format!("{name}, {mode:?}, {k}"), spec, lengths, k.is_multiple_of(3)));
            k += 1;
        }
    }
    out
}

/// Training forward (masks of `draw`) and backward of `case` on `engine`.
fn train<T: Real>(engine: &dyn Engine<T>, case: &Case<T>, draw: u64) -> (GruOutput<T>, GruGradients<T>) {
    let mut prepared = engine.prepare(&case.spec, &case.params, &Plan::training()).expect("prepare");
    prepared.set_mask_draw(draw);
    let (out, saved) = prepared.forward_train(&case.batch_view()).expect("forward_train");
    let grads = prepared.backward(saved, &OutputGrads { dy: &case.dy, dh_t: Some(&case.dh_t) }).expect("backward");
    (out, grads)
}

/// The loss of a training forward with the masks of `DRAW`.
fn loss(engine: &dyn Engine<f64>, case: &Case<f64>) -> f64 {
    let mut prepared = engine.prepare(&case.spec, &case.params, &Plan::training()).expect("prepare");
    prepared.set_mask_draw(DRAW);
    let (out, _) = prepared.forward_train(&case.batch_view()).expect("forward_train");
    case.loss(&out)
}

/// Finite differences of every element of x, h0 and the parameters against `grads`: the
/// fourth-order central stencil `(8 (f(ε) - f(-ε)) - (f(2ε) - f(-2ε))) / 12ε`: layer norm over
/// few units meets nearly constant gate blocks (a recurrent product of a state dropped to
/// zero: ρ = 1/sqrt(var + 1e-5) ≈ 316), whose curvature shows in the two-point stencil's error
/// (one such point: analytic -1411.494096; two-point -1411.5752 at ε = 1e-6, -1411.5014 at
/// 3e-7; four-point -1411.494096 at 1e-6).
fn check_finite_differences(engine: &dyn Engine<f64>, case: &Case<f64>, grads: &GruGradients<f64>) -> Vec<String> {
    const EPS: f64 = 1e-6;
    let mut failures = Vec::new();
    let h0 = case.h0.clone().unwrap_or_else(|| vec![0.0; state_len(&case.spec, case.batch)]);
    let flat = case.params.to_flat();
    let targets: [(&str, usize, &[f64]); 3] =
        [("x", case.x.len(), &grads.dx), ("h0", h0.len(), &grads.dh0), ("params", flat.len(), &grads.params.to_flat())];
    for (what, n, analytic) in targets {
        for i in 0..n {
            let eval = |delta: f64| {
                let mut c = case.clone();
                match what {
                    "x" => c.x[i] += delta,
                    "h0" => {
                        let mut h = h0.clone();
                        h[i] += delta;
                        c.h0 = Some(h);
                    }
                    _ => {
                        let mut f = flat.clone();
                        f[i] += delta;
                        c.params.set_flat(&f).expect("same size");
                    }
                }
                loss(engine, &c)
            };
            let fd = (8.0 * (eval(EPS) - eval(-EPS)) - (eval(2.0 * EPS) - eval(-2.0 * EPS))) / (12.0 * EPS);
            if (analytic[i] - fd).abs() > 1e-6 * (1.0 + fd.abs()) {
                failures.push(format!("d{what}[{i}]: analytic {} vs finite difference {fd}", analytic[i]));
            }
        }
    }
    failures
}

#[test]
fn gradients_match_finite_differences_with_every_regularizer() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, (name, spec, lengths, given_h0)) in points().into_iter().enumerate() {
        let case = Case::<f64>::random(&spec, 4, 3, lengths, given_h0, 8100 + i as u64);
        for (path, engine) in [("fast", NativeEngine::new()), ("reference", NativeEngine::reference())] {
            let (_, grads) = train(&engine, &case, DRAW);
            let found = check_finite_differences(&engine, &case, &grads);
            failures.extend(found.into_iter().take(3).map(|f| format!("{path} {name}: {f}")));
            checked += 1;
        }
    }
    assert_eq!(checked, 36);
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures[..failures.len().min(12)].join("\n"));
}

/// The fast path on one thread, the batch split (2 and 3 threads) and the unit split
/// against the scalar reference, forward and backward, with the same masks.
fn fast_matches_reference<T: Real>() {
    let tol = Tolerance::of(T::DTYPE);
    for (i, (name, spec, lengths, given_h0)) in points().into_iter().enumerate() {
        let case = Case::<T>::random(&spec, 6, 9, lengths, given_h0, 8300 + i as u64);
        let (want, want_g) = train(&NativeEngine::reference(), &case, DRAW);
        let engines = [
            ("1 thread", NativeEngine::with_threads(1)),
            ("2 threads", NativeEngine::with_threads(2)),
            ("3 threads", NativeEngine::with_threads(3)),
            ("unit split", NativeEngine::with_threads(2).with_unit_split(true)),
        ];
        for (how, engine) in engines {
            let (got, g) = train(&engine, &case, DRAW);
            assert_eq!(got.computed_by, gru_core::native::FAST_PATH);
            let what = format!("{how}, {name}");
            let pairs: [(&str, &[T], &[T], f64); 5] = [
                ("y", &got.y, &want.y, tol.values),
                ("h_t", &got.h_t, &want.h_t, tol.values),
                ("dx", &g.dx, &want_g.dx, tol.grads),
                ("dh0", &g.dh0, &want_g.dh0, tol.grads),
                ("params", &g.params.to_flat(), &want_g.params.to_flat(), tol.grads),
            ];
            for (field, a, b, t) in pairs {
                check_close(field, a, &widen(b), t).unwrap_or_else(|e| panic!("{what}: {e}"));
            }
        }
    }
}

#[test]
fn fast_path_matches_the_reference_with_regularizers_f64() {
    fast_matches_reference::<f64>();
}

#[test]
fn fast_path_matches_the_reference_with_regularizers_f32() {
    fast_matches_reference::<f32>();
}

/// The masks are a function of (seed, draw, block, sequence, step, unit): 1 and 2 threads
/// train to the same outputs (bit for bit) and gradients; another draw or seed draws other
/// masks; the same draw the same ones.
#[test]
fn masks_do_not_depend_on_the_threads_and_follow_the_draw() {
    let reg = Regularization::NONE.with_seed(3).with_recurrent_dropout(0.3).with_zoneout(0.2).with_input_dropout(0.2);
    for mode in ResetGateMode::ALL {
        let spec = GruSpec::new(3, 5).with_reset_gate_mode(mode).with_depth(2).with_regularization(reg);
        let case = Case::<f64>::random(&spec, 7, 12, Lengths::Ragged, true, 77);
        let (one, g1) = train(&NativeEngine::with_threads(1), &case, DRAW);
        let (two, g2) = train(&NativeEngine::with_threads(2), &case, DRAW);
        assert_eq!(one.y, two.y, "{mode:?}: outputs of 1 and 2 threads");
        assert_eq!(one.h_t, two.h_t);
        check_close("params", &g2.params.to_flat(), &g1.params.to_flat(), 1e-12).unwrap();
        check_close("dx", &g2.dx, &g1.dx, 1e-12).unwrap();
        let (again, _) = train(&NativeEngine::with_threads(2), &case, DRAW);
        assert_eq!(again.y, one.y, "the same draw draws the same masks");
        let (other, _) = train(&NativeEngine::with_threads(1), &case, DRAW + 1);
        assert_ne!(other.y, one.y, "another draw draws other masks");
        let mut reseeded = case.clone();
        reseeded.spec.regularization.seed = 4;
        assert_ne!(train(&NativeEngine::with_threads(1), &reseeded, DRAW).0.y, one.y, "another seed");
    }
}

/// Without `set_mask_draw`, the training calls of a prepared stack draw 0, 1, 2, ...
#[test]
fn each_training_call_moves_to_the_next_draw() {
    let spec = GruSpec::new(2, 4).with_regularization(Regularization::NONE.with_recurrent_dropout(0.5));
    let case = Case::<f64>::random(&spec, 5, 4, Lengths::Equal, false, 5);
    let mut prepared = NativeEngine::new().prepare(&case.spec, &case.params, &Plan::training()).unwrap();
    let first = prepared.forward_train(&case.batch_view()).unwrap().0;
    let second = prepared.forward_train(&case.batch_view()).unwrap().0;
    assert_ne!(first.y, second.y);
    for (draw, want) in [(0, &first), (1, &second)] {
        prepared.set_mask_draw(draw);
        assert_eq!(prepared.forward_train(&case.batch_view()).unwrap().0.y, want.y, "draw {draw}");
    }
}

/// Inference (`forward`, in either mode, and the stream step) computes the expectation:
/// with dropouts only it is the plain GRU bit for bit; zoneout's `p h + (1 - p) h'` and
/// layer norm agree with the reference, and a stream stepped frame by frame with the
/// whole-sequence forward.
#[test]
fn inference_is_the_expectation() {
    let plain_spec = GruSpec::new(3, 4).with_depth(2);
    let dropouts =
        Regularization::NONE.with_seed(9).with_input_dropout(0.4).with_recurrent_dropout(0.4).with_weight_drop(0.4);
    let case = Case::<f32>::random(&plain_spec, 6, 5, Lengths::Equal, false, 31);
    let run = |spec: &GruSpec, engine: NativeEngine, plan: Plan| {
        let mut p = engine.prepare(spec, &case.params, &plan).unwrap();
        p.forward(&case.batch_view()).unwrap()
    };
    let plain = run(&plain_spec, NativeEngine::new(), Plan::inference());
    let dropped = plain_spec.clone().with_regularization(dropouts);
    for plan in [Plan::inference(), Plan::training()] {
        assert_eq!(run(&dropped, NativeEngine::new(), plan.clone()).y, plain.y, "dropouts vanish ({:?})", plan.mode);
    }
    let tol = Tolerance::of(gru_core::DType::F32);
    for reg in [Regularization::NONE.with_zoneout(0.3), Regularization::NONE.with_zoneout(0.3).with_layer_norm(true)] {
        let spec = plain_spec.clone().with_regularization(reg);
        let c = Case::<f32>::random(&spec, 6, 5, Lengths::Equal, false, 32);
        let want = {
            let mut p = NativeEngine::reference().prepare(&spec, &c.params, &Plan::inference()).unwrap();
            p.forward(&c.batch_view()).unwrap()
        };
        let mut fast = NativeEngine::new().prepare(&spec, &c.params, &Plan::inference()).unwrap();
        let got = fast.forward(&c.batch_view()).unwrap();
        check_close("y", &got.y, &widen(&want.y), tol.values).unwrap_or_else(|e| panic!("{reg:?}: {e}"));
        if !reg.layer_norm {
            // Zoneout's expectation is not the plain GRU on the same parameters.
            let mut p = NativeEngine::new().prepare(&plain_spec, &c.params, &Plan::inference()).unwrap();
            assert_ne!(p.forward(&c.batch_view()).unwrap().y, got.y);
        }
        // The stream step: frame by frame, the state after each step is the sequence's.
        let (hid, n) = (spec.hidden_size, c.batch);
        let mut state = vec![0.0f32; spec.depth * n * hid];
        let mut out = vec![0.0f32; n * hid];
        for t in 0..c.steps {
            let frames = &c.x[t * n * spec.input_size..(t + 1) * n * spec.input_size];
            fast.step(frames, n, &mut state, &mut out).unwrap();
            assert_eq!(out, got.y[t * n * hid..(t + 1) * n * hid], "{reg:?} step {t}");
        }
    }
}
