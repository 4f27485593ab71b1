//! ONNX import and export: the fixtures of `tools/gen_onnx_fixtures.py` (models built with
//! `onnx.helper`, outputs from onnxruntime) reproduce onnxruntime within 1e-5, ours -> ONNX
//! -> ours is bit-identical for every option, malformed or unsupported graphs are typed
//! errors naming the node, and (where python3 has onnx and onnxruntime) our exports run in
//! onnxruntime with our outputs.

mod common;

use common::{assert_bit_identical, cases, fixture_dir, floats, usizes, weights};

use std::path::Path;

use gru::convert::onnx::{self, proto, OnnxOptions};
use gru::convert::{verify, GruWeights};
use gru::{Error, GateActivation, GruSpec, OutputMode, Real, ResetGateMode, StateActivation};
use serde_json::Value;

/// Our engine on `case`'s inputs against `case`'s outputs; returns the worst relative error.
fn compare_outputs<T: Real>(name: &str, w: &GruWeights<T>, case: &Value) -> f64 {
    let x_shape = usizes(&case["x_shape"]);
    let x: Vec<T> = floats(&case["x"]).into_iter().map(T::lit).collect();
    let lengths = usizes(&case["lengths"]);
    let ours = verify::run_ours(w, &x, x_shape[0], x_shape[1], Some(&lengths), OutputMode::Sequence).unwrap();
    assert_eq!(ours.y_shape, usizes(&case["y_shape"]), "{name}");
    let widen = |v: &[T]| v.iter().map(|x| x.widen()).collect::<Vec<_>>();
    let tol = 1e-5;
    let y = verify::compare(name, "y", &widen(&ours.y), &floats(&case["y"]), tol).unwrap();
    let h = verify::compare(name, "h_n", &widen(&ours.h_t), &floats(&case["h_n"]), tol).unwrap();
    y.max(h)
}

#[test]
fn fixtures_reproduce_onnxruntime() {
    let cases = cases("onnx_fixtures");
    assert_eq!(cases.len(), 8, "fixtures: {:?}", cases.iter().map(|c| &c.0).collect::<Vec<_>>());
    let mut worst = 0.0f64;
    for (name, case) in &cases {
        let path = fixture_dir("onnx_fixtures").join(case["model"].as_str().unwrap());
        let model = onnx::load(&path).unwrap();
        assert_eq!(onnx::model_dtype(&model, &path).unwrap(), gru::DType::F32, "{name}");
        let w = onnx::from_model::<f32>(&model, &path).unwrap();
        let s = &case["spec"];
        let spec = &w.spec;
        assert_eq!(spec.input_size, s["input_size"].as_u64().unwrap() as usize, "{name}");
        assert_eq!(spec.hidden_size, s["hidden_size"].as_u64().unwrap() as usize, "{name}");
        assert_eq!(spec.depth, s["depth"].as_u64().unwrap() as usize, "{name}");
        assert_eq!(spec.bidirectional, s["bidirectional"].as_bool().unwrap(), "{name}");
        assert_eq!(spec.reset_gate_mode.name(), s["reset_gate_mode"].as_str().unwrap(), "{name}");
        assert_eq!(spec.clip, s["clip"].as_f64().map(|c| f64::from(c as f32)), "{name}");
        let state = if spec.state_activation == StateActivation::Tanh { "tanh" } else { "softsign" };
        assert_eq!(state, s["state_activation"], "{name}");
        match spec.gate_activation {
            GateActivation::Sigmoid => assert_eq!(s["gate_activation"], "sigmoid", "{name}"),
            GateActivation::HardSigmoid { alpha, beta } => {
                assert_eq!(s["gate_activation"], "hard-sigmoid", "{name}");
                let f = |v: &Value| f64::from(v.as_f64().unwrap() as f32);
                assert_eq!((alpha, beta), (f(&s["alpha"]), f(&s["beta"])), "{name}");
            }
        }
        let e = compare_outputs(name, &w, case);
        println!("{name}: worst |ours - onnxruntime| / (1 + |onnxruntime|) = {e:.2e}");
        worst = worst.max(e);
        // theirs -> ours -> ONNX -> ours: the same weights and spec.
        let back = onnx::from_model::<f32>(&onnx::to_model(&w, &OnnxOptions::default()).unwrap(), &path).unwrap();
        assert_bit_identical(&w, &back, name);
    }
    println!("all fixtures: worst {worst:.2e}");
}

/// Every option ONNX can express, on stacks of several shapes.
fn specs() -> Vec<GruSpec> {
    let mut v = Vec::new();
    // (depth, bidirectional, reverse)
    let stacks =
        [(1, false, false), (1, true, false), (2, false, false), (3, true, false), (1, false, true), (2, false, true)];
    for (k, (depth, bidir, reverse)) in stacks.into_iter().enumerate() {
        for mode in ResetGateMode::ALL {
            let base = GruSpec::new(3, 4)
                .with_depth(depth)
                .with_bidirectional(bidir)
                .with_reverse(reverse)
                .with_reset_gate_mode(mode);
            v.push(base.clone());
            let exotic = base
                .with_gate_activation(GateActivation::HardSigmoid { alpha: 0.2 + 0.01 * k as f64, beta: 0.45 })
                .with_state_activation(StateActivation::Softsign)
                .with_clip(Some(1.3))
                .with_output_mode(if k % 2 == 0 { OutputMode::Last } else { OutputMode::Sequence });
            v.push(exotic);
        }
    }
    v
}

fn round_trip<T: Real>(w: &GruWeights<T>) -> GruWeights<T> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    onnx::write(&path, w, &OnnxOptions::default()).unwrap();
    onnx::read::<T>(&path).unwrap()
}

#[test]
fn round_trips_are_bit_identical() {
    for (k, spec) in specs().into_iter().enumerate() {
        let w32 = weights::<f32>(spec.clone(), k as u64);
        assert_bit_identical(&w32, &round_trip(&w32), &format!("{spec:?} f32"));
        let w64 = weights::<f64>(spec.clone(), k as u64);
        assert_bit_identical(&w64, &round_trip(&w64), &format!("{spec:?} f64"));
    }
}

#[test]
fn without_our_metadata_the_graph_alone_reads_as_its_equivalent() {
    // After-multiplication is lbr = 1 with a zero recurrent bias; f64 options come back as f32.
    let spec = GruSpec::new(3, 4).with_clip(Some(0.1)).with_gate_activation(GateActivation::HARD_SIGMOID);
    let w = weights::<f32>(spec, 3);
    let mut model = onnx::to_model(&w, &OnnxOptions::default()).unwrap();
    model.metadata_props.clear();
    let back = onnx::from_model::<f32>(&model, Path::new("m.onnx")).unwrap();
    assert_eq!(back.spec.reset_gate_mode, ResetGateMode::RecurrentBiasAfterMultiplication);
    assert_eq!(back.spec.clip, Some(f64::from(0.1f32)));
    assert_eq!(back.params.blocks()[0].bias()[..12], w.params.blocks()[0].bias()[..]);
    assert!(back.params.blocks()[0].bias()[12..].iter().all(|&v| v == 0.0));
}

fn gru_node(model: &mut proto::ModelProto, index: usize) -> &mut proto::NodeProto {
    model.graph.as_mut().unwrap().node.iter_mut().filter(|n| n.op_type == "GRU").nth(index).unwrap()
}

fn set_attr(node: &mut proto::NodeProto, attr: proto::AttributeProto) {
    node.attribute.retain(|a| a.name != attr.name);
    node.attribute.push(attr);
}

fn string_attr(name: &str, v: &str) -> proto::AttributeProto {
    proto::AttributeProto { name: name.into(), r#type: 3, s: v.as_bytes().to_vec(), ..Default::default() }
}

#[test]
fn unsupported_and_malformed_graphs_are_typed_errors_naming_the_node() {
    let w = weights::<f32>(GruSpec::new(3, 4).with_depth(2), 1);
    let good = onnx::to_model(&w, &OnnxOptions::default()).unwrap();
    let path = Path::new("bad.onnx");
    let read = |m: &proto::ModelProto| onnx::from_model::<f32>(m, path).unwrap_err();
    let onnx_err = |e: Error, node: &str, needle: &str| match e {
        Error::Onnx { node: n, reason, .. } => {
            assert_eq!(n, node, "{reason}");
            assert!(reason.contains(needle), "{reason}");
        }
        other => panic!("expected Onnx error at {node}, got {other:?}"),
    };

    // A reverse layer under a forward one: a stack has one direction.
    let mut m = good.clone();
    set_attr(gru_node(&mut m, 0), string_attr("direction", "reverse"));
    assert!(
        matches!(read(&m), Error::NotRepresentable { ref option, ref value, .. }
        if option == "direction" && value.contains("reverse")),
        "{:?}",
        read(&m)
    );
    // Both layers reverse: a reverse stack, which exports back to the same graph.
    set_attr(gru_node(&mut m, 1), string_attr("direction", "reverse"));
    let rev = onnx::from_model::<f32>(&m, path).unwrap();
    assert!(rev.spec.reverse && !rev.spec.bidirectional && rev.spec.depth == 2);
    let again = onnx::to_model(&rev, &OnnxOptions::default()).unwrap();
    assert_bit_identical(&rev, &onnx::from_model::<f32>(&again, path).unwrap(), "reverse round trip");

    let mut m = good.clone();
    let relu = proto::AttributeProto {
        name: "activations".into(),
        r#type: 8,
        strings: vec![b"Relu".to_vec(), b"Tanh".to_vec()],
        ..Default::default()
    };
    set_attr(gru_node(&mut m, 1), relu);
    onnx_err(read(&m), "gru_l1 (GRU)", "Relu");

    // Layout 1 is an input format: one layer reads as the same stack; the layers of a
    // stack share it, and reach each other without a Transpose; layout 2 does not exist.
    let layout = |i| proto::AttributeProto { name: "layout".into(), r#type: 2, i, ..Default::default() };
    let one = weights::<f32>(GruSpec::new(3, 4).with_bidirectional(true), 2);
    let mut m = onnx::to_model(&one, &OnnxOptions::default()).unwrap();
    set_attr(gru_node(&mut m, 0), layout(1));
    assert_bit_identical(&one, &onnx::from_model::<f32>(&m, path).unwrap(), "layout 1");
    let mut m = good.clone();
    set_attr(gru_node(&mut m, 0), layout(1));
    assert!(matches!(read(&m), Error::NotRepresentable { ref option, .. } if option == "layout"));
    set_attr(gru_node(&mut m, 1), layout(1));
    onnx_err(read(&m), "gru_l0_transpose (Transpose)", "layout 1");
    set_attr(gru_node(&mut m, 0), layout(2));
    onnx_err(read(&m), "gru_l0 (GRU)", "layout 2 is not 0 or 1");

    let mut m = good.clone();
    set_attr(
        gru_node(&mut m, 0),
        proto::AttributeProto { name: "speed".into(), r#type: 2, i: 1, ..Default::default() },
    );
    onnx_err(read(&m), "gru_l0 (GRU)", "speed");

    let mut m = good.clone();
    gru_node(&mut m, 0).input[1] = "nowhere".into();
    onnx_err(read(&m), "gru_l0 (GRU)", "nowhere");

    let mut m = good.clone();
    let t = m.graph.as_mut().unwrap().initializer.iter_mut().find(|t| t.name == "gru_l1_R").unwrap();
    t.raw_data.truncate(8);
    onnx_err(read(&m), "gru_l1 (GRU)", "bytes");

    let mut m = good.clone();
    let tr = m.graph.as_mut().unwrap().node.iter_mut().find(|n| n.op_type == "Transpose").unwrap();
    tr.attribute[0].ints = vec![0, 1, 2, 3];
    onnx_err(read(&m), "gru_l0_transpose (Transpose)", "perm");

    let mut m = good.clone();
    let nodes = &mut m.graph.as_mut().unwrap().node;
    let k = nodes.iter().position(|n| n.op_type == "Reshape").unwrap();
    nodes[k].op_type = "Relu".into();
    onnx_err(read(&m), "gru_l0_reshape (Relu)", "Relu between GRU layers");

    // initial_h: a nonzero constant is refused, a zero one or a graph input is fine.
    let mut m = good.clone();
    let h0 = |v: f32| proto::TensorProto {
        name: "h0".into(),
        dims: vec![1, 1, 4],
        data_type: 1,
        float_data: vec![v; 4],
        ..Default::default()
    };
    m.graph.as_mut().unwrap().initializer.push(h0(0.5));
    gru_node(&mut m, 0).input.push("h0".into());
    assert!(matches!(read(&m), Error::NotRepresentable { ref option, .. } if option == "initial_h"));
    m.graph.as_mut().unwrap().initializer.retain(|t| t.name != "h0");
    onnx::from_model::<f32>(&m, path).unwrap(); // now a graph input
    m.graph.as_mut().unwrap().initializer.push(h0(0.0));
    onnx::from_model::<f32>(&m, path).unwrap();

    let mut m = good.clone();
    m.graph.as_mut().unwrap().node.retain(|n| n.op_type != "GRU");
    assert!(matches!(read(&m), Error::File { ref reason, .. } if reason.contains("no GRU node")));

    assert!(matches!(onnx::decode(b"\xff\xff\xff not protobuf", path), Err(Error::File { .. })));
    let w64 = weights::<f64>(GruSpec::new(3, 4), 1);
    let m64 = onnx::to_model(&w64, &OnnxOptions::default()).unwrap();
    onnx_err(onnx::from_model::<f32>(&m64, path).unwrap_err(), "gru_l0 (GRU)", "f64");
    assert!(matches!(
        onnx::to_model(&w, &OnnxOptions { opset: 13 }),
        Err(Error::Property { ref property, .. }) if property == "opset"
    ));
}

#[test]
fn exports_run_in_onnxruntime_with_our_outputs() {
    let Some(python) = common::python_with_onnxruntime() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/verify_onnx.py");
    let dir = tempfile::tempdir().unwrap();
    let mut worst = 0.0f64;
    for (k, spec) in specs().into_iter().enumerate() {
        // onnxruntime's GRU is f32 only.
        let w = weights::<f32>(spec.clone().with_output_mode(OutputMode::Sequence), k as u64);
        let model = dir.path().join(format!("m{k}.onnx"));
        onnx::write(&model, &w, &OnnxOptions::default()).unwrap();
        let (steps, batch) = (5, 3);
        let x: Vec<f64> =
            verify::sample_inputs::<f32>(3, k as u64)[..steps * batch * 3].iter().map(|v| f64::from(*v)).collect();
        let lengths = [5usize, 2, 4];
        let inputs = serde_json::json!({"x": x, "x_shape": [steps, batch, 3], "lengths": lengths});
        let inputs_path = dir.path().join(format!("in{k}.json"));
        std::fs::write(&inputs_path, inputs.to_string()).unwrap();
        let out = std::process::Command::new(&python).arg(&script).arg(&model).arg(&inputs_path).output().unwrap();
        assert!(out.status.success(), "{spec:?}: {}", String::from_utf8_lossy(&out.stderr));
        let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut case = inputs;
        for key in ["y", "y_shape", "h_n"] {
            case[key] = theirs[key].clone();
        }
        let e = compare_outputs(&format!("{spec:?}"), &w, &case);
        worst = worst.max(e);
    }
    println!("exports in onnxruntime: worst |ours - onnxruntime| / (1 + |onnxruntime|) = {worst:.2e}");
}
