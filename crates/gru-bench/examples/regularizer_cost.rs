//! The training cost of each regularizer (`gru_core::Regularization`) against plain training
//! on the native engine, f32, recurrent-bias-after mode: one forward_train + backward per
//! timed call, the contestants interleaved in rounds (plain, each option, plain, ...), each
//! call started on quiet threads (`gru_bench::rounds`). Prints the median milliseconds and
//! the median of the per-round ratios to plain.
//!
//! ```text
//! cargo run --release -p gru-bench --example regularizer_cost -- [rounds] [threads] [only]
//! ```
//! `only`: time plain and the options whose name contains it (e.g. `zoneout`).

use gru::{Engine, Mode, NativeEngine, Regularization, ResetGateMode};
use gru_bench::rounds::{run_rounds, Contestant, Watch};
use gru_bench::stats::{ratio_summary, Summary};
use gru_bench::{EngineRun, Problem, Shape};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(Ok(15), |a| a.parse())?;
    let threads: Option<usize> = args.next().map(|a| a.parse()).transpose()?;
    let only = args.next();
    let engine = threads.filter(|&t| t > 0).map_or_else(NativeEngine::new, NativeEngine::with_threads);
    let all: [(&str, Regularization); 7] = [
        ("plain", Regularization::NONE),
        ("recurrent dropout 0.25", Regularization::NONE.with_recurrent_dropout(0.25)),
        ("zoneout 0.1", Regularization::NONE.with_zoneout(0.1)),
        ("input dropout 0.25", Regularization::NONE.with_input_dropout(0.25)),
        ("weight drop 0.25", Regularization::NONE.with_weight_drop(0.25)),
        ("layer norm", Regularization::NONE.with_layer_norm(true)),
        (
            "all",
            Regularization::NONE
                .with_recurrent_dropout(0.25)
                .with_zoneout(0.1)
                .with_input_dropout(0.25)
                .with_weight_drop(0.25)
                .with_layer_norm(true),
        ),
    ];
    let options: Vec<(&str, Regularization)> = all
        .into_iter()
        .filter(|(n, _)| *n == "plain" || only.as_ref().is_none_or(|o| n.contains(o.as_str())))
        .collect();
    println!(
        "kernel ISA {}, threads {}, {rounds} rounds",
        gru::kernel_isa(),
        threads.map_or("default".into(), |t| t.to_string())
    );
    for shape in [Shape { batch: 32, steps: 100, hidden: 256 }, Shape { batch: 64, steps: 50, hidden: 512 }] {
        let problems: Vec<Problem> = options
            .iter()
            .map(|(_, reg)| {
                let mut p = Problem::new(shape, ResetGateMode::RecurrentBiasAfterMultiplication);
                p.spec = p.spec.clone().with_regularization(*reg);
                let mut params = gru::GruParams::zeros(&p.spec);
                let scale = 1.0 / (shape.hidden as f32).sqrt();
                params.set_flat(&gru_bench::values(params.num_params(), 1, scale)).expect("size");
                p.params = params;
                p
            })
            .collect();
        let mut runs: Vec<EngineRun<'_>> = problems
            .iter()
            .map(|p| EngineRun::new(&engine as &dyn Engine<f32>, p, Mode::Training))
            .collect::<Result<_, _>>()?;
        let mut contestants: Vec<&mut dyn Contestant> = runs.iter_mut().map(|r| r as &mut dyn Contestant).collect();
        let outcomes = run_rounds(&mut contestants, rounds, &Watch::new(&[]));
        println!("{} training (forward_train + backward):", shape.name());
        let plain = &outcomes[0].times;
        for ((name, _), out) in options.iter().zip(&outcomes) {
            if let Some(e) = &out.error {
                println!("  {name:<24} failed: {e}");
                continue;
            }
            let ms = Summary::of(&out.times).map_or(f64::NAN, |s| s.median);
            let ratios = ratio_summary(&out.times, plain);
            let ratio = ratios.map_or(f64::NAN, |s| s.median);
            let (q1, q3) = ratios.map_or((f64::NAN, f64::NAN), |s| (s.q1, s.q3));
            let delay = out.delay.map_or("n/a".into(), |d| format!("{:.0}%", d.percent()));
            println!(
                "  {name:<24} {ms:8.2} ms   x{ratio:.3} of plain (per-round ratios: median, quartiles {q1:.3} to {q3:.3})   run delay {delay}"
            );
        }
    }
    Ok(())
}
