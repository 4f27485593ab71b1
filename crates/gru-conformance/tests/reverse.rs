//! A reverse stack (`GruSpec::reverse`, ONNX `direction = "reverse"`) on every engine of the
//! suite, against two independent statements of what it computes:
//!
//! 1. the forward stack with the same parameters, run over each sequence reversed within its
//!    own length: y (and dy, dx) reversed within each length, h0, h_T, dh0 and the parameter
//!    gradients the same (sequence output; depth 1 to 3, every reset-gate mode, every
//!    activation and clip the engine accepts, ragged lengths);
//! 2. with depth 1, the backward half of a bidirectional layer whose backward block holds the
//!    same parameters: its columns of y, its h_T and dh0, its parameter gradients (both
//!    output modes, so `last` is checked too: the output at step L-1, as for bidirectional);
//!
//! and `reverse` with `bidirectional` is a typed error naming `reverse`. Every native path
//! (scalar reference, fast path on 1 and 2 threads, the unit split) runs in f64 and f32,
//! OneDNN (`dnnl_unidirectional_right2left`) in f32 where libdnnl loads; each run proves its
//! engine ran (`computed_by`). Tolerances: DESIGN.md's, `Tolerance::of(dtype)`.

use gru_conformance::cases::{Case, Lengths};
use gru_conformance::compare::{check_close, widen, Tolerance};
use gru_conformance::engines;
use gru_core::{
    Engine, GateActivation, GruError, GruGradients, GruOutput, GruParams, GruSpec, NativeEngine, OutputGrads,
    OutputMode, Plan, Real, ResetGateMode, SequenceBatch, StateActivation,
};

/// The engines of the suite plus the native fast path on 2 threads, with and without the
/// unit split (H here is small: the split is forced).
fn all_engines<T: Real>() -> Vec<(String, Box<dyn Engine<T>>, &'static str)> {
    let mut out: Vec<(String, Box<dyn Engine<T>>, &'static str)> = Vec::new();
    for e in engines::<T>() {
        out.push((e.name.to_string(), e.engine, e.computed_by));
    }
    let fast = gru_core::native::FAST_PATH;
    out.push(("fast path, 2 threads".into(), Box::new(NativeEngine::with_threads(2)), fast));
    out.push((
        "fast path, 2 threads, unit split".into(),
        Box::new(NativeEngine::with_threads(2).with_unit_split(true)),
        fast,
    ));
    out
}

/// Whether `engine` refuses `spec` in `T` (OneDNN: f64, softsign, hard-sigmoid, clip): then
/// its refusal is checked, and nothing else.
fn refused<T: Real>(engine: &dyn Engine<T>, spec: &GruSpec, params: &GruParams<T>) -> bool {
    match engine.prepare(spec, params, &Plan::training()) {
        Ok(_) => false,
        Err(GruError::Unsupported { field, .. }) => {
            assert!(
                ["dtype", "state_activation", "gate_activation", "clip"].contains(&field.as_str()),
                "{spec:?}: refused on {field}, not an option of the refusal list"
            );
            true
        }
        Err(e) => panic!("{spec:?}: {e}"),
    }
}

fn run<T: Real>(
    engine: &dyn Engine<T>,
    spec: &GruSpec,
    params: &GruParams<T>,
    batch: SequenceBatch<'_, T>,
    dy: &[T],
    dh_t: &[T],
) -> (GruOutput<T>, GruGradients<T>) {
    let mut prepared = engine.prepare(spec, params, &Plan::training()).unwrap();
    let (out, saved) = prepared.forward_train(&batch).unwrap();
    let grads = prepared.backward(saved, &OutputGrads { dy, dh_t: Some(dh_t) }).unwrap();
    (out, grads)
}

/// `v` `[T, B, w]` with each sequence's steps reversed within its length (padding kept).
fn reverse_within_lengths<T: Copy>(v: &[T], steps: usize, lengths: &[usize], w: usize) -> Vec<T> {
    let batch = lengths.len();
    let mut out = v.to_vec();
    for (b, &len) in lengths.iter().enumerate() {
        for t in 0..len.min(steps) {
            let (dst, src) = ((t * batch + b) * w, ((len - 1 - t) * batch + b) * w);
            out[dst..dst + w].copy_from_slice(&v[src..src + w]);
        }
    }
    out
}

fn specs(output: OutputMode, depths: &[usize]) -> Vec<GruSpec> {
    let mut out = Vec::new();
    for &depth in depths {
        for mode in ResetGateMode::ALL {
            for (state, gate, clip) in [
                (StateActivation::Tanh, GateActivation::Sigmoid, None),
                (StateActivation::Softsign, GateActivation::HARD_SIGMOID, Some(0.9)),
            ] {
                out.push(
                    GruSpec::new(3, 4)
                        .with_depth(depth)
                        .with_reverse(true)
                        .with_reset_gate_mode(mode)
                        .with_state_activation(state)
                        .with_gate_activation(gate)
                        .with_clip(clip)
                        .with_output_mode(output),
                );
            }
        }
    }
    out
}

fn reverse_is_forward_over_reversed_sequences<T: Real>() -> usize {
    let tol = Tolerance::of(T::DTYPE);
    let mut checked = 0;
    for (k, spec) in specs(OutputMode::Sequence, &[1, 2, 3]).into_iter().enumerate() {
        let forward = spec.clone().with_reverse(false);
        for given_h0 in [false, true] {
            let case = Case::<T>::random(&spec, 5, 4, Lengths::Ragged, given_h0, 100 + k as u64);
            let (steps, lengths) = (case.steps, &case.lengths[..]);
            let (inp, out_w) = (spec.input_size, spec.output_size());
            let x_rev = reverse_within_lengths(&case.x, steps, lengths, inp);
            let dy_rev = reverse_within_lengths(&case.dy, steps, lengths, out_w);
            for (name, engine, computed_by) in all_engines::<T>() {
                let what = |field: &str| format!("{name} {} {spec:?} h0 {given_h0}: {field}", T::DTYPE);
                if refused(engine.as_ref(), &spec, &case.params) {
                    continue;
                }
                let (ours, g) = case.run(engine.as_ref()).unwrap();
                let mut b = SequenceBatch::new(&x_rev, steps, case.batch).with_lengths(lengths);
                if let Some(h0) = &case.h0 {
                    b = b.with_initial_state(h0);
                }
                let (theirs, tg) = run(engine.as_ref(), &forward, &case.params, b, &dy_rev, &case.dh_t);
                assert_eq!(ours.computed_by, computed_by, "{}", what("computed_by"));
                let y = reverse_within_lengths(&widen(&theirs.y), steps, lengths, out_w);
                check_close(&what("y"), &ours.y, &y, tol.values).unwrap();
                check_close(&what("h_T"), &ours.h_t, &widen(&theirs.h_t), tol.values).unwrap();
                let dx = reverse_within_lengths(&widen(&tg.dx), steps, lengths, inp);
                check_close(&what("dx"), &g.dx, &dx, tol.grads).unwrap();
                check_close(&what("dh0"), &g.dh0, &widen(&tg.dh0), tol.grads).unwrap();
                check_close(&what("dW, dR, db"), &g.params.to_flat(), &widen(&tg.params.to_flat()), tol.grads).unwrap();
                assert!(ours.y.iter().any(|v| v.widen() != 0.0), "{}", what("all-zero y proves nothing"));
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn a_reverse_stack_is_the_forward_stack_over_sequences_reversed_within_their_lengths() {
    let n = reverse_is_forward_over_reversed_sequences::<f64>() + reverse_is_forward_over_reversed_sequences::<f32>();
    println!("{n} engine runs agree");
    assert!(n >= 2 * 36, "too few runs: {n}");
}

fn reverse_is_the_backward_half_of_bidirectional<T: Real>() -> usize {
    let tol = Tolerance::of(T::DTYPE);
    let mut checked = 0;
    for output in [OutputMode::Sequence, OutputMode::Last] {
        for (k, spec) in specs(output, &[1]).into_iter().enumerate() {
            let bi = spec.clone().with_reverse(false).with_bidirectional(true);
            let case = Case::<T>::random(&spec, 5, 4, Lengths::Ragged, true, 200 + k as u64);
            let (steps, batch, hid) = (case.steps, case.batch, spec.hidden_size);
            // The bidirectional layer: a forward block of other values, the backward block
            // ours; h0 [2, B, H] with ours second. The forward half gets no upstream gradient
            // (dy columns and dh_T zero), so that dx is the backward half's alone.
            let other = Case::<T>::random(&spec.clone().with_reverse(false), steps, batch, Lengths::Equal, true, 7);
            let parts = |p: &GruParams<T>| {
                let b = &p.blocks()[0];
                (b.w().to_vec(), b.r().to_vec(), b.bias().to_vec())
            };
            let bi_params = GruParams::from_blocks(&bi, vec![parts(&other.params), parts(&case.params)]).unwrap();
            let h0_bi = [other.h0.clone().unwrap(), case.h0.clone().unwrap()].concat();
            let dh_bi = [vec![T::zero(); batch * hid], case.dh_t.clone()].concat();
            let dy_bi: Vec<T> = case
                .dy
                .chunks(hid)
                .flat_map(|row| std::iter::repeat_n(T::zero(), hid).chain(row.iter().copied()))
                .collect();
            for (name, engine, computed_by) in all_engines::<T>() {
                let what = |field: &str| format!("{name} {} {spec:?}: {field}", T::DTYPE);
                if refused(engine.as_ref(), &spec, &case.params) {
                    continue;
                }
                let (ours, g) = case.run(engine.as_ref()).unwrap();
                let b =
                    SequenceBatch::new(&case.x, steps, batch).with_lengths(&case.lengths).with_initial_state(&h0_bi);
                let (theirs, tg) = run(engine.as_ref(), &bi, &bi_params, b, &dy_bi, &dh_bi);
                assert_eq!(ours.computed_by, computed_by, "{}", what("computed_by"));
                let back_half =
                    |v: &[T]| -> Vec<f64> { widen(v).chunks(2 * hid).flat_map(|r| r[hid..].to_vec()).collect() };
                check_close(&what("y"), &ours.y, &back_half(&theirs.y), tol.values).unwrap();
                check_close(&what("h_T"), &ours.h_t, &widen(&theirs.h_t[batch * hid..]), tol.values).unwrap();
                check_close(&what("dx"), &g.dx, &widen(&tg.dx), tol.grads).unwrap();
                check_close(&what("dh0"), &g.dh0, &widen(&tg.dh0[batch * hid..]), tol.grads).unwrap();
                let flat = |b: &gru_core::BlockParams<T>| [b.w(), b.r(), b.bias()].concat();
                let (d_fwd, d_back) = (flat(&tg.params.blocks()[0]), flat(&tg.params.blocks()[1]));
                check_close(&what("dW, dR, db"), &flat(&g.params.blocks()[0]), &widen(&d_back), tol.grads).unwrap();
                assert!(d_fwd.iter().all(|v| v.widen() == 0.0), "{}", what("the forward half got a gradient"));
                assert!(tg.dh0[..batch * hid].iter().all(|v| v.widen() == 0.0), "{}", what("forward dh0"));
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn one_reverse_layer_is_the_backward_half_of_a_bidirectional_layer() {
    let n =
        reverse_is_the_backward_half_of_bidirectional::<f64>() + reverse_is_the_backward_half_of_bidirectional::<f32>();
    println!("{n} engine runs agree");
    assert!(n >= 2 * 24, "too few runs: {n}");
}

#[test]
fn reverse_with_bidirectional_is_a_typed_error_naming_reverse() {
    let spec = GruSpec::new(2, 3).with_bidirectional(true).with_reverse(true);
    match spec.validate() {
        Err(GruError::InvalidOption { field, .. }) => assert_eq!(field, "reverse"),
        other => panic!("{other:?}"),
    }
    let params = GruParams::<f32>::zeros(&GruSpec::new(2, 3).with_bidirectional(true));
    for (name, engine, _) in all_engines::<f32>() {
        let err = engine.prepare(&spec, &params, &Plan::inference()).err();
        assert!(matches!(&err, Some(GruError::InvalidOption { field, .. }) if field == "reverse"), "{name}: {err:?}");
    }
}
