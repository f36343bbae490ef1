"""The loss cases of the benchmark: value and gradient in one call, against the copy ceiling.

Contenders: fastopt with a preallocated gradient (``out=``); the stable NumPy a user writes
(max-shifted softmax, log-sum-exp, one temporary per operator); torch's functional forward
plus autograd backward (``x.grad = None`` then ``F.cross_entropy(x, t).backward()``), which
is how a torch user gets the same two results. At a bench size n, the cross-entropy rows use
(n // C, C) logits for C = 10, 1000 and 32000 (the issue's shapes at 2^16, 2^22 and 2^23:
(65536, 10), (4096, 1000), (256, 32000)); the soft rows give class probabilities as targets
(label smoothing done by hand, distillation), at C = 10 and 1000. Bytes: cross-entropy must
read the logits twice (the row statistics, then the gradient) and write the gradient once,
and with probability targets read those once more; nll_loss reads one log-probability per
row and writes the gradient; softmax and log_softmax read x and write y, their backwards read
grad_out and y and write grad_in (rows of 1000); the elementwise losses read two arrays and
write one; dropout reads x and writes y and a one-byte mask, its backward reads grad_out and
the mask and writes grad_in.
"""

from __future__ import annotations

from typing import Any, List

from . import Case

LOSS_NAMES = ("cross_entropy_c10", "cross_entropy_c1000", "cross_entropy_c32000", "cross_entropy_soft_c10",
              "cross_entropy_soft_c1000", "nll_loss_c1000", "softmax", "log_softmax", "softmax_backward",
              "log_softmax_backward", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "bce_with_logits",
              "dropout", "dropout_backward")


def numpy_cross_entropy(x, t):
    """The stable softmax cross-entropy (mean) and its gradient, as a NumPy user writes it."""
    import numpy as np

    n = x.shape[0]
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=1, keepdims=True)
    logp = x - m - np.log(s)
    loss = -logp[np.arange(n), t].mean()
    grad = e / s
    grad[np.arange(n), t] -= 1.0
    grad /= n
    return loss, grad


def numpy_soft_cross_entropy(x, q):
    """The same with class-probability targets q (rows summing to 1)."""
    import numpy as np

    n = x.shape[0]
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=1, keepdims=True)
    loss = -(q * (x - m - np.log(s))).sum() / n
    grad = (e / s - q) / n
    return loss, grad


def numpy_softmax(x):
    import numpy as np

    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def numpy_log_softmax(x):
    import numpy as np

    d = x - x.max(axis=-1, keepdims=True)
    return d - np.log(np.exp(d).sum(axis=-1, keepdims=True))


def numpy_softmax_backward(gy, y):
    return y * (gy - (gy * y).sum(axis=-1, keepdims=True))


def numpy_log_softmax_backward(gy, y):
    import numpy as np

    return gy - np.exp(y) * gy.sum(axis=-1, keepdims=True)


def numpy_nll(logp, t):
    import numpy as np

    n = logp.shape[0]
    loss = -logp[np.arange(n), t].mean()
    grad = np.zeros_like(logp)
    grad[np.arange(n), t] = -1.0 / n
    return loss, grad


def numpy_l1(p, t):
    import numpy as np

    d = p - t
    return np.abs(d).mean(), np.sign(d) / d.size


def numpy_smooth_l1(p, t, beta=1.0):
    import numpy as np

    d = p - t
    a = np.abs(d)
    small = a < beta
    loss = np.where(small, 0.5 * d * d / beta, a - 0.5 * beta).mean()
    return loss, np.where(small, d / beta, np.sign(d)) / d.size


def numpy_huber(p, t, delta=1.0):
    import numpy as np

    d = p - t
    a = np.abs(d)
    loss = np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta)).mean()
    return loss, np.clip(d, -delta, delta) / d.size


def numpy_mse(p, t):
    d = p - t
    return (d * d).mean(), d * (2.0 / d.size)


def numpy_bce_with_logits(z, y):
    import numpy as np

    loss = (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean()
    grad = (1 / (1 + np.exp(-z)) - y) / z.size
    return loss, grad


def loss_cases(size: int, dtype: str, torch: Any = None) -> List[Case]:
    import numpy as np

    import fastopt as fo

    rng = np.random.default_rng(0)
    item = np.dtype(dtype).itemsize
    cases: List[Case] = []
    F = None
    if torch is not None:
        import torch.nn.functional as F

    def add(name, nbytes, fo_fn, np_fn, t_fn, fo_code, np_code, t_code, note=""):
        cases.append(Case(name=name, family="losses", size=size, dtype=str(np.dtype(dtype)), bytes=nbytes,
                          fastopt=fo_fn, numpy=np_fn, torch=t_fn, numpy_code=np_code,
                          torch_code=t_code if torch is not None else "", fastopt_code=fo_code,
                          ceiling="copy", check=False, note=note))

    def torch_backward(fn, *arrays):
        """A callable that runs fn(x, *rest).backward() on fresh grads each call."""
        if torch is None:
            return None
        xt = torch.tensor(arrays[0], requires_grad=True)
        rest = [torch.from_numpy(a) for a in arrays[1:]]

        def run():
            xt.grad = None
            fn(xt, *rest).backward()
        return run

    for c in (10, 1000, 32000):
        n = size // c
        if n < 1:
            continue
        x = (3 * rng.standard_normal((n, c))).astype(dtype)
        t = rng.integers(0, c, n)
        g = np.empty_like(x)
        add(f"cross_entropy_c{c}", 3 * x.nbytes, lambda x=x, t=t, g=g: fo.cross_entropy(x, t, out=g),
            lambda x=x, t=t: numpy_cross_entropy(x, t),
            torch_backward(lambda a, b: F.cross_entropy(a, b), x, t),
            f"fo.cross_entropy(x, t, out=g)  # x: ({n}, {c})", "numpy_cross_entropy (stable, 6 passes)",
            "x.grad = None; F.cross_entropy(x, t).backward()")
    for c in (10, 1000):
        n = size // c
        if n < 1:
            continue
        x = (3 * rng.standard_normal((n, c))).astype(dtype)
        q = rng.random((n, c))
        q = (q / q.sum(axis=1, keepdims=True)).astype(dtype)
        g = np.empty_like(x)
        add(f"cross_entropy_soft_c{c}", 4 * x.nbytes, lambda x=x, q=q, g=g: fo.cross_entropy(x, q, out=g),
            lambda x=x, q=q: numpy_soft_cross_entropy(x, q),
            torch_backward(lambda a, b: F.cross_entropy(a, b), x, q),
            f"fo.cross_entropy(x, q, out=g)  # x, q: ({n}, {c}), q rows sum to 1",
            "numpy_soft_cross_entropy (stable)", "x.grad = None; F.cross_entropy(x, q).backward()")
    n = size // 1000
    if n >= 1:
        x = (3 * rng.standard_normal((n, 1000))).astype(dtype)
        logp = numpy_log_softmax(x).astype(dtype)
        t = rng.integers(0, 1000, n)
        g = np.empty_like(x)
        add("nll_loss_c1000", x.nbytes, lambda logp=logp, t=t, g=g: fo.nll_loss(logp, t, out=g),
            lambda logp=logp, t=t: numpy_nll(logp, t),
            torch_backward(lambda a, b: F.nll_loss(a, b), logp, t),
            f"fo.nll_loss(logp, t, out=g)  # logp: ({n}, 1000)", "-logp[i, t].mean(); a zero grad with -1/n at t",
            "logp.grad = None; F.nll_loss(logp, t).backward()", note="bytes: the gradient written (one logp read per row)")
    n = max(1, size // 1000)
    x = (3 * rng.standard_normal((n, min(size, 1000)))).astype(dtype)
    y = np.empty_like(x)
    add("softmax", 2 * x.nbytes, lambda: fo.softmax(x, out=y), lambda: numpy_softmax(x),
        (lambda xt=torch.from_numpy(x), yt=torch.from_numpy(y): torch.softmax(xt, -1, out=yt)) if torch else None,
        "fo.softmax(x, out=y)  # rows of 1000", "e = np.exp(x - max); e / e.sum()", "torch.softmax(x, -1, out=y)")
    ly = np.empty_like(x)
    add("log_softmax", 2 * x.nbytes, lambda: fo.log_softmax(x, out=ly), lambda: numpy_log_softmax(x),
        (lambda xt=torch.from_numpy(x), yt=torch.from_numpy(ly): torch.log_softmax(xt, -1, out=yt)) if torch else None,
        "fo.log_softmax(x, out=y)  # rows of 1000", "d = x - max; d - log(exp(d).sum())",
        "torch.log_softmax(x, -1, out=y)")
    sy, lsy = numpy_softmax(x).astype(dtype), numpy_log_softmax(x).astype(dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    gx = np.empty_like(x)
    tdt = getattr(torch, str(np.dtype(dtype))) if torch else None
    add("softmax_backward", 3 * x.nbytes, lambda: fo.softmax_backward(gy, sy, out=gx),
        lambda: numpy_softmax_backward(gy, sy),
        (lambda a=torch.from_numpy(gy), b=torch.from_numpy(sy): torch._softmax_backward_data(a, b, -1, tdt))
        if torch else None,
        "fo.softmax_backward(gy, y, out=g)  # rows of 1000", "y * (gy - (gy * y).sum(-1))",
        "torch._softmax_backward_data(gy, y, -1, dtype)  # what autograd runs")
    add("log_softmax_backward", 3 * x.nbytes, lambda: fo.log_softmax_backward(gy, lsy, out=gx),
        lambda: numpy_log_softmax_backward(gy, lsy),
        (lambda a=torch.from_numpy(gy), b=torch.from_numpy(lsy): torch._log_softmax_backward_data(a, b, -1, tdt))
        if torch else None,
        "fo.log_softmax_backward(gy, y, out=g)  # rows of 1000", "gy - exp(y) * gy.sum(-1)",
        "torch._log_softmax_backward_data(gy, y, -1, dtype)  # what autograd runs")
    p, q = (rng.standard_normal(size).astype(dtype) for _ in range(2))
    g = np.empty_like(p)
    add("mse_loss", 3 * size * item, lambda: fo.mse_loss(p, q, out=g), lambda: numpy_mse(p, q),
        torch_backward(lambda a, b: F.mse_loss(a, b), p, q),
        "fo.mse_loss(p, t, out=g)", "d = p - t; (d * d).mean(), d * (2 / n)",
        "p.grad = None; F.mse_loss(p, t).backward()")
    for name, fn, np_fn, t_name in (("l1_loss", fo.l1_loss, numpy_l1, "l1_loss"),
                                    ("smooth_l1_loss", fo.smooth_l1_loss, numpy_smooth_l1, "smooth_l1_loss"),
                                    ("huber_loss", fo.huber_loss, numpy_huber, "huber_loss")):
        add(name, 3 * size * item, lambda fn=fn: fn(p, q, out=g), lambda np_fn=np_fn: np_fn(p, q),
            torch_backward(lambda a, b, t_name=t_name: getattr(F, t_name)(a, b), p, q),
            f"fo.{name}(p, t, out=g)", f"{np_fn.__name__} (NumPy where/sign/clip)",
            f"p.grad = None; F.{t_name}(p, t).backward()")
    z = (3 * rng.standard_normal(size)).astype(dtype)
    yb = (rng.random(size) < 0.5).astype(dtype)
    gz = np.empty_like(z)
    add("bce_with_logits", 3 * size * item, lambda: fo.binary_cross_entropy_with_logits(z, yb, out=gz),
        lambda: numpy_bce_with_logits(z, yb),
        torch_backward(lambda a, b: F.binary_cross_entropy_with_logits(a, b), z, yb),
        "fo.binary_cross_entropy_with_logits(z, y, out=g)", "max(z,0) - z*y + log1p(exp(-|z|)); sigmoid(z) - y",
        "z.grad = None; F.binary_cross_entropy_with_logits(z, y).backward()")
    xd = rng.standard_normal(size).astype(dtype)
    yd = np.empty_like(xd)
    keep_rng = np.random.default_rng(1)
    add("dropout", 2 * size * item + size, lambda: fo.dropout(xd, 0.5, seed=7, out=yd),
        lambda: xd * ((keep_rng.random(size) >= 0.5) / 0.5),
        (lambda xt=torch.from_numpy(xd): F.dropout(xt, 0.5, training=True)) if torch else None,
        "fo.dropout(x, 0.5, seed=7, out=y)  # y and a bool mask",
        "mask = rng.random(n) >= p; x * mask / (1 - p)", "F.dropout(x, 0.5, training=True)",
        note="bytes: x read, y written, 1-byte mask written")
    gd = rng.standard_normal(size).astype(dtype)
    _, mask = fo.dropout(xd, 0.5, seed=7)
    gxd = np.empty_like(gd)
    add("dropout_backward", 2 * size * item + size, lambda: fo.dropout_backward(gd, mask, 0.5, out=gxd),
        lambda: gd * mask / 0.5,
        (lambda a=torch.from_numpy(gd), m=torch.from_numpy(mask): torch.ops.aten.native_dropout_backward(a, m, 2.0))
        if torch else None,
        "fo.dropout_backward(gy, mask, 0.5, out=g)", "gy * mask / (1 - p)",
        "aten.native_dropout_backward(gy, mask, 2.0)  # what autograd runs",
        note="bytes: grad_out read, 1-byte mask read, grad_in written")
    return cases
