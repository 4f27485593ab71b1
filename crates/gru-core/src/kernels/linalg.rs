//! Row-major matrix views over slices and the one matrix product the engines use.
//!
//! The product itself is faer's GEMM (a well-kept crate, runtime SIMD dispatch); this file
//! only names shapes and strides so that callers never compute offsets by hand.

use super::Scalar;

/// A read-only row-major matrix view: element `(i, j)` is `data[i * row_stride + j]`,
/// or, when transposed, element `(i, j)` of the view is `(j, i)` of the stored matrix.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    stored_rows: usize,
    stored_cols: usize,
    row_stride: usize,
    transposed: bool,
}

impl<'a, T> MatRef<'a, T> {
    /// A dense `rows × cols` row-major matrix; `data.len()` must be `rows * cols`.
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "MatRef::new: slice length vs shape");
        Self { data, stored_rows: rows, stored_cols: cols, row_stride: cols, transposed: false }
    }

    /// A `rows × cols` view whose rows start `row_stride` elements apart.
    pub fn strided(data: &'a [T], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(cols <= row_stride, "MatRef::strided: cols > row_stride");
        assert!(rows == 0 || (rows - 1) * row_stride + cols <= data.len(), "MatRef::strided: slice too short");
        Self { data, stored_rows: rows, stored_cols: cols, row_stride, transposed: false }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        Self { transposed: !self.transposed, ..self }
    }

    /// Rows of the view.
    pub fn rows(&self) -> usize {
        if self.transposed {
            self.stored_cols
        } else {
            self.stored_rows
        }
    }

    /// Columns of the view.
    pub fn cols(&self) -> usize {
        if self.transposed {
            self.stored_rows
        } else {
            self.stored_cols
        }
    }

    pub(crate) fn into_faer(self) -> faer::MatRef<'a, T> {
        let m = faer::MatRef::from_row_major_slice_with_stride(
            &self.data[..self.span()],
            self.stored_rows,
            self.stored_cols,
            self.row_stride.max(1),
        );
        if self.transposed {
            m.transpose()
        } else {
            m
        }
    }

    fn span(&self) -> usize {
        if self.stored_rows == 0 {
            0
        } else {
            (self.stored_rows - 1) * self.row_stride + self.stored_cols
        }
    }
}

/// A mutable row-major matrix view: element `(i, j)` is `data[i * row_stride + j]`.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<'a, T> MatMut<'a, T> {
    /// A dense `rows × cols` row-major matrix; `data.len()` must be `rows * cols`.
    pub fn new(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "MatMut::new: slice length vs shape");
        Self { data, rows, cols, row_stride: cols }
    }

    /// A `rows × cols` view whose rows start `row_stride` elements apart.
    pub fn strided(data: &'a mut [T], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(cols <= row_stride, "MatMut::strided: cols > row_stride");
        assert!(rows == 0 || (rows - 1) * row_stride + cols <= data.len(), "MatMut::strided: slice too short");
        Self { data, rows, cols, row_stride }
    }

    pub(crate) fn into_faer(self) -> faer::MatMut<'a, T> {
        let span = if self.rows == 0 { 0 } else { (self.rows - 1) * self.row_stride + self.cols };
        // faer 0.24's `from_row_major_slice_with_stride_mut` builds a column-major view
        // (row stride 1); build the transposed column-major view instead, as faer's own
        // `MatRef::from_row_major_slice_with_stride` does.
        faer::MatMut::from_column_major_slice_with_stride_mut(
            &mut self.data[..span],
            self.cols,
            self.rows,
            self.row_stride.max(1),
        )
        .transpose_mut()
    }
}

/// `dst = a · b`, or `dst += a · b` when `accumulate` is true.
///
/// Shapes: `a` is m×k, `b` is k×n, `dst` is m×n. A mismatch is a bug in the caller
/// (user shapes are validated before any product), hence an assertion.
pub fn matmul<T: Scalar>(dst: MatMut<'_, T>, accumulate: bool, a: MatRef<'_, T>, b: MatRef<'_, T>) {
    assert!(
        a.cols() == b.rows() && dst.rows == a.rows() && dst.cols == b.cols(),
        "matmul shapes: dst {}x{}, a {}x{}, b {}x{}",
        dst.rows,
        dst.cols,
        a.rows(),
        a.cols(),
        b.rows(),
        b.cols()
    );
    if dst.rows == 0 || dst.cols == 0 {
        return;
    }
    if a.cols() == 0 {
        if !accumulate {
            let (rows, cols, stride) = (dst.rows, dst.cols, dst.row_stride);
            for i in 0..rows {
                dst.data[i * stride..i * stride + cols].fill(T::zero());
            }
        }
        return;
    }
    T::matmul_impl(dst, accumulate, a, b);
}

/// A weight matrix `B` (`K × N`) multiplied many times from the left (`C = A · B`): the
/// recurrent products, once per step. Where the panel kernel runs (`T` f32, kernel level
/// AVX-512 or AVX2+FMA) it is kept in `panel_gemm.rs`'s panels (packed once, not on every
/// product); otherwise as a row-major matrix for the GEMM crate.
pub struct PackedRhs<T> {
    k: usize,
    n: usize,
    /// true: `data` holds the panels; false: `B` row-major.
    panels: bool,
    data: AlignedBuf<T>,
}

/// A buffer whose first element sits on a 64-byte boundary (a cache line, one AVX-512
/// register): the weights are read once per step, and a load that straddles two lines
/// costs both (measured: B1 T100 H256 on one thread, 1.15 ms with the panels on a line
/// boundary, 1.72 ms 16 bytes off it). A `Vec` has no alignment parameter, so this one
/// over-allocates by a line and starts at the first aligned element; it never grows, so
/// the offset stays valid.
struct AlignedBuf<T> {
    buf: Vec<T>,
    start: usize,
    len: usize,
}

impl<T: Scalar> AlignedBuf<T> {
    const LINE: usize = 64;

    /// `len` zeros in the allocation of `buf` (grown if short).
    fn zeros_in(len: usize, mut buf: Vec<T>) -> Self {
        let size = std::mem::size_of::<T>().max(1);
        buf.clear();
        buf.resize(len + Self::LINE / size, T::zero());
        let misalign = buf.as_ptr() as usize % Self::LINE;
        let start = if misalign == 0 { 0 } else { (Self::LINE - misalign) / size };
        Self { buf, start, len }
    }

    fn as_slice(&self) -> &[T] {
        &self.buf[self.start..self.start + self.len]
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

impl<T: Scalar> PackedRhs<T> {
    /// Packs the row-major `k × n` matrix `b`.
    pub fn new(b: &[T], k: usize, n: usize) -> Self {
        Self::new_in(b, k, n, Vec::new())
    }

    /// [`PackedRhs::new`] in the allocation of `storage` (grown if short), for the matrices
    /// packed anew on every call (the weight gradients' activations): their storage comes
    /// from a pool and goes back there ([`PackedRhs::into_storage`]), as a fresh buffer of
    /// megabytes per call costs its page faults (measured: a fifth of a B32 T100 H256
    /// training call went to faulting fresh pages in).
    pub fn new_in(b: &[T], k: usize, n: usize, storage: Vec<T>) -> Self {
        assert_eq!(b.len(), k * n, "PackedRhs::new: slice length vs shape");
        match T::panel_len(k, n) {
            Some(len) => {
                let mut data = AlignedBuf::zeros_in(len, storage);
                T::panel_repack(b, k, n, data.as_mut_slice());
                Self { k, n, panels: true, data }
            }
            None => {
                let mut data = AlignedBuf::zeros_in(b.len(), storage);
                data.as_mut_slice().copy_from_slice(b);
                Self { k, n, panels: false, data }
            }
        }
    }

    /// The storage, for the pool it came from.
    pub fn into_storage(self) -> Vec<T> {
        self.data.buf
    }

    /// Values a [`PackedRhs::new_in`] of a `k × n` matrix needs its storage to hold.
    pub fn storage_len(k: usize, n: usize) -> usize {
        T::panel_len(k, n).unwrap_or(k * n) + AlignedBuf::<T>::LINE / std::mem::size_of::<T>().max(1)
    }

    /// `dst = a · B` (or `dst += a · B` when `accumulate`); `a` may be a transposed view.
    pub fn product(&self, dst: MatMut<'_, T>, accumulate: bool, a: MatRef<'_, T>) {
        assert!(
            a.cols() == self.k && dst.rows == a.rows() && dst.cols == self.n,
            "PackedRhs::product shapes: dst {}x{}, a {}x{}, B {}x{}",
            dst.rows,
            dst.cols,
            a.rows(),
            a.cols(),
            self.k,
            self.n
        );
        if self.panels {
            let lda = a.row_stride.max(a.stored_cols);
            let a_data = &a.data[..a.span()];
            let ldc = dst.row_stride.max(self.n);
            T::panel_gemm(
                a.transposed,
                a_data,
                lda,
                dst.rows,
                self.data.as_slice(),
                self.k,
                self.n,
                dst.data,
                ldc,
                accumulate,
            );
        } else if dst.rows == 1 && !accumulate && !a.transposed {
            // One row: each row of B once, no GEMM packing.
            T::gemv_rows(self.data.as_slice(), self.k, self.n, &a.data[..self.k], &mut dst.data[..self.n]);
        } else {
            matmul(dst, accumulate, a, MatRef::new(self.data.as_slice(), self.k, self.n));
        }
    }

    /// [`PackedRhs::product`] with the rows of `a` and `dst` split between `threads` scoped
    /// threads (for the large products of a block that runs on one thread otherwise: the
    /// input projection, backward's dX). Each thread gets at least 64 rows and 2^25
    /// multiply-adds (a thread costs tens of microseconds to start); less: on this thread.
    pub fn product_par(&self, dst: MatMut<'_, T>, accumulate: bool, a: MatRef<'_, T>, threads: usize) {
        let m = dst.rows;
        let work = m.saturating_mul(self.k).saturating_mul(self.n);
        let threads = threads.min(m / 64).min(work >> 25).max(1);
        if threads == 1 || a.rows() != m {
            return self.product(dst, accumulate, a);
        }
        let (n, lda, ldc) = (dst.cols, a.row_stride, dst.row_stride);
        let cuts: Vec<usize> = (0..=threads).map(|t| t * m / threads).collect();
        std::thread::scope(|s| {
            let mut rest = dst.data;
            let mut jobs = Vec::new();
            for w in cuts.windows(2) {
                let rows = w[1] - w[0];
                let take = if w[1] == m { rest.len() } else { rows * ldc };
                let (mine, tail) = rest.split_at_mut(take);
                rest = tail;
                let a_part = if a.transposed {
                    // Rows w0..w1 of the view: stored columns w0..w1.
                    MatRef::strided(&a.data[w[0]..], a.cols(), rows, lda).t()
                } else {
                    MatRef::strided(&a.data[w[0] * lda..], rows, a.cols(), lda)
                };
                jobs.push((MatMut::strided(mine, rows, n, ldc), a_part));
            }
            let mut jobs = jobs.into_iter();
            let first = jobs.next();
            for (d, a_part) in jobs {
                s.spawn(move || self.product(d, accumulate, a_part));
            }
            if let Some((d, a_part)) = first {
                self.product(d, accumulate, a_part);
            }
        });
    }

    /// Repacks `b` (row-major `k × n`, the shape this was packed with) into the buffer it
    /// already has: the same values as `PackedRhs::new(b, k, n)`, no allocation.
    pub fn repack(&mut self, b: &[T]) {
        assert_eq!(b.len(), self.k * self.n, "PackedRhs::repack: slice length vs shape");
        if self.panels {
            T::panel_repack(b, self.k, self.n, self.data.as_mut_slice());
        } else {
            self.data.as_mut_slice().copy_from_slice(b);
        }
    }
}

/// The right-hand side `B` (`k × n`, a row-major view) of products `dst (+)= aᵀ · B`
/// (`a`: `k × m`): the weight gradients, products over the long dimension (steps × batch)
/// of two activation matrices. Where the panel kernel runs (f32, AVX-512 or AVX2) `B` is
/// packed once (`O(k·n)` against each product's `O(k·m·n)`) for every product with it, and
/// `aᵀ` read in place; elsewhere the GEMM crate reads `B` as it is. The rows of each
/// product are split between `threads` threads (see [`PackedRhs::product_par`]).
pub struct TnRhs<'a, T> {
    b: MatRef<'a, T>,
    packed: Option<PackedRhs<T>>,
    /// The storage when nothing was packed, kept for [`TnRhs::into_storage`].
    spare: Vec<T>,
}

impl<'a, T: Scalar> TnRhs<'a, T> {
    /// `b` packed (where the panel kernel runs) into the allocation of `storage`
    /// ([`PackedRhs::new_in`]).
    pub fn new_in(b: MatRef<'a, T>, storage: Vec<T>) -> Self {
        if b.transposed || !T::has_panels() {
            return Self { b, packed: None, spare: storage };
        }
        let (k, n) = (b.rows(), b.cols());
        let dense: Vec<T>;
        let b_rows: &[T] = if b.row_stride == n {
            &b.data[..k * n]
        } else {
            dense = (0..k).flat_map(|kk| b.data[kk * b.row_stride..][..n].iter().copied()).collect();
            &dense
        };
        Self { b, packed: Some(PackedRhs::new_in(b_rows, k, n, storage)), spare: Vec::new() }
    }

    /// `dst (+)= aᵀ · B`.
    pub fn product(&self, dst: MatMut<'_, T>, accumulate: bool, a: MatRef<'_, T>, threads: usize) {
        match &self.packed {
            Some(p) if !a.transposed && a.rows() == self.b.rows() => p.product_par(dst, accumulate, a.t(), threads),
            _ => matmul(dst, accumulate, a.t(), self.b),
        }
    }

    /// The storage, for the pool it came from.
    pub fn into_storage(self) -> Vec<T> {
        self.packed.map_or(self.spare, PackedRhs::into_storage)
    }
}

/// `dst (+)= aᵀ · b` for one product ([`TnRhs`]), `b` packed in the allocation of
/// `storage`, which it keeps for the next call.
pub fn matmul_tn<T: Scalar>(
    dst: MatMut<'_, T>,
    accumulate: bool,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    threads: usize,
    storage: &mut Vec<T>,
) {
    let rhs = TnRhs::new_in(b, std::mem::take(storage));
    rhs.product(dst, accumulate, a, threads);
    *storage = rhs.into_storage();
}

#[cfg(test)]
mod tests {

    #[test]
    fn packed_weights_start_on_a_cache_line() {
        for (k, n) in [(1, 1), (7, 33), (256, 768), (3, 5)] {
            let b: Vec<f32> = (0..k * n).map(|v| v as f32).collect();
            let p = PackedRhs::new(&b, k, n);
            assert_eq!(p.data.as_slice().as_ptr() as usize % 64, 0, "{k}x{n} f32");
            let b64: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
            let p = PackedRhs::new(&b64, k, n);
            assert_eq!(p.data.as_slice().as_ptr() as usize % 64, 0, "{k}x{n} f64");
            assert_eq!(p.data.as_slice(), &b64[..], "f64 keeps B row-major");
        }
    }

    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matches_naive_product_with_transpose_stride_and_accumulate() {
        let (m, k, n) = (3, 4, 5);
        let a: Vec<f64> = (0..m * k).map(|v| v as f64 * 0.5 - 2.0).collect();
        let bt: Vec<f64> = (0..n * k).map(|v| (v as f64).sin()).collect(); // b stored as n×k
        let mut b = vec![0.0; k * n];
        for p in 0..k {
            for j in 0..n {
                b[p * n + j] = bt[j * k + p];
            }
        }
        let expect = naive(&a, &b, m, k, n);
        let mut c = vec![1.0; m * n];
        matmul(MatMut::new(&mut c, m, n), false, MatRef::new(&a, m, k), MatRef::new(&bt, n, k).t());
        for (x, y) in c.iter().zip(&expect) {
            assert!((x - y).abs() < 1e-12);
        }
        matmul(MatMut::new(&mut c, m, n), true, MatRef::new(&a, m, k), MatRef::new(&b, k, n));
        for (x, y) in c.iter().zip(&expect) {
            assert!((x - 2.0 * y).abs() < 1e-12);
        }
        // Strided destination: write into columns 1..1+n of an m×(n+2) buffer.
        let mut wide = vec![7.0; m * (n + 2)];
        matmul(MatMut::strided(&mut wide[1..], m, n, n + 2), false, MatRef::new(&a, m, k), MatRef::new(&b, k, n));
        for i in 0..m {
            assert_eq!(wide[i * (n + 2)], 7.0);
            for j in 0..n {
                assert!((wide[i * (n + 2) + 1 + j] - expect[i * n + j]).abs() < 1e-12);
            }
        }
    }

    /// `PackedRhs::product_par` and `matmul_tn` on a product large enough to be split
    /// between two threads, plain and transposed, against naive sums at sampled entries.
    #[test]
    fn split_products_match_naive_sums() {
        let (m, k, n) = (256, 512, 520);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.05).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.05).collect();
        let mut at = vec![0.0f32; k * m];
        for i in 0..m {
            for p in 0..k {
                at[p * m + i] = a[i * k + p];
            }
        }
        let packed = PackedRhs::new(&b, k, n);
        let check = |c: &[f32], extra: f32, what: &str| {
            for s in 0..300 {
                let (i, j) = (s * 37 % m, s * 101 % n);
                let want: f64 = (0..k).map(|p| a[i * k + p] as f64 * b[p * n + j] as f64).sum::<f64>() + extra as f64;
                assert!((c[i * n + j] as f64 - want).abs() < 1e-3 * (1.0 + want.abs()), "{what} ({i}, {j})");
            }
        };
        let mut c = vec![1.0f32; m * n];
        packed.product_par(MatMut::new(&mut c, m, n), false, MatRef::new(&a, m, k), 2);
        check(&c, 0.0, "plain");
        packed.product_par(MatMut::new(&mut c, m, n), false, MatRef::new(&at, k, m).t(), 2);
        check(&c, 0.0, "transposed");
        c.fill(1.0);
        matmul_tn(MatMut::new(&mut c, m, n), true, MatRef::new(&at, k, m), MatRef::new(&b, k, n), 2, &mut Vec::new());
        check(&c, 1.0, "matmul_tn accumulate");
    }
}
