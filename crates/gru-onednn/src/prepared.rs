//! The prepared stack: groups a batch by length, runs each group through the parts'
//! primitives, scatters the results back; keeps what backward needs in [`Saved`].
//!
//! ```text
//! x  [T, B, I] ──gather──▶ group [len, n, I] ──part 0──▶ [len, n, dirs·H] ──part 1──▶ …
//! y  [T, B, dirs·H] ◀──scatter── (zero past each length)    h_T ◀── dst_iter per part
//! ```
//! Only the steps inside each sequence are gathered, so the padding is never read (NaN
//! there cannot reach oneDNN). The sequences of length 0 run nothing: y = 0 (output mode
//! last: the top layer's h_T), h_T = h0, dx = 0, dh0 = dh_T (`gru_core::lengths`).

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use gru_core::{
    output_shape, state_len, GruError, GruGradients, GruOutput, GruParams, GruSpec, Mode, OutputGrads, OutputMode,
    PreparedGru, Real, Saved, SequenceBatch,
};

use crate::dnnl::{Context, ENGINE};
use crate::groups::{self, Group};
use crate::layout::{pack, unpack_grads, PartWeights};
use crate::rnn::{Part, PartRun, Prop};

/// Gives every prepared stack its own identity (saved state names the one it belongs to).
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(0);

/// A GRU stack prepared on oneDNN; computes in f32 (`T` is f32: `prepare` refuses f64).
pub struct OneDnnPrepared<T> {
    spec: GruSpec,
    mode: Mode,
    ctx: Context,
    parts: Vec<Part>,
    instance: u64,
    generation: u64,
    /// The stream step's buffers ([`PreparedGru::step`]).
    step: StepBuffers,
    _t: PhantomData<fn() -> T>,
}

/// The stream step's f32 buffers, kept across steps (they grow with `n` only): the frames
/// `x` `[1, n, I]`, the states `h` `[D, n, H]`, and per part its `dst_layer` `[1, n, H]`,
/// `dst_iter` `[L, n, H]` and workspace.
#[derive(Default)]
struct StepBuffers {
    x: Vec<f32>,
    h: Vec<f32>,
    parts: Vec<[Vec<f32>; 3]>,
}

/// One length group of a training forward.
struct SavedGroup {
    group: Group,
    /// `[len, n, I]`.
    x: Vec<f32>,
    /// `[D·dirs, n, H]`.
    h0: Vec<f32>,
    /// One run per part, bottom first.
    runs: Vec<PartRun>,
}

/// The state of one `forward_train`, and what it belongs to.
struct OneDnnSaved {
    instance: u64,
    generation: u64,
    steps: usize,
    batch: usize,
    lengths: Vec<usize>,
    groups: Vec<SavedGroup>,
}

fn narrow<T: Real>(v: T) -> f32 {
    v.widen() as f32
}

impl<T: Real> OneDnnPrepared<T> {
    pub(crate) fn new(spec: GruSpec, mode: Mode, ctx: Context, parts: Vec<Part>) -> Self {
        Self {
            spec,
            mode,
            ctx,
            parts,
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            generation: 0,
            step: StepBuffers::default(),
            _t: PhantomData,
        }
    }

    /// The range of a part's blocks in a group state `[D·dirs, n, H]`.
    fn state_range(&self, p: usize, n: usize) -> std::ops::Range<usize> {
        let blocks = self.parts[p].blocks();
        let per = n * self.spec.hidden_size;
        blocks.start * per..blocks.end * per
    }

    fn run(
        &mut self,
        batch: &SequenceBatch<'_, T>,
        prop: Prop,
    ) -> gru_core::Result<(GruOutput<T>, Vec<SavedGroup>, Vec<usize>)> {
        let lengths = batch.validate(&self.spec)?;
        let (steps, b) = (batch.steps, batch.batch);
        let (input, hidden, width) = (self.spec.input_size, self.spec.hidden_size, self.spec.output_size());
        let y_shape = output_shape(&self.spec, steps, b);
        let mut y = vec![T::zero(); y_shape.iter().product()];
        let mut h_t = vec![T::zero(); state_len(&self.spec, b)];
        let mut saved = Vec::new();
        for g in groups::by_length(&lengths) {
            if g.len == 0 {
                // Nothing to run: h_T = h0 (y stays zero; output mode last below).
                if let Some(h0) = batch.h0 {
                    copy_rows(h0, &mut h_t, b, hidden, &g.members);
                }
                continue;
            }
            let (n, t) = (g.size(), g.len);
            let mut x = Vec::new();
            groups::gather_steps(batch.x, b, input, &g, &mut x, narrow);
            let h0 = match batch.h0 {
                Some(h0) => groups::gather_state(h0, b, hidden, &g, narrow),
                None => vec![0.0; state_len(&self.spec, n)],
            };
            // oneDNN 2.6's inference kernels round differently from its training kernels
            // for a 1×1 problem (one step, one sequence): run that one as training, so that
            // `forward` and `forward_train` agree bit for bit (the workspace is dropped).
            let kind = if prop == Prop::Inference && n * t == 1 { Prop::Training } else { prop };
            let mut h_tg = vec![0.0f32; h0.len()];
            let mut runs: Vec<PartRun> = Vec::with_capacity(self.parts.len());
            for p in 0..self.parts.len() {
                let range = self.state_range(p, n);
                let src = runs.last().map_or(&x[..], |r| &r.dst_layer[..]);
                let run = self.parts[p].forward(&mut self.ctx, kind, n, t, src, &h0[range.clone()])?;
                h_tg[range].copy_from_slice(&run.dst_iter);
                runs.push(run);
            }
            let top = &runs[runs.len() - 1].dst_layer;
            match self.spec.output_mode {
                OutputMode::Sequence => groups::scatter_steps(top, b, width, &g, &mut y, |v| T::lit(f64::from(v))),
                OutputMode::Last => groups::scatter_last(top, width, &g, &mut y, |v| T::lit(f64::from(v))),
            }
            groups::scatter_state(&h_tg, b, hidden, &g, &mut h_t, |v| T::lit(f64::from(v)));
            if prop == Prop::Training {
                saved.push(SavedGroup { group: g, x, h0, runs });
            }
        }
        gru_core::lengths::empty_last_outputs(&self.spec, &mut y, &h_t, &lengths);
        Ok((GruOutput { y, y_shape, h_t, computed_by: ENGINE }, saved, lengths))
    }
}

/// Copies the rows `members` of a `[blocks, B, width]` state from `src` into `dst`.
fn copy_rows<T: Copy>(src: &[T], dst: &mut [T], batch: usize, width: usize, members: &[usize]) {
    for k in 0..dst.len() / (batch * width) {
        for &b in members {
            let at = (k * batch + b) * width;
            dst[at..at + width].copy_from_slice(&src[at..at + width]);
        }
    }
}

impl<T: Real> PreparedGru<T> for OneDnnPrepared<T> {
    fn computed_by(&self) -> &'static str {
        ENGINE
    }

    fn spec(&self) -> &GruSpec {
        &self.spec
    }

    fn mode(&self) -> Mode {
        self.mode
    }

    fn set_params(&mut self, params: &GruParams<T>) -> gru_core::Result<()> {
        params.check(&self.spec)?;
        for part in &mut self.parts {
            part.set_weights(pack(params, self.spec.reset_gate_mode, part.blocks()));
        }
        self.generation += 1;
        Ok(())
    }

    fn forward(&mut self, batch: &SequenceBatch<'_, T>) -> gru_core::Result<GruOutput<T>> {
        Ok(self.run(batch, Prop::Inference)?.0)
    }

    /// One step of `n` streams: what `forward` computes over one time step with `state`
    /// as `h0` (the same primitives: `(n, 1)`, run as training when `n = 1`, see `run`),
    /// through buffers and primitives kept across steps: once a step of each `n` has run,
    /// a step allocates nothing on the Rust side. (oneDNN binds each argument as a memory
    /// object of its own heap for the call, `Context::execute`.)
    fn step(&mut self, frames: &[T], n: usize, state: &mut [T], out: &mut [T]) -> gru_core::Result<()> {
        gru_core::stream::check_step(&self.spec, frames, n, state, out)?;
        let kind = if n == 1 { Prop::Training } else { Prop::Inference };
        let hidden = self.spec.hidden_size;
        let StepBuffers { x, h, parts } = &mut self.step;
        x.clear();
        x.extend(frames.iter().map(|&v| narrow(v)));
        h.clear();
        h.extend(state.iter().map(|&v| narrow(v)));
        parts.resize_with(self.parts.len(), Default::default);
        for p in 0..self.parts.len() {
            let blocks = self.parts[p].blocks();
            let range = blocks.start * n * hidden..blocks.end * n * hidden;
            let (done, rest) = parts.split_at_mut(p);
            let [dst_layer, dst_iter, workspace] = &mut rest[0];
            dst_layer.resize(n * hidden, 0.0);
            dst_iter.resize(range.len(), 0.0);
            let src = done.last().map_or(&x[..], |d| &d[0][..]);
            self.parts[p].forward_into(
                &mut self.ctx,
                kind,
                n,
                1,
                src,
                &h[range.clone()],
                dst_layer,
                dst_iter,
                workspace,
            )?;
            for (s, &v) in state[range].iter_mut().zip(dst_iter.iter()) {
                *s = T::lit(f64::from(v));
            }
        }
        let top = (self.spec.depth - 1) * n * hidden;
        out.copy_from_slice(&state[top..top + n * hidden]);
        Ok(())
    }

    fn forward_train(&mut self, batch: &SequenceBatch<'_, T>) -> gru_core::Result<(GruOutput<T>, Saved)> {
        if self.mode != Mode::Training {
            return Err(GruError::ModeMismatch { operation: "forward_train".into(), mode: self.mode.to_string() });
        }
        let (out, groups, lengths) = self.run(batch, Prop::Training)?;
        let saved = OneDnnSaved {
            instance: self.instance,
            generation: self.generation,
            steps: batch.steps,
            batch: batch.batch,
            lengths,
            groups,
        };
        Ok((out, Saved::new(ENGINE, saved)))
    }

    fn backward(&mut self, saved: Saved, grads: &OutputGrads<'_, T>) -> gru_core::Result<GruGradients<T>> {
        if self.mode != Mode::Training {
            return Err(GruError::ModeMismatch { operation: "backward".into(), mode: self.mode.to_string() });
        }
        let saved: OneDnnSaved = saved.take(ENGINE)?;
        if saved.instance != self.instance {
            return Err(GruError::SavedMismatch { reason: "saved by another prepared GRU stack".into() });
        }
        if saved.generation != self.generation {
            return Err(GruError::SavedMismatch {
                reason: "the parameters were replaced (set_params) after forward_train".into(),
            });
        }
        grads.validate(&self.spec, saved.steps, saved.batch)?;
        let (steps, b) = (saved.steps, saved.batch);
        let (input, hidden, width) = (self.spec.input_size, self.spec.hidden_size, self.spec.output_size());
        let mut dx = vec![T::zero(); steps * b * input];
        let mut dh0 = vec![T::zero(); state_len(&self.spec, b)];
        let mut sums: Vec<PartWeights> = self.parts.iter().map(|p| p.shape.zero_weights()).collect();
        // Output mode last: the gradient of a length-0 sequence's output goes to its top h_T.
        let dh_t_all = gru_core::lengths::empty_last_grads(&self.spec, grads.dy, grads.dh_t, &saved.lengths);
        let dh_t_all = dh_t_all.as_deref().or(grads.dh_t);
        // The sequences of length 0 ran nothing: dh0 = dh_T, dx = 0.
        if let Some(d) = dh_t_all {
            let empty: Vec<usize> = (0..b).filter(|&m| saved.lengths[m] == 0).collect();
            copy_rows(d, &mut dh0, b, hidden, &empty);
        }
        for sg in &saved.groups {
            let g = &sg.group;
            let (n, t) = (g.size(), g.len);
            let mut diff = match self.spec.output_mode {
                OutputMode::Sequence => {
                    let mut d = Vec::new();
                    groups::gather_steps(grads.dy, b, width, g, &mut d, narrow);
                    d
                }
                OutputMode::Last => groups::expand_last(grads.dy, width, g, narrow),
            };
            let dh_t = match dh_t_all {
                Some(d) => groups::gather_state(d, b, hidden, g, narrow),
                None => vec![0.0; sg.h0.len()],
            };
            let mut dh0g = vec![0.0f32; sg.h0.len()];
            for p in (0..self.parts.len()).rev() {
                let range = self.state_range(p, n);
                let src = if p == 0 { &sg.x[..] } else { &sg.runs[p - 1].dst_layer[..] };
                let pg = self.parts[p].backward(
                    &mut self.ctx,
                    n,
                    t,
                    src,
                    &sg.h0[range.clone()],
                    &sg.runs[p],
                    &diff,
                    &dh_t[range.clone()],
                )?;
                dh0g[range].copy_from_slice(&pg.diff_src_iter);
                sums[p].add(&pg.weights);
                diff = pg.diff_src_layer;
            }
            groups::scatter_steps(&diff, b, input, g, &mut dx, |v| T::lit(f64::from(v)));
            groups::scatter_state(&dh0g, b, hidden, g, &mut dh0, |v| T::lit(f64::from(v)));
        }
        let mut params = GruParams::zeros(&self.spec);
        for (part, sum) in self.parts.iter().zip(&sums) {
            unpack_grads(sum, self.spec.reset_gate_mode, part.blocks(), &mut params);
        }
        Ok(GruGradients { dx, dh0, params })
    }
}
