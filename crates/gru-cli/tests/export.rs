//! `gru export`: a trained demo model as C and as a no_std crate, each verified against the
//! native engine, the README's C program against `gru predict`, the crate built alone with
//! cargo, and the refusals. The C checks skip with a notice without a C compiler (`cc` or
//! `$CC`), unless GRU_REQUIRE_CC=1 (CI).

mod common;

use std::path::Path;
use std::process::Command;

use common::{fails, gru, ok, two_class_ts};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn have_cc() -> bool {
    if gru::codegen::verify::c_compiler().is_some() {
        return true;
    }
    assert_ne!(std::env::var("GRU_REQUIRE_CC").as_deref(), Ok("1"), "GRU_REQUIRE_CC=1 but no C compiler runs");
    eprintln!("notice: no C compiler (cc or $CC): the exported C is not compiled");
    false
}

/// The demo model (GestureShapes, z-score input, GRU output mode last, dense, softmax),
/// trained briefly.
fn demo_model(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("demo");
    ok(&gru(&["demo", "--out", s(&out), "--epochs", "2", "--hidden", "16", "--quiet"]));
    out.join("model.safetensors")
}

#[test]
fn the_demo_model_exports_to_c_and_the_readme_program_agrees_with_gru_predict() {
    if !have_cc() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = demo_model(dir.path());
    let out = dir.path().join("c");
    let text = ok(&gru(&["export", "--to", "c", s(&model), s(&out), "--verify"]));
    assert!(text.contains("verified: 4 sequences"), "{text}");
    // Two sequences through the README's program (model_step frame by frame, the last y).
    let sequences: Vec<Vec<[f32; 2]>> = (0..2)
        .map(|q| (0..7 + 5 * q).map(|t| [(t as f32 * 0.4 + q as f32).sin(), (t as f32 * 0.3).cos() - 0.5]).collect())
        .collect();
    let input = dir.path().join("input.json");
    std::fs::write(&input, serde_json::to_string(&sequences).unwrap()).unwrap();
    let predicted = dir.path().join("pred.json");
    ok(&gru(&["predict", "--model", s(&model), "--korali-input", s(&input), "--out", s(&predicted)]));
    let expected: Vec<Vec<f64>> = serde_json::from_str(&std::fs::read_to_string(&predicted).unwrap()).unwrap();
    for (q, seq) in sequences.iter().enumerate() {
        let rows: Vec<String> = seq.iter().map(|[a, b]| format!("{{{a:e}f, {b:e}f}}")).collect();
        let program = format!(
            "#include <stdio.h>\n#include \"model.h\"\n\n\
             static const float x[{}][MODEL_INPUT_SIZE] = {{{}}};\n\n\
             int main(void)\n{{\n    static model_state s;                 /* one per stream */\n    float y[MODEL_OUTPUT_SIZE];\n    \
             model_reset(&s);\n    for (int t = 0; t < {}; ++t) model_step(&s, x[t], y);   /* frame by frame */\n    \
             for (int k = 0; k < MODEL_OUTPUT_SIZE; ++k) printf(\"%.9g\\n\", y[k]);\n    return 0;\n}}\n",
            seq.len(),
            rows.join(", "),
            seq.len()
        );
        std::fs::write(out.join("main.c"), program).unwrap();
        let cc = gru::codegen::verify::c_compiler().unwrap();
        let built = Command::new(cc)
            .args(["-std=c99", "-Wall", "-Werror", "-O2", "-o", "main", "main.c", "model.c", "-lm"])
            .current_dir(&out)
            .output()
            .unwrap();
        assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
        let run = Command::new(out.join("main")).output().unwrap();
        let y: Vec<f64> =
            String::from_utf8(run.stdout).unwrap().split_whitespace().map(|v| v.parse().unwrap()).collect();
        assert_eq!(y.len(), expected[q].len());
        for (a, r) in y.iter().zip(&expected[q]) {
            assert!((a - r).abs() <= 1e-5 * (1.0 + r.abs()), "sequence {q}: {y:?} vs gru predict {:?}", expected[q]);
        }
    }
}

#[test]
fn the_demo_model_exports_to_a_no_std_crate_that_builds_alone() {
    let dir = tempfile::tempdir().unwrap();
    let model = demo_model(dir.path());
    let out = dir.path().join("crate");
    let text = ok(&gru(&["export", "--to", "rust-no-std", s(&model), s(&out), "--prefix", "gestures", "--verify"]));
    assert!(text.contains("verified: 4 sequences"), "{text}");
    let lib = std::fs::read_to_string(out.join("src/lib.rs")).unwrap();
    assert!(lib.starts_with("#![no_std]\n"));
    assert!(!lib.contains("extern crate alloc") && !lib.contains("std::"), "no alloc, no std");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    assert!(dir.path().join("target/debug/libgestures.rlib").exists());
}

#[test]
fn export_refusals_name_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.ts");
    std::fs::write(&data, two_class_ts("a b")).unwrap();
    let network = dir.path().join("net.json");
    std::fs::write(
        &network,
        r#"[{"type": "sequence-input", "input_size": 1},
            {"type": "gru", "num_hidden_units": 3, "bidirectional": true, "output_mode": "last"},
            {"type": "fully-connected", "output_size": 2}, {"type": "softmax"}, {"type": "classification"}]"#,
    )
    .unwrap();
    let model = dir.path().join("bi.safetensors");
    ok(&gru(&["train", "--train", s(&data), "--network", s(&network), "--out", s(&model), "--epochs", "1", "--quiet"]));
    let out = dir.path().join("out");
    let err = fails(&gru(&["export", "--to", "c", s(&model), s(&out), "--require-step"]));
    assert!(err.contains("generated model_step cannot represent bidirectional"), "{err}");
    let err = fails(&gru(&["export", "--to", "c", s(&model), s(&out), "--prefix", "my-model"]));
    assert!(err.contains("prefix"), "{err}");
    // Without --require-step: model_run only, and said so.
    let text = ok(&gru(&["export", "--to", "c", s(&model), s(&out), "--max-steps", "8"]));
    assert!(text.contains("no model_step") && text.contains("up to 8 steps"), "{text}");
    let header = std::fs::read_to_string(out.join("model.h")).unwrap();
    assert!(header.contains("#define MODEL_CAN_STEP 0") && header.contains("#define MODEL_MAX_STEPS 8"));
    if have_cc() {
        let text = ok(&gru(&["export", "--to", "c", s(&model), s(&out), "--max-steps", "8", "--verify"]));
        assert!(text.contains("verified: 4 sequences"), "{text}");
    }
}
