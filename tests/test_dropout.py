"""Dropout: the Philox generator (known-answer vectors), the mask against the NumPy
reference, reproducibility, thread-count and ISA independence, the keep rate, the p = 0 / 1 /
eval rules, out= and the backward."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastopt
from fastopt import reference as R
from fastopt.reference import _losses as RL


def test_philox_known_answers():
    """Random123's kat_vectors for philox4x32_10 (counter words 2, 3 are 0 here)."""
    r = RL.philox4x32_10(np.array([0], dtype=np.uint64), 0).ravel()
    assert [int(v) for v in r] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 63, 64, 65, 1000, 100003])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_dropout_matches_reference(n, p, dtype, isa):
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    for seed in (0, 12345, 2**64 - 1):
        y, mask = fastopt.dropout(x, p, seed=seed)
        ye, me = R.dropout(x, p, seed=seed)
        assert mask.dtype == np.bool_ and mask.shape == x.shape
        assert np.array_equal(mask, me)
        assert np.array_equal(y, ye) and y.dtype == dtype


def test_dropout_reproducible_and_seed_dependent():
    x = np.ones((37, 41), np.float32)
    a = fastopt.dropout(x, 0.5, seed=42)
    b = fastopt.dropout(x, 0.5, seed=42)
    c = fastopt.dropout(x, 0.5, seed=43)
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0])
    assert not np.array_equal(a[1], c[1])
    # the mask depends on the element index only, not on the shape or dtype
    d = fastopt.dropout(x.astype(np.float64).ravel(), 0.5, seed=42)
    assert np.array_equal(a[1].ravel(), d[1])


def test_dropout_thread_count_independent():
    x = np.random.default_rng(0).standard_normal(1_000_003).astype(np.float32)
    before = fastopt.get_num_threads()
    try:
        res = []
        for n in (1, 2, 3):
            fastopt.set_num_threads(n)
            res.append(fastopt.dropout(x, 0.3, seed=99))
    finally:
        fastopt.set_num_threads(before)
    for y, m in res[1:]:
        assert np.array_equal(y, res[0][0]) and np.array_equal(m, res[0][1])


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.77])
def test_dropout_keep_rate(p):
    n = 1_000_000
    _, mask = fastopt.dropout(np.ones(n, np.float32), p, seed=2024)
    keep = mask.mean()
    sd = math.sqrt(p * (1 - p) / n)
    assert abs(keep - (1 - p)) < 5 * sd, (keep, 1 - p)
    # neighbouring elements (one Philox call gives 4 lanes) are not correlated
    m = mask.astype(np.float64)
    corr = np.corrcoef(m[:-1], m[1:])[0, 1]
    assert abs(corr) < 5 / math.sqrt(n)


def test_dropout_values_and_special_cases(dtype):
    x = np.array([1.0, -2.0, np.nan, np.inf, -0.0, 3.5] * 10, dtype=dtype)
    y, mask = fastopt.dropout(x, 0.25, seed=1)
    scale = dtype(1) / dtype(0.75)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(y[mask], x[mask] * scale)
        np.testing.assert_array_equal(y[~mask], x[~mask] * dtype(0))  # NaN and inf dropped give NaN, as torch
    # p = 0 and eval mode: the identity (bitwise, -0 and NaN kept); p = 1: x * 0
    for kw in ({"p": 0.0}, {"p": 0.7, "training": False}):
        y0, m0 = fastopt.dropout(x, seed=5, **kw)
        assert m0.all() and np.array_equal(y0.view(np.uint8), x.view(np.uint8))
    y1, m1 = fastopt.dropout(x, 1.0, seed=5)
    assert not m1.any()
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(y1, x * dtype(0))


def test_dropout_out_and_in_place(dtype):
    x = np.random.default_rng(0).standard_normal((50, 3)).astype(dtype)
    y, m = fastopt.dropout(x, 0.4, seed=3)
    out = np.empty_like(x)
    y2, m2 = fastopt.dropout(x, 0.4, seed=3, out=out)
    assert y2 is out and np.array_equal(out, y) and np.array_equal(m, m2)
    x2 = x.copy()
    y3, _ = fastopt.dropout(x2, 0.4, seed=3, out=x2)
    assert y3 is x2 and np.array_equal(x2, y)


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_dropout_backward(p, dtype, isa):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(1001).astype(dtype)
    gy = rng.standard_normal(1001).astype(dtype)
    _, mask = fastopt.dropout(x, p, seed=8)
    gx = fastopt.dropout_backward(gy, mask, p)
    assert np.array_equal(gx, R.dropout_backward(gy, mask, p))
    if p < 1:
        np.testing.assert_array_equal(gx, np.where(mask, gy * (dtype(1) / dtype(1 - p)), 0))
    else:
        assert not gx.any()
    # a uint8 mask is accepted too; out= and in place
    out = np.empty_like(gy)
    assert fastopt.dropout_backward(gy, mask.view(np.uint8), p, out=out) is out and np.array_equal(out, gx)
    g2 = gy.copy()
    fastopt.dropout_backward(g2, mask, p, out=g2)
    assert np.array_equal(g2, gx)
