//! Named tensors: what a file holds, independent of the file format.

use std::path::Path;

use gru_core::{DType, Real};

use crate::error::{Error, Result};

/// The elements of one tensor, row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl TensorData {
    /// Wraps a vector of the library's scalar type (no copy for `f32` and `f64`).
    pub fn from_vec<T: Real>(values: Vec<T>) -> Self {
        let boxed: Box<dyn std::any::Any> = Box::new(values);
        match boxed.downcast::<Vec<f32>>() {
            Ok(v) => TensorData::F32(*v),
            Err(other) => match other.downcast::<Vec<f64>>() {
                Ok(v) => TensorData::F64(*v),
                // Only reachable for a foreign `Real` type: widening to f64 is exact.
                Err(other) => match other.downcast::<Vec<T>>() {
                    Ok(v) => TensorData::F64(v.into_iter().map(T::widen).collect()),
                    Err(_) => TensorData::F64(Vec::new()),
                },
            },
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
        }
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F32(_) => DType::F32,
            TensorData::F64(_) => DType::F64,
        }
    }

    /// The element type's name as in errors and fixtures: `"f32"` or `"f64"`.
    pub fn dtype_name(&self) -> &'static str {
        match self {
            TensorData::F32(_) => "f32",
            TensorData::F64(_) => "f64",
        }
    }

    /// The elements as `T` (no copy). A dtype other than `T`'s is refused, never converted:
    /// an f64 model does not load silently into an f32 network, nor the reverse. `name` and
    /// `path` name the tensor and file in the error.
    pub fn into_vec<T: Real>(self, name: &str, path: &Path) -> Result<Vec<T>> {
        let have = self.dtype();
        let boxed: Box<dyn std::any::Any> = match self {
            TensorData::F32(v) => Box::new(v),
            TensorData::F64(v) => Box::new(v),
        };
        boxed.downcast::<Vec<T>>().map(|v| *v).map_err(|_| {
            Error::file(
                path,
                format!(
                    "tensor {name} holds {have} values but a {want} model was asked for; \
                     load it with the {have} element type (values are never converted silently)",
                    want = T::DTYPE
                ),
            )
        })
    }

    pub(crate) fn first_non_finite(&self) -> Option<usize> {
        match self {
            TensorData::F32(v) => v.iter().position(|x| !x.is_finite()),
            TensorData::F64(v) => v.iter().position(|x| !x.is_finite()),
        }
    }
}

/// One named tensor: `data` holds `shape.iter().product()` elements, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl NamedTensor {
    /// A tensor from a vector of the library's scalar type (lengths are checked by [`save`](super::save)).
    pub fn new<T: Real>(name: impl Into<String>, shape: Vec<usize>, values: Vec<T>) -> Self {
        NamedTensor { name: name.into(), shape, data: TensorData::from_vec(values) }
    }
}

/// Removes and returns the tensor `name` from `tensors`, checking its shape. A missing
/// tensor or a shape other than `shape` is an [`Error::File`] naming the tensor and both
/// shapes; `path` is the file the tensors came from.
pub fn take(tensors: &mut Vec<NamedTensor>, name: &str, shape: &[usize], path: &Path) -> Result<TensorData> {
    let Some(index) = tensors.iter().position(|t| t.name == name) else {
        return Err(Error::file(path, format!("tensor {name} (expected shape {shape:?}) is missing")));
    };
    if tensors[index].shape != shape {
        return Err(Error::file(
            path,
            format!("tensor {name} has shape {:?}, expected {shape:?}", tensors[index].shape),
        ));
    }
    Ok(tensors.remove(index).data)
}

/// [`take`], then [`TensorData::into_vec`]: the tensor's values as `T`, refusing another dtype.
pub fn take_as<T: Real>(tensors: &mut Vec<NamedTensor>, name: &str, shape: &[usize], path: &Path) -> Result<Vec<T>> {
    take(tensors, name, shape, path)?.into_vec(name, path)
}
