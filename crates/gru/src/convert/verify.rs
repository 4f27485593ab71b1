//! A converted GRU checks itself: the same random inputs through our engine and through
//! the file's own framework, compared with the DESIGN.md tolerance
//! (`|ours - theirs| <= tol·(1 + |theirs|)`, tol 1e-5 for f32 and 1e-10 for f64).
//!
//! PyTorch and Keras run in `python3` (or `$GRU_PYTHON`) through `tools/verify_convert.py`,
//! ONNX models in onnxruntime through `tools/verify_onnx.py` (ragged lengths, `y` and `h_n`; f32 only),
//! and `tools/keras_gru_layout.py`, which are compiled into this crate and written to a
//! temporary folder for each run, so `--verify` works from any folder. The PyTorch run
//! uses ragged lengths (`pack_padded_sequence`) and compares `y` and `h_n`; the Keras run
//! uses full-length sequences (Keras masks differently) and compares `y`. A `gru` file is
//! read back and run through our engine. A whole network exported to ONNX runs in
//! onnxruntime against [`Network::forward`] ([`verify_network`]: ragged lengths, the valid
//! steps of `Y`). Without python3 or its packages the error says so
//! ([`Error::EngineUnavailable`]); a difference is an [`Error::VerifyMismatch`].

use std::path::Path;
use std::process::Command;

use gru_core::{Engine, GruOutput, NativeEngine, OutputMode, Plan, Real, SequenceBatch};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::{read, AnyWeights, Format, GruWeights, Options};
use crate::error::{Error, Result};
use crate::network::Network;

/// `tools/verify_convert.py`.
pub const VERIFY_SCRIPT: &str = include_str!("../../../../tools/verify_convert.py");
/// `tools/verify_onnx.py`.
pub const ONNX_SCRIPT: &str = include_str!("../../../../tools/verify_onnx.py");
/// `tools/keras_gru_layout.py`.
pub const KERAS_LAYOUT_SCRIPT: &str = include_str!("../../../../tools/keras_gru_layout.py");

/// The time steps and batch of the verification inputs.
const STEPS: usize = 7;
const BATCH: usize = 3;

/// What a verification compared.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Who computed the reference (e.g. `torch 2.15.0 GRU(3, 5)`).
    pub reference: String,
    /// Elements compared.
    pub compared: usize,
    /// The largest `|ours - theirs| / (1 + |theirs|)`.
    pub worst: f64,
    /// The tolerance it was held to.
    pub tolerance: f64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} values agree with {}: worst |diff|/(1+|ref|) = {:.2e} (tolerance {:.0e})",
            self.compared, self.reference, self.worst, self.tolerance
        )
    }
}

/// The DESIGN.md tolerance of `T`'s outputs.
pub fn tolerance<T: Real>() -> f64 {
    match T::DTYPE {
        gru_core::DType::F32 => 1e-5,
        gru_core::DType::F64 => 1e-10,
    }
}

/// Seeded inputs `x: [STEPS, BATCH, I]` uniform in [-1.5, 1.5).
pub fn sample_inputs<T: Real>(input_size: usize, seed: u64) -> Vec<T> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..STEPS * BATCH * input_size).map(|_| T::lit(rng.random_range(-1.5..1.5))).collect()
}

/// Our engine's outputs for `x: [steps, batch, I]`, with `output_mode` (the file's own).
pub fn run_ours<T: Real>(
    weights: &GruWeights<T>,
    x: &[T],
    steps: usize,
    batch: usize,
    lengths: Option<&[usize]>,
    output_mode: OutputMode,
) -> Result<GruOutput<T>> {
    let spec = weights.spec.clone().with_output_mode(output_mode);
    let mut gru = NativeEngine::new().prepare(&spec, &weights.params, &Plan::inference())?;
    let mut input = SequenceBatch::new(x, steps, batch);
    if let Some(l) = lengths {
        input = input.with_lengths(l);
    }
    Ok(gru.forward(&input)?)
}

/// Checks `ours` against `theirs` element by element; returns the worst relative difference.
pub fn compare(reference: &str, tensor: &str, ours: &[f64], theirs: &[f64], tolerance: f64) -> Result<f64> {
    if ours.len() != theirs.len() {
        return Err(Error::data(
            tensor,
            format!("{} values from {reference}", theirs.len()),
            format!("{} expected", ours.len()),
        ));
    }
    let mut worst = 0.0f64;
    for (index, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        let d = (a - b).abs() / (1.0 + b.abs());
        if d.is_nan() || d > tolerance {
            return Err(Error::VerifyMismatch {
                reference: reference.into(),
                tensor: tensor.into(),
                index,
                ours: a,
                theirs: b,
                tolerance,
            });
        }
        worst = worst.max(d);
    }
    Ok(worst)
}

/// Runs the GRU in `path` (stored as `format`) in its own framework and `weights` in our
/// engine on the same random inputs, and compares.
pub fn verify(format: Format, path: &Path, options: &Options, weights: &AnyWeights) -> Result<Report> {
    match weights {
        AnyWeights::F32(w) => verify_as(format, path, options, w),
        AnyWeights::F64(w) => verify_as(format, path, options, w),
    }
}

fn verify_as<T: Real>(format: Format, path: &Path, options: &Options, weights: &GruWeights<T>) -> Result<Report> {
    let x = sample_inputs::<T>(weights.spec.input_size, 0x5EED);
    // Ragged for PyTorch (packed sequences); Keras masks differently: full length there.
    let ragged = [STEPS, STEPS - 3, 1];
    let tol = tolerance::<T>();
    let widen = |v: &[T]| v.iter().map(|x| x.widen()).collect::<Vec<f64>>();
    match format {
        Format::Gru => {
            let back = read(Format::Gru, path, options)?;
            let theirs = match back {
                AnyWeights::F32(w) => widen_output(&run_ours(
                    &w,
                    &narrow::<f32, T>(&x),
                    STEPS,
                    BATCH,
                    Some(&ragged),
                    weights.spec.output_mode,
                )?),
                AnyWeights::F64(w) => widen_output(&run_ours(
                    &w,
                    &narrow::<f64, T>(&x),
                    STEPS,
                    BATCH,
                    Some(&ragged),
                    weights.spec.output_mode,
                )?),
            };
            let ours = run_ours(weights, &x, STEPS, BATCH, Some(&ragged), weights.spec.output_mode)?;
            let reference = "our engine on the gru file read back".to_string();
            let worst = compare(&reference, "y", &widen(&ours.y), &theirs.0, tol)?.max(compare(
                &reference,
                "h_T",
                &widen(&ours.h_t),
                &theirs.1,
                tol,
            )?);
            Ok(Report { reference, compared: ours.y.len() + ours.h_t.len(), worst, tolerance: tol })
        }
        Format::Torch | Format::Onnx => {
            let theirs = run_python(format, path, options, &x, weights.spec.input_size, Some(&ragged), T::DTYPE)?;
            let ours = run_ours(weights, &x, STEPS, BATCH, Some(&ragged), OutputMode::Sequence)?;
            let reference = theirs.by.clone();
            let worst = compare(&reference, "y", &widen(&ours.y), &theirs.y, tol)?.max(compare(
                &reference,
                "h_n",
                &widen(&ours.h_t),
                &theirs.h_n.unwrap_or_default(),
                tol,
            )?);
            Ok(Report { reference, compared: ours.y.len() + ours.h_t.len(), worst, tolerance: tol })
        }
        Format::Keras => {
            let theirs = run_python(format, path, options, &x, weights.spec.input_size, None, T::DTYPE)?;
            let ours = run_ours(weights, &x, STEPS, BATCH, None, weights.spec.output_mode)?;
            let reference = theirs.by.clone();
            if theirs.y_shape != ours.y_shape {
                return Err(Error::data(
                    "y",
                    format!("shape {:?} from {reference}", theirs.y_shape),
                    format!("{:?} expected", ours.y_shape),
                ));
            }
            let worst = compare(&reference, "y", &widen(&ours.y), &theirs.y, tol)?;
            Ok(Report { reference, compared: ours.y.len(), worst, tolerance: tol })
        }
    }
}

/// Runs the network ONNX model in `path` (written by [`super::onnx::write_network`]) in
/// onnxruntime (`tools/verify_onnx.py`) and `network` in our engines on the same random
/// inputs `[T, B, C]` with ragged lengths, and compares the valid steps of the output `Y`
/// ([`valid_steps`]; the rows past a sequence's length are padding).
pub fn verify_network<T: Real>(path: &Path, network: &mut Network<T>) -> Result<Report> {
    let c = network.input_size();
    let x = sample_inputs::<T>(c, 0x5EED);
    let ragged = [STEPS, STEPS - 3, 1];
    let tol = tolerance::<T>();
    let theirs = run_python(Format::Onnx, path, &Options::default(), &x, c, Some(&ragged), T::DTYPE)?;
    let ours = network.forward(&x, STEPS, &ragged, None, None)?.output;
    let k = network.output_width();
    let shape = if network.sequence_output() { vec![STEPS, BATCH, k] } else { vec![BATCH, k] };
    let reference = theirs.by.clone();
    if theirs.y_shape != shape {
        return Err(Error::data(
            "Y",
            format!("shape {:?} from {reference}", theirs.y_shape),
            format!("{shape:?} expected"),
        ));
    }
    let (ours, theirs) = if network.sequence_output() {
        (valid_steps(&ours, STEPS, &ragged, k), valid_steps(&theirs.y, STEPS, &ragged, k))
    } else {
        (ours, theirs.y)
    };
    let ours: Vec<f64> = ours.iter().map(|v| v.widen()).collect();
    let worst = compare(&reference, "Y", &ours, &theirs, tol)?;
    Ok(Report { reference, compared: ours.len(), worst, tolerance: tol })
}

/// Runs two networks (e.g. one and its copy read back from a file) on the same random
/// inputs with ragged lengths and compares their outputs' valid steps.
pub fn compare_networks<T: Real>(reference: &str, ours: &mut Network<T>, theirs: &mut Network<T>) -> Result<Report> {
    let c = ours.input_size();
    let x = sample_inputs::<T>(c, 0x5EED);
    let ragged = [STEPS, STEPS - 3, 1];
    let tol = tolerance::<T>();
    let run = |net: &mut Network<T>| -> Result<Vec<f64>> {
        let y = net.forward(&x, STEPS, &ragged, None, None)?.output;
        let y = if net.sequence_output() { valid_steps(&y, STEPS, &ragged, net.output_width()) } else { y };
        Ok(y.iter().map(|v| v.widen()).collect())
    };
    let (a, b) = (run(ours)?, run(theirs)?);
    let worst = compare(reference, "Y", &a, &b, tol)?;
    Ok(Report { reference: reference.into(), compared: a.len(), worst, tolerance: tol })
}

/// The rows of `y: [T, B, K]` at valid steps (`t < lengths[b]`), sequence by sequence:
/// `[len_0, K]`, then `[len_1, K]`, ... (as `train::predict` returns them).
pub fn valid_steps<T: Copy>(y: &[T], steps: usize, lengths: &[usize], width: usize) -> Vec<T> {
    let batch = lengths.len();
    let mut out = Vec::new();
    for (b, &len) in lengths.iter().enumerate() {
        for t in 0..len.min(steps) {
            let at = (t * batch + b) * width;
            out.extend_from_slice(&y[at.min(y.len())..(at + width).min(y.len())]);
        }
    }
    out
}

/// `x` as another `Real` type (only ever the same one: a file keeps its dtype).
fn narrow<U: Real, T: Real>(x: &[T]) -> Vec<U> {
    x.iter().map(|v| U::lit(v.widen())).collect()
}

fn widen_output<T: Real>(out: &GruOutput<T>) -> (Vec<f64>, Vec<f64>) {
    (out.y.iter().map(|v| v.widen()).collect(), out.h_t.iter().map(|v| v.widen()).collect())
}

/// What `tools/verify_convert.py` computed.
struct PythonOutput {
    y: Vec<f64>,
    y_shape: Vec<usize>,
    h_n: Option<Vec<f64>>,
    by: String,
}

/// Runs `tools/verify_convert.py` on `path` with inputs `x: [STEPS, BATCH, I]`.
fn run_python<T: Real>(
    format: Format,
    path: &Path,
    options: &Options,
    x: &[T],
    input_size: usize,
    lengths: Option<&[usize]>,
    dtype: gru_core::DType,
) -> Result<PythonOutput> {
    let python = std::env::var("GRU_PYTHON").unwrap_or_else(|_| "python3".into());
    let (framework, script_name) = match format {
        Format::Torch => ("PyTorch", "verify_convert.py"),
        Format::Onnx => ("onnxruntime", "verify_onnx.py"),
        _ => ("Keras", "verify_convert.py"),
    };
    let engine = format!("{framework} (through {python} and tools/{script_name})");
    let remedy = "Install python3 and the tools' packages (pip install -r tools/requirements.txt), or set GRU_PYTHON \
                  to a Python that has them; or convert without --verify.";
    let unavailable =
        |reason: String| Error::EngineUnavailable { engine: engine.clone(), reason, remedy: remedy.into() };
    let dir = tempfile::tempdir().map_err(|e| unavailable(format!("cannot create a temporary folder: {e}")))?;
    let script = dir.path().join(script_name);
    let io = |e: std::io::Error| unavailable(format!("cannot write to {}: {e}", dir.path().display()));
    std::fs::write(&script, if format == Format::Onnx { ONNX_SCRIPT } else { VERIFY_SCRIPT }).map_err(io)?;
    std::fs::write(dir.path().join("keras_gru_layout.py"), KERAS_LAYOUT_SCRIPT).map_err(io)?;
    let inputs = dir.path().join("inputs.json");
    let out = dir.path().join("outputs.json");
    let x: Vec<f64> = x.iter().map(|v| v.widen()).collect();
    let request =
        json!({"dtype": dtype.to_string(), "x": x, "x_shape": [STEPS, BATCH, input_size], "lengths": lengths});
    std::fs::write(&inputs, request.to_string()).map_err(io)?;
    let absolute = std::path::absolute(path).map_err(|e| Error::file(path, format!("cannot resolve: {e}")))?;
    let run = if format == Format::Onnx {
        Command::new(&python).arg(&script).arg(&absolute).arg(&inputs).output()
    } else {
        Command::new(&python)
            .arg(&script)
            .args(["--format", format.name(), "--prefix", &options.torch.prefix])
            .arg("--weights")
            .arg(&absolute)
            .arg("--inputs")
            .arg(&inputs)
            .arg("--out")
            .arg(&out)
            .output()
    }
    .map_err(|e| unavailable(format!("cannot run {python}: {e}")))?;
    let stderr = String::from_utf8_lossy(&run.stderr);
    let tail: String =
        stderr.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    match run.status.code() {
        Some(0) => {}
        Some(3) => return Err(unavailable(tail)),
        _ => {
            return Err(Error::file(path, format!("{framework} could not run this file (tools/{script_name}): {tail}")))
        }
    }
    let text = if format == Format::Onnx {
        String::from_utf8_lossy(&run.stdout).into_owned()
    } else {
        std::fs::read_to_string(&out).map_err(|e| unavailable(format!("no output: {e}")))?
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| unavailable(format!("unreadable output: {e}")))?;
    let floats = |key: &str| v.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_f64).collect());
    Ok(PythonOutput {
        y: floats("y").unwrap_or_default(),
        y_shape: v
            .get("y_shape")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|d| d.as_u64().map(|d| d as usize)).collect())
            .unwrap_or_default(),
        h_n: floats("h_n"),
        by: v.get("by").and_then(Value::as_str).unwrap_or(framework).to_string(),
    })
}
