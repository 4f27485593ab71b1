//! Backward of the cell: the gate gradients of one row, and the weight gradients of a
//! block (or of a unit-split worker's units) from all its rows.
//!
//! ```text
//! d = dh + dy                         (the gradient reaching h' = n + z ⊙ (h − n))
//! dh_prev = d ⊙ z                     (the direct part; the recurrent products add to it)
//! da_z = d ⊙ (h − n) ⊙ σ_g'(a_z)
//! da_n = d ⊙ (1 − z) ⊙ σ_s'(a_n)
//! after modes (a_n ∋ r ⊙ o, o = R_n h + b'_n):
//!   da_r = da_n ⊙ o ⊙ σ_g'(a_r),   dGH_n = da_n ⊙ r   (the gradient of o)
//! before (a_n ∋ R_n o, o = r ⊙ h), with q = da_n · R_n:
//!   da_r = q ⊙ h ⊙ σ_g'(a_r),      dh_prev += q ⊙ r
//! dW = dGXᵀ · X                       dGX = [da_r | da_z | da_n], [T·B, 3U]
//! dR[r z] = dGX[r z]ᵀ · H_prev
//! dR_n = dGH_nᵀ · H_prev (after modes),   da_nᵀ · (r ⊙ h) (before-multiplication)
//! db = Σ_rows dGX,   db' = [db_r | db_z | Σ_rows dGH_n]   (6H layout)
//! ```

use super::gates::{reset_update_width, row_width, GateCols, GateRow, GateRowMut};
use crate::activation::Activations;
use crate::kernels::{matmul_tn, MatMut, MatRef, PackedRhs, TnRhs};
use crate::params::Gate;
use crate::real::Real;

/// The gate gradients of one row (one sequence, one step, `U` units: the whole block or a
/// worker's units): from the step's gate values `gates = [r | z | n]`, the pre-activations
/// `pre` (or `gates` where they were not kept), the state the step started from `hp`, the
/// incoming `dh` and `dy`; writes `dgx = [da_r | da_z | da_n]` (da_r only in the after
/// modes, `after = (operand, dgh_n)`, which also gets `dgh_n = da_n ⊙ r`) and the direct
/// part of `dh_prev = (dh + dy) ⊙ z`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn row_grads<T: Real>(
    act: &Activations<T>,
    gates: GateRow<'_, T>,
    pre: GateRow<'_, T>,
    hp: &[T],
    dh: &[T],
    dy: &[T],
    dgx: GateRowMut<'_, T>,
    dh_prev: &mut [T],
    after: Option<(&[T], &mut [T])>,
) {
    let u = hp.len();
    let (r, z, n) = (gates.reset(), gates.update(), gates.candidate());
    let (dar, daz, dan) = dgx.split();
    // σ' of z and n (into daz, dan), then the chain rule: vectorizable passes over U values.
    act.gate_grad_slice(pre.update(), z, daz);
    act.state_grad_slice(pre.candidate(), n, dan);
    for j in 0..u {
        let d = dh[j] + dy[j];
        dh_prev[j] = d * z[j];
        daz[j] *= d * (hp[j] - n[j]);
        dan[j] *= d * (T::one() - z[j]);
    }
    if let Some((op, dghn)) = after {
        act.gate_grad_slice(pre.reset(), r, dar);
        for j in 0..u {
            dar[j] *= dan[j] * op[j];
            dghn[j] = dan[j] * r[j];
        }
    }
}

/// The reset gate's gradient before multiplication, once `q = da_n · R_n` (the gradient
/// of the operand `r ⊙ h`) is known: `da_r = q ⊙ h ⊙ σ_g'(a_r)` into `dgx`'s r part, and
/// `dh_prev += q ⊙ r`. `pre` is `gates` where the pre-activations were not kept.
#[inline]
pub(crate) fn reset_grads_before<T: Real>(
    act: &Activations<T>,
    gates: GateRow<'_, T>,
    pre: GateRow<'_, T>,
    hp: &[T],
    q: &[T],
    dgx: GateRowMut<'_, T>,
    dh_prev: &mut [T],
) {
    let (r, a_r) = (gates.reset(), pre.reset());
    let (dar, _, _) = dgx.split();
    for j in 0..hp.len() {
        let dr = q[j] * hp[j];
        dh_prev[j] += q[j] * r[j];
        dar[j] = dr * act.gate_grad(a_r[j], r[j]);
    }
}

/// The source of dR_n and db'_n.
pub(crate) enum CandidateSource<'a, T> {
    /// After modes: `dGH_n = da_n ⊙ r`, `[rows, U]`; `dR_n = dGH_nᵀ · H_prev`.
    After { dgh_n: &'a [T] },
    /// Before-multiplication: the operand `r ⊙ h`, `[rows, H]`; `dR_n = da_nᵀ · (r ⊙ h)`.
    Before { operand: &'a [T] },
}

/// What the weight gradients are computed from, over all `rows = T·B` rows of a block's
/// sweep, for `u` units (the block's H, or a worker's units).
pub(crate) struct GradSources<'a, T> {
    pub(crate) rows: usize,
    pub(crate) u: usize,
    /// The block's input width In and hidden size H.
    pub(crate) inp: usize,
    pub(crate) hid: usize,
    /// dGX = `[da_r | da_z | da_n]`, `[rows, 3U]`.
    pub(crate) dgx: &'a [T],
    /// X, `[rows, In]`.
    pub(crate) x: &'a [T],
    /// The state each step started from, `[rows, H]`.
    pub(crate) h_prev: &'a [T],
    pub(crate) candidate: CandidateSource<'a, T>,
}

/// Where the weight gradients go: `dw` `3U × In`, `dr` `3U × H` (both gate-grouped),
/// `db_in` `3U` and, in the 6H layout, `db_rec` `3U`.
pub(crate) struct GradTargets<'a, T> {
    pub(crate) dw: &'a mut [T],
    pub(crate) dr: &'a mut [T],
    pub(crate) db_in: GateRowMut<'a, T>,
    pub(crate) db_rec: Option<GateRowMut<'a, T>>,
}

/// How the products run: on `threads` threads; `pack_h_prev`: the after modes' two
/// products with H_prev share one packing of it (the dense sweep), else each is a
/// [`matmul_tn`] (a unit-split worker, one thread); `accumulate`: add to the targets
/// (another part of the batch) instead of overwriting them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GradPar {
    pub(crate) threads: usize,
    pub(crate) pack_h_prev: bool,
    pub(crate) accumulate: bool,
}

/// The weight gradients (see the module): dW, dR and the biases, overwriting `out` (or
/// added to it, `par.accumulate`). `storage` holds the packed activations (kept by the
/// caller's pool across calls).
pub(crate) fn weight_grads<T: Real>(
    src: &GradSources<'_, T>,
    out: GradTargets<'_, T>,
    par: GradPar,
    storage: &mut Vec<T>,
) {
    let (rows, u, inp, hid) = (src.rows, src.u, src.inp, src.hid);
    let acc = par.accumulate;
    let dgx = GateCols::new(src.dgx, rows, u);
    // dW = dGXᵀ · X
    let x = MatRef::new(src.x, rows, inp);
    matmul_tn(MatMut::new(out.dw, row_width(u), inp), acc, dgx.all(), x, par.threads, storage);
    // db = Σ_rows dGX
    let mut db_in = out.db_in;
    column_sums(db_in.all(), src.dgx, acc);
    // dR[r z] = dGX[r z]ᵀ · H_prev, and dR_n from the candidate's source.
    let (dr_rz, dr_n) = GateRowMut::of_rows(out.dr, u, hid).split_reset_update();
    let rz_rows = reset_update_width(u);
    let h_prev = MatRef::new(src.h_prev, rows, hid);
    match src.candidate {
        CandidateSource::Before { operand } => {
            matmul_tn(MatMut::new(dr_rz, rz_rows, hid), acc, dgx.reset_update(), h_prev, par.threads, storage);
            let operand = MatRef::new(operand, rows, hid);
            matmul_tn(MatMut::new(dr_n, u, hid), acc, dgx.candidate(), operand, par.threads, storage);
        }
        CandidateSource::After { dgh_n } => {
            let dgh_n_mat = MatRef::new(dgh_n, rows, u);
            if par.pack_h_prev {
                // H_prev packed once for both products.
                let packed = PackedRhs::new_in(src.h_prev, rows, hid, std::mem::take(storage));
                packed.product_par(MatMut::new(dr_rz, rz_rows, hid), acc, dgx.reset_update().t(), par.threads);
                packed.product_par(MatMut::new(dr_n, u, hid), acc, dgh_n_mat.t(), par.threads);
                *storage = packed.into_storage();
            } else {
                matmul_tn(MatMut::new(dr_rz, rz_rows, hid), acc, dgx.reset_update(), h_prev, par.threads, storage);
                matmul_tn(MatMut::new(dr_n, u, hid), acc, dgh_n_mat, h_prev, par.threads, storage);
            }
            // db' = [db_r | db_z | Σ_rows dGH_n] (db_r, db_z as accumulated above)
            if let Some(mut db_rec) = out.db_rec {
                db_rec.reset_update().copy_from_slice(db_in.reset_update());
                column_sums(db_rec.candidate(), dgh_n, acc);
            }
        }
    }
}

/// [`weight_grads`] of a unit-split worker's `units` of a block: `src` holds the worker's
/// rows (`src.u` = `units.len()` units, after modes: `dgh_n` `[rows, U]`), `out` the whole
/// block's gradients (`3H × In`, `3H × H`, `3H` each), of which the rows of `units` are
/// written, gate by gate, with no buffer of the worker's own. `acts`: X and H_prev (the
/// whole block's, every worker's products read them), packed once by the caller.
pub(crate) fn unit_weight_grads<T: Real>(
    src: &GradSources<'_, T>,
    dgh_n: &[T],
    out: GradTargets<'_, T>,
    units: std::ops::Range<usize>,
    acts: (&TnRhs<'_, T>, &TnRhs<'_, T>),
    threads: usize,
) {
    let (rows, u, inp, hid) = (src.rows, src.u, src.inp, src.hid);
    let dgx = GateCols::new(src.dgx, rows, u);
    let (x, h_prev) = acts;
    let (mut dw, mut dr) = (GateRowMut::of_rows(out.dw, hid, inp), GateRowMut::of_rows(out.dr, hid, hid));
    let mut db_in = out.db_in;
    for g in Gate::ALL {
        // dW_g = dGX_gᵀ · X; dR_g = dGX_gᵀ · H_prev (r, z), dGH_nᵀ · H_prev (n).
        let dw_g = MatMut::new(&mut dw.gate(g)[units.start * inp..units.end * inp], u, inp);
        x.product(dw_g, false, dgx.gate(g), threads);
        let rec = if g == Gate::Candidate { MatRef::new(dgh_n, rows, u) } else { dgx.gate(g) };
        h_prev.product(MatMut::new(&mut dr.gate(g)[units.start * hid..units.end * hid], u, hid), false, rec, threads);
        // db_g = Σ_rows dGX_g
        let db = &mut db_in.gate(g)[units.clone()];
        db.fill(T::zero());
        for row in src.dgx.chunks_exact(row_width(u)) {
            for (o, &v) in db.iter_mut().zip(&row[g.index() * u..(g.index() + 1) * u]) {
                *o += v;
            }
        }
    }
    // db' = [db_r | db_z | Σ_rows dGH_n]
    if let Some(mut db_rec) = out.db_rec {
        for g in [Gate::Reset, Gate::Update] {
            db_rec.gate(g)[units.clone()].copy_from_slice(&db_in.gate(g)[units.clone()]);
        }
        column_sums(&mut db_rec.candidate()[units], dgh_n, false);
    }
}

/// `out = Σ_rows m` for a row-major `m` with rows as wide as `out`, summed in row order
/// from zero (or from `out`'s values, `accumulate`).
#[inline]
fn column_sums<T: Real>(out: &mut [T], m: &[T], accumulate: bool) {
    if !accumulate {
        out.fill(T::zero());
    }
    for row in m.chunks_exact(out.len()) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}
