#!/usr/bin/env python3
"""Runs a GRU ONNX model (ours, from `gru convert --to onnx`) in onnxruntime.

    python3 tools/verify_onnx.py model.onnx inputs.json

inputs.json: {"x": [...] (flat, [T, B, I] time-major), "x_shape": [T, B, I], "lengths": [...] | null}.
Checks the model with onnx.checker, runs it on the CPU and prints, as JSON, the outputs
{"y": [...], "y_shape": [T, B, dirs*H], "h_n": [...], "h_n_shape": [D*dirs, B, H], "by": "..."}
for a GRU stack, or {"y": [...], "y_shape": [B, K] | [T, B, K], "by": "..."} for a whole
network (a model whose metadata_props has the key "gru.network"; its only output is Y).
The callers (crates/gru/tests/onnx.rs, `gru convert --to onnx --verify` through
crates/gru/src/convert/verify.rs) compare them with our engine's. Exit status 3: onnx or
onnxruntime is missing, or the model is float64 (onnxruntime's GRU is float32 only).
"""

import json
import sys


def unavailable(reason):
    print(reason, file=sys.stderr)
    sys.exit(3)


def main():
    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
    except ImportError as e:
        unavailable(f"onnx / onnxruntime / numpy is missing ({e}); pip install -r tools/requirements.txt")
    model_path, inputs_path = sys.argv[1], sys.argv[2]
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    case = json.loads(open(inputs_path).read())
    elem = model.graph.input[0].type.tensor_type.elem_type
    if elem == onnx.TensorProto.DOUBLE:
        unavailable("onnxruntime's GRU does not support float64 models")
    x = np.array(case["x"], np.float32).reshape(case["x_shape"])
    lengths = np.array(case.get("lengths") or [case["x_shape"][0]] * case["x_shape"][1], np.int32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"X": x, "sequence_lens": lengths}
    by = f"onnxruntime {ort.__version__} (CPU)"
    if any(p.key == "gru.network" for p in model.metadata_props):
        (y,) = sess.run(["Y"], feeds)
        print(json.dumps(dict(y=[float(v) for v in y.ravel()], y_shape=list(y.shape), by=by)))
        return
    y, h_n = sess.run(["Y", "Y_h"], feeds)
    print(json.dumps(dict(
        y=[float(v) for v in y.ravel()], y_shape=list(y.shape),
        h_n=[float(v) for v in h_n.ravel()], h_n_shape=list(h_n.shape),
        by=by,
    )))


if __name__ == "__main__":
    main()
