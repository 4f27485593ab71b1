//! [`Regularization`]: the training regularizers of a GRU stack, an option of
//! [`crate::GruSpec`] (`spec.regularization`), and their validation.

use serde::{Deserialize, Serialize};

use crate::error::{GruError, Result};

/// The regularizers of a GRU stack (all off by default). For one layer and direction, in
/// training (`m_x`, `m_h`, `M_R`, `k` are masks drawn by the counter-based generator of
/// `regularize/rng.rs` from (`seed`, the minibatch's draw, block, sequence, step, unit)):
///
/// ```text
/// x̃_t = m_x ⊙ x_t                      input dropout: m_x ∈ {0, 1/(1-p_x)} per (layer, sequence, channel)
/// h̃   = m_h ⊙ h_{t-1}                  recurrent dropout: m_h ∈ {0, 1/(1-p_h)} per (block, sequence, unit)
/// R̃   = M_R ⊙ R                        weight drop: M_R ∈ {0, 1/(1-p_w)} per (block, row, column), one per minibatch
/// gx  = LN_x(W x̃_t),  gh = LN_h(R̃ h̃)  layer norm per gate block (identity when off)
/// r, z, n from gx + b and gh as in the plain GRU (before-multiplication: gh_n = LN_h(R̃_n (r ⊙ h̃)))
/// h'_t = (1 - z) ⊙ n + z ⊙ h_{t-1}      (the unmasked state)
/// h_t  = k ⊙ h_{t-1} + (1 - k) ⊙ h'_t   zoneout: k ∈ {0, 1} with P(k = 1) = p_z, per (block, sequence, step, unit)
/// ```
///
/// `LN(v) = γ ⊙ (v - mean(v)) / sqrt(var(v) + ε) + β` over the H values of one gate, with a
/// learnable gain γ and bias β per gate and part (input, recurrent): 12H parameters per block
/// (`BlockParams::norm`), ε = [`LAYER_NORM_EPSILON`].
///
/// Inference (`PreparedGru::forward`, streams, exports) computes the expectation: the dropouts
/// vanish (inverted scaling), zoneout is `h_t = p_z h_{t-1} + (1 - p_z) h'_t`, layer norm stays.
/// A stack with only dropouts therefore predicts as the plain GRU.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Regularization {
    /// p_x: dropout of each layer's input, one mask per sequence for all steps.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub input_dropout: f64,
    /// p_h: variational dropout of h_{t-1} inside the recurrent product (Gal & Ghahramani),
    /// one mask per sequence for all steps.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recurrent_dropout: f64,
    /// p_z: zoneout (Krueger et al.), a fresh mask per step and unit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub zoneout: f64,
    /// p_w: DropConnect on R (AWD-LSTM's weight drop), one mask per minibatch.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight_drop: f64,
    /// Layer normalization of the input and recurrent gate pre-activations (Ba et al.).
    #[serde(default, skip_serializing_if = "is_false")]
    pub layer_norm: bool,
    /// The masks' seed (with the minibatch's draw, see `PreparedGru::set_mask_draw`).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub seed: u64,
}

/// ε of the layer normalization: `(v - mean) / sqrt(var + ε)`.
pub const LAYER_NORM_EPSILON: f64 = 1e-5;

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

impl Regularization {
    /// No regularizer (the default).
    pub const NONE: Regularization = Regularization {
        input_dropout: 0.0,
        recurrent_dropout: 0.0,
        zoneout: 0.0,
        weight_drop: 0.0,
        layer_norm: false,
        seed: 0,
    };

    /// Whether every option is at its default (the plain GRU, written as no key at all).
    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// Whether training draws masks (some rate > 0).
    pub fn has_masks(&self) -> bool {
        self.input_dropout > 0.0 || self.recurrent_dropout > 0.0 || self.zoneout > 0.0 || self.weight_drop > 0.0
    }

    /// Whether inference differs from the plain GRU: zoneout (its expectation) or layer norm.
    pub fn changes_inference(&self) -> bool {
        self.zoneout > 0.0 || self.layer_norm
    }

    /// Whether any regularizer is on (a mask rate > 0 or layer norm); the seed alone is not one.
    pub fn is_active(&self) -> bool {
        self.has_masks() || self.layer_norm
    }

    pub fn with_input_dropout(mut self, p: f64) -> Self {
        self.input_dropout = p;
        self
    }
    pub fn with_recurrent_dropout(mut self, p: f64) -> Self {
        self.recurrent_dropout = p;
        self
    }
    pub fn with_zoneout(mut self, p: f64) -> Self {
        self.zoneout = p;
        self
    }
    pub fn with_weight_drop(mut self, p: f64) -> Self {
        self.weight_drop = p;
        self
    }
    pub fn with_layer_norm(mut self, yes: bool) -> Self {
        self.layer_norm = yes;
        self
    }
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The names and values of the rates, for messages and refusals.
    pub fn rates(&self) -> [(&'static str, f64); 4] {
        [
            ("regularization.input_dropout", self.input_dropout),
            ("regularization.recurrent_dropout", self.recurrent_dropout),
            ("regularization.zoneout", self.zoneout),
            ("regularization.weight_drop", self.weight_drop),
        ]
    }

    /// The first option that is on, as `(field, value)` (for an engine's refusal), or `None`.
    pub fn first_active(&self) -> Option<(&'static str, String)> {
        if let Some((field, p)) = self.rates().into_iter().find(|(_, p)| *p > 0.0) {
            return Some((field, p.to_string()));
        }
        self.layer_norm.then(|| ("regularization.layer_norm", "true".to_string()))
    }

    /// Checks every rate: finite and in `[0, 1)`; the error names the field and the value.
    pub fn validate(&self) -> Result<()> {
        for (field, p) in self.rates() {
            if !(p.is_finite() && (0.0..1.0).contains(&p)) {
                return Err(GruError::option(field, p, "must be a probability in [0, 1)"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_outside_zero_one_are_refused_by_name() {
        let cases = [
            (Regularization::NONE.with_input_dropout(1.0), "regularization.input_dropout", "1"),
            (Regularization::NONE.with_recurrent_dropout(-0.1), "regularization.recurrent_dropout", "-0.1"),
            (Regularization::NONE.with_zoneout(f64::NAN), "regularization.zoneout", "NaN"),
            (Regularization::NONE.with_weight_drop(f64::INFINITY), "regularization.weight_drop", "inf"),
        ];
        for (reg, field, value) in cases {
            match reg.validate() {
                Err(GruError::InvalidOption { field: f, value: v, .. }) => {
                    assert_eq!((f.as_str(), v.as_str()), (field, value))
                }
                other => panic!("{field}: expected InvalidOption, got {other:?}"),
            }
        }
        Regularization::NONE.with_zoneout(0.999).with_layer_norm(true).validate().unwrap();
    }

    #[test]
    fn only_options_that_are_set_are_written() {
        assert_eq!(serde_json::to_string(&Regularization::NONE).unwrap(), "{}");
        let r = Regularization::NONE.with_recurrent_dropout(0.25).with_layer_norm(true).with_seed(7);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"recurrent_dropout":0.25,"layer_norm":true,"seed":7}"#);
        assert_eq!(serde_json::from_str::<Regularization>(&json).unwrap(), r);
        assert!(serde_json::from_str::<Regularization>(r#"{"zonout": 0.1}"#).is_err());
        assert!(r.is_active() && r.has_masks() && r.changes_inference());
        assert!(!Regularization::NONE.with_seed(3).is_active());
        assert_eq!(r.first_active(), Some(("regularization.recurrent_dropout", "0.25".into())));
    }
}
