//! Quick A/B timing of engine variants on one shape (development aid):
//! `cargo run --release -p gru-bench --example probe -- B T H [runs]`.
use gru::{Engine, Mode, NativeEngine, ResetGateMode};
use gru_bench::{engines, time_engine, Problem, Shape};

fn main() {
    let a: Vec<usize> = std::env::args().skip(1).map(|v| v.parse().expect("numbers")).collect();
    let shape = Shape { batch: a[0], steps: a[1], hidden: a[2] };
    let runs = a.get(3).copied().unwrap_or(7);
    let p = Problem::new(shape, ResetGateMode::RecurrentBiasAfterMultiplication);
    let mut variants: Vec<(String, Box<dyn Engine<f32>>)> = vec![
        ("korali default".into(), Box::new(NativeEngine::new())),
        ("korali 1t".into(), Box::new(NativeEngine::with_threads(1))),
        ("korali 2t units".into(), Box::new(NativeEngine::with_threads(2).with_unit_split(true))),
        ("korali 2t batch".into(), Box::new(NativeEngine::with_threads(2).with_unit_split(false))),
    ];
    for (k, e) in engines() {
        if k != gru::EngineKind::Korali {
            variants.push((k.to_string(), e));
        }
    }
    for mode in [Mode::Inference, Mode::Training] {
        for (name, e) in &variants {
            let r = (0..3).map(|_| time_engine(e.as_ref(), &p, mode, runs).map(|r| r.0).unwrap_or(f64::NAN));
            let v: Vec<String> = r.map(|t| format!("{t:8.3}")).collect();
            println!("{} {mode:?} {name:<18} {}", shape.name(), v.join(" "));
        }
    }
}
