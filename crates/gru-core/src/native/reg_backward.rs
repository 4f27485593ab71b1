//! Backward of the regularized sweep (`reg_block.rs`) of one block, and its weight gradients.
//!
//! ```text
//! zoneout:   d = dh + dy;   dh_prev = k ⊙ d + (the cell's);   the cell sees (1 − k) ⊙ d
//! cell:      dGX = [da_r | da_z | da_n] and the direct dh_prev = d ⊙ z (`cell::row_grads`)
//! recurrent: dGH = [da_r | da_z | da_n ⊙ r] (after modes; before-multiplication: da_n for n)
//!            layer norm: dγ_h += dGH ⊙ v̂_h,  dGH_raw = LN_h'(dGH)   (else dGH_raw = dGH)
//!            dh̃ = dGH_raw · R   (before: q = dGH_raw,n · R_n, da_r = q ⊙ h̃ ⊙ σ_g', dh̃ += q ⊙ r)
//!            dh_prev += m_h ⊙ dh̃
//! input:     db += dGX,  layer norm: dγ_x += dGX ⊙ v̂_x,  dGX_raw = LN_x'(dGX)
//! after the sweep:  dX += dGX_raw · W,  dW = dGX_rawᵀ · X,
//!   dR[r z] = dGH_raw[r z]ᵀ · H̃_prev,  dR_n = dGH_raw,nᵀ · (H̃_prev, or r ⊙ h̃ before),
//!   β_x: db,  β_h: [db_r | db_z | Σ dGH_n],  6H layout: b' = [db_r | db_z | Σ dGH_n]
//! ```
//! with `H̃_prev = m_h ⊙ H_prev` (the trace keeps the unmasked state for the cell).

use super::block::{BlockShape, BlockTrace};
use super::packed::{product_or, PackedBlock};
use super::pool::Pool;
use super::reg_block::{BlockReg, RegTrace};
use crate::cell::{self, bias, reset_update_width, row_width, GateCols, GateRow, GateRowMut};
use crate::kernels::{matmul_tn, MatMut, MatRef, PackedRhs};
use crate::params::BlockParams;
use crate::real::Real;
use crate::regularize::layer_norm::normalize_gates_grad;
use crate::regularize::masks::Zoneout;
use crate::spec::ResetGateMode;

/// The sums over a block's rows that need no product: `db` (`3H`, the gradient of the bias
/// that adds to GX), `Σ dGH_n` (`H`, after modes), and with layer norm `dγ_x`, `dγ_h` (`3H`).
struct Sums<T> {
    db: Vec<T>,
    dgh_n: Vec<T>,
    dgain_x: Vec<T>,
    dgain_h: Vec<T>,
}

/// What a regularized block's parameter gradients are computed from once its sweep backward
/// is done (as `block::PendingGrads`; the batch split sums its parts').
pub(crate) struct RegPending<T> {
    rows: usize,
    before: bool,
    /// dGX_raw, dGH_raw, `[rows, 3H]`.
    dgx: Vec<T>,
    dgh: Vec<T>,
    /// r ⊙ h̃ (before-multiplication), `[rows, H]`.
    operand: Vec<T>,
    /// H̃_prev, `[rows, H]`.
    h_prev: Vec<T>,
    sums: Sums<T>,
}

impl<T: Real> RegPending<T> {
    /// dW, dR, the biases and the layer norm's parameters (see the module) from these rows,
    /// whose layer input is `x`: written into `grads`, or added (`accumulate`).
    pub(crate) fn weight_grads(
        self,
        x: &[T],
        grads: &mut BlockParams<T>,
        accumulate: bool,
        threads: usize,
        pool: &mut Pool<T>,
    ) {
        let (hid, inp, rows, acc) = (grads.hidden_size(), grads.input_size(), self.rows, accumulate);
        let (g3, h_prev) = (row_width(hid), MatRef::new(&self.h_prev, rows, hid));
        let (dw, dr, b) = grads.parts_mut();
        let mut st = pool.empty(PackedRhs::<T>::storage_len(rows, inp.max(hid)));
        let (dgx, x) = (MatRef::new(&self.dgx, rows, g3), MatRef::new(x, rows, inp));
        matmul_tn(MatMut::new(dw, g3, inp), acc, dgx, x, threads, &mut st);
        if self.before {
            let dgh = GateCols::new(&self.dgh, rows, hid);
            let (dr_rz, dr_n) = dr.split_at_mut(reset_update_width(hid) * hid);
            let rz = reset_update_width(hid);
            matmul_tn(MatMut::new(dr_rz, rz, hid), acc, dgh.reset_update(), h_prev, threads, &mut st);
            let operand = MatRef::new(&self.operand, rows, hid);
            matmul_tn(MatMut::new(dr_n, hid, hid), acc, dgh.candidate(), operand, threads, &mut st);
        } else {
            matmul_tn(MatMut::new(dr, g3, hid), acc, MatRef::new(&self.dgh, rows, g3), h_prev, threads, &mut st);
        }
        pool.give(st);
        let s = &self.sums;
        let put = |dst: &mut [T], src: &[T]| {
            dst.iter_mut().zip(src).for_each(|(d, &v)| *d = if acc { *d + v } else { v });
        };
        // β_h's and b''s gradient: [db_r | db_z | Σ dGH_n] (before-multiplication: db_n).
        let rec = |out: &mut GateRowMut<'_, T>| {
            put(out.reset_update(), &s.db[..reset_update_width(hid)]);
            put(out.candidate(), if self.before { &s.db[reset_update_width(hid)..] } else { &s.dgh_n });
        };
        let (mut db_in, db_rec) = bias::split_mut(b, hid);
        put(db_in.all(), &s.db);
        if let Some(mut db_rec) = db_rec {
            rec(&mut db_rec);
        }
        let (gain_x, bias_x, gain_h, bias_h) = grads.norm_parts_mut();
        if !gain_x.is_empty() {
            put(gain_x, &s.dgain_x);
            put(bias_x, &s.db);
            put(gain_h, &s.dgain_h);
            rec(&mut GateRowMut::new(bias_h, hid));
        }
        for v in [self.dgx, self.dgh, self.operand, self.h_prev] {
            pool.give(v);
        }
    }
}

/// Runs one regularized block backward through time (`block::backward`'s contract): `dy`
/// `[T, B, H]`, `dh_t` `[B, H]`; accumulates `dx += dGX_raw · W` (`[T, B, In]`) and returns
/// dL/dh0 `[B, H]` and what the parameter gradients need.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    s: &BlockShape<'_, T>,
    p: &BlockParams<T>,
    packed: &PackedBlock<T>,
    trace: RegTrace<T>,
    dy: &[T],
    dh_t: &[T],
    dx: &mut [T],
    gemm_threads: usize,
    pool: &mut Pool<T>,
    reg: &BlockReg<'_, T>,
) -> (Vec<T>, RegPending<T>) {
    let (steps, batch, hid, inp) = (s.steps, s.batch(), p.hidden_size(), p.input_size());
    let (g3, rz, rows) = (row_width(hid), reset_update_width(hid), steps * batch);
    let before = s.mode == ResetGateMode::BeforeMultiplication;
    let act = s.act;
    let RegTrace { base: BlockTrace { pre, gates, operand, mut h_prev }, x_hat, x_rho, h_hat, h_rho } = trace;
    let norm = packed.norm.as_ref();
    let zoneout = reg.masks.zoneout() != Zoneout::Off;
    let h_mask = reg.h_mask.as_deref();
    let zeros3 = |n: usize| vec![T::zero(); n];
    let mut sums = Sums {
        db: zeros3(g3),
        dgh_n: zeros3(hid),
        dgain_x: zeros3(if norm.is_some() { g3 } else { 0 }),
        dgain_h: zeros3(if norm.is_some() { g3 } else { 0 }),
    };
    // Rows of inactive steps stay zero: the weight products read every row.
    let (mut dgx, mut dgh) = (pool.zeros(rows * g3), pool.zeros(rows * g3));
    let (mut dh, mut dh_prev) = (dh_t.to_vec(), zeros3(batch * hid));
    let (mut d_top, zero_row, mut carry, mut keep) = (zeros3(hid), zeros3(hid), zeros3(hid), zeros3(hid));
    let (mut post, mut tmp) = (zeros3(g3), zeros3(g3));
    let (mut dhm, mut q, mut hm_row) = (zeros3(batch * hid), zeros3(batch * hid), zeros3(hid));
    let r_rows = GateRow::of_rows(p.r(), hid, hid);

    // The recurrent part of a row: dGH (post-norm, `d`, the gates of `gates` from `first`)
    // to dGH_raw in `dgh`'s row, dγ_h accumulated.
    let to_raw_h = |d: &[T], row: usize, first: usize, dgh: &mut [T], dgain: &mut [T]| {
        let out = &mut dgh[row * g3 + first * hid..][..d.len()];
        match norm {
            Some(n) => {
                let k = d.len() / hid;
                let (gain, vhat) =
                    (&n.recurrent[first * hid..][..d.len()], &h_hat[row * g3 + first * hid..][..d.len()]);
                let rho = &h_rho[row * 3 + first..][..k];
                normalize_gates_grad(d, hid, gain, vhat, rho, &mut dgain[first * hid..][..d.len()], out);
            }
            None => out.copy_from_slice(d),
        }
    };
    // The input part of a row, once all of its dGX is known: db, dγ_x, dGX_raw in place.
    let to_raw_x = |row: usize, dgx: &mut [T], sums: &mut Sums<T>, tmp: &mut [T]| {
        let d = &mut dgx[row * g3..][..g3];
        sums.db.iter_mut().zip(d.iter()).for_each(|(s, &v)| *s += v);
        if let Some(n) = norm {
            normalize_gates_grad(
                d,
                hid,
                &n.input,
                &x_hat[row * g3..][..g3],
                &x_rho[row * 3..][..3],
                &mut sums.dgain_x,
                tmp,
            );
            d.copy_from_slice(tmp);
        }
    };

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
            let gr = GateRow::at(&gates, row, hid);
            let pr = if pre.is_empty() { gr } else { GateRow::at(&pre, row, hid) };
            // Zoneout: k ⊙ d goes straight to dh_prev, (1 − k) ⊙ d through the cell.
            let (dh_in, dy_in) = if zoneout {
                reg.masks.zoneout_keep(reg.block, b, t, 0..hid, &mut keep);
                for j in 0..hid {
                    let d = dh[b * hid + j] + dy[row * hid + j];
                    d_top[j] = (T::one() - keep[j]) * d;
                    carry[j] = keep[j] * d;
                }
                (&d_top[..], &zero_row[..])
            } else {
                (&dh[b * hid..][..hid], &dy[row * hid..][..hid])
            };
            let (dgh_n_post, rest) = post.split_at_mut(hid);
            let after = (!before).then(|| (&operand[row * hid..][..hid], &mut dgh_n_post[..]));
            let dhp = &mut dh_prev[b * hid..][..hid];
            cell::row_grads(
                act,
                gr,
                pr,
                &h_prev[row * hid..][..hid],
                dh_in,
                dy_in,
                GateRowMut::at(&mut dgx, row, hid),
                dhp,
                after,
            );
            if zoneout {
                dhp.iter_mut().zip(&carry).for_each(|(o, &c)| *o += c);
            }
            let dgx_row = GateRow::at(&dgx, row, hid);
            if before {
                // n's recurrent part: dGH_n = da_n.
                rest[..hid].copy_from_slice(dgx_row.candidate());
                to_raw_h(&rest[..hid], row, 2, &mut dgh, &mut sums.dgain_h);
            } else {
                // dGH = [da_r | da_z | da_n ⊙ r]
                sums.dgh_n.iter_mut().zip(dgh_n_post.iter()).for_each(|(s, &v)| *s += v);
                let mut full = GateRowMut::new(&mut tmp, hid);
                full.reset_update().copy_from_slice(dgx_row.reset_update());
                full.candidate().copy_from_slice(dgh_n_post);
                to_raw_h(&tmp, row, 0, &mut dgh, &mut sums.dgain_h);
                to_raw_x(row, &mut dgx, &mut sums, &mut post);
            }
        }
        let dgh_t = &dgh[t * batch * g3..(t + 1) * batch * g3];
        // dh̃ = dGH_raw · R (before-multiplication in two parts), then dh_prev += m_h ⊙ dh̃.
        if before {
            // q = dGH_raw,n · R_n, the gradient of r ⊙ h̃.
            product_or(
                packed.r_back_n.as_ref(),
                MatMut::new(&mut q, batch, hid),
                false,
                GateCols::new(dgh_t, batch, hid).candidate(),
                MatRef::new(r_rows.candidate(), hid, hid),
                1,
            );
            dhm.fill(T::zero());
            for b in (0..batch).filter(|&b| s.active(t, b)) {
                let row = t * batch + b;
                let hp = &h_prev[row * hid..][..hid];
                match h_mask {
                    Some(m) => hm_row.iter_mut().zip(hp.iter().zip(&m[b * hid..])).for_each(|(o, (&h, &m))| *o = h * m),
                    None => hm_row.copy_from_slice(hp),
                }
                let gr = GateRow::at(&gates, row, hid);
                let pr = if pre.is_empty() { gr } else { GateRow::at(&pre, row, hid) };
                let dgx_row = GateRowMut::at(&mut dgx, row, hid);
                cell::reset_grads_before(
                    act,
                    gr,
                    pr,
                    &hm_row,
                    &q[b * hid..][..hid],
                    dgx_row,
                    &mut dhm[b * hid..][..hid],
                );
                post[..rz].copy_from_slice(GateRow::at(&dgx, row, hid).reset_update());
                to_raw_h(&post[..rz], row, 0, &mut dgh, &mut sums.dgain_h);
                to_raw_x(row, &mut dgx, &mut sums, &mut tmp);
            }
            let dgh_t = &dgh[t * batch * g3..(t + 1) * batch * g3];
            product_or(
                packed.r_back.as_ref(),
                MatMut::new(&mut dhm, batch, hid),
                true,
                GateCols::new(dgh_t, batch, hid).reset_update(),
                MatRef::new(r_rows.reset_update(), rz, hid),
                1,
            );
        } else {
            let dst = if h_mask.is_some() { &mut dhm } else { &mut dh_prev };
            let acc = h_mask.is_none();
            product_or(
                packed.r_back.as_ref(),
                MatMut::new(dst, batch, hid),
                acc,
                MatRef::new(dgh_t, batch, g3),
                MatRef::new(p.r(), g3, hid),
                1,
            );
        }
        match h_mask {
            Some(m) => dh_prev.iter_mut().zip(dhm.iter().zip(m)).for_each(|(o, (&d, &m))| *o += d * m),
            None if before => dh_prev.iter_mut().zip(&dhm).for_each(|(o, &d)| *o += d),
            None => {}
        }
        std::mem::swap(&mut dh, &mut dh_prev);
    }
    // dX: one GEMM over all steps.
    product_or(
        packed.w_back.as_ref(),
        MatMut::new(dx, rows, inp),
        true,
        MatRef::new(&dgx, rows, g3),
        MatRef::new(p.w(), g3, inp),
        gemm_threads,
    );
    // H̃_prev = m_h ⊙ H_prev for dR (the cell has read the unmasked state).
    if let Some(m) = h_mask {
        for (row, hp) in h_prev.chunks_exact_mut(hid).enumerate() {
            let b = row % batch;
            hp.iter_mut().zip(&m[b * hid..(b + 1) * hid]).for_each(|(v, &m)| *v *= m);
        }
    }
    for v in [pre, gates, x_hat, x_rho, h_hat, h_rho] {
        pool.give(v);
    }
    (dh, RegPending { rows, before, dgx, dgh, operand, h_prev, sums })
}
