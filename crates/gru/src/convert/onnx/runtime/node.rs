//! One node of the graph: its op with the attributes read and checked once at load
//! ([`parse`]), and its evaluation on input values ([`eval`]). Errors are reasons; the
//! caller names the node.

use gru_core::Real;

use super::super::attrs::Attrs;
use super::super::proto::{NodeProto, TensorProto, FLOAT};
use super::gru_op::GruOp;
use super::ops::{self, Binary, GemmAttrs, Unary};
use super::shape_ops;
use super::value::Value;

/// The op types the runtime evaluates.
pub const SUPPORTED_OPS: &[&str] = &[
    "Add",
    "Cast",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Div",
    "Flatten",
    "GRU",
    "Gather",
    "Gemm",
    "Identity",
    "LogSoftmax",
    "MatMul",
    "Mul",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
];

/// A node's op with its attributes.
pub(crate) enum Op<T: Real> {
    Identity,
    Unary(Unary),
    Binary(Binary),
    MatMul,
    Gemm(GemmAttrs),
    Softmax { axis: i64, log: bool },
    Cast { to: i32 },
    Shape { start: i64, end: Option<i64> },
    Gather { axis: i64 },
    Unsqueeze,
    Squeeze,
    Concat { axis: i64 },
    Slice,
    Reshape { allowzero: bool },
    Transpose { perm: Option<Vec<i64>> },
    Flatten { axis: i64 },
    ConstantOfShape { fill: Value<T> },
    Constant(Value<T>),
    Gru(Box<GruOp<T>>),
}

/// `(required inputs, most inputs, most outputs)` of an op type; `None` when unsupported.
fn arity(op: &str) -> Option<(usize, usize, usize)> {
    Some(match op {
        "Identity" | "Relu" | "Tanh" | "Sigmoid" | "Softmax" | "LogSoftmax" | "Cast" | "Shape" | "Transpose"
        | "Flatten" | "ConstantOfShape" => (1, 1, 1),
        "Add" | "Sub" | "Mul" | "Div" | "MatMul" | "Gather" | "Unsqueeze" | "Reshape" => (2, 2, 1),
        "Gemm" => (2, 3, 1),
        "Squeeze" => (1, 2, 1),
        "Concat" => (1, usize::MAX, 1),
        "Slice" => (3, 5, 1),
        "Constant" => (0, 0, 1),
        "GRU" => (3, 6, 2),
        _ => return None,
    })
}

/// Reads `node` (default-domain opset `opset`); `consts[i]` is input i's value when it is
/// a constant. Unknown ops and attributes, and unsupported attribute values, are refused.
pub(crate) fn parse<T: Real>(node: &NodeProto, opset: i64, consts: &[Option<&Value<T>>]) -> Result<Op<T>, String> {
    let op = node.op_type.as_str();
    let (required, most, outputs) = arity(op).ok_or_else(|| {
        format!("op {op} is not supported by the ONNX runtime of gru (supported: {})", SUPPORTED_OPS.join(", "))
    })?;
    let n = node.input.len();
    if n < required || n > most {
        return Err(format!(
            "{op} has {n} inputs; it takes {required} to {}",
            if most == usize::MAX { n } else { most }
        ));
    }
    if let Some(k) = (0..required).find(|&k| node.input[k].is_empty()) {
        return Err(format!("{op} input {k} is required but empty"));
    }
    if node.output.len() > outputs {
        return Err(format!("{op} has {} outputs; it gives {outputs}", node.output.len()));
    }
    let a = Attrs::new(node);
    let none = |a: &Attrs<'_>| a.only(&[]);
    Ok(match op {
        "Identity" => none(&a).map(|_| Op::Identity)?,
        "Relu" => none(&a).map(|_| Op::Unary(Unary::Relu))?,
        "Tanh" => none(&a).map(|_| Op::Unary(Unary::Tanh))?,
        "Sigmoid" => none(&a).map(|_| Op::Unary(Unary::Sigmoid))?,
        "Add" => none(&a).map(|_| Op::Binary(Binary::Add))?,
        "Sub" => none(&a).map(|_| Op::Binary(Binary::Sub))?,
        "Mul" => none(&a).map(|_| Op::Binary(Binary::Mul))?,
        "Div" => none(&a).map(|_| Op::Binary(Binary::Div))?,
        "MatMul" => none(&a).map(|_| Op::MatMul)?,
        "Unsqueeze" => none(&a).map(|_| Op::Unsqueeze)?,
        "Squeeze" => none(&a).map(|_| Op::Squeeze)?,
        "Slice" => none(&a).map(|_| Op::Slice)?,
        "Gemm" => {
            a.only(&["alpha", "beta", "transA", "transB"])?;
            Op::Gemm(GemmAttrs {
                alpha: a.float("alpha", 1.0)?,
                beta: a.float("beta", 1.0)?,
                trans_a: a.flag("transA")?,
                trans_b: a.flag("transB")?,
            })
        }
        "Softmax" | "LogSoftmax" => {
            a.only(&["axis"])?;
            if opset < 13 {
                return Err(format!("{op} of opset {opset} (2-D coercion) is not supported; opset 13+ is"));
            }
            Op::Softmax { axis: a.int("axis", -1)?, log: op == "LogSoftmax" }
        }
        "Cast" => {
            a.only(&["to", "saturate"])?;
            if !a.has("to") {
                return Err("attribute to is missing".into());
            }
            Op::Cast { to: ops::cast_target(a.int("to", 0)?)? }
        }
        "Shape" => {
            a.only(&["start", "end"])?;
            Op::Shape { start: a.int("start", 0)?, end: if a.has("end") { Some(a.int("end", 0)?) } else { None } }
        }
        "Gather" => {
            a.only(&["axis"])?;
            Op::Gather { axis: a.int("axis", 0)? }
        }
        "Concat" => {
            a.only(&["axis"])?;
            if !a.has("axis") {
                return Err("attribute axis is missing".into());
            }
            Op::Concat { axis: a.int("axis", 0)? }
        }
        "Reshape" => {
            a.only(&["allowzero"])?;
            Op::Reshape { allowzero: a.flag("allowzero")? }
        }
        "Transpose" => {
            a.only(&["perm"])?;
            Op::Transpose { perm: a.ints("perm")? }
        }
        "Flatten" => {
            a.only(&["axis"])?;
            Op::Flatten { axis: a.int("axis", 1)? }
        }
        "ConstantOfShape" => {
            a.only(&["value"])?;
            let fill = match a.tensor("value")? {
                None => Value::float(vec![1], vec![T::zero()]),
                Some(t) => {
                    let v = proto_value(t, node)?;
                    if v.len() != 1 {
                        return Err(format!("value has {} elements; one is needed", v.len()));
                    }
                    v
                }
            };
            Op::ConstantOfShape { fill }
        }
        "Constant" => Op::Constant(constant(node, &a)?),
        "GRU" => {
            let need = |k: usize, what: &str| {
                consts.get(k).copied().flatten().ok_or_else(|| {
                    format!(
                        "input {what} ({}) is not a constant: the runtime prepares the GRU weights once, at load",
                        node.input.get(k).map_or("", String::as_str)
                    )
                })
            };
            let b = match node.input.get(3).map(String::as_str) {
                None | Some("") => None,
                Some(_) => Some(need(3, "B")?),
            };
            Op::Gru(Box::new(GruOp::prepare(node, need(1, "W")?, need(2, "R")?, b)?))
        }
        _ => return Err(format!("op {op} is not supported")),
    })
}

/// The value of a Constant node: `value`, `value_float(s)` or `value_int(s)`.
fn constant<T: Real>(node: &NodeProto, a: &Attrs<'_>) -> Result<Value<T>, String> {
    a.only(&[
        "value",
        "value_float",
        "value_floats",
        "value_int",
        "value_ints",
        "sparse_value",
        "value_string",
        "value_strings",
    ])?;
    if node.attribute.len() != 1 {
        return Err(format!("a Constant needs exactly one value attribute, it has {}", node.attribute.len()));
    }
    if let Some(t) = a.tensor("value")? {
        return proto_value(t, node);
    }
    if let Some(f) = a.opt_float("value_float")? {
        return Ok(Value::float(vec![], vec![T::lit(f64::from(f))]));
    }
    if let Some(v) = a.floats("value_floats")? {
        return Ok(Value::float(vec![v.len()], v.iter().map(|&f| T::lit(f64::from(f))).collect()));
    }
    if a.has("value_int") {
        return Ok(Value::int(vec![], vec![a.int("value_int", 0)?]));
    }
    if let Some(v) = a.ints("value_ints")? {
        return Ok(Value::int(vec![v.len()], v));
    }
    Err("sparse and string constants are not supported".into())
}

/// A tensor attribute's value; the error is its reason (the caller names the file and node).
fn proto_value<T: Real>(t: &TensorProto, node: &NodeProto) -> Result<Value<T>, String> {
    Value::from_proto(t, std::path::Path::new(""), &node.name).map_err(|e| match e {
        crate::error::Error::Onnx { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// Input `k`, or an error when it is absent.
fn req<'a, T: Real>(inputs: &[Option<&'a Value<T>>], k: usize) -> Result<&'a Value<T>, String> {
    inputs.get(k).copied().flatten().ok_or_else(|| format!("input {k} has no value"))
}

/// Optional input `k` as an integer list.
fn opt_ints<'a, T: Real>(inputs: &[Option<&'a Value<T>>], k: usize, what: &str) -> Result<Option<&'a [i64]>, String> {
    inputs.get(k).copied().flatten().map(|v| v.int_list(what)).transpose()
}

/// The outputs of `op` on `inputs` (aligned with the node's inputs, `None` when absent).
pub(crate) fn eval<T: Real>(op: &Op<T>, inputs: &[Option<&Value<T>>]) -> Result<Vec<Value<T>>, String> {
    let x = || req(inputs, 0);
    let one = |v: Value<T>| Ok(vec![v]);
    match op {
        Op::Identity => one(x()?.clone()),
        Op::Unary(u) => one(ops::unary(*u, x()?)?),
        Op::Binary(b) => one(ops::binary(*b, x()?, req(inputs, 1)?)?),
        Op::MatMul => one(ops::matmul(x()?, req(inputs, 1)?)?),
        Op::Gemm(g) => one(ops::gemm_op(*g, x()?, req(inputs, 1)?, inputs.get(2).copied().flatten())?),
        Op::Softmax { axis, log } => {
            let x = x()?;
            let axis = super::value::norm_axis(*axis, x.rank(), "axis")?;
            one(ops::softmax(x, axis, *log)?)
        }
        Op::Cast { to } => one(ops::cast(x()?, *to)),
        Op::Shape { start, end } => one(shape_ops::shape_of(&x()?.shape, *start, *end)),
        Op::Gather { axis } => one(shape_ops::gather(x()?, req(inputs, 1)?, *axis)?),
        Op::Unsqueeze => one(shape_ops::unsqueeze(x()?, req(inputs, 1)?.int_list("axes")?)?),
        Op::Squeeze => one(shape_ops::squeeze(x()?, opt_ints(inputs, 1, "axes")?)?),
        Op::Concat { axis } => {
            let xs = (0..inputs.len()).map(|k| req(inputs, k)).collect::<Result<Vec<_>, _>>()?;
            one(shape_ops::concat(&xs, *axis)?)
        }
        Op::Slice => one(shape_ops::slice(
            x()?,
            req(inputs, 1)?.int_list("starts")?,
            req(inputs, 2)?.int_list("ends")?,
            opt_ints(inputs, 3, "axes")?,
            opt_ints(inputs, 4, "steps")?,
        )?),
        Op::Reshape { allowzero } => one(shape_ops::reshape(x()?, req(inputs, 1)?.int_list("shape")?, *allowzero)?),
        Op::Transpose { perm } => one(shape_ops::transpose(x()?, perm.as_deref())?),
        Op::Flatten { axis } => one(shape_ops::flatten(x()?, *axis)?),
        Op::ConstantOfShape { fill } => one(shape_ops::constant_of_shape(x()?.int_list("shape")?, fill)?),
        Op::Constant(v) => one(v.clone()),
        Op::Gru(g) => {
            let (y, yh) = g.run(x()?, inputs.get(4).copied().flatten(), inputs.get(5).copied().flatten())?;
            Ok(vec![y, yh])
        }
    }
}

/// True for the float element types of ONNX the runtime computes in `T`.
pub(crate) fn is_float_type(elem: i32) -> bool {
    elem == FLOAT || elem == super::super::proto::DOUBLE
}
