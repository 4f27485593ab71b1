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

impl<T: gru_core::Real> super::Network<T> {
    /// Per node: the index of its layer in [`Network::specs`](super::Network::specs) and, in a
    /// GRU split by dropout between its stacked layers (`depth` GRU nodes with dropout nodes
    /// between them, see `build_gru`), the stacked layer it starts at.
    fn node_owners(&self) -> Vec<(usize, usize)> {
        let mut owners = Vec::new();
        for (i, spec) in self.specs().iter().enumerate() {
            let nodes = match spec {
                super::LayerSpec::Gru(g) if g.dropout > 0.0 && g.spec.depth > 1 => 2 * g.spec.depth - 1,
                _ => 1,
            };
            owners.extend((0..nodes).map(|k| (i, k / 2)));
        }
        owners
    }

    /// The index in [`Network::specs`](super::Network::specs) of the layer node `node` belongs to.
    pub(crate) fn layer_of_node(&self, node: usize) -> usize {
        self.node_owners().get(node).map_or(node, |o| o.0)
    }

    /// Where the flat parameter `index` ([`Network::params_flat`](super::Network::params_flat)
    /// order) lives, for messages: `layers[1] (GRU, stack layer 0 forward): recurrent weights R,
    /// gate z`, `layers[2] (fully connected): bias b`. `None` past the end.
    pub fn parameter_name(&self, index: usize) -> Option<String> {
        const GATES: [&str; 3] = ["r", "z", "n"];
        let owners = self.node_owners();
        let mut at = 0usize;
        for (node, &(layer, split)) in self.nodes.iter().zip(&owners) {
            match node {
                super::Node::Gru(g) => {
                    let dirs = if g.bidirectional() { 2 } else { 1 };
                    let reverse = g.spec().is_ok_and(|s| s.reverse);
                    for (k, b) in g.params().map(|p| p.blocks()).unwrap_or_default().iter().enumerate() {
                        let h = b.hidden_size();
                        let stack = format!(
                            "layers[{layer}] (GRU, stack layer {} {})",
                            split + k / dirs,
                            if k % dirs == 1 || reverse { "backward" } else { "forward" }
                        );
                        let three_h = 3 * h;
                        for (what, len, cols) in [
                            ("input weights W", b.w().len(), b.input_size()),
                            ("recurrent weights R", b.r().len(), h),
                            ("bias", b.bias().len(), 1),
                        ] {
                            if index < at + len {
                                let row = (index - at) / cols.max(1);
                                let gate = GATES[(row % three_h) / h.max(1)];
                                let part = if row >= three_h { " (recurrent part)" } else { "" };
                                return Some(format!("{stack}: {what}{part}, gate {gate}"));
                            }
                            at += len;
                        }
                        if index < at + b.norm().len() {
                            // [γ_x | β_x | γ_h | β_h], 3H each
                            let k = index - at;
                            let what = ["input gain", "input bias", "recurrent gain", "recurrent bias"][k / three_h];
                            return Some(format!(
                                "{stack}: layer norm {what}, gate {}",
                                GATES[(k % three_h) / h.max(1)]
                            ));
                        }
                        at += b.norm().len();
                    }
                    if let Some(s) = g.initial_state() {
                        if index < at + s.len() {
                            return Some(format!("layers[{layer}] (GRU): learnable initial state"));
                        }
                        at += s.len();
                    }
                }
                super::Node::Dense(d) => {
                    for (what, len) in [("weights W", d.w.len()), ("bias b", d.b.len())] {
                        if index < at + len {
                            return Some(format!("layers[{layer}] (fully connected): {what}"));
                        }
                        at += len;
                    }
                }
                _ => {}
            }
        }
        None
    }
}
