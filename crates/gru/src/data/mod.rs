//! In-memory data sets of variable-length sequences and their targets.
//!
//! A sequence is a row-major `[len, C]` buffer (time steps of C channels), `len >= 0`: an
//! empty sequence (a pipeline's empty record) is read by a network from its initial state
//! alone (`gru_core::lengths`). Targets are one class or response vector per sequence
//! (sequence-to-one) or per step (sequence-to-sequence: none for an empty sequence). A
//! loaded sequence may hold missing values (NaN); training, evaluation and prediction need
//! them filled first ([`Missing`], module [`missing`]).

pub mod csv;
pub mod korali;
pub mod load;
pub mod missing;
pub mod npy;
pub mod ts;
pub mod tsv;

pub use self::csv::{load_csv, parse_csv, CsvLayout};
pub use korali::{load_korali, parse_korali, parse_korali_inputs};
pub use load::{load_any, load_inputs, TargetKind};
pub use missing::Missing;
pub use npy::{load_npy, load_npz, parse_npy, parse_npz};
pub use ts::{load_ts, parse_ts, parse_ts_inputs};
pub use tsv::{load_ucr_tsv, parse_ucr_tsv};

use gru_core::Real;

use crate::error::{Error, Result};

/// What a network is trained to predict.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// One class index per sequence.
    Classes(Vec<usize>),
    /// One class index per step of each sequence.
    ClassSequences(Vec<Vec<usize>>),
    /// One response vector `[R]` per sequence.
    Responses(Vec<Vec<f64>>),
    /// One response vector per step: `[len, R]` row-major per sequence.
    ResponseSequences(Vec<Vec<f64>>),
}

impl Targets {
    /// Number of observations.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(v) => v.len(),
            Targets::ClassSequences(v) => v.len(),
            Targets::Responses(v) => v.len(),
            Targets::ResponseSequences(v) => v.len(),
        }
    }

    /// True when there is no observation.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True for per-step targets.
    pub fn per_step(&self) -> bool {
        matches!(self, Targets::ClassSequences(_) | Targets::ResponseSequences(_))
    }

    /// The targets of the observations `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Targets {
        match self {
            Targets::Classes(v) => Targets::Classes(idx.iter().map(|&i| v[i]).collect()),
            Targets::ClassSequences(v) => Targets::ClassSequences(idx.iter().map(|&i| v[i].clone()).collect()),
            Targets::Responses(v) => Targets::Responses(idx.iter().map(|&i| v[i].clone()).collect()),
            Targets::ResponseSequences(v) => Targets::ResponseSequences(idx.iter().map(|&i| v[i].clone()).collect()),
        }
    }
}

/// Sequences with their targets and class names.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceDataset<T> {
    /// Each `[len_i, C]` row-major, `len_i >= 0`; finite values, or NaN for a missing value.
    pub sequences: Vec<Vec<T>>,
    pub channels: usize,
    pub targets: Targets,
    /// Names of the classes (classification), index = class.
    pub class_names: Vec<String>,
}

impl<T: Real> SequenceDataset<T> {
    /// A checked data set; class names default to "0", "1", ... up to the largest class.
    pub fn new(sequences: Vec<Vec<T>>, channels: usize, targets: Targets) -> Result<Self> {
        let classes = match &targets {
            Targets::Classes(v) => v.iter().copied().max().map_or(0, |m| m + 1),
            Targets::ClassSequences(v) => v.iter().flatten().copied().max().map_or(0, |m| m + 1),
            _ => 0,
        };
        let ds = Self { sequences, channels, targets, class_names: (0..classes).map(|c| c.to_string()).collect() };
        ds.validate()?;
        Ok(ds)
    }

    /// Replaces the class names (their count must cover every class index).
    pub fn with_class_names(mut self, names: Vec<String>) -> Result<Self> {
        self.class_names = names;
        self.validate()?;
        Ok(self)
    }

    /// The same data with its class indices renumbered to `names` (a model's classes), by
    /// name: a data set whose file lists the classes in another order (`@classLabel b a`,
    /// CSV labels in order of appearance) means the same classes. A class of the data that
    /// `names` lacks is [`Error::Data`] naming it and the known classes. Regression data
    /// (no class names) are returned unchanged.
    pub fn align_classes(mut self, names: &[String]) -> Result<Self> {
        if !matches!(self.targets, Targets::Classes(_) | Targets::ClassSequences(_)) || self.class_names == names {
            return Ok(self);
        }
        let map: Vec<Option<usize>> =
            self.class_names.iter().map(|name| names.iter().position(|n| n == name)).collect();
        // Only the classes that occur must be known: a file may declare labels it never uses.
        let (own, map) = (&self.class_names, &map);
        let renumber = |c: &mut usize| -> Result<()> {
            let name = own.get(*c).map_or_else(|| c.to_string(), |n| format!("{n:?}"));
            *c = map.get(*c).copied().flatten().ok_or_else(|| {
                Error::data("class", name, format!("not a class of the model, whose classes are {names:?}"))
            })?;
            Ok(())
        };
        match &mut self.targets {
            Targets::Classes(v) => v.iter_mut().try_for_each(renumber)?,
            Targets::ClassSequences(v) => v.iter_mut().flatten().try_for_each(renumber)?,
            _ => {}
        }
        self.class_names = names.to_vec();
        self.validate()?;
        Ok(self)
    }

    /// Number of sequences.
    pub fn len(&self) -> usize {
        self.sequences.len()
    }

    /// True when there is no sequence.
    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }

    /// Steps of sequence `i`.
    pub fn steps(&self, i: usize) -> usize {
        self.sequences[i].len() / self.channels.max(1)
    }

    /// Response count R (regression), or class count (classification).
    pub fn target_width(&self) -> usize {
        match &self.targets {
            Targets::Classes(_) | Targets::ClassSequences(_) => self.class_names.len(),
            Targets::Responses(v) => v.first().map_or(0, Vec::len),
            Targets::ResponseSequences(v) => self.first_nonempty().map_or(0, |i| v[i].len() / self.steps(i)),
        }
    }

    /// The first sequence with at least one step.
    fn first_nonempty(&self) -> Option<usize> {
        (0..self.len()).find(|&i| self.steps(i) > 0)
    }

    /// The observations `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Self {
        Self {
            sequences: idx.iter().map(|&i| self.sequences[i].clone()).collect(),
            channels: self.channels,
            targets: self.targets.select(idx),
            class_names: self.class_names.clone(),
        }
    }

    /// The first missing value (NaN) as an [`Error::Data`] naming its sequence, step and
    /// channel and the remedy ([`Missing`]); `Ok` when the data are complete, as training,
    /// evaluation and prediction need them.
    pub fn check_complete(&self) -> Result<()> {
        missing::check_complete(&self.sequences, self.channels)
    }

    /// Checks shapes, values and targets; errors name the observation. Values are finite
    /// or NaN (a missing value, see [`SequenceDataset::check_complete`]); infinities are
    /// refused.
    pub fn validate(&self) -> Result<()> {
        if self.channels == 0 {
            return Err(Error::data("channels", 0, "must be at least 1"));
        }
        if self.sequences.is_empty() {
            return Err(Error::data("sequences", 0, "the data set is empty"));
        }
        if self.targets.len() != self.sequences.len() {
            return Err(Error::data(
                "targets",
                self.targets.len(),
                format!("{} sequences need as many targets", self.len()),
            ));
        }
        for (i, s) in self.sequences.iter().enumerate() {
            if s.len() % self.channels != 0 {
                return Err(Error::data(
                    &format!("sequences[{i}]"),
                    format!("{} values", s.len()),
                    format!("must be a [len, {}] buffer", self.channels),
                ));
            }
            if let Some(j) = s.iter().position(|v| v.is_infinite()) {
                return Err(Error::data(&format!("sequences[{i}]"), s[j], format!("value {j} is not finite")));
            }
        }
        let classes = self.class_names.len();
        match &self.targets {
            Targets::Classes(v) => {
                if let Some(i) = v.iter().position(|&c| c >= classes) {
                    return Err(Error::data(&format!("targets[{i}]"), v[i], format!("only {classes} class names")));
                }
            }
            Targets::ClassSequences(v) => {
                for (i, t) in v.iter().enumerate() {
                    if t.len() != self.steps(i) {
                        return Err(Error::data(
                            &format!("targets[{i}]"),
                            format!("{} labels", t.len()),
                            format!("the sequence has {} steps", self.steps(i)),
                        ));
                    }
                    if let Some(c) = t.iter().find(|&&c| c >= classes) {
                        return Err(Error::data(&format!("targets[{i}]"), c, format!("only {classes} class names")));
                    }
                }
            }
            Targets::Responses(v) => {
                let r = v[0].len();
                for (i, t) in v.iter().enumerate() {
                    if t.is_empty() || t.len() != r || t.iter().any(|x| !x.is_finite()) {
                        return Err(Error::data(
                            &format!("targets[{i}]"),
                            format!("{t:?}"),
                            format!("must be {r} finite responses"),
                        ));
                    }
                }
            }
            Targets::ResponseSequences(v) => {
                // R from the first sequence with steps (an empty one has no response).
                let r = self.first_nonempty().map_or(0, |i| v[i].len() / self.steps(i));
                for (i, t) in v.iter().enumerate() {
                    if r == 0 || t.len() != r * self.steps(i) || t.iter().any(|x| !x.is_finite()) {
                        return Err(Error::data(
                            &format!("targets[{i}]"),
                            format!("{} values", t.len()),
                            format!("must be [{}, {r}] finite responses", self.steps(i)),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn classes_are_aligned_by_name() {
        // The same two sequences, the file listing its classes as [b, a].
        let ds = SequenceDataset::<f32>::new(vec![vec![1.0], vec![2.0]], 1, Targets::Classes(vec![0, 1]))
            .unwrap()
            .with_class_names(names(&["b", "a"]))
            .unwrap();
        let aligned = ds.clone().align_classes(&names(&["a", "b", "c"])).unwrap();
        assert_eq!(aligned.targets, Targets::Classes(vec![1, 0]));
        assert_eq!(aligned.class_names, names(&["a", "b", "c"]));
        // A class the model does not know is an error naming it.
        let err = ds.align_classes(&names(&["a", "c"])).unwrap_err().to_string();
        assert!(err.contains("\"b\"") && err.contains("not a class of the model"), "{err}");
        // A declared class no sequence uses does not need to be known.
        let ds = SequenceDataset::<f32>::new(vec![vec![1.0]], 1, Targets::ClassSequences(vec![vec![1]]))
            .unwrap()
            .with_class_names(names(&["unused", "a"]))
            .unwrap();
        let aligned = ds.align_classes(&names(&["x", "a"])).unwrap();
        assert_eq!(aligned.targets, Targets::ClassSequences(vec![vec![1]]));
    }
}
