//! The element-wise forward step of one row (one sequence at one step, `U` units), after
//! the products: `GX = X · Wᵀ + b` (biases folded, see `bias.rs`) and `GH = h · Rᵀ`.
//!
//! ```text
//! a_r = GX_r + GH_r,  r = σ_g(a_r)                       (reset_update)
//! a_z = GX_z + GH_z,  z = σ_g(a_z)
//! after modes:  o = GH_n + b'_n,  a_n = GX_n + r ⊙ o       (candidate_after)
//! before:       o = r ⊙ h,        a_n = GX_n + R_n o       (candidate_before, o · R_nᵀ given)
//! n = σ_s(a_n)
//! h' = (1 − z) ⊙ n + z ⊙ h = n + z ⊙ (h − n)               (new_state)
//! ```
//! `o` is the operand of the reset product, kept for backward.

use super::gates::{GateRow, GateRowMut};
use crate::activation::Activations;
use crate::real::Real;

/// r and z of one row: `a_{r,z} = GX_{r,z} + GH_{r,z}` into `pre`, `σ_g(a)` into `gates`.
/// `gh` is the row of GH, `[r | z]` or `[r | z | n]`: only its first `2U` values are read.
#[inline]
pub(crate) fn reset_update<T: Real>(
    act: &Activations<T>,
    gx: GateRow<'_, T>,
    gh: &[T],
    pre: &mut GateRowMut<'_, T>,
    gates: &mut GateRowMut<'_, T>,
) {
    let a = pre.reset_update();
    for ((a, &x), &r) in a.iter_mut().zip(gx.reset_update()).zip(gh) {
        *a = x + r;
    }
    act.gate_slice(a, gates.reset_update());
}

/// The candidate of one row in the after modes (r already in `gates`):
/// `o = GH_n + b'_n` into `operand`, `a_n = GX_n + r ⊙ o` into `pre`, `n = σ_s(a_n)`.
/// `rec_n` is b'_n (zero for after-multiplication).
#[inline]
pub(crate) fn candidate_after<T: Real>(
    act: &Activations<T>,
    gx_n: &[T],
    gh_n: &[T],
    rec_n: &[T],
    pre: GateRowMut<'_, T>,
    gates: GateRowMut<'_, T>,
    operand: &mut [T],
) {
    let (r, _, n) = gates.split();
    let (_, _, a_n) = pre.split();
    for ((a, o), ((&x, &g), (&r, &b))) in
        a_n.iter_mut().zip(operand.iter_mut()).zip(gx_n.iter().zip(gh_n).zip(r.iter().zip(rec_n)))
    {
        *o = g + b;
        *a = x + r * *o;
    }
    act.state_slice(a_n, n);
}

/// The operand of the reset product before multiplication: `o = r ⊙ h`.
#[inline]
pub(crate) fn reset_product<T: Real>(r: &[T], h: &[T], operand: &mut [T]) {
    for ((o, &r), &h) in operand.iter_mut().zip(r).zip(h) {
        *o = r * h;
    }
}

/// The candidate of one row before multiplication: `operand` gets `o = r ⊙ h` (given in
/// `rh`), `a_n = GX_n + (R_n o)` (the product given in `gn`) into `pre`, `n = σ_s(a_n)`.
#[inline]
pub(crate) fn candidate_before<T: Real>(
    act: &Activations<T>,
    gx_n: &[T],
    rh: &[T],
    gn: &[T],
    mut pre: GateRowMut<'_, T>,
    mut gates: GateRowMut<'_, T>,
    operand: &mut [T],
) {
    operand.copy_from_slice(rh);
    let a_n = pre.candidate();
    for ((a, &x), &n) in a_n.iter_mut().zip(gx_n).zip(gn) {
        *a = x + n;
    }
    act.state_slice(a_n, gates.candidate());
}

/// The new state of one row: `h' = (1 − z) ⊙ n + z ⊙ h`, computed as `n + z ⊙ (h − n)`,
/// into `out` (`h` is the state the step started from).
#[inline]
pub(crate) fn new_state<T: Real>(gates: GateRow<'_, T>, h: &[T], out: &mut [T]) {
    for ((o, &h), (&z, &n)) in out.iter_mut().zip(h).zip(gates.update().iter().zip(gates.candidate())) {
        *o = n + z * (h - n);
    }
}
