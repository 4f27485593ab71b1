//! What first drew a network's learnable values, recorded in its model file (the model
//! JSON's `"initialization"`) so that `gru inspect` reports what was used.

use serde::{Deserialize, Serialize};

/// How a network's learnable values were initialized.
///
/// JSON: `{"kind": "layers"}`, `{"kind": "korali-uniform", "minimum": -1.0, "maximum": 1.0,
/// "weight_scalings": [1.0, 1.0]}` or `{"kind": "not-recorded"}`; a model file without the
/// key (written before gru recorded it) reads as [`Initialization::NotRecorded`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Initialization {
    /// The initializers of the layer array, drawn from the network's seed: each GRU's
    /// `input_weights_initializer`, `recurrent_weights_initializer` and `bias_initializer`
    /// (MATLAB's glorot, orthogonal and zeros by default), glorot weights and zero biases
    /// for fully connected layers.
    Layers,
    /// Korali's DeepSupervisor initialization: every weight of a GRU or linear layer
    /// `s · sqrt(6 / (in + out)) · U(minimum, maximum)` (Korali's "Uniform Generator"),
    /// biases 0, from the experiment's "Random Seed" (the network's seed); `weight_scalings`
    /// are each such layer's `s` in order ("Weight Scaling"; the final linear layer's is
    /// "Output Weights Scaling").
    KoraliUniform { minimum: f64, maximum: f64, weight_scalings: Vec<f64> },
    /// The model file does not say (a file written before gru recorded it).
    NotRecorded,
}

impl Initialization {
    /// One line for people: what drew the initial values.
    pub fn describe(&self, seed: u64) -> String {
        match self {
            Initialization::Layers => {
                format!("the layers' initializers (listed with each layer), seed {seed}")
            }
            Initialization::KoraliUniform { minimum, maximum, weight_scalings } => format!(
                "Korali's uniform initialization: each GRU and linear weight s·sqrt(6/(in+out))·U({minimum}, {maximum}), \
                 biases 0, Random Seed {seed}; weight scalings s {weight_scalings:?}"
            ),
            Initialization::NotRecorded => {
                "not recorded (a model file written before gru recorded it: the layers' initializers listed \
                 may not be what was used)"
                    .to_string()
            }
        }
    }
}
