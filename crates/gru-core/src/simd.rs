//! Vectorized f32 kernels for the gate activations, with run-time CPU dispatch: the same
//! branch-free loops compiled for AVX-512, AVX2+FMA and the baseline target; the first
//! one the CPU supports runs.
//!
//! `exp` is computed as `2^n · e^r` (`n = round(x·log2 e)`, `|r| <= ln2/2`) with Cephes'
//! degree-6 polynomial for `e^r` (relative error about 2e-7 over the clamped range
//! [-87, 88]); written here because the loop must vectorize, which `f32::exp` (a libm call)
//! does not.
//! ```text
//! sigmoid(x) = 1 / (1 + e^-x)
//! tanh(x)    = 1 - 2 / (e^{2x} + 1)      (absolute error < 2e-7)
//! ```

use std::sync::OnceLock;

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Avx512,
    Avx2,
    Baseline,
}

fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Level::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Level::Avx2;
            }
        }
        Level::Baseline
    })
}

macro_rules! dispatch {
    ($name:ident, $body:ident, $avx512:ident, $avx2:ident) => {
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
            debug_assert_eq!(src.len(), dst.len());
            match level() {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `level()` detected AVX-512F, AVX2 and FMA on this CPU.
                Level::Avx512 => unsafe { $avx512(src, dst) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `level()` detected AVX2 and FMA on this CPU.
                Level::Avx2 => unsafe { $avx2(src, dst) },
                _ => $body(src, dst),
            }
        }
    };
}

dispatch!(sigmoid_f32, sigmoid_loop, sigmoid_avx512, sigmoid_avx2);
dispatch!(tanh_f32, tanh_loop, tanh_avx512, tanh_avx2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_libm() {
        let xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.01).chain([-100.0, -88.5, 88.5, 100.0]).collect();
        let mut s = vec![0.0; xs.len()];
        let mut t = vec![0.0; xs.len()];
        sigmoid_f32(&xs, &mut s);
        tanh_f32(&xs, &mut t);
        for (i, &x) in xs.iter().enumerate() {
            let (es, et) = (1.0 / (1.0 + (-(x as f64)).exp()), (x as f64).tanh());
            assert!((s[i] as f64 - es).abs() <= 3e-7 * (1.0 + es.abs()), "sigmoid({x}) = {} vs {es}", s[i]);
            assert!((t[i] as f64 - et).abs() <= 3e-7, "tanh({x}) = {} vs {et}", t[i]);
        }
        for (i, &x) in [-1.0f32, 0.5, 3.0].iter().enumerate() {
            assert!((fast_exp(x) as f64 / (x as f64).exp() - 1.0).abs() < 3e-7, "{i}");
        }
    }
}
