//! The floating-point types the library computes in (`f32`, `f64`).

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, MulAssign, SubAssign};

use num_traits::Float;

use crate::linalg::{MatMut, MatRef};

/// Element type name, as written in fixtures, checkpoints and errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    F32,
    F64,
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        })
    }
}

/// A real scalar type the GRU is generic over: implemented for `f32` and `f64`.
pub trait Real:
    Float + Default + Debug + Display + Send + Sync + 'static + AddAssign + SubAssign + MulAssign + Sum
{
    /// The dtype tag of this type.
    const DTYPE: DType;

    /// Converts an `f64` constant or option value (rounding for `f32`).
    fn lit(value: f64) -> Self;

    /// Widens to `f64` (exact for both types).
    fn widen(self) -> f64;

    /// `dst[i] = 1 / (1 + e^-src[i])` (vectorized for f32).
    fn sigmoid_slice(src: &[Self], dst: &mut [Self]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = Self::one() / (Self::one() + (-s).exp());
        }
    }

    /// `dst[i] = tanh(src[i])` (vectorized for f32).
    fn tanh_slice(src: &[Self], dst: &mut [Self]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s.tanh();
        }
    }

    /// `out = xs · m` for a few vectors `xs` (`nb × rows`) and `m` (`rows × cols` row-major),
    /// each row of `m` read once (vectorized for f32).
    fn gemv_rows(m: &[Self], rows: usize, cols: usize, xs: &[Self], out: &mut [Self]) {
        let nb = xs.len() / rows;
        out[..nb * cols].fill(Self::zero());
        for k in 0..rows {
            for b in 0..nb {
                let x = xs[b * rows + k];
                for (o, &r) in out[b * cols..(b + 1) * cols].iter_mut().zip(&m[k * cols..(k + 1) * cols]) {
                    *o += r * x;
                }
            }
        }
    }

    /// `b` (`k × n` row-major) in the panel layout of [`crate::panel_gemm`], where this type
    /// and CPU have that kernel (f32 with AVX-512); `None` otherwise.
    fn panel_pack(_b: &[Self], _k: usize, _n: usize) -> Option<Vec<Self>> {
        None
    }

    /// Whether [`Real::panel_pack`] packs (f32 on a CPU with AVX-512).
    fn has_panels() -> bool {
        false
    }

    /// `c (+)= a · B` for panels from [`Real::panel_pack`] (only called when it gave some);
    /// `a_transposed`: `a` holds `aᵀ` (`k × m`, rows `lda` apart).
    #[allow(clippy::too_many_arguments)]
    fn panel_gemm(
        _a_transposed: bool,
        _a: &[Self],
        _lda: usize,
        _m: usize,
        _panels: &[Self],
        _k: usize,
        _n: usize,
        _c: &mut [Self],
        _ldc: usize,
        _accumulate: bool,
    ) {
        unreachable!("panel_gemm without panel_pack")
    }

    /// `dst = a · b` (or `dst += a · b` when `accumulate`), single-threaded.
    /// Shapes are checked by [`crate::linalg::matmul`] before this is called.
    fn matmul_impl(dst: MatMut<'_, Self>, accumulate: bool, a: MatRef<'_, Self>, b: MatRef<'_, Self>);
}

macro_rules! impl_real {
    ($t:ty, $tag:expr $(, $extra:item)*) => {
        impl Real for $t {
            $($extra)*

            const DTYPE: DType = $tag;

            #[inline]
            fn lit(value: f64) -> Self {
                value as $t
            }

            #[inline]
            fn widen(self) -> f64 {
                self as f64
            }

            fn matmul_impl(dst: MatMut<'_, Self>, accumulate: bool, a: MatRef<'_, Self>, b: MatRef<'_, Self>) {
                let accum = if accumulate { faer::Accum::Add } else { faer::Accum::Replace };
                faer::linalg::matmul::matmul(
                    dst.into_faer(),
                    accum,
                    a.into_faer(),
                    b.into_faer(),
                    1.0 as $t,
                    faer::Par::Seq,
                );
            }
        }
    };
}

impl_real!(
    f32,
    DType::F32,
    fn sigmoid_slice(src: &[f32], dst: &mut [f32]) {
        crate::simd::sigmoid_f32(src, dst)
    },
    fn tanh_slice(src: &[f32], dst: &mut [f32]) {
        crate::simd::tanh_f32(src, dst)
    },
    fn gemv_rows(m: &[f32], rows: usize, cols: usize, xs: &[f32], out: &mut [f32]) {
        crate::simd::gemv_f32(m, rows, cols, xs, out)
    },
    fn has_panels() -> bool {
        crate::panel_gemm::available()
    },
    fn panel_pack(b: &[f32], k: usize, n: usize) -> Option<Vec<f32>> {
        crate::panel_gemm::available().then(|| crate::panel_gemm::pack(b, k, n))
    },
    fn panel_gemm(
        a_transposed: bool,
        a: &[f32],
        lda: usize,
        m: usize,
        panels: &[f32],
        k: usize,
        n: usize,
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
    ) {
        if a_transposed {
            crate::panel_gemm::gemm_at(a, lda, m, panels, k, n, c, ldc, accumulate)
        } else {
            crate::panel_gemm::gemm(a, lda, m, panels, k, n, c, ldc, accumulate)
        }
    }
);
impl_real!(f64, DType::F64);
