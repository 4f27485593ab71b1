//! The checksum of a gru model file: a flipped byte in its tensor data (or in its model
//! JSON) is an error at load, never a quietly different model.
//!
//! The metadata key `"checksum"` holds `crc32:` and eight lowercase hex digits: the CRC-32
//! (IEEE, as zlib and PNG) of every tensor's data bytes, tensor by tensor in name order
//! (byte order of the names), then of the UTF-8 bytes of the `"model"` metadata value.
//! Files written before the checksum existed have no such key: they load, and
//! [`verify_checksum`] says [`Checksum::Absent`] so that a caller can note it.

use crc32fast::Hasher;

use super::safetensors_file::SafetensorsFile;
use super::tensor::{NamedTensor, TensorData};
use crate::error::{Error, Result};

/// The metadata key of the checksum.
pub const CHECKSUM_KEY: &str = "checksum";

/// The algorithm prefix of the checksum's value.
const CRC32: &str = "crc32:";

/// What [`verify_checksum`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// The file's checksum matches its content.
    Verified,
    /// The file has no checksum (written by an earlier gru): its values cannot be checked.
    Absent,
}

/// The checksum value of `tensors` and the model JSON text `model`, as [`save`](super::save)
/// writes it (see the module docs).
pub(crate) fn of_tensors(tensors: &[NamedTensor], model: &str) -> String {
    let mut sorted: Vec<&NamedTensor> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut h = Hasher::new();
    for t in sorted {
        match &t.data {
            TensorData::F32(v) => v.iter().for_each(|x| h.update(&x.to_le_bytes())),
            TensorData::F64(v) => v.iter().for_each(|x| h.update(&x.to_le_bytes())),
        }
    }
    h.update(model.as_bytes());
    format!("{CRC32}{:08x}", h.finalize())
}

/// The checksum value of the content of `file` (its raw tensor bytes and its `"model"`
/// metadata value), computed the same way as [`of_tensors`].
fn of_file(file: &SafetensorsFile) -> Result<String> {
    let mut h = Hasher::new();
    for name in file.names() {
        h.update(file.raw(name)?);
    }
    h.update(file.metadata().get("model").map_or("", String::as_str).as_bytes());
    Ok(format!("{CRC32}{:08x}", h.finalize()))
}

/// Checks the checksum of a gru model file against its content: [`Checksum::Verified`] when
/// it matches, [`Checksum::Absent`] when the file has none, [`Error::ChecksumMismatch`]
/// naming the file and both values when it differs, and an [`Error::File`] for a checksum
/// value this build cannot read.
pub fn verify_checksum(file: &SafetensorsFile) -> Result<Checksum> {
    let Some(stored) = file.metadata().get(CHECKSUM_KEY) else { return Ok(Checksum::Absent) };
    let valid =
        stored.strip_prefix(CRC32).is_some_and(|hex| hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if !valid {
        return Err(Error::file(
            file.path(),
            format!("the checksum {stored:?} is not of the form \"crc32:\" and eight hex digits"),
        ));
    }
    let computed = of_file(file)?;
    if !computed.eq_ignore_ascii_case(stored) {
        return Err(Error::ChecksumMismatch {
            path: file.path().display().to_string(),
            stored: stored.clone(),
            computed,
        });
    }
    Ok(Checksum::Verified)
}
