//! Engine selection by name (Korali's `"Engine"` key). An engine that is not available is
//! a typed error that says how to get it, never a silent fallback to another engine.
//!
//! - `Korali`: the native engine, always available.
//! - `OneDNN`: Intel oneDNN 2.x, loaded at run time from `libdnnl.so.2` (Debian's
//!   `libdnnl2`); f32 only, tanh/sigmoid only, no clip (other options are refused at
//!   `prepare` with [`GruError::Unsupported`]). Its
//!   threads are OpenMP's: set `OMP_NUM_THREADS`, and `OMP_WAIT_POLICY=passive` on
//!   shared machines.
//! - `CuDNN`: NVIDIA cuDNN 9 on GPU 0, loaded at run time (the driver's `libcuda.so` and
//!   `libcudnn.so`); f32, tanh/sigmoid, the two after-multiplication modes, no clip, no
//!   reverse-only stack (refused at `prepare` with [`GruError::Unsupported`]).

use gru_core::{Engine, EngineKind, GruError, NativeEngine, Real};
use gru_cudnn::CudnnEngine;
use gru_onednn::OneDnnEngine;

use crate::error::{Error, Result};

/// The engine named `kind`, ready to `prepare`.
pub fn engine_for<T: Real>(kind: EngineKind) -> Result<Box<dyn Engine<T>>> {
    match kind {
        EngineKind::Korali => Ok(Box::new(NativeEngine::new())),
        EngineKind::OneDNN => Ok(Box::new(OneDnnEngine::load().map_err(onednn_unavailable)?)),
        EngineKind::CuDNN => Ok(Box::new(CudnnEngine::load().map_err(cudnn_unavailable)?)),
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

fn cudnn_unavailable(e: GruError) -> Error {
    let reason = match e {
        GruError::EngineUnavailable { reason, .. } => {
            reason.trim_end_matches(&format!("; needs {}", gru_cudnn::INSTALL)).to_string()
        }
        other => other.to_string(),
    };
    Error::EngineUnavailable {
        engine: EngineKind::CuDNN.to_string(),
        reason,
        remedy: format!(
            "The cuDNN engine needs {}; or use \"Engine\": \"Korali\" (the native engine, which computes \
             the same equations)",
            gru_cudnn::INSTALL
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
    fn onednn_loads_here_and_cudnn_loads_or_says_what_is_missing() {
        // CI and the developer machines install libdnnl-dev (.ci/run); a GPU only some have.
        let gpu = gru_cudnn::CudnnEngine::load().is_ok();
        let mut expected = vec![EngineKind::Korali, EngineKind::OneDNN];
        expected.extend(gpu.then_some(EngineKind::CuDNN));
        assert_eq!(available_engines(), expected);
        assert_eq!(engine_for::<f32>(EngineKind::OneDNN).unwrap().kind(), EngineKind::OneDNN);
        match engine_for::<f32>(EngineKind::CuDNN) {
            Ok(engine) => assert!(gpu && engine.kind() == EngineKind::CuDNN),
            Err(Error::EngineUnavailable { engine, reason, remedy }) => {
                assert!(!gpu);
                assert_eq!(engine, "CuDNN");
                assert!(reason.contains("not installed") || reason.contains("device"), "{reason}");
                assert!(remedy.contains("Korali") && remedy.contains("cuDNN 9"), "{remedy}");
            }
            Err(other) => panic!("{other:?}"),
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
