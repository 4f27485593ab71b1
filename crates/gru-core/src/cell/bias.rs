//! Where each bias enters the equations.
//!
//! ```text
//! 3H layout: [b_r b_z b_n]                   6H layout: [b_r b_z b_n | b'_r b'_z b'_n]
//! r = σ_g(W_r x + R_r h + b_r [+ b'_r])
//! z = σ_g(W_z x + R_z h + b_z [+ b'_z])
//! n = σ_s(W_n x + b_n + r ⊙ (R_n h [+ b'_n]))
//! ```
//! b'_r and b'_z add to the input biases (they sit outside any product, so the fast path
//! folds them into `GX = X · Wᵀ + b`); only b'_n stays apart, inside the reset product.

use std::ops::Range;

use super::gates::{row_width, GateRowMut};
use crate::params::{BlockParams, Gate};
use crate::real::Real;

/// b'_g when it adds to the input bias b_g: r and z of the 6H layout; `None` for the
/// candidate (b'_n sits inside the reset product) and for the 3H layout.
#[inline]
pub(crate) fn folded_recurrent<T: Real>(p: &BlockParams<T>, g: Gate) -> Option<&[T]> {
    if g == Gate::Candidate {
        None
    } else {
        p.recurrent_bias(g)
    }
}

/// b'_n, the recurrent bias inside the reset product (6H layout), else `None`.
#[inline]
pub(crate) fn candidate_recurrent<T: Real>(p: &BlockParams<T>) -> Option<&[T]> {
    p.recurrent_bias(Gate::Candidate)
}

/// The biases of the hidden units `units` of block `p`, as the fast path uses them:
/// `folded = [b_r + b'_r | b_z + b'_z | b_n]` (`3U`, each sum rounded once) and
/// `rec_n = b'_n` (`U`, zero in the 3H layout).
pub(crate) fn fold_into<T: Real>(p: &BlockParams<T>, units: Range<usize>, folded: &mut [T], rec_n: &mut [T]) {
    let u = units.len();
    debug_assert_eq!(folded.len(), row_width(u));
    let mut row = GateRowMut::new(folded, u);
    for g in Gate::ALL {
        let out = row.gate(g);
        out.copy_from_slice(&p.input_bias(g)[units.clone()]);
        if let Some(rb) = folded_recurrent(p, g) {
            for (o, &v) in out.iter_mut().zip(&rb[units.clone()]) {
                *o += v;
            }
        }
    }
    match candidate_recurrent(p) {
        Some(rb) => rec_n.copy_from_slice(&rb[units]),
        None => rec_n.fill(T::zero()),
    }
}

/// The bias of a block or its gradient split into its input part `[b_r b_z b_n]` (`3U`)
/// and, in the 6H layout, its recurrent part `[b'_r b'_z b'_n]`.
#[inline]
pub(crate) fn split_mut<T>(bias: &mut [T], u: usize) -> (GateRowMut<'_, T>, Option<GateRowMut<'_, T>>) {
    let (input, rec) = bias.split_at_mut(row_width(u));
    (GateRowMut::new(input, u), (!rec.is_empty()).then(|| GateRowMut::new(rec, u)))
}
