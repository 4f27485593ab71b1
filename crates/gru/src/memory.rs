//! The memory budget: the bytes a network implies, computed from its layer array before
//! anything is allocated, so that an absurd size (`--hidden 1000000000`, `"Output Channels":
//! 1e9`, `"depth": 1000000`) is an [`Error::MemoryBudget`] naming the field, the value, the
//! bytes and the budget, not a process aborted by `memory allocation of N bytes failed`.
//!
//! One estimate, [`NetworkSize`], serves every way a network comes to be: a layer array in
//! Rust or JSON ([`Network::new`](crate::Network::new), hence model files and checkpoints), a
//! Korali experiment, a lone [`GruLayer`](crate::GruLayer) (its weights, when they are drawn).
//! Sizes are counted in `u128` with saturation: no product of sizes overflows.
//!
//! ```text
//! parameters  P = Σ GRU (dirs·(3H·(I + H) + bias) + (D-1)·dirs·(3H·(dirs·H + H) + bias) [+ D·dirs·H])
//!               (bias: 3H or 6H, plus 12H of layer-norm gains and biases with layer norm)
//!               + Σ fully connected (I·O + O)
//! building    P · size_of::<T>()
//! training    (P · (5 + k) + B · T · A) · size_of::<T>()      (an estimate)
//!               k: the optimizer's state tensors (Adam 2, SGDM and RMSProp 1); the 5: the
//!               parameters, their flat copy, the gradients, the engine's packed weights, the
//!               best parameters of validation
//!               A: the values kept per sequence step for the backward pass: per GRU layer
//!               and direction its input and 12·H (input projection, gates, states, their
//!               gradients), 24·H with recurrent dropout, zoneout or layer norm (their sweep
//!               keeps the normalized values and the recurrent gradients apart); per other
//!               layer twice its width
//! ```
//!
//! The budget ([`MemoryBudget`]) is by default the memory available now (`MemAvailable` of
//! `/proc/meminfo`, lowered to a cgroup's limit; [`MemoryBudget::FALLBACK`] where neither can
//! be read); a program may set another for the whole process
//! ([`MemoryBudget::set_process_default`]: `gru --memory-budget 64G`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::network::LayerSpec;
use crate::ResetGateMode;

/// Where a budget comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetSource {
    /// The memory available now (`MemAvailable`, or a cgroup's limit when lower).
    Available,
    /// [`MemoryBudget::FALLBACK`]: the available memory could not be read.
    Fallback,
    /// Given by the program or the user.
    Given,
}

/// How many bytes a network may need before it is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryBudget {
    pub bytes: u64,
    pub source: BudgetSource,
}

/// The process-wide budget set by [`MemoryBudget::set_process_default`]; 0: none.
static PROCESS_DEFAULT: AtomicU64 = AtomicU64::new(0);

impl MemoryBudget {
    /// The budget where the available memory cannot be read: 16 GiB.
    pub const FALLBACK: u64 = 16 << 30;

    /// A budget of `bytes`.
    pub fn given(bytes: u64) -> Self {
        Self { bytes, source: BudgetSource::Given }
    }

    /// The memory available now: `MemAvailable` of `/proc/meminfo`, lowered to the room left
    /// under a cgroup v2 limit (`memory.max - memory.current`); [`Self::FALLBACK`] elsewhere.
    pub fn available() -> Self {
        match available_bytes() {
            Some(bytes) => Self { bytes, source: BudgetSource::Available },
            None => Self { bytes: Self::FALLBACK, source: BudgetSource::Fallback },
        }
    }

    /// Sets the budget every later check of this process uses (`None`: the available memory
    /// again). For programs whose user raises the budget (`gru --memory-budget 64G`).
    pub fn set_process_default(bytes: Option<u64>) {
        PROCESS_DEFAULT.store(bytes.unwrap_or(0), Ordering::Relaxed);
    }

    /// The budget of this process: the one set by [`Self::set_process_default`], else
    /// [`Self::available`].
    pub fn current() -> Self {
        match PROCESS_DEFAULT.load(Ordering::Relaxed) {
            0 => Self::available(),
            bytes => Self::given(bytes),
        }
    }

    /// Parses a size: bytes (`123456789`) or a number with a binary unit `K`, `M`, `G`, `T`
    /// (`8G` = 8·2³⁰ bytes; `1.5G`, `512MiB` and `64gb` are read too).
    pub fn parse_bytes(text: &str) -> Result<u64> {
        let bad =
            || Error::property("memory budget", format!("{text:?}"), "expected bytes or a size like 512M, 8G, 1.5T");
        let t = text.trim();
        let digits = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (number, unit) = t.split_at(digits);
        let number: f64 = number.parse().map_err(|_| bad())?;
        let unit = unit.trim().to_ascii_uppercase();
        let shift = match unit.trim_end_matches('B').trim_end_matches('I') {
            "" => 0,
            "K" => 10,
            "M" => 20,
            "G" => 30,
            "T" => 40,
            "P" => 50,
            _ => return Err(bad()),
        };
        let bytes = number * (1u64 << shift) as f64;
        if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
            return Err(bad());
        }
        Ok(bytes as u64)
    }

    /// Refuses `bytes` beyond this budget: an [`Error::MemoryBudget`] saying that `field` =
    /// `value` needs `bytes` for `purpose`.
    pub fn check(&self, field: &str, value: impl fmt::Display, bytes: u128, purpose: &str) -> Result<()> {
        if bytes <= u128::from(self.bytes) {
            return Ok(());
        }
        Err(Error::MemoryBudget {
            field: field.into(),
            value: value.to_string(),
            purpose: purpose.into(),
            bytes: u64::try_from(bytes).unwrap_or(u64::MAX),
            budget: self.bytes,
            origin: self.source,
        })
    }
}

impl Default for MemoryBudget {
    /// [`MemoryBudget::current`].
    fn default() -> Self {
        Self::current()
    }
}

impl fmt::Display for BudgetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BudgetSource::Available => "the available memory",
            BudgetSource::Fallback => "assumed: the available memory could not be read",
            BudgetSource::Given => "given",
        })
    }
}

/// `MemAvailable` (bytes), lowered to a cgroup v2 limit's headroom.
fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let mut bytes = kib.saturating_mul(1024);
    let read = |name: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{name}")).ok()?.trim().parse::<u64>().ok();
    if let (Some(max), Some(current)) = (read("memory.max"), read("memory.current")) {
        bytes = bytes.min(max.saturating_sub(current));
    }
    Some(bytes)
}

/// `n` bytes for people: `512 B`, `1.5 KiB`, `12.0 GiB`, ... `EiB`, then powers of two.
pub fn human_bytes(n: u128) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    for unit in &UNITS[1..] {
        v /= 1024.0;
        if v < 1024.0 {
            return format!("{v:.1} {unit}");
        }
    }
    format!("2^{:.1} B", (n as f64).log2())
}

/// A layer's field whose value makes the network large (for the error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeField {
    /// The index of the layer in its array.
    pub layer: usize,
    /// `num_hidden_units`, `depth`, `output_size`, `input_size`.
    pub field: &'static str,
    pub value: usize,
}

/// One layer's share: its learnable values and the values it keeps per sequence step in
/// training, and the fields its size grows with, each with the learnable values the layer
/// would have were that field 1.
#[derive(Clone, Debug, PartialEq)]
struct LayerSize {
    params: u128,
    per_step: u128,
    causes: Vec<(SizeField, u128)>,
}

/// The size a layer array implies (see the module's formulas), before it is built.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSize {
    layers: Vec<LayerSize>,
}

fn mul(a: u128, b: u128) -> u128 {
    a.saturating_mul(b)
}

/// Learnable values of a GRU stack reading `input` channels.
fn gru_params(h: u128, input: u128, depth: u128, dirs: u128, bias_per_h: u128, initial_state: bool) -> u128 {
    let block = |inp: u128| mul(mul(3, h), inp.saturating_add(h)).saturating_add(mul(bias_per_h, h));
    let first = mul(dirs, block(input));
    let rest = mul(mul(depth.saturating_sub(1), dirs), block(mul(dirs, h)));
    let state = if initial_state { mul(mul(depth, dirs), h) } else { 0 };
    first.saturating_add(rest).saturating_add(state)
}

impl NetworkSize {
    /// The size of `specs` (a layer array starting with its sequence input). Layers that
    /// [`Network::new`](crate::Network::new) would refuse count as they are written.
    pub fn of(specs: &[LayerSpec]) -> Self {
        let mut layers = Vec::with_capacity(specs.len());
        let (mut width, mut source) = (0u128, None::<SizeField>);
        for (i, spec) in specs.iter().enumerate() {
            let field = |field, value| SizeField { layer: i, field, value };
            let layer = match spec {
                LayerSpec::SequenceInput { input_size, .. } => {
                    width = *input_size as u128;
                    source = Some(field("input_size", *input_size));
                    LayerSize { params: 0, per_step: mul(2, width), causes: Vec::new() }
                }
                LayerSpec::Gru(g) => {
                    let s = &g.spec;
                    let (h, d, dirs) = (s.hidden_size as u128, s.depth as u128, s.directions() as u128);
                    let bias = if s.reset_gate_mode == ResetGateMode::RecurrentBiasAfterMultiplication { 6 } else { 3 }
                        + if s.regularization.layer_norm { 12 } else { 0 };
                    let lis = g.learnable_initial_state;
                    let params = gru_params(h, width, d, dirs, bias, lis);
                    let mut causes =
                        vec![(field("num_hidden_units", s.hidden_size), gru_params(1, width, d, dirs, bias, lis))];
                    if s.depth > 1 {
                        causes.push((field("depth", s.depth), gru_params(h, width, 1, dirs, bias, lis)));
                    }
                    if let Some(src) = source {
                        causes.push((src, gru_params(h, 1, d, dirs, bias, lis)));
                    }
                    // Per layer and direction: its input and 12·H, or 24·H with a regularized
                    // sweep (see the module's formulas).
                    let r = &s.regularization;
                    let kept = if r.recurrent_dropout > 0.0 || r.zoneout > 0.0 || r.layer_norm { 24 } else { 12 };
                    let per_block = |inp: u128| mul(dirs, inp.saturating_add(mul(kept, h)));
                    let per_step = per_block(width).saturating_add(mul(d.saturating_sub(1), per_block(mul(dirs, h))));
                    width = mul(dirs, h);
                    source = Some(field("num_hidden_units", s.hidden_size));
                    LayerSize { params, per_step, causes }
                }
                LayerSpec::FullyConnected { output_size } => {
                    let o = *output_size as u128;
                    let params = mul(width, o).saturating_add(o);
                    let mut causes = vec![(field("output_size", *output_size), width.saturating_add(1))];
                    if let Some(src) = source {
                        causes.push((src, mul(2, o)));
                    }
                    let per_step = mul(2, width.saturating_add(o));
                    width = o;
                    source = Some(field("output_size", *output_size));
                    LayerSize { params, per_step, causes }
                }
                _ => LayerSize { params: 0, per_step: mul(2, width), causes: Vec::new() },
            };
            layers.push(layer);
        }
        Self { layers }
    }

    /// Learnable values of the whole array.
    pub fn params(&self) -> u128 {
        self.layers.iter().fold(0u128, |a, l| a.saturating_add(l.params))
    }

    /// Values kept per sequence step in training (the `A` of the module's formulas).
    pub fn values_per_step(&self) -> u128 {
        self.layers.iter().fold(0u128, |a, l| a.saturating_add(l.per_step))
    }

    /// The bytes of training on `batch` sequences of up to `steps` steps in a `T` of
    /// `dtype_bytes` bytes, with an optimizer of `optimizer_states` state tensors.
    pub fn training_bytes(&self, dtype_bytes: usize, batch: usize, steps: usize, optimizer_states: usize) -> u128 {
        let weights = mul(self.params(), 5u128.saturating_add(optimizer_states as u128));
        let activations = mul(mul(batch as u128, steps as u128), self.values_per_step());
        mul(weights.saturating_add(activations), dtype_bytes as u128)
    }

    /// The field of the largest layer whose value, were it 1, would shrink that layer the most.
    pub fn largest_field(&self) -> Option<SizeField> {
        let layer = self.layers.iter().filter(|l| !l.causes.is_empty()).max_by_key(|l| l.params)?;
        layer.causes.iter().min_by_key(|(_, rest)| *rest).map(|(f, _)| *f)
    }

    /// Refuses an array whose parameters (`dtype_bytes` each) do not fit `budget`; the error
    /// names the field of [`Self::largest_field`], as `name(layer, field)` spells it.
    pub fn check_params(
        &self,
        dtype_bytes: usize,
        budget: &MemoryBudget,
        name: &dyn Fn(usize, &str) -> String,
    ) -> Result<()> {
        let bytes = mul(self.params(), dtype_bytes as u128);
        if bytes <= u128::from(budget.bytes) {
            return Ok(());
        }
        let purpose = format!("{} parameters", self.params());
        match self.largest_field() {
            Some(f) => budget.check(&name(f.layer, f.field), f.value, bytes, &purpose),
            None => budget.check("layers", self.layers.len(), bytes, &purpose),
        }
    }

    /// Refuses training that does not fit `budget` ([`Self::training_bytes`]): when the
    /// activations of a batch outweigh the parameters, the error names `batch_field` (with
    /// the batch and the steps), else the field of [`Self::largest_field`].
    #[allow(clippy::too_many_arguments)]
    pub fn check_training(
        &self,
        dtype_bytes: usize,
        batch: usize,
        steps: usize,
        optimizer_states: usize,
        budget: &MemoryBudget,
        batch_field: &str,
        name: &dyn Fn(usize, &str) -> String,
    ) -> Result<()> {
        let bytes = self.training_bytes(dtype_bytes, batch, steps, optimizer_states);
        if bytes <= u128::from(budget.bytes) {
            return Ok(());
        }
        let activations = mul(mul(batch as u128, steps as u128), self.values_per_step());
        let weights = mul(self.params(), 5u128.saturating_add(optimizer_states as u128));
        let purpose = "training (parameters, gradients, optimizer state and the activations of a batch)";
        match self.largest_field() {
            Some(f) if weights >= activations => budget.check(&name(f.layer, f.field), f.value, bytes, purpose),
            _ => budget.check(batch_field, format!("{batch} (sequences of up to {steps} steps)"), bytes, purpose),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers;
    use crate::network::{classification, fully_connected, gru, regression, sequence_input, softmax};
    use gru_core::GruSpec;

    #[test]
    fn params_match_the_built_network() {
        let specs = layers![
            sequence_input(3),
            gru(5).depth(2).bidirectional(true),
            gru(4).reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication).learnable_initial_state(true),
            fully_connected(2),
            softmax(),
            classification()
        ];
        let net = crate::Network::<f32>::new(specs.clone(), 0).unwrap();
        assert_eq!(NetworkSize::of(&specs).params(), net.params_flat().len() as u128);
        let spec = GruSpec::new(3, 5).with_depth(2).with_bidirectional(true);
        let one = layers![sequence_input(3), gru(5).depth(2).bidirectional(true), regression()];
        let one = NetworkSize::of(&one);
        assert_eq!(one.params(), spec.parameter_count().unwrap() as u128);
    }

    #[test]
    fn the_error_names_the_field_that_makes_the_network_large() {
        let budget = MemoryBudget::given(1 << 30);
        let name = |i: usize, f: &str| format!("layers[{i}].{f}");
        let cases = [
            (
                layers![sequence_input(3), gru(1_000_000_000), fully_connected(2), regression()],
                "layers[1].num_hidden_units",
            ),
            (layers![sequence_input(3), gru(64).depth(1_000_000), fully_connected(2), regression()], "layers[1].depth"),
            (layers![sequence_input(3), gru(8), fully_connected(1_000_000_000), regression()], "layers[2].output_size"),
            (layers![sequence_input(1_000_000_000), gru(64), fully_connected(2), regression()], "layers[0].input_size"),
            (
                layers![sequence_input(3), gru(usize::MAX), fully_connected(2), regression()],
                "layers[1].num_hidden_units",
            ),
        ];
        for (specs, field) in cases {
            let size = NetworkSize::of(&specs);
            let err = size.check_params(4, &budget, &name).unwrap_err();
            let Error::MemoryBudget { field: got, bytes, budget: b, .. } = &err else { panic!("{err}") };
            assert_eq!((got.as_str(), *b), (field, 1 << 30), "{err}");
            assert_eq!(u128::from(*bytes), size.params().saturating_mul(4).min(u128::from(u64::MAX)));
            let text = err.to_string();
            assert!(text.contains(field) && text.contains("1.0 GiB") && text.contains("given"), "{text}");
        }
        let small = layers![sequence_input(3), gru(64), fully_connected(2), regression()];
        let small = NetworkSize::of(&small);
        assert!(small.check_params(8, &budget, &name).is_ok());
        // Long sequences in big batches: the batch is named.
        let err = small.check_training(4, 100_000, 100_000, 2, &budget, "MiniBatchSize", &name).unwrap_err();
        assert!(err.to_string().contains("MiniBatchSize = 100000 (sequences of up to 100000 steps)"), "{err}");
        assert!(small.check_training(4, 32, 100, 2, &budget, "MiniBatchSize", &name).is_ok());
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        for (text, bytes) in
            [("123", 123), ("8G", 8 << 30), ("512M", 512 << 20), ("1.5k", 1536), ("64GiB", 64 << 30), ("2tb", 2 << 40)]
        {
            assert_eq!(MemoryBudget::parse_bytes(text).unwrap(), bytes, "{text}");
        }
        for bad in ["", "G", "8X", "-1", "0", "1e999", "0.1"] {
            let err = MemoryBudget::parse_bytes(bad).unwrap_err();
            assert!(err.to_string().contains("memory budget"), "{bad}: {err}");
        }
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }

    #[test]
    fn the_available_memory_is_read_on_linux() {
        let b = MemoryBudget::available();
        if cfg!(target_os = "linux") {
            assert_eq!(b.source, BudgetSource::Available);
            assert!(b.bytes > 0);
        }
    }
}
