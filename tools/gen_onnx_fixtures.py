#!/usr/bin/env python3
"""Fixtures of the ONNX importer: GRU models built with `onnx.helper`, and onnxruntime's outputs.

Run from the repository root (pinned versions: tools/requirements.txt):

    python3 tools/gen_onnx_fixtures.py

Each case is a graph of one or more ONNX `GRU` nodes (opset 14) with seeded random
weights, covering the attributes the importer reads: direction forward / bidirectional,
linear_before_reset 0 (with a nonzero recurrent bias, so that `b = Wb + Rb` is exercised)
and 1, activations with alpha/beta (HardSigmoid, Softsign), clip, an absent B, an absent
`activations` attribute, sequence_lens, a zero `initial_h` built by ConstantOfShape (as
`torch.onnx.export` does), and stacked nodes joined by Transpose(0, 2, 1, 3) + Reshape or
by Squeeze. Two more cases are `torch.onnx.export` (dynamo=False) of a GRU classifier
(nn.GRU + Linear on the last step), with its Shape/Gather/Unsqueeze/Concat/ConstantOfShape/
Slice initial_h subgraph and Constant nodes; the importer reads their GRU nodes and
ignores the head. Every graph ends in our layout: Y [T, B, dirs*H] and Y_h [D*dirs, B, H].
The models are checked with `onnx.checker` and run in onnxruntime (CPU, f32). Writes into
crates/gru/tests/onnx_fixtures/:

    {case}.onnx   the model
    {case}.json   the spec the import must infer, the inputs x [T, B, I] and lengths, and
                  onnxruntime's outputs y [T, B, dirs*H] and h_n [D*dirs, B, H]

crates/gru/tests/onnx.rs reproduces every output within 1e-5.
"""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent.parent / "crates/gru/tests/onnx_fixtures"
T, B = 5, 3


def gru_node(name, x, k, dirs, attrs, init, rng, inputs, hidden, bias=True, initial_h=""):
    """One GRU node reading x, with seeded W, R (and B) initializers named after it."""
    w = rng.uniform(-0.6, 0.6, (dirs, 3 * hidden, inputs)).astype(np.float32)
    r = rng.uniform(-0.6, 0.6, (dirs, 3 * hidden, hidden)).astype(np.float32)
    init += [numpy_helper.from_array(w, f"{name}_W"), numpy_helper.from_array(r, f"{name}_R")]
    b_name = ""
    if bias:
        b = rng.uniform(-0.5, 0.5, (dirs, 6 * hidden)).astype(np.float32)
        b_name = f"{name}_B"
        init.append(numpy_helper.from_array(b, b_name))
    ins = [x, f"{name}_W", f"{name}_R", b_name, "sequence_lens", initial_h]
    while ins and ins[-1] == "":
        ins.pop()
    return helper.make_node("GRU", ins, [f"{name}_Y", f"{name}_Y_h"], name=name, **attrs)


def build(case):
    rng = np.random.default_rng(case["seed"])
    i, h, depth = case["input_size"], case["hidden_size"], case["depth"]
    dirs = 2 if case["direction"] == "bidirectional" else 1
    attrs = dict(hidden_size=h, direction=case["direction"], **case.get("attrs", {}))
    nodes, init = [], []
    x = "X"
    states = []
    for k in range(depth):
        name = f"gru{k}"
        initial_h = ""
        if case.get("zero_initial_h") and k == 0:
            # torch.onnx.export's pattern: ConstantOfShape(Concat(dirs, Gather(Shape(X), 1), H)).
            init.append(numpy_helper.from_array(np.array([dirs], np.int64), "h0_dirs"))
            init.append(numpy_helper.from_array(np.array([h], np.int64), "h0_hidden"))
            init.append(numpy_helper.from_array(np.array(1, np.int64), "h0_batch_axis"))
            nodes += [
                helper.make_node("Shape", ["X"], ["x_shape"], name="h0_shape"),
                helper.make_node("Gather", ["x_shape", "h0_batch_axis"], ["batch"], name="h0_gather", axis=0),
                helper.make_node("Unsqueeze", ["batch", "h0_axes"], ["batch1"], name="h0_unsqueeze"),
                helper.make_node("Concat", ["h0_dirs", "batch1", "h0_hidden"], ["h0_dims"], name="h0_concat", axis=0),
                helper.make_node(
                    "ConstantOfShape", ["h0_dims"], ["h0"], name="h0_fill",
                    value=numpy_helper.from_array(np.zeros(1, np.float32)),
                ),
            ]
            init.append(numpy_helper.from_array(np.array([0], np.int64), "h0_axes"))
            initial_h = "h0"
        inputs = i if k == 0 else dirs * h
        nodes.append(gru_node(name, x, k, dirs, attrs, init, rng, inputs, h, case.get("bias", True), initial_h))
        y = f"{name}_Y"
        out = "Y" if k == depth - 1 else f"{name}_out"
        if dirs == 1 and case.get("squeeze"):
            init.append(numpy_helper.from_array(np.array([1], np.int64), f"{name}_axes"))
            nodes.append(helper.make_node("Squeeze", [y, f"{name}_axes"], [out], name=f"{name}_squeeze"))
        else:
            nodes.append(helper.make_node("Transpose", [y], [f"{name}_t"], name=f"{name}_transpose", perm=[0, 2, 1, 3]))
            init.append(numpy_helper.from_array(np.array([0, 0, -1], np.int64), f"{name}_shape"))
            nodes.append(helper.make_node("Reshape", [f"{name}_t", f"{name}_shape"], [out], name=f"{name}_reshape"))
        states.append(f"{name}_Y_h")
        x = out
    nodes.append(helper.make_node("Concat", states, ["Y_h"], name="states", axis=0))
    graph = helper.make_graph(
        nodes,
        case["name"],
        [
            helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "B", i]),
            helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, ["B"]),
        ],
        [
            helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["T", "B", dirs * h]),
            helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [depth * dirs, "B", h]),
        ],
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model, dirs


CASES = [
    dict(name="forward_lbr1", seed=1, input_size=3, hidden_size=4, depth=1, direction="forward",
         attrs=dict(linear_before_reset=1), mode="recurrent-bias-after-multiplication"),
    dict(name="forward_lbr0_recurrent_bias", seed=2, input_size=3, hidden_size=4, depth=1, direction="forward",
         attrs=dict(linear_before_reset=0), mode="before-multiplication"),
    dict(name="defaults_no_bias", seed=3, input_size=2, hidden_size=3, depth=1, direction="forward",
         bias=False, mode="before-multiplication"),
    dict(name="bidir_hard_sigmoid_softsign_clip", seed=4, input_size=3, hidden_size=4, depth=1,
         direction="bidirectional", mode="recurrent-bias-after-multiplication",
         attrs=dict(linear_before_reset=1, clip=1.5,
                    activations=["HardSigmoid", "Softsign", "HardSigmoid", "Softsign"],
                    activation_alpha=[0.3, 0.3], activation_beta=[0.45, 0.45]),
         gate="hard-sigmoid", alpha=0.3, beta=0.45, state="softsign"),
    dict(name="stacked_bidir_torch_like_h0", seed=5, input_size=3, hidden_size=4, depth=2,
         direction="bidirectional", attrs=dict(linear_before_reset=1), zero_initial_h=True,
         mode="recurrent-bias-after-multiplication"),
    dict(name="stacked_forward_squeeze_lbr0", seed=6, input_size=2, hidden_size=5, depth=3, direction="forward",
         squeeze=True, attrs=dict(linear_before_reset=0, activations=["Sigmoid", "Tanh"], clip=2.0),
         mode="before-multiplication"),
]


TORCH_CASES = [
    dict(name="torch_classifier_bidir", seed=7, input_size=3, hidden_size=4, depth=2, bidirectional=True),
    dict(name="torch_classifier_forward", seed=8, input_size=2, hidden_size=5, depth=2, bidirectional=False),
]


def build_torch(case):
    """`torch.onnx.export` (TorchScript exporter, dynamo=False) of a GRU classifier:
    nn.GRU (random biases) + Linear on the last step; outputs Y, Y_h and the logits."""
    import io

    import torch

    torch.manual_seed(case["seed"])

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.GRU(case["input_size"], case["hidden_size"], num_layers=case["depth"],
                                    bidirectional=case["bidirectional"])
            dirs = 2 if case["bidirectional"] else 1
            self.head = torch.nn.Linear(dirs * case["hidden_size"], 2)

        def forward(self, x):
            y, h = self.rnn(x)
            return y, h, self.head(y[-1])

    m = Classifier().eval()
    f = io.BytesIO()
    x = torch.zeros(T, B, case["input_size"])
    torch.onnx.export(m, (x,), f, dynamo=False, opset_version=14, input_names=["X"],
                      output_names=["Y", "Y_h", "logits"], dynamic_axes={"X": {0: "T", 1: "B"}})
    model = onnx.load_from_string(f.getvalue())
    onnx.checker.check_model(model, full_check=True)
    return model, 2 if case["bidirectional"] else 1, f"torch {torch.__version__} torch.onnx.export(dynamo=False)"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for case in CASES + TORCH_CASES:
        torch_made = case in TORCH_CASES
        if torch_made:
            model, dirs, source = build_torch(case)
            case = dict(case, direction="bidirectional" if dirs == 2 else "forward",
                        mode="recurrent-bias-after-multiplication")
        else:
            model, dirs = build(case)
            source = f"onnx {onnx.__version__} helper"
        rng = np.random.default_rng(100 + case["seed"])
        x = rng.uniform(-1.5, 1.5, (T, B, case["input_size"])).astype(np.float32)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        if torch_made:  # no sequence_lens input: full-length sequences
            lengths = np.array([T] * B, np.int32)
            y, h_n = sess.run(["Y", "Y_h"], {"X": x})
        else:
            lengths = np.array([T, 2, 4], np.int32)
            y, h_n = sess.run(["Y", "Y_h"], {"X": x, "sequence_lens": lengths})
        name = case["name"]
        onnx.save(model, OUT / f"{name}.onnx")
        spec = dict(
            input_size=case["input_size"], hidden_size=case["hidden_size"], depth=case["depth"],
            bidirectional=dirs == 2, reset_gate_mode=case["mode"], clip=case.get("attrs", {}).get("clip"),
            gate_activation=case.get("gate", "sigmoid"), state_activation=case.get("state", "tanh"),
            alpha=case.get("alpha"), beta=case.get("beta"),
        )
        out = dict(
            source=f"{source}, onnxruntime {ort.__version__} CPU",
            model=f"{name}.onnx", spec=spec,
            x_shape=list(x.shape), x=[float(v) for v in x.ravel()], lengths=[int(v) for v in lengths],
            y_shape=list(y.shape), y=[float(v) for v in y.ravel()],
            h_n_shape=list(h_n.shape), h_n=[float(v) for v in h_n.ravel()],
        )
        (OUT / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n")
        print(f"{name}: y {y.shape}, h_n {h_n.shape}")


if __name__ == "__main__":
    main()
