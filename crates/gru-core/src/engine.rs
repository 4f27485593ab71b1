//! The engine contract (DESIGN.md): plan once, then run many times.
//!
//! ```text
//! Engine::prepare(spec, params, plan) -> PreparedGru
//! PreparedGru::set_params(params)                         repack only
//! PreparedGru::forward(batch) -> (y, h_T)                 no saved state
//! PreparedGru::set_mask_draw(draw)                        the regularizers' masks of the next forward_train
//! PreparedGru::forward_train(batch) -> (y, h_T, Saved)    Mode::Training only
//! PreparedGru::backward(Saved, dy, dh_T) -> (dx, dh0, dθ)
//! PreparedGru::step(frames [n, I], state [D, n, H]) -> y   one step of n streams (stream/)
//! ```

use std::any::Any;
use std::fmt::Display;

use serde::{Deserialize, Serialize};

use crate::batch::{GruGradients, GruOutput, OutputGrads, SequenceBatch};
use crate::error::{GruError, Result};
use crate::params::GruParams;
use crate::real::Real;
use crate::spec::GruSpec;

/// The engines a configuration can name (Korali's `"Engine"` key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum EngineKind {
    /// The native Rust engine, always built.
    #[default]
    Korali,
    /// Intel oneDNN 2.x, loaded at run time.
    OneDNN,
    /// NVIDIA cuDNN, loaded at run time.
    CuDNN,
}

impl Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineKind::Korali => "Korali",
            EngineKind::OneDNN => "OneDNN",
            EngineKind::CuDNN => "CuDNN",
        })
    }
}

/// Korali's `"Mode"`: inference keeps no state for backward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Mode {
    #[default]
    Training,
    Inference,
}

impl Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Training => "Training",
            Mode::Inference => "Inference",
        })
    }
}

/// What the engine may plan for (Korali's `"Batch Sizes"` and `"Timestep Count"`).
/// Calls outside the plan still work: they are planned on first use and cached.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Plan {
    pub batch_sizes: Vec<usize>,
    pub max_steps: Option<usize>,
    pub mode: Mode,
}

impl Plan {
    /// A training plan with no sizes announced.
    pub fn training() -> Self {
        Self { mode: Mode::Training, ..Self::default() }
    }

    /// An inference plan with no sizes announced.
    pub fn inference() -> Self {
        Self { mode: Mode::Inference, ..Self::default() }
    }

    /// Checks that every announced size is positive.
    pub fn validate(&self) -> Result<()> {
        if let Some(i) = self.batch_sizes.iter().position(|&b| b == 0) {
            return Err(GruError::option(&format!("batch_sizes[{i}]"), 0, "must be at least 1"));
        }
        if self.max_steps == Some(0) {
            return Err(GruError::option("max_steps", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// Engine-private state of one `forward_train` call, consumed by `backward`.
pub struct Saved {
    producer: &'static str,
    inner: Box<dyn Any + Send>,
}

impl Saved {
    /// Wraps engine-private state, tagged with the producing engine path.
    pub fn new<S: Any + Send>(producer: &'static str, inner: S) -> Self {
        Self { producer, inner: Box::new(inner) }
    }

    /// The engine path that produced this state.
    pub fn producer(&self) -> &'static str {
        self.producer
    }

    /// Unwraps, checking that `consumer` produced it and that the type matches.
    pub fn take<S: Any>(self, consumer: &'static str) -> Result<S> {
        if self.producer != consumer {
            return Err(GruError::SavedMismatch {
                reason: format!("saved by {}, handed to {consumer}", self.producer),
            });
        }
        self.inner
            .downcast::<S>()
            .map(|b| *b)
            .map_err(|_| GruError::SavedMismatch { reason: format!("saved state of {consumer} has another dtype") })
    }
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saved").field("producer", &self.producer).finish_non_exhaustive()
    }
}

/// An engine: validates a spec against what it can compute and plans for it.
pub trait Engine<T: Real> {
    /// The configuration name of this engine.
    fn kind(&self) -> EngineKind;

    /// Validates `spec`, `params` and `plan` and returns a ready-to-run layer stack.
    /// Options the engine cannot compute are refused with [`GruError::Unsupported`].
    fn prepare(&self, spec: &GruSpec, params: &GruParams<T>, plan: &Plan) -> Result<Box<dyn PreparedGru<T>>>;
}

/// A planned GRU stack on one engine.
pub trait PreparedGru<T: Real>: Send {
    /// The engine and path that computes, as reported in [`GruOutput::computed_by`].
    fn computed_by(&self) -> &'static str;

    /// How the last call was computed, in words, where the engine chooses between ways
    /// (the native engine: how its threads split the work and why); `None` otherwise.
    fn explain(&self) -> Option<String> {
        None
    }

    /// The spec this was prepared for.
    fn spec(&self) -> &GruSpec;

    /// The mode this was prepared for.
    fn mode(&self) -> Mode;

    /// Replaces the parameters (same shapes), for example after an optimizer step.
    fn set_params(&mut self, params: &GruParams<T>) -> Result<()>;

    /// Inference: `y` and `h_T`, no saved state.
    fn forward(&mut self, batch: &SequenceBatch<'_, T>) -> Result<GruOutput<T>>;

    /// Chooses the masks of the regularizers (`spec.regularization`, see
    /// [`crate::Regularization`]) for the next [`PreparedGru::forward_train`]: a mask is a
    /// function of (the spec's seed, `draw`, block, sequence, step, unit), so the same draw
    /// gives the same masks whatever the threads. Each `forward_train` then moves to the next
    /// draw (`draw + 1`): without a call here, the calls of a prepared stack draw 0, 1, 2, ...
    /// A network draws one per GRU layer and minibatch from the trainer's seeded generator.
    /// Engines without regularizers (they refuse them at `prepare`) ignore it.
    fn set_mask_draw(&mut self, draw: u64) {
        let _ = draw;
    }

    /// Training forward: also returns what `backward` needs. Needs [`Mode::Training`].
    fn forward_train(&mut self, batch: &SequenceBatch<'_, T>) -> Result<(GruOutput<T>, Saved)>;

    /// Gradients for the `forward_train` call that produced `saved`.
    fn backward(&mut self, saved: Saved, grads: &OutputGrads<'_, T>) -> Result<GruGradients<T>>;

    /// One time step of `n` independent streams (what [`crate::stream::StreamSet`] runs):
    /// `frames` `[n, I]`, `state` `[D, n, H]` (each layer's state of each stream, replaced
    /// by the new one), `out` `[n, H]` (the top layer's new state). Unidirectional stacks
    /// only ([`crate::stream::check_step`]). The default runs [`PreparedGru::forward`] over
    /// one step with `state` as `h0` ([`crate::stream::step_by_forward`]); an engine with a
    /// step of its own (the native fast path) computes the same without allocating.
    fn step(&mut self, frames: &[T], n: usize, state: &mut [T], out: &mut [T]) -> Result<()> {
        crate::stream::step_by_forward(self, frames, n, state, out)
    }
}

/// For the test suites of an engine that needs a system library or device: `loaded` as
/// `Some` when it loaded. When not, prints a notice that `test` is skipped and returns
/// `Ok(None)`, unless the environment variable `require` is `1` (CI sets it where the
/// library is installed): then the load error.
pub fn load_or_skip<E>(loaded: Result<E>, test: &str, require: &str) -> Result<Option<E>> {
    match loaded {
        Ok(engine) => Ok(Some(engine)),
        Err(e) if std::env::var(require).is_ok_and(|v| v == "1") => Err(e),
        Err(e) => {
            eprintln!("skipped {test}: {e} ({require}=1 makes this a failure)");
            Ok(None)
        }
    }
}
