//! Training checkpoints written by an earlier build load and resume bit-identically.
//!
//! `tests/data/checkpoints/{solver}.safetensors` are checkpoints after epoch 1 of a small run
//! (every MATLAB solver, with L2, clipping, a schedule, validation and the best-validation
//! network, so that the optimizer state, `best.params` and the history are all in the file);
//! `{solver}.final.safetensors` is the network the same build trained without interruption
//! to epoch 2. Both were written before the architecture refactor (commit 25341a3) with
//! `GRU_WRITE_CHECKPOINT_FIXTURES=<dir> cargo test -p gru --test checkpoint_compat`.
//! Resuming here must give that network bit for bit. (The `checkpoint_path` stored in the
//! three checkpoints' options was rewritten afterwards, byte for byte of the same length, from
//! the temporary folder they were written in to their path in the repository.)

use std::path::{Path, PathBuf};

use gru::io::{verify_checksum, Checksum, SafetensorsFile};
use gru::layers;
use gru::network::{classification, fully_connected, gru, sequence_input, softmax, Network};
use gru::train::batching::Shuffle;
use gru::train::optim::{GradientThresholdMethod, LearnRateSchedule, Solver};
use gru::train::{load_training_checkpoint, OutputNetwork};
use gru::{OutputMode, SequenceDataset, Targets, Trainer, TrainingOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Two classes of noisy 2-channel sequences (rising or falling), length 3..=9.
fn data(n: usize, seed: u64) -> SequenceDataset<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut seqs, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n {
        let (class, len) = (i % 2, rng.random_range(3..=9));
        let slope = if class == 0 { 0.3 } else { -0.3 };
        let s: Vec<f32> = (0..len * 2).map(|k| (slope * (k / 2) as f64 + rng.random_range(-0.2..0.2)) as f32).collect();
        seqs.push(s);
        labels.push(class);
    }
    SequenceDataset::new(seqs, 2, Targets::Classes(labels)).expect("valid data")
}

fn options(solver: Solver, epochs: usize, checkpoint: Option<PathBuf>) -> TrainingOptions {
    TrainingOptions {
        solver,
        initial_learn_rate: Some(0.03),
        learn_rate_schedule: LearnRateSchedule::Piecewise { drop_factor: 0.5, drop_period: 1 },
        l2_regularization: 1e-3,
        gradient_threshold_method: GradientThresholdMethod::L2Norm,
        gradient_threshold: 0.5,
        max_epochs: epochs,
        mini_batch_size: 4,
        shuffle: Shuffle::EveryEpoch,
        validation_frequency: 3,
        output_network: OutputNetwork::BestValidationLoss,
        seed: 5,
        checkpoint_path: checkpoint,
        ..TrainingOptions::default()
    }
}

fn network() -> Network<f32> {
    let specs = layers![
        sequence_input(2),
        gru(3).output_mode(OutputMode::Last),
        fully_connected(2),
        softmax(),
        classification()
    ];
    Network::new(specs, 3).expect("the network builds")
}

fn solvers() -> [(&'static str, Solver); 3] {
    [("sgdm", Solver::sgdm()), ("adam", Solver::adam()), ("rmsprop", Solver::rmsprop())]
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/checkpoints")
}

/// Writes the fixtures to `dir` (run with the build whose checkpoints are to be kept).
fn write_fixtures(dir: &Path) {
    let (train, val) = (data(16, 1), data(8, 2));
    for (name, solver) in solvers() {
        let path = dir.join(format!("{name}.safetensors"));
        let mut first = network();
        let mut trainer = Trainer::new(&first, options(solver, 1, Some(path))).expect("trainer");
        trainer.fit(&mut first, &train, Some(&val), &mut |_| {}).expect("epoch 1");
        let mut whole = network();
        let mut trainer = Trainer::new(&whole, options(solver, 2, None)).expect("trainer");
        trainer.fit(&mut whole, &train, Some(&val), &mut |_| {}).expect("epochs 1 and 2");
        whole.save(&dir.join(format!("{name}.final.safetensors"))).expect("saved");
    }
}

#[test]
fn checkpoints_of_an_earlier_build_resume_bit_identically() {
    if let Some(dir) = std::env::var_os("GRU_WRITE_CHECKPOINT_FIXTURES") {
        write_fixtures(Path::new(&dir));
        return;
    }
    let (train, val) = (data(16, 1), data(8, 2));
    for (name, _) in solvers() {
        let (mut resumed, mut trainer) =
            load_training_checkpoint::<f32>(&fixtures().join(format!("{name}.safetensors"))).expect("it loads");
        assert_eq!((trainer.state.epoch, trainer.options.solver.name()), (1, name));
        trainer.options.max_epochs = 2;
        trainer.options.checkpoint_path = None;
        trainer.fit(&mut resumed, &train, Some(&val), &mut |_| {}).expect("epoch 2");
        let want = Network::<f32>::load(&fixtures().join(format!("{name}.final.safetensors"))).expect("it loads");
        let bits = |n: &Network<f32>| n.params_flat().iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
        assert_eq!(bits(&resumed), bits(&want), "{name}");
    }
}

/// The fixtures predate the checksum: they load (above) and say they have none; a checkpoint
/// written now has one, and a flipped byte of its data is a typed error, not another run.
#[test]
fn checkpoints_carry_a_checksum_and_older_ones_load_without() {
    for (name, _) in solvers() {
        let file = SafetensorsFile::read(&fixtures().join(format!("{name}.safetensors"))).expect("it reads");
        assert_eq!(verify_checksum(&file).expect("no mismatch"), Checksum::Absent, "{name}");
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("c.safetensors");
    let mut net = network();
    let mut trainer = Trainer::new(&net, options(Solver::adam(), 1, Some(path.clone()))).expect("trainer");
    trainer.fit(&mut net, &data(8, 1), Some(&data(4, 2)), &mut |_| {}).expect("epoch 1");
    let file = SafetensorsFile::read(&path).expect("it reads");
    assert_eq!(verify_checksum(&file).expect("it matches"), Checksum::Verified);
    let mut bytes = std::fs::read(&path).expect("it reads");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).expect("it writes");
    match load_training_checkpoint::<f32>(&path) {
        Err(gru::Error::ChecksumMismatch { .. }) => {}
        other => panic!("expected a checksum mismatch, got {:?}", other.map(|_| "a checkpoint")),
    }
}
