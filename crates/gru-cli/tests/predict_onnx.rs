//! `gru predict` on ONNX models (the fixtures of `tools/gen_onnx_graph_fixtures.py`): a
//! time-major classifier, a batch-first per-step regressor and a double model with a
//! `sequence_lens` input reproduce onnxruntime's outputs of each sequence run alone.

mod common;

use common::{gru, ok};

use serde_json::Value;

fn fixture(name: &str) -> String {
    format!("crates/gru/tests/onnx_graph_fixtures/{name}")
}

/// The `predict` expectations of a fixture: each sequence's first output, flattened.
fn expected(case: &str) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(common::root().join(fixture(&format!("{case}.json")))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["predict"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
        .collect()
}

/// Every row of the JSON predictions, grouped by sequence.
fn rows(v: &Value) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = Vec::new();
    for p in v["predictions"].as_array().unwrap() {
        let i = p["sequence"].as_u64().unwrap() as usize;
        if out.len() <= i {
            out.resize(i + 1, Vec::new());
        }
        out[i].extend(p["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()));
    }
    out
}

fn close(ours: &[Vec<f64>], theirs: &[Vec<f64>], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(a.len(), b.len(), "{what}: sequence {i}");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{what}: sequence {i}: {x} vs {y}");
        }
    }
}

fn predict_json(case: &str, dir: &tempfile::TempDir) -> Value {
    let out = dir.path().join(format!("{case}.json"));
    let (model, data) = (fixture(&format!("{case}.onnx")), fixture(&format!("{case}.ts")));
    ok(&gru(&["predict", "--model", &model, "--data", &data, "--out", out.to_str().unwrap()]));
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

#[test]
fn predict_runs_a_time_major_onnx_classifier() {
    let dir = tempfile::tempdir().unwrap();
    let v = predict_json("torch_classifier", &dir);
    assert_eq!(v["columns"], serde_json::json!(["class0", "class1", "class2", "class3"]));
    let want = expected("torch_classifier");
    close(&rows(&v), &want, "torch_classifier");
    for (p, w) in v["predictions"].as_array().unwrap().iter().zip(&want) {
        let best = (0..w.len()).fold(0, |b, k| if w[k] > w[b] { k } else { b });
        assert_eq!(p["prediction"], format!("class{best}"));
        assert!(p["step"].is_null());
    }
}

#[test]
fn predict_runs_a_batch_first_per_step_onnx_regressor_as_csv() {
    let (model, data) = (fixture("torch_regressor_bidir.onnx"), fixture("torch_regressor_bidir.ts"));
    let csv = ok(&gru(&["predict", "--model", &model, "--data", &data]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "sequence,step,prediction,response0,response1");
    let want = expected("torch_regressor_bidir");
    assert_eq!(lines.len() - 1, want.iter().map(|w| w.len() / 2).sum::<usize>(), "{csv}");
    let mut ours: Vec<Vec<f64>> = vec![Vec::new(); want.len()];
    for l in &lines[1..] {
        let cells: Vec<&str> = l.split(',').collect();
        let i: usize = cells[0].parse().unwrap();
        let step: usize = cells[1].parse().unwrap();
        assert_eq!(step, ours[i].len() / 2, "{l}");
        ours[i].extend(cells[3..].iter().map(|c| c.parse::<f64>().unwrap()));
    }
    close(&ours, &want, "torch_regressor_bidir");
}

#[test]
fn predict_feeds_sequence_lengths_to_a_double_onnx_model() {
    let dir = tempfile::tempdir().unwrap();
    let v = predict_json("double_lengths", &dir);
    assert_eq!(v["columns"], serde_json::json!(["response0", "response1"]));
    close(&rows(&v), &expected("double_lengths"), "double_lengths");
}

#[test]
fn predict_refuses_onnx_inputs_a_data_file_cannot_feed() {
    let (model, data) = (fixture("layout1_bidir.onnx"), fixture("torch_classifier.ts"));
    let out = gru(&["predict", "--model", &model, "--data", &data]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("initial_h") && err.contains("cannot feed"), "{err}");
    let out =
        gru(&["predict", "--model", &fixture("torch_regressor_bidir.onnx"), "--data", &fixture("double_lengths.ts")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("has 3 channels, the data 2"), "{err}");
}

#[test]
fn an_empty_sequence_needs_a_model_that_reads_lengths() {
    let dir = tempfile::tempdir().unwrap();
    // Three channels; sequence 1 is empty (a line of empty dimensions).
    let data = dir.path().join("e.ts");
    std::fs::write(&data, "@dimensions 3\n@classLabel true a\n@data\n1,2:3,4:5,6:a\n:::a\n").unwrap();
    let out = gru(&["predict", "--model", &fixture("torch_classifier.onnx"), "--data", data.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("sequence 1 is empty") && err.contains("sequence_lens"), "{err}");
}
