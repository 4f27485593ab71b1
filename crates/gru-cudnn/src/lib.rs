//! # gru-cudnn
//!
//! The `"Engine": "CuDNN"` of `gru`: the same GRU stack on NVIDIA GPUs through cuDNN 9's RNN
//! API (`cudnnRNNForward`, `cudnnRNNBackwardData_v8`, `cudnnRNNBackwardWeights_v8`), over
//! `cudarc` with its libraries loaded at run time: the build needs no CUDA, and on a machine
//! without a GPU, its driver or cuDNN, [`CudnnEngine::load`] returns
//! [`GruError::EngineUnavailable`](gru_core::GruError::EngineUnavailable) saying what is
//! missing (checked before cudarc's loader could panic: `device.rs`).
//!
//! What it computes (`shared/DESIGN.md`'s equations; cuDNN's linLayerIDs in `layout.rs`):
//!
//! | reset-gate mode | cuDNN | bias |
//! |---|---|---|
//! | recurrent-bias-after-multiplication | `CUDNN_GRU`, `CUDNN_RNN_DOUBLE_BIAS` | input `[b_r b_z b_n]`, recurrent `[b'_r b'_z b'_n]` |
//! | after-multiplication | the same | input `[b_r b_z b_n]`, recurrent zero |
//!
//! - Refused at `prepare` with [`GruError::Unsupported`](gru_core::GruError::Unsupported):
//!   f64, before-multiplication (cuDNN resets after the product), softsign, hard-sigmoid,
//!   clip and a reverse-only stack (no such cuDNN direction mode).
//! - f32 with `CUDNN_FMA_MATH`: no TF32, so the conformance tolerances of f32 hold.
//! - Depth and bidirectional are cuDNN's own (`numLayers`, `CUDNN_BIDIRECTIONAL`; layer
//!   l+1 reads the concatenated `[forward, backward]` output of layer l, as ours does).
//! - Variable lengths: sequence-major unpacked data with `seqLengthArray` and padded IO,
//!   the padding zero; sequences of length 0 run nothing (`rows.rs`).
//! - The weight space is packed once at `prepare` and in place at `set_params`, through
//!   the table `cudnnGetRNNWeightParams` gives, checked against the canonical shapes.
//! - Not yet run on a GPU in this project's CI: the tests here cover the refusals, the
//!   missing-library path and the packing against a CPU model of cuDNN's layout.

mod desc;
mod device;
mod engine;
mod layout;
mod prepared;
mod rows;

pub use device::{libraries_present, ENGINE as COMPUTED_BY, INSTALL};
pub use engine::{check_supported, CudnnEngine};
