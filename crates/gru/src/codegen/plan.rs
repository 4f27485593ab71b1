//! The plan of a generated model: a [`Network`] read once into what the generated code
//! computes, in order, with every learnable value in f32 (the one language-independent
//! description that `c.rs` and `rust_no_std.rs` print).
//!
//! ```text
//! x ─ input normalization ─ stages[0] ─ … ─ stages[n-1] ─ target denormalization ─ y
//!     x' = (x - offset_c) / scale_c                          y = y' · scale_r + offset_r
//! ```
//!
//! A GRU stage holds its blocks in the canonical layout (gate order r, z, n; W 3H×In,
//! R 3H×H; block `layer·dirs + dir`), with the biases as the native fast path uses them
//! (`gru_core` `cell/bias.rs`): `folded = [b_r + b'_r | b_z + b'_z | b_n]` (each sum rounded
//! once in the model's dtype) and `rec_n = b'_n` (recurrent-bias-after-multiplication only).
//! Dropout is the identity in prediction and has no stage; the classification and
//! regression outputs compute nothing.

use gru_core::{GateActivation, GruSpec, OutputMode, Real, ResetGateMode, StateActivation};

use super::codegen_error;
use crate::error::{Error, Result};
use crate::network::{Elementwise, Network, Node, Transformation};

/// A per-channel affine map, in f32: `offset[c]` and `scale[c]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Affine {
    pub offset: Vec<f32>,
    pub scale: Vec<f32>,
}

/// One GRU block (one layer and direction) in f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub input_size: usize,
    pub hidden_size: usize,
    /// `3H × In` row-major, rows r, z, n.
    pub w: Vec<f32>,
    /// `3H × H` row-major, rows r, z, n.
    pub r: Vec<f32>,
    /// `[b_r + b'_r | b_z + b'_z | b_n]` (3H).
    pub bias: Vec<f32>,
    /// `b'_n` (H), in recurrent-bias-after-multiplication only.
    pub rec_n: Option<Vec<f32>>,
    /// Whether this block reads its sequence backward (a bidirectional stack's second
    /// direction, every block of a reverse stack).
    pub backward: bool,
}

/// A GRU stack of the network.
#[derive(Clone, Debug, PartialEq)]
pub struct GruStage {
    /// Its math options (`input_size` set).
    pub spec: GruSpec,
    /// `layer·dirs + dir`.
    pub blocks: Vec<Block>,
    /// The state `model_reset` sets, `[D·dirs, H]`: the layer's hidden state or learnable
    /// initial state, else zeros (what the native engine starts from).
    pub h0: Vec<f32>,
    /// Where its `[D·dirs, H]` state starts in the state vector.
    pub state_offset: usize,
}

impl GruStage {
    /// The clip in f32 (what the native engine converts it to).
    pub fn clip(&self) -> Option<f32> {
        self.spec.clip.map(|c| c as f32)
    }
    /// `(alpha, beta)` of hard-sigmoid in f32, `None` for sigmoid.
    pub fn hard_sigmoid(&self) -> Option<(f32, f32)> {
        match self.spec.gate_activation {
            GateActivation::Sigmoid => None,
            GateActivation::HardSigmoid { alpha, beta } => Some((alpha as f32, beta as f32)),
        }
    }
    pub fn softsign(&self) -> bool {
        self.spec.state_activation == StateActivation::Softsign
    }
    pub fn before_multiplication(&self) -> bool {
        self.spec.reset_gate_mode == ResetGateMode::BeforeMultiplication
    }
    /// Every block reads forward in time: the stack can run one frame at a time.
    pub fn causal(&self) -> bool {
        self.blocks.iter().all(|b| !b.backward)
    }
}

/// What one stage computes.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    Gru(GruStage),
    /// `y = W x + b`, W `outputs × inputs` row-major.
    Dense {
        inputs: usize,
        outputs: usize,
        w: Vec<f32>,
        b: Vec<f32>,
    },
    /// Softmax over the `width` channels.
    Softmax {
        width: usize,
    },
    /// An element-wise function, computed in f64 and rounded to f32 (as the native layer).
    Elementwise {
        width: usize,
        function: Elementwise,
    },
    /// Korali's output layer: per channel `(g_c, scale_c, shift_c)`, `y = scale · g(x) + shift`
    /// in f64, rounded to f32.
    Output {
        channels: Vec<(Transformation, f64, f64)>,
    },
}

impl Stage {
    /// Channels this stage writes, given the channels it reads.
    pub fn out_width(&self, input: usize) -> usize {
        match self {
            Stage::Gru(g) => g.spec.output_size(),
            Stage::Dense { outputs, .. } => *outputs,
            _ => input,
        }
    }
}

/// The whole model.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub input_size: usize,
    pub output_size: usize,
    pub input_norm: Option<Affine>,
    pub stages: Vec<Stage>,
    pub target_norm: Option<Affine>,
    /// One output per frame (else one per sequence, after a GRU of output mode last).
    pub sequence_output: bool,
    /// The GRU of output mode last, if any: stages after it run once per sequence.
    pub last_gru: Option<usize>,
    /// Floats in the state vector: every GRU stage's `[D·dirs, H]`, in stage order.
    pub state_size: usize,
    /// The widest frame between stages.
    pub max_width: usize,
    /// The model's dtype (an f64 model's values are rounded to f32).
    pub source_dtype: gru_core::DType,
}

impl Plan {
    /// Reads `network`. Errors ([`Error::NotRepresentable`]): a value that is not finite
    /// in f32, a per-sequence hidden state of more than one sequence.
    pub fn of<T: Real>(network: &Network<T>) -> Result<Self> {
        let input_size = network.input_size();
        let input_norm = match network.normalization() {
            Some((mean, std)) => Some(Affine {
                offset: narrow("normalization offset", mean)?,
                scale: narrow("normalization scale", std)?,
            }),
            None => None,
        };
        let target_norm = match network.target_normalization() {
            Some(t) => Some(Affine {
                offset: narrow("target normalization offset", &t.offset)?,
                scale: narrow("target normalization scale", &t.scale)?,
            }),
            None => None,
        };
        let (mut stages, mut width, mut state_size, mut max_width, mut last_gru) =
            (Vec::new(), input_size, 0usize, input_size, None);
        for node in &network.nodes {
            let stage = match node {
                Node::Input { .. } | Node::Dropout(_) => continue,
                Node::Gru(layer) => {
                    let stage = gru_stage(layer, width, state_size)?;
                    state_size += stage.h0.len();
                    if stage.spec.output_mode == OutputMode::Last {
                        last_gru = Some(stages.len());
                    }
                    Stage::Gru(stage)
                }
                Node::Dense(d) => Stage::Dense {
                    inputs: d.inputs,
                    outputs: d.outputs,
                    w: narrow("fully connected weights", &d.w)?,
                    b: narrow("fully connected bias", &d.b)?,
                },
                Node::Softmax => Stage::Softmax { width },
                Node::Elementwise(f) => Stage::Elementwise { width, function: *f },
                Node::Output(o) => Stage::Output {
                    channels: (0..width)
                        .map(|c| {
                            (
                                o.transformations.get(c).copied().unwrap_or(Transformation::Identity),
                                o.scale.get(c).copied().unwrap_or(1.0),
                                o.shift.get(c).copied().unwrap_or(0.0),
                            )
                        })
                        .collect(),
                },
            };
            width = stage.out_width(width);
            max_width = max_width.max(width);
            stages.push(stage);
        }
        Ok(Self {
            input_size,
            output_size: width,
            input_norm,
            stages,
            target_norm,
            sequence_output: network.sequence_output(),
            last_gru,
            state_size,
            max_width,
            source_dtype: T::DTYPE,
        })
    }

    /// Every GRU stage reads forward in time: `model_step` exists.
    pub fn causal(&self) -> bool {
        self.gru_stages().all(GruStage::causal)
    }

    pub fn gru_stages(&self) -> impl Iterator<Item = &GruStage> {
        self.stages.iter().filter_map(|s| match s {
            Stage::Gru(g) => Some(g),
            _ => None,
        })
    }

    /// The GRU options that have no frame-by-frame form (for messages): `bidirectional` or
    /// `reverse` and its layer.
    pub fn non_causal_option(&self) -> Option<(&'static str, usize)> {
        self.gru_stages()
            .enumerate()
            .find(|(_, g)| !g.causal())
            .map(|(i, g)| (if g.spec.bidirectional { "bidirectional" } else { "reverse" }, i))
    }

    /// The number of learnable f32 values the generated code holds.
    pub fn num_weights(&self) -> usize {
        let norm = |a: &Option<Affine>| a.as_ref().map_or(0, |a| 2 * a.offset.len());
        norm(&self.input_norm)
            + norm(&self.target_norm)
            + self
                .stages
                .iter()
                .map(|s| match s {
                    Stage::Gru(g) => {
                        g.h0.len()
                            + g.blocks
                                .iter()
                                .map(|b| b.w.len() + b.r.len() + b.bias.len() + b.rec_n.as_ref().map_or(0, Vec::len))
                                .sum::<usize>()
                    }
                    Stage::Dense { w, b, .. } => w.len() + b.len(),
                    _ => 0,
                })
                .sum::<usize>()
    }
}

/// `v` in f32; a value with no finite f32 form is refused, naming `what`.
fn narrow<T: Real>(what: &str, v: &[T]) -> Result<Vec<f32>> {
    let out: Vec<f32> = v.iter().map(|x| x.widen() as f32).collect();
    match out.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(codegen_error(what, format!("{:e} (element {i})", v[i].widen()), "not a finite f32 value")),
        None => Ok(out),
    }
}

fn gru_stage<T: Real>(layer: &crate::layer::GruLayer<T>, width: usize, state_offset: usize) -> Result<GruStage> {
    let spec = GruSpec { input_size: width, ..layer.spec()? };
    // Zoneout's expectation and layer norm are not in the generated cell (the dropouts
    // vanish at inference: the plain cell is theirs).
    crate::convert::check_plain_inference("generated code (gru export)", &spec)?;
    let params = layer.params().ok_or_else(|| codegen_error("GRU weights", "none", "the layer is not initialized"))?;
    let (dirs, hidden) = (spec.directions(), spec.hidden_size);
    let mut blocks = Vec::with_capacity(params.blocks().len());
    for (i, p) in params.blocks().iter().enumerate() {
        let mut folded = Vec::with_capacity(3 * hidden);
        for g in gru_core::Gate::ALL {
            let input = p.input_bias(g);
            // b'_r and b'_z add to the input bias (one rounding in T, as the fast path);
            // b'_n stays inside the reset product.
            match p.recurrent_bias(g).filter(|_| g != gru_core::Gate::Candidate) {
                Some(rec) => folded.extend(input.iter().zip(rec).map(|(&a, &b)| a + b)),
                None => folded.extend_from_slice(input),
            }
        }
        blocks.push(Block {
            input_size: p.input_size(),
            hidden_size: hidden,
            w: narrow("GRU input weights", p.w())?,
            r: narrow("GRU recurrent weights", p.r())?,
            bias: narrow("GRU bias", &folded)?,
            rec_n: p.recurrent_bias(gru_core::Gate::Candidate).map(|b| narrow("GRU recurrent bias", b)).transpose()?,
            backward: spec.sweeps_backward(i % dirs),
        });
    }
    let n = spec.num_blocks() * hidden;
    let h0 = match (layer.hidden_state(), layer.initial_state()) {
        (Some(s), _) if s.batch().unwrap_or(1) == 1 => narrow("hidden state", s.data())?,
        (Some(s), _) => {
            return Err(Error::NotRepresentable {
                target: "generated code".into(),
                option: "HiddenState".into(),
                value: format!("a state for {} sequences", s.batch().unwrap_or(1)),
                reason: "the generated model runs one sequence; reset the layer's state first".into(),
            })
        }
        (None, Some(init)) => narrow("learnable initial state", init)?,
        (None, None) => vec![0.0; n],
    };
    Ok(GruStage { spec, blocks, h0, state_offset })
}
