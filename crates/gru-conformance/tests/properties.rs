//! Property tests of the batch contract (DESIGN.md, "Variable length") for random specs
//! over every option, on every engine of the suite: both native paths in f64, and OneDNN in
//! f32 on every spec it accepts (its typed refusal on the others; a second pair of
//! properties draws only specs it accepts, so that it runs on many):
//!
//! - batch independence: a sequence's outputs (`y` rows, its `h_T` slices) and gradients
//!   (`dx` rows, `dh0` slices) are those of the same sequence run alone as a batch of 1, and
//!   the batch's parameter gradients are the sum of the per-sequence ones;
//! - padding: values of `x` (NaN and ±inf included) and of `dy` (sequence output) at padded
//!   steps change nothing, `y` and `dx` are exactly zero there, and extra padded steps
//!   (T + k, same lengths) give the same results on the valid steps.
//!
//! Lengths are drawn from `0..=T`: empty sequences take part in both properties.
//!
//! Tolerances `|a - ref| <= tol · (1 + |ref|)`: 1e-12 in f64; in f32 DESIGN.md's 1e-5 for
//! values and 1e-4 for gradients (a sequence alone runs as another GEMM shape than in its
//! batch, so its rounding differs).
//!
//! Layouts: `x` `[T, B, I]`, `y` `[T, B, dirs·H]` or `[B, dirs·H]`, `h0`/`h_T`/`dh0`
//! `[D·dirs, B, H]`, all time-major and row-major.

use gru_conformance::{engines, EngineUnderTest};
use gru_core::{
    state_len, GateActivation, GruGradients, GruOutput, GruParams, GruSpec, OutputGrads, OutputMode, Plan,
    ResetGateMode, SequenceBatch, StateActivation,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// f64 tolerance of these properties: `|a - ref| <= TOL * (1 + |ref|)`.
const TOL: f64 = 1e-12;

/// Cases per property (each runs every engine on about 2 + B batches; well under a second).
const CASES: u32 = 256;

/// An engine of the suite, in the dtype it is tested in here.
enum Under {
    F64(EngineUnderTest<f64>),
    F32(EngineUnderTest<f32>),
}

impl Under {
    fn name(&self) -> &'static str {
        match self {
            Under::F64(e) => e.computed_by,
            Under::F32(e) => e.computed_by,
        }
    }

    /// (values, gradients) tolerances.
    fn tol(&self) -> (f64, f64) {
        match self {
            Under::F64(_) => (TOL, TOL),
            Under::F32(_) => (1e-5, 1e-4),
        }
    }
}

/// The native paths in f64; the other engines in f32 (OneDNN computes in f32 only).
fn engines_under_test() -> Vec<Under> {
    let native = [gru_core::native::FAST_PATH, gru_core::native::REFERENCE_PATH];
    let mut out: Vec<Under> =
        engines::<f64>().into_iter().filter(|e| native.contains(&e.computed_by)).map(Under::F64).collect();
    out.extend(engines::<f32>().into_iter().filter(|e| !native.contains(&e.computed_by)).map(Under::F32));
    out
}

/// One random problem: the spec, the batch shape and the seed of every value.
#[derive(Clone, Debug)]
struct Case {
    spec: GruSpec,
    steps: usize,
    batch: usize,
    lengths: Vec<usize>,
    /// Pass `lengths` explicitly (otherwise every length is T and `None` is passed).
    explicit_lengths: bool,
    with_h0: bool,
    with_dh_t: bool,
    seed: u64,
}

fn spec_strategy() -> impl Strategy<Value = GruSpec> {
    let gate = prop_oneof![
        Just(GateActivation::Sigmoid),
        Just(GateActivation::HARD_SIGMOID),
        (0.1..0.6f64, 0.2..0.8f64).prop_map(|(alpha, beta)| GateActivation::HardSigmoid { alpha, beta }),
    ];
    let state = prop_oneof![Just(StateActivation::Tanh), Just(StateActivation::Softsign)];
    let output = prop_oneof![Just(OutputMode::Sequence), Just(OutputMode::Last)];
    (
        1..=4usize,
        1..=4usize,
        1..=3usize,
        any::<bool>(),
        prop::sample::select(ResetGateMode::ALL.to_vec()),
        state,
        gate,
        prop::option::of(0.3..3.0f64),
        output,
    )
        .prop_map(|(input, hidden, depth, bidirectional, mode, state, gate, clip, output)| {
            GruSpec::new(input, hidden)
                .with_depth(depth)
                .with_bidirectional(bidirectional)
                .with_reset_gate_mode(mode)
                .with_state_activation(state)
                .with_gate_activation(gate)
                .with_clip(clip)
                .with_output_mode(output)
        })
}

/// Specs with the options every engine of the suite computes (tanh, sigmoid, no clip).
fn common_spec_strategy() -> impl Strategy<Value = GruSpec> {
    let output = prop_oneof![Just(OutputMode::Sequence), Just(OutputMode::Last)];
    (1..=4usize, 1..=4usize, 1..=3usize, any::<bool>(), prop::sample::select(ResetGateMode::ALL.to_vec()), output)
        .prop_map(|(input, hidden, depth, bidirectional, mode, output)| {
            GruSpec::new(input, hidden)
                .with_depth(depth)
                .with_bidirectional(bidirectional)
                .with_reset_gate_mode(mode)
                .with_output_mode(output)
        })
}

fn case_strategy() -> impl Strategy<Value = Case> {
    cases_of(spec_strategy())
}

fn cases_of(specs: impl Strategy<Value = GruSpec>) -> impl Strategy<Value = Case> {
    (specs, 1..=5usize, 1..=4usize).prop_flat_map(|(spec, steps, batch)| {
        (prop::collection::vec(0..=steps, batch), any::<bool>(), any::<bool>(), any::<bool>(), any::<u64>()).prop_map(
            move |(lengths, explicit, with_h0, with_dh_t, seed)| {
                let explicit_lengths = explicit || lengths.iter().any(|&l| l != steps);
                let lengths = if explicit_lengths { lengths } else { vec![steps; batch] };
                Case { spec: spec.clone(), steps, batch, lengths, explicit_lengths, with_h0, with_dh_t, seed }
            },
        )
    })
}

/// The values of one case: parameters, inputs and upstream gradients.
struct Data {
    params: GruParams<f64>,
    x: Vec<f64>,
    h0: Option<Vec<f64>>,
    dy: Vec<f64>,
    dh_t: Option<Vec<f64>>,
}

fn uniform(rng: &mut StdRng, n: usize, bound: f64) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-bound..=bound)).collect()
}

fn y_len(spec: &GruSpec, steps: usize, batch: usize) -> usize {
    gru_core::output_shape(spec, steps, batch).iter().product()
}

impl Case {
    fn data(&self, rng: &mut StdRng) -> Data {
        let spec = &self.spec;
        let mut params = GruParams::<f64>::zeros(spec);
        let flat = uniform(rng, params.num_params(), 1.0);
        params.set_flat(&flat).expect("flat length is num_params");
        let states = state_len(spec, self.batch);
        Data {
            params,
            x: uniform(rng, self.steps * self.batch * spec.input_size, 1.5),
            h0: self.with_h0.then(|| uniform(rng, states, 1.0)),
            dy: uniform(rng, y_len(spec, self.steps, self.batch), 1.0),
            dh_t: self.with_dh_t.then(|| uniform(rng, states, 1.0)),
        }
    }

    fn lengths(&self) -> Option<&[usize]> {
        self.explicit_lengths.then_some(&self.lengths[..])
    }
}

/// Everything one forward_train + backward produced.
struct Run {
    out: GruOutput<f64>,
    grads: GruGradients<f64>,
}

/// Inputs of one run; `x` is `[steps, batch, I]`.
struct Inputs<'a> {
    x: &'a [f64],
    steps: usize,
    batch: usize,
    lengths: Option<&'a [usize]>,
    h0: Option<&'a [f64]>,
    dy: &'a [f64],
    dh_t: Option<&'a [f64]>,
}

fn narrow(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// Runs forward_train + backward on `e` (in its dtype), or `None` after checking its typed
/// refusal when it does not compute `spec`.
fn run(e: &Under, spec: &GruSpec, params: &GruParams<f64>, i: &Inputs<'_>) -> Result<Option<Run>, TestCaseError> {
    let path = e.name();
    let fail = |what: &str, er: gru_core::GruError| TestCaseError::fail(format!("{path}: {what} failed: {er}"));
    match e {
        Under::F64(e) => {
            if e.refusal(spec).is_some() {
                e.check_refused(spec, params).map_err(TestCaseError::fail)?;
                return Ok(None);
            }
            let mut gru = e.engine.prepare(spec, params, &Plan::training()).map_err(|er| fail("prepare", er))?;
            let mut batch = SequenceBatch::new(i.x, i.steps, i.batch);
            batch.lengths = i.lengths;
            batch.h0 = i.h0;
            let (out, saved) = gru.forward_train(&batch).map_err(|er| fail("forward_train", er))?;
            prop_assert_eq!(out.computed_by, path);
            let grads =
                gru.backward(saved, &OutputGrads { dy: i.dy, dh_t: i.dh_t }).map_err(|er| fail("backward", er))?;
            Ok(Some(Run { out, grads }))
        }
        Under::F32(e) => {
            let mut p32 = GruParams::<f32>::zeros(spec);
            p32.set_flat(&narrow(&params.to_flat())).expect("same spec");
            if e.refusal(spec).is_some() {
                e.check_refused(spec, &p32).map_err(TestCaseError::fail)?;
                return Ok(None);
            }
            let (x, h0, dy, dh_t) = (narrow(i.x), i.h0.map(narrow), narrow(i.dy), i.dh_t.map(narrow));
            let mut gru = e.engine.prepare(spec, &p32, &Plan::training()).map_err(|er| fail("prepare", er))?;
            let mut batch = SequenceBatch::new(&x, i.steps, i.batch);
            batch.lengths = i.lengths;
            batch.h0 = h0.as_deref();
            let (out, saved) = gru.forward_train(&batch).map_err(|er| fail("forward_train", er))?;
            prop_assert_eq!(out.computed_by, path);
            let grads = gru
                .backward(saved, &OutputGrads { dy: &dy, dh_t: dh_t.as_deref() })
                .map_err(|er| fail("backward", er))?;
            let mut params = GruParams::<f64>::zeros(spec);
            params.set_flat(&widen(&grads.params.to_flat())).expect("same spec");
            Ok(Some(Run {
                out: GruOutput {
                    y: widen(&out.y),
                    y_shape: out.y_shape,
                    h_t: widen(&out.h_t),
                    computed_by: out.computed_by,
                },
                grads: GruGradients { dx: widen(&grads.dx), dh0: widen(&grads.dh0), params },
            }))
        }
    }
}

/// Checks `|a - ref| <= tol · (1 + |ref|)` element-wise (tol 0: bitwise equality).
fn close(what: &str, a: &[f64], reference: &[f64], tol: f64) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), reference.len(), "{}: lengths differ", what);
    for (k, (&v, &r)) in a.iter().zip(reference).enumerate() {
        let ok = if tol == 0.0 { v.to_bits() == r.to_bits() || v == r } else { (v - r).abs() <= tol * (1.0 + r.abs()) };
        prop_assert!(ok, "{}[{}]: {} vs reference {} (diff {:e})", what, k, v, r, (v - r).abs());
    }
    Ok(())
}

/// Rows `t < keep` of sequence `b` of a `[steps, batch, width]` tensor, as `[keep, 1, width]`.
fn seq_rows(m: &[f64], keep: usize, batch: usize, b: usize, width: usize) -> Vec<f64> {
    (0..keep).flat_map(|t| m[(t * batch + b) * width..][..width].iter().copied()).collect()
}

/// Sequence `b` of a `[blocks, batch, hid]` state, as `[blocks, 1, hid]`.
fn state_rows(m: &[f64], blocks: usize, batch: usize, b: usize, hid: usize) -> Vec<f64> {
    (0..blocks).flat_map(|k| m[(k * batch + b) * hid..][..hid].iter().copied()).collect()
}

/// `y` (or `dy`) rows of sequence `b`: steps `t < keep` (sequence mode) or its one row (last).
fn y_rows(spec: &GruSpec, y: &[f64], keep: usize, batch: usize, b: usize) -> Vec<f64> {
    match spec.output_mode {
        OutputMode::Sequence => seq_rows(y, keep, batch, b, spec.output_size()),
        OutputMode::Last => y[b * spec.output_size()..][..spec.output_size()].to_vec(),
    }
}

/// Property a: every sequence of the batch, run alone, gives the batch's rows.
fn check_batch_independence(case: &Case, trim: bool) -> Result<(), TestCaseError> {
    let spec = &case.spec;
    let mut rng = StdRng::seed_from_u64(case.seed);
    let d = case.data(&mut rng);
    let (steps, batch, hid, blocks) = (case.steps, case.batch, spec.hidden_size, spec.num_blocks());
    let whole = Inputs {
        x: &d.x,
        steps,
        batch,
        lengths: case.lengths(),
        h0: d.h0.as_deref(),
        dy: &d.dy,
        dh_t: d.dh_t.as_deref(),
    };
    for e in engines_under_test() {
        let (path, (tol, gtol)) = (e.name(), e.tol());
        let Some(all) = run(&e, spec, &d.params, &whole)? else { continue };
        let mut param_sum = vec![0.0; d.params.num_params()];
        for (b, &len) in case.lengths.iter().enumerate() {
            // Alone: either exactly its own steps (one padded step for an empty sequence), or
            // padded to T like in the batch.
            let keep = if trim { len.max(1) } else { steps };
            let x = seq_rows(&d.x, keep, batch, b, spec.input_size);
            let h0 = d.h0.as_ref().map(|h| state_rows(h, blocks, batch, b, hid));
            let dy = y_rows(spec, &d.dy, keep, batch, b);
            let dh_t = d.dh_t.as_ref().map(|h| state_rows(h, blocks, batch, b, hid));
            let lengths = [len];
            let one = Inputs {
                x: &x,
                steps: keep,
                batch: 1,
                lengths: Some(&lengths),
                h0: h0.as_deref(),
                dy: &dy,
                dh_t: dh_t.as_deref(),
            };
            let alone = run(&e, spec, &d.params, &one)?.expect("accepted for the whole batch");
            let tag = |what: &str| format!("{path} seq {b} (len {len}, alone over {keep} steps): {what}");
            close(&tag("y"), &y_rows(spec, &all.out.y, keep, batch, b), &alone.out.y, tol)?;
            close(&tag("h_T"), &state_rows(&all.out.h_t, blocks, batch, b, hid), &alone.out.h_t, tol)?;
            close(&tag("dx"), &seq_rows(&all.grads.dx, keep, batch, b, spec.input_size), &alone.grads.dx, gtol)?;
            close(&tag("dh0"), &state_rows(&all.grads.dh0, blocks, batch, b, hid), &alone.grads.dh0, gtol)?;
            for (s, v) in param_sum.iter_mut().zip(alone.grads.params.to_flat()) {
                *s += v;
            }
        }
        close(
            &format!("{path}: dparams (batch vs sum over sequences)"),
            &all.grads.params.to_flat(),
            &param_sum,
            gtol,
        )?;
    }
    Ok(())
}

/// Replaces the rows of `[steps, batch, width]` at padded steps (`t >= lengths[b]`), with
/// `non_finite` one value in four NaN or ±inf (padding of `x` may hold them; `dy` may not).
fn scramble_padding(m: &mut [f64], lengths: &[usize], width: usize, non_finite: bool, rng: &mut StdRng) {
    let batch = lengths.len();
    for (row, chunk) in m.chunks_exact_mut(width).enumerate() {
        let (t, b) = (row / batch, row % batch);
        if t >= lengths[b] {
            for v in chunk {
                *v = match rng.random_range(0..12) {
                    0 if non_finite => f64::NAN,
                    1 if non_finite => f64::INFINITY,
                    2 if non_finite => f64::NEG_INFINITY,
                    _ => rng.random_range(-50.0..=50.0),
                };
            }
        }
    }
}

/// Asserts the rows of `[steps, batch, width]` at padded steps are exactly zero.
fn zero_at_padding(what: &str, m: &[f64], lengths: &[usize], width: usize) -> Result<(), TestCaseError> {
    let batch = lengths.len();
    for (row, chunk) in m.chunks_exact(width).enumerate() {
        let (t, b) = (row / batch, row % batch);
        if t >= lengths[b] {
            prop_assert!(
                chunk.iter().all(|&v| v == 0.0),
                "{}: step {} of seq {} (len {}) is {:?}",
                what,
                t,
                b,
                lengths[b],
                chunk
            );
        }
    }
    Ok(())
}

/// Extends `[steps, batch, width]` by `extra` steps of random values.
fn extend_steps(m: &[f64], batch: usize, width: usize, extra: usize, rng: &mut StdRng) -> Vec<f64> {
    let mut out = m.to_vec();
    out.extend(uniform(rng, extra * batch * width, 5.0));
    out
}

/// Compares two runs on the valid steps (`steps` first steps of `a`'s `[·, B, ·]` tensors).
fn same_on_valid_steps(
    what: &str,
    spec: &GruSpec,
    a: &Run,
    reference: &Run,
    steps: usize,
    (tol, gtol): (f64, f64),
) -> Result<(), TestCaseError> {
    let batch = a.out.h_t.len() / (spec.num_blocks() * spec.hidden_size);
    let y = match spec.output_mode {
        OutputMode::Sequence => &a.out.y[..steps * batch * spec.output_size()],
        OutputMode::Last => &a.out.y[..],
    };
    close(&format!("{what}: y"), y, &reference.out.y, tol)?;
    close(&format!("{what}: h_T"), &a.out.h_t, &reference.out.h_t, tol)?;
    close(&format!("{what}: dx"), &a.grads.dx[..steps * batch * spec.input_size], &reference.grads.dx, gtol)?;
    close(&format!("{what}: dh0"), &a.grads.dh0, &reference.grads.dh0, gtol)?;
    close(&format!("{what}: dparams"), &a.grads.params.to_flat(), &reference.grads.params.to_flat(), gtol)
}

/// Property b: padded steps are never read.
fn check_padding(case: &Case, extra: usize) -> Result<(), TestCaseError> {
    let spec = &case.spec;
    let mut rng = StdRng::seed_from_u64(case.seed);
    let d = case.data(&mut rng);
    let (steps, batch, lengths) = (case.steps, case.batch, &case.lengths[..]);
    let mut x2 = d.x.clone();
    scramble_padding(&mut x2, lengths, spec.input_size, true, &mut rng);
    let mut dy2 = d.dy.clone();
    if spec.output_mode == OutputMode::Sequence {
        scramble_padding(&mut dy2, lengths, spec.output_size(), false, &mut rng);
    }
    let x_ext = extend_steps(&d.x, batch, spec.input_size, extra, &mut rng);
    let dy_ext = match spec.output_mode {
        OutputMode::Sequence => extend_steps(&d.dy, batch, spec.output_size(), extra, &mut rng),
        OutputMode::Last => d.dy.clone(),
    };
    let base = Inputs {
        x: &d.x,
        steps,
        batch,
        lengths: case.lengths(),
        h0: d.h0.as_deref(),
        dy: &d.dy,
        dh_t: d.dh_t.as_deref(),
    };
    let scrambled = Inputs { x: &x2, dy: &dy2, ..base };
    let padded = Inputs { x: &x_ext, steps: steps + extra, lengths: Some(lengths), dy: &dy_ext, ..base };
    for e in engines_under_test() {
        let path = e.name();
        let Some(a) = run(&e, spec, &d.params, &base)? else { continue };
        if spec.output_mode == OutputMode::Sequence {
            zero_at_padding(&format!("{path}: y"), &a.out.y, lengths, spec.output_size())?;
        }
        zero_at_padding(&format!("{path}: dx"), &a.grads.dx, lengths, spec.input_size)?;

        // Other values at padded steps: bitwise the same results.
        let s = run(&e, spec, &d.params, &scrambled)?.expect("accepted before");
        same_on_valid_steps(&format!("{path}, other padding values"), spec, &s, &a, steps, (0.0, 0.0))?;
        if spec.output_mode == OutputMode::Sequence {
            zero_at_padding(&format!("{path}, other padding values: y"), &s.out.y, lengths, spec.output_size())?;
        }
        zero_at_padding(&format!("{path}, other padding values: dx"), &s.grads.dx, lengths, spec.input_size)?;

        // Extra padded steps: the same results on the valid ones, zero past them.
        // (Bitwise for OneDNN too: it runs each length group alone, whatever T is.)
        let p = run(&e, spec, &d.params, &padded)?.expect("accepted before");
        same_on_valid_steps(&format!("{path}, {extra} extra steps"), spec, &p, &a, steps, e.tol())?;
        if spec.output_mode == OutputMode::Sequence {
            zero_at_padding(&format!("{path}, {extra} extra steps: y"), &p.out.y, lengths, spec.output_size())?;
        }
        zero_at_padding(&format!("{path}, {extra} extra steps: dx"), &p.grads.dx, lengths, spec.input_size)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    /// Property a: a sequence's results do not depend on the other sequences of its batch.
    #[test]
    fn sequences_do_not_depend_on_their_batch(case in case_strategy(), trim in any::<bool>()) {
        check_batch_independence(&case, trim)?;
    }

    /// Property b: values at padded steps and extra padded steps change nothing.
    #[test]
    fn padding_does_not_matter(case in case_strategy(), extra in 1..=3usize) {
        check_padding(&case, extra)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES / 2, ..ProptestConfig::default() })]

    /// Property a on specs every engine computes (OneDNN runs on each of these).
    #[test]
    fn sequences_do_not_depend_on_their_batch_on_common_options(case in cases_of(common_spec_strategy()), trim in any::<bool>()) {
        check_batch_independence(&case, trim)?;
    }

    /// Property b on specs every engine computes.
    #[test]
    fn padding_does_not_matter_on_common_options(case in cases_of(common_spec_strategy()), extra in 1..=3usize) {
        check_padding(&case, extra)?;
    }
}
