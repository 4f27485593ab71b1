//! Reference fixtures (JSON) produced by `tools/gen_fixtures.py` from an independent
//! PyTorch autograd implementation checked against `torch.nn.GRU` and onnxruntime. The
//! format is described in `fixtures/README.md`.

use std::path::{Path, PathBuf};

use gru_core::{DType, GateActivation, GruParams, GruSpec, OutputMode, Real, ResetGateMode, StateActivation};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct FixtureSpec {
    pub input_size: usize,
    pub hidden_size: usize,
    pub depth: usize,
    pub bidirectional: bool,
    pub reset_gate_mode: ResetGateMode,
    pub state_activation: StateActivation,
    pub gate_activation: String,
    pub hard_sigmoid_alpha: f64,
    pub hard_sigmoid_beta: f64,
    pub clip: Option<f64>,
    pub output_mode: OutputMode,
}

#[derive(Debug, Deserialize)]
pub struct FixtureBlock {
    pub w: Vec<f64>,
    pub r: Vec<f64>,
    pub b: Vec<f64>,
}

#[derive(Debug, Deserialize)]
pub struct FixtureGrads {
    pub x: Vec<f64>,
    pub h0: Vec<f64>,
    pub params: Vec<FixtureBlock>,
}

/// One fixture file.
#[derive(Debug, Deserialize)]
pub struct Fixture {
    pub name: String,
    pub dtype: DType,
    pub spec: FixtureSpec,
    pub steps: usize,
    pub batch: usize,
    pub lengths: Vec<usize>,
    pub x: Vec<f64>,
    pub h0: Option<Vec<f64>>,
    pub params: Vec<FixtureBlock>,
    pub y: Vec<f64>,
    pub h_t: Vec<f64>,
    pub dy: Vec<f64>,
    pub dh_t: Vec<f64>,
    pub grads: FixtureGrads,
}

/// The folder holding the fixtures (beside this crate's manifest).
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Loads every `*.json` fixture, sorted by file name.
pub fn load_all() -> Vec<Fixture> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("fixtures folder is readable")
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// Converts a slice of the fixture to `T` (exact for values written from `T`).
pub fn cast<T: Real>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::lit(x)).collect()
}

impl Fixture {
    /// The options as a [`GruSpec`].
    pub fn gru_spec(&self) -> GruSpec {
        let s = &self.spec;
        let gate = match s.gate_activation.as_str() {
            "sigmoid" => GateActivation::Sigmoid,
            "hard-sigmoid" => GateActivation::HardSigmoid { alpha: s.hard_sigmoid_alpha, beta: s.hard_sigmoid_beta },
            other => panic!("{}: unknown gate activation {other}", self.name),
        };
        GruSpec::new(s.input_size, s.hidden_size)
            .with_depth(s.depth)
            .with_bidirectional(s.bidirectional)
            .with_reset_gate_mode(s.reset_gate_mode)
            .with_state_activation(s.state_activation)
            .with_gate_activation(gate)
            .with_clip(s.clip)
            .with_output_mode(s.output_mode)
    }

    /// The parameters as `GruParams<T>`.
    pub fn gru_params<T: Real>(&self) -> GruParams<T> {
        let blocks = self.params.iter().map(|b| (cast(&b.w), cast(&b.r), cast(&b.b))).collect();
        GruParams::from_blocks(&self.gru_spec(), blocks).unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    /// The expected parameter gradients, flattened in `GruParams::to_flat` order.
    pub fn expected_param_grads(&self) -> Vec<f64> {
        self.grads.params.iter().flat_map(|b| b.w.iter().chain(&b.r).chain(&b.b).copied()).collect()
    }
}
