//! Streaming through a layer (`GruLayer::streams`) and a network (`Network::streams`): a
//! stream's outputs are those of a whole-sequence `predict` / `forward` over its frames so
//! far, whatever the other streams do. f32 layers on the native engine: bit for bit where
//! the kernels are the panel ones (AVX-512, AVX2); networks (their dense layers' products
//! are the GEMM crate's, whose rounding may depend on the number of rows): within
//! `1e-10 · (1 + |ref|)` in f64.

use gru::layers;
use gru::network::{classification, fully_connected, gru, regression, sequence_input, softmax, Network};
use gru::{GruError, GruLayer, LayerInput, OutputMode, StreamId};

fn values(n: usize, seed: u64) -> Vec<f64> {
    (0..n).map(|i| ((i as f64 + 1.0) * 0.618 + seed as f64 * 1.7).sin()).collect()
}

fn net(specs: Vec<gru::network::LayerSpec>) -> Network<f64> {
    let mut net = Network::<f64>::new(specs, 5).unwrap();
    let p: Vec<f64> =
        net.params_flat().iter().zip(values(net.params_flat().len(), 1)).map(|(p, v)| p + 0.3 * v).collect();
    net.set_params_flat(&p).unwrap();
    net
}

fn close(what: &str, a: &[f64], r: &[f64]) {
    assert_eq!(a.len(), r.len(), "{what}");
    for (i, (&v, &w)) in a.iter().zip(r).enumerate() {
        assert!((v - w).abs() <= 1e-10 * (1.0 + w.abs()), "{what}[{i}]: stream {v} vs forward {w}");
    }
}

/// Two streams of 5 frames, interleaved (stream 1 starts two frames late, stream 0 is reset
/// after its third frame), each against `forward` of its frames so far as one sequence.
fn check_network(network: Network<f64>, per_step: bool) {
    let mut reference = copy(&network);
    let (c, k) = (network.input_size(), network.output_width());
    let x = [values(5 * c, 2), values(5 * c, 3)];
    let mut outputs: Vec<Vec<Vec<f64>>> = vec![Vec::new(), Vec::new()];
    let mut history: Vec<Vec<f64>> = vec![Vec::new(), Vec::new()];
    {
        let mut streams = network.streams(4).unwrap();
        let ids: Vec<StreamId> = (0..2).map(|_| streams.open().unwrap()).collect();
        for t in 0..7usize {
            let mut step_ids = Vec::new();
            let mut frames = Vec::new();
            for (s, xs) in x.iter().enumerate() {
                let local = if s == 0 { t } else { t.wrapping_sub(2) };
                if local < 5 {
                    step_ids.push(s);
                    frames.extend_from_slice(&xs[local * c..(local + 1) * c]);
                }
            }
            let ids_now: Vec<StreamId> = step_ids.iter().map(|&s| ids[s]).collect();
            let y = streams.step(&frames, &ids_now).unwrap();
            assert_eq!(y.len(), ids_now.len() * k);
            for (i, &s) in step_ids.iter().enumerate() {
                history[s].extend_from_slice(&frames[i * c..(i + 1) * c]);
                outputs[s].push(y[i * k..(i + 1) * k].to_vec());
                // Check against the whole history now (then the stream may be reset).
                let len = history[s].len() / c;
                let pass = reference.forward(&history[s], len, &[len], None, None).unwrap().output;
                let want = if per_step { &pass[(len - 1) * k..] } else { &pass[..] };
                close(&format!("stream {s} frame {len}"), &y[i * k..(i + 1) * k], want);
            }
            if t == 2 {
                streams.reset(&[ids[0]]).unwrap();
                history[0].clear();
            }
        }
        assert_eq!(streams.len(), 2);
        streams.close(ids[1]).unwrap();
        assert!(matches!(streams.step(&x[1][..c], &[ids[1]]), Err(gru::Error::Core(GruError::UnknownStream { .. }))));
    }
}

/// A copy of `n` to run `forward` on (it needs `&mut`) while `n` streams.
fn copy(n: &Network<f64>) -> Network<f64> {
    let mut c = Network::<f64>::new(n.specs().to_vec(), n.seed()).unwrap();
    c.set_params_flat(&n.params_flat()).unwrap();
    c
}

#[test]
fn a_sequence_network_streams_like_its_forward() {
    let network = net(layers![sequence_input(3), gru(5).depth(2), fully_connected(2), regression()]);
    check_network(network, true);
}

#[test]
fn a_sequence_to_one_network_streams_the_prediction_of_each_prefix() {
    let network = net(layers![
        sequence_input(2),
        gru(4),
        gru(6).output_mode(OutputMode::Last),
        fully_connected(3),
        softmax(),
        classification()
    ]);
    check_network(network, false);
}

/// A layer's streams start from its learnable initial state and equal `predict` bit for
/// bit (f32, panel kernels) or within the f32 rule.
#[test]
fn layer_streams_start_from_the_learnable_initial_state() {
    let mut layer = GruLayer::<f32>::builder(6).input_size(3).learnable_initial_state(true).seed(4).build().unwrap();
    let h0: Vec<f32> = (0..6).map(|i| 0.1 * i as f32 - 0.2).collect();
    layer.set_initial_state(h0.clone()).unwrap();
    let x: Vec<f32> = values(4 * 3, 9).iter().map(|&v| v as f32).collect();
    let whole = layer.predict(&LayerInput::tbc(&x, 4, 1, 3)).unwrap();
    let mut set = layer.streams(2).unwrap();
    let id = set.open().unwrap();
    assert_eq!(set.state(id).unwrap(), &h0[..]);
    let exact = gru::kernel_isa() != "portable";
    for t in 0..4 {
        let y = set.step(&x[t * 3..(t + 1) * 3], &[id]).unwrap();
        for (j, (&v, &w)) in y.iter().zip(&whole.out[t * 6..(t + 1) * 6]).enumerate() {
            let ok = if exact { v.to_bits() == w.to_bits() } else { (v - w).abs() <= 1e-5 * (1.0 + w.abs()) };
            assert!(ok, "t {t} [{j}]: {v} vs {w}");
        }
    }
    set.reset(&[id]).unwrap();
    assert_eq!(set.state(id).unwrap(), &h0[..]);

    let bi = GruLayer::<f32>::builder(4).input_size(2).bidirectional(true).build().unwrap();
    match bi.streams(2) {
        Err(gru::Error::Core(GruError::Unsupported { field, .. })) => assert_eq!(field, "bidirectional"),
        other => panic!("{other:?}"),
    }
    let auto = GruLayer::<f32>::builder(4).build().unwrap();
    assert!(auto.streams(2).is_err(), "InputSize auto has no weights yet");
}
