#!/usr/bin/env python3
"""Runs a converted GRU in its own framework: the Python half of `gru convert --verify`.

    python3 tools/verify_convert.py --format torch|keras --weights FILE.safetensors \
        [--prefix rnn.] --inputs IN.json --out OUT.json

IN.json:  {"dtype": "f32"|"f64", "x": [...], "x_shape": [T, B, I], "lengths": [B ints] | null}
          (x time-major, row-major, as in the gru crate)
OUT.json: {"y": [...], "y_shape": [...], "h_n": [...] | null, "h_shape": [...] | null, "by": "..."}
          torch: y [T, B, dirs*H] zero past each length (pack_padded_sequence), h_n [D*dirs, B, H]
          keras: what the model returns, time-major when it is a sequence; h_n null

The file is loaded the way a user of that framework would: a torch `nn.GRU` built from the
shapes, `load_state_dict(strict=True)`; a Keras model built by tools/keras_gru_layout.py.
Exit status 3 means a needed package (torch, keras, safetensors, numpy) is missing.
"""

import argparse
import json
import os
import sys


def missing(package, err):
    print(
        f"verify_convert.py: cannot import {package} ({err}); install the tools' packages with "
        "`pip install -r tools/requirements.txt`",
        file=sys.stderr,
    )
    sys.exit(3)


def run_torch(args, spec):
    try:
        import torch
        from safetensors.torch import load_file
    except ImportError as e:
        missing("torch / safetensors", e)
    state = load_file(args.weights)
    prefix = args.prefix
    mine = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    w_hh = mine["weight_hh_l0"]
    hidden = w_hh.shape[1]
    input_size = mine["weight_ih_l0"].shape[1]
    depth = 1 + max(int(k.split("_l")[1].split("_")[0]) for k in mine)
    bidirectional = any(k.endswith("_reverse") for k in mine)
    bias = "bias_ih_l0" in mine
    gru = torch.nn.GRU(input_size, hidden, num_layers=depth, bias=bias, bidirectional=bidirectional)
    gru = gru.to(w_hh.dtype)
    gru.load_state_dict(mine, strict=True)
    x = torch.tensor(spec["x"], dtype=w_hh.dtype).reshape(spec["x_shape"])
    steps, batch = spec["x_shape"][0], spec["x_shape"][1]
    lengths = spec.get("lengths") or [steps] * batch
    with torch.no_grad():
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
        out, h_n = gru(packed)
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=steps)
    return {
        "y": y.reshape(-1).tolist(),
        "y_shape": list(y.shape),
        "h_n": h_n.reshape(-1).tolist(),
        "h_shape": list(h_n.shape),
        "by": f"torch {torch.__version__} {gru}",
    }


def run_keras(args, spec):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        import numpy as np
        import keras
        import keras_gru_layout
    except ImportError as e:
        missing("keras / numpy / safetensors", e)
    if spec.get("lengths") and any(n != spec["x_shape"][0] for n in spec["lengths"]):
        raise SystemExit("keras verification takes full-length sequences only")
    model = keras_gru_layout.build(args.weights)
    dtype = np.float64 if spec["dtype"] == "f64" else np.float32
    x = np.asarray(spec["x"], dtype=dtype).reshape(spec["x_shape"]).transpose(1, 0, 2)  # [B, T, I]
    y = keras.ops.convert_to_numpy(model(x))
    if y.ndim == 3:
        y = y.transpose(1, 0, 2)  # back to time-major [T, B, C]
    return {
        "y": y.reshape(-1).astype(np.float64).tolist(),
        "y_shape": list(y.shape),
        "h_n": None,
        "h_shape": None,
        "by": f"keras {keras.__version__} ({keras.backend.backend()} backend)",
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--format", choices=["torch", "keras"], required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--prefix", default="")
    p.add_argument("--inputs", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    with open(args.inputs) as f:
        spec = json.load(f)
    result = run_torch(args, spec) if args.format == "torch" else run_keras(args, spec)
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
