//! One time step of many independent streams on the fast path (`crate::stream`): each
//! layer's input projection (`block::input_projection`) and the dense sweep's own step
//! (`block::sweep_step`, the cell of `crate::cell`) over the `n` streams' rows, every row
//! active. A stream stepped frame by frame thus runs the operations its whole sequence
//! runs in one sweep, row by row; the products' sums per row do not depend on how many
//! rows there are where the panel kernel computes them (f32, AVX-512 or AVX2+FMA), so the
//! results are bit for bit a `forward`'s there.
//!
//! ```text
//! layer ℓ:  GX = in_ℓ · W_ℓᵀ + b_ℓ    in_0 = frames [n, I],  in_ℓ = h^{ℓ-1} (new) [n, H]
//!           h^ℓ <- cell(GX, h^ℓ)        state [D, n, H], layer ℓ at ℓ·n·H
//! out = h^{D-1}                         [n, H]
//! ```
//! With zoneout or layer norm (their inference form) the step is `reg_block.rs`'s.
//! Single-threaded: a step is microseconds, shorter than a hand-off to the helper threads.
//! Its buffers are kept across calls and grow only with `n` (no allocation once a step of
//! the largest `n` has run).

use super::block::{input_projection, sweep_step, PackedBlock, StepBuffers};
use super::reg_block::{self, RegBuffers, StepReg};
use crate::activation::Activations;
use crate::cell::row_width;
use crate::real::Real;
use crate::regularize::masks::Masks;
use crate::spec::GruSpec;

/// The buffers of the stream step, kept by the prepared stack.
#[derive(Default)]
pub(crate) struct StepScratch<T> {
    /// `GX` of one layer, `[n, 3H]`.
    gx: Vec<T>,
    /// One layer's new state, `[n, H]`, before it is copied into `state`.
    y: Vec<T>,
    bufs: StepBuffers<T>,
    /// The buffers of the regularized step (zoneout, layer norm).
    reg_bufs: RegBuffers<T>,
}

/// One step of `n` streams through the stack (shapes checked by the caller): `frames`
/// `[n, I]`, `state` `[D, n, H]` updated in place, `out` `[n, H]` the top layer's new state.
/// `masks`: the inference form of the regularizers.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step<T: Real>(
    spec: &GruSpec,
    packed: &[PackedBlock<T>],
    scratch: &mut StepScratch<T>,
    frames: &[T],
    n: usize,
    state: &mut [T],
    out: &mut [T],
    masks: &Masks,
) {
    let act = Activations::<T>::new(spec);
    let hid = spec.hidden_size;
    let per_layer = n * hid;
    let StepScratch { gx, y, bufs, reg_bufs } = scratch;
    gx.resize(n * row_width(hid), T::zero());
    y.resize(per_layer, T::zero());
    if masks.changes_sweep() {
        reg_bufs.fit(n, hid, spec.reset_gate_mode);
        for (layer, blk) in packed.iter().enumerate().take(spec.depth) {
            let (below, rest) = state.split_at_mut(layer * per_layer);
            let x = if layer == 0 { frames } else { &below[(layer - 1) * per_layer..] };
            reg_block::input_projection(blk, x, n, spec.layer_input_size(layer), gx, 1, None);
            let h = &mut rest[..per_layer];
            let reg = StepReg { h_mask: None, masks, block: layer, t: 0 };
            reg_block::sweep_step(&act, blk, hid, gx, |_| true, h, y, reg_bufs, &reg, |_, _| {});
        }
        out.copy_from_slice(&state[(spec.depth - 1) * per_layer..][..per_layer]);
        return;
    }
    bufs.fit(n, hid, spec.reset_gate_mode);
    for (layer, blk) in packed.iter().enumerate().take(spec.depth) {
        let (below, rest) = state.split_at_mut(layer * per_layer);
        // The input of layer ℓ > 0 is the new state of the layer below (its output).
        let x = if layer == 0 { frames } else { &below[(layer - 1) * per_layer..] };
        input_projection(blk, x, n, spec.layer_input_size(layer), gx, 1);
        let h = &mut rest[..per_layer];
        sweep_step(&act, blk, hid, gx, |_| true, h, y, bufs, |_, _, _, _, _| {});
    }
    out.copy_from_slice(&state[(spec.depth - 1) * per_layer..][..per_layer]);
}
