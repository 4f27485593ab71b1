//! [`CudnnEngine`]: the device opened once per process, the options cuDNN's GRU cannot
//! compute (refused with the same wording as the OneDNN engine), and `prepare`.

use std::sync::Arc;

use cudarc::driver::DevicePtr;
use gru_core::{
    DType, Engine, EngineKind, GateActivation, GruError, GruParams, GruSpec, Plan, PreparedGru, Real, ResetGateMode,
    StateActivation,
};

use crate::desc::{read_slots, weight_space_bytes, RnnDesc};
use crate::device::{driver_failed, Device, ENGINE};
use crate::layout::check_slots;
use crate::prepared::CudnnPrepared;

/// The cuDNN engine (`"Engine": "CuDNN"`): GRU stacks on `cudnnRNNForward` with
/// `CUDNN_GRU` (the after-multiplication modes), f32 with FMA math.
#[derive(Clone)]
pub struct CudnnEngine {
    device: Arc<Device>,
}

impl std::fmt::Debug for CudnnEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudnnEngine").field("gpu", &self.device.name).field("cudnn", &self.device.version).finish()
    }
}

impl CudnnEngine {
    /// The engine on GPU 0. No driver, no GPU or no cuDNN is
    /// [`GruError::EngineUnavailable`] saying what is missing (never a panic).
    pub fn load() -> Result<Self, GruError> {
        Device::shared().map(|device| Self { device })
    }

    /// For test suites: the engine when a GPU and cuDNN are here. When not, prints a notice
    /// that `test` is skipped and returns `Ok(None)`, unless the environment makes the GPU
    /// mandatory (`GRU_REQUIRE_CUDNN=1`): then the load error.
    pub fn load_or_skip(test: &str) -> Result<Option<Self>, GruError> {
        gru_core::engine::load_or_skip(Self::load(), test, "GRU_REQUIRE_CUDNN")
    }

    /// The GPU's name and cuDNN's version (`major·10000 + minor·100 + patch` for cuDNN 9).
    pub fn describe(&self) -> String {
        format!("{} with cuDNN {}", self.device.name, self.device.version)
    }
}

fn refuse(field: &str, value: impl ToString, reason: &str) -> GruError {
    GruError::unsupported(ENGINE, field, value, reason)
}

/// The options cuDNN's GRU cannot compute, as typed refusals in a fixed order (checked
/// after `validate`): f64, before-multiplication, softsign, hard-sigmoid, clip, reverse, regularization.
pub fn check_supported(spec: &GruSpec, dtype: DType) -> Result<(), GruError> {
    if dtype != DType::F32 {
        return Err(refuse("dtype", dtype, "this engine computes in f32 (FMA math, no TF32)"));
    }
    if spec.reset_gate_mode == ResetGateMode::BeforeMultiplication {
        return Err(refuse(
            "reset_gate_mode",
            "before-multiplication",
            "cuDNN's GRU applies the reset gate after the recurrent product",
        ));
    }
    if spec.state_activation == StateActivation::Softsign {
        return Err(refuse("state_activation", "softsign", "cuDNN's GRU cells use tanh only"));
    }
    if let GateActivation::HardSigmoid { alpha, beta } = spec.gate_activation {
        return Err(refuse(
            "gate_activation",
            format!("hard-sigmoid (alpha {alpha}, beta {beta})"),
            "cuDNN's GRU gates use sigmoid only",
        ));
    }
    if let Some(c) = spec.clip {
        return Err(refuse("clip", c, "cuDNN's GRU has no pre-activation clip"));
    }
    if spec.reverse {
        return Err(refuse("reverse", true, "cuDNN has no right-to-left-only direction mode"));
    }
    if let Some((field, value)) = spec.regularization.first_active() {
        return Err(refuse(
            field,
            value,
            "cuDNN's RNN API has no input or recurrent dropout, zoneout, weight drop or layer norm (the native engine has them)",
        ));
    }
    Ok(())
}

impl<T: Real> Engine<T> for CudnnEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::CuDNN
    }

    fn prepare(&self, spec: &GruSpec, params: &GruParams<T>, plan: &Plan) -> gru_core::Result<Box<dyn PreparedGru<T>>> {
        spec.validate()?;
        plan.validate()?;
        check_supported(spec, T::DTYPE)?;
        params.check(spec)?;
        let handle = self.device.handle()?;
        let rnn = RnnDesc::gru(spec)?;
        let bytes = weight_space_bytes(handle.raw(), &rnn)?;
        let stream = &self.device.stream;
        let weights =
            stream.alloc_zeros::<f32>(bytes.div_ceil(4).max(1)).map_err(|e| driver_failed("cuMemAlloc", e))?;
        let base = weights.device_ptr(stream).0;
        let slots = read_slots(handle.raw(), &rnn, spec, base, bytes)?;
        check_slots(spec, &slots, weights.len()).map_err(|e| GruError::Unsupported {
            engine: ENGINE.into(),
            field: "weight space".into(),
            value: e,
            reason: "cuDNN lays its GRU weights out in a way this engine does not know".into(),
        })?;
        let mut prepared =
            CudnnPrepared::new(spec.clone(), plan.mode, self.device.clone(), handle, rnn, slots, weights);
        prepared.upload(params)?;
        if let Some(steps) = plan.max_steps {
            for &n in &plan.batch_sizes {
                prepared.plan(n, steps, plan.mode == gru_core::Mode::Training)?;
            }
        }
        Ok(Box::new(prepared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_come_in_a_fixed_order() {
        let spec = GruSpec::new(2, 2)
            .with_reset_gate_mode(ResetGateMode::BeforeMultiplication)
            .with_state_activation(StateActivation::Softsign)
            .with_clip(Some(1.0));
        let field = |r: Result<(), GruError>| match r {
            Err(GruError::Unsupported { engine, field, .. }) => {
                assert_eq!(engine, "CuDNN");
                field
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(field(check_supported(&spec, DType::F64)), "dtype");
        assert_eq!(field(check_supported(&spec, DType::F32)), "reset_gate_mode");
        let after = spec.clone().with_reset_gate_mode(ResetGateMode::AfterMultiplication);
        assert_eq!(field(check_supported(&after, DType::F32)), "state_activation");
        let tanh = after.with_state_activation(StateActivation::Tanh);
        assert_eq!(field(check_supported(&tanh, DType::F32)), "clip");
        let mut reverse = tanh.with_clip(None);
        reverse.reverse = true;
        assert_eq!(field(check_supported(&reverse, DType::F32)), "reverse");
        for mode in [ResetGateMode::AfterMultiplication, ResetGateMode::RecurrentBiasAfterMultiplication] {
            let ok = GruSpec::new(2, 2).with_reset_gate_mode(mode).with_depth(2).with_bidirectional(true);
            assert!(check_supported(&ok, DType::F32).is_ok());
        }
    }

    #[test]
    fn without_a_gpu_the_engine_is_unavailable_not_a_panic() {
        match CudnnEngine::load() {
            Ok(engine) => eprintln!("a GPU is here: {}", engine.describe()),
            Err(GruError::EngineUnavailable { engine, reason }) => {
                assert_eq!(engine, "CuDNN");
                assert!(reason.contains("needs") && reason.contains("cuDNN"), "{reason}");
            }
            Err(other) => panic!("{other:?}"),
        }
    }
}
