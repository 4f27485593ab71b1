//! Names and paths of JSON documents users write (Korali configs, layer arrays, training
//! options): key paths (`["Layers"][1]["Depth"]`), values quoted in errors, the closest
//! known name for a misspelt key or option, and [`from_value_at`], which turns serde's
//! refusals of a document into errors that name the path and suggest that name.

use std::cell::RefCell;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;

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

/// `Error::UnknownKey` for `key` inside the object at `base`, suggesting the closest of `known`.
pub(crate) fn unknown_key(base: &str, key: &str, known: &[&str]) -> Error {
    Error::UnknownKey { path: key_path(base, key), suggestion: closest(key, known.iter().copied()).map(str::to_string) }
}

/// The field names a struct's `Deserialize` asks serde for (its keys, renames applied), read
/// by running `deserialize` on a probe that records them and stops; empty for a type that
/// is not deserialized as a struct (one with flattened fields, an enum).
pub(crate) fn struct_fields<T>(deserialize: impl FnOnce(FieldProbe) -> Result<T, ProbeStop>) -> Vec<&'static str> {
    let fields = Rc::new(RefCell::new(Vec::new()));
    let _ = deserialize(FieldProbe(Rc::clone(&fields)));
    let fields = fields.borrow().clone();
    fields
}

/// The deserializer of [`struct_fields`]: it records the fields of `deserialize_struct` and
/// refuses everything.
pub(crate) struct FieldProbe(Rc<RefCell<Vec<&'static str>>>);

/// The error that stops a [`FieldProbe`].
#[derive(Debug)]
pub(crate) struct ProbeStop;

impl std::fmt::Display for ProbeStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field probe")
    }
}

impl std::error::Error for ProbeStop {}

impl serde::de::Error for ProbeStop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        ProbeStop
    }
}

impl<'de> serde::Deserializer<'de> for FieldProbe {
    type Error = ProbeStop;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeStop> {
        Err(ProbeStop)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, ProbeStop> {
        self.0.borrow_mut().extend_from_slice(fields);
        Err(ProbeStop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// Deserializes `value` (found at `base` of its document, `""` for the root) as `D`. A key
/// serde refuses is [`Error::UnknownKey`] naming its path and the closest key serde expected
/// (or, where serde lists none, as for flattened structs, of `known`); a value that is no
/// variant serde knows is [`Error::Config`] naming its path and the closest variant; any
/// other refusal is [`Error::Config`] at `base` with serde's message.
pub(crate) fn from_value_at<D: DeserializeOwned>(value: &Value, base: &str, known: &[&str]) -> Result<D, Error> {
    serde_json::from_value(value.clone()).map_err(|e| refusal(&e.to_string(), value, base, known))
}

/// The typed error of serde's message `message` about `value` at `base` (see [`from_value_at`]).
fn refusal(message: &str, value: &Value, base: &str, known: &[&str]) -> Error {
    if let Some((name, expected)) = named(message, "unknown field `") {
        let expected = if expected.is_empty() { known.to_vec() } else { expected };
        let path = find(value, base, &|v| v.as_object().is_some_and(|o| o.contains_key(name)))
            .map_or_else(|| key_path(base, name), |at| key_path(&at, name));
        return Error::UnknownKey { path, suggestion: closest(name, expected).map(str::to_string) };
    }
    if let Some((name, expected)) = named(message, "unknown variant `") {
        let path = find(value, base, &|v| v.as_str() == Some(name)).unwrap_or_else(|| base.to_string());
        return Error::config(shown_path(&path), Value::from(name), not_one_of(name, &expected, "name"));
    }
    Error::config(shown_path(base), show(value), message)
}

/// The name serde quotes after `prefix` (`` unknown field `x`, expected one of `a`, `b` ``)
/// and the names it expected (empty when it lists none).
fn named<'m>(message: &'m str, prefix: &str) -> Option<(&'m str, Vec<&'m str>)> {
    let rest = message.strip_prefix(prefix)?;
    let (name, tail) = rest.split_once('`')?;
    let expected = tail.split('`').skip(1).step_by(2).collect();
    Some((name, expected))
}

/// The path (from `base`) of the first value inside `value`, itself included, that `hit`
/// accepts, searching depth first.
fn find(value: &Value, base: &str, hit: &dyn Fn(&Value) -> bool) -> Option<String> {
    if hit(value) {
        return Some(base.to_string());
    }
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| find(v, &key_path(base, k), hit)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| find(v, &index_path(base, i), hit)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
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

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Options {
        max_epochs: usize,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    #[allow(dead_code)]
    enum Inner {
        EveryEpoch,
        Once,
    }

    #[test]
    fn struct_fields_are_read_from_deserialize() {
        assert_eq!(struct_fields(Options::deserialize), ["max_epochs", "inner"]);
        assert!(struct_fields(Inner::deserialize).is_empty());
    }

    #[test]
    fn serde_refusals_name_the_path_and_the_closest_name() {
        match from_value_at::<Options>(&json!({"max_epoch": 3}), "", &[]) {
            Err(Error::UnknownKey { path, suggestion }) => {
                assert_eq!(path, r#"["max_epoch"]"#);
                assert_eq!(suggestion.as_deref(), Some("max_epochs"));
            }
            other => panic!("{other:?}"),
        }
        let err = from_value_at::<Options>(&json!({"max_epochs": 3, "inner": "every_epoch"}), "[2]", &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(r#"[2]["inner"]"#) && text.contains("did you mean \"every-epoch\""), "{text}");
        let err = from_value_at::<Options>(&json!({}), "", &[]).unwrap_err().to_string();
        assert!(err.contains("<root>") && err.contains("missing field `max_epochs`"), "{err}");
    }
}
