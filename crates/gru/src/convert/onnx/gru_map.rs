//! The one mapping between ONNX's `GRU` node and our canonical GRU: its weights (gate
//! blocks and biases) and its attributes (<-> [`GruSpec`]). The stack importer
//! ([`super::import`]), the network reader ([`super::network`]) and the runtime's GRU op
//! ([`super::runtime::gru_op`]) read nodes through it, the exporter ([`super::export`])
//! writes them through its inverses. A value the runtime refuses is refused here, by
//! [`GruAttrs::parse`] or [`Shape::check`], so the importer refuses it with the same reason;
//! what the runtime runs but a [`GruSpec`] cannot hold is refused by [`GruAttrs::layer_spec`]
//! ([`Error::NotRepresentable`]).
//!
//! ```text
//! W [dirs, 3H, I]   onnx interface: rows z | r | h      ours, per direction: 3H×I row-major, rows r | z | n
//! R [dirs, 3H, H]   onnx interface: rows z | r | h      ours, per direction: 3H×H row-major, rows r | z | n
//! B [dirs, 6H]      onnx interface: [Wb_z Wb_r Wb_h | Rb_z Rb_r Rb_h]   (absent: zero)
//!
//! z = f(X Wzᵀ + H Rzᵀ + Wbz + Rbz)     r = f(X Wrᵀ + H Rrᵀ + Wbr + Rbr)
//! linear_before_reset = 0:  h = g(X Whᵀ + (r ⊙ H) Rhᵀ + Rbh + Wbh)
//!     ours: before-multiplication, bias 3H: b = Wb + Rb
//! linear_before_reset = 1:  h = g(X Whᵀ + r ⊙ (H Rhᵀ + Rbh) + Wbh)
//!     ours: recurrent-bias-after, bias 6H: [b | b'] = [Wb | Rb]
//!     (after-multiplication when every Rb is zero: what our exporter writes for it)
//! H' = (1 - z) ⊙ h + z ⊙ H
//! ```
//!
//! | attribute | read | our spec |
//! | --- | --- | --- |
//! | `hidden_size` | equal to R's H (absent: R's) | `hidden_size` |
//! | `direction` | forward, reverse, bidirectional | `bidirectional` false / true; reverse: `reverse` true |
//! | `layout` | 0 (`X [T, B, I]`), 1 (`X [B, T, I]`) | nothing: an input format, the same weights |
//! | `linear_before_reset` | 0, 1 | the reset-gate mode (above) |
//! | `activations` | `[f, g]` per direction, f Sigmoid or HardSigmoid, g Tanh or Softsign (any case) | gate / state activation: one for all directions (different ones: not representable) |
//! | `activation_alpha`, `activation_beta` | consumed in order by the activations that take them | HardSigmoid's alpha, beta (defaults 0.2, 0.5) |
//! | `clip` | finite, > 0 | `clip` |

use gru_core::{BlockParams, Gate, GateActivation, GruSpec, Real, ResetGateMode, StateActivation};

use super::attrs::Attrs;
use super::proto::{AttributeProto, NodeProto};
use super::tensor::{attr_float, attr_floats, attr_int, attr_string, attr_strings};
use super::TARGET_IN;
use crate::convert::{gates_from_canonical, gates_to_canonical};
use crate::error::Error;

/// The attributes of ONNX's `GRU` (any other is refused).
pub(crate) const ATTRIBUTES: [&str; 8] = [
    "activation_alpha",
    "activation_beta",
    "activations",
    "clip",
    "direction",
    "hidden_size",
    "layout",
    "linear_before_reset",
];

/// One direction's weights in our layout: `(W 3H×I, R 3H×H, bias 3H or 6H)`, rows r | z | n.
pub(crate) type Block<T> = (Vec<T>, Vec<T>, Vec<T>);

/// Where canonical gate `g` sits among ONNX's three row blocks (z, r, h).
pub(crate) fn onnx_gate_block(g: Gate) -> usize {
    match g {
        Gate::Update => 0,
        Gate::Reset => 1,
        Gate::Candidate => 2,
    }
}

/// ONNX's `direction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Forward,
    Reverse,
    Bidirectional,
}

impl Direction {
    fn parse(name: &str) -> Result<Self, String> {
        match name {
            "forward" => Ok(Self::Forward),
            "reverse" => Ok(Self::Reverse),
            "bidirectional" => Ok(Self::Bidirectional),
            other => Err(format!("direction {other:?} is not forward, reverse or bidirectional")),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Forward => "forward",
            Self::Reverse => "reverse",
            Self::Bidirectional => "bidirectional",
        }
    }

    /// Per direction, in ONNX's order (`dirs` axis of W, R, B, Y): whether it reads the
    /// sequence backwards.
    pub(crate) fn reversed(self) -> &'static [bool] {
        match self {
            Self::Forward => &[false],
            Self::Reverse => &[true],
            Self::Bidirectional => &[false, true],
        }
    }

    /// `dirs`: 1 or 2.
    pub(crate) fn count(self) -> usize {
        self.reversed().len()
    }
}

/// ONNX's `layout`: where the batch axis sits in X, Y, initial_h and Y_h.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// 0: `X [T, B, I]`, `Y [T, dirs, B, H]`, `initial_h`, `Y_h [dirs, B, H]`.
    TimeMajor,
    /// 1: `X [B, T, I]`, `Y [B, T, dirs, H]`, `initial_h`, `Y_h [B, dirs, H]`.
    BatchMajor,
}

impl Layout {
    /// The attribute's value: 0 or 1.
    pub(crate) fn value(self) -> i64 {
        match self {
            Self::TimeMajor => 0,
            Self::BatchMajor => 1,
        }
    }
}

/// The gate activation f and the state activation g of one direction.
pub(crate) type Activations = (GateActivation, StateActivation);

/// The attributes of one `GRU` node, parsed and checked (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GruAttrs {
    /// As given (checked against R by [`Shape::check`]).
    pub(crate) hidden_size: Option<i64>,
    pub(crate) direction: Direction,
    pub(crate) layout: Layout,
    pub(crate) linear_before_reset: bool,
    /// One `[f, g]` per direction, in ONNX's order.
    pub(crate) activations: Vec<Activations>,
    pub(crate) clip: Option<f32>,
}

impl GruAttrs {
    /// Reads the attributes of `node`; every value the runtime cannot run is refused here,
    /// with the reason (the caller names the node).
    pub(crate) fn parse(node: &NodeProto) -> Result<Self, String> {
        let a = Attrs::new(node);
        a.only(&ATTRIBUTES)?;
        let direction = match a.string("direction")? {
            None => Direction::Forward,
            Some(name) => Direction::parse(&name)?,
        };
        let layout = match a.int("layout", 0)? {
            0 => Layout::TimeMajor,
            1 => Layout::BatchMajor,
            v => return Err(format!("layout {v} is not 0 or 1")),
        };
        let linear_before_reset = a.flag("linear_before_reset")?;
        let clip = match a.opt_float("clip")? {
            Some(c) if !(c.is_finite() && c > 0.0) => return Err(format!("clip {c} is not a finite number > 0")),
            c => c,
        };
        let activations = activations(
            &a.strings("activations")?.unwrap_or_default(),
            &a.floats("activation_alpha")?.unwrap_or_default(),
            &a.floats("activation_beta")?.unwrap_or_default(),
            direction.count(),
        )?;
        let hidden_size = if a.has("hidden_size") { Some(a.int("hidden_size", 0)?) } else { None };
        Ok(Self { hidden_size, direction, layout, linear_before_reset, activations, clip })
    }

    /// The attributes our exporter writes for `spec`: layout 0; after-multiplication as
    /// `linear_before_reset = 1` (with a zero Rb); clip, alpha and beta as ONNX keeps them (f32).
    pub(crate) fn of_spec(spec: &GruSpec) -> Self {
        let gate = match spec.gate_activation {
            GateActivation::HardSigmoid { alpha, beta } => {
                GateActivation::HardSigmoid { alpha: f64::from(alpha as f32), beta: f64::from(beta as f32) }
            }
            g => g,
        };
        let direction = match (spec.bidirectional, spec.reverse) {
            (true, _) => Direction::Bidirectional,
            (false, true) => Direction::Reverse,
            (false, false) => Direction::Forward,
        };
        Self {
            hidden_size: Some(spec.hidden_size as i64),
            direction,
            layout: Layout::TimeMajor,
            linear_before_reset: spec.reset_gate_mode != ResetGateMode::BeforeMultiplication,
            activations: vec![(gate, spec.state_activation); direction.count()],
            clip: spec.clip.map(|c| c as f32),
        }
    }

    /// The node attributes, in the order the exporter writes them: hidden_size, direction,
    /// linear_before_reset, [layout,] activations `[f, g]` per direction, the alpha and
    /// beta of each HardSigmoid, [clip].
    pub(crate) fn to_proto(&self) -> Vec<AttributeProto> {
        let mut out = Vec::new();
        if let Some(h) = self.hidden_size {
            out.push(attr_int("hidden_size", h));
        }
        out.push(attr_string("direction", self.direction.name()));
        out.push(attr_int("linear_before_reset", i64::from(self.linear_before_reset)));
        if self.layout != Layout::TimeMajor {
            out.push(attr_int("layout", self.layout.value()));
        }
        let mut names = Vec::new();
        let (mut alphas, mut betas) = (Vec::new(), Vec::new());
        for &(gate, state) in &self.activations {
            names.push(match gate {
                GateActivation::Sigmoid => "Sigmoid",
                GateActivation::HardSigmoid { alpha, beta } => {
                    alphas.push(alpha as f32);
                    betas.push(beta as f32);
                    "HardSigmoid"
                }
            });
            names.push(match state {
                StateActivation::Tanh => "Tanh",
                StateActivation::Softsign => "Softsign",
            });
        }
        out.push(attr_strings("activations", &names));
        if !alphas.is_empty() {
            out.push(attr_floats("activation_alpha", alphas));
            out.push(attr_floats("activation_beta", betas));
        }
        if let Some(c) = self.clip {
            out.push(attr_float("clip", c));
        }
        out
    }

    /// lbr 0: before-multiplication; lbr 1: recurrent-bias-after.
    pub(crate) fn reset_gate_mode(&self) -> ResetGateMode {
        if self.linear_before_reset {
            ResetGateMode::RecurrentBiasAfterMultiplication
        } else {
            ResetGateMode::BeforeMultiplication
        }
    }

    /// One forward layer of `shape` with the activations `acts`.
    fn spec(&self, shape: &Shape, (gate, state): Activations) -> GruSpec {
        GruSpec::new(shape.inputs, shape.hidden)
            .with_reset_gate_mode(self.reset_gate_mode())
            .with_gate_activation(gate)
            .with_state_activation(state)
            .with_clip(self.clip.map(f64::from))
    }

    /// Direction `d` as a one-layer forward GRU of ours, with its own activations (what the
    /// runtime prepares; a reverse direction runs it on each sequence reversed).
    pub(crate) fn direction_spec(&self, shape: &Shape, d: usize) -> GruSpec {
        self.spec(shape, self.activations[d])
    }

    /// The node as one layer of our stack (`node` names it in errors): forward, reverse
    /// (`GruSpec::reverse`) or bidirectional. A stack has one pair of activations: different
    /// ones per direction are [`Error::NotRepresentable`].
    pub(crate) fn layer_spec(&self, shape: &Shape, node: &str) -> Result<GruSpec, Error> {
        if self.activations.windows(2).any(|p| p[0] != p[1]) {
            return Err(Error::not_representable(
                TARGET_IN,
                "activations",
                format!("{:?} (node {node})", self.activations),
                "both directions of a GRU stack use the same activations",
            ));
        }
        Ok(self
            .spec(shape, self.activations[0])
            .with_bidirectional(self.direction == Direction::Bidirectional)
            .with_reverse(self.direction == Direction::Reverse))
    }

    /// Checks that `ours` states what these attributes hold (as ONNX keeps them: clip,
    /// alpha and beta as f32; after-multiplication as lbr 1). The layout, the input size
    /// and the depth are not attributes of a layer's math and are not compared.
    pub(crate) fn agrees(&self, ours: &GruSpec) -> Result<(), String> {
        let want = Self::of_spec(ours);
        let differ = |what: &str, have: String, want: String| {
            Err(format!("{what} is {have} in the graph but {want} in the stored spec"))
        };
        if self.hidden_size.is_some_and(|h| h != ours.hidden_size as i64) {
            return differ("hidden_size", format!("{:?}", self.hidden_size), ours.hidden_size.to_string());
        }
        if self.direction != want.direction {
            return differ("direction", self.direction.name().into(), want.direction.name().into());
        }
        if self.linear_before_reset != want.linear_before_reset {
            let lbr = |b: bool| i64::from(b).to_string();
            return differ("linear_before_reset", lbr(self.linear_before_reset), lbr(want.linear_before_reset));
        }
        if self.activations != want.activations {
            return differ("activations", format!("{:?}", self.activations), format!("{:?}", want.activations));
        }
        if self.clip != want.clip {
            return differ("clip", format!("{:?}", self.clip), format!("{:?}", want.clip));
        }
        Ok(())
    }
}

/// `[f, g]` per direction, alpha and beta consumed in order by the activations that take
/// them (ONNX's rule); none given: Sigmoid, Tanh.
fn activations(names: &[String], alphas: &[f32], betas: &[f32], dirs: usize) -> Result<Vec<Activations>, String> {
    if names.is_empty() {
        return Ok(vec![(GateActivation::Sigmoid, StateActivation::Tanh); dirs]);
    }
    if names.len() != 2 * dirs {
        return Err(format!("{} activations {names:?}; a GRU of {dirs} direction(s) needs {}", names.len(), 2 * dirs));
    }
    let (mut ai, mut bi) = (0, 0);
    let mut take = |name: &str| {
        let lower = name.to_ascii_lowercase();
        let takes_alpha =
            matches!(lower.as_str(), "affine" | "leakyrelu" | "thresholdedrelu" | "scaledtanh" | "hardsigmoid" | "elu");
        let takes_beta = matches!(lower.as_str(), "affine" | "scaledtanh" | "hardsigmoid");
        let alpha = if takes_alpha { alphas.get(ai).copied() } else { None };
        let beta = if takes_beta { betas.get(bi).copied() } else { None };
        ai += usize::from(takes_alpha);
        bi += usize::from(takes_beta);
        (lower, alpha, beta)
    };
    let mut out = Vec::with_capacity(dirs);
    for pair in names.chunks_exact(2) {
        let (f, alpha, beta) = take(&pair[0]);
        let gate = match f.as_str() {
            "sigmoid" => GateActivation::Sigmoid,
            "hardsigmoid" => GateActivation::HardSigmoid {
                alpha: f64::from(alpha.unwrap_or(0.2)),
                beta: f64::from(beta.unwrap_or(0.5)),
            },
            _ => return Err(format!("gate activation {} is not supported (Sigmoid or HardSigmoid)", pair[0])),
        };
        let (g, _, _) = take(&pair[1]);
        let state = match g.as_str() {
            "tanh" => StateActivation::Tanh,
            "softsign" => StateActivation::Softsign,
            _ => return Err(format!("state activation {} is not supported (Tanh or Softsign)", pair[1])),
        };
        out.push((gate, state));
    }
    Ok(out)
}

/// The sizes of one node's weights: `W [dirs, 3H, I]`, `R [dirs, 3H, H]`, `B [dirs, 6H]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) dirs: usize,
    pub(crate) hidden: usize,
    pub(crate) inputs: usize,
}

impl Shape {
    /// Checks the shapes of W, R and B (when given) against each other and `attrs`.
    pub(crate) fn check(attrs: &GruAttrs, w: &[usize], r: &[usize], b: Option<&[usize]>) -> Result<Self, String> {
        let dirs = attrs.direction.count();
        let [rd, r3h, h] = r[..] else {
            return Err(format!("R has shape {r:?}, expected [dirs, 3H, H]"));
        };
        if rd != dirs || r3h != 3 * h || h == 0 {
            return Err(format!("R has shape {r:?}, expected [{dirs}, 3H, H] with H > 0"));
        }
        if let Some(hs) = attrs.hidden_size.filter(|&hs| hs != h as i64) {
            return Err(format!("hidden_size is {hs} but R has shape {r:?}"));
        }
        let [wd, w3h, inputs] = w[..] else {
            return Err(format!("W has shape {w:?}, expected [dirs, 3H, I]"));
        };
        if wd != dirs || w3h != 3 * h || inputs == 0 {
            return Err(format!("W has shape {w:?}, expected [{dirs}, {}, I] with I > 0", 3 * h));
        }
        if let Some(b) = b.filter(|b| *b != [dirs, 6 * h]) {
            return Err(format!("B has shape {b:?}, expected [{dirs}, {}]", 6 * h));
        }
        Ok(Self { dirs, hidden: h, inputs })
    }
}

/// Our blocks, one per direction in ONNX's order, from one node's `W`, `R` and `B` (absent:
/// zero) of `shape`, with the bias rule of `linear_before_reset` ([`bias_from_onnx`]).
pub(crate) fn blocks_from_onnx<T: Real>(shape: &Shape, lbr: bool, w: &[T], r: &[T], b: Option<&[T]>) -> Vec<Block<T>> {
    let Shape { dirs, hidden: h, inputs } = *shape;
    let zeros = vec![T::zero(); 6 * h];
    let biases: Vec<&[T]> = match b {
        Some(b) => b.chunks_exact(6 * h).collect(),
        None => vec![&zeros; dirs],
    };
    // W: [dirs, 3H, I], R: [dirs, 3H, H], B: [dirs, 6H]; one chunk per direction.
    w.chunks_exact(3 * h * inputs)
        .zip(r.chunks_exact(3 * h * h))
        .zip(biases)
        .map(|((w, r), b)| {
            (
                gates_to_canonical(w, h, inputs, onnx_gate_block),
                gates_to_canonical(r, h, h, onnx_gate_block),
                bias_from_onnx(b, h, lbr),
            )
        })
        .collect()
}

/// Our bias of one direction from ONNX's `[Wb | Rb]` (6H, each half z | r | h):
/// `linear_before_reset = 0`: before-multiplication, `b = Wb + Rb` (3H; where Rb is zero,
/// Wb's bits as they are, -0.0 included); `= 1`: recurrent-bias-after, `[b | b'] = [Wb | Rb]`.
fn bias_from_onnx<T: Real>(onnx: &[T], h: usize, lbr: bool) -> Vec<T> {
    let (wb, rb) = onnx.split_at(3 * h);
    let wb = gates_to_canonical(wb, h, 1, onnx_gate_block);
    let rb = gates_to_canonical(rb, h, 1, onnx_gate_block);
    if lbr {
        [wb, rb].concat()
    } else {
        wb.iter().zip(&rb).map(|(&a, &c)| if c == T::zero() { a } else { a + c }).collect()
    }
}

/// Recurrent-bias-after blocks (what lbr 1 reads as) as after-multiplication ones, when
/// every recurrent bias `b'` is zero (what our exporter writes for after-multiplication):
/// the input bias alone. `None` when some `b'` is not zero.
pub(crate) fn after_multiplication<T: Real>(blocks: Vec<Block<T>>, h: usize) -> Option<Vec<Block<T>>> {
    if blocks.iter().any(|(_, _, b)| b.len() != 6 * h || b[3 * h..].iter().any(|&v| v != T::zero())) {
        return None;
    }
    Some(
        blocks
            .into_iter()
            .map(|(w, r, mut b)| {
                b.truncate(3 * h);
                (w, r, b)
            })
            .collect(),
    )
}

/// ONNX's `W [dirs, 3H, I]`, `R [dirs, 3H, H]` and `B [dirs, 6H] = [Wb | Rb]` of one
/// layer's `blocks` (one per direction), rows z | r | h; a zero `Rb` where the reset-gate
/// mode has no recurrent bias (the inverse of [`blocks_from_onnx`]).
pub(crate) fn onnx_from_blocks<'a, T: Real>(
    blocks: impl IntoIterator<Item = &'a BlockParams<T>>,
    h: usize,
    inputs: usize,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let (mut w, mut r, mut b) = (Vec::new(), Vec::new(), Vec::new());
    for block in blocks {
        w.extend(gates_from_canonical(block.w(), h, inputs, onnx_gate_block));
        r.extend(gates_from_canonical(block.r(), h, h, onnx_gate_block));
        let mut wb = vec![T::zero(); 3 * h];
        let mut rb = vec![T::zero(); 3 * h];
        for g in Gate::ALL {
            wb[g.rows(h)].copy_from_slice(block.input_bias(g));
            if let Some(v) = block.recurrent_bias(g) {
                rb[g.rows(h)].copy_from_slice(v);
            }
        }
        b.extend(gates_from_canonical(&wb, h, 1, onnx_gate_block));
        b.extend(gates_from_canonical(&rb, h, 1, onnx_gate_block));
    }
    (w, r, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn activations_per_direction_consume_alpha_beta_in_order() {
        let a = activations(&s(&["Sigmoid", "Tanh", "HardSigmoid", "softsign"]), &[0.3], &[0.4], 2).unwrap();
        assert_eq!(a[0], (GateActivation::Sigmoid, StateActivation::Tanh));
        let hs = GateActivation::HardSigmoid { alpha: f64::from(0.3f32), beta: f64::from(0.4f32) };
        assert_eq!(a[1], (hs, StateActivation::Softsign));
        let a = activations(&s(&["HardSigmoid", "Tanh", "HardSigmoid", "Tanh"]), &[0.1, 0.3], &[0.2], 2).unwrap();
        assert_eq!(a[1].0, GateActivation::HardSigmoid { alpha: f64::from(0.3f32), beta: 0.5 });
        let (g, _) = activations(&s(&["HardSigmoid", "Tanh"]), &[], &[], 1).unwrap()[0];
        assert_eq!(g, GateActivation::HardSigmoid { alpha: f64::from(0.2f32), beta: f64::from(0.5f32) });
        assert_eq!(activations(&[], &[], &[], 2).unwrap().len(), 2);
        for bad in [s(&["Relu", "Tanh"]), s(&["Sigmoid", "Relu"]), s(&["Tanh", "Tanh"]), s(&["Sigmoid"])] {
            assert!(activations(&bad, &[], &[], 1).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn gates_move_by_name_and_the_bias_rule_keeps_bits() {
        // H = 1, I = 1: W rows z r h = 1 2 3; B = [Wb 10 20 30 | Rb 0 1 -0.0].
        let shape = Shape { dirs: 1, hidden: 1, inputs: 1 };
        let onnx_b = [10.0, 20.0, -0.0, 0.0, 1.0, 0.0];
        let before = blocks_from_onnx(&shape, false, &[1.0f32, 2.0, 3.0], &[4.0, 5.0, 6.0], Some(&onnx_b));
        assert_eq!(before[0].0, vec![2.0, 1.0, 3.0]); // r z n
        assert_eq!(before[0].1, vec![5.0, 4.0, 6.0]);
        assert_eq!(before[0].2, vec![21.0, 10.0, -0.0]); // Wb + Rb; -0.0 + 0.0 kept as -0.0
        assert!(before[0].2[2].is_sign_negative());
        let after = blocks_from_onnx(&shape, true, &[1.0f32, 2.0, 3.0], &[4.0, 5.0, 6.0], Some(&onnx_b));
        assert_eq!(after[0].2, vec![20.0, 10.0, -0.0, 1.0, 0.0, 0.0]);
        assert!(after_multiplication(after, 1).is_none()); // b'_r = 1
        let zero_rb = blocks_from_onnx(&shape, true, &[1.0f32, 2.0, 3.0], &[4.0, 5.0, 6.0], None);
        assert_eq!(after_multiplication(zero_rb, 1).unwrap()[0].2, vec![0.0; 3]);
    }

    #[test]
    fn attributes_of_a_spec_parse_back() {
        let spec = GruSpec::new(3, 4)
            .with_bidirectional(true)
            .with_gate_activation(GateActivation::HardSigmoid { alpha: 0.3, beta: 0.45 })
            .with_state_activation(StateActivation::Softsign)
            .with_clip(Some(1.3));
        let attrs = GruAttrs::of_spec(&spec);
        let node = NodeProto { op_type: "GRU".into(), attribute: attrs.to_proto(), ..Default::default() };
        assert_eq!(GruAttrs::parse(&node).unwrap(), attrs);
        attrs.agrees(&spec).unwrap();
        assert!(attrs.agrees(&spec.clone().with_clip(Some(1.4))).unwrap_err().contains("clip"));
        let shape = Shape::check(&attrs, &[2, 12, 3], &[2, 12, 4], Some(&[2, 24])).unwrap();
        assert_eq!(shape, Shape { dirs: 2, hidden: 4, inputs: 3 });
        assert!(Shape::check(&attrs, &[2, 12, 3], &[2, 12, 4], Some(&[2, 12])).unwrap_err().contains("B has shape"));
        assert!(Shape::check(&attrs, &[2, 12, 3], &[1, 12, 4], None).unwrap_err().contains("R has shape"));
    }
}
