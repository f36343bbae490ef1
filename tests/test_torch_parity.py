"""Parity with PyTorch: every forward against torch.nn.functional, every backward against
torch autograd, float32 and float64, random inputs and edge values.

fastopt follows torch's formulas and edge rules, but is sometimes more accurate than torch
(torch's float32 gelu computes 1 + erf(x/sqrt 2), which cancels in the left tail) and, in the
places listed in TORCH_NAN below, returns the correct finite value where torch returns NaN.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import KERNEL_BY_NAME, TORCH_FORWARD, edge_values, random_points

import fastopt

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# Agreement "to rounding": fastopt vs torch, both within a few ULP of the truth except where
# torch's own formula loses accuracy (gelu's left tail); atol is relative to |grad_out|.
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}


def torch_nan_defects(name, x, dtype, kw):
    """Where torch returns NaN and fastopt deliberately returns the finite limit:
    - float32 gelu(+inf): torch's vectorized erf path gives NaN (float64 gives inf), and
      gelu(FLT_MAX) = inf (an overflowed intermediate);
    - gelu_tanh backward for |x| > ~1.8e19 (float32) / ~1.3e154 (float64): torch squares x
      (inf) and multiplies 0 * inf;
    - softplus_backward where exp(beta*x) overflows below the threshold: torch computes
      z / (z + 1) = inf / inf;
    - elu_backward at x = NaN: torch's vectorized path gives NaN, its scalar path (and the
      documented rule x <= 0 ? ... : grad) passes grad through, as fastopt does.
    """
    mask = np.zeros(x.shape, bool)
    with np.errstate(all="ignore"):
        if name == "gelu" and dtype == np.float32:
            mask |= x > 1e38
        if name == "gelu_tanh_backward":
            big = 1.8e19 if dtype == np.float32 else 1.3e154
            mask |= np.isfinite(x) & (np.abs(x) > big)
        if name == "softplus_backward":
            z = x.astype(np.float64) * kw.get("beta", 1.0)
            limit = 88.7 if dtype == np.float32 else 709.7
            mask |= (z > limit) & ~(z > kw.get("threshold", 20.0))
        if name == "elu_backward":
            mask |= np.isnan(x)
    return mask


def compare(ours, theirs, dtype, scale=None, skip=None, what=""):
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    keep = np.ones(ours.shape, bool) if skip is None else ~skip
    o, t = ours[keep], theirs[keep]
    np.testing.assert_array_equal(np.isnan(o), np.isnan(t), err_msg=f"NaN positions {what}")
    np.testing.assert_array_equal(o[np.isinf(t)], t[np.isinf(t)], err_msg=f"infinities {what}")
    fin = np.isfinite(t)
    s = 1.0 if scale is None else np.abs(np.asarray(scale, dtype=np.float64))[keep][fin]
    tol = TOL[dtype]
    err = np.abs(o[fin] - t[fin])
    bound = tol["rtol"] * np.abs(t[fin]) + tol["atol"] * s + np.finfo(dtype).smallest_normal
    bad = err > bound
    assert not bad.any(), f"{what}: {int(bad.sum())} values differ, e.g. ours {o[fin][bad][:5]} torch {t[fin][bad][:5]}"


def run_torch(name, x, gy, kw):
    """torch forward and, through autograd, the gradient (grad_out = gy)."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = TORCH_FORWARD[name](xt, **kw)
    yt.backward(torch.from_numpy(gy.copy()))
    return yt.detach().numpy(), xt.grad.numpy()


def check_parity(name, x, gy, dtype, kw):
    fwd = KERNEL_BY_NAME[name]
    bwd = KERNEL_BY_NAME[name + "_backward"]
    y_torch, gx_torch = run_torch(name, x, gy, kw)
    full = dict(fwd.fixed, **kw)
    y = fwd.fast(x, **full)
    compare(y, y_torch, dtype, skip=torch_nan_defects(name, x, dtype, full), what=f"{name} forward")
    saved = y_torch if bwd.saved == "y" else x  # sigmoid/tanh backward take torch's own output
    gx = bwd.fast(gy, saved, **full)
    compare(gx, gx_torch, dtype, scale=gy, skip=torch_nan_defects(bwd.name, x, dtype, full), what=f"{name} backward")


def random_kw(name, rng):
    return KERNEL_BY_NAME[name].params(rng)


@pytest.mark.parametrize("name", list(TORCH_FORWARD))
def test_random(name, dtype, rng):
    x = random_points(rng, 20000, dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    check_parity(name, x, gy, dtype, random_kw(name, rng))
    check_parity(name, x, gy, dtype, {})


@pytest.mark.parametrize("name", list(TORCH_FORWARD))
def test_edge_values(name, dtype, rng):
    x = edge_values(dtype)
    gy = np.where(rng.random(x.size) < 0.5, 1.0, rng.standard_normal(x.size)).astype(dtype)
    check_parity(name, x, gy, dtype, {})


@pytest.mark.parametrize("name", list(TORCH_FORWARD))
def test_shapes(name, dtype, rng):
    for shape in [(), (0,), (3, 5), (2, 3, 4, 5)]:
        x = random_points(rng, int(np.prod(shape)), dtype).reshape(shape)
        gy = rng.standard_normal(shape).astype(dtype)
        check_parity(name, x, gy, dtype, {})


@pytest.mark.parametrize("beta,threshold", [(1.0, 20.0), (2.0, 5.0), (0.5, 1.0), (3.0, 7.0)])
def test_softplus_threshold_branch(beta, threshold, dtype, rng):
    """x = threshold/beta +- a few ULP: the same branch as torch (decided in the input dtype)."""
    c = dtype(threshold) / dtype(beta)
    x = np.array([c, -c], dtype=dtype)
    for _ in range(4):
        x = np.concatenate([x, np.nextafter(x, dtype(np.inf)), np.nextafter(x, dtype(-np.inf))])
    gy = np.ones_like(x)
    check_parity("softplus", x, gy, dtype, {"beta": beta, "threshold": threshold})


def test_softplus_backward_large_threshold_is_stable(dtype):
    """With a threshold above exp's overflow point torch's backward, written z / (z + 1) with
    z = exp(beta*x), is inf/inf = NaN for large x. fastopt evaluates sigmoid(beta*x) stably and
    returns grad_out (the correct limit): a deliberate, documented difference from torch."""
    x = np.array([50.0, 100.0, 200.0, 800.0, 1000.0], dtype=dtype)
    gy = np.full_like(x, 0.5)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    TF.softplus(xt, beta=1.0, threshold=1e30).backward(torch.from_numpy(gy))
    torch_grad = xt.grad.numpy()
    ours = fastopt.softplus_backward(gy, x, beta=1.0, threshold=1e30)
    overflow = x > (88.7 if dtype == np.float32 else 709.7)
    assert np.isnan(torch_grad[overflow]).all()  # torch's NaN, for the record
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, gy, rtol=1e-6)
    # and the forward agrees with torch (both finite: log1p(exp(z)) is evaluated stably by both
    # up to exp's overflow; torch gives inf beyond it, fastopt the finite x)
    y = fastopt.softplus(x, beta=1.0, threshold=1e30)
    np.testing.assert_allclose(y, x, rtol=1e-6)


@pytest.mark.parametrize(
    "shape,channels", [((7,), 1), ((5, 3), 1), ((5, 3), 3), ((2, 4, 6, 5), 4), ((2, 4, 6, 5), 1), ((), 1)], ids=str
)
def test_prelu(shape, channels, dtype, rng):
    x = random_points(rng, int(np.prod(shape)), dtype).reshape(shape)
    w = rng.uniform(-1, 1, channels).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    wt = torch.from_numpy(w.copy()).requires_grad_(True)
    yt = TF.prelu(xt, wt)
    yt.backward(torch.from_numpy(gy.copy()))
    compare(fastopt.prelu(x, w), yt.detach().numpy(), dtype, what="prelu")
    gx, gw = fastopt.prelu_backward(gy, x, w)
    compare(gx, xt.grad.numpy(), dtype, scale=gy, what="prelu grad_x")
    # grad_weight: a sum; torch sums float32 in float32, fastopt in float64
    mass = np.abs(np.where(x > 0, 0, x.astype(np.float64) * gy)).sum()
    np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-5, atol=1e-6 * mass + 1e-30)
    assert gw.shape == w.shape and gw.dtype == dtype
