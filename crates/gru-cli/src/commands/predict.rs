//! `gru predict`: a saved model on a data file; CSV or JSON out (stdout by default).
//!
//! A model whose file name ends in `.onnx` is run by the ONNX graph runtime
//! (`gru::convert::onnx::OnnxModel`, in f64 when the model's floats are double, else f32):
//! - **Inputs.** The sequences go to the input and layout that
//!   `OnnxModel::sequence_input` finds (it follows the first GRU node's `X` back through
//!   Transposes to a graph input: `[T, B, C]`, or `[B, T, C]` for batch-first models), and
//!   each sequence's length to the graph's `sequence_lens` input when it has one. Any other
//!   graph input (e.g. `initial_h`) is an error. Sequences of equal length are batched
//!   together (up to 128, and never as many as their steps), so no padding reaches the
//!   model. Empty sequences (length 0) run as one step of zero padding with length 0, so
//!   they need a `sequence_lens` input (without one they are an error naming the
//!   sequence); an output with a step axis gives them no row.
//! - **Output.** The graph's first output, per sequence: its batch axis is a non-last axis
//!   whose size is the batch (axis 0 for batch-first inputs and 2-D outputs, else axis 1),
//!   its last axis the values of one row; an output of rank 3 or more gives one row per
//!   step. An output computed by Softmax or LogSoftmax is read as class scores (columns
//!   named by the classes of a network we exported, else `class0`, `class1`, ...,
//!   prediction the best class), any other as responses
//!   (`response0`, ..., prediction the first).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use gru::convert::onnx::runtime::{model_float_type, SequenceInput};
use gru::convert::onnx::{self, OnnxModel, Tensor};
use gru::network::Head;
use gru::train::{argmax_rows, predict};
use gru::{DType, Network, Real};
use serde_json::json;

use super::{load_data, load_model, AnyNetwork, MissingArg};
use crate::paths::Files;

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A model saved by `gru train`, or an ONNX model (`.onnx`) of a GRU sequence
    /// classifier or regressor.
    #[arg(long)]
    pub model: PathBuf,
    /// Data (.ts, .tsv, .csv, .npz, or Korali's .json data set); its labels, if any, are ignored.
    #[arg(long, required_unless_present = "korali_input")]
    pub data: Option<PathBuf>,
    /// Korali-style input instead: a JSON list of sequences, each a list of steps of values,
    /// or Korali's data set ({"Input": {"Data": ...}, ...}, or an experiment); the output is
    /// a JSON list of output vectors.
    #[arg(long, conflicts_with = "data")]
    pub korali_input: Option<PathBuf>,
    /// Output file: .csv or .json (stdout as CSV when absent).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub missing: MissingArg,
}

pub fn run(a: &PredictArgs) -> Result<()> {
    Files::new()
        .input("--model", Some(&a.model))
        .input("--data", a.data.as_deref())
        .input("--korali-input", a.korali_input.as_deref())
        .output("--out", a.out.as_deref())
        .check()?;
    if let Some(input) = &a.korali_input {
        let json = serde_json::to_string(&super::korali::predict_korali(&a.model, input, 100)?)? + "\n";
        return match &a.out {
            Some(p) => super::train::write_atomic(p, json.as_bytes()),
            None => {
                out!("{json}");
                Ok(())
            }
        };
    }
    let (csv, json) = if is_onnx(&a.model) {
        render_onnx(a)?
    } else {
        match load_model(&a.model)? {
            AnyNetwork::F32(mut n) => render(&mut n, a)?,
            AnyNetwork::F64(mut n) => render(&mut n, a)?,
        }
    };
    match &a.out {
        Some(p) if p.extension().is_some_and(|e| e == "json") => {
            super::train::write_atomic(p, (serde_json::to_string_pretty(&json)? + "\n").as_bytes())
        }
        Some(p) => super::train::write_atomic(p, csv.as_bytes()),
        None => {
            out!("{csv}");
            Ok(())
        }
    }
}

/// CSV: `sequence,step,prediction,<one column per class probability or response>` (step is
/// empty for sequence-to-one); JSON: a list of objects with the same content.
fn render<T: Real>(net: &mut Network<T>, a: &PredictArgs) -> Result<(String, serde_json::Value)> {
    let path = a.data.as_deref().ok_or_else(|| anyhow::anyhow!("--data is required"))?;
    // Labels are not needed: unlabelled files (`@classLabel false`) predict too.
    let context = || format!("loading data {}", path.display());
    let (mut sequences, channels) = gru::data::load_inputs::<T>(path).with_context(context)?;
    gru::data::Missing::from(a.missing.missing).apply_to(&mut sequences, channels).with_context(context)?;
    let out = predict(net, &sequences, channels, 128)?;
    let width = net.output_width();
    let classification = matches!(net.head(), Head::Classification { .. });
    let names: Vec<String> =
        if classification { net.class_names().to_vec() } else { (0..width).map(|r| format!("response{r}")).collect() };
    let out: Vec<Vec<f64>> = out.iter().map(|o| o.iter().map(|v| v.widen()).collect()).collect();
    let per_step = net.sequence_output() || out.iter().any(|o| o.len() / width > 1);
    Ok(table(&out, &names, classification, per_step))
}

/// The rows of every sequence's output `out[i]` (`[rows, width]`, width = `names.len()`).
fn table(out: &[Vec<f64>], names: &[String], classification: bool, per_step: bool) -> (String, serde_json::Value) {
    let width = names.len();
    let mut csv = format!("sequence,step,prediction,{}\n", names.join(","));
    let mut rows = Vec::new();
    for (i, o) in out.iter().enumerate() {
        for (t, values) in o.chunks_exact(width).enumerate() {
            let prediction =
                if classification { names[argmax_rows(values, width)[0]].clone() } else { format!("{}", values[0]) };
            let step = if per_step { t.to_string() } else { String::new() };
            let cells: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            csv += &format!("{i},{step},{prediction},{}\n", cells.join(","));
            rows.push(
                json!({"sequence": i, "step": per_step.then_some(t), "prediction": prediction, "values": values}),
            );
        }
    }
    (csv, json!({"columns": names, "predictions": rows}))
}

fn is_onnx(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// An ONNX model on the data file (see the module documentation).
fn render_onnx(a: &PredictArgs) -> Result<(String, serde_json::Value)> {
    let proto = onnx::load(&a.model).with_context(|| format!("loading model {}", a.model.display()))?;
    match model_float_type(&proto) {
        DType::F32 => render_onnx_as::<f32>(&proto, a),
        DType::F64 => render_onnx_as::<f64>(&proto, a),
    }
}

fn render_onnx_as<T: Real>(proto: &onnx::proto::ModelProto, a: &PredictArgs) -> Result<(String, serde_json::Value)> {
    let model = OnnxModel::<T>::from_model(proto, &a.model)
        .with_context(|| format!("loading ONNX model {}", a.model.display()))?;
    let seq = model.sequence_input()?;
    let others: Vec<&str> = model
        .inputs()
        .iter()
        .map(|i| i.name.as_str())
        .filter(|&n| n != seq.x && Some(n) != seq.lengths.as_deref())
        .collect();
    if !others.is_empty() {
        bail!(
            "the ONNX model has inputs {others:?} that a data file cannot feed (it feeds the sequences to {:?}{})",
            seq.x,
            seq.lengths.as_ref().map(|l| format!(" and their lengths to {l:?}")).unwrap_or_default()
        );
    }
    let path = a.data.as_deref().ok_or_else(|| anyhow::anyhow!("--data is required"))?;
    let data = load_data::<f64>(path, &a.missing)?;
    if let Some(c) = seq.channels.filter(|&c| c != data.channels) {
        bail!("the ONNX model's input {} has {c} channels, the data {}", seq.x, data.channels);
    }
    let first = model.output_names()[0].to_string();
    let classification = matches!(model.output_op(&first), Some("Softmax" | "LogSoftmax"));
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.sort_by_key(|&i| data.steps(i));
    let mut out: Vec<Vec<f64>> = vec![Vec::new(); data.len()];
    let (mut width, mut per_step) = (None, false);
    let mut k = 0;
    while k < order.len() {
        let steps = data.steps(order[k]);
        if steps == 0 && seq.lengths.is_none() {
            bail!(
                "sequence {} is empty, and the ONNX model has no sequence-length input to say so (it reads \
                 every sequence whole: a graph with a sequence_lens input is needed)",
                order[k]
            );
        }
        let same = order[k..].iter().take_while(|&&i| data.steps(i) == steps).count();
        // Never as many sequences as steps: the batch axis of the output is then unambiguous.
        let b = if same.min(128) == steps && steps > 1 { steps - 1 } else { same.min(128) };
        let group = &order[k..k + b];
        let (values, shape) = run_group(&model, &seq, &data, group, steps)?;
        let (w, rows_per_step) = split_output(&values, &shape, &seq, group, &mut out)?;
        if steps == 0 && rows_per_step {
            // The padding step of empty sequences is no output.
            group.iter().for_each(|&i| out[i].clear());
        }
        if width.is_some_and(|v| v != w) {
            bail!("the ONNX model's output {first} changed its width between batches");
        }
        width = Some(w);
        per_step |= rows_per_step;
        k += b;
    }
    let width = width.unwrap_or(0);
    // A network we exported names its classes in its metadata; other models: class0, ...
    let stored: Vec<String> = proto
        .metadata_props
        .iter()
        .find(|p| p.key == onnx::NETWORK_KEY)
        .and_then(|p| serde_json::from_str::<serde_json::Value>(&p.value).ok())
        .and_then(|v| {
            v.get("class_names")?.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        })
        .unwrap_or_default();
    let names: Vec<String> = if classification && stored.len() == width {
        stored
    } else {
        let prefix = if classification { "class" } else { "response" };
        (0..width).map(|r| format!("{prefix}{r}")).collect()
    };
    Ok(table(&out, &names, classification, per_step))
}

/// Runs the sequences `group` (all of `steps` steps) as one batch; returns the first
/// output's values and shape. Empty sequences (`steps` = 0) run as one zero step with
/// length 0 (the caller checked that the model reads lengths).
fn run_group<T: Real>(
    model: &OnnxModel<T>,
    seq: &SequenceInput,
    data: &gru::SequenceDataset<f64>,
    group: &[usize],
    steps: usize,
) -> Result<(Vec<f64>, Vec<usize>)> {
    let (b, c) = (group.len(), data.channels);
    let (lengths, steps) = (steps, steps.max(1));
    // x: [B, T, C] batch-first or [T, B, C] time-major.
    let mut x = vec![0.0f64; b * steps * c];
    for (j, &i) in group.iter().enumerate() {
        for t in 0..lengths {
            let o = if seq.batch_first { (j * steps + t) * c } else { (t * b + j) * c };
            x[o..o + c].copy_from_slice(&data.sequences[i][t * c..(t + 1) * c]);
        }
    }
    let shape = if seq.batch_first { vec![b, steps, c] } else { vec![steps, b, c] };
    let mut inputs = vec![(seq.x.as_str(), Tensor::f64(shape, x)?)];
    if let Some(l) = &seq.lengths {
        let n = i64::try_from(lengths)?;
        inputs.push((l.as_str(), Tensor::i64(vec![b], vec![n; b])?));
    }
    let outputs = model.run(&inputs)?;
    let (_, t) = outputs.into_iter().next().context("the ONNX model has no output")?;
    Ok((t.to_f64(), t.shape))
}

/// Appends each sequence's part of one batch's output (`shape`) to `out`; returns the row
/// width and whether the output has a step axis.
fn split_output(
    values: &[f64],
    shape: &[usize],
    seq: &SequenceInput,
    group: &[usize],
    out: &mut [Vec<f64>],
) -> Result<(usize, bool)> {
    let b = group.len();
    let (axis, width) = match shape.len() {
        0 => bail!("the ONNX model's first output is a scalar; a batch of outputs is needed"),
        1 => (0, 1),
        r => {
            let preferred = if seq.batch_first || r == 2 { 0 } else { 1 };
            let candidates: Vec<usize> = (0..r - 1).filter(|&k| shape[k] == b).collect();
            let axis = if candidates.contains(&preferred) { preferred } else { *candidates.first().unwrap_or(&r) };
            if axis == r {
                bail!("the ONNX model's first output has shape {shape:?}: no axis of the batch size {b}");
            }
            (axis, shape[r - 1])
        }
    };
    if shape[axis] != b {
        bail!("the ONNX model's first output has shape {shape:?}: no axis of the batch size {b}");
    }
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    for (j, &i) in group.iter().enumerate() {
        for o in 0..outer {
            out[i].extend_from_slice(&values[(o * b + j) * inner..(o * b + j + 1) * inner]);
        }
    }
    Ok((width.max(1), shape.len() >= 3))
}
