//! Whole networks as ONNX models: ours -> ONNX -> ours is bit-identical (parameters,
//! layer specs, normalization, class names) with equal predictions; (where python3 has
//! onnx and onnxruntime) the exported graphs run in onnxruntime with our outputs on the
//! valid steps; and what cannot be read or written is a typed error.

mod common;

use std::path::Path;

use gru::convert::onnx::{self, OnnxOptions, NETWORK_KEY};
use gru::convert::verify;
use gru::layers;
use gru::network::{
    activation, classification_weighted, dropout, fully_connected, gru, regression, sequence_input,
    sequence_input_zscore, softmax, Elementwise, LayerSpec, OutputTransform, Transformation,
};
use gru::{Error, GateActivation, GruSpec, Network, OutputMode, Real, ResetGateMode, StateActivation};
use serde_json::Value;

/// Sets every learnable value to a deterministic one, with -0.0 and subnormals mixed in
/// (a round trip must keep their bits), fits a normalized input with awkward statistics and
/// a regressor whose targets are normalized (`target_normalized` in its name) with others.
fn awkward<T: Real>(mut net: Network<T>, seed: u64) -> Network<T> {
    let n = net.params_flat().len();
    let flat: Vec<T> = (0..n)
        .map(|i| match i % 7 {
            0 => T::lit(-0.0),
            3 => T::lit(1e-40 * (i as f64 + 1.0)),
            _ => T::lit(((i as f64 + seed as f64) * 0.618_033_988_749_894_9).sin() / 1.7),
        })
        .collect();
    net.set_params_flat(&flat).unwrap();
    if !matches!(net.specs()[0], LayerSpec::SequenceInput { normalization: gru::network::Normalization::None, .. }) {
        let c = net.input_size();
        let mean = (0..c).map(|k| T::lit(0.1 * k as f64 - 0.123_456_789)).collect();
        let std = (0..c).map(|k| T::lit(0.7 + 0.333_333_333_3 * k as f64)).collect();
        net.set_normalization(Some((mean, std))).unwrap();
    }
    net
}

/// The networks exported, by name: every layer type, every GRU option.
fn networks<T: Real>() -> Vec<(String, Network<T>)> {
    let hard = GateActivation::HardSigmoid { alpha: 0.23, beta: 0.47 };
    let classes: Vec<String> = ["circle", "square", "triangle"].iter().map(|s| s.to_string()).collect();
    let mut v: Vec<(String, Vec<LayerSpec>)> = vec![
        (
            "classifier_stacked_last".into(),
            layers![
                sequence_input(3),
                gru(5).depth(2).output_mode(OutputMode::Last),
                fully_connected(3),
                softmax(),
                classification_weighted(classes, vec![1.0, 2.0, 0.5])
            ],
        ),
        (
            "bidir_seq2seq_zscore_regressor".into(),
            layers![sequence_input_zscore(3), gru(4).bidirectional(true), fully_connected(2), regression()],
        ),
        (
            "bidir_last_output_transform".into(),
            layers![
                sequence_input_zscore(2),
                gru(3).bidirectional(true).depth(2).output_mode(OutputMode::Last),
                fully_connected(5),
                LayerSpec::OutputTransform(OutputTransform {
                    transformations: vec![
                        Transformation::Identity,
                        Transformation::Absolute,
                        Transformation::Softplus,
                        Transformation::Tanh,
                        Transformation::Sigmoid,
                    ],
                    scale: vec![1.5, -0.5, 2.0, 0.25, 3.0],
                    shift: vec![0.1, 0.2, -0.3, 0.0, 1.0],
                }),
                regression()
            ],
        ),
        (
            "activations_between_grus".into(),
            layers![
                sequence_input(3),
                gru(4),
                activation(Elementwise::Relu { negative_slope: 0.1 }),
                activation(Elementwise::Linear { alpha: 1.5, beta: -0.2 }),
                activation(Elementwise::Softsign),
                fully_connected(4),
                activation(Elementwise::Relu { negative_slope: 0.0 }),
                activation(Elementwise::Softrelu),
                activation(Elementwise::Clip { lower: -0.5, upper: 0.7 }),
                gru(3).reset_gate_mode(ResetGateMode::BeforeMultiplication),
                activation(Elementwise::Tanh),
                activation(Elementwise::Logistic),
                activation(Elementwise::Log),
                fully_connected(2),
                LayerSpec::OutputTransform(OutputTransform {
                    transformations: vec![Transformation::Tanh, Transformation::Tanh],
                    scale: vec![],
                    shift: vec![0.5, -0.5],
                }),
                regression()
            ],
        ),
        (
            "dropout_and_split_stack".into(),
            layers![
                sequence_input(2),
                dropout(0.3),
                gru(3).depth(3).dropout(0.2).learnable_initial_state(true),
                dropout(0.1),
                fully_connected(2),
                softmax(),
                classification_weighted(vec!["no".into(), "yes".into()], vec![1.0, 1.0])
            ],
        ),
        ("dense_only".into(), layers![sequence_input_zscore(3), fully_connected(2), regression()]),
        (
            "target_normalized_rescaled_input".into(),
            layers![
                LayerSpec::SequenceInput { input_size: 2, normalization: gru::network::Normalization::RescaleZeroOne },
                gru(3).output_mode(OutputMode::Last),
                fully_connected(2),
                regression()
            ],
        ),
    ];
    for (k, mode) in ResetGateMode::ALL.into_iter().enumerate() {
        let g = gru(3)
            .reset_gate_mode(mode)
            .state_activation_function(StateActivation::Softsign)
            .gate_activation_function(hard)
            .clip(Some(1.3))
            .depth(2)
            .bidirectional(k == 1)
            .learnable_initial_state(true)
            .output_mode(if k == 2 { OutputMode::Last } else { OutputMode::Sequence });
        v.push((format!("{}_options", mode.name()), layers![sequence_input(3), g, fully_connected(2), regression()]));
        let plain = gru(4).reset_gate_mode(mode).output_mode(OutputMode::Last).learnable_initial_state(k != 1);
        v.push((format!("{}_last", mode.name()), layers![sequence_input(2), plain, fully_connected(3), regression()]));
    }
    v.into_iter()
        .enumerate()
        .map(|(k, (name, specs))| {
            let mut net = awkward(Network::<T>::new(specs, 7 + k as u64).unwrap(), k as u64);
            if name.contains("target_normalized") {
                let t = gru::network::TargetNormalization {
                    kind: gru::network::Normalization::Zscore,
                    offset: vec![T::lit(123.456_789), T::lit(-0.987_654_321)],
                    scale: vec![T::lit(45.678_9), T::lit(1e-3 / 3.0)],
                };
                net.set_target_normalization(Some(t)).unwrap();
            }
            (name, net)
        })
        .collect()
}

/// Seeded inputs `[T, B, C]` in [-1.5, 1.5) and ragged lengths.
fn inputs<T: Real>(c: usize) -> (Vec<T>, usize, Vec<usize>) {
    let steps = 6;
    let lengths = vec![6, 2, 4, 1];
    let n = steps * lengths.len() * c;
    let x = (0..n).map(|i| T::lit(((i as f64) * 0.731).sin() * 1.5)).collect();
    (x, steps, lengths)
}

/// The network's output on `inputs`, valid steps only (the rows past a length are padding).
fn predict<T: Real>(net: &mut Network<T>) -> Vec<T> {
    let (x, steps, lengths) = inputs::<T>(net.input_size());
    let y = net.forward(&x, steps, &lengths, None, None).unwrap().output;
    if net.sequence_output() {
        verify::valid_steps(&y, steps, &lengths, net.output_width())
    } else {
        y
    }
}

fn bits<T: Real>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.widen().to_bits()).collect()
}

fn round_trip<T: Real>(net: &Network<T>) -> Network<T> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.onnx");
    onnx::write_network(&path, net, &OnnxOptions::default()).unwrap();
    onnx::read_network::<T>(&path).unwrap()
}

fn assert_same<T: Real>(a: &mut Network<T>, b: &mut Network<T>, name: &str) {
    assert_eq!(a.specs(), b.specs(), "{name}");
    assert_eq!(a.seed(), b.seed(), "{name}");
    assert_eq!(bits(&a.params_flat()), bits(&b.params_flat()), "{name}");
    let norm = |n: &Network<T>| n.normalization().map(|(m, s)| (bits(m), bits(s)));
    assert_eq!(norm(a), norm(b), "{name}");
    let target = |n: &Network<T>| n.target_normalization().map(|t| (t.kind, bits(&t.offset), bits(&t.scale)));
    assert_eq!(target(a), target(b), "{name}");
    assert_eq!(a.initialization(), b.initialization(), "{name}");
    assert_eq!(a.class_names(), b.class_names(), "{name}");
    assert_eq!(bits(&predict(a)), bits(&predict(b)), "{name}");
}

#[test]
fn round_trips_are_bit_identical() {
    for (name, mut net) in networks::<f32>() {
        let mut back = round_trip(&net);
        assert_same(&mut net, &mut back, &format!("{name} f32"));
    }
    for (name, mut net) in networks::<f64>() {
        let mut back = round_trip(&net);
        assert_same(&mut net, &mut back, &format!("{name} f64"));
    }
}

#[test]
fn graphs_have_the_documented_layout() {
    let nets = networks::<f32>();
    let ops = |k: usize| {
        let m = onnx::network_to_model(&nets[k].1, &OnnxOptions::default()).unwrap();
        let g = m.graph.unwrap();
        assert_eq!(g.input.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["X", "sequence_lens"]);
        assert_eq!(g.output.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["Y"]);
        assert!(m.metadata_props.iter().any(|p| p.key == NETWORK_KEY));
        let dims = g.output[0].r#type.as_ref().unwrap().tensor_type.as_ref().unwrap().shape.as_ref().unwrap().dim.len();
        (g.node.iter().map(|n| n.op_type.clone()).collect::<Vec<_>>(), dims)
    };
    let (classifier, dims) = ops(0);
    assert_eq!(dims, 2, "sequence-to-one: Y [B, K]");
    assert_eq!(classifier.iter().filter(|o| *o == "GRU").count(), 2);
    assert!(classifier.ends_with(&["Reshape".into(), "Gemm".into(), "Softmax".into()]), "{classifier:?}");
    let (seq2seq, dims) = ops(1);
    assert_eq!(dims, 3, "per step: Y [T, B, K]");
    assert_eq!(&seq2seq[..2], ["Sub", "Div"]);
    assert!(seq2seq.ends_with(&["Transpose".into(), "MatMul".into(), "Add".into()]), "{seq2seq:?}");
    let (bidir_last, _) = ops(2);
    assert!(bidir_last.contains(&"GatherElements".to_string()) && bidir_last.contains(&"Where".to_string()));
    let (split, _) = ops(4);
    assert_eq!(split.iter().filter(|o| *o == "GRU").count(), 3);
    assert_eq!(split.iter().filter(|o| *o == "Expand").count(), 3, "one initial state per layer");
    let k = nets.iter().position(|(name, _)| name.contains("target_normalized")).unwrap();
    let (target, _) = ops(k);
    assert_eq!(&target[..2], ["Sub", "Div"], "the rescaled input");
    assert!(target.ends_with(&["Gemm".into(), "Mul".into(), "Add".into()]), "targets' units: {target:?}");
}

#[test]
fn foreign_models_and_tampered_graphs_are_typed_errors() {
    let path = Path::new("net.onnx");
    // A GRU stack, or any model without our metadata: use an ONNX runtime.
    let stack =
        gru::convert::GruWeights::new(GruSpec::new(3, 4), gru::GruParams::<f32>::zeros(&GruSpec::new(3, 4))).unwrap();
    let foreign = onnx::to_model(&stack, &OnnxOptions::default()).unwrap();
    let err = onnx::network_from_model::<f32>(&foreign, path).unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { reason, .. } if reason.contains(NETWORK_KEY) && reason.contains("ONNX runtime")),
        "{err}"
    );
    assert!(!onnx::is_network(&foreign));

    let nets = networks::<f32>();
    let good = onnx::network_to_model(&nets[0].1, &OnnxOptions::default()).unwrap();
    assert!(onnx::is_network(&good));
    // The other element type.
    let err = onnx::network_from_model::<f64>(&good, path).unwrap_err();
    assert!(matches!(&err, Error::File { reason, .. } if reason.contains("f32 values; a f64 network")), "{err}");
    // A missing initializer or node names what is missing.
    let mut m = good.clone();
    m.graph.as_mut().unwrap().initializer.retain(|t| t.name != "n1_gru_l1_R");
    let err = onnx::network_from_model::<f32>(&m, path).unwrap_err();
    assert!(
        matches!(&err, Error::Onnx { node, reason, .. } if node == "n1_gru_l1 (GRU)" && reason.contains("n1_gru_l1_R")),
        "{err}"
    );
    let mut m = good.clone();
    m.graph.as_mut().unwrap().node.retain(|n| n.name != "n1_gru_l0");
    let err = onnx::network_from_model::<f32>(&m, path).unwrap_err();
    assert!(matches!(&err, Error::Onnx { node, .. } if node == "n1_gru_l0 (GRU)"), "{err}");
    // A truncated weight: the tensor and its byte count.
    let mut m = good.clone();
    m.graph.as_mut().unwrap().initializer.iter_mut().find(|t| t.name == "n2_fc_W").unwrap().raw_data.truncate(4);
    let err = onnx::network_from_model::<f32>(&m, path).unwrap_err();
    assert!(
        matches!(&err, Error::Onnx { reason, .. } if reason.contains("n2_fc_W") && reason.contains("bytes")),
        "{err}"
    );
    // A recurrent bias where the reset-gate mode has none.
    let mut m = good.clone();
    let b = m.graph.as_mut().unwrap().initializer.iter_mut().find(|t| t.name == "n1_gru_l0_B").unwrap();
    let at = b.raw_data.len() - 4;
    b.raw_data[at..].copy_from_slice(&1.0f32.to_le_bytes());
    let err = onnx::network_from_model::<f32>(&m, path).unwrap_err();
    assert!(matches!(&err, Error::Onnx { reason, .. } if reason.contains("nonzero recurrent bias")), "{err}");
    // GRU attributes that do not state the layer's spec.
    let mut m = good.clone();
    let gru_node = m.graph.as_mut().unwrap().node.iter_mut().find(|n| n.name == "n1_gru_l1").unwrap();
    gru_node.attribute.push(gru::convert::onnx::proto::AttributeProto {
        name: "clip".into(),
        r#type: gru::convert::onnx::proto::attr_type::FLOAT,
        f: 2.0,
        ..Default::default()
    });
    let err = onnx::network_from_model::<f32>(&m, path).unwrap_err();
    assert!(
        matches!(&err, Error::Onnx { node, reason, .. } if node == "n1_gru_l1 (GRU)" && reason.contains("clip")
            && reason.contains("does not match")),
        "{err}"
    );
    // Malformed metadata.
    let mut m = good.clone();
    m.metadata_props.iter_mut().find(|p| p.key == NETWORK_KEY).unwrap().value = "{\"kind\": 3".into();
    assert!(matches!(onnx::network_from_model::<f32>(&m, path), Err(Error::File { .. })));
    let mut m = good.clone();
    m.metadata_props.iter_mut().find(|p| p.key == NETWORK_KEY).unwrap().value = "{\"kind\": \"gru-layer\"}".into();
    assert!(matches!(onnx::network_from_model::<f32>(&m, path), Err(Error::File { .. })));
    // Metadata asking for more weights than the graph holds is refused before allocating.
    let mut m = good;
    let meta = m.metadata_props.iter_mut().find(|p| p.key == NETWORK_KEY).unwrap();
    meta.value = meta.value.replacen("\"num_hidden_units\":5", "\"num_hidden_units\":4000000000", 1);
    let err = onnx::network_from_model::<f32>(&m, path).unwrap_err();
    assert!(matches!(&err, Error::File { reason, .. } if reason.contains("need at least")), "{err}");
    // The opset written is named when refused; a file that is not ONNX is a file error.
    assert!(matches!(
        onnx::network_to_model(&nets[0].1, &OnnxOptions { opset: 13 }),
        Err(Error::Property { ref property, .. }) if property == "opset"
    ));
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"\xff\xff\xff not protobuf").unwrap();
    assert!(matches!(onnx::read_network::<f32>(&junk), Err(Error::File { .. })));
}

#[test]
fn normalized_targets_export_as_mul_add_that_the_runtime_runs() {
    // The library's own ONNX runtime (onnxruntime may be absent): Y in the targets' units.
    for (name, mut net) in networks::<f64>().into_iter().filter(|(n, _)| n.contains("target_normalized")) {
        let model = onnx::network_to_model(&net, &OnnxOptions::default()).unwrap();
        let runtime = onnx::OnnxModel::<f64>::from_model(&model, Path::new("t.onnx")).unwrap();
        let (x, steps, lengths) = inputs::<f64>(net.input_size());
        let lens: Vec<i32> = lengths.iter().map(|&l| l as i32).collect();
        let feed = [
            (onnx::INPUT, onnx::Tensor::f64(vec![steps, lengths.len(), net.input_size()], x).unwrap()),
            (onnx::LENGTHS, onnx::Tensor::i32(vec![lengths.len()], lens).unwrap()),
        ];
        let y = runtime.run(&feed).unwrap().remove(0).1.to_f64();
        let ours = predict(&mut net);
        assert!(ours.iter().any(|v| v.abs() > 10.0), "{name}: the outputs are in the targets' units");
        verify::compare(&name, "Y", &ours, &y, 1e-12).unwrap();
    }
}

#[test]
fn exports_run_in_onnxruntime_with_our_outputs() {
    let Some(python) = common::python_with_onnxruntime() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/verify_onnx.py");
    let dir = tempfile::tempdir().unwrap();
    let mut worst = 0.0f64;
    // onnxruntime's GRU is f32 only.
    for (name, mut net) in networks::<f32>() {
        let model = dir.path().join(format!("{name}.onnx"));
        onnx::write_network(&model, &net, &OnnxOptions::default()).unwrap();
        let (x, steps, lengths) = inputs::<f32>(net.input_size());
        let request = serde_json::json!({
            "x": x.iter().map(|v| f64::from(*v)).collect::<Vec<_>>(),
            "x_shape": [steps, lengths.len(), net.input_size()],
            "lengths": lengths,
        });
        let request_path = dir.path().join(format!("{name}.json"));
        std::fs::write(&request_path, request.to_string()).unwrap();
        let out = std::process::Command::new(&python).arg(&script).arg(&model).arg(&request_path).output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
        let shape: Vec<usize> =
            theirs["y_shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        let k = net.output_width();
        let expected = if net.sequence_output() { vec![steps, lengths.len(), k] } else { vec![lengths.len(), k] };
        assert_eq!(shape, expected, "{name}");
        let y: Vec<f64> = theirs["y"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let y = if net.sequence_output() { verify::valid_steps(&y, steps, &lengths, k) } else { y };
        let ours: Vec<f64> = predict(&mut net).iter().map(|v| f64::from(*v)).collect();
        let e = verify::compare(&name, "Y", &ours, &y, 1e-5).unwrap();
        println!("{name}: worst |ours - onnxruntime| / (1 + |onnxruntime|) = {e:.2e}");
        worst = worst.max(e);
    }
    println!("networks in onnxruntime: worst {worst:.2e}");
    // The library's own check (the script compiled in, its own inputs).
    let (name, mut net) = networks::<f32>().swap_remove(2);
    let model = dir.path().join("verify.onnx");
    onnx::write_network(&model, &net, &OnnxOptions::default()).unwrap();
    let report = verify::verify_network(&model, &mut net).unwrap();
    assert!(report.worst <= 1e-5 && report.compared == 3 * 5, "{name}: {report}");
}

#[test]
fn f64_networks_are_refused_by_onnxruntime_with_a_reason() {
    let Some(_) = common::python_with_onnxruntime() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, mut net) = networks::<f64>().swap_remove(0);
    let model = dir.path().join("f64.onnx");
    onnx::write_network(&model, &net, &OnnxOptions::default()).unwrap();
    let err = verify::verify_network(&model, &mut net).unwrap_err();
    assert!(matches!(&err, Error::EngineUnavailable { reason, .. } if reason.contains("float64")), "{err}");
}

/// `linear_before_reset = 0` reads `B = [Wb | Rb]` as the bias `Wb + Rb` (the rule of the
/// stack importer and of the runtime): a network graph given a recurrent bias reads back
/// as the network the runtime evaluates.
#[test]
fn a_recurrent_bias_under_lbr_0_is_added_as_the_runtime_adds_it() {
    let specs = layers![
        sequence_input(2),
        gru(3).reset_gate_mode(ResetGateMode::BeforeMultiplication),
        fully_connected(2),
        regression()
    ];
    let net = awkward(Network::<f32>::new(specs, 3).unwrap(), 1);
    let mut m = onnx::network_to_model(&net, &OnnxOptions::default()).unwrap();
    // B [1, 6H] = [Wb_z Wb_r Wb_h | Rb_z Rb_r Rb_h], H = 3: Rb_r of unit 1 is entry 3H + H + 1 = 13.
    let b = m.graph.as_mut().unwrap().initializer.iter_mut().find(|t| t.name == "n1_gru_l0_B").unwrap();
    let wb_r1 = f32::from_le_bytes(b.raw_data[4 * 4..4 * 5].try_into().unwrap());
    b.raw_data[4 * 13..4 * 14].copy_from_slice(&0.25f32.to_le_bytes());
    let mut back = onnx::network_from_model::<f32>(&m, Path::new("net.onnx")).unwrap();
    // Ours: r, z, n, so b_r of unit 1 is entry 1.
    let g = back.gru_layers().next().unwrap();
    assert_eq!(g.params().unwrap().blocks()[0].input_bias(gru::Gate::Reset)[1], wb_r1 + 0.25);
    let runtime = onnx::OnnxModel::<f32>::from_model(&m, Path::new("net.onnx")).unwrap();
    let (x, steps, lengths) = inputs::<f32>(2);
    let fed = vec![
        ("X", onnx::Tensor::f32(vec![steps, lengths.len(), 2], x).unwrap()),
        ("sequence_lens", onnx::Tensor::i32(vec![lengths.len()], lengths.iter().map(|&l| l as i32).collect()).unwrap()),
    ];
    let theirs = runtime.run(&fed).unwrap()[0].1.to_f64();
    let theirs = verify::valid_steps(&theirs, steps, &lengths, 2);
    let ours: Vec<f64> = predict(&mut back).iter().map(|&v| f64::from(v)).collect();
    verify::compare("lbr 0 recurrent bias", "y", &ours, &theirs, 1e-6).unwrap();
}
