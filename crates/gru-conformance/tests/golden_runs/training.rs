//! The golden training runs (see `golden_training.rs`): the demo network on the shipped
//! GestureShapes data with each MATLAB solver and the options that change the step (L2,
//! gradient clipping by each method, a piecewise schedule, truncated BPTT, validation,
//! f64), and Korali's sine experiment with each Korali optimizer. The hash covers the
//! trained parameters and every loss the run reported. The caller fixes the threads
//! (`RAYON_NUM_THREADS=2`, as recorded) before the first run.

use std::collections::BTreeMap;

use gru::layers;
use gru::network::{classification, fully_connected, gru as gru_layer, sequence_input_zscore, softmax, Network};
use gru::{OutputMode, Real, SequenceDataset, Trainer, TrainingOptions};
use gru_conformance::golden::Fingerprint;
use serde_json::json;

fn demo_data<T: Real>() -> (SequenceDataset<T>, SequenceDataset<T>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo");
    let load = |f: &str| gru::data::load_any::<T>(&dir.join(f)).expect("the shipped demo data loads");
    (load("GestureShapes_TRAIN.ts"), load("GestureShapes_TEST.ts"))
}

fn demo_run<T: Real>(options: serde_json::Value, hidden: usize, depth: usize) -> u64 {
    let (train, test) = demo_data::<T>();
    let specs = layers![
        sequence_input_zscore(train.channels),
        gru_layer(hidden).depth(depth).output_mode(OutputMode::Last),
        fully_connected(train.class_names.len()),
        softmax(),
        classification()
    ];
    let mut net = Network::<T>::new(specs, 1).expect("the demo network builds");
    net.set_class_names(train.class_names.clone()).expect("class names");
    let options: TrainingOptions = serde_json::from_value(options).expect("valid options");
    let mut trainer = Trainer::new(&net, options).expect("trainer");
    let report = trainer.fit(&mut net, &train, Some(&test), &mut |_| {}).expect("training runs");
    let mut f = Fingerprint::default();
    f.values(&net.params_flat());
    let losses: Vec<f64> = report.history.iterations.iter().map(|r| r.loss).collect();
    f.values(&losses);
    let validation: Vec<f64> = report.history.validations.iter().map(|r| r.loss).collect();
    f.values(&validation);
    f.finish()
}

fn korali_run(optimizer: &str, l2: bool) -> u64 {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/korali/sine_rnn_experiment.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the example ships")).expect("JSON");
    v["Solver"]["Optimizer"] = json!(optimizer);
    v["Solver"]["Learning Rate"] = json!(0.005);
    v["Solver"]["Termination Criteria"]["Max Generations"] = json!(3);
    v["Solver"]["Steps Per Generation"] = json!(5);
    if l2 {
        v["Solver"]["L2 Regularization"] = json!({"Enabled": true, "Importance": 0.01});
        v["Problem"]["Training Batch Size"] = json!(100);
    }
    let (exp, _) = gru::korali::KoraliExperiment::from_json(&v).expect("the experiment parses");
    let (net, reports) = exp.train::<f32>(&mut |_| {}).expect("the experiment trains");
    let mut f = Fingerprint::default();
    f.values(&net.params_flat());
    f.values(&reports.iter().map(|r| r.loss).collect::<Vec<f64>>());
    f.finish()
}

/// The hashes of `golden/training.txt`.
pub fn runs() -> BTreeMap<String, u64> {
    // MATLAB's minibatching, as the runs were recorded with (the defaults now train on the
    // partial minibatch and reshuffle every epoch).
    let base = json!({
        "max_epochs": 3,
        "mini_batch_size": 32,
        "validation_frequency": 5,
        "seed": 1,
        "shuffle": "once",
        "partial_mini_batch": "discard"
    });
    let with = |extra: serde_json::Value| {
        let mut o = base.clone();
        for (k, v) in extra.as_object().expect("an object") {
            o[k] = v.clone();
        }
        o
    };
    let mut out = BTreeMap::new();
    out.insert("demo/adam".into(), demo_run::<f32>(with(json!({"initial_learn_rate": 0.01})), 64, 1));
    out.insert(
        "demo/sgdm_l2_clip_l2norm_piecewise".into(),
        demo_run::<f32>(
            with(json!({
                "solver": {"name": "sgdm", "momentum": 0.8},
                "initial_learn_rate": 0.05,
                "l2_regularization": 0.001,
                "gradient_threshold": 0.5,
                "learn_rate_schedule": {"name": "piecewise", "drop_factor": 0.5, "drop_period": 1}
            })),
            32,
            1,
        ),
    );
    out.insert(
        "demo/rmsprop_global_clip_truncated_f64".into(),
        demo_run::<f64>(
            with(json!({
                "solver": {"name": "rmsprop", "squared_gradient_decay": 0.95, "epsilon": 1e-7},
                "initial_learn_rate": 0.003,
                "gradient_threshold_method": "global-l2norm",
                "gradient_threshold": 1.0,
                "sequence_length": 20,
                "shuffle": "every-epoch"
            })),
            16,
            2,
        ),
    );
    out.insert(
        "demo/adam_absolute_clip_left_padding_best".into(),
        demo_run::<f32>(
            with(json!({
                "initial_learn_rate": 0.01,
                "gradient_threshold_method": "absolute-value",
                "gradient_threshold": 0.05,
                "sequence_padding_direction": "left",
                "output_network": "best-validation-loss"
            })),
            24,
            1,
        ),
    );
    for opt in ["Adam", "AdaBelief", "MADGRAD", "RMSProp", "Adagrad"] {
        out.insert(format!("korali/{opt}"), korali_run(opt, false));
    }
    out.insert("korali/Adam_l2_minibatch".into(), korali_run("Adam", true));
    out
}
