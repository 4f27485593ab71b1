//! Reading the GRU nodes of an ONNX graph into one [`GruWeights`].
//!
//! Each node's attributes, shapes and weights are read through `gru_map` (the mapping the
//! runtime's GRU op uses: a value the runtime refuses is refused with the same reason):
//!
//! ```text
//! W [dirs, 3H, I_k]  rows z | r | h  -> canonical W rows r | z | n
//! R [dirs, 3H, H]    rows z | r | h  -> canonical R
//! B [dirs, 6H] = [Wb_z Wb_r Wb_h | Rb_z Rb_r Rb_h]   (absent: zero)
//!   linear_before_reset = 0 -> before-multiplication, bias = Wb + Rb
//!   linear_before_reset = 1 -> recurrent-bias-after, bias = [Wb | Rb]
//! ```
//! What the runtime runs but a [`GruSpec`] cannot hold is [`Error::NotRepresentable`]:
//! directions with different activations, layers with different
//! options, a nonzero constant `initial_h`. Layer k > 0 must read layer k-1's `Y` through
//! the pass-through ops that turn it into the next layer's X: with layout 0, `[T, dirs, B,
//! H]` -> `[T, B, dirs·H]` (Transpose perm `[0, 2, 1, 3]` when bidirectional, Reshape,
//! Squeeze, Identity); with layout 1, `[B, T, dirs, H]` -> `[B, T, dirs·H]` (no Transpose).

use std::collections::HashMap;
use std::path::Path;

use gru_core::{DType, GruParams, GruSpec, Real};

use super::gru_map::{self, GruAttrs, Layout, Shape};
use super::proto::{GraphProto, ModelProto, NodeProto, TensorProto};
use super::tensor::{self, node_label};
use super::{SPEC_KEY, TARGET_IN};
use crate::convert::GruWeights;
use crate::error::{Error, Result};

/// The constants and producers of a graph, by tensor name.
pub(crate) struct Graph<'a> {
    pub(crate) path: &'a Path,
    pub(crate) graph: &'a GraphProto,
    consts: HashMap<&'a str, &'a TensorProto>,
    producers: HashMap<&'a str, &'a NodeProto>,
}

impl<'a> Graph<'a> {
    pub(crate) fn new(model: &'a ModelProto, path: &'a Path) -> Result<Self> {
        let graph = model.graph.as_ref().ok_or_else(|| Error::file(path, "the ONNX model has no graph"))?;
        let mut consts: HashMap<&str, &TensorProto> = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut producers = HashMap::new();
        for node in &graph.node {
            for out in &node.output {
                producers.insert(out.as_str(), node);
            }
            if node.op_type == "Constant" {
                let value = node.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref());
                if let (Some(t), Some(out)) = (value, node.output.first()) {
                    consts.insert(out.as_str(), t);
                }
            }
        }
        Ok(Self { path, graph, consts, producers })
    }

    /// The GRU nodes, in graph (topological) order.
    pub(crate) fn gru_nodes(&self) -> Result<Vec<&'a NodeProto>> {
        let nodes: Vec<_> = self.graph.node.iter().filter(|n| n.op_type == "GRU").collect();
        if nodes.is_empty() {
            let ops: Vec<&str> = self.graph.node.iter().map(|n| n.op_type.as_str()).collect();
            return Err(Error::file(self.path, format!("the ONNX graph has no GRU node (its ops: {ops:?})")));
        }
        for n in &nodes {
            if !(n.domain.is_empty() || n.domain == "ai.onnx") {
                return Err(Error::onnx(self.path, node_label(n), format!("GRU of domain {} is not ONNX's", n.domain)));
            }
        }
        Ok(nodes)
    }

    /// Input `i` of `node` as a constant tensor; `None` when the input is absent or empty.
    fn input_const(&self, node: &NodeProto, i: usize, what: &str) -> Result<Option<&'a TensorProto>> {
        match node.input.get(i).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(name) => match self.consts.get(name) {
                Some(t) => Ok(Some(t)),
                None => Err(Error::onnx(
                    self.path,
                    node_label(node),
                    format!("input {what} ({name}) is not a constant (an initializer or a Constant node)"),
                )),
            },
        }
    }
}

/// The element type of the first GRU node's `W`.
pub(crate) fn file_dtype(model: &ModelProto, path: &Path) -> Result<DType> {
    let g = Graph::new(model, path)?;
    let first = g.gru_nodes()?[0];
    let w = g.input_const(first, 1, "W")?.ok_or_else(|| Error::onnx(path, node_label(first), "input W is missing"))?;
    tensor::dtype(w, path, &node_label(first))
}

/// Reads every GRU node of `model` as one stack (see the module documentation).
pub(crate) fn from_model<T: Real>(model: &ModelProto, path: &Path) -> Result<GruWeights<T>> {
    let g = Graph::new(model, path)?;
    let nodes = g.gru_nodes()?;
    // The first node's attributes, name and layer spec.
    let mut first: Option<(GruAttrs, String, GruSpec)> = None;
    let mut blocks = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        let label = node_label(node);
        let onnx = |reason: String| Error::onnx(path, &label, reason);
        // What the runtime refuses, refused with its reason.
        let attrs = GruAttrs::parse(node).map_err(onnx)?;
        let w = g.input_const(node, 1, "W")?.ok_or_else(|| onnx("input W is missing".into()))?;
        let r = g.input_const(node, 2, "R")?.ok_or_else(|| onnx("input R is missing".into()))?;
        let b = g.input_const(node, 3, "B")?;
        let b_dims = b.map(|b| tensor::dims(b, path, &label)).transpose()?;
        let (w_dims, r_dims) = (tensor::dims(w, path, &label)?, tensor::dims(r, path, &label)?);
        let shape = Shape::check(&attrs, &w_dims, &r_dims, b_dims.as_deref()).map_err(onnx)?;
        // What the runtime runs but a stack cannot hold.
        let layer = attrs.layer_spec(&shape, &label)?;
        if k > 0 {
            check_chain(&g, nodes[k - 1], node, &attrs)?;
        }
        check_initial_h(&g, node)?;
        let wv = tensor::values::<T>(w, &w_dims, path, &label)?;
        let rv = tensor::values::<T>(r, &r_dims, path, &label)?;
        let bv = b.map(|b| tensor::values::<T>(b, &[shape.dirs, 6 * shape.hidden], path, &label)).transpose()?;
        blocks.extend(gru_map::blocks_from_onnx(&shape, attrs.linear_before_reset, &wv, &rv, bv.as_deref()));
        let attrs = GruAttrs { hidden_size: Some(shape.hidden as i64), ..attrs };
        match &first {
            None => first = Some((attrs, label, layer)),
            Some((f, flabel, _)) => same_options(f, flabel, &attrs, &label)?,
        }
    }
    let Some((attrs, _, layer)) = first else { return Err(Error::file(path, "the ONNX graph has no GRU node")) };
    let spec = layer.with_depth(nodes.len());
    let mut w = GruWeights::new(spec.clone(), GruParams::from_blocks(&spec, blocks)?)?;
    if let Some(meta) = model.metadata_props.iter().find(|p| p.key == SPEC_KEY) {
        if let Ok(ours) = serde_json::from_str::<GruSpec>(&meta.value) {
            apply_our_spec(&mut w, &attrs, ours);
        }
    }
    Ok(w)
}

/// Restores what ONNX cannot hold exactly from the spec our exporter stored beside the
/// graph, when it agrees with the graph's attributes ([`GruAttrs::agrees`]) and shape:
/// after-multiplication (lbr = 1 with a zero recurrent bias), f64 clip / alpha / beta
/// (ONNX keeps f32) and the output mode.
fn apply_our_spec<T: Real>(w: &mut GruWeights<T>, attrs: &GruAttrs, ours: GruSpec) {
    let s = &w.spec;
    let same_stack = (ours.input_size, ours.depth) == (s.input_size, s.depth);
    if !same_stack || attrs.agrees(&ours).is_err() || ours.validate().is_err() {
        return;
    }
    if ours.reset_gate_mode != s.reset_gate_mode {
        // After-multiplication, written as recurrent-bias-after with a zero recurrent bias.
        let blocks = w.params.blocks().iter().map(|b| (b.w().to_vec(), b.r().to_vec(), b.bias().to_vec())).collect();
        let Some(blocks) = gru_map::after_multiplication(blocks, s.hidden_size) else { return };
        match GruParams::from_blocks(&ours, blocks) {
            Ok(p) => w.params = p,
            Err(_) => return,
        }
    }
    w.spec = ours;
}

/// Every stack-wide option must be the same in all GRU nodes.
fn same_options(a: &GruAttrs, alabel: &str, b: &GruAttrs, blabel: &str) -> Result<()> {
    let differ = |option: &str, x: String, y: String| {
        Err(Error::not_representable(
            TARGET_IN,
            option,
            format!("{x} in node {alabel} but {y} in node {blabel}"),
            "every layer of a GRU stack shares its options",
        ))
    };
    if a.direction != b.direction {
        return differ("direction", a.direction.name().into(), b.direction.name().into());
    }
    if a.layout != b.layout {
        return differ("layout", a.layout.value().to_string(), b.layout.value().to_string());
    }
    if a.hidden_size != b.hidden_size {
        return differ("hidden_size", format!("{:?}", a.hidden_size), format!("{:?}", b.hidden_size));
    }
    if a.linear_before_reset != b.linear_before_reset {
        return differ("linear_before_reset", a.linear_before_reset.to_string(), b.linear_before_reset.to_string());
    }
    if a.activations != b.activations {
        return differ("activations", format!("{:?}", a.activations), format!("{:?}", b.activations));
    }
    if a.clip != b.clip {
        return differ("clip", format!("{:?}", a.clip), format!("{:?}", b.clip));
    }
    Ok(())
}

/// Checks that `node` reads `prev`'s `Y` through ops that only move or merge axes.
fn check_chain(g: &Graph<'_>, prev: &NodeProto, node: &NodeProto, attrs: &GruAttrs) -> Result<()> {
    let label = node_label(node);
    let dirs = attrs.direction.count();
    let target = prev.output.first().map(String::as_str).unwrap_or("");
    let mut name = node.input.first().map(String::as_str).unwrap_or("");
    let mut transposed = false;
    while name != target || target.is_empty() {
        let Some(p) = g.producers.get(name) else {
            return Err(Error::onnx(
                g.path,
                &label,
                format!("its input X ({name}) is not the output Y of the GRU node {} below it", node_label(prev)),
            ));
        };
        match p.op_type.as_str() {
            "Transpose" if attrs.layout == Layout::BatchMajor => {
                return Err(Error::onnx(
                    g.path,
                    node_label(p),
                    "Transpose between GRU layers of layout 1; their Y [B, T, dirs, H] needs only a Reshape to [B, T, dirs·H]",
                ));
            }
            "Transpose" => {
                let perm = p.attribute.iter().find(|a| a.name == "perm").map(|a| a.ints.clone()).unwrap_or_default();
                if perm != [0, 2, 1, 3] {
                    return Err(Error::onnx(
                        g.path,
                        node_label(p),
                        format!("perm {perm:?} between GRU layers; expected [0, 2, 1, 3] ([T, dirs, B, H] -> [T, B, dirs, H])"),
                    ));
                }
                transposed = true;
            }
            "Reshape" => {
                let shape = match p.input.get(1).and_then(|n| g.consts.get(n.as_str())) {
                    Some(t) => Some(tensor::ints(t, g.path, &node_label(p))?),
                    None => None, // computed at run time (a Shape subgraph): trusted
                };
                if let Some(shape) = shape.filter(|s| s.len() != 3) {
                    return Err(Error::onnx(
                        g.path,
                        node_label(p),
                        format!("reshapes a GRU layer's output to {shape:?}; expected [T, B, dirs·H] (3 dims)"),
                    ));
                }
            }
            "Squeeze" | "Identity" => {}
            other => {
                return Err(Error::onnx(
                    g.path,
                    node_label(p),
                    format!("{other} between GRU layers {} and {label} is not supported", node_label(prev)),
                ))
            }
        }
        name = p.input.first().map(String::as_str).unwrap_or("");
    }
    if dirs == 2 && !transposed && attrs.layout == Layout::TimeMajor {
        return Err(Error::onnx(
            g.path,
            &label,
            "a bidirectional layer's Y [T, 2, B, H] reaches it without Transpose perm [0, 2, 1, 3]",
        ));
    }
    Ok(())
}

/// `initial_h` may be a graph input (given at run time) or zero: a zero constant, or
/// `ConstantOfShape` with value 0, possibly sliced or reshaped (as `torch.onnx.export`
/// builds it: `Slice(ConstantOfShape(Concat(dirs·D, Unsqueeze(Gather(Shape(X), 1)), H)))`).
/// A nonzero constant initial state is not part of a `GruSpec`.
fn check_initial_h(g: &Graph<'_>, node: &NodeProto) -> Result<()> {
    let Some(mut name) = node.input.get(5).map(String::as_str).filter(|n| !n.is_empty()) else { return Ok(()) };
    let nonzero = |what: String| {
        Err(Error::not_representable(
            TARGET_IN,
            "initial_h",
            format!("{what} (node {})", node_label(node)),
            "a GruSpec has no stored initial state; pass it at run time instead",
        ))
    };
    loop {
        if let Some(t) = g.consts.get(name) {
            return if tensor::all_zero(t) { Ok(()) } else { nonzero(format!("a nonzero constant {name}")) };
        }
        let Some(p) = g.producers.get(name) else { return Ok(()) }; // a graph input
        match p.op_type.as_str() {
            "ConstantOfShape" => {
                let value = p.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref());
                return if value.is_none_or(tensor::all_zero) {
                    Ok(())
                } else {
                    nonzero(format!("a nonzero ConstantOfShape {}", node_label(p)))
                };
            }
            // Ops that only select or move values keep a zero tensor zero.
            "Slice" | "Identity" | "Reshape" | "Squeeze" | "Unsqueeze" | "Expand" | "Transpose" | "Gather" => {
                name = p.input.first().map(String::as_str).unwrap_or("");
            }
            _ => {
                return Err(Error::onnx(
                    g.path,
                    node_label(node),
                    format!(
                        "initial_h is computed by {}; only a graph input or a zero constant is supported",
                        node_label(p)
                    ),
                ))
            }
        }
    }
}
