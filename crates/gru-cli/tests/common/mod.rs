//! Running the `gru` binary as a user does, shared by the CLI tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (commands run there).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `gru args...` with extra environment variables, from the repository root.
pub fn gru_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gru"));
    c.args(args).current_dir(root()).env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// `gru args...` from the repository root.
pub fn gru(args: &[&str]) -> Output {
    gru_with(args, &[])
}

/// The stdout of a successful run (else a failure showing both streams).
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The stderr of a run that must fail (else a failure showing its stdout).
pub fn fails(out: &Output) -> String {
    assert!(!out.status.success(), "succeeded: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A two-class .ts file: class `a` sequences rise, class `b` sequences fall; the header
/// lists the classes in `order`.
pub fn two_class_ts(order: &str) -> String {
    let mut text =
        format!("@problemName Slopes\n@univariate true\n@equalLength true\n@classLabel true {order}\n@data\n");
    for i in 0..24 {
        let (label, sign) = if i % 2 == 0 { ("a", 1.0) } else { ("b", -1.0) };
        let steps: Vec<String> = (0..6).map(|t| format!("{:.3}", sign * (t as f64 * 0.3 + 0.01 * i as f64))).collect();
        text += &format!("{}:{label}\n", steps.join(","));
    }
    text
}

/// A model trained for one epoch on the two-class data, saved in `dir`.
pub fn small_model(dir: &Path) -> PathBuf {
    let (data, model) = (dir.join("d.ts"), dir.join("m.safetensors"));
    std::fs::write(&data, two_class_ts("a b")).unwrap();
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    ok(&gru(&["train", "--train", d, "--out", m, "--epochs", "1", "--hidden", "4", "--quiet"]));
    model
}
