//! Weight and bias initializers: MATLAB `gruLayer`'s `InputWeightsInitializer`,
//! `RecurrentWeightsInitializer` and `BiasInitializer`, and Korali's uniform Xavier.
//!
//! Layout: every weight matrix is drawn as one `rows × cols` row-major matrix, e.g. the
//! input weights `W` (3H × I) and the recurrent weights `R` (3H × H), rows grouped by gate
//! r, z, n (the canonical layout of `gru_core::params`). One draw covers all three gates
//! (one QR for the whole matrix in the orthogonal case), values drawn in row-major order.
//! A bias is a vector of `len` entries (3H, or 6H for the recurrent-bias-after mode).
//!
//! Fans, as MATLAB defines them for the GRU: input weights `fan_in = InputSize`, recurrent
//! weights `fan_in = NumHiddenUnits`, and `fan_out = 3·NumHiddenUnits` for both.
//! MATLAB's defaults are glorot (input), orthogonal (recurrent) and zeros (bias).
//!
//! In JSON (a network's layer array) an initializer is its MATLAB name, read
//! case-insensitively and written in lower case; a custom function or Korali's
//! initialization has no name and cannot be written (see [`WeightInitializer::is_named`]).
//!
//! Every value is drawn in `f64` from the given [`ChaCha8Rng`] and rounded to `T` with
//! [`Real::lit`], so a seed gives the same values in `f32` and `f64` (up to rounding).

use std::fmt;
use std::sync::Arc;

use faer::Mat;
use gru_core::Real;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Normal, StandardNormal, Uniform};
use serde::{de, ser, Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A user function `f(rows, cols)` returning `rows·cols` finite values, row-major
/// (MATLAB's function-handle initializer). Biases call it as `f(len, 1)`.
pub type CustomInit = Arc<dyn Fn(usize, usize) -> Vec<f64> + Send + Sync>;

/// Standard deviation of the `narrow-normal` initializer.
pub const NARROW_NORMAL_STD: f64 = 0.01;

/// MATLAB `InputWeightsInitializer` / `RecurrentWeightsInitializer`.
#[derive(Clone)]
pub enum WeightInitializer {
    /// `w ~ U(-b, b)` independently, `b = sqrt(6 / (fan_in + fan_out))`:
    /// mean 0, variance `2 / (fan_in + fan_out)`.
    Glorot,
    /// `w ~ N(0, 2 / fan_in)` independently.
    He,
    /// `Q` of `Z = QR`, `Z` a `rows × cols` matrix of independent `N(0, 1)`, with column
    /// `j` of `Q` multiplied by `sign(R_jj)` (Haar-distributed). When `rows < cols`, the
    /// QR of `Zᵀ`, transposed: the rows are then orthonormal. `QᵀQ = I` (or `QQᵀ = I`).
    Orthogonal,
    /// `w ~ N(0, 0.01²)` independently.
    NarrowNormal,
    /// `w = 0`.
    Zeros,
    /// `w = 1`.
    Ones,
    /// `w = f(rows, cols)`, row-major; the count must be `rows·cols`, every value finite.
    Custom(CustomInit),
    /// Korali's initialization (see [`korali_xavier`]): `w = s · sqrt(6 / (fan_in + fan_out)) · u`,
    /// `u ~ U(minimum, maximum)` (Korali's "Uniform Generator"). For a Korali GRU layer both
    /// W and R use `fan_in` = the layer's input channels and `fan_out` = H, as Korali does.
    KoraliXavier { scaling: f64, minimum: f64, maximum: f64 },
}

/// MATLAB `BiasInitializer`.
#[derive(Clone, Default)]
pub enum BiasInitializer {
    /// `b = 0` (MATLAB's default).
    #[default]
    Zeros,
    /// `b ~ N(0, 0.01²)` independently.
    NarrowNormal,
    /// `b = 1`.
    Ones,
    /// `b = f(len, 1)`; the count must be `len`, every value finite.
    Custom(CustomInit),
}

impl WeightInitializer {
    /// Every initializer MATLAB names (all but `Custom`).
    pub const NAMED: [WeightInitializer; 6] =
        [Self::Glorot, Self::He, Self::Orthogonal, Self::NarrowNormal, Self::Zeros, Self::Ones];

    /// The MATLAB name: "glorot", "he", "orthogonal", "narrow-normal", "zeros", "ones",
    /// or "custom" for a function.
    pub fn name(&self) -> &'static str {
        match self {
            WeightInitializer::Glorot => "glorot",
            WeightInitializer::He => "he",
            WeightInitializer::Orthogonal => "orthogonal",
            WeightInitializer::NarrowNormal => "narrow-normal",
            WeightInitializer::Zeros => "zeros",
            WeightInitializer::Ones => "ones",
            WeightInitializer::Custom(_) => "custom",
            WeightInitializer::KoraliXavier { .. } => "korali-xavier",
        }
    }

    /// Whether MATLAB names it (one of [`Self::NAMED`]): what a layer array's JSON can hold.
    pub fn is_named(&self) -> bool {
        !matches!(self, WeightInitializer::Custom(_) | WeightInitializer::KoraliXavier { .. })
    }

    /// `(fan_in, fan_out)` of a GRU block reading `input` channels with `hidden` units, for
    /// the input weights (`recurrent = false`) or the recurrent weights: MATLAB's
    /// `(In, 3H)` and `(H, 3H)`, or Korali's `(In, H)` for both.
    pub fn fans(&self, recurrent: bool, input: usize, hidden: usize) -> (usize, usize) {
        match (self, recurrent) {
            (WeightInitializer::KoraliXavier { .. }, _) => (input, hidden),
            (_, false) => (input, 3 * hidden),
            (_, true) => (hidden, 3 * hidden),
        }
    }

    /// Parses a MATLAB name (case-insensitive); errors name the property "WeightsInitializer".
    pub fn from_name(name: &str) -> Result<Self> {
        Self::parse("WeightsInitializer", name)
    }

    /// As [`Self::from_name`], naming `property` (e.g. "RecurrentWeightsInitializer") in errors.
    pub fn parse(property: &str, name: &str) -> Result<Self> {
        let found = Self::NAMED.into_iter().find(|init| init.name().eq_ignore_ascii_case(name));
        found.ok_or_else(|| unknown_name(property, name, &Self::NAMED.map(|init| init.name())))
    }

    /// Draws a `rows × cols` row-major matrix (see the variants for each distribution).
    /// `property` names the MATLAB property in errors (e.g. "InputWeightsInitializer").
    /// Errors: a zero fan for glorot or he, or a custom function's wrong count or
    /// non-finite value. An empty matrix is `Ok(vec![])` (a custom function is not called).
    pub fn draw<T: Real>(
        &self,
        property: &str,
        rows: usize,
        cols: usize,
        fan_in: usize,
        fan_out: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<T>> {
        let len = rows
            .checked_mul(cols)
            .ok_or_else(|| Error::property(property, self.name(), format!("{rows} × {cols} overflows")))?;
        let bad_fan = |fan: &str| Error::property(property, self.name(), format!("{fan} is 0: the scale is infinite"));
        let values: Vec<f64> = match self {
            _ if len == 0 => Vec::new(),
            WeightInitializer::Glorot => {
                let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
                let dist = Uniform::new(-bound, bound).map_err(|_| bad_fan("fan_in + fan_out"))?;
                (0..len).map(|_| rng.sample(dist)).collect()
            }
            WeightInitializer::He => {
                let dist = Normal::new(0.0, (2.0 / fan_in as f64).sqrt()).map_err(|_| bad_fan("fan_in"))?;
                (0..len).map(|_| rng.sample(dist)).collect()
            }
            WeightInitializer::Orthogonal => orthogonal(rows, cols, rng),
            WeightInitializer::NarrowNormal => normal(len, NARROW_NORMAL_STD, rng),
            WeightInitializer::Zeros => vec![0.0; len],
            WeightInitializer::Ones => vec![1.0; len],
            WeightInitializer::Custom(f) => checked_custom(property, f(rows, cols), rows, cols)?,
            WeightInitializer::KoraliXavier { scaling, minimum, maximum } => {
                if fan_in + fan_out == 0 {
                    return Err(bad_fan("fan_in + fan_out"));
                }
                return Ok(korali_xavier(len, fan_in, fan_out, *scaling, *minimum, *maximum, rng));
            }
        };
        Ok(values.into_iter().map(T::lit).collect())
    }
}

impl BiasInitializer {
    /// Every initializer MATLAB names (all but `Custom`).
    pub const NAMED: [BiasInitializer; 3] = [Self::Zeros, Self::NarrowNormal, Self::Ones];

    /// The MATLAB name: "zeros", "narrow-normal", "ones", or "custom" for a function.
    pub fn name(&self) -> &'static str {
        match self {
            BiasInitializer::Zeros => "zeros",
            BiasInitializer::NarrowNormal => "narrow-normal",
            BiasInitializer::Ones => "ones",
            BiasInitializer::Custom(_) => "custom",
        }
    }

    /// Whether MATLAB names it (one of [`Self::NAMED`]): what a layer array's JSON can hold.
    pub fn is_named(&self) -> bool {
        !matches!(self, BiasInitializer::Custom(_))
    }

    /// Parses a MATLAB name (case-insensitive); errors name the property "BiasInitializer".
    pub fn from_name(name: &str) -> Result<Self> {
        let found = Self::NAMED.into_iter().find(|init| init.name().eq_ignore_ascii_case(name));
        found.ok_or_else(|| unknown_name("BiasInitializer", name, &Self::NAMED.map(|init| init.name())))
    }

    /// Draws a bias of `len` entries (see the variants); a custom function is called as
    /// `f(len, 1)`. `property` names the MATLAB property in errors.
    pub fn draw<T: Real>(&self, property: &str, len: usize, rng: &mut ChaCha8Rng) -> Result<Vec<T>> {
        let values = match self {
            BiasInitializer::Zeros => vec![0.0; len],
            BiasInitializer::NarrowNormal => normal(len, NARROW_NORMAL_STD, rng),
            BiasInitializer::Ones => vec![1.0; len],
            BiasInitializer::Custom(f) => checked_custom(property, f(len, 1), len, 1)?,
        };
        Ok(values.into_iter().map(T::lit).collect())
    }
}

/// Equal: the same named initializer, the same Korali parameters, or the same function
/// (the same `Arc`).
impl PartialEq for WeightInitializer {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (WeightInitializer::Custom(a), WeightInitializer::Custom(b)) => Arc::ptr_eq(a, b),
            (
                WeightInitializer::KoraliXavier { scaling, minimum, maximum },
                WeightInitializer::KoraliXavier { scaling: s, minimum: lo, maximum: hi },
            ) => (scaling, minimum, maximum) == (s, lo, hi),
            (a, b) => a.is_named() && a.name() == b.name(),
        }
    }
}

/// Equal: the same named initializer or the same function (the same `Arc`).
impl PartialEq for BiasInitializer {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (BiasInitializer::Custom(a), BiasInitializer::Custom(b)) => Arc::ptr_eq(a, b),
            (a, b) => a.is_named() && a.name() == b.name(),
        }
    }
}

/// JSON: the MATLAB name (`"glorot"`, `"narrow-normal"`, ...), read case-insensitively. A
/// custom function or Korali's initialization has no name and is refused with an error.
impl Serialize for WeightInitializer {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        if self.is_named() {
            serializer.serialize_str(self.name())
        } else {
            Err(ser::Error::custom(unnamed(self.name())))
        }
    }
}

impl<'de> Deserialize<'de> for WeightInitializer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::from_name(&name).map_err(de::Error::custom)
    }
}

/// JSON: the MATLAB name (`"zeros"`, `"narrow-normal"`, `"ones"`), read case-insensitively;
/// a custom function is refused with an error.
impl Serialize for BiasInitializer {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        if self.is_named() {
            serializer.serialize_str(self.name())
        } else {
            Err(ser::Error::custom(unnamed(self.name())))
        }
    }
}

impl<'de> Deserialize<'de> for BiasInitializer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::from_name(&name).map_err(de::Error::custom)
    }
}

fn unnamed(name: &str) -> String {
    format!("the {name} initializer has no MATLAB name, so it cannot be written to JSON")
}

impl fmt::Debug for WeightInitializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for BiasInitializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Korali's initialization of every weight of a layer (biases are 0 in Korali):
/// `w = s · sqrt(6 / (fan_in + fan_out)) · u`, `u ~ U(minimum, maximum)` independently
/// (Korali's "Uniform Generator", default `U(-1, 1)`), `len` values in the order drawn.
/// With the default range the variance is `2 s² / (fan_in + fan_out)`.
/// `fan_in + fan_out` must be positive (else the values are not finite).
pub fn korali_xavier<T: Real>(
    len: usize,
    fan_in: usize,
    fan_out: usize,
    scaling: f64,
    minimum: f64,
    maximum: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<T> {
    let bound = scaling * (6.0 / (fan_in + fan_out) as f64).sqrt();
    // u = min + (max - min)·v, v ~ U[0, 1): defined for any range, as Korali's generator.
    (0..len).map(|_| T::lit(bound * (minimum + (maximum - minimum) * rng.random::<f64>()))).collect()
}

/// `n` independent `N(0, std²)` values.
fn normal(n: usize, std: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..n).map(|_| std * rng.sample::<f64, _>(StandardNormal)).collect()
}

/// `rows × cols` row-major, orthonormal columns (rows ≥ cols) or rows (rows < cols):
/// the sign-corrected `Q` of one QR of a standard-normal matrix (see [`WeightInitializer::Orthogonal`]).
fn orthogonal(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    // z: [rows, cols] row-major, drawn in that order whatever the shape.
    let z = normal(rows * cols, 1.0, rng);
    let tall = rows >= cols;
    // a: m × n with m ≥ n: Z itself, or Zᵀ when Z is wide.
    let (m, n) = if tall { (rows, cols) } else { (cols, rows) };
    let a = Mat::<f64>::from_fn(m, n, |i, j| if tall { z[i * cols + j] } else { z[j * cols + i] });
    let qr = a.qr();
    let q = qr.compute_thin_Q(); // m × n
    let r = qr.thin_R(); // n × n upper triangular
    let sign = |j: usize| if r[(j, j)] < 0.0 { -1.0 } else { 1.0 };
    // Element (i, j) of Q·diag(sign(R_jj)), or of its transpose when Z is wide.
    let at = |i: usize, j: usize| if tall { q[(i, j)] * sign(j) } else { q[(j, i)] * sign(i) };
    (0..rows * cols).map(|k| at(k / cols, k % cols)).collect()
}

/// Checks a custom function's output: `rows·cols` values, all finite.
fn checked_custom(property: &str, values: Vec<f64>, rows: usize, cols: usize) -> Result<Vec<f64>> {
    let (got, expected) = (values.len(), rows * cols);
    if got != expected {
        let reason = format!("the function returned {got} values for a {rows} × {cols} array; expected {expected}");
        return Err(Error::property(property, "custom", reason));
    }
    if let Some((k, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        let reason = format!("value {k} (row {}, column {}) is {v}; every value must be finite", k / cols, k % cols);
        return Err(Error::property(property, "custom", reason));
    }
    Ok(values)
}

fn unknown_name(property: &str, name: &str, valid: &[&str]) -> Error {
    let reason = format!("unknown initializer; valid names are {} (or a custom function)", valid.join(", "));
    Error::property(property, format!("\"{name}\""), reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    fn mean_var(v: &[f64]) -> (f64, f64) {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (mean, v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64)
    }

    /// The property and reason of an `Error::Property`.
    fn property_error<T: std::fmt::Debug>(result: Result<T>) -> (String, String) {
        match result {
            Err(Error::Property { property, reason, .. }) => (property, reason),
            other => panic!("expected a property error, got {other:?}"),
        }
    }

    fn draw(init: WeightInitializer, rows: usize, cols: usize, fan_in: usize, fan_out: usize, seed: u64) -> Vec<f64> {
        init.draw("InputWeightsInitializer", rows, cols, fan_in, fan_out, &mut rng(seed)).unwrap()
    }

    fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
        (0..cols * rows).map(|t| a[(t % rows) * cols + t / rows]).collect()
    }

    /// For `m × n` row-major `q` and `z` (m ≥ n): `QᵀQ = I` to `tol`, and `R = QᵀZ` upper
    /// triangular with a positive diagonal (the unique such QR: the sign correction).
    fn assert_sign_corrected_qr(q: &[f64], z: Option<&[f64]>, m: usize, n: usize, tol: f64) {
        let dot = |a: &[f64], b: &[f64], i: usize, j: usize| (0..m).map(|l| a[l * n + i] * b[l * n + j]).sum::<f64>();
        for i in 0..n {
            for j in 0..n {
                let delta = if i == j { 1.0 } else { 0.0 };
                assert!((dot(q, q, i, j) - delta).abs() < tol, "(QᵀQ)[{i},{j}] = {}", dot(q, q, i, j));
                if let Some(z) = z {
                    let r = dot(q, z, i, j);
                    assert!(if i == j { r > 0.0 } else { i < j || r.abs() < 1e-10 }, "R[{i},{j}] = {r}");
                }
            }
        }
    }

    #[test]
    fn glorot_he_and_narrow_normal_statistics() {
        let (fan_in, fan_out, n) = (20, 60, 120_000);
        let w = draw(WeightInitializer::Glorot, 300, 400, fan_in, fan_out, 1);
        let (mean, var) = mean_var(&w);
        let (expected, bound) = (2.0 / (fan_in + fan_out) as f64, (6.0 / (fan_in + fan_out) as f64).sqrt());
        assert!(mean.abs() < 5.0 * (expected / n as f64).sqrt(), "glorot mean {mean}");
        assert!((var / expected - 1.0).abs() < 0.02, "glorot variance {var}, expected {expected}");
        assert!(w.iter().all(|x| x.abs() <= bound) && w.iter().any(|x| x.abs() > 0.999 * bound));

        let he = draw(WeightInitializer::He, 300, 400, 25, 90, 2);
        let (mean, var) = mean_var(&he);
        assert!(mean.abs() < 5.0 * (0.08 / n as f64).sqrt(), "he mean {mean}");
        assert!((var / 0.08 - 1.0).abs() < 0.03, "he variance {var}, expected 0.08");

        let narrow = draw(WeightInitializer::NarrowNormal, 300, 400, 1, 1, 3);
        let bias: Vec<f64> = BiasInitializer::NarrowNormal.draw("BiasInitializer", n, &mut rng(4)).unwrap();
        for v in [narrow, bias] {
            let std = mean_var(&v).1.sqrt();
            assert!((std / 0.01 - 1.0).abs() < 0.015, "narrow-normal std {std}");
        }
    }

    #[test]
    fn orthogonal_is_one_sign_corrected_qr() {
        // 3H × H with H = 16: orthonormal columns, Z = QR with diag(R) > 0.
        let q = draw(WeightInitializer::Orthogonal, 48, 16, 16, 48, 5);
        assert_sign_corrected_qr(&q, Some(&normal(48 * 16, 1.0, &mut rng(5))), 48, 16, 1e-10);
        let q32: Vec<f32> = WeightInitializer::Orthogonal.draw("R", 48, 16, 16, 48, &mut rng(5)).unwrap();
        assert_sign_corrected_qr(&q32.into_iter().map(f64::from).collect::<Vec<_>>(), None, 48, 16, 1e-5);
        // Wide 12 × 40: orthonormal rows, Z = LQ with diag(L) > 0, i.e. Zᵀ = Qᵀ Lᵀ.
        let q = draw(WeightInitializer::Orthogonal, 12, 40, 40, 12, 6);
        let z = normal(12 * 40, 1.0, &mut rng(6));
        assert_sign_corrected_qr(&transpose(&q, 12, 40), Some(&transpose(&z, 12, 40)), 40, 12, 1e-10);
    }

    #[test]
    fn orthogonal_is_reproducible_and_centred() {
        let orthogonal = |seed| draw(WeightInitializer::Orthogonal, 48, 16, 16, 48, seed);
        assert_eq!(orthogonal(7), orthogonal(7));
        assert_ne!(orthogonal(7), orthogonal(8));
        // Haar: E[Q] = 0. Unsigned Householder QR would give Q[0][0] = -|z00|/‖z_0‖ < 0 always.
        let (mut generator, draws) = (rng(9), 400);
        let q00: Vec<f64> = (0..draws)
            .map(|_| WeightInitializer::Orthogonal.draw::<f64>("R", 8, 4, 4, 8, &mut generator).unwrap()[0])
            .collect();
        let (mean, var) = mean_var(&q00);
        assert!(mean.abs() < 4.0 * (1.0 / 8.0 / draws as f64).sqrt(), "mean of Q[0][0] {mean}");
        assert!((var * 8.0 - 1.0).abs() < 0.25, "variance of Q[0][0] {var}, expected 1/8");
    }

    #[test]
    fn constants_custom_and_errors() {
        let mut g = rng(10);
        assert_eq!(WeightInitializer::Zeros.draw::<f32>("W", 3, 2, 2, 3, &mut g).unwrap(), vec![0.0; 6]);
        assert_eq!(WeightInitializer::Ones.draw::<f64>("W", 3, 2, 2, 3, &mut g).unwrap(), vec![1.0; 6]);
        assert_eq!(BiasInitializer::Zeros.draw::<f64>("B", 6, &mut g).unwrap(), vec![0.0; 6]);
        assert_eq!(BiasInitializer::Ones.draw::<f32>("B", 6, &mut g).unwrap(), vec![1.0; 6]);
        for init in [WeightInitializer::Glorot, WeightInitializer::He, WeightInitializer::Orthogonal] {
            assert!(init.draw::<f64>("W", 0, 5, 0, 0, &mut g).unwrap().is_empty());
            let err = init.draw::<f64>("InputWeightsInitializer", 3, 1, 0, 0, &mut g).err();
            assert_eq!(err.is_some(), init.name() != "orthogonal", "{init:?}: {err:?}");
        }
        let f: CustomInit = Arc::new(|r, c| (0..r * c).map(|k| k as f64 + 0.5).collect());
        let w: Vec<f64> = WeightInitializer::Custom(f.clone()).draw("W", 2, 3, 3, 6, &mut g).unwrap();
        assert_eq!(w, vec![0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
        assert_eq!(BiasInitializer::Custom(f).draw::<f32>("B", 3, &mut g).unwrap(), vec![0.5, 1.5, 2.5]);

        let short = WeightInitializer::Custom(Arc::new(|_, _| vec![1.0; 5]));
        let nan = BiasInitializer::Custom(Arc::new(|_, _| vec![0.0, 1.0, f64::NAN, 2.0]));
        let (property, reason) = property_error(short.draw::<f64>("RecurrentWeightsInitializer", 2, 3, 3, 6, &mut g));
        assert!(property == "RecurrentWeightsInitializer" && reason.contains("5 values"), "{reason}");
        let (property, reason) = property_error(nan.draw::<f64>("BiasInitializer", 4, &mut g));
        assert!(property == "BiasInitializer" && reason.contains("value 2 (row 2, column 0) is NaN"), "{reason}");
    }

    #[test]
    fn names_round_trip() {
        let names = WeightInitializer::NAMED.map(|init| init.name());
        assert_eq!(names, ["glorot", "he", "orthogonal", "narrow-normal", "zeros", "ones"]);
        for name in names {
            assert_eq!(WeightInitializer::from_name(name).unwrap().name(), name);
            assert_eq!(WeightInitializer::from_name(&name.to_uppercase()).unwrap().name(), name);
        }
        for name in ["zeros", "narrow-normal", "ones"] {
            assert_eq!(BiasInitializer::from_name(&name.to_uppercase()).unwrap().name(), name);
        }
        let message = WeightInitializer::from_name("glorott").unwrap_err().to_string();
        assert!(message.contains("\"glorott\"") && names.iter().all(|n| message.contains(n)), "{message}");
        let (property, _) = property_error(WeightInitializer::parse("RecurrentWeightsInitializer", "custom"));
        assert_eq!(property, "RecurrentWeightsInitializer");
        assert!(BiasInitializer::from_name("glorot").unwrap_err().to_string().contains("narrow-normal"));
        assert_eq!(format!("{:?}", WeightInitializer::Custom(Arc::new(|_, _| Vec::new()))), "custom");
        assert_eq!(format!("{:?}", BiasInitializer::default()), "zeros");
    }

    #[test]
    fn korali_xavier_bounds_and_variance() {
        let (fan_in, fan_out, s, n) = (30, 90, 0.5, 120_000);
        let b = s * (6.0 / (fan_in + fan_out) as f64).sqrt();
        let w: Vec<f64> = korali_xavier(n, fan_in, fan_out, s, -1.0, 1.0, &mut rng(11));
        let (mean, var) = mean_var(&w);
        let expected = 2.0 * s * s / (fan_in + fan_out) as f64;
        assert!(w.iter().all(|x| x.abs() <= b) && mean.abs() < 5.0 * (expected / n as f64).sqrt(), "mean {mean}");
        assert!((var / expected - 1.0).abs() < 0.02, "variance {var}, expected {expected}");
        // u ~ U(0, 2): values in [0, 2b), mean b, variance b²/3.
        let w: Vec<f32> = korali_xavier(n, fan_in, fan_out, s, 0.0, 2.0, &mut rng(12));
        let w: Vec<f64> = w.into_iter().map(f64::from).collect();
        assert!(w.iter().all(|&x| (0.0..=2.0 * b + 1e-6).contains(&x)));
        let (mean, var) = mean_var(&w);
        assert!((mean / b - 1.0).abs() < 0.01 && (var / (b * b / 3.0) - 1.0).abs() < 0.02, "{mean} {var}");
        let draw = |seed| korali_xavier::<f64>(5, 1, 1, 1.0, -1.0, 1.0, &mut rng(seed));
        assert_eq!(draw(13), draw(13));
    }
}
