//! [`KoraliNetwork`]: the network keys of Korali's NeuralNetwork module, or of the
//! DeepSupervisor solver's `"Neural Network"` section, read from and written to JSON.

use serde_json::{Map, Value};

use super::gru::KoraliGru;
use super::json::{self, key_path};
use super::layers::KoraliLayer;
use super::names;
use super::{ConfigWarning, ExplicitKeys};
use crate::error::{Error, Result};
use gru_core::{EngineKind, Mode};

/// Which key holds the layers, so that a config saves back the way it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LayerList {
    /// `"Layers"`: Korali's NeuralNetwork module; the full list, input and output layers included.
    #[default]
    Layers,
    /// `"Hidden Layers"`: the DeepSupervisor solver's `"Neural Network"` section; the solver adds
    /// the input layer, a linear layer to the solution size, the `"Output Activation"` and the
    /// `"Output Layer"` itself, so `Layer/Input` and `Layer/Output` are refused here.
    HiddenLayers,
}

impl LayerList {
    /// `"Layers"` or `"Hidden Layers"`.
    pub fn key(self) -> &'static str {
        match self {
            LayerList::Layers => "Layers",
            LayerList::HiddenLayers => "Hidden Layers",
        }
    }
}

/// `"Uniform Generator"`: the distribution of the initial weights before Xavier scaling,
/// `{"Type": "Univariate/Uniform", "Minimum": -1.0, "Maximum": 1.0}` by default. Both bounds
/// finite, `minimum < maximum`. Korali's distribution keys `"Name"`, `"Random Seed"` and
/// `"Range"` are accepted with a warning and not saved.
#[derive(Clone, Debug, PartialEq)]
pub struct UniformGenerator {
    pub minimum: f64,
    pub maximum: f64,
    /// Which of `"Type"`, `"Minimum"`, `"Maximum"` the loaded JSON spelled out.
    pub explicit: ExplicitKeys,
}

impl Default for UniformGenerator {
    fn default() -> Self {
        Self { minimum: -1.0, maximum: 1.0, explicit: ExplicitKeys::default() }
    }
}

impl UniformGenerator {
    fn is_default(&self) -> bool {
        self.minimum == -1.0 && self.maximum == 1.0
    }

    fn from_json_at(value: &Value, base: &str, warnings: &mut Vec<ConfigWarning>) -> Result<Self> {
        const KNOWN: [&str; 3] = ["Type", "Minimum", "Maximum"];
        let mut generator = UniformGenerator::default();
        for (key, v) in json::object(value, base)? {
            let path = key_path(base, key);
            match key.as_str() {
                "Type" => {
                    json::choice(v, &path, &[names::UNIFORM], "distribution (the uniform generator is uniform)")?;
                }
                "Minimum" => generator.minimum = json::number(v, &path)?,
                "Maximum" => generator.maximum = json::number(v, &path)?,
                k if names::IGNORED_DISTRIBUTION_KEYS.contains(&k) => {
                    json::ignored(warnings, &path, "distribution bookkeeping, no configuration")
                }
                other => {
                    let known: Vec<&str> = KNOWN.iter().chain(&names::IGNORED_DISTRIBUTION_KEYS).copied().collect();
                    return Err(json::unknown_key(base, other, &known));
                }
            }
            if KNOWN.contains(&key.as_str()) {
                generator.explicit.insert(key);
            }
        }
        if generator.minimum >= generator.maximum {
            let shown = format!("Minimum {} >= Maximum {}", generator.minimum, generator.maximum);
            return Err(Error::config(json::shown_path(base), shown, "the uniform generator needs Minimum < Maximum"));
        }
        Ok(generator)
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if self.explicit.contains("Type") {
            m.insert("Type".into(), names::UNIFORM.into());
        }
        if self.explicit.contains("Minimum") || self.minimum != -1.0 {
            m.insert("Minimum".into(), self.minimum.into());
        }
        if self.explicit.contains("Maximum") || self.maximum != 1.0 {
            m.insert("Maximum".into(), self.maximum.into());
        }
        Value::Object(m)
    }
}

/// A Korali neural network with GRU layers (see the [module docs](super) for the keys).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct KoraliNetwork {
    /// `"Engine"`: `"Korali"` (default) | `"OneDNN"` | `"CuDNN"`: the engine that runs the layers.
    pub engine: EngineKind,
    /// `"Mode"`: `"Training"` (default) | `"Inference"` (no state kept for backward).
    pub mode: Mode,
    /// `"Timestep Count"` (> 0): the longest sequence planned for; part of the engine's plan.
    pub timestep_count: Option<usize>,
    /// `"Batch Sizes"` (default `[]`, each > 0): the batch sizes planned for.
    pub batch_sizes: Vec<usize>,
    /// `"Layers"` or `"Hidden Layers"`, in order.
    pub layers: Vec<KoraliLayer>,
    /// Which of the two keys holds [`KoraliNetwork::layers`].
    pub layer_list: LayerList,
    /// `"Uniform Generator"`: the initial-weight distribution.
    pub uniform_generator: UniformGenerator,
    /// `"Optimizer"`, `"Output Activation"`, `"Output Layer"` of the solver's section, verbatim.
    pub solver_keys: Map<String, Value>,
    /// Which of `"Type"`, `"Engine"`, `"Mode"`, `"Batch Sizes"`, `"Uniform Generator"` were given.
    pub explicit: ExplicitKeys,
}

/// Keys of a network object that this module reads.
const NETWORK_KEYS: [&str; 8] =
    ["Type", "Engine", "Mode", "Timestep Count", "Batch Sizes", "Layers", "Hidden Layers", "Uniform Generator"];

impl KoraliNetwork {
    /// A NeuralNetwork-module config (`"Layers"`). `"Engine"` and `"Mode"` are marked explicit,
    /// since Korali's module requires `"Mode"`.
    pub fn new(layers: Vec<KoraliLayer>) -> Self {
        Self { layers, explicit: ExplicitKeys::of(&["Engine", "Mode"]), ..Self::default() }
    }

    /// A DeepSupervisor `"Neural Network"` section (`"Hidden Layers"`), `"Engine"` explicit
    /// (the solver requires it).
    pub fn hidden_layers(layers: Vec<KoraliLayer>) -> Self {
        Self { layers, layer_list: LayerList::HiddenLayers, explicit: ExplicitKeys::of(&["Engine"]), ..Self::default() }
    }

    /// The GRU layers, in order.
    pub fn gru_layers(&self) -> impl Iterator<Item = &KoraliGru> {
        self.layers.iter().filter_map(|l| match l {
            KoraliLayer::Gru(g) => Some(g),
            _ => None,
        })
    }

    /// Reads a network object; error paths start at that object (`["Layers"][1]["Depth"]`).
    /// Returns a warning for each key that Korali knows but that is ignored here.
    pub fn from_json(value: &Value) -> Result<(Self, Vec<ConfigWarning>)> {
        Self::from_json_at(value, "")
    }

    /// [`KoraliNetwork::from_json`] for an object that sits at `path` in a larger document,
    /// e.g. `["Solver"]["Neural Network"]` of a Korali experiment: errors and warnings name
    /// their path with that prefix.
    pub fn from_json_at(value: &Value, path: &str) -> Result<(Self, Vec<ConfigWarning>)> {
        let mut warnings = Vec::new();
        let mut net = KoraliNetwork::default();
        let mut layers: Option<(LayerList, &Value)> = None;
        for (key, v) in json::object(value, path)? {
            let p = key_path(path, key);
            match key.as_str() {
                "Type" => {
                    json::choice(v, &p, &["Neural Network"], "module type")?;
                }
                "Engine" => {
                    net.engine = match json::choice(v, &p, &names::ENGINES, "engine")? {
                        "OneDNN" => EngineKind::OneDNN,
                        "CuDNN" => EngineKind::CuDNN,
                        _ => EngineKind::Korali,
                    }
                }
                "Mode" => {
                    net.mode = match json::choice(v, &p, &names::MODES, "mode")? {
                        "Inference" => Mode::Inference,
                        _ => Mode::Training,
                    }
                }
                "Timestep Count" => net.timestep_count = Some(json::positive_size(v, &p, "the timestep count")?),
                "Batch Sizes" => {
                    net.batch_sizes = json::array(v, &p)?
                        .iter()
                        .enumerate()
                        .map(|(i, b)| json::positive_size(b, &json::index_path(&p, i), "a batch size"))
                        .collect::<Result<_>>()?;
                }
                "Layers" | "Hidden Layers" => {
                    let list = if key == "Layers" { LayerList::Layers } else { LayerList::HiddenLayers };
                    if let Some((other, _)) = layers {
                        let reason = format!("give either \"{}\" or \"{}\", not both", other.key(), list.key());
                        return Err(json::invalid(&p, &Value::from(key.as_str()), reason));
                    }
                    layers = Some((list, v));
                }
                "Uniform Generator" => net.uniform_generator = UniformGenerator::from_json_at(v, &p, &mut warnings)?,
                k if names::SOLVER_KEYS.contains(&k) => {
                    net.solver_keys.insert(key.clone(), v.clone());
                }
                k if names::IGNORED_NETWORK_KEYS.contains(&k) => {
                    json::ignored(&mut warnings, &p, "results, state or output settings, no network configuration")
                }
                other => {
                    let known: Vec<&str> = NETWORK_KEYS
                        .iter()
                        .chain(&names::SOLVER_KEYS)
                        .chain(&names::IGNORED_NETWORK_KEYS)
                        .copied()
                        .collect();
                    return Err(json::unknown_key(path, other, &known));
                }
            }
            if ["Type", "Engine", "Mode", "Batch Sizes", "Uniform Generator"].contains(&key.as_str()) {
                net.explicit.insert(key);
            }
        }
        let (list, list_value) = layers.ok_or_else(|| {
            json::missing(
                &key_path(path, "Layers"),
                "required: the layers, as \"Layers\" (NeuralNetwork module) or \
                                                       \"Hidden Layers\" (DeepSupervisor's \"Neural Network\")",
            )
        })?;
        let list_path = key_path(path, list.key());
        net.layer_list = list;
        let entries = json::array(list_value, &list_path)?;
        for (i, entry) in entries.iter().enumerate() {
            let layer_path = json::index_path(&list_path, i);
            let layer = KoraliLayer::from_json_at(entry, &layer_path, &mut warnings)?;
            check_position(&layer, list, i, entries.len(), &layer_path)?;
            net.layers.push(layer);
        }
        check_output_sizes(&net.layers, &list_path)?;
        Ok((net, warnings))
    }

    /// Parses JSON text; malformed text is an `Error::Config` naming the line and column.
    #[allow(clippy::should_implement_trait)] // returns warnings beside Self: not `FromStr`
    pub fn from_str(text: &str) -> Result<(Self, Vec<ConfigWarning>)> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Error::config("<root>", format!("line {}, column {}", e.line(), e.column()), format!("malformed JSON: {e}"))
        })?;
        Self::from_json(&value)
    }

    /// The config as Korali JSON, with Korali's key names. Written: the layers under the key
    /// they were read from, `"Timestep Count"` when set, the solver keys verbatim, and each
    /// defaulted key that was given or differs from its default. Keys that were accepted with
    /// a warning (results, bookkeeping, dropout 0, ...) are not written.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let given = |key: &str| self.explicit.contains(key);
        if given("Type") {
            m.insert("Type".into(), "Neural Network".into());
        }
        if given("Engine") || self.engine != EngineKind::Korali {
            m.insert("Engine".into(), self.engine.to_string().into());
        }
        if given("Mode") || self.mode != Mode::Training {
            m.insert("Mode".into(), self.mode.to_string().into());
        }
        if let Some(t) = self.timestep_count {
            m.insert("Timestep Count".into(), t.into());
        }
        if given("Batch Sizes") || !self.batch_sizes.is_empty() {
            m.insert("Batch Sizes".into(), self.batch_sizes.clone().into());
        }
        if given("Uniform Generator") || !self.uniform_generator.is_default() {
            m.insert("Uniform Generator".into(), self.uniform_generator.to_json());
        }
        m.insert(self.layer_list.key().into(), Value::Array(self.layers.iter().map(KoraliLayer::to_json).collect()));
        for (key, value) in &self.solver_keys {
            m.insert(key.clone(), value.clone());
        }
        Value::Object(m)
    }

    /// Checks a config built in code by the rules of [`KoraliNetwork::from_json`].
    pub fn validate(&self) -> Result<()> {
        Self::from_json(&self.to_json()).map(|_| ())
    }
}

/// `Layer/Input` only first and `Layer/Output` only last, and neither in `"Hidden Layers"`.
fn check_position(layer: &KoraliLayer, list: LayerList, index: usize, count: usize, path: &str) -> Result<()> {
    let type_value = Value::from(layer.type_name());
    let type_path = key_path(path, "Type");
    match (layer, list) {
        (KoraliLayer::Input(_) | KoraliLayer::Output(_), LayerList::HiddenLayers) => Err(json::invalid(
            &type_path,
            &type_value,
            "the DeepSupervisor adds the input and output layers itself (use \"Output Layer\" for output settings)",
        )),
        (KoraliLayer::Input(_), LayerList::Layers) if index != 0 => {
            Err(json::invalid(&type_path, &type_value, "the input layer must be the first layer"))
        }
        (KoraliLayer::Output(_), LayerList::Layers) if index + 1 != count => {
            Err(json::invalid(&type_path, &type_value, "the output layer must be the last layer"))
        }
        _ => Ok(()),
    }
}

/// An output layer's mask, scale and shift have one entry per channel of the layer before it
/// (Korali's check), when those channels are known.
fn check_output_sizes(layers: &[KoraliLayer], list_path: &str) -> Result<()> {
    let mut channels = None;
    for (i, layer) in layers.iter().enumerate() {
        match layer {
            KoraliLayer::Input(l) => channels = Some(l.output_channels),
            KoraliLayer::Linear(l) => channels = Some(l.output_channels),
            KoraliLayer::Gru(l) => channels = Some(l.output_channels),
            KoraliLayer::Activation(_) => {}
            KoraliLayer::Output(o) => {
                let Some(n) = channels else { continue };
                let layer_path = json::index_path(list_path, i);
                let lists = [
                    ("Transformation Mask", o.transformation_mask.len()),
                    ("Scale", o.scale.len()),
                    ("Shift", o.shift.len()),
                ];
                if let Some((key, len)) = lists.into_iter().find(|&(_, len)| len != 0 && len != n) {
                    let reason = format!("needs one entry per output channel: {n} (the previous layer's)");
                    return Err(Error::config(&key_path(&layer_path, key), format!("{len} entries"), reason));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults() {
        let (net, warnings) = KoraliNetwork::from_json(&json!({"Layers": []})).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(net.engine, EngineKind::Korali);
        assert_eq!(net.mode, Mode::Training);
        assert_eq!(net.timestep_count, None);
        assert!(net.batch_sizes.is_empty() && net.solver_keys.is_empty());
        assert_eq!(net.uniform_generator, UniformGenerator::default());
        assert_eq!((net.uniform_generator.minimum, net.uniform_generator.maximum), (-1.0, 1.0));
        assert_eq!(net.layer_list, LayerList::Layers);
        assert_eq!(net.to_json(), json!({"Layers": []}));
    }

    #[test]
    fn network_errors_name_their_paths() {
        let cases = [
            (json!({}), r#"["Layers"]"#),
            (json!({"Layers": [], "Hidden Layers": []}), r#"["Hidden Layers"]"#),
            (json!({"Layers": [], "Batch Sizes": [4, 0]}), r#"["Batch Sizes"][1]"#),
            (json!({"Layers": [], "Timestep Count": 0}), r#"["Timestep Count"]"#),
            (json!({"Layers": [], "Engine": "oneDNN"}), r#"["Engine"]"#),
            (json!({"Layers": [], "Mode": "Train"}), r#"["Mode"]"#),
            (json!({"Layers": [], "Uniform Generator": {"Minimum": 1.0, "Maximum": 1.0}}), r#"["Uniform Generator"]"#),
            (
                json!({"Layers": [], "Uniform Generator": {"Type": "Univariate/Normal"}}),
                r#"["Uniform Generator"]["Type"]"#,
            ),
            (json!({"Layers": {}}), r#"["Layers"]"#),
            (
                json!({"Hidden Layers": [{"Type": "Layer/Input", "Output Channels": 2}]}),
                r#"["Hidden Layers"][0]["Type"]"#,
            ),
            (
                json!({"Layers": [{"Type": "Layer/Output"}, {"Type": "Layer/Input", "Output Channels": 2}]}),
                r#"["Layers"][0]["Type"]"#,
            ),
        ];
        for (given, want) in cases {
            match KoraliNetwork::from_json(&given) {
                Err(Error::Config { path, .. }) => assert_eq!(path, want, "{given}"),
                other => panic!("{given}: {other:?}"),
            }
        }
    }

    #[test]
    fn output_lengths_follow_the_previous_layer() {
        let net = json!({"Layers": [{"Type": "Layer/Input", "Output Channels": 2},
                                    {"Type": "Layer/Linear", "Output Channels": 3},
                                    {"Type": "Layer/Output", "Scale": [1.0, 2.0]}]});
        match KoraliNetwork::from_json(&net) {
            Err(Error::Config { path, value, .. }) => {
                assert_eq!(path, r#"["Layers"][2]["Scale"]"#);
                assert_eq!(value, "2 entries");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn prefix_and_unknown_network_key() {
        match KoraliNetwork::from_json_at(
            &json!({"Hidden Layers": [], "Optimiser": "Adam"}),
            r#"["Solver"]["Neural Network"]"#,
        ) {
            Err(Error::UnknownKey { path, suggestion }) => {
                assert_eq!(path, r#"["Solver"]["Neural Network"]["Optimiser"]"#);
                assert_eq!(suggestion.as_deref(), Some("Optimizer"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn built_in_code_then_saved_and_loaded() {
        let net = KoraliNetwork::new(vec![KoraliLayer::Gru(KoraliGru::new(4))]);
        assert_eq!(
            net.to_json(),
            json!({"Engine": "Korali", "Mode": "Training", "Layers": [
            {"Type": "Layer/Recurrent/GRU", "Output Channels": 4}]})
        );
        assert_eq!(KoraliNetwork::from_json(&net.to_json()).unwrap().0, net);
        net.validate().unwrap();
        let hidden = KoraliNetwork::hidden_layers(vec![]);
        assert_eq!(hidden.to_json(), json!({"Engine": "Korali", "Hidden Layers": []}));
        let mut bad = KoraliNetwork::new(vec![KoraliLayer::Gru(KoraliGru::new(0))]);
        assert!(bad.validate().is_err());
        bad.layers.clear();
        bad.uniform_generator.minimum = 2.0;
        assert!(bad.validate().is_err());
    }

    #[test]
    fn malformed_text_names_line_and_column() {
        match KoraliNetwork::from_str("{\n  \"Layers\": [,]\n}") {
            Err(Error::Config { value, reason, .. }) => {
                assert_eq!(value, "line 2, column 14");
                assert!(reason.starts_with("malformed JSON"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
