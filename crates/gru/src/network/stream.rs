//! Streaming a network: many independent streams, one frame at a time, through every
//! layer ([`Network::streams`]). Each GRU layer keeps one state per stream (a
//! [`gru_core::StreamSet`] per GRU node, opened and closed together so that one
//! [`StreamId`] names a stream in all of them); the other layers act on each frame:
//!
//! ```text
//! frames [n, C] -> input normalization -> GRU (step) -> dropout (identity) -> dense ->
//! softmax / activation / output transform -> y [n, K]   (regression targets denormalized)
//! ```
//! A stream's outputs are those of [`Network::forward`] over its frames so far: per step
//! for a sequence-output network, and for a sequence-to-one network (a GRU with output
//! mode last) the prediction for the sequence that ends at this frame.
//! Allocation: a step computes every layer in two buffers kept across steps (each layer
//! reads one and writes the other, or works in place), and the GRU steps allocate nothing
//! once warm: after a step of the largest `n` (the warm-up), a step allocates nothing on
//! the native engine (and on OneDNN).

use gru_core::{Real, StreamId, StreamSet};

use super::dense::softmax_in_place;
use super::{Network, Node};
use crate::error::{Error, Result};

/// Streams through a network (see the module).
pub struct NetworkStreams<'a, T: Real> {
    net: &'a Network<T>,
    /// One set per GRU node (by node index), `None` for the other nodes.
    sets: Vec<Option<StreamSet<T>>>,
    /// The current layer's activations `[n, width]`; after a step, the output `[n, K]`.
    act: Vec<T>,
    /// The next layer's activations, swapped with `act` after each layer that does not work
    /// in place.
    next: Vec<T>,
}

impl<T: Real> Network<T> {
    /// Slots for `capacity` streams through this network (read, not changed, while they
    /// run). Refused: a network without a GRU layer, bidirectional or reverse GRU layers.
    pub fn streams(&self, capacity: usize) -> Result<NetworkStreams<'_, T>> {
        let mut sets = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            sets.push(match node {
                Node::Gru(g) => Some(g.streams(capacity)?),
                _ => None,
            });
        }
        if sets.iter().all(Option::is_none) {
            return Err(Error::data("network", "no GRU layer", "streaming needs a GRU layer to keep a state"));
        }
        Ok(NetworkStreams { net: self, sets, act: Vec::new(), next: Vec::new() })
    }
}

impl<T: Real> NetworkStreams<'_, T> {
    fn gru_sets(&mut self) -> impl Iterator<Item = &mut StreamSet<T>> {
        self.sets.iter_mut().flatten()
    }

    /// Opens a stream in every GRU layer's initial state.
    pub fn open(&mut self) -> Result<StreamId> {
        let mut first = None;
        for set in self.gru_sets() {
            let id = set.open()?;
            // The sets take and free slots together, so each gives the same id.
            debug_assert!(first.is_none_or(|f| f == id), "GRU sets out of step");
            first.get_or_insert(id);
        }
        first.ok_or_else(|| Error::data("network", "no GRU layer", "streaming needs a GRU layer"))
    }

    /// Closes a stream in every GRU layer.
    pub fn close(&mut self, id: StreamId) -> Result<()> {
        for set in self.gru_sets() {
            set.close(id)?;
        }
        Ok(())
    }

    /// Puts streams back in every GRU layer's initial state.
    pub fn reset(&mut self, ids: &[StreamId]) -> Result<()> {
        for set in self.gru_sets() {
            set.reset(ids)?;
        }
        Ok(())
    }

    /// Streams open now.
    pub fn len(&self) -> usize {
        self.sets.iter().flatten().next().map_or(0, StreamSet::len)
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channels of a frame.
    pub fn input_size(&self) -> usize {
        self.net.input_size()
    }

    /// Values of one output row.
    pub fn output_width(&self) -> usize {
        self.net.output_width()
    }

    /// The state of stream `id`: every GRU layer's `[D, H]`, in layer order.
    pub fn state(&self, id: StreamId) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for set in self.sets.iter().flatten() {
            out.extend_from_slice(set.state(id)?);
        }
        Ok(out)
    }

    /// Advances the streams `ids` one frame each: `frames` `[n, C]` (row `i` for `ids[i]`),
    /// returns the network's output `[n, K]` (row `i` for `ids[i]`). An invalid frame or id
    /// advances nothing.
    pub fn step(&mut self, frames: &[T], ids: &[StreamId]) -> Result<&[T]> {
        let n = ids.len();
        let mut width = self.net.input_size();
        if frames.len() != n * width {
            return Err(Error::data("frames", frames.len(), format!("expected [n, C] = [{n}, {width}]")));
        }
        let (act, next) = (&mut self.act, &mut self.next);
        act.clear();
        act.extend_from_slice(frames);
        for (node, set) in self.net.nodes.iter().zip(&mut self.sets) {
            match (node, set) {
                (Node::Input { stats: Some((mean, std)), .. }, _) => {
                    for row in act.chunks_exact_mut(width.max(1)) {
                        for c in 0..width {
                            row[c] = (row[c] - mean[c]) / std[c];
                        }
                    }
                }
                (Node::Gru(g), Some(set)) => {
                    next.clear();
                    next.extend_from_slice(set.step(act, ids)?);
                    std::mem::swap(act, next);
                    width = g.num_hidden_units();
                }
                (Node::Dense(d), _) => {
                    d.forward_into(act, n, next);
                    std::mem::swap(act, next);
                    width = d.outputs;
                }
                (Node::Softmax, _) => softmax_in_place(act, width),
                (Node::Elementwise(f), _) => f.forward_in_place(act),
                (Node::Output(o), _) => o.forward_in_place(act, width),
                (Node::Input { .. } | Node::Dropout(_) | Node::Gru(_), _) => {}
            }
        }
        self.net.denormalize_output(act);
        Ok(act)
    }

    /// [`NetworkStreams::step`] into `out` (`[n, K]`).
    pub fn step_into(&mut self, frames: &[T], ids: &[StreamId], out: &mut [T]) -> Result<()> {
        let want = ids.len() * self.output_width();
        if out.len() != want {
            return Err(Error::data(
                "out",
                out.len(),
                format!("expected [n, K] = [{}, {}]", ids.len(), self.output_width()),
            ));
        }
        out.copy_from_slice(self.step(frames, ids)?);
        Ok(())
    }
}
