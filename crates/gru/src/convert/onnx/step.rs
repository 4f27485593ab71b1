//! Writing one GRU stack as an ONNX graph for step-wise use (streaming): one time step per
//! call, the state fed in and out, so that a runtime without hidden state (onnxruntime is
//! stateless by design) can carry each stream's state itself.
//!
//! ```text
//! X [1, B, I], h_in [D, B, H]
//!   layer k: Slice(h_in, k:k+1, axis 0) -> initial_h [1, B, H]
//!            GRU gru_l{k} (W, R, B, -, initial_h) -> Y [1, 1, B, H], Y_h [1, B, H]
//!            -> Transpose [0, 2, 1, 3] -> Reshape [0, 0, -1] -> [1, B, H] (next layer's X)
//! Y [1, B, H] = the top layer's output;  h_out [D, B, H] = Concat(axis 0) of every Y_h
//! ```
//! A caller steps a stream by feeding `h_out` back as the next `h_in` (zeros at the start);
//! frame by frame this gives what our `StreamSet` gives (and what one whole-sequence call
//! gives), within the f32 tolerance rule. The GRU nodes, weights and attributes are the
//! whole-sequence export's (`export::push_stack`, through `gru_map`), without
//! `sequence_lens`. Bidirectional and reverse stacks are refused: a step cannot read the
//! frames that have not come yet. The spec rides in `metadata_props` (`gru.spec`), with
//! `gru.step` = `"1"` marking the step form.

use gru_core::Real;

use super::export::{check_opset, model, node, push_stack, value_info, StackNames, SEQ_SHAPE};
use super::proto::{ModelProto, StringStringEntryProto};
use super::tensor::{attr_int, elem_type, int64_tensor};
use super::{OnnxOptions, SPEC_KEY};
use crate::convert::GruWeights;
use crate::error::{Error, Result};

/// The step model's input frame `[1, B, I]`.
pub const STEP_INPUT: &str = "X";
/// The state fed in, `[D, B, H]` (layer-major).
pub const STEP_STATE_IN: &str = "h_in";
/// The top layer's output of the step, `[1, B, H]`.
pub const STEP_OUTPUT: &str = "Y";
/// The state after the step, `[D, B, H]`: the next call's `h_in`.
pub const STEP_STATE_OUT: &str = "h_out";
/// The `metadata_props` key that marks a step model.
pub const STEP_KEY: &str = "gru.step";

/// The step-wise ONNX model of `weights` (see the module documentation).
pub fn to_step_model<T: Real>(weights: &GruWeights<T>, options: &OnnxOptions) -> Result<ModelProto> {
    let spec = &weights.spec;
    spec.validate()?;
    weights.params.check(spec)?;
    check_opset(options)?;
    crate::convert::check_plain_inference("ONNX GRU step model", spec)?;
    for (option, on) in [("bidirectional", spec.bidirectional), ("reverse", spec.reverse)] {
        if on {
            return Err(Error::not_representable(
                "ONNX GRU step model",
                option,
                true,
                "a step reads one frame at a time; a backward direction needs the frames that have not come yet",
            ));
        }
    }
    let (h, depth) = (spec.hidden_size, spec.depth);
    let elem = elem_type::<T>();
    let mut g = super::proto::GraphProto { name: "gru_step".into(), ..Default::default() };
    g.input.push(value_info(STEP_INPUT, elem, &[Ok(1), Err("B"), Ok(spec.input_size)]));
    g.input.push(value_info(STEP_STATE_IN, elem, &[Ok(depth), Err("B"), Ok(h)]));
    g.initializer.push(int64_tensor(SEQ_SHAPE, &[0, 0, -1]));
    g.initializer.push(int64_tensor("state_axes", &[0]));
    let mut initial_h = Vec::with_capacity(depth);
    for layer in 0..depth {
        let (starts, ends, out) =
            (format!("h_in_l{layer}_start"), format!("h_in_l{layer}_end"), format!("h_in_l{layer}"));
        g.initializer.push(int64_tensor(&starts, &[layer as i64]));
        g.initializer.push(int64_tensor(&ends, &[layer as i64 + 1]));
        g.node.push(node(
            &format!("h_in_l{layer}_slice"),
            "Slice",
            &[STEP_STATE_IN, &starts, &ends, "state_axes"],
            &[&out],
            vec![],
        ));
        initial_h.push(out);
    }
    let names = StackNames {
        prefix: "",
        input: STEP_INPUT,
        output: STEP_OUTPUT,
        single_state: Some(STEP_STATE_OUT),
        initial_h: &initial_h,
        lengths: None,
    };
    let states = push_stack(&mut g, weights, &names);
    if depth > 1 {
        let refs: Vec<&str> = states.iter().map(String::as_str).collect();
        g.node.push(node("state_concat", "Concat", &refs, &[STEP_STATE_OUT], vec![attr_int("axis", 0)]));
    }
    g.output.push(value_info(STEP_OUTPUT, elem, &[Ok(1), Err("B"), Ok(h)]));
    g.output.push(value_info(STEP_STATE_OUT, elem, &[Ok(depth), Err("B"), Ok(h)]));
    let spec_json =
        serde_json::to_string(spec).map_err(|e| Error::property("spec", format!("{spec:?}"), e.to_string()))?;
    Ok(model(
        g,
        options,
        format!(
            "{} GRU stack, one step per call (state in h_in, out h_out), exported by the gru crate",
            spec.reset_gate_mode.name()
        ),
        vec![
            StringStringEntryProto { key: SPEC_KEY.into(), value: spec_json },
            StringStringEntryProto { key: STEP_KEY.into(), value: "1".into() },
        ],
    ))
}

/// Writes the step model of `weights` (atomically).
pub fn write_step<T: Real>(path: &std::path::Path, weights: &GruWeights<T>, options: &OnnxOptions) -> Result<()> {
    use prost::Message;
    let bytes = to_step_model(weights, options)?.encode_to_vec();
    crate::io::write_atomically(path, &bytes)
}
