//! Code generation: a trained [`Network`] as dependency-free C99 (`model.h` / `model.c`,
//! only `<math.h>`) or as a `#![no_std]` Rust crate without `alloc` (its own f64 `exp`,
//! `log`, `tanh`, `sqrt`), with the weights compiled in, for embedded and real-time
//! inference (`gru export --to c | rust-no-std`).
//!
//! The generated API (prefix `model`, [`CodegenOptions::prefix`]), C and Rust alike:
//!
//! ```text
//! model_state                  every GRU layer's and direction's h (public: h[MODEL_STATE_SIZE],
//!                              [D·dirs, H] per GRU layer of the network, in order) and scratch
//! model_reset(s)               h = each layer's initial state (learnable, or zero)
//! model_step(s, x, y)          one frame x[I] -> y[K]; the state moves one step (streaming)
//! model_run(s, x, T, y)        x[T, I] -> y[T, K] (output mode sequence) or y[K] (last),
//!                              from the state in s, leaving h_T there; 0, or -1 for a T it
//!                              cannot take
//! model_get_state / model_set_state   copy h out / in (state in and out)
//! ```
//!
//! The equations are DESIGN.md's (gate order r, z, n; three reset-gate modes; tanh or
//! softsign; sigmoid or hard-sigmoid; clip), computed in f32 in the order of the native
//! engine's cell (`gru_core` `cell/step.rs`): `GX = W x + b` (b'_r, b'_z folded into b),
//! `GH = R h`, `r, z = σ_g(GX + GH)`, then the candidate by the reset-gate mode, then
//! `h' = n + z ⊙ (h − n)`. The layers around the GRU (input normalization, fully
//! connected, softmax, element-wise activations, Korali's output transformation, target
//! denormalization) are computed as the native network computes them (the element-wise
//! ones in f64). Results agree with the native engine within DESIGN.md's f32 tolerance.
//!
//! A network with a bidirectional or reverse GRU has no frame-by-frame form: its code has
//! no `model_step` (`MODEL_CAN_STEP` is 0; with [`CodegenOptions::require_step`] the
//! generator refuses it), and its `model_run` runs layer by layer over buffers in the
//! state, for at most [`CodegenOptions::max_steps`] steps. An f64 model's values are
//! rounded to f32.

mod c;
mod c_runtime;
mod plan;
mod rust_no_std;
mod rust_runtime;
mod text;
pub mod verify;
mod walk;

use std::path::{Path, PathBuf};

use gru_core::Real;

use crate::error::{Error, Result};
use crate::network::Network;

pub use plan::{Affine, Block, GruStage, Plan, Stage};

/// What the generated code is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `model.h` and `model.c`, C99, only `<math.h>`.
    C,
    /// A `#![no_std]` crate (`Cargo.toml`, `src/lib.rs`) without `alloc` or dependencies.
    RustNoStd,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::C => "c",
            Target::RustNoStd => "rust-no-std",
        }
    }
}

/// Options of the generated code.
#[derive(Clone, Debug, PartialEq)]
pub struct CodegenOptions {
    /// The prefix of every public symbol (`model` -> `model_step`, `MODEL_INPUT_SIZE`) and the
    /// name of the Rust crate: an identifier of C and Rust, at most 32 characters.
    pub prefix: String,
    /// The most steps `model_run` takes for a network with a bidirectional or reverse GRU
    /// (its state holds two `[max_steps, widest frame]` buffers); unused otherwise.
    pub max_steps: usize,
    /// Refuse a network whose code would have no `model_step` (a bidirectional or reverse
    /// GRU) instead of generating `model_run` only.
    pub require_step: bool,
}

impl Default for CodegenOptions {
    fn default() -> Self {
        Self { prefix: "model".into(), max_steps: 256, require_step: false }
    }
}

/// One generated file: its path relative to the output folder and its text.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: String,
}

/// The most floats a generated state may hold (2^28, 1 GiB).
const MAX_STATE_FLOATS: usize = 1 << 28;

/// The code of `network` in `target`. Errors: a prefix that is not an identifier or a
/// `max_steps` of 0 ([`Error::Config`]); an option the generated code cannot express
/// ([`Error::NotRepresentable`] naming it: with `require_step`, `bidirectional` or
/// `reverse`; a value that is not finite in f32; a state of more than 2^28 floats).
pub fn generate<T: Real>(network: &Network<T>, target: Target, options: &CodegenOptions) -> Result<Vec<GeneratedFile>> {
    let plan = plan_of(network, options)?;
    Ok(match target {
        Target::C => c::generate(&plan, options),
        Target::RustNoStd => rust_no_std::generate(&plan, options),
    })
}

/// The checked plan of `network` under `options` (see [`generate`] for the errors).
pub fn plan_of<T: Real>(network: &Network<T>, options: &CodegenOptions) -> Result<Plan> {
    if !text::valid_prefix(&options.prefix) {
        return Err(Error::config(
            "prefix",
            format!("\"{}\"", options.prefix),
            "must be a C and Rust identifier (letters, digits, _; not first a digit; at most 32; not a keyword)",
        ));
    }
    if options.max_steps == 0 {
        return Err(Error::config("max_steps", 0, "must be at least 1"));
    }
    let plan = Plan::of(network)?;
    if let Some((option, gru)) = plan.non_causal_option() {
        if options.require_step {
            return Err(Error::not_representable(
                "generated model_step",
                option,
                format!("true (GRU {gru} of the network)"),
                "a frame-by-frame step reads the sequence forward only; model_run alone can compute it",
            ));
        }
    }
    let work = Layout::of(&plan, options).total;
    if plan.state_size.max(work) > MAX_STATE_FLOATS {
        return Err(Error::not_representable(
            "generated code",
            "max_steps",
            options.max_steps,
            format!("the state would hold {} floats, more than {MAX_STATE_FLOATS}", plan.state_size + work),
        ));
    }
    Ok(plan)
}

/// Writes `files` under `dir` (created if missing), each atomically.
pub fn write_files(dir: &Path, files: &[GeneratedFile]) -> Result<()> {
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::file(parent, format!("cannot create: {e}")))?;
        }
        crate::io::write_atomically(&path, f.contents.as_bytes())?;
    }
    Ok(())
}

/// Where the scratch of the generated state lies (offsets in floats into `work`):
/// two frames `[max_width]`, the cell's scratch `[7·max H]`, and for a network that runs
/// layer by layer two sequences `[max_steps, max_width]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub frame0: usize,
    pub frame1: usize,
    pub cell: usize,
    pub seq0: usize,
    pub seq1: usize,
    pub total: usize,
    /// 0 when `model_run` takes any T.
    pub max_steps: usize,
}

impl Layout {
    pub fn of(plan: &Plan, options: &CodegenOptions) -> Self {
        let w = plan.max_width;
        let max_h = plan.gru_stages().map(|g| g.spec.hidden_size).max().unwrap_or(0);
        let (frame0, frame1, cell) = (0, w, 2 * w);
        let seq0 = cell.saturating_add(7usize.saturating_mul(max_h));
        let (max_steps, seq_len) =
            if plan.causal() { (0, 0) } else { (options.max_steps, options.max_steps.saturating_mul(w)) };
        let seq1 = seq0.saturating_add(seq_len);
        Self { frame0, frame1, cell, seq0, seq1, total: seq1.saturating_add(seq_len), max_steps }
    }
}

fn codegen_error(what: &str, value: impl std::fmt::Display, reason: &str) -> Error {
    Error::not_representable("generated code", what, value, reason)
}
