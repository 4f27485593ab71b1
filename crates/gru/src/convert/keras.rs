//! Keras GRU weights in the `keras-gru` layout: a safetensors file that
//! `tools/keras_gru_layout.py` writes from a Keras model (a stack of `GRU` or
//! `Bidirectional(GRU)` layers) and builds a Keras model back from.
//!
//! # Layout (format version 1)
//! Metadata (`__metadata__`, strings):
//! ```text
//! format          "keras-gru"
//! format_version  "1"
//! keras_version   the Keras that wrote it ("3.15.1"; we write "3" or "2"): its major version
//!                 decides what hard_sigmoid means (3: clamp(x/6 + 0.5), 2: clamp(0.2x + 0.5))
//! config          JSON {"layers": [L_0, ..., L_{D-1}]}, one object per stacked layer:
//!                 {"units": H, "bidirectional": bool, "merge_mode": "concat",
//!                  "reset_after": bool, "use_bias": bool, "activation": "tanh"|"softsign",
//!                  "recurrent_activation": "sigmoid"|"hard_sigmoid", "go_backwards": bool,
//!                  "return_sequences": bool}
//!                 (missing keys take Keras 3's defaults; unknown keys are refused)
//! ```
//! Tensors, `dir` = `forward`, and `backward` for a `Bidirectional` layer (its backward GRU):
//! ```text
//! layers.{k}.{dir}.kernel            [I_k, 3H]  columns grouped z, r, h (Keras' gate order)
//! layers.{k}.{dir}.recurrent_kernel  [H, 3H]    columns grouped z, r, h
//! layers.{k}.{dir}.bias              [3H] (reset_after=False) or [2, 3H] (True: row 0 the
//!                                    input bias, row 1 the recurrent bias); absent when
//!                                    use_bias=False (zero biases)
//! ```
//! Keras computes, with `x_g = x·kernel_g + b_g`, `h_g = h·recurrent_kernel_g (+ b'_g)`:
//! `z = σ_g(x_z + h_z)`, `r = σ_g(x_r + h_r)`, `n = σ_s(x_h + r ⊙ h_h)` when reset_after
//! (our recurrent-bias-after) or `n = σ_s(x_h + (r ⊙ h)·recurrent_kernel_h)` when not (our
//! before-multiplication), and `h' = z ⊙ h + (1 - z) ⊙ n`: ours exactly. So `W_g =
//! kernel_gᵀ`, `R_g = recurrent_kernel_gᵀ`, and the biases are reordered from z, r, h.
//!
//! # What maps and what does not
//! All layers must share units, activations, reset_after and use_bias (a `GruSpec` stack has
//! one of each), every layer but the last must return sequences, and a `Bidirectional` must
//! concatenate. The last layer's `return_sequences=False` is our `OutputMode::Last` for a
//! unidirectional stack; a bidirectional one is refused, because Keras then concatenates the
//! backward GRU's *final* state where our `last` output (PyTorch's convention) holds its
//! output after reading only the last step. A lone `go_backwards` layer has no `GruSpec`
//! equivalent. Exporting: clip is refused; after-multiplication exports as reset_after=True
//! with a zero recurrent h bias; a hard-sigmoid must be the chosen Keras version's.

use std::collections::HashMap;
use std::path::Path;

use gru_core::{DType, Gate, GateActivation, GruParams, GruSpec, OutputMode, Real, ResetGateMode, StateActivation};

use super::keras_config::{header, spec_of};
pub use super::keras_config::{KerasVersion, LayerConfig, LayoutConfig};
use super::{
    check_shapes, direction_name, gates_from_canonical, gates_to_canonical, take, tensor_dtype, transpose, GruWeights,
};
use crate::error::{Error, Result};
use crate::io::{self as checkpoint, NamedTensor, SafetensorsFile};

/// The `format` metadata of the layout.
pub const FORMAT_NAME: &str = "keras-gru";
/// The layout version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The target named in [`Error::NotRepresentable`] when exporting.
pub const TARGET: &str = "Keras GRU";

/// Options of the Keras format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KerasOptions {
    /// Reading: which `hard_sigmoid` the file means (`None`: its `keras_version`, Keras 3 when
    /// absent). Writing: the version written (`None`: Keras 2 when the gates are Keras 2's
    /// hard-sigmoid, alpha 0.2, else Keras 3); a hard-sigmoid of the other version is refused.
    pub version: Option<KerasVersion>,
    /// Writing: `use_bias` (default true). `false` writes no bias tensors and refuses
    /// parameters with a nonzero bias.
    pub use_bias: bool,
}

impl Default for KerasOptions {
    fn default() -> Self {
        Self { version: None, use_bias: true }
    }
}

/// Where canonical gate `g` sits among Keras' three column blocks (z, r, h).
fn gate_block(g: Gate) -> usize {
    match g {
        Gate::Update => 0,
        Gate::Reset => 1,
        Gate::Candidate => 2,
    }
}

pub(super) fn tensor_name(layer: usize, dir: usize, what: &str) -> String {
    format!("layers.{layer}.{}.{what}", direction_name(dir))
}

/// The element type of the layout's tensors.
pub(crate) fn file_dtype(file: &SafetensorsFile) -> Result<DType> {
    header(file, &KerasOptions::default())?;
    tensor_dtype(file, &tensor_name(0, 0, "kernel"))
}

/// Reads a `keras-gru` file as `T`.
pub fn read<T: Real>(path: &Path, options: &KerasOptions) -> Result<GruWeights<T>> {
    from_file(&SafetensorsFile::read(path)?, options)
}

/// Every tensor a file of `spec` holds, with its shape, in block order.
fn expected_tensors(spec: &GruSpec, use_bias: bool) -> Vec<(String, Vec<usize>)> {
    let (h, dirs) = (spec.hidden_size, spec.directions());
    let rba = spec.reset_gate_mode == ResetGateMode::RecurrentBiasAfterMultiplication;
    let mut expected = Vec::new();
    for i in 0..spec.num_blocks() {
        let (layer, dir) = (i / dirs, i % dirs);
        expected.push((tensor_name(layer, dir, "kernel"), vec![spec.layer_input_size(layer), 3 * h]));
        expected.push((tensor_name(layer, dir, "recurrent_kernel"), vec![h, 3 * h]));
        if use_bias {
            expected.push((tensor_name(layer, dir, "bias"), if rba { vec![2, 3 * h] } else { vec![3 * h] }));
        }
    }
    expected
}

/// Reads a `keras-gru` file as `T`.
pub fn from_file<T: Real>(file: &SafetensorsFile, options: &KerasOptions) -> Result<GruWeights<T>> {
    let (config, version) = header(file, options)?;
    let spec = spec_of(file, &config, version)?;
    let use_bias = config.layers[0].use_bias;
    // Every shape first: nothing is allocated for a config the tensors do not back.
    let expected = expected_tensors(&spec, use_bias);
    check_shapes(file, &expected)?;
    if let Some(extra) = file.names().find(|n| !expected.iter().any(|(e, _)| e == n)) {
        return Err(Error::file(
            file.path(),
            format!("tensor {extra} is not part of this {FORMAT_NAME} layout (config: {} layer(s))", spec.depth),
        ));
    }
    let (h, dirs) = (spec.hidden_size, spec.directions());
    let mut params = GruParams::<T>::zeros(&spec);
    for (i, block) in params.blocks_mut().iter_mut().enumerate() {
        let (layer, dir) = (i / dirs, i % dirs);
        let inputs = block.input_size();
        // kernel [I, 3H] = Wᵀ with Keras' gate blocks: transpose to [3H, I], then reorder rows.
        let kernel = take::<T>(file, &tensor_name(layer, dir, "kernel"), &[inputs, 3 * h])?;
        block.w_mut().copy_from_slice(&gates_to_canonical(&transpose(&kernel, inputs, 3 * h), h, inputs, gate_block));
        let rk = take::<T>(file, &tensor_name(layer, dir, "recurrent_kernel"), &[h, 3 * h])?;
        block.r_mut().copy_from_slice(&gates_to_canonical(&transpose(&rk, h, 3 * h), h, h, gate_block));
        if !use_bias {
            continue;
        }
        // [3H] input bias, or [2, 3H]: row 0 the input bias, row 1 the recurrent bias.
        let name = tensor_name(layer, dir, "bias");
        let bias = take::<T>(file, &name, file.shape(&name).unwrap_or_default())?;
        let input = gates_to_canonical(&bias[..3 * h], h, 1, gate_block);
        for g in Gate::ALL {
            block.input_bias_mut(g).copy_from_slice(&input[g.rows(h)]);
        }
        if bias.len() == 6 * h {
            let recurrent = gates_to_canonical(&bias[3 * h..], h, 1, gate_block);
            for g in Gate::ALL {
                if let Some(b) = block.recurrent_bias_mut(g) {
                    b.copy_from_slice(&recurrent[g.rows(h)]);
                }
            }
        }
    }
    GruWeights::new(spec, params)
}

/// The Keras version whose `hard_sigmoid` is the spec's (Keras 2 for alpha 0.2), else Keras 3.
pub fn version_for(spec: &GruSpec) -> KerasVersion {
    if spec.gate_activation == KerasVersion::Keras2.hard_sigmoid() {
        KerasVersion::Keras2
    } else {
        KerasVersion::Keras3
    }
}

/// The layout's config and tensors for `weights`, or [`Error::NotRepresentable`].
pub fn to_layout<T: Real>(
    weights: &GruWeights<T>,
    version: KerasVersion,
    use_bias: bool,
) -> Result<(LayoutConfig, Vec<NamedTensor>)> {
    let spec = &weights.spec;
    weights.params.check(spec)?;
    if let Some(c) = spec.clip {
        return Err(Error::not_representable(TARGET, "clip", c, "Keras' GRU does not clip its pre-activations"));
    }
    if spec.reverse {
        return Err(Error::not_representable(
            TARGET,
            "reverse",
            true,
            "Keras' go_backwards=True returns the outputs in reversed time order; export a forward GRU of the \
             reversed sequences",
        ));
    }
    super::check_plain_inference(TARGET, spec)?;
    let recurrent_activation = match spec.gate_activation {
        GateActivation::Sigmoid => "sigmoid",
        hs if hs == version.hard_sigmoid() => "hard_sigmoid",
        GateActivation::HardSigmoid { alpha, beta } => {
            let other = [KerasVersion::Keras3, KerasVersion::Keras2]
                .into_iter()
                .find(|v| v.hard_sigmoid() == spec.gate_activation);
            return Err(Error::not_representable(
                &format!("Keras {}", version.name()),
                "gate_activation",
                format!("hard-sigmoid (alpha {alpha}, beta {beta})"),
                match other {
                    Some(v) => format!("Keras {}'s hard_sigmoid; export for Keras {}", v.name(), v.name()),
                    None => "Keras' hard_sigmoid is clamp(x/6 + 0.5) (Keras 3) or clamp(0.2x + 0.5) (Keras 2)".into(),
                },
            ));
        }
    };
    if spec.bidirectional && spec.output_mode == OutputMode::Last {
        return Err(Error::not_representable(
            TARGET,
            "output_mode",
            "last (bidirectional)",
            "Keras' return_sequences=False concatenates the backward direction's final state, not its output at the \
             last step",
        ));
    }
    let reset_after = spec.reset_gate_mode != ResetGateMode::BeforeMultiplication;
    let activation = match spec.state_activation {
        StateActivation::Tanh => "tanh",
        StateActivation::Softsign => "softsign",
    };
    let layers = (0..spec.depth)
        .map(|k| LayerConfig {
            units: spec.hidden_size,
            bidirectional: spec.bidirectional,
            merge_mode: "concat".into(),
            reset_after,
            use_bias,
            activation: activation.into(),
            recurrent_activation: recurrent_activation.into(),
            go_backwards: false,
            return_sequences: k + 1 < spec.depth || spec.output_mode == OutputMode::Sequence,
            // Keras has both dropouts (training only); weight drop has no Keras option and,
            // like them, nothing to compute at inference.
            dropout: spec.regularization.input_dropout,
            recurrent_dropout: spec.regularization.recurrent_dropout,
        })
        .collect();
    let (h, dirs) = (spec.hidden_size, spec.directions());
    let mut tensors = Vec::new();
    for (i, block) in weights.params.blocks().iter().enumerate() {
        let (layer, dir) = (i / dirs, i % dirs);
        let inputs = block.input_size();
        let kernel = transpose(&gates_from_canonical(block.w(), h, inputs, gate_block), 3 * h, inputs);
        tensors.push(NamedTensor::new(tensor_name(layer, dir, "kernel"), vec![inputs, 3 * h], kernel));
        let rk = transpose(&gates_from_canonical(block.r(), h, h, gate_block), 3 * h, h);
        tensors.push(NamedTensor::new(tensor_name(layer, dir, "recurrent_kernel"), vec![h, 3 * h], rk));
        let mut input = vec![T::zero(); 3 * h];
        let mut recurrent = vec![T::zero(); 3 * h]; // after-multiplication: b'_h = 0
        for g in Gate::ALL {
            input[g.rows(h)].copy_from_slice(block.input_bias(g));
            if let Some(b) = block.recurrent_bias(g) {
                recurrent[g.rows(h)].copy_from_slice(b);
            }
        }
        if !use_bias {
            if input.iter().chain(&recurrent).any(|v| *v != T::zero()) {
                return Err(Error::not_representable(
                    "Keras GRU(use_bias=False)",
                    "bias",
                    format!("nonzero in layer {layer} {}", direction_name(dir)),
                    "use_bias=False has no biases; export with biases instead",
                ));
            }
            continue;
        }
        let mut bias = gates_from_canonical(&input, h, 1, gate_block);
        let shape = if reset_after {
            bias.extend(gates_from_canonical(&recurrent, h, 1, gate_block));
            vec![2, 3 * h]
        } else {
            vec![3 * h]
        };
        tensors.push(NamedTensor::new(tensor_name(layer, dir, "bias"), shape, bias));
    }
    Ok((LayoutConfig { layers }, tensors))
}

/// Writes `weights` in the `keras-gru` layout (atomically), or refuses what Keras cannot
/// represent before writing anything.
pub fn write<T: Real>(path: &Path, weights: &GruWeights<T>, options: &KerasOptions) -> Result<()> {
    let version = options.version.unwrap_or_else(|| version_for(&weights.spec));
    let (config, tensors) = to_layout(weights, version, options.use_bias)?;
    let config = serde_json::to_string(&config).map_err(|e| Error::file(path, format!("config JSON: {e}")))?;
    let metadata = HashMap::from([
        ("format".to_string(), FORMAT_NAME.to_string()),
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        ("keras_version".to_string(), version.name().to_string()),
        ("config".to_string(), config),
    ]);
    checkpoint::save_tensors(path, &tensors, metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(spec: GruSpec) -> GruWeights<f64> {
        let mut params = GruParams::<f64>::zeros(&spec);
        let flat: Vec<f64> = (0..params.num_params()).map(|i| i as f64 * 0.5 - 3.0).collect();
        params.set_flat(&flat).unwrap();
        GruWeights::new(spec, params).unwrap()
    }

    #[test]
    fn kernel_columns_are_grouped_z_r_h() {
        let spec = GruSpec::new(2, 1).with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication);
        let mut params = GruParams::<f32>::zeros(&spec);
        let b = &mut params.blocks_mut()[0];
        b.w_gate_mut(Gate::Reset).copy_from_slice(&[1.0, 2.0]);
        b.w_gate_mut(Gate::Update).copy_from_slice(&[3.0, 4.0]);
        b.w_gate_mut(Gate::Candidate).copy_from_slice(&[5.0, 6.0]);
        b.input_bias_mut(Gate::Update)[0] = 7.0;
        b.recurrent_bias_mut(Gate::Candidate).unwrap()[0] = 8.0;
        let (_, t) = to_layout(&GruWeights::new(spec, params).unwrap(), KerasVersion::Keras3, true).unwrap();
        use crate::io::TensorData::F32;
        // kernel [I=2, 3H=3]: row i holds (z, r, h) of input i.
        assert_eq!(t[0].data, F32(vec![3.0, 1.0, 5.0, 4.0, 2.0, 6.0]));
        assert_eq!(t[2].data, F32(vec![7.0, 0.0, 0.0, 0.0, 0.0, 8.0]));
        assert_eq!(t[2].shape, vec![2, 3]);
    }

    #[test]
    fn refused_exports_name_the_option() {
        let base = GruSpec::new(2, 3).with_reset_gate_mode(ResetGateMode::BeforeMultiplication);
        let cases = [
            (base.clone().with_clip(Some(1.0)), KerasVersion::Keras3, "clip"),
            (base.clone().with_gate_activation(GateActivation::HARD_SIGMOID), KerasVersion::Keras3, "gate_activation"),
            (
                base.clone().with_gate_activation(KerasVersion::Keras3.hard_sigmoid()),
                KerasVersion::Keras2,
                "gate_activation",
            ),
            (
                base.clone().with_gate_activation(GateActivation::HardSigmoid { alpha: 0.3, beta: 0.5 }),
                KerasVersion::Keras3,
                "gate_activation",
            ),
            (
                base.clone().with_bidirectional(true).with_output_mode(OutputMode::Last),
                KerasVersion::Keras3,
                "output_mode",
            ),
        ];
        for (spec, version, option) in cases {
            match to_layout(&weights(spec), version, true) {
                Err(Error::NotRepresentable { option: o, .. }) => assert_eq!(o, option),
                other => panic!("{option}: {other:?}"),
            }
        }
        let ok =
            base.with_gate_activation(GateActivation::HARD_SIGMOID).with_output_mode(OutputMode::Last).with_depth(2);
        let (config, _) = to_layout(&weights(ok.clone()), KerasVersion::Keras2, true).unwrap();
        assert_eq!(config.layers.iter().map(|l| l.return_sequences).collect::<Vec<_>>(), [true, false]);
        assert_eq!(config.layers[0].recurrent_activation, "hard_sigmoid");
        assert!(!config.layers[0].reset_after);
        match to_layout(&weights(ok), KerasVersion::Keras2, false) {
            Err(Error::NotRepresentable { option, .. }) => assert_eq!(option, "bias"),
            other => panic!("{other:?}"),
        }
    }
}
