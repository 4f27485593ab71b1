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

    /// For test suites: the engine when `libdnnl.so.2` loads. When it does not, prints a
    /// notice that `test` is skipped and returns `Ok(None)`, unless the environment makes
    /// OneDNN mandatory (`GRU_REQUIRE_ONEDNN=1`, as CI sets it): then the load error.
    pub fn load_or_skip(test: &str) -> Result<Option<Self>, GruError> {
        gru_core::engine::load_or_skip(Self::load(), test, "GRU_REQUIRE_ONEDNN")
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
    GruError::unsupported(ENGINE, field, value, reason)
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
    if let Some((field, value)) = spec.regularization.first_active() {
        return Err(refuse(
            field,
            value,
            "oneDNN's RNN primitives have no input or recurrent dropout, zoneout, weight drop or layer norm (the native engine has them)",
        ));
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
            let shape = PartShape {
                first_block: first * dirs,
                layers,
                dirs,
                reverse: spec.reverse,
                slc,
                hidden: spec.hidden_size,
                cell,
            };
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

impl OneDnnEngine {
    /// `c = a · b` by oneDNN's `dnnl_sgemm` (row-major: `a` is `m × k`, `b` `k × n`, `c`
    /// `m × n`), on oneDNN's threads: the reference GEMM of `gru bench`'s peak.
    pub fn sgemm(&self, a: &[f32], b: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) -> Result<(), GruError> {
        for (field, data, rows, cols) in [("a", a.len(), m, k), ("b", b.len(), k, n), ("c", c.len(), m, n)] {
            let expected = rows.checked_mul(cols).filter(|&p| i64::try_from(p).is_ok());
            if expected != Some(data) {
                return Err(GruError::ShapeMismatch {
                    field: format!("sgemm {field}"),
                    shape: format!("{rows} x {cols}"),
                    expected: expected.unwrap_or(usize::MAX),
                    actual: data,
                });
            }
        }
        let (m, n, k) = (m as i64, n as i64, k as i64);
        // SAFETY: the lengths were checked against the shapes (row-major, lda = k,
        // ldb = n, ldc = n); oneDNN only reads a, b and writes c within them.
        let status = unsafe {
            (self.api.sgemm)(b'N' as _, b'N' as _, m, n, k, 1.0, a.as_ptr(), k, b.as_ptr(), n, 0.0, c.as_mut_ptr(), n)
        };
        if status == ffi::SUCCESS {
            Ok(())
        } else {
            Err(crate::dnnl::call_failed("dnnl_sgemm", status))
        }
    }

    /// Sets the threads of oneDNN's calls made from this thread from now on (OpenMP's
    /// `omp_set_num_threads`; the default is `OMP_NUM_THREADS`, else every core). Returns
    /// the previous count.
    pub fn set_threads(&self, threads: usize) -> Result<usize, GruError> {
        static OMP: OnceLock<Result<ffi::Omp, String>> = OnceLock::new();
        let omp = OMP.get_or_init(ffi::Omp::load).as_ref().map_err(|e| unavailable(e))?;
        // SAFETY: plain OpenMP API calls with no preconditions.
        unsafe {
            let before = (omp.get_max_threads)();
            (omp.set_num_threads)(threads.clamp(1, i32::MAX as usize) as i32);
            Ok(before.max(1) as usize)
        }
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

    #[test]
    fn sgemm_matches_a_naive_product_and_checks_shapes() {
        let Ok(e) = OneDnnEngine::load() else { return }; // the engine tests elsewhere require it
        let (m, n, k) = (3, 5, 4);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5 - 2.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32).sin()).collect();
        let mut c = vec![9.0; m * n];
        let before = e.set_threads(1).unwrap();
        e.sgemm(&a, &b, &mut c, m, n, k).unwrap();
        assert_eq!(e.set_threads(before).unwrap(), 1, "omp_set_num_threads took effect");
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                assert!((c[i * n + j] - want).abs() < 1e-5, "({i}, {j})");
            }
        }
        match e.sgemm(&a, &b, &mut c[..3], m, n, k) {
            Err(GruError::ShapeMismatch { field, expected: 15, actual: 3, .. }) => assert_eq!(field, "sgemm c"),
            other => panic!("{other:?}"),
        }
    }
}
