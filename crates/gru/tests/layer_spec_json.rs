//! The JSON of a network's layer array: every GRU layer-spec variant writes the JSON that
//! the code before the options refactor wrote (recorded from `main` and pasted here), reads
//! it back to the same spec and writes it again unchanged; unknown keys and unknown
//! initializer names are refused; an initializer without a MATLAB name cannot be written.

use std::sync::Arc;

use gru::layers;
use gru::network::{
    classification_weighted, dropout, fully_connected, gru, regression, sequence_input, sequence_input_zscore, softmax,
    GruLayerSpec, LayerSpec, Network,
};
use gru::{
    BiasInitializer, EngineKind, Error, GateActivation, GruSpec, LearnFactors, OutputMode, ResetGateMode,
    StateActivation, WeightInitializer,
};

/// The variants recorded from `main` (the same builder calls, initializers then as strings).
fn variants() -> Vec<GruLayerSpec> {
    let f = LearnFactors {
        input_weights_learn_rate: [0.5, 1.0, 2.0].into(),
        bias_l2: 0.25.into(),
        ..LearnFactors::default()
    };
    let full = gru(8)
        .output_mode(OutputMode::Last)
        .reset_gate_mode(ResetGateMode::BeforeMultiplication)
        .state_activation_function(StateActivation::Softsign)
        .gate_activation_function(GateActivation::HARD_SIGMOID)
        .clip(Some(0.7))
        .depth(3)
        .bidirectional(true)
        .dropout(0.25)
        .learnable_initial_state(true)
        .factors(f)
        .engine(EngineKind::OneDNN)
        .input_weights_initializer(WeightInitializer::He)
        .recurrent_weights_initializer(WeightInitializer::NarrowNormal)
        .bias_initializer(BiasInitializer::Ones);
    let rba = gru(5)
        .reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication)
        .gate_activation_function(GateActivation::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 })
        .input_weights_initializer(WeightInitializer::Zeros)
        .recurrent_weights_initializer(WeightInitializer::Glorot)
        .bias_initializer(BiasInitializer::NarrowNormal)
        .engine(EngineKind::CuDNN);
    let others = gru(3)
        .recurrent_weights_initializer(WeightInitializer::Orthogonal)
        .input_weights_initializer(WeightInitializer::Ones)
        .clip(Some(2.0));
    vec![gru(100), full, rba, others]
}

/// What `main` wrote for [`variants`], in order.
const RECORDED: [&str; 4] = [
    r#"{"type":"gru","num_hidden_units":100,"output_mode":"sequence","reset_gate_mode":"after-multiplication","state_activation":"tanh","gate_activation":{"type":"sigmoid"},"depth":1,"bidirectional":false,"dropout":0.0,"input_weights_initializer":"glorot","recurrent_weights_initializer":"orthogonal","bias_initializer":"zeros","learnable_initial_state":false,"factors":{"input_weights_learn_rate":1.0,"recurrent_weights_learn_rate":1.0,"bias_learn_rate":1.0,"input_weights_l2":1.0,"recurrent_weights_l2":1.0,"bias_l2":0.0},"engine":"Korali"}"#,
    r#"{"type":"gru","num_hidden_units":8,"output_mode":"last","reset_gate_mode":"before-multiplication","state_activation":"softsign","gate_activation":{"type":"hard-sigmoid","alpha":0.2,"beta":0.5},"clip":0.7,"depth":3,"bidirectional":true,"dropout":0.25,"input_weights_initializer":"he","recurrent_weights_initializer":"narrow-normal","bias_initializer":"ones","learnable_initial_state":true,"factors":{"input_weights_learn_rate":[0.5,1.0,2.0],"recurrent_weights_learn_rate":1.0,"bias_learn_rate":1.0,"input_weights_l2":1.0,"recurrent_weights_l2":1.0,"bias_l2":0.25},"engine":"OneDNN"}"#,
    r#"{"type":"gru","num_hidden_units":5,"output_mode":"sequence","reset_gate_mode":"recurrent-bias-after-multiplication","state_activation":"tanh","gate_activation":{"type":"hard-sigmoid","alpha":0.16666666666666666,"beta":0.5},"depth":1,"bidirectional":false,"dropout":0.0,"input_weights_initializer":"zeros","recurrent_weights_initializer":"glorot","bias_initializer":"narrow-normal","learnable_initial_state":false,"factors":{"input_weights_learn_rate":1.0,"recurrent_weights_learn_rate":1.0,"bias_learn_rate":1.0,"input_weights_l2":1.0,"recurrent_weights_l2":1.0,"bias_l2":0.0},"engine":"CuDNN"}"#,
    r#"{"type":"gru","num_hidden_units":3,"output_mode":"sequence","reset_gate_mode":"after-multiplication","state_activation":"tanh","gate_activation":{"type":"sigmoid"},"clip":2.0,"depth":1,"bidirectional":false,"dropout":0.0,"input_weights_initializer":"ones","recurrent_weights_initializer":"orthogonal","bias_initializer":"zeros","learnable_initial_state":false,"factors":{"input_weights_learn_rate":1.0,"recurrent_weights_learn_rate":1.0,"bias_learn_rate":1.0,"input_weights_l2":1.0,"recurrent_weights_l2":1.0,"bias_l2":0.0},"engine":"Korali"}"#,
];

/// What `main` wrote for the layer array of [`layer_arrays_write_what_main_wrote`].
const RECORDED_ARRAY: &str = r#"[{"type":"sequence-input","input_size":12,"normalization":"zscore"},{"type":"gru","num_hidden_units":100,"output_mode":"last","reset_gate_mode":"after-multiplication","state_activation":"tanh","gate_activation":{"type":"sigmoid"},"depth":1,"bidirectional":false,"dropout":0.0,"input_weights_initializer":"glorot","recurrent_weights_initializer":"orthogonal","bias_initializer":"zeros","learnable_initial_state":false,"factors":{"input_weights_learn_rate":1.0,"recurrent_weights_learn_rate":1.0,"bias_learn_rate":1.0,"input_weights_l2":1.0,"recurrent_weights_l2":1.0,"bias_l2":0.0},"engine":"Korali"},{"type":"dropout","probability":0.5},{"type":"fully-connected","output_size":9},{"type":"softmax"},{"type":"classification","classes":["a","b"],"class_weights":[1.0,2.0]}]"#;

#[test]
fn every_gru_variant_writes_what_main_wrote_and_reads_back() {
    for (spec, want) in variants().into_iter().zip(RECORDED) {
        let layer = LayerSpec::from(spec);
        assert_eq!(serde_json::to_string(&layer).unwrap(), want);
        let back: LayerSpec = serde_json::from_str(want).unwrap();
        assert_eq!(back, layer);
        assert_eq!(serde_json::to_string(&back).unwrap(), want);
        // Through a serde_json::Value (what network files and checkpoints hold).
        let value: serde_json::Value = serde_json::from_str(want).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), want);
        let back: LayerSpec = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), value);
    }
}

#[test]
fn layer_arrays_write_what_main_wrote() {
    let specs = layers![
        sequence_input_zscore(12),
        gru(100).output_mode(OutputMode::Last),
        dropout(0.5),
        fully_connected(9),
        softmax(),
        classification_weighted(vec!["a".into(), "b".into()], vec![1.0, 2.0])
    ];
    assert_eq!(serde_json::to_string(&specs).unwrap(), RECORDED_ARRAY);
    let back: Vec<LayerSpec> = serde_json::from_str(RECORDED_ARRAY).unwrap();
    assert_eq!(back, specs);
}

#[test]
fn missing_keys_take_their_defaults() {
    let back: LayerSpec = serde_json::from_str(r#"{"type":"gru","num_hidden_units":100}"#).unwrap();
    assert_eq!(back, LayerSpec::from(gru(100)));
    assert_eq!(serde_json::to_string(&back).unwrap(), RECORDED[0]);
    // Keys in any order, initializer names in any case (written back in lower case).
    let given = r#"{"engine":"OneDNN","bias_initializer":"Ones","num_hidden_units":4,"type":"gru","depth":2,
                    "input_weights_initializer":"HE","clip":1.5}"#;
    let back: LayerSpec = serde_json::from_str(given).unwrap();
    let want = gru(4)
        .engine(EngineKind::OneDNN)
        .bias_initializer(BiasInitializer::Ones)
        .depth(2)
        .input_weights_initializer(WeightInitializer::He)
        .clip(Some(1.5));
    assert_eq!(back, LayerSpec::from(want));
}

#[test]
fn the_math_options_are_one_gru_spec() {
    let spec = GruSpec::new(0, 6)
        .with_depth(2)
        .with_bidirectional(true)
        .with_reset_gate_mode(ResetGateMode::BeforeMultiplication)
        .with_state_activation(StateActivation::Softsign)
        .with_gate_activation(GateActivation::HARD_SIGMOID)
        .with_clip(Some(3.0))
        .with_output_mode(OutputMode::Last);
    let by_setters = gru(6)
        .depth(2)
        .bidirectional(true)
        .reset_gate_mode(ResetGateMode::BeforeMultiplication)
        .state_activation_function(StateActivation::Softsign)
        .gate_activation_function(GateActivation::HARD_SIGMOID)
        .clip(Some(3.0))
        .output_mode(OutputMode::Last);
    assert_eq!(GruLayerSpec::new(spec.clone()), by_setters);
    assert_eq!(by_setters.spec, spec);
    // The input size of a layer-array spec is the network's: not kept, not written.
    assert_eq!(GruLayerSpec::new(GruSpec::new(7, 6)).spec.input_size, 0);
}

#[test]
fn unknown_keys_and_names_are_refused() {
    let cases = [
        (r#"{"type":"gru","num_hidden_units":4,"hidden_size":3}"#, "unknown field `hidden_size`"),
        (r#"{"type":"gru","num_hidden_units":4,"input_size":3}"#, "unknown field `input_size`"),
        (r#"{"type":"gru","num_hidden_units":4,"dropuot":0.5}"#, "unknown field `dropuot`"),
        (r#"{"type":"gru"}"#, "missing field `num_hidden_units`"),
        (r#"{"type":"gru","num_hidden_units":4,"bias_initializer":"glorot"}"#, "BiasInitializer"),
        (r#"{"type":"gru","num_hidden_units":4,"input_weights_initializer":"custom"}"#, "\"custom\""),
        (r#"{"type":"gru","num_hidden_units":4,"recurrent_weights_initializer":1}"#, "invalid type"),
        (r#"{"type":"gru","num_hidden_units":4,"output_mode":"first"}"#, "unknown variant `first`"),
    ];
    for (given, want) in cases {
        let err = serde_json::from_str::<LayerSpec>(given).unwrap_err().to_string();
        assert!(err.contains(want), "{given}: {err}");
    }
}

#[test]
fn unnamed_initializers_are_refused_at_serialization_and_by_the_network() {
    let custom = WeightInitializer::Custom(Arc::new(|r, c| vec![0.0; r * c]));
    let korali = WeightInitializer::KoraliXavier { scaling: 1.0, minimum: -1.0, maximum: 1.0 };
    let bias = BiasInitializer::Custom(Arc::new(|n, _| vec![0.0; n]));
    let specs = [
        gru(3).input_weights_initializer(custom.clone()),
        gru(3).recurrent_weights_initializer(korali),
        gru(3).bias_initializer(bias),
    ];
    for (spec, key) in specs.into_iter().zip(["input", "recurrent", "bias"]) {
        let err = serde_json::to_string(&LayerSpec::from(spec.clone())).unwrap_err().to_string();
        assert!(err.contains("cannot be written to JSON"), "{err}");
        let layers = layers![sequence_input(2), spec, fully_connected(1), regression()];
        match Network::<f64>::new(layers, 1) {
            Err(Error::Config { path, .. }) => assert!(path.starts_with(&format!("layers[1].{key}")), "{path}"),
            other => panic!("{key}: {other:?}"),
        }
    }
    // Equality of initializers: by name, by Korali parameters, by the function's Arc.
    assert_eq!(custom, custom.clone());
    assert_ne!(custom, WeightInitializer::Custom(Arc::new(|r, c| vec![0.0; r * c])));
    assert_ne!(WeightInitializer::Glorot, WeightInitializer::He);
    assert_eq!(BiasInitializer::default(), BiasInitializer::Zeros);
}

/// A reverse GRU (`GruSpec::reverse`): the key `"reverse"` is read, written only when set
/// (so the JSON of every other layer is unchanged), refused with `bidirectional`, and kept
/// by a saved network.
#[test]
fn a_reverse_gru_layer_is_read_written_and_saved() {
    let back: LayerSpec = serde_json::from_str(r#"{"type":"gru","num_hidden_units":4,"reverse":true}"#).unwrap();
    assert_eq!(back, LayerSpec::from(gru(4).reverse(true)));
    let json = serde_json::to_string(&back).unwrap();
    assert!(json.contains(r#""reverse":true"#), "{json}");
    assert!(!serde_json::to_string(&LayerSpec::from(gru(4))).unwrap().contains("reverse"));
    let both = layers![sequence_input(2), gru(3).bidirectional(true).reverse(true), regression()];
    match Network::<f64>::new(both, 1) {
        Err(e) => assert!(e.to_string().contains("reverse"), "{e}"),
        Ok(_) => panic!("reverse with bidirectional was accepted"),
    }
    let net = Network::<f64>::new(layers![sequence_input(2), gru(3).reverse(true).depth(2), regression()], 1).unwrap();
    assert!(net.gru_layers().all(|g| g.reverse()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reverse.safetensors");
    net.save(&path).unwrap();
    let loaded = Network::<f64>::load(&path).unwrap();
    assert!(loaded.gru_layers().all(|g| g.reverse() && !g.bidirectional()));
    assert_eq!(loaded.specs(), net.specs());
}
