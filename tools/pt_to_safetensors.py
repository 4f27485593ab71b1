#!/usr/bin/env python3
"""Turns a PyTorch `.pt` / `.pth` file into safetensors for `gru convert --from torch`
(the gru library never unpickles).

    python3 tools/pt_to_safetensors.py MODEL.pt OUT.safetensors

MODEL.pt holds a state dict (`torch.save(model.state_dict(), ...)`), or a checkpoint dict
with the state dict under "state_dict" or "model_state_dict". It is loaded with
`weights_only=True`, so no code in it runs; a whole pickled module is refused: save its
`state_dict()` instead. Every tensor is written as it is (keys, shapes, dtypes); F16/BF16
tensors are kept too, but gru reads F32 and F64 only (use `--float32` to widen them).
"""

import argparse
import sys

import torch
from safetensors.torch import save_file


def state_dict_of(obj):
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
        if all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    raise SystemExit(
        "the file holds no state dict (a dict of tensors, or one under \"state_dict\" / \"model_state_dict\"); "
        "save model.state_dict() instead of the module"
    )


def convert(src, dst, float32=False):
    state = state_dict_of(torch.load(src, map_location="cpu", weights_only=True))
    out = {}
    for k, v in state.items():
        if float32 and v.dtype in (torch.float16, torch.bfloat16):
            v = v.float()
        out[k] = v.detach().contiguous().clone()  # shared storage (tied weights) is refused by safetensors
    save_file(out, dst, metadata={"format": "pt"})
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--float32", action="store_true", help="widen F16/BF16 tensors to F32")
    a = p.parse_args()
    out = convert(a.src, a.dst, a.float32)
    print(f"wrote {len(out)} tensors to {a.dst}")
    for k, v in out.items():
        print(f"  {k}: {list(v.shape)} {v.dtype}")


if __name__ == "__main__":
    sys.exit(main())
