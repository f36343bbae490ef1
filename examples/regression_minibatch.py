"""Full-batch, mini-batch and stochastic gradient descent on a tiny regression, NumPy + fastopt only.

Data: inputs (100, 8) from N(0, 1), targets uniform in [0, 5). Model: Linear(8, 1) -> Sigmoid ->
Linear(1, 1), initialised as torch.nn.Linear is (fastopt.init.kaiming_uniform_ with a = sqrt(5)),
trained on the MSE loss. The sigmoid and its gradient are fastopt's kernels; the updates are
fastopt's fused optimizer steps (fastopt.functional.sgd_ in part 1, the fastopt.optim classes in
part 2).

1. Plain SGD with the whole batch (100), mini-batches of 20 and single samples: the loss per
   update, plotted to ``regression_gd_variants.png`` (the batch curve is smooth, the stochastic
   one noisy).
2. Mini-batches of 20 with SGD, momentum, Nesterov, Adagrad, RMSprop and Adam: the loss per
   epoch on the whole data set, plotted to ``regression_optimizers.png``.

    python examples/regression_minibatch.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np

import fastopt
from fastopt import functional as F
from fastopt import init, optim

N, D, BATCH = 100, 8, 20


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D))
    y = rng.uniform(0.0, 5.0, (N, 1))
    return x, y


def make_params(seed=1):
    """W1 (1, 8), b1 (1,), W2 (1, 1), b2 (1,): torch.nn.Linear's default initialisation."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in ((D, 1), (1, 1)):
        w = init.kaiming_uniform_(np.empty((fan_out, fan_in)), a=math.sqrt(5), rng=rng)
        bound = 1 / math.sqrt(fan_in)
        b = init.uniform_(np.empty(fan_out), -bound, bound, rng=rng)
        params += [w, b]
    return params


def forward_backward(params, x, y):
    """The MSE loss and the grads of W1, b1, W2, b2."""
    w1, b1, w2, b2 = params
    h = x @ w1.T + b1
    s = fastopt.sigmoid(h)
    out = s @ w2.T + b2
    loss, dout = fastopt.mse_loss(out, y)  # the value and its gradient in one call
    loss = float(loss)
    dw2 = dout.T @ s
    db2 = dout.sum(0)
    dh = fastopt.sigmoid_backward(dout @ w2, s)
    dw1 = dh.T @ x
    db1 = dh.sum(0)
    return loss, [dw1, db1, dw2, db2]


def batches(rng, batch):
    order = rng.permutation(N)
    for i in range(0, N, batch):
        yield order[i:i + batch]


def gd_variants(epochs, lr=0.05):
    """Part 1: plain SGD (fastopt.functional.sgd_) at batch sizes 100, 20 and 1."""
    x, y = make_data()
    curves = {}
    for name, batch in (("batch (100)", N), ("mini-batch (20)", BATCH), ("stochastic (1)", 1)):
        params = make_params()
        rng = np.random.default_rng(2)
        updates, losses = [], []
        k = 0
        for _ in range(epochs):
            for idx in batches(rng, batch):
                loss, grads = forward_backward(params, x[idx], y[idx])
                F.sgd_(params, grads, lr=lr)
                k += 1
                updates.append(k / (N / batch))  # in epochs
                losses.append(loss)
        full, _ = forward_backward(params, x, y)
        curves[name] = (np.array(updates), np.array(losses), full)
        print(f"  {name:16s} updates {k:6d}   final loss (all data) {full:.4f}")
    return curves


OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.05),
    "momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
    "Nesterov": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.5),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.01),
    "Adam": lambda ps: optim.Adam(ps, lr=0.05),
}


def compare_optimizers(epochs):
    """Part 2: mini-batches of 20 with each fastopt.optim class; the loss on all data per epoch."""
    x, y = make_data()
    curves = {}
    for name, make in OPTIMIZERS.items():
        params = make_params()
        opt = make(params)
        rng = np.random.default_rng(2)
        hist = [forward_backward(params, x, y)[0]]
        for _ in range(epochs):
            for idx in batches(rng, BATCH):
                _, grads = forward_backward(params, x[idx], y[idx])
                opt.step(grads)
            hist.append(forward_backward(params, x, y)[0])
        curves[name] = np.array(hist)
        print(f"  {name:9s} loss {hist[0]:.4f} -> {hist[-1]:.4f}")
    return curves


def plot(curves1, curves2, out_dir):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots")
        return
    os.makedirs(out_dir, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    for ax, (name, (t, losses, _)) in zip(axes, curves1.items()):
        ax.plot(t, losses, lw=0.8 if len(t) > 200 else 1.5)
        ax.set_title(name)
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("MSE loss of the batch")
    fig.suptitle("Plain SGD: batch, mini-batch and stochastic updates")
    fig.tight_layout()
    p1 = os.path.join(out_dir, "regression_gd_variants.png")
    fig.savefig(p1, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, hist in curves2.items():
        ax.plot(np.arange(len(hist)), hist, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss, all data")
    ax.set_yscale("log")
    ax.set_title("Mini-batches of 20")
    ax.legend()
    fig.tight_layout()
    p2 = os.path.join(out_dir, "regression_optimizers.png")
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    print(f"plots: {p1}, {p2}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few epochs (CI)")
    ap.add_argument("--out", default=".", help="directory for the PNG plots")
    args = ap.parse_args()
    epochs1, epochs2 = (5, 10) if args.quick else (60, 100)
    print("1. plain SGD, lr 0.05:")
    c1 = gd_variants(epochs1)
    print("2. optimizers, mini-batches of 20:")
    c2 = compare_optimizers(epochs2)
    for name, hist in c2.items():
        assert np.isfinite(hist).all() and hist[-1] < hist[0], f"{name}: the loss did not fall"
    # the stochastic curve is the noisy one: larger update-to-update changes than full batch
    noise = {k: float(np.mean(np.abs(np.diff(v[1])))) for k, v in c1.items()}
    assert noise["stochastic (1)"] > noise["batch (100)"]
    plot(c1, c2, args.out)


if __name__ == "__main__":
    main()
