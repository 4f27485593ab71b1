//! One module per subcommand.

pub mod bench;
pub mod convert;
pub mod demo;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod korali;
pub mod predict;
pub mod stream;
pub mod train;
pub mod train_options;

use std::path::Path;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use gru::data::Missing;
use gru::io::{model_json, verify_checksum, Checksum, SafetensorsFile};
use gru::{Network, Real};

/// A saved model of either dtype.
pub enum AnyNetwork {
    F32(Network<f32>),
    F64(Network<f64>),
}

/// Loads a model as the dtype its file declares (so that an error is the file's real
/// problem, not the other dtype's refusal); a file without a checksum (an earlier gru's)
/// loads with a note on stderr.
pub fn load_model(path: &Path) -> Result<AnyNetwork> {
    let context = || format!("loading model {}", path.display());
    let file = SafetensorsFile::read(path).with_context(context)?;
    let dtype = model_json(&file).with_context(context)?.get("dtype").and_then(|d| d.as_str().map(String::from));
    note_unchecked(&file)?;
    let net = match dtype.as_deref() {
        Some("f64") => Network::<f64>::from_file(&file).map(AnyNetwork::F64),
        _ => Network::<f32>::from_file(&file).map(AnyNetwork::F32),
    };
    net.with_context(context)
}

/// Prints a note when `file` has no checksum (it was written before gru wrote one): its
/// values load unchecked. A checksum that differs is an error.
pub fn note_unchecked(file: &SafetensorsFile) -> Result<()> {
    if verify_checksum(file)? == Checksum::Absent {
        errln!(
            "note: {} has no checksum (an earlier gru wrote it): its values cannot be checked for corruption; \
             saving it again adds one",
            file.path().display()
        );
    }
    Ok(())
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

/// Loads a data file (.ts, .tsv, .csv, .npz, Korali's .json) as `T`, its missing values filled as `missing` says.
pub fn load_data<T: Real>(path: &Path, missing: &MissingArg) -> Result<gru::SequenceDataset<T>> {
    let context = || format!("loading data {}", path.display());
    let mut data = gru::data::load_any::<T>(path).with_context(context)?;
    Missing::from(missing.missing).apply(&mut data).with_context(context)?;
    Ok(data)
}
