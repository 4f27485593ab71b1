//! UEA/UCR `.ts` files (the sktime format of timeseriesclassification.com).
//!
//! ```text
//! # comment (also `%`)
//! @problemName Example
//! @timeStamps false
//! @missing true
//! @univariate false
//! @dimensions 2
//! @equalLength false
//! @classLabel true up down
//! @data
//! 1.0,2.0,3.0:4,5,6:up          <- dimension 1 : dimension 2 : label
//! 0.5,?,1.5:1e-3,2,3:down       <- `?` is a missing value
//! ```
//!
//! Each line after `@data` is one sequence: its dimensions separated by `:` (values within
//! one by `,`), the last `:` field being the class label or, with `@targetLabel true` (or
//! `@classLabel false`), a numeric response. The dimensions of one sequence must have equal
//! lengths; sequences may differ. In memory each sequence is `[len, C]` row-major with
//! `C` = the number of dimensions (the file stores dimension-major: this transposes). A
//! line whose dimensions are all empty (`:up`, `::up`) is an empty sequence (length 0).
//!
//! What is accepted: header keys in any case, `@dimension` for `@dimensions`, repeated keys
//! (the last wins), unknown keys (ignored), `#`/`%` comment lines anywhere (their bytes need
//! not be UTF-8), blank lines, CRLF, a UTF-8 byte order mark, no final newline, spaces
//! around values and `1.5E-4` notation. `@dimensions` and `@seriesLength` may be absent
//! (inferred from the data); when given they are checked (`@seriesLength` only with
//! `@equalLength true`). `@timeStamps true` is not supported.
//!
//! Missing values (`?` or `NaN`) load as NaN, as sktime reads them, a dimension with only
//! missing values included; what a run does with them is the explicit choice of
//! [`Missing`](super::Missing) (by default, linear interpolation within the sequence).
//! Classes follow the order of `@classLabel true a b c`, where a label not declared is an
//! error; without declared names the rule of [`crate::data::load`] numbers them.
//!
//! Every malformed input is an [`Error::File`] whose reason names the 1-based line.

use std::path::Path;

use gru_core::Real;

use super::load::{build, class_indices, parse_finite, read_file, strip_bom, to_real_or_missing};
use super::{SequenceDataset, Targets};
use crate::error::{Error, Result};

/// Loads a `.ts` file (see the [module docs](self)).
pub fn load_ts<T: Real>(path: impl AsRef<Path>) -> Result<SequenceDataset<T>> {
    let path = path.as_ref();
    parse_ts(&read_file(path)?, path)
}

/// Parses the bytes of a `.ts` file; `source` names it in errors. An unlabelled file
/// (`@classLabel false` without `@targetLabel true`, lines without a label) is an error
/// here: read it with [`parse_ts_inputs`].
pub fn parse_ts<T: Real>(bytes: &[u8], source: impl AsRef<Path>) -> Result<SequenceDataset<T>> {
    let path = source.as_ref();
    let p = parse::<T>(bytes).map_err(|reason| Error::file(path, reason))?;
    let Some(targets) = p.targets else {
        return Err(Error::file(
            path,
            "the file has no labels (@classLabel false): predictions can be made on it, training and evaluation need labels",
        ));
    };
    build(path, p.sequences, p.channels, targets, p.class_names)
}

/// The sequences of a `.ts` file (`[len, C]` each) and C, labelled or not (`@classLabel
/// false`: the archive's unlabelled data): what prediction reads.
pub fn parse_ts_inputs<T: Real>(bytes: &[u8], source: impl AsRef<Path>) -> Result<(Vec<Vec<T>>, usize)> {
    let p = parse::<T>(bytes).map_err(|reason| Error::file(source.as_ref(), reason))?;
    Ok((p.sequences, p.channels))
}

/// What `@classLabel` said.
#[derive(Clone, Debug, PartialEq)]
enum ClassLabel {
    /// `@classLabel true a b c` (names may be empty: infer them).
    True(Vec<String>),
    /// `@classLabel false`.
    False,
}

#[derive(Default)]
struct Header {
    dimensions: Option<usize>,
    univariate: Option<bool>,
    equal_length: Option<bool>,
    series_length: Option<usize>,
    class_label: Option<ClassLabel>,
    target_label: Option<bool>,
}

struct Parsed<T> {
    sequences: Vec<Vec<T>>,
    channels: usize,
    /// `None` for an unlabelled file.
    targets: Option<Targets>,
    class_names: Vec<String>,
}

fn parse<T: Real>(bytes: &[u8]) -> std::result::Result<Parsed<T>, String> {
    let mut header = Header::default();
    let mut data_line = None;
    let mut sequences = Vec::new();
    let mut labels: Vec<(usize, String)> = Vec::new();
    let mut channels = None;
    let mut labelled: Option<bool> = None;
    for (i, raw) in strip_bom(bytes).split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let raw = raw.trim_ascii();
        if raw.is_empty() || raw.starts_with(b"#") || raw.starts_with(b"%") {
            continue;
        }
        let line = String::from_utf8_lossy(raw);
        if let Some(rest) = line.strip_prefix('@') {
            if let Some(d) = data_line {
                return Err(format!("line {n}: header line after @data (line {d})"));
            }
            if header_line(rest, n, &mut header)? {
                data_line = Some(n);
            }
            continue;
        }
        if data_line.is_none() {
            return Err(format!("line {n}: data before the @data line"));
        }
        let expected = channels.or(header.dimensions).or(header.univariate.filter(|&u| u).map(|_| 1));
        // `@classLabel false` without `@targetLabel true` may be unlabelled data: decided by
        // the first line (its fields are all dimensions), then the same for every line.
        let labelled = *labelled.get_or_insert_with(|| !may_be_unlabelled(&header) || has_label(&line, expected));
        let (seq, c, label) = data(&line, n, expected, &header, labelled)?;
        channels = Some(c);
        sequences.push(seq);
        labels.push((n, label));
    }
    let Some(d) = data_line else {
        return Err("no @data line (the header must end with @data before the sequences)".into());
    };
    let Some(channels) = channels else {
        return Err(format!("line {d}: no sequence after @data"));
    };
    if labelled == Some(false) {
        return Ok(Parsed { sequences, channels, targets: None, class_names: Vec::new() });
    }
    let regression = header.target_label == Some(true) || header.class_label == Some(ClassLabel::False);
    if regression {
        if let Some(ClassLabel::True(names)) = &header.class_label {
            if !names.is_empty() {
                return Err("@targetLabel true and @classLabel true with class names contradict each other".into());
            }
        }
        let responses = labels
            .iter()
            .map(|(n, l)| match parse_finite(l) {
                Some(v) => Ok(vec![v]),
                None => Err(format!("line {n}: the target \"{l}\" is not a number (the file declares regression)")),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        return Ok(Parsed {
            sequences,
            channels,
            targets: Some(Targets::Responses(responses)),
            class_names: Vec::new(),
        });
    }
    let (classes, class_names) = match &header.class_label {
        Some(ClassLabel::True(names)) if !names.is_empty() => {
            let classes = labels
                .iter()
                .map(|(n, l)| {
                    names.iter().position(|c| c == l).ok_or_else(|| {
                        format!("line {n}: class label \"{l}\" is not declared in @classLabel ({})", names.join(" "))
                    })
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            (classes, names.clone())
        }
        _ => class_indices(&labels.into_iter().map(|(_, l)| l).collect::<Vec<_>>()),
    };
    Ok(Parsed { sequences, channels, targets: Some(Targets::Classes(classes)), class_names })
}

/// Reads one header line (without its `@`) into `header`; true for `@data`.
fn header_line(rest: &str, n: usize, header: &mut Header) -> std::result::Result<bool, String> {
    let mut tokens = rest.split_whitespace();
    let name = tokens.next().unwrap_or_default();
    let key = name.to_ascii_lowercase();
    let values: Vec<&str> = tokens.collect();
    let flag = |values: &[&str]| match values.first().map(|v| v.to_ascii_lowercase()).as_deref() {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(format!("line {n}: @{name} needs true or false, found \"{}\"", values.join(" "))),
    };
    let count = |values: &[&str]| match values.first().and_then(|v| v.parse::<usize>().ok()) {
        Some(v) if v > 0 => Ok(v),
        _ => Err(format!("line {n}: @{name} needs a positive whole number, found \"{}\"", values.join(" "))),
    };
    match key.as_str() {
        "data" => return Ok(true),
        "timestamps" if flag(&values)? => {
            return Err(format!("line {n}: @timeStamps true (time-stamped values) is not supported"));
        }
        "univariate" => header.univariate = Some(flag(&values)?),
        "dimensions" | "dimension" => header.dimensions = Some(count(&values)?),
        "equallength" => header.equal_length = Some(flag(&values)?),
        "serieslength" => header.series_length = Some(count(&values)?),
        "targetlabel" => header.target_label = Some(flag(&values)?),
        "classlabel" => {
            header.class_label = Some(if flag(&values)? {
                let names: Vec<String> = values.iter().skip(1).map(|v| v.to_string()).collect();
                if let Some((k, dup)) = names.iter().enumerate().find(|(k, a)| names[..*k].contains(a)) {
                    return Err(format!("line {n}: class label \"{dup}\" is declared twice (position {})", k + 1));
                }
                ClassLabel::True(names)
            } else {
                ClassLabel::False
            });
        }
        // @problemName, @missing and any other key carry nothing the loader needs.
        _ => {}
    }
    Ok(false)
}

/// Whether the header allows unlabelled lines: `@classLabel false` without `@targetLabel true`.
fn may_be_unlabelled(header: &Header) -> bool {
    header.class_label == Some(ClassLabel::False) && header.target_label != Some(true)
}

/// Whether a data line ends with a label: it has one field more than the `expected`
/// dimensions, or (dimensions unknown) its last field is a single value after a `:`.
fn has_label(line: &str, expected: Option<usize>) -> bool {
    let fields: Vec<&str> = line.split(':').collect();
    match expected {
        Some(c) => fields.len() == c + 1,
        None => fields.len() > 1 && !fields.last().is_some_and(|f| f.contains(',')),
    }
}

/// One data line: the `[len, C]` sequence, C and the label text (empty when not `labelled`).
fn data<T: Real>(
    line: &str,
    n: usize,
    expected: Option<usize>,
    header: &Header,
    labelled: bool,
) -> std::result::Result<(Vec<T>, usize, String), String> {
    let fields: Vec<&str> = line.split(':').map(str::trim).collect();
    let (label, dims) = match fields.split_last() {
        Some((label, dims)) if labelled => (*label, dims),
        Some(_) => ("", &fields[..]),
        None => return Err(format!("line {n}: empty data line")),
    };
    if dims.is_empty() || (labelled && label.contains(',')) {
        return Err(format!("line {n}: the label is missing (the last `:` field must be the label)"));
    }
    if labelled && label.is_empty() {
        return Err(format!("line {n}: the label is missing (nothing after the last `:`)"));
    }
    if let Some(c) = expected {
        if dims.len() != c {
            return Err(format!("line {n}: expected {c} dimensions, found {}", dims.len()));
        }
    }
    let mut columns: Vec<Vec<f64>> = Vec::with_capacity(dims.len());
    for (d, field) in dims.iter().enumerate() {
        let d = d + 1;
        if field.is_empty() {
            // An empty dimension: the sequence is empty (its other dimensions must be too).
            if columns.first().is_some_and(|c| !c.is_empty()) {
                return Err(format!("line {n}: dimension {d} is empty but dimension 1 has values"));
            }
            columns.push(Vec::new());
            continue;
        }
        let mut values = Vec::new();
        for (k, v) in field.split(',').map(str::trim).enumerate() {
            let k = k + 1;
            if v.is_empty() {
                return Err(format!("line {n}: dimension {d}, value {k} is empty"));
            }
            if v == "?" || v.eq_ignore_ascii_case("nan") {
                // A missing value: NaN, filled (or refused) after loading by `Missing`.
                values.push(f64::NAN);
            } else {
                match parse_finite(v) {
                    Some(x) => values.push(x),
                    None => return Err(format!("line {n}: dimension {d}, value {k}: \"{v}\" is not a finite number")),
                }
            }
        }
        if let Some(first) = columns.first() {
            if first.len() != values.len() {
                return Err(format!(
                    "line {n}: dimension {d} has {} values but dimension 1 has {} (the dimensions of one \
                     sequence must have equal lengths)",
                    values.len(),
                    first.len()
                ));
            }
        }
        columns.push(values);
    }
    let len = columns.first().map_or(0, Vec::len);
    if let (Some(true), Some(want)) = (header.equal_length, header.series_length) {
        if len != want {
            return Err(format!("line {n}: {len} values per dimension, but @seriesLength is {want}"));
        }
    }
    // x: [len, C] row-major, from dimension-major columns.
    let c = columns.len();
    let mut seq = Vec::with_capacity(len * c);
    for t in 0..len {
        for (d, col) in columns.iter().enumerate() {
            let v = col.get(t).copied().unwrap_or_default();
            let v = to_real_or_missing::<T>(v);
            seq.push(v.map_err(|e| format!("line {n}: dimension {}, value {}: {e}", d + 1, t + 1))?);
        }
    }
    Ok((seq, c, label.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<SequenceDataset<f64>> {
        parse_ts(text.as_bytes(), "inline.ts")
    }

    fn err(text: &str) -> String {
        match load(text) {
            Ok(ds) => panic!("expected an error, got {ds:?}"),
            Err(e @ Error::File { .. }) => e.to_string(),
            Err(e) => panic!("expected Error::File, got {e:?}"),
        }
    }

    const HEAD: &str = "@problemName t\n@dimensions 2\n@classLabel true a b\n@data\n";

    #[test]
    fn transposes_to_time_major() {
        let ds = load(&format!("{HEAD}1,2,3:4,5,6:b\n7:8:a")).unwrap();
        assert_eq!(ds.channels, 2);
        assert_eq!(ds.sequences, vec![vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0], vec![7.0, 8.0]]);
        assert_eq!(ds.targets, Targets::Classes(vec![1, 0]));
        assert_eq!(ds.class_names, vec!["a", "b"]);
    }

    /// NaN as `None`, to compare sequences with missing values.
    fn present(v: &[f64]) -> Vec<Option<f64>> {
        v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect()
    }

    #[test]
    fn a_line_of_empty_dimensions_is_an_empty_sequence() {
        let ds = load(&format!("{HEAD}1,2:3,4:b\n::a\n")).unwrap();
        assert_eq!(ds.sequences, vec![vec![1.0, 3.0, 2.0, 4.0], vec![]]);
        assert_eq!(ds.targets, Targets::Classes(vec![1, 0]));
        let ds = load("@targetLabel true\n@data\n:0.5\n1,2:1.5\n").unwrap();
        assert_eq!((ds.sequences, ds.channels), (vec![vec![], vec![1.0, 2.0]], 1));
        // Empty only in some of its dimensions: an error naming the line.
        assert!(err(&format!("{HEAD}1,2::a\n")).contains("line 5: dimension 2 is empty but dimension 1 has values"));
        assert!(err(&format!("{HEAD}:1,2:a\n")).contains("line 5: dimension 2 has 2 values but dimension 1 has 0"));
    }

    #[test]
    fn missing_values_load_as_nan() {
        let ds = load("@classLabel true x\n@data\n?,1,?,?,4,NaN:x\n").unwrap();
        assert_eq!(present(&ds.sequences[0]), [None, Some(1.0), None, None, Some(4.0), None]);
        // A dimension with only missing values loads (issue: it was an error).
        let ds = load("@dimensions 2\n@data\n?,?:1,2:x\n").unwrap();
        assert_eq!(present(&ds.sequences[0]), [None, Some(1.0), None, Some(2.0)]);
        let (seqs, _) = parse_ts_inputs::<f32>(b"@classLabel false\n@data\n?,?\n", "u.ts").unwrap();
        assert!(seqs[0].iter().all(|v| v.is_nan()));
    }

    #[test]
    fn regression_targets() {
        let ds = load("@targetLabel true\n@data\n1,2:0.5\n3:-1e-2\n").unwrap();
        assert_eq!(ds.targets, Targets::Responses(vec![vec![0.5], vec![-0.01]]));
        let ds = load("@classLabel false\n@data\n1,2:3\n").unwrap();
        assert_eq!(ds.targets, Targets::Responses(vec![vec![3.0]]));
        assert!(err("@targetLabel true\n@data\n1:x\n").contains("line 3: the target \"x\" is not a number"));
    }

    #[test]
    fn undeclared_labels_are_inferred() {
        let ds = load("@data\n1:b\n2:a\n3:b\n").unwrap();
        assert_eq!(ds.targets, Targets::Classes(vec![0, 1, 0]));
        assert_eq!(ds.class_names, vec!["b", "a"]);
        let ds = load("@classLabel true\n@data\n1:2\n2:1\n").unwrap();
        assert_eq!(ds.targets, Targets::Classes(vec![1, 0]));
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let cases = [
            (format!("{HEAD}1,2:3,4:a\n1,2:a\n"), "line 6: expected 2 dimensions, found 1"),
            (format!("{HEAD}1,x:3,4:a\n"), "line 5: dimension 1, value 2: \"x\" is not a finite number"),
            (format!("{HEAD}1,2:3,4:c\n"), "line 5: class label \"c\" is not declared in @classLabel (a b)"),
            (format!("{HEAD}1,2:3:a\n"), "line 5: dimension 2 has 1 values but dimension 1 has 2"),
            (format!("{HEAD}1,2:3,4:\n"), "line 5: the label is missing"),
            (format!("{HEAD}1,2:3,4\n"), "line 5: the label is missing"),
            (format!("{HEAD}1,,2:3,4,5:a\n"), "line 5: dimension 1, value 2 is empty"),
            (format!("{HEAD}1,inf:3,4:a\n"), "not a finite number"),
            (format!("{HEAD}\n# nothing\n"), "line 4: no sequence after @data"),
            ("@dimensions 1\n1,2:a\n".to_string(), "line 2: data before the @data line"),
            ("@dimensions 1\n".to_string(), "no @data line"),
            (format!("{HEAD}1:2:a\n@dimensions 3\n"), "line 6: header line after @data"),
            ("@dimensions two\n@data\n".to_string(), "line 1: @dimensions needs a positive whole number"),
            ("@classLabel maybe\n@data\n".to_string(), "line 1: @classLabel needs true or false"),
            ("@classLabel true a a\n@data\n".to_string(), "line 1: class label \"a\" is declared twice"),
            ("@timestamps true\n@data\n".to_string(), "not supported"),
            ("@equalLength true\n@seriesLength 3\n@data\n1,2:a\n".to_string(), "line 4: 2 values per dimension"),
        ];
        for (text, want) in cases {
            let e = err(&text);
            assert!(e.starts_with("inline.ts: "), "{e}");
            assert!(e.contains(want), "{text:?}: {e} does not contain {want}");
        }
    }

    #[test]
    fn f32_range_is_checked() {
        let e = parse_ts::<f32>(b"@data\n1e300:a\n", "inline.ts").unwrap_err().to_string();
        assert!(e.contains("line 2: dimension 1, value 1: 1e300 does not fit in f32"), "{e}");
    }

    #[test]
    fn quirks_are_accepted() {
        let mut bytes =
            b"\xEF\xBB\xBF# caf\xE9 \xFF comment\r\n%another\r\n\r\n@ClassLabel  true  up down\r\n".to_vec();
        bytes
            .extend_from_slice(b"@classlabel true down up\r\n@Dimension 1\r\n@DATA\r\n 1.5E-4 , 2 : up \r\n\r\n3:down");
        let ds = parse_ts::<f64>(&bytes, "q.ts").unwrap();
        assert_eq!(ds.sequences, vec![vec![1.5e-4, 2.0], vec![3.0]]);
        assert_eq!(ds.targets, Targets::Classes(vec![1, 0]));
        assert_eq!(ds.class_names, vec!["down", "up"]);
    }

    #[test]
    fn unlabelled_files_load_as_inputs_only() {
        let text = "@problemName u\n@dimensions 2\n@classLabel false\n@data\n1,2,3:4,5,6\n7:8\n";
        let (seqs, c) = parse_ts_inputs::<f64>(text.as_bytes(), "u.ts").unwrap();
        assert_eq!(c, 2);
        assert_eq!(seqs, vec![vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0], vec![7.0, 8.0]]);
        assert!(err(text).contains("no labels"), "{}", err(text));
        // Univariate without @dimensions: a line of values only.
        let (seqs, c) = parse_ts_inputs::<f64>(b"@classLabel false\n@data\n1,2\n3,4,5\n", "u.ts").unwrap();
        assert_eq!((seqs.len(), c), (2, 1));
        // `@classLabel false` with a numeric label on every line stays regression.
        let ds = load("@dimensions 1\n@classLabel false\n@data\n1,2:0.5\n3:1.5\n").unwrap();
        assert_eq!(ds.targets, Targets::Responses(vec![vec![0.5], vec![1.5]]));
        // Mixed lines are an error naming the line.
        let mixed = "@dimensions 1\n@classLabel false\n@data\n1,2\n3:1.5\n";
        let e = parse_ts_inputs::<f64>(mixed.as_bytes(), "u.ts").unwrap_err().to_string();
        assert!(e.contains("line 5"), "{e}");
    }
}
