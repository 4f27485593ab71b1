//! The step-wise ONNX export (`onnx::to_step_model`: X `[1, B, I]`, h_in `[D, B, H]` ->
//! Y `[1, B, H]`, h_out `[D, B, H]`): onnxruntime stepping it frame by frame, `h_out` fed
//! back, gives what our `StreamSet` gives, within the f32 rule `1e-5 · (1 + |ref|)`, for
//! every reset mode, both activations of each kind, clip and two layers. Needs python3 (or
//! `GRU_PYTHON`) with onnx and onnxruntime: skipped with a notice otherwise, unless
//! `GRU_REQUIRE_PYTHON=1`.

mod common;

use common::weights;
use gru::convert::onnx::{self, proto, OnnxOptions};
use gru::{Error, GateActivation, GruSpec, NativeEngine, ResetGateMode, StateActivation, StreamSet};
use serde_json::Value;

/// Steps the model at argv[1] over the frames of argv[2] (JSON: x [T, B, I], h0 [D, B, H]),
/// feeding h_out back; prints every step's Y and the last h_out.
const STEP_SCRIPT: &str = r#"
import json, sys
import numpy as np
import onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
d = json.load(open(sys.argv[2]))
x = np.array(d["x"], np.float32).reshape(d["x_shape"])
h = np.array(d["h0"], np.float32).reshape(d["h_shape"])
ys = []
for t in range(x.shape[0]):
    y, h = s.run(["Y", "h_out"], {"X": x[t:t + 1], "h_in": h})
    ys.append(y.reshape(-1).tolist())
print(json.dumps({"y": ys, "h": h.reshape(-1).tolist()}))
"#;

fn specs() -> Vec<GruSpec> {
    let mut out = Vec::new();
    for mode in ResetGateMode::ALL {
        out.push(GruSpec::new(3, 4).with_reset_gate_mode(mode));
        out.push(GruSpec::new(3, 5).with_depth(2).with_reset_gate_mode(mode));
    }
    out.push(
        GruSpec::new(2, 3)
            .with_gate_activation(GateActivation::HARD_SIGMOID)
            .with_state_activation(StateActivation::Softsign)
            .with_clip(Some(0.9)),
    );
    out
}

fn close(what: &str, ours: &[f32], theirs: &[f64]) -> f64 {
    assert_eq!(ours.len(), theirs.len(), "{what}");
    let mut worst = 0.0f64;
    for (i, (&a, &r)) in ours.iter().zip(theirs).enumerate() {
        let e = (f64::from(a) - r).abs() / (1.0 + r.abs());
        assert!(e <= 1e-5, "{what}[{i}]: ours {a} vs onnxruntime {r}");
        worst = worst.max(e);
    }
    worst
}

#[test]
fn onnxruntime_stepping_the_step_export_equals_our_streams() {
    let Some(python) = common::python_with_onnxruntime() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (steps, batch) = (6, 3);
    let mut worst = 0.0f64;
    for (k, spec) in specs().into_iter().enumerate() {
        let w = weights::<f32>(spec.clone(), k as u64);
        let model = dir.path().join(format!("step{k}.onnx"));
        onnx::write_step(&model, &w, &OnnxOptions::default()).unwrap();
        let (inp, hid, depth) = (spec.input_size, spec.hidden_size, spec.depth);
        let x: Vec<f32> = (0..steps * batch * inp).map(|i| ((i as f32 + k as f32) * 0.37).sin()).collect();
        let h0: Vec<f32> = (0..depth * batch * hid).map(|i| ((i as f32) * 0.71).cos() * 0.5).collect();
        let request = serde_json::json!({
            "x": x, "x_shape": [steps, batch, inp], "h0": h0, "h_shape": [depth, batch, hid],
        });
        let request_path = dir.path().join(format!("in{k}.json"));
        std::fs::write(&request_path, request.to_string()).unwrap();
        let out = std::process::Command::new(&python)
            .args(["-c", STEP_SCRIPT])
            .arg(&model)
            .arg(&request_path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{spec:?}: {}", String::from_utf8_lossy(&out.stderr));
        let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();

        let mut set = StreamSet::prepare(&NativeEngine::new(), &spec, &w.params, batch).unwrap();
        let ids: Vec<_> = (0..batch).map(|_| set.open().unwrap()).collect();
        for (b, &id) in ids.iter().enumerate() {
            let h: Vec<f32> = (0..depth).flat_map(|l| h0[(l * batch + b) * hid..][..hid].to_vec()).collect();
            set.set_state(id, &h).unwrap();
        }
        for t in 0..steps {
            let y = set.step(&x[t * batch * inp..(t + 1) * batch * inp], &ids).unwrap().to_vec();
            let y_theirs: Vec<f64> = theirs["y"][t].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            worst = worst.max(close(&format!("{spec:?} step {t}: Y"), &y, &y_theirs));
        }
        // h_out's layout: [D, B, H].
        let mut h_ours = Vec::new();
        for l in 0..depth {
            for &id in &ids {
                h_ours.extend_from_slice(&set.state(id).unwrap()[l * hid..(l + 1) * hid]);
            }
        }
        let h_theirs: Vec<f64> = theirs["h"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        worst = worst.max(close(&format!("{spec:?}: h_out"), &h_ours, &h_theirs));
    }
    println!(
        "step export in onnxruntime, frame by frame: worst |ours - onnxruntime| / (1 + |onnxruntime|) = {worst:.2e}"
    );
}

/// The graph's interface, its metadata, and the refusal of directions that read backwards.
#[test]
fn the_step_export_has_its_interface_and_refuses_backward_directions() {
    let spec = GruSpec::new(3, 4).with_depth(2);
    let m = onnx::to_step_model(&weights::<f32>(spec, 1), &OnnxOptions::default()).unwrap();
    let g = m.graph.as_ref().unwrap();
    let names = |v: &[proto::ValueInfoProto]| v.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&g.input), ["X", "h_in"]);
    assert_eq!(names(&g.output), ["Y", "h_out"]);
    assert_eq!(g.node.iter().filter(|n| n.op_type == "GRU").count(), 2);
    assert!(g.node.iter().filter(|n| n.op_type == "GRU").all(|n| n.input.len() == 6 && n.input[4].is_empty()));
    assert!(m.metadata_props.iter().any(|p| p.key == onnx::STEP_KEY && p.value == "1"));
    for spec in [GruSpec::new(3, 4).with_bidirectional(true), GruSpec::new(3, 4).with_reverse(true)] {
        match onnx::to_step_model(&weights::<f32>(spec.clone(), 2), &OnnxOptions::default()) {
            Err(Error::NotRepresentable { option, .. }) => {
                assert!(option == "bidirectional" || option == "reverse", "{option}")
            }
            other => panic!("{spec:?}: {other:?}"),
        }
    }
}
