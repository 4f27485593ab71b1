//! [`OneDnnEngine`]: the library loaded once per process, the options it refuses, and
//! the split of a stack into parts (`rnn.rs`).

use std::sync::{Arc, OnceLock};

use gru_core::{
    DType, Engine, EngineKind, GateActivation, GruError, GruParams, GruSpec, Plan, PreparedGru, Real, StateActivation,
};

use crate::dnnl::{Context, ENGINE};
use crate::ffi::{self, Api};
use crate::layout::{pack, Cell};
use crate::prepared::OneDnnPrepared;
use crate::rnn::{Part, PartShape, Prop};

/// What to install when the library is missing (Debian/Ubuntu package names).
pub const INSTALL: &str = "apt-get install libdnnl2 (or libdnnl-dev)";

/// The oneDNN 2.x engine (`"Engine": "OneDNN"`): GRU stacks on `dnnl_vanilla_gru`
/// (before-multiplication) and `dnnl_lbr_gru` (the two after-multiplication modes),
/// f32, tanh and sigmoid only.
#[derive(Clone, Debug)]
pub struct OneDnnEngine {
    api: Arc<Api>,
}

static SHARED: OnceLock<Result<Arc<Api>, String>> = OnceLock::new();

impl OneDnnEngine {
    /// The engine on `libdnnl.so.2`, loaded once per process. A missing library is
    /// [`GruError::EngineUnavailable`] naming the package to install.
    pub fn load() -> Result<Self, GruError> {
        match SHARED.get_or_init(|| Api::load(ffi::LIBRARY).map(Arc::new)) {
            Ok(api) => Ok(Self { api: api.clone() }),
            Err(reason) => Err(unavailable(reason)),
        }
    }

    /// The engine on the library `name` (a file name or path), loaded now and not shared:
    /// for another build of oneDNN 2.x, and for testing the missing-library error.
    pub fn load_from(name: &str) -> Result<Self, GruError> {
        Api::load(name).map(|api| Self { api: Arc::new(api) }).map_err(|reason| unavailable(&reason))
    }

    /// `(major, minor, patch)` of the loaded oneDNN.
    pub fn version(&self) -> (i32, i32, i32) {
        self.api.version_triple()
    }
}

fn unavailable(reason: &str) -> GruError {
    GruError::EngineUnavailable { engine: ENGINE.into(), reason: format!("{reason}; {INSTALL}") }
}

fn refuse(field: &str, value: impl ToString, reason: &str) -> GruError {
    GruError::Unsupported {
        engine: ENGINE.into(),
        field: field.into(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// The options oneDNN's GRU cannot compute, as typed refusals (checked after `validate`).
pub fn check_supported(spec: &GruSpec, dtype: DType) -> Result<(), GruError> {
    if dtype != DType::F32 {
        return Err(refuse("dtype", dtype, "oneDNN 2.x RNN primitives compute in f32 (and bf16) only"));
    }
    if spec.state_activation == StateActivation::Softsign {
        return Err(refuse("state_activation", "softsign", "oneDNN's GRU cells use tanh only"));
    }
    if let GateActivation::HardSigmoid { alpha, beta } = spec.gate_activation {
        return Err(refuse(
            "gate_activation",
            format!("hard-sigmoid (alpha {alpha}, beta {beta})"),
            "oneDNN's GRU gates use sigmoid only",
        ));
    }
    if let Some(c) = spec.clip {
        return Err(refuse("clip", c, "oneDNN's GRU has no pre-activation clip"));
    }
    Ok(())
}

/// The parts of a stack: `(first layer, layers, SLC)`.
///
/// - Unidirectional: one part when I == H; else layer 0 alone and layers 1..D-1 together
///   (oneDNN's `weights_layer` has one input width for all the layers of a primitive).
/// - Bidirectional: one part per layer. oneDNN's `bidirectional_concat` runs each
///   direction's stack of layers independently and concatenates only the last layer's
///   outputs, while our layer l+1 reads the concatenated `[forward, backward]` output of
///   layer l (PyTorch, ONNX, Keras): a multi-layer bidirectional primitive computes
///   another network.
pub fn split(spec: &GruSpec) -> Vec<(usize, usize, usize)> {
    if spec.bidirectional {
        (0..spec.depth).map(|l| (l, 1, spec.layer_input_size(l))).collect()
    } else if spec.input_size == spec.hidden_size {
        vec![(0, spec.depth, spec.hidden_size)]
    } else if spec.depth == 1 {
        vec![(0, 1, spec.input_size)]
    } else {
        vec![(0, 1, spec.input_size), (1, spec.depth - 1, spec.hidden_size)]
    }
}

impl<T: Real> Engine<T> for OneDnnEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::OneDNN
    }

    fn prepare(&self, spec: &GruSpec, params: &GruParams<T>, plan: &Plan) -> gru_core::Result<Box<dyn PreparedGru<T>>> {
        spec.validate()?;
        plan.validate()?;
        check_supported(spec, T::DTYPE)?;
        params.check(spec)?;
        let ctx = Context::new(self.api.clone())?;
        let dirs = spec.directions();
        let cell = Cell::of(spec.reset_gate_mode);
        let mut parts = Vec::new();
        for (first, layers, slc) in split(spec) {
            let blocks = first * dirs..(first + layers) * dirs;
            let user = pack(params, spec.reset_gate_mode, blocks);
            let shape = PartShape { first_block: first * dirs, layers, dirs, slc, hidden: spec.hidden_size, cell };
            parts.push(Part::new(&ctx, shape, user)?);
        }
        // The plan's shapes: every primitive a full-length batch of these sizes needs.
        if let Some(t) = plan.max_steps {
            for &n in &plan.batch_sizes {
                for part in &mut parts {
                    part.ensure_forward(&ctx, Prop::Inference, n, t)?;
                    if plan.mode == gru_core::Mode::Training {
                        part.ensure_backward(&ctx, n, t)?;
                    }
                }
            }
        }
        Ok(Box::new(OneDnnPrepared::<T>::new(spec.clone(), plan.mode, ctx, parts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_follow_input_widths_and_directions() {
        let s = |i, h, d, bi| GruSpec::new(i, h).with_depth(d).with_bidirectional(bi);
        assert_eq!(split(&s(4, 4, 3, false)), vec![(0, 3, 4)]);
        assert_eq!(split(&s(3, 4, 1, false)), vec![(0, 1, 3)]);
        assert_eq!(split(&s(3, 4, 3, false)), vec![(0, 1, 3), (1, 2, 4)]);
        // Bidirectional: one layer per part, even where I == 2H.
        assert_eq!(split(&s(8, 4, 3, true)), vec![(0, 1, 8), (1, 1, 8), (2, 1, 8)]);
        assert_eq!(split(&s(3, 4, 2, true)), vec![(0, 1, 3), (1, 1, 8)]);
    }

    #[test]
    fn refusals_come_in_a_fixed_order() {
        let spec = GruSpec::new(2, 2).with_state_activation(StateActivation::Softsign).with_clip(Some(1.0));
        let field = |r: Result<(), GruError>| match r {
            Err(GruError::Unsupported { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(check_supported(&spec, DType::F64)), "dtype");
        assert_eq!(field(check_supported(&spec, DType::F32)), "state_activation");
        assert_eq!(
            field(check_supported(&spec.clone().with_state_activation(StateActivation::Tanh), DType::F32)),
            "clip"
        );
        assert!(check_supported(&GruSpec::new(2, 2), DType::F32).is_ok());
    }
}
