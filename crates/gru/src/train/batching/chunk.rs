//! Epoch orders, minibatches, and the chunks of a minibatch for the engine (`Shuffle`,
//! `MiniBatchSize`, `SequenceLength`).

use gru_core::Real;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{PaddingDirection, PartialMiniBatch, SequenceLength, Shuffle};
use crate::error::{Error, Result};

/// Order of the `n` training observations in `epoch` (0-based).
///
/// - `Never`: `0..n`.
/// - `Once`: one permutation, drawn from `ChaCha8Rng::seed_from_u64(seed)` (stream 0), the
///   same in every epoch.
/// - `EveryEpoch`: the permutation drawn from the same generator on stream `epoch` (so epoch 0
///   equals `Once`).
///
/// Deterministic: a resumed run recomputes the same orders from `(seed, epoch)` alone.
pub fn epoch_order(n: usize, shuffle: Shuffle, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let stream = match shuffle {
        Shuffle::Never => return order,
        Shuffle::Once => 0,
        Shuffle::EveryEpoch => epoch as u64,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    order.shuffle(&mut rng);
    order
}

/// Consecutive minibatches of `size` observations of `order` (indices into the data set).
///
/// With `discard_partial` (MATLAB training), the observations that do not fill a last complete
/// minibatch are dropped; when `order.len() < size` there is one minibatch of all of them.
/// Without it (validation, prediction) the last minibatch may be shorter. An empty `order`
/// gives no minibatch. `size = 0` is an error.
pub fn minibatches(order: &[usize], size: usize, discard_partial: bool) -> Result<Vec<Vec<usize>>> {
    if size == 0 {
        return Err(Error::data("MiniBatchSize", 0, "the minibatch size must be a positive integer"));
    }
    let used = if discard_partial && order.len() >= size { order.len() / size * size } else { order.len() };
    Ok(order[..used].chunks(size).map(<[usize]>::to_vec).collect())
}

/// The minibatches of one training epoch (0-based) over observations of `steps[i]` steps:
/// `size` observations each; a last partial minibatch is trained on or left out as `partial`
/// says (see [`minibatches`]).
///
/// - Without `sort_by_length`: the minibatches of [`epoch_order`], in order.
/// - With `sort_by_length` (sequences of similar length share a minibatch, so little
///   padding is computed): the order of [`epoch_order`] sorted by length, stably (equal
///   lengths keep their shuffled order), cut into minibatches, shortest first; unless
///   `shuffle` is `Never`, the minibatches (not the sequences) are then put in a random
///   order, drawn as [`epoch_order`] draws its permutation (another generator of the same
///   seed: once for `Once`, per epoch for `EveryEpoch`). The partial minibatch is the one
///   of the longest sequences.
///
/// Deterministic: the same `(seed, epoch)` give the same minibatches.
pub fn epoch_batches(
    steps: &[usize],
    size: usize,
    shuffle: Shuffle,
    seed: u64,
    epoch: usize,
    sort_by_length: bool,
    partial: PartialMiniBatch,
) -> Result<Vec<Vec<usize>>> {
    let mut order = epoch_order(steps.len(), shuffle, seed, epoch);
    if !sort_by_length {
        return minibatches(&order, size, partial.discards());
    }
    order.sort_by_key(|&i| steps[i]);
    let mut batches = minibatches(&order, size, partial.discards())?;
    let stream = match shuffle {
        Shuffle::Never => return Ok(batches),
        Shuffle::Once => 0,
        Shuffle::EveryEpoch => epoch as u64,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xBA7C_4E50_0000_0000);
    rng.set_stream(stream);
    batches.shuffle(&mut rng);
    Ok(batches)
}

/// One chunk of a minibatch, ready for the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk<T> {
    /// Inputs `[steps, members.len(), C]` time-major, valid steps first, padding zero.
    pub x: Vec<T>,
    /// Number of time steps `T` of `x`.
    pub steps: usize,
    /// Positions (`0..B`) within the minibatch of the sequences with valid steps in this chunk,
    /// ascending.
    pub members: Vec<usize>,
    /// Valid steps of each member in this chunk (`1..=steps`; 0 for an empty sequence, a
    /// member of the first chunk only).
    pub lengths: Vec<usize>,
    /// Index, in the member's sequence, of its first step in this chunk.
    pub offsets: Vec<usize>,
    /// This chunk holds the member's first used step: its state starts from the initial state
    /// (otherwise it continues the state carried from the previous chunk).
    pub starts: Vec<bool>,
    /// This chunk holds the member's last used step (sequence-to-one losses are taken there).
    pub ends: Vec<bool>,
}

/// Splits a minibatch of sequences (each `[len_i, C]` row-major, `len_i >= 0`) into chunks
/// `[steps, members, C]` for the engine:
///
/// - `Longest`: one chunk, `steps` = the longest length, every sequence whole.
/// - `Shortest`: one chunk, every sequence truncated to the shortest length `L`: `Right`
///   keeps each sequence's first `L` steps, `Left` its last `L` (MATLAB truncates on the
///   padding side).
/// - `Fixed(N)`: the minibatch is padded to `P` = the smallest multiple of `N` >= the longest
///   length and cut into `P / N` chunks of `steps = N`. With `Right` a sequence occupies padded
///   steps `[0, len)`, with `Left` `[P − len, P)`. Chunk `k` covers `[kN, (k+1)N)`; its members
///   are the sequences whose range meets it, with the intersection as valid steps, copied
///   valid-first. Chunks without members are skipped. The trainer carries each member's state
///   from one chunk to the next (truncated BPTT).
///
/// (`Longest` and `Shortest` are the same cut with `N` = the longest or shortest length, after
/// `Shortest` has truncated the sequences.)
///
/// An empty sequence (length 0, or truncated to 0 by `Shortest`) is a member of the first
/// chunk with length 0, starting and ending there: the engine leaves it in its initial state
/// (`gru_core::lengths`). A minibatch of empty sequences only is one chunk of one step.
///
/// Errors (`Error::Data`): no sequence, `channels = 0`, a slice whose length is not a
/// multiple of `channels`, or `Fixed(0)`.
pub fn chunk_minibatch<T: Real>(
    sequences: &[&[T]],
    channels: usize,
    length: SequenceLength,
    direction: PaddingDirection,
) -> Result<Vec<Chunk<T>>> {
    if sequences.is_empty() {
        return Err(Error::data("sequences", 0, "the minibatch holds no sequence"));
    }
    if channels == 0 {
        return Err(Error::data("channels", 0, "the number of channels must be positive"));
    }
    let mut lens = Vec::with_capacity(sequences.len());
    for (i, s) in sequences.iter().enumerate() {
        if s.len() % channels != 0 {
            let reason = format!("the slice length is not a multiple of the {channels} channels");
            return Err(Error::data(&format!("sequences[{i}]"), s.len(), reason));
        }
        lens.push(s.len() / channels);
    }
    let longest = lens.iter().copied().max().unwrap_or(0);
    let shortest = lens.iter().copied().min().unwrap_or(0);
    // The used steps `[base, base + used)` of each sequence, and the chunk length `n`.
    let (used, n): (Vec<(usize, usize)>, usize) = match length {
        SequenceLength::Longest => (lens.iter().map(|&l| (0, l)).collect(), longest),
        SequenceLength::Shortest => {
            let base = |l: usize| if direction == PaddingDirection::Left { l - shortest } else { 0 };
            (lens.iter().map(|&l| (base(l), shortest)).collect(), shortest)
        }
        SequenceLength::Fixed(0) => {
            return Err(Error::data("SequenceLength", 0, "the chunk length must be a positive integer"));
        }
        SequenceLength::Fixed(n) => (lens.iter().map(|&l| (0, l)).collect(), n),
    };
    // At least one step (a chunk of empty sequences only still runs, on padding).
    let n = n.max(1);
    let padded = used.iter().map(|u| u.1).max().unwrap_or(0).div_ceil(n) * n;
    let count = (padded / n).max(1);
    let mut chunks = Vec::with_capacity(count);
    for k in 0..count {
        let (lo, hi) = (k * n, (k + 1) * n);
        let mut chunk = Chunk {
            x: vec![],
            steps: n,
            members: vec![],
            lengths: vec![],
            offsets: vec![],
            starts: vec![],
            ends: vec![],
        };
        for (i, &(base, l)) in used.iter().enumerate() {
            if l == 0 {
                // Empty: it starts and ends in the first chunk.
                if k == 0 {
                    chunk.members.push(i);
                    chunk.lengths.push(0);
                    chunk.offsets.push(base);
                    chunk.starts.push(true);
                    chunk.ends.push(true);
                }
                continue;
            }
            // The sequence occupies padded steps [first, first + l).
            let first = if direction == PaddingDirection::Left { padded - l } else { 0 };
            let (a, b) = (lo.max(first), hi.min(first + l));
            if a < b {
                chunk.members.push(i);
                chunk.lengths.push(b - a);
                chunk.offsets.push(base + a - first);
                chunk.starts.push(a == first);
                chunk.ends.push(b == first + l);
            }
        }
        if !chunk.members.is_empty() {
            fill(&mut chunk, sequences, channels);
            chunks.push(chunk);
        }
    }
    Ok(chunks)
}

/// Copies the members' valid steps from `sequences` into `chunk.x: [steps, members, C]`,
/// valid steps first, padding zero.
fn fill<T: Real>(chunk: &mut Chunk<T>, sequences: &[&[T]], channels: usize) {
    let m = chunk.members.len();
    chunk.x = vec![T::zero(); chunk.steps * m * channels];
    for (j, (&i, (&o, &l))) in chunk.members.iter().zip(chunk.offsets.iter().zip(&chunk.lengths)).enumerate() {
        for (t, step) in sequences[i][o * channels..(o + l) * channels].chunks_exact(channels).enumerate() {
            let at = (t * m + j) * channels;
            chunk.x[at..at + channels].copy_from_slice(step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Sequence `i` of `len` steps and `c` channels with values `100·i + 10·t + ch + 1`.
    fn seq(i: usize, len: usize, c: usize) -> Vec<f64> {
        (0..len * c).map(|k| (100 * i + 10 * (k / c) + k % c + 1) as f64).collect()
    }

    fn seqs(lens: &[usize], c: usize) -> Vec<Vec<f64>> {
        lens.iter().enumerate().map(|(i, &l)| seq(i, l, c)).collect()
    }

    fn refs(s: &[Vec<f64>]) -> Vec<&[f64]> {
        s.iter().map(Vec::as_slice).collect()
    }

    /// Member `j`'s valid steps of a chunk, flattened `[len, C]`.
    fn member_steps(ch: &Chunk<f64>, j: usize, c: usize) -> Vec<f64> {
        let m = ch.members.len();
        (0..ch.lengths[j]).flat_map(|t| ch.x[(t * m + j) * c..(t * m + j + 1) * c].to_vec()).collect()
    }

    fn is_data(r: Result<impl std::fmt::Debug>) -> bool {
        matches!(r, Err(Error::Data { .. }))
    }

    #[test]
    fn orders() {
        assert_eq!(epoch_order(5, Shuffle::Never, 7, 3), vec![0, 1, 2, 3, 4]);
        assert!(epoch_order(0, Shuffle::EveryEpoch, 7, 3).is_empty());
        // Once: the same permutation in every epoch, another one for another seed.
        let once = epoch_order(50, Shuffle::Once, 1, 0);
        assert_eq!(once, epoch_order(50, Shuffle::Once, 1, 7));
        assert_ne!(once, epoch_order(50, Shuffle::Once, 2, 0));
        assert_ne!(once, (0..50).collect::<Vec<_>>());
        // EveryEpoch: one per epoch, reproducible, depends on the seed.
        let e1 = epoch_order(50, Shuffle::EveryEpoch, 1, 1);
        assert_ne!(e1, epoch_order(50, Shuffle::EveryEpoch, 1, 0));
        assert_eq!(e1, epoch_order(50, Shuffle::EveryEpoch, 1, 1));
        assert_ne!(e1, epoch_order(50, Shuffle::EveryEpoch, 2, 1));
    }

    #[test]
    fn minibatch_discard_rule() {
        let order: Vec<usize> = (0..7).collect();
        assert_eq!(minibatches(&order, 3, true).unwrap(), vec![vec![0, 1, 2], vec![3, 4, 5]]);
        assert_eq!(minibatches(&order, 3, false).unwrap(), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        assert_eq!(minibatches(&order, 7, true).unwrap(), vec![order.clone()]);
        assert_eq!(minibatches(&order, 10, true).unwrap(), vec![order.clone()]);
        assert_eq!(minibatches(&order, 10, false).unwrap(), vec![order.clone()]);
        assert!(minibatches(&[], 4, true).unwrap().is_empty());
        assert!(is_data(minibatches(&order, 0, false)));
    }

    const DISCARD: PartialMiniBatch = PartialMiniBatch::Discard;

    #[test]
    fn sorted_epoch_batches_hold_similar_lengths() {
        let steps = [9, 1, 5, 3, 8, 2, 7, 4, 6];
        // Without sorting: the minibatches of the epoch order, unchanged.
        for shuffle in [Shuffle::Never, Shuffle::Once, Shuffle::EveryEpoch] {
            let plain = epoch_batches(&steps, 2, shuffle, 5, 3, false, DISCARD).unwrap();
            assert_eq!(plain, minibatches(&epoch_order(9, shuffle, 5, 3), 2, true).unwrap());
        }
        // Never: sorted by length, shortest first; the longest (9 steps, index 0) dropped.
        let never = epoch_batches(&steps, 2, Shuffle::Never, 5, 0, true, DISCARD).unwrap();
        assert_eq!(never, vec![vec![1, 5], vec![3, 7], vec![2, 8], vec![6, 4]]);
        // Shuffled: the same minibatches in another order, the same in every epoch for Once,
        // another one per epoch for EveryEpoch.
        let sorted = |b: &Vec<Vec<usize>>| {
            let mut b = b.clone();
            b.sort_by_key(|m| steps[m[0]]);
            b
        };
        let once = epoch_batches(&steps, 2, Shuffle::Once, 5, 0, true, DISCARD).unwrap();
        assert_eq!(sorted(&once), never);
        assert_eq!(once, epoch_batches(&steps, 2, Shuffle::Once, 5, 4, true, DISCARD).unwrap());
        let orders: Vec<_> =
            (0..6).map(|e| epoch_batches(&steps, 2, Shuffle::EveryEpoch, 5, e, true, DISCARD).unwrap()).collect();
        assert!(orders.iter().all(|o| sorted(o) == never), "{orders:?}");
        assert!(orders.iter().any(|o| *o != orders[0]), "{orders:?}");
        assert!(is_data(epoch_batches(&steps, 0, Shuffle::Never, 5, 0, true, DISCARD)));
    }

    /// `Return` (the default) trains on every observation of every epoch: the partial
    /// minibatch is the last one (the longest sequences when sorted); `Discard` leaves it out.
    #[test]
    fn the_partial_minibatch_is_returned_by_default() {
        let steps = [9, 1, 5, 3, 8, 2, 7, 4, 6];
        for (shuffle, sort) in [(Shuffle::Never, false), (Shuffle::EveryEpoch, false), (Shuffle::EveryEpoch, true)] {
            for epoch in 0..4 {
                let all = epoch_batches(&steps, 4, shuffle, 5, epoch, sort, PartialMiniBatch::default()).unwrap();
                assert_eq!(all.iter().map(Vec::len).collect::<Vec<_>>().iter().sum::<usize>(), 9, "{all:?}");
                let mut seen: Vec<usize> = all.concat();
                seen.sort_unstable();
                assert_eq!(seen, (0..9).collect::<Vec<_>>());
                let kept = epoch_batches(&steps, 4, shuffle, 5, epoch, sort, DISCARD).unwrap();
                assert_eq!(kept.len(), 2);
                assert!(kept.iter().all(|b| b.len() == 4 && all.contains(b)), "{kept:?} {all:?}");
            }
        }
        let sorted = epoch_batches(&steps, 4, Shuffle::Never, 5, 0, true, PartialMiniBatch::Return).unwrap();
        assert_eq!(sorted.last().unwrap(), &vec![0]);
        // Shuffled every epoch, a discarded minibatch leaves out other sequences each epoch.
        let left_out: Vec<usize> = (0..6)
            .map(|e| {
                let kept = epoch_batches(&steps, 4, Shuffle::EveryEpoch, 5, e, false, DISCARD).unwrap().concat();
                (0..9).find(|i| !kept.contains(i)).unwrap()
            })
            .collect();
        assert!(left_out.iter().any(|&i| i != left_out[0]), "{left_out:?}");
    }

    #[test]
    fn longest_layout() {
        let s = seqs(&[2, 3], 2);
        let chunks = chunk_minibatch(&refs(&s), 2, SequenceLength::Longest, PaddingDirection::Left).unwrap();
        assert_eq!(chunks.len(), 1);
        let ch = &chunks[0];
        assert_eq!((ch.steps, ch.members.clone(), ch.lengths.clone()), (3, vec![0, 1], vec![2, 3]));
        assert_eq!(
            (ch.offsets.clone(), ch.starts.clone(), ch.ends.clone()),
            (vec![0, 0], vec![true; 2], vec![true; 2])
        );
        // x: [3, 2, 2]: (t, b, c) at (t·2 + b)·2 + c; sequence 0 padded with zero at t = 2.
        let want = [1.0, 2.0, 101.0, 102.0, 11.0, 12.0, 111.0, 112.0, 0.0, 0.0, 121.0, 122.0];
        assert_eq!(ch.x, want);
    }

    #[test]
    fn shortest_right_keeps_first_left_keeps_last() {
        let s = seqs(&[4, 2], 1);
        let right = chunk_minibatch(&refs(&s), 1, SequenceLength::Shortest, PaddingDirection::Right).unwrap();
        assert_eq!(right.len(), 1);
        assert_eq!((right[0].steps, right[0].lengths.clone(), right[0].offsets.clone()), (2, vec![2, 2], vec![0, 0]));
        assert_eq!(right[0].x, [1.0, 101.0, 11.0, 111.0]);
        let left = chunk_minibatch(&refs(&s), 1, SequenceLength::Shortest, PaddingDirection::Left).unwrap();
        assert_eq!((left[0].lengths.clone(), left[0].offsets.clone()), (vec![2, 2], vec![2, 0]));
        assert_eq!(left[0].x, [21.0, 101.0, 31.0, 111.0]);
        assert_eq!((left[0].starts.clone(), left[0].ends.clone()), (vec![true; 2], vec![true; 2]));
    }

    /// (members, lengths, offsets, starts, ends) of a chunk.
    type Meta = (Vec<usize>, Vec<usize>, Vec<usize>, Vec<bool>, Vec<bool>);

    fn meta(ch: &Chunk<f64>) -> Meta {
        (ch.members.clone(), ch.lengths.clone(), ch.offsets.clone(), ch.starts.clone(), ch.ends.clone())
    }

    #[test]
    fn fixed_right() {
        let s = seqs(&[7, 3, 5], 2);
        let chunks = chunk_minibatch(&refs(&s), 2, SequenceLength::Fixed(3), PaddingDirection::Right).unwrap();
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.steps == 3 && c.x.len() == 3 * c.members.len() * 2));
        let (t, f) = (true, false);
        assert_eq!(meta(&chunks[0]), (vec![0, 1, 2], vec![3, 3, 3], vec![0, 0, 0], vec![t, t, t], vec![f, t, f]));
        assert_eq!(meta(&chunks[1]), (vec![0, 2], vec![3, 2], vec![3, 3], vec![f, f], vec![f, t]));
        assert_eq!(meta(&chunks[2]), (vec![0], vec![1], vec![6], vec![f], vec![t]));
        assert_eq!(member_steps(&chunks[1], 1, 2), s[2][6..10]);
        assert_eq!(chunks[2].x, [61.0, 62.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn fixed_left() {
        // P = 9: sequence 0 occupies [2, 9), 1 occupies [6, 9), 2 occupies [4, 9).
        let s = seqs(&[7, 3, 5], 2);
        let chunks = chunk_minibatch(&refs(&s), 2, SequenceLength::Fixed(3), PaddingDirection::Left).unwrap();
        assert_eq!(chunks.len(), 3);
        let (t, f) = (true, false);
        assert_eq!(meta(&chunks[0]), (vec![0], vec![1], vec![0], vec![t], vec![f]));
        assert_eq!(meta(&chunks[1]), (vec![0, 2], vec![3, 2], vec![1, 0], vec![f, t], vec![f, f]));
        assert_eq!(meta(&chunks[2]), (vec![0, 1, 2], vec![3, 3, 3], vec![4, 0, 2], vec![f, t, f], vec![t, t, t]));
        assert_eq!(chunks[0].x, [1.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
        // Chunk 1, x: [3, 2, 2]; sequence 2's two steps come first, then zero padding.
        assert_eq!(chunks[1].x, [11.0, 12.0, 201.0, 202.0, 21.0, 22.0, 211.0, 212.0, 31.0, 32.0, 0.0, 0.0]);
        assert_eq!(member_steps(&chunks[2], 2, 2), s[2][4..10]);
    }

    #[test]
    fn chunk_errors() {
        let s = seqs(&[3, 2], 2);
        let (l, r) = (SequenceLength::Longest, PaddingDirection::Right);
        assert!(is_data(chunk_minibatch::<f64>(&[], 2, l, r)));
        assert!(is_data(chunk_minibatch(&refs(&s), 0, l, r)));
        assert!(is_data(chunk_minibatch(&refs(&s), 4, l, r)));
        assert!(is_data(chunk_minibatch(&refs(&s), 2, SequenceLength::Fixed(0), r)));
    }

    #[test]
    fn an_empty_sequence_is_a_member_of_the_first_chunk() {
        let s = seqs(&[3, 0, 2], 2);
        let (t, f) = (true, false);
        // Fixed(2), padded to 4 steps: sequence 1 (empty) starts and ends in chunk 0 with
        // length 0, and is in no other chunk.
        let right = chunk_minibatch(&refs(&s), 2, SequenceLength::Fixed(2), PaddingDirection::Right).unwrap();
        assert_eq!(right.len(), 2);
        assert_eq!(meta(&right[0]), (vec![0, 1, 2], vec![2, 0, 2], vec![0, 0, 0], vec![t, t, t], vec![f, t, t]));
        assert_eq!(meta(&right[1]), (vec![0], vec![1], vec![2], vec![f], vec![t]));
        let left = chunk_minibatch(&refs(&s), 2, SequenceLength::Fixed(2), PaddingDirection::Left).unwrap();
        assert_eq!(left.len(), 2);
        assert_eq!(meta(&left[0]), (vec![0, 1], vec![1, 0], vec![0, 0], vec![t, t], vec![f, t]));
        assert_eq!(meta(&left[1]), (vec![0, 2], vec![2, 2], vec![1, 0], vec![f, t], vec![t, t]));
        // Longest and Shortest: one chunk; every sequence empty under Shortest, one step.
        let longest = chunk_minibatch(&refs(&s), 2, SequenceLength::Longest, PaddingDirection::Right).unwrap();
        assert_eq!((longest.len(), longest[0].lengths.clone()), (1, vec![3, 0, 2]));
        let shortest = chunk_minibatch(&refs(&s), 2, SequenceLength::Shortest, PaddingDirection::Right).unwrap();
        assert_eq!((shortest.len(), shortest[0].steps, shortest[0].lengths.clone()), (1, 1, vec![0, 0, 0]));
        assert_eq!(shortest[0].x, vec![0.0; 6]);
        let empty = seqs(&[0, 0], 1);
        let only = chunk_minibatch(&refs(&empty), 1, SequenceLength::Fixed(4), PaddingDirection::Left).unwrap();
        assert_eq!((only.len(), only[0].steps, only[0].ends.clone()), (1, 4, vec![t, t]));
    }

    fn direction() -> impl Strategy<Value = PaddingDirection> {
        prop_oneof![Just(PaddingDirection::Right), Just(PaddingDirection::Left)]
    }

    fn sequence_length() -> impl Strategy<Value = SequenceLength> {
        prop_oneof![
            Just(SequenceLength::Longest),
            Just(SequenceLength::Shortest),
            (1usize..6).prop_map(SequenceLength::Fixed)
        ]
    }

    proptest! {
        #[test]
        fn orders_are_permutations(n in 0usize..60, seed in any::<u64>(), epoch in 0usize..10, k in 0usize..3) {
            let shuffle = [Shuffle::Once, Shuffle::Never, Shuffle::EveryEpoch][k];
            let mut order = epoch_order(n, shuffle, seed, epoch);
            order.sort_unstable();
            prop_assert_eq!(order, (0..n).collect::<Vec<_>>());
        }

        #[test]
        fn chunks_cover_each_sequence_once(
            lens in prop::collection::vec(1usize..12, 1..6),
            c in 1usize..3,
            length in sequence_length(),
            dir in direction(),
        ) {
            let s = seqs(&lens, c);
            let chunks = chunk_minibatch(&refs(&s), c, length, dir).unwrap();
            let shortest = lens.iter().copied().min().unwrap_or(0);
            for (i, &l) in lens.iter().enumerate() {
                let want = match (length, dir) {
                    (SequenceLength::Shortest, PaddingDirection::Right) => s[i][..shortest * c].to_vec(),
                    (SequenceLength::Shortest, PaddingDirection::Left) => s[i][(l - shortest) * c..].to_vec(),
                    _ => s[i].clone(),
                };
                let (mut got, mut starts, mut ends, mut next) = (Vec::new(), 0, 0, None);
                for ch in &chunks {
                    prop_assert!(ch.lengths.iter().all(|&v| v >= 1 && v <= ch.steps));
                    if let Some(j) = ch.members.iter().position(|&m| m == i) {
                        if let Some(o) = next {
                            prop_assert_eq!(ch.offsets[j], o);
                        }
                        next = Some(ch.offsets[j] + ch.lengths[j]);
                        starts += usize::from(ch.starts[j]);
                        ends += usize::from(ch.ends[j]);
                        prop_assert_eq!(ch.starts[j], got.is_empty());
                        got.extend(member_steps(ch, j, c));
                        prop_assert_eq!(ch.ends[j], got.len() == want.len());
                    }
                }
                prop_assert_eq!(got, want);
                prop_assert_eq!((starts, ends), (1, 1));
            }
        }
    }
}
