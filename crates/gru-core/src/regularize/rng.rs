//! The counter-based generator of the regularizers' masks: a pure function of
//! `(seed, draw, site, block, sequence, step, unit)`, so that a mask value does not depend on
//! which thread computes it, how the batch is split or the order of the calls.
//!
//! ```text
//! row  = mix(mix(mix(mix(mix(seed ^ K) ^ m(draw)) ^ m(site, block)) ^ m(sequence)) ^ m(step))
//! bits = mix(row + (unit + 1) · φ)        (SplitMix64's output function, φ = 2^64 / golden ratio)
//! u    = (bits >> 11) · 2^-53 ∈ [0, 1)
//! ```
//! `mix` is SplitMix64's finalizer (a bijection of u64 with full avalanche); `m(w)` mixes each
//! word on its own before it is combined, so that no two keys that differ collide by a shift.

/// 2^64 / golden ratio, SplitMix64's increment.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finalizer.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Which mask a value belongs to (one stream of values each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Site {
    InputDropout = 1,
    RecurrentDropout = 2,
    Zoneout = 3,
    WeightDrop = 4,
}

/// The masks of one training minibatch: the spec's seed and the minibatch's draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MaskKey {
    pub(crate) seed: u64,
    pub(crate) draw: u64,
}

/// The prefix of one row of mask values (one site, block, sequence and step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowKey(u64);

impl MaskKey {
    /// The row of `site` for `block` (layer·dirs + dir, or the layer for the input dropout),
    /// `sequence` (its index in the whole batch) and `step` (the time step; the row of R
    /// for the weight drop; 0 for the per-sequence dropouts).
    #[inline]
    pub(crate) fn row(&self, site: Site, block: usize, sequence: usize, step: usize) -> RowKey {
        let word = |w: u64, k: u64| mix(w ^ k.wrapping_mul(GOLDEN));
        let mut h = mix(self.seed ^ 0x5EED_0F4D_5C00_0000);
        h = mix(h ^ word(self.draw, 1));
        h = mix(h ^ word(((site as u64) << 48) | block as u64, 2));
        h = mix(h ^ word(sequence as u64, 3));
        RowKey(mix(h ^ word(step as u64, 4)))
    }
}

impl RowKey {
    /// The 64 random bits of `unit` (a hidden unit, an input channel, a column of R).
    #[inline]
    pub(crate) fn bits(self, unit: usize) -> u64 {
        mix(self.0.wrapping_add((unit as u64).wrapping_add(1).wrapping_mul(GOLDEN)))
    }

    /// A uniform value in `[0, 1)` for `unit`.
    #[cfg(test)]
    pub(crate) fn uniform(self, unit: usize) -> f64 {
        (self.bits(unit) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// A Bernoulli draw of probability `p` from a unit's bits: `hit` when `u < p`, with `u` the
/// unit's uniform value (compared as 53-bit integers).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bernoulli {
    threshold: u64,
}

impl Bernoulli {
    pub(crate) fn new(p: f64) -> Self {
        Self { threshold: (p.clamp(0.0, 1.0) * (1u64 << 53) as f64) as u64 }
    }

    #[inline]
    pub(crate) fn hit(self, bits: u64) -> bool {
        (bits >> 11) < self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_a_function_of_the_key_alone() {
        let key = MaskKey { seed: 7, draw: 3 };
        let row = key.row(Site::Zoneout, 2, 5, 11);
        assert_eq!(row, MaskKey { seed: 7, draw: 3 }.row(Site::Zoneout, 2, 5, 11));
        assert_eq!(row.bits(4), row.bits(4));
        // Every word of the key changes the values.
        let others = [
            MaskKey { seed: 8, draw: 3 }.row(Site::Zoneout, 2, 5, 11),
            MaskKey { seed: 7, draw: 4 }.row(Site::Zoneout, 2, 5, 11),
            key.row(Site::RecurrentDropout, 2, 5, 11),
            key.row(Site::Zoneout, 3, 5, 11),
            key.row(Site::Zoneout, 2, 6, 11),
            key.row(Site::Zoneout, 2, 5, 12),
            key.row(Site::Zoneout, 2, 11, 5),
        ];
        for other in others {
            assert_ne!(other.bits(4), row.bits(4));
        }
        assert_ne!(row.bits(4), row.bits(5));
    }

    #[test]
    fn uniform_values_have_the_moments_of_uniform_and_bernoulli_its_rate() {
        let key = MaskKey { seed: 1, draw: 0 };
        let n = 200_000;
        let (mut sum, mut sq, mut hits) = (0.0, 0.0, 0usize);
        let coin = Bernoulli::new(0.3);
        for i in 0..n {
            let row = key.row(Site::Zoneout, 0, i / 100, i % 7);
            let u = row.uniform(i % 100);
            sum += u;
            sq += u * u;
            hits += usize::from(coin.hit(row.bits(i % 100)));
        }
        let (mean, var) = (sum / n as f64, sq / n as f64 - (sum / n as f64).powi(2));
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.002, "variance {var}");
        let rate = hits as f64 / n as f64;
        assert!((rate - 0.3).abs() < 0.005, "rate {rate}");
        assert!(!Bernoulli::new(0.0).hit(0) && Bernoulli::new(1.0).hit(u64::MAX));
    }
}
