//! The floating-point types the library computes in (`f32`, `f64`).

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, MulAssign, SubAssign};

use num_traits::Float;

use crate::kernels::Scalar;

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

/// A real scalar type the GRU is generic over: implemented for `f32` and `f64` only (its
/// supertrait, the crate's private kernel dispatch, is sealed).
pub trait Real:
    Scalar + Float + Default + Debug + Display + Send + Sync + 'static + AddAssign + SubAssign + MulAssign + Sum
{
    /// The dtype tag of this type.
    const DTYPE: DType;

    /// Converts an `f64` constant or option value (rounding for `f32`).
    fn lit(value: f64) -> Self;

    /// Widens to `f64` (exact for both types).
    fn widen(self) -> f64;
}

macro_rules! impl_real {
    ($t:ty, $tag:expr) => {
        impl Real for $t {
            const DTYPE: DType = $tag;

            #[inline]
            fn lit(value: f64) -> Self {
                value as $t
            }

            #[inline]
            fn widen(self) -> f64 {
                self as f64
            }
        }
    };
}

impl_real!(f32, DType::F32);
impl_real!(f64, DType::F64);

/// The index of the first value of `v` that is not finite (NaN or ±∞), if any. Every input
/// is checked this way on every call, and nearly always all of it is finite: a branch-free
/// test of blocks of [`FINITE_BLOCK`] values (the compiler vectorizes it) finds a block that
/// holds a non-finite value, and only inside that block does an element-by-element search run.
pub(crate) fn first_non_finite<T: Real>(v: &[T]) -> Option<usize> {
    v.chunks(FINITE_BLOCK).enumerate().find_map(|(i, block)| {
        if block.iter().fold(true, |all, x| all & x.is_finite()) {
            None
        } else {
            block.iter().position(|x| !x.is_finite()).map(|j| i * FINITE_BLOCK + j)
        }
    })
}

/// Values per block of [`first_non_finite`]'s branch-free test.
const FINITE_BLOCK: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_non_finite_value_is_found_in_any_block() {
        for len in [0, 1, 255, 256, 257, 1000] {
            let clean = vec![1.5f32; len];
            assert_eq!(first_non_finite(&clean), None);
            for at in [0, len / 2, len.saturating_sub(1)].into_iter().filter(|&i| i < len) {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut v = clean.clone();
                    v[at] = bad;
                    if at + 3 < len {
                        v[at + 3] = f32::NAN;
                    }
                    assert_eq!(first_non_finite(&v), Some(at), "len {len}, at {at}, {bad}");
                    let wide: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
                    assert_eq!(first_non_finite(&wide), Some(at));
                }
            }
        }
        assert_eq!(first_non_finite(&[f64::MAX, f64::MIN, f64::MIN_POSITIVE, -0.0]), None);
    }
}
