//! `gru train --experiment E.json`: a Korali supervised-learning experiment, run as
//! Korali's DeepSupervisor runs it, printing the loss of every generation as Korali does.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use gru::korali::{predict_sequences, KoraliExperiment};

use crate::signals::Signals;

/// Trains the experiment at `path`, saves the model to `out`; with `quiet`, prints only
/// the final line.
pub fn train_experiment(path: &Path, out: &Path, quiet: bool) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (exp, warnings) = KoraliExperiment::parse(&text).with_context(|| format!("reading {}", path.display()))?;
    for w in &warnings {
        eprintln!("warning: {}: {}", w.path, w.message);
    }
    let s = &exp.solver;
    if !quiet {
        println!(
            "[gru] Korali experiment: {} sequences, GRU network, {} optimizer, learning rate {}, {} steps per generation, {} generations",
            exp.problem.input.len(),
            s.optimizer.name(),
            s.learning_rate,
            s.steps_per_generation,
            s.max_generations
        );
    }
    let total = exp.total_steps();
    if !quiet {
        let p = &exp.problem;
        println!(
            "[gru] {total} optimizer steps of {} sequences (up to {} steps each): {} sequence steps",
            p.training_batch_size.min(p.input.len()),
            p.input.iter().map(Vec::len).max().unwrap_or(0),
            exp.total_sequence_steps()
        );
    }
    let signals = Signals::install()?;
    let started = Instant::now();
    let trained = exp.train_until::<f32>(signals.flag(), &mut |r| {
        if !quiet {
            println!("[gru] Generation {} ({} steps, {:.1} s)", r.generation, r.steps, r.elapsed.as_secs_f64());
            println!("[gru]  + Training Loss: {:.15}", r.loss);
            if r.generation == 1 && s.max_generations > 1 {
                let expected = r.elapsed.as_secs_f64() * total as f64 / r.steps.max(1) as f64;
                println!("[gru] expected time for {} generations: {}", s.max_generations, duration(expected));
            }
        }
    });
    let (net, reports) = match (trained, signals.received()) {
        (Err(gru::Error::Interrupted { epoch, iteration }), Some(signal)) => {
            println!(
                "stopped by {} in generation {epoch} after step {iteration}: nothing saved (a Korali experiment \
                 has no checkpoint); no model written to {}",
                signal.name(),
                out.display()
            );
            return Err(signal.into());
        }
        (trained, _) => trained?,
    };
    net.save(out).with_context(|| format!("saving {}", out.display()))?;
    let last = reports.last().map_or(f64::NAN, |r| r.loss);
    println!(
        "trained {} generations in {:.1} s; final training loss {last:.6}; model saved to {}",
        reports.len(),
        started.elapsed().as_secs_f64(),
        out.display()
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

/// `gru predict --korali-input`: a JSON list of sequences (steps × values) in, a JSON list
/// of output vectors out.
pub fn predict_korali(model: &Path, input: &Path, batch_size: usize) -> Result<serde_json::Value> {
    let mut net = gru::Network::<f32>::load(model).with_context(|| format!("loading {}", model.display()))?;
    let text = std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let data: Vec<Vec<Vec<f64>>> = serde_json::from_str(&text).with_context(|| {
        format!("{}: expected a list of sequences, each a list of steps of values", input.display())
    })?;
    let out = predict_sequences(&mut net, &data, batch_size)?;
    Ok(serde_json::to_value(out)?)
}
