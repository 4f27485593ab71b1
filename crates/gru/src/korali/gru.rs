//! `Layer/Recurrent/GRU`: the one recurrent layer this project implements, and its extra
//! key `"Reset Gate Mode"` (see the module docs of [`crate::korali`] for the default).

use serde_json::{Map, Value};

use super::json::{self, key_path};
use super::layers::{other_layer_key, put, required, weight_scaling};
use super::names;
use super::{ConfigWarning, ExplicitKeys};
use crate::error::{Error, Result};
use gru_core::{GruSpec, Regularization, ResetGateMode};

/// `{"Type": "Layer/Recurrent/GRU", ...}`: a stack of `depth` GRU layers of `output_channels`
/// hidden units, reading the previous layer's channels (layer 0) or H (layers above).
///
/// | key | default | maps to |
/// |---|---|---|
/// | `"Output Channels"` | required, > 0 | H, [`GruSpec::hidden_size`] |
/// | `"Depth"` | 1, >= 1 | D, [`GruSpec::depth`]; any input size (Korali demands input == H) |
/// | `"Weight Scaling"` | 1.0, finite > 0 | factor on the Xavier-uniform initial weights |
/// | `"Reset Gate Mode"` | `"before-multiplication"` | [`GruSpec::reset_gate_mode`] (our extension) |
/// | `"Input Dropout"`, `"Recurrent Dropout"`, `"Zoneout"`, `"Weight Drop"` | 0, in [0, 1) | [`Regularization`]'s rates (our extension) |
/// | `"Layer Normalization"` | false | [`Regularization::layer_norm`] (our extension) |
/// | `"Regularization Seed"` | 0 | [`Regularization::seed`] (our extension) |
///
/// `"Reset Gate Mode"` takes [`ResetGateMode`]'s names: `"after-multiplication"`,
/// `"before-multiplication"`, `"recurrent-bias-after-multiplication"`. `to_json` writes it
/// only when it was given or is not the default, so Korali's own files stay unchanged.
#[derive(Clone, Debug, PartialEq)]
pub struct KoraliGru {
    pub output_channels: usize,
    pub depth: usize,
    pub weight_scaling: f64,
    pub reset_gate_mode: ResetGateMode,
    /// The regularizers (our extension keys; none by default).
    pub regularization: Regularization,
    /// Defaulted keys that the loaded JSON spelled out (see [`ExplicitKeys`]).
    pub explicit: ExplicitKeys,
}

impl KoraliGru {
    /// The reset-gate mode of a Korali config that names none: what Korali's OneDNN engine
    /// computes (see the module docs).
    pub const DEFAULT_RESET_GATE_MODE: ResetGateMode = ResetGateMode::BeforeMultiplication;

    /// One layer of `output_channels` units, every other key at its default.
    pub fn new(output_channels: usize) -> Self {
        Self {
            output_channels,
            depth: 1,
            weight_scaling: 1.0,
            reset_gate_mode: Self::DEFAULT_RESET_GATE_MODE,
            regularization: Regularization::NONE,
            explicit: ExplicitKeys::default(),
        }
    }
    pub fn with_depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }
    pub fn with_weight_scaling(mut self, weight_scaling: f64) -> Self {
        self.weight_scaling = weight_scaling;
        self
    }
    pub fn with_reset_gate_mode(mut self, mode: ResetGateMode) -> Self {
        self.reset_gate_mode = mode;
        self
    }
    pub fn with_regularization(mut self, regularization: Regularization) -> Self {
        self.regularization = regularization;
        self
    }

    /// The stack's options for `input_size` input channels: H = `output_channels`,
    /// D = `depth`, this reset mode, every other option at its default (tanh, sigmoid,
    /// unidirectional, sequence output, as Korali computes) but the regularizers given.
    pub fn spec(&self, input_size: usize) -> GruSpec {
        GruSpec::new(input_size, self.output_channels)
            .with_depth(self.depth)
            .with_reset_gate_mode(self.reset_gate_mode)
            .with_regularization(self.regularization)
    }

    /// Reads the keys of a GRU layer object at `base` (`legacy`: the older
    /// `{"Type": "Layer/Recurrent", "Mode": "GRU"}` form, whose `"Mode"` is skipped).
    pub(crate) fn from_object(
        obj: &Map<String, Value>,
        base: &str,
        warnings: &mut Vec<ConfigWarning>,
        legacy: bool,
    ) -> Result<Self> {
        const BASE: [&str; 4] = ["Output Channels", "Depth", "Weight Scaling", names::RESET_GATE_MODE];
        let known: Vec<&str> = BASE.iter().chain(&names::REGULARIZATION_KEYS).copied().collect();
        let mut gru = KoraliGru::new(0);
        let mut channels = None;
        for (key, value) in obj {
            let path = key_path(base, key);
            match key.as_str() {
                "Type" => {}
                "Mode" if legacy => {}
                "Output Channels" => {
                    channels = Some(json::positive_size(value, &path, "a GRU layer's output channels")?)
                }
                "Depth" => gru.depth = json::positive_size(value, &path, "depth")?,
                "Weight Scaling" => gru.weight_scaling = weight_scaling(value, &path)?,
                names::RESET_GATE_MODE => gru.reset_gate_mode = reset_gate_mode(value, &path)?,
                k if names::REGULARIZATION_KEYS.contains(&k) => {
                    read_regularization(&mut gru.regularization, k, value, &path)?
                }
                other => other_layer_key(other, value, base, &known, warnings)?,
            }
            if BASE[1..].contains(&key.as_str()) {
                gru.explicit.insert(key);
            }
        }
        gru.output_channels = required(channels, base, "Output Channels", "the GRU's hidden size")?;
        Ok(gru)
    }

    /// Writes the keys after `"Type"`: `"Output Channels"`, then each defaulted key that was
    /// given or differs from its default.
    pub(crate) fn write_keys(&self, m: &mut Map<String, Value>) {
        put(m, "Output Channels", true, self.output_channels.into());
        put(m, "Depth", self.explicit.contains("Depth") || self.depth != 1, self.depth.into());
        let w = self.explicit.contains("Weight Scaling") || self.weight_scaling != 1.0;
        put(m, "Weight Scaling", w, self.weight_scaling.into());
        let r = self.explicit.contains(names::RESET_GATE_MODE)
            || self.reset_gate_mode != KoraliGru::DEFAULT_RESET_GATE_MODE;
        put(m, names::RESET_GATE_MODE, r, self.reset_gate_mode.name().into());
        let g = &self.regularization;
        let [input, recurrent, zoneout, weight, norm, seed] = names::REGULARIZATION_KEYS;
        for (key, p) in
            [(input, g.input_dropout), (recurrent, g.recurrent_dropout), (zoneout, g.zoneout), (weight, g.weight_drop)]
        {
            put(m, key, p != 0.0, p.into());
        }
        put(m, norm, g.layer_norm, g.layer_norm.into());
        put(m, seed, g.seed != 0, g.seed.into());
    }
}

/// Reads one of [`names::REGULARIZATION_KEYS`] into `reg`; a rate is checked here (a
/// probability in [0, 1)), so the error names the key's path.
fn read_regularization(reg: &mut Regularization, key: &str, value: &Value, path: &str) -> Result<()> {
    let [input, recurrent, zoneout, weight, norm, seed] = names::REGULARIZATION_KEYS;
    let rate = || -> Result<f64> {
        match json::number(value, path)? {
            p if (0.0..1.0).contains(&p) => Ok(p),
            _ => Err(json::invalid(path, value, "must be a probability in [0, 1)")),
        }
    };
    match key {
        k if k == input => reg.input_dropout = rate()?,
        k if k == recurrent => reg.recurrent_dropout = rate()?,
        k if k == zoneout => reg.zoneout = rate()?,
        k if k == weight => reg.weight_drop = rate()?,
        k if k == norm => reg.layer_norm = json::boolean(value, path)?,
        k if k == seed => {
            reg.seed = value.as_u64().ok_or_else(|| json::invalid(path, value, "must be an integer in 0..2^64"))?
        }
        _ => {}
    }
    Ok(())
}

fn reset_gate_mode(value: &Value, path: &str) -> Result<ResetGateMode> {
    let names = ResetGateMode::ALL.map(ResetGateMode::name);
    let name = json::choice(value, path, &names, "reset gate mode")?;
    Ok(ResetGateMode::ALL.into_iter().find(|m| m.name() == name).unwrap_or(KoraliGru::DEFAULT_RESET_GATE_MODE))
}

pub(crate) fn lstm_refused(path: &str) -> Error {
    Error::Unsupported {
        operation: format!("layer type \"{}\" at {path}", names::LSTM),
        reason: "this project implements GRU layers only (use \"Layer/Recurrent/GRU\")".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::korali::KoraliLayer;

    fn read(value: Value) -> Result<(KoraliLayer, Vec<ConfigWarning>)> {
        let mut warnings = Vec::new();
        KoraliLayer::from_json_at(&value, r#"["L"]"#, &mut warnings).map(|l| (l, warnings))
    }

    #[test]
    fn gru_defaults_to_before_multiplication_and_writes_back_only_what_was_given() {
        let given = json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 32});
        let (layer, warnings) = read(given.clone()).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(layer, KoraliLayer::Gru(KoraliGru::new(32)));
        let KoraliLayer::Gru(g) = &layer else { unreachable!() };
        assert_eq!((g.depth, g.weight_scaling, g.reset_gate_mode), (1, 1.0, ResetGateMode::BeforeMultiplication));
        assert_eq!(layer.to_json(), given);
        let spec = g.spec(3);
        assert_eq!((spec.input_size, spec.hidden_size, spec.depth), (3, 32, 1));
        assert_eq!(spec.reset_gate_mode, ResetGateMode::BeforeMultiplication);
    }

    #[test]
    fn gru_keys_given_at_their_default_are_kept() {
        let given = json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 8, "Depth": 1, "Weight Scaling": 1.0,
                           "Reset Gate Mode": "before-multiplication"});
        assert_eq!(read(given.clone()).unwrap().0.to_json(), given);
        let g = KoraliGru::new(8).with_depth(3).with_reset_gate_mode(ResetGateMode::AfterMultiplication);
        let written = KoraliLayer::Gru(g.clone()).to_json();
        assert_eq!(written["Depth"], json!(3));
        assert_eq!(written["Reset Gate Mode"], json!("after-multiplication"));
        assert_eq!(read(written).unwrap().0, KoraliLayer::Gru(g));
    }

    #[test]
    fn regularization_keys_are_read_written_back_and_reach_the_spec() {
        let given = json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 8, "Recurrent Dropout": 0.25,
                           "Zoneout": 0.1, "Layer Normalization": true, "Regularization Seed": 5});
        let (layer, warnings) = read(given.clone()).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(layer.to_json(), given);
        let KoraliLayer::Gru(g) = &layer else { unreachable!() };
        let want =
            Regularization::NONE.with_recurrent_dropout(0.25).with_zoneout(0.1).with_layer_norm(true).with_seed(5);
        assert_eq!(g.spec(3).regularization, want);
        for (key, value) in [("Zoneout", json!(1.0)), ("Input Dropout", json!(-0.5)), ("Layer Normalization", json!(1))]
        {
            let mut bad = json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 8});
            bad[key] = value;
            match read(bad) {
                Err(Error::Config { path, .. }) => assert_eq!(path, format!(r#"["L"]["{key}"]"#)),
                other => panic!("{key}: {other:?}"),
            }
        }
    }

    #[test]
    fn gru_errors_name_path_and_value() {
        let cases = [
            (json!({"Type": "Layer/Recurrent/GRU"}), r#"["L"]["Output Channels"]"#, "(missing)"),
            (json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 0}), r#"["L"]["Output Channels"]"#, "0"),
            (json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 4, "Depth": 0}), r#"["L"]["Depth"]"#, "0"),
            (
                json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 4, "Weight Scaling": -1.0}),
                r#"["L"]["Weight Scaling"]"#,
                "-1.0",
            ),
            (
                json!({"Type": "Layer/Recurrent/GRU", "Output Channels": 4, "Reset Gate Mode": "after"}),
                r#"["L"]["Reset Gate Mode"]"#,
                "\"after\"",
            ),
            (json!({"Type": "Layer/Recurrent/GRU", "Output Channels": "4"}), r#"["L"]["Output Channels"]"#, "\"4\""),
        ];
        for (given, want_path, want_value) in cases {
            match read(given.clone()) {
                Err(Error::Config { path, value, .. }) => {
                    assert_eq!((path.as_str(), value.as_str()), (want_path, want_value))
                }
                other => panic!("{given}: {other:?}"),
            }
        }
    }
}
