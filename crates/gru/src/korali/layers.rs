//! The layers of a Korali network (`"Layers"` / `"Hidden Layers"` entries), typed, each read
//! from and written to Korali's JSON: [`KoraliLayer`] chooses by `"Type"`; the GRU layer
//! lives in `gru.rs`, the others here. Keys every layer shares (`"Index"`, `"Results"`,
//! `"Dropout Probability"`) are handled by `other_layer_key`.

use serde_json::{Map, Value};

use super::gru::{self, KoraliGru};
use super::json::{self, key_path};
use super::names;
use super::{ConfigWarning, ExplicitKeys};
use crate::error::{Error, Result};

/// One entry of `"Layers"` (or `"Hidden Layers"`), chosen by its `"Type"`.
#[derive(Clone, Debug, PartialEq)]
pub enum KoraliLayer {
    /// `"Layer/Recurrent/GRU"`.
    Gru(KoraliGru),
    /// `"Layer/Linear"`.
    Linear(KoraliLinear),
    /// `"Layer/Activation"`.
    Activation(KoraliActivation),
    /// `"Layer/Input"`.
    Input(KoraliInput),
    /// `"Layer/Output"`.
    Output(KoraliOutput),
}

/// `{"Type": "Layer/Linear", "Output Channels": n, "Weight Scaling": 1.0}`: `y = W x + b`.
///
/// | key | default | maps to |
/// |---|---|---|
/// | `"Output Channels"` | required, > 0 | rows of W |
/// | `"Weight Scaling"` | 1.0, finite > 0 | factor on the Xavier-uniform initial weights |
#[derive(Clone, Debug, PartialEq)]
pub struct KoraliLinear {
    pub output_channels: usize,
    pub weight_scaling: f64,
    pub explicit: ExplicitKeys,
}

/// `{"Type": "Layer/Activation", "Function": ..., "Alpha": 1.0, "Beta": 0.0}`: an element-wise
/// function (or softmax) with as many channels as its input.
///
/// | key | default | maps to |
/// |---|---|---|
/// | `"Function"` | required | one of [`KoraliActivation::FUNCTIONS`] |
/// | `"Alpha"` | 1.0 | oneDNN's alpha: slope of `Linear`, lower bound of `Clip`, negative slope of `ReLU` |
/// | `"Beta"` | 0.0 | oneDNN's beta: offset of `Linear`, upper bound of `Clip` |
///
/// Note: with Korali's default `"Alpha": 1.0`, Korali's `"Elementwise/ReLU"` has negative
/// slope 1 (the identity) on its Korali and OneDNN engines; values are kept as given.
#[derive(Clone, Debug, PartialEq)]
pub struct KoraliActivation {
    pub function: String,
    pub alpha: f64,
    pub beta: f64,
    pub explicit: ExplicitKeys,
}

/// `{"Type": "Layer/Input", "Output Channels": n}`: the first layer; n is the input size.
#[derive(Clone, Debug, PartialEq)]
pub struct KoraliInput {
    /// `"Output Channels"` (required, > 0): channels of each input time step.
    pub output_channels: usize,
}

/// `{"Type": "Layer/Output", ...}`: the last layer; per-channel transformation, then scale,
/// then shift (Korali applies them in that order). Its channels are its input's.
///
/// | key | default | maps to |
/// |---|---|---|
/// | `"Transformation Mask"` | `[]` (identity) | one of [`KoraliOutput::TRANSFORMATIONS`] per channel |
/// | `"Scale"` | `[]` (none) | a factor per channel |
/// | `"Shift"` | `[]` (none) | an offset per channel |
#[derive(Clone, Debug, PartialEq, Default)]
pub struct KoraliOutput {
    pub transformation_mask: Vec<String>,
    pub scale: Vec<f64>,
    pub shift: Vec<f64>,
    pub explicit: ExplicitKeys,
}

impl KoraliLinear {
    pub fn new(output_channels: usize) -> Self {
        Self { output_channels, weight_scaling: 1.0, explicit: ExplicitKeys::default() }
    }
}

impl KoraliActivation {
    /// Korali's activation functions.
    pub const FUNCTIONS: [&'static str; 9] = names::ACTIVATION_FUNCTIONS;

    /// `function` with Korali's default Alpha 1.0 and Beta 0.0 (not checked: `from_json` checks).
    pub fn new(function: impl Into<String>) -> Self {
        Self { function: function.into(), alpha: 1.0, beta: 0.0, explicit: ExplicitKeys::default() }
    }
}

impl KoraliOutput {
    /// Korali's per-channel output transformations.
    pub const TRANSFORMATIONS: [&'static str; 5] = names::OUTPUT_TRANSFORMATIONS;
}

/// Keys common to every layer: ignored ones, dropout 0, or an unknown key.
pub(crate) fn other_layer_key(
    key: &str,
    value: &Value,
    base: &str,
    known: &[&str],
    warnings: &mut Vec<ConfigWarning>,
) -> Result<()> {
    let path = key_path(base, key);
    if names::IGNORED_LAYER_KEYS.contains(&key) {
        json::ignored(warnings, &path, "Korali bookkeeping, no configuration");
        return Ok(());
    }
    if key == "Dropout Probability" {
        if json::number(value, &path)? != 0.0 {
            return Err(json::invalid(&path, value, "dropout is not supported here; only 0 is accepted"));
        }
        json::ignored(warnings, &path, "dropout 0 is no dropout");
        return Ok(());
    }
    let mut all: Vec<&str> = known.to_vec();
    all.extend(["Type", "Dropout Probability"]);
    all.extend(names::IGNORED_LAYER_KEYS);
    Err(json::unknown_key(base, key, &all))
}

/// A `"Weight Scaling"`: finite and > 0.
pub(crate) fn weight_scaling(value: &Value, path: &str) -> Result<f64> {
    match json::number(value, path)? {
        w if w > 0.0 => Ok(w),
        _ => Err(json::invalid(path, value, "weight scaling must be greater than 0")),
    }
}

/// Inserts `key` when `write`.
pub(crate) fn put(m: &mut Map<String, Value>, key: &str, write: bool, value: Value) {
    if write {
        m.insert(key.into(), value);
    }
}

pub(crate) fn required<T>(found: Option<T>, base: &str, key: &str, what: &str) -> Result<T> {
    found.ok_or_else(|| json::missing(&key_path(base, key), format!("required: {what}")))
}

impl KoraliLayer {
    /// Korali's `"Type"` of this layer.
    pub fn type_name(&self) -> &'static str {
        match self {
            KoraliLayer::Gru(_) => names::GRU,
            KoraliLayer::Linear(_) => names::LINEAR,
            KoraliLayer::Activation(_) => names::ACTIVATION,
            KoraliLayer::Input(_) => names::INPUT,
            KoraliLayer::Output(_) => names::OUTPUT,
        }
    }

    /// Reads one layer object at `path`, pushing a warning for each ignored key.
    pub(crate) fn from_json_at(value: &Value, path: &str, warnings: &mut Vec<ConfigWarning>) -> Result<Self> {
        let obj = json::object(value, path)?;
        let type_path = key_path(path, "Type");
        let type_value = obj.get("Type").ok_or_else(|| json::missing(&type_path, "every layer needs a \"Type\""))?;
        let type_name = json::string(type_value, &type_path)?;
        match type_name {
            names::GRU => KoraliGru::from_object(obj, path, warnings, false).map(KoraliLayer::Gru),
            names::LEGACY_RECURRENT => {
                let mode_path = key_path(path, "Mode");
                let mode =
                    obj.get("Mode").ok_or_else(|| json::missing(&mode_path, "\"Layer/Recurrent\" needs a \"Mode\""))?;
                match json::choice(mode, &mode_path, &["GRU", "LSTM"], "recurrent mode")? {
                    "GRU" => {
                        warnings.push(ConfigWarning {
                            path: type_path,
                            message: "older Korali form {\"Type\": \"Layer/Recurrent\", \"Mode\": \"GRU\"}: read as \
                                      \"Layer/Recurrent/GRU\", written back that way"
                                .into(),
                        });
                        KoraliGru::from_object(obj, path, warnings, true).map(KoraliLayer::Gru)
                    }
                    _ => Err(gru::lstm_refused(&mode_path)),
                }
            }
            names::LSTM => Err(gru::lstm_refused(&type_path)),
            names::LINEAR => Self::linear(obj, path, warnings),
            names::ACTIVATION => Self::activation(obj, path, warnings),
            names::INPUT => Self::input(obj, path, warnings),
            names::OUTPUT => Self::output(obj, path, warnings),
            t if names::UNSUPPORTED_LAYER_TYPES.contains(&t) => Err(Error::Unsupported {
                operation: format!("layer type \"{t}\" at {type_path}"),
                reason: "this project implements the Korali layer types \"Layer/Recurrent/GRU\", \"Layer/Linear\", \
                         \"Layer/Activation\", \"Layer/Input\" and \"Layer/Output\" only"
                    .into(),
            }),
            t => Err(json::invalid(
                &type_path,
                type_value,
                json::not_one_of(t, &names::ALL_LAYER_TYPES, "Korali layer type"),
            )),
        }
    }

    fn linear(obj: &Map<String, Value>, base: &str, warnings: &mut Vec<ConfigWarning>) -> Result<Self> {
        const KNOWN: [&str; 2] = ["Output Channels", "Weight Scaling"];
        let mut linear = KoraliLinear::new(0);
        let mut channels = None;
        for (key, value) in obj {
            let path = key_path(base, key);
            match key.as_str() {
                "Type" => {}
                "Output Channels" => {
                    channels = Some(json::positive_size(value, &path, "a linear layer's output channels")?)
                }
                "Weight Scaling" => {
                    linear.weight_scaling = weight_scaling(value, &path)?;
                    linear.explicit.insert(key);
                }
                other => other_layer_key(other, value, base, &KNOWN, warnings)?,
            }
        }
        linear.output_channels = required(channels, base, "Output Channels", "the linear layer's output size")?;
        Ok(KoraliLayer::Linear(linear))
    }

    fn activation(obj: &Map<String, Value>, base: &str, warnings: &mut Vec<ConfigWarning>) -> Result<Self> {
        const KNOWN: [&str; 5] = ["Function", "Alpha", "Beta", "Output Channels", "Weight Scaling"];
        let mut activation = KoraliActivation::new(String::new());
        let mut function = None;
        for (key, value) in obj {
            let path = key_path(base, key);
            match key.as_str() {
                "Type" => {}
                "Function" => {
                    function = Some(json::choice(value, &path, &names::ACTIVATION_FUNCTIONS, "activation function")?)
                }
                "Alpha" | "Beta" => {
                    let x = json::number(value, &path)?;
                    if key == "Alpha" {
                        activation.alpha = x
                    } else {
                        activation.beta = x
                    }
                    activation.explicit.insert(key);
                }
                "Output Channels" => {
                    json::ignored(warnings, &path, "Korali gives an activation layer its input's channels")
                }
                "Weight Scaling" => json::ignored(warnings, &path, "an activation layer has no weights"),
                other => other_layer_key(other, value, base, &KNOWN, warnings)?,
            }
        }
        activation.function = required(function, base, "Function", "the activation function")?.to_string();
        Ok(KoraliLayer::Activation(activation))
    }

    fn input(obj: &Map<String, Value>, base: &str, warnings: &mut Vec<ConfigWarning>) -> Result<Self> {
        const KNOWN: [&str; 2] = ["Output Channels", "Weight Scaling"];
        let mut channels = None;
        for (key, value) in obj {
            let path = key_path(base, key);
            match key.as_str() {
                "Type" => {}
                "Output Channels" => channels = Some(json::positive_size(value, &path, "the input size")?),
                "Weight Scaling" => json::ignored(warnings, &path, "an input layer has no weights"),
                other => other_layer_key(other, value, base, &KNOWN, warnings)?,
            }
        }
        let output_channels = required(channels, base, "Output Channels", "the input size")?;
        Ok(KoraliLayer::Input(KoraliInput { output_channels }))
    }

    fn output(obj: &Map<String, Value>, base: &str, warnings: &mut Vec<ConfigWarning>) -> Result<Self> {
        let mut known = vec!["Transformation Mask", "Scale", "Shift", "Output Channels", "Weight Scaling"];
        known.extend(names::LEGACY_OUTPUT_MASKS);
        let mut output = KoraliOutput::default();
        for (key, value) in obj {
            let path = key_path(base, key);
            match key.as_str() {
                "Type" => {}
                "Transformation Mask" => {
                    output.transformation_mask = json::array(value, &path)?
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            let p = json::index_path(&path, i);
                            json::choice(v, &p, &names::OUTPUT_TRANSFORMATIONS, "output transformation")
                                .map(String::from)
                        })
                        .collect::<Result<_>>()?;
                }
                "Scale" | "Shift" => {
                    let values = json::array(value, &path)?
                        .iter()
                        .enumerate()
                        .map(|(i, v)| json::number(v, &json::index_path(&path, i)))
                        .collect::<Result<Vec<_>>>()?;
                    if key == "Scale" {
                        output.scale = values
                    } else {
                        output.shift = values
                    }
                }
                k if names::LEGACY_OUTPUT_MASKS.contains(&k) => {
                    for (i, v) in json::array(value, &path)?.iter().enumerate() {
                        if json::boolean(v, &json::index_path(&path, i))? {
                            return Err(json::invalid(
                                &path,
                                value,
                                "the per-output masks of older Korali are not \
                                                                     supported here; use \"Transformation Mask\"",
                            ));
                        }
                    }
                    json::ignored(warnings, &path, "an older Korali mask with no entry set");
                }
                "Output Channels" => {
                    json::ignored(warnings, &path, "Korali gives the output layer its input's channels")
                }
                "Weight Scaling" => json::ignored(warnings, &path, "an output layer has no weights"),
                other => other_layer_key(other, value, base, &known, warnings)?,
            }
            if ["Transformation Mask", "Scale", "Shift"].contains(&key.as_str()) {
                output.explicit.insert(key);
            }
        }
        Ok(KoraliLayer::Output(output))
    }

    /// The layer as Korali JSON: `"Type"` first, then the required keys, then each defaulted
    /// key that was given or differs from its default. Ignored keys are never written.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("Type".into(), self.type_name().into());
        match self {
            KoraliLayer::Gru(g) => g.write_keys(&mut m),
            KoraliLayer::Linear(l) => {
                put(&mut m, "Output Channels", true, l.output_channels.into());
                let w = l.explicit.contains("Weight Scaling") || l.weight_scaling != 1.0;
                put(&mut m, "Weight Scaling", w, l.weight_scaling.into());
            }
            KoraliLayer::Activation(a) => {
                put(&mut m, "Function", true, a.function.as_str().into());
                put(&mut m, "Alpha", a.explicit.contains("Alpha") || a.alpha != 1.0, a.alpha.into());
                put(&mut m, "Beta", a.explicit.contains("Beta") || a.beta != 0.0, a.beta.into());
            }
            KoraliLayer::Input(i) => put(&mut m, "Output Channels", true, i.output_channels.into()),
            KoraliLayer::Output(o) => {
                let mask = o.transformation_mask.iter().map(|s| Value::from(s.as_str())).collect();
                let write = |key: &str, empty: bool| o.explicit.contains(key) || !empty;
                put(
                    &mut m,
                    "Transformation Mask",
                    write("Transformation Mask", o.transformation_mask.is_empty()),
                    Value::Array(mask),
                );
                put(&mut m, "Scale", write("Scale", o.scale.is_empty()), o.scale.clone().into());
                put(&mut m, "Shift", write("Shift", o.shift.is_empty()), o.shift.clone().into());
            }
        }
        Value::Object(m)
    }
}

/// Reads the DeepSupervisor's `"Output Layer"` section (the keys of `Layer/Output`, no
/// `"Type"` needed) at `path`.
pub(crate) fn parse_output_section(
    value: &Value,
    path: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<KoraliOutput> {
    match KoraliLayer::output(json::object(value, path)?, path, warnings)? {
        KoraliLayer::Output(o) => Ok(o),
        _ => unreachable!("output() returns an output layer"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(value: Value) -> Result<(KoraliLayer, Vec<ConfigWarning>)> {
        let mut warnings = Vec::new();
        KoraliLayer::from_json_at(&value, r#"["L"]"#, &mut warnings).map(|l| (l, warnings))
    }

    #[test]
    fn unknown_keys_suggest_and_dropout_zero_warns() {
        match read(json!({"Type": "Layer/Recurrent/GRU", "Outpt Channels": 4})) {
            Err(Error::UnknownKey { path, suggestion }) => {
                assert_eq!(path, r#"["L"]["Outpt Channels"]"#);
                assert_eq!(suggestion.as_deref(), Some("Output Channels"));
            }
            other => panic!("{other:?}"),
        }
        let (_, warnings) =
            read(json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 4, "Dropout Probability": 0.0, "Index": 3}))
                .unwrap();
        assert_eq!(warnings.len(), 2);
        assert_eq!(warnings[0].path, r#"["L"]["Dropout Probability"]"#);
        assert!(read(json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 4, "Dropout Probability": 0.5})).is_err());
    }

    #[test]
    fn types_refused_or_suggested() {
        assert!(matches!(
            read(json!({"Type": "Layer/Recurrent/LSTM", "Output Channels": 4})),
            Err(Error::Unsupported { .. })
        ));
        match read(json!({"Type": "Layer/Convolution"})) {
            Err(Error::Unsupported { operation, .. }) => {
                assert!(operation.contains("Layer/Convolution"), "{operation}")
            }
            other => panic!("{other:?}"),
        }
        match read(json!({"Type": "Layer/Recurent/GRU"})) {
            Err(Error::Config { reason, .. }) => assert!(reason.contains("\"Layer/Recurrent/GRU\""), "{reason}"),
            other => panic!("{other:?}"),
        }
        let (layer, warnings) = read(json!({"Type": "Layer/Recurrent", "Mode": "GRU", "Output Channels": 4})).unwrap();
        assert_eq!(layer, KoraliLayer::Gru(KoraliGru::new(4)));
        assert_eq!(warnings.len(), 1);
        assert!(matches!(read(json!({"Type": "Layer/Recurrent", "Mode": "LSTM"})), Err(Error::Unsupported { .. })));
    }

    #[test]
    fn other_layers_round_trip() {
        for given in [
            json!({"Type": "Layer/Linear", "Output Channels": 1, "Weight Scaling": 0.5}),
            json!({"Type": "Layer/Activation", "Function": "Elementwise/Tanh"}),
            json!({"Type": "Layer/Activation", "Function": "Elementwise/Clip", "Alpha": -1.0, "Beta": 1.0}),
            json!({"Type": "Layer/Input", "Output Channels": 3}),
            json!({"Type": "Layer/Output"}),
            json!({"Type": "Layer/Output", "Transformation Mask": ["Tanh", "Identity"], "Scale": [2.0, 1.0], "Shift": []}),
        ] {
            let (layer, warnings) = read(given.clone()).unwrap();
            assert!(warnings.is_empty(), "{warnings:?}");
            assert_eq!(layer.to_json(), given);
        }
    }

    #[test]
    fn activation_and_output_check_their_names() {
        match read(json!({"Type": "Layer/Activation", "Function": "Tanh"})) {
            Err(Error::Config { path, reason, .. }) => {
                assert_eq!(path, r#"["L"]["Function"]"#);
                assert!(reason.contains("\"Elementwise/Tanh\""), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        match read(json!({"Type": "Layer/Output", "Transformation Mask": ["Tanh", "Sigmod"]})) {
            Err(Error::Config { path, .. }) => assert_eq!(path, r#"["L"]["Transformation Mask"][1]"#),
            other => panic!("{other:?}"),
        }
        let (_, warnings) = read(json!({"Type": "Layer/Output", "Tanh Mask": [false], "Output Channels": 2})).unwrap();
        assert_eq!(warnings.len(), 2);
        assert!(read(json!({"Type": "Layer/Output", "Tanh Mask": [true]})).is_err());
    }
}
