//! The GRU layer with MATLAB's `gruLayer` properties (see [`GruLayer`]).

mod builder;
pub mod factors;
pub mod format;
mod gru_layer;
pub mod init;
mod run;
pub(crate) mod setters;
mod state;
mod stream;

pub use builder::GruLayerBuilder;
pub use factors::{GateFactor, LearnFactors};
pub use format::SequenceFormat;
pub use gru_layer::GruLayer;
pub use init::{BiasInitializer, WeightInitializer};
pub use run::{LayerGradients, LayerInput, LayerOutput, LayerSaved};
pub use state::HiddenState;
