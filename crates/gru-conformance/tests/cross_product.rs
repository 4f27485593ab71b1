//! The full option cross product (2304 points, DESIGN.md's list plus clip), in f32 and
//! f64: every engine against the scalar reference path, outputs and all gradients, on
//! every point it accepts; on the others its typed refusal (OneDNN: every f64 point, and
//! softsign, hard-sigmoid and clip in f32). I = 3 != H = 4, depth 1 to 3.

use gru_conformance::cases::{cross_product, Case, OptionPoint};
use gru_conformance::compare::{check_close, widen, Tolerance};
use gru_conformance::engines;
use gru_core::{NativeEngine, Real};

/// Failures of every engine on one point; `ran` collects the engines that computed it.
fn check_point<T: Real>(point: &OptionPoint, seed: u64, ran: &mut Vec<&'static str>) -> Vec<String> {
    let tol = Tolerance::of(T::DTYPE);
    let case = Case::<T>::random(&point.spec(3, 4), 5, 3, point.lengths, point.given_h0, seed);
    let (ref_out, ref_grads) = case.run(&NativeEngine::reference()).expect("reference path runs");
    let mut failures = Vec::new();
    for e in engines::<T>().into_iter().filter(|e| e.computed_by != gru_core::native::REFERENCE_PATH) {
        if e.refusal(&case.spec).is_some() {
            failures.extend(e.check_refused(&case.spec, &case.params).err().map(|m| format!("{point:?}: {m}")));
            continue;
        }
        ran.push(e.name);
        let (out, grads) = match case.run(e.engine.as_ref()) {
            Ok(r) => r,
            Err(er) => {
                failures.push(format!("{} {point:?}: {er}", e.name));
                continue;
            }
        };
        let mut checks = vec![
            (out.computed_by == e.computed_by).then_some(()).ok_or(format!("computed by {}", out.computed_by)),
            check_close("y", &out.y, &widen(&ref_out.y), tol.values).map(drop),
            check_close("h_t", &out.h_t, &widen(&ref_out.h_t), tol.values).map(drop),
            check_close("dx", &grads.dx, &widen(&ref_grads.dx), tol.grads).map(drop),
            check_close("dh0", &grads.dh0, &widen(&ref_grads.dh0), tol.grads).map(drop),
        ];
        checks.push(
            check_close("params", &grads.params.to_flat(), &widen(&ref_grads.params.to_flat()), tol.grads).map(drop),
        );
        failures.extend(
            checks.into_iter().filter_map(Result::err).map(|m| format!("{} {} {point:?}: {m}", e.name, T::DTYPE)),
        );
    }
    failures
}

fn sweep<T: Real>() {
    let points = cross_product();
    assert_eq!(points.len(), 3 * 2 * 2 * 3 * 2 * 2 * 2 * 2 * 2);
    let mut ran = Vec::new();
    let failures: Vec<String> =
        points.iter().enumerate().flat_map(|(i, p)| check_point::<T>(p, 1000 + i as u64, &mut ran)).collect();
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    for e in engines::<T>().iter().filter(|e| e.computed_by != gru_core::native::REFERENCE_PATH) {
        let n = ran.iter().filter(|&&name| name == e.name).count();
        eprintln!("{} {}: {n} of {} points computed, the others refused", e.name, T::DTYPE, points.len());
    }
    // OneDNN computes f32 tanh/sigmoid without clip: 3 modes × 3 depths × 2 dirs × 2 outputs
    // × 2 lengths × 2 h0 = 144 points.
    if gru_conformance::onednn_loads() {
        let expected = if T::DTYPE == gru_core::DType::F32 { 144 } else { 0 };
        assert_eq!(ran.iter().filter(|&&name| name == "OneDNN").count(), expected);
    }
}

#[test]
fn fast_path_matches_reference_over_the_cross_product_f64() {
    sweep::<f64>();
}

#[test]
fn fast_path_matches_reference_over_the_cross_product_f32() {
    sweep::<f32>();
}
