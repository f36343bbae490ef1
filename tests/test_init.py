"""fastopt.init: torch.nn.init's fan and gain rules on NumPy arrays, in place, seeded by a Generator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastopt import init

SHAPES = [(256, 128), (64, 32, 3, 3), (500, 40, 5)]


def fans(shape):
    rf = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * rf, shape[0] * rf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_and_reproducible(dtype):
    a = np.empty((300, 200), dtype)
    out = init.normal_(a, rng=np.random.default_rng(0))
    assert out is a and a.dtype == dtype
    b = init.normal_(np.empty((300, 200), dtype), rng=np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)
    for fn in (init.uniform_, init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
               init.kaiming_normal_):
        x = np.empty((300, 200), dtype)
        assert fn(x, rng=np.random.default_rng(1)) is x
        assert np.isfinite(x).all() and x.std() > 0
    assert (init.zeros_(np.ones(5, dtype)) == 0).all()
    assert (init.ones_(np.zeros(5, dtype)) == 1).all()
    assert (init.constant_(np.zeros(5, dtype), 0.5) == 0.5).all()


def test_normal_uniform_moments():
    rng = np.random.default_rng(2)
    a = init.normal_(np.empty(1_000_000), 0.5, 2.0, rng=rng)
    assert abs(a.mean() - 0.5) < 0.01 and abs(a.std() - 2.0) < 0.01
    u = init.uniform_(np.empty(1_000_000), -1.0, 3.0, rng=rng)
    assert u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.01 and abs(u.std() - 4 / math.sqrt(12)) < 0.01


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier(shape, gain):
    fi, fo = fans(shape)
    std = gain * math.sqrt(2 / (fi + fo))
    rng = np.random.default_rng(3)
    u = init.xavier_uniform_(np.empty(shape, np.float32), gain, rng=rng)
    bound = math.sqrt(3) * std
    assert np.abs(u).max() <= bound * (1 + 1e-6)
    assert abs(u.std() / std - 1) < 0.03 and np.abs(u).max() > 0.99 * bound
    n = init.xavier_normal_(np.empty(shape, np.float32), gain, rng=rng)
    assert abs(n.std() / std - 1) < 0.03 and abs(n.mean()) < 0.05 * std


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("a,mode,nl", [(0, "fan_in", "leaky_relu"), (0, "fan_out", "relu"),
                                       (math.sqrt(5), "fan_in", "leaky_relu"), (0.2, "fan_out", "leaky_relu"),
                                       (0, "fan_in", "tanh"), (0, "fan_in", "linear")])
def test_kaiming(shape, a, mode, nl):
    fi, fo = fans(shape)
    std = init.calculate_gain(nl, a) / math.sqrt(fi if mode == "fan_in" else fo)
    rng = np.random.default_rng(4)
    u = init.kaiming_uniform_(np.empty(shape), a, mode, nl, rng=rng)
    bound = math.sqrt(3) * std
    assert np.abs(u).max() <= bound and np.abs(u).max() > 0.99 * bound
    assert abs(u.std() / std - 1) < 0.03
    n = init.kaiming_normal_(np.empty(shape), a, mode, nl, rng=rng)
    assert abs(n.std() / std - 1) < 0.03


def test_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(np.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(np.empty((3, 4)), mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("softmax")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")
    with pytest.raises(TypeError, match="numpy.ndarray"):
        init.normal_([1.0, 2.0])
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(np.zeros(3, np.int32))
    with pytest.raises(TypeError, match="Generator"):
        init.normal_(np.zeros(3), rng=np.random.RandomState(0))
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(np.empty((0, 3)))


# ---- against torch.nn.init's own rules --------------------------------------------------------

torch_cases = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
               ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)]


@pytest.mark.parametrize("nl,param", torch_cases)
def test_gain_matches_torch(nl, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(nl, param) == torch.nn.init.calculate_gain(nl, param)


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_and_bounds_match_torch(shape):
    torch = pytest.importorskip("torch")
    t = torch.empty(shape)
    assert init._calculate_fan_in_and_fan_out(shape) == torch.nn.init._calculate_fan_in_and_fan_out(t)
    # same distributions: compare the spread of torch's and fastopt's draws
    for name, kw in [("xavier_uniform_", dict(gain=2.0)), ("kaiming_uniform_", dict(a=math.sqrt(5))),
                     ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu"))]:
        torch.manual_seed(0)
        tt = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), **kw).numpy()
        mine = getattr(init, name)(np.empty(shape), **kw, rng=np.random.default_rng(0))
        # uniform: the bounds agree to the sampling resolution
        assert abs(np.abs(mine).max() / np.abs(tt).max() - 1) < 0.02, name
    for name, kw in [("xavier_normal_", dict()), ("kaiming_normal_", dict(mode="fan_out"))]:
        torch.manual_seed(0)
        tt = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), **kw).numpy()
        mine = getattr(init, name)(np.empty(shape), **kw, rng=np.random.default_rng(0))
        assert abs(mine.std() / tt.std() - 1) < 0.15, name
