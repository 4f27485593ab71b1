//! The native engine, `"Engine": "Korali"` in configurations.
//!
//! Two paths compute the same equations:
//! - [`NativePath::Fast`] (default): input GEMM for all steps, one recurrent GEMM per step,
//!   a fused element-wise gate pass, GEMMs for the weight gradients (`block.rs`), all
//!   products through weights packed once (`kernels/panel_gemm.rs`, f32 with AVX-512).
//!   Threads split the batch (`split.rs`) or the hidden units (`units.rs`, `units_train.rs`,
//!   on the persistent helpers of `helpers.rs`: a pool each prepared stack owns and passes
//!   down, joined when it is dropped), chosen per call by fixed rules or by measuring
//!   (`strategy.rs`).
//!   The element-wise math of every fast route is `crate::cell`'s; `set_params` refreshes
//!   the packed weights in the buffers they have (no allocation per optimizer step).
//! - [`NativePath::Reference`]: scalar loops, one sequence and one step at a time, kept
//!   obviously right; the oracle of the tests (`crate::reference`).
//!
//! Both compute the regularizers of `spec.regularization` (`crate::Regularization`): a
//! training call draws its masks ([`PreparedGru::set_mask_draw`]), every other call computes
//! the inference form. Weight drop runs a training call on dropped weights kept beside the
//! plain ones (`weight_drop.rs`); the fast path's sweep with recurrent dropout, zoneout or
//! layer norm is `reg_block.rs` and `reg_backward.rs`.

mod affinity;
mod block;
mod helpers;
mod idle_wait;
mod packed;
mod pool;
mod reg_backward;
mod reg_block;
mod split;
mod stack;
mod step;
mod step_team;
mod strategy;
mod units;
mod units_train;
mod weight_drop;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::batch::{GruGradients, GruOutput, OutputGrads, SequenceBatch};
use crate::engine::{Engine, EngineKind, Mode, Plan, PreparedGru, Saved};
use crate::error::{GruError, Result};
use crate::params::GruParams;
use crate::real::Real;
use crate::reference;
use crate::regularize::masks::Masks;
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
    /// Choose the threads' strategy by measuring (`strategy.rs`); `None`: `GRU_CALIBRATE`.
    calibrate: Option<bool>,
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
        Self { path: NativePath::Reference, threads: None, unit_split: None, calibrate: None }
    }

    /// The fast path on `threads` threads (the batch is split between them).
    pub fn with_threads(threads: usize) -> Self {
        Self { path: NativePath::Fast, threads: Some(threads.max(1)), unit_split: None, calibrate: None }
    }

    /// Forces (or forbids) the unit split (`units.rs`, `units_train.rs`) where it applies
    /// (more than one thread, an after mode). By default inference uses it from H = 512,
    /// or from H = 128 for batches under 8; training from H = 512 with at most 8 sequences
    /// per thread.
    pub fn with_unit_split(mut self, yes: bool) -> Self {
        self.unit_split = Some(yes);
        self
    }

    /// Chooses how each call shape uses the threads (batch split, unit split or one sweep)
    /// by timing them on the call's first steps, once per shape and process (`GRU_CALIBRATION_CACHE`
    /// names a file that keeps the choices across processes), instead of by fixed rules. Off by default (or as `GRU_CALIBRATE=1`
    /// says): the strategies agree to rounding, not bit for bit, so a calibrated run may
    /// differ in the last bits from one process to the next.
    pub fn with_calibration(mut self, yes: bool) -> Self {
        self.calibrate = Some(yes);
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
        let pack_plan = weight_drop::PackPlan {
            mode: spec.reset_gate_mode,
            training: plan.mode == Mode::Training,
            unit_threads: unit_threads(spec, plan.mode, threads, self.unit_split),
            fast: self.path == NativePath::Fast,
        };
        let packed = if pack_plan.fast {
            let (mode, training, u) = (pack_plan.mode, pack_plan.training, pack_plan.unit_threads);
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
            calibrate: self.calibrate.unwrap_or_else(strategy::calibrate_by_default),
            choice: None,
            pools: Vec::new(),
            workers: helpers::WorkerPool::new(threads),
            packed,
            pack_scratch,
            step_scratch: step::StepScratch::default(),
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            generation: 0,
            draw: 0,
            dropped: None,
            pack_plan,
        }))
    }
}

/// Workers of the unit split (`units.rs`) for `spec`, or 1 when it does not apply: H from
/// 128 (inference) or 512 (training), after- or recurrent-bias-after mode, no layer norm
/// (its statistics span all units), more than one thread. Whether a call uses it depends on
/// its batch too (`run`).
fn unit_threads(spec: &GruSpec, mode: Mode, threads: usize, forced: Option<bool>) -> usize {
    let min_hidden = if mode == Mode::Training {
        strategy::UNIT_SPLIT_TRAIN_MIN_HIDDEN
    } else {
        strategy::UNIT_SPLIT_SMALL_BATCH_MIN_HIDDEN
    };
    let wanted = forced.unwrap_or(spec.hidden_size >= min_hidden);
    let ok = threads > 1
        && spec.reset_gate_mode != crate::spec::ResetGateMode::BeforeMultiplication
        && !spec.regularization.layer_norm;
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
    /// Choose the strategy by measuring.
    calibrate: bool,
    /// The strategy of the last call and how it was chosen.
    choice: Option<strategy::Choice>,
    /// Reused buffers, one pool per thread.
    pools: Vec<pool::Pool<T>>,
    /// The unit split's persistent helper threads (started on its first call, joined when
    /// this prepared stack is dropped).
    workers: helpers::WorkerPool,
    /// The fast path's transposed weights, one per block.
    packed: Vec<block::PackedBlock<T>>,
    /// Scratch of the transposes behind `packed`, kept for `set_params`.
    pack_scratch: Vec<T>,
    /// The stream step's buffers (`step.rs`).
    step_scratch: step::StepScratch<T>,
    /// Identity of this prepared stack.
    instance: u64,
    /// Incremented by every `set_params`: saved state belongs to one parameter version.
    generation: u64,
    /// The masks' draw of the next `forward_train` (`set_mask_draw`).
    draw: u64,
    /// Weight drop: the dropped weights of the last training draw (`weight_drop.rs`).
    dropped: Option<weight_drop::DroppedWeights<T>>,
    /// How `packed` (and the dropped weights) are packed.
    pack_plan: weight_drop::PackPlan,
}

/// Saved state of either path.
enum SavedPath<T> {
    /// One saved state per part of the batch (see `split.rs`).
    Fast(Vec<stack::FastSaved<T>>, Vec<std::ops::Range<usize>>),
    Reference(reference::ReferenceSaved<T>),
}

/// Saved state with what it belongs to: the prepared stack, its parameter version, the
/// call shape `(steps, batch)` for checking `backward`'s gradients and the masks' draw.
struct NativeSaved<T> {
    path: SavedPath<T>,
    instance: u64,
    generation: u64,
    steps: usize,
    batch: usize,
    draw: u64,
}

impl<T: Real> NativePrepared<T> {
    /// The masks of a call: drawn (`keep`, a training call, with the current draw) or the
    /// inference form.
    fn masks(&self, keep: bool) -> Masks {
        if keep {
            Masks::training(&self.spec.regularization, self.draw)
        } else {
            Masks::inference(&self.spec.regularization)
        }
    }

    /// With weight drop in `masks`: the dropped weights of `draw`, built or refreshed.
    fn refresh_dropped(&mut self, masks: &Masks, draw: u64) {
        if masks.weight_drop_rate().is_some() {
            let scratch = &mut self.pack_scratch;
            weight_drop::refresh(
                &mut self.dropped,
                &self.params,
                self.generation,
                masks,
                draw,
                self.pack_plan,
                scratch,
            );
        }
    }

    /// The parameters and packed weights a call with `masks` computes with: the dropped
    /// ones with weight drop (refreshed by `refresh_dropped`), else the plain ones.
    fn weights(&self, masks: &Masks) -> (&GruParams<T>, &[block::PackedBlock<T>]) {
        match (&self.dropped, masks.weight_drop_rate()) {
            (Some(d), Some(_)) => (&d.params, &d.packed),
            _ => (&self.params, &self.packed),
        }
    }

    /// The fast path's forward with `strategy`; returns the parts of the batch it used.
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn run_with(
        &mut self,
        strategy: strategy::Strategy,
        x: &[T],
        steps: usize,
        lengths: &[usize],
        h0: Option<&[T]>,
        keep: bool,
        masks: &Masks,
    ) -> (GruOutput<T>, Option<Vec<stack::FastSaved<T>>>, Vec<std::ops::Range<usize>>) {
        let b = lengths.len();
        let unit_split = strategy == strategy::Strategy::UnitSplit;
        let parts = split::parts(b, if strategy == strategy::Strategy::BatchSplit { self.threads } else { 1 });
        if self.pools.len() < parts.len() {
            self.pools.resize_with(parts.len(), pool::Pool::new);
        }
        let pools = &mut self.pools[..parts.len()];
        let (params, packed) = match (&self.dropped, masks.weight_drop_rate()) {
            (Some(d), Some(_)) => (&d.params, &d.packed[..]),
            _ => (&self.params, &self.packed[..]),
        };
        let (out, saved) = split::forward(
            &self.spec,
            params,
            packed,
            x,
            steps,
            lengths,
            h0,
            keep,
            unit_split,
            self.threads,
            &self.workers,
            &parts,
            pools,
            masks,
        );
        (out, saved, parts)
    }

    /// The strategy of a call: by the rules, or calibrated (once per shape and process) on
    /// its first [`strategy::STEPS`] steps, forward and (training) backward.
    fn choose(
        &mut self,
        x: &[T],
        steps: usize,
        lengths: &[usize],
        h0: Option<&[T]>,
        keep: bool,
        masks: &Masks,
    ) -> strategy::Choice {
        let b = lengths.len();
        let shape = strategy::CallShape {
            hidden: self.spec.hidden_size,
            batch: b,
            threads: self.threads,
            keep,
            has_units: self.packed.first().is_some_and(|p| !p.units.is_empty()),
            batch_parts: split::parts(b, self.threads).len(),
        };
        let rule = |how| strategy::Choice {
            strategy: strategy::by_rule(&shape, self.unit_split),
            threads: self.threads,
            batch: b,
            measured: Vec::new(),
            how,
        };
        let candidates = strategy::candidates(&shape);
        if !self.calibrate || self.unit_split.is_some() || candidates.len() < 2 || b == 0 || steps == 0 {
            return rule("rule");
        }
        let key = strategy::key(&format!("{:?}", self.spec), &shape);
        if let Some((strategy, measured)) = strategy::cached(&key) {
            return strategy::Choice { strategy, threads: self.threads, batch: b, measured, how: "calibrated earlier" };
        }
        let prefix = steps.min(strategy::STEPS);
        let x = &x[..prefix * b * self.spec.input_size];
        let short: Vec<usize> = lengths.iter().map(|&l| l.min(prefix)).collect();
        let dy = vec![T::zero(); crate::batch::output_shape(&self.spec, prefix, b).iter().product()];
        let (fastest, measured) = strategy::measure(&candidates, |c| {
            let (_, saved, parts) = self.run_with(c, x, prefix, &short, h0, keep, masks);
            if let Some(saved) = saved {
                let grads = OutputGrads { dy: &dy, dh_t: None };
                let pools = &mut self.pools[..parts.len()];
                let (params, packed) = match (&self.dropped, masks.weight_drop_rate()) {
                    (Some(d), Some(_)) => (&d.params, &d.packed[..]),
                    _ => (&self.params, &self.packed[..]),
                };
                split::backward(
                    &self.spec,
                    params,
                    packed,
                    saved,
                    &grads,
                    prefix,
                    b,
                    self.threads,
                    &self.workers,
                    &parts,
                    pools,
                );
            }
        });
        strategy::remember(key, fastest, measured.clone());
        strategy::Choice { strategy: fastest, threads: self.threads, batch: b, measured, how: "calibrated" }
    }

    fn run(&mut self, batch: &SequenceBatch<'_, T>, keep: bool) -> Result<(GruOutput<T>, Option<NativeSaved<T>>)> {
        let lengths = batch.validate(&self.spec)?;
        let (steps, b) = (batch.steps, batch.batch);
        // The products read whole rows of x: NaN padding must not reach them (0 · NaN).
        let x = crate::lengths::clean_padding(batch.x, b, self.spec.input_size, &lengths);
        self.step_scratch.last = None;
        let (masks, draw) = (self.masks(keep), self.draw);
        self.refresh_dropped(&masks, draw);
        let (out, path) = match self.path {
            NativePath::Fast => {
                let choice = self.choose(&x, steps, &lengths, batch.h0, keep, &masks);
                let (out, saved, parts) = self.run_with(choice.strategy, &x, steps, &lengths, batch.h0, keep, &masks);
                self.choice = Some(choice);
                (out, saved.map(|s| SavedPath::Fast(s, parts)))
            }
            NativePath::Reference => {
                let (params, _) = self.weights(&masks);
                let (out, saved) = reference::forward(&self.spec, params, &x, steps, &lengths, batch.h0, keep, &masks);
                (out, saved.map(SavedPath::Reference))
            }
        };
        if keep {
            self.draw = self.draw.wrapping_add(1);
        }
        let saved = path.map(|path| NativeSaved {
            path,
            instance: self.instance,
            generation: self.generation,
            steps,
            batch: b,
            draw,
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

    fn explain(&self) -> Option<String> {
        match self.path {
            NativePath::Reference => Some("the scalar reference path, one thread".into()),
            NativePath::Fast => match &self.step_scratch.last {
                Some(step) => Some(step.explain()),
                None => self.choice.as_ref().map(strategy::Choice::explain),
            },
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

    fn step(&mut self, frames: &[T], n: usize, state: &mut [T], out: &mut [T]) -> Result<()> {
        match self.path {
            NativePath::Fast => {
                crate::stream::check_step(&self.spec, frames, n, state, out)?;
                let shape = step::StepShape {
                    threads: self.threads,
                    has_units: self.packed.first().is_some_and(|p| !p.units.is_empty()),
                    forced: self.unit_split,
                };
                let choice = step::StepChoice::choose::<T>(&self.spec, &shape, n);
                let masks = Masks::inference(&self.spec.regularization);
                step::step(&self.spec, &self.packed, &mut self.step_scratch, choice, frames, n, state, out, &masks);
                Ok(())
            }
            NativePath::Reference => crate::stream::step_by_forward(self, frames, n, state, out),
        }
    }

    fn set_mask_draw(&mut self, draw: u64) {
        self.draw = draw;
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
        // Weight drop: the weights of the saved call's draw (another call may have drawn since).
        let masks = Masks::training(&self.spec.regularization, saved.draw);
        self.refresh_dropped(&masks, saved.draw);
        let mut grads = match saved.path {
            SavedPath::Fast(s, parts) => {
                let pools = &mut self.pools[..parts.len()];
                let (params, packed) = match (&self.dropped, masks.weight_drop_rate()) {
                    (Some(d), Some(_)) => (&d.params, &d.packed[..]),
                    _ => (&self.params, &self.packed[..]),
                };
                split::backward(
                    &self.spec,
                    params,
                    packed,
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
            SavedPath::Reference(s) => reference::backward(&self.spec, self.weights(&masks).0, &s, grads),
        };
        if masks.weight_drop_rate().is_some() {
            weight_drop::apply_mask(&mut grads.params, &masks);
        }
        Ok(grads)
    }
}
