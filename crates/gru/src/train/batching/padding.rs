//! Padded batches from the user (`SequencePaddingDirection` `"left"` or `"right"`) to the
//! engine's layout (valid steps first) and back.

use gru_core::Real;

use super::PaddingDirection;
use crate::error::{Error, Result};

/// Moves the valid steps of each sequence of a padded batch `x: [steps, batch, channels]`
/// (time-major) from where `from` puts them to where `to` puts them; padding becomes zero.
fn realign<T: Real>(
    x: &[T],
    (steps, batch, channels): (usize, usize, usize),
    lengths: &[usize],
    from: PaddingDirection,
    to: PaddingDirection,
) -> Result<Vec<T>> {
    if x.len() != steps * batch * channels {
        let reason = format!("expected {steps}·{batch}·{channels} = {} values ([T, B, C])", steps * batch * channels);
        return Err(Error::data("x", x.len(), reason));
    }
    if lengths.len() != batch {
        return Err(Error::data("lengths", lengths.len(), format!("expected one length per sequence ({batch})")));
    }
    if let Some((b, &l)) = lengths.iter().enumerate().find(|(_, &l)| l > steps) {
        return Err(Error::data(&format!("lengths[{b}]"), l, format!("a length must be in 0..={steps}")));
    }
    let first = |dir: PaddingDirection, l: usize| if dir == PaddingDirection::Left { steps - l } else { 0 };
    let mut y = vec![T::zero(); x.len()];
    for (b, &l) in lengths.iter().enumerate() {
        let (src0, dst0) = (first(from, l), first(to, l));
        for t in 0..l {
            let src = ((src0 + t) * batch + b) * channels;
            let dst = ((dst0 + t) * batch + b) * channels;
            y[dst..dst + channels].copy_from_slice(&x[src..src + channels]);
        }
    }
    Ok(y)
}

/// Converts a user's padded batch `x: [steps, batch, channels]` (time-major) laid out with
/// `direction` (`Left`: sequence `b` holds its valid steps in the last `lengths[b]` steps) to
/// valid steps first, as the engine takes it. `Right` copies the valid steps in place.
/// Padding positions of the result are zero. Errors (`Error::Data`): `x` not of
/// `steps·batch·channels` values, `lengths` not of `batch` values or one past `steps` (a
/// length of 0 is an empty sequence: all padding).
pub fn to_valid_first<T: Real>(
    x: &[T],
    steps: usize,
    batch: usize,
    channels: usize,
    lengths: &[usize],
    direction: PaddingDirection,
) -> Result<Vec<T>> {
    realign(x, (steps, batch, channels), lengths, direction, PaddingDirection::Right)
}

/// The inverse of [`to_valid_first`]: puts the valid steps of an engine output
/// `x: [steps, batch, channels]` (valid steps first) where `direction` expects them (`Left`:
/// the last `lengths[b]` steps). Padding positions of the result are zero; same errors.
pub fn from_valid_first<T: Real>(
    x: &[T],
    steps: usize,
    batch: usize,
    channels: usize,
    lengths: &[usize],
    direction: PaddingDirection,
) -> Result<Vec<T>> {
    realign(x, (steps, batch, channels), lengths, PaddingDirection::Right, direction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_data(r: Result<impl std::fmt::Debug>) -> bool {
        matches!(r, Err(Error::Data { .. }))
    }

    #[test]
    fn valid_first_placement_and_round_trip() {
        // x: [3, 2, 1], Left: sequence 0 (length 2) at t = 1, 2; sequence 1 (length 3) everywhere.
        let x = [9.0, 10.0, 1.0, 11.0, 2.0, 12.0];
        let v = to_valid_first(&x, 3, 2, 1, &[2, 3], PaddingDirection::Left).unwrap();
        assert_eq!(v, [1.0, 10.0, 2.0, 11.0, 0.0, 12.0]);
        let back = from_valid_first(&v, 3, 2, 1, &[2, 3], PaddingDirection::Left).unwrap();
        assert_eq!(back, [0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
        let right = to_valid_first(&x, 3, 2, 1, &[2, 3], PaddingDirection::Right).unwrap();
        assert_eq!(right, [9.0, 10.0, 1.0, 11.0, 0.0, 12.0]);
    }

    #[test]
    fn valid_first_errors() {
        let x = [0.0f32; 6];
        let d = PaddingDirection::Left;
        assert!(is_data(to_valid_first(&x, 3, 2, 2, &[1, 1], d)));
        assert!(is_data(to_valid_first(&x, 3, 2, 1, &[1], d)));
        assert!(is_data(from_valid_first(&x, 3, 2, 1, &[4, 1], d)));
    }

    #[test]
    fn an_empty_sequence_is_all_padding() {
        // x: [2, 2, 1], Left: sequence 0 empty (NaN padding), sequence 1 of length 1 at t = 1.
        let x = [f64::NAN, f64::NAN, f64::NAN, 5.0];
        let v = to_valid_first(&x, 2, 2, 1, &[0, 1], PaddingDirection::Left).unwrap();
        assert_eq!(v, [0.0, 5.0, 0.0, 0.0]);
        let back = from_valid_first(&v, 2, 2, 1, &[0, 1], PaddingDirection::Left).unwrap();
        assert_eq!(back, [0.0, 0.0, 0.0, 5.0]);
    }

    fn direction() -> impl Strategy<Value = PaddingDirection> {
        prop_oneof![Just(PaddingDirection::Right), Just(PaddingDirection::Left)]
    }

    proptest! {
        #[test]
        fn valid_first_round_trip(
            lens in prop::collection::vec(0usize..6, 1..5),
            c in 1usize..3,
            dir in direction(),
        ) {
            let (steps, batch) = (lens.iter().copied().max().unwrap_or(1).max(1), lens.len());
            let x: Vec<f64> = (0..steps * batch * c).map(|k| k as f64 + 1.0).collect();
            let v = to_valid_first(&x, steps, batch, c, &lens, dir).unwrap();
            let back = from_valid_first(&v, steps, batch, c, &lens, dir).unwrap();
            for t in 0..steps {
                for (b, &l) in lens.iter().enumerate() {
                    let valid = match dir {
                        PaddingDirection::Right => t < l,
                        PaddingDirection::Left => t >= steps - l,
                    };
                    let at = (t * batch + b) * c;
                    let want = if valid { &x[at..at + c] } else { &[0.0; 2][..c] };
                    prop_assert_eq!(&back[at..at + c], want);
                    if t >= l {
                        prop_assert!(v[at..at + c].iter().all(|&e| e == 0.0));
                    }
                }
            }
        }
    }
}
