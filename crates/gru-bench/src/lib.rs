//! The reference shapes of the speed work, and the harness of `gru bench`: contestants
//! (our engines, oneDNN, PyTorch and onnxruntime through a Python worker, GEMMs) timed in
//! interleaved rounds (`rounds.rs`), the median and spread of their calls (`stats.rs`), the
//! run delay of their threads (`schedstat.rs`); the latency of one streaming step
//! (`stream.rs`). Speed is measured, never asserted: report
//! ratios against references measured in the same run (see BENCHMARKS.md).

use std::time::{Duration, Instant};

pub mod error;
pub mod machine;
pub mod rounds;
pub mod schedstat;
pub mod stats;
pub mod stream;
pub mod worker;

pub use error::{Error, Result};
use gru_onednn::OneDnnEngine;
use rounds::Contestant;

use gru::{Engine, EngineKind, GruParams, GruSpec, Mode, OutputGrads, Plan, PreparedGru, ResetGateMode, SequenceBatch};

/// One benchmark shape (I = H).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub batch: usize,
    pub steps: usize,
    pub hidden: usize,
}

impl Shape {
    /// `B1 T100 H256`.
    pub fn name(&self) -> String {
        format!("B{} T{} H{}", self.batch, self.steps, self.hidden)
    }

    /// Forward FLOPs: `2·B·T·3H·(I + H)`.
    pub fn forward_flops(&self) -> f64 {
        2.0 * (self.batch * self.steps * 3 * self.hidden * 2 * self.hidden) as f64
    }
}

/// The reference shapes of the speed issue.
pub const SHAPES: [Shape; 7] = [
    Shape { batch: 1, steps: 100, hidden: 256 },
    Shape { batch: 32, steps: 100, hidden: 256 },
    Shape { batch: 64, steps: 50, hidden: 512 },
    Shape { batch: 16, steps: 50, hidden: 1024 },
    Shape { batch: 128, steps: 25, hidden: 128 },
    Shape { batch: 32, steps: 187, hidden: 1536 },
    Shape { batch: 4, steps: 100, hidden: 512 },
];

/// Deterministic values in [-scale, scale].
pub fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// A prepared problem: spec, params and inputs of one shape.
pub struct Problem {
    pub spec: GruSpec,
    pub params: GruParams<f32>,
    pub x: Vec<f32>,
    pub dy: Vec<f32>,
    pub shape: Shape,
}

impl Problem {
    /// Recurrent-bias-after mode (PyTorch's), unless `mode` says otherwise.
    pub fn new(shape: Shape, mode: ResetGateMode) -> Self {
        let spec = GruSpec::new(shape.hidden, shape.hidden).with_reset_gate_mode(mode);
        let mut params = GruParams::zeros(&spec);
        let scale = 1.0 / (shape.hidden as f32).sqrt();
        let n = params.num_params();
        params.set_flat(&values(n, 1, scale)).expect("size");
        let x = values(shape.steps * shape.batch * shape.hidden, 2, 1.0);
        let dy = values(shape.steps * shape.batch * shape.hidden, 3, 1.0);
        Self { spec, params, x, dy, shape }
    }
}

/// A planned engine on one problem, ready to run repeatedly.
pub struct Runner<'a> {
    problem: &'a Problem,
    prepared: Box<dyn PreparedGru<f32>>,
    mode: Mode,
}

impl<'a> Runner<'a> {
    /// Prepares `engine` for `problem` (the plan names its batch size and step count).
    pub fn new(engine: &dyn Engine<f32>, problem: &'a Problem, mode: Mode) -> gru::Result<Self> {
        let plan = Plan { batch_sizes: vec![problem.shape.batch], max_steps: Some(problem.shape.steps), mode };
        Ok(Self { problem, prepared: engine.prepare(&problem.spec, &problem.params, &plan)?, mode })
    }

    /// How the engine computed the last run, where it says ([`PreparedGru::explain`]).
    pub fn explain(&self) -> Option<String> {
        self.prepared.explain()
    }

    /// Warm-up before timing: at least [`WARM_UP_RUNS`] runs and [`WARM_UP`] (caches, the
    /// engines' first-call work, helper threads settling on their cores); returns the path
    /// that ran.
    pub fn warm_up(&mut self) -> gru::Result<&'static str> {
        let start = Instant::now();
        let mut by = self.run_once()?;
        for i in 1.. {
            if i >= WARM_UP_RUNS && start.elapsed() >= WARM_UP {
                break;
            }
            by = self.run_once()?;
        }
        Ok(by)
    }

    /// One inference, or one training forward + backward; returns the path that ran.
    pub fn run_once(&mut self) -> gru::Result<&'static str> {
        let p = self.problem;
        let batch = SequenceBatch::new(&p.x, p.shape.steps, p.shape.batch);
        match self.mode {
            Mode::Inference => Ok(self.prepared.forward(&batch)?.computed_by),
            Mode::Training => {
                let (out, saved) = self.prepared.forward_train(&batch)?;
                self.prepared.backward(saved, &OutputGrads { dy: &p.dy, dh_t: None })?;
                Ok(out.computed_by)
            }
        }
    }
}

/// Warm-up before timing: at least this many runs and this long.
pub const WARM_UP_RUNS: usize = 3;
pub const WARM_UP: Duration = Duration::from_millis(100);

/// Median milliseconds of `runs` timed runs (after a warm-up of at least 3 runs and
/// 100 ms) of inference or training (forward + backward) on `engine`, and the engine path
/// that ran.
pub fn time_engine(engine: &dyn Engine<f32>, p: &Problem, mode: Mode, runs: usize) -> gru::Result<(f64, &'static str)> {
    let mut runner = Runner::new(engine, p, mode)?;
    let by = runner.warm_up()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        runner.run_once()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], by))
}

/// An engine on a problem as a contestant of the rounds; oneDNN's OpenMP thread count is
/// set before it is prepared and before each of its calls (its primitives are created
/// and run with the same count).
pub struct EngineRun<'a> {
    runner: Runner<'a>,
    onednn_threads: Option<(&'a OneDnnEngine, usize)>,
}

impl<'a> EngineRun<'a> {
    /// `engine` prepared for `problem`.
    pub fn new(engine: &dyn Engine<f32>, problem: &'a Problem, mode: Mode) -> gru::Result<Self> {
        Ok(Self { runner: Runner::new(engine, problem, mode)?, onednn_threads: None })
    }

    /// oneDNN on `threads` OpenMP threads, prepared for `problem`.
    pub fn onednn(engine: &'a OneDnnEngine, threads: usize, problem: &'a Problem, mode: Mode) -> gru::Result<Self> {
        engine.set_threads(threads)?;
        Ok(Self { runner: Runner::new(engine, problem, mode)?, onednn_threads: Some((engine, threads)) })
    }

    fn set_threads(&self) -> gru::Result<()> {
        if let Some((e, t)) = self.onednn_threads {
            e.set_threads(t)?;
        }
        Ok(())
    }
}

impl Contestant for EngineRun<'_> {
    fn warm_up(&mut self) -> Result<()> {
        self.set_threads()?;
        self.runner.warm_up()?;
        Ok(())
    }

    fn time_once(&mut self) -> Result<f64> {
        self.set_threads()?;
        let t = Instant::now();
        self.runner.run_once()?;
        Ok(t.elapsed().as_secs_f64() * 1e3)
    }
}

/// The engines of this build, by kind.
pub fn engines() -> Vec<(EngineKind, Box<dyn Engine<f32>>)> {
    [EngineKind::Korali, EngineKind::OneDNN, EngineKind::CuDNN]
        .into_iter()
        .filter_map(|k| gru::engines::engine_for::<f32>(k).ok().map(|e| (k, e)))
        .collect()
}
