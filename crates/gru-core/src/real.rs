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
