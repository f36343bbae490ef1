"""Shared fixtures, the kernel table and the one tolerance table for fastopt's tests.

Test modules import the plain helpers with ``from conftest import ...``; pytest runs with
``--import-mode=importlib``, so this directory is put on ``sys.path`` here.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import fastopt  # noqa: E402
from fastopt import _core  # noqa: E402
from fastopt import functional as F  # noqa: E402
from fastopt import reference as R  # noqa: E402

DTYPES = (np.float32, np.float64)
ISAS = tuple(fastopt.info()["isas_supported"])
ISAS_BUILT = tuple(fastopt.info()["isas_built"])
SIZES = (0, 1, 7, 31, 1000, 100003)
LARGE = 100003  # above the single-thread threshold: runs on every thread


# --------------------------------------------------------------------------------------------
# The kernel table: every elementwise kernel, forward and backward (PReLU has its own tests)
# --------------------------------------------------------------------------------------------


def _no_params(rng):
    return {}


def _slope(rng):
    return {"negative_slope": float(rng.choice([0.01, 0.2, -0.5, 1.5, 0.0]))}


def _softplus_params(rng):
    return {"beta": float(rng.uniform(0.5, 3.0)), "threshold": float(rng.uniform(1.0, 30.0))}


def _alpha(rng):
    return {"alpha": float(rng.choice([1.0, 0.5, 2.5, 0.0, -1.0]))}


@dataclass(frozen=True)
class Kernel:
    """One row of the table.

    name      id used in test names and TOLERANCE (gelu_tanh = gelu(approximate='tanh'))
    func      the function in fastopt.functional / fastopt.reference
    saved     for a backward: 'x' (the input) or 'y' (the forward output) besides grad_out
    forward   the forward kernel's func, used to make ``y`` for saved='y'
    fixed     keyword arguments always passed (approximate='tanh')
    params    rng -> random keyword arguments (hyper-parameters)
    torch     for a forward: torch's counterpart, (tensor, **kwargs) -> tensor, as the torch
              oracle tests call it (their backward comes from autograd); None: torch lacks it
    """

    name: str
    func: str
    saved: str = ""
    forward: str = ""
    fixed: Dict[str, Any] = field(default_factory=dict)
    params: Callable = _no_params
    torch: Optional[Callable] = None

    @property
    def backward(self) -> bool:
        return bool(self.saved)

    def __repr__(self) -> str:
        return self.name

    def kwargs(self, rng=None) -> Dict[str, Any]:
        kw = dict(self.fixed)
        if rng is not None:
            kw.update(self.params(rng))
        return kw

    def fast(self, *args, out=None, **kw):
        return getattr(F, self.func)(*args, out=out, **kw)

    def ref(self, *args, **kw):
        return getattr(R, self.func)(*args, **kw)

    def inputs(self, x: np.ndarray, rng, gy=None, kw=None) -> Tuple[np.ndarray, ...]:
        """The array arguments for this kernel from the point values ``x``.

        Forward: (x,). Backward: (grad_out, x) or (grad_out, y) with y = forward(x) from the
        reference (so y lies in the forward's range).
        """
        x = np.asarray(x)
        if not self.backward:
            return (x,)
        if gy is None:
            gy = rng.standard_normal(x.shape).astype(x.dtype)
        if self.saved == "y":
            x = getattr(R, self.forward)(x)
        return (np.asarray(gy, dtype=x.dtype), x)


def _tf(name: str, *keys: str, **fixed: Any) -> Callable:
    """torch.nn.functional.<name>(t, **fixed, **the kwargs named in keys); torch is imported
    only when it is called."""

    def call(t, **kw):
        import torch

        return getattr(torch.nn.functional, name)(t, **fixed, **{k: kw[k] for k in keys if k in kw})

    return call


FORWARD = [
    Kernel("sigmoid", "sigmoid", torch=lambda t, **kw: t.sigmoid()),
    Kernel("tanh", "tanh", torch=lambda t, **kw: t.tanh()),
    Kernel("relu", "relu", torch=_tf("relu")),
    Kernel("leaky_relu", "leaky_relu", params=_slope, torch=_tf("leaky_relu", "negative_slope")),
    Kernel("softplus", "softplus", params=_softplus_params, torch=_tf("softplus", "beta", "threshold")),
    Kernel("elu", "elu", params=_alpha, torch=_tf("elu", "alpha")),
    Kernel("gelu", "gelu", fixed={"approximate": "none"}, torch=_tf("gelu", approximate="none")),
    Kernel("gelu_tanh", "gelu", fixed={"approximate": "tanh"}, torch=_tf("gelu", approximate="tanh")),
    Kernel("silu", "silu", torch=_tf("silu")),
]
BACKWARD = [
    Kernel("sigmoid_backward", "sigmoid_backward", saved="y", forward="sigmoid"),
    Kernel("tanh_backward", "tanh_backward", saved="y", forward="tanh"),
    Kernel("relu_backward", "relu_backward", saved="x"),
    Kernel("leaky_relu_backward", "leaky_relu_backward", saved="x", params=_slope),
    Kernel("softplus_backward", "softplus_backward", saved="x", params=_softplus_params),
    Kernel("elu_backward", "elu_backward", saved="x", params=_alpha),
    Kernel("gelu_backward", "gelu_backward", saved="x", fixed={"approximate": "none"}),
    Kernel("gelu_tanh_backward", "gelu_backward", saved="x", fixed={"approximate": "tanh"}),
    Kernel("silu_backward", "silu_backward", saved="x"),
]
KERNELS = FORWARD + BACKWARD
KERNEL_BY_NAME = {k.name: k for k in KERNELS}
TORCH_FORWARD = {k.name: k.torch for k in FORWARD if k.torch is not None}  # the torch oracle's rows


# --------------------------------------------------------------------------------------------
# Tolerances
# --------------------------------------------------------------------------------------------
#
# TOLERANCE[(kernel, dtype)] = (rtol, atol). An element passes when
#     |actual - expected| <= rtol * |expected| + atol * scale + FLOOR[dtype]
# where ``scale`` is |grad_out| for a backward (the gradient is linear in grad_out, so an
# absolute error from cancellation in the derivative scales with it) and 1 for a forward.
# FLOOR is the smallest normal number: below it a kernel may lose precision (or flush an
# exp that underflows to 0), which the ULP test in test_accuracy.py checks separately.
#
# float64 kernels use libm (about 1 ULP per call) and a handful of roundings per formula.
# float32 kernels use polynomial transcendentals within a few ULP (test_accuracy.py has the
# measured bounds); a backward multiplies several such rounded terms. The atol terms cover
# the zero crossings of a derivative: gelu' at x ~ -0.75, gelu_tanh' at x ~ -0.76,
# silu' at x ~ -1.28, and 1 - y*y / y*(1 - y) for y near +-1 / 0 or 1.

EPS32 = 2.0**-23
EPS64 = 2.0**-52
FLOOR = {np.float32: float(np.finfo(np.float32).smallest_normal), np.float64: float(np.finfo(np.float64).smallest_normal)}

_F32_FORWARD = (4 * EPS32, 0.0)
_F32_BACKWARD = (8 * EPS32, 2 * EPS32)
_F64_FORWARD = (32 * EPS64, 0.0)
_F64_BACKWARD = (64 * EPS64, 8 * EPS64)
_EXACT = (0.0, 0.0)

TOLERANCE: Dict[Tuple[str, type], Tuple[float, float]] = {}
for _k in KERNELS:
    _exact = _k.name.startswith(("relu", "leaky_relu"))
    TOLERANCE[(_k.name, np.float32)] = _EXACT if _exact else (_F32_BACKWARD if _k.backward else _F32_FORWARD)
    TOLERANCE[(_k.name, np.float64)] = _EXACT if _exact else (_F64_BACKWARD if _k.backward else _F64_FORWARD)
# float32 gelu (erf form): at most 8 ULP away from underflow, every float (test_accuracy.py)
TOLERANCE[("gelu", np.float32)] = (8 * EPS32, 0.0)
# PReLU: products and selects only, one rounding each: exact. grad_weight is a float64 sum;
# its bound is computed from the terms in test_activations.py.
for _dt in DTYPES:
    TOLERANCE[("prelu", _dt)] = _EXACT
    TOLERANCE[("prelu_backward", _dt)] = _EXACT


# Conditioning. A few results depend exponentially on an argument that the kernel (and, in
# float64, the reference too) must round before calling exp/erfc: erfc(-x/sqrt(2)) for gelu,
# sigmoid(2u) with the cubic u for gelu_tanh, exp(beta*x) for softplus. A relative rounding of
# the argument a is amplified by |d log f / d log a|: x^2 for erfc's left tail, |2u| and
# |beta*x| for exp. COND[(kernel, dtype)](x, kw) gives that factor where it matters (the left
# tails, where the result is exponentially small); the allowed error grows by
# 2 * eps * factor * |expected|. Where the kernel's argument is exact (float32 softplus with
# beta a power of two, float32 gelu whose kernel evaluates the tail without the rounding) no
# term is given, and the kernel is held to the plain tolerance.
#   float64 gelu/gelu_backward: the reference rounds -x/sqrt(2) too, so it is no better than
#       ~x^2 eps itself (measured: ~2.4e-13 relative at x = -36).
#   gelu_tanh: float32 kernels lose ~1.2 |2u| float32 roundings in the left tail (measured
#       ~9.9e-6 relative, ~80 ULP, at x = -9.2); float64 ~|2u| eps with FMA contraction.
#   softplus float32 with beta*x inexact: ~0.75 |beta*x| ULP (measured 65 ULP at beta*x = -86).


def _erfc_tail(x, kw, dtype):
    return np.where(x < 0, x * x, 0.0)


def _gelu_tanh_tail(x, kw, dtype):
    u = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
    return np.where(x < 0, np.abs(2.0 * u), 0.0)


def _softplus_tail(x, kw, dtype):
    beta = float(dtype(kw.get("beta", 1.0)))
    z = beta * x
    z_rounded = (x.astype(dtype) * dtype(beta)).astype(np.float64)
    return np.where((z < 0) & (z != z_rounded), np.abs(z), 0.0)


COND: Dict[Tuple[str, type], Callable] = {
    ("gelu", np.float64): _erfc_tail,
    ("gelu_backward", np.float64): _erfc_tail,
    ("gelu_tanh", np.float32): _gelu_tanh_tail,
    ("gelu_tanh", np.float64): _gelu_tanh_tail,
    ("gelu_tanh_backward", np.float32): _gelu_tanh_tail,
    ("gelu_tanh_backward", np.float64): _gelu_tanh_tail,
    ("softplus", np.float32): _softplus_tail,
    ("softplus_backward", np.float32): _softplus_tail,
}


def assert_close(actual, expected, kernel: str, dtype, grad_out=None, err_msg: str = "", x=None, kw=None) -> None:
    """Compare a kernel's result with the reference under TOLERANCE[(kernel, dtype)].

    dtype and shape must match; NaN positions must match exactly; infinities must match
    exactly (position and sign); finite values must be within the tolerance (plus the
    COND term when ``x`` and ``kw`` are given and the kernel has one).
    """
    dtype = np.dtype(dtype).type
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype == dtype, (actual.dtype, expected.dtype, dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    rtol, atol = TOLERANCE[(kernel, dtype)]
    a = actual.astype(np.float64).ravel()
    e = expected.astype(np.float64).ravel()
    scale = np.ones_like(e) if grad_out is None else np.abs(np.asarray(grad_out, dtype=np.float64)).ravel()
    if scale.size != e.size:
        scale = np.broadcast_to(scale, e.shape)

    def where(mask):
        idx = np.flatnonzero(mask)[:10]
        return f"at flat indices {idx.tolist()}: actual {a[idx].tolist()}, expected {e[idx].tolist()}"

    nan_a, nan_e = np.isnan(a), np.isnan(e)
    assert np.array_equal(nan_a, nan_e), f"{kernel} {dtype.__name__}: NaN positions differ {where(nan_a != nan_e)} {err_msg}"
    inf_a, inf_e = np.isinf(a), np.isinf(e)
    bad_inf = (inf_a | inf_e) & ~(a == e)
    assert not bad_inf.any(), f"{kernel} {dtype.__name__}: infinities differ {where(bad_inf)} {err_msg}"
    fin = ~(nan_e | inf_e)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a - e)
        tol = rtol * np.abs(e) + atol * np.where(np.isfinite(scale), scale, 0.0) + FLOOR[dtype]
        if x is not None and (kernel, dtype) in COND:
            xs = np.broadcast_to(np.asarray(x, dtype=np.float64), actual.shape).ravel()
            cond = np.nan_to_num(COND[(kernel, dtype)](xs, kw or {}, dtype), nan=0.0, posinf=0.0)
            tol = tol + 2.0 * float(np.finfo(dtype).eps) * cond * np.abs(e)
    if rtol == 0.0 and atol == 0.0:
        tol = np.zeros_like(tol)  # exact kernels: bitwise-equal values (-0 == +0)
    bad = fin & ~(err <= tol)
    if bad.any():
        ratio = np.max(err[bad] / np.where(np.abs(e[bad]) > 0, np.abs(e[bad]), 1.0))
        pytest.fail(
            f"{kernel} {dtype.__name__}: {int(bad.sum())} of {a.size} values out of tolerance "
            f"(rtol={rtol:.3g}, atol={atol:.3g}, worst relative error {ratio:.3g}) {where(bad)} {err_msg}"
        )


# --------------------------------------------------------------------------------------------
# Edge values
# --------------------------------------------------------------------------------------------


def _around(dtype, centres, ulps=(1, 2)):
    """Each centre (rounded to dtype) and its neighbours a few ULP either side."""
    out = []
    for c in centres:
        c = dtype(c)
        out.append(c)
        for n in ulps:
            up, down = c, c
            for _ in range(n):
                up = np.nextafter(up, dtype(np.inf))
                down = np.nextafter(down, dtype(-np.inf))
            out += [up, down]
    return out


def edge_values(dtype) -> np.ndarray:
    """Special values, range limits, subnormals and points around every kink/threshold."""
    fi = np.finfo(dtype)
    v = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1e-40, -1e-40, 1.0, -1.0, 0.5, -0.5]
    v += [fi.max, -fi.max, fi.smallest_normal, -fi.smallest_normal, fi.smallest_subnormal, -fi.smallest_subnormal]
    v += [1e-7, -1e-7, 1e-3, -1e-3, 1e-20, -1e-20]
    centres = [0.0, 1.0, -1.0, 20.0, -20.0, 88.0, -88.0, 87.3, -87.3, 89.0, -89.0, 104.0, -104.0]
    centres += [9.0, -9.0, 15.0, -15.0, 17.0, -17.0, 30.0, -30.0, 40.0, -40.0, 50.0, -50.0]
    centres += [-0.75, -0.7517916, -1.2784645, 3.0, -3.0, 5.0, -5.0, 10.0, -10.0, 13.0, -13.0]
    if dtype == np.float64:
        v += [1e-300, -1e-300, 1e300, -1e300, 1e-310, -1e-310]
        centres += [709.0, -709.0, 710.0, -710.0, 745.0, -745.0, 37.0, -37.0]
    else:
        v += [1e19, -1e19, 2e19, -2e19, 1e13, -1e13]
    v += _around(dtype, centres)
    v += list(np.linspace(-0.85, -0.65, 41))  # gelu' crosses 0 near -0.75
    v += list(np.linspace(-1.35, -1.2, 31))  # silu' crosses 0 near -1.278
    return np.array(v, dtype=dtype)


def grad_edge_values(dtype) -> np.ndarray:
    """grad_out values for the grad_out x x edge product. No subnormals (an overflowed
    intermediate would make the order of the products matter) and no infinities (inf times a
    derivative that underflows in float32 is NaN): test_activations tests +-inf separately."""
    return np.array([0.0, -0.0, np.nan, 1.0, -1.0, 0.5, -3e3, 1e-3], dtype=dtype)


def random_points(rng, n: int, dtype) -> np.ndarray:
    """Values spread over the interesting range: mostly N(0, 3), some uniform in +-110."""
    x = rng.standard_normal(n) * 3.0
    wide = rng.random(n) < 0.2
    x[wide] = rng.uniform(-110.0, 110.0, int(wide.sum()))
    return x.astype(dtype)


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


def pytest_configure(config):
    # When a hypothesis test fails, hypothesis' report hook imports libcst, which imports
    # mypy_extensions.TypedDict and warns; under filterwarnings=error that turned the failure
    # into a pytest INTERNALERROR that stopped the whole run.
    config.addinivalue_line("filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")



@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


@pytest.fixture(params=ISAS_BUILT)
def isa(request):
    """Run the test on each ISA fastopt built; restore afterwards. An ISA this CPU lacks is a
    skip that the summary names (e.g. avx512 on an AVX2-only CPU), not a silent absence."""
    if request.param not in ISAS:
        pytest.skip(f"this CPU lacks {request.param} (supported here: {', '.join(ISAS)})")
    before = _core._get_isa()
    _core._set_isa(request.param)
    try:
        yield request.param
    finally:
        _core._set_isa(before)


@pytest.fixture(params=(1, 2), ids=lambda n: f"threads{n}")
def nthreads(request):
    before = fastopt.get_num_threads()
    fastopt.set_num_threads(request.param)
    try:
        yield request.param
    finally:
        fastopt.set_num_threads(before)


@pytest.fixture
def two_threads():
    """Run on 2 threads (the threaded paths); restore the thread count afterwards."""
    before = fastopt.get_num_threads()
    fastopt.set_num_threads(2)
    yield
    fastopt.set_num_threads(before)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id, so every test is reproducible on its own."""
    import zlib

    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
