//! `gru`: train, evaluate and run GRU networks from the command line.
//!
//! ```text
//! gru demo                      train + evaluate on the shipped data set, write a plot
//! gru train --train F ...       train a network on a data file, save the model
//! gru eval --model M --data F   accuracy, per-class precision/recall, confusion matrix; RMSE/MAE
//! gru predict --model M --data F [--out F.csv|F.json]
//! gru inspect FILE              a model, a network or Korali JSON, a GRU spec, or GRU weights
//! gru convert --from torch --to keras IN OUT [--prefix rnn.] [--verify]
//! gru export --to c MODEL OUT_DIR   the network as C99 (model.h/model.c) or a no_std crate (--to rust-no-std)
//! gru engines                   which engines this build can run, and the kernels' ISA
//! ```

#[macro_use]
mod out;

mod commands;
mod distributed;
mod paths;
mod plot;
mod progress;
mod signals;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "gru", version, about = "Gated Recurrent Unit networks: train, evaluate, predict")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The most memory a network or a training run may need, in bytes or with a unit (8G,
    /// 512M); default: the memory available now. Every size from a flag or a file is checked
    /// against it before anything is allocated.
    #[arg(long, global = true, value_parser = parse_budget)]
    memory_budget: Option<u64>,
}

fn parse_budget(text: &str) -> Result<u64, String> {
    gru::memory::MemoryBudget::parse_bytes(text).map_err(|e| e.to_string())
}

#[derive(Subcommand)]
enum Command {
    /// Train and evaluate a GRU classifier on the shipped GestureShapes data set.
    Demo(commands::demo::DemoArgs),
    /// Train a network on a data file (.ts, .tsv, .csv, .npz) and save the model.
    Train(Box<commands::train::TrainArgs>),
    /// Evaluate a saved model on a labelled data file.
    Eval(commands::eval::EvalArgs),
    /// Predict with a saved model; CSV or JSON out.
    Predict(commands::predict::PredictArgs),
    /// Describe a model (.safetensors), a network / Korali / GRU-spec JSON.
    Inspect(commands::inspect::InspectArgs),
    /// Convert GRU weights between PyTorch, Keras and gru files (--verify runs both sides).
    Convert(commands::convert::ConvertArgs),
    /// Write a trained network as dependency-free C99 or a no_std Rust crate (weights compiled in).
    Export(commands::export::ExportArgs),
    /// List the engines and whether this build can run them.
    Engines,
    /// Time every engine on the reference shapes (inference and training).
    Bench(commands::bench::BenchArgs),
    /// Run a saved model over frames from standard input (`ID v1 v2 ...`, `reset ID`),
    /// one output line per frame, flushed at once.
    Stream(commands::stream::StreamArgs),
}

/// Exits with 1 on an error (printed as anyhow's `main` does), with 128 + the signal when a
/// command was stopped by SIGINT or SIGTERM (see `signals.rs`).
fn main() -> ExitCode {
    let result = run(Cli::parse());
    // Standard output that failed other than by its reader leaving (`out.rs`) fails the run.
    let result = match (result, out::take_failure()) {
        (Ok(()), Some(e)) => Err(anyhow::Error::new(e).context("writing standard output")),
        (result, _) => result,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<signals::Interrupted>() {
            Some(i) => {
                errln!("{e}");
                ExitCode::from(i.exit_code())
            }
            None => {
                errln!("Error: {e:?}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    gru::memory::MemoryBudget::set_process_default(cli.memory_budget);
    match cli.command {
        Command::Demo(a) => commands::demo::run(&a),
        Command::Train(a) => commands::train::run(&a),
        Command::Eval(a) => commands::eval::run(&a),
        Command::Predict(a) => commands::predict::run(&a),
        Command::Inspect(a) => commands::inspect::run(&a),
        Command::Convert(a) => commands::convert::run(&a),
        Command::Export(a) => commands::export::run(&a),
        Command::Bench(a) => commands::bench::run(&a),
        Command::Stream(a) => commands::stream::run(&a),
        Command::Engines => {
            for kind in [gru::EngineKind::Korali, gru::EngineKind::OneDNN, gru::EngineKind::CuDNN] {
                match gru::engines::engine_for::<f32>(kind) {
                    Ok(_) => outln!("{kind}: available"),
                    Err(e) => outln!("{kind}: unavailable ({e})"),
                }
            }
            // The instruction set of the native kernels (GRU_ISA=avx2 or portable asks for less).
            outln!("Korali kernels: {}; {}", gru::kernel_isa(), gru::kernel_blocking());
            Ok(())
        }
    }
}
