//! Running a [`KoraliExperiment`]: the network Korali's DeepSupervisor builds, Korali's
//! initialization, loss and optimizers, generations of optimizer steps.
//!
//! The network: `Input(Size)` -> the hidden layers (GRU, Linear, Activation) -> `Linear`
//! (solution size) -> the output activation (unless `"Identity"`) -> the output layer
//! (transformation, scale, shift). The output is read at each sequence's last step (the
//! last GRU has output mode `last`).
//!
//! One step, as Korali, is the one training step of [`crate::train::train_step_reduced`]: forward
//! over the step's sequences; for "Mean Squared Error" the loss is the regression output's
//! summed over the batch, `L = ½ Σ_b Σ_i (y - ŷ)²` ([`Reduction::Sum`]; Korali reports
//! `L / B`); for "Direct Gradient" the solution data `g` are Korali's ascent gradients, so
//! `∂L/∂y = -g` (reported: `sqrt(Σ g² / (2B))`); then `λθ` is added when L2 is enabled and
//! the optimizer (Korali's, [`KoraliOptimizer`](super::KoraliOptimizer)) takes one step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gru_core::Real;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::experiment::{KoraliExperiment, KoraliLoss};
use super::KoraliLayer;
use crate::data::{SequenceDataset, Targets};
use crate::error::{Error, Result};
use crate::layer::init::korali_xavier;
use crate::memory::{MemoryBudget, NetworkSize};
use crate::network::{
    activation, fully_connected, regression, sequence_input, softmax, Elementwise, GruLayerSpec, Initialization,
    LayerSpec, LossTargets, Network, Node, OutputTransform, Reduction, Transformation,
};
use crate::optim::{Optimizer, OptimizerState};
use crate::train::batching::{
    chunk_minibatch, epoch_order, minibatches, Chunk, PaddingDirection, SequenceLength, Shuffle,
};
use crate::train::distributed::{any_rank, broadcast_state, shard_range, GradientReducer, LocalReducer};
use crate::train::{train_step_reduced, StepBatch, StepLoss, StepOptions};
use crate::OutputMode;

/// What one generation reports (Korali prints the same per generation).
#[derive(Clone, Debug, PartialEq)]
pub struct GenerationReport {
    /// 1-based generation.
    pub generation: usize,
    /// Optimizer steps so far.
    pub steps: usize,
    /// The last step's loss (MSE: `½ Σ (y - ŷ)² / B`; direct gradient: `sqrt(Σ g² / (2B))`).
    pub loss: f64,
    pub elapsed: Duration,
}

/// What to change when an experiment diverges (see [`Error::Diverged`]).
const DIVERGENCE_HINT: &str = "lower [\"Solver\"][\"Learning Rate\"] (here the epoch is the generation, \
    the iteration the optimizer step)";

fn activation_spec(function: &str, alpha: f64, beta: f64) -> Result<LayerSpec> {
    Ok(if function == "Softmax" { softmax() } else { activation(Elementwise::from_korali(function, alpha, beta)?) })
}

impl KoraliExperiment {
    /// The layer array of the network the DeepSupervisor builds.
    pub fn layer_specs(&self) -> Result<Vec<LayerSpec>> {
        let (p, s) = (&self.problem, &self.solver);
        let mut specs = vec![sequence_input(p.input_size)];
        let last_gru = s.network.layers.iter().rposition(|l| matches!(l, KoraliLayer::Gru(_)));
        for (i, layer) in s.network.layers.iter().enumerate() {
            specs.push(match layer {
                KoraliLayer::Gru(g) => GruLayerSpec::new(g.spec(0))
                    .engine(s.network.engine)
                    .output_mode(if Some(i) == last_gru { OutputMode::Last } else { OutputMode::Sequence })
                    .into(),
                KoraliLayer::Linear(l) => fully_connected(l.output_channels),
                KoraliLayer::Activation(a) => activation_spec(&a.function, a.alpha, a.beta)?,
                KoraliLayer::Input(_) | KoraliLayer::Output(_) => {
                    return Err(Error::config(
                        "[\"Solver\"][\"Neural Network\"]",
                        layer.type_name(),
                        "added by the solver itself",
                    ))
                }
            });
        }
        if last_gru.is_none() {
            return Err(Error::config(
                "[\"Solver\"][\"Neural Network\"][\"Hidden Layers\"]",
                "no Layer/Recurrent/GRU",
                "sequence inputs need a GRU layer",
            ));
        }
        specs.push(fully_connected(p.solution_size));
        if let Some(f) = &s.output_activation {
            specs.push(activation_spec(f, 1.0, 0.0)?);
        }
        if let Some(o) = &s.output_layer {
            let transformations =
                o.transformation_mask.iter().map(|t| Transformation::from_korali(t)).collect::<Result<_>>()?;
            specs.push(LayerSpec::OutputTransform(OutputTransform {
                transformations,
                scale: o.scale.clone(),
                shift: o.shift.clone(),
            }));
        }
        specs.push(regression());
        Ok(specs)
    }

    /// Refuses an experiment whose network, or whose training (parameters, gradients,
    /// optimizer state, the activations of a batch of "Training Batch Size" sequences of "Max
    /// Timesteps"), exceeds [`MemoryBudget::current`], before anything is allocated; the
    /// error names the Korali key (`["Solver"]["Neural Network"]["Hidden Layers"][0]["Output
    /// Channels"]`, `["Problem"]["Training Batch Size"]`, ...).
    pub fn check_memory<T: Real>(&self) -> Result<()> {
        let specs = self.layer_specs()?;
        let size = NetworkSize::of(&specs);
        let (p, s) = (&self.problem, &self.solver);
        let hidden = s.network.layers.len();
        let list = s.network.layer_list.key();
        // specs: the input, the hidden layers, the linear layer to the solution size, ...
        let name = |i: usize, field: &str| match (i, field) {
            (0, _) => "[\"Problem\"][\"Input\"][\"Size\"]".to_string(),
            (i, f) if i <= hidden => {
                let key = if f == "depth" { "Depth" } else { "Output Channels" };
                format!("[\"Solver\"][\"Neural Network\"][\"{list}\"][{}][\"{key}\"]", i - 1)
            }
            _ => "[\"Problem\"][\"Solution\"][\"Size\"]".to_string(),
        };
        let budget = MemoryBudget::current();
        let bytes = std::mem::size_of::<T>();
        size.check_params(bytes, &budget, &name)?;
        let batch = p.training_batch_size.min(p.input.len());
        let steps = p.input.iter().map(Vec::len).max().unwrap_or(0);
        let states = crate::optim::Method::from(s.optimizer).state_names().len();
        size.check_training(bytes, batch, steps, states, &budget, "[\"Problem\"][\"Training Batch Size\"]", &name)
    }

    /// The network with Korali's initial weights: every weight of a GRU or linear layer
    /// `s · sqrt(6 / (in + out)) · U(min, max)` (s: the layer's "Weight Scaling", or
    /// "Output Weights Scaling" for the final linear layer), biases 0, from "Random Seed".
    pub fn build_network<T: Real>(&self) -> Result<Network<T>> {
        self.check_memory::<T>()?;
        let mut net = Network::<T>::new(self.layer_specs()?, self.random_seed)?;
        let u = &self.solver.network.uniform_generator;
        let mut rng = ChaCha8Rng::seed_from_u64(self.random_seed);
        let mut scalings = self.solver.network.layers.iter().filter_map(|l| match l {
            KoraliLayer::Gru(g) => Some(g.weight_scaling),
            KoraliLayer::Linear(l) => Some(l.weight_scaling),
            _ => None,
        });
        let (mut flat, mut used) = (Vec::new(), Vec::new());
        for node in &net.nodes {
            match node {
                Node::Gru(g) => {
                    let s = scalings.next().unwrap_or(1.0);
                    used.push(s);
                    let params = g.params().ok_or_else(|| Error::data("params", "GRU", "not initialized"))?;
                    for b in params.blocks() {
                        let (inp, h) = (b.input_size(), b.hidden_size());
                        flat.extend(korali_xavier::<T>(b.w().len(), inp, h, s, u.minimum, u.maximum, &mut rng));
                        flat.extend(korali_xavier::<T>(b.r().len(), inp, h, s, u.minimum, u.maximum, &mut rng));
                        flat.extend(vec![T::zero(); b.bias().len()]);
                    }
                }
                Node::Dense(d) => {
                    let s = scalings.next().unwrap_or(self.solver.output_weights_scaling);
                    used.push(s);
                    flat.extend(korali_xavier::<T>(d.w.len(), d.inputs, d.outputs, s, u.minimum, u.maximum, &mut rng));
                    flat.extend(vec![T::zero(); d.b.len()]);
                }
                _ => {}
            }
        }
        net.set_params_flat(&flat)?;
        net.set_initialization(Initialization::KoraliUniform {
            minimum: u.minimum,
            maximum: u.maximum,
            weight_scalings: used,
        });
        Ok(net)
    }

    /// The problem's data as a data set (responses: the solution of each sequence's last step).
    pub fn dataset<T: Real>(&self) -> Result<SequenceDataset<T>> {
        let p = &self.problem;
        let seqs = p.input.iter().map(|s| s.iter().flatten().map(|&v| T::lit(v)).collect()).collect();
        SequenceDataset::new(seqs, p.input_size, Targets::Responses(p.solution.clone()))
    }

    /// Trains as Korali does; `progress` is called after every generation. See
    /// [`KoraliExperiment::train_until`].
    pub fn train<T: Real>(
        &self,
        progress: &mut dyn FnMut(&GenerationReport),
    ) -> Result<(Network<T>, Vec<GenerationReport>)> {
        self.train_until(&AtomicBool::new(false), progress)
    }

    /// [`KoraliExperiment::train`] that stops once `stop` is set, read before each optimizer
    /// step: [`Error::Interrupted`] with the generation under way (its `epoch`) and the steps
    /// taken (its `iteration`). Errors also: [`Error::MemoryBudget`] (see
    /// [`KoraliExperiment::check_memory`]) before anything is allocated, and
    /// [`Error::Diverged`] when a step's loss, gradient or updated parameter is not finite
    /// (its `epoch` the generation, its `iteration` the step).
    pub fn train_until<T: Real>(
        &self,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&GenerationReport),
    ) -> Result<(Network<T>, Vec<GenerationReport>)> {
        self.train_reduced(stop, &LocalReducer, progress)
    }

    /// [`KoraliExperiment::train_until`] as one rank of data-parallel training (see
    /// [`crate::train::distributed`]): every rank runs the same experiment; each takes its
    /// shard ([`shard_range`]) of every minibatch of the DeepSupervisor, the summed losses'
    /// gradients are summed over the ranks ([`train_step_reduced`]; Korali's loss is a sum, so
    /// nothing is divided), every rank starts from rank 0's weights and stops together. The
    /// reported loss is the global batch's. With [`LocalReducer`] this is
    /// [`KoraliExperiment::train_until`].
    pub fn train_reduced<T: Real>(
        &self,
        stop: &AtomicBool,
        reducer: &dyn GradientReducer,
        progress: &mut dyn FnMut(&GenerationReport),
    ) -> Result<(Network<T>, Vec<GenerationReport>)> {
        let (p, s) = (&self.problem, &self.solver);
        let mut net = self.build_network::<T>()?;
        let data = self.dataset::<T>()?;
        let n = data.len();
        let mut opt = OptimizerState::<T>::new(s.optimizer, net.params_flat().len());
        broadcast_state(reducer, &mut net, &mut opt)?;
        let started = Instant::now();
        let mut reports = Vec::new();
        let (mut step, mut epoch, mut queue) = (0usize, 0usize, Vec::<Vec<usize>>::new());
        for generation in 1..=s.max_generations {
            let mut loss = 0.0;
            for _ in 0..s.steps_per_generation {
                if any_rank(reducer, stop.load(Ordering::Relaxed))? {
                    return Err(Error::Interrupted { epoch: generation, iteration: step });
                }
                let batch = if p.training_batch_size >= n {
                    (0..n).collect()
                } else {
                    if queue.is_empty() {
                        queue = minibatches(
                            &epoch_order(n, Shuffle::EveryEpoch, self.random_seed, epoch),
                            p.training_batch_size,
                            true,
                        )?;
                        queue.reverse();
                        epoch += 1;
                    }
                    queue.pop().unwrap_or_default()
                };
                loss = self
                    .step(&mut net, &mut opt, &data, &batch, reducer)
                    .map_err(|e| e.in_iteration(generation, step + 1, DIVERGENCE_HINT))?;
                step += 1;
            }
            let r = GenerationReport { generation, steps: step, loss, elapsed: started.elapsed() };
            progress(&r);
            reports.push(r);
        }
        Ok((net, reports))
    }

    /// One training step ([`train_step_reduced`]) on the sequences `batch` (this rank's shard
    /// of them), with Korali's loss, L2 and no clipping; returns Korali's reported loss of the
    /// whole batch (MSE: `L / B`; direct gradient: `sqrt(L / B)`).
    fn step<T: Real>(
        &self,
        net: &mut Network<T>,
        opt: &mut dyn Optimizer<T>,
        data: &SequenceDataset<T>,
        batch: &[usize],
        reducer: &dyn GradientReducer,
    ) -> Result<f64> {
        if batch.is_empty() {
            return Err(Error::data("batch", 0, "empty"));
        }
        // One chunk of every sequence whole (SequenceLength::Longest): the shard's own chunk.
        let batch = &batch[shard_range(batch.len(), reducer.rank(), reducer.size())];
        let seqs: Vec<&[T]> = batch.iter().map(|&i| &data.sequences[i][..]).collect();
        let chunk = match seqs.is_empty() {
            true => Chunk {
                x: Vec::new(),
                steps: 0,
                members: Vec::new(),
                lengths: Vec::new(),
                offsets: Vec::new(),
                starts: Vec::new(),
                ends: Vec::new(),
            },
            false => chunk_minibatch(&seqs, data.channels, SequenceLength::Longest, PaddingDirection::Right)?
                .pop()
                .ok_or_else(|| Error::data("batch", 0, "empty"))?,
        };
        let solution = |member: &usize| &self.problem.solution[batch[*member]][..];
        let loss = match self.solver.loss {
            KoraliLoss::MeanSquaredError => StepLoss::Output {
                targets: LossTargets::Responses(chunk.members.iter().map(|m| Some(solution(m))).collect()),
                reduction: Reduction::Sum,
            },
            KoraliLoss::DirectGradient => StepLoss::DirectGradient(chunk.members.iter().map(solution).collect()),
        };
        let learn_rate = self.solver.learning_rate;
        if !(learn_rate >= 0.0 && learn_rate.is_finite()) {
            let path = "[\"Solver\"][\"Learning Rate\"]";
            return Err(Error::config(path, learn_rate, "must be finite and nonnegative"));
        }
        let options = StepOptions { learn_rate, clipping: None, gradient_l2: self.solver.l2_importance };
        let input = StepBatch { x: &chunk.x, steps: chunk.steps, lengths: &chunk.lengths, initial_states: None };
        let mut rng = ChaCha8Rng::seed_from_u64(self.random_seed);
        let report = train_step_reduced(net, opt, &input, &loss, &options, &mut rng, reducer)?;
        let b = report.stats.count as f64;
        Ok(match self.solver.loss {
            KoraliLoss::MeanSquaredError => report.stats.loss / b,
            KoraliLoss::DirectGradient => (report.stats.loss / b).sqrt(),
        })
    }
}

/// Korali-style prediction: sequences × steps × input size in, one output vector per
/// sequence out, in batches of `batch_size`.
pub fn predict_sequences<T: Real>(
    net: &mut Network<T>,
    input: &[Vec<Vec<f64>>],
    batch_size: usize,
) -> Result<Vec<Vec<f64>>> {
    let c = net.input_size();
    let mut seqs = Vec::with_capacity(input.len());
    for (i, s) in input.iter().enumerate() {
        if s.is_empty() || s.iter().any(|step| step.len() != c) {
            return Err(Error::data(
                &format!("input[{i}]"),
                format!("{} steps", s.len()),
                format!("each of >= 1 steps must have {c} values"),
            ));
        }
        seqs.push(s.iter().flatten().map(|&v| T::lit(v)).collect::<Vec<T>>());
    }
    let out = crate::train::predict(net, &seqs, c, batch_size.max(1))?;
    Ok(out.into_iter().map(|o| o.iter().map(|v| v.widen()).collect()).collect())
}
