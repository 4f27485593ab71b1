//! Mutation fuzzing of the readers of files users hand us, on stable Rust (cargo-fuzz
//! needs nightly): the data loaders (.ts, .tsv, CSV, NPY, NPZ), the model-file and
//! checkpoint readers, the ONNX reader, the converters' weight readers and the JSON
//! configurations (layer arrays, Korali, GRU specs, training options). Each target starts from a seed corpus (the
//! committed fixtures and small well-formed files written here), mutates it with a seeded generator (bit flips,
//! interesting bytes, deletions, duplications, insertions, truncations, splices of two
//! seeds) and runs the reader on every mutant, for `GRU_FUZZ_SECONDS` seconds per target
//! (default 2; CI sets 20; `GRU_FUZZ_SEED` picks other mutants). A reader may refuse any
//! input with an error; it must never panic. A panic writes the input to `target/fuzz-crashes/` and fails the test: commit it
//! under `tests/fuzz/<target>/` and it is replayed on every run from then on (the
//! committed regressions run before the mutations).
//!
//! The model-file seeds include files without a checksum (the committed checkpoints of an
//! earlier build, and fresh files with it removed): a mutant of a file with one fails the
//! checksum, so only those reach the model JSON and tensor checks behind it.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gru::convert::onnx;
use gru::data::{
    parse_csv, parse_korali, parse_korali_inputs, parse_npy, parse_npz, parse_ts, parse_ts_inputs, parse_ucr_tsv,
    CsvLayout, TargetKind,
};
use gru::network::{classification, fully_connected, gru as gru_layer, regression, sequence_input_zscore, softmax};
use gru::train::load_training_checkpoint;
use gru::{layers, Network, OutputMode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn test_data(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).expect("a committed fixture")
}

fn budget() -> Duration {
    let secs = std::env::var("GRU_FUZZ_SECONDS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(2.0);
    Duration::from_secs_f64(secs.max(0.0))
}

/// `GRU_FUZZ_SEED` (default 0): another value mutates along other paths, for a longer
/// campaign by hand than CI's (the same value replays the same mutants).
fn campaign() -> u64 {
    std::env::var("GRU_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Bytes a mutation likes to write: delimiters and numbers of the text formats, and the
/// extremes of binary fields.
const INTERESTING: &[u8] = b"\x00\xff\x7f\x80?:,;\n\r\t@#-+.eE019NaniI \"'()[]{}";

fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = out.len();
        let at = if len == 0 { 0 } else { rng.random_range(0..len) };
        match rng.random_range(0..8) {
            0 if len > 0 => out[at] ^= 1 << rng.random_range(0..8),
            1 if len > 0 => out[at] = INTERESTING[rng.random_range(0..INTERESTING.len())],
            2 if len > 0 => {
                let end = (at + rng.random_range(1..=16)).min(len);
                out.drain(at..end);
            }
            3 if len > 0 => {
                let end = (at + rng.random_range(1..=64)).min(len);
                let chunk = out[at..end].to_vec();
                let to = rng.random_range(0..=out.len());
                out.splice(to..to, chunk);
            }
            4 => {
                let bytes: Vec<u8> = (0..rng.random_range(1..=8)).map(|_| rng.random()).collect();
                out.splice(at..at, bytes);
            }
            5 if len > 0 => out.truncate(at),
            6 => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                if !other.is_empty() {
                    let from = rng.random_range(0..other.len());
                    out.truncate(at);
                    out.extend_from_slice(&other[from..]);
                }
            }
            _ if len > 0 => {
                // A digit run: the sizes and counts written in headers.
                let digits = ["0", "1", "9", "99999999999", "4294967296", "-1", "1e308"];
                let d = digits[rng.random_range(0..digits.len())].as_bytes();
                out.splice(at..at, d.iter().copied());
            }
            _ => {}
        }
    }
    out
}

/// Runs `read` on the committed regressions of `name`, then on mutants of `seeds` for the
/// time budget; returns the number of inputs run.
fn fuzz(name: &str, seeds: Vec<Vec<u8>>, read: impl Fn(&[u8])) -> usize {
    let mut crashes = Vec::new();
    let run = |input: &[u8], crashes: &mut Vec<PathBuf>| {
        if catch_unwind(AssertUnwindSafe(|| read(input))).is_err() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-crashes");
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("{name}-{}.bin", crashes.len()));
            if let Ok(mut f) = std::fs::File::create(&file) {
                let _ = f.write_all(input);
            }
            crashes.push(file);
        }
    };
    let regressions = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz").join(name);
    let mut count = 0;
    if let Ok(entries) = std::fs::read_dir(&regressions) {
        for e in entries.flatten() {
            run(&std::fs::read(e.path()).expect("a committed regression input"), &mut crashes);
            count += 1;
        }
    }
    for s in &seeds {
        run(s, &mut crashes);
    }
    let mut rng = StdRng::seed_from_u64(name.bytes().map(u64::from).sum::<u64>() ^ campaign());
    let start = Instant::now();
    while start.elapsed() < budget() && crashes.len() < 5 {
        let base = &seeds[rng.random_range(0..seeds.len())];
        let input = mutate(&mut rng, &seeds, base);
        run(&input, &mut crashes);
        count += 1;
    }
    let seed = campaign();
    assert!(
        crashes.is_empty(),
        "{name} (GRU_FUZZ_SEED {seed}): the reader panicked on {} inputs, written to {crashes:?}",
        crashes.len()
    );
    eprintln!("{name} (GRU_FUZZ_SEED {seed}): {count} inputs, no panic");
    count
}

fn ts_seeds() -> Vec<Vec<u8>> {
    vec![
        test_data("messy_multivariate.ts"),
        test_data("messy_regression.ts"),
        b"@problemName u\n@dimensions 2\n@classLabel false\n@data\n1,2,3:4,5,6\n7:8\n".to_vec(),
        b"@problemName c\n@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n1,?,3:a\n4,5,6:b\n"
            .to_vec(),
    ]
}

#[test]
fn ts_reader_never_panics() {
    fuzz("ts", ts_seeds(), |b| {
        let _ = parse_ts::<f32>(b, "f.ts");
        let _ = parse_ts_inputs::<f64>(b, "f.ts");
    });
}

#[test]
fn tsv_reader_never_panics() {
    fuzz("tsv", vec![test_data("ucr_unequal.tsv"), b"1\t0.5\t0.25\n2\t1\tNaN\n".to_vec()], |b| {
        let _ = parse_ucr_tsv::<f32>(b, "f.tsv");
    });
}

#[test]
fn csv_reader_never_panics() {
    let seeds = vec![test_data("long.csv"), test_data("wide_regression.csv"), b"label,v0,v1\na,1,2\nb,3,\n".to_vec()];
    fuzz("csv", seeds, |b| {
        for layout in [CsvLayout::Long, CsvLayout::Wide, CsvLayout::detect(b)] {
            for kind in [TargetKind::Classes, TargetKind::Responses] {
                let _ = parse_csv::<f32>(b, "f.csv", layout, kind);
            }
        }
    });
}

#[test]
fn npz_reader_never_panics() {
    let seeds = vec![test_data("classes.npz"), test_data("responses_lengths.npz"), test_data("truncated_x.npz")];
    fuzz("npz", seeds, |b| {
        let _ = parse_npz::<f32>(b, "f.npz");
    });
}

#[test]
fn npy_reader_never_panics() {
    let (x, y) = (test_data("pair_x.npy"), test_data("pair_y.npy"));
    fuzz("npy", vec![x.clone(), y.clone()], |b| {
        let y = test_data("pair_y.npy");
        let _ = parse_npy::<f32>(b, &y, "x.npy");
        let x = test_data("pair_x.npy");
        let _ = parse_npy::<f64>(&x, b, "x.npy");
    });
}

fn fixture(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(dir).join(name))
        .expect("a committed fixture")
}

/// `bytes` of a safetensors file without its `checksum` metadata (as an earlier build wrote).
fn without_checksum(bytes: &[u8]) -> Vec<u8> {
    let st = safetensors::SafeTensors::deserialize(bytes).expect("a safetensors file");
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).expect("a safetensors file");
    let mut metadata = header.metadata().clone().unwrap_or_default();
    assert!(metadata.remove("checksum").is_some(), "a file of this build has a checksum");
    safetensors::serialize(st.tensors(), Some(metadata)).expect("it serializes")
}

/// Model files of this build (with a checksum, and without), small: a z-score
/// classifier with a bidirectional two-layer GRU and a regressor, f32 and f64.
fn model_seeds(dir: &Path) -> Vec<Vec<u8>> {
    let classifier = layers![
        sequence_input_zscore(2),
        gru_layer(3).depth(2).bidirectional(true).output_mode(OutputMode::Last),
        fully_connected(2),
        softmax(),
        classification()
    ];
    let regressor = layers![sequence_input_zscore(1), gru_layer(2), fully_connected(1), regression()];
    let path = dir.join("seed.safetensors");
    let mut seeds = Vec::new();
    for specs in [classifier, regressor] {
        let mut net = Network::<f32>::new(specs.clone(), 1).expect("it builds");
        net.set_normalization(Some((vec![0.5; net.input_size()], vec![2.0; net.input_size()]))).expect("it fits");
        net.save(&path).expect("it saves");
        seeds.push(std::fs::read(&path).expect("it reads"));
        Network::<f64>::new(specs, 2).expect("it builds").save(&path).expect("it saves");
        seeds.push(std::fs::read(&path).expect("it reads"));
    }
    let stripped: Vec<Vec<u8>> = seeds.iter().map(|s| without_checksum(s)).collect();
    seeds.extend(stripped);
    seeds
}

#[test]
fn model_file_reader_never_panics() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut seeds = model_seeds(dir.path());
    seeds.push(fixture("data/checkpoints", "adam.final.safetensors"));
    seeds.push(fixture("convert_fixtures", "torch_single.safetensors"));
    let path = dir.path().join("f.safetensors");
    fuzz("model", seeds, |b| {
        std::fs::write(&path, b).expect("the temporary folder is writable");
        let _ = gru::io::load(&path);
        let _ = Network::<f32>::load(&path);
        let _ = Network::<f64>::load(&path);
        let _ = gru::convert::gru_file::read::<f32>(&path, &Default::default());
    });
}

#[test]
fn checkpoint_reader_never_panics() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let seeds =
        ["sgdm", "adam", "rmsprop"].iter().map(|s| fixture("data/checkpoints", &format!("{s}.safetensors"))).collect();
    let path = dir.path().join("c.safetensors");
    fuzz("checkpoint", seeds, |b| {
        std::fs::write(&path, b).expect("the temporary folder is writable");
        let _ = load_training_checkpoint::<f32>(&path);
        let _ = load_training_checkpoint::<f64>(&path);
    });
}

#[test]
fn onnx_reader_never_panics() {
    let seeds = vec![
        fixture("onnx_fixtures", "forward_lbr1.onnx"),
        fixture("onnx_fixtures", "defaults_no_bias.onnx"),
        fixture("onnx_fixtures", "torch_classifier_forward.onnx"),
        fixture("onnx_graph_fixtures", "layout1_bidir.onnx"),
        fixture("onnx_graph_fixtures", "only_yh_gemm.onnx"),
    ];
    let path = Path::new("f.onnx");
    fuzz("onnx", seeds, |b| {
        let Ok(model) = onnx::decode(b, path) else { return };
        let _ = onnx::model_dtype(&model, path);
        let _ = onnx::from_model::<f32>(&model, path);
        let _ = onnx::network_dtype(&model, path);
        let _ = onnx::network_from_model::<f32>(&model, path);
        let _ = onnx::OnnxModel::<f32>::from_model(&model, path).map(|m| m.sequence_input().map(drop));
    });
}

#[test]
fn korali_reader_never_panics() {
    let seeds = vec![
        br#"{"Input": {"Data": [[[1.5, 2], [3, 4]], [[5, -6e-3]]], "Size": 2}, "Solution": {"Data": [[0.5], [-1]], "Size": 1}}"#
            .to_vec(),
        br#"{"Problem": {"Input": {"Data": [[[1]]]}, "Solution": {"Data": [[2, 3]]}}}"#.to_vec(),
        b"[[[0.25], [1]], [[2]]]".to_vec(),
    ];
    fuzz("korali", seeds, |b| {
        let _ = parse_korali::<f32>(b, "f.json");
        let _ = parse_korali_inputs::<f64>(b, "f.json");
    });
}

/// The PyTorch, Keras and gru-layer weight readers of `gru convert` (safetensors files whose
/// tensor names, shapes and metadata — the Keras config — say what the GRU is), on the
/// committed converter fixtures.
#[test]
fn converter_readers_never_panic() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let names = ["torch_single", "torch_nobias", "torch_f64_bidir", "keras_reset_after", "keras_bidir_stacked"];
    let seeds = names.iter().map(|n| fixture("convert_fixtures", &format!("{n}.safetensors"))).collect();
    let path = dir.path().join("w.safetensors");
    let options = gru::convert::Options::default();
    fuzz("converters", seeds, |b| {
        std::fs::write(&path, b).expect("the temporary folder is writable");
        for format in [gru::convert::Format::Torch, gru::convert::Format::Keras, gru::convert::Format::Gru] {
            let _ = gru::convert::read(format, &path, &options);
        }
    });
}

/// The JSON configurations users write by hand: layer arrays (built into a network), Korali
/// experiments and networks, GRU specs and training options. Sizes are held to a small
/// memory budget, so that a mutant claiming a huge layer is refused, not allocated.
#[test]
fn configuration_readers_never_panic() {
    gru::memory::MemoryBudget::set_process_default(Some(64 << 20));
    let example = |name: &str| {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name))
            .expect("a committed example")
    };
    let seeds = vec![
        br#"[{"type": "sequence-input", "input_size": 2, "normalization": "zscore"},
             {"type": "gru", "num_hidden_units": 8, "output_mode": "last", "depth": 2,
              "regularization": {"recurrent_dropout": 0.3, "zoneout": 0.1, "layer_norm": true, "seed": 7}},
             {"type": "dropout", "probability": 0.2}, {"type": "fully-connected", "output_size": 3},
             {"type": "softmax"}, {"type": "classification"}]"#
            .to_vec(),
        example("korali/sine_rnn_experiment.json"),
        example("spec.json"),
        br#"{"max_epochs": 3, "mini_batch_size": 4, "initial_learn_rate": 0.01, "l2_regularization": 0}"#.to_vec(),
    ];
    fuzz("configs", seeds, |b| {
        let Ok(text) = std::str::from_utf8(b) else { return };
        if let Ok(specs) = gru::network::layers_from_json(text) {
            let _ = Network::<f32>::new(specs, 0);
        }
        let _ = gru::korali::KoraliExperiment::parse(text);
        let _ = gru::korali::KoraliNetwork::from_str(text);
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            if let Ok(spec) = serde_json::from_value::<gru::GruSpec>(value) {
                let _ = spec.validate();
            }
        }
        let _ = gru::TrainingOptions::from_json(text);
    });
}

/// The harness itself: a reader that panics on some mutant is caught and reported.
#[test]
#[should_panic(expected = "the reader panicked")]
fn a_panicking_reader_fails_the_fuzz_test() {
    fuzz("harness-check", vec![b"abc:def\n".to_vec()], |b| assert!(!b.contains(&b'?'), "a reader bug"));
}
