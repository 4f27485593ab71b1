//! The AVX2+FMA kernels, forced with `GRU_ISA=avx2` on whatever CPU runs the suite (in CI
//! one with AVX-512, whose kernels run everywhere else): the level is the one selected, the
//! fast path's forward and backward agree with the scalar reference on shapes that reach
//! every register block and edge of the AVX2 panel kernel and every route of the engine,
//! and every golden fingerprint (`golden/*.txt`) is reproduced bit for bit: the AVX2
//! kernels compute the same sums in the same order as the AVX-512 ones.
//!
//! `GRU_ISA` is read once, at the first kernel call of the process: this is the only test
//! of its binary, and it sets the variable before anything computes.

mod golden_runs;

use gru_conformance::cases::{Case, Lengths};
use gru_conformance::compare::{check_close, widen, Tolerance};
use gru_core::{Engine, GruSpec, NativeEngine, Plan, ResetGateMode};

/// Whether this CPU has AVX2 and FMA (else the request falls back to `portable`).
fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Forward (inference and training) and backward of `case` on the fast path's engines
/// against the scalar reference, within the suite's f32 tolerances.
fn check_against_reference(name: &str, case: &Case<f32>) {
    let tol = Tolerance::of(gru_core::DType::F32);
    let (ref_out, ref_g) = case.run(&NativeEngine::reference()).expect("the reference runs");
    let engines = [
        ("1 thread", NativeEngine::with_threads(1)),
        ("2 threads", NativeEngine::with_threads(2)),
        ("units", NativeEngine::with_threads(2).with_unit_split(true)),
    ];
    for (e, engine) in &engines {
        let what = format!("{name} on {e}");
        let fail = |err: String| -> f64 { panic!("{what}: {err}") };
        let mut fast = engine.prepare(&case.spec, &case.params, &Plan::inference()).expect("prepare");
        let got = fast.forward(&case.batch_view()).expect("forward");
        check_close("inference y", &got.y, &widen(&ref_out.y), tol.values).unwrap_or_else(fail);
        check_close("inference h_t", &got.h_t, &widen(&ref_out.h_t), tol.values).unwrap_or_else(fail);
        let (out, g) = case.run(engine).expect("training runs");
        check_close("y", &out.y, &widen(&ref_out.y), tol.values).unwrap_or_else(fail);
        check_close("h_t", &out.h_t, &widen(&ref_out.h_t), tol.values).unwrap_or_else(fail);
        check_close("dx", &g.dx, &widen(&ref_g.dx), tol.grads).unwrap_or_else(fail);
        check_close("dh0", &g.dh0, &widen(&ref_g.dh0), tol.grads).unwrap_or_else(fail);
        check_close("params", &g.params.to_flat(), &widen(&ref_g.params.to_flat()), tol.grads).unwrap_or_else(fail);
    }
}

/// Shapes whose products reach every row count of the AVX2 register blocks (1 to 6 rows
/// and remainders), K past one block (> 1024), ragged widths (3H not a multiple of 16 or of
/// 8), the unit split, the batch split, depth and both directions, in every reset mode.
/// Weights are scaled to a trained network's size (see `threads.rs`).
fn shapes() -> Vec<(String, Case<f32>)> {
    let mut out = Vec::new();
    for (i, mode) in ResetGateMode::ALL.into_iter().enumerate() {
        let seed = 2000 + 100 * i as u64;
        let m = mode.name();
        let points = [
            (GruSpec::new(3, 5), 7, 1, Lengths::Equal, false, 0.5),
            (GruSpec::new(7, 11), 6, 2, Lengths::Ragged, true, 0.5),
            (GruSpec::new(5, 3).with_bidirectional(true), 5, 3, Lengths::Ragged, false, 0.5),
            (GruSpec::new(9, 21).with_depth(2), 4, 5, Lengths::Ragged, true, 0.3),
            (GruSpec::new(4, 40), 6, 7, Lengths::Equal, false, 0.2),
            (GruSpec::new(1100, 130), 12, 6, Lengths::Ragged, true, 0.05),
            (GruSpec::new(20, 48).with_bidirectional(true), 9, 40, Lengths::Ragged, false, 0.2),
            (GruSpec::new(16, 1030), 3, 4, Lengths::Ragged, true, 0.05),
        ];
        for (j, (spec, steps, batch, lengths, h0, scale)) in points.into_iter().enumerate() {
            let spec = spec.with_reset_gate_mode(mode);
            let mut case = Case::<f32>::random(&spec, steps, batch, lengths, h0, seed + j as u64);
            let flat: Vec<f32> = case.params.to_flat().iter().map(|v| v * scale).collect();
            case.params.set_flat(&flat).expect("same length");
            let name = format!("{m} I{} H{} T{steps} B{batch}", spec.input_size, spec.hidden_size);
            out.push((name, case));
        }
    }
    out
}

#[test]
fn forced_avx2_kernels_match_the_reference_and_the_golden_fingerprints() {
    // The only test of this binary: no other thread reads the environment meanwhile, and
    // no kernel has run yet.
    std::env::set_var("GRU_ISA", "avx2");
    std::env::set_var("RAYON_NUM_THREADS", "2");
    let want = if cpu_has_avx2() { "avx2" } else { "portable" };
    assert_eq!(gru_core::kernel_isa(), want, "GRU_ISA=avx2 selects the AVX2 kernels where the CPU has them");

    for (name, case) in shapes() {
        check_against_reference(&name, &case);
    }
    assert_eq!(gru_core::kernel_isa(), want, "the level is decided once");

    if !cpu_has_avx2() {
        eprintln!("forced_avx2: this CPU has no AVX2+FMA; the portable path was checked against the reference only");
        return;
    }
    use golden_runs::{assert_identical, engine, training};
    assert_identical("fixtures.txt", &engine::fixtures());
    assert_identical("cross_product.txt", &engine::cross_product_points());
    assert_identical("routes.txt", &engine::routes());
    assert_identical("training.txt", &training::runs());
}
