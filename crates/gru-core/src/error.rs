//! The one error type of `gru-core`: every variant names the field and the value.

use thiserror::Error;

/// Errors returned by option validation, parameter loading and the engines.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GruError {
    /// An option of [`crate::GruSpec`] (or of a plan) has a value it cannot take.
    #[error("invalid option `{field}` = {value}: {reason}")]
    InvalidOption { field: String, value: String, reason: String },

    /// A tensor or parameter has the wrong number of elements for its shape.
    #[error("shape mismatch for `{field}`: expected {expected} ({shape}), got {actual}")]
    ShapeMismatch { field: String, shape: String, expected: usize, actual: usize },

    /// A dimension that must be positive is zero (steps, batch).
    #[error("`{field}` must be at least 1, got {value}")]
    EmptyDimension { field: String, value: usize },

    /// A sequence length outside `0..=steps`.
    #[error("`lengths[{index}]` = {value} is outside 0..={steps}")]
    InvalidLength { index: usize, value: usize, steps: usize },

    /// A NaN or infinite value in an input, a gradient or a parameter.
    #[error("`{field}[{index}]` is not finite ({value})")]
    NonFinite { field: String, index: usize, value: f64 },

    /// The element type of the data differs from the one the model holds.
    #[error("dtype mismatch for `{field}`: expected {expected}, got {actual}")]
    DTypeMismatch { field: String, expected: String, actual: String },

    /// `forward_train`/`backward` called on an engine prepared for inference.
    #[error("`{operation}` needs Mode::Training, but the engine was prepared with Mode::{mode}")]
    ModeMismatch { operation: String, mode: String },

    /// `backward` was handed state saved by another engine or another call shape.
    #[error("saved state mismatch: {reason}")]
    SavedMismatch { reason: String },

    /// The engine exists but cannot compute this option (for example oneDNN and softsign).
    #[error("engine {engine} does not support `{field}` = {value}: {reason}")]
    Unsupported { engine: String, field: String, value: String, reason: String },

    /// A stream id that no stream of this set holds: never opened here, or closed.
    #[error("unknown stream {id}: {reason}")]
    UnknownStream { id: String, reason: String },

    /// Every slot of a stream set is taken.
    #[error("no free stream slot: all {capacity} are open (close one, or make a larger set)")]
    StreamsFull { capacity: usize },

    /// The same stream named twice in one step.
    #[error("stream {id} is named twice in one step (`ids[{first}]` and `ids[{second}]`)")]
    DuplicateStream { id: String, first: usize, second: usize },

    /// The engine cannot run here (library missing, not built in, no device).
    #[error("engine {engine} is unavailable: {reason}")]
    EngineUnavailable { engine: String, reason: String },
}

/// Result alias of this crate.
pub type Result<T, E = GruError> = std::result::Result<T, E>;

impl GruError {
    /// An engine's refusal of an option it cannot compute (`Unsupported`).
    pub fn unsupported(engine: &str, field: &str, value: impl ToString, reason: &str) -> Self {
        GruError::Unsupported {
            engine: engine.into(),
            field: field.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn option(field: &str, value: impl ToString, reason: &str) -> Self {
        GruError::InvalidOption { field: field.into(), value: value.to_string(), reason: reason.into() }
    }

    pub(crate) fn shape(field: impl Into<String>, shape: impl Into<String>, expected: usize, actual: usize) -> Self {
        GruError::ShapeMismatch { field: field.into(), shape: shape.into(), expected, actual }
    }
}
