//! The pass rule and the tolerances of DESIGN.md.

use gru_core::{DType, Real};

/// Tolerances for one dtype: `values` for outputs and states, `grads` for gradients.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub values: f64,
    pub grads: f64,
}

impl Tolerance {
    /// f32: 1e-5 / 1e-4; f64: 1e-10 for both.
    pub fn of(dtype: DType) -> Self {
        match dtype {
            DType::F32 => Tolerance { values: 1e-5, grads: 1e-4 },
            DType::F64 => Tolerance { values: 1e-10, grads: 1e-10 },
        }
    }
}

/// The largest `|a - ref| / (1 + |ref|)` over two equally long arrays.
pub fn worst_error<T: Real>(actual: &[T], expected: &[f64]) -> f64 {
    actual.iter().zip(expected).map(|(&a, &e)| (a.widen() - e).abs() / (1.0 + e.abs())).fold(0.0, f64::max)
}

/// Checks `actual` against `expected` element by element with the pass rule; on failure
/// the message names the field, the first failing index and both values. Returns the
/// worst scaled error.
pub fn check_close<T: Real>(field: &str, actual: &[T], expected: &[f64], tol: f64) -> Result<f64, String> {
    if actual.len() != expected.len() {
        return Err(format!("{field}: length {} vs expected {}", actual.len(), expected.len()));
    }
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let a = a.widen();
        // Written so that a NaN fails.
        let passes = (a - e).abs() <= tol * (1.0 + e.abs());
        if !passes {
            return Err(format!("{field}[{i}]: {a} vs expected {e} (tol {tol})"));
        }
    }
    Ok(worst_error(actual, expected))
}

/// Widens a slice to f64.
pub fn widen<T: Real>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.widen()).collect()
}
