//! Writing one GRU stack as an ONNX graph (opset 14+):
//!
//! ```text
//! X [T, B, I], sequence_lens [B] int32
//!   -> GRU gru_l0 (W, R, B, sequence_lens) -> Y [T, dirs, B, H], Y_h [dirs, B, H]
//!   -> Transpose perm [0, 2, 1, 3] -> Reshape [0, 0, -1] -> [T, B, dirs·H]
//!   -> GRU gru_l1 ... -> Y [T, B, dirs·H]
//! Y_h = Concat(axis 0) of every layer's Y_h -> [D·dirs, B, H] (block order layer·dirs + dir)
//! ```
//! Reset modes: recurrent-bias-after as `linear_before_reset = 1` with `B = [Wb | Rb]`;
//! after-multiplication as `linear_before_reset = 1` with `Rb = 0`; before-multiplication
//! as `linear_before_reset = 0` with `Rb = 0`. Activations `[f, g]` per direction
//! (HardSigmoid with its alpha and beta), clip as `clip`. ONNX keeps clip, alpha and beta
//! as f32 and has no output mode: the spec itself is stored in the model's
//! `metadata_props` (`gru.spec`, JSON) so that our reader restores it exactly.

use gru_core::{Gate, GateActivation, Real, ResetGateMode, StateActivation};

use super::proto::{
    Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorShapeProto,
    TensorTypeProto, TypeProto, ValueInfoProto, INT32,
};
use super::tensor::{
    attr_float, attr_floats, attr_int, attr_ints, attr_string, attr_strings, elem_type, float_tensor, int64_tensor,
};
use super::{gate_block, OnnxOptions, SPEC_KEY};
use crate::convert::{gates_from_canonical, GruWeights};
use crate::error::{Error, Result};

/// Names of the graph's inputs and outputs.
pub const INPUT: &str = "X";
pub const LENGTHS: &str = "sequence_lens";
pub const OUTPUT: &str = "Y";
pub const STATE: &str = "Y_h";

fn value_info(name: &str, elem: i32, dims: &[Result<usize, &str>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| match d {
            Ok(v) => Dimension { dim_value: Some(*v as i64), dim_param: None },
            Err(p) => Dimension { dim_value: None, dim_param: Some((*p).to_string()) },
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto { elem_type: elem, shape: Some(TensorShapeProto { dim }) }),
        }),
    }
}

fn node(
    name: &str,
    op: &str,
    inputs: &[&str],
    outputs: &[&str],
    attribute: Vec<super::proto::AttributeProto>,
) -> NodeProto {
    NodeProto {
        name: name.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

/// The ONNX model of `weights` (see the module documentation).
pub(crate) fn to_model<T: Real>(weights: &GruWeights<T>, options: &OnnxOptions) -> Result<ModelProto> {
    let spec = &weights.spec;
    spec.validate()?;
    weights.params.check(spec)?;
    if options.opset < 14 {
        return Err(Error::property("opset", options.opset, "ONNX export needs opset 14 or later"));
    }
    let (h, dirs, depth) = (spec.hidden_size, spec.directions(), spec.depth);
    let elem = elem_type::<T>();
    let mut g = GraphProto { name: "gru".into(), ..Default::default() };
    g.input.push(value_info(INPUT, elem, &[Err("T"), Err("B"), Ok(spec.input_size)]));
    g.input.push(value_info(LENGTHS, INT32, &[Err("B")]));
    g.initializer.push(int64_tensor("seq_shape", &[0, 0, -1]));
    let mut attrs = vec![
        attr_int("hidden_size", h as i64),
        attr_string("direction", if dirs == 2 { "bidirectional" } else { "forward" }),
        attr_int("linear_before_reset", i64::from(spec.reset_gate_mode != ResetGateMode::BeforeMultiplication)),
    ];
    let f = match spec.gate_activation {
        GateActivation::Sigmoid => "Sigmoid",
        GateActivation::HardSigmoid { .. } => "HardSigmoid",
    };
    let act_g = match spec.state_activation {
        StateActivation::Tanh => "Tanh",
        StateActivation::Softsign => "Softsign",
    };
    attrs.push(attr_strings("activations", &[f, act_g, f, act_g][..2 * dirs]));
    if let GateActivation::HardSigmoid { alpha, beta } = spec.gate_activation {
        attrs.push(attr_floats("activation_alpha", vec![alpha as f32; dirs]));
        attrs.push(attr_floats("activation_beta", vec![beta as f32; dirs]));
    }
    if let Some(c) = spec.clip {
        attrs.push(attr_float("clip", c as f32));
    }
    let mut x = INPUT.to_string();
    let mut states = Vec::new();
    for layer in 0..depth {
        let p = format!("gru_l{layer}");
        let inputs = spec.layer_input_size(layer);
        let (mut w, mut r, mut b) = (Vec::new(), Vec::new(), Vec::new());
        for dir in 0..dirs {
            let block = weights.params.block(layer, dir, dirs);
            w.extend(gates_from_canonical(block.w(), h, inputs, gate_block));
            r.extend(gates_from_canonical(block.r(), h, h, gate_block));
            let mut wb = vec![T::zero(); 3 * h];
            let mut rb = vec![T::zero(); 3 * h];
            for g in Gate::ALL {
                wb[g.rows(h)].copy_from_slice(block.input_bias(g));
                if let Some(v) = block.recurrent_bias(g) {
                    rb[g.rows(h)].copy_from_slice(v);
                }
            }
            b.extend(gates_from_canonical(&wb, h, 1, gate_block));
            b.extend(gates_from_canonical(&rb, h, 1, gate_block));
        }
        let (wn, rn, bn) = (format!("{p}_W"), format!("{p}_R"), format!("{p}_B"));
        g.initializer.push(float_tensor(&wn, &[dirs, 3 * h, inputs], &w));
        g.initializer.push(float_tensor(&rn, &[dirs, 3 * h, h], &r));
        g.initializer.push(float_tensor(&bn, &[dirs, 6 * h], &b));
        let (y, yh) = (format!("{p}_Y"), if depth == 1 { STATE.to_string() } else { format!("{p}_Y_h") });
        g.node.push(node(&p, "GRU", &[&x, &wn, &rn, &bn, LENGTHS], &[&y, &yh], attrs.clone()));
        let yt = format!("{p}_Y_tbdh");
        g.node.push(node(
            &format!("{p}_transpose"),
            "Transpose",
            &[&y],
            &[&yt],
            vec![attr_ints("perm", vec![0, 2, 1, 3])],
        ));
        x = if layer + 1 == depth { OUTPUT.to_string() } else { format!("{p}_out") };
        g.node.push(node(&format!("{p}_reshape"), "Reshape", &[&yt, "seq_shape"], &[&x], vec![]));
        states.push(yh);
    }
    if depth > 1 {
        let refs: Vec<&str> = states.iter().map(String::as_str).collect();
        g.node.push(node("state_concat", "Concat", &refs, &[STATE], vec![attr_int("axis", 0)]));
    }
    g.output.push(value_info(OUTPUT, elem, &[Err("T"), Err("B"), Ok(dirs * h)]));
    g.output.push(value_info(STATE, elem, &[Ok(depth * dirs), Err("B"), Ok(h)]));
    let spec_json =
        serde_json::to_string(spec).map_err(|e| Error::property("spec", format!("{spec:?}"), e.to_string()))?;
    Ok(ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: options.opset }],
        producer_name: "gru".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("{} GRU stack exported by the gru crate", spec.reset_gate_mode.name()),
        graph: Some(g),
        metadata_props: vec![StringStringEntryProto { key: SPEC_KEY.into(), value: spec_json }],
    })
}
