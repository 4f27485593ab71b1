//! The canonical parameters in cuDNN's weight space, and its gradients back.
//!
//! cuDNN's RNN weight space is one buffer; `cudnnGetRNNWeightParams(pseudoLayer,
//! linLayerID)` says where each matrix and bias of a pseudo-layer sits. For `CUDNN_GRU`:
//!
//! ```text
//! pseudo-layer = layer · dirs + dir            (our block index)
//! linLayerID   0    1    2    3    4    5
//! matrix       W_r  W_z  W_n  R_r  R_z  R_n    (H × In or H × H, row-major)
//! bias         b_r  b_z  b_n  b'_r b'_z b'_n   (CUDNN_RNN_DOUBLE_BIAS, H each)
//! ```
//! cuDNN's GRU (`cudnnSetRNNDescriptor_v8` documentation) computes
//! `r = σ(W_r x + b_r + R_r h + b'_r)`, `z = σ(W_z x + b_z + R_z h + b'_z)`,
//! `n = tanh(W_n x + b_n + r ⊙ (R_n h + b'_n))`: our recurrent-bias-after-multiplication mode
//! with the 6H bias as it is, and our after-multiplication mode with the 3H bias as the input
//! bias and the recurrent biases zero (their gradients, equal to the input biases' for r and
//! z, are dropped).
//!
//! The table of places ([`Slot`]) is read from cuDNN at `prepare`; [`model_slots`] is a CPU
//! model of it (the documented order, each piece aligned), for testing the packing where no
//! GPU is.

use gru_core::{BlockParams, Gate, GruParams, GruSpec, Real};

/// Where one linear layer of one pseudo-layer sits in the weight space, in f32 elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub pseudo_layer: usize,
    pub lin_layer_id: usize,
    pub matrix_offset: usize,
    /// `(rows, cols)` of the row-major matrix: `(H, In)` or `(H, H)`.
    pub matrix_shape: (usize, usize),
    pub bias_offset: usize,
    pub bias_len: usize,
}

/// The linear layers of a GRU pseudo-layer.
pub const LIN_LAYERS: usize = 6;

/// linLayerID `id`: the input matrix (`false`) or the recurrent one (`true`), and its gate.
pub fn lin_layer(id: usize) -> (bool, Gate) {
    (id >= 3, Gate::ALL[id % 3])
}

/// `(rows, cols)` of linLayerID `id`'s matrix in block `blk` of `spec`.
pub fn matrix_shape(spec: &GruSpec, blk: usize, id: usize) -> (usize, usize) {
    let layer = blk / spec.directions();
    let cols = if lin_layer(id).0 { spec.hidden_size } else { spec.layer_input_size(layer) };
    (spec.hidden_size, cols)
}

/// A CPU model of cuDNN's table: per pseudo-layer its six matrices, then its six biases,
/// each starting on a multiple of `align` elements. The real table comes from cuDNN.
#[cfg(test)]
pub fn model_slots(spec: &GruSpec, align: usize) -> (Vec<Slot>, usize) {
    let up = |n: usize| n.div_ceil(align.max(1)) * align.max(1);
    let mut at = 0;
    let mut slots = Vec::new();
    for blk in 0..spec.num_blocks() {
        let mut matrix_offsets = Vec::new();
        for id in 0..LIN_LAYERS {
            let (rows, cols) = matrix_shape(spec, blk, id);
            matrix_offsets.push(at);
            at = up(at + rows * cols);
        }
        for (id, &matrix_offset) in matrix_offsets.iter().enumerate() {
            slots.push(Slot {
                pseudo_layer: blk,
                lin_layer_id: id,
                matrix_offset,
                matrix_shape: matrix_shape(spec, blk, id),
                bias_offset: at,
                bias_len: spec.hidden_size,
            });
            at = up(at + spec.hidden_size);
        }
    }
    (slots, at)
}

/// The matrix and bias of `slot` in block `p`: `(matrix, bias)`, the bias `None` where it is
/// zero (a recurrent bias of the 3H layout).
fn sources<'a, T: Real>(p: &'a BlockParams<T>, slot: &Slot) -> (&'a [T], Option<&'a [T]>) {
    match lin_layer(slot.lin_layer_id) {
        (false, g) => (p.w_gate(g), Some(p.input_bias(g))),
        (true, g) => (p.r_gate(g), p.recurrent_bias(g)),
    }
}

/// Writes `params` into the weight space `space` (`f32`, laid out as `slots` say). Every
/// slot was checked against `spec` when the table was read ([`check_slots`]).
pub fn pack<T: Real>(params: &GruParams<T>, slots: &[Slot], space: &mut [f32]) {
    for slot in slots {
        let (m, b) = sources(&params.blocks()[slot.pseudo_layer], slot);
        for (d, &v) in space[slot.matrix_offset..][..m.len()].iter_mut().zip(m) {
            *d = v.widen() as f32;
        }
        let bias = &mut space[slot.bias_offset..][..slot.bias_len];
        match b {
            Some(b) => bias.iter_mut().zip(b).for_each(|(d, &v)| *d = v.widen() as f32),
            None => bias.fill(0.0),
        }
    }
}

/// The gradients in the weight space's layout (`dspace`) as canonical gradients. In the 3H
/// layout the recurrent biases' gradients are dropped (the recurrent biases are zero and
/// not parameters of the layer).
pub fn unpack_grads<T: Real>(spec: &GruSpec, slots: &[Slot], dspace: &[f32]) -> GruParams<T> {
    let mut out = GruParams::<T>::zeros(spec);
    for slot in slots {
        let p = &mut out.blocks_mut()[slot.pseudo_layer];
        let (recurrent, g) = lin_layer(slot.lin_layer_id);
        let m = if recurrent { p.r_gate_mut(g) } else { p.w_gate_mut(g) };
        for (d, &v) in m.iter_mut().zip(&dspace[slot.matrix_offset..]) {
            *d = T::lit(f64::from(v));
        }
        let bias = if recurrent { p.recurrent_bias_mut(g) } else { Some(p.input_bias_mut(g)) };
        if let Some(bias) = bias {
            for (d, &v) in bias.iter_mut().zip(&dspace[slot.bias_offset..]) {
                *d = T::lit(f64::from(v));
            }
        }
    }
    out
}

/// Checks a table read from cuDNN against `spec`: one slot per pseudo-layer and linLayerID,
/// each matrix of the shape the canonical layout has, everything inside a space of `len`
/// elements. A mismatch means this cuDNN lays its GRU out in a way this engine does not
/// know: refused, never guessed.
pub fn check_slots(spec: &GruSpec, slots: &[Slot], len: usize) -> Result<(), String> {
    if slots.len() != spec.num_blocks() * LIN_LAYERS {
        return Err(format!("{} weight slots, expected {}", slots.len(), spec.num_blocks() * LIN_LAYERS));
    }
    for s in slots {
        let want = matrix_shape(spec, s.pseudo_layer, s.lin_layer_id);
        let end_m = s.matrix_offset + want.0 * want.1;
        if s.matrix_shape != want || s.bias_len != spec.hidden_size || end_m > len || s.bias_offset + s.bias_len > len {
            return Err(format!(
                "pseudo-layer {} linLayerID {}: matrix {:?} at {}, bias {} at {} in {len} elements; expected matrix {want:?}, bias {}",
                s.pseudo_layer, s.lin_layer_id, s.matrix_shape, s.matrix_offset, s.bias_len, s.bias_offset, spec.hidden_size
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gru_core::ResetGateMode;

    fn numbered(spec: &GruSpec) -> GruParams<f64> {
        let mut p = GruParams::<f64>::zeros(spec);
        let mut k = 1.0;
        for b in p.blocks_mut() {
            let (w, r, bias) = b.parts_mut();
            for v in w.iter_mut().chain(r.iter_mut()).chain(bias.iter_mut()) {
                *v = k;
                k += 1.0;
            }
        }
        p
    }

    #[test]
    fn the_gates_land_on_cudnns_linear_layers_and_come_back() {
        for mode in [ResetGateMode::RecurrentBiasAfterMultiplication, ResetGateMode::AfterMultiplication] {
            for (depth, bi, input) in [(1, false, 3), (2, true, 5), (3, false, 4)] {
                let spec = GruSpec::new(input, 4).with_depth(depth).with_bidirectional(bi).with_reset_gate_mode(mode);
                let params = numbered(&spec);
                let (slots, len) = model_slots(&spec, 64);
                check_slots(&spec, &slots, len).unwrap();
                let mut space = vec![f32::NAN; len];
                pack(&params, &slots, &mut space);
                // Block 0's W_z (linLayerID 1) and R_n (linLayerID 5), by the canonical rows.
                let b0 = &params.blocks()[0];
                let s1 = &slots[1];
                assert_eq!((s1.pseudo_layer, s1.lin_layer_id), (0, 1));
                assert_eq!(space[s1.matrix_offset] as f64, b0.w_gate(Gate::Update)[0]);
                assert_eq!(space[s1.matrix_offset + input * 4 - 1] as f64, *b0.w_gate(Gate::Update).last().unwrap());
                let s5 = &slots[5];
                assert_eq!(space[s5.matrix_offset + 5] as f64, b0.r_gate(Gate::Candidate)[5]);
                assert_eq!(space[slots[2].bias_offset + 3] as f64, b0.input_bias(Gate::Candidate)[3]);
                match b0.recurrent_bias(Gate::Reset) {
                    Some(b) => assert_eq!(space[slots[3].bias_offset] as f64, b[0]),
                    None => assert_eq!(space[slots[3].bias_offset], 0.0, "3H layout: b'_r is zero"),
                }
                let back: GruParams<f64> = unpack_grads(&spec, &slots, &space);
                assert_eq!(back, params, "{mode:?} depth {depth} bidirectional {bi}");
            }
        }
    }

    #[test]
    fn a_table_of_another_shape_is_refused() {
        let spec = GruSpec::new(3, 4);
        let (mut slots, len) = model_slots(&spec, 1);
        assert!(check_slots(&spec, &slots[..5], len).unwrap_err().contains("5 weight slots"));
        slots[4].matrix_shape = (4, 3);
        let e = check_slots(&spec, &slots, len).unwrap_err();
        assert!(e.contains("linLayerID 4") && e.contains("expected matrix (4, 4)"), "{e}");
        let (slots, len) = model_slots(&spec, 1);
        assert!(check_slots(&spec, &slots, len - 1).is_err(), "a bias past the end");
    }
}
