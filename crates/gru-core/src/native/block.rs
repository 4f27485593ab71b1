//! The fast path for one layer and direction over a whole padded batch.
//!
//! Forward: one input GEMM for all steps, `GX = X · Wᵀ + b` (`[T·B, 3H]`), then per step one
//! recurrent GEMM `GH = h · Rᵀ` (`[B, 3H]`; for before-multiplication `[B, 2H]` and a second
//! `(r ⊙ h) · R_nᵀ`), followed by one fused element-wise pass over the step's gates.
//! Backward: only `dh_{t-1}` is sequential; dW, dR and dX are large GEMMs after the sweep:
//! `dW = dGXᵀ · X`, `dR = dGHᵀ · H_prev`, `dX = dGX · W`.
//!
//! Gate blocks of a `3H` row are `[r | z | n]`. A step `t` is active for sequence `b` when
//! `t < lengths[b]`; inactive steps leave `h` untouched and produce zero output.

use super::pool::Pool;
use crate::activation::Activations;
use crate::kernels::{matmul, matmul_tn, MatMut, MatRef, PackedRhs};
use crate::params::{BlockParams, Gate};
use crate::real::Real;
use crate::spec::ResetGateMode;

/// Shapes and options shared by a block's forward and backward.
pub(crate) struct BlockShape<'a, T> {
    pub steps: usize,
    pub lengths: &'a [usize],
    /// 0: reads steps 0..L; 1: reads L-1 down to 0.
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

/// A block's weights arranged once (at `prepare` / `set_params`) for the products:
/// `wt` = Wᵀ (`In × 3H`) for the input GEMM; the per-step recurrent products'
/// right-hand matrices as [`PackedRhs`] (kept in the kernel's panel layout across steps):
/// forward `GH = h · Rᵀ` (`H × 3H`; before-multiplication: `Rᵀ[:, r z]` and `Rᵀ[:, n]`),
/// and for training backward `dh += dGH · R` (`3H × H`; before-multiplication: `R[r z]`
/// and `R_n`).
pub(crate) struct PackedBlock<T> {
    wt: PackedRhs<T>,
    /// `Rᵀ` (after modes) or `Rᵀ[:, r z]` (before-multiplication).
    rt_step: PackedRhs<T>,
    /// `Rᵀ[:, n]` (before-multiplication only).
    rt_n: Option<PackedRhs<T>>,
    /// `R` (after modes) or `R[r z]` (before-multiplication); training only.
    r_back: Option<PackedRhs<T>>,
    /// `R_n` (before-multiplication, training only).
    r_back_n: Option<PackedRhs<T>>,
    /// `W` (`3H × In`) for backward's `dX = dGX · W`; training only.
    w_back: Option<PackedRhs<T>>,
    /// The same weights cut by hidden units for `unit_threads` workers (inference of large
    /// H, see `units.rs`); empty when unused.
    pub(crate) units: super::units::UnitSplit<T>,
}

impl<T: Real> PackedBlock<T> {
    /// Packs `p` for `mode` (`training`: also backward's matrices); with `unit_threads > 1`
    /// also the per-worker unit slices.
    pub(crate) fn new(p: &BlockParams<T>, mode: ResetGateMode, training: bool, unit_threads: usize) -> Self {
        let (inp, hid) = (p.input_size(), p.hidden_size());
        let g3 = 3 * hid;
        let before = mode == ResetGateMode::BeforeMultiplication;
        let units = super::units::UnitSplit::new(p, unit_threads, training);
        let rt = transpose(p.r(), g3, hid);
        let (rt_step, rt_n) = if before {
            (PackedRhs::columns(&rt, hid, g3, 0..2 * hid), Some(PackedRhs::columns(&rt, hid, g3, 2 * hid..g3)))
        } else {
            (PackedRhs::new(&rt, hid, g3), None)
        };
        let (r_back, r_back_n) = match (training, before) {
            (false, _) => (None, None),
            (true, false) => (Some(PackedRhs::new(p.r(), g3, hid)), None),
            (true, true) => (
                Some(PackedRhs::new(&p.r()[..2 * hid * hid], 2 * hid, hid)),
                Some(PackedRhs::new(p.r_gate(Gate::Candidate), hid, hid)),
            ),
        };
        let w_back = training.then(|| PackedRhs::new(p.w(), g3, inp));
        Self { wt: PackedRhs::new(&transpose(p.w(), g3, inp), inp, g3), w_back, rt_step, rt_n, r_back, r_back_n, units }
    }
}

/// `dst (+)= a · m`: through the packed matrix when there is one, else a plain GEMM with
/// `m` (`k × n` row-major, `row_stride` apart).
fn product_or<T: Real>(
    packed: Option<&PackedRhs<T>>,
    dst: MatMut<'_, T>,
    accumulate: bool,
    a: MatRef<'_, T>,
    m: MatRef<'_, T>,
    threads: usize,
) {
    match packed {
        Some(p) => p.product_par(dst, accumulate, a, threads),
        None => matmul(dst, accumulate, a, m),
    }
}

/// `rows × cols` row-major -> `cols × rows` row-major.
fn transpose<T: Real>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = vec![T::zero(); rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            out[j * rows + i] = m[i * cols + j];
        }
    }
    out
}

/// What backward needs from a block's forward pass; all `[T, B, ·]` time-major.
pub(crate) struct BlockTrace<T> {
    /// Unclipped pre-activations `[a_r | a_z | a_n]`, `[T, B, 3H]`; empty when the
    /// derivatives need only the values (`Activations::derivatives_need_inputs`).
    pre: Vec<T>,
    /// Gate values `[r | z | n]`, `[T, B, 3H]`.
    gates: Vec<T>,
    /// The operand of the reset product, `[T, B, H]`: after modes `R_n h (+ b'_n)`,
    /// before-multiplication `r ⊙ h`.
    operand: Vec<T>,
    /// The state each step started from, `[T, B, H]`.
    h_prev: Vec<T>,
}

impl<T: Real> BlockTrace<T> {
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
    let g3 = 3 * hid;
    let before = s.mode == ResetGateMode::BeforeMultiplication;

    // GX = X · Wᵀ + b_in (+ b'_r, b'_z: they add to the input ones).
    let mut gx = pool.zeros(steps * batch * g3);
    packed.wt.product_par(
        MatMut::new(&mut gx, steps * batch, g3),
        false,
        MatRef::new(x, steps * batch, inp),
        gemm_threads,
    );
    let mut bias_row = p.bias()[..g3].to_vec();
    for g in [Gate::Reset, Gate::Update] {
        if let Some(rb) = p.recurrent_bias(g) {
            for (o, &v) in bias_row[g.rows(hid)].iter_mut().zip(rb) {
                *o += v;
            }
        }
    }
    for row in gx.chunks_exact_mut(g3) {
        for (o, &v) in row.iter_mut().zip(&bias_row) {
            *o += v;
        }
    }
    let rec_bias_n = p.recurrent_bias(Gate::Candidate);

    let sz = if keep { steps * batch } else { 0 };
    let mut trace = BlockTrace {
        pre: pool.zeros(if s.act.derivatives_need_inputs() { sz * g3 } else { 0 }),
        gates: pool.zeros(sz * g3),
        operand: pool.zeros(sz * hid),
        h_prev: pool.zeros(sz * hid),
    };
    let mut h = h0.to_vec();
    let rec_cols = if before { 2 * hid } else { g3 };
    let mut gh = vec![T::zero(); batch * rec_cols];
    let mut rh = vec![T::zero(); batch * hid];
    let mut gn = vec![T::zero(); batch * hid];
    // Per step and sequence: pre-activations [a_r | a_z | a_n], gates [r | z | n], operand.
    let mut pre = vec![T::zero(); batch * g3];
    let mut gates = vec![T::zero(); batch * g3];
    let mut operand = vec![T::zero(); batch * hid];
    let zeros = vec![T::zero(); hid];
    let rec_bias_n = rec_bias_n.unwrap_or(&zeros);
    let act = s.act;

    for t in s.order() {
        if !(0..batch).any(|b| s.active(t, b)) {
            continue;
        }
        // GH = h · R[rows]ᵀ, through the panels packed at prepare.
        packed.rt_step.product(MatMut::new(&mut gh, batch, rec_cols), false, MatRef::new(&h, batch, hid));
        // r, z for every active sequence: one vectorized pass over 2H values.
        for b in (0..batch).filter(|&b| s.active(t, b)) {
            let gxr = &gx[(t * batch + b) * g3..][..2 * hid];
            let ghr = &gh[b * rec_cols..][..2 * hid];
            let pr = &mut pre[b * g3..][..2 * hid];
            for ((p, &x), &r) in pr.iter_mut().zip(gxr).zip(ghr) {
                *p = x + r;
            }
            act.gate_slice(&pre[b * g3..][..2 * hid], &mut gates[b * g3..][..2 * hid]);
        }
        if let Some(rt_n) = &packed.rt_n {
            // gn = (r ⊙ h) · R_nᵀ
            rh.fill(T::zero());
            for b in (0..batch).filter(|&b| s.active(t, b)) {
                for k in 0..hid {
                    rh[b * hid + k] = gates[b * g3 + k] * h[b * hid + k];
                }
            }
            rt_n.product(MatMut::new(&mut gn, batch, hid), false, MatRef::new(&rh, batch, hid));
        }
        for b in (0..batch).filter(|&b| s.active(t, b)) {
            let row = t * batch + b;
            let gxn = &gx[row * g3 + 2 * hid..][..hid];
            let (pr, gr) = (&mut pre[b * g3..][..g3], &mut gates[b * g3..][..g3]);
            let op = &mut operand[b * hid..][..hid];
            if before {
                op.copy_from_slice(&rh[b * hid..][..hid]);
                for ((a, &x), &n) in pr[2 * hid..].iter_mut().zip(gxn).zip(&gn[b * hid..][..hid]) {
                    *a = x + n;
                }
            } else {
                let ghn = &gh[b * rec_cols + 2 * hid..][..hid];
                for j in 0..hid {
                    op[j] = ghn[j] + rec_bias_n[j];
                    pr[2 * hid + j] = gxn[j] + gr[j] * op[j];
                }
            }
            let (rz, n) = gr.split_at_mut(2 * hid);
            act.state_slice(&pr[2 * hid..], n);
            let (hb, yb) = (&mut h[b * hid..][..hid], &mut y[row * hid..][..hid]);
            if keep {
                if !trace.pre.is_empty() {
                    trace.pre[row * g3..][..g3].copy_from_slice(pr);
                }
                trace.gates[row * g3..][..2 * hid].copy_from_slice(rz);
                trace.gates[row * g3 + 2 * hid..][..hid].copy_from_slice(n);
                trace.operand[row * hid..][..hid].copy_from_slice(op);
                trace.h_prev[row * hid..][..hid].copy_from_slice(hb);
            }
            // h' = (1 - z) n + z h = n + z (h - n)
            let z = &rz[hid..];
            for j in 0..hid {
                let h_new = n[j] + z[j] * (hb[j] - n[j]);
                yb[j] = h_new;
                hb[j] = h_new;
            }
        }
    }
    pool.give(gx);
    if !keep {
        trace.give_to(pool);
        return (h, None);
    }
    (h, Some(trace))
}

/// The gate gradients of one row (one sequence, one step, `U` units: the whole block or a
/// worker's units): from the step's gate values `gr = [r | z | n]`, the pre-activations
/// `pr` (or `gr` where they were not kept), the state the step started from `hp`, the
/// incoming `dh` and `dy`; writes `dgx = [da_r | da_z | da_n]` (da_r only in the after
/// modes, `after = (operand, dghn)`, which also gets `dghn = da_n ⊙ r`) and the direct
/// part of `dh_prev = (dh + dy) ⊙ z`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn row_grads<T: Real>(
    act: &Activations<T>,
    gr: &[T],
    pr: &[T],
    hp: &[T],
    dh: &[T],
    dy: &[T],
    dgx: &mut [T],
    dh_prev: &mut [T],
    after: Option<(&[T], &mut [T])>,
) {
    let u = hp.len();
    let (r, z, n) = (&gr[..u], &gr[u..2 * u], &gr[2 * u..3 * u]);
    let (dar, rest) = dgx.split_at_mut(u);
    let (daz, dan) = rest.split_at_mut(u);
    // σ' of z and n (into daz, dan), then the chain rule: vectorizable passes over U values.
    act.gate_grad_slice(&pr[u..2 * u], z, daz);
    act.state_grad_slice(&pr[2 * u..3 * u], n, dan);
    for j in 0..u {
        let d = dh[j] + dy[j];
        dh_prev[j] = d * z[j];
        daz[j] *= d * (hp[j] - n[j]);
        dan[j] *= d * (T::one() - z[j]);
    }
    if let Some((op, dghn)) = after {
        act.gate_grad_slice(&pr[..u], r, dar);
        for j in 0..u {
            dar[j] *= dan[j] * op[j];
            dghn[j] = dan[j] * r[j];
        }
    }
}

/// Runs one block backward. `dy`: `[T, B, H]` gradient of this block's output (read only at
/// active steps), `dh_t`: `[B, H]`. Accumulates `dx += dGX · W` (`[T, B, In]`), writes the
/// block's parameter gradients into `grads` and returns dL/dh0 `[B, H]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    s: &BlockShape<'_, T>,
    p: &BlockParams<T>,
    packed: &PackedBlock<T>,
    trace: &BlockTrace<T>,
    x: &[T],
    dy: &[T],
    dh_t: &[T],
    dx: &mut [T],
    grads: &mut BlockParams<T>,
    gemm_threads: usize,
    pool: &mut Pool<T>,
) -> Vec<T> {
    let (steps, batch, hid, inp) = (s.steps, s.batch(), p.hidden_size(), p.input_size());
    let g3 = 3 * hid;
    let before = s.mode == ResetGateMode::BeforeMultiplication;
    let act = s.act;
    // dGX: [da_r | da_z | da_n]; dGH: [da_r | da_z | d(R_n-product operand)] (after modes).
    let mut dgx = pool.zeros(steps * batch * g3);
    // dGH's r and z columns are dGX's; only its n columns differ (after modes): `[T, B, H]`,
    // and a `[B, 3H]` row block assembled per step for the recurrent product.
    let mut dgh_n = if before { Vec::new() } else { pool.zeros(steps * batch * hid) };
    let mut dgh_t = if before { Vec::new() } else { vec![T::zero(); batch * g3] };
    let mut dh = dh_t.to_vec();
    let mut dh_prev = vec![T::zero(); batch * hid];
    let mut q = vec![T::zero(); batch * hid];

    for t in s.order().rev() {
        if !(0..batch).any(|b| s.active(t, b)) {
            continue;
        }
        for b in 0..batch {
            let row = t * batch + b;
            if !s.active(t, b) {
                dh_prev[b * hid..(b + 1) * hid].copy_from_slice(&dh[b * hid..(b + 1) * hid]);
                continue;
            }
            let gr = &trace.gates[row * g3..][..g3];
            // Without kept pre-activations the derivatives read only the values (the
            // activations ignore `pr` then; see `derivatives_need_inputs`).
            let pr = if trace.pre.is_empty() { gr } else { &trace.pre[row * g3..][..g3] };
            let after = (!before).then(|| (&trace.operand[row * hid..][..hid], &mut dgh_n[row * hid..][..hid]));
            row_grads(
                act,
                gr,
                pr,
                &trace.h_prev[row * hid..][..hid],
                &dh[b * hid..][..hid],
                &dy[row * hid..][..hid],
                &mut dgx[row * g3..][..g3],
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
                MatRef::strided(&dgx_t[2 * hid..], batch, hid, g3),
                MatRef::new(p.r_gate(Gate::Candidate), hid, hid),
                1,
            );
            for b in (0..batch).filter(|&b| s.active(t, b)) {
                let row = t * batch + b;
                for j in 0..hid {
                    let r = trace.gates[row * g3 + j];
                    let dr = q[b * hid + j] * trace.h_prev[row * hid + j];
                    dh_prev[b * hid + j] += q[b * hid + j] * r;
                    let a = if trace.pre.is_empty() { r } else { trace.pre[row * g3 + j] };
                    dgx_t[b * g3 + j] = dr * act.gate_grad(a, r);
                }
            }
            // dh += [da_r | da_z] · R[r, z]
            product_or(
                packed.r_back.as_ref(),
                MatMut::new(&mut dh_prev, batch, hid),
                true,
                MatRef::strided(dgx_t, batch, 2 * hid, g3),
                MatRef::new(&p.r()[..2 * hid * hid], 2 * hid, hid),
                1,
            );
        } else {
            for b in 0..batch {
                dgh_t[b * g3..b * g3 + 2 * hid].copy_from_slice(&dgx_t[b * g3..b * g3 + 2 * hid]);
                dgh_t[b * g3 + 2 * hid..(b + 1) * g3].copy_from_slice(&dgh_n[(t * batch + b) * hid..][..hid]);
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

    // Parameter gradients and dX: GEMMs over all steps.
    let rows = steps * batch;
    let w_grad = MatMut::new(grads.w_mut(), g3, inp);
    matmul_tn(w_grad, false, MatRef::new(&dgx, rows, g3), MatRef::new(x, rows, inp), gemm_threads);
    product_or(
        packed.w_back.as_ref(),
        MatMut::new(dx, rows, inp),
        true,
        MatRef::new(&dgx, rows, g3),
        MatRef::new(p.w(), g3, inp),
        gemm_threads,
    );
    let col_sums = |m: &[T]| {
        let mut s = vec![T::zero(); g3];
        for row in m.chunks_exact(g3) {
            for (o, &v) in s.iter_mut().zip(row) {
                *o += v;
            }
        }
        s
    };
    let db_in = col_sums(&dgx);
    grads.bias_mut()[..g3].copy_from_slice(&db_in);
    if before {
        let (d_rz, d_n) = grads.r_mut().split_at_mut(2 * hid * hid);
        matmul_tn(
            MatMut::new(d_rz, 2 * hid, hid),
            false,
            MatRef::strided(&dgx, rows, 2 * hid, g3),
            MatRef::new(&trace.h_prev, rows, hid),
            gemm_threads,
        );
        matmul_tn(
            MatMut::new(d_n, hid, hid),
            false,
            MatRef::strided(&dgx[2 * hid..], rows, hid, g3),
            MatRef::new(&trace.operand, rows, hid),
            gemm_threads,
        );
    } else {
        // dR = dGHᵀ · H_prev: its r, z rows from dGX, its n rows from dGH_n; H_prev packed once.
        let h_prev = PackedRhs::new(&trace.h_prev, rows, hid);
        let (d_rz, d_n) = grads.r_mut().split_at_mut(2 * hid * hid);
        let dgx_rz = MatRef::strided(&dgx, rows, 2 * hid, g3).t();
        h_prev.product_par(MatMut::new(d_rz, 2 * hid, hid), false, dgx_rz, gemm_threads);
        h_prev.product_par(MatMut::new(d_n, hid, hid), false, MatRef::new(&dgh_n, rows, hid).t(), gemm_threads);
        if grads.has_recurrent_bias() {
            let mut db_rec = db_in[..2 * hid].to_vec();
            db_rec.resize(g3, T::zero());
            for row in dgh_n.chunks_exact(hid) {
                for (o, &v) in db_rec[2 * hid..].iter_mut().zip(row) {
                    *o += v;
                }
            }
            grads.bias_mut()[g3..].copy_from_slice(&db_rec);
        }
    }
    pool.give(dgx);
    pool.give(dgh_n);
    dh
}
