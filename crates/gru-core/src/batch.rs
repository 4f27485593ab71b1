//! What crosses the engine boundary: a batch of sequences in, outputs and gradients out.
//!
//! Layouts (all row-major):
//! ```text
//! x:        [T, B, I]          time-major; steps past lengths[b] are padding, never read
//! h0, h_T:  [D·dirs, B, H]     indexed layer·dirs + dir
//! y:        [T, B, dirs·H]     OutputMode::Sequence, zero past lengths[b]
//!           [B, dirs·H]        OutputMode::Last: y[b] = y_seq[lengths[b] - 1, b, :]
//!                              (lengths[b] = 0: the top layer's h_T, see `crate::lengths`)
//! ```
//! `lengths[b]` is in `0..=T`. A sequence of length 0 gives y = 0 (sequence mode) and
//! h_T = h0, so that dh0 = dh_T; the padding may hold anything, NaN included (only a
//! non-finite value inside a sequence is an error). The rules every engine follows are in
//! [`crate::lengths`].

use crate::error::{GruError, Result};
use crate::params::{check_finite, GruParams};
use crate::real::Real;
use crate::spec::{GruSpec, OutputMode};

/// A batch of (possibly ragged) sequences with an optional initial state.
#[derive(Clone, Copy, Debug)]
pub struct SequenceBatch<'a, T> {
    /// `[T, B, I]` time-major.
    pub x: &'a [T],
    /// T: steps of the padded batch.
    pub steps: usize,
    /// B: sequences in the batch.
    pub batch: usize,
    /// `lengths[b]` in `0..=T`; `None` means every sequence has T steps. The steps past
    /// `lengths[b]` are padding: never read, whatever they hold (NaN included).
    pub lengths: Option<&'a [usize]>,
    /// `[D·dirs, B, H]`; `None` means zero.
    pub h0: Option<&'a [T]>,
}

impl<'a, T: Real> SequenceBatch<'a, T> {
    /// A batch of `batch` full-length sequences of `steps` steps, zero initial state.
    pub fn new(x: &'a [T], steps: usize, batch: usize) -> Self {
        Self { x, steps, batch, lengths: None, h0: None }
    }

    /// Sets per-sequence lengths.
    pub fn with_lengths(mut self, lengths: &'a [usize]) -> Self {
        self.lengths = Some(lengths);
        self
    }

    /// Sets the initial state `[D·dirs, B, H]`.
    pub fn with_initial_state(mut self, h0: &'a [T]) -> Self {
        self.h0 = Some(h0);
        self
    }

    /// Checks every shape, length and value against `spec`; returns the resolved lengths.
    /// Values of `x` are checked inside each sequence only (`x[t, b, :]` for
    /// `t < lengths[b]`): the padding is not input. An engine then reads `x` through
    /// [`crate::lengths::clean_padding`].
    pub fn validate(&self, spec: &GruSpec) -> Result<Vec<usize>> {
        if self.steps == 0 {
            return Err(GruError::EmptyDimension { field: "steps".into(), value: 0 });
        }
        if self.batch == 0 {
            return Err(GruError::EmptyDimension { field: "batch".into(), value: 0 });
        }
        let shape = format!("[T, B, I] = [{}, {}, {}]", self.steps, self.batch, spec.input_size);
        let expected = checked_product("x", &shape, &[self.steps, self.batch, spec.input_size], self.x.len())?;
        if self.x.len() != expected {
            return Err(GruError::shape("x", shape, expected, self.x.len()));
        }
        let lengths = match self.lengths {
            None => vec![self.steps; self.batch],
            Some(l) => {
                if l.len() != self.batch {
                    return Err(GruError::shape("lengths", format!("[B] = [{}]", self.batch), self.batch, l.len()));
                }
                if let Some((index, &value)) = l.iter().enumerate().find(|(_, &v)| v > self.steps) {
                    return Err(GruError::InvalidLength { index, value, steps: self.steps });
                }
                l.to_vec()
            }
        };
        crate::lengths::check_finite_inside("x", self.x, self.batch, spec.input_size, &lengths)?;
        if let Some(h0) = self.h0 {
            let shape = format!("[D·dirs, B, H] = [{}, {}, {}]", spec.num_blocks(), self.batch, spec.hidden_size);
            let expected = checked_product("h0", &shape, &[spec.num_blocks(), self.batch, spec.hidden_size], h0.len())?;
            if h0.len() != expected {
                return Err(GruError::shape("h0", shape, expected, h0.len()));
            }
            check_finite("h0", h0)?;
        }
        Ok(lengths)
    }
}

/// The product of `dims`, or a shape error for `field` when it does not fit in `usize`
/// (then no slice of `actual` elements can have that shape).
fn checked_product(field: &str, shape: &str, dims: &[usize], actual: usize) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| GruError::shape(field, format!("{shape}, more elements than fit in memory"), usize::MAX, actual))
}

/// Elements of a state tensor `[D·dirs, B, H]`.
pub fn state_len(spec: &GruSpec, batch: usize) -> usize {
    spec.num_blocks() * batch * spec.hidden_size
}

/// Shape of `y` for a batch: `[T, B, dirs·H]` or `[B, dirs·H]`.
pub fn output_shape(spec: &GruSpec, steps: usize, batch: usize) -> Vec<usize> {
    match spec.output_mode {
        OutputMode::Sequence => vec![steps, batch, spec.output_size()],
        OutputMode::Last => vec![batch, spec.output_size()],
    }
}

/// The result of a forward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct GruOutput<T> {
    /// `[T, B, dirs·H]` or `[B, dirs·H]` (see [`GruOutput::y_shape`]).
    pub y: Vec<T>,
    /// The shape of `y`.
    pub y_shape: Vec<usize>,
    /// `[D·dirs, B, H]`: each layer's and direction's state after its last valid step.
    pub h_t: Vec<T>,
    /// Which engine and path computed this (for example `"Korali/fast"`): a test can
    /// prove that the engine it meant to exercise really ran.
    pub computed_by: &'static str,
}

/// Upstream gradients handed to `backward`.
#[derive(Clone, Copy, Debug)]
pub struct OutputGrads<'a, T> {
    /// dL/dy, the shape of `y`.
    pub dy: &'a [T],
    /// dL/dh_T `[D·dirs, B, H]`; `None` means zero.
    pub dh_t: Option<&'a [T]>,
}

impl<T: Real> OutputGrads<'_, T> {
    /// Checks shapes and values against the forward call they belong to.
    pub fn validate(&self, spec: &GruSpec, steps: usize, batch: usize) -> Result<()> {
        let dims = output_shape(spec, steps, batch);
        let shape = format!("{dims:?}");
        let expected = checked_product("dy", &shape, &dims, self.dy.len())?;
        if self.dy.len() != expected {
            return Err(GruError::shape("dy", shape, expected, self.dy.len()));
        }
        check_finite("dy", self.dy)?;
        if let Some(dh) = self.dh_t {
            let shape = format!("[D·dirs, B, H] = [{}, {}, {}]", spec.num_blocks(), batch, spec.hidden_size);
            let expected = checked_product("dh_t", &shape, &[spec.num_blocks(), batch, spec.hidden_size], dh.len())?;
            if dh.len() != expected {
                return Err(GruError::shape("dh_t", shape, expected, dh.len()));
            }
            check_finite("dh_t", dh)?;
        }
        Ok(())
    }
}

/// Gradients of the loss w.r.t. everything the forward pass read.
#[derive(Clone, Debug, PartialEq)]
pub struct GruGradients<T> {
    /// dL/dx `[T, B, I]` (zero at padded steps).
    pub dx: Vec<T>,
    /// dL/dh0 `[D·dirs, B, H]` (also when the forward pass used the zero state).
    pub dh0: Vec<T>,
    /// dL/dθ in the canonical layout.
    pub params: GruParams<T>,
}
