//! Empty sequences and NaN padding through whole networks (`gru_core::lengths`): a
//! sequence of length 0 leaves every GRU in its initial state, so a sequence-to-one network
//! predicts from that state (output mode `last` reads the top layer's h0) and a
//! sequence-to-sequence loss gets nothing from it; the padding past a length is never read,
//! also by a fully connected layer before the GRU (NaN there gives the results of zero
//! padding, bit for bit); training, evaluation and prediction take data sets with empty
//! sequences.

use gru::layers;
use gru::network::{
    classification, fully_connected, gru, regression, sequence_input, sequence_input_zscore, softmax, LayerSpec,
    LossTargets, Network,
};
use gru::train::{evaluate, predict};
use gru::{OutputMode, SequenceDataset, Targets, Trainer, TrainingOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn values(n: usize, seed: u64) -> Vec<f64> {
    (0..n).map(|i| ((i as f64 + 1.0) * 0.618 + seed as f64 * 1.7).sin()).collect()
}

/// `[T, B, C]` with the steps past each length set to `pad`.
fn padded(x: &[f64], batch: usize, channels: usize, lengths: &[usize], pad: f64) -> Vec<f64> {
    let mut out = x.to_vec();
    for (row, step) in out.chunks_exact_mut(channels).enumerate() {
        if row / batch >= lengths[row % batch] {
            step.fill(pad);
        }
    }
    out
}

/// A network with its parameters moved away from their initial values (nonzero biases and
/// learnable initial states).
fn network(specs: Vec<LayerSpec>) -> Network<f64> {
    let mut net = Network::<f64>::new(specs, 5).unwrap();
    let p: Vec<f64> =
        net.params_flat().iter().zip(values(net.params_flat().len(), 1)).map(|(p, v)| p + 0.3 * v).collect();
    net.set_params_flat(&p).unwrap();
    net
}

/// (output, loss, gradients) of one training pass.
fn pass(
    net: &mut Network<f64>,
    x: &[f64],
    steps: usize,
    lengths: &[usize],
    targets: &LossTargets<'_>,
) -> (Vec<f64>, f64, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let pass = net.forward(x, steps, lengths, None, Some(&mut rng)).unwrap();
    let output = pass.output.clone();
    let (stats, d) = gru::network::loss_and_grad(net, &pass, targets).unwrap();
    let g = net.backward(pass, &d).unwrap();
    (output, stats.loss, g)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Sequence-to-one, a fully connected layer before a bidirectional GRU with a learnable
/// initial state: the empty sequence's prediction is the network's from that state, its
/// loss reaches the initial state's gradient (checked by finite differences), and NaN
/// padding changes no bit of the output, the loss or the gradients.
#[test]
fn sequence_to_one_predicts_an_empty_sequence_from_the_initial_state() {
    let specs = layers![
        sequence_input_zscore(3),
        fully_connected(4),
        gru(3).bidirectional(true).learnable_initial_state(true).output_mode(OutputMode::Last),
        fully_connected(3),
        softmax(),
        classification(),
    ];
    let mut net = network(specs);
    let data =
        SequenceDataset::new(vec![values(12, 3), vec![], values(6, 4)], 3, Targets::Classes(vec![0, 1, 2])).unwrap();
    net.fit_normalization(&data).unwrap();
    let (steps, lengths) = (4, [4usize, 0, 2]);
    let x = values(steps * 3 * 3, 2);
    let targets = LossTargets::Classes(vec![Some(0), Some(2), Some(1)]);
    let (out, loss, grads) = pass(&mut net, &padded(&x, 3, 3, &lengths, 0.0), steps, &lengths, &targets);
    assert!(out.iter().chain(&grads).all(|v| v.is_finite()) && loss.is_finite());

    // NaN and infinities in the padding: bit for bit the zero-padded results.
    for pad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let (o, l, g) = pass(&mut net, &padded(&x, 3, 3, &lengths, pad), steps, &lengths, &targets);
        assert_eq!((bits(&o), l.to_bits(), bits(&g)), (bits(&out), loss.to_bits(), bits(&grads)), "padding {pad}");
    }

    // The empty sequence's prediction does not depend on its batch: alone, it is the same
    // (up to the rounding of the fully connected layers' products, which depends on the rows).
    let (alone, _, _) = pass(&mut net, &[f64::NAN; 3], 1, &[0], &LossTargets::Classes(vec![Some(2)]));
    for (a, b) in alone.iter().zip(&out[3..6]) {
        assert!((a - b).abs() <= 1e-14, "{alone:?} vs {:?}", &out[3..6]);
    }

    // Finite differences of the loss (the empty sequence's included) at every parameter,
    // the learnable initial state among them.
    let p0 = net.params_flat();
    let eps = 1e-6;
    for i in 0..p0.len() {
        let mut eval = |d: f64| {
            let mut p = p0.clone();
            p[i] += d;
            net.set_params_flat(&p).unwrap();
            pass(&mut net, &padded(&x, 3, 3, &lengths, f64::NAN), steps, &lengths, &targets).1
        };
        let fd = (eval(eps) - eval(-eps)) / (2.0 * eps);
        assert!((fd - grads[i]).abs() <= 1e-6 * (1.0 + fd.abs()), "param {i}: {} vs {fd}", grads[i]);
    }
    // The empty sequence alone has a nonzero gradient only through the initial states and
    // the layers after the GRU (nothing reaches the first fully connected layer or W, R, b).
    net.set_params_flat(&p0).unwrap();
    let (_, _, g) = pass(&mut net, &[f64::NAN; 3], 1, &[0], &LossTargets::Classes(vec![Some(2)]));
    let fc_in = 4 * 3 + 4;
    assert!(g[..fc_in].iter().all(|&v| v == 0.0), "first fully connected layer");
    assert!(g.iter().any(|&v| v != 0.0));
}

/// Sequence-to-sequence: an empty sequence adds no observation, so the loss and every
/// gradient are those of the batch without it.
#[test]
fn an_empty_sequence_adds_nothing_to_a_sequence_loss() {
    let specs = layers![sequence_input(2), gru(3).depth(2), fully_connected(2), regression()];
    let mut net = network(specs);
    let steps = 3;
    let r = [values(6, 5), values(4, 6)];
    let x = values(steps * 3 * 2, 7);
    // Batch [len 3, len 0, len 2] against the batch of sequences 0 and 2 alone.
    let with = LossTargets::ResponseSteps(vec![&r[0][..], &[], &r[1][..]]);
    let (_, loss, grads) = pass(&mut net, &padded(&x, 3, 2, &[3, 0, 2], f64::NAN), steps, &[3, 0, 2], &with);
    let mut sub = Vec::new();
    for t in 0..steps {
        for b in [0, 2] {
            sub.extend_from_slice(&x[(t * 3 + b) * 2..][..2]);
        }
    }
    let without = LossTargets::ResponseSteps(vec![&r[0][..], &r[1][..]]);
    let (_, loss2, grads2) = pass(&mut net, &padded(&sub, 2, 2, &[3, 2], 0.0), steps, &[3, 2], &without);
    assert!((loss - loss2).abs() <= 1e-14 * loss2.abs(), "{loss} vs {loss2}");
    for (i, (a, b)) in grads.iter().zip(&grads2).enumerate() {
        assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "gradient {i}: {a} vs {b}");
    }
}

/// Training, evaluation and prediction on a data set with empty sequences (sequence-to-one
/// classes and sequence-to-sequence responses), in minibatches that mix them with others.
#[test]
fn training_and_prediction_take_empty_sequences() {
    // Sequences 1, 5 and 9 are empty; the others have 3 to 7 steps of 2 channels.
    let seqs: Vec<Vec<f32>> = (0..12)
        .map(|i| {
            if i % 4 == 1 {
                Vec::new()
            } else {
                values(2 * (3 + i % 5), i as u64).iter().map(|&v| v as f32).collect()
            }
        })
        .collect();
    let classes = Targets::Classes((0..12).map(|i| i % 2).collect());
    let data = SequenceDataset::new(seqs.clone(), 2, classes).unwrap();
    let specs = layers![
        sequence_input(2),
        gru(4).output_mode(OutputMode::Last),
        fully_connected(2),
        softmax(),
        classification()
    ];
    let mut net = Network::<f32>::new(specs, 1).unwrap();
    let options = TrainingOptions { max_epochs: 2, mini_batch_size: 4, seed: 2, ..TrainingOptions::default() };
    let report = Trainer::new(&net, options).unwrap().fit(&mut net, &data, Some(&data), &mut |_| {}).unwrap();
    assert!(report.history.iterations.iter().all(|r| r.loss.is_finite()) && report.iterations == 6);
    assert_eq!(evaluate(&mut net, &data, 5).unwrap().count, 12);
    let p = predict(&mut net, &data.sequences, 2, 5).unwrap();
    // An empty sequence's prediction is the same in any minibatch, and alone.
    let alone = predict(&mut net, &[vec![]], 2, 1).unwrap();
    assert!(p.iter().all(|row| row.len() == 2 && row.iter().all(|v| v.is_finite())));
    for row in [&p[1], &p[5], &p[9]] {
        assert!(row.iter().zip(&alone[0]).all(|(a, b)| (a - b).abs() <= 1e-6), "{row:?} vs {:?}", alone[0]);
    }

    // Sequence-to-sequence: an empty sequence has no step and no response.
    let responses: Vec<Vec<f64>> = seqs.iter().map(|s| s.iter().step_by(2).map(|&v| f64::from(v)).collect()).collect();
    let data = SequenceDataset::new(seqs, 2, Targets::ResponseSequences(responses)).unwrap();
    let mut net = Network::<f32>::new(layers![sequence_input(2), gru(3), fully_connected(1), regression()], 1).unwrap();
    let options = TrainingOptions { max_epochs: 1, mini_batch_size: 4, seed: 2, ..TrainingOptions::default() };
    Trainer::new(&net, options).unwrap().fit(&mut net, &data, None, &mut |_| {}).unwrap();
    let e = evaluate(&mut net, &data, 4).unwrap();
    assert_eq!(e.count, (0..12).filter(|i| i % 4 != 1).map(|i| 3 + i % 5).sum::<usize>());
    let p = predict(&mut net, &data.sequences, 2, 4).unwrap();
    assert!(p[1].is_empty() && p[0].len() == 3);
}
