//! Missing values: what the loaders give (NaN) and what a run does with them ([`Missing`]).
//!
//! A missing value (`.ts` `?` or `NaN`, an interior UCR `NaN` or empty cell) loads as NaN,
//! as sktime does: the loaders only read. Training, evaluation and prediction need complete
//! sequences, so one explicit choice fills them after loading ([`Missing::apply`], the
//! `--missing` flag of `gru train`, `gru eval` and `gru predict`):
//!
//! - [`Missing::Interpolate`] (the default, what the loaders did before the choice was
//!   explicit): per sequence and channel, a missing value between two present ones is
//!   interpolated linearly between them; missing values before the first (after the last)
//!   present value take the first (last) present value; a channel with no present value in
//!   a sequence (an all-missing `.ts` dimension) becomes 0, there being nothing to
//!   interpolate from. Each sequence is filled on its own: its result never depends on the
//!   other sequences of the file.
//! - [`Missing::Zero`]: every missing value becomes 0.
//! - [`Missing::Error`]: the first missing value is an error naming its sequence, channel
//!   and step.
//!
//! Values are filled in the data's units, before any normalization of the network.

use std::fmt;
use std::str::FromStr;

use gru_core::Real;

use super::SequenceDataset;
use crate::error::{Error, Result};

/// What to do with missing values (NaN) of loaded sequences; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Missing {
    /// Linear interpolation within each sequence and channel (ends: the nearest present
    /// value; a channel with none: 0).
    #[default]
    Interpolate,
    /// Every missing value becomes 0.
    Zero,
    /// A missing value is an [`Error::Data`] naming the sequence, channel and step.
    Error,
}

impl Missing {
    /// Every choice, in the order of their names.
    pub const ALL: [Missing; 3] = [Missing::Interpolate, Missing::Zero, Missing::Error];

    /// The name of the choice: `interpolate`, `zero` or `error`.
    pub fn name(self) -> &'static str {
        match self {
            Missing::Interpolate => "interpolate",
            Missing::Zero => "zero",
            Missing::Error => "error",
        }
    }

    /// Fills (or refuses) the missing values of every sequence of `data` in place.
    pub fn apply<T: Real>(self, data: &mut SequenceDataset<T>) -> Result<()> {
        self.apply_to(&mut data.sequences, data.channels)
    }

    /// Fills (or refuses) the missing values of `sequences` (each `[len, channels]`
    /// row-major) in place. Errors name the 0-based sequence, channel and step.
    pub fn apply_to<T: Real>(self, sequences: &mut [Vec<T>], channels: usize) -> Result<()> {
        if channels == 0 {
            return Ok(());
        }
        for (i, seq) in sequences.iter_mut().enumerate() {
            if !seq.iter().any(|v| v.is_nan()) {
                continue;
            }
            match self {
                Missing::Zero => seq.iter_mut().filter(|v| v.is_nan()).for_each(|v| *v = T::zero()),
                Missing::Error => {
                    let (step, channel) = first_missing(seq, channels).unwrap_or_default();
                    return Err(missing_error(i, step, channel, "--missing error (Missing::Error) refuses it"));
                }
                Missing::Interpolate => {
                    for c in 0..channels {
                        interpolate_channel(seq, channels, c);
                    }
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Missing {
    type Err = Error;

    /// `interpolate`, `zero` or `error` (case-insensitive); anything else is an
    /// [`Error::Property`] listing them.
    fn from_str(s: &str) -> Result<Self> {
        Missing::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(s)).ok_or_else(|| {
            Error::property("missing", format!("{s:?}"), "expected \"interpolate\", \"zero\" or \"error\"")
        })
    }
}

/// The first missing value (NaN) of `sequences` (each `[len, channels]`) as an
/// [`Error::Data`] naming its sequence, step and channel and the remedy; `Ok` when there is
/// none. What training, evaluation and prediction check.
pub(crate) fn check_complete<T: Real>(sequences: &[Vec<T>], channels: usize) -> Result<()> {
    for (i, seq) in sequences.iter().enumerate() {
        if let Some((step, channel)) = first_missing(seq, channels) {
            let remedy = "fill the missing values first (data::Missing; gru --missing interpolate|zero|error)";
            return Err(missing_error(i, step, channel, remedy));
        }
    }
    Ok(())
}

/// The `(step, channel)` of the first missing value (NaN) of one `[len, channels]` sequence.
fn first_missing<T: Real>(seq: &[T], channels: usize) -> Option<(usize, usize)> {
    let k = seq.iter().position(|v| v.is_nan())?;
    Some((k / channels.max(1), k % channels.max(1)))
}

/// The error of a missing value at `step`, `channel` of sequence `index`.
fn missing_error(index: usize, step: usize, channel: usize, reason: &str) -> Error {
    let what = format!("step {step}, channel {channel} is a missing value; {reason}");
    Error::data(&format!("sequences[{index}]"), "NaN", what)
}

/// Fills channel `c` of one `[len, channels]` sequence by the rule of
/// [`Missing::Interpolate`].
fn interpolate_channel<T: Real>(seq: &mut [T], channels: usize, c: usize) {
    let len = seq.len() / channels;
    let at = |t: usize| t * channels + c;
    let present: Vec<usize> = (0..len).filter(|&t| !seq[at(t)].is_nan()).collect();
    let (Some(&first), Some(&last)) = (present.first(), present.last()) else {
        (0..len).for_each(|t| seq[at(t)] = T::zero());
        return;
    };
    let (head, tail) = (seq[at(first)], seq[at(last)]);
    (0..first).for_each(|t| seq[at(t)] = head);
    (last + 1..len).for_each(|t| seq[at(t)] = tail);
    for pair in present.windows(2) {
        let (j, k) = (pair[0], pair[1]);
        if k == j + 1 {
            continue;
        }
        // In f64, as the loaders computed it before: a + (b - a) · (t - j) / (k - j).
        let (a, b) = (seq[at(j)].widen(), seq[at(k)].widen());
        for t in j + 1..k {
            seq[at(t)] = T::lit(a + (b - a) * (t - j) as f64 / (k - j) as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: f64 = f64::NAN;

    fn filled(m: Missing, seq: &[f64], channels: usize) -> Result<Vec<f64>> {
        let mut s = vec![seq.to_vec()];
        m.apply_to(&mut s, channels)?;
        Ok(s.remove(0))
    }

    #[test]
    fn interpolate_fills_inside_extends_ends_and_zeroes_an_empty_channel() {
        // One channel: [?, 1, ?, ?, 4, ?].
        assert_eq!(filled(Missing::Interpolate, &[N, 1.0, N, N, 4.0, N], 1).unwrap(), [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
        // Two channels, [len 3, C 2]: channel 0 is all missing, channel 1 has a gap.
        assert_eq!(filled(Missing::Interpolate, &[N, 2.0, N, N, N, 6.0], 2).unwrap(), [0.0, 2.0, 0.0, 4.0, 0.0, 6.0]);
        assert_eq!(filled(Missing::Interpolate, &[5.0], 1).unwrap(), [5.0]);
    }

    #[test]
    fn zero_and_error() {
        assert_eq!(filled(Missing::Zero, &[N, 1.0, N, 2.0], 2).unwrap(), [0.0, 1.0, 0.0, 2.0]);
        let mut seqs = vec![vec![1.0, 2.0], vec![1.0, 2.0, 3.0, N]];
        let err = Missing::Error.apply_to(&mut seqs, 2).unwrap_err().to_string();
        assert!(err.contains("sequences[1]") && err.contains("step 1, channel 1 is a missing value"), "{err}");
        // Complete data pass every choice unchanged.
        for m in Missing::ALL {
            assert_eq!(filled(m, &[1.0, 2.0], 1).unwrap(), [1.0, 2.0]);
        }
    }

    #[test]
    fn names_parse() {
        for m in Missing::ALL {
            assert_eq!(m.name().parse::<Missing>().unwrap(), m);
        }
        assert_eq!(Missing::default(), Missing::Interpolate);
        let err = "linear".parse::<Missing>().unwrap_err().to_string();
        assert!(err.contains("\"linear\"") && err.contains("interpolate"), "{err}");
    }
}
