//! The MATLAB-style layer: properties and defaults, weights, initializers, formats, state
//! handling and gradients, checked against the core engine it wraps.

use gru::{
    BiasInitializer, Engine, EngineKind, Error, GateActivation, GruError, GruLayer, HiddenState, LayerInput, Mode,
    NativeEngine, OutputGrads, OutputMode, Plan, ResetGateMode, SequenceBatch, SequenceFormat, StateActivation,
    WeightInitializer,
};

fn ramp(n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|i| (i as f64 * 0.7311).sin() * scale).collect()
}

#[test]
fn defaults_are_matlab_defaults() {
    let layer = GruLayer::<f32>::builder(100).build().unwrap();
    assert_eq!(layer.num_hidden_units(), 100);
    assert_eq!(layer.name(), "");
    assert_eq!(layer.input_size(), None);
    assert_eq!(layer.output_mode(), OutputMode::Sequence);
    assert!(!layer.has_state_inputs() && !layer.has_state_outputs());
    assert_eq!((layer.num_inputs(), layer.input_names()), (1, vec!["in"]));
    assert_eq!((layer.num_outputs(), layer.output_names()), (1, vec!["out"]));
    assert_eq!(layer.reset_gate_mode(), ResetGateMode::AfterMultiplication);
    assert_eq!(layer.state_activation_function(), "tanh");
    assert_eq!(layer.gate_activation_function(), "sigmoid");
    assert_eq!(layer.input_weights_initializer().name(), "glorot");
    assert_eq!(layer.recurrent_weights_initializer().name(), "orthogonal");
    assert_eq!(layer.bias_initializer().name(), "zeros");
    let f = layer.learn_factors();
    assert_eq!(f.input_weights_learn_rate.per_gate(), [1.0; 3]);
    assert_eq!(f.recurrent_weights_learn_rate.per_gate(), [1.0; 3]);
    assert_eq!(f.bias_learn_rate.per_gate(), [1.0; 3]);
    assert_eq!(f.input_weights_l2.per_gate(), [1.0; 3]);
    assert_eq!(f.recurrent_weights_l2.per_gate(), [1.0; 3]);
    assert_eq!(f.bias_l2.per_gate(), [0.0; 3]);
    assert!(layer.input_weights().is_none() && layer.hidden_state().is_none());
    assert_eq!(
        (layer.engine(), layer.mode(), layer.depth(), layer.bidirectional()),
        (EngineKind::Korali, Mode::Training, 1, false)
    );
}

#[test]
fn every_property_is_settable() {
    let layer = GruLayer::<f64>::builder(4)
        .name("gru1")
        .input_size(3)
        .output_mode(OutputMode::Last)
        .has_state_inputs(true)
        .has_state_outputs(true)
        .reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication)
        .state_activation_function(StateActivation::Softsign)
        .gate_activation_function(GateActivation::HARD_SIGMOID)
        .input_weights_initializer(WeightInitializer::He)
        .recurrent_weights_initializer(WeightInitializer::NarrowNormal)
        .bias_initializer(BiasInitializer::Ones)
        .input_weights_learn_rate_factor([1.0, 0.5, 2.0])
        .recurrent_weights_learn_rate_factor(0.1)
        .bias_learn_rate_factor(3.0)
        .input_weights_l2_factor([0.0, 1.0, 2.0])
        .recurrent_weights_l2_factor(0.5)
        .bias_l2_factor(1.0)
        .build()
        .unwrap();
    assert_eq!(layer.name(), "gru1");
    assert_eq!(layer.input_size(), Some(3));
    assert_eq!((layer.num_inputs(), layer.input_names()), (2, vec!["in", "hidden"]));
    assert_eq!((layer.num_outputs(), layer.output_names()), (2, vec!["out", "hidden"]));
    assert_eq!(layer.state_activation_function(), "softsign");
    assert_eq!(layer.gate_activation_function(), "hard-sigmoid");
    assert_eq!(layer.bias().unwrap(), &[1.0; 24][..]); // 6H ones
    assert_eq!(layer.input_weights().unwrap().len(), 12 * 3);
    assert_eq!(layer.learn_factors().input_weights_learn_rate.per_gate(), [1.0, 0.5, 2.0]);
    assert_eq!(layer.learn_factors().recurrent_weights_learn_rate.per_gate(), [0.1; 3]);
    assert_eq!(layer.learn_factors().bias_l2.per_gate(), [1.0; 3]);
}

#[test]
fn weights_are_settable_and_shape_checked() {
    let h = 3;
    let mut layer = GruLayer::<f64>::builder(h).build().unwrap();
    // InputWeights resolves InputSize "auto".
    layer.set_input_weights(ramp(3 * h * 5, 0.3)).unwrap();
    assert_eq!(layer.input_size(), Some(5));
    assert_eq!(layer.input_weights().unwrap(), &ramp(45, 0.3)[..]);
    layer.set_recurrent_weights(ramp(27, 0.2)).unwrap();
    assert_eq!(layer.recurrent_weights().unwrap(), &ramp(27, 0.2)[..]);
    layer.set_bias(ramp(9, 0.1)).unwrap();
    assert_eq!(layer.bias().unwrap(), &ramp(9, 0.1)[..]);
    for (property, result) in [
        ("InputWeights", layer.set_input_weights(vec![0.0; 44])),
        ("RecurrentWeights", layer.set_recurrent_weights(vec![0.0; 26])),
        ("Bias", layer.set_bias(vec![0.0; 18])),
        ("Bias", layer.set_bias(vec![f64::NAN; 9])),
    ] {
        match result {
            Err(Error::Property { property: p, .. }) => assert_eq!(p, property),
            other => panic!("{property}: {other:?}"),
        }
    }
    // Given at construction: kept, the rest drawn.
    let l2 = GruLayer::<f64>::builder(h)
        .reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication)
        .bias(ramp(18, 0.1))
        .recurrent_weights(ramp(27, 0.2))
        .input_size(2)
        .build()
        .unwrap();
    assert_eq!(l2.bias().unwrap(), &ramp(18, 0.1)[..]);
    assert_eq!(l2.recurrent_weights().unwrap(), &ramp(27, 0.2)[..]);
    let bad = GruLayer::<f64>::builder(h).bias(vec![0.0; 18]).input_size(2).build();
    assert!(matches!(bad, Err(Error::Property { ref property, .. }) if property == "Bias"), "{bad:?}");
}

#[test]
fn initialization_is_seeded_and_follows_the_initializers() {
    let (h, i) = (32, 20);
    let build = |seed| GruLayer::<f64>::builder(h).input_size(i).seed(seed).build().unwrap();
    let (a, b, c) = (build(7), build(7), build(8));
    assert_eq!(a.params(), b.params());
    assert_ne!(a.params(), c.params());
    // Glorot input weights: variance 2 / (I + 3H).
    let w = a.input_weights().unwrap();
    let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
    let expect = 2.0 / (i + 3 * h) as f64;
    assert!((var / expect - 1.0).abs() < 0.1, "glorot variance {var} vs {expect}");
    // Orthogonal recurrent weights: RᵀR = I (one QR of the whole 3H×H matrix).
    let r = a.recurrent_weights().unwrap();
    for p in 0..h {
        for q in 0..h {
            let dot: f64 = (0..3 * h).map(|k| r[k * h + p] * r[k * h + q]).sum();
            assert!((dot - if p == q { 1.0 } else { 0.0 }).abs() < 1e-10, "RᵀR[{p},{q}] = {dot}");
        }
    }
    assert!(a.bias().unwrap().iter().all(|&v| v == 0.0));
}

/// The layer computes exactly what the core engine computes with its parameters.
#[test]
fn every_format_gives_the_core_engines_results() {
    let (t, b, c, h) = (4, 3, 2, 3);
    let lengths = [4, 1, 3];
    let x_tbc = ramp(t * b * c, 1.0);
    for mode in [OutputMode::Sequence, OutputMode::Last] {
        let mut layer = GruLayer::<f64>::builder(h).output_mode(mode).depth(2).bidirectional(true).build().unwrap();
        let out_tbc = layer.predict(&LayerInput::tbc(&x_tbc, t, b, c).with_lengths(&lengths)).unwrap();
        let spec = layer.spec().unwrap();
        let mut core = NativeEngine::new().prepare(&spec, layer.params().unwrap(), &Plan::inference()).unwrap();
        let want = core.forward(&SequenceBatch::new(&x_tbc, t, b).with_lengths(&lengths)).unwrap();
        assert_eq!(out_tbc.out, want.y);
        assert_eq!(out_tbc.computed_by, "Korali/fast");
        for format in [SequenceFormat::Btc, SequenceFormat::Cbt] {
            let x = format.from_tbc(&x_tbc, (t, b, c));
            let input = LayerInput { x: &x, format, dims: format.dims(t, b, c), lengths: Some(&lengths), hidden: None };
            let out = layer.predict(&input).unwrap();
            let back = match mode {
                OutputMode::Sequence => format.to_tbc(&out.out, (t, b, 2 * h)),
                OutputMode::Last => format.to_bc(&out.out, b, 2 * h),
            };
            assert_eq!(back, want.y, "{format:?} {mode:?}");
        }
    }
}

#[test]
fn stateful_prediction_equals_one_long_forward_pass() {
    let (t, b, c, h) = (9, 2, 3, 4);
    let x = ramp(t * b * c, 1.0);
    let mut layer = GruLayer::<f64>::builder(h).depth(2).input_size(c).build().unwrap();
    let whole = layer.predict(&LayerInput::tbc(&x, t, b, c)).unwrap();
    let mut pieces = Vec::new();
    let mut start = 0;
    for len in [4, 1, 4] {
        let chunk = &x[start * b * c..(start + len) * b * c];
        pieces.extend(layer.predict_and_update_state(&LayerInput::tbc(chunk, len, b, c)).unwrap().out);
        start += len;
    }
    for (p, w) in pieces.iter().zip(&whole.out) {
        assert!((p - w).abs() < 1e-12);
    }
    assert_eq!(layer.hidden_state().unwrap().batch(), Some(b));
    // reset_state: back to the initial (zero) state, so the first chunk repeats.
    layer.reset_state();
    assert!(layer.hidden_state().is_none());
    let again = layer.predict(&LayerInput::tbc(&x[..4 * b * c], 4, b, c)).unwrap();
    assert_eq!(again.out[..], whole.out[..4 * b * h]);
}

#[test]
fn hidden_state_is_the_initial_state_and_reset_restores_it() {
    let (t, b, c, h) = (3, 2, 2, 3);
    let x = ramp(t * b * c, 1.0);
    let h0 = ramp(h, 0.5);
    let mut layer = GruLayer::<f64>::builder(h).input_size(c).has_state_outputs(true).build().unwrap();
    layer.set_hidden_state(Some(HiddenState::shared(h0.clone()))).unwrap();
    let out = layer.predict(&LayerInput::tbc(&x, t, b, c)).unwrap();
    let spec = layer.spec().unwrap();
    let mut core = NativeEngine::new().prepare(&spec, layer.params().unwrap(), &Plan::inference()).unwrap();
    let h0_b: Vec<f64> = h0.iter().chain(&h0).copied().collect();
    let want = core.forward(&SequenceBatch::new(&x, t, b).with_initial_state(&h0_b)).unwrap();
    assert_eq!(out.out, want.y);
    assert_eq!(out.hidden.as_deref(), Some(&want.h_t[..]));
    layer.predict_and_update_state(&LayerInput::tbc(&x, t, b, c)).unwrap();
    assert_eq!(layer.hidden_state().unwrap().data(), &want.h_t[..]);
    layer.reset_state();
    assert_eq!(layer.hidden_state(), Some(&HiddenState::shared(h0)));
    // A per-sequence state for another batch size is an error naming HiddenState.
    layer.predict_and_update_state(&LayerInput::tbc(&x, t, b, c)).unwrap();
    let err = layer.predict(&LayerInput::tbc(&x[..t * c], t, 1, c)).unwrap_err();
    assert!(matches!(err, Error::Property { ref property, .. } if property == "HiddenState"), "{err:?}");
}

#[test]
fn state_inputs_and_outputs() {
    let (t, b, c, h) = (3, 2, 2, 3);
    let x = ramp(t * b * c, 1.0);
    let hidden = ramp(b * h, 0.4);
    let mut layer =
        GruLayer::<f64>::builder(h).input_size(c).has_state_inputs(true).has_state_outputs(true).build().unwrap();
    let err = layer.predict(&LayerInput::tbc(&x, t, b, c)).unwrap_err();
    assert!(matches!(err, Error::Property { ref property, .. } if property == "hidden"), "{err:?}");
    let err = layer.set_hidden_state(Some(HiddenState::shared(vec![0.0; h]))).unwrap_err();
    assert!(matches!(err, Error::Property { ref property, .. } if property == "HiddenState"), "{err:?}");
    let err =
        GruLayer::<f64>::builder(h).has_state_inputs(true).hidden_state(HiddenState::shared(vec![0.0; h])).build();
    assert!(matches!(err, Err(Error::Property { ref property, .. }) if property == "HiddenState"));
    let (out, saved) = layer.forward_train(&LayerInput::tbc(&x, t, b, c).with_hidden(&hidden)).unwrap();
    let dh = ramp(b * h, 1.0);
    let g = layer.backward(saved, &out.out, Some(&dh)).unwrap();
    // The "hidden" input's gradient equals the core's dh0.
    let spec = layer.spec().unwrap();
    let mut core = NativeEngine::new().prepare(&spec, layer.params().unwrap(), &Plan::training()).unwrap();
    let (_, s) = core.forward_train(&SequenceBatch::new(&x, t, b).with_initial_state(&hidden)).unwrap();
    let want = core.backward(s, &OutputGrads { dy: &out.out, dh_t: Some(&dh) }).unwrap();
    assert_eq!(g.dhidden.as_deref(), Some(&want.dh0[..]));
    assert_eq!(g.params, want.params);
    assert!(g.initial_state.is_none());
}

#[test]
fn learnable_initial_state_gradient_is_summed_over_the_batch() {
    let (t, b, c, h) = (3, 3, 2, 2);
    let x = ramp(t * b * c, 1.0);
    let mut layer = GruLayer::<f64>::builder(h).input_size(c).depth(2).learnable_initial_state(true).build().unwrap();
    assert_eq!(layer.initial_state(), Some(&[0.0; 4][..]));
    layer.set_initial_state(ramp(4, 0.5)).unwrap();
    let loss = |layer: &mut GruLayer<f64>| -> f64 {
        let out = layer.predict(&LayerInput::tbc(&x, t, b, c)).unwrap();
        out.out.iter().enumerate().map(|(i, v)| v * (i as f64 * 0.1).cos()).sum()
    };
    let (out, saved) = layer.forward_train(&LayerInput::tbc(&x, t, b, c)).unwrap();
    let dy: Vec<f64> = (0..out.out.len()).map(|i| (i as f64 * 0.1).cos()).collect();
    let g = layer.backward(saved, &dy, None).unwrap();
    let grad = g.initial_state.unwrap();
    for k in 0..4 {
        let mut s = ramp(4, 0.5);
        s[k] += 1e-6;
        layer.set_initial_state(s.clone()).unwrap();
        let up = loss(&mut layer);
        s[k] -= 2e-6;
        layer.set_initial_state(s).unwrap();
        let down = loss(&mut layer);
        let fd = (up - down) / 2e-6;
        assert!((fd - grad[k]).abs() < 1e-7 * (1.0 + fd.abs()), "initial state [{k}]: {} vs {fd}", grad[k]);
    }
}

#[test]
fn refusals_are_typed() {
    let x = ramp(3 * 2 * 2, 1.0);
    // Stateful prediction has no meaning for a bidirectional layer.
    let mut bi = GruLayer::<f64>::builder(3).bidirectional(true).build().unwrap();
    let err = bi.predict_and_update_state(&LayerInput::tbc(&x, 3, 2, 2)).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    // Inference mode refuses training.
    let mut inf = GruLayer::<f64>::builder(3).mode(Mode::Inference).build().unwrap();
    inf.predict(&LayerInput::tbc(&x, 3, 2, 2)).unwrap();
    let err = inf.forward_train(&LayerInput::tbc(&x, 3, 2, 2)).unwrap_err();
    assert!(matches!(err, Error::Core(GruError::ModeMismatch { .. })), "{err:?}");
    // OneDNN (where libdnnl2 is installed: in CI always) runs what it can compute and
    // refuses the rest with a typed error naming the option.
    if gru_onednn::OneDnnEngine::load_or_skip("refusals_are_typed: the OneDNN part").unwrap().is_some() {
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let mut onednn = GruLayer::<f32>::builder(3).engine(EngineKind::OneDNN).build().unwrap();
        assert_eq!(onednn.predict(&LayerInput::tbc(&x32, 3, 2, 2)).unwrap().computed_by, "OneDNN");
        let refused = [
            (GruLayer::<f32>::builder(3).state_activation_function(StateActivation::Softsign), "state_activation"),
            (GruLayer::<f32>::builder(3).gate_activation_function(GateActivation::HARD_SIGMOID), "gate_activation"),
            (GruLayer::<f32>::builder(3).clip(Some(2.0)), "clip"),
        ];
        for (builder, option) in refused {
            let mut layer = builder.engine(EngineKind::OneDNN).build().unwrap();
            let err = layer.predict(&LayerInput::tbc(&x32, 3, 2, 2)).unwrap_err();
            assert!(
                matches!(&err, Error::Core(GruError::Unsupported { engine, field, .. }) if engine == "OneDNN" && field == option),
                "{err:?}"
            );
        }
        let mut f64_layer = GruLayer::<f64>::builder(3).engine(EngineKind::OneDNN).build().unwrap();
        let err = f64_layer.predict(&LayerInput::tbc(&x, 3, 2, 2)).unwrap_err();
        assert!(
            matches!(&err, Error::Core(GruError::Unsupported { field, value, .. }) if field == "dtype" && value == "f64")
        );
    }
    // An engine that is not built here.
    let err = GruLayer::<f32>::builder(3).engine(EngineKind::CuDNN).build().unwrap_err();
    assert!(matches!(err, Error::EngineUnavailable { .. }), "{err:?}");
    // Wrong input sizes and shapes.
    let mut layer = GruLayer::<f64>::builder(3).input_size(4).build().unwrap();
    let err = layer.predict(&LayerInput::tbc(&x, 3, 2, 2)).unwrap_err();
    assert!(matches!(err, Error::Property { ref property, .. } if property == "in"), "{err:?}");
    let err = layer.predict(&LayerInput::tbc(&x, 3, 2, 3)).unwrap_err();
    assert!(matches!(err, Error::Property { ref property, .. } if property == "in"), "{err:?}");
    let err = GruLayer::<f64>::builder(0).build().unwrap_err();
    assert!(matches!(err, Error::Property { ref property, .. } if property == "NumHiddenUnits"), "{err:?}");
    let err = GruLayer::<f64>::builder(2).bias_learn_rate_factor(f64::NAN).build().unwrap_err();
    assert!(matches!(err, Error::Property { ref property, .. } if property == "BiasLearnRateFactor"), "{err:?}");
    let err = GruLayer::<f64>::builder(2).clip(Some(-1.0)).build().unwrap_err();
    assert!(matches!(err, Error::Core(GruError::InvalidOption { ref field, .. }) if field == "clip"), "{err:?}");
    // A gradient for a "hidden" output the layer does not have.
    let mut l = GruLayer::<f64>::builder(3).build().unwrap();
    let (out, saved) = l.forward_train(&LayerInput::tbc(&x, 3, 2, 2)).unwrap();
    let err = l.backward(saved, &out.out, Some(&[0.0; 6])).unwrap_err();
    assert!(matches!(err, Error::Property { ref property, .. } if property == "HasStateOutputs"), "{err:?}");
    let (_, saved) = l.forward_train(&LayerInput::tbc(&x, 3, 2, 2)).unwrap();
    let err = l.backward(saved, &out.out[1..], None).unwrap_err();
    assert!(matches!(err, Error::Core(GruError::ShapeMismatch { ref field, .. }) if field == "dout"), "{err:?}");
}

#[test]
fn layer_gradients_are_the_core_gradients_in_the_input_format() {
    let (t, b, c, h) = (4, 2, 3, 2);
    let x_tbc = ramp(t * b * c, 1.0);
    let mut layer = GruLayer::<f64>::builder(h).input_size(c).build().unwrap();
    let spec = layer.spec().unwrap();
    let mut core = NativeEngine::new().prepare(&spec, layer.params().unwrap(), &Plan::training()).unwrap();
    let (out, s) = core.forward_train(&SequenceBatch::new(&x_tbc, t, b)).unwrap();
    let want = core.backward(s, &OutputGrads { dy: &out.y, dh_t: None }).unwrap();
    let format = SequenceFormat::Btc;
    let x = format.from_tbc(&x_tbc, (t, b, c));
    let input = LayerInput::btc(&x, b, t, c);
    let (lo, saved) = layer.forward_train(&input).unwrap();
    let g = layer.backward(saved, &lo.out, None).unwrap();
    assert_eq!(format.to_tbc(&g.dx, (t, b, c)), want.dx);
    assert_eq!(g.params, want.params);
}

#[test]
fn custom_initializers_receive_matlab_shapes() {
    use std::sync::Arc;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let init = WeightInitializer::Custom(Arc::new(move |rows, cols| {
        record.lock().unwrap().push((rows, cols));
        vec![0.25; rows * cols]
    }));
    let bias = BiasInitializer::Custom(Arc::new(|len, _| (0..len).map(|i| i as f64).collect()));
    let layer = GruLayer::<f64>::builder(2)
        .input_size(5)
        .input_weights_initializer(init.clone())
        .recurrent_weights_initializer(init)
        .bias_initializer(bias)
        .build()
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![(6, 5), (6, 2)]);
    assert!(layer.input_weights().unwrap().iter().all(|&v| v == 0.25));
    assert_eq!(layer.bias().unwrap(), &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0][..]);
    let short = WeightInitializer::Custom(Arc::new(|_, _| vec![1.0; 3]));
    let err = GruLayer::<f64>::builder(2).input_size(5).input_weights_initializer(short).build().unwrap_err();
    assert!(matches!(err, Error::Property { ref property, .. } if property == "InputWeightsInitializer"), "{err:?}");
}

#[test]
fn input_size_auto_is_resolved_once() {
    let mut layer = GruLayer::<f32>::builder(4).build().unwrap();
    layer.resolve_input_size(7).unwrap();
    assert_eq!(layer.input_size(), Some(7));
    assert_eq!(layer.input_weights().unwrap().len(), 12 * 7);
    layer.resolve_input_size(7).unwrap();
    let err = layer.resolve_input_size(8).unwrap_err();
    assert!(matches!(err, Error::Property { ref property, .. } if property == "InputSize"), "{err:?}");
}

#[test]
fn a_spec_given_whole_is_the_setters() {
    let spec = gru::GruSpec::new(3, 4)
        .with_depth(2)
        .with_bidirectional(true)
        .with_reset_gate_mode(ResetGateMode::BeforeMultiplication)
        .with_state_activation(StateActivation::Softsign)
        .with_gate_activation(GateActivation::HARD_SIGMOID)
        .with_clip(Some(2.5))
        .with_output_mode(OutputMode::Last);
    let whole = GruLayer::<f64>::builder_from(spec.clone()).seed(5).build().unwrap();
    let replaced = GruLayer::<f64>::builder(9).depth(7).spec(spec.clone()).seed(5).build().unwrap();
    let by_setters = GruLayer::<f64>::builder(4)
        .input_size(3)
        .depth(2)
        .bidirectional(true)
        .reset_gate_mode(ResetGateMode::BeforeMultiplication)
        .state_activation_function(StateActivation::Softsign)
        .gate_activation_function(GateActivation::HARD_SIGMOID)
        .clip(Some(2.5))
        .output_mode(OutputMode::Last)
        .seed(5)
        .build()
        .unwrap();
    for layer in [&whole, &replaced, &by_setters] {
        assert_eq!(layer.spec().unwrap(), spec);
        assert_eq!(layer.params(), by_setters.params());
    }
    // InputSize "auto" is input size 0 in the spec; the spec is then not complete.
    let auto = GruLayer::<f32>::builder_from(gru::GruSpec::new(0, 4)).build().unwrap();
    assert_eq!(auto.input_size(), None);
    assert!(matches!(auto.spec(), Err(Error::Unresolved { .. })));
    // The math options are checked by GruSpec::validate alone, MATLAB's name where it has one.
    let err = GruLayer::<f32>::builder_from(gru::GruSpec::new(3, 0)).build().unwrap_err();
    assert!(matches!(err, Error::Property { ref property, .. } if property == "NumHiddenUnits"), "{err:?}");
    let err = GruLayer::<f32>::builder_from(spec.with_depth(0)).build().unwrap_err();
    assert!(matches!(err, Error::Core(GruError::InvalidOption { ref field, .. }) if field == "depth"), "{err:?}");
}
