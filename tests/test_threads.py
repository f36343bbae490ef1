"""Threads: many Python threads calling kernels at once, and the thread-count controls."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import KERNELS, assert_close, random_points

import fastopt

N = 1 << 18  # above the single-thread threshold, so every call forks OpenMP threads
N_PY_THREADS = 8


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_concurrent_python_threads(dtype):
    """8 Python threads, each its own arrays and kernel, all at once (the GIL is released)."""
    rng = np.random.default_rng(1234)
    jobs = []
    for i in range(N_PY_THREADS * 2):
        kernel = KERNELS[i % len(KERNELS)]
        x = random_points(rng, N, dtype)
        args = kernel.inputs(x, rng)
        kw = kernel.kwargs(rng)
        jobs.append((kernel, args, kw, kernel.ref(*args, **kw), kernel.fast(*args, **kw)))

    barrier = threading.Barrier(N_PY_THREADS)
    results = [None] * len(jobs)
    errors = []

    def work(t):
        try:
            barrier.wait()
            for _ in range(3):
                for j in range(t, len(jobs), N_PY_THREADS):
                    kernel, args, kw, _, _ = jobs[j]
                    out = np.empty(args[0].shape, dtype)
                    results[j] = kernel.fast(*args, out=out, **kw)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(N_PY_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for (kernel, args, kw, expected, serial), result in zip(jobs, results):
        # the same bits as the call made alone, and close to the reference
        assert result.tobytes() == serial.tobytes(), kernel.name
        grad_out = args[0] if kernel.backward else None
        assert_close(result, expected, kernel.name, dtype, grad_out=grad_out, x=args[-1], kw=kw)


def test_concurrent_in_place_on_disjoint_arrays():
    """Threads writing in place into their own arrays do not disturb each other."""
    rng = np.random.default_rng(7)
    xs = [random_points(rng, N, np.float64) for _ in range(N_PY_THREADS)]
    expected = [fastopt.reference.silu(x) for x in xs]

    def work(x):
        fastopt.silu(x, out=x)

    threads = [threading.Thread(target=work, args=(x,)) for x in xs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for x, e in zip(xs, expected):
        assert_close(x, e, "silu", np.float64)


def test_concurrent_prelu_backward():
    rng = np.random.default_rng(3)
    cases = []
    for _ in range(N_PY_THREADS):
        x = rng.standard_normal((N // 4, 4))
        w = rng.uniform(-1, 1, 4)
        gy = rng.standard_normal(x.shape)
        cases.append((gy, x, w, fastopt.prelu_backward(gy, x, w)))
    out = [None] * len(cases)

    def work(i):
        gy, x, w, _ = cases[i]
        out[i] = fastopt.prelu_backward(gy, x, w)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (gy, x, w, (gx, gw)), (rgx, rgw) in zip(cases, out):
        assert rgx.tobytes() == gx.tobytes() and rgw.tobytes() == gw.tobytes()


# --------------------------------------------------------------------------------------------
# set_num_threads / get_num_threads
# --------------------------------------------------------------------------------------------


@pytest.fixture
def restore_threads():
    before = fastopt.get_num_threads()
    yield
    fastopt.set_num_threads(before)


@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_set_get_round_trip(n, restore_threads):
    fastopt.set_num_threads(n)
    if fastopt.info()["openmp"]:
        assert fastopt.get_num_threads() == n
        assert fastopt.info()["num_threads"] == n
    else:
        assert fastopt.get_num_threads() == 1


@pytest.mark.parametrize("n", [0, -1, -(2**40)])
def test_set_num_threads_rejects_non_positive(n, restore_threads):
    before = fastopt.get_num_threads()
    with pytest.raises(ValueError, match=str(n)):
        fastopt.set_num_threads(n)
    assert fastopt.get_num_threads() == before


@pytest.mark.parametrize("n", [1.5, 2.0, "2", None, True])
def test_set_num_threads_rejects_non_int(n, restore_threads):
    before = fastopt.get_num_threads()
    with pytest.raises((TypeError, ValueError)):
        fastopt.set_num_threads(n)
    assert fastopt.get_num_threads() == before


def test_get_num_threads_is_positive_int():
    n = fastopt.get_num_threads()
    assert isinstance(n, int) and n >= 1


def _run(code, **env):
    full_env = dict(os.environ)
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=120)


def test_omp_num_threads_env():
    r = _run("import fastopt; print(fastopt.get_num_threads())", OMP_NUM_THREADS="1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"


@pytest.mark.skipif(not fastopt.info()["openmp"], reason="serial build")
def test_omp_num_threads_env_three():
    r = _run("import fastopt; print(fastopt.get_num_threads())", OMP_NUM_THREADS="3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"


@pytest.mark.parametrize("env, factor", [
    ({}, 1),
    ({"GOMP_SPINCOUNT": "300000"}, 1),
    ({"GOMP_SPINCOUNT": "infinite"}, 1),
    ({"GOMP_SPINCOUNT": "1000"}, 4),
    ({"OMP_WAIT_POLICY": "passive"}, 4),
    ({"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "300000"}, 4),
], ids=["default", "spin300k", "spin-infinite", "spin1000", "passive", "PASSIVE"])
def test_parallel_grain_follows_the_pool_wait_policy(env, factor):
    """A pool that sleeps between calls pays a wake-up per parallel call: work is split
    only in 4x larger grains then, and info() says so."""
    code = "import fastopt; print(fastopt.info()['parallel_grain_factor'])"
    full = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    full.update(env)
    r = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(factor)


@pytest.mark.skipif(not fastopt.info()["openmp"], reason="serial build")
def test_sleeping_pool_results_are_thread_count_independent():
    """With the larger grains of a sleeping pool, sizes above them still fork and give the
    same bits as one thread (an activation, a loss and an Adam step)."""
    code = """
import numpy as np, fastopt
from fastopt import functional as F
assert fastopt.info()['parallel_grain_factor'] == 4
rng = np.random.default_rng(5)
n = 4 * 2 * 4 * 32768 + 17   # four grains of 4 * 32768 elements per thread, plus a ragged end
x = rng.standard_normal(n).astype(np.float32)
logits = rng.standard_normal((n // 10, 10)).astype(np.float32)
t = rng.integers(0, 10, n // 10)
out = []
for threads in (1, 2, 3):
    fastopt.set_num_threads(threads)
    p, g, m, v = x.copy(), x[::-1].copy(), np.zeros_like(x), np.zeros_like(x)
    F.adam_(p, g, m, v, step=1, lr=1e-3)
    loss, grad = fastopt.cross_entropy(logits, t)
    out.append((fastopt.gelu(x).tobytes(), p.tobytes(), m.tobytes(), v.tobytes(), float(loss), grad.tobytes()))
assert out[0] == out[1] == out[2]
print("ok")
"""
    full = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    full["GOMP_SPINCOUNT"] = "1000"
    r = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
