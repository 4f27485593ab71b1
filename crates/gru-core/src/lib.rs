//! # gru-core
//!
//! The engine-independent GRU math of the `gru` project: options ([`GruSpec`]), the
//! canonical parameter layout ([`GruParams`], gate order r, z, n), the engine contract
//! ([`Engine`], [`PreparedGru`]) and the native engine ([`NativeEngine`]) with its scalar
//! reference path.
//!
//! Equations (one layer, one direction; σ_g and σ_s include the optional clip):
//! ```text
//! r_t = σ_g(W_r x_t + R_r h_{t-1} + b_r)
//! z_t = σ_g(W_z x_t + R_z h_{t-1} + b_z)
//! n_t = σ_s(W_n x_t + b_n + r_t ⊙ (R_n h_{t-1}))          after-multiplication
//! n_t = σ_s(W_n x_t + b_n + R_n (r_t ⊙ h_{t-1}))          before-multiplication
//! n_t = σ_s(W_n x_t + b_n + r_t ⊙ (R_n h_{t-1} + b'_n))   recurrent-bias-after-multiplication
//! h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
//! ```
//!
//! ```
//! use gru_core::{Engine, GruParams, GruSpec, NativeEngine, Plan, SequenceBatch};
//! let spec = GruSpec::new(2, 3);
//! let params = GruParams::<f32>::zeros(&spec);
//! let mut gru = NativeEngine::new().prepare(&spec, &params, &Plan::inference()).unwrap();
//! let x = vec![0.5f32; 4 * 1 * 2]; // [T=4, B=1, I=2]
//! let out = gru.forward(&SequenceBatch::new(&x, 4, 1)).unwrap();
//! assert_eq!(out.y_shape, vec![4, 1, 3]);
//! ```

pub mod activation;
pub mod batch;
mod cell;
pub mod engine;
pub mod error;
mod kernels;
pub mod lengths;
pub mod native;
pub mod ops;
pub mod params;
pub mod real;
mod reference;
pub mod regularize;
pub mod spec;
pub mod stream;

/// The panel GEMM's entry points, for `gru-bench` to measure the GEMM peak (feature
/// `bench-internals`, off by default): not part of the API.
#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub mod bench {
    pub use crate::kernels::panel_gemm::{available, gemm, pack, pack_aligned, pack_aligned_on, AlignedPanels};
}

/// The instruction set the native engine's kernels use in this process: `"avx512"`,
/// `"avx2"` (AVX2 + FMA) or `"portable"`. The best the CPU has unless the environment
/// variable `GRU_ISA` (`avx512`, `avx2` or `portable`, read once at the first kernel call)
/// asks for less; a level the CPU lacks gives the best it has, and any other value is
/// ignored with a line on stderr. `avx512` and `avx2` compute bit-identical results.
pub fn kernel_isa() -> &'static str {
    kernels::isa::isa().name()
}

/// How the native engine's packed kernel blocks its f32 products on this host: its K
/// blocks and its row blocks, sized by the core's private cache (read once; the row blocks
/// never change a result), or that faer's GEMM computes them where the kernel level has no
/// packed kernel (`portable`).
pub fn kernel_blocking() -> String {
    if kernels::panel_gemm::available() {
        kernels::panel_gemm::blocking()
    } else {
        "faer's GEMM".into()
    }
}

pub use activation::Activations;
pub use batch::{output_shape, state_len, GruGradients, GruOutput, OutputGrads, SequenceBatch};
pub use engine::{Engine, EngineKind, Mode, Plan, PreparedGru, Saved};
pub use error::{GruError, Result};
#[allow(deprecated)]
pub use native::KoraliEngine;
pub use native::{NativeEngine, NativePath};
pub use params::{BlockParams, Gate, GruParams, NormPart};
pub use real::{DType, Real};
pub use spec::{GateActivation, GruSpec, OutputMode, Regularization, ResetGateMode, StateActivation};
pub use stream::{StreamId, StreamSet};
