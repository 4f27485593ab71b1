//! `gru bench`: our engine (on the bench's threads and on one), the OneDNN engine (on one
//! thread and on the bench's) and, with `--compare`, PyTorch and onnxruntime (through the
//! Python worker `tools/bench_worker.py`) on the reference shapes, inference and training,
//! timed in interleaved rounds (`gru_bench::rounds`): the median of each, its spread, the
//! per-round ratios, GF/s against the best GEMM of the machine, the run delay of the
//! threads, and the peak memory of training.

mod stream;
mod table;

use std::cell::RefCell;

use anyhow::{Context, Result};
use clap::Args;
use gru::{EngineKind, Mode, ResetGateMode};
use gru_bench::machine::{gemm_peak, peak_extra_mb, GemmInputs};
use gru_bench::rounds::{run_rounds, Contestant, Outcome, Watch};
use gru_bench::stats::{ratio_summary, Summary};
use gru_bench::worker::{Job, Peer, Task, Worker, WorkerRun};
use gru_bench::{EngineRun, Problem, Runner, SHAPES};
use gru_onednn::OneDnnEngine;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Only these shapes (indices into the reference list, e.g. 0,1,4).
    #[arg(long, value_delimiter = ',')]
    pub shapes: Vec<usize>,
    /// Interleaved rounds: timed calls of each contestant (the median is reported).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub runs: u64,
    /// Peak GF/s of the machine for the %peak column (default: measured in this run, the
    /// best GEMM at 2048³ on the same threads: oneDNN's dnnl_sgemm, ours, and PyTorch's
    /// torch.mm with --compare). Given, no GEMM is measured.
    #[arg(long)]
    pub peak: Option<f64>,
    /// Reset-gate mode (default recurrent-bias-after-multiplication, PyTorch's).
    #[arg(long, default_value = "recurrent-bias-after-multiplication")]
    pub mode: String,
    /// Only this engine beside ours (Korali: OneDNN is left out).
    #[arg(long)]
    pub engine: Option<String>,
    /// Internal: print the peak memory (MB) of one training call of shape N, in this process.
    #[arg(long, hide = true)]
    pub memory_one: Option<usize>,
    /// Also time PyTorch (nn.GRU, torch.mm) and onnxruntime (a GRU node, inference) in the
    /// same rounds, through tools/bench_worker.py in python3 (or $GRU_PYTHON).
    #[arg(long)]
    pub compare: bool,
    /// Our engine chooses how to split its threads per shape by measuring (calibration,
    /// GRU_CALIBRATE=1) instead of by its fixed rules.
    #[arg(long)]
    pub calibrate: bool,
    /// Under each row, how our engine computed it: the split of its threads and why (rule
    /// or calibration, with the times it measured), and the kernels' instruction set.
    #[arg(long)]
    pub explain: bool,
    /// Instead of the reference shapes: the latency of one streaming step (B = 1 and 16
    /// streams, H = 128, 256, 512), with --compare against PyTorch nn.GRUCell, nn.GRU over
    /// one step and an onnxruntime one-step session, h carried.
    #[arg(long)]
    pub stream: bool,
    /// Internal: the size of the GEMM-peak matrices (tests use a small one).
    #[arg(long, hide = true, default_value_t = 2048)]
    pub peak_size: usize,
}

/// Rounds of the GEMM-peak measurement (each GEMM's best call is its rate).
const PEAK_ROUNDS: usize = 7;

/// Peak memory of one training call of shape `index` in this (fresh) process, in MB.
fn memory_one(index: usize, mode: ResetGateMode) -> Result<f64> {
    let shape = *SHAPES.get(index).context("--memory-one: no such shape")?;
    let p = Problem::new(shape, mode);
    let engine = gru::NativeEngine::new();
    let mut runner = Runner::new(&engine, &p, Mode::Training)?;
    peak_extra_mb(|| {
        runner.run_once().expect("the benchmark problem runs");
    })
    .context("peak memory needs Linux's /proc/self/status and clear_refs")
}

/// Runs `memory_one` in a fresh process (this binary), so that no earlier call's freed
/// memory is reused.
fn memory_in_child(index: usize, mode: &str) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args(["bench", "--mode", mode, "--memory-one", &index.to_string()])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The threads of every contestant: `RAYON_NUM_THREADS`, else `OMP_NUM_THREADS`, else the
/// available cores; and where the count came from.
fn bench_threads() -> (usize, &'static str) {
    for var in ["RAYON_NUM_THREADS", "OMP_NUM_THREADS"] {
        if let Some(n) = std::env::var(var).ok().and_then(|v| v.trim().parse().ok()).filter(|&n: &usize| n > 0) {
            return (n, var);
        }
    }
    (std::thread::available_parallelism().map_or(1, |n| n.get()), "the available cores")
}

/// The Python worker and the peers it can run (with the notices for those it cannot).
fn start_worker(threads: usize) -> Option<Worker> {
    let python = std::env::var("GRU_PYTHON").unwrap_or_else(|_| "python3".into());
    let remedy = "pip install -r tools/requirements.txt, or set GRU_PYTHON to a Python that has them";
    let worker = match Worker::start(&python, threads) {
        Ok(w) => w,
        Err(e) => {
            outln!("note: PyTorch and onnxruntime columns: - ({e}; {remedy})");
            return None;
        }
    };
    let mut found = Vec::new();
    for peer in [Peer::Torch, Peer::OnnxRuntime] {
        match worker.hello.peer(peer) {
            Ok(version) => found.push(format!("{} {version}", peer.label())),
            Err(why) => {
                outln!("note: {} column: - ({python} cannot import {}: {why}; {remedy})", peer.label(), peer.name())
            }
        }
    }
    if !found.is_empty() {
        outln!("peers: {} through {python} (tools/bench_worker.py), {threads} threads", found.join(", "));
    }
    Some(worker)
}

/// The notes of failures, each once, printed after the table.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    fn add(&mut self, note: String) {
        if !self.0.contains(&note) {
            self.0.push(note);
        }
    }
}

/// The median of an outcome (noting its failure, if any).
fn summary(name: &str, out: &Outcome, notes: &mut Notes) -> Option<Summary> {
    if let Some(e) = &out.error {
        // A peer's error names the peer already.
        let e = if e.starts_with(&format!("{name}: ")) { e.clone() } else { format!("{name}: {e}") };
        notes.add(format!("{e} (its cells show -)"));
    }
    Summary::of(&out.times)
}

/// Everything a row needs that lives across rows.
struct Bench<'a> {
    args: &'a BenchArgs,
    threads: usize,
    reset: ResetGateMode,
    ours: gru::NativeEngine,
    ours_1t: gru::NativeEngine,
    onednn: Option<OneDnnEngine>,
    worker: Option<RefCell<Worker>>,
    watch: Watch,
    peak_gfs: Option<f64>,
}

impl Bench<'_> {
    fn has(&self, peer: Peer) -> bool {
        self.worker.as_ref().is_some_and(|w| w.borrow().hello.peer(peer).is_ok())
    }

    /// The GEMM peak: every GEMM of this build and PyTorch's, in interleaved rounds.
    fn measure_peak(&mut self) {
        let inputs = GemmInputs::new(self.args.peak_size);
        let mut gemms = inputs.ours(self.threads);
        let job = Job { peer: Peer::Torch, task: Task::Gemm { n: inputs.n } };
        if let Some(worker) = &self.worker {
            let torch = self.has(Peer::Torch).then(|| Box::new(WorkerRun { worker, job }) as Box<dyn Contestant + '_>);
            gemms.push(("PyTorch torch.mm".into(), torch));
        }
        let peak = gemm_peak(gemms, inputs.flops(), PEAK_ROUNDS, &self.watch);
        let rates: Vec<String> = peak
            .gemms
            .iter()
            .map(|g| format!("{} {}", g.name, g.gflops.map_or("-".into(), |v| format!("{v:.0}"))))
            .collect();
        let best = peak.best().map_or("-".into(), |g| format!("{:.0} ({})", g.gflops.unwrap_or(0.0), g.name));
        let delay = peak
            .delay_pct
            .map_or("n/a".into(), |p| format!("{p:.1}%{}", if p > table::NOISY_PCT { " noisy" } else { "" }));
        outln!(
            "GEMM peak at {n}^3 on {t} threads (GF/s, best call of {PEAK_ROUNDS} interleaved rounds): {}; peak = {best}; run delay {delay}",
            rates.join(", "),
            n = inputs.n,
            t = self.threads,
        );
        self.peak_gfs = peak.best().and_then(|g| g.gflops);
        self.release_worker();
    }

    fn release_worker(&self) {
        if let Some(w) = &self.worker {
            let _ = w.borrow_mut().release();
        }
    }

    /// How our engine computes shape `index` in mode `m` (one call of its own; with
    /// calibration, the choice the row's calibration made, from the process's cache).
    fn explain(&self, index: usize, m: Mode) -> Result<String> {
        let p = Problem::new(SHAPES[index], self.reset);
        let mut runner = Runner::new(&self.ours, &p, m)?;
        runner.run_once()?;
        let how = runner.explain().unwrap_or_else(|| "-".into());
        Ok(format!("{how}; kernels {}", gru::kernel_isa()))
    }

    /// One row: every contestant in interleaved rounds.
    fn row(&self, index: usize, m: Mode, notes: &mut Notes) -> Result<table::Row> {
        let shape = SHAPES[index];
        let p = Problem::new(shape, self.reset);
        let mut names: Vec<String> = vec!["Korali".into(), "Korali 1t".into()];
        let mut runs: Vec<Box<dyn Contestant + '_>> = vec![
            Box::new(EngineRun::new(&self.ours, &p, m).context("preparing Korali")?),
            Box::new(EngineRun::new(&self.ours_1t, &p, m).context("preparing Korali on 1 thread")?),
        ];
        // oneDNN on 1 thread and on the bench's (the better one is shown).
        let mut onednn_threads = Vec::new();
        if let Some(e) = &self.onednn {
            for t in if self.threads > 1 { vec![1, self.threads] } else { vec![1] } {
                match EngineRun::onednn(e, t, &p, m) {
                    Ok(r) => {
                        names.push(format!("OneDNN {t}t"));
                        runs.push(Box::new(r));
                        onednn_threads.push(t);
                    }
                    Err(err) => notes.add(format!("OneDNN {t}t: {err} (its cells show -)")),
                }
            }
        }
        let mut peers = Vec::new();
        if let Some(worker) = &self.worker {
            for peer in [Peer::Torch, Peer::OnnxRuntime] {
                if self.has(peer) && (peer == Peer::Torch || m == Mode::Inference) {
                    let job = Job { peer, task: Task::Gru { shape, mode: m, reset: self.reset } };
                    names.push(peer.label().into());
                    runs.push(Box::new(WorkerRun { worker, job }));
                    peers.push(peer);
                }
            }
        }
        let mut refs: Vec<&mut dyn Contestant> = runs.iter_mut().map(|r| &mut **r as &mut dyn Contestant).collect();
        let outcomes = run_rounds(&mut refs, self.args.runs as usize, &self.watch);
        drop(refs);
        drop(runs);
        self.release_worker();

        if let Some(e) = &outcomes[0].error {
            anyhow::bail!("Korali on {} ({}): {e}", shape.name(), mode_name(m));
        }
        let ours_times = &outcomes[0].times;
        let ours = Summary::of(ours_times).context("Korali gave no time")?;
        let ours_1t = summary(&names[1], &outcomes[1], notes);
        let peer_cell = |i: usize, notes: &mut Notes| {
            summary(&names[i], &outcomes[i], notes)
                .map(|ms| table::Peer { ms, ratio: ratio_summary(&outcomes[i].times, ours_times) })
        };
        // The OneDNN variant with the lower median.
        let mut onednn: Option<(table::Peer, usize)> = None;
        for (k, &t) in onednn_threads.iter().enumerate() {
            if let Some(cell) = peer_cell(2 + k, notes) {
                if onednn.is_none_or(|(best, _)| cell.ms.median < best.ms.median) {
                    onednn = Some((cell, t));
                }
            }
        }
        let first_peer = 2 + onednn_threads.len();
        let mut torch = None;
        let mut ort = None;
        for (k, &peer) in peers.iter().enumerate() {
            let cell = peer_cell(first_peer + k, notes);
            match peer {
                Peer::Torch => torch = cell,
                Peer::OnnxRuntime => ort = cell,
            }
        }
        let flops = shape.forward_flops() * if m == Mode::Training { 3.0 } else { 1.0 };
        let gfs = flops / (ours.median * 1e6);
        let memory = if m == Mode::Training {
            let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
            let pt = match (&self.worker, torch.is_some()) {
                (Some(w), true) => w.borrow().torch_training_memory_mb(shape),
                _ => None,
            };
            format!("{} / {}", fmt(memory_in_child(index, &self.args.mode)), fmt(pt))
        } else {
            String::new()
        };
        Ok(table::Row {
            shape: shape.name(),
            mode: mode_name(m),
            ours,
            ours_1t,
            gfs,
            peak_pct: self.peak_gfs.map(|peak| 100.0 * gfs / peak),
            onednn,
            torch,
            ort,
            memory,
            // The contestants that made timed calls (one that failed at once has no delay).
            delays: names
                .into_iter()
                .zip(&outcomes)
                .filter(|(_, o)| !o.times.is_empty())
                .map(|(n, o)| (n, o.delay))
                .collect(),
        })
    }
}

/// `--engine`'s value, in any case.
fn engine_kind(name: &str) -> Result<EngineKind> {
    [EngineKind::Korali, EngineKind::OneDNN, EngineKind::CuDNN]
        .into_iter()
        .find(|k| k.to_string().eq_ignore_ascii_case(name))
        .with_context(|| format!("--engine: no engine is named {name:?}; the engines are Korali, OneDNN, CuDNN"))
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Inference => "inference",
        Mode::Training => "training",
    }
}

pub fn run(a: &BenchArgs) -> Result<()> {
    let reset: ResetGateMode = serde_json::from_value(serde_json::Value::String(a.mode.clone())).context("--mode")?;
    if let Some(i) = a.memory_one {
        outln!("{}", memory_one(i, reset)?);
        return Ok(());
    }
    if let Some(&i) = a.shapes.iter().find(|&&i| i >= SHAPES.len()) {
        anyhow::bail!("--shapes: there is no shape {i}; the reference shapes are 0..={}", SHAPES.len() - 1);
    }
    let engine = a.engine.as_deref().map(engine_kind).transpose()?;
    let (threads, source) = bench_threads();
    outln!("Korali kernels: {}; {}", gru::kernel_isa(), gru::kernel_blocking());
    outln!(
        "threads: {threads} (from {source}) for every contestant; Korali and OneDNN also on 1; {} interleaved rounds \
         after a warm-up of at least {} calls and {} ms each",
        a.runs,
        gru_bench::WARM_UP_RUNS,
        gru_bench::WARM_UP.as_millis()
    );
    let worker = if a.compare { start_worker(threads) } else { None };
    if a.stream {
        return stream::run(a.runs as usize, threads, worker);
    }
    let watch = Watch::new(&worker.iter().map(Worker::pid).collect::<Vec<_>>());
    let mut bench = Bench {
        args: a,
        threads,
        reset,
        ours: gru::NativeEngine::with_threads(threads).with_calibration(a.calibrate),
        ours_1t: gru::NativeEngine::with_threads(1),
        onednn: match engine {
            Some(e) if e != EngineKind::OneDNN => None,
            _ => OneDnnEngine::load().inspect_err(|e| outln!("note: OneDNN columns: - ({e})")).ok(),
        },
        worker: worker.map(RefCell::new),
        watch,
        peak_gfs: a.peak,
    };
    match a.peak {
        Some(p) => outln!("GEMM peak: {p:.0} GF/s (given by --peak; no GEMM measured)"),
        None => bench.measure_peak(),
    }
    outln!("{}", table::header(a.runs as usize));
    let mut notes = Notes::default();
    for (i, _) in SHAPES.iter().enumerate() {
        if !a.shapes.is_empty() && !a.shapes.contains(&i) {
            continue;
        }
        for m in [Mode::Inference, Mode::Training] {
            outln!("{}", table::row(&bench.row(i, m, &mut notes)?));
            if a.explain {
                outln!("  explain: Korali: {}", bench.explain(i, m)?);
            }
        }
    }
    for note in notes.0 {
        outln!("note: {note}");
    }
    Ok(())
}
