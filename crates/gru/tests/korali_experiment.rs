//! A Korali supervised-learning experiment trains unchanged: Korali's RNN sine example as
//! JSON, the optimizers, the loss functions and the errors a Korali user can make.

use gru::korali::KoraliOptimizer;
use gru::korali::{predict_sequences, KoraliExperiment, KoraliLoss};
use gru::{Error, ResetGateMode};
use serde_json::{json, Value};

fn example() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/korali/sine_rnn_experiment.json"))
            .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn short(mut v: Value, generations: usize, steps: usize) -> KoraliExperiment {
    v["Solver"]["Termination Criteria"]["Max Generations"] = json!(generations);
    v["Solver"]["Steps Per Generation"] = json!(steps);
    KoraliExperiment::from_json(&v).unwrap().0
}

#[test]
fn the_sine_example_loads_with_korali_semantics() {
    let (exp, warnings) = KoraliExperiment::from_json(&example()).unwrap();
    let paths: Vec<&str> = warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, vec!["[\"Console Output\"]", "[\"File Output\"]"]);
    let (p, s) = (&exp.problem, &exp.solver);
    assert_eq!(
        (p.input.len(), p.max_timesteps, p.input_size, p.solution_size, p.training_batch_size),
        (500, 5, 1, 1, 500)
    );
    assert!(p.input.iter().all(|seq| (1..=5).contains(&seq.len())));
    assert_eq!(
        (s.loss, s.optimizer, s.learning_rate, s.steps_per_generation, s.max_generations),
        (KoraliLoss::MeanSquaredError, KoraliOptimizer::AdaBelief, 1e-4, 20, 100)
    );
    assert_eq!(s.network.gru_layers().next().unwrap().reset_gate_mode, ResetGateMode::BeforeMultiplication);
    assert_eq!(exp.random_seed, 0xC0FFEE);
    let specs = serde_json::to_value(exp.layer_specs().unwrap()).unwrap();
    assert_eq!(specs[1]["type"], "gru");
    assert_eq!(specs[1]["output_mode"], "last");
    assert_eq!(specs[2], json!({"type": "fully-connected", "output_size": 1}));
}

#[test]
fn training_lowers_the_loss_and_predicts_korali_inputs() {
    let exp = short(example(), 3, 10);
    let mut seen = Vec::new();
    let (mut net, reports) = exp.train::<f32>(&mut |r| seen.push(r.generation)).unwrap();
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(reports.last().unwrap().steps, 30);
    // The reported loss is ½ Σ (y - ŷ)² / N of the generation's last step.
    let out = predict_sequences(&mut net, &exp.problem.input, 100).unwrap();
    let half_mse: f64 =
        out.iter().zip(&exp.problem.solution).map(|(y, t)| 0.5 * (y[0] - t[0]).powi(2)).sum::<f64>() / out.len() as f64;
    let last = reports.last().unwrap().loss;
    assert!((half_mse - last).abs() < 0.02 * last, "{half_mse} vs reported {last}");
    // More generations lower it further (all five optimizers).
    for opt in ["Adam", "AdaBelief", "MADGRAD", "RMSProp", "Adagrad"] {
        let mut v = example();
        v["Solver"]["Optimizer"] = json!(opt);
        v["Solver"]["Learning Rate"] = json!(0.01);
        let exp = short(v, 4, 5);
        let (_, reports) = exp.train::<f32>(&mut |_| {}).unwrap();
        assert!(reports[3].loss < reports[0].loss, "{opt}: {:?}", reports.iter().map(|r| r.loss).collect::<Vec<_>>());
    }
}

#[test]
fn direct_gradient_steps_like_mean_squared_error_with_the_same_gradient() {
    // Korali ascends the gradients it is given: Direct Gradient data g = ŷ - y make the
    // same step as MSE with targets ŷ.
    let mse = short(example(), 1, 1);
    let mut net = mse.build_network::<f64>().unwrap();
    let y0 = predict_sequences(&mut net, &mse.problem.input, 500).unwrap();
    let mut v = example();
    v["Solver"]["Loss Function"] = json!("Direct Gradient");
    let g: Vec<Vec<f64>> = y0.iter().zip(&mse.problem.solution).map(|(y, t)| vec![t[0] - y[0]]).collect();
    v["Problem"]["Solution"]["Data"] = json!(g);
    let direct = short(v, 1, 1);
    let (a, _) = mse.train::<f64>(&mut |_| {}).unwrap();
    let (b, _) = direct.train::<f64>(&mut |_| {}).unwrap();
    for (p, q) in a.params_flat().iter().zip(b.params_flat()) {
        assert!((p - q).abs() < 1e-12);
    }
}

#[test]
fn optimizer_is_accepted_in_the_network_section_and_l2_applies() {
    let mut v = example();
    v["Solver"].as_object_mut().unwrap().remove("Optimizer");
    v["Solver"]["Neural Network"]["Optimizer"] = json!("RMSProp");
    v["Solver"]["L2 Regularization"] = json!({"Enabled": true, "Importance": 0.5});
    let (exp, _) = KoraliExperiment::from_json(&v).unwrap();
    assert_eq!((exp.solver.optimizer, exp.solver.l2_importance), (KoraliOptimizer::RmsProp, Some(0.5)));
    v["Solver"]["L2 Regularization"]["Enabled"] = json!(false);
    assert_eq!(KoraliExperiment::from_json(&v).unwrap().0.solver.l2_importance, None);
}

#[test]
fn korali_users_mistakes_are_typed_errors_with_paths() {
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|v| v["Solver"]["Neural Network"]["Hidden Layers"][0]["Type"] = json!("Layer/Recurrent/LSTM")),
            "LSTM",
        ),
        (Box::new(|v| v["Solver"]["Stepz Per Generation"] = json!(3)), "Steps Per Generation"),
        (Box::new(|v| v["Problem"]["Type"] = json!("Reinforcement Learning")), "[\"Problem\"][\"Type\"]"),
        (Box::new(|v| v["Solver"]["Optimizer"] = json!("Adamax")), "[\"Solver\"][\"Optimizer\"]"),
        (Box::new(|v| v["Problem"]["Max Timesteps"] = json!(3)), "Max Timesteps = 3"),
        (
            Box::new(|v| v["Problem"]["Solution"]["Data"].as_array_mut().unwrap().pop().map(drop).unwrap_or(())),
            "one entry per input sequence",
        ),
        (Box::new(|v| v["Problem"]["Input"]["Data"][0][0] = json!([1.0, 2.0])), "expected 1 values"),
        (Box::new(|v| v["Solver"]["Learning Rate"] = json!("fast")), "[\"Solver\"][\"Learning Rate\"]"),
        (Box::new(|v| v["Solver"]["Termination Criteria"] = json!({})), "Max Generations"),
        (Box::new(|v| v["Solver"]["Loss Function"] = json!("Cross Entropy")), "loss function"),
    ];
    for (mutate, expect) in cases {
        let mut v = example();
        mutate(&mut v);
        let err = KoraliExperiment::from_json(&v).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(expect), "expected {expect:?} in: {text}");
        assert!(matches!(err, Error::Config { .. } | Error::UnknownKey { .. } | Error::Unsupported { .. }), "{err:?}");
    }
}
