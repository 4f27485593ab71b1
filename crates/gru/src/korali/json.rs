//! Reading Korali JSON: key paths (`["Layers"][1]["Depth"]`), typed values whose errors name
//! the path, the value as JSON and the type expected, and the closest known name for a
//! misspelt key or option.

use serde_json::{Map, Value};

use super::ConfigWarning;
use crate::error::{Error, Result};

/// Longest JSON text quoted in an error; longer values (data arrays) are cut.
const MAX_SHOWN: usize = 120;
/// Lowest similarity (0..1) at which a known name is suggested.
const MIN_SIMILARITY: f64 = 0.6;

/// `base["key"]`, the key written as a JSON string.
pub(crate) fn key_path(base: &str, key: &str) -> String {
    format!("{base}[{}]", Value::from(key))
}

/// `base[i]`.
pub(crate) fn index_path(base: &str, index: usize) -> String {
    format!("{base}[{index}]")
}

/// The path as errors show it: the empty path (the object given) is `<root>`.
pub(crate) fn shown_path(path: &str) -> &str {
    if path.is_empty() {
        "<root>"
    } else {
        path
    }
}

/// The value as compact JSON, cut after [`MAX_SHOWN`] characters.
pub(crate) fn show(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(MAX_SHOWN) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// `Error::Config` for `value` at `path`.
pub(crate) fn invalid(path: &str, value: &Value, reason: impl Into<String>) -> Error {
    Error::config(shown_path(path), show(value), reason)
}

/// `Error::Config` for a required key that is absent.
pub(crate) fn missing(path: &str, reason: impl Into<String>) -> Error {
    Error::config(shown_path(path), "(missing)", reason)
}

/// A warning that the key at `path` was accepted but ignored (and is not saved).
pub(crate) fn ignored(warnings: &mut Vec<ConfigWarning>, path: &str, why: &str) {
    warnings.push(ConfigWarning {
        path: shown_path(path).to_string(),
        message: format!("ignored ({why}); not written back by to_json"),
    });
}

/// The closest of `candidates` to `word`, if it is close enough. A candidate's last
/// `/`-segment counts too, so `"Tanh"` finds `"Elementwise/Tanh"` and `"GRU"` finds
/// `"Layer/Recurrent/GRU"`. Comparison ignores case.
pub(crate) fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    let similarity = |candidate: &str| {
        let full = candidate.to_lowercase();
        let last = full.rsplit('/').next().unwrap_or(&full).to_string();
        strsim::normalized_damerau_levenshtein(&word, &full).max(strsim::normalized_damerau_levenshtein(&word, &last))
    };
    candidates
        .into_iter()
        .map(|c| (similarity(c), c))
        .filter(|(s, _)| *s >= MIN_SIMILARITY)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `Error::UnknownKey` for `key` inside the object at `base`, suggesting the closest of `known`.
pub(crate) fn unknown_key(base: &str, key: &str, known: &[&str]) -> Error {
    Error::UnknownKey { path: key_path(base, key), suggestion: closest(key, known.iter().copied()).map(str::to_string) }
}

/// The value as a JSON object.
pub(crate) fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| invalid(path, value, "expected a JSON object"))
}

/// The value as a JSON array.
pub(crate) fn array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>> {
    value.as_array().ok_or_else(|| invalid(path, value, "expected a JSON array"))
}

/// A size: a non-negative JSON integer; an integral float such as `32.0` is accepted.
pub(crate) fn size(value: &Value, path: &str) -> Result<usize> {
    let exact = |f: f64| f >= 0.0 && f.fract() == 0.0 && f <= 9_007_199_254_740_992.0; // 2^53
    let n = match value {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|&f| exact(f)).map(|f| f as u64)),
        _ => None,
    };
    n.and_then(|n| usize::try_from(n).ok()).ok_or_else(|| invalid(path, value, "expected a non-negative integer"))
}

/// A size greater than zero; `what` says what it counts.
pub(crate) fn positive_size(value: &Value, path: &str, what: &str) -> Result<usize> {
    match size(value, path)? {
        0 => Err(invalid(path, value, format!("{what} must be greater than 0"))),
        n => Ok(n),
    }
}

/// A finite JSON number.
pub(crate) fn number(value: &Value, path: &str) -> Result<f64> {
    value.as_f64().filter(|f| f.is_finite()).ok_or_else(|| invalid(path, value, "expected a number"))
}

/// A JSON string.
pub(crate) fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str> {
    value.as_str().ok_or_else(|| invalid(path, value, "expected a string"))
}

/// A JSON boolean.
pub(crate) fn boolean(value: &Value, path: &str) -> Result<bool> {
    value.as_bool().ok_or_else(|| invalid(path, value, "expected true or false"))
}

/// One of `options` (exact spelling); otherwise an error naming the closest option, or all.
pub(crate) fn choice(value: &Value, path: &str, options: &[&'static str], what: &str) -> Result<&'static str> {
    let given = string(value, path)?;
    options.iter().copied().find(|o| *o == given).ok_or_else(|| invalid(path, value, not_one_of(given, options, what)))
}

/// "unknown {what}; did you mean "x"?" or "unknown {what}; expected one of ...".
pub(crate) fn not_one_of(given: &str, options: &[&str], what: &str) -> String {
    match closest(given, options.iter().copied()) {
        Some(best) => format!("unknown {what}; did you mean \"{best}\"?"),
        None => format!("unknown {what}; expected one of {}", quoted_list(options)),
    }
}

/// `"a", "b", "c"`.
pub(crate) fn quoted_list(options: &[&str]) -> String {
    options.iter().map(|o| format!("\"{o}\"")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_quote_keys_as_json() {
        assert_eq!(key_path("", "Layers"), r#"["Layers"]"#);
        assert_eq!(index_path(&key_path("", "Layers"), 2), r#"["Layers"][2]"#);
        assert_eq!(key_path("", "a\"b"), r#"["a\"b"]"#);
        assert_eq!(shown_path(""), "<root>");
    }

    #[test]
    fn sizes_accept_integers_and_integral_floats_only() {
        assert_eq!(size(&json!(32), "p").unwrap(), 32);
        assert_eq!(size(&json!(32.0), "p").unwrap(), 32);
        for bad in [json!(-1), json!(2.5), json!("32"), json!(null), json!(1e300)] {
            match size(&bad, "p") {
                Err(Error::Config { path, value, reason }) => {
                    assert_eq!(path, "p");
                    assert_eq!(value, bad.to_string());
                    assert!(reason.contains("non-negative integer"), "{reason}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(positive_size(&json!(0), "p", "x").is_err());
    }

    #[test]
    fn closest_finds_typos_and_last_segments() {
        let keys = ["Output Channels", "Depth", "Weight Scaling"];
        assert_eq!(closest("Outpt Channels", keys), Some("Output Channels"));
        assert_eq!(closest("depht", keys), Some("Depth"));
        assert_eq!(closest("Banana", keys), None);
        assert_eq!(closest("Tanh", ["Elementwise/Tanh", "Softmax"]), Some("Elementwise/Tanh"));
        assert_eq!(
            closest("Layer/Recurrent/GRUU", ["Layer/Recurrent/GRU", "Layer/Linear"]),
            Some("Layer/Recurrent/GRU")
        );
    }

    #[test]
    fn long_values_are_cut() {
        let long = Value::Array((0..200).map(Value::from).collect());
        let shown = show(&long);
        assert!(shown.ends_with("...") && shown.len() <= MAX_SHOWN + 3);
    }

    #[test]
    fn choice_names_the_closest_option() {
        match choice(&json!("OneDnn"), "p", &["Korali", "OneDNN", "CuDNN"], "engine") {
            Err(Error::Config { reason, .. }) => assert!(reason.contains("\"OneDNN\""), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
