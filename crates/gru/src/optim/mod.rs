//! The optimizers, each written once, and gradient clipping, over one flat parameter vector
//! `θ: [P]` (the order of [`Network::params_flat`](crate::network::Network::params_flat)).
//!
//! | optimizer | state tensors (each `[P]`, `optimizer.*`) | chosen by |
//! |---|---|---|
//! | [`Sgdm`] | `velocity` | MATLAB `"sgdm"` |
//! | [`Adam`] | `first_moment`, `second_moment` | MATLAB `"adam"` ([`Form::Matlab`]), Korali `"Adam"` ([`Form::Korali`]) |
//! | [`AdaBelief`] | `first_moment`, `second_central_moment` | Korali `"AdaBelief"` |
//! | [`RmsProp`] | `second_moment` | MATLAB `"rmsprop"` ([`Form::Matlab`]), Korali `"RMSProp"` ([`Form::Korali`]) |
//! | [`Madgrad`] | `gradient_sum`, `squared_gradient_sum`, `initial_value` | Korali `"MADGRAD"` |
//! | [`Adagrad`] | `squared_gradient_sum` | Korali `"Adagrad"` |
//!
//! The names of MATLAB's solvers live in [`train::Solver`](crate::train::Solver), Korali's in
//! [`korali::KoraliOptimizer`](crate::korali::KoraliOptimizer); both construct a [`Method`].
//!
//! Notation: `d = ∂L/∂θ` is the descent gradient of one element (with MATLAB's coupled L2,
//! `d = ∂L/∂θ + λ_s θ`), `α` its step size, `t` the step count after the step. Every update is
//! computed per element in `f64` from the stored `T` values and stored back as `T`, so `f32`
//! and `f64` follow the same formulas. Korali's sources write their formulas for the ascent
//! direction `g = −d`; negation is exact in IEEE arithmetic, so they are written here on `d`
//! and give the same bits. Where MATLAB's and Korali's references order the same update's
//! operations differently, [`Form`] keeps each one's order (and so each run's bits).
//!
//! [`OptimizerState`] holds one optimizer's state and applies it; the [`Optimizer`] trait is
//! what the training step ([`train_step`](crate::train::train_step)) drives.

mod adagrad;
mod adam;
mod clip;
mod madgrad;
mod rmsprop;
mod sgdm;
mod state;

use gru_core::Real;

use crate::error::Result;

pub use adagrad::Adagrad;
pub use adam::{AdaBelief, Adam};
pub use clip::{clip_gradients, validate_gradient_threshold, GradientThresholdMethod};
pub use madgrad::Madgrad;
pub use rmsprop::RmsProp;
pub use sgdm::Sgdm;
pub use state::OptimizerState;

/// An optimizer over `θ: [P]`: one update per step, and its state as named tensors for
/// checkpoints (a run resumed from them continues bit-identically).
pub trait Optimizer<T: Real> {
    /// The optimizer's name (`"sgdm"`, `"adam"`, `"adabelief"`, `"rmsprop"`, `"madgrad"`,
    /// `"adagrad"`).
    fn name(&self) -> &'static str;

    /// `P`, the length of the flat parameter vector.
    fn num_params(&self) -> usize;

    /// The step count `t` (0 before the first step).
    fn step_count(&self) -> u64;

    /// One update of `params: [P]` that descends the loss gradients `grads: [P]` with step
    /// size `learn_rate`; the step count advances to `t`.
    fn step(&mut self, params: &mut [T], grads: &[T], learn_rate: f64) -> Result<()>;

    /// The state as named flat tensors, each `[P]`, plus the step count `t`.
    fn to_tensors(&self) -> (Vec<(String, Vec<T>)>, u64);

    /// The state back from [`to_tensors`](Self::to_tensors) (in any order).
    fn load_tensors(&mut self, tensors: Vec<(String, Vec<T>)>, step: u64) -> Result<()>;
}

/// Whose order of floating-point operations an optimizer follows where MATLAB's and Korali's
/// references compute the same update differently (the equations are the same; the bits are
/// not). Each optimizer's docs give both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Form {
    /// MATLAB's `trainingOptions` solvers (and this crate's trainer).
    #[default]
    Matlab,
    /// Korali's DeepSupervisor optimizers (`fAdam.cpp`, `fRMSProp.cpp`, ...).
    Korali,
}

/// One of the optimizers with its hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    Sgdm(Sgdm),
    Adam(Adam),
    AdaBelief(AdaBelief),
    RmsProp(RmsProp),
    Madgrad(Madgrad),
    Adagrad(Adagrad),
}

impl Method {
    /// The optimizer's name (see [`Optimizer::name`]).
    pub fn name(&self) -> &'static str {
        match self {
            Method::Sgdm(_) => "sgdm",
            Method::Adam(_) => "adam",
            Method::AdaBelief(_) => "adabelief",
            Method::RmsProp(_) => "rmsprop",
            Method::Madgrad(_) => "madgrad",
            Method::Adagrad(_) => "adagrad",
        }
    }

    /// Names of the state tensors, each `[P]`, in the order [`Optimizer::to_tensors`] gives.
    pub fn state_names(&self) -> &'static [&'static str] {
        match self {
            Method::Sgdm(r) => r.state_names(),
            Method::Adam(r) => r.state_names(),
            Method::AdaBelief(r) => r.state_names(),
            Method::RmsProp(r) => r.state_names(),
            Method::Madgrad(r) => r.state_names(),
            Method::Adagrad(r) => r.state_names(),
        }
    }
}

macro_rules! method_from {
    ($($t:ident),*) => {$(
        impl From<$t> for Method {
            fn from(rule: $t) -> Self {
                Method::$t(rule)
            }
        }
    )*};
}

method_from!(Sgdm, Adam, AdaBelief, RmsProp, Madgrad, Adagrad);

/// The state tensor names, shared by the optimizers that keep the same quantity.
pub(crate) mod names {
    pub const VELOCITY: &str = "optimizer.velocity";
    pub const FIRST_MOMENT: &str = "optimizer.first_moment";
    pub const SECOND_MOMENT: &str = "optimizer.second_moment";
    pub const SECOND_CENTRAL_MOMENT: &str = "optimizer.second_central_moment";
    pub const GRADIENT_SUM: &str = "optimizer.gradient_sum";
    pub const SQUARED_GRADIENT_SUM: &str = "optimizer.squared_gradient_sum";
    pub const INITIAL_VALUE: &str = "optimizer.initial_value";
}

/// The per-element update of one optimizer: what each optimizer file writes, once.
pub(crate) trait Rule {
    /// Names of the state tensors; `update` gets one state value per name, in this order.
    fn state_names(&self) -> &'static [&'static str];

    /// Constants of step `t` (bias corrections), computed once per step.
    fn constants(&self, _t: u64) -> [f64; 2] {
        [0.0; 2]
    }

    /// Whether the last state tensor is `θ₀`, the parameters before the first step (MADGRAD).
    fn anchors_initial(&self) -> bool {
        false
    }

    /// The new `θ` from `theta`, the descent gradient `d`, the step size `alpha` and the step's
    /// `constants`; updates `state` (widened to `f64`) in place.
    fn update(&self, theta: f64, d: f64, alpha: f64, constants: [f64; 2], state: &mut [f64]) -> f64;
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers of the optimizers' unit tests.
    use super::{Method, Optimizer, OptimizerState};

    pub fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    /// Runs the loss gradients `grads` (one per step) on a single parameter starting at 1.
    pub fn run_scalar(method: impl Into<Method>, lr: f64, grads: &[f64]) -> Vec<f64> {
        let mut st = OptimizerState::<f64>::new(method, 1);
        let mut p = [1.0];
        grads
            .iter()
            .map(|&g| {
                st.step(&mut p, &[g], lr).unwrap();
                p[0]
            })
            .collect()
    }

    /// [`run_scalar`] against hand-computed parameters.
    pub fn assert_steps(method: impl Into<Method>, lr: f64, grads: &[f64], want: &[f64]) {
        let method = method.into();
        let got = run_scalar(method, lr, grads);
        for (g, w) in got.iter().zip(want) {
            assert!(close(*g, *w, 1e-13), "{method:?}: {got:?} vs {want:?}");
        }
    }

    /// Minimizes `½ Σ a_i (θ_i − c_i)²` from 0 and returns the largest error.
    pub fn bowl_error(method: impl Into<Method>, lr: f64, steps: usize) -> f64 {
        let (a, c) = ([1.0, 2.0, 4.0, 0.5], [1.0, -1.0, 0.5, 2.0]);
        let mut st = OptimizerState::<f64>::new(method, 4);
        let mut p = [0.0; 4];
        for _ in 0..steps {
            let g: Vec<f64> = (0..4).map(|i| a[i] * (p[i] - c[i])).collect();
            st.step(&mut p, &g, lr).unwrap();
        }
        p.iter().zip(c).map(|(p, c)| (p - c).abs()).fold(0.0, f64::max)
    }
}
