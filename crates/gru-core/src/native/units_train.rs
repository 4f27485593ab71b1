//! Backward of a block whose training forward split the hidden units between workers
//! (`units.rs`): each worker keeps its units through the backward sweep as well.
//!
//! Per step (in reverse), worker k computes the gate gradients of its units
//! (`cell::row_grads`, as the dense sweep), then its
//! share of the recurrent term as a full `[B, H]` partial, `dGH_k · R_k` (its `3U` rows of
//! R); the workers publish their partials, meet at the barrier, and each sums the columns
//! of its own units:
//! ```text
//! dh_{t-1}[:, units_k] = dh·z [:, units_k] + Σ_j (dGH_j · R_j)[:, units_k]
//! ```
//! After the sweep each worker computes its rows of the weight gradients (`dW_k = dGX_kᵀ X`,
//! `dR_k = [dGX_k(r, z) | dGH_k(n)]ᵀ H_prev`, the biases: `cell::weight_grads`, as the dense
//! backward) and its partial `dX_k = dGX_k W_k`;
//! the caller scatters the rows and sums the partials. Each worker streams only its third of
//! R per step, as in inference.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::block::BlockShape;
use super::helpers::{self, WorkerPool};
use super::units::{OwnedShape, SpinBarrier, UnitPack, UnitSplit, WorkerTrace};
use crate::cell::{self, bias, row_width, GateRow, GateRowMut};
use crate::kernels::{MatMut, MatRef};
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
        let weights = pack.weights.read().unwrap_or_else(|p| p.into_inner());
        let Some((r_rows, w_rows)) = weights.back.as_ref() else { unreachable!("training packs hold backward's rows") };
        let units = pack.units.clone();
        let (u, u3) = (units.len(), row_width(units.len()));
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
                let mut dst = GateRowMut::at(&mut dgh_t, b, u);
                if !s.active(t, b) {
                    direct[b * u..(b + 1) * u].copy_from_slice(&dh[b * u..(b + 1) * u]);
                    dst.all().fill(T::zero());
                    continue;
                }
                let row = t * batch + b;
                let gr = GateRow::at(&tr.gates, row, u);
                let pr = if tr.pre.is_empty() { gr } else { GateRow::at(&tr.pre, row, u) };
                cell::row_grads(
                    act,
                    gr,
                    pr,
                    &h_prev[row * hid + units.start..][..u],
                    &dh[b * u..(b + 1) * u],
                    &self.dy[row * hid + units.start..][..u],
                    GateRowMut::at(&mut dgx, row, u),
                    &mut direct[b * u..(b + 1) * u],
                    Some((&tr.operand[row * u..][..u], &mut dghn[row * u..][..u])),
                );
                // dGH_k = [da_r | da_z | dGH_n] of this row.
                dst.reset_update().copy_from_slice(GateRow::at(&dgx, row, u).reset_update());
                dst.candidate().copy_from_slice(&dghn[row * u..][..u]);
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
        let (mut dw, mut dr) = (vec![T::zero(); u3 * inp], vec![T::zero(); u3 * hid]);
        let (mut db_in, mut db_rec) = (vec![T::zero(); u3], vec![T::zero(); u3]);
        let candidate = cell::CandidateSource::After { dgh_n: &dghn };
        let src = cell::GradSources { rows, u, inp, hid, dgx: &dgx, x: &self.x, h_prev, candidate };
        let out = cell::GradTargets {
            dw: &mut dw,
            dr: &mut dr,
            db_in: GateRowMut::new(&mut db_in, u),
            db_rec: Some(GateRowMut::new(&mut db_rec, u)),
        };
        cell::weight_grads(&src, out, cell::GradPar { threads: 1, pack_h_prev: false });
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
    for (pack, g) in packs.iter().zip(results) {
        let units = pack.units.clone();
        let u = units.len();
        let (dw, dr) = (GateRow::of_rows(&g.dw, u, inp), GateRow::of_rows(&g.dr, u, hid));
        let (db_in, db_rec) = (GateRow::new(&g.db_in, u), GateRow::new(&g.db_rec, u));
        let (w, r, b) = grads.parts_mut();
        let (mut w, mut r) = (GateRowMut::of_rows(w, hid, inp), GateRowMut::of_rows(r, hid, hid));
        let (mut b_in, mut b_rec) = bias::split_mut(b, hid);
        for gate in Gate::ALL {
            w.gate(gate)[units.start * inp..units.end * inp].copy_from_slice(dw.gate(gate));
            r.gate(gate)[units.start * hid..units.end * hid].copy_from_slice(dr.gate(gate));
            b_in.gate(gate)[units.clone()].copy_from_slice(db_in.gate(gate));
            if let Some(b_rec) = &mut b_rec {
                b_rec.gate(gate)[units.clone()].copy_from_slice(db_rec.gate(gate));
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
