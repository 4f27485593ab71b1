//! The compute kernels, private to the crate: matrix views and products over row-major
//! slices (`linalg.rs`, faer's GEMM), the recurrent products through weights packed once
//! (`panel_gemm.rs`, f32, with the micro-kernels for AVX-512 there and for AVX2+FMA in
//! `panel_avx2.rs`) and the vectorized gate activations and GEMV (`simd.rs`). Which
//! instruction set they use is decided once, in `isa.rs` (detected, or `GRU_ISA`); the
//! size of a core's private cache, which sets the panel kernel's row blocks and the stream
//! step's split, is read once in `cache.rs`.
//!
//! [`Scalar`] is how the generic engine code reaches the kernel of its element type: a
//! supertrait of [`crate::Real`], public but declared in this private module, so that no
//! type outside the crate can implement `Real` (the sealed-trait pattern) and the kernels
//! stay out of the public API. These files import nothing else of the crate.
//!
//! The public surface built on them is deliberate and small: [`crate::ops::matmul`] (the
//! dense layers' and ONNX MatMul's product) and, under the `bench-internals` feature,
//! `crate::bench` (the panel kernel, for measuring the GEMM peak).

pub(crate) mod cache;
pub(crate) mod isa;
pub(crate) mod linalg;
mod panel_avx2;
pub(crate) mod panel_gemm;
#[cfg(target_arch = "x86_64")]
mod panel_sweep;
mod simd;

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, MulAssign, SubAssign};

use num_traits::Float;

pub(crate) use linalg::{matmul, matmul_tn, MatMut, MatRef, PackedRhs, TnRhs};

/// An element type with kernels: implemented for `f32` (vectorized activations and GEMV,
/// the panel GEMM where the kernel level is AVX-512 or AVX2+FMA) and `f64` (portable loops, faer's GEMM).
pub trait Scalar:
    Float + Default + Debug + Display + Send + Sync + 'static + AddAssign + SubAssign + MulAssign + Sum
{
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

    /// `b` (`k × n` row-major) in the panel layout of `panel_gemm.rs`, where this type
    /// and kernel level have that kernel (f32 with AVX-512 or AVX2+FMA); `None` otherwise.
    fn panel_pack(_b: &[Self], _k: usize, _n: usize) -> Option<Vec<Self>> {
        None
    }

    /// The length of the panels of a `k × n` matrix where this type has the packed kernel
    /// (f32 at the AVX-512 or AVX2+FMA level), else `None`.
    fn panel_len(_k: usize, _n: usize) -> Option<usize> {
        None
    }

    /// Packs `b` (`k × n` row-major) into `panels` of [`Scalar::panel_len`] elements (only
    /// called where that is some).
    fn panel_repack(_b: &[Self], _k: usize, _n: usize, _panels: &mut [Self]) {
        unreachable!("panel_repack without panel_pack")
    }

    /// Whether [`Scalar::panel_pack`] packs (f32 at the AVX-512 or AVX2+FMA level).
    fn has_panels() -> bool {
        false
    }

    /// `c (+)= a · B` for panels from [`Scalar::panel_pack`] (only called when it gave
    /// some); `a_transposed`: `a` holds `aᵀ` (`k × m`, rows `lda` apart).
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
    /// Shapes are checked by [`linalg::matmul`] before this is called.
    fn matmul_impl(dst: MatMut<'_, Self>, accumulate: bool, a: MatRef<'_, Self>, b: MatRef<'_, Self>);
}

macro_rules! impl_scalar {
    ($t:ty $(, $extra:item)*) => {
        impl Scalar for $t {
            $($extra)*

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

impl_scalar!(
    f32,
    fn sigmoid_slice(src: &[f32], dst: &mut [f32]) {
        simd::sigmoid_f32(src, dst)
    },
    fn tanh_slice(src: &[f32], dst: &mut [f32]) {
        simd::tanh_f32(src, dst)
    },
    fn gemv_rows(m: &[f32], rows: usize, cols: usize, xs: &[f32], out: &mut [f32]) {
        simd::gemv_f32(m, rows, cols, xs, out)
    },
    fn has_panels() -> bool {
        panel_gemm::available()
    },
    fn panel_pack(b: &[f32], k: usize, n: usize) -> Option<Vec<f32>> {
        panel_gemm::available().then(|| panel_gemm::pack(b, k, n))
    },
    fn panel_len(k: usize, n: usize) -> Option<usize> {
        panel_gemm::available().then(|| panel_gemm::panel_len(k, n))
    },
    fn panel_repack(b: &[f32], k: usize, n: usize, panels: &mut [f32]) {
        panel_gemm::pack_into(b, k, n, panels)
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
            panel_gemm::gemm_at(a, lda, m, panels, k, n, c, ldc, accumulate)
        } else {
            panel_gemm::gemm(a, lda, m, panels, k, n, c, ldc, accumulate)
        }
    }
);
impl_scalar!(f64);
