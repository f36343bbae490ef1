"""float64 binary_cross_entropy_with_logits against the NumPy reference, element by element.

The kernel's log1p(exp(-|x|)) is math::log1p_unit (a polynomial that vectorizes, 1.6 ULP),
not the C library's log1p; the loss is assembled in double as the reference assembles it,
so the two differ only by the roundings of exp, log1p and the few operations after them.
Bound, per element, on every ISA: 4 ULP (4 * 2^-52) of the magnitude of the loss's terms,

    |loss - ref| <= 4 eps w (|1 - t| |x| + lw (log1p(e^-|x|) + max(-x, 0))),
    |grad - ref| <= 4 eps w (lw sigmoid(x) + pw t),      lw = (pw - 1) t + 1,

measured at most 2.8 and 2.1, plus w lw + 1 subnormal steps (4.9e-324) on the loss:
log1p_unit(e) for a subnormal e is 2 (e / (2 + e)) with the quotient rounded on the subnormal
grid (x = 745, t = 1: 0 where log1p(e^-745) = 4.9e-324), then scaled by w lw and rounded. Relative to the loss itself where nothing cancels: for
x >> 0 and t = 1 the loss is log1p(e^-x) ~ e^-x (4e-18 at x = 40), so the tiny-argument end of
the log1p is held to 4 ULP too."""

from __future__ import annotations

import numpy as np
import pytest

import fastopt
from fastopt import reference as R

EPS64 = 2.0**-52
ULPS = 4.0
SUBNORMAL_STEP = 5e-324


def _logits(rng):
    return np.concatenate([
        np.linspace(-40.0, 40.0, 40001),  # x = 0 exactly at the centre
        rng.standard_normal(20000) * 12,
        [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e-17, -1e-17, 36.7, -36.7, 40.0, -40.0, 745.0, -745.0, 1e4, -1e4],
    ])


def _scales(x, t, pw, w):
    p = np.ones_like(x) if pw is None else np.broadcast_to(pw, x.shape)
    lw = (p - 1.0) * t + 1.0
    e = np.exp(-np.abs(x))
    sig = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    loss = w * (np.abs(1.0 - t) * np.abs(x) + lw * (np.log1p(e) + np.maximum(-x, 0.0)))
    grad = w * (lw * sig + p * t)
    return loss, grad, w * lw


def _check(actual, expected, scale, what, atol=0.0):
    err = np.abs(actual - expected)
    bad = ~(err <= ULPS * EPS64 * scale + atol)
    if bad.any():
        i = np.flatnonzero(bad)[:5]
        raise AssertionError(f"{what}: {int(bad.sum())} elements beyond {ULPS} ULP of their terms; at {i.tolist()}: "
                             f"actual {actual[i].tolist()} expected {expected[i].tolist()} "
                             f"(terms {scale[i].tolist()})")


TARGETS = ["zeros", "ones", "0.3", "uniform"]
POS_WEIGHTS = ["none", "0.25", "3.5", "per-element"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("pos_weight", POS_WEIGHTS)
def test_bce_float64_elementwise_within_4_ulp(target, pos_weight, isa, rng):
    x = _logits(rng)
    n = x.size
    t = {"zeros": np.zeros(n), "ones": np.ones(n), "0.3": np.full(n, 0.3), "uniform": rng.random(n)}[target]
    pw = {"none": None, "0.25": np.full(n, 0.25), "3.5": np.full(n, 3.5),
          "per-element": rng.uniform(0.1, 10.0, n)}[pos_weight]
    w = rng.uniform(0.5, 2.0, n)
    for weight in (None, w):
        kw = {} if pw is None else {"pos_weight": pw}
        if weight is not None:
            kw["weight"] = weight
        loss, grad = fastopt.binary_cross_entropy_with_logits(x, t, reduction="none", **kw)
        ref_loss, ref_grad = R.binary_cross_entropy_with_logits(x, t, reduction="none", **kw)
        assert loss.dtype == grad.dtype == np.float64
        sl, sg, wlw = _scales(x, t, pw, 1.0 if weight is None else weight)
        _check(loss, ref_loss, sl, f"loss (weight={weight is not None})", atol=SUBNORMAL_STEP * (wlw + 1.0))
        _check(grad, ref_grad, sg, f"grad (weight={weight is not None})")
        # the reductions: the same elements, summed in float64 (a different order than NumPy's)
        for reduction, div in (("sum", 1.0), ("mean", n)):
            total, g = fastopt.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw)
            ref_total, ref_g = R.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw)
            assert abs(float(total) - float(ref_total)) <= 1e-12 * float(np.sum(sl)) / div, reduction
            _check(g, ref_g, sg / div, f"grad ({reduction}, weight={weight is not None})")


def test_bce_float64_edges_exact(isa):
    """Values the formulas give exactly: x = 0 (log 2 per sample, gradient 1/2 - t) and
    saturated logits (loss 0 and gradient 0 where the prediction is right)."""
    x = np.array([0.0, -0.0, 0.0, 40.0, -40.0, 1e4, -1e4])
    t = np.array([0.0, 1.0, 0.5, 1.0, 0.0, 1.0, 0.0])
    loss, grad = fastopt.binary_cross_entropy_with_logits(x, t, reduction="none")
    assert abs(loss[0] - np.log(2.0)) <= EPS64 * np.log(2.0)
    assert loss[1] == loss[0] and loss[2] == loss[0]
    np.testing.assert_array_equal(grad[:3], [0.5, -0.5, 0.0])
    assert loss[4] == 0.0 and loss[6] == 0.0 and loss[5] == 0.0
    assert abs(loss[3] - np.exp(-40.0)) <= 2 * EPS64 * np.exp(-40.0)
    assert grad[5] == 0.0 and grad[6] == 0.0
