"""fastopt.optim's max_grad_norm clips by the norm of every grad the step reads, as
torch.nn.utils.clip_grad_norm_(all params) before the step: across param groups and across
param dtypes within a group, not per fused call."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastopt import optim


def _params(rng, dtypes):
    return [rng.standard_normal(7).astype(dt) for dt in dtypes]


def _run(groups_of, grads, lr=0.05, **kw):
    """An Adam over ``groups_of`` (a list of param lists), one step with ``grads``."""
    opt = optim.Adam([{"params": ps} for ps in groups_of], lr=lr, **kw)
    return opt, opt.step(grads)


@pytest.mark.parametrize("layout", ["two groups", "two dtypes in a group"])
def test_norm_and_update_are_global(layout):
    dtypes = [np.float64, np.float64] if layout == "two groups" else [np.float64, np.float32]
    a, b = _params(np.random.default_rng(0), dtypes)
    a_ref, b_ref, a_flat, b_flat = a.copy(), b.copy(), a.copy(), b.copy()
    grads = [np.full(7, 3.0, a.dtype), np.full(7, 4.0, b.dtype)]
    norm = math.sqrt(7 * 9 + 7 * 16)
    _, results = _run([[a], [b]] if layout == "two groups" else [[a, b]], grads, max_grad_norm=1.0)
    assert len(results) == 2  # two fused calls either way
    for r in results:
        assert r.grad_norm == pytest.approx(norm, rel=1e-12)
    # the same update as clipping the grads by hand first, then stepping without clipping
    coef = 1.0 / (norm + 1e-6)
    _run([[a_ref], [b_ref]], [(g * coef).astype(g.dtype) for g in grads])
    np.testing.assert_allclose(a, a_ref, rtol=1e-12)
    np.testing.assert_allclose(b, b_ref, rtol=1e-6)
    if layout == "two groups":  # one group holding both: one fused call, the kernel's own norm pass
        _, (r,) = _run([[a_flat, b_flat]], grads, max_grad_norm=1.0)
        assert r.grad_norm == pytest.approx(norm, rel=1e-12)
        np.testing.assert_allclose(a_flat, a, rtol=1e-12)
        np.testing.assert_allclose(b_flat, b, rtol=1e-12)


def test_unclipped_group_beside_a_clipped_one():
    rng = np.random.default_rng(1)
    a, b = _params(rng, [np.float64, np.float64])
    a0, b0 = a.copy(), b.copy()
    grads = [np.full(7, 3.0), np.full(7, 4.0)]
    opt = optim.Adam([{"params": [a], "max_grad_norm": 0.5}, {"params": [b]}], lr=0.05)
    results = opt.step(grads)
    norm = math.sqrt(7 * 9 + 7 * 16)
    assert all(r.grad_norm == pytest.approx(norm) for r in results)
    coef = 0.5 / (norm + 1e-6)
    _run([[a0], [b0]], [grads[0] * coef, grads[1]])  # the second group is not clipped
    np.testing.assert_allclose(a, a0, rtol=1e-12)
    np.testing.assert_allclose(b, b0, rtol=1e-12)


def test_grad_scale_is_unscaled_first():
    rng = np.random.default_rng(2)
    a, b = _params(rng, [np.float64, np.float64])
    a0, b0 = a.copy(), b.copy()
    grads = [np.full(7, 3.0), np.full(7, 4.0)]
    opt = optim.Adam([{"params": [a]}, {"params": [b]}], lr=0.05, max_grad_norm=1.0)
    results = opt.step([g * 1024.0 for g in grads], grad_scale=1024.0)
    assert results[0].grad_norm == pytest.approx(math.sqrt(7 * 25))
    opt0 = optim.Adam([{"params": [a0]}, {"params": [b0]}], lr=0.05, max_grad_norm=1.0)
    opt0.step(grads)
    np.testing.assert_allclose(a, a0, rtol=1e-12)
    np.testing.assert_allclose(b, b0, rtol=1e-12)


def test_bad_max_grad_norm_changes_nothing():
    rng = np.random.default_rng(3)
    a, b = _params(rng, [np.float64, np.float64])
    opt = optim.Adam([{"params": [a]}, {"params": [b]}], lr=0.05)
    opt.param_groups[1]["max_grad_norm"] = -1.0
    before = a.copy(), b.copy()
    with pytest.raises(ValueError, match="max_grad_norm"):
        opt.step([np.ones(7), np.ones(7)])
    np.testing.assert_array_equal(a, before[0])
    np.testing.assert_array_equal(b, before[1])
    assert not opt.state
