//! Vectorized f32 kernels for the gate activations, with run-time CPU dispatch: the same
//! branch-free loops compiled for AVX-512, AVX2+FMA and the baseline target; the level of
//! [`super::isa`] runs. Every level gives the same bits: the loops use no operation whose
//! result depends on the vector width (no horizontal sums; `mul_add` is a fused
//! multiply-add at every level, a library call at the baseline one).
//!
//! `exp` is computed as `2^n · e^r` (`n = round(x·log2 e)`, `|r| <= ln2/2`) with Cephes'
//! degree-6 polynomial for `e^r` (relative error about 2e-7 over the clamped range
//! [-87, 88]); written here because the loop must vectorize, which `f32::exp` (a libm call)
//! does not.
//! ```text
//! sigmoid(x) = 1 / (1 + e^-x)
//! tanh(x)    = 1 - 2 / (e^{2x} + 1)      (absolute error < 2e-7)
//! ```

use super::isa::{isa, Isa};

#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    // r = x - n·ln2, with ln2 split in two for precision.
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 0.166_666_65;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[inline(always)]
fn sigmoid_loop(src: &[f32], dst: &mut [f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = 1.0 / (1.0 + fast_exp(-s));
    }
}

#[inline(always)]
fn tanh_loop(src: &[f32], dst: &mut [f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = 1.0 - 2.0 / (fast_exp(2.0 * s) + 1.0);
    }
}

/// `out[b·cols + j] = Σ_k xs[b·rows + k] · m[k·cols + j]` (`out = xs · m`) for
/// `nb = xs.len() / rows` vectors, each row of `m` read once for all of them: the recurrent
/// product of a tiny batch, where a GEMM's packing costs more than the product.
#[inline(always)]
fn gemv_loop(m: &[f32], rows: usize, cols: usize, xs: &[f32], out: &mut [f32]) {
    // out_b = Σ_k xs[b, k] · m[k, :]: rows of m are taken four at a time and added, scaled,
    // into every output vector (contiguous, vectorized, one load/store of the output per
    // four rows, no horizontal sums).
    let nb = xs.len() / rows;
    out[..nb * cols].fill(0.0);
    let full = rows / 4 * 4;
    for k in (0..full).step_by(4) {
        let (r0, r1) = (&m[k * cols..(k + 1) * cols], &m[(k + 1) * cols..(k + 2) * cols]);
        let (r2, r3) = (&m[(k + 2) * cols..(k + 3) * cols], &m[(k + 3) * cols..(k + 4) * cols]);
        for b in 0..nb {
            let x = &xs[b * rows + k..b * rows + k + 4];
            let o = &mut out[b * cols..(b + 1) * cols];
            for j in 0..cols {
                o[j] = r3[j].mul_add(x[3], r2[j].mul_add(x[2], r1[j].mul_add(x[1], r0[j].mul_add(x[0], o[j]))));
            }
        }
    }
    for k in full..rows {
        let row = &m[k * cols..(k + 1) * cols];
        for b in 0..nb {
            let x = xs[b * rows + k];
            for (o, &r) in out[b * cols..(b + 1) * cols].iter_mut().zip(row) {
                *o = r.mul_add(x, *o);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn gemv_avx512(m: &[f32], rows: usize, cols: usize, xs: &[f32], out: &mut [f32]) {
    gemv_loop(m, rows, cols, xs, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gemv_avx2(m: &[f32], rows: usize, cols: usize, xs: &[f32], out: &mut [f32]) {
    gemv_loop(m, rows, cols, xs, out)
}

/// `out = xs · m`: `m` is `rows × cols` row-major, `xs` is `nb × rows`, `out` `nb × cols`.
pub fn gemv_f32(m: &[f32], rows: usize, cols: usize, xs: &[f32], out: &mut [f32]) {
    gemv_on(isa(), m, rows, cols, xs, out)
}

/// [`gemv_f32`] compiled for `level` (a level this CPU runs: tests call each one).
fn gemv_on(level: Isa, m: &[f32], rows: usize, cols: usize, xs: &[f32], out: &mut [f32]) {
    assert!(m.len() >= rows * cols && rows > 0 && out.len() >= xs.len() / rows * cols, "gemv_f32 shapes");
    assert!(level.supported(), "gemv at level {level:?} on this CPU");
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` is supported: this CPU has AVX-512F, AVX2 and FMA.
        Isa::Avx512 => unsafe { gemv_avx512(m, rows, cols, xs, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` is supported: this CPU has AVX2 and FMA.
        Isa::Avx2Fma => unsafe { gemv_avx2(m, rows, cols, xs, out) },
        _ => gemv_loop(m, rows, cols, xs, out),
    }
}

macro_rules! dispatch {
    ($name:ident, $on:ident, $body:ident, $avx512:ident, $avx2:ident) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn $avx512(src: &[f32], dst: &mut [f32]) {
            $body(src, dst)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $avx2(src: &[f32], dst: &mut [f32]) {
            $body(src, dst)
        }

        /// Applies the function to `src`, writing `dst` (`dst.len() == src.len()`).
        pub fn $name(src: &[f32], dst: &mut [f32]) {
            $on(isa(), src, dst)
        }

        /// The same, compiled for `level` (a level this CPU runs: tests call each one).
        fn $on(level: Isa, src: &[f32], dst: &mut [f32]) {
            debug_assert_eq!(src.len(), dst.len());
            assert!(level.supported(), "activation at level {level:?} on this CPU");
            match level {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `level` is supported: this CPU has AVX-512F, AVX2 and FMA.
                Isa::Avx512 => unsafe { $avx512(src, dst) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `level` is supported: this CPU has AVX2 and FMA.
                Isa::Avx2Fma => unsafe { $avx2(src, dst) },
                _ => $body(src, dst),
            }
        }
    };
}

dispatch!(sigmoid_f32, sigmoid_on, sigmoid_loop, sigmoid_avx512, sigmoid_avx2);
dispatch!(tanh_f32, tanh_on, tanh_loop, tanh_avx512, tanh_avx2);

#[cfg(test)]
mod tests {
    use super::*;

    fn levels() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|l| l.supported()).collect()
    }

    #[test]
    fn gemv_matches_naive_at_every_level() {
        for level in levels() {
            for (rows, cols, nb) in [(7, 33, 1), (12, 16, 3), (5, 100, 4)] {
                let m: Vec<f32> = (0..rows * cols).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1).collect();
                let xs: Vec<f32> = (0..nb * rows).map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.2).collect();
                let mut out = vec![9.0; nb * cols];
                gemv_on(level, &m, rows, cols, &xs, &mut out);
                for b in 0..nb {
                    for j in 0..cols {
                        let e: f64 = (0..rows).map(|k| xs[b * rows + k] as f64 * m[k * cols + j] as f64).sum();
                        assert!((out[b * cols + j] as f64 - e).abs() < 1e-4, "{level:?} {rows}x{cols} b{b} j{j}");
                    }
                }
            }
        }
    }

    #[test]
    fn kernels_match_libm_at_every_level() {
        let xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.01).chain([-100.0, -88.5, 88.5, 100.0]).collect();
        for level in levels() {
            let mut s = vec![0.0; xs.len()];
            let mut t = vec![0.0; xs.len()];
            sigmoid_on(level, &xs, &mut s);
            tanh_on(level, &xs, &mut t);
            for (i, &x) in xs.iter().enumerate() {
                let (es, et) = (1.0 / (1.0 + (-(x as f64)).exp()), (x as f64).tanh());
                let what = format!("{level:?}: sigmoid({x}) = {} vs {es}", s[i]);
                assert!((s[i] as f64 - es).abs() <= 3e-7 * (1.0 + es.abs()), "{what}");
                assert!((t[i] as f64 - et).abs() <= 3e-7, "{level:?}: tanh({x}) = {} vs {et}", t[i]);
            }
        }
        for (i, &x) in [-1.0f32, 0.5, 3.0].iter().enumerate() {
            assert!((fast_exp(x) as f64 / (x as f64).exp() - 1.0).abs() < 3e-7, "{i}");
        }
    }

    /// Every level gives the portable loops' bits (odd lengths: the vector tails too).
    #[test]
    fn every_level_gives_the_same_bits() {
        let xs: Vec<f32> = (0..1037).map(|i| ((i as f32) * 0.731).sin() * 12.0).collect();
        let (rows, cols, nb) = (37, 45, 3);
        let m: Vec<f32> = (0..rows * cols).map(|i| ((i as f32) * 0.37).cos() * 0.3).collect();
        let run = |level| {
            let (mut s, mut t, mut g) = (vec![0.0; xs.len()], vec![0.0; xs.len()], vec![0.0; nb * cols]);
            sigmoid_on(level, &xs, &mut s);
            tanh_on(level, &xs, &mut t);
            gemv_on(level, &m, rows, cols, &xs[..nb * rows], &mut g);
            [s, t, g].map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>())
        };
        let portable = run(Isa::Portable);
        for level in levels() {
            assert!(run(level) == portable, "{level:?} differs from the portable loops");
        }
    }
}
