//! MATLAB's minibatch options by name: `SequenceLength`, `SequencePaddingDirection`,
//! `Shuffle` and `PartialMiniBatch`, parsed from MATLAB's names (any case) and written back
//! as JSON.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// MATLAB `SequenceLength`: `"longest"` (default), `"shortest"` or a positive integer N.
///
/// JSON form: `"longest"`, `"shortest"` or the number N (the string `"20"` is read too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SequenceLengthRepr", into = "SequenceLengthRepr")]
pub enum SequenceLength {
    /// Pad every sequence to the longest one of the minibatch.
    #[default]
    Longest,
    /// Truncate every sequence to the shortest one of the minibatch (on the padding side).
    Shortest,
    /// Pad to a multiple of N steps and cut into chunks of N steps (truncated BPTT).
    Fixed(usize),
}

/// The JSON form of [`SequenceLength`]: a name or a step count.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum SequenceLengthRepr {
    Steps(u64),
    Name(String),
}

impl From<SequenceLength> for SequenceLengthRepr {
    fn from(v: SequenceLength) -> Self {
        match v {
            SequenceLength::Fixed(n) => SequenceLengthRepr::Steps(n as u64),
            other => SequenceLengthRepr::Name(other.to_string()),
        }
    }
}

impl TryFrom<SequenceLengthRepr> for SequenceLength {
    type Error = Error;
    fn try_from(v: SequenceLengthRepr) -> Result<Self> {
        match v {
            SequenceLengthRepr::Name(s) => s.parse(),
            SequenceLengthRepr::Steps(n) => n.to_string().parse(),
        }
    }
}

impl FromStr for SequenceLength {
    type Err = Error;
    /// Reads `"longest"`, `"shortest"` (any case) or a positive integer.
    fn from_str(s: &str) -> Result<Self> {
        let names = [(SequenceLength::Longest, "longest"), (SequenceLength::Shortest, "shortest")];
        match s.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(SequenceLength::Fixed(n)),
            _ => parse_name(s, "SequenceLength", &names, " or a positive integer"),
        }
    }
}

impl fmt::Display for SequenceLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SequenceLength::Longest => f.write_str("longest"),
            SequenceLength::Shortest => f.write_str("shortest"),
            SequenceLength::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// MATLAB `SequencePaddingDirection`: `"right"` (default: valid steps first) or `"left"`
/// (valid steps last, aligned at the end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaddingDirection {
    #[default]
    Right,
    Left,
}

impl PaddingDirection {
    /// Each value with its MATLAB name.
    pub const NAMES: [(Self, &'static str); 2] = [(Self::Right, "right"), (Self::Left, "left")];
}

/// MATLAB `Shuffle`: `"every-epoch"` (the default here; MATLAB's is `"once"`), `"once"` or
/// `"never"`.
///
/// Every epoch, because with `"once"` and a discarded partial minibatch the same sequences
/// are never trained on; and a new order per epoch is what PyTorch's and Keras' loaders do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shuffle {
    #[default]
    EveryEpoch,
    Once,
    Never,
}

impl Shuffle {
    /// Each value with its MATLAB name.
    pub const NAMES: [(Self, &'static str); 3] =
        [(Self::EveryEpoch, "every-epoch"), (Self::Once, "once"), (Self::Never, "never")];
}

/// What becomes of the last minibatch of an epoch when it holds fewer than
/// `MiniBatchSize` sequences (MATLAB `minibatchqueue`'s `PartialMiniBatch`):
///
/// - `"return"` (default): it is trained on, as a smaller minibatch; no data are left out
///   (PyTorch's `drop_last=False`, Keras' `fit`).
/// - `"discard"`: it is left out of the epoch, as MATLAB's `trainnet` does; when the whole
///   data set is smaller than one minibatch it is one minibatch of all of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartialMiniBatch {
    #[default]
    Return,
    Discard,
}

impl PartialMiniBatch {
    /// Each value with its MATLAB name.
    pub const NAMES: [(Self, &'static str); 2] = [(Self::Return, "return"), (Self::Discard, "discard")];

    /// Whether the partial minibatch is left out.
    pub fn discards(self) -> bool {
        self == Self::Discard
    }
}

/// `FromStr` (MATLAB's name, any case) and `Display` (MATLAB's name) from a `NAMES` table.
macro_rules! named_option {
    ($t:ty, $property:literal) => {
        impl FromStr for $t {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                parse_name(s, $property, &Self::NAMES, "")
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(Self::NAMES.iter().find(|(v, _)| v == self).map_or("", |(_, n)| n))
            }
        }
    };
}

named_option!(PaddingDirection, "SequencePaddingDirection");
named_option!(Shuffle, "Shuffle");
named_option!(PartialMiniBatch, "PartialMiniBatch");

/// The value whose name is `s` (trimmed, any case), else an `Error::Property` naming
/// `property` and listing the names (and `more`).
fn parse_name<E: Copy>(s: &str, property: &str, names: &[(E, &str)], more: &str) -> Result<E> {
    match names.iter().find(|(_, n)| s.trim().eq_ignore_ascii_case(n)) {
        Some(&(v, _)) => Ok(v),
        None => {
            let list: Vec<String> = names.iter().map(|(_, n)| format!("\"{n}\"")).collect();
            Err(Error::property(property, format!("\"{s}\""), format!("expected {}{more}", list.join(", "))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_serde() {
        assert_eq!("longest".parse::<SequenceLength>().unwrap(), SequenceLength::Longest);
        assert_eq!("Shortest".parse::<SequenceLength>().unwrap(), SequenceLength::Shortest);
        assert_eq!("20".parse::<SequenceLength>().unwrap(), SequenceLength::Fixed(20));
        assert_eq!("left".parse::<PaddingDirection>().unwrap(), PaddingDirection::Left);
        assert_eq!("every-epoch".parse::<Shuffle>().unwrap(), Shuffle::EveryEpoch);
        for (e, name) in [
            ("0".parse::<SequenceLength>().unwrap_err(), "SequenceLength"),
            ("x".parse::<PaddingDirection>().unwrap_err(), "SequencePaddingDirection"),
            ("always".parse::<Shuffle>().unwrap_err(), "Shuffle"),
        ] {
            assert!(matches!(e, Error::Property { ref property, .. } if property == name), "{e}");
        }
        for v in [SequenceLength::Longest, SequenceLength::Shortest, SequenceLength::Fixed(20)] {
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::from_str::<SequenceLength>(&json).unwrap(), v);
        }
        assert_eq!(serde_json::to_string(&SequenceLength::Fixed(20)).unwrap(), "20");
        assert_eq!(serde_json::to_string(&SequenceLength::Longest).unwrap(), "\"longest\"");
        assert_eq!(serde_json::from_str::<SequenceLength>("\"20\"").unwrap(), SequenceLength::Fixed(20));
        assert!(serde_json::from_str::<SequenceLength>("0").is_err());
        assert_eq!(serde_json::to_string(&Shuffle::EveryEpoch).unwrap(), "\"every-epoch\"");
        assert_eq!(serde_json::from_str::<PaddingDirection>("\"left\"").unwrap(), PaddingDirection::Left);
        assert_eq!("Discard".parse::<PartialMiniBatch>().unwrap(), PartialMiniBatch::Discard);
        assert_eq!(serde_json::to_string(&PartialMiniBatch::Return).unwrap(), "\"return\"");
        let e = "drop".parse::<PartialMiniBatch>().unwrap_err();
        assert!(e.to_string().contains("PartialMiniBatch") && e.to_string().contains("\"discard\""), "{e}");
    }
}
