//! Variable lengths: what every engine does with the padding past a sequence's length and
//! with a sequence of length 0 (DESIGN.md, "Variable length").
//!
//! ```text
//! x        [T, B, I]        x[t, b, :] for t >= len_b is padding: never read
//! len_b = 0                 y_seq[:, b, :] = 0,  h_T[k, b, :] = h0[k, b, :] for every block k
//!                           dx[:, b, :] = 0,     dh0[k, b, :] = dh_T[k, b, :], no dθ
//! OutputMode::Last          y[b] = y_seq[len_b - 1, b, :]                        len_b >= 1
//!                           y[b] = [h_T[top·dirs + d, b, :] for d in 0..dirs]   len_b = 0
//!                           (top = D - 1: the state the top layer is left in, its h0)
//! ```
//! So a network reading the last output of an empty sequence computes from the top layer's
//! initial state (zero unless given or learned), and the gradient of that output flows to
//! dh0: `dh0[top·dirs + d, b] = dh_T[top·dirs + d, b] + dy[b, d·H..(d+1)·H]`.
//!
//! Padding may hold NaN or infinity. A library product over whole rows (the input GEMM
//! `X · Wᵀ`, the weight gradient `dGXᵀ · X`) would turn such a value into NaN through
//! `0 · NaN`, so an engine reads `x` through [`clean_padding`]: `x` itself when its padding
//! is finite (finite padding never changes a result: its rows are multiplied by zero or
//! not used), else a copy with zero padding. Results with NaN padding are therefore bit for
//! bit those with zero padding.

use std::borrow::Cow;

use crate::error::{GruError, Result};
use crate::real::{first_non_finite, Real};
use crate::spec::{GruSpec, OutputMode};

/// Whether step `t` of `[T, B, width]` row `row = t·B + b` lies inside its sequence.
fn inside(row: usize, batch: usize, lengths: &[usize]) -> bool {
    row / batch < lengths[row % batch]
}

/// Checks that every value of `v` (`[T, B, width]` time-major) inside a sequence is finite;
/// the error names `field` and the flat index of the first one that is not.
pub(crate) fn check_finite_inside<T: Real>(
    field: &str,
    v: &[T],
    batch: usize,
    width: usize,
    lengths: &[usize],
) -> Result<()> {
    let bad = v
        .chunks_exact(width.max(1))
        .enumerate()
        .filter(|&(row, _)| inside(row, batch, lengths))
        .find_map(|(row, values)| first_non_finite(values).map(|j| row * width + j));
    match bad {
        Some(index) => Err(GruError::NonFinite { field: field.into(), index, value: v[index].widen() }),
        None => Ok(()),
    }
}

/// `x` (`[T, B, I]` with `I = width`, validated) as an engine may read it whole: `x`
/// itself when its padding is finite, else a copy whose padding is zero (see the module
/// documentation).
pub fn clean_padding<'a, T: Real>(x: &'a [T], batch: usize, width: usize, lengths: &[usize]) -> Cow<'a, [T]> {
    let width = width.max(1);
    let padding_finite = x
        .chunks_exact(width)
        .enumerate()
        .all(|(row, values)| inside(row, batch, lengths) || first_non_finite(values).is_none());
    if padding_finite {
        return Cow::Borrowed(x);
    }
    let mut clean = x.to_vec();
    for (row, values) in clean.chunks_exact_mut(width).enumerate() {
        if !inside(row, batch, lengths) {
            values.fill(T::zero());
        }
    }
    Cow::Owned(clean)
}

/// The top layer's blocks `top·dirs .. top·dirs + dirs` of a `[D·dirs, B, H]` state, row `b`,
/// concatenated `[forward, backward]` (`dirs·H`).
fn top_state_range(spec: &GruSpec, batch: usize, b: usize, dir: usize) -> std::ops::Range<usize> {
    let (hid, dirs) = (spec.hidden_size, spec.directions());
    let block = (spec.depth - 1) * dirs + dir;
    (block * batch + b) * hid..(block * batch + b + 1) * hid
}

/// Output mode `last` of the sequences of length 0: writes `y[b] = [h_T of the top layer's
/// directions]` (`y`: `[B, dirs·H]`, `h_t`: `[D·dirs, B, H]`) for every `b` with
/// `lengths[b] = 0`; other rows and other output modes are left as they are.
pub fn empty_last_outputs<T: Real>(spec: &GruSpec, y: &mut [T], h_t: &[T], lengths: &[usize]) {
    if spec.output_mode != OutputMode::Last {
        return;
    }
    let (batch, hid) = (lengths.len(), spec.hidden_size);
    for b in (0..batch).filter(|&b| lengths[b] == 0) {
        for dir in 0..spec.directions() {
            let dst = (b * spec.directions() + dir) * hid;
            y[dst..dst + hid].copy_from_slice(&h_t[top_state_range(spec, batch, b, dir)]);
        }
    }
}

/// The backward of [`empty_last_outputs`]: dL/dh_T (`[D·dirs, B, H]`, `None`: zero) with the
/// output gradient `dy` (`[B, dirs·H]`) of each length-0 sequence added to its top blocks.
/// `None` when nothing is added (another output mode, no empty sequence): use `dh_t` as is.
pub fn empty_last_grads<T: Real>(spec: &GruSpec, dy: &[T], dh_t: Option<&[T]>, lengths: &[usize]) -> Option<Vec<T>> {
    if spec.output_mode != OutputMode::Last || lengths.iter().all(|&l| l > 0) {
        return None;
    }
    let (batch, hid) = (lengths.len(), spec.hidden_size);
    let mut out = dh_t.map_or_else(|| vec![T::zero(); crate::batch::state_len(spec, batch)], <[T]>::to_vec);
    for b in (0..batch).filter(|&b| lengths[b] == 0) {
        for dir in 0..spec.directions() {
            let src = (b * spec.directions() + dir) * hid;
            for (d, &g) in out[top_state_range(spec, batch, b, dir)].iter_mut().zip(&dy[src..src + hid]) {
                *d += g;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_values_inside_a_sequence_are_checked() {
        // [T = 3, B = 2, I = 2], lengths [1, 0]: rows 0 (t 0, b 0) inside, all others padding.
        let mut x = vec![f64::NAN; 12];
        x[0] = 1.0;
        x[1] = 2.0;
        assert_eq!(check_finite_inside("x", &x, 2, 2, &[1, 0]), Ok(()));
        let clean = clean_padding(&x, 2, 2, &[1, 0]);
        assert_eq!(&clean[..], &[1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        // Inside a sequence NaN is an error naming its flat index: t 1, b 0, channel 1.
        x[4] = 0.5;
        let err = check_finite_inside("x", &x, 2, 2, &[2, 0]).unwrap_err();
        assert!(matches!(err, GruError::NonFinite { ref field, index: 5, .. } if field == "x"), "{err:?}");
        // Finite padding is read as it is (no copy).
        let finite = vec![3.0f32; 12];
        assert!(matches!(clean_padding(&finite, 2, 2, &[1, 0]), Cow::Borrowed(_)));
    }

    #[test]
    fn the_last_output_of_an_empty_sequence_is_the_top_state() {
        // Depth 2, bidirectional, H = 1, B = 2: h_T blocks [l0 fwd, l0 bwd, l1 fwd, l1 bwd].
        let spec = GruSpec::new(1, 1).with_depth(2).with_bidirectional(true).with_output_mode(OutputMode::Last);
        let h_t = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let mut y = vec![9.0; 4];
        empty_last_outputs(&spec, &mut y, &h_t, &[3, 0]);
        assert_eq!(y, [9.0, 9.0, 6.0, 8.0]);
        let dh = empty_last_grads(&spec, &[0.5, 0.5, 10.0, 20.0], Some(&h_t), &[3, 0]).unwrap();
        assert_eq!(dh, [1.0, 2.0, 3.0, 4.0, 5.0, 16.0, 7.0, 28.0]);
        assert_eq!(empty_last_grads(&spec, &[0.0; 4], None::<&[f64]>, &[3, 1]), None);
    }
}
