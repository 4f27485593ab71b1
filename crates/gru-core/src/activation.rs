//! The element-wise functions of the GRU, resolved once from a [`GruSpec`], with their
//! derivatives. Derivatives are taken w.r.t. the *unclipped* pre-activation `a`:
//!
//! ```text
//! gate(a)  = σ_g(clip(a))        d gate / da  = σ_g'(clip(a)) · clip'(a)
//! state(a) = σ_s(clip(a))        d state / da = σ_s'(clip(a)) · clip'(a)
//! clip(a)  = clamp(a, -c, c)     clip'(a) = 1 if -c <= a <= c else 0
//! sigmoid' = s(1 - s)            hard-sigmoid'(x) = alpha if 0 <= alpha·x + beta <= 1 else 0
//! tanh'    = 1 - t²              softsign'(x) = 1 / (1 + |x|)²
//! ```
//!
//! At a kink the derivative is the inner region's (DESIGN.md), which is also what
//! `torch.clamp` gives.

use crate::real::Real;
use crate::spec::{GateActivation, GruSpec, StateActivation};

/// The activations of one spec, converted to `T` once.
#[derive(Clone, Copy, Debug)]
pub struct Activations<T> {
    gate: GateFn<T>,
    state: StateActivation,
    clip: Option<T>,
}

#[derive(Clone, Copy, Debug)]
enum GateFn<T> {
    Sigmoid,
    HardSigmoid { alpha: T, beta: T },
}

impl<T: Real> Activations<T> {
    /// Resolves the activations and clip of `spec`.
    pub fn new(spec: &GruSpec) -> Self {
        let gate = match spec.gate_activation {
            GateActivation::Sigmoid => GateFn::Sigmoid,
            GateActivation::HardSigmoid { alpha, beta } => {
                GateFn::HardSigmoid { alpha: T::lit(alpha), beta: T::lit(beta) }
            }
        };
        Self { gate, state: spec.state_activation, clip: spec.clip.map(T::lit) }
    }

    #[inline]
    fn clip(&self, a: T) -> T {
        match self.clip {
            Some(c) => a.max(-c).min(c),
            None => a,
        }
    }

    #[inline]
    fn clip_grad(&self, a: T) -> T {
        match self.clip {
            Some(c) if a < -c || a > c => T::zero(),
            _ => T::one(),
        }
    }

    /// σ_g(clip(a)).
    #[inline]
    pub fn gate(&self, a: T) -> T {
        let x = self.clip(a);
        match self.gate {
            GateFn::Sigmoid => T::one() / (T::one() + (-x).exp()),
            GateFn::HardSigmoid { alpha, beta } => (alpha * x + beta).max(T::zero()).min(T::one()),
        }
    }

    /// d σ_g(clip(a)) / da, given `a` and the gate value `g = gate(a)`.
    #[inline]
    pub fn gate_grad(&self, a: T, g: T) -> T {
        let x = self.clip(a);
        let inner = match self.gate {
            GateFn::Sigmoid => g * (T::one() - g),
            GateFn::HardSigmoid { alpha, beta } => {
                let u = alpha * x + beta;
                if u >= T::zero() && u <= T::one() {
                    alpha
                } else {
                    T::zero()
                }
            }
        };
        inner * self.clip_grad(a)
    }

    /// Whether the derivatives need the pre-activations `a` (clip, hard-sigmoid's kinks,
    /// softsign), not only the values: sigmoid and tanh without clip do not, so training
    /// need not keep `a`.
    pub fn derivatives_need_inputs(&self) -> bool {
        self.clip.is_some() || !matches!(self.gate, GateFn::Sigmoid) || self.state != StateActivation::Tanh
    }

    /// `out = σ_g(clip(a))` element-wise (vectorized for sigmoid without clip).
    pub fn gate_slice(&self, a: &[T], out: &mut [T]) {
        match (self.gate, self.clip) {
            (GateFn::Sigmoid, None) => T::sigmoid_slice(a, out),
            _ => {
                for (o, &v) in out.iter_mut().zip(a) {
                    *o = self.gate(v);
                }
            }
        }
    }

    /// `out = σ_s(clip(a))` element-wise (vectorized for tanh without clip).
    pub fn state_slice(&self, a: &[T], out: &mut [T]) {
        match (self.state, self.clip) {
            (StateActivation::Tanh, None) => T::tanh_slice(a, out),
            _ => {
                for (o, &v) in out.iter_mut().zip(a) {
                    *o = self.state(v);
                }
            }
        }
    }

    /// `out = d σ_g(clip(a)) / da` element-wise, given the gate values `g`.
    pub fn gate_grad_slice(&self, a: &[T], g: &[T], out: &mut [T]) {
        match (self.gate, self.clip) {
            (GateFn::Sigmoid, None) => {
                for (o, &v) in out.iter_mut().zip(g) {
                    *o = v * (T::one() - v);
                }
            }
            _ => {
                for ((o, &x), &v) in out.iter_mut().zip(a).zip(g) {
                    *o = self.gate_grad(x, v);
                }
            }
        }
    }

    /// `out = d σ_s(clip(a)) / da` element-wise, given the values `s`.
    pub fn state_grad_slice(&self, a: &[T], s: &[T], out: &mut [T]) {
        match (self.state, self.clip) {
            (StateActivation::Tanh, None) => {
                for (o, &v) in out.iter_mut().zip(s) {
                    *o = T::one() - v * v;
                }
            }
            _ => {
                for ((o, &x), &v) in out.iter_mut().zip(a).zip(s) {
                    *o = self.state_grad(x, v);
                }
            }
        }
    }

    /// σ_s(clip(a)).
    #[inline]
    pub fn state(&self, a: T) -> T {
        let x = self.clip(a);
        match self.state {
            StateActivation::Tanh => x.tanh(),
            StateActivation::Softsign => x / (T::one() + x.abs()),
        }
    }

    /// d σ_s(clip(a)) / da, given `a` and the value `s = state(a)`.
    #[inline]
    pub fn state_grad(&self, a: T, s: T) -> T {
        let inner = match self.state {
            StateActivation::Tanh => T::one() - s * s,
            StateActivation::Softsign => {
                let d = T::one() + self.clip(a).abs();
                T::one() / (d * d)
            }
        };
        inner * self.clip_grad(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::GruSpec;

    fn check_derivatives(spec: &GruSpec, points: &[f64]) {
        let act = Activations::<f64>::new(spec);
        let eps = 1e-6;
        for &a in points {
            let g = act.gate(a);
            let fd = (act.gate(a + eps) - act.gate(a - eps)) / (2.0 * eps);
            assert!((act.gate_grad(a, g) - fd).abs() < 1e-6, "gate' at {a}: {} vs {fd}", act.gate_grad(a, g));
            let s = act.state(a);
            let fd = (act.state(a + eps) - act.state(a - eps)) / (2.0 * eps);
            assert!((act.state_grad(a, s) - fd).abs() < 1e-6, "state' at {a}: {} vs {fd}", act.state_grad(a, s));
        }
    }

    #[test]
    fn derivatives_match_finite_differences_away_from_kinks() {
        let points = [-4.0, -2.0, -0.9, -0.3, 0.01, 0.25, 0.8, 1.7, 3.1];
        for gate in [
            GateActivation::Sigmoid,
            GateActivation::HARD_SIGMOID,
            GateActivation::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 },
        ] {
            for state in [StateActivation::Tanh, StateActivation::Softsign] {
                for clip in [None, Some(0.7)] {
                    let spec =
                        GruSpec::new(1, 1).with_gate_activation(gate).with_state_activation(state).with_clip(clip);
                    check_derivatives(&spec, &points);
                }
            }
        }
    }

    #[test]
    fn values_and_kink_conventions() {
        let spec = GruSpec::new(1, 1).with_gate_activation(GateActivation::HARD_SIGMOID).with_clip(Some(1.0));
        let act = Activations::<f64>::new(&spec);
        assert_eq!(act.gate(0.0), 0.5);
        assert_eq!(act.gate(5.0), 0.7); // clip to 1, then 0.2·1 + 0.5
                                        // At the clip kink the derivative is the inner one.
        assert_eq!(act.gate_grad(1.0, act.gate(1.0)), 0.2);
        assert_eq!(act.gate_grad(1.0 + 1e-9, act.gate(1.0)), 0.0);
        let hs = Activations::<f64>::new(&GruSpec::new(1, 1).with_gate_activation(GateActivation::HARD_SIGMOID));
        assert_eq!(hs.gate(2.5), 1.0);
        assert_eq!(hs.gate_grad(2.5, 1.0), 0.2);
        assert_eq!(hs.gate_grad(2.6, 1.0), 0.0);
        let soft = Activations::<f64>::new(&GruSpec::new(1, 1).with_state_activation(StateActivation::Softsign));
        assert_eq!(soft.state(1.0), 0.5);
        assert_eq!(soft.state(-3.0), -0.75);
    }
}
