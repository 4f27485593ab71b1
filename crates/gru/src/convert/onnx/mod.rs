//! ONNX models of a GRU stack: one `GRU` node per layer (opset 14+).
//!
//! Reading ([`read()`]) takes every `GRU` node of the graph, in order, as the layers of one
//! stack ([`import`] has the checks of the graph); writing ([`write()`]) builds the graph
//! [`export`] describes ([`step`]: the one-step form for streaming, state in and out); the runtime ([`runtime`]) evaluates whole graphs. All three map a
//! node's weights and attributes through `gru_map`, the one place that knows ONNX's gate
//! order (z, r, h; ours r, z, n) and bias rule. Every weight is copied by gate name, so ours
//! -> ONNX -> ours is bit-identical (the spec rides along in the model's `metadata_props` as
//! `gru.spec`, for what ONNX holds only as f32 or not at all: f64 clip/alpha/beta,
//! after-multiplication, the output mode).
//!
//! | ONNX | ours |
//! | --- | --- |
//! | `linear_before_reset = 0`, `B = [Wb \| Rb]` | before-multiplication, bias `Wb + Rb` |
//! | `linear_before_reset = 1` | recurrent-bias-after, bias `[Wb \| Rb]` (after-multiplication when written by us with `Rb = 0`) |
//! | `direction` forward / reverse / bidirectional | `bidirectional` false / true; reverse: `reverse` true |
//! | `activations` `[Sigmoid\|HardSigmoid(alpha, beta), Tanh\|Softsign]` per direction | gate / state activation; different per direction: [`Error::NotRepresentable`]; others refused |
//! | `clip` | `clip` |
//! | `layout` 0 / 1 | the same stack (an input format) |
//! | `initial_h` | a graph input, or a zero constant (as `torch.onnx.export` builds it); nonzero constants refused |
//!
//! Malformed graphs and unsupported ops or attribute values are [`Error::Onnx`] naming the
//! node, with the same reason from the importer and the runtime.

#[cfg(test)]
mod agreement_tests;
mod attrs;
pub mod export;
pub(crate) mod gru_map;
pub mod import;
pub mod network;
pub mod proto;
pub mod runtime;
pub mod step;
mod tensor;

use std::path::Path;

use gru_core::{DType, Real};
use prost::Message;

use super::GruWeights;
use crate::error::{Error, Result};

pub use export::{INPUT, LENGTHS, OUTPUT, STATE};
pub use network::{
    is_network, network_dtype, network_from_model, network_to_model, read_network, write_network, NETWORK_KEY,
};
pub use runtime::{OnnxModel, Tensor, TensorData};
pub use step::{to_step_model, write_step, STEP_INPUT, STEP_KEY, STEP_OUTPUT, STEP_STATE_IN, STEP_STATE_OUT};

/// The target named in [`Error::NotRepresentable`] when writing.
pub const TARGET: &str = "ONNX GRU";
/// The target named in [`Error::NotRepresentable`] when reading (what ONNX has and we lack).
pub const TARGET_IN: &str = "gru GruSpec";
/// The `metadata_props` key of the spec our writer stores.
pub const SPEC_KEY: &str = "gru.spec";

/// Options of the ONNX format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnnxOptions {
    /// The opset written (14 or later; default 14).
    pub opset: i64,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        Self { opset: 14 }
    }
}

/// Decodes the ONNX model in `bytes` (`path` only names it in errors).
pub fn decode(bytes: &[u8], path: &Path) -> Result<proto::ModelProto> {
    proto::ModelProto::decode(bytes).map_err(|e| Error::file(path, format!("not an ONNX model: {e}")))
}

/// Reads and decodes the ONNX model in `path`.
pub fn load(path: &Path) -> Result<proto::ModelProto> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    decode(&bytes, path)
}

/// The element type of the GRU weights in `model`.
pub fn model_dtype(model: &proto::ModelProto, path: &Path) -> Result<DType> {
    import::file_dtype(model, path)
}

/// The GRU stack of `model` as `T` (see [`import`] for what is read and refused).
pub fn from_model<T: Real>(model: &proto::ModelProto, path: &Path) -> Result<GruWeights<T>> {
    import::from_model(model, path)
}

/// Reads the GRU stack of the ONNX model in `path` as `T`.
pub fn read<T: Real>(path: &Path) -> Result<GruWeights<T>> {
    from_model(&load(path)?, path)
}

/// The ONNX model of `weights`.
pub fn to_model<T: Real>(weights: &GruWeights<T>, options: &OnnxOptions) -> Result<proto::ModelProto> {
    export::to_model(weights, options)
}

/// Writes `weights` as an ONNX model (atomically).
pub fn write<T: Real>(path: &Path, weights: &GruWeights<T>, options: &OnnxOptions) -> Result<()> {
    let bytes = to_model(weights, options)?.encode_to_vec();
    crate::io::write_atomically(path, &bytes)
}
