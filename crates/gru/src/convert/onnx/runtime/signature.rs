//! Which graph inputs of a sequence model hold the sequences and their lengths, and in
//! which layout: what `gru predict` needs to feed a model it knows nothing else about.
//!
//! The rule: start at the first GRU node's `X` (axes `[T, B, C]` for layout 0, `[B, T, C]`
//! for layout 1) and walk back to a graph input through ops that keep the axes' meaning:
//! Transpose (whose `perm` moves the axes: input axis `perm[i]` is output axis `i`),
//! Identity, Cast, Relu/Tanh/Sigmoid, and Add/Sub/Mul/Div with one non-constant operand.
//! That input is X; it is batch-first when its axis 0 is the batch. When the walk meets
//! any other op, or the model has no GRU node, X is the first float graph input, taken as
//! time-major `[T, B, C]` (ONNX GRU's default layout). The lengths input is an integer
//! graph input that reaches a GRU node's `sequence_lens` directly or through
//! Identity/Cast.

use gru_core::Real;

use super::node::Op;
use super::ops::Binary;
use super::OnnxModel;
use crate::error::{Error, Result};

/// How to feed a batch of sequences to a model (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceInput {
    /// The float input holding the sequences.
    pub x: String,
    /// `[B, T, C]` when true, `[T, B, C]` when false.
    pub batch_first: bool,
    /// The integer input holding each sequence's length `[B]`, if the graph has one.
    pub lengths: Option<String>,
    /// C, when the graph declares it.
    pub channels: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Axis {
    Time,
    Batch,
    Other,
}

impl<T: Real> OnnxModel<T> {
    /// The run-time node computing `slot`.
    fn producer(&self, slot: usize) -> Option<&super::Node<T>> {
        self.nodes.iter().find(|n| n.outputs.contains(&Some(slot)))
    }

    /// The graph input holding `slot`, if it is one.
    fn graph_input(&self, slot: usize) -> Option<&super::InputInfo> {
        self.inputs.iter().find(|(_, s)| *s == slot).map(|(i, _)| i)
    }

    /// The sequences' input, layout and lengths input (see the module documentation).
    pub fn sequence_input(&self) -> Result<SequenceInput> {
        let gru = self.nodes.iter().find_map(|n| match &n.op {
            Op::Gru(g) => Some((n, g.batch_major)),
            _ => None,
        });
        let traced = gru.and_then(|(n, batch_major)| {
            let roles = if batch_major {
                vec![Axis::Batch, Axis::Time, Axis::Other]
            } else {
                vec![Axis::Time, Axis::Batch, Axis::Other]
            };
            self.trace(n.inputs.first().copied().flatten()?, roles)
        });
        let (x, batch_first) = match traced {
            Some((info, roles)) => (info, roles.first() == Some(&Axis::Batch)),
            None => {
                let info =
                    self.inputs.iter().map(|(i, _)| i).find(|i| i.is_float()).ok_or_else(|| {
                        Error::file(&self.path, "the ONNX graph has no float input to feed sequences to")
                    })?;
                (info, false)
            }
        };
        let lengths = self.nodes.iter().find_map(|n| match &n.op {
            Op::Gru(_) => self.lengths_input(n.inputs.get(4).copied().flatten()?),
            _ => None,
        });
        let channels = x.dims.as_ref().and_then(|d| d.get(2).copied().flatten());
        Ok(SequenceInput { x: x.name.clone(), batch_first, lengths, channels })
    }

    /// Walks back from `slot` (whose axes have `roles`) to a graph input.
    fn trace(&self, mut slot: usize, mut roles: Vec<Axis>) -> Option<(&super::InputInfo, Vec<Axis>)> {
        for _ in 0..=self.nodes.len() {
            if let Some(info) = self.graph_input(slot) {
                return (info.is_float() && info.dims.as_ref().is_none_or(|d| d.len() == 3)).then_some((info, roles));
            }
            let n = self.producer(slot)?;
            let runtime: Vec<usize> =
                n.inputs.iter().flatten().copied().filter(|&s| self.consts[s].is_none()).collect();
            match &n.op {
                Op::Transpose { perm } => {
                    let perm: Vec<usize> = match perm {
                        Some(p) => p.iter().map(|&a| usize::try_from(a).ok()).collect::<Option<_>>()?,
                        None => (0..roles.len()).rev().collect(),
                    };
                    let mut back = vec![Axis::Other; roles.len()];
                    for (i, &p) in perm.iter().enumerate() {
                        *back.get_mut(p)? = *roles.get(i)?;
                    }
                    roles = back;
                }
                Op::Identity | Op::Cast { .. } | Op::Unary(_) => {}
                Op::Binary(Binary::Add | Binary::Sub | Binary::Mul | Binary::Div) => {}
                _ => return None,
            }
            match runtime[..] {
                [s] => slot = s,
                _ => return None,
            }
        }
        None
    }

    /// The integer graph input reaching a GRU's `sequence_lens` at `slot`, if any.
    fn lengths_input(&self, mut slot: usize) -> Option<String> {
        for _ in 0..=self.nodes.len() {
            if let Some(info) = self.graph_input(slot) {
                return (!info.is_float()).then(|| info.name.clone());
            }
            let n = self.producer(slot)?;
            match n.op {
                Op::Identity | Op::Cast { .. } => slot = n.inputs.first().copied().flatten()?,
                _ => return None,
            }
        }
        None
    }
}
