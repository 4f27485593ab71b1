//! Every engine against every PyTorch/onnxruntime fixture: outputs, final states and all
//! gradients, with DESIGN.md's tolerances, proving through `computed_by` which engine ran.

use gru_conformance::compare::{check_close, widen, Tolerance};
use gru_conformance::fixture::{cast, load_all, Fixture};
use gru_conformance::{engines, EngineUnderTest};
use gru_core::{DType, OutputGrads, Plan, Real, SequenceBatch};

type FixturePredicate = dyn Fn(&Fixture) -> bool;

/// Worst scaled errors of one engine on one fixture: (values, gradients).
fn check_fixture<T: Real>(f: &Fixture, e: &EngineUnderTest<T>) -> Result<(f64, f64), String> {
    let tol = Tolerance::of(f.dtype);
    let spec = f.gru_spec();
    let params = f.gru_params::<T>();
    let x: Vec<T> = cast(&f.x);
    let h0: Option<Vec<T>> = f.h0.as_deref().map(cast);
    let mut batch = SequenceBatch::new(&x, f.steps, f.batch).with_lengths(&f.lengths);
    if let Some(h0) = &h0 {
        batch = batch.with_initial_state(h0);
    }
    let ctx = |m: String| format!("{} on {}: {m}", e.name, f.name);

    // Inference mode.
    let mut inference = e.engine.prepare(&spec, &params, &Plan::inference()).map_err(|er| ctx(er.to_string()))?;
    let out = inference.forward(&batch).map_err(|er| ctx(er.to_string()))?;
    if out.computed_by != e.computed_by {
        return Err(ctx(format!("computed by {}, expected {}", out.computed_by, e.computed_by)));
    }
    let mut worst_v = check_close("y", &out.y, &f.y, tol.values).map_err(ctx)?;
    worst_v = worst_v.max(check_close("h_t", &out.h_t, &f.h_t, tol.values).map_err(ctx)?);

    // Training mode: the same outputs, then every gradient.
    let mut training = e.engine.prepare(&spec, &params, &Plan::training()).map_err(|er| ctx(er.to_string()))?;
    let (out_t, saved) = training.forward_train(&batch).map_err(|er| ctx(er.to_string()))?;
    if out_t.y != out.y || out_t.h_t != out.h_t {
        return Err(ctx("forward_train differs from forward".into()));
    }
    let dy: Vec<T> = cast(&f.dy);
    let dh_t: Vec<T> = cast(&f.dh_t);
    let g = training.backward(saved, &OutputGrads { dy: &dy, dh_t: Some(&dh_t) }).map_err(|er| ctx(er.to_string()))?;
    let mut worst_g = check_close("dx", &g.dx, &f.grads.x, tol.grads).map_err(ctx)?;
    worst_g = worst_g.max(check_close("dh0", &g.dh0, &f.grads.h0, tol.grads).map_err(ctx)?);
    for (i, (ours, theirs)) in g.params.blocks().iter().zip(&f.grads.params).enumerate() {
        worst_g = worst_g.max(check_close(&format!("params[{i}].w"), ours.w(), &theirs.w, tol.grads).map_err(ctx)?);
        worst_g = worst_g.max(check_close(&format!("params[{i}].r"), ours.r(), &theirs.r, tol.grads).map_err(ctx)?);
        worst_g = worst_g.max(check_close(&format!("params[{i}].b"), ours.bias(), &theirs.b, tol.grads).map_err(ctx)?);
    }
    if widen(&g.params.to_flat()).len() != f.expected_param_grads().len() {
        return Err(ctx("parameter gradient count differs".into()));
    }
    Ok((worst_v, worst_g))
}

/// Runs every engine on every fixture of dtype `T`: a full check where the engine accepts
/// the fixture's options, the typed refusal where it does not. Returns the number of
/// (engine, fixture) pairs handled.
fn run_all<T: Real>(fixtures: &[Fixture]) -> usize {
    let mut failures = Vec::new();
    let mut count = 0;
    for e in engines::<T>() {
        let (mut worst_v, mut worst_g) = (0.0f64, 0.0f64);
        let (mut ran, mut refused) = (0, 0);
        for f in fixtures.iter().filter(|f| f.dtype == T::DTYPE) {
            let result = if e.refusal(&f.gru_spec()).is_some() {
                refused += 1;
                e.check_refused(&f.gru_spec(), &f.gru_params::<T>()).map_err(|m| format!("{}: {m}", f.name))
            } else {
                ran += 1;
                check_fixture(f, &e).map(|(v, g)| {
                    worst_v = worst_v.max(v);
                    worst_g = worst_g.max(g);
                })
            };
            match result {
                Ok(()) => count += 1,
                Err(m) => failures.push(m),
            }
        }
        eprintln!(
            "{} {}: {ran} fixtures run, {refused} refused; worst scaled error vs fixtures: outputs {worst_v:.2e}, \
             gradients {worst_g:.2e}",
            e.name,
            T::DTYPE
        );
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    count
}

#[test]
fn every_engine_reproduces_every_fixture() {
    let fixtures = load_all();
    assert!(fixtures.len() >= 80, "expected the committed fixtures, found {}", fixtures.len());
    let n32 = run_all::<f32>(&fixtures);
    let n64 = run_all::<f64>(&fixtures);
    let per_engine = fixtures.len();
    assert_eq!(n32 + n64, per_engine * engines::<f32>().len(), "every fixture ran on (or was refused by) every engine");
}

/// OneDNN is installed here and in CI (`.ci/run`), so the suite must run it: on the
/// fixtures with the options it computes, for every reset mode, depth 1 to 3 (with I != H
/// and I == dirs·H), both directions, both output modes, ragged batches and given h0.
#[test]
fn onednn_is_under_test_on_fixtures_of_every_shape() {
    if !gru_conformance::onednn_under_test("onednn_is_under_test_on_fixtures_of_every_shape") {
        return;
    }
    assert!(engines::<f32>().iter().any(|e| e.computed_by == "OneDNN"));
    let fixtures = load_all();
    let accepted: Vec<&Fixture> =
        fixtures.iter().filter(|f| gru_conformance::onednn_refuses(&f.gru_spec(), f.dtype).is_none()).collect();
    for mode in gru_core::ResetGateMode::ALL {
        let of: Vec<&&Fixture> = accepted.iter().filter(|f| f.spec.reset_gate_mode == mode).collect();
        let has = |p: &FixturePredicate| of.iter().any(|f| p(f));
        let checks: [(&str, &FixturePredicate); 9] = [
            ("depth 2, I != dirs·H", &|f| f.spec.depth == 2 && f.spec.input_size != f.gru_spec().output_size()),
            ("depth 3, I == H", &|f| f.spec.depth == 3 && f.spec.input_size == f.spec.hidden_size),
            ("depth 3 bidirectional", &|f| f.spec.depth == 3 && f.spec.bidirectional),
            ("unidirectional", &|f| !f.spec.bidirectional),
            ("sequence", &|f| f.spec.output_mode == gru_core::OutputMode::Sequence),
            ("last", &|f| f.spec.output_mode == gru_core::OutputMode::Last),
            ("ragged incl. 1", &|f| f.lengths.contains(&1) && f.lengths.iter().any(|&l| l != 1)),
            ("repeated lengths", &|f| (1..f.lengths.len()).any(|i| f.lengths[..i].contains(&f.lengths[i]))),
            ("given h0", &|f| f.h0.is_some()),
        ];
        for (what, p) in checks {
            assert!(has(p), "no fixture OneDNN accepts with {what} for {}", mode.name());
        }
    }
}

#[test]
fn fixtures_cover_every_option_with_every_reset_mode() {
    let fixtures = load_all();
    for dtype in [DType::F32, DType::F64] {
        for mode in gru_core::ResetGateMode::ALL {
            let of: Vec<&Fixture> =
                fixtures.iter().filter(|f| f.dtype == dtype && f.spec.reset_gate_mode == mode).collect();
            let has = |p: &FixturePredicate| of.iter().any(|f| p(f));
            let ragged_with_1 = |f: &Fixture| f.lengths.contains(&1) && f.lengths.iter().any(|&l| l != 1);
            let checks: [(&str, &FixturePredicate); 16] = [
                ("tanh", &|f| f.spec.state_activation == gru_core::StateActivation::Tanh),
                ("softsign", &|f| f.spec.state_activation == gru_core::StateActivation::Softsign),
                ("sigmoid", &|f| f.spec.gate_activation == "sigmoid"),
                ("hard-sigmoid", &|f| f.spec.gate_activation == "hard-sigmoid"),
                ("depth 1", &|f| f.spec.depth == 1),
                ("depth 2", &|f| f.spec.depth == 2),
                ("depth 3", &|f| f.spec.depth == 3),
                ("unidirectional", &|f| !f.spec.bidirectional),
                ("bidirectional", &|f| f.spec.bidirectional),
                ("sequence", &|f| f.spec.output_mode == gru_core::OutputMode::Sequence),
                ("last", &|f| f.spec.output_mode == gru_core::OutputMode::Last),
                ("equal lengths", &|f| f.lengths.iter().all(|&l| l == f.steps)),
                ("ragged incl. 1", &ragged_with_1),
                ("zero h0", &|f| f.h0.is_none()),
                ("given h0", &|f| f.h0.is_some()),
                ("clip", &|f| f.spec.clip.is_some()),
            ];
            for (what, p) in checks {
                assert!(has(p), "no {dtype} fixture with {what} for {}", mode.name());
            }
        }
    }
}
