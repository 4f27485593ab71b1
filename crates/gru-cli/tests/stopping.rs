//! Training runs that stop safely, run as a user runs the binary: Ctrl-C (SIGINT) and SIGTERM
//! stop at a safe point, write the checkpoint and the history and exit 130 / 143; a diverging
//! run saves nothing and fails; absurd sizes are errors naming the field, not aborts; a Korali
//! experiment that would never end is refused.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

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

/// Files of `dir` whose name holds `.tmp` (what an interrupted atomic write would leave).
fn temporaries(dir: &Path) -> Vec<String> {
    let names = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string());
    names.filter(|n| n.contains(".tmp")).collect()
}

/// Runs `gru args`, sends `signal` (`INT`, `TERM`) once a stdout line contains `after`,
/// and returns the exit code and the whole stdout and stderr.
#[cfg(unix)]
fn signalled(args: &[&str], after: &str, signal: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gru"))
        .args(args)
        .current_dir(root())
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        stdout += &line;
        stdout += "\n";
        if line.contains(after) {
            let status = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
            assert!(status.success());
            break;
        }
    }
    for line in lines {
        stdout += &line.unwrap();
        stdout += "\n";
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), stdout, String::from_utf8_lossy(&out.stderr).to_string())
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_at_a_safe_point_writes_checkpoint_and_history_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let (data, ckpt, history, model) = (
        dir.path().join("d.ts"),
        dir.path().join("ckpt.safetensors"),
        dir.path().join("h.csv"),
        dir.path().join("m.safetensors"),
    );
    ramps(&data, 64);
    let (d, c, h, m) =
        (data.to_str().unwrap(), ckpt.to_str().unwrap(), history.to_str().unwrap(), model.to_str().unwrap());
    let args = [
        "train",
        "--train",
        d,
        "--hidden",
        "8",
        "--epochs",
        "100000",
        "--batch-size",
        "4",
        "--checkpoint",
        c,
        "--history",
        h,
        "--out",
        m,
    ];
    let (code, stdout, stderr) = signalled(&args, "epoch", "INT");
    assert_eq!(code, Some(130), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("stopped by SIGINT in epoch "), "{stdout}");
    assert!(last.contains(&format!("checkpoint saved to {c} (continue with --resume {c})")), "{last}");
    assert!(last.contains(&format!("history saved to {h}")) && last.contains("no model written"), "{last}");
    assert!(!model.exists(), "an interrupted run wrote the model");
    assert!(temporaries(dir.path()).is_empty(), "stray temporaries: {:?}", temporaries(dir.path()));

    // The checkpoint is where the run stopped; the history holds every iteration before.
    let (_, trainer) = gru::train::load_training_checkpoint::<f32>(&ckpt).unwrap();
    let (epoch, iteration) = (trainer.state.epoch, trainer.state.iteration);
    assert!(last.contains(&format!("after iteration {iteration}")), "{last} vs iteration {iteration}");
    assert!(iteration >= 16, "stopped before the first epoch ended: {iteration}");
    let csv = std::fs::read_to_string(&history).unwrap();
    assert_eq!(csv.lines().count(), iteration + 1, "{csv}");
    // It resumes: one more epoch, then the model.
    let more = (epoch + 1).to_string();
    ok(&gru(&["train", "--train", d, "--resume", c, "--epochs", &more, "--out", m, "--quiet"]));
    assert!(model.exists());
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_same_way_and_exits_143() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = (dir.path().join("d.ts"), dir.path().join("m.safetensors"));
    ramps(&data, 64);
    let args = [
        "train",
        "--train",
        data.to_str().unwrap(),
        "--hidden",
        "8",
        "--epochs",
        "100000",
        "--batch-size",
        "4",
        "--out",
        model.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = signalled(&args, "epoch", "TERM");
    assert_eq!(code, Some(143), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("stopped by SIGTERM in epoch") && stdout.contains("no model written"), "{stdout}");
    assert!(!model.exists());
    assert!(temporaries(dir.path()).is_empty());
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_korali_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let mut exp: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/korali/sine_rnn_experiment.json")).unwrap(),
    )
    .unwrap();
    exp["Solver"]["Termination Criteria"]["Max Generations"] = serde_json::json!(100000);
    let (path, model) = (dir.path().join("exp.json"), dir.path().join("m.safetensors"));
    std::fs::write(&path, exp.to_string()).unwrap();
    let args = ["train", "--experiment", path.to_str().unwrap(), "--out", model.to_str().unwrap()];
    let (code, stdout, stderr) = signalled(&args, "[gru] expected time for 100000 generations", "INT");
    assert_eq!(code, Some(130), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("[gru] 2000000 optimizer steps of 500 sequences (up to 5 steps each)"), "{stdout}");
    assert!(stdout.contains("stopped by SIGINT in generation"), "{stdout}");
    assert!(!model.exists());
}

#[test]
fn a_diverging_run_fails_naming_epoch_iteration_and_layer_and_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = (dir.path().join("d.ts"), dir.path().join("m.safetensors"));
    ramps(&data, 32);
    for dtype in ["f32", "f64"] {
        let out = gru(&[
            "train",
            "--train",
            data.to_str().unwrap(),
            "--hidden",
            "8",
            "--epochs",
            "5",
            "--solver",
            "sgdm",
            "--learn-rate",
            "1e300",
            "--dtype",
            dtype,
            "--out",
            model.to_str().unwrap(),
            "--quiet",
        ]);
        let err = fails(&out);
        assert!(err.contains("training diverged in epoch ") && err.contains(", iteration "), "{dtype}: {err}");
        assert!(err.contains("lower the learn rate") && err.contains("--gradient-threshold"), "{dtype}: {err}");
        assert!(!model.exists(), "{dtype}: a diverged run saved its model");
    }
}

#[test]
fn an_f64_run_whose_trained_loss_is_infinite_saves_nothing() {
    // Responses of the size of 100: at learn rate 1e31 the f64 weights stay finite through
    // every step, and the loss of the last update overflows.
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = (dir.path().join("r.ts"), dir.path().join("m.safetensors"));
    let mut text = String::from("@problemName R\n@univariate true\n@targetlabel true\n@classLabel false\n@data\n");
    for i in 0..64 {
        let xs: Vec<f64> = (0..8).map(|t| (((i * 8 + t) * 7919) % 200) as f64 / 100.0 - 1.0).collect();
        let s: Vec<String> = xs.iter().map(|x| format!("{x}")).collect();
        text += &format!("{}:{}\n", s.join(","), 100.0 * xs.iter().sum::<f64>());
    }
    std::fs::write(&data, text).unwrap();
    let out = gru(&[
        "train",
        "--train",
        data.to_str().unwrap(),
        "--hidden",
        "8",
        "--epochs",
        "5",
        "--solver",
        "sgdm",
        "--learn-rate",
        "1e31",
        "--dtype",
        "f64",
        "--out",
        model.to_str().unwrap(),
        "--quiet",
    ]);
    let err = fails(&out);
    assert!(err.contains("training diverged in epoch ") && err.contains(" is inf"), "{err}");
    assert!(!model.exists(), "a run with an infinite loss saved its model");
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

#[test]
fn a_korali_experiment_that_would_never_end_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut exp: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/korali/sine_rnn_experiment.json")).unwrap(),
    )
    .unwrap();
    exp["Solver"]["Steps Per Generation"] = serde_json::json!(1e12);
    let path = dir.path().join("exp.json");
    std::fs::write(&path, exp.to_string()).unwrap();
    let started = std::time::Instant::now();
    let err = fails(&gru(&["train", "--experiment", path.to_str().unwrap(), "--out", "unused.safetensors"]));
    assert!(err.contains("[\"Solver\"][\"Steps Per Generation\"]: 1000000000000"), "{err}");
    assert!(err.contains("beyond the limit of 100000000000"), "{err}");
    assert!(started.elapsed().as_secs() < 60);
}
