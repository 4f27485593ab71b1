//! # gru
//!
//! Gated Recurrent Unit layers that agree across engines. This crate is what users import:
//! the MATLAB-style [`GruLayer`] (every `gruLayer` property, state handling, input
//! formats), the Korali configuration ([`korali`]), engine selection ([`engines`]), and
//! the core math re-exported from [`gru_core`] (options, parameters, the engine contract,
//! the native `Korali` engine). See `shared/DESIGN.md` for the equations.
//!
//! ```
//! use gru::{Engine, GruParams, GruSpec, NativeEngine, OutputGrads, Plan, ResetGateMode, SequenceBatch};
//!
//! # fn main() -> Result<(), gru::GruError> {
//! let spec = GruSpec::new(3, 8).with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication);
//! let params = GruParams::<f32>::zeros(&spec);
//! let mut gru = NativeEngine::new().prepare(&spec, &params, &Plan::training())?;
//! let x = vec![0.1f32; 5 * 2 * 3]; // x: [T=5, B=2, I=3] time-major
//! let lengths = [5, 3]; // ragged batch
//! let batch = SequenceBatch::new(&x, 5, 2).with_lengths(&lengths);
//! let (out, saved) = gru.forward_train(&batch)?; // out.y: [5, 2, 8], out.h_t: [1, 2, 8]
//! assert_eq!(out.y_shape, vec![5, 2, 8]);
//! let grads = gru.backward(saved, &OutputGrads { dy: &out.y, dh_t: None })?;
//! assert_eq!(grads.dx.len(), x.len());
//! # Ok(())
//! # }
//! ```

pub mod codegen;
pub mod convert;
pub mod data;
pub mod engines;
pub mod error;
pub mod io;
pub mod korali;
pub mod layer;
pub mod memory;
pub mod network;
pub mod optim;
mod suggest;
pub mod train;

pub use data::{SequenceDataset, Targets};
pub use error::{Error, Result};
pub use gru_core::*;
pub use layer::{
    BiasInitializer, GateFactor, GruLayer, GruLayerBuilder, HiddenState, LayerGradients, LayerInput, LayerOutput,
    LayerSaved, LearnFactors, SequenceFormat, WeightInitializer,
};
pub use network::Network;
pub use train::{Trainer, TrainingOptions};
