#!/usr/bin/env python3
"""Fixtures of `gru convert`: real PyTorch and Keras GRUs, their weights and their outputs.

Run from the repository root (pinned versions: tools/requirements.txt):

    python3 tools/gen_convert_fixtures.py

For each case it builds a real `torch.nn.GRU` or a real Keras GRU model (Keras 3 on the
torch backend) with fixed seeds, gives it random weights (biases included: Keras starts
them at zero), saves the weights the way a user of that framework would (torch:
`safetensors.torch.save_file(module.state_dict())`; Keras: tools/keras_gru_layout.py), runs
the framework's own model on seeded inputs, and (only when every case and self-check
passed) writes into crates/gru/tests/convert_fixtures/:

    {case}.safetensors   the weights (a PyTorch state dict or the keras-gru layout)
    {case}.json          the case: source, prefix, the spec the import must infer, the
                         inputs x [T, B, I] (time-major), lengths, and the framework's
                         outputs y (time-major, zero past lengths) and h_n [D*dirs, B, H]

crates/gru/tests/convert.rs reproduces every output within 1e-5 (f32; 1e-10 for f64).
The `keras2_hard_sigmoid` case is flagged in its "source": Keras 2 cannot be installed next
to Keras 3, so it is Keras 3 with Keras 2's hard_sigmoid (clamp(0.2x + 0.5)) given as a
custom recurrent activation and written with keras_version "2".
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import keras  # noqa: E402
import keras_gru_layout  # noqa: E402
import pt_to_safetensors  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FINAL = REPO / "crates" / "gru" / "tests" / "convert_fixtures"
OUT = Path(tempfile.mkdtemp(prefix="convert_fixtures."))  # moved to FINAL when every case passed
STEPS, BATCH = 6, 3
torch.set_num_threads(1)


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def write_case(name, case):
    (OUT / f"{name}.json").write_text(json.dumps(case, indent=None, separators=(",", ":")) + "\n")
    print(f"  {name}: {case['source']}")


# ---------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------

class Net(torch.nn.Module):
    """An nn.GRU inside a bigger model: its keys carry the prefix `rnn.`."""

    def __init__(self, gru, head_in):
        super().__init__()
        self.rnn = gru
        self.head = torch.nn.Linear(head_in, 2)


def torch_case(name, seed, input_size, hidden, depth=1, bidirectional=False, bias=True, lengths=None,
               dtype=torch.float32, wrap=False):
    torch.manual_seed(seed)
    gru = torch.nn.GRU(input_size, hidden, num_layers=depth, bias=bias, bidirectional=bidirectional).to(dtype)
    module = Net(gru, hidden * (2 if bidirectional else 1)).to(dtype) if wrap else gru
    prefix = "rnn." if wrap else ""
    path = OUT / f"{name}.safetensors"
    state = {k: v.contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path))
    check_pt_route(module, path)

    x = torch.empty(STEPS, BATCH, input_size, dtype=dtype).uniform_(-1.5, 1.5)
    lengths = lengths or [STEPS] * BATCH
    with torch.no_grad():
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
        out, h_n = gru(packed)
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=STEPS)
    write_case(name, {
        "source": f"torch {torch.__version__}: {'model.rnn = ' if wrap else ''}{gru}",
        "format": "torch",
        "weights": path.name,
        "prefix": prefix,
        "dtype": "f64" if dtype == torch.float64 else "f32",
        "spec": {
            "input_size": input_size, "hidden_size": hidden, "depth": depth, "bidirectional": bidirectional,
            "reset_gate_mode": "recurrent-bias-after-multiplication", "bias": bias,
        },
        "x_shape": list(x.shape), "x": flat(x),
        "lengths": lengths,
        "y_shape": list(y.shape), "y": flat(y),
        "h_shape": list(h_n.shape), "h_n": flat(h_n),
    })


def check_pt_route(module, expected_path):
    """tools/pt_to_safetensors.py turns a torch.save'd state dict into the same tensors."""
    from safetensors.torch import load_file

    with tempfile.TemporaryDirectory() as d:
        pt, st = Path(d) / "m.pt", Path(d) / "m.safetensors"
        torch.save(module.state_dict(), pt)
        pt_to_safetensors.convert(str(pt), str(st))
        a, b = load_file(str(st)), load_file(str(expected_path))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "pt_to_safetensors differs"


# ---------------------------------------------------------------------------
# Keras
# ---------------------------------------------------------------------------

def randomize(model, seed, scale):
    """Every GRU weight, biases included, uniform in [-scale, scale)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.uniform(-scale, scale, w.shape).astype(w.dtype) for w in layer.get_weights()])


def keras_case(name, seed, input_size, layers, scale=0.6, source_note="", keras_version=None,
               activation_names=None, expect=None):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(None, input_size))] + layers)
    randomize(model, seed, scale)
    path = OUT / f"{name}.safetensors"
    keras_gru_layout.save(model, str(path), keras_version=keras_version, activation_names=activation_names)
    rng = np.random.default_rng(seed + 1)
    x = rng.uniform(-1.5, 1.5, (STEPS, BATCH, input_size)).astype(np.float32)  # time-major
    y = keras.ops.convert_to_numpy(model(x.transpose(1, 0, 2)))
    if y.ndim == 3:
        y = y.transpose(1, 0, 2)
    # The layout must rebuild a model with the same outputs (what verify_convert.py does).
    rebuilt = keras.ops.convert_to_numpy(keras_gru_layout.build(str(path))(x.transpose(1, 0, 2)))
    if rebuilt.ndim == 3:
        rebuilt = rebuilt.transpose(1, 0, 2)
    assert np.array_equal(rebuilt, y), f"{name}: the layout does not rebuild the model"
    keras.config.set_floatx("float32")
    write_case(name, {
        "source": f"keras {keras.__version__} ({keras.backend.backend()} backend): "
                  + ", ".join(f"{type(l).__name__}({describe(l)})" for l in layers) + source_note,
        "format": "keras",
        "weights": path.name,
        "prefix": "",
        "dtype": "f32",
        "spec": expect,
        "x_shape": list(x.shape), "x": flat(x),
        "lengths": None,
        "y_shape": list(y.shape), "y": flat(y),
        "h_shape": None, "h_n": None,
    })


def describe(layer):
    g = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
    act = keras_gru_layout._activation_name
    return (f"units={g.units}, reset_after={g.reset_after}, use_bias={g.use_bias}, activation={act(g.activation)}, "
            f"recurrent_activation={act(g.recurrent_activation)}, return_sequences={g.return_sequences}")


def spec(i, h, depth=1, bidirectional=False, mode="recurrent-bias-after-multiplication", state="tanh",
         gate="sigmoid", alpha=None, output="sequence", bias=True):
    return {"input_size": i, "hidden_size": h, "depth": depth, "bidirectional": bidirectional, "bias": bias,
            "reset_gate_mode": mode, "state_activation": state, "gate_activation": gate,
            "hard_sigmoid_alpha": alpha, "output_mode": output}


def main():
    print("PyTorch:")
    torch_case("torch_single", 1, 3, 5)
    torch_case("torch_stacked_bidir", 2, 4, 3, depth=2, bidirectional=True, lengths=[6, 4, 1], wrap=True)
    torch_case("torch_nobias", 3, 2, 4, depth=2, bias=False)
    torch_case("torch_f64_bidir", 4, 3, 2, bidirectional=True, lengths=[5, 6, 2], dtype=torch.float64)

    print("Keras:")
    GRU, Bi = keras.layers.GRU, keras.layers.Bidirectional
    keras_case("keras_reset_after", 11, 3, [GRU(5, return_sequences=True)], expect=spec(3, 5))
    keras_case("keras_reset_before", 12, 3, [GRU(4, reset_after=False, return_sequences=True)],
               expect=spec(3, 4, mode="before-multiplication"))
    keras_case("keras_hard_sigmoid_softsign", 13, 3,
               [GRU(4, reset_after=False, activation="softsign", recurrent_activation="hard_sigmoid",
                    return_sequences=True)],
               scale=1.5,
               expect=spec(3, 4, mode="before-multiplication", state="softsign", gate="hard-sigmoid", alpha=1 / 6))
    keras_case("keras_bidir_stacked", 14, 4,
               [Bi(GRU(3, return_sequences=True)), Bi(GRU(3, return_sequences=True))],
               expect=spec(4, 3, depth=2, bidirectional=True))
    keras_case("keras_stacked_last_nobias", 15, 2,
               [GRU(4, use_bias=False, return_sequences=True), GRU(4, use_bias=False)],
               expect=spec(2, 4, depth=2, output="last", bias=False))
    keras2_hard_sigmoid = keras_gru_layout.keras2_hard_sigmoid()
    keras_case("keras2_hard_sigmoid", 16, 3,
               [GRU(3, recurrent_activation=keras2_hard_sigmoid, return_sequences=True)],
               scale=1.5,
               source_note=" [flagged: Keras 3 with Keras 2's hard_sigmoid clamp(0.2x + 0.5) as a custom "
                           "recurrent_activation, written with keras_version \"2\"; Keras 2 is not installed]",
               keras_version="2", activation_names={id(keras2_hard_sigmoid): "hard_sigmoid"},
               expect=spec(3, 3, gate="hard-sigmoid", alpha=0.2))
    FINAL.mkdir(parents=True, exist_ok=True)
    for f in FINAL.glob("*"):
        f.unlink()
    for f in sorted(OUT.glob("*")):
        shutil.move(str(f), FINAL / f.name)
    OUT.rmdir()
    total = sum(f.stat().st_size for f in FINAL.glob("*"))
    print(f"wrote {len(list(FINAL.glob('*')))} files, {total / 1024:.0f} KiB, into {FINAL.relative_to(REPO)}")


if __name__ == "__main__":
    main()
