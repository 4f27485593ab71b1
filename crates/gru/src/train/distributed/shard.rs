//! A rank's shard of a global minibatch: a contiguous range of its positions, and the rows of
//! a chunk (cut from the whole minibatch, so that `SequenceLength` and the padding direction
//! mean what they mean for one process) that fall in it.

use std::ops::Range;

use gru_core::Real;

use crate::train::batching::Chunk;

/// The positions `0..batch` of a global minibatch that rank `rank` of `size` takes: contiguous,
/// in rank order, the first `batch mod size` ranks one more than the others (`⌊batch/size⌋`);
/// empty when `batch < size` leaves none for this rank.
pub fn shard_range(batch: usize, rank: usize, size: usize) -> Range<usize> {
    let size = size.max(1);
    let (base, extra) = (batch / size, batch % size);
    let start = rank * base + rank.min(extra);
    let len = base + usize::from(rank < extra);
    start.min(batch)..(start + len).min(batch)
}

/// The rows of `chunk` (`x: [steps, B_chunk, C]` time-major) whose minibatch positions
/// (`chunk.members`) fall in `positions`, as a chunk of its own (`x: [steps, B_shard, C]`, the
/// same steps; members keep their minibatch positions, so carried states and targets are
/// found as for the whole chunk). It may hold no member.
pub fn shard_chunk<T: Real>(chunk: &Chunk<T>, positions: &Range<usize>) -> Chunk<T> {
    let rows: Vec<usize> = (0..chunk.members.len()).filter(|&m| positions.contains(&chunk.members[m])).collect();
    let (b, steps) = (chunk.members.len(), chunk.steps);
    let channels = if b == 0 || steps == 0 { 0 } else { chunk.x.len() / (b * steps) };
    let mut x = Vec::with_capacity(steps * rows.len() * channels);
    for t in 0..steps {
        for &m in &rows {
            let at = (t * b + m) * channels;
            x.extend_from_slice(&chunk.x[at..at + channels]);
        }
    }
    let pick = |v: &[usize]| rows.iter().map(|&m| v[m]).collect::<Vec<_>>();
    let flags = |v: &[bool]| rows.iter().map(|&m| v[m]).collect::<Vec<_>>();
    Chunk {
        x,
        steps,
        members: pick(&chunk.members),
        lengths: pick(&chunk.lengths),
        offsets: pick(&chunk.offsets),
        starts: flags(&chunk.starts),
        ends: flags(&chunk.ends),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::batching::{chunk_minibatch, PaddingDirection, SequenceLength};

    #[test]
    fn shards_cover_the_batch_once_in_order() {
        for batch in 0..12 {
            for size in 1..6 {
                let ranges: Vec<_> = (0..size).map(|r| shard_range(batch, r, size)).collect();
                let covered: Vec<usize> = ranges.iter().flat_map(|r| r.clone()).collect();
                assert_eq!(covered, (0..batch).collect::<Vec<_>>(), "batch {batch}, {size} ranks");
                let lens: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
                assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1, "{lens:?}");
            }
        }
        assert_eq!(shard_range(5, 0, 2), 0..3);
        assert_eq!(shard_range(5, 1, 2), 3..5);
        assert!(shard_range(1, 1, 2).is_empty());
    }

    #[test]
    fn a_shard_holds_its_members_rows_at_every_step() {
        // Three sequences of 1 channel, lengths 3, 1, 2: x[t, b] = 10·b + t.
        let seqs: Vec<Vec<f64>> = vec![vec![0.0, 1.0, 2.0], vec![10.0], vec![20.0, 21.0]];
        let refs: Vec<&[f64]> = seqs.iter().map(|s| &s[..]).collect();
        let chunk = chunk_minibatch(&refs, 1, SequenceLength::Longest, PaddingDirection::Right).unwrap().remove(0);
        let s = shard_chunk(&chunk, &(1..3));
        assert_eq!(s.members, [1, 2]);
        assert_eq!(s.lengths, [1, 2]);
        assert_eq!(s.steps, 3);
        assert_eq!(s.x, [10.0, 20.0, 0.0, 21.0, 0.0, 0.0]);
        let none = shard_chunk(&chunk, &(3..3));
        assert!(none.members.is_empty() && none.x.is_empty());
        assert_eq!(shard_chunk(&chunk, &(0..3)), chunk);
    }
}
