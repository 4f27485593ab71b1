//! The optimizer math of MATLAB's `trainingOptions`: the solvers `sgdm`, `adam` and `rmsprop`,
//! the piecewise learn-rate schedule and gradient clipping, over one flat parameter vector.
//!
//! The network flattens all learnable tensors into one vector `θ: [P]` (its order is the
//! network's layout); a [`Segment`] names a contiguous run of it with its own learn-rate and L2
//! factors (a GRU's W, R and b are split per gate r, z, n). Each update is computed per element
//! in `f64` and stored as `T`, so `f32` and `f64` follow the same formulas.

use std::collections::BTreeMap;

use gru_core::Real;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A contiguous run `start..start+len` of the flat parameter vector, with MATLAB's per-parameter
/// `LearnRateFactor` (step size `α_s = α · learn_rate_factor`; 0 freezes the run) and
/// `L2Factor` (L2 coefficient `λ_s = λ · l2_factor`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start: usize,
    pub len: usize,
    pub learn_rate_factor: f64,
    pub l2_factor: f64,
    /// Index of the learnable tensor the run belongs to (runs of one tensor share it); used by
    /// [`GradientThresholdMethod::L2Norm`].
    pub tensor: usize,
}

impl Segment {
    /// A run `start..start+len` of tensor `tensor` with both factors 1.
    pub fn new(start: usize, len: usize, tensor: usize) -> Self {
        Segment { start, len, learn_rate_factor: 1.0, l2_factor: 1.0, tensor }
    }

    /// The same run with the given `LearnRateFactor` and `L2Factor`.
    pub fn with_factors(self, learn_rate_factor: f64, l2_factor: f64) -> Self {
        Segment { learn_rate_factor, l2_factor, ..self }
    }

    /// `start..start+len` when it fits in `0..num_params`.
    fn range(&self, num_params: usize) -> Option<std::ops::Range<usize>> {
        let end = self.start.checked_add(self.len)?;
        (end <= num_params).then_some(self.start..end)
    }
}

/// A solver of `trainingOptions` with its hyperparameters (MATLAB names in the docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum Solver {
    /// "sgdm": stochastic gradient descent with momentum γ (`Momentum`, default 0.9).
    Sgdm { momentum: f64 },
    /// "adam": β1 (`GradientDecayFactor`, 0.9), β2 (`SquaredGradientDecayFactor`, 0.999),
    /// ε (`Epsilon`, 1e-8).
    Adam { gradient_decay: f64, squared_gradient_decay: f64, epsilon: f64 },
    /// "rmsprop": β2 (`SquaredGradientDecayFactor`, 0.9), ε (`Epsilon`, 1e-8).
    #[serde(rename = "rmsprop")]
    RmsProp { squared_gradient_decay: f64, epsilon: f64 },
}

impl Solver {
    /// "sgdm" with MATLAB's default momentum 0.9.
    pub fn sgdm() -> Self {
        Solver::Sgdm { momentum: 0.9 }
    }

    /// "adam" with MATLAB's defaults β1 = 0.9, β2 = 0.999, ε = 1e-8.
    pub fn adam() -> Self {
        Solver::Adam { gradient_decay: 0.9, squared_gradient_decay: 0.999, epsilon: 1e-8 }
    }

    /// "rmsprop" with MATLAB's defaults β2 = 0.9, ε = 1e-8.
    pub fn rmsprop() -> Self {
        Solver::RmsProp { squared_gradient_decay: 0.9, epsilon: 1e-8 }
    }

    /// MATLAB's name of the solver.
    pub fn name(&self) -> &'static str {
        match self {
            Solver::Sgdm { .. } => "sgdm",
            Solver::Adam { .. } => "adam",
            Solver::RmsProp { .. } => "rmsprop",
        }
    }

    /// MATLAB's default `InitialLearnRate`: 0.01 for sgdm, 0.001 for adam and rmsprop.
    pub fn default_learn_rate(&self) -> f64 {
        match self {
            Solver::Sgdm { .. } => 0.01,
            Solver::Adam { .. } | Solver::RmsProp { .. } => 0.001,
        }
    }

    /// Checks momentum and decays in `[0, 1)` and ε finite and `> 0`
    /// (`Error::Property` naming the MATLAB property).
    pub fn validate(&self) -> Result<()> {
        let decay = |property, v: f64| require((0.0..1.0).contains(&v), property, v, "must be in [0, 1)");
        let epsilon = |v: f64| require(v > 0.0 && v.is_finite(), "Epsilon", v, "must be finite and positive");
        match *self {
            Solver::Sgdm { momentum } => decay("Momentum", momentum),
            Solver::Adam { gradient_decay: b1, squared_gradient_decay: b2, epsilon: eps } => {
                decay("GradientDecayFactor", b1).and(decay("SquaredGradientDecayFactor", b2)).and(epsilon(eps))
            }
            Solver::RmsProp { squared_gradient_decay: b2, epsilon: eps } => {
                decay("SquaredGradientDecayFactor", b2).and(epsilon(eps))
            }
        }
    }
}

/// `Ok` when `ok`, else `Error::Property` naming `property` with `value` and `reason`.
fn require(ok: bool, property: &str, value: impl std::fmt::Display, reason: &str) -> Result<()> {
    ok.then_some(()).ok_or_else(|| Error::property(property, value, reason))
}

/// MATLAB's `LearnRateSchedule`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum LearnRateSchedule {
    /// "none": the learn rate stays at its initial value.
    #[default]
    None,
    /// "piecewise": multiplied by `drop_factor` (`LearnRateDropFactor`, default 0.1) every
    /// `drop_period` epochs (`LearnRateDropPeriod`, default 10).
    Piecewise { drop_factor: f64, drop_period: usize },
}

impl LearnRateSchedule {
    /// "piecewise" with MATLAB's defaults (drop factor 0.1, period 10).
    pub fn piecewise() -> Self {
        LearnRateSchedule::Piecewise { drop_factor: 0.1, drop_period: 10 }
    }

    /// The learn rate in epoch `epoch` (1-based; 0 is read as 1):
    /// none: `α_e = α_0`; piecewise: `α_e = α_0 · drop_factor^⌊(epoch−1)/drop_period⌋`, the power
    /// taken by repeated multiplication as MATLAB drops the rate once per period.
    pub fn learn_rate(&self, initial: f64, epoch: usize) -> f64 {
        match *self {
            LearnRateSchedule::None => initial,
            LearnRateSchedule::Piecewise { drop_factor, drop_period } => {
                let drops = epoch.saturating_sub(1) / drop_period.max(1);
                (0..drops).take_while(|_| drop_factor != 1.0).fold(initial, |rate, _| rate * drop_factor)
            }
        }
    }

    /// Checks the drop factor in `[0, 1]` and the drop period `>= 1`.
    pub fn validate(&self) -> Result<()> {
        match *self {
            LearnRateSchedule::None => Ok(()),
            LearnRateSchedule::Piecewise { drop_factor: f, drop_period: p } => require(
                (0.0..=1.0).contains(&f),
                "LearnRateDropFactor",
                f,
                "must be in [0, 1]",
            )
            .and(require(p > 0, "LearnRateDropPeriod", p, "must be a positive integer")),
        }
    }
}

/// MATLAB's `GradientThresholdMethod` (serialized with MATLAB's names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum GradientThresholdMethod {
    /// "l2norm": each learnable tensor `k` with `‖g_k‖₂ > t` is scaled by `t / ‖g_k‖₂`.
    #[default]
    #[serde(rename = "l2norm")]
    L2Norm,
    /// "global-l2norm": when `‖g‖₂ > t` over all parameters, every gradient is scaled by `t / ‖g‖₂`.
    #[serde(rename = "global-l2norm")]
    GlobalL2Norm,
    /// "absolute-value": each gradient is clamped to `[−t, t]`.
    #[serde(rename = "absolute-value")]
    AbsoluteValue,
}

impl GradientThresholdMethod {
    /// MATLAB's name of the method.
    pub fn name(&self) -> &'static str {
        match self {
            GradientThresholdMethod::L2Norm => "l2norm",
            GradientThresholdMethod::GlobalL2Norm => "global-l2norm",
            GradientThresholdMethod::AbsoluteValue => "absolute-value",
        }
    }
}

/// Checks MATLAB's `GradientThreshold`: positive (`+inf`, the default, means no clipping).
pub fn validate_gradient_threshold(threshold: f64) -> Result<()> {
    require(threshold > 0.0, "GradientThreshold", threshold, "must be positive (Inf for no clipping)")
}

/// Clips `grads: [P]` in place by `method` with threshold `t` and returns the global norm
/// `‖g‖₂ = sqrt(Σ_i g_i²)` before clipping (in `f64`, for logging).
///
/// `t = +inf` (or a `t` that [`validate_gradient_threshold`] rejects) leaves `grads` unchanged.
/// Under `L2Norm` the tensors are the groups of `segments` sharing `tensor`; elements in no
/// segment are left unclipped, and segment ranges past `P` are cut at `P`. Non-finite gradients
/// are not repaired.
pub fn clip_gradients<T: Real>(
    grads: &mut [T],
    segments: &[Segment],
    method: GradientThresholdMethod,
    threshold: f64,
) -> f64 {
    let sum_sq = |g: &[T]| g.iter().map(|x| x.widen() * x.widen()).sum::<f64>();
    let scale = |g: &mut [T], s: f64| g.iter_mut().for_each(|x| *x = T::lit(x.widen() * s));
    let global = sum_sq(grads).sqrt();
    if !(threshold > 0.0 && threshold.is_finite()) {
        return global;
    }
    let n = grads.len();
    let clamped = |s: &Segment| s.start.min(n)..s.start.saturating_add(s.len).min(n);
    match method {
        GradientThresholdMethod::L2Norm => {
            let mut norms = BTreeMap::<usize, f64>::new();
            for s in segments {
                *norms.entry(s.tensor).or_default() += sum_sq(&grads[clamped(s)]);
            }
            for s in segments {
                let norm = norms.get(&s.tensor).copied().unwrap_or(0.0).sqrt();
                if norm > threshold {
                    scale(&mut grads[clamped(s)], threshold / norm);
                }
            }
        }
        GradientThresholdMethod::GlobalL2Norm => {
            if global > threshold {
                scale(grads, threshold / global);
            }
        }
        GradientThresholdMethod::AbsoluteValue => {
            for x in grads.iter_mut() {
                *x = T::lit(x.widen().clamp(-threshold, threshold));
            }
        }
    }
    global
}

/// Checks that `segments` lie in `0..num_params`, do not overlap and have finite, nonnegative
/// factors (`Error::Data` naming `segments[i]`).
fn check_segments(segments: &[Segment], num_params: usize) -> Result<()> {
    let mut spans = Vec::with_capacity(segments.len());
    for (i, s) in segments.iter().enumerate() {
        let range = s.range(num_params).ok_or_else(|| {
            Error::data(&format!("segments[{i}]"), format!("{}+{}", s.start, s.len), format!("outside 0..{num_params}"))
        })?;
        for (name, value) in [("learn_rate_factor", s.learn_rate_factor), ("l2_factor", s.l2_factor)] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(Error::data(&format!("segments[{i}].{name}"), value, "must be finite and nonnegative"));
            }
        }
        if !range.is_empty() {
            spans.push((range.start, range.end, i));
        }
    }
    spans.sort_unstable();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            let reason = format!("overlaps segments[{}] ({}..{})", w[0].2, w[0].0, w[0].1);
            return Err(Error::data(&format!("segments[{}]", w[1].2), format!("{}..{}", w[1].0, w[1].1), reason));
        }
    }
    Ok(())
}

const VELOCITY: &str = "optimizer.velocity";
const FIRST_MOMENT: &str = "optimizer.first_moment";
const SECOND_MOMENT: &str = "optimizer.second_moment";

/// Optimizer state over the flat vector `θ: [P]`: the velocity `v: [P]` for sgdm, the moments
/// `m, v: [P]` for adam, the second moment `v: [P]` for rmsprop (all start at 0), and the step
/// count `t` (the number of successful [`step`](Self::step) calls).
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T> {
    solver: Solver,
    num_params: usize,
    step: u64,
    /// sgdm: velocity; adam: first moment; rmsprop: empty.
    first: Vec<T>,
    /// adam, rmsprop: second moment; sgdm: empty.
    second: Vec<T>,
}

impl<T: Real> OptimizerState<T> {
    /// Zero state for `num_params` parameters.
    pub fn new(solver: Solver, num_params: usize) -> Self {
        let (first, second) = match solver {
            Solver::Sgdm { .. } => (num_params, 0),
            Solver::Adam { .. } => (num_params, num_params),
            Solver::RmsProp { .. } => (0, num_params),
        };
        OptimizerState { solver, num_params, step: 0, first: vec![T::zero(); first], second: vec![T::zero(); second] }
    }

    /// The solver this state belongs to.
    pub fn solver(&self) -> Solver {
        self.solver
    }

    /// `P`, the length of the flat parameter vector.
    pub fn num_params(&self) -> usize {
        self.num_params
    }

    /// The step count `t` (0 before the first step).
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// One update of `params: [P]` from the loss gradients `grads: [P]` (already clipped); the
    /// step count advances to `t` (adam's bias correction uses it). For each segment `s`, with `α_s = learn_rate · learn_rate_factor`,
    /// `λ_s = l2_regularization · l2_factor` and `g' = g + λ_s θ` (the gradient of MATLAB's
    /// regularized loss `L + λ/2 · Σ l2_factor · θ²`):
    ///
    /// - sgdm:    `v ← γ v − α_s g'`;  `θ ← θ + v`
    /// - adam:    `m ← β1 m + (1−β1) g'`;  `v ← β2 v + (1−β2) g'²`;
    ///   `θ ← θ − α_s · m̂ / (sqrt(v̂) + ε)` with `m̂ = m / (1−β1^t)`, `v̂ = v / (1−β2^t)`
    /// - rmsprop: `v ← β2 v + (1−β2) g'²`;  `θ ← θ − α_s · g' / (sqrt(v) + ε)`
    ///
    /// A segment with `learn_rate_factor = 0` is frozen: neither its parameters nor its state
    /// change (its moments stay as they were while `t` still advances). Parameters in no segment
    /// are not touched either. Everything is checked before anything changes: a length mismatch
    /// or bad segment is `Error::Data` naming `params`, `grads` or `segments[i]`; a negative or
    /// non-finite rate is `Error::Property` (`InitialLearnRate`, `L2Regularization`).
    pub fn step(
        &mut self,
        params: &mut [T],
        grads: &[T],
        segments: &[Segment],
        learn_rate: f64,
        l2_regularization: f64,
    ) -> Result<()> {
        self.solver.validate()?;
        if params.len() != self.num_params {
            return Err(Error::data("params", params.len(), format!("expected {} parameters", self.num_params)));
        }
        if grads.len() != params.len() {
            return Err(Error::data("grads", grads.len(), format!("expected {} gradients", params.len())));
        }
        check_segments(segments, self.num_params)?;
        for (property, value) in [("InitialLearnRate", learn_rate), ("L2Regularization", l2_regularization)] {
            require(value >= 0.0 && value.is_finite(), property, value, "must be finite and nonnegative")?;
        }
        let t = self.step.saturating_add(1);
        for s in segments.iter().filter(|s| s.learn_rate_factor != 0.0) {
            let r = s.start..s.start + s.len;
            let alpha = learn_rate * s.learn_rate_factor;
            let lambda = l2_regularization * s.l2_factor;
            let (theta, g) = (&mut params[r.clone()], &grads[r.clone()]);
            match self.solver {
                Solver::Sgdm { momentum } => {
                    for ((p, &g), v) in theta.iter_mut().zip(g).zip(&mut self.first[r]) {
                        let th = p.widen();
                        let v_new = momentum * v.widen() - alpha * (g.widen() + lambda * th);
                        *v = T::lit(v_new);
                        *p = T::lit(th + v_new);
                    }
                }
                Solver::Adam { gradient_decay: b1, squared_gradient_decay: b2, epsilon } => {
                    let (c1, c2) = (1.0 - b1.powf(t as f64), 1.0 - b2.powf(t as f64));
                    let moments = self.first[r.clone()].iter_mut().zip(&mut self.second[r]);
                    for ((p, &g), (m, v)) in theta.iter_mut().zip(g).zip(moments) {
                        let th = p.widen();
                        let gr = g.widen() + lambda * th;
                        let m_new = b1 * m.widen() + (1.0 - b1) * gr;
                        let v_new = b2 * v.widen() + (1.0 - b2) * gr * gr;
                        *m = T::lit(m_new);
                        *v = T::lit(v_new);
                        *p = T::lit(th - alpha * (m_new / c1) / ((v_new / c2).sqrt() + epsilon));
                    }
                }
                Solver::RmsProp { squared_gradient_decay: b2, epsilon } => {
                    for ((p, &g), v) in theta.iter_mut().zip(g).zip(&mut self.second[r]) {
                        let th = p.widen();
                        let gr = g.widen() + lambda * th;
                        let v_new = b2 * v.widen() + (1.0 - b2) * gr * gr;
                        *v = T::lit(v_new);
                        *p = T::lit(th - alpha * gr / (v_new.sqrt() + epsilon));
                    }
                }
            }
        }
        self.step = t;
        Ok(())
    }

    /// The state as named flat tensors, each `[P]`, plus the step count `t`: sgdm
    /// `optimizer.velocity`; adam `optimizer.first_moment`, `optimizer.second_moment`; rmsprop
    /// `optimizer.second_moment`.
    pub fn to_tensors(&self) -> (Vec<(String, Vec<T>)>, u64) {
        let tensors = match self.solver {
            Solver::Sgdm { .. } => vec![(VELOCITY.to_string(), self.first.clone())],
            Solver::Adam { .. } => {
                vec![(FIRST_MOMENT.to_string(), self.first.clone()), (SECOND_MOMENT.to_string(), self.second.clone())]
            }
            Solver::RmsProp { .. } => vec![(SECOND_MOMENT.to_string(), self.second.clone())],
        };
        (tensors, self.step)
    }

    /// The state back from [`to_tensors`](Self::to_tensors) (in any order); resuming continues
    /// bit-identically. A missing, unknown, repeated or wrongly sized tensor is `Error::Data`
    /// naming it; a bad solver is `Error::Property`.
    pub fn from_tensors(solver: Solver, num_params: usize, tensors: Vec<(String, Vec<T>)>, step: u64) -> Result<Self> {
        solver.validate()?;
        let mut state = Self::new(solver, num_params);
        let mut seen = Vec::new();
        for (name, data) in tensors {
            let slot = match (solver, name.as_str()) {
                (Solver::Sgdm { .. }, VELOCITY) | (Solver::Adam { .. }, FIRST_MOMENT) => &mut state.first,
                (Solver::Adam { .. } | Solver::RmsProp { .. }, SECOND_MOMENT) => &mut state.second,
                _ => return Err(Error::data(&name, data.len(), format!("not a state tensor of {}", solver.name()))),
            };
            if seen.contains(&name) {
                return Err(Error::data(&name, data.len(), "given twice"));
            }
            if data.len() != num_params {
                return Err(Error::data(&name, data.len(), format!("expected {num_params} values")));
            }
            *slot = data;
            seen.push(name);
        }
        let (expected, _) = state.to_tensors();
        if let Some((missing, _)) = expected.iter().find(|(n, _)| !seen.contains(n)) {
            return Err(Error::data(missing, "missing", format!("needed by {}", solver.name())));
        }
        state.step = step;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    /// Runs `grads` (one value per step) on a single parameter starting at 1.
    fn run_scalar(solver: Solver, lr: f64, grads: &[f64]) -> Vec<f64> {
        let mut st = OptimizerState::<f64>::new(solver, 1);
        let mut p = [1.0];
        let mut out = vec![];
        for &g in grads {
            st.step(&mut p, &[g], &[Segment::new(0, 1, 0)], lr, 0.0).unwrap();
            out.push(p[0]);
        }
        out
    }

    #[test]
    fn solvers_match_hand_computed_steps() {
        // v1 = −0.1·0.5 = −0.05; v2 = 0.9·(−0.05) − 0.1·0.25 = −0.07; v3 = 0.9·(−0.07) + 0.1·0.1 = −0.053
        let got = run_scalar(Solver::Sgdm { momentum: 0.9 }, 0.1, &[0.5, 0.25, -0.1]);
        for (g, e) in got.iter().zip([0.95, 0.88, 0.827]) {
            assert!(close(*g, e, 1e-14), "{got:?}");
        }

        // m1 = 0.1·0.5 = 0.05, v1 = 0.001·0.25 = 0.00025, m̂1 = 0.5, v̂1 = 0.25
        // m2 = 0.9·0.05 + 0.1·0.25 = 0.07, v2 = 0.999·0.00025 + 0.001·0.0625 = 0.00031225
        // m3 = 0.9·0.07 − 0.1·0.5 = 0.013, v3 = 0.999·0.00031225 + 0.001·0.25 = 0.00056193775
        let got = run_scalar(Solver::adam(), 0.01, &[0.5, 0.25, -0.5]);
        let t1 = 1.0 - 0.01 * 0.5 / (0.5 + 1e-8);
        let t2 = t1 - 0.01 * (0.07 / 0.19) / ((0.00031225 / 0.001999_f64).sqrt() + 1e-8);
        let t3 = t2 - 0.01 * (0.013 / 0.271) / ((0.00056193775 / 0.002997001_f64).sqrt() + 1e-8);
        for (g, e) in got.iter().zip([t1, t2, t3]) {
            assert!(close(*g, e, 1e-13), "{got:?} vs {:?}", [t1, t2, t3]);
        }

        // v1 = 0.1·0.25 = 0.025; v2 = 0.9·0.025 + 0.1·0.0625 = 0.02875; v3 = 0.9·0.02875 + 0.1·1 = 0.125875
        let got = run_scalar(Solver::rmsprop(), 0.01, &[0.5, 0.25, -1.0]);
        let t1 = 1.0 - 0.01 * 0.5 / (0.025_f64.sqrt() + 1e-8);
        let t2 = t1 - 0.01 * 0.25 / (0.02875_f64.sqrt() + 1e-8);
        let t3 = t2 + 0.01 * 1.0 / (0.125875_f64.sqrt() + 1e-8);
        for (g, e) in got.iter().zip([t1, t2, t3]) {
            assert!(close(*g, e, 1e-13), "{got:?}");
        }
    }

    #[test]
    fn adam_first_step_is_learn_rate_times_sign() {
        let solver = Solver::Adam { gradient_decay: 0.9, squared_gradient_decay: 0.999, epsilon: 1e-300 };
        let mut st = OptimizerState::<f64>::new(solver, 3);
        let mut p = [0.0; 3];
        st.step(&mut p, &[3.0, -1e-4, 250.0], &[Segment::new(0, 3, 0)], 0.001, 0.0).unwrap();
        for (got, want) in p.iter().zip([-0.001, 0.001, -0.001]) {
            assert!(close(*got, want, 1e-12), "{p:?}");
        }
    }

    #[test]
    fn segment_factors_and_l2() {
        // [0]: factor 1, [1]: factor 2, [2]: frozen, [3]: l2 factor 2, [4]: l2 factor 0, [5]: in no segment
        let segs = [
            Segment::new(0, 1, 0),
            Segment::new(1, 1, 0).with_factors(2.0, 1.0),
            Segment::new(2, 1, 1).with_factors(0.0, 1.0),
            Segment::new(3, 1, 2).with_factors(1.0, 2.0),
            Segment::new(4, 1, 2).with_factors(1.0, 0.0),
        ];
        let mut st = OptimizerState::<f64>::new(Solver::Sgdm { momentum: 0.0 }, 6);
        let mut p = [1.0, 1.0, 0.3, 3.0, 3.0, 7.0];
        let g = [0.5, 0.5, 0.5, 0.0, 0.0, 1.0];
        st.step(&mut p, &g, &segs, 0.5, 0.1).unwrap();
        // [0]: −0.5·(0.5 + 0.1·1) = −0.3; [1]: twice that; [3]: −0.5·(0 + 0.2·3) = −0.3; [4]: no L2
        assert!(close(p[0], 0.7, 1e-15) && close(p[1], 0.4, 1e-15) && close(p[3], 2.7, 1e-15), "{p:?}");
        assert_eq!((p[2].to_bits(), p[4], p[5]), (0.3_f64.to_bits(), 3.0, 7.0));

        // adam: the frozen segment keeps its parameters and its moments bit-identical
        let mut st = OptimizerState::<f32>::new(Solver::adam(), 6);
        let mut p = [1.0f32, 1.0, 0.3, 3.0, 3.0, 7.0];
        for _ in 0..4 {
            st.step(&mut p, &[0.5; 6], &segs, 0.01, 0.1).unwrap();
        }
        assert_eq!(p[2].to_bits(), 0.3f32.to_bits());
        let (tensors, t) = st.to_tensors();
        assert_eq!(t, 4);
        assert!(tensors.iter().all(|(_, d)| d[2] == 0.0 && d[5] == 0.0 && d[0] != 0.0));
    }

    #[test]
    fn piecewise_schedule() {
        let s = LearnRateSchedule::piecewise();
        for epoch in 1..=25 {
            let want = match epoch {
                1..=10 => 0.01,
                11..=20 => 0.01 * 0.1,
                _ => 0.01 * 0.1 * 0.1,
            };
            assert_eq!(s.learn_rate(0.01, epoch), want, "epoch {epoch}");
            assert_eq!(LearnRateSchedule::None.learn_rate(0.01, epoch), 0.01);
        }
        assert_eq!(s.learn_rate(0.01, 0), 0.01);
    }

    #[test]
    fn clipping_methods() {
        // tensor 0 = two segments [3, 0 | −4] (norm 5), tensor 1 = [0.6, 0.8] (norm 1)
        let segs = [Segment::new(0, 2, 0), Segment::new(2, 1, 0), Segment::new(3, 2, 1)];
        let g0 = [3.0, 0.0, -4.0, 0.6, 0.8];
        let norm = 26.0_f64.sqrt();
        let clip = |method| {
            let mut g = g0;
            let n = clip_gradients(&mut g, &segs, method, 2.0);
            assert!(close(n, norm, 1e-15));
            g
        };
        let want = [1.2, 0.0, -1.6, 0.6, 0.8];
        assert!(clip(GradientThresholdMethod::L2Norm).iter().zip(want).all(|(a, b)| close(*a, b, 1e-15)));
        let global = clip(GradientThresholdMethod::GlobalL2Norm);
        assert!(global.iter().zip(g0).all(|(a, b)| close(*a, b * 2.0 / norm, 1e-15)), "{global:?}");
        assert_eq!(clip(GradientThresholdMethod::AbsoluteValue), [2.0, 0.0, -2.0, 0.6, 0.8]);
        use GradientThresholdMethod::{AbsoluteValue, GlobalL2Norm, L2Norm};
        for method in [L2Norm, GlobalL2Norm, AbsoluteValue] {
            let mut g = g0.map(|x| x as f32);
            let n = clip_gradients(&mut g, &segs, method, f64::INFINITY);
            assert_eq!(g, g0.map(|x| x as f32));
            assert!(close(n, norm, 1e-7));
        }
    }

    #[test]
    fn quadratic_bowl_is_minimized() {
        // loss = ½ Σ a_i (θ_i − c_i)², gradient a_i (θ_i − c_i)
        let (a, c) = ([1.0, 2.0, 4.0, 0.5], [1.0, -1.0, 0.5, 2.0]);
        for (solver, lr) in [(Solver::sgdm(), 0.1), (Solver::adam(), 0.05), (Solver::rmsprop(), 0.02)] {
            let mut st = OptimizerState::<f64>::new(solver, 4);
            let mut p = [0.0; 4];
            let segs = [Segment::new(0, 2, 0), Segment::new(2, 2, 1)];
            for _ in 0..200 {
                let g: Vec<f64> = (0..4).map(|i| a[i] * (p[i] - c[i])).collect();
                st.step(&mut p, &g, &segs, lr, 0.0).unwrap();
            }
            let err = p.iter().zip(c).map(|(p, c)| (p - c).abs()).fold(0.0, f64::max);
            assert!(err < 1e-3, "{}: {p:?}", solver.name());
        }
    }

    #[test]
    fn round_trip_continues_identically() {
        for solver in [Solver::sgdm(), Solver::adam(), Solver::rmsprop()] {
            let segs = [Segment::new(0, 3, 0).with_factors(1.0, 2.0), Segment::new(3, 2, 1).with_factors(0.5, 1.0)];
            let grads = |k: usize| (0..5).map(|i| ((k * 5 + i) as f32 * 0.37).sin()).collect::<Vec<f32>>();
            let mut st = OptimizerState::<f32>::new(solver, 5);
            let mut p = [0.1f32, -0.2, 0.3, 0.4, -0.5];
            for k in 0..3 {
                st.step(&mut p, &grads(k), &segs, 0.01, 1e-3).unwrap();
            }
            let (tensors, t) = st.to_tensors();
            let mut resumed = OptimizerState::from_tensors(solver, 5, tensors, t).unwrap();
            assert_eq!(resumed, st);
            let mut q = p;
            for k in 3..8 {
                st.step(&mut p, &grads(k), &segs, 0.01, 1e-3).unwrap();
                resumed.step(&mut q, &grads(k), &segs, 0.01, 1e-3).unwrap();
            }
            assert_eq!(p.map(f32::to_bits), q.map(f32::to_bits), "{}", solver.name());
            assert_eq!(resumed.step_count(), 8);
        }
    }

    /// The property of an `Error::Property` (prefixed "property ") or the field of an `Error::Data`.
    fn named<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Err(Error::Property { property, .. }) => format!("property {property}"),
            Err(Error::Data { field, .. }) => field,
            other => panic!("expected a property or data error, got {other:?}"),
        }
    }

    #[test]
    fn bad_options_are_rejected() {
        assert_eq!(named(Solver::Sgdm { momentum: 1.0 }.validate()), "property Momentum");
        let adam = |b1, b2, eps| Solver::Adam { gradient_decay: b1, squared_gradient_decay: b2, epsilon: eps };
        assert_eq!(named(adam(-0.1, 0.999, 1e-8).validate()), "property GradientDecayFactor");
        assert_eq!(named(adam(0.9, 1.0, 1e-8).validate()), "property SquaredGradientDecayFactor");
        assert_eq!(named(adam(0.9, 0.999, 0.0).validate()), "property Epsilon");
        assert_eq!(
            named(Solver::RmsProp { squared_gradient_decay: f64::NAN, epsilon: 1e-8 }.validate()),
            "property SquaredGradientDecayFactor"
        );
        let piecewise = |f, p| LearnRateSchedule::Piecewise { drop_factor: f, drop_period: p };
        assert_eq!(named(piecewise(1.5, 10).validate()), "property LearnRateDropFactor");
        assert_eq!(named(piecewise(0.1, 0).validate()), "property LearnRateDropPeriod");
        assert_eq!(named(validate_gradient_threshold(0.0)), "property GradientThreshold");
        for s in [Solver::sgdm(), Solver::adam(), Solver::rmsprop()] {
            s.validate().unwrap();
            assert_eq!(serde_json::from_str::<Solver>(&serde_json::to_string(&s).unwrap()).unwrap(), s);
        }
        let m = GradientThresholdMethod::GlobalL2Norm;
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"global-l2norm\"");
    }

    #[test]
    fn mismatched_shapes_are_rejected_without_change() {
        let mut st = OptimizerState::<f64>::new(Solver::adam(), 4);
        let before = st.clone();
        let mut p = [1.0; 4];
        let seg = [Segment::new(0, 4, 0)];
        assert_eq!(named(st.step(&mut [1.0; 3], &[0.0; 3], &seg, 0.1, 0.0)), "params");
        assert_eq!(named(st.step(&mut p, &[0.0; 5], &seg, 0.1, 0.0)), "grads");
        assert_eq!(named(st.step(&mut p, &[1.0; 4], &[Segment::new(2, 3, 0)], 0.1, 0.0)), "segments[0]");
        assert_eq!(named(st.step(&mut p, &[1.0; 4], &[Segment::new(usize::MAX, 2, 0)], 0.1, 0.0)), "segments[0]");
        let overlap = [Segment::new(2, 2, 0), Segment::new(0, 3, 1)];
        assert_eq!(named(st.step(&mut p, &[1.0; 4], &overlap, 0.1, 0.0)), "segments[0]");
        let negative = [Segment::new(0, 4, 0).with_factors(-1.0, 1.0)];
        assert_eq!(named(st.step(&mut p, &[1.0; 4], &negative, 0.1, 0.0)), "segments[0].learn_rate_factor");
        assert_eq!(named(st.step(&mut p, &[1.0; 4], &seg, -0.1, 0.0)), "property InitialLearnRate");
        assert_eq!(named(st.step(&mut p, &[1.0; 4], &seg, 0.1, f64::NAN)), "property L2Regularization");
        assert_eq!((st, p), (before, [1.0; 4]));

        let (tensors, t) = OptimizerState::<f64>::new(Solver::adam(), 4).to_tensors();
        let field = |ts: Vec<(String, Vec<f64>)>| named(OptimizerState::from_tensors(Solver::adam(), 4, ts, t));
        assert_eq!(field(tensors[..1].to_vec()), SECOND_MOMENT);
        assert_eq!(field(vec![tensors[0].clone(), (SECOND_MOMENT.into(), vec![0.0; 3])]), SECOND_MOMENT);
        assert_eq!(field(vec![tensors[0].clone(), tensors[0].clone()]), FIRST_MOMENT);
        assert_eq!(field(vec![(VELOCITY.into(), vec![0.0; 4])]), VELOCITY);
    }
}
