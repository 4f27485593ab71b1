#!/usr/bin/env python3
"""The `keras-gru` layout: Keras GRU weights as one safetensors file (see
crates/gru/src/convert/keras.rs for the layout, which `gru convert --from keras` reads).

    python3 tools/keras_gru_layout.py export MODEL.keras OUT.safetensors
    python3 tools/keras_gru_layout.py describe FILE.safetensors

As a module: `save(model, path)` writes the GRU layers of a Keras model (a stack of `GRU`
and `Bidirectional(GRU)` layers; other layers such as `Input` are skipped, anything else
that carries weights is refused) and `build(path)` builds a Keras model that computes
exactly what the file describes (for `tools/verify_convert.py`).

Runs on any Keras 3 backend; `KERAS_BACKEND=torch` is what the fixtures used.
"""

import json
import os
import sys

import numpy as np
import safetensors
import safetensors.numpy

os.environ.setdefault("KERAS_BACKEND", "torch")

FORMAT = "keras-gru"
FORMAT_VERSION = "1"
LAYER_KEYS = (
    "units",
    "bidirectional",
    "merge_mode",
    "reset_after",
    "use_bias",
    "activation",
    "recurrent_activation",
    "go_backwards",
    "return_sequences",
    "dropout",
    "recurrent_dropout",
)


def write_safetensors(path, tensors, metadata):
    """tensors: dict name -> numpy array (f32 or f64); metadata: dict str -> str."""
    tmp = f"{path}.tmp-{os.getpid()}"
    safetensors.numpy.save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, tmp, metadata=metadata)
    os.replace(tmp, path)


def read_safetensors(path):
    """-> (dict name -> numpy array, metadata dict)."""
    with safetensors.safe_open(path, framework="np") as f:
        metadata = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return tensors, metadata


# ---------------------------------------------------------------------------
# Keras model -> layout
# ---------------------------------------------------------------------------

def _activation_name(act):
    import keras

    if isinstance(act, str):
        return act
    try:
        name = keras.activations.serialize(act)
    except Exception:  # an unregistered custom callable
        name = getattr(act, "__name__", repr(act))
    if isinstance(name, dict):
        config = name.get("config")
        name = config if isinstance(config, str) else (config or {}).get("name", name.get("class_name"))
    return str(name)


def _gru_config(gru, bidirectional, merge_mode, return_sequences):
    # The dropouts (training only) are written only when set, as the Rust side does.
    dropouts = {k: float(getattr(gru, k)) for k in ("dropout", "recurrent_dropout") if float(getattr(gru, k)) > 0}
    return dropouts | {
        "units": int(gru.units),
        "bidirectional": bool(bidirectional),
        "merge_mode": (merge_mode or "none") if bidirectional else "concat",
        "reset_after": bool(gru.reset_after),
        "use_bias": bool(gru.use_bias),
        "activation": _activation_name(gru.activation),
        "recurrent_activation": _activation_name(gru.recurrent_activation),
        "go_backwards": bool(gru.go_backwards) if not bidirectional else False,
        "return_sequences": bool(return_sequences),
    }


def _gru_weights(gru, k, direction, tensors):
    w = [np.asarray(v) for v in gru.get_weights()]
    tensors[f"layers.{k}.{direction}.kernel"] = w[0]
    tensors[f"layers.{k}.{direction}.recurrent_kernel"] = w[1]
    if gru.use_bias:
        tensors[f"layers.{k}.{direction}.bias"] = w[2]


def layout_of(model, activation_names=None):
    """(config dict, tensors dict) of the GRU layers of `model`, in order.

    activation_names: optional {id(activation): name} for custom callables (the Keras 2
    fixture uses a callable that computes Keras 2's hard_sigmoid under Keras 3)."""
    import keras

    layers, tensors = [], {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            fwd, bwd = layer.forward_layer, layer.backward_layer
            if not isinstance(fwd, keras.layers.GRU):
                raise ValueError(f"{layer.name}: Bidirectional around {type(fwd).__name__}, not GRU")
            cfg = _gru_config(fwd, True, layer.merge_mode, fwd.return_sequences)
            back = _gru_config(bwd, True, layer.merge_mode, bwd.return_sequences)
            if back != cfg:  # (go_backwards is not recorded for a Bidirectional's GRUs)
                raise ValueError(f"{layer.name}: the backward GRU's options differ from the forward one's")
            _gru_weights(fwd, len(layers), "forward", tensors)
            _gru_weights(bwd, len(layers), "backward", tensors)
        elif isinstance(layer, keras.layers.GRU):
            cfg = _gru_config(layer, False, None, layer.return_sequences)
            _gru_weights(layer, len(layers), "forward", tensors)
        elif layer.weights:
            raise ValueError(f"{layer.name}: a {type(layer).__name__} with weights is not a GRU")
        else:
            continue
        for key in ("activation", "recurrent_activation"):
            if activation_names and cfg[key] not in ("tanh", "softsign", "sigmoid", "hard_sigmoid"):
                inner = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
                cfg[key] = activation_names.get(id(getattr(inner, key)), cfg[key])
        layers.append(cfg)
    if not layers:
        raise ValueError("the model has no GRU layer")
    return {"layers": layers}, tensors


def save(model, path, keras_version=None, activation_names=None):
    """Writes the GRU layers of `model` to `path` in the keras-gru layout."""
    import keras

    config, tensors = layout_of(model, activation_names)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "keras_version": keras_version or keras.__version__,
        "config": json.dumps(config),
    }
    write_safetensors(path, tensors, metadata)


# ---------------------------------------------------------------------------
# layout -> Keras model
# ---------------------------------------------------------------------------

_KERAS2_HARD_SIGMOID = []


def keras2_hard_sigmoid():
    """Keras 2's hard_sigmoid, clamp(0.2 x + 0.5, 0, 1) (Keras 3's slope is 1/6), as an
    activation registered with Keras (Bidirectional copies its layer through get_config)."""
    import keras

    if not _KERAS2_HARD_SIGMOID:
        @keras.saving.register_keras_serializable(package="gru_tools")
        def keras2_hard_sigmoid(x):
            return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)

        _KERAS2_HARD_SIGMOID.append(keras2_hard_sigmoid)
    return _KERAS2_HARD_SIGMOID[0]


def build(path):
    """A Keras model (input [B, T, I]) computing what the layout file at `path` describes."""
    import keras

    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    config = json.loads(metadata["config"])
    major = str(metadata.get("keras_version", "3")).split(".")[0]
    dtype = tensors["layers.0.forward.kernel"].dtype
    keras.config.set_floatx("float64" if dtype == np.float64 else "float32")
    input_size = tensors["layers.0.forward.kernel"].shape[0]
    inputs = keras.Input(shape=(None, input_size), dtype=keras.config.floatx())
    x = inputs
    grus = []
    for k, cfg in enumerate(config["layers"]):
        unknown = set(cfg) - set(LAYER_KEYS)
        if unknown:
            raise ValueError(f"layers[{k}]: unknown keys {sorted(unknown)}")
        rec = cfg.get("recurrent_activation", "sigmoid")
        if rec == "hard_sigmoid" and major == "2":
            rec = keras2_hard_sigmoid()
        gru = keras.layers.GRU(
            cfg["units"],
            activation=cfg.get("activation", "tanh"),
            recurrent_activation=rec,
            use_bias=cfg.get("use_bias", True),
            reset_after=cfg.get("reset_after", True),
            return_sequences=cfg.get("return_sequences", False),
            go_backwards=cfg.get("go_backwards", False),
            dropout=cfg.get("dropout", 0.0),
            recurrent_dropout=cfg.get("recurrent_dropout", 0.0),
        )
        if cfg.get("bidirectional", False):
            layer = keras.layers.Bidirectional(gru, merge_mode=cfg.get("merge_mode", "concat"))
            x = layer(x)
            grus.append((k, "forward", layer.forward_layer))
            grus.append((k, "backward", layer.backward_layer))
        else:
            x = gru(x)
            grus.append((k, "forward", gru))
    model = keras.Model(inputs, x)
    for k, direction, gru in grus:
        names = ["kernel", "recurrent_kernel"] + (["bias"] if gru.use_bias else [])
        gru.set_weights([tensors[f"layers.{k}.{direction}.{n}"] for n in names])
    return model


def main(argv):
    if len(argv) == 4 and argv[1] == "export":
        import keras

        save(keras.models.load_model(argv[2]), argv[3])
        print(f"wrote {argv[3]}")
    elif len(argv) == 3 and argv[1] == "describe":
        tensors, metadata = read_safetensors(argv[2])
        print(json.dumps({k: v for k, v in metadata.items() if k != "config"}, indent=1))
        print(json.dumps(json.loads(metadata["config"]), indent=1))
        for name, t in sorted(tensors.items()):
            print(f"{name}: {list(t.shape)} {t.dtype}")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
