//! Training checkpoints: the network file (see `network/io.rs`) plus the trainer's state —
//! options, progress counters, history, patience, the best parameters and the optimizer
//! state (tensors `optimizer.*`, `best.params`) — so that a resumed run continues exactly.
//! The file is a gru model file written and read by [`crate::io`] (whose items this module
//! also re-exports, at their earlier path).

use std::path::Path;

use gru_core::Real;
use serde_json::{json, Value};

use super::history::History;
use super::options::TrainingOptions;
use super::trainer::{TrainState, Trainer};
use crate::error::{Error, Result};
use crate::io;
use crate::network::Network;
use crate::optim::{Optimizer, OptimizerState};

// The earlier path of `io::write_atomically`, still used by `convert/onnx`.
pub use crate::io::{
    load, model_json, save, save_tensors, take, take_as, NamedTensor, SafetensorsFile, TensorData, FORMAT_VERSION,
};

/// Writes `network` and the trainer's state to `path` (atomically).
pub fn save_training_checkpoint<T: Real>(path: &Path, network: &Network<T>, trainer: &Trainer<T>) -> Result<()> {
    let (mut model, mut tensors) = network.to_parts();
    let s = &trainer.state;
    let (opt_tensors, step) = s.optimizer.to_tensors();
    for (name, data) in opt_tensors {
        tensors.push(NamedTensor::new(name, vec![data.len()], data));
    }
    if let Some((_, best)) = &s.best {
        tensors.push(NamedTensor::new("best.params", vec![best.len()], best.clone()));
    }
    model["training"] = json!({
        "options": trainer.options,
        "epoch": s.epoch,
        "epoch_minibatches": s.epoch_minibatches,
        "iteration": s.iteration,
        "optimizer_step": step,
        "best_loss": s.best.as_ref().map(|b| b.0),
        "bad_validations": s.bad_validations,
        "stopped_early": s.stopped_early,
        "history": s.history,
    });
    io::save(path, &tensors, &model)
}

/// Reads a training checkpoint: the network and a trainer that continues the run.
pub fn load_training_checkpoint<T: Real>(path: &Path) -> Result<(Network<T>, Trainer<T>)> {
    let (mut tensors, model) = io::load(path)?;
    let network = Network::<T>::from_parts(&model, &mut tensors, path)?;
    let bad = |reason: String| Error::file(path, reason);
    let t = model.get("training").ok_or_else(|| bad("not a training checkpoint (no \"training\" section)".into()))?;
    let field = |name: &str| t.get(name).cloned().ok_or_else(|| bad(format!("training.{name} is missing")));
    let options: TrainingOptions =
        serde_json::from_value(field("options")?).map_err(|e| bad(format!("training.options: {e}")))?;
    let count = |name: &str| -> Result<usize> {
        field(name)?.as_u64().map(|v| v as usize).ok_or_else(|| bad(format!("training.{name} is not a count")))
    };
    let history: History =
        serde_json::from_value(field("history")?).map_err(|e| bad(format!("training.history: {e}")))?;
    let n = network.params_flat().len();
    let names: Vec<String> =
        tensors.iter().filter(|t| t.name.starts_with("optimizer.")).map(|t| t.name.clone()).collect();
    let mut opt = Vec::new();
    for name in names {
        opt.push((name.clone(), take_as::<T>(&mut tensors, &name, &[n], path)?));
    }
    let step = field("optimizer_step")?.as_u64().ok_or_else(|| bad("training.optimizer_step".into()))?;
    let optimizer = OptimizerState::from_tensors(options.solver, n, opt, step)?;
    let best = match t.get("best_loss").and_then(Value::as_f64) {
        Some(loss) => Some((loss, take_as::<T>(&mut tensors, "best.params", &[n], path)?)),
        None => None,
    };
    let state = TrainState {
        epoch: count("epoch")?,
        // Absent in checkpoints written before runs could stop inside an epoch.
        epoch_minibatches: if t.get("epoch_minibatches").is_some() { count("epoch_minibatches")? } else { 0 },
        iteration: count("iteration")?,
        optimizer,
        best,
        bad_validations: count("bad_validations")?,
        stopped_early: field("stopped_early")?.as_bool().unwrap_or(false),
        history,
    };
    options.validate()?;
    Ok((network, Trainer { options, state }))
}
