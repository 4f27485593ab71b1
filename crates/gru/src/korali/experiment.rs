//! A Korali supervised-learning experiment as typed Rust: `"Problem"` (Supervised
//! Learning), `"Solver"` (Learner/DeepSupervisor with its `"Neural Network"`) and
//! `"Random Seed"`. The same JSON Korali runs trains here unchanged ([`super::run`]).
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `["Problem"]["Type"]` | required | `"Supervised Learning"` |
//! | `["Problem"]["Max Timesteps"]` | 1 | the longest input sequence |
//! | `["Problem"]["Training Batch Size"]` | required | sequences per optimizer step (Korali: all of the data) |
//! | `["Problem"]["Inference Batch Size"]` | the training one | sequences per prediction batch |
//! | `["Problem"]["Input"]["Data"]` / `["Size"]` | required | sequences × steps × Size values |
//! | `["Problem"]["Solution"]["Data"]` / `["Size"]` | required | one Size vector per sequence (its last step) |
//! | `["Solver"]["Type"]` | required | `"Learner/DeepSupervisor"` |
//! | `["Solver"]["Loss Function"]` | `"Mean Squared Error"` | or `"Direct Gradient"` (the solution data are Korali's ascent gradients w.r.t. the outputs) |
//! | `["Solver"]["Learning Rate"]` | 0.001 | the optimizer's step size |
//! | `["Solver"]["Steps Per Generation"]` | 1 | optimizer steps per generation; the whole run is bounded by [`MAX_SEQUENCE_STEPS`] |
//! | `["Solver"]["L2 Regularization"]` | disabled | `{"Enabled", "Importance"}`: `λθ` added to the loss gradient |
//! | `["Solver"]["Optimizer"]` or `["Solver"]["Neural Network"]["Optimizer"]` | `"Adam"` | Adam, AdaBelief, MADGRAD, RMSProp, Adagrad |
//! | `["Solver"]["Neural Network"]` | required | [`KoraliNetwork`] with `"Hidden Layers"`, `"Output Activation"`, `"Output Layer"` |
//! | `["Solver"]["Output Weights Scaling"]` | 1.0 | scaling of the final linear layer's initial weights |
//! | `["Solver"]["Termination Criteria"]["Max Generations"]` | required | generations to run |
//! | `["Random Seed"]` | 0 | initial weights and minibatch order |
//!
//! Differences from Korali, on purpose: Korali stores `"Importance"` as an integer (so any
//! value below 1 silently disables L2); here it is the real number given. Korali requires
//! `"Training Batch Size"` to equal the number of sequences (one step = the whole data);
//! here a smaller size draws minibatches from a seeded shuffle of the data (one step = one
//! minibatch), and an equal size is exactly Korali's full-batch step.

use serde_json::Value;

use super::json::{
    array, boolean, choice, ignored, invalid, key_path, missing, number, object, positive_size, size, string,
    unknown_key,
};
use super::optimizer::{KoraliOptimizer, DEFAULT_LEARNING_RATE};
use super::{ConfigWarning, KoraliLayer, KoraliNetwork, KoraliOutput};
use crate::error::Result;

/// The most sequence steps an experiment may compute ([`KoraliExperiment::total_sequence_steps`]:
/// generations × steps per generation × sequences per step × the longest sequence): 10¹¹,
/// a day or more of a small GRU. Korali's own examples stay below 10⁸.
pub const MAX_SEQUENCE_STEPS: u128 = 100_000_000_000;

/// Korali's `"Loss Function"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KoraliLoss {
    /// `L = ½ Σ_b Σ_i (y - ŷ)²`; Korali reports `L / N`.
    MeanSquaredError,
    /// The solution data are the gradients Korali ascends (`-∂L/∂y`).
    DirectGradient,
}

/// `"Problem": {"Type": "Supervised Learning", ...}`.
#[derive(Clone, Debug, PartialEq)]
pub struct SupervisedProblem {
    pub max_timesteps: usize,
    pub training_batch_size: usize,
    pub inference_batch_size: usize,
    pub input_size: usize,
    /// Sequences × steps × `input_size`.
    pub input: Vec<Vec<Vec<f64>>>,
    pub solution_size: usize,
    /// One `solution_size` vector per sequence.
    pub solution: Vec<Vec<f64>>,
}

/// `"Solver": {"Type": "Learner/DeepSupervisor", ...}`.
#[derive(Clone, Debug, PartialEq)]
pub struct DeepSupervisor {
    pub loss: KoraliLoss,
    pub learning_rate: f64,
    pub steps_per_generation: usize,
    /// `Some(importance)` when `"L2 Regularization": {"Enabled": true}`.
    pub l2_importance: Option<f64>,
    pub optimizer: KoraliOptimizer,
    pub network: KoraliNetwork,
    /// `"Output Activation"`: `None` for `"Identity"`, else a Korali activation function.
    pub output_activation: Option<String>,
    pub output_layer: Option<KoraliOutput>,
    pub output_weights_scaling: f64,
    pub max_generations: usize,
}

/// A whole Korali experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct KoraliExperiment {
    pub problem: SupervisedProblem,
    pub solver: DeepSupervisor,
    pub random_seed: u64,
}

/// Top-level keys Korali knows that change nothing here.
const IGNORED_TOP: [&str; 11] = [
    "Console Output",
    "File Output",
    "Results",
    "Current Generation",
    "Run ID",
    "Timestamp",
    "Is Finished",
    "Preserve Random Number Generator States",
    "Store Sample Information",
    "Distributions",
    "Variables",
];
/// Solver keys Korali knows that change nothing here.
const IGNORED_SOLVER: [&str; 7] = [
    "Mode",
    "Batch Concurrency",
    "Current Loss",
    "Normalization Means",
    "Normalization Variances",
    "Hyperparameters",
    "Evaluation",
];

fn nested<'a>(v: &'a Value, base: &str, key: &str) -> Option<(&'a Value, String)> {
    v.get(key).map(|x| (x, key_path(base, key)))
}

/// A list of numbers of length `len` at `path`.
fn vector(v: &Value, path: &str, len: usize) -> Result<Vec<f64>> {
    let a = array(v, path)?;
    if a.len() != len {
        return Err(invalid(path, v, format!("expected {len} values")));
    }
    a.iter().enumerate().map(|(i, x)| number(x, &format!("{path}[{i}]"))).collect()
}

impl KoraliExperiment {
    /// Reads an experiment; keys Korali knows but that change nothing here are returned as
    /// warnings; unknown keys, wrong types and bad values are errors naming the path.
    pub fn from_json(v: &Value) -> Result<(Self, Vec<ConfigWarning>)> {
        let mut warnings = Vec::new();
        for key in object(v, "")?.keys() {
            match key.as_str() {
                "Problem" | "Solver" | "Random Seed" => {}
                k if IGNORED_TOP.contains(&k) => ignored(&mut warnings, &key_path("", k), "Korali's run bookkeeping"),
                k => {
                    return Err(unknown_key("", k, &[&["Problem", "Solver", "Random Seed"][..], &IGNORED_TOP].concat()))
                }
            }
        }
        let problem =
            parse_problem(v.get("Problem").ok_or_else(|| missing("[\"Problem\"]", "required"))?, &mut warnings)?;
        let solver = parse_solver(v.get("Solver").ok_or_else(|| missing("[\"Solver\"]", "required"))?, &mut warnings)?;
        let random_seed = match v.get("Random Seed") {
            Some(s) => size(s, "[\"Random Seed\"]")? as u64,
            None => 0,
        };
        let experiment = Self { problem, solver, random_seed };
        experiment.check_run_length()?;
        Ok((experiment, warnings))
    }

    /// Optimizer steps of the whole run: "Max Generations" × "Steps Per Generation".
    pub fn total_steps(&self) -> u128 {
        (self.solver.max_generations as u128).saturating_mul(self.solver.steps_per_generation as u128)
    }

    /// Sequence steps the whole run computes: [`Self::total_steps`] × the sequences of a step
    /// ("Training Batch Size", at most the data) × the longest sequence.
    pub fn total_sequence_steps(&self) -> u128 {
        let p = &self.problem;
        let batch = p.training_batch_size.min(p.input.len()) as u128;
        let longest = p.input.iter().map(Vec::len).max().unwrap_or(0) as u128;
        self.total_steps().saturating_mul(batch).saturating_mul(longest)
    }

    /// Refuses a run beyond [`MAX_SEQUENCE_STEPS`] (`"Steps Per Generation": 1e12` would
    /// never end): the error names the larger of "Steps Per Generation" and "Max Generations".
    fn check_run_length(&self) -> Result<()> {
        let total = self.total_sequence_steps();
        if total <= MAX_SEQUENCE_STEPS {
            return Ok(());
        }
        let (s, p) = (&self.solver, &self.problem);
        let (path, value) = if s.steps_per_generation >= s.max_generations {
            ("[\"Solver\"][\"Steps Per Generation\"]", s.steps_per_generation)
        } else {
            ("[\"Solver\"][\"Termination Criteria\"][\"Max Generations\"]", s.max_generations)
        };
        let batch = p.training_batch_size.min(p.input.len());
        let passes = self.total_steps().saturating_mul(batch as u128) / p.input.len().max(1) as u128;
        Err(invalid(
            path,
            &Value::from(value),
            format!(
                "{} generations × {} steps per generation × {batch} sequences per step × up to {} steps = {total} \
                 sequence steps ({passes} passes over the {} sequences), beyond the limit of {MAX_SEQUENCE_STEPS} \
                 (days of computing); lower it",
                s.max_generations,
                s.steps_per_generation,
                p.input.iter().map(Vec::len).max().unwrap_or(0),
                p.input.len()
            ),
        ))
    }

    /// Reads an experiment from JSON text.
    pub fn parse(text: &str) -> Result<(Self, Vec<ConfigWarning>)> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            crate::error::Error::config("<root>", format!("line {}, column {}", e.line(), e.column()), e.to_string())
        })?;
        Self::from_json(&v)
    }
}

fn parse_problem(p: &Value, warnings: &mut Vec<ConfigWarning>) -> Result<SupervisedProblem> {
    let base = "[\"Problem\"]";
    let known = [
        "Type",
        "Max Timesteps",
        "Training Batch Size",
        "Inference Batch Size",
        "Input",
        "Solution",
        "Testing Batch Size",
    ];
    for key in object(p, base)?.keys() {
        match key.as_str() {
            "Testing Batch Size" => {
                ignored(warnings, &key_path(base, key), "an older name; prediction uses Inference Batch Size")
            }
            k if known.contains(&k) => {}
            k => return Err(unknown_key(base, k, &known)),
        }
    }
    let (t, tp) = nested(p, base, "Type").ok_or_else(|| missing(&key_path(base, "Type"), "required"))?;
    choice(t, &tp, &["Supervised Learning"], "problem type")?;
    let get_size = |key: &str, default: Option<usize>| -> Result<usize> {
        match nested(p, base, key) {
            Some((v, path)) => positive_size(v, &path, key),
            None => default.ok_or_else(|| missing(&key_path(base, key), "required")),
        }
    };
    let max_timesteps = get_size("Max Timesteps", Some(1))?;
    let training_batch_size = get_size("Training Batch Size", None)?;
    let inference_batch_size = get_size("Inference Batch Size", Some(training_batch_size))?;
    let (input, ip) = nested(p, base, "Input").ok_or_else(|| missing(&key_path(base, "Input"), "required"))?;
    let (solution, sp) = nested(p, base, "Solution").ok_or_else(|| missing(&key_path(base, "Solution"), "required"))?;
    for (obj, path) in [(input, &ip), (solution, &sp)] {
        for key in object(obj, path)?.keys() {
            if key != "Data" && key != "Size" {
                return Err(unknown_key(path, key, &["Data", "Size"]));
            }
        }
    }
    let size_of = |obj: &Value, path: &str| -> Result<usize> {
        let (v, p) = nested(obj, path, "Size").ok_or_else(|| missing(&key_path(path, "Size"), "required"))?;
        positive_size(v, &p, "Size")
    };
    let (input_size, solution_size) = (size_of(input, &ip)?, size_of(solution, &sp)?);
    let (data, dp) = nested(input, &ip, "Data").ok_or_else(|| missing(&key_path(&ip, "Data"), "required"))?;
    let mut sequences = Vec::new();
    for (i, seq) in array(data, &dp)?.iter().enumerate() {
        let path = format!("{dp}[{i}]");
        let steps = array(seq, &path)?;
        if steps.is_empty() || steps.len() > max_timesteps {
            return Err(invalid(&path, seq, format!("a sequence needs 1 to Max Timesteps = {max_timesteps} steps")));
        }
        sequences.push(
            steps
                .iter()
                .enumerate()
                .map(|(t, s)| vector(s, &format!("{path}[{t}]"), input_size))
                .collect::<Result<Vec<_>>>()?,
        );
    }
    let (sdata, sdp) = nested(solution, &sp, "Data").ok_or_else(|| missing(&key_path(&sp, "Data"), "required"))?;
    let sol = array(sdata, &sdp)?;
    if sol.len() != sequences.len() {
        return Err(invalid(
            &sdp,
            &Value::from(sol.len()),
            format!("needs one entry per input sequence ({})", sequences.len()),
        ));
    }
    let solution = sol
        .iter()
        .enumerate()
        .map(|(i, s)| vector(s, &format!("{sdp}[{i}]"), solution_size))
        .collect::<Result<Vec<_>>>()?;
    if sequences.is_empty() {
        return Err(invalid(&dp, data, "no input sequences"));
    }
    Ok(SupervisedProblem {
        max_timesteps,
        training_batch_size,
        inference_batch_size,
        input_size,
        input: sequences,
        solution_size,
        solution,
    })
}

fn parse_solver(s: &Value, warnings: &mut Vec<ConfigWarning>) -> Result<DeepSupervisor> {
    let base = "[\"Solver\"]";
    let known = [
        "Type",
        "Loss Function",
        "Learning Rate",
        "Steps Per Generation",
        "L2 Regularization",
        "Neural Network",
        "Optimizer",
        "Termination Criteria",
        "Output Weights Scaling",
    ];
    for key in object(s, base)?.keys() {
        match key.as_str() {
            k if known.contains(&k) => {}
            k if IGNORED_SOLVER.contains(&k) => ignored(warnings, &key_path(base, k), "Korali's solver bookkeeping"),
            k => return Err(unknown_key(base, k, &[&known[..], &IGNORED_SOLVER].concat())),
        }
    }
    let (t, tp) = nested(s, base, "Type").ok_or_else(|| missing(&key_path(base, "Type"), "required"))?;
    choice(t, &tp, &["Learner/DeepSupervisor"], "solver type")?;
    let loss = match nested(s, base, "Loss Function") {
        Some((v, p)) => match choice(v, &p, &["Mean Squared Error", "Direct Gradient"], "loss function")? {
            "Mean Squared Error" => KoraliLoss::MeanSquaredError,
            _ => KoraliLoss::DirectGradient,
        },
        None => KoraliLoss::MeanSquaredError,
    };
    let learning_rate = match nested(s, base, "Learning Rate") {
        Some((v, p)) => {
            let lr = number(v, &p)?;
            if lr <= 0.0 {
                return Err(invalid(&p, v, "must be greater than 0"));
            }
            lr
        }
        None => DEFAULT_LEARNING_RATE,
    };
    let steps_per_generation = match nested(s, base, "Steps Per Generation") {
        Some((v, p)) => positive_size(v, &p, "Steps Per Generation")?,
        None => 1,
    };
    let l2_importance = match nested(s, base, "L2 Regularization") {
        Some((v, p)) => {
            let mut enabled = false;
            let mut importance = 1e-4;
            for (key, x) in object(v, &p)? {
                let kp = key_path(&p, key);
                match key.as_str() {
                    "Enabled" => enabled = boolean(x, &kp)?,
                    "Importance" => {
                        importance = number(x, &kp)?;
                        if importance < 0.0 {
                            return Err(invalid(&kp, x, "must be >= 0"));
                        }
                    }
                    k => return Err(unknown_key(&p, k, &["Enabled", "Importance"])),
                }
            }
            enabled.then_some(importance)
        }
        None => None,
    };
    let (nn, nnp) =
        nested(s, base, "Neural Network").ok_or_else(|| missing(&key_path(base, "Neural Network"), "required"))?;
    let (network, nn_warnings) = KoraliNetwork::from_json_at(nn, &nnp)?;
    warnings.extend(nn_warnings);
    if let Some(KoraliLayer::Input(_) | KoraliLayer::Output(_)) = network.layers.first() {
        return Err(invalid(&nnp, nn, "the DeepSupervisor adds the input and output layers itself"));
    }
    let optimizer_at = |v: &Value, p: &str| -> Result<KoraliOptimizer> { KoraliOptimizer::from_name(string(v, p)?, p) };
    let optimizer = match (nested(s, base, "Optimizer"), network.solver_keys.get("Optimizer")) {
        (Some((v, p)), _) => optimizer_at(v, &p)?,
        (None, Some(v)) => optimizer_at(v, &key_path(&nnp, "Optimizer"))?,
        (None, None) => KoraliOptimizer::Adam,
    };
    let output_activation = match network.solver_keys.get("Output Activation") {
        Some(v) => {
            let p = key_path(&nnp, "Output Activation");
            let name = string(v, &p)?;
            let full = if name.contains('/') || name == "Softmax" || name == "Identity" {
                name.to_string()
            } else {
                format!("Elementwise/{name}")
            };
            match full.as_str() {
                "Identity" => None,
                f if super::KoraliActivation::FUNCTIONS.contains(&f) => Some(f.to_string()),
                _ => return Err(invalid(&p, v, "expected \"Identity\" or a Korali activation function")),
            }
        }
        None => None,
    };
    let output_layer = match network.solver_keys.get("Output Layer") {
        Some(v) => Some(super::layers::parse_output_section(v, &key_path(&nnp, "Output Layer"), warnings)?),
        None => None,
    };
    let output_weights_scaling = match nested(s, base, "Output Weights Scaling") {
        Some((v, p)) => number(v, &p)?,
        None => 1.0,
    };
    let (tc, tcp) = nested(s, base, "Termination Criteria")
        .ok_or_else(|| missing(&key_path(base, "Termination Criteria"), "required"))?;
    let mut max_generations = None;
    for (key, x) in object(tc, &tcp)? {
        let kp = key_path(&tcp, key);
        match key.as_str() {
            "Max Generations" => max_generations = Some(positive_size(x, &kp, "Max Generations")?),
            "Target Loss" if number(x, &kp)? < 0.0 => {}
            "Target Loss" => return Err(invalid(&kp, x, "a target loss is not supported; use Max Generations")),
            k => return Err(unknown_key(&tcp, k, &["Max Generations", "Target Loss"])),
        }
    }
    let max_generations = max_generations.ok_or_else(|| missing(&key_path(&tcp, "Max Generations"), "required"))?;
    Ok(DeepSupervisor {
        loss,
        learning_rate,
        steps_per_generation,
        l2_importance,
        optimizer,
        network,
        output_activation,
        output_layer,
        output_weights_scaling,
        max_generations,
    })
}
