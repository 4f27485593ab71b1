//! Training progress on the terminal: an indicatif bar when stdout is a terminal, one log
//! line per epoch and validation otherwise (log-friendly), nothing with `--quiet`.
//!
//! The metrics shown for an epoch are the running means over its iterations so far (loss,
//! accuracy; the RMSE as the root of the mean of the squared RMSEs), named as such: the
//! last minibatch alone is one batch's noise (4 of 27 right reads as 14.8 %).

use std::io::IsTerminal;
use std::time::Instant;

use gru::train::{IterationRecord, Progress};
use indicatif::{ProgressBar, ProgressStyle};

/// The running means of the iterations of one epoch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpochMeans {
    pub epoch: usize,
    /// The last iteration seen.
    pub iteration: usize,
    /// Iterations of this epoch so far.
    pub count: usize,
    loss: f64,
    accuracy: Option<f64>,
    squared_rmse: Option<f64>,
    pub learn_rate: f64,
}

impl EpochMeans {
    /// Adds one iteration (starting over when it belongs to a new epoch).
    pub fn add(&mut self, r: &IterationRecord) {
        if r.epoch != self.epoch || self.count == 0 {
            *self = EpochMeans { epoch: r.epoch, ..EpochMeans::default() };
        }
        let add = |sum: Option<f64>, v: Option<f64>| v.map(|v| sum.unwrap_or(0.0) + v);
        self.count += 1;
        self.iteration = r.iteration;
        self.loss += r.loss;
        self.accuracy = add(self.accuracy, r.accuracy);
        self.squared_rmse = add(self.squared_rmse, r.rmse.map(|v| v * v));
        self.learn_rate = r.learn_rate;
    }

    /// `mean of 3 iterations: loss 0.1234  accuracy 95.0%  lr 1.000e-3`.
    pub fn text(&self) -> String {
        let n = self.count.max(1) as f64;
        let rmse = self.squared_rmse.map(|s| (s / n).sqrt());
        let what = if self.count == 1 { "1 iteration".to_string() } else { format!("{} iterations", self.count) };
        format!("mean of {what}: {}", metrics(self.loss / n, self.accuracy.map(|a| a / n), rmse, Some(self.learn_rate)))
    }
}

/// How progress is shown.
pub enum Reporter {
    Bar(ProgressBar, EpochMeans),
    Log { started: Instant, means: EpochMeans },
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
            Reporter::Bar(bar, EpochMeans::default())
        } else {
            Reporter::Log { started: Instant::now(), means: EpochMeans::default() }
        }
    }

    /// Handles one event of the trainer.
    pub fn report(&mut self, p: &Progress<'_>) {
        match (self, p) {
            (Reporter::Bar(bar, means), Progress::Iteration { record, of }) => {
                means.add(record);
                bar.set_length(*of as u64);
                bar.set_position(record.iteration as u64);
                bar.set_prefix(record.epoch.to_string());
                bar.set_message(means.text());
            }
            (Reporter::Bar(bar, _), Progress::Validation(v)) => {
                bar.println(format!(
                    "iteration {:>6}  validation {}",
                    v.iteration,
                    metrics(v.loss, v.accuracy, v.rmse, None)
                ));
            }
            (Reporter::Bar(bar, _), Progress::Epoch { epoch, of, .. }) if epoch == of => bar.finish_and_clear(),
            (Reporter::Log { means, .. }, Progress::Iteration { record, .. }) => means.add(record),
            (Reporter::Log { started, .. }, Progress::Validation(v)) => {
                outln!(
                    "[{:>7.1}s] iteration {:>6}  validation {}",
                    started.elapsed().as_secs_f64(),
                    v.iteration,
                    metrics(v.loss, v.accuracy, v.rmse, None)
                );
            }
            (Reporter::Log { started, means }, Progress::Epoch { epoch, of, checkpoint }) => {
                if means.count > 0 {
                    outln!(
                        "[{:>7.1}s] epoch {:>4}  iteration {:>6}  {}",
                        started.elapsed().as_secs_f64(),
                        means.epoch,
                        means.iteration,
                        means.text()
                    );
                    means.count = 0;
                }
                if let Some(path) = checkpoint {
                    outln!("checkpoint after epoch {epoch}/{of}: {}", path.display());
                }
            }
            _ => {}
        }
    }

    /// Ends the bar, if any.
    pub fn finish(&self) {
        if let Reporter::Bar(bar, _) = self {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, iteration: usize, loss: f64, accuracy: Option<f64>, rmse: Option<f64>) -> IterationRecord {
        IterationRecord { epoch, iteration, loss, accuracy, rmse, learn_rate: 0.001 }
    }

    #[test]
    fn epoch_means_are_the_running_means_of_the_epoch() {
        let mut m = EpochMeans::default();
        m.add(&record(1, 1, 1.0, Some(0.5), None));
        m.add(&record(1, 2, 0.5, Some(1.0), None));
        m.add(&record(1, 3, 0.0, Some(4.0 / 27.0), None));
        assert_eq!((m.epoch, m.iteration, m.count), (1, 3, 3));
        let mean_accuracy = 100.0 * (0.5 + 1.0 + 4.0 / 27.0) / 3.0;
        assert_eq!(m.text(), format!("mean of 3 iterations: loss 0.5000  accuracy {mean_accuracy:.1}%  lr 1.000e-3"));
        // A new epoch starts over; RMSE: the root of the mean squared RMSE.
        m.add(&record(2, 4, 2.0, None, Some(3.0)));
        m.add(&record(2, 5, 2.0, None, Some(4.0)));
        assert_eq!(m.text(), format!("mean of 2 iterations: loss 2.0000  rmse {:.4}  lr 1.000e-3", 12.5f64.sqrt()));
    }
}
