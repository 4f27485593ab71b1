//! A network's stream step (`NetworkStreams::step`) allocates nothing once it has run a step
//! of the largest `n` (the warm-up): the input normalization, the GRU layers' steps, the
//! dense, element-wise, softmax and output-transform layers and the targets'
//! denormalization all work in buffers kept across steps. The counting allocator of
//! gru-core's allocation tests counts this test's thread (the native engine's default
//! step runs on it: GRU layers of a few units do not split their units).

#[path = "../../gru-core/tests/common/mod.rs"]
mod common;

use common::allocations_during;
use gru::layers;
use gru::network::{
    activation, classification, fully_connected, gru, regression, sequence_input_zscore, softmax, Elementwise,
    LayerSpec, Network, Normalization, OutputTransform, TargetNormalization, Transformation,
};
use gru::{Real, StreamId};

fn network<T: Real>(specs: Vec<LayerSpec>) -> Network<T> {
    let mut net = Network::<T>::new(specs, 5).unwrap();
    let p: Vec<T> =
        net.params_flat().iter().enumerate().map(|(i, &p)| p + T::lit(0.2 * ((i as f64) * 0.618).sin())).collect();
    net.set_params_flat(&p).unwrap();
    net
}

/// Warms `net`'s streams up with a step of `capacity` streams, then counts the allocations
/// of 40 steps of 1 to `capacity` streams (with a reset among them).
fn warm_steps_allocate_nothing<T: Real>(what: &str, net: &Network<T>) {
    let capacity = 4;
    let mut streams = net.streams(capacity).unwrap();
    let ids: Vec<StreamId> = (0..capacity).map(|_| streams.open().unwrap()).collect();
    let c = streams.input_size();
    let frames: Vec<T> = (0..capacity * c).map(|i| T::lit((i as f64 * 0.37).sin())).collect();
    let k = streams.step(&frames, &ids).unwrap().len() / capacity;
    assert_eq!(k, net.output_width(), "{what}");
    let mut out = vec![T::zero(); k];
    let mut checksum = 0.0;
    assert!(allocations_during(|| drop(std::hint::black_box(vec![0u8; 16]))) >= 1);
    let count = allocations_during(|| {
        for round in 0..40 {
            let n = 1 + round % capacity;
            let y = streams.step(&frames[..n * c], &ids[..n]).unwrap();
            checksum += y[n * k - 1].widen();
            if round % 9 == 0 {
                streams.reset(&ids[..1]).unwrap();
                streams.step_into(&frames[..c], &ids[..1], &mut out).unwrap();
                checksum += out[0].widen();
            }
        }
    });
    assert!(checksum.is_finite(), "{what}");
    assert_eq!(count, 0, "{what}: {count} allocations in 40 warm steps");
}

#[test]
fn a_warm_network_stream_step_allocates_nothing() {
    let classifier = || {
        layers![
            sequence_input_zscore(3),
            gru(6).depth(2),
            fully_connected(5),
            activation(Elementwise::Tanh),
            gru(4),
            fully_connected(3),
            softmax(),
            classification()
        ]
    };
    let regressor = || {
        layers![
            sequence_input_zscore(3),
            gru(5),
            fully_connected(2),
            LayerSpec::OutputTransform(OutputTransform {
                transformations: vec![Transformation::Softplus, Transformation::Tanh],
                scale: vec![2.0, 0.5],
                shift: vec![0.1, -0.1],
            }),
            regression()
        ]
    };
    let stats = (vec![0.1, -0.2, 0.3], vec![1.5, 0.5, 2.0]);
    let target =
        |r: usize| TargetNormalization { kind: Normalization::Zscore, offset: vec![0.25; r], scale: vec![3.0; r] };

    let mut c32 = network::<f32>(classifier());
    c32.set_normalization(Some((
        stats.0.iter().map(|&v| v as f32).collect(),
        stats.1.iter().map(|&v| v as f32).collect(),
    )))
    .unwrap();
    warm_steps_allocate_nothing("f32 classifier", &c32);
    let mut r32 = network::<f32>(regressor());
    r32.set_normalization(Some((
        stats.0.iter().map(|&v| v as f32).collect(),
        stats.1.iter().map(|&v| v as f32).collect(),
    )))
    .unwrap();
    let t = target(2);
    r32.set_target_normalization(Some(TargetNormalization {
        kind: t.kind,
        offset: t.offset.iter().map(|&v| v as f32).collect(),
        scale: t.scale.iter().map(|&v| v as f32).collect(),
    }))
    .unwrap();
    warm_steps_allocate_nothing("f32 regressor", &r32);

    let mut c64 = network::<f64>(classifier());
    c64.set_normalization(Some(stats.clone())).unwrap();
    warm_steps_allocate_nothing("f64 classifier", &c64);
    let mut r64 = network::<f64>(regressor());
    r64.set_normalization(Some(stats)).unwrap();
    r64.set_target_normalization(Some(target(2))).unwrap();
    warm_steps_allocate_nothing("f64 regressor", &r64);
}
