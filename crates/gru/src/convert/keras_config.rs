//! The `config` of the `keras-gru` layout (see [`super::keras`]): the stacked layers' Keras
//! options, the Keras version (what `hard_sigmoid` means), and the [`GruSpec`] they describe,
//! or an error naming the Keras option a spec cannot hold.

use gru_core::{GateActivation, GruSpec, OutputMode, Regularization, ResetGateMode, StateActivation};
use serde::{Deserialize, Serialize};

use super::keras::{tensor_name, KerasOptions, FORMAT_NAME, FORMAT_VERSION};
use crate::error::{Error, Result};
use crate::io::SafetensorsFile;

/// The target named in [`Error::NotRepresentable`] when importing.
const OURS: &str = "gru (GruSpec)";

/// Which Keras' `hard_sigmoid`: Keras 3 `clamp(x/6 + 0.5, 0, 1)`, Keras 2 `clamp(0.2x + 0.5, 0, 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KerasVersion {
    #[default]
    Keras3,
    Keras2,
}

impl KerasVersion {
    /// This version's `hard_sigmoid` as a [`GateActivation`].
    pub fn hard_sigmoid(self) -> GateActivation {
        match self {
            KerasVersion::Keras3 => GateActivation::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 },
            KerasVersion::Keras2 => GateActivation::HardSigmoid { alpha: 0.2, beta: 0.5 },
        }
    }

    /// From a version string (`"3.15.1"`, `"2"`): its major version; `None` for others.
    pub fn parse(version: &str) -> Option<Self> {
        match version.trim().split('.').next()? {
            "3" => Some(KerasVersion::Keras3),
            "2" => Some(KerasVersion::Keras2),
            _ => None,
        }
    }

    /// `"3"` or `"2"`, as written in `keras_version`.
    pub fn name(self) -> &'static str {
        match self {
            KerasVersion::Keras3 => "3",
            KerasVersion::Keras2 => "2",
        }
    }
}

/// One stacked layer of the layout's `config` (Keras' names and defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    pub units: usize,
    #[serde(default)]
    pub bidirectional: bool,
    #[serde(default = "concat")]
    pub merge_mode: String,
    #[serde(default = "yes")]
    pub reset_after: bool,
    #[serde(default = "yes")]
    pub use_bias: bool,
    #[serde(default = "tanh")]
    pub activation: String,
    #[serde(default = "sigmoid")]
    pub recurrent_activation: String,
    #[serde(default)]
    pub go_backwards: bool,
    #[serde(default)]
    pub return_sequences: bool,
    /// Keras' `dropout` (of the layer's input, one mask per sequence): our
    /// `Regularization::input_dropout`, training only.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropout: f64,
    /// Keras' `recurrent_dropout` (of h_{t-1} in the recurrent products, masks drawn once
    /// per sequence): our `Regularization::recurrent_dropout`, training only. Keras 3 then
    /// draws one mask per gate (for `dropout` too), ours one shared by the three gates.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recurrent_dropout: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn concat() -> String {
    "concat".into()
}
fn yes() -> bool {
    true
}
fn tanh() -> String {
    "tanh".into()
}
fn sigmoid() -> String {
    "sigmoid".into()
}

/// The layout's `config` metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutConfig {
    pub layers: Vec<LayerConfig>,
}

/// Checks the metadata; returns the config and the Keras version the file means.
pub(super) fn header(file: &SafetensorsFile, options: &KerasOptions) -> Result<(LayoutConfig, KerasVersion)> {
    let err = |reason: String| Error::file(file.path(), reason);
    let get = |key: &str| file.metadata().get(key).map(String::as_str);
    match get("format") {
        Some(FORMAT_NAME) => {}
        other => return Err(err(format!("not a {FORMAT_NAME} file: the metadata's format is {other:?}"))),
    }
    let v = get("format_version").unwrap_or("(none)");
    match v.parse::<u32>() {
        Ok(v) if (1..=FORMAT_VERSION).contains(&v) => {}
        _ => return Err(err(format!("format_version \"{v}\" is not one this build reads (1 to {FORMAT_VERSION})"))),
    }
    let text = get("config").ok_or_else(|| err("the metadata has no \"config\"".into()))?;
    let config: LayoutConfig =
        serde_json::from_str(text).map_err(|e| err(format!("the \"config\" JSON is invalid: {e}")))?;
    let version = match (options.version, get("keras_version")) {
        (Some(v), _) => v,
        (None, None) => KerasVersion::Keras3,
        (None, Some(s)) => {
            KerasVersion::parse(s).ok_or_else(|| err(format!("keras_version \"{s}\" is neither Keras 2 nor 3")))?
        }
    };
    Ok((config, version))
}

/// The spec a checked config describes (the input size comes from layer 0's kernel).
pub(super) fn spec_of(file: &SafetensorsFile, config: &LayoutConfig, version: KerasVersion) -> Result<GruSpec> {
    let layers = &config.layers;
    let Some(first) = layers.first() else {
        return Err(Error::file(file.path(), "config.layers is empty"));
    };
    let not = |k: usize, option: &str, value: String, reason: &str| {
        Error::not_representable(OURS, &format!("Keras layers[{k}].{option}"), value, reason)
    };
    for (k, l) in layers.iter().enumerate() {
        let same = [
            ("units", l.units.to_string(), first.units.to_string()),
            ("bidirectional", l.bidirectional.to_string(), first.bidirectional.to_string()),
            ("reset_after", l.reset_after.to_string(), first.reset_after.to_string()),
            ("use_bias", l.use_bias.to_string(), first.use_bias.to_string()),
            ("activation", l.activation.clone(), first.activation.clone()),
            ("recurrent_activation", l.recurrent_activation.clone(), first.recurrent_activation.clone()),
            ("dropout", l.dropout.to_string(), first.dropout.to_string()),
            ("recurrent_dropout", l.recurrent_dropout.to_string(), first.recurrent_dropout.to_string()),
        ];
        for (option, value, want) in same {
            if value != want {
                return Err(not(
                    k,
                    option,
                    value,
                    &format!("a GRU stack has one {option} for all layers ({want} in layer 0)"),
                ));
            }
        }
        if l.go_backwards {
            return Err(not(
                k,
                "go_backwards",
                "true".into(),
                "a GRU stack reads forward, or both ways (Bidirectional)",
            ));
        }
        if l.bidirectional && l.merge_mode != "concat" {
            return Err(not(
                k,
                "merge_mode",
                l.merge_mode.clone(),
                "bidirectional outputs are concatenated [forward, backward]",
            ));
        }
        if k + 1 < layers.len() && !l.return_sequences {
            return Err(Error::file(
                file.path(),
                format!(
                    "config.layers[{k}].return_sequences is false, but layer {} reads its output as a sequence",
                    k + 1
                ),
            ));
        }
    }
    let state = match first.activation.as_str() {
        "tanh" => StateActivation::Tanh,
        "softsign" => StateActivation::Softsign,
        other => return Err(not(0, "activation", other.into(), "the state activation is tanh or softsign")),
    };
    let gate = match first.recurrent_activation.as_str() {
        "sigmoid" => GateActivation::Sigmoid,
        "hard_sigmoid" => version.hard_sigmoid(),
        other => {
            return Err(not(0, "recurrent_activation", other.into(), "the gate activation is sigmoid or hard_sigmoid"))
        }
    };
    let last = layers.len() - 1;
    let output_mode =
        match (layers[last].return_sequences, first.bidirectional) {
            (true, _) => OutputMode::Sequence,
            (false, false) => OutputMode::Last,
            (false, true) => return Err(not(
                last,
                "return_sequences",
                "false".into(),
                "a Bidirectional GRU's last output holds the backward direction's final state, our `last` output its \
                 output at the last step (PyTorch's); set return_sequences to true in the config (the weights are the \
                 same) and read the final states h_T instead",
            )),
        };
    let kernel = tensor_name(0, 0, "kernel");
    let Some(cols) = first.units.checked_mul(3) else {
        return Err(Error::file(file.path(), format!("config.layers[0].units = {} is too large", first.units)));
    };
    let input = match file.shape(&kernel) {
        Some(&[i, c]) if i > 0 && c == cols => i,
        Some(s) => {
            return Err(Error::file(file.path(), format!("tensor {kernel} has shape {s:?}, expected [I, {cols}]")))
        }
        None => {
            return Err(Error::file(file.path(), format!("tensor {kernel} (expected shape [I, {cols}]) is missing")))
        }
    };
    let mode = if first.reset_after {
        ResetGateMode::RecurrentBiasAfterMultiplication
    } else {
        ResetGateMode::BeforeMultiplication
    };
    let spec = GruSpec::new(input, first.units)
        .with_depth(layers.len())
        .with_bidirectional(first.bidirectional)
        .with_reset_gate_mode(mode)
        .with_state_activation(state)
        .with_gate_activation(gate)
        .with_output_mode(output_mode);
    let spec = GruSpec {
        regularization: Regularization {
            input_dropout: first.dropout,
            recurrent_dropout: first.recurrent_dropout,
            ..spec.regularization
        },
        ..spec
    };
    spec.validate()?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_hard_sigmoids() {
        assert_eq!(KerasVersion::parse("3.15.1"), Some(KerasVersion::Keras3));
        assert_eq!(KerasVersion::parse("2.15.0"), Some(KerasVersion::Keras2));
        assert_eq!(KerasVersion::parse("1.2"), None);
        assert_eq!(KerasVersion::Keras2.hard_sigmoid(), GateActivation::HARD_SIGMOID);
        let c: LayerConfig = serde_json::from_str(r#"{"units": 4}"#).unwrap();
        assert!(c.reset_after && c.use_bias && !c.return_sequences && c.activation == "tanh");
        let c: LayerConfig = serde_json::from_str(r#"{"units": 4, "dropout": 0.5}"#).unwrap();
        assert_eq!((c.dropout, c.recurrent_dropout), (0.5, 0.0));
        assert!(serde_json::from_str::<LayerConfig>(r#"{"units": 4, "zoneout": 0.5}"#).is_err());
        // Zero dropouts are not written (files without them read as before).
        let text = serde_json::to_string(&LayerConfig { dropout: 0.0, ..c }).unwrap();
        assert!(!text.contains("dropout"), "{text}");
    }
}
