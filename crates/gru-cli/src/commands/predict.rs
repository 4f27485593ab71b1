//! `gru predict`: a saved model on a data file; CSV or JSON out (stdout by default).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use gru::network::Head;
use gru::train::{argmax_rows, predict};
use gru::{Network, Real};
use serde_json::json;

use super::{load_data, load_model, AnyNetwork};

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A model saved by `gru train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Data (.ts, .tsv, .csv, .npz); its labels, if any, are ignored.
    #[arg(long, required_unless_present = "korali_input")]
    pub data: Option<PathBuf>,
    /// Korali-style input instead: a JSON list of sequences, each a list of steps of values;
    /// the output is a JSON list of output vectors.
    #[arg(long, conflicts_with = "data")]
    pub korali_input: Option<PathBuf>,
    /// Output file: .csv or .json (stdout as CSV when absent).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: &PredictArgs) -> Result<()> {
    if let Some(input) = &a.korali_input {
        let json = serde_json::to_string(&super::korali::predict_korali(&a.model, input, 100)?)? + "\n";
        return match &a.out {
            Some(p) => super::train::write_atomic(p, json.as_bytes()),
            None => {
                print!("{json}");
                Ok(())
            }
        };
    }
    let (csv, json) = match load_model(&a.model)? {
        AnyNetwork::F32(mut n) => render(&mut n, a)?,
        AnyNetwork::F64(mut n) => render(&mut n, a)?,
    };
    match &a.out {
        Some(p) if p.extension().is_some_and(|e| e == "json") => {
            super::train::write_atomic(p, (serde_json::to_string_pretty(&json)? + "\n").as_bytes())
        }
        Some(p) => super::train::write_atomic(p, csv.as_bytes()),
        None => {
            print!("{csv}");
            Ok(())
        }
    }
}

/// CSV: `sequence,step,prediction,<one column per class probability or response>` (step is
/// empty for sequence-to-one); JSON: a list of objects with the same content.
fn render<T: Real>(net: &mut Network<T>, a: &PredictArgs) -> Result<(String, serde_json::Value)> {
    let data = load_data::<T>(a.data.as_deref().ok_or_else(|| anyhow::anyhow!("--data is required"))?)?;
    let out = predict(net, &data.sequences, data.channels, 128)?;
    let width = net.output_width();
    let classification = matches!(net.head(), Head::Classification { .. });
    let names: Vec<String> =
        if classification { net.class_names().to_vec() } else { (0..width).map(|r| format!("response{r}")).collect() };
    let mut csv = format!("sequence,step,prediction,{}\n", names.join(","));
    let mut rows = Vec::new();
    for (i, o) in out.iter().enumerate() {
        let per_step = o.len() / width > 1 || net.sequence_output();
        for (t, row) in o.chunks_exact(width).enumerate() {
            let values: Vec<f64> = row.iter().map(|v| v.widen()).collect();
            let prediction =
                if classification { names[argmax_rows(row, width)[0]].clone() } else { format!("{}", values[0]) };
            let step = if per_step { t.to_string() } else { String::new() };
            let cells: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            csv += &format!("{i},{step},{prediction},{}\n", cells.join(","));
            rows.push(
                json!({"sequence": i, "step": per_step.then_some(t), "prediction": prediction, "values": values}),
            );
        }
    }
    Ok((csv, json!({"columns": names, "predictions": rows})))
}
