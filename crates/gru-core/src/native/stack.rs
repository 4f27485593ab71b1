//! The fast path over a whole stack: layers bottom-up, each direction through
//! [`block::forward`], outputs concatenated `[forward, backward]` per step.
//!
//! The input `x` and the output gradient `dy` come borrowed (read in place) or owned (a
//! thread's gathered part, kept as it is): a copy is made only where training must keep the
//! borrowed input for the backward pass.
//!
//! The regularizers (`masks`): each layer reads `x̃ = m_x ⊙ x` (input dropout; its gradient
//! `m_x ⊙ dx̃`), and a block whose sweep they change (recurrent dropout, zoneout, layer
//! norm) runs `reg_block.rs` / `reg_backward.rs` instead of `block.rs`.

use std::borrow::Cow;

use super::block::{self, BlockShape, BlockTrace, PackedBlock, PendingGrads};
use super::helpers::WorkerPool;
use super::pool::Pool;
use super::reg_backward::{self, RegPending};
use super::reg_block::{self, BlockReg, RegTrace};
use crate::activation::Activations;
use crate::batch::{output_shape, state_len, GruGradients, GruOutput};
use crate::params::{BlockParams, GruParams};
use crate::real::Real;
use crate::regularize::masks::Masks;
use crate::spec::{GruSpec, OutputMode};

/// Saved state of the fast path.
pub(crate) struct FastSaved<T> {
    steps: usize,
    lengths: Vec<usize>,
    /// Input of each layer, `[T, B, In_ℓ]`.
    layer_inputs: Vec<Vec<T>>,
    /// One trace per block, indexed `layer·dirs + dir`.
    traces: Vec<BlockSaved<T>>,
    /// The masks of the forward pass (of this part of the batch).
    masks: Masks,
}

/// A block's trace: of one sweep (`block.rs`, `reg_block.rs`), or of the unit-split
/// workers (`units.rs`).
enum BlockSaved<T> {
    Dense(BlockTrace<T>),
    Reg(RegTrace<T>),
    Units(Vec<super::units::WorkerTrace<T>>),
}

/// What a dense block's parameter gradients are computed from (`block.rs`, or
/// `reg_backward.rs` for a regularized sweep).
pub(crate) enum Pending<T> {
    Plain(PendingGrads<T>),
    Reg(RegPending<T>),
}

impl<T: Real> Pending<T> {
    /// The block's parameter gradients from these rows (see `PendingGrads::weight_grads`).
    pub(crate) fn weight_grads(
        self,
        x: &[T],
        grads: &mut BlockParams<T>,
        accumulate: bool,
        threads: usize,
        pool: &mut Pool<T>,
    ) {
        match self {
            Pending::Plain(g) => g.weight_grads(x, grads, accumulate, threads, pool),
            Pending::Reg(g) => g.weight_grads(x, grads, accumulate, threads, pool),
        }
    }
}

/// `x̃ = m_x ⊙ x` for each row `[T·B, width]` (`m_x`: `[B, width]`), in place.
fn apply_input_mask<T: Real>(x: &mut [T], mask: &[T], batch: usize, width: usize) {
    for (row, v) in x.chunks_exact_mut(width).enumerate() {
        let b = row % batch;
        v.iter_mut().zip(&mask[b * width..(b + 1) * width]).for_each(|(v, &m)| *v *= m);
    }
}

/// Copies column block `dir` (width H) of `[T·B, dirs·H]` into `[T·B, H]` or back.
fn columns<T: Real>(wide: &[T], dirs: usize, hid: usize, dir: usize) -> Vec<T> {
    wide.chunks_exact(dirs * hid).flat_map(|row| row[dir * hid..(dir + 1) * hid].iter().copied()).collect()
}

fn set_columns<T: Real>(wide: &mut [T], narrow: &[T], dirs: usize, hid: usize, dir: usize) {
    for (row, src) in wide.chunks_exact_mut(dirs * hid).zip(narrow.chunks_exact(hid)) {
        row[dir * hid..(dir + 1) * hid].copy_from_slice(src);
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn forward<T: Real>(
    spec: &GruSpec,
    params: &GruParams<T>,
    packed: &[PackedBlock<T>],
    x: Cow<'_, [T]>,
    steps: usize,
    lengths: &[usize],
    h0: Option<&[T]>,
    keep: bool,
    unit_split: bool,
    gemm_threads: usize,
    workers: &WorkerPool,
    pool: &mut Pool<T>,
    masks: &Masks,
) -> (GruOutput<T>, Option<FastSaved<T>>) {
    let batch = lengths.len();
    let (hid, dirs, out_w) = (spec.hidden_size, spec.directions(), spec.output_size());
    let act = Activations::<T>::new(spec);
    let mut h_t = vec![T::zero(); state_len(spec, batch)];
    let zero_h0 = vec![T::zero(); batch * hid];
    let mut layer_inputs = Vec::new();
    let mut traces = Vec::new();
    let mut layer_in = x;
    for layer in 0..spec.depth {
        let width = spec.layer_input_size(layer);
        if let Some(mask) = masks.input_mask::<T>(layer, batch, width) {
            let mut masked = match std::mem::replace(&mut layer_in, Cow::Borrowed(&[])) {
                Cow::Owned(v) => v,
                Cow::Borrowed(b) => pool.copy_of(b),
            };
            apply_input_mask(&mut masked, &mask, batch, width);
            layer_in = Cow::Owned(masked);
        }
        let mut layer_out = pool.zeros(steps * batch * out_w);
        for dir in 0..dirs {
            let blk = layer * dirs + dir;
            let time_dir = usize::from(spec.sweeps_backward(dir));
            let shape = BlockShape { steps, lengths, dir: time_dir, mode: spec.reset_gate_mode, act: &act };
            let h0_blk = h0.map_or(&zero_h0[..], |h| &h[blk * batch * hid..(blk + 1) * batch * hid]);
            let p = params.block(layer, dir, dirs);
            let units = &packed[blk].units;
            let use_units = unit_split && !units.is_empty() && (!keep || units.trains()) && !masks.layer_norm();
            let mut y_dir = if dirs == 1 { Vec::new() } else { pool.zeros(steps * batch * hid) };
            let y_blk = if dirs == 1 { &mut layer_out[..] } else { &mut y_dir[..] };
            let unit_reg = super::units::UnitReg { masks: *masks, block: blk };
            let (h_last, trace) = match (use_units, keep) {
                (true, false) => {
                    (super::units::forward(&shape, units, &layer_in, h0_blk, y_blk, workers, unit_reg), None)
                }
                (true, true) => {
                    let (h, t) =
                        super::units::forward_train(&shape, units, &layer_in, h0_blk, y_blk, workers, unit_reg);
                    (h, Some(BlockSaved::Units(t)))
                }
                (false, _) if masks.changes_sweep() => {
                    let reg = BlockReg::new(masks, blk, batch, hid);
                    let (h, t) = reg_block::forward(
                        &shape,
                        p,
                        &packed[blk],
                        &layer_in,
                        h0_blk,
                        y_blk,
                        keep,
                        gemm_threads,
                        pool,
                        &reg,
                    );
                    (h, t.map(BlockSaved::Reg))
                }
                (false, _) => {
                    let (h, t) =
                        block::forward(&shape, p, &packed[blk], &layer_in, h0_blk, y_blk, keep, gemm_threads, pool);
                    (h, t.map(BlockSaved::Dense))
                }
            };
            if dirs > 1 {
                set_columns(&mut layer_out, &y_dir, dirs, hid, dir);
                pool.give(y_dir);
            }
            h_t[blk * batch * hid..(blk + 1) * batch * hid].copy_from_slice(&h_last);
            traces.extend(trace);
        }
        let below = std::mem::replace(&mut layer_in, Cow::Owned(layer_out));
        match (below, keep) {
            (Cow::Owned(v), true) => layer_inputs.push(v),
            (Cow::Borrowed(b), true) => layer_inputs.push(pool.copy_of(b)),
            (Cow::Owned(v), false) => pool.give(v),
            (Cow::Borrowed(_), false) => {}
        }
    }
    let y_shape = output_shape(spec, steps, batch);
    // Every layer wrote its output into a buffer of its own: `layer_in` is owned here.
    let layer_in = layer_in.into_owned();
    let y = match spec.output_mode {
        OutputMode::Sequence => layer_in,
        OutputMode::Last => {
            // Step len - 1 of each sequence; a length-0 row is the top layer's h_T (`lengths`).
            let mut y: Vec<T> = lengths
                .iter()
                .enumerate()
                .flat_map(|(b, &len)| layer_in[(len.saturating_sub(1) * batch + b) * out_w..][..out_w].iter().copied())
                .collect();
            crate::lengths::empty_last_outputs(spec, &mut y, &h_t, lengths);
            pool.give(layer_in);
            y
        }
    };
    let out = GruOutput { y, y_shape, h_t, computed_by: super::FAST_PATH };
    let saved = keep.then(|| FastSaved { steps, lengths: lengths.to_vec(), layer_inputs, traces, masks: *masks });
    (out, saved)
}

/// The backward pass of one part of the batch, a layer at a time from the top
/// ([`Backward::layer`]); the batch split runs its parts' layers on their threads and sums
/// their parameter gradients between layers (`split.rs`).
pub(crate) struct Backward<'a, T: Real> {
    steps: usize,
    lengths: Vec<usize>,
    /// Inputs of the layers not yet run backward; the last is the current layer's.
    layer_inputs: Vec<Vec<T>>,
    traces: Vec<Option<BlockSaved<T>>>,
    /// dL/d(output of the next layer down to run), `[T, B, dirs·H]`.
    d_above: Cow<'a, [T]>,
    /// dL/dh_T of every block (None: zero).
    dh_t: Option<Cow<'a, [T]>>,
    dh0: Vec<T>,
    masks: Masks,
}

impl<'a, T: Real> Backward<'a, T> {
    /// From the saved forward state, `dy` (the output's gradient, borrowed or owned) and
    /// dL/dh_T.
    pub(crate) fn new(
        spec: &GruSpec,
        saved: FastSaved<T>,
        dy: Cow<'a, [T]>,
        dh_t: Option<Cow<'a, [T]>>,
        pool: &mut Pool<T>,
    ) -> Self {
        let FastSaved { steps, lengths, layer_inputs, traces, masks } = saved;
        let batch = lengths.len();
        let out_w = spec.output_size();
        // Output mode last: the gradient of a length-0 sequence's output goes to its top h_T.
        let dh_t = match crate::lengths::empty_last_grads(spec, &dy, dh_t.as_deref(), &lengths) {
            Some(all) => Some(Cow::Owned(all)),
            None => dh_t,
        };
        // dL/d(top layer output): output mode sequence reads `dy` as it came.
        let d_above = match spec.output_mode {
            OutputMode::Sequence => dy,
            OutputMode::Last => {
                let mut d = pool.zeros(steps * batch * out_w);
                for (b, &len) in lengths.iter().enumerate().filter(|(_, &len)| len > 0) {
                    d[((len - 1) * batch + b) * out_w..][..out_w].copy_from_slice(&dy[b * out_w..(b + 1) * out_w]);
                }
                if let Cow::Owned(v) = dy {
                    pool.give(v);
                }
                Cow::Owned(d)
            }
        };
        let traces = traces.into_iter().map(Some).collect();
        let dh0 = vec![T::zero(); state_len(spec, batch)];
        Self { steps, lengths, layer_inputs, traces, d_above, dh_t, dh0, masks }
    }

    /// Layer `layer` (the top one not yet run) backward through time: dL/dh0 of its blocks
    /// and dL/d(its input) for the layer below. With `grads`, each block's parameter
    /// gradients are written there as soon as its sweep is done; without (the batch split's
    /// parts), each dense block's rows are returned for the caller to sum
    /// ([`PendingGrads::weight_grads`] over [`Self::layer_input`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn layer(
        &mut self,
        spec: &GruSpec,
        params: &GruParams<T>,
        packed: &[PackedBlock<T>],
        layer: usize,
        gemm_threads: usize,
        workers: &WorkerPool,
        pool: &mut Pool<T>,
        mut grads: Option<&mut GruParams<T>>,
    ) -> Vec<(usize, Pending<T>)> {
        let mut pending = Vec::new();
        let (steps, lengths) = (self.steps, &self.lengths[..]);
        let batch = lengths.len();
        let (hid, dirs) = (spec.hidden_size, spec.directions());
        let act = Activations::<T>::new(spec);
        let zero_dh = vec![T::zero(); batch * hid];
        let mut d_below = pool.zeros(steps * batch * spec.layer_input_size(layer));
        let layer_input = self.layer_inputs.last().expect("one input per layer");
        for dir in 0..dirs {
            let blk = layer * dirs + dir;
            let time_dir = usize::from(spec.sweeps_backward(dir));
            let shape = BlockShape { steps, lengths, dir: time_dir, mode: spec.reset_gate_mode, act: &act };
            let dy_dir = if dirs == 1 { None } else { Some(columns(&self.d_above, dirs, hid, dir)) };
            let dh_t = self.dh_t.as_deref().map_or(&zero_dh[..], |d| &d[blk * batch * hid..(blk + 1) * batch * hid]);
            let dy_blk = dy_dir.as_deref().unwrap_or(&self.d_above);
            let dh = match self.traces[blk].take().expect("one trace per block") {
                BlockSaved::Dense(trace) => {
                    let p = params.block(layer, dir, dirs);
                    let (dh, g) =
                        block::backward(&shape, p, &packed[blk], trace, dy_blk, dh_t, &mut d_below, gemm_threads, pool);
                    match grads.as_deref_mut() {
                        Some(dp) => g.weight_grads(layer_input, &mut dp.blocks_mut()[blk], false, gemm_threads, pool),
                        None => pending.push((blk, Pending::Plain(g))),
                    }
                    dh
                }
                BlockSaved::Reg(trace) => {
                    let p = params.block(layer, dir, dirs);
                    let reg = BlockReg::new(&self.masks, blk, batch, hid);
                    let (dh, g) = reg_backward::backward(
                        &shape,
                        p,
                        &packed[blk],
                        trace,
                        dy_blk,
                        dh_t,
                        &mut d_below,
                        gemm_threads,
                        pool,
                        &reg,
                    );
                    match grads.as_deref_mut() {
                        Some(dp) => g.weight_grads(layer_input, &mut dp.blocks_mut()[blk], false, gemm_threads, pool),
                        None => pending.push((blk, Pending::Reg(g))),
                    }
                    dh
                }
                BlockSaved::Units(traces) => {
                    let dp = grads.as_deref_mut().expect("unit-split blocks run on one part, with `grads`");
                    super::units_train::backward(
                        &shape,
                        &packed[blk].units,
                        traces,
                        layer_input,
                        dy_blk,
                        dh_t,
                        &mut d_below,
                        &mut dp.blocks_mut()[blk],
                        workers,
                        super::units::UnitReg { masks: self.masks, block: blk },
                        pool,
                    )
                }
            };
            self.dh0[blk * batch * hid..(blk + 1) * batch * hid].copy_from_slice(&dh);
        }
        // x̃ = m_x ⊙ x: the gradient of the layer's input.
        let width = spec.layer_input_size(layer);
        if let Some(mask) = self.masks.input_mask::<T>(layer, batch, width) {
            apply_input_mask(&mut d_below, &mask, batch, width);
        }
        if let Cow::Owned(v) = std::mem::replace(&mut self.d_above, Cow::Owned(d_below)) {
            pool.give(v);
        }
        pending
    }

    /// The input of the layer last run by [`Self::layer`] (what its weight gradients read).
    pub(crate) fn layer_input(&self) -> &[T] {
        self.layer_inputs.last().map_or(&[], |v| &v[..])
    }

    /// Done with the layer last run: its input goes back to `pool`.
    pub(crate) fn end_layer(&mut self, pool: &mut Pool<T>) {
        if let Some(v) = self.layer_inputs.pop() {
            pool.give(v);
        }
    }

    /// After the bottom layer: `(dx, dh0)`. Padded steps of x were read by the input GEMM
    /// but their dGX rows are zero, so dx is zero there already.
    pub(crate) fn finish(self) -> (Vec<T>, Vec<T>) {
        (self.d_above.into_owned(), self.dh0)
    }
}

/// The whole stack backward on one part (this thread, its GEMMs on `gemm_threads`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    spec: &GruSpec,
    params: &GruParams<T>,
    packed: &[PackedBlock<T>],
    saved: FastSaved<T>,
    dy: Cow<'_, [T]>,
    dh_t: Option<&[T]>,
    gemm_threads: usize,
    workers: &WorkerPool,
    pool: &mut Pool<T>,
) -> GruGradients<T> {
    let mut dparams = GruParams::zeros(spec);
    let mut state = Backward::new(spec, saved, dy, dh_t.map(Cow::Borrowed), pool);
    for layer in (0..spec.depth).rev() {
        state.layer(spec, params, packed, layer, gemm_threads, workers, pool, Some(&mut dparams));
        state.end_layer(pool);
    }
    let (dx, dh0) = state.finish();
    GruGradients { dx, dh0, params: dparams }
}
