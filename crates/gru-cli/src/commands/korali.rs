//! `gru train --experiment E.json`: a Korali supervised-learning experiment, run as
//! Korali's DeepSupervisor runs it, printing the loss of every generation as Korali does;
//! `gru predict --korali-input`: Korali-style prediction.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use gru::korali::{GenerationReport, KoraliExperiment};
use gru::train::{History, IterationRecord};

use crate::distributed::Job;
use crate::signals::Signals;

/// A `gru train --experiment` run: the experiment, where the model goes, and the flags that
/// apply to it.
pub struct ExperimentRun<'a> {
    pub path: &'a Path,
    pub out: &'a Path,
    /// `--seed`: overrides the experiment's "Random Seed" (initial weights, minibatch order).
    pub seed: Option<u64>,
    /// `--history`: the loss of each generation as CSV.
    pub history: Option<&'a Path>,
    /// `--plot`: the per-generation loss as PNG or SVG.
    pub plots: &'a [PathBuf],
    /// `--quiet`: only the final line.
    pub quiet: bool,
    /// The ranks training it (`--distributed`): rank 0 prints and writes.
    pub job: &'a Job,
}

/// Trains the experiment of `run`, saves the model, writes the history and plots asked for.
pub fn train_experiment(run: &ExperimentRun<'_>) -> Result<()> {
    let path = run.path;
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (mut exp, warnings) = KoraliExperiment::parse(&text).with_context(|| format!("reading {}", path.display()))?;
    for w in &warnings {
        errln!("warning: {}: {}", w.path, w.message);
    }
    if let Some(seed) = run.seed {
        let given = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v.get("Random Seed").cloned());
        match given {
            Some(v) if v.as_u64() == Some(seed) => {}
            Some(v) => errln!("note: flag --seed {seed} overrides \"Random Seed\" {v} from {}", path.display()),
            None => errln!(
                "note: flag --seed {seed} overrides \"Random Seed\" (not given: its default 0) from {}",
                path.display()
            ),
        }
        exp.random_seed = seed;
    }
    let s = &exp.solver;
    let writes = run.job.writes();
    let quiet = run.quiet || !writes;
    if !quiet {
        outln!(
            "[gru] Korali experiment: {} sequences, GRU network, {} optimizer, learning rate {}, {} steps per generation, {} generations, random seed {}",
            exp.problem.input.len(),
            s.optimizer.name(),
            s.learning_rate,
            s.steps_per_generation,
            s.max_generations,
            exp.random_seed
        );
    }
    let total = exp.total_steps();
    if !quiet {
        let p = &exp.problem;
        outln!(
            "[gru] {total} optimizer steps of {} sequences (up to {} steps each): {} sequence steps",
            p.training_batch_size.min(p.input.len()),
            p.input.iter().map(Vec::len).max().unwrap_or(0),
            exp.total_sequence_steps()
        );
    }
    let signals = Signals::install()?;
    let started = Instant::now();
    let mut seen = Vec::new();
    let trained = exp.train_reduced::<f32>(signals.flag(), run.job.reducer(), &mut |r| {
        seen.push(r.clone());
        if !quiet {
            outln!("[gru] Generation {} ({} steps, {:.1} s)", r.generation, r.steps, r.elapsed.as_secs_f64());
            outln!("[gru]  + Training Loss: {:.15}", r.loss);
            if r.generation == 1 && s.max_generations > 1 {
                let expected = r.elapsed.as_secs_f64() * total as f64 / r.steps.max(1) as f64;
                outln!("[gru] expected time for {} generations: {}", s.max_generations, duration(expected));
            }
        }
    });
    let (net, reports) = match (trained, signals.received()) {
        (Err(gru::Error::Interrupted { epoch, iteration }), Some(signal)) if writes => {
            let mut saved = Vec::new();
            if let Some(h) = run.history {
                super::train::write_atomic(h, generations_csv(&seen, s.learning_rate).as_bytes())?;
                saved.push(format!("history saved to {}", h.display()));
            }
            saved.push(format!("no model written to {} (a Korali experiment has no checkpoint)", run.out.display()));
            outln!("stopped by {} in generation {epoch} after step {iteration}: {}", signal.name(), saved.join("; "));
            return Err(signal.into());
        }
        (trained, _) => trained?,
    };
    if !writes {
        return Ok(());
    }
    net.save(run.out).with_context(|| format!("saving {}", run.out.display()))?;
    if let Some(h) = run.history {
        super::train::write_atomic(h, generations_csv(&reports, s.learning_rate).as_bytes())?;
    }
    let history = generations_history(&reports, s.learning_rate);
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    for p in run.plots {
        crate::plot::plot_history(&history, &format!("gru train --experiment {name} (loss per generation)"), p)?;
    }
    let last = reports.last().map_or(f64::NAN, |r| r.loss);
    outln!(
        "trained {} generations in {:.1} s; final training loss {last:.6}; model saved to {}",
        reports.len(),
        started.elapsed().as_secs_f64(),
        run.out.display()
    );
    Ok(())
}

/// `s` seconds for people: `12.3 s`, `4.5 min`, `2.0 h`, `3.1 days`.
fn duration(s: f64) -> String {
    match s {
        s if s < 120.0 => format!("{s:.1} s"),
        s if s < 7200.0 => format!("{:.1} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} days", s / 86_400.0),
    }
}

/// The loss of each generation as CSV: `generation,steps,loss,learning_rate,seconds`
/// (`steps`: optimizer steps so far; `loss`: the one Korali prints for the generation).
pub fn generations_csv(reports: &[GenerationReport], learning_rate: f64) -> String {
    let mut out = String::from("generation,steps,loss,learning_rate,seconds\n");
    for r in reports {
        out += &format!("{},{},{},{},{}\n", r.generation, r.steps, r.loss, learning_rate, r.elapsed.as_secs_f64());
    }
    out
}

/// The generations as a training history for the plot: one point per generation at its
/// step count, the generations as the "epochs".
fn generations_history(reports: &[GenerationReport], learning_rate: f64) -> History {
    let iterations = reports
        .iter()
        .map(|r| IterationRecord {
            epoch: r.generation,
            iteration: r.steps,
            loss: r.loss,
            accuracy: None,
            rmse: None,
            learn_rate: learning_rate,
        })
        .collect();
    History { iterations, validations: Vec::new() }
}

/// `gru predict --korali-input`: Korali's inputs (a JSON list of sequences, each a list of
/// steps of values; or Korali's data set `{"Input": {"Data": ...}, "Solution": ...}`, or an
/// experiment, whose "Problem" holds them) in, a JSON list of output vectors out.
pub fn predict_korali(model: &Path, input: &Path, batch_size: usize) -> Result<serde_json::Value> {
    let mut net = gru::Network::<f32>::load(model).with_context(|| format!("loading {}", model.display()))?;
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let (sequences, channels) = gru::data::parse_korali_inputs::<f32>(&bytes, input)?;
    let out = gru::train::predict(&mut net, &sequences, channels, batch_size.max(1))?;
    let out: Vec<Vec<f64>> = out.into_iter().map(|o| o.iter().map(|&v| f64::from(v)).collect()).collect();
    Ok(serde_json::to_value(out)?)
}
