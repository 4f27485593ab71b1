#!/usr/bin/env python3
"""The Python side of `gru bench --compare`: PyTorch's nn.GRU, onnxruntime's GRU node and
torch.mm, each timed ONE call at a time on request, so that they take their turn in the
benchmark's interleaved rounds beside our engines (gru bench starts this worker once and
keeps it; crates/gru-bench/src/worker.rs is the other end).

    python3 tools/bench_worker.py --threads 2                 # the worker
    python3 tools/bench_worker.py --threads 2 --memory-one "B32 T100 H256"

Protocol: one JSON object per line on stdin, one JSON answer per line on stdout.
    {"op": "hello"}        -> {"threads": 2, "torch": "2.15.0" | null, "onnxruntime": ... | null,
                               "missing": {"torch": "why it cannot be imported", ...}}
    {"op": "prepare", "peer": "torch" | "onnxruntime", "shape": "B32 T100 H256",
     "mode": "inference" | "training", "reset": "recurrent-bias-after-multiplication"}
                           -> {"ok": true}   (builds the model, warms it up: >= 3 calls and 100 ms)
    {"op": "time", ...}    -> {"ms": 1.234}  (one timed call; "op" defaults to "time", and an
                               unprepared model is prepared first)
    {"peer": "torch", "gemm": 2048, ...}     torch.mm of two 2048 x 2048 f32 matrices, in place
                                             of "shape"/"mode"/"reset"
    {"peer": "torch" | "onnxruntime", "step": {"batch": 16, "hidden": 256, "kind": "cell" |
     "gru" | "session", "steps": 200}}      streaming steps with h carried (I = H, inference):
                                             a timed call runs `steps` of them and answers the
                                             ms of ONE step (their mean). torch "cell":
                                             nn.GRUCell(x, h); torch "gru": nn.GRU over T = 1,
                                             (y, h) = gru(x[None], h); onnxruntime "session":
                                             one GRU node over T = 1 with initial_h, Y_h fed back
    {"op": "release"}      -> {"ok": true}   (drops every prepared model)
    anything that fails    -> {"error": "..."}
Nothing else is written to stdout (libraries' prints go to stderr).

The models: I = H, time-major x [T, B, H] in [-1, 1], weights uniform in [-1/sqrt(H), 1/sqrt(H)]
(seed 0). PyTorch: nn.GRU(H, H) (recurrent-bias-after-multiplication; after-multiplication
is the same with the recurrent n bias zero; it has no before-multiplication). Inference is
a forward under no_grad; training a forward and the backward of sum(y * dy).
onnxruntime (inference only): one GRU node, linear_before_reset = 1 (0 for
before-multiplication), outputs Y and Y_h, on the CPU execution provider.
Threads: torch.set_num_threads(N) and onnxruntime's intra_op_num_threads = N (one inter-op
thread, sequential execution), N from --threads (gru bench passes the count its own
engine uses).
--memory-one: in this fresh process, the MB by which one training call grows the peak
resident set (Linux VmHWM, reset through /proc/self/clear_refs) after the model and inputs
exist; `gru bench` measures its own engine the same way.
Requires torch, and numpy + onnx + onnxruntime for the onnxruntime column
(tools/requirements.txt); a missing package only empties its column.
"""
import argparse
import json
import os
import re
import sys
import time

WARM_UP_CALLS = 3
WARM_UP_SECONDS = 0.1
RESETS = ("recurrent-bias-after-multiplication", "after-multiplication", "before-multiplication")

torch = None
ort = None
missing = {}


def import_peers(threads):
    """Imports what is there; records why the rest is missing."""
    global torch, ort
    try:
        import torch as t
        t.set_num_threads(threads)
        torch = t
    except Exception as e:  # ImportError, or a broken install's OSError
        missing["torch"] = str(e)
    try:
        import numpy  # noqa: F401
        import onnx  # noqa: F401
        import onnxruntime as o
        ort = o
    except Exception as e:
        missing["onnxruntime"] = str(e)


def parse_shape(name):
    """'B32 T100 H256' -> (32, 100, 256)."""
    m = re.fullmatch(r"B(\d+) T(\d+) H(\d+)", str(name))
    if not m:
        raise ValueError(f"shape {name!r} is not of the form 'B32 T100 H256'")
    b, t, h = (int(v) for v in m.groups())
    if min(b, t, h) < 1:
        raise ValueError(f"shape {name!r} has a zero size")
    return b, t, h


def torch_gru(shape, mode, reset):
    """One call of nn.GRU on `shape`: inference or training (forward + backward)."""
    if torch is None:
        raise RuntimeError("torch cannot be imported: " + missing["torch"])
    if reset == "before-multiplication":
        raise RuntimeError("PyTorch's nn.GRU has no before-multiplication mode")
    b, t, h = shape
    torch.manual_seed(0)
    gru = torch.nn.GRU(h, h)
    if reset == "after-multiplication":
        with torch.no_grad():
            gru.bias_hh_l0[2 * h:] = 0  # gate order r, z, n: the recurrent n bias
    x = torch.rand(t, b, h) * 2 - 1
    dy = torch.rand(t, b, h) * 2 - 1
    if mode == "inference":
        def call():
            with torch.no_grad():
                gru(x)
    else:
        def call():
            gru.zero_grad()
            xs = x.clone().requires_grad_(True)
            y, _ = gru(xs)
            (y * dy).sum().backward()
    return call



def ort_session(graph, threads):
    """An onnxruntime CPU session of `graph` (opset 14) on `threads` intra-op threads, one
    inter-op thread, sequential execution: the same for every onnxruntime contestant."""
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])

def ort_gru(shape, mode, reset, threads):
    """One call of an onnxruntime session holding one GRU node (inference only)."""
    if ort is None:
        raise RuntimeError("onnxruntime cannot be imported: " + missing["onnxruntime"])
    if mode != "inference":
        raise RuntimeError("onnxruntime runs inference only")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    b, t, h = shape
    rng = np.random.default_rng(0)
    s = 1.0 / np.sqrt(h)
    # ONNX layouts: W [dirs, 3H, I], R [dirs, 3H, H], B [dirs, 6H] = [Wb | Rb], gates z, r, h.
    w = rng.uniform(-s, s, (1, 3 * h, h)).astype(np.float32)
    r = rng.uniform(-s, s, (1, 3 * h, h)).astype(np.float32)
    bias = rng.uniform(-s, s, (1, 6 * h)).astype(np.float32)
    if reset == "after-multiplication":
        bias[0, 5 * h:] = 0  # Rb_h: lbr = 1 without it is after-multiplication
    node = helper.make_node(
        "GRU", ["X", "W", "R", "B"], ["Y", "Y_h"], hidden_size=h,
        linear_before_reset=0 if reset == "before-multiplication" else 1,
    )
    graph = helper.make_graph(
        [node], "gru",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [t, b, h])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [t, 1, b, h]),
         helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, b, h])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R"), numpy_helper.from_array(bias, "B")],
    )
    session = ort_session(graph, threads)
    x = rng.uniform(-1, 1, (t, b, h)).astype(np.float32)

    def call():
        session.run(None, {"X": x})
    return call


def torch_step(b, h, kind, steps):
    """`steps` streaming steps of nn.GRUCell or nn.GRU (T = 1), h carried, under no_grad."""
    if torch is None:
        raise RuntimeError("torch cannot be imported: " + missing["torch"])
    torch.manual_seed(0)
    x = torch.rand(b, h) * 2 - 1
    if kind == "cell":
        cell = torch.nn.GRUCell(h, h)
        state = [torch.zeros(b, h)]

        def call():
            with torch.no_grad():
                hx = state[0]
                for _ in range(steps):
                    hx = cell(x, hx)
                state[0] = hx
    elif kind == "gru":
        gru = torch.nn.GRU(h, h)
        x1 = x.unsqueeze(0)
        state = [torch.zeros(1, b, h)]

        def call():
            with torch.no_grad():
                hx = state[0]
                for _ in range(steps):
                    _, hx = gru(x1, hx)
                state[0] = hx
    else:
        raise ValueError(f"torch step kind {kind!r} is not 'cell' or 'gru'")
    return call


def ort_step(b, h, steps, threads):
    """`steps` runs of a one-step GRU session (X [1, B, H], initial_h [1, B, H]), Y_h fed back."""
    if ort is None:
        raise RuntimeError("onnxruntime cannot be imported: " + missing["onnxruntime"])
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    s = 1.0 / np.sqrt(h)
    w = rng.uniform(-s, s, (1, 3 * h, h)).astype(np.float32)
    r = rng.uniform(-s, s, (1, 3 * h, h)).astype(np.float32)
    bias = rng.uniform(-s, s, (1, 6 * h)).astype(np.float32)
    node = helper.make_node("GRU", ["X", "W", "R", "B", "", "H0"], ["Y", "Y_h"], hidden_size=h,
                            linear_before_reset=1)
    graph = helper.make_graph(
        [node], "gru_step",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, b, h]),
         helper.make_tensor_value_info("H0", TensorProto.FLOAT, [1, b, h])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 1, b, h]),
         helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, b, h])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R"), numpy_helper.from_array(bias, "B")],
    )
    session = ort_session(graph, threads)
    x = rng.uniform(-1, 1, (1, b, h)).astype(np.float32)
    state = [np.zeros((1, b, h), np.float32)]

    def call():
        hx = state[0]
        for _ in range(steps):
            _, hx = session.run(None, {"X": x, "H0": hx})
        state[0] = hx
    return call


def torch_gemm(n):
    """One call of torch.mm on n x n f32 matrices (MKL on Intel hosts)."""
    if torch is None:
        raise RuntimeError("torch cannot be imported: " + missing["torch"])
    torch.manual_seed(0)
    a, b = torch.rand(n, n) * 2 - 1, torch.rand(n, n) * 2 - 1
    c = torch.empty(n, n)

    def call():
        torch.mm(a, b, out=c)
    return call


def build(req, threads):
    """The call a request names, and its cache key."""
    peer = req.get("peer")
    if "step" in req:
        st = req["step"]
        b, h, kind, steps = (st.get(k) for k in ("batch", "hidden", "kind", "steps"))
        if not all(isinstance(v, int) and v >= 1 for v in (b, h, steps)):
            raise ValueError(f"step needs positive batch, hidden and steps, got {st!r}")
        key = ("step", peer, b, h, kind, steps)
        if peer == "torch":
            return key, lambda: torch_step(b, h, kind, steps)
        if peer == "onnxruntime" and kind == "session":
            return key, lambda: ort_step(b, h, steps, threads)
        raise ValueError(f"step kind {kind!r} is not one of peer {peer!r}'s")
    if "gemm" in req:
        n = req["gemm"]
        if peer != "torch" or not isinstance(n, int) or n < 1:
            raise ValueError(f"gemm needs peer 'torch' and a positive size, got {peer!r} and {n!r}")
        return ("gemm", peer, n), lambda: torch_gemm(n)
    shape = parse_shape(req.get("shape"))
    mode, reset = req.get("mode"), req.get("reset", RESETS[0])
    if mode not in ("inference", "training"):
        raise ValueError(f"mode {mode!r} is not 'inference' or 'training'")
    if reset not in RESETS:
        raise ValueError(f"reset {reset!r} is not one of {', '.join(RESETS)}")
    if peer == "torch":
        return ("gru", peer, shape, mode, reset), lambda: torch_gru(shape, mode, reset)
    if peer == "onnxruntime":
        return ("gru", peer, shape, mode, reset), lambda: ort_gru(shape, mode, reset, threads)
    raise ValueError(f"peer {peer!r} is not 'torch' or 'onnxruntime'")


def warm_up(call):
    start = time.perf_counter()
    calls = 0
    while calls < WARM_UP_CALLS or time.perf_counter() - start < WARM_UP_SECONDS:
        call()
        calls += 1


def answer(req, prepared, threads):
    op = req.get("op", "time")
    if op == "hello":
        return {
            "threads": threads,
            "torch": torch.__version__ if torch else None,
            "onnxruntime": ort.__version__ if ort else None,
            "missing": missing,
        }
    if op == "release":
        prepared.clear()
        return {"ok": True}
    if op not in ("prepare", "time"):
        raise ValueError(f"op {op!r} is not hello, prepare, time or release")
    key, make = build(req, threads)
    if key not in prepared:
        call = make()
        warm_up(call)
        prepared[key] = call
    if op == "prepare":
        return {"ok": True}
    call = prepared[key]
    per = req["step"]["steps"] if "step" in req else 1
    t = time.perf_counter()
    call()
    return {"ms": (time.perf_counter() - t) * 1e3 / per}


def serve(threads):
    # The protocol owns file descriptor 1; anything a library prints goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import_peers(threads)
    prepared = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("a request is a JSON object")
            reply = answer(req, prepared, threads)
        except Exception as e:
            reply = {"error": f"{type(e).__name__}: {e}"}
        protocol.write(json.dumps(reply) + "\n")


def rss_mb():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return float(fields["VmRSS"].split()[0]) / 1024, float(fields["VmHWM"].split()[0]) / 1024


def memory_one(name, threads):
    """Prints the MB one training call of nn.GRU adds to the peak resident set."""
    import_peers(threads)
    if torch is None:
        sys.exit("torch cannot be imported: " + missing["torch"])
    call = torch_gru(parse_shape(name), "training", RESETS[0])
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before, _ = rss_mb()
    call()
    _, peak = rss_mb()
    print(max(0.0, peak - before))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-one", type=str, default=None, metavar="SHAPE",
                    help="print one training call's peak memory (MB) of this shape and exit")
    a = ap.parse_args()
    if a.threads < 1:
        ap.error("--threads must be at least 1")
    if a.memory_one is not None:
        memory_one(a.memory_one, a.threads)
    else:
        serve(a.threads)


if __name__ == "__main__":
    main()
