//! Truncated BPTT: each GRU node's state carried from one chunk of a minibatch to the next.

use gru_core::Real;

use super::batching::Chunk;
use crate::network::{Network, Node};

/// Per network node: a GRU node's state `[blocks, B_mb, H]` for the whole minibatch (`blocks`
/// = depth · directions), `None` for other nodes.
pub(crate) struct Carried<T> {
    nodes: Vec<Option<(Vec<T>, usize, usize)>>,
    /// `B_mb`, the minibatch's sequence count.
    batch: usize,
}

impl<T: Real> Carried<T> {
    /// Zero states for a minibatch of `batch` sequences.
    pub(crate) fn new(network: &Network<T>, batch: usize) -> Self {
        let nodes = network
            .nodes
            .iter()
            .map(|n| match n {
                Node::Gru(g) => {
                    let blocks = g.depth() * if g.bidirectional() { 2 } else { 1 };
                    let h = g.num_hidden_units();
                    Some((vec![T::zero(); blocks * batch * h], blocks, h))
                }
                _ => None,
            })
            .collect();
        Carried { nodes, batch }
    }

    /// The initial state `[blocks, B_chunk, H]` of each GRU node for `chunk`: the carried state
    /// of the members that continue from the previous chunk, zero for those that start here;
    /// `None` for every node when every member starts here.
    pub(crate) fn initial_states(&self, chunk: &Chunk<T>) -> Vec<Option<Vec<T>>> {
        let b = chunk.members.len();
        let split = chunk.starts.iter().any(|s| !s);
        self.nodes
            .iter()
            .map(|c| {
                let (state, blocks, h) = c.as_ref()?;
                if !split {
                    return None;
                }
                let mut h0 = vec![T::zero(); blocks * b * h];
                for blk in 0..*blocks {
                    for (m, &member) in chunk.members.iter().enumerate() {
                        if !chunk.starts[m] {
                            let src = (blk * self.batch + member) * h;
                            h0[(blk * b + m) * h..(blk * b + m + 1) * h].copy_from_slice(&state[src..src + h]);
                        }
                    }
                }
                Some(h0)
            })
            .collect()
    }

    /// Keeps the final states `[blocks, B_chunk, H]` of `chunk`'s members.
    pub(crate) fn keep(&mut self, chunk: &Chunk<T>, final_states: &[Option<Vec<T>>]) {
        let b = chunk.members.len();
        for (c, fin) in self.nodes.iter_mut().zip(final_states) {
            if let (Some((state, blocks, h)), Some(fin)) = (c.as_mut(), fin) {
                for blk in 0..*blocks {
                    for (m, &member) in chunk.members.iter().enumerate() {
                        let dst = (blk * self.batch + member) * *h;
                        state[dst..dst + *h].copy_from_slice(&fin[(blk * b + m) * *h..(blk * b + m + 1) * *h]);
                    }
                }
            }
        }
    }
}
