//! Criterion benches of every available engine on the reference shapes, inference and
//! training. Run with `OMP_NUM_THREADS=2 RAYON_NUM_THREADS=2 OMP_WAIT_POLICY=passive
//! cargo bench -p gru-bench`; `GRU_BENCH_SHAPES=3` limits to the first shapes.

use criterion::{criterion_group, criterion_main, Criterion};
use gru::{Mode, ResetGateMode};
use gru_bench::{engines, Problem, Runner, SHAPES};

fn bench(c: &mut Criterion) {
    let limit = std::env::var("GRU_BENCH_SHAPES").ok().and_then(|v| v.parse().ok()).unwrap_or(SHAPES.len());
    for shape in SHAPES.iter().take(limit) {
        let p = Problem::new(*shape, ResetGateMode::RecurrentBiasAfterMultiplication);
        for (kind, engine) in engines() {
            for mode in [Mode::Inference, Mode::Training] {
                let name = format!("{kind} {mode} {}", shape.name());
                let mut runner = Runner::new(engine.as_ref(), &p, mode).expect("prepares");
                c.bench_function(&name, |b| b.iter(|| runner.run_once().expect("runs")));
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
