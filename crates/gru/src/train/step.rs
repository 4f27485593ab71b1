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

use super::distributed::{sum_all, GradientReducer, LocalReducer};
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
    train_step_reduced(network, optimizer, batch, loss, options, rng, &LocalReducer)
}

/// [`train_step`] of one rank of data-parallel training (see [`super::distributed`]): `batch`
/// and `loss` are this rank's shard of the global batch (it may hold no sequence); the loss
/// is summed over the shard, the gradient and the loss statistics are summed over the ranks by
/// `reducer`, and a [`Reduction::Mean`] loss is divided by the global count, so that every rank
/// takes the step of one process on the whole batch: `g = Σ_r Σ_{obs of r} ∂ℓ/∂θ / n`. The
/// report's statistics are the global ones, its final states this rank's.
///
/// Every decision (no target in the batch, divergence, a rank's error) is taken on the sums, so
/// all ranks take it together; a rank whose own part fails returns its error, the others
/// [`Error::Distributed`] naming it. With [`LocalReducer`] (one process) this is [`train_step`].
pub fn train_step_reduced<T: Real>(
    network: &mut Network<T>,
    optimizer: &mut dyn Optimizer<T>,
    batch: &StepBatch<'_, T>,
    loss: &StepLoss<'_>,
    options: &StepOptions<'_>,
    rng: &mut ChaCha8Rng,
    reducer: &dyn GradientReducer,
) -> Result<StepReport<T>> {
    let (stats, mut grads, final_states) = if reducer.size() > 1 {
        let local = shard_gradient(network, batch, loss, rng);
        match reduce(network, reducer, loss, local)? {
            Reduced::Step(stats, grads, states) => (stats, grads, states),
            Reduced::NoTarget(stats, final_states) => return Ok(StepReport { stats, final_states, updated: false }),
        }
    } else {
        match local_gradient(network, batch, loss, rng)? {
            (stats, Some(grads), states) => (stats, grads, states),
            (stats, None, final_states) => return Ok(StepReport { stats, final_states, updated: false }),
        }
    };
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

/// The loss statistics, the gradient (`None`: no row carries a target) and the final states of
/// one process's batch, every value checked finite.
type Local<T> = (LossStats, Option<Vec<T>>, Vec<Option<Vec<T>>>);

fn local_gradient<T: Real>(
    network: &mut Network<T>,
    batch: &StepBatch<'_, T>,
    loss: &StepLoss<'_>,
    rng: &mut ChaCha8Rng,
) -> Result<Local<T>> {
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
        return Ok((stats, None, final_states));
    }
    if !stats.loss.is_finite() {
        return Err(Error::diverged("the loss", "the network's output", stats.loss));
    }
    if let Some(v) = d_output.iter().find(|v| !v.is_finite()) {
        return Err(Error::diverged("the loss gradient", "the network's output layer", v.widen()));
    }
    // A gradient that overflows on its way back through the layers is named by backward.
    let grads = network.backward(pass, &d_output)?;
    check_finite(network, &grads, "the gradient")?;
    Ok((stats, Some(grads), final_states))
}

/// One rank's part of a step (see [`shard_gradient`]).
type Shard<T> = (LossStats, Vec<T>, Vec<Option<Vec<T>>>);

/// One rank's part: its shard's summed loss statistics, the gradient of the summed loss (zero
/// without a target), its final states. Values are not checked here: a non-finite one reaches
/// every rank through the sums.
fn shard_gradient<T: Real>(
    network: &mut Network<T>,
    batch: &StepBatch<'_, T>,
    loss: &StepLoss<'_>,
    rng: &mut ChaCha8Rng,
) -> Result<Shard<T>> {
    let n = network.params_flat().len();
    let zero = || vec![T::zero(); n];
    if batch.lengths.is_empty() {
        return Ok((LossStats::default(), zero(), Vec::new()));
    }
    let mut pass = network.forward(batch.x, batch.steps, batch.lengths, batch.initial_states, Some(rng))?;
    let final_states = std::mem::take(&mut pass.final_states);
    let (stats, d_output) = match loss {
        StepLoss::Output { targets, .. } => network.loss(&pass, targets, Reduction::Sum)?,
        StepLoss::DirectGradient(g) => direct_gradient(pass.output.len(), network.output_width(), g)?,
    };
    if stats.count == 0 {
        return Ok((stats, zero(), final_states));
    }
    Ok((stats, network.backward(pass, &d_output)?, final_states))
}

/// What the ranks decided together.
enum Reduced<T> {
    /// The global statistics, the global gradient (checked finite), this rank's final states.
    Step(LossStats, Vec<T>, Vec<Option<Vec<T>>>),
    /// No rank's shard carries a target: no update.
    NoTarget(LossStats, Vec<Option<Vec<T>>>),
}

/// Sums the ranks' statistics (with a failure flag per rank) and, when every rank succeeded and
/// some observation carries a target, their gradients, divided by the global count of a
/// [`Reduction::Mean`] loss.
fn reduce<T: Real>(
    network: &Network<T>,
    reducer: &dyn GradientReducer,
    loss: &StepLoss<'_>,
    local: Result<Shard<T>>,
) -> Result<Reduced<T>> {
    let (rank, size) = (reducer.rank(), reducer.size());
    // [loss, count, correct, squared_error, elements, failed(rank 0), ..., failed(rank N-1)]
    let mut sums = vec![0.0; 5 + size];
    sums[5 + rank] = 1.0;
    if let Ok((s, _, _)) = &local {
        sums[..5].copy_from_slice(&[s.loss, s.count as f64, s.correct as f64, s.squared_error, s.elements as f64]);
        sums[5 + rank] = 0.0;
    }
    let sums = sum_all(reducer, sums)?;
    let (_, grads, final_states) = local?;
    if let Some(failed) = sums[5..].iter().position(|&f| f > 0.0) {
        let reason = format!("rank {failed} failed in this step (its error is in its output); this rank stops too");
        return Err(Error::Distributed { rank, size, reason });
    }
    let mut global = LossStats {
        loss: sums[0],
        count: sums[1] as usize,
        correct: sums[2] as usize,
        squared_error: sums[3],
        elements: sums[4] as usize,
    };
    if global.count == 0 {
        return Ok(Reduced::NoTarget(global, final_states));
    }
    let divisor = match loss {
        StepLoss::Output { reduction: Reduction::Mean, .. } => network.mean_divisor(global.count),
        _ => 1.0,
    };
    global.loss /= divisor;
    if !global.loss.is_finite() {
        return Err(Error::diverged("the loss", "the network's output", global.loss));
    }
    let mut grads = sum_all(reducer, grads)?;
    if divisor != 1.0 {
        let d = T::lit(divisor);
        grads.iter_mut().for_each(|g| *g = *g / d);
    }
    check_finite(network, &grads, "the gradient")?;
    Ok(Reduced::Step(global, grads, final_states))
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
