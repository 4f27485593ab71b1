//! The CLI as MATLAB and Korali users reach for it (issue 17), each run as a user runs the
//! binary: every training option a flag with a help line, a flag that overrides a file's
//! value says so, a Korali experiment honours --seed, --history and --plot, Korali's data
//! sets predict and evaluate, `gru inspect` reports the initialization used, and the epoch
//! line prints the epoch's mean.

mod common;

use std::path::{Path, PathBuf};

use common::{gru, ok, root};
use gru::optim::GradientThresholdMethod;
use gru::train::batching::{PaddingDirection, Shuffle};

fn fails(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "succeeded: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Korali's sine experiment of `examples/korali` cut to `generations` generations of 2 steps.
fn short_experiment(dir: &Path, generations: usize) -> PathBuf {
    let text = std::fs::read_to_string(root().join("examples/korali/sine_rnn_experiment.json")).unwrap();
    let mut exp: serde_json::Value = serde_json::from_str(&text).unwrap();
    exp["Solver"]["Termination Criteria"]["Max Generations"] = serde_json::json!(generations);
    exp["Solver"]["Steps Per Generation"] = serde_json::json!(2);
    let path = dir.join("exp.json");
    std::fs::write(&path, exp.to_string()).unwrap();
    path
}

/// The number after `key` in `text` (`final training loss 0.123456;` -> 0.123456).
fn number_after(text: &str, key: &str) -> f64 {
    let at = text.find(key).unwrap_or_else(|| panic!("no {key:?} in {text}")) + key.len();
    let num: String = text[at..]
        .chars()
        .skip_while(|c| *c == ' ' || *c == ':')
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+'))
        .collect();
    num.parse().unwrap_or_else(|_| panic!("{key:?} is followed by {num:?} in {text}"))
}

/// A two-class .ts file: class `a` sequences rise, class `b` sequences fall.
fn two_class_ts(n: usize) -> String {
    let mut text = "@problemName Slopes\n@univariate true\n@classLabel true a b\n@data\n".to_string();
    for i in 0..n {
        let (label, sign) = if i % 2 == 0 { ("a", 1.0) } else { ("b", -1.0) };
        let len = 4 + i % 5;
        let steps: Vec<String> =
            (0..len).map(|t| format!("{:.3}", sign * (t as f64 * 0.3 + 0.01 * i as f64))).collect();
        text += &format!("{}:{label}\n", steps.join(","));
    }
    text
}

/// A regression .ts file whose targets are in the hundreds: 500 + 100 · (the mean of the sequence).
fn regression_ts(n: usize) -> String {
    let mut text = "@problemName Hundreds\n@univariate true\n@targetLabel true\n@classLabel false\n@data\n".to_string();
    for i in 0..n {
        let len = 3 + i % 6;
        let v: Vec<f64> = (0..len).map(|t| ((i * 5 + t) as f64 * 0.7).sin()).collect();
        let target = 500.0 + 100.0 * v.iter().sum::<f64>() / len as f64;
        let steps: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
        text += &format!("{}:{target:.4}\n", steps.join(","));
    }
    text
}

#[test]
fn an_experiment_honours_seed_history_and_plot_and_refuses_matlab_options() {
    let dir = tempfile::tempdir().unwrap();
    let exp = short_experiment(dir.path(), 3);
    let model = dir.path().join("m.safetensors");
    let base = ["train", "--experiment", s(&exp), "--out", s(&model)];
    let plain = gru(&base);
    let plain_loss = number_after(&ok(&plain), "final training loss");
    assert!(!stderr(&plain).contains("--seed"), "{}", stderr(&plain));

    let (history, png, svg) = (dir.path().join("h.csv"), dir.path().join("p.png"), dir.path().join("p.svg"));
    let mut args = base.to_vec();
    args.extend(["--seed", "1", "--history", s(&history), "--plot", s(&png), "--plot", s(&svg)]);
    let seeded = gru(&args);
    let text = ok(&seeded);
    let seeded_loss = number_after(&text, "final training loss");
    assert_ne!(seeded_loss, plain_loss, "--seed 1 changed nothing:\n{text}");
    assert!(text.contains("random seed 1"), "{text}");
    let err = stderr(&seeded);
    assert!(err.contains("note: flag --seed 1 overrides \"Random Seed\" 12648430 from"), "{err}");
    // The history: one row per generation, the last one the final loss.
    let csv = std::fs::read_to_string(&history).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "generation,steps,loss,learning_rate,seconds");
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows[3].starts_with("3,6,"), "{csv}");
    let last: f64 = rows[3].split(',').nth(2).unwrap().parse().unwrap();
    assert!((last - seeded_loss).abs() < 1e-6, "{last} vs {seeded_loss}");
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));

    // The experiment's own seed, given as a flag: the same run, and nothing to say.
    let mut same = base.to_vec();
    same.extend(["--seed", "12648430"]);
    let out = gru(&same);
    assert_eq!(number_after(&ok(&out), "final training loss"), plain_loss);
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));

    // MATLAB training options have no meaning for an experiment: refused, not ignored.
    for extra in [&["--epochs", "3"][..], &["--learn-rate", "0.1"], &["--hidden", "8"], &["--sort-by-length"]] {
        let mut args = base.to_vec();
        args.extend(extra);
        let err = fails(&gru(&args));
        assert!(err.contains("cannot be used with"), "{extra:?}: {err}");
    }
}

#[test]
fn gradient_threshold_method_is_a_flag_and_overriding_a_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.ts");
    std::fs::write(&data, two_class_ts(16)).unwrap();
    let options = dir.path().join("opts.json");
    std::fs::write(&options, r#"{"gradient_threshold_method": "l2norm", "max_epochs": 1, "mini_batch_size": 8}"#)
        .unwrap();
    let (model, checkpoint) = (dir.path().join("m.safetensors"), dir.path().join("c.safetensors"));
    let common = ["train", "--train", s(&data), "--out", s(&model), "--checkpoint", s(&checkpoint), "--hidden", "4"];
    let saved_options = || gru::train::load_training_checkpoint::<f32>(&checkpoint).unwrap().1.options;

    let mut args = common.to_vec();
    args.extend([
        "--options",
        s(&options),
        "--gradient-threshold",
        "1",
        "--gradient-threshold-method",
        "absolute-value",
    ]);
    let out = gru(&args);
    ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains(
            "note: flag --gradient-threshold-method absolute-value overrides gradient_threshold_method l2norm from"
        ) && err.contains("opts.json"),
        "{err}"
    );
    let o = saved_options();
    assert_eq!((o.gradient_threshold_method, o.gradient_threshold), (GradientThresholdMethod::AbsoluteValue, 1.0));

    // --gradient-threshold alone clips as MATLAB's default says (l2norm), not globally.
    let mut args = common.to_vec();
    args.extend(["--epochs", "1", "--gradient-threshold", "2"]);
    let out = gru(&args);
    ok(&out);
    assert!(!stderr(&out).contains("note:"), "no options file, nothing overridden: {}", stderr(&out));
    let o = saved_options();
    assert_eq!((o.gradient_threshold_method, o.gradient_threshold), (GradientThresholdMethod::L2Norm, 2.0));
    let mut args = common.to_vec();
    args.extend(["--epochs", "1", "--gradient-threshold-method", "global-l2norm"]);
    ok(&gru(&args));
    assert_eq!(saved_options().gradient_threshold_method, GradientThresholdMethod::GlobalL2Norm);

    let mut args = common.to_vec();
    args.extend(["--gradient-threshold-method", "l1"]);
    let err = fails(&gru(&args));
    assert!(err.contains("l2norm") && err.contains("global-l2norm") && err.contains("absolute-value"), "{err}");
}

#[test]
fn korali_data_sets_predict_and_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let exp = short_experiment(dir.path(), 3);
    let model = dir.path().join("sine.safetensors");
    ok(&gru(&["train", "--experiment", s(&exp), "--out", s(&model), "--quiet"]));
    let predict = |input: &str| -> Vec<Vec<f64>> {
        let out = dir.path().join("pred.json");
        ok(&gru(&["predict", "--model", s(&model), "--korali-input", input, "--out", s(&out)]));
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
    };
    // Korali's data set ({"Input": ..., "Solution": ...}) predicts as its input list does.
    let from_set = predict("examples/korali/sine_rnn_test.json");
    assert_eq!(from_set.len(), 100);
    assert_eq!(from_set, predict("examples/korali/sine_rnn_test_input.json"));
    // ... and so does the experiment itself (its "Problem").
    assert_eq!(predict(s(&exp)).len(), 500);

    // The test MSE against "Solution", printed by `gru eval`.
    let solution: Vec<Vec<f64>> = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/korali/sine_rnn_test_solution.json")).unwrap(),
    )
    .unwrap();
    let mse = from_set.iter().zip(&solution).map(|(p, t)| (p[0] - t[0]).powi(2)).sum::<f64>() / 100.0;
    let text = ok(&gru(&["eval", "--model", s(&model), "--data", "examples/korali/sine_rnn_test.json"]));
    let printed = number_after(&text, "\nmse:");
    assert!((printed - mse).abs() < 2e-6, "eval says {printed}, the predictions give {mse}:\n{text}");
    assert!(text.contains("values: 100"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&ok(&gru(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        "examples/korali/sine_rnn_test.json",
        "--json",
    ])))
    .unwrap();
    assert!((json["mse"].as_f64().unwrap() - mse).abs() < 1e-9 * (1.0 + mse), "{json}");
    // `--data` predicts from it too (CSV), and an input list without "Solution" cannot be evaluated.
    let csv = ok(&gru(&["predict", "--model", s(&model), "--data", "examples/korali/sine_rnn_test.json"]));
    assert_eq!(csv.lines().count(), 101, "{csv}");
    let err = fails(&gru(&["eval", "--model", s(&model), "--data", "examples/korali/sine_rnn_test_input.json"]));
    assert!(err.contains("without their solution"), "{err}");
}

#[test]
fn inspect_reports_the_initialization_that_was_used() {
    let dir = tempfile::tempdir().unwrap();
    let exp = short_experiment(dir.path(), 1);
    let korali = dir.path().join("korali.safetensors");
    ok(&gru(&["train", "--experiment", s(&exp), "--out", s(&korali), "--quiet"]));
    let text = ok(&gru(&["inspect", s(&korali)]));
    assert!(text.contains("initialization: Korali's uniform initialization"), "{text}");
    assert!(text.contains("U(-1, 1)") && text.contains("Random Seed 12648430"), "{text}");
    assert!(!text.contains("glorot") && !text.contains("orthogonal"), "lists initializers not used:\n{text}");

    let data = dir.path().join("d.ts");
    std::fs::write(&data, two_class_ts(8)).unwrap();
    let matlab = dir.path().join("matlab.safetensors");
    ok(&gru(&["train", "--train", s(&data), "--out", s(&matlab), "--epochs", "1", "--hidden", "4", "--quiet"]));
    let text = ok(&gru(&["inspect", s(&matlab)]));
    assert!(text.contains("initialization: the layers' initializers") && text.contains("glorot"), "{text}");

    // A file written before the initialization was recorded.
    let (tensors, mut model) = gru::io::load(&korali).unwrap();
    model.as_object_mut().unwrap().remove("initialization");
    gru::io::save(&korali, &tensors, &model).unwrap();
    let text = ok(&gru(&["inspect", s(&korali)]));
    assert!(text.contains("initialization: not recorded"), "{text}");
}

#[test]
fn every_training_option_is_a_flag_with_a_help_line() {
    let help = ok(&gru(&["train", "--help"]));
    let lines: Vec<&str> = help.lines().collect();
    let mut flags = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('-') || line.len() - trimmed.len() > 6 {
            continue;
        }
        let flag = trimmed.split([' ', ',']).find(|w| w.starts_with("--")).unwrap_or(trimmed).to_string();
        let next = lines.get(i + 1).copied().unwrap_or("");
        let indent = next.len() - next.trim_start().len();
        assert!(
            !next.trim().is_empty() && indent > line.len() - trimmed.len() && !next.trim_start().starts_with('-'),
            "{flag} has no help line:\n{help}"
        );
        flags.push(flag);
    }
    for flag in [
        "--learn-rate",
        "--epochs",
        "--batch-size",
        "--partial-mini-batch",
        "--l2",
        "--seed",
        "--validation-frequency",
        "--patience",
        "--gradient-threshold-method",
        "--sequence-length",
        "--sequence-padding-direction",
        "--sort-by-length",
        "--shuffle",
        "--input-normalization",
        "--target-normalization",
    ] {
        assert!(flags.iter().any(|f| f == flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn the_option_flags_reach_training_and_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("r.ts");
    std::fs::write(&data, regression_ts(40)).unwrap();
    let (model, checkpoint) = (dir.path().join("m.safetensors"), dir.path().join("c.safetensors"));
    let out = gru(&[
        "train",
        "--train",
        s(&data),
        "--out",
        s(&model),
        "--checkpoint",
        s(&checkpoint),
        "--hidden",
        "8",
        "--epochs",
        "20",
        "--batch-size",
        "8",
        "--learn-rate",
        "0.02",
        "--sequence-padding-direction",
        "left",
        "--sort-by-length",
        "--shuffle",
        "every-epoch",
        "--input-normalization",
        "rescale-zero-one",
        "--target-normalization",
        "zscore",
        "--quiet",
    ]);
    ok(&out);
    let o = gru::train::load_training_checkpoint::<f32>(&checkpoint).unwrap().1.options;
    assert_eq!(o.sequence_padding_direction, PaddingDirection::Left);
    // Normalizations are fitted when training starts: a resumed run cannot change them.
    for flag in ["--target-normalization", "--input-normalization"] {
        let resumed = ["train", "--train", s(&data), "--out", s(&model), "--resume", s(&checkpoint), flag, "none"];
        assert!(fails(&gru(&resumed)).contains("cannot be used with"), "{flag} with --resume");
    }
    assert!(o.sort_by_length);
    assert_eq!(o.shuffle, Shuffle::EveryEpoch);
    assert_eq!(o.target_normalization, gru::network::Normalization::Zscore);
    let text = ok(&gru(&["inspect", s(&model)]));
    assert!(text.contains("input normalization: rescale-zero-one over 1 channels"), "{text}");
    assert!(text.contains("target normalization: zscore over 1 responses"), "{text}");
    // Predictions come back in the targets' units (the hundreds), not the normalized ones.
    let csv = ok(&gru(&["predict", "--model", s(&model), "--data", s(&data)]));
    let preds: Vec<f64> = csv.lines().skip(1).map(|l| l.split(',').nth(2).unwrap().parse().unwrap()).collect();
    let mean = preds.iter().sum::<f64>() / preds.len() as f64;
    assert!((400.0..600.0).contains(&mean), "mean prediction {mean} for targets of 500 ± 100");
    let eval = ok(&gru(&["eval", "--model", s(&model), "--data", s(&data)]));
    assert!(number_after(&eval, "rmse:") < 60.0, "{eval}");

    // With a layer array, --input-normalization replaces its input layer's, and says so.
    let layers = dir.path().join("layers.json");
    std::fs::write(
        &layers,
        r#"[{"type": "sequence-input", "input_size": 1, "normalization": "zscore"},
            {"type": "gru", "num_hidden_units": 4, "output_mode": "last"},
            {"type": "fully-connected", "output_size": 1}, {"type": "regression"}]"#,
    )
    .unwrap();
    let out = gru(&[
        "train",
        "--train",
        s(&data),
        "--out",
        s(&model),
        "--network",
        s(&layers),
        "--input-normalization",
        "none",
        "--epochs",
        "1",
        "--quiet",
    ]);
    ok(&out);
    assert!(
        stderr(&out).contains("note: flag --input-normalization none overrides normalization zscore from"),
        "{}",
        stderr(&out)
    );
    assert!(!ok(&gru(&["inspect", s(&model)])).contains("input normalization:"));
    // Values outside MATLAB's names are refused with the names.
    let err = fails(&gru(&["train", "--train", s(&data), "--out", s(&model), "--shuffle", "sometimes"]));
    assert!(err.contains("every-epoch"), "{err}");
    let err = fails(&gru(&["train", "--train", s(&data), "--out", s(&model), "--input-normalization", "minmax"]));
    assert!(err.contains("rescale-zero-one"), "{err}");
}

#[test]
fn the_epoch_line_prints_the_mean_of_the_epochs_iterations() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.ts");
    std::fs::write(&data, two_class_ts(24)).unwrap();
    let (model, history) = (dir.path().join("m.safetensors"), dir.path().join("h.csv"));
    let text = ok(&gru(&[
        "train",
        "--train",
        s(&data),
        "--out",
        s(&model),
        "--history",
        s(&history),
        "--hidden",
        "4",
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--learn-rate",
        "0.05",
    ]));
    let csv = std::fs::read_to_string(&history).unwrap();
    // epoch,iteration,loss,accuracy,...
    let rows: Vec<Vec<f64>> =
        csv.lines().skip(1).map(|l| l.split(',').take(4).map(|v| v.parse().unwrap()).collect()).collect();
    for epoch in [1.0, 2.0] {
        let of: Vec<&Vec<f64>> = rows.iter().filter(|r| r[0] == epoch).collect();
        assert_eq!(of.len(), 6, "{csv}");
        let line = text
            .lines()
            .find(|l| l.contains(&format!("epoch {epoch:>4}  ")))
            .unwrap_or_else(|| panic!("no line for epoch {epoch}:\n{text}"));
        assert!(line.contains("mean of 6 iterations:"), "{line}");
        let loss = of.iter().map(|r| r[2]).sum::<f64>() / 6.0;
        let accuracy = 100.0 * of.iter().map(|r| r[3]).sum::<f64>() / 6.0;
        assert!((number_after(line, "loss") - loss).abs() < 1e-4, "{line}: mean loss {loss}");
        assert!((number_after(line, "accuracy") - accuracy).abs() < 0.051, "{line}: mean accuracy {accuracy}");
    }
}

#[test]
fn the_regularizer_flags_reach_the_default_networks_gru_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.ts");
    std::fs::write(&data, two_class_ts(16)).unwrap();
    let model = dir.path().join("m.safetensors");
    let base = ["train", "--train", s(&data), "--out", s(&model), "--epochs", "2", "--hidden", "4", "--quiet"];
    let flags = ["--recurrent-dropout", "0.25", "--zoneout", "0.1", "--input-dropout", "0.2", "--layer-norm"];
    ok(&gru(&[&base[..], &flags, &["--weight-drop", "0.3", "--seed", "7"]].concat()));
    let (_, json) = gru::io::load(&model).unwrap();
    let reg = find_key(&json, "regularization").unwrap_or_else(|| panic!("no regularization in {json}"));
    let want = serde_json::json!({
        "input_dropout": 0.2, "recurrent_dropout": 0.25, "zoneout": 0.1, "weight_drop": 0.3,
        "layer_norm": true, "seed": 7
    });
    assert_eq!(reg, &want, "{json}");
    // The model predicts (layer norm's parameters were saved with it).
    ok(&gru(&["eval", "--model", s(&model), "--data", s(&data)]));
    // `gru inspect` names the regularizers and counts layer norm's 12H parameters (H = 4).
    let text = ok(&gru(&["inspect", s(&model)]));
    let line = "regularizers: input dropout 0.2, recurrent dropout 0.25, zoneout 0.1, weight drop 0.3, layer norm; mask seed 7";
    assert!(text.contains(line), "{text}");
    assert!(text.contains("R 12x4, bias 12, layer norm 48"), "{text}");

    // No regularizer: none written, not even the seed.
    ok(&gru(&[&base[..], &["--seed", "7"]].concat()));
    let (_, json) = gru::io::load(&model).unwrap();
    assert!(find_key(&json, "regularization").is_none(), "{json}");

    // A probability out of range is refused, naming the field and the value.
    let err = fails(&gru(&[&base[..], &["--zoneout", "1.5"]].concat()));
    assert!(err.contains("zoneout") && err.contains("1.5"), "{err}");
    // The flags shape the default network only.
    let net = dir.path().join("net.json");
    std::fs::write(&net, "[]").unwrap();
    let err = fails(&gru(&[&base[..], &["--network", s(&net), "--zoneout", "0.1"]].concat()));
    assert!(err.contains("--zoneout") && err.contains("--network"), "{err}");
}

/// The first value under `key` anywhere in `v`.
fn find_key<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(o) => o.get(key).or_else(|| o.values().find_map(|x| find_key(x, key))),
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}
