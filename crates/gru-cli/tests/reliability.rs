//! The silent wrong results of the reliability issue, each run as a user runs the binary:
//! classes matched by name across files, and a model's output mode checked against the
//! targets of the file it is evaluated on.

mod common;

use common::{fails, gru, ok, small_model, two_class_ts};

/// The accuracy in percent printed after `label` (`validation: loss 0.1, accuracy 95.0 %`).
fn accuracy_after(text: &str, label: &str) -> f64 {
    let line = text.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no {label:?} line in {text}"));
    let rest = &line[line.find("accuracy").unwrap_or_else(|| panic!("{line}")) + "accuracy".len()..];
    let num: String =
        rest.chars().skip_while(|c| !c.is_ascii_digit()).take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    num.parse().unwrap_or_else(|_| panic!("{line}"))
}

#[test]
fn validation_classes_are_matched_by_name_not_position() {
    let dir = tempfile::tempdir().unwrap();
    let (train, valid) = (dir.path().join("train.ts"), dir.path().join("valid.ts"));
    std::fs::write(&train, two_class_ts("a b")).unwrap();
    // The same data, its header listing the classes the other way round.
    std::fs::write(&valid, two_class_ts("b a")).unwrap();
    let model = dir.path().join("m.safetensors");
    let (t, v, m) = (train.to_str().unwrap(), valid.to_str().unwrap(), model.to_str().unwrap());
    let text = ok(&gru(&[
        "train",
        "--train",
        t,
        "--validation",
        v,
        "--hidden",
        "8",
        "--epochs",
        "30",
        "--batch-size",
        "8",
        "--learn-rate",
        "0.05",
        "--out",
        m,
        "--quiet",
    ]));
    let validation = accuracy_after(&text, "validation:");
    let eval = ok(&gru(&["eval", "--model", m, "--data", v]));
    let evaluated = accuracy_after(&eval, "accuracy");
    assert!(validation >= 90.0, "validation accuracy {validation} on the same data the model learnt:\n{text}");
    assert!((validation - evaluated).abs() < 1e-6, "validation says {validation} %, eval says {evaluated} %");

    // A class the model does not know is an error that names it.
    let other = dir.path().join("other.ts");
    std::fs::write(&other, two_class_ts("a b").replace(":b\n", ":c\n").replace("true a b", "true a c")).unwrap();
    let out = gru(&["eval", "--model", m, "--data", other.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("\"c\"") && err.contains("not a class of the model"), "{err}");
}

#[test]
fn eval_refuses_targets_that_do_not_match_the_output_mode() {
    use gru::layers;
    use gru::network::{fully_connected, gru as gru_layer, regression, sequence_input, Network};
    let dir = tempfile::tempdir().unwrap();
    // A sequence-output regression model (one output per step) ...
    let specs = layers![sequence_input(1), gru_layer(4), fully_connected(1), regression()];
    let net = Network::<f32>::new(specs, 1).unwrap();
    let model = dir.path().join("seq.safetensors");
    net.save(&model).unwrap();
    // ... and a file with one target per sequence.
    let data = dir.path().join("r.ts");
    std::fs::write(
        &data,
        "@problemName R\n@univariate true\n@targetLabel true\n@data\n1,2,3:0.5\n4,5,6:1.5\n7,8,9:2.5\n",
    )
    .unwrap();
    let out = gru(&["eval", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "an RMSE over mismatched pairs was printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains("one output per step") && err.contains("one target per sequence"), "{err}");
}

#[test]
fn no_output_overwrites_an_input_and_output_paths_are_checked_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.ts");
    let text = two_class_ts("a b");
    std::fs::write(&data, &text).unwrap();
    let d = data.to_str().unwrap();
    let unchanged = |what: &str| assert_eq!(std::fs::read_to_string(&data).unwrap(), text, "{what} changed the data");

    let err = fails(&gru(&["train", "--train", d, "--out", d, "--epochs", "1", "--hidden", "4"]));
    assert!(err.contains("--out") && err.contains("same file as --train"), "{err}");
    unchanged("train --out = --train");
    // The same file under another spelling.
    let other = dir.path().join(".").join("d.ts");
    let err = fails(&gru(&["train", "--train", d, "--out", other.to_str().unwrap(), "--epochs", "1"]));
    assert!(err.contains("same file"), "{err}");
    unchanged("train --out ./d.ts");

    // A missing folder for the history fails at once, before any epoch (no model written).
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    let history = dir.path().join("missing").join("h.csv");
    let err =
        fails(&gru(&["train", "--train", d, "--out", m, "--history", history.to_str().unwrap(), "--epochs", "1"]));
    assert!(err.contains("does not exist") && err.contains("--history"), "{err}");
    assert!(!model.exists(), "the model was trained before the history path was checked");
    let err =
        fails(&gru(&["train", "--train", d, "--out", m, "--plot", dir.path().to_str().unwrap(), "--epochs", "1"]));
    assert!(err.contains("is a directory"), "{err}");

    ok(&gru(&["train", "--train", d, "--out", m, "--epochs", "1", "--hidden", "4", "--quiet"]));
    let model_bytes = std::fs::read(&model).unwrap();
    let err = fails(&gru(&["predict", "--model", m, "--data", d, "--out", d]));
    assert!(err.contains("same file as --data"), "{err}");
    unchanged("predict --out = --data");
    let err = fails(&gru(&["predict", "--model", m, "--data", d, "--out", m]));
    assert!(err.contains("same file as --model"), "{err}");
    let err = fails(&gru(&["convert", "--to", "gru", m, m]));
    assert!(err.contains("same file as IN"), "{err}");
    assert_eq!(std::fs::read(&model).unwrap(), model_bytes, "an output overwrote the model");
}

#[test]
fn predict_reads_unlabelled_ts_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let m = model.to_str().unwrap();
    // The archive's unlabelled layout: `@classLabel false`, lines of values only.
    let unlabelled = dir.path().join("u.ts");
    std::fs::write(&unlabelled, "@problemName U\n@univariate true\n@classLabel false\n@data\n0.1,0.2,0.3\n-0.1,-0.2\n")
        .unwrap();
    let csv = ok(&gru(&["predict", "--model", m, "--data", unlabelled.to_str().unwrap()]));
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("sequence,step,prediction,a,b"), "{csv}");
    // Training on it says why not.
    let err = fails(&gru(&["train", "--train", unlabelled.to_str().unwrap(), "--out", m, "--epochs", "1"]));
    assert!(err.contains("no labels"), "{err}");
}

#[test]
fn a_channel_mismatch_names_the_channels() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let m = model.to_str().unwrap();
    let three = dir.path().join("three.ts");
    std::fs::write(&three, "@dimensions 3\n@classLabel true a b\n@data\n1,2:3,4:5,6:a\n1:2:3:b\n").unwrap();
    for cmd in ["eval", "predict"] {
        let err = fails(&gru(&[cmd, "--model", m, "--data", three.to_str().unwrap()]));
        assert!(err.contains("the model reads 1 channels per step, the data have 3"), "{cmd}: {err}");
    }
}

#[test]
fn empty_sequences_are_read_predicted_and_trained_on() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let m = model.to_str().unwrap();
    // Lines 2 and 4 are empty sequences (a `.ts` line of empty dimensions).
    let data = dir.path().join("e.ts");
    std::fs::write(&data, "@univariate true\n@classLabel true a b\n@data\n0.1,0.2,0.3:a\n:b\n-0.1,-0.2:b\n:a\n")
        .unwrap();
    let d = data.to_str().unwrap();
    let csv = ok(&gru(&["predict", "--model", m, "--data", d]));
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "one prediction per sequence: {csv}");
    // Both empty sequences are predicted from the initial state alone: the same row.
    let after_index = |row: &str| row.split_once(',').map(|(_, rest)| rest.to_string()).unwrap();
    assert_eq!(after_index(rows[1]), after_index(rows[3]), "{csv}");
    assert!(!rows[1].contains("NaN"), "{csv}");
    let eval = ok(&gru(&["eval", "--model", m, "--data", d]));
    assert!(eval.contains("accuracy"), "{eval}");
    // The same model as ONNX (it reads sequence_lens): the empty sequences run with length 0
    // and get the same predictions.
    let onnx = dir.path().join("m.onnx");
    ok(&gru(&["convert", "--to", "onnx", m, onnx.to_str().unwrap()]));
    let onnx_csv = ok(&gru(&["predict", "--model", onnx.to_str().unwrap(), "--data", d]));
    let values = |row: &str| -> Vec<f64> { row.split(',').skip(3).map(|v| v.parse().unwrap()).collect() };
    let onnx_rows: Vec<&str> = onnx_csv.lines().skip(1).collect();
    assert_eq!(onnx_rows.len(), 4, "{onnx_csv}");
    for (ours, theirs) in rows.iter().zip(&onnx_rows) {
        let (a, b) = (values(ours), values(theirs));
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6), "{csv}\nvs ONNX\n{onnx_csv}");
    }
    let out = dir.path().join("e.safetensors");
    ok(&gru(&["train", "--train", d, "--out", out.to_str().unwrap(), "--epochs", "2", "--hidden", "3", "--quiet"]));
}
