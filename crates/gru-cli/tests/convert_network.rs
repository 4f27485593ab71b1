//! `gru convert` and `gru inspect` on whole networks: a model saved by `gru train` to ONNX
//! and back, as a user runs them.

mod common;

use common::{gru, gru_with, ok};

use std::path::Path;
use std::process::{Command, Output};

use gru::io::{model_json, SafetensorsFile};

fn fails(out: &Output) -> String {
    assert!(!out.status.success(), "succeeded:\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Every tensor (name, shape, values) and the model JSON of a gru file.
fn contents(path: &str) -> (Vec<(String, Vec<usize>, String)>, serde_json::Value) {
    let f = SafetensorsFile::read(Path::new(path)).unwrap();
    let tensors = f
        .names()
        .map(|n| {
            let t = f.tensor(n).unwrap();
            (n.to_string(), t.shape.clone(), format!("{:?}", t.data))
        })
        .collect();
    (tensors, model_json(&f).unwrap())
}

fn train(out: &str, extra: &[&str]) {
    let mut args = vec!["train", "--train", "data/demo/GestureShapes_TRAIN.ts", "--hidden", "4", "--epochs", "1"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out, "--quiet"]);
    ok(&gru(&args));
}

#[test]
fn a_trained_network_converts_to_onnx_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    train(&p("m.safetensors"), &["--depth", "2"]);
    let text = ok(&gru(&["convert", "--to", "onnx", &p("m.safetensors"), &p("m.onnx")]));
    assert!(text.contains("a network, f32") && text.contains("the whole network"), "{text}");
    let text = ok(&gru(&["inspect", &p("m.onnx")]));
    assert!(text.contains("inputs: X, sequence_lens") && text.contains("outputs: Y"), "{text}");
    assert!(text.contains("n1_gru_l0 (GRU)") && text.contains("n1_gru_l1 (GRU)"), "{text}");
    assert!(text.contains("network (f32)") && text.contains("\"type\":\"fully-connected\""), "{text}");
    assert!(text.contains("input normalization: zscore") && text.contains("classes: circle"), "{text}");
    // Predictions of the ONNX model equal the network file's, with the same class names.
    let data = "data/demo/GestureShapes_TEST.ts";
    let from_onnx = ok(&gru(&["predict", "--model", &p("m.onnx"), "--data", data]));
    let from_file = ok(&gru(&["predict", "--model", &p("m.safetensors"), "--data", data]));
    assert!(from_onnx.starts_with("sequence,step,prediction,circle,square,triangle,zigzag"), "{from_onnx}");
    let cells = |t: &str| -> Vec<Vec<String>> { t.lines().map(|l| l.split(',').map(String::from).collect()).collect() };
    let (a, b) = (cells(&from_onnx), cells(&from_file));
    assert_eq!(a.len(), b.len());
    for (ra, rb) in a.iter().zip(&b).skip(1) {
        assert_eq!(ra[..3], rb[..3], "sequence, step and predicted class");
        for (x, y) in ra[3..].iter().zip(&rb[3..]) {
            let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }
    // .onnx is detected; back to a network file: the same tensors and model, bit for bit.
    ok(&gru(&["convert", "--to", "gru", &p("m.onnx"), &p("back.safetensors")]));
    assert_eq!(contents(&p("m.safetensors")), contents(&p("back.safetensors")));
    // With --layer (or to PyTorch / Keras): one GRU layer, as from the network file.
    let text = ok(&gru(&["convert", "--to", "torch", &p("m.onnx"), &p("t.safetensors"), "--layer", "0"]));
    assert!(text.contains("its GRU layer 0") && text.contains("depth 2"), "{text}");
    let f = SafetensorsFile::read(Path::new(&p("t.safetensors"))).unwrap();
    assert_eq!(f.shape("weight_hh_l1"), Some(&[12usize, 4][..]));
    let err = fails(&gru(&["convert", "--to", "gru", &p("m.onnx"), &p("x.safetensors"), "--layer", "2"]));
    assert!(err.contains("GRU layer 2 was asked for; the network has 1"), "{err}");
    // --layer on the network file keeps writing its GRU stack alone.
    ok(&gru(&["convert", "--to", "onnx", &p("m.safetensors"), &p("stack.onnx"), "--layer", "0"]));
    let text = ok(&gru(&["inspect", &p("stack.onnx")]));
    assert!(text.contains("GRU nodes as one stack") && text.contains("outputs: Y, Y_h"), "{text}");
    assert!(!Path::new(&p("x.safetensors")).exists());
}

#[test]
fn verify_runs_the_network_in_onnxruntime() {
    let python = std::env::var("GRU_PYTHON").unwrap_or_else(|_| "python3".into());
    let ready = Command::new(&python)
        .args(["-c", "import onnx, onnxruntime, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    train(&p("bi.safetensors"), &["--bidirectional"]);
    if !ready {
        assert_ne!(std::env::var("GRU_REQUIRE_PYTHON").as_deref(), Ok("1"), "{python} lacks onnx/onnxruntime");
        eprintln!("skipped: {python} with onnx and onnxruntime is not available");
        // Without them --verify says what is missing, and writes nothing.
        let err = fails(&gru_with(
            &["convert", "--to", "onnx", &p("bi.safetensors"), &p("bi.onnx"), "--verify"],
            &[("GRU_PYTHON", "/nonexistent/python3")],
        ));
        assert!(err.contains("is not available") && !Path::new(&p("bi.onnx")).exists(), "{err}");
        return;
    }
    let text = ok(&gru(&["convert", "--to", "onnx", &p("bi.safetensors"), &p("bi.onnx"), "--verify"]));
    let verified: Vec<&str> = text.lines().filter(|l| l.starts_with("verified")).collect();
    assert_eq!(verified.len(), 1, "{text}");
    assert!(verified[0].contains("agree with onnxruntime") && verified[0].contains("tolerance 1e-5"), "{text}");
    // Reading it back checks it in onnxruntime too, and the written network file.
    let text = ok(&gru(&["convert", "--to", "gru", &p("bi.onnx"), &p("bi2.safetensors"), "--verify"]));
    assert_eq!(text.lines().filter(|l| l.starts_with("verified")).count(), 2, "{text}");
    assert_eq!(contents(&p("bi.safetensors")), contents(&p("bi2.safetensors")));
    // onnxruntime has no f64 GRU: a reason, and nothing written.
    train(&p("f64.safetensors"), &["--dtype", "f64"]);
    let err = fails(&gru(&["convert", "--to", "onnx", &p("f64.safetensors"), &p("f64.onnx"), "--verify"]));
    assert!(err.contains("float64") && err.contains("nothing was written"), "{err}");
    assert!(!Path::new(&p("f64.onnx")).exists());
    ok(&gru(&["convert", "--to", "onnx", &p("f64.safetensors"), &p("f64.onnx")]));
    ok(&gru(&["convert", "--to", "gru", &p("f64.onnx"), &p("f64b.safetensors")]));
    assert_eq!(contents(&p("f64.safetensors")), contents(&p("f64b.safetensors")));
}
