//! Runs that stop safely: a stop flag read between minibatches (the run resumes exactly from
//! a checkpoint saved where it stopped), a non-finite loss, gradient or parameter stopping
//! training with an error naming the epoch, the iteration and the layer, and Korali runs
//! bounded in length.

use std::sync::atomic::{AtomicBool, Ordering};

use gru::korali::{KoraliExperiment, MAX_SEQUENCE_STEPS};
use gru::layers;
use gru::network::{classification, fully_connected, gru, regression, sequence_input, softmax, Network};
use gru::train::batching::Shuffle;
use gru::train::{load_training_checkpoint, save_training_checkpoint, Progress, Solver};
use gru::{Error, OutputMode, Real, SequenceDataset, Targets, Trainer, TrainingOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Two classes of noisy 1-channel ramps (rising, falling), length 4..=9.
fn ramps<T: Real>(n: usize, seed: u64) -> SequenceDataset<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut seqs, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n {
        let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
        let len = rng.random_range(4..=9);
        seqs.push((0..len).map(|t| T::lit(sign * 0.3 * t as f64 + rng.random_range(-0.2..0.2))).collect());
        labels.push(i % 2);
    }
    SequenceDataset::new(seqs, 1, Targets::Classes(labels)).unwrap()
}

/// Responses of the size of 100 (the sum of the steps × 100), length 8.
fn sums<T: Real>(n: usize, seed: u64) -> SequenceDataset<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut seqs, mut targets) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let s: Vec<f64> = (0..8).map(|_| rng.random_range(-1.0..1.0)).collect();
        targets.push(vec![100.0 * s.iter().sum::<f64>()]);
        seqs.push(s.into_iter().map(T::lit).collect());
    }
    SequenceDataset::new(seqs, 1, Targets::Responses(targets)).unwrap()
}

fn classifier() -> Vec<gru::network::LayerSpec> {
    layers![sequence_input(1), gru(5).output_mode(OutputMode::Last), fully_connected(2), softmax(), classification()]
}

#[test]
fn a_run_stopped_inside_an_epoch_resumes_exactly_as_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (train, val) = (ramps::<f32>(48, 1), ramps::<f32>(16, 2));
    // 6 minibatches per epoch; validation every 4 iterations.
    let opts = TrainingOptions {
        initial_learn_rate: Some(0.02),
        max_epochs: 3,
        mini_batch_size: 8,
        shuffle: Shuffle::EveryEpoch,
        validation_frequency: 4,
        seed: 5,
        ..TrainingOptions::default()
    };
    let mut whole = Network::<f32>::new(classifier(), 3).unwrap();
    let whole_report =
        Trainer::new(&whole, opts.clone()).unwrap().fit(&mut whole, &train, Some(&val), &mut |_| {}).unwrap();

    // Stopped once iteration 8 is done: epoch 2, two of its six minibatches done.
    let stop = AtomicBool::new(false);
    let mut net = Network::<f32>::new(classifier(), 3).unwrap();
    let mut trainer = Trainer::new(&net, opts).unwrap();
    let err = trainer
        .fit_until(&mut net, &train, Some(&val), &stop, &mut |p| {
            if let Progress::Iteration { record, .. } = p {
                if record.iteration == 8 {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        })
        .unwrap_err();
    assert_eq!(err, Error::Interrupted { epoch: 2, iteration: 8 });
    assert_eq!(err.to_string(), "training interrupted in epoch 2 after iteration 8");
    assert_eq!((trainer.state.epoch, trainer.state.epoch_minibatches, trainer.state.iteration), (1, 2, 8));
    let path = dir.path().join("stopped.safetensors");
    save_training_checkpoint(&path, &net, &trainer).unwrap();

    let (mut resumed, mut trainer) = load_training_checkpoint::<f32>(&path).unwrap();
    assert_eq!((trainer.state.epoch, trainer.state.epoch_minibatches), (1, 2));
    let report = trainer.fit(&mut resumed, &train, Some(&val), &mut |_| {}).unwrap();
    assert_eq!(resumed.params_flat(), whole.params_flat(), "the resumed run differs");
    assert_eq!(report.history, whole_report.history);
    assert_eq!(report.iterations, 18);
}

#[test]
fn a_stop_asked_before_the_first_minibatch_takes_no_step() {
    let train = ramps::<f64>(16, 3);
    let mut net = Network::<f64>::new(classifier(), 1).unwrap();
    let before = net.params_flat();
    let mut trainer = Trainer::new(&net, TrainingOptions { max_epochs: 2, ..TrainingOptions::default() }).unwrap();
    let err = trainer.fit_until(&mut net, &train, None, &AtomicBool::new(true), &mut |_| {}).unwrap_err();
    assert_eq!(err, Error::Interrupted { epoch: 1, iteration: 0 });
    assert_eq!(net.params_flat(), before);
}

/// Trains a regressor with SGDM at learn rate `lr` until it fails: the error and the
/// network's parameters then (as `f64`).
fn diverge<T: Real>(lr: f64) -> (Error, Vec<f64>) {
    let train = sums::<T>(32, 4);
    let specs = layers![sequence_input(1), gru(8).output_mode(OutputMode::Last), fully_connected(1), regression()];
    let mut net = Network::<T>::new(specs, 2).unwrap();
    let opts = TrainingOptions {
        solver: Solver::sgdm(),
        initial_learn_rate: Some(lr),
        max_epochs: 5,
        mini_batch_size: 32,
        ..TrainingOptions::default()
    };
    let mut trainer = Trainer::new(&net, opts).unwrap();
    let err = trainer.fit(&mut net, &train, None, &mut |_| {}).unwrap_err();
    (err, net.params_flat().into_iter().map(Real::widen).collect())
}

#[test]
fn a_non_finite_loss_or_gradient_stops_training_naming_epoch_iteration_and_layer() {
    for (dtype, (err, params)) in [("f32", diverge::<f32>(1e300)), ("f64", diverge::<f64>(1e300))] {
        let Error::Diverged { epoch, iteration, ref quantity, ref location, value, ref hint } = err else {
            panic!("{dtype}: {err:?}")
        };
        assert!(!value.is_finite(), "{dtype}: {err}");
        // One minibatch per epoch: the epoch is the iteration.
        assert!(iteration >= 1 && epoch == iteration, "{dtype}: {err}");
        assert!(location.starts_with("layers[") || location.contains("output"), "{dtype}: {location}");
        assert!(!quantity.is_empty() && hint.contains("learn rate") && hint.contains("gradient threshold"));
        let text = err.to_string();
        assert!(text.contains(&format!("training diverged in epoch {epoch}, iteration {iteration}")), "{text}");
        // The network keeps the (finite) parameters of the step before.
        assert!(params.iter().all(|v| v.is_finite()), "{dtype}: non-finite parameters kept");
    }
}

#[test]
fn an_overflowing_update_names_the_layer_and_tensor() {
    // f32 weights overflow at the first update (the gradient itself is finite).
    let (err, _) = diverge::<f32>(1e300);
    let text = err.to_string();
    assert!(
        text.contains(
            "training diverged in epoch 1, iteration 1: the updated value of layers[1] (GRU, stack layer 0 forward)"
        ),
        "{text}"
    );
}

#[test]
fn parameters_are_named_by_layer_tensor_and_gate() {
    // GRU I=3, H=2: W 6×3 (0..18), R 6×2 (18..30), bias 6 (30..36); dense 2×2 W (36..40), b (40..42).
    let specs = layers![sequence_input(3), gru(2).output_mode(OutputMode::Last), fully_connected(2), regression()];
    let net = Network::<f32>::new(specs, 0).unwrap();
    let name = |i| net.parameter_name(i).unwrap();
    assert_eq!(name(0), "layers[1] (GRU, stack layer 0 forward): input weights W, gate r");
    assert_eq!(name(6), "layers[1] (GRU, stack layer 0 forward): input weights W, gate z");
    assert_eq!(name(29), "layers[1] (GRU, stack layer 0 forward): recurrent weights R, gate n");
    assert_eq!(name(32), "layers[1] (GRU, stack layer 0 forward): bias, gate z");
    assert_eq!(name(36), "layers[2] (fully connected): weights W");
    assert_eq!(name(41), "layers[2] (fully connected): bias b");
    assert_eq!(net.parameter_name(42), None);
    // A stack split by dropout, bidirectional: the second stacked layer's backward direction.
    let specs = layers![sequence_input(1), gru(1).depth(2).bidirectional(true).dropout(0.5), regression()];
    let net = Network::<f32>::new(specs, 0).unwrap();
    let last = net.params_flat().len() - 1;
    assert_eq!(net.parameter_name(last).unwrap(), "layers[1] (GRU, stack layer 1 backward): bias, gate n");
    // A reverse-only stack sweeps backward.
    let net = Network::<f32>::new(layers![sequence_input(1), gru(1).reverse(true), regression()], 0).unwrap();
    assert_eq!(net.parameter_name(0).unwrap(), "layers[1] (GRU, stack layer 0 backward): input weights W, gate r");
}

/// The sine experiment shipped with the examples, with `edit` applied.
fn sine_experiment(edit: impl Fn(&mut serde_json::Value)) -> gru::Result<KoraliExperiment> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/korali/sine_rnn_experiment.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    KoraliExperiment::from_json(&v).map(|(e, _)| e)
}

#[test]
fn a_korali_run_beyond_the_step_limit_is_refused_naming_the_key() {
    let err = sine_experiment(|v| v["Solver"]["Steps Per Generation"] = 1e12.into()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("[\"Solver\"][\"Steps Per Generation\"]: 1000000000000"), "{text}");
    assert!(text.contains(&format!("beyond the limit of {MAX_SEQUENCE_STEPS}")), "{text}");
    let err = sine_experiment(|v| v["Solver"]["Termination Criteria"]["Max Generations"] = 1e12.into()).unwrap_err();
    assert!(err.to_string().contains("[\"Max Generations\"]: 1000000000000"), "{err}");
    // Korali's own example is far below the limit.
    let e = sine_experiment(|_| {}).unwrap();
    assert_eq!(e.total_steps(), 100 * 20);
    assert!(e.total_sequence_steps() < MAX_SEQUENCE_STEPS / 1000);
}

#[test]
fn a_korali_run_stops_on_its_flag() {
    let e = sine_experiment(|v| {
        v["Solver"]["Termination Criteria"]["Max Generations"] = 50.into();
        v["Solver"]["Steps Per Generation"] = 2.into();
    })
    .unwrap();
    let stop = AtomicBool::new(false);
    let err = e
        .train_until::<f32>(&stop, &mut |r| {
            if r.generation == 2 {
                stop.store(true, Ordering::Relaxed);
            }
        })
        .unwrap_err();
    assert_eq!(err, Error::Interrupted { epoch: 3, iteration: 4 });
}

#[test]
fn a_korali_run_reports_divergence_by_generation() {
    let e = sine_experiment(|v| {
        v["Solver"]["Termination Criteria"]["Max Generations"] = 5.into();
        v["Solver"]["Learning Rate"] = 1e300.into();
        v["Solver"]["Optimizer"] = "Adagrad".into();
    })
    .unwrap();
    let err = e.train::<f64>(&mut |_| {}).unwrap_err();
    let Error::Diverged { epoch, iteration, ref hint, .. } = err else { panic!("{err:?}") };
    assert!(epoch >= 1 && iteration >= 1 && hint.contains("[\"Learning Rate\"]"), "{err}");
}
