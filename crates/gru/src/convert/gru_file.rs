//! Our own file for one GRU stack (`gru-layer`), and GRU layers of saved networks.
//!
//! # `gru-layer` file (a gru safetensors file, see `train::checkpoint`)
//! ```text
//! metadata "model"   {"kind": "gru-layer", "dtype": "f32"|"f64", "spec": GruSpec as JSON}
//! tensors            layers.{k}.{forward|backward}.W     [3H, I_k]  rows r, z, n (canonical)
//!                    layers.{k}.{forward|backward}.R     [3H, H]    rows r, z, n
//!                    layers.{k}.{forward|backward}.bias  [3H] or [6H] = [b_r b_z b_n | b'_r b'_z b'_n]
//!                    layers.{k}.{forward|backward}.norm  [12H] = [γ_x | β_x | γ_h | β_h], with layer norm only
//! ```
//! Every option of a [`GruSpec`] is kept (reset-gate mode, activations, clip, output mode,
//! regularization).
//!
//! Reading also accepts a network saved by `Network::save` (`gru train`): its GRU layer
//! ([`GruFileOptions::layer`] chooses among several). Only the weights travel: a learnable
//! initial state or a stateful hidden state is not part of the GRU's weights.

use std::path::Path;

use gru_core::{DType, GruParams, GruSpec, Real};
use serde_json::{json, Value};

use super::{check_shapes, direction_name, take, GruWeights};
use crate::error::{Error, Result};
use crate::io::{self as checkpoint, NamedTensor, SafetensorsFile};
use crate::network::Network;

/// The `kind` of a lone GRU stack in the model JSON.
pub const KIND: &str = "gru-layer";

/// Options of our format.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GruFileOptions {
    /// Reading a saved network: which of its GRU layers (0-based, in network order); `None`
    /// when it has exactly one.
    pub layer: Option<usize>,
}

fn tensor_name(layer: usize, dir: usize, what: &str) -> String {
    format!("layers.{layer}.{}.{what}", direction_name(dir))
}

/// The element type the file's model JSON declares.
pub(crate) fn file_dtype(file: &SafetensorsFile) -> Result<DType> {
    let model = checkpoint::model_json(file)?;
    match model.get("dtype").and_then(Value::as_str) {
        Some("f32") => Ok(DType::F32),
        Some("f64") => Ok(DType::F64),
        other => {
            Err(Error::file(file.path(), format!("the model's \"dtype\" is {other:?}, expected \"f32\" or \"f64\"")))
        }
    }
}

/// Reads a `gru-layer` file, or a GRU layer of a saved network, as `T`.
pub fn read<T: Real>(path: &Path, options: &GruFileOptions) -> Result<GruWeights<T>> {
    from_file(&SafetensorsFile::read(path)?, options)
}

/// Reads a `gru-layer` file, or a GRU layer of a saved network, as `T`.
pub fn from_file<T: Real>(file: &SafetensorsFile, options: &GruFileOptions) -> Result<GruWeights<T>> {
    let path = file.path();
    let model = checkpoint::model_json(file)?;
    match model.get("kind").and_then(Value::as_str) {
        Some(KIND) => {}
        Some("gru-network") => return from_network(file, &model, options),
        other => {
            return Err(Error::file(
                path,
                format!("the model's \"kind\" is {other:?}, expected \"{KIND}\" or \"gru-network\""),
            ))
        }
    }
    let dtype = model.get("dtype").and_then(Value::as_str).unwrap_or("?");
    if dtype != T::DTYPE.to_string() {
        return Err(Error::file(path, format!("the file holds {dtype} values; a {} GRU was asked for", T::DTYPE)));
    }
    let spec: GruSpec = serde_json::from_value(model.get("spec").cloned().unwrap_or(Value::Null))
        .map_err(|e| Error::file(path, format!("spec: {e}")))?;
    spec.validate()?;
    let (h, dirs) = (spec.hidden_size, spec.directions());
    // Every shape first: nothing is allocated for a spec the tensors do not back.
    // Per block W, R, bias and, with layer norm, its gains and biases ("norm", 12H).
    let per_block = if spec.norm_len() > 0 { 4 } else { 3 };
    let expected: Vec<(String, Vec<usize>)> = (0..spec.num_blocks())
        .flat_map(|i| {
            let (layer, dir) = (i / dirs, i % dirs);
            [
                (tensor_name(layer, dir, "W"), vec![3 * h, spec.layer_input_size(layer)]),
                (tensor_name(layer, dir, "R"), vec![3 * h, h]),
                (tensor_name(layer, dir, "bias"), vec![spec.reset_gate_mode.bias_len(h)]),
                (tensor_name(layer, dir, "norm"), vec![spec.norm_len()]),
            ]
            .into_iter()
            .take(per_block)
        })
        .collect();
    check_shapes(file, &expected)?;
    if let Some(extra) = file.names().find(|n| !expected.iter().any(|(e, _)| e == n)) {
        return Err(Error::file(path, format!("tensor {extra} is not part of this {KIND} file")));
    }
    let mut params = GruParams::<T>::zeros(&spec);
    // `expected` holds W, R, bias (and norm) of each block, in block order.
    for (block, names) in params.blocks_mut().iter_mut().zip(expected.chunks_exact(per_block)) {
        block.w_mut().copy_from_slice(&take::<T>(file, &names[0].0, &names[0].1)?);
        block.r_mut().copy_from_slice(&take::<T>(file, &names[1].0, &names[1].1)?);
        block.bias_mut().copy_from_slice(&take::<T>(file, &names[2].0, &names[2].1)?);
        if let Some((name, shape)) = names.get(3) {
            block.norm_mut().copy_from_slice(&take::<T>(file, name, shape)?);
        }
    }
    GruWeights::new(spec, params)
}

fn from_network<T: Real>(file: &SafetensorsFile, model: &Value, options: &GruFileOptions) -> Result<GruWeights<T>> {
    let path = file.path();
    let mut tensors = file.names().map(|n| file.tensor(n)).collect::<Result<Vec<_>>>()?;
    let net = Network::<T>::from_parts(model, &mut tensors, path)?;
    network_layer(&net, options.layer, path)
}

/// GRU layer `layer` (0-based, in network order; `None` when the network has exactly one)
/// of `net`, read from `path` (named in errors). Only the weights: a learnable initial
/// state is not part of them.
pub fn network_layer<T: Real>(net: &Network<T>, layer: Option<usize>, path: &Path) -> Result<GruWeights<T>> {
    let layers: Vec<_> = net.gru_layers().collect();
    let index = match (layer, layers.len()) {
        (_, 0) => return Err(Error::file(path, "the network has no GRU layer")),
        (None, 1) => 0,
        (None, n) => {
            return Err(Error::file(path, format!("the network has {n} GRU layers: choose one (layer 0 to {})", n - 1)))
        }
        (Some(k), n) if k >= n => {
            return Err(Error::file(path, format!("GRU layer {k} was asked for; the network has {n} (0 to {})", n - 1)))
        }
        (Some(k), _) => k,
    };
    let layer = layers[index];
    let spec = layer.spec()?;
    let params = layer
        .params()
        .cloned()
        .ok_or_else(|| Error::file(path, format!("GRU layer {index} ({}) has no weights yet", layer.name())))?;
    GruWeights::new(spec, params)
}

/// The model JSON and tensors of a `gru-layer` file.
pub fn to_parts<T: Real>(weights: &GruWeights<T>) -> Result<(Value, Vec<NamedTensor>)> {
    let spec = &weights.spec;
    spec.validate()?;
    weights.params.check(spec)?;
    let dirs = spec.directions();
    let h = spec.hidden_size;
    let mut tensors = Vec::new();
    for (i, b) in weights.params.blocks().iter().enumerate() {
        let (layer, dir) = (i / dirs, i % dirs);
        tensors.push(NamedTensor::new(tensor_name(layer, dir, "W"), vec![3 * h, b.input_size()], b.w().to_vec()));
        tensors.push(NamedTensor::new(tensor_name(layer, dir, "R"), vec![3 * h, h], b.r().to_vec()));
        tensors.push(NamedTensor::new(tensor_name(layer, dir, "bias"), vec![b.bias().len()], b.bias().to_vec()));
        if b.has_norm() {
            tensors.push(NamedTensor::new(tensor_name(layer, dir, "norm"), vec![b.norm().len()], b.norm().to_vec()));
        }
    }
    let model = json!({"kind": KIND, "dtype": T::DTYPE.to_string(), "spec": spec});
    Ok((model, tensors))
}

/// Writes a `gru-layer` file (atomically).
pub fn write<T: Real>(path: &Path, weights: &GruWeights<T>) -> Result<()> {
    let (model, tensors) = to_parts(weights)?;
    checkpoint::save(path, &tensors, &model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gru_core::{GateActivation, OutputMode, ResetGateMode, StateActivation};

    #[test]
    fn every_option_round_trips_bit_identically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.safetensors");
        let spec = GruSpec::new(3, 2)
            .with_depth(2)
            .with_bidirectional(true)
            .with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication)
            .with_state_activation(StateActivation::Softsign)
            .with_gate_activation(GateActivation::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 })
            .with_clip(Some(2.5))
            .with_output_mode(OutputMode::Last);
        let mut params = GruParams::<f64>::zeros(&spec);
        let flat: Vec<f64> = (0..params.num_params()).map(|i| (i as f64).sin() / 3.0).collect();
        params.set_flat(&flat).unwrap();
        let w = GruWeights::new(spec, params).unwrap();
        write(&path, &w).unwrap();
        let back = read::<f64>(&path, &GruFileOptions::default()).unwrap();
        assert_eq!(back, w);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.params.to_flat()), bits(&flat));
        let err = read::<f32>(&path, &GruFileOptions::default()).unwrap_err();
        assert!(err.to_string().contains("f64 values; a f32 GRU"), "{err}");
    }
}
