//! Forward and backward passes of a [`Network`] over one batch (or one chunk of a split
//! batch), with the caches backward needs.

use gru_core::Real;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::dense::{softmax, softmax_backward};
use super::{Network, Node};
use crate::error::{Error, Result};
use crate::layer::{LayerInput, LayerSaved};

/// What one node's backward needs.
enum Cache<T> {
    None,
    Gru(LayerSaved),
    Dropout(Vec<T>),
    Dense(Vec<T>),
    Softmax(Vec<T>),
    Elementwise(Vec<T>, Vec<T>),
    Output(Vec<T>),
}

/// The result of a forward pass: the output, each GRU node's final state, and the caches.
pub struct Pass<T> {
    caches: Vec<Cache<T>>,
    /// `[T, B, K]` (sequence output) or `[B, K]`.
    pub output: Vec<T>,
    pub steps: usize,
    pub lengths: Vec<usize>,
    /// Per node: the final state `[D·dirs, B, H]` of a GRU node, `None` for other nodes.
    pub final_states: Vec<Option<Vec<T>>>,
    /// Whether a training pass (caches kept) produced this.
    pub training: bool,
}

impl<T: Real> Network<T> {
    /// Runs the network on `x` (`[T, B, C]`, valid steps first, `lengths[b]` in 0..=T).
    /// The steps past a length are padding, never read (NaN there is padding, not an error):
    /// the network computes on zeros there, and its layers' results at padded steps are
    /// not outputs. A sequence of length 0 leaves each GRU in its initial state: sequence
    /// output zero, output mode `last` its top layer's initial state (`gru_core::lengths`),
    /// so a sequence-to-one network predicts from that state.
    /// `initial_states` gives each GRU node's initial state (by node index) for truncated
    /// BPTT; `training` (with the dropout RNG) keeps what backward needs.
    pub fn forward(
        &mut self,
        x: &[T],
        steps: usize,
        lengths: &[usize],
        initial_states: Option<&[Option<Vec<T>>]>,
        mut training: Option<&mut ChaCha8Rng>,
    ) -> Result<Pass<T>> {
        let batch = lengths.len();
        let size = self.input_size();
        if batch == 0 || x.len() != steps * batch * size {
            return Err(Error::data("x", x.len(), format!("expected [T, B, C] = [{steps}, {batch}, {size}]")));
        }
        let mut act = x.to_vec();
        // Zero padding: a layer that reads whole rows (fully connected, normalization) must
        // not carry a NaN of the padding into its parameter gradients (0 · NaN).
        for (row, step) in act.chunks_exact_mut(size.max(1)).enumerate() {
            if row / batch >= lengths[row % batch] {
                step.fill(T::zero());
            }
        }
        let (mut width, mut seq) = (size, true);
        let mut caches = Vec::with_capacity(self.nodes.len());
        let mut final_states = vec![None; self.nodes.len()];
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let rows = if seq { steps * batch } else { batch };
            let cache = match node {
                Node::Input { stats: Some((mean, std)), .. } => {
                    for row in act.chunks_exact_mut(width) {
                        for c in 0..width {
                            row[c] = (row[c] - mean[c]) / std[c];
                        }
                    }
                    Cache::None
                }
                Node::Input { .. } => Cache::None,
                Node::Gru(g) => {
                    let input = LayerInput::tbc(&act, steps, batch, width).with_lengths(lengths);
                    let h0 = initial_states.and_then(|s| s.get(i).and_then(Option::as_deref));
                    let (out, cache, h_t) = if let Some(rng) = training.as_deref_mut() {
                        // The regularizers' masks: one draw per GRU layer and minibatch from
                        // the trainer's generator (none drawn without them).
                        if g.spec().is_ok_and(|s| s.regularization.has_masks()) {
                            g.set_mask_draw(rng.random::<u64>())?;
                        }
                        let (out, saved, h_t) = g.forward_train_from(&input, h0)?;
                        (out, Cache::Gru(saved), h_t)
                    } else {
                        let (out, h_t) = g.predict_from(&input, h0)?;
                        (out, Cache::None, h_t)
                    };
                    seq = out.out_dims.len() == 3;
                    width = *out.out_dims.last().expect("non-empty dims");
                    act = out.out;
                    final_states[i] = Some(h_t);
                    cache
                }
                Node::Dropout(p) => match training.as_deref_mut() {
                    Some(rng) if *p > 0.0 => {
                        let keep = T::lit(1.0 / (1.0 - *p));
                        let mask: Vec<T> =
                            (0..act.len()).map(|_| if rng.random::<f64>() < *p { T::zero() } else { keep }).collect();
                        for (a, m) in act.iter_mut().zip(&mask) {
                            *a *= *m;
                        }
                        Cache::Dropout(mask)
                    }
                    _ => Cache::None,
                },
                Node::Dense(d) => {
                    let y = d.forward(&act, rows);
                    width = d.outputs;
                    let input = std::mem::replace(&mut act, y);
                    if training.is_some() {
                        Cache::Dense(input)
                    } else {
                        Cache::None
                    }
                }
                Node::Softmax => {
                    act = softmax(&act, width);
                    if training.is_some() {
                        Cache::Softmax(act.clone())
                    } else {
                        Cache::None
                    }
                }
                Node::Elementwise(f) => {
                    let y = f.forward(&act);
                    let x = std::mem::replace(&mut act, y);
                    if training.is_some() {
                        Cache::Elementwise(x, act.clone())
                    } else {
                        Cache::None
                    }
                }
                Node::Output(o) => {
                    let y = o.forward(&act, width);
                    let x = std::mem::replace(&mut act, y);
                    if training.is_some() {
                        Cache::Output(x)
                    } else {
                        Cache::None
                    }
                }
            };
            caches.push(cache);
        }
        // Normalized regression targets: the output in the targets' units.
        self.denormalize_output(&mut act);
        Ok(Pass { caches, output: act, steps, lengths: lengths.to_vec(), final_states, training: training.is_some() })
    }

    /// Gradients of every learnable value (the order of [`Network::params_flat`]) from
    /// dL/d(output) of a training pass. A non-finite gradient reaching a GRU layer is an
    /// [`Error::Diverged`] naming the layer.
    pub fn backward(&mut self, pass: Pass<T>, d_output: &[T]) -> Result<Vec<T>> {
        if !pass.training {
            return Err(Error::data("pass", "inference", "backward needs a training pass"));
        }
        if d_output.len() != pass.output.len() {
            return Err(Error::data(
                "d_output",
                d_output.len(),
                format!("the output has {} values", pass.output.len()),
            ));
        }
        let (steps, batch) = (pass.steps, pass.lengths.len());
        let mut grad = d_output.to_vec();
        self.normalize_output_grad(&mut grad);
        let mut per_node: Vec<Vec<T>> = vec![Vec::new(); self.nodes.len()];
        let mut seq = self.sequence_output;
        for (i, (node, cache)) in self.nodes.iter_mut().zip(pass.caches).enumerate().rev() {
            match (node, cache) {
                (Node::Gru(g), Cache::Gru(saved)) => {
                    if let Some(v) = grad.iter().find(|v| !v.is_finite()) {
                        let location = format!("the output of layers[{}] (GRU)", self.layer_of_node(i));
                        return Err(Error::diverged("the gradient", location, v.widen()));
                    }
                    let g_out = g.backward(saved, &grad, None)?;
                    let mut flat = g_out.params.to_flat();
                    flat.extend(g_out.initial_state.unwrap_or_default());
                    per_node[i] = flat;
                    grad = g_out.dx;
                    seq = true;
                }
                (Node::Dropout(_), Cache::Dropout(mask)) => {
                    for (d, m) in grad.iter_mut().zip(&mask) {
                        *d *= *m;
                    }
                }
                (Node::Dense(d), Cache::Dense(input)) => {
                    let rows = if seq { steps * batch } else { batch };
                    let (dx, mut dw, db) = d.backward(&input, &grad, rows);
                    dw.extend(db);
                    per_node[i] = dw;
                    grad = dx;
                }
                (Node::Softmax, Cache::Softmax(p)) => {
                    let width = p.len() / if seq { steps * batch } else { batch };
                    grad = softmax_backward(&p, &grad, width);
                }
                (Node::Elementwise(f), Cache::Elementwise(x, y)) => grad = f.backward(&x, &y, &grad),
                (Node::Output(o), Cache::Output(x)) => {
                    let width = x.len() / if seq { steps * batch } else { batch };
                    grad = o.backward(&x, &grad, width);
                }
                (Node::Input { .. }, _) | (Node::Dropout(_), Cache::None) => {}
                _ => return Err(Error::data("pass", i, "the pass does not belong to this network")),
            }
        }
        Ok(per_node.into_iter().flatten().collect())
    }
}
