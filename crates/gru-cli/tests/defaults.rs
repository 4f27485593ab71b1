//! Defaults that do not trap (issue 17, item 6), run as a user runs the binary: the default
//! `gru train` on the shipped regression set (`data/regression/HalfLife_*.ts`, 172 series of
//! 100 steps) beats predicting the training mean, where MATLAB's defaults (the partial
//! minibatch discarded, one shuffle, raw targets) do worse than it and are warned about.

mod common;

use common::{gru, ok};

const TRAIN: &str = "data/regression/HalfLife_TRAIN.ts";
const TEST: &str = "data/regression/HalfLife_TEST.ts";

/// The model's and the mean predictor's validation RMSE from `gru train`'s last line:
/// `validation: loss L  rmse R  (predicting the training mean: rmse B)`.
fn validation_rmse(stdout: &str) -> (f64, f64) {
    let line = stdout.lines().find(|l| l.starts_with("validation:")).unwrap_or_else(|| panic!("{stdout}"));
    let numbers: Vec<f64> =
        line.split(|c: char| c.is_whitespace() || c == ')').filter_map(|w| w.parse().ok()).collect::<Vec<f64>>();
    assert_eq!(numbers.len(), 3, "{line}");
    (numbers[1], numbers[2])
}

#[test]
fn the_default_run_beats_the_mean_predictor_on_the_shipped_regression_set() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    let out = gru(&["train", "--train", TRAIN, "--validation", TEST, "--out", m, "--quiet"]);
    let stdout = ok(&out);
    let (rmse, mean) = validation_rmse(&stdout);
    // Predicting the training mean: 19.6 on the test set (see tools/gen_regression_data.py).
    assert!((19.0..20.0).contains(&mean), "{stdout}");
    assert!(rmse < 0.95 * mean, "the default run does not beat the mean predictor: {stdout}");
    assert!(stdout.contains("trained 30 epochs, 60 iterations"), "every sequence in 2 minibatches per epoch: {stdout}");
    // 60 updates are few, and the run says so with a batch size that makes more.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: few updates: 172 training sequences in minibatches of 128"), "{stderr}");
    assert!(stderr.contains("--batch-size 16: 11 per epoch"), "{stderr}");
    // The targets were normalized by default (stored in the model, undone at prediction);
    // `gru eval` prints the same RMSE and the mean predictor's, from the stored mean.
    let inspect = ok(&gru(&["inspect", m]));
    assert!(inspect.contains("target normalization: zscore over 1 responses"), "{inspect}");
    let eval = ok(&gru(&["eval", "--model", m, "--data", TEST]));
    let after = |key: &str| -> f64 {
        let line = eval.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} in {eval}"));
        line[key.len()..].trim().parse().unwrap_or_else(|_| panic!("{line}"))
    };
    assert!((after("rmse:") - rmse).abs() < 1e-4, "{eval} vs {stdout}");
    assert!((after("predicting the training mean: rmse") - mean).abs() < 1e-4, "{eval} vs {stdout}");
}

#[test]
fn matlabs_defaults_are_one_flag_each_and_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let matlab = ["--partial-mini-batch", "discard", "--shuffle", "once", "--target-normalization", "none", "--epochs"];
    let mut args = vec!["train", "--train", TRAIN, "--validation", TEST, "--out", model.to_str().unwrap(), "--quiet"];
    args.extend(matlab);
    args.push("30");
    let out = gru(&args);
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // One iteration per epoch, and the same 44 sequences never seen: both said.
    assert!(stdout.contains("trained 30 epochs, 30 iterations"), "{stdout}");
    assert!(stderr.contains("warning: an epoch is one iteration: 172 training sequences"), "{stderr}");
    assert!(stderr.contains("warning: 44 of the 172 training sequences are never trained on"), "{stderr}");
    // The trap the defaults avoid: raw targets around 46 from outputs near 0 in 30 updates.
    let (rmse, mean) = validation_rmse(&stdout);
    assert!(rmse > mean, "MATLAB's defaults beat the mean predictor here: {stdout}");
}
