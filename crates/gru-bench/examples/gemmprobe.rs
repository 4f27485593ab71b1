//! Development aid: oneDNN's `dnnl_sgemm` and faer's GEMM vs the packed-panel kernel on the
//! recurrent-step shapes and 2048³ (1 thread; `GRU_PROBE_SHAPES=m,k,n;...` picks others).
use gru::ops::{matmul, Matrix};
use gru_core::bench as panel_gemm;
use gru_onednn::OneDnnEngine;
use std::time::Instant;

fn best<F: FnMut()>(mut f: F, reps: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    best
}

/// `GRU_PROBE_SHAPES` as `m,k,n;m,k,n`, when set.
fn shapes_from_env() -> Option<Vec<(usize, usize, usize)>> {
    let text = std::env::var("GRU_PROBE_SHAPES").ok()?;
    text.split(';')
        .map(|s| {
            let v: Vec<usize> = s.split(',').filter_map(|x| x.trim().parse().ok()).collect();
            (v.len() == 3).then(|| (v[0], v[1], v[2]))
        })
        .collect()
}

fn main() {
    let onednn = OneDnnEngine::load().ok();
    if let Some(e) = &onednn {
        e.set_threads(1).expect("omp");
    }
    let default = [
        (1, 256, 768),
        (32, 256, 768),
        (64, 512, 1536),
        (16, 1024, 3072),
        (32, 1536, 4608),
        (32, 1536, 512),
        (32, 4608, 1536),
        (1600, 1536, 512),
        (1536, 1600, 512),
        (1600, 512, 1536),
        (5984, 1536, 2304),
        (2048, 2048, 2048),
    ];
    for (m, k, n) in shapes_from_env().unwrap_or(default.to_vec()) {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; m * n];
        let flops = 2.0 * (m * k * n) as f64;
        let reps = ((2e8 / flops) as usize).clamp(1, 10000);
        let tf = best(|| matmul(&mut c, false, Matrix::new(&a, m, k), Matrix::new(&b, k, n)), reps);
        let panels = panel_gemm::pack_aligned(&b, k, n);
        let tp = best(|| panel_gemm::gemm(&a, k, m, panels.as_slice(), k, n, &mut c, n, false), reps);
        let td = onednn.as_ref().map(|e| best(|| e.sgemm(&a, &b, &mut c, m, n, k).expect("sgemm"), reps));
        println!(
            "M{m:5} K{k:5} N{n:5}: dnnl {:7.1} GF/s  faer {:7.1} GF/s  panel {:7.1} GF/s  (panel/dnnl {:.2})",
            td.map_or(f64::NAN, |t| flops / t / 1e9),
            flops / tf / 1e9,
            flops / tp / 1e9,
            td.map_or(f64::NAN, |t| t / tp)
        );
    }
}
