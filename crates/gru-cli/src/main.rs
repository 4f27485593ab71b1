//! `gru`: the command-line tool of the gru project.
//!
//! For now: `gru inspect SPEC.json` (the layers, parameter shapes and counts of a GRU
//! spec) and `gru engines` (which engines this build can run). Training, evaluation and
//! prediction arrive with the networks and data loaders.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gru::{EngineKind, GruParams, GruSpec};

#[derive(Parser)]
#[command(name = "gru", version, about = "Gated Recurrent Unit networks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the layers, parameter shapes and counts of a GRU spec (JSON).
    Inspect {
        /// A JSON file with the fields of `GruSpec`, e.g. {"input_size": 12, "hidden_size": 100}.
        spec: PathBuf,
    },
    /// List the engines and whether this build can run them.
    Engines,
}

fn inspect(path: &PathBuf) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let spec: GruSpec = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    spec.validate().with_context(|| format!("validating {}", path.display()))?;
    let params = GruParams::<f32>::zeros(&spec);
    let mut out = format!(
        "GRU: input {} -> hidden {} x {} direction(s), depth {}, output {:?}\n\
         reset gate: {}, state activation: {:?}, gate activation: {:?}, clip: {:?}\n",
        spec.input_size,
        spec.hidden_size,
        spec.directions(),
        spec.depth,
        spec.output_mode,
        spec.reset_gate_mode.name(),
        spec.state_activation,
        spec.gate_activation,
        spec.clip,
    );
    let h = spec.hidden_size;
    for (i, b) in params.blocks().iter().enumerate() {
        let (layer, dir) = (i / spec.directions(), i % spec.directions());
        out += &format!(
            "  layer {layer} {}: W {}x{}, R {}x{}, bias {}\n",
            if dir == 0 { "forward" } else { "backward" },
            3 * h,
            b.input_size(),
            3 * h,
            h,
            b.bias().len()
        );
    }
    out += &format!("parameters: {}\n", params.num_params());
    Ok(out)
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Inspect { spec } => print!("{}", inspect(&spec)?),
        Command::Engines => {
            for kind in [EngineKind::Korali, EngineKind::OneDNN, EngineKind::CuDNN] {
                let status = match kind {
                    EngineKind::Korali => "available (native Rust, always built)",
                    _ => "not yet implemented in this build",
                };
                println!("{kind}: {status}");
            }
        }
    }
    Ok(())
}
