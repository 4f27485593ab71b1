//! `GruLayer`: a GRU stack with MATLAB's `gruLayer` properties, state handling and input
//! formats, computed by any engine through the core contract.

use gru_core::{
    BlockParams, GateActivation, GruError, GruParams, GruSpec, Mode, OutputMode, Plan, PreparedGru, Real,
    ResetGateMode, StateActivation,
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
            .field("num_hidden_units", &self.opts.spec.hidden_size)
            .field("input_size", &self.input_size())
            .field("initialized", &self.params.is_some())
            .finish_non_exhaustive()
    }
}

impl<T: Real> GruLayer<T> {
    /// A builder with MATLAB's defaults for `gruLayer(num_hidden_units)`: the math options
    /// of [`GruSpec::new`] with InputSize "auto".
    pub fn builder(num_hidden_units: usize) -> GruLayerBuilder<T> {
        GruLayerBuilder::new(GruSpec::new(0, num_hidden_units))
    }

    /// A builder for these math options (`spec.input_size` 0 is "auto"), every other
    /// property at MATLAB's default.
    pub fn builder_from(spec: GruSpec) -> GruLayerBuilder<T> {
        GruLayerBuilder::new(spec)
    }

    pub(super) fn from_builder(mut opts: GruLayerBuilder<T>) -> Result<Self> {
        // The math options: GruSpec::validate, on a stand-in input size while "auto".
        validate_spec(&opts.spec, opts.spec.input_size.max(1))?;
        opts.factors.validate()?;
        // An engine that cannot run here is an error now, not at the first call.
        engine_for::<T>(opts.engine)?;
        Plan { batch_sizes: opts.batch_sizes.clone(), max_steps: opts.timestep_count, mode: opts.mode }.validate()?;
        let blocks = opts.spec.num_blocks();
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
            s.validate(blocks, opts.spec.hidden_size)?;
        }
        if opts.spec.input_size == 0 {
            if let Some(w) = &opts.input_weights {
                opts.spec.input_size = infer_input_size(w.len(), opts.spec.hidden_size)?;
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
        if let Some(i) = layer.input_size() {
            layer.initialize(i)?;
        }
        Ok(layer)
    }

    /// Resolves `InputSize` and draws every weight not given by the user (seeded).
    pub(super) fn initialize(&mut self, input_size: usize) -> Result<()> {
        let spec = GruSpec { input_size, ..self.opts.spec.clone() };
        validate_spec(&spec, input_size)?;
        check_memory::<T>(&spec, self.opts.learnable_initial_state)?;
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
        self.opts.spec.input_size = input_size;
        if self.opts.learnable_initial_state {
            self.initial_state = Some(vec![T::zero(); spec.num_blocks() * h]);
        }
        self.prepared = None;
        Ok(())
    }

    /// Resolves InputSize "auto" (what a network does when it knows the layer before) and
    /// draws the weights; an already resolved, different size is an error.
    pub fn resolve_input_size(&mut self, input_size: usize) -> Result<()> {
        match self.input_size() {
            Some(i) if i == input_size && self.params.is_some() => Ok(()),
            Some(i) if i != input_size => {
                Err(Error::property("InputSize", input_size, format!("the layer's InputSize is already {i}")))
            }
            _ if input_size == 0 => Err(Error::property("InputSize", 0, "must be a positive integer")),
            _ => self.initialize(input_size),
        }
    }

    /// The math options as a core spec (needs a resolved InputSize).
    pub fn spec(&self) -> Result<GruSpec> {
        self.input_size().ok_or_else(|| unresolved("InputSize"))?;
        Ok(self.opts.spec.clone())
    }

    // ---- MATLAB properties -------------------------------------------------------------

    /// `Name`.
    pub fn name(&self) -> &str {
        &self.opts.name
    }
    /// `InputSize`: `None` while "auto".
    pub fn input_size(&self) -> Option<usize> {
        Some(self.opts.spec.input_size).filter(|&i| i > 0)
    }
    /// `NumHiddenUnits`.
    pub fn num_hidden_units(&self) -> usize {
        self.opts.spec.hidden_size
    }
    /// `OutputMode`.
    pub fn output_mode(&self) -> OutputMode {
        self.opts.spec.output_mode
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
        self.opts.spec.reset_gate_mode
    }
    /// `StateActivationFunction`: "tanh" or "softsign".
    pub fn state_activation_function(&self) -> &'static str {
        match self.opts.spec.state_activation {
            StateActivation::Tanh => "tanh",
            StateActivation::Softsign => "softsign",
        }
    }
    /// `GateActivationFunction`: "sigmoid" or "hard-sigmoid".
    pub fn gate_activation_function(&self) -> &'static str {
        match self.opts.spec.gate_activation {
            GateActivation::Sigmoid => "sigmoid",
            GateActivation::HardSigmoid { .. } => "hard-sigmoid",
        }
    }
    /// The gate activation with its parameters.
    pub fn gate_activation(&self) -> GateActivation {
        self.opts.spec.gate_activation
    }
    /// Stacked layers (Korali's "Depth").
    pub fn depth(&self) -> usize {
        self.opts.spec.depth
    }
    /// Whether every layer has a reverse direction.
    pub fn bidirectional(&self) -> bool {
        self.opts.spec.bidirectional
    }

    /// Whether every layer runs backward in time ([`GruSpec::reverse`](gru_core::GruSpec::reverse)).
    pub fn reverse(&self) -> bool {
        self.opts.spec.reverse
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
        let h = self.opts.spec.hidden_size;
        match self.input_size() {
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
        let h = self.opts.spec.hidden_size;
        check_len("RecurrentWeights", &r, 3 * h * h, &format!("3H×H = {}×{h}", 3 * h))?;
        if self.params.is_none() {
            self.opts.recurrent_weights = Some(r);
            return Ok(());
        }
        self.update_block0(|b| b.r_mut().copy_from_slice(&r), "RecurrentWeights", &r)
    }

    /// Sets `Bias` (3H, or 6H for recurrent-bias-after-multiplication).
    pub fn set_bias(&mut self, b: Vec<T>) -> Result<()> {
        let mode = self.opts.spec.reset_gate_mode;
        let n = mode.bias_len(self.opts.spec.hidden_size);
        check_len("Bias", &b, n, &format!("{n} for {}", mode.name()))?;
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
            s.validate(self.blocks(), self.opts.spec.hidden_size)?;
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
        HiddenState::shared(values.clone()).validate(self.blocks(), self.opts.spec.hidden_size)?;
        self.initial_state = Some(values);
        Ok(())
    }

    pub(super) fn blocks(&self) -> usize {
        self.opts.spec.num_blocks()
    }
}

/// [`GruSpec::validate`] of `spec` read with `input_size` (a stand-in while "auto"); the
/// options MATLAB names come back as that property (`hidden_size` -> NumHiddenUnits).
fn validate_spec(spec: &GruSpec, input_size: usize) -> Result<()> {
    let checked = GruSpec { input_size, ..spec.clone() };
    checked.validate().map_err(|e| match e {
        GruError::InvalidOption { field, value, reason } => match matlab_property(&field) {
            Some(property) => Error::property(property, value, reason),
            None => GruError::InvalidOption { field, value, reason }.into(),
        },
        other => other.into(),
    })
}

/// Refuses weights beyond the memory budget ([`crate::memory`]) before they are drawn; the
/// error names the property (`NumHiddenUnits`, `InputSize`, `depth`) and its value.
fn check_memory<T: Real>(spec: &GruSpec, learnable_initial_state: bool) -> Result<()> {
    use crate::network::{sequence_input, GruLayerSpec, LayerSpec};
    let gru = GruLayerSpec { learnable_initial_state, ..GruLayerSpec::new(spec.clone()) };
    let size = crate::memory::NetworkSize::of(&[sequence_input(spec.input_size), LayerSpec::from(gru)]);
    let name = |_: usize, field: &str| match field {
        "num_hidden_units" => "NumHiddenUnits".to_string(),
        "input_size" => "InputSize".to_string(),
        other => other.to_string(),
    };
    size.check_params(std::mem::size_of::<T>(), &crate::memory::MemoryBudget::current(), &name)
}

/// MATLAB's `gruLayer` property of a [`GruSpec`] field, where it has one under another name.
fn matlab_property(field: &str) -> Option<&'static str> {
    match field {
        "hidden_size" => Some("NumHiddenUnits"),
        "input_size" => Some("InputSize"),
        _ => None,
    }
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
