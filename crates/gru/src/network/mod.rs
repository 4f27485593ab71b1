//! Networks: a sequence input, GRU layers, dropout, fully connected layers, softmax and a
//! classification or regression output, built from a MATLAB-like layer array
//! ([`LayerSpec`], [`layers!`](crate::layers)).
//!
//! Data flow: `[T, B, C]` time-major with per-sequence lengths (valid steps first) until a
//! GRU with output mode `last`, then `[B, C]` per sequence.

mod dense;
mod elementwise;
mod initialization;
mod io;
mod loss;
mod normalize;
mod pass;
mod segment;
mod spec;
mod stream;

use gru_core::{GruParams, GruSpec, OutputMode, Real};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::layer::{BiasInitializer, GruLayer, WeightInitializer};
use crate::memory::{MemoryBudget, NetworkSize};

pub use dense::{softmax as softmax_rows, Dense};
pub use elementwise::{Elementwise, OutputTransform, Transformation};
pub use initialization::Initialization;
pub use loss::{LossStats, LossTargets, Reduction};
pub use normalize::TargetNormalization;
pub use pass::Pass;
pub use segment::Segment;
pub use spec::{
    activation, classification, classification_weighted, dropout, fully_connected, gru, layers_from_json, min_params,
    regression, sequence_input, sequence_input_zscore, softmax, GruLayerSpec, LayerSpec, Normalization,
};
pub use stream::NetworkStreams;

/// One instantiated layer.
pub(crate) enum Node<T: Real> {
    /// Sequence input with its normalization statistics `(mean, std)` per channel.
    Input {
        size: usize,
        normalization: Normalization,
        stats: Option<(Vec<T>, Vec<T>)>,
    },
    Gru(Box<GruLayer<T>>),
    Dropout(f64),
    Dense(Dense<T>),
    Softmax,
    Elementwise(Elementwise),
    Output(OutputTransform),
}

/// The output layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Head {
    /// Cross-entropy on probabilities; optional weight per class.
    Classification { class_weights: Option<Vec<f64>> },
    /// Half mean squared error.
    Regression,
}

/// A network of GRU and dense layers with a classification or regression output.
pub struct Network<T: Real> {
    specs: Vec<LayerSpec>,
    pub(crate) nodes: Vec<Node<T>>,
    pub(crate) head: Head,
    /// Channels of the output (classes or responses).
    pub(crate) output_width: usize,
    /// Whether the output is per step (sequence-to-sequence).
    pub(crate) sequence_output: bool,
    pub(crate) class_names: Vec<String>,
    seed: u64,
    /// The fitted normalization of the regression targets (undone in every pass).
    pub(crate) target_normalization: Option<TargetNormalization<T>>,
    /// What drew the initial learnable values.
    pub(crate) initialization: Initialization,
}

impl<T: Real> std::fmt::Debug for Network<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").field("specs", &self.specs).field("seed", &self.seed).finish_non_exhaustive()
    }
}

fn layer_err(i: usize, reason: impl Into<String>) -> Error {
    Error::Config { path: format!("layers[{i}]"), value: String::new(), reason: reason.into() }
}

impl<T: Real> Network<T> {
    /// Builds and initializes a network (weights drawn from `seed`).
    pub fn new(specs: Vec<LayerSpec>, seed: u64) -> Result<Self> {
        let Some(LayerSpec::SequenceInput { input_size, normalization }) = specs.first().cloned() else {
            return Err(layer_err(0, "the first layer must be a sequence input layer"));
        };
        if input_size == 0 {
            return Err(Error::config("layers[0].input_size", 0, "must be at least 1"));
        }
        // Every size against the memory budget before anything is allocated.
        let name = |i: usize, field: &str| format!("layers[{i}].{field}");
        NetworkSize::of(&specs).check_params(std::mem::size_of::<T>(), &MemoryBudget::current(), &name)?;
        let mut nodes = vec![Node::Input { size: input_size, normalization, stats: None }];
        let (mut width, mut sequence) = (input_size, true);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let last = specs.len() - 1;
        let mut head = None;
        for (i, spec) in specs.iter().enumerate().skip(1) {
            if head.is_some() {
                return Err(layer_err(i, "the output layer must be the last layer"));
            }
            match spec {
                LayerSpec::SequenceInput { .. } => {
                    return Err(layer_err(i, "only the first layer is a sequence input"))
                }
                LayerSpec::Gru(g) => {
                    if !sequence {
                        return Err(layer_err(i, "a GRU layer needs sequences; the layer before has output mode last"));
                    }
                    for layer in build_gru::<T>(g, width, seed.wrapping_add(i as u64 * 7919), i)? {
                        nodes.push(layer);
                    }
                    width = g.spec.output_size();
                    sequence = g.spec.output_mode == OutputMode::Sequence;
                }
                LayerSpec::Dropout { probability } => {
                    check_probability(i, *probability)?;
                    nodes.push(Node::Dropout(*probability));
                }
                LayerSpec::FullyConnected { output_size } => {
                    if *output_size == 0 {
                        return Err(Error::config(&format!("layers[{i}].output_size"), 0, "must be at least 1"));
                    }
                    let w = WeightInitializer::Glorot.draw::<T>(
                        "WeightsInitializer",
                        *output_size,
                        width,
                        width,
                        *output_size,
                        &mut rng,
                    )?;
                    let b = BiasInitializer::Zeros.draw::<T>("BiasInitializer", *output_size, &mut rng)?;
                    nodes.push(Node::Dense(Dense { inputs: width, outputs: *output_size, w, b }));
                    width = *output_size;
                }
                LayerSpec::Softmax => nodes.push(Node::Softmax),
                LayerSpec::Activation(f) => nodes.push(Node::Elementwise(*f)),
                LayerSpec::OutputTransform(o) => {
                    o.validate(width)?;
                    nodes.push(Node::Output(o.clone()));
                }
                LayerSpec::Classification { classes, class_weights } => {
                    if !matches!(nodes.last(), Some(Node::Softmax)) {
                        return Err(layer_err(i, "a classification layer must follow a softmax layer"));
                    }
                    if let Some(c) = classes {
                        if c.len() != width {
                            return Err(Error::config(
                                &format!("layers[{i}].classes"),
                                c.len(),
                                format!("the softmax has {width} channels"),
                            ));
                        }
                    }
                    if let Some(w) = class_weights {
                        if w.len() != width || w.iter().any(|v| !v.is_finite() || *v < 0.0) {
                            return Err(Error::config(
                                &format!("layers[{i}].class_weights"),
                                format!("{w:?}"),
                                format!("must be {width} finite values >= 0"),
                            ));
                        }
                    }
                    head = Some(Head::Classification { class_weights: class_weights.clone() });
                }
                LayerSpec::Regression => head = Some(Head::Regression),
            }
            if i == last && head.is_none() {
                return Err(layer_err(i, "the last layer must be a classification or regression layer"));
            }
        }
        let head =
            head.ok_or_else(|| layer_err(last, "the last layer must be a classification or regression layer"))?;
        let class_names = match &specs[last] {
            LayerSpec::Classification { classes: Some(c), .. } => c.clone(),
            LayerSpec::Classification { .. } => (0..width).map(|k| k.to_string()).collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            specs,
            nodes,
            head,
            output_width: width,
            sequence_output: sequence,
            class_names,
            seed,
            target_normalization: None,
            initialization: Initialization::Layers,
        })
    }

    /// The layer array this network was built from.
    pub fn specs(&self) -> &[LayerSpec] {
        &self.specs
    }
    /// The seed of its initial weights.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// What drew its initial weights ([`Initialization::Layers`] for a network built by
    /// [`Network::new`]).
    pub fn initialization(&self) -> &Initialization {
        &self.initialization
    }
    /// Records what drew its initial weights (e.g. Korali's initialization, after setting
    /// the weights it drew).
    pub fn set_initialization(&mut self, initialization: Initialization) {
        self.initialization = initialization;
    }
    /// Channels of the input.
    pub fn input_size(&self) -> usize {
        match &self.nodes[0] {
            Node::Input { size, .. } => *size,
            _ => unreachable!("the first node is the input"),
        }
    }
    /// The output layer.
    pub fn head(&self) -> &Head {
        &self.head
    }
    /// Classes (classification) or responses (regression).
    pub fn output_width(&self) -> usize {
        self.output_width
    }
    /// True when the network outputs one result per step.
    pub fn sequence_output(&self) -> bool {
        self.sequence_output
    }
    /// Class names (classification).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }
    /// Names the classes (their count must be the output width).
    pub fn set_class_names(&mut self, names: Vec<String>) -> Result<()> {
        if names.len() != self.output_width || !matches!(self.head, Head::Classification { .. }) {
            return Err(Error::data(
                "class_names",
                names.len(),
                format!("the network has {} classes", self.output_width),
            ));
        }
        self.class_names = names;
        Ok(())
    }
    /// The GRU layers, in order.
    pub fn gru_layers(&self) -> impl Iterator<Item = &GruLayer<T>> {
        self.nodes.iter().filter_map(|n| match n {
            Node::Gru(g) => Some(&**g),
            _ => None,
        })
    }

    /// Input normalization statistics `(mean, std)` per channel, when fitted.
    pub fn normalization(&self) -> Option<&(Vec<T>, Vec<T>)> {
        match &self.nodes[0] {
            Node::Input { stats, .. } => stats.as_ref(),
            _ => None,
        }
    }

    /// Sets the normalization statistics (from a checkpoint).
    pub fn set_normalization(&mut self, stats: Option<(Vec<T>, Vec<T>)>) -> Result<()> {
        let size = self.input_size();
        if let Some((m, s)) = &stats {
            if m.len() != size || s.len() != size || s.iter().any(|v| !(v.is_finite() && *v > T::zero())) {
                return Err(Error::data("normalization", m.len(), format!("needs {size} means and positive stds")));
            }
        }
        if let Node::Input { stats: st, .. } = &mut self.nodes[0] {
            *st = stats;
        }
        Ok(())
    }

    /// Every learnable value, in a fixed order: per GRU node its blocks (`W, R, bias`) and
    /// learnable initial state; per dense node `W, b`.
    pub fn params_flat(&self) -> Vec<T> {
        let mut out = Vec::new();
        for node in &self.nodes {
            match node {
                Node::Gru(g) => {
                    out.extend(g.params().map(GruParams::to_flat).unwrap_or_default());
                    out.extend_from_slice(g.initial_state().unwrap_or(&[]));
                }
                Node::Dense(d) => {
                    out.extend_from_slice(&d.w);
                    out.extend_from_slice(&d.b);
                }
                _ => {}
            }
        }
        out
    }

    /// Overwrites every learnable value from `flat` (the order of [`Network::params_flat`]).
    pub fn set_params_flat(&mut self, flat: &[T]) -> Result<()> {
        let total = self.segments().iter().map(|s| s.len).sum::<usize>();
        if flat.len() != total {
            return Err(Error::data("params", flat.len(), format!("the network has {total} learnable values")));
        }
        let mut at = 0;
        for node in &mut self.nodes {
            match node {
                Node::Gru(g) => {
                    let mut p = g.params().cloned().ok_or_else(|| Error::data("params", "GRU", "not initialized"))?;
                    let n = p.num_params();
                    p.set_flat(&flat[at..at + n])?;
                    at += n;
                    g.set_params(p)?;
                    if let Some(len) = g.initial_state().map(<[T]>::len) {
                        g.set_initial_state(flat[at..at + len].to_vec())?;
                        at += len;
                    }
                }
                Node::Dense(d) => {
                    let (nw, nb) = (d.w.len(), d.b.len());
                    d.w.copy_from_slice(&flat[at..at + nw]);
                    d.b.copy_from_slice(&flat[at + nw..at + nw + nb]);
                    at += nw + nb;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The segments of the flat parameter vector with their learn-rate and L2 factors: a
    /// GRU's W, R and bias per gate (MATLAB's per-gate factors), its layer-norm gains and
    /// biases (1, 0); a learnable initial state (factor 1, L2 0); a dense layer's W (1, 1)
    /// and b (1, 0).
    pub fn segments(&self) -> Vec<Segment> {
        let mut segs = Vec::new();
        let (mut at, mut tensor) = (0usize, 0usize);
        let mut push = |len: usize, lr: f64, l2: f64, tensor: usize, segs: &mut Vec<Segment>| {
            segs.push(Segment { start: at, len, learn_rate_factor: lr, l2_factor: l2, tensor });
            at += len;
        };
        for node in &self.nodes {
            match node {
                Node::Gru(g) => {
                    let f = g.learn_factors();
                    let Some(params) = g.params() else { continue };
                    for b in params.blocks() {
                        let h = b.hidden_size();
                        let groups = [
                            (b.w().len() / 3, f.input_weights_learn_rate.per_gate(), f.input_weights_l2.per_gate()),
                            (h * h, f.recurrent_weights_learn_rate.per_gate(), f.recurrent_weights_l2.per_gate()),
                            (h, f.bias_learn_rate.per_gate(), f.bias_l2.per_gate()),
                        ];
                        for (gate_len, lr, l2) in groups {
                            for g in 0..3 {
                                push(gate_len, lr[g], l2[g], tensor, &mut segs);
                            }
                            tensor += 1;
                        }
                        if b.has_recurrent_bias() {
                            let (lr, l2) = (f.bias_learn_rate.per_gate(), f.bias_l2.per_gate());
                            for g in 0..3 {
                                push(h, lr[g], l2[g], tensor - 1, &mut segs);
                            }
                        }
                        if b.has_norm() {
                            push(b.norm().len(), 1.0, 0.0, tensor, &mut segs);
                            tensor += 1;
                        }
                    }
                    if let Some(s) = g.initial_state() {
                        push(s.len(), 1.0, 0.0, tensor, &mut segs);
                        tensor += 1;
                    }
                }
                Node::Dense(d) => {
                    push(d.w.len(), 1.0, 1.0, tensor, &mut segs);
                    push(d.b.len(), 1.0, 0.0, tensor + 1, &mut segs);
                    tensor += 2;
                }
                _ => {}
            }
        }
        segs
    }
}

/// The loss of a pass against its targets and dL/d(output).
pub fn loss_and_grad<T: Real>(
    network: &Network<T>,
    pass: &Pass<T>,
    targets: &LossTargets<'_>,
) -> Result<(LossStats, Vec<T>)> {
    network.loss(pass, targets, loss::Reduction::Mean)
}

fn check_probability(i: usize, p: f64) -> Result<()> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::config(&format!("layers[{i}].probability"), p, "must be in [0, 1)"));
    }
    Ok(())
}

/// The nodes of one GRU spec: one stacked layer, or (with dropout between stacked layers)
/// `depth` single layers with dropout nodes between them. The layers take the spec's math
/// options whole; the network sets the input size (`input`, then dirs·H), and a split stack
/// gives each layer depth 1 and every layer but the last output mode sequence.
fn build_gru<T: Real>(g: &GruLayerSpec, input: usize, seed: u64, i: usize) -> Result<Vec<Node<T>>> {
    check_probability(i, g.dropout)?;
    for (key, named) in [
        ("input_weights_initializer", g.input_weights_initializer.is_named()),
        ("recurrent_weights_initializer", g.recurrent_weights_initializer.is_named()),
        ("bias_initializer", g.bias_initializer.is_named()),
    ] {
        if !named {
            let reason = "a layer array holds named initializers only (it is saved as JSON with the network)";
            return Err(Error::config(&format!("layers[{i}].{key}"), "an unnamed initializer", reason));
        }
    }
    let split = g.dropout > 0.0 && g.spec.depth > 1;
    let count = if split { g.spec.depth } else { 1 };
    let mut nodes = Vec::new();
    for k in 0..count {
        let last = k + 1 == count;
        let mut spec = GruSpec { input_size: if k == 0 { input } else { g.spec.output_size() }, ..g.spec.clone() };
        if split {
            spec.depth = 1;
        }
        if !last {
            spec.output_mode = OutputMode::Sequence;
        }
        let mut layer = GruLayer::<T>::builder_from(spec)
            .input_weights_initializer(g.input_weights_initializer.clone())
            .recurrent_weights_initializer(g.recurrent_weights_initializer.clone())
            .bias_initializer(g.bias_initializer.clone())
            .learnable_initial_state(g.learnable_initial_state)
            .engine(g.engine)
            .seed(seed.wrapping_add(k as u64))
            .build()?;
        layer.set_learn_factors(g.factors)?;
        nodes.push(Node::Gru(Box::new(layer)));
        if !last {
            nodes.push(Node::Dropout(g.dropout));
        }
    }
    Ok(nodes)
}
