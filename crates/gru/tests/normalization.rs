//! The normalizations a network fits on its training data (input: MATLAB's zscore,
//! zerocenter, rescale-symmetric, rescale-zero-one; regression targets: the same kinds,
//! undone in every pass) and what its model file records (the normalizations, the
//! initialization that drew its weights).

use gru::korali::KoraliExperiment;
use gru::layers;
use gru::network::{
    classification, fully_connected, gru, regression, softmax, Initialization, LayerSpec, LossTargets, Network,
    Normalization, Reduction, TargetNormalization,
};
use gru::train::predict;
use gru::{OutputMode, SequenceDataset, Targets, Trainer, TrainingOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn input(size: usize, normalization: Normalization) -> LayerSpec {
    LayerSpec::SequenceInput { input_size: size, normalization }
}

/// Two channels (channel 1 = 10 · channel 0 + 3), responses in the hundreds.
fn data() -> SequenceDataset<f64> {
    let mut seqs = Vec::new();
    let mut targets = Vec::new();
    for i in 0..12 {
        let len = 3 + i % 4;
        let s: Vec<f64> = (0..len)
            .flat_map(|t| {
                let v = ((i * 7 + t * 3) as f64 * 0.37).sin();
                [v, 10.0 * v + 3.0]
            })
            .collect();
        targets.push(vec![200.0 + 40.0 * (i as f64 * 0.9).cos(), -5.0 + i as f64]);
        seqs.push(s);
    }
    SequenceDataset::new(seqs, 2, Targets::Responses(targets)).unwrap()
}

fn regressor(normalization: Normalization) -> Network<f64> {
    let specs =
        layers![input(2, normalization), gru(4).output_mode(OutputMode::Last), fully_connected(2), regression()];
    Network::new(specs, 3).unwrap()
}

#[test]
fn input_normalizations_map_the_training_data_as_matlab_defines_them() {
    let d = data();
    let all: Vec<f64> = d.sequences.iter().flatten().copied().collect();
    for (kind, lo, hi) in [(Normalization::RescaleZeroOne, 0.0, 1.0), (Normalization::RescaleSymmetric, -1.0, 1.0)] {
        let mut net = regressor(kind);
        net.fit_normalization(&d).unwrap();
        let (offset, scale) = net.normalization().unwrap();
        for c in 0..2 {
            let v: Vec<f64> = all.iter().skip(c).step_by(2).map(|x| (x - offset[c]) / scale[c]).collect();
            let (min, max) = v.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            assert!((min - lo).abs() < 1e-12 && (max - hi).abs() < 1e-12, "{kind}: [{min}, {max}]");
        }
    }
    let mut net = regressor(Normalization::ZeroCenter);
    net.fit_normalization(&d).unwrap();
    let (offset, scale) = net.normalization().unwrap().clone();
    assert_eq!(scale, vec![1.0, 1.0]);
    let mean1 = all.iter().skip(1).step_by(2).sum::<f64>() / (all.len() / 2) as f64;
    assert!((offset[1] - mean1).abs() < 1e-12);
    let mut none = regressor(Normalization::None);
    none.fit_normalization(&d).unwrap();
    assert!(none.normalization().is_none());
    // Names parse (any case) and print as MATLAB writes them.
    assert_eq!("Rescale-Zero-One".parse::<Normalization>().unwrap(), Normalization::RescaleZeroOne);
    assert_eq!(Normalization::ZeroCenter.to_string(), "zerocenter");
    assert!("minmax".parse::<Normalization>().unwrap_err().to_string().contains("rescale-symmetric"));
}

/// The rows of a sequence-to-one batch of `data`'s sequences `idx` for the network.
fn batch(d: &SequenceDataset<f64>, idx: &[usize]) -> (Vec<f64>, usize, Vec<usize>) {
    let seqs: Vec<&[f64]> = idx.iter().map(|&i| &d.sequences[i][..]).collect();
    let chunk = gru::train::batching::chunk_minibatch(
        &seqs,
        2,
        gru::train::batching::SequenceLength::Longest,
        gru::train::batching::PaddingDirection::Right,
    )
    .unwrap()
    .remove(0);
    (chunk.x, chunk.steps, chunk.lengths)
}

#[test]
fn normalized_targets_train_as_a_network_on_normalized_targets() {
    let d = data();
    let Targets::Responses(t) = &d.targets else { unreachable!() };
    let mut a = regressor(Normalization::None);
    a.fit_target_normalization(&d, Normalization::Zscore).unwrap();
    let tn = a.target_normalization().unwrap().clone();
    assert_eq!(tn.kind, Normalization::Zscore);
    let mean0 = t.iter().map(|r| r[0]).sum::<f64>() / t.len() as f64;
    assert!((tn.offset[0] - mean0).abs() < 1e-12, "{tn:?}");
    // The same network without it, on the normalized targets.
    let mut b = regressor(Normalization::None);
    let normalized: Vec<Vec<f64>> =
        t.iter().map(|r| r.iter().enumerate().map(|(k, v)| (v - tn.offset[k]) / tn.scale[k]).collect()).collect();
    let idx = [0, 3, 5, 8];
    let (x, steps, lengths) = batch(&d, &idx);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let pa = a.forward(&x, steps, &lengths, None, Some(&mut rng)).unwrap();
    let pb = b.forward(&x, steps, &lengths, None, Some(&mut rng)).unwrap();
    // a's output is b's, in the targets' units.
    for (row, (ya, yb)) in pa.output.chunks(2).zip(pb.output.chunks(2)).enumerate() {
        for k in 0..2 {
            assert!((ya[k] - (tn.offset[k] + tn.scale[k] * yb[k])).abs() < 1e-9, "row {row}");
        }
    }
    let ta = LossTargets::Responses(idx.iter().map(|&i| Some(&t[i][..])).collect());
    let tb = LossTargets::Responses(idx.iter().map(|&i| Some(&normalized[i][..])).collect());
    let (sa, ga) = a.loss(&pa, &ta, Reduction::Mean).unwrap();
    let (sb, gb) = b.loss(&pb, &tb, Reduction::Mean).unwrap();
    // The loss is the normalized one; the squared error stays in the targets' units.
    assert!((sa.loss - sb.loss).abs() < 1e-12, "{} vs {}", sa.loss, sb.loss);
    let se: f64 = idx
        .iter()
        .enumerate()
        .map(|(m, &i)| (0..2).map(|k| (pa.output[2 * m + k] - t[i][k]).powi(2)).sum::<f64>())
        .sum();
    assert!((sa.squared_error - se).abs() < 1e-9 * se);
    let (da, db) = (a.backward(pa, &ga).unwrap(), b.backward(pb, &gb).unwrap());
    for (i, (u, v)) in da.iter().zip(&db).enumerate() {
        assert!((u - v).abs() <= 1e-10 * (1.0 + v.abs()), "gradient {i}: {u} vs {v}");
    }
}

#[test]
fn training_fits_target_normalization_saves_it_and_predicts_in_target_units() {
    let d = data();
    let mut net = regressor(Normalization::Zscore);
    let opts = TrainingOptions {
        target_normalization: Normalization::Zscore,
        max_epochs: 40,
        mini_batch_size: 4,
        initial_learn_rate: Some(0.02),
        ..TrainingOptions::default()
    };
    Trainer::new(&net, opts).unwrap().fit(&mut net, &d, None, &mut |_| {}).unwrap();
    assert_eq!(net.target_normalization().map(|t| t.kind), Some(Normalization::Zscore));
    // Predictions are in the targets' units: near the targets (in the hundreds) after training.
    let out = predict(&mut net, &d.sequences, 2, 16).unwrap();
    let Targets::Responses(t) = &d.targets else { unreachable!() };
    let err = out.iter().zip(t).map(|(p, r)| (p[0] - r[0]).abs()).sum::<f64>() / t.len() as f64;
    assert!(err < 20.0, "mean error {err} on targets of 200 ± 40");
    // Saved and loaded, it predicts the same.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    net.save(&path).unwrap();
    let mut back = Network::<f64>::load(&path).unwrap();
    assert_eq!(back.target_normalization(), net.target_normalization());
    assert_eq!(predict(&mut back, &d.sequences, 2, 16).unwrap(), out);
    // z-score is the default; "none" fits none; a classifier ignores it.
    let mut default = regressor(Normalization::Zscore);
    let opts = TrainingOptions { max_epochs: 1, ..TrainingOptions::default() };
    Trainer::new(&default, opts).unwrap().fit(&mut default, &d, None, &mut |_| {}).unwrap();
    assert_eq!(default.target_normalization().map(|t| t.kind), Some(Normalization::Zscore));
    let mut plain = regressor(Normalization::Zscore);
    let opts =
        TrainingOptions { max_epochs: 1, target_normalization: Normalization::None, ..TrainingOptions::default() };
    Trainer::new(&plain, opts).unwrap().fit(&mut plain, &d, None, &mut |_| {}).unwrap();
    assert!(plain.target_normalization().is_none());
    let specs = layers![
        input(2, Normalization::None),
        gru(3).output_mode(OutputMode::Last),
        fully_connected(2),
        softmax(),
        classification()
    ];
    let mut classifier = Network::<f64>::new(specs, 1).unwrap();
    let classes =
        SequenceDataset::new(d.sequences.clone(), 2, Targets::Classes((0..12).map(|i| i % 2).collect())).unwrap();
    classifier.fit_target_normalization(&classes, Normalization::Zscore).unwrap();
    assert!(classifier.target_normalization().is_none());
    let bad = TargetNormalization { kind: Normalization::Zscore, offset: vec![0.0; 2], scale: vec![1.0; 2] };
    assert!(classifier.set_target_normalization(Some(bad.clone())).is_err());
    let zero = TargetNormalization { scale: vec![1.0, 0.0], ..bad };
    assert!(regressor(Normalization::None).set_target_normalization(Some(zero)).is_err());
}

#[test]
fn the_model_file_records_the_initialization() {
    let dir = tempfile::tempdir().unwrap();
    // A network of a layer array: its layers' initializers.
    let net = regressor(Normalization::None);
    assert_eq!(*net.initialization(), Initialization::Layers);
    let path = dir.path().join("layers.safetensors");
    net.save(&path).unwrap();
    assert_eq!(*Network::<f64>::load(&path).unwrap().initialization(), Initialization::Layers);
    // A Korali experiment's: Korali's uniform initialization, with its generator and scalings.
    let text = r#"{"Problem": {"Type": "Supervised Learning", "Max Timesteps": 2, "Training Batch Size": 2,
        "Input": {"Data": [[[1.0], [2.0]], [[3.0]]], "Size": 1}, "Solution": {"Data": [[1.0], [2.0]], "Size": 1}},
        "Solver": {"Type": "Learner/DeepSupervisor", "Neural Network": {"Engine": "Korali",
            "Uniform Generator": {"Minimum": -0.5, "Maximum": 0.5},
            "Hidden Layers": [{"Type": "Layer/Recurrent/GRU", "Depth": 1, "Output Channels": 3, "Weight Scaling": 0.5}]},
        "Output Weights Scaling": 0.25, "Termination Criteria": {"Max Generations": 1}}, "Random Seed": 9}"#;
    let (exp, _) = KoraliExperiment::parse(text).unwrap();
    let korali = exp.build_network::<f32>().unwrap();
    let want = Initialization::KoraliUniform { minimum: -0.5, maximum: 0.5, weight_scalings: vec![0.5, 0.25] };
    assert_eq!(*korali.initialization(), want);
    let path = dir.path().join("korali.safetensors");
    korali.save(&path).unwrap();
    assert_eq!(*Network::<f32>::load(&path).unwrap().initialization(), want);
    // A file written before it was recorded: not recorded.
    let (tensors, mut model) = gru::io::load(&path).unwrap();
    model.as_object_mut().unwrap().remove("initialization");
    gru::io::save(&path, &tensors, &model).unwrap();
    assert_eq!(*Network::<f32>::load(&path).unwrap().initialization(), Initialization::NotRecorded);
    assert!(Initialization::NotRecorded.describe(0).starts_with("not recorded"));
}
