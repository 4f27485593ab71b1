//! [`OptimizerState`]: one optimizer's state over `θ: [P]`, its parameter groups, and the one
//! loop that applies any optimizer's per-element update.

use gru_core::Real;

use super::{Method, Optimizer, Rule};
use crate::error::{Error, Result};
use crate::network::Segment;

/// Which elements a step updates, and how.
#[derive(Clone, Debug, PartialEq)]
enum Groups {
    /// Every element with the step size `α` and the gradient as given (Korali: any L2 term is
    /// already in the gradient).
    Whole,
    /// MATLAB's per-parameter factors: each segment `s` with `learn_rate_factor ≠ 0` is updated
    /// with `α_s = α · learn_rate_factor` and the coupled L2 gradient
    /// `d = g + λ_s θ`, `λ_s = l2_regularization · l2_factor` (in `f64`: the gradient of MATLAB's
    /// regularized loss `L + λ/2 · Σ l2_factor · θ²`). A frozen segment (`learn_rate_factor = 0`)
    /// and parameters in no segment keep their values and their state.
    Segments { segments: Vec<Segment>, l2_regularization: f64 },
}

/// One optimizer ([`Method`]) over `θ: [P]`: its state tensors (each `[P]`, all 0 at the
/// start; see [`Method::state_names`]), the step count `t` (the number of successful steps)
/// and the parameter groups it updates (the whole vector, or MATLAB's [`Segment`]s with L2:
/// [`with_segments`](Self::with_segments)).
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T> {
    method: Method,
    num_params: usize,
    step: u64,
    /// One entry per name of `method.state_names()`, in that order.
    tensors: Vec<Vec<T>>,
    groups: Groups,
}

impl<T: Real> OptimizerState<T> {
    /// Zero state for `num_params` parameters, updating the whole vector without L2.
    pub fn new(method: impl Into<Method>, num_params: usize) -> Self {
        let method = method.into();
        let tensors = method.state_names().iter().map(|_| vec![T::zero(); num_params]).collect();
        OptimizerState { method, num_params, step: 0, tensors, groups: Groups::Whole }
    }

    /// The same state updating MATLAB's `segments` with their learn-rate factors and the
    /// coupled L2 coefficient `l2_regularization` (see [`set_segments`](Self::set_segments)).
    pub fn with_segments(mut self, segments: Vec<Segment>, l2_regularization: f64) -> Result<Self> {
        self.set_segments(segments, l2_regularization)?;
        Ok(self)
    }

    /// Updates only `segments` from now on, each with `α_s = α · learn_rate_factor` and the
    /// gradient `g + λ_s θ`, `λ_s = l2_regularization · l2_factor`. Segments outside `0..P`,
    /// overlapping or with negative or non-finite factors are `Error::Data` naming
    /// `segments[i]`; a negative or non-finite L2 coefficient is `Error::Property`
    /// (`L2Regularization`). Nothing changes on error.
    pub fn set_segments(&mut self, segments: Vec<Segment>, l2_regularization: f64) -> Result<()> {
        check_segments(&segments, self.num_params)?;
        if !(l2_regularization >= 0.0 && l2_regularization.is_finite()) {
            return Err(Error::property("L2Regularization", l2_regularization, "must be finite and nonnegative"));
        }
        self.groups = Groups::Segments { segments, l2_regularization };
        Ok(())
    }

    /// The optimizer and its hyperparameters.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The state back from [`Optimizer::to_tensors`] (in any order), updating the whole vector
    /// (see [`Optimizer::load_tensors`] for the errors).
    pub fn from_tensors(
        method: impl Into<Method>,
        num_params: usize,
        tensors: Vec<(String, Vec<T>)>,
        step: u64,
    ) -> Result<Self> {
        let mut state = Self::new(method, num_params);
        state.load_tensors(tensors, step)?;
        Ok(state)
    }

    /// Applies `rule` to the elements of the groups.
    fn apply<R: Rule>(&mut self, rule: &R, params: &mut [T], grads: &[T], learn_rate: f64) {
        let t = self.step.saturating_add(1);
        if self.step == 0 && rule.anchors_initial() {
            if let Some(initial) = self.tensors.last_mut() {
                initial.copy_from_slice(params);
            }
        }
        let constants = rule.constants(t);
        // The loop, compiled for each number of state tensors (at most three: MADGRAD), so
        // that the state lives in registers and the slices in lockstep (a loop over a
        // runtime count of tensors cost 10x: 12 % of a training iteration at H = 256).
        let tensors = &mut self.tensors[..];
        let mut run = |range: std::ops::Range<usize>, alpha: f64, lambda: Option<f64>| {
            let u = Update { rule, constants, alpha, lambda };
            match tensors.len() {
                0 => u.run::<0, T>(tensors, &mut params[range.clone()], &grads[range.clone()], range),
                1 => u.run::<1, T>(tensors, &mut params[range.clone()], &grads[range.clone()], range),
                2 => u.run::<2, T>(tensors, &mut params[range.clone()], &grads[range.clone()], range),
                _ => u.run::<3, T>(tensors, &mut params[range.clone()], &grads[range.clone()], range),
            }
        };
        match &self.groups {
            Groups::Whole => run(0..self.num_params, learn_rate, None),
            Groups::Segments { segments, l2_regularization } => {
                for s in segments.iter().filter(|s| s.learn_rate_factor != 0.0) {
                    let alpha = learn_rate * s.learn_rate_factor;
                    run(s.start..s.start + s.len, alpha, Some(l2_regularization * s.l2_factor));
                }
            }
        }
    }
}

/// One step's update of a range of elements by `rule`: step size `alpha`, the coupled L2
/// coefficient `lambda` (`d = g + λθ`, in `f64`), the step's `constants`.
struct Update<'a, R> {
    rule: &'a R,
    constants: [f64; 2],
    alpha: f64,
    lambda: Option<f64>,
}

impl<R: Rule> Update<'_, R> {
    /// Runs the update over `params` / `grads` (the elements `range` of `θ`) with the `N`
    /// state tensors `tensors` (each `[P]`; their elements `range`), per element in `f64`.
    #[inline]
    fn run<const N: usize, T: Real>(
        &self,
        tensors: &mut [Vec<T>],
        params: &mut [T],
        grads: &[T],
        range: std::ops::Range<usize>,
    ) {
        let mut parts = tensors.iter_mut().map(|t| &mut t[range.clone()]);
        let mut state_of: [&mut [T]; N] = std::array::from_fn(|_| parts.next().unwrap_or_default());
        let n = params.len();
        assert!(grads.len() == n && state_of.iter().all(|s| s.len() == n), "optimizer: lengths in lockstep");
        for i in 0..n {
            let mut state = [0.0f64; N];
            for (s, tensor) in state.iter_mut().zip(state_of.iter()) {
                *s = tensor[i].widen();
            }
            let theta = params[i].widen();
            let d = match self.lambda {
                Some(lambda) => grads[i].widen() + lambda * theta,
                None => grads[i].widen(),
            };
            params[i] = T::lit(self.rule.update(theta, d, self.alpha, self.constants, &mut state));
            for (s, tensor) in state.iter().zip(state_of.iter_mut()) {
                tensor[i] = T::lit(*s);
            }
        }
    }
}

impl<T: Real> Optimizer<T> for OptimizerState<T> {
    fn name(&self) -> &'static str {
        self.method.name()
    }

    fn num_params(&self) -> usize {
        self.num_params
    }

    fn step_count(&self) -> u64 {
        self.step
    }

    /// One update of `params: [P]` from the loss gradients `grads: [P]` (already clipped), by
    /// the optimizer's rule (see its type) on the elements of the groups. Everything is checked
    /// before anything changes: a length mismatch is `Error::Data` naming `params` or `grads`,
    /// a negative or non-finite rate is `Error::Data` naming `learn_rate`.
    fn step(&mut self, params: &mut [T], grads: &[T], learn_rate: f64) -> Result<()> {
        if params.len() != self.num_params {
            return Err(Error::data("params", params.len(), format!("expected {} parameters", self.num_params)));
        }
        if grads.len() != params.len() {
            return Err(Error::data("grads", grads.len(), format!("expected {} gradients", params.len())));
        }
        if !(learn_rate >= 0.0 && learn_rate.is_finite()) {
            return Err(Error::data("learn_rate", learn_rate, "must be finite and nonnegative"));
        }
        match self.method {
            Method::Sgdm(r) => self.apply(&r, params, grads, learn_rate),
            Method::Adam(r) => self.apply(&r, params, grads, learn_rate),
            Method::AdaBelief(r) => self.apply(&r, params, grads, learn_rate),
            Method::RmsProp(r) => self.apply(&r, params, grads, learn_rate),
            Method::Madgrad(r) => self.apply(&r, params, grads, learn_rate),
            Method::Adagrad(r) => self.apply(&r, params, grads, learn_rate),
        }
        self.step = self.step.saturating_add(1);
        Ok(())
    }

    /// The state tensors under their names (`optimizer.*`, see [`Method::state_names`]).
    fn to_tensors(&self) -> (Vec<(String, Vec<T>)>, u64) {
        let names = self.method.state_names().iter();
        (names.zip(&self.tensors).map(|(n, d)| (n.to_string(), d.clone())).collect(), self.step)
    }

    /// Resuming from them continues bit-identically. A missing, unknown, repeated or wrongly
    /// sized tensor is `Error::Data` naming it; nothing changes on error.
    fn load_tensors(&mut self, tensors: Vec<(String, Vec<T>)>, step: u64) -> Result<()> {
        let (names, name, n) = (self.method.state_names(), self.method.name(), self.num_params);
        let mut slots: Vec<Option<Vec<T>>> = vec![None; names.len()];
        for (tensor, data) in tensors {
            let Some(k) = names.iter().position(|n| *n == tensor) else {
                return Err(Error::data(&tensor, data.len(), format!("not a state tensor of {name}")));
            };
            if slots[k].is_some() {
                return Err(Error::data(&tensor, data.len(), "given twice"));
            }
            if data.len() != n {
                return Err(Error::data(&tensor, data.len(), format!("expected {n} values")));
            }
            slots[k] = Some(data);
        }
        let loaded = slots
            .into_iter()
            .zip(names)
            .map(|(slot, tensor)| slot.ok_or_else(|| Error::data(tensor, "missing", format!("needed by {name}"))))
            .collect::<Result<Vec<_>>>()?;
        self.tensors = loaded;
        self.step = step;
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::names::{
        FIRST_MOMENT, GRADIENT_SUM, INITIAL_VALUE, SECOND_MOMENT, SQUARED_GRADIENT_SUM, VELOCITY,
    };
    use crate::optim::testing::close;
    use crate::optim::{AdaBelief, Adagrad, Adam, Form, Madgrad, RmsProp, Sgdm};

    const ADAM: Adam = Adam { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, form: Form::Matlab };

    fn every_method() -> Vec<Method> {
        let korali = Adam { form: Form::Korali, ..ADAM };
        vec![
            Sgdm { momentum: 0.9 }.into(),
            ADAM.into(),
            korali.into(),
            AdaBelief { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }.into(),
            RmsProp { decay: 0.9, epsilon: 1e-8, form: Form::Matlab }.into(),
            RmsProp { decay: 0.999, epsilon: 1e-8, form: Form::Korali }.into(),
            Madgrad { momentum: 0.9, epsilon: 1e-8 }.into(),
            Adagrad { epsilon: 1e-8 }.into(),
        ]
    }

    #[test]
    fn segment_factors_and_l2() {
        // [0]: factor 1, [1]: factor 2, [2]: frozen, [3]: l2 factor 2, [4]: l2 factor 0, [5]: in no segment
        let segs = vec![
            Segment::new(0, 1, 0),
            Segment::new(1, 1, 0).with_factors(2.0, 1.0),
            Segment::new(2, 1, 1).with_factors(0.0, 1.0),
            Segment::new(3, 1, 2).with_factors(1.0, 2.0),
            Segment::new(4, 1, 2).with_factors(1.0, 0.0),
        ];
        let mut st = OptimizerState::<f64>::new(Sgdm { momentum: 0.0 }, 6).with_segments(segs.clone(), 0.1).unwrap();
        let mut p = [1.0, 1.0, 0.3, 3.0, 3.0, 7.0];
        let g = [0.5, 0.5, 0.5, 0.0, 0.0, 1.0];
        st.step(&mut p, &g, 0.5).unwrap();
        // [0]: −0.5·(0.5 + 0.1·1) = −0.3; [1]: twice that; [3]: −0.5·(0 + 0.2·3) = −0.3; [4]: no L2
        assert!(close(p[0], 0.7, 1e-15) && close(p[1], 0.4, 1e-15) && close(p[3], 2.7, 1e-15), "{p:?}");
        assert_eq!((p[2].to_bits(), p[4], p[5]), (0.3_f64.to_bits(), 3.0, 7.0));

        // adam: the frozen segment keeps its parameters and its moments bit-identical
        let mut st = OptimizerState::<f32>::new(ADAM, 6).with_segments(segs, 0.1).unwrap();
        let mut p = [1.0f32, 1.0, 0.3, 3.0, 3.0, 7.0];
        for _ in 0..4 {
            st.step(&mut p, &[0.5; 6], 0.01).unwrap();
        }
        assert_eq!(p[2].to_bits(), 0.3f32.to_bits());
        let (tensors, t) = st.to_tensors();
        assert_eq!(t, 4);
        assert!(tensors.iter().all(|(_, d)| d[2] == 0.0 && d[5] == 0.0 && d[0] != 0.0));
    }

    #[test]
    fn round_trip_continues_identically() {
        let segs = vec![Segment::new(0, 3, 0).with_factors(1.0, 2.0), Segment::new(3, 2, 1).with_factors(0.5, 1.0)];
        for method in every_method() {
            for segments in [None, Some(segs.clone())] {
                let grads = |k: usize| (0..5).map(|i| ((k * 5 + i) as f32 * 0.37).sin()).collect::<Vec<f32>>();
                let mut st = OptimizerState::<f32>::new(method, 5);
                if let Some(s) = &segments {
                    st.set_segments(s.clone(), 1e-3).unwrap();
                }
                let mut p = [0.1f32, -0.2, 0.3, 0.4, -0.5];
                for k in 0..3 {
                    st.step(&mut p, &grads(k), 0.01).unwrap();
                }
                let (mut tensors, t) = st.to_tensors();
                tensors.reverse();
                let mut resumed = OptimizerState::from_tensors(method, 5, tensors, t).unwrap();
                if let Some(s) = &segments {
                    resumed.set_segments(s.clone(), 1e-3).unwrap();
                }
                assert_eq!(resumed, st);
                let mut q = p;
                for k in 3..8 {
                    st.step(&mut p, &grads(k), 0.01).unwrap();
                    resumed.step(&mut q, &grads(k), 0.01).unwrap();
                }
                assert_eq!(p.map(f32::to_bits), q.map(f32::to_bits), "{method:?}");
                assert_eq!(resumed.step_count(), 8);
            }
        }
    }

    #[test]
    fn state_tensor_names() {
        let names = |m: Method| m.state_names().to_vec();
        let m = every_method();
        assert_eq!(names(m[0]), [VELOCITY]);
        assert_eq!(names(m[1]), [FIRST_MOMENT, SECOND_MOMENT]);
        assert_eq!(names(m[4]), [SECOND_MOMENT]);
        assert_eq!(names(m[5]), [SECOND_MOMENT]);
        assert_eq!(names(m[6]), [GRADIENT_SUM, SQUARED_GRADIENT_SUM, INITIAL_VALUE]);
        assert_eq!(names(m[7]), [SQUARED_GRADIENT_SUM]);
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
    fn mismatched_shapes_are_rejected_without_change() {
        let mut st = OptimizerState::<f64>::new(ADAM, 4);
        let before = st.clone();
        let mut p = [1.0; 4];
        assert_eq!(named(st.step(&mut [1.0; 3], &[0.0; 3], 0.1)), "params");
        assert_eq!(named(st.step(&mut p, &[0.0; 5], 0.1)), "grads");
        assert_eq!(named(st.step(&mut p, &[1.0; 4], -0.1)), "learn_rate");
        assert_eq!(named(st.step(&mut p, &[1.0; 4], f64::NAN)), "learn_rate");
        let mut set = |segments: Vec<Segment>, l2: f64| named(st.set_segments(segments, l2));
        assert_eq!(set(vec![Segment::new(2, 3, 0)], 0.0), "segments[0]");
        assert_eq!(set(vec![Segment::new(usize::MAX, 2, 0)], 0.0), "segments[0]");
        assert_eq!(set(vec![Segment::new(2, 2, 0), Segment::new(0, 3, 1)], 0.0), "segments[0]");
        assert_eq!(set(vec![Segment::new(0, 4, 0).with_factors(-1.0, 1.0)], 0.0), "segments[0].learn_rate_factor");
        assert_eq!(set(vec![Segment::new(0, 4, 0)], f64::NAN), "property L2Regularization");
        assert_eq!((st, p), (before, [1.0; 4]));

        let (tensors, t) = OptimizerState::<f64>::new(ADAM, 4).to_tensors();
        let field = |ts: Vec<(String, Vec<f64>)>| named(OptimizerState::from_tensors(ADAM, 4, ts, t));
        assert_eq!(field(tensors[..1].to_vec()), SECOND_MOMENT);
        assert_eq!(field(vec![tensors[0].clone(), (SECOND_MOMENT.into(), vec![0.0; 3])]), SECOND_MOMENT);
        assert_eq!(field(vec![tensors[0].clone(), tensors[0].clone()]), FIRST_MOMENT);
        assert_eq!(field(vec![(VELOCITY.into(), vec![0.0; 4])]), VELOCITY);
    }
}
