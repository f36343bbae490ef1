"""fastopt.reference: the plain NumPy definitions that fastopt's kernels are tested against.

Every function here has the signature of its ``fastopt.functional`` twin minus ``out=``, and
returns a new array of the input's shape and dtype. The code is written to be read: one
formula per line, computed in float64 and rounded once to the input dtype at the end, so a
float32 kernel is held to the float64 value rounded to float32.

Conventions shared by every function, and the places where they follow torch exactly:

* Only float32 and float64 are accepted (``TypeError`` otherwise); all array operands must
  have the same dtype and shape (``TypeError`` / ``ValueError``).
* Scalar parameters (``negative_slope``, ``alpha``, ``beta``, ``threshold``) are first rounded
  to the input dtype, as torch does (``Scalar.to<scalar_t>()``).
* Branch conditions compare exactly as torch's kernels do, so NaN takes the same branch as in
  torch (e.g. ``relu_backward`` passes the gradient through where ``x`` is NaN).
* Stable forms: sigmoid is evaluated with ``exp(-|x|)`` and never overflows; softplus uses
  ``max(z, 0) + log1p(exp(-|z|))``; the erf form of GELU uses ``erfc`` so that the left tail
  keeps its relative accuracy.
* Infinite inputs give what the formula gives in IEEE arithmetic, which is also what torch
  gives: e.g. ``silu(-inf)`` is ``-inf * 0 = NaN``. Finite inputs never produce NaN from an
  overflowed intermediate (see ``gelu_backward``).

Two deliberate differences from torch, both for finite inputs where torch returns NaN:
``softplus_backward`` with a threshold large enough that ``exp(beta * x)`` overflows (torch
computes ``z / (z + 1)``), and the float32 ``gelu_backward(approximate='tanh')`` for
``|x| > ~1.8e19`` (torch squares x in float32 and multiplies ``0 * inf``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "elu",
    "elu_backward",
    "gelu",
    "gelu_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "prelu",
    "prelu_backward",
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "silu",
    "silu_backward",
    "softplus",
    "softplus_backward",
    "tanh",
    "tanh_backward",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_TANH_COEFF = 0.044715

try:  # scipy is optional: it only makes the reference faster.
    from scipy.special import erfc as _erfc_impl
except ImportError:  # pragma: no cover - depends on the environment
    _erfc_scalar = np.frompyfunc(math.erfc, 1, 1)

    def _erfc_impl(x: np.ndarray) -> np.ndarray:
        return np.asarray(_erfc_scalar(x), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# helpers: argument checks, float64 views, the stable sigmoid
# --------------------------------------------------------------------------------------------


def _operands(*arrays):
    """Convert array-likes (no dtype change) and check dtype and shape agreement.

    Returns ``(dtype, float64 copies...)``.
    """
    arrs = [np.asarray(a) for a in arrays]
    dtype = arrs[0].dtype
    for a in arrs:
        if a.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"fastopt: unsupported dtype {a.dtype}; expected float32 or float64")
        if a.dtype != dtype:
            raise TypeError(f"fastopt: operands have different dtypes {dtype} and {a.dtype}")
        if a.shape != arrs[0].shape:
            raise ValueError(f"fastopt: operands have different shapes {arrs[0].shape} and {a.shape}")
    return (dtype, *(a.astype(np.float64) for a in arrs))


def _param(value, dtype) -> float:
    """A scalar hyper-parameter rounded to the input dtype, returned as a Python float."""
    return float(dtype.type(value))


def _result(value, dtype) -> np.ndarray:
    """Round the float64 result once to ``dtype`` (keeps 0-d results as 0-d arrays)."""
    return np.asarray(value, dtype=np.float64).astype(dtype)


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    """sigmoid(x) = 1 / (1 + exp(-x)), evaluated with e = exp(-|x|) so nothing overflows:
    x >= 0: 1 / (1 + e);  x < 0: e / (1 + e)."""
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _Phi(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF: Phi(x) = 0.5 * erfc(-x / sqrt(2)) (accurate in the left tail)."""
    return 0.5 * _erfc_impl(-x / _SQRT_2)


def _phi(x: np.ndarray) -> np.ndarray:
    """Standard normal density: phi(x) = exp(-x^2 / 2) / sqrt(2 pi)."""
    with np.errstate(all="ignore"):
        return np.exp(-0.5 * x * x) * _INV_SQRT_2PI


# --------------------------------------------------------------------------------------------
# forward
# --------------------------------------------------------------------------------------------


def sigmoid(x):
    """sigmoid(x) = 1 / (1 + exp(-x)).

    Stable for every x: sigmoid(+inf) = 1, sigmoid(-inf) = 0, NaN -> NaN.
    """
    dtype, x = _operands(x)
    return _result(_sigmoid64(x), dtype)


def tanh(x):
    """tanh(x). tanh(+-inf) = +-1, NaN -> NaN."""
    dtype, x = _operands(x)
    return _result(np.tanh(x), dtype)


def relu(x):
    """relu(x) = max(x, 0), written as torch's clamp_min: 0 if x < 0 else x.

    NaN -> NaN (NaN < 0 is false), and relu(-0.0) = -0.0 as in torch.
    """
    dtype, x = _operands(x)
    return _result(np.where(x < 0, 0.0, x), dtype)


def leaky_relu(x, negative_slope=0.01):
    """leaky_relu(x) = x if x > 0 else negative_slope * x. NaN -> NaN."""
    dtype, x = _operands(x)
    slope = _param(negative_slope, dtype)
    with np.errstate(all="ignore"):
        return _result(np.where(x > 0, x, slope * x), dtype)


def _prelu_weight(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """PReLU's weight shaped to broadcast against x.

    The channel axis is axis 1 when x.ndim >= 2; otherwise there is one channel. The weight
    must have 1 element (shared by every channel) or C = x.shape[1] elements.
    """
    w = weight.reshape(-1)
    if w.size == 1:
        return w.reshape(())
    if x.ndim >= 2 and w.size == x.shape[1]:
        return w.reshape((1, w.size) + (1,) * (x.ndim - 2))
    channels = x.shape[1] if x.ndim >= 2 else 1
    raise ValueError(
        f"fastopt: prelu weight has {w.size} elements; expected 1 or {channels} "
        f"(x.shape[1] of x with shape {x.shape})"
    )


def _prelu_operands(x, weight):
    x_arr, w_arr = np.asarray(x), np.asarray(weight)
    for a in (x_arr, w_arr):
        if a.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"fastopt: unsupported dtype {a.dtype}; expected float32 or float64")
    if w_arr.dtype != x_arr.dtype:
        raise TypeError(f"fastopt: operands have different dtypes {x_arr.dtype} and {w_arr.dtype}")
    return x_arr.dtype, x_arr.astype(np.float64), w_arr.astype(np.float64)


def prelu(x, weight):
    """prelu(x)[..., c, ...] = x if x > 0 else weight[c] * x, with c the index along axis 1.

    weight has 1 element or x.shape[1] elements (x.ndim >= 2); for x.ndim < 2 one element.
    NaN -> NaN.
    """
    dtype, x, weight = _prelu_operands(x, weight)
    w = _prelu_weight(x, weight)
    with np.errstate(all="ignore"):
        return _result(np.where(x > 0, x, w * x), dtype)


def softplus(x, beta=1.0, threshold=20.0):
    """softplus(x) = x if beta * x > threshold else log(1 + exp(beta * x)) / beta.

    As in torch, the condition ``beta * x > threshold`` is evaluated in the input dtype.
    The smooth branch is written stably, z = beta * x:
    ``log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))``.
    softplus(-inf) = 0, softplus(+inf) = +inf, NaN -> NaN.
    """
    dtype, x = _operands(x)
    beta, threshold = _param(beta, dtype), _param(threshold, dtype)
    with np.errstate(all="ignore"):
        linear = _softplus_linear(x, beta, threshold, dtype)
        z = beta * x
        smooth = (np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))) / beta
        return _result(np.where(linear, x, smooth), dtype)


def _softplus_linear(x, beta, threshold, dtype):
    """torch's branch condition ``x * beta > threshold``, computed in the input dtype."""
    with np.errstate(all="ignore"):
        return x.astype(dtype) * dtype.type(beta) > dtype.type(threshold)


def elu(x, alpha=1.0):
    """elu(x) = alpha * (exp(x) - 1) if x < 0 else x, with expm1 for accuracy near 0.

    elu(-inf) = -alpha, NaN -> NaN, and elu(+-0) = +-0 for every alpha, as in torch (which
    returns x itself at zero: alpha * expm1(-0.0) would be +0.0 for alpha < 0).
    """
    dtype, x = _operands(x)
    alpha = _param(alpha, dtype)
    with np.errstate(all="ignore"):
        return _result(np.where(x < 0, alpha * np.expm1(x), x), dtype)


def _check_approximate(approximate):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"fastopt: gelu approximate must be 'none' or 'tanh', got {approximate!r}")


def _gelu_tanh_inner(x):
    """u = sqrt(2 / pi) * (x + 0.044715 x^3)."""
    return _SQRT_2_OVER_PI * (x + _GELU_TANH_COEFF * x * x * x)


def gelu(x, approximate="none"):
    """GELU.

    approximate='none': gelu(x) = x * Phi(x), Phi(x) = 0.5 * erfc(-x / sqrt(2)).
    approximate='tanh': gelu(x) = 0.5 * x * (1 + tanh(u)), u = sqrt(2/pi) * (x + 0.044715 x^3),
    computed as the equal and stable x * sigmoid(2u).
    gelu(+inf) = +inf; gelu(-inf) = -inf * 0 = NaN (as torch); NaN -> NaN.
    Any other ``approximate``: ValueError.
    """
    _check_approximate(approximate)
    dtype, x = _operands(x)
    with np.errstate(all="ignore"):
        if approximate == "none":
            y = x * _Phi(x)
        else:
            y = x * _sigmoid64(2.0 * _gelu_tanh_inner(x))
    return _result(y, dtype)


def silu(x):
    """silu(x) = x * sigmoid(x). silu(+inf) = +inf, silu(-inf) = -inf * 0 = NaN (as torch)."""
    dtype, x = _operands(x)
    with np.errstate(all="ignore"):
        return _result(x * _sigmoid64(x), dtype)


# --------------------------------------------------------------------------------------------
# backward: each takes grad_out (gy) and the tensor torch saves for the op
# --------------------------------------------------------------------------------------------


def sigmoid_backward(grad_out, y):
    """grad_x = gy * y * (1 - y), where y = sigmoid(x) is the forward output."""
    dtype, gy, y = _operands(grad_out, y)
    with np.errstate(all="ignore"):
        return _result(gy * y * (1.0 - y), dtype)


def tanh_backward(grad_out, y):
    """grad_x = gy * (1 - y * y), where y = tanh(x) is the forward output."""
    dtype, gy, y = _operands(grad_out, y)
    with np.errstate(all="ignore"):
        return _result(gy * (1.0 - y * y), dtype)


def relu_backward(grad_out, x):
    """grad_x = 0 if x <= 0 else gy (torch's threshold_backward).

    relu'(0) = 0; where x is NaN the gradient passes through (NaN <= 0 is false).
    """
    dtype, gy, x = _operands(grad_out, x)
    return _result(np.where(x <= 0, 0.0, gy), dtype)


def leaky_relu_backward(grad_out, x, negative_slope=0.01):
    """grad_x = gy if x > 0 else gy * negative_slope (NaN x takes the slope branch)."""
    dtype, gy, x = _operands(grad_out, x)
    slope = _param(negative_slope, dtype)
    with np.errstate(all="ignore"):
        return _result(np.where(x > 0, gy, gy * slope), dtype)


def prelu_backward(grad_out, x, weight):
    """Returns (grad_x, grad_weight).

    grad_x = gy if x > 0 else weight[c] * gy.
    grad_weight[c] = sum over every axis but the channel axis of (0 if x > 0 else x * gy);
    the sum is over all elements when weight has one element. grad_weight has weight's shape
    and dtype; the sum is taken in float64 and rounded once.
    """
    x_dtype, x64, w64 = _prelu_operands(x, weight)
    dtype, gy, _ = _operands(grad_out, x)
    assert dtype == x_dtype
    w = _prelu_weight(x64, w64)
    with np.errstate(all="ignore"):
        grad_x = np.where(x64 > 0, gy, w * gy)
        terms = np.where(x64 > 0, 0.0, x64 * gy)
    if w.ndim == 0:
        grad_w = terms.sum()
    else:
        axes = tuple(i for i in range(x64.ndim) if i != 1)
        grad_w = terms.sum(axis=axes)
    grad_w = _result(grad_w, dtype).reshape(np.shape(weight))
    return _result(grad_x, dtype), grad_w


def softplus_backward(grad_out, x, beta=1.0, threshold=20.0):
    """grad_x = gy if beta * x > threshold else gy * sigmoid(beta * x).

    The condition is evaluated in the input dtype, as in softplus. The sigmoid is the stable
    one; torch writes it as z / (z + 1) with z = exp(beta * x), which is NaN where z
    overflows (only reachable with a threshold above ~88 for float32, ~709 for float64).
    fastopt returns gy there (the correct limit).
    """
    dtype, gy, x = _operands(grad_out, x)
    beta, threshold = _param(beta, dtype), _param(threshold, dtype)
    with np.errstate(all="ignore"):
        linear = _softplus_linear(x, beta, threshold, dtype)
        return _result(np.where(linear, gy, gy * _sigmoid64(beta * x)), dtype)


def elu_backward(grad_out, x, alpha=1.0):
    """grad_x = gy * alpha * exp(x) if x <= 0 else gy (NaN x passes gy, as torch)."""
    dtype, gy, x = _operands(grad_out, x)
    alpha = _param(alpha, dtype)
    with np.errstate(all="ignore"):
        return _result(np.where(x <= 0, gy * alpha * np.exp(x), gy), dtype)


def gelu_backward(grad_out, x, approximate="none"):
    """GELU's gradient.

    approximate='none': ``grad_x = gy * (Phi(x) + x * phi(x))``, ``phi(x) = exp(-x^2/2) / sqrt(2 pi)``.
    approximate='tanh': with ``s = sigmoid(2u)``, ``u = sqrt(2/pi) * (x + 0.044715 x^3)``,
    ``grad_x = gy * (s + x * 2 s (1 - s) * sqrt(2/pi) * (1 + 3 * 0.044715 x^2))``.
    (1 - s) is computed as sigmoid(-2u). The factor (1 + 3 * 0.044715 x^2) is evaluated with
    x^2 capped at the largest finite double: it only matters where s (1 - s) > 0 (``|x| < ~30``),
    and the cap keeps 0 * inf out of finite inputs. At x = +-inf both forms give NaN
    (inf * 0), as torch does.
    """
    _check_approximate(approximate)
    dtype, gy, x = _operands(grad_out, x)
    with np.errstate(all="ignore"):
        if approximate == "none":
            dydx = _Phi(x) + x * _phi(x)
        else:
            u = _gelu_tanh_inner(x)
            s = _sigmoid64(2.0 * u)
            one_minus_s = _sigmoid64(-2.0 * u)
            x_sq = np.minimum(x * x, np.finfo(np.float64).max)
            du_dx = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEFF * x_sq)
            dydx = s + x * (2.0 * s * one_minus_s) * du_dx
        return _result(gy * dydx, dtype)


def silu_backward(grad_out, x):
    """grad_x = gy * s * (1 + x * (1 - s)), s = sigmoid(x); (1 - s) computed as sigmoid(-x).

    At x = +-inf the formula gives 0 * inf = NaN, as torch does.
    """
    dtype, gy, x = _operands(grad_out, x)
    with np.errstate(all="ignore"):
        s = _sigmoid64(x)
        return _result(gy * s * (1.0 + x * _sigmoid64(-x)), dtype)
