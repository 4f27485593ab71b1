//! Evaluation and prediction of a network on a data set (no dropout, whole sequences).

use gru_core::Real;

use super::batching::{chunk_minibatch, minibatches, PaddingDirection, SequenceLength};
use crate::data::{SequenceDataset, Targets};
use crate::error::{Error, Result};
use crate::network::{Head, LossTargets, Network};

/// Loss and metric of a network on a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss over all observations.
    pub loss: f64,
    /// Fraction of correct predictions (classification).
    pub accuracy: Option<f64>,
    /// Root mean squared error over all responses (regression).
    pub rmse: Option<f64>,
    /// Observations (sequences, or steps for sequence-to-sequence).
    pub count: usize,
}

/// The targets of one batch (`idx` into the data set), one per batch row.
pub(crate) fn batch_targets<'a>(
    targets: &'a Targets,
    idx: &[usize],
    offsets: &[usize],
    lengths: &[usize],
    ends: &[bool],
    width: usize,
) -> LossTargets<'a> {
    match targets {
        Targets::Classes(c) => LossTargets::Classes(idx.iter().zip(ends).map(|(&i, &e)| e.then_some(c[i])).collect()),
        Targets::ClassSequences(c) => LossTargets::ClassSteps(
            idx.iter().enumerate().map(|(m, &i)| &c[i][offsets[m]..offsets[m] + lengths[m]]).collect(),
        ),
        Targets::Responses(r) => {
            LossTargets::Responses(idx.iter().zip(ends).map(|(&i, &e)| e.then_some(&r[i][..])).collect())
        }
        Targets::ResponseSequences(r) => LossTargets::ResponseSteps(
            idx.iter()
                .enumerate()
                .map(|(m, &i)| &r[i][offsets[m] * width..(offsets[m] + lengths[m]) * width])
                .collect(),
        ),
    }
}

/// Evaluates `network` on `data` in minibatches of `mini_batch_size`. A missing value (NaN)
/// in `data` is an [`Error::Data`] naming it (fill them first: [`crate::data::Missing`]).
pub fn evaluate<T: Real>(
    network: &mut Network<T>,
    data: &SequenceDataset<T>,
    mini_batch_size: usize,
) -> Result<Evaluation> {
    check_channels(network, data.channels)?;
    data.check_complete()?;
    let order: Vec<usize> = (0..data.len()).collect();
    let width = network.output_width();
    let (mut loss, mut count, mut correct, mut sq, mut elements) = (0.0, 0usize, 0usize, 0.0, 0usize);
    for mb in minibatches(&order, mini_batch_size, false)? {
        let seqs: Vec<&[T]> = mb.iter().map(|&i| &data.sequences[i][..]).collect();
        for chunk in chunk_minibatch(&seqs, data.channels, SequenceLength::Longest, PaddingDirection::Right)? {
            let idx: Vec<usize> = chunk.members.iter().map(|&m| mb[m]).collect();
            let targets = batch_targets(&data.targets, &idx, &chunk.offsets, &chunk.lengths, &chunk.ends, width);
            let pass = network.forward(&chunk.x, chunk.steps, &chunk.lengths, None, None)?;
            let (stats, _) = crate::network::loss_and_grad(network, &pass, &targets)?;
            loss += stats.loss * stats.count as f64;
            count += stats.count;
            correct += stats.correct;
            sq += stats.squared_error;
            elements += stats.elements;
        }
    }
    let classification = matches!(network.head(), Head::Classification { .. });
    Ok(Evaluation {
        loss: loss / count.max(1) as f64,
        accuracy: classification.then(|| correct as f64 / count.max(1) as f64),
        rmse: (!classification).then(|| (sq / elements.max(1) as f64).sqrt()),
        count,
    })
}

/// The network's outputs for each sequence: class probabilities `[K]` or responses `[R]`
/// (sequence-to-one), or `[len, K]` / `[len, R]` (sequence-to-sequence). A missing value
/// (NaN) is an [`Error::Data`] naming its sequence, step and channel.
pub fn predict<T: Real>(
    network: &mut Network<T>,
    sequences: &[Vec<T>],
    channels: usize,
    mini_batch_size: usize,
) -> Result<Vec<Vec<T>>> {
    check_channels(network, channels)?;
    crate::data::missing::check_complete(sequences, channels)?;
    let order: Vec<usize> = (0..sequences.len()).collect();
    let width = network.output_width();
    let mut out = vec![Vec::new(); sequences.len()];
    for mb in minibatches(&order, mini_batch_size, false)? {
        let seqs: Vec<&[T]> = mb.iter().map(|&i| &sequences[i][..]).collect();
        for chunk in chunk_minibatch(&seqs, channels, SequenceLength::Longest, PaddingDirection::Right)? {
            let pass = network.forward(&chunk.x, chunk.steps, &chunk.lengths, None, None)?;
            let batch = chunk.members.len();
            for (m, &member) in chunk.members.iter().enumerate() {
                let i = mb[member];
                out[i] = if network.sequence_output() {
                    (0..chunk.lengths[m])
                        .flat_map(|t| pass.output[(t * batch + m) * width..(t * batch + m + 1) * width].to_vec())
                        .collect()
                } else {
                    pass.output[m * width..(m + 1) * width].to_vec()
                };
            }
        }
    }
    Ok(out)
}

/// The most probable class of each prediction row of `width` (argmax).
pub fn argmax_rows<T: Real>(p: &[T], width: usize) -> Vec<usize> {
    p.chunks_exact(width).map(|row| (0..width).fold(0, |best, k| if row[k] > row[best] { k } else { best })).collect()
}

/// The network's output for a padded batch `x` (`[T, B, C]`) whose sequences are laid out
/// with `direction` (Left: each sequence's valid steps are its last `lengths[b]` steps).
/// Sequence outputs come back in the same layout (`[T, B, K]`, zero at padding); per
/// sequence outputs are `[B, K]`. Masking is exact, so both directions give the same values.
pub fn predict_padded<T: Real>(
    network: &mut Network<T>,
    x: &[T],
    steps: usize,
    lengths: &[usize],
    direction: super::batching::PaddingDirection,
) -> Result<Vec<T>> {
    let (batch, c) = (lengths.len(), network.input_size());
    let valid_first = super::batching::to_valid_first(x, steps, batch, c, lengths, direction)?;
    let pass = network.forward(&valid_first, steps, lengths, None, None)?;
    if network.sequence_output() {
        super::batching::from_valid_first(&pass.output, steps, batch, network.output_width(), lengths, direction)
    } else {
        Ok(pass.output)
    }
}

/// The data must have the channels the model reads: said in those words, not as a shape
/// mismatch of the engine's input buffer.
fn check_channels<T: Real>(network: &Network<T>, channels: usize) -> Result<()> {
    if channels == network.input_size() {
        return Ok(());
    }
    Err(Error::data(
        "channels",
        channels,
        format!("the model reads {} channels per step, the data have {channels}", network.input_size()),
    ))
}

/// The RMSE on `data` of the mean predictor: every response predicted as its mean over the
/// responses of `train` (all sequences, or all steps), the baseline a regression model must
/// beat. `None` for classification data or when `train` has no response.
///
/// `rmse = sqrt(Σ (y − ȳ_train)² / (responses of data))`, the RMSE of [`Evaluation::rmse`].
pub fn mean_predictor_rmse<T: Real>(train: &SequenceDataset<T>, data: &SequenceDataset<T>) -> Option<f64> {
    let rows = |t: &Targets| match t {
        Targets::Responses(v) | Targets::ResponseSequences(v) => {
            Some(v.iter().flatten().copied().collect::<Vec<f64>>())
        }
        _ => None,
    };
    let width = train.target_width();
    let (fit, test) = (rows(&train.targets)?, rows(&data.targets)?);
    if width == 0 || fit.is_empty() || data.target_width() != width {
        return None;
    }
    let mut mean = vec![0.0; width];
    for row in fit.chunks_exact(width) {
        mean.iter_mut().zip(row).for_each(|(m, y)| *m += y);
    }
    let n = (fit.len() / width) as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    Some(constant_predictor_rmse(&test, &mean))
}

/// The RMSE of predicting `constant[r]` for response `r` of every row of `truth` (rows of
/// `constant.len()` responses): `sqrt(Σ (y − c)² / truth.len())`.
pub fn constant_predictor_rmse(truth: &[f64], constant: &[f64]) -> f64 {
    let squared: f64 = truth
        .chunks(constant.len().max(1))
        .flat_map(|row| row.iter().zip(constant).map(|(y, c)| (y - c).powi(2)))
        .sum();
    (squared / truth.len().max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_predictor_uses_the_training_mean_of_each_response() {
        let train = SequenceDataset::<f64>::new(
            vec![vec![0.0], vec![0.0]],
            1,
            Targets::Responses(vec![vec![1.0, 10.0], vec![3.0, 30.0]]),
        )
        .unwrap();
        let test = SequenceDataset::<f64>::new(vec![vec![0.0]], 1, Targets::Responses(vec![vec![4.0, 20.0]])).unwrap();
        // Means (2, 20): errors 2 and 0 over 2 responses.
        assert_eq!(mean_predictor_rmse(&train, &test), Some((4.0f64 / 2.0).sqrt()));
        let classes = SequenceDataset::<f64>::new(vec![vec![0.0]], 1, Targets::Classes(vec![0])).unwrap();
        assert_eq!(mean_predictor_rmse(&classes, &classes), None);
    }
}
