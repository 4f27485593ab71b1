//! Adagrad as Korali's `fAdagrad.cpp` computes it (Korali's `"Adagrad"`).

use super::names::SQUARED_GRADIENT_SUM;
use super::Rule;

/// Adagrad with `ε` (Korali 1e-8, inside the root); state: the sum of squares `s` (from 0):
///
/// ```text
/// s ← s + d²
/// θ ← θ − (α / sqrt(s + ε)) d          (Korali: θ + (η / sqrt(s + ε)) g)
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adagrad {
    pub epsilon: f64,
}

impl Rule for Adagrad {
    fn state_names(&self) -> &'static [&'static str] {
        &[SQUARED_GRADIENT_SUM]
    }

    fn update(&self, theta: f64, d: f64, alpha: f64, _: [f64; 2], state: &mut [f64]) -> f64 {
        // s ← s + d²;  θ ← θ − (α / sqrt(s + ε)) d
        let s = state[0] + d * d;
        state[0] = s;
        theta - (alpha / (s + self.epsilon).sqrt()) * d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{assert_steps, bowl_error};

    #[test]
    fn matches_hand_computed_steps() {
        // s = 0.25, 0.3125, 1.3125
        let eps: f64 = 1e-8;
        let t1 = 1.0 - 0.1 * 0.5 / (0.25 + eps).sqrt();
        let t2 = t1 - 0.1 * 0.25 / (0.3125 + eps).sqrt();
        let t3 = t2 + 0.1 * 1.0 / (1.3125 + eps).sqrt();
        assert_steps(Adagrad { epsilon: eps }, 0.1, &[0.5, 0.25, -1.0], &[t1, t2, t3]);
    }

    #[test]
    fn quadratic_bowl_is_minimized() {
        assert!(bowl_error(Adagrad { epsilon: 1e-8 }, 0.5, 500) < 1e-6);
    }
}
