//! Weights from and to PyTorch, Keras and ONNX, and a file for one GRU stack of our own.
//!
//! Every converter translates between another framework's layout and the canonical one
//! (DESIGN.md: gate order r, z, n; `W` 3H×In, `R` 3H×H, bias 3H or 6H = `[input | recurrent]`)
//! at the edge, by copying values through the named gate views ([`Gate`]): no arithmetic
//! touches a weight, so a round trip (ours -> theirs -> ours) is bit-identical for every
//! option both sides support, and an option the target cannot hold is an
//! [`Error::NotRepresentable`] naming it.
//!
//! | format | file | reset-gate modes | activations |
//! | --- | --- | --- | --- |
//! | [`Format::Torch`] ([`torch`]) | an `nn.GRU` state dict as safetensors | recurrent-bias-after (after-multiplication exports as it with `b'_n = 0`) | tanh, sigmoid |
//! | [`Format::Keras`] ([`keras`]) | the `keras-gru` safetensors layout (`tools/keras_gru_layout.py`) | `reset_after=True`: recurrent-bias-after; `False`: before-multiplication | tanh, softsign; sigmoid, hard_sigmoid (Keras 3: x/6 + 0.5, Keras 2: 0.2x + 0.5) |
//! | [`Format::Gru`] ([`gru_file`]) | our `gru-layer` file, or a GRU layer of a saved network | all | all, and clip |
//! | [`Format::Onnx`] ([`onnx`]) | an ONNX model, one `GRU` node per layer (opset 14+) | all (lbr 0 / 1) | all, and clip |
//!
//! `.pt` files are converted to safetensors by `tools/pt_to_safetensors.py`: this crate
//! never unpickles. [`verify`] runs a converted model on random inputs in our engine and in
//! PyTorch or Keras (through `tools/verify_convert.py`) and fails beyond the DESIGN.md
//! tolerance.
//!
//! ```no_run
//! use gru::convert::{self, AnyWeights, Format, Options};
//! # fn main() -> gru::Result<()> {
//! let mut options = Options::default();
//! options.torch.prefix = "rnn.".into(); // the nn.GRU sits at `model.rnn`
//! let weights = convert::read(Format::Torch, "model.safetensors".as_ref(), &options)?;
//! if let AnyWeights::F32(w) = &weights {
//!     assert_eq!(w.spec.reset_gate_mode, gru::ResetGateMode::RecurrentBiasAfterMultiplication);
//! }
//! convert::write_any(Format::Keras, "model.keras-gru.safetensors".as_ref(), &weights, &options)?;
//! # Ok(())
//! # }
//! ```

pub mod gru_file;
pub mod keras;
mod keras_config;
pub mod onnx;
pub mod torch;
pub mod verify;

use std::path::Path;

use gru_core::{DType, Gate, GruParams, GruSpec, Real};

use crate::error::{Error, Result};
use crate::io::SafetensorsFile;

pub use gru_file::GruFileOptions;
pub use keras::{KerasOptions, KerasVersion};
pub use onnx::OnnxOptions;
pub use torch::TorchOptions;

/// One GRU stack: its options and its parameters in the canonical layout.
#[derive(Clone, Debug, PartialEq)]
pub struct GruWeights<T> {
    pub spec: GruSpec,
    pub params: GruParams<T>,
}

impl<T: Real> GruWeights<T> {
    /// Checks `spec` and that `params` fit it.
    pub fn new(spec: GruSpec, params: GruParams<T>) -> Result<Self> {
        spec.validate()?;
        params.check(&spec)?;
        Ok(Self { spec, params })
    }
}

/// Refuses, for a format `target` whose GRU is the plain one, the regularizers whose
/// inference is not a plain GRU: zoneout (its expectation `h_t = p h_{t-1} + (1 - p) h'_t`)
/// and layer norm. The dropouts and weight drop vanish at inference (inverted scaling): the
/// plain GRU is their inference form, written as it is.
pub(crate) fn check_plain_inference(target: &str, spec: &GruSpec) -> Result<()> {
    let reg = &spec.regularization;
    if reg.zoneout > 0.0 {
        return Err(Error::not_representable(
            target,
            "regularization.zoneout",
            reg.zoneout,
            "zoneout's inference computes h_t = p·h_{t-1} + (1 - p)·h'_t, which is not a plain GRU",
        ));
    }
    if reg.layer_norm {
        return Err(Error::not_representable(
            target,
            "regularization.layer_norm",
            true,
            "a layer-normalized GRU normalizes the gate pre-activations inside the recurrence, which a plain GRU cannot",
        ));
    }
    Ok(())
}

/// A [`GruWeights`] of whichever element type the file holds (values are never converted).
#[derive(Clone, Debug, PartialEq)]
pub enum AnyWeights {
    F32(GruWeights<f32>),
    F64(GruWeights<f64>),
}

impl AnyWeights {
    pub fn spec(&self) -> &GruSpec {
        match self {
            AnyWeights::F32(w) => &w.spec,
            AnyWeights::F64(w) => &w.spec,
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            AnyWeights::F32(_) => DType::F32,
            AnyWeights::F64(_) => DType::F64,
        }
    }
}

/// The file formats a GRU converts between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// A PyTorch `nn.GRU` state dict as safetensors ([`torch`]).
    Torch,
    /// The `keras-gru` layout of Keras GRU weights ([`keras`]).
    Keras,
    /// Our own file: a lone GRU stack, or (read only) a GRU layer of a saved network ([`gru_file`]).
    Gru,
    /// An ONNX model: one `GRU` node per layer ([`onnx`]).
    Onnx,
}

impl Format {
    /// `"torch"`, `"keras"`, `"gru"` or `"onnx"`, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Torch => "torch",
            Format::Keras => "keras",
            Format::Gru => "gru",
            Format::Onnx => "onnx",
        }
    }

    /// The format of a safetensors file, from its `format` metadata: `"gru"` is ours,
    /// `"keras-gru"` the Keras layout, anything else (PyTorch writes `"pt"` or nothing) a
    /// state dict.
    pub fn detect(file: &SafetensorsFile) -> Format {
        match file.metadata().get("format").map(String::as_str) {
            Some("gru") => Format::Gru,
            Some(keras::FORMAT_NAME) => Format::Keras,
            _ => Format::Torch,
        }
    }
}

impl std::str::FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "torch" | "pytorch" => Ok(Format::Torch),
            "keras" => Ok(Format::Keras),
            "gru" => Ok(Format::Gru),
            "onnx" => Ok(Format::Onnx),
            other => Err(Error::property("format", other, "expected torch, keras, gru or onnx")),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The options of every format (each reader and writer uses its own).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub torch: TorchOptions,
    pub keras: KerasOptions,
    pub gru: GruFileOptions,
    pub onnx: OnnxOptions,
}

/// Reads the GRU in `path`, stored as `format`, in the element type the file holds.
pub fn read(format: Format, path: &Path, options: &Options) -> Result<AnyWeights> {
    if format == Format::Onnx {
        let model = onnx::load(path)?;
        return Ok(match onnx::model_dtype(&model, path)? {
            DType::F32 => AnyWeights::F32(onnx::from_model(&model, path)?),
            DType::F64 => AnyWeights::F64(onnx::from_model(&model, path)?),
        });
    }
    let file = SafetensorsFile::read(path)?;
    let dtype = match format {
        Format::Torch => torch::file_dtype(&file, &options.torch)?,
        Format::Keras => keras::file_dtype(&file)?,
        Format::Gru => gru_file::file_dtype(&file)?,
        Format::Onnx => unreachable!("read above"),
    };
    Ok(match dtype {
        DType::F32 => AnyWeights::F32(read_as(format, &file, options)?),
        DType::F64 => AnyWeights::F64(read_as(format, &file, options)?),
    })
}

/// Reads the GRU in `file` as `T`; a file holding the other element type is an error.
/// An ONNX model is no safetensors file: [`Format::Onnx`] is an [`Error::File`] here (use
/// [`read()`] or [`onnx::read`]).
pub fn read_as<T: Real>(format: Format, file: &SafetensorsFile, options: &Options) -> Result<GruWeights<T>> {
    match format {
        Format::Torch => torch::from_file(file, &options.torch),
        Format::Keras => keras::from_file(file, &options.keras),
        Format::Gru => gru_file::from_file(file, &options.gru),
        Format::Onnx => Err(Error::file(file.path(), "a safetensors file is not an ONNX model")),
    }
}

/// Writes `weights` to `path` as `format` (atomically), or refuses an option `format`
/// cannot represent with [`Error::NotRepresentable`] before writing anything.
pub fn write<T: Real>(format: Format, path: &Path, weights: &GruWeights<T>, options: &Options) -> Result<()> {
    match format {
        Format::Torch => torch::write(path, weights, &options.torch),
        Format::Keras => keras::write(path, weights, &options.keras),
        Format::Gru => gru_file::write(path, weights),
        Format::Onnx => onnx::write(path, weights, &options.onnx),
    }
}

/// [`write()`] for either element type.
pub fn write_any(format: Format, path: &Path, weights: &AnyWeights, options: &Options) -> Result<()> {
    match weights {
        AnyWeights::F32(w) => write(format, path, w, options),
        AnyWeights::F64(w) => write(format, path, w, options),
    }
}

/// The element type of a tensor read from a foreign file: F32 or F64.
pub(crate) fn tensor_dtype(file: &SafetensorsFile, name: &str) -> Result<DType> {
    Ok(file.tensor(name)?.data.dtype())
}

/// Checks that every `(name, shape)` is in `file` with that shape, before anything is
/// allocated for them: a crafted header or config cannot make us allocate more than the
/// file holds (safetensors checks that the data section holds every tensor's bytes).
pub(crate) fn check_shapes(file: &SafetensorsFile, expected: &[(String, Vec<usize>)]) -> Result<()> {
    for (name, shape) in expected {
        match file.shape(name) {
            None => {
                return Err(Error::file(file.path(), format!("tensor {name} (expected shape {shape:?}) is missing")));
            }
            Some(s) if s != shape.as_slice() => {
                return Err(Error::file(file.path(), format!("tensor {name} has shape {s:?}, expected {shape:?}")));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Decodes tensor `name` as `T`, checking its shape (errors name the tensor and both shapes).
pub(crate) fn take<T: Real>(file: &SafetensorsFile, name: &str, shape: &[usize]) -> Result<Vec<T>> {
    check_shapes(file, &[(name.to_string(), shape.to_vec())])?;
    file.tensor(name)?.data.into_vec(name, file.path())
}

/// Copies the three `rows×cols` gate blocks of `src` (stacked in the order `blocks` gives
/// for r, z, n) into canonical order: `dst[g] = src[blocks(g)]`.
pub(crate) fn gates_to_canonical<T: Copy>(src: &[T], rows: usize, cols: usize, blocks: fn(Gate) -> usize) -> Vec<T> {
    let n = rows * cols;
    let mut dst = Vec::with_capacity(3 * n);
    for g in Gate::ALL {
        dst.extend_from_slice(&src[blocks(g) * n..(blocks(g) + 1) * n]);
    }
    dst
}

/// The inverse of [`gates_to_canonical`]: canonical `src` into the order `blocks` gives.
pub(crate) fn gates_from_canonical<T: Copy>(src: &[T], rows: usize, cols: usize, blocks: fn(Gate) -> usize) -> Vec<T> {
    let n = rows * cols;
    let mut dst = src.to_vec();
    for g in Gate::ALL {
        dst[blocks(g) * n..(blocks(g) + 1) * n].copy_from_slice(&src[g.index() * n..(g.index() + 1) * n]);
    }
    dst
}

/// `[rows, cols]` row-major -> `[cols, rows]` row-major.
pub(crate) fn transpose<T: Copy>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
    (0..cols).flat_map(|c| (0..rows).map(move |r| m[r * cols + c])).collect()
}

/// "forward" or "backward": the name of direction `dir` in tensor names.
pub(crate) fn direction_name(dir: usize) -> &'static str {
    if dir == 0 {
        "forward"
    } else {
        "backward"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keras_like(g: Gate) -> usize {
        match g {
            Gate::Update => 0,
            Gate::Reset => 1,
            Gate::Candidate => 2,
        }
    }

    #[test]
    fn gate_reordering_and_transpose_are_inverse() {
        let src: Vec<u32> = (0..3 * 2 * 4).collect(); // 3 gates of 2×4
        let canon = gates_to_canonical(&src, 2, 4, keras_like);
        assert_eq!(&canon[0..8], &src[8..16]); // r came second
        assert_eq!(&canon[8..16], &src[0..8]); // z came first
        assert_eq!(gates_from_canonical(&canon, 2, 4, keras_like), src);
        let t = transpose(&src, 6, 4);
        assert_eq!((t[0], t[1], t[6]), (0, 4, 1));
        assert_eq!(transpose(&t, 4, 6), src);
    }

    #[test]
    fn formats_parse_and_print() {
        for f in [Format::Torch, Format::Keras, Format::Gru, Format::Onnx] {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
            assert_eq!(f.to_string(), f.name());
        }
        assert!(matches!("tflite".parse::<Format>(), Err(Error::Property { .. })));
    }
}
