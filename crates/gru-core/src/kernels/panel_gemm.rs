//! The recurrent products with the right-hand matrix packed once: `C (+)= A · B` where
//! `B` (`K × N`, a weight matrix: Rᵀ in the forward step, R in the backward step) is
//! rearranged at `prepare` into 16-column panels, and an AVX-512 register-blocked
//! micro-kernel streams those panels.
//!
//! Why our own kernel rather than faer's (which computes every other product): a GEMM
//! crate packs `B` on every call, and the recurrent loop calls it once per step with the
//! same `B`; for large H, B is tens of MB and the repacking costs as much as the product
//! itself. Packing once and keeping the panels across steps removes that work.
//!
//! Layout of the panels (`NR = 16` columns each, the last one zero-padded):
//! ```text
//! panels[(p · K + k) · NR + j] = B[k, p · NR + j]      p < ceil(N / NR), j < NR
//! ```
//! Micro-kernel: an `MR × (NP · NR)` block of `C` in `MR · NP` zmm accumulators; per `k`
//! it loads `NP` panel vectors and broadcasts `MR` values of `A`. `K` is cut into blocks of
//! `KC` and the rows of `A` into blocks sized by the core's private cache ([`row_block_for`]),
//! so that a block of `A` stays in L2 while the panels of the K block stream past it.
//!
//! At the AVX2+FMA level ([`super::isa`]) the same panels are streamed by the kernel of
//! `panel_avx2.rs` (two 8-lane vectors per panel row), with the same `KC`: the same sums.

use super::isa::{isa, Isa};

/// Columns per panel (one 512-bit vector of f32, two 256-bit ones).
pub const NR: usize = 16;
/// Depth of one K block. 1024 rather than 512: half the passes over `C` (each K block
/// loads and stores its rows of `C` again) for K > 512; timed on a Zen 5 host (1 MiB L2
/// per core), one thread, 11 to 15 interleaved rounds: +3 to 5% at 2048³ and
/// M 5984 K 1536 N 2304, +1 to 6% on the per-step shapes with K = 1024 and 1536, the same
/// where K ≤ 512.
const KC: usize = 1024;
/// Rows of A per block where the core's private cache is unknown, and the most on any
/// host: the `MC × KC` block of A (384 KiB) and the `KC`-deep panels of one sweep's group
/// (4 × 64 KiB) stay in a 1 MiB L2 together while the panels stream past the block. The
/// largest block measured (Zen 4, Zen 5, and 192 × 512 on the Intel Xeon host): larger
/// ones were never timed, so a larger cache does not raise it.
const MC: usize = 96;
/// Row blocks are multiples of this (the micro-kernels' 6 and 8 rows).
const MC_STEP: usize = 24;

/// Rows of A per block on this host ([`row_block_for`] of the private cache, read once):
/// only which rows are computed together, never the sums (each element of C sees the same
/// K blocks in the same order), so any value gives the same bits.
fn row_block() -> usize {
    static ROWS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *ROWS.get_or_init(|| row_block_for(super::cache::per_core_cache_bytes()))
}

/// The rows of a block of A for a core whose private cache holds `cache` bytes: the
/// largest multiple of [`MC_STEP`] whose `rows × KC` f32 block takes at most 3/8 of that
/// cache (the rest holds the panels streaming past it and the rows of C), between
/// [`MC_STEP`] and [`MC`]; [`MC`] where the size is unknown. A 1 MiB L2 gives 96, a 512
/// KiB one (AMD Zen 3) 48. One thread on a Zen 3 host, 48 against 96 rows in 6
/// interleaved rounds (medians of the best of 5 calls, GF/s): M 1600 K 512 N 1536 91.4
/// against 88.7, M 800 K 1024 N 1536 80.2 / 78.8, M 1600 K 1536 N 512 89.6 / 88.8,
/// M 512 K 1600 N 1536 78.6 / 77.6; M 5984 K 1536 N 2304 and 2048³ the same.
pub(crate) fn row_block_for(cache: Option<usize>) -> usize {
    let Some(bytes) = cache else { return MC };
    let rows = bytes / 8 * 3 / (KC * std::mem::size_of::<f32>());
    (rows / MC_STEP * MC_STEP).clamp(MC_STEP, MC)
}

/// How the panel kernel blocks its products on this host, for `--explain`: `K` blocks of
/// `KC` and rows in blocks of [`row_block`], with the private cache they were sized by.
pub fn blocking() -> String {
    match super::cache::per_core_cache_bytes() {
        Some(bytes) => format!("K blocks {KC}, row blocks {} (private cache {} KiB)", row_block(), bytes >> 10),
        None => format!("K blocks {KC}, row blocks {} (private cache unknown)", row_block()),
    }
}

/// A `K × N` row-major f32 matrix rearranged into [`NR`]-column panels (see the module).
pub fn pack(b: &[f32], k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; panel_len(k, n)];
    pack_into(b, k, n, &mut out);
    out
}

/// Panels whose first element sits on a 64-byte boundary, as the engine keeps them
/// (`linalg::PackedRhs`): a probe of the kernel's rate must not measure misaligned panels
/// (a load straddling two cache lines costs both).
#[cfg(feature = "bench-internals")]
pub struct AlignedPanels {
    buf: Vec<f32>,
    start: usize,
    len: usize,
}

#[cfg(feature = "bench-internals")]
impl AlignedPanels {
    /// The panels.
    pub fn as_slice(&self) -> &[f32] {
        &self.buf[self.start..self.start + self.len]
    }
}

/// [`pack`] into storage aligned to a cache line.
#[cfg(feature = "bench-internals")]
pub fn pack_aligned(b: &[f32], k: usize, n: usize) -> AlignedPanels {
    pack_aligned_on(b, k, n, 1)
}

/// [`pack_aligned`] with the panels cut into `threads` contiguous ranges, each packed on
/// its own thread (as a GEMM library packs: the GEMM-peak probe must not pack 16 MB on
/// one thread while the other waits).
#[cfg(feature = "bench-internals")]
pub fn pack_aligned_on(b: &[f32], k: usize, n: usize, threads: usize) -> AlignedPanels {
    let len = panel_len(k, n);
    let buf = vec![0.0f32; len + 16];
    let misalign = buf.as_ptr() as usize % 64;
    let start = if misalign == 0 { 0 } else { (64 - misalign) / 4 };
    let mut out = AlignedPanels { buf, start, len };
    out.repack_on(b, k, n, threads);
    out
}

#[cfg(feature = "bench-internals")]
impl AlignedPanels {
    /// Packs `b` (`k × n`, the shape these panels were made for) again into the same
    /// storage on `threads` threads, as a GEMM library packs into the workspace it keeps
    /// (a fresh 16 MB buffer per call would time the allocator and page faults as well).
    pub fn repack_on(&mut self, b: &[f32], k: usize, n: usize, threads: usize) {
        assert_eq!(b.len(), k * n, "pack: slice length vs shape");
        assert_eq!(self.len, panel_len(k, n), "repack_on: panels vs shape");
        let panel = (k * NR).max(1);
        let per_thread = n.div_ceil(NR).div_ceil(threads.max(1)).max(1);
        std::thread::scope(|s| {
            let chunks = self.buf[self.start..self.start + self.len].chunks_mut(per_thread * panel);
            for (t, chunk) in chunks.enumerate() {
                s.spawn(move || pack_panels(b, k, n, t * per_thread, chunk));
            }
        });
    }
}

/// Rows of `B` that [`pack_panels`] copies into every panel before moving on: it reads
/// `B` row by row (whole cache lines, one page after another) rather than down one
/// panel's columns, which touches a new page per row. Measured on a 2048 × 2048 `B`, one
/// thread: 1.6 ms against 2.0 ms.
const PACK_ROWS: usize = 32;

/// Panels `first ..` of `b` (`k × n`) into `out` (whole panels: `out.len()` a multiple of
/// `k · NR`), the padding columns of the last panel left as they are (zeros after `pack`).
fn pack_panels(b: &[f32], k: usize, n: usize, first: usize, out: &mut [f32]) {
    let mut k0 = 0;
    while k0 < k {
        let rows = k0..PACK_ROWS.min(k - k0) + k0;
        for (q, panel) in out.chunks_exact_mut(k * NR).enumerate() {
            let p = first + q;
            let cols = (n - p * NR).min(NR);
            for kk in rows.clone() {
                panel[kk * NR..][..cols].copy_from_slice(&b[kk * n + p * NR..][..cols]);
            }
        }
        k0 = rows.end;
    }
}

/// The length of the panels of a `k × n` matrix: `⌈n / NR⌉` panels of `k × NR`.
pub fn panel_len(k: usize, n: usize) -> usize {
    n.div_ceil(NR) * k * NR
}

/// [`pack`] into the buffer of an earlier `pack` of the same shape (an optimizer step's new
/// weights, without allocating): the padding columns of the last panel keep their zeros.
pub fn pack_into(b: &[f32], k: usize, n: usize, out: &mut [f32]) {
    assert_eq!(b.len(), k * n, "pack: slice length vs shape");
    assert_eq!(out.len(), panel_len(k, n), "pack_into: buffer length vs shape");
    if k > 0 {
        pack_panels(b, k, n, 0, out);
    }
}

/// Whether the packed kernel runs at this process's kernel level ([`isa`]: AVX-512F or
/// AVX2+FMA); otherwise callers use a GEMM crate.
pub fn available() -> bool {
    isa() >= Isa::Avx2Fma
}

/// `C = A · B` (or `C += A · B` when `accumulate`): `A` is `m × k` with rows `lda` apart,
/// `panels` is `pack(B, k, n)`, `C` is `m × n` with rows `ldc` apart.
///
/// Panics when the slices are too short for the shapes (a caller bug: shapes are internal)
/// or when the kernel level has no packed kernel (check [`available`] first).
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    a: &[f32],
    lda: usize,
    m: usize,
    panels: &[f32],
    k: usize,
    n: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    assert!(m == 0 || (lda >= k && a.len() >= (m - 1) * lda + k), "panel_gemm: A too short");
    run(isa(), row_block(), a, (lda, 1), m, panels, k, n, c, ldc, accumulate)
}

/// [`gemm`] with `A` stored transposed: `a` holds `Aᵀ` (`k × m`, rows `lda` apart), as the
/// weight gradients' `dGᵀ` (read in place: the `MR` values a step broadcasts are adjacent).
#[allow(clippy::too_many_arguments)]
pub fn gemm_at(
    a: &[f32],
    lda: usize,
    m: usize,
    panels: &[f32],
    k: usize,
    n: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    assert!(m == 0 || k == 0 || (lda >= m && a.len() >= (k - 1) * lda + m), "panel_gemm: Aᵀ too short");
    run(isa(), row_block(), a, (1, lda), m, panels, k, n, c, ldc, accumulate)
}

/// Both, on the micro-kernel of `level` with rows in blocks of `mc`:
/// `A(i, p) = a[i · stride.0 + p · stride.1]`, bounds checked by the callers. The AVX-512
/// and AVX2 kernels give identical results (`panel_avx2.rs`), whatever `mc`; both are
/// parameters so that tests run each.
#[allow(clippy::too_many_arguments)]
fn run(
    level: Isa,
    mc: usize,
    a: &[f32],
    stride: (usize, usize),
    m: usize,
    panels: &[f32],
    k: usize,
    n: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    let np = n.div_ceil(NR);
    assert!(level >= Isa::Avx2Fma && level.supported(), "panel_gemm at level {level:?} on this CPU");
    assert!(mc > 0, "panel_gemm: row blocks of 0 rows");
    assert!(panels.len() >= np * k * NR, "panel_gemm: panels too short");
    assert!(m == 0 || (ldc >= n && c.len() >= (m - 1) * ldc + n), "panel_gemm: C too short");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                c[i * ldc..i * ldc + n].fill(0.0);
            }
        }
        return;
    }
    // Both drivers: the CPU has the level's features (asserted above) and the callers'
    // asserts bound every access they make: A(i, p) for i < m, p < k at
    // i·stride.0 + p·stride.1, panels < np of k·NR values, and the n columns of rows < m
    // of C (masked in the last panel).
    #[cfg(target_arch = "x86_64")]
    {
        let (a, b, c) = (a.as_ptr(), panels.as_ptr(), c.as_mut_ptr());
        match level {
            // SAFETY: AVX-512F detected; accesses bounded as above.
            Isa::Avx512 => unsafe { avx512::drive(a, stride.0, stride.1, m, b, k, n, c, ldc, accumulate, mc) },
            // SAFETY: AVX2 and FMA detected; accesses bounded as above; the same KC as
            // the AVX-512 driver (the same sums).
            _ => unsafe { super::panel_avx2::drive(a, stride.0, stride.1, m, b, k, n, c, ldc, accumulate, KC, mc) },
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{KC, NR};
    use std::arch::x86_64::*;

    /// The mask of the valid columns of panel `p` when `C` has `n` columns.
    #[inline(always)]
    fn mask(p: usize, n: usize) -> __mmask16 {
        let cols = n.saturating_sub(p * NR).min(NR);
        if cols == NR {
            0xFFFF
        } else {
            ((1u32 << cols) - 1) as __mmask16
        }
    }

    /// One `MR × NP·NR` block: rows `a[0..MR]`, panels `p0..p0+NP`, depth `kb` from `k0`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel<const MR: usize, const NP: usize>(
        a: *const f32,
        rs: usize,
        cs: usize,
        b: *const f32,
        k: usize,
        p0: usize,
        k0: usize,
        kb: usize,
        c: *mut f32,
        ldc: usize,
        n: usize,
        add: bool,
    ) {
        // SAFETY (whole body): the caller guarantees A(r, p) (at r·rs + p·cs) for r < MR
        // and p < k0 + kb,
        // panels p0 .. p0 + NP (each k·NR values), and rows < MR of C at columns
        // p0·NR .. min(n, (p0 + NP)·NR) (stores are masked to n).
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); NP]; MR];
            let mut bp = [std::ptr::null::<f32>(); NP];
            for (q, ptr) in bp.iter_mut().enumerate() {
                *ptr = b.add(((p0 + q) * k + k0) * NR);
            }
            let ap = a.add(k0 * cs);
            for kk in 0..kb {
                let mut bv = [_mm512_setzero_ps(); NP];
                for q in 0..NP {
                    bv[q] = _mm512_loadu_ps(bp[q].add(kk * NR));
                }
                for (r, row) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*ap.add(r * rs + kk * cs));
                    for q in 0..NP {
                        row[q] = _mm512_fmadd_ps(av, bv[q], row[q]);
                    }
                }
            }
            for (r, row) in acc.iter().enumerate() {
                for (q, &v) in row.iter().enumerate() {
                    let m = mask(p0 + q, n);
                    let dst = c.add(r * ldc + (p0 + q) * NR);
                    let v = if add { _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, dst)) } else { v };
                    _mm512_mask_storeu_ps(dst, m, v);
                }
            }
        }
    }

    super::super::panel_sweep::panel_sweeps!("avx512f");

    /// Chooses the block shape by `m` (few rows: more panels per block, to keep enough
    /// independent accumulators) and runs every K block.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn drive(
        a: *const f32,
        rs: usize,
        cs: usize,
        m: usize,
        b: *const f32,
        k: usize,
        n: usize,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
        mc: usize,
    ) {
        let mut k0 = 0;
        while k0 < k {
            let kb = KC.min(k - k0);
            let add = accumulate || k0 > 0;
            let mut m0 = 0;
            while m0 < m {
                let mb = mc.min(m - m0);
                // SAFETY: forwarded from `gemm`'s checks; rows m0 .. m0 + mb < m.
                unsafe {
                    let (a, c) = (a.add(m0 * rs), c.add(m0 * ldc));
                    match mb {
                        1 => sweep::<1, 8>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                        2 => sweep::<2, 8>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                        3 => sweep::<3, 6>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                        4 => sweep::<4, 6>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                        5 => sweep::<5, 4>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                        // 8 rows × 3 panels when that tiles the block exactly (B = 16, 32,
                        // 64: no narrow remainder block).
                        _ if mb.is_multiple_of(8) && !mb.is_multiple_of(6) => {
                            sweep::<8, 3>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add)
                        }
                        _ => sweep::<6, 4>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                    }
                }
                m0 += mb;
            }
            k0 += kb;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "bench-internals")]
    fn aligned_panels_start_on_a_cache_line_and_equal_pack() {
        for (k, n) in [(3, 5), (64, 48), (100, 17)] {
            let b: Vec<f32> = (0..k * n).map(|i| i as f32).collect();
            for threads in [1, 2, 3] {
                let p = pack_aligned_on(&b, k, n, threads);
                assert_eq!(p.as_slice().as_ptr() as usize % 64, 0);
                assert_eq!(p.as_slice(), &pack(&b, k, n)[..], "{k}x{n} on {threads} threads");
            }
        }
    }

    /// The levels with a packed kernel that this CPU runs.
    fn levels() -> Vec<Isa> {
        [Isa::Avx2Fma, Isa::Avx512].into_iter().filter(|l| l.supported()).collect()
    }

    /// `A` (`m × k`, rows `lda` apart) and `B` (`k × n`) of small deterministic values.
    fn operands(m: usize, k: usize, n: usize, lda: usize) -> (Vec<f32>, Vec<f32>) {
        let a = (0..m * lda).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1).collect();
        let b = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.2).collect();
        (a, b)
    }

    /// The same `A` stored transposed (`k × m`, rows `m + 2` apart).
    fn transposed(a: &[f32], m: usize, k: usize, lda: usize) -> (Vec<f32>, usize) {
        let ldt = m + 2;
        let mut at = vec![0.0f32; k * ldt];
        for i in 0..m {
            for p in 0..k {
                at[p * ldt + i] = a[i * lda + p];
            }
        }
        (at, ldt)
    }

    const SHAPES: [(usize, usize, usize); 9] = [
        (1, 5, 7),
        (1, 300, 768),
        (2, 33, 50),
        (3, 40, 72),
        (7, 600, 40),
        (13, 17, 129),
        (32, 64, 384),
        (6, 1030, 16),
        (200, 9, 24),
    ];

    #[test]
    fn matches_naive_product_on_edges_at_every_level() {
        for level in levels() {
            for &(m, k, n) in &SHAPES {
                let lda = k + 3;
                let ldc = n + 5;
                let (a, b) = operands(m, k, n, lda);
                let panels = pack(&b, k, n);
                let (at, ldt) = transposed(&a, m, k, lda);
                for (accumulate, trans) in [(false, false), (true, false), (false, true), (true, true)] {
                    let mut c = vec![0.5f32; m * ldc];
                    if trans {
                        run(level, MC, &at, (1, ldt), m, &panels, k, n, &mut c, ldc, accumulate);
                    } else {
                        run(level, MC, &a, (lda, 1), m, &panels, k, n, &mut c, ldc, accumulate);
                    }
                    for i in 0..m {
                        for j in 0..ldc {
                            let got = c[i * ldc + j] as f64;
                            if j >= n {
                                assert_eq!(got, 0.5, "{level:?}: padding column {j} was written");
                                continue;
                            }
                            let e: f64 = (0..k).map(|p| a[i * lda + p] as f64 * b[p * n + j] as f64).sum::<f64>()
                                + if accumulate { 0.5 } else { 0.0 };
                            let what = format!("{level:?} {m}x{k}x{n} ({i}, {j})");
                            assert!((got - e).abs() < 1e-3 * (1.0 + e.abs()), "{what}: {got} vs {e}");
                        }
                    }
                }
            }
        }
    }

    /// The AVX2 kernel computes every element with the same operations in the same order
    /// as the AVX-512 one: bit-identical results (K past one block, ragged edges, every
    /// register block shape of both).
    #[test]
    fn avx2_and_avx512_kernels_are_bit_identical() {
        if !Isa::Avx512.supported() {
            return;
        }
        for m in [1, 2, 3, 4, 5, 6, 7, 8, 11, 16, 24, 197] {
            for &(k, n) in &[(1, 3), (9, 17), (515, 40), (1100, 130), (64, 768)] {
                let (a, b) = operands(m, k, n, k);
                // Values whose products do not round exactly: an ordering change shows.
                let a: Vec<f32> = a.iter().enumerate().map(|(i, v)| v * 1.1 + (i as f32).sin() * 0.37).collect();
                let b: Vec<f32> = b.iter().enumerate().map(|(i, v)| v * 0.9 + (i as f32).cos() * 0.53).collect();
                let panels = pack(&b, k, n);
                for accumulate in [false, true] {
                    let out = |level| {
                        let mut c: Vec<f32> = (0..m * n).map(|i| (i as f32 * 0.3).sin()).collect();
                        run(level, MC, &a, (k, 1), m, &panels, k, n, &mut c, n, accumulate);
                        c
                    };
                    let (wide, narrow) = (out(Isa::Avx512), out(Isa::Avx2Fma));
                    let same = wide.iter().zip(&narrow).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{m}x{k}x{n} accumulate {accumulate}: the AVX2 sums differ");
                }
            }
        }
    }

    /// The row blocks change which rows are computed together, never a sum: every block
    /// size the host model can choose gives the bits of every other, at every level, in
    /// place and transposed (rows past one block, ragged last blocks, K past one block).
    #[test]
    fn row_blocks_never_change_the_bits() {
        for level in levels() {
            for m in [1, 23, 50, 97, 197] {
                for &(k, n) in &[(9, 17), (1100, 40)] {
                    let (a, b) = operands(m, k, n, k);
                    let a: Vec<f32> = a.iter().enumerate().map(|(i, v)| v * 1.1 + (i as f32).sin() * 0.37).collect();
                    let panels = pack(&b, k, n);
                    let (at, ldt) = transposed(&a, m, k, k);
                    for trans in [false, true] {
                        let out = |mc| {
                            let mut c: Vec<f32> = (0..m * n).map(|i| (i as f32 * 0.3).sin()).collect();
                            let (src, stride) = if trans { (&at, (1, ldt)) } else { (&a, (k, 1)) };
                            run(level, mc, src, stride, m, &panels, k, n, &mut c, n, true);
                            c.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                        };
                        let reference = out(MC);
                        for mc in [MC_STEP, 2 * MC_STEP, 72] {
                            assert_eq!(out(mc), reference, "{level:?} {m}x{k}x{n} transposed {trans}: rows by {mc}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_row_blocks_follow_the_private_cache() {
        assert_eq!(row_block_for(None), MC);
        assert_eq!(row_block_for(Some(512 << 10)), 48, "AMD Zen 3: 512 KiB of L2");
        assert_eq!(row_block_for(Some(1 << 20)), 96, "AMD Zen 4 and 5: 1 MiB");
        assert_eq!(row_block_for(Some(2 << 20)), MC, "2 MiB (Intel Xeon): never past the largest measured");
        assert_eq!(row_block_for(Some(256 << 10)), MC_STEP);
        assert_eq!(row_block_for(Some(4 << 10)), MC_STEP, "a tiny cache still gets one block of micro-kernel rows");
        for bytes in [0, 1, 100 << 10, 700 << 10, 64 << 20] {
            let rows = row_block_for(Some(bytes));
            assert!(rows.is_multiple_of(MC_STEP) && (MC_STEP..=MC).contains(&rows), "{bytes} bytes: {rows} rows");
        }
        assert!(blocking().contains(&format!("row blocks {}", row_block())));
    }

    #[test]
    #[should_panic(expected = "panel_gemm at level Portable")]
    fn the_portable_level_has_no_packed_kernel() {
        let panels = pack(&[1.0], 1, 1);
        run(Isa::Portable, MC, &[1.0], (1, 1), 1, &panels, 1, 1, &mut [0.0], 1, false);
    }
}
