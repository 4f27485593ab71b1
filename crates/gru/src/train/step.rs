//! One training step — forward, loss, backward, gradient clipping, optimizer update — the one
//! loop body of both training loops: [`Trainer::fit`](super::Trainer::fit) (MATLAB's
//! `trainingOptions`) and [`KoraliExperiment::train`](crate::korali::KoraliExperiment::train)
//! (Korali's DeepSupervisor). What differs between them is an input of the step:
//!
//! | | MATLAB trainer | Korali experiment |
//! |---|---|---|
//! | loss | the output layer's, [`Reduction::Mean`] | "Mean Squared Error": the regression output's, [`Reduction::Sum`]; "Direct Gradient": [`StepLoss::DirectGradient`] |
//! | clipping | [`Clipping`] by the network's segments | none |
//! | L2 | the optimizer's (coupled, per segment, in `f64`) | [`StepOptions::gradient_l2`]: `g ← g + λθ` in `T` |
//! | optimizer | [`Solver`](super::Solver)'s, [`Form::Matlab`](crate::optim::Form::Matlab) | [`KoraliOptimizer`](crate::korali::KoraliOptimizer)'s, [`Form::Korali`](crate::optim::Form::Korali) |
//!
//! ```text
//! y = f(x; θ)                        forward (training pass: dropout from rng)
//! L, ∂L/∂y                           the loss of y
//! g = ∂L/∂θ                          backward
//! g ← clip(g)                        when clipping
//! g ← g + λθ                         with gradient_l2 λ
//! θ ← optimizer(θ, g, α)
//! ```

use gru_core::Real;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::network::{LossStats, LossTargets, Network, Reduction, Segment};
use crate::optim::{clip_gradients, GradientThresholdMethod, Optimizer};

/// One batch as the network reads it.
#[derive(Clone, Copy, Debug)]
pub struct StepBatch<'a, T> {
    /// `x: [steps, B, C]` time-major, valid steps first.
    pub x: &'a [T],
    pub steps: usize,
    /// `lengths[B]`, each in `0..=steps` (0: an empty sequence).
    pub lengths: &'a [usize],
    /// Each GRU node's initial state `[D·dirs, B, H]` by node index (truncated BPTT), or `None`.
    pub initial_states: Option<&'a [Option<Vec<T>>]>,
}

/// What a step minimizes.
#[derive(Clone, Debug, PartialEq)]
pub enum StepLoss<'a> {
    /// The loss of the network's output layer (`network/loss.rs`) against `targets`.
    Output { targets: LossTargets<'a>, reduction: Reduction },
    /// Korali's "Direct Gradient": per batch row, the gradient `g: [K]` that Korali ascends for
    /// the network's output `y: [B, K]`, so `∂L/∂y = −g`. Its loss is `L = ½ Σ_b Σ_k g²`, count
    /// `B`.
    DirectGradient(Vec<&'a [f64]>),
}

/// Gradient clipping (MATLAB's `GradientThresholdMethod` and `GradientThreshold`), by
/// `segments` (the learnable tensors of `L2Norm`); see [`clip_gradients`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clipping<'a> {
    pub method: GradientThresholdMethod,
    pub threshold: f64,
    pub segments: &'a [Segment],
}

/// How one step updates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOptions<'a> {
    /// The optimizer's step size `α` of this step.
    pub learn_rate: f64,
    /// Clipping of the loss gradient; `None`: none.
    pub clipping: Option<Clipping<'a>>,
    /// Korali's L2 `λ`: `g ← g + λθ`, computed in `T`, after clipping and before the optimizer.
    /// (MATLAB's L2 is the optimizer's: [`OptimizerState::with_segments`](crate::optim::OptimizerState::with_segments).)
    pub gradient_l2: Option<f64>,
}

/// What one step reports.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport<T> {
    /// The loss and metric sums of the forward pass (before the update).
    pub stats: LossStats,
    /// Each GRU node's final state `[D·dirs, B, H]` by node index (for truncated BPTT).
    pub final_states: Vec<Option<Vec<T>>>,
    /// Whether the parameters were updated: not when no row of the batch carries a target (an
    /// early chunk of a split sequence with a sequence-to-one target).
    pub updated: bool,
}

/// One training step of `network` on `batch`: forward (dropout from `rng`), `loss`, backward,
/// then `options`' clipping and L2 and one `optimizer` step with `options.learn_rate`; the
/// network's parameters are updated in place. Errors: the network's (shapes, targets), the
/// optimizer's, and [`Error::Diverged`] for a non-finite loss, gradient or updated parameter
/// (naming the first parameter's layer and tensor); on an error from the optimizer or a
/// divergence the parameters are unchanged.
pub fn train_step<T: Real>(
    network: &mut Network<T>,
    optimizer: &mut dyn Optimizer<T>,
    batch: &StepBatch<'_, T>,
    loss: &StepLoss<'_>,
    options: &StepOptions<'_>,
    rng: &mut ChaCha8Rng,
) -> Result<StepReport<T>> {
    let mut pass = network.forward(batch.x, batch.steps, batch.lengths, batch.initial_states, Some(rng))?;
    if let Some(v) = pass.output.iter().find(|v| !v.is_finite()) {
        return Err(Error::diverged("the output", "the network's output layer", v.widen()));
    }
    let final_states = std::mem::take(&mut pass.final_states);
    let (stats, d_output) = match loss {
        StepLoss::Output { targets, reduction } => network.loss(&pass, targets, *reduction)?,
        StepLoss::DirectGradient(g) => direct_gradient(pass.output.len(), network.output_width(), g)?,
    };
    if stats.count == 0 {
        return Ok(StepReport { stats, final_states, updated: false });
    }
    if !stats.loss.is_finite() {
        return Err(Error::diverged("the loss", "the network's output", stats.loss));
    }
    if let Some(v) = d_output.iter().find(|v| !v.is_finite()) {
        return Err(Error::diverged("the loss gradient", "the network's output layer", v.widen()));
    }
    // A gradient that overflows on its way back through the layers is named by backward.
    let mut grads = network.backward(pass, &d_output)?;
    check_finite(network, &grads, "the gradient")?;
    if let Some(c) = options.clipping {
        clip_gradients(&mut grads, c.segments, c.method, c.threshold);
    }
    let mut params = network.params_flat();
    if let Some(lambda) = options.gradient_l2 {
        // g ← g + λθ in T (Korali's L2)
        for (g, p) in grads.iter_mut().zip(&params) {
            *g += T::lit(lambda) * *p;
        }
    }
    optimizer.step(&mut params, &grads, options.learn_rate)?;
    check_finite(network, &params, "the updated value")?;
    network.set_params_flat(&params)?;
    Ok(StepReport { stats, final_states, updated: true })
}

/// Refuses a non-finite value of `values` (gradients or parameters, the order of
/// [`Network::params_flat`]): the error names the first one's layer and tensor.
fn check_finite<T: Real>(network: &Network<T>, values: &[T], quantity: &str) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => {
            let location = network.parameter_name(i).unwrap_or_else(|| format!("parameter {i}"));
            Err(Error::diverged(quantity, location, values[i].widen()))
        }
        None => Ok(()),
    }
}

/// Korali's "Direct Gradient" for an output `y: [B, K]` of `len` values: `∂L/∂y = −g` and
/// `L = ½ Σ g²` (count `B`), from `g`: one `[K]` row per batch row.
fn direct_gradient<T: Real>(len: usize, width: usize, g: &[&[f64]]) -> Result<(LossStats, Vec<T>)> {
    if g.len() * width != len {
        return Err(Error::data("targets", g.len(), format!("rows; the output holds {len} values of width {width}")));
    }
    let mut d = vec![T::zero(); len];
    let mut stats = LossStats { count: g.len(), ..LossStats::default() };
    for (m, row) in g.iter().enumerate() {
        if row.len() != width {
            return Err(Error::data("targets", row.len(), format!("the network has {width} outputs")));
        }
        for (k, &gk) in row.iter().enumerate() {
            d[m * width + k] = T::lit(-gk);
            stats.loss += 0.5 * gk * gk;
        }
    }
    Ok((stats, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_gradient_is_the_negated_ascent_gradient() {
        let g = [&[1.0, -2.0][..], &[0.5, 0.0][..]];
        let (stats, d) = direct_gradient::<f32>(4, 2, &g).unwrap();
        assert_eq!(d, [-1.0, 2.0, -0.5, 0.0]);
        assert_eq!((stats.loss, stats.count), (0.5 * (1.0 + 4.0 + 0.25), 2));
        assert!(direct_gradient::<f32>(6, 2, &g).is_err());
        assert!(direct_gradient::<f32>(4, 2, &[&[1.0][..], &[1.0, 2.0, 3.0][..]]).is_err());
    }
}
