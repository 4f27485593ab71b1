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
//! After the sweep the calling thread computes, worker by worker on all the threads, the
//! rows of the weight gradients of its units straight into the block's gradients
//! (`dW_k = dGX_kᵀ X`, `dR_k = [dGX_k(r, z) | dGH_k(n)]ᵀ H_prev`, the biases:
//! `cell::unit_weight_grads`) and `dX += dGX_k W_k`, so that no worker holds a gradient or
//! dX buffer of its own. A worker writes dGX_k and dGH_k(n) over its trace's gate values
//! and operand, row by row (each row is read only by its own gradients). Each worker
//! streams only its third of R per step, as in inference.
//! Zoneout sends `k ⊙ (dh + dy)` straight to dh_{t-1} and `(1 − k) ⊙ (dh + dy)` through the
//! cell; recurrent dropout scales the summed partials, `dh_{t-1} += m_h ⊙ Σ_j dGH_j · R_j`, and
//! dR reads `H̃_prev = m_h ⊙ H_prev`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::block::BlockShape;
use super::helpers::{self, WorkerPool};
use super::pool::Pool;
use super::units::{OwnedShape, SpinBarrier, UnitPack, UnitReg, UnitSplit, WorkerTrace};
use crate::cell::{self, bias, row_width, GateRow, GateRowMut};
use crate::kernels::{MatMut, MatRef, PackedRhs, TnRhs};
use crate::params::BlockParams;
use crate::real::Real;
use crate::regularize::masks::Zoneout;

/// One worker's results: dGX_k (`[T·B, 3U]`) and dGH_k(n) (`[T·B, U]`), written over its
/// trace, and its units of dh0 (`[B, U]`).
struct WorkerGrads<T> {
    dgx: Vec<T>,
    dghn: Vec<T>,
    dh0: Vec<T>,
}

struct BackJob<T> {
    packs: Arc<[UnitPack<T>]>,
    /// Worker k's trace, taken by worker k alone.
    traces: Vec<Mutex<WorkerTrace<T>>>,
    /// The full state each step started from, `[T·B, H]` (worker 0's trace had it).
    h_prev: Vec<T>,
    dy: Vec<T>,
    dh_t: Vec<T>,
    shape: OwnedShape<T>,
    reg: UnitReg,
    /// m_h, the recurrent dropout mask `[B, H]`, when there is one.
    h_mask: Option<Vec<T>>,
    barrier: SpinBarrier,
    /// Two sets (alternate steps) of every worker's partial, `n · [B, H]` each.
    slots: [Vec<AtomicU64>; 2],
}

impl<T: Real> BackJob<T> {
    fn worker(&self, k: usize) -> WorkerGrads<T> {
        let s = self.shape.view();
        let (batch, hid) = (s.batch(), self.shape.hid);
        let n_workers = self.packs.len();
        let pack = &self.packs[k];
        let weights = pack.weights.read().unwrap_or_else(|p| p.into_inner());
        let Some((r_rows, _)) = weights.back.as_ref() else { unreachable!("training packs hold backward's rows") };
        let units = pack.units.clone();
        let (u, u3) = (units.len(), row_width(units.len()));
        let WorkerTrace { gates, pre, operand, .. } =
            std::mem::take(&mut *self.traces[k].lock().unwrap_or_else(|p| p.into_inner()));
        let h_prev = &self.h_prev;
        let act = s.act;

        // dGX over the gate values, dGH_n over the operand, a row at a time through `row_copy`.
        let (mut dgx, mut dghn) = (gates, operand);
        let mut row_copy = vec![T::zero(); u3 + u];
        let mut dh: Vec<T> =
            (0..batch).flat_map(|b| self.dh_t[b * hid + units.start..b * hid + units.end].iter().copied()).collect();
        let mut direct = vec![T::zero(); batch * u];
        let mut dgh_t = vec![T::zero(); batch * u3];
        let mut partial = vec![T::zero(); batch * hid];
        let zoneout = self.reg.masks.zoneout() != Zoneout::Off;
        let (mut keep, mut d_top, zero_row) = (vec![T::zero(); u], vec![T::zero(); u], vec![T::zero(); u]);
        for (step, t) in s.order().rev().enumerate() {
            for b in 0..batch {
                let mut dst = GateRowMut::at(&mut dgh_t, b, u);
                let row = t * batch + b;
                if !s.active(t, b) {
                    direct[b * u..(b + 1) * u].copy_from_slice(&dh[b * u..(b + 1) * u]);
                    dst.all().fill(T::zero());
                    // The weight products read every row: an inactive one contributes zero.
                    dgx[row * u3..(row + 1) * u3].fill(T::zero());
                    dghn[row * u..(row + 1) * u].fill(T::zero());
                    continue;
                }
                row_copy[..u3].copy_from_slice(&dgx[row * u3..(row + 1) * u3]);
                row_copy[u3..].copy_from_slice(&dghn[row * u..(row + 1) * u]);
                let (g, op) = row_copy.split_at(u3);
                let gr = GateRow::new(g, u);
                let pr = if pre.is_empty() { gr } else { GateRow::at(&pre, row, u) };
                let dy_row = &self.dy[row * hid + units.start..][..u];
                // Zoneout: (1 − k) ⊙ (dh + dy) through the cell, k ⊙ (dh + dy) added below.
                let (dh_in, dy_in) = if zoneout {
                    self.reg.masks.zoneout_keep(self.reg.block, b, t, units.clone(), &mut keep);
                    for j in 0..u {
                        d_top[j] = (T::one() - keep[j]) * (dh[b * u + j] + dy_row[j]);
                    }
                    (&d_top[..], &zero_row[..])
                } else {
                    (&dh[b * u..(b + 1) * u], dy_row)
                };
                cell::row_grads(
                    act,
                    gr,
                    pr,
                    &h_prev[row * hid + units.start..][..u],
                    dh_in,
                    dy_in,
                    GateRowMut::at(&mut dgx, row, u),
                    &mut direct[b * u..(b + 1) * u],
                    Some((op, &mut dghn[row * u..][..u])),
                );
                if zoneout {
                    for j in 0..u {
                        direct[b * u + j] += keep[j] * (dh[b * u + j] + dy_row[j]);
                    }
                }
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
                    dh[b * u + j] = match &self.h_mask {
                        Some(m) => direct[b * u + j] + m[col] * sum,
                        None => direct[b * u + j] + sum,
                    };
                }
            }
        }

        WorkerGrads { dgx, dghn, dh0: dh }
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
    reg: UnitReg,
    pool: &mut Pool<T>,
) -> Vec<T> {
    let batch = s.lengths.len();
    let (hid, inp) = (grads.hidden_size(), grads.input_size());
    let rows = s.steps * batch;
    let packs = split.packs();
    let n = packs.len();
    let mut traces = traces;
    let h_prev = traces.first_mut().map(|t| std::mem::take(&mut t.h_prev)).unwrap_or_default();
    let job = Arc::new(BackJob {
        packs: packs.clone(),
        traces: traces.into_iter().map(Mutex::new).collect(),
        h_prev,
        dy: dy.to_vec(),
        dh_t: dh_t.to_vec(),
        shape: OwnedShape::of(s, hid),
        reg,
        h_mask: reg.masks.recurrent_mask(reg.block, batch, hid),
        barrier: SpinBarrier::new(n),
        slots: std::array::from_fn(|_| (0..n * batch * hid).map(|_| AtomicU64::new(0)).collect()),
    });
    let results = helpers::run_workers(workers, &job, n, BackJob::worker);
    // H̃_prev = m_h ⊙ H_prev for dR (the cell read the unmasked state).
    let h_prev_masked: Option<Vec<T>> = job.h_mask.as_ref().map(|m| {
        job.h_prev
            .chunks_exact(hid)
            .enumerate()
            .flat_map(|(row, hp)| {
                let b = row % batch;
                hp.iter().zip(&m[b * hid..(b + 1) * hid]).map(|(&v, &m)| v * m)
            })
            .collect()
    });
    let h_prev = h_prev_masked.as_deref().unwrap_or(&job.h_prev);
    // X and H̃_prev packed once for every worker's gate products, in storage of the pool.
    let x_rhs = TnRhs::new_in(MatRef::new(x, rows, inp), pool.empty(PackedRhs::<T>::storage_len(rows, inp)));
    let h_rhs = TnRhs::new_in(MatRef::new(h_prev, rows, hid), pool.empty(PackedRhs::<T>::storage_len(rows, hid)));
    let mut dh0 = vec![T::zero(); batch * hid];
    for (pack, g) in packs.iter().zip(results) {
        let units = pack.units.clone();
        let u = units.len();
        let weights = pack.weights.read().unwrap_or_else(|p| p.into_inner());
        let Some((_, w_rows)) = weights.back.as_ref() else { unreachable!("training packs hold backward's rows") };
        // dX += dGX_k · W_k
        w_rows.product_par(MatMut::new(dx, rows, inp), true, MatRef::new(&g.dgx, rows, row_width(u)), n);
        let candidate = cell::CandidateSource::After { dgh_n: &g.dghn };
        let src = cell::GradSources { rows, u, inp, hid, dgx: &g.dgx, x, h_prev, candidate };
        let (dw, dr, b) = grads.parts_mut();
        let (db_in, db_rec) = bias::split_mut(b, hid);
        let out = cell::GradTargets { dw, dr, db_in, db_rec };
        cell::unit_weight_grads(&src, &g.dghn, out, units.clone(), (&x_rhs, &h_rhs), n);
        for b in 0..batch {
            dh0[b * hid + units.start..b * hid + units.end].copy_from_slice(&g.dh0[b * u..(b + 1) * u]);
        }
    }
    pool.give(x_rhs.into_storage());
    pool.give(h_rhs.into_storage());
    dh0
}
