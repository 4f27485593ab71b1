//! The file items of the reliability issue, run as a user runs the binary: missing values
//! and `--missing`, model checksums, and the messages that named the wrong cause.

mod common;

use std::path::{Path, PathBuf};

use common::{fails, gru, ok, small_model, two_class_ts};
use serde_json::json;

/// A univariate two-class file: sequence 1 misses a value inside, sequence 2 (its one
/// dimension) misses every value.
const MISSING: &str = "@problemName M\n@univariate true\n@classLabel true a b\n@data\n\
                       0.1,0.2,0.3:a\n-0.1,?,-0.3:b\n?,?,?:a\n";

#[test]
fn missing_values_are_an_explicit_choice() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let m = model.to_str().unwrap();
    let data = dir.path().join("missing.ts");
    std::fs::write(&data, MISSING).unwrap();
    let d = data.to_str().unwrap();

    // The default interpolates (an all-missing case becomes 0): every command reads the file.
    let csv = ok(&gru(&["predict", "--model", m, "--data", d]));
    assert_eq!(csv.lines().count(), 4, "{csv}");
    ok(&gru(&["eval", "--model", m, "--data", d]));
    let zero = ok(&gru(&["predict", "--model", m, "--data", d, "--missing", "zero"]));
    // Sequence 2 is all zeros either way; sequence 1 differs (-0.2 interpolated vs 0).
    assert_eq!(zero.lines().nth(3), csv.lines().nth(3), "{zero}\n{csv}");
    assert_ne!(zero.lines().nth(2), csv.lines().nth(2), "{zero}\n{csv}");

    // `error` names the sequence, channel and step, in every command.
    for cmd in ["predict", "eval"] {
        let err = fails(&gru(&[cmd, "--model", m, "--data", d, "--missing", "error"]));
        assert!(err.contains("sequences[1]") && err.contains("step 1, channel 0 is a missing value"), "{cmd}: {err}");
    }
    let out = dir.path().join("m2.safetensors");
    let o = out.to_str().unwrap();
    let err = fails(&gru(&["train", "--train", d, "--out", o, "--epochs", "1", "--missing", "error"]));
    assert!(err.contains("sequences[1]") && err.contains("missing value"), "{err}");
    ok(&gru(&["train", "--train", d, "--out", o, "--epochs", "1", "--hidden", "4", "--quiet"]));
    let err = fails(&gru(&["predict", "--model", m, "--data", d, "--missing", "linear"]));
    assert!(err.contains("interpolate") && err.contains("zero") && err.contains("error"), "{err}");
}

/// The bytes of `path` with byte `at` (from the end when negative) flipped.
fn flip(path: &Path, at: isize) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = if at < 0 { bytes.len() - at.unsigned_abs() } else { at as usize };
    bytes[i] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_flipped_model_byte_is_an_error_and_an_old_model_loads_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let m = model.to_str().unwrap();
    let data = dir.path().join("d.ts");
    let before = ok(&gru(&["predict", "--model", m, "--data", data.to_str().unwrap()]));
    flip(&model, -3);
    let err = fails(&gru(&["predict", "--model", m, "--data", data.to_str().unwrap()]));
    assert!(err.contains("corrupt") && err.contains("checksum"), "changed predictions instead of an error: {err}");
    flip(&model, -3);
    assert_eq!(ok(&gru(&["predict", "--model", m, "--data", data.to_str().unwrap()])), before);

    // A model of an earlier build (no checksum) loads, with a note.
    let old = common::root().join("crates/gru/tests/data/checkpoints/sgdm.final.safetensors");
    let out = gru(&["inspect", old.to_str().unwrap()]);
    ok(&out);
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(note.contains("note:") && note.contains("no checksum"), "{note}");
}

/// The layer array of the models these tests write by hand (1 channel, 2 classes; 30 values).
fn layers() -> serde_json::Value {
    json!([
        {"type": "sequence-input", "input_size": 1},
        {"type": "gru", "num_hidden_units": 2, "output_mode": "last"},
        {"type": "fully-connected", "output_size": 2},
        {"type": "softmax"},
        {"type": "classification"}
    ])
}

/// Writes a gru model file of [`layers`] with this `dtype` and `seed` in its model JSON and
/// `params` as its parameters.
fn write_model(path: &Path, dtype: &str, seed: serde_json::Value, params: Vec<f64>) {
    let model =
        json!({"kind": "gru-network", "dtype": dtype, "layers": layers(), "seed": seed, "class_names": ["a", "b"]});
    let tensors = [gru::io::NamedTensor::new("params", vec![params.len()], params)];
    gru::io::save(path, &tensors, &model).unwrap();
}

/// The two-class data, written in `dir`.
fn two_class_data(dir: &Path) -> PathBuf {
    let data = dir.join("d.ts");
    std::fs::write(&data, two_class_ts("a b")).unwrap();
    data
}

#[test]
fn a_broken_f64_model_reports_its_own_problem() {
    let dir = tempfile::tempdir().unwrap();
    let data = two_class_data(dir.path());
    let broken = dir.path().join("broken.safetensors");
    // 22 values: as many as its weights (the check before building it), fewer than with biases (30).
    write_model(&broken, "f64", json!(1), vec![0.5; 22]);
    let err = fails(&gru(&["eval", "--model", broken.to_str().unwrap(), "--data", data.to_str().unwrap()]));
    assert!(err.contains("tensor params has shape [22], expected [30]"), "{err}");
    assert!(!err.contains("a f32 network was asked for"), "the f32 reader's refusal hid the cause: {err}");
}

#[test]
fn a_negative_seed_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let data = two_class_data(dir.path());
    let negative = dir.path().join("negative.safetensors");
    write_model(&negative, "f32", json!(-1), vec![0.5; 30]);
    let err = fails(&gru(&["predict", "--model", negative.to_str().unwrap(), "--data", data.to_str().unwrap()]));
    assert!(err.contains("\"seed\" is -1") && !err.contains("missing \"seed\""), "{err}");
}

#[test]
fn unknown_keys_and_values_of_options_and_layer_arrays_get_the_closest_known_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = two_class_data(dir.path());
    let (d, out) = (data.to_str().unwrap(), dir.path().join("m.safetensors"));
    let o = out.to_str().unwrap();
    let train = |flag: &str, text: &str| {
        let file = dir.path().join("given.json");
        std::fs::write(&file, text).unwrap();
        fails(&gru(&["train", "--train", d, flag, file.to_str().unwrap(), "--out", o, "--epochs", "1"]))
    };
    let err = train("--options", r#"{"max_epoch": 3}"#);
    assert!(err.contains(r#"["max_epoch"]"#) && err.contains(r#"did you mean "max_epochs""#), "{err}");
    let err = train("--options", r#"{"solver": "adamw"}"#);
    assert!(err.contains(r#"did you mean "adam""#) && !err.contains("internally tagged"), "{err}");
    let err = train("--options", r#"{"solver": 3}"#);
    assert!(err.contains(r#""sgdm", "adam" or "rmsprop""#), "{err}");
    let err = train("--network", &layers().to_string().replace("output_mode", "output_mod"));
    assert!(err.contains(r#"[1]["output_mod"]"#) && err.contains(r#"did you mean "output_mode""#), "{err}");
    // A solver given by name alone trains (MATLAB's defaults).
    let opts = dir.path().join("sgdm.json");
    std::fs::write(&opts, r#"{"solver": "sgdm", "max_epochs": 1}"#).unwrap();
    ok(&gru(&["train", "--train", d, "--options", opts.to_str().unwrap(), "--out", o, "--hidden", "4", "--quiet"]));
}
