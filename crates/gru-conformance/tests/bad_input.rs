//! Bad input is a typed [`GruError`] naming the field and the value, never a panic, on every
//! engine of the suite, in every dtype it computes: both native paths
//! (`NativeEngine::new()`, the fast path, and `NativeEngine::reference()`) in f64 and f32,
//! OneDNN in f32. Invalid options and plans are named before any engine refusal, so those
//! checks run on OneDNN in f64 too. Saved state is checked in `saved_state.rs`, OneDNN's
//! refusals in `refusals.rs`.
//!
//! Every check asserts the variant and its fields, and that the error's `Display` text
//! names the field (and, where there is one, the value given).
//!
//! Layouts: `x` `[T, B, I]`, `y`/`dy` `[T, B, dirs·H]` (sequence) or `[B, dirs·H]` (last),
//! `h0`/`dh_t` `[D·dirs, B, H]`.

mod common;

use common::*;
use gru_conformance::{engines, EngineUnderTest};
use gru_core::{
    state_len, GateActivation, GruError, GruParams, GruSpec, Mode, OutputGrads, OutputMode, Plan, Real, ResetGateMode,
    SequenceBatch,
};

#[test]
fn x_of_the_wrong_length() {
    on_every_engine(x_of_the_wrong_length_on::<f64>, x_of_the_wrong_length_on::<f32>);
}

fn x_of_the_wrong_length_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    let expected = STEPS * BATCH * spec.input_size;
    for actual in [expected - 1, expected + 1, 0] {
        let x = values::<T>(actual, 0.0);
        for err in forward_errors(e, &spec, &SequenceBatch::new(&x, STEPS, BATCH)) {
            assert_shape(err, "x", expected, actual);
        }
    }
}

#[test]
fn zero_steps_or_zero_batch() {
    on_every_engine(zero_steps_or_zero_batch_on::<f64>, zero_steps_or_zero_batch_on::<f32>);
}

fn zero_steps_or_zero_batch_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    for (steps, batch, field) in [(0, BATCH, "steps"), (STEPS, 0, "batch"), (0, 0, "steps")] {
        let x = x_for::<T>(&spec, steps, batch);
        for err in forward_errors(e, &spec, &SequenceBatch::new(&x, steps, batch)) {
            assert_eq!(err, GruError::EmptyDimension { field: field.into(), value: 0 }, "{}", e.name);
            assert_display(&err, &[&format!("`{field}`"), "0"]);
        }
    }
}

#[test]
fn lengths_of_the_wrong_count() {
    on_every_engine(lengths_of_the_wrong_count_on::<f64>, lengths_of_the_wrong_count_on::<f32>);
}

fn lengths_of_the_wrong_count_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    let x = x_for::<T>(&spec, STEPS, BATCH);
    for lengths in [vec![STEPS; BATCH - 1], vec![STEPS; BATCH + 1], vec![]] {
        let batch = SequenceBatch::new(&x, STEPS, BATCH).with_lengths(&lengths);
        for err in forward_errors(e, &spec, &batch) {
            assert_shape(err, "lengths", BATCH, lengths.len());
        }
    }
}

/// A length past the steps is refused (a length of 0 is an empty sequence: `empty_sequences.rs`).
#[test]
fn lengths_outside_zero_to_steps() {
    on_every_engine(lengths_outside_zero_to_steps_on::<f64>, lengths_outside_zero_to_steps_on::<f32>);
}

fn lengths_outside_zero_to_steps_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    let x = x_for::<T>(&spec, STEPS, BATCH);
    let past =
        [([2, STEPS + 1, 1], 1, STEPS + 1), ([STEPS, 0, STEPS + 1], 2, STEPS + 1), ([usize::MAX, 0, 1], 0, usize::MAX)];
    for (lengths, index, value) in past {
        let batch = SequenceBatch::new(&x, STEPS, BATCH).with_lengths(&lengths);
        for err in forward_errors(e, &spec, &batch) {
            assert_eq!(err, GruError::InvalidLength { index, value, steps: STEPS }, "{}", e.name);
            assert_display(&err, &[&format!("`lengths[{index}]` = {value}"), &format!("0..={STEPS}")]);
        }
    }
}

#[test]
fn h0_of_the_wrong_size() {
    on_every_engine(h0_of_the_wrong_size_on::<f64>, h0_of_the_wrong_size_on::<f32>);
}

fn h0_of_the_wrong_size_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    let x = x_for::<T>(&spec, STEPS, BATCH);
    let expected = state_len(&spec, BATCH);
    // One block short, one sequence short, one value too many, nothing.
    for actual in [expected - BATCH * spec.hidden_size, expected - spec.hidden_size, expected + 1, 0] {
        let h0 = values::<T>(actual, 0.5);
        let batch = SequenceBatch::new(&x, STEPS, BATCH).with_initial_state(&h0);
        for err in forward_errors(e, &spec, &batch) {
            assert_shape(err, "h0", expected, actual);
        }
    }
}

#[test]
fn non_finite_x_and_h0() {
    on_every_engine(non_finite_x_and_h0_on::<f64>, non_finite_x_and_h0_on::<f32>);
}

fn non_finite_x_and_h0_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    let h0 = values::<T>(state_len(&spec, BATCH), 0.5);
    for (index, bad) in [(7, f64::NAN), (0, f64::INFINITY), (STEPS * BATCH * spec.input_size - 1, f64::NEG_INFINITY)] {
        let mut x = x_for::<T>(&spec, STEPS, BATCH);
        x[index] = T::lit(bad);
        for err in forward_errors(e, &spec, &SequenceBatch::new(&x, STEPS, BATCH)) {
            assert_non_finite(err, "x", index, bad);
        }
    }
    let x = x_for::<T>(&spec, STEPS, BATCH);
    for (index, bad) in [(5, f64::INFINITY), (0, f64::NAN)] {
        let mut h = h0.clone();
        h[index] = T::lit(bad);
        let batch = SequenceBatch::new(&x, STEPS, BATCH).with_initial_state(&h);
        for err in forward_errors(e, &spec, &batch) {
            assert_non_finite(err, "h0", index, bad);
        }
    }
}

/// Runs `forward_train` on a good batch and `backward` with these gradients.
fn backward_error<T: Real>(e: &EngineUnderTest<T>, spec: &GruSpec, dy: &[T], dh_t: Option<&[T]>) -> GruError {
    let mut gru = prepare(e, spec, Mode::Training);
    let x = x_for::<T>(spec, STEPS, BATCH);
    let lengths = [STEPS, 1, 2];
    let (_, saved) =
        gru.forward_train(&SequenceBatch::new(&x, STEPS, BATCH).with_lengths(&lengths)).expect("good batch");
    gru.backward(saved, &OutputGrads { dy, dh_t }).expect_err("backward accepted bad gradients")
}

#[test]
fn non_finite_dy_and_dh_t() {
    on_every_engine(non_finite_dy_and_dh_t_on::<f64>, non_finite_dy_and_dh_t_on::<f32>);
}

fn non_finite_dy_and_dh_t_on<T: Real>(e: &EngineUnderTest<T>) {
    for output in [OutputMode::Sequence, OutputMode::Last] {
        let spec = spec().with_output_mode(output);
        let dh_t = values::<T>(state_len(&spec, BATCH), 0.9);
        for (index, bad) in [(4, f64::NAN), (0, f64::INFINITY), (BATCH * spec.output_size() - 1, f64::NEG_INFINITY)] {
            let mut dy = dy_for::<T>(&spec, STEPS, BATCH);
            dy[index] = T::lit(bad);
            assert_non_finite(backward_error(e, &spec, &dy, Some(&dh_t)), "dy", index, bad);
        }
        let dy = dy_for::<T>(&spec, STEPS, BATCH);
        for (index, bad) in [(3, f64::NEG_INFINITY), (dh_t.len() - 1, f64::NAN)] {
            let mut dh = dh_t.clone();
            dh[index] = T::lit(bad);
            assert_non_finite(backward_error(e, &spec, &dy, Some(&dh)), "dh_t", index, bad);
        }
    }
}

#[test]
fn dy_and_dh_t_of_the_wrong_size() {
    on_every_engine(dy_and_dh_t_of_the_wrong_size_on::<f64>, dy_and_dh_t_of_the_wrong_size_on::<f32>);
}

fn dy_and_dh_t_of_the_wrong_size_on<T: Real>(e: &EngineUnderTest<T>) {
    for output in [OutputMode::Sequence, OutputMode::Last] {
        let spec = spec().with_output_mode(output);
        let expected: usize = gru_core::output_shape(&spec, STEPS, BATCH).iter().product();
        // The other output mode's size is the likeliest mistake.
        let other = match output {
            OutputMode::Sequence => BATCH * spec.output_size(),
            OutputMode::Last => STEPS * BATCH * spec.output_size(),
        };
        let states = state_len(&spec, BATCH);
        for actual in [expected - 1, expected + 1, other, 0] {
            let err = backward_error(e, &spec, &values::<T>(actual, 0.0), None);
            assert_shape(err, "dy", expected, actual);
        }
        let dy = dy_for::<T>(&spec, STEPS, BATCH);
        for actual in [states - 1, states + spec.hidden_size, 0] {
            let err = backward_error(e, &spec, &dy, Some(&values::<T>(actual, 0.0)));
            assert_shape(err, "dh_t", states, actual);
        }
    }
}

/// Well-formed `(w, r, bias)` blocks for `spec`.
fn good_blocks(spec: &GruSpec) -> Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    params::<f64>(spec).blocks().iter().map(|b| (b.w().to_vec(), b.r().to_vec(), b.bias().to_vec())).collect()
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
fn mismatched_params<T: Real>() -> Vec<(GruParams<T>, &'static str, usize, usize)> {
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
    on_every_engine(params_of_another_spec_on::<f64>, params_of_another_spec_on::<f32>);
}

fn params_of_another_spec_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    let path = e.name;
    for (p, field, expected, actual) in mismatched_params::<T>() {
        assert_shape(p.check(&spec).unwrap_err(), field, expected, actual);
        for mode in [Mode::Training, Mode::Inference] {
            let plan = Plan { mode, ..Plan::default() };
            let err =
                e.engine.prepare(&spec, &p, &plan).err().unwrap_or_else(|| panic!("{path}: prepare accepted {field}"));
            assert_shape(err, field, expected, actual);
        }
        // set_params refuses them and leaves the engine as it was.
        let mut gru = prepare(e, &spec, Mode::Training);
        let x = x_for::<T>(&spec, STEPS, BATCH);
        let before = gru.forward(&SequenceBatch::new(&x, STEPS, BATCH)).expect("good batch");
        assert_shape(gru.set_params(&p).unwrap_err(), field, expected, actual);
        let after = gru.forward(&SequenceBatch::new(&x, STEPS, BATCH)).expect("good batch");
        assert_eq!(before, after, "{path}: a refused set_params changed the results");
    }
}

#[test]
fn non_finite_params_at_prepare_and_set_params() {
    on_every_engine(non_finite_params_on::<f64>, non_finite_params_on::<f32>);
}

fn non_finite_params_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    for (block, tensor, index, bad) in
        [(0, "w", 3, f64::NAN), (2, "r", 0, f64::INFINITY), (3, "bias", 5, f64::NEG_INFINITY)]
    {
        let mut p = params::<T>(&spec);
        let b = &mut p.blocks_mut()[block];
        match tensor {
            "w" => b.w_mut()[index] = T::lit(bad),
            "r" => b.r_mut()[index] = T::lit(bad),
            _ => b.bias_mut()[index] = T::lit(bad),
        }
        let field = format!("params[{block}].{tensor}");
        assert_non_finite(p.check(&spec).unwrap_err(), &field, index, bad);
        let err = e.engine.prepare(&spec, &p, &Plan::training()).err().expect("prepare accepted non-finite params");
        assert_non_finite(err, &field, index, bad);
        let mut gru = prepare(e, &spec, Mode::Training);
        assert_non_finite(gru.set_params(&p).unwrap_err(), &field, index, bad);
    }
}

/// Invalid options are named before any engine refuses the dtype or an option: this runs
/// on every engine of the suite, OneDNN in f64 included.
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
        for e in engines::<f64>() {
            for plan in [Plan::training(), Plan::inference()] {
                let err =
                    e.engine.prepare(&bad, &p, &plan).err().unwrap_or_else(|| panic!("{}: accepted {field}", e.name));
                assert_option(err, field, value);
            }
        }
        // Also in f32.
        for e in engines::<f32>() {
            let err =
                e.engine.prepare(&bad, &GruParams::<f32>::zeros(&bad), &Plan::training()).err().expect("f32 prepare");
            assert_option(err, field, value);
        }
    }
}

/// Like invalid options, invalid plans are named before any refusal (every engine, OneDNN
/// in f64 included).
#[test]
fn plans_with_zero_sizes() {
    engines::<f64>().iter().for_each(plans_with_zero_sizes_on::<f64>);
    engines::<f32>().iter().for_each(plans_with_zero_sizes_on::<f32>);
}

fn plans_with_zero_sizes_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    let p = params::<T>(&spec);
    let plan = Plan { batch_sizes: vec![8, 0, 2], max_steps: Some(16), mode: Mode::Training };
    assert_option(e.engine.prepare(&spec, &p, &plan).err().expect("zero batch size"), "batch_sizes[1]", "0");
    let plan = Plan { batch_sizes: vec![0], max_steps: None, mode: Mode::Inference };
    assert_option(e.engine.prepare(&spec, &p, &plan).err().expect("zero batch size"), "batch_sizes[0]", "0");
    let plan = Plan { batch_sizes: vec![4], max_steps: Some(0), mode: Mode::Training };
    assert_option(e.engine.prepare(&spec, &p, &plan).err().expect("zero max_steps"), "max_steps", "0");
}

/// `steps · batch · I` that does not fit in `usize` is a shape error for `x` (it used to
/// overflow: a panic in debug builds, a wrapped product that passed validation in release).
#[test]
fn sizes_whose_product_overflows() {
    on_every_engine(sizes_whose_product_overflows_on::<f64>, sizes_whose_product_overflows_on::<f32>);
}

fn sizes_whose_product_overflows_on<T: Real>(e: &EngineUnderTest<T>) {
    let spec = spec();
    let x: Vec<T> = Vec::new();
    for (steps, batch) in [(1usize << 63, 2), (STEPS, usize::MAX)] {
        for err in forward_errors(e, &spec, &SequenceBatch::new(&x, steps, batch)) {
            assert!(matches!(&err, GruError::ShapeMismatch { field, .. } if field == "x"), "{err:?}");
        }
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
