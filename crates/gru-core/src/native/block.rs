//! The fast path for one layer and direction over a whole padded batch.
//!
//! Forward: one input GEMM for all steps, `GX = X · Wᵀ + b` (`[T·B, 3H]`), then per step one
//! recurrent GEMM `GH = h · Rᵀ` (`[B, 3H]`; for before-multiplication `[B, 2H]` and a second
//! `(r ⊙ h) · R_nᵀ`), followed by one fused element-wise pass over the step's gates.
//! Backward: only `dh_{t-1}` is sequential; dW, dR and dX are large GEMMs after the sweep:
//! `dW = dGXᵀ · X`, `dR = dGHᵀ · H_prev`, `dX = dGX · W`.
//!
//! The element-wise math (gates, candidate, new state, gate and weight gradients) is
//! `crate::cell`'s, shared with the unit split; gate blocks of a `3H` row (`[r | z | n]`)
//! are reached through its views. A step `t` is active for sequence `b` when
//! `t < lengths[b]`; inactive steps leave `h` untouched and produce zero output.

use super::packed::product_or;
pub(crate) use super::packed::{blank, PackedBlock};
use super::pool::Pool;
use crate::activation::Activations;
use crate::cell::{self, bias, reset_update_width, row_width, GateCols, GateRow, GateRowMut};
use crate::kernels::{MatMut, MatRef, PackedRhs};
use crate::params::BlockParams;
use crate::real::Real;
use crate::spec::ResetGateMode;

/// Shapes and options shared by a block's forward and backward.
pub(crate) struct BlockShape<'a, T> {
    pub steps: usize,
    pub lengths: &'a [usize],
    /// Time direction: 0 reads steps 0..L; 1 reads L-1 down to 0 (`GruSpec::sweeps_backward`
    /// of the block's direction).
    pub dir: usize,
    pub mode: ResetGateMode,
    pub act: &'a Activations<T>,
}

impl<T> BlockShape<'_, T> {
    pub(crate) fn batch(&self) -> usize {
        self.lengths.len()
    }

    /// Steps in the order the direction processes them.
    pub(crate) fn order(&self) -> impl DoubleEndedIterator<Item = usize> + use<'_, T> {
        let steps = self.steps;
        let dir = self.dir;
        (0..steps).map(move |s| if dir == 0 { s } else { steps - 1 - s })
    }

    pub(crate) fn active(&self, t: usize, b: usize) -> bool {
        t < self.lengths[b]
    }
}

/// What backward needs from a block's forward pass; all `[T, B, ·]` time-major.
pub(crate) struct BlockTrace<T> {
    /// Unclipped pre-activations `[a_r | a_z | a_n]`, `[T, B, 3H]`; empty when the
    /// derivatives need only the values (`Activations::derivatives_need_inputs`).
    pub(crate) pre: Vec<T>,
    /// Gate values `[r | z | n]`, `[T, B, 3H]`.
    pub(crate) gates: Vec<T>,
    /// The operand of the reset product, `[T, B, H]`: after modes `R_n h (+ b'_n)`,
    /// before-multiplication `r ⊙ h`.
    pub(crate) operand: Vec<T>,
    /// The state each step started from, `[T, B, H]`.
    pub(crate) h_prev: Vec<T>,
}

impl<T: Real> BlockTrace<T> {
    /// Zeroed buffers for `rows` rows of a block of `hid` units (none when `rows` is 0: the
    /// call keeps no trace); `pre` only where the derivatives need the inputs.
    pub(crate) fn new(s: &BlockShape<'_, T>, rows: usize, hid: usize, pool: &mut Pool<T>) -> Self {
        let g3 = row_width(hid);
        Self {
            pre: pool.zeros(if s.act.derivatives_need_inputs() { rows * g3 } else { 0 }),
            gates: pool.zeros(rows * g3),
            operand: pool.zeros(rows * hid),
            h_prev: pool.zeros(rows * hid),
        }
    }

    /// Records row `row` (`t · B + b`): its pre-activations and gates (`3H` each), its operand
    /// and the state it started from (`H` each).
    pub(crate) fn record(&mut self, row: usize, pre: &[T], gates: &[T], operand: &[T], h_prev: &[T]) {
        let (g3, hid) = (gates.len(), h_prev.len());
        if !self.pre.is_empty() {
            self.pre[row * g3..][..g3].copy_from_slice(pre);
        }
        self.gates[row * g3..][..g3].copy_from_slice(gates);
        self.operand[row * hid..][..hid].copy_from_slice(operand);
        self.h_prev[row * hid..][..hid].copy_from_slice(h_prev);
    }

    /// Returns the trace's buffers for reuse.
    pub(crate) fn give_to(self, pool: &mut Pool<T>) {
        for v in [self.pre, self.gates, self.operand, self.h_prev] {
            pool.give(v);
        }
    }
}

/// Runs one block forward. `x`: `[T, B, In]`, `h0`: `[B, H]`. Writes `y`: `[T, B, H]`
/// (zero where inactive) and returns the final state `[B, H]` and, if `keep`, the trace.
/// The input projection runs on `gemm_threads` threads.
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
) -> (Vec<T>, Option<BlockTrace<T>>) {
    let (steps, batch, hid, inp) = (s.steps, s.batch(), p.hidden_size(), p.input_size());
    let g3 = row_width(hid);

    let mut gx = pool.zeros(steps * batch * g3);
    input_projection(packed, x, steps * batch, inp, &mut gx, gemm_threads);

    let mut trace = BlockTrace::new(s, if keep { steps * batch } else { 0 }, hid, pool);
    let mut h = h0.to_vec();
    let mut bufs = StepBuffers::new();
    bufs.fit(batch, hid, s.mode);

    for t in s.order() {
        if !(0..batch).any(|b| s.active(t, b)) {
            continue;
        }
        let gx_t = &gx[t * batch * g3..(t + 1) * batch * g3];
        let y_t = &mut y[t * batch * hid..(t + 1) * batch * hid];
        let record = |b: usize, pre: &[T], gates: &[T], op: &[T], h_prev: &[T]| {
            if keep {
                trace.record(t * batch + b, pre, gates, op, h_prev);
            }
        };
        sweep_step(s.act, packed, hid, gx_t, |b| s.active(t, b), &mut h, y_t, &mut bufs, record);
    }
    pool.give(gx);
    if !keep {
        trace.give_to(pool);
        return (h, None);
    }
    (h, Some(trace))
}

/// `GX = X · Wᵀ + b` (`x`: `[rows, In]`, `gx`: `[rows, 3H]`; b'_r, b'_z folded into b, see
/// `cell::bias`), the product on `threads` threads: the input projection of every step of
/// a sweep at once, or of one step of many streams (`native/step.rs`). Each row's sums do
/// not depend on how many rows there are (the panel kernel's order is per element).
pub(crate) fn input_projection<T: Real>(
    packed: &PackedBlock<T>,
    x: &[T],
    rows: usize,
    inp: usize,
    gx: &mut [T],
    threads: usize,
) {
    let g3 = packed.bias.len();
    packed.wt.product_par(MatMut::new(gx, rows, g3), false, MatRef::new(x, rows, inp), threads);
    for row in gx.chunks_exact_mut(g3) {
        for (o, &v) in row.iter_mut().zip(&packed.bias) {
            *o += v;
        }
    }
}

/// The per-step buffers of the dense sweep, `B` rows: `gh` (GH = h · Rᵀ, `[B, 3H]`, or
/// `[B, 2H]` = `[r | z]` before multiplication), `rh` (`r ⊙ h`) and `gn` (`(r ⊙ h) · R_nᵀ`)
/// (`[B, H]`, before multiplication only), the pre-activations `[a_r | a_z | a_n]` and gate
/// values `[r | z | n]` (`[B, 3H]`) and the operand of the reset product (`[B, H]`).
/// Kept across calls by the stream step: [`StepBuffers::fit`] allocates only when `B`
/// grows past every earlier call's.
#[derive(Default)]
pub(crate) struct StepBuffers<T> {
    pub(crate) gh: Vec<T>,
    pub(crate) rh: Vec<T>,
    pub(crate) gn: Vec<T>,
    pub(crate) pre: Vec<T>,
    pub(crate) gates: Vec<T>,
    pub(crate) operand: Vec<T>,
}

impl<T: Real> StepBuffers<T> {
    pub(crate) fn new() -> Self {
        Self { gh: Vec::new(), rh: Vec::new(), gn: Vec::new(), pre: Vec::new(), gates: Vec::new(), operand: Vec::new() }
    }

    /// Sizes the buffers for `batch` rows of `hid` units in `mode`.
    pub(crate) fn fit(&mut self, batch: usize, hid: usize, mode: ResetGateMode) {
        let before = mode == ResetGateMode::BeforeMultiplication;
        let (g3, rec_cols) = (row_width(hid), if before { reset_update_width(hid) } else { row_width(hid) });
        let zero = T::zero();
        self.gh.resize(batch * rec_cols, zero);
        self.rh.resize(if before { batch * hid } else { 0 }, zero);
        self.gn.resize(if before { batch * hid } else { 0 }, zero);
        self.pre.resize(batch * g3, zero);
        self.gates.resize(batch * g3, zero);
        self.operand.resize(batch * hid, zero);
    }
}

/// One step of the dense sweep over `B` rows (`bufs` fitted for them): for every row `b`
/// with `active(b)`, from its `GX` row (`gx`: `[B, 3H]`, this step's) and its state (`h`:
/// `[B, H]`), the recurrent products `GH = h · Rᵀ` (before multiplication `h · R[r z]ᵀ` and
/// `(r ⊙ h) · R_nᵀ`) and the cell (`crate::cell`: r, z, n, `h' = n + z ⊙ (h − n)`); `h'`
/// is written to `y` (`[B, H]`) and becomes the row's state. Inactive rows keep their
/// state and `y` row. `record(b, pre, gates, operand, h_prev)` sees each active row's
/// pre-activations, gate values, operand and starting state before the update (training's
/// trace). The whole-sequence sweep and the stream step both run this, so that a stream
/// stepped frame by frame computes what its sequence computes in one sweep.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_step<T: Real>(
    act: &Activations<T>,
    packed: &PackedBlock<T>,
    hid: usize,
    gx: &[T],
    active: impl Fn(usize) -> bool,
    h: &mut [T],
    y: &mut [T],
    bufs: &mut StepBuffers<T>,
    mut record: impl FnMut(usize, &[T], &[T], &[T], &[T]),
) {
    let batch = h.len() / hid;
    let before = packed.rt_n.is_some();
    let rec_cols = if before { reset_update_width(hid) } else { row_width(hid) };
    let StepBuffers { gh, rh, gn, pre, gates, operand } = bufs;
    // GH = h · R[rows]ᵀ, through the panels packed at prepare.
    packed.rt_step.product(MatMut::new(gh, batch, rec_cols), false, MatRef::new(h, batch, hid));
    // r, z for every active sequence: one vectorized pass over 2H values.
    for b in (0..batch).filter(|&b| active(b)) {
        let (mut pr, mut gr) = (GateRowMut::at(pre, b, hid), GateRowMut::at(gates, b, hid));
        let gh_row = &gh[b * rec_cols..][..rec_cols];
        cell::reset_update(act, GateRow::at(gx, b, hid), gh_row, &mut pr, &mut gr);
    }
    if let Some(rt_n) = &packed.rt_n {
        // gn = (r ⊙ h) · R_nᵀ
        reset_products(rt_n, hid, gates, h, &active, rh, gn);
    }
    for b in (0..batch).filter(|&b| active(b)) {
        candidate_row(act, packed, hid, b, gx, (gh, rh, gn), pre, gates, operand);
        let gr = GateRow::at(gates, b, hid);
        let (hb, yb) = (&mut h[b * hid..][..hid], &mut y[b * hid..][..hid]);
        record(b, GateRow::at(pre, b, hid).all(), gr.all(), &operand[b * hid..][..hid], hb);
        // h' = n + z ⊙ (h − n), the output and the next step's state.
        cell::new_state(gr, hb, yb);
        hb.copy_from_slice(yb);
    }
}

/// Before multiplication: `gn = (r ⊙ h) · R_nᵀ` for the active rows (`rh` receives r ⊙ h,
/// zero in the inactive rows), `h` the state the recurrent products read. The plain and
/// the regularized sweeps (`reg_block.rs`) both run it.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn reset_products<T: Real>(
    rt_n: &PackedRhs<T>,
    hid: usize,
    gates: &[T],
    h: &[T],
    active: &impl Fn(usize) -> bool,
    rh: &mut [T],
    gn: &mut [T],
) {
    let batch = h.len() / hid;
    rh.fill(T::zero());
    for b in (0..batch).filter(|&b| active(b)) {
        let r = GateRow::at(gates, b, hid).reset();
        cell::reset_product(r, &h[b * hid..][..hid], &mut rh[b * hid..][..hid]);
    }
    rt_n.product(MatMut::new(gn, batch, hid), false, MatRef::new(rh, batch, hid));
}

/// The candidate `n` of row `b` (`crate::cell`): from its GX row and, after multiplication,
/// its GH row's candidate part and the recurrent bias, or, before multiplication, `r ⊙ h`
/// and `gn` (`gh_rh_gn`: the step's GH, `rh` and `gn`); writes the row's pre-activation,
/// gate value and operand. The plain and the regularized sweeps both run it.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn candidate_row<T: Real>(
    act: &Activations<T>,
    packed: &PackedBlock<T>,
    hid: usize,
    b: usize,
    gx: &[T],
    (gh, rh, gn): (&[T], &[T], &[T]),
    pre: &mut [T],
    gates: &mut [T],
    operand: &mut [T],
) {
    let gx_n = GateRow::at(gx, b, hid).candidate();
    let (pr, gr) = (GateRowMut::at(pre, b, hid), GateRowMut::at(gates, b, hid));
    let op = &mut operand[b * hid..][..hid];
    if packed.rt_n.is_some() {
        cell::candidate_before(act, gx_n, &rh[b * hid..][..hid], &gn[b * hid..][..hid], pr, gr, op);
    } else {
        let gh_n = GateRow::at(gh, b, hid).candidate();
        cell::candidate_after(act, gx_n, gh_n, &packed.rec_bias_n, pr, gr, op);
    }
}

/// What a block's parameter gradients are computed from once its sweep backward is done:
/// the gate gradients of all its rows and the states they started from. The batch split
/// sums its parts' into one set of gradients ([`PendingGrads::weight_grads`] with
/// `accumulate`), so that a thread's part needs no gradient buffer of its own.
pub(crate) struct PendingGrads<T> {
    rows: usize,
    before: bool,
    dgx: Vec<T>,
    /// After modes: dGH_n; before-multiplication: empty (the operand is kept instead).
    dgh_n: Vec<T>,
    operand: Vec<T>,
    h_prev: Vec<T>,
}

impl<T: Real> PendingGrads<T> {
    /// dW, dR and the biases (`cell::weight_grads`) from these rows, whose layer input is
    /// `x`: written into `grads`, or added to them (`accumulate`: another part of the batch,
    /// summed in the order of the parts). Returns the buffers to `pool`.
    pub(crate) fn weight_grads(
        self,
        x: &[T],
        grads: &mut BlockParams<T>,
        accumulate: bool,
        threads: usize,
        pool: &mut Pool<T>,
    ) {
        let (hid, inp) = (grads.hidden_size(), grads.input_size());
        let candidate = if self.before {
            cell::CandidateSource::Before { operand: &self.operand }
        } else {
            cell::CandidateSource::After { dgh_n: &self.dgh_n }
        };
        let src =
            cell::GradSources { rows: self.rows, u: hid, inp, hid, dgx: &self.dgx, x, h_prev: &self.h_prev, candidate };
        let (dw, dr, bias) = grads.parts_mut();
        let (db_in, db_rec) = bias::split_mut(bias, hid);
        let out = cell::GradTargets { dw, dr, db_in, db_rec };
        let mut storage = pool.empty(PackedRhs::<T>::storage_len(self.rows, inp.max(hid)));
        cell::weight_grads(&src, out, cell::GradPar { threads, pack_h_prev: true, accumulate }, &mut storage);
        for v in [self.dgx, self.dgh_n, self.operand, self.h_prev, storage] {
            pool.give(v);
        }
    }
}

/// Runs one block backward through time. `dy`: `[T, B, H]` gradient of this block's output
/// (read only at active steps), `dh_t`: `[B, H]`. Accumulates `dx += dGX · W`
/// (`[T, B, In]`) and returns dL/dh0 `[B, H]` and what the parameter gradients need.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    s: &BlockShape<'_, T>,
    p: &BlockParams<T>,
    packed: &PackedBlock<T>,
    trace: BlockTrace<T>,
    dy: &[T],
    dh_t: &[T],
    dx: &mut [T],
    gemm_threads: usize,
    pool: &mut Pool<T>,
) -> (Vec<T>, PendingGrads<T>) {
    let (steps, batch, hid, inp) = (s.steps, s.batch(), p.hidden_size(), p.input_size());
    let g3 = row_width(hid);
    let before = s.mode == ResetGateMode::BeforeMultiplication;
    let act = s.act;
    let BlockTrace { pre, gates, operand, h_prev } = trace;
    // dGX: [da_r | da_z | da_n]; dGH: [da_r | da_z | d(R_n-product operand)] (after modes).
    // dGH's r and z columns are dGX's; only its n columns differ (after modes): `[T, B, H]`,
    // and a `[B, 3H]` row block assembled per step for the recurrent product.
    // After modes: a row's gate values and operand are read only by that row's gradients,
    // so dGX is written over the gate values and dGH_n over the operand, row by row
    // through `row_copy` (the training peak is then that of the forward trace, not twice).
    let in_place = !before;
    let (mut dgx, mut dgh_n, gates, operand) = if in_place {
        (gates, operand, Vec::new(), Vec::new())
    } else {
        (pool.zeros(steps * batch * g3), Vec::new(), gates, operand)
    };
    // The row being rewritten: its gate values `[r | z | n]` and operand, copied out first.
    let mut row_copy = if in_place { vec![T::zero(); g3 + hid] } else { Vec::new() };
    let mut dgh_t = if before { Vec::new() } else { vec![T::zero(); batch * g3] };
    let mut dh = dh_t.to_vec();
    let mut dh_prev = vec![T::zero(); batch * hid];
    let mut q = vec![T::zero(); batch * hid];
    let r_rows = GateRow::of_rows(p.r(), hid, hid);

    for t in s.order().rev() {
        if !(0..batch).any(|b| s.active(t, b)) {
            if in_place {
                // The weight products read every row: an inactive one contributes zero.
                dgx[t * batch * g3..(t + 1) * batch * g3].fill(T::zero());
                dgh_n[t * batch * hid..(t + 1) * batch * hid].fill(T::zero());
            }
            continue;
        }
        for b in 0..batch {
            let row = t * batch + b;
            if !s.active(t, b) {
                dh_prev[b * hid..(b + 1) * hid].copy_from_slice(&dh[b * hid..(b + 1) * hid]);
                if in_place {
                    dgx[row * g3..(row + 1) * g3].fill(T::zero());
                    dgh_n[row * hid..(row + 1) * hid].fill(T::zero());
                }
                continue;
            }
            let (gr, after) = if in_place {
                row_copy[..g3].copy_from_slice(&dgx[row * g3..(row + 1) * g3]);
                row_copy[g3..].copy_from_slice(&dgh_n[row * hid..(row + 1) * hid]);
                let (g, op) = row_copy.split_at(g3);
                (GateRow::new(g, hid), Some((op, &mut dgh_n[row * hid..][..hid])))
            } else {
                (GateRow::at(&gates, row, hid), None)
            };
            // Without kept pre-activations the derivatives read only the values (the
            // activations ignore `pr` then; see `derivatives_need_inputs`).
            let pr = if pre.is_empty() { gr } else { GateRow::at(&pre, row, hid) };
            cell::row_grads(
                act,
                gr,
                pr,
                &h_prev[row * hid..][..hid],
                &dh[b * hid..][..hid],
                &dy[row * hid..][..hid],
                GateRowMut::at(&mut dgx, row, hid),
                &mut dh_prev[b * hid..][..hid],
                after,
            );
        }
        let dgx_t = &mut dgx[t * batch * g3..(t + 1) * batch * g3];
        if before {
            // q = da_n · R_n (the gradient of r ⊙ h), then dr = q ⊙ h, dh += q ⊙ r.
            product_or(
                packed.r_back_n.as_ref(),
                MatMut::new(&mut q, batch, hid),
                false,
                GateCols::new(dgx_t, batch, hid).candidate(),
                MatRef::new(r_rows.candidate(), hid, hid),
                1,
            );
            for b in (0..batch).filter(|&b| s.active(t, b)) {
                let row = t * batch + b;
                let gr = GateRow::at(&gates, row, hid);
                let pr = if pre.is_empty() { gr } else { GateRow::at(&pre, row, hid) };
                cell::reset_grads_before(
                    act,
                    gr,
                    pr,
                    &h_prev[row * hid..][..hid],
                    &q[b * hid..][..hid],
                    GateRowMut::at(dgx_t, b, hid),
                    &mut dh_prev[b * hid..][..hid],
                );
            }
            // dh += [da_r | da_z] · R[r z]
            product_or(
                packed.r_back.as_ref(),
                MatMut::new(&mut dh_prev, batch, hid),
                true,
                GateCols::new(dgx_t, batch, hid).reset_update(),
                MatRef::new(r_rows.reset_update(), reset_update_width(hid), hid),
                1,
            );
        } else {
            // dGH = [da_r | da_z | dGH_n] of this step's rows.
            for b in 0..batch {
                let (src, mut dst) = (GateRow::at(dgx_t, b, hid), GateRowMut::at(&mut dgh_t, b, hid));
                dst.reset_update().copy_from_slice(src.reset_update());
                dst.candidate().copy_from_slice(&dgh_n[(t * batch + b) * hid..][..hid]);
            }
            product_or(
                packed.r_back.as_ref(),
                MatMut::new(&mut dh_prev, batch, hid),
                true,
                MatRef::new(&dgh_t, batch, g3),
                MatRef::new(p.r(), g3, hid),
                1,
            );
        }
        std::mem::swap(&mut dh, &mut dh_prev);
    }

    // dX: one GEMM over all steps.
    let rows = steps * batch;
    product_or(
        packed.w_back.as_ref(),
        MatMut::new(dx, rows, inp),
        true,
        MatRef::new(&dgx, rows, g3),
        MatRef::new(p.w(), g3, inp),
        gemm_threads,
    );
    pool.give(pre);
    pool.give(gates);
    (dh, PendingGrads { rows, before, dgx, dgh_n, operand, h_prev })
}
