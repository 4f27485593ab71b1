//! The `gru` binary as a user runs it.

use std::process::Command;

fn gru(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gru"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap()
}

#[test]
fn inspect_prints_blocks_and_parameter_count() {
    let out = gru(&["inspect", "examples/spec.json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("layer 1 backward: W 300x200, R 300x100, bias 600"), "{text}");
    assert!(text.contains("parameters: 249600"), "{text}");
}

#[test]
fn inspect_rejects_unknown_keys_and_bad_values_with_the_field_name() {
    let dir = std::env::temp_dir().join(format!("gru-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unknown = dir.join("unknown.json");
    std::fs::write(&unknown, r#"{"input_size": 3, "hidden_size": 4, "hiden": 5}"#).unwrap();
    let out = gru(&["inspect", unknown.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("hiden"));
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"input_size": 3, "hidden_size": 4, "clip": -1.0}"#).unwrap();
    let out = gru(&["inspect", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("clip") && err.contains("-1"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn engines_lists_the_native_engine() {
    let out = gru(&["engines"]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("Korali: available"));
}
