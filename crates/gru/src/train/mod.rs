//! Training with MATLAB's `trainingOptions`: options, solvers, learn-rate schedule,
//! minibatches, one training step ([`train_step`]), the training loop ([`Trainer`]),
//! checkpoints, evaluation and metrics. The optimizers themselves are in [`crate::optim`].

pub mod batching;
mod carry;
pub mod checkpoint;
pub mod distributed;
mod evaluate;
pub mod history;
pub mod metrics;
pub mod options;
mod schedule;
mod solver;
mod step;
mod trainer;

pub use checkpoint::{load_training_checkpoint, save_training_checkpoint};
pub use evaluate::{
    argmax_rows, constant_predictor_rmse, evaluate, mean_predictor_rmse, predict, predict_padded, Evaluation,
};
pub use history::{History, IterationRecord, ValidationRecord};
pub use options::{OutputNetwork, TrainingOptions};
pub use schedule::LearnRateSchedule;
pub use solver::Solver;
pub use step::{train_step, train_step_reduced, Clipping, StepBatch, StepLoss, StepOptions, StepReport};
pub use trainer::{Progress, TrainState, Trainer, TrainingReport};

/// MATLAB's solver options at their earlier path (`gru::train::optim::Solver`, ...); the
/// optimizer math is in [`crate::optim`], the segments in [`crate::network::Segment`].
pub mod optim {
    pub use super::schedule::LearnRateSchedule;
    pub use super::solver::Solver;
    pub use crate::network::Segment;
    pub use crate::optim::{
        clip_gradients, validate_gradient_threshold, GradientThresholdMethod, Optimizer, OptimizerState,
    };
}
