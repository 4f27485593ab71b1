//! MADGRAD as Korali's `fMadGrad.cpp` computes it (Korali's `"MADGRAD"`).

use super::names::{GRADIENT_SUM, INITIAL_VALUE, SQUARED_GRADIENT_SUM};
use super::Rule;

/// MADGRAD with averaging weight `c` (Korali's `_momentum`, 0.9) and `ε` (1e-8); state: the
/// sums `s`, `v` with Korali's signs (`s = −Σ α d`, `v = −Σ α d²`, from 0) and `θ₀`, the
/// parameters before the first step (Korali's `_initialValues`):
///
/// ```text
/// s ← s − α d                      (Korali: s + η g)
/// v ← v − α d²                     (Korali: v − η g²)
/// z = θ₀ − (1 / (cbrt(v) + ε)) s
/// θ ← (1−c) θ + c z
/// ```
///
/// As Korali: `c` is constant and the step size `α` (Korali's `η`) does not grow with
/// `sqrt(t)`. In terms of `d`: `z = θ₀ − Σαd / (cbrt(Σαd²) − ε)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Madgrad {
    pub momentum: f64,
    pub epsilon: f64,
}

impl Rule for Madgrad {
    fn state_names(&self) -> &'static [&'static str] {
        &[GRADIENT_SUM, SQUARED_GRADIENT_SUM, INITIAL_VALUE]
    }

    fn anchors_initial(&self) -> bool {
        true
    }

    fn update(&self, theta: f64, d: f64, alpha: f64, _: [f64; 2], state: &mut [f64]) -> f64 {
        // s ← s − α d;  v ← v − α d²
        let s = state[0] - alpha * d;
        let v = state[1] - alpha * (d * d);
        // z = θ₀ − (1 / (cbrt(v) + ε)) s
        let z = state[2] - (1.0 / (v.cbrt() + self.epsilon)) * s;
        state[0] = s;
        state[1] = v;
        // θ ← (1−c) θ + c z
        let c = self.momentum;
        (1.0 - c) * theta + c * z
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{assert_steps, bowl_error};
    use crate::optim::{Optimizer, OptimizerState};

    const KORALI: Madgrad = Madgrad { momentum: 0.9, epsilon: 1e-8 };

    #[test]
    fn matches_hand_computed_steps() {
        let eps = 1e-8;
        // α = 0.1, θ₀ = 1: Σαd = 0.05, 0.075, 0.025; Σαd² = 0.025, 0.03125, 0.05625
        let z = |s: f64, v: f64| 1.0 - s / (v.cbrt() - eps);
        let t1 = 0.1 * 1.0 + 0.9 * z(0.05, 0.025);
        let t2 = 0.1 * t1 + 0.9 * z(0.075, 0.03125);
        let t3 = 0.1 * t2 + 0.9 * z(0.025, 0.05625);
        assert_steps(KORALI, 0.1, &[0.5, 0.25, -0.5], &[t1, t2, t3]);
    }

    #[test]
    fn anchors_at_the_first_parameters() {
        let mut st = OptimizerState::<f64>::new(KORALI, 2);
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
    fn quadratic_bowl_is_minimized() {
        assert!(bowl_error(KORALI, 0.5, 500) < 1e-6);
    }
}
