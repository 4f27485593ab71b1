//! `gru eval`: a saved model on a labelled data file.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use gru::network::{Head, Normalization};
use gru::train::metrics::{ClassificationReport, RegressionReport};
use gru::train::{argmax_rows, predict};
use gru::{Network, Real, Targets};

use super::{load_data, load_model, AnyNetwork, MissingArg};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A model saved by `gru train` (.safetensors).
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled data (.ts, .tsv, .csv, .npz), or Korali's data set (.json: {"Input": {"Data":
    /// ...}, "Solution": {"Data": ...}}, or an experiment): its test MSE against "Solution".
    #[arg(long)]
    pub data: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub missing: MissingArg,
}

pub fn run(a: &EvalArgs) -> Result<()> {
    let text = match load_model(&a.model)? {
        AnyNetwork::F32(mut n) => report(&mut n, a)?,
        AnyNetwork::F64(mut n) => report(&mut n, a)?,
    };
    out!("{text}");
    Ok(())
}

/// The evaluation report as text (or JSON).
pub fn report<T: Real>(net: &mut Network<T>, a: &EvalArgs) -> Result<String> {
    let data = load_data::<T>(&a.data, &a.missing)?;
    let per_step = net.sequence_output();
    if data.targets.per_step() != per_step {
        let (model, file) = if per_step {
            ("one output per step", "one target per sequence")
        } else {
            ("one output per sequence", "one target per step")
        };
        anyhow::bail!("{}: the model gives {model} (its GRU's output mode) but the file has {file}", a.data.display());
    }
    let data = data.align_classes(net.class_names())?;
    let out = predict(net, &data.sequences, data.channels, 128)?;
    let width = net.output_width();
    Ok(match (net.head().clone(), &data.targets) {
        (Head::Classification { .. }, Targets::Classes(t)) => {
            let pred: Vec<usize> = out.iter().map(|p| argmax_rows(p, width)[0]).collect();
            class_report(net, t, &pred, a.json)?
        }
        (Head::Classification { .. }, Targets::ClassSequences(t)) => {
            let pred: Vec<usize> = out.iter().flat_map(|p| argmax_rows(p, width)).collect();
            let truth: Vec<usize> = t.iter().flatten().copied().collect();
            class_report(net, &truth, &pred, a.json)?
        }
        (Head::Regression, Targets::Responses(t)) | (Head::Regression, Targets::ResponseSequences(t)) => {
            let pred: Vec<f64> = out.iter().flatten().map(|v| v.widen()).collect();
            let truth: Vec<f64> = t.iter().flatten().copied().collect();
            let r = RegressionReport::new(&pred, &truth);
            if a.json {
                serde_json::to_string_pretty(&r)? + "\n"
            } else {
                let mut text =
                    format!("rmse: {:.6}\nmae:  {:.6}\nmse:  {:.6}\nvalues: {}\n", r.rmse, r.mae, r.mse, r.count);
                if let Some(b) = training_mean_rmse(net, &truth) {
                    text += &format!("predicting the training mean: rmse {b:.6}\n");
                }
                text
            }
        }
        _ => anyhow::bail!("the data's targets do not match the model's output (classes vs responses)"),
    })
}

/// The RMSE of predicting the training mean of each response, when the model knows it: its
/// targets were normalized by z-score or zero-centering, whose offset is that mean.
fn training_mean_rmse<T: Real>(net: &Network<T>, truth: &[f64]) -> Option<f64> {
    let t = net.target_normalization()?;
    if !matches!(t.kind, Normalization::Zscore | Normalization::ZeroCenter) || t.offset.is_empty() {
        return None;
    }
    let mean: Vec<f64> = t.offset.iter().map(|m| m.widen()).collect();
    Some(gru::train::constant_predictor_rmse(truth, &mean))
}

/// The classification report over the model's classes (the data are aligned to them by name).
fn class_report<T: Real>(net: &Network<T>, truth: &[usize], pred: &[usize], json: bool) -> Result<String> {
    let r = ClassificationReport::new(net.class_names().to_vec(), truth, pred);
    Ok(if json { serde_json::to_string_pretty(&r)? + "\n" } else { r.to_text() })
}
