//! One module per subcommand.

pub mod bench;
pub mod convert;
pub mod demo;
pub mod eval;
pub mod inspect;
pub mod korali;
pub mod predict;
pub mod train;
pub mod train_options;

use std::path::Path;

use anyhow::{Context, Result};
use gru::{Network, Real};

/// A saved model of either dtype.
pub enum AnyNetwork {
    F32(Network<f32>),
    F64(Network<f64>),
}

/// Loads a model, whichever dtype it holds.
pub fn load_model(path: &Path) -> Result<AnyNetwork> {
    match Network::<f32>::load(path) {
        Ok(n) => Ok(AnyNetwork::F32(n)),
        Err(e32) => match Network::<f64>::load(path) {
            Ok(n) => Ok(AnyNetwork::F64(n)),
            Err(_) => Err(e32).with_context(|| format!("loading model {}", path.display())),
        },
    }
}

/// Loads a data file (.ts, .tsv, .csv, .npz, Korali's .json) as `T`.
pub fn load_data<T: Real>(path: &Path) -> Result<gru::SequenceDataset<T>> {
    gru::data::load_any::<T>(path).with_context(|| format!("loading data {}", path.display()))
}
