//! A block's weights packed once for the fast path's products (`PackedBlock`), refreshed
//! in place by `set_params`, and the layer norm's gains (`NormGains`).

use crate::cell::{bias, reset_update_width, row_width, GateRow};
use crate::kernels::{matmul, MatMut, MatRef, PackedRhs};
use crate::params::{BlockParams, Gate, NormPart};
use crate::real::Real;
use crate::spec::ResetGateMode;

/// A block's weights arranged once (at `prepare`, refreshed in place by `set_params`) for
/// the products: `wt` = Wᵀ (`In × 3H`) for the input GEMM; the per-step recurrent
/// products' right-hand matrices as [`PackedRhs`] (kept in the kernel's panel layout
/// across steps): forward `GH = h · Rᵀ` (`H × 3H`; before-multiplication: `R[r z]ᵀ` and
/// `R_nᵀ`), and for training backward `dh += dGH · R` (`3H × H`; before-multiplication:
/// `R[r z]` and `R_n`); the biases folded as the forward step uses them.
pub(crate) struct PackedBlock<T> {
    pub(crate) wt: PackedRhs<T>,
    /// `Rᵀ` (after modes) or `R[r z]ᵀ` (before-multiplication).
    pub(crate) rt_step: PackedRhs<T>,
    /// `R_nᵀ` (before-multiplication only).
    pub(crate) rt_n: Option<PackedRhs<T>>,
    /// `R` (after modes) or `R[r z]` (before-multiplication); training only.
    pub(crate) r_back: Option<PackedRhs<T>>,
    /// `R_n` (before-multiplication, training only).
    pub(crate) r_back_n: Option<PackedRhs<T>>,
    /// `W` (`3H × In`) for backward's `dX = dGX · W`; training only.
    pub(crate) w_back: Option<PackedRhs<T>>,
    /// `[b_r + b'_r | b_z + b'_z | b_n]` (`3H`), added to `X · Wᵀ`; with layer norm also the
    /// layer norms' biases that add there (see [`NormGains`]).
    pub(crate) bias: Vec<T>,
    /// b'_n (`H`; zero in the 3H layout); with layer norm (after modes) plus `β_h,n`.
    pub(crate) rec_bias_n: Vec<T>,
    /// Layer norm's gains, when the block has layer norm.
    pub(crate) norm: Option<NormGains<T>>,
    /// The same weights cut by hidden units for `unit_threads` workers (inference of large
    /// H, see `units.rs`); empty when unused.
    pub(crate) units: super::units::UnitSplit<T>,
}

impl<T: Real> PackedBlock<T> {
    /// Packs `p` for `mode` (`training`: also backward's matrices); with `unit_threads > 1`
    /// also the per-worker unit slices. `scratch` holds the transposes (kept by the caller
    /// for [`PackedBlock::repack`]).
    pub(crate) fn new(
        p: &BlockParams<T>,
        mode: ResetGateMode,
        training: bool,
        unit_threads: usize,
        scratch: &mut Vec<T>,
    ) -> Self {
        let (inp, hid) = (p.input_size(), p.hidden_size());
        let (g3, rz) = (row_width(hid), reset_update_width(hid));
        let before = mode == ResetGateMode::BeforeMultiplication;
        // The shapes here, the values in `repack` (one place fills them).
        let (rt_step, rt_n) = if before {
            (blank(hid, rz, scratch), Some(blank(hid, hid, scratch)))
        } else {
            (blank(hid, g3, scratch), None)
        };
        let (r_back, r_back_n) = match (training, before) {
            (false, _) => (None, None),
            (true, false) => (Some(blank(g3, hid, scratch)), None),
            (true, true) => (Some(blank(rz, hid, scratch)), Some(blank(hid, hid, scratch))),
        };
        let w_back = training.then(|| blank(g3, inp, scratch));
        let mut block = Self {
            wt: blank(inp, g3, scratch),
            rt_step,
            rt_n,
            r_back,
            r_back_n,
            w_back,
            bias: vec![T::zero(); g3],
            rec_bias_n: vec![T::zero(); hid],
            norm: p.has_norm().then(|| NormGains { input: vec![T::zero(); g3], recurrent: vec![T::zero(); g3] }),
            units: super::units::UnitSplit::new(p, unit_threads, training, scratch),
        };
        block.repack(p, scratch);
        block
    }

    /// Refreshes every packed matrix and bias from `p` (the shape it was made for) in the
    /// buffers it has: no allocation once `scratch` has grown to the largest transpose.
    pub(crate) fn repack(&mut self, p: &BlockParams<T>, scratch: &mut Vec<T>) {
        let (inp, hid) = (p.input_size(), p.hidden_size());
        let (g3, rz) = (row_width(hid), reset_update_width(hid));
        let r = GateRow::of_rows(p.r(), hid, hid);
        self.wt.repack(transpose_into(p.w(), g3, inp, scratch));
        match &mut self.rt_n {
            Some(rt_n) => {
                self.rt_step.repack(transpose_into(r.reset_update(), rz, hid, scratch));
                rt_n.repack(transpose_into(r.candidate(), hid, hid, scratch));
            }
            None => self.rt_step.repack(transpose_into(p.r(), g3, hid, scratch)),
        }
        match (&mut self.r_back, &mut self.r_back_n) {
            (Some(r_back), Some(r_back_n)) => {
                r_back.repack(r.reset_update());
                r_back_n.repack(r.candidate());
            }
            (Some(r_back), None) => r_back.repack(p.r()),
            _ => {}
        }
        if let Some(w_back) = &mut self.w_back {
            w_back.repack(p.w());
        }
        bias::fold_into(p, 0..hid, &mut self.bias, &mut self.rec_bias_n);
        if let Some(norm) = &mut self.norm {
            norm.fold(p, self.rt_n.is_some(), &mut self.bias, &mut self.rec_bias_n);
        }
        self.units.repack(p, scratch);
    }
}

/// Layer norm's gains γ_x and γ_h (`3H` each, gates r, z, n); its biases β add to the
/// folded biases where the pre-activations are sums:
///
/// ```text
/// bias       += β_x + [β_h,r | β_h,z | 0]     (before-multiplication: + β_h,n too)
/// rec_bias_n += β_h,n                         (after modes: inside the reset product)
/// ```
pub(crate) struct NormGains<T> {
    pub(crate) input: Vec<T>,
    pub(crate) recurrent: Vec<T>,
}

impl<T: Real> NormGains<T> {
    fn fold(&mut self, p: &BlockParams<T>, before: bool, bias: &mut [T], rec_bias_n: &mut [T]) {
        let hid = p.hidden_size();
        self.input.copy_from_slice(p.norm_gain(NormPart::Input));
        self.recurrent.copy_from_slice(p.norm_gain(NormPart::Recurrent));
        let (bx, bh) = (p.norm_bias(NormPart::Input), p.norm_bias(NormPart::Recurrent));
        let candidate = Gate::Candidate.rows(hid);
        for (i, o) in bias.iter_mut().enumerate() {
            *o += bx[i];
            if before || !candidate.contains(&i) {
                *o += bh[i];
            }
        }
        if !before {
            rec_bias_n.iter_mut().zip(&bh[candidate]).for_each(|(o, &b)| *o += b);
        }
    }
}

/// A packed `k × n` matrix of zeros, to be filled by `repack`.
pub(crate) fn blank<T: Real>(k: usize, n: usize, scratch: &mut Vec<T>) -> PackedRhs<T> {
    scratch.clear();
    scratch.resize(k * n, T::zero());
    PackedRhs::new(scratch, k, n)
}

/// `dst (+)= a · m`: through the packed matrix when there is one, else a plain GEMM with
/// `m` (`k × n` row-major, `row_stride` apart).
pub(crate) fn product_or<T: Real>(
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

/// `rows × cols` row-major -> `cols × rows` row-major, into `out` (reused).
fn transpose_into<'s, T: Real>(m: &[T], rows: usize, cols: usize, out: &'s mut Vec<T>) -> &'s [T] {
    out.clear();
    out.resize(rows * cols, T::zero());
    for i in 0..rows {
        for j in 0..cols {
            out[j * rows + i] = m[i * cols + j];
        }
    }
    out
}
