//! Saving and loading a network: one `.safetensors` file (see [`crate::io`]) with the
//! tensors `params` (every learnable value, the order of [`Network::params_flat`]) and,
//! when fitted, `normalization.mean` / `normalization.std` (`[C]`, the input layer's offset
//! and scale: mean and std for z-score) and `target_normalization.offset` /
//! `target_normalization.scale` (`[R]`); its header's model JSON holds `{"kind":
//! "gru-network", "dtype", "layers", "seed", "class_names", "initialization"}` and, with
//! normalized targets, `"target_normalization"` (its kind, e.g. `"zscore"`). A file without
//! `"initialization"` (written before it was recorded) reads as
//! [`Initialization::NotRecorded`].

use std::path::Path;

use gru_core::Real;
use serde_json::{json, Value};

use super::{Initialization, LayerSpec, Network, Normalization, TargetNormalization};
use crate::error::{Error, Result};
use crate::io::{self, take_as, NamedTensor};

impl<T: Real> Network<T> {
    /// The model JSON and tensors of this network.
    pub(crate) fn to_parts(&self) -> (Value, Vec<NamedTensor>) {
        let params = self.params_flat();
        let mut tensors = vec![NamedTensor::new("params", vec![params.len()], params)];
        if let Some((mean, std)) = self.normalization() {
            tensors.push(NamedTensor::new("normalization.mean", vec![mean.len()], mean.clone()));
            tensors.push(NamedTensor::new("normalization.std", vec![std.len()], std.clone()));
        }
        let mut model = json!({
            "kind": "gru-network",
            "dtype": T::DTYPE,
            "layers": self.specs(),
            "seed": self.seed(),
            "class_names": self.class_names(),
            "initialization": self.initialization(),
        });
        if let Some(t) = self.target_normalization() {
            let r = t.offset.len();
            tensors.push(NamedTensor::new("target_normalization.offset", vec![r], t.offset.clone()));
            tensors.push(NamedTensor::new("target_normalization.scale", vec![r], t.scale.clone()));
            model["target_normalization"] = json!(t.kind);
        }
        (model, tensors)
    }

    /// Rebuilds a network from its model JSON and tensors (consumes the tensors it uses).
    pub(crate) fn from_parts(model: &Value, tensors: &mut Vec<NamedTensor>, path: &Path) -> Result<Self> {
        // Refuse layers that need more values than the file holds before building them:
        // a crafted header must not make us allocate more than the file brings.
        let held: usize =
            tensors.iter().filter(|t| t.name == "params").map(|t| t.shape.iter().product::<usize>()).sum();
        if let Ok(specs) = serde_json::from_value::<Vec<LayerSpec>>(model.get("layers").cloned().unwrap_or(Value::Null))
        {
            let needed = super::spec::min_params(&specs);
            if needed > held {
                return Err(Error::file(
                    path,
                    format!("its layers need at least {needed} parameters, the file holds {held}"),
                ));
            }
        }
        let mut net = Self::from_model_json(model, path)?;
        let n = net.params_flat().len();
        let params = take_as::<T>(tensors, "params", &[n], path)?;
        net.set_params_flat(&params)?;
        if tensors.iter().any(|t| t.name == "normalization.mean") {
            let c = net.input_size();
            let mean = take_as::<T>(tensors, "normalization.mean", &[c], path)?;
            let std = take_as::<T>(tensors, "normalization.std", &[c], path)?;
            net.set_normalization(Some((mean, std)))?;
        }
        if tensors.iter().any(|t| t.name == "target_normalization.offset") {
            let r = net.output_width();
            let offset = take_as::<T>(tensors, "target_normalization.offset", &[r], path)?;
            let scale = take_as::<T>(tensors, "target_normalization.scale", &[r], path)?;
            let kind = Self::target_normalization_kind(model, path)?;
            net.set_target_normalization(Some(TargetNormalization { kind, offset, scale }))
                .map_err(|e| Error::file(path, e.to_string()))?;
        }
        Ok(net)
    }

    /// The kind of target normalization a model JSON names (`"zscore"` when it names none).
    pub(crate) fn target_normalization_kind(model: &Value, path: &Path) -> Result<Normalization> {
        match model.get("target_normalization") {
            None => Ok(Normalization::Zscore),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| Error::file(path, format!("\"target_normalization\": {e}"))),
        }
    }

    /// The network the model JSON describes, with its class names, and the initial weights
    /// of its seed (the caller sets the learned ones).
    pub(crate) fn from_model_json(model: &Value, path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::file(path, reason);
        if model.get("kind").and_then(Value::as_str) != Some("gru-network") {
            return Err(bad("not a gru network model (\"kind\" is not \"gru-network\")".into()));
        }
        let dtype = model.get("dtype").and_then(Value::as_str).unwrap_or("?");
        if dtype != T::DTYPE.to_string() {
            return Err(bad(format!("the model holds {dtype} values; a {} network was asked for", T::DTYPE)));
        }
        let specs: Vec<LayerSpec> = serde_json::from_value(model.get("layers").cloned().unwrap_or(Value::Null))
            .map_err(|e| bad(format!("layers: {e}")))?;
        let seed = model.get("seed").and_then(Value::as_u64).ok_or_else(|| bad("missing \"seed\"".into()))?;
        let mut net = Network::<T>::new(specs, seed)?;
        net.initialization = match model.get("initialization") {
            None => Initialization::NotRecorded,
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| bad(format!("\"initialization\": {e}")))?,
        };
        if let Some(names) = model.get("class_names").and_then(Value::as_array) {
            let names: Vec<String> = names.iter().filter_map(|v| v.as_str().map(String::from)).collect();
            if !names.is_empty() {
                net.set_class_names(names)?;
            }
        }
        Ok(net)
    }

    /// Writes the network to `path` (atomically: a temporary file, then a rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let (model, tensors) = self.to_parts();
        io::save(path, &tensors, &model)
    }

    /// Reads a network written by [`Network::save`] (or a training checkpoint).
    pub fn load(path: &Path) -> Result<Self> {
        let (mut tensors, model) = io::load(path)?;
        Self::from_parts(&model, &mut tensors, path)
    }
}
