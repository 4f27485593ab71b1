//! `gru bench`: every available engine on the reference shapes, inference and training,
//! median ms, GF/s, % of the machine's peak and ratios, optionally against PyTorch's
//! times from `tools/bench_torch.py` (`--torch results.json`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gru::{Engine, Mode, ResetGateMode};
use gru_bench::machine::{gemm_peak, peak_extra_mb};
use gru_bench::{time_engine, Problem, Runner, SHAPES};
use gru_onednn::OneDnnEngine;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Only these shapes (indices into the reference list, e.g. 0,1,4).
    #[arg(long, value_delimiter = ',')]
    pub shapes: Vec<usize>,
    /// Timed runs per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Peak GF/s of the machine for the %peak column (default: measured in this run, the
    /// best of oneDNN's dnnl_sgemm and our GEMMs at 2048³ on the same threads).
    #[arg(long)]
    pub peak: Option<f64>,
    /// PyTorch's times: JSON {"B1 T100 H256": {"inference": ms, "training": ms}, ...}.
    #[arg(long)]
    pub torch: Option<PathBuf>,
    /// Reset-gate mode (default recurrent-bias-after-multiplication, PyTorch's).
    #[arg(long, default_value = "recurrent-bias-after-multiplication")]
    pub mode: String,
    /// Only this engine (Korali, OneDNN).
    #[arg(long)]
    pub engine: Option<String>,
    /// Internal: print the peak memory (MB) of one training call of shape N, in this process.
    #[arg(long, hide = true)]
    pub memory_one: Option<usize>,
    /// Also run `tools/bench_torch.py` (python3 with torch) first, for the PyTorch column.
    #[arg(long, conflicts_with = "torch")]
    pub compare: bool,
}

/// Runs `python3 tools/bench_torch.py` on the same shapes and threads; returns its JSON.
fn run_torch(a: &BenchArgs) -> Result<serde_json::Value> {
    let out = std::env::temp_dir().join(format!("gru-bench-torch-{}.json", std::process::id()));
    let threads = std::env::var("OMP_NUM_THREADS").unwrap_or_else(|_| "2".into());
    let shapes: Vec<String> = a.shapes.iter().map(|s| s.to_string()).collect();
    let status = std::process::Command::new("python3")
        .args(["tools/bench_torch.py", "--threads", &threads, "--runs", &a.runs.to_string(), "--out"])
        .arg(&out)
        .args(if shapes.is_empty() { vec![] } else { vec!["--shapes".to_string(), shapes.join(",")] })
        .status()
        .context("running python3 tools/bench_torch.py (from the repository root, with torch installed)")?;
    anyhow::ensure!(status.success(), "tools/bench_torch.py failed ({status})");
    let text = std::fs::read_to_string(&out)?;
    let _ = std::fs::remove_file(&out);
    Ok(serde_json::from_str(&text)?)
}

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

/// Our engine, and oneDNN on 1 and on 2 threads (its best is the reference).
struct Engines {
    ours: Box<dyn Engine<f32>>,
    ours_1t: Box<dyn Engine<f32>>,
    onednn: Option<OneDnnEngine>,
}

pub fn run(a: &BenchArgs) -> Result<()> {
    let mode: ResetGateMode = serde_json::from_value(serde_json::Value::String(a.mode.clone())).context("--mode")?;
    if let Some(i) = a.memory_one {
        println!("{}", memory_one(i, mode)?);
        return Ok(());
    }
    let torch: Option<serde_json::Value> = match &a.torch {
        Some(p) => Some(
            serde_json::from_str(&std::fs::read_to_string(p)?).with_context(|| format!("parsing {}", p.display()))?,
        ),
        None if a.compare => Some(run_torch(a)?),
        None => None,
    };
    let threads = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2usize);
    println!("Korali kernels: {}", gru::kernel_isa());
    let peak = gemm_peak(2048, threads, 3);
    let peak_gfs = a.peak.unwrap_or_else(|| peak.best());
    let fmt_opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    println!(
        "GEMM peak at 2048^3 on {threads} threads (GF/s): oneDNN dnnl_sgemm {}, faer {:.0}, our panel kernel {}; peak = {peak_gfs:.0}",
        fmt_opt(peak.onednn),
        peak.faer,
        fmt_opt(peak.panel)
    );
    let engines = Engines {
        ours: Box::new(gru::NativeEngine::new()),
        ours_1t: Box::new(gru::NativeEngine::with_threads(1)),
        onednn: if a.engine.as_deref().is_some_and(|e| !e.eq_ignore_ascii_case("onednn")) {
            None
        } else {
            OneDnnEngine::load().ok()
        },
    };
    println!(
        "{:<15} {:<9} {:>9} {:>9} {:>7} {:>6} {:>12} {:>10} {:>9} {:>10} {:>15}",
        "shape",
        "mode",
        "Korali ms",
        "1t ms",
        "GF/s",
        "%peak",
        "OneDNN ms",
        "PyTorch ms",
        "vs OneDNN",
        "vs PyTorch",
        "train MB ours/PT"
    );
    for (i, shape) in SHAPES.iter().enumerate() {
        if !a.shapes.is_empty() && !a.shapes.contains(&i) {
            continue;
        }
        let p = Problem::new(*shape, mode);
        for m in [Mode::Inference, Mode::Training] {
            let ours = time_engine(engines.ours.as_ref(), &p, m, a.runs)?.0;
            let ours_1t = time_engine(engines.ours_1t.as_ref(), &p, m, a.runs)?.0;
            // oneDNN: the better of 1 and 2 threads (OpenMP's thread count, set per run).
            let one = engines.onednn.as_ref().and_then(|e| {
                let before = e.set_threads(1).ok()?;
                let mut best: Option<(f64, usize)> = None;
                for t in [1, threads.max(1)] {
                    e.set_threads(t).ok()?;
                    if let Ok((ms, _)) = time_engine(e, &p, m, a.runs) {
                        if best.is_none_or(|(b, _)| ms < b) {
                            best = Some((ms, t));
                        }
                    }
                    if threads <= 1 {
                        break;
                    }
                }
                e.set_threads(before).ok()?;
                best
            });
            let flops = shape.forward_flops() * if m == Mode::Training { 3.0 } else { 1.0 };
            let gfs = flops / (ours * 1e6);
            let key = if m == Mode::Training { "training" } else { "inference" };
            let pt = torch.as_ref().and_then(|t| t[shape.name()][key].as_f64());
            let ratio = |other: Option<f64>| other.map_or("-".into(), |x| format!("{:.2}x", x / ours));
            let memory = if m == Mode::Training {
                let pt_mb = torch.as_ref().and_then(|t| t[shape.name()]["training_peak_mb"].as_f64());
                format!("{} / {}", fmt_opt(memory_in_child(i, &a.mode)), fmt_opt(pt_mb))
            } else {
                String::new()
            };
            println!(
                "{:<15} {:<9} {:>9.2} {:>9.2} {:>7.0} {:>5.0}% {:>12} {:>10} {:>9} {:>10} {:>15}",
                shape.name(),
                key,
                ours,
                ours_1t,
                gfs,
                100.0 * gfs / peak_gfs,
                one.map_or("-".into(), |(ms, t)| format!("{ms:.2} ({t}t)")),
                pt.map_or("-".into(), |v| format!("{v:.2}")),
                ratio(one.map(|o| o.0)),
                ratio(pt),
                memory
            );
        }
    }
    Ok(())
}
