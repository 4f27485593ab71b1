//! Any safetensors file, read whole and checked ([`SafetensorsFile`]), and written
//! atomically with the caller's header metadata ([`save_tensors`]).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, View};

use super::atomic::write_atomically;
use super::tensor::{NamedTensor, TensorData};
use crate::error::{Error, Result};

/// Borrowed view of a [`NamedTensor`] for the safetensors serializer.
struct Bytes<'a>(&'a NamedTensor);

impl View for Bytes<'_> {
    fn dtype(&self) -> Dtype {
        match self.0.data {
            TensorData::F32(_) => Dtype::F32,
            TensorData::F64(_) => Dtype::F64,
        }
    }

    fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(match &self.0.data {
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        })
    }

    fn data_len(&self) -> usize {
        match &self.0.data {
            TensorData::F32(v) => v.len() * 4,
            TensorData::F64(v) => v.len() * 8,
        }
    }
}
/// Saves `tensors` with the given header metadata and no other: the files of other tools
/// (a PyTorch state dict, the Keras layout of `convert`). Same checks and atomic write as
/// [`save`](super::save).
pub fn save_tensors(path: &Path, tensors: &[NamedTensor], metadata: HashMap<String, String>) -> Result<()> {
    check_tensors(path, tensors)?;
    let bytes = safetensors::serialize(tensors.iter().map(|t| (t.name.as_str(), Bytes(t))), Some(metadata))
        .map_err(|e| Error::file(path, format!("cannot serialize: {e}")))?;
    write_atomically(path, &bytes)
}

/// Refuses reserved or duplicate names, lengths other than the shape's product, and
/// non-finite values, naming the tensor.
fn check_tensors(path: &Path, tensors: &[NamedTensor]) -> Result<()> {
    let mut seen = HashSet::new();
    for t in tensors {
        if t.name == "__metadata__" {
            return Err(Error::file(path, "the tensor name __metadata__ is reserved by safetensors"));
        }
        if !seen.insert(t.name.as_str()) {
            return Err(Error::file(path, format!("tensor {} appears twice", t.name)));
        }
        let count = t.shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if count != Some(t.data.len()) {
            return Err(Error::file(
                path,
                format!("tensor {} has shape {:?} but {} values", t.name, t.shape, t.data.len()),
            ));
        }
        if let Some(i) = t.data.first_non_finite() {
            return Err(Error::file(path, format!("tensor {} has a non-finite value at element {i}", t.name)));
        }
    }
    Ok(())
}

/// One tensor of a [`SafetensorsFile`]: where its bytes lie in the data section.
struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    offsets: (usize, usize),
}

/// Any safetensors file (ours, a PyTorch state dict, the Keras layout of `convert`), read
/// whole and checked: the header parses, the data offsets tile the data section (refused
/// before safetensors sums them, see below). Tensors are decoded one at a time by
/// [`SafetensorsFile::tensor`], so a big model's other tensors (of any dtype) cost nothing.
pub struct SafetensorsFile {
    path: PathBuf,
    bytes: Vec<u8>,
    data_start: usize,
    metadata: HashMap<String, String>,
    /// Sorted by name.
    entries: Vec<Entry>,
}

impl SafetensorsFile {
    /// Reads and checks `path`; a missing, corrupt or truncated file is an [`Error::File`].
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        check_offsets(&bytes).map_err(|reason| Error::file(path, reason))?;
        let (header_len, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| Error::file(path, format!("not a valid safetensors file: {e}")))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let mut entries: Vec<Entry> = header
            .tensors()
            .into_iter()
            .map(|(name, info)| Entry {
                name,
                dtype: info.dtype,
                shape: info.shape.clone(),
                offsets: info.data_offsets,
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self { path: path.to_path_buf(), bytes, data_start: 8 + header_len, metadata, entries })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header's `__metadata__` map (empty when it has none).
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// The shape of tensor `name`, or `None` when the file has no such tensor.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.entry(name).map(|e| e.shape.as_slice())
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.binary_search_by(|e| e.name.as_str().cmp(name)).ok().map(|i| &self.entries[i])
    }

    /// The data bytes of tensor `name`, as stored (little-endian); a missing tensor is an
    /// [`Error::File`] naming it.
    pub(crate) fn raw(&self, name: &str) -> Result<&[u8]> {
        let path = &self.path;
        let e = self.entry(name).ok_or_else(|| Error::file(path, format!("tensor {name} is missing")))?;
        let (start, end) = e.offsets;
        // read_metadata checked that the offsets tile the data section exactly.
        self.bytes
            .get(self.data_start..)
            .and_then(|section| section.get(start..end))
            .ok_or_else(|| Error::file(path, format!("tensor {name}: data offsets lie past the end of the file")))
    }

    /// Decodes tensor `name`. A missing tensor, a dtype other than `F32`/`F64` or a
    /// non-finite value is an [`Error::File`] naming the tensor.
    pub fn tensor(&self, name: &str) -> Result<NamedTensor> {
        let path = &self.path;
        let e = self.entry(name).ok_or_else(|| Error::file(path, format!("tensor {name} is missing")))?;
        let raw = self.raw(name)?;
        let data = match e.dtype {
            Dtype::F32 => TensorData::F32(
                raw.chunks_exact(4).filter_map(|c| c.first_chunk().copied().map(f32::from_le_bytes)).collect(),
            ),
            Dtype::F64 => TensorData::F64(
                raw.chunks_exact(8).filter_map(|c| c.first_chunk().copied().map(f64::from_le_bytes)).collect(),
            ),
            other => {
                return Err(Error::file(
                    path,
                    format!("tensor {name} has dtype {other}; only F32 and F64 are supported"),
                ));
            }
        };
        if let Some(i) = data.first_non_finite() {
            return Err(Error::file(path, format!("tensor {name} has a non-finite value at element {i}")));
        }
        Ok(NamedTensor { name: name.to_string(), shape: e.shape.clone(), data })
    }
}

/// Refuses data offsets past the end of the file before safetensors sums them: its header
/// validation adds the offsets unchecked and overflows (a panic in debug builds) on
/// crafted headers. Anything else malformed is left for safetensors to report.
fn check_offsets(bytes: &[u8]) -> std::result::Result<(), String> {
    let Some(n) = bytes.first_chunk::<8>().map(|b| u64::from_le_bytes(*b)) else { return Ok(()) };
    let header = usize::try_from(n).ok().and_then(|n| n.checked_add(8)).and_then(|end| bytes.get(8..end));
    let Some(Ok(serde_json::Value::Object(map))) = header.map(serde_json::from_slice::<serde_json::Value>) else {
        return Ok(());
    };
    let data_len = (bytes.len() as u64).saturating_sub(n.saturating_add(8));
    for (name, info) in map.iter().filter(|(k, _)| k.as_str() != "__metadata__") {
        if let Some(offsets) = info.get("data_offsets").and_then(|o| o.as_array()) {
            if offsets.iter().any(|o| o.as_u64().is_some_and(|o| o > data_len)) {
                return Err(format!("tensor {name}: data offsets {offsets:?} lie past the end of the file"));
            }
        }
    }
    Ok(())
}
