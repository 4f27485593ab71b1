//! `gru export`: a trained network as code with its weights compiled in, for embedded and
//! real-time inference (`gru::codegen`).
//!
//! ```text
//! gru export --to c model.safetensors out/             # out/model.h, out/model.c (C99, <math.h> only)
//! gru export --to rust-no-std model.safetensors out/   # out/Cargo.toml, out/src/lib.rs (#![no_std], no alloc)
//! gru export --to c model.safetensors out/ --prefix kws --verify
//! ```
//!
//! `--verify` builds the generated code (the system C compiler, `cc` or `$CC`; or cargo,
//! offline), runs it on a few random sequences, frame by frame and whole, and compares it
//! with the native engine (DESIGN.md's f32 tolerance, 1e-5·(1 + |ref|)).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use gru::codegen::{self, verify, CodegenOptions, Target};
use gru::{Network, Real};

use super::{load_model, AnyNetwork};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// `PREFIX.h` and `PREFIX.c`: C99, only <math.h>, no allocation.
    C,
    /// A `#![no_std]` crate without alloc or dependencies (`Cargo.toml`, `src/lib.rs`).
    RustNoStd,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// What to write.
    #[arg(long, value_enum)]
    pub to: TargetArg,
    /// The model (saved by `gru train` or `gru demo`).
    pub model: PathBuf,
    /// The folder to write into (created if missing).
    pub out_dir: PathBuf,
    /// The prefix of the generated symbols and files (`model_step`, `model.h`) and the Rust
    /// crate's name.
    #[arg(long, default_value = "model")]
    pub prefix: String,
    /// The most steps `model_run` takes, for a network with a bidirectional or reverse GRU
    /// (its state holds two buffers of this many frames); others take any number.
    #[arg(long, default_value_t = 256)]
    pub max_steps: usize,
    /// Fail when the network has no frame-by-frame `model_step` (a bidirectional or reverse
    /// GRU) instead of writing `model_run` only.
    #[arg(long)]
    pub require_step: bool,
    /// Build the generated code and compare it with the native engine on random sequences.
    #[arg(long)]
    pub verify: bool,
}

pub fn run(a: &ExportArgs) -> Result<()> {
    match load_model(&a.model)? {
        AnyNetwork::F32(mut n) => export(a, &mut n),
        AnyNetwork::F64(mut n) => {
            errln!("note: {} holds f64 values: the generated code holds them rounded to f32", a.model.display());
            export(a, &mut n)
        }
    }
}

fn export<T: Real>(a: &ExportArgs, net: &mut Network<T>) -> Result<()> {
    let target = match a.to {
        TargetArg::C => Target::C,
        TargetArg::RustNoStd => Target::RustNoStd,
    };
    let options = CodegenOptions { prefix: a.prefix.clone(), max_steps: a.max_steps, require_step: a.require_step };
    let files = codegen::generate(net, target, &options).context("generating the code")?;
    codegen::write_files(&a.out_dir, &files)?;
    let plan = codegen::plan_of(net, &options)?;
    let bytes: usize = files.iter().map(|f| f.contents.len()).sum();
    outln!(
        "wrote {} ({} files, {bytes} bytes of source): input {}, output {}{}, state {} floats, {} weights ({} bytes as f32)",
        files.iter().map(|f| a.out_dir.join(&f.path).display().to_string()).collect::<Vec<_>>().join(", "),
        files.len(),
        plan.input_size,
        plan.output_size,
        if plan.sequence_output { " per frame" } else { " per sequence" },
        plan.state_size,
        plan.num_weights(),
        4 * plan.num_weights()
    );
    if let Some((option, gru)) = plan.non_causal_option() {
        outln!(
            "note: GRU {gru} is {option}: no {}_step (frame by frame); {}_run takes up to {} steps",
            a.prefix,
            a.prefix,
            a.max_steps
        );
    }
    if a.verify {
        let dir = std::env::temp_dir().join(format!("gru-export-check-{}", std::process::id()));
        let max = if plan.causal() { 32 } else { a.max_steps.min(32) };
        let cases = vec![verify::sample_cases(&plan, max, 1)];
        let report = verify::check(target, std::slice::from_mut(net), &cases, &options, &dir, 1e-5);
        // The build folder goes whatever the check found.
        let _ = std::fs::remove_dir_all(&dir);
        let report = report.context("verifying the generated code against the native engine")?;
        outln!(
            "verified: {} sequences, {} values agree with the native engine (largest error {:.1e}·(1 + |ref|))",
            report.cases,
            report.values,
            report.max_error
        );
    }
    Ok(())
}
