//! RMSProp (MATLAB's `"rmsprop"`, Korali's `"RMSProp"`).

use super::names::SECOND_MOMENT;
use super::{Form, Rule};

/// RMSProp with decay `β` (MATLAB `SquaredGradientDecayFactor`, default 0.9; Korali's `ρ`,
/// 0.999) and `ε` (`Epsilon`, 1e-8); state: the running mean square `v` (from 0), no bias
/// correction:
///
/// ```text
/// v ← β v + (1−β) d²
/// θ ← θ − α d / (sqrt(v) + ε)
/// ```
///
/// [`Form::Matlab`] computes `v ← β v + ((1−β) d) d` and `θ − (α d) / (sqrt(v) + ε)`;
/// [`Form::Korali`] (`fRMSProp.cpp`) computes `v ← (1−β) (d d) + β v` and
/// `θ − (α / (sqrt(v) + ε)) d`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsProp {
    pub decay: f64,
    pub epsilon: f64,
    pub form: Form,
}

impl Rule for RmsProp {
    fn state_names(&self) -> &'static [&'static str] {
        &[SECOND_MOMENT]
    }

    fn update(&self, theta: f64, d: f64, alpha: f64, _: [f64; 2], state: &mut [f64]) -> f64 {
        let (beta, epsilon) = (self.decay, self.epsilon);
        match self.form {
            Form::Matlab => {
                // v ← β v + (1−β) d²;  θ ← θ − α d / (sqrt(v) + ε)
                let v = beta * state[0] + (1.0 - beta) * d * d;
                state[0] = v;
                theta - alpha * d / (v.sqrt() + epsilon)
            }
            Form::Korali => {
                // v ← (1−β) d² + β v;  θ ← θ − (α / (sqrt(v) + ε)) d
                let v = (1.0 - beta) * (d * d) + beta * state[0];
                state[0] = v;
                theta - (alpha / (v.sqrt() + epsilon)) * d
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{assert_steps, bowl_error};

    #[test]
    fn matches_hand_computed_steps() {
        let eps = 1e-8;
        // MATLAB's default β = 0.9: v = 0.025, 0.02875, 0.125875
        let t1 = 1.0 - 0.01 * 0.5 / (0.025_f64.sqrt() + eps);
        let t2 = t1 - 0.01 * 0.25 / (0.02875_f64.sqrt() + eps);
        let t3 = t2 + 0.01 * 1.0 / (0.125875_f64.sqrt() + eps);
        let matlab = RmsProp { decay: 0.9, epsilon: eps, form: Form::Matlab };
        assert_steps(matlab, 0.01, &[0.5, 0.25, -1.0], &[t1, t2, t3]);

        // Korali's ρ = 0.999: v = 0.00025, 0.00031225, 0.00131193775
        let t1 = 1.0 - 0.01 * 0.5 / (0.00025_f64.sqrt() + eps);
        let t2 = t1 - 0.01 * 0.25 / (0.00031225_f64.sqrt() + eps);
        let t3 = t2 + 0.01 * 1.0 / (0.00131193775_f64.sqrt() + eps);
        let korali = RmsProp { decay: 0.999, epsilon: eps, form: Form::Korali };
        assert_steps(korali, 0.01, &[0.5, 0.25, -1.0], &[t1, t2, t3]);
    }

    #[test]
    fn quadratic_bowl_is_minimized() {
        assert!(bowl_error(RmsProp { decay: 0.9, epsilon: 1e-8, form: Form::Matlab }, 0.02, 200) < 1e-3);
        assert!(bowl_error(RmsProp { decay: 0.999, epsilon: 1e-8, form: Form::Korali }, 0.01, 2000) < 1e-6);
    }
}
