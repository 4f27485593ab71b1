//! Engine selection by name (Korali's `"Engine"` key). An engine that is not available is
//! a typed error that says how to get it, never a silent fallback to another engine.
//!
//! - `Korali`: the native engine, always available.
//! - `OneDNN`: Intel oneDNN 2.x, loaded at run time from `libdnnl.so.2` (Debian's
//!   `libdnnl2`); f32 only, tanh/sigmoid only, no clip (other options are refused at
//!   `prepare` with [`GruError::Unsupported`]). Its
//!   threads are OpenMP's: set `OMP_NUM_THREADS`, and `OMP_WAIT_POLICY=passive` on
//!   shared machines.
//! - `CuDNN`: not built yet.

use gru_core::{Engine, EngineKind, GruError, NativeEngine, Real};
use gru_onednn::OneDnnEngine;

use crate::error::{Error, Result};

/// The engine named `kind`, ready to `prepare`.
pub fn engine_for<T: Real>(kind: EngineKind) -> Result<Box<dyn Engine<T>>> {
    match kind {
        EngineKind::Korali => Ok(Box::new(NativeEngine::new())),
        EngineKind::OneDNN => Ok(Box::new(OneDnnEngine::load().map_err(onednn_unavailable)?)),
        EngineKind::CuDNN => Err(Error::EngineUnavailable {
            engine: kind.to_string(),
            reason: "this build of gru has no cuDNN engine yet".into(),
            remedy: "Use \"Engine\": \"Korali\" (the native engine, which computes the same equations), \
                     or a gru version with the cuDNN engine, an NVIDIA driver and cuDNN installed"
                .into(),
        }),
    }
}

/// The oneDNN engine on the library `name` (for another oneDNN 2.x build); a library that
/// does not load is the same typed error as a missing `libdnnl.so.2`.
pub fn onednn_from<T: Real>(name: &str) -> Result<Box<dyn Engine<T>>> {
    Ok(Box::new(OneDnnEngine::load_from(name).map_err(onednn_unavailable)?))
}

fn onednn_unavailable(e: GruError) -> Error {
    let reason = match e {
        GruError::EngineUnavailable { reason, .. } => {
            reason.trim_end_matches(&format!("; {}", gru_onednn::INSTALL)).to_string()
        }
        other => other.to_string(),
    };
    Error::EngineUnavailable {
        engine: EngineKind::OneDNN.to_string(),
        reason,
        remedy: format!(
            "Install oneDNN 2.x: {} on Debian/Ubuntu; or use \"Engine\": \"Korali\" (the native engine, \
             which computes the same equations)",
            gru_onednn::INSTALL
        ),
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
    fn onednn_loads_here_and_cudnn_says_how_to_get_it() {
        // CI and the developer machines install libdnnl-dev (.ci/run).
        assert_eq!(available_engines(), vec![EngineKind::Korali, EngineKind::OneDNN]);
        assert_eq!(engine_for::<f32>(EngineKind::OneDNN).unwrap().kind(), EngineKind::OneDNN);
        match engine_for::<f32>(EngineKind::CuDNN) {
            Err(Error::EngineUnavailable { engine, remedy, .. }) => {
                assert_eq!(engine, "CuDNN");
                assert!(remedy.contains("Korali"));
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("CuDNN should be unavailable"),
        }
    }

    #[test]
    fn a_missing_onednn_library_names_the_package() {
        match onednn_from::<f32>("libdnnl-does-not-exist.so.2") {
            Err(Error::EngineUnavailable { engine, reason, remedy }) => {
                assert_eq!(engine, "OneDNN");
                assert!(reason.contains("libdnnl-does-not-exist.so.2"), "{reason}");
                assert!(remedy.contains("apt-get install libdnnl2") && remedy.contains("Korali"), "{remedy}");
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("a missing library loaded"),
        }
    }
}
