//! One time step of many independent streams on the fast path (`crate::stream`): layer by
//! layer, the input projection and the cell over the `n` streams' rows, every row active.
//!
//! ```text
//! layer ℓ:  GX = in_ℓ · W_ℓᵀ + b_ℓ    in_0 = frames [n, I],  in_ℓ = h^{ℓ-1} (new) [n, H]
//!           h^ℓ <- cell(GX, h^ℓ)        state [D, n, H], layer ℓ at ℓ·n·H
//! out = h^{D-1}                         [n, H]
//! ```
//! Two routes compute it ([`StepRoute`]): one thread running the dense sweep's own step
//! (`block::input_projection`, `block::sweep_step`), or the hidden units split between
//! the workers of a [`StepTeam`] (`step_team.rs`), each streaming its share of W and R.
//! Either way a stream stepped frame by frame runs, row by row, the operations its whole
//! sequence runs in `forward`: where the panel kernel computes the products (f32,
//! AVX-512 or AVX2+FMA) each output's sums do not depend on the number of rows nor on
//! which columns are computed together, so both routes give `forward`'s bits, whichever
//! way `forward` splits its threads; the route is then chosen for speed (see
//! [`StepChoice::choose`]). Elsewhere (f64, `GRU_ISA=portable`) the products are the GEMM
//! crate's, whose rounding may depend on the shapes: the step takes the route `forward`
//! takes for a batch of `n` (`strategy::by_rule`), within the tolerance rule.
//!
//! With zoneout or layer norm (their inference form) the step is `reg_block.rs`'s, on one
//! thread ([`StepReason::Regularized`]).
//!
//! Buffers (and the team's threads) are kept across calls and grow only with `n`: no
//! allocation once a step of the largest `n` has run.

use super::block::{input_projection, sweep_step, PackedBlock, StepBuffers};
use super::reg_block::{self, RegBuffers, StepReg};
use super::step_team::StepTeam;
use super::strategy::{self, CallShape, Strategy};
use crate::activation::Activations;
use crate::cell::row_width;
use crate::real::Real;
use crate::regularize::masks::Masks;
use crate::spec::GruSpec;

/// The buffers of the stream step, kept by the prepared stack.
#[derive(Default)]
pub(crate) struct StepScratch<T> {
    /// `GX` of one layer, `[n, 3H]`.
    gx: Vec<T>,
    /// One layer's new state, `[n, H]`, before it is copied into `state`.
    y: Vec<T>,
    bufs: StepBuffers<T>,
    /// The buffers of the regularized step (zoneout, layer norm).
    reg_bufs: RegBuffers<T>,
    /// The unit split's workers, started by the first step that splits.
    team: Option<StepTeam<T>>,
    /// A helper thread could not be started: the steps stay on one thread.
    no_team: bool,
    /// How the last step ran, for `explain` (`None` after a `forward`).
    pub(crate) last: Option<StepChoice>,
}

/// How one step uses the threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepRoute {
    /// The dense sweep's step on the calling thread.
    OneSweep,
    /// The hidden units split between the team's workers.
    UnitSplit,
}

/// Why a step took its route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepReason {
    /// No unit split was packed: one thread, before-multiplication, or H under
    /// `strategy::UNIT_SPLIT_SMALL_BATCH_MIN_HIDDEN`.
    NoUnits,
    /// The engine's `with_unit_split`.
    Forced,
    /// The products may round by shape (no panel kernel): `forward`'s rule for a batch of n.
    ForwardsRule,
    /// The step's weights (W and R of every layer) against half the cache one core has
    /// alone, and its rows against `2 · split::MIN_ROWS_PER_THREAD`.
    Size { bytes: usize, cache: usize },
    /// The system does not say how large a core's cache is: `forward`'s rule.
    CacheUnknown,
    /// The team's helper thread could not be started.
    NoThread,
    /// Zoneout or layer norm: the regularized sweep's step (`reg_block.rs`), one thread.
    Regularized,
}

/// A step's route, why, and its `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StepChoice {
    pub route: StepRoute,
    pub reason: StepReason,
    pub n: usize,
    pub workers: usize,
}

impl StepChoice {
    /// In words, for `PreparedGru::explain`.
    pub(crate) fn explain(&self) -> String {
        let how = match self.route {
            StepRoute::OneSweep => "one-sweep on 1 thread".to_string(),
            StepRoute::UnitSplit => format!("unit-split on {} workers", self.workers),
        };
        let why = match self.reason {
            StepReason::NoUnits => "no unit split packed (one thread, before-multiplication or a small H)".into(),
            StepReason::Forced => "with_unit_split".into(),
            StepReason::ForwardsRule => "forward's rule: no panel kernel for this type and CPU".into(),
            StepReason::Size { bytes, cache } => {
                let (kib, half) = (bytes >> 10, cache >> 11);
                match (self.route, bytes > cache / 2) {
                    (StepRoute::UnitSplit, true) => {
                        format!("weights {kib} KiB > half the {} KiB cache per core", 2 * half)
                    }
                    (StepRoute::UnitSplit, false) => format!("{} rows >= {}", self.n, ROWS_TO_SPLIT),
                    _ => format!(
                        "weights {kib} KiB <= half the {} KiB cache per core, {} rows < {ROWS_TO_SPLIT}",
                        2 * half,
                        self.n
                    ),
                }
            }
            StepReason::CacheUnknown => "forward's rule: the cache per core is unknown".into(),
            StepReason::NoThread => "a helper thread could not be started".into(),
            StepReason::Regularized => "zoneout or layer norm: the regularized step runs on one thread".into(),
        };
        format!("stream step: {how} for n = {} ({why})", self.n)
    }
}

/// What the route of a step depends on besides `n`.
pub(crate) struct StepShape {
    pub threads: usize,
    /// The prepared stack has the unit split's packs (more than one thread, an after mode).
    pub has_units: bool,
    /// The engine's unit-split choice (`with_unit_split`).
    pub forced: Option<bool>,
}

impl StepChoice {
    /// The route of a step of `n` streams (see the module): one sweep without the unit
    /// split's packs; as the engine forces; without the panel kernel, as `forward` splits a
    /// batch of `n`. Else the unit split when the weights of a step (W and R of every
    /// layer, `3H · (In_ℓ + H)` values each) take more than half the cache one core has
    /// alone (from there one core streams them from a shared cache, or from its own at its
    /// bandwidth for several hand-offs' time, while each worker of the split keeps its
    /// share in its own cache), or when the step has at least [`ROWS_TO_SPLIT`] rows (its
    /// arithmetic then outweighs a hand-off); one sweep otherwise, a step of a few
    /// microseconds. Measured on an AMD Zen 4 host (1 MiB of L2 per core, 2 threads, f32,
    /// I = H, µs one sweep -> unit split): n = 1: H128 (384 KiB) 4.7 -> 3.2 when the helper
    /// is awake, 5.1 when it is not; H256 19.3 -> 9.5; H512 74 -> 38; n = 4, H256: 33 ->
    /// 18; n = 16: H128 38 -> 23, H256 129 -> 70, H512 475 -> 246.
    pub(crate) fn choose<T: Real>(spec: &GruSpec, shape: &StepShape, n: usize) -> Self {
        let workers = shape.threads.min(spec.hidden_size);
        let choice = |split: bool, reason| StepChoice {
            route: if split { StepRoute::UnitSplit } else { StepRoute::OneSweep },
            reason,
            n,
            workers: if split { workers } else { 1 },
        };
        if !shape.has_units {
            return choice(false, StepReason::NoUnits);
        }
        if let Some(forced) = shape.forced {
            return choice(forced, StepReason::Forced);
        }
        let forwards_rule = || {
            let call = CallShape {
                hidden: spec.hidden_size,
                batch: n,
                threads: shape.threads,
                keep: false,
                has_units: true,
                batch_parts: super::split::parts(n, shape.threads).len(),
            };
            strategy::by_rule(&call, None) == Strategy::UnitSplit
        };
        if !T::has_panels() {
            return choice(forwards_rule(), StepReason::ForwardsRule);
        }
        match crate::kernels::cache::per_core_cache_bytes() {
            Some(cache) => {
                let bytes = step_weight_bytes::<T>(spec);
                choice(split_by_size(bytes, cache, n), StepReason::Size { bytes, cache })
            }
            None => choice(forwards_rule(), StepReason::CacheUnknown),
        }
    }
}

/// The rule of [`StepChoice::choose`] where the panel kernel runs: the weights of a step
/// (`bytes`) against the cache one core has alone (`cache`), and its rows.
fn split_by_size(bytes: usize, cache: usize, n: usize) -> bool {
    bytes > cache / 2 || n >= ROWS_TO_SPLIT
}

/// From this many rows (streams) a step splits its units whatever the size of its weights:
/// as many as `forward` needs before it splits a batch between its threads.
pub(crate) const ROWS_TO_SPLIT: usize = 2 * super::split::MIN_ROWS_PER_THREAD;

/// Bytes of the weights one step reads: `W_ℓ` and `R_ℓ` of every layer.
fn step_weight_bytes<T>(spec: &GruSpec) -> usize {
    let h = spec.hidden_size;
    (0..spec.depth).map(|l| row_width(h) * (spec.layer_input_size(l) + h)).sum::<usize>() * std::mem::size_of::<T>()
}

/// One step of `n` streams through the stack (shapes checked by the caller) as `choice`
/// says (its `n` is this step's):
/// `frames` `[n, I]`, `state` `[D, n, H]` updated in place, `out` `[n, H]` the top layer's
/// new state. `masks`: the inference form of the regularizers.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step<T: Real>(
    spec: &GruSpec,
    packed: &[PackedBlock<T>],
    scratch: &mut StepScratch<T>,
    choice: StepChoice,
    frames: &[T],
    n: usize,
    state: &mut [T],
    out: &mut [T],
    masks: &Masks,
) {
    let act = Activations::<T>::new(spec);
    let hid = spec.hidden_size;
    let per_layer = n * hid;
    if masks.changes_sweep() {
        scratch.last =
            Some(StepChoice { route: StepRoute::OneSweep, reason: StepReason::Regularized, workers: 1, ..choice });
        let StepScratch { gx, y, reg_bufs, .. } = scratch;
        gx.resize(n * row_width(hid), T::zero());
        y.resize(per_layer, T::zero());
        reg_bufs.fit(n, hid, spec.reset_gate_mode);
        for (layer, blk) in packed.iter().enumerate().take(spec.depth) {
            let (below, rest) = state.split_at_mut(layer * per_layer);
            let x = if layer == 0 { frames } else { &below[(layer - 1) * per_layer..] };
            reg_block::input_projection(blk, x, n, spec.layer_input_size(layer), gx, 1, None);
            let h = &mut rest[..per_layer];
            let reg = StepReg { h_mask: None, masks, block: layer, t: 0 };
            reg_block::sweep_step(&act, blk, hid, gx, |_| true, h, y, reg_bufs, &reg, |_, _| {});
        }
        out.copy_from_slice(&state[(spec.depth - 1) * per_layer..][..per_layer]);
        return;
    }
    let team = match choice.route {
        StepRoute::UnitSplit if !scratch.no_team => team(spec, packed, &mut scratch.team, &mut scratch.no_team, act),
        StepRoute::UnitSplit | StepRoute::OneSweep => None,
    };
    scratch.last = Some(match team {
        Some(team) => StepChoice { workers: team.parts(), ..choice },
        None if choice.route == StepRoute::UnitSplit => {
            StepChoice { route: StepRoute::OneSweep, reason: StepReason::NoThread, workers: 1, ..choice }
        }
        None => choice,
    });
    let StepScratch { gx, y, bufs, .. } = scratch;
    if team.is_none() {
        gx.resize(n * row_width(hid), T::zero());
        y.resize(per_layer, T::zero());
        bufs.fit(n, hid, spec.reset_gate_mode);
    }
    for (layer, blk) in packed.iter().enumerate().take(spec.depth) {
        let (below, rest) = state.split_at_mut(layer * per_layer);
        // The input of layer ℓ > 0 is the new state of the layer below (its output).
        let x = if layer == 0 { frames } else { &below[(layer - 1) * per_layer..] };
        let h = &mut rest[..per_layer];
        match team {
            Some(team) => team.layer_step(layer, x, n, h),
            None => {
                input_projection(blk, x, n, spec.layer_input_size(layer), gx, 1);
                sweep_step(&act, blk, hid, gx, |_| true, h, y, bufs, |_, _, _, _, _| {});
            }
        }
    }
    out.copy_from_slice(&state[(spec.depth - 1) * per_layer..][..per_layer]);
}

/// The team of the unit split, started on first use; `None` (and `failed` set) when a
/// helper thread cannot be started: the steps then run on one thread.
fn team<'a, T: Real>(
    spec: &GruSpec,
    packed: &[PackedBlock<T>],
    slot: &'a mut Option<StepTeam<T>>,
    failed: &mut bool,
    act: Activations<T>,
) -> Option<&'a StepTeam<T>> {
    if slot.is_none() {
        let layers = packed.iter().take(spec.depth).map(|b| b.units.packs().clone()).collect();
        *slot = StepTeam::new(layers, act, spec.hidden_size);
        *failed = slot.is_none();
    }
    slot.as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weights_of_a_step_are_w_and_r_of_every_layer() {
        assert_eq!(step_weight_bytes::<f32>(&GruSpec::new(128, 128)), 3 * 128 * 256 * 4);
        let deep = GruSpec::new(5, 64).with_depth(2);
        assert_eq!(step_weight_bytes::<f64>(&deep), (3 * 64 * (5 + 64) + 3 * 64 * 128) * 8);
    }

    #[test]
    fn the_split_pays_for_large_weights_or_many_rows() {
        let (mib, h128, h256) = (1 << 20, 3 * 128 * 256 * 4, 3 * 256 * 512 * 4);
        // One core's 1 MiB (AMD Zen 4) or 2 MiB (Intel Xeon) of L2.
        assert!(!split_by_size(h128, mib, 1));
        assert!(!split_by_size(h128, 2 * mib, 7));
        assert!(split_by_size(h256, mib, 1));
        assert!(split_by_size(h256, 2 * mib, 1));
        assert!(split_by_size(h128, mib, 16));
        assert!(split_by_size(h128, 2 * mib, ROWS_TO_SPLIT));
    }

    #[test]
    fn a_step_explains_its_route() {
        let c = StepChoice {
            route: StepRoute::UnitSplit,
            reason: StepReason::Size { bytes: 1536 << 10, cache: 1 << 20 },
            n: 1,
            workers: 2,
        };
        assert_eq!(
            c.explain(),
            "stream step: unit-split on 2 workers for n = 1 (weights 1536 KiB > half the 1024 KiB cache per core)"
        );
        let c = StepChoice {
            route: StepRoute::OneSweep,
            reason: StepReason::Size { bytes: 384 << 10, cache: 1 << 20 },
            n: 3,
            workers: 1,
        };
        assert_eq!(
            c.explain(),
            "stream step: one-sweep on 1 thread for n = 3 (weights 384 KiB <= half the 1024 KiB cache per core, 3 rows < 8)"
        );
        let c = StepChoice {
            route: StepRoute::UnitSplit,
            reason: StepReason::Size { bytes: 384 << 10, cache: 1 << 20 },
            n: 16,
            workers: 2,
        };
        assert!(c.explain().ends_with("(16 rows >= 8)"), "{}", c.explain());
    }
}
