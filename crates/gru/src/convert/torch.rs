//! PyTorch `nn.GRU` state dicts, stored as safetensors.
//!
//! # Keys and shapes (k: layer, `_reverse`: the backward direction)
//! ```text
//! {prefix}weight_ih_l{k}[_reverse]   [3H, I_k]  = W    rows (W_ir | W_iz | W_in): gates r, z, n
//! {prefix}weight_hh_l{k}[_reverse]   [3H, H]    = R    rows (W_hr | W_hz | W_hn)
//! {prefix}bias_ih_l{k}[_reverse]     [3H]       = [b_r b_z b_n]       (absent when bias=False)
//! {prefix}bias_hh_l{k}[_reverse]     [3H]       = [b'_r b'_z b'_n]    (absent when bias=False)
//! ```
//! `I_0 = I`, `I_k = dirs·H` above. `nn.GRU` computes
//! `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`: our recurrent-bias-after mode with the
//! 6H bias `[bias_ih | bias_hh]`, tanh and sigmoid. Gate order r, z, n is ours, so every
//! block is copied as it is (still through `gate_block`, so the order is written down once).
//!
//! Reading infers depth, directions, H, I and bias from the keys and shapes under the
//! prefix (`rnn.` for a `model.rnn = nn.GRU(...)`); keys outside the prefix are ignored, so
//! a whole model's state dict can be read. A missing tensor, a shape that does not fit the
//! others, a key under the prefix that is not an `nn.GRU` key and a prefix no key has are
//! [`Error::File`]s naming the tensor (and the prefixes where GRU tensors were found).
//! `bias=False` reads as zero biases.
//!
//! Writing: recurrent-bias-after as it is; after-multiplication
//! (`n = σ(W_n x + b_n + r ⊙ (R_n h))`) as recurrent-bias-after with `bias_hh` zero.
//! Before-multiplication, softsign, hard-sigmoid and clip have no `nn.GRU` equivalent: an
//! [`Error::NotRepresentable`] naming the option. `nn.GRU` has no output mode (it always
//! returns the sequence and `h_n`): the spec's output mode is not stored. The header's
//! metadata is `{"format": "pt"}`, as `safetensors.torch` writes it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gru_core::{DType, Gate, GateActivation, GruParams, GruSpec, Real, ResetGateMode, StateActivation};

use super::{gates_from_canonical, gates_to_canonical, take, tensor_dtype, GruWeights};
use crate::error::{Error, Result};
use crate::io::{self as checkpoint, NamedTensor, SafetensorsFile};

/// The target named in [`Error::NotRepresentable`].
pub const TARGET: &str = "PyTorch nn.GRU";

/// Options of the PyTorch format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchOptions {
    /// Prepended to every key: `"rnn."` for an `nn.GRU` at `model.rnn`; `""` (default) for
    /// the state dict of the `nn.GRU` itself.
    pub prefix: String,
    /// Writing: bias tensors (`nn.GRU(bias=True)`, the default). `false` writes a
    /// `bias=False` state dict and refuses parameters with a nonzero bias.
    pub bias: bool,
}

impl Default for TorchOptions {
    fn default() -> Self {
        Self { prefix: String::new(), bias: true }
    }
}

/// Where canonical gate `g` sits among PyTorch's three row blocks: the same place.
fn gate_block(g: Gate) -> usize {
    match g {
        Gate::Reset => 0,
        Gate::Update => 1,
        Gate::Candidate => 2,
    }
}

/// The four tensor kinds of a layer and direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    WeightIh,
    WeightHh,
    BiasIh,
    BiasHh,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::WeightIh, Kind::WeightHh, Kind::BiasIh, Kind::BiasHh];

    fn stem(self) -> &'static str {
        match self {
            Kind::WeightIh => "weight_ih",
            Kind::WeightHh => "weight_hh",
            Kind::BiasIh => "bias_ih",
            Kind::BiasHh => "bias_hh",
        }
    }
}

/// `{prefix}{stem}_l{layer}[_reverse]`.
fn key(prefix: &str, kind: Kind, layer: usize, dir: usize) -> String {
    format!("{prefix}{}_l{layer}{}", kind.stem(), if dir == 1 { "_reverse" } else { "" })
}

/// Parses a key without its prefix: `weight_ih_l0_reverse` -> (WeightIh, 0, 1).
fn parse_key(rest: &str) -> Option<(Kind, usize, usize)> {
    let (rest, dir) = match rest.strip_suffix("_reverse") {
        Some(r) => (r, 1),
        None => (rest, 0),
    };
    Kind::ALL.into_iter().find_map(|kind| {
        let digits = rest.strip_prefix(kind.stem())?.strip_prefix("_l")?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return None;
        }
        Some((kind, digits.parse().ok()?, dir))
    })
}

/// The prefixes under which `file` holds an `nn.GRU` (keys ending in `weight_ih_l0`), sorted.
pub fn prefixes(file: &SafetensorsFile) -> Vec<String> {
    file.names().filter_map(|n| n.strip_suffix("weight_ih_l0")).map(String::from).collect()
}

/// " (nn.GRU tensors were found under the prefix \"rnn.\")", or "" when none were.
fn found_hint(file: &SafetensorsFile, prefix: &str) -> String {
    let found: Vec<String> = prefixes(file).into_iter().filter(|p| p != prefix).map(|p| format!("\"{p}\"")).collect();
    match found.len() {
        0 => String::new(),
        1 => format!(" (nn.GRU tensors were found under the prefix {}; pass it as the prefix)", found[0]),
        _ => format!(" (nn.GRU tensors were found under the prefixes {}; pass one as the prefix)", found.join(", ")),
    }
}

/// What the keys and shapes under a prefix say about the `nn.GRU`.
#[derive(Clone, Debug, PartialEq)]
struct Layout {
    input: usize,
    hidden: usize,
    depth: usize,
    bidirectional: bool,
    bias: bool,
}

/// Infers the layout from the keys and the shapes of layer 0, then checks every tensor's
/// presence and shape.
fn layout(file: &SafetensorsFile, prefix: &str) -> Result<Layout> {
    let err = |reason: String| Error::file(file.path(), reason);
    let mut present = BTreeMap::new();
    for name in file.names() {
        let Some(rest) = name.strip_prefix(prefix) else { continue };
        let Some((kind, layer, dir)) = parse_key(rest) else {
            return Err(err(format!(
                "tensor {name} is not part of an nn.GRU state dict (under the prefix \"{prefix}\" only \
                 weight_ih_l{{k}}, weight_hh_l{{k}}, bias_ih_l{{k}}, bias_hh_l{{k}} and their _reverse \
                 forms may appear){}",
                found_hint(file, prefix)
            )));
        };
        present.insert((layer, dir, kind), name.to_string());
    }
    if present.is_empty() {
        return Err(err(format!("no tensor name starts with the prefix \"{prefix}\"{}", found_hint(file, prefix))));
    }
    // The layers must be 0..D without a gap (a crafted `_l99999999` names a missing layer
    // instead of making us walk to it).
    let layers: std::collections::BTreeSet<usize> = present.keys().map(|&(l, _, _)| l).collect();
    let depth = layers.len();
    if let Some(gap) = (0..depth).find(|l| !layers.contains(l)) {
        let name = key(prefix, Kind::WeightIh, gap, 0);
        return Err(err(format!(
            "tensor {name} is missing (layers 0 to {} are expected)",
            layers.last().unwrap_or(&0)
        )));
    }
    let bidirectional = present.keys().any(|&(_, d, _)| d == 1);
    let bias = present.keys().any(|&(_, _, k)| matches!(k, Kind::BiasIh | Kind::BiasHh));

    let shape_of = |kind: Kind, expected: &str| -> Result<&[usize]> {
        let name = key(prefix, kind, 0, 0);
        file.shape(&name).ok_or_else(|| err(format!("tensor {name} (expected shape {expected}) is missing")))
    };
    let hh = shape_of(Kind::WeightHh, "[3H, H]")?;
    let hidden = match *hh {
        [rows, h] if h > 0 && Some(rows) == h.checked_mul(3) => h,
        _ => {
            return Err(err(format!("tensor {} has shape {hh:?}, expected [3H, H]", key(prefix, Kind::WeightHh, 0, 0))))
        }
    };
    let ih = shape_of(Kind::WeightIh, &format!("[{}, I]", 3 * hidden))?;
    let input = match *ih {
        [rows, i] if i > 0 && rows == 3 * hidden => i,
        _ => {
            return Err(err(format!(
                "tensor {} has shape {ih:?}, expected [{}, I] (3H, input size; H = {hidden} from {})",
                key(prefix, Kind::WeightIh, 0, 0),
                3 * hidden,
                key(prefix, Kind::WeightHh, 0, 0)
            )))
        }
    };
    let layout = Layout { input, hidden, depth, bidirectional, bias };
    for (layer, dir, kind) in expected_tensors(&layout) {
        let name = key(prefix, kind, layer, dir);
        let shape = expected_shape(&layout, layer, kind);
        match file.shape(&name) {
            None => return Err(err(format!("tensor {name} (expected shape {shape:?}) is missing"))),
            Some(s) if s != shape.as_slice() => {
                return Err(err(format!("tensor {name} has shape {s:?}, expected {shape:?}")));
            }
            Some(_) => {}
        }
    }
    Ok(layout)
}

/// Every (layer, dir, kind) a state dict of this layout holds, in block order.
fn expected_tensors(l: &Layout) -> Vec<(usize, usize, Kind)> {
    let kinds: &[Kind] = if l.bias { &Kind::ALL } else { &Kind::ALL[..2] };
    let dirs = if l.bidirectional { 2 } else { 1 };
    (0..l.depth).flat_map(|layer| (0..dirs).flat_map(move |dir| kinds.iter().map(move |&k| (layer, dir, k)))).collect()
}

fn expected_shape(l: &Layout, layer: usize, kind: Kind) -> Vec<usize> {
    let inputs = if layer == 0 { l.input } else { (1 + usize::from(l.bidirectional)) * l.hidden };
    match kind {
        Kind::WeightIh => vec![3 * l.hidden, inputs],
        Kind::WeightHh => vec![3 * l.hidden, l.hidden],
        Kind::BiasIh | Kind::BiasHh => vec![3 * l.hidden],
    }
}

/// The element type of the `nn.GRU` under `options.prefix` (after checking its layout).
pub(crate) fn file_dtype(file: &SafetensorsFile, options: &TorchOptions) -> Result<DType> {
    layout(file, &options.prefix)?;
    tensor_dtype(file, &key(&options.prefix, Kind::WeightIh, 0, 0))
}

/// Reads the `nn.GRU` state dict under `options.prefix` in `path` as `T`.
pub fn read<T: Real>(path: &Path, options: &TorchOptions) -> Result<GruWeights<T>> {
    from_file(&SafetensorsFile::read(path)?, options)
}

/// Reads the `nn.GRU` state dict under `options.prefix` in `file` as `T`.
pub fn from_file<T: Real>(file: &SafetensorsFile, options: &TorchOptions) -> Result<GruWeights<T>> {
    let p = options.prefix.as_str();
    let l = layout(file, p)?;
    let spec = GruSpec::new(l.input, l.hidden)
        .with_depth(l.depth)
        .with_bidirectional(l.bidirectional)
        .with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication);
    spec.validate()?;
    let h = l.hidden;
    let dirs = spec.directions();
    let mut params = GruParams::<T>::zeros(&spec);
    for (i, block) in params.blocks_mut().iter_mut().enumerate() {
        let (layer, dir) = (i / dirs, i % dirs);
        let inputs = block.input_size();
        let w = take::<T>(file, &key(p, Kind::WeightIh, layer, dir), &[3 * h, inputs])?;
        block.w_mut().copy_from_slice(&gates_to_canonical(&w, h, inputs, gate_block));
        let r = take::<T>(file, &key(p, Kind::WeightHh, layer, dir), &[3 * h, h])?;
        block.r_mut().copy_from_slice(&gates_to_canonical(&r, h, h, gate_block));
        if l.bias {
            let b_ih =
                gates_to_canonical(&take::<T>(file, &key(p, Kind::BiasIh, layer, dir), &[3 * h])?, h, 1, gate_block);
            let b_hh =
                gates_to_canonical(&take::<T>(file, &key(p, Kind::BiasHh, layer, dir), &[3 * h])?, h, 1, gate_block);
            for g in Gate::ALL {
                block.input_bias_mut(g).copy_from_slice(&b_ih[g.rows(h)]);
                if let Some(b) = block.recurrent_bias_mut(g) {
                    b.copy_from_slice(&b_hh[g.rows(h)]);
                }
            }
        }
    }
    GruWeights::new(spec, params)
}

/// Refuses every option `nn.GRU` has no equivalent for, naming it.
pub fn check_exportable(spec: &GruSpec) -> Result<()> {
    if spec.reset_gate_mode == ResetGateMode::BeforeMultiplication {
        return Err(Error::not_representable(
            TARGET,
            "reset_gate_mode",
            spec.reset_gate_mode.name(),
            "nn.GRU applies the reset gate after the recurrent product, r ⊙ (W_hn h + b_hn)",
        ));
    }
    if spec.state_activation != StateActivation::Tanh {
        return Err(Error::not_representable(
            TARGET,
            "state_activation",
            "softsign",
            "nn.GRU's candidate activation is always tanh",
        ));
    }
    if let GateActivation::HardSigmoid { alpha, beta } = spec.gate_activation {
        return Err(Error::not_representable(
            TARGET,
            "gate_activation",
            format!("hard-sigmoid (alpha {alpha}, beta {beta})"),
            "nn.GRU's gates are always sigmoid",
        ));
    }
    if let Some(c) = spec.clip {
        return Err(Error::not_representable(TARGET, "clip", c, "nn.GRU does not clip its pre-activations"));
    }
    if spec.reverse {
        return Err(Error::not_representable(
            TARGET,
            "reverse",
            true,
            "nn.GRU runs forward, or both ways (bidirectional=True); it has no reverse-only GRU",
        ));
    }
    super::check_plain_inference(TARGET, spec)
}

/// The state dict of `weights` (keys with `options.prefix`), or [`Error::NotRepresentable`].
pub fn to_tensors<T: Real>(weights: &GruWeights<T>, options: &TorchOptions) -> Result<Vec<NamedTensor>> {
    let spec = &weights.spec;
    check_exportable(spec)?;
    weights.params.check(spec)?;
    let (h, dirs, p) = (spec.hidden_size, spec.directions(), options.prefix.as_str());
    let mut tensors = Vec::new();
    for (i, block) in weights.params.blocks().iter().enumerate() {
        let (layer, dir) = (i / dirs, i % dirs);
        let inputs = block.input_size();
        let w = gates_from_canonical(block.w(), h, inputs, gate_block);
        tensors.push(NamedTensor::new(key(p, Kind::WeightIh, layer, dir), vec![3 * h, inputs], w));
        let r = gates_from_canonical(block.r(), h, h, gate_block);
        tensors.push(NamedTensor::new(key(p, Kind::WeightHh, layer, dir), vec![3 * h, h], r));
        // after-multiplication has no b'_n: bias_hh stays zero.
        let mut b_ih = vec![T::zero(); 3 * h];
        let mut b_hh = vec![T::zero(); 3 * h];
        for g in Gate::ALL {
            b_ih[g.rows(h)].copy_from_slice(block.input_bias(g));
            if let Some(b) = block.recurrent_bias(g) {
                b_hh[g.rows(h)].copy_from_slice(b);
            }
        }
        if options.bias {
            tensors.push(NamedTensor::new(
                key(p, Kind::BiasIh, layer, dir),
                vec![3 * h],
                gates_from_canonical(&b_ih, h, 1, gate_block),
            ));
            tensors.push(NamedTensor::new(
                key(p, Kind::BiasHh, layer, dir),
                vec![3 * h],
                gates_from_canonical(&b_hh, h, 1, gate_block),
            ));
        } else if b_ih.iter().chain(&b_hh).any(|v| *v != T::zero()) {
            return Err(Error::not_representable(
                "PyTorch nn.GRU(bias=False)",
                "bias",
                format!("nonzero in layer {layer} {}", super::direction_name(dir)),
                "bias=False has no biases; export with biases instead",
            ));
        }
    }
    Ok(tensors)
}

/// Writes `weights` as an `nn.GRU` state dict (atomically), or refuses what `nn.GRU` cannot
/// represent before writing anything.
pub fn write<T: Real>(path: &Path, weights: &GruWeights<T>, options: &TorchOptions) -> Result<()> {
    let tensors = to_tensors(weights, options)?;
    checkpoint::save_tensors(path, &tensors, HashMap::from([("format".to_string(), "pt".to_string())]))
}

/// The `nn.GRU(...)` call that builds a module these weights load into (strictly).
pub fn constructor(spec: &GruSpec, bias: bool) -> String {
    let mut s = format!("nn.GRU({}, {}", spec.input_size, spec.hidden_size);
    if spec.depth != 1 {
        s += &format!(", num_layers={}", spec.depth);
    }
    if !bias {
        s += ", bias=False";
    }
    if spec.bidirectional {
        s += ", bidirectional=True";
    }
    s + ")"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_print() {
        assert_eq!(parse_key("weight_ih_l0"), Some((Kind::WeightIh, 0, 0)));
        assert_eq!(parse_key("bias_hh_l12_reverse"), Some((Kind::BiasHh, 12, 1)));
        for bad in ["weight_ih_l", "weight_ih_l01", "weight_ih_lx", "weight_ih", "bias_l0", "weight_ih_l0_rev", ""] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
        assert_eq!(key("rnn.", Kind::WeightHh, 1, 1), "rnn.weight_hh_l1_reverse");
        assert_eq!(key("", Kind::BiasIh, 0, 0), "bias_ih_l0");
    }

    #[test]
    fn refused_options_name_the_option() {
        let base = GruSpec::new(2, 3);
        let cases = [
            (base.clone().with_reset_gate_mode(ResetGateMode::BeforeMultiplication), "reset_gate_mode"),
            (base.clone().with_state_activation(StateActivation::Softsign), "state_activation"),
            (base.clone().with_gate_activation(GateActivation::HARD_SIGMOID), "gate_activation"),
            (base.clone().with_clip(Some(3.0)), "clip"),
            (base.clone().with_reverse(true), "reverse"),
        ];
        for (spec, option) in cases {
            match check_exportable(&spec) {
                Err(Error::NotRepresentable { option: o, target, .. }) => {
                    assert_eq!((o.as_str(), target.as_str()), (option, TARGET))
                }
                other => panic!("{option}: {other:?}"),
            }
        }
        check_exportable(&base).unwrap();
        check_exportable(&base.with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication)).unwrap();
    }

    #[test]
    fn after_multiplication_exports_with_zero_recurrent_bias() {
        let spec = GruSpec::new(2, 3);
        let mut params = GruParams::<f32>::zeros(&spec);
        let flat: Vec<f32> = (0..params.num_params()).map(|i| i as f32 + 1.0).collect();
        params.set_flat(&flat).unwrap();
        let w = GruWeights::new(spec.clone(), params.clone()).unwrap();
        let t = to_tensors(&w, &TorchOptions::default()).unwrap();
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]);
        assert_eq!(t[2].data, crate::io::TensorData::F32(params.blocks()[0].bias().to_vec()));
        assert_eq!(t[3].data, crate::io::TensorData::F32(vec![0.0; 9]));
        let err = to_tensors(&w, &TorchOptions { bias: false, ..Default::default() }).unwrap_err();
        assert!(matches!(err, Error::NotRepresentable { ref option, .. } if option == "bias"), "{err}");
        assert_eq!(
            constructor(&spec.with_depth(2).with_bidirectional(true), false),
            "nn.GRU(2, 3, num_layers=2, bias=False, bidirectional=True)"
        );
    }
}
