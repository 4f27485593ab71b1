//! The loops around a panel micro-kernel, shared by the AVX-512 (`panel_gemm.rs`) and
//! AVX2+FMA (`panel_avx2.rs`) kernels: `sweep` runs one K block over rows in blocks of
//! `MR` and panels in groups of `NP`, `rest_rows` the last rows a block of `MR` leaves.
//! A macro rather than a generic function: each instance must be compiled with its
//! kernel's target features so that the kernel inlines into it, and a function has one
//! set of target features for every instantiation.
//!
//! The invoking module provides `kernel::<MR, NP>(a, rs, cs, b, k, p0, k0, kb, c, ldc,
//! n, add)` (one `MR × NP·NR` block) and `NR`.

/// Defines `sweep` and `rest_rows` over the module's `kernel`, compiled with `$features`.
macro_rules! panel_sweeps {
    ($features:literal) => {
        /// Rows in blocks of `MR`, panels in groups of `NP`, for one K block.
        #[target_feature(enable = $features)]
        #[inline]
        #[allow(clippy::too_many_arguments)]
        unsafe fn sweep<const MR: usize, const NP: usize>(
            a: *const f32,
            rs: usize,
            cs: usize,
            m: usize,
            b: *const f32,
            k: usize,
            k0: usize,
            kb: usize,
            n: usize,
            c: *mut f32,
            ldc: usize,
            add: bool,
        ) {
            let np = n.div_ceil(NR);
            let full_groups = np / NP * NP;
            let full_rows = m / MR * MR;
            // SAFETY: every call stays inside rows < m and panels < np (the driver's
            // contract).
            unsafe {
                let mut p = 0;
                while p < full_groups {
                    let mut i = 0;
                    while i < full_rows {
                        kernel::<MR, NP>(a.add(i * rs), rs, cs, b, k, p, k0, kb, c.add(i * ldc), ldc, n, add);
                        i += MR;
                    }
                    rest_rows::<NP>(a, rs, cs, m, i, b, k, p, k0, kb, c, ldc, n, add);
                    p += NP;
                }
                while p < np {
                    let mut i = 0;
                    while i < full_rows {
                        kernel::<MR, 1>(a.add(i * rs), rs, cs, b, k, p, k0, kb, c.add(i * ldc), ldc, n, add);
                        i += MR;
                    }
                    rest_rows::<1>(a, rs, cs, m, i, b, k, p, k0, kb, c, ldc, n, add);
                    p += 1;
                }
            }
        }

        /// The last `m - i` (< 6; blocks of 8 rows leave none) rows of panels `p .. p + NP`.
        #[target_feature(enable = $features)]
        #[inline]
        #[allow(clippy::too_many_arguments)]
        unsafe fn rest_rows<const NP: usize>(
            a: *const f32,
            rs: usize,
            cs: usize,
            m: usize,
            i: usize,
            b: *const f32,
            k: usize,
            p: usize,
            k0: usize,
            kb: usize,
            c: *mut f32,
            ldc: usize,
            n: usize,
            add: bool,
        ) {
            // SAFETY: rows i .. m of A and C exist (the driver's contract).
            unsafe {
                let (a, c) = (a.add(i * rs), c.add(i * ldc));
                match m - i {
                    0 => {}
                    1 => kernel::<1, NP>(a, rs, cs, b, k, p, k0, kb, c, ldc, n, add),
                    2 => kernel::<2, NP>(a, rs, cs, b, k, p, k0, kb, c, ldc, n, add),
                    3 => kernel::<3, NP>(a, rs, cs, b, k, p, k0, kb, c, ldc, n, add),
                    4 => kernel::<4, NP>(a, rs, cs, b, k, p, k0, kb, c, ldc, n, add),
                    _ => kernel::<5, NP>(a, rs, cs, b, k, p, k0, kb, c, ldc, n, add),
                }
            }
        }
    };
}

pub(super) use panel_sweeps;
