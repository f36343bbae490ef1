"""Losses, softmax and dropout against torch.nn.functional: the loss and the autograd gradient
(skipped when torch is not installed)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _loss_helpers import EPS, assert_allclose_nan

import fastopt

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]
# torch's float32 log_softmax/exp and its float32 sums differ from ours by a few ULP; float64
# is held much tighter.
LOSS_RTOL = {np.float32: 1e-5, np.float64: 1e-12}
GRAD_ATOL = {np.float32: 2e-6, np.float64: 1e-13}


def torch_loss_and_grad(fn, x, *args, grad_scale=1.0, **kw):
    xt = torch.tensor(x, requires_grad=True)
    loss = fn(xt, *args, **kw)
    (loss.sum() * grad_scale).backward()
    return loss.detach().numpy(), xt.grad.numpy()


def compare(actual, expected, dtype, gscale=1.0, what=""):
    (la, ga), (le, ge) = actual, expected
    la = np.asarray(la)
    assert la.dtype == dtype and la.shape == np.shape(le), (la.dtype, la.shape, np.shape(le))
    assert_allclose_nan(la, le, LOSS_RTOL[dtype], LOSS_RTOL[dtype] * 1e-2, what + " loss")
    assert_allclose_nan(ga, ge, LOSS_RTOL[dtype], GRAD_ATOL[dtype] * gscale, what + " grad")


CE_SHAPES = [(1, 1), (6, 1), (8, 5), (16, 37), (3, 4, 5), (2, 6, 3, 4)]


@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize(
    "options",
    list(itertools.product([False, True], [-100, 1], [0.0, 0.2, 1.0], REDUCTIONS, [False, True])),
    ids=lambda o: f"w{int(o[0])}-ig{o[1]}-ls{o[2]}-{o[3]}-p{int(o[4])}",
)
def test_cross_entropy_vs_torch(shape, options, dtype, rng):
    weighted, ignore_index, smoothing, reduction, prob = options
    C = shape[1]
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    sample = (shape[0],) + shape[2:]
    if prob:
        q = rng.random(shape)
        t = (q / q.sum(axis=1, keepdims=True)).astype(dtype)
        tt = torch.tensor(t)
    else:
        t = rng.integers(0, C, sample)
        t.flat[:: max(1, t.size // 3)] = ignore_index if ignore_index < 0 else t.flat[:: max(1, t.size // 3)]
        tt = torch.tensor(t)
    w = rng.uniform(0.3, 2.0, C).astype(dtype) if weighted else None
    kw = dict(weight=w, ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    if prob and ignore_index != -100:  # torch refuses it; so does fastopt
        with pytest.raises(ValueError, match="ignore_index"):
            fastopt.cross_entropy(x, t, **kw)
        with pytest.raises(RuntimeError, match="ignore_index"):
            TF.cross_entropy(torch.tensor(x), tt, **dict(kw, weight=None if w is None else torch.tensor(w)))
        return
    actual = fastopt.cross_entropy(x, t, grad_scale=1.5, **kw)
    tkw = dict(kw, weight=None if w is None else torch.tensor(w))
    expected = torch_loss_and_grad(TF.cross_entropy, x, tt, grad_scale=1.5, **tkw)
    compare(actual, expected, dtype, 1.5 * 2 * 2.0, str(options))


@pytest.mark.parametrize("dtype_", [np.float32, np.float64], ids=["float32", "float64"])
def test_cross_entropy_edges_vs_torch(dtype_, isa):
    inf, nan = np.inf, np.nan
    x = np.array(
        [
            [1e4, -1e4, 0.0, 5.0],
            [-1e4, -1e4, -1e4, -1e4],
            [1e4, 1e4, -1e4, 1e4],
            [-inf, 0.0, 1.0, 2.0],
            [0.0, -inf, 1.0, 2.0],
            [nan, 0.0, 1.0, 2.0],
            [3.0, 3.0, 3.0, 3.0],
        ],
        dtype=dtype_,
    )
    t = np.array([1, 0, 3, 2, 1, 2, 0])
    for smoothing in (0.0, 0.3):
        for reduction in REDUCTIONS:
            a = fastopt.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing)
            e = torch_loss_and_grad(TF.cross_entropy, x, torch.tensor(t), reduction=reduction,
                                    label_smoothing=smoothing)
            la, le = np.asarray(a[0]), e[0]
            assert_allclose_nan(la, le, LOSS_RTOL[dtype_], 0.0, f"{reduction} {smoothing} loss")
            # gradients: rows whose loss is finite (torch's NaN/inf rows propagate differently
            # through autograd: a NaN row is all NaN in both)
            if reduction == "none":
                fin = np.isfinite(le)
                assert_allclose_nan(a[1][fin], e[1][fin], 1e-5, GRAD_ATOL[dtype_] * 2, "grad")
                assert np.isnan(a[1][5]).all() and np.isnan(e[1][5]).all()


def test_cross_entropy_all_ignored_vs_torch():
    x = np.random.default_rng(0).standard_normal((4, 3))
    t = np.full(4, -100)
    for smoothing in (0.0, 0.4):
        a = fastopt.cross_entropy(x, t, label_smoothing=smoothing)
        e = torch_loss_and_grad(TF.cross_entropy, x, torch.tensor(t), label_smoothing=smoothing)
        assert np.isnan(a[0]) and np.isnan(e[0])
        assert np.array_equal(a[1], e[1])


@pytest.mark.parametrize("shape", [(7, 4), (3, 5, 6)], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_vs_torch(shape, reduction, weighted, dtype, rng):
    x = np.log(rng.dirichlet(np.ones(shape[1]), (shape[0],) + shape[2:])).astype(dtype)
    x = np.moveaxis(x, -1, 1).copy()
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    t.flat[0] = -100
    w = rng.uniform(0.3, 2.0, shape[1]).astype(dtype) if weighted else None
    a = fastopt.nll_loss(x, t, weight=w, reduction=reduction, grad_scale=2.0)
    e = torch_loss_and_grad(TF.nll_loss, x, torch.tensor(t), weight=None if w is None else torch.tensor(w),
                            reduction=reduction, grad_scale=2.0)
    compare(a, e, dtype, 8.0)


POINTWISE = [
    ("mse_loss", TF.mse_loss, {}, {}),
    ("l1_loss", TF.l1_loss, {}, {}),
    ("smooth_l1_loss", TF.smooth_l1_loss, {"beta": 1.0}, {"beta": 1.0}),
    ("smooth_l1_loss", TF.smooth_l1_loss, {"beta": 0.3}, {"beta": 0.3}),
    ("smooth_l1_loss", TF.smooth_l1_loss, {"beta": 0.0}, {"beta": 0.0}),
    ("huber_loss", TF.huber_loss, {"delta": 1.0}, {"delta": 1.0}),
    ("huber_loss", TF.huber_loss, {"delta": 2.0}, {"delta": 2.0}),
]


@pytest.mark.parametrize("case", POINTWISE, ids=lambda c: f"{c[0]}{c[2]}")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_vs_torch(case, reduction, dtype, rng):
    name, tfn, kw, tkw = case
    a = (rng.standard_normal((13, 9)) * 2).astype(dtype)
    b = (rng.standard_normal((13, 9)) * 2).astype(dtype)
    b[0, :3] = a[0, :3]  # d = 0
    b[1, :2] = a[1, :2] + np.array([1.0, -2.0], dtype)  # |d| == beta / delta boundaries
    actual = getattr(fastopt, name)(a, b, reduction=reduction, grad_scale=0.5, **kw)
    expected = torch_loss_and_grad(tfn, a, torch.tensor(b), reduction=reduction, grad_scale=0.5, **tkw)
    compare(actual, expected, dtype, 4.0, name)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits_vs_torch(reduction, weights, dtype, rng):
    x = (rng.standard_normal((12, 5)) * 5).astype(dtype)
    x[0] = [1e4, -1e4, 0.0, 60.0, -60.0]
    t = rng.random((12, 5)).astype(dtype)
    t[1] = [0.0, 1.0, 0.0, 1.0, 0.5]
    w = rng.uniform(0.5, 2, (12, 1)).astype(dtype) if weights in ("weight", "both") else None
    pw = rng.uniform(0.5, 3, 5).astype(dtype) if weights in ("pos_weight", "both") else None
    actual = fastopt.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=reduction)
    expected = torch_loss_and_grad(
        TF.binary_cross_entropy_with_logits, x, torch.tensor(t), reduction=reduction,
        weight=None if w is None else torch.tensor(w), pos_weight=None if pw is None else torch.tensor(pw),
    )
    (la, ga), (le, ge) = actual, expected
    # torch evaluates (1 - t) x + softplus(-x) in the input dtype, which cancels for x << 0 with
    # t ~ 0 (fastopt assembles it in double): float32 agreement is to |x| * eps absolute.
    atol = 0.0 if dtype == np.float64 else 4 * EPS[np.dtype(dtype)] * 1e4 * 2 * 3
    assert_allclose_nan(np.asarray(la), le, LOSS_RTOL[dtype], atol * (60 if reduction == "sum" else 1), "loss")
    assert_allclose_nan(ga, ge, LOSS_RTOL[dtype], GRAD_ATOL[dtype] * 6, "grad")


@pytest.mark.parametrize("shape,axis", [((5, 7), -1), ((5, 7), 0), ((3, 4, 5), 1), ((2, 3, 4, 5), 2)], ids=str)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_vs_torch(shape, axis, log, dtype, rng):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    x.flat[0] = -np.inf
    fast = fastopt.log_softmax if log else fastopt.softmax
    fb = fastopt.log_softmax_backward if log else fastopt.softmax_backward
    tfn = torch.log_softmax if log else torch.softmax
    xt = torch.tensor(x, requires_grad=True)
    yt = tfn(xt, axis)
    gy = rng.standard_normal(shape).astype(dtype)
    yt.backward(torch.tensor(gy))
    y = fast(x, axis=axis)
    assert_allclose_nan(y, yt.detach().numpy(), LOSS_RTOL[dtype], GRAD_ATOL[dtype] * 10, "forward")
    assert_allclose_nan(fb(gy, y, axis=axis), xt.grad.numpy(), LOSS_RTOL[dtype], GRAD_ATOL[dtype] * 10, "backward")


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
def test_dropout_scaling_vs_torch(p, dtype):
    """The masks differ (different generators); the scaling and the p = 0 / 1 rules agree."""
    x = np.random.default_rng(0).standard_normal(10000).astype(dtype)
    x[:3] = [np.nan, np.inf, -0.0]
    y, mask = fastopt.dropout(x, p, seed=7)
    torch.manual_seed(0)
    yt = TF.dropout(torch.tensor(x), p=p).numpy()
    torch.manual_seed(0)
    kept_t = TF.dropout(torch.ones(x.shape, dtype=torch.float64), p=p).numpy() != 0  # torch's mask
    with np.errstate(invalid="ignore"):
        # torch's kept elements are x / (1 - p) exactly as ours
        common = mask & kept_t & np.isfinite(x)
        assert np.array_equal(y[common], yt[common])
    if p == 0.0:
        assert np.array_equal(y, yt, equal_nan=True) and mask.all()
    if p == 1.0:
        assert np.array_equal(y, yt, equal_nan=True) and not mask.any()
    # torch's backward: grad * mask / (1 - p), with torch's own mask: the same where both keep
    xt = torch.tensor(x, requires_grad=True)
    torch.manual_seed(0)
    gy = np.random.default_rng(1).standard_normal(10000).astype(dtype)
    TF.dropout(xt, p=p).backward(torch.tensor(gy))
    gx = fastopt.dropout_backward(gy, mask, p)
    both = mask & kept_t
    assert np.array_equal(gx[both], xt.grad.numpy()[both])
    assert not gx[~mask].any()
