"""fastopt.functional: the kernels, with NumPy-style signatures and docstrings.

Every function here is a thin wrapper over the compiled ``fastopt._core``: the argument
checks, the threads and the math all live in C++. Common rules:

* dtypes: float32 and float64. Anything else raises ``TypeError`` naming the dtype; all
  operands must share one dtype (no silent casts).
* Read-only inputs may be any array-like. A non-contiguous or misaligned input is copied
  first (its values are read, never written).
* ``out``: an ndarray of the result's shape and dtype, C-contiguous, aligned and writeable,
  or a ``TypeError``/``ValueError``; it is never silently replaced by a copy. ``out`` may be
  the input itself (in place) but must not partially overlap an input. The result is
  ``out`` (a new array when ``out`` is None).
* A call that raises has written nothing. The GIL is released while a kernel runs.
* float32 results are within a few ULP of the correctly rounded value (see the README for
  the measured bound per function); float64 uses the C library's transcendentals.
* Results are bitwise identical for any thread count.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _core

__all__ = [
    "sigmoid",
    "sigmoid_backward",
    "tanh",
    "tanh_backward",
    "relu",
    "relu_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "prelu",
    "prelu_backward",
    "softplus",
    "softplus_backward",
    "elu",
    "elu_backward",
    "gelu",
    "gelu_backward",
    "silu",
    "silu_backward",
]

ArrayLike = Any
Out = Optional[np.ndarray]


def sigmoid(x: ArrayLike, out: Out = None) -> np.ndarray:
    """Logistic sigmoid, ``1 / (1 + exp(-x))``, computed without overflow for any x.

    Parameters
    ----------
    x : array_like of float32 or float64
    out : ndarray, optional
        Where to write the result; may be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> fastopt.sigmoid(np.array([0.0, 1e4, -1e4], dtype=np.float32))
    array([0.5, 1. , 0. ], dtype=float32)
    """
    return _core.sigmoid(x, out)


def sigmoid_backward(grad_out: ArrayLike, y: ArrayLike, out: Out = None) -> np.ndarray:
    """Gradient of sigmoid from its output ``y``: ``grad_out * y * (1 - y)``."""
    return _core.sigmoid_backward(grad_out, y, out)


def tanh(x: ArrayLike, out: Out = None) -> np.ndarray:
    """Hyperbolic tangent (odd, saturating to +-1, ``tanh(-0) = -0``).

    float32: within 1 ULP of the correctly rounded value for every input (checked over all
    float32 values on each ISA).
    """
    return _core.tanh(x, out)


def tanh_backward(grad_out: ArrayLike, y: ArrayLike, out: Out = None) -> np.ndarray:
    """Gradient of tanh from its output ``y``: ``grad_out * (1 - y**2)``."""
    return _core.tanh_backward(grad_out, y, out)


def relu(x: ArrayLike, out: Out = None) -> np.ndarray:
    """``max(x, 0)``; NaN propagates, as in torch."""
    return _core.relu(x, out)


def relu_backward(grad_out: ArrayLike, x: ArrayLike, out: Out = None) -> np.ndarray:
    """``0 if x <= 0 else grad_out``: relu'(0) = 0 and a NaN input passes the gradient (torch)."""
    return _core.relu_backward(grad_out, x, out)


def leaky_relu(x: ArrayLike, negative_slope: float = 0.01, out: Out = None) -> np.ndarray:
    """``x if x > 0 else negative_slope * x``."""
    return _core.leaky_relu(x, out, negative_slope)


def leaky_relu_backward(
    grad_out: ArrayLike, x: ArrayLike, negative_slope: float = 0.01, out: Out = None
) -> np.ndarray:
    """``grad_out if x > 0 else negative_slope * grad_out``."""
    return _core.leaky_relu_backward(grad_out, x, out, negative_slope)


def prelu(x: ArrayLike, weight: ArrayLike, out: Out = None) -> np.ndarray:
    """Parametric ReLU, ``x if x > 0 else weight[c] * x``, as ``torch.nn.functional.prelu``.

    ``weight`` is 0-d or 1-D with either one element (shared by all of x) or one element per
    channel, the channel axis being axis 1 of x (x.ndim >= 2).
    """
    return _core.prelu(x, weight, out)


def prelu_backward(
    grad_out: ArrayLike, x: ArrayLike, weight: ArrayLike, out: Out = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Gradients of prelu: ``(grad_x, grad_weight)``, in one pass over memory.

    ``grad_x = grad_out if x > 0 else weight[c] * grad_out`` and
    ``grad_weight[c] = sum(x * grad_out where x <= 0)`` over every axis but the channel axis
    (over everything for a single weight). The sum is accumulated in float64 over fixed
    blocks, so it is bitwise identical for any thread count. grad_weight has weight's shape
    and is always a new array; ``out``, if given, receives grad_x (it may be grad_out or x
    itself, must not overlap weight) and is returned as the tuple's first element.
    """
    gx, gw = _core.prelu_backward(grad_out, x, weight, out)
    return gx, gw


def softplus(x: ArrayLike, beta: float = 1.0, threshold: float = 20.0, out: Out = None) -> np.ndarray:
    """``x if beta * x > threshold else log(1 + exp(beta * x)) / beta`` (torch's rule).

    Evaluated as ``(max(z, 0) + log1p(exp(-|z|))) / beta`` with ``z = beta * x``, so it never
    overflows, even with a large threshold.
    """
    return _core.softplus(x, out, beta, threshold)


def softplus_backward(
    grad_out: ArrayLike, x: ArrayLike, beta: float = 1.0, threshold: float = 20.0, out: Out = None
) -> np.ndarray:
    """``grad_out if beta * x > threshold else grad_out * sigmoid(beta * x)``.

    .. warning:: torch evaluates the sigmoid as ``exp(z) / (exp(z) + 1)``, which gives NaN
       once ``exp(z)`` overflows (only possible with ``threshold`` above ~88); fastopt's
       stable sigmoid gives the correct ``grad_out`` there. Elsewhere the two agree.
    """
    return _core.softplus_backward(grad_out, x, out, beta, threshold)


def elu(x: ArrayLike, alpha: float = 1.0, out: Out = None) -> np.ndarray:
    """``alpha * (exp(x) - 1) if x < 0 else x`` (expm1, accurate near 0; keeps the sign of a
    zero as torch does)."""
    return _core.elu(x, out, alpha)


def elu_backward(grad_out: ArrayLike, x: ArrayLike, alpha: float = 1.0, out: Out = None) -> np.ndarray:
    """From the input x: ``grad_out * alpha * exp(x) if x <= 0 else grad_out`` (torch)."""
    return _core.elu_backward(grad_out, x, out, alpha)


def _gelu_kernel(approximate: str, fn: str) -> str:
    if approximate == "none":
        return "gelu"
    if approximate == "tanh":
        return "gelu_tanh"
    raise ValueError(f"fastopt.{fn}: approximate must be 'none' or 'tanh', got {approximate!r}")


def gelu(x: ArrayLike, approximate: str = "none", out: Out = None) -> np.ndarray:
    """Gaussian error linear unit.

    ``approximate='none'``: ``x * Phi(x)``, Phi the standard normal CDF, computed from its
    lower tail ``Phi(-|x|) = 0.5 * erfc(|x| / sqrt(2))`` (accurate for negative x, where
    torch's ``0.5 * (1 + erf(x / sqrt(2)))`` cancels).
    ``approximate='tanh'``: ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))``,
    computed as ``x * sigmoid(2 * u)``, the same value without cancellation.
    """
    return getattr(_core, _gelu_kernel(approximate, "gelu"))(x, out)


def gelu_backward(grad_out: ArrayLike, x: ArrayLike, approximate: str = "none", out: Out = None) -> np.ndarray:
    """Gradient of gelu from its input x.

    ``'none'``: ``grad_out * (Phi(x) + x * phi(x))``, phi the standard normal density.
    ``'tanh'``: ``grad_out * (s + 2 x s (1 - s) u'(x))`` with ``s = sigmoid(2u)``.
    """
    return getattr(_core, _gelu_kernel(approximate, "gelu_backward") + "_backward")(grad_out, x, out)


def silu(x: ArrayLike, out: Out = None) -> np.ndarray:
    """Sigmoid linear unit (swish): ``x * sigmoid(x)``."""
    return _core.silu(x, out)


def silu_backward(grad_out: ArrayLike, x: ArrayLike, out: Out = None) -> np.ndarray:
    """``grad_out * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``."""
    return _core.silu_backward(grad_out, x, out)
