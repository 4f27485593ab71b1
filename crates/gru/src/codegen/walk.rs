//! The walks over a plan's stages that the C and the no_std Rust printers (`c.rs`,
//! `rust_no_std.rs`) both make, written once: which stage runs, in which order, reading and
//! writing which buffer. Each printer says only how a statement reads in its language (a
//! [`Dialect`]).
//!
//! Buffers are named by the printers' own variables: `frame0` / `frame1` hold one frame
//! between stages, `seq0` / `seq1` a whole sequence (`[T, width]`, the layer-by-layer run of a
//! network with a bidirectional or reverse GRU).

use super::plan::{GruStage, Plan, Stage};
use crate::network::{Elementwise, Transformation};

/// How one statement of the generated code reads, in one language.
pub(super) trait Dialect {
    /// Layer `l` of GRU stage `k` on one frame: reads `inp` (layer 0) or the state of layer
    /// `l - 1` (at `block_h(g, l - 1)`), writes its own state (at `block_h(g, l)`).
    fn cell(&self, k: usize, g: &GruStage, l: usize, inp: &str) -> String;
    /// Copies the top layer's state (`top_h(g)`, `H` values) to `out`.
    fn copy_top(&self, g: &GruStage, out: &str) -> String;
    /// Dense stage `k`: `out[..outputs] = W inp + b`.
    fn dense(&self, k: usize, inputs: usize, outputs: usize, inp: &str, out: &str) -> String;
    fn softmax(&self, width: usize, inp: &str, out: &str) -> String;
    fn elementwise(&self, width: usize, function: &Elementwise, inp: &str, out: &str) -> String;
    /// Channel `c` of Korali's output stage: `out[c] = scale · g(inp[c]) + shift`.
    fn output_channel(&self, c: usize, g: Transformation, scale: f64, shift: f64, inp: &str, out: &str) -> String;
    /// Block `i` (layer `i / dirs`, direction `i % dirs`) of GRU stage `k` over the whole
    /// sequence: reads `cur`, writes its `H` columns at `direction·H` of `other` (rows
    /// `width` apart).
    fn sweep(&self, k: usize, g: &GruStage, i: usize, cur: &str, other: &str, width: usize) -> String;
    /// The names a stage's statements use for one step's input and output inside
    /// [`Dialect::each_step`].
    fn step_names(&self) -> (&'static str, &'static str);
    /// A stage's statements `frame` (on one frame, written by [`stage_frame`] with the names
    /// of [`Dialect::step_names`]) at every step of `cur` into `other`.
    fn each_step(&self, cur: &str, other: &str, width: usize, frame: &str) -> String;
}

/// The state offset of block `block` of GRU stage `g`.
pub(super) fn block_h(g: &GruStage, block: usize) -> usize {
    g.state_offset + block * g.spec.hidden_size
}

/// Where the top layer's `[dirs·H]` state starts.
pub(super) fn top_h(g: &GruStage) -> usize {
    block_h(g, (g.spec.depth - 1) * g.spec.directions())
}

/// The stages that run per frame: up to and with the GRU of output mode last (all when
/// there is none).
pub(super) fn split(plan: &Plan) -> usize {
    plan.last_gru.map_or(plan.stages.len(), |k| k + 1)
}

/// Statements of stage `k` on one frame, `inp` -> `out`; a GRU stage copies its top layer's
/// state to `out` only with `copy_out`.
pub(super) fn stage_frame(d: &impl Dialect, plan: &Plan, k: usize, inp: &str, out: &str, copy_out: bool) -> String {
    match &plan.stages[k] {
        Stage::Gru(g) => {
            let mut s: String = (0..g.spec.depth).map(|l| d.cell(k, g, l, inp)).collect();
            if copy_out {
                s += &d.copy_top(g, out);
            }
            s
        }
        Stage::Dense { inputs, outputs, .. } => d.dense(k, *inputs, *outputs, inp, out),
        Stage::Softmax { width } => d.softmax(*width, inp, out),
        Stage::Elementwise { width, function } => d.elementwise(*width, function, inp, out),
        Stage::Output { channels } => channels
            .iter()
            .enumerate()
            .map(|(c, (g, scale, shift))| d.output_channel(c, *g, *scale, *shift, inp, out))
            .collect(),
    }
}

/// One frame from `frame0` through the per-frame stages ([`split`]), alternating between
/// `frame0` and `frame1`: the statements, and the buffer that holds the result.
pub(super) fn frame_stages(d: &impl Dialect, plan: &Plan) -> (String, &'static str) {
    let mut body = String::new();
    let (mut cur, mut other) = ("frame0", "frame1");
    for k in 0..split(plan) {
        body += &stage_frame(d, plan, k, cur, other, Some(k) != plan.last_gru);
        std::mem::swap(&mut cur, &mut other);
    }
    (body, cur)
}

/// The stages after the GRU of output mode last, from its output `inp`, through `frame0`
/// and `frame1` in turn: the statements, and the buffer that holds the result.
pub(super) fn tail_stages(d: &impl Dialect, plan: &Plan, inp: &str) -> (String, String) {
    let mut body = String::new();
    let mut cur = inp.to_string();
    let mut next = ["frame0", "frame1"].into_iter().cycle();
    for k in split(plan)..plan.stages.len() {
        let out = next.next().unwrap_or("frame0");
        body += &stage_frame(d, plan, k, &cur, out, true);
        cur = out.to_string();
    }
    (body, cur)
}

/// The per-frame stages run layer by layer over the whole sequence in `seq0`, alternating
/// between `seq0` and `seq1` (each GRU layer a sweep per direction, each other stage at
/// every step): the statements, and the buffer that holds the result.
pub(super) fn layerwise_stages(d: &impl Dialect, plan: &Plan) -> (String, &'static str) {
    let w = plan.max_width;
    let (inp, out) = d.step_names();
    let mut body = String::new();
    let (mut cur, mut other) = ("seq0", "seq1");
    for k in 0..split(plan) {
        match &plan.stages[k] {
            Stage::Gru(g) => {
                let dirs = g.spec.directions();
                for l in 0..g.spec.depth {
                    for dir in 0..dirs {
                        body += &d.sweep(k, g, l * dirs + dir, cur, other, w);
                    }
                    std::mem::swap(&mut cur, &mut other);
                }
            }
            _ => {
                let frame = stage_frame(d, plan, k, inp, out, true).replace("\n    ", "\n        ");
                body += &d.each_step(cur, other, w, &frame);
                std::mem::swap(&mut cur, &mut other);
            }
        }
    }
    (body, cur)
}
