//! Long sequences from the CLI (issue 17, item 9): the recipe the README documents
//! (truncated backpropagation with `--sequence-length N`, minibatches of similar lengths with
//! `--sort-by-length`, a gradient threshold) learns a two-class set of 100 to 800 steps whose
//! class is in every stretch of the sequence.

mod common;

use common::{gru, ok};

/// Sine waves of period 12 (class `a`) or 20 (class `b`), 100 to 800 steps, random phase
/// and amplitude, with noise; deterministic in `seed`.
fn waves(n: usize, seed: u64) -> String {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut text = "@problemName Waves\n@univariate true\n@classLabel true a b\n@data\n".to_string();
    for i in 0..n {
        let (label, period) = if i % 2 == 0 { ("a", 12.0) } else { ("b", 20.0) };
        let len = 100 + (next() * 700.0) as usize;
        let (phase, amp) = (next() * std::f64::consts::TAU, 0.5 + next());
        let v: Vec<String> = (0..len)
            .map(|t| {
                format!("{:.3}", amp * (std::f64::consts::TAU * t as f64 / period + phase).sin() + 0.2 * (next() - 0.5))
            })
            .collect();
        text += &format!("{}:{label}\n", v.join(","));
    }
    text
}

#[test]
fn truncated_backpropagation_over_sorted_minibatches_learns_long_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (dir.path().join("train.ts"), dir.path().join("test.ts"));
    std::fs::write(&train, waves(48, 1)).unwrap();
    std::fs::write(&test, waves(24, 2)).unwrap();
    let (model, history) = (dir.path().join("m.safetensors"), dir.path().join("h.csv"));
    let p = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let args = [
        "train",
        "--train",
        &p(&train),
        "--validation",
        &p(&test),
        "--out",
        &p(&model),
        "--history",
        &p(&history),
        "--hidden",
        "8",
        "--epochs",
        "12",
        "--batch-size",
        "8",
        "--learn-rate",
        "0.02",
        "--gradient-threshold",
        "1",
        "--sequence-length",
        "50",
        "--sort-by-length",
        "--quiet",
    ];
    let out = ok(&gru(&args));
    let line = out.lines().find(|l| l.starts_with("validation:")).unwrap_or_else(|| panic!("{out}"));
    let accuracy: f64 = line.split("accuracy").nth(1).unwrap().trim().trim_end_matches('%').parse().unwrap();
    assert!(accuracy >= 85.0, "chance is 50%: {out}");
    // Sequence-to-one targets: an update for each 50-step chunk that holds the last step of
    // some sequence of the minibatch (the chunks before carry the state forward): at least
    // one per minibatch (48 sequences, 6 per epoch), at most one per chunk (800 / 50).
    let iterations: usize = out.split(" iterations").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    assert!((12 * 6..=12 * 6 * 16).contains(&iterations), "{out}");
    let csv = std::fs::read_to_string(&history).unwrap();
    assert_eq!(csv.lines().count(), iterations + 1, "one history row per update");
}
