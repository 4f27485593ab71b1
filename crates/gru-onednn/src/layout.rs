//! The canonical parameters (gate order r, z, n; `W` 3H×In and `R` 3H×H row-major) in
//! oneDNN's user layouts, and oneDNN's weight gradients back in the canonical layout.
//!
//! oneDNN's gate order is u, r, o, where u is our update gate z and o our candidate n.
//! Per part (a range of layers run by one primitive, every direction):
//!
//! ```text
//! weights_layer  ldgoi  [L, dirs, G=3, H, SLC]   = W_g (H × SLC rows) for g in u, r, o
//! weights_iter   ldgoi  [L, dirs, G=3, H, H]     = R_g (H × H rows)   for g in u, r, o
//! bias           ldgo   [L, dirs, G, H]
//!   gru      (before-multiplication), G = 3:  [b_z, b_r, b_n]
//!   lbr_gru  (recurrent-bias-after),  G = 4:  [b_z + b'_z, b_r + b'_r, b_n, b'_n]
//!   lbr_gru  (after-multiplication),  G = 4:  [b_z, b_r, b_n, 0]
//! ```
//! `ldgoi` is our row-major `W` with its gate blocks reordered, so the conversion is a
//! block copy; oneDNN reorders it into whatever its kernels want (see `rnn.rs`).
//! Gradients come back the same way: `db_z = db'_z = d(b_u)`, `db_r = db'_r = d(b_r)`,
//! `db_n = d(b_o)`, `db'_n = d(b'_o)`; after-multiplication drops `d(b'_o)`.

use std::ops::Range;

use gru_core::{Gate, GruParams, Real, ResetGateMode};

/// oneDNN's gate order: u (our z), r, o (our n).
pub const ONEDNN_GATES: [Gate; 3] = [Gate::Update, Gate::Reset, Gate::Candidate];

/// The oneDNN cell that computes a reset-gate mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cell {
    /// `dnnl_vanilla_gru`: `o = tanh(W_o x + U_o (r ⊙ h) + b_o)` (before-multiplication).
    Gru,
    /// `dnnl_lbr_gru`: `o = tanh(W_o x + b_o + r ⊙ (U_o h + b'_o))`.
    LbrGru,
}

impl Cell {
    /// Before-multiplication is `gru`; the two after-multiplication modes are `lbr_gru`.
    pub fn of(mode: ResetGateMode) -> Self {
        match mode {
            ResetGateMode::BeforeMultiplication => Cell::Gru,
            ResetGateMode::AfterMultiplication | ResetGateMode::RecurrentBiasAfterMultiplication => Cell::LbrGru,
        }
    }

    /// G of the bias: 3, or 4 for `lbr_gru` (the extra `b'_o`).
    pub fn bias_gates(self) -> usize {
        match self {
            Cell::Gru => 3,
            Cell::LbrGru => 4,
        }
    }
}

/// One part's parameters in oneDNN's user layouts (f32).
#[derive(Clone, Debug, PartialEq)]
pub struct PartWeights {
    /// `[L, dirs, 3, H, SLC]` (ldgoi).
    pub layer: Vec<f32>,
    /// `[L, dirs, 3, H, H]` (ldgoi).
    pub iter: Vec<f32>,
    /// `[L, dirs, G, H]` (ldgo).
    pub bias: Vec<f32>,
}

impl PartWeights {
    /// All zero, for `blocks` blocks reading `slc` channels.
    pub fn zeros(blocks: usize, slc: usize, hidden: usize, cell: Cell) -> Self {
        Self {
            layer: vec![0.0; blocks * 3 * hidden * slc],
            iter: vec![0.0; blocks * 3 * hidden * hidden],
            bias: vec![0.0; blocks * cell.bias_gates() * hidden],
        }
    }

    /// Adds `other` element-wise (gradients of several groups of one batch).
    pub fn add(&mut self, other: &PartWeights) {
        for (a, b) in [(&mut self.layer, &other.layer), (&mut self.iter, &other.iter), (&mut self.bias, &other.bias)] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }
}

fn narrow<T: Real>(v: &[T]) -> impl Iterator<Item = f32> + '_ {
    v.iter().map(|x| x.widen() as f32)
}

/// Packs blocks `blocks` (indexed `layer·dirs + dir`) of `params` for a part.
pub fn pack<T: Real>(params: &GruParams<T>, mode: ResetGateMode, blocks: Range<usize>) -> PartWeights {
    let cell = Cell::of(mode);
    let (mut layer, mut iter, mut bias) = (Vec::new(), Vec::new(), Vec::new());
    for b in &params.blocks()[blocks] {
        for g in ONEDNN_GATES {
            layer.extend(narrow(b.w_gate(g)));
            iter.extend(narrow(b.r_gate(g)));
        }
        let h = b.hidden_size();
        match cell {
            Cell::Gru => {
                for g in ONEDNN_GATES {
                    bias.extend(narrow(b.input_bias(g)));
                }
            }
            Cell::LbrGru => {
                // u and r: the recurrent bias adds to the input bias outside any product.
                for g in [Gate::Update, Gate::Reset] {
                    match b.recurrent_bias(g) {
                        Some(rec) => {
                            bias.extend(b.input_bias(g).iter().zip(rec).map(|(x, y)| (x.widen() + y.widen()) as f32))
                        }
                        None => bias.extend(narrow(b.input_bias(g))),
                    }
                }
                bias.extend(narrow(b.input_bias(Gate::Candidate)));
                match b.recurrent_bias(Gate::Candidate) {
                    Some(rec) => bias.extend(narrow(rec)),
                    None => bias.extend(std::iter::repeat_n(0.0, h)),
                }
            }
        }
    }
    PartWeights { layer, iter, bias }
}

/// Writes a part's weight gradients (oneDNN user layouts) into blocks `blocks` of `grads`.
pub fn unpack_grads<T: Real>(g: &PartWeights, mode: ResetGateMode, blocks: Range<usize>, grads: &mut GruParams<T>) {
    let cell = Cell::of(mode);
    let lit = |v: &[f32]| v.iter().map(|&x| T::lit(f64::from(x))).collect::<Vec<T>>();
    for (k, b) in grads.blocks_mut()[blocks].iter_mut().enumerate() {
        let (h, slc) = (b.hidden_size(), b.input_size());
        let layer = &g.layer[k * 3 * h * slc..][..3 * h * slc];
        let iter = &g.iter[k * 3 * h * h..][..3 * h * h];
        let bias = &g.bias[k * cell.bias_gates() * h..][..cell.bias_gates() * h];
        for (gi, gate) in ONEDNN_GATES.into_iter().enumerate() {
            b.w_gate_mut(gate).copy_from_slice(&lit(&layer[gi * h * slc..][..h * slc]));
            b.r_gate_mut(gate).copy_from_slice(&lit(&iter[gi * h * h..][..h * h]));
            let db = lit(&bias[gi * h..][..h]);
            b.input_bias_mut(gate).copy_from_slice(&db);
            // b'_z and b'_r add to b_z and b_r: the same gradient.
            if gate != Gate::Candidate {
                if let Some(rec) = b.recurrent_bias_mut(gate) {
                    rec.copy_from_slice(&db);
                }
            }
        }
        if let Some(rec) = b.recurrent_bias_mut(Gate::Candidate) {
            rec.copy_from_slice(&lit(&bias[3 * h..][..h]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gru_core::GruSpec;

    /// Parameters whose every value names its block, tensor, gate and position.
    fn labelled(spec: &GruSpec) -> GruParams<f64> {
        let mut p = GruParams::zeros(spec);
        for (k, b) in p.blocks_mut().iter_mut().enumerate() {
            for (gi, g) in Gate::ALL.into_iter().enumerate() {
                let tag = |t: usize, i: usize| (1000 * k + 100 * t + 10 * gi) as f64 + i as f64 * 1e-3;
                b.w_gate_mut(g).iter_mut().enumerate().for_each(|(i, v)| *v = tag(1, i));
                b.r_gate_mut(g).iter_mut().enumerate().for_each(|(i, v)| *v = tag(2, i));
                b.input_bias_mut(g).iter_mut().enumerate().for_each(|(i, v)| *v = tag(3, i));
                if let Some(r) = b.recurrent_bias_mut(g) {
                    r.iter_mut().enumerate().for_each(|(i, v)| *v = tag(4, i));
                }
            }
        }
        p
    }

    #[test]
    fn gates_are_u_r_o_and_blocks_follow_layer_dirs() {
        let spec = GruSpec::new(2, 3).with_depth(2).with_bidirectional(true);
        let p = labelled(&spec);
        let w = pack(&p, spec.reset_gate_mode, 2..4);
        let (h, slc) = (3, 6);
        // Block 2 (layer 1, forward), gate u = z (canonical index 1), first row.
        assert_eq!(w.layer[0] as f64, 2110.0);
        // Gate r (canonical 0) follows, then o = n (canonical 2).
        assert_eq!(w.layer[h * slc] as f64, 2100.0);
        assert_eq!(w.layer[2 * h * slc] as f64, 2120.0);
        // Block 3 starts after 3·H·SLC values.
        assert_eq!(w.layer[3 * h * slc] as f64, 3110.0);
        assert_eq!(w.iter[h * h] as f64, 2200.0);
        // After-multiplication: [b_z, b_r, b_n, 0].
        assert_eq!(
            &w.bias[..4 * h].iter().map(|&v| v.round() as i64).collect::<Vec<_>>(),
            &[2310, 2310, 2310, 2300, 2300, 2300, 2320, 2320, 2320, 0, 0, 0]
        );
    }

    #[test]
    fn recurrent_bias_folds_into_u_and_r_and_gradients_come_back() {
        let spec = GruSpec::new(2, 1).with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication);
        let p = labelled(&spec);
        let w = pack(&p, spec.reset_gate_mode, 0..1);
        // [b_z + b'_z, b_r + b'_r, b_n, b'_n]
        assert_eq!(w.bias, vec![310.0 + 410.0, 300.0 + 400.0, 320.0, 420.0]);

        let mut g = GruParams::<f64>::zeros(&spec);
        unpack_grads(&w, spec.reset_gate_mode, 0..1, &mut g);
        let b = &g.blocks()[0];
        assert_eq!(b.input_bias(Gate::Update), &[720.0]);
        assert_eq!(b.recurrent_bias(Gate::Update).unwrap(), &[720.0]);
        assert_eq!(b.input_bias(Gate::Reset), &[700.0]);
        assert_eq!(b.recurrent_bias(Gate::Reset).unwrap(), &[700.0]);
        assert_eq!(b.input_bias(Gate::Candidate), &[320.0]);
        assert_eq!(b.recurrent_bias(Gate::Candidate).unwrap(), &[420.0]);
        // Weights round-trip exactly (f32 holds these labels).
        assert_eq!(b.w(), p.blocks()[0].w().iter().map(|&v| v as f32 as f64).collect::<Vec<_>>());
        assert_eq!(b.r(), p.blocks()[0].r().iter().map(|&v| v as f32 as f64).collect::<Vec<_>>());
    }

    #[test]
    fn before_multiplication_is_gru_with_three_biases() {
        let spec = GruSpec::new(1, 2).with_reset_gate_mode(ResetGateMode::BeforeMultiplication);
        let p = labelled(&spec);
        let w = pack(&p, spec.reset_gate_mode, 0..1);
        assert_eq!(Cell::of(spec.reset_gate_mode), Cell::Gru);
        assert_eq!(w.bias.iter().map(|&v| v.round() as i64).collect::<Vec<_>>(), vec![310, 310, 300, 300, 320, 320]);
        let mut g = GruParams::<f64>::zeros(&spec);
        unpack_grads(&w, spec.reset_gate_mode, 0..1, &mut g);
        assert_eq!(
            g.blocks()[0].bias().iter().map(|&v| v.round() as i64).collect::<Vec<_>>(),
            vec![300, 300, 310, 310, 320, 320]
        );
    }
}
