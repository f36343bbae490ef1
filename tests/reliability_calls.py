"""One representative call of every public kernel, shared by the reliability tests
(floating-point environment, fork, leaks, concurrency, PyTorch coexistence).

Each :class:`Case` makes its arrays with ``setup(rng, n, dtype)`` and runs with
``call(module, arrays)``, where ``module`` is ``fastopt.functional`` (or ``fastopt.reference``:
the twins share signatures). :func:`outcome` turns the arrays and the return value into bytes
so two runs can be compared bitwise. Not a test module (no ``test_`` prefix); the memory
contract fuzzer has its own, richer table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List

import numpy as np

from _optim_table import NAMES, NONNEGATIVE_STATES, call_options, state_lists

Arrays = Dict[str, Any]


def values(rng, n: int, dtype) -> np.ndarray:
    """N(0, 2) with some subnormals, zeros and large values: flush-to-zero, denormals-are-zero
    and the rounding mode all change the result of a kernel that inherits them."""
    dtype = np.dtype(dtype)
    x = rng.standard_normal(n) * 2.0
    tiny = float(np.finfo(dtype).smallest_normal)
    pick = rng.random(n)
    x[pick < 0.15] *= tiny / 4  # subnormal
    x[(pick >= 0.15) & (pick < 0.2)] = 0.0
    x[(pick >= 0.2) & (pick < 0.25)] *= 1e3
    return x.astype(dtype)


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Any, int, Any], Arrays]
    call: Callable[[Any, Arrays], Any]

    def __repr__(self) -> str:
        return self.name


def _unary(rng, n, dt):
    return {"x": values(rng, n, dt)}


def _binary(rng, n, dt):
    return {"g": values(rng, n, dt), "x": values(rng, n, dt)}


def _with_y(forward):
    def setup(rng, n, dt):
        x = values(rng, n, dt)
        return {"g": values(rng, n, dt), "y": forward(x)}

    return setup


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x))).astype(x.dtype)


def _prelu(rng, n, dt):
    rows = max(1, n // 8)
    return {"g": values(rng, rows * 8, dt).reshape(rows, 8), "x": values(rng, rows * 8, dt).reshape(rows, 8),
            "w": np.linspace(-0.5, 0.5, 8).astype(dt)}


def _optim(*states):
    """params, grads and the named state arrays (small positive second moments)."""

    def setup(rng, n, dt):
        sizes = [n, max(1, n // 3), 7]
        a = {"p": [values(rng, s, dt) for s in sizes], "g": [values(rng, s, dt) for s in sizes]}
        for name in states:
            a[name] = [np.abs(values(rng, s, dt)) if name in NONNEGATIVE_STATES else values(rng, s, dt)
                       for s in sizes]
        return a

    return setup


ACTIVATIONS: List[Case] = [
    Case("sigmoid", _unary, lambda m, a: m.sigmoid(a["x"])),
    Case("tanh", _unary, lambda m, a: m.tanh(a["x"])),
    Case("relu", _unary, lambda m, a: m.relu(a["x"])),
    Case("leaky_relu", _unary, lambda m, a: m.leaky_relu(a["x"], 0.1)),
    Case("softplus", _unary, lambda m, a: m.softplus(a["x"], beta=2.0, threshold=10.0)),
    Case("elu", _unary, lambda m, a: m.elu(a["x"], alpha=1.5)),
    Case("gelu", _unary, lambda m, a: m.gelu(a["x"])),
    Case("gelu_tanh", _unary, lambda m, a: m.gelu(a["x"], approximate="tanh")),
    Case("silu", _unary, lambda m, a: m.silu(a["x"])),
    Case("prelu", _prelu, lambda m, a: m.prelu(a["x"], a["w"])),
    Case("sigmoid_backward", _with_y(_sigmoid), lambda m, a: m.sigmoid_backward(a["g"], a["y"])),
    Case("tanh_backward", _with_y(np.tanh), lambda m, a: m.tanh_backward(a["g"], a["y"])),
    Case("relu_backward", _binary, lambda m, a: m.relu_backward(a["g"], a["x"])),
    Case("leaky_relu_backward", _binary, lambda m, a: m.leaky_relu_backward(a["g"], a["x"], 0.1)),
    Case("softplus_backward", _binary, lambda m, a: m.softplus_backward(a["g"], a["x"], beta=2.0, threshold=10.0)),
    Case("elu_backward", _binary, lambda m, a: m.elu_backward(a["g"], a["x"], alpha=1.5)),
    Case("gelu_backward", _binary, lambda m, a: m.gelu_backward(a["g"], a["x"])),
    Case("gelu_tanh_backward", _binary, lambda m, a: m.gelu_backward(a["g"], a["x"], approximate="tanh")),
    Case("silu_backward", _binary, lambda m, a: m.silu_backward(a["g"], a["x"])),
    Case("prelu_backward", _prelu, lambda m, a: m.prelu_backward(a["g"], a["x"], a["w"])),
]

def _optimizer_case(name: str) -> Case:
    """One call of ``name``'s step with every state list in use, from its spec."""
    states, opts = state_lists(name), call_options(name)
    return Case(name + "_", _optim(*states),
                lambda m, a: getattr(m, name + "_")(a["p"], a["g"], *[a[s] for s in states], **opts))


OPTIMIZERS: List[Case] = [_optimizer_case(name) for name in NAMES] + [
    Case("clip_grad_norm_", _optim(), lambda m, a: m.clip_grad_norm_(a["g"], 0.5)),
]

def _logits(rng, n, dt):
    rows = max(1, n // 10)
    return {"x": values(rng, rows * 10, dt).reshape(rows, 10), "t": rng.integers(0, 10, rows)}


def _pair(rng, n, dt):
    return {"x": values(rng, n, dt), "t": (rng.random(n) < 0.5).astype(dt)}


def _log_softmax_rows(x):
    z = x.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return (z - np.log(np.exp(z).sum(axis=-1, keepdims=True))).astype(x.dtype)


def _row_grad(transform):
    """grad_out and the forward's output y for the row backward kernels."""
    def setup(rng, n, dt):
        a = _logits(rng, n, dt)
        return {"g": values(rng, a["x"].size, dt).reshape(a["x"].shape), "y": transform(a["x"])}

    return setup


def _log_probs(rng, n, dt):
    a = _logits(rng, n, dt)
    return {"x": _log_softmax_rows(a["x"]), "t": a["t"]}


def _dropout_grad(rng, n, dt):
    return {"g": values(rng, n, dt), "mask": rng.random(n) >= 0.3}


LOSSES: List[Case] = [
    Case("softmax", _logits, lambda m, a: m.softmax(a["x"], axis=-1)),
    Case("log_softmax", _logits, lambda m, a: m.log_softmax(a["x"], axis=0)),
    Case("cross_entropy", _logits, lambda m, a: m.cross_entropy(a["x"], a["t"], label_smoothing=0.1)),
    Case("mse_loss", _pair, lambda m, a: m.mse_loss(a["x"], a["t"])),
    Case("huber_loss", _pair, lambda m, a: m.huber_loss(a["x"], a["t"], delta=0.5)),
    Case("binary_cross_entropy_with_logits", _pair, lambda m, a: m.binary_cross_entropy_with_logits(a["x"], a["t"])),
    Case("dropout", _unary, lambda m, a: m.dropout(a["x"], 0.3, seed=11)),
    Case("softmax_backward", _row_grad(lambda x: np.exp(_log_softmax_rows(x))),
         lambda m, a: m.softmax_backward(a["g"], a["y"])),
    Case("log_softmax_backward", _row_grad(_log_softmax_rows), lambda m, a: m.log_softmax_backward(a["g"], a["y"])),
    Case("nll_loss", _log_probs, lambda m, a: m.nll_loss(a["x"], a["t"], reduction="sum")),
    Case("l1_loss", _pair, lambda m, a: m.l1_loss(a["x"], a["t"])),
    Case("smooth_l1_loss", _pair, lambda m, a: m.smooth_l1_loss(a["x"], a["t"], beta=0.5)),
    Case("dropout_backward", _dropout_grad, lambda m, a: m.dropout_backward(a["g"], a["mask"], 0.3)),
]

CASES: List[Case] = ACTIVATIONS + OPTIMIZERS + LOSSES


def copy_arrays(a: Arrays) -> Arrays:
    return {k: [x.copy() for x in v] if isinstance(v, list) else v.copy() for k, v in a.items()}


def _flat(obj) -> List[bytes]:
    if isinstance(obj, np.ndarray):
        return [obj.dtype.str.encode(), repr(obj.shape).encode(), obj.tobytes()]
    if isinstance(obj, (list, tuple)):
        return [b for item in obj for b in _flat(item)]
    if isinstance(obj, dict):
        return [b for k in sorted(obj) for b in [k.encode()] + _flat(obj[k])]
    if isinstance(obj, float):
        return [np.float64(obj).tobytes()]
    return [repr(obj).encode()]


def outcome(arrays: Arrays, ret) -> List[bytes]:
    """Everything a call produced, as bytes: its return value and the arrays (in-place steps)."""
    return _flat(arrays) + _flat(ret)


def run_case(case: Case, module, rng, n: int, dtype) -> List[bytes]:
    """Fresh arrays, one call, the outcome as bytes."""
    a = case.setup(rng, n, dtype)
    ret = case.call(module, a)
    return outcome(a, ret)
