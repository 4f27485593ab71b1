//! The training-option flags of `gru train` (MATLAB `trainingOptions`, each a flag with its
//! help line) and how they apply over the options of a file: a flag that changes a value
//! the file (`--options`, or the checkpoint of `--resume`) gave says so.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use clap::Args;
use gru::network::Normalization;
use gru::optim::GradientThresholdMethod;
use gru::train::batching::{PaddingDirection, PartialMiniBatch, SequenceLength, Shuffle};
use gru::train::{Solver, TrainingOptions};
use serde_json::Value;

/// MATLAB `trainingOptions` as flags; each overrides the value of `--options` (or of the
/// resumed checkpoint).
#[derive(Args, Debug, Clone, Default)]
pub struct OptionFlags {
    /// Solver (MATLAB solverName): sgdm | adam | rmsprop [default: adam].
    #[arg(long, value_parser = ["sgdm", "adam", "rmsprop"])]
    pub solver: Option<String>,
    /// Initial learn rate (InitialLearnRate) [default: 0.01 for sgdm, 0.001 for adam and rmsprop].
    #[arg(long)]
    pub learn_rate: Option<f64>,
    /// Passes through the training data (MaxEpochs) [default: 30].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Sequences per minibatch (MiniBatchSize) [default: 128].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// The last minibatch of an epoch when fewer sequences are left (minibatchqueue's
    /// PartialMiniBatch): return (trained on) or discard (left out, as MATLAB's training
    /// does) [default: return].
    #[arg(long, value_parser = ["return", "discard"])]
    pub partial_mini_batch: Option<String>,
    /// L2 regularization factor of the weights (L2Regularization) [default: 0.0001].
    #[arg(long)]
    pub l2: Option<f64>,
    /// Clip the gradients at this threshold (GradientThreshold), as
    /// --gradient-threshold-method says [default: none, no clipping].
    #[arg(long)]
    pub gradient_threshold: Option<f64>,
    /// How --gradient-threshold clips (GradientThresholdMethod): l2norm (each learnable
    /// tensor to that L2 norm), global-l2norm (all gradients together), absolute-value (each
    /// value to [-t, t]) [default: l2norm].
    #[arg(long, value_parser = ["l2norm", "global-l2norm", "absolute-value"])]
    pub gradient_threshold_method: Option<String>,
    /// Steps of a minibatch (SequenceLength): longest (pad to the longest sequence),
    /// shortest (truncate to the shortest) or N (chunks of N steps, truncated
    /// backpropagation through time) [default: longest].
    #[arg(long)]
    pub sequence_length: Option<String>,
    /// Where sequences are padded or truncated (SequencePaddingDirection): right (at the
    /// end) or left (at the start) [default: right].
    #[arg(long, value_parser = ["right", "left"])]
    pub sequence_padding_direction: Option<String>,
    /// Sort the training data by length before cutting it into minibatches (less padding;
    /// MATLAB's examples do it by hand); --shuffle then shuffles the minibatches, not the
    /// sequences.
    #[arg(long)]
    pub sort_by_length: bool,
    /// When the training data are shuffled (Shuffle): every-epoch, once (before training,
    /// MATLAB's default), never [default: every-epoch].
    #[arg(long, value_parser = ["every-epoch", "once", "never"])]
    pub shuffle: Option<String>,
    /// Validate every N iterations (ValidationFrequency; with --validation) [default: 50].
    #[arg(long)]
    pub validation_frequency: Option<usize>,
    /// Stop after N validations without a lower validation loss (ValidationPatience)
    /// [default: none, never stop early].
    #[arg(long)]
    pub patience: Option<usize>,
    /// Seed of the initial weights, the shuffles and dropout (with --experiment: Korali's
    /// "Random Seed") [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Normalization of regression targets, fitted on the training data, stored in the
    /// model and undone at prediction: none | zscore | zerocenter | rescale-symmetric |
    /// rescale-zero-one (classification ignores it; fitted when training starts, so not with
    /// --resume) [default: zscore].
    #[arg(
        long,
        value_parser = ["none", "zscore", "zerocenter", "rescale-symmetric", "rescale-zero-one"],
        conflicts_with = "resume"
    )]
    pub target_normalization: Option<String>,
}

/// Where the options under the flags came from: a file name, and which option names it
/// spelled out (`None`: all of them, as a checkpoint holds every option).
pub struct OptionsSource {
    pub file: String,
    pub keys: Option<BTreeSet<String>>,
}

impl OptionsSource {
    /// The options file `file` whose JSON text is `json`: the keys it spells out.
    pub fn options_file(file: &str, json: &Value) -> Self {
        let keys = json.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        Self { file: file.to_string(), keys: Some(keys) }
    }

    /// A checkpoint: every option is its own.
    pub fn checkpoint(file: &str) -> Self {
        Self { file: file.to_string(), keys: None }
    }

    fn gave(&self, key: &str) -> bool {
        self.keys.as_ref().is_none_or(|k| k.contains(key))
    }
}

/// A JSON value as a person reads it: strings without quotes.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parsed<T: std::str::FromStr<Err = gru::Error>>(flag: &str, value: &str) -> Result<T> {
    value.parse::<T>().map_err(|e| anyhow::anyhow!("--{flag} {value}: {e}"))
}

impl OptionFlags {
    /// `base` with every given flag applied and checked; the second value holds one line per
    /// flag that changed a value `source` gave: `flag --epochs 5 overrides max_epochs 30
    /// from opts.json`.
    pub fn apply(
        &self,
        base: TrainingOptions,
        source: Option<&OptionsSource>,
    ) -> Result<(TrainingOptions, Vec<String>)> {
        let before = serde_json::to_value(&base)?;
        let mut o = base;
        // (flag, option name, given)
        let mut given: Vec<(&str, &str, bool)> = Vec::new();
        if let Some(s) = &self.solver {
            o.solver = match s.as_str() {
                "sgdm" => Solver::sgdm(),
                "adam" => Solver::adam(),
                "rmsprop" => Solver::rmsprop(),
                other => bail!("--solver {other}: expected sgdm, adam or rmsprop"),
            };
        }
        given.push(("solver", "solver", self.solver.is_some()));
        if let Some(v) = self.learn_rate {
            o.initial_learn_rate = Some(v);
        }
        given.push(("learn-rate", "initial_learn_rate", self.learn_rate.is_some()));
        o.max_epochs = self.epochs.unwrap_or(o.max_epochs);
        given.push(("epochs", "max_epochs", self.epochs.is_some()));
        o.mini_batch_size = self.batch_size.unwrap_or(o.mini_batch_size);
        given.push(("batch-size", "mini_batch_size", self.batch_size.is_some()));
        if let Some(s) = &self.partial_mini_batch {
            o.partial_mini_batch = parsed::<PartialMiniBatch>("partial-mini-batch", s)?;
        }
        given.push(("partial-mini-batch", "partial_mini_batch", self.partial_mini_batch.is_some()));
        o.l2_regularization = self.l2.unwrap_or(o.l2_regularization);
        given.push(("l2", "l2_regularization", self.l2.is_some()));
        o.gradient_threshold = self.gradient_threshold.unwrap_or(o.gradient_threshold);
        given.push(("gradient-threshold", "gradient_threshold", self.gradient_threshold.is_some()));
        if let Some(m) = &self.gradient_threshold_method {
            o.gradient_threshold_method = serde_json::from_value::<GradientThresholdMethod>(Value::String(m.clone()))
                .map_err(|_| {
                anyhow::anyhow!("--gradient-threshold-method {m}: expected l2norm, global-l2norm or absolute-value")
            })?;
        }
        given.push((
            "gradient-threshold-method",
            "gradient_threshold_method",
            self.gradient_threshold_method.is_some(),
        ));
        if let Some(s) = &self.sequence_length {
            o.sequence_length = parsed::<SequenceLength>("sequence-length", s)?;
        }
        given.push(("sequence-length", "sequence_length", self.sequence_length.is_some()));
        if let Some(s) = &self.sequence_padding_direction {
            o.sequence_padding_direction = parsed::<PaddingDirection>("sequence-padding-direction", s)?;
        }
        given.push((
            "sequence-padding-direction",
            "sequence_padding_direction",
            self.sequence_padding_direction.is_some(),
        ));
        o.sort_by_length |= self.sort_by_length;
        given.push(("sort-by-length", "sort_by_length", self.sort_by_length));
        if let Some(s) = &self.shuffle {
            o.shuffle = parsed::<Shuffle>("shuffle", s)?;
        }
        given.push(("shuffle", "shuffle", self.shuffle.is_some()));
        o.validation_frequency = self.validation_frequency.unwrap_or(o.validation_frequency);
        given.push(("validation-frequency", "validation_frequency", self.validation_frequency.is_some()));
        if let Some(p) = self.patience {
            o.validation_patience = Some(p);
        }
        given.push(("patience", "validation_patience", self.patience.is_some()));
        o.seed = self.seed.unwrap_or(o.seed);
        given.push(("seed", "seed", self.seed.is_some()));
        if let Some(s) = &self.target_normalization {
            o.target_normalization = parsed::<Normalization>("target-normalization", s)?;
        }
        given.push(("target-normalization", "target_normalization", self.target_normalization.is_some()));
        o.validate()?;
        let after = serde_json::to_value(&o)?;
        let mut notes = Vec::new();
        if let Some(src) = source {
            for (flag, key, is_given) in given {
                let (old, new) = (&before[key], &after[key]);
                if is_given && src.gave(key) && old != new {
                    notes.push(format!("flag --{flag} {} overrides {key} {} from {}", text(new), text(old), src.file));
                }
            }
        }
        Ok((o, notes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_and_say_so_only_for_values_the_file_gave() {
        let json: Value = serde_json::json!({"gradient_threshold_method": "l2norm", "max_epochs": 30, "seed": 4});
        let base: TrainingOptions = serde_json::from_value(json.clone()).unwrap();
        let flags = OptionFlags {
            gradient_threshold_method: Some("global-l2norm".into()),
            gradient_threshold: Some(2.0),
            epochs: Some(30),
            seed: Some(5),
            ..OptionFlags::default()
        };
        let (o, notes) = flags.apply(base, Some(&OptionsSource::options_file("o.json", &json))).unwrap();
        assert_eq!(o.gradient_threshold_method, GradientThresholdMethod::GlobalL2Norm);
        assert_eq!((o.gradient_threshold, o.max_epochs, o.seed), (2.0, 30, 5));
        // The threshold was not in the file; the epochs did not change.
        assert_eq!(
            notes,
            vec![
                "flag --gradient-threshold-method global-l2norm overrides gradient_threshold_method l2norm from o.json",
                "flag --seed 5 overrides seed 4 from o.json",
            ]
        );
        // A checkpoint gave every option.
        let (_, notes) = flags.apply(TrainingOptions::default(), Some(&OptionsSource::checkpoint("c"))).unwrap();
        assert_eq!(notes.len(), 3, "{notes:?}");
        // No file: nothing to override.
        assert!(flags.apply(TrainingOptions::default(), None).unwrap().1.is_empty());
    }

    #[test]
    fn gradient_threshold_alone_keeps_matlabs_default_method() {
        let flags = OptionFlags { gradient_threshold: Some(1.0), ..OptionFlags::default() };
        let (o, _) = flags.apply(TrainingOptions::default(), None).unwrap();
        assert_eq!((o.gradient_threshold, o.gradient_threshold_method), (1.0, GradientThresholdMethod::L2Norm));
    }
}
