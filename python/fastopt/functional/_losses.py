"""Softmax, log-softmax, losses (value and gradient in one call) and dropout.

The rules of ``fastopt.functional`` hold here too (float32/float64, read-only inputs may be
converted, ``out=`` is never silently copied, a call that raises has written nothing, the GIL
is released). In addition:

* Every loss returns ``(loss, grad)``: ``loss`` is a NumPy scalar of the input dtype for
  ``reduction='mean'`` or ``'sum'``, an array for ``'none'``; ``grad`` is the gradient of
  ``grad_scale * loss`` (of ``grad_scale * loss.sum()`` for ``'none'``) with respect to the
  first argument. ``grad=False`` returns the loss alone and skips the gradient pass. ``out`` (keyword) is
  where to write the gradient: an ndarray of the first argument's shape and dtype,
  C-contiguous, aligned, writeable and overlapping no input (reusing it spares a large
  allocation per step).
* Loss sums are accumulated in float64 over fixed blocks combined in order: the loss is
  bitwise identical for any thread count, and within ~1e-7 relative (float32 inputs) of a
  float64 evaluation. Gradients are elementwise, within a few ULP of float64 math.
* Semantics, defaults and edge cases (NaN propagation, ``-inf`` logits, ignored targets)
  follow ``torch.nn.functional``.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Tuple, Union, overload

import numpy as np

from .. import _core

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

ArrayLike = Any
Out = Optional[np.ndarray]
Loss = Union[np.floating, np.ndarray]
LossResult = Union[Tuple[Loss, np.ndarray], Loss]


def _result(pair, grad: bool):
    loss, g = pair
    return (loss, g) if grad else loss


def softmax(x: ArrayLike, axis: int = -1, out: Out = None) -> np.ndarray:
    """Softmax along ``axis``: ``exp(x - max) / sum(exp(x - max))``.

    Any axis (the rows along it need not be contiguous). One read of each row computes its
    max and sum of exponentials (online), a second writes the result. A row containing NaN,
    ``+inf``, or only ``-inf`` gives NaN, as torch.

    Parameters
    ----------
    x : array_like of float32 or float64
    axis : int, default -1
    out : ndarray, optional
        Where to write the result; may be ``x`` itself.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> fastopt.softmax(np.array([[0.0, 0.0], [1e4, -1e4]], dtype=np.float32))
    array([[0.5, 0.5],
           [1. , 0. ]], dtype=float32)
    """
    return _core.softmax(x, axis, out)


def log_softmax(x: ArrayLike, axis: int = -1, out: Out = None) -> np.ndarray:
    """Log-softmax along ``axis``: ``(x - max) - log(sum(exp(x - max)))``; never overflows."""
    return _core.log_softmax(x, axis, out)


def softmax_backward(grad_out: ArrayLike, y: ArrayLike, axis: int = -1, out: Out = None) -> np.ndarray:
    """Vector-Jacobian product of softmax from its output ``y``:
    ``y * (grad_out - sum(grad_out * y, axis))`` (the sum in float64)."""
    return _core.softmax_backward(grad_out, y, axis, out)


def log_softmax_backward(grad_out: ArrayLike, y: ArrayLike, axis: int = -1, out: Out = None) -> np.ndarray:
    """Vector-Jacobian product of log_softmax from its output ``y``:
    ``grad_out - exp(y) * sum(grad_out, axis)`` (the sum in float64)."""
    return _core.log_softmax_backward(grad_out, y, axis, out)


@overload
def cross_entropy(
    logits: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
    ignore_index: int = ..., reduction: str = ..., label_smoothing: float = ...,
    grad_scale: float = ..., grad: Literal[True] = ..., out: Out = ...,
) -> Tuple[Loss, np.ndarray]: ...
@overload
def cross_entropy(
    logits: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
    ignore_index: int = ..., reduction: str = ..., label_smoothing: float = ...,
    grad_scale: float = ..., grad: Literal[False], out: Out = ...,
) -> Loss: ...
@overload
def cross_entropy(
    logits: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
    ignore_index: int = ..., reduction: str = ..., label_smoothing: float = ...,
    grad_scale: float = ..., grad: bool = ..., out: Out = ...,
) -> LossResult: ...
def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    grad_scale: float = 1.0,
    grad: bool = True,
    out: Out = None,
) -> LossResult:
    """Softmax cross-entropy and its gradient with respect to the logits, in one call.

    As ``torch.nn.functional.cross_entropy``. With ``lse = logsumexp(logits[i, :])``:

    * class-index targets ``t`` (int32/int64, shape ``(N,)`` or ``(N, d1, ...)``)::

          loss_i = (1 - eps) w[t] (lse - x[t]) + eps / C * sum_c w[c] (lse - x[c])

      samples with ``t == ignore_index`` contribute 0 (and get a zero gradient);
    * class-probability targets ``q`` (float, the logits' shape; ``ignore_index`` must stay
      -100, as torch)::

          loss_i = sum_c w[c] qs[c] (lse - x[c]),  qs = (1 - eps) q + eps / C

    with ``eps = label_smoothing`` and ``w = weight`` (ones if None). Reductions: ``'sum'``;
    ``'none'`` (one loss per sample, shape ``(N, d1, ...)``); ``'mean'``: the sum divided by
    ``sum(w[t])`` over the non-ignored samples (index targets) or by the number of samples
    (probability targets), exactly as torch.

    .. warning:: ``'mean'`` with every target ignored (or N = 0) is ``0 / 0 = NaN``, as in
       torch; the gradient is then all zeros.

    The logits are read twice (once for the row max and sum of exponentials, once to write
    the gradient) and the gradient written once.

    Parameters
    ----------
    logits : array_like of float32 or float64, shape (C,), (N, C) or (N, C, d1, ...)
    target : array_like of int32/int64 class indices, or of class probabilities
    weight : array_like, shape (C,), optional
        Per-class rescaling weight (class imbalance), logits' dtype.
    ignore_index : int, default -100
    reduction : {'mean', 'sum', 'none'}
    label_smoothing : float in [0, 1], default 0
    grad_scale : float, default 1
        Multiplies the gradient (the upstream gradient of the loss): the result is
        ``d(grad_scale * loss) / d logits`` with no extra pass.
    grad : bool, default True
        False: return only the loss.

    Returns
    -------
    (loss, grad_logits), or loss alone when ``grad=False``.

    Raises
    ------
    IndexError
        A target index outside ``[0, C)`` that is not ``ignore_index``, naming the first
        offending position and value (before anything is computed).
    TypeError, ValueError
        Float targets not of the logits' shape, other target dtypes, shape mismatches,
        a weight of the wrong length or dtype, label_smoothing outside [0, 1], an unknown
        reduction.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> loss, g = fastopt.cross_entropy(np.zeros((2, 4), np.float32), np.array([1, 3]))
    >>> float(loss)  # log(4)
    1.3862943649291992
    """
    return _result(
        _core.cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing, grad_scale, grad, out), grad
    )


@overload
def nll_loss(
    log_probs: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
    ignore_index: int = ..., reduction: str = ..., grad_scale: float = ...,
    grad: Literal[True] = ..., out: Out = ...,
) -> Tuple[Loss, np.ndarray]: ...
@overload
def nll_loss(
    log_probs: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
    ignore_index: int = ..., reduction: str = ..., grad_scale: float = ..., grad: Literal[False],
    out: Out = ...,
) -> Loss: ...
@overload
def nll_loss(
    log_probs: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
    ignore_index: int = ..., reduction: str = ..., grad_scale: float = ..., grad: bool = ...,
    out: Out = ...,
) -> LossResult: ...
def nll_loss(
    log_probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    grad_scale: float = 1.0,
    grad: bool = True,
    out: Out = None,
) -> LossResult:
    """Negative log-likelihood of class indices, as ``torch.nn.functional.nll_loss``.

    ``loss_i = -w[t] * log_probs[i, t]`` (0 where ``t == ignore_index``); ``'mean'`` divides by
    the sum of ``w[t]`` over non-ignored samples (NaN when that is 0, as torch). The
    gradient is ``-grad_scale * w[t]`` (divided as the loss for 'mean') at the target class
    and 0 elsewhere. Shapes, dtypes and errors as :func:`cross_entropy` (index targets only).
    """
    return _result(_core.nll_loss(log_probs, target, weight, ignore_index, reduction, grad_scale, grad, out), grad)


@overload
def mse_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., *, grad_scale: float = ...,
    grad: Literal[True] = ..., out: Out = ...,
) -> Tuple[Loss, np.ndarray]: ...
@overload
def mse_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., *, grad_scale: float = ...,
    grad: Literal[False], out: Out = ...,
) -> Loss: ...
@overload
def mse_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., *, grad_scale: float = ...,
    grad: bool = ..., out: Out = ...,
) -> LossResult: ...
def mse_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = "mean", *, grad_scale: float = 1.0, grad: bool = True, out: Out = None
) -> LossResult:
    """Mean squared error: ``(pred - target)**2``, gradient ``2 (pred - target)``.

    pred and target must have the same shape and dtype (no broadcasting). 'mean' divides by
    the number of elements (NaN for an empty input, as torch).
    """
    return _result(_core.mse_loss(pred, target, reduction, 1.0, grad_scale, grad, out), grad)


@overload
def l1_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., *, grad_scale: float = ...,
    grad: Literal[True] = ..., out: Out = ...,
) -> Tuple[Loss, np.ndarray]: ...
@overload
def l1_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., *, grad_scale: float = ...,
    grad: Literal[False], out: Out = ...,
) -> Loss: ...
@overload
def l1_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., *, grad_scale: float = ...,
    grad: bool = ..., out: Out = ...,
) -> LossResult: ...
def l1_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = "mean", *, grad_scale: float = 1.0, grad: bool = True, out: Out = None
) -> LossResult:
    """``|pred - target|``; gradient ``sign(pred - target)``, 0 where they are equal (torch)."""
    return _result(_core.l1_loss(pred, target, reduction, 1.0, grad_scale, grad, out), grad)


@overload
def smooth_l1_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., beta: float = ..., *,
    grad_scale: float = ..., grad: Literal[True] = ..., out: Out = ...,
) -> Tuple[Loss, np.ndarray]: ...
@overload
def smooth_l1_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., beta: float = ..., *,
    grad_scale: float = ..., grad: Literal[False], out: Out = ...,
) -> Loss: ...
@overload
def smooth_l1_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., beta: float = ..., *,
    grad_scale: float = ..., grad: bool = ..., out: Out = ...,
) -> LossResult: ...
def smooth_l1_loss(
    pred: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    beta: float = 1.0,
    *,
    grad_scale: float = 1.0,
    grad: bool = True,
    out: Out = None,
) -> LossResult:
    """Smooth L1, as torch: with ``d = pred - target``,
    ``0.5 d**2 / beta if |d| < beta else |d| - 0.5 beta``; gradient ``d / beta`` or
    ``sign(d)``. ``beta = 0`` is :func:`l1_loss`; ``beta < 0`` raises ValueError."""
    return _result(_core.smooth_l1_loss(pred, target, reduction, beta, grad_scale, grad, out), grad)


@overload
def huber_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., delta: float = ..., *,
    grad_scale: float = ..., grad: Literal[True] = ..., out: Out = ...,
) -> Tuple[Loss, np.ndarray]: ...
@overload
def huber_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., delta: float = ..., *,
    grad_scale: float = ..., grad: Literal[False], out: Out = ...,
) -> Loss: ...
@overload
def huber_loss(
    pred: ArrayLike, target: ArrayLike, reduction: str = ..., delta: float = ..., *,
    grad_scale: float = ..., grad: bool = ..., out: Out = ...,
) -> LossResult: ...
def huber_loss(
    pred: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    delta: float = 1.0,
    *,
    grad_scale: float = 1.0,
    grad: bool = True,
    out: Out = None,
) -> LossResult:
    """Huber loss, as torch: ``0.5 d**2 if |d| < delta else delta (|d| - 0.5 delta)``;
    gradient ``clip(d, -delta, delta)``. ``delta`` must be > 0."""
    return _result(_core.huber_loss(pred, target, reduction, delta, grad_scale, grad, out), grad)


@overload
def binary_cross_entropy_with_logits(
    logits: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
    pos_weight: Optional[ArrayLike] = ..., reduction: str = ..., grad_scale: float = ...,
    grad: Literal[True] = ..., out: Out = ...,
) -> Tuple[Loss, np.ndarray]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
    pos_weight: Optional[ArrayLike] = ..., reduction: str = ..., grad_scale: float = ...,
    grad: Literal[False], out: Out = ...,
) -> Loss: ...
@overload
def binary_cross_entropy_with_logits(
    logits: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
    pos_weight: Optional[ArrayLike] = ..., reduction: str = ..., grad_scale: float = ...,
    grad: bool = ..., out: Out = ...,
) -> LossResult: ...
def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = None,
    pos_weight: Optional[ArrayLike] = None,
    reduction: str = "mean",
    grad_scale: float = 1.0,
    grad: bool = True,
    out: Out = None,
) -> LossResult:
    """Sigmoid + binary cross-entropy, stable for any logit, as torch:

    ``loss = w * ((1 - t) x + lw * (log1p(exp(-|x|)) + max(-x, 0)))``, ``lw = (pw - 1) t + 1``,
    gradient ``w * (lw * sigmoid(x) - pw * t)``.

    ``weight`` and ``pos_weight`` (the positive-class weight, usually one per class along the
    last axis) broadcast to the logits' shape (NumPy rules); a broadcast one is expanded to a
    full temporary array. target has the logits' shape.
    """
    return _result(
        _core.binary_cross_entropy_with_logits(logits, target, weight, pos_weight, reduction, grad_scale, grad, out), grad
    )


def dropout(
    x: ArrayLike, p: float = 0.5, *, seed: int, training: bool = True, out: Out = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Inverted dropout, as ``torch.nn.functional.dropout``: ``y = x * mask / (1 - p)``.

    The mask comes from Philox4x32-10 keyed by ``seed`` (an integer in [0, 2**64)) with
    counter ``i // 4`` for element ``i`` (flat, C order): element i is kept when output lane
    ``i % 4`` is at least ``p * 2**32``. So the mask is reproducible for a seed and the same
    for any thread count; use a new seed per step. ``p = 0`` (or ``training=False``) keeps
    everything (``y = x``); ``p = 1`` drops everything (``y = x * 0``, as torch; a dropped
    NaN or inf gives NaN).

    Returns
    -------
    (y, mask)
        ``y`` is ``out`` (or a new array); ``mask`` is a ``bool`` array of x's shape, one byte
        per element (True = kept), to pass to :func:`dropout_backward`.
    """
    y, mask = _core.dropout(x, p, seed, training, out)
    return y, mask


def dropout_backward(grad_out: ArrayLike, mask: ArrayLike, p: float, out: Out = None) -> np.ndarray:
    """Gradient of dropout: ``grad_out * mask / (1 - p)`` (mask: bool or uint8, as returned
    by :func:`dropout`)."""
    return _core.dropout_backward(grad_out, mask, p, out)
