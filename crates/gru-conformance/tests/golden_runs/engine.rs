//! The native engine's golden runs (see `golden.rs`): every fixture and every cross-product
//! point on the scalar reference path and the fast path (1 and 2 threads), inference and
//! training, plus shapes that take the fast path's other routes.

use std::collections::BTreeMap;

use gru_conformance::cases::{cross_product, Case, Lengths};
use gru_conformance::fixture::{cast, load_all, Fixture};
use gru_conformance::golden::hash_all;
use gru_core::{Engine, GruParams, GruSpec, NativeEngine, OutputGrads, Plan, Real, ResetGateMode, SequenceBatch};

/// Hashes of inference (`y`, `h_t`) and of training (`y`, `h_t`, `dx`, `dh0`, parameter
/// gradients) of one problem on one engine.
#[allow(clippy::too_many_arguments)]
fn hashes<T: Real>(
    out: &mut BTreeMap<String, u64>,
    name: &str,
    engine: &dyn Engine<T>,
    spec: &GruSpec,
    params: &GruParams<T>,
    batch: &SequenceBatch<'_, T>,
    dy: &[T],
    dh_t: &[T],
) {
    let mut inference = engine.prepare(spec, params, &Plan::inference()).expect("prepare inference");
    let o = inference.forward(batch).expect("forward");
    out.insert(format!("{name}/inference"), hash_all(&[&o.y, &o.h_t]));
    let mut training = engine.prepare(spec, params, &Plan::training()).expect("prepare training");
    let (o, saved) = training.forward_train(batch).expect("forward_train");
    let g = training.backward(saved, &OutputGrads { dy, dh_t: Some(dh_t) }).expect("backward");
    out.insert(format!("{name}/training"), hash_all(&[&o.y, &o.h_t, &g.dx, &g.dh0, &g.params.to_flat()]));
}

fn engines() -> [(&'static str, NativeEngine); 3] {
    [
        ("ref", NativeEngine::reference()),
        ("fast1", NativeEngine::with_threads(1)),
        ("fast2", NativeEngine::with_threads(2)),
    ]
}

fn fixture_hashes<T: Real>(f: &Fixture, out: &mut BTreeMap<String, u64>) {
    let (spec, params) = (f.gru_spec(), f.gru_params::<T>());
    let x: Vec<T> = cast(&f.x);
    let h0: Option<Vec<T>> = f.h0.as_deref().map(cast);
    let (dy, dh_t): (Vec<T>, Vec<T>) = (cast(&f.dy), cast(&f.dh_t));
    let mut batch = SequenceBatch::new(&x, f.steps, f.batch).with_lengths(&f.lengths);
    if let Some(h0) = &h0 {
        batch = batch.with_initial_state(h0);
    }
    for (name, engine) in engines() {
        hashes(out, &format!("fixture/{}/{name}", f.name), &engine, &spec, &params, &batch, &dy, &dh_t);
    }
}

fn case_hashes<T: Real>(name: &str, case: &Case<T>, engines: &[(&str, NativeEngine)], out: &mut BTreeMap<String, u64>) {
    for (e, engine) in engines {
        let batch = case.batch_view();
        hashes(out, &format!("{name}/{e}"), engine, &case.spec, &case.params, &batch, &case.dy, &case.dh_t);
    }
}

/// The hashes of `golden/fixtures.txt`: every fixture on every engine of [`engines`].
pub fn fixtures() -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for f in load_all() {
        match f.dtype {
            gru_core::DType::F32 => fixture_hashes::<f32>(&f, &mut out),
            gru_core::DType::F64 => fixture_hashes::<f64>(&f, &mut out),
        }
    }
    out
}

fn cross_product_hashes<T: Real>(out: &mut BTreeMap<String, u64>) {
    let engines = [("ref", NativeEngine::reference()), ("fast2", NativeEngine::with_threads(2))];
    for (i, point) in cross_product().iter().enumerate() {
        let case = Case::<T>::random(&point.spec(3, 4), 5, 3, point.lengths, point.given_h0, 1000 + i as u64);
        case_hashes(&format!("xp/{i:04}/{}", T::DTYPE), &case, &engines, out);
    }
}

/// The hashes of `golden/cross_product.txt`: the conformance cross product, reference
/// and fast path.
pub fn cross_product_points() -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    cross_product_hashes::<f32>(&mut out);
    cross_product_hashes::<f64>(&mut out);
    out
}

/// Scales a case's weights to a trained network's size (see `threads.rs`).
fn scaled<T: Real>(mut case: Case<T>, by: f64) -> Case<T> {
    let flat: Vec<T> = case.params.to_flat().iter().map(|&v| v * T::lit(by)).collect();
    case.params.set_flat(&flat).expect("same length");
    case
}

fn route_hashes<T: Real>(out: &mut BTreeMap<String, u64>) {
    let dt = T::DTYPE;
    for (i, mode) in ResetGateMode::ALL.into_iter().enumerate() {
        let m = mode.name();
        // Packed-kernel blocks (K > 1024, T·B > 96, ragged widths); inference takes the
        // unit split at this small batch.
        let spec = GruSpec::new(1100, 130).with_reset_gate_mode(mode);
        let case = scaled(Case::<T>::random(&spec, 40, 6, Lengths::Ragged, true, 1300 + i as u64), 0.05);
        let engines = [
            ("fast1", NativeEngine::with_threads(1)),
            ("fast2", NativeEngine::with_threads(2)),
            ("units2", NativeEngine::with_threads(2).with_unit_split(true)),
            ("units3", NativeEngine::with_threads(3).with_unit_split(true)),
        ];
        case_hashes(&format!("route/blocks/{m}/{dt}"), &case, &engines, out);
        // Large H, few sequences: unit-split training (after modes), one sweep with split
        // GEMMs (before-multiplication).
        let spec = GruSpec::new(16, 512).with_reset_gate_mode(mode).with_depth(2);
        let case = scaled(Case::<T>::random(&spec, 4, 5, Lengths::Ragged, true, 1400 + i as u64), 0.05);
        case_hashes(&format!("route/large_h/{m}/{dt}"), &case, &engines[..2], out);
        // Many sequences: the batch split, bidirectional.
        let spec = GruSpec::new(20, 48).with_reset_gate_mode(mode).with_bidirectional(true);
        let case = scaled(Case::<T>::random(&spec, 9, 40, Lengths::Ragged, false, 1500 + i as u64), 0.2);
        case_hashes(&format!("route/batch_split/{m}/{dt}"), &case, &engines[..2], out);
    }
}

/// The hashes of `golden/routes.txt`: shapes that take the fast path's other routes.
pub fn routes() -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    route_hashes::<f32>(&mut out);
    route_hashes::<f64>(&mut out);
    out
}
