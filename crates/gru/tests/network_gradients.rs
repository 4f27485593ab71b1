//! f64 finite-difference checks of whole networks: every learnable value of GRU (all
//! options), dropout, fully connected, softmax, classification (with class weights) and
//! regression layers, sequence-to-one and sequence-to-sequence, with normalization and a
//! learnable initial state.

use gru::layers;
use gru::network::{
    classification_weighted, dropout, fully_connected, gru, regression, sequence_input, sequence_input_zscore, softmax,
    LayerSpec, LossTargets, Network,
};
use gru::{GateActivation, OutputMode, ResetGateMode, SequenceDataset, StateActivation, Targets};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn values(n: usize, seed: u64) -> Vec<f64> {
    (0..n).map(|i| ((i as f64 + 1.0) * 0.618 + seed as f64 * 1.7).sin()).collect()
}

/// Loss of one training pass with the dropout masks of `mask_seed`, and its gradient.
fn loss_and_grads(
    net: &mut Network<f64>,
    x: &[f64],
    steps: usize,
    lengths: &[usize],
    targets: &LossTargets<'_>,
) -> (f64, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let pass = net.forward(x, steps, lengths, None, Some(&mut rng)).unwrap();
    let (stats, d) = gru::network::loss_and_grad(net, &pass, targets).unwrap();
    let g = net.backward(pass, &d).unwrap();
    (stats.loss, g)
}

fn check(specs: Vec<LayerSpec>, targets: LossTargets<'_>, fit: Option<&SequenceDataset<f64>>) {
    let (steps, lengths) = (4, [4usize, 1, 3]);
    let mut net = Network::<f64>::new(specs, 5).unwrap();
    if let Some(d) = fit {
        net.fit_normalization(d).unwrap();
        assert!(net.normalization().is_some());
    }
    // Move parameters away from their initial values (zero biases, zero initial state).
    let p0: Vec<f64> =
        net.params_flat().iter().zip(values(net.params_flat().len(), 1)).map(|(p, v)| p + 0.3 * v).collect();
    net.set_params_flat(&p0).unwrap();
    let x = values(steps * lengths.len() * net.input_size(), 2);
    let (_, grads) = loss_and_grads(&mut net, &x, steps, &lengths, &targets);
    assert_eq!(grads.len(), p0.len());
    let eps = 1e-6;
    let (mut checked, mut kinks) = (0, 0);
    for i in 0..p0.len() {
        let mut eval = |d: f64| {
            let mut p = p0.clone();
            p[i] += d;
            net.set_params_flat(&p).unwrap();
            loss_and_grads(&mut net, &x, steps, &lengths, &targets).0
        };
        let (lp, l0, lm) = (eval(eps), eval(0.0), eval(-eps));
        if ((lp - l0) - (l0 - lm)).abs() / eps > 1e-4 * (1.0 + ((lp - l0) / eps).abs()) {
            kinks += 1;
            continue;
        }
        let fd = (lp - lm) / (2.0 * eps);
        assert!(
            (fd - grads[i]).abs() <= 1e-6 * (1.0 + fd.abs()),
            "param {i}: analytic {} vs finite difference {fd}",
            grads[i]
        );
        checked += 1;
    }
    assert!(kinks * 50 <= checked, "{kinks} kinks of {checked}");
}

#[test]
fn sequence_to_one_classifier_with_every_layer() {
    let data = SequenceDataset::new(vec![values(12, 3), values(6, 4)], 3, Targets::Classes(vec![0, 1])).unwrap();
    let specs = layers![
        sequence_input_zscore(3),
        gru(3)
            .reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication)
            .bidirectional(true)
            .learnable_initial_state(true)
            .output_mode(OutputMode::Last),
        dropout(0.25),
        fully_connected(3),
        softmax(),
        classification_weighted(vec!["a".into(), "b".into(), "c".into()], vec![1.0, 2.0, 0.5]),
    ];
    check(specs, LossTargets::Classes(vec![Some(0), Some(2), Some(1)]), Some(&data));
}

#[test]
fn sequence_to_sequence_regressor_with_stacked_dropout() {
    let specs = layers![
        sequence_input(2),
        gru(3).depth(2).dropout(0.3).state_activation_function(StateActivation::Softsign),
        gru(2).reset_gate_mode(ResetGateMode::BeforeMultiplication),
        dropout(0.2),
        fully_connected(2),
        regression(),
    ];
    let r = [values(8, 5), values(2, 6), values(6, 7)];
    check(specs, LossTargets::ResponseSteps(r.iter().map(|v| &v[..]).collect()), None);
}

#[test]
fn sequence_to_one_regressor_with_hard_sigmoid_and_clip() {
    let specs = layers![
        sequence_input(2),
        gru(3)
            .depth(2)
            .gate_activation_function(GateActivation::HARD_SIGMOID)
            .clip(Some(1.5))
            .output_mode(OutputMode::Last),
        fully_connected(2),
        regression(),
    ];
    let r = [values(2, 8), values(2, 9), values(2, 10)];
    check(specs, LossTargets::Responses(r.iter().map(|v| Some(&v[..])).collect()), None);
}

#[test]
fn sequence_to_sequence_classifier() {
    let specs = layers![sequence_input(2), gru(3), fully_connected(2), softmax(), gru::network::classification()];
    let c: [&[usize]; 3] = [&[0, 1, 1, 0], &[1], &[0, 0, 1]];
    check(specs, LossTargets::ClassSteps(c.to_vec()), None);
}

#[test]
fn korali_style_network_with_activations_and_output_transform() {
    use gru::network::{activation, Elementwise, OutputTransform, Transformation};
    let specs = layers![
        sequence_input(2),
        gru(3).reset_gate_mode(ResetGateMode::BeforeMultiplication).output_mode(OutputMode::Last),
        fully_connected(4),
        activation(Elementwise::Tanh),
        fully_connected(4),
        activation(Elementwise::Softrelu),
        fully_connected(2),
        activation(Elementwise::Logistic),
        LayerSpec::OutputTransform(OutputTransform {
            transformations: vec![Transformation::Softplus, Transformation::Tanh],
            scale: vec![2.0, 0.5],
            shift: vec![0.1, -0.3],
        }),
        regression(),
    ];
    let r = [values(2, 11), values(2, 12), values(2, 13)];
    check(specs, LossTargets::Responses(r.iter().map(|v| Some(&v[..])).collect()), None);
}
