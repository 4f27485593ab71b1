//! The `gru` binary as a user runs it: demo, train -> eval -> predict, inspect, engines,
//! and the errors a user sees.

mod common;

use common::{gru, gru_with, ok, root};

use std::path::Path;

fn is_png(p: &Path) -> bool {
    let bytes = std::fs::read(p).unwrap();
    bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000
}

fn is_svg(p: &Path) -> bool {
    let text = std::fs::read_to_string(p).unwrap();
    text.contains("<svg") && text.trim_end().ends_with("</svg>")
}

#[test]
fn demo_trains_evaluates_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let text = ok(&gru(&["demo", "--out", out, "--epochs", "2", "--hidden", "8", "--quiet"]));
    assert!(text.contains("test accuracy:"), "{text}");
    for f in ["model.safetensors", "history.csv", "GestureShapes_TRAIN.ts"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    assert!(is_png(&dir.path().join("training.png")));
    assert!(is_svg(&dir.path().join("training.svg")));
}

#[test]
fn train_eval_predict_on_the_shipped_data() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let (model, history, png, svg) = (p("m.safetensors"), p("h.csv"), p("c.png"), p("c.svg"));
    let text = ok(&gru(&[
        "train",
        "--train",
        "data/demo/GestureShapes_TRAIN.ts",
        "--validation",
        "data/demo/GestureShapes_TEST.ts",
        "--hidden",
        "8",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--learn-rate",
        "0.01",
        "--out",
        &model,
        "--history",
        &history,
        "--plot",
        &png,
        "--plot",
        &svg,
    ]));
    assert!(text.contains("model saved to"), "{text}");
    assert!(text.contains("validation: loss"), "{text}");
    let csv = std::fs::read_to_string(&history).unwrap();
    assert!(csv.starts_with("epoch,iteration,loss,accuracy"));
    assert_eq!(csv.lines().count(), 1 + 2 * 400usize.div_ceil(32)); // the partial minibatch too
    assert!(is_png(Path::new(&png)) && is_svg(Path::new(&svg)));

    let report = ok(&gru(&["eval", "--model", &model, "--data", "data/demo/GestureShapes_TEST.ts"]));
    assert!(
        report.contains("accuracy:") && report.contains("confusion matrix") && report.contains("zigzag"),
        "{report}"
    );
    let json = ok(&gru(&["eval", "--model", &model, "--data", "data/demo/GestureShapes_TEST.ts", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["confusion"].as_array().unwrap().len(), 4);

    let (pcsv, pjson) = (p("pred.csv"), p("pred.json"));
    ok(&gru(&["predict", "--model", &model, "--data", "data/demo/GestureShapes_TEST.ts", "--out", &pcsv]));
    let lines: Vec<String> = std::fs::read_to_string(&pcsv).unwrap().lines().map(String::from).collect();
    assert_eq!(lines[0], "sequence,step,prediction,circle,square,triangle,zigzag");
    assert_eq!(lines.len(), 201);
    ok(&gru(&["predict", "--model", &model, "--data", "data/demo/GestureShapes_TEST.ts", "--out", &pjson]));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&pjson).unwrap()).unwrap();
    assert_eq!(v["predictions"].as_array().unwrap().len(), 200);

    let text = ok(&gru(&["inspect", &model]));
    assert!(
        text.contains("GRU 0 (engine Korali)") && text.contains("classes: circle, square, triangle, zigzag"),
        "{text}"
    );
}

#[test]
fn train_a_regressor_from_a_generated_file() {
    let dir = tempfile::tempdir().unwrap();
    // A univariate .ts regression problem: the target is the mean of the sequence.
    let mut ts = String::from("@problemName Means\n@univariate true\n@equalLength false\n@targetLabel true\n@data\n");
    for i in 0..60 {
        let len = 4 + i % 5;
        let vals: Vec<f64> = (0..len).map(|t| ((i * 7 + t * 3) % 11) as f64 / 10.0 - 0.5).collect();
        let mean = vals.iter().sum::<f64>() / len as f64;
        let cells: Vec<String> = vals.iter().map(|v| format!("{v}")).collect();
        ts += &format!("{}:{mean}\n", cells.join(","));
    }
    let data = dir.path().join("means.ts");
    std::fs::write(&data, ts).unwrap();
    let model = dir.path().join("r.safetensors");
    let text = ok(&gru(&[
        "train",
        "--train",
        data.to_str().unwrap(),
        "--hidden",
        "6",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--out",
        model.to_str().unwrap(),
        "--quiet",
    ]));
    assert!(text.contains("rmse"), "{text}");
    let report = ok(&gru(&["eval", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap()]));
    assert!(report.contains("rmse:") && report.contains("mae:"), "{report}");
}

#[test]
fn inspect_describes_specs_networks_and_korali_configs() {
    let text = ok(&gru(&["inspect", "examples/spec.json"]));
    assert!(
        text.contains("layer 1 backward: W 300x200, R 300x100, bias 600") && text.contains("parameters: 249600"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let korali = dir.path().join("korali.json");
    std::fs::write(
        &korali,
        r#"{"Engine": "Korali", "Hidden Layers": [{"Type": "Layer/Recurrent/GRU", "Output Channels": 32, "Depth": 2}], "Results": {}}"#,
    )
    .unwrap();
    let text = ok(&gru(&["inspect", korali.to_str().unwrap()]));
    assert!(text.contains("Layer/Recurrent/GRU") && text.contains("warning"), "{text}");
    let layers = dir.path().join("layers.json");
    std::fs::write(
        &layers,
        r#"[{"type": "sequence-input", "input_size": 3}, {"type": "gru", "num_hidden_units": 5, "output_mode": "last"},
            {"type": "fully-connected", "output_size": 2}, {"type": "regression"}]"#,
    )
    .unwrap();
    let text = ok(&gru(&["inspect", layers.to_str().unwrap()]));
    assert!(text.contains("learnable values"), "{text}");
}

#[test]
fn user_errors_are_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.ts");
    std::fs::write(&bad, "@dimensions 2\n@classLabel true a b\n@data\n1,2:3,4:a\n1,2:b\n").unwrap();
    for args in [
        vec!["train", "--train", bad.to_str().unwrap(), "--epochs", "1"],
        vec!["train", "--train", "data/demo/GestureShapes_TRAIN.ts", "--epochs", "0"],
        // oneDNN computes in f32 only: f64 is a typed refusal.
        vec!["train", "--train", "data/demo/GestureShapes_TRAIN.ts", "--engine", "OneDNN", "--dtype", "f64"],
        vec!["eval", "--model", "missing.safetensors", "--data", "data/demo/GestureShapes_TEST.ts"],
        vec!["inspect", "Cargo.lock"],
    ] {
        let out = gru(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("Error:") && !err.contains("panicked"), "{args:?}: {err}");
    }
    let out = gru(&["train", "--train", bad.to_str().unwrap(), "--epochs", "1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 5"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn train_runs_on_the_onednn_engine() {
    if gru_onednn::OneDnnEngine::load_or_skip("train_runs_on_the_onednn_engine").unwrap().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let args = ["train", "--train", "data/demo/GestureShapes_TRAIN.ts", "--engine", "OneDNN", "--epochs", "1"];
    let text = ok(&gru(&[&args[..], &["--hidden", "8", "--quiet", "--out", model.to_str().unwrap()]].concat()));
    assert!(text.contains("loss"), "{text}");
    assert!(model.exists());
    let out = gru(&["train", "--train", "data/demo/GestureShapes_TRAIN.ts", "--engine", "OneDNN", "--dtype", "f64"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("OneDNN") && err.contains("`dtype` = f64"), "{err}");
}

#[test]
fn engines_lists_the_native_engine() {
    let text = ok(&gru(&["engines"]));
    // OneDNN is listed as available where libdnnl2 is installed (in CI always: .ci/run),
    // and as unavailable, with how to get it, elsewhere; CuDNN likewise where a GPU is.
    let onednn = gru_onednn::OneDnnEngine::load_or_skip("engines: OneDNN available").unwrap().is_some();
    let want = if onednn { "OneDNN: available" } else { "OneDNN: unavailable" };
    assert!(text.contains("Korali: available") && text.contains(want), "{text}");
    if gru_cudnn::CudnnEngine::load().is_ok() {
        assert!(text.contains("CuDNN: available"), "{text}");
    } else {
        assert!(text.contains("CuDNN: unavailable") && text.contains("cuDNN 9"), "{text}");
    }
}

/// `gru engines` names the kernels' instruction set and their blocking; `GRU_ISA` lowers
/// the level (never above what the CPU has), and a value that names no level is ignored
/// with a warning.
#[test]
fn engines_names_the_kernel_level_and_gru_isa_lowers_it() {
    #[cfg(target_arch = "x86_64")]
    let best = if std::arch::is_x86_feature_detected!("avx512f") {
        "avx512"
    } else if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        "avx2"
    } else {
        "portable"
    };
    #[cfg(not(target_arch = "x86_64"))]
    let best = "portable";
    let level = |env: &[(&str, &str)]| {
        let out = gru_with(&["engines"], env);
        let text = ok(&out);
        let line = text.lines().find(|l| l.starts_with("Korali kernels: ")).unwrap_or_else(|| panic!("{text}"));
        let (isa, blocking) = line["Korali kernels: ".len()..].split_once("; ").unwrap_or_else(|| panic!("{line}"));
        if isa == "portable" {
            assert_eq!(blocking, "faer's GEMM", "{line}");
        } else {
            assert!(blocking.starts_with("K blocks 1024, row blocks "), "{line}");
        }
        (isa.to_string(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert_eq!(level(&[("GRU_ISA", "")]).0, best);
    assert_eq!(level(&[("GRU_ISA", "portable")]).0, "portable");
    let avx2 = if best == "portable" { "portable" } else { "avx2" };
    assert_eq!(level(&[("GRU_ISA", " AVX2 ")]).0, avx2);
    assert_eq!(level(&[("GRU_ISA", "avx512")]).0, best);
    let (got, err) = level(&[("GRU_ISA", "avx-2")]);
    assert_eq!(got, best);
    assert!(err.contains("ignoring GRU_ISA=\"avx-2\""), "{err}");
}

#[test]
fn a_korali_experiment_trains_unchanged_and_predicts_korali_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let mut exp: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/korali/sine_rnn_experiment.json")).unwrap(),
    )
    .unwrap();
    exp["Solver"]["Termination Criteria"]["Max Generations"] = serde_json::json!(3);
    exp["Solver"]["Steps Per Generation"] = serde_json::json!(2);
    let path = dir.path().join("exp.json");
    std::fs::write(&path, exp.to_string()).unwrap();
    let model = dir.path().join("sine.safetensors");
    let text = ok(&gru(&["train", "--experiment", path.to_str().unwrap(), "--out", model.to_str().unwrap()]));
    assert_eq!(text.matches("+ Training Loss:").count(), 3, "{text}");
    assert!(text.contains("[gru] Generation 3 (6 steps"), "{text}");
    let out = dir.path().join("pred.json");
    ok(&gru(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--korali-input",
        "examples/korali/sine_rnn_test_input.json",
        "--out",
        out.to_str().unwrap(),
    ]));
    let pred: Vec<Vec<f64>> = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(pred.len(), 100);
    assert!(pred.iter().all(|p| p.len() == 1 && p[0].is_finite()));
}
