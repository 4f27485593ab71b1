#!/usr/bin/env python3
"""Reference-fixture generator for the gru conformance suite.

Run from the repository root:

    python3 tools/gen_fixtures.py

It implements the GRU of DESIGN.md with plain torch tensor ops (autograd gives the
gradients), checks that implementation against torch.nn.GRU (forward, final states and
gradients) and against onnxruntime's GRU operator (forward, every option), checks its
gradients by finite differences, and then writes one JSON fixture per case into
crates/gru-conformance/fixtures/. Everything is seeded: a rerun gives the same cases
(values may differ in the last bits on another machine or library build).

Any failed self-check raises and the script exits non-zero before writing anything.
"""

import itertools
import json
import math
import sys
import zlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "crates" / "gru-conformance" / "fixtures"

MODES = {
    "after": "after-multiplication",
    "before": "before-multiplication",
    "rba": "recurrent-bias-after-multiplication",
}
# Gate-activation variants: (json name, alpha, beta, file-name tag)
GATES = {
    "sigmoid": ("sigmoid", 0.2, 0.5, "sigmoid"),
    "hard-sigmoid": ("hard-sigmoid", 0.2, 0.5, "hardsig"),
    "hard-sigmoid-k3": ("hard-sigmoid", 1.0 / 6.0, 0.5, "hardsig6"),
}
KINK_MARGIN = 1e-3
MAX_ATTEMPTS = 500

torch.set_num_threads(1)  # determinism of the reductions


# ---------------------------------------------------------------------------
# The reference GRU (plain tensor ops, autograd for the gradients)
# ---------------------------------------------------------------------------

def gate_act(a, spec):
    if spec["gate_activation"] == "sigmoid":
        return torch.sigmoid(a)
    # torch.clamp: derivative at the kinks is the inner region's (alpha)
    return torch.clamp(spec["hard_sigmoid_alpha"] * a + spec["hard_sigmoid_beta"], 0.0, 1.0)


def state_act(a, spec):
    if spec["state_activation"] == "tanh":
        return torch.tanh(a)
    return a / (1.0 + a.abs())


def clip(a, spec):
    c = spec["clip"]
    return a if c is None else torch.clamp(a, -c, c)


def cell(x, h, W, R, b, spec, m, rec):
    """One step. x [B, In], h [B, H], m [B] valid mask. Returns h_new [B, H]."""
    H = h.shape[1]
    mode = spec["reset_gate_mode"]
    gx = x @ W.t() + b[: 3 * H]
    gh = h @ R.t()
    if mode == MODES["rba"]:
        gh = gh + b[3 * H:]
    a_r = gx[:, :H] + gh[:, :H]
    a_z = gx[:, H:2 * H] + gh[:, H:2 * H]
    r = gate_act(clip(a_r, spec), spec)
    z = gate_act(clip(a_z, spec), spec)
    if mode == MODES["before"]:
        a_n = gx[:, 2 * H:] + (r * h) @ R[2 * H:].t()
    else:  # after / recurrent-bias-after (gh already holds b'_n)
        a_n = gx[:, 2 * H:] + r * gh[:, 2 * H:]
    n = state_act(clip(a_n, spec), spec)
    if rec is not None:
        mm = m.detach().cpu().numpy()
        rec["rz"].append(torch.cat([a_r, a_z], 1).detach().numpy()[mm])
        rec["n"].append(a_n.detach().numpy()[mm])
    return (1.0 - z) * n + z * h


def gru_forward(spec, x, lengths, h0, params, rec=None):
    """x [T, B, I]; lengths list; h0 [D*dirs, B, H]; params list of (W, R, b).
    Returns (y, h_T): y [T, B, dirs*H] ("sequence") or [B, dirs*H] ("last")."""
    T, B, _ = x.shape
    dirs = 2 if spec["bidirectional"] else 1
    D = spec["depth"]
    lens = torch.tensor(lengths)
    masks = [(t < lens) for t in range(T)]
    inp = x
    h_T = []
    for l in range(D):
        outs = []
        for d in range(dirs):
            W, R, b = params[l * dirs + d]
            h = h0[l * dirs + d]
            ys = [None] * T
            order = range(T) if d == 0 else reversed(range(T))
            for t in order:
                m = masks[t]
                hn = cell(inp[t], h, W, R, b, spec, m, rec)
                mc = m[:, None]
                h = torch.where(mc, hn, h)
                ys[t] = torch.where(mc, hn, torch.zeros_like(hn))
            outs.append(torch.stack(ys))
            h_T.append(h)
        inp = torch.cat(outs, dim=2)
    y = inp
    if spec["output_mode"] == "last":
        y = y[lens - 1, torch.arange(B)]
    return y, torch.stack(h_T)


def loss_and_grads(spec, data, dtype, rec=None, create_graph=False):
    """Runs the reference on `data` (numpy arrays) in torch dtype. Returns dict of numpy."""
    x = torch.tensor(data["x"], dtype=dtype, requires_grad=True)
    h0 = torch.tensor(data["h0_full"], dtype=dtype, requires_grad=True)
    params = [tuple(torch.tensor(p[k], dtype=dtype, requires_grad=True) for k in ("w", "r", "b"))
              for p in data["params"]]
    y, hT = gru_forward(spec, x, data["lengths"], h0, params, rec)
    dy = torch.tensor(data["dy"], dtype=dtype)
    dhT = torch.tensor(data["dh_t"], dtype=dtype)
    L = (y * dy).sum() + (hT * dhT).sum()
    flat = [x, h0] + [t for p in params for t in p]
    g = torch.autograd.grad(L, flat)
    return {
        "y": y.detach().numpy(), "h_t": hT.detach().numpy(), "loss": L.item(),
        "gx": g[0].numpy(), "gh0": g[1].numpy(),
        "gparams": [{"w": g[2 + 3 * i].numpy(), "r": g[3 + 3 * i].numpy(), "b": g[4 + 3 * i].numpy()}
                    for i in range(len(params))],
    }


def loss_only(spec, data, dtype):
    with torch.no_grad():
        x = torch.tensor(data["x"], dtype=dtype)
        h0 = torch.tensor(data["h0_full"], dtype=dtype)
        params = [tuple(torch.tensor(p[k], dtype=dtype) for k in ("w", "r", "b")) for p in data["params"]]
        y, hT = gru_forward(spec, x, data["lengths"], h0, params)
        return ((y * torch.tensor(data["dy"], dtype=dtype)).sum()
                + (hT * torch.tensor(data["dh_t"], dtype=dtype)).sum()).item()


# ---------------------------------------------------------------------------
# Comparison helpers
# ---------------------------------------------------------------------------

class Worst:
    def __init__(self):
        self.items = {}

    def note(self, key, val, where):
        if key not in self.items or val > self.items[key][0]:
            self.items[key] = (val, where)


WORST = Worst()


def rel_err(a, ref):
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert a.shape == ref.shape, (a.shape, ref.shape)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - ref) / (1.0 + np.abs(ref))))


def check(key, a, ref, tol, where):
    e = rel_err(a, ref)
    WORST.note(key, e, where)
    if not e <= tol:
        raise AssertionError(f"self-check FAILED [{key}] {where}: max |a-ref|/(1+|ref|) = {e:.3e} > {tol:.1e}")
    return e


# ---------------------------------------------------------------------------
# Random data for a case
# ---------------------------------------------------------------------------

def make_spec(case, dtype_name):
    gname, alpha, beta, _ = GATES[case["gate"]]
    c = case["clip"]
    if dtype_name == "f32":  # the values an f32 implementation will hold
        alpha = float(np.float32(alpha))
        beta = float(np.float32(beta))
        c = None if c is None else float(np.float32(c))
    return {
        "input_size": case["I"], "hidden_size": case["H"], "depth": case["depth"],
        "bidirectional": case["bi"], "reset_gate_mode": MODES[case["mode"]],
        "state_activation": case["state"], "gate_activation": gname,
        "hard_sigmoid_alpha": alpha, "hard_sigmoid_beta": beta, "clip": c,
        "output_mode": case["output"],
    }


def draw(case, spec, seed, np_dtype):
    rng = np.random.default_rng(seed)
    I, H, T, B, D = case["I"], case["H"], case["T"], case["B"], case["depth"]
    dirs = 2 if case["bi"] else 1

    def u(shape, s):
        return rng.uniform(-s, s, size=shape).astype(np_dtype).astype(np.float64)

    x = u((T, B, I), 1.0)
    h0 = u((D * dirs, B, H), 1.0) if case["h0"] else None
    nb = 6 * H if case["mode"] == "rba" else 3 * H
    params = []
    for l in range(D):
        In = I if l == 0 else dirs * H
        for _ in range(dirs):
            sw = case["wscale"] / math.sqrt(In) if case.get("fan_scaled") else case["wscale"]
            sr = case["wscale"] / math.sqrt(H) if case.get("fan_scaled") else case["wscale"]
            params.append({"w": u((3 * H, In), sw), "r": u((3 * H, H), sr), "b": u((nb,), case["bscale"])})
    ysh = (T, B, dirs * H) if case["output"] == "sequence" else (B, dirs * H)
    dy = u(ysh, 1.0)
    dh = u((D * dirs, B, H), 1.0)
    return {
        "x": x, "h0": h0, "h0_full": h0 if h0 is not None else np.zeros((D * dirs, B, H)),
        "params": params, "lengths": list(case["lengths"]), "dy": dy, "dh_t": dh,
    }


def kink_and_saturation(spec, rec):
    """Returns (min distance of any pre-activation to a kink, saturation stats dict)."""
    rz = np.concatenate([a.ravel() for a in rec["rz"]])
    n = np.concatenate([a.ravel() for a in rec["n"]])
    c = spec["clip"]
    kinks_rz, kinks_n = [], []
    if c is not None:
        kinks_rz += [-c, c]
        kinks_n += [-c, c]
    stats = {}
    if spec["gate_activation"] == "hard-sigmoid":
        al, be = spec["hard_sigmoid_alpha"], spec["hard_sigmoid_beta"]
        for k in ((0.0 - be) / al, (1.0 - be) / al):
            if c is None or abs(k) < c:
                kinks_rz.append(k)
        arg = al * (rz if c is None else np.clip(rz, -c, c)) + be
        stats["hs_low"] = int(np.sum(arg < 0))
        stats["hs_lin"] = int(np.sum((arg > 0) & (arg < 1)))
        stats["hs_high"] = int(np.sum(arg > 1))
    if c is not None:
        allv = np.concatenate([rz, n])
        stats["clipped"] = int(np.sum(np.abs(allv) > c))
        stats["unclipped"] = int(np.sum(np.abs(allv) < c))
    dist = math.inf
    for vals, ks in ((rz, kinks_rz), (n, kinks_n)):
        for k in ks:
            if vals.size:
                dist = min(dist, float(np.min(np.abs(vals - k))))
    return dist, stats


def saturation_ok(spec, stats):
    if "hs_low" in stats:
        al, be, c = spec["hard_sigmoid_alpha"], spec["hard_sigmoid_beta"], spec["clip"]
        reach_flat = c is None or al * c + be > 1  # flat parts reachable inside the clip range
        if stats["hs_lin"] == 0:
            return False
        if reach_flat and (stats["hs_low"] == 0 or stats["hs_high"] == 0):
            return False
    if "clipped" in stats and (stats["clipped"] == 0 or stats["unclipped"] == 0):
        return False
    return True


# ---------------------------------------------------------------------------
# torch.nn.GRU cross-check (recurrent-bias-after, tanh/sigmoid, no clip)
# ---------------------------------------------------------------------------

def check_vs_nn_gru(spec, data, dtype, tol_out, tol_grad, where):
    I, H, D, bi = spec["input_size"], spec["hidden_size"], spec["depth"], spec["bidirectional"]
    dirs = 2 if bi else 1
    T, B, _ = data["x"].shape
    ours = loss_and_grads(spec, data, dtype)
    torch.manual_seed(0)
    m = torch.nn.GRU(I, H, num_layers=D, bidirectional=bi).to(dtype)
    with torch.no_grad():
        for l in range(D):
            for d in range(dirs):
                sfx = f"_l{l}" + ("_reverse" if d == 1 else "")
                p = data["params"][l * dirs + d]
                getattr(m, "weight_ih" + sfx).copy_(torch.tensor(p["w"]))
                getattr(m, "weight_hh" + sfx).copy_(torch.tensor(p["r"]))
                getattr(m, "bias_ih" + sfx).copy_(torch.tensor(p["b"][:3 * H]))
                getattr(m, "bias_hh" + sfx).copy_(torch.tensor(p["b"][3 * H:]))
    x = torch.tensor(data["x"], dtype=dtype, requires_grad=True)
    h0 = torch.tensor(data["h0_full"], dtype=dtype, requires_grad=True)
    lens = torch.tensor(data["lengths"])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lens, enforce_sorted=False)
    out, hn = m(packed, h0)
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    if spec["output_mode"] == "last":
        y = y[lens - 1, torch.arange(B)]
    L = (y * torch.tensor(data["dy"], dtype=dtype)).sum() + (hn * torch.tensor(data["dh_t"], dtype=dtype)).sum()
    L.backward()
    k = "f32" if dtype == torch.float32 else "f64"
    check(f"nn.GRU y {k}", ours["y"], y.detach().numpy(), tol_out, where)
    check(f"nn.GRU h_T {k}", ours["h_t"], hn.detach().numpy(), tol_out, where)
    check(f"nn.GRU dx {k}", ours["gx"], x.grad.numpy(), tol_grad, where)
    check(f"nn.GRU dh0 {k}", ours["gh0"], h0.grad.numpy(), tol_grad, where)
    for l in range(D):
        for d in range(dirs):
            sfx = f"_l{l}" + ("_reverse" if d == 1 else "")
            g = ours["gparams"][l * dirs + d]
            check(f"nn.GRU dW {k}", g["w"], getattr(m, "weight_ih" + sfx).grad.numpy(), tol_grad, where)
            check(f"nn.GRU dR {k}", g["r"], getattr(m, "weight_hh" + sfx).grad.numpy(), tol_grad, where)
            bt = np.concatenate([getattr(m, "bias_ih" + sfx).grad.numpy(), getattr(m, "bias_hh" + sfx).grad.numpy()])
            check(f"nn.GRU db {k}", g["b"], bt, tol_grad, where)


# ---------------------------------------------------------------------------
# onnxruntime cross-check (f32, forward; every option)
# ---------------------------------------------------------------------------

ONNX_ACT = {"sigmoid": "Sigmoid", "hard-sigmoid": "HardSigmoid", "tanh": "Tanh", "softsign": "Softsign"}


def zrn(a, H):
    """Reorders gate blocks along axis 0 from r,z,n to ONNX's z,r,h."""
    return np.concatenate([a[H:2 * H], a[:H], a[2 * H:3 * H]], axis=0)


def ort_layer(spec, X, layer_params, lengths, h0_layer, rng, direction=None):
    """X [T, B, In] f32; returns Y [T, dirs, B, H], Y_h [dirs, B, H]."""
    H = spec["hidden_size"]
    dirs = 2 if spec["bidirectional"] else 1
    mode = spec["reset_gate_mode"]
    T, B, In = X.shape
    Ws, Rs, Bs = [], [], []
    for p in layer_params:
        Ws.append(zrn(p["w"], H))
        Rs.append(zrn(p["r"], H))
        b = p["b"]
        if mode == MODES["rba"]:
            wb, rb = zrn(b[:3 * H], H), zrn(b[3 * H:], H)
        elif mode == MODES["after"]:  # lbr=1 with Rb_h = 0; split the z, r biases
            rb = np.concatenate([rng.uniform(-0.5, 0.5, 2 * H), np.zeros(H)])
            wb = zrn(b, H) - rb
        else:  # before: lbr=0, B = [Wb | Rb] with Wb + Rb = b (split)
            rb = rng.uniform(-0.5, 0.5, 3 * H)
            wb = zrn(b, H) - rb
        Bs.append(np.concatenate([wb, rb]))
    f32 = lambda a: np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    acts = [ONNX_ACT[spec["gate_activation"]], ONNX_ACT[spec["state_activation"]]] * dirs
    attrs = {
        "hidden_size": H,
        "direction": direction or ("bidirectional" if dirs == 2 else "forward"),
        "linear_before_reset": 0 if mode == MODES["before"] else 1,
        "activations": acts,
    }
    if spec["gate_activation"] == "hard-sigmoid":
        attrs["activation_alpha"] = [spec["hard_sigmoid_alpha"]] * dirs
        attrs["activation_beta"] = [spec["hard_sigmoid_beta"]] * dirs
    if spec["clip"] is not None:
        attrs["clip"] = spec["clip"]
    feeds = {"X": f32(X), "W": f32(Ws), "R": f32(Rs), "B": f32(Bs),
             "sequence_lens": np.asarray(lengths, dtype=np.int32)}
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, In]),
              helper.make_tensor_value_info("W", TensorProto.FLOAT, [dirs, 3 * H, In]),
              helper.make_tensor_value_info("R", TensorProto.FLOAT, [dirs, 3 * H, H]),
              helper.make_tensor_value_info("B", TensorProto.FLOAT, [dirs, 6 * H]),
              helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, [B])]
    node_in = ["X", "W", "R", "B", "sequence_lens"]
    if h0_layer is not None:
        inputs.append(helper.make_tensor_value_info("initial_h", TensorProto.FLOAT, [dirs, B, H]))
        feeds["initial_h"] = f32(h0_layer)
        node_in.append("initial_h")
    node = helper.make_node("GRU", node_in, ["Y", "Y_h"], **attrs)
    outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [T, dirs, B, H]),
               helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [dirs, B, H])]
    graph = helper.make_graph([node], "gru", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    Y, Yh = sess.run(["Y", "Y_h"], feeds)
    return Y, Yh


def ort_forward(spec, data, seed=0):
    """Stacked GRU through onnxruntime, one GRU node per layer. Returns (y, h_T) in our layout."""
    rng = np.random.default_rng(seed)
    D, H = spec["depth"], spec["hidden_size"]
    dirs = 2 if spec["bidirectional"] else 1
    X = np.asarray(data["x"], dtype=np.float32)
    T, B, _ = X.shape
    hTs = []
    for l in range(D):
        h0l = None if data["h0"] is None else data["h0"][l * dirs:(l + 1) * dirs]
        Y, Yh = ort_layer(spec, X, data["params"][l * dirs:(l + 1) * dirs], data["lengths"], h0l, rng)
        X = np.transpose(Y, (0, 2, 1, 3)).reshape(T, B, dirs * H)
        hTs.append(Yh)
    y = X
    if spec["output_mode"] == "last":
        y = y[np.asarray(data["lengths"]) - 1, np.arange(B)]
    return y, np.concatenate(hTs, axis=0)


def ort_reverse_check(spec, data, where):
    """Unidirectional ONNX direction=reverse vs our bidirectional's backward half (depth 1)."""
    H = spec["hidden_size"]
    ours = loss_and_grads(spec, data, torch.float64)
    rng = np.random.default_rng(1)
    p = data["params"][1]
    h0l = None if data["h0"] is None else data["h0"][1:2]
    # a one-direction layer, run by ONNX as direction=reverse
    s1 = dict(spec, bidirectional=False)
    X = np.asarray(data["x"], dtype=np.float32)
    Y, Yh = ort_layer(s1, X, [p], data["lengths"], h0l, rng, "reverse")
    y_rev = np.transpose(Y, (0, 2, 1, 3)).reshape(X.shape[0], X.shape[1], H)
    ys = ours["y"]
    if spec["output_mode"] == "last":
        y_rev = y_rev[np.asarray(data["lengths"]) - 1, np.arange(X.shape[1])]
        check("onnxruntime reverse y f32", y_rev, ys[:, H:], 1e-5, where)
    else:
        check("onnxruntime reverse y f32", y_rev, ys[:, :, H:], 1e-5, where)
    check("onnxruntime reverse h_T f32", Yh[0], ours["h_t"][1], 1e-5, where)


# ---------------------------------------------------------------------------
# Gradient check by central differences along a random direction (f64)
# ---------------------------------------------------------------------------

def fd_check(spec, data, grads, where, seed):
    rng = np.random.default_rng(seed)
    keys = []
    v = {"x": rng.uniform(-1, 1, data["x"].shape), "h0_full": rng.uniform(-1, 1, data["h0_full"].shape),
         "params": [{k: rng.uniform(-1, 1, p[k].shape) for k in ("w", "r", "b")} for p in data["params"]]}
    dot = float(np.sum(v["x"] * grads["gx"]) + np.sum(v["h0_full"] * grads["gh0"]))
    for pv, pg in zip(v["params"], grads["gparams"]):
        for k in ("w", "r", "b"):
            dot += float(np.sum(pv[k] * pg[k]))

    def shifted(s):
        d = dict(data)
        d["x"] = data["x"] + s * v["x"]
        d["h0_full"] = data["h0_full"] + s * v["h0_full"]
        d["params"] = [{k: p[k] + s * pv[k] for k in ("w", "r", "b")} for p, pv in zip(data["params"], v["params"])]
        return d

    eps = 1e-6
    fd = (loss_only(spec, shifted(eps), torch.float64) - loss_only(spec, shifted(-eps), torch.float64)) / (2 * eps)
    e = abs(fd - dot) / (1.0 + abs(dot))
    WORST.note("finite-difference directional derivative f64", e, where)
    if not e <= 1e-6:
        raise AssertionError(f"self-check FAILED [finite differences] {where}: fd={fd} autograd={dot}")


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

FACTORS = [
    ("state", ["tanh", "softsign"]),
    ("gate", ["sigmoid", "hard-sigmoid", "hard-sigmoid-k3"]),
    ("depth", [1, 2, 3]),
    ("bi", [False, True]),
    ("output", ["sequence", "last"]),
    ("lengths", ["equal", "ragged"]),
    ("h0", [False, True]),
    ("clip", [None, 0.7]),
]


def pairwise_rows(seed):
    """Greedy pairwise covering array over FACTORS (every pair of values of every two options)."""
    rng = np.random.default_rng(seed)
    nf = len(FACTORS)
    uncovered = set()
    for i, j in itertools.combinations(range(nf), 2):
        for a in range(len(FACTORS[i][1])):
            for b in range(len(FACTORS[j][1])):
                uncovered.add((i, a, j, b))
    rows = []
    while uncovered:
        best, best_cov = None, -1
        for _ in range(300):
            cand = tuple(int(rng.integers(len(vals))) for _, vals in FACTORS)
            cov = sum((i, cand[i], j, cand[j]) in uncovered for i, j in itertools.combinations(range(nf), 2))
            if cov > best_cov:
                best, best_cov = cand, cov
        rows.append(best)
        for i, j in itertools.combinations(range(nf), 2):
            uncovered.discard((i, best[i], j, best[j]))
    return [{name: FACTORS[k][1][row[k]] for k, (name, _) in enumerate(FACTORS)} for row in rows]


def case_name(c, dtype_name):
    parts = [c["mode"], c["state"], GATES[c["gate"]][3], f"d{c['depth']}", "bi" if c["bi"] else "uni",
             "seq" if c["output"] == "sequence" else "last", c["lengths_kind"], "h0" if c["h0"] else "zero"]
    if c["clip"] is not None:
        parts.append("clip" + str(c["clip"]).replace(".", ""))
    if c.get("large") or c.get("sized"):
        parts.append(f"i{c['I']}h{c['H']}t{c['T']}b{c['B']}")
    parts.append(dtype_name)
    return "_".join(parts)


def small_cases():
    cases = []
    for mi, mode in enumerate(MODES):
        for di, dtype_name in enumerate(("f32", "f64")):
            for row in pairwise_rows(1000 + 10 * mi + di):
                c = dict(row)
                # larger weights where the hard-sigmoid's flat parts must be reached
                scale = {"sigmoid": 1.0, "hard-sigmoid": 1.5, "hard-sigmoid-k3": 1.8}[row["gate"]]
                c.update(mode=mode, I=3, H=4, T=5, B=3, wscale=scale, bscale=scale,
                         lengths_kind=row["lengths"],
                         lengths=[5, 5, 5] if row["lengths"] == "equal" else [5, 1, 3])
                cases.append((c, dtype_name))
    return cases


def large_cases():
    base = dict(T=20, B=4, lengths_kind="ragged", lengths=[20, 7, 1, 14], large=True,
                wscale=2.0, fan_scaled=True, bscale=0.5)
    specs = [
        dict(mode="rba", state="tanh", gate="sigmoid", depth=1, bi=True, output="sequence", h0=True, clip=None, I=32, H=32),
        dict(mode="before", state="softsign", gate="sigmoid", depth=2, bi=False, output="last", h0=False, clip=None, I=32, H=32),
        dict(mode="after", state="tanh", gate="hard-sigmoid", depth=1, bi=False, output="sequence", h0=True, clip=3.0, I=64, H=64),
        dict(mode="rba", state="softsign", gate="sigmoid", depth=1, bi=False, output="last", h0=False, clip=None, I=64, H=64),
    ]
    return [(dict(base, **s), "f32") for s in specs]


def onednn_cases():
    """f32 cases with the options oneDNN's GRU computes (tanh, sigmoid, no clip), for each
    reset mode: stacks whose input width differs from the layers above (I != dirs*H), one
    where it does not (I == H, one multi-layer primitive there), bidirectional stacks (every
    layer reads the concatenated output below), and ragged batches with repeated lengths."""
    base = dict(state="tanh", gate="sigmoid", clip=None, wscale=1.0, bscale=1.0, sized=True)
    shapes = [
        dict(depth=2, bi=True, output="sequence", h0=True, I=3, H=5, T=6, B=4, lengths_kind="ragged", lengths=[6, 1, 4, 6]),
        dict(depth=2, bi=False, output="last", h0=False, I=3, H=5, T=6, B=4, lengths_kind="ragged", lengths=[6, 2, 2, 5]),
        dict(depth=3, bi=False, output="sequence", h0=True, I=5, H=5, T=6, B=3, lengths_kind="equal", lengths=[6, 6, 6]),
        dict(depth=3, bi=True, output="last", h0=True, I=10, H=5, T=5, B=3, lengths_kind="ragged", lengths=[5, 1, 3]),
    ]
    return [(dict(base, mode=mode, **s), "f32") for mode in MODES for s in shapes]


# ---------------------------------------------------------------------------
# Building one fixture
# ---------------------------------------------------------------------------

def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def build_fixture(case, dtype_name):
    name = case_name(case, dtype_name)
    spec = make_spec(case, dtype_name)
    np_dtype = np.float32 if dtype_name == "f32" else np.float64
    base_seed = zlib.crc32(name.encode()) << 10
    for attempt in range(MAX_ATTEMPTS):
        seed = base_seed + attempt
        data = draw(case, spec, seed, np_dtype)
        rec = {"rz": [], "n": []}
        # The reference is always computed in f64 (f32 cases: from their exact f32 values,
        # results rounded to f32 when written).
        ref = loss_and_grads(spec, data, torch.float64, rec)
        dist, stats = kink_and_saturation(spec, rec)
        if dist > KINK_MARGIN and saturation_ok(spec, stats):
            break
    else:
        raise AssertionError(f"{name}: no draw in {MAX_ATTEMPTS} attempts keeps 1e-3 from kinks with saturation")
    return name, spec, data, ref, seed, attempt, dist, stats


def to_json(name, dtype_name, spec, case, data, ref):
    rnd = (lambda a: np.asarray(a, dtype=np.float32)) if dtype_name == "f32" else (lambda a: np.asarray(a))
    obj = {
        "name": name, "dtype": dtype_name, "spec": spec,
        "steps": case["T"], "batch": case["B"], "lengths": list(case["lengths"]),
        "x": flat(data["x"]), "h0": None if data["h0"] is None else flat(data["h0"]),
        "params": [{k: flat(p[k]) for k in ("w", "r", "b")} for p in data["params"]],
        "y": flat(rnd(ref["y"])), "h_t": flat(rnd(ref["h_t"])),
        "dy": flat(data["dy"]), "dh_t": flat(data["dh_t"]),
        "grads": {"x": flat(rnd(ref["gx"])), "h0": flat(rnd(ref["gh0"])),
                  "params": [{k: flat(rnd(g[k])) for k in ("w", "r", "b")} for g in ref["gparams"]]},
    }
    lines = [f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'), allow_nan=False)}" for k, v in obj.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


# ---------------------------------------------------------------------------
# Self-checks on random configurations (beyond the fixture cases)
# ---------------------------------------------------------------------------

def random_nn_gru_checks(n):
    rng = np.random.default_rng(7)
    for i in range(n):
        dtype = torch.float32 if i % 2 == 0 else torch.float64
        T, B = int(rng.integers(1, 8)), int(rng.integers(1, 5))
        case = dict(mode="rba", state="tanh", gate="sigmoid", depth=int(rng.integers(1, 4)), bi=bool(rng.integers(2)),
                    output=["sequence", "last"][int(rng.integers(2))], h0=bool(rng.integers(2)), clip=None,
                    I=int(rng.integers(1, 7)), H=int(rng.integers(1, 7)), T=T, B=B,
                    lengths=[int(v) for v in rng.integers(1, T + 1, size=B)], wscale=1.0, bscale=1.0)
        dn = "f32" if dtype == torch.float32 else "f64"
        spec = make_spec(case, dn)
        data = draw(case, spec, 50_000 + i, np.float32 if dn == "f32" else np.float64)
        tol = (1e-5, 1e-5) if dn == "f32" else (1e-12, 1e-12)
        check_vs_nn_gru(spec, data, dtype, tol[0], tol[1], f"random nn.GRU config {i} {case}")


def random_ort_checks(n):
    rng = np.random.default_rng(8)
    done = 0
    i = 0
    while done < n:
        i += 1
        T, B = int(rng.integers(1, 8)), int(rng.integers(1, 5))
        case = dict(mode=list(MODES)[int(rng.integers(3))], state=["tanh", "softsign"][int(rng.integers(2))],
                    gate=list(GATES)[int(rng.integers(3))], depth=int(rng.integers(1, 4)), bi=bool(rng.integers(2)),
                    output=["sequence", "last"][int(rng.integers(2))], h0=bool(rng.integers(2)),
                    clip=[None, 0.7, 1.5][int(rng.integers(3))],
                    I=int(rng.integers(1, 7)), H=int(rng.integers(1, 7)), T=T, B=B,
                    lengths=[int(v) for v in rng.integers(1, T + 1, size=B)], wscale=1.0, bscale=1.0)
        spec = make_spec(case, "f32")
        data = draw(case, spec, 60_000 + i, np.float32)
        rec = {"rz": [], "n": []}
        ref = loss_and_grads(spec, data, torch.float64, rec)
        if kink_and_saturation(spec, rec)[0] <= KINK_MARGIN:
            continue  # f32 rounding near a kink is legitimate; skip (gradients aren't compared anyway)
        # our f32 implementation against onnxruntime f32
        ours32 = loss_and_grads(spec, data, torch.float32)
        y, hT = ort_forward(spec, data, seed=i)
        where = f"random onnxruntime config {i} {case}"
        check("onnxruntime y f32 (ours in f32)", ours32["y"], y, 1e-5, where)
        check("onnxruntime h_T f32 (ours in f32)", ours32["h_t"], hT, 1e-5, where)
        check("onnxruntime y f32 (ours in f64)", ref["y"], y, 1e-5, where)
        check("onnxruntime h_T f32 (ours in f64)", ref["h_t"], hT, 1e-5, where)
        if case["bi"] and case["depth"] == 1:
            ort_reverse_check(spec, data, where)
        done += 1


# ---------------------------------------------------------------------------

def main():
    print(f"torch {torch.__version__}, numpy {np.__version__}, onnx {onnx.__version__}, "
          f"onnxruntime {ort.__version__}")
    print("self-check: reference vs torch.nn.GRU on random configurations ...")
    random_nn_gru_checks(40)
    print("self-check: reference vs onnxruntime GRU on random configurations ...")
    random_ort_checks(60)

    cases = small_cases() + large_cases() + onednn_cases()
    # every value of every option appears for each reset mode and dtype
    for mode in MODES:
        for dn in ("f32", "f64"):
            sel = [c for c, d in cases if c["mode"] == mode and d == dn and not (c.get("large") or c.get("sized"))]
            for fname, vals in FACTORS:
                key = "lengths_kind" if fname == "lengths" else fname
                missing = [v for v in vals if not any(c[key] == v for c in sel)]
                assert not missing, f"coverage: {mode} {dn} lacks {fname}={missing}"
            print(f"  {mode} {dn}: {len(sel)} small cases")
    names = set()
    outputs = []
    redraws = 0
    print(f"building {len(cases)} fixtures ...")
    for case, dtype_name in cases:
        name, spec, data, ref, seed, attempt, dist, stats = build_fixture(case, dtype_name)
        assert name not in names, name
        names.add(name)
        redraws += attempt
        print(f"  {name}: attempt {attempt}, kink distance {dist:.2e}, {stats}", flush=True)
        torch_dtype = torch.float32 if dtype_name == "f32" else torch.float64
        # 1. gradients by finite differences (f64 arithmetic on the case's exact values)
        fd_check(spec, data, ref, name, seed)
        # 2. the same computation in the case's own dtype (f32: what an f32 implementation sees)
        if dtype_name == "f32":
            own = loss_and_grads(spec, data, torch.float32)
            check("f32 arithmetic vs f64 reference: y, h_T", np.concatenate([own["y"].ravel(), own["h_t"].ravel()]),
                  np.concatenate([ref["y"].ravel(), ref["h_t"].ravel()]), 1e-5, name)
            g_own = np.concatenate([own["gx"].ravel(), own["gh0"].ravel()] + [g[k].ravel() for g in own["gparams"] for k in "wrb"])
            g_ref = np.concatenate([ref["gx"].ravel(), ref["gh0"].ravel()] + [g[k].ravel() for g in ref["gparams"] for k in "wrb"])
            check("f32 arithmetic vs f64 reference: gradients", g_own, g_ref, 1e-4, name)
        # 3. padded steps of x get zero gradient
        T, B = case["T"], case["B"]
        for b, L in enumerate(case["lengths"]):
            assert np.all(ref["gx"][L:, b] == 0), f"{name}: nonzero dx at padded steps"
            if case["output"] == "sequence":
                assert np.all(ref["y"][L:, b] == 0), f"{name}: nonzero y at padded steps"
        # 4. torch.nn.GRU, where it has the case's options
        if (case["mode"] == "rba" and case["state"] == "tanh" and case["gate"] == "sigmoid"
                and case["clip"] is None):
            tol = (1e-5, 1e-4) if dtype_name == "f32" else (1e-10, 1e-10)
            check_vs_nn_gru(spec, data, torch_dtype, tol[0], tol[1], name)
        # 5. onnxruntime (f32 arithmetic; for f64 cases on the values rounded to f32)
        y, hT = ort_forward(spec, data, seed=zlib.crc32(name.encode()))
        tol_ort = 1e-5 if dtype_name == "f32" else 3e-5
        check(f"onnxruntime y ({dtype_name} fixture)", ref["y"], y, tol_ort, name)
        check(f"onnxruntime h_T ({dtype_name} fixture)", ref["h_t"], hT, tol_ort, name)
        outputs.append((name, to_json(name, dtype_name, spec, case, data, ref), dist, stats))

    # All checks passed: write.
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUT_DIR.glob("*.json"):
        old.unlink()
    total = 0
    for name, text, _, _ in outputs:
        (OUT_DIR / f"{name}.json").write_text(text)
        total += len(text.encode())
    agg = {}
    for _, _, _, st in outputs:
        for k, v in st.items():
            agg[k] = agg.get(k, 0) + v
    min_dist = min(d for _, _, d, _ in outputs)
    print(f"wrote {len(outputs)} fixtures, {total / 1e6:.2f} MB, into {OUT_DIR.relative_to(REPO)}")
    print(f"redraws for kink distance / saturation: {redraws}; closest pre-activation to a kink: {min_dist:.2e}")
    print(f"saturation element counts over all fixtures: {agg}")
    print("worst discrepancies (max |a-ref|/(1+|ref|)):")
    for k, (v, where) in sorted(WORST.items.items()):
        print(f"  {k:55s} {v:.3e}   ({where if len(where) < 80 else where[:77] + '...'})")
    print("all self-checks passed")


if __name__ == "__main__":
    sys.exit(main())
