//! Engine selection by name (Korali's `"Engine"` key). An engine that is not available is
//! a typed error that says how to get it, never a silent fallback to another engine.

use gru_core::{Engine, EngineKind, KoraliEngine, Real};

use crate::error::{Error, Result};

/// The engine named `kind`, ready to `prepare`.
pub fn engine_for<T: Real>(kind: EngineKind) -> Result<Box<dyn Engine<T>>> {
    match kind {
        EngineKind::Korali => Ok(Box::new(KoraliEngine::new())),
        EngineKind::OneDNN => Err(Error::EngineUnavailable {
            engine: kind.to_string(),
            reason: "this build of gru has no oneDNN engine yet".into(),
            remedy: "Use \"Engine\": \"Korali\" (the native engine, which computes the same equations), \
                     or a gru version with the oneDNN engine and Debian's libdnnl2 installed"
                .into(),
        }),
        EngineKind::CuDNN => Err(Error::EngineUnavailable {
            engine: kind.to_string(),
            reason: "this build of gru has no cuDNN engine yet".into(),
            remedy: "Use \"Engine\": \"Korali\" (the native engine, which computes the same equations), \
                     or a gru version with the cuDNN engine, an NVIDIA driver and cuDNN installed"
                .into(),
        }),
    }
}

/// Engines this build can run.
pub fn available_engines() -> Vec<EngineKind> {
    [EngineKind::Korali, EngineKind::OneDNN, EngineKind::CuDNN]
        .into_iter()
        .filter(|&k| engine_for::<f32>(k).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_engines_say_how_to_get_them() {
        assert_eq!(available_engines(), vec![EngineKind::Korali]);
        for kind in [EngineKind::OneDNN, EngineKind::CuDNN] {
            match engine_for::<f32>(kind) {
                Err(Error::EngineUnavailable { engine, remedy, .. }) => {
                    assert_eq!(engine, kind.to_string());
                    assert!(remedy.contains("Korali"));
                }
                Err(other) => panic!("{other:?}"),
                Ok(_) => panic!("{kind} should be unavailable"),
            }
        }
    }
}
