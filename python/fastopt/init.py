"""Weight initialisation for NumPy trainers, with torch.nn.init's fan and gain rules.

Every initialiser fills a NumPy array in place and returns it. Randomness comes from a
``numpy.random.Generator`` passed as ``rng=`` (``numpy.random.default_rng()`` when omitted),
so a seeded generator gives a reproducible model. The values are drawn in float64 and
rounded to the array's dtype. torch's rules, exactly:

* ``fan_in = shape[1] * prod(shape[2:])``, ``fan_out = shape[0] * prod(shape[2:])`` (a Linear
  weight is ``(out_features, in_features)``, a conv weight ``(out, in, *kernel)``); arrays of
  fewer than 2 dimensions have no fans (``ValueError``, as torch).
* ``calculate_gain``: linear / conv / sigmoid 1, tanh 5/3, relu sqrt(2),
  leaky_relu sqrt(2 / (1 + slope^2)) (slope 0.01 by default), selu 3/4.
* ``xavier_uniform_``: U(-a, a), ``a = gain * sqrt(6 / (fan_in + fan_out))``;
  ``xavier_normal_``: N(0, std^2), ``std = gain * sqrt(2 / (fan_in + fan_out))``.
* ``kaiming_uniform_``: U(-b, b), ``b = gain * sqrt(3 / fan)``; ``kaiming_normal_``: N(0, std^2),
  ``std = gain / sqrt(fan)``, with ``fan`` per ``mode`` and ``gain = calculate_gain(nonlinearity, a)``.
  torch's defaults (``a=0, mode='fan_in', nonlinearity='leaky_relu'``) are kept, as is
  torch's Linear default init: ``kaiming_uniform_(w, a=sqrt(5))``.
"""

from __future__ import annotations

import math
import warnings
from typing import Optional, Tuple

import numpy as np

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d")


def _array(a, fn: str) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"fastopt.init.{fn}: expected a numpy.ndarray (filled in place), got {type(a).__name__}")
    if not a.flags.writeable:
        raise ValueError(f"fastopt.init.{fn}: the array is read-only")
    if a.dtype.kind not in "fV":  # float, or ml_dtypes' bfloat16
        raise TypeError(f"fastopt.init.{fn}: expected a floating-point array, got dtype {a.dtype}")
    return a


def _rng(rng: Optional[np.random.Generator]) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    linear, conv and sigmoid 1; tanh 5/3; relu sqrt(2); leaky_relu
    ``sqrt(2 / (1 + negative_slope**2))``; selu 3/4.

    Parameters
    ----------
    nonlinearity : str
        'linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d',
        'conv_transpose3d', 'sigmoid', 'tanh', 'relu', 'leaky_relu' or 'selu'.
    param : float, optional
        leaky_relu's negative slope (None: 0.01).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        An unknown nonlinearity, or a param that is not a number.

    Examples
    --------
    >>> from fastopt import init
    >>> init.calculate_gain("tanh"), round(init.calculate_gain("leaky_relu", 0.2), 4)
    (1.6666666666666667, 1.3868)
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(shape: Tuple[int, ...]) -> Tuple[int, int]:
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape: Tuple[int, ...], mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def _fill(a: np.ndarray, values: np.ndarray) -> np.ndarray:
    a[...] = values.astype(a.dtype, copy=False) if a.dtype.kind == "V" else values
    return a


def uniform_(array: np.ndarray, a: float = 0.0, b: float = 1.0, *,
             rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Fill ``array`` with values drawn from the uniform distribution U(a, b).

    Parameters
    ----------
    array : ndarray
        A writeable floating-point array (float16/32/64 or ml_dtypes' bfloat16), filled in
        place.
    a : float, default 0.0
        The lower bound.
    b : float, default 1.0
        The upper bound.
    rng : numpy.random.Generator, optional
        The source of randomness; None: a fresh ``numpy.random.default_rng()``.

    Returns
    -------
    ndarray
        ``array`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt import init
    >>> x = init.uniform_(np.empty(1000, np.float32), -0.5, 0.5, rng=np.random.default_rng(0))
    >>> bool(x.min() >= -0.5 and x.max() < 0.5), x.dtype
    (True, dtype('float32'))
    """
    _array(array, "uniform_")
    return _fill(array, _rng(rng).uniform(a, b, array.shape))


def normal_(array: np.ndarray, mean: float = 0.0, std: float = 1.0, *,
            rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Fill ``array`` with values drawn from the normal distribution N(mean, std^2).

    Parameters
    ----------
    array : ndarray
        A writeable floating-point array (float16/32/64 or ml_dtypes' bfloat16), filled in
        place.
    mean : float, default 0.0
        The mean.
    std : float, default 1.0
        The standard deviation.
    rng : numpy.random.Generator, optional
        The source of randomness; None: a fresh ``numpy.random.default_rng()``.

    Returns
    -------
    ndarray
        ``array`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt import init
    >>> x = init.normal_(np.empty(100_000), 2.0, 0.5, rng=np.random.default_rng(0))
    >>> round(float(x.mean()), 1), round(float(x.std()), 1)
    (2.0, 0.5)
    """
    _array(array, "normal_")
    return _fill(array, _rng(rng).normal(mean, std, array.shape))


def constant_(array: np.ndarray, val: float) -> np.ndarray:
    """Fill ``array`` with ``val``.

    Parameters
    ----------
    array : ndarray
        A writeable floating-point array (float16/32/64 or ml_dtypes' bfloat16), filled in
        place.
    val : float
        The value.

    Returns
    -------
    ndarray
        ``array`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt import init
    >>> init.constant_(np.empty(3, np.float32), 0.25)
    array([0.25, 0.25, 0.25], dtype=float32)
    """
    _array(array, "constant_")[...] = val
    return array


def zeros_(array: np.ndarray) -> np.ndarray:
    """Fill ``array`` with 0.

    Parameters
    ----------
    array : ndarray
        A writeable floating-point array (float16/32/64 or ml_dtypes' bfloat16), filled in
        place.

    Returns
    -------
    ndarray
        ``array`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt import init
    >>> init.zeros_(np.empty(3))
    array([0., 0., 0.])
    """
    return constant_(array, 0.0)


def ones_(array: np.ndarray) -> np.ndarray:
    """Fill ``array`` with 1.

    Parameters
    ----------
    array : ndarray
        A writeable floating-point array (float16/32/64 or ml_dtypes' bfloat16), filled in
        place.

    Returns
    -------
    ndarray
        ``array`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt import init
    >>> init.ones_(np.empty(3))
    array([1., 1., 1.])
    """
    return constant_(array, 1.0)


def xavier_uniform_(array: np.ndarray, gain: float = 1.0, *,
                    rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Parameters
    ----------
    array : ndarray
        A writeable floating-point array (float16/32/64 or ml_dtypes' bfloat16), filled in
        place.
    gain : float, default 1.0
        A scaling factor, e.g. :func:`calculate_gain` of the layer's nonlinearity.
    rng : numpy.random.Generator, optional
        The source of randomness; None: a fresh ``numpy.random.default_rng()``.

    Returns
    -------
    ndarray
        ``array`` itself.

    Raises
    ------
    ValueError
        An array of fewer than 2 dimensions (it has no fans, as torch).
    TypeError
        Not a floating-point ndarray.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt import init
    >>> w = np.empty((256, 128), np.float32)  # a Linear layer's weight: (out, in)
    >>> _ = init.xavier_uniform_(w, rng=np.random.default_rng(0))
    >>> bound = (6 / (128 + 256)) ** 0.5
    >>> bool(np.abs(w).max() <= bound), round(bound, 4)
    (True, 0.125)
    """
    _array(array, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(array.shape)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(array, -a, a, rng=rng)


def xavier_normal_(array: np.ndarray, gain: float = 1.0, *,
                   rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Parameters
    ----------
    array : ndarray
        A writeable floating-point array (float16/32/64 or ml_dtypes' bfloat16), filled in
        place.
    gain : float, default 1.0
        A scaling factor, e.g. :func:`calculate_gain` of the layer's nonlinearity.
    rng : numpy.random.Generator, optional
        The source of randomness; None: a fresh ``numpy.random.default_rng()``.

    Returns
    -------
    ndarray
        ``array`` itself.

    Raises
    ------
    ValueError
        An array of fewer than 2 dimensions (it has no fans, as torch).
    TypeError
        Not a floating-point ndarray.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt import init
    >>> w = np.empty((256, 128), np.float32)  # a Linear layer's weight: (out, in)
    >>> _ = init.xavier_normal_(w, rng=np.random.default_rng(0))
    >>> round(float(w.std()) / (2 / (128 + 256)) ** 0.5, 1)  # std / its target
    1.0
    """
    _array(array, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(array.shape)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(array, 0.0, std, rng=rng)


def _kaiming_std(array: np.ndarray, a: float, mode: str, nonlinearity: str, fn: str) -> Optional[float]:
    _array(array, fn)
    if 0 in array.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return None
    fan = _fan(array.shape, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(array: np.ndarray, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", *,
                     rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """He (Kaiming) uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``.

    ``gain = calculate_gain(nonlinearity, a)``; torch's defaults. torch's Linear layers
    initialise their weight with ``kaiming_uniform_(w, a=sqrt(5))``.

    Parameters
    ----------
    array : ndarray
        A writeable floating-point array (float16/32/64 or ml_dtypes' bfloat16), filled in
        place.
    a : float, default 0.0
        The negative slope of the leaky_relu that follows (used by ``calculate_gain``).
    mode : {'fan_in', 'fan_out'}, default 'fan_in'
        Which fan: 'fan_in' keeps the forward pass's variance, 'fan_out' the backward's.
    nonlinearity : str, default 'leaky_relu'
        As :func:`calculate_gain` takes it.
    rng : numpy.random.Generator, optional
        The source of randomness; None: a fresh ``numpy.random.default_rng()``.

    Returns
    -------
    ndarray
        ``array`` itself.

    Raises
    ------
    ValueError
        Fewer than 2 dimensions, an unknown mode or nonlinearity.
    TypeError
        Not a floating-point ndarray.

    Notes
    -----
    A zero-element array is left as it is, with torch's warning.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt import init
    >>> w = np.empty((256, 128), np.float32)  # a Linear layer's weight: (out, in)
    >>> _ = init.kaiming_uniform_(w, nonlinearity="relu", rng=np.random.default_rng(0))
    >>> bound = (2 ** 0.5) * (3 / 128) ** 0.5  # gain * sqrt(3 / fan_in)
    >>> bool(np.abs(w).max() <= bound), round(bound, 4)
    (True, 0.2165)
    """
    std = _kaiming_std(array, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return array
    bound = math.sqrt(3.0) * std
    return uniform_(array, -bound, bound, rng=rng)


def kaiming_normal_(array: np.ndarray, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", *,
                    rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """He (Kaiming) normal: N(0, std^2) with ``std = gain / sqrt(fan)``.

    ``gain = calculate_gain(nonlinearity, a)``; torch's defaults.

    Parameters
    ----------
    array : ndarray
        A writeable floating-point array (float16/32/64 or ml_dtypes' bfloat16), filled in
        place.
    a : float, default 0.0
        The negative slope of the leaky_relu that follows (used by ``calculate_gain``).
    mode : {'fan_in', 'fan_out'}, default 'fan_in'
        Which fan: 'fan_in' keeps the forward pass's variance, 'fan_out' the backward's.
    nonlinearity : str, default 'leaky_relu'
        As :func:`calculate_gain` takes it.
    rng : numpy.random.Generator, optional
        The source of randomness; None: a fresh ``numpy.random.default_rng()``.

    Returns
    -------
    ndarray
        ``array`` itself.

    Raises
    ------
    ValueError
        Fewer than 2 dimensions, an unknown mode or nonlinearity.
    TypeError
        Not a floating-point ndarray.

    Notes
    -----
    A zero-element array is left as it is, with torch's warning.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt import init
    >>> w = np.empty((256, 128), np.float32)  # a Linear layer's weight: (out, in)
    >>> _ = init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", rng=np.random.default_rng(0))
    >>> round(float(w.std()) / ((2 / 256) ** 0.5), 1)  # std / gain / sqrt(fan_out)
    1.0
    """
    std = _kaiming_std(array, a, mode, nonlinearity, "kaiming_normal_")
    if std is None:
        return array
    return normal_(array, 0.0, std, rng=rng)
