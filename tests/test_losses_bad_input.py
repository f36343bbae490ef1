"""Every bad-input case of softmax, the losses and dropout: the exception type, the words in
its message, and that nothing was written (inputs and out= untouched)."""

from __future__ import annotations

import numpy as np
import pytest

import fastopt
from fastopt import reference as R

X = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
T = np.array([0, 4, -100, 2])


def snap(*arrays):
    return [a.tobytes() for a in arrays]


CE_BAD = [
    # (target, kwargs, exception, message words)
    (np.array([0, 5, 1, 2]), {}, IndexError, r"target\[1\] = 5 is out of range for 5 classes"),
    (np.array([0, 1, -1, 7]), {}, IndexError, r"target\[2\] = -1"),
    (np.array([0, 1, 2, 3]), {"ignore_index": 3}, None, None),  # fine: a class can be ignored
    (np.array([0, 1, -100, 3]), {"ignore_index": 0}, IndexError, r"target\[2\] = -100"),
    (np.array([0.0, 1.0, 2.0, 3.0], np.float32), {}, TypeError, "int32 or int64"),
    (np.array([0, 1, 2, 3], np.int16), {}, TypeError, "int16"),
    (np.array([0, 1, 2, 3], np.uint8), {}, TypeError, "uint8"),
    (np.array([True, False, True, False]), {}, TypeError, "bool"),
    (np.array([0, 1, 2]), {}, ValueError, r"shape \(3,\)"),
    (np.array([[0, 1, 2, 3]]), {}, ValueError, "shape"),
    (T, {"weight": np.ones(4, np.float32)}, ValueError, "weight has shape"),
    (T, {"weight": np.ones((5, 1), np.float32)}, ValueError, "weight has shape"),
    (T, {"weight": np.ones(5, np.float64)}, TypeError, "weight has dtype float64"),
    (T, {"label_smoothing": -0.1}, ValueError, "label_smoothing"),
    (T, {"label_smoothing": 1.5}, ValueError, "label_smoothing"),
    (T, {"label_smoothing": float("nan")}, ValueError, "label_smoothing"),
    (T, {"reduction": "avg"}, ValueError, "reduction"),
    (np.ones((4, 5), np.float64), {}, TypeError, "dtype"),  # probabilities of another dtype
    (np.ones((4, 5), np.float32), {"ignore_index": 1}, ValueError, "ignore_index"),
]


@pytest.mark.parametrize("case", range(len(CE_BAD)))
@pytest.mark.parametrize("impl", ["fastopt", "reference"])
def test_cross_entropy_bad(case, impl):
    target, kw, exc, words = CE_BAD[case]
    f = fastopt.cross_entropy if impl == "fastopt" else R.cross_entropy
    x = X.copy()
    before = snap(x, target)
    if exc is None:
        f(x, target, **kw)
        return
    with pytest.raises(exc, match=words if impl == "fastopt" else None):
        f(x, target, **kw)
    assert snap(x, target) == before


def test_cross_entropy_index_error_names_first_position_nd():
    x = np.zeros((2, 3, 4, 5), np.float32)
    t = np.zeros((2, 4, 5), np.int64)
    t[1, 2, 3] = 3
    t[1, 3, 0] = 9
    with pytest.raises(IndexError, match=r"target\[1, 2, 3\] = 3 is out of range for 3 classes"):
        fastopt.cross_entropy(x, t)


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("tdtype", [np.int32, np.int64])
@pytest.mark.parametrize("where", [0, 40000, 65535])
def test_bad_target_found_in_any_block_writes_nothing(fn, threads, tdtype, where):
    """The kernels check the targets in their first pass over fixed sample blocks (many of them
    here, shared by 2 threads): a bad target in any block stops the call before anything is
    written, out= and all, and the message names the first one."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((65536, 10)).astype(np.float32)
    t = rng.integers(0, 10, 65536).astype(tdtype)
    t[where] = 10
    t[where + 1 :: 997] = -3  # later bad targets: not the first
    out = np.full_like(x, 7.0)
    before = snap(x, t, out)
    old = fastopt.get_num_threads()
    fastopt.set_num_threads(threads)
    try:
        for reduction in ("mean", "sum", "none"):
            with pytest.raises(IndexError, match=rf"target\[{where}\] = 10 is out of range for 10 classes"):
                getattr(fastopt, fn)(x, t, reduction=reduction, out=out)
    finally:
        fastopt.set_num_threads(old)
    assert snap(x, t, out) == before


@pytest.mark.parametrize(
    "logits,exc,words",
    [
        (np.ones((3, 2), np.int64), TypeError, "int64"),
        (np.ones((3, 2), np.float16), TypeError, "float16"),
        (np.float32(1.0), ValueError, "shape"),
        ("abc", TypeError, "dtype"),
    ],
)
def test_cross_entropy_bad_logits(logits, exc, words):
    with pytest.raises(exc, match=words):
        fastopt.cross_entropy(logits, np.zeros(3, np.int64))


def test_nll_loss_bad():
    lp = np.log(np.full((3, 4), 0.25, np.float32))
    with pytest.raises(TypeError, match="int32 or int64"):
        fastopt.nll_loss(lp, np.ones((3, 4), np.float32))
    with pytest.raises(IndexError, match=r"target\[0\] = 4"):
        fastopt.nll_loss(lp, np.array([4, 0, 0]))
    with pytest.raises(ValueError, match="reduction"):
        fastopt.nll_loss(lp, np.array([1, 0, 0]), reduction="max")


POINTWISE = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy_with_logits"]


@pytest.mark.parametrize("name", POINTWISE)
@pytest.mark.parametrize("impl", ["fastopt", "reference"])
def test_pointwise_bad(name, impl):
    f = getattr(fastopt if impl == "fastopt" else R, name)
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError):
        f(a, np.ones((4, 3), np.float32))
    with pytest.raises(ValueError):
        f(a, np.ones(4, np.float32))  # no broadcasting of the target
    with pytest.raises(TypeError):
        f(a, np.ones((3, 4), np.float64))
    with pytest.raises(TypeError):
        f(a.astype(np.int32), np.ones((3, 4), np.int32))
    with pytest.raises(ValueError):
        f(a, a, reduction="avg")


def test_pointwise_bad_parameters():
    a = np.ones(5, np.float32)
    with pytest.raises(ValueError, match="beta"):
        fastopt.smooth_l1_loss(a, a, beta=-1.0)
    for delta in (0.0, -1.0):
        with pytest.raises(ValueError, match="delta"):
            fastopt.huber_loss(a, a, delta=delta)
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="broadcast"):
        fastopt.binary_cross_entropy_with_logits(x, x, weight=np.ones(3, np.float32))
    with pytest.raises(ValueError, match="broadcast"):
        fastopt.binary_cross_entropy_with_logits(x, x, pos_weight=np.ones(5, np.float32))
    with pytest.raises(TypeError, match="dtype"):
        fastopt.binary_cross_entropy_with_logits(x, x, pos_weight=np.ones(4, np.float64))


# --------------------------------------------------------------------------------------------
# out= and axis: softmax family and dropout
# --------------------------------------------------------------------------------------------

OUT_CALLS = {
    "softmax": lambda x, out: fastopt.softmax(x, out=out),
    "log_softmax": lambda x, out: fastopt.log_softmax(x, out=out),
    "softmax_backward": lambda x, out: fastopt.softmax_backward(x, x, out=out),
    "log_softmax_backward": lambda x, out: fastopt.log_softmax_backward(x, x, out=out),
    "dropout": lambda x, out: fastopt.dropout(x, 0.5, seed=1, out=out),
    "dropout_backward": lambda x, out: fastopt.dropout_backward(x, np.ones(x.shape, bool), 0.5, out=out),
}


def _bad_outs():
    ro = np.zeros((4, 5), np.float32)
    ro.flags.writeable = False
    return [
        ("wrong dtype", np.zeros((4, 5), np.float64), TypeError, "dtype"),
        ("wrong shape", np.zeros((5, 4), np.float32), ValueError, "shape"),
        ("read-only", ro, ValueError, "read-only"),
        ("non-contiguous", np.zeros((4, 10), np.float32)[:, ::2], ValueError, "C-contiguous"),
        ("not an array", [[0.0] * 5] * 4, TypeError, "numpy.ndarray"),
    ]


@pytest.mark.parametrize("name", list(OUT_CALLS))
@pytest.mark.parametrize("bad", range(5))
def test_bad_out(name, bad):
    label, out, exc, words = _bad_outs()[bad]
    x = X.copy()
    before = snap(x) + (snap(out) if isinstance(out, np.ndarray) else [])
    with pytest.raises(exc, match=words):
        OUT_CALLS[name](x, out)
    assert snap(x) + (snap(out) if isinstance(out, np.ndarray) else []) == before


@pytest.mark.parametrize("name", list(OUT_CALLS))
def test_partial_overlap(name):
    buf = np.arange(30, dtype=np.float32)
    x = buf[:20].reshape(4, 5)
    out = buf[5:25].reshape(4, 5)
    before = snap(buf)
    with pytest.raises(ValueError, match="overlap"):
        OUT_CALLS[name](x, out)
    assert snap(buf) == before


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmax_backward", "log_softmax_backward"])
def test_softmax_bad_axis_and_operands(fn):
    f = getattr(fastopt, fn)
    args = (X,) if "backward" not in fn else (X, X)
    for axis in (2, -3):
        with pytest.raises(ValueError, match="axis"):
            f(*args, axis=axis)
        with pytest.raises(ValueError, match="axis"):
            getattr(R, fn)(*args, axis=axis)
    if "backward" in fn:
        with pytest.raises(ValueError, match="shape"):
            f(X, X[:, :4])
        with pytest.raises(TypeError, match="dtype"):
            f(X, X.astype(np.float64))
    with pytest.raises(TypeError, match="int64"):
        f(*[a.astype(np.int64) for a in args])


def test_dropout_bad():
    x = X.copy()
    for p in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match="p must be"):
            fastopt.dropout(x, p, seed=1)
        with pytest.raises(ValueError, match="p must be"):
            fastopt.dropout_backward(x, np.ones(x.shape, bool), p)
    for seed in (-1, 2**64):
        with pytest.raises(ValueError, match="seed"):
            fastopt.dropout(x, 0.5, seed=seed)
        with pytest.raises(ValueError, match="seed"):
            R.dropout(x, 0.5, seed=seed)
    for seed in (1.5, "3", True):
        with pytest.raises(TypeError, match="seed"):
            fastopt.dropout(x, 0.5, seed=seed)
    with pytest.raises(TypeError):
        fastopt.dropout(x, 0.5)  # the seed is required
    with pytest.raises(TypeError, match="mask has dtype"):
        fastopt.dropout_backward(x, np.ones(x.shape, np.float32), 0.5)
    with pytest.raises(ValueError, match="shape"):
        fastopt.dropout_backward(x, np.ones((5, 4), bool), 0.5)
    assert snap(x) == snap(X)
