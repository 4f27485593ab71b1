//! The one error type of the `gru` crate. Core errors pass through unchanged; the others
//! name the property, key path or engine and the value that was given.

use thiserror::Error;

pub use gru_core::GruError;

/// Errors of layers, configurations and engines.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// An error of the core math (shapes, lengths, options, non-finite values).
    #[error(transparent)]
    Core(#[from] GruError),

    /// A layer property (MATLAB name) was given a value it cannot take.
    #[error("invalid value for property {property}: {value}: {reason}")]
    Property { property: String, value: String, reason: String },

    /// A property is needed but not resolved yet (e.g. InputSize "auto" before any input).
    #[error("property {property} is not set yet: {reason}")]
    Unresolved { property: String, reason: String },

    /// A configuration key (Korali JSON) has a wrong type or an out-of-range value.
    #[error("invalid configuration value at {path}: {value}: {reason}")]
    Config { path: String, value: String, reason: String },

    /// A configuration key that Korali does not know.
    #[error("unknown configuration key {path}{}", suggestion.as_ref().map(|s| format!(" (did you mean \"{s}\"?)")).unwrap_or_default())]
    UnknownKey { path: String, suggestion: Option<String> },

    /// An engine that is not built in or cannot run here; `remedy` says how to get it.
    #[error("engine {engine} is not available: {reason}. {remedy}")]
    EngineUnavailable { engine: String, reason: String, remedy: String },

    /// A file (checkpoint, data set, export) could not be read or written, or its content
    /// is malformed; `reason` says what was wrong (and where, when known).
    #[error("{path}: {reason}")]
    File { path: String, reason: String },

    /// A gru model file whose content differs from the checksum it was written with (a
    /// flipped or overwritten byte of its tensor data or model JSON): names the file and
    /// both checksums.
    #[error(
        "{path}: the file is corrupt: its tensor data and model JSON have checksum {computed}, \
         but it was written with {stored}"
    )]
    ChecksumMismatch { path: String, stored: String, computed: String },

    /// Training data or targets that do not fit the network (names the field and value).
    #[error("invalid data for {field}: {value}: {reason}")]
    Data { field: String, value: String, reason: String },

    /// An operation that has no meaning for this layer (e.g. stateful prediction on a
    /// bidirectional layer).
    #[error("{operation} is not possible: {reason}")]
    Unsupported { operation: String, reason: String },

    /// A model option that the target of a conversion has no way to hold (e.g.
    /// before-multiplication in a PyTorch `nn.GRU`, Keras `go_backwards` in a `GruSpec`):
    /// names the target, the option and its value.
    #[error("{target} cannot represent {option} = {value}: {reason}")]
    NotRepresentable { target: String, option: String, value: String, reason: String },

    /// An ONNX model that cannot be read: a malformed graph or tensor, or an operator or
    /// attribute value this crate does not support; names the node (`name (op_type)`).
    #[error("{path}: ONNX node {node}: {reason}")]
    Onnx { path: String, node: String, reason: String },

    /// A converted model whose outputs differ from the original's beyond the DESIGN.md
    /// tolerance (`|a - ref| <= tol·(1 + |ref|)`): names the tensor, the element and both values.
    #[error(
        "verification against {reference} failed: {tensor}[{index}] is {ours} here but {theirs} there \
         (tolerance {tolerance}·(1 + |ref|))"
    )]
    VerifyMismatch { reference: String, tensor: String, index: usize, ours: f64, theirs: f64, tolerance: f64 },

    /// A size that implies more memory than the budget (see [`crate::memory`]): names the
    /// field, its value, the bytes it implies for `purpose` (saturated at `u64::MAX`) and the
    /// budget and where it comes from.
    #[error(
        "{field} = {value} needs {bytes} bytes ({}) for {purpose}, more than the memory budget of {budget} bytes \
         ({}, {origin}); lower the size, or raise the budget if the memory is there (gru --memory-budget)",
        crate::memory::human_bytes(u128::from(*bytes)),
        crate::memory::human_bytes(u128::from(*budget))
    )]
    MemoryBudget {
        field: String,
        value: String,
        purpose: String,
        bytes: u64,
        budget: u64,
        origin: crate::memory::BudgetSource,
    },

    /// Training stopped at a safe point because it was asked to (a stop flag: Ctrl-C, SIGTERM):
    /// `epoch` is the epoch (a Korali experiment: the generation) under way, 1-based, and
    /// `iteration` the optimizer steps taken. The trainer's state is where the run stands.
    #[error("training interrupted in epoch {epoch} after iteration {iteration}")]
    Interrupted { epoch: usize, iteration: usize },

    /// Training diverged: a non-finite loss, gradient or parameter (`quantity`) at
    /// `location` (the first parameter segment with a non-finite value, or the loss), in
    /// `epoch` (a Korali experiment: the generation) at `iteration` (1-based); `hint` says
    /// what to change.
    #[error("training diverged in epoch {epoch}, iteration {iteration}: {quantity} of {location} is {value}; {hint}")]
    Diverged { epoch: usize, iteration: usize, quantity: String, location: String, value: f64, hint: String },

    /// Data-parallel training (see [`crate::train::distributed`]) could not go on: on `rank` of
    /// `size`, `reason` says why (another rank's failure names that rank).
    #[error("data-parallel training, rank {rank} of {size}: {reason}")]
    Distributed { rank: usize, size: usize, reason: String },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn property(property: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::Property { property: property.into(), value: value.to_string(), reason: reason.into() }
    }

    pub(crate) fn file(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Error::File { path: path.display().to_string(), reason: reason.into() }
    }

    pub(crate) fn onnx(path: &std::path::Path, node: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Onnx { path: path.display().to_string(), node: node.into(), reason: reason.into() }
    }

    pub(crate) fn data(field: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::Data { field: field.into(), value: value.to_string(), reason: reason.into() }
    }

    pub(crate) fn not_representable(
        target: &str,
        option: &str,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Error::NotRepresentable {
            target: target.into(),
            option: option.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// A [`Error::Diverged`] of one training step; the training loop fills in the epoch, the
    /// iteration and the hint ([`Error::in_iteration`]).
    pub(crate) fn diverged(quantity: &str, location: impl Into<String>, value: f64) -> Self {
        Error::Diverged {
            epoch: 0,
            iteration: 0,
            quantity: quantity.into(),
            location: location.into(),
            value,
            hint: String::new(),
        }
    }

    /// A [`Error::Diverged`] of one training step placed in its run: `epoch` and `iteration`
    /// (1-based) and what to change (`hint`); any other error unchanged.
    pub(crate) fn in_iteration(self, epoch: usize, iteration: usize, hint: &str) -> Self {
        match self {
            Error::Diverged { quantity, location, value, .. } => {
                Error::Diverged { epoch, iteration, quantity, location, value, hint: hint.into() }
            }
            other => other,
        }
    }

    pub(crate) fn config(path: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::Config { path: path.into(), value: value.to_string(), reason: reason.into() }
    }
}
