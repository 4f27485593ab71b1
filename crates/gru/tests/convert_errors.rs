//! Converters refuse what they cannot read or write, with an error that names the tensor
//! or the option: missing tensors, wrong shapes, unknown prefixes and keys, corrupt and
//! truncated files, mixed dtypes, Keras configs a GruSpec cannot hold, and exports of
//! options the target has no equivalent for (nothing is written then).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gru::convert::{self, AnyWeights, Format, GruWeights, KerasOptions, KerasVersion, Options, TorchOptions};
use gru::io::{save_tensors, NamedTensor, SafetensorsFile, TensorData};
use gru::{Error, GateActivation, GruParams, GruSpec, OutputMode, ResetGateMode, StateActivation};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/convert_fixtures").join(name)
}

fn torch_opts(prefix: &str) -> Options {
    Options { torch: TorchOptions { prefix: prefix.into(), bias: true }, ..Options::default() }
}

/// The reason of an `Error::File`, or a panic.
fn file_reason(r: gru::Result<AnyWeights>) -> String {
    match r {
        Err(Error::File { reason, .. }) => reason,
        other => panic!("expected Error::File, got {other:?}"),
    }
}

/// Rewrites `src` into `dst` through `edit` (tensors by name, and the metadata).
fn rewrite(src: &Path, dst: &Path, edit: impl FnOnce(&mut Vec<NamedTensor>, &mut HashMap<String, String>)) {
    let file = SafetensorsFile::read(src).unwrap();
    let mut tensors: Vec<NamedTensor> = file.names().map(|n| file.tensor(n).unwrap()).collect();
    let mut meta = file.metadata().clone();
    edit(&mut tensors, &mut meta);
    save_tensors(dst, &tensors, meta).unwrap();
}

#[test]
fn malformed_state_dicts_name_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("torch_stacked_bidir.safetensors");
    let bad = dir.path().join("bad.safetensors");
    let read = |p: &Path, prefix: &str| file_reason(convert::read(Format::Torch, p, &torch_opts(prefix)));

    // Unknown prefix, no prefix in a bigger model, a prefix without its dot.
    let r = read(&src, "encoder.");
    assert!(r.contains("no tensor name starts with the prefix \"encoder.\"") && r.contains("\"rnn.\""), "{r}");
    let r = read(&src, "");
    assert!(r.contains("tensor head.bias is not part of an nn.GRU state dict") && r.contains("\"rnn.\""), "{r}");
    let r = read(&src, "rnn");
    assert!(r.contains("tensor rnn.bias_hh_l0 is not part") && r.contains("\"rnn.\""), "{r}");

    type Edit = Box<dyn Fn(&mut Vec<NamedTensor>)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "missing",
            Box::new(|t| t.retain(|t| t.name != "rnn.bias_hh_l1")),
            "tensor rnn.bias_hh_l1 (expected shape [9]) is missing",
        ),
        (
            "missing reverse",
            Box::new(|t| t.retain(|t| t.name != "rnn.weight_ih_l1_reverse")),
            "tensor rnn.weight_ih_l1_reverse (expected shape [9, 6]) is missing",
        ),
        (
            "missing hh0",
            Box::new(|t| t.retain(|t| t.name != "rnn.weight_hh_l0")),
            "tensor rnn.weight_hh_l0 (expected shape [3H, H]) is missing",
        ),
        (
            "wrong shape",
            Box::new(|t| {
                let w = t.iter_mut().find(|t| t.name == "rnn.weight_ih_l1").unwrap();
                w.shape = vec![6, 9];
            }),
            "tensor rnn.weight_ih_l1 has shape [6, 9], expected [9, 6]",
        ),
        (
            "not 3H",
            Box::new(|t| {
                let w = t.iter_mut().find(|t| t.name == "rnn.weight_hh_l0").unwrap();
                w.shape = vec![3, 9];
            }),
            "tensor rnn.weight_hh_l0 has shape [3, 9], expected [3H, H]",
        ),
        (
            "unknown key",
            Box::new(|t| t.push(NamedTensor::new("rnn.weight_ih_l0_extra", vec![1], vec![0.0f32]))),
            "tensor rnn.weight_ih_l0_extra is not part of an nn.GRU state dict",
        ),
        (
            "a layer too many",
            Box::new(|t| t.push(NamedTensor::new("rnn.bias_ih_l2", vec![9], vec![0.0f32; 9]))),
            "tensor rnn.weight_ih_l2 (expected shape [9, 6]) is missing",
        ),
        (
            "mixed dtypes",
            Box::new(|t| {
                let b = t.iter_mut().find(|t| t.name == "rnn.bias_ih_l1_reverse").unwrap();
                b.data = TensorData::F64(vec![0.5; 9]);
            }),
            "tensor rnn.bias_ih_l1_reverse holds f64 values but a f32 model was asked for",
        ),
    ];
    for (what, edit, expect) in cases {
        rewrite(&src, &bad, |t, _| edit(t));
        let r = read(&bad, "rnn.");
        assert!(r.contains(expect), "{what}: {r}");
    }

    // Tensors of other dtypes elsewhere in the model are fine; in the GRU they are named.
    rewrite(&src, &bad, |t, _| t.push(NamedTensor::new("head.steps", vec![1], vec![1.0f64])));
    convert::read(Format::Torch, &bad, &torch_opts("rnn.")).unwrap();
}

#[test]
fn corrupt_and_truncated_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.safetensors");
    for (name, format, prefix) in
        [("torch_single.safetensors", Format::Torch, ""), ("keras_bidir_stacked.safetensors", Format::Keras, "")]
    {
        let whole = std::fs::read(fixture(name)).unwrap();
        for cut in (0..whole.len()).step_by(7).chain([whole.len() - 1]) {
            std::fs::write(&path, &whole[..cut]).unwrap();
            let r = file_reason(convert::read(format, &path, &torch_opts(prefix)));
            assert!(!r.is_empty(), "{name} cut at {cut}");
        }
        let mut flipped = whole.clone();
        flipped[20] ^= 0xFF; // inside the JSON header
        std::fs::write(&path, &flipped).unwrap();
        assert!(convert::read(format, &path, &torch_opts(prefix)).is_err());
    }
    assert!(file_reason(convert::read(Format::Torch, &dir.path().join("none"), &Options::default()))
        .contains("cannot read"));
    std::fs::write(&path, b"PK\x03\x04 not a safetensors file at all").unwrap();
    assert!(file_reason(convert::read(Format::Keras, &path, &Options::default())).contains("safetensors"));
    // A state dict read as the Keras layout, and the reverse.
    let r = file_reason(convert::read(Format::Keras, &fixture("torch_single.safetensors"), &Options::default()));
    assert!(r.contains("not a keras-gru file"), "{r}");
    let r = file_reason(convert::read(Format::Torch, &fixture("keras_reset_after.safetensors"), &Options::default()));
    assert!(r.contains("tensor layers.0.forward.bias is not part of an nn.GRU state dict"), "{r}");
}

#[test]
fn keras_configs_a_spec_cannot_hold_name_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.safetensors");
    let edit_config = |src: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        rewrite(&fixture(src), &bad, |_, meta| {
            let mut config: serde_json::Value = serde_json::from_str(&meta["config"]).unwrap();
            edit(&mut config);
            meta.insert("config".into(), config.to_string());
        });
        convert::read(Format::Keras, &bad, &Options::default())
    };
    let not = |r: gru::Result<AnyWeights>| match r {
        Err(Error::NotRepresentable { option, value, .. }) => format!("{option} = {value}"),
        other => panic!("expected NotRepresentable, got {other:?}"),
    };
    let set = |k: usize, key: &'static str, v: serde_json::Value| {
        move |c: &mut serde_json::Value| c["layers"][k][key] = v.clone()
    };
    use serde_json::json;
    assert_eq!(
        not(edit_config("keras_reset_after.safetensors", &set(0, "go_backwards", json!(true)))),
        "Keras layers[0].go_backwards = true"
    );
    assert_eq!(
        not(edit_config("keras_reset_after.safetensors", &set(0, "activation", json!("relu")))),
        "Keras layers[0].activation = relu"
    );
    assert_eq!(
        not(edit_config("keras_reset_after.safetensors", &set(0, "recurrent_activation", json!("tanh")))),
        "Keras layers[0].recurrent_activation = tanh"
    );
    assert_eq!(
        not(edit_config("keras_bidir_stacked.safetensors", &set(1, "units", json!(4)))),
        "Keras layers[1].units = 4"
    );
    assert_eq!(
        not(edit_config("keras_bidir_stacked.safetensors", &set(0, "merge_mode", json!("sum")))),
        "Keras layers[0].merge_mode = sum"
    );
    assert_eq!(
        not(edit_config("keras_bidir_stacked.safetensors", &set(1, "return_sequences", json!(false)))),
        "Keras layers[1].return_sequences = false"
    );
    let r = file_reason(edit_config("keras_bidir_stacked.safetensors", &set(0, "return_sequences", json!(false))));
    assert!(r.contains("layers[0].return_sequences is false"), "{r}");
    // Keras' dropouts are our input and recurrent dropout (one value for the stack, in range).
    let w = edit_config("keras_bidir_stacked.safetensors", &|c| {
        for k in 0..2 {
            c["layers"][k]["dropout"] = json!(0.25);
            c["layers"][k]["recurrent_dropout"] = json!(0.5);
        }
    })
    .unwrap();
    let reg = w.spec().regularization;
    assert_eq!((reg.input_dropout, reg.recurrent_dropout, reg.zoneout), (0.25, 0.5, 0.0));
    assert_eq!(
        not(edit_config("keras_bidir_stacked.safetensors", &set(1, "recurrent_dropout", json!(0.5)))),
        "Keras layers[1].recurrent_dropout = 0.5"
    );
    match edit_config("keras_reset_after.safetensors", &set(0, "dropout", json!(1.5))) {
        Err(e) => assert!(e.to_string().contains("input_dropout") && e.to_string().contains("1.5"), "{e}"),
        Ok(w) => panic!("dropout 1.5 accepted: {:?}", w.spec()),
    }
    let r = file_reason(edit_config("keras_reset_after.safetensors", &set(0, "zoneout", json!(0.5))));
    assert!(r.contains("\"config\" JSON is invalid") && r.contains("zoneout"), "{r}");
    // The config and the tensors disagree: a bias of the other reset mode, a stray tensor.
    let r = file_reason(edit_config("keras_reset_after.safetensors", &set(0, "reset_after", json!(false))));
    assert!(r.contains("tensor layers.0.forward.bias has shape [2, 15], expected [15]"), "{r}");
    rewrite(&fixture("keras_reset_after.safetensors"), &bad, |t, _| {
        t.push(NamedTensor::new("layers.1.forward.kernel", vec![1], vec![0.0f32]))
    });
    let r = file_reason(convert::read(Format::Keras, &bad, &Options::default()));
    assert!(r.contains("tensor layers.1.forward.kernel is not part of this keras-gru layout"), "{r}");
    for (key, value, expect) in
        [("format_version", "2", "format_version \"2\""), ("keras_version", "1.2", "keras_version \"1.2\"")]
    {
        rewrite(&fixture("keras_reset_after.safetensors"), &bad, |_, m| {
            m.insert(key.into(), value.into());
        });
        let r = file_reason(convert::read(Format::Keras, &bad, &Options::default()));
        assert!(r.contains(expect), "{r}");
    }
    // The hard-sigmoid slope: the file's version, or the option's.
    let opts =
        Options { keras: KerasOptions { version: Some(KerasVersion::Keras3), use_bias: true }, ..Options::default() };
    let w = convert::read(Format::Keras, &fixture("keras2_hard_sigmoid.safetensors"), &opts).unwrap();
    assert_eq!(w.spec().gate_activation, KerasVersion::Keras3.hard_sigmoid());
}

fn zeros(spec: GruSpec) -> AnyWeights {
    AnyWeights::F32(GruWeights::new(spec.clone(), GruParams::zeros(&spec)).unwrap())
}

#[test]
fn exports_refuse_what_the_target_cannot_represent() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.safetensors");
    let base = GruSpec::new(3, 2).with_reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication);
    let cases = [
        (
            Format::Torch,
            base.clone().with_reset_gate_mode(ResetGateMode::BeforeMultiplication),
            "reset_gate_mode",
            "before-multiplication",
        ),
        (Format::Torch, base.clone().with_state_activation(StateActivation::Softsign), "state_activation", "softsign"),
        (
            Format::Torch,
            base.clone().with_gate_activation(GateActivation::HARD_SIGMOID),
            "gate_activation",
            "hard-sigmoid (alpha 0.2, beta 0.5)",
        ),
        (Format::Torch, base.clone().with_clip(Some(2.0)), "clip", "2"),
        (Format::Keras, base.clone().with_clip(Some(2.0)), "clip", "2"),
        (
            Format::Keras,
            base.clone().with_gate_activation(GateActivation::HardSigmoid { alpha: 0.25, beta: 0.5 }),
            "gate_activation",
            "hard-sigmoid (alpha 0.25, beta 0.5)",
        ),
        (
            Format::Keras,
            base.clone().with_bidirectional(true).with_output_mode(OutputMode::Last),
            "output_mode",
            "last (bidirectional)",
        ),
    ];
    for (format, spec, option, value) in cases {
        match convert::write_any(format, &out, &zeros(spec), &Options::default()) {
            Err(e @ Error::NotRepresentable { .. }) => {
                let text = e.to_string();
                assert!(text.contains(option) && text.contains(value), "{text}");
                assert!(!out.exists(), "{format}: a refused export wrote {}", out.display());
            }
            other => panic!("{format} {option}: {other:?}"),
        }
    }
    // An explicit Keras version must match the hard-sigmoid's slope.
    let opts =
        Options { keras: KerasOptions { version: Some(KerasVersion::Keras3), use_bias: true }, ..Options::default() };
    let e =
        convert::write_any(Format::Keras, &out, &zeros(base.with_gate_activation(GateActivation::HARD_SIGMOID)), &opts)
            .unwrap_err();
    assert!(e.to_string().contains("Keras 2's hard_sigmoid; export for Keras 2"), "{e}");
    assert!(!out.exists());
}

#[test]
fn crafted_headers_and_configs_cannot_make_us_allocate() {
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.safetensors");
    // A layer index far away names the first missing layer.
    rewrite(&fixture("torch_single.safetensors"), &bad, |t, _| {
        t.push(NamedTensor::new("bias_ih_l99999999999", vec![15], vec![0.0f32; 15]))
    });
    let r = file_reason(convert::read(Format::Torch, &bad, &Options::default()));
    assert!(r.contains("tensor weight_ih_l1 is missing"), "{r}");
    // Keras: a real kernel of H = 20000 (240 KB) and no recurrent kernel (it would be 4.8 GB).
    let h = 20_000usize;
    let config = json!({"layers": [{"units": h, "return_sequences": true}]}).to_string();
    let meta = HashMap::from([
        ("format".to_string(), "keras-gru".to_string()),
        ("format_version".to_string(), "1".to_string()),
        ("config".to_string(), config),
    ]);
    let kernel = NamedTensor::new("layers.0.forward.kernel", vec![1, 3 * h], vec![0.0f32; 3 * h]);
    save_tensors(&bad, std::slice::from_ref(&kernel), meta.clone()).unwrap();
    let r = file_reason(convert::read(Format::Keras, &bad, &Options::default()));
    assert!(r.contains("tensor layers.0.forward.recurrent_kernel (expected shape [20000, 60000]) is missing"), "{r}");
    let mut huge = meta.clone();
    huge.insert("config".into(), json!({"layers": [{"units": u64::MAX}]}).to_string());
    save_tensors(&bad, &[kernel], huge).unwrap();
    let r = file_reason(convert::read(Format::Keras, &bad, &Options::default()));
    assert!(r.contains("is too large"), "{r}");
    // Our own file: a spec far bigger than its tensors.
    let model = json!({"kind": "gru-layer", "dtype": "f32", "spec": {"input_size": 1, "hidden_size": h}});
    gru::io::save(&bad, &[], &model).unwrap();
    let r = file_reason(convert::read(Format::Gru, &bad, &Options::default()));
    assert!(r.contains("tensor layers.0.forward.W (expected shape [60000, 1]) is missing"), "{r}");
}
