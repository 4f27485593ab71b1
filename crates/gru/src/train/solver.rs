//! The solvers of MATLAB's `trainingOptions` by name (`"sgdm"`, `"adam"`, `"rmsprop"`) with
//! their hyperparameters and defaults; each constructs its optimizer of [`crate::optim`].

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::optim::{Adam, Form, Method, RmsProp, Sgdm};

/// A solver of `trainingOptions` with its hyperparameters (MATLAB names in the docs).
///
/// JSON: written as `{"name": "adam", "gradient_decay": 0.9, ...}`; read from that form, from
/// a bare name (`"adam"`: MATLAB's defaults) or from an object with only some
/// hyperparameters (the others take the defaults). An unknown name or key is refused naming
/// the known ones.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
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

/// The solver names, as JSON and MATLAB write them.
const NAMES: &[&str] = &["sgdm", "adam", "rmsprop"];

impl<'de> Deserialize<'de> for Solver {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let (name, map) = match &value {
            Value::String(name) => (name.as_str(), None),
            Value::Object(map) => match map.get("name") {
                Some(Value::String(name)) => (name.as_str(), Some(map)),
                Some(other) => return Err(D::Error::custom(format!("the solver name is {other}, not a string"))),
                None => return Err(D::Error::missing_field("name")),
            },
            other => {
                return Err(D::Error::custom(format!(
                    "the solver is {other}; expected a solver name (\"sgdm\", \"adam\" or \"rmsprop\") or an \
                     object {{\"name\": ..., hyperparameters}}"
                )))
            }
        };
        let mut solver = match name {
            "sgdm" => Solver::sgdm(),
            "adam" => Solver::adam(),
            "rmsprop" => Solver::rmsprop(),
            other => return Err(D::Error::unknown_variant(other, NAMES)),
        };
        for (key, v) in map.into_iter().flatten().filter(|(k, _)| k.as_str() != "name") {
            let slot: &mut f64 = match (&mut solver, key.as_str()) {
                (Solver::Sgdm { momentum }, "momentum") => momentum,
                (Solver::Adam { gradient_decay, .. }, "gradient_decay") => gradient_decay,
                (Solver::Adam { squared_gradient_decay, .. }, "squared_gradient_decay") => squared_gradient_decay,
                (Solver::Adam { epsilon, .. }, "epsilon") => epsilon,
                (Solver::RmsProp { squared_gradient_decay, .. }, "squared_gradient_decay") => squared_gradient_decay,
                (Solver::RmsProp { epsilon, .. }, "epsilon") => epsilon,
                (Solver::Sgdm { .. }, _) => return Err(D::Error::unknown_field(key, &["name", "momentum"])),
                (Solver::Adam { .. }, _) => {
                    let known = &["name", "gradient_decay", "squared_gradient_decay", "epsilon"];
                    return Err(D::Error::unknown_field(key, known));
                }
                (Solver::RmsProp { .. }, _) => {
                    return Err(D::Error::unknown_field(key, &["name", "squared_gradient_decay", "epsilon"]))
                }
            };
            *slot = v.as_f64().ok_or_else(|| D::Error::custom(format!("the solver's {key} is {v}, not a number")))?;
        }
        Ok(solver)
    }
}

impl From<Solver> for Method {
    /// The optimizer of the solver, with MATLAB's order of operations ([`Form::Matlab`]).
    fn from(solver: Solver) -> Self {
        match solver {
            Solver::Sgdm { momentum } => Sgdm { momentum }.into(),
            Solver::Adam { gradient_decay, squared_gradient_decay, epsilon } => {
                Adam { beta1: gradient_decay, beta2: squared_gradient_decay, epsilon, form: Form::Matlab }.into()
            }
            Solver::RmsProp { squared_gradient_decay, epsilon } => {
                RmsProp { decay: squared_gradient_decay, epsilon, form: Form::Matlab }.into()
            }
        }
    }
}

/// `Ok` when `ok`, else `Error::Property` naming `property` with `value` and `reason`.
pub(crate) fn require(ok: bool, property: &str, value: impl std::fmt::Display, reason: &str) -> Result<()> {
    ok.then_some(()).ok_or_else(|| Error::property(property, value, reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Optimizer, OptimizerState};

    #[test]
    fn bad_options_are_rejected() {
        let property = |r: Result<()>| match r {
            Err(Error::Property { property, .. }) => property,
            other => panic!("expected a property error, got {other:?}"),
        };
        assert_eq!(property(Solver::Sgdm { momentum: 1.0 }.validate()), "Momentum");
        let adam = |b1, b2, eps| Solver::Adam { gradient_decay: b1, squared_gradient_decay: b2, epsilon: eps };
        assert_eq!(property(adam(-0.1, 0.999, 1e-8).validate()), "GradientDecayFactor");
        assert_eq!(property(adam(0.9, 1.0, 1e-8).validate()), "SquaredGradientDecayFactor");
        assert_eq!(property(adam(0.9, 0.999, 0.0).validate()), "Epsilon");
        let rmsprop = Solver::RmsProp { squared_gradient_decay: f64::NAN, epsilon: 1e-8 };
        assert_eq!(property(rmsprop.validate()), "SquaredGradientDecayFactor");
        for s in [Solver::sgdm(), Solver::adam(), Solver::rmsprop()] {
            s.validate().unwrap();
            assert_eq!(serde_json::from_str::<Solver>(&serde_json::to_string(&s).unwrap()).unwrap(), s);
        }
    }

    #[test]
    fn solvers_read_from_a_name_or_a_partial_object_and_misspellings_are_named() {
        assert_eq!(serde_json::from_str::<Solver>(r#""rmsprop""#).unwrap(), Solver::rmsprop());
        let adam: Solver = serde_json::from_str(r#"{"name": "adam", "epsilon": 1e-6}"#).unwrap();
        assert_eq!(adam, Solver::Adam { gradient_decay: 0.9, squared_gradient_decay: 0.999, epsilon: 1e-6 });
        let err = |json: &str| serde_json::from_str::<Solver>(json).unwrap_err().to_string();
        let e = err(r#""adamw""#);
        assert!(e.contains("unknown variant `adamw`") && e.contains("`sgdm`, `adam`, `rmsprop`"), "{e}");
        let e = err(r#"{"name": "sgdm", "momentun": 0.5}"#);
        assert!(e.contains("unknown field `momentun`") && e.contains("`momentum`"), "{e}");
        assert!(err(r#"{"momentum": 0.5}"#).contains("missing field `name`"));
        assert!(err("3").contains("expected a solver name"));
        assert!(err(r#"{"name": "sgdm", "momentum": "high"}"#).contains("not a number"));
    }

    #[test]
    fn solvers_construct_matlab_optimizers_with_checkpoint_names() {
        let json = r#"{"name": "adam", "gradient_decay": 0.8, "squared_gradient_decay": 0.99, "epsilon": 1e-6}"#;
        let solver: Solver = serde_json::from_str(json).unwrap();
        let adam = Adam { beta1: 0.8, beta2: 0.99, epsilon: 1e-6, form: Form::Matlab };
        assert_eq!(Method::from(solver), Method::Adam(adam));
        let names = |s: Solver| {
            let st = OptimizerState::<f32>::new(s, 2);
            (st.name(), st.to_tensors().0.into_iter().map(|(n, _)| n).collect::<Vec<_>>())
        };
        assert_eq!(names(Solver::sgdm()), ("sgdm", vec!["optimizer.velocity".to_string()]));
        let moments = vec!["optimizer.first_moment".to_string(), "optimizer.second_moment".to_string()];
        assert_eq!(names(Solver::adam()), ("adam", moments));
        assert_eq!(names(Solver::rmsprop()), ("rmsprop", vec!["optimizer.second_moment".to_string()]));
        assert_eq!((Solver::sgdm().default_learn_rate(), Solver::adam().name()), (0.01, "adam"));
    }
}
