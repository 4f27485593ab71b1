//! The element-wise and dense layers of a network, forward and backward, over rows:
//! a sequence activation `[T, B, C]` is `T·B` rows of C, a per-sequence one `[B, C]` is
//! B rows.

use gru_core::ops::{matmul, Matrix};
use gru_core::Real;

/// `fullyConnectedLayer`: `y = W x + b`, W `out × in` row-major, b `[out]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense<T> {
    pub inputs: usize,
    pub outputs: usize,
    /// `out × in` row-major.
    pub w: Vec<T>,
    /// `[out]`.
    pub b: Vec<T>,
}

impl<T: Real> Dense<T> {
    /// `rows × out` = `x (rows × in) · Wᵀ + b`.
    pub fn forward(&self, x: &[T], rows: usize) -> Vec<T> {
        let mut y = Vec::new();
        self.forward_into(x, rows, &mut y);
        y
    }

    /// [`Dense::forward`] into `y` (resized to `rows × out`; no allocation when its
    /// capacity suffices: a network stream's step).
    pub fn forward_into(&self, x: &[T], rows: usize, y: &mut Vec<T>) {
        y.clear();
        y.resize(rows * self.outputs, T::zero());
        matmul(y, false, Matrix::new(x, rows, self.inputs), Matrix::new(&self.w, self.outputs, self.inputs).t());
        for row in y.chunks_exact_mut(self.outputs) {
            for (o, &b) in row.iter_mut().zip(&self.b) {
                *o += b;
            }
        }
    }

    /// Given dL/dy (`rows × out`) and the input x: returns `(dx, dW, db)`.
    pub fn backward(&self, x: &[T], dy: &[T], rows: usize) -> (Vec<T>, Vec<T>, Vec<T>) {
        let mut dx = vec![T::zero(); rows * self.inputs];
        matmul(&mut dx, false, Matrix::new(dy, rows, self.outputs), Matrix::new(&self.w, self.outputs, self.inputs));
        let mut dw = vec![T::zero(); self.outputs * self.inputs];
        matmul(&mut dw, false, Matrix::new(dy, rows, self.outputs).t(), Matrix::new(x, rows, self.inputs));
        let mut db = vec![T::zero(); self.outputs];
        for row in dy.chunks_exact(self.outputs) {
            for (o, &d) in db.iter_mut().zip(row) {
                *o += d;
            }
        }
        (dx, dw, db)
    }
}

/// Softmax over each row of `width`: `p_k = e^{z_k - max z} / Σ_j e^{z_j - max z}`.
pub fn softmax<T: Real>(z: &[T], width: usize) -> Vec<T> {
    let mut p = z.to_vec();
    softmax_in_place(&mut p, width);
    p
}

/// [`softmax`] in place: `z` becomes `p`.
pub fn softmax_in_place<T: Real>(p: &mut [T], width: usize) {
    for row in p.chunks_exact_mut(width) {
        let max = row.iter().copied().fold(T::neg_infinity(), T::max);
        let mut sum = T::zero();
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v = *v / sum;
        }
    }
}

/// Softmax backward per row: `dz_k = p_k (dp_k - Σ_j p_j dp_j)`.
pub fn softmax_backward<T: Real>(p: &[T], dp: &[T], width: usize) -> Vec<T> {
    let mut dz = vec![T::zero(); p.len()];
    for ((pr, dpr), dzr) in p.chunks_exact(width).zip(dp.chunks_exact(width)).zip(dz.chunks_exact_mut(width)) {
        let dot: T = pr.iter().zip(dpr).map(|(&a, &b)| a * b).sum();
        for k in 0..width {
            dzr[k] = pr[k] * (dpr[k] - dot);
        }
    }
    dz
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_softmax_gradients_match_finite_differences() {
        let d = Dense::<f64> { inputs: 3, outputs: 2, w: vec![0.1, -0.2, 0.3, 0.4, 0.5, -0.6], b: vec![0.05, -0.05] };
        let x = vec![1.0, 2.0, -1.0, 0.5, -0.5, 0.25];
        let dy = vec![0.3, -0.7, 1.1, 0.2];
        let loss = |d: &Dense<f64>, x: &[f64]| -> f64 {
            let p = softmax(&d.forward(x, 2), 2);
            p.iter().zip(&dy).map(|(a, b)| a * b).sum()
        };
        let p = softmax(&d.forward(&x, 2), 2);
        let dz = softmax_backward(&p, &dy, 2);
        let (dx, dw, db) = d.backward(&x, &dz, 2);
        let eps = 1e-6;
        for i in 0..x.len() {
            let (mut a, mut b) = (x.clone(), x.clone());
            a[i] += eps;
            b[i] -= eps;
            assert!(((loss(&d, &a) - loss(&d, &b)) / (2.0 * eps) - dx[i]).abs() < 1e-8);
        }
        for (i, g) in dw.iter().enumerate() {
            let (mut a, mut b) = (d.clone(), d.clone());
            a.w[i] += eps;
            b.w[i] -= eps;
            assert!(((loss(&a, &x) - loss(&b, &x)) / (2.0 * eps) - g).abs() < 1e-8);
        }
        for (i, g) in db.iter().enumerate() {
            let (mut a, mut b) = (d.clone(), d.clone());
            a.b[i] += eps;
            b.b[i] -= eps;
            assert!(((loss(&a, &x) - loss(&b, &x)) / (2.0 * eps) - g).abs() < 1e-8);
        }
        assert!((p[0] + p[1] - 1.0).abs() < 1e-15);
    }
}
