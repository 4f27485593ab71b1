//! Sequences of length 0 and the padding past a sequence's length (DESIGN.md "Variable
//! length", `gru_core::lengths`), on every engine: the fast path on its default threads, on
//! 1 and 2 threads (the batch split) and with the hidden units split, the scalar
//! reference path, and OneDNN where libdnnl loads.
//!
//! For a batch mixing lengths 0, 1 and T (`Lengths::WithEmpty`):
//! - an empty sequence gives y = 0 (output mode last: the top layer's h_T), h_T = h0,
//!   dx = 0 and dh0 = dh_T (plus, in mode last, its dy on the top blocks), exactly;
//! - the other sequences and the weight gradients are those of the same batch without the
//!   empty sequences, and every result is the reference path's (the suite's tolerances);
//! - NaN and ±inf in the padding give, bit for bit, the results of zero padding, in
//!   `forward`, `forward_train` and `backward`;
//! - a NaN or infinity inside a sequence is still a `NonFinite` error naming its index.

use gru_conformance::cases::{Case, Lengths};
use gru_conformance::compare::{check_close, widen, Tolerance};
use gru_conformance::{engines, EngineUnderTest};
use gru_core::{
    state_len, Engine, GateActivation, GruError, GruGradients, GruOutput, GruSpec, NativeEngine, OutputMode, Plan,
    Real, ResetGateMode, SequenceBatch, StateActivation,
};

const STEPS: usize = 5;
/// At least 8, so that two threads split the batch (`split.rs`: 4 sequences per thread).
const BATCH: usize = 9;

/// The suite's engines plus the fast path on 1 and 2 threads and with the units split.
fn all_engines<T: Real>() -> Vec<EngineUnderTest<T>> {
    let mut out = engines::<T>();
    let fast = |name, engine: NativeEngine| EngineUnderTest::<T> {
        name,
        engine: Box::new(engine),
        computed_by: gru_core::native::FAST_PATH,
        refuses: |_, _| None,
    };
    out.push(fast("Korali (fast path, 1 thread)", NativeEngine::with_threads(1)));
    out.push(fast("Korali (fast path, 2 threads)", NativeEngine::with_threads(2)));
    out.push(fast("Korali (fast path, units split)", NativeEngine::with_threads(2).with_unit_split(true)));
    out
}

/// Every reset mode × uni/bi × output mode × depth 1, 2 × h0 zero/given; every fourth point
/// with softsign, hard-sigmoid and clip (which OneDNN refuses).
fn specs() -> Vec<(GruSpec, bool)> {
    let mut out = Vec::new();
    for mode in ResetGateMode::ALL {
        for bidirectional in [false, true] {
            for output in [OutputMode::Sequence, OutputMode::Last] {
                for depth in [1, 2] {
                    for given_h0 in [false, true] {
                        let mut spec = GruSpec::new(3, 4)
                            .with_reset_gate_mode(mode)
                            .with_bidirectional(bidirectional)
                            .with_output_mode(output)
                            .with_depth(depth);
                        if out.len() % 4 == 3 {
                            spec = spec
                                .with_state_activation(StateActivation::Softsign)
                                .with_gate_activation(GateActivation::HARD_SIGMOID)
                                .with_clip(Some(0.7));
                        }
                        out.push((spec, given_h0));
                    }
                }
            }
        }
    }
    out
}

/// Inference `forward`, then `forward_train` and `backward` on `engine`.
fn run_all<T: Real>(case: &Case<T>, engine: &dyn Engine<T>) -> (GruOutput<T>, GruOutput<T>, GruGradients<T>) {
    let mut inference = engine.prepare(&case.spec, &case.params, &Plan::inference()).expect("prepare inference");
    let inferred = inference.forward(&case.batch_view()).expect("forward");
    let (trained, grads) = case.run(engine).expect("forward_train and backward");
    (inferred, trained, grads)
}

fn same_bits<T: Real>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(p, q)| p.widen().to_bits() == q.widen().to_bits())
}

/// The rows `rows` of a `[outer, B, inner]` tensor, as `[outer, rows, inner]`.
fn rows_of<T: Real>(v: &[T], batch: usize, inner: usize, rows: &[usize]) -> Vec<T> {
    let outer = v.len() / (batch * inner);
    (0..outer).flat_map(|o| rows.iter().flat_map(move |&b| v[(o * batch + b) * inner..][..inner].to_vec())).collect()
}

/// The exact results an empty sequence `b` must have, and zero past every length.
fn check_empty_rows<T: Real>(case: &Case<T>, out: &GruOutput<T>, g: Option<&GruGradients<T>>) -> Result<(), String> {
    let (spec, batch) = (&case.spec, case.batch);
    let (hid, dirs, width, inp) = (spec.hidden_size, spec.directions(), spec.output_size(), spec.input_size);
    let h0 = case.h0.clone().unwrap_or_else(|| vec![T::zero(); state_len(spec, batch)]);
    let top = (spec.depth - 1) * dirs;
    for (b, &len) in case.lengths.iter().enumerate() {
        if spec.output_mode == OutputMode::Sequence {
            for t in len..case.steps {
                if out.y[(t * batch + b) * width..][..width].iter().any(|v| *v != T::zero()) {
                    return Err(format!("y[{t}, {b}] is not zero past the length {len}"));
                }
            }
        }
        if let Some(g) = g {
            for t in len..case.steps {
                if g.dx[(t * batch + b) * inp..][..inp].iter().any(|v| *v != T::zero()) {
                    return Err(format!("dx[{t}, {b}] is not zero past the length {len}"));
                }
            }
        }
        if len > 0 {
            continue;
        }
        let h_t = rows_of(&out.h_t, batch, hid, &[b]);
        if !same_bits(&h_t, &rows_of(&h0, batch, hid, &[b])) {
            return Err(format!("h_T of the empty sequence {b} is {h_t:?}, not its h0"));
        }
        if spec.output_mode == OutputMode::Last {
            let want: Vec<T> = (0..dirs).flat_map(|d| h0[((top + d) * batch + b) * hid..][..hid].to_vec()).collect();
            if !same_bits(&out.y[b * width..(b + 1) * width], &want) {
                return Err(format!("y (last) of the empty sequence {b} is not the top layer's h0 {want:?}"));
            }
        }
        let Some(g) = g else { continue };
        let mut want = case.dh_t.clone();
        if spec.output_mode == OutputMode::Last {
            for d in 0..dirs {
                for j in 0..hid {
                    want[((top + d) * batch + b) * hid + j] += case.dy[b * width + d * hid + j];
                }
            }
        }
        if !same_bits(&rows_of(&g.dh0, batch, hid, &[b]), &rows_of(&want, batch, hid, &[b])) {
            return Err(format!("dh0 of the empty sequence {b} is not dh_T (plus its dy on the top blocks)"));
        }
    }
    Ok(())
}

/// Failures of one engine on one case: exact empty rows, the sub-batch without the empty
/// sequences, the reference, and NaN padding against zero padding.
fn check_case<T: Real>(e: &EngineUnderTest<T>, case: &Case<T>) -> Vec<String> {
    let tol = Tolerance::of(T::DTYPE);
    let (spec, batch) = (&case.spec, case.batch);
    let (hid, width, inp) = (spec.hidden_size, spec.output_size(), spec.input_size);
    let zero_padded = case.with_padding(&[0.0]);
    let (inferred, out, g) = run_all(&zero_padded, e.engine.as_ref());
    let mut failures = Vec::new();
    let mut check = |what: &str, r: Result<(), String>| {
        if let Err(m) = r {
            failures.push(format!("{what}: {m}"));
        }
    };
    for o in [&inferred, &out] {
        check("computed_by", (o.computed_by == e.computed_by).then_some(()).ok_or(o.computed_by.to_string()));
    }
    check("empty rows (forward)", check_empty_rows(&zero_padded, &inferred, None));
    check("empty rows (training)", check_empty_rows(&zero_padded, &out, Some(&g)));

    // The same batch without its empty sequences.
    let kept: Vec<usize> = (0..batch).filter(|&b| case.lengths[b] > 0).collect();
    let sub = zero_padded.select(&kept);
    let (_, sub_out, sub_g) = run_all(&sub, e.engine.as_ref());
    let y_inner = width;
    check(
        "y vs without the empty",
        check_close("y", &rows_of(&out.y, batch, y_inner, &kept), &widen(&sub_out.y), tol.values).map(drop),
    );
    check(
        "h_t vs without the empty",
        check_close("h_t", &rows_of(&out.h_t, batch, hid, &kept), &widen(&sub_out.h_t), tol.values).map(drop),
    );
    check(
        "dx vs without the empty",
        check_close("dx", &rows_of(&g.dx, batch, inp, &kept), &widen(&sub_g.dx), tol.grads).map(drop),
    );
    check(
        "dh0 vs without the empty",
        check_close("dh0", &rows_of(&g.dh0, batch, hid, &kept), &widen(&sub_g.dh0), tol.grads).map(drop),
    );
    check(
        "weight gradients vs without the empty",
        check_close("params", &g.params.to_flat(), &widen(&sub_g.params.to_flat()), tol.grads).map(drop),
    );

    // The reference path on the whole batch.
    let (ref_out, ref_g) = zero_padded.run(&NativeEngine::reference()).expect("reference path runs");
    for (name, a, b, t) in [
        ("y (forward)", &inferred.y, &ref_out.y, tol.values),
        ("h_t (forward)", &inferred.h_t, &ref_out.h_t, tol.values),
        ("y", &out.y, &ref_out.y, tol.values),
        ("h_t", &out.h_t, &ref_out.h_t, tol.values),
        ("dx", &g.dx, &ref_g.dx, tol.grads),
        ("dh0", &g.dh0, &ref_g.dh0, tol.grads),
    ] {
        check(&format!("{name} vs reference"), check_close(name, a, &widen(b), t).map(drop));
    }
    check(
        "params vs reference",
        check_close("params", &g.params.to_flat(), &widen(&ref_g.params.to_flat()), tol.grads).map(drop),
    );

    // NaN and ±inf in the padding: bit for bit the results of zero padding.
    let nan_padded = case.with_padding(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
    assert!(nan_padded.x.iter().any(|v| v.widen().is_nan()), "the case has padding");
    let (n_inferred, n_out, n_g) = run_all(&nan_padded, e.engine.as_ref());
    for (name, a, b) in [
        ("y (forward)", &n_inferred.y, &inferred.y),
        ("h_t (forward)", &n_inferred.h_t, &inferred.h_t),
        ("y (forward_train)", &n_out.y, &out.y),
        ("h_t (forward_train)", &n_out.h_t, &out.h_t),
        ("dx", &n_g.dx, &g.dx),
        ("dh0", &n_g.dh0, &g.dh0),
    ] {
        check(&format!("NaN padding: {name}"), same_bits(a, b).then_some(()).ok_or("differs from zero padding".into()));
    }
    let (np, zp) = (n_g.params.to_flat(), g.params.to_flat());
    check("NaN padding: params", same_bits(&np, &zp).then_some(()).ok_or("differs from zero padding".into()));
    failures.into_iter().map(|m| format!("{} {} {spec:?}: {m}", e.name, T::DTYPE)).collect()
}

fn sweep<T: Real>() {
    let mut failures = Vec::new();
    let mut ran = Vec::new();
    for (i, (spec, given_h0)) in specs().into_iter().enumerate() {
        let case = Case::<T>::random(&spec, STEPS, BATCH, Lengths::WithEmpty, given_h0, 7000 + i as u64);
        assert_eq!(&case.lengths[..3], &[STEPS, 0, 1]);
        for e in all_engines::<T>() {
            if e.refusal(&spec).is_some() {
                continue;
            }
            ran.push(e.name);
            failures.extend(check_case(&e, &case));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    // Every engine computed cases (OneDNN: f32 without softsign, hard-sigmoid and clip).
    for e in all_engines::<T>() {
        let n = ran.iter().filter(|&&name| name == e.name).count();
        let expected = if e.name == "OneDNN" { 36 } else { specs().len() };
        assert_eq!(n, if e.refusal(&GruSpec::new(3, 4)).is_some() { 0 } else { expected }, "{}", e.name);
    }
}

#[test]
fn empty_sequences_and_nan_padding_on_every_engine_f64() {
    sweep::<f64>();
}

#[test]
fn empty_sequences_and_nan_padding_on_every_engine_f32() {
    sweep::<f32>();
}

/// A batch of empty sequences only: nothing runs, y = 0 (last: the top h0), h_T = h0,
/// dx = 0, dh0 = dh_T, no parameter gradient.
#[test]
fn a_batch_of_empty_sequences_only() {
    fn on<T: Real>() {
        for output in [OutputMode::Sequence, OutputMode::Last] {
            let spec = GruSpec::new(3, 4).with_depth(2).with_bidirectional(true).with_output_mode(output);
            let mut case = Case::<T>::random(&spec, 3, 4, Lengths::Equal, true, 11);
            case.lengths = vec![0; 4];
            let case = case.with_padding(&[f64::NAN]);
            for e in all_engines::<T>().iter().filter(|e| e.refusal(&spec).is_none()) {
                let (inferred, out, g) = run_all(&case, e.engine.as_ref());
                assert_eq!(out.computed_by, e.computed_by);
                check_empty_rows(&case, &inferred, None).unwrap_or_else(|m| panic!("{} {output:?}: {m}", e.name));
                check_empty_rows(&case, &out, Some(&g)).unwrap_or_else(|m| panic!("{} {output:?}: {m}", e.name));
                assert!(g.params.to_flat().iter().all(|v| *v == T::zero()), "{}: parameter gradients", e.name);
            }
        }
    }
    on::<f64>();
    on::<f32>();
}

/// Only the padding may hold NaN or infinity: inside a sequence (of any length, 1
/// included) it is a `NonFinite` error naming `x` and the flat index, in `forward` and
/// `forward_train`.
#[test]
fn a_non_finite_value_inside_a_sequence_is_an_error() {
    fn on<T: Real>() {
        let spec = GruSpec::new(3, 4).with_bidirectional(true);
        let case = Case::<T>::random(&spec, STEPS, BATCH, Lengths::WithEmpty, false, 12).with_padding(&[f64::NAN]);
        let inp = spec.input_size;
        // (t, b, channel): the last step of the full sequence 0, the one step of sequence 2.
        for (t, b, c, bad) in [(STEPS - 1, 0, 2, f64::NAN), (0, 2, 0, f64::INFINITY), (0, 0, 1, f64::NEG_INFINITY)] {
            let mut x = case.x.clone();
            let index = (t * BATCH + b) * inp + c;
            x[index] = T::lit(bad);
            let batch = SequenceBatch::new(&x, STEPS, BATCH).with_lengths(&case.lengths);
            for e in all_engines::<T>().iter().filter(|e| e.refusal(&spec).is_none()) {
                let mut gru = e.engine.prepare(&spec, &case.params, &Plan::training()).expect("prepare");
                let errors = [gru.forward(&batch).expect_err("forward"), gru.forward_train(&batch).expect_err("train")];
                for err in errors {
                    match &err {
                        GruError::NonFinite { field, index: i, value } => {
                            assert_eq!((field.as_str(), *i), ("x", index), "{}", e.name);
                            assert!(value.is_nan() == bad.is_nan() && (value.is_nan() || *value == bad), "{err:?}");
                        }
                        other => panic!("{}: expected NonFinite for x[{index}], got {other:?}", e.name),
                    }
                }
            }
        }
    }
    on::<f64>();
    on::<f32>();
}
