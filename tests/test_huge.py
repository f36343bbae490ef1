"""Arrays over 2**31 elements: 64-bit indexing end to end (parallel_for chunks, the
multi-tensor blocks and their offsets, the reduction Blocks, the bindings' sizes).

Marked ``huge``: deselected by default (``addopts`` has ``-m "not huge"``); run with
``pytest -m huge``. Each test also skips itself when /proc/meminfo's MemAvailable is short of
what it needs plus a 2 GiB margin. Peak memory: 12.9 GB (float32 params + bfloat16 grads of
2**31 + 17 elements); the activation test holds one 8.6 GB array. Measured on the 2-core,
24 GiB CI machine: see docs/reliability.md.

Values are checked at the places a 32-bit index would break: around 2**31 (where an int32
index wraps negative), at the start and at the very end.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import fastopt
from fastopt import functional as F

pytestmark = pytest.mark.huge

N = 2**31 + 17
GiB = 2**30


def mem_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def need(nbytes: int) -> None:
    have = mem_available()
    if have < nbytes + 2 * GiB:
        pytest.skip(f"needs {(nbytes + 2 * GiB) / GiB:.1f} GiB available, have {have / GiB:.1f}")


# indices where a 32-bit index would fail, and the ends
PROBES = np.array([0, 1, 2**31 - 65, 2**31 - 1, 2**31, 2**31 + 1, 2**31 + 8, N - 1], dtype=np.int64)


@pytest.fixture(autouse=True)
def all_threads():
    before = fastopt.get_num_threads()
    fastopt.set_num_threads(max(2, os.cpu_count() or 2))
    yield
    fastopt.set_num_threads(before)


def test_activation_and_clip_over_2_31_elements():
    need(N * 4)
    x = np.empty(N, np.float32)
    x.fill(-2.0)
    probe_values = np.linspace(-3, 3, PROBES.size).astype(np.float32)
    x[PROBES] = probe_values
    F.relu(x, out=x)  # in place over 8.6 GB
    np.testing.assert_array_equal(x[PROBES], np.maximum(probe_values, 0))
    assert x[2**31 + 3] == 0.0 and x[N - 2] == 0.0

    # the global norm over > 2**31 elements (float64 block sums), then the in-place scale
    x.fill(1.0)
    norm = F.clip_grad_norm_([x], max_norm=1.0)
    assert math.isclose(norm, math.sqrt(N), rel_tol=1e-6), norm
    expected = np.float32(1.0) * (np.float32(1.0) / (np.float32(norm) + np.float32(1e-6)))
    np.testing.assert_allclose(x[PROBES], expected, rtol=1e-6)

    # sigmoid (a transcendental path) on the same memory
    x[PROBES] = probe_values
    F.sigmoid(x, out=x)
    np.testing.assert_allclose(x[PROBES], 1 / (1 + np.exp(-probe_values.astype(np.float64))), rtol=1e-6)
    del x


def test_optimizer_step_over_2_31_elements():
    """SGD and Adam-free memory budget: float32 params with bfloat16 (uint16) grads, 12.9 GB."""
    need(N * 6)
    p = np.empty(N, np.float32)
    p.fill(1.0)
    g = np.empty(N, np.uint16)
    g.fill(0x3F80)  # bfloat16 1.0
    g[PROBES] = 0x4000  # bfloat16 2.0
    res = F.sgd_([p], [g], lr=0.25, weight_decay=0.0, max_grad_norm=None)
    assert res.grad_norm is None
    np.testing.assert_array_equal(p[PROBES], np.float32(0.5))
    assert p[2**31 + 3] == np.float32(0.75) and p[N - 2] == np.float32(0.75) and p[5] == np.float32(0.75)
    # with clipping: the norm pass reads every element once more (float64 block sums)
    p.fill(1.0)
    g.fill(0x3F80)
    res = F.sgd_([p], [g], lr=1.0, max_grad_norm=1.0)
    assert math.isclose(res.grad_norm, math.sqrt(N), rel_tol=1e-6), res.grad_norm
    step = np.float32(1.0) / (np.float32(res.grad_norm) + np.float32(1e-6))
    np.testing.assert_allclose(p[PROBES], np.float32(1.0) - step, rtol=1e-6)
    del p, g


def test_losses_over_2_31_elements():
    """cross_entropy over a (rows, 1000) logits array of more than 2**31 elements, and
    mse_loss over N: the loss values (grad=False: the gradient would need another 8.6 GB)."""
    rows = 2**31 // 1000 + 17
    need(rows * 1000 * 4)
    logits = np.zeros((rows, 1000), np.float32)
    logits[-1, 0] = 10.0  # the last row (past element 2**31) differs from the others
    target = np.zeros(rows, np.int64)
    loss = float(F.cross_entropy(logits, target, grad=False))
    last = math.log(999 + math.exp(10.0)) - 10.0
    expected = ((rows - 1) * math.log(1000.0) + last) / rows
    assert math.isclose(loss, expected, rel_tol=1e-6), (loss, expected)
    del logits

    need(N * 8)
    x = np.full(N, 1.5, np.float32)
    t = np.zeros(N, np.float32)
    t[PROBES] = 0.5  # (1.5 - 0.5)^2 = 1 at the probes, 2.25 elsewhere
    loss = float(F.mse_loss(x, t, "sum", grad=False))
    k = len(set(PROBES))
    expected = 2.25 * (N - k) + 1.0 * k
    assert math.isclose(loss, expected, rel_tol=1e-7), (loss, expected)  # a float32 result
    del x, t
