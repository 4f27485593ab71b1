//! The output layers' losses, their gradients w.r.t. the network output, and the metrics.
//!
//! ```text
//! classification: L = -(1/N) Σ_obs w_y · ln p_y        (p: softmax output, w: class weight or 1)
//! regression:     L = (1/(2·N·R)) Σ_obs Σ_r (y_r - t_r)²   (half mean squared error)
//! ```
//! An observation is a sequence (sequence-to-one) or a valid step (sequence-to-sequence);
//! N counts the observations that carry a target in this pass. [`Reduction::Sum`] drops the
//! division by `N` (and `R`): Korali's "Mean Squared Error" `L = ½ Σ_obs Σ_r (y_r - t_r)²`.

use gru_core::Real;

use super::{Head, Network, Pass};
use crate::error::{Error, Result};

/// How a loss combines the observations of a pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// The mean (MATLAB's output layers): `L = (1/(2·N·R)) Σ_obs Σ_r (y_r - t_r)²`, gradient
    /// `(y_r - t_r) / (N·R)` (regression); `L = -(1/N) Σ_obs w_y · ln p_y`, gradient
    /// `-w_y / (N·p_y)` (classification).
    #[default]
    Mean,
    /// The sum (Korali's "Mean Squared Error"): `L = ½ Σ_obs Σ_r (y_r - t_r)²`, gradient
    /// `y_r - t_r` (classification: `L = -Σ_obs w_y · ln p_y`, gradient `-w_y / p_y`).
    Sum,
}

impl<T: Real> Network<T> {
    /// The loss of `pass` against `targets` combined by `reduction`, and dL/d(output).
    pub fn loss(&self, pass: &Pass<T>, targets: &LossTargets<'_>, reduction: Reduction) -> Result<(LossStats, Vec<T>)> {
        let (head, seq, width) = (&self.head, self.sequence_output, self.output_width);
        let scale = self.target_normalization.as_ref().map(|t| &t.scale[..]);
        reduced_loss_and_grad(head, &pass.output, seq, &pass.lengths, width, targets, reduction, scale)
    }
}

impl<T: Real> Network<T> {
    /// The divisor `n` of [`Reduction::Mean`] for `count` observations: `N` (classification) or
    /// `N·R` (regression, `R` responses), so that the mean loss and its gradient are the sum's
    /// divided by `n` (data-parallel training divides the sum over every rank by the global `n`).
    pub fn mean_divisor(&self, count: usize) -> f64 {
        match self.head {
            Head::Classification { .. } => count as f64,
            Head::Regression => (count * self.output_width) as f64,
        }
    }
}

/// Targets of one forward pass, one entry per batch row (member).
#[derive(Clone, Debug, PartialEq)]
pub enum LossTargets<'a> {
    /// Sequence-to-one classes; `None`: this pass holds no loss for the member (an earlier
    /// chunk of a split sequence).
    Classes(Vec<Option<usize>>),
    /// The class of each valid step of the member in this pass.
    ClassSteps(Vec<&'a [usize]>),
    /// Sequence-to-one responses `[R]`.
    Responses(Vec<Option<&'a [f64]>>),
    /// The responses of each valid step, `[len, R]` row-major.
    ResponseSteps(Vec<&'a [f64]>),
}

/// Loss and metric sums of one pass.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossStats {
    /// The loss of this pass (the mean, or the sum under [`Reduction::Sum`]).
    pub loss: f64,
    /// Observations with a target.
    pub count: usize,
    /// Correct predictions (classification).
    pub correct: usize,
    /// Σ (y - t)² over every response (regression).
    pub squared_error: f64,
    /// Number of response values in `squared_error`.
    pub elements: usize,
}

/// Rows of the output that carry a target, with the target's position: `(row, t, member)`.
fn rows(seq: bool, batch: usize, lengths: &[usize]) -> Vec<(usize, usize, usize)> {
    if !seq {
        return (0..batch).map(|b| (b, 0, b)).collect();
    }
    let mut out = Vec::new();
    for (b, &len) in lengths.iter().enumerate() {
        for t in 0..len {
            out.push((t * batch + b, t, b));
        }
    }
    out
}

/// The loss of `output` (`[T, B, K]` when `seq`, else `[B, K]`) combined by `reduction`, and
/// dL/d(output). With `target_scale` `s` (normalized regression targets, `[R]`), the loss is
/// that of the normalized error `(y_r - t_r) / s_r` and its gradient w.r.t. `y_r` is divided
/// by `s_r` once more (the backward of the output's `y = offset + s·y'` multiplies it back);
/// `squared_error` stays in the targets' units.
#[allow(clippy::too_many_arguments)]
fn reduced_loss_and_grad<T: Real>(
    head: &Head,
    output: &[T],
    seq: bool,
    lengths: &[usize],
    width: usize,
    targets: &LossTargets<'_>,
    reduction: Reduction,
    target_scale: Option<&[T]>,
) -> Result<(LossStats, Vec<T>)> {
    let batch = lengths.len();
    let mut grad = vec![T::zero(); output.len()];
    let mut stats = LossStats::default();
    let mismatch = |what: &str| Error::data("targets", what, "do not match the network's output");
    // (row, target) pairs.
    let mut class_rows: Vec<(usize, usize)> = Vec::new();
    let mut resp_rows: Vec<(usize, &[f64])> = Vec::new();
    match (head, targets, seq) {
        (Head::Classification { .. }, LossTargets::Classes(c), false) if c.len() == batch => {
            class_rows = c.iter().enumerate().filter_map(|(b, y)| y.map(|y| (b, y))).collect();
        }
        (Head::Classification { .. }, LossTargets::ClassSteps(c), true) if c.len() == batch => {
            for (row, t, b) in rows(true, batch, lengths) {
                let y = *c[b].get(t).ok_or_else(|| mismatch("class sequence too short"))?;
                class_rows.push((row, y));
            }
        }
        (Head::Regression, LossTargets::Responses(r), false) if r.len() == batch => {
            resp_rows = r.iter().enumerate().filter_map(|(b, y)| y.map(|y| (b, y))).collect();
        }
        (Head::Regression, LossTargets::ResponseSteps(r), true) if r.len() == batch => {
            for (row, t, b) in rows(true, batch, lengths) {
                let y = r[b].get(t * width..(t + 1) * width).ok_or_else(|| mismatch("response sequence too short"))?;
                resp_rows.push((row, y));
            }
        }
        _ => return Err(mismatch("kind or count")),
    }
    match head {
        Head::Classification { class_weights } => {
            let n = class_rows.len();
            for &(row, y) in &class_rows {
                if y >= width {
                    return Err(Error::data("targets", y, format!("the network has {width} classes")));
                }
                let p = &output[row * width..(row + 1) * width];
                let w = class_weights.as_ref().map_or(1.0, |cw| cw[y]);
                let py = p[y].widen().max(f64::MIN_POSITIVE);
                match reduction {
                    Reduction::Mean => {
                        stats.loss -= w * py.ln() / n as f64;
                        grad[row * width + y] = T::lit(-w / (n as f64 * py));
                    }
                    Reduction::Sum => {
                        stats.loss -= w * py.ln();
                        grad[row * width + y] = T::lit(-w / py);
                    }
                }
                let arg = (0..width).fold(0, |best, k| if p[k] > p[best] { k } else { best });
                stats.correct += usize::from(arg == y);
            }
            stats.count = n;
        }
        Head::Regression => {
            let n = resp_rows.len();
            for &(row, y) in &resp_rows {
                if y.len() != width {
                    return Err(Error::data("targets", y.len(), format!("the network has {width} responses")));
                }
                for k in 0..width {
                    let e = output[row * width + k].widen() - y[k];
                    // The normalized error and the factor of its gradient w.r.t. y (1 without).
                    let (d, inv) = match target_scale {
                        Some(s) => (e / s[k].widen(), 1.0 / s[k].widen()),
                        None => (e, 1.0),
                    };
                    match reduction {
                        Reduction::Mean => {
                            stats.loss += d * d / (2.0 * (n * width) as f64);
                            grad[row * width + k] = T::lit(d / (n * width) as f64 * inv);
                        }
                        Reduction::Sum => {
                            stats.loss += 0.5 * d * d;
                            grad[row * width + k] = T::lit(d * inv);
                        }
                    }
                    stats.squared_error += e * e;
                }
            }
            stats.count = n;
            stats.elements = n * width;
        }
    }
    Ok((stats, grad))
}
