//! Named views over the gate grouping `[r | z | n]`: the only place that knows where a
//! gate sits in a row or a gate-grouped matrix.
//!
//! ```text
//! row of U units:                 [ r (U) | z (U) | n (U) ]            width 3U
//! gate-grouped matrix (W, R, dW): [ R_r (U × C) ; R_z (U × C) ; R_n (U × C) ]
//! [rows, 3U] buffer (GX, gates):  row i = [ r | z | n ] of sequence/step i
//! ```
//! `U` is the whole block's `H` or a unit-split worker's units.

use std::ops::Range;

use crate::kernels::MatRef;
use crate::params::Gate;

/// Width of a `[r | z | n]` row of `u` units.
#[inline]
pub(crate) const fn row_width(u: usize) -> usize {
    3 * u
}

/// Width of the `[r | z]` part of such a row (the gates whose pre-activation is a plain
/// sum of the input and recurrent products).
#[inline]
pub(crate) const fn reset_update_width(u: usize) -> usize {
    2 * u
}

/// Gate `g`'s range in a `[r | z | n]` grouping of blocks of `len` elements.
#[inline]
fn range(g: Gate, len: usize) -> Range<usize> {
    g.index() * len..(g.index() + 1) * len
}

/// A `[r | z | n]` grouping read by gate name: a row of `3U` values, or (through
/// [`GateRow::of_rows`]) a gate-grouped matrix of `3U` rows of `C` values each.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GateRow<'a, T> {
    data: &'a [T],
    /// Elements per gate: `U` for a row, `U · C` for a matrix.
    len: usize,
}

impl<'a, T> GateRow<'a, T> {
    /// The row `row` (`3U` values) of `u` units.
    #[inline]
    pub(crate) fn new(row: &'a [T], u: usize) -> Self {
        debug_assert_eq!(row.len(), row_width(u), "GateRow: row width vs units");
        Self { data: row, len: u }
    }

    /// Row `i` of a `[rows, 3U]` row-major buffer.
    #[inline]
    pub(crate) fn at(buf: &'a [T], i: usize, u: usize) -> Self {
        Self::new(&buf[i * row_width(u)..][..row_width(u)], u)
    }

    /// A gate-grouped `3U × cols` row-major matrix (W: `cols` = In, R: `cols` = H).
    #[inline]
    pub(crate) fn of_rows(m: &'a [T], u: usize, cols: usize) -> Self {
        debug_assert_eq!(m.len(), row_width(u) * cols, "GateRow::of_rows: length vs shape");
        Self { data: m, len: u * cols }
    }

    /// The whole grouping.
    #[inline]
    pub(crate) fn all(self) -> &'a [T] {
        self.data
    }

    /// Gate `g`'s part.
    #[inline]
    pub(crate) fn gate(self, g: Gate) -> &'a [T] {
        &self.data[range(g, self.len)]
    }

    /// r: the reset gate's part.
    #[inline]
    pub(crate) fn reset(self) -> &'a [T] {
        self.gate(Gate::Reset)
    }

    /// z: the update gate's part.
    #[inline]
    pub(crate) fn update(self) -> &'a [T] {
        self.gate(Gate::Update)
    }

    /// n: the candidate's part.
    #[inline]
    pub(crate) fn candidate(self) -> &'a [T] {
        self.gate(Gate::Candidate)
    }

    /// `[r | z]`: the first two gates together.
    #[inline]
    pub(crate) fn reset_update(self) -> &'a [T] {
        &self.data[..2 * self.len]
    }
}

/// The mutable [`GateRow`].
#[derive(Debug)]
pub(crate) struct GateRowMut<'a, T> {
    data: &'a mut [T],
    len: usize,
}

impl<'a, T> GateRowMut<'a, T> {
    /// The row `row` (`3U` values) of `u` units.
    #[inline]
    pub(crate) fn new(row: &'a mut [T], u: usize) -> Self {
        debug_assert_eq!(row.len(), row_width(u), "GateRowMut: row width vs units");
        Self { data: row, len: u }
    }

    /// Row `i` of a `[rows, 3U]` row-major buffer.
    #[inline]
    pub(crate) fn at(buf: &'a mut [T], i: usize, u: usize) -> Self {
        Self::new(&mut buf[i * row_width(u)..][..row_width(u)], u)
    }

    /// A gate-grouped `3U × cols` row-major matrix.
    #[inline]
    pub(crate) fn of_rows(m: &'a mut [T], u: usize, cols: usize) -> Self {
        debug_assert_eq!(m.len(), row_width(u) * cols, "GateRowMut::of_rows: length vs shape");
        Self { data: m, len: u * cols }
    }

    /// The whole grouping.
    #[inline]
    pub(crate) fn all(&mut self) -> &mut [T] {
        self.data
    }

    /// Gate `g`'s part.
    #[inline]
    pub(crate) fn gate(&mut self, g: Gate) -> &mut [T] {
        &mut self.data[range(g, self.len)]
    }

    /// `[r | z]`: the first two gates together.
    #[inline]
    pub(crate) fn reset_update(&mut self) -> &mut [T] {
        &mut self.data[..2 * self.len]
    }

    /// n: the candidate's part.
    #[inline]
    pub(crate) fn candidate(&mut self) -> &mut [T] {
        self.gate(Gate::Candidate)
    }

    /// The three gates apart: `(r, z, n)`.
    #[inline]
    pub(crate) fn split(self) -> (&'a mut [T], &'a mut [T], &'a mut [T]) {
        let (r, rest) = self.data.split_at_mut(self.len);
        let (z, n) = rest.split_at_mut(self.len);
        (r, z, n)
    }

    /// `([r | z], n)`.
    #[inline]
    pub(crate) fn split_reset_update(self) -> (&'a mut [T], &'a mut [T]) {
        self.data.split_at_mut(2 * self.len)
    }
}

/// Column views by gate of a `[rows, 3U]` row-major buffer (GX, dGX), as matrix operands.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GateCols<'a, T> {
    data: &'a [T],
    rows: usize,
    u: usize,
}

impl<'a, T> GateCols<'a, T> {
    /// The buffer `m`: `rows` rows of `[r | z | n]`, `u` units each.
    #[inline]
    pub(crate) fn new(m: &'a [T], rows: usize, u: usize) -> Self {
        debug_assert!(m.len() >= rows * row_width(u), "GateCols: length vs shape");
        Self { data: m, rows, u }
    }

    /// All `3U` columns: `rows × 3U`.
    #[inline]
    pub(crate) fn all(self) -> MatRef<'a, T> {
        MatRef::new(&self.data[..self.rows * row_width(self.u)], self.rows, row_width(self.u))
    }

    /// The `[r | z]` columns: `rows × 2U`, rows `3U` apart.
    #[inline]
    pub(crate) fn reset_update(self) -> MatRef<'a, T> {
        MatRef::strided(self.data, self.rows, reset_update_width(self.u), row_width(self.u))
    }

    /// The n columns: `rows × U`, rows `3U` apart.
    #[inline]
    pub(crate) fn candidate(self) -> MatRef<'a, T> {
        self.gate(Gate::Candidate)
    }

    /// Gate `g`'s columns: `rows × U`, rows `3U` apart.
    #[inline]
    pub(crate) fn gate(self, g: Gate) -> MatRef<'a, T> {
        MatRef::strided(&self.data[range(g, self.u).start..], self.rows, self.u, row_width(self.u))
    }
}
