//! The regularizers through the user-facing crate: the layer builder and the layer-array
//! JSON carry them, model files and checkpoints keep them (and the layer-norm parameters),
//! files without them still load, the converters and code generation write their inference
//! form or refuse it, and a network trains with them (masks from the trainer's seed, so a
//! run is reproducible).

use gru::convert::onnx::{self, OnnxModel, OnnxOptions, Tensor};
use gru::convert::{torch, verify, GruWeights, TorchOptions};
use gru::network::{classification, fully_connected, gru as gru_layer, sequence_input, softmax, LayerSpec, Network};
use gru::train::load_training_checkpoint;
use gru::{layers, Error, GruLayer, GruParams, GruSpec, OutputMode, Regularization, SequenceDataset, Targets};
use gru::{Trainer, TrainingOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn regularized() -> Regularization {
    Regularization::NONE.with_recurrent_dropout(0.25).with_zoneout(0.1).with_layer_norm(true).with_seed(5)
}

#[test]
fn the_builder_and_the_layer_array_json_carry_the_regularizers() {
    let layer = GruLayer::<f64>::builder(4)
        .input_size(3)
        .recurrent_dropout(0.25)
        .zoneout(0.1)
        .layer_norm(true)
        .regularization_seed(5)
        .build()
        .unwrap();
    assert_eq!(layer.spec().unwrap().regularization, regularized());
    // Layer norm starts at gains 1 and biases 0.
    let p = layer.params().unwrap();
    assert!(p.blocks().iter().all(|b| b.norm_gain(gru::NormPart::Input).iter().all(|&g| g == 1.0)));
    assert!(p.blocks().iter().all(|b| b.norm_bias(gru::NormPart::Recurrent).iter().all(|&g| g == 0.0)));

    let specs = layers![sequence_input(3), gru_layer(4).regularization(regularized()), fully_connected(2)];
    let json = serde_json::to_value(&specs).unwrap();
    assert_eq!(
        json[1]["regularization"],
        serde_json::json!({"recurrent_dropout": 0.25, "zoneout": 0.1, "layer_norm": true, "seed": 5})
    );
    assert_eq!(serde_json::from_value::<Vec<LayerSpec>>(json).unwrap(), specs);
    // A plain layer writes no key; a bad rate is refused naming the field and the value.
    assert!(serde_json::to_value(gru_layer(4)).unwrap().get("regularization").is_none());
    let bad = serde_json::json!([{"type": "sequence-input", "input_size": 3},
        {"type": "gru", "num_hidden_units": 4, "regularization": {"zoneout": 1.0}}]);
    let specs: Vec<LayerSpec> = serde_json::from_value(bad).unwrap();
    match Network::<f32>::new(specs, 1) {
        Err(e) => assert!(e.to_string().contains("regularization.zoneout") && e.to_string().contains('1'), "{e}"),
        Ok(_) => panic!("a zoneout of 1 was accepted"),
    }
}

fn network(reg: Regularization) -> Network<f64> {
    let specs = layers![
        sequence_input(2),
        gru_layer(5).output_mode(OutputMode::Last).regularization(reg),
        fully_connected(3),
        softmax(),
        classification()
    ];
    Network::new(specs, 7).unwrap()
}

#[test]
fn model_files_keep_the_regularizers_and_the_layer_norm_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let net = network(regularized());
    let n = net.params_flat().len();
    assert_eq!(n, network(Regularization::NONE).params_flat().len() + 12 * 5, "12H layer-norm values");
    let path = dir.path().join("m.safetensors");
    net.save(&path).unwrap();
    let back = Network::<f64>::load(&path).unwrap();
    assert_eq!(back.specs(), net.specs());
    assert_eq!(back.params_flat(), net.params_flat());
    // The GRU's values come first, its layer-norm values last among them.
    let last_gru = net.gru_layers().next().unwrap().params().unwrap().num_params() - 1;
    let name = back.parameter_name(last_gru).unwrap();
    assert!(name.contains("layer norm recurrent bias, gate n"), "{name}");
    // A gru-layer file too.
    let layer = net.gru_layers().next().unwrap();
    let w = GruWeights::new(layer.spec().unwrap(), layer.params().unwrap().clone()).unwrap();
    let file = dir.path().join("g.safetensors");
    gru::convert::gru_file::write(&file, &w).unwrap();
    let read = gru::convert::gru_file::read::<f64>(&file, &Default::default()).unwrap();
    assert_eq!(read, w);
}

/// The inference form: dropouts vanish (the ONNX GRU and PyTorch's nn.GRU are written, and
/// compute what our inference computes), zoneout's expectation and layer norm are refused
/// by name; code generation likewise.
#[test]
fn exports_write_the_inference_form_or_refuse() {
    let dropouts = Regularization::NONE.with_input_dropout(0.3).with_recurrent_dropout(0.3).with_weight_drop(0.3);
    let spec = GruSpec::new(3, 4).with_regularization(dropouts);
    let mut params = GruParams::<f32>::zeros(&spec);
    let flat: Vec<f32> = (0..params.num_params()).map(|i| ((i as f32) * 0.37).sin() * 0.5).collect();
    params.set_flat(&flat).unwrap();
    let w = GruWeights::new(spec.clone(), params).unwrap();
    let model = onnx::to_model(&w, &OnnxOptions::default()).unwrap();
    let (steps, batch) = (5, 2);
    let x: Vec<f32> = (0..steps * batch * 3).map(|i| ((i as f32) * 0.21).cos()).collect();
    let ours = verify::run_ours(&w, &x, steps, batch, None, OutputMode::Sequence).unwrap();
    let runtime = OnnxModel::<f32>::from_model(&model, std::path::Path::new("m.onnx")).unwrap();
    let lengths = Tensor::i32(vec![batch], vec![steps as i32; batch]).unwrap();
    let out = runtime
        .run(&[(onnx::INPUT, Tensor::f32(vec![steps, batch, 3], x.clone()).unwrap()), (onnx::LENGTHS, lengths)])
        .unwrap();
    let y = out.iter().find(|(k, _)| k == onnx::OUTPUT).unwrap().1.to_f64();
    assert_eq!(y, ours.y.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(), "the exported GRU is our inference");
    torch::to_tensors(&w, &TorchOptions::default()).unwrap();

    for (reg, field) in [
        (Regularization::NONE.with_zoneout(0.2), "regularization.zoneout"),
        (Regularization::NONE.with_layer_norm(true), "regularization.layer_norm"),
    ] {
        let spec = GruSpec::new(3, 4).with_regularization(reg);
        let w = GruWeights::new(spec.clone(), GruParams::<f32>::zeros(&spec)).unwrap();
        let results = [
            onnx::to_model(&w, &OnnxOptions::default()).map(drop),
            onnx::to_step_model(&w, &OnnxOptions::default()).map(drop),
            torch::to_tensors(&w, &TorchOptions::default()).map(drop),
        ];
        for r in results {
            match r {
                Err(Error::NotRepresentable { option, .. }) => assert_eq!(option, field),
                other => panic!("{field}: expected NotRepresentable, got {other:?}"),
            }
        }
        let net = network(reg);
        match gru::codegen::Plan::of(&net) {
            Err(Error::NotRepresentable { option, .. }) => assert_eq!(option, field),
            other => panic!("codegen {field}: {other:?}"),
        }
    }
}

/// Four classes of short 2-channel sequences.
fn toy_data(n: usize, seed: u64) -> SequenceDataset<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut seqs, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n {
        let class = i % 3;
        let len = rng.random_range(4..=9);
        let s = (0..2 * len).map(|k| ((k * (class + 1)) as f64 * 0.4).sin() + rng.random_range(-0.3..0.3)).collect();
        seqs.push(s);
        labels.push(class);
    }
    SequenceDataset::new(seqs, 2, Targets::Classes(labels)).unwrap()
}

fn options(epochs: usize, seed: u64) -> TrainingOptions {
    TrainingOptions {
        initial_learn_rate: Some(0.02),
        max_epochs: epochs,
        mini_batch_size: 8,
        seed,
        ..TrainingOptions::default()
    }
}

/// Training with every mask draws them from the trainer's seeded generator (one draw per GRU
/// layer and minibatch): the same seed trains to the same bits, another seed or no
/// regularizer to others, and a run stopped after an epoch and resumed from its checkpoint
/// ends where the uninterrupted run ends.
#[test]
fn training_with_regularizers_is_reproducible_and_resumes_exactly() {
    let data = toy_data(40, 3);
    let reg = Regularization::NONE
        .with_recurrent_dropout(0.4)
        .with_input_dropout(0.3)
        .with_zoneout(0.2)
        .with_weight_drop(0.3)
        .with_layer_norm(true);
    let run = |reg: Regularization, seed: u64, epochs: usize| {
        let mut net = network(reg);
        Trainer::new(&net, options(epochs, seed)).unwrap().fit(&mut net, &data, None, &mut |_| {}).unwrap();
        net
    };
    let whole = run(reg, 1, 2).params_flat();
    assert_eq!(whole, run(reg, 1, 2).params_flat());
    assert_ne!(whole, run(reg, 2, 2).params_flat());
    let masks_only = Regularization { layer_norm: false, ..reg };
    assert_ne!(run(masks_only, 1, 2).params_flat(), run(Regularization::NONE, 1, 2).params_flat());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.safetensors");
    let mut net = network(reg);
    let first = TrainingOptions { checkpoint_path: Some(path.clone()), ..options(1, 1) };
    Trainer::new(&net, first).unwrap().fit(&mut net, &data, None, &mut |_| {}).unwrap();
    let (mut resumed, mut trainer) = load_training_checkpoint::<f64>(&path).unwrap();
    trainer.options.max_epochs = 2;
    trainer.options.checkpoint_path = None;
    trainer.fit(&mut resumed, &data, None, &mut |_| {}).unwrap();
    assert_eq!(resumed.params_flat(), whole, "the resumed run differs");
}
