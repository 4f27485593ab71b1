//! Training: options, optimizers, minibatches, checkpoints and the training loop.

pub mod batching;
pub mod checkpoint;
mod evaluate;
pub mod history;
pub mod korali_optim;
pub mod metrics;
pub mod optim;
pub mod options;
mod resume;
mod trainer;

pub use evaluate::{argmax_rows, evaluate, predict, predict_padded, Evaluation};
pub use history::{History, IterationRecord, ValidationRecord};
pub use options::{OutputNetwork, TrainingOptions};
pub use resume::{load_training_checkpoint, save_training_checkpoint};
pub use trainer::{Progress, TrainState, Trainer, TrainingReport};
