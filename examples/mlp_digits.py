"""An MLP on scikit-learn's bundled digits (8x8 images, 10 classes; no download), trained with
NumPy matmuls and fastopt kernels only: fastopt.init, relu + dropout forward and backward,
the fused softmax cross-entropy (loss and gradient in one call) and each fastopt.optim
optimizer, with early stopping on a validation split.

    python examples/mlp_digits.py            # every optimizer, plots to mlp_digits.png
    python examples/mlp_digits.py --quick    # Adam and SGD, a few epochs (CI)

Prints the final test accuracy of each optimizer (above 95% with Adam).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import fastopt
import fastopt.init as init
import fastopt.optim as optim

SIZES = (64, 128, 64, 10)


class MLP:
    """Linear -> ReLU -> dropout -> Linear -> ReLU -> dropout -> Linear, float32."""

    def __init__(self, rng: np.random.Generator, p_drop: float):
        self.params = []
        for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
            # torch's nn.Linear default, on its (out, in) weight; stored transposed for x @ w
            w = init.kaiming_uniform_(np.empty((fan_out, fan_in), np.float32), a=5 ** 0.5, rng=rng).T.copy()
            bound = 1 / fan_in ** 0.5
            b = init.uniform_(np.empty(fan_out, np.float32), -bound, bound, rng=rng)
            self.params += [w, b]
        self.p_drop = p_drop

    def forward(self, x: np.ndarray, seed: int, training: bool):
        """The logits, and what backward needs: each layer's input, each hidden (z, mask)."""
        inputs, hidden = [x], []
        n_layers = len(self.params) // 2
        for layer in range(n_layers):
            w, b = self.params[2 * layer], self.params[2 * layer + 1]
            z = inputs[-1] @ w + b
            if layer == n_layers - 1:
                return z, (inputs, hidden)
            a = fastopt.relu(z)
            mask = None
            if training and self.p_drop > 0:
                a, mask = fastopt.dropout(a, self.p_drop, seed=seed * 16 + layer, out=a)
            hidden.append((z, mask))
            inputs.append(a)
        raise AssertionError("unreachable")

    def backward(self, g: np.ndarray, saved) -> list:
        """Grads of every param, in self.params order, from g = dloss/dlogits."""
        inputs, hidden = saved
        grads = [None] * len(self.params)
        for layer in range(len(self.params) // 2 - 1, -1, -1):
            grads[2 * layer] = inputs[layer].T @ g
            grads[2 * layer + 1] = g.sum(axis=0)
            if layer == 0:
                break
            g = g @ self.params[2 * layer].T
            z, mask = hidden[layer - 1]
            if mask is not None:
                g = fastopt.dropout_backward(g, mask, self.p_drop)
            g = fastopt.relu_backward(g, z)
        return grads


def evaluate(model: MLP, x: np.ndarray, y: np.ndarray):
    logits, _ = model.forward(x, seed=0, training=False)
    loss = fastopt.cross_entropy(logits, y, grad=False)
    return float(loss), float((logits.argmax(axis=1) == y).mean())


def make_optimizer(name: str, params):
    return {
        "SGD": lambda: optim.SGD(params, lr=0.05),
        "SGD momentum": lambda: optim.SGD(params, lr=0.05, momentum=0.9),
        "SGD Nesterov": lambda: optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True),
        "Adagrad": lambda: optim.Adagrad(params, lr=0.05),
        "RMSprop": lambda: optim.RMSprop(params, lr=1e-3),
        "Adam": lambda: optim.Adam(params, lr=1e-3),
        "AdamW": lambda: optim.AdamW(params, lr=1e-3, weight_decay=1e-2),
        "Lion": lambda: optim.Lion(params, lr=1e-4, weight_decay=1e-2),
        "LAMB": lambda: optim.LAMB(params, lr=1e-2),
    }[name]()


def train(name: str, data, epochs: int, batch: int, p_drop: float, patience: int, seed: int):
    (xtr, ytr), (xva, yva), (xte, yte) = data
    rng = np.random.default_rng(seed)
    model = MLP(rng, p_drop)
    opt = make_optimizer(name, model.params)
    history = {"train_loss": [], "val_loss": [], "val_acc": []}
    best, best_params, waited, step = np.inf, None, 0, 0
    for epoch in range(epochs):
        order = rng.permutation(len(xtr))
        losses = []
        for start in range(0, len(xtr), batch):
            idx = order[start:start + batch]
            x, y = xtr[idx], ytr[idx]
            step += 1
            logits, saved = model.forward(x, seed=seed * 1_000_003 + step, training=True)
            loss, g = fastopt.cross_entropy(logits, y)  # mean over the batch, and its gradient
            grads = model.backward(g, saved)
            opt.step(grads)
            losses.append(float(loss))
        val_loss, val_acc = evaluate(model, xva, yva)
        history["train_loss"].append(float(np.mean(losses)))
        history["val_loss"].append(val_loss)
        history["val_acc"].append(val_acc)
        if val_loss < best - 1e-4:
            best, best_params, waited = val_loss, [p.copy() for p in model.params], 0
        else:
            waited += 1
            if waited >= patience:
                break
    for p, b in zip(model.params, best_params or model.params):
        p[...] = b
    test_loss, test_acc = evaluate(model, xte, yte)
    return history, test_acc


def load_data(seed: int):
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit("this example needs scikit-learn (pip install scikit-learn) for its bundled digits")
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_tr, n_va = int(0.6 * len(x)), int(0.2 * len(x))
    return ((x[:n_tr], y[:n_tr]), (x[n_tr:n_tr + n_va], y[n_tr:n_tr + n_va]),
            (x[n_tr + n_va:], y[n_tr + n_va:]))


def plot(results, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (pip install matplotlib)")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, (history, acc) in results.items():
        ax1.plot(history["val_loss"], label=f"{name}")
        ax2.plot(history["val_acc"], label=f"{name} (test {acc:.1%})")
    ax1.set(xlabel="epoch", ylabel="validation loss", yscale="log", title="MLP on digits: loss")
    ax2.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0.8, 1.0), title="accuracy")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot written to {path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Adam and SGD only, few epochs (CI)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--dropout", type=float, default=0.1, help="dropout probability (0: off)")
    parser.add_argument("--plot", default="mlp_digits.png", help="PNG path ('' for none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = ["Adam", "SGD momentum"] if args.quick else [
        "SGD", "SGD momentum", "SGD Nesterov", "Adagrad", "RMSprop", "Adam", "AdamW", "Lion", "LAMB"]
    epochs = args.epochs or (8 if args.quick else 150)
    data = load_data(args.seed)
    results = {}
    for name in names:
        t0 = time.perf_counter()
        history, acc = train(name, data, epochs, batch=32, p_drop=args.dropout, patience=15, seed=args.seed)
        results[name] = (history, acc)
        print(f"{name:13s} test accuracy {acc:.2%}  ({len(history['val_loss'])} epochs, "
              f"{time.perf_counter() - t0:.1f} s)")
    if args.plot:
        plot(results, args.plot)
    if not args.quick and results["Adam"][1] < 0.95:
        print("Adam's test accuracy is below 95%: something is wrong")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
