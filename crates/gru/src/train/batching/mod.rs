//! MATLAB's minibatch options for variable-length sequences, as pure functions:
//! `Shuffle` ([`epoch_order`]), `MiniBatchSize` ([`minibatches`]), `SequenceLength` and
//! `SequencePaddingDirection` ([`chunk_minibatch`], [`to_valid_first`], [`from_valid_first`]).
//!
//! Layouts: a sequence is a row-major `[len, C]` slice; a batch for the engine is time-major
//! `[T, B, C]` (row-major, element `(t, b, c)` at `(t·B + b)·C + c`) with `lengths[b]` in
//! `0..=T` and the valid steps first (right padding). Masking is exact, so padding values never
//! matter; this module fills them with zero. A sequence of length 0 (empty) is all padding.
//!
//! - `options.rs`: the options by name ([`SequenceLength`], [`PaddingDirection`], [`Shuffle`],
//!   [`PartialMiniBatch`]);
//! - `chunk.rs`: epoch orders, minibatches and their chunks ([`Chunk`]);
//! - `padding.rs`: a user's padded batch to valid steps first and back.

mod chunk;
mod options;
mod padding;

pub use chunk::{chunk_minibatch, epoch_batches, epoch_order, minibatches, Chunk};
pub use options::{PaddingDirection, PartialMiniBatch, SequenceLength, Shuffle};
pub use padding::{from_valid_first, to_valid_first};
