//! The fast path over a whole stack: layers bottom-up, each direction through
//! [`block::forward`], outputs concatenated `[forward, backward]` per step.

use super::block::{self, BlockShape, BlockTrace, PackedBlock};
use super::helpers::WorkerPool;
use super::pool::Pool;
use crate::activation::Activations;
use crate::batch::{output_shape, state_len, GruGradients, GruOutput, OutputGrads};
use crate::params::GruParams;
use crate::real::Real;
use crate::spec::{GruSpec, OutputMode};

/// Saved state of the fast path.
pub(crate) struct FastSaved<T> {
    steps: usize,
    lengths: Vec<usize>,
    /// Input of each layer, `[T, B, In_ℓ]`.
    layer_inputs: Vec<Vec<T>>,
    /// One trace per block, indexed `layer·dirs + dir`.
    traces: Vec<BlockSaved<T>>,
}

/// A block's trace: of one sweep (`block.rs`), or of the unit-split workers (`units.rs`).
enum BlockSaved<T> {
    Dense(BlockTrace<T>),
    Units(Vec<super::units::WorkerTrace<T>>),
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
    x: &[T],
    steps: usize,
    lengths: &[usize],
    h0: Option<&[T]>,
    keep: bool,
    unit_split: bool,
    gemm_threads: usize,
    workers: &WorkerPool,
    pool: &mut Pool<T>,
) -> (GruOutput<T>, Option<FastSaved<T>>) {
    let batch = lengths.len();
    let (hid, dirs, out_w) = (spec.hidden_size, spec.directions(), spec.output_size());
    let act = Activations::<T>::new(spec);
    let mut h_t = vec![T::zero(); state_len(spec, batch)];
    let zero_h0 = vec![T::zero(); batch * hid];
    let mut layer_inputs = Vec::new();
    let mut traces = Vec::new();
    let mut layer_in = pool.copy_of(x);
    for layer in 0..spec.depth {
        let mut layer_out = pool.zeros(steps * batch * out_w);
        for dir in 0..dirs {
            let blk = layer * dirs + dir;
            let time_dir = usize::from(spec.sweeps_backward(dir));
            let shape = BlockShape { steps, lengths, dir: time_dir, mode: spec.reset_gate_mode, act: &act };
            let h0_blk = h0.map_or(&zero_h0[..], |h| &h[blk * batch * hid..(blk + 1) * batch * hid]);
            let p = params.block(layer, dir, dirs);
            let units = &packed[blk].units;
            let use_units = unit_split && !units.is_empty() && (!keep || units.trains());
            let mut y_dir = if dirs == 1 { Vec::new() } else { pool.zeros(steps * batch * hid) };
            let y_blk = if dirs == 1 { &mut layer_out[..] } else { &mut y_dir[..] };
            let (h_last, trace) = match (use_units, keep) {
                (true, false) => (super::units::forward(&shape, units, &layer_in, h0_blk, y_blk, workers), None),
                (true, true) => {
                    let (h, t) = super::units::forward_train(&shape, units, &layer_in, h0_blk, y_blk, workers);
                    (h, Some(BlockSaved::Units(t)))
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
        let below = std::mem::replace(&mut layer_in, layer_out);
        if keep {
            layer_inputs.push(below);
        } else {
            pool.give(below);
        }
    }
    let y_shape = output_shape(spec, steps, batch);
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
    let saved = keep.then(|| FastSaved { steps, lengths: lengths.to_vec(), layer_inputs, traces });
    (out, saved)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    spec: &GruSpec,
    params: &GruParams<T>,
    packed: &[PackedBlock<T>],
    saved: FastSaved<T>,
    grads: &OutputGrads<'_, T>,
    gemm_threads: usize,
    workers: &WorkerPool,
    pool: &mut Pool<T>,
) -> GruGradients<T> {
    let (steps, lengths) = (saved.steps, &saved.lengths[..]);
    let batch = lengths.len();
    let (hid, dirs, out_w) = (spec.hidden_size, spec.directions(), spec.output_size());
    let act = Activations::<T>::new(spec);
    let mut dparams = GruParams::zeros(spec);
    let mut dh0 = vec![T::zero(); state_len(spec, batch)];
    let zero_dh = vec![T::zero(); batch * hid];
    // Output mode last: the gradient of a length-0 sequence's output goes to its top h_T.
    let dh_t_all = crate::lengths::empty_last_grads(spec, grads.dy, grads.dh_t, lengths);
    let dh_t_all = dh_t_all.as_deref().or(grads.dh_t);

    // dL/d(top layer output), [T, B, dirs·H].
    let mut d_above = match spec.output_mode {
        OutputMode::Sequence => pool.copy_of(grads.dy),
        OutputMode::Last => {
            let mut d = pool.zeros(steps * batch * out_w);
            for (b, &len) in lengths.iter().enumerate().filter(|(_, &len)| len > 0) {
                d[((len - 1) * batch + b) * out_w..][..out_w].copy_from_slice(&grads.dy[b * out_w..(b + 1) * out_w]);
            }
            d
        }
    };
    let FastSaved { mut layer_inputs, traces, .. } = saved;
    let mut traces: Vec<Option<BlockSaved<T>>> = traces.into_iter().map(Some).collect();
    for layer in (0..spec.depth).rev() {
        let inp = spec.layer_input_size(layer);
        let mut d_below = pool.zeros(steps * batch * inp);
        let layer_input = layer_inputs.pop().expect("one input per layer");
        for dir in 0..dirs {
            let blk = layer * dirs + dir;
            let time_dir = usize::from(spec.sweeps_backward(dir));
            let shape = BlockShape { steps, lengths, dir: time_dir, mode: spec.reset_gate_mode, act: &act };
            let dy_dir = if dirs == 1 { None } else { Some(columns(&d_above, dirs, hid, dir)) };
            let dh_t = dh_t_all.map_or(&zero_dh[..], |d| &d[blk * batch * hid..(blk + 1) * batch * hid]);
            let dy_blk = dy_dir.as_deref().unwrap_or(&d_above);
            let grads_blk = &mut dparams.blocks_mut()[blk];
            let dh = match traces[blk].take().expect("one trace per block") {
                BlockSaved::Dense(trace) => {
                    let p = params.block(layer, dir, dirs);
                    let dh = block::backward(
                        &shape,
                        p,
                        &packed[blk],
                        &trace,
                        &layer_input,
                        dy_blk,
                        dh_t,
                        &mut d_below,
                        grads_blk,
                        gemm_threads,
                        pool,
                    );
                    trace.give_to(pool);
                    dh
                }
                BlockSaved::Units(traces) => super::units_train::backward(
                    &shape,
                    &packed[blk].units,
                    traces,
                    &layer_input,
                    dy_blk,
                    dh_t,
                    &mut d_below,
                    grads_blk,
                    workers,
                ),
            };
            dh0[blk * batch * hid..(blk + 1) * batch * hid].copy_from_slice(&dh);
        }
        pool.give(layer_input);
        pool.give(std::mem::replace(&mut d_above, d_below));
    }
    // Padded steps of x were read by the input GEMM but their dGX rows are zero, so dx is
    // zero there already.
    GruGradients { dx: d_above, dh0, params: dparams }
}
