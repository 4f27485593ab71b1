//! Helpers shared by the converter tests (`convert.rs`, `onnx.rs`, `onnx_network.rs`): fixture cases, JSON
//! arrays, deterministic weights with awkward values, bit-exact comparison.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use gru::convert::GruWeights;
use gru::{GruParams, GruSpec, Real};
use serde_json::Value;

/// `crates/gru/tests/{folder}`.
pub fn fixture_dir(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(folder)
}

/// The `*.json` cases of `crates/gru/tests/{folder}`, by file stem, sorted.
pub fn cases(folder: &str) -> Vec<(String, Value)> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixture_dir(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p.file_stem().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect()
}

/// A JSON array of numbers (empty when absent).
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array().map(|a| a.iter().map(|x| x.as_f64().unwrap()).collect()).unwrap_or_default()
}

/// A JSON array of sizes (empty when absent).
pub fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().map(|a| a.iter().map(|x| x.as_u64().unwrap() as usize).collect()).unwrap_or_default()
}

/// Deterministic weights for `spec`, with -0.0 and subnormal values mixed in (a round trip
/// must keep their bits).
pub fn weights<T: Real>(spec: GruSpec, seed: u64) -> GruWeights<T> {
    let mut params = GruParams::<T>::zeros(&spec);
    let flat: Vec<T> = (0..params.num_params())
        .map(|i| match i % 7 {
            0 => T::lit(-0.0),
            3 => T::lit(1e-40 * (i as f64 + 1.0)),
            _ => T::lit(((i as f64 + seed as f64) * 0.618_033_988_749_894_9).sin() / 1.7),
        })
        .collect();
    params.set_flat(&flat).unwrap();
    GruWeights::new(spec, params).unwrap()
}

/// Same spec and the same bits in every parameter.
pub fn assert_bit_identical<T: Real>(a: &GruWeights<T>, b: &GruWeights<T>, what: &str) {
    assert_eq!(a.spec, b.spec, "{what}");
    let bits = |w: &GruWeights<T>| w.params.to_flat().iter().map(|x| x.widen().to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(a), bits(b), "{what}");
}

/// python3 with onnx and onnxruntime, or `None` (then the onnxruntime checks are skipped,
/// unless GRU_REQUIRE_PYTHON=1 makes that a failure, as in CI with the tools installed).
pub fn python_with_onnxruntime() -> Option<String> {
    let python = std::env::var("GRU_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import onnx, onnxruntime, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("GRU_REQUIRE_PYTHON").map_or(true, |v| v != "1"),
            "GRU_REQUIRE_PYTHON=1 but {python} lacks onnx/onnxruntime (pip install -r tools/requirements.txt)"
        );
        eprintln!("skipped: {python} with onnx and onnxruntime is not available");
        return None;
    }
    Some(python)
}
