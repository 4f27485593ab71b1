//! Element-wise activation layers (Korali's `Layer/Activation` functions, MATLAB's
//! tanhLayer / reluLayer / sigmoidLayer ...) and Korali's output transformation layer.
//!
//! ```text
//! tanh      y = tanh(x)                         y' = 1 - y²
//! relu      y = x if x > 0 else a·x             y' = 1 or a        (a: negative slope)
//! logistic  y = 1 / (1 + e^-x)                  y' = y (1 - y)
//! linear    y = a·x + b                         y' = a
//! softrelu  y = ln(1 + e^x)                     y' = logistic(x)
//! softsign  y = x / (1 + |x|)                   y' = 1 / (1 + |x|)²
//! clip      y = clamp(x, a, b)                  y' = 1 inside [a, b], else 0
//! log       y = ln(x)                           y' = 1 / x
//! ```

use gru_core::Real;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An element-wise function.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "function", rename_all = "kebab-case")]
pub enum Elementwise {
    Tanh,
    Relu { negative_slope: f64 },
    Logistic,
    Linear { alpha: f64, beta: f64 },
    Softrelu,
    Softsign,
    Clip { lower: f64, upper: f64 },
    Log,
}

impl Elementwise {
    /// Korali's `"Function"` with its `"Alpha"` and `"Beta"` (oneDNN's eltwise meaning).
    pub fn from_korali(function: &str, alpha: f64, beta: f64) -> Result<Self> {
        Ok(match function {
            "Elementwise/Tanh" => Elementwise::Tanh,
            "Elementwise/ReLU" => Elementwise::Relu { negative_slope: alpha },
            "Elementwise/Logistic" => Elementwise::Logistic,
            "Elementwise/Linear" => Elementwise::Linear { alpha, beta },
            "Elementwise/SoftReLU" => Elementwise::Softrelu,
            "Elementwise/SoftSign" => Elementwise::Softsign,
            "Elementwise/Clip" => Elementwise::Clip { lower: alpha, upper: beta },
            "Elementwise/Log" => Elementwise::Log,
            other => return Err(Error::config("[\"Function\"]", other, "not an element-wise function")),
        })
    }

    /// `y = f(x)` for every element.
    pub fn forward<T: Real>(&self, x: &[T]) -> Vec<T> {
        let mut y = x.to_vec();
        self.forward_in_place(&mut y);
        y
    }

    /// [`Elementwise::forward`] in place: `x` becomes `y`.
    pub fn forward_in_place<T: Real>(&self, x: &mut [T]) {
        for v in x.iter_mut() {
            *v = T::lit(self.value(v.widen()));
        }
    }

    /// `dx = f'(x) · dy`, from the input `x` and the output `y`.
    pub fn backward<T: Real>(&self, x: &[T], y: &[T], dy: &[T]) -> Vec<T> {
        x.iter()
            .zip(y)
            .zip(dy)
            .map(|((&x, &y), &d)| T::lit(self.derivative(x.widen(), y.widen()) * d.widen()))
            .collect()
    }

    fn value(&self, x: f64) -> f64 {
        match *self {
            Elementwise::Tanh => x.tanh(),
            Elementwise::Relu { negative_slope } => {
                if x > 0.0 {
                    x
                } else {
                    negative_slope * x
                }
            }
            Elementwise::Logistic => 1.0 / (1.0 + (-x).exp()),
            Elementwise::Linear { alpha, beta } => alpha * x + beta,
            Elementwise::Softrelu => softplus(x),
            Elementwise::Softsign => x / (1.0 + x.abs()),
            Elementwise::Clip { lower, upper } => x.max(lower).min(upper),
            Elementwise::Log => x.ln(),
        }
    }

    fn derivative(&self, x: f64, y: f64) -> f64 {
        match *self {
            Elementwise::Tanh => 1.0 - y * y,
            Elementwise::Relu { negative_slope } => {
                if x > 0.0 {
                    1.0
                } else {
                    negative_slope
                }
            }
            Elementwise::Logistic => y * (1.0 - y),
            Elementwise::Linear { alpha, .. } => alpha,
            Elementwise::Softrelu => 1.0 / (1.0 + (-x).exp()),
            Elementwise::Softsign => 1.0 / ((1.0 + x.abs()) * (1.0 + x.abs())),
            Elementwise::Clip { lower, upper } => f64::from(u8::from(x >= lower && x <= upper)),
            Elementwise::Log => 1.0 / x,
        }
    }
}

/// `ln(1 + e^x)` without overflow.
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// Korali's output transformations, per channel (`layer/output/output.cpp`): identity,
/// `|x|`, Korali's "softplus" `(x + sqrt(1 + x²)) / 2` (a smooth positive map, not
/// `ln(1 + e^x)`), `tanh(x)`, `1 / (1 + e^-x)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transformation {
    Identity,
    Absolute,
    Softplus,
    Tanh,
    Sigmoid,
}

impl Transformation {
    /// Korali's name ("Identity", "Absolute", "Softplus", "Tanh", "Sigmoid").
    pub fn from_korali(name: &str) -> Result<Self> {
        Ok(match name {
            "Identity" => Transformation::Identity,
            "Absolute" => Transformation::Absolute,
            "Softplus" => Transformation::Softplus,
            "Tanh" => Transformation::Tanh,
            "Sigmoid" => Transformation::Sigmoid,
            other => {
                return Err(Error::config("[\"Transformation Mask\"]", other, "not a Korali output transformation"))
            }
        })
    }

    fn value(self, x: f64) -> f64 {
        match self {
            Transformation::Identity => x,
            Transformation::Absolute => x.abs(),
            Transformation::Softplus => 0.5 * (x + (1.0 + x * x).sqrt()),
            Transformation::Tanh => x.tanh(),
            Transformation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        }
    }

    fn derivative(self, x: f64) -> f64 {
        match self {
            Transformation::Identity => 1.0,
            Transformation::Absolute => x.signum(),
            Transformation::Softplus => 0.5 * (1.0 + x / (1.0 + x * x).sqrt()),
            Transformation::Sigmoid => {
                let s = 1.0 / (1.0 + (-x).exp());
                s * (1.0 - s)
            }
            Transformation::Tanh => 1.0 - x.tanh() * x.tanh(),
        }
    }
}

/// Korali's output layer: per channel c, `y_c = scale_c · g_c(x_c) + shift_c` (empty lists
/// mean identity, 1 and 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputTransform {
    #[serde(default)]
    pub transformations: Vec<Transformation>,
    #[serde(default)]
    pub scale: Vec<f64>,
    #[serde(default)]
    pub shift: Vec<f64>,
}

impl OutputTransform {
    fn parts(&self, c: usize) -> (Transformation, f64, f64) {
        (
            self.transformations.get(c).copied().unwrap_or(Transformation::Identity),
            self.scale.get(c).copied().unwrap_or(1.0),
            self.shift.get(c).copied().unwrap_or(0.0),
        )
    }

    /// Checks the list lengths against the channel count.
    pub fn validate(&self, width: usize) -> Result<()> {
        for (name, len) in
            [("transformations", self.transformations.len()), ("scale", self.scale.len()), ("shift", self.shift.len())]
        {
            if len != 0 && len != width {
                return Err(Error::config(name, len, format!("needs one entry per channel ({width}) or none")));
            }
        }
        Ok(())
    }

    /// `y_c = scale_c · g_c(x_c) + shift_c` over rows of `width` channels.
    pub fn forward<T: Real>(&self, x: &[T], width: usize) -> Vec<T> {
        let mut y = x.to_vec();
        self.forward_in_place(&mut y, width);
        y
    }

    /// [`OutputTransform::forward`] in place: `x` becomes `y`.
    pub fn forward_in_place<T: Real>(&self, x: &mut [T], width: usize) {
        for (i, v) in x.iter_mut().enumerate() {
            let (g, s, b) = self.parts(i % width);
            *v = T::lit(s * g.value(v.widen()) + b);
        }
    }

    pub fn backward<T: Real>(&self, x: &[T], dy: &[T], width: usize) -> Vec<T> {
        x.iter()
            .zip(dy)
            .enumerate()
            .map(|(i, (&v, &d))| {
                let (g, s, _) = self.parts(i % width);
                T::lit(s * g.derivative(v.widen()) * d.widen())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        let fns = [
            Elementwise::Tanh,
            Elementwise::Relu { negative_slope: 0.1 },
            Elementwise::Logistic,
            Elementwise::Linear { alpha: 2.0, beta: 0.5 },
            Elementwise::Softrelu,
            Elementwise::Softsign,
            Elementwise::Clip { lower: -0.5, upper: 0.7 },
            Elementwise::Log,
        ];
        for f in fns {
            for &x in &[0.3f64, 0.9, 1.5, 2.2] {
                let x = if f == Elementwise::Log { x } else { x - 1.0 };
                let e = 1e-6;
                let fd = (f.value(x + e) - f.value(x - e)) / (2.0 * e);
                assert!((f.derivative(x, f.value(x)) - fd).abs() < 1e-6, "{f:?} at {x}");
            }
        }
        let o = OutputTransform {
            transformations: vec![Transformation::Softplus, Transformation::Tanh],
            scale: vec![2.0, 3.0],
            shift: vec![1.0, -1.0],
        };
        let x = [0.3f64, -0.4];
        let dy = [1.0f64, 1.0];
        let y = o.forward(&x, 2);
        assert!((y[0] - (2.0 * 0.5 * (0.3 + (1.0f64 + 0.09).sqrt()) + 1.0)).abs() < 1e-12);
        let g = o.backward(&x, &dy, 2);
        assert!((g[1] - 3.0 * (1.0 - (-0.4f64).tanh().powi(2))).abs() < 1e-12);
        assert_eq!(
            Elementwise::from_korali("Elementwise/ReLU", 0.0, 0.0).unwrap(),
            Elementwise::Relu { negative_slope: 0.0 }
        );
        assert!(Transformation::from_korali("Cube").is_err());
    }
}
