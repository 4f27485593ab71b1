//! Reading Korali JSON: typed values whose errors name the path (`["Layers"][1]["Depth"]`),
//! the value as JSON and the type expected, and the closest known name for a misspelt key
//! or option (the paths and names of [`crate::suggest`]).

use serde_json::{Map, Value};

use super::ConfigWarning;
use crate::error::{Error, Result};
pub(crate) use crate::suggest::{index_path, key_path, not_one_of, show, shown_path, unknown_key};

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
    fn choice_names_the_closest_option() {
        match choice(&json!("OneDnn"), "p", &["Korali", "OneDNN", "CuDNN"], "engine") {
            Err(Error::Config { reason, .. }) => assert!(reason.contains("\"OneDNN\""), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
