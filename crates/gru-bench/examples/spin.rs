//! Development aid for profiling: runs one variant repeatedly.
//! `spin B T H inference|training|stream default|1t|units|batch|onednn iterations`
//! (`stream`: one streaming step of B streams, T ignored, per iteration)
use gru::{Engine, Mode, NativeEngine, ResetGateMode};
use gru_bench::{engines, Problem, Runner, Shape};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let n = |i: usize| a[i].parse::<usize>().expect("number");
    let shape = Shape { batch: n(0), steps: n(1), hidden: n(2) };
    let mode = if a[3] == "training" { Mode::Training } else { Mode::Inference };
    let p = Problem::new(shape, ResetGateMode::RecurrentBiasAfterMultiplication);
    let e: Box<dyn Engine<f32>> = match a[4].as_str() {
        "1t" => Box::new(NativeEngine::with_threads(1)),
        "units" => Box::new(NativeEngine::with_threads(2).with_unit_split(true)),
        "batch" => Box::new(NativeEngine::with_threads(2).with_unit_split(false)),
        "onednn" => engines().into_iter().find(|(k, _)| *k == gru::EngineKind::OneDNN).expect("oneDNN").1,
        _ => Box::new(NativeEngine::new()),
    };
    if a[3] == "stream" {
        let mut s = gru_bench::stream::OursStep::new(e.as_ref(), shape.batch, shape.hidden).expect("prepares");
        s.step().expect("steps");
        let t = std::time::Instant::now();
        for _ in 0..n(5) {
            s.step().expect("steps");
        }
        println!("{:.2} µs per step", t.elapsed().as_secs_f64() * 1e6 / n(5) as f64);
        return;
    }
    let mut r = Runner::new(e.as_ref(), &p, mode).expect("prepares");
    let t = std::time::Instant::now();
    for _ in 0..n(5) {
        r.run_once().expect("runs");
    }
    println!("{:.3} ms per run", t.elapsed().as_secs_f64() * 1e3 / n(5) as f64);
}
