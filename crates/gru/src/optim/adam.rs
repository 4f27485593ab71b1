//! Adam (MATLAB's `"adam"`, Korali's `"Adam"`) and AdaBelief (Korali's `"AdaBelief"`): the
//! same bias-corrected step, over the second moment of the gradient or of its deviation
//! from the first moment.

use super::names::{FIRST_MOMENT, SECOND_CENTRAL_MOMENT, SECOND_MOMENT};
use super::{Form, Rule};

/// Adam with `β1` (MATLAB `GradientDecayFactor`, Korali 0.9), `β2`
/// (`SquaredGradientDecayFactor`, 0.999) and `ε` (`Epsilon`, 1e-8); state: the moments
/// `m`, `v` (from 0):
///
/// ```text
/// m ← β1 m + (1−β1) d
/// v ← β2 v + (1−β2) d²
/// θ ← θ − α · m̂ / (sqrt(v̂) + ε),   m̂ = m / (1−β1^t),  v̂ = v / (1−β2^t)
/// ```
///
/// The last line, with `c1 = 1−β1^t`, `c2 = 1−β2^t`: [`Form::Matlab`] computes
/// `θ − α·(m/c1) / (sqrt(v/c2) + ε)`; [`Form::Korali`] (`fAdam.cpp`) computes
/// `θ − α / (sqrt(v·(1/c2)) + ε) · (m·(1/c1))`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    pub form: Form,
}

/// AdaBelief (`fAdaBelief.cpp`) with Korali's `β1` 0.9, `β2` 0.999, `ε` 1e-8; state: the first
/// moment `m` and the second central moment `s` (from 0). Adam's step on the "belief" in the
/// gradient, with Adam's [`Form::Korali`] order of operations:
///
/// ```text
/// m ← β1 m + (1−β1) d
/// s ← β2 s + (1−β2) (m − d)²          (the new m; no ε inside)
/// θ ← θ − α / (sqrt(s·(1/c2)) + ε) · (m·(1/c1)),   c1 = 1−β1^t,  c2 = 1−β2^t
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaBelief {
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
}

/// The bias corrections of step `t`: `[c1, c2]` for [`Form::Matlab`], `[1/c1, 1/c2]` for
/// [`Form::Korali`].
fn corrections(form: Form, beta1: f64, beta2: f64, t: u64) -> [f64; 2] {
    let (c1, c2) = (1.0 - beta1.powf(t as f64), 1.0 - beta2.powf(t as f64));
    match form {
        Form::Matlab => [c1, c2],
        Form::Korali => [1.0 / c1, 1.0 / c2],
    }
}

/// `θ − α · m̂ / (sqrt(v̂) + ε)` in `form`'s order, `c` from [`corrections`].
fn corrected_step(form: Form, theta: f64, alpha: f64, m: f64, v: f64, epsilon: f64, c: [f64; 2]) -> f64 {
    match form {
        Form::Matlab => theta - alpha * (m / c[0]) / ((v / c[1]).sqrt() + epsilon),
        Form::Korali => theta - alpha / ((v * c[1]).sqrt() + epsilon) * (m * c[0]),
    }
}

impl Rule for Adam {
    fn state_names(&self) -> &'static [&'static str] {
        &[FIRST_MOMENT, SECOND_MOMENT]
    }

    fn constants(&self, t: u64) -> [f64; 2] {
        corrections(self.form, self.beta1, self.beta2, t)
    }

    fn update(&self, theta: f64, d: f64, alpha: f64, c: [f64; 2], state: &mut [f64]) -> f64 {
        // m ← β1 m + (1−β1) d;  v ← β2 v + (1−β2) d²
        let m = self.beta1 * state[0] + (1.0 - self.beta1) * d;
        let v = self.beta2 * state[1] + (1.0 - self.beta2) * d * d;
        state[0] = m;
        state[1] = v;
        corrected_step(self.form, theta, alpha, m, v, self.epsilon, c)
    }
}

impl Rule for AdaBelief {
    fn state_names(&self) -> &'static [&'static str] {
        &[FIRST_MOMENT, SECOND_CENTRAL_MOMENT]
    }

    fn constants(&self, t: u64) -> [f64; 2] {
        corrections(Form::Korali, self.beta1, self.beta2, t)
    }

    fn update(&self, theta: f64, d: f64, alpha: f64, c: [f64; 2], state: &mut [f64]) -> f64 {
        // m ← β1 m + (1−β1) d;  s ← β2 s + (1−β2) (m − d)²  (Korali's g + m with g = −d)
        let m = self.beta1 * state[0] + (1.0 - self.beta1) * d;
        let belief = m - d;
        let s = self.beta2 * state[1] + (1.0 - self.beta2) * belief * belief;
        state[0] = m;
        state[1] = s;
        corrected_step(Form::Korali, theta, alpha, m, s, self.epsilon, c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{assert_steps, bowl_error, close};
    use crate::optim::{Optimizer, OptimizerState};

    fn adam(form: Form) -> Adam {
        Adam { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, form }
    }

    const BELIEF: AdaBelief = AdaBelief { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

    #[test]
    fn adam_and_adabelief_match_hand_computed_steps() {
        let (d, eps) = ([0.5, 0.25, -0.5], 1e-8);
        // m1 = 0.1·0.5 = 0.05, v1 = 0.001·0.25 = 0.00025, m̂1 = 0.5, v̂1 = 0.25
        // m2 = 0.9·0.05 + 0.1·0.25 = 0.07, v2 = 0.999·0.00025 + 0.001·0.0625 = 0.00031225
        // m3 = 0.9·0.07 − 0.1·0.5 = 0.013, v3 = 0.999·0.00031225 + 0.001·0.25 = 0.00056193775
        let t1 = 1.0 - 0.1 * 0.5 / (0.5 + eps);
        let t2 = t1 - 0.1 * (0.07 / 0.19) / ((0.00031225 / 0.001999_f64).sqrt() + eps);
        let t3 = t2 - 0.1 * (0.013 / 0.271) / ((0.00056193775 / 0.002997001_f64).sqrt() + eps);
        assert_steps(adam(Form::Matlab), 0.1, &d, &[t1, t2, t3]);
        assert_steps(adam(Form::Korali), 0.1, &d, &[t1, t2, t3]);

        // AdaBelief: s = 0.001·(d − m)²  →  (0.45)², then 0.999 s + 0.001·0.18², then + 0.001·(−0.513)²
        let s1 = 0.001 * 0.45 * 0.45;
        let s2 = 0.999 * s1 + 0.001 * 0.18 * 0.18;
        let s3 = 0.999 * s2 + 0.001 * 0.513 * 0.513;
        let t1 = 1.0 - 0.1 * 0.5 / ((s1 / 0.001_f64).sqrt() + eps);
        let t2 = t1 - 0.1 * (0.07 / 0.19) / ((s2 / 0.001999_f64).sqrt() + eps);
        let t3 = t2 - 0.1 * (0.013 / 0.271) / ((s3 / 0.002997001_f64).sqrt() + eps);
        assert_steps(BELIEF, 0.1, &d, &[t1, t2, t3]);
    }

    #[test]
    fn adam_first_step_is_learn_rate_times_sign() {
        for form in [Form::Matlab, Form::Korali] {
            let mut st = OptimizerState::<f64>::new(Adam { epsilon: 1e-300, ..adam(form) }, 3);
            let mut p = [0.0; 3];
            st.step(&mut p, &[3.0, -1e-4, 250.0], 0.001).unwrap();
            for (got, want) in p.iter().zip([-0.001, 0.001, -0.001]) {
                assert!(close(*got, want, 1e-12), "{p:?}");
            }
        }
    }

    #[test]
    fn forms_differ_only_in_rounding() {
        let grads = |k: usize| (0..64).map(|i| ((k * 64 + i) as f64 * 0.37).sin()).collect::<Vec<f64>>();
        let (mut a, mut b) = (OptimizerState::new(adam(Form::Matlab), 64), OptimizerState::new(adam(Form::Korali), 64));
        let (mut p, mut q) = ([0.5f64; 64], [0.5f64; 64]);
        for k in 0..20 {
            a.step(&mut p, &grads(k), 0.01).unwrap();
            b.step(&mut q, &grads(k), 0.01).unwrap();
        }
        assert!(p.iter().zip(&q).all(|(x, y)| close(*x, *y, 1e-13)));
    }

    #[test]
    fn quadratic_bowl_is_minimized() {
        assert!(bowl_error(adam(Form::Matlab), 0.05, 200) < 1e-3);
        assert!(bowl_error(adam(Form::Korali), 0.05, 500) < 1e-6);
        assert!(bowl_error(BELIEF, 0.05, 500) < 1e-6);
    }
}
