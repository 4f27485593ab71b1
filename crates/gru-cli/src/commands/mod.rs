//! One module per subcommand.

pub mod bench;
pub mod convert;
pub mod demo;
pub mod eval;
pub mod inspect;
pub mod korali;
pub mod predict;
pub mod train;

use std::path::Path;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use gru::data::Missing;
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

/// `--missing`: what to do with missing values (`?` / NaN) of the data.
#[derive(Args, Debug, Clone, Default)]
pub struct MissingArg {
    /// Missing values of the data (`?` in .ts, interior NaN in .tsv): interpolate linearly
    /// within each sequence (ends: the nearest value; a channel with no value: 0), zero
    /// them, or refuse them (error naming the sequence, channel and step).
    #[arg(long, value_enum, default_value_t = MissingChoice::Interpolate)]
    pub missing: MissingChoice,
}

/// The choices of `--missing` (see `gru::data::Missing`).
#[derive(ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissingChoice {
    #[default]
    Interpolate,
    Zero,
    Error,
}

impl From<MissingChoice> for Missing {
    fn from(c: MissingChoice) -> Self {
        match c {
            MissingChoice::Interpolate => Missing::Interpolate,
            MissingChoice::Zero => Missing::Zero,
            MissingChoice::Error => Missing::Error,
        }
    }
}

/// Loads a data file (.ts, .tsv, .csv, .npz) as `T`, its missing values filled as `missing` says.
pub fn load_data<T: Real>(path: &Path, missing: &MissingArg) -> Result<gru::SequenceDataset<T>> {
    let context = || format!("loading data {}", path.display());
    let mut data = gru::data::load_any::<T>(path).with_context(context)?;
    Missing::from(missing.missing).apply(&mut data).with_context(context)?;
    Ok(data)
}
