//! Threads for the fast path: the batch is cut into contiguous parts, one per thread, and
//! each part runs the whole stack on its own (sequences are independent, so the threads
//! never synchronize inside the recurrence); outputs are gathered back and the parameter
//! gradients of the parts summed.

use std::ops::Range;

use super::block::PackedBlock;
use super::helpers::WorkerPool;
use super::pool::Pool;
use super::stack::{self, FastSaved};
use crate::batch::{output_shape, state_len, GruGradients, GruOutput, OutputGrads};
use crate::params::{BlockParams, GruParams};
use crate::real::Real;
use crate::regularize::masks::Masks;
use crate::spec::{GruSpec, OutputMode};

/// Largest block (parameters, 3H·(In + H) + bias) whose weight gradients each part of the
/// batch split computes on its own thread into a copy of its own: measured on an Intel
/// Xeon host (2 threads), B64 T50 H512 (1.6 M) trains 6% faster that way than with each
/// part's products in turn on both threads, while B32 T187 H1536 (14 M) trains 3% slower
/// and needs 83 MB more (the copy and a second packed H_prev).
const MAX_PARAMS_PER_PART_GRADS: usize = 1 << 22;

/// Fewest sequences a thread gets: below this, threads cost more than they save.
pub(crate) const MIN_ROWS_PER_THREAD: usize = 4;

/// Threads to use by default: `RAYON_NUM_THREADS` when set, else the available cores.
pub(crate) fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Contiguous parts of `0..batch`, at most `threads`, each at least `MIN_ROWS_PER_THREAD`.
pub(crate) fn parts(batch: usize, threads: usize) -> Vec<Range<usize>> {
    let n = threads.min(batch / MIN_ROWS_PER_THREAD).max(1);
    (0..n).map(|i| i * batch / n..(i + 1) * batch / n).collect()
}

/// The batch rows `r` of an `outer × batch × inner` tensor.
fn gather<T: Copy>(data: &[T], outer: usize, batch: usize, inner: usize, r: &Range<usize>) -> Vec<T> {
    (0..outer).flat_map(|o| data[(o * batch + r.start) * inner..(o * batch + r.end) * inner].iter().copied()).collect()
}

/// [`gather`] into a buffer of `pool` (a part's copy of x or dy each call: fresh pages
/// would be faulted in on every call).
fn gather_pooled<T: Real>(
    pool: &mut Pool<T>,
    data: &[T],
    outer: usize,
    batch: usize,
    inner: usize,
    r: &Range<usize>,
) -> Vec<T> {
    let mut out = pool.empty(outer * r.len() * inner);
    for o in 0..outer {
        out.extend_from_slice(&data[(o * batch + r.start) * inner..(o * batch + r.end) * inner]);
    }
    out
}

/// Writes the rows `r` of an `outer × batch × inner` tensor from `src` (`outer × |r| × inner`).
fn scatter<T: Copy>(dst: &mut [T], src: &[T], outer: usize, batch: usize, inner: usize, r: &Range<usize>) {
    let w = r.len() * inner;
    for o in 0..outer {
        dst[(o * batch + r.start) * inner..(o * batch + r.end) * inner].copy_from_slice(&src[o * w..(o + 1) * w]);
    }
}

/// `(outer, inner)` of `y` viewed as `outer × batch × inner`.
fn y_dims(spec: &GruSpec, steps: usize) -> (usize, usize) {
    match spec.output_mode {
        OutputMode::Sequence => (steps, spec.output_size()),
        OutputMode::Last => (1, spec.output_size()),
    }
}

/// Forward over `parts` of the batch on as many threads (one part: on this thread, with no
/// copies; `unit_split`: its blocks split by units, `units.rs`; its large GEMMs on `threads`
/// threads). `pools` has one pool per part. `masks`: the regularizers' masks of the whole
/// batch (each part draws those of its own sequences).
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
    threads: usize,
    workers: &WorkerPool,
    parts: &[Range<usize>],
    pools: &mut [Pool<T>],
    masks: &Masks,
) -> (GruOutput<T>, Option<Vec<FastSaved<T>>>) {
    if let ([_], [pool, ..]) = (parts, &mut *pools) {
        let (out, saved) = stack::forward(
            spec,
            params,
            packed,
            x.into(),
            steps,
            lengths,
            h0,
            keep,
            unit_split,
            threads,
            workers,
            pool,
            masks,
        );
        return (out, saved.map(|s| vec![s]));
    }
    let batch = lengths.len();
    let (blocks, hid, inp) = (spec.num_blocks(), spec.hidden_size, spec.input_size);
    let results: Vec<(GruOutput<T>, Option<FastSaved<T>>)> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .iter()
            .zip(pools.iter_mut())
            .map(|(r, pool)| {
                let xs = gather_pooled(pool, x, steps, batch, inp, r);
                let h0s = h0.map(|h| gather(h, blocks, batch, hid, r));
                let ls = lengths[r.clone()].to_vec();
                let part_masks = masks.part(r.start);
                s.spawn(move || {
                    let (xs, h0s) = (xs.into(), h0s.as_deref());
                    stack::forward(
                        spec,
                        params,
                        packed,
                        xs,
                        steps,
                        &ls,
                        h0s,
                        keep,
                        false,
                        1,
                        workers,
                        pool,
                        &part_masks,
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a worker thread panicked")).collect()
    });
    let shape = output_shape(spec, steps, batch);
    let (outer, inner) = y_dims(spec, steps);
    let mut y = vec![T::zero(); shape.iter().product()];
    let mut h_t = vec![T::zero(); state_len(spec, batch)];
    let mut saved = Vec::new();
    for ((r, (out, sv)), pool) in parts.iter().zip(results).zip(pools.iter_mut()) {
        scatter(&mut y, &out.y, outer, batch, inner, r);
        scatter(&mut h_t, &out.h_t, blocks, batch, hid, r);
        // The part's output came from its pool: back there for the next call.
        pool.give(out.y);
        saved.extend(sv);
    }
    let out = GruOutput { y, y_shape: shape, h_t, computed_by: super::FAST_PATH };
    (out, keep.then_some(saved))
}

/// Backward of [`forward`], a layer at a time: each part's sweep through time on its own
/// thread, then the layer's parameter gradients over every part's rows on `threads` threads
/// (the parts' rows summed in part order into one set of gradients, so no thread needs a
/// gradient buffer of its own).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    spec: &GruSpec,
    params: &GruParams<T>,
    packed: &[PackedBlock<T>],
    saved: Vec<FastSaved<T>>,
    grads: &OutputGrads<'_, T>,
    steps: usize,
    batch: usize,
    threads: usize,
    workers: &WorkerPool,
    parts: &[Range<usize>],
    pools: &mut [Pool<T>],
) -> GruGradients<T> {
    if parts.len() == 1 {
        if let (Some(part), Some(pool)) = (saved.into_iter().next(), pools.first_mut()) {
            let dy = grads.dy.into();
            return stack::backward(spec, params, packed, part, dy, grads.dh_t, threads, workers, pool);
        }
        unreachable!("one part has one saved state and one pool");
    }
    let (blocks, hid, inp) = (spec.num_blocks(), spec.hidden_size, spec.input_size);
    let (outer, inner) = y_dims(spec, steps);
    let mut states: Vec<stack::Backward<'_, T>> = parts
        .iter()
        .zip(saved)
        .zip(pools.iter_mut())
        .map(|((r, sv), pool)| {
            let dy = gather_pooled(pool, grads.dy, outer, batch, inner, r);
            let dh = grads.dh_t.map(|d| gather(d, blocks, batch, hid, r).into());
            stack::Backward::new(spec, sv, dy.into(), dh, pool)
        })
        .collect();
    let mut dparams = GruParams::zeros(spec);
    let dirs = spec.directions();
    // Small blocks: parts after the first write their weight gradients into a layer's worth
    // of blocks of their own (each part's products on its own thread, beside the other
    // parts' sweeps), added to the first part's in the order of the parts. Large blocks:
    // after the sweeps, each part's products in turn on all threads, added into one set
    // (no copy of the gradients; the products are large enough to split well).
    for layer in (0..spec.depth).rev() {
        let first = layer * dirs;
        if dparams.blocks()[first].len() > MAX_PARAMS_PER_PART_GRADS {
            let pending: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = states
                    .iter_mut()
                    .zip(pools.iter_mut())
                    .map(|(state, pool)| {
                        s.spawn(move || state.layer(spec, params, packed, layer, 1, workers, pool, None))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("a worker thread panicked")).collect()
            });
            for (i, ((state, pool), blocks)) in states.iter_mut().zip(pools.iter_mut()).zip(pending).enumerate() {
                for (blk, g) in blocks {
                    g.weight_grads(state.layer_input(), &mut dparams.blocks_mut()[blk], i > 0, threads, pool);
                }
                state.end_layer(pool);
            }
            continue;
        }
        let mut extra: Vec<Vec<BlockParams<T>>> =
            pools[1..].iter_mut().map(|p| part_grads(p, layer, &dparams.blocks()[first..first + dirs], spec)).collect();
        let mine = &mut dparams.blocks_mut()[first..first + dirs];
        std::thread::scope(|s| {
            let targets = std::iter::once(mine).chain(extra.iter_mut().map(|e| &mut e[..]));
            let handles: Vec<_> = states
                .iter_mut()
                .zip(pools.iter_mut())
                .zip(targets)
                .map(|((state, pool), target)| {
                    s.spawn(move || {
                        let mut written = vec![false; target.len()];
                        for (blk, g) in state.layer(spec, params, packed, layer, 1, workers, pool, None) {
                            g.weight_grads(state.layer_input(), &mut target[blk - first], false, 1, pool);
                            written[blk - first] = true;
                        }
                        // A block this part did not run holds no gradient (not a stale one).
                        for (block, _) in target.iter_mut().zip(written).filter(|(_, w)| !w) {
                            block.norm_mut().fill(T::zero());
                            let (w, r, b) = block.parts_mut();
                            [w, r, b].into_iter().for_each(|v| v.fill(T::zero()));
                        }
                        state.end_layer(pool);
                    })
                })
                .collect();
            for h in handles {
                h.join().expect("a worker thread panicked");
            }
        });
        for part in &extra {
            for (sum, g) in dparams.blocks_mut()[first..first + dirs].iter_mut().zip(part) {
                add_block(sum, g);
            }
        }
        for (pool, part) in pools[1..].iter_mut().zip(extra) {
            pool.layer_grads[layer] = part;
        }
    }
    let mut dx = vec![T::zero(); steps * batch * inp];
    let mut dh0 = vec![T::zero(); state_len(spec, batch)];
    for (r, state) in parts.iter().zip(states) {
        let (part_dx, part_dh0) = state.finish();
        scatter(&mut dx, &part_dx, steps, batch, inp, r);
        scatter(&mut dh0, &part_dh0, blocks, batch, hid, r);
    }
    GruGradients { dx, dh0, params: dparams }
}

/// A later part's own gradients of `layer` (blocks shaped like `like`), from its pool (left
/// empty there until they are given back): the values of the last call, to be
/// overwritten, as fresh gradient buffers of megabytes per call cost their page faults.
fn part_grads<T: Real>(
    pool: &mut Pool<T>,
    layer: usize,
    like: &[BlockParams<T>],
    spec: &GruSpec,
) -> Vec<BlockParams<T>> {
    if pool.layer_grads.len() < spec.depth {
        pool.layer_grads.resize_with(spec.depth, Vec::new);
    }
    let kept = std::mem::take(&mut pool.layer_grads[layer]);
    let shape = |b: &BlockParams<T>| (b.input_size(), b.hidden_size(), b.bias().len(), b.norm().len());
    if kept.len() == like.len() && kept.iter().zip(like).all(|(k, l)| shape(k) == shape(l)) {
        kept
    } else {
        like.iter().map(|b| zeros_like(b, spec)).collect()
    }
}

/// Zero gradients shaped like `b` (its layer-norm parameters too).
fn zeros_like<T: Real>(b: &BlockParams<T>, spec: &GruSpec) -> BlockParams<T> {
    let mut z = b.clone();
    z.norm_mut().fill(T::zero());
    let (w, r, bias) = z.parts_mut();
    [w, r, bias].into_iter().for_each(|v| v.fill(T::zero()));
    debug_assert_eq!(z.bias().len(), spec.reset_gate_mode.bias_len(b.hidden_size()));
    z
}

/// `sum += g`, W, R, the bias and the layer-norm parameters.
fn add_block<T: Real>(sum: &mut BlockParams<T>, g: &BlockParams<T>) {
    sum.norm_mut().iter_mut().zip(g.norm()).for_each(|(d, &v)| *d += v);
    let (w, r, b) = sum.parts_mut();
    for (dst, src) in [(w, g.w()), (r, g.r()), (b, g.bias())] {
        dst.iter_mut().zip(src).for_each(|(d, &v)| *d += v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_batch() {
        assert_eq!(parts(1, 2), vec![0..1]);
        assert_eq!(parts(7, 2), vec![0..7]);
        assert_eq!(parts(8, 2), vec![0..4, 4..8]);
        assert_eq!(parts(33, 2), vec![0..16, 16..33]);
        assert_eq!(parts(100, 1), vec![0..100]);
        let data: Vec<u32> = (0..2 * 5 * 3).collect();
        let r = 1..3;
        let part = gather(&data, 2, 5, 3, &r);
        let mut back = vec![0; data.len()];
        scatter(&mut back, &part, 2, 5, 3, &r);
        assert_eq!(&back[3..9], &data[3..9]);
        assert_eq!(&back[18..24], &data[18..24]);
    }
}
