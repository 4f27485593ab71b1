//! `gru bench`: every available engine on the reference shapes, inference and training,
//! median ms, GF/s, % of the machine's peak and ratios, optionally against PyTorch's
//! times from `tools/bench_torch.py` (`--torch results.json`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gru::{EngineKind, Mode, ResetGateMode};
use gru_bench::{engines, time_engine, Problem, SHAPES};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Only these shapes (indices into the reference list, e.g. 0,1,4).
    #[arg(long, value_delimiter = ',')]
    pub shapes: Vec<usize>,
    /// Timed runs per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Peak GF/s of the machine (2 Zen4 cores: about 220).
    #[arg(long, default_value_t = 220.0)]
    pub peak: f64,
    /// PyTorch's times: JSON {"B1 T100 H256": {"inference": ms, "training": ms}, ...}.
    #[arg(long)]
    pub torch: Option<PathBuf>,
    /// Reset-gate mode (default recurrent-bias-after-multiplication, PyTorch's).
    #[arg(long, default_value = "recurrent-bias-after-multiplication")]
    pub mode: String,
    /// Only this engine (Korali, OneDNN).
    #[arg(long)]
    pub engine: Option<String>,
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

pub fn run(a: &BenchArgs) -> Result<()> {
    let mode: ResetGateMode = serde_json::from_value(serde_json::Value::String(a.mode.clone())).context("--mode")?;
    let torch: Option<serde_json::Value> = match &a.torch {
        Some(p) => Some(
            serde_json::from_str(&std::fs::read_to_string(p)?).with_context(|| format!("parsing {}", p.display()))?,
        ),
        None if a.compare => Some(run_torch(a)?),
        None => None,
    };
    let engines: Vec<(EngineKind, _)> = engines()
        .into_iter()
        .filter(|(k, _)| a.engine.as_deref().is_none_or(|e| e.eq_ignore_ascii_case(&k.to_string())))
        .collect();
    println!(
        "{:<16} {:<9} {:>10} {:>8} {:>7} {:>12} {:>12} {:>10} {:>10}",
        "shape", "mode", "Korali ms", "GF/s", "%peak", "OneDNN ms", "PyTorch ms", "vs OneDNN", "vs PyTorch"
    );
    for (i, shape) in SHAPES.iter().enumerate() {
        if !a.shapes.is_empty() && !a.shapes.contains(&i) {
            continue;
        }
        let p = Problem::new(*shape, mode);
        for m in [Mode::Inference, Mode::Training] {
            let mut ms = std::collections::HashMap::new();
            for (kind, e) in &engines {
                if let Ok((t, _)) = time_engine(e.as_ref(), &p, m, a.runs) {
                    ms.insert(*kind, t);
                }
            }
            let ours = ms.get(&EngineKind::Korali).copied();
            let flops = shape.forward_flops() * if m == Mode::Training { 3.0 } else { 1.0 };
            let gfs = ours.map(|t| flops / (t * 1e6));
            let key = if m == Mode::Training { "training" } else { "inference" };
            let pt = torch.as_ref().and_then(|t| t[shape.name()][key].as_f64());
            let one = ms.get(&EngineKind::OneDNN).copied();
            let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
            let ratio = |other: Option<f64>| match (ours, other) {
                (Some(o), Some(x)) => format!("{:.2}x", x / o),
                _ => "-".into(),
            };
            println!(
                "{:<16} {:<9} {:>10} {:>8} {:>7} {:>12} {:>12} {:>10} {:>10}",
                shape.name(),
                key,
                fmt(ours),
                fmt(gfs),
                gfs.map_or("-".into(), |g| format!("{:.0}%", 100.0 * g / a.peak)),
                fmt(one),
                fmt(pt),
                ratio(one),
                ratio(pt)
            );
        }
    }
    Ok(())
}
