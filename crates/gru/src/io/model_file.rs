//! The gru model file: a safetensors file whose header names the format, its version and
//! the model JSON (format in the [module docs](super)).

use std::collections::HashMap;
use std::path::Path;

use super::checksum::{of_tensors, verify_checksum, CHECKSUM_KEY};
use super::safetensors_file::{save_tensors, SafetensorsFile};
use super::tensor::NamedTensor;
use crate::error::{Error, Result};

/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// The value of the `format` metadata key.
const FORMAT_NAME: &str = "gru";

/// Saves `tensors` and the `model` description to `path` (format in the module docs).
///
/// Writes atomically: to `.{name}.tmp-{pid}-{counter}` in the same folder, fsync, then a
/// rename over `path`; on any error the temporary file is removed and `path` is untouched.
/// Refuses (as [`Error::File`] naming the tensor) duplicate or reserved (`__metadata__`)
/// names, a data length that differs from the shape's product, and non-finite values.
/// The metadata's `"checksum"` covers the tensor data and the model JSON
/// ([`verify_checksum`](super::verify_checksum)).
pub fn save(path: &Path, tensors: &[NamedTensor], model: &serde_json::Value) -> Result<()> {
    let model = serde_json::to_string(model).map_err(|e| Error::file(path, format!("model JSON: {e}")))?;
    let metadata = HashMap::from([
        ("format".to_string(), FORMAT_NAME.to_string()),
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        (CHECKSUM_KEY.to_string(), of_tensors(tensors, &model)),
        ("model".to_string(), model),
    ]);
    save_tensors(path, tensors, metadata)
}

/// Loads a file written by [`save`]: the tensors (sorted by name) and the model JSON.
///
/// Checks that the file parses as safetensors, that its metadata has format `"gru"` and a
/// format version this build reads (1 to [`FORMAT_VERSION`]), that its checksum (when it
/// has one: files of earlier builds do not) matches, that `"model"` parses as JSON, and
/// that every tensor is `F32` or `F64` with finite values. A checksum that differs is an
/// [`Error::ChecksumMismatch`]; every other failure, including a corrupt or truncated
/// file, is an [`Error::File`]; none panics.
pub fn load(path: &Path) -> Result<(Vec<NamedTensor>, serde_json::Value)> {
    let file = SafetensorsFile::read(path)?;
    let model = model_json(&file)?;
    let tensors = file.names().map(|name| file.tensor(name)).collect::<Result<Vec<_>>>()?;
    Ok((tensors, model))
}

/// The model JSON of a gru file, after checking its format, version and checksum (see
/// [`load`]; [`verify_checksum`](super::verify_checksum) tells whether it had one).
pub fn model_json(file: &SafetensorsFile) -> Result<serde_json::Value> {
    let path = file.path();
    let get = |key: &str| file.metadata().get(key).map(String::as_str);

    match get("format") {
        Some(FORMAT_NAME) => {}
        Some(other) => {
            return Err(Error::file(path, format!("format is \"{other}\", not \"{FORMAT_NAME}\"")));
        }
        None => return Err(Error::file(path, "not a gru model file: the metadata has no \"format\" key")),
    }
    let version = get("format_version").ok_or_else(|| Error::file(path, "the metadata has no \"format_version\""))?;
    match version.parse::<u32>() {
        Ok(v) if (1..=FORMAT_VERSION).contains(&v) => {}
        Ok(v) if v > FORMAT_VERSION => {
            return Err(Error::file(
                path,
                format!(
                    "the file has format version {v}; this build reads versions up to {FORMAT_VERSION} \
                     (a newer gru wrote it)"
                ),
            ));
        }
        _ => return Err(Error::file(path, format!("invalid format_version \"{version}\""))),
    }
    verify_checksum(file)?;
    let model_text = get("model").ok_or_else(|| Error::file(path, "the metadata has no \"model\" key"))?;
    serde_json::from_str(model_text).map_err(|e| Error::file(path, format!("the \"model\" JSON is invalid: {e}")))
}
