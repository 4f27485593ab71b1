//! Training progress on the terminal: an indicatif bar when stdout is a terminal, one log
//! line per epoch and validation otherwise (log-friendly), nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::Instant;

use gru::train::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// How progress is shown.
pub enum Reporter {
    Bar(ProgressBar),
    Log { started: Instant, last: Option<String> },
    Quiet,
}

impl Reporter {
    /// A bar on a terminal, log lines otherwise, nothing when quiet.
    pub fn new(quiet: bool) -> Self {
        if quiet {
            Reporter::Quiet
        } else if std::io::stdout().is_terminal() {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} epoch {prefix} [{bar:30}] {pos}/{len} it  {msg}  ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            Reporter::Bar(bar)
        } else {
            Reporter::Log { started: Instant::now(), last: None }
        }
    }

    /// Handles one event of the trainer.
    pub fn report(&mut self, p: &Progress<'_>) {
        match (self, p) {
            (Reporter::Bar(bar), Progress::Iteration { record, of }) => {
                bar.set_length(*of as u64);
                bar.set_position(record.iteration as u64);
                bar.set_prefix(record.epoch.to_string());
                bar.set_message(metrics(record.loss, record.accuracy, record.rmse, Some(record.learn_rate)));
            }
            (Reporter::Bar(bar), Progress::Validation(v)) => {
                bar.println(format!(
                    "iteration {:>6}  validation {}",
                    v.iteration,
                    metrics(v.loss, v.accuracy, v.rmse, None)
                ));
            }
            (Reporter::Bar(bar), Progress::Epoch { epoch, of, .. }) if epoch == of => bar.finish_and_clear(),
            (Reporter::Log { last, .. }, Progress::Iteration { record, .. }) => {
                *last = Some(format!(
                    "epoch {:>4}  iteration {:>6}  {}",
                    record.epoch,
                    record.iteration,
                    metrics(record.loss, record.accuracy, record.rmse, Some(record.learn_rate))
                ));
            }
            (Reporter::Log { started, .. }, Progress::Validation(v)) => {
                println!(
                    "[{:>7.1}s] iteration {:>6}  validation {}",
                    started.elapsed().as_secs_f64(),
                    v.iteration,
                    metrics(v.loss, v.accuracy, v.rmse, None)
                );
            }
            (Reporter::Log { started, last }, Progress::Epoch { epoch, of, checkpoint }) => {
                if let Some(line) = last.take() {
                    println!("[{:>7.1}s] {line}", started.elapsed().as_secs_f64());
                }
                if let Some(path) = checkpoint {
                    println!("checkpoint after epoch {epoch}/{of}: {}", path.display());
                }
            }
            _ => {}
        }
    }

    /// Ends the bar, if any.
    pub fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// `loss 0.1234  accuracy 95.0%  lr 0.001` or with `rmse`.
pub fn metrics(loss: f64, accuracy: Option<f64>, rmse: Option<f64>, lr: Option<f64>) -> String {
    let mut s = format!("loss {loss:.4}");
    if let Some(a) = accuracy {
        s += &format!("  accuracy {:.1}%", 100.0 * a);
    }
    if let Some(r) = rmse {
        s += &format!("  rmse {r:.4}");
    }
    if let Some(lr) = lr {
        s += &format!("  lr {lr:.3e}");
    }
    s
}
