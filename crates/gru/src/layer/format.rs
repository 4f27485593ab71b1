//! Sequence layouts accepted at the API, converted once to the canonical time-major one.
//!
//! ```text
//! Tbc: [T, B, C] row-major (canonical; element (t, b, c) at (t·B + b)·C + c)
//! Btc: [B, T, C] row-major (batch-major, PyTorch batch_first, Keras)
//! Cbt: [C, B, T] row-major (MATLAB's "CBT" dimension order, channel slowest)
//! ```
//! Note: MATLAB stores arrays column-major, so a MATLAB `C×B×T` array's memory is already
//! `[T, B, C]` row-major: declare such a buffer as `Tbc`. `Cbt` is for data laid out with
//! the channel as the slowest dimension.

use serde::{Deserialize, Serialize};

/// The layout of a sequence buffer; dims are given in the layout's own order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum SequenceFormat {
    #[default]
    Tbc,
    Btc,
    Cbt,
}

impl SequenceFormat {
    /// `(T, B, C)` from dims written in this format's order.
    pub fn tbc_dims(self, dims: [usize; 3]) -> (usize, usize, usize) {
        match self {
            SequenceFormat::Tbc => (dims[0], dims[1], dims[2]),
            SequenceFormat::Btc => (dims[1], dims[0], dims[2]),
            SequenceFormat::Cbt => (dims[2], dims[1], dims[0]),
        }
    }

    /// Dims in this format's order from `(T, B, C)`.
    pub fn dims(self, t: usize, b: usize, c: usize) -> [usize; 3] {
        match self {
            SequenceFormat::Tbc => [t, b, c],
            SequenceFormat::Btc => [b, t, c],
            SequenceFormat::Cbt => [c, b, t],
        }
    }

    /// Offset of element (t, b, c) in a buffer of this format with extents (T, B, C).
    fn offset(self, (t, b, c): (usize, usize, usize), (nt, nb, nc): (usize, usize, usize)) -> usize {
        match self {
            SequenceFormat::Tbc => (t * nb + b) * nc + c,
            SequenceFormat::Btc => (b * nt + t) * nc + c,
            SequenceFormat::Cbt => (c * nb + b) * nt + t,
        }
    }

    /// Copies `data` (this format, extents `(T, B, C)`) into canonical `[T, B, C]`.
    pub fn to_tbc<T: Copy>(self, data: &[T], extents: (usize, usize, usize)) -> Vec<T> {
        if self == SequenceFormat::Tbc {
            return data.to_vec();
        }
        let (nt, nb, nc) = extents;
        let mut out = Vec::with_capacity(nt * nb * nc);
        for t in 0..nt {
            for b in 0..nb {
                for c in 0..nc {
                    out.push(data[self.offset((t, b, c), extents)]);
                }
            }
        }
        out
    }

    /// Copies canonical `[T, B, C]` into this format.
    pub fn from_tbc<T: Copy + Default>(self, data: &[T], extents: (usize, usize, usize)) -> Vec<T> {
        if self == SequenceFormat::Tbc {
            return data.to_vec();
        }
        let (nt, nb, nc) = extents;
        let mut out = vec![T::default(); nt * nb * nc];
        for t in 0..nt {
            for b in 0..nb {
                for c in 0..nc {
                    out[self.offset((t, b, c), extents)] = data[(t * nb + b) * nc + c];
                }
            }
        }
        out
    }

    /// Layout of a per-sequence output `[B, C]` in this format: `[C, B]` for `Cbt`.
    pub fn last_dims(self, b: usize, c: usize) -> [usize; 2] {
        match self {
            SequenceFormat::Cbt => [c, b],
            _ => [b, c],
        }
    }

    /// Converts `[B, C]` into this format's per-sequence layout (transposed for `Cbt`).
    pub fn from_bc<T: Copy + Default>(self, data: &[T], b: usize, c: usize) -> Vec<T> {
        match self {
            SequenceFormat::Cbt => transpose(data, b, c),
            _ => data.to_vec(),
        }
    }

    /// Converts this format's per-sequence layout into `[B, C]`.
    pub fn to_bc<T: Copy + Default>(self, data: &[T], b: usize, c: usize) -> Vec<T> {
        match self {
            SequenceFormat::Cbt => transpose(data, c, b),
            _ => data.to_vec(),
        }
    }
}

/// Transposes a row-major `rows × cols` matrix.
fn transpose<T: Copy + Default>(data: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = vec![T::default(); rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            out[j * rows + i] = data[i * cols + j];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip_and_place_elements() {
        let (t, b, c) = (4, 3, 2);
        let tbc: Vec<u32> = (0..(t * b * c) as u32).collect();
        for f in [SequenceFormat::Tbc, SequenceFormat::Btc, SequenceFormat::Cbt] {
            let other = f.from_tbc(&tbc, (t, b, c));
            assert_eq!(f.to_tbc(&other, (t, b, c)), tbc);
            assert_eq!(f.tbc_dims(f.dims(t, b, c)), (t, b, c));
        }
        // Element (t=1, b=2, c=1) = (1·3 + 2)·2 + 1 = 11.
        assert_eq!(SequenceFormat::Btc.from_tbc(&tbc, (t, b, c))[(2 * t + 1) * c + 1], 11);
        assert_eq!(SequenceFormat::Cbt.from_tbc(&tbc, (t, b, c))[(b + 2) * t + 1], 11);
        let bc: Vec<u32> = (0..6).collect();
        assert_eq!(SequenceFormat::Cbt.from_bc(&bc, 3, 2), vec![0, 2, 4, 1, 3, 5]);
        assert_eq!(SequenceFormat::Cbt.to_bc(&SequenceFormat::Cbt.from_bc(&bc, 3, 2), 3, 2), bc);
    }
}
