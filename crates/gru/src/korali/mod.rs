//! The Korali configuration of a neural network with GRU layers, as typed Rust, loaded from
//! and saved to Korali's JSON.
//!
//! Korali (github.com/cselab/korali) describes a network either as its NeuralNetwork module
//! (`{"Engine", "Mode", "Timestep Count", "Batch Sizes", "Layers": [...]}`) or as the
//! `"Neural Network"` section of its DeepSupervisor solver (`{"Engine", "Optimizer",
//! "Hidden Layers": [...], "Output Activation", "Output Layer"}`). [`KoraliNetwork`] reads
//! both and saves each back under the key it was read from ([`LayerList`]).
//!
//! | key | default | maps to |
//! |---|---|---|
//! | `"Engine"` | `"Korali"` | [`EngineKind`](gru_core::EngineKind): `"Korali"`, `"OneDNN"`, `"CuDNN"` |
//! | `"Mode"` | `"Training"` | [`Mode`](gru_core::Mode): `"Training"`, `"Inference"` |
//! | `"Timestep Count"` | none | the longest sequence of the engine's plan (> 0) |
//! | `"Batch Sizes"` | `[]` | the batch sizes of the engine's plan (each > 0) |
//! | `"Layers"` / `"Hidden Layers"` | required | [`KoraliLayer`]s, in order |
//! | `"Uniform Generator"` | uniform on [-1, 1] | [`UniformGenerator`], initial weights |
//! | `"Optimizer"`, `"Output Activation"`, `"Output Layer"` | absent | [`KoraliNetwork::solver_keys`], verbatim |
//! | `"Type"` | absent | `"Neural Network"` only (what the DeepSupervisor writes) |
//!
//! Both forms accept every key of this table. (Korali's DeepSupervisor section itself knows
//! only `"Engine"`, `"Optimizer"`, `"Hidden Layers"`, `"Output Activation"` and `"Output
//! Layer"`; `to_json` writes the others there only when they were given or are not default.)
//!
//! Layers: `Layer/Recurrent/GRU` ([`KoraliGru`]), `Layer/Linear`, `Layer/Activation`,
//! `Layer/Input`, `Layer/Output`. `Layer/Recurrent/LSTM` is refused with
//! [`Error::Unsupported`](crate::Error::Unsupported) (this project implements GRU layers
//! only), and so are Korali's convolution, deconvolution, pooling and resampling layers.
//!
//! # The reset gate: a Korali config names none
//! Korali's configs do not say where the reset gate applies, and Korali's own engines
//! disagree: its OneDNN engine runs oneDNN's `gru`, which is *before-multiplication*
//! (`n = tanh(W_n x + b_n + R_n (r ⊙ h))`), while its CuDNN engine runs `CUDNN_GRU` with
//! `CUDNN_RNN_SINGLE_REC_BIAS`, which is *recurrent-bias-after-multiplication* with only a
//! recurrent bias (`n = tanh(W_n x + r ⊙ (R_n h + b'_n))`, input bias 0); its Korali engine
//! refuses recurrent layers. Here a Korali config means before-multiplication on every
//! engine ([`KoraliGru::DEFAULT_RESET_GATE_MODE`]), and the extra layer key
//! `"Reset Gate Mode"` (`"after-multiplication"`, `"before-multiplication"`,
//! `"recurrent-bias-after-multiplication"`) selects another. See `shared/DESIGN.md`.
//!
//! # Depth
//! `"Depth"` > 1 stacks GRU layers and works for any input size: the first layer reads the
//! previous layer's channels, the others H. (Korali requires the previous layer to have as
//! many channels as the GRU layer; this project does not.)
//!
//! # What is kept, what is dropped
//! - Keys unknown to Korali are an [`Error::UnknownKey`](crate::Error::UnknownKey) naming
//!   the path and the closest known key (`"Outpt Channels"` → `"Output Channels"`).
//! - Wrong types and out-of-range values are an [`Error::Config`](crate::Error::Config)
//!   naming the path (`["Layers"][1]["Output Channels"]`), the value as JSON and what was
//!   expected. Sizes are non-negative JSON integers (`32.0` is accepted).
//! - Keys that Korali knows but that change nothing here (`"Results"`, `"Current Training
//!   Loss"`, `"Input Values"`, `"Output Values"`, `"Console Output"`, `"File Output"`, a
//!   layer's `"Index"`, `"Dropout Probability"` 0 (non-zero is refused), the channels of
//!   activation and output layers, which Korali takes from the layer before, ...) are
//!   accepted and returned as [`ConfigWarning`]s; **`to_json` does not write them back**.
//! - The solver keys are kept verbatim and written back.
//! - A defaulted key is written back when it was given ([`ExplicitKeys`]) or differs from
//!   its default, so that a Korali file without ignored keys saves back as the same JSON
//!   value. Numbers are written in one form: sizes as integers, other values as floats.
//!
//! ```
//! use gru::korali::{KoraliLayer, KoraliNetwork};
//! use gru::ResetGateMode;
//!
//! # fn main() -> gru::Result<()> {
//! // The network of Korali's RNN example (examples/learning/supervised/sineWave/run-rnn.py).
//! let text = r#"{"Engine": "OneDNN", "Optimizer": "Adam",
//!               "Hidden Layers": [{"Type": "Layer/Recurrent/GRU", "Depth": 1, "Output Channels": 32}]}"#;
//! let (net, warnings) = KoraliNetwork::from_str(text)?;
//! assert!(warnings.is_empty());
//! let KoraliLayer::Gru(gru) = &net.layers[0] else { unreachable!() };
//! assert_eq!(gru.reset_gate_mode, ResetGateMode::BeforeMultiplication);
//! assert_eq!(gru.spec(1).hidden_size, 32);
//! assert_eq!(net.to_json(), serde_json::from_str::<serde_json::Value>(text).unwrap());
//! # Ok(())
//! # }
//! ```

mod build;
mod experiment;
mod gru;
mod json;
mod layers;
mod names;
mod network;
pub mod optimizer;
mod run;

use std::collections::BTreeSet;
use std::fmt;

pub use experiment::{DeepSupervisor, KoraliExperiment, KoraliLoss, SupervisedProblem, MAX_SEQUENCE_STEPS};
pub use gru::KoraliGru;
pub use layers::{KoraliActivation, KoraliInput, KoraliLayer, KoraliLinear, KoraliOutput};
pub use network::{KoraliNetwork, LayerList, UniformGenerator};
pub use optimizer::{KoraliOptimizer, KoraliOptimizerState};
pub use run::{predict_sequences, GenerationReport};

/// A key that was accepted but ignored: where it was and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The key's path, e.g. `["Layers"][1]["Dropout Probability"]`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The defaulted keys that a loaded JSON object spelled out, so that `to_json` writes them
/// back even at their default value. Formatting memory only: it never makes two configs
/// unequal (its `PartialEq` is always true), so `from_json(to_json(x)) == x` compares meaning.
#[derive(Clone, Debug, Default)]
pub struct ExplicitKeys(BTreeSet<String>);

impl ExplicitKeys {
    /// These keys, marked given.
    pub fn of(keys: &[&str]) -> Self {
        Self(keys.iter().map(|k| k.to_string()).collect())
    }
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains(key)
    }
    pub fn insert(&mut self, key: &str) {
        self.0.insert(key.to_string());
    }
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl PartialEq for ExplicitKeys {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}
