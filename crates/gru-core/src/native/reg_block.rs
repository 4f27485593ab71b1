//! The dense sweep of one block with the regularizers that change the sweep itself
//! (`crate::Regularization`): recurrent dropout, zoneout and layer norm. Input dropout and
//! weight drop change only the sweep's operands (the layer input, the packed R: `stack.rs`,
//! `weight_drop.rs`), so a block without the three runs the plain sweep (`block.rs`).
//!
//! ```text
//! GX = LN_x(X · Wᵀ) + b                  (X · Wᵀ + b without layer norm; β folded into b)
//! per step:  h̃ = m_h ⊙ h                 (recurrent dropout; h̃ = h without)
//!            GH = LN_h(h̃ · Rᵀ)           before-multiplication: [r z] of h̃ · R[r z]ᵀ, then
//!                                         gn = LN_h((r ⊙ h̃) · R_nᵀ)
//!            r, z, n, h' = the cell (`crate::cell`) on GX, GH
//!            h_t = k ⊙ h + (1 − k) ⊙ h'   (zoneout: k drawn in training, p in inference)
//! ```
//! The element-wise math is `crate::cell`'s and `crate::regularize::layer_norm`'s; the
//! backward pass is `reg_backward.rs`.

use super::block::{candidate_row, reset_products, BlockShape, BlockTrace, StepBuffers};
use super::packed::PackedBlock;
use super::pool::Pool;
use crate::activation::Activations;
use crate::cell::{self, reset_update_width, row_width, GateRow, GateRowMut};
use crate::kernels::{MatMut, MatRef};
use crate::params::BlockParams;
use crate::real::Real;
use crate::regularize::layer_norm::normalize_gates;
use crate::regularize::masks::{Masks, Zoneout};
use crate::spec::ResetGateMode;

/// One block's regularization in one call: the call's masks (already shifted to this part
/// of the batch), the block's index and its recurrent-dropout mask `m_h` (`[B, H]`).
pub(crate) struct BlockReg<'a, T> {
    pub(crate) masks: &'a Masks,
    pub(crate) block: usize,
    pub(crate) h_mask: Option<Vec<T>>,
}

impl<'a, T: Real> BlockReg<'a, T> {
    /// Block `block`'s regularization for a part of `batch` sequences of `hid` units.
    pub(crate) fn new(masks: &'a Masks, block: usize, batch: usize, hid: usize) -> Self {
        Self { masks, block, h_mask: masks.recurrent_mask(block, batch, hid) }
    }

    /// The regularization of step `t`.
    fn step(&self, t: usize) -> StepReg<'_, T> {
        StepReg { h_mask: self.h_mask.as_deref(), masks: self.masks, block: self.block, t }
    }
}

/// The regularization of one step of the sweep: `m_h` (`[B, H]`) and where zoneout's
/// factors come from (block, step).
pub(crate) struct StepReg<'a, T> {
    pub(crate) h_mask: Option<&'a [T]>,
    pub(crate) masks: &'a Masks,
    pub(crate) block: usize,
    pub(crate) t: usize,
}

/// What backward needs from a regularized sweep, all `[T, B, ·]`: the plain trace
/// (`base`, its `h_prev` the unmasked state) and, with layer norm, `x_hat`/`h_hat` (`v̂` of the input and recurrent parts,
/// `3H`) with their `ρ` (`x_rho`, `h_rho`, one per gate: `3`).
pub(crate) struct RegTrace<T> {
    pub(crate) base: BlockTrace<T>,
    pub(crate) x_hat: Vec<T>,
    pub(crate) x_rho: Vec<T>,
    pub(crate) h_hat: Vec<T>,
    pub(crate) h_rho: Vec<T>,
}

impl<T: Real> RegTrace<T> {
    /// Returns the trace's buffers for reuse.
    pub(crate) fn give_to(self, pool: &mut Pool<T>) {
        self.base.give_to(pool);
        for v in [self.x_hat, self.x_rho, self.h_hat, self.h_rho] {
            pool.give(v);
        }
    }
}

/// One active row of a step, as the trace records it: `pre`, `gates` (`3H`), `operand`,
/// `h_prev` (`H`), and with layer norm the recurrent part's `h_hat` (`3H`) and `h_rho` (`3`).
pub(crate) struct RowView<'a, T> {
    pub(crate) pre: &'a [T],
    pub(crate) gates: &'a [T],
    pub(crate) operand: &'a [T],
    pub(crate) h_prev: &'a [T],
    pub(crate) h_hat: &'a [T],
    pub(crate) h_rho: &'a [T],
}

/// `GX = LN_x(X · Wᵀ) + b` (`x`: `[rows, In]`, `gx`: `[rows, 3H]`), or the plain projection
/// without layer norm (`block::input_projection`). `keep`: the `v̂` (`[rows, 3H]`) and `ρ`
/// (`[rows, 3]`) for backward.
pub(crate) fn input_projection<T: Real>(
    packed: &PackedBlock<T>,
    x: &[T],
    rows: usize,
    inp: usize,
    gx: &mut [T],
    threads: usize,
    keep: Option<(&mut [T], &mut [T])>,
) {
    let Some(norm) = &packed.norm else {
        return super::block::input_projection(packed, x, rows, inp, gx, threads);
    };
    let g3 = packed.bias.len();
    let hid = g3 / 3;
    packed.wt.product_par(MatMut::new(gx, rows, g3), false, MatRef::new(x, rows, inp), threads);
    let mut keep = keep;
    for (i, row) in gx.chunks_exact_mut(g3).enumerate() {
        let kept = keep.as_mut().map(|(vhat, rho)| (&mut vhat[i * g3..][..g3], &mut rho[i * 3..][..3]));
        normalize_gates(row, hid, &norm.input, kept);
        for (o, &v) in row.iter_mut().zip(&packed.bias) {
            *o += v;
        }
    }
}

/// The per-step buffers of the regularized sweep, `B` rows: those of the plain sweep
/// (`gh`, `rh`, `gn`, `pre`, `gates`, `operand`), `hm` (h̃ = m_h ⊙ h, `[B, H]`), the
/// recurrent part's `v̂` and `ρ` (`[B, 3H]`, `[B, 3]`) and zoneout's factors `k` (`H`).
/// Kept across calls by the stream step ([`RegBuffers::fit`] allocates only when `B` grows).
#[derive(Default)]
pub(crate) struct RegBuffers<T> {
    step: StepBuffers<T>,
    hm: Vec<T>,
    h_hat: Vec<T>,
    h_rho: Vec<T>,
    keep: Vec<T>,
}

impl<T: Real> RegBuffers<T> {
    /// Sizes the buffers for `batch` rows of `hid` units in `mode`.
    pub(crate) fn fit(&mut self, batch: usize, hid: usize, mode: ResetGateMode) {
        self.step.fit(batch, hid, mode);
        let (g3, zero) = (row_width(hid), T::zero());
        self.hm.resize(batch * hid, zero);
        self.h_hat.resize(batch * g3, zero);
        self.h_rho.resize(batch * 3, zero);
        self.keep.resize(hid, zero);
    }
}

/// One step of the regularized sweep over `B` rows (see the module; `bufs` fitted for them):
/// as `block::sweep_step`, with h̃ in the recurrent products, the recurrent part's layer
/// norm and zoneout's mix. `record(b, row)` sees each active row before its state moves.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_step<T: Real>(
    act: &Activations<T>,
    packed: &PackedBlock<T>,
    hid: usize,
    gx: &[T],
    active: impl Fn(usize) -> bool,
    h: &mut [T],
    y: &mut [T],
    bufs: &mut RegBuffers<T>,
    reg: &StepReg<'_, T>,
    mut record: impl FnMut(usize, RowView<'_, T>),
) {
    let batch = h.len() / hid;
    let g3 = row_width(hid);
    let before = packed.rt_n.is_some();
    let rec_cols = if before { reset_update_width(hid) } else { g3 };
    let RegBuffers { step, hm, h_hat, h_rho, keep } = bufs;
    let StepBuffers { gh, rh, gn, pre, gates, operand } = step;
    // h̃ = m_h ⊙ h, the state the recurrent products read.
    let src: &[T] = match reg.h_mask {
        Some(m) => {
            hm.iter_mut().zip(h.iter().zip(m)).for_each(|(o, (&v, &m))| *o = v * m);
            hm
        }
        None => h,
    };
    // GH = LN_h(h̃ · R[rows]ᵀ)
    packed.rt_step.product(MatMut::new(gh, batch, rec_cols), false, MatRef::new(src, batch, hid));
    if let Some(norm) = &packed.norm {
        for b in (0..batch).filter(|&b| active(b)) {
            let kept = (&mut h_hat[b * g3..][..rec_cols], &mut h_rho[b * 3..][..rec_cols / hid]);
            normalize_gates(&mut gh[b * rec_cols..][..rec_cols], hid, &norm.recurrent[..rec_cols], Some(kept));
        }
    }
    for b in (0..batch).filter(|&b| active(b)) {
        let (mut pr, mut gr) = (GateRowMut::at(pre, b, hid), GateRowMut::at(gates, b, hid));
        cell::reset_update(act, GateRow::at(gx, b, hid), &gh[b * rec_cols..][..rec_cols], &mut pr, &mut gr);
    }
    if let Some(rt_n) = &packed.rt_n {
        // gn = LN_h((r ⊙ h̃) · R_nᵀ)
        reset_products(rt_n, hid, gates, src, &active, rh, gn);
        if let Some(norm) = &packed.norm {
            for b in (0..batch).filter(|&b| active(b)) {
                let kept = (&mut h_hat[b * g3 + 2 * hid..][..hid], &mut h_rho[b * 3 + 2..][..1]);
                normalize_gates(&mut gn[b * hid..][..hid], hid, &norm.recurrent[2 * hid..], Some(kept));
            }
        }
    }
    for b in (0..batch).filter(|&b| active(b)) {
        candidate_row(act, packed, hid, b, gx, (gh, rh, gn), pre, gates, operand);
        let gr = GateRow::at(gates, b, hid);
        let (hb, yb) = (&mut h[b * hid..][..hid], &mut y[b * hid..][..hid]);
        let view = RowView {
            pre: GateRow::at(pre, b, hid).all(),
            gates: gr.all(),
            operand: &operand[b * hid..][..hid],
            h_prev: hb,
            h_hat: &h_hat[b * g3..][..g3],
            h_rho: &h_rho[b * 3..][..3],
        };
        record(b, view);
        // h' = n + z ⊙ (h − n), then zoneout's h_t = k ⊙ h + (1 − k) ⊙ h'.
        cell::new_state(gr, hb, yb);
        if reg.masks.zoneout() != Zoneout::Off {
            reg.masks.zoneout_keep(reg.block, b, reg.t, 0..hid, keep);
            zoneout_mix(keep, hb, yb);
        }
        hb.copy_from_slice(yb);
    }
}

/// Zoneout's mix `out = k ⊙ h + (1 − k) ⊙ out` (exact for k ∈ {0, 1}).
#[inline]
pub(crate) fn zoneout_mix<T: Real>(k: &[T], h: &[T], out: &mut [T]) {
    for ((o, &k), &h) in out.iter_mut().zip(k).zip(h) {
        *o = k * h + (T::one() - k) * *o;
    }
}

/// Runs one block forward with its regularization (`block::forward`'s contract). `x`:
/// `[T, B, In]` (after its input dropout), `h0`: `[B, H]`; writes `y` `[T, B, H]` and returns
/// the final state and, if `keep`, the trace.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward<T: Real>(
    s: &BlockShape<'_, T>,
    p: &BlockParams<T>,
    packed: &PackedBlock<T>,
    x: &[T],
    h0: &[T],
    y: &mut [T],
    keep: bool,
    gemm_threads: usize,
    pool: &mut Pool<T>,
    reg: &BlockReg<'_, T>,
) -> (Vec<T>, Option<RegTrace<T>>) {
    let (steps, batch, hid, inp) = (s.steps, s.batch(), p.hidden_size(), p.input_size());
    let g3 = row_width(hid);
    let rows = steps * batch;
    let norm = packed.norm.is_some();
    let (sz, nz) = (if keep { rows } else { 0 }, if keep && norm { rows } else { 0 });
    let mut trace = RegTrace {
        base: BlockTrace::new(s, sz, hid, pool),
        x_hat: pool.zeros(nz * g3),
        x_rho: pool.zeros(nz * 3),
        h_hat: pool.zeros(nz * g3),
        h_rho: pool.zeros(nz * 3),
    };
    let mut gx = pool.zeros(rows * g3);
    let kept = (keep && norm).then(|| (&mut trace.x_hat[..], &mut trace.x_rho[..]));
    input_projection(packed, x, rows, inp, &mut gx, gemm_threads, kept);
    let mut h = h0.to_vec();
    let mut bufs = RegBuffers::default();
    bufs.fit(batch, hid, s.mode);
    for t in s.order() {
        if !(0..batch).any(|b| s.active(t, b)) {
            continue;
        }
        let gx_t = &gx[t * batch * g3..(t + 1) * batch * g3];
        let y_t = &mut y[t * batch * hid..(t + 1) * batch * hid];
        let record = |b: usize, v: RowView<'_, T>| {
            if keep {
                let row = t * batch + b;
                trace.base.record(row, v.pre, v.gates, v.operand, v.h_prev);
                if norm {
                    trace.h_hat[row * g3..][..g3].copy_from_slice(v.h_hat);
                    trace.h_rho[row * 3..][..3].copy_from_slice(v.h_rho);
                }
            }
        };
        sweep_step(s.act, packed, hid, gx_t, |b| s.active(t, b), &mut h, y_t, &mut bufs, &reg.step(t), record);
    }
    pool.give(gx);
    if !keep {
        trace.give_to(pool);
        return (h, None);
    }
    (h, Some(trace))
}
