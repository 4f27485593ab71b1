//! MATLAB's `HiddenState`: the state the next call starts from.

use gru_core::Real;

use crate::error::{Error, Result};

/// A hidden state: `[D·dirs, H]` shared by every sequence of a batch, or `[D·dirs, B, H]`
/// with one state per sequence (what stateful prediction leaves behind).
#[derive(Clone, Debug, PartialEq)]
pub struct HiddenState<T> {
    data: Vec<T>,
    batch: Option<usize>,
}

impl<T: Real> HiddenState<T> {
    /// `[D·dirs, H]`, broadcast over the batch.
    pub fn shared(data: Vec<T>) -> Self {
        Self { data, batch: None }
    }

    /// `[D·dirs, B, H]`, one state per sequence.
    pub fn per_sequence(data: Vec<T>, batch: usize) -> Self {
        Self { data, batch: Some(batch) }
    }

    /// The values, `[D·dirs, H]` or `[D·dirs, B, H]`.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// `None` when shared, `Some(B)` when per sequence.
    pub fn batch(&self) -> Option<usize> {
        self.batch
    }

    /// Checks the shape for `blocks` = D·dirs blocks of `hidden` units.
    pub(crate) fn validate(&self, blocks: usize, hidden: usize) -> Result<()> {
        let expected = blocks * hidden * self.batch.unwrap_or(1);
        if self.data.len() != expected {
            let shape = match self.batch {
                None => format!("[D·dirs, H] = [{blocks}, {hidden}]"),
                Some(b) => format!("[D·dirs, B, H] = [{blocks}, {b}, {hidden}]"),
            };
            return Err(Error::property(
                "HiddenState",
                format!("{} values", self.data.len()),
                format!("expected {expected} for {shape}"),
            ));
        }
        if let Some(i) = self.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::property("HiddenState", self.data[i], format!("element {i} is not finite")));
        }
        Ok(())
    }

    /// The state as `[D·dirs, B, H]` for a batch of `batch` sequences.
    pub(crate) fn expand(&self, blocks: usize, hidden: usize, batch: usize) -> Result<Vec<T>> {
        match self.batch {
            Some(b) if b == batch => Ok(self.data.clone()),
            Some(b) => Err(Error::property(
                "HiddenState",
                format!("a state for {b} sequences"),
                format!("the input has {batch} sequences; call reset_state() or pass a batch of {b}"),
            )),
            None => Ok(broadcast(&self.data, blocks, hidden, batch)),
        }
    }
}

/// `[D·dirs, H]` -> `[D·dirs, B, H]`.
pub(crate) fn broadcast<T: Copy>(data: &[T], blocks: usize, hidden: usize, batch: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(blocks * batch * hidden);
    for blk in 0..blocks {
        for _ in 0..batch {
            out.extend_from_slice(&data[blk * hidden..(blk + 1) * hidden]);
        }
    }
    out
}

/// `[D·dirs, B, H]` -> `[D·dirs, H]` by summing over the batch (the gradient of a broadcast).
pub(crate) fn sum_over_batch<T: Real>(data: &[T], blocks: usize, hidden: usize, batch: usize) -> Vec<T> {
    let mut out = vec![T::zero(); blocks * hidden];
    for blk in 0..blocks {
        for b in 0..batch {
            for j in 0..hidden {
                out[blk * hidden + j] += data[(blk * batch + b) * hidden + j];
            }
        }
    }
    out
}
