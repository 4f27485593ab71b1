//! Training: options, optimizers, minibatches, checkpoints and the training loop.

pub mod batching;
pub mod checkpoint;
pub mod optim;
