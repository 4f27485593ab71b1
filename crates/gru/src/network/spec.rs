//! Layer arrays, MATLAB style, in Rust and in JSON.
//!
//! ```
//! use gru::network::{classification, fully_connected, gru, sequence_input, softmax};
//! use gru::{layers, OutputMode};
//! let specs = layers![sequence_input(12), gru(100).output_mode(OutputMode::Last), fully_connected(9), softmax(), classification()];
//! let json = serde_json::to_string(&specs).unwrap();
//! assert_eq!(serde_json::from_str::<Vec<gru::network::LayerSpec>>(&json).unwrap(), specs);
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use gru_core::{EngineKind, GruSpec, Real};

use crate::error::{Error, Result};
use crate::suggest::{from_value_at, struct_fields, unknown_key};

use super::elementwise::{Elementwise, OutputTransform};
use crate::layer::{BiasInitializer, LearnFactors, WeightInitializer};

/// Normalization of a sequence input layer (MATLAB `Normalization`), and of regression
/// targets ([`crate::train::TrainingOptions::target_normalization`]).
///
/// Each is an affine map per channel `c`, `x' = (x - offset_c) / scale_c`, whose offset
/// and scale are computed from the training data (every valid step of every sequence) and
/// saved with the model:
///
/// | name | offset | scale |
/// |---|---|---|
/// | `"none"` | (the data pass unchanged) | |
/// | `"zscore"` | mean | standard deviation |
/// | `"zerocenter"` | mean | 1 |
/// | `"rescale-symmetric"` (to [-1, 1]) | (max + min) / 2 | (max - min) / 2 |
/// | `"rescale-zero-one"` (to [0, 1]) | min | max - min |
///
/// A channel whose scale would be 0 (constant data) gets scale 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Normalization {
    /// The data pass unchanged.
    #[default]
    #[serde(rename = "none")]
    None,
    /// `(x - mean_c) / std_c`.
    #[serde(rename = "zscore")]
    Zscore,
    /// `x - mean_c`.
    #[serde(rename = "zerocenter")]
    ZeroCenter,
    /// `(x - min_c) / (max_c - min_c) · 2 - 1`: to [-1, 1].
    #[serde(rename = "rescale-symmetric")]
    RescaleSymmetric,
    /// `(x - min_c) / (max_c - min_c)`: to [0, 1].
    #[serde(rename = "rescale-zero-one")]
    RescaleZeroOne,
}

impl Normalization {
    /// Each value with its MATLAB name.
    pub const NAMES: [(Self, &'static str); 5] = [
        (Self::None, "none"),
        (Self::Zscore, "zscore"),
        (Self::ZeroCenter, "zerocenter"),
        (Self::RescaleSymmetric, "rescale-symmetric"),
        (Self::RescaleZeroOne, "rescale-zero-one"),
    ];

    /// The MATLAB name ("zscore", ...).
    pub fn name(&self) -> &'static str {
        Self::NAMES.iter().find(|(v, _)| v == self).map_or("none", |(_, n)| n)
    }

    /// `(offset, scale)` per channel of the `[rows, channels]` row-major values of `rows`
    /// (each a slice of whole rows), or `None` for [`Normalization::None`] or no value.
    pub fn fit<'a, T: Real>(
        &self,
        channels: usize,
        rows: impl Iterator<Item = &'a [T]>,
    ) -> Option<(Vec<f64>, Vec<f64>)> {
        if *self == Normalization::None || channels == 0 {
            return None;
        }
        let (mut sum, mut sq, mut n) = (vec![0.0f64; channels], vec![0.0f64; channels], 0usize);
        let (mut lo, mut hi) = (vec![f64::INFINITY; channels], vec![f64::NEG_INFINITY; channels]);
        for row in rows.flat_map(|r| r.chunks_exact(channels)) {
            for c in 0..channels {
                let v = row[c].widen();
                sum[c] += v;
                sq[c] += v * v;
                lo[c] = lo[c].min(v);
                hi[c] = hi[c].max(v);
            }
            n += 1;
        }
        if n == 0 {
            return None;
        }
        let nonzero = |s: f64| if s > 0.0 && s.is_finite() { s } else { 1.0 };
        let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
        let pairs: Vec<(f64, f64)> = (0..channels)
            .map(|c| match self {
                Normalization::Zscore => (mean[c], nonzero((sq[c] / n as f64 - mean[c] * mean[c]).max(0.0).sqrt())),
                Normalization::ZeroCenter => (mean[c], 1.0),
                Normalization::RescaleSymmetric => ((hi[c] + lo[c]) / 2.0, nonzero((hi[c] - lo[c]) / 2.0)),
                Normalization::RescaleZeroOne => (lo[c], nonzero(hi[c] - lo[c])),
                Normalization::None => (0.0, 1.0),
            })
            .collect();
        Some(pairs.into_iter().unzip())
    }
}

impl std::fmt::Display for Normalization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Normalization {
    type Err = crate::error::Error;
    /// Reads a MATLAB name (any case); errors name the property "Normalization".
    fn from_str(s: &str) -> crate::error::Result<Self> {
        Self::NAMES.iter().find(|(_, n)| s.trim().eq_ignore_ascii_case(n)).map(|(v, _)| *v).ok_or_else(|| {
            let names: Vec<String> = Self::NAMES.iter().map(|(_, n)| format!("\"{n}\"")).collect();
            crate::error::Error::property("Normalization", format!("\"{s}\""), format!("expected {}", names.join(", ")))
        })
    }
}

/// One layer of a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LayerSpec {
    /// `sequenceInputLayer(input_size)`: the first layer.
    SequenceInput {
        input_size: usize,
        #[serde(default)]
        normalization: Normalization,
    },
    /// `gruLayer(num_hidden_units)` and the options beyond MATLAB.
    Gru(Box<GruLayerSpec>),
    /// `dropoutLayer(probability)`: in training, each value is zeroed with `probability`
    /// and the others scaled by `1 / (1 - probability)`; identity in prediction.
    Dropout { probability: f64 },
    /// `fullyConnectedLayer(output_size)`: `y = W x + b` per step, or per sequence after a
    /// GRU with output mode last. W is `output_size × input` row-major (glorot), b zeros.
    FullyConnected { output_size: usize },
    /// `softmaxLayer`: over the channels, per step or per sequence.
    Softmax,
    /// An element-wise activation (tanh, relu, logistic, ...; Korali's `Layer/Activation`).
    Activation(Elementwise),
    /// Korali's output layer: per-channel transformation, scale and shift.
    OutputTransform(OutputTransform),
    /// `classificationLayer`: cross-entropy on the softmax output, optional class weights.
    Classification {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        classes: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class_weights: Option<Vec<f64>>,
    },
    /// `regressionLayer`: half mean squared error.
    Regression,
}

/// The options of a GRU layer in a network: its math options, one [`GruSpec`] (H, depth,
/// directions, reset-gate mode, activations, clip, output mode; `spec.input_size` is 0
/// here, the network sets it from the layer before), and what the network owns: dropout
/// between stacked layers, the initializers, the learnable initial state, the learn-rate
/// and L2 factors and the engine.
///
/// JSON: one flat object, the keys of [`gru_core::spec::LayerArrayJson`] (`num_hidden_units`,
/// `output_mode`, ...) then `dropout`, `input_weights_initializer`,
/// `recurrent_weights_initializer`, `bias_initializer` (MATLAB names, see
/// [`crate::layer::init`]), `learnable_initial_state`, `factors`, `engine`; unknown keys
/// (`input_size` included) are refused. A custom or Korali initializer cannot be written:
/// serialization fails and [`super::Network::new`] refuses such a spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GruLayerSpec {
    #[serde(flatten, with = "gru_core::spec::LayerArrayJson")]
    pub spec: GruSpec,
    /// Dropout between the stacked layers of this GRU (PyTorch's `dropout=`), in training.
    #[serde(default)]
    pub dropout: f64,
    #[serde(default = "glorot")]
    pub input_weights_initializer: WeightInitializer,
    #[serde(default = "orthogonal")]
    pub recurrent_weights_initializer: WeightInitializer,
    #[serde(default)]
    pub bias_initializer: BiasInitializer,
    #[serde(default)]
    pub learnable_initial_state: bool,
    #[serde(default = "LearnFactors::default")]
    pub factors: LearnFactors,
    #[serde(default)]
    pub engine: EngineKind,
}

fn glorot() -> WeightInitializer {
    WeightInitializer::Glorot
}
fn orthogonal() -> WeightInitializer {
    WeightInitializer::Orthogonal
}

impl GruLayerSpec {
    /// A layer of these math options (`spec.input_size` is ignored: the network gives it),
    /// everything else at MATLAB's defaults: no dropout, glorot, orthogonal and zeros
    /// initializers, no learnable initial state, default factors, the Korali engine.
    pub fn new(spec: GruSpec) -> Self {
        Self {
            spec: GruSpec { input_size: 0, ..spec },
            dropout: 0.0,
            input_weights_initializer: glorot(),
            recurrent_weights_initializer: orthogonal(),
            bias_initializer: BiasInitializer::Zeros,
            learnable_initial_state: false,
            factors: LearnFactors::default(),
            engine: EngineKind::Korali,
        }
    }

    crate::layer::setters::gru_option_setters!();

    /// Dropout between stacked layers (needs depth >= 2 to have an effect).
    pub fn dropout(mut self, probability: f64) -> Self {
        self.dropout = probability;
        self
    }
    pub fn factors(mut self, factors: LearnFactors) -> Self {
        self.factors = factors;
        self
    }
}

impl From<GruLayerSpec> for LayerSpec {
    fn from(g: GruLayerSpec) -> Self {
        LayerSpec::Gru(Box::new(g))
    }
}

/// `sequenceInputLayer(input_size)`.
pub fn sequence_input(input_size: usize) -> LayerSpec {
    LayerSpec::SequenceInput { input_size, normalization: Normalization::None }
}

/// `sequenceInputLayer(input_size, Normalization="zscore")`.
pub fn sequence_input_zscore(input_size: usize) -> LayerSpec {
    LayerSpec::SequenceInput { input_size, normalization: Normalization::Zscore }
}

/// `gruLayer(num_hidden_units)` with MATLAB's defaults.
pub fn gru(num_hidden_units: usize) -> GruLayerSpec {
    GruLayerSpec::new(GruSpec::new(0, num_hidden_units))
}

/// `dropoutLayer(probability)`.
pub fn dropout(probability: f64) -> LayerSpec {
    LayerSpec::Dropout { probability }
}

/// `fullyConnectedLayer(output_size)`.
pub fn fully_connected(output_size: usize) -> LayerSpec {
    LayerSpec::FullyConnected { output_size }
}

/// `softmaxLayer`.
pub fn softmax() -> LayerSpec {
    LayerSpec::Softmax
}

/// An element-wise activation layer.
pub fn activation(function: Elementwise) -> LayerSpec {
    LayerSpec::Activation(function)
}

/// `classificationLayer` (classes named from the data).
pub fn classification() -> LayerSpec {
    LayerSpec::Classification { classes: None, class_weights: None }
}

/// `classificationLayer(Classes=..., ClassWeights=...)`.
pub fn classification_weighted(classes: Vec<String>, class_weights: Vec<f64>) -> LayerSpec {
    LayerSpec::Classification { classes: Some(classes), class_weights: Some(class_weights) }
}

/// `regressionLayer`.
pub fn regression() -> LayerSpec {
    LayerSpec::Regression
}

/// A layer array: `layers![sequence_input(12), gru(100), fully_connected(9), softmax(), classification()]`.
#[macro_export]
macro_rules! layers {
    ($($layer:expr),* $(,)?) => {
        vec![$($crate::network::LayerSpec::from($layer)),*]
    };
}

/// Reads a layer array from JSON text (the form of [`LayerSpec`]'s serialization, what
/// `gru train --network` reads). A key no layer of that type has is [`Error::UnknownKey`]
/// naming its path (`[1]["output_mod"]`) and the closest known key; a misspelt value
/// (a layer type, an output mode, ...) is [`Error::Config`] naming the closest one.
pub fn layers_from_json(text: &str) -> Result<Vec<LayerSpec>> {
    let value: Value = serde_json::from_str(text).map_err(|e| Error::config("<root>", "(not JSON)", e.to_string()))?;
    let Value::Array(items) = &value else {
        return Err(Error::config("<root>", crate::suggest::show(&value), "expected a JSON array of layers"));
    };
    // A GRU layer's keys are flattened, where serde names no expected key (and reports a
    // missing key before an unknown one): check them here. The GRU options' keys are the
    // fields `LayerArrayJson` asks serde for (those it writes only when set included), the
    // layer's own keys those a layer serializes (it writes every one).
    let mut gru_keys: Vec<String> =
        struct_fields(gru_core::spec::LayerArrayJson::deserialize).into_iter().map(String::from).collect();
    if let Ok(Value::Object(map)) = serde_json::to_value(LayerSpec::from(gru(1))) {
        gru_keys.extend(map.keys().filter(|k| !gru_keys.contains(k)).cloned().collect::<Vec<_>>());
    }
    let gru_keys: Vec<&str> = gru_keys.iter().map(String::as_str).collect();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let base = format!("[{i}]");
            if let Some(map) = item.as_object().filter(|m| m.get("type") == Some(&Value::from("gru"))) {
                if let Some(key) = map.keys().find(|k| !gru_keys.contains(&k.as_str())) {
                    return Err(unknown_key(&base, key, &gru_keys));
                }
            }
            from_value_at(item, &base, &gru_keys)
        })
        .collect()
}

/// A lower bound of the learnable values `specs` need (W and R of every GRU layer, the
/// fully connected weights; saturating): what a file must hold before a network of these
/// layers is built from it, so that a crafted header cannot make a reader allocate more
/// than the file brings.
pub fn min_params(specs: &[LayerSpec]) -> usize {
    let (mut width, mut needed) = (0usize, 0usize);
    for spec in specs {
        match spec {
            LayerSpec::SequenceInput { input_size, .. } => width = *input_size,
            LayerSpec::Gru(g) => {
                let (h, dirs) = (g.spec.hidden_size, g.spec.directions());
                // 3H·(I + H) per direction for the first layer, 3H·(dirs·H + H) above it.
                let first = width.saturating_add(h).saturating_mul(h).saturating_mul(3 * dirs);
                let above = h.saturating_mul(dirs + 1).saturating_mul(h).saturating_mul(3 * dirs);
                needed =
                    needed.saturating_add(first).saturating_add(above.saturating_mul(g.spec.depth.saturating_sub(1)));
                width = h.saturating_mul(dirs);
            }
            LayerSpec::FullyConnected { output_size } => {
                needed = needed.saturating_add(width.saturating_mul(*output_size));
                width = *output_size;
            }
            _ => {}
        }
    }
    needed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_arrays_suggest_the_closest_key_and_value() {
        let json =
            |gru: &str| format!(r#"[{{"type": "sequence-input", "input_size": 1}}, {gru}, {{"type": "regression"}}]"#);
        let specs = layers_from_json(&json(r#"{"type": "gru", "num_hidden_units": 4}"#)).unwrap();
        assert_eq!(specs[1], LayerSpec::from(gru(4)));
        // Every key of a GRU layer is known, those written only when set (clip) included.
        let mut full = gru(3).depth(2).bidirectional(true).dropout(0.1);
        full.spec.clip = Some(2.0);
        let text = serde_json::to_string(&vec![LayerSpec::from(full.clone())]).unwrap();
        assert!(text.contains("\"clip\""), "{text}");
        assert_eq!(layers_from_json(&text).unwrap(), vec![LayerSpec::from(full)]);
        // A flattened GRU key (serde names no expected key there).
        match layers_from_json(&json(r#"{"type": "gru", "num_hidden_units": 4, "output_mod": "last"}"#)) {
            Err(Error::UnknownKey { path, suggestion }) => {
                assert_eq!((path.as_str(), suggestion.as_deref()), (r#"[1]["output_mod"]"#, Some("output_mode")));
            }
            other => panic!("{other:?}"),
        }
        let err = |text: &str| layers_from_json(text).unwrap_err().to_string();
        let e = err(&json(r#"{"type": "gru", "num_hiden_units": 4}"#));
        assert!(e.contains(r#"[1]["num_hiden_units"]"#) && e.contains(r#"did you mean "num_hidden_units""#), "{e}");
        let e = err(r#"[{"type": "sequence-input", "input_sise": 1}]"#);
        assert!(e.contains(r#"[0]["input_sise"]"#) && e.contains(r#"did you mean "input_size""#), "{e}");
        let e = err(r#"[{"type": "sequence_input", "input_size": 1}]"#);
        assert!(e.contains(r#"[0]["type"]"#) && e.contains(r#"did you mean "sequence-input""#), "{e}");
        let e = err(&json(r#"{"type": "gru", "num_hidden_units": 4, "output_mode": "lst"}"#));
        assert!(e.contains(r#"[1]["output_mode"]"#) && e.contains(r#"did you mean "last""#), "{e}");
        assert!(err(r#"{"type": "gru"}"#).contains("expected a JSON array of layers"));
    }
}
