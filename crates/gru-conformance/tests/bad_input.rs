//! Bad input is a typed [`GruError`] naming the field and the value, never a panic, on both
//! native paths (`KoraliEngine::new()`, the fast path, and `KoraliEngine::reference()`).
//!
//! Every check asserts the variant and its fields, and that the error's `Display` text
//! names the field (and, where there is one, the value given).
//!
//! Layouts: `x` `[T, B, I]`, `y`/`dy` `[T, B, dirs·H]` (sequence) or `[B, dirs·H]` (last),
//! `h0`/`dh_t` `[D·dirs, B, H]`.

use gru_core::{
    state_len, Engine, GateActivation, GruError, GruParams, GruSpec, KoraliEngine, Mode, OutputGrads, OutputMode, Plan,
    PreparedGru, ResetGateMode, SequenceBatch,
};

/// T, B of the well-formed batch every test starts from.
const STEPS: usize = 4;
const BATCH: usize = 3;

/// Two layers, bidirectional, I = 3, H = 2: four blocks, layer 1 reads 2H = 4 channels.
fn spec() -> GruSpec {
    GruSpec::new(3, 2).with_depth(2).with_bidirectional(true)
}

/// The two native paths and their names (for messages).
fn paths() -> [(KoraliEngine, &'static str); 2] {
    [(KoraliEngine::new(), gru_core::native::FAST_PATH), (KoraliEngine::reference(), gru_core::native::REFERENCE_PATH)]
}

/// Small deterministic values in (-1, 1).
fn values(n: usize, salt: f64) -> Vec<f64> {
    (0..n).map(|k| (0.7 * k as f64 + salt).sin()).collect()
}

fn params(spec: &GruSpec) -> GruParams<f64> {
    let mut p = GruParams::zeros(spec);
    let flat = values(p.num_params(), 0.3);
    p.set_flat(&flat).expect("flat length is num_params");
    p
}

fn prepare(engine: KoraliEngine, spec: &GruSpec, mode: Mode) -> Box<dyn PreparedGru<f64>> {
    let plan = Plan { mode, ..Plan::default() };
    engine.prepare(spec, &params(spec), &plan).expect("a valid spec, params and plan prepare")
}

fn x_for(spec: &GruSpec, steps: usize, batch: usize) -> Vec<f64> {
    values(steps * batch * spec.input_size, 1.1)
}

fn dy_for(spec: &GruSpec, steps: usize, batch: usize) -> Vec<f64> {
    values(gru_core::output_shape(spec, steps, batch).iter().product(), 2.3)
}

/// Asserts that `err`'s Display text contains every one of `words`.
fn assert_display(err: &GruError, words: &[&str]) {
    let text = err.to_string();
    for w in words {
        assert!(text.contains(w), "Display of {err:?} is {text:?}: it does not name {w:?}");
    }
}

/// Asserts a `ShapeMismatch` for `field` with these sizes, and that Display names them.
#[track_caller]
fn assert_shape(err: GruError, field: &str, expected: usize, actual: usize) {
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
fn assert_non_finite(err: GruError, field: &str, index: usize, value: f64) {
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
fn assert_option(err: GruError, field: &str, value: &str) {
    match &err {
        GruError::InvalidOption { field: f, value: v, .. } => {
            assert_eq!((f.as_str(), v.as_str()), (field, value), "{err:?}")
        }
        other => panic!("expected InvalidOption for `{field}` = {value}, got {other:?}"),
    }
    assert_display(&err, &[&format!("`{field}`"), value]);
}

/// Runs `forward` and `forward_train` on a fresh training engine and returns both errors.
fn forward_errors(engine: KoraliEngine, spec: &GruSpec, batch: &SequenceBatch<'_, f64>) -> [GruError; 2] {
    let mut gru = prepare(engine, spec, Mode::Training);
    let a = gru.forward(batch).expect_err("forward accepted bad input");
    let b = gru.forward_train(batch).expect_err("forward_train accepted bad input");
    [a, b]
}

#[test]
fn x_of_the_wrong_length() {
    let spec = spec();
    let expected = STEPS * BATCH * spec.input_size;
    for (engine, _) in paths() {
        for actual in [expected - 1, expected + 1, 0] {
            let x = values(actual, 0.0);
            for err in forward_errors(engine, &spec, &SequenceBatch::new(&x, STEPS, BATCH)) {
                assert_shape(err, "x", expected, actual);
            }
        }
    }
}

#[test]
fn zero_steps_or_zero_batch() {
    let spec = spec();
    for (engine, _) in paths() {
        for (steps, batch, field) in [(0, BATCH, "steps"), (STEPS, 0, "batch"), (0, 0, "steps")] {
            let x = x_for(&spec, steps, batch);
            for err in forward_errors(engine, &spec, &SequenceBatch::new(&x, steps, batch)) {
                assert_eq!(err, GruError::EmptyDimension { field: field.into(), value: 0 });
                assert_display(&err, &[&format!("`{field}`"), "0"]);
            }
        }
    }
}

#[test]
fn lengths_of_the_wrong_count() {
    let spec = spec();
    let x = x_for(&spec, STEPS, BATCH);
    for (engine, _) in paths() {
        for lengths in [vec![STEPS; BATCH - 1], vec![STEPS; BATCH + 1], vec![]] {
            let batch = SequenceBatch::new(&x, STEPS, BATCH).with_lengths(&lengths);
            for err in forward_errors(engine, &spec, &batch) {
                assert_shape(err, "lengths", BATCH, lengths.len());
            }
        }
    }
}

#[test]
fn lengths_outside_one_to_steps() {
    let spec = spec();
    let x = x_for(&spec, STEPS, BATCH);
    for (engine, _) in paths() {
        for (lengths, index, value) in [([2, 0, 1], 1, 0), ([STEPS, 2, STEPS + 1], 2, STEPS + 1), ([0, 9, 1], 0, 0)] {
            let batch = SequenceBatch::new(&x, STEPS, BATCH).with_lengths(&lengths);
            for err in forward_errors(engine, &spec, &batch) {
                assert_eq!(err, GruError::InvalidLength { index, value, steps: STEPS });
                assert_display(&err, &[&format!("`lengths[{index}]` = {value}"), &format!("1..={STEPS}")]);
            }
        }
    }
}

#[test]
fn h0_of_the_wrong_size() {
    let spec = spec();
    let x = x_for(&spec, STEPS, BATCH);
    let expected = state_len(&spec, BATCH);
    for (engine, _) in paths() {
        // One block short, one sequence short, one value too many, nothing.
        for actual in [expected - BATCH * spec.hidden_size, expected - spec.hidden_size, expected + 1, 0] {
            let h0 = values(actual, 0.5);
            let batch = SequenceBatch::new(&x, STEPS, BATCH).with_initial_state(&h0);
            for err in forward_errors(engine, &spec, &batch) {
                assert_shape(err, "h0", expected, actual);
            }
        }
    }
}

#[test]
fn non_finite_x_and_h0() {
    let spec = spec();
    let h0 = values(state_len(&spec, BATCH), 0.5);
    for (engine, _) in paths() {
        for (index, bad) in
            [(7, f64::NAN), (0, f64::INFINITY), (STEPS * BATCH * spec.input_size - 1, f64::NEG_INFINITY)]
        {
            let mut x = x_for(&spec, STEPS, BATCH);
            x[index] = bad;
            for err in forward_errors(engine, &spec, &SequenceBatch::new(&x, STEPS, BATCH)) {
                assert_non_finite(err, "x", index, bad);
            }
        }
        let x = x_for(&spec, STEPS, BATCH);
        for (index, bad) in [(5, f64::INFINITY), (0, f64::NAN)] {
            let mut h = h0.clone();
            h[index] = bad;
            let batch = SequenceBatch::new(&x, STEPS, BATCH).with_initial_state(&h);
            for err in forward_errors(engine, &spec, &batch) {
                assert_non_finite(err, "h0", index, bad);
            }
        }
    }
}

/// Runs `forward_train` on a good batch and `backward` with these gradients.
fn backward_error(engine: KoraliEngine, spec: &GruSpec, dy: &[f64], dh_t: Option<&[f64]>) -> GruError {
    let mut gru = prepare(engine, spec, Mode::Training);
    let x = x_for(spec, STEPS, BATCH);
    let lengths = [STEPS, 1, 2];
    let (_, saved) =
        gru.forward_train(&SequenceBatch::new(&x, STEPS, BATCH).with_lengths(&lengths)).expect("good batch");
    gru.backward(saved, &OutputGrads { dy, dh_t }).expect_err("backward accepted bad gradients")
}

#[test]
fn non_finite_dy_and_dh_t() {
    for output in [OutputMode::Sequence, OutputMode::Last] {
        let spec = spec().with_output_mode(output);
        let dh_t = values(state_len(&spec, BATCH), 0.9);
        for (engine, _) in paths() {
            for (index, bad) in [(4, f64::NAN), (0, f64::INFINITY), (BATCH * spec.output_size() - 1, f64::NEG_INFINITY)]
            {
                let mut dy = dy_for(&spec, STEPS, BATCH);
                dy[index] = bad;
                assert_non_finite(backward_error(engine, &spec, &dy, Some(&dh_t)), "dy", index, bad);
            }
            let dy = dy_for(&spec, STEPS, BATCH);
            for (index, bad) in [(3, f64::NEG_INFINITY), (dh_t.len() - 1, f64::NAN)] {
                let mut dh = dh_t.clone();
                dh[index] = bad;
                assert_non_finite(backward_error(engine, &spec, &dy, Some(&dh)), "dh_t", index, bad);
            }
        }
    }
}

#[test]
fn dy_and_dh_t_of_the_wrong_size() {
    for output in [OutputMode::Sequence, OutputMode::Last] {
        let spec = spec().with_output_mode(output);
        let expected: usize = gru_core::output_shape(&spec, STEPS, BATCH).iter().product();
        // The other output mode's size is the likeliest mistake.
        let other = match output {
            OutputMode::Sequence => BATCH * spec.output_size(),
            OutputMode::Last => STEPS * BATCH * spec.output_size(),
        };
        let states = state_len(&spec, BATCH);
        for (engine, _) in paths() {
            for actual in [expected - 1, expected + 1, other, 0] {
                let err = backward_error(engine, &spec, &values(actual, 0.0), None);
                assert_shape(err, "dy", expected, actual);
            }
            let dy = dy_for(&spec, STEPS, BATCH);
            for actual in [states - 1, states + spec.hidden_size, 0] {
                let err = backward_error(engine, &spec, &dy, Some(&values(actual, 0.0)));
                assert_shape(err, "dh_t", states, actual);
            }
        }
    }
}

/// Well-formed `(w, r, bias)` blocks for `spec`.
fn good_blocks(spec: &GruSpec) -> Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    params(spec).blocks().iter().map(|b| (b.w().to_vec(), b.r().to_vec(), b.bias().to_vec())).collect()
}

#[test]
fn from_blocks_names_the_block_and_the_tensor() {
    let spec = spec().with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication);
    let h = spec.hidden_size;
    assert!(GruParams::from_blocks(&spec, good_blocks(&spec)).is_ok());

    let mut blocks = good_blocks(&spec);
    blocks[0].0.pop();
    assert_shape(GruParams::from_blocks(&spec, blocks).unwrap_err(), "params[0].w", 3 * h * 3, 3 * h * 3 - 1);

    // Block 2 is layer 1, forward: it reads 2H channels, not I.
    let mut blocks = good_blocks(&spec);
    blocks[2].0 = vec![0.0; 3 * h * spec.input_size];
    assert_shape(GruParams::from_blocks(&spec, blocks).unwrap_err(), "params[2].w", 3 * h * 2 * h, 3 * h * 3);

    let mut blocks = good_blocks(&spec);
    blocks[3].1.push(0.0);
    assert_shape(GruParams::from_blocks(&spec, blocks).unwrap_err(), "params[3].r", 3 * h * h, 3 * h * h + 1);

    // A 3H bias where the recurrent-bias mode needs 6H.
    let mut blocks = good_blocks(&spec);
    blocks[1].2.truncate(3 * h);
    assert_shape(GruParams::from_blocks(&spec, blocks).unwrap_err(), "params[1].bias", 6 * h, 3 * h);

    let mut blocks = good_blocks(&spec);
    blocks.pop();
    assert_shape(GruParams::from_blocks(&spec, blocks).unwrap_err(), "params", 4, 3);
    assert_shape(GruParams::<f64>::from_blocks(&spec, vec![]).unwrap_err(), "params", 4, 0);

    let mut blocks = good_blocks(&spec);
    blocks[1].1[5] = f64::NAN;
    assert_non_finite(GruParams::from_blocks(&spec, blocks).unwrap_err(), "params[1].r", 5, f64::NAN);
    let mut blocks = good_blocks(&spec);
    blocks[3].2[7] = f64::INFINITY;
    assert_non_finite(GruParams::from_blocks(&spec, blocks).unwrap_err(), "params[3].bias", 7, f64::INFINITY);

    // An invalid spec is refused before any block is looked at.
    let bad = spec.clone().with_clip(Some(0.0));
    assert_option(GruParams::from_blocks(&bad, good_blocks(&spec)).unwrap_err(), "clip", "0");
}

/// Parameters shaped for another spec, and the error `check(&spec())` must give.
fn mismatched_params() -> Vec<(GruParams<f64>, &'static str, usize, usize)> {
    let s = spec();
    let (i, h) = (s.input_size, s.hidden_size);
    vec![
        // One layer: two blocks instead of four.
        (params(&s.clone().with_depth(1)), "params", 4, 2),
        // Unidirectional, four layers: block 1 is layer 1 reading H, not layer 0 reading I.
        (params(&s.clone().with_bidirectional(false).with_depth(4)), "params[1].w", 3 * h * i, 3 * h * h),
        // H = 3 instead of 2.
        (params(&GruSpec::new(i, 3).with_depth(2).with_bidirectional(true)), "params[0].w", 3 * h * i, 9 * i),
        // I = 4 instead of 3.
        (params(&GruSpec::new(4, h).with_depth(2).with_bidirectional(true)), "params[0].w", 3 * h * i, 3 * h * 4),
        // A 6H bias where 3H is expected.
        (
            params(&s.clone().with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication)),
            "params[0].bias",
            3 * h,
            6 * h,
        ),
    ]
}

#[test]
fn params_of_another_spec_at_check_prepare_and_set_params() {
    let spec = spec();
    for (p, field, expected, actual) in mismatched_params() {
        assert_shape(p.check(&spec).unwrap_err(), field, expected, actual);
        for (engine, path) in paths() {
            for mode in [Mode::Training, Mode::Inference] {
                let plan = Plan { mode, ..Plan::default() };
                let err = engine
                    .prepare(&spec, &p, &plan)
                    .err()
                    .unwrap_or_else(|| panic!("{path}: prepare accepted {field}"));
                assert_shape(err, field, expected, actual);
            }
            // set_params refuses them and leaves the engine as it was.
            let mut gru = prepare(engine, &spec, Mode::Training);
            let x = x_for(&spec, STEPS, BATCH);
            let before = gru.forward(&SequenceBatch::new(&x, STEPS, BATCH)).expect("good batch");
            assert_shape(gru.set_params(&p).unwrap_err(), field, expected, actual);
            let after = gru.forward(&SequenceBatch::new(&x, STEPS, BATCH)).expect("good batch");
            assert_eq!(before, after, "{path}: a refused set_params changed the results");
        }
    }
}

#[test]
fn non_finite_params_at_prepare_and_set_params() {
    let spec = spec();
    for (block, tensor, index, bad) in
        [(0, "w", 3, f64::NAN), (2, "r", 0, f64::INFINITY), (3, "bias", 5, f64::NEG_INFINITY)]
    {
        let mut p = params(&spec);
        let b = &mut p.blocks_mut()[block];
        match tensor {
            "w" => b.w_mut()[index] = bad,
            "r" => b.r_mut()[index] = bad,
            _ => b.bias_mut()[index] = bad,
        }
        let field = format!("params[{block}].{tensor}");
        assert_non_finite(p.check(&spec).unwrap_err(), &field, index, bad);
        for (engine, _) in paths() {
            let err = engine.prepare(&spec, &p, &Plan::training()).err().expect("prepare accepted non-finite params");
            assert_non_finite(err, &field, index, bad);
            let mut gru = prepare(engine, &spec, Mode::Training);
            assert_non_finite(gru.set_params(&p).unwrap_err(), &field, index, bad);
        }
    }
}

#[test]
fn invalid_spec_options_at_prepare() {
    let hard = |alpha: f64, beta: f64| spec().with_gate_activation(GateActivation::HardSigmoid { alpha, beta });
    let cases = [
        (spec().with_clip(Some(f64::NAN)), "clip", "NaN"),
        (spec().with_clip(Some(0.0)), "clip", "0"),
        (spec().with_clip(Some(-1.5)), "clip", "-1.5"),
        (spec().with_clip(Some(f64::INFINITY)), "clip", "inf"),
        (hard(f64::INFINITY, 0.5), "gate_activation.alpha", "inf"),
        (hard(0.0, 0.5), "gate_activation.alpha", "0"),
        (hard(-0.2, 0.5), "gate_activation.alpha", "-0.2"),
        (hard(f64::NAN, 0.5), "gate_activation.alpha", "NaN"),
        (hard(0.2, f64::NAN), "gate_activation.beta", "NaN"),
        (hard(0.2, f64::NEG_INFINITY), "gate_activation.beta", "-inf"),
        (GruSpec::new(3, 0), "hidden_size", "0"),
        (GruSpec::new(0, 2), "input_size", "0"),
        (spec().with_depth(0), "depth", "0"),
    ];
    for (bad, field, value) in cases {
        assert_option(bad.validate().unwrap_err(), field, value);
        // Parameters shaped for the bad spec (possibly empty), so that only the option is wrong.
        let p = GruParams::<f64>::zeros(&bad);
        for (engine, path) in paths() {
            for plan in [Plan::training(), Plan::inference()] {
                let err =
                    engine.prepare(&bad, &p, &plan).err().unwrap_or_else(|| panic!("{path}: prepare accepted {field}"));
                assert_option(err, field, value);
            }
            // Also in f32.
            let err =
                engine.prepare(&bad, &GruParams::<f32>::zeros(&bad), &Plan::training()).err().expect("f32 prepare");
            assert_option(err, field, value);
        }
    }
}

#[test]
fn plans_with_zero_sizes() {
    let spec = spec();
    let p = params(&spec);
    for (engine, _) in paths() {
        let plan = Plan { batch_sizes: vec![8, 0, 2], max_steps: Some(16), mode: Mode::Training };
        assert_option(engine.prepare(&spec, &p, &plan).err().expect("zero batch size"), "batch_sizes[1]", "0");
        let plan = Plan { batch_sizes: vec![0], max_steps: None, mode: Mode::Inference };
        assert_option(engine.prepare(&spec, &p, &plan).err().expect("zero batch size"), "batch_sizes[0]", "0");
        let plan = Plan { batch_sizes: vec![4], max_steps: Some(0), mode: Mode::Training };
        assert_option(engine.prepare(&spec, &p, &plan).err().expect("zero max_steps"), "max_steps", "0");
    }
}

#[test]
fn training_calls_on_an_inference_engine() {
    let spec = spec();
    let x = x_for(&spec, STEPS, BATCH);
    let batch = SequenceBatch::new(&x, STEPS, BATCH);
    for (engine, path) in paths() {
        let mut gru = prepare(engine, &spec, Mode::Inference);
        assert_eq!(gru.mode(), Mode::Inference);
        gru.forward(&batch).expect("forward works in inference mode");
        let err = gru.forward_train(&batch).unwrap_err();
        assert_eq!(
            err,
            GruError::ModeMismatch { operation: "forward_train".into(), mode: "Inference".into() },
            "{path}"
        );
        assert_display(&err, &["`forward_train`", "Mode::Inference"]);

        // A Saved from a training engine of the same path is still refused.
        let (_, saved) = prepare(engine, &spec, Mode::Training).forward_train(&batch).expect("good batch");
        let dy = dy_for(&spec, STEPS, BATCH);
        let err = gru.backward(saved, &OutputGrads { dy: &dy, dh_t: None }).unwrap_err();
        assert_eq!(err, GruError::ModeMismatch { operation: "backward".into(), mode: "Inference".into() }, "{path}");
        assert_display(&err, &["`backward`", "Mode::Inference"]);
    }
}

fn assert_saved_mismatch(err: GruError, words: &[&str]) {
    assert!(matches!(err, GruError::SavedMismatch { .. }), "expected SavedMismatch, got {err:?}");
    assert_display(&err, &["saved"]);
    assert_display(&err, words);
}

#[test]
fn saved_state_from_the_other_path_or_dtype() {
    let spec = spec();
    let x = x_for(&spec, STEPS, BATCH);
    let batch = SequenceBatch::new(&x, STEPS, BATCH);
    let dy = dy_for(&spec, STEPS, BATCH);
    let grads = OutputGrads { dy: &dy, dh_t: None };
    let [(fast, fast_name), (reference, reference_name)] = paths();

    let (_, saved) = prepare(fast, &spec, Mode::Training).forward_train(&batch).expect("good batch");
    assert_eq!(saved.producer(), fast_name);
    let err = prepare(reference, &spec, Mode::Training).backward(saved, &grads).unwrap_err();
    assert_saved_mismatch(err, &[fast_name, reference_name]);

    let (_, saved) = prepare(reference, &spec, Mode::Training).forward_train(&batch).expect("good batch");
    let err = prepare(fast, &spec, Mode::Training).backward(saved, &grads).unwrap_err();
    assert_saved_mismatch(err, &[reference_name, fast_name]);

    // f32 state handed to an f64 engine of the same path.
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    for (engine, _) in paths() {
        let mut gru32 = engine.prepare(&spec, &GruParams::<f32>::zeros(&spec), &Plan::training()).expect("f32 prepare");
        let (_, saved) = gru32.forward_train(&SequenceBatch::new(&x32, STEPS, BATCH)).expect("good batch");
        let err = prepare(engine, &spec, Mode::Training).backward(saved, &grads).unwrap_err();
        assert_saved_mismatch(err, &["dtype"]);
    }
}

/// State saved by a stack prepared for another spec (here H = 3 vs 2) must be refused
/// with a typed `SavedMismatch`, never reach the kernels (it used to panic there).
#[test]
fn saved_state_from_an_engine_with_another_spec() {
    let spec = spec();
    let other = GruSpec::new(3, 3).with_depth(2).with_bidirectional(true);
    let x = x_for(&spec, STEPS, BATCH);
    let dy = dy_for(&spec, STEPS, BATCH);
    for (engine, _) in paths() {
        let (_, saved) = prepare(engine, &other, Mode::Training)
            .forward_train(&SequenceBatch::new(&x, STEPS, BATCH))
            .expect("good batch");
        let err =
            prepare(engine, &spec, Mode::Training).backward(saved, &OutputGrads { dy: &dy, dh_t: None }).unwrap_err();
        assert!(matches!(err, GruError::SavedMismatch { .. }), "{err:?}");
    }
}

/// `steps · batch · I` that does not fit in `usize` is a shape error for `x` (it used to
/// overflow: a panic in debug builds, a wrapped product that passed validation in release).
#[test]
fn sizes_whose_product_overflows() {
    let spec = spec();
    let x: Vec<f64> = Vec::new();
    for (engine, _) in paths() {
        for (steps, batch) in [(1usize << 63, 2), (STEPS, usize::MAX)] {
            for err in forward_errors(engine, &spec, &SequenceBatch::new(&x, steps, batch)) {
                assert!(matches!(&err, GruError::ShapeMismatch { field, .. } if field == "x"), "{err:?}");
            }
        }
    }
}

/// State saved before `set_params` belongs to the old parameters: backward refuses it.
#[test]
fn saved_state_from_before_set_params() {
    let spec = spec();
    let x = x_for(&spec, STEPS, BATCH);
    let dy = dy_for(&spec, STEPS, BATCH);
    for (engine, _) in paths() {
        let mut gru = prepare(engine, &spec, Mode::Training);
        let (_, saved) = gru.forward_train(&SequenceBatch::new(&x, STEPS, BATCH)).expect("good batch");
        gru.set_params(&GruParams::zeros(&spec)).expect("same shapes");
        let err = gru.backward(saved, &OutputGrads { dy: &dy, dh_t: None }).unwrap_err();
        assert!(matches!(&err, GruError::SavedMismatch { reason } if reason.contains("set_params")), "{err:?}");
    }
}

/// A spec whose parameter count cannot fit in memory is an invalid option, not an overflow.
#[test]
fn specs_whose_parameter_count_overflows() {
    for spec in
        [GruSpec::new(3, usize::MAX / 2), GruSpec::new(usize::MAX, 4), GruSpec::new(3, 1 << 40).with_depth(1 << 30)]
    {
        assert!(
            matches!(spec.validate(), Err(GruError::InvalidOption { ref field, .. }) if field == "hidden_size"),
            "{spec:?}"
        );
    }
}
