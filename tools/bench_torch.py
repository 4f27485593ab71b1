#!/usr/bin/env python3
"""PyTorch's column of `gru bench --torch`: median ms of nn.GRU on the reference shapes.

    OMP_NUM_THREADS=2 python3 tools/bench_torch.py --threads 2 --out torch.json
    gru bench --torch torch.json

Inference: forward under no_grad. Training: forward + backward of sum(y * dy).
Memory ("training_peak_mb"): each shape in a fresh process (`--memory-one i`), the growth of
the peak resident set (Linux VmHWM, reset through /proc/self/clear_refs) over one training
call, after the model and inputs exist; `gru bench` measures ours the same way.
Shapes (I = H): the reference list of crates/gru-bench/src/lib.rs. Requires torch
(tools/requirements.txt).
"""
import argparse
import json
import subprocess
import sys
import time

import torch

SHAPES = [(1, 100, 256), (32, 100, 256), (64, 50, 512), (16, 50, 1024), (128, 25, 128), (32, 187, 1536), (4, 100, 512)]


def median_ms(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def rss_mb():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return float(fields["VmRSS"].split()[0]) / 1024, float(fields["VmHWM"].split()[0]) / 1024


def memory_one(i, threads):
    """Prints the MB one training call adds to the peak resident set (fresh process)."""
    torch.set_num_threads(threads)
    b, t, h = SHAPES[i]
    gru = torch.nn.GRU(h, h)
    x = torch.randn(t, b, h)
    dy = torch.randn(t, b, h)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before, _ = rss_mb()
    xs = x.clone().requires_grad_(True)
    y, _ = gru(xs)
    (y * dy).sum().backward()
    _, peak = rss_mb()
    print(max(0.0, peak - before))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--shapes", type=str, default="", help="comma-separated indices")
    ap.add_argument("--out", type=str, default="torch.json")
    ap.add_argument("--memory-one", type=int, default=None, help="internal: one shape's training memory")
    a = ap.parse_args()
    if a.memory_one is not None:
        memory_one(a.memory_one, a.threads)
        return
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    chosen = [int(i) for i in a.shapes.split(",") if i] or range(len(SHAPES))
    out = {}
    for i in chosen:
        b, t, h = SHAPES[i]
        gru = torch.nn.GRU(h, h)
        x = torch.randn(t, b, h)
        dy = torch.randn(t, b, h)

        def inference():
            with torch.no_grad():
                gru(x)

        def training():
            gru.zero_grad()
            xs = x.clone().requires_grad_(True)
            y, _ = gru(xs)
            (y * dy).sum().backward()

        runs = max(1, a.runs if h < 1536 else 2)
        mem = subprocess.run(
            [sys.executable, __file__, "--threads", str(a.threads), "--memory-one", str(i)],
            check=True, capture_output=True, text=True,
        ).stdout.split()[-1]
        out["B%d T%d H%d" % (b, t, h)] = {
            "inference": median_ms(inference, runs),
            "training": median_ms(training, runs),
            "training_peak_mb": float(mem),
        }
        print("B%d T%d H%d" % (b, t, h), out["B%d T%d H%d" % (b, t, h)], flush=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
