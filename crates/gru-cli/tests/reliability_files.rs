//! The file items of the reliability issue, run as a user runs the binary: missing values
//! and `--missing`.

mod common;

use common::{fails, gru, ok, small_model};

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
