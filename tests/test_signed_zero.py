"""Signed zeros, NaN, infinities and subnormals: the mathematically right sign bits.

test_torch_parity.py compares values with a tolerance, which cannot see the sign of a zero:
relu(-0.0) is -0.0 (clamp_min keeps x unless x < 0), gelu(-0.0) = -0.0 * Phi(-0.0) is -0.0
and elu(+-0.0) is +-0.0 for any alpha. Here every forward and backward of the kernel table
runs on the special values, on every ISA the CPU has, and is held to fastopt.reference (the
formulas in NumPy, whose IEEE arithmetic gives the right signs): the same sign bit wherever
the reference gives a number, NaN exactly where it has NaN (a NaN's own sign bit is not
compared), the same infinities and zeros. Backward kernels take every (grad_out, x) pair,
with grad_out = +-0 among them, since the sign of a zero gradient comes from the product of
the signs.

PyTorch is a second oracle, used only where its answer does not depend on which of its own
kernels ran: float32 gelu of +-0 and of subnormals (whose exact result is a zero) is -0.0 in
torch's ATen loops and in oneDNN's AVX-512 code but +0.0 in oneDNN's AVX2 and SSE4.1 code, which
torch picks for 7 or more elements on a CPU without AVX-512 (or with
ONEDNN_MAX_CPU_ISA=AVX2); those results are left out of the torch comparison (TORCH_VARIES).
CI runs this file also with ATEN_CPU_CAPABILITY=default and with avx2 + ONEDNN_MAX_CPU_ISA=AVX2.

The values are tiled into an array long enough that fastopt (and torch) run them through
their vector loops as well as the remainder.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BACKWARD, FORWARD, TORCH_FORWARD

try:
    import torch

    TF = torch.nn.functional
except ImportError:  # the reference comparisons run without torch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed (the second oracle)")

# Hyper-parameters: the defaults, and the values where a sign can flip (negative or zero
# slope / alpha) or the linear branch of softplus is taken early.
PARAMS = {
    "leaky_relu": [{}, {"negative_slope": -0.5}, {"negative_slope": 0.0}, {"negative_slope": 2.0}],
    "elu": [{}, {"alpha": -1.0}, {"alpha": 0.0}, {"alpha": 2.5}],
    "softplus": [{}, {"beta": 2.0, "threshold": 1.0}],
}

FORWARD_BY_NAME = {k.name: k for k in FORWARD}
BACKWARD_BY_NAME = {k.name: k for k in BACKWARD}
TILE = 1031  # > any vector width times a few; odd, so the values land in every lane


def special_values(dtype) -> np.ndarray:
    fi = np.finfo(dtype)
    v = [0.0, -0.0, np.nan, np.inf, -np.inf, fi.smallest_normal, -fi.smallest_normal]
    v += [fi.smallest_subnormal, -fi.smallest_subnormal, 1.0, -1.0]
    return np.array(v, dtype=dtype)


def grad_values(dtype) -> np.ndarray:
    return np.array([1.0, -1.0, 0.0, -0.0, np.nan, 0.5], dtype=dtype)


def tiled(a: np.ndarray) -> np.ndarray:
    return np.resize(a, a.size * (TILE // a.size + 1))


def torch_defects(name, x, dtype, kw) -> np.ndarray:
    """Where torch's result is a documented defect (see test_torch_parity.torch_nan_defects):
    float32 gelu(+inf) is NaN in torch's vectorized erf path; elu_backward at x = NaN is NaN
    in torch's vector loop but grad_out in its scalar loop (fastopt: grad_out)."""
    mask = np.zeros(x.shape, bool)
    if name == "gelu" and dtype == np.float32:
        mask |= x == np.inf
    if name == "elu_backward":
        mask |= np.isnan(x)
    return mask


def torch_varies(name, x, dtype, kw) -> np.ndarray:
    """Where torch's answer depends on which of its kernels ran (TORCH_VARIES in the module
    docstring): the sign of float32 gelu's zero results, at x = +-0 and subnormal x."""
    mask = np.zeros(x.shape, bool)
    if name == "gelu" and kw.get("approximate", "none") == "none" and dtype == np.float32:
        mask |= np.abs(x) < np.finfo(dtype).smallest_normal
    return mask


def assert_same_signs(ours, theirs, x, what, oracle, skip=None, gy=None):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if gy is not None:  # name the (grad_out, x) pairs in the messages
        x = np.array([f"(gy={g!r}, x={v!r})" for g, v in zip(gy.tolist(), x.tolist())])
    keep = np.ones(ours.shape, bool) if skip is None else ~skip
    nan_t, nan_o = np.isnan(theirs), np.isnan(ours)
    bad = keep & (nan_t != nan_o)
    assert not bad.any(), f"{what}: NaN where {oracle} has none or the reverse, at x={x[bad][:6]} (ours {ours[bad][:6]}, {oracle} {theirs[bad][:6]})"
    num = keep & ~nan_t
    bad = num & (np.signbit(ours) != np.signbit(theirs))
    assert not bad.any(), f"{what}: sign bit differs at x={x[bad][:6]}: ours {ours[bad][:6]}, {oracle} {theirs[bad][:6]}"
    inf = num & np.isinf(theirs)
    np.testing.assert_array_equal(ours[inf], theirs[inf], err_msg=f"{what}: infinities")
    zero = num & (theirs == 0)
    bad = zero & (ours != 0)
    assert not bad.any(), f"{what}: {oracle} gives a zero at x={x[bad][:6]}, fastopt {ours[bad][:6]}"


def cases():
    for k in FORWARD:
        for kw in PARAMS.get(k.name, [{}]):
            yield pytest.param(k.name, kw, id=f"{k.name}-{'-'.join(f'{a}={b}' for a, b in kw.items()) or 'default'}")


def forward_case(name, kw, dtype):
    kernel = FORWARD_BY_NAME[name]
    return kernel, tiled(special_values(dtype)), dict(kernel.fixed, **kw)


def backward_case(name, kw, dtype):
    kernel = FORWARD_BY_NAME[name]
    bwd = BACKWARD_BY_NAME[name + "_backward"]
    xs, gs = special_values(dtype), grad_values(dtype)
    x = tiled(np.repeat(xs, gs.size))
    gy = tiled(np.tile(gs, xs.size))
    return kernel, bwd, x, gy, dict(kernel.fixed, **kw)


def reference(kernel, *args, dtype, **kw) -> np.ndarray:
    """fastopt.reference's value rounded to the kernel's dtype (a sign and a NaN survive the cast)."""
    return np.asarray(kernel.ref(*args, **kw)).astype(dtype)


@pytest.mark.parametrize("name,kw", list(cases()))
def test_forward_signs(name, kw, dtype, isa):
    kernel, x, full = forward_case(name, kw, dtype)
    assert_same_signs(kernel.fast(x, **full), reference(kernel, x, dtype=dtype, **full), x,
                      f"{name}{kw} forward", "the reference")


@pytest.mark.parametrize("name,kw", list(cases()))
def test_backward_signs(name, kw, dtype, isa):
    kernel, bwd, x, gy, full = backward_case(name, kw, dtype)
    saved = reference(kernel, x, dtype=dtype, **full) if bwd.saved == "y" else x
    assert_same_signs(bwd.fast(gy, saved, **full), reference(bwd, gy, saved, dtype=dtype, **full), x,
                      f"{name}{kw} backward", "the reference", gy=gy)


@needs_torch
@pytest.mark.parametrize("name,kw", list(cases()))
def test_forward_signs_torch(name, kw, dtype, isa):
    kernel, x, full = forward_case(name, kw, dtype)
    theirs = TORCH_FORWARD[name](torch.from_numpy(x.copy()), **full).numpy()
    skip = torch_defects(name, x, dtype, full) | torch_varies(name, x, dtype, full)
    assert_same_signs(kernel.fast(x, **full), theirs, x, f"{name}{kw} forward", "torch", skip=skip)


@needs_torch
@pytest.mark.parametrize("name,kw", list(cases()))
def test_backward_signs_torch(name, kw, dtype, isa):
    kernel, bwd, x, gy, full = backward_case(name, kw, dtype)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = TORCH_FORWARD[name](xt, **full)
    yt.backward(torch.from_numpy(gy.copy()))
    theirs = xt.grad.numpy()
    saved = yt.detach().numpy() if bwd.saved == "y" else x
    skip = torch_defects(bwd.name, x, dtype, full) | torch_varies(bwd.name, x, dtype, full)
    assert_same_signs(bwd.fast(gy, saved, **full), theirs, x, f"{name}{kw} backward", "torch", skip=skip, gy=gy)


def test_torch_varies_is_still_needed_only_where_stated():
    """TORCH_VARIES leaves out only the zero results of float32 gelu: the exact value there is
    -0.0 for x = -0 and negative subnormals, which the reference (and so fastopt) gives."""
    x = np.array([-0.0, -np.finfo(np.float32).smallest_subnormal, 0.0], np.float32)
    kernel = FORWARD_BY_NAME["gelu"]
    y = kernel.fast(x, approximate="none")
    assert list(np.signbit(y)) == [True, True, False] and (y == 0).all()
    assert torch_varies("gelu", x, np.float32, {}).all()
    assert not torch_varies("gelu", x, np.float64, {}).any()
    assert not torch_varies("gelu_backward", x, np.float32, {}).any()


@pytest.mark.parametrize("dtype_", [np.float32, np.float64], ids=["float32", "float64"])
def test_relu_keeps_negative_zero(dtype_):
    """The case that started this file, spelled out."""
    import fastopt

    y = fastopt.relu(np.array([-0.0, 0.0, np.nan, -1e-45, -1.0], dtype=dtype_))
    assert np.signbit(y[0]) and not np.signbit(y[1])
    assert np.isnan(y[2])
    assert y[3] == 0 and not np.signbit(y[3]) and y[4] == 0 and not np.signbit(y[4])
    if torch is not None:
        assert np.signbit(torch.relu(torch.tensor(-0.0, dtype=getattr(torch, np.dtype(dtype_).name))).numpy())
