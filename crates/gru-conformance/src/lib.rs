//! The conformance suite's shared pieces: the engines under test, the fixtures written by
//! `tools/gen_fixtures.py`, seeded random cases over every option, and the pass rule of
//! DESIGN.md: an element passes when `|a - ref| <= tol * (1 + |ref|)`.

pub mod cases;
pub mod compare;
pub mod fixture;

use gru_core::{Engine, KoraliEngine, Real};

/// One engine as the suite runs it, with the `computed_by` tag that proves it ran.
pub struct EngineUnderTest<T: Real> {
    pub name: &'static str,
    pub engine: Box<dyn Engine<T>>,
    pub computed_by: &'static str,
}

/// Every engine available in this build, for element type `T`. Each is run on every
/// fixture and case; engines that cannot run here are simply not listed.
pub fn engines<T: Real>() -> Vec<EngineUnderTest<T>> {
    vec![
        EngineUnderTest {
            name: "Korali (fast path)",
            engine: Box::new(KoraliEngine::new()),
            computed_by: gru_core::native::FAST_PATH,
        },
        EngineUnderTest {
            name: "Korali (scalar reference path)",
            engine: Box::new(KoraliEngine::reference()),
            computed_by: gru_core::native::REFERENCE_PATH,
        },
    ]
}
