//! The GRU cell, written once: the equations of one step and their gradients, element-wise
//! over a row of `U` units (the whole block's `H`, or a unit-split worker's units), used by
//! every fast route (`native/block.rs`, `native/units.rs`, `native/units_train.rs`); the
//! scalar reference (`reference/cell.rs`) shares its bias rule and gate views.
//!
//! ```text
//! r_t = σ_g(W_r x_t + R_r h_{t-1} + b_r [+ b'_r])                     reset gate
//! z_t = σ_g(W_z x_t + R_z h_{t-1} + b_z [+ b'_z])                     update gate
//! n_t = σ_s(W_n x_t + b_n + r_t ⊙ (R_n h_{t-1}))          after-multiplication
//! n_t = σ_s(W_n x_t + b_n + R_n (r_t ⊙ h_{t-1}))          before-multiplication
//! n_t = σ_s(W_n x_t + b_n + r_t ⊙ (R_n h_{t-1} + b'_n))   recurrent-bias-after-multiplication
//! h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}
//! ```
//! (σ_g and σ_s include the optional clip of their argument.)
//!
//! - `gates.rs`: named views over `[r | z | n]` rows and gate-grouped matrices (the only
//!   place that computes a gate's offset);
//! - `bias.rs`: which bias goes where (b'_r, b'_z folded into the input bias, b'_n apart);
//! - `step.rs`: the element-wise forward step after the products `GX`, `GH`;
//! - `grads.rs`: the gate gradients of a row and the weight-gradient assembly.

pub(crate) mod bias;
mod gates;
mod grads;
mod step;

pub(crate) use gates::{reset_update_width, row_width, GateCols, GateRow, GateRowMut};
pub(crate) use grads::{
    reset_grads_before, row_grads, unit_weight_grads, weight_grads, CandidateSource, GradPar, GradSources, GradTargets,
};
pub(crate) use step::{candidate_after, candidate_before, new_state, reset_product, reset_update};
