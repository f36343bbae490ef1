"""Helpers shared by the loss tests: the tolerances and the comparison of (loss, grad)."""

from __future__ import annotations

import numpy as np

EPS = {np.dtype(np.float32): 2.0**-23, np.dtype(np.float64): 2.0**-52}

# Loss values: float64 accumulation, rounded once to the dtype; the float32 exp/log of the
# kernel add a few ULP per term, and a per-sample loss lse - x_t can cancel. Relative bound
# on the (reduced) loss, plus an absolute one relative to the sum of |per-sample terms|.
LOSS_RTOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-12}
# Gradients: a few roundings of a softmax probability (float32 exp within a few ULP), and
# p_t - 1 cancels: atol relative to the gradient's scale.
GRAD_TOL = {np.dtype(np.float32): 16 * 2.0**-23, np.dtype(np.float64): 128 * 2.0**-52}


def assert_allclose_nan(actual, expected, rtol, atol, what=""):
    """Equal NaN positions, equal infinities, finite values within rtol * |e| + atol."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, (what, a.shape, e.shape)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    assert np.array_equal(nan_a, nan_e), f"{what}: NaN positions differ: {np.argwhere(nan_a != nan_e)[:5].tolist()}"
    inf = np.isinf(a) | np.isinf(e)
    assert np.array_equal(a[inf], e[inf]), f"{what}: infinities differ"
    fin = ~(nan_e | np.isinf(e))
    with np.errstate(invalid="ignore"):
        err = np.where(fin, np.abs(a - e), 0.0)
    tol = rtol * np.abs(np.where(fin, e, 0.0)) + atol
    bad = fin & ~(err <= tol)
    if bad.any():
        idx = np.argwhere(bad)[:5]
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {a.size} out of tolerance (rtol={rtol:.3g}, atol={float(np.max(atol)):.3g}); "
            f"at {idx.tolist()}: actual {a[bad][:5].tolist()} expected {e[bad][:5].tolist()}"
        )


def check_loss_pair(actual, expected, dtype, grad_scale_abs=1.0, what="", loss_atol=0.0):
    """Compare (loss, grad) pairs from the kernel and the reference."""
    dtype = np.dtype(dtype)
    (la, ga), (le, ge) = actual, expected
    la_arr, le_arr = np.asarray(la), np.asarray(le)
    assert la_arr.dtype == dtype and le_arr.dtype == dtype, (la_arr.dtype, le_arr.dtype)
    assert la_arr.shape == le_arr.shape
    assert_allclose_nan(la_arr, le_arr, LOSS_RTOL[dtype], loss_atol, what + " loss")
    if ge is None:
        assert ga is None
        return
    assert isinstance(ga, np.ndarray) and ga.dtype == dtype and ga.shape == np.shape(ge)
    assert_allclose_nan(ga, ge, GRAD_TOL[dtype], GRAD_TOL[dtype] * grad_scale_abs, what + " grad")


# softmax / log_softmax: (rtol, atol); log_softmax's atol scales with the row's log-sum-exp.
SOFTMAX_TOL = {np.dtype(np.float32): (8 * 2.0**-23, 2.0**-23), np.dtype(np.float64): (64 * 2.0**-52, 2.0**-52)}


def _samples(x) -> int:
    """Samples of class logits of shape (C,), (N, C) or (N, C, d...): 1, or size / C."""
    return max(1, x.size // max(1, x.shape[1])) if x.ndim >= 2 else 1


def ce_grad_scale(x, t, w, reduction, grad_scale, prob, ignore_index=-100):
    """The largest gradient magnitude the formulas allow (for the absolute tolerance)."""
    wmax = 1.0 if w is None else float(np.max(np.abs(w), initial=0.0))
    if reduction != "mean":
        return abs(grad_scale) * 2 * wmax
    if prob:
        return abs(grad_scale) * 2 * wmax / _samples(x)
    valid = t != ignore_index
    if w is None:
        wt = np.ones(t.shape)
    else:  # (no classes: every target is ignored)
        wt = np.where(valid, w[np.where(valid, t, 0)], 0) if w.size else np.zeros(t.shape)
    div = float(np.sum(np.where(valid, wt, 0.0)))
    return abs(grad_scale) * 2 * wmax / div if div > 0 else 0.0


def loss_atol(x, reduction, w, dtype):
    """Absolute slack of the loss: a few ULP of each sample's log-sum-exp."""
    wmax = 1.0 if w is None else float(np.max(np.abs(w), initial=0.0))
    per = 8 * EPS[np.dtype(dtype)] * wmax
    return per * (_samples(x) if reduction == "sum" else 1)
