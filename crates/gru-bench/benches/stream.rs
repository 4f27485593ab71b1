//! Criterion bench of one streaming step (`gru_bench::stream`): B = 1 and 16 streams,
//! H = 128, 256, 512 (I = H), on the native engine. `gru bench --stream --compare` times
//! the same steps beside PyTorch and onnxruntime in interleaved rounds (BENCHMARKS.md).

use criterion::{criterion_group, criterion_main, Criterion};
use gru_bench::stream::{OursStep, STREAM_BATCHES, STREAM_HIDDEN};

fn bench(c: &mut Criterion) {
    let engine = gru::NativeEngine::new();
    for &batch in &STREAM_BATCHES {
        for &hidden in &STREAM_HIDDEN {
            let mut run = OursStep::new(&engine, batch, hidden).expect("prepares");
            c.bench_function(&format!("stream step B{batch} H{hidden}"), |b| b.iter(|| run.step().expect("steps")));
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
