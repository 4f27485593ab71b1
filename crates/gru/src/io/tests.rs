use std::fs;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde_json::json;

use super::*;
use crate::error::{Error, Result};

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
        (vec![NamedTensor::new("x", vec![2], vec![1.0f32, f32::NAN])], "tensor x has a non-finite value at element"),
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
    // A missing folder is named as such (not through the temporary file's path).
    let r = reason(save(&dir.path().join("missing/m.safetensors"), &tensors, &model));
    assert!(r.contains("cannot write") && r.contains("missing") && r.contains("does not exist"), "{r}");
    assert!(!r.contains(".m.safetensors.tmp-"), "{r}");
}

/// The start of the data section of a safetensors file (after the 8-byte length and the header).
fn data_start(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

#[test]
fn every_flipped_data_byte_is_a_checksum_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let (tensors, model) = sample();
    save(&path, &tensors, &model).unwrap();
    let whole = fs::read(&path).unwrap();
    assert_eq!(verify_checksum(&SafetensorsFile::read(&path).unwrap()), Ok(Checksum::Verified));
    let start = data_start(&whole);
    assert!(whole.len() - start >= 50, "the sample has data bytes");
    for at in start..whole.len() {
        let mut bytes = whole.clone();
        bytes[at] ^= 0x10;
        fs::write(&path, &bytes).unwrap();
        match load(&path) {
            Err(Error::ChecksumMismatch { path: p, stored, computed }) => {
                assert_eq!(p, path.display().to_string());
                assert!(stored.starts_with("crc32:") && computed.starts_with("crc32:") && stored != computed);
            }
            other => panic!("byte {at} flipped: {other:?}"),
        }
    }
    // A changed digit of the model JSON that still parses (`0.1` -> `0.7`) is caught too.
    let header = String::from_utf8(whole[8..start].to_vec()).unwrap();
    let mut bytes = whole[..8].to_vec();
    bytes.extend_from_slice(header.replace(r#"\"lr\":0.1"#, r#"\"lr\":0.7"#).as_bytes());
    bytes.extend_from_slice(&whole[start..]);
    assert_eq!(bytes.len(), whole.len(), "the header kept its length");
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(load(&path), Err(Error::ChecksumMismatch { .. })), "{:?}", load(&path));
}

#[test]
fn files_without_a_checksum_load_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    // An earlier build's file: no "checksum" key.
    let meta = [("format", "gru"), ("format_version", "1"), ("model", "{\"k\": 1}")];
    write_raw(&path, &meta, Dtype::F32, &1.0f32.to_le_bytes());
    assert_eq!(load(&path).unwrap().1, json!({"k": 1}));
    assert_eq!(verify_checksum(&SafetensorsFile::read(&path).unwrap()), Ok(Checksum::Absent));
    // A checksum this build cannot read is an error, not a silent pass.
    for bad in ["sha256:00", "crc32:xyz", "crc32:0000000g"] {
        let meta = [("format", "gru"), ("format_version", "1"), ("checksum", bad), ("model", "{}")];
        write_raw(&path, &meta, Dtype::F32, &1.0f32.to_le_bytes());
        let r = reason(load(&path));
        assert!(r.contains("checksum") && r.contains(bad), "{r}");
    }
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
