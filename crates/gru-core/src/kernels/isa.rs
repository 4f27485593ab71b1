//! The one place that decides which instruction set the kernels use: detected once per
//! process, overridable by the environment variable `GRU_ISA`, read by every kernel of
//! this module (the panel GEMM, the activations, the GEMV).
//!
//! ```text
//! GRU_ISA unset or empty   the best level this CPU has: avx512 > avx2 > portable
//! GRU_ISA=avx512           AVX-512F (with AVX2 and FMA), where the CPU has it
//! GRU_ISA=avx2             AVX2 + FMA, even on a CPU with AVX-512 (how CI tests that path)
//! GRU_ISA=portable         no SIMD kernels of ours: baseline loops, faer's GEMM
//! ```
//! A level above what the CPU has falls back to the best it has (asking for `avx512` on
//! an AVX2 host gives `avx2`); any other value is ignored (the best level runs) with one
//! line on stderr saying so. Case and surrounding spaces do not matter. The variable is
//! read once, at the first kernel call: changing it later in the process has no effect.
//!
//! The levels compute identical results where they have the same kernels: the AVX2 panel
//! GEMM accumulates every element in the same order as the AVX-512 one, and the
//! activations and GEMV are the same loops compiled for each level. `portable` has no
//! panel GEMM (faer's GEMM computes those products), so its sums are ordered differently.
//! faer's own GEMM (the dense layers, f64, `portable`) dispatches on its own and does not
//! read `GRU_ISA`.

use std::sync::OnceLock;

/// The environment variable that overrides the detected level.
pub const ENV: &str = "GRU_ISA";

/// A kernel level, ordered from the least to the most capable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Baseline x86-64 (or any other architecture): portable loops, faer's GEMM.
    Portable,
    /// AVX2 and FMA (x86-64-v3), no AVX-512.
    Avx2Fma,
    /// AVX-512F, with AVX2 and FMA.
    Avx512,
}

impl Isa {
    /// Every level, from the least capable.
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2Fma, Isa::Avx512];

    /// The name `GRU_ISA` takes and `gru_core::kernel_isa` reports.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2Fma => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The level named `s` (see the module), `None` for any other text.
    pub fn parse(s: &str) -> Option<Isa> {
        let s = s.trim();
        Isa::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(s))
    }

    /// Whether this CPU runs the level's kernels.
    pub fn supported(self) -> bool {
        self <= detected()
    }
}

/// The best level this CPU has (detected once).
pub fn detected() -> Isa {
    static BEST: OnceLock<Isa> = OnceLock::new();
    *BEST.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
            if avx2 && std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if avx2 {
                return Isa::Avx2Fma;
            }
        }
        Isa::Portable
    })
}

/// The level the kernels use in this process: [`detected`], lowered by `GRU_ISA` (read
/// once, at the first call).
pub fn isa() -> Isa {
    static LEVEL: OnceLock<Isa> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let request = std::env::var(ENV).ok();
        let (level, ignored) = choose(request.as_deref(), detected());
        if ignored {
            eprintln!(
                "gru: ignoring {ENV}={:?} (expected avx512, avx2 or portable); kernels: {}",
                request.unwrap_or_default(),
                level.name()
            );
        }
        level
    })
}

/// The level for the request `GRU_ISA` holds on a CPU whose best level is `best`, and
/// whether the request was ignored (a value that names no level).
fn choose(request: Option<&str>, best: Isa) -> (Isa, bool) {
    match request.map(str::trim) {
        None | Some("") => (best, false),
        Some(r) => match Isa::parse(r) {
            Some(want) => (want.min(best), false),
            None => (best, true),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_lowers_the_level_and_never_raises_it() {
        use Isa::*;
        assert_eq!(choose(None, Avx512), (Avx512, false));
        assert_eq!(choose(Some(""), Avx2Fma), (Avx2Fma, false));
        assert_eq!(choose(Some("avx2"), Avx512), (Avx2Fma, false));
        assert_eq!(choose(Some(" AVX2 "), Avx512), (Avx2Fma, false));
        assert_eq!(choose(Some("portable"), Avx512), (Portable, false));
        assert_eq!(choose(Some("avx512"), Avx512), (Avx512, false));
        // More than the CPU has: the best it has.
        assert_eq!(choose(Some("avx512"), Avx2Fma), (Avx2Fma, false));
        assert_eq!(choose(Some("avx2"), Portable), (Portable, false));
        // A value that names no level: ignored, and said so.
        assert_eq!(choose(Some("avx-2"), Avx512), (Avx512, true));
        assert_eq!(choose(Some("sse"), Avx2Fma), (Avx2Fma, true));
    }

    #[test]
    fn names_round_trip() {
        for l in Isa::ALL {
            assert_eq!(Isa::parse(l.name()), Some(l));
        }
        assert!(Isa::Portable.supported());
        assert!(isa() <= detected());
    }
}
