//! Streaming (`gru_core::stream`): a stream stepped frame by frame gives what its whole
//! sequence gives in one `forward`, whatever the other streams of the set do, on every
//! engine: bit for bit on the native fast path where its products run on the panel kernel
//! (f32 at the AVX-512 or AVX2+FMA level) and on the scalar reference path, within
//! DESIGN.md's tolerance rule (`|a - ref| <= 1e-5 · (1 + |ref|)`, f32) on OneDNN (and on
//! the fast path at the portable level, where a one-row product is the GEMM crate's).
//!
//! Layouts: frames `[n, I]`, outputs `[n, H]`, a stream's state `[D, H]`; whole sequences
//! `x` `[T, B, I]`, `y` `[T, B, H]`, `h0`/`h_T` `[D, B, H]`.

use gru_conformance::cases::{cross_product, Case, Lengths};
use gru_conformance::{engines, EngineUnderTest};
use gru_core::{
    Engine, GruError, GruParams, GruSpec, NativeEngine, OutputMode, Plan, ResetGateMode, SequenceBatch, StreamId,
    StreamSet,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The tolerance of an engine's streams against its own `forward` (0: bit for bit).
fn tolerance(computed_by: &str) -> f64 {
    let native_exact = computed_by == gru_core::native::REFERENCE_PATH
        || (computed_by == gru_core::native::FAST_PATH && gru_core::kernel_isa() != "portable");
    if native_exact {
        0.0
    } else {
        1e-5
    }
}

/// `|a - ref| <= tol · (1 + |ref|)` element-wise; tol 0: the same bits.
fn close(what: &str, a: &[f32], reference: &[f32], tol: f64) -> Result<(), String> {
    if a.len() != reference.len() {
        return Err(format!("{what}: {} values vs {}", a.len(), reference.len()));
    }
    for (i, (&v, &r)) in a.iter().zip(reference).enumerate() {
        let ok = if tol == 0.0 {
            v.to_bits() == r.to_bits()
        } else {
            (f64::from(v) - f64::from(r)).abs() <= tol * (1.0 + f64::from(r).abs())
        };
        if !ok {
            return Err(format!("{what}[{i}]: stepped {v:e} vs whole sequence {r:e} (tol {tol})"));
        }
    }
    Ok(())
}

/// Row `b` of a `[rows, B, w]` array, for each of its `rows`.
fn rows_of(v: &[f32], rows: usize, batch: usize, w: usize, b: usize) -> Vec<f32> {
    (0..rows).flat_map(|r| v[(r * batch + b) * w..][..w].iter().copied()).collect()
}

/// Streams `case`'s B sequences through a set of `B + 1` slots (the extra stream steps
/// noise in between, the order of the ids changes every step, stream 0 sits out one step
/// and catches up alone) and compares each stream with the whole batch's `forward` and
/// stream 0 with its sequence alone. Returns how the engine computed stream 0's sequence
/// alone and the last step (`explain`).
fn stream_case(e: &EngineUnderTest<f32>, case: &Case<f32>, seed: u64) -> Result<Explained, String> {
    let spec = &case.spec;
    let (steps, batch, inp, hid, depth) = (case.steps, case.batch, spec.input_size, spec.hidden_size, spec.depth);
    let tol = tolerance(e.computed_by);
    let plan = Plan::inference();
    let whole = e.engine.prepare(spec, &case.params, &plan).map_err(|x| x.to_string())?.forward(&case.batch_view());
    let whole = whole.map_err(|x| x.to_string())?;
    let x0 = rows_of(&case.x, steps, batch, inp, 0);
    let h00 = case.h0.as_ref().map(|h| rows_of(h, depth, batch, hid, 0));
    let alone_batch = SequenceBatch::new(&x0, steps, 1);
    let alone_batch = match &h00 {
        Some(h) => alone_batch.with_initial_state(h),
        None => alone_batch,
    };
    let mut alone_prepared = e.engine.prepare(spec, &case.params, &plan).map_err(|x| x.to_string())?;
    let alone = alone_prepared.forward(&alone_batch).map_err(|x| x.to_string())?;

    let prepared = e.engine.prepare(spec, &case.params, &plan).map_err(|x| x.to_string())?;
    let mut set = StreamSet::new(prepared, batch + 1).map_err(|x| x.to_string())?;
    let noise = set.open().map_err(|x| x.to_string())?;
    let ids: Vec<StreamId> = (0..batch).map(|_| set.open().unwrap()).collect();
    if let Some(h0) = &case.h0 {
        for (b, &id) in ids.iter().enumerate() {
            set.set_state(id, &rows_of(h0, depth, batch, hid, b)).map_err(|x| x.to_string())?;
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut outputs = vec![vec![0.0f32; steps * hid]; batch];
    let skip = steps / 2;
    for t in 0..steps {
        // This step's streams in a random order, with the noise stream somewhere.
        let mut order: Vec<usize> = (0..batch).filter(|&b| !(t == skip && b == 0)).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        let mut step_ids: Vec<StreamId> = order.iter().map(|&b| ids[b]).collect();
        let mut frames: Vec<f32> =
            order.iter().flat_map(|&b| case.x[(t * batch + b) * inp..][..inp].to_vec()).collect();
        let at = rng.random_range(0..=step_ids.len());
        step_ids.insert(at, noise);
        let noise_frame: Vec<f32> = (0..inp).map(|_| rng.random_range(-3.0..3.0)).collect();
        frames.splice(at * inp..at * inp, noise_frame);
        let y = set.step(&frames, &step_ids).map_err(|x| x.to_string())?.to_vec();
        let mut k = 0;
        for (pos, id) in step_ids.iter().enumerate() {
            if *id == noise {
                continue;
            }
            outputs[order[k]][t * hid..][..hid].copy_from_slice(&y[pos * hid..][..hid]);
            k += 1;
        }
        if t == skip {
            // Stream 0 catches up alone.
            let y = set.step(&case.x[t * batch * inp..][..inp], &ids[..1]).map_err(|x| x.to_string())?;
            outputs[0][t * hid..][..hid].copy_from_slice(y);
        }
    }
    for (b, &id) in ids.iter().enumerate() {
        let what = |s: &str| format!("{} stream {b} {s}", e.computed_by);
        match spec.output_mode {
            OutputMode::Sequence => close(&what("y"), &outputs[b], &rows_of(&whole.y, steps, batch, hid, b), tol)?,
            OutputMode::Last => {
                close(&what("y (last)"), &outputs[b][(steps - 1) * hid..], &whole.y[b * hid..][..hid], tol)?
            }
        }
        let state = set.state(id).map_err(|x| x.to_string())?;
        close(&what("state"), state, &rows_of(&whole.h_t, depth, batch, hid, b), tol)?;
    }
    let state0 = set.state(ids[0]).map_err(|x| x.to_string())?;
    close("stream 0 vs its sequence alone: state", state0, &alone.h_t, tol)?;
    if spec.output_mode == OutputMode::Sequence {
        close("stream 0 vs its sequence alone: y", &outputs[0], &alone.y, tol)?;
    }
    Ok(Explained {
        alone: alone_prepared.explain().unwrap_or_default(),
        step: set.prepared().explain().unwrap_or_default(),
    })
}

/// How an engine computed (`PreparedGru::explain`, empty where it does not say): a
/// sequence's `forward` and a stream step.
struct Explained {
    alone: String,
    step: String,
}

/// Every reset mode, activation, clip, depth and output mode (unidirectional points of the
/// cross product, initial states given through `set_state` or zero), on every engine.
#[test]
fn streams_equal_their_whole_sequences_on_every_engine() {
    let points: Vec<_> = cross_product()
        .into_iter()
        .filter(|p| !p.bidirectional && p.lengths == Lengths::Equal && p.depth <= 2)
        .collect();
    let mut checked: Vec<&str> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let spec = p.spec(3, 5);
        let case = Case::<f32>::random(&spec, 6, 3, Lengths::Equal, p.given_h0, 900 + i as u64);
        for e in engines::<f32>() {
            if e.refusal(&spec).is_some() {
                continue;
            }
            stream_case(&e, &case, i as u64).unwrap_or_else(|m| panic!("{p:?}: {m}"));
            checked.push(e.computed_by);
        }
    }
    let runs = |engine: &str| checked.iter().filter(|&&c| c == engine).count();
    assert_eq!(runs(gru_core::native::FAST_PATH), points.len());
    assert_eq!(runs(gru_core::native::REFERENCE_PATH), points.len());
    if gru_conformance::onednn_under_test("streaming on OneDNN") {
        // OneDNN computes sigmoid/tanh without clip: a quarter of the points.
        assert_eq!(runs(gru_onednn::COMPUTED_BY), points.len() / 4 / 2, "OneDNN runs");
    }
}

/// Large H: the whole sequence alone runs the unit split on two threads (H >= 128, one
/// sequence, after modes), the batch the batch split or one sweep; the stream step runs
/// the unit split (forced, or by its rule) or one sweep (forced, or one thread): every
/// combination gives the same bits (f32 on the panel kernel) or agrees within the rule.
#[test]
fn streams_equal_their_sequences_where_forward_splits_the_units() {
    for (k, mode) in ResetGateMode::ALL.into_iter().enumerate() {
        let spec = GruSpec::new(7, 130).with_depth(2).with_reset_gate_mode(mode);
        let case = Case::<f32>::random(&spec, 5, 2, Lengths::Equal, true, 40 + k as u64);
        let after = mode != ResetGateMode::BeforeMultiplication;
        for (name, engine, step_splits) in [
            ("2 threads", NativeEngine::with_threads(2), None),
            ("2 threads, units split", NativeEngine::with_threads(2).with_unit_split(true), Some(after)),
            ("2 threads, nothing split", NativeEngine::with_threads(2).with_unit_split(false), Some(false)),
            ("1 thread", NativeEngine::with_threads(1), Some(false)),
        ] {
            let e = EngineUnderTest {
                name,
                engine: Box::new(engine),
                computed_by: gru_core::native::FAST_PATH,
                refuses: |_, _| None,
            };
            let how = stream_case(&e, &case, k as u64).unwrap_or_else(|m| panic!("{mode:?} {name}: {m}"));
            if name == "2 threads" && after {
                assert!(how.alone.starts_with("unit-split"), "{mode:?} {name}: forward {}", how.alone);
            }
            // The step says how it ran: the route, and the workers when it split.
            assert!(how.step.starts_with("stream step"), "{mode:?} {name}: {}", how.step);
            match step_splits {
                Some(true) => assert!(how.step.contains("unit-split on 2 workers"), "{mode:?} {name}: {}", how.step),
                Some(false) => assert!(how.step.contains("one-sweep"), "{mode:?} {name}: {}", how.step),
                None => {}
            }
        }
    }
}

/// f64 on the fast path: the one-row products are the GEMM crate's there, whose rounding
/// may depend on the number of rows; a stream equals its sequence within the f64 rule
/// (`1e-10 · (1 + |ref|)`).
#[test]
fn f64_streams_equal_their_sequences_within_the_f64_rule() {
    for mode in ResetGateMode::ALL {
        let spec = GruSpec::new(4, 9).with_depth(2).with_reset_gate_mode(mode);
        let case = Case::<f64>::random(&spec, 8, 1, Lengths::Equal, true, 3);
        let engine = NativeEngine::new();
        let whole =
            engine.prepare(&spec, &case.params, &Plan::inference()).unwrap().forward(&case.batch_view()).unwrap();
        let mut set = StreamSet::prepare(&engine, &spec, &case.params, 2).unwrap();
        let (other, id) = (set.open().unwrap(), set.open().unwrap());
        set.set_state(id, case.h0.as_ref().unwrap()).unwrap();
        for t in 0..case.steps {
            let frames: Vec<f64> = [vec![0.3; 4], case.x[t * 4..(t + 1) * 4].to_vec()].concat();
            let y = set.step(&frames, &[other, id]).unwrap();
            for (j, (&v, &r)) in y[9..].iter().zip(&whole.y[t * 9..(t + 1) * 9]).enumerate() {
                assert!((v - r).abs() <= 1e-10 * (1.0 + r.abs()), "{mode:?} t {t} [{j}]: {v} vs {r}");
            }
        }
    }
}

/// One stream of the property test: its state when its history began (open, reset or
/// `set_state`) and the frames stepped since.
struct Model {
    id: StreamId,
    start: Vec<f32>,
    frames: Vec<f32>,
}

#[derive(Clone, Debug)]
enum Op {
    Open,
    Close(usize),
    Reset(usize),
    SetState(usize),
    /// A step of the open streams chosen by these picks (indices into the open ones).
    Step(Vec<usize>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Open),
        1 => (0usize..8).prop_map(Op::Close),
        1 => (0usize..8).prop_map(Op::Reset),
        1 => (0usize..8).prop_map(Op::SetState),
        6 => prop::collection::vec(0usize..8, 1..5).prop_map(Op::Step),
    ]
}

/// Runs `ops` on a set of 4 slots and checks every stepped stream against its own history
/// run as one sequence (`h0` = its start), output and state.
fn interleave(
    e: &EngineUnderTest<f32>,
    spec: &GruSpec,
    params: &GruParams<f32>,
    ops: &[Op],
    seed: u64,
) -> Result<(), TestCaseError> {
    let (inp, per) = (spec.input_size, spec.depth * spec.hidden_size);
    let hid = spec.hidden_size;
    let tol = tolerance(e.computed_by);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut whole =
        e.engine.prepare(spec, params, &Plan::inference()).map_err(|x| TestCaseError::fail(x.to_string()))?;
    let prepared =
        e.engine.prepare(spec, params, &Plan::inference()).map_err(|x| TestCaseError::fail(x.to_string()))?;
    let mut set = StreamSet::new(prepared, 4).map_err(|x| TestCaseError::fail(x.to_string()))?;
    let mut open: Vec<Model> = Vec::new();
    let mut closed: Vec<StreamId> = Vec::new();
    for op in ops {
        match op {
            Op::Open => match set.open() {
                Ok(id) => open.push(Model { id, start: vec![0.0; per], frames: Vec::new() }),
                Err(GruError::StreamsFull { capacity: 4 }) => prop_assert_eq!(open.len(), 4),
                Err(x) => return Err(TestCaseError::fail(x.to_string())),
            },
            Op::Close(k) if !open.is_empty() => {
                let m = open.remove(k % open.len());
                set.close(m.id).map_err(|x| TestCaseError::fail(x.to_string()))?;
                closed.push(m.id);
            }
            Op::Reset(k) if !open.is_empty() => {
                let at = k % open.len();
                let m = &mut open[at];
                set.reset(&[m.id]).map_err(|x| TestCaseError::fail(x.to_string()))?;
                (m.start, m.frames) = (vec![0.0; per], Vec::new());
            }
            Op::SetState(k) if !open.is_empty() => {
                let at = k % open.len();
                let m = &mut open[at];
                let h: Vec<f32> = (0..per).map(|_| rng.random_range(-1.0..1.0)).collect();
                set.set_state(m.id, &h).map_err(|x| TestCaseError::fail(x.to_string()))?;
                (m.start, m.frames) = (h, Vec::new());
            }
            Op::Step(picks) if !open.is_empty() => {
                let mut chosen: Vec<usize> = Vec::new();
                for &p in picks {
                    let k = p % open.len();
                    if !chosen.contains(&k) {
                        chosen.push(k);
                    }
                }
                let ids: Vec<StreamId> = chosen.iter().map(|&k| open[k].id).collect();
                let frames: Vec<f32> = (0..ids.len() * inp).map(|_| rng.random_range(-2.0..2.0)).collect();
                let y = set.step(&frames, &ids).map_err(|x| TestCaseError::fail(x.to_string()))?.to_vec();
                for (i, &k) in chosen.iter().enumerate() {
                    let m = &mut open[k];
                    m.frames.extend_from_slice(&frames[i * inp..(i + 1) * inp]);
                    let len = m.frames.len() / inp;
                    let batch = SequenceBatch::new(&m.frames, len, 1).with_initial_state(&m.start);
                    let out = whole.forward(&batch).map_err(|x| TestCaseError::fail(x.to_string()))?;
                    let last = match spec.output_mode {
                        OutputMode::Sequence => &out.y[(len - 1) * hid..],
                        OutputMode::Last => &out.y[..],
                    };
                    let what = format!("{} stream {} after {len} steps", e.computed_by, m.id);
                    close(&format!("{what}: y"), &y[i * hid..][..hid], last, tol).map_err(TestCaseError::fail)?;
                    let state = set.state(m.id).map_err(|x| TestCaseError::fail(x.to_string()))?;
                    close(&format!("{what}: state"), state, &out.h_t, tol).map_err(TestCaseError::fail)?;
                }
            }
            _ => {}
        }
        for id in &closed {
            let refused = matches!(set.step(&vec![0.0; inp], &[*id]), Err(GruError::UnknownStream { .. }));
            prop_assert!(refused, "closed stream {} was stepped", id);
        }
        prop_assert_eq!(set.len(), open.len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random opens, closes, resets, `set_state`s and steps of random subsets: each stream
    /// always equals its own history run as one sequence.
    #[test]
    fn interleaved_streams_equal_their_own_sequences(
        mode in 0usize..3,
        depth in 1usize..=2,
        hidden in prop::sample::select(vec![3usize, 17]),
        input in 1usize..=4,
        last in any::<bool>(),
        ops in prop::collection::vec(op(), 1..40),
        seed in any::<u64>(),
    ) {
        let spec = GruSpec::new(input, hidden)
            .with_depth(depth)
            .with_reset_gate_mode(ResetGateMode::ALL[mode])
            .with_output_mode(if last { OutputMode::Last } else { OutputMode::Sequence });
        let case = Case::<f32>::random(&spec, 1, 1, Lengths::Equal, false, seed);
        for e in engines::<f32>() {
            if e.refusal(&spec).is_none() {
                interleave(&e, &spec, &case.params, &ops, seed)?;
            }
        }
    }
}

/// Every refusal is typed and names what was wrong; a refused step advances nothing.
#[test]
fn refusals_are_typed_and_leave_the_streams_alone() {
    let spec = GruSpec::new(2, 3).with_depth(2);
    let params = Case::<f32>::random(&spec, 1, 1, Lengths::Equal, false, 7).params;
    let mut set = StreamSet::prepare(&NativeEngine::new(), &spec, &params, 2).unwrap();
    let (a, b) = (set.open().unwrap(), set.open().unwrap());
    assert!(matches!(set.open(), Err(GruError::StreamsFull { capacity: 2 })));
    set.step(&[0.5, -0.5, 1.0, 2.0], &[a, b]).unwrap();
    let before = (set.state(a).unwrap().to_vec(), set.state(b).unwrap().to_vec());
    let unchanged = |set: &StreamSet<f32>| {
        assert_eq!(set.state(a).unwrap(), &before.0[..]);
        assert_eq!(set.state(b).unwrap(), &before.1[..]);
    };
    match set.step(&[0.0; 4], &[a, a]) {
        Err(GruError::DuplicateStream { first: 0, second: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    unchanged(&set);
    match set.step(&[0.0, f32::NAN, 0.0, 0.0], &[a, b]) {
        Err(GruError::NonFinite { field, index: 1, .. }) => assert_eq!(field, "frames"),
        other => panic!("{other:?}"),
    }
    unchanged(&set);
    match set.step(&[0.0; 3], &[a, b]) {
        Err(GruError::ShapeMismatch { field, expected: 4, actual: 3, .. }) => assert_eq!(field, "frames"),
        other => panic!("{other:?}"),
    }
    match set.set_state(a, &[0.0; 3]) {
        Err(GruError::ShapeMismatch { field, expected: 6, actual: 3, .. }) => assert_eq!(field, "h"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(set.set_state(a, &[f32::INFINITY; 6]), Err(GruError::NonFinite { .. })));
    unchanged(&set);
    set.close(b).unwrap();
    assert!(matches!(set.step(&[0.0; 2], &[b]), Err(GruError::UnknownStream { .. })));
    assert!(matches!(set.state(b), Err(GruError::UnknownStream { .. })));
    // A reset naming a closed stream resets nothing.
    assert!(matches!(set.reset(&[a, b]), Err(GruError::UnknownStream { .. })));
    assert_eq!(set.state(a).unwrap(), &before.0[..]);
    set.reset(&[a]).unwrap();
    assert_eq!(set.state(a).unwrap(), &[0.0; 6]);
    // An id of another set's slot range.
    let mut other = StreamSet::prepare(&NativeEngine::new(), &spec, &params, 3).unwrap();
    let ids: Vec<_> = (0..3).map(|_| other.open().unwrap()).collect();
    assert!(matches!(set.state(ids[2]), Err(GruError::UnknownStream { .. })));

    let bi = GruSpec::new(2, 3).with_bidirectional(true);
    let params = GruParams::<f32>::zeros(&bi);
    match StreamSet::prepare(&NativeEngine::new(), &bi, &params, 2) {
        Err(GruError::Unsupported { field, .. }) => assert_eq!(field, "bidirectional"),
        other => panic!("{other:?}"),
    }
    let prepared = NativeEngine::new().prepare(&bi, &params, &Plan::inference()).unwrap();
    assert!(matches!(StreamSet::new(prepared, 2), Err(GruError::Unsupported { .. })));
    let prepared = NativeEngine::new().prepare(&spec, &GruParams::<f32>::zeros(&spec), &Plan::inference()).unwrap();
    assert!(matches!(StreamSet::new(prepared, 0), Err(GruError::EmptyDimension { .. })));
}
