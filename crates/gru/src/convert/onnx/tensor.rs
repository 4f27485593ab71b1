//! ONNX tensors and attributes <-> Rust values: float/double tensors as `T` (raw little-endian
//! bytes or the typed fields), int64 shapes, and attribute constructors for writing.

use std::path::Path;

use gru_core::{DType, Real};

use super::proto::{attr_type, AttributeProto, NodeProto, TensorProto, DOUBLE, FLOAT, INT32, INT64};
use crate::error::{Error, Result};

/// `name (op_type)`: how errors name a node (its op type when it has no name).
pub(crate) fn node_label(node: &NodeProto) -> String {
    if node.name.is_empty() {
        format!("<unnamed> ({})", node.op_type)
    } else {
        format!("{} ({})", node.name, node.op_type)
    }
}

/// The element type of a float tensor, or an error naming `node` and the tensor.
pub(crate) fn dtype(t: &TensorProto, path: &Path, node: &str) -> Result<DType> {
    match t.data_type {
        FLOAT => Ok(DType::F32),
        DOUBLE => Ok(DType::F64),
        other => Err(Error::onnx(
            path,
            node,
            format!("tensor {} has data type {} ({other}); expected float or double", t.name, type_name(other)),
        )),
    }
}

fn type_name(data_type: i32) -> &'static str {
    match data_type {
        FLOAT => "float",
        DOUBLE => "double",
        INT32 => "int32",
        INT64 => "int64",
        10 => "float16",
        16 => "bfloat16",
        _ => "not a float type",
    }
}

/// Shape of `t` as usizes (negative dims are malformed).
pub(crate) fn dims(t: &TensorProto, path: &Path, node: &str) -> Result<Vec<usize>> {
    t.dims
        .iter()
        .map(|&d| {
            usize::try_from(d)
                .map_err(|_| Error::onnx(path, node, format!("tensor {} has a negative dimension {d}", t.name)))
        })
        .collect()
}

/// The values of float tensor `t` as `T`, checked against `expected` shape. A tensor of the
/// other float type, external data, or a value count that is not the shape's is an error.
pub(crate) fn values<T: Real>(t: &TensorProto, expected: &[usize], path: &Path, node: &str) -> Result<Vec<T>> {
    let shape = dims(t, path, node)?;
    if shape != expected {
        return Err(Error::onnx(path, node, format!("tensor {} has shape {shape:?}, expected {expected:?}", t.name)));
    }
    if t.data_location == 1 {
        return Err(Error::onnx(path, node, format!("tensor {} keeps its data in an external file", t.name)));
    }
    let dt = dtype(t, path, node)?;
    if dt != T::DTYPE {
        return Err(Error::onnx(path, node, format!("tensor {} holds {dt}, but {} was asked for", t.name, T::DTYPE)));
    }
    let count: usize = expected.iter().product();
    let size = if dt == DType::F32 { 4 } else { 8 };
    let out: Vec<T> = if !t.raw_data.is_empty() {
        if t.raw_data.len() != count * size {
            return Err(Error::onnx(
                path,
                node,
                format!(
                    "tensor {} has {} bytes of data, its shape {expected:?} needs {}",
                    t.name,
                    t.raw_data.len(),
                    count * size
                ),
            ));
        }
        if dt == DType::F32 {
            t.raw_data
                .chunks_exact(4)
                .map(|c| T::lit(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
                .collect()
        } else {
            t.raw_data.chunks_exact(8).map(|c| T::lit(f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))).collect()
        }
    } else if dt == DType::F32 {
        t.float_data.iter().map(|&v| T::lit(f64::from(v))).collect()
    } else {
        t.double_data.iter().map(|&v| T::lit(v)).collect()
    };
    if out.len() != count {
        return Err(Error::onnx(
            path,
            node,
            format!("tensor {} has {} values, its shape {expected:?} needs {count}", t.name, out.len()),
        ));
    }
    Ok(out)
}

/// The values of an integer tensor (int32 or int64), e.g. a Reshape shape.
pub(crate) fn ints(t: &TensorProto, path: &Path, node: &str) -> Result<Vec<i64>> {
    let raw = &t.raw_data;
    match t.data_type {
        INT64 if !raw.is_empty() => {
            Ok(raw.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect())
        }
        INT64 => Ok(t.int64_data.clone()),
        INT32 if !raw.is_empty() => {
            Ok(raw.chunks_exact(4).map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect())
        }
        INT32 => Ok(t.int32_data.iter().map(|&v| i64::from(v)).collect()),
        other => {
            Err(Error::onnx(path, node, format!("tensor {} has data type {other}; expected int32 or int64", t.name)))
        }
    }
}

/// True when every value of the tensor is zero, whatever its numeric type.
pub(crate) fn all_zero(t: &TensorProto) -> bool {
    let raw_zero = match t.data_type {
        FLOAT => t.raw_data.chunks_exact(4).all(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) == 0.0),
        DOUBLE => t.raw_data.chunks_exact(8).all(|c| f64::from_le_bytes(c.try_into().unwrap_or([1; 8])) == 0.0),
        _ => t.raw_data.iter().all(|&b| b == 0),
    };
    raw_zero
        && t.float_data.iter().all(|&v| v == 0.0)
        && t.double_data.iter().all(|&v| v == 0.0)
        && t.int32_data.iter().all(|&v| v == 0)
        && t.int64_data.iter().all(|&v| v == 0)
}

/// A float tensor of `T` with raw little-endian data.
pub(crate) fn float_tensor<T: Real>(name: &str, shape: &[usize], values: &[T]) -> TensorProto {
    let raw: Vec<u8> = match T::DTYPE {
        DType::F32 => values.iter().flat_map(|v| (v.widen() as f32).to_le_bytes()).collect(),
        DType::F64 => values.iter().flat_map(|v| v.widen().to_le_bytes()).collect(),
    };
    TensorProto {
        name: name.into(),
        dims: shape.iter().map(|&d| d as i64).collect(),
        data_type: elem_type::<T>(),
        raw_data: raw,
        ..Default::default()
    }
}

/// An int64 tensor.
pub(crate) fn int64_tensor(name: &str, values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: INT64,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// ONNX's element type of `T`.
pub(crate) fn elem_type<T: Real>() -> i32 {
    match T::DTYPE {
        DType::F32 => FLOAT,
        DType::F64 => DOUBLE,
    }
}

pub(crate) fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::INT, i, ..Default::default() }
}
pub(crate) fn attr_ints(name: &str, ints: Vec<i64>) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::INTS, ints, ..Default::default() }
}
pub(crate) fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::FLOAT, f, ..Default::default() }
}
pub(crate) fn attr_floats(name: &str, floats: Vec<f32>) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::FLOATS, floats, ..Default::default() }
}
pub(crate) fn attr_string(name: &str, s: &str) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::STRING, s: s.as_bytes().to_vec(), ..Default::default() }
}
pub(crate) fn attr_strings(name: &str, strings: &[&str]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attr_type::STRINGS,
        strings: strings.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}
