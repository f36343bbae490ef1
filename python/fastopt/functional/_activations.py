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
* Accuracy: each function's Notes give its measured float32 bound (the largest error in ULP
  against the float64 result rounded to float32, on every ISA). float64 kernels use their own
  exp (0.93 ULP), tanh (1.45 ULP), expm1 (1.1 ULP) and log(1 + e) (1.6 ULP), written so
  their loops vectorize. Backward kernels are products of these terms, tested to a few
  float32 ULP relative (with an absolute floor near zero crossings).
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
        The input.
    out : ndarray, optional
        Where to write the result (x's shape and dtype, C-contiguous, aligned, writeable); may
        be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Notes
    -----
    float32: within 2 ULP of the correctly rounded value (measured on every ISA).

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> fastopt.sigmoid(np.array([0.0, 1e4, -1e4], dtype=np.float32))
    array([0.5, 1. , 0. ], dtype=float32)
    """
    return _core.sigmoid(x, out)


def sigmoid_backward(grad_out: ArrayLike, y: ArrayLike, out: Out = None) -> np.ndarray:
    """Gradient of sigmoid from its output ``y``: ``grad_out * y * (1 - y)``.

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to the forward's output.
    y : array_like of float32 or float64
        The output of :func:`sigmoid` (any y follows the formula).
    out : ndarray, optional
        Where to write the gradient (grad_out's shape and dtype, C-contiguous, aligned,
        writeable); may be ``grad_out`` or the other input itself.

    Returns
    -------
    ndarray
        The gradient with respect to x: ``out``, or a new array.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> y = fastopt.sigmoid(x)
    >>> fastopt.sigmoid_backward(np.ones_like(y), y).round(4)
    array([0.105 , 0.25  , 0.0452], dtype=float32)
    """
    return _core.sigmoid_backward(grad_out, y, out)


def tanh(x: ArrayLike, out: Out = None) -> np.ndarray:
    """Hyperbolic tangent (odd, saturating to +-1, ``tanh(-0) = -0``).

    Parameters
    ----------
    x : array_like of float32 or float64
        The input.
    out : ndarray, optional
        Where to write the result (x's shape and dtype, C-contiguous, aligned, writeable); may
        be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Notes
    -----
    float32: within 1 ULP of the correctly rounded value for every input (checked over all
    float32 values on each ISA).

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.tanh(x).round(4)
    array([-0.964 ,  0.    ,  0.9951], dtype=float32)
    """
    return _core.tanh(x, out)


def tanh_backward(grad_out: ArrayLike, y: ArrayLike, out: Out = None) -> np.ndarray:
    """Gradient of tanh from its output ``y``: ``grad_out * (1 - y**2)``.

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to the forward's output.
    y : array_like of float32 or float64
        The output of :func:`tanh`.
    out : ndarray, optional
        Where to write the gradient (grad_out's shape and dtype, C-contiguous, aligned,
        writeable); may be ``grad_out`` or the other input itself.

    Returns
    -------
    ndarray
        The gradient with respect to x: ``out``, or a new array.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> y = fastopt.tanh(x)
    >>> fastopt.tanh_backward(np.ones_like(y), y).round(4)
    array([0.0707, 1.    , 0.0099], dtype=float32)
    """
    return _core.tanh_backward(grad_out, y, out)


def relu(x: ArrayLike, out: Out = None) -> np.ndarray:
    """Rectified linear unit, ``max(x, 0)``; NaN propagates, as in torch.

    Parameters
    ----------
    x : array_like of float32 or float64
        The input.
    out : ndarray, optional
        Where to write the result (x's shape and dtype, C-contiguous, aligned, writeable); may
        be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Notes
    -----
    Exact.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.relu(x)
    array([0., 0., 3.], dtype=float32)
    """
    return _core.relu(x, out)


def relu_backward(grad_out: ArrayLike, x: ArrayLike, out: Out = None) -> np.ndarray:
    """Gradient of relu from its input: ``0 if x <= 0 else grad_out``.

    relu'(0) = 0 and a NaN input passes the gradient, as in torch.

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to the forward's output.
    x : array_like of float32 or float64
        The forward's input.
    out : ndarray, optional
        Where to write the gradient (grad_out's shape and dtype, C-contiguous, aligned,
        writeable); may be ``grad_out`` or the other input itself.

    Returns
    -------
    ndarray
        The gradient with respect to x: ``out``, or a new array.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.relu_backward(np.ones_like(x), x)
    array([0., 0., 1.], dtype=float32)
    """
    return _core.relu_backward(grad_out, x, out)


def leaky_relu(x: ArrayLike, negative_slope: float = 0.01, out: Out = None) -> np.ndarray:
    """Leaky ReLU, ``x if x > 0 else negative_slope * x``.

    Parameters
    ----------
    x : array_like of float32 or float64
        The input.
    negative_slope : float, default 0.01
        The slope for x <= 0.
    out : ndarray, optional
        Where to write the result (x's shape and dtype, C-contiguous, aligned, writeable); may
        be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Notes
    -----
    Exact: the product is correctly rounded.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.leaky_relu(x, negative_slope=0.1)
    array([-0.2,  0. ,  3. ], dtype=float32)
    """
    return _core.leaky_relu(x, out, negative_slope)


def leaky_relu_backward(
    grad_out: ArrayLike, x: ArrayLike, negative_slope: float = 0.01, out: Out = None
) -> np.ndarray:
    """Gradient of leaky_relu from its input: ``grad_out if x > 0 else negative_slope * grad_out``.

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to the forward's output.
    x : array_like of float32 or float64
        The forward's input.
    negative_slope : float, default 0.01
        As passed to :func:`leaky_relu`.
    out : ndarray, optional
        Where to write the gradient (grad_out's shape and dtype, C-contiguous, aligned,
        writeable); may be ``grad_out`` or the other input itself.

    Returns
    -------
    ndarray
        The gradient with respect to x: ``out``, or a new array.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.leaky_relu_backward(np.ones_like(x), x, negative_slope=0.1)
    array([0.1, 0.1, 1. ], dtype=float32)
    """
    return _core.leaky_relu_backward(grad_out, x, out, negative_slope)


def prelu(x: ArrayLike, weight: ArrayLike, out: Out = None) -> np.ndarray:
    """Parametric ReLU, ``x if x > 0 else weight[c] * x``, as ``torch.nn.functional.prelu``.

    Parameters
    ----------
    x : array_like of float32 or float64
        The input.
    weight : array_like, x's dtype
        0-d or 1-D with either one element (shared by all of x) or one element per channel,
        the channel axis being axis 1 of x (x.ndim >= 2).
    out : ndarray, optional
        Where to write the result (x's shape and dtype, C-contiguous, aligned, writeable); may
        be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Notes
    -----
    Exact: the product is correctly rounded.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([[-1.0, 2.0], [-3.0, 4.0]], np.float32)
    >>> fastopt.prelu(x, np.array([0.25, 0.5], np.float32))  # one weight per column
    array([[-0.25,  2.  ],
           [-0.75,  4.  ]], dtype=float32)
    """
    return _core.prelu(x, weight, out)


def prelu_backward(
    grad_out: ArrayLike, x: ArrayLike, weight: ArrayLike, out: Out = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Gradients of prelu: ``(grad_x, grad_weight)``, in one pass over memory.

    ``grad_x = grad_out if x > 0 else weight[c] * grad_out`` and
    ``grad_weight[c] = sum(x * grad_out where x <= 0)`` over every axis but the channel axis
    (over everything for a single weight).

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to the forward's output.
    x : array_like of float32 or float64
        The forward's input.
    weight : array_like, x's dtype
        As passed to :func:`prelu`.
    out : ndarray, optional
        Where to write grad_x (x's shape and dtype, C-contiguous, aligned, writeable); it may
        be grad_out or x itself, and must not overlap weight.

    Returns
    -------
    grad_x : ndarray
        ``out``, or a new array of x's shape.
    grad_weight : ndarray
        Always a new array, of weight's shape.

    Notes
    -----
    The sum is accumulated in float64 over fixed blocks, so it is bitwise identical for any
    thread count.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([[-1.0, 2.0], [-3.0, 4.0]], np.float32)
    >>> gx, gw = fastopt.prelu_backward(np.ones_like(x), x, np.array([0.25, 0.5], np.float32))
    >>> gx
    array([[0.25, 1.  ],
           [0.25, 1.  ]], dtype=float32)
    >>> gw  # column 0: -1 + -3
    array([-4.,  0.], dtype=float32)
    """
    gx, gw = _core.prelu_backward(grad_out, x, weight, out)
    return gx, gw


def softplus(x: ArrayLike, beta: float = 1.0, threshold: float = 20.0, out: Out = None) -> np.ndarray:
    """Softplus, ``x if beta * x > threshold else log(1 + exp(beta * x)) / beta`` (torch's rule).

    Evaluated as ``(max(z, 0) + log1p(exp(-|z|))) / beta`` with ``z = beta * x``, so it never
    overflows, even with a large threshold.

    Parameters
    ----------
    x : array_like of float32 or float64
        The input.
    beta : float, default 1.0
        The sharpness.
    threshold : float, default 20.0
        Above ``beta * x > threshold`` the result is x itself.
    out : ndarray, optional
        Where to write the result (x's shape and dtype, C-contiguous, aligned, writeable); may
        be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Notes
    -----
    float32, beta = 1: within 2 ULP of the correctly rounded value (every float32 in
    [-110, 20] checked). A beta that is not a power of two loses about ``0.75 |beta x|``
    ULP more, since ``beta * x`` is rounded (as in torch), plus up to 1 ULP because the
    result is multiplied by ``1 / beta`` where torch divides.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.softplus(x).round(4)
    array([0.1269, 0.6931, 3.0486], dtype=float32)
    """
    return _core.softplus(x, out, beta, threshold)


def softplus_backward(
    grad_out: ArrayLike, x: ArrayLike, beta: float = 1.0, threshold: float = 20.0, out: Out = None
) -> np.ndarray:
    """Gradient of softplus from its input:
    ``grad_out if beta * x > threshold else grad_out * sigmoid(beta * x)``.

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to the forward's output.
    x : array_like of float32 or float64
        The forward's input.
    beta : float, default 1.0
        As passed to :func:`softplus`.
    threshold : float, default 20.0
        As passed to :func:`softplus`.
    out : ndarray, optional
        Where to write the gradient (grad_out's shape and dtype, C-contiguous, aligned,
        writeable); may be ``grad_out`` or the other input itself.

    Returns
    -------
    ndarray
        The gradient with respect to x: ``out``, or a new array.

    Warnings
    --------
    torch evaluates the sigmoid as ``exp(z) / (exp(z) + 1)``, which gives NaN once
    ``exp(z)`` overflows (only possible with ``threshold`` above ~88); fastopt's stable
    sigmoid gives the correct ``grad_out`` there. Elsewhere the two agree.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.softplus_backward(np.ones_like(x), x).round(4)
    array([0.1192, 0.5   , 0.9526], dtype=float32)
    """
    return _core.softplus_backward(grad_out, x, out, beta, threshold)


def elu(x: ArrayLike, alpha: float = 1.0, out: Out = None) -> np.ndarray:
    """Exponential linear unit: ``alpha * (exp(x) - 1) if x < 0 else x``.

    Computed with expm1 (accurate near 0); keeps the sign of a zero as torch does.

    Parameters
    ----------
    x : array_like of float32 or float64
        The input.
    alpha : float, default 1.0
        The value the result tends to, times -1, as x goes to -inf.
    out : ndarray, optional
        Where to write the result (x's shape and dtype, C-contiguous, aligned, writeable); may
        be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Notes
    -----
    float32: within 1 ULP of the correctly rounded value.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.elu(x).round(4)
    array([-0.8647,  0.    ,  3.    ], dtype=float32)
    """
    return _core.elu(x, out, alpha)


def elu_backward(grad_out: ArrayLike, x: ArrayLike, alpha: float = 1.0, out: Out = None) -> np.ndarray:
    """Gradient of elu from its input: ``grad_out * alpha * exp(x) if x <= 0 else grad_out`` (torch).

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to the forward's output.
    x : array_like of float32 or float64
        The forward's input.
    alpha : float, default 1.0
        As passed to :func:`elu`.
    out : ndarray, optional
        Where to write the gradient (grad_out's shape and dtype, C-contiguous, aligned,
        writeable); may be ``grad_out`` or the other input itself.

    Returns
    -------
    ndarray
        The gradient with respect to x: ``out``, or a new array.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.elu_backward(np.ones_like(x), x).round(4)
    array([0.1353, 1.    , 1.    ], dtype=float32)
    """
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

    Parameters
    ----------
    x : array_like of float32 or float64
        The input.
    approximate : {'none', 'tanh'}, default 'none'
        The exact form or torch's tanh approximation.
    out : ndarray, optional
        Where to write the result (x's shape and dtype, C-contiguous, aligned, writeable); may
        be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Raises
    ------
    ValueError
        ``approximate`` is neither 'none' nor 'tanh'.

    Notes
    -----
    float32, measured over every float32: ``'none'`` within 10 ULP (11 on the generic
    build) of the correctly rounded value, the worst near x = -13.09 where Phi(x) is
    subnormal; 6 ULP (8 generic) wherever the result is at least 2**-100. ``'tanh'``:
    185 ULP (250 generic) near x = -10, where the rounded argument u is amplified by
    exp(2u); 39 ULP (42 generic) for x >= -5. Where the result is zero or subnormal the
    absolute error is below 1e-43. float64: within 3 ULP wherever Phi(x) is a normal number.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.gelu(x).round(4)
    array([-0.0455,  0.    ,  2.996 ], dtype=float32)
    >>> fastopt.gelu(x, approximate="tanh").round(4)
    array([-0.0454,  0.    ,  2.9964], dtype=float32)
    """
    return getattr(_core, _gelu_kernel(approximate, "gelu"))(x, out)


def gelu_backward(grad_out: ArrayLike, x: ArrayLike, approximate: str = "none", out: Out = None) -> np.ndarray:
    """Gradient of gelu from its input x.

    ``'none'``: ``grad_out * (Phi(x) + x * phi(x))``, phi the standard normal density.
    ``'tanh'``: ``grad_out * (s + 2 x s (1 - s) u'(x))`` with ``s = sigmoid(2u)``.

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to the forward's output.
    x : array_like of float32 or float64
        The forward's input.
    approximate : {'none', 'tanh'}, default 'none'
        As passed to :func:`gelu`.
    out : ndarray, optional
        Where to write the gradient (grad_out's shape and dtype, C-contiguous, aligned,
        writeable); may be ``grad_out`` or the other input itself.

    Returns
    -------
    ndarray
        The gradient with respect to x: ``out``, or a new array.

    Raises
    ------
    ValueError
        ``approximate`` is neither 'none' nor 'tanh'.

    Notes
    -----
    float32 ``'none'``: within 5.1 ULP (5.4 generic) of ``|Phi(x)| + |x phi(x)|``, the size
    of its two terms, over every float32 (a relative bound cannot hold where they cancel,
    near x = -0.7518).

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.gelu_backward(np.ones_like(x), x).round(4)
    array([-0.0852,  0.5   ,  1.0119], dtype=float32)
    """
    return getattr(_core, _gelu_kernel(approximate, "gelu_backward") + "_backward")(grad_out, x, out)


def silu(x: ArrayLike, out: Out = None) -> np.ndarray:
    """Sigmoid linear unit (swish): ``x * sigmoid(x)``.

    Parameters
    ----------
    x : array_like of float32 or float64
        The input.
    out : ndarray, optional
        Where to write the result (x's shape and dtype, C-contiguous, aligned, writeable); may
        be ``x`` itself.

    Returns
    -------
    ndarray
        ``out``, or a new array of x's shape and dtype.

    Notes
    -----
    float32: within 3 ULP of the correctly rounded value wherever the result is at least
    2**-100; up to 47 ULP for x < -87.3, where sigmoid(x) is subnormal.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.silu(x).round(4)
    array([-0.2384,  0.    ,  2.8577], dtype=float32)
    """
    return _core.silu(x, out)


def silu_backward(grad_out: ArrayLike, x: ArrayLike, out: Out = None) -> np.ndarray:
    """Gradient of silu from its input: ``grad_out * s * (1 + x * (1 - s))``, ``s = sigmoid(x)``.

    Parameters
    ----------
    grad_out : array_like of float32 or float64
        The gradient with respect to the forward's output.
    x : array_like of float32 or float64
        The forward's input.
    out : ndarray, optional
        Where to write the gradient (grad_out's shape and dtype, C-contiguous, aligned,
        writeable); may be ``grad_out`` or the other input itself.

    Returns
    -------
    ndarray
        The gradient with respect to x: ``out``, or a new array.

    Examples
    --------
    >>> import numpy as np, fastopt
    >>> x = np.array([-2.0, 0.0, 3.0], np.float32)
    >>> fastopt.silu_backward(np.ones_like(x), x).round(4)
    array([-0.0908,  0.5   ,  1.0881], dtype=float32)
    """
    return _core.silu_backward(grad_out, x, out)
