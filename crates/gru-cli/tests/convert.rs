//! `gru convert` and `gru inspect` on PyTorch, Keras and gru files, as a user runs them.

mod common;

use common::{gru, gru_with, ok, root};

use std::path::Path;
use std::process::{Command, Output};

use gru::io::SafetensorsFile;

fn fixture(name: &str) -> String {
    format!("crates/gru/tests/convert_fixtures/{name}")
}

fn fails(out: &Output) -> String {
    assert!(!out.status.success(), "succeeded:\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// The tensors whose names start with `prefix`, bit for bit.
fn tensors(path: &Path, prefix: &str) -> Vec<(String, Vec<usize>, String)> {
    let f = SafetensorsFile::read(path).unwrap();
    f.names()
        .filter(|n| n.starts_with(prefix))
        .map(|n| {
            let t = f.tensor(n).unwrap();
            (n.to_string(), t.shape.clone(), format!("{:?}", t.data))
        })
        .collect()
}

#[test]
fn inspect_describes_pytorch_keras_and_gru_files() {
    let text = ok(&gru(&["inspect", &fixture("torch_stacked_bidir.safetensors")]));
    assert!(
        text.contains("PyTorch state dict, prefix \"rnn.\": nn.GRU(4, 3, num_layers=2, bidirectional=True) (f32)"),
        "{text}"
    );
    assert!(
        text.contains("reset gate: recurrent-bias-after-multiplication") && text.contains("parameters: 360"),
        "{text}"
    );
    let text = ok(&gru(&["inspect", &fixture("torch_nobias.safetensors"), "--prefix", ""]));
    assert!(text.contains("nn.GRU(2, 4, num_layers=2, bias=False)"), "{text}");
    let text = ok(&gru(&["inspect", &fixture("keras_hard_sigmoid_softsign.safetensors")]));
    assert!(
        text.contains("keras-gru layout, keras_version 3.15.1") && text.contains("before-multiplication"),
        "{text}"
    );
    assert!(text.contains("Softsign") && text.contains("alpha: 0.16666666666666666"), "{text}");
    let err = fails(&gru(&["inspect", &fixture("torch_stacked_bidir.safetensors"), "--prefix", "enc."]));
    assert!(err.contains("no tensor name starts with the prefix \"enc.\"") && err.contains("\"rnn.\""), "{err}");
}

#[test]
fn convert_round_trips_through_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let src = fixture("torch_stacked_bidir.safetensors");
    // torch -> keras -> gru -> torch: the original nn.GRU tensors, bit for bit.
    let text =
        ok(&gru(&["convert", "--from", "torch", "--to", "keras", &src, &p("k.safetensors"), "--prefix", "rnn."]));
    assert!(text.contains("read ") && text.contains("wrote ") && text.contains("(keras)"), "{text}");
    ok(&gru(&["convert", "--to", "gru", &p("k.safetensors"), &p("g.safetensors")])); // --from detected
    let text = ok(&gru(&["inspect", &p("g.safetensors")]));
    assert!(text.starts_with("gru-layer file (f32)") && text.contains("depth 2"), "{text}");
    ok(&gru(&[
        "convert",
        "--from",
        "gru",
        "--to",
        "torch",
        &p("g.safetensors"),
        &p("t.safetensors"),
        "--prefix",
        "rnn.",
    ]));
    assert_eq!(tensors(&root().join(&src), "rnn."), tensors(Path::new(&p("t.safetensors")), "rnn."));
    // keras -> torch -> keras for a Keras model with a PyTorch equivalent.
    let k = fixture("keras_reset_after.safetensors");
    ok(&gru(&["convert", "--from", "keras", "--to", "torch", &k, &p("t2.safetensors")]));
    ok(&gru(&["convert", "--from", "torch", "--to", "keras", &p("t2.safetensors"), &p("k2.safetensors")]));
    assert_eq!(tensors(&root().join(&k), ""), tensors(Path::new(&p("k2.safetensors")), ""));
    // bias=False both ways.
    let nb = fixture("torch_nobias.safetensors");
    ok(&gru(&["convert", "--from", "torch", "--to", "torch", &nb, &p("nb.safetensors"), "--no-bias"]));
    assert_eq!(tensors(&root().join(&nb), ""), tensors(Path::new(&p("nb.safetensors")), ""));
}

#[test]
fn refusals_name_the_option_or_tensor_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.safetensors");
    let o = out.to_str().unwrap();
    let err =
        fails(&gru(&["convert", "--from", "keras", "--to", "torch", &fixture("keras_reset_before.safetensors"), o]));
    assert!(err.contains("PyTorch nn.GRU cannot represent reset_gate_mode = before-multiplication"), "{err}");
    let err =
        fails(&gru(&["convert", "--from", "keras", "--to", "torch", &fixture("keras2_hard_sigmoid.safetensors"), o]));
    assert!(err.contains("cannot represent gate_activation = hard-sigmoid (alpha 0.2, beta 0.5)"), "{err}");
    let err = fails(&gru(&[
        "convert",
        "--from",
        "keras",
        "--to",
        "keras",
        &fixture("keras2_hard_sigmoid.safetensors"),
        o,
        "--keras-version",
        "3",
    ]));
    assert!(err.contains("gate_activation") && err.contains("Keras 3"), "{err}");
    let err = fails(&gru(&[
        "convert",
        "--from",
        "torch",
        "--to",
        "keras",
        &fixture("torch_single.safetensors"),
        o,
        "--no-bias",
    ]));
    assert!(err.contains("use_bias=False") && err.contains("bias = nonzero in layer 0 forward"), "{err}");
    let err =
        fails(&gru(&["convert", "--from", "torch", "--to", "gru", &fixture("torch_stacked_bidir.safetensors"), o]));
    assert!(err.contains("tensor head.bias is not part of an nn.GRU state dict") && err.contains("\"rnn.\""), "{err}");
    let cut = dir.path().join("cut.safetensors");
    let bytes = std::fs::read(root().join(fixture("torch_single.safetensors"))).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = fails(&gru(&["convert", "--from", "torch", "--to", "gru", cut.to_str().unwrap(), o]));
    assert!(err.contains("cut.safetensors") && err.contains("safetensors"), "{err}");
    assert!(!out.exists());
    // --verify without the Python side says what is missing, and writes nothing.
    let err = fails(&gru_with(
        &["convert", "--from", "torch", "--to", "gru", &fixture("torch_single.safetensors"), o, "--verify"],
        &[("GRU_PYTHON", "/nonexistent/python3")],
    ));
    assert!(
        err.contains("is not available: cannot run /nonexistent/python3") && err.contains("tools/requirements.txt"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn a_trained_network_exports_its_gru() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    ok(&gru(&[
        "train",
        "--train",
        "data/demo/GestureShapes_TRAIN.ts",
        "--hidden",
        "4",
        "--epochs",
        "1",
        "--out",
        &p("m.safetensors"),
    ]));
    let text = ok(&gru(&[
        "convert",
        "--from",
        "gru",
        "--to",
        "torch",
        &p("m.safetensors"),
        &p("t.safetensors"),
        "--layer",
        "0",
    ]));
    assert!(text.contains("hidden 4") && text.contains("wrote"), "{text}");
    // MATLAB's after-multiplication becomes nn.GRU's mode with a zero recurrent candidate bias.
    let f = SafetensorsFile::read(Path::new(&p("t.safetensors"))).unwrap();
    assert_eq!(f.shape("bias_hh_l0"), Some(&[12usize][..]));
    let text = ok(&gru(&["inspect", &p("t.safetensors")]));
    assert!(text.contains("nn.GRU(2, 4)") || text.contains("nn.GRU("), "{text}");
    let err = fails(&gru(&[
        "convert",
        "--from",
        "gru",
        "--to",
        "torch",
        &p("m.safetensors"),
        &p("x.safetensors"),
        "--layer",
        "3",
    ]));
    assert!(err.contains("GRU layer 3 was asked for; the network has 1"), "{err}");
}

#[test]
fn verify_runs_both_sides_when_python_has_torch_and_keras() {
    let python = std::env::var("GRU_PYTHON").unwrap_or_else(|_| "python3".into());
    let ready = Command::new(&python)
        .args(["-c", "import torch, keras, safetensors"])
        .env("KERAS_BACKEND", "torch")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        assert_ne!(std::env::var("GRU_REQUIRE_PYTHON").as_deref(), Ok("1"), "{python} lacks torch/keras/safetensors");
        eprintln!("skipped: {python} with torch, keras and safetensors is not available");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.safetensors");
    let text = ok(&gru(&[
        "convert",
        "--from",
        "torch",
        "--to",
        "keras",
        &fixture("torch_f64_bidir.safetensors"),
        out.to_str().unwrap(),
        "--verify",
    ]));
    let verified: Vec<&str> = text.lines().filter(|l| l.starts_with("verified")).collect();
    assert_eq!(verified.len(), 2, "{text}");
    assert!(verified[0].contains("torch") && verified[0].contains("tolerance 1e-10"), "{text}");
    assert!(verified[1].contains("keras") && out.exists(), "{text}");
}

#[test]
fn onnx_converts_both_ways_and_inspects() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let src = "crates/gru/tests/onnx_fixtures/bidir_hard_sigmoid_softsign_clip.onnx";
    // .onnx is detected; ONNX -> gru -> ONNX -> gru keeps the weights and options.
    ok(&gru(&["convert", "--to", "gru", src, &p("a.safetensors")]));
    ok(&gru(&["convert", "--from", "gru", "--to", "onnx", &p("a.safetensors"), &p("b.onnx")]));
    ok(&gru(&["convert", "--from", "onnx", "--to", "gru", &p("b.onnx"), &p("c.safetensors")]));
    assert_eq!(tensors(Path::new(&p("a.safetensors")), ""), tensors(Path::new(&p("c.safetensors")), ""));
    let text = ok(&gru(&["inspect", &p("b.onnx")]));
    assert!(text.contains("ONNX model (IR version 8, opsets ai.onnx14, producer gru"), "{text}");
    assert!(text.contains("gru_l0 (GRU)") && text.contains("HardSigmoid") && text.contains("Softsign"), "{text}");
    assert!(text.contains("clip: Some(1.5)"), "{text}");
    // A model ONNX holds but a GruSpec cannot: a typed error naming the node, nothing written.
    let err = fails(&gru(&["convert", "--to", "torch", src, &p("t.safetensors")]));
    assert!(err.contains("PyTorch nn.GRU cannot represent"), "{err}");
    std::fs::write(p("junk.onnx"), b"\x0a\xff\xff\xff").unwrap();
    let err = fails(&gru(&["inspect", &p("junk.onnx")]));
    assert!(err.contains("not an ONNX model"), "{err}");
    assert!(!Path::new(&p("t.safetensors")).exists());
}
