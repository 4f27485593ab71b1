//! Stochastic gradient descent with momentum (MATLAB's `"sgdm"`).

use super::names::VELOCITY;
use super::Rule;

/// SGD with momentum `γ` (MATLAB `Momentum`, default 0.9), state: the velocity `v` (from 0):
///
/// ```text
/// v ← γ v − α d
/// θ ← θ + v
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgdm {
    pub momentum: f64,
}

impl Rule for Sgdm {
    fn state_names(&self) -> &'static [&'static str] {
        &[VELOCITY]
    }

    fn update(&self, theta: f64, d: f64, alpha: f64, _: [f64; 2], state: &mut [f64]) -> f64 {
        // v ← γ v − α d
        let v = self.momentum * state[0] - alpha * d;
        state[0] = v;
        // θ ← θ + v
        theta + v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{assert_steps, bowl_error};

    #[test]
    fn matches_hand_computed_steps() {
        // v1 = −0.1·0.5 = −0.05; v2 = 0.9·(−0.05) − 0.1·0.25 = −0.07; v3 = 0.9·(−0.07) + 0.1·0.1 = −0.053
        assert_steps(Sgdm { momentum: 0.9 }, 0.1, &[0.5, 0.25, -0.1], &[0.95, 0.88, 0.827]);
    }

    #[test]
    fn quadratic_bowl_is_minimized() {
        assert!(bowl_error(Sgdm { momentum: 0.9 }, 0.1, 200) < 1e-3);
    }
}
