//! Running a [`GruLayer`]: prediction, stateful prediction, training forward and backward,
//! in any [`SequenceFormat`].

use gru_core::{OutputGrads, OutputMode, Plan, PreparedGru, Real, Saved, SequenceBatch};

use super::format::SequenceFormat;
use super::gru_layer::GruLayer;
use super::state::{broadcast, sum_over_batch, HiddenState};
use crate::engines::engine_for;
use crate::error::{Error, Result};

/// The inputs of a layer: "in" (a batch of sequences) and, with HasStateInputs, "hidden".
#[derive(Clone, Copy, Debug)]
pub struct LayerInput<'a, T> {
    /// The sequences, laid out as `format` with `dims` in that format's order.
    pub x: &'a [T],
    pub format: SequenceFormat,
    pub dims: [usize; 3],
    /// `lengths[b]` in `0..=T` (0: an empty sequence, see `gru_core::lengths`); `None`: every
    /// sequence has T steps. The steps past a length are padding, never read.
    pub lengths: Option<&'a [usize]>,
    /// The "hidden" input `[D·dirs, B, H]` (HasStateInputs only).
    pub hidden: Option<&'a [T]>,
}

impl<'a, T> LayerInput<'a, T> {
    /// Time-major `[T, B, C]` (canonical).
    pub fn tbc(x: &'a [T], steps: usize, batch: usize, channels: usize) -> Self {
        Self { x, format: SequenceFormat::Tbc, dims: [steps, batch, channels], lengths: None, hidden: None }
    }
    /// Batch-major `[B, T, C]`.
    pub fn btc(x: &'a [T], batch: usize, steps: usize, channels: usize) -> Self {
        Self { x, format: SequenceFormat::Btc, dims: [batch, steps, channels], lengths: None, hidden: None }
    }
    /// MATLAB's dimension order `[C, B, T]` (row-major, channel slowest).
    pub fn cbt(x: &'a [T], channels: usize, batch: usize, steps: usize) -> Self {
        Self { x, format: SequenceFormat::Cbt, dims: [channels, batch, steps], lengths: None, hidden: None }
    }
    /// Per-sequence lengths.
    pub fn with_lengths(mut self, lengths: &'a [usize]) -> Self {
        self.lengths = Some(lengths);
        self
    }
    /// The "hidden" input `[D·dirs, B, H]`.
    pub fn with_hidden(mut self, hidden: &'a [T]) -> Self {
        self.hidden = Some(hidden);
        self
    }
}

/// The outputs of a layer: "out" and, with HasStateOutputs, "hidden".
#[derive(Clone, Debug, PartialEq)]
pub struct LayerOutput<T> {
    /// "out" in the input's format: sequence mode `[T, B, C]`/`[B, T, C]`/`[C, B, T]`; last
    /// mode `[B, C]` (`[C, B]` for the CBT format). C = dirs·H.
    pub out: Vec<T>,
    pub out_dims: Vec<usize>,
    /// "hidden" `[D·dirs, B, H]`: each block's state after its last valid step.
    pub hidden: Option<Vec<T>>,
    /// The engine and path that computed it.
    pub computed_by: &'static str,
}

/// Where the initial state of a call came from (its gradient goes back there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StateSource {
    Zero,
    HiddenInput,
    HiddenState,
    Learnable,
}

/// What `backward` needs from `forward_train`.
#[derive(Debug)]
pub struct LayerSaved {
    saved: Saved,
    format: SequenceFormat,
    steps: usize,
    batch: usize,
    source: StateSource,
}

/// Gradients of a layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerGradients<T> {
    /// dL/d"in", in the input's format.
    pub dx: Vec<T>,
    /// dL/d"hidden" input `[D·dirs, B, H]` (HasStateInputs only).
    pub dhidden: Option<Vec<T>>,
    /// dL/dθ for every block.
    pub params: gru_core::GruParams<T>,
    /// dL/d(learnable initial state) `[D·dirs, H]`, summed over the batch.
    pub initial_state: Option<Vec<T>>,
}

/// An input resolved to the canonical layout.
struct Canonical<T> {
    x: Vec<T>,
    steps: usize,
    batch: usize,
    h0: Option<Vec<T>>,
    source: StateSource,
}

impl<T: Real> GruLayer<T> {
    /// Inference: "out" (and "hidden"), starting from the hidden state; the state is not
    /// updated (MATLAB `predict`).
    pub fn predict(&mut self, input: &LayerInput<'_, T>) -> Result<LayerOutput<T>> {
        Ok(self.predict_from(input, None)?.0)
    }

    /// Stateful prediction (MATLAB `predictAndUpdateState`): like [`GruLayer::predict`],
    /// then the hidden state becomes each sequence's final state, so that the next call
    /// continues the sequences. Refused for bidirectional and reverse layers.
    pub fn predict_and_update_state(&mut self, input: &LayerInput<'_, T>) -> Result<LayerOutput<T>> {
        if self.opts.spec.bidirectional || self.opts.spec.reverse {
            let which = if self.opts.spec.reverse { "a reverse" } else { "a bidirectional" };
            return Err(Error::Unsupported {
                operation: "predict_and_update_state".into(),
                reason: format!("{which} layer's reverse direction needs the whole sequence"),
            });
        }
        if self.opts.has_state_inputs {
            return Err(Error::Unsupported {
                operation: "predict_and_update_state".into(),
                reason: "the layer has state inputs: pass the state as the \"hidden\" input".into(),
            });
        }
        let (out, h_t) = self.predict_from(input, None)?;
        let batch = input.format.tbc_dims(input.dims).1;
        self.hidden_state = Some(HiddenState::per_sequence(h_t, batch));
        Ok(out)
    }

    /// Chooses the regularizers' masks of the next training forward (see
    /// [`gru_core::PreparedGru::set_mask_draw`]): the same draw gives the same masks.
    pub fn set_mask_draw(&mut self, draw: u64) -> Result<()> {
        self.prepared()?.set_mask_draw(draw);
        Ok(())
    }

    /// Training forward: outputs and the state `backward` needs. Refused in Inference mode.
    pub fn forward_train(&mut self, input: &LayerInput<'_, T>) -> Result<(LayerOutput<T>, LayerSaved)> {
        let (out, saved, _) = self.forward_train_from(input, None)?;
        Ok((out, saved))
    }

    /// [`GruLayer::predict`] from an explicit initial state `[D·dirs, B, H]` (when given),
    /// also returning the final state `[D·dirs, B, H]` (for networks and truncated BPTT).
    pub(crate) fn predict_from(
        &mut self,
        input: &LayerInput<'_, T>,
        h0: Option<&[T]>,
    ) -> Result<(LayerOutput<T>, Vec<T>)> {
        let c = self.canonical(input, h0)?;
        let prepared = self.prepared()?;
        let out = prepared.forward(&batch_of(&c, input.lengths))?;
        let h_t = out.h_t.clone();
        Ok((self.output(out, input.format, c.steps, c.batch), h_t))
    }

    /// [`GruLayer::forward_train`] from an explicit initial state (its gradient is not
    /// returned: truncated BPTT), also returning the final state.
    pub(crate) fn forward_train_from(
        &mut self,
        input: &LayerInput<'_, T>,
        h0: Option<&[T]>,
    ) -> Result<(LayerOutput<T>, LayerSaved, Vec<T>)> {
        let c = self.canonical(input, h0)?;
        let prepared = self.prepared()?;
        let (out, saved) = prepared.forward_train(&batch_of(&c, input.lengths))?;
        let h_t = out.h_t.clone();
        let saved = LayerSaved { saved, format: input.format, steps: c.steps, batch: c.batch, source: c.source };
        Ok((self.output(out, input.format, c.steps, c.batch), saved, h_t))
    }

    /// Gradients from dL/d"out" (in the input's format) and, with HasStateOutputs, dL/d"hidden".
    pub fn backward(&mut self, saved: LayerSaved, dout: &[T], dhidden: Option<&[T]>) -> Result<LayerGradients<T>> {
        if dhidden.is_some() && !self.opts.has_state_outputs {
            return Err(Error::property("HasStateOutputs", false, "a gradient for the \"hidden\" output was given"));
        }
        let spec = self.spec()?;
        let (steps, batch, c) = (saved.steps, saved.batch, spec.output_size());
        let dy = match spec.output_mode {
            OutputMode::Sequence => {
                expect_len("dout", dout.len(), steps * batch * c)?;
                saved.format.to_tbc(dout, (steps, batch, c))
            }
            OutputMode::Last => {
                expect_len("dout", dout.len(), batch * c)?;
                saved.format.to_bc(dout, batch, c)
            }
        };
        let prepared = self.prepared()?;
        let g = prepared.backward(saved.saved, &OutputGrads { dy: &dy, dh_t: dhidden })?;
        let (blocks, h) = (spec.num_blocks(), spec.hidden_size);
        Ok(LayerGradients {
            dx: saved.format.from_tbc(&g.dx, (steps, batch, spec.input_size)),
            dhidden: (saved.source == StateSource::HiddenInput).then(|| g.dh0.clone()),
            initial_state: (saved.source == StateSource::Learnable).then(|| sum_over_batch(&g.dh0, blocks, h, batch)),
            params: g.params,
        })
    }

    /// The prepared engine, created on first use with the layer's engine and plan.
    fn prepared(&mut self) -> Result<&mut Box<dyn PreparedGru<T>>> {
        if self.prepared.is_none() {
            let spec = self.spec()?;
            let params = self.params.as_ref().ok_or_else(|| Error::Unresolved {
                property: "InputWeights".into(),
                reason: "the weights are drawn once InputSize is known".into(),
            })?;
            let plan = Plan {
                batch_sizes: self.opts.batch_sizes.clone(),
                max_steps: self.opts.timestep_count,
                mode: self.opts.mode,
            };
            let prepared = engine_for::<T>(self.opts.engine)?.prepare(&spec, params, &plan)?;
            self.prepared = Some(prepared);
        }
        Ok(self.prepared.as_mut().expect("prepared above"))
    }

    /// Converts the input to `[T, B, C]`, resolves InputSize "auto" and the initial state.
    fn canonical(&mut self, input: &LayerInput<'_, T>, h0_override: Option<&[T]>) -> Result<Canonical<T>> {
        let (steps, batch, channels) = input.format.tbc_dims(input.dims);
        let expected = input.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if expected != Some(input.x.len()) {
            return Err(Error::property(
                "in",
                format!("{} values", input.x.len()),
                format!(
                    "dims {:?} in {:?} format need {}",
                    input.dims,
                    input.format,
                    expected.map_or("more than fit".to_string(), |e| e.to_string())
                ),
            ));
        }
        match self.input_size() {
            None if channels > 0 => self.initialize(channels)?,
            Some(i) if i != channels => {
                return Err(Error::property("in", format!("{channels} channels"), format!("InputSize is {i}")));
            }
            _ => {}
        }
        let (blocks, h) = (self.blocks(), self.opts.spec.hidden_size);
        let (h0, source) = if let Some(h0) = h0_override {
            (Some(h0.to_vec()), StateSource::HiddenState)
        } else if self.opts.has_state_inputs {
            let hidden = input.hidden.ok_or_else(|| {
                Error::property("hidden", "missing", "HasStateInputs is true: pass the \"hidden\" input [D·dirs, B, H]")
            })?;
            (Some(hidden.to_vec()), StateSource::HiddenInput)
        } else if input.hidden.is_some() {
            return Err(Error::property("HasStateInputs", false, "a \"hidden\" input was given"));
        } else if let Some(state) = &self.hidden_state {
            (Some(state.expand(blocks, h, batch)?), StateSource::HiddenState)
        } else if let Some(init) = &self.initial_state {
            (Some(broadcast(init, blocks, h, batch)), StateSource::Learnable)
        } else {
            (None, StateSource::Zero)
        };
        let x = input.format.to_tbc(input.x, (steps, batch, channels));
        Ok(Canonical { x, steps, batch, h0, source })
    }

    fn output(
        &self,
        out: gru_core::GruOutput<T>,
        format: SequenceFormat,
        steps: usize,
        batch: usize,
    ) -> LayerOutput<T> {
        let c = self.opts.spec.output_size();
        let (data, dims) = match self.opts.spec.output_mode {
            OutputMode::Sequence => (format.from_tbc(&out.y, (steps, batch, c)), format.dims(steps, batch, c).to_vec()),
            OutputMode::Last => (format.from_bc(&out.y, batch, c), format.last_dims(batch, c).to_vec()),
        };
        LayerOutput {
            out: data,
            out_dims: dims,
            hidden: self.opts.has_state_outputs.then_some(out.h_t),
            computed_by: out.computed_by,
        }
    }
}

fn batch_of<'a, T: Real>(c: &'a Canonical<T>, lengths: Option<&'a [usize]>) -> SequenceBatch<'a, T> {
    SequenceBatch { x: &c.x, steps: c.steps, batch: c.batch, lengths, h0: c.h0.as_deref() }
}

fn expect_len(field: &str, actual: usize, expected: usize) -> Result<()> {
    if actual != expected {
        return Err(gru_core::GruError::ShapeMismatch {
            field: field.into(),
            shape: "the shape of \"out\"".into(),
            expected,
            actual,
        }
        .into());
    }
    Ok(())
}
