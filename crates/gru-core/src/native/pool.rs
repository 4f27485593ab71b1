//! Reused buffers of the fast path: the large per-call arrays (input projections, layer
//! outputs, traces, gradients) come from here and go back here, so that a call does not
//! fault fresh pages in from the OS (measured: ~15% of a B32 T100 H256 call).

use crate::params::BlockParams;
use crate::real::Real;

/// Freed buffers, reused by later calls of the same prepared stack.
#[derive(Debug, Default)]
pub(crate) struct Pool<T> {
    free: Vec<Vec<T>>,
    /// A part of the batch split after the first: its own weight gradients of each layer's
    /// blocks (small blocks, `split.rs`), kept for the next call.
    pub(crate) layer_grads: Vec<Vec<BlockParams<T>>>,
}

/// Buffers kept at most; the smallest goes first.
const KEEP: usize = 48;

impl<T: Real> Pool<T> {
    pub(crate) fn new() -> Self {
        Self { free: Vec::new(), layer_grads: Vec::new() }
    }

    /// A buffer with room for `len`, emptied.
    fn take(&mut self, len: usize) -> Vec<T> {
        let best = self
            .free
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        match best {
            Some(i) => {
                let mut v = self.free.swap_remove(i);
                v.clear();
                v
            }
            None => Vec::with_capacity(len),
        }
    }

    /// An empty buffer with room for `len`.
    pub(crate) fn empty(&mut self, len: usize) -> Vec<T> {
        self.take(len)
    }

    /// `len` zeros.
    pub(crate) fn zeros(&mut self, len: usize) -> Vec<T> {
        let mut v = self.take(len);
        v.resize(len, T::zero());
        v
    }

    /// A copy of `src`.
    pub(crate) fn copy_of(&mut self, src: &[T]) -> Vec<T> {
        let mut v = self.take(src.len());
        v.extend_from_slice(src);
        v
    }

    /// Returns a buffer for reuse.
    pub(crate) fn give(&mut self, v: Vec<T>) {
        if v.capacity() == 0 {
            return;
        }
        self.free.push(v);
        if self.free.len() > KEEP {
            if let Some(i) = self.free.iter().enumerate().min_by_key(|(_, v)| v.capacity()).map(|(i, _)| i) {
                self.free.swap_remove(i);
            }
        }
    }
}
