//! Model and checkpoint files: weights and their description in one `.safetensors` file.
//!
//! # Format (version 1)
//! A standard [safetensors](https://github.com/huggingface/safetensors) file:
//! - tensors, little-endian, row-major (C order), dtype `F32` or `F64`, each under a unique
//!   name (the caller's; e.g. `layer0.W`), with its shape;
//! - the header's `__metadata__` (a string → string map) holds
//!   - `"format": "gru"`,
//!   - `"format_version": "1"` ([`FORMAT_VERSION`]),
//!   - `"model"`: a JSON document, as a string: whatever the caller passes (network
//!     description, training options, normalization statistics, class names, optimizer
//!     state and progress counters).
//!
//! Other metadata keys are ignored on load. [`SafetensorsFile`] and [`save_tensors`] read
//! and write any safetensors file with the same checks (the converters' PyTorch and Keras
//! files). Safetensors orders tensors in the file by dtype,
//! then by name; [`load`] returns them sorted by name.
//!
//! # Safety of the data
//! [`save`] writes to a temporary file in the same folder, syncs it and renames it over the
//! destination, so a reader sees either the old file or the new one, never a partial one; on
//! any error the temporary file is removed and the destination is untouched. [`load`] checks
//! the format, the version, the model JSON and every tensor's dtype and values before
//! returning anything, and reports corrupt or truncated files as [`Error::File`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use gru_core::{DType, Real};
use safetensors::tensor::{Dtype, SafeTensors, View};

use crate::error::{Error, Result};

/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// The value of the `format` metadata key.
const FORMAT_NAME: &str = "gru";

/// The elements of one tensor, row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl TensorData {
    /// Wraps a vector of the library's scalar type (no copy for `f32` and `f64`).
    pub fn from_vec<T: Real>(values: Vec<T>) -> Self {
        let boxed: Box<dyn std::any::Any> = Box::new(values);
        match boxed.downcast::<Vec<f32>>() {
            Ok(v) => TensorData::F32(*v),
            Err(other) => match other.downcast::<Vec<f64>>() {
                Ok(v) => TensorData::F64(*v),
                // Only reachable for a foreign `Real` type: widening to f64 is exact.
                Err(other) => match other.downcast::<Vec<T>>() {
                    Ok(v) => TensorData::F64(v.into_iter().map(T::widen).collect()),
                    Err(_) => TensorData::F64(Vec::new()),
                },
            },
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
        }
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F32(_) => DType::F32,
            TensorData::F64(_) => DType::F64,
        }
    }

    /// The element type's name as in errors and fixtures: `"f32"` or `"f64"`.
    pub fn dtype_name(&self) -> &'static str {
        match self {
            TensorData::F32(_) => "f32",
            TensorData::F64(_) => "f64",
        }
    }

    /// The elements as `T` (no copy). A dtype other than `T`'s is refused, never converted:
    /// an f64 model does not load silently into an f32 network, nor the reverse. `name` and
    /// `path` name the tensor and file in the error.
    pub fn into_vec<T: Real>(self, name: &str, path: &Path) -> Result<Vec<T>> {
        let have = self.dtype();
        let boxed: Box<dyn std::any::Any> = match self {
            TensorData::F32(v) => Box::new(v),
            TensorData::F64(v) => Box::new(v),
        };
        boxed.downcast::<Vec<T>>().map(|v| *v).map_err(|_| {
            Error::file(
                path,
                format!(
                    "tensor {name} holds {have} values but a {want} model was asked for; \
                     load it with the {have} element type (values are never converted silently)",
                    want = T::DTYPE
                ),
            )
        })
    }

    fn first_non_finite(&self) -> Option<usize> {
        match self {
            TensorData::F32(v) => v.iter().position(|x| !x.is_finite()),
            TensorData::F64(v) => v.iter().position(|x| !x.is_finite()),
        }
    }
}

/// One named tensor: `data` holds `shape.iter().product()` elements, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl NamedTensor {
    /// A tensor from a vector of the library's scalar type (lengths are checked by [`save`]).
    pub fn new<T: Real>(name: impl Into<String>, shape: Vec<usize>, values: Vec<T>) -> Self {
        NamedTensor { name: name.into(), shape, data: TensorData::from_vec(values) }
    }
}

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

/// Saves `tensors` and the `model` description to `path` (format in the module docs).
///
/// Writes atomically: to `.{name}.tmp-{pid}-{counter}` in the same folder, fsync, then a
/// rename over `path`; on any error the temporary file is removed and `path` is untouched.
/// Refuses (as [`Error::File`] naming the tensor) duplicate or reserved (`__metadata__`)
/// names, a data length that differs from the shape's product, and non-finite values.
pub fn save(path: &Path, tensors: &[NamedTensor], model: &serde_json::Value) -> Result<()> {
    let model = serde_json::to_string(model).map_err(|e| Error::file(path, format!("model JSON: {e}")))?;
    let metadata = HashMap::from([
        ("format".to_string(), FORMAT_NAME.to_string()),
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        ("model".to_string(), model),
    ]);
    save_tensors(path, tensors, metadata)
}

/// Saves `tensors` with the given header metadata and no other: the files of other tools
/// (a PyTorch state dict, the Keras layout of `convert`). Same checks and atomic write as
/// [`save`].
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

/// Distinguishes temporary files of concurrent saves within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to a sibling temporary file, syncs it, and renames it over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name =
        path.file_name().ok_or_else(|| Error::file(path, "the path names no file"))?.to_string_lossy().into_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let counter = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{file_name}.tmp-{}-{counter}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        // The temporary file may not exist (e.g. the folder is missing): nothing to report.
        let _ = fs::remove_file(&temp);
        return Err(Error::file(path, format!("cannot write: {e}")));
    }
    // Make the rename durable where the platform allows syncing a folder (best effort).
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Loads a file written by [`save`]: the tensors (sorted by name) and the model JSON.
///
/// Checks that the file parses as safetensors, that its metadata has format `"gru"` and a
/// format version this build reads (1 to [`FORMAT_VERSION`]), that `"model"` parses as JSON,
/// and that every tensor is `F32` or `F64` with finite values. Every failure, including a
/// corrupt or truncated file, is an [`Error::File`]; none panics.
pub fn load(path: &Path) -> Result<(Vec<NamedTensor>, serde_json::Value)> {
    let file = SafetensorsFile::read(path)?;
    let model = model_json(&file)?;
    let tensors = file.names().map(|name| file.tensor(name)).collect::<Result<Vec<_>>>()?;
    Ok((tensors, model))
}

/// The model JSON of a gru file, after checking its format and version (see [`load`]).
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
    let model_text = get("model").ok_or_else(|| Error::file(path, "the metadata has no \"model\" key"))?;
    serde_json::from_str(model_text).map_err(|e| Error::file(path, format!("the \"model\" JSON is invalid: {e}")))
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

    /// Decodes tensor `name`. A missing tensor, a dtype other than `F32`/`F64` or a
    /// non-finite value is an [`Error::File`] naming the tensor.
    pub fn tensor(&self, name: &str) -> Result<NamedTensor> {
        let path = &self.path;
        let e = self.entry(name).ok_or_else(|| Error::file(path, format!("tensor {name} is missing")))?;
        let (start, end) = e.offsets;
        // read_metadata checked that the offsets tile the data section exactly.
        let raw =
            self.bytes.get(self.data_start..).and_then(|section| section.get(start..end)).ok_or_else(|| {
                Error::file(path, format!("tensor {name}: data offsets lie past the end of the file"))
            })?;
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

/// Removes and returns the tensor `name` from `tensors`, checking its shape. A missing
/// tensor or a shape other than `shape` is an [`Error::File`] naming the tensor and both
/// shapes; `path` is the file the tensors came from.
pub fn take(tensors: &mut Vec<NamedTensor>, name: &str, shape: &[usize], path: &Path) -> Result<TensorData> {
    let Some(index) = tensors.iter().position(|t| t.name == name) else {
        return Err(Error::file(path, format!("tensor {name} (expected shape {shape:?}) is missing")));
    };
    if tensors[index].shape != shape {
        return Err(Error::file(
            path,
            format!("tensor {name} has shape {:?}, expected {shape:?}", tensors[index].shape),
        ));
    }
    Ok(tensors.remove(index).data)
}

/// [`take`], then [`TensorData::into_vec`]: the tensor's values as `T`, refusing another dtype.
pub fn take_as<T: Real>(tensors: &mut Vec<NamedTensor>, name: &str, shape: &[usize], path: &Path) -> Result<Vec<T>> {
    take(tensors, name, shape, path)?.into_vec(name, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;
    use serde_json::json;

    fn reason(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(Error::File { reason, .. }) => reason,
            other => panic!("expected Error::File, got {other:?}"),
        }
    }

    fn sample() -> (Vec<NamedTensor>, serde_json::Value) {
        let tensors = vec![
            NamedTensor::new("layer0.W", vec![2, 3], vec![0.1f32, -0.0, f32::MIN_POSITIVE, 1e-45, f32::MAX, -3.5]),
            NamedTensor::new("layer0.b", vec![3], vec![1.0f64 / 3.0, -0.0, 5e-324]),
            NamedTensor::new("scalar", vec![], vec![std::f32::consts::PI]),
            NamedTensor::new("empty", vec![0, 4], Vec::<f64>::new()),
        ];
        let model = json!({"network": {"layers": [{"type": "gru", "hidden": 3}]}, "lr": 0.1, "classes": ["a", "b"]});
        (tensors, model)
    }

    fn bits(t: &NamedTensor) -> Vec<u64> {
        match &t.data {
            TensorData::F32(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
            TensorData::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
        }
    }

    /// Writes a raw safetensors file with `metadata` and one tensor of the given dtype.
    fn write_raw(path: &Path, metadata: &[(&str, &str)], dtype: Dtype, data: &[u8]) {
        let width = dtype.bitsize() / 8;
        let view = TensorView::new(dtype, vec![data.len() / width], data).unwrap();
        let meta = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let bytes = safetensors::serialize([("w", view)], Some(meta)).unwrap();
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn round_trip_is_bit_identical() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let (tensors, model) = sample();
        save(&path, &tensors, &model).unwrap();
        let (loaded, loaded_model) = load(&path).unwrap();
        assert_eq!(loaded_model, model);
        let mut expected = tensors.clone();
        expected.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(loaded.len(), expected.len());
        for (a, b) in loaded.iter().zip(&expected) {
            assert_eq!((&a.name, &a.shape, a.data.dtype()), (&b.name, &b.shape, b.data.dtype()));
            assert_eq!(bits(a), bits(b), "{}", a.name);
        }
    }

    #[test]
    fn readable_by_plain_safetensors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let (tensors, model) = sample();
        save(&path, &tensors, &model).unwrap();
        let bytes = fs::read(&path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let w = st.tensor("layer0.W").unwrap();
        assert_eq!((w.dtype(), w.shape()), (Dtype::F32, &[2usize, 3][..]));
        assert_eq!(st.tensor("layer0.b").unwrap().dtype(), Dtype::F64);
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let meta = header.metadata().clone().unwrap();
        assert_eq!(meta["format"], "gru");
        assert_eq!(meta["format_version"], "1");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&meta["model"]).unwrap(), model);
    }

    #[test]
    fn save_replaces_and_failed_save_leaves_file_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let (tensors, model) = sample();
        save(&path, &tensors[..1], &json!({"old": true})).unwrap();
        save(&path, &tensors, &model).unwrap();
        assert_eq!(load(&path).unwrap().0.len(), tensors.len());
        let before = fs::read(&path).unwrap();

        let bad: Vec<(Vec<NamedTensor>, &str)> = vec![
            (
                vec![NamedTensor::new("x", vec![2], vec![1.0f32, f32::NAN])],
                "tensor x has a non-finite value at element",
            ),
            (vec![NamedTensor::new("x", vec![1], vec![f64::INFINITY])], "tensor x has a non-finite value at element"),
            (vec![tensors[0].clone(), tensors[0].clone()], "tensor layer0.W appears twice"),
            (vec![NamedTensor::new("x", vec![2, 2], vec![1.0f32; 3])], "tensor x has shape [2, 2] but 3 values"),
            (vec![NamedTensor::new("x", vec![usize::MAX, 2], vec![1.0f32])], "tensor x has shape"),
            (vec![NamedTensor::new("__metadata__", vec![1], vec![1.0f32])], "reserved"),
        ];
        for (set, expect) in bad {
            let r = reason(save(&path, &set, &model));
            assert!(r.contains(expect), "{r}");
            assert_eq!(fs::read(&path).unwrap(), before);
        }
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("m.safetensors")]);

        // A save that fails at the rename (destination is a folder) removes its temporary file.
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join("keep"), b"k").unwrap();
        assert!(reason(save(&sub, &tensors, &model)).contains("cannot write"));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
        assert!(reason(save(&dir.path().join("missing/m.safetensors"), &tensors, &model)).contains("cannot write"));
    }

    #[test]
    fn corrupt_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        assert!(reason(load(&path)).contains("cannot read"));
        fs::write(&path, b"").unwrap();
        assert!(reason(load(&path)).contains("safetensors"));
        for len in [7u64, 8, 64, 1000] {
            let noise: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8).collect();
            fs::write(&path, &noise).unwrap();
            assert!(load(&path).is_err());
        }
        let (tensors, model) = sample();
        save(&path, &tensors, &model).unwrap();
        let whole = fs::read(&path).unwrap();
        for cut in 0..whole.len() {
            fs::write(&path, &whole[..cut]).unwrap();
            assert!(load(&path).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn overflowing_offsets_are_errors_not_panics() {
        // Eight U8 tensors whose sizes sum to almost 2^64: safetensors' own check would overflow.
        let size = (u64::MAX / 8) as usize;
        let mut header = serde_json::Map::new();
        for i in 0..8 {
            let info = json!({"dtype": "U8", "shape": [size], "data_offsets": [i * size, (i + 1) * size]});
            header.insert(format!("t{i}"), info);
        }
        let text = serde_json::to_vec(&header).unwrap();
        let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
        bytes.extend(text);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        fs::write(&path, bytes).unwrap();
        assert!(reason(load(&path)).contains("past the end"));
    }

    #[test]
    fn header_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let one = 1.0f32.to_le_bytes();
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![], "no \"format\""),
            (vec![("format", "pytorch"), ("format_version", "1"), ("model", "{}")], "\"pytorch\""),
            (vec![("format", "gru"), ("model", "{}")], "format_version"),
            (
                vec![("format", "gru"), ("format_version", "2"), ("model", "{}")],
                "version 2; this build reads versions up to 1",
            ),
            (vec![("format", "gru"), ("format_version", "0"), ("model", "{}")], "invalid format_version"),
            (vec![("format", "gru"), ("format_version", "x"), ("model", "{}")], "invalid format_version"),
            (vec![("format", "gru"), ("format_version", "1")], "no \"model\""),
            (vec![("format", "gru"), ("format_version", "1"), ("model", "{\"a\": ")], "\"model\" JSON is invalid"),
        ];
        for (meta, expect) in cases {
            write_raw(&path, &meta, Dtype::F32, &one);
            let r = reason(load(&path));
            assert!(r.contains(expect), "{meta:?}: {r}");
        }
        let meta = [("format", "gru"), ("format_version", "1"), ("model", "{\"k\": 1}")];
        write_raw(&path, &meta, Dtype::F32, &one);
        assert_eq!(load(&path).unwrap().1, json!({"k": 1}));
        write_raw(&path, &meta, Dtype::I32, &7i32.to_le_bytes());
        let r = reason(load(&path));
        assert!(r.contains("tensor w") && r.contains("I32"), "{r}");
        write_raw(&path, &meta, Dtype::F64, &f64::NAN.to_le_bytes());
        assert!(reason(load(&path)).contains("non-finite"));
    }

    #[test]
    fn take_and_dtype_checks() {
        let path = Path::new("m.safetensors");
        let (mut tensors, _) = sample();
        let r = reason(take(&mut tensors, "layer1.W", &[2, 3], path));
        assert!(r.contains("layer1.W") && r.contains("missing") && r.contains("[2, 3]"), "{r}");
        let r = reason(take(&mut tensors, "layer0.W", &[3, 2], path));
        assert!(r.contains("layer0.W") && r.contains("[2, 3]") && r.contains("[3, 2]"), "{r}");
        assert_eq!(tensors.len(), 4);
        let w: Vec<f32> = take_as(&mut tensors, "layer0.W", &[2, 3], path).unwrap();
        assert_eq!((w.len(), tensors.len()), (6, 3));
        let r = reason(take_as::<f32>(&mut tensors, "layer0.b", &[3], path));
        assert!(r.contains("layer0.b") && r.contains("f64 values") && r.contains("f32 model"), "{r}");
        let r = reason(TensorData::F32(vec![1.0]).into_vec::<f64>("w", path));
        assert!(r.contains("f32 values") && r.contains("f64 model"), "{r}");
        let data = TensorData::from_vec(vec![1.0f64, 2.0]);
        assert_eq!((data.dtype_name(), data.len(), data.is_empty()), ("f64", 2, false));
        assert_eq!(data.into_vec::<f64>("w", path).unwrap(), vec![1.0, 2.0]);
        assert_eq!(TensorData::from_vec(vec![1.0f32]).dtype_name(), "f32");
    }
}
