//! The network's parameter segments: contiguous runs of the flat parameter vector `θ: [P]`
//! (the order of [`Network::params_flat`](super::Network::params_flat)) with MATLAB's
//! per-parameter factors. The network owns them ([`Network::segments`](super::Network::segments));
//! the optimizer and gradient clipping read them.

use serde::{Deserialize, Serialize};

/// A contiguous run `start..start+len` of the flat parameter vector, with MATLAB's per-parameter
/// `LearnRateFactor` (step size `α_s = α · learn_rate_factor`; 0 freezes the run) and
/// `L2Factor` (L2 coefficient `λ_s = λ · l2_factor`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start: usize,
    pub len: usize,
    pub learn_rate_factor: f64,
    pub l2_factor: f64,
    /// Index of the learnable tensor the run belongs to (runs of one tensor share it); used by
    /// [`GradientThresholdMethod::L2Norm`](crate::optim::GradientThresholdMethod::L2Norm).
    pub tensor: usize,
}

impl Segment {
    /// A run `start..start+len` of tensor `tensor` with both factors 1.
    pub fn new(start: usize, len: usize, tensor: usize) -> Self {
        Segment { start, len, learn_rate_factor: 1.0, l2_factor: 1.0, tensor }
    }

    /// The same run with the given `LearnRateFactor` and `L2Factor`.
    pub fn with_factors(self, learn_rate_factor: f64, l2_factor: f64) -> Self {
        Segment { learn_rate_factor, l2_factor, ..self }
    }

    /// `start..start+len` when it fits in `0..num_params`.
    pub fn range(&self, num_params: usize) -> Option<std::ops::Range<usize>> {
        let end = self.start.checked_add(self.len)?;
        (end <= num_params).then_some(self.start..end)
    }
}
