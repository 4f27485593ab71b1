//! Standard output that fails under a command (`src/out.rs`), run as a user runs the binary:
//! a reader that leaves (`gru train ... | head`, `gru stream ... | head -1`) ends no run with a
//! panic (Rust ignores SIGPIPE, so `println!` would panic on the broken pipe): the run goes
//! on, saves what it was asked to, and exits with its own status; a full device behind the
//! output (`> /dev/full`) is an error naming standard output, exit 1.

mod common;

use std::fs::File;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{root, small_model, two_class_ts};

/// `gru args` with `stdin` written to its standard input, its standard output a pipe whose
/// reading end is closed before the command writes to it.
fn with_reader_gone(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gru"))
        .args(args)
        .current_dir(root())
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_string();
    // Written beside the wait, which reads standard error: a command that kept reading
    // and complaining would otherwise fill its stderr pipe while this test filled its stdin.
    // The command may stop reading before the end: a failed write here is its right.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn no_panic(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn training_whose_reader_left_still_saves_its_model_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = (dir.path().join("d.ts"), dir.path().join("m.safetensors"));
    std::fs::write(&data, two_class_ts("a b")).unwrap();
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    // Without --quiet: a log line per epoch, then the summary, all after the reader left.
    let out = with_reader_gone(&["train", "--train", d, "--out", m, "--epochs", "3", "--hidden", "4"], "");
    no_panic(&out);
    assert!(gru::Network::<f32>::load(&model).is_ok(), "the model was not saved");
}

#[test]
fn a_stream_whose_reader_left_ends_without_reading_everything() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let frames: String = (0..20_000).map(|i| format!("s{} {}\n", i % 3, (i % 7) as f32 * 0.1)).collect();
    let out = with_reader_gone(&["stream", "--model", model.to_str().unwrap()], &frames);
    no_panic(&out);
    // One failed write ends the serving: no line of the 20 000 is reported refused.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("line "), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
#[cfg(target_os = "linux")]
fn a_full_device_behind_standard_output_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let full = File::options().write(true).open("/dev/full").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gru"))
        .args(["inspect", model.to_str().unwrap()])
        .current_dir(root())
        .env_remove("RUST_BACKTRACE")
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("writing standard output"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
