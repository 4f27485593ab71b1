//! Korali's data sets (`.json`): the `"Input"` and `"Solution"` of a supervised-learning
//! problem, as Korali's experiments hold them.
//!
//! Accepted:
//! - `{"Input": {"Data": X, "Size": C}, "Solution": {"Data": Y, "Size": R}}`: the data keys
//!   of Korali's `"Problem"` (a test set as a Korali user keeps it);
//! - a whole experiment, `{"Problem": {"Input": ..., "Solution": ..., ...}, ...}` (the
//!   other keys are not read);
//! - for prediction ([`parse_korali_inputs`]), also the input list `X` alone, or an object
//!   without `"Solution"`.
//!
//! `X` is sequences × steps × C numbers (each sequence at least one step, every step C
//! values); `Y` is one vector of R numbers per sequence: the target of its last step
//! (Korali's DeepSupervisor reads the output at the last step), so the targets are
//! [`Targets::Responses`]. `"Size"` may be left out; when given it must be the length of
//! every step (C) or solution vector (R). Errors are [`Error::File`] naming the file and
//! the JSON path of the bad value (`["Input"]["Data"][3][1]`).

use std::path::Path;

use gru_core::Real;
use serde_json::Value;

use super::load::{read_file, to_real};
use super::{SequenceDataset, Targets};
use crate::error::{Error, Result};

/// Loads a Korali data set with its solution (see the module documentation).
pub fn load_korali<T: Real>(path: impl AsRef<Path>) -> Result<SequenceDataset<T>> {
    let path = path.as_ref();
    parse_korali(&read_file(path)?, path)
}

/// Parses the bytes of a Korali data set with its solution; `source` names it in errors.
pub fn parse_korali<T: Real>(bytes: &[u8], source: impl AsRef<Path>) -> Result<SequenceDataset<T>> {
    let path = source.as_ref();
    let bad = |reason: String| Error::file(path, reason);
    let root = parse_json(bytes, path)?;
    if root.is_array() {
        return Err(bad("a list of input sequences without their solution: training and evaluation need Korali's \
             data set {\"Input\": {\"Data\": [...]}, \"Solution\": {\"Data\": [...]}} (predictions read the inputs alone)"
            .to_string()));
    }
    let (problem, base) = problem(&root);
    let (sequences, channels) = inputs::<T>(problem, &base).map_err(bad)?;
    let solution = match problem.as_object().and_then(|o| o.get("Solution")) {
        Some(s) => solution(s, &format!("{base}[\"Solution\"]"), sequences.len()).map_err(bad)?,
        None => {
            return Err(bad(format!(
                "{base} has no \"Solution\": training and evaluation need it (predictions read the inputs alone)"
            )))
        }
    };
    SequenceDataset::new(sequences, channels, Targets::Responses(solution)).map_err(|e| bad(e.to_string()))
}

/// The sequences (`[len, C]` each) and C of a Korali data set, an experiment, or a bare
/// input list (see the module documentation): what prediction reads.
pub fn parse_korali_inputs<T: Real>(bytes: &[u8], source: impl AsRef<Path>) -> Result<(Vec<Vec<T>>, usize)> {
    let path = source.as_ref();
    let root = parse_json(bytes, path)?;
    if root.is_array() {
        return sequences::<T>(&root, "", None).map_err(|reason| Error::file(path, reason));
    }
    let (problem, base) = problem(&root);
    inputs::<T>(problem, &base).map_err(|reason| Error::file(path, reason))
}

fn parse_json(bytes: &[u8], path: &Path) -> Result<Value> {
    serde_json::from_slice(super::load::strip_bom(bytes))
        .map_err(|e| Error::file(path, format!("not JSON (line {}, column {}): {e}", e.line(), e.column())))
}

/// The object that holds "Input" and "Solution" (the root, or its "Problem"), and its path.
fn problem(root: &Value) -> (&Value, String) {
    match root.get("Problem") {
        Some(p) => (p, "[\"Problem\"]".to_string()),
        None => (root, String::new()),
    }
}

/// A positive size at `["Size"]` of `section`, if given.
fn size(section: &Value, path: &str) -> std::result::Result<Option<usize>, String> {
    match section.get("Size") {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => Ok(Some(n as usize)),
            _ => Err(format!("{path}[\"Size\"] is {v}: expected a positive integer")),
        },
    }
}

/// The `"Input"` of `problem`: its sequences and channels.
fn inputs<T: Real>(problem: &Value, base: &str) -> std::result::Result<(Vec<Vec<T>>, usize), String> {
    let path = format!("{base}[\"Input\"]");
    let Some(input) = problem.as_object().and_then(|o| o.get("Input")) else {
        return Err(format!(
            "no {path}: expected Korali's data set {{\"Input\": {{\"Data\": [...]}}, \"Solution\": {{\"Data\": [...]}}}}"
        ));
    };
    let channels = size(input, &path)?;
    let data = input.get("Data").ok_or_else(|| format!("no {path}[\"Data\"]"))?;
    sequences(data, &format!("{path}[\"Data\"]"), channels)
}

/// Sequences × steps × C numbers at `path`; C is `channels` or the first step's length.
fn sequences<T: Real>(
    data: &Value,
    path: &str,
    channels: Option<usize>,
) -> std::result::Result<(Vec<Vec<T>>, usize), String> {
    let list = data.as_array().ok_or_else(|| format!("{path} must be a list of sequences"))?;
    if list.is_empty() {
        return Err(format!("{path} holds no sequence"));
    }
    let mut c = channels;
    let mut out = Vec::with_capacity(list.len());
    for (i, seq) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let steps = seq.as_array().ok_or_else(|| format!("{p} must be a list of steps"))?;
        if steps.is_empty() {
            return Err(format!("{p} has no step: a sequence needs at least one"));
        }
        let mut values = Vec::new();
        for (t, step) in steps.iter().enumerate() {
            let row = numbers::<T>(step, &format!("{p}[{t}]"))?;
            let want = *c.get_or_insert(row.len());
            if row.len() != want || want == 0 {
                return Err(format!("{p}[{t}] has {} values; every step needs {want} (the input size)", row.len()));
            }
            values.extend(row);
        }
        out.push(values);
    }
    Ok((out, c.unwrap_or(0)))
}

/// One solution vector per sequence at `path`.
fn solution(section: &Value, path: &str, count: usize) -> std::result::Result<Vec<Vec<f64>>, String> {
    let width = size(section, path)?;
    let data = section.get("Data").ok_or_else(|| format!("no {path}[\"Data\"]"))?;
    let list = data.as_array().ok_or_else(|| format!("{path}[\"Data\"] must be a list of vectors"))?;
    if list.len() != count {
        return Err(format!("{path}[\"Data\"] has {} vectors; the input has {count} sequences", list.len()));
    }
    let mut w = width;
    let mut out = Vec::with_capacity(count);
    for (i, v) in list.iter().enumerate() {
        let p = format!("{path}[\"Data\"][{i}]");
        let row = numbers::<f64>(v, &p)?;
        let want = *w.get_or_insert(row.len());
        if row.len() != want || want == 0 {
            return Err(format!("{p} has {} values; every solution needs {want}", row.len()));
        }
        out.push(row);
    }
    Ok(out)
}

/// A list of finite numbers that fit in `T` at `path`.
fn numbers<T: Real>(v: &Value, path: &str) -> std::result::Result<Vec<T>, String> {
    let list = v.as_array().ok_or_else(|| format!("{path} must be a list of numbers"))?;
    list.iter()
        .enumerate()
        .map(|(k, x)| {
            let n = x.as_f64().filter(|n| n.is_finite()).ok_or_else(|| format!("{path}[{k}] is {x}: not a number"))?;
            to_real::<T>(n).map_err(|e| format!("{path}[{k}]: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_set_experiment_and_bare_list() {
        let set = br#"{"Input": {"Data": [[[1, 2], [3, 4]], [[5, 6]]], "Size": 2}, "Solution": {"Data": [[0.5], [-1]], "Size": 1}}"#;
        let ds = parse_korali::<f32>(set, "t.json").unwrap();
        assert_eq!((ds.channels, ds.sequences.clone()), (2, vec![vec![1.0, 2.0, 3.0, 4.0], vec![5.0, 6.0]]));
        assert_eq!(ds.targets, Targets::Responses(vec![vec![0.5], vec![-1.0]]));
        let exp = format!(r#"{{"Problem": {}, "Solver": {{}}}}"#, std::str::from_utf8(set).unwrap());
        assert_eq!(parse_korali::<f32>(exp.as_bytes(), "e.json").unwrap(), ds);
        let (x, c) = parse_korali_inputs::<f64>(b"[[[1]], [[2], [3]]]", "x.json").unwrap();
        assert_eq!((x, c), (vec![vec![1.0], vec![2.0, 3.0]], 1));
        assert_eq!(parse_korali_inputs::<f32>(set, "t.json").unwrap(), (ds.sequences.clone(), 2));
    }

    #[test]
    fn errors_name_the_file_and_the_value() {
        let err = |bytes: &[u8]| parse_korali::<f32>(bytes, "t.json").unwrap_err().to_string();
        let e = err(br#"{"Input": {"Data": [[[1, 2]], [[3]]]}, "Solution": {"Data": [[1], [2]]}}"#);
        assert!(e.contains("t.json") && e.contains(r#"["Input"]["Data"][1][0] has 1 values"#), "{e}");
        let e = err(br#"{"Input": {"Data": [[[1]]], "Size": 2}, "Solution": {"Data": [[1]]}}"#);
        assert!(e.contains("every step needs 2"), "{e}");
        let e = err(br#"{"Input": {"Data": [[[1]], [[2]]]}, "Solution": {"Data": [[1]]}}"#);
        assert!(e.contains("has 1 vectors; the input has 2 sequences"), "{e}");
        let e = err(br#"{"Input": {"Data": [[[1]]]}}"#);
        assert!(e.contains("no \"Solution\""), "{e}");
        let e = err(br#"{"Input": {"Data": [[]]}, "Solution": {"Data": [[1]]}}"#);
        assert!(e.contains("has no step"), "{e}");
        let e = err(br#"{"Input": {"Data": [[["x"]]]}, "Solution": {"Data": [[1]]}}"#);
        assert!(e.contains(r#"[0][0][0] is "x": not a number"#), "{e}");
        let e = err(br#"{"Input": {"Data": [[[1e300]]]}, "Solution": {"Data": [[1]]}}"#);
        assert!(e.contains("does not fit in f32"), "{e}");
        assert!(err(b"[1, 2").contains("not JSON"));
        assert!(err(b"[[[1]]]").contains("without their solution"));
        assert!(parse_korali_inputs::<f32>(b"{}", "t.json").unwrap_err().to_string().contains("no [\"Input\"]"));
    }
}
