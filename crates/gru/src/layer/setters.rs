//! The MATLAB-named setters of a GRU's options, written once for the two types that embed
//! a [`GruSpec`](gru_core::GruSpec) (`spec`) and own the initializers, the learnable initial
//! state and the engine: the layer builder and the network's layer spec.

/// Expands, inside an `impl` of a type with the fields `spec: GruSpec`,
/// `input_weights_initializer`, `recurrent_weights_initializer`, `bias_initializer`,
/// `learnable_initial_state` and `engine`, to their builder-style setters.
macro_rules! gru_option_setters {
    () => {
        /// `OutputMode`: sequence or last (sets `spec.output_mode`).
        pub fn output_mode(mut self, mode: gru_core::OutputMode) -> Self {
            self.spec.output_mode = mode;
            self
        }
        /// `ResetGateMode`.
        pub fn reset_gate_mode(mut self, mode: gru_core::ResetGateMode) -> Self {
            self.spec.reset_gate_mode = mode;
            self
        }
        /// `StateActivationFunction`: tanh or softsign.
        pub fn state_activation_function(mut self, f: gru_core::StateActivation) -> Self {
            self.spec.state_activation = f;
            self
        }
        /// `GateActivationFunction`: sigmoid or hard-sigmoid.
        pub fn gate_activation_function(mut self, f: gru_core::GateActivation) -> Self {
            self.spec.gate_activation = f;
            self
        }
        /// ONNX `clip` of every gate pre-activation (beyond MATLAB).
        pub fn clip(mut self, clip: Option<f64>) -> Self {
            self.spec.clip = clip;
            self
        }
        /// Stacked copies of the layer (Korali's "Depth"; beyond MATLAB).
        pub fn depth(mut self, depth: usize) -> Self {
            self.spec.depth = depth;
            self
        }
        /// A reverse direction in every layer (beyond MATLAB's gruLayer).
        pub fn bidirectional(mut self, yes: bool) -> Self {
            self.spec.bidirectional = yes;
            self
        }
        /// Every layer runs backward in time, outputs in input order (ONNX `direction =
        /// "reverse"`; beyond MATLAB's gruLayer). Not with `bidirectional`.
        pub fn reverse(mut self, yes: bool) -> Self {
            self.spec.reverse = yes;
            self
        }
        /// The training regularizers and layer norm (beyond MATLAB; see
        /// [`gru_core::Regularization`]): sets `spec.regularization` whole.
        pub fn regularization(mut self, regularization: gru_core::Regularization) -> Self {
            self.spec.regularization = regularization;
            self
        }
        /// Dropout of the input of every stacked layer, one mask per sequence (training only).
        pub fn input_dropout(mut self, probability: f64) -> Self {
            self.spec.regularization.input_dropout = probability;
            self
        }
        /// Variational dropout of h_{t-1} in the recurrent product, one mask per sequence
        /// (training only).
        pub fn recurrent_dropout(mut self, probability: f64) -> Self {
            self.spec.regularization.recurrent_dropout = probability;
            self
        }
        /// Zoneout: each unit keeps its previous state with `probability` at each step in
        /// training; inference computes the expectation.
        pub fn zoneout(mut self, probability: f64) -> Self {
            self.spec.regularization.zoneout = probability;
            self
        }
        /// DropConnect on the recurrent weights R, one mask per minibatch (training only).
        pub fn weight_drop(mut self, probability: f64) -> Self {
            self.spec.regularization.weight_drop = probability;
            self
        }
        /// Layer normalization of the input and recurrent gate pre-activations, with
        /// learnable gains and biases (training and inference).
        pub fn layer_norm(mut self, yes: bool) -> Self {
            self.spec.regularization.layer_norm = yes;
            self
        }
        /// The seed of the regularizers' masks.
        pub fn regularization_seed(mut self, seed: u64) -> Self {
            self.spec.regularization.seed = seed;
            self
        }
        /// `InputWeightsInitializer`.
        pub fn input_weights_initializer(mut self, init: $crate::layer::WeightInitializer) -> Self {
            self.input_weights_initializer = init;
            self
        }
        /// `RecurrentWeightsInitializer`.
        pub fn recurrent_weights_initializer(mut self, init: $crate::layer::WeightInitializer) -> Self {
            self.recurrent_weights_initializer = init;
            self
        }
        /// `BiasInitializer`.
        pub fn bias_initializer(mut self, init: $crate::layer::BiasInitializer) -> Self {
            self.bias_initializer = init;
            self
        }
        /// A learnable initial state `[D·dirs, H]`, broadcast over the batch (beyond MATLAB).
        pub fn learnable_initial_state(mut self, yes: bool) -> Self {
            self.learnable_initial_state = yes;
            self
        }
        /// The engine: Korali (native), OneDNN or CuDNN.
        pub fn engine(mut self, engine: gru_core::EngineKind) -> Self {
            self.engine = engine;
            self
        }
    };
}

pub(crate) use gru_option_setters;
