//! Reading the GRU nodes of an ONNX graph into one [`GruWeights`].
//!
//! ```text
//! W [dirs, 3H, I_k]  rows z | r | h  -> canonical W rows r | z | n
//! R [dirs, 3H, H]    rows z | r | h  -> canonical R
//! B [dirs, 6H] = [Wb_z Wb_r Wb_h | Rb_z Rb_r Rb_h]   (absent: zero)
//!   linear_before_reset = 0 -> before-multiplication, bias = Wb + Rb
//!   linear_before_reset = 1 -> recurrent-bias-after, bias = [Wb | Rb]
//! ```
//! Layer k > 0 must read layer k-1's `Y` (`[T, dirs, B, H]`) through the pass-through ops
//! that turn it into `[T, B, dirs·H]` (Transpose perm `[0, 2, 1, 3]` when bidirectional,
//! Reshape, Squeeze, Identity).

use std::collections::HashMap;
use std::path::Path;

use gru_core::{DType, GateActivation, GruParams, GruSpec, Real, ResetGateMode, StateActivation};

use super::proto::{attr_type, GraphProto, ModelProto, NodeProto, TensorProto};
use super::tensor::{self, node_label};
use super::{gate_block, SPEC_KEY, TARGET_IN};
use crate::convert::{gates_to_canonical, GruWeights};
use crate::error::{Error, Result};

/// The options of one GRU node, as ONNX states them.
#[derive(Clone, Debug, PartialEq)]
struct NodeOptions {
    hidden: Option<usize>,
    dirs: usize,
    linear_before_reset: bool,
    gate: GateActivation,
    state: StateActivation,
    clip: Option<f32>,
}

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
    let mut first: Option<(NodeOptions, String)> = None;
    let mut blocks = Vec::new();
    let mut input_size = 0;
    for (k, node) in nodes.iter().enumerate() {
        let label = node_label(node);
        let o = node_options(node, path)?;
        if k > 0 {
            check_chain(&g, nodes[k - 1], node, o.dirs)?;
        }
        check_initial_h(&g, node)?;
        let w = g.input_const(node, 1, "W")?.ok_or_else(|| Error::onnx(path, &label, "input W is missing"))?;
        let r = g.input_const(node, 2, "R")?.ok_or_else(|| Error::onnx(path, &label, "input R is missing"))?;
        let (wd, rd) = (tensor::dims(w, path, &label)?, tensor::dims(r, path, &label)?);
        if rd.len() != 3 || rd[1] != 3 * rd[2] {
            return Err(Error::onnx(path, &label, format!("R has shape {rd:?}, expected [dirs, 3H, H]")));
        }
        let h = rd[2];
        if o.hidden.is_some_and(|hs| hs != h) {
            return Err(Error::onnx(path, &label, format!("hidden_size is {:?} but R has shape {rd:?}", o.hidden)));
        }
        let inputs = wd.get(2).copied().unwrap_or(0);
        if k == 0 {
            input_size = inputs;
        }
        let b = g.input_const(node, 3, "B")?;
        let (dirs, lbr) = (o.dirs, o.linear_before_reset);
        let wv = tensor::values::<T>(w, &[dirs, 3 * h, inputs], path, &label)?;
        let rv = tensor::values::<T>(r, &[dirs, 3 * h, h], path, &label)?;
        let bv = match b {
            Some(b) => tensor::values::<T>(b, &[dirs, 6 * h], path, &label)?,
            None => vec![T::zero(); dirs * 6 * h],
        };
        for d in 0..dirs {
            let wb = gates_to_canonical(&bv[d * 6 * h..d * 6 * h + 3 * h], h, 1, gate_block);
            let rb = gates_to_canonical(&bv[d * 6 * h + 3 * h..(d + 1) * 6 * h], h, 1, gate_block);
            let bias = if lbr {
                [wb, rb].concat()
            } else {
                // b = Wb + Rb; a zero Rb leaves Wb's bits as they are.
                wb.iter().zip(&rb).map(|(&a, &c)| if c == T::zero() { a } else { a + c }).collect()
            };
            let nw = 3 * h * inputs;
            blocks.push((
                gates_to_canonical(&wv[d * nw..(d + 1) * nw], h, inputs, gate_block),
                gates_to_canonical(&rv[d * 3 * h * h..(d + 1) * 3 * h * h], h, h, gate_block),
                bias,
            ));
        }
        let o = NodeOptions { hidden: Some(h), ..o };
        match &first {
            None => first = Some((o, label)),
            Some((f, flabel)) => same_options(f, flabel, &o, &label)?,
        }
    }
    let Some((o, _)) = first else { return Err(Error::file(path, "the ONNX graph has no GRU node")) };
    let mode = if o.linear_before_reset {
        ResetGateMode::RecurrentBiasAfterMultiplication
    } else {
        ResetGateMode::BeforeMultiplication
    };
    let spec = GruSpec::new(input_size, o.hidden.unwrap_or(0))
        .with_depth(nodes.len())
        .with_bidirectional(o.dirs == 2)
        .with_reset_gate_mode(mode)
        .with_gate_activation(o.gate)
        .with_state_activation(o.state)
        .with_clip(o.clip.map(f64::from));
    let mut w = GruWeights::new(spec.clone(), GruParams::from_blocks(&spec, blocks)?)?;
    if let Some(meta) = model.metadata_props.iter().find(|p| p.key == SPEC_KEY) {
        if let Ok(ours) = serde_json::from_str::<GruSpec>(&meta.value) {
            apply_our_spec(&mut w, ours);
        }
    }
    Ok(w)
}

/// Restores what ONNX cannot hold exactly from the spec our exporter stored beside the
/// graph, when it agrees with the graph: after-multiplication (lbr = 1 with a zero
/// recurrent bias), f64 clip / alpha / beta (ONNX keeps f32) and the output mode.
fn apply_our_spec<T: Real>(w: &mut GruWeights<T>, ours: GruSpec) {
    let s = &w.spec;
    let f32_eq = |a: Option<f64>, b: Option<f64>| a.map(|v| v as f32) == b.map(|v| v as f32);
    let gate_eq = match (s.gate_activation, ours.gate_activation) {
        (GateActivation::Sigmoid, GateActivation::Sigmoid) => true,
        (GateActivation::HardSigmoid { alpha: a, beta: b }, GateActivation::HardSigmoid { alpha: c, beta: d }) => {
            f32_eq(Some(a), Some(c)) && f32_eq(Some(b), Some(d))
        }
        _ => false,
    };
    let h = s.hidden_size;
    let zero_recurrent = w.params.blocks().iter().all(|b| b.bias()[3 * h..].iter().all(|&v| v == T::zero()));
    let mode_ok = ours.reset_gate_mode == s.reset_gate_mode
        || (ours.reset_gate_mode == ResetGateMode::AfterMultiplication
            && s.reset_gate_mode == ResetGateMode::RecurrentBiasAfterMultiplication
            && zero_recurrent);
    let same_shape = (ours.input_size, ours.hidden_size, ours.depth, ours.bidirectional, ours.state_activation)
        == (s.input_size, s.hidden_size, s.depth, s.bidirectional, s.state_activation);
    if !(same_shape && mode_ok && gate_eq && f32_eq(ours.clip, s.clip)) || ours.validate().is_err() {
        return;
    }
    if ours.reset_gate_mode != s.reset_gate_mode {
        let blocks =
            w.params.blocks().iter().map(|b| (b.w().to_vec(), b.r().to_vec(), b.bias()[..3 * h].to_vec())).collect();
        match GruParams::from_blocks(&ours, blocks) {
            Ok(p) => w.params = p,
            Err(_) => return,
        }
    }
    w.spec = ours;
}

/// Every stack-wide option must be the same in all GRU nodes.
fn same_options(a: &NodeOptions, alabel: &str, b: &NodeOptions, blabel: &str) -> Result<()> {
    let differ = |option: &str, x: String, y: String| {
        Err(Error::not_representable(
            TARGET_IN,
            option,
            format!("{x} in node {alabel} but {y} in node {blabel}"),
            "every layer of a GRU stack shares its options",
        ))
    };
    if a.dirs != b.dirs {
        return differ("direction", a.dirs.to_string(), b.dirs.to_string());
    }
    if a.hidden != b.hidden {
        return differ("hidden_size", format!("{:?}", a.hidden), format!("{:?}", b.hidden));
    }
    if a.linear_before_reset != b.linear_before_reset {
        return differ("linear_before_reset", a.linear_before_reset.to_string(), b.linear_before_reset.to_string());
    }
    if a.gate != b.gate || a.state != b.state {
        return differ("activations", format!("{:?}/{:?}", a.gate, a.state), format!("{:?}/{:?}", b.gate, b.state));
    }
    if a.clip != b.clip {
        return differ("clip", format!("{:?}", a.clip), format!("{:?}", b.clip));
    }
    Ok(())
}

/// Parses and checks the attributes of a GRU node.
fn node_options(node: &NodeProto, path: &Path) -> Result<NodeOptions> {
    let label = node_label(node);
    let bad = |reason: String| Error::onnx(path, &label, reason);
    let mut o = NodeOptions {
        hidden: None,
        dirs: 1,
        linear_before_reset: false,
        gate: GateActivation::Sigmoid,
        state: StateActivation::Tanh,
        clip: None,
    };
    let (mut names, mut alphas, mut betas) = (Vec::new(), Vec::new(), Vec::new());
    for a in &node.attribute {
        let want = |t: i32| -> Result<()> {
            if a.r#type != t && a.r#type != 0 {
                return Err(bad(format!("attribute {} has type {}, expected {t}", a.name, a.r#type)));
            }
            Ok(())
        };
        match a.name.as_str() {
            "hidden_size" => {
                want(attr_type::INT)?;
                o.hidden = Some(
                    usize::try_from(a.i)
                        .ok()
                        .filter(|&h| h > 0)
                        .ok_or_else(|| bad(format!("hidden_size {} is not a positive number", a.i)))?,
                );
            }
            "direction" => {
                want(attr_type::STRING)?;
                o.dirs = match a.s.as_slice() {
                    b"forward" => 1,
                    b"bidirectional" => 2,
                    b"reverse" => {
                        return Err(Error::not_representable(
                            TARGET_IN,
                            "direction",
                            format!("reverse (node {label})"),
                            "a GRU stack runs forward, or both ways; reverse the sequence and import it as forward",
                        ))
                    }
                    other => {
                        return Err(bad(format!(
                            "direction {:?} is not forward, reverse or bidirectional",
                            String::from_utf8_lossy(other)
                        )))
                    }
                };
            }
            "linear_before_reset" => {
                want(attr_type::INT)?;
                o.linear_before_reset = match a.i {
                    0 => false,
                    1 => true,
                    v => return Err(bad(format!("linear_before_reset {v} is not 0 or 1"))),
                };
            }
            "layout" => {
                want(attr_type::INT)?;
                if a.i != 0 {
                    return Err(bad(format!(
                        "layout {} (batch-major X and Y) is not supported; only layout 0 ([T, B, C])",
                        a.i
                    )));
                }
            }
            "clip" => {
                want(attr_type::FLOAT)?;
                if !(a.f.is_finite() && a.f > 0.0) {
                    return Err(bad(format!("clip {} is not a finite number > 0", a.f)));
                }
                o.clip = Some(a.f);
            }
            "activations" => {
                want(attr_type::STRINGS)?;
                names = a.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect();
            }
            "activation_alpha" => {
                want(attr_type::FLOATS)?;
                alphas = a.floats.clone();
            }
            "activation_beta" => {
                want(attr_type::FLOATS)?;
                betas = a.floats.clone();
            }
            other => return Err(bad(format!("attribute {other} is not a GRU attribute this reader knows"))),
        }
    }
    if !names.is_empty() {
        let (gate, state) = activations(&names, &alphas, &betas, o.dirs).map_err(bad)?;
        o.gate = gate;
        o.state = state;
    }
    Ok(o)
}

/// `[f, g]` per direction, alpha/beta consumed in order by the activations that take them.
fn activations(
    names: &[String],
    alphas: &[f32],
    betas: &[f32],
    dirs: usize,
) -> std::result::Result<(GateActivation, StateActivation), String> {
    if names.len() != 2 * dirs {
        return Err(format!("{} activations {names:?}; a GRU of {dirs} direction(s) needs {}", names.len(), 2 * dirs));
    }
    let (mut ai, mut bi) = (0, 0);
    let (mut gates, mut states) = (Vec::new(), Vec::new());
    for (k, name) in names.iter().enumerate() {
        let lower = name.to_ascii_lowercase();
        let takes_alpha =
            matches!(lower.as_str(), "affine" | "leakyrelu" | "thresholdedrelu" | "scaledtanh" | "hardsigmoid" | "elu");
        let takes_beta = matches!(lower.as_str(), "affine" | "scaledtanh" | "hardsigmoid");
        let alpha = takes_alpha.then(|| alphas.get(ai).copied()).flatten();
        let beta = takes_beta.then(|| betas.get(bi).copied()).flatten();
        ai += usize::from(takes_alpha);
        bi += usize::from(takes_beta);
        match (k % 2, lower.as_str()) {
            (0, "sigmoid") => gates.push(GateActivation::Sigmoid),
            (0, "hardsigmoid") => gates.push(GateActivation::HardSigmoid {
                alpha: f64::from(alpha.unwrap_or(0.2)),
                beta: f64::from(beta.unwrap_or(0.5)),
            }),
            (1, "tanh") => states.push(StateActivation::Tanh),
            (1, "softsign") => states.push(StateActivation::Softsign),
            (0, _) => return Err(format!("gate activation {name} is not supported (Sigmoid or HardSigmoid)")),
            _ => return Err(format!("state activation {name} is not supported (Tanh or Softsign)")),
        }
    }
    if dirs == 2 && (gates[0] != gates[1] || states[0] != states[1]) {
        return Err(format!("the two directions use different activations {names:?}, which a GRU stack cannot hold"));
    }
    Ok((gates[0], states[0]))
}

/// Checks that `node` reads `prev`'s `Y` through ops that only move or merge axes.
fn check_chain(g: &Graph<'_>, prev: &NodeProto, node: &NodeProto, dirs: usize) -> Result<()> {
    let label = node_label(node);
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
    if dirs == 2 && !transposed {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn activations_consume_alpha_beta_in_order() {
        let (g, st) = activations(&s(&["HardSigmoid", "Softsign"]), &[0.3], &[0.4], 1).unwrap();
        assert_eq!(st, StateActivation::Softsign);
        assert_eq!(g, GateActivation::HardSigmoid { alpha: f64::from(0.3f32), beta: f64::from(0.4f32) });
        let (g, _) = activations(&s(&["HardSigmoid", "Tanh"]), &[], &[], 1).unwrap();
        assert_eq!(g, GateActivation::HardSigmoid { alpha: f64::from(0.2f32), beta: f64::from(0.5f32) });
        let (g, _) = activations(&s(&["Sigmoid", "Tanh", "Sigmoid", "Tanh"]), &[], &[], 2).unwrap();
        assert_eq!(g, GateActivation::Sigmoid);
        for bad in [s(&["Relu", "Tanh"]), s(&["Sigmoid", "Relu"]), s(&["Sigmoid"])] {
            assert!(activations(&bad, &[], &[], 1).is_err(), "{bad:?}");
        }
        assert!(activations(&s(&["Sigmoid", "Tanh", "Sigmoid", "Softsign"]), &[], &[], 2).is_err());
    }
}
