//! CSV files with a header row, in one of two layouts ([`CsvLayout`]).
//!
//! **Long** — one row per time step; any number of channels:
//! ```text
//! sequence,step,x,y,label
//! s1,0,0.5,1.0,walk
//! s1,1,0.6,1.1,walk
//! s2,0,2.0,0.0,run
//! ```
//! Columns are found by name (case-insensitive, any order): `sequence` (any text naming the
//! sequence), `step` (a whole number), `label`, and every other column is a channel, in
//! header order. The rows of one sequence need not be contiguous nor sorted: they are sorted
//! by step, and the steps must count up from 0 (or from 1, when the smallest step in the
//! file is 1) without gaps or repeats. The label must be the same on every row of a
//! sequence. Sequences are kept in order of first appearance.
//!
//! **Wide** — one univariate sequence per row:
//! ```text
//! label,v0,v1,v2
//! walk,0.5,0.6,0.7
//! run,2.0,1.0,
//! ```
//! The `label` column is found by name; every other column is a step, in header order.
//! Empty or `NaN` cells (or missing cells) at the end of a row make the sequence shorter.
//!
//! In both layouts a value must be a finite number (no missing values inside a sequence),
//! cells are trimmed, lines starting with `#` are comments, and a UTF-8 byte order mark is
//! accepted. The label is a class name or a numeric response, as [`TargetKind`] says;
//! classes are numbered by the rule of [`crate::data::load`]. Errors are [`Error::File`]
//! naming the line and, for a cell, its column.

use std::collections::HashMap;
use std::path::Path;

use ::csv::{ReaderBuilder, StringRecord, Trim};
use gru_core::Real;

use super::load::{build, class_indices, parse_finite, read_file, strip_bom, to_real, TargetKind};
use super::{SequenceDataset, Targets};
use crate::error::{Error, Result};

/// How a CSV file lays out its sequences (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CsvLayout {
    /// One row per step: columns `sequence`, `step`, the channels and `label`.
    #[default]
    Long,
    /// One univariate sequence per row: a `label` column and one column per step.
    Wide,
}

impl CsvLayout {
    /// The layout a file's header row shows: [`CsvLayout::Long`] when it names both a
    /// `sequence` and a `step` column (any case), else [`CsvLayout::Wide`] (`label,v0,v1,...`).
    /// Comment lines (`#`) and a byte order mark before the header are skipped.
    pub fn detect(bytes: &[u8]) -> Self {
        let header = strip_bom(bytes)
            .split(|&b| b == b'\n')
            .map(|l| String::from_utf8_lossy(l.trim_ascii()).to_ascii_lowercase())
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or_default();
        let has = |name: &str| header.split(',').any(|c| c.trim().trim_matches('"') == name);
        if has("sequence") && has("step") {
            CsvLayout::Long
        } else {
            CsvLayout::Wide
        }
    }
}

/// Loads a CSV file in `layout`, reading its labels as `targets` says.
pub fn load_csv<T: Real>(path: impl AsRef<Path>, layout: CsvLayout, targets: TargetKind) -> Result<SequenceDataset<T>> {
    let path = path.as_ref();
    parse_csv(&read_file(path)?, path, layout, targets)
}

/// Parses the bytes of a CSV file; `source` names it in errors.
pub fn parse_csv<T: Real>(
    bytes: &[u8],
    source: impl AsRef<Path>,
    layout: CsvLayout,
    targets: TargetKind,
) -> Result<SequenceDataset<T>> {
    let path = source.as_ref();
    let bad = |reason: String| Error::file(path, reason);
    let (sequences, channels, labels) = match layout {
        CsvLayout::Long => long(bytes),
        CsvLayout::Wide => wide(bytes),
    }
    .map_err(bad)?;
    let sequences = sequences
        .into_iter()
        .zip(&labels)
        .map(|(s, (n, _))| {
            s.into_iter()
                .map(|v| to_real::<T>(v).map_err(|e| bad(format!("line {n}: {e}"))))
                .collect::<Result<Vec<T>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    match targets {
        TargetKind::Classes => {
            let (classes, names) = class_indices(&labels.into_iter().map(|(_, l)| l).collect::<Vec<_>>());
            build(path, sequences, channels, Targets::Classes(classes), names)
        }
        TargetKind::Responses => {
            let responses = labels
                .iter()
                .map(|(n, l)| match parse_finite(l) {
                    Some(v) => Ok(vec![v]),
                    None => Err(bad(format!("line {n}: the label \"{l}\" is not a number (responses were asked for)"))),
                })
                .collect::<Result<Vec<_>>>()?;
            build(path, sequences, channels, Targets::Responses(responses), Vec::new())
        }
    }
}

/// Sequences (`[len, C]` row-major, as `f64`), C, and each sequence's label with its line.
type Table = (Vec<Vec<f64>>, usize, Vec<(u64, String)>);

/// The header (trimmed) and the records with their 1-based lines.
type Records = (Vec<String>, Vec<(u64, StringRecord)>);

fn records(bytes: &[u8]) -> std::result::Result<Records, String> {
    let mut reader = ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(Trim::All)
        .comment(Some(b'#'))
        .from_reader(strip_bom(bytes));
    let at = |e: &::csv::Error| e.position().map_or(String::new(), |p| format!("line {}: ", p.line()));
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => return Err(format!("{}cannot read the header row: {e}", at(&e))),
    };
    if header.iter().all(String::is_empty) {
        return Err("no header row (the file is empty)".into());
    }
    for (k, name) in header.iter().enumerate() {
        if header[..k].iter().any(|h| h.eq_ignore_ascii_case(name)) {
            return Err(format!("line 1: column `{name}` appears twice in the header"));
        }
    }
    let mut rows = Vec::new();
    for rec in reader.records() {
        match rec {
            Ok(r) => rows.push((r.position().map_or(0, |p| p.line()), r)),
            Err(e) => return Err(format!("{}{e}", at(&e))),
        }
    }
    if rows.is_empty() {
        return Err("no data rows after the header".into());
    }
    Ok((header, rows))
}

fn column(header: &[String], name: &str) -> std::result::Result<usize, String> {
    header
        .iter()
        .position(|h| h.eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("line 1: missing column `{name}` (the header is: {})", header.join(",")))
}

struct Rows {
    id: String,
    label: String,
    label_line: u64,
    steps: Vec<(u64, u64, Vec<f64>)>, // (step, line, channel values)
}

fn long(bytes: &[u8]) -> std::result::Result<Table, String> {
    let (header, rows) = records(bytes)?;
    let (seq_col, step_col, label_col) =
        (column(&header, "sequence")?, column(&header, "step")?, column(&header, "label")?);
    let channel_cols: Vec<usize> = (0..header.len()).filter(|c| ![seq_col, step_col, label_col].contains(c)).collect();
    if channel_cols.is_empty() {
        return Err("line 1: no channel column (every column but sequence, step and label is a channel)".into());
    }
    let mut seqs: Vec<Rows> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (n, rec) in &rows {
        if rec.len() != header.len() {
            return Err(format!("line {n}: {} cells, but the header has {} columns", rec.len(), header.len()));
        }
        let cell = |c: usize| rec.get(c).unwrap_or_default();
        let id = cell(seq_col);
        if id.is_empty() {
            return Err(format!("line {n}: the sequence name is missing"));
        }
        let step_text = cell(step_col);
        let Ok(step) = step_text.parse::<u64>() else {
            return Err(format!("line {n}: the step \"{step_text}\" is not a whole number"));
        };
        let label = cell(label_col);
        if label.is_empty() {
            return Err(format!("line {n}: the label is missing"));
        }
        let mut values = Vec::with_capacity(channel_cols.len());
        for &c in &channel_cols {
            let text = cell(c);
            match parse_finite(text) {
                Some(v) => values.push(v),
                None => return Err(format!("line {n}, column `{}`: \"{text}\" is not a finite number", header[c])),
            }
        }
        let k = *index.entry(id.to_string()).or_insert_with(|| {
            seqs.push(Rows { id: id.to_string(), label: label.to_string(), label_line: *n, steps: Vec::new() });
            seqs.len() - 1
        });
        let Some(s) = seqs.get_mut(k) else { continue };
        if s.label != label {
            return Err(format!(
                "line {n}: sequence \"{}\" has the label \"{label}\" here but \"{}\" on line {}",
                s.id, s.label, s.label_line
            ));
        }
        s.steps.push((step, *n, values));
    }
    let base = seqs.iter().flat_map(|s| s.steps.iter().map(|r| r.0)).min().unwrap_or_default();
    if base > 1 {
        return Err(format!("steps must count from 0 or 1, but the smallest step is {base}"));
    }
    let mut sequences = Vec::with_capacity(seqs.len());
    let mut labels = Vec::with_capacity(seqs.len());
    for mut s in seqs {
        s.steps.sort_by_key(|r| r.0);
        let mut prev_line = 0;
        let mut seq = Vec::with_capacity(s.steps.len() * channel_cols.len());
        for (expect, (step, n, values)) in (base..).zip(s.steps) {
            if step < expect {
                return Err(format!("line {n}: sequence \"{}\" has step {step} twice (also line {prev_line})", s.id));
            }
            if step > expect {
                return Err(format!("line {n}: sequence \"{}\" has no step {expect} (its steps jump to {step})", s.id));
            }
            seq.extend(values);
            prev_line = n;
        }
        sequences.push(seq);
        labels.push((s.label_line, s.label));
    }
    Ok((sequences, channel_cols.len(), labels))
}

fn wide(bytes: &[u8]) -> std::result::Result<Table, String> {
    let (header, rows) = records(bytes)?;
    let label_col = column(&header, "label")?;
    let step_cols: Vec<usize> = (0..header.len()).filter(|&c| c != label_col).collect();
    if step_cols.is_empty() {
        return Err("line 1: no value column (every column but label is a step)".into());
    }
    let mut sequences = Vec::with_capacity(rows.len());
    let mut labels = Vec::with_capacity(rows.len());
    for (n, rec) in rows {
        if rec.len() > header.len() {
            return Err(format!("line {n}: {} cells, but the header has {} columns", rec.len(), header.len()));
        }
        let label = rec.get(label_col).unwrap_or_default();
        if label.is_empty() {
            return Err(format!("line {n}: the label is missing"));
        }
        let cells: Vec<(usize, &str)> = step_cols.iter().map(|&c| (c, rec.get(c).unwrap_or_default())).collect();
        let missing = |t: &str| t.is_empty() || t.eq_ignore_ascii_case("nan");
        let len = cells.iter().rposition(|(_, t)| !missing(t)).map_or(0, |p| p + 1);
        if len == 0 {
            return Err(format!("line {n}: no values"));
        }
        let mut seq = Vec::with_capacity(len);
        for (c, text) in cells.into_iter().take(len) {
            match parse_finite(text) {
                Some(v) => seq.push(v),
                None if missing(text) => {
                    return Err(format!(
                        "line {n}, column `{}`: missing value inside the sequence (only trailing cells may be empty)",
                        header[c]
                    ))
                }
                None => return Err(format!("line {n}, column `{}`: \"{text}\" is not a finite number", header[c])),
            }
        }
        sequences.push(seq);
        labels.push((n, label.to_string()));
    }
    Ok((sequences, 1, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, layout: CsvLayout, kind: TargetKind) -> Result<SequenceDataset<f64>> {
        parse_csv(text.as_bytes(), "inline.csv", layout, kind)
    }

    #[test]
    fn long_layout_sorts_steps_and_groups_rows() {
        let text = "Sequence, step ,x,label,y\ns2,1,5,b,6\ns1,0,1,a,2\n# note\ns2,0,3,b,4\ns1,1,7,a,8\n";
        let ds = load(text, CsvLayout::Long, TargetKind::Classes).unwrap();
        assert_eq!(ds.channels, 2);
        assert_eq!(ds.sequences, vec![vec![3.0, 4.0, 5.0, 6.0], vec![1.0, 2.0, 7.0, 8.0]]);
        assert_eq!(ds.targets, Targets::Classes(vec![0, 1]));
        assert_eq!(ds.class_names, vec!["b", "a"]);
    }

    #[test]
    fn long_layout_responses_from_one() {
        let text = "sequence,step,x,label\nq,1,1.5,0.25\nq,2,2.5,0.25\n";
        let ds = load(text, CsvLayout::Long, TargetKind::Responses).unwrap();
        assert_eq!(ds.sequences, vec![vec![1.5, 2.5]]);
        assert_eq!(ds.targets, Targets::Responses(vec![vec![0.25]]));
    }

    #[test]
    fn wide_layout_pads_at_the_end() {
        let text = "\u{feff}label,v0,v1,v2\n2,1,2,3\n1,4,NaN,\n10,5\n";
        let ds = load(text, CsvLayout::Wide, TargetKind::Classes).unwrap();
        assert_eq!(ds.sequences, vec![vec![1.0, 2.0, 3.0], vec![4.0], vec![5.0]]);
        assert_eq!(ds.class_names, vec!["1", "2", "10"]);
        assert_eq!(ds.targets, Targets::Classes(vec![1, 0, 2]));
    }

    #[test]
    fn errors_name_line_and_column() {
        let long_cases = [
            ("sequence,x,label\na,1,c\n", "line 1: missing column `step`"),
            ("sequence,step,label\na,0,c\n", "no channel column"),
            ("sequence,step,x,label\na,0,1,c\na,2,1,c\n", "line 3: sequence \"a\" has no step 1"),
            ("sequence,step,x,label\na,0,1,c\na,0,1,c\n", "sequence \"a\" has step 0 twice"),
            ("sequence,step,x,label\na,0,z,c\n", "line 2, column `x`: \"z\" is not a finite number"),
            ("sequence,step,x,label\na,0,,c\n", "line 2, column `x`: \"\" is not a finite number"),
            ("sequence,step,x,label\na,0,1,c\na,1,1,d\n", "line 3: sequence \"a\" has the label \"d\" here"),
            ("sequence,step,x,label\na,0,1\n", "line 2: 3 cells, but the header has 4 columns"),
            ("sequence,step,x,label\na,-1,1,c\n", "line 2: the step \"-1\" is not a whole number"),
            ("sequence,step,x,label\na,0,1,\n", "line 2: the label is missing"),
            ("sequence,step,x,label\na,3,1,c\n", "the smallest step is 3"),
            ("sequence,step,x,X,label\n", "column `X` appears twice"),
            ("sequence,step,x,label\n", "no data rows"),
            ("", "no header row"),
        ];
        for (text, want) in long_cases {
            let e = load(text, CsvLayout::Long, TargetKind::Classes).unwrap_err().to_string();
            assert!(e.starts_with("inline.csv: ") && e.contains(want), "{e} does not contain {want}");
        }
        let wide_cases = [
            ("v0,v1\n1,2\n", "missing column `label`"),
            ("label,v0,v1\na,,2\n", "line 2, column `v0`: missing value inside the sequence"),
            ("label,v0\na,1,2\n", "line 2: 3 cells, but the header has 2 columns"),
            ("label,v0\na,\n", "line 2: no values"),
        ];
        for (text, want) in wide_cases {
            let e = load(text, CsvLayout::Wide, TargetKind::Classes).unwrap_err().to_string();
            assert!(e.contains(want), "{e} does not contain {want}");
        }
        let e = load("label,v0\nup,1\n", CsvLayout::Wide, TargetKind::Responses).unwrap_err().to_string();
        assert!(e.contains("line 2: the label \"up\" is not a number"), "{e}");
    }
}
