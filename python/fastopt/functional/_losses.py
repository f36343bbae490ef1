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
        The input.
    axis : int, default -1
        The axis to normalise along.
    out : ndarray, optional
        Where to write the result; may be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> fastopt.softmax(np.array([[0.0, 0.0], [1e4, -1e4]], dtype=np.float32))
    array([[0.5, 0.5],
           [1. , 0. ]], dtype=float32)
    """
    return _core.softmax(x, axis, out)


def log_softmax(x: ArrayLike, axis: int = -1, out: Out = None) -> np.ndarray:
    """Log-softmax along ``axis``: ``(x - max) - log(sum(exp(x - max)))``; never overflows.

    Parameters
    ----------
    x : array_like of float32 or float64
        The input.
    axis : int, default -1
        The axis to normalise along.
    out : ndarray, optional
        Where to write the result; may be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Notes
    -----
    float64 evaluates the log of a short or strided row's sum within 1.6 ULP (the C
    library's log for a long row).

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> fastopt.log_softmax(np.array([[1.0, 2.0, 3.0]], np.float32)).round(4)
    array([[-2.4076, -1.4076, -0.4076]], dtype=float32)
    """
    return _core.log_softmax(x, axis, out)


def softmax_backward(grad_out: ArrayLike, y: ArrayLike, axis: int = -1, out: Out = None) -> np.ndarray:
    """Vector-Jacobian product of softmax from its output ``y``:
    ``y * (grad_out - sum(grad_out * y, axis))`` (the sum in float64).

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to the softmax's output.
    y : array_like of float32 or float64
        The output of :func:`softmax` (y's shape is grad_out's).
    axis : int, default -1
        The axis the softmax ran along.
    out : ndarray, optional
        Where to write the gradient; may be ``grad_out`` or ``y`` itself.

    Returns
    -------
    ndarray
        The gradient with respect to softmax's input: ``out``, or a new array.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> y = fastopt.softmax(np.array([[1.0, 2.0, 3.0]], np.float32))
    >>> fastopt.softmax_backward(np.array([[1.0, 0.0, 0.0]], np.float32), y).round(4)
    array([[ 0.0819, -0.022 , -0.0599]], dtype=float32)
    """
    return _core.softmax_backward(grad_out, y, axis, out)


def log_softmax_backward(grad_out: ArrayLike, y: ArrayLike, axis: int = -1, out: Out = None) -> np.ndarray:
    """Vector-Jacobian product of log_softmax from its output ``y``:
    ``grad_out - exp(y) * sum(grad_out, axis)`` (the sum in float64).

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to the log-softmax's output.
    y : array_like of float32 or float64
        The output of :func:`log_softmax` (y's shape is grad_out's).
    axis : int, default -1
        The axis the log-softmax ran along.
    out : ndarray, optional
        Where to write the gradient; may be ``grad_out`` or ``y`` itself.

    Returns
    -------
    ndarray
        The gradient with respect to log_softmax's input: ``out``, or a new array.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> y = fastopt.log_softmax(np.array([[1.0, 2.0, 3.0]], np.float32))
    >>> fastopt.log_softmax_backward(np.array([[1.0, 0.0, 0.0]], np.float32), y).round(4)
    array([[ 0.91  , -0.2447, -0.6652]], dtype=float32)
    """
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
        Unnormalised scores, the class axis being axis 1 (axis 0 for shape ``(C,)``).
    target : array_like of int32/int64 class indices, or of class probabilities
        Indices of shape ``(N,)`` or ``(N, d1, ...)``, or probabilities of the logits' shape
        and dtype.
    weight : array_like, shape (C,), optional
        Per-class rescaling weight (class imbalance), logits' dtype.
    ignore_index : int, default -100
        Index targets equal to it contribute 0 and get a zero gradient.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the per-sample losses combine, as described above.
    label_smoothing : float in [0, 1], default 0
        ``eps`` above: the weight moved from the target to a uniform distribution.
    grad_scale : float, default 1
        Multiplies the gradient (the upstream gradient of the loss): the result is
        ``d(grad_scale * loss) / d logits`` with no extra pass.
    grad : bool, default True
        False: return only the loss and skip the gradient pass.
    out : ndarray, optional
        Where to write the gradient: the logits' shape and dtype, C-contiguous, aligned,
        writeable, overlapping no input.

    Returns
    -------
    loss : numpy scalar or ndarray
        The logits' dtype; an array of shape ``(N, d1, ...)`` for ``reduction='none'``.
    grad_logits : ndarray
        The gradient with respect to the logits; left out when ``grad=False``.

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
    >>> round(float(loss), 6), g.shape  # log(4)
    (1.386294, (2, 4))
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

    Parameters
    ----------
    log_probs : array_like of float32 or float64, shape (C,), (N, C) or (N, C, d1, ...)
        Log-probabilities, usually from :func:`log_softmax`.
    target : array_like of int32 or int64
        Class indices, shape ``(N,)`` or ``(N, d1, ...)``.
    weight : array_like, shape (C,), optional
        Per-class rescaling weight, log_probs' dtype.
    ignore_index : int, default -100
        Samples with this target contribute 0 and get a zero gradient.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        'none': one loss per sample, shape ``(N, d1, ...)``.
    grad_scale : float, default 1.0
        Multiplies the gradient: the result is ``d(grad_scale * loss) / d log_probs``.
    grad : bool, default True
        False: return only the loss and skip the gradient pass.
    out : ndarray, optional
        Where to write the gradient: log_probs' shape and dtype, C-contiguous, aligned,
        writeable, overlapping no input.

    Returns
    -------
    loss : numpy scalar or ndarray
        log_probs' dtype; an array for ``reduction='none'``.
    grad : ndarray
        The gradient with respect to log_probs; left out when ``grad=False``.

    Raises
    ------
    IndexError
        A target outside ``[0, C)`` that is not ``ignore_index``.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> log_probs = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7]], np.float32))
    >>> loss, g = fastopt.nll_loss(log_probs, np.array([0, 2]))
    >>> round(float(loss), 4)  # -(log(0.5) + log(0.7)) / 2
    0.5249
    >>> g
    array([[-0.5,  0. ,  0. ],
           [ 0. ,  0. , -0.5]], dtype=float32)
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
    """Mean squared error, as torch: ``(pred - target)**2``, gradient ``2 (pred - target)``.

    Parameters
    ----------
    pred : array_like of float32 or float64
        The predictions.
    target : array_like
        pred's shape and dtype (no broadcasting).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        'none': one loss per element; 'sum'; 'mean': the sum divided by the number of
        elements (NaN for an empty input, as torch).
    grad_scale : float, default 1.0
        Multiplies the gradient (the upstream gradient of the loss): the result is
        ``d(grad_scale * loss) / d pred`` with no extra pass.
    grad : bool, default True
        False: return only the loss and skip the gradient pass.
    out : ndarray, optional
        Where to write the gradient: pred's shape and dtype, C-contiguous, aligned,
        writeable, overlapping no input.

    Returns
    -------
    loss : numpy scalar or ndarray
        pred's dtype; an array of pred's shape for ``reduction='none'``.
    grad : ndarray
        The gradient with respect to pred (``out``, or a new array); left out when
        ``grad=False``.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> pred = np.array([1.0, 2.0, 4.0], np.float32)
    >>> target = np.array([1.5, 2.0, 2.0], np.float32)
    >>> loss, g = fastopt.mse_loss(pred, target)
    >>> round(float(loss), 4), g.round(4)  # (0.25 + 0 + 4) / 3
    (1.4167, array([-0.3333,  0.    ,  1.3333], dtype=float32))
    >>> fastopt.mse_loss(pred, target, reduction="none", grad=False)
    array([0.25, 0.  , 4.  ], dtype=float32)
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
    """Mean absolute error, as torch: ``|pred - target|``; gradient ``sign(pred - target)``.

    The gradient is 0 where pred and target are equal (torch).

    Parameters
    ----------
    pred : array_like of float32 or float64
        The predictions.
    target : array_like
        pred's shape and dtype (no broadcasting).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        'none': one loss per element; 'sum'; 'mean': the sum divided by the number of
        elements (NaN for an empty input, as torch).
    grad_scale : float, default 1.0
        Multiplies the gradient (the upstream gradient of the loss): the result is
        ``d(grad_scale * loss) / d pred`` with no extra pass.
    grad : bool, default True
        False: return only the loss and skip the gradient pass.
    out : ndarray, optional
        Where to write the gradient: pred's shape and dtype, C-contiguous, aligned,
        writeable, overlapping no input.

    Returns
    -------
    loss : numpy scalar or ndarray
        pred's dtype; an array of pred's shape for ``reduction='none'``.
    grad : ndarray
        The gradient with respect to pred (``out``, or a new array); left out when
        ``grad=False``.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> pred = np.array([1.0, 2.0, 4.0], np.float32)
    >>> target = np.array([1.5, 2.0, 2.0], np.float32)
    >>> loss, g = fastopt.l1_loss(pred, target)
    >>> round(float(loss), 4), g.round(4)
    (0.8333, array([-0.3333,  0.    ,  0.3333], dtype=float32))
    """
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
    ``sign(d)``.

    Parameters
    ----------
    pred : array_like of float32 or float64
        The predictions.
    target : array_like
        pred's shape and dtype (no broadcasting).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        'none': one loss per element; 'sum'; 'mean': the sum divided by the number of
        elements (NaN for an empty input, as torch).
    beta : float, default 1.0
        Where the loss turns from quadratic to linear; ``beta = 0`` is :func:`l1_loss`.
    grad_scale : float, default 1.0
        Multiplies the gradient (the upstream gradient of the loss): the result is
        ``d(grad_scale * loss) / d pred`` with no extra pass.
    grad : bool, default True
        False: return only the loss and skip the gradient pass.
    out : ndarray, optional
        Where to write the gradient: pred's shape and dtype, C-contiguous, aligned,
        writeable, overlapping no input.

    Returns
    -------
    loss : numpy scalar or ndarray
        pred's dtype; an array of pred's shape for ``reduction='none'``.
    grad : ndarray
        The gradient with respect to pred (``out``, or a new array); left out when
        ``grad=False``.

    Raises
    ------
    ValueError
        ``beta < 0``.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> pred = np.array([1.0, 2.0, 4.0], np.float32)
    >>> target = np.array([1.5, 2.0, 2.0], np.float32)
    >>> loss, g = fastopt.smooth_l1_loss(pred, target)
    >>> round(float(loss), 4), g.round(4)  # (0.125 + 0 + 1.5) / 3
    (0.5417, array([-0.1667,  0.    ,  0.3333], dtype=float32))
    """
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
    gradient ``clip(d, -delta, delta)``.

    Parameters
    ----------
    pred : array_like of float32 or float64
        The predictions.
    target : array_like
        pred's shape and dtype (no broadcasting).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        'none': one loss per element; 'sum'; 'mean': the sum divided by the number of
        elements (NaN for an empty input, as torch).
    delta : float, default 1.0
        Where the loss turns from quadratic to linear; must be > 0.
    grad_scale : float, default 1.0
        Multiplies the gradient (the upstream gradient of the loss): the result is
        ``d(grad_scale * loss) / d pred`` with no extra pass.
    grad : bool, default True
        False: return only the loss and skip the gradient pass.
    out : ndarray, optional
        Where to write the gradient: pred's shape and dtype, C-contiguous, aligned,
        writeable, overlapping no input.

    Returns
    -------
    loss : numpy scalar or ndarray
        pred's dtype; an array of pred's shape for ``reduction='none'``.
    grad : ndarray
        The gradient with respect to pred (``out``, or a new array); left out when
        ``grad=False``.

    Raises
    ------
    ValueError
        ``delta <= 0``.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> pred = np.array([1.0, 2.0, 4.0], np.float32)
    >>> target = np.array([1.5, 2.0, 2.0], np.float32)
    >>> loss, g = fastopt.huber_loss(pred, target, delta=2.0)
    >>> round(float(loss), 4), g.round(4)  # (0.125 + 0 + 2) / 3
    (0.7083, array([-0.1667,  0.    ,  0.6667], dtype=float32))
    """
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

    Parameters
    ----------
    logits : array_like of float32 or float64
        The logits x.
    target : array_like
        t: the logits' shape and dtype, usually in [0, 1].
    weight : array_like, optional
        w: a rescaling weight that broadcasts to the logits' shape (NumPy rules).
    pos_weight : array_like, optional
        pw: the positive-class weight, usually one per class along the last axis;
        broadcasts to the logits' shape.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        'none': one loss per element; 'mean': the sum divided by the number of elements.
    grad_scale : float, default 1.0
        Multiplies the gradient: the result is ``d(grad_scale * loss) / d logits``.
    grad : bool, default True
        False: return only the loss and skip the gradient pass.
    out : ndarray, optional
        Where to write the gradient: the logits' shape and dtype, C-contiguous, aligned,
        writeable, overlapping no input.

    Returns
    -------
    loss : numpy scalar or ndarray
        The logits' dtype; an array of their shape for ``reduction='none'``.
    grad : ndarray
        The gradient with respect to the logits; left out when ``grad=False``.

    Notes
    -----
    A broadcast ``weight`` or ``pos_weight`` is expanded to a full temporary array.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> logits = np.array([0.0, 2.0, -1.0], np.float32)
    >>> loss, g = fastopt.binary_cross_entropy_with_logits(logits, np.array([1.0, 0.0, 1.0], np.float32))
    >>> round(float(loss), 4), g.round(4)
    (1.3778, array([-0.1667,  0.2936, -0.2437], dtype=float32))
    """
    return _result(
        _core.binary_cross_entropy_with_logits(logits, target, weight, pos_weight, reduction, grad_scale, grad, out), grad
    )


def dropout(
    x: ArrayLike, p: float = 0.5, *, seed: int, training: bool = True, out: Out = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Inverted dropout, as ``torch.nn.functional.dropout``: ``y = x * mask / (1 - p)``.

    The mask comes from Philox4x32-10 keyed by ``seed`` with counter ``i // 4`` for element
    ``i`` (flat, C order): element i is kept when output lane ``i % 4`` is at least
    ``p * 2**32``. So the mask is reproducible for a seed and the same for any thread count;
    use a new seed per step.

    Parameters
    ----------
    x : array_like of float32 or float64
        The input.
    p : float, default 0.5
        The probability of dropping an element, in [0, 1]. ``p = 0`` keeps everything
        (``y = x``); ``p = 1`` drops everything (``y = x * 0``, as torch; a dropped NaN or
        inf gives NaN).
    seed : int
        The RNG key, an integer in [0, 2**64) (keyword only, required).
    training : bool, default True
        False keeps everything (``y = x``), as ``p = 0``.
    out : ndarray, optional
        Where to write y; may be ``x`` itself.

    Returns
    -------
    y : ndarray
        ``out``, or a new array of x's shape and dtype.
    mask : ndarray of bool
        x's shape, one byte per element (True = kept), to pass to :func:`dropout_backward`.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> y, mask = fastopt.dropout(np.ones(10_000, np.float32), p=0.25, seed=42)
    >>> np.unique(y)  # dropped, or kept and scaled by 1 / (1 - p)
    array([0.       , 1.3333334], dtype=float32)
    >>> bool(abs(mask.mean() - 0.75) < 0.02)
    True
    >>> bool((fastopt.dropout(np.ones(10_000, np.float32), p=0.25, seed=42)[1] == mask).all())
    True
    """
    y, mask = _core.dropout(x, p, seed, training, out)
    return y, mask


def dropout_backward(grad_out: ArrayLike, mask: ArrayLike, p: float, out: Out = None) -> np.ndarray:
    """Gradient of dropout: ``grad_out * mask / (1 - p)``.

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to dropout's output.
    mask : array_like of bool or uint8
        The mask :func:`dropout` returned (grad_out's shape).
    p : float
        The p passed to :func:`dropout`.
    out : ndarray, optional
        Where to write the gradient; may be ``grad_out`` itself.

    Returns
    -------
    ndarray
        The gradient with respect to dropout's input: ``out``, or a new array.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> mask = np.array([True, False, True])
    >>> fastopt.dropout_backward(np.ones(3, np.float32), mask, p=0.5)
    array([2., 0., 2.], dtype=float32)
    """
    return _core.dropout_backward(grad_out, mask, p, out)
