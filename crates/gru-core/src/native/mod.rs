//! The native engine, `"Engine": "Korali"` in configurations.
//!
//! Two paths compute the same equations:
//! - [`NativePath::Fast`] (default): input GEMM for all steps, one recurrent GEMM per step,
//!   a fused element-wise gate pass, GEMMs for the weight gradients (`block.rs`), all
//!   products through weights packed once (`kernels/panel_gemm.rs`, f32 with AVX-512).
//!   Threads split the batch (`split.rs`) or the hidden units (`units.rs`, `units_train.rs`,
//!   on the persistent helpers of `helpers.rs`: a pool each prepared stack owns and passes
//!   down, joined when it is dropped), chosen per call in `NativePrepared::run`.
//!   The element-wise math of every fast route is `crate::cell`'s; `set_params` refreshes
//!   the packed weights in the buffers they have (no allocation per optimizer step).
//! - [`NativePath::Reference`]: scalar loops, one sequence and one step at a time, kept
//!   obviously right; the oracle of the tests (`crate::reference`).

mod block;
mod helpers;
mod pool;
mod split;
mod stack;
mod units;
mod units_train;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::batch::{GruGradients, GruOutput, OutputGrads, SequenceBatch};
use crate::engine::{Engine, EngineKind, Mode, Plan, PreparedGru, Saved};
use crate::error::{GruError, Result};
use crate::params::GruParams;
use crate::real::Real;
use crate::reference;
use crate::spec::GruSpec;

/// `computed_by` of the fast path.
pub const FAST_PATH: &str = "Korali/fast";
/// `computed_by` of the scalar reference path.
pub const REFERENCE_PATH: &str = "Korali/reference";

/// Which implementation the native engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NativePath {
    #[default]
    Fast,
    Reference,
}

/// The native Rust engine: `"Engine": "Korali"` in configurations ([`EngineKind::Korali`]),
/// the default.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeEngine {
    path: NativePath,
    /// Threads of the fast path; `None`: `RAYON_NUM_THREADS`, else the available cores.
    threads: Option<usize>,
    /// Inference splits the hidden units (not the batch) between threads: `None` decides by
    /// the hidden size (see `unit_threads`).
    unit_split: Option<bool>,
}

/// The native engine's name before it was `NativeEngine` ("Korali" names the configuration
/// value, Korali's JSON and Korali's optimizers; the engine type is the native one).
#[deprecated(since = "0.1.0", note = "renamed `NativeEngine`; the configuration name stays \"Korali\"")]
pub type KoraliEngine = NativeEngine;

impl NativeEngine {
    /// The default (fast) native engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// The scalar reference path, for testing.
    pub fn reference() -> Self {
        Self { path: NativePath::Reference, threads: None, unit_split: None }
    }

    /// The fast path on `threads` threads (the batch is split between them).
    pub fn with_threads(threads: usize) -> Self {
        Self { path: NativePath::Fast, threads: Some(threads.max(1)), unit_split: None }
    }

    /// Forces (or forbids) the unit split (`units.rs`, `units_train.rs`) where it applies
    /// (more than one thread, an after mode). By default inference uses it from H = 512,
    /// or from H = 128 for batches under 8; training from H = 512 with at most 8 sequences
    /// per thread.
    pub fn with_unit_split(mut self, yes: bool) -> Self {
        self.unit_split = Some(yes);
        self
    }

    /// The path this engine runs.
    pub fn path(&self) -> NativePath {
        self.path
    }
}

impl<T: Real> Engine<T> for NativeEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Korali
    }

    fn prepare(&self, spec: &GruSpec, params: &GruParams<T>, plan: &Plan) -> Result<Box<dyn PreparedGru<T>>> {
        spec.validate()?;
        plan.validate()?;
        params.check(spec)?;
        let threads = self.threads.unwrap_or_else(split::default_threads);
        let mut pack_scratch = Vec::new();
        let packed = if self.path == NativePath::Fast {
            let u = unit_threads(spec, plan.mode, threads, self.unit_split);
            let training = plan.mode == Mode::Training;
            let mode = spec.reset_gate_mode;
            params.blocks().iter().map(|b| block::PackedBlock::new(b, mode, training, u, &mut pack_scratch)).collect()
        } else {
            Vec::new()
        };
        Ok(Box::new(NativePrepared {
            spec: spec.clone(),
            params: params.clone(),
            mode: plan.mode,
            path: self.path,
            threads,
            unit_split: self.unit_split,
            pools: Vec::new(),
            workers: helpers::WorkerPool::new(threads),
            packed,
            pack_scratch,
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            generation: 0,
        }))
    }
}

/// From this many hidden units inference splits the units rather than the batch, whatever
/// the batch (measured, `gru bench`: at B64 H512 both splits are equal, above the units win).
const UNIT_SPLIT_MIN_HIDDEN: usize = 512;
/// From this many hidden units the unit split also serves batches too small for the batch
/// split (below `2 · split::MIN_ROWS_PER_THREAD` sequences); under it a step is too short
/// for a barrier (B1 T1000 H64: 1.06 ms split vs 0.74 on one thread; B1 H256: 0.46 vs 0.75).
const UNIT_SPLIT_SMALL_BATCH_MIN_HIDDEN: usize = 128;

/// Training runs one recurrent sweep instead of splitting the batch, with its large GEMMs
/// (input projection, weight gradients, dX) split between the threads, from this many
/// hidden units when a batch split would leave at most `TRAIN_SWEEP_ALONE_MAX_ROWS`
/// sequences per thread: each thread of a batch split streams all of R every step, which
/// costs more than it saves at few rows (measured, B16 T50 H1024: 115 -> 103 ms; at B32
/// T187 H1536, 16 rows per thread, the batch split stays faster: 1575 vs 1942 ms).
const TRAIN_SWEEP_ALONE_MIN_HIDDEN: usize = 512;
const TRAIN_SWEEP_ALONE_MAX_ROWS: usize = 8;

/// From this many hidden units training splits the units too (`units_train.rs`), for
/// batches of at most `TRAIN_SWEEP_ALONE_MAX_ROWS` sequences per thread (measured,
/// B16 T50 H1024: 94 -> 74 ms, B4 T100 H512: 14.5 -> 12 ms; with more rows per thread the
/// batch split stays faster: B64 T50 H512 80 vs 104 ms, B32 T187 H1536 1353 vs 1444 ms).
const UNIT_SPLIT_TRAIN_MIN_HIDDEN: usize = 512;

/// Workers of the unit split (`units.rs`) for `spec`, or 1 when it does not apply: H from
/// 128 (inference) or 512 (training), after- or recurrent-bias-after mode, more than one
/// thread. Whether a call uses it depends on its batch too (`run`).
fn unit_threads(spec: &GruSpec, mode: Mode, threads: usize, forced: Option<bool>) -> usize {
    let min_hidden =
        if mode == Mode::Training { UNIT_SPLIT_TRAIN_MIN_HIDDEN } else { UNIT_SPLIT_SMALL_BATCH_MIN_HIDDEN };
    let wanted = forced.unwrap_or(spec.hidden_size >= min_hidden);
    let ok = threads > 1 && spec.reset_gate_mode != crate::spec::ResetGateMode::BeforeMultiplication;
    if ok && wanted {
        threads.min(spec.hidden_size)
    } else {
        1
    }
}

/// Gives every prepared stack its own identity, so that `backward` can refuse state saved
/// by another one.
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(0);

struct NativePrepared<T> {
    spec: GruSpec,
    params: GruParams<T>,
    mode: Mode,
    path: NativePath,
    /// Threads of the fast path.
    threads: usize,
    /// The engine's unit-split choice.
    unit_split: Option<bool>,
    /// Reused buffers, one pool per thread.
    pools: Vec<pool::Pool<T>>,
    /// The unit split's persistent helper threads (started on its first call, joined when
    /// this prepared stack is dropped).
    workers: helpers::WorkerPool,
    /// The fast path's transposed weights, one per block.
    packed: Vec<block::PackedBlock<T>>,
    /// Scratch of the transposes behind `packed`, kept for `set_params`.
    pack_scratch: Vec<T>,
    /// Identity of this prepared stack.
    instance: u64,
    /// Incremented by every `set_params`: saved state belongs to one parameter version.
    generation: u64,
}

/// Saved state of either path.
enum SavedPath<T> {
    /// One saved state per part of the batch (see `split.rs`).
    Fast(Vec<stack::FastSaved<T>>, Vec<std::ops::Range<usize>>),
    Reference(reference::ReferenceSaved<T>),
}

/// Saved state with what it belongs to: the prepared stack, its parameter version and the
/// call shape `(steps, batch)` for checking `backward`'s gradients.
struct NativeSaved<T> {
    path: SavedPath<T>,
    instance: u64,
    generation: u64,
    steps: usize,
    batch: usize,
}

impl<T: Real> NativePrepared<T> {
    fn run(&mut self, batch: &SequenceBatch<'_, T>, keep: bool) -> Result<(GruOutput<T>, Option<NativeSaved<T>>)> {
        let lengths = batch.validate(&self.spec)?;
        let (steps, b) = (batch.steps, batch.batch);
        // The products read whole rows of x: NaN padding must not reach them (0 · NaN).
        let x = crate::lengths::clean_padding(batch.x, b, self.spec.input_size, &lengths);
        let (out, path) = match self.path {
            NativePath::Fast => {
                let few_rows = b <= TRAIN_SWEEP_ALONE_MAX_ROWS * self.threads;
                let unit_split = self.packed.first().is_some_and(|p| !p.units.is_empty())
                    && (self.unit_split == Some(true)
                        || if keep {
                            few_rows
                        } else {
                            self.spec.hidden_size >= UNIT_SPLIT_MIN_HIDDEN || b < 2 * split::MIN_ROWS_PER_THREAD
                        });
                // Training of large H: one recurrent sweep (streaming R once per step, not
                // once per thread) with the large GEMMs on every thread.
                let sweep_alone = keep && self.spec.hidden_size >= TRAIN_SWEEP_ALONE_MIN_HIDDEN && few_rows;
                let parts = split::parts(b, if unit_split || sweep_alone { 1 } else { self.threads });
                if self.pools.len() < parts.len() {
                    self.pools.resize_with(parts.len(), pool::Pool::new);
                }
                let pools = &mut self.pools[..parts.len()];
                let (out, saved) = split::forward(
                    &self.spec,
                    &self.params,
                    &self.packed,
                    &x,
                    steps,
                    &lengths,
                    batch.h0,
                    keep,
                    unit_split,
                    self.threads,
                    &self.workers,
                    &parts,
                    pools,
                );
                (out, saved.map(|s| SavedPath::Fast(s, parts)))
            }
            NativePath::Reference => {
                let (out, saved) = reference::forward(&self.spec, &self.params, &x, steps, &lengths, batch.h0, keep);
                (out, saved.map(SavedPath::Reference))
            }
        };
        let saved = path.map(|path| NativeSaved {
            path,
            instance: self.instance,
            generation: self.generation,
            steps,
            batch: b,
        });
        Ok((out, saved))
    }
}

impl<T: Real> PreparedGru<T> for NativePrepared<T> {
    fn computed_by(&self) -> &'static str {
        match self.path {
            NativePath::Fast => FAST_PATH,
            NativePath::Reference => REFERENCE_PATH,
        }
    }

    fn spec(&self) -> &GruSpec {
        &self.spec
    }

    fn mode(&self) -> Mode {
        self.mode
    }

    fn set_params(&mut self, params: &GruParams<T>) -> Result<()> {
        params.check(&self.spec)?;
        // In place: the parameters, the packed weights and their scratch keep their
        // buffers, so that an optimizer step allocates nothing here.
        self.params.clone_from(params);
        for (packed, p) in self.packed.iter_mut().zip(params.blocks()) {
            packed.repack(p, &mut self.pack_scratch);
        }
        self.generation += 1;
        Ok(())
    }

    fn forward(&mut self, batch: &SequenceBatch<'_, T>) -> Result<GruOutput<T>> {
        Ok(self.run(batch, false)?.0)
    }

    fn forward_train(&mut self, batch: &SequenceBatch<'_, T>) -> Result<(GruOutput<T>, Saved)> {
        if self.mode != Mode::Training {
            return Err(GruError::ModeMismatch { operation: "forward_train".into(), mode: self.mode.to_string() });
        }
        let (out, saved) = self.run(batch, true)?;
        let saved = saved.ok_or_else(|| GruError::SavedMismatch { reason: "forward kept no state".into() })?;
        Ok((out, Saved::new(self.computed_by(), saved)))
    }

    fn backward(&mut self, saved: Saved, grads: &OutputGrads<'_, T>) -> Result<GruGradients<T>> {
        if self.mode != Mode::Training {
            return Err(GruError::ModeMismatch { operation: "backward".into(), mode: self.mode.to_string() });
        }
        let saved: NativeSaved<T> = saved.take(self.computed_by())?;
        if saved.instance != self.instance {
            return Err(GruError::SavedMismatch { reason: "saved by another prepared GRU stack".into() });
        }
        if saved.generation != self.generation {
            return Err(GruError::SavedMismatch {
                reason: "the parameters were replaced (set_params) after forward_train".into(),
            });
        }
        grads.validate(&self.spec, saved.steps, saved.batch)?;
        let (steps, batch) = (saved.steps, saved.batch);
        Ok(match saved.path {
            SavedPath::Fast(s, parts) => {
                let pools = &mut self.pools[..parts.len()];
                split::backward(
                    &self.spec,
                    &self.params,
                    &self.packed,
                    s,
                    grads,
                    steps,
                    batch,
                    self.threads,
                    &self.workers,
                    &parts,
                    pools,
                )
            }
            SavedPath::Reference(s) => reference::backward(&self.spec, &self.params, &s, grads),
        })
    }
}
