//! Runs that stop safely: a non-finite loss, gradient or parameter stops training with an
//! error naming the epoch, the iteration and the layer.

use gru::korali::KoraliExperiment;
use gru::layers;
use gru::network::{fully_connected, gru, regression, sequence_input, Network};
use gru::train::Solver;
use gru::{Error, OutputMode, Real, SequenceDataset, Targets, Trainer, TrainingOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

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
}

/// The sine experiment shipped with the examples, with `edit` applied.
fn sine_experiment(edit: impl Fn(&mut serde_json::Value)) -> gru::Result<KoraliExperiment> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/korali/sine_rnn_experiment.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    KoraliExperiment::from_json(&v).map(|(e, _)| e)
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
