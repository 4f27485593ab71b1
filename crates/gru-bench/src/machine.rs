//! What the machine can do, measured in the same run as the engines: the GEMM peak
//! (`2048³`: oneDNN's `dnnl_sgemm`, the GEMMs we use, and any other the caller adds, as
//! PyTorch's `torch.mm` through the worker; the best of them is the peak) and the peak
//! memory of a call.

use std::cmp::Ordering::Equal;
use std::time::Instant;

use gru::ops::{matmul, Matrix};
use gru_core::bench as panel_gemm;
use gru_onednn::OneDnnEngine;

use crate::error::Result;
use crate::rounds::{run_rounds, Contestant, RunDelay, Watch};
use crate::values;

/// One GEMM's rate at `n³`: its best call of the rounds.
#[derive(Clone, Debug, PartialEq)]
pub struct GemmRate {
    /// `oneDNN dnnl_sgemm`, `faer`, `our panel kernel`, `PyTorch torch.mm`.
    pub name: String,
    /// GF/s; None when it cannot run here (not installed, no AVX-512) or failed.
    pub gflops: Option<f64>,
}

/// The GEMMs measured at `n³` on the same threads, in interleaved rounds.
#[derive(Clone, Debug, PartialEq)]
pub struct Peak {
    pub gemms: Vec<GemmRate>,
    /// The run delay of the timed calls, as a percentage of their wall time (None: n/a).
    pub delay_pct: Option<f64>,
}

impl Peak {
    /// The best GEMM: the machine's peak as the speed issue defines it (None if none ran).
    pub fn best(&self) -> Option<&GemmRate> {
        self.gemms.iter().filter(|g| g.gflops.is_some()).max_by(|a, b| a.gflops.partial_cmp(&b.gflops).unwrap_or(Equal))
    }
}

/// A GEMM as a contestant: one call computes `flops` (its time is converted to GF/s).
pub struct Gemm<'a> {
    pub name: String,
    pub flops: f64,
    pub contestant: Box<dyn Contestant + 'a>,
}

/// One of our GEMMs (or oneDNN's) timed as one call of `f`.
struct Timed<F: FnMut() -> Result<()>>(F);

impl<F: FnMut() -> Result<()>> Contestant for Timed<F> {
    fn warm_up(&mut self) -> Result<()> {
        (self.0)()
    }

    fn time_once(&mut self) -> Result<f64> {
        let t = Instant::now();
        (self.0)()?;
        Ok(t.elapsed().as_secs_f64() * 1e3)
    }
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

/// The square matrices of the GEMM peak: `a`, `b` (`n × n`, row-major), the product's size.
pub struct GemmInputs {
    pub n: usize,
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

impl GemmInputs {
    pub fn new(n: usize) -> Self {
        Self { n, a: values(n * n, 11, 1.0), b: values(n * n, 12, 1.0) }
    }

    /// `2 n³`.
    pub fn flops(&self) -> f64 {
        2.0 * (self.n as f64).powi(3)
    }

    /// The GEMMs of this build on `threads` threads: oneDNN's `dnnl_sgemm` (None when
    /// oneDNN is not installed), faer's with the columns split between the threads, and
    /// our packed-panel kernel's (None without it) with the rows split, packing included.
    pub fn ours(&self, threads: usize) -> Vec<(String, Option<Box<dyn Contestant + '_>>)> {
        let (n, a, b) = (self.n, &self.a[..], &self.b[..]);
        let onednn = OneDnnEngine::load().ok().map(|e| {
            let mut c = vec![0.0f32; n * n];
            Box::new(Timed(move || {
                e.set_threads(threads)?;
                e.sgemm(a, b, &mut c, n, n, n)?;
                Ok(())
            })) as Box<dyn Contestant>
        });
        let mut c = vec![0.0f32; n * n];
        let faer = Box::new(Timed(move || {
            split_columns(n, threads, a, b, &mut c, |a, b, c, w| {
                matmul(c, false, Matrix::new(a, n, n), Matrix::new(b, n, w))
            });
            Ok(())
        })) as Box<dyn Contestant>;
        // Ours as the engine uses it: B packed (once per call here, included in the time,
        // its panels split between the threads as a GEMM library packs, into aligned
        // storage kept across calls as a library keeps its workspace), the rows of A and
        // C split between the threads (no copies).
        let panel = panel_gemm::available().then(|| {
            let mut c = vec![0.0f32; n * n];
            let mut panels = panel_gemm::pack_aligned_on(b, n, n, threads);
            Box::new(Timed(move || {
                panels.repack_on(b, n, n, threads);
                let panels = &panels;
                let rows = n.div_ceil(threads.max(1)).max(1);
                std::thread::scope(|s| {
                    for (a, c) in a.chunks(rows * n).zip(c.chunks_mut(rows * n)) {
                        let panels = panels.as_slice();
                        s.spawn(move || panel_gemm::gemm(a, n, a.len() / n, panels, n, n, c, n, false));
                    }
                });
                Ok(())
            })) as Box<dyn Contestant>
        });
        vec![("oneDNN dnnl_sgemm".into(), onednn), ("faer".into(), Some(faer)), ("our panel kernel".into(), panel)]
    }
}

/// Times `gemms` (None: cannot run here) in `rounds` interleaved rounds; each one's rate
/// is its best call.
pub fn gemm_peak(
    gemms: Vec<(String, Option<Box<dyn Contestant + '_>>)>,
    flops: f64,
    rounds: usize,
    watch: &Watch,
) -> Peak {
    let mut names = Vec::new();
    let mut running: Vec<(usize, Box<dyn Contestant + '_>)> = Vec::new();
    for (i, (name, c)) in gemms.into_iter().enumerate() {
        names.push(name);
        if let Some(c) = c {
            running.push((i, c));
        }
    }
    let mut refs: Vec<&mut dyn Contestant> = running.iter_mut().map(|(_, c)| &mut **c as &mut dyn Contestant).collect();
    let outcomes = run_rounds(&mut refs, rounds.max(1), watch);
    let mut gemms: Vec<GemmRate> = names.into_iter().map(|name| GemmRate { name, gflops: None }).collect();
    let (mut wait, mut wall, mut readable) = (0, 0, true);
    for ((i, _), out) in running.iter().zip(&outcomes) {
        let best_ms = out.times.iter().copied().fold(f64::INFINITY, f64::min);
        gemms[*i].gflops = (best_ms.is_finite() && best_ms > 0.0).then(|| flops / (best_ms * 1e6));
        match out.delay {
            Some(d) => (wait, wall) = (wait + d.wait_ns, wall + d.wall_ns),
            None => readable = false,
        }
    }
    let delay_pct = readable.then(|| RunDelay { wait_ns: wait, wall_ns: wall }.percent());
    Peak { gemms, delay_pct }
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
        let inputs = GemmInputs::new(96);
        let p = gemm_peak(inputs.ours(2), inputs.flops(), 2, &Watch::new(&[]));
        let names: Vec<&str> = p.gemms.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["oneDNN dnnl_sgemm", "faer", "our panel kernel"]);
        let faer = p.gemms[1].gflops.unwrap();
        assert!(faer > 0.0 && faer.is_finite());
        assert_eq!(p.gemms[2].gflops.is_some(), panel_gemm::available());
        assert_eq!(p.gemms[0].gflops.is_some(), OneDnnEngine::load().is_ok());
        assert!(p.best().unwrap().gflops >= Some(faer));
        assert_eq!(p.delay_pct.is_some(), cfg!(target_os = "linux"));
    }

    #[test]
    fn the_best_gemm_is_the_peak_whoever_it_is() {
        let rate = |name: &str, gflops| GemmRate { name: name.into(), gflops };
        let p = Peak {
            gemms: vec![
                rate("a", Some(100.0)),
                rate("b", None),
                rate("PyTorch torch.mm", Some(239.0)),
                rate("c", Some(5.0)),
            ],
            delay_pct: None,
        };
        assert_eq!(p.best().unwrap().name, "PyTorch torch.mm");
        assert_eq!(Peak { gemms: vec![rate("b", None)], delay_pct: None }.best(), None);
    }

    #[test]
    fn a_gemm_that_fails_has_no_rate() {
        let failing = Box::new(Timed(|| Err(crate::Error::Peer { peer: "x".into(), message: "no".into() })));
        let p = gemm_peak(vec![("x".into(), Some(failing as Box<dyn Contestant>))], 1.0, 2, &Watch::new(&[]));
        assert_eq!(p.gemms, [GemmRate { name: "x".into(), gflops: None }]);
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
