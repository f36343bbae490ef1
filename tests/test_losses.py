"""softmax / log_softmax (forward and backward), cross_entropy, nll_loss and the elementwise
losses against fastopt.reference: option combinations x dtype x ISA, edge values, thread
counts (bitwise), hypothesis shapes and values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from _loss_helpers import (EPS, GRAD_TOL, LOSS_RTOL, SOFTMAX_TOL, assert_allclose_nan, ce_grad_scale, check_loss_pair,
                           loss_atol)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastopt
from fastopt import reference as R

# --------------------------------------------------------------------------------------------
# softmax / log_softmax
# --------------------------------------------------------------------------------------------

SOFTMAX_CASES = [
    ((), -1),
    ((0,), -1),
    ((1,), 0),
    ((7,), 0),
    ((3, 5), -1),
    ((3, 5), 0),
    ((4, 0, 3), 1),
    ((2, 1500), -1),  # more than one online chunk per row
    ((2, 33, 70), 1),  # strided rows, a partial tile
    ((5, 3, 4, 2), 2),
    ((5, 3, 4, 2), -4),
    ((257, 65), -1),
    ((1000, 10), -1),  # short rows: class-major blocks of 64 rows, a partial last block
    ((131, 32), -1),  # the longest short row
    ((65, 1), -1),
]


def _softmax_pair(log):
    return (fastopt.log_softmax, R.log_softmax) if log else (fastopt.softmax, R.softmax)


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,axis", SOFTMAX_CASES, ids=str)
def test_softmax_vs_reference(log, shape, axis, dtype, isa, rng):
    fast, ref = _softmax_pair(log)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    y = fast(x, axis=axis)
    rtol, atol = SOFTMAX_TOL[np.dtype(dtype)]
    assert y.dtype == dtype and y.shape == x.shape
    # log_softmax: an absolute error of a few ULP of the row's log-sum-exp
    scale = 1.0 if not log else 1.0 + float(np.max(np.abs(x), initial=0.0))
    assert_allclose_nan(y, ref(x, axis=axis), rtol, atol * scale, "forward")
    gy = rng.standard_normal(shape).astype(dtype)
    fb = fastopt.log_softmax_backward if log else fastopt.softmax_backward
    rb = R.log_softmax_backward if log else R.softmax_backward
    gscale = 1.0 + float(np.sum(np.abs(gy), axis=axis if gy.ndim else None, keepdims=False).max(initial=0.0))
    assert_allclose_nan(fb(gy, y, axis=axis), rb(gy, y, axis=axis), rtol, atol * gscale, "backward")


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_edges(log, axis, dtype, isa):
    fast, ref = _softmax_pair(log)
    inf, nan = np.inf, np.nan
    rows = [
        [1e4, -1e4, 0.0, 1e4],
        [-1e4, -1e4, -1e4, -1e4],
        [-inf, 0.0, 1.0, -inf],
        [-inf, -inf, -inf, -inf],  # NaN, as torch
        [nan, 0.0, 1.0, 2.0],
        [inf, 0.0, 1.0, 2.0],  # NaN (inf - inf)
        [0.0, 0.0, 0.0, 0.0],
        [88.0, 89.0, -100.0, 3.0],
    ]
    x = np.array(rows, dtype=dtype)  # each row is one softmax row
    if axis == 0:
        x_in = np.ascontiguousarray(x.T)  # rows along axis 0: strided
    elif axis == 1:
        x_in = np.ascontiguousarray(np.stack([x, x[::-1]]).transpose(1, 2, 0))  # (8, 4, 2): strided, inner 2
    else:
        x_in = x
    rtol, atol = SOFTMAX_TOL[np.dtype(dtype)]
    assert_allclose_nan(fast(x_in, axis=axis), ref(x_in, axis=axis), rtol, atol * 2e4, "edges")


def test_softmax_long_row_with_leading_neg_inf(dtype, isa):
    """The online max/sum: a first chunk of only -inf, then finite values (and a NaN row)."""
    x = np.full((2, 3000), -np.inf, dtype=dtype)
    x[:, 2000:] = np.linspace(-5, 5, 1000)
    x[1, 100] = np.nan
    y = fastopt.softmax(x)
    assert_allclose_nan(y, R.softmax(x), *SOFTMAX_TOL[np.dtype(dtype)], "softmax")
    assert np.isnan(y[1]).all() and abs(float(y[0].sum()) - 1.0) < 1e-5


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_out_and_in_place(log, dtype):
    fast, ref = _softmax_pair(log)
    x = np.random.default_rng(0).standard_normal((6, 40)).astype(dtype)
    expected = fast(x)
    out = np.empty_like(x)
    assert fast(x, out=out) is out and np.array_equal(out, expected)
    x2 = x.copy()
    assert fast(x2, out=x2) is x2 and np.array_equal(x2, expected)
    xt = np.asfortranarray(x)  # a non-contiguous input is read through a copy
    assert np.array_equal(fast(xt), expected)


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,axis", [((3000, 257), -1), ((64, 50, 40), 1), ((70001, 10), -1)], ids=str)
def test_softmax_threads_bitwise(log, shape, axis):
    fast, _ = _softmax_pair(log)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    gy = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    fb = fastopt.log_softmax_backward if log else fastopt.softmax_backward
    before = fastopt.get_num_threads()
    try:
        res = []
        for n in (1, 2):
            fastopt.set_num_threads(n)
            y = fast(x, axis=axis)
            res.append((y, fb(gy, y, axis=axis)))
    finally:
        fastopt.set_num_threads(before)
    assert np.array_equal(res[0][0], res[1][0]) and np.array_equal(res[0][1], res[1][1])


# --------------------------------------------------------------------------------------------
# cross_entropy / nll_loss
# --------------------------------------------------------------------------------------------

CE_SHAPES = [(1, 1), (5, 1), (7, 3), (33, 10), (4, 600), (3, 5, 4), (2, 4, 3, 5), (2, 3, 40)]
REDUCTIONS = ["mean", "sum", "none"]


def make_ce_inputs(rng, shape, dtype, *, prob=False, weighted=False, ignore=True, target_dtype=np.int64):
    C = shape[1]
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    sample = (shape[0],) + shape[2:]
    if prob:
        q = rng.random(shape)
        t = (q / q.sum(axis=1, keepdims=True)).astype(dtype)
    else:
        t = rng.integers(0, C, sample).astype(target_dtype)
        if ignore and t.size > 1:
            t.flat[rng.integers(0, t.size, max(1, t.size // 4))] = -100
    w = rng.uniform(0.2, 2.0, C).astype(dtype) if weighted else None
    return x, t, w


@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["noweight", "weight"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("prob", [False, True], ids=["index", "prob"])
def test_cross_entropy_vs_reference(shape, reduction, weighted, smoothing, prob, dtype, rng):
    x, t, w = make_ce_inputs(rng, shape, dtype, prob=prob, weighted=weighted)
    kw = dict(weight=w, reduction=reduction, label_smoothing=smoothing, grad_scale=0.75)
    actual = fastopt.cross_entropy(x, t, **kw)
    expected = R.cross_entropy(x, t, **kw)
    check_loss_pair(actual, expected, dtype, ce_grad_scale(x, t, w, reduction, 0.75, prob), f"{kw}",
                    loss_atol=loss_atol(x, reduction, w, dtype))
    only = fastopt.cross_entropy(x, t, grad=False, **kw)  # the same loss bits without the gradient
    assert np.array_equal(np.asarray(only), np.asarray(actual[0]), equal_nan=True)


@pytest.mark.parametrize("shape", [(9, 7), (65, 300), (3, 4, 70)], ids=str)
@pytest.mark.parametrize("options", list(itertools.product([False, True], [0.0, 0.1], [False, True])),
                         ids=lambda o: f"w{int(o[0])}-ls{o[1]}-p{int(o[2])}")
def test_cross_entropy_each_isa(shape, options, dtype, isa, rng):
    weighted, smoothing, prob = options
    x, t, w = make_ce_inputs(rng, shape, dtype, prob=prob, weighted=weighted)
    for reduction in REDUCTIONS:
        kw = dict(weight=w, reduction=reduction, label_smoothing=smoothing)
        check_loss_pair(fastopt.cross_entropy(x, t, **kw), R.cross_entropy(x, t, **kw), dtype,
                        ce_grad_scale(x, t, w, reduction, 1.0, prob), f"{isa} {kw}",
                        loss_atol=loss_atol(x, reduction, w, dtype))


def test_cross_entropy_1d_logits_and_int32(dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(6).astype(dtype)
    for t in (np.array(3), np.array(3, dtype=np.int32)):
        for reduction in REDUCTIONS:
            a = fastopt.cross_entropy(x, t, reduction=reduction)
            check_loss_pair(a, R.cross_entropy(x, t, reduction=reduction), dtype, 2.0)
            assert np.shape(a[0]) == ()
    x2, t2, w2 = make_ce_inputs(rng, (40, 9), dtype, weighted=True)
    a64 = fastopt.cross_entropy(x2, t2, weight=w2)
    a32 = fastopt.cross_entropy(x2, t2.astype(np.int32), weight=w2)
    assert a64[0] == a32[0] and np.array_equal(a64[1], a32[1])


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("target_dtype", [np.int64, np.int32])
def test_class_target_misaligned_is_copied(name, target_dtype, dtype):
    """A C-contiguous but misaligned int32/int64 target was read in place (np.ascontiguousarray
    returns it as it is): misaligned int64_t loads (UBSan: undefined behaviour), and an ``out``
    holding such a target was refused as overlapping an input instead of the target being
    copied first, as every misaligned input is. Found by tests/test_fuzz_loss_contract.py
    under .ci/sanitize."""
    fast, ref = getattr(fastopt, name), getattr(R, name)
    x = np.random.default_rng(7).standard_normal((5, 3)).astype(dtype)
    values = np.array([0, 2, 1, -100, 2], target_dtype)
    buf = np.zeros(values.nbytes + 1, np.uint8)
    t = buf[1:].view(target_dtype)  # misaligned, C-contiguous
    t[...] = values
    assert not t.flags.aligned and t.flags.c_contiguous
    expected = ref(x, values, reduction="sum")
    check_loss_pair(fast(x, t, reduction="sum"), expected, dtype, 2.0)
    for nd in (0, 1):  # a 0-d target of (C,) logits too
        t0 = np.zeros(9, np.uint8)[1:].view(target_dtype)[:1].reshape(() if nd == 0 else (1,))
        t0[...] = 2
        x0 = x[0] if nd == 0 else x[:1]
        check_loss_pair(fast(x0, t0), ref(x0, t0.copy()), dtype, 2.0)
    # a misaligned target inside out's memory: copied first, so as if there were no overlap
    out = np.zeros(x.shape, dtype)
    tin = out.reshape(-1).view(np.uint8)[1:1 + values.nbytes].view(target_dtype)
    tin[...] = values
    loss, g = fast(x, tin, reduction="sum", out=out)
    assert g is out
    check_loss_pair((loss, g), expected, dtype, 2.0)


def test_cross_entropy_grad_false_and_scale(dtype):
    rng = np.random.default_rng(6)
    x, t, w = make_ce_inputs(rng, (20, 11), dtype, weighted=True)
    loss, g = fastopt.cross_entropy(x, t, weight=w, label_smoothing=0.2)
    only = fastopt.cross_entropy(x, t, weight=w, label_smoothing=0.2, grad=False)
    assert isinstance(only, np.floating) and only == loss and only.dtype == dtype
    loss3, g3 = fastopt.cross_entropy(x, t, weight=w, label_smoothing=0.2, grad_scale=-3.0)
    assert loss3 == loss
    atol = 8 * EPS[np.dtype(dtype)] * float(np.max(np.abs(g3)))  # A * p - w * eps / C cancels
    assert_allclose_nan(g3, -3.0 * g.astype(np.float64), 4 * EPS[np.dtype(dtype)], atol, "grad_scale")


def test_cross_entropy_edges(dtype, isa):
    inf, nan = np.inf, np.nan
    x = np.array(
        [
            [1e4, -1e4, 0.0, 5.0],
            [-1e4, -1e4, -1e4, -1e4],
            [1e4, 1e4, -1e4, 1e4],
            [-inf, 0.0, 1.0, 2.0],
            [0.0, -inf, 1.0, 2.0],  # target logit -inf: inf loss
            [nan, 0.0, 1.0, 2.0],  # NaN loss
            [-inf, -inf, -inf, -inf],  # NaN loss
            [3.0, 3.0, 3.0, 3.0],
        ],
        dtype=dtype,
    )
    t = np.array([1, 0, 3, 2, 1, 2, 0, 0])
    for smoothing in (0.0, 0.3):
        for reduction in REDUCTIONS:
            a = fastopt.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing)
            e = R.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing)
            check_loss_pair(a, e, dtype, 2.0, f"{reduction} {smoothing}", loss_atol=8 * EPS[np.dtype(dtype)] * 8)
    none, _ = fastopt.cross_entropy(x, t, reduction="none")
    assert none[4] == np.inf and np.isnan(none[5]) and np.isnan(none[6])
    assert abs(float(none[0]) - 2e4) < 1e-2 and float(none[7]) == pytest.approx(math.log(4), rel=1e-6)


def test_cross_entropy_all_ignored_and_empty(dtype):
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(dtype)
    t = np.full(4, -100)
    for smoothing in (0.0, 0.5):
        loss, g = fastopt.cross_entropy(x, t, label_smoothing=smoothing)
        assert np.isnan(loss) and loss.dtype == dtype  # 0 / 0, as torch
        assert np.array_equal(g, np.zeros_like(x))
        loss, g = fastopt.cross_entropy(x, t, reduction="sum", label_smoothing=smoothing)
        assert loss == 0
    for shape in [(0, 5), (0, 5, 3), (2, 5, 0)]:
        x0 = np.zeros(shape, dtype)
        t0 = np.zeros((shape[0],) + shape[2:], dtype=np.int64)
        loss, g = fastopt.cross_entropy(x0, t0)
        assert np.isnan(loss) and g.shape == shape
        assert fastopt.cross_entropy(x0, t0, reduction="sum")[0] == 0
        assert fastopt.cross_entropy(x0, t0, reduction="none")[0].shape == t0.shape
        assert np.isnan(fastopt.cross_entropy(x0, np.zeros(shape, dtype))[0])


@pytest.mark.parametrize("shape", [(0,), (3, 0), (2, 0, 3)], ids=str)
def test_class_losses_without_classes(shape, dtype):
    """C = 0 (every index target ignored, or probability targets of no class): the kernels give
    NaN ('mean' of index targets: 0 / 0), 0 or per-sample zeros and an empty gradient; the
    reference crashed (ZeroDivisionError on eps / C, IndexError taking the target class).
    Found by tests/test_fuzz_loss_contract.py."""
    x = np.zeros(shape, dtype)
    sample = shape[:1] + shape[2:] if len(shape) > 1 else ()
    index = np.full(sample, -100)
    calls = [(fastopt.nll_loss, R.nll_loss, index, {})]
    for ls in (0.0, 0.3):
        calls += [(fastopt.cross_entropy, R.cross_entropy, t, {"label_smoothing": ls}) for t in (index, x.copy())]
    for fast, ref, t, kw in calls:
        for reduction in REDUCTIONS:
            for w in (None, np.ones(0, dtype)):
                kw2 = dict(kw, reduction=reduction, weight=w)
                check_loss_pair(fast(x, t, **kw2), ref(x, t, **kw2), dtype, 1.0, f"{fast.__name__} {kw2}")


def test_cross_entropy_ignore_index_is_a_class(dtype):
    rng = np.random.default_rng(3)
    x, t, w = make_ce_inputs(rng, (30, 5), dtype, weighted=True, ignore=False)
    for reduction in REDUCTIONS:
        kw = dict(weight=w, ignore_index=2, reduction=reduction, label_smoothing=0.1)
        check_loss_pair(fastopt.cross_entropy(x, t, **kw), R.cross_entropy(x, t, **kw), dtype, 2 * 2.0,
                        loss_atol=loss_atol(x, reduction, w, dtype))


@pytest.mark.parametrize("C", list(range(1, 18)) + [24, 31, 32, 33])
def test_cross_entropy_small_c_tiles(C, dtype, isa):
    """The few-class path moves each block of rows through register tiles (float: 16 x 16 on
    AVX-512, 8 x 8 on AVX2; double: 8 x 8 and 4 x 4) with masked loads and stores; float32 with
    C <= 16 on AVX-512 has its own kernel per class count (cross_entropy_rows16.hpp): every
    class count up to 17 and around the tile widths, row counts with partial tiles and partial
    64-row blocks, every option, against the reference; the result is the same for 1 and 2
    threads, and with out= and int32 targets."""
    rng = np.random.default_rng(C)
    for n in (1, 13, 70, 100, 7001):
        x = (rng.standard_normal((n, C)) * 3).astype(dtype)
        t = rng.integers(0, C, n)
        t[rng.integers(0, n, max(1, n // 5))] = -100
        w = rng.uniform(0.5, 2, C).astype(dtype)
        for kw in ({}, {"weight": w}, {"label_smoothing": 0.2}, {"weight": w, "label_smoothing": 0.2},
                   {"weight": w, "ignore_index": C // 2}):
            tk = np.where(t == -100, kw["ignore_index"], t) if "ignore_index" in kw else t
            for reduction in REDUCTIONS:
                kw2 = dict(kw, reduction=reduction)
                before = fastopt.get_num_threads()
                try:
                    fastopt.set_num_threads(1)
                    a = fastopt.cross_entropy(x, tk, **kw2)
                    fastopt.set_num_threads(2)
                    g = np.full_like(x, np.nan)
                    b = fastopt.cross_entropy(x, tk.astype(np.int32), out=g, **kw2)
                finally:
                    fastopt.set_num_threads(before)
                assert b[1] is g
                assert np.array_equal(np.asarray(a[0]), np.asarray(b[0]), equal_nan=True), (n, kw2)
                assert np.array_equal(a[1], b[1], equal_nan=True), (n, kw2)
                e = R.cross_entropy(x, tk, **kw2)
                check_loss_pair(a, e, dtype, ce_grad_scale(x, tk, w if "weight" in kw else None, reduction, 1.0, False,
                                                           kw.get("ignore_index", -100)),
                                f"n={n} {kw2}", loss_atol=loss_atol(x, reduction, w, dtype))


@pytest.mark.parametrize("C", [10, 40])
def test_cross_entropy_int32_targets_any_ignore_index(C, dtype, isa):
    """ignore_index is an int64: with int32 targets one outside the int32 range matches no
    target, and INT32_MIN matches exactly the targets equal to it (the C <= 16 kernel compares
    in 32 bits only when ignore_index fits)."""
    rng = np.random.default_rng(C)
    x = rng.standard_normal((100, C)).astype(dtype)
    t = rng.integers(0, C, 100).astype(np.int32)
    for ig in (2**40, -(2**40), 2**31, -(2**31) - 1):
        a, e = fastopt.cross_entropy(x, t, ignore_index=ig), R.cross_entropy(x, t.astype(np.int64), ignore_index=ig)
        check_loss_pair(a, e, dtype, ce_grad_scale(x, t, None, "mean", 1.0, False, ig), f"ignore_index={ig}")
    t[[0, 17, 99]] = np.iinfo(np.int32).min
    ig = int(np.iinfo(np.int32).min)
    a, e = fastopt.cross_entropy(x, t, ignore_index=ig), R.cross_entropy(x, t.astype(np.int64), ignore_index=ig)
    assert not a[1][[0, 17, 99]].any()
    check_loss_pair(a, e, dtype, ce_grad_scale(x, t, None, "mean", 1.0, False, ig), f"ignore_index={ig}")


@pytest.mark.parametrize("shape", [(3000, 100), (8, 7, 5000), (40000, 3)], ids=str)
@pytest.mark.parametrize("prob", [False, True], ids=["index", "prob"])
def test_cross_entropy_threads_bitwise(shape, prob):
    rng = np.random.default_rng(11)
    x, t, w = make_ce_inputs(rng, shape, np.float32, prob=prob, weighted=True)
    before = fastopt.get_num_threads()
    res = []
    try:
        for n in (1, 2, 3):
            fastopt.set_num_threads(n)
            res.append([fastopt.cross_entropy(x, t, weight=w, reduction=r, label_smoothing=0.1) for r in REDUCTIONS])
    finally:
        fastopt.set_num_threads(before)
    for other in res[1:]:
        for (l0, g0), (l1, g1) in zip(res[0], other):
            assert np.array_equal(np.asarray(l0), np.asarray(l1)) and np.array_equal(g0, g1)
    # and within 1e-6 relative of the float64 reference
    e = R.cross_entropy(x.astype(np.float64), t if not prob else t.astype(np.float64), weight=w.astype(np.float64),
                        label_smoothing=0.1)
    assert abs(float(res[0][0][0]) - float(e[0])) <= 1e-6 * abs(float(e[0]))


@pytest.mark.parametrize("shape", [(1, 1), (6, 4), (5, 3, 7), (300, 50)], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["noweight", "weight"])
def test_nll_loss_vs_reference(shape, reduction, weighted, dtype, isa, rng):
    x, t, w = make_ce_inputs(rng, shape, dtype, weighted=weighted)
    lp = R.log_softmax(x, axis=1)
    kw = dict(weight=w, reduction=reduction, grad_scale=1.5)
    check_loss_pair(fastopt.nll_loss(lp, t, **kw), R.nll_loss(lp, t, **kw), dtype,
                    ce_grad_scale(x, t, w, reduction, 1.5, False), loss_atol=loss_atol(x, reduction, w, dtype))


@pytest.mark.parametrize("shape", [(64, 10, 2000), (3, 7, 50001), (70001, 5)], ids=str)
def test_nll_loss_zeroes_every_gradient_entry(shape, nthreads):
    """nll_loss zeroes its gradient block by block (a block of samples owns whole rows, or per
    (sample, class) a run of the spatial positions): every entry of a garbage-filled out= is
    written, on 1 and 2 threads, over many blocks, with blocks that start mid-row."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    t.flat[::7] = -100
    out = np.full_like(x, 7.0)
    loss, g = fastopt.nll_loss(x, t, out=out)
    expected_loss, expected_grad = R.nll_loss(x, t)
    assert g is out
    np.testing.assert_array_equal(g, np.asarray(expected_grad, np.float32))
    assert abs(float(loss) - float(expected_loss)) <= 1e-6 * abs(float(expected_loss))


def test_nll_all_ignored(dtype):
    lp = np.full((3, 4), -1.0, dtype)
    loss, g = fastopt.nll_loss(lp, np.full(3, -100))
    assert np.isnan(loss) and not g.any()
    assert fastopt.nll_loss(lp, np.array([0, -100, 3]), grad=False) == dtype(1.0)


# --------------------------------------------------------------------------------------------
# elementwise losses
# --------------------------------------------------------------------------------------------

POINTWISE = [
    ("mse_loss", {}),
    ("l1_loss", {}),
    ("smooth_l1_loss", {"beta": 1.0}),
    ("smooth_l1_loss", {"beta": 0.5}),
    ("smooth_l1_loss", {"beta": 0.0}),
    ("huber_loss", {"delta": 1.0}),
    ("huber_loss", {"delta": 2.5}),
    ("binary_cross_entropy_with_logits", {}),
]


def _pointwise_inputs(name, rng, shape, dtype):
    a = (rng.standard_normal(shape) * 3).astype(dtype)
    if name.startswith("binary"):
        b = rng.random(shape).astype(dtype)
    else:
        b = (rng.standard_normal(shape) * 3).astype(dtype)
        if a.size > 2:
            b.flat[:2] = a.flat[:2]  # d = 0: the l1 gradient is 0 there
    return a, b


@pytest.mark.parametrize("name,kw", POINTWISE, ids=lambda v: v if isinstance(v, str) else str(v))
@pytest.mark.parametrize("shape", [(0,), (1,), (17,), (4, 33), (70001,)], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_vs_reference(name, kw, shape, reduction, dtype, isa, rng):
    a, b = _pointwise_inputs(name, rng, shape, dtype)
    f, r = getattr(fastopt, name), getattr(R, name)
    actual = f(a, b, reduction=reduction, grad_scale=2.0, **kw)
    expected = r(a, b, reduction=reduction, grad_scale=2.0, **kw)
    n = max(1, a.size)
    gs = 2.0 * (6 if name == "mse_loss" else 3) * float(np.max(np.abs(a), initial=1)) / (n if reduction == "mean" else 1)
    check_loss_pair(actual, expected, dtype, gs, name, loss_atol=EPS[np.dtype(dtype)] * 4 * (n if reduction == "sum" else 1))
    if shape == (0,) and reduction == "mean":
        assert np.isnan(actual[0])


def test_bce_weights_and_edges(dtype, isa):
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((6, 5)) * 4).astype(dtype)
    x[0] = [1e4, -1e4, 0.0, 100.0, -100.0]
    t = rng.random((6, 5)).astype(dtype)
    t[0] = [0.0, 1.0, 0.5, 0.0, 1.0]
    w = rng.uniform(0.5, 2, (6, 1)).astype(dtype)
    pw = rng.uniform(0.5, 3, 5).astype(dtype)
    for kw in ({}, {"weight": w}, {"pos_weight": pw}, {"weight": w, "pos_weight": pw}):
        for reduction in REDUCTIONS:
            a = fastopt.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw)
            e = R.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw)
            check_loss_pair(a, e, dtype, 8.0, str(kw), loss_atol=4 * EPS[np.dtype(dtype)] * 30)
    loss, _ = fastopt.binary_cross_entropy_with_logits(x[:1], t[:1], reduction="none")
    assert np.isfinite(loss).all() and abs(float(loss[0, 0]) - 1e4) < 1e-2
    xn = np.array([np.nan, 1.0], dtype)
    loss, g = fastopt.binary_cross_entropy_with_logits(xn, np.array([1.0, 0.0], dtype))
    assert np.isnan(loss) and np.isnan(g[0]) and np.isfinite(g[1])


@pytest.mark.parametrize("name,kw", POINTWISE[:2] + POINTWISE[-1:], ids=lambda v: v if isinstance(v, str) else str(v))
def test_pointwise_threads_bitwise(name, kw):
    rng = np.random.default_rng(4)
    a, b = _pointwise_inputs(name, rng, (300001,), np.float32)
    f = getattr(fastopt, name)
    before = fastopt.get_num_threads()
    try:
        res = []
        for n in (1, 2):
            fastopt.set_num_threads(n)
            res.append(f(a, b, **kw))
    finally:
        fastopt.set_num_threads(before)
    assert res[0][0] == res[1][0] and np.array_equal(res[0][1], res[1][1])
    e = getattr(R, name)(a.astype(np.float64), b.astype(np.float64), **kw)[0]
    assert abs(float(res[0][0]) - float(e)) <= 1e-6 * abs(float(e))


def test_pointwise_grad_false(dtype):
    a, b = _pointwise_inputs("mse_loss", np.random.default_rng(0), (50,), dtype)
    for name, kw in POINTWISE:
        f = getattr(fastopt, name)
        full = f(a, b, **kw)
        only = f(a, b, grad=False, **kw)
        assert only == full[0]
        none = f(a, b, reduction="none", grad=False, **kw)
        assert isinstance(none, np.ndarray) and none.shape == a.shape


# --------------------------------------------------------------------------------------------
# hypothesis
# --------------------------------------------------------------------------------------------


@st.composite
def ce_problem(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.integers(0, 9))
    c = draw(st.integers(1, 70))
    extra = tuple(draw(st.lists(st.integers(1, 4), max_size=2)))
    shape = (n, c) + extra
    elems = st.floats(-60, 60, allow_nan=False, width=32)
    x = draw(hnp.arrays(dtype, shape, elements=elems))
    sample = (n,) + extra
    t = draw(hnp.arrays(np.int64, sample, elements=st.sampled_from(list(range(c)) + [-100])))
    weighted = draw(st.booleans())
    w = draw(hnp.arrays(dtype, (c,), elements=st.floats(0.125, 3, width=32))) if weighted else None
    reduction = draw(st.sampled_from(REDUCTIONS))
    smoothing = draw(st.sampled_from([0.0, 0.1, 1.0]))
    return x, t, w, reduction, smoothing


@settings(max_examples=150, deadline=None)
@given(ce_problem())
def test_cross_entropy_hypothesis(problem):
    x, t, w, reduction, smoothing = problem
    kw = dict(weight=w, reduction=reduction, label_smoothing=smoothing)
    actual = fastopt.cross_entropy(x, t, **kw)
    expected = R.cross_entropy(x, t, **kw)
    atol = loss_atol(x, reduction, w, x.dtype) * (1 + float(np.max(np.abs(x), initial=0)))
    check_loss_pair(actual, expected, x.dtype, ce_grad_scale(x, t, w, reduction, 1.0, False) * 4, str(kw),
                    loss_atol=atol)


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(
        st.sampled_from([np.float32, np.float64]),
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=40),
        elements=st.floats(-1e4, 1e4, allow_nan=False, width=32),
    ),
    st.integers(-3, 2),
)
def test_softmax_hypothesis(x, axis):
    axis = axis % x.ndim
    rtol, atol = SOFTMAX_TOL[x.dtype]
    assert_allclose_nan(fastopt.softmax(x, axis=axis), R.softmax(x, axis=axis), rtol, atol, "softmax")
    scale = 1.0 + float(np.max(np.abs(x), initial=0.0))
    assert_allclose_nan(fastopt.log_softmax(x, axis=axis), R.log_softmax(x, axis=axis), rtol, atol * scale, "log")


@pytest.mark.parametrize("C", [5, 31, 32, 33, 1500, 40000])
def test_cross_entropy_long_and_short_rows(C, dtype, isa):
    """Rows over several online chunks whose max grows (or starts at -inf), and the flat
    small-C path (C <= 32), with weights, smoothing and ignored rows."""
    rng = np.random.default_rng(C)
    x = (rng.standard_normal((6, C)) * 3).astype(dtype)
    x[0] = np.linspace(-50, 50, C)  # the max grows chunk after chunk
    x[1, : C // 2] = -np.inf  # leading -inf chunks
    x[2] = np.linspace(50, -50, C)
    x[3, C // 3] = np.nan
    t = rng.integers(0, C, 6)
    t[4] = -100
    w = rng.uniform(0.5, 2, C).astype(dtype)
    t[1] = C - 1
    for kw in ({}, {"weight": w}, {"label_smoothing": 0.2}, {"weight": w, "label_smoothing": 0.2}):
        for reduction in REDUCTIONS:
            kw2 = dict(kw, reduction=reduction)
            a = fastopt.cross_entropy(x, t, **kw2)
            e = R.cross_entropy(x, t, **kw2)
            # loss slack: the kernel sums exp in float per chunk; log-sum-exp to ~1e-7 of |x|
            check_loss_pair(a, e, dtype, 2 * 2.0, str(kw2), loss_atol=loss_atol(x, reduction, w, dtype) * 60)
            assert np.array_equal(fastopt.cross_entropy(x, t, grad=False, **kw2), a[0], equal_nan=True)


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("C", [20, 700, 40000])
def test_softmax_in_place_long_rows(log, C, dtype):
    """In place over the flat short-row path and the chunked long-row path (y first holds
    exp(x - running max)), with a leading -inf chunk and a growing max."""
    fast, ref = _softmax_pair(log)
    x = np.random.default_rng(C).standard_normal((3, C)).astype(dtype)
    x[0] = np.linspace(-40, 40, C)
    x[1, : C // 2] = -np.inf
    expected = ref(x)
    y = x.copy()
    assert fast(y, out=y) is y
    rtol, atol = SOFTMAX_TOL[np.dtype(dtype)]
    assert_allclose_nan(y, expected, rtol, atol * 64, "in place")
    assert np.array_equal(y, fast(x))


def test_losses_from_many_python_threads():
    """The GIL is released: Python threads calling the losses at once get the results of
    calls made one at a time."""
    import threading

    rng = np.random.default_rng(21)
    jobs = []
    for k in range(8):
        x, t, w = make_ce_inputs(rng, (2000, 50 + k), np.float32, weighted=bool(k % 2))
        a = rng.standard_normal(100000).astype(np.float32)
        jobs.append((x, t, w, a))
    expected = [(fastopt.cross_entropy(x, t, weight=w), fastopt.mse_loss(a, a[::-1].copy()),
                 fastopt.dropout(a, 0.3, seed=k)) for k, (x, t, w, a) in enumerate(jobs)]
    results = [None] * len(jobs)
    barrier = threading.Barrier(4)

    def work(i0):
        barrier.wait()
        for k in range(i0, len(jobs), 4):
            x, t, w, a = jobs[k]
            results[k] = (fastopt.cross_entropy(x, t, weight=w), fastopt.mse_loss(a, a[::-1].copy()),
                          fastopt.dropout(a, 0.3, seed=k))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for got, exp in zip(results, expected):
        for (l1, g1), (l2, g2) in zip(got, exp):
            assert np.array_equal(l1, l2) and np.array_equal(g1, g2)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([name for name, _ in POINTWISE]),
    st.sampled_from([np.float32, np.float64]),
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=30),
    st.sampled_from(REDUCTIONS),
    st.data(),
)
def test_pointwise_hypothesis(name, dtype, shape, reduction, data):
    kw = dict(POINTWISE)[name] if name in ("mse_loss", "l1_loss", "binary_cross_entropy_with_logits") else {}
    elems = st.floats(-1e3, 1e3, allow_nan=False, width=32)
    a = data.draw(hnp.arrays(dtype, shape, elements=elems))
    b = data.draw(hnp.arrays(dtype, shape, elements=st.floats(0, 1, width=32) if name.startswith("binary") else elems))
    actual = getattr(fastopt, name)(a, b, reduction=reduction, **kw)
    expected = getattr(R, name)(a, b, reduction=reduction, **kw)
    n = max(1, a.size)
    scale = 2.0 * (1 + float(np.max(np.abs(a - b), initial=0))) / (n if reduction == "mean" else 1)
    big = 1.0 + float(np.max(np.abs(a), initial=0.0)) + float(np.max(np.abs(b), initial=0.0))
    check_loss_pair(actual, expected, dtype, scale, name,
                    loss_atol=8 * EPS[np.dtype(dtype)] * big * big * (n if reduction == "sum" else 1))


def test_non_contiguous_inputs_are_read_through_a_copy(dtype):
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((12, 7)) * 3).astype(dtype)
    xf = np.asfortranarray(x)
    t = rng.integers(0, 7, 24)[::2]  # a strided target
    w = rng.uniform(0.5, 2, 14).astype(dtype)[::2]
    a = fastopt.cross_entropy(xf, t, weight=w, label_smoothing=0.1)
    b = fastopt.cross_entropy(x, np.ascontiguousarray(t), weight=np.ascontiguousarray(w), label_smoothing=0.1)
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and a[1].flags.c_contiguous
    big = np.asarray(x, dtype=x.dtype.newbyteorder(">"))  # non-native byte order
    assert np.array_equal(fastopt.softmax(big), fastopt.softmax(x))
