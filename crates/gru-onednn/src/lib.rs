//! # gru-onednn
//!
//! The `"Engine": "OneDNN"` of `gru`: the same GRU stack on Intel oneDNN 2.x (Debian's
//! `libdnnl2` / `libdnnl-dev`, 2.6 tested), through hand-written bindings to its C API
//! (the crates on crates.io target 3.x), loaded at run time: the build needs no system
//! library, and when it is missing [`OneDnnEngine::load`] returns
//! [`GruError::EngineUnavailable`](gru_core::GruError::EngineUnavailable) naming the
//! package to install (`apt-get install libdnnl2`).
//!
//! What it computes (`shared/DESIGN.md`'s equations, oneDNN gate order u = z, r, o = n):
//!
//! | reset-gate mode | oneDNN cell | bias `[L, dirs, G, H]` |
//! |---|---|---|
//! | before-multiplication | `dnnl_vanilla_gru` | `[b_z, b_r, b_n]` |
//! | recurrent-bias-after-multiplication | `dnnl_lbr_gru` | `[b_z + b'_z, b_r + b'_r, b_n, b'_n]` |
//! | after-multiplication | `dnnl_lbr_gru` | `[b_z, b_r, b_n, 0]` (the 4th gradient is dropped) |
//!
//! - Refused at `prepare` with [`GruError::Unsupported`](gru_core::GruError::Unsupported):
//!   softsign, hard-sigmoid, clip (oneDNN's GRU has tanh, sigmoid and no clip) and f64
//!   (oneDNN RNNs compute in f32 and bf16).
//! - Depth: oneDNN's `weights_layer` has one input width for all the layers of a
//!   primitive, so a unidirectional stack with I != H runs layer 0 on its own primitive
//!   and layers 1..D-1 on a shared one (I == H: one primitive for the stack).
//! - Bidirectional is `dnnl_bidirectional_concat`, one primitive per layer: oneDNN's
//!   multi-layer bidirectional primitive runs each direction's stack independently
//!   (layer l+1 of a direction reads only that direction's output), while our layer l+1
//!   reads the concatenated `[forward, backward]` output of layer l, as PyTorch, ONNX and
//!   Keras do (`engine::split`).
//! - A reverse stack (`GruSpec::reverse`, ONNX `direction = "reverse"`) is
//!   `dnnl_unidirectional_right2left`, split into parts as a forward one.
//! - Variable lengths: oneDNN has no length mask, and its right-to-left pass would start
//!   inside the padding, so a batch is grouped by length and each group runs densely
//!   (`groups.rs`; cost: one recurrence per distinct length, each on its own primitive for
//!   `(group size, length)`, plus a gather and a scatter of the data). Only the steps
//!   inside a sequence are gathered (NaN padding is never read); a group of length 0 runs
//!   nothing: y = 0 (output mode last: the top layer's h_T), h_T = h0, dh0 = dh_T.
//! - Inference uses `dnnl_forward_inference` (no workspace); `forward_train` uses
//!   `dnnl_forward_training` and keeps the workspace in [`Saved`](gru_core::Saved) for
//!   `backward`. Primitives are created once per `(group size, steps)` and cached; the
//!   plan's batch sizes and step count are created at `prepare`. oneDNN 2.6 rounds a 1×1
//!   problem (one sequence, one step) differently in inference and training, so that one
//!   runs as training in `forward` too: `forward` and `forward_train` agree bit for bit.
//! - Threads: oneDNN (Debian's build) runs on OpenMP: `OMP_NUM_THREADS` sets its thread
//!   count (default: every core). On shared or small machines set
//!   `OMP_WAIT_POLICY=passive`: spinning OpenMP workers steal the cores the recurrence
//!   needs (CI and the benches set it); with it, small batches are fastest on one thread
//!   (waking a worker per step costs more than the step).
//!
//! ```no_run
//! use gru_core::{Engine, GruParams, GruSpec, Plan, ResetGateMode, SequenceBatch};
//! use gru_onednn::OneDnnEngine;
//! # fn main() -> Result<(), gru_core::GruError> {
//! let engine = OneDnnEngine::load()?; // EngineUnavailable when libdnnl.so.2 is missing
//! let spec = GruSpec::new(3, 8).with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication);
//! let mut gru = engine.prepare(&spec, &GruParams::<f32>::zeros(&spec), &Plan::inference())?;
//! let x = vec![0.1f32; 5 * 2 * 3]; // x: [T=5, B=2, I=3]
//! let out = gru.forward(&SequenceBatch::new(&x, 5, 2))?;
//! assert_eq!(out.computed_by, "OneDNN");
//! # Ok(())
//! # }
//! ```

mod dnnl;
mod engine;
mod ffi;
mod groups;
mod layout;
mod prepared;
mod rnn;

pub use dnnl::ENGINE as COMPUTED_BY;
pub use engine::{check_supported, OneDnnEngine, INSTALL};
pub use ffi::LIBRARY;
