//! `GruSpec`: every option of one GRU stack (MATLAB `gruLayer`, Korali, ONNX, PyTorch).

use serde::{Deserialize, Serialize};

use crate::error::{GruError, Result};
pub use crate::regularize::{Regularization, LAYER_NORM_EPSILON};

/// How the reset gate enters the candidate state `n_t` (see `shared/DESIGN.md`):
///
/// ```text
/// AfterMultiplication:              n = σ_s(W_n x + b_n + r ⊙ (R_n h))
/// BeforeMultiplication:             n = σ_s(W_n x + b_n + R_n (r ⊙ h))
/// RecurrentBiasAfterMultiplication: n = σ_s(W_n x + b_n + r ⊙ (R_n h + b'_n))
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ResetGateMode {
    /// MATLAB's default; cuDNN `SINGLE_INP_BIAS`. Bias has 3H values.
    #[default]
    AfterMultiplication,
    /// oneDNN `gru`, Keras `reset_after=False`, ONNX `linear_before_reset=0`. Bias 3H.
    BeforeMultiplication,
    /// PyTorch, Keras default, ONNX `linear_before_reset=1`, oneDNN `lbr_gru`. Bias 6H.
    RecurrentBiasAfterMultiplication,
}

impl ResetGateMode {
    /// All modes, for conformance sweeps.
    pub const ALL: [ResetGateMode; 3] = [
        ResetGateMode::AfterMultiplication,
        ResetGateMode::BeforeMultiplication,
        ResetGateMode::RecurrentBiasAfterMultiplication,
    ];

    /// Bias length per layer and direction: 3H, or 6H for the recurrent-bias mode.
    pub fn bias_len(self, hidden: usize) -> usize {
        match self {
            ResetGateMode::RecurrentBiasAfterMultiplication => 6 * hidden,
            _ => 3 * hidden,
        }
    }

    /// [`ResetGateMode::bias_len`] without overflow.
    pub fn bias_len_checked(self, hidden: usize) -> Option<usize> {
        match self {
            ResetGateMode::RecurrentBiasAfterMultiplication => hidden.checked_mul(6),
            _ => hidden.checked_mul(3),
        }
    }

    /// The MATLAB name (`"after-multiplication"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ResetGateMode::AfterMultiplication => "after-multiplication",
            ResetGateMode::BeforeMultiplication => "before-multiplication",
            ResetGateMode::RecurrentBiasAfterMultiplication => "recurrent-bias-after-multiplication",
        }
    }
}

/// σ_s, the activation of the candidate state: `tanh(x)` or `softsign(x) = x / (1 + |x|)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum StateActivation {
    #[default]
    Tanh,
    Softsign,
}

/// σ_g, the activation of the reset and update gates:
/// `sigmoid(x) = 1 / (1 + e^-x)` or `hard-sigmoid(x) = clamp(alpha·x + beta, 0, 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum GateActivation {
    #[default]
    Sigmoid,
    /// MATLAB and ONNX default alpha 0.2, beta 0.5 (Keras 3 uses alpha 1/6).
    HardSigmoid { alpha: f64, beta: f64 },
}

impl GateActivation {
    /// Hard-sigmoid with MATLAB's and ONNX's defaults (alpha 0.2, beta 0.5).
    pub const HARD_SIGMOID: GateActivation = GateActivation::HardSigmoid { alpha: 0.2, beta: 0.5 };
}

/// What the stack returns as `y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OutputMode {
    /// `y` is `[T, B, dirs·H]`, zero past each sequence's length.
    #[default]
    Sequence,
    /// `y` is `[B, dirs·H]`: `y[b] = y_seq[len_b - 1, b, :]`.
    Last,
}

/// Every math option of a GRU stack, in one place: the engines read it, and the layer
/// builder (`gru::GruLayerBuilder`) and the network's layer spec (`gru::network::GruLayerSpec`)
/// embed it whole, adding only what they own (initializers, factors, state inputs, engine).
/// Build with [`GruSpec::new`] and the `with_*` setters, then [`GruSpec::validate`], the one
/// check of these options (engines validate again at `prepare`).
///
/// For one layer and direction (gate order r, z, n; `shared/DESIGN.md`):
///
/// ```text
/// r_t = σ_g(W_r x_t + R_r h_{t-1} + b_r)         σ_g: gate_activation
/// z_t = σ_g(W_z x_t + R_z h_{t-1} + b_z)
/// n_t = σ_s(W_n x_t + b_n + r_t ⊙ (R_n h_{t-1}))  σ_s: state_activation; the reset
///                                                  product by reset_gate_mode
/// h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
/// ```
///
/// with every gate pre-activation clamped to `[-clip, clip]` when `clip` is set.
/// Depth D stacks D layers: layer 0 reads `input_size` channels, layers 1..D read
/// `dirs·hidden_size` (the concatenated `[forward, backward]` output of the layer below).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GruSpec {
    /// I: channels of the input sequence.
    pub input_size: usize,
    /// H: hidden units per layer and direction.
    pub hidden_size: usize,
    /// D: stacked layers (Korali's "Depth").
    #[serde(default = "one")]
    pub depth: usize,
    /// A reverse direction in every layer; outputs concatenated `[forward, backward]`.
    #[serde(default)]
    pub bidirectional: bool,
    /// A unidirectional stack whose every layer runs backward in time (ONNX `direction =
    /// "reverse"`): sequence b is read from step `lengths[b] - 1` down to 0, and y_t is the
    /// state after reading x_t, in input order (the backward half of a bidirectional stack).
    /// Only with `bidirectional` false. Written only when set.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reverse: bool,
    #[serde(default)]
    pub reset_gate_mode: ResetGateMode,
    #[serde(default)]
    pub state_activation: StateActivation,
    #[serde(default)]
    pub gate_activation: GateActivation,
    /// ONNX `clip`: each gate's complete pre-activation is clamped to `[-c, c]`.
    #[serde(default)]
    pub clip: Option<f64>,
    #[serde(default)]
    pub output_mode: OutputMode,
    /// Training regularizers (dropouts, zoneout, weight drop) and layer norm; see
    /// [`Regularization`] for the equations. Written only when set.
    #[serde(default, skip_serializing_if = "Regularization::is_none")]
    pub regularization: Regularization,
}

fn one() -> usize {
    1
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The JSON of a [`GruSpec`] inside a network's layer array (`gru::network::GruLayerSpec`,
/// flattened beside the layer's own keys): H is MATLAB's `num_hidden_units`, the input size
/// is not written (the network gives it: 0 here means "not known yet"), `clip` is written
/// only when set, every other key has the default of [`GruSpec::new`]. Keys in this order:
///
/// ```text
/// {"num_hidden_units": H, "output_mode", "reset_gate_mode", "state_activation",
///  "gate_activation", "clip"?, "depth", "bidirectional", "reverse"?, "regularization"?}
/// ```
///
/// `"regularization"` is the object of [`Regularization`] (`{"recurrent_dropout": 0.25,
/// "zoneout": 0.1, "layer_norm": true, "seed": 7}`, only the options that are set), written
/// only when one is set.
///
/// Use it as `#[serde(flatten, with = "gru_core::spec::LayerArrayJson")]`. The compiler
/// checks that it names every field of [`GruSpec`]: a new option gets its key here.
#[derive(Serialize, Deserialize)]
#[serde(remote = "GruSpec")]
pub struct LayerArrayJson {
    #[serde(skip)]
    input_size: usize,
    #[serde(rename = "num_hidden_units")]
    hidden_size: usize,
    #[serde(default)]
    output_mode: OutputMode,
    #[serde(default)]
    reset_gate_mode: ResetGateMode,
    #[serde(default)]
    state_activation: StateActivation,
    #[serde(default)]
    gate_activation: GateActivation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clip: Option<f64>,
    #[serde(default = "one")]
    depth: usize,
    #[serde(default)]
    bidirectional: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    reverse: bool,
    #[serde(default, skip_serializing_if = "Regularization::is_none")]
    regularization: Regularization,
}

impl GruSpec {
    /// A one-layer, unidirectional, MATLAB-default GRU (after-multiplication, tanh, sigmoid,
    /// no clip, sequence output).
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        Self {
            input_size,
            hidden_size,
            depth: 1,
            bidirectional: false,
            reverse: false,
            reset_gate_mode: ResetGateMode::default(),
            state_activation: StateActivation::default(),
            gate_activation: GateActivation::default(),
            clip: None,
            output_mode: OutputMode::default(),
            regularization: Regularization::NONE,
        }
    }

    pub fn with_depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }
    pub fn with_bidirectional(mut self, bidirectional: bool) -> Self {
        self.bidirectional = bidirectional;
        self
    }
    /// Every layer runs backward in time (see [`GruSpec::reverse`]).
    pub fn with_reverse(mut self, reverse: bool) -> Self {
        self.reverse = reverse;
        self
    }
    pub fn with_reset_gate_mode(mut self, mode: ResetGateMode) -> Self {
        self.reset_gate_mode = mode;
        self
    }
    pub fn with_state_activation(mut self, activation: StateActivation) -> Self {
        self.state_activation = activation;
        self
    }
    pub fn with_gate_activation(mut self, activation: GateActivation) -> Self {
        self.gate_activation = activation;
        self
    }
    pub fn with_clip(mut self, clip: Option<f64>) -> Self {
        self.clip = clip;
        self
    }
    pub fn with_output_mode(mut self, mode: OutputMode) -> Self {
        self.output_mode = mode;
        self
    }
    /// The regularizers (see [`Regularization`]).
    pub fn with_regularization(mut self, regularization: Regularization) -> Self {
        self.regularization = regularization;
        self
    }

    /// Layer-norm parameters per block: `[γ_x | β_x | γ_h | β_h]`, each 3H (gates r, z, n),
    /// with layer norm on; 0 without.
    pub fn norm_len(&self) -> usize {
        if self.regularization.layer_norm {
            12 * self.hidden_size
        } else {
            0
        }
    }

    /// 1 or 2.
    pub fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Whether parameter block direction `dir` (0 or 1) sweeps backward in time: the second
    /// direction of a bidirectional stack, or every block of a reverse stack.
    pub fn sweeps_backward(&self, dir: usize) -> bool {
        dir == 1 || self.reverse
    }

    /// Channels read by `layer`: I for layer 0, dirs·H above it.
    pub fn layer_input_size(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input_size
        } else {
            self.directions() * self.hidden_size
        }
    }

    /// Channels of the stack's output: dirs·H.
    pub fn output_size(&self) -> usize {
        self.directions() * self.hidden_size
    }

    /// Number of (layer, direction) parameter blocks: D·dirs, indexed `layer·dirs + dir`.
    pub fn num_blocks(&self) -> usize {
        self.depth * self.directions()
    }

    /// Scalars in all parameter blocks, or `None` when that count overflows `usize`.
    pub fn parameter_count(&self) -> Option<usize> {
        let h = self.hidden_size;
        let dirs_h = self.directions().checked_mul(h)?;
        let blocks = self.depth.checked_mul(self.directions())?;
        let norm = if self.regularization.layer_norm { h.checked_mul(12)? } else { 0 };
        let bias = self.reset_gate_mode.bias_len_checked(h)?.checked_add(norm)?;
        // Per block: W 3H×In, R 3H×H, bias, layer-norm gains and biases; layer 0 reads I,
        // the others dirs·H.
        let block = |inp: usize| 3usize.checked_mul(h)?.checked_mul(inp.checked_add(h)?)?.checked_add(bias);
        let first = block(self.input_size)?.checked_mul(self.directions())?;
        let rest = block(dirs_h)?.checked_mul(blocks - self.directions().min(blocks))?;
        first.checked_add(rest)
    }

    /// Checks every option; the error names the field and the value.
    pub fn validate(&self) -> Result<()> {
        if self.input_size == 0 {
            return Err(GruError::option("input_size", self.input_size, "must be at least 1"));
        }
        if self.hidden_size == 0 {
            return Err(GruError::option("hidden_size", self.hidden_size, "must be at least 1"));
        }
        if self.depth == 0 {
            return Err(GruError::option("depth", self.depth, "must be at least 1"));
        }
        if self.reverse && self.bidirectional {
            return Err(GruError::option(
                "reverse",
                self.reverse,
                "applies to a unidirectional stack only (a bidirectional stack already runs both directions)",
            ));
        }
        if self.parameter_count().is_none() {
            return Err(GruError::option(
                "hidden_size",
                self.hidden_size,
                "the parameter count of this spec does not fit in memory",
            ));
        }
        if let Some(c) = self.clip {
            if !c.is_finite() || c <= 0.0 {
                return Err(GruError::option("clip", c, "must be a finite number > 0"));
            }
        }
        if let GateActivation::HardSigmoid { alpha, beta } = self.gate_activation {
            if !alpha.is_finite() || alpha <= 0.0 {
                return Err(GruError::option("gate_activation.alpha", alpha, "must be a finite number > 0"));
            }
            if !beta.is_finite() {
                return Err(GruError::option("gate_activation.beta", beta, "must be finite"));
            }
        }
        self.regularization.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_matlab_defaults() {
        let s = GruSpec::new(3, 4);
        assert_eq!(s.reset_gate_mode, ResetGateMode::AfterMultiplication);
        assert_eq!(s.state_activation, StateActivation::Tanh);
        assert_eq!(s.gate_activation, GateActivation::Sigmoid);
        assert_eq!(s.output_mode, OutputMode::Sequence);
        assert_eq!((s.depth, s.bidirectional, s.clip), (1, false, None));
        s.validate().unwrap();
    }

    #[test]
    fn invalid_options_name_field_and_value() {
        let cases = [
            (GruSpec::new(0, 4), "input_size"),
            (GruSpec::new(3, 0), "hidden_size"),
            (GruSpec::new(3, 4).with_depth(0), "depth"),
            (GruSpec::new(3, 4).with_clip(Some(f64::NAN)), "clip"),
            (GruSpec::new(3, 4).with_clip(Some(-1.0)), "clip"),
            (
                GruSpec::new(3, 4)
                    .with_gate_activation(GateActivation::HardSigmoid { alpha: f64::INFINITY, beta: 0.5 }),
                "gate_activation.alpha",
            ),
            (
                GruSpec::new(3, 4).with_gate_activation(GateActivation::HardSigmoid { alpha: 0.2, beta: f64::NAN }),
                "gate_activation.beta",
            ),
            (GruSpec::new(3, 4).with_bidirectional(true).with_reverse(true), "reverse"),
            (GruSpec::new(3, 4).with_regularization(Regularization::NONE.with_zoneout(1.5)), "regularization.zoneout"),
        ];
        for (spec, field) in cases {
            match spec.validate() {
                Err(GruError::InvalidOption { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected InvalidOption, got {other:?}"),
            }
        }
    }

    #[test]
    fn layer_widths_and_json_names() {
        let s = GruSpec::new(3, 4).with_depth(3).with_bidirectional(true);
        assert_eq!((s.layer_input_size(0), s.layer_input_size(1), s.layer_input_size(2)), (3, 8, 8));
        assert_eq!(s.num_blocks(), 6);
        assert_eq!(s.reset_gate_mode.name(), "after-multiplication");
        assert_eq!(ResetGateMode::RecurrentBiasAfterMultiplication.bias_len(4), 24);
        assert_eq!(ResetGateMode::BeforeMultiplication.bias_len(4), 12);
    }

    #[test]
    fn reverse_is_written_only_when_set_and_read_back() {
        let forward = GruSpec::new(3, 4);
        let json = serde_json::to_value(&forward).unwrap();
        assert!(json.get("reverse").is_none(), "a forward spec's JSON is as before: {json}");
        let reverse = forward.clone().with_reverse(true).with_depth(2);
        reverse.validate().unwrap();
        assert!(reverse.sweeps_backward(0) && !forward.sweeps_backward(0) && forward.sweeps_backward(1));
        let json = serde_json::to_value(&reverse).unwrap();
        assert_eq!(json["reverse"], true);
        assert_eq!(serde_json::from_value::<GruSpec>(json).unwrap(), reverse);
        assert!(!serde_json::from_str::<GruSpec>(r#"{"input_size": 3, "hidden_size": 4}"#).unwrap().reverse);
    }

    #[test]
    fn regularization_is_written_only_when_set_and_counts_the_norm_parameters() {
        let plain = GruSpec::new(3, 4).with_depth(2);
        assert!(serde_json::to_value(&plain).unwrap().get("regularization").is_none());
        let reg = Regularization::NONE.with_recurrent_dropout(0.25).with_layer_norm(true).with_seed(9);
        let spec = plain.clone().with_regularization(reg);
        spec.validate().unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            json["regularization"],
            serde_json::json!({"recurrent_dropout": 0.25, "layer_norm": true, "seed": 9})
        );
        assert_eq!(serde_json::from_value::<GruSpec>(json).unwrap(), spec);
        // 12H layer-norm values per block.
        assert_eq!(spec.parameter_count().unwrap(), plain.parameter_count().unwrap() + 2 * 12 * 4);
        assert_eq!((spec.norm_len(), plain.norm_len()), (48, 0));
    }
}
