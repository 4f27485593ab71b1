//! Writing one GRU stack as an ONNX graph (opset 14+):
//!
//! ```text
//! X [T, B, I], sequence_lens [B] int32
//!   -> GRU gru_l0 (W, R, B, sequence_lens) -> Y [T, dirs, B, H], Y_h [dirs, B, H]
//!   -> Transpose perm [0, 2, 1, 3] -> Reshape [0, 0, -1] -> [T, B, dirs·H]
//!   -> GRU gru_l1 ... -> Y [T, B, dirs·H]
//! Y_h = Concat(axis 0) of every layer's Y_h -> [D·dirs, B, H] (block order layer·dirs + dir)
//! ```
//! Weights and attributes are written by the inverses of `gru_map` (the mapping the readers
//! use): recurrent-bias-after as `linear_before_reset = 1` with `B = [Wb | Rb]`;
//! after-multiplication as `linear_before_reset = 1` with `Rb = 0`; before-multiplication
//! as `linear_before_reset = 0` with `Rb = 0`. Activations `[f, g]` per direction
//! (HardSigmoid with its alpha and beta), clip as `clip`. ONNX keeps clip, alpha and beta
//! as f32 and has no output mode: the spec itself is stored in the model's
//! `metadata_props` (`gru.spec`, JSON) so that our reader restores it exactly.

use gru_core::Real;

use super::gru_map::{self, GruAttrs};
use super::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto, INT32,
};
use super::tensor::{attr_int, attr_ints, elem_type, float_tensor, int64_tensor};
use super::{OnnxOptions, SPEC_KEY};
use crate::convert::GruWeights;
use crate::error::{Error, Result};

/// Names of the graph's inputs and outputs.
pub const INPUT: &str = "X";
pub const LENGTHS: &str = "sequence_lens";
pub const OUTPUT: &str = "Y";
pub const STATE: &str = "Y_h";
/// The Reshape shape `[0, 0, -1]` that merges a layer's `[T, B, dirs, H]` into `[T, B, dirs·H]`.
pub(crate) const SEQ_SHAPE: &str = "seq_shape";

pub(crate) fn value_info(name: &str, elem: i32, dims: &[Result<usize, &str>]) -> ValueInfoProto {
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

pub(crate) fn node(
    name: &str,
    op: &str,
    inputs: &[&str],
    outputs: &[&str],
    attribute: Vec<AttributeProto>,
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
    check_opset(options)?;
    crate::convert::check_plain_inference(super::TARGET, spec)?;
    let (h, dirs, depth) = (spec.hidden_size, spec.directions(), spec.depth);
    let elem = elem_type::<T>();
    let mut g = GraphProto { name: "gru".into(), ..Default::default() };
    g.input.push(value_info(INPUT, elem, &[Err("T"), Err("B"), Ok(spec.input_size)]));
    g.input.push(value_info(LENGTHS, INT32, &[Err("B")]));
    g.initializer.push(int64_tensor(SEQ_SHAPE, &[0, 0, -1]));
    let names = StackNames {
        prefix: "",
        input: INPUT,
        output: OUTPUT,
        single_state: Some(STATE),
        initial_h: &[],
        lengths: Some(LENGTHS),
    };
    let states = push_stack(&mut g, weights, &names);
    if depth > 1 {
        let refs: Vec<&str> = states.iter().map(String::as_str).collect();
        g.node.push(node("state_concat", "Concat", &refs, &[STATE], vec![attr_int("axis", 0)]));
    }
    g.output.push(value_info(OUTPUT, elem, &[Err("T"), Err("B"), Ok(dirs * h)]));
    g.output.push(value_info(STATE, elem, &[Ok(depth * dirs), Err("B"), Ok(h)]));
    let spec_json =
        serde_json::to_string(spec).map_err(|e| Error::property("spec", format!("{spec:?}"), e.to_string()))?;
    Ok(model(
        g,
        options,
        format!("{} GRU stack exported by the gru crate", spec.reset_gate_mode.name()),
        vec![StringStringEntryProto { key: SPEC_KEY.into(), value: spec_json }],
    ))
}

/// Refuses an opset before 14 (the GRU of opset 14 is the one written).
pub(crate) fn check_opset(options: &OnnxOptions) -> Result<()> {
    if options.opset < 14 {
        return Err(Error::property("opset", options.opset, "ONNX export needs opset 14 or later"));
    }
    Ok(())
}

/// A model of IR version 8 around `graph`, importing `options.opset` of ONNX's domain.
pub(crate) fn model(
    graph: GraphProto,
    options: &OnnxOptions,
    doc_string: String,
    metadata_props: Vec<StringStringEntryProto>,
) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: options.opset }],
        producer_name: "gru".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string,
        graph: Some(graph),
        metadata_props,
    }
}

/// Layer `layer`'s `W [dirs, 3H, I_k]`, `R [dirs, 3H, H]` and `B [dirs, 6H] = [Wb | Rb]`,
/// rows in ONNX's gate order z, r, h (a zero `Rb` where the reset-gate mode has none).
pub(crate) fn layer_tensors<T: Real>(weights: &GruWeights<T>, layer: usize) -> (Vec<T>, Vec<T>, Vec<T>) {
    let spec = &weights.spec;
    let (h, dirs) = (spec.hidden_size, spec.directions());
    let blocks = (0..dirs).map(|dir| weights.params.block(layer, dir, dirs));
    gru_map::onnx_from_blocks(blocks, h, spec.layer_input_size(layer))
}

/// The names one GRU stack takes in a graph.
pub(crate) struct StackNames<'a> {
    /// Prefix of every node and tensor name: layer k is the node `{prefix}gru_l{k}`, its
    /// weights `{prefix}gru_l{k}_W`, `_R`, `_B`.
    pub prefix: &'a str,
    /// The stack's input `[T, B, I]`.
    pub input: &'a str,
    /// The top layer's output `[T, B, dirs·H]`.
    pub output: &'a str,
    /// The name of `Y_h` when the stack has one layer (else `{prefix}gru_l{k}_Y_h`).
    pub single_state: Option<&'a str>,
    /// Per layer, the `initial_h` input `[dirs, B, H]`; empty: none (zero).
    pub initial_h: &'a [String],
    /// The `sequence_lens` input every layer reads; `None`: none (every sequence is `T`
    /// steps long; the step export).
    pub lengths: Option<&'a str>,
}

/// Appends one GRU node per layer of `weights` to `g` (and their weights as initializers),
/// chained as the module documentation draws it; every layer reads `names.lengths` (when
/// given) and the Reshape reads the initializer [`SEQ_SHAPE`], which the caller adds once. Returns each
/// layer's `Y_h` (`[dirs, B, H]`).
pub(crate) fn push_stack<T: Real>(g: &mut GraphProto, weights: &GruWeights<T>, names: &StackNames<'_>) -> Vec<String> {
    let spec = &weights.spec;
    let (h, dirs, depth) = (spec.hidden_size, spec.directions(), spec.depth);
    let attrs = GruAttrs::of_spec(spec).to_proto();
    let mut x = names.input.to_string();
    let mut states = Vec::new();
    for layer in 0..depth {
        let p = format!("{}gru_l{layer}", names.prefix);
        let inputs = spec.layer_input_size(layer);
        let (w, r, b) = layer_tensors(weights, layer);
        let (wn, rn, bn) = (format!("{p}_W"), format!("{p}_R"), format!("{p}_B"));
        g.initializer.push(float_tensor(&wn, &[dirs, 3 * h, inputs], &w));
        g.initializer.push(float_tensor(&rn, &[dirs, 3 * h, h], &r));
        g.initializer.push(float_tensor(&bn, &[dirs, 6 * h], &b));
        let (y, yh) = match names.single_state {
            Some(state) if depth == 1 => (format!("{p}_Y"), state.to_string()),
            _ => (format!("{p}_Y"), format!("{p}_Y_h")),
        };
        // Optional inputs left out are empty names; trailing ones are dropped.
        let mut gru_inputs = vec![x.as_str(), &wn, &rn, &bn, names.lengths.unwrap_or("")];
        if let Some(h0) = names.initial_h.get(layer) {
            gru_inputs.push(h0);
        }
        while gru_inputs.last().is_some_and(|s| s.is_empty()) {
            gru_inputs.pop();
        }
        g.node.push(node(&p, "GRU", &gru_inputs, &[&y, &yh], attrs.clone()));
        let yt = format!("{p}_Y_tbdh");
        g.node.push(node(
            &format!("{p}_transpose"),
            "Transpose",
            &[&y],
            &[&yt],
            vec![attr_ints("perm", vec![0, 2, 1, 3])],
        ));
        x = if layer + 1 == depth { names.output.to_string() } else { format!("{p}_out") };
        g.node.push(node(&format!("{p}_reshape"), "Reshape", &[&yt, SEQ_SHAPE], &[&x], vec![]));
        states.push(yh);
    }
    states
}
