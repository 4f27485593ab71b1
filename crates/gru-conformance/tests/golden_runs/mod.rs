//! The golden runs, shared by the suites that check them: `golden.rs` and
//! `golden_training.rs` (at the default kernel level) and `forced_avx2.rs` (with the AVX2
//! kernels forced by `GRU_ISA`). Each function computes the hashes of one golden file.
#![allow(dead_code)] // each test crate uses its own subset

pub mod engine;
pub mod training;

use std::collections::BTreeMap;

use gru_conformance::golden::check_or_bless;

/// Asserts that `computed` matches `golden/{file}` bit for bit, naming the cases that differ.
pub fn assert_identical(file: &str, computed: &BTreeMap<String, u64>) {
    let diffs = check_or_bless(file, computed);
    assert!(
        diffs.is_empty(),
        "{} of {} cases differ from golden/{file}:\n{}",
        diffs.len(),
        computed.len(),
        diffs[..diffs.len().min(20)].join("\n")
    );
    eprintln!("{}: {} cases bit-identical", file, computed.len());
}
