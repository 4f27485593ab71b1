//! `GruLayer`: a GRU stack with MATLAB's `gruLayer` properties, state handling and input
//! formats, computed by any engine through the core contract.

use gru_core::{
    BlockParams, GateActivation, GruParams, GruSpec, Mode, OutputMode, Plan, PreparedGru, Real, ResetGateMode,
    StateActivation,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::builder::GruLayerBuilder;
use super::factors::LearnFactors;
use super::init::{BiasInitializer, WeightInitializer};
use super::state::HiddenState;
use crate::engines::engine_for;
use crate::error::{Error, Result};

/// A GRU layer (or a stack of `depth` layers, optionally bidirectional).
///
/// Equations, gate order r, z, n and the weight layout are those of `gru_core` (see
/// DESIGN.md). MATLAB property names map to methods: `NumHiddenUnits` ->
/// [`GruLayer::num_hidden_units`], `InputWeights` -> [`GruLayer::input_weights`] and
/// [`GruLayer::set_input_weights`], and so on. `InputWeights`, `RecurrentWeights` and
/// `Bias` address the first layer's forward direction (the whole of a MATLAB layer);
/// [`GruLayer::params`] gives every block of a stack.
///
/// ```
/// use gru::{GruLayer, LayerInput, OutputMode};
/// let mut layer = GruLayer::<f32>::builder(8).output_mode(OutputMode::Last).build()?;
/// assert_eq!(layer.input_size(), None); // "auto"
/// let x = vec![0.5f32; 5 * 2 * 3]; // [T=5, B=2, C=3]
/// let out = layer.predict(&LayerInput::tbc(&x, 5, 2, 3))?;
/// assert_eq!((layer.input_size(), out.out_dims.clone()), (Some(3), vec![2, 8]));
/// # Ok::<(), gru::Error>(())
/// ```
pub struct GruLayer<T: Real = f32> {
    pub(super) opts: GruLayerBuilder<T>,
    pub(super) params: Option<GruParams<T>>,
    /// What `reset_state` restores (the `HiddenState` given at construction or by the setter).
    pub(super) initial_hidden_state: Option<HiddenState<T>>,
    /// The `HiddenState` the next call starts from.
    pub(super) hidden_state: Option<HiddenState<T>>,
    /// The learnable initial state `[D·dirs, H]`, when enabled.
    pub(super) initial_state: Option<Vec<T>>,
    pub(super) prepared: Option<Box<dyn PreparedGru<T>>>,
}

impl<T: Real> std::fmt::Debug for GruLayer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GruLayer")
            .field("name", &self.opts.name)
            .field("num_hidden_units", &self.opts.num_hidden_units)
            .field("input_size", &self.opts.input_size)
            .field("initialized", &self.params.is_some())
            .finish_non_exhaustive()
    }
}

impl<T: Real> GruLayer<T> {
    /// A builder with MATLAB's defaults for `gruLayer(num_hidden_units)`.
    pub fn builder(num_hidden_units: usize) -> GruLayerBuilder<T> {
        GruLayerBuilder::new(num_hidden_units)
    }

    pub(super) fn from_builder(mut opts: GruLayerBuilder<T>) -> Result<Self> {
        if opts.num_hidden_units == 0 {
            return Err(Error::property("NumHiddenUnits", 0, "must be a positive integer"));
        }
        if opts.input_size == Some(0) {
            return Err(Error::property("InputSize", 0, "must be a positive integer or \"auto\""));
        }
        opts.factors.validate()?;
        // An engine that cannot run here is an error now, not at the first call.
        engine_for::<T>(opts.engine)?;
        Plan { batch_sizes: opts.batch_sizes.clone(), max_steps: opts.timestep_count, mode: opts.mode }.validate()?;
        // Options are checked on a spec with a stand-in input size when it is "auto".
        spec_of(&opts, opts.input_size.unwrap_or(1)).validate()?;
        let blocks = opts.depth * if opts.bidirectional { 2 } else { 1 };
        if opts.has_state_inputs && opts.hidden_state.is_some() {
            return Err(Error::property("HiddenState", "a value", "must be empty when HasStateInputs is true"));
        }
        if opts.has_state_inputs && opts.learnable_initial_state {
            return Err(Error::property(
                "LearnableInitialState",
                true,
                "has no effect when HasStateInputs is true (the \"hidden\" input gives the state)",
            ));
        }
        if let Some(s) = &opts.hidden_state {
            s.validate(blocks, opts.num_hidden_units)?;
        }
        if opts.input_size.is_none() {
            if let Some(w) = &opts.input_weights {
                opts.input_size = Some(infer_input_size(w.len(), opts.num_hidden_units)?);
            }
        }
        let hidden_state = opts.hidden_state.clone();
        let mut layer = Self {
            opts,
            params: None,
            initial_hidden_state: hidden_state.clone(),
            hidden_state,
            initial_state: None,
            prepared: None,
        };
        if let Some(i) = layer.opts.input_size {
            layer.initialize(i)?;
        }
        Ok(layer)
    }

    /// Resolves `InputSize` and draws every weight not given by the user (seeded).
    pub(super) fn initialize(&mut self, input_size: usize) -> Result<()> {
        let spec = spec_of(&self.opts, input_size);
        spec.validate()?;
        let (h, dirs) = (spec.hidden_size, spec.directions());
        let mut rng = ChaCha8Rng::seed_from_u64(self.opts.seed);
        let mut blocks = Vec::with_capacity(spec.num_blocks());
        for i in 0..spec.num_blocks() {
            let inp = spec.layer_input_size(i / dirs);
            let (wi, ri) = (&self.opts.input_weights_initializer, &self.opts.recurrent_weights_initializer);
            let (fi, fo) = wi.fans(false, inp, h);
            let w = wi.draw::<T>("InputWeightsInitializer", 3 * h, inp, fi, fo, &mut rng)?;
            let (fi, fo) = ri.fans(true, inp, h);
            let r = ri.draw::<T>("RecurrentWeightsInitializer", 3 * h, h, fi, fo, &mut rng)?;
            let b =
                self.opts.bias_initializer.draw::<T>("BiasInitializer", spec.reset_gate_mode.bias_len(h), &mut rng)?;
            blocks.push((w, r, b));
        }
        let (w, r, b) = (self.opts.input_weights.take(), self.opts.recurrent_weights.take(), self.opts.bias.take());
        let first = &mut blocks[0];
        if let Some(w) = w {
            check_len("InputWeights", &w, 3 * h * input_size, &format!("3H×InputSize = {}×{input_size}", 3 * h))?;
            first.0 = w;
        }
        if let Some(r) = r {
            check_len("RecurrentWeights", &r, 3 * h * h, &format!("3H×H = {}×{h}", 3 * h))?;
            first.1 = r;
        }
        if let Some(b) = b {
            let n = spec.reset_gate_mode.bias_len(h);
            check_len("Bias", &b, n, &format!("{n} for {}", spec.reset_gate_mode.name()))?;
            first.2 = b;
        }
        self.params = Some(GruParams::from_blocks(&spec, blocks)?);
        self.opts.input_size = Some(input_size);
        if self.opts.learnable_initial_state {
            self.initial_state = Some(vec![T::zero(); spec.num_blocks() * h]);
        }
        self.prepared = None;
        Ok(())
    }

    /// Resolves InputSize "auto" (what a network does when it knows the layer before) and
    /// draws the weights; an already resolved, different size is an error.
    pub fn resolve_input_size(&mut self, input_size: usize) -> Result<()> {
        match self.opts.input_size {
            Some(i) if i == input_size && self.params.is_some() => Ok(()),
            Some(i) if i != input_size => {
                Err(Error::property("InputSize", input_size, format!("the layer's InputSize is already {i}")))
            }
            _ if input_size == 0 => Err(Error::property("InputSize", 0, "must be a positive integer")),
            _ => self.initialize(input_size),
        }
    }

    /// The options as a core spec (needs a resolved InputSize).
    pub fn spec(&self) -> Result<GruSpec> {
        let i = self.opts.input_size.ok_or_else(|| unresolved("InputSize"))?;
        Ok(spec_of(&self.opts, i))
    }

    // ---- MATLAB properties -------------------------------------------------------------

    /// `Name`.
    pub fn name(&self) -> &str {
        &self.opts.name
    }
    /// `InputSize`: `None` while "auto".
    pub fn input_size(&self) -> Option<usize> {
        self.opts.input_size
    }
    /// `NumHiddenUnits`.
    pub fn num_hidden_units(&self) -> usize {
        self.opts.num_hidden_units
    }
    /// `OutputMode`.
    pub fn output_mode(&self) -> OutputMode {
        self.opts.output_mode
    }
    /// `HasStateInputs`.
    pub fn has_state_inputs(&self) -> bool {
        self.opts.has_state_inputs
    }
    /// `HasStateOutputs`.
    pub fn has_state_outputs(&self) -> bool {
        self.opts.has_state_outputs
    }
    /// `NumInputs`: 1, or 2 with state inputs.
    pub fn num_inputs(&self) -> usize {
        self.input_names().len()
    }
    /// `InputNames`: `["in"]` or `["in", "hidden"]`.
    pub fn input_names(&self) -> Vec<&'static str> {
        if self.opts.has_state_inputs {
            vec!["in", "hidden"]
        } else {
            vec!["in"]
        }
    }
    /// `NumOutputs`: 1, or 2 with state outputs.
    pub fn num_outputs(&self) -> usize {
        self.output_names().len()
    }
    /// `OutputNames`: `["out"]` or `["out", "hidden"]`.
    pub fn output_names(&self) -> Vec<&'static str> {
        if self.opts.has_state_outputs {
            vec!["out", "hidden"]
        } else {
            vec!["out"]
        }
    }
    /// `ResetGateMode`.
    pub fn reset_gate_mode(&self) -> ResetGateMode {
        self.opts.reset_gate_mode
    }
    /// `StateActivationFunction`: "tanh" or "softsign".
    pub fn state_activation_function(&self) -> &'static str {
        match self.opts.state_activation {
            StateActivation::Tanh => "tanh",
            StateActivation::Softsign => "softsign",
        }
    }
    /// `GateActivationFunction`: "sigmoid" or "hard-sigmoid".
    pub fn gate_activation_function(&self) -> &'static str {
        match self.opts.gate_activation {
            GateActivation::Sigmoid => "sigmoid",
            GateActivation::HardSigmoid { .. } => "hard-sigmoid",
        }
    }
    /// The gate activation with its parameters.
    pub fn gate_activation(&self) -> GateActivation {
        self.opts.gate_activation
    }
    /// Stacked layers (Korali's "Depth").
    pub fn depth(&self) -> usize {
        self.opts.depth
    }
    /// Whether every layer has a reverse direction.
    pub fn bidirectional(&self) -> bool {
        self.opts.bidirectional
    }
    /// `InputWeightsInitializer`.
    pub fn input_weights_initializer(&self) -> &WeightInitializer {
        &self.opts.input_weights_initializer
    }
    /// `RecurrentWeightsInitializer`.
    pub fn recurrent_weights_initializer(&self) -> &WeightInitializer {
        &self.opts.recurrent_weights_initializer
    }
    /// `BiasInitializer`.
    pub fn bias_initializer(&self) -> &BiasInitializer {
        &self.opts.bias_initializer
    }
    /// The six learn-rate and L2 factors.
    pub fn learn_factors(&self) -> &LearnFactors {
        &self.opts.factors
    }
    /// Replaces the learn-rate and L2 factors (checked).
    pub fn set_learn_factors(&mut self, factors: LearnFactors) -> Result<()> {
        factors.validate()?;
        self.opts.factors = factors;
        Ok(())
    }
    /// The engine that computes this layer.
    pub fn engine(&self) -> gru_core::EngineKind {
        self.opts.engine
    }
    /// Training or Inference.
    pub fn mode(&self) -> Mode {
        self.opts.mode
    }

    /// `InputWeights` (first layer, forward direction): 3H × InputSize, `None` until drawn.
    pub fn input_weights(&self) -> Option<&[T]> {
        self.params.as_ref().map(|p| p.blocks()[0].w())
    }
    /// `RecurrentWeights` (first layer, forward direction): 3H × H.
    pub fn recurrent_weights(&self) -> Option<&[T]> {
        self.params.as_ref().map(|p| p.blocks()[0].r())
    }
    /// `Bias` (first layer, forward direction): 3H or 6H.
    pub fn bias(&self) -> Option<&[T]> {
        self.params.as_ref().map(|p| p.blocks()[0].bias())
    }
    /// Every block's parameters, `None` until InputSize is resolved.
    pub fn params(&self) -> Option<&GruParams<T>> {
        self.params.as_ref()
    }

    /// Sets `InputWeights` (3H × InputSize); with InputSize "auto" this resolves it.
    pub fn set_input_weights(&mut self, w: Vec<T>) -> Result<()> {
        let h = self.opts.num_hidden_units;
        match self.opts.input_size {
            None => {
                let i = infer_input_size(w.len(), h)?;
                self.opts.input_weights = Some(w);
                self.initialize(i)
            }
            Some(i) => {
                check_len("InputWeights", &w, 3 * h * i, &format!("3H×InputSize = {}×{i}", 3 * h))?;
                self.update_block0(|b| b.w_mut().copy_from_slice(&w), "InputWeights", &w)
            }
        }
    }

    /// Sets `RecurrentWeights` (3H × H).
    pub fn set_recurrent_weights(&mut self, r: Vec<T>) -> Result<()> {
        let h = self.opts.num_hidden_units;
        check_len("RecurrentWeights", &r, 3 * h * h, &format!("3H×H = {}×{h}", 3 * h))?;
        if self.params.is_none() {
            self.opts.recurrent_weights = Some(r);
            return Ok(());
        }
        self.update_block0(|b| b.r_mut().copy_from_slice(&r), "RecurrentWeights", &r)
    }

    /// Sets `Bias` (3H, or 6H for recurrent-bias-after-multiplication).
    pub fn set_bias(&mut self, b: Vec<T>) -> Result<()> {
        let n = self.opts.reset_gate_mode.bias_len(self.opts.num_hidden_units);
        check_len("Bias", &b, n, &format!("{n} for {}", self.opts.reset_gate_mode.name()))?;
        if self.params.is_none() {
            self.opts.bias = Some(b);
            return Ok(());
        }
        self.update_block0(|blk| blk.bias_mut().copy_from_slice(&b), "Bias", &b)
    }

    /// Replaces every block's parameters (shapes checked against the spec).
    pub fn set_params(&mut self, params: GruParams<T>) -> Result<()> {
        params.check(&self.spec()?)?;
        self.params = Some(params);
        self.sync_prepared()
    }

    fn update_block0(&mut self, f: impl FnOnce(&mut BlockParams<T>), property: &str, values: &[T]) -> Result<()> {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::property(property, values[i], format!("element {i} is not finite")));
        }
        let params = self.params.as_mut().ok_or_else(|| unresolved("InputSize"))?;
        f(&mut params.blocks_mut()[0]);
        self.sync_prepared()
    }

    pub(super) fn sync_prepared(&mut self) -> Result<()> {
        if let (Some(p), Some(params)) = (self.prepared.as_mut(), self.params.as_ref()) {
            p.set_params(params)?;
        }
        Ok(())
    }

    /// `HiddenState`: the state the next call starts from (`None`: zero, or the learnable
    /// initial state).
    pub fn hidden_state(&self) -> Option<&HiddenState<T>> {
        self.hidden_state.as_ref()
    }

    /// Sets `HiddenState` (and the value `reset_state` restores). Refused when
    /// HasStateInputs is true, as in MATLAB.
    pub fn set_hidden_state(&mut self, state: Option<HiddenState<T>>) -> Result<()> {
        if self.opts.has_state_inputs && state.is_some() {
            return Err(Error::property("HiddenState", "a value", "must be empty when HasStateInputs is true"));
        }
        if let Some(s) = &state {
            s.validate(self.blocks(), self.opts.num_hidden_units)?;
        }
        self.initial_hidden_state = state.clone();
        self.hidden_state = state;
        Ok(())
    }

    /// `resetState`: the hidden state returns to its initial value.
    pub fn reset_state(&mut self) {
        self.hidden_state = self.initial_hidden_state.clone();
    }

    /// The learnable initial state `[D·dirs, H]`, when enabled and drawn.
    pub fn initial_state(&self) -> Option<&[T]> {
        self.initial_state.as_deref()
    }

    /// Sets the learnable initial state `[D·dirs, H]`.
    pub fn set_initial_state(&mut self, values: Vec<T>) -> Result<()> {
        if !self.opts.learnable_initial_state {
            return Err(Error::property("LearnableInitialState", false, "enable it in the builder first"));
        }
        HiddenState::shared(values.clone()).validate(self.blocks(), self.opts.num_hidden_units)?;
        self.initial_state = Some(values);
        Ok(())
    }

    pub(super) fn blocks(&self) -> usize {
        self.opts.depth * if self.opts.bidirectional { 2 } else { 1 }
    }
}

fn spec_of<T>(o: &GruLayerBuilder<T>, input_size: usize) -> GruSpec {
    GruSpec::new(input_size, o.num_hidden_units)
        .with_depth(o.depth)
        .with_bidirectional(o.bidirectional)
        .with_reset_gate_mode(o.reset_gate_mode)
        .with_state_activation(o.state_activation)
        .with_gate_activation(o.gate_activation)
        .with_clip(o.clip)
        .with_output_mode(o.output_mode)
}

fn unresolved(property: &str) -> Error {
    Error::Unresolved {
        property: property.into(),
        reason: "\"auto\" is resolved by the first input or the network".into(),
    }
}

fn infer_input_size(len: usize, hidden: usize) -> Result<usize> {
    if len == 0 || !len.is_multiple_of(3 * hidden) {
        return Err(Error::property(
            "InputWeights",
            format!("{len} values"),
            format!("must be 3H×InputSize = {}×InputSize", 3 * hidden),
        ));
    }
    Ok(len / (3 * hidden))
}

fn check_len<T: Real>(property: &str, v: &[T], expected: usize, shape: &str) -> Result<()> {
    if v.len() != expected {
        return Err(Error::property(property, format!("{} values", v.len()), format!("expected {expected} ({shape})")));
    }
    Ok(())
}
