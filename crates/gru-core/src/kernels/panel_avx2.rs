//! The AVX2+FMA micro-kernel of the panel GEMM (`panel_gemm.rs` packs, checks the shapes
//! and dispatches here on an AVX2 level): `C (+)= A · B` over the same 16-column panels,
//! each panel row read as two 8-lane ymm vectors.
//!
//! Same sums as the AVX-512 kernel, bit for bit: every element of `C` is computed as
//! ```text
//! for each K block [k0, k0 + kb) (kb = min(kc, K - k0)):
//!     acc = 0;  for p in k0 .. k0 + kb:  acc = fma(A(i, p), B(p, j), acc)
//!     C(i, j) = acc + C(i, j)   if accumulating or k0 > 0,   else acc
//! ```
//! with the same `kc`; only the register blocking differs (which elements are computed
//! together), and that changes no element's sequence of operations.
//!
//! Register block: `MR × NP` panels in `MR · NP · 2` ymm accumulators (16 ymm registers:
//! 6 × 1 panel takes 12 accumulators, 2 panel vectors and 1 broadcast; 1 × 4 and 2 × 2
//! read their panel vectors once each or keep them in the 7 left). No block needs more
//! than 16 registers: 3 × 2 (17) made the compiler keep two accumulators on the stack.
//! The last panel's columns past `N` are masked (`_mm256_maskload_ps` /
//! `_mm256_maskstore_ps`).

#[cfg(target_arch = "x86_64")]
pub(super) use imp::drive;

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::*;

    use super::super::panel_gemm::NR;

    /// Lanes in one ymm vector of f32.
    const LANES: usize = 8;

    /// The mask of the first `lanes` (< 8) lanes, for the masked loads and stores.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn first_lanes(lanes: usize) -> __m256i {
        _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
    }

    /// Writes `v` (plus the old values when `add`) to the `lanes` (1..=8) columns at `dst`.
    ///
    /// # Safety
    /// `dst .. dst + lanes` are valid for reads and writes, and the CPU has AVX2.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn store(dst: *mut f32, v: __m256, lanes: usize, add: bool) {
        // SAFETY: the caller's contract; the masked forms touch only the first `lanes`.
        unsafe {
            if lanes == LANES {
                let v = if add { _mm256_add_ps(v, _mm256_loadu_ps(dst)) } else { v };
                _mm256_storeu_ps(dst, v);
            } else {
                let m = first_lanes(lanes);
                let v = if add { _mm256_add_ps(v, _mm256_maskload_ps(dst, m)) } else { v };
                _mm256_maskstore_ps(dst, m, v);
            }
        }
    }

    /// One `MR × NP·NR` block: rows `a[0..MR]`, panels `p0..p0+NP`, depth `kb` from `k0`.
    #[target_feature(enable = "avx2,fma")]
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
        // and p < k0 + kb, panels p0 .. p0 + NP (each k·NR values, zero-padded to NR
        // columns), and rows < MR of C at columns p0·NR .. min(n, (p0 + NP)·NR); the
        // stores write only columns < n, and a pointer past the first half of a panel is
        // formed only when that half has a column < n.
        unsafe {
            let mut acc = [[[_mm256_setzero_ps(); 2]; NP]; MR];
            let mut bp = [std::ptr::null::<f32>(); NP];
            for (q, ptr) in bp.iter_mut().enumerate() {
                *ptr = b.add(((p0 + q) * k + k0) * NR);
            }
            let ap = a.add(k0 * cs);
            for kk in 0..kb {
                let mut bv = [[_mm256_setzero_ps(); 2]; NP];
                for q in 0..NP {
                    bv[q][0] = _mm256_loadu_ps(bp[q].add(kk * NR));
                    bv[q][1] = _mm256_loadu_ps(bp[q].add(kk * NR + LANES));
                }
                for (r, row) in acc.iter_mut().enumerate() {
                    let av = _mm256_set1_ps(*ap.add(r * rs + kk * cs));
                    for q in 0..NP {
                        row[q][0] = _mm256_fmadd_ps(av, bv[q][0], row[q][0]);
                        row[q][1] = _mm256_fmadd_ps(av, bv[q][1], row[q][1]);
                    }
                }
            }
            for (r, row) in acc.iter().enumerate() {
                for (q, halves) in row.iter().enumerate() {
                    let cols = n.saturating_sub((p0 + q) * NR).min(NR);
                    let dst = c.add(r * ldc + (p0 + q) * NR);
                    store(dst, halves[0], cols.min(LANES), add);
                    if cols > LANES {
                        store(dst.add(LANES), halves[1], cols - LANES, add);
                    }
                }
            }
        }
    }

    super::super::panel_sweep::panel_sweeps!("avx2,fma");

    /// `C (+)= A · B`: `A(i, p) = a[i · rs + p · cs]` (`m × k`), `b` the panels of `B`
    /// (`k × n`), `C` `m × n` with rows `ldc` apart; `K` in blocks of `kc` (the AVX-512
    /// kernel's, for the same sums), rows in blocks of `mc`.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; `m, n, k, kc, mc > 0`; A(i, p) is readable for i < m,
    /// p < k; `b` holds `⌈n / NR⌉` panels of `k · NR` values; rows < m of C (columns < n)
    /// are readable and writable.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(in super::super) unsafe fn drive(
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
        kc: usize,
        mc: usize,
    ) {
        let mut k0 = 0;
        while k0 < k {
            let kb = kc.min(k - k0);
            let add = accumulate || k0 > 0;
            let mut m0 = 0;
            while m0 < m {
                let mb = mc.min(m - m0);
                // SAFETY: forwarded from the caller's contract; rows m0 .. m0 + mb < m.
                unsafe {
                    let (a, c) = (a.add(m0 * rs), c.add(m0 * ldc));
                    match mb {
                        1 => sweep::<1, 4>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                        2 => sweep::<2, 2>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                        3 => sweep::<3, 1>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                        4 => sweep::<4, 1>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                        5 => sweep::<5, 1>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                        _ => sweep::<6, 1>(a, rs, cs, mb, b, k, k0, kb, n, c, ldc, add),
                    }
                }
                m0 += mb;
            }
            k0 += kb;
        }
    }
}
