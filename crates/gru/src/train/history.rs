//! The metrics history of a training run (what MATLAB's training-progress plot shows).

use serde::{Deserialize, Serialize};

/// One optimizer step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IterationRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// 1-based iteration (optimizer step).
    pub iteration: usize,
    /// Mean loss of the minibatch (chunk).
    pub loss: f64,
    /// Minibatch accuracy in [0, 1] (classification).
    pub accuracy: Option<f64>,
    /// Minibatch root mean squared error (regression).
    pub rmse: Option<f64>,
    pub learn_rate: f64,
}

/// One evaluation of the validation data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationRecord {
    pub epoch: usize,
    pub iteration: usize,
    pub loss: f64,
    pub accuracy: Option<f64>,
    pub rmse: Option<f64>,
}

/// Every iteration and validation of a run, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub iterations: Vec<IterationRecord>,
    pub validations: Vec<ValidationRecord>,
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

impl History {
    /// CSV, one row per iteration, with the validation columns filled at the iterations
    /// where a validation ran: `epoch,iteration,loss,accuracy,rmse,learn_rate,
    /// validation_loss,validation_accuracy,validation_rmse`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "epoch,iteration,loss,accuracy,rmse,learn_rate,validation_loss,validation_accuracy,validation_rmse\n",
        );
        for r in &self.iterations {
            let v = self.validations.iter().find(|v| v.iteration == r.iteration);
            out += &format!(
                "{},{},{},{},{},{},{},{},{}\n",
                r.epoch,
                r.iteration,
                r.loss,
                opt(r.accuracy),
                opt(r.rmse),
                r.learn_rate,
                opt(v.map(|v| v.loss)),
                opt(v.and_then(|v| v.accuracy)),
                opt(v.and_then(|v| v.rmse)),
            );
        }
        out
    }
}
