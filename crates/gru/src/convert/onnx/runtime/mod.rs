//! An evaluator of whole ONNX models around GRU nodes (sequence classifiers and
//! regressors): [`OnnxModel::load`] reads and checks the graph once, [`OnnxModel::run`]
//! evaluates it on the caller's [`Tensor`]s.
//!
//! At load:
//! - the graph is checked: default-domain opset 13 to 21, nodes in topological order, every
//!   input defined before use (a graph input, an initializer or an earlier node's output),
//!   every name defined once, every op and attribute value supported (ops: [`SUPPORTED_OPS`],
//!   semantics: [`ops`], [`shape_ops`], [`gru_op`]);
//! - constants are folded: a node whose inputs are all constants (initializers, Constant
//!   nodes, folded nodes, or Shape of a graph input whose declared dims are all static) is
//!   evaluated once. What depends on the runtime shape of an input (the
//!   Shape/Gather/Unsqueeze/Concat/ConstantOfShape subgraphs of `torch.onnx.export`) stays
//!   in the graph and is evaluated per run from the actual shapes;
//! - each GRU node is prepared ([`gru_op`]): its W, R and B must be constants; they are
//!   converted once to our layout and run by our native engine.
//!
//! At run: every graph input must be given once, float inputs as f32 or f64, integer inputs
//! as i32 or i64, with the declared rank and static dims; floats are computed in `T`,
//! integers in i64. Each output is returned in the order the graph lists them. Values are
//! dropped after their last use.
//!
//! Errors: a malformed or unsupported graph is [`Error::Onnx`] naming the node (`name
//! (op_type)`) or [`Error::File`]; a wrong, missing or unknown input at run time is
//! [`Error::Data`] naming the input; a failing op at run time (shapes that do not fit,
//! an index out of range) is [`Error::Onnx`] naming the node. Tensors are limited to
//! [`value::MAX_ELEMENTS`] elements.

pub mod gru_op;
mod node;
pub mod ops;
pub mod shape_ops;
mod signature;
pub mod value;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gru_core::{DType, Real};

use super::proto::{ModelProto, DOUBLE, FLOAT, INT32, INT64};
use super::tensor::node_label;
use crate::error::{Error, Result};
use node::Op;
use value::Value;

pub use node::SUPPORTED_OPS;
pub use signature::SequenceInput;
pub use value::{Tensor, TensorData};

/// The default-domain opsets the runtime reads.
pub const OPSETS: std::ops::RangeInclusive<i64> = 13..=21;

/// A graph input the caller feeds.
#[derive(Clone, Debug, PartialEq)]
pub struct InputInfo {
    pub name: String,
    /// ONNX element type: 1 float, 11 double, 6 int32, 7 int64.
    pub elem_type: i32,
    /// Declared dims (`Some(n)` static, `None` symbolic); `None` when no shape is declared.
    pub dims: Option<Vec<Option<usize>>>,
}

impl InputInfo {
    /// True for float and double inputs.
    pub fn is_float(&self) -> bool {
        node::is_float_type(self.elem_type)
    }
}

/// A node left for run time.
struct Node<T: Real> {
    label: String,
    op_type: String,
    op: Op<T>,
    /// Value slots of the inputs (`None`: absent optional input).
    inputs: Vec<Option<usize>>,
    outputs: Vec<Option<usize>>,
}

/// An ONNX model ready to run, computing floats in `T`.
pub struct OnnxModel<T: Real> {
    path: PathBuf,
    opset: i64,
    /// Constant values by slot (initializers and folded nodes).
    consts: Vec<Option<Value<T>>>,
    inputs: Vec<(InputInfo, usize)>,
    outputs: Vec<(String, usize)>,
    nodes: Vec<Node<T>>,
    /// The index of the last node reading each slot (`usize::MAX`: kept to the end).
    last_use: Vec<usize>,
}

/// The float type of `model`: that of its first float graph input, else of its first float
/// initializer, else f32.
pub fn model_float_type(model: &ModelProto) -> DType {
    let Some(g) = &model.graph else { return DType::F32 };
    let from_inputs = g.input.iter().filter_map(|i| i.r#type.as_ref()?.tensor_type.as_ref()).map(|t| t.elem_type);
    let from_inits = g.initializer.iter().map(|t| t.data_type);
    match from_inputs.chain(from_inits).find(|&e| node::is_float_type(e)) {
        Some(DOUBLE) => DType::F64,
        _ => DType::F32,
    }
}

impl<T: Real> OnnxModel<T> {
    /// Reads, checks and prepares the ONNX model in `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_model(&super::load(path)?, path)
    }

    /// Checks and prepares `model` (`path` names it in errors).
    pub fn from_model(model: &ModelProto, path: &Path) -> Result<Self> {
        let graph = model.graph.as_ref().ok_or_else(|| Error::file(path, "the ONNX model has no graph"))?;
        let opset = default_opset(model, path)?;
        let mut slots: HashMap<&str, usize> = HashMap::new();
        let mut consts: Vec<Option<Value<T>>> = Vec::new();
        for t in &graph.initializer {
            let at = format!("initializer {}", t.name);
            let s = define(t.name.as_str(), &mut slots, &mut consts, path, &at)?;
            consts[s] = Some(Value::from_proto(t, path, &at)?);
        }
        let mut inputs = Vec::new();
        let mut static_shapes: HashMap<usize, Vec<usize>> = HashMap::new();
        for vi in &graph.input {
            if graph.initializer.iter().any(|t| t.name == vi.name) {
                continue; // an initializer listed as an input (IR < 4): a constant here
            }
            let info = input_info(vi, path)?;
            let s = define(vi.name.as_str(), &mut slots, &mut consts, path, "graph input")?;
            if let Some(d) = info.dims.as_ref().and_then(|d| d.iter().copied().collect::<Option<Vec<usize>>>()) {
                static_shapes.insert(s, d);
            }
            inputs.push((info, s));
        }
        let mut nodes = Vec::new();
        for n in &graph.node {
            let label = node_label(n);
            if !(n.domain.is_empty() || n.domain == "ai.onnx") {
                return Err(Error::onnx(
                    path,
                    &label,
                    format!("op {} of domain {} is not supported", n.op_type, n.domain),
                ));
            }
            let ins = n
                .input
                .iter()
                .map(|name| match name.as_str() {
                    "" => Ok(None),
                    name => slots.get(name).copied().map(Some).ok_or_else(|| {
                        Error::onnx(
                            path,
                            &label,
                            format!(
                                "input {name} is not defined before this node (not a graph input, an initializer \
                                 or an earlier node's output: is the graph in topological order?)"
                            ),
                        )
                    }),
                })
                .collect::<Result<Vec<Option<usize>>>>()?;
            let const_ins: Vec<Option<&Value<T>>> = ins.iter().map(|s| s.and_then(|s| consts[s].as_ref())).collect();
            let op = node::parse(n, opset, &const_ins).map_err(|r| Error::onnx(path, &label, r))?;
            let all_const = ins.iter().zip(&const_ins).all(|(s, c)| s.is_none() || c.is_some());
            let folded = match (&op, ins.first().copied().flatten()) {
                (Op::Gru(_), _) => None,
                _ if all_const => Some(node::eval(&op, &const_ins).map_err(|r| Error::onnx(path, &label, r))?),
                (Op::Shape { start, end }, Some(s)) => {
                    static_shapes.get(&s).map(|d| vec![shape_ops::shape_of(d, *start, *end)])
                }
                _ => None,
            };
            let outs = n
                .output
                .iter()
                .map(|name| match name.as_str() {
                    "" => Ok(None),
                    name => define(name, &mut slots, &mut consts, path, &label).map(Some),
                })
                .collect::<Result<Vec<Option<usize>>>>()?;
            match folded {
                Some(values) => {
                    for (s, v) in outs.iter().zip(values) {
                        if let Some(s) = *s {
                            consts[s] = Some(v);
                        }
                    }
                }
                None => nodes.push(Node { label, op_type: n.op_type.clone(), op, inputs: ins, outputs: outs }),
            }
        }
        if graph.output.is_empty() {
            return Err(Error::file(path, "the ONNX graph has no output"));
        }
        let outputs = graph
            .output
            .iter()
            .map(|o| {
                let s = slots.get(o.name.as_str()).copied();
                s.map(|s| (o.name.clone(), s))
                    .ok_or_else(|| Error::file(path, format!("graph output {} is not computed by any node", o.name)))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut last_use = vec![0; consts.len()];
        for (k, n) in nodes.iter().enumerate() {
            for s in n.inputs.iter().flatten() {
                last_use[*s] = k;
            }
        }
        for (_, s) in &outputs {
            last_use[*s] = usize::MAX;
        }
        // Constants no run-time node reads (e.g. GRU weights, now inside the engines) go.
        let mut read = vec![false; consts.len()];
        for s in nodes.iter().flat_map(|n| n.inputs.iter().flatten()).chain(outputs.iter().map(|(_, s)| s)) {
            read[*s] = true;
        }
        for (c, r) in consts.iter_mut().zip(read) {
            if !r {
                *c = None;
            }
        }
        Ok(Self { path: path.to_path_buf(), opset, consts, inputs, outputs, nodes, last_use })
    }

    /// The file the model was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The default-domain opset of the model.
    pub fn opset(&self) -> i64 {
        self.opset
    }

    /// The inputs [`OnnxModel::run`] needs, in graph order.
    pub fn inputs(&self) -> Vec<&InputInfo> {
        self.inputs.iter().map(|(i, _)| i).collect()
    }

    /// The names of the graph outputs, in graph order.
    pub fn output_names(&self) -> Vec<&str> {
        self.outputs.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The op type of the run-time node computing graph output `name` (`None` when it is a
    /// constant, a graph input or not an output).
    pub fn output_op(&self, name: &str) -> Option<&str> {
        let (_, s) = self.outputs.iter().find(|(n, _)| n == name)?;
        self.nodes.iter().find(|n| n.outputs.contains(&Some(*s))).map(|n| n.op_type.as_str())
    }

    /// GRU nodes left to run (all of them: they are never folded).
    pub fn gru_nodes(&self) -> usize {
        self.nodes.iter().filter(|n| matches!(n.op, Op::Gru(_))).count()
    }

    /// Evaluates the graph on `inputs` (one tensor for each graph input, by name); returns
    /// every graph output, in graph order.
    pub fn run(&self, inputs: &[(&str, Tensor)]) -> Result<Vec<(String, Tensor)>> {
        let mut vals: Vec<Option<Value<T>>> = vec![None; self.consts.len()];
        for (k, (name, _)) in inputs.iter().enumerate() {
            if !self.inputs.iter().any(|(i, _)| i.name == *name) {
                let known: Vec<&str> = self.inputs.iter().map(|(i, _)| i.name.as_str()).collect();
                return Err(Error::data(
                    "ONNX input",
                    name,
                    format!("the graph has no such input (its inputs: {known:?})"),
                ));
            }
            if inputs[..k].iter().any(|(n, _)| n == name) {
                return Err(Error::data("ONNX input", name, "given twice"));
            }
        }
        for (info, s) in &self.inputs {
            let field = format!("ONNX input {}", info.name);
            let (_, t) = inputs
                .iter()
                .find(|(n, _)| *n == info.name)
                .ok_or_else(|| Error::data(&field, "missing", "every graph input must be given"))?;
            check_input(info, t, &field)?;
            vals[*s] = Some(Value::from_tensor(t));
        }
        for (k, n) in self.nodes.iter().enumerate() {
            let outs = {
                let ins = n
                    .inputs
                    .iter()
                    .map(|s| match s {
                        None => Ok(None),
                        Some(s) => vals[*s].as_ref().or(self.consts[*s].as_ref()).map(Some).ok_or_else(|| {
                            Error::onnx(&self.path, &n.label, "an input has no value (an optional output left empty?)")
                        }),
                    })
                    .collect::<Result<Vec<_>>>()?;
                node::eval(&n.op, &ins).map_err(|r| Error::onnx(&self.path, &n.label, r))?
            };
            for (s, v) in n.outputs.iter().zip(outs) {
                if let Some(s) = s {
                    vals[*s] = Some(v);
                }
            }
            for s in n.inputs.iter().flatten() {
                if self.last_use[*s] == k {
                    vals[*s] = None;
                }
            }
        }
        self.outputs
            .iter()
            .map(|(name, s)| {
                let v = vals[*s].as_ref().or(self.consts[*s].as_ref()).ok_or_else(|| {
                    Error::file(&self.path, format!("graph output {name} was not computed (an empty optional output?)"))
                })?;
                Ok((name.clone(), v.to_tensor()))
            })
            .collect()
    }
}

/// A new value slot for tensor `name`, which must not be defined yet (`at` names where).
fn define<'a, T>(
    name: &'a str,
    slots: &mut HashMap<&'a str, usize>,
    consts: &mut Vec<Option<Value<T>>>,
    path: &Path,
    at: &str,
) -> Result<usize> {
    if slots.contains_key(name) {
        return Err(Error::onnx(path, at, format!("tensor {name} is defined twice")));
    }
    consts.push(None);
    slots.insert(name, consts.len() - 1);
    Ok(consts.len() - 1)
}

/// The default-domain opset of `model`, checked against [`OPSETS`].
fn default_opset(model: &ModelProto, path: &Path) -> Result<i64> {
    let v = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or_else(|| Error::file(path, "the ONNX model imports no default-domain opset"))?;
    if !OPSETS.contains(&v) {
        return Err(Error::file(
            path,
            format!("opset {v} is not supported by the ONNX runtime of gru ({} to {})", OPSETS.start(), OPSETS.end()),
        ));
    }
    Ok(v)
}

/// The declared type and shape of a graph input (float, double, int32 or int64).
fn input_info(vi: &super::proto::ValueInfoProto, path: &Path) -> Result<InputInfo> {
    let tt = vi.r#type.as_ref().and_then(|t| t.tensor_type.as_ref());
    let elem_type = tt.map_or(0, |t| t.elem_type);
    if ![FLOAT, DOUBLE, INT32, INT64].contains(&elem_type) {
        return Err(Error::file(
            path,
            format!("graph input {} has element type {elem_type}; float, double, int32 or int64 is supported", vi.name),
        ));
    }
    let dims = match tt.and_then(|t| t.shape.as_ref()) {
        None => None,
        Some(s) => Some(
            s.dim
                .iter()
                .map(|d| match d.dim_value {
                    Some(v) if v >= 0 => Ok(usize::try_from(v).ok()),
                    Some(v) => Err(Error::file(path, format!("graph input {} declares a dim {v}", vi.name))),
                    None => Ok(None),
                })
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    Ok(InputInfo { name: vi.name.clone(), elem_type, dims })
}

/// A caller's tensor against the declared input.
fn check_input(info: &InputInfo, t: &Tensor, field: &str) -> Result<()> {
    if info.is_float() != t.is_float() {
        let want = if info.is_float() { "a float (f32 or f64)" } else { "an integer (i32 or i64)" };
        return Err(Error::data(field, t.dtype_name(), format!("{want} tensor is needed")));
    }
    let n = value::numel(&t.shape).map_err(|r| Error::data(field, format!("shape {:?}", t.shape), r))?;
    if n != t.len() {
        return Err(Error::data(field, format!("{} values", t.len()), format!("its shape {:?} needs {n}", t.shape)));
    }
    if let Some(d) = &info.dims {
        let fits = d.len() == t.shape.len() && d.iter().zip(&t.shape).all(|(d, &s)| d.is_none_or(|d| d == s));
        if !fits {
            let declared: Vec<String> = d.iter().map(|d| d.map_or("?".into(), |d| d.to_string())).collect();
            return Err(Error::data(
                field,
                format!("shape {:?}", t.shape),
                format!("the graph declares [{}] (rank {})", declared.join(", "), d.len()),
            ));
        }
    }
    Ok(())
}
