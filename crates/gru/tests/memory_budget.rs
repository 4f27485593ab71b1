//! Absurd sizes are typed errors, not aborted processes: every way a network comes to be is
//! checked against the memory budget before anything is allocated. Every test of this binary
//! runs under a process budget of 1 GiB (`MemoryBudget::set_process_default`), whatever the
//! machine has.

use gru::korali::KoraliExperiment;
use gru::layers;
use gru::memory::MemoryBudget;
use gru::network::{fully_connected, gru, regression, sequence_input, LayerSpec, Network};
use gru::{Error, GruLayer, OutputMode, SequenceDataset, Targets, Trainer, TrainingOptions};

const GIB: u64 = 1 << 30;

fn budget() {
    MemoryBudget::set_process_default(Some(GIB));
}

/// The field and value of a [`Error::MemoryBudget`], checking its bytes and budget.
fn refused(err: Error) -> (String, String) {
    let Error::MemoryBudget { field, value, bytes, budget, .. } = &err else { panic!("{err:?}") };
    assert!(*bytes > *budget && *budget == GIB, "{err}");
    let text = err.to_string();
    assert!(text.contains("more than the memory budget of 1073741824 bytes (1.0 GiB, given)"), "{text}");
    (field.clone(), value.clone())
}

#[test]
fn layer_arrays_beyond_the_budget_are_refused_naming_the_field() {
    budget();
    let cases: [(Vec<LayerSpec>, &str, &str); 3] = [
        (
            layers![sequence_input(3), gru(1_000_000_000), fully_connected(1), regression()],
            "layers[1].num_hidden_units",
            "1000000000",
        ),
        (
            layers![sequence_input(3), gru(64).depth(1_000_000), fully_connected(1), regression()],
            "layers[1].depth",
            "1000000",
        ),
        (
            layers![sequence_input(3), gru(8), fully_connected(1_000_000_000), regression()],
            "layers[2].output_size",
            "1000000000",
        ),
    ];
    for (specs, field, value) in cases {
        let err = Network::<f32>::new(specs, 0).unwrap_err();
        assert_eq!(refused(err), (field.to_string(), value.to_string()));
    }
    // The same from JSON (what `gru train --network` and model files read).
    let json = r#"[{"type": "sequence-input", "input_size": 2}, {"type": "gru", "num_hidden_units": 100000},
                   {"type": "fully-connected", "output_size": 1}, {"type": "regression"}]"#;
    let specs: Vec<LayerSpec> = serde_json::from_str(json).unwrap();
    assert_eq!(refused(Network::<f64>::new(specs, 0).unwrap_err()).0, "layers[1].num_hidden_units");
}

#[test]
fn a_gru_layer_beyond_the_budget_is_refused_when_its_weights_are_drawn() {
    budget();
    let err = GruLayer::<f32>::builder(1_000_000_000).input_size(3).build().unwrap_err();
    assert_eq!(refused(err), ("NumHiddenUnits".to_string(), "1000000000".to_string()));
    // "auto" input size: refused at the first input, which would draw them.
    let mut layer = GruLayer::<f32>::builder(20_000).build().unwrap();
    let err = layer.resolve_input_size(1).unwrap_err();
    assert_eq!(refused(err).0, "NumHiddenUnits");
}

#[test]
fn a_korali_experiment_beyond_the_budget_names_its_key() {
    budget();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/korali/sine_rnn_experiment.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["Solver"]["Neural Network"]["Hidden Layers"][0]["Output Channels"] = 1e9.into();
    let (exp, _) = KoraliExperiment::from_json(&v).unwrap();
    let err = exp.train::<f32>(&mut |_| {}).unwrap_err();
    let field = "[\"Solver\"][\"Neural Network\"][\"Hidden Layers\"][0][\"Output Channels\"]";
    assert_eq!(refused(err), (field.to_string(), "1000000000".to_string()));
}

#[test]
fn training_whose_batch_activations_exceed_the_budget_is_refused_before_the_first_step() {
    budget();
    // 64 sequences of 2000 steps through 512 units: about 3 GiB of activations per batch.
    let seqs = vec![vec![0.5f32; 2000]; 64];
    let data = SequenceDataset::new(seqs, 1, Targets::Responses(vec![vec![1.0]; 64])).unwrap();
    let specs = layers![sequence_input(1), gru(512).output_mode(OutputMode::Last), fully_connected(1), regression()];
    let mut net = Network::<f32>::new(specs, 0).unwrap();
    let before = net.params_flat();
    let opts = TrainingOptions { mini_batch_size: 64, max_epochs: 1, ..TrainingOptions::default() };
    let mut trainer = Trainer::new(&net, opts).unwrap();
    let err = trainer.fit(&mut net, &data, None, &mut |_| panic!("a step was taken")).unwrap_err();
    assert_eq!(refused(err), ("MiniBatchSize".to_string(), "64 (sequences of up to 2000 steps)".to_string()));
    assert_eq!(net.params_flat(), before);
}
