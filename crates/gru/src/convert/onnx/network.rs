//! Whole networks ([`Network`], what `gru train` saves) as ONNX models (opset 14+).
//!
//! ```text
//! inputs   X [T, B, C] time-major (T, B symbolic), sequence_lens [B] int32 (lengths[b] in 0..=T)
//! layer (our node n{i})         ONNX nodes
//! sequence input, z-score       Sub(x, n0_mean [C]) -> Div(·, n0_std [C])   (only when fitted)
//! GRU (depth D)                 per stacked layer k the nodes of export.rs: GRU n{i}_gru_l{k}
//!                               (W, R, B, sequence_lens[, initial_h]) -> Transpose [0, 2, 1, 3]
//!                               -> Reshape [0, 0, -1] -> [T, B, dirs·H]
//!   learnable initial state     n{i}_gru_l{k}_h0 [dirs, 1, H] -> Expand to [dirs, B, H]
//!                               (shape [1, B, 1] = Concat(1, Shape(sequence_lens), 1))
//!   output mode last, forward   Y_h of the top layer [1, B, H] -> Reshape [-1, H] -> [B, H]
//!   output mode last, bidir.    GatherElements(axis 0) of the [T, B, 2H] output at step
//!                               sequence_lens - 1 -> Reshape [-1, 2H] -> [B, 2H] (the backward
//!                               half is its state after its first step, as ours)
//! dropout                       nothing (inference)
//! fully connected, per step     MatMul(x, Transpose(n{i}_fc_W [K, In])) -> Add(n{i}_fc_b [K])
//! fully connected, per sequence Gemm(x, n{i}_fc_W [K, In], n{i}_fc_b [K], transB = 1)
//! softmax                       Softmax(axis -1)
//! activation                    tanh: Tanh; relu: Relu, or PRelu(slope [1]) with a negative
//!                               slope; logistic: Sigmoid; linear a·x + b: Mul, Add; softrelu:
//!                               Softplus; softsign: Softsign; clip: Clip(min, max); log: Log
//! output transform              per distinct transformation g (absolute: Abs; Korali's
//!                               softplus 0.5·(x + √(1 + x²)): Mul, Add, Sqrt, Add, Mul; tanh:
//!                               Tanh; sigmoid: Sigmoid), picked per channel by
//!                               Where(mask [C] bool); then Mul(scale [C]), Add(shift [C])
//! classification / regression   nothing
//! normalized targets            Mul(target_scale [K]) -> Add(target_offset [K]) (only when fitted)
//! output   Y [B, K] (sequence-to-one) or [T, B, K] (per step)
//! ```
//! Constants are tensors of the network's element type (f64 networks are DOUBLE models;
//! onnxruntime has no f64 GRU). The GRU attributes keep clip and hard-sigmoid's alpha and
//! beta as f32 (ONNX's attribute type; our reader restores the f64 values from the
//! metadata). Every layer of [`LayerSpec`] has a mapping: nothing is
//! refused but an opset before 14 ([`Error::Property`]).
//!
//! Steps past a sequence's length are padding. ONNX's GRU outputs zeros there, as
//! [`Network::forward`] does, and the layers after it compute on those zeros in both (a
//! fully connected layer outputs its bias there), so `Y`'s padding rows match
//! `Network::forward`'s; but [`crate::train::predict`] returns only the valid steps, and
//! only they are compared ([`crate::convert::verify::valid_steps`]).
//!
//! A sequence of length 0: ours leaves each GRU in its initial state (h_T = h0, output mode
//! last reads it), and so does our runtime ([`super::runtime::gru_op`]); onnxruntime gives
//! Y_h = 0 there and GatherElements reads step -1 (the last, zero padding), so for an empty
//! sequence onnxruntime agrees with [`Network::forward`] only where that initial state is
//! zero (no learnable initial state).
//!
//! Reading back ([`network_from_model`]) needs the network's model JSON (the JSON of a
//! saved network's header: kind, dtype, layers, seed, class names; no tensors) stored in
//! `metadata_props` under [`NETWORK_KEY`]; every learned value (GRU weights and initial
//! states, fully connected weights, normalization statistics) is read from the graph's
//! initializers, by the names above, bit for bit. Each GRU node is read through `gru_map`
//! (the mapping of the stack importer and the runtime): its attributes must state its
//! layer's spec, and its weights map by the same rule (lbr 0: bias `Wb + Rb`; lbr 1:
//! `[Wb | Rb]`, after-multiplication only with a zero `Rb`). A model without that metadata
//! is refused ([`Error::Unsupported`]): run it with an ONNX runtime instead.

use std::collections::HashMap;
use std::path::Path;

use gru_core::{DType, GruParams, OutputMode, Real, ResetGateMode};
use prost::Message;
use serde_json::Value;

use super::export::{self, node, push_stack, value_info, StackNames, INPUT, LENGTHS, OUTPUT, SEQ_SHAPE};
use super::gru_map::{self, GruAttrs, Shape};
use super::proto::{AttributeProto, GraphProto, ModelProto, NodeProto, StringStringEntryProto, TensorProto, INT32};
use super::tensor::{self, attr_int, attr_ints, elem_type, float_tensor, int64_tensor, node_label};
use super::OnnxOptions;
use crate::convert::GruWeights;
use crate::error::{Error, Result};
use crate::network::{Elementwise, LayerSpec, Network, Node, OutputTransform, Transformation};

/// The `metadata_props` key of the network's model JSON.
pub const NETWORK_KEY: &str = "gru.network";

/// `TensorProto.DataType.BOOL`.
const BOOL: i32 = 9;

/// True when `model` carries our network metadata ([`NETWORK_KEY`]).
pub fn is_network(model: &ModelProto) -> bool {
    model.metadata_props.iter().any(|p| p.key == NETWORK_KEY)
}

/// The network's model JSON stored in `model` (a typed error when absent or malformed).
fn network_json(model: &ModelProto, path: &Path) -> Result<Value> {
    let Some(meta) = model.metadata_props.iter().find(|p| p.key == NETWORK_KEY) else {
        return Err(Error::Unsupported {
            operation: format!("reading {} as a gru network", path.display()),
            reason: format!(
                "the model has no \"{NETWORK_KEY}\" metadata (gru writes it when exporting a network); \
                 evaluate the graph with an ONNX runtime, or read its GRU nodes as one stack (onnx::read)"
            ),
        });
    };
    serde_json::from_str(&meta.value).map_err(|e| Error::file(path, format!("metadata {NETWORK_KEY}: {e}")))
}

/// The element type of the network stored in `model` (from its metadata).
pub fn network_dtype(model: &ModelProto, path: &Path) -> Result<DType> {
    match network_json(model, path)?.get("dtype").and_then(Value::as_str) {
        Some("f32") => Ok(DType::F32),
        Some("f64") => Ok(DType::F64),
        other => Err(Error::file(path, format!("metadata {NETWORK_KEY}: \"dtype\" is {other:?}, expected f32 or f64"))),
    }
}

/// Appends nodes and constants to a graph under construction.
struct Builder {
    g: GraphProto,
    /// The name of `[1, B, 1]` (for Expand), once built.
    batch_shape: Option<String>,
    /// The name of `sequence_lens - 1` as `[1, B, 1]` int32, once built.
    last_step: Option<String>,
}

impl Builder {
    fn constant<T: Real>(&mut self, name: &str, shape: &[usize], values: &[T]) -> String {
        self.g.initializer.push(float_tensor(name, shape, values));
        name.to_string()
    }

    fn ints(&mut self, name: &str, values: &[i64]) -> String {
        self.g.initializer.push(int64_tensor(name, values));
        name.to_string()
    }

    /// Node `name` whose one output is also called `name`.
    fn op(&mut self, name: &str, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        self.g.node.push(node(name, op, inputs, &[name], attrs));
        name.to_string()
    }

    /// `[1, B, 1]` int64, from the batch of `sequence_lens`.
    fn batch_shape(&mut self) -> String {
        if let Some(s) = &self.batch_shape {
            return s.clone();
        }
        let one = self.ints("one_i64", &[1]);
        let b = self.op("batch_size", "Shape", &[LENGTHS], vec![]);
        let s = self.op("batch_shape_1b1", "Concat", &[&one, &b, &one], vec![attr_int("axis", 0)]);
        self.batch_shape = Some(s.clone());
        s
    }

    /// `sequence_lens - 1` reshaped to `[1, B, 1]` (int32): each sequence's last valid step.
    fn last_step(&mut self) -> String {
        if let Some(s) = &self.last_step {
            return s.clone();
        }
        self.g.initializer.push(TensorProto {
            name: "one_i32".into(),
            dims: vec![1],
            data_type: INT32,
            raw_data: 1i32.to_le_bytes().to_vec(),
            ..Default::default()
        });
        let last = self.op("last_step", "Sub", &[LENGTHS, "one_i32"], vec![]);
        let shape = self.ints("last_step_shape", &[1, -1, 1]);
        let s = self.op("last_step_1b1", "Reshape", &[&last, &shape], vec![]);
        self.last_step = Some(s.clone());
        s
    }
}

/// The ONNX model of `network` (see the module documentation for the graph).
pub fn network_to_model<T: Real>(network: &Network<T>, options: &OnnxOptions) -> Result<ModelProto> {
    export::check_opset(options)?;
    let elem = elem_type::<T>();
    let mut b = Builder {
        g: GraphProto { name: "gru-network".into(), ..Default::default() },
        batch_shape: None,
        last_step: None,
    };
    b.g.input.push(value_info(INPUT, elem, &[Err("T"), Err("B"), Ok(network.input_size())]));
    b.g.input.push(value_info(LENGTHS, INT32, &[Err("B")]));
    let mut cur = INPUT.to_string();
    let (mut width, mut seq) = (network.input_size(), true);
    for (i, n) in network.nodes.iter().enumerate() {
        let p = format!("n{i}_");
        match n {
            Node::Input { stats: Some((mean, std)), .. } => {
                let m = b.constant(&format!("{p}mean"), &[width], mean);
                let s = b.constant(&format!("{p}std"), &[width], std);
                let centered = b.op(&format!("{p}sub"), "Sub", &[&cur, &m], vec![]);
                cur = b.op(&format!("{p}div"), "Div", &[&centered, &s], vec![]);
            }
            Node::Input { .. } | Node::Dropout(_) => {}
            Node::Gru(g) => {
                let spec = g.spec()?;
                crate::convert::check_plain_inference(super::TARGET, &spec)?;
                let params = g.params().cloned().ok_or_else(|| Error::Unresolved {
                    property: "InputWeights".into(),
                    reason: format!("GRU node {i} has no weights yet"),
                })?;
                let weights = GruWeights::new(spec.clone(), params)?;
                let (h, dirs) = (spec.hidden_size, spec.directions());
                let mut initial_h = Vec::new();
                if let Some(state) = g.initial_state() {
                    let shape = b.batch_shape();
                    for (k, rows) in state.chunks_exact(dirs * h).enumerate() {
                        let c = b.constant(&format!("{p}gru_l{k}_h0"), &[dirs, 1, h], rows);
                        initial_h.push(b.op(&format!("{p}gru_l{k}_h0_expand"), "Expand", &[&c, &shape], vec![]));
                    }
                }
                if !b.g.initializer.iter().any(|t| t.name == SEQ_SHAPE) {
                    b.ints(SEQ_SHAPE, &[0, 0, -1]);
                }
                let out = format!("{p}gru_out");
                let names = StackNames {
                    prefix: &p,
                    input: &cur,
                    output: &out,
                    single_state: None,
                    initial_h: &initial_h,
                    lengths: Some(LENGTHS),
                };
                let states = push_stack(&mut b.g, &weights, &names);
                width = spec.output_size();
                cur = out;
                if spec.output_mode == OutputMode::Last {
                    seq = false;
                    let shape = b.ints(&format!("{p}last_shape"), &[-1, width as i64]);
                    let last = if dirs == 1 {
                        states.last().cloned().unwrap_or_default()
                    } else {
                        let steps = b.last_step();
                        let wide = b.ints(&format!("{p}last_width"), &[1, 1, width as i64]);
                        let index = b.op(&format!("{p}last_index"), "Expand", &[&steps, &wide], vec![]);
                        b.op(&format!("{p}last_gather"), "GatherElements", &[&cur, &index], vec![attr_int("axis", 0)])
                    };
                    cur = b.op(&format!("{p}last"), "Reshape", &[&last, &shape], vec![]);
                }
            }
            Node::Dense(d) => {
                let w = b.constant(&format!("{p}fc_W"), &[d.outputs, d.inputs], &d.w);
                let bias = b.constant(&format!("{p}fc_b"), &[d.outputs], &d.b);
                cur = if seq {
                    let perm = vec![attr_ints("perm", vec![1, 0])];
                    let wt = b.op(&format!("{p}fc_Wt"), "Transpose", &[&w], perm);
                    let mm = b.op(&format!("{p}fc_matmul"), "MatMul", &[&cur, &wt], vec![]);
                    b.op(&format!("{p}fc"), "Add", &[&mm, &bias], vec![])
                } else {
                    b.op(&format!("{p}fc"), "Gemm", &[&cur, &w, &bias], vec![attr_int("transB", 1)])
                };
                width = d.outputs;
            }
            Node::Softmax => cur = b.op(&format!("{p}softmax"), "Softmax", &[&cur], vec![attr_int("axis", -1)]),
            Node::Elementwise(f) => cur = elementwise::<T>(&mut b, &p, &cur, f),
            Node::Output(o) => cur = output_transform::<T>(&mut b, &p, &cur, o, width),
        }
    }
    if let Some(t) = network.target_normalization() {
        // y = offset + scale · y' (the network's output in the targets' units).
        let r = t.scale.len();
        let s = b.constant("target_scale", &[r], &t.scale);
        let o = b.constant("target_offset", &[r], &t.offset);
        let scaled = b.op("target_mul", "Mul", &[&cur, &s], vec![]);
        cur = b.op("target_add", "Add", &[&scaled, &o], vec![]);
    }
    // The last node's output becomes Y (an Identity when no node computes anything).
    match b.g.node.last_mut() {
        Some(last) if cur != INPUT && last.output.first() == Some(&cur) => last.output[0] = OUTPUT.to_string(),
        _ => {
            b.g.node.push(node("output", "Identity", &[&cur], &[OUTPUT], vec![]));
        }
    }
    let k = network.output_width();
    let dims: Vec<Result<usize, &str>> = if seq { vec![Err("T"), Err("B"), Ok(k)] } else { vec![Err("B"), Ok(k)] };
    b.g.output.push(value_info(OUTPUT, elem, &dims));
    let json = serde_json::to_string(&network.to_parts().0)
        .map_err(|e| Error::property("network", "model JSON", e.to_string()))?;
    let kind = if seq { "sequence-to-sequence" } else { "sequence-to-one" };
    Ok(export::model(
        b.g,
        options,
        format!("{kind} GRU network ({}) exported by the gru crate", T::DTYPE),
        vec![StringStringEntryProto { key: NETWORK_KEY.into(), value: json }],
    ))
}

/// The nodes of an element-wise activation on `x`; returns the output's name.
fn elementwise<T: Real>(b: &mut Builder, p: &str, x: &str, f: &Elementwise) -> String {
    let scalar = |b: &mut Builder, name: &str, v: f64| b.constant::<T>(&format!("{p}{name}"), &[1], &[T::lit(v)]);
    match *f {
        Elementwise::Tanh => b.op(&format!("{p}tanh"), "Tanh", &[x], vec![]),
        Elementwise::Relu { negative_slope: 0.0 } => b.op(&format!("{p}relu"), "Relu", &[x], vec![]),
        Elementwise::Relu { negative_slope } => {
            let s = scalar(b, "slope", negative_slope);
            b.op(&format!("{p}prelu"), "PRelu", &[x, &s], vec![])
        }
        Elementwise::Logistic => b.op(&format!("{p}sigmoid"), "Sigmoid", &[x], vec![]),
        Elementwise::Linear { alpha, beta } => {
            let a = scalar(b, "alpha", alpha);
            let c = scalar(b, "beta", beta);
            let ax = b.op(&format!("{p}mul"), "Mul", &[x, &a], vec![]);
            b.op(&format!("{p}add"), "Add", &[&ax, &c], vec![])
        }
        Elementwise::Softrelu => b.op(&format!("{p}softplus"), "Softplus", &[x], vec![]),
        Elementwise::Softsign => b.op(&format!("{p}softsign"), "Softsign", &[x], vec![]),
        Elementwise::Clip { lower, upper } => {
            // Clip's min and max are scalars (rank 0).
            let lo = b.constant::<T>(&format!("{p}lower"), &[], &[T::lit(lower)]);
            let hi = b.constant::<T>(&format!("{p}upper"), &[], &[T::lit(upper)]);
            b.op(&format!("{p}clip"), "Clip", &[x, &lo, &hi], vec![])
        }
        Elementwise::Log => b.op(&format!("{p}log"), "Log", &[x], vec![]),
    }
}

/// The nodes of Korali's output transformation on `x` (`width` channels).
fn output_transform<T: Real>(b: &mut Builder, p: &str, x: &str, o: &OutputTransform, width: usize) -> String {
    let per_channel: Vec<Transformation> =
        (0..width).map(|c| o.transformations.get(c).copied().unwrap_or(Transformation::Identity)).collect();
    let mut distinct: Vec<Transformation> = Vec::new();
    for t in &per_channel {
        if !distinct.contains(t) {
            distinct.push(*t);
        }
    }
    let mut cur = x.to_string();
    if distinct.iter().any(|t| *t != Transformation::Identity) {
        // The channels of each transformation but the first take its values (Where).
        let mut picked = transformation::<T>(b, p, x, distinct[0]);
        for &t in &distinct[1..] {
            let y = transformation::<T>(b, p, x, t);
            let name = format!("{p}{}_mask", transformation_name(t));
            b.g.initializer.push(TensorProto {
                name: name.clone(),
                dims: vec![width as i64],
                data_type: BOOL,
                raw_data: per_channel.iter().map(|&c| u8::from(c == t)).collect(),
                ..Default::default()
            });
            picked = b.op(&format!("{p}{}_where", transformation_name(t)), "Where", &[&name, &y, &picked], vec![]);
        }
        cur = picked;
    }
    if !o.scale.is_empty() {
        let v: Vec<T> = o.scale.iter().map(|&s| T::lit(s)).collect();
        let s = b.constant(&format!("{p}scale"), &[width], &v);
        cur = b.op(&format!("{p}scale_mul"), "Mul", &[&cur, &s], vec![]);
    }
    if !o.shift.is_empty() {
        let v: Vec<T> = o.shift.iter().map(|&s| T::lit(s)).collect();
        let s = b.constant(&format!("{p}shift"), &[width], &v);
        cur = b.op(&format!("{p}shift_add"), "Add", &[&cur, &s], vec![]);
    }
    if cur == x {
        cur = b.op(&format!("{p}identity"), "Identity", &[x], vec![]);
    }
    cur
}

fn transformation_name(t: Transformation) -> &'static str {
    match t {
        Transformation::Identity => "identity",
        Transformation::Absolute => "absolute",
        Transformation::Softplus => "softplus",
        Transformation::Tanh => "tanh",
        Transformation::Sigmoid => "sigmoid",
    }
}

/// One transformation of `x`, all channels.
fn transformation<T: Real>(b: &mut Builder, p: &str, x: &str, t: Transformation) -> String {
    let q = format!("{p}{}", transformation_name(t));
    match t {
        Transformation::Identity => x.to_string(),
        Transformation::Absolute => b.op(&q, "Abs", &[x], vec![]),
        Transformation::Tanh => b.op(&q, "Tanh", &[x], vec![]),
        Transformation::Sigmoid => b.op(&q, "Sigmoid", &[x], vec![]),
        Transformation::Softplus => {
            // Korali's softplus: 0.5 · (x + sqrt(1 + x²)).
            let one = b.constant::<T>(&format!("{q}_one"), &[1], &[T::one()]);
            let half = b.constant::<T>(&format!("{q}_half"), &[1], &[T::lit(0.5)]);
            let sq = b.op(&format!("{q}_square"), "Mul", &[x, x], vec![]);
            let plus = b.op(&format!("{q}_plus_one"), "Add", &[&sq, &one], vec![]);
            let root = b.op(&format!("{q}_sqrt"), "Sqrt", &[&plus], vec![]);
            let sum = b.op(&format!("{q}_sum"), "Add", &[x, &root], vec![]);
            b.op(&q, "Mul", &[&sum, &half], vec![])
        }
    }
}

/// Writes `network` as an ONNX model (atomically).
pub fn write_network<T: Real>(path: &Path, network: &Network<T>, options: &OnnxOptions) -> Result<()> {
    let bytes = network_to_model(network, options)?.encode_to_vec();
    crate::io::write_atomically(path, &bytes)
}

/// Reads the network of the ONNX model in `path` as `T` (see [`network_from_model`]).
pub fn read_network<T: Real>(path: &Path) -> Result<Network<T>> {
    network_from_model(&super::load(path)?, path)
}

/// The network our exporter stored in `model`: built from the model JSON of its
/// [`NETWORK_KEY`] metadata, every learned value read from the graph's initializers.
/// Without the metadata: [`Error::Unsupported`] (run such a model with an ONNX runtime).
pub fn network_from_model<T: Real>(model: &ModelProto, path: &Path) -> Result<Network<T>> {
    let json = network_json(model, path)?;
    let graph = model.graph.as_ref().ok_or_else(|| Error::file(path, "the ONNX model has no graph"))?;
    check_size(&json, graph, path)?;
    let mut net = Network::<T>::from_model_json(&json, path)?;
    let r = Reader { path, consts: graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect(), graph };
    let mut stats = None;
    for (i, n) in net.nodes.iter_mut().enumerate() {
        let p = format!("n{i}_");
        match n {
            // Fitted z-score statistics, when the graph normalizes.
            Node::Input { size, .. } if r.consts.contains_key(format!("{p}mean").as_str()) => {
                stats = Some((
                    r.values::<T>(&format!("{p}mean"), &[*size], "input")?,
                    r.values::<T>(&format!("{p}std"), &[*size], "input")?,
                ));
            }
            Node::Gru(g) => {
                let spec = g.spec()?;
                let (h, dirs) = (spec.hidden_size, spec.directions());
                let mut blocks = Vec::new();
                let mut initial = Vec::new();
                for k in 0..spec.depth {
                    let gru = r.node(&format!("{p}gru_l{k}"), "GRU")?;
                    let label = node_label(gru);
                    let onnx = |reason: String| Error::onnx(path, &label, reason);
                    // The node's attributes must state the layer's spec (as ONNX keeps it).
                    let attrs = GruAttrs::parse(gru).map_err(onnx)?;
                    attrs.agrees(&spec).map_err(|reason| r.missing(&label, reason))?;
                    let shape = Shape { dirs, hidden: h, inputs: spec.layer_input_size(k) };
                    let w = r.input::<T>(gru, 1, &[dirs, 3 * h, shape.inputs])?;
                    let rr = r.input::<T>(gru, 2, &[dirs, 3 * h, h])?;
                    let bias = r.input::<T>(gru, 3, &[dirs, 6 * h])?;
                    let layer = gru_map::blocks_from_onnx(&shape, attrs.linear_before_reset, &w, &rr, Some(&bias));
                    blocks.extend(if spec.reset_gate_mode == ResetGateMode::AfterMultiplication {
                        gru_map::after_multiplication(layer, h).ok_or_else(|| {
                            onnx(format!(
                                "B has a nonzero recurrent bias, which {} has not",
                                spec.reset_gate_mode.name()
                            ))
                        })?
                    } else {
                        layer
                    });
                    if g.initial_state().is_some() {
                        initial.extend(r.initial_h::<T>(gru, &[dirs, 1, h])?);
                    }
                }
                g.set_params(GruParams::from_blocks(&spec, blocks)?)?;
                if g.initial_state().is_some() {
                    g.set_initial_state(initial)?;
                }
            }
            Node::Dense(d) => {
                d.w = r.values::<T>(&format!("{p}fc_W"), &[d.outputs, d.inputs], &format!("{p}fc"))?;
                d.b = r.values::<T>(&format!("{p}fc_b"), &[d.outputs], &format!("{p}fc"))?;
            }
            _ => {}
        }
    }
    net.set_normalization(stats)?;
    if r.consts.contains_key("target_scale") {
        let k = net.output_width();
        let scale = r.values::<T>("target_scale", &[k], "target_mul")?;
        let offset = r.values::<T>("target_offset", &[k], "target_add")?;
        let kind = Network::<T>::target_normalization_kind(&json, path)?;
        net.set_target_normalization(Some(crate::network::TargetNormalization { kind, offset, scale }))?;
    }
    Ok(net)
}

/// Refuses metadata whose layers need far more weights than the graph's initializers hold,
/// before anything is allocated for them (a crafted model cannot make us allocate more
/// than about twice what it brings).
fn check_size(json: &Value, graph: &GraphProto, path: &Path) -> Result<()> {
    let Ok(specs) = serde_json::from_value::<Vec<LayerSpec>>(json.get("layers").cloned().unwrap_or(Value::Null)) else {
        return Ok(()); // reported by the network's own reader
    };
    let needed = crate::network::min_params(&specs);
    let held: usize = graph
        .initializer
        .iter()
        .map(|t| t.raw_data.len() / 4 + t.float_data.len() + t.double_data.len() + t.int32_data.len())
        .sum();
    // Only metadata far beyond the graph is refused here (twice what it holds): a graph
    // short of a few tensors gets the reader's error naming the missing one.
    if needed / 2 > held {
        return Err(Error::file(
            path,
            format!("its {NETWORK_KEY} layers need at least {needed} weights, the graph holds {held}"),
        ));
    }
    Ok(())
}

/// Looks up the nodes and initializers of a graph we wrote.
struct Reader<'a> {
    path: &'a Path,
    graph: &'a GraphProto,
    consts: HashMap<&'a str, &'a TensorProto>,
}

impl<'a> Reader<'a> {
    fn missing(&self, node: &str, what: String) -> Error {
        Error::onnx(self.path, node, format!("{what}: the graph does not match its {NETWORK_KEY} metadata"))
    }

    /// The node called `name`, of type `op`.
    fn node(&self, name: &str, op: &str) -> Result<&'a NodeProto> {
        self.graph
            .node
            .iter()
            .find(|n| n.name == name && n.op_type == op)
            .ok_or_else(|| self.missing(&format!("{name} ({op})"), "no such node".into()))
    }

    /// Initializer `name` as `T` with `shape`; `node` names the reader in errors.
    fn values<T: Real>(&self, name: &str, shape: &[usize], node: &str) -> Result<Vec<T>> {
        let t = self.consts.get(name).ok_or_else(|| self.missing(node, format!("initializer {name} is missing")))?;
        tensor::values::<T>(t, shape, self.path, node)
    }

    /// Input `i` of `node`, an initializer, as `T` with `shape`.
    fn input<T: Real>(&self, node: &NodeProto, i: usize, shape: &[usize]) -> Result<Vec<T>> {
        let label = node_label(node);
        let name = node.input.get(i).ok_or_else(|| self.missing(&label, format!("input {i} is missing")))?;
        self.values(name, shape, &label)
    }

    /// The constant behind `initial_h` (input 5) of a GRU node: `Expand(constant, shape)`.
    fn initial_h<T: Real>(&self, gru: &NodeProto, shape: &[usize]) -> Result<Vec<T>> {
        let label = node_label(gru);
        let name = gru.input.get(5).filter(|n| !n.is_empty());
        let expand = name.and_then(|n| self.graph.node.iter().find(|p| p.output.first() == Some(n)));
        match expand {
            Some(e) if e.op_type == "Expand" => self.input(e, 0, shape),
            _ => Err(self.missing(&label, "initial_h is not an Expand of a constant".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::INT64;
    use super::*;
    use crate::layers;
    use crate::network::{fully_connected, gru, regression, sequence_input};

    #[test]
    fn a_network_without_layers_between_input_and_output_is_an_identity() {
        let net = Network::<f32>::new(layers![sequence_input(3), regression()], 0).unwrap();
        let m = network_to_model(&net, &OnnxOptions::default()).unwrap();
        let g = m.graph.as_ref().unwrap();
        assert_eq!(g.node.len(), 1);
        assert_eq!((g.node[0].op_type.as_str(), g.node[0].output[0].as_str()), ("Identity", OUTPUT));
        let back = network_from_model::<f32>(&m, Path::new("m.onnx")).unwrap();
        assert_eq!(back.specs(), net.specs());
    }

    #[test]
    fn the_last_node_writes_y_and_int_constants_are_int64() {
        let net = Network::<f64>::new(
            layers![sequence_input(2), gru(3).output_mode(OutputMode::Last), fully_connected(2), regression()],
            1,
        )
        .unwrap();
        let m = network_to_model(&net, &OnnxOptions::default()).unwrap();
        let g = m.graph.as_ref().unwrap();
        assert_eq!(g.node.last().unwrap().op_type, "Gemm");
        assert_eq!(g.node.last().unwrap().output, vec![OUTPUT.to_string()]);
        assert!(g.initializer.iter().filter(|t| t.name.ends_with("shape")).all(|t| t.data_type == INT64));
        assert_eq!(network_dtype(&m, Path::new("m.onnx")).unwrap(), DType::F64);
    }
}
