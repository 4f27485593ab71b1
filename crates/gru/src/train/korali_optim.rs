//! The optimizers of Korali's `DeepSupervisor` learner ("Adam", "AdaBelief", "MADGRAD", "RMSProp",
//! "Adagrad"), over one flat parameter vector `θ: [P]`, with Korali's defaults and update rules.
//!
//! Korali follows the files `source/modules/solver/learner/deepSupervisor/optimizers/{fAdam,
//! fAdaBelief, fMadGrad, fRMSProp, fAdagrad}.cpp` (cselab/korali; the last non-module versions, as in
//! the `musicinmybrain/korali` snapshot). Korali *maximizes*: `deepSupervisor._cpp` back-propagates
//! `y − ŷ` (the negative of the MSE gradient) and subtracts `λθ` for L2, so each optimizer receives
//! the ascent direction `g = −∂L/∂θ`. Here [`KoraliOptimizerState::step`] takes the loss gradient
//! `d = ∂L/∂θ` and feeds Korali's formulas with `g = −d`, so that it descends `L`. Each update is
//! computed per element in `f64` (Korali computes in `f32`) and stored as `T`.

use gru_core::Real;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

    /// Names of the state tensors, each `[P]`, in the order [`KoraliOptimizerState::to_tensors`] gives.
    fn tensor_names(&self) -> &'static [&'static str] {
        match self {
            Self::Adam => &[FIRST_MOMENT, SECOND_MOMENT],
            Self::AdaBelief => &[FIRST_MOMENT, SECOND_CENTRAL_MOMENT],
            Self::Madgrad => &[GRADIENT_SUM, SQUARED_GRADIENT_SUM, INITIAL_VALUE],
            Self::RmsProp => &[SQUARED_GRADIENT_AVERAGE],
            Self::Adagrad => &[SQUARED_GRADIENT_SUM],
        }
    }
}

const FIRST_MOMENT: &str = "optimizer.first_moment";
const SECOND_MOMENT: &str = "optimizer.second_moment";
const SECOND_CENTRAL_MOMENT: &str = "optimizer.second_central_moment";
const GRADIENT_SUM: &str = "optimizer.gradient_sum";
const SQUARED_GRADIENT_SUM: &str = "optimizer.squared_gradient_sum";
const INITIAL_VALUE: &str = "optimizer.initial_value";
const SQUARED_GRADIENT_AVERAGE: &str = "optimizer.squared_gradient_average";

/// State of one Korali optimizer over `θ: [P]` (every tensor `[P]`, all 0 at the start) and the step
/// count `t` (the number of successful [`step`](Self::step) calls, Korali's `_modelEvaluationCount`):
///
/// - Adam: first moment `m`, second moment `v`
/// - AdaBelief: first moment `m`, second central moment `s`
/// - MADGRAD: `s`, `v` with Korali's signs (`s = −Σ η d`, `v = −Σ η d²`), and `θ₀`, the parameters
///   at the first step (Korali's `_initialValues`)
/// - RMSProp: the running mean square `r`
/// - Adagrad: the sum of squares `s`
#[derive(Clone, Debug, PartialEq)]
pub struct KoraliOptimizerState<T> {
    kind: KoraliOptimizer,
    num_params: usize,
    step: u64,
    /// One entry per name of `kind.tensor_names()`, in that order.
    tensors: Vec<Vec<T>>,
}

impl<T: Real> KoraliOptimizerState<T> {
    /// Zero state for `num_params` parameters.
    pub fn new(kind: KoraliOptimizer, num_params: usize) -> Self {
        let tensors = kind.tensor_names().iter().map(|_| vec![T::zero(); num_params]).collect();
        KoraliOptimizerState { kind, num_params, step: 0, tensors }
    }

    /// The optimizer this state belongs to.
    pub fn kind(&self) -> KoraliOptimizer {
        self.kind
    }

    /// `P`, the length of the flat parameter vector.
    pub fn num_params(&self) -> usize {
        self.num_params
    }

    /// The step count `t` (0 before the first step).
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// One update of `params: [P]` that *descends* the loss gradient `grads: [P]` (`d = ∂L/∂θ`, any
    /// L2 term already added) with step size `η = learning_rate` (Korali's `_eta`, set from
    /// `"Learning Rate"`). Korali's formulas take `g = −d`; with `t` the new step count:
    ///
    /// - Adam (`fAdam.cpp`): `m ← β1 m − (1−β1) g`;  `v ← β2 v + (1−β2) g²`;
    ///   `θ ← θ − η · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)` — standard bias-corrected Adam on `d`.
    /// - AdaBelief (`fAdaBelief.cpp`): `m ← β1 m − (1−β1) g`;  `s ← β2 s + (1−β2) (g + m)²` (with the
    ///   new `m`, i.e. `(d − m)²`, no `ε` inside);  `θ ← θ − η · (m / (1−β1^t)) / (sqrt(s / (1−β2^t)) + ε)`.
    /// - MADGRAD (`fMadGrad.cpp`): `s ← s + η g`;  `v ← v − η g²`;  `z = θ₀ − s / (cbrt(v) + ε)`;
    ///   `θ ← (1−c) θ + c z` with `c = 0.9` (constant; `λ = η`, no `sqrt(t)` growth). In terms of `d`:
    ///   `z = θ₀ − Σηd / (cbrt(Σηd²) − ε)`.
    /// - RMSProp (`fRMSProp.cpp`): `r ← (1−ρ) g² + ρ r`;  `θ ← θ − η (−g) / (sqrt(r) + ε)`, `ρ = 0.999`,
    ///   no bias correction.
    /// - Adagrad (`fAdagrad.cpp`): `s ← s + g²`;  `θ ← θ + η g / sqrt(s + ε)` (`ε` inside the root).
    ///
    /// Everything is checked before anything changes: a length mismatch is `Error::Data` naming
    /// `params` or `grads`; a negative or non-finite rate is `Error::Config` at
    /// `["Solver"]["Learning Rate"]`.
    pub fn step(&mut self, params: &mut [T], grads: &[T], learning_rate: f64) -> Result<()> {
        if params.len() != self.num_params {
            return Err(Error::data("params", params.len(), format!("expected {} parameters", self.num_params)));
        }
        if grads.len() != params.len() {
            return Err(Error::data("grads", grads.len(), format!("expected {} gradients", params.len())));
        }
        if !(learning_rate >= 0.0 && learning_rate.is_finite()) {
            return Err(Error::config(
                "[\"Solver\"][\"Learning Rate\"]",
                learning_rate,
                "must be finite and nonnegative",
            ));
        }
        let t = self.step.saturating_add(1);
        let eta = learning_rate;
        // Korali's gradient (the ascent direction) of element i.
        let g = |i: usize| -grads[i].widen();
        match (self.kind, self.tensors.as_mut_slice()) {
            (KoraliOptimizer::Adam | KoraliOptimizer::AdaBelief, [m, v]) => {
                let first_factor = 1.0 / (1.0 - BETA1.powf(t as f64));
                let second_factor = 1.0 / (1.0 - BETA2.powf(t as f64));
                let belief = self.kind == KoraliOptimizer::AdaBelief;
                for (i, p) in params.iter_mut().enumerate() {
                    let m_new = BETA1 * m[i].widen() - (1.0 - BETA1) * g(i);
                    let spread = if belief { g(i) + m_new } else { g(i) };
                    let v_new = BETA2 * v[i].widen() + (1.0 - BETA2) * spread * spread;
                    m[i] = T::lit(m_new);
                    v[i] = T::lit(v_new);
                    *p = T::lit(p.widen() - eta / ((v_new * second_factor).sqrt() + EPSILON) * (m_new * first_factor));
                }
            }
            (KoraliOptimizer::Madgrad, [s, v, initial]) => {
                if self.step == 0 {
                    initial.copy_from_slice(params);
                }
                let c = MADGRAD_MOMENTUM;
                for (i, p) in params.iter_mut().enumerate() {
                    let s_new = s[i].widen() + eta * g(i);
                    let v_new = v[i].widen() - eta * (g(i) * g(i));
                    let z = initial[i].widen() - (1.0 / (v_new.cbrt() + EPSILON)) * s_new;
                    s[i] = T::lit(s_new);
                    v[i] = T::lit(v_new);
                    *p = T::lit((1.0 - c) * p.widen() + c * z);
                }
            }
            (KoraliOptimizer::RmsProp, [r]) => {
                for (i, p) in params.iter_mut().enumerate() {
                    let r_new = (1.0 - RMSPROP_DECAY) * (g(i) * g(i)) + RMSPROP_DECAY * r[i].widen();
                    r[i] = T::lit(r_new);
                    let velocity = (eta / (r_new.sqrt() + EPSILON)) * -g(i);
                    *p = T::lit(p.widen() - velocity);
                }
            }
            (KoraliOptimizer::Adagrad, [s]) => {
                for (i, p) in params.iter_mut().enumerate() {
                    let s_new = s[i].widen() + g(i) * g(i);
                    s[i] = T::lit(s_new);
                    *p = T::lit(p.widen() + (eta / (s_new + EPSILON).sqrt()) * g(i));
                }
            }
            // `new` and `from_tensors` keep one tensor per name of `kind.tensor_names()`.
            _ => unreachable!("state tensors do not match {}", self.kind.name()),
        }
        self.step = t;
        Ok(())
    }

    /// The state as named flat tensors, each `[P]`, plus the step count `t`: Adam
    /// `optimizer.first_moment`, `optimizer.second_moment`; AdaBelief `optimizer.first_moment`,
    /// `optimizer.second_central_moment`; MADGRAD `optimizer.gradient_sum`,
    /// `optimizer.squared_gradient_sum`, `optimizer.initial_value`; RMSProp
    /// `optimizer.squared_gradient_average`; Adagrad `optimizer.squared_gradient_sum`.
    pub fn to_tensors(&self) -> (Vec<(String, Vec<T>)>, u64) {
        let names = self.kind.tensor_names().iter();
        (names.zip(&self.tensors).map(|(n, d)| (n.to_string(), d.clone())).collect(), self.step)
    }

    /// The state back from [`to_tensors`](Self::to_tensors) (in any order); resuming continues
    /// bit-identically. A missing, unknown, repeated or wrongly sized tensor is `Error::Data` naming it.
    pub fn from_tensors(
        kind: KoraliOptimizer,
        num_params: usize,
        tensors: Vec<(String, Vec<T>)>,
        step: u64,
    ) -> Result<Self> {
        let names = kind.tensor_names();
        let mut slots: Vec<Option<Vec<T>>> = vec![None; names.len()];
        for (name, data) in tensors {
            let Some(k) = names.iter().position(|n| *n == name) else {
                return Err(Error::data(&name, data.len(), format!("not a state tensor of {}", kind.name())));
            };
            if slots[k].is_some() {
                return Err(Error::data(&name, data.len(), "given twice"));
            }
            if data.len() != num_params {
                return Err(Error::data(&name, data.len(), format!("expected {num_params} values")));
            }
            slots[k] = Some(data);
        }
        let tensors = slots
            .into_iter()
            .zip(names)
            .map(|(slot, name)| slot.ok_or_else(|| Error::data(name, "missing", format!("needed by {}", kind.name()))))
            .collect::<Result<Vec<_>>>()?;
        Ok(KoraliOptimizerState { kind, num_params, step, tensors })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    /// Runs the loss gradients `grads` (one per step) on a single parameter starting at 1.
    fn run_scalar(kind: KoraliOptimizer, lr: f64, grads: &[f64]) -> Vec<f64> {
        let mut st = KoraliOptimizerState::<f64>::new(kind, 1);
        let mut p = [1.0];
        grads
            .iter()
            .map(|&g| {
                st.step(&mut p, &[g], lr).unwrap();
                p[0]
            })
            .collect()
    }

    fn assert_steps(kind: KoraliOptimizer, lr: f64, grads: &[f64], want: &[f64]) {
        let got = run_scalar(kind, lr, grads);
        for (g, w) in got.iter().zip(want) {
            assert!(close(*g, *w, 1e-13), "{}: {got:?} vs {want:?}", kind.name());
        }
    }

    #[test]
    fn adam_and_adabelief_match_hand_computed_steps() {
        let (d, eps) = ([0.5, 0.25, -0.5], 1e-8);
        // m = 0.05, 0.07, 0.013; v = 0.00025, 0.00031225, 0.00056193775; 1−β1^t = 0.1, 0.19, 0.271
        let t1 = 1.0 - 0.1 * 0.5 / (0.5 + eps);
        let t2 = t1 - 0.1 * (0.07 / 0.19) / ((0.00031225 / 0.001999_f64).sqrt() + eps);
        let t3 = t2 - 0.1 * (0.013 / 0.271) / ((0.00056193775 / 0.002997001_f64).sqrt() + eps);
        assert_steps(KoraliOptimizer::Adam, 0.1, &d, &[t1, t2, t3]);

        // AdaBelief: s = 0.001·(d − m)²  →  (0.45)², then 0.999 s + 0.001·0.18², then + 0.001·(−0.513)²
        let s1 = 0.001 * 0.45 * 0.45;
        let s2 = 0.999 * s1 + 0.001 * 0.18 * 0.18;
        let s3 = 0.999 * s2 + 0.001 * 0.513 * 0.513;
        let t1 = 1.0 - 0.1 * 0.5 / ((s1 / 0.001_f64).sqrt() + eps);
        let t2 = t1 - 0.1 * (0.07 / 0.19) / ((s2 / 0.001999_f64).sqrt() + eps);
        let t3 = t2 - 0.1 * (0.013 / 0.271) / ((s3 / 0.002997001_f64).sqrt() + eps);
        assert_steps(KoraliOptimizer::AdaBelief, 0.1, &d, &[t1, t2, t3]);
    }

    #[test]
    fn madgrad_rmsprop_adagrad_match_hand_computed_steps() {
        let eps = 1e-8;
        // MADGRAD, η = 0.1, θ₀ = 1: Σηd = 0.05, 0.075, 0.025; Σηd² = 0.025, 0.03125, 0.05625
        let z = |s: f64, v: f64| 1.0 - s / (v.cbrt() - eps);
        let t1 = 0.1 * 1.0 + 0.9 * z(0.05, 0.025);
        let t2 = 0.1 * t1 + 0.9 * z(0.075, 0.03125);
        let t3 = 0.1 * t2 + 0.9 * z(0.025, 0.05625);
        assert_steps(KoraliOptimizer::Madgrad, 0.1, &[0.5, 0.25, -0.5], &[t1, t2, t3]);

        // RMSProp, ρ = 0.999: r = 0.00025, 0.00031225, 0.00131193775
        let t1 = 1.0 - 0.01 * 0.5 / (0.00025_f64.sqrt() + eps);
        let t2 = t1 - 0.01 * 0.25 / (0.00031225_f64.sqrt() + eps);
        let t3 = t2 + 0.01 * 1.0 / (0.00131193775_f64.sqrt() + eps);
        assert_steps(KoraliOptimizer::RmsProp, 0.01, &[0.5, 0.25, -1.0], &[t1, t2, t3]);

        // Adagrad: s = 0.25, 0.3125, 1.3125
        let t1 = 1.0 - 0.1 * 0.5 / (0.25 + eps).sqrt();
        let t2 = t1 - 0.1 * 0.25 / (0.3125 + eps).sqrt();
        let t3 = t2 + 0.1 * 1.0 / (1.3125 + eps).sqrt();
        assert_steps(KoraliOptimizer::Adagrad, 0.1, &[0.5, 0.25, -1.0], &[t1, t2, t3]);
    }

    #[test]
    fn adam_first_step_is_learning_rate_times_sign() {
        let mut st = KoraliOptimizerState::<f64>::new(KoraliOptimizer::Adam, 3);
        let mut p = [0.0; 3];
        st.step(&mut p, &[3.0, -1e-2, 250.0], 0.001).unwrap();
        for (got, want) in p.iter().zip([-0.001, 0.001, -0.001]) {
            assert!(close(*got, want, 1e-5), "{p:?}");
        }
        assert_eq!(st.step_count(), 1);
    }

    #[test]
    fn quadratic_bowl_is_minimized() {
        // loss = ½ Σ a_i (θ_i − c_i)², gradient a_i (θ_i − c_i)
        let (a, c) = ([1.0, 2.0, 4.0, 0.5], [1.0, -1.0, 0.5, 2.0]);
        use KoraliOptimizer::*;
        for (kind, lr, steps) in
            [(Adam, 0.05, 500), (AdaBelief, 0.05, 500), (Madgrad, 0.5, 500), (RmsProp, 0.01, 2000), (Adagrad, 0.5, 500)]
        {
            let mut st = KoraliOptimizerState::<f64>::new(kind, 4);
            let mut p = [0.0; 4];
            for _ in 0..steps {
                let g: Vec<f64> = (0..4).map(|i| a[i] * (p[i] - c[i])).collect();
                st.step(&mut p, &g, lr).unwrap();
            }
            let err = p.iter().zip(c).map(|(p, c)| (p - c).abs()).fold(0.0, f64::max);
            assert!(err < 1e-6, "{}: {p:?}", kind.name());
        }
    }

    #[test]
    fn round_trip_continues_identically() {
        for kind in KoraliOptimizer::ALL {
            let grads = |k: usize| (0..5).map(|i| ((k * 5 + i) as f32 * 0.37).sin()).collect::<Vec<f32>>();
            let mut st = KoraliOptimizerState::<f32>::new(kind, 5);
            let mut p = [0.1f32, -0.2, 0.3, 0.4, -0.5];
            for k in 0..3 {
                st.step(&mut p, &grads(k), 0.01).unwrap();
            }
            let (mut tensors, t) = st.to_tensors();
            tensors.reverse();
            let mut resumed = KoraliOptimizerState::from_tensors(kind, 5, tensors, t).unwrap();
            assert_eq!(resumed, st);
            let mut q = p;
            for k in 3..8 {
                st.step(&mut p, &grads(k), 0.01).unwrap();
                resumed.step(&mut q, &grads(k), 0.01).unwrap();
            }
            assert_eq!(p.map(f32::to_bits), q.map(f32::to_bits), "{}", kind.name());
            assert_eq!(resumed.step_count(), 8);
        }
    }

    #[test]
    fn madgrad_anchors_at_the_first_parameters() {
        let mut st = KoraliOptimizerState::<f64>::new(KoraliOptimizer::Madgrad, 2);
        let mut p = [3.0, -2.0];
        st.step(&mut p, &[0.0, 0.0], 0.1).unwrap();
        assert_eq!(p, [3.0, -2.0]);
        st.step(&mut p, &[1.0, 0.0], 0.1).unwrap();
        let (tensors, _) = st.to_tensors();
        assert_eq!(tensors[2], (INITIAL_VALUE.to_string(), vec![3.0, -2.0]));
        assert_eq!((tensors[0].1[0], tensors[1].1[0]), (-0.1, -0.1));
        assert!(p[0] < 3.0 && p[1] == -2.0, "{p:?}");
    }

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

    /// The field of an `Error::Data` or the path of an `Error::Config`.
    fn named<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Err(Error::Data { field, .. }) => field,
            Err(Error::Config { path, .. }) => path,
            other => panic!("expected a data or config error, got {other:?}"),
        }
    }

    #[test]
    fn bad_inputs_are_rejected_without_change() {
        let mut st = KoraliOptimizerState::<f64>::new(KoraliOptimizer::AdaBelief, 4);
        let before = st.clone();
        let mut p = [1.0; 4];
        assert_eq!(named(st.step(&mut [1.0; 3], &[0.0; 3], 0.1)), "params");
        assert_eq!(named(st.step(&mut p, &[0.0; 5], 0.1)), "grads");
        assert_eq!(named(st.step(&mut p, &[1.0; 4], -0.1)), "[\"Solver\"][\"Learning Rate\"]");
        assert_eq!(named(st.step(&mut p, &[1.0; 4], f64::NAN)), "[\"Solver\"][\"Learning Rate\"]");
        assert_eq!((st, p), (before, [1.0; 4]));

        let kind = KoraliOptimizer::Madgrad;
        let (tensors, t) = KoraliOptimizerState::<f64>::new(kind, 4).to_tensors();
        let field = |ts: Vec<(String, Vec<f64>)>| named(KoraliOptimizerState::from_tensors(kind, 4, ts, t));
        assert_eq!(field(tensors[..2].to_vec()), INITIAL_VALUE);
        assert_eq!(field(vec![tensors[0].clone(), (SQUARED_GRADIENT_SUM.into(), vec![0.0; 3])]), SQUARED_GRADIENT_SUM);
        assert_eq!(field(vec![tensors[0].clone(), tensors[0].clone()]), GRADIENT_SUM);
        assert_eq!(field(vec![(FIRST_MOMENT.into(), vec![0.0; 4])]), FIRST_MOMENT);
    }
}
