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
use crate::io::{self, take_as, NamedTensor, SafetensorsFile};

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
        let dtype = match model.get("dtype") {
            Some(Value::String(d)) if d == "f32" || d == "f64" => d.as_str(),
            Some(other) => return Err(bad(format!("\"dtype\" is {other}; expected \"f32\" or \"f64\""))),
            None => return Err(bad("missing \"dtype\"".into())),
        };
        if dtype != T::DTYPE.to_string() {
            return Err(bad(format!("the model holds {dtype} values; a {} network was asked for", T::DTYPE)));
        }
        let specs: Vec<LayerSpec> = serde_json::from_value(model.get("layers").cloned().unwrap_or(Value::Null))
            .map_err(|e| bad(format!("layers: {e}")))?;
        let seed = match model.get("seed") {
            None => return Err(bad("missing \"seed\"".into())),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| bad(format!("\"seed\" is {v}; expected a whole number from 0 to {}", u64::MAX)))?,
        };
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
        Self::from_file(&SafetensorsFile::read(path)?)
    }

    /// The network of a gru model file already read (the checks of [`crate::io::load`]):
    /// a caller that reads the file once can ask its dtype ([`crate::io::model_json`]) and
    /// checksum ([`crate::io::verify_checksum`]) first.
    pub fn from_file(file: &SafetensorsFile) -> Result<Self> {
        let model = io::model_json(file)?;
        let mut tensors = file.names().map(|name| file.tensor(name)).collect::<Result<Vec<_>>>()?;
        Self::from_parts(&model, &mut tensors, file.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{fully_connected, gru, regression, sequence_input};

    fn model() -> Value {
        let specs = crate::layers![sequence_input(1), gru(2), fully_connected(1), regression()];
        Network::<f32>::new(specs, 7).unwrap().to_parts().0
    }

    fn reason(model: &Value) -> String {
        match Network::<f32>::from_model_json(model, Path::new("m.safetensors")) {
            Err(Error::File { reason, .. }) => reason,
            other => panic!("expected Error::File, got {:?}", other.map(|_| "a network")),
        }
    }

    #[test]
    fn a_bad_seed_or_dtype_is_named_as_it_is() {
        let mut m = model();
        m["seed"] = json!(-1);
        let r = reason(&m);
        assert!(r.contains("\"seed\" is -1") && !r.contains("missing"), "{r}");
        m["seed"] = json!("7");
        assert!(reason(&m).contains("\"seed\" is \"7\""), "{}", reason(&m));
        m.as_object_mut().unwrap().remove("seed");
        assert!(reason(&m).contains("missing \"seed\""), "{}", reason(&m));
        let mut m = model();
        m["dtype"] = json!("f16");
        let r = reason(&m);
        assert!(r.contains("\"dtype\" is \"f16\"") && r.contains("\"f32\" or \"f64\""), "{r}");
        m["dtype"] = json!("f64");
        assert!(reason(&m).contains("the model holds f64 values; a f32 network was asked for"));
    }
}
