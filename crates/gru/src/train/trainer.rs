//! The training loop: epochs of shuffled minibatches of variable-length sequences, split
//! into chunks for truncated BPTT when `SequenceLength` is a number, one training step
//! ([`train_step`](super::train_step)) per chunk, validation with patience, checkpoints, and a metrics history.
//!
//! Reproducibility: the order of each epoch and every dropout mask derive from the seed
//! and the epoch or iteration number alone, so a run resumed from a checkpoint (saved at
//! the end of an epoch, or where a run stopped by [`Trainer::fit_until`]'s flag stood)
//! continues exactly as the uninterrupted run.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use gru_core::Real;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::batching::{chunk_minibatch, epoch_batches, SequenceLength};
use super::carry::Carried;
use super::distributed::{
    any_rank, broadcast_state, rank_seed, shard_chunk, shard_range, GradientReducer, LocalReducer,
};
use super::evaluate::{batch_targets, evaluate, Evaluation};
use super::history::{History, IterationRecord, ValidationRecord};
use super::options::{OutputNetwork, TrainingOptions};
use super::step::{train_step_reduced, Clipping, StepBatch, StepLoss, StepOptions};
use crate::data::{SequenceDataset, Targets};
use crate::error::{Error, Result};
use crate::memory::{MemoryBudget, NetworkSize};
use crate::network::{Head, Network, Reduction};
use crate::optim::OptimizerState;

/// What the trainer reports while it runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress<'a> {
    /// After each optimizer step; `of` is the total number of iterations planned.
    Iteration { record: &'a IterationRecord, of: usize },
    /// After each validation.
    Validation(&'a ValidationRecord),
    /// After each epoch (1-based), with the checkpoint written, if any.
    Epoch { epoch: usize, of: usize, checkpoint: Option<&'a Path> },
}

/// Where a run stands: everything a checkpoint needs to resume it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState<T> {
    /// Epochs completed.
    pub epoch: usize,
    /// Minibatches done of the epoch under way (a run interrupted inside an epoch resumes
    /// after them); 0 at the end of an epoch.
    pub epoch_minibatches: usize,
    /// Optimizer steps taken.
    pub iteration: usize,
    pub optimizer: OptimizerState<T>,
    /// The lowest validation loss and the parameters that gave it.
    pub best: Option<(f64, Vec<T>)>,
    /// Validations since the best one (patience counter).
    pub bad_validations: usize,
    pub stopped_early: bool,
    pub history: History,
}

/// The outcome of [`Trainer::fit`].
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingReport {
    pub history: History,
    pub epochs: usize,
    pub iterations: usize,
    pub stopped_early: bool,
    /// The last validation, if validation data were given.
    pub final_validation: Option<Evaluation>,
}

/// Trains a [`Network`] with [`TrainingOptions`].
pub struct Trainer<T: Real> {
    pub options: TrainingOptions,
    pub state: TrainState<T>,
}

/// What to change when training diverges (see [`Error::Diverged`]).
const DIVERGENCE_HINT: &str = "lower the learn rate (InitialLearnRate, gru train --learn-rate) \
    or set a gradient threshold (GradientThreshold, gru train --gradient-threshold)";

fn dropout_rng(seed: u64, iteration: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_D20F_0000_0000);
    rng.set_stream(iteration as u64);
    rng
}

impl<T: Real> Trainer<T> {
    /// A fresh run for `network`.
    pub fn new(network: &Network<T>, options: TrainingOptions) -> Result<Self> {
        options.validate()?;
        let n = network.params_flat().len();
        let state = TrainState {
            epoch: 0,
            epoch_minibatches: 0,
            iteration: 0,
            optimizer: OptimizerState::new(options.solver, n),
            best: None,
            bad_validations: 0,
            stopped_early: false,
            history: History::default(),
        };
        Ok(Self { options, state })
    }

    /// Checks that `data` fits `network` (channels, target kind and width).
    fn check_data(network: &Network<T>, data: &SequenceDataset<T>, what: &str) -> Result<()> {
        data.validate()?;
        data.check_complete()?;
        if data.channels != network.input_size() {
            return Err(Error::data(
                what,
                data.channels,
                format!("channels; the network reads {}", network.input_size()),
            ));
        }
        let kind_ok = matches!(
            (network.head(), &data.targets, network.sequence_output()),
            (Head::Classification { .. }, Targets::Classes(_), false)
                | (Head::Classification { .. }, Targets::ClassSequences(_), true)
                | (Head::Regression, Targets::Responses(_), false)
                | (Head::Regression, Targets::ResponseSequences(_), true)
        );
        if !kind_ok {
            return Err(Error::data(
                what,
                "targets",
                "the target kind does not match the network (classes vs responses, per sequence vs per step)",
            ));
        }
        if data.target_width() != network.output_width() {
            return Err(Error::data(
                what,
                data.target_width(),
                format!("classes or responses; the network outputs {}", network.output_width()),
            ));
        }
        Ok(())
    }

    /// Trains until `max_epochs`, early stopping or the end of the data; `progress` is
    /// called after every iteration, validation and epoch. See [`Trainer::fit_until`].
    pub fn fit(
        &mut self,
        network: &mut Network<T>,
        train: &SequenceDataset<T>,
        validation: Option<&SequenceDataset<T>>,
        progress: &mut dyn FnMut(&Progress<'_>),
    ) -> Result<TrainingReport> {
        self.fit_until(network, train, validation, &AtomicBool::new(false), progress)
    }

    /// [`Trainer::fit`] that stops at a safe point once `stop` is set (by a signal handler,
    /// another thread, `progress`): `stop` is read before each minibatch, and when set the
    /// run returns [`Error::Interrupted`] with `self.state` where the run stands (every
    /// minibatch before it done, none of it), so that a checkpoint saved then
    /// ([`save_training_checkpoint`](super::save_training_checkpoint)) resumes exactly.
    ///
    /// Errors also: [`Error::MemoryBudget`] before the first step when the parameters,
    /// gradients, optimizer state and a batch's activations exceed
    /// [`MemoryBudget::current`]; [`Error::Diverged`] when a step's loss, gradient or updated
    /// parameter is not finite (naming the epoch, the iteration and the layer; the network
    /// keeps the parameters of the step before).
    pub fn fit_until(
        &mut self,
        network: &mut Network<T>,
        train: &SequenceDataset<T>,
        validation: Option<&SequenceDataset<T>>,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&Progress<'_>),
    ) -> Result<TrainingReport> {
        self.fit_reduced(network, train, validation, stop, &LocalReducer, progress)
    }

    /// [`Trainer::fit_until`] as one rank of data-parallel training (see
    /// [`super::distributed`]): every rank calls it with the same network, data, options and
    /// seed; each takes its shard ([`shard_range`]) of every global minibatch (cut into chunks
    /// whole first, so that `SequenceLength` means what it means for one process), the
    /// gradients are summed by `reducer` ([`train_step_reduced`]), every rank starts from rank
    /// 0's parameters and optimizer state ([`broadcast_state`]), stops together (a `stop` on
    /// any rank) and keeps rank 0's validation loss for patience and the best network. Only
    /// rank 0 writes checkpoints. With [`LocalReducer`] this is [`Trainer::fit_until`].
    pub fn fit_reduced(
        &mut self,
        network: &mut Network<T>,
        train: &SequenceDataset<T>,
        validation: Option<&SequenceDataset<T>>,
        stop: &AtomicBool,
        reducer: &dyn GradientReducer,
        progress: &mut dyn FnMut(&Progress<'_>),
    ) -> Result<TrainingReport> {
        let o = self.options.clone();
        let (rank, ranks) = (reducer.rank(), reducer.size());
        Self::check_data(network, train, "training data")?;
        if let Some(v) = validation {
            Self::check_data(network, v, "validation data")?;
        }
        if o.output_network == OutputNetwork::BestValidationLoss && validation.is_none() {
            return Err(Error::property("OutputNetwork", "best-validation-loss", "needs validation data"));
        }
        if matches!(o.sequence_length, SequenceLength::Fixed(_))
            && network.gru_layers().any(|g| g.bidirectional() || g.reverse())
        {
            return Err(Error::property(
                "SequenceLength",
                format!("{:?}", o.sequence_length),
                "splitting sequences (truncated BPTT) has no meaning for bidirectional or reverse layers",
            ));
        }
        self.check_memory(network, train, ranks)?;
        if self.state.epoch == 0 && self.state.iteration == 0 {
            network.fit_normalization(train)?;
            network.fit_target_normalization(train, o.target_normalization)?;
        }
        broadcast_state(reducer, network, &mut self.state.optimizer)?;
        let segments = network.segments();
        // MATLAB's per-parameter learn-rate and L2 factors, and its coupled L2.
        self.state.optimizer.set_segments(segments.clone(), o.l2_regularization)?;
        let per_epoch = o.minibatches_per_epoch(train.len())?;
        let steps: Vec<usize> = (0..train.len()).map(|i| train.steps(i)).collect();
        let planned = per_epoch * o.max_epochs;
        let width = network.output_width();
        let classification = matches!(network.head(), Head::Classification { .. });
        let mut last_validation = None;
        let mut validated_at = None;
        while self.state.epoch < o.max_epochs && !self.state.stopped_early {
            let epoch = self.state.epoch;
            let lr = o.learn_rate_schedule.learn_rate(o.learn_rate(), epoch + 1);
            let clipping =
                Clipping { method: o.gradient_threshold_method, threshold: o.gradient_threshold, segments: &segments };
            let step_options = StepOptions { learn_rate: lr, clipping: Some(clipping), gradient_l2: None };
            let done = self.state.epoch_minibatches;
            let batches = epoch_batches(
                &steps,
                o.mini_batch_size,
                o.shuffle,
                o.seed,
                epoch,
                o.sort_by_length,
                o.partial_mini_batch,
            )?;
            for (k, mb) in batches.into_iter().enumerate().skip(done) {
                if any_rank(reducer, stop.load(Ordering::Relaxed))? {
                    return Err(Error::Interrupted { epoch: epoch + 1, iteration: self.state.iteration });
                }
                let seqs: Vec<&[T]> = mb.iter().map(|&i| &train.sequences[i][..]).collect();
                let chunks = chunk_minibatch(&seqs, train.channels, o.sequence_length, o.sequence_padding_direction)?;
                let mut carried = Carried::new(network, mb.len());
                let shard = shard_range(mb.len(), rank, ranks);
                for chunk in chunks {
                    let chunk = if ranks > 1 { shard_chunk(&chunk, &shard) } else { chunk };
                    let initial = carried.initial_states(&chunk);
                    let batch = StepBatch {
                        x: &chunk.x,
                        steps: chunk.steps,
                        lengths: &chunk.lengths,
                        initial_states: Some(&initial),
                    };
                    let idx: Vec<usize> = chunk.members.iter().map(|&m| mb[m]).collect();
                    let targets =
                        batch_targets(&train.targets, &idx, &chunk.offsets, &chunk.lengths, &chunk.ends, width);
                    let loss = StepLoss::Output { targets, reduction: Reduction::Mean };
                    let mut rng = dropout_rng(rank_seed(o.seed, rank), self.state.iteration + 1);
                    let optimizer = &mut self.state.optimizer;
                    let step = train_step_reduced(network, optimizer, &batch, &loss, &step_options, &mut rng, reducer)
                        .map_err(|e| e.in_iteration(epoch + 1, self.state.iteration + 1, DIVERGENCE_HINT))?;
                    carried.keep(&chunk, &step.final_states);
                    if !step.updated {
                        continue; // an early chunk of sequence-to-one targets: no loss here
                    }
                    let stats = step.stats;
                    self.state.iteration += 1;
                    let record = IterationRecord {
                        epoch: epoch + 1,
                        iteration: self.state.iteration,
                        loss: stats.loss,
                        accuracy: classification.then(|| stats.correct as f64 / stats.count as f64),
                        rmse: (!classification).then(|| (stats.squared_error / stats.elements.max(1) as f64).sqrt()),
                        learn_rate: lr,
                    };
                    self.state.history.iterations.push(record.clone());
                    progress(&Progress::Iteration { record: &record, of: planned });
                    if let Some(v) = validation {
                        if self.state.iteration.is_multiple_of(o.validation_frequency) {
                            last_validation = Some(self.validate(network, v, epoch + 1, reducer, progress)?);
                            validated_at = Some(self.state.iteration);
                            if self.state.stopped_early {
                                break;
                            }
                        }
                    }
                }
                self.state.epoch_minibatches = k + 1;
                if self.state.stopped_early {
                    break;
                }
            }
            self.state.epoch += 1;
            self.state.epoch_minibatches = 0;
            let mut written = None;
            if let Some(path) = &o.checkpoint_path {
                if self.state.epoch.is_multiple_of(o.checkpoint_frequency) && rank == 0 {
                    super::checkpoint::save_training_checkpoint(path, network, self)?;
                    written = Some(path.as_path());
                }
            }
            progress(&Progress::Epoch { epoch: self.state.epoch, of: o.max_epochs, checkpoint: written });
        }
        if let Some(v) = validation {
            if validated_at != Some(self.state.iteration) {
                last_validation = Some(self.validate(network, v, self.state.epoch, reducer, progress)?);
            }
        }
        if o.output_network == OutputNetwork::BestValidationLoss {
            if let Some((_, best)) = &self.state.best {
                network.set_params_flat(best)?;
            }
        }
        Ok(TrainingReport {
            history: self.state.history.clone(),
            epochs: self.state.epoch,
            iterations: self.state.iteration,
            stopped_early: self.state.stopped_early,
            final_validation: last_validation,
        })
    }

    /// Refuses a run whose parameters, gradients, optimizer state and activations of the
    /// largest batch ([`NetworkSize::training_bytes`]; a rank's shard of it when training on
    /// `ranks` ranks) exceed [`MemoryBudget::current`].
    fn check_memory(&self, network: &Network<T>, train: &SequenceDataset<T>, ranks: usize) -> Result<()> {
        let o = &self.options;
        let longest = train.sequences.iter().map(|s| s.len() / train.channels.max(1)).max().unwrap_or(0);
        let steps = match o.sequence_length {
            SequenceLength::Fixed(n) => n.min(longest),
            _ => longest,
        };
        let batch = o.mini_batch_size.min(train.len()).div_ceil(ranks.max(1));
        let states = self.state.optimizer.method().state_names().len();
        let name = |i: usize, field: &str| format!("layers[{i}].{field}");
        NetworkSize::of(network.specs()).check_training(
            std::mem::size_of::<T>(),
            batch,
            steps,
            states,
            &MemoryBudget::current(),
            "MiniBatchSize",
            &name,
        )
    }

    fn validate(
        &mut self,
        network: &mut Network<T>,
        data: &SequenceDataset<T>,
        epoch: usize,
        reducer: &dyn GradientReducer,
        progress: &mut dyn FnMut(&Progress<'_>),
    ) -> Result<Evaluation> {
        let mut e = evaluate(network, data, self.options.mini_batch_size)?;
        // Every rank keeps rank 0's loss: patience and the best network agree everywhere even
        // where the ranks' sums round differently (other threads, other machines).
        let mut loss = [e.loss];
        reducer.broadcast_f64(&mut loss)?;
        e.loss = loss[0];
        let record = ValidationRecord {
            epoch,
            iteration: self.state.iteration,
            loss: e.loss,
            accuracy: e.accuracy,
            rmse: e.rmse,
        };
        let improved = self.state.best.as_ref().is_none_or(|(best, _)| e.loss < *best);
        if improved {
            self.state.best = Some((e.loss, network.params_flat()));
            self.state.bad_validations = 0;
        } else {
            self.state.bad_validations += 1;
            if self.options.validation_patience.is_some_and(|p| self.state.bad_validations >= p) {
                self.state.stopped_early = true;
            }
        }
        self.state.history.validations.push(record.clone());
        progress(&Progress::Validation(&record));
        Ok(e)
    }
}
