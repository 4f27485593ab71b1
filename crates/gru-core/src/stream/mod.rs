//! Streaming inference: many independent streams (speech, sensors, agents), each advanced
//! one frame at a time, each with its own state that callers can read, set and reset.
//!
//! ```text
//! StreamSet::new(prepared, capacity)           slots for `capacity` streams, states zero
//! open() -> StreamId, close(id)                take and free a slot
//! step(frames [n, I], ids [n]) -> y [n, H]     advances only the named streams, one step
//! reset(ids), state(id) -> [D, H], set_state(id, h)   a stream's state, every layer's
//! set_initial_state(h)                         what open and reset start from (zero)
//! ```
//!
//! One step of stream `s` is one time step of the stack (DESIGN.md's equations, layer by
//! layer, each layer's state `h^ℓ` carried in the stream's slot):
//! ```text
//! h^0_t = GRU_0(x_t, h^0_{t-1}),  h^ℓ_t = GRU_ℓ(h^{ℓ-1}_t, h^ℓ_{t-1}),  y_t = h^{D-1}_t
//! ```
//! so that stepping a stream frame by frame gives the outputs of its whole sequence run in
//! one `forward` (output mode sequence: `y[t]`; its final state: `h_T`), whatever the other
//! streams do. The native engine's fast path runs the dense sweep's own step
//! (`native/block.rs`, `sweep_step`) on one thread, or the unit split's step on several
//! (`native/step.rs` chooses, `native/step_team.rs`): bit for bit the same where each
//! row's products do not depend on the number of rows nor on the columns computed with
//! them (f32 with the panel kernel, AVX-512 or AVX2+FMA); elsewhere (f64,
//! `GRU_ISA=portable`) the GEMM crate may round a one-row product differently, within the
//! tolerance rule. OneDNN runs its `forward`'s primitives over one time step with the
//! carried states as `h0`, kept with their buffers across steps; an engine without a
//! step of its own steps through its `forward` ([`step_by_forward`]); both within the
//! tolerance rule.
//!
//! Bidirectional and reverse stacks are refused (the field named): a direction that reads
//! backwards needs the frames that have not come yet. Layouts: `frames` `[n, I]` (row `i` is stream `ids[i]`'s frame), `y` `[n, H]`,
//! a stream's state `[D, H]` (layer-major, as `h0` of one sequence).
//!
//! Allocation: after the first step of the largest `n` (the warm-up; on OneDNN a step of
//! each `n`), a step of the native fast path or of OneDNN allocates nothing (`open`,
//! `close`, `reset`, `state` and `set_state` never do); the [`step_by_forward`] fallback
//! allocates the outputs of each `forward` call.

mod slots;

pub use slots::StreamId;

use crate::batch::SequenceBatch;
use crate::engine::{Engine, Plan, PreparedGru};
use crate::error::{GruError, Result};
use crate::params::{check_finite, GruParams};
use crate::real::Real;
use crate::spec::GruSpec;
use slots::Slots;

/// The shapes of one engine-level step ([`PreparedGru::step`]): `frames` `[n, I]`, `state`
/// `[D, n, H]`, `out` `[n, H]`, `n >= 1`, and a unidirectional stack.
pub fn check_step<T>(spec: &GruSpec, frames: &[T], n: usize, state: &[T], out: &[T]) -> Result<()> {
    check_streamable(spec, "step")?;
    if n == 0 {
        return Err(GruError::EmptyDimension { field: "n".into(), value: 0 });
    }
    let (i, h, d) = (spec.input_size, spec.hidden_size, spec.depth);
    // The shape's words are written only for an error (a step allocates nothing).
    let expect = |field: &str, shape: &dyn Fn() -> String, want: usize, got: usize| {
        if want == got {
            Ok(())
        } else {
            Err(GruError::ShapeMismatch { field: field.into(), shape: shape(), expected: want, actual: got })
        }
    };
    expect("frames", &|| format!("[n, I] = [{n}, {i}]"), n * i, frames.len())?;
    expect("state", &|| format!("[D, n, H] = [{d}, {n}, {h}]"), d * n * h, state.len())?;
    expect("out", &|| format!("[n, H] = [{n}, {h}]"), n * h, out.len())
}

/// Refuses what cannot stream: a bidirectional or reverse stack (it reads the frames that
/// have not come yet), naming the field.
fn check_streamable(spec: &GruSpec, engine: &str) -> Result<()> {
    for (field, on) in [("bidirectional", spec.bidirectional), ("reverse", spec.reverse)] {
        if on {
            return Err(GruError::Unsupported {
                engine: engine.into(),
                field: field.into(),
                value: "true".into(),
                reason: "streaming steps forward in time; a direction that reads the sequence backwards needs the \
                         frames that have not come yet"
                    .into(),
            });
        }
    }
    Ok(())
}

/// The generic step of an engine that has no step of its own: its `forward` over one time
/// step, `x = frames` as `[1, n, I]` and `h0 = state`; then `out` = the top layer's `h_T`
/// and `state = h_T`. Allocates what `forward` returns.
pub fn step_by_forward<T: Real, P: PreparedGru<T> + ?Sized>(
    prepared: &mut P,
    frames: &[T],
    n: usize,
    state: &mut [T],
    out: &mut [T],
) -> Result<()> {
    check_step(prepared.spec(), frames, n, state, out)?;
    let per_layer = n * prepared.spec().hidden_size;
    let top = (prepared.spec().depth - 1) * per_layer;
    let result = prepared.forward(&SequenceBatch::new(frames, 1, n).with_initial_state(state))?;
    out.copy_from_slice(&result.h_t[top..top + per_layer]);
    state.copy_from_slice(&result.h_t);
    Ok(())
}

/// Slots for up to `capacity` independent streams over one prepared stack: each open
/// stream keeps its state (`[D, H]`, every layer's), and a step advances only the streams
/// it names. See the module for the equations and guarantees.
pub struct StreamSet<T: Real> {
    prepared: Box<dyn PreparedGru<T>>,
    slots: Slots,
    /// The state a stream starts from (`open`, `reset`), `[D, H]`: zero unless set.
    initial: Vec<T>,
    /// `[capacity, D, H]`: slot `s`, layer `ℓ` at `(s·D + ℓ)·H`.
    states: Vec<T>,
    /// The slots of the current step's ids, in order.
    rows: Vec<usize>,
    /// The states of the current step's streams, gathered `[D, n, H]`.
    work: Vec<T>,
    /// The current step's output `[n, H]`.
    out: Vec<T>,
}

impl<T: Real> StreamSet<T> {
    /// A set of `capacity` slots over `prepared` (which it keeps); no stream open.
    /// Refuses a bidirectional stack and a capacity of 0.
    pub fn new(prepared: Box<dyn PreparedGru<T>>, capacity: usize) -> Result<Self> {
        check_streamable(prepared.spec(), prepared.computed_by())?;
        if capacity == 0 {
            return Err(GruError::EmptyDimension { field: "capacity".into(), value: 0 });
        }
        let (d, h) = (prepared.spec().depth, prepared.spec().hidden_size);
        let len = capacity
            .checked_mul(d * h)
            .ok_or_else(|| GruError::option("capacity", capacity, "the states [capacity, D, H] overflow usize"))?;
        Ok(Self {
            slots: Slots::new(capacity)?,
            initial: vec![T::zero(); d * h],
            states: vec![T::zero(); len],
            rows: Vec::with_capacity(capacity),
            work: vec![T::zero(); len],
            out: vec![T::zero(); capacity * h],
            prepared,
        })
    }

    /// Prepares `spec` and `params` on `engine` for inference (batch sizes up to
    /// `capacity` announced) and makes a set of `capacity` slots over it.
    pub fn prepare(engine: &dyn Engine<T>, spec: &GruSpec, params: &GruParams<T>, capacity: usize) -> Result<Self> {
        check_streamable(spec, &engine.kind().to_string())?;
        let plan = Plan { batch_sizes: vec![capacity.max(1)], max_steps: Some(1), ..Plan::inference() };
        Self::new(engine.prepare(spec, params, &plan)?, capacity)
    }

    /// The spec of the stack.
    pub fn spec(&self) -> &GruSpec {
        self.prepared.spec()
    }

    /// The prepared stack the streams run on.
    pub fn prepared(&self) -> &dyn PreparedGru<T> {
        &*self.prepared
    }

    /// Replaces the parameters (same shapes); the streams keep their states.
    pub fn set_params(&mut self, params: &GruParams<T>) -> Result<()> {
        self.prepared.set_params(params)
    }

    /// Slots in all.
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Streams open now.
    pub fn len(&self) -> usize {
        self.slots.open_count()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens a stream in the initial state (zero unless [`StreamSet::set_initial_state`]);
    /// [`GruError::StreamsFull`] when every slot is taken.
    pub fn open(&mut self) -> Result<StreamId> {
        let id = self.slots.open()?;
        self.restart(id.slot());
        Ok(id)
    }

    /// The state that `open` and `reset` give a stream from now on, `[D, H]` (finite); a
    /// layer's learnable initial state, for example. Streams already open keep theirs.
    pub fn set_initial_state(&mut self, h: &[T]) -> Result<()> {
        self.check_state_len(h)?;
        check_finite("h", h)?;
        self.initial.copy_from_slice(h);
        Ok(())
    }

    /// The state that `open` and `reset` give a stream, `[D, H]`.
    pub fn initial_state(&self) -> &[T] {
        &self.initial
    }

    /// Closes a stream; its id is refused from now on.
    pub fn close(&mut self, id: StreamId) -> Result<()> {
        self.slots.close(id)
    }

    /// Whether `id` names an open stream of this set.
    pub fn is_open(&self, id: StreamId) -> bool {
        self.slots.resolve(id).is_ok()
    }

    /// Puts the streams `ids` back in the initial state (zero unless set); the ids are
    /// checked first: on an error nothing is reset.
    pub fn reset(&mut self, ids: &[StreamId]) -> Result<()> {
        for &id in ids {
            self.slots.resolve(id)?;
        }
        for &id in ids {
            self.restart(id.slot());
        }
        Ok(())
    }

    /// The state of stream `id`, `[D, H]` (layer ℓ's `h` at `ℓ·H`).
    pub fn state(&self, id: StreamId) -> Result<&[T]> {
        let slot = self.slots.resolve(id)?;
        let per = self.per_stream();
        Ok(&self.states[slot * per..(slot + 1) * per])
    }

    /// Sets the state of stream `id` from `h` (`[D, H]`, finite).
    pub fn set_state(&mut self, id: StreamId, h: &[T]) -> Result<()> {
        let slot = self.slots.resolve(id)?;
        self.check_state_len(h)?;
        check_finite("h", h)?;
        self.state_mut(slot).copy_from_slice(h);
        Ok(())
    }

    /// Advances the streams `ids` one step: `frames` `[n, I]` (row `i` for `ids[i]`),
    /// returns `y` `[n, H]` (row `i` for `ids[i]`: the top layer's new state). The other
    /// open streams keep their states. Refused (nothing advances): an unknown or closed
    /// id, a stream named twice, a frame of the wrong length, a non-finite value.
    pub fn step(&mut self, frames: &[T], ids: &[StreamId]) -> Result<&[T]> {
        let n = ids.len();
        self.step_inner(frames, ids)?;
        Ok(&self.out[..n * self.spec().hidden_size])
    }

    /// [`StreamSet::step`] into `out` (`[n, H]`).
    pub fn step_into(&mut self, frames: &[T], ids: &[StreamId], out: &mut [T]) -> Result<()> {
        let hid = self.spec().hidden_size;
        if out.len() != ids.len() * hid {
            return Err(GruError::ShapeMismatch {
                field: "out".into(),
                shape: format!("[n, H] = [{}, {hid}]", ids.len()),
                expected: ids.len() * hid,
                actual: out.len(),
            });
        }
        self.step_inner(frames, ids)?;
        out.copy_from_slice(&self.out[..out.len()]);
        Ok(())
    }

    fn step_inner(&mut self, frames: &[T], ids: &[StreamId]) -> Result<()> {
        let n = ids.len();
        let (inp, hid, depth) = (self.spec().input_size, self.spec().hidden_size, self.spec().depth);
        if frames.len() != n * inp {
            return Err(GruError::ShapeMismatch {
                field: "frames".into(),
                shape: format!("[n, I] = [{n}, {inp}]"),
                expected: n * inp,
                actual: frames.len(),
            });
        }
        if n == 0 {
            return Ok(());
        }
        check_finite("frames", frames)?;
        self.slots.begin_step();
        self.rows.clear();
        for (position, &id) in ids.iter().enumerate() {
            let slot = self.slots.name(id, position)?;
            self.rows.push(slot);
        }
        // Gather: work[ℓ, i, :] = states[rows[i], ℓ, :].
        let work = &mut self.work[..depth * n * hid];
        for (i, &slot) in self.rows.iter().enumerate() {
            for layer in 0..depth {
                let src = &self.states[(slot * depth + layer) * hid..][..hid];
                work[(layer * n + i) * hid..][..hid].copy_from_slice(src);
            }
        }
        self.prepared.step(frames, n, work, &mut self.out[..n * hid])?;
        for (i, &slot) in self.rows.iter().enumerate() {
            for layer in 0..depth {
                let dst = &mut self.states[(slot * depth + layer) * hid..][..hid];
                dst.copy_from_slice(&work[(layer * n + i) * hid..][..hid]);
            }
        }
        Ok(())
    }

    fn check_state_len(&self, h: &[T]) -> Result<()> {
        let (d, hid) = (self.spec().depth, self.spec().hidden_size);
        if h.len() != d * hid {
            return Err(GruError::ShapeMismatch {
                field: "h".into(),
                shape: format!("[D, H] = [{d}, {hid}]"),
                expected: d * hid,
                actual: h.len(),
            });
        }
        Ok(())
    }

    /// The slot's state back to the initial state.
    fn restart(&mut self, slot: usize) {
        let per = self.per_stream();
        self.states[slot * per..(slot + 1) * per].copy_from_slice(&self.initial);
    }

    fn per_stream(&self) -> usize {
        self.spec().depth * self.spec().hidden_size
    }

    fn state_mut(&mut self, slot: usize) -> &mut [T] {
        let per = self.per_stream();
        &mut self.states[slot * per..(slot + 1) * per]
    }
}

impl<T: Real> std::fmt::Debug for StreamSet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSet")
            .field("computed_by", &self.prepared.computed_by())
            .field("capacity", &self.capacity())
            .field("open", &self.len())
            .finish_non_exhaustive()
    }
}
