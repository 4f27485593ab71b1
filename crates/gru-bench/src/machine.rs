//! What the machine can do, measured in the same run as the engines: the GEMM peak
//! (`2048³`, oneDNN's `dnnl_sgemm` and the GEMMs we use) and the peak memory of a call.

use std::time::Instant;

use gru::ops::{matmul, Matrix};
use gru_core::bench as panel_gemm;
use gru_onednn::OneDnnEngine;

use crate::values;

/// GF/s of the GEMMs at `n³` on `threads` threads.
#[derive(Clone, Copy, Debug)]
pub struct Peak {
    /// oneDNN's `dnnl_sgemm` (None: oneDNN is not installed).
    pub onednn: Option<f64>,
    /// faer's GEMM (our input projections and weight gradients), the columns split
    /// between `threads` threads.
    pub faer: f64,
    /// Our packed-panel kernel (the recurrent products; None without AVX-512), split alike.
    pub panel: Option<f64>,
}

impl Peak {
    /// The best of the three: the machine's peak as the issue defines it.
    pub fn best(&self) -> f64 {
        [self.onednn, Some(self.faer), self.panel].into_iter().flatten().fold(0.0, f64::max)
    }
}

/// Best GF/s of `reps` runs of `f` (which computes `flops`).
fn best_gflops(flops: f64, reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            flops / t.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

/// `c = a · b` (`n × n`) with the columns of `b` and `c` split between `threads` threads.
fn split_columns(
    n: usize,
    threads: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    one: impl Fn(&[f32], &[f32], &mut [f32], usize) + Sync,
) {
    let threads = threads.max(1);
    // Each thread owns a block of columns: b's and c's column blocks as compact copies.
    let cuts: Vec<(usize, usize)> = (0..threads).map(|t| (t * n / threads, (t + 1) * n / threads)).collect();
    let blocks: Vec<Vec<f32>> =
        cuts.iter().map(|&(lo, hi)| b.chunks_exact(n).flat_map(|row| row[lo..hi].iter().copied()).collect()).collect();
    let mut outs: Vec<Vec<f32>> = cuts.iter().map(|&(lo, hi)| vec![0.0; n * (hi - lo)]).collect();
    std::thread::scope(|s| {
        for ((blk, out), &(lo, hi)) in blocks.iter().zip(outs.iter_mut()).zip(&cuts) {
            let one = &one;
            s.spawn(move || one(a, blk, out, hi - lo));
        }
    });
    for (out, &(lo, hi)) in outs.iter().zip(&cuts) {
        for (row, src) in c.chunks_exact_mut(n).zip(out.chunks_exact(hi - lo)) {
            row[lo..hi].copy_from_slice(src);
        }
    }
}

/// Measures the GEMM peak at `n³` (`n = 2048` in `gru bench`) on `threads` threads.
pub fn gemm_peak(n: usize, threads: usize, reps: usize) -> Peak {
    let a = values(n * n, 11, 1.0);
    let b = values(n * n, 12, 1.0);
    let mut c = vec![0.0f32; n * n];
    let flops = 2.0 * (n as f64).powi(3);
    let onednn = OneDnnEngine::load().ok().and_then(|e| {
        let before = e.set_threads(threads).ok()?;
        let g = best_gflops(flops, reps, || e.sgemm(&a, &b, &mut c, n, n, n).expect("shapes match"));
        e.set_threads(before).ok()?;
        Some(g)
    });
    let faer = best_gflops(flops, reps, || {
        split_columns(n, threads, &a, &b, &mut c, |a, b, c, w| {
            matmul(c, false, Matrix::new(a, n, n), Matrix::new(b, n, w))
        })
    });
    let panel = panel_gemm::available().then(|| {
        best_gflops(flops, reps, || {
            split_columns(n, threads, &a, &b, &mut c, |a, b, c, w| {
                // Packing is part of a GEMM call here, as it is for the other two.
                let panels = panel_gemm::pack(b, n, w);
                panel_gemm::gemm(a, n, n, &panels, n, w, c, w, false)
            })
        })
    });
    Peak { onednn, faer, panel }
}

/// The resident-set figures of this process in MB (Linux `/proc/self/status`): `VmRSS`
/// and `VmHWM`, the peak since the last [`reset_peak_rss`]. None elsewhere.
pub fn rss_mb() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
    };
    Some((field("VmRSS:")? / 1024.0, field("VmHWM:")? / 1024.0))
}

/// Resets the peak resident set (`VmHWM`) to the current one (Linux: `clear_refs` 5).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// MB by which the peak resident set exceeds the resident set before `f` ran.
pub fn peak_extra_mb(f: impl FnOnce()) -> Option<f64> {
    if !reset_peak_rss() {
        return None;
    }
    let (before, _) = rss_mb()?;
    f();
    let (_, peak) = rss_mb()?;
    Some((peak - before).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_measured_for_every_gemm_available() {
        let p = gemm_peak(96, 2, 1);
        assert!(p.faer > 0.0 && p.faer.is_finite());
        assert_eq!(p.panel.is_some(), panel_gemm::available());
        assert!(p.best() >= p.faer);
    }

    #[test]
    fn peak_memory_sees_an_allocation() {
        let Some(mb) = peak_extra_mb(|| {
            let v = vec![1u8; 64 << 20];
            assert_eq!(v.iter().map(|&b| b as usize).sum::<usize>(), 64 << 20);
        }) else {
            return; // not Linux
        };
        assert!(mb >= 60.0, "{mb} MB");
    }
}
