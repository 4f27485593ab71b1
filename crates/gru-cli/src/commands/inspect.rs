//! `gru inspect`: what a model file, a network JSON, a Korali JSON, a GRU spec or GRU
//! weights (a PyTorch state dict, the Keras layout, a gru-layer file, an ONNX model) hold.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gru::convert::{self, onnx, torch, Format, Options};
use gru::io::{model_json, SafetensorsFile};
use gru::korali::KoraliNetwork;
use gru::network::Initialization;
use gru::{GruSpec, Network, Real};

use super::{load_model, AnyNetwork};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A model or GRU weights (.safetensors: saved by gru, a PyTorch state dict, the Keras
    /// layout), an ONNX model (.onnx), a layer-array JSON, a Korali network JSON or a GRU spec JSON.
    pub file: PathBuf,
    /// A PyTorch state dict: the key prefix of the nn.GRU (default: every nn.GRU found).
    #[arg(long)]
    pub prefix: Option<String>,
}

pub fn run(a: &InspectArgs) -> Result<()> {
    out!("{}", inspect(&a.file, a.prefix.as_deref())?);
    Ok(())
}

/// The description `gru inspect` prints; `prefix` picks the nn.GRU of a PyTorch state dict.
pub fn inspect(path: &PathBuf, prefix: Option<&str>) -> Result<String> {
    if path.extension().is_some_and(|e| e == "safetensors") {
        return inspect_safetensors(path, prefix);
    }
    if path.extension().is_some_and(|e| e == "onnx") {
        return inspect_onnx(path);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if value.is_array() {
        let specs = gru::network::layers_from_json(&text).context("a layer array")?;
        let net = Network::<f32>::new(specs, 0)?;
        return Ok(describe_network(&net));
    }
    if value.get("Layers").is_some() || value.get("Hidden Layers").is_some() {
        let (net, warnings) = KoraliNetwork::from_json(&value)?;
        let mut s = format!(
            "Korali network: engine {}, mode {}, timestep count {:?}, batch sizes {:?}\n",
            net.engine, net.mode, net.timestep_count, net.batch_sizes
        );
        for (i, l) in net.layers.iter().enumerate() {
            s += &format!("  layer {i}: {}\n", serde_json::to_string(&l.to_json())?);
        }
        for w in warnings {
            s += &format!("warning: {}: {}\n", w.path, w.message);
        }
        return Ok(s);
    }
    let spec: GruSpec = serde_json::from_value(value).context("a GRU spec (input_size, hidden_size, ...)")?;
    spec.validate()?;
    Ok(describe_spec(&spec))
}

/// A safetensors file: a saved network, a lone GRU, the Keras layout or a state dict.
fn inspect_safetensors(path: &std::path::Path, prefix: Option<&str>) -> Result<String> {
    let file = SafetensorsFile::read(path)?;
    let options = Options::default();
    match Format::detect(&file) {
        Format::Gru => {
            let kind = model_json(&file)?.get("kind").and_then(|k| k.as_str().map(String::from));
            if kind.as_deref() == Some(convert::gru_file::KIND) {
                let w = convert::read(Format::Gru, path, &options)?;
                return Ok(format!("gru-layer file ({}):\n{}", w.dtype(), describe_spec(w.spec())));
            }
            Ok(match load_model(path)? {
                AnyNetwork::F32(n) => describe_network(&n),
                AnyNetwork::F64(n) => describe_network(&n),
            })
        }
        Format::Keras => {
            let w = convert::read(Format::Keras, path, &options)?;
            let version = file.metadata().get("keras_version").map(String::as_str).unwrap_or("?");
            Ok(format!(
                "Keras GRU weights (keras-gru layout, keras_version {version}, {}):\n{}",
                w.dtype(),
                describe_spec(w.spec())
            ))
        }
        Format::Onnx => unreachable!("Format::detect reads safetensors metadata only"),
        Format::Torch => {
            let prefixes = match prefix {
                Some(p) => vec![p.to_string()],
                None => torch::prefixes(&file),
            };
            if prefixes.is_empty() {
                anyhow::bail!(
                    "{}: no nn.GRU found (no tensor name ends in weight_ih_l0), and the file is no gru or keras-gru file",
                    path.display()
                );
            }
            let mut s = String::new();
            for p in prefixes {
                let mut o = options.clone();
                o.torch.prefix = p.clone();
                let w = convert::read(Format::Torch, path, &o)?;
                let bias = file.shape(&format!("{p}bias_ih_l0")).is_some();
                s += &format!(
                    "PyTorch state dict, prefix \"{p}\": {} ({}):\n{}",
                    torch::constructor(w.spec(), bias),
                    w.dtype(),
                    describe_spec(w.spec())
                );
            }
            Ok(s)
        }
    }
}

/// An ONNX model: its producer, opsets, graph inputs and outputs, ops, and the network our
/// exporter stored (its `gru.network` metadata) or else the GRU stack its GRU nodes hold.
fn inspect_onnx(path: &std::path::Path) -> Result<String> {
    let model = onnx::load(path)?;
    let opsets: Vec<String> = model
        .opset_import
        .iter()
        .map(|o| format!("{}{}", if o.domain.is_empty() { "ai.onnx" } else { &o.domain }, o.version))
        .collect();
    let mut s = format!(
        "ONNX model (IR version {}, opsets {}, producer {} {}):
",
        model.ir_version,
        opsets.join(", "),
        if model.producer_name.is_empty() { "?" } else { &model.producer_name },
        model.producer_version
    );
    if let Some(g) = &model.graph {
        let names = |v: &[onnx::proto::ValueInfoProto]| v.iter().map(|i| i.name.clone()).collect::<Vec<_>>().join(", ");
        s += &format!(
            "  inputs: {}
  outputs: {}
",
            names(&g.input),
            names(&g.output)
        );
        let ops: Vec<String> = g.node.iter().map(|n| format!("{} ({})", n.name, n.op_type)).collect();
        s += &format!(
            "  nodes: {}
",
            ops.join(", ")
        );
    }
    if onnx::is_network(&model) {
        s += &match onnx::network_dtype(&model, path)? {
            gru::DType::F32 => describe_network(&onnx::network_from_model::<f32>(&model, path)?),
            gru::DType::F64 => describe_network(&onnx::network_from_model::<f64>(&model, path)?),
        };
        return Ok(s);
    }
    let w = convert::read(Format::Onnx, path, &Options::default())?;
    s += &format!(
        "GRU nodes as one stack ({}):
{}",
        w.dtype(),
        describe_spec(w.spec())
    );
    Ok(s)
}

/// Options, per-block shapes and the parameter count of a GRU stack, from the spec alone
/// (nothing is allocated: a spec of 10⁹ hidden units is described, not built).
pub fn describe_spec(spec: &GruSpec) -> String {
    let h = spec.hidden_size;
    let mut out = format!(
        "GRU: input {} -> hidden {} x {} direction(s){}, depth {}, output {:?}\n\
         reset gate: {}, state activation: {:?}, gate activation: {:?}, clip: {:?}\n",
        spec.input_size,
        h,
        spec.directions(),
        if spec.reverse { " (reverse)" } else { "" },
        spec.depth,
        spec.output_mode,
        spec.reset_gate_mode.name(),
        spec.state_activation,
        spec.gate_activation,
        spec.clip,
    );
    let reg = &spec.regularization;
    if !reg.is_none() {
        let rates = [
            ("input dropout", reg.input_dropout),
            ("recurrent dropout", reg.recurrent_dropout),
            ("zoneout", reg.zoneout),
            ("weight drop", reg.weight_drop),
        ];
        let mut parts: Vec<String> = rates.iter().filter(|(_, p)| *p > 0.0).map(|(n, p)| format!("{n} {p}")).collect();
        if reg.layer_norm {
            parts.push("layer norm".into());
        }
        out += &format!("regularizers: {}; mask seed {}\n", parts.join(", "), reg.seed);
    }
    let norm = spec.norm_len();
    const SHOWN: usize = 16;
    let blocks = spec.num_blocks();
    for i in 0..blocks.min(SHOWN) {
        let (layer, dir) = (i / spec.directions(), i % spec.directions());
        out += &format!(
            "  layer {layer} {}: W {}x{}, R {}x{}, bias {}\n",
            if spec.sweeps_backward(dir) { "backward" } else { "forward" },
            3 * h as u128,
            spec.layer_input_size(layer),
            3 * h as u128,
            h,
            spec.reset_gate_mode.bias_len_checked(h).map_or("overflow".into(), |n| n.to_string())
        );
        if norm > 0 {
            // Layer norm's gains and biases: γ_x, β_x, γ_h, β_h, 3H each.
            out.pop();
            out += &format!(", layer norm {norm}\n");
        }
    }
    if blocks > SHOWN {
        out += &format!("  ... {} more blocks of the same shape\n", blocks - SHOWN);
    }
    match spec.parameter_count() {
        Some(n) => out + &format!("parameters: {n} ({} as f32)\n", gru::memory::human_bytes(4 * n as u128)),
        None => out + "parameters: more than this machine can count\n",
    }
}

/// The layers, GRU stacks, initialization, normalizations and classes of a network.
pub fn describe_network<T: Real>(net: &Network<T>) -> String {
    let mut s = format!("network ({}), {} learnable values\n", T::DTYPE, net.params_flat().len());
    let init = net.initialization();
    for (i, spec) in net.specs().iter().enumerate() {
        let mut json = serde_json::to_value(spec).unwrap_or_default();
        // The initializers of a layer array say what drew the weights only when the layers'
        // initializers did; otherwise the initialization line below says what did.
        if *init != Initialization::Layers {
            if let Some(o) = json.as_object_mut() {
                for key in ["input_weights_initializer", "recurrent_weights_initializer", "bias_initializer"] {
                    o.remove(key);
                }
            }
        }
        s += &format!("  {i}: {json}\n");
    }
    for (k, g) in net.gru_layers().enumerate() {
        if let Ok(spec) = g.spec() {
            s += &format!("GRU {k} (engine {}):\n", g.engine());
            for line in describe_spec(&spec).lines() {
                s += &format!("    {line}\n");
            }
        }
    }
    s += &format!("initialization: {}\n", init.describe(net.seed()));
    if let Some((mean, _)) = net.normalization() {
        s += &format!("input normalization: {} over {} channels\n", net.input_normalization(), mean.len());
    }
    if let Some(t) = net.target_normalization() {
        s += &format!("target normalization: {} over {} responses (undone at prediction)\n", t.kind, t.offset.len());
    }
    if !net.class_names().is_empty() {
        s += &format!("classes: {}\n", net.class_names().join(", "));
    }
    s
}
