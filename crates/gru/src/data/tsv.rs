//! UCR archive `.tsv` files: univariate classification, one sequence per line, the class
//! label first and then the values.
//!
//! ```text
//! 1<TAB>0.5<TAB>0.25<TAB>-1.0
//! 2<TAB>1.5<TAB>NaN<TAB>2.5<TAB>NaN     <- an interior NaN is missing, a trailing one pads
//! ```
//!
//! - **Delimiter**: chosen once per file from its first non-blank line: a tab if it has one,
//!   else a comma if it has one, else runs of spaces. Cells are trimmed.
//! - **Lengths**: `NaN` (any case) or empty cells at the end of a line are padding (UCR pads
//!   unequal lengths so): the sequence ends before them. Missing values inside a sequence
//!   load as NaN, filled (or refused) after loading by [`Missing`](super::Missing).
//! - **Classes**: the labels are text; when all are numbers they are sorted numerically,
//!   else numbered by first appearance (see [`crate::data::load`]).
//! - Blank lines, CRLF, a UTF-8 byte order mark and a missing final newline are accepted.
//!
//! Each sequence is `[len, 1]`; malformed lines are an [`Error::File`] naming the line.

use std::path::Path;

use gru_core::Real;

use super::load::{build, class_indices, parse_finite, read_file, strip_bom, to_real_or_missing};
use super::{SequenceDataset, Targets};
use crate::error::{Error, Result};

/// Loads a UCR `.tsv` file (see the [module docs](self)).
pub fn load_ucr_tsv<T: Real>(path: impl AsRef<Path>) -> Result<SequenceDataset<T>> {
    let path = path.as_ref();
    parse_ucr_tsv(&read_file(path)?, path)
}

/// Parses the bytes of a UCR `.tsv` file; `source` names it in errors.
pub fn parse_ucr_tsv<T: Real>(bytes: &[u8], source: impl AsRef<Path>) -> Result<SequenceDataset<T>> {
    let path = source.as_ref();
    let (sequences, labels) = parse::<T>(bytes).map_err(|reason| Error::file(path, reason))?;
    let (classes, names) = class_indices(&labels);
    build(path, sequences, 1, Targets::Classes(classes), names)
}

#[derive(Clone, Copy)]
enum Delimiter {
    Tab,
    Comma,
    Spaces,
}

impl Delimiter {
    fn split(self, line: &str) -> Vec<&str> {
        match self {
            Delimiter::Tab => line.split('\t').map(str::trim).collect(),
            Delimiter::Comma => line.split(',').map(str::trim).collect(),
            Delimiter::Spaces => line.split_whitespace().collect(),
        }
    }
}

fn parse<T: Real>(bytes: &[u8]) -> std::result::Result<(Vec<Vec<T>>, Vec<String>), String> {
    let text = String::from_utf8_lossy(strip_bom(bytes));
    let mut delimiter = None;
    let mut sequences = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let delim = *delimiter.get_or_insert(if line.contains('\t') {
            Delimiter::Tab
        } else if line.contains(',') {
            Delimiter::Comma
        } else {
            Delimiter::Spaces
        });
        let cells = delim.split(line);
        let Some((label, cells)) = cells.split_first() else {
            continue;
        };
        if label.is_empty() {
            return Err(format!("line {n}: the label (first cell) is missing"));
        }
        let mut values = Vec::with_capacity(cells.len());
        for (k, cell) in cells.iter().enumerate() {
            if cell.is_empty() || cell.eq_ignore_ascii_case("nan") {
                values.push(None);
            } else {
                match parse_finite(cell) {
                    Some(v) => values.push(Some(v)),
                    None => return Err(format!("line {n}, column {}: \"{cell}\" is not a finite number", k + 2)),
                }
            }
        }
        while values.last() == Some(&None) {
            values.pop();
        }
        if values.is_empty() {
            return Err(format!("line {n}: no values after the label"));
        }
        let seq = values
            .iter()
            .enumerate()
            .map(|(t, &v)| {
                // A missing value inside the sequence: NaN, filled (or refused) by `Missing`.
                to_real_or_missing::<T>(v.unwrap_or(f64::NAN)).map_err(|e| format!("line {n}, column {}: {e}", t + 2))
            })
            .collect::<std::result::Result<Vec<T>, _>>()?;
        sequences.push(seq);
        labels.push(label.to_string());
    }
    if sequences.is_empty() {
        return Err("the file holds no sequence".into());
    }
    Ok((sequences, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<SequenceDataset<f64>> {
        parse_ucr_tsv(text.as_bytes(), "inline.tsv")
    }

    #[test]
    fn tab_separated_with_padding_and_gaps() {
        let mut ds = load("2\t1\t2\t3\n-1\t4\tNaN\t6\tNaN\tnan\n\n1\t7\t\t\r\n").unwrap();
        assert_eq!(ds.channels, 1);
        // The interior NaN is a missing value (NaN in the data), the trailing ones pad.
        assert_eq!(ds.sequences[1].len(), 3);
        assert!(ds.sequences[1][1].is_nan());
        super::super::Missing::Interpolate.apply(&mut ds).unwrap();
        assert_eq!(ds.sequences, vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0], vec![7.0]]);
        assert_eq!(ds.targets, Targets::Classes(vec![2, 0, 1]));
        assert_eq!(ds.class_names, vec!["-1", "1", "2"]);
    }

    #[test]
    fn comma_and_space_delimiters() {
        let ds = load("b, 1, 2\na,3\n").unwrap();
        assert_eq!(ds.sequences, vec![vec![1.0, 2.0], vec![3.0]]);
        assert_eq!(ds.class_names, vec!["b", "a"]);
        let ds = load("\u{feff}1  1.5E-4   2\n").unwrap();
        assert_eq!(ds.sequences, vec![vec![1.5e-4, 2.0]]);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("1\t2\n1\tx\n", "line 2, column 2: \"x\" is not a finite number"),
            ("1\t2\n2\tNaN\t\n", "line 2: no values after the label"),
            ("1\t2\n\t3\n", "line 2: the label (first cell) is missing"),
            ("\n\n", "the file holds no sequence"),
        ];
        for (text, want) in cases {
            let e = load(text).unwrap_err().to_string();
            assert!(e.starts_with("inline.tsv: ") && e.contains(want), "{e} does not contain {want}");
        }
    }
}
