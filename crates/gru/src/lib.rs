//! # gru
//!
//! Gated Recurrent Unit layers that agree across engines. This crate is what users import;
//! for now it re-exports the core math ([`gru_core`]): options, parameters, the engine
//! contract and the native `Korali` engine. See `shared/DESIGN.md` for the equations.

pub use gru_core::*;
