//! Weight drop (DropConnect on R, AWD-LSTM) for both paths of the native engine: a training
//! call runs on `R̃ = M_R ⊙ R`, one mask per minibatch draw (`M_R ∈ {0, 1/(1-p)}`), and its
//! gradient goes through the mask, `dR = M_R ⊙ dR̃`. The dropped parameters and their packed
//! weights are kept beside the plain ones (inference keeps running on R) and rebuilt when
//! the draw or the parameters change.

use super::packed::PackedBlock;
use crate::params::GruParams;
use crate::real::Real;
use crate::regularize::masks::Masks;
use crate::spec::ResetGateMode;

/// The dropped weights of one draw of one parameter version.
pub(crate) struct DroppedWeights<T> {
    draw: u64,
    generation: u64,
    pub(crate) params: GruParams<T>,
    pub(crate) packed: Vec<PackedBlock<T>>,
}

/// How the dropped weights are packed: as the plain ones (`NativePrepared::prepare`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PackPlan {
    pub(crate) mode: ResetGateMode,
    pub(crate) training: bool,
    pub(crate) unit_threads: usize,
    /// The fast path packs weights; the reference path reads the parameters alone.
    pub(crate) fast: bool,
}

/// The dropped weights of `draw` (masks `masks`) for parameters `params` of version
/// `generation`, built or refreshed in `slot` when they are another draw's or version's.
pub(crate) fn refresh<'a, T: Real>(
    slot: &'a mut Option<DroppedWeights<T>>,
    params: &GruParams<T>,
    generation: u64,
    masks: &Masks,
    draw: u64,
    plan: PackPlan,
    scratch: &mut Vec<T>,
) -> &'a DroppedWeights<T> {
    let fresh = matches!(slot, Some(d) if d.draw == draw && d.generation == generation);
    if !fresh {
        match slot {
            Some(d) => {
                // In place (as `set_params`): the earlier draw's storage is reused.
                d.params.clone_from(params);
                apply_mask(&mut d.params, masks);
                for (packed, p) in d.packed.iter_mut().zip(d.params.blocks()) {
                    packed.repack(p, scratch);
                }
                d.draw = draw;
                d.generation = generation;
            }
            None => {
                let mut dropped = params.clone();
                apply_mask(&mut dropped, masks);
                let packed = if plan.fast {
                    dropped
                        .blocks()
                        .iter()
                        .map(|b| PackedBlock::new(b, plan.mode, plan.training, plan.unit_threads, scratch))
                        .collect()
                } else {
                    Vec::new()
                };
                *slot = Some(DroppedWeights { draw, generation, params: dropped, packed });
            }
        }
    }
    slot.as_ref().expect("filled above")
}

/// Multiplies every block's R by its mask: `R̃ = M_R ⊙ R` of the parameters, and the gradient
/// through the mask, `dR = M_R ⊙ dR̃`.
pub(crate) fn apply_mask<T: Real>(values: &mut GruParams<T>, masks: &Masks) {
    for (blk, b) in values.blocks_mut().iter_mut().enumerate() {
        let h = b.hidden_size();
        masks.apply_weight_mask(blk, h, b.r_mut());
    }
}
