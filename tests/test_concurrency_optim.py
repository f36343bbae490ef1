"""Concurrent calls from many Python threads, on different arrays, are correct.

fastopt's only process-wide mutable state is the thread count and the ISA choice (both
atomics; dispatch.cpp). Every kernel releases the GIL and keeps its scratch on its own
stack/heap, so N Python threads running kernels at once on different arrays (activations,
and optimizer steps on different models) must give bitwise the results of running the same
calls one after another. Each thread runs several rounds with sizes on both sides of the
threading threshold, so nested OpenMP teams (one per calling thread) are exercised too.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import fastopt
from fastopt import functional as F

from reliability_calls import ACTIVATIONS, CASES, OPTIMIZERS, Case, outcome

N_THREADS = 8
ROUNDS = 3


def _model(case: Case, seed: int, n: int, dtype):
    return case.setup(np.random.default_rng(seed), n, dtype)


def _train(case: Case, a, rounds: int):
    """rounds calls on the same arrays (optimizer steps update their state in place); the
    outcome of every call."""
    outs = []
    for _ in range(rounds):
        ret = case.call(F, a)
        outs.append(outcome(a, ret))
    return outs


def _run_concurrently(jobs):
    """jobs: callables; run each on its own Python thread, started together."""
    results = [None] * len(jobs)
    errors = []
    barrier = threading.Barrier(len(jobs))

    def worker(i):
        try:
            barrier.wait()
            results[i] = jobs[i]()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_many_threads_every_kernel(two_threads, dtype):
    """Every kernel on N_THREADS Python threads at once, each on its own arrays."""
    jobs_spec = []
    for t in range(N_THREADS):
        for j, case in enumerate(CASES):
            if (j + t) % 2 == 0:  # each thread takes half of the kernels, interleaved
                n = 70_001 if (j + t) % 4 == 0 else 513
                jobs_spec.append((case, 1000 * t + j, n))
    expected = [_train(c, _model(c, s, n, dtype), ROUNDS) for c, s, n in jobs_spec]

    def thread_job(t):
        def run():
            return [_train(c, _model(c, s, n, dtype), ROUNDS)
                    for k, (c, s, n) in enumerate(jobs_spec) if k % N_THREADS == t]
        return run

    got = _run_concurrently([thread_job(t) for t in range(N_THREADS)])
    for t in range(N_THREADS):
        mine = [e for k, e in enumerate(expected) if k % N_THREADS == t]
        assert got[t] == mine, f"thread {t}: results differ from the serial run"


def test_optimizer_steps_on_different_models(two_threads):
    """N models trained at once with different optimizers, 20 steps each: the trajectories are
    bitwise those of training them one after another."""
    steps = 20
    models = [(OPTIMIZERS[i % len(OPTIMIZERS)], i) for i in range(N_THREADS)]
    expected = [_train(c, _model(c, seed, 40_000, np.float32), steps)[-1] for c, seed in models]
    got = _run_concurrently([lambda c=c, s=seed: _train(c, _model(c, s, 40_000, np.float32), steps)[-1]
                             for c, seed in models])
    assert got == expected


def test_thread_count_changes_while_running(two_threads):
    """set_num_threads from another thread while kernels run: results stay bitwise the same
    (results do not depend on the thread count) and nothing crashes."""
    case = ACTIVATIONS[6]  # gelu
    a = _model(case, 3, 200_000, np.float32)
    expected = outcome(a, case.call(F, a))
    stop = threading.Event()

    def flip():
        k = 0
        while not stop.is_set():
            fastopt.set_num_threads(1 + k % 3)
            k += 1

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        got = _run_concurrently([lambda: [outcome(a, case.call(F, a)) for _ in range(20)] for _ in range(4)])
    finally:
        stop.set()
        flipper.join()
    assert all(r == expected for rs in got for r in rs)
