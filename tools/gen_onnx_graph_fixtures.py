#!/usr/bin/env python3
"""Fixtures of the ONNX graph runtime (crates/gru/src/convert/onnx/runtime): whole models
around GRU nodes, and onnxruntime's outputs for every graph output.

Run from the repository root (pinned versions: tools/requirements.txt):

    python3 tools/gen_onnx_graph_fixtures.py

Cases:
- `torch.onnx.export(..., dynamo=False)` of a GRU classifier (nn.GRU 2 layers + Linear on
  the last step + Softmax, opset 14), of a regressor (bidirectional nn.GRU,
  batch_first=True, Linear per step, opset 17) and of a batch-first classifier with
  LogSoftmax on the last step (opset 18), all with dynamic batch and sequence axes: their
  Shape/Gather/Unsqueeze/Concat/ConstantOfShape subgraphs must be evaluated per run.
- `onnx.helper` graphs: direction reverse with a nonzero initial_h graph input and ragged
  sequence_lens (a zero length included); layout 1 (batch-major) bidirectional with
  linear_before_reset 0 and a recurrent bias (onnxruntime refuses layout 1: its reference
  is the layout-0 GRU between the Transposes that the ONNX spec defines layout 1 by); a GRU with only its Y_h output, HardSigmoid
  alpha/beta, Softsign and clip, followed by Gemm (transA, transB, alpha, beta); every
  activation combination across three chained GRU nodes (alpha/beta consumed in order by
  the HardSigmoids only); an op zoo (MatMul 3-D by 2-D, Sub/Mul/Div broadcasting, Shape
  with start/end, Cast, Slice with negative starts and steps, Reshape 0/-1, Softmax
  axis=-1, Gather with negative indices, Concat, Transpose, Flatten, Squeeze, Unsqueeze,
  ConstantOfShape, Constant value_int(s)/value_float(s), Relu, Tanh, Sigmoid, Identity,
  Add); and a double model with a sequence_lens input (onnxruntime has no double GRU: its
  reference is onnxruntime on the float twin of the same graph, whose weights and inputs
  are the same f32-representable values).
Each model is checked with `onnx.checker` and run (CPU) twice with different batch sizes
and sequence lengths. Writes into crates/gru/tests/onnx_graph_fixtures/:

    {case}.onnx   the model
    {case}.json   {"model", "source", "opset", "runs": [{"inputs": {name: {dtype, shape,
                  data}}, "outputs": {name: {dtype, shape, data}}}], "predict"?}
    {case}.ts     (classifiers/regressors fed by `gru predict`): ragged sequences, and in the
                  JSON's "predict" the first graph output of each sequence run alone

crates/gru/tests/onnx_graph.rs reproduces every output within 1e-5;
crates/gru-cli/tests/predict_onnx.rs runs `gru predict` on the .ts files.
"""

import io
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent.parent / "crates/gru/tests/onnx_graph_fixtures"
F, D, I32, I64 = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT32, TensorProto.INT64


def tensor(arr, name):
    return numpy_helper.from_array(arr, name)


def ints(name, values):
    return tensor(np.array(values, np.int64), name)


def floats(rng, shape, scale=0.6, dtype=np.float32):
    return rng.uniform(-scale, scale, shape).astype(np.float32).astype(dtype)


def gru_inits(rng, name, dirs, hidden, inputs, bias=True, dtype=np.float32):
    """Seeded W [dirs, 3H, I], R [dirs, 3H, H] (and B [dirs, 6H]) initializers."""
    init = [tensor(floats(rng, (dirs, 3 * hidden, inputs), dtype=dtype), f"{name}_W"),
            tensor(floats(rng, (dirs, 3 * hidden, hidden), dtype=dtype), f"{name}_R")]
    if bias:
        init.append(tensor(floats(rng, (dirs, 6 * hidden), 0.5, dtype), f"{name}_B"))
    return init, [f"{name}_W", f"{name}_R", f"{name}_B" if bias else ""]


def model_of(nodes, name, inputs, outputs, init, opset):
    graph = helper.make_graph(nodes, name, inputs, outputs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model


def vi(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


# ---------------------------------------------------------------------------------------
# torch.onnx.export models


def torch_export(module, x, opset, axes, names=("X",)):
    import torch

    f = io.BytesIO()
    torch.onnx.export(module.eval(), (x,), f, dynamo=False, opset_version=opset, input_names=list(names),
                      output_names=["out"], dynamic_axes=axes)
    model = onnx.load_from_string(f.getvalue())
    onnx.checker.check_model(model, full_check=True)
    return model, f"torch {torch.__version__} torch.onnx.export(dynamo=False)"


def torch_classifier():
    import torch

    torch.manual_seed(11)

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.GRU(3, 5, num_layers=2)
            self.head = torch.nn.Linear(5, 4)

        def forward(self, x):  # x: [T, B, 3]
            y, _ = self.rnn(x)
            return torch.softmax(self.head(y[-1]), dim=-1)

    model, source = torch_export(Classifier(), torch.zeros(5, 2, 3), 14, {"X": {0: "T", 1: "B"}, "out": {0: "B"}})
    return model, source, [dict(T=6, B=3), dict(T=4, B=5)], "time"


def torch_regressor():
    import torch

    torch.manual_seed(12)

    class Regressor(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.GRU(3, 4, bidirectional=True, batch_first=True)
            self.head = torch.nn.Linear(8, 2)

        def forward(self, x):  # x: [B, T, 3]
            y, _ = self.rnn(x)
            return self.head(y)

    model, source = torch_export(Regressor(), torch.zeros(2, 5, 3), 17,
                                 {"X": {0: "B", 1: "T"}, "out": {0: "B", 1: "T"}})
    return model, source, [dict(T=5, B=2), dict(T=3, B=4)], "batch"


def torch_logsoftmax():
    import torch

    torch.manual_seed(13)

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.GRU(2, 3, batch_first=True)
            self.head = torch.nn.Linear(3, 3)

        def forward(self, x):  # x: [B, T, 2]
            y, _ = self.rnn(x)
            return torch.log_softmax(self.head(y[:, -1]), dim=1)

    model, source = torch_export(Classifier(), torch.zeros(2, 5, 2), 18, {"X": {0: "B", 1: "T"}, "out": {0: "B"}})
    return model, source, [dict(T=7, B=2), dict(T=2, B=3)], "batch"


# ---------------------------------------------------------------------------------------
# onnx.helper models


def reverse_initial_h(rng):
    """direction reverse, ragged sequence_lens (a zero length in the second run), initial_h
    a graph input; opset 13 (GRU-7, no layout attribute)."""
    init, (w, r, b) = gru_inits(rng, "gru", 1, 4, 3)
    nodes = [helper.make_node("GRU", ["X", w, r, b, "sequence_lens", "initial_h"], ["Y", "Y_h"], name="gru",
                              hidden_size=4, direction="reverse", linear_before_reset=1)]
    inputs = [vi("X", F, ["T", "B", 3]), vi("sequence_lens", I32, ["B"]), vi("initial_h", F, [1, "B", 4])]
    outputs = [vi("Y", F, ["T", 1, "B", 4]), vi("Y_h", F, [1, "B", 4])]
    model = model_of(nodes, "reverse_initial_h", inputs, outputs, init, 13)
    runs = [dict(T=5, B=3, lens=[5, 2, 4], h0=(1, 3, 4)), dict(T=3, B=4, lens=[1, 3, 0, 3], h0=(1, 4, 4))]
    return model, runs


def layout1_bidir(rng):
    """layout 1 (X [B, T, I], Y [B, T, dirs, H], Y_h [B, dirs, H]), bidirectional,
    linear_before_reset 0 with a nonzero recurrent bias, initial_h [B, dirs, H]."""
    init, (w, r, b) = gru_inits(rng, "gru", 2, 3, 2)
    attrs = dict(hidden_size=3, direction="bidirectional", linear_before_reset=0)
    nodes = [helper.make_node("GRU", ["X", w, r, b, "sequence_lens", "initial_h"], ["Y", "Y_h"], name="gru",
                              layout=1, **attrs)]
    inputs = [vi("X", F, ["B", "T", 2]), vi("sequence_lens", I32, ["B"]), vi("initial_h", F, ["B", 2, 3])]
    outputs = [vi("Y", F, ["B", "T", 2, 3]), vi("Y_h", F, ["B", 2, 3])]
    model = model_of(nodes, "layout1_bidir", inputs, outputs, init, 14)
    # onnxruntime refuses layout 1: its reference is the layout-0 twin between the Transposes
    # that the ONNX spec states layout 1 as.
    twin = [
        helper.make_node("Transpose", ["X"], ["x_t"], name="x_t", perm=[1, 0, 2]),
        helper.make_node("Transpose", ["initial_h"], ["h0_t"], name="h0_t", perm=[1, 0, 2]),
        helper.make_node("GRU", ["x_t", w, r, b, "sequence_lens", "h0_t"], ["y_t", "y_h_t"], name="gru", **attrs),
        helper.make_node("Transpose", ["y_t"], ["Y"], name="y", perm=[2, 0, 1, 3]),
        helper.make_node("Transpose", ["y_h_t"], ["Y_h"], name="y_h", perm=[1, 0, 2]),
    ]
    reference = model_of(twin, "layout1_bidir_twin", inputs, outputs, init, 14)
    runs = [dict(T=4, B=3, lens=[4, 1, 3], h0=(3, 2, 3), batch_first=True),
            dict(T=6, B=2, lens=[2, 6], h0=(2, 2, 3), batch_first=True)]
    return model, runs, reference


def only_yh_gemm(rng):
    """A GRU with only Y_h (HardSigmoid alpha/beta, Softsign, clip), then Squeeze, Gemm
    (transB, alpha, beta, C [N]) and Gemm (transA, C [1])."""
    init, (w, r, b) = gru_inits(rng, "gru", 1, 4, 3)
    init += [tensor(floats(rng, (3, 4)), "gemm_B"), tensor(floats(rng, (3,)), "gemm_C"),
             tensor(floats(rng, (4, 2)), "gemm2_B"), tensor(floats(rng, (1,)), "gemm2_C"), ints("axes0", [0])]
    nodes = [
        helper.make_node("GRU", ["X", w, r, b], ["", "h"], name="gru", hidden_size=4, clip=1.5,
                         activations=["HardSigmoid", "Softsign"], activation_alpha=[0.3], activation_beta=[0.45]),
        helper.make_node("Squeeze", ["h", "axes0"], ["h2"], name="squeeze"),
        helper.make_node("Gemm", ["h2", "gemm_B", "gemm_C"], ["scores"], name="gemm_transB", transB=1,
                         alpha=0.7, beta=1.3),
        helper.make_node("Transpose", ["h2"], ["h2t"], name="transpose", perm=[1, 0]),
        helper.make_node("Gemm", ["h2t", "gemm2_B", "gemm2_C"], ["other"], name="gemm_transA", transA=1,
                         alpha=1.1, beta=-0.5),
    ]
    inputs = [vi("X", F, ["T", "B", 3])]
    outputs = [vi("scores", F, ["B", 3]), vi("other", F, ["B", 2])]
    model = model_of(nodes, "only_yh_gemm", inputs, outputs, init, 18)
    return model, [dict(T=5, B=2), dict(T=3, B=4)]


def activation_combos(rng):
    """Three chained GRU nodes covering f ∈ {Sigmoid, HardSigmoid} × g ∈ {Tanh, Softsign};
    alpha/beta are consumed in order by the HardSigmoids only."""
    h = 3
    nodes, init = [], []
    specs = [
        dict(name="gru_a", dirs=2, inputs=2, attrs=dict(
            direction="bidirectional", linear_before_reset=1,
            activations=["Sigmoid", "Tanh", "HardSigmoid", "Softsign"],
            activation_alpha=[0.25], activation_beta=[0.55])),
        dict(name="gru_b", dirs=2, inputs=2 * h, attrs=dict(
            direction="bidirectional", linear_before_reset=0, clip=2.5,
            activations=["HardSigmoid", "Tanh", "HardSigmoid", "Softsign"],
            activation_alpha=[0.15, 0.35], activation_beta=[0.6, 0.4])),
        dict(name="gru_c", dirs=1, inputs=2 * h, attrs=dict(activations=["Sigmoid", "Softsign"])),
    ]
    x = "X"
    for k, s in enumerate(specs):
        i, (w, r, b) = gru_inits(rng, s["name"], s["dirs"], h, s["inputs"])
        init += i
        y = "Y" if k == len(specs) - 1 else f"{s['name']}_Y"
        nodes.append(helper.make_node("GRU", [x, w, r, b, "sequence_lens"], [y, f"{s['name']}_Y_h"],
                                      name=s["name"], hidden_size=h, **s["attrs"]))
        if k < len(specs) - 1:
            nodes.append(helper.make_node("Transpose", [y], [f"{y}_t"], name=f"{s['name']}_t", perm=[0, 2, 1, 3]))
            nodes.append(helper.make_node("Reshape", [f"{y}_t", "shape_00m1"], [f"{y}_r"], name=f"{s['name']}_r"))
            x = f"{y}_r"
    init.append(ints("shape_00m1", [0, 0, -1]))
    inputs = [vi("X", F, ["T", "B", 2]), vi("sequence_lens", I32, ["B"])]
    outputs = [vi("Y", F, ["T", 1, "B", h]), vi("gru_a_Y_h", F, [2, "B", h]), vi("gru_b_Y_h", F, [2, "B", h]),
               vi("gru_c_Y_h", F, [1, "B", h])]
    model = model_of(nodes, "activation_combos", inputs, outputs, init, 14)
    return model, [dict(T=5, B=3, lens=[5, 2, 4]), dict(T=4, B=2, lens=[3, 4])]


def op_zoo(rng):
    """The ops around a GRU that exported models use, each at least once (opset 18)."""
    init, (w, r, b) = gru_inits(rng, "gru", 1, 4, 3)
    init += [
        tensor(floats(rng, (4, 5)), "mm_B"), tensor(floats(rng, (1, 1, 5), 1.0) + 1.5, "mul_C"),
        tensor(floats(rng, (3, 12)), "gemm_B"), tensor(floats(rng, (3,)), "gemm_C"),
        ints("slice_starts", [-1]), ints("slice_ends", [-1000]), ints("slice_axes", [1]), ints("slice_steps", [-2]),
        ints("shape_0m1", [0, -1]), ints("first_last", [0, -1]), ints("axes1", [1]),
    ]
    c = lambda name, **kw: helper.make_node("Constant", [], [name], name=f"const_{name}", **kw)  # noqa: E731
    nodes = [
        helper.make_node("GRU", ["X", w, r, b], ["Y", ""], name="gru", hidden_size=4, linear_before_reset=1),
        c("axis_dir", value_ints=[1]),
        helper.make_node("Squeeze", ["Y", "axis_dir"], ["ys"], name="squeeze"),               # [T, B, 4]
        helper.make_node("Identity", ["ys"], ["ys_id"], name="identity"),
        helper.make_node("Transpose", ["ys_id"], ["yb"], name="to_batch_major", perm=[1, 0, 2]),  # [B, T, 4]
        helper.make_node("MatMul", ["yb", "mm_B"], ["m"], name="matmul"),                     # [B, T, 5]
        c("shift", value_floats=[0.1, -0.2, 0.3, 0.0, -0.5]),
        helper.make_node("Sub", ["m", "shift"], ["s"], name="sub"),
        helper.make_node("Mul", ["s", "mul_C"], ["p"], name="mul"),
        helper.make_node("Shape", ["X"], ["t_dim"], name="shape_t", start=0, end=1),          # [1] = [T]
        helper.make_node("Cast", ["t_dim"], ["t_float"], name="cast", to=F),
        helper.make_node("Div", ["p", "t_float"], ["d"], name="div"),
        helper.make_node("Slice", ["d", "slice_starts", "slice_ends", "slice_axes", "slice_steps"], ["sl"],
                         name="slice"),                                                        # [B, ceil(T/2), 5]
        helper.make_node("Softmax", ["sl"], ["probs"], name="softmax", axis=-1),
        helper.make_node("Reshape", ["sl", "shape_0m1"], ["flat_steps"], name="reshape"),
        helper.make_node("Tanh", ["flat_steps"], ["tanh_steps"], name="tanh"),
        c("minus_one", value_int=-1),
        helper.make_node("Gather", ["ys", "minus_one"], ["last"], name="gather_last", axis=0),  # [B, 4]
        helper.make_node("Gather", ["ys", "first_last"], ["ends"], name="gather_ends", axis=0),  # [2, B, 4]
        helper.make_node("Transpose", ["ends"], ["ends_b"], name="ends_to_batch", perm=[1, 0, 2]),
        helper.make_node("Flatten", ["ends_b"], ["ends_flat"], name="flatten", axis=1),        # [B, 8]
        helper.make_node("Concat", ["last", "ends_flat"], ["feat"], name="concat", axis=-1),   # [B, 12]
        helper.make_node("Gemm", ["feat", "gemm_B", "gemm_C"], ["g"], name="gemm", transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Sigmoid", ["g"], ["gate"], name="sigmoid"),
        helper.make_node("Shape", ["X"], ["b_dim"], name="shape_b", start=-2, end=-1),        # [1] = [B]
        c("three", value_ints=[3]),
        helper.make_node("Concat", ["b_dim", "three"], ["fill_shape"], name="fill_shape", axis=0),
        helper.make_node("ConstantOfShape", ["fill_shape"], ["fill"], name="fill",
                         value=numpy_helper.from_array(np.array([0.25], np.float32))),
        helper.make_node("Add", ["g", "fill"], ["g_shift"], name="add"),
        helper.make_node("Relu", ["g_shift"], ["g_relu"], name="relu"),
        helper.make_node("Unsqueeze", ["g_relu", "axes1"], ["g_steps"], name="unsqueeze"),     # [B, 1, 3]
        c("minus_two", value_int=-2),
        helper.make_node("Gather", ["yb", "minus_two"], ["second_last"], name="gather_axis1", axis=1),  # [B, 4]
        c("half", value_float=0.5),
        helper.make_node("Mul", ["second_last", "half"], ["second_half"], name="mul_scalar"),
    ]
    inputs = [vi("X", F, ["T", "B", 3])]
    outputs = [vi("probs", F, ["B", "S", 5]), vi("tanh_steps", F, ["B", "N"]), vi("gate", F, ["B", 3]),
               vi("g_steps", F, ["B", 1, 3]), vi("second_half", F, ["B", 4])]
    model = model_of(nodes, "op_zoo", inputs, outputs, init, 18)
    return model, [dict(T=5, B=2), dict(T=8, B=3)]


def double_lengths(rng):
    """A double model with a sequence_lens input: GRU -> Y_h -> Squeeze -> Gemm [B, 2]."""
    def build(dtype, elem):
        g = np.random.default_rng(21)
        init, (w, r, b) = gru_inits(g, "gru", 1, 3, 2, dtype=dtype)
        init += [tensor(floats(g, (2, 3), dtype=dtype), "head_B"), tensor(floats(g, (2,), dtype=dtype), "head_C"),
                 ints("axes0", [0])]
        nodes = [
            helper.make_node("GRU", ["X", w, r, b, "sequence_lens"], ["", "h"], name="gru", hidden_size=3,
                             linear_before_reset=1),
            helper.make_node("Squeeze", ["h", "axes0"], ["h2"], name="squeeze"),
            helper.make_node("Gemm", ["h2", "head_B", "head_C"], ["out"], name="head", transB=1),
        ]
        inputs = [vi("X", elem, ["T", "B", 2]), vi("sequence_lens", I32, ["B"])]
        return model_of(nodes, "double_lengths", inputs, [vi("out", elem, ["B", 2])], init, 14)

    return build(np.float64, D), build(np.float32, F), [dict(T=5, B=3, lens=[5, 2, 4]), dict(T=3, B=2, lens=[3, 1])]


# ---------------------------------------------------------------------------------------
# running and writing


def session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def jtensor(arr):
    kind = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64", np.dtype(np.int32): "int32",
            np.dtype(np.int64): "int64"}[arr.dtype]
    data = [float(v) for v in arr.ravel()] if arr.dtype.kind == "f" else [int(v) for v in arr.ravel()]
    return dict(dtype=kind, shape=list(arr.shape), data=data)


def feeds(model, run, rng, dtype=np.float32):
    """Inputs of one run: X (time- or batch-major by the declared dims), sequence_lens and initial_h."""
    names = [i.name for i in model.graph.input]
    x_info = next(i for i in model.graph.input if i.name == "X")
    channels = x_info.type.tensor_type.shape.dim[2].dim_value
    first = x_info.type.tensor_type.shape.dim[0].dim_param
    batch_first = run.get("batch_first", first == "B")
    shape = (run["B"], run["T"], channels) if batch_first else (run["T"], run["B"], channels)
    out = {"X": rng.uniform(-1.5, 1.5, shape).astype(np.float32).astype(dtype)}
    if "sequence_lens" in names:
        out["sequence_lens"] = np.array(run.get("lens", [run["T"]] * run["B"]), np.int32)
    if "initial_h" in names:
        out["initial_h"] = rng.uniform(-0.9, 0.9, run["h0"]).astype(np.float32)
    return out


def write_ts(path, sequences):
    """Ragged sequences [len, C] as a .ts file (label `a` everywhere: predict ignores it)."""
    c = sequences[0].shape[1]
    lines = [f"# Generated by tools/gen_onnx_graph_fixtures.py for `gru predict` on {path.stem}.onnx",
             f"@problemName {path.stem}", "@timeStamps false", "@missing false",
             f"@univariate {'true' if c == 1 else 'false'}", f"@dimensions {c}", "@equalLength false",
             "@classLabel true a", "@data"]
    for s in sequences:
        lines.append(":".join(",".join(repr(float(v)) for v in s[:, k]) for k in range(c)) + ":a")
    path.write_text("\n".join(lines) + "\n")


def predict_case(name, model, layout, rng, lengths, reference=None, dtype=np.float32):
    """Ragged sequences run one at a time: the first graph output of each, flattened."""
    sess = session(reference if reference is not None else model)
    x_info = next(i for i in model.graph.input if i.name == "X")
    channels = x_info.type.tensor_type.shape.dim[2].dim_value
    sequences = [rng.uniform(-1.5, 1.5, (n, channels)).astype(np.float32) for n in lengths]
    names = [i.name for i in model.graph.input]
    outputs = []
    for s in sequences:
        x = s[None] if layout == "batch" else s[:, None]
        feed = {"X": x}
        if "sequence_lens" in names:
            feed["sequence_lens"] = np.array([len(s)], np.int32)
        out = sess.run(None, feed)[0]
        outputs.append([float(v) for v in out.ravel()])
    write_ts(OUT / f"{name}.ts", sequences)
    return dict(data=f"{name}.ts", outputs=outputs)


def write_case(name, model, source, runs, rng, predict=None, reference=None, dtype=np.float32):
    sess = session(reference if reference is not None else model)
    out_names = [o.name for o in model.graph.output]
    jruns = []
    for run in runs:
        feed = feeds(model, run, rng, dtype)
        ref_feed = {k: (v.astype(np.float32) if v.dtype == np.float64 else v) for k, v in feed.items()}
        outs = sess.run(out_names, ref_feed)
        jruns.append(dict(inputs={k: jtensor(v) for k, v in feed.items()},
                          outputs={n: jtensor(o.astype(dtype) if o.dtype.kind == "f" else o)
                                   for n, o in zip(out_names, outs)}))
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    doc = dict(model=f"{name}.onnx", source=f"{source}, onnxruntime {ort.__version__} CPU", opset=opset, runs=jruns)
    if predict is not None:
        doc["predict"] = predict
    onnx.save(model, OUT / f"{name}.onnx")
    (OUT / f"{name}.json").write_text(json.dumps(doc) + "\n")
    shapes = [{n: o["shape"] for n, o in r["outputs"].items()} for r in jruns]
    print(f"{name}: opset {opset}, {shapes}")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2024)
    for name, make in [("torch_classifier", torch_classifier), ("torch_regressor_bidir", torch_regressor),
                       ("torch_logsoftmax_batch_first", torch_logsoftmax)]:
        model, source, runs, layout = make()
        lengths = {"torch_classifier": [6, 3, 9, 1, 4], "torch_regressor_bidir": [4, 7, 2]}.get(name)
        predict = predict_case(name, model, layout, rng, lengths) if lengths else None
        write_case(name, model, source, runs, rng, predict)
    helper_source = f"onnx {onnx.__version__} helper"
    for name, make in [("reverse_initial_h", reverse_initial_h), ("layout1_bidir", layout1_bidir),
                       ("only_yh_gemm", only_yh_gemm), ("activation_combos", activation_combos),
                       ("op_zoo", op_zoo)]:
        model, runs, *reference = make(np.random.default_rng(len(name)))
        source = helper_source + ("; reference: its layout-0 twin" if reference else "")
        write_case(name, model, source, runs, rng, reference=reference[0] if reference else None)
    model, twin, runs = double_lengths(rng)
    source = f"{helper_source}; reference: its float twin"
    predict = predict_case("double_lengths", model, "time", rng, [3, 5, 1], reference=twin)
    write_case("double_lengths", model, source, runs, rng, predict, reference=twin, dtype=np.float64)


if __name__ == "__main__":
    main()
