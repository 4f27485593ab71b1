//! `GruLayerBuilder`: every option of a GRU layer with MATLAB's defaults, validated once
//! by [`GruLayerBuilder::build`].

use gru_core::{EngineKind, GruSpec, Mode, Real};

use super::factors::{GateFactor, LearnFactors};
use super::init::{BiasInitializer, WeightInitializer};
use super::state::HiddenState;
use super::GruLayer;
use crate::error::Result;

/// Options of a [`GruLayer`]. Defaults are MATLAB's `gruLayer(numHiddenUnits)`:
/// Name "", InputSize "auto", OutputMode "sequence", HasStateInputs/Outputs false,
/// ResetGateMode "after-multiplication", StateActivationFunction "tanh",
/// GateActivationFunction "sigmoid", InputWeightsInitializer "glorot",
/// RecurrentWeightsInitializer "orthogonal", BiasInitializer "zeros", learn-rate factors 1,
/// L2 factors 1 except BiasL2Factor 0. Beyond MATLAB: depth (stacked layers),
/// bidirectional, clip, a learnable initial state, the engine and its plan, the seed.
///
/// The math options live in one embedded [`GruSpec`] (`spec.input_size` 0 is InputSize
/// "auto"): [`GruLayer::builder_from`] or [`GruLayerBuilder::spec`] take it whole, and the
/// MATLAB-named setters (`output_mode`, `reset_gate_mode`, ...) set its fields. The builder
/// owns the rest: name, state inputs and outputs, initializers and given weights, factors,
/// the initial state, engine, plan and seed.
#[derive(Clone, Debug)]
pub struct GruLayerBuilder<T> {
    pub(crate) spec: GruSpec,
    pub(crate) name: String,
    pub(crate) has_state_inputs: bool,
    pub(crate) has_state_outputs: bool,
    pub(crate) input_weights_initializer: WeightInitializer,
    pub(crate) recurrent_weights_initializer: WeightInitializer,
    pub(crate) bias_initializer: BiasInitializer,
    pub(crate) input_weights: Option<Vec<T>>,
    pub(crate) recurrent_weights: Option<Vec<T>>,
    pub(crate) bias: Option<Vec<T>>,
    pub(crate) factors: LearnFactors,
    pub(crate) hidden_state: Option<HiddenState<T>>,
    pub(crate) learnable_initial_state: bool,
    pub(crate) engine: EngineKind,
    pub(crate) mode: Mode,
    pub(crate) batch_sizes: Vec<usize>,
    pub(crate) timestep_count: Option<usize>,
    pub(crate) seed: u64,
}

impl<T: Real> GruLayerBuilder<T> {
    pub(crate) fn new(spec: GruSpec) -> Self {
        Self {
            spec,
            name: String::new(),
            has_state_inputs: false,
            has_state_outputs: false,
            input_weights_initializer: WeightInitializer::Glorot,
            recurrent_weights_initializer: WeightInitializer::Orthogonal,
            bias_initializer: BiasInitializer::Zeros,
            input_weights: None,
            recurrent_weights: None,
            bias: None,
            factors: LearnFactors::default(),
            hidden_state: None,
            learnable_initial_state: false,
            engine: EngineKind::Korali,
            mode: Mode::Training,
            batch_sizes: Vec::new(),
            timestep_count: None,
            seed: 0,
        }
    }

    /// Every math option at once (replaces those set before); `input_size` 0 is "auto".
    pub fn spec(mut self, spec: GruSpec) -> Self {
        self.spec = spec;
        self
    }
    /// `Name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// `InputSize`; leave unset (or 0) for "auto" (resolved from the first input or the network).
    pub fn input_size(mut self, input_size: usize) -> Self {
        self.spec.input_size = input_size;
        self
    }
    crate::layer::setters::gru_option_setters!();

    /// `HasStateInputs`: a second input named "hidden" gives the initial state.
    pub fn has_state_inputs(mut self, yes: bool) -> Self {
        self.has_state_inputs = yes;
        self
    }
    /// `HasStateOutputs`: a second output named "hidden" returns the final state.
    pub fn has_state_outputs(mut self, yes: bool) -> Self {
        self.has_state_outputs = yes;
        self
    }
    /// `InputWeights` of the first layer's forward direction, 3H × InputSize row-major
    /// (rows r, z, n). Sets InputSize when it is "auto".
    pub fn input_weights(mut self, w: Vec<T>) -> Self {
        self.input_weights = Some(w);
        self
    }
    /// `RecurrentWeights` of the first layer's forward direction, 3H × H row-major.
    pub fn recurrent_weights(mut self, r: Vec<T>) -> Self {
        self.recurrent_weights = Some(r);
        self
    }
    /// `Bias` of the first layer's forward direction: 3H, or 6H for
    /// recurrent-bias-after-multiplication.
    pub fn bias(mut self, b: Vec<T>) -> Self {
        self.bias = Some(b);
        self
    }
    /// `InputWeightsLearnRateFactor` (scalar or `[r z n]`).
    pub fn input_weights_learn_rate_factor(mut self, f: impl Into<GateFactor>) -> Self {
        self.factors.input_weights_learn_rate = f.into();
        self
    }
    /// `RecurrentWeightsLearnRateFactor`.
    pub fn recurrent_weights_learn_rate_factor(mut self, f: impl Into<GateFactor>) -> Self {
        self.factors.recurrent_weights_learn_rate = f.into();
        self
    }
    /// `BiasLearnRateFactor`.
    pub fn bias_learn_rate_factor(mut self, f: impl Into<GateFactor>) -> Self {
        self.factors.bias_learn_rate = f.into();
        self
    }
    /// `InputWeightsL2Factor`.
    pub fn input_weights_l2_factor(mut self, f: impl Into<GateFactor>) -> Self {
        self.factors.input_weights_l2 = f.into();
        self
    }
    /// `RecurrentWeightsL2Factor`.
    pub fn recurrent_weights_l2_factor(mut self, f: impl Into<GateFactor>) -> Self {
        self.factors.recurrent_weights_l2 = f.into();
        self
    }
    /// `BiasL2Factor` (default 0).
    pub fn bias_l2_factor(mut self, f: impl Into<GateFactor>) -> Self {
        self.factors.bias_l2 = f.into();
        self
    }
    /// `HiddenState`: the initial state (must stay empty when HasStateInputs is true).
    pub fn hidden_state(mut self, state: HiddenState<T>) -> Self {
        self.hidden_state = Some(state);
        self
    }
    /// Korali's "Mode": Inference keeps no training state and refuses backward.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    /// Korali's "Batch Sizes": the batch sizes the engine plans for.
    pub fn batch_sizes(mut self, sizes: Vec<usize>) -> Self {
        self.batch_sizes = sizes;
        self
    }
    /// Korali's "Timestep Count": the step count the engine plans for.
    pub fn timestep_count(mut self, steps: usize) -> Self {
        self.timestep_count = Some(steps);
        self
    }
    /// Seed of the initializers (the same seed gives the same weights).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validates every option and builds the layer; its weights are drawn now when the
    /// input size is known, else at the first input.
    pub fn build(self) -> Result<GruLayer<T>> {
        GruLayer::from_builder(self)
    }
}
