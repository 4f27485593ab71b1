//! Training on generated data with fixed seeds: accuracy and error targets, reproducibility,
//! checkpoints and resume, and every training option.

use gru::layers;
use gru::network::{
    classification, fully_connected, gru, regression, sequence_input, sequence_input_zscore, softmax, Network,
};
use gru::optim::GradientThresholdMethod;
use gru::train::batching::{PaddingDirection, SequenceLength, Shuffle};
use gru::train::{evaluate, load_training_checkpoint, predict, predict_padded, OutputNetwork, Progress};
use gru::train::{LearnRateSchedule, Solver};
use gru::{LearnFactors, OutputMode, SequenceDataset, Targets, Trainer, TrainingOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Three classes of noisy 2-channel oscillations (frequencies 0.4, 0.9, 1.6), random phase
/// and length 8..=20. Chance is 1/3.
fn oscillations(n: usize, seed: u64) -> SequenceDataset<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut seqs, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n {
        let class = i % 3;
        let omega = [0.4, 0.9, 1.6][class];
        let (len, phase) = (rng.random_range(8..=20), rng.random_range(0.0..std::f64::consts::TAU));
        let mut s = Vec::new();
        for t in 0..len {
            let a = omega * t as f64 + phase;
            s.push((a.sin() + rng.random_range(-0.3..0.3)) as f32);
            s.push((a.cos() + rng.random_range(-0.3..0.3)) as f32);
        }
        seqs.push(s);
        labels.push(class);
    }
    SequenceDataset::new(seqs, 2, Targets::Classes(labels))
        .unwrap()
        .with_class_names(vec!["slow".into(), "medium".into(), "fast".into()])
        .unwrap()
}

/// Target: the mean of channel 0 over the sequence (offset per sequence), length 5..=15.
fn means(n: usize, seed: u64) -> SequenceDataset<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut seqs, mut targets) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (len, offset) = (rng.random_range(5..=15), rng.random_range(-1.0..1.0));
        let s: Vec<f32> = (0..len).map(|_| (offset + rng.random_range(-0.5..0.5f64)) as f32).collect();
        let mean = s.iter().map(|&v| v as f64).sum::<f64>() / len as f64;
        seqs.push(s);
        targets.push(vec![mean]);
    }
    SequenceDataset::new(seqs, 1, Targets::Responses(targets)).unwrap()
}

fn classifier() -> Vec<gru::network::LayerSpec> {
    layers![sequence_input(2), gru(12).output_mode(OutputMode::Last), fully_connected(3), softmax(), classification()]
}

fn options(epochs: usize) -> TrainingOptions {
    TrainingOptions {
        initial_learn_rate: Some(0.02),
        max_epochs: epochs,
        mini_batch_size: 16,
        seed: 11,
        ..TrainingOptions::default()
    }
}

#[test]
fn classifier_reaches_95_percent_where_chance_is_a_third() {
    let (train, test) = (oscillations(300, 1), oscillations(150, 2));
    let mut net = Network::<f32>::new(classifier(), 3).unwrap();
    net.set_class_names(train.class_names.clone()).unwrap();
    let mut trainer = Trainer::new(&net, options(12)).unwrap();
    let mut iterations = 0;
    let report = trainer
        .fit(&mut net, &train, Some(&test), &mut |p| {
            if let Progress::Iteration { .. } = p {
                iterations += 1
            }
        })
        .unwrap();
    let e = evaluate(&mut net, &test, 64).unwrap();
    assert!(e.accuracy.unwrap() >= 0.95, "test accuracy {:?}", e.accuracy);
    assert_eq!(report.iterations, iterations);
    assert_eq!(report.iterations, 12 * 300usize.div_ceil(16)); // the partial minibatch is trained on
    assert_eq!(report.final_validation.unwrap().accuracy, e.accuracy);
    let csv = report.history.to_csv();
    assert_eq!(csv.lines().count(), report.iterations + 1);
    assert!(csv.starts_with("epoch,iteration,loss,accuracy"));
}

#[test]
fn regressor_error_is_below_a_tenth_of_the_target_variance() {
    let (train, test) = (means(300, 3), means(100, 4));
    let specs =
        layers![sequence_input_zscore(1), gru(16).output_mode(OutputMode::Last), fully_connected(1), regression()];
    let mut net = Network::<f32>::new(specs, 5).unwrap();
    let mut trainer = Trainer::new(&net, TrainingOptions { initial_learn_rate: Some(0.01), ..options(15) }).unwrap();
    trainer.fit(&mut net, &train, None, &mut |_| {}).unwrap();
    assert!(net.normalization().is_some());
    let Targets::Responses(t) = &test.targets else { unreachable!() };
    let mean = t.iter().map(|r| r[0]).sum::<f64>() / t.len() as f64;
    let var = t.iter().map(|r| (r[0] - mean).powi(2)).sum::<f64>() / t.len() as f64;
    let rmse = evaluate(&mut net, &test, 32).unwrap().rmse.unwrap();
    assert!(rmse * rmse < 0.1 * var, "MSE {} vs target variance {var}", rmse * rmse);
}

#[test]
fn save_load_predict_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let train = oscillations(60, 5);
    let mut net = Network::<f32>::new(
        layers![
            sequence_input_zscore(2),
            gru(6).output_mode(OutputMode::Last),
            fully_connected(3),
            softmax(),
            classification()
        ],
        1,
    )
    .unwrap();
    net.set_class_names(train.class_names.clone()).unwrap();
    Trainer::new(&net, options(2)).unwrap().fit(&mut net, &train, None, &mut |_| {}).unwrap();
    let path = dir.path().join("model.safetensors");
    net.save(&path).unwrap();
    let mut loaded = Network::<f32>::load(&path).unwrap();
    assert_eq!(loaded.params_flat(), net.params_flat());
    assert_eq!(loaded.normalization(), net.normalization());
    assert_eq!(loaded.class_names(), train.class_names.as_slice());
    let a = predict(&mut net, &train.sequences, 2, 16).unwrap();
    let b = predict(&mut loaded, &train.sequences, 2, 16).unwrap();
    assert_eq!(a, b);
    // A model of the other dtype is refused, not converted.
    let err = Network::<f64>::load(&path).unwrap_err();
    assert!(err.to_string().contains("f32"), "{err}");
}

#[test]
fn a_header_asking_for_more_parameters_than_the_file_holds_is_refused_before_building() {
    use gru::io::{save, NamedTensor};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crafted.safetensors");
    // A GRU of 10^8 units (3·10^16 weights) announced, 4 values held: refused as a file
    // error, without trying to allocate the layer.
    let layers = layers![sequence_input(2), gru(100_000_000), fully_connected(1), regression()];
    let model =
        serde_json::json!({"kind": "gru-network", "dtype": "f32", "layers": layers, "seed": 1, "class_names": []});
    save(&path, &[NamedTensor::new("params", vec![4], vec![0.5f32; 4])], &model).unwrap();
    let err = Network::<f32>::load(&path).unwrap_err();
    assert!(matches!(err, gru::Error::File { .. }), "{err:?}");
    assert!(err.to_string().contains("the file holds 4"), "{err}");
}

#[test]
fn resumed_training_equals_uninterrupted_training() {
    let dir = tempfile::tempdir().unwrap();
    let (train, val) = (oscillations(48, 6), oscillations(24, 7));
    let specs = layers![
        sequence_input(2),
        gru(5).output_mode(OutputMode::Last),
        fully_connected(3),
        softmax(),
        classification()
    ];
    let opts = TrainingOptions {
        shuffle: Shuffle::EveryEpoch,
        validation_frequency: 2,
        mini_batch_size: 8,
        learn_rate_schedule: LearnRateSchedule::Piecewise { drop_factor: 0.5, drop_period: 1 },
        ..options(4)
    };
    let mut whole = Network::<f32>::new(specs.clone(), 2).unwrap();
    let whole_report =
        Trainer::new(&whole, opts.clone()).unwrap().fit(&mut whole, &train, Some(&val), &mut |_| {}).unwrap();

    let path = dir.path().join("ckpt.safetensors");
    let mut first = Network::<f32>::new(specs, 2).unwrap();
    let first_opts = TrainingOptions { max_epochs: 2, checkpoint_path: Some(path.clone()), ..opts };
    Trainer::new(&first, first_opts).unwrap().fit(&mut first, &train, Some(&val), &mut |_| {}).unwrap();
    let (mut resumed, mut trainer) = load_training_checkpoint::<f32>(&path).unwrap();
    assert_eq!(trainer.state.epoch, 2);
    trainer.options.max_epochs = 4;
    trainer.options.checkpoint_path = None;
    let report = trainer.fit(&mut resumed, &train, Some(&val), &mut |_| {}).unwrap();
    assert_eq!(resumed.params_flat(), whole.params_flat());
    assert_eq!(report.history, whole_report.history);
}

#[test]
fn left_and_right_padding_give_the_same_last_outputs() {
    let data = oscillations(5, 8);
    let mut net = Network::<f32>::new(classifier(), 4).unwrap();
    let lengths: Vec<usize> = (0..5).map(|i| data.steps(i)).collect();
    let steps = *lengths.iter().max().unwrap();
    let (mut right, mut left) = (vec![0.0f32; steps * 5 * 2], vec![9.0f32; steps * 5 * 2]);
    for (b, s) in data.sequences.iter().enumerate() {
        for t in 0..lengths[b] {
            for c in 0..2 {
                right[(t * 5 + b) * 2 + c] = s[t * 2 + c];
                left[((steps - lengths[b] + t) * 5 + b) * 2 + c] = s[t * 2 + c];
            }
        }
    }
    let r = predict_padded(&mut net, &right, steps, &lengths, PaddingDirection::Right).unwrap();
    let l = predict_padded(&mut net, &left, steps, &lengths, PaddingDirection::Left).unwrap();
    assert_eq!(r, l);
}

#[test]
fn every_option_runs_and_is_honored() {
    let (train, val) = (oscillations(40, 9), oscillations(20, 10));
    let run = |opts: TrainingOptions, specs| {
        let mut net = Network::<f32>::new(specs, 7).unwrap();
        let before = net.params_flat();
        let report = Trainer::new(&net, opts).unwrap().fit(&mut net, &train, Some(&val), &mut |_| {}).unwrap();
        (net, before, report)
    };
    for solver in [Solver::sgdm(), Solver::adam(), Solver::rmsprop()] {
        for (method, threshold) in [
            (GradientThresholdMethod::L2Norm, 1.0),
            (GradientThresholdMethod::GlobalL2Norm, 0.5),
            (GradientThresholdMethod::AbsoluteValue, 0.01),
        ] {
            let opts = TrainingOptions {
                solver,
                gradient_threshold_method: method,
                gradient_threshold: threshold,
                shuffle: Shuffle::Never,
                ..options(1)
            };
            let (_, _, report) = run(opts, classifier());
            assert!(report.history.iterations.iter().all(|r| r.loss.is_finite()));
        }
    }
    // Piecewise schedule: the learn rate halves every epoch.
    let opts = TrainingOptions {
        learn_rate_schedule: LearnRateSchedule::Piecewise { drop_factor: 0.5, drop_period: 1 },
        ..options(3)
    };
    let (_, _, report) = run(opts, classifier());
    let rates: Vec<f64> = report.history.iterations.iter().map(|r| r.learn_rate).collect();
    assert_eq!((rates[0], *rates.last().unwrap()), (0.02, 0.005));
    // A GRU with learn-rate factor 0 stays frozen; the dense layer still learns.
    let frozen = LearnFactors {
        input_weights_learn_rate: 0.0.into(),
        recurrent_weights_learn_rate: 0.0.into(),
        bias_learn_rate: 0.0.into(),
        ..LearnFactors::default()
    };
    let specs = layers![
        sequence_input(2),
        gru(4).output_mode(OutputMode::Last).factors(frozen),
        fully_connected(3),
        softmax(),
        classification()
    ];
    let (net, before, _) = run(options(2), specs);
    let gru_len = net.gru_layers().next().unwrap().params().unwrap().num_params();
    assert_eq!(net.params_flat()[..gru_len], before[..gru_len]);
    assert_ne!(net.params_flat()[gru_len..], before[gru_len..]);
    // Sequence lengths: shortest and fixed (truncated BPTT) for both padding directions.
    for length in [SequenceLength::Shortest, SequenceLength::Fixed(4)] {
        for direction in [PaddingDirection::Right, PaddingDirection::Left] {
            let opts = TrainingOptions { sequence_length: length, sequence_padding_direction: direction, ..options(1) };
            let (_, _, report) = run(opts, classifier());
            assert!(!report.history.iterations.is_empty(), "{length:?} {direction:?}");
        }
    }
    // Patience stops early; best-validation-loss restores the best parameters.
    let opts = TrainingOptions {
        validation_frequency: 1,
        validation_patience: Some(2),
        initial_learn_rate: Some(0.5),
        output_network: OutputNetwork::BestValidationLoss,
        ..options(30)
    };
    let (mut net, _, report) = run(opts, classifier());
    assert!(report.stopped_early, "patience 2 at learn rate 0.5 should stop before 30 epochs");
    let best = report.history.validations.iter().map(|v| v.loss).fold(f64::INFINITY, f64::min);
    let now = evaluate(&mut net, &val, 16).unwrap().loss;
    assert!((now - best).abs() < 1e-6, "restored loss {now} vs best {best}");
    // Shuffle is seeded: two runs with the same seed are identical.
    let opts = TrainingOptions { shuffle: Shuffle::EveryEpoch, ..options(2) };
    let (a, _, _) = run(opts.clone(), classifier());
    let (b, _, _) = run(opts, classifier());
    assert_eq!(a.params_flat(), b.params_flat());
}

#[test]
fn bad_options_and_data_are_typed_errors() {
    let net = Network::<f32>::new(classifier(), 1).unwrap();
    for (opts, name) in [
        (TrainingOptions { max_epochs: 0, ..TrainingOptions::default() }, "MaxEpochs"),
        (TrainingOptions { mini_batch_size: 0, ..TrainingOptions::default() }, "MiniBatchSize"),
        (TrainingOptions { initial_learn_rate: Some(-1.0), ..TrainingOptions::default() }, "InitialLearnRate"),
        (TrainingOptions { l2_regularization: f64::NAN, ..TrainingOptions::default() }, "L2Regularization"),
    ] {
        match Trainer::new(&net, opts) {
            Err(gru::Error::Property { property, .. }) => assert_eq!(property, name),
            other => panic!("{name}: {:?}", other.err()),
        }
    }
    let mut net = Network::<f32>::new(classifier(), 1).unwrap();
    let mut trainer = Trainer::new(&net, options(1)).unwrap();
    let wrong = means(10, 1);
    let err = trainer.fit(&mut net, &wrong, None, &mut |_| {}).unwrap_err();
    assert!(matches!(err, gru::Error::Data { .. }), "{err:?}");
    let opts = TrainingOptions { output_network: OutputNetwork::BestValidationLoss, ..options(1) };
    let err = Trainer::new(&net, opts).unwrap().fit(&mut net, &oscillations(10, 1), None, &mut |_| {}).unwrap_err();
    assert!(matches!(err, gru::Error::Property { ref property, .. } if property == "OutputNetwork"), "{err:?}");
    let specs = layers![
        sequence_input(2),
        gru(3).bidirectional(true).output_mode(OutputMode::Last),
        fully_connected(3),
        softmax(),
        classification()
    ];
    let mut bi = Network::<f32>::new(specs, 1).unwrap();
    let opts = TrainingOptions { sequence_length: SequenceLength::Fixed(3), ..options(1) };
    let err = Trainer::new(&bi, opts).unwrap().fit(&mut bi, &oscillations(10, 1), None, &mut |_| {}).unwrap_err();
    assert!(matches!(err, gru::Error::Property { ref property, .. } if property == "SequenceLength"), "{err:?}");
}
