//! `gru convert`: GRU weights from and to PyTorch, Keras and ONNX, and our own files.
//!
//! ```text
//! gru convert --from torch --to keras model.safetensors gru.keras-gru.safetensors --prefix rnn. --verify
//! gru convert --from gru --to torch trained.safetensors state_dict.safetensors --layer 0
//! gru convert --to onnx gru.safetensors gru.onnx --verify
//! gru convert --to onnx model.safetensors model.onnx --verify   # a whole network from `gru train`
//! gru convert --from onnx --to gru model.onnx model.safetensors  # and back
//! ```
//!
//! A network saved by `gru train` converts as a whole to ONNX (without `--layer`); an ONNX
//! model exported from a network (its `gru.network` metadata) converts back to a network
//! file, or (with `--layer`, or to PyTorch and Keras) gives one of its GRU layers.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use gru::convert::{self, gru_file, onnx, verify, AnyWeights, Format, KerasVersion, Options};
use gru::io::{model_json, SafetensorsFile};
use gru::{DType, Network, Real};

use super::{load_model, AnyNetwork};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// A PyTorch nn.GRU state dict as safetensors (tools/pt_to_safetensors.py turns a .pt into one).
    Torch,
    /// Keras GRU weights in the keras-gru layout (tools/keras_gru_layout.py writes it from a Keras model).
    Keras,
    /// Our file: a lone GRU stack (`gru-layer`), a network (from an ONNX model of one), or,
    /// to read, a GRU layer of a model saved by `gru train`.
    Gru,
    /// An ONNX model: one GRU node per layer (opset 14), or a whole network saved by `gru train`;
    /// `--verify` runs it in onnxruntime (tools/verify_onnx.py).
    Onnx,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Torch => Format::Torch,
            FormatArg::Keras => Format::Keras,
            FormatArg::Gru => Format::Gru,
            FormatArg::Onnx => Format::Onnx,
        }
    }
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The format of IN (default: onnx for a .onnx file, else from the file's metadata: gru,
    /// keras-gru, else a state dict).
    #[arg(long, value_enum)]
    pub from: Option<FormatArg>,
    /// The format of OUT.
    #[arg(long, value_enum)]
    pub to: FormatArg,
    /// The weights to read (.safetensors or .onnx).
    pub input: PathBuf,
    /// The file to write (.safetensors, or .onnx for --to onnx); replaced atomically.
    pub output: PathBuf,
    /// PyTorch key prefix of the nn.GRU (e.g. `rnn.` for `model.rnn`), read and written.
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Write no biases (PyTorch bias=False, Keras use_bias=False); refused when a bias is nonzero.
    #[arg(long)]
    pub no_bias: bool,
    /// Keras' hard_sigmoid: 3 = clamp(x/6 + 0.5), 2 = clamp(0.2x + 0.5). With --to keras, the
    /// version written (default: 2 for a hard-sigmoid of slope 0.2, else 3); otherwise how
    /// to read IN (default: its keras_version).
    #[arg(long, value_parser = ["2", "3"])]
    pub keras_version: Option<String>,
    /// Reading a model saved by `gru train` (or its ONNX export): which of its GRU layers
    /// (0-based); without it, a network converts as a whole to ONNX (and from ONNX to gru).
    #[arg(long)]
    pub layer: Option<usize>,
    /// Run IN and OUT on random inputs in their own framework (PyTorch, Keras: through
    /// python3 and tools/verify_convert.py) and in our engine; fail beyond 1e-5 (f32).
    #[arg(long)]
    pub verify: bool,
}

impl ConvertArgs {
    /// The options of the reading side and of the writing side (`to`):
    /// `--keras-version` is the written file's when writing Keras, else the read file's.
    fn options(&self, to: Format) -> (Options, Options) {
        let mut o = Options::default();
        o.torch.prefix = self.prefix.clone();
        o.torch.bias = !self.no_bias;
        o.keras.use_bias = !self.no_bias;
        o.gru.layer = self.layer;
        let version = self.keras_version.as_deref().map(|v| match v {
            "2" => KerasVersion::Keras2,
            _ => KerasVersion::Keras3,
        });
        let (mut read, mut write) = (o.clone(), o);
        read.keras.version = if to == Format::Keras { None } else { version };
        write.keras.version = if to == Format::Keras { version } else { None };
        (read, write)
    }
}

/// The format of `path`: ONNX for a `.onnx` file, else from its safetensors metadata.
pub fn detect(path: &Path) -> Result<Format> {
    if path.extension().is_some_and(|e| e == "onnx") {
        return Ok(Format::Onnx);
    }
    Ok(Format::detect(&SafetensorsFile::read(path)?))
}

pub fn run(a: &ConvertArgs) -> Result<()> {
    crate::paths::Files::new().input("IN", Some(&a.input)).output("OUT", Some(&a.output)).check()?;
    let from = match a.from {
        Some(f) => f.into(),
        None => detect(&a.input)?,
    };
    let to: Format = a.to.into();
    let (in_options, options) = a.options(to);
    if let Some(network) = read_network(from, to, a)? {
        return match network {
            AnyNetwork::F32(n) => convert_network(a, (from, to), n, &options, AnyWeights::F32),
            AnyNetwork::F64(n) => convert_network(a, (from, to), n, &options, AnyWeights::F64),
        };
    }
    let weights = convert::read(from, &a.input, &in_options)
        .with_context(|| format!("reading {} as {from}", a.input.display()))?;
    outln!("read {} ({from}, {}):", a.input.display(), weights.dtype());
    out!("{}", indent(&super::inspect::describe_spec(weights.spec())));
    if a.verify && from != Format::Gru {
        let report = verify::verify(from, &a.input, &in_options, &weights)
            .with_context(|| format!("verifying {} as {from}", a.input.display()))?;
        outln!("verified {}: {report}", a.input.display());
    }
    write_weights(a, to, &weights, &options)
}

/// The network IN holds when it is to be read as one: an ONNX model exported from a
/// network (whatever the target), or a network saved by `gru train` going to ONNX whole
/// (without `--layer`). `None`: IN is read as GRU weights.
fn read_network(from: Format, to: Format, a: &ConvertArgs) -> Result<Option<AnyNetwork>> {
    match from {
        Format::Onnx => {
            let model = onnx::load(&a.input)?;
            if !onnx::is_network(&model) {
                return Ok(None);
            }
            let read = || -> gru::Result<AnyNetwork> {
                Ok(match onnx::network_dtype(&model, &a.input)? {
                    DType::F32 => AnyNetwork::F32(onnx::network_from_model(&model, &a.input)?),
                    DType::F64 => AnyNetwork::F64(onnx::network_from_model(&model, &a.input)?),
                })
            };
            Ok(Some(read().with_context(|| format!("reading {} as an ONNX network", a.input.display()))?))
        }
        Format::Gru if to == Format::Onnx && a.layer.is_none() => {
            let file = SafetensorsFile::read(&a.input)?;
            let kind = model_json(&file)?.get("kind").and_then(|k| k.as_str().map(String::from));
            if kind.as_deref() != Some("gru-network") {
                return Ok(None);
            }
            Ok(Some(load_model(&a.input)?))
        }
        _ => Ok(None),
    }
}

/// Converts a whole network (to ONNX, or from ONNX to our network file), or one of its
/// GRU layers (`--layer`, or a target that holds only a GRU).
/// `any` wraps a GRU layer of the network's element type.
fn convert_network<T: Real>(
    a: &ConvertArgs,
    (from, to): (Format, Format),
    mut net: Network<T>,
    options: &Options,
    any: fn(convert::GruWeights<T>) -> AnyWeights,
) -> Result<()> {
    outln!("read {} ({from}, a network, {}):", a.input.display(), T::DTYPE);
    out!("{}", indent(&super::inspect::describe_network(&net)));
    if a.verify && from == Format::Onnx {
        let report = verify::verify_network(&a.input, &mut net)
            .with_context(|| format!("verifying {} as {from}", a.input.display()))?;
        outln!("verified {}: {report}", a.input.display());
    }
    if a.layer.is_some() || !matches!(to, Format::Onnx | Format::Gru) {
        let weights = gru_file::network_layer(&net, a.layer, &a.input)?;
        outln!("its GRU layer {}:", a.layer.unwrap_or(0));
        out!("{}", indent(&super::inspect::describe_spec(&weights.spec)));
        return write_weights(a, to, &any(weights), options);
    }
    let save = |path: &Path, net: &Network<T>| -> gru::Result<()> {
        match to {
            Format::Onnx => onnx::write_network(path, net, &options.onnx),
            _ => net.save(path),
        }
    };
    if !a.verify {
        save(&a.output, &net).with_context(|| format!("writing {} as {to}", a.output.display()))?;
        outln!("wrote {} ({to}, the whole network)", a.output.display());
        return Ok(());
    }
    let staged = staged_path(a, to)?;
    save(&staged, &net).with_context(|| format!("writing {} as {to}", a.output.display()))?;
    let checked = match to {
        Format::Onnx => verify::verify_network(&staged, &mut net),
        _ => Network::<T>::load(&staged).and_then(|mut back| {
            verify::compare_networks("our engine on the network file read back", &mut net, &mut back)
        }),
    };
    finish_staged(a, to, &staged, checked)
}

/// Writes GRU weights to OUT (with `--verify`: checked before it takes OUT's place).
fn write_weights(a: &ConvertArgs, to: Format, weights: &AnyWeights, options: &Options) -> Result<()> {
    if !a.verify {
        write(to, &a.output, weights, options)?;
        outln!("wrote {} ({to})", a.output.display());
        return Ok(());
    }
    let staged = staged_path(a, to)?;
    convert::write_any(to, &staged, weights, options)
        .with_context(|| format!("writing {} as {to}", a.output.display()))?;
    let checked = verify::verify(to, &staged, options, weights);
    finish_staged(a, to, &staged, checked)
}

/// Verify before the file takes its place: a sibling first, renamed when it agrees.
fn staged_path(a: &ConvertArgs, to: Format) -> Result<PathBuf> {
    let name = a.output.file_name().context("OUT names no file")?.to_string_lossy().into_owned();
    let ext = if to == Format::Onnx { "onnx" } else { "safetensors" };
    Ok(a.output.with_file_name(format!(".{name}.verify-{}.{ext}", std::process::id())))
}

/// Renames the staged file to OUT when its check passed; removes it otherwise.
fn finish_staged(a: &ConvertArgs, to: Format, staged: &Path, checked: gru::Result<verify::Report>) -> Result<()> {
    let report = match checked {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(staged);
            return Err(
                anyhow::Error::new(e).context(format!("verifying {} as {to}; nothing was written", a.output.display()))
            );
        }
    };
    std::fs::rename(staged, &a.output).with_context(|| format!("writing {}", a.output.display()))?;
    outln!("wrote {} ({to})", a.output.display());
    outln!("verified {}: {report}", a.output.display());
    Ok(())
}

fn write(to: Format, path: &Path, weights: &AnyWeights, options: &Options) -> Result<()> {
    convert::write_any(to, path, weights, options).with_context(|| format!("writing {} as {to}", path.display()))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}
