//! The latency of one streaming step (`gru_core::stream`): `B` streams advanced one frame
//! each, I = H, h carried from step to step, inference. Ours is a
//! [`gru::StreamSet`] on an engine; the peers (through the Python worker, `worker.rs`) are
//! PyTorch `nn.GRUCell`, PyTorch `nn.GRU` over T = 1 with h carried, and an onnxruntime
//! session of one GRU node over T = 1 with `Y_h` fed back as `initial_h`. Each timed call
//! runs [`STEPS_PER_CALL`] steps and reports the mean of one step, in milliseconds (tables
//! show microseconds).

use std::time::Instant;

use gru::{Engine, GruParams, GruSpec, StreamId, StreamSet};

use crate::error::Result;
use crate::rounds::Contestant;

/// Streams per step.
pub const STREAM_BATCHES: [usize; 2] = [1, 16];
/// Hidden sizes (I = H).
pub const STREAM_HIDDEN: [usize; 3] = [128, 256, 512];
/// Steps per timed call (their mean is the call's time).
pub const STEPS_PER_CALL: usize = 200;

/// One streaming step of `batch` streams of `hidden` units on one of our engines.
pub struct OursStep {
    set: StreamSet<f32>,
    ids: Vec<StreamId>,
    frames: Vec<f32>,
}

impl OursStep {
    /// A set of `batch` open streams on `engine` (weights uniform in ±1/√H, frames in
    /// [-1, 1], deterministic).
    pub fn new(engine: &dyn Engine<f32>, batch: usize, hidden: usize) -> Result<Self> {
        let spec = GruSpec::new(hidden, hidden);
        let mut params = GruParams::<f32>::zeros(&spec);
        let s = 1.0 / (hidden as f32).sqrt();
        let flat: Vec<f32> = (0..params.num_params()).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * s).collect();
        params.set_flat(&flat)?;
        let mut set = StreamSet::prepare(engine, &spec, &params, batch)?;
        let ids = (0..batch).map(|_| set.open()).collect::<Result<Vec<_>, gru::GruError>>()?;
        let frames = (0..batch * hidden).map(|i| ((i * 31 % 200) as f32 / 100.0) - 1.0).collect();
        Ok(Self { set, ids, frames })
    }

    /// One step (what the rounds time, [`STEPS_PER_CALL`] at a time).
    pub fn step(&mut self) -> Result<f32> {
        Ok(self.set.step(&self.frames, &self.ids)?[0])
    }
}

impl Contestant for OursStep {
    fn warm_up(&mut self) -> Result<()> {
        for _ in 0..STEPS_PER_CALL {
            self.step()?;
        }
        Ok(())
    }

    fn time_once(&mut self) -> Result<f64> {
        let start = Instant::now();
        let mut sink = 0.0;
        for _ in 0..STEPS_PER_CALL {
            sink += self.step()?;
        }
        std::hint::black_box(sink);
        Ok(start.elapsed().as_secs_f64() * 1e3 / STEPS_PER_CALL as f64)
    }
}
