//! The ONNX graph runtime: the whole models of `tools/gen_onnx_graph_fixtures.py`
//! (`torch.onnx.export` classifiers/regressors and `onnx.helper` graphs) reproduce
//! onnxruntime within 1e-5 on two input shapes each, the GRU op runs through our engine,
//! the stack importer reads the GRU graphs a `GruSpec` holds (layout 1 included) to the
//! same outputs, and malformed or unsupported graphs and wrong inputs are typed errors
//! naming the node or the input.

mod common;

use common::{cases, fixture_dir, floats, usizes};

use std::path::{Path, PathBuf};

use gru::convert::onnx::proto::{
    attr_type, AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto, FLOAT, INT64,
};
use gru::convert::onnx::runtime::{model_float_type, SequenceInput};
use gru::convert::onnx::{self, OnnxModel, Tensor, TensorData};
use gru::convert::verify;
use gru::{DType, Error, OutputMode, Real};
use serde_json::Value;

const FOLDER: &str = "onnx_graph_fixtures";

fn model_path(case: &Value) -> PathBuf {
    fixture_dir(FOLDER).join(case["model"].as_str().unwrap())
}

/// A JSON tensor `{dtype, shape, data}` as the runtime's input.
fn tensor(v: &Value) -> Tensor {
    let shape = usizes(&v["shape"]);
    let data = floats(&v["data"]);
    match v["dtype"].as_str().unwrap() {
        "float32" => Tensor::f32(shape, data.iter().map(|&x| x as f32).collect()),
        "float64" => Tensor::f64(shape, data),
        "int32" => Tensor::i32(shape, data.iter().map(|&x| x as i32).collect()),
        "int64" => Tensor::i64(shape, data.iter().map(|&x| x as i64).collect()),
        other => panic!("dtype {other}"),
    }
    .unwrap()
}

/// onnxruntime's `data` for output `out_name` of `run`, with the one value we compute
/// differently by design: the `Y_h` rows of sequences of length 0 are `initial_h`'s, where
/// onnxruntime (1.32) gives 0. An empty sequence is left in its initial state: every engine
/// of ours gives h_T = h0 for it (DESIGN.md "Variable length", so that dh0 = dh_T and a
/// sequence's result never depends on its batch), and the runtime's GRU op runs on that
/// engine (`runtime/gru_op.rs`). Returns the expected values and how many of them differ
/// from onnxruntime's, after checking that onnxruntime's are 0 there.
fn expected_by_our_rule(run: &Value, out_name: &str, data: Vec<f64>) -> (Vec<f64>, usize) {
    let inputs = &run["inputs"];
    let (Some(lens), Some(h0)) = (inputs.get("sequence_lens"), inputs.get("initial_h")) else { return (data, 0) };
    if out_name != "Y_h" {
        return (data, 0);
    }
    let (lens, h0_shape, h0) = (usizes(&lens["data"]), usizes(&h0["shape"]), floats(&h0["data"]));
    // Layout 0: initial_h and Y_h are [dirs, B, H].
    let [dirs, batch, hid] = h0_shape[..] else { panic!("initial_h has shape {h0_shape:?}") };
    let mut out = data;
    let mut replaced = 0;
    for b in (0..batch).filter(|&b| lens[b] == 0) {
        assert_eq!(lens.len(), batch, "a length-0 sequence in a layout-0 run");
        for k in (0..dirs).flat_map(|d| (d * batch + b) * hid..(d * batch + b + 1) * hid) {
            assert_eq!(out[k], 0.0, "onnxruntime's Y_h of an empty sequence");
            out[k] = h0[k];
            replaced += usize::from(h0[k] != 0.0);
        }
    }
    (out, replaced)
}

/// Every run of `case` through `T`; returns the worst `|ours - theirs| / (1 + |theirs|)`
/// and the number of values replaced by [`expected_by_our_rule`].
fn reproduce<T: Real>(name: &str, case: &Value) -> (f64, usize) {
    let model = OnnxModel::<T>::load(model_path(case)).unwrap();
    assert!(model.gru_nodes() >= 1, "{name}");
    let (mut worst, mut replaced) = (0.0f64, 0);
    for (r, run) in case["runs"].as_array().unwrap().iter().enumerate() {
        let owned: Vec<(String, Tensor)> =
            run["inputs"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), tensor(v))).collect();
        let inputs: Vec<(&str, Tensor)> = owned.iter().map(|(k, t)| (k.as_str(), t.clone())).collect();
        let outputs = model.run(&inputs).unwrap();
        let expected = run["outputs"].as_object().unwrap();
        assert_eq!(outputs.len(), expected.len(), "{name} run {r}");
        for (out_name, t) in &outputs {
            let e = &expected[out_name.as_str()];
            assert_eq!(t.shape, usizes(&e["shape"]), "{name} run {r} output {out_name}");
            let what = format!("{name} run {r} {out_name}");
            let (want, n) = expected_by_our_rule(run, out_name, floats(&e["data"]));
            replaced += n;
            worst = worst.max(verify::compare(&what, out_name, &t.to_f64(), &want, 1e-5).unwrap());
        }
    }
    (worst, replaced)
}

#[test]
fn fixtures_reproduce_onnxruntime() {
    let cases = cases(FOLDER);
    let names: Vec<&str> = cases.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(cases.len(), 9, "fixtures: {names:?}");
    let (mut worst, mut replaced) = (0.0f64, Vec::new());
    for (name, case) in &cases {
        assert_eq!(case["runs"].as_array().unwrap().len(), 2, "{name}");
        let proto = onnx::load(&model_path(case)).unwrap();
        let (e, n) = match model_float_type(&proto) {
            DType::F32 => reproduce::<f32>(name, case),
            DType::F64 => reproduce::<f64>(name, case),
        };
        println!("{name} (opset {}): worst |ours - onnxruntime| / (1 + |onnxruntime|) = {e:.2e}", case["opset"]);
        worst = worst.max(e);
        if n > 0 {
            replaced.push((name.as_str(), n));
        }
    }
    // The one deliberate difference is exercised: run 1 of reverse_initial_h (lengths
    // [1, 3, 0, 3], a nonzero initial_h, H = 4) has one empty sequence, whose Y_h is its
    // initial_h here and 0 in onnxruntime; every other value agrees within 1e-5.
    assert_eq!(replaced, vec![("reverse_initial_h", 4)]);
    assert_eq!(model_float_type(&onnx::load(&fixture_dir(FOLDER).join("double_lengths.onnx")).unwrap()), DType::F64);
    println!("all graph fixtures: worst {worst:.2e}");
}

#[test]
fn the_sequence_input_is_found_through_transposes() {
    let seq = |file: &str| OnnxModel::<f32>::load(fixture_dir(FOLDER).join(file)).unwrap().sequence_input().unwrap();
    let x = |batch_first, lengths: Option<&str>, c| SequenceInput {
        x: "X".into(),
        batch_first,
        lengths: lengths.map(String::from),
        channels: Some(c),
    };
    assert_eq!(seq("torch_classifier.onnx"), x(false, None, 3));
    assert_eq!(seq("torch_regressor_bidir.onnx"), x(true, None, 3));
    assert_eq!(seq("torch_logsoftmax_batch_first.onnx"), x(true, None, 2));
    assert_eq!(seq("layout1_bidir.onnx"), x(true, Some("sequence_lens"), 2));
    assert_eq!(seq("reverse_initial_h.onnx"), x(false, Some("sequence_lens"), 3));
    let m = OnnxModel::<f32>::load(fixture_dir(FOLDER).join("torch_classifier.onnx")).unwrap();
    fn shareable<M: Send + Sync>(_: &M) {}
    shareable(&m); // one loaded model can serve several threads
    assert_eq!(m.output_names(), vec!["out"]);
    assert_eq!(m.output_op("out"), Some("Softmax"));
}

/// The GRU op is our engine: the stack fixtures of `onnx_fixtures` (graphs of GRU nodes
/// only) give what the stack import run through `verify::run_ours` gives, bit for bit for
/// forward stacks; and a changed weight changes the outputs.
#[test]
fn the_gru_op_runs_through_our_engine() {
    for (name, case) in cases("onnx_fixtures") {
        let path = fixture_dir("onnx_fixtures").join(case["model"].as_str().unwrap());
        let proto = onnx::load(&path).unwrap();
        let stack = onnx::from_model::<f32>(&proto, &path).unwrap();
        let x_shape = usizes(&case["x_shape"]);
        let x: Vec<f32> = floats(&case["x"]).iter().map(|&v| v as f32).collect();
        let lengths = usizes(&case["lengths"]);
        let ours = verify::run_ours(&stack, &x, x_shape[0], x_shape[1], Some(&lengths), OutputMode::Sequence).unwrap();
        let model = OnnxModel::<f32>::from_model(&proto, &path).unwrap();
        let mut inputs = vec![("X", Tensor::f32(x_shape.clone(), x.clone()).unwrap())];
        if model.inputs().iter().any(|i| i.name == "sequence_lens") {
            let l = lengths.iter().map(|&v| v as i32).collect();
            inputs.push(("sequence_lens", Tensor::i32(vec![lengths.len()], l).unwrap()));
        }
        let out = model.run(&inputs).unwrap();
        let get = |n: &str| out.iter().find(|(k, _)| k == n).unwrap().1.to_f64();
        let (y, h) = (get("Y"), get("Y_h"));
        let widen = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<_>>();
        if stack.spec.bidirectional {
            verify::compare(&name, "y", &y, &widen(&ours.y), 1e-6).unwrap();
            verify::compare(&name, "h", &h, &widen(&ours.h_t), 1e-6).unwrap();
        } else {
            assert_eq!(y, widen(&ours.y), "{name}: Y is not our engine's, bit for bit");
            assert_eq!(h, widen(&ours.h_t), "{name}: Y_h is not our engine's, bit for bit");
        }
        // A changed recurrent weight changes the outputs.
        let mut changed = proto.clone();
        let g = changed.graph.as_mut().unwrap();
        let r_name = g.node.iter().find(|n| n.op_type == "GRU").unwrap().input[2].clone();
        let r = g.initializer.iter_mut().find(|t| t.name == r_name).unwrap();
        if r.raw_data.is_empty() {
            r.float_data[0] += 0.5;
        } else {
            let v = f32::from_le_bytes([r.raw_data[0], r.raw_data[1], r.raw_data[2], r.raw_data[3]]) + 0.5;
            r.raw_data[..4].copy_from_slice(&v.to_le_bytes());
        }
        let other = OnnxModel::<f32>::from_model(&changed, &path).unwrap().run(&inputs).unwrap();
        assert_ne!(other[0].1, out[0].1, "{name}: the outputs do not depend on R");
    }
}

/// The stack importer reads the runtime's fixtures whose GRU a `GruSpec` holds, through the
/// same mapping: layout 1 (an input format) gives onnxruntime's outputs; directions with
/// different activations (which the runtime runs) are not representable.
#[test]
fn the_importer_reads_what_the_runtime_runs_where_a_spec_holds_it() {
    use gru::Engine as _;
    let path = fixture_dir(FOLDER).join("layout1_bidir.onnx");
    let stack = onnx::from_model::<f32>(&onnx::load(&path).unwrap(), &path).unwrap();
    assert!(stack.spec.bidirectional);
    assert_eq!(stack.spec.reset_gate_mode, gru::ResetGateMode::BeforeMultiplication);
    let (h, dirs) = (stack.spec.hidden_size, 2);
    let case = &cases(FOLDER).into_iter().find(|(n, _)| n == "layout1_bidir").unwrap().1;
    for run in case["runs"].as_array().unwrap() {
        let input = |k: &str| (usizes(&run["inputs"][k]["shape"]), floats(&run["inputs"][k]["data"]));
        let ((xs, x), (_, lens), (_, h0)) = (input("X"), input("sequence_lens"), input("initial_h"));
        let (batch, steps, i) = (xs[0], xs[1], xs[2]);
        // X [B, T, I] -> ours [T, B, I]; initial_h [B, dirs, H] -> ours [dirs, B, H].
        let x: Vec<f32> =
            (0..steps * batch * i).map(|k| x[((k / i % batch) * steps + k / i / batch) * i + k % i] as f32).collect();
        let h0: Vec<f32> =
            (0..dirs * batch * h).map(|k| h0[((k / h % batch) * dirs + k / h / batch) * h + k % h] as f32).collect();
        let lengths: Vec<usize> = lens.iter().map(|&l| l as usize).collect();
        let mut engine = gru::NativeEngine::new().prepare(&stack.spec, &stack.params, &gru::Plan::inference()).unwrap();
        let input = gru::SequenceBatch::new(&x, steps, batch).with_lengths(&lengths).with_initial_state(&h0);
        let out = engine.forward(&input).unwrap();
        // Theirs: Y [B, T, dirs, H] -> [T, B, dirs·H]; Y_h [B, dirs, H] -> [dirs, B, H].
        let y = floats(&run["outputs"]["Y"]["data"]);
        let yh = floats(&run["outputs"]["Y_h"]["data"]);
        let w = dirs * h;
        let y: Vec<f64> =
            (0..steps * batch * w).map(|k| y[((k / w % batch) * steps + k / w / batch) * w + k % w]).collect();
        let yh: Vec<f64> =
            (0..dirs * batch * h).map(|k| yh[((k / h % batch) * dirs + k / h / batch) * h + k % h]).collect();
        let widen = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<_>>();
        verify::compare("layout1_bidir", "Y", &widen(&out.y), &y, 1e-5).unwrap();
        verify::compare("layout1_bidir", "Y_h", &widen(&out.h_t), &yh, 1e-5).unwrap();
    }
    // Directions with different activations: the runtime runs them, a spec cannot hold them.
    let path = fixture_dir(FOLDER).join("activation_combos.onnx");
    let proto = onnx::load(&path).unwrap();
    OnnxModel::<f32>::from_model(&proto, &path).unwrap();
    let err = onnx::from_model::<f32>(&proto, &path).unwrap_err();
    assert!(matches!(&err, Error::NotRepresentable { option: o, .. } if o == "activations"), "{err}");
}

/// A reverse-only GRU node (with initial_h a graph input) imports as a `reverse` stack whose
/// native engine gives onnxruntime's Y and Y_h (layout 0: X [T, B, I], Y [T, 1, B, H], which
/// is ours [T, B, H]; Y_h [1, B, H], ours h_T), on the fixture's runs whose lengths are all
/// at least 1.
#[test]
fn a_reverse_node_imports_as_a_reverse_stack_with_onnxruntimes_outputs() {
    use gru::Engine as _;
    let path = fixture_dir(FOLDER).join("reverse_initial_h.onnx");
    let stack = onnx::from_model::<f32>(&onnx::load(&path).unwrap(), &path).unwrap();
    assert!(stack.spec.reverse && !stack.spec.bidirectional, "{:?}", stack.spec);
    let case = &cases(FOLDER).into_iter().find(|(n, _)| n == "reverse_initial_h").unwrap().1;
    let mut compared = 0;
    for run in case["runs"].as_array().unwrap() {
        let input = |k: &str| (usizes(&run["inputs"][k]["shape"]), floats(&run["inputs"][k]["data"]));
        let ((xs, x), (_, lens), (_, h0)) = (input("X"), input("sequence_lens"), input("initial_h"));
        let lengths: Vec<usize> = lens.iter().map(|&l| l as usize).collect();
        if lengths.contains(&0) {
            continue;
        }
        let narrow = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<_>>();
        let (x, h0) = (narrow(&x), narrow(&h0));
        let mut engine = gru::NativeEngine::new().prepare(&stack.spec, &stack.params, &gru::Plan::inference()).unwrap();
        let input = gru::SequenceBatch::new(&x, xs[0], xs[1]).with_lengths(&lengths).with_initial_state(&h0);
        let out = engine.forward(&input).unwrap();
        let widen = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<_>>();
        verify::compare("reverse_initial_h", "Y", &widen(&out.y), &floats(&run["outputs"]["Y"]["data"]), 1e-5).unwrap();
        let yh = floats(&run["outputs"]["Y_h"]["data"]);
        verify::compare("reverse_initial_h", "Y_h", &widen(&out.h_t), &yh, 1e-5).unwrap();
        compared += 1;
    }
    assert!(compared >= 1, "no run of the fixture was compared");
}

// ---------------------------------------------------------------------------------------
// Errors

fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::INT, i, ..Default::default() }
}
fn attr_strings(name: &str, v: &[&str]) -> AttributeProto {
    let strings = v.iter().map(|s| s.as_bytes().to_vec()).collect();
    AttributeProto { name: name.into(), r#type: attr_type::STRINGS, strings, ..Default::default() }
}

fn node(name: &str, op: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: name.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

fn value_info(name: &str, elem: i32, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| match d {
            Some(v) => Dimension { dim_value: Some(*v), dim_param: None },
            None => Dimension { dim_value: None, dim_param: Some("N".into()) },
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto { elem_type: elem, shape: Some(TensorShapeProto { dim }) }),
        }),
    }
}

fn floats_tensor(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: FLOAT,
        float_data: v.to_vec(),
        ..Default::default()
    }
}
fn ints_tensor(name: &str, v: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![v.len() as i64],
        data_type: INT64,
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

/// A model of `nodes` reading X [N, 3] (f32) and giving `output`.
fn model(nodes: Vec<NodeProto>, initializer: Vec<TensorProto>, output: &str) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 17 }],
        graph: Some(GraphProto {
            node: nodes,
            name: "g".into(),
            initializer,
            input: vec![value_info("X", FLOAT, &[None, Some(3)])],
            output: vec![value_info(output, FLOAT, &[])],
        }),
        ..Default::default()
    }
}

fn load_err(m: &ModelProto) -> Error {
    match OnnxModel::<f32>::from_model(m, Path::new("m.onnx")) {
        Ok(_) => panic!("the model loaded"),
        Err(e) => e,
    }
}

/// `(node, reason)` of an [`Error::Onnx`].
fn onnx_err(e: Error) -> (String, String) {
    match e {
        Error::Onnx { node, reason, .. } => (node, reason),
        other => panic!("not an ONNX node error: {other:?}"),
    }
}

fn x(rows: usize) -> Tensor {
    Tensor::f32(vec![rows, 3], (0..rows * 3).map(|v| v as f32 * 0.1).collect()).unwrap()
}

#[test]
fn an_unknown_op_is_refused_naming_the_node_and_op() {
    let m = model(vec![node("mystery", "FooBar", &["X"], &["Y"], vec![])], vec![], "Y");
    let (n, reason) = onnx_err(load_err(&m));
    assert_eq!(n, "mystery (FooBar)");
    assert!(reason.contains("op FooBar is not supported") && reason.contains("Gemm"), "{reason}");
    let mut m = model(vec![node("custom", "Relu", &["X"], &["Y"], vec![])], vec![], "Y");
    m.graph.as_mut().unwrap().node[0].domain = "com.example".into();
    assert!(onnx_err(load_err(&m)).1.contains("com.example"));
}

#[test]
fn unsupported_attribute_values_are_refused() {
    // GRU activations Relu.
    let path = fixture_dir(FOLDER).join("reverse_initial_h.onnx");
    let mut m = onnx::load(&path).unwrap();
    let gru = m.graph.as_mut().unwrap().node.iter_mut().find(|n| n.op_type == "GRU").unwrap();
    gru.attribute.push(attr_strings("activations", &["Relu", "Tanh"]));
    let (n, reason) = onnx_err(OnnxModel::<f32>::from_model(&m, &path).err().unwrap());
    assert_eq!(n, "gru (GRU)");
    assert!(reason.contains("gate activation Relu is not supported"), "{reason}");
    // GRU layout 2, direction sideways.
    for (a, want) in [
        (attr_int("layout", 2), "layout 2"),
        (
            AttributeProto {
                name: "direction".into(),
                r#type: attr_type::STRING,
                s: b"sideways".to_vec(),
                ..Default::default()
            },
            "sideways",
        ),
        (attr_int("linear_before_reset", 3), "linear_before_reset = 3"),
    ] {
        let mut m = onnx::load(&path).unwrap();
        let gru = m.graph.as_mut().unwrap().node.iter_mut().find(|n| n.op_type == "GRU").unwrap();
        gru.attribute.retain(|b| b.name != a.name);
        gru.attribute.push(a);
        let (_, reason) = onnx_err(OnnxModel::<f32>::from_model(&m, &path).err().unwrap());
        assert!(reason.contains(want), "{reason}");
    }
    // Gemm transB = 2 and an attribute Gemm does not have.
    let gemm = |attribute| {
        let n = node("head", "Gemm", &["X", "W"], &["Y"], attribute);
        model(vec![n], vec![floats_tensor("W", &[3, 2], &[0.5; 6])], "Y")
    };
    let (n, reason) = onnx_err(load_err(&gemm(vec![attr_int("transB", 2)])));
    assert_eq!(n, "head (Gemm)");
    assert!(reason.contains("transB = 2 is not 0 or 1"), "{reason}");
    let (_, reason) = onnx_err(load_err(&gemm(vec![attr_int("broadcast", 1)])));
    assert!(reason.contains("attribute broadcast is not supported"), "{reason}");
    let cast = node("cast", "Cast", &["X"], &["Y"], vec![attr_int("to", 9)]);
    assert!(onnx_err(load_err(&model(vec![cast], vec![], "Y"))).1.contains("Cast to data type 9"));
    // Opsets outside 13..=21.
    let mut m = model(vec![node("id", "Identity", &["X"], &["Y"], vec![])], vec![], "Y");
    m.opset_import[0].version = 11;
    assert!(matches!(load_err(&m), Error::File { reason, .. } if reason.contains("opset 11")));
}

#[test]
fn wrong_missing_or_unknown_inputs_are_data_errors() {
    let m = model(vec![node("id", "Identity", &["X"], &["Y"], vec![])], vec![], "Y");
    let m = OnnxModel::<f32>::from_model(&m, Path::new("m.onnx")).unwrap();
    assert_eq!(m.run(&[("X", x(2))]).unwrap()[0].1, x(2));
    let field = |e: Error| match e {
        Error::Data { field, value, reason } => format!("{field}: {value}: {reason}"),
        other => panic!("not a data error: {other:?}"),
    };
    let e = field(m.run(&[]).unwrap_err());
    assert!(e.contains("ONNX input X: missing"), "{e}");
    let e = field(m.run(&[("X", Tensor::f32(vec![6], vec![0.0; 6]).unwrap())]).unwrap_err());
    assert!(e.contains("shape [6]") && e.contains("declares [?, 3] (rank 2)"), "{e}");
    let e = field(m.run(&[("X", Tensor::f32(vec![2, 4], vec![0.0; 8]).unwrap())]).unwrap_err());
    assert!(e.contains("[2, 4]"), "{e}");
    let e = field(m.run(&[("X", Tensor::i64(vec![1, 3], vec![1; 3]).unwrap())]).unwrap_err());
    assert!(e.contains("int64") && e.contains("float"), "{e}");
    let e = field(m.run(&[("X", x(1)), ("Z", x(1))]).unwrap_err());
    assert!(e.contains("Z") && e.contains("no such input"), "{e}");
    let bad = Tensor { shape: vec![2, 3], data: TensorData::F32(vec![0.0; 5]) };
    assert!(field(m.run(&[("X", bad)]).unwrap_err()).contains("5 values"));
}

#[test]
fn corrupt_or_truncated_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture_dir(FOLDER).join("torch_classifier.onnx")).unwrap();
    for (k, cut) in [bytes.len() / 2, bytes.len() - 7, 100].into_iter().enumerate() {
        let p = dir.path().join(format!("cut{k}.onnx"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        match OnnxModel::<f32>::load(&p) {
            Err(Error::File { .. } | Error::Onnx { .. }) => {}
            other => panic!("a file cut at {cut} of {} bytes: {:?}", bytes.len(), other.map(|_| ())),
        }
    }
    let p = dir.path().join("garbage.onnx");
    std::fs::write(&p, b"\xff\xff\xff\xff not a protobuf").unwrap();
    assert!(
        matches!(OnnxModel::<f32>::load(&p), Err(Error::File { reason, .. }) if reason.contains("not an ONNX model"))
    );
    assert!(matches!(OnnxModel::<f32>::load(dir.path().join("absent.onnx")), Err(Error::File { .. })));
    // A model whose graph is gone.
    let m = ModelProto { graph: None, ..onnx::load(&fixture_dir(FOLDER).join("op_zoo.onnx")).unwrap() };
    assert!(matches!(load_err(&m), Error::File { reason, .. } if reason.contains("no graph")));
    // A weight whose bytes do not fill its shape.
    let mut m = onnx::decode(&bytes, Path::new("t.onnx")).unwrap();
    let w = &mut m.graph.as_mut().unwrap().initializer[0];
    w.dims[0] += 1;
    let e = OnnxModel::<f32>::from_model(&m, Path::new("t.onnx")).err().unwrap();
    assert!(matches!(&e, Error::Onnx { node, .. } if node.starts_with("initializer")), "{e:?}");
}

#[test]
fn a_node_reading_an_undefined_tensor_is_refused() {
    let m = model(
        vec![
            node("late", "Add", &["X", "later"], &["Y"], vec![]),
            node("early", "Identity", &["X"], &["later"], vec![]),
        ],
        vec![],
        "Y",
    );
    let (n, reason) = onnx_err(load_err(&m));
    assert_eq!(n, "late (Add)");
    assert!(reason.contains("input later is not defined before this node"), "{reason}");
    let m = model(vec![node("id", "Identity", &["X"], &["X"], vec![])], vec![], "X");
    assert!(onnx_err(load_err(&m)).1.contains("tensor X is defined twice"));
    let m = model(vec![node("id", "Identity", &["X"], &["Y"], vec![])], vec![], "Z");
    assert!(matches!(load_err(&m), Error::File { reason, .. } if reason.contains("graph output Z")));
    // GRU weights that are not constants.
    let gru = node("g", "GRU", &["X", "X", "X"], &["Y"], vec![attr_int("hidden_size", 1)]);
    let (_, reason) = onnx_err(load_err(&model(vec![gru], vec![], "Y")));
    assert!(reason.contains("input W (X) is not a constant"), "{reason}");
}

#[test]
fn an_impossible_reshape_is_refused() {
    // At run time: X [N, 3] to [4, -1].
    let m =
        model(vec![node("rs", "Reshape", &["X", "shape"], &["Y"], vec![])], vec![ints_tensor("shape", &[4, -1])], "Y");
    let m = OnnxModel::<f32>::from_model(&m, Path::new("m.onnx")).unwrap();
    assert_eq!(m.run(&[("X", x(4))]).unwrap()[0].1.shape, vec![4, 3]);
    let (n, reason) = onnx_err(m.run(&[("X", x(2))]).unwrap_err());
    assert_eq!(n, "rs (Reshape)");
    assert!(reason.contains("cannot reshape [2, 3]"), "{reason}");
    // At load (a constant is folded): [2, 3] to [5, -1] and two -1.
    for shape in [&[5, -1][..], &[-1, -1]] {
        let m = model(
            vec![node("rs", "Reshape", &["C", "shape"], &["Y"], vec![])],
            vec![floats_tensor("C", &[2, 3], &[1.0; 6]), ints_tensor("shape", shape)],
            "Y",
        );
        assert_eq!(onnx_err(load_err(&m)).0, "rs (Reshape)");
    }
    // A gathered index out of range, at run time.
    let m = model(
        vec![node("pick", "Gather", &["X", "i"], &["Y"], vec![attr_int("axis", 0)])],
        vec![ints_tensor("i", &[-3])],
        "Y",
    );
    let m = OnnxModel::<f32>::from_model(&m, Path::new("m.onnx")).unwrap();
    assert_eq!(m.run(&[("X", x(3))]).unwrap()[0].1.shape, vec![1, 3]);
    let (n, reason) = onnx_err(m.run(&[("X", x(2))]).unwrap_err());
    assert_eq!((n.as_str(), reason.contains("index -3 is out of range")), ("pick (Gather)", true), "{reason}");
    // A huge ConstantOfShape is an error, not an allocation.
    let m = model(
        vec![node("big", "ConstantOfShape", &["s"], &["Y"], vec![])],
        vec![ints_tensor("s", &[1 << 20, 1 << 20, 1 << 20])],
        "Y",
    );
    assert!(onnx_err(load_err(&m)).1.contains("more than"));
}
