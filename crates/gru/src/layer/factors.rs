//! Per-gate learn-rate and L2 factors (MATLAB `InputWeightsLearnRateFactor`, ...).
//!
//! A factor is a scalar (the same for the three gates) or one value per gate in canonical
//! order `[r z n]`. The trainer multiplies the global learn rate (or L2 regularization)
//! by the factor of the gate a parameter row belongs to.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A learn-rate or L2 factor: one scalar, or one value per gate `[r z n]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GateFactor {
    Scalar(f64),
    PerGate([f64; 3]),
}

impl GateFactor {
    /// The factor of each gate, `[r z n]`.
    pub fn per_gate(&self) -> [f64; 3] {
        match *self {
            GateFactor::Scalar(v) => [v; 3],
            GateFactor::PerGate(v) => v,
        }
    }

    /// Checks that every value is finite and non-negative; `property` names it in errors.
    pub fn validate(&self, property: &str) -> Result<()> {
        match self.per_gate().iter().find(|v| !v.is_finite() || **v < 0.0) {
            Some(bad) => {
                Err(Error::property(property, format!("{self:?}"), format!("{bad} is not a finite value >= 0")))
            }
            None => Ok(()),
        }
    }
}

impl From<f64> for GateFactor {
    fn from(v: f64) -> Self {
        GateFactor::Scalar(v)
    }
}

impl From<[f64; 3]> for GateFactor {
    fn from(v: [f64; 3]) -> Self {
        GateFactor::PerGate(v)
    }
}

/// The six factors of a GRU layer with MATLAB's defaults: every learn-rate factor 1,
/// `InputWeightsL2Factor` and `RecurrentWeightsL2Factor` 1, `BiasL2Factor` 0.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnFactors {
    pub input_weights_learn_rate: GateFactor,
    pub recurrent_weights_learn_rate: GateFactor,
    pub bias_learn_rate: GateFactor,
    pub input_weights_l2: GateFactor,
    pub recurrent_weights_l2: GateFactor,
    pub bias_l2: GateFactor,
}

impl Default for LearnFactors {
    fn default() -> Self {
        Self {
            input_weights_learn_rate: GateFactor::Scalar(1.0),
            recurrent_weights_learn_rate: GateFactor::Scalar(1.0),
            bias_learn_rate: GateFactor::Scalar(1.0),
            input_weights_l2: GateFactor::Scalar(1.0),
            recurrent_weights_l2: GateFactor::Scalar(1.0),
            bias_l2: GateFactor::Scalar(0.0),
        }
    }
}

impl LearnFactors {
    /// Checks all six factors, naming the MATLAB property of a bad one.
    pub fn validate(&self) -> Result<()> {
        self.input_weights_learn_rate.validate("InputWeightsLearnRateFactor")?;
        self.recurrent_weights_learn_rate.validate("RecurrentWeightsLearnRateFactor")?;
        self.bias_learn_rate.validate("BiasLearnRateFactor")?;
        self.input_weights_l2.validate("InputWeightsL2Factor")?;
        self.recurrent_weights_l2.validate("RecurrentWeightsL2Factor")?;
        self.bias_l2.validate("BiasL2Factor")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_matlab_defaults_and_json_accepts_both_forms() {
        let f = LearnFactors::default();
        assert_eq!(f.bias_l2.per_gate(), [0.0; 3]);
        assert_eq!(f.input_weights_l2.per_gate(), [1.0; 3]);
        let s: GateFactor = serde_json::from_str("2.5").unwrap();
        assert_eq!(s.per_gate(), [2.5; 3]);
        let g: GateFactor = serde_json::from_str("[1, 0.5, 0]").unwrap();
        assert_eq!(g.per_gate(), [1.0, 0.5, 0.0]);
        f.validate().unwrap();
    }

    #[test]
    fn bad_factors_name_the_property() {
        let f = LearnFactors { bias_learn_rate: GateFactor::PerGate([1.0, -1.0, 0.0]), ..Default::default() };
        match f.validate() {
            Err(Error::Property { property, .. }) => assert_eq!(property, "BiasLearnRateFactor"),
            other => panic!("{other:?}"),
        }
        assert!(GateFactor::Scalar(f64::NAN).validate("X").is_err());
    }
}
