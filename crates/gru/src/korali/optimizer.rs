//! The optimizers of Korali's `DeepSupervisor` learner by name ("Adam", "AdaBelief", "MADGRAD",
//! "RMSProp", "Adagrad") with Korali's constants; each constructs its optimizer of
//! [`crate::optim`] in Korali's order of operations ([`Form::Korali`]).
//!
//! Korali follows the files `source/modules/solver/learner/deepSupervisor/optimizers/{fAdam,
//! fAdaBelief, fMadGrad, fRMSProp, fAdagrad}.cpp` (cselab/korali; the last non-module versions, as in
//! the `musicinmybrain/korali` snapshot). Korali *maximizes*: `deepSupervisor._cpp` back-propagates
//! `y − ŷ` (the negative of the MSE gradient) and subtracts `λθ` for L2, so each optimizer receives
//! the ascent direction `g = −∂L/∂θ`. Here the optimizers take the loss gradient `d = ∂L/∂θ`
//! and descend `L` with Korali's formulas on `g = −d` (the same bits: negation is exact). Each
//! update is computed per element in `f64` (Korali computes in `f32`) and stored as `T`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::optim::{AdaBelief, Adagrad, Adam, Form, Madgrad, Method, OptimizerState, RmsProp};

/// Korali's `β1` of Adam and AdaBelief (`fAdam.cpp`: `_beta1 = 0.9f`).
pub const BETA1: f64 = 0.9;
/// Korali's `β2` of Adam and AdaBelief (`fAdam.cpp`: `_beta2 = 0.999f`).
pub const BETA2: f64 = 0.999;
/// Korali's `ε` of every optimizer (`_epsilon = 1e-08f`).
pub const EPSILON: f64 = 1e-8;
/// Korali's RMSProp decay `ρ` (`fRMSProp.cpp`: `_decay = 0.999`).
pub const RMSPROP_DECAY: f64 = 0.999;
/// Korali's MADGRAD averaging weight `c` (`fMadGrad.cpp`: `_momentum = 0.9f`), the weight of `z`.
pub const MADGRAD_MOMENTUM: f64 = 0.9;
/// Korali's default step size `η` of every optimizer (`_eta = 0.001`); the DeepSupervisor overwrites
/// it with `["Solver"]["Learning Rate"]` at the start of every generation.
pub const DEFAULT_LEARNING_RATE: f64 = 0.001;

/// The optimizer of `["Solver"]["Neural Network"]["Optimizer"]` (serialized with Korali's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KoraliOptimizer {
    /// "Adam" (`fAdam.cpp`).
    Adam,
    /// "AdaBelief" (`fAdaBelief.cpp`).
    AdaBelief,
    /// "MADGRAD" (`fMadGrad.cpp`).
    #[serde(rename = "MADGRAD")]
    Madgrad,
    /// "RMSProp" (`fRMSProp.cpp`).
    #[serde(rename = "RMSProp")]
    RmsProp,
    /// "Adagrad" (`fAdagrad.cpp`).
    Adagrad,
}

impl KoraliOptimizer {
    /// All five, in Korali's order of options.
    pub const ALL: [KoraliOptimizer; 5] = [Self::Adam, Self::AdaBelief, Self::Madgrad, Self::RmsProp, Self::Adagrad];

    /// The optimizer named `name` (Korali's exact name, or any ASCII case of it). An unknown name is
    /// `Error::Config` at `path` (e.g. `["Solver"]["Neural Network"]["Optimizer"]`) listing the names.
    pub fn from_name(name: &str, path: &str) -> Result<Self> {
        let exact = Self::ALL.into_iter().find(|o| o.name() == name);
        exact.or_else(|| Self::ALL.into_iter().find(|o| o.name().eq_ignore_ascii_case(name))).ok_or_else(|| {
            let names: Vec<String> = Self::ALL.iter().map(|o| format!("\"{}\"", o.name())).collect();
            Error::config(
                path,
                format!("\"{name}\""),
                format!("unknown optimizer; expected one of {}", names.join(", ")),
            )
        })
    }

    /// Korali's name of the optimizer.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Adam => "Adam",
            Self::AdaBelief => "AdaBelief",
            Self::Madgrad => "MADGRAD",
            Self::RmsProp => "RMSProp",
            Self::Adagrad => "Adagrad",
        }
    }
}

impl From<KoraliOptimizer> for Method {
    /// The optimizer with Korali's constants and order of operations.
    fn from(kind: KoraliOptimizer) -> Self {
        match kind {
            KoraliOptimizer::Adam => Adam { beta1: BETA1, beta2: BETA2, epsilon: EPSILON, form: Form::Korali }.into(),
            KoraliOptimizer::AdaBelief => AdaBelief { beta1: BETA1, beta2: BETA2, epsilon: EPSILON }.into(),
            KoraliOptimizer::Madgrad => Madgrad { momentum: MADGRAD_MOMENTUM, epsilon: EPSILON }.into(),
            KoraliOptimizer::RmsProp => RmsProp { decay: RMSPROP_DECAY, epsilon: EPSILON, form: Form::Korali }.into(),
            KoraliOptimizer::Adagrad => Adagrad { epsilon: EPSILON }.into(),
        }
    }
}

/// The state of a Korali optimizer: an [`OptimizerState`] built from a [`KoraliOptimizer`]
/// (`KoraliOptimizerState::new(KoraliOptimizer::Adam, P)`), updating the whole vector.
pub type KoraliOptimizerState<T> = OptimizerState<T>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Optimizer;

    #[test]
    fn names_and_serde() {
        for kind in KoraliOptimizer::ALL {
            assert_eq!(KoraliOptimizer::from_name(kind.name(), "p").unwrap(), kind);
            assert_eq!(KoraliOptimizer::from_name(&kind.name().to_lowercase(), "p").unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<KoraliOptimizer>(&json).unwrap(), kind);
        }
        assert_eq!(KoraliOptimizer::from_name("rmsPROP", "p").unwrap(), KoraliOptimizer::RmsProp);
        let path = "[\"Solver\"][\"Neural Network\"][\"Optimizer\"]";
        match KoraliOptimizer::from_name("SGD", path) {
            Err(Error::Config { path: p, value, reason }) => {
                assert_eq!((p.as_str(), value.as_str()), (path, "\"SGD\""));
                assert!(reason.contains("\"MADGRAD\"") && reason.contains("\"Adagrad\""), "{reason}");
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn each_name_constructs_its_optimizer() {
        let names: Vec<&str> = KoraliOptimizer::ALL.iter().map(|&k| Method::from(k).name()).collect();
        assert_eq!(names, ["adam", "adabelief", "madgrad", "rmsprop", "adagrad"]);
        let rmsprop = KoraliOptimizerState::<f32>::new(KoraliOptimizer::RmsProp, 3);
        assert_eq!(rmsprop.method(), &Method::RmsProp(RmsProp { decay: 0.999, epsilon: 1e-8, form: Form::Korali }));
        assert_eq!(rmsprop.step_count(), 0);
    }

    #[test]
    fn adam_first_step_is_learning_rate_times_sign() {
        let mut st = KoraliOptimizerState::<f64>::new(KoraliOptimizer::Adam, 3);
        let mut p = [0.0; 3];
        st.step(&mut p, &[3.0, -1e-2, 250.0], 0.001).unwrap();
        for (got, want) in p.iter().zip([-0.001, 0.001, -0.001]) {
            assert!((got - want).abs() <= 1e-5 * want.abs(), "{p:?}");
        }
    }
}
