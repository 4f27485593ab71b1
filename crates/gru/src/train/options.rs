//! `TrainingOptions`: MATLAB's `trainingOptions` names and defaults.
//!
//! | option | default | MATLAB |
//! |---|---|---|
//! | `solver` | Adam (β1 0.9, β2 0.999, ε 1e-8) | the solver argument: "sgdm" / "adam" / "rmsprop" |
//! | `initial_learn_rate` | solver default: 0.01 sgdm, 0.001 adam and rmsprop | InitialLearnRate |
//! | `learn_rate_schedule` | none | LearnRateSchedule, LearnRateDropFactor (0.1), LearnRateDropPeriod (10) |
//! | `l2_regularization` | 1e-4 | L2Regularization |
//! | `gradient_threshold_method` | l2norm | GradientThresholdMethod |
//! | `gradient_threshold` | +inf (no clipping) | GradientThreshold |
//! | `max_epochs` | 30 | MaxEpochs |
//! | `mini_batch_size` | 128 | MiniBatchSize |
//! | `partial_mini_batch` | return (trained on; MATLAB training discards it) | (minibatchqueue's PartialMiniBatch) |
//! | `shuffle` | every-epoch (MATLAB: once) | Shuffle |
//! | `sequence_length` | longest | SequenceLength |
//! | `sequence_padding_direction` | right | SequencePaddingDirection |
//! | `sort_by_length` | false | (MATLAB's examples sort the data by length; here the minibatches of the sorted data, not the sequences, are shuffled) |
//! | `target_normalization` | zscore | (regression only: the targets' normalization, fitted on the training data, stored in the model and undone at prediction; see [`crate::network::TargetNormalization`]) |
//! | `validation_frequency` | 50 (iterations) | ValidationFrequency |
//! | `validation_patience` | none (+inf) | ValidationPatience |
//! | `output_network` | last-iteration | OutputNetwork |
//! | `seed` | 0 | (the RNG of shuffles and dropout) |
//! | `checkpoint_path` | none | CheckpointPath (a checkpoint after every `checkpoint_frequency` epochs) |
//!
//! Three defaults differ from MATLAB's, so that a default run learns on a small data set:
//! with MATLAB's (a partial minibatch discarded, one shuffle, raw targets) 172 sequences in
//! minibatches of 128 make one update per epoch and the same 44 are never seen, and
//! regression starts from outputs near 0 whatever the targets' scale. MATLAB's behaviour is
//! one option away: `partial_mini_batch: "discard"`, `shuffle: "once"`,
//! `target_normalization: "none"`. [`TrainingOptions::warnings`] says when a run would
//! still learn little.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::batching::{minibatches, PaddingDirection, PartialMiniBatch, SequenceLength, Shuffle};
use super::schedule::LearnRateSchedule;
use super::solver::Solver;
use crate::error::{Error, Result};
use crate::network::Normalization;
use crate::optim::GradientThresholdMethod;

/// Which parameters training returns (MATLAB `OutputNetwork`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OutputNetwork {
    #[default]
    LastIteration,
    /// The parameters of the validation with the lowest loss (needs validation data).
    BestValidationLoss,
}

/// Options of a training run; see the module documentation for names and defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingOptions {
    pub solver: Solver,
    pub initial_learn_rate: Option<f64>,
    pub learn_rate_schedule: LearnRateSchedule,
    pub l2_regularization: f64,
    pub gradient_threshold_method: GradientThresholdMethod,
    /// `+inf` (no clipping) is written as JSON `null`, which JSON numbers cannot express.
    #[serde(with = "infinite_as_null")]
    pub gradient_threshold: f64,
    pub max_epochs: usize,
    pub mini_batch_size: usize,
    pub partial_mini_batch: PartialMiniBatch,
    pub shuffle: Shuffle,
    pub sequence_length: SequenceLength,
    pub sequence_padding_direction: PaddingDirection,
    /// Minibatches of sequences of similar length: see [`super::batching::epoch_batches`].
    pub sort_by_length: bool,
    /// Regression targets: `"none"`, `"zscore"`, ... ([`Normalization`]); classification
    /// ignores it.
    pub target_normalization: Normalization,
    pub validation_frequency: usize,
    pub validation_patience: Option<usize>,
    pub output_network: OutputNetwork,
    pub seed: u64,
    pub checkpoint_path: Option<PathBuf>,
    pub checkpoint_frequency: usize,
}

impl Default for TrainingOptions {
    fn default() -> Self {
        Self {
            solver: Solver::adam(),
            initial_learn_rate: None,
            learn_rate_schedule: LearnRateSchedule::None,
            l2_regularization: 1e-4,
            gradient_threshold_method: GradientThresholdMethod::L2Norm,
            gradient_threshold: f64::INFINITY,
            max_epochs: 30,
            mini_batch_size: 128,
            partial_mini_batch: PartialMiniBatch::Return,
            shuffle: Shuffle::EveryEpoch,
            sequence_length: SequenceLength::Longest,
            sequence_padding_direction: PaddingDirection::Right,
            sort_by_length: false,
            target_normalization: Normalization::Zscore,
            validation_frequency: 50,
            validation_patience: None,
            output_network: OutputNetwork::LastIteration,
            seed: 0,
            checkpoint_path: None,
            checkpoint_frequency: 1,
        }
    }
}

/// Fewer updates than this in a whole run are worth a warning.
const FEW_UPDATES: usize = 100;

impl TrainingOptions {
    /// Reads options from JSON text: the keys of the [module docs](self), each optional (an
    /// absent key takes its default). A misspelt key is [`Error::UnknownKey`] naming it and
    /// the closest known key; a misspelt value (a solver name, a shuffle mode, ...) is
    /// [`Error::Config`] naming the closest. The values are checked by
    /// [`TrainingOptions::validate`], not here (flags may still override them).
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::config("<root>", "(not JSON)", e.to_string()))?;
        crate::suggest::from_value_at(&value, "", &[])
    }

    /// The initial learn rate: the given one or the solver's default.
    pub fn learn_rate(&self) -> f64 {
        self.initial_learn_rate.unwrap_or_else(|| self.solver.default_learn_rate())
    }

    /// Minibatches (updates, without truncated BPTT) of one epoch over `observations`
    /// training sequences.
    pub fn minibatches_per_epoch(&self, observations: usize) -> Result<usize> {
        let order: Vec<usize> = (0..observations).collect();
        Ok(minibatches(&order, self.mini_batch_size, self.partial_mini_batch.discards())?.len())
    }

    /// What would make a run over `observations` training sequences learn little, one
    /// sentence each (the CLI prints them as warnings):
    ///
    /// - an epoch of one minibatch, or fewer than 100 updates in all;
    /// - a discarded partial minibatch that is not reshuffled: the same sequences are never
    ///   trained on.
    pub fn warnings(&self, observations: usize) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let size = self.mini_batch_size;
        let per_epoch = self.minibatches_per_epoch(observations)?;
        let updates = per_epoch * self.max_epochs;
        if observations > 1 && (per_epoch == 1 || updates < FEW_UPDATES) {
            // A size that makes about 8 minibatches per epoch, as a power of two.
            let suggested = 1usize << (observations / 8).max(1).ilog2();
            let more = Self { mini_batch_size: suggested, ..self.clone() }.minibatches_per_epoch(observations)?;
            let what = if per_epoch == 1 { "an epoch is one iteration" } else { "few updates" };
            out.push(format!(
                "{what}: {observations} training sequences in minibatches of {size} (MiniBatchSize) make \
                 {per_epoch} per epoch, {updates} updates in all; a smaller minibatch (--batch-size \
                 {suggested}: {more} per epoch) makes more"
            ));
        }
        let left_out = if observations > size { observations % size } else { 0 };
        if self.partial_mini_batch.discards() && left_out > 0 && self.shuffle != Shuffle::EveryEpoch {
            out.push(format!(
                "{left_out} of the {observations} training sequences are never trained on: the partial \
                 minibatch is discarded and Shuffle \"{}\" leaves out the same ones every epoch \
                 (--shuffle every-epoch or --partial-mini-batch return trains on them)",
                self.shuffle
            ));
        }
        Ok(out)
    }

    /// Checks every option; errors name the MATLAB option and the value.
    pub fn validate(&self) -> Result<()> {
        self.solver.validate()?;
        self.learn_rate_schedule.validate()?;
        let lr = self.learn_rate();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::property("InitialLearnRate", lr, "must be a finite number > 0"));
        }
        if !(self.l2_regularization.is_finite() && self.l2_regularization >= 0.0) {
            return Err(Error::property("L2Regularization", self.l2_regularization, "must be a finite number >= 0"));
        }
        if self.gradient_threshold.is_nan() || self.gradient_threshold <= 0.0 {
            return Err(Error::property("GradientThreshold", self.gradient_threshold, "must be > 0 (or +inf)"));
        }
        for (name, v) in [
            ("MaxEpochs", self.max_epochs),
            ("MiniBatchSize", self.mini_batch_size),
            ("ValidationFrequency", self.validation_frequency),
            ("CheckpointFrequency", self.checkpoint_frequency),
        ] {
            if v == 0 {
                return Err(Error::property(name, 0, "must be a positive integer"));
            }
        }
        if self.validation_patience == Some(0) {
            return Err(Error::property("ValidationPatience", 0, "must be a positive integer (or none for +inf)"));
        }
        if let SequenceLength::Fixed(0) = self.sequence_length {
            return Err(Error::property(
                "SequenceLength",
                0,
                "must be \"longest\", \"shortest\" or a positive integer",
            ));
        }
        Ok(())
    }
}

/// `f64::INFINITY` <-> JSON `null` (JSON has no infinity).
mod infinite_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_infinite() && *v > 0.0 {
            s.serialize_none()
        } else {
            s.serialize_f64(*v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_through_json_with_their_defaults() {
        let o = TrainingOptions::default();
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(serde_json::from_str::<TrainingOptions>(&json).unwrap(), o);
        let partial: TrainingOptions = serde_json::from_str(r#"{"max_epochs": 5, "gradient_threshold": 2.0}"#).unwrap();
        assert_eq!((partial.max_epochs, partial.gradient_threshold, partial.mini_batch_size), (5, 2.0, 128));
        assert!(serde_json::from_str::<TrainingOptions>(r#"{"max_epoch": 5}"#).is_err());
        assert_eq!(o.learn_rate(), 0.001);
        o.validate().unwrap();
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(
            (&json["partial_mini_batch"], &json["shuffle"], &json["target_normalization"]),
            (&serde_json::json!("return"), &serde_json::json!("every-epoch"), &serde_json::json!("zscore"))
        );
    }

    #[test]
    fn warnings_name_what_makes_a_run_learn_little() {
        let o = TrainingOptions::default();
        // 172 sequences: 128 + 44, both trained on; 60 updates are few.
        assert_eq!(o.minibatches_per_epoch(172).unwrap(), 2);
        let few = o.warnings(172).unwrap();
        assert_eq!(few.len(), 1, "{few:?}");
        assert!(few[0].starts_with("few updates: 172 training sequences in minibatches of 128"), "{few:?}");
        assert!(few[0].contains("make 2 per epoch, 60 updates in all"), "{few:?}");
        assert!(TrainingOptions { max_epochs: 50, ..o.clone() }.warnings(172).unwrap().is_empty());
        let one = o.warnings(100).unwrap();
        assert_eq!(one.len(), 1, "{one:?}");
        assert!(one[0].starts_with("an epoch is one iteration") && one[0].contains("30 updates"), "{one:?}");
        assert!(one[0].contains("--batch-size 8: 13 per epoch"), "{one:?}");
        let matlab = TrainingOptions {
            partial_mini_batch: PartialMiniBatch::Discard,
            shuffle: Shuffle::Once,
            ..TrainingOptions::default()
        };
        assert_eq!(matlab.minibatches_per_epoch(172).unwrap(), 1);
        let w = matlab.warnings(172).unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[1].starts_with("44 of the 172 training sequences are never trained on"), "{w:?}");
        // Reshuffled every epoch, other sequences are left out each time: no warning for that.
        let reshuffled = TrainingOptions { shuffle: Shuffle::EveryEpoch, ..matlab };
        assert_eq!(reshuffled.warnings(172).unwrap().len(), 1);
        assert!(o.warnings(0).unwrap().is_empty() && o.warnings(1).unwrap().is_empty());
    }

    #[test]
    fn from_json_suggests_the_closest_key_and_value() {
        match TrainingOptions::from_json(r#"{"max_epoch": 5}"#) {
            Err(Error::UnknownKey { path, suggestion }) => {
                assert_eq!((path.as_str(), suggestion.as_deref()), (r#"["max_epoch"]"#, Some("max_epochs")));
            }
            other => panic!("{other:?}"),
        }
        let err = |json: &str| TrainingOptions::from_json(json).unwrap_err().to_string();
        let e = err(r#"{"solver": {"name": "adamw"}}"#);
        assert!(e.contains(r#"["solver"]["name"]"#) && e.contains(r#"did you mean "adam""#), "{e}");
        let e = err(r#"{"solver": {"name": "sgdm", "momentun": 0.5}}"#);
        assert!(e.contains(r#"["solver"]["momentun"]"#) && e.contains(r#"did you mean "momentum""#), "{e}");
        let e = err(r#"{"shuffle": "every_epoch"}"#);
        assert!(e.contains(r#"["shuffle"]"#) && e.contains(r#"did you mean "every-epoch""#), "{e}");
        assert!(err("{").contains("not JSON"));
        let o = TrainingOptions::from_json(r#"{"solver": "sgdm", "max_epochs": 3}"#).unwrap();
        assert_eq!((o.solver, o.max_epochs), (Solver::sgdm(), 3));
    }
}
