//! Backward of a block whose training forward split the hidden units between workers
//! (`units.rs`): each worker keeps its units through the backward sweep as well.
//!
//! Per step (in reverse), worker k computes the gate gradients of its units, then its
//! share of the recurrent term as a full `[B, H]` partial, `dGH_k · R_k` (its `3U` rows of
//! R); the workers publish their partials, meet at the barrier, and each sums the columns
//! of its own units:
//! ```text
//! dh_{t-1}[:, units_k] = dh·z [:, units_k] + Σ_j (dGH_j · R_j)[:, units_k]
//! ```
//! After the sweep each worker computes its rows of the weight gradients (`dW_k = dGX_kᵀ X`,
//! `dR_k = [dGX_k(r, z) | dGH_k(n)]ᵀ H_prev`, the biases) and its partial `dX_k = dGX_k W_k`;
//! the caller scatters the rows and sums the partials. Each worker streams only its third of
//! R per step, as in inference.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::block::{row_grads, BlockShape};
use super::helpers::{self, WorkerPool};
use super::units::{OwnedShape, SpinBarrier, UnitPack, UnitSplit, WorkerTrace};
use crate::kernels::{matmul_tn, MatMut, MatRef};
use crate::params::{BlockParams, Gate};
use crate::real::Real;

/// One worker's results: rows of dW (`3U × In`) and dR (`3U × H`), bias gradients
/// (`3U` each), its partial dX (`[T, B, In]`) and its units of dh0 (`[B, U]`).
struct WorkerGrads<T> {
    dw: Vec<T>,
    dr: Vec<T>,
    db_in: Vec<T>,
    db_rec: Vec<T>,
    dx: Vec<T>,
    dh0: Vec<T>,
}

struct BackJob<T> {
    packs: Arc<[UnitPack<T>]>,
    traces: Vec<WorkerTrace<T>>,
    x: Vec<T>,
    dy: Vec<T>,
    dh_t: Vec<T>,
    shape: OwnedShape<T>,
    barrier: SpinBarrier,
    /// Two sets (alternate steps) of every worker's partial, `n · [B, H]` each.
    slots: [Vec<AtomicU64>; 2],
}

impl<T: Real> BackJob<T> {
    fn worker(&self, k: usize) -> WorkerGrads<T> {
        let s = self.shape.view();
        let (steps, batch, hid) = (s.steps, s.batch(), self.shape.hid);
        let n_workers = self.packs.len();
        let pack = &self.packs[k];
        let Some((r_rows, w_rows)) = pack.back.as_ref() else { unreachable!("training packs hold backward's rows") };
        let units = pack.units.clone();
        let (u, u3) = (units.len(), 3 * units.len());
        let tr = &self.traces[k];
        let h_prev = &self.traces[0].h_prev;
        let rows = steps * batch;
        let inp = self.x.len() / rows.max(1);
        let act = s.act;

        let mut dgx = vec![T::zero(); rows * u3];
        let mut dghn = vec![T::zero(); rows * u];
        let mut dh: Vec<T> =
            (0..batch).flat_map(|b| self.dh_t[b * hid + units.start..b * hid + units.end].iter().copied()).collect();
        let mut direct = vec![T::zero(); batch * u];
        let mut dgh_t = vec![T::zero(); batch * u3];
        let mut partial = vec![T::zero(); batch * hid];
        for (step, t) in s.order().rev().enumerate() {
            for b in 0..batch {
                let dst = &mut dgh_t[b * u3..(b + 1) * u3];
                if !s.active(t, b) {
                    direct[b * u..(b + 1) * u].copy_from_slice(&dh[b * u..(b + 1) * u]);
                    dst.fill(T::zero());
                    continue;
                }
                let row = t * batch + b;
                let gr = &tr.gates[row * u3..][..u3];
                let pr = if tr.pre.is_empty() { gr } else { &tr.pre[row * u3..][..u3] };
                row_grads(
                    act,
                    gr,
                    pr,
                    &h_prev[row * hid + units.start..][..u],
                    &dh[b * u..(b + 1) * u],
                    &self.dy[row * hid + units.start..][..u],
                    &mut dgx[row * u3..][..u3],
                    &mut direct[b * u..(b + 1) * u],
                    Some((&tr.operand[row * u..][..u], &mut dghn[row * u..][..u])),
                );
                dst[..2 * u].copy_from_slice(&dgx[row * u3..][..2 * u]);
                dst[2 * u..].copy_from_slice(&dghn[row * u..][..u]);
            }
            // This worker's share of dh_{t-1}: dGH_k · R_k, all H columns.
            r_rows.product(MatMut::new(&mut partial, batch, hid), false, MatRef::new(&dgh_t, batch, u3));
            let slots = &self.slots[step % 2];
            for (d, &v) in slots[k * batch * hid..(k + 1) * batch * hid].iter().zip(&partial) {
                d.store(v.widen().to_bits(), Ordering::Relaxed);
            }
            self.barrier.wait();
            for b in 0..batch {
                for j in 0..u {
                    let col = b * hid + units.start + j;
                    let sum = (0..n_workers)
                        .map(|w| T::lit(f64::from_bits(slots[w * batch * hid + col].load(Ordering::Relaxed))))
                        .fold(T::zero(), |a, v| a + v);
                    dh[b * u + j] = direct[b * u + j] + sum;
                }
            }
        }

        // This worker's rows of the parameter gradients and its partial dX.
        let mut dw = vec![T::zero(); u3 * inp];
        matmul_tn(
            MatMut::new(&mut dw, u3, inp),
            false,
            MatRef::new(&dgx, rows, u3),
            MatRef::new(&self.x, rows, inp),
            1,
        );
        let mut dr = vec![T::zero(); u3 * hid];
        let (dr_rz, dr_n) = dr.split_at_mut(2 * u * hid);
        let hp = MatRef::new(h_prev, rows, hid);
        matmul_tn(MatMut::new(dr_rz, 2 * u, hid), false, MatRef::strided(&dgx, rows, 2 * u, u3), hp, 1);
        matmul_tn(MatMut::new(dr_n, u, hid), false, MatRef::new(&dghn, rows, u), hp, 1);
        let mut db_in = vec![T::zero(); u3];
        for row in dgx.chunks_exact(u3) {
            for (o, &v) in db_in.iter_mut().zip(row) {
                *o += v;
            }
        }
        let mut db_rec = db_in.clone();
        db_rec[2 * u..].fill(T::zero());
        for row in dghn.chunks_exact(u) {
            for (o, &v) in db_rec[2 * u..].iter_mut().zip(row) {
                *o += v;
            }
        }
        let mut dx = vec![T::zero(); rows * inp];
        w_rows.product(MatMut::new(&mut dx, rows, inp), false, MatRef::new(&dgx, rows, u3));
        WorkerGrads { dw, dr, db_in, db_rec, dx, dh0: dh }
    }
}

/// Backward of [`super::units::forward_train`]: `traces` from it, `x` the block input
/// `[T, B, In]`, `dy` `[T, B, H]`, `dh_t` `[B, H]`. Accumulates `dx += dL/dx`, writes the
/// block's parameter gradients into `grads` and returns dL/dh0 `[B, H]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    s: &BlockShape<'_, T>,
    split: &UnitSplit<T>,
    traces: Vec<WorkerTrace<T>>,
    x: &[T],
    dy: &[T],
    dh_t: &[T],
    dx: &mut [T],
    grads: &mut BlockParams<T>,
    workers: &WorkerPool,
) -> Vec<T> {
    let batch = s.lengths.len();
    let hid = grads.hidden_size();
    let inp = grads.input_size();
    let packs = split.packs();
    let n = packs.len();
    let job = Arc::new(BackJob {
        packs: packs.clone(),
        traces,
        x: x.to_vec(),
        dy: dy.to_vec(),
        dh_t: dh_t.to_vec(),
        shape: OwnedShape::of(s, hid),
        barrier: SpinBarrier::new(n),
        slots: std::array::from_fn(|_| (0..n * batch * hid).map(|_| AtomicU64::new(0)).collect()),
    });
    let results = helpers::run_workers(workers, &job, n, BackJob::worker);
    let mut dh0 = vec![T::zero(); batch * hid];
    let has_rec = grads.has_recurrent_bias();
    for (pack, g) in packs.iter().zip(results) {
        let units = pack.units.clone();
        let u = units.len();
        for (gi, gate) in Gate::ALL.into_iter().enumerate() {
            for (c, unit) in units.clone().enumerate() {
                let row = gi * u + c;
                grads.w_gate_mut(gate)[unit * inp..(unit + 1) * inp].copy_from_slice(&g.dw[row * inp..(row + 1) * inp]);
                grads.r_gate_mut(gate)[unit * hid..(unit + 1) * hid].copy_from_slice(&g.dr[row * hid..(row + 1) * hid]);
                grads.input_bias_mut(gate)[unit] = g.db_in[row];
                if has_rec {
                    if let Some(rb) = grads.recurrent_bias_mut(gate) {
                        rb[unit] = g.db_rec[row];
                    }
                }
            }
        }
        for (o, &v) in dx.iter_mut().zip(&g.dx) {
            *o += v;
        }
        for b in 0..batch {
            dh0[b * hid + units.start..b * hid + units.end].copy_from_slice(&g.dh0[b * u..(b + 1) * u]);
        }
    }
    dh0
}
