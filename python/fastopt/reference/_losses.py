"""Reference softmax, losses and dropout in plain NumPy (float64 math, rounded once).

Every function has the signature of its ``fastopt.functional`` twin minus ``out=`` and
returns what it returns: ``(loss, grad)`` for the losses (``loss`` alone with
``grad=False``), the loss a scalar of the input dtype for 'mean'/'sum'. The formulas follow
torch.nn.functional, including its reduction rules ('mean' of cross_entropy/nll_loss is a
weighted mean over the non-ignored targets; 0 / 0 = NaN when all are ignored).

The dropout reference draws the very same mask as the kernel: Philox4x32-10 (Salmon et al.,
SC11) keyed by the seed, counter ``i // 4`` for flat element ``i``, lane ``i % 4``; element i
is kept when that 32-bit output is >= ``floor(p * 2**32)``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "softmax",
    "softmax_backward",
    "log_softmax",
    "log_softmax_backward",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy_with_logits",
    "dropout",
    "dropout_backward",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_REDUCTIONS = ("mean", "sum", "none")


def _float(a, name="x"):
    a = np.asarray(a)
    if a.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"fastopt: {name} has unsupported dtype {a.dtype}; expected float32 or float64")
    return a


def _same(a, b, names=("x", "y")):
    if a.dtype != b.dtype:
        raise TypeError(f"fastopt: {names[1]} has dtype {b.dtype} but {names[0]} has dtype {a.dtype}")
    if a.shape != b.shape:
        raise ValueError(f"fastopt: {names[0]} has shape {a.shape} but {names[1]} has shape {b.shape}")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"fastopt: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _axis(x, axis):
    lim = max(x.ndim, 1)
    if not -lim <= axis < lim:
        raise ValueError(f"fastopt: axis {axis} is out of bounds for an array of dimension {x.ndim}")
    return axis % lim


def _shifted(x, axis):
    """(x - m, sum(exp(x - m))) along axis (keepdims), m the row max: the stable parts of
    softmax = exp(x - m) / s and log_softmax = (x - m) - log(s).

    NaN anywhere in the row, +inf, or a row of only -inf gives NaN (as torch)."""
    with np.errstate(all="ignore"):
        m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
        d = x - m
        return d, np.sum(np.exp(d), axis=axis, keepdims=True)


def _reduce(loss_i, divisor, reduction, dtype):
    """'none': the per-sample losses; 'sum': their sum; 'mean': sum / divisor (0/0 = NaN)."""
    if reduction == "none":
        return loss_i.astype(dtype)
    total = float(np.sum(loss_i))
    if reduction == "sum":
        return dtype.type(total)
    with np.errstate(all="ignore"):
        return dtype.type(np.float64(total) / np.float64(divisor))


def _grad_factor(reduction, divisor, grad_scale):
    """The gradient of grad_scale * loss per unit of per-sample gradient."""
    if reduction == "mean":
        with np.errstate(all="ignore"):
            return grad_scale / np.float64(divisor)
    return grad_scale


# --------------------------------------------------------------------------------------------
# softmax
# --------------------------------------------------------------------------------------------


def softmax(x, axis=-1):
    """softmax(x)_j = exp(x_j - m) / sum_k exp(x_k - m) along axis, m the max."""
    x = _float(x)
    ax = _axis(x, axis)
    x64 = x.astype(np.float64).reshape(x.shape if x.ndim else (1,))
    with np.errstate(all="ignore"):
        d, s = _shifted(x64, ax)
        y = np.exp(d) / s
    return y.reshape(x.shape).astype(x.dtype)


def log_softmax(x, axis=-1):
    """log_softmax(x)_j = (x_j - m) - log(sum_k exp(x_k - m)) along axis."""
    x = _float(x)
    ax = _axis(x, axis)
    x64 = x.astype(np.float64).reshape(x.shape if x.ndim else (1,))
    with np.errstate(all="ignore"):
        d, s = _shifted(x64, ax)
        y = d - np.log(s)
    return y.reshape(x.shape).astype(x.dtype)


def softmax_backward(grad_out, y, axis=-1):
    """grad_x = y * (g - sum(g * y, axis)), y = softmax(x)."""
    g, y = _float(grad_out, "grad_out"), _float(y, "y")
    _same(g, y, ("grad_out", "y"))
    ax = _axis(y, axis)
    g64 = g.astype(np.float64).reshape(g.shape if g.ndim else (1,))
    y64 = y.astype(np.float64).reshape(g64.shape)
    with np.errstate(all="ignore"):
        r = y64 * (g64 - np.sum(g64 * y64, axis=ax, keepdims=True))
    return r.reshape(g.shape).astype(g.dtype)


def log_softmax_backward(grad_out, y, axis=-1):
    """grad_x = g - exp(y) * sum(g, axis), y = log_softmax(x)."""
    g, y = _float(grad_out, "grad_out"), _float(y, "y")
    _same(g, y, ("grad_out", "y"))
    ax = _axis(y, axis)
    g64 = g.astype(np.float64).reshape(g.shape if g.ndim else (1,))
    y64 = y.astype(np.float64).reshape(g64.shape)
    with np.errstate(all="ignore"):
        r = g64 - np.exp(y64) * np.sum(g64, axis=ax, keepdims=True)
    return r.reshape(g.shape).astype(g.dtype)


# --------------------------------------------------------------------------------------------
# cross-entropy, nll
# --------------------------------------------------------------------------------------------


def _class_operands(x, target, weight, ignore_index, label_smoothing, reduction, allow_prob):
    """logits moved to (samples..., C) in float64, targets, weights; checks as the kernel."""
    x = _float(x, "logits")
    if x.ndim < 1:
        raise ValueError("fastopt: logits must have shape (C,), (N, C) or (N, C, d1, ...)")
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"fastopt: label_smoothing must be in [0, 1], got {label_smoothing}")
    t = np.asarray(target)
    C = x.shape[0] if x.ndim == 1 else x.shape[1]
    sample_shape = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
    xl = np.moveaxis(x.astype(np.float64), 0 if x.ndim == 1 else 1, -1)  # (samples..., C)
    prob = t.dtype.kind == "f"
    if prob:
        if not allow_prob or t.shape != x.shape:
            raise TypeError("fastopt: class indices must be int32 or int64; probabilities need the logits' shape")
        if t.dtype != x.dtype:
            raise TypeError(f"fastopt: target has dtype {t.dtype} but logits has dtype {x.dtype}")
        if ignore_index != -100:
            raise ValueError("fastopt: ignore_index is not supported for class-probability (float) targets")
        t = np.moveaxis(t.astype(np.float64), 0 if x.ndim == 1 else 1, -1)
    else:
        if t.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
            raise TypeError(f"fastopt: target has unsupported dtype {t.dtype}; expected int32 or int64")
        if t.shape != sample_shape:
            raise ValueError(f"fastopt: target has shape {t.shape}, expected {sample_shape}")
        bad = (t != ignore_index) & ((t < 0) | (t >= C))
        if bad.any():
            pos = np.unravel_index(np.flatnonzero(bad)[0], t.shape) if t.ndim else ()
            raise IndexError(f"fastopt: target{list(map(int, pos))} = {int(t[pos])} is out of range for {C} classes")
    if weight is None:
        w = np.ones(C)
    else:
        weight = _float(weight, "weight")
        if weight.dtype != x.dtype:
            raise TypeError(f"fastopt: weight has dtype {weight.dtype} but logits has dtype {x.dtype}")
        if weight.shape != (C,):
            raise ValueError(f"fastopt: weight has shape {weight.shape}, expected ({C},)")
        w = weight.astype(np.float64)
    return x, xl, t, prob, w, C


def _at_targets(a, tt):
    """a[..., t] along the last (class) axis for each sample's target index tt (0 for
    ignored samples). With no classes (C = 0) every target is ignored: zeros."""
    if a.shape[-1] == 0:
        return np.zeros(tt.shape, dtype=a.dtype)
    return np.take_along_axis(a, tt[..., None], axis=-1)[..., 0]


def _back_to_logits_layout(g, x):
    return np.moveaxis(g, -1, 0 if x.ndim == 1 else 1).astype(x.dtype)


def cross_entropy(
    logits,
    target,
    *,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
    grad_scale=1.0,
    grad=True,
):
    """Softmax cross-entropy and its gradient (torch.nn.functional.cross_entropy).

    With logp = log_softmax(x) over the class axis, p = exp(logp), w the class weights
    (ones if None), eps = label_smoothing, C classes::

        index targets t:  loss_i = (1 - eps) w_t (-logp_t) + eps/C sum_c w_c (-logp_c), 0 if
                          t == ignore_index;  'mean' divides by sum of w_t over non-ignored.
                          d loss_i / d x_j = (1 - eps) w_t (p_j - [j == t]) + eps/C (W p_j - w_j),
                          W = sum_c w_c.
        prob. targets q:  qs = (1 - eps) q + eps/C;  loss_i = -sum_c w_c qs_c logp_c;
                          'mean' divides by the number of samples.
                          d loss_i / d x_j = (sum_c w_c qs_c) p_j - w_j qs_j.

    The gradient returned is that of grad_scale * (reduced loss).
    """
    x, xl, t, prob, w, C = _class_operands(x=logits, target=target, weight=weight, ignore_index=ignore_index,
                                          label_smoothing=label_smoothing, reduction=reduction, allow_prob=True)
    eps = float(label_smoothing)
    eps_c = eps / C if C else 0.0  # eps / C; no classes (C = 0): no smoothing terms at all
    with np.errstate(all="ignore"):
        d, s = _shifted(xl, -1)
        logp = d - np.log(s)
        p = np.exp(d) / s
        if prob:
            qs = t * (1.0 - eps) + eps_c
            wq = w * qs
            loss_i = -np.sum(wq * logp, axis=-1)
            divisor = loss_i.size
            g = np.sum(wq, axis=-1, keepdims=True) * p - wq
        else:
            valid = t != ignore_index
            tt = np.where(valid, t, 0)
            wt = np.where(valid, _at_targets(np.broadcast_to(w, logp.shape), tt), 0.0)
            logp_t = _at_targets(logp, tt)
            loss_i = (1.0 - eps) * wt * -logp_t
            if eps > 0:  # as torch, the smoothing term only exists when eps > 0 (-inf logits)
                loss_i = loss_i + eps_c * -np.sum(logp * w, axis=-1)
            loss_i = np.where(valid, loss_i, 0.0)
            divisor = np.sum(wt)
            onehot = np.arange(C) == tt[..., None]
            g = (1.0 - eps) * wt[..., None] * (p - onehot) + eps_c * (np.sum(w) * p - w)
            valid_g = valid[..., None]
        loss = _reduce(loss_i, divisor, reduction, x.dtype)
        if not grad:
            return loss
        g = g * _grad_factor(reduction, divisor, grad_scale)
        if not prob:  # ignored samples: a zero gradient (also when 'mean' divides by 0, as torch)
            g = np.where(valid_g, g, 0.0)
    return loss, _back_to_logits_layout(g, x)


def nll_loss(log_probs, target, *, weight=None, ignore_index=-100, reduction="mean", grad_scale=1.0, grad=True):
    """loss_i = -w_t * log_probs[i, t] (0 if t == ignore_index); gradient -w_t at t, 0 elsewhere.

    'mean' divides by the sum of w_t over the non-ignored samples (NaN if 0, as torch)."""
    x, xl, t, _, w, C = _class_operands(log_probs, target, weight, ignore_index, 0.0, reduction, allow_prob=False)
    valid = t != ignore_index
    tt = np.where(valid, t, 0)
    wt = np.where(valid, _at_targets(np.broadcast_to(w, xl.shape), tt), 0.0)
    with np.errstate(all="ignore"):
        x_t = _at_targets(xl, tt)
        loss_i = np.where(valid, -wt * x_t, 0.0)
        divisor = np.sum(wt)
        loss = _reduce(loss_i, divisor, reduction, x.dtype)
        if not grad:
            return loss
        g = -wt[..., None] * _grad_factor(reduction, divisor, grad_scale)
        g = np.where((np.arange(C) == tt[..., None]) & valid[..., None], g, 0.0)
    return loss, _back_to_logits_layout(g, x)


# --------------------------------------------------------------------------------------------
# elementwise losses
# --------------------------------------------------------------------------------------------


def _pointwise(pred, target, reduction, names=("pred", "target")):
    a, b = _float(pred, names[0]), _float(target, names[1])
    _same(a, b, names)
    _check_reduction(reduction)
    return a, a.astype(np.float64), b.astype(np.float64)


def _finish(a, loss_e, g_e, reduction, grad_scale, grad):
    with np.errstate(all="ignore"):
        loss = _reduce(loss_e, loss_e.size, reduction, a.dtype)
        if not grad:
            return loss
        return loss, (g_e * _grad_factor(reduction, loss_e.size, grad_scale)).astype(a.dtype)


def _sign(d):
    """sign(d), 0 at 0, NaN at NaN."""
    return np.sign(d)


def mse_loss(pred, target, reduction="mean", *, grad_scale=1.0, grad=True):
    """loss = (pred - target)^2, gradient 2 (pred - target). d is rounded to the input dtype
    first, as torch computes it."""
    a, p, t = _pointwise(pred, target, reduction)
    d = (p - t).astype(a.dtype).astype(np.float64)
    with np.errstate(all="ignore"):
        return _finish(a, d * d, 2.0 * d, reduction, grad_scale, grad)


def l1_loss(pred, target, reduction="mean", *, grad_scale=1.0, grad=True):
    """``loss = |pred - target|``, gradient ``sign(pred - target)`` (0 at 0)."""
    a, p, t = _pointwise(pred, target, reduction)
    d = (p - t).astype(a.dtype).astype(np.float64)
    return _finish(a, np.abs(d), _sign(d), reduction, grad_scale, grad)


def smooth_l1_loss(pred, target, reduction="mean", beta=1.0, *, grad_scale=1.0, grad=True):
    """``loss = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta``; gradient ``d / beta`` or
    ``sign(d)``. ``beta == 0`` is l1_loss (torch)."""
    if not beta >= 0:
        raise ValueError(f"fastopt: beta must be >= 0, got {beta}")
    if beta == 0:
        return l1_loss(pred, target, reduction, grad_scale=grad_scale, grad=grad)
    a, p, t = _pointwise(pred, target, reduction)
    b = float(a.dtype.type(beta))
    d = (p - t).astype(a.dtype).astype(np.float64)
    with np.errstate(all="ignore"):
        quad = np.abs(d) < b
        loss_e = np.where(quad, 0.5 * d * d / b, np.abs(d) - 0.5 * b)
        g_e = np.where(quad, d / b, _sign(d))
    return _finish(a, loss_e, g_e, reduction, grad_scale, grad)


def huber_loss(pred, target, reduction="mean", delta=1.0, *, grad_scale=1.0, grad=True):
    """``loss = 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta)``; gradient
    ``clip(d, -delta, delta)``."""
    if not delta > 0:
        raise ValueError(f"fastopt: delta must be > 0, got {delta}")
    a, p, t = _pointwise(pred, target, reduction)
    dl = float(a.dtype.type(delta))
    d = (p - t).astype(a.dtype).astype(np.float64)
    with np.errstate(all="ignore"):
        quad = np.abs(d) < dl
        loss_e = np.where(quad, 0.5 * d * d, dl * (np.abs(d) - 0.5 * dl))
        g_e = np.clip(d, -dl, dl)
    return _finish(a, loss_e, g_e, reduction, grad_scale, grad)


def binary_cross_entropy_with_logits(
    logits, target, *, weight=None, pos_weight=None, reduction="mean", grad_scale=1.0, grad=True
):
    """With lw = (pw - 1) t + 1 (pw = pos_weight, 1 if None), w = weight (1 if None)::

        loss = w ((1 - t) x + lw (log1p(exp(-|x|)) + max(-x, 0)))   (= w (-(pw t log s + (1-t) log(1-s))))
        grad = w (lw sigmoid(x) - pw t),  s = sigmoid(x).

    weight and pos_weight broadcast to the logits' shape."""
    a, x, t = _pointwise(logits, target, reduction, ("logits", "target"))

    def bcast(v, name):
        if v is None:
            return np.float64(1.0)
        v = _float(v, name)
        if v.dtype != a.dtype:
            raise TypeError(f"fastopt: {name} has dtype {v.dtype} but logits has dtype {a.dtype}")
        try:
            return np.broadcast_to(v, a.shape).astype(np.float64)
        except ValueError:
            raise ValueError(f"fastopt: {name} of shape {v.shape} does not broadcast to {a.shape}") from None

    w, pw = bcast(weight, "weight"), bcast(pos_weight, "pos_weight")
    with np.errstate(all="ignore"):
        lw = (pw - 1.0) * t + 1.0
        e = np.exp(-np.abs(x))
        sig = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        loss_e = w * ((1.0 - t) * x + lw * (np.log1p(e) + np.maximum(-x, 0.0)))
        g_e = w * (lw * sig - pw * t)
    return _finish(a, np.broadcast_to(loss_e, a.shape), np.broadcast_to(g_e, a.shape), reduction, grad_scale, grad)


# --------------------------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------------------------

_M32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(counter, seed):
    """Philox4x32-10 of counters (counter lo, counter hi, 0, 0) with key (seed lo, seed hi).

    counter: uint64 array. Returns a (4, n) uint64 array of the 32-bit outputs."""
    counter = np.asarray(counter, dtype=np.uint64)
    x0, x1 = counter & _M32, counter >> np.uint64(32)
    x2 = np.zeros_like(x0)
    x3 = np.zeros_like(x0)
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * x0
        p1 = np.uint64(0xCD9E8D57) * x2
        x0, x1, x2, x3 = (p1 >> np.uint64(32)) ^ x1 ^ k0, p1 & _M32, (p0 >> np.uint64(32)) ^ x3 ^ k1, p0 & _M32
        k0 = (k0 + np.uint64(0x9E3779B9)) & _M32
        k1 = (k1 + np.uint64(0xBB67AE85)) & _M32
    return np.stack([x0, x1, x2, x3])


def _dropout_mask(n, p, seed):
    if not 0 <= seed < 2**64:
        raise ValueError("fastopt: seed must be in [0, 2**64)")
    groups = (n + 3) // 4
    r = philox4x32_10(np.arange(groups, dtype=np.uint64), seed).T.reshape(-1)[:n]  # lane i % 4 of group i // 4
    thresh = 2**32 if p >= 1 else int(p * 4294967296.0)
    return r >= np.uint64(thresh) if thresh < 2**32 else np.zeros(n, dtype=bool)


def dropout(x, p=0.5, *, seed, training=True):
    """y = x * mask / (1 - p) with the Philox mask (module docstring); training=False or p = 0:
    y = x, mask all True. Returns (y, mask), mask bool. 1 / (1 - p) is rounded to x's dtype
    first and a dropped element is x * 0 (NaN for NaN/inf), as torch."""
    x = _float(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"fastopt: p must be in [0, 1], got {p}")
    pe = p if training else 0.0
    mask = _dropout_mask(x.size, pe, int(seed)).reshape(x.shape)
    with np.errstate(all="ignore"):
        scale = x.dtype.type(1) / x.dtype.type(1.0 - pe)
        y = x * np.where(mask, scale, x.dtype.type(0))
    return y.astype(x.dtype), mask


def dropout_backward(grad_out, mask, p):
    """grad_x = grad_out * mask / (1 - p) (1 / (1 - p) rounded to the dtype)."""
    g = _float(grad_out, "grad_out")
    mask = np.asarray(mask)
    if mask.dtype.kind not in "bu" or mask.dtype.itemsize != 1:
        raise TypeError(f"fastopt: mask has dtype {mask.dtype}; expected bool or uint8")
    if mask.shape != g.shape:
        raise ValueError(f"fastopt: mask has shape {mask.shape} but grad_out has shape {g.shape}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"fastopt: p must be in [0, 1], got {p}")
    with np.errstate(all="ignore"):
        scale = g.dtype.type(1) / g.dtype.type(1.0 - p)
        return (g * np.where(mask != 0, scale, g.dtype.type(0))).astype(g.dtype)
