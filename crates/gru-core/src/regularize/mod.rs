//! The regularizers of the GRU (an option of [`crate::GruSpec`], see [`Regularization`] for
//! the equations): their options and validation (`options.rs`), the counter-based generator
//! of their masks (`rng.rs`), the masks of a call (`masks.rs`) and the fast path's layer
//! normalization of a gate block (`layer_norm.rs`).

pub(crate) mod layer_norm;
pub(crate) mod masks;
mod options;
pub(crate) mod rng;

pub use options::{Regularization, LAYER_NORM_EPSILON};
