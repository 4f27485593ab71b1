//! The native engine's type is `NativeEngine`; `KoraliEngine`, its name before, still works
//! for one release (deprecated), and the configuration name stays "Korali".

use gru_core::{Engine, EngineKind, GruParams, GruSpec, NativeEngine, Plan, SequenceBatch};

#[test]
#[allow(deprecated)]
fn the_old_name_is_the_native_engine() {
    let spec = GruSpec::new(2, 3);
    let params = GruParams::<f64>::zeros(&spec);
    let old: gru_core::KoraliEngine = gru_core::KoraliEngine::new();
    assert_eq!(<NativeEngine as Engine<f64>>::kind(&old), EngineKind::Korali);
    assert_eq!(EngineKind::Korali.to_string(), "Korali");
    let x = vec![0.5f64; 4 * 2];
    let a = old.prepare(&spec, &params, &Plan::inference()).unwrap().forward(&SequenceBatch::new(&x, 4, 1)).unwrap();
    let b = NativeEngine::new()
        .prepare(&spec, &params, &Plan::inference())
        .unwrap()
        .forward(&SequenceBatch::new(&x, 4, 1))
        .unwrap();
    assert_eq!(a.y, b.y);
}
