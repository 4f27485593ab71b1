#!/usr/bin/env python3
"""Writes Korali's RNN sine-wave example (examples/learning/supervised/sineWave/run-rnn.py
of Korali) as JSON, as the issue specifies it:

    y = sin(x + pi * t), t = 0, 0.4, ..., 1.6 (5 steps); a sequence of length L (1..5)
    has inputs [x] at every step and its solution is sin(x + pi * t[L-1]), x ~ U(0, 2 pi).
    500 training sequences; GRU of 32 channels; MSE; AdaBelief; learning rate 1e-4;
    20 steps per generation; 100 generations.

Outputs (seeded, pure Python): examples/korali/sine_rnn_experiment.json (the whole
experiment, data included), sine_rnn_test_input.json (100 test sequences, Korali's input
layout: sequences x steps x 1), sine_rnn_test_solution.json, and sine_rnn_test.json (the
same test set as Korali's data set: {"Input": {"Data", "Size"}, "Solution": {"Data", "Size"}},
what `gru eval --data` reads).
"""
import json
import math
import os
import random

T = [0.0, 0.4, 0.8, 1.2, 1.6]


def make(n, rng):
    inputs, solutions = [], []
    for _ in range(n):
        x = rng.uniform(0, 2 * math.pi)
        length = rng.randrange(5) + 1
        inputs.append([[round(x, 6)] for _ in range(length)])
        solutions.append([round(math.sin(x + math.pi * T[length - 1]), 6)])
    return inputs, solutions


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "korali")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(0xC0FFEE)
    train_x, train_y = make(500, rng)
    test_x, test_y = make(100, rng)
    experiment = {
        "Problem": {
            "Type": "Supervised Learning",
            "Max Timesteps": 5,
            "Training Batch Size": 500,
            "Inference Batch Size": 100,
            "Input": {"Data": train_x, "Size": 1},
            "Solution": {"Data": train_y, "Size": 1},
        },
        "Solver": {
            "Type": "Learner/DeepSupervisor",
            "Loss Function": "Mean Squared Error",
            "Steps Per Generation": 20,
            "Learning Rate": 1e-4,
            "Optimizer": "AdaBelief",
            "Neural Network": {
                "Engine": "Korali",
                "Hidden Layers": [{"Type": "Layer/Recurrent/GRU", "Depth": 1, "Output Channels": 32}],
            },
            "Termination Criteria": {"Max Generations": 100},
        },
        "Random Seed": 0xC0FFEE,
        "Console Output": {"Verbosity": "Normal"},
        "File Output": {"Enabled": False},
    }
    with open(os.path.join(out, "sine_rnn_experiment.json"), "w") as f:
        json.dump(experiment, f, separators=(",", ":"))
    with open(os.path.join(out, "sine_rnn_test_input.json"), "w") as f:
        json.dump(test_x, f, separators=(",", ":"))
    with open(os.path.join(out, "sine_rnn_test_solution.json"), "w") as f:
        json.dump(test_y, f, separators=(",", ":"))
    test = {"Input": {"Data": test_x, "Size": 1}, "Solution": {"Data": test_y, "Size": 1}}
    with open(os.path.join(out, "sine_rnn_test.json"), "w") as f:
        json.dump(test, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
