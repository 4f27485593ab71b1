//! [`load_any`], which picks a loader by file extension, and what every loader shares:
//! reading a file, turning text into finite values, filling missing values and numbering
//! class labels.
//!
//! Policies shared by the text loaders (each module's docs say which apply):
//! - **Class order.** Labels declared by the file (`.ts` `@classLabel true a b c`) keep
//!   their declared order. Otherwise, when every label is a number (`1`, `-1`, `2.0`), the
//!   classes are sorted numerically (labels of equal value are one class, named by the
//!   first spelling seen); else they are numbered in order of first appearance. The same
//!   labels therefore give the same class indices in every format.
//! - **Missing values** (`.ts` `?`, UCR `NaN`/empty cells) inside a sequence load as NaN;
//!   the loaders do not fill them: [`Missing`](super::Missing) does, after loading, as the
//!   caller chooses.

use std::path::Path;

use gru_core::Real;

use super::{SequenceDataset, Targets};
use crate::error::{Error, Result};

/// What the label column of a CSV file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TargetKind {
    /// Class names (any text), numbered as described in [`crate::data::load`].
    #[default]
    Classes,
    /// One numeric response per sequence (regression), giving `Targets::Responses` of width 1.
    Responses,
}

/// Loads a data set, choosing the loader by the file extension (case-insensitive):
/// `.ts` ([`super::load_ts`]), `.tsv` ([`super::load_ucr_tsv`]), `.csv`
/// ([`super::load_csv`] with class labels, in the layout its header shows:
/// [`super::CsvLayout::detect`]) or `.npz`
/// ([`super::load_npz`]) or `.json` (Korali's data set with its solution:
/// [`super::load_korali`]). Any other extension is an [`Error::File`] naming it.
pub fn load_any<T: Real>(path: impl AsRef<Path>) -> Result<SequenceDataset<T>> {
    let path = path.as_ref();
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("ts") => super::load_ts(path),
        Some("tsv") => super::load_ucr_tsv(path),
        Some("csv") => {
            let bytes = read_file(path)?;
            super::parse_csv(&bytes, path, super::CsvLayout::detect(&bytes), TargetKind::Classes)
        }
        Some("npz") => super::load_npz(path),
        Some("json") => super::load_korali(path),
        Some("npy") => {
            Err(Error::file(path, "a .npy file holds one array: load the x and y files together with load_npy"))
        }
        Some(other) => Err(Error::file(
            path,
            format!("unknown data file extension `.{other}` (expected .ts, .tsv, .csv, .npz or .json)"),
        )),
        None => Err(Error::file(path, "the file name has no extension (expected .ts, .tsv, .csv, .npz or .json)")),
    }
}

/// The sequences of a data file (`[len, C]` each) and C, whatever its targets, for
/// prediction: like [`load_any`], but a `.ts` file without labels (`@classLabel false`, as
/// the archive writes unlabelled data) loads too, and so does a Korali `.json` input without
/// its solution ([`super::parse_korali_inputs`]).
pub fn load_inputs<T: Real>(path: impl AsRef<Path>) -> Result<(Vec<Vec<T>>, usize)> {
    let path = path.as_ref();
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("ts")) {
        return super::ts::parse_ts_inputs(&read_file(path)?, path);
    }
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        return super::parse_korali_inputs(&read_file(path)?, path);
    }
    let ds = load_any::<T>(path)?;
    Ok((ds.sequences, ds.channels))
}

/// The whole file, or an [`Error::File`] saying why it cannot be read.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read the file: {e}")))
}

/// `bytes` without a leading UTF-8 byte order mark.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(bytes)
}

/// A finite number, or `None` (also for `inf`/`NaN`).
pub(crate) fn parse_finite(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `value` in `T`, NaN (a missing value) included; an error when a number does not fit.
pub(crate) fn to_real_or_missing<T: Real>(value: f64) -> std::result::Result<T, String> {
    if value.is_nan() {
        Ok(T::lit(f64::NAN))
    } else {
        to_real(value)
    }
}

/// `value` in `T`, or an error when it does not fit (e.g. `1e300` in `f32`).
pub(crate) fn to_real<T: Real>(value: f64) -> std::result::Result<T, String> {
    let v = T::lit(value);
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{value:?} does not fit in {}", T::DTYPE))
    }
}

/// Class indices of `labels` and the class names, by the rule in the module docs
/// (numeric sort when every label is a number, else first appearance).
pub(crate) fn class_indices(labels: &[String]) -> (Vec<usize>, Vec<String>) {
    let numeric: Option<Vec<f64>> = labels.iter().map(|l| parse_finite(l)).collect();
    match numeric {
        Some(values) if !values.is_empty() => {
            let mut distinct: Vec<(f64, &String)> = Vec::new();
            for (v, l) in values.iter().zip(labels) {
                if !distinct.iter().any(|(d, _)| d == v) {
                    distinct.push((*v, l));
                }
            }
            distinct.sort_by(|a, b| a.0.total_cmp(&b.0));
            let idx = values.iter().map(|v| distinct.iter().position(|(d, _)| d == v).unwrap_or_default()).collect();
            (idx, distinct.into_iter().map(|(_, l)| l.clone()).collect())
        }
        _ => {
            let mut names: Vec<String> = Vec::new();
            let idx = labels
                .iter()
                .map(|l| match names.iter().position(|n| n == l) {
                    Some(i) => i,
                    None => {
                        names.push(l.clone());
                        names.len() - 1
                    }
                })
                .collect();
            (idx, names)
        }
    }
}

/// `e` as an [`Error::File`] for `path` (keeps one error kind per loader).
pub(crate) fn ctx(path: &Path, e: Error) -> Error {
    match e {
        Error::File { .. } => e,
        other => Error::file(path, other.to_string()),
    }
}

/// A checked data set; a failed check becomes an [`Error::File`] for `path`.
pub(crate) fn build<T: Real>(
    path: &Path,
    sequences: Vec<Vec<T>>,
    channels: usize,
    targets: Targets,
    class_names: Vec<String>,
) -> Result<SequenceDataset<T>> {
    let classify = matches!(targets, Targets::Classes(_));
    let ds = SequenceDataset::new(sequences, channels, targets).map_err(|e| ctx(path, e))?;
    if classify {
        ds.with_class_names(class_names).map_err(|e| ctx(path, e))
    } else {
        Ok(ds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn numeric_labels_sort_and_text_labels_keep_first_appearance() {
        let (idx, names) = class_indices(&s(&["2", "-1", "1", "2.0", "1"]));
        assert_eq!(idx, vec![2, 0, 1, 2, 1]);
        assert_eq!(names, s(&["-1", "1", "2"]));
        let (idx, names) = class_indices(&s(&["b", "a", "b", "10"]));
        assert_eq!(idx, vec![0, 1, 0, 2]);
        assert_eq!(names, s(&["b", "a", "10"]));
    }

    #[test]
    fn unknown_extension_is_named() {
        let e = load_any::<f32>("data/train.arff").unwrap_err().to_string();
        assert!(e.contains("`.arff`"), "{e}");
        let e = load_any::<f32>("data/train").unwrap_err().to_string();
        assert!(e.contains("no extension"), "{e}");
    }

    #[test]
    fn real_checks_range() {
        assert!(to_real::<f32>(1e300).is_err());
        assert_eq!(to_real::<f64>(1e300), Ok(1e300));
        assert_eq!(parse_finite(" 1"), None);
        assert_eq!(parse_finite("1.5E-4"), Some(1.5e-4));
        assert_eq!(parse_finite("inf"), None);
    }
}
