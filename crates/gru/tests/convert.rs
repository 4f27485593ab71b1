//! Converters against real PyTorch and Keras models: the fixtures of
//! `tools/gen_convert_fixtures.py` load and reproduce the originals' outputs, every round
//! trip is bit-identical, and (where python3 has torch and keras) exports run in PyTorch and
//! Keras with our outputs. Malformed files and refused options: `convert_errors.rs`.

mod common;

use common::{assert_bit_identical, cases, fixture_dir, floats, usizes, weights};

use std::path::Path;

use gru::convert::{self, verify, AnyWeights, Format, GruWeights, KerasOptions, KerasVersion, Options, TorchOptions};
use gru::io::SafetensorsFile;
use gru::{GateActivation, GruSpec, OutputMode, Real, Regularization, ResetGateMode, StateActivation};
use serde_json::Value;

fn options_for(case: &Value) -> Options {
    let mut o = Options::default();
    o.torch.prefix = case["prefix"].as_str().unwrap_or("").into();
    o.torch.bias = case["spec"]["bias"].as_bool().unwrap_or(true);
    o.keras.use_bias = o.torch.bias;
    o
}

/// Checks the inferred spec against the case's, runs our engine, returns the worst error.
fn reproduce<T: Real>(name: &str, case: &Value, w: &GruWeights<T>) -> f64 {
    let s = &case["spec"];
    let spec = &w.spec;
    assert_eq!(spec.input_size, s["input_size"].as_u64().unwrap() as usize, "{name}");
    assert_eq!(spec.hidden_size, s["hidden_size"].as_u64().unwrap() as usize, "{name}");
    assert_eq!(spec.depth, s["depth"].as_u64().unwrap() as usize, "{name}");
    assert_eq!(spec.bidirectional, s["bidirectional"].as_bool().unwrap(), "{name}");
    assert_eq!(spec.reset_gate_mode.name(), s["reset_gate_mode"].as_str().unwrap(), "{name}");
    if case["format"] == "keras" {
        let state = if spec.state_activation == StateActivation::Tanh { "tanh" } else { "softsign" };
        assert_eq!(state, s["state_activation"], "{name}");
        match spec.gate_activation {
            GateActivation::Sigmoid => assert_eq!(s["gate_activation"], "sigmoid", "{name}"),
            GateActivation::HardSigmoid { alpha, beta } => {
                assert_eq!(s["gate_activation"], "hard-sigmoid", "{name}");
                assert_eq!((alpha, beta), (s["hard_sigmoid_alpha"].as_f64().unwrap(), 0.5), "{name}");
            }
        }
        let mode = if spec.output_mode == OutputMode::Sequence { "sequence" } else { "last" };
        assert_eq!(mode, s["output_mode"], "{name}");
    }
    let x_shape = usizes(&case["x_shape"]);
    let x: Vec<T> = floats(&case["x"]).into_iter().map(T::lit).collect();
    let lengths = usizes(&case["lengths"]);
    let lengths = (!lengths.is_empty()).then_some(lengths.as_slice());
    let ours = verify::run_ours(w, &x, x_shape[0], x_shape[1], lengths, spec.output_mode).unwrap();
    assert_eq!(ours.y_shape, usizes(&case["y_shape"]), "{name}");
    let tol = verify::tolerance::<T>();
    let widen = |v: &[T]| v.iter().map(|x| x.widen()).collect::<Vec<_>>();
    let mut worst = verify::compare(name, "y", &widen(&ours.y), &floats(&case["y"]), tol).unwrap();
    if !case["h_n"].is_null() {
        worst = worst.max(verify::compare(name, "h_n", &widen(&ours.h_t), &floats(&case["h_n"]), tol).unwrap());
    }
    worst
}

#[test]
fn fixtures_reproduce_the_originals_outputs() {
    let cases = cases("convert_fixtures");
    assert_eq!(cases.len(), 10, "fixtures: {:?}", cases.iter().map(|c| &c.0).collect::<Vec<_>>());
    for (name, case) in &cases {
        let format: Format = case["format"].as_str().unwrap().parse().unwrap();
        let path = fixture_dir("convert_fixtures").join(case["weights"].as_str().unwrap());
        let weights = convert::read(format, &path, &options_for(case)).unwrap();
        assert_eq!(weights.dtype().to_string(), case["dtype"].as_str().unwrap(), "{name}");
        let worst = match &weights {
            AnyWeights::F32(w) => reproduce(name, case, w),
            AnyWeights::F64(w) => reproduce(name, case, w),
        };
        println!("{name}: worst |ours - theirs| / (1 + |theirs|) = {worst:.2e}  ({})", case["source"]);
    }
}

/// Every tensor of `a` and `b`, by name: same names, shapes, dtypes and bits.
fn same_tensors(a: &Path, b: &Path, prefix: &str) {
    let (fa, fb) = (SafetensorsFile::read(a).unwrap(), SafetensorsFile::read(b).unwrap());
    let names = |f: &SafetensorsFile| f.names().filter(|n| n.starts_with(prefix)).map(String::from).collect::<Vec<_>>();
    assert_eq!(names(&fa), names(&fb));
    for n in names(&fa) {
        let (ta, tb) = (fa.tensor(&n).unwrap(), fb.tensor(&n).unwrap());
        assert_eq!((&ta.shape, ta.data.dtype()), (&tb.shape, tb.data.dtype()), "{n}");
        assert_eq!(bits(&ta.data), bits(&tb.data), "{n}");
    }
}

fn bits(d: &gru::io::TensorData) -> Vec<u64> {
    use gru::io::TensorData::*;
    match d {
        F32(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
        F64(v) => v.iter().map(|x| x.to_bits()).collect(),
    }
}

#[test]
fn fixture_files_round_trip_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    for (name, case) in cases("convert_fixtures") {
        let format: Format = case["format"].as_str().unwrap().parse().unwrap();
        let src = fixture_dir("convert_fixtures").join(case["weights"].as_str().unwrap());
        let opts = options_for(&case);
        let ours = convert::read(format, &src, &opts).unwrap();
        // theirs -> ours -> theirs: the same tensors (the GRU's; a bigger model's others stay behind).
        let out = dir.path().join(format!("{name}.out.safetensors"));
        convert::write_any(format, &out, &ours, &opts).unwrap();
        same_tensors(&src, &out, &opts.torch.prefix);
        if format == Format::Keras {
            let meta = |p: &Path| SafetensorsFile::read(p).unwrap().metadata()["config"].clone();
            let config = |p: &Path| serde_json::from_str::<Value>(&meta(p)).unwrap();
            assert_eq!(config(&src), config(&out), "{name}");
        }
        // theirs -> ours -> gru file -> ours: identical weights and options.
        let gru_file = dir.path().join(format!("{name}.gru.safetensors"));
        convert::write_any(Format::Gru, &gru_file, &ours, &opts).unwrap();
        assert_eq!(convert::read(Format::Gru, &gru_file, &opts).unwrap(), ours, "{name}");
        assert_eq!(convert::read(format, &out, &opts).unwrap(), ours, "{name}");
    }
}

fn round_trip<T: Real>(format: Format, w: &GruWeights<T>, opts: &Options) -> GruWeights<T> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    convert::write(format, &path, w, opts).unwrap();
    convert::read_as(format, &SafetensorsFile::read(&path).unwrap(), opts).unwrap()
}

fn shapes() -> Vec<GruSpec> {
    let mut v = Vec::new();
    for (depth, bidir) in [(1, false), (1, true), (2, false), (3, true)] {
        v.push(GruSpec::new(3, 4).with_depth(depth).with_bidirectional(bidir));
    }
    v
}

#[test]
fn torch_round_trips_are_bit_identical() {
    let rba = ResetGateMode::RecurrentBiasAfterMultiplication;
    for (k, spec) in shapes().into_iter().enumerate() {
        let spec = spec.with_reset_gate_mode(rba);
        for prefix in ["", "encoder.gru."] {
            let opts = Options { torch: TorchOptions { prefix: prefix.into(), bias: true }, ..Options::default() };
            let w32 = weights::<f32>(spec.clone(), k as u64);
            assert_bit_identical(&w32, &round_trip(Format::Torch, &w32, &opts), &format!("{spec:?} f32"));
            let w64 = weights::<f64>(spec.clone(), k as u64);
            assert_bit_identical(&w64, &round_trip(Format::Torch, &w64, &opts), &format!("{spec:?} f64"));
        }
        // bias=False: zero biases come back as zero biases.
        let mut w = weights::<f32>(spec.clone(), 9);
        for b in w.params.blocks_mut() {
            b.bias_mut().fill(0.0);
        }
        let opts = Options { torch: TorchOptions { prefix: String::new(), bias: false }, ..Options::default() };
        assert_bit_identical(&w, &round_trip(Format::Torch, &w, &opts), "bias=False");
        // after-multiplication -> recurrent-bias-after with b' = 0: same W, R, b, same outputs.
        let after = weights::<f32>(spec.clone().with_reset_gate_mode(ResetGateMode::AfterMultiplication), 5);
        let back = round_trip(Format::Torch, &after, &Options::default());
        assert_eq!(back.spec, after.spec.clone().with_reset_gate_mode(rba));
        for (a, b) in after.params.blocks().iter().zip(back.params.blocks()) {
            assert_eq!((a.w(), a.r()), (b.w(), b.r()));
            assert_eq!(&b.bias()[..a.bias().len()], a.bias());
            assert!(b.bias()[a.bias().len()..].iter().all(|v| *v == 0.0));
        }
        let x = verify::sample_inputs::<f32>(3, 1);
        let ya = verify::run_ours(&after, &x, 7, 3, None, OutputMode::Sequence).unwrap();
        let yb = verify::run_ours(&back, &x, 7, 3, None, OutputMode::Sequence).unwrap();
        let widen = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
        verify::compare("after", "y", &widen(&ya.y), &widen(&yb.y), 1e-6).unwrap();
    }
}

#[test]
fn keras_round_trips_are_bit_identical_for_every_shared_option() {
    let modes = [ResetGateMode::BeforeMultiplication, ResetGateMode::RecurrentBiasAfterMultiplication];
    let states = [StateActivation::Tanh, StateActivation::Softsign];
    let gates = [
        (GateActivation::Sigmoid, KerasVersion::Keras3),
        (KerasVersion::Keras3.hard_sigmoid(), KerasVersion::Keras3),
        (KerasVersion::Keras2.hard_sigmoid(), KerasVersion::Keras2),
    ];
    let mut count = 0;
    for spec in shapes() {
        for mode in modes {
            for state in states {
                for (gate, version) in gates {
                    for output in [OutputMode::Sequence, OutputMode::Last] {
                        if spec.bidirectional && output == OutputMode::Last {
                            continue; // refused: see convert_errors.rs
                        }
                        let s = spec
                            .clone()
                            .with_reset_gate_mode(mode)
                            .with_state_activation(state)
                            .with_gate_activation(gate)
                            .with_output_mode(output);
                        let opts = Options {
                            keras: KerasOptions { version: Some(version), use_bias: true },
                            ..Options::default()
                        };
                        let w = weights::<f32>(s.clone(), count);
                        assert_bit_identical(&w, &round_trip(Format::Keras, &w, &opts), &format!("{s:?}"));
                        // The version is in the file: reading needs no option.
                        let plain = round_trip(Format::Keras, &w, &Options::default());
                        let written = {
                            let dir = tempfile::tempdir().unwrap();
                            let p = dir.path().join("k.safetensors");
                            convert::write(Format::Keras, &p, &w, &opts).unwrap();
                            convert::read_as::<f32>(
                                Format::Keras,
                                &SafetensorsFile::read(&p).unwrap(),
                                &Options::default(),
                            )
                        };
                        if version == KerasVersion::Keras3 {
                            assert_bit_identical(&w, &plain, "default version");
                        }
                        assert_bit_identical(&w, &written.unwrap(), "version from the file");
                        count += 1;
                    }
                }
            }
        }
    }
    assert!(count >= 60, "{count}");
    // after-multiplication (GruSpec's default) -> reset_after=True with a zero recurrent h bias.
    let after = weights::<f64>(GruSpec::new(2, 3).with_depth(2).with_bidirectional(true), 3);
    let back = round_trip(Format::Keras, &after, &Options::default());
    assert_eq!(back.spec, after.spec.clone().with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication));
    for (a, b) in after.params.blocks().iter().zip(back.params.blocks()) {
        assert_eq!((a.w(), a.r(), a.bias()), (b.w(), b.r(), &b.bias()[..6 * 3 / 2]));
        assert!(b.bias()[9..].iter().all(|v| *v == 0.0));
    }
}

#[test]
fn gru_files_keep_every_option_and_cross_conversions_are_exact() {
    let spec = GruSpec::new(3, 2)
        .with_depth(2)
        .with_bidirectional(true)
        .with_reset_gate_mode(ResetGateMode::BeforeMultiplication)
        .with_state_activation(StateActivation::Softsign)
        .with_gate_activation(GateActivation::HARD_SIGMOID)
        .with_clip(Some(3.5))
        .with_output_mode(OutputMode::Last);
    let w = weights::<f64>(spec, 1);
    assert_bit_identical(&w, &round_trip(Format::Gru, &w, &Options::default()), "gru");
    // torch -> ours -> keras -> ours -> torch: the original state dict, bit for bit.
    let dir = tempfile::tempdir().unwrap();
    let src = fixture_dir("convert_fixtures").join("torch_stacked_bidir.safetensors");
    let opts = Options { torch: TorchOptions { prefix: "rnn.".into(), bias: true }, ..Options::default() };
    let ours = convert::read(Format::Torch, &src, &opts).unwrap();
    let keras = dir.path().join("k.safetensors");
    convert::write_any(Format::Keras, &keras, &ours, &opts).unwrap();
    let again = convert::read(Format::Keras, &keras, &opts).unwrap();
    assert_eq!(again, ours);
    let torch = dir.path().join("t.safetensors");
    convert::write_any(Format::Torch, &torch, &again, &opts).unwrap();
    same_tensors(&src, &torch, "rnn.");
}

/// python3 with torch, keras and safetensors, or `None` (then the Python checks are skipped,
/// unless GRU_REQUIRE_PYTHON=1 makes that a failure, as in CI with the tools installed).
fn python_ready() -> bool {
    let python = std::env::var("GRU_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import torch, keras, safetensors, numpy"])
        .env("KERAS_BACKEND", "torch")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("GRU_REQUIRE_PYTHON").map_or(true, |v| v != "1"),
            "GRU_REQUIRE_PYTHON=1 but {python} lacks torch/keras/safetensors (pip install -r tools/requirements.txt)"
        );
        eprintln!("skipped: {python} with torch, keras and safetensors is not available");
    }
    ok
}

#[test]
fn exports_run_in_pytorch_and_keras_with_our_outputs() {
    if !python_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut checked = Vec::new();
    // Imports: the fixtures themselves, through the framework that wrote them.
    for (name, case) in cases("convert_fixtures")
        .into_iter()
        .filter(|(n, _)| ["torch_stacked_bidir", "keras_bidir_stacked"].contains(&n.as_str()))
    {
        let format: Format = case["format"].as_str().unwrap().parse().unwrap();
        let src = fixture_dir("convert_fixtures").join(case["weights"].as_str().unwrap());
        let opts = options_for(&case);
        let w = convert::read(format, &src, &opts).unwrap();
        checked.push((name, verify::verify(format, &src, &opts, &w).unwrap()));
    }
    // Exports: ours -> PyTorch (f32 and f64, after-multiplication too), ours -> Keras (2 and 3).
    let torch_cases = [
        AnyWeights::F32(weights(GruSpec::new(3, 4).with_depth(2).with_bidirectional(true), 1)),
        AnyWeights::F64(weights(
            GruSpec::new(2, 3).with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication),
            2,
        )),
    ];
    for (k, w) in torch_cases.iter().enumerate() {
        let opts = Options { torch: TorchOptions { prefix: "rnn.".into(), bias: true }, ..Options::default() };
        let path = dir.path().join(format!("t{k}.safetensors"));
        convert::write_any(Format::Torch, &path, w, &opts).unwrap();
        checked.push((format!("torch export {k}"), verify::verify(Format::Torch, &path, &opts, w).unwrap()));
    }
    let keras_cases = [
        (
            GruSpec::new(3, 4)
                .with_depth(2)
                .with_reset_gate_mode(ResetGateMode::BeforeMultiplication)
                .with_state_activation(StateActivation::Softsign)
                .with_gate_activation(KerasVersion::Keras3.hard_sigmoid())
                .with_output_mode(OutputMode::Last),
            KerasVersion::Keras3,
        ),
        (
            GruSpec::new(2, 3).with_bidirectional(true).with_gate_activation(GateActivation::HARD_SIGMOID),
            KerasVersion::Keras2,
        ),
        // Keras' dropout and recurrent_dropout (training only: Keras builds the layer with
        // them, and its inference equals ours).
        (
            GruSpec {
                regularization: Regularization::NONE.with_input_dropout(0.2).with_recurrent_dropout(0.3),
                ..GruSpec::new(3, 4).with_depth(2)
            },
            KerasVersion::Keras3,
        ),
    ];
    for (k, (spec, version)) in keras_cases.into_iter().enumerate() {
        let opts = Options { keras: KerasOptions { version: Some(version), use_bias: true }, ..Options::default() };
        let reg = spec.regularization;
        let w = AnyWeights::F32(weights(spec, k as u64));
        let path = dir.path().join(format!("k{k}.safetensors"));
        convert::write_any(Format::Keras, &path, &w, &opts).unwrap();
        let back = convert::read(Format::Keras, &path, &opts).unwrap();
        assert_eq!(back.spec().regularization, reg, "keras export {k}");
        checked.push((format!("keras export {k}"), verify::verify(Format::Keras, &path, &opts, &w).unwrap()));
    }
    for (what, report) in &checked {
        println!("{what}: {report}");
        assert!(report.worst <= report.tolerance && report.compared > 0);
    }
}
