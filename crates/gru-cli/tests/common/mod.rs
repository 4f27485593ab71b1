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
