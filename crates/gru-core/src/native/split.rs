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
use crate::params::GruParams;
use crate::real::Real;
use crate::spec::{GruSpec, OutputMode};

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
/// threads). `pools` has one pool per part.
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
                let xs = gather(x, steps, batch, inp, r);
                let h0s = h0.map(|h| gather(h, blocks, batch, hid, r));
                let ls = lengths[r.clone()].to_vec();
                s.spawn(move || {
                    let xs = xs.into();
                    stack::forward(spec, params, packed, xs, steps, &ls, h0s.as_deref(), keep, false, 1, workers, pool)
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
    for (r, (out, sv)) in parts.iter().zip(results) {
        scatter(&mut y, &out.y, outer, batch, inner, r);
        scatter(&mut h_t, &out.h_t, blocks, batch, hid, r);
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
            let dy = gather(grads.dy, outer, batch, inner, r);
            let dh = grads.dh_t.map(|d| gather(d, blocks, batch, hid, r).into());
            stack::Backward::new(spec, sv, dy.into(), dh, pool)
        })
        .collect();
    let mut dparams = GruParams::zeros(spec);
    for layer in (0..spec.depth).rev() {
        let pending: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = states
                .iter_mut()
                .zip(pools.iter_mut())
                .map(|(state, pool)| s.spawn(move || state.layer(spec, params, packed, layer, 1, workers, pool, None)))
                .collect();
            handles.into_iter().map(|h| h.join().expect("a worker thread panicked")).collect()
        });
        for (i, ((state, pool), blocks)) in states.iter_mut().zip(pools.iter_mut()).zip(pending).enumerate() {
            for (blk, g) in blocks {
                g.weight_grads(state.layer_input(), &mut dparams.blocks_mut()[blk], i > 0, threads, pool);
            }
            state.end_layer(pool);
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
