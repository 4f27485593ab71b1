//! The native engine's calibrated strategy (issue 18, item 1): whichever way of splitting
//! the threads it measures fastest, a call computes what the reference computes, says how
//! it was computed (`explain`), and the choice is made once per shape and remembered.

use gru_conformance::cases::{Case, Lengths};
use gru_conformance::compare::{check_close, widen};
use gru_core::{Engine, GruSpec, NativeEngine, Plan};

#[test]
fn a_calibrated_engine_matches_the_reference_and_explains_its_choice() {
    // f64: every strategy agrees with the reference to rounding (f32 differs from the f64
    // reference by f32's own error, the same for every strategy).
    let tol = 1e-10;
    // H = 128 prepares the unit split for inference: three candidates; training: two or three.
    for (hidden, batch, plan) in [(128, 12, Plan::inference()), (64, 24, Plan::training()), (512, 8, Plan::training())]
    {
        let spec = GruSpec::new(5, hidden);
        let mut case = Case::<f64>::random(&spec, 20, batch, Lengths::Ragged, true, hidden as u64);
        // Weights of a trained network's scale (±0.8 over 512 units is chaotic: gradients of
        // 1e5 whose sums lose digits in any order).
        let flat: Vec<f64> = case.params.to_flat().iter().map(|w| w * 4.0 / (hidden as f64).sqrt()).collect();
        case.params.set_flat(&flat).unwrap();
        let (want, want_g) = case.run(&NativeEngine::reference()).unwrap();
        let engine = NativeEngine::with_threads(2).with_calibration(true);
        let mut prepared = engine.prepare(&case.spec, &case.params, &plan).unwrap();
        assert_eq!(prepared.explain(), None, "nothing computed yet");
        let what = format!("H{hidden} B{batch} {:?}", plan.mode);
        let out = if plan.mode == gru_core::Mode::Training {
            let (out, g) = case.run(&engine).unwrap();
            check_close("dx", &g.dx, &widen(&want_g.dx), tol).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_close("params", &g.params.to_flat(), &widen(&want_g.params.to_flat()), tol)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let _ = prepared.forward_train(&case.batch_view()).unwrap();
            out
        } else {
            prepared.forward(&case.batch_view()).unwrap()
        };
        check_close("y", &out.y, &widen(&want.y), tol).unwrap_or_else(|e| panic!("{what}: {e}"));
        let explained = prepared.explain().unwrap();
        assert!(explained.contains("on 2 threads") && explained.contains(&format!("B{batch}")), "{explained}");
        assert!(explained.contains("calibrated"), "{what}: {explained}");
        // The second call of the shape reuses the choice.
        let _ = prepared.forward(&case.batch_view()).unwrap();
        if plan.mode == gru_core::Mode::Inference {
            assert!(prepared.explain().unwrap().contains("calibrated earlier"), "{}", prepared.explain().unwrap());
        }
    }
    // Without calibration: the fixed rules, said as such.
    let spec = GruSpec::new(5, 64);
    let case = Case::<f64>::random(&spec, 10, 16, Lengths::Equal, false, 3);
    let mut prepared = NativeEngine::with_threads(2).prepare(&case.spec, &case.params, &Plan::inference()).unwrap();
    let _ = prepared.forward(&case.batch_view()).unwrap();
    assert_eq!(prepared.explain().unwrap(), "batch-split on 2 threads for B16 (rule)");
}
