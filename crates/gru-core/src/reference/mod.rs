//! The scalar reference path: one sequence at a time, one layer, direction and step at a
//! time, through [`cell::step`]. It is the oracle of the conformance suite.
//!
//! Per sequence b of length L = lengths[b]: the forward direction reads steps 0..L, the
//! reverse direction reads L-1 down to 0, both from the block's h0 (zero unless given).
//! Layer ℓ > 0 reads `[forward_h_t, backward_h_t]` of layer ℓ-1 at each step t.
//! The regularizers' masks (`crate::regularize::masks`): each layer's input times its
//! input-dropout mask, each block's recurrent-dropout mask and zoneout factors per step.

mod cell;

use crate::activation::Activations;
use crate::batch::{output_shape, state_len, GruGradients, GruOutput, OutputGrads};
use crate::params::GruParams;
use crate::real::Real;
use crate::regularize::masks::{Masks, Zoneout};
use crate::spec::{GruSpec, OutputMode};

use cell::{StepCache, StepOptions};

/// Saved state of the reference path: per sequence, per block, the caches in time order.
pub(crate) struct ReferenceSaved<T> {
    steps: usize,
    lengths: Vec<usize>,
    /// caches[b][block][t] for t in 0..lengths[b].
    caches: Vec<Vec<Vec<StepCache<T>>>>,
    /// The masks the forward pass drew (the input dropout's are drawn again by backward).
    masks: Masks,
}

/// Which steps a direction visits, in order, for a sequence of `len` steps: forward
/// 0..len, backward (the second direction of a bidirectional stack, every block of a
/// reverse stack: [`GruSpec::sweeps_backward`]) len-1 down to 0.
fn visit_order(backward: bool, len: usize) -> Box<dyn Iterator<Item = usize>> {
    if backward {
        Box::new((0..len).rev())
    } else {
        Box::new(0..len)
    }
}

/// Forward over a validated batch. `x`: [T, B, I]; `h0`: [D·dirs, B, H] or None; `masks`:
/// the regularizers' masks of a training call, or their inference form.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward<T: Real>(
    spec: &GruSpec,
    params: &GruParams<T>,
    x: &[T],
    steps: usize,
    lengths: &[usize],
    h0: Option<&[T]>,
    keep: bool,
    masks: &Masks,
) -> (GruOutput<T>, Option<ReferenceSaved<T>>) {
    let batch = lengths.len();
    let (hid, dirs) = (spec.hidden_size, spec.directions());
    let act = Activations::<T>::new(spec);
    let out_w = spec.output_size();
    let y_shape = output_shape(spec, steps, batch);
    let mut y = vec![T::zero(); y_shape.iter().product()];
    let mut h_t = vec![T::zero(); state_len(spec, batch)];
    let mut all_caches = Vec::new();

    for (b, &len) in lengths.iter().enumerate() {
        let inp = spec.input_size;
        let mut layer_in: Vec<Vec<T>> =
            (0..len).map(|t| x[(t * batch + b) * inp..(t * batch + b + 1) * inp].to_vec()).collect();
        let mut seq_caches = Vec::new();
        for layer in 0..spec.depth {
            if let Some(m) = input_mask(masks, layer, batch, b, spec.layer_input_size(layer)) {
                for x_t in layer_in.iter_mut() {
                    x_t.iter_mut().zip(&m).for_each(|(v, &m)| *v *= m);
                }
            }
            let mut layer_out = vec![vec![T::zero(); out_w]; len];
            for dir in 0..dirs {
                let block = layer * dirs + dir;
                let p = params.block(layer, dir, dirs);
                let mut h = match h0 {
                    Some(h0) => h0[(block * batch + b) * hid..(block * batch + b + 1) * hid].to_vec(),
                    None => vec![T::zero(); hid],
                };
                let h_mask: Option<Vec<T>> =
                    masks.recurrent_mask(block, batch, hid).map(|m| m[b * hid..(b + 1) * hid].to_vec());
                let mut keep_k = vec![T::zero(); hid];
                let mut caches: Vec<Option<StepCache<T>>> = vec![None; len];
                for t in visit_order(spec.sweeps_backward(dir), len) {
                    let zoneout = masks.zoneout() != Zoneout::Off;
                    if zoneout {
                        masks.zoneout_keep(block, b, t, 0..hid, &mut keep_k);
                    }
                    let opts = StepOptions {
                        mode: spec.reset_gate_mode,
                        h_mask: h_mask.as_deref(),
                        keep: zoneout.then_some(&keep_k[..]),
                    };
                    let (h_new, cache) = cell::step(p, &act, &opts, &layer_in[t], &h);
                    layer_out[t][dir * hid..(dir + 1) * hid].copy_from_slice(&h_new);
                    caches[t] = Some(cache);
                    h = h_new;
                }
                h_t[(block * batch + b) * hid..(block * batch + b + 1) * hid].copy_from_slice(&h);
                if keep {
                    seq_caches.push(caches.into_iter().map(|c| c.expect("every valid step visited")).collect());
                }
            }
            layer_in = layer_out;
        }
        match spec.output_mode {
            OutputMode::Sequence => {
                for (t, v) in layer_in.iter().enumerate() {
                    y[(t * batch + b) * out_w..(t * batch + b + 1) * out_w].copy_from_slice(v);
                }
            }
            OutputMode::Last => {
                if let Some(last) = layer_in.last() {
                    y[b * out_w..(b + 1) * out_w].copy_from_slice(last);
                }
            }
        }
        all_caches.push(seq_caches);
    }
    // Output mode last of a length-0 sequence: the top layer's h_T (its h0), see `lengths`.
    crate::lengths::empty_last_outputs(spec, &mut y, &h_t, lengths);
    let out = GruOutput { y, y_shape, h_t, computed_by: super::native::REFERENCE_PATH };
    let saved = keep.then(|| ReferenceSaved { steps, lengths: lengths.to_vec(), caches: all_caches, masks: *masks });
    (out, saved)
}

/// Sequence `b`'s input-dropout mask of `layer` (`width` values), when there is one.
fn input_mask<T: Real>(masks: &Masks, layer: usize, batch: usize, b: usize, width: usize) -> Option<Vec<T>> {
    masks.input_mask(layer, batch, width).map(|m: Vec<T>| m[b * width..(b + 1) * width].to_vec())
}

/// Backward over the state saved by [`forward`] with `keep = true`.
pub(crate) fn backward<T: Real>(
    spec: &GruSpec,
    params: &GruParams<T>,
    saved: &ReferenceSaved<T>,
    grads: &OutputGrads<'_, T>,
) -> GruGradients<T> {
    let (steps, batch) = (saved.steps, saved.lengths.len());
    let (hid, dirs, inp, out_w) = (spec.hidden_size, spec.directions(), spec.input_size, spec.output_size());
    let act = Activations::<T>::new(spec);
    let mut dparams = GruParams::zeros(spec);
    let mut dx = vec![T::zero(); steps * batch * inp];
    let mut dh0 = vec![T::zero(); state_len(spec, batch)];
    // Output mode last: the gradient of a length-0 sequence's output goes to its top h_T.
    let dh_t_all = crate::lengths::empty_last_grads(spec, grads.dy, grads.dh_t, &saved.lengths);
    let dh_t_all = dh_t_all.as_deref().or(grads.dh_t);

    for (b, &len) in saved.lengths.iter().enumerate() {
        // dL/d(top layer output) at each valid step.
        let mut d_above: Vec<Vec<T>> = match spec.output_mode {
            OutputMode::Sequence => {
                (0..len).map(|t| grads.dy[(t * batch + b) * out_w..(t * batch + b + 1) * out_w].to_vec()).collect()
            }
            OutputMode::Last => {
                let mut d = vec![vec![T::zero(); out_w]; len];
                if let Some(last) = d.last_mut() {
                    last.copy_from_slice(&grads.dy[b * out_w..(b + 1) * out_w]);
                }
                d
            }
        };
        for layer in (0..spec.depth).rev() {
            let layer_inp = spec.layer_input_size(layer);
            let mut d_below = vec![vec![T::zero(); layer_inp]; len];
            for dir in 0..dirs {
                let block = layer * dirs + dir;
                let p = params.block(layer, dir, dirs);
                let caches = &saved.caches[b][block];
                let mut dh = match dh_t_all {
                    Some(d) => d[(block * batch + b) * hid..(block * batch + b + 1) * hid].to_vec(),
                    None => vec![T::zero(); hid],
                };
                let order: Vec<usize> = visit_order(spec.sweeps_backward(dir), len).collect();
                for &t in order.iter().rev() {
                    for (j, v) in dh.iter_mut().enumerate() {
                        *v += d_above[t][dir * hid + j];
                    }
                    let g = &mut dparams.blocks_mut()[block];
                    dh = cell::step_backward(p, &act, spec.reset_gate_mode, &caches[t], &dh, g, &mut d_below[t]);
                }
                dh0[(block * batch + b) * hid..(block * batch + b + 1) * hid].copy_from_slice(&dh);
            }
            // x̃ = m_x ⊙ x: the gradient of the layer's input.
            if let Some(m) = input_mask(&saved.masks, layer, batch, b, layer_inp) {
                for d in d_below.iter_mut() {
                    d.iter_mut().zip(&m).for_each(|(v, &m)| *v *= m);
                }
            }
            d_above = d_below;
        }
        for (t, d) in d_above.iter().enumerate() {
            dx[(t * batch + b) * inp..(t * batch + b + 1) * inp].copy_from_slice(d);
        }
    }
    GruGradients { dx, dh0, params: dparams }
}
