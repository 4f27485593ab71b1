//! `gru train`: data file -> trained, saved model, with history CSV and plot.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use gru::layers;
use gru::network::{classification, fully_connected, gru as gru_layer, regression, softmax, LayerSpec, Normalization};
use gru::train::{evaluate, load_training_checkpoint, save_training_checkpoint, Trainer, TrainingOptions};
use gru::{EngineKind, Network, OutputMode, Real, Regularization, ResetGateMode, SequenceDataset, Targets};

use super::train_options::OptionsSource;
use crate::distributed::Job;
use crate::paths::Files;
use crate::progress::{metrics, Reporter};
use crate::signals::Signals;

/// The flags of MATLAB training that a Korali experiment (which brings its own network,
/// optimizer and data) refuses.
const EXPERIMENT_CONFLICTS: [&str; 33] = [
    "train",
    "validation",
    "network",
    "options",
    "resume",
    "checkpoint",
    "hidden",
    "depth",
    "bidirectional",
    "reset_gate_mode",
    "engine",
    "dtype",
    "input_normalization",
    "input_dropout",
    "recurrent_dropout",
    "zoneout",
    "weight_drop",
    "layer_norm",
    "solver",
    "learn_rate",
    "epochs",
    "batch_size",
    "partial_mini_batch",
    "l2",
    "gradient_threshold",
    "gradient_threshold_method",
    "sequence_length",
    "sequence_padding_direction",
    "sort_by_length",
    "shuffle",
    "validation_frequency",
    "patience",
    "target_normalization",
];

/// Options of `gru train`. Flags override the values of `--options` (and say so).
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Training data (.ts, .tsv, .csv, .npz).
    #[arg(long, required_unless_present = "experiment")]
    pub train: Option<PathBuf>,
    /// A Korali supervised-learning experiment (JSON, data included): trained as Korali's
    /// DeepSupervisor does, the loss printed per generation. With it, --seed overrides its
    /// "Random Seed", --history and --plot write the per-generation loss; the options of
    /// MATLAB training are refused.
    #[arg(long, conflicts_with_all = EXPERIMENT_CONFLICTS)]
    pub experiment: Option<PathBuf>,
    /// Validation data (same format).
    #[arg(long)]
    pub validation: Option<PathBuf>,
    /// Where to save the trained model (.safetensors).
    #[arg(long, default_value = "model.safetensors")]
    pub out: PathBuf,
    /// A layer array as JSON (see `gru::network::LayerSpec`); default: z-score input,
    /// GRU (--hidden, output last, or sequence for per-step targets), fully connected,
    /// softmax + classification or regression.
    #[arg(long)]
    pub network: Option<PathBuf>,
    /// Training options as JSON (`gru::TrainingOptions`, MATLAB trainingOptions names).
    #[arg(long)]
    pub options: Option<PathBuf>,
    /// Hidden units of the default network's GRU.
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Stacked GRU layers of the default network.
    #[arg(long, default_value_t = 1)]
    pub depth: usize,
    /// A bidirectional GRU in the default network.
    #[arg(long)]
    pub bidirectional: bool,
    /// Reset gate mode of the default network: after-multiplication | before-multiplication |
    /// recurrent-bias-after-multiplication.
    #[arg(long, default_value = "after-multiplication")]
    pub reset_gate_mode: String,
    /// Engine of the default network's GRU: Korali | OneDNN | CuDNN.
    #[arg(long, default_value = "Korali")]
    pub engine: String,
    /// Input normalization of the default network's sequence input layer (MATLAB
    /// Normalization), fitted on the training data: zscore | zerocenter | rescale-symmetric |
    /// rescale-zero-one | none [default: zscore]; with --network, it replaces the one of the
    /// layer array's input layer.
    #[arg(long, value_parser = ["none", "zscore", "zerocenter", "rescale-symmetric", "rescale-zero-one"], conflicts_with = "resume")]
    pub input_normalization: Option<String>,
    /// Dropout of the input of each of the default network's GRU layers, one mask per
    /// sequence, training only (README "Regularizers"; masks seeded by --seed) [default: 0].
    #[arg(long, conflicts_with_all = ["network", "resume"])]
    pub input_dropout: Option<f64>,
    /// Variational dropout of h_{t-1} in the default network's recurrent product, one mask
    /// per sequence, training only [default: 0].
    #[arg(long, conflicts_with_all = ["network", "resume"])]
    pub recurrent_dropout: Option<f64>,
    /// Zoneout of the default network's GRU: each unit keeps its previous state with this
    /// probability at each training step; inference uses the expectation [default: 0].
    #[arg(long, conflicts_with_all = ["network", "resume"])]
    pub zoneout: Option<f64>,
    /// DropConnect on the default network's recurrent weights R, one mask per minibatch,
    /// training only [default: 0].
    #[arg(long, conflicts_with_all = ["network", "resume"])]
    pub weight_drop: Option<f64>,
    /// Layer normalization of the default network's gate pre-activations (learnable gains
    /// and biases, kept at inference).
    #[arg(long, conflicts_with_all = ["network", "resume"])]
    pub layer_norm: bool,
    #[command(flatten)]
    pub opts: super::train_options::OptionFlags,
    /// f32 | f64.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Write a training checkpoint after every epoch here (resume with --resume).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Resume from a training checkpoint (its network and options; flags still override).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// The metrics history as CSV (with --experiment: the loss of each generation).
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// The training curves (.png or .svg; repeat for both).
    #[arg(long)]
    pub plot: Vec<PathBuf>,
    /// Print only the final result.
    #[arg(long)]
    pub quiet: bool,
    /// Data-parallel training on the ranks of an MPI job: `mpirun -n N gru train --distributed
    /// ...` (every rank gets the same flags and reads the same files). Each rank trains on its
    /// shard of every minibatch and the gradients are summed, so N ranks train the model of one
    /// process with the same --batch-size and --seed; rank 0 prints and writes every file.
    /// Needs a gru built with the feature mpi.
    #[arg(long)]
    pub distributed: bool,
    #[command(flatten)]
    pub missing: super::MissingArg,
}

/// The default layer array for a data set; `seed` seeds the regularizers' masks.
pub fn default_network<T: Real>(data: &SequenceDataset<T>, a: &TrainArgs, seed: u64) -> Result<Vec<LayerSpec>> {
    let mode: ResetGateMode = serde_json::from_value(serde_json::Value::String(a.reset_gate_mode.clone()))
        .with_context(|| format!("--reset-gate-mode {}", a.reset_gate_mode))?;
    let engine: EngineKind = serde_json::from_value(serde_json::Value::String(a.engine.clone()))
        .with_context(|| format!("--engine {} (Korali, OneDNN or CuDNN)", a.engine))?;
    let per_step = data.targets.per_step();
    let g = gru_layer(a.hidden)
        .depth(a.depth)
        .bidirectional(a.bidirectional)
        .reset_gate_mode(mode)
        .engine(engine)
        .output_mode(if per_step { OutputMode::Sequence } else { OutputMode::Last })
        .regularization(regularization(a, seed));
    let width = data.target_width();
    let normalization = input_normalization(a)?.unwrap_or(Normalization::Zscore);
    let input = LayerSpec::SequenceInput { input_size: data.channels, normalization };
    Ok(match data.targets {
        Targets::Classes(_) | Targets::ClassSequences(_) => {
            layers![input, g, fully_connected(width), softmax(), classification()]
        }
        _ => layers![input, g, fully_connected(width), regression()],
    })
}

/// The regularizers of the flags (none given: none, and no seed written into the model).
fn regularization(a: &TrainArgs, seed: u64) -> Regularization {
    let r = Regularization {
        input_dropout: a.input_dropout.unwrap_or(0.0),
        recurrent_dropout: a.recurrent_dropout.unwrap_or(0.0),
        zoneout: a.zoneout.unwrap_or(0.0),
        weight_drop: a.weight_drop.unwrap_or(0.0),
        layer_norm: a.layer_norm,
        seed: 0,
    };
    if r == Regularization::default() {
        r
    } else {
        Regularization { seed, ..r }
    }
}

/// `base` with the flags applied (and `--checkpoint`); prints a note for each flag that
/// changes a value `source` gave.
fn options(a: &TrainArgs, base: TrainingOptions, source: Option<&OptionsSource>) -> Result<TrainingOptions> {
    let (mut o, notes) = a.opts.apply(base, source)?;
    for n in notes {
        errln!("note: {n}");
    }
    if a.checkpoint.is_some() {
        o.checkpoint_path = a.checkpoint.clone();
    }
    o.validate()?;
    Ok(o)
}

/// The input normalization of `--input-normalization`, if given.
fn input_normalization(a: &TrainArgs) -> Result<Option<Normalization>> {
    a.input_normalization.as_deref().map(|s| s.parse::<Normalization>().map_err(anyhow::Error::from)).transpose()
}

/// The layer array of `--network` (`path`), its input layer's normalization replaced by
/// `--input-normalization` when given (with a note when that changes it).
fn network_file(a: &TrainArgs, path: &Path) -> Result<Vec<LayerSpec>> {
    let mut specs: Vec<LayerSpec> =
        gru::network::layers_from_json(&read(path)?).with_context(|| format!("parsing {}", path.display()))?;
    if let (Some(n), Some(LayerSpec::SequenceInput { normalization, .. })) =
        (input_normalization(a)?, specs.first_mut())
    {
        if *normalization != n {
            errln!(
                "note: flag --input-normalization {n} overrides normalization {normalization} from {}",
                path.display()
            );
        }
        *normalization = n;
    }
    Ok(specs)
}

/// Runs `gru train`.
pub fn run(a: &TrainArgs) -> Result<()> {
    Files::new()
        .input("--train", a.train.as_deref())
        .input("--validation", a.validation.as_deref())
        .input("--network", a.network.as_deref())
        .input("--options", a.options.as_deref())
        .input("--experiment", a.experiment.as_deref())
        .output("--out", Some(&a.out))
        .output("--history", a.history.as_deref())
        .output("--checkpoint", a.checkpoint.as_deref())
        .outputs("--plot", &a.plot)
        .check()?;
    // Checkpoints may go on over the one resumed from (it is read whole first); nothing else may.
    Files::new()
        .input("--resume", a.resume.as_deref())
        .output("--out", Some(&a.out))
        .output("--history", a.history.as_deref())
        .outputs("--plot", &a.plot)
        .check()?;
    let job = Job::start(a.distributed)?;
    let result = train_job(a, &job);
    job.finish(result)
}

/// `gru train` on this rank of `job`.
fn train_job(a: &TrainArgs, job: &Job) -> Result<()> {
    if let Some(e) = &a.experiment {
        let run = super::korali::ExperimentRun {
            path: e,
            out: &a.out,
            seed: a.opts.seed,
            history: a.history.as_deref(),
            plots: &a.plot,
            quiet: a.quiet,
            job,
        };
        return super::korali::train_experiment(&run);
    }
    match a.dtype.as_str() {
        "f32" => train::<f32>(a, job).map(drop),
        "f64" => train::<f64>(a, job).map(drop),
        other => bail!("--dtype {other}: expected f32 or f64"),
    }
}

/// Trains and saves (rank 0 of `job`); returns the network and the final validation accuracy
/// or RMSE line.
pub fn train<T: Real>(a: &TrainArgs, job: &Job) -> Result<(Network<T>, Option<gru::train::Evaluation>)> {
    let train_path = a.train.as_deref().context("--train is required")?;
    let data = super::load_data::<T>(train_path, &a.missing)?;
    let validation = a.validation.as_deref().map(|v| super::load_data::<T>(v, &a.missing)).transpose()?;
    let (mut net, mut trainer) = match &a.resume {
        Some(path) => {
            let (net, mut trainer) = load_training_checkpoint::<T>(path)?;
            let source = OptionsSource::checkpoint(&path.display().to_string());
            trainer.options = options(a, trainer.options.clone(), Some(&source))?;
            (net, trainer)
        }
        None => {
            let (base, source) = match &a.options {
                Some(p) => {
                    let text = read(p)?;
                    let json: serde_json::Value =
                        serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
                    let source = OptionsSource::options_file(&p.display().to_string(), &json);
                    // from_json: unknown keys and values get a "did you mean".
                    (
                        TrainingOptions::from_json(&text).with_context(|| format!("parsing {}", p.display()))?,
                        Some(source),
                    )
                }
                None => (TrainingOptions::default(), None),
            };
            let o = options(a, base, source.as_ref())?;
            let specs = match &a.network {
                Some(p) => network_file(a, p)?,
                None => default_network(&data, a, o.seed)?,
            };
            let mut net = Network::<T>::new(specs, o.seed).with_context(|| match &a.network {
                Some(p) => format!("the network of {}", p.display()),
                None => format!("the default network (--hidden {}, --depth {})", a.hidden, a.depth),
            })?;
            if matches!(data.targets, Targets::Classes(_) | Targets::ClassSequences(_)) {
                net.set_class_names(data.class_names.clone())?;
            }
            let trainer = Trainer::new(&net, o)?;
            (net, trainer)
        }
    };
    // Classes are matched by name: a validation file (or, when resuming, a training file)
    // may list the same classes in another order.
    let names = net.class_names().to_vec();
    let (data, validation) = if names.is_empty() {
        (data, validation)
    } else {
        let v = validation.map(|v| v.align_classes(&names)).transpose().context("the validation data")?;
        (data.align_classes(&names).context("the training data")?, v)
    };
    // A checkpoint path from --options is checked too, before the first epoch.
    Files::new()
        .input("--train", Some(train_path))
        .input("--validation", a.validation.as_deref())
        .output("--out", Some(&a.out))
        .output("checkpoint_path", trainer.options.checkpoint_path.as_deref())
        .check()?;
    let writes = job.writes();
    for w in trainer.options.warnings(data.len())? {
        if writes {
            errln!("warning: {w}");
        }
    }
    let signals = Signals::install()?;
    let mut reporter = Reporter::new(a.quiet || !writes);
    let (stop, reducer) = (signals.flag(), job.reducer());
    let fitted = trainer.fit_reduced(&mut net, &data, validation.as_ref(), stop, reducer, &mut |p| reporter.report(p));
    reporter.finish();
    let report = match fitted {
        Err(gru::Error::Interrupted { epoch, iteration }) => {
            return Err(stopped(a, &net, &trainer, &signals, epoch, iteration, job));
        }
        // A diverged run (or any other error) saves nothing and exits non-zero.
        other => other?,
    };
    if !writes {
        // Every rank holds the trained network; rank 0 checks, saves and reports it.
        return Ok((net, None));
    }
    // The trained network's loss, before it is saved: a last update that overflowed the loss
    // (finite weights, `inf` loss) is a divergence too, and saves nothing.
    let train_eval = evaluate(&mut net, &data, trainer.options.mini_batch_size)?;
    if !train_eval.loss.is_finite() {
        return Err(gru::Error::Diverged {
            epoch: report.epochs,
            iteration: report.iterations,
            quantity: "the loss on the training data".into(),
            location: "the network after its last update".into(),
            value: train_eval.loss,
            hint: "lower the learn rate (--learn-rate) or set a gradient threshold (--gradient-threshold); \
                   no model was saved"
                .into(),
        }
        .into());
    }
    net.save(&a.out).with_context(|| format!("saving {}", a.out.display()))?;
    if let Some(h) = &a.history {
        write_atomic(h, report.history.to_csv().as_bytes())?;
    }
    for p in &a.plot {
        crate::plot::plot_history(&report.history, &crate::plot::run_title("gru train", train_path, &net), p)?;
    }
    let eval = match &validation {
        Some(v) => Some(evaluate(&mut net, v, trainer.options.mini_batch_size)?),
        None => None,
    };
    outln!(
        "trained {} epochs, {} iterations{}; model saved to {}",
        report.epochs,
        report.iterations,
        if report.stopped_early { " (stopped early)" } else { "" },
        a.out.display()
    );
    outln!("training:   {}", metrics(train_eval.loss, train_eval.accuracy, train_eval.rmse, None));
    if let Some(e) = &eval {
        // A regression model is worth its RMSE against the baseline of the training mean.
        let baseline = validation.as_ref().and_then(|v| gru::train::mean_predictor_rmse(&data, v));
        let baseline = baseline.map_or(String::new(), |b| format!("  (predicting the training mean: rmse {b:.4})"));
        outln!("validation: {}{baseline}", metrics(e.loss, e.accuracy, e.rmse, None));
    }
    Ok((net, eval))
}

/// A run stopped by a signal at a safe point: writes the checkpoint (when one was asked for)
/// and the history, never the model (`--out` would pass for a finished one), says so and
/// returns the error that makes `main` exit with 128 + the signal.
fn stopped<T: Real>(
    a: &TrainArgs,
    net: &Network<T>,
    trainer: &Trainer<T>,
    signals: &Signals,
    epoch: usize,
    iteration: usize,
    job: &Job,
) -> anyhow::Error {
    // A signal on any rank stops every rank at the same minibatch (one that got none itself
    // stops as if signalled); rank 0 writes.
    let distributed = job.reducer().size() > 1;
    let Some(signal) = signals.received().or(distributed.then_some(crate::signals::Interrupted { signal: 0 })) else {
        return anyhow::anyhow!("training stopped in epoch {epoch} after iteration {iteration}");
    };
    if !job.writes() {
        return anyhow::Error::new(signal);
    }
    let mut saved = Vec::new();
    if let Some(path) = &trainer.options.checkpoint_path {
        if let Err(e) = save_training_checkpoint(path, net, trainer) {
            return anyhow::Error::new(e).context(format!("{signal}: saving the checkpoint {}", path.display()));
        }
        saved.push(format!("checkpoint saved to {} (continue with --resume {0})", path.display()));
    }
    if let Some(h) = &a.history {
        if let Err(e) = write_atomic(h, trainer.state.history.to_csv().as_bytes()) {
            return e.context(format!("{signal}: saving the history"));
        }
        saved.push(format!("history saved to {}", h.display()));
    }
    saved.push(format!("no model written to {}", a.out.display()));
    outln!("stopped by {} in epoch {epoch} after iteration {iteration}: {}", signal.name(), saved.join("; "));
    anyhow::Error::new(signal)
}

pub fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
}

/// Writes `bytes` to `path` through the library's atomic write (a temporary file renamed
/// over `path`, removed on every error: no stray `.NAME.tmp-*` files, the error names `path`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(gru::io::write_atomically(path, bytes)?)
}
