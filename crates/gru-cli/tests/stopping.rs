//! Training runs that stop safely, run as a user runs the binary: absurd sizes are errors
//! naming the field, not aborts.

mod common;

use std::path::Path;

use common::{gru, ok, root};

/// A two-class .ts file of `n` rising or falling sequences of 6 steps.
fn ramps(path: &Path, n: usize) {
    let mut text = String::from("@problemName Ramps\n@univariate true\n@classLabel true up down\n@data\n");
    for i in 0..n {
        let (label, sign) = if i % 2 == 0 { ("up", 1.0) } else { ("down", -1.0) };
        let steps: Vec<String> = (0..6).map(|t| format!("{:.3}", sign * (t as f64 * 0.3 + 0.01 * i as f64))).collect();
        text += &format!("{}:{label}\n", steps.join(","));
    }
    std::fs::write(path, text).unwrap();
}

/// Stdout and stderr of a run that must fail (exit 1: an error, not an abort).
fn fails(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(1), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn absurd_sizes_are_errors_naming_the_field_not_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = (dir.path().join("d.ts"), dir.path().join("m.safetensors"));
    ramps(&data, 8);
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    let err = fails(&gru(&["train", "--train", d, "--hidden", "1000000000", "--out", m]));
    assert!(err.contains("the default network (--hidden 1000000000, --depth 1)"), "{err}");
    assert!(err.contains("layers[1].num_hidden_units = 1000000000 needs") && err.contains("memory budget"), "{err}");
    let err = fails(&gru(&["train", "--train", d, "--depth", "1000000", "--out", m]));
    assert!(err.contains("layers[1].depth = 1000000 needs"), "{err}");
    // A smaller budget than the machine's refuses what would fit in memory ...
    let err = fails(&gru(&["train", "--train", d, "--hidden", "20000", "--memory-budget", "1G", "--out", m]));
    assert!(err.contains("more than the memory budget of 1073741824 bytes (1.0 GiB, given)"), "{err}");
    let out = gru(&["train", "--train", d, "--memory-budget", "lots", "--out", m]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(2) && err.contains("--memory-budget") && err.contains("512M, 8G"), "{err}");
    // ... a layer array and a Korali configuration name their own keys.
    let layers = dir.path().join("layers.json");
    std::fs::write(
        &layers,
        r#"[{"type": "sequence-input", "input_size": 1}, {"type": "gru", "num_hidden_units": 8},
            {"type": "fully-connected", "output_size": 1000000000}, {"type": "softmax"}, {"type": "classification"}]"#,
    )
    .unwrap();
    let err = fails(&gru(&["train", "--train", d, "--network", layers.to_str().unwrap(), "--out", m]));
    assert!(err.contains("layers[2].output_size = 1000000000 needs"), "{err}");
    let mut exp: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/korali/sine_rnn_experiment.json")).unwrap(),
    )
    .unwrap();
    exp["Solver"]["Neural Network"]["Hidden Layers"][0]["Output Channels"] = serde_json::json!(1e9);
    let path = dir.path().join("exp.json");
    std::fs::write(&path, exp.to_string()).unwrap();
    let err = fails(&gru(&["train", "--experiment", path.to_str().unwrap(), "--out", m]));
    assert!(err.contains("[\"Hidden Layers\"][0][\"Output Channels\"] = 1000000000 needs"), "{err}");
    assert!(!model.exists());
    // A GRU spec is described from its sizes, nothing allocated.
    let spec = dir.path().join("spec.json");
    std::fs::write(&spec, r#"{"input_size": 3, "hidden_size": 1000000000}"#).unwrap();
    let text = ok(&gru(&["inspect", spec.to_str().unwrap()]));
    assert!(text.contains("parameters: 3000000012000000000 (10.4 EiB as f32)"), "{text}");
}
