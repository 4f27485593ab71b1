//! Seeded random cases over every option, and the loss used by every gradient check:
//! `L = Σ y ⊙ dy + Σ h_T ⊙ dh_T`.

use gru_core::{
    output_shape, state_len, Engine, GateActivation, GruGradients, GruOutput, GruParams, GruSpec, OutputGrads,
    OutputMode, Plan, Real, ResetGateMode, Result, SequenceBatch, StateActivation,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A complete problem: options, parameters, inputs and upstream gradients.
#[derive(Clone, Debug)]
pub struct Case<T> {
    pub spec: GruSpec,
    pub params: GruParams<T>,
    pub steps: usize,
    pub batch: usize,
    pub lengths: Vec<usize>,
    /// `[T, B, I]`.
    pub x: Vec<T>,
    /// `[D·dirs, B, H]` or none (zero).
    pub h0: Option<Vec<T>>,
    /// Shape of `y`.
    pub dy: Vec<T>,
    /// `[D·dirs, B, H]`.
    pub dh_t: Vec<T>,
}

/// Which lengths a case uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lengths {
    /// Every sequence has T steps.
    Equal,
    /// Mixed lengths, always including a sequence of length 1 and one of length T.
    Ragged,
    /// Mixed lengths, always including a sequence of length T, one of length 0 (empty) and
    /// one of length 1 (batch ≥ 3), the others drawn from `0..=T`.
    WithEmpty,
}

fn uniform<T: Real>(rng: &mut StdRng, n: usize, scale: f64) -> Vec<T> {
    (0..n).map(|_| T::lit(rng.random_range(-scale..scale))).collect()
}

impl<T: Real> Case<T> {
    /// A random case for `spec` (batch ≥ 2 when ragged so that lengths 1 and T both appear).
    pub fn random(spec: &GruSpec, steps: usize, batch: usize, lengths: Lengths, given_h0: bool, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let lengths = match lengths {
            Lengths::Equal => vec![steps; batch],
            Lengths::Ragged => (0..batch)
                .map(|b| match b {
                    0 => steps,
                    1 => 1,
                    _ => rng.random_range(1..=steps),
                })
                .collect(),
            Lengths::WithEmpty => (0..batch)
                .map(|b| match b {
                    0 => steps,
                    1 => 0,
                    2 => 1,
                    _ => rng.random_range(0..=steps),
                })
                .collect(),
        };
        // Weights large enough that hard-sigmoid and clip saturate for some elements.
        let scale = match spec.gate_activation {
            GateActivation::Sigmoid => 0.8,
            GateActivation::HardSigmoid { .. } => 1.5,
        };
        let mut params = GruParams::zeros(spec);
        let flat = uniform(&mut rng, params.num_params(), scale);
        params.set_flat(&flat).expect("flat size matches");
        let x = uniform(&mut rng, steps * batch * spec.input_size, 1.0);
        let h0 = given_h0.then(|| uniform(&mut rng, state_len(spec, batch), 1.0));
        let dy = uniform(&mut rng, output_shape(spec, steps, batch).iter().product(), 1.0);
        let dh_t = uniform(&mut rng, state_len(spec, batch), 1.0);
        Self { spec: spec.clone(), params, steps, batch, lengths, x, h0, dy, dh_t }
    }

    /// The batch view of this case.
    pub fn batch_view(&self) -> SequenceBatch<'_, T> {
        let b = SequenceBatch::new(&self.x, self.steps, self.batch).with_lengths(&self.lengths);
        match &self.h0 {
            Some(h0) => b.with_initial_state(h0),
            None => b,
        }
    }

    /// Runs forward (training) and backward on `engine`.
    pub fn run(&self, engine: &dyn Engine<T>) -> Result<(GruOutput<T>, GruGradients<T>)> {
        let mut prepared = engine.prepare(&self.spec, &self.params, &Plan::training())?;
        let (out, saved) = prepared.forward_train(&self.batch_view())?;
        let grads = prepared.backward(saved, &OutputGrads { dy: &self.dy, dh_t: Some(&self.dh_t) })?;
        Ok((out, grads))
    }

    /// This case with the padding of `x` (`x[t, b, :]` for `t >= lengths[b]`) replaced by
    /// `values`, repeated in turn (for example `[NaN, inf, -inf]`).
    pub fn with_padding(&self, values: &[f64]) -> Self {
        let (batch, inp) = (self.batch, self.spec.input_size);
        let mut out = self.clone();
        let mut fill = values.iter().cycle();
        for (row, step) in out.x.chunks_exact_mut(inp).enumerate() {
            if row / batch >= self.lengths[row % batch] {
                step.iter_mut().for_each(|v| *v = T::lit(*fill.next().expect("at least one value")));
            }
        }
        out
    }

    /// The sub-batch of the sequences `rows` (in that order): their `x`, lengths, h0, dy and
    /// dh_T, with the same parameters and steps.
    pub fn select(&self, rows: &[usize]) -> Self {
        let (spec, batch, n) = (&self.spec, self.batch, rows.len());
        // The rows of a `[outer, B, inner]` tensor.
        let pick = |v: &[T], inner: usize| -> Vec<T> {
            let outer = v.len() / (batch * inner);
            (0..outer)
                .flat_map(|o| rows.iter().flat_map(move |&b| v[(o * batch + b) * inner..][..inner].to_vec()))
                .collect()
        };
        let hid = spec.hidden_size;
        let dy_inner = spec.output_size();
        Self {
            spec: spec.clone(),
            params: self.params.clone(),
            steps: self.steps,
            batch: n,
            lengths: rows.iter().map(|&b| self.lengths[b]).collect(),
            x: pick(&self.x, spec.input_size),
            h0: self.h0.as_deref().map(|h| pick(h, hid)),
            dy: pick(&self.dy, dy_inner),
            dh_t: pick(&self.dh_t, hid),
        }
    }

    /// `L = Σ y ⊙ dy + Σ h_T ⊙ dh_T` in f64, for finite differences.
    pub fn loss(&self, out: &GruOutput<T>) -> f64 {
        let dot = |a: &[T], b: &[T]| a.iter().zip(b).map(|(p, q)| p.widen() * q.widen()).sum::<f64>();
        dot(&out.y, &self.dy) + dot(&out.h_t, &self.dh_t)
    }
}

/// One point of the option cross product.
#[derive(Clone, Copy, Debug)]
pub struct OptionPoint {
    pub mode: ResetGateMode,
    pub state: StateActivation,
    pub gate: GateActivation,
    pub depth: usize,
    pub bidirectional: bool,
    pub output: OutputMode,
    pub lengths: Lengths,
    pub given_h0: bool,
    pub clip: Option<f64>,
}

impl OptionPoint {
    /// The spec of this point for input size `input` and hidden size `hidden`.
    pub fn spec(&self, input: usize, hidden: usize) -> GruSpec {
        GruSpec::new(input, hidden)
            .with_depth(self.depth)
            .with_bidirectional(self.bidirectional)
            .with_reset_gate_mode(self.mode)
            .with_state_activation(self.state)
            .with_gate_activation(self.gate)
            .with_clip(self.clip)
            .with_output_mode(self.output)
    }
}

/// The full cross product: 3 reset modes × 2 state activations × 2 gate activations ×
/// depth {1, 2, 3} × {uni, bi} × output {sequence, last} × lengths {equal, ragged} ×
/// initial state {zero, given} × clip {none, 0.7}: 1152 points.
pub fn cross_product() -> Vec<OptionPoint> {
    let mut out = Vec::new();
    for mode in ResetGateMode::ALL {
        for state in [StateActivation::Tanh, StateActivation::Softsign] {
            for gate in [GateActivation::Sigmoid, GateActivation::HARD_SIGMOID] {
                for depth in 1..=3 {
                    for bidirectional in [false, true] {
                        for output in [OutputMode::Sequence, OutputMode::Last] {
                            for lengths in [Lengths::Equal, Lengths::Ragged] {
                                for given_h0 in [false, true] {
                                    for clip in [None, Some(0.7)] {
                                        out.push(OptionPoint {
                                            mode,
                                            state,
                                            gate,
                                            depth,
                                            bidirectional,
                                            output,
                                            lengths,
                                            given_h0,
                                            clip,
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}
