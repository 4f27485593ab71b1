//! Variable lengths on a library without a length mask: the sequences of a batch are
//! grouped by length, each group runs as a dense batch of its own length (so that the
//! right-to-left direction starts at each sequence's own last step), and the results are
//! scattered back into the padded batch.
//!
//! Layouts (row-major):
//! ```text
//! batch tensors  [T, B, C]        time-major, zero past lengths[b]
//! group tensors  [len, n, C]      the n sequences of one length, in batch order
//! states         [blocks, B, H] ↔ [blocks, n, H]
//! ```
//! Cost: one primitive execution per distinct length (each a dense problem of
//! `len × n`), plus one gather and one scatter of `x`, `y` and the states; a batch with k
//! distinct lengths makes k sequential recurrences instead of one, and the first call with
//! a new `(n, len)` pair creates (and caches) its primitive.

/// The sequences of one length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Their common length (steps run).
    pub len: usize,
    /// Their indices in the batch, increasing.
    pub members: Vec<usize>,
}

impl Group {
    pub fn size(&self) -> usize {
        self.members.len()
    }
}

/// Groups a batch by length, longest first.
pub fn by_length(lengths: &[usize]) -> Vec<Group> {
    let mut lens: Vec<usize> = lengths.to_vec();
    lens.sort_unstable_by(|a, b| b.cmp(a));
    lens.dedup();
    lens.into_iter()
        .map(|len| Group { len, members: (0..lengths.len()).filter(|&b| lengths[b] == len).collect() })
        .collect()
}

/// Rows `t < g.len` of the group's sequences of `[T, B, width]`, as `[len, n, width]`.
pub fn gather_steps<T: Copy>(m: &[T], batch: usize, width: usize, g: &Group, out: &mut Vec<f32>, f: impl Fn(T) -> f32) {
    out.clear();
    for t in 0..g.len {
        for &b in &g.members {
            out.extend(m[(t * batch + b) * width..][..width].iter().map(|&v| f(v)));
        }
    }
}

/// The group's slices of a `[blocks, B, width]` state, as `[blocks, n, width]`.
pub fn gather_state<T: Copy>(m: &[T], batch: usize, width: usize, g: &Group, f: impl Fn(T) -> f32) -> Vec<f32> {
    let blocks = m.len() / (batch * width);
    let mut out = Vec::with_capacity(blocks * g.size() * width);
    for k in 0..blocks {
        for &b in &g.members {
            out.extend(m[(k * batch + b) * width..][..width].iter().map(|&v| f(v)));
        }
    }
    out
}

/// Writes `[len, n, width]` group rows into `[T, B, width]` (rows past `len` untouched).
pub fn scatter_steps<T>(src: &[f32], batch: usize, width: usize, g: &Group, dst: &mut [T], f: impl Fn(f32) -> T) {
    for t in 0..g.len {
        for (j, &b) in g.members.iter().enumerate() {
            let row = &src[(t * g.size() + j) * width..][..width];
            for (d, &s) in dst[(t * batch + b) * width..][..width].iter_mut().zip(row) {
                *d = f(s);
            }
        }
    }
}

/// Writes row `len - 1` of each group sequence (`[len, n, width]`) into `[B, width]`.
pub fn scatter_last<T>(src: &[f32], width: usize, g: &Group, dst: &mut [T], f: impl Fn(f32) -> T) {
    let t = g.len - 1;
    for (j, &b) in g.members.iter().enumerate() {
        let row = &src[(t * g.size() + j) * width..][..width];
        for (d, &s) in dst[b * width..][..width].iter_mut().zip(row) {
            *d = f(s);
        }
    }
}

/// The upstream gradient of output mode `last` as a group sequence gradient: zero except
/// at step `len - 1`, where it is the sequence's row of `dy` `[B, width]`.
pub fn expand_last<T: Copy>(dy: &[T], width: usize, g: &Group, f: impl Fn(T) -> f32) -> Vec<f32> {
    let mut out = vec![0.0; g.len * g.size() * width];
    let t = g.len - 1;
    for (j, &b) in g.members.iter().enumerate() {
        for (d, &s) in out[(t * g.size() + j) * width..][..width].iter_mut().zip(&dy[b * width..][..width]) {
            *d = f(s);
        }
    }
    out
}

/// Writes a `[blocks, n, width]` group state into `[blocks, B, width]`.
pub fn scatter_state<T>(src: &[f32], batch: usize, width: usize, g: &Group, dst: &mut [T], f: impl Fn(f32) -> T) {
    let blocks = dst.len() / (batch * width);
    for k in 0..blocks {
        for (j, &b) in g.members.iter().enumerate() {
            let row = &src[(k * g.size() + j) * width..][..width];
            for (d, &s) in dst[(k * batch + b) * width..][..width].iter_mut().zip(row) {
                *d = f(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_by_length_longest_first() {
        let g = by_length(&[3, 1, 3, 2, 1]);
        assert_eq!(
            g,
            vec![
                Group { len: 3, members: vec![0, 2] },
                Group { len: 2, members: vec![3] },
                Group { len: 1, members: vec![1, 4] },
            ]
        );
    }

    #[test]
    fn gather_and_scatter_round_trip_on_valid_steps() {
        // [T=3, B=3, C=2], lengths [3, 1, 3].
        let m: Vec<f64> = (0..18).map(f64::from).collect();
        let groups = by_length(&[3, 1, 3]);
        let mut back = vec![0.0f64; 18];
        let mut buf = Vec::new();
        for g in &groups {
            gather_steps(&m, 3, 2, g, &mut buf, |v| v as f32);
            assert_eq!(buf.len(), g.len * g.size() * 2);
            scatter_steps(&buf, 3, 2, g, &mut back, f64::from);
        }
        // Sequence 1 has one step: its rows at t = 1, 2 stay zero.
        let expected: Vec<f64> = (0..18).map(|i| if (i / 2) % 3 == 1 && i >= 6 { 0.0 } else { f64::from(i) }).collect();
        assert_eq!(back, expected);
        assert_eq!(gather_state(&m[..12], 3, 2, &groups[0], |v| v as f32), vec![0., 1., 4., 5., 6., 7., 10., 11.]);
        let mut last = vec![0.0f64; 6];
        gather_steps(&m, 3, 2, &groups[0], &mut buf, |v| v as f32);
        scatter_last(&buf, 2, &groups[0], &mut last, f64::from);
        assert_eq!(last, vec![12., 13., 0., 0., 16., 17.]);
        assert_eq!(expand_last(&[1.0f64, 2., 3., 4., 5., 6.], 2, &groups[1], |v| v as f32), vec![3., 4.]);
    }
}
