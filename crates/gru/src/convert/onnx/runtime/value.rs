//! Tensors of the runtime: [`Tensor`] at its boundary (f32, f64, i32, i64, as the caller
//! holds them), `Value` inside it (floats as `T`, integers as `i64`). Both are row-major:
//! element `[i0, .., ik]` of shape `[d0, .., dk]` is at `Σ ij · Π_{l>j} dl`.

use std::path::Path;

use gru_core::{DType, Real};

use super::super::proto::{TensorProto, DOUBLE, FLOAT, INT32, INT64};
use super::super::tensor;
use crate::error::{Error, Result};

/// The most elements one tensor of the runtime may hold (2^28): a shape computed from file
/// data or inputs beyond it is an error, not an allocation that fails.
pub const MAX_ELEMENTS: usize = 1 << 28;

/// The elements of a [`Tensor`], in the caller's type.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

/// A row-major tensor handed to or returned by [`super::OnnxModel::run`]. Float inputs may
/// be f32 or f64 (converted to the model's `T`), integer inputs i32 or i64; outputs are
/// `T`'s float type or i64.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    /// A tensor whose element count must be the product of `shape`.
    pub fn new(shape: Vec<usize>, data: TensorData) -> Result<Self> {
        let t = Self { shape, data };
        let n = numel(&t.shape).map_err(|r| Error::data("tensor shape", format!("{:?}", t.shape), r))?;
        if n != t.len() {
            return Err(Error::data(
                "tensor data",
                format!("{} values", t.len()),
                format!("the shape {:?} needs {n}", t.shape),
            ));
        }
        Ok(t)
    }

    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        Self::new(shape, TensorData::F32(data))
    }
    pub fn f64(shape: Vec<usize>, data: Vec<f64>) -> Result<Self> {
        Self::new(shape, TensorData::F64(data))
    }
    pub fn i32(shape: Vec<usize>, data: Vec<i32>) -> Result<Self> {
        Self::new(shape, TensorData::I32(data))
    }
    pub fn i64(shape: Vec<usize>, data: Vec<i64>) -> Result<Self> {
        Self::new(shape, TensorData::I64(data))
    }

    /// Elements held.
    pub fn len(&self) -> usize {
        match &self.data {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::I64(v) => v.len(),
        }
    }

    /// True when the tensor has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True for f32 and f64 data.
    pub fn is_float(&self) -> bool {
        matches!(self.data, TensorData::F32(_) | TensorData::F64(_))
    }

    /// The element type's name (`float32`, `float64`, `int32`, `int64`).
    pub fn dtype_name(&self) -> &'static str {
        match self.data {
            TensorData::F32(_) => "float32",
            TensorData::F64(_) => "float64",
            TensorData::I32(_) => "int32",
            TensorData::I64(_) => "int64",
        }
    }

    /// Every element widened to f64.
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            TensorData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            TensorData::F64(v) => v.clone(),
            TensorData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }
}

/// The elements of a [`Value`]: floats computed in `T`, integers in i64.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Data<T> {
    Float(Vec<T>),
    Int(Vec<i64>),
}

/// A tensor inside the runtime.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Value<T> {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Data<T>,
}

impl<T: Real> Value<T> {
    pub(crate) fn float(shape: Vec<usize>, v: Vec<T>) -> Self {
        Self { shape, data: Data::Float(v) }
    }
    pub(crate) fn int(shape: Vec<usize>, v: Vec<i64>) -> Self {
        Self { shape, data: Data::Int(v) }
    }

    pub(crate) fn len(&self) -> usize {
        match &self.data {
            Data::Float(v) => v.len(),
            Data::Int(v) => v.len(),
        }
    }

    pub(crate) fn rank(&self) -> usize {
        self.shape.len()
    }

    pub(crate) fn is_float(&self) -> bool {
        matches!(self.data, Data::Float(_))
    }

    /// `float` or `int64`, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        if self.is_float() {
            "float"
        } else {
            "int64"
        }
    }

    /// The float elements, or an error naming `what`.
    pub(crate) fn floats(&self, what: &str) -> Result<&[T], String> {
        match &self.data {
            Data::Float(v) => Ok(v),
            Data::Int(_) => Err(format!("{what} is an integer tensor {:?}; a float tensor is needed", self.shape)),
        }
    }

    /// The integer elements, or an error naming `what`.
    pub(crate) fn ints(&self, what: &str) -> Result<&[i64], String> {
        match &self.data {
            Data::Int(v) => Ok(v),
            Data::Float(_) => Err(format!("{what} is a float tensor {:?}; an integer tensor is needed", self.shape)),
        }
    }

    /// A 1-D (or scalar) integer tensor's values, e.g. a shape or axes input.
    pub(crate) fn int_list(&self, what: &str) -> Result<&[i64], String> {
        if self.rank() > 1 {
            return Err(format!("{what} has shape {:?}; a 1-D integer tensor is needed", self.shape));
        }
        self.ints(what)
    }

    /// The same elements under another shape of the same element count.
    pub(crate) fn reshaped(&self, shape: Vec<usize>) -> Result<Self, String> {
        if numel(&shape)? != self.len() {
            return Err(format!("cannot view {} elements {:?} as {shape:?}", self.len(), self.shape));
        }
        Ok(Self { shape, data: self.data.clone() })
    }

    /// The elements at flat indices `idx` (every index `< len`), as a tensor of `shape`.
    pub(crate) fn select(&self, idx: &[usize], shape: Vec<usize>) -> Self {
        let data = match &self.data {
            Data::Float(v) => Data::Float(idx.iter().map(|&i| v[i]).collect()),
            Data::Int(v) => Data::Int(idx.iter().map(|&i| v[i]).collect()),
        };
        Self { shape, data }
    }

    /// The caller's tensor of this value: floats as `T`'s type, integers as i64.
    pub(crate) fn to_tensor(&self) -> Tensor {
        let data = match &self.data {
            Data::Float(v) => match T::DTYPE {
                DType::F32 => TensorData::F32(v.iter().map(|x| x.widen() as f32).collect()),
                DType::F64 => TensorData::F64(v.iter().map(|x| x.widen()).collect()),
            },
            Data::Int(v) => TensorData::I64(v.clone()),
        };
        Tensor { shape: self.shape.clone(), data }
    }

    /// The runtime value of a caller's tensor (floats rounded to `T`).
    pub(crate) fn from_tensor(t: &Tensor) -> Self {
        let data = match &t.data {
            TensorData::F32(v) => Data::Float(v.iter().map(|&x| T::lit(f64::from(x))).collect()),
            TensorData::F64(v) => Data::Float(v.iter().map(|&x| T::lit(x)).collect()),
            TensorData::I32(v) => Data::Int(v.iter().map(|&x| i64::from(x)).collect()),
            TensorData::I64(v) => Data::Int(v.clone()),
        };
        Self { shape: t.shape.clone(), data }
    }

    /// A tensor of the file (float, double, int32, int64; raw or typed data), checked
    /// against its shape; `node` names where it was met.
    pub(crate) fn from_proto(t: &TensorProto, path: &Path, node: &str) -> Result<Self> {
        let bad = |reason: String| Error::onnx(path, node, format!("tensor {}: {reason}", t.name));
        let shape = tensor::dims(t, path, node)?;
        let count = numel(&shape).map_err(bad)?;
        if t.data_location == 1 {
            return Err(bad("keeps its data in an external file, which is not supported".into()));
        }
        let data = match t.data_type {
            FLOAT | DOUBLE => {
                let raw = &t.raw_data;
                let v: Vec<T> = match (t.data_type, raw.is_empty()) {
                    (FLOAT, false) => raw
                        .chunks_exact(4)
                        .map(|c| T::lit(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
                        .collect(),
                    (FLOAT, true) => t.float_data.iter().map(|&v| T::lit(f64::from(v))).collect(),
                    (_, false) => raw
                        .chunks_exact(8)
                        .map(|c| T::lit(f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))))
                        .collect(),
                    (_, true) => t.double_data.iter().map(|&v| T::lit(v)).collect(),
                };
                let width = if t.data_type == FLOAT { 4 } else { 8 };
                if !raw.len().is_multiple_of(width) {
                    return Err(bad(format!("{} bytes of raw data is not a whole number of elements", raw.len())));
                }
                Data::Float(v)
            }
            INT32 | INT64 => {
                let width = if t.data_type == INT32 { 4 } else { 8 };
                if !t.raw_data.len().is_multiple_of(width) {
                    return Err(bad(format!(
                        "{} bytes of raw data is not a whole number of elements",
                        t.raw_data.len()
                    )));
                }
                Data::Int(tensor::ints(t, path, node)?)
            }
            other => {
                return Err(bad(format!("data type {other} is not supported (float, double, int32 and int64 are)")))
            }
        };
        let v = Self { shape, data };
        if v.len() != count {
            return Err(bad(format!("{} values, but its shape {:?} needs {count}", v.len(), v.shape)));
        }
        Ok(v)
    }
}

/// The element count of `shape`, or why it is too large.
pub(crate) fn numel(shape: &[usize]) -> Result<usize, String> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| format!("the shape {shape:?} has more than {MAX_ELEMENTS} elements"))
}

/// Row-major strides of `shape`.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * shape[k + 1];
    }
    s
}

/// `axis` in `[-rank, rank)` as an index, or an error naming `what`.
pub(crate) fn norm_axis(axis: i64, rank: usize, what: &str) -> Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("{what} {axis} is out of range for rank {rank}"))
    }
}

/// A dimension given as i64 (e.g. a Reshape or ConstantOfShape entry) as usize.
pub(crate) fn dim(v: i64, what: &str) -> Result<usize, String> {
    usize::try_from(v).ok().filter(|&d| d <= MAX_ELEMENTS).ok_or_else(|| format!("{what} {v} is not a valid dimension"))
}

/// Calls `f(flat index, multi-index)` for every element of `shape` in row-major order.
pub(crate) fn for_each_index(shape: &[usize], mut f: impl FnMut(usize, &[usize])) {
    let n: usize = shape.iter().product();
    let mut idx = vec![0usize; shape.len()];
    for flat in 0..n {
        f(flat, &idx);
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_axes_and_sizes() {
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(strides(&[]), Vec::<usize>::new());
        assert_eq!(norm_axis(-1, 3, "axis"), Ok(2));
        assert!(norm_axis(3, 3, "axis").is_err() && norm_axis(-4, 3, "axis").is_err());
        assert!(numel(&[usize::MAX, 2]).is_err() && numel(&[1 << 20, 1 << 20]).is_err());
        assert_eq!(numel(&[]), Ok(1));
        assert!(dim(-1, "d").is_err());
        let mut seen = Vec::new();
        for_each_index(&[2, 2], |f, i| seen.push((f, i.to_vec())));
        assert_eq!(seen[3], (3, vec![1, 1]));
        assert!(Tensor::f32(vec![2, 2], vec![0.0; 3]).is_err());
    }

    #[test]
    fn corrupt_tensors_are_errors() {
        let p = Path::new("m.onnx");
        let mut t = TensorProto { name: "w".into(), dims: vec![2, 2], data_type: FLOAT, ..Default::default() };
        t.raw_data = vec![0; 12];
        assert!(Value::<f32>::from_proto(&t, p, "n").is_err());
        t.raw_data = vec![0; 15];
        assert!(Value::<f32>::from_proto(&t, p, "n").is_err());
        t.dims = vec![-1];
        assert!(Value::<f32>::from_proto(&t, p, "n").is_err());
        t.dims = vec![i64::MAX, i64::MAX];
        assert!(Value::<f32>::from_proto(&t, p, "n").is_err());
        let t = TensorProto { name: "b".into(), dims: vec![2], data_type: 9, ..Default::default() };
        assert!(Value::<f32>::from_proto(&t, p, "n").is_err());
        let t = TensorProto {
            name: "i".into(),
            dims: vec![2],
            data_type: INT64,
            int64_data: vec![3, -1],
            ..Default::default()
        };
        assert_eq!(Value::<f64>::from_proto(&t, p, "n").unwrap(), Value::int(vec![2], vec![3, -1]));
    }
}
