//! The conformance suite's shared pieces: the engines under test, the fixtures written by
//! `tools/gen_fixtures.py`, seeded random cases over every option, and the pass rule of
//! DESIGN.md: an element passes when `|a - ref| <= tol * (1 + |ref|)`.
//!
//! An engine may refuse options it cannot compute (oneDNN: softsign, hard-sigmoid, clip,
//! f64). Every test runs each engine on every option it accepts and asserts the typed
//! refusal ([`GruError::Unsupported`] naming the option) for every option it does not.

pub mod cases;
pub mod compare;
pub mod fixture;
pub mod golden;

use gru_core::{
    DType, Engine, GateActivation, GruError, GruParams, GruSpec, NativeEngine, Plan, Real, ResetGateMode,
    StateActivation,
};
use gru_cudnn::CudnnEngine;
use gru_onednn::OneDnnEngine;

/// One engine as the suite runs it, with the `computed_by` tag that proves it ran.
pub struct EngineUnderTest<T: Real> {
    pub name: &'static str,
    pub engine: Box<dyn Engine<T>>,
    pub computed_by: &'static str,
    /// The option this engine refuses for a spec and dtype (the `field` of its
    /// [`GruError::Unsupported`]), written here independently of the engine's own check.
    pub refuses: fn(&GruSpec, DType) -> Option<&'static str>,
}

impl<T: Real> EngineUnderTest<T> {
    /// The option this engine refuses for `spec` in `T`, if any.
    pub fn refusal(&self, spec: &GruSpec) -> Option<&'static str> {
        (self.refuses)(spec, T::DTYPE)
    }

    /// Checks that `prepare` refuses `spec` in both modes with
    /// `Unsupported { engine, field }` naming the option the suite expects.
    pub fn check_refused(&self, spec: &GruSpec, params: &GruParams<T>) -> Result<(), String> {
        let field = self.refusal(spec).ok_or_else(|| format!("{}: {spec:?} is not a refused option", self.name))?;
        for plan in [Plan::training(), Plan::inference()] {
            match self.engine.prepare(spec, params, &plan) {
                Err(GruError::Unsupported { engine, field: f, .. })
                    if engine == self.engine.kind().to_string() && f == field => {}
                Err(other) => return Err(format!("{}: expected the refusal of `{field}`, got {other:?}", self.name)),
                Ok(_) => return Err(format!("{}: prepared {spec:?} in {}, which it must refuse", self.name, T::DTYPE)),
            }
        }
        Ok(())
    }
}

/// The regularizer an engine without them refuses first (`regularization.<option>`): the
/// first rate above 0 (input dropout, recurrent dropout, zoneout, weight drop), then layer
/// norm.
pub fn regularization_refused(spec: &GruSpec) -> Option<&'static str> {
    let r = &spec.regularization;
    [
        (r.input_dropout > 0.0, "regularization.input_dropout"),
        (r.recurrent_dropout > 0.0, "regularization.recurrent_dropout"),
        (r.zoneout > 0.0, "regularization.zoneout"),
        (r.weight_drop > 0.0, "regularization.weight_drop"),
        (r.layer_norm, "regularization.layer_norm"),
    ]
    .into_iter()
    .find_map(|(on, field)| on.then_some(field))
}

/// What oneDNN 2.x's GRU cannot compute, in the order its refusal names them: f64 (RNNs
/// are f32/bf16), softsign (tanh only), hard-sigmoid (sigmoid only), clip (none), the
/// regularizers (none: [`regularization_refused`]).
pub fn onednn_refuses(spec: &GruSpec, dtype: DType) -> Option<&'static str> {
    if dtype == DType::F64 {
        Some("dtype")
    } else if spec.state_activation == StateActivation::Softsign {
        Some("state_activation")
    } else if matches!(spec.gate_activation, GateActivation::HardSigmoid { .. }) {
        Some("gate_activation")
    } else if spec.clip.is_some() {
        Some("clip")
    } else {
        regularization_refused(spec)
    }
}

/// What cuDNN 9's GRU cannot compute, in the order its refusal names them: f64 (this engine
/// computes f32), before-multiplication (cuDNN resets after the recurrent product),
/// softsign, hard-sigmoid, clip, a reverse-only stack (no such direction mode) and the
/// regularizers ([`regularization_refused`]).
pub fn cudnn_refuses(spec: &GruSpec, dtype: DType) -> Option<&'static str> {
    if dtype != DType::F32 {
        Some("dtype")
    } else if spec.reset_gate_mode == ResetGateMode::BeforeMultiplication {
        Some("reset_gate_mode")
    } else if spec.state_activation == StateActivation::Softsign {
        Some("state_activation")
    } else if matches!(spec.gate_activation, GateActivation::HardSigmoid { .. }) {
        Some("gate_activation")
    } else if spec.clip.is_some() {
        Some("clip")
    } else if spec.reverse {
        Some("reverse")
    } else {
        regularization_refused(spec)
    }
}

fn refuses_nothing(_: &GruSpec, _: DType) -> Option<&'static str> {
    None
}

/// Every engine available in this build, for element type `T`: both native paths, OneDNN
/// when `libdnnl.so.2` loads (see [`onednn_loads`]) and CuDNN when a GPU, its driver and
/// cuDNN 9 are here (see [`cudnn_under_test`]). Each is run on every fixture
/// and case it accepts, and its refusals are checked on the others.
pub fn engines<T: Real>() -> Vec<EngineUnderTest<T>> {
    let mut out = vec![
        EngineUnderTest {
            name: "Korali (fast path)",
            engine: Box::new(NativeEngine::new()),
            computed_by: gru_core::native::FAST_PATH,
            refuses: refuses_nothing,
        },
        EngineUnderTest {
            name: "Korali (scalar reference path)",
            engine: Box::new(NativeEngine::reference()),
            computed_by: gru_core::native::REFERENCE_PATH,
            refuses: refuses_nothing,
        },
    ];
    if let Ok(engine) = OneDnnEngine::load() {
        out.push(EngineUnderTest {
            name: "OneDNN",
            engine: Box::new(engine),
            computed_by: gru_onednn::COMPUTED_BY,
            refuses: onednn_refuses,
        });
    }
    if let Ok(engine) = CudnnEngine::load() {
        out.push(EngineUnderTest {
            name: "CuDNN",
            engine: Box::new(engine),
            computed_by: gru_cudnn::COMPUTED_BY,
            refuses: cudnn_refuses,
        });
    }
    out
}

/// Whether the OneDNN engine is under test here (Debian's `libdnnl2` installed).
pub fn onednn_loads() -> bool {
    OneDnnEngine::load().is_ok()
}

/// For a test that is about CuDNN: whether it runs. Without a GPU, its driver or cuDNN it
/// prints a notice that `test` is skipped and returns false; with `GRU_REQUIRE_CUDNN=1` (a
/// GPU machine's CI) a missing GPU or library fails the test instead.
pub fn cudnn_under_test(test: &str) -> bool {
    match CudnnEngine::load_or_skip(test) {
        Ok(engine) => engine.is_some(),
        Err(e) => panic!("GRU_REQUIRE_CUDNN=1 but CuDNN does not load: {e}"),
    }
}

/// For a test that is about OneDNN: whether it runs. Where libdnnl is missing it prints a
/// notice that `test` is skipped and returns false; with `GRU_REQUIRE_ONEDNN=1` (CI) a
/// missing library fails the test instead.
pub fn onednn_under_test(test: &str) -> bool {
    match OneDnnEngine::load_or_skip(test) {
        Ok(engine) => engine.is_some(),
        Err(e) => panic!("GRU_REQUIRE_ONEDNN=1 but OneDNN does not load: {e}"),
    }
}
