//! Layer normalization of one gate block (the H values of one gate of one row), forward and
//! backward, for the fast path (the reference path has its own scalar version).
//!
//! ```text
//! μ = mean(v),  σ² = mean((v - μ)²),  ρ = 1 / sqrt(σ² + ε)
//! v̂ = (v - μ) ρ,   out = γ ⊙ v̂ (+ β, which the fast path folds into the bias)
//! backward, g = d_out ⊙ γ:
//!   dγ += d_out ⊙ v̂,   dβ += d_out
//!   dv  = ρ (g - mean(g) - v̂ ⊙ mean(g ⊙ v̂))
//! ```

use super::options::LAYER_NORM_EPSILON;
use crate::real::Real;

/// Normalizes `v` in place (`v ← v̂`) and returns ρ.
#[inline]
pub(crate) fn normalize<T: Real>(v: &mut [T]) -> T {
    let n = T::lit(v.len() as f64);
    let mean = v.iter().copied().sum::<T>() / n;
    let var = v.iter().map(|&x| (x - mean) * (x - mean)).sum::<T>() / n;
    let rho = T::one() / (var + T::lit(LAYER_NORM_EPSILON)).sqrt();
    for x in v.iter_mut() {
        *x = (*x - mean) * rho;
    }
    rho
}

/// Each of the gate blocks of `row` (blocks of `u` values, as many as `gains` has) is
/// normalized and scaled, `row_g ← γ_g ⊙ v̂_g`; `keep` receives the v̂ (`row.len()` values)
/// and the ρ (one per block) for backward.
#[inline]
pub(crate) fn normalize_gates<T: Real>(row: &mut [T], u: usize, gains: &[T], keep: Option<(&mut [T], &mut [T])>) {
    let mut rhos = [T::zero(); 3];
    for (k, block) in row.chunks_exact_mut(u).take(gains.len() / u).enumerate() {
        rhos[k] = normalize(block);
    }
    if let Some((vhat, rho)) = keep {
        vhat.copy_from_slice(row);
        rho.copy_from_slice(&rhos[..rho.len()]);
    }
    for (x, &g) in row.iter_mut().zip(gains) {
        *x *= g;
    }
}

/// The backward of [`normalize_gates`] for one row: from `d_out` (the gradient of
/// `γ ⊙ v̂ + β`), `vhat` and `rho` (as kept), accumulates `dgain += d_out ⊙ v̂` and writes the
/// gradient of the raw values into `dv`.
#[inline]
pub(crate) fn normalize_gates_grad<T: Real>(
    d_out: &[T],
    u: usize,
    gains: &[T],
    vhat: &[T],
    rho: &[T],
    dgain: &mut [T],
    dv: &mut [T],
) {
    let n = T::lit(u as f64);
    for (k, ((((d, g), vh), dg), out)) in d_out
        .chunks_exact(u)
        .zip(gains.chunks_exact(u))
        .zip(vhat.chunks_exact(u))
        .zip(dgain.chunks_exact_mut(u))
        .zip(dv.chunks_exact_mut(u))
        .enumerate()
    {
        let (mut sum_g, mut sum_gv) = (T::zero(), T::zero());
        for j in 0..u {
            dg[j] += d[j] * vh[j];
            let gj = d[j] * g[j];
            sum_g += gj;
            sum_gv += gj * vh[j];
        }
        let (mean_g, mean_gv) = (sum_g / n, sum_gv / n);
        for j in 0..u {
            out[j] = rho[k] * (d[j] * g[j] - mean_g - vh[j] * mean_gv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `L(v) = Σ c ⊙ (γ ⊙ v̂)` for fixed weights `c`, two gate blocks of 4.
    fn loss(v: &[f64], gains: &[f64], c: &[f64]) -> f64 {
        let mut row = v.to_vec();
        normalize_gates(&mut row, 4, gains, None);
        row.iter().zip(c).map(|(a, b)| a * b).sum()
    }

    #[test]
    fn gradients_match_finite_differences() {
        let v = [0.3, -1.2, 2.0, 0.7, 5.0, 4.5, -3.0, 0.1];
        let gains = [1.0, 0.5, -2.0, 1.5, 0.9, 1.1, 0.7, -0.4];
        let c = [0.2, -0.7, 1.3, 0.4, -0.5, 0.8, 0.6, -1.1];
        let mut row = v.to_vec();
        let (mut vhat, mut rho) = ([0.0; 8], [0.0; 2]);
        normalize_gates(&mut row, 4, &gains, Some((&mut vhat, &mut rho)));
        for block in vhat.chunks_exact(4) {
            let mean: f64 = block.iter().sum::<f64>() / 4.0;
            let var: f64 = block.iter().map(|x| x * x).sum::<f64>() / 4.0;
            assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-4, "{mean} {var}");
        }
        let (mut dgain, mut dv) = ([0.0; 8], [0.0; 8]);
        normalize_gates_grad(&c, 4, &gains, &vhat, &rho, &mut dgain, &mut dv);
        let eps = 1e-6;
        for i in 0..8 {
            let (mut up, mut down) = (v, v);
            up[i] += eps;
            down[i] -= eps;
            let fd = (loss(&up, &gains, &c) - loss(&down, &gains, &c)) / (2.0 * eps);
            assert!((fd - dv[i]).abs() < 1e-7, "dv[{i}] {} vs {fd}", dv[i]);
            let (mut gu, mut gd) = (gains, gains);
            gu[i] += eps;
            gd[i] -= eps;
            let fd = (loss(&v, &gu, &c) - loss(&v, &gd, &c)) / (2.0 * eps);
            assert!((fd - dgain[i]).abs() < 1e-7, "dγ[{i}] {} vs {fd}", dgain[i]);
        }
    }
}
