#!/usr/bin/env python3
"""Long sequences: a PLAID-like data set, and PyTorch's time per epoch on it.

    python3 tools/long_sequences.py gen OUT_DIR            # LongWaves_TRAIN.ts, LongWaves_TEST.ts
    OMP_NUM_THREADS=2 python3 tools/long_sequences.py torch OUT_DIR/LongWaves_TRAIN.ts \\
        OUT_DIR/LongWaves_TEST.ts --hidden 64 --epochs 30 --batch-size 128 [--sort-by-length] \\
        [--learn-rate 0.001] [--shuffle every-epoch|once] [--partial-mini-batch return|discard] \\
        [--padded]

The data: 537 training and 200 test sequences of 1 channel, lengths uniform in 100..1344
(the shape of the UEA set PLAID: appliance current waveforms, 11 classes). Each class is a
periodic waveform (a fundamental with class-specific harmonics and phase), its period and
amplitude drawn per sequence, plus noise; the class is in the shape of every period, so a
GRU can read it from any stretch of the sequence.

`torch` trains the network `gru train` builds by default, the same way: z-score of the
input (training-set mean and deviation), GRU(1, H) with output "last" (the state at each
sequence's own last step, through pack_padded_sequence), Linear(H, K), softmax and
cross-entropy; Adam (--learn-rate, default 1e-3, betas 0.9/0.999, eps 1e-8), L2 1e-4 added
to the gradient (MATLAB's L2Regularization, Adam's weight_decay), mini-batches of
--batch-size padded to the longest sequence of the batch, reshuffled every epoch and the
partial last batch trained on (`gru train`'s defaults; --shuffle once and
--partial-mini-batch discard give MATLAB's), or with --sort-by-length sorted by length
first and the batches shuffled. `--padded` runs the GRU over the padded batch without
packing (not the same network: the state read is the one after the padding, as a user who
skips pack_padded_sequence gets; it shows what packing costs). Prints the seconds of every epoch and the test accuracy,
as JSON on the last line.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

CLASSES = 11
TRAIN, TEST = 537, 200
MIN_LEN, MAX_LEN = 100, 1344


def waveform(cls, length, rng):
    period = rng.uniform(40.0, 70.0)
    t = np.arange(length) / period * 2 * np.pi
    # Class k: harmonics (1, 2 + k % 3, 3 + k % 5) with class-specific weights and phase.
    h2, h3 = 2 + cls % 3, 3 + cls % 5
    w2, w3 = 0.25 + 0.1 * (cls % 4), 0.1 + 0.07 * (cls // 4)
    phase = 0.4 * cls
    x = np.sin(t) + w2 * np.sin(h2 * t + phase) + w3 * np.sin(h3 * t - phase)
    return rng.uniform(0.5, 2.0) * x + rng.normal(0.0, 0.15, length)


def write_ts(path, sequences, labels):
    with open(path, "w") as f:
        f.write("@problemName LongWaves\n@timeStamps false\n@missing false\n@univariate true\n")
        f.write("@equalLength false\n@classLabel true " + " ".join(str(c) for c in range(CLASSES)) + "\n@data\n")
        for x, y in zip(sequences, labels):
            f.write(",".join(f"{v:.5f}" for v in x) + f":{y}\n")


def gen(out_dir):
    rng = np.random.default_rng(537)
    os.makedirs(out_dir, exist_ok=True)
    for name, n in [("TRAIN", TRAIN), ("TEST", TEST)]:
        labels = [int(c) for c in rng.integers(0, CLASSES, n)]
        seqs = [waveform(c, int(rng.integers(MIN_LEN, MAX_LEN + 1)), rng) for c in labels]
        write_ts(os.path.join(out_dir, f"LongWaves_{name}.ts"), seqs, labels)


def read_ts(path):
    seqs, labels, data = [], [], False
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        if not data:
            data = line.lower() == "@data"
            continue
        values, label = line.rsplit(":", 1)
        seqs.append(np.array([float(v) for v in values.split(",")], dtype=np.float32))
        labels.append(int(label))
    return seqs, np.array(labels)


def train_torch(args):
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    (xs, ys), (xt, yt) = read_ts(args.train), read_ts(args.test)
    allv = np.concatenate(xs)
    mean, std = float(allv.mean()), float(allv.std())
    norm = lambda s: [torch.from_numpy((x - mean) / std).unsqueeze(1) for x in s]
    xs, xt = norm(xs), norm(xt)
    gru = torch.nn.GRU(1, args.hidden)
    fc = torch.nn.Linear(args.hidden, CLASSES)
    params = list(gru.parameters()) + list(fc.parameters())
    opt = torch.optim.Adam(params, lr=args.learn_rate, weight_decay=1e-4)

    def logits(batch):
        if args.padded:
            _, h = gru(pad_sequence(batch))
            return fc(h[-1])
        lengths = torch.tensor([len(x) for x in batch])
        packed = pack_padded_sequence(pad_sequence(batch), lengths, enforce_sorted=False)
        _, h = gru(packed)
        return fc(h[-1])

    rng = np.random.default_rng(0)

    def epoch_batches(order):
        if args.sort_by_length:
            order = sorted(order, key=lambda i: len(xs[i]))
        size = args.batch_size
        end = len(order) - len(order) % size if args.partial_mini_batch == "discard" and len(order) > size else len(order)
        batches = [np.array(order[i:i + size]) for i in range(0, end, size)]
        if args.sort_by_length:
            batches = [batches[k] for k in rng.permutation(len(batches))]
        return batches

    batches = epoch_batches(rng.permutation(len(xs)))
    epochs = []
    for _ in range(args.epochs):
        t = time.perf_counter()
        if args.shuffle == "every-epoch" and epochs:
            batches = epoch_batches(rng.permutation(len(xs)))
        for idx in batches:
            loss = torch.nn.functional.cross_entropy(logits([xs[i] for i in idx]), torch.from_numpy(ys[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        epochs.append(time.perf_counter() - t)
        print(f"epoch {len(epochs)}: {epochs[-1]:.2f} s, loss {loss.item():.4f}", file=sys.stderr)
    with torch.no_grad():
        pred = torch.cat([logits(xt[i:i + 128]).argmax(1) for i in range(0, len(xt), 128)])
    acc = float((pred.numpy() == yt).mean())
    print(json.dumps({"seconds_per_epoch": epochs, "median_epoch_s": float(np.median(epochs)), "test_accuracy": acc}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("out_dir")
    t = sub.add_parser("torch")
    t.add_argument("train")
    t.add_argument("test")
    t.add_argument("--hidden", type=int, default=64)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--sort-by-length", action="store_true")
    t.add_argument("--learn-rate", type=float, default=1e-3)
    t.add_argument("--padded", action="store_true")
    t.add_argument("--shuffle", choices=["every-epoch", "once"], default="every-epoch")
    t.add_argument("--partial-mini-batch", choices=["return", "discard"], default="return")
    args = ap.parse_args()
    if args.cmd == "gen":
        gen(args.out_dir)
    else:
        train_torch(args)


if __name__ == "__main__":
    main()
