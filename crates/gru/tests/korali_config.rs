//! Korali network configs: Korali's own RNN example, defaults, every error with its path and
//! value, warnings for ignored keys, and round trips (typed and JSON).

use gru::korali::{
    ConfigWarning, KoraliActivation, KoraliGru, KoraliInput, KoraliLayer, KoraliLinear, KoraliNetwork, KoraliOutput,
    LayerList,
};
use gru::{EngineKind, Error, Mode, ResetGateMode};
use proptest::prelude::*;
use serde_json::{json, Value};

/// The experiment of Korali's `examples/learning/supervised/sineWave/run-rnn.py`
/// (wadaniel/korali at b42386116b2b642ef0edd10eba678ce89cc15002), as the JSON its Python
/// assignments build; the training data is left out.
fn korali_rnn_experiment() -> Value {
    json!({
        "Problem": {
            "Type": "Supervised Learning",
            "Max Timesteps": 5,
            "Training Batch Size": 500,
            "Inference Batch Size": 500,
            "Input": {"Size": 1},
            "Solution": {"Size": 1}
        },
        "Solver": {
            "Type": "Learner/DeepSupervisor",
            "Loss Function": "Mean Squared Error",
            "Steps Per Generation": 20,
            "Learning Rate": 0.001,
            "Neural Network": {
                "Engine": "OneDNN",
                "Optimizer": "Adam",
                "Hidden Layers": [{"Type": "Layer/Recurrent/GRU", "Depth": 1, "Output Channels": 32}]
            },
            "Termination Criteria": {"Max Generations": 100}
        },
        "Console Output": {"Frequency": 1},
        "File Output": {"Enabled": false},
        "Random Seed": 0xC0FFEE
    })
}

/// The NeuralNetwork module config that Korali's DeepSupervisor builds from that example
/// (`solver/learner/deepSupervisor/deepSupervisor._cpp`, `initialize()`): input layer of the
/// input size, the hidden layers, a linear layer to the solution size, the output layer.
fn korali_rnn_network_module() -> Value {
    json!({
        "Type": "Neural Network",
        "Engine": "OneDNN",
        "Timestep Count": 5,
        "Layers": [
            {"Type": "Layer/Input", "Output Channels": 1},
            {"Type": "Layer/Recurrent/GRU", "Depth": 1, "Output Channels": 32},
            {"Type": "Layer/Linear", "Output Channels": 1, "Weight Scaling": 1.0},
            {"Type": "Layer/Output"}
        ],
        "Batch Sizes": [500, 500],
        "Mode": "Training"
    })
}

fn load(value: Value) -> (KoraliNetwork, Vec<ConfigWarning>) {
    KoraliNetwork::from_json(&value).unwrap_or_else(|e| panic!("{value}: {e}"))
}

fn config_error(value: Value) -> (String, String, String) {
    match KoraliNetwork::from_json(&value) {
        Err(Error::Config { path, value, reason }) => (path, value, reason),
        other => panic!("{value}: expected a Config error, got {other:?}"),
    }
}

fn hidden(layer: Value) -> Value {
    json!({"Hidden Layers": [layer]})
}

#[test]
fn korali_rnn_example_loads_with_korali_defaults() {
    let experiment = korali_rnn_experiment();
    let section = &experiment["Solver"]["Neural Network"];
    let (net, warnings) = KoraliNetwork::from_json_at(section, r#"["Solver"]["Neural Network"]"#).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(net.engine, EngineKind::OneDNN);
    assert_eq!(net.mode, Mode::Training);
    assert_eq!(net.layer_list, LayerList::HiddenLayers);
    assert_eq!(net.layers, vec![KoraliLayer::Gru(KoraliGru::new(32))]);
    let gru = net.gru_layers().next().unwrap();
    assert_eq!((gru.output_channels, gru.depth, gru.weight_scaling), (32, 1, 1.0));
    assert_eq!(gru.reset_gate_mode, ResetGateMode::BeforeMultiplication);
    assert_eq!(net.solver_keys.get("Optimizer"), Some(&json!("Adam")));
    // Saved back: the same JSON value, under "Hidden Layers", no "Reset Gate Mode" added.
    assert_eq!(&net.to_json(), section);
    assert_eq!(KoraliNetwork::from_json(&net.to_json()).unwrap().0, net);
}

#[test]
fn korali_network_module_round_trips() {
    let module = korali_rnn_network_module();
    let (net, warnings) = load(module.clone());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(net.layer_list, LayerList::Layers);
    assert_eq!(net.timestep_count, Some(5));
    assert_eq!(net.batch_sizes, vec![500, 500]);
    assert_eq!(net.layers[0], KoraliLayer::Input(KoraliInput { output_channels: 1 }));
    assert_eq!(net.layers[2], KoraliLayer::Linear(KoraliLinear::new(1)));
    assert_eq!(net.layers[3], KoraliLayer::Output(KoraliOutput::default()));
    assert_eq!(net.to_json(), module);
    let text = serde_json::to_string_pretty(&module).unwrap();
    assert_eq!(KoraliNetwork::from_str(&text).unwrap().0, net);
}

#[test]
fn reset_gate_mode_extension_selects_each_mode() {
    for mode in ResetGateMode::ALL {
        let layer = json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 4, "Reset Gate Mode": mode.name()});
        let (net, _) = load(hidden(layer.clone()));
        assert_eq!(net.gru_layers().next().unwrap().reset_gate_mode, mode);
        assert_eq!(net.to_json(), hidden(layer));
    }
    // Not given and not the default: written; given at the default: kept.
    let net = KoraliNetwork::hidden_layers(vec![KoraliLayer::Gru(
        KoraliGru::new(4).with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication),
    )]);
    assert_eq!(net.to_json()["Hidden Layers"][0]["Reset Gate Mode"], json!("recurrent-bias-after-multiplication"));
    assert!(KoraliNetwork::hidden_layers(vec![KoraliLayer::Gru(KoraliGru::new(4))]).to_json()["Hidden Layers"][0]
        .get("Reset Gate Mode")
        .is_none());
}

#[test]
fn depth_above_one_accepts_any_input_size() {
    let (net, _) = load(json!({"Layers": [
        {"Type": "Layer/Input", "Output Channels": 3},
        {"Type": "Layer/Recurrent/GRU", "Output Channels": 16, "Depth": 4},
        {"Type": "Layer/Output"}
    ]}));
    let spec = net.gru_layers().next().unwrap().spec(3);
    assert_eq!((spec.input_size, spec.hidden_size, spec.depth), (3, 16, 4));
    spec.validate().unwrap();
}

#[test]
fn lstm_and_other_korali_layers_are_unsupported() {
    match KoraliNetwork::from_json(&json!({"Layers": [{"Type": "Layer/Input", "Output Channels": 1},
                                                      {"Type": "Layer/Recurrent/LSTM", "Output Channels": 8}]}))
    {
        Err(Error::Unsupported { operation, reason }) => {
            assert!(operation.contains(r#"["Layers"][1]["Type"]"#), "{operation}");
            assert!(reason.contains("GRU layers only"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    for t in ["Layer/Convolution", "Layer/Pooling", "Layer/Deconvolution", "Layer/Resampling"] {
        match KoraliNetwork::from_json(&hidden(json!({"Type": t}))) {
            Err(Error::Unsupported { operation, .. }) => assert!(operation.contains(t), "{operation}"),
            other => panic!("{t}: {other:?}"),
        }
    }
    let (path, value, reason) = config_error(hidden(json!({"Type": "Layer/Recurrent/Gru", "Output Channels": 8})));
    assert_eq!((path.as_str(), value.as_str()), (r#"["Hidden Layers"][0]["Type"]"#, r#""Layer/Recurrent/Gru""#));
    assert!(reason.contains(r#""Layer/Recurrent/GRU""#), "{reason}");
}

#[test]
fn wrong_types_name_path_value_and_expected_type() {
    let gru = |key: &str, v: Value| {
        let mut layer = json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 8});
        layer[key] = v;
        json!({"Layers": [{"Type": "Layer/Input", "Output Channels": 2}, layer]})
    };
    let cases = [
        (gru("Output Channels", json!("32")), r#"["Layers"][1]["Output Channels"]"#, r#""32""#, "non-negative integer"),
        (gru("Depth", json!(1.5)), r#"["Layers"][1]["Depth"]"#, "1.5", "non-negative integer"),
        (gru("Depth", json!(-2)), r#"["Layers"][1]["Depth"]"#, "-2", "non-negative integer"),
        (gru("Weight Scaling", json!("1")), r#"["Layers"][1]["Weight Scaling"]"#, r#""1""#, "number"),
        (gru("Reset Gate Mode", json!(1)), r#"["Layers"][1]["Reset Gate Mode"]"#, "1", "string"),
        (json!({"Layers": [], "Batch Sizes": 4}), r#"["Batch Sizes"]"#, "4", "array"),
        (json!({"Layers": [], "Batch Sizes": ["4"]}), r#"["Batch Sizes"][0]"#, r#""4""#, "non-negative integer"),
        (json!({"Layers": [], "Timestep Count": true}), r#"["Timestep Count"]"#, "true", "non-negative integer"),
        (json!({"Layers": [], "Engine": 1}), r#"["Engine"]"#, "1", "string"),
        (
            json!({"Layers": [], "Uniform Generator": {"Minimum": "low"}}),
            r#"["Uniform Generator"]["Minimum"]"#,
            r#""low""#,
            "number",
        ),
        (json!({"Layers": [7]}), r#"["Layers"][0]"#, "7", "object"),
        (json!([]), "<root>", "[]", "object"),
    ];
    for (given, want_path, want_value, want_reason) in cases {
        let (path, value, reason) = config_error(given.clone());
        assert_eq!((path.as_str(), value.as_str()), (want_path, want_value), "{given}");
        assert!(reason.contains(want_reason), "{given}: {reason}");
    }
    // An integral float is a size.
    let (net, _) = load(gru("Output Channels", json!(32.0)));
    assert_eq!(net.gru_layers().next().unwrap().output_channels, 32);
}

#[test]
fn out_of_range_values_are_config_errors() {
    let layer = |extra: Value| {
        let mut l = json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 8});
        l.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        hidden(l)
    };
    let cases = [
        (layer(json!({"Output Channels": 0})), r#"["Hidden Layers"][0]["Output Channels"]"#, "0"),
        (layer(json!({"Depth": 0})), r#"["Hidden Layers"][0]["Depth"]"#, "0"),
        (layer(json!({"Weight Scaling": 0.0})), r#"["Hidden Layers"][0]["Weight Scaling"]"#, "0.0"),
        (layer(json!({"Weight Scaling": -0.5})), r#"["Hidden Layers"][0]["Weight Scaling"]"#, "-0.5"),
        (layer(json!({"Dropout Probability": 0.2})), r#"["Hidden Layers"][0]["Dropout Probability"]"#, "0.2"),
        (json!({"Hidden Layers": [], "Batch Sizes": [32, 0]}), r#"["Batch Sizes"][1]"#, "0"),
        (
            json!({"Hidden Layers": [], "Uniform Generator": {"Minimum": 0.5, "Maximum": -0.5}}),
            r#"["Uniform Generator"]"#,
            "Minimum 0.5 >= Maximum -0.5",
        ),
    ];
    for (given, want_path, want_value) in cases {
        let (path, value, _) = config_error(given.clone());
        assert_eq!((path.as_str(), value.as_str()), (want_path, want_value), "{given}");
    }
    // A NaN cannot come from JSON, but a config built in code is checked the same way.
    let mut net = KoraliNetwork::hidden_layers(vec![KoraliLayer::Gru(KoraliGru::new(8).with_weight_scaling(f64::NAN))]);
    assert!(matches!(net.validate(), Err(Error::Config { .. })));
    net.layers = vec![KoraliLayer::Activation(KoraliActivation::new("Elementwise/Sigmoid"))];
    assert!(matches!(net.validate(), Err(Error::Config { .. })));
}

#[test]
fn unknown_keys_suggest_the_closest_korali_key() {
    let cases = [
        (
            hidden(json!({"Type": "Layer/Recurrent/GRU", "Outpt Channels": 8})),
            r#"["Hidden Layers"][0]["Outpt Channels"]"#,
            Some("Output Channels"),
        ),
        (
            hidden(json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 8, "Reset Mode": "x"})),
            r#"["Hidden Layers"][0]["Reset Mode"]"#,
            Some("Reset Gate Mode"),
        ),
        (json!({"Layers": [], "Batch Size": [1]}), r#"["Batch Size"]"#, Some("Batch Sizes")),
        (json!({"Layers": [], "Timesteps": 3}), r#"["Timesteps"]"#, None),
        (
            json!({"Layers": [], "Uniform Generator": {"Maximun": 2.0}}),
            r#"["Uniform Generator"]["Maximun"]"#,
            Some("Maximum"),
        ),
    ];
    for (given, want_path, want_suggestion) in cases {
        match KoraliNetwork::from_json(&given) {
            Err(Error::UnknownKey { path, suggestion }) => {
                assert_eq!(path, want_path, "{given}");
                assert_eq!(suggestion.as_deref(), want_suggestion, "{given}");
            }
            other => panic!("{given}: {other:?}"),
        }
    }
    let message = KoraliNetwork::from_json(&hidden(json!({"Type": "Layer/Linear", "Outpt Channels": 1})))
        .unwrap_err()
        .to_string();
    assert!(message.contains("did you mean \"Output Channels\""), "{message}");
}

#[test]
fn korali_keys_that_do_not_matter_warn_and_are_not_written_back() {
    let given = json!({
        "Engine": "Korali",
        "Current Training Loss": 0.25,
        "Results": {},
        "Input Values": [[1.0]],
        "Uniform Generator": {"Type": "Univariate/Uniform", "Minimum": -0.5, "Maximum": 0.5, "Random Seed": 3},
        "Layers": [
            {"Type": "Layer/Input", "Output Channels": 2, "Index": 0},
            {"Type": "Layer/Recurrent/GRU", "Output Channels": 4, "Dropout Probability": 0.0},
            {"Type": "Layer/Activation", "Function": "Elementwise/Tanh", "Output Channels": 4},
            {"Type": "Layer/Output", "Weight Scaling": 1.0}
        ]
    });
    let (net, warnings) = load(given);
    let paths: Vec<&str> = warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            r#"["Current Training Loss"]"#,
            r#"["Results"]"#,
            r#"["Input Values"]"#,
            r#"["Uniform Generator"]["Random Seed"]"#,
            r#"["Layers"][0]["Index"]"#,
            r#"["Layers"][1]["Dropout Probability"]"#,
            r#"["Layers"][2]["Output Channels"]"#,
            r#"["Layers"][3]["Weight Scaling"]"#,
        ]
    );
    assert!(warnings.iter().all(|w| w.message.contains("not written back")));
    assert_eq!(
        net.to_json(),
        json!({
            "Engine": "Korali",
            "Uniform Generator": {"Type": "Univariate/Uniform", "Minimum": -0.5, "Maximum": 0.5},
            "Layers": [
                {"Type": "Layer/Input", "Output Channels": 2},
                {"Type": "Layer/Recurrent/GRU", "Output Channels": 4},
                {"Type": "Layer/Activation", "Function": "Elementwise/Tanh"},
                {"Type": "Layer/Output"}
            ]
        })
    );
}

#[test]
fn errors_inside_an_experiment_carry_the_prefix() {
    let mut experiment = korali_rnn_experiment();
    experiment["Solver"]["Neural Network"]["Hidden Layers"][0]["Depth"] = json!(0);
    let section = &experiment["Solver"]["Neural Network"];
    match KoraliNetwork::from_json_at(section, r#"["Solver"]["Neural Network"]"#) {
        Err(Error::Config { path, value, .. }) => {
            assert_eq!(path, r#"["Solver"]["Neural Network"]["Hidden Layers"][0]["Depth"]"#);
            assert_eq!(value, "0");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_json_is_a_config_error_with_line_and_column() {
    match KoraliNetwork::from_str("{\"Layers\": [\n  {\"Type\": \"Layer/Linear\" \"Output Channels\": 1}\n]}") {
        Err(Error::Config { value, reason, .. }) => {
            assert_eq!(value, "line 2, column 27");
            assert!(reason.contains("malformed JSON"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

fn arb_layer() -> impl Strategy<Value = KoraliLayer> {
    let gru = (1usize..64, 1usize..4, prop_oneof![Just(1.0), 0.01f64..10.0], 0usize..3).prop_map(|(h, d, w, m)| {
        KoraliLayer::Gru(
            KoraliGru::new(h).with_depth(d).with_weight_scaling(w).with_reset_gate_mode(ResetGateMode::ALL[m]),
        )
    });
    let linear = (1usize..64, prop_oneof![Just(1.0), 0.01f64..10.0])
        .prop_map(|(n, w)| KoraliLayer::Linear(KoraliLinear { weight_scaling: w, ..KoraliLinear::new(n) }));
    let activation = (0usize..KoraliActivation::FUNCTIONS.len(), -2.0f64..2.0, -2.0f64..2.0).prop_map(|(f, a, b)| {
        KoraliLayer::Activation(KoraliActivation {
            alpha: a,
            beta: b,
            ..KoraliActivation::new(KoraliActivation::FUNCTIONS[f])
        })
    });
    prop_oneof![gru, linear, activation]
}

proptest! {
    #[test]
    fn typed_round_trip(
        hidden_layers in proptest::collection::vec(arb_layer(), 0..5),
        solver_form in any::<bool>(),
        engine in 0usize..3,
        inference in any::<bool>(),
        timesteps in proptest::option::of(1usize..100),
        batch_sizes in proptest::collection::vec(1usize..1000, 0..3),
        bounds in (-5.0f64..0.0, 0.1f64..5.0),
        optimizer in proptest::option::of(Just("AdaBelief")),
    ) {
        let mut net = if solver_form {
            KoraliNetwork::hidden_layers(hidden_layers)
        } else {
            let mut layers = vec![KoraliLayer::Input(KoraliInput { output_channels: 3 })];
            layers.extend(hidden_layers);
            layers.push(KoraliLayer::Output(KoraliOutput::default()));
            KoraliNetwork::new(layers)
        };
        net.engine = [EngineKind::Korali, EngineKind::OneDNN, EngineKind::CuDNN][engine];
        net.mode = if inference { Mode::Inference } else { Mode::Training };
        net.timestep_count = timesteps;
        net.batch_sizes = batch_sizes;
        (net.uniform_generator.minimum, net.uniform_generator.maximum) = bounds;
        if let Some(o) = optimizer {
            net.solver_keys.insert("Optimizer".into(), json!(o));
        }
        let json = net.to_json();
        let (back, warnings) = KoraliNetwork::from_json(&json).unwrap();
        prop_assert!(warnings.is_empty());
        prop_assert_eq!(&back, &net);
        // And the JSON of a loaded config saves back unchanged.
        prop_assert_eq!(back.to_json(), json);
    }
}
