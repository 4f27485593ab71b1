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

/// `R̃ = M_R ⊙ R` of every block of `params`, written into `out` (the parameters of an
/// earlier draw, whose storage is reused) or into a copy when `out` has other shapes.
fn drop_into<T: Real>(params: &GruParams<T>, masks: &Masks, out: &mut GruParams<T>) {
    let same_shapes = out.blocks().len() == params.blocks().len()
        && out.blocks().iter().zip(params.blocks()).all(|(o, p)| {
            (o.w().len(), o.r().len(), o.bias().len(), o.norm().len())
                == (p.w().len(), p.r().len(), p.bias().len(), p.norm().len())
        });
    if same_shapes {
        for (o, p) in out.blocks_mut().iter_mut().zip(params.blocks()) {
            o.w_mut().copy_from_slice(p.w());
            o.r_mut().copy_from_slice(p.r());
            o.bias_mut().copy_from_slice(p.bias());
            o.norm_mut().copy_from_slice(p.norm());
        }
    } else {
        *out = params.clone();
    }
    for (blk, b) in out.blocks_mut().iter_mut().enumerate() {
        let h = b.hidden_size();
        masks.apply_weight_mask(blk, h, b.r_mut());
    }
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
                drop_into(params, masks, &mut d.params);
                for (packed, p) in d.packed.iter_mut().zip(d.params.blocks()) {
                    packed.repack(p, scratch);
                }
                d.draw = draw;
                d.generation = generation;
            }
            None => {
                let mut dropped = params.clone();
                drop_into(params, masks, &mut dropped);
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

/// The gradient through the mask: `dR = M_R ⊙ dR̃` in every block of `grads`.
pub(crate) fn mask_grads<T: Real>(grads: &mut GruParams<T>, masks: &Masks) {
    for (blk, b) in grads.blocks_mut().iter_mut().enumerate() {
        let h = b.hidden_size();
        masks.apply_weight_mask(blk, h, b.r_mut());
    }
}
