//! The masks of one call, drawn from the counter-based generator (`rng.rs`), and their
//! inference form (the expectation). Sequences are keyed by their index in the whole batch
//! (`seq_offset` + the index in a thread's part), so a part of the batch draws the masks the
//! whole batch draws for its sequences.
//!
//! ```text
//! dropout (input, recurrent, weight):  m = 0 with probability p, else 1 / (1 - p)
//! zoneout:                             k = 1 with probability p, else 0     (inference: k = p)
//! ```

use std::ops::Range;

use super::options::Regularization;
use super::rng::{Bernoulli, MaskKey, Site};
use crate::real::Real;

/// How the call draws its masks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Masks {
    reg: Regularization,
    key: MaskKey,
    /// Training (masks drawn) or inference (the expectation).
    training: bool,
    /// Index in the whole batch of this part's first sequence.
    seq_offset: usize,
}

/// Zoneout's keep factor `k` of a call: none, the expectation `p` (inference), or drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Zoneout {
    Off,
    Expectation(f64),
    Drawn,
}

impl Masks {
    /// The masks of a training call with the minibatch's `draw`.
    pub(crate) fn training(reg: &Regularization, draw: u64) -> Self {
        Self { reg: *reg, key: MaskKey { seed: reg.seed, draw }, training: true, seq_offset: 0 }
    }

    /// The inference form of `reg` (no mask; zoneout's expectation).
    pub(crate) fn inference(reg: &Regularization) -> Self {
        Self { reg: *reg, key: MaskKey { seed: reg.seed, draw: 0 }, training: false, seq_offset: 0 }
    }

    /// The same masks for the part of the batch that starts at sequence `offset`.
    pub(crate) fn part(self, offset: usize) -> Self {
        Self { seq_offset: self.seq_offset + offset, ..self }
    }

    pub(crate) fn layer_norm(&self) -> bool {
        self.reg.layer_norm
    }

    /// Whether a block's sweep differs from the plain one: a recurrent dropout or zoneout
    /// mask to apply, zoneout's expectation, or layer norm.
    pub(crate) fn changes_sweep(&self) -> bool {
        self.recurrent_dropout_rate().is_some() || self.zoneout() != Zoneout::Off || self.reg.layer_norm
    }

    fn drawn(&self, p: f64) -> Option<f64> {
        (self.training && p > 0.0).then_some(p)
    }

    pub(crate) fn recurrent_dropout_rate(&self) -> Option<f64> {
        self.drawn(self.reg.recurrent_dropout)
    }

    pub(crate) fn input_dropout_rate(&self) -> Option<f64> {
        self.drawn(self.reg.input_dropout)
    }

    pub(crate) fn weight_drop_rate(&self) -> Option<f64> {
        self.drawn(self.reg.weight_drop)
    }

    pub(crate) fn zoneout(&self) -> Zoneout {
        match (self.reg.zoneout > 0.0, self.training) {
            (false, _) => Zoneout::Off,
            (true, false) => Zoneout::Expectation(self.reg.zoneout),
            (true, true) => Zoneout::Drawn,
        }
    }

    /// The input dropout mask of `layer`, `[B, width]` for this part's `batch` sequences, or
    /// `None` when there is none.
    pub(crate) fn input_mask<T: Real>(&self, layer: usize, batch: usize, width: usize) -> Option<Vec<T>> {
        let p = self.input_dropout_rate()?;
        Some(self.per_sequence(Site::InputDropout, layer, p, batch, width))
    }

    /// The recurrent dropout mask of `block`, `[B, H]`, or `None` when there is none.
    pub(crate) fn recurrent_mask<T: Real>(&self, block: usize, batch: usize, hid: usize) -> Option<Vec<T>> {
        let p = self.recurrent_dropout_rate()?;
        Some(self.per_sequence(Site::RecurrentDropout, block, p, batch, hid))
    }

    fn per_sequence<T: Real>(&self, site: Site, block: usize, p: f64, batch: usize, width: usize) -> Vec<T> {
        let mut m = vec![T::zero(); batch * width];
        for (b, row) in m.chunks_exact_mut(width.max(1)).enumerate() {
            let key = self.key.row(site, block, self.seq_offset + b, 0);
            dropout_values(key, p, 0, row);
        }
        m
    }

    /// Zoneout's keep factors `k` of `units` of `block`, for sequence `b` of this part at step
    /// `t`, into `out` (`units.len()` values): drawn (0 or 1) in training, `p` in inference.
    /// Call only when [`Masks::zoneout`] is not `Off`.
    #[inline]
    pub(crate) fn zoneout_keep<T: Real>(&self, block: usize, b: usize, t: usize, units: Range<usize>, out: &mut [T]) {
        match self.zoneout() {
            Zoneout::Off => out.fill(T::zero()),
            Zoneout::Expectation(p) => out.fill(T::lit(p)),
            Zoneout::Drawn => {
                let key = self.key.row(Site::Zoneout, block, self.seq_offset + b, t);
                let coin = Bernoulli::new(self.reg.zoneout);
                for (o, unit) in out.iter_mut().zip(units) {
                    *o = if coin.hit(key.bits(unit)) { T::one() } else { T::zero() };
                }
            }
        }
    }

    /// Multiplies `values`, `block`'s R (`rows × cols`, row-major), by its weight-drop mask:
    /// `R̃ = M_R ⊙ R` (also the gradient's `dR = M_R ⊙ dR̃`). Returns false, leaving `values`
    /// as they are, when there is no weight drop. In place, row by row: no mask of the size
    /// of R is built on each call.
    pub(crate) fn apply_weight_mask<T: Real>(&self, block: usize, cols: usize, values: &mut [T]) -> bool {
        let Some(p) = self.weight_drop_rate() else { return false };
        let mut mask = vec![T::zero(); cols];
        for (i, row) in values.chunks_exact_mut(cols.max(1)).enumerate() {
            dropout_values(self.key.row(Site::WeightDrop, block, 0, i), p, 0, &mut mask);
            row.iter_mut().zip(&mask).for_each(|(v, &m)| *v *= m);
        }
        true
    }
}

/// Inverted dropout values of probability `p` from a row's bits: `0` or `1 / (1 - p)`, for
/// the units `first..first + out.len()`.
fn dropout_values<T: Real>(key: super::rng::RowKey, p: f64, first: usize, out: &mut [T]) {
    let coin = Bernoulli::new(p);
    let keep = T::lit(1.0 / (1.0 - p));
    for (j, o) in out.iter_mut().enumerate() {
        *o = if coin.hit(key.bits(first + j)) { T::zero() } else { keep };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_of_the_batch_draws_what_the_whole_batch_draws_for_its_sequences() {
        let reg = Regularization::NONE.with_recurrent_dropout(0.4).with_input_dropout(0.3).with_zoneout(0.2);
        let whole = Masks::training(&reg, 5);
        let part = whole.part(3);
        let m_whole: Vec<f64> = whole.recurrent_mask(1, 7, 6).unwrap();
        let m_part: Vec<f64> = part.recurrent_mask(1, 4, 6).unwrap();
        assert_eq!(&m_whole[18..], &m_part[..]);
        let x_whole: Vec<f32> = whole.input_mask(0, 7, 2).unwrap();
        assert_eq!(&x_whole[6..], &part.input_mask::<f32>(0, 4, 2).unwrap()[..]);
        let (mut a, mut b) = ([0.0f64; 6], [0.0f64; 4]);
        whole.zoneout_keep(1, 4, 9, 0..6, &mut a);
        part.zoneout_keep(1, 1, 9, 2..6, &mut b);
        assert_eq!(&a[2..], &b[..]);
        // Values: 0 or the inverted scale; zoneout 0 or 1.
        assert!(m_whole.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.6).abs() < 1e-15));
        assert!(m_whole.contains(&0.0) && m_whole.iter().any(|&v| v > 1.0));
        assert!(a.iter().all(|&v| v == 0.0 || v == 1.0));
    }

    #[test]
    fn inference_has_no_mask_and_zoneout_its_expectation() {
        let reg = Regularization::NONE.with_recurrent_dropout(0.4).with_weight_drop(0.5).with_zoneout(0.2);
        let m = Masks::inference(&reg);
        let mut r = [1.5f64; 9];
        assert!(m.recurrent_mask::<f64>(0, 2, 3).is_none() && !m.apply_weight_mask(0, 3, &mut r));
        assert_eq!(r, [1.5; 9], "no weight drop in inference: R unchanged");
        assert_eq!(m.zoneout(), Zoneout::Expectation(0.2));
        let mut k = [0.0f64; 3];
        m.zoneout_keep(0, 0, 0, 0..3, &mut k);
        assert_eq!(k, [0.2; 3]);
        assert!(m.changes_sweep());
        assert!(!Masks::inference(&Regularization::NONE.with_recurrent_dropout(0.3)).changes_sweep());
        // In training R is scaled by 0 or 1 / (1 - p), about half of it dropped.
        let mut w = vec![3.0f64; 30 * 40];
        assert!(Masks::training(&reg, 1).apply_weight_mask(0, 40, &mut w));
        assert!(w.iter().all(|&v| v == 0.0 || v == 6.0));
        let dropped = w.iter().filter(|&&v| v == 0.0).count() as f64 / w.len() as f64;
        assert!((dropped - 0.5).abs() < 0.1, "{dropped}");
        // A row's mask depends on the row alone: the first 30 rows of a taller R match.
        let mut tall = vec![3.0f64; 31 * 40];
        Masks::training(&reg, 1).apply_weight_mask(0, 40, &mut tall);
        assert_eq!(&tall[..30 * 40], &w[..]);
    }
}
