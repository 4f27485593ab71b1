//! The matrix product of the layers around the GRU (a network's fully connected layers,
//! ONNX `MatMul` and `Gemm`): one [`matmul`] over row-major slices, computed by the same
//! GEMM as the native engine's products (faer's, single-threaded).
//!
//! ```
//! use gru_core::ops::{matmul, Matrix};
//! // y = x · Wᵀ: x [rows=2, in=3], W [out=2, in=3] row-major, y [2, 2].
//! let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let w = [1.0f32, 0.0, 0.0, 0.0, 1.0, 1.0];
//! let mut y = [0.0f32; 4];
//! matmul(&mut y, false, Matrix::new(&x, 2, 3), Matrix::new(&w, 2, 3).t());
//! assert_eq!(y, [1.0, 5.0, 4.0, 11.0]);
//! ```

use crate::kernels::{self, MatMut, MatRef};
use crate::real::Real;

/// A `rows × cols` row-major matrix held in a slice (element `(i, j)` at
/// `data[i · cols + j]`), read as stored or, after [`Matrix::t`], transposed (no copy).
#[derive(Clone, Copy, Debug)]
pub struct Matrix<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl<'a, T> Matrix<'a, T> {
    /// The `rows × cols` row-major matrix `data`.
    ///
    /// # Panics
    /// When `data.len() != rows · cols` (shapes are the caller's to check first).
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "Matrix::new: slice length vs shape");
        Self { data, rows, cols, transposed: false }
    }

    /// The transposed matrix: `(i, j)` of the result is `(j, i)` of `self`.
    pub fn t(self) -> Self {
        Self { transposed: !self.transposed, ..self }
    }

    /// Rows of the matrix as read (after any transpose).
    pub fn rows(&self) -> usize {
        if self.transposed {
            self.cols
        } else {
            self.rows
        }
    }

    /// Columns of the matrix as read (after any transpose).
    pub fn cols(&self) -> usize {
        if self.transposed {
            self.rows
        } else {
            self.cols
        }
    }

    fn view(self) -> MatRef<'a, T> {
        let m = MatRef::new(self.data, self.rows, self.cols);
        if self.transposed {
            m.t()
        } else {
            m
        }
    }
}

/// `c = a · b`, or `c += a · b` when `accumulate`: `a` is `m × k`, `b` is `k × n` (each as
/// read, after any [`Matrix::t`]), `c` is `m × n` row-major.
///
/// # Panics
/// When `a.cols() != b.rows()` or `c.len() != a.rows() · b.cols()` (shapes are the
/// caller's to check first).
pub fn matmul<T: Real>(c: &mut [T], accumulate: bool, a: Matrix<'_, T>, b: Matrix<'_, T>) {
    let (m, n) = (a.rows(), b.cols());
    kernels::matmul(MatMut::new(c, m, n), accumulate, a.view(), b.view());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_and_accumulates() {
        // a [2, 3], b stored as bᵀ [2, 3]: c = a · b [2, 2].
        let a = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
        let bt = [1.0f64, 0.0, -1.0, 2.0, 1.0, 0.0];
        let mut c = [9.0f64; 4];
        matmul(&mut c, false, Matrix::new(&a, 2, 3), Matrix::new(&bt, 2, 3).t());
        assert_eq!(c, [-2.0, 4.0, -2.0, 13.0]);
        matmul(&mut c, true, Matrix::new(&a, 2, 3), Matrix::new(&bt, 2, 3).t());
        assert_eq!(c, [-4.0, 8.0, -4.0, 26.0]);
        // aᵀ · a: [3, 3].
        let mut g = [0.0f64; 9];
        matmul(&mut g, false, Matrix::new(&a, 2, 3).t(), Matrix::new(&a, 2, 3));
        assert_eq!(g, [17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]);
        let (m, t) = (Matrix::new(&a, 2, 3), Matrix::new(&a, 2, 3).t());
        assert_eq!((m.rows(), m.cols(), t.rows(), t.cols()), (2, 3, 3, 2));
    }

    #[test]
    #[should_panic(expected = "matmul shapes")]
    fn inner_dimensions_must_agree() {
        let a = [0.0f32; 6];
        let mut c = [0.0f32; 6];
        matmul(&mut c, false, Matrix::new(&a, 2, 3), Matrix::new(&a, 2, 3));
    }
}
