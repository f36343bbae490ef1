"""No leaks: 100,000 small calls and 1,000 large ones leave the process RSS flat.

Each check warms up first (first-call allocations: the OpenMP pool, NumPy's caches), then
measures the resident set size (from /proc/self/statm, Linux only) before and after the
calls. A leak of even one small array or one Scratch buffer per call would show up as tens of
megabytes over 100,000 calls; the bound allows a few MB of allocator noise. Reference counts
of the arguments are checked too: a binding that forgot a decref leaks the argument itself.

The sanitizer CI step (LeakSanitizer, docs/reliability.md) reports C++ allocations that are
never freed; these tests cover what LSan cannot see: Python objects kept alive by a missing
decref, and memory that is still referenced but grows without bound.
"""

from __future__ import annotations

import gc
import os
import sys

import numpy as np
import pytest

from fastopt import functional as F

from reliability_calls import CASES, copy_arrays

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm"),
    # ASan keeps freed memory in quarantine (256 MB by default): RSS is not a leak signal there;
    # LeakSanitizer does that job in the sanitizer run.
    pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""), reason="RSS is meaningless under ASan"),
]

SMALL_CALLS = 100_000
LARGE_CALLS = 1_000
LARGE = 200_000  # elements: above the threading threshold, 0.8 MB per float32 array
SLACK_SMALL = 8 << 20  # bytes of allowed growth
SLACK_LARGE = 16 << 20


def rss() -> int:
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _mixed_calls(n_calls: int, size: int, dtype) -> None:
    """n_calls calls spread round-robin over every kernel, reusing the arrays (optimizer steps
    update their state in place; activations write a new array each time, which is freed)."""
    rng = np.random.default_rng(0)
    prepared = [(c, c.setup(rng, size, dtype)) for c in CASES]
    originals = [copy_arrays(a) for _, a in prepared]
    for i in range(n_calls):
        case, a = prepared[i % len(prepared)]
        case.call(F, a)
        if i % (50 * len(prepared)) == 0:  # keep optimizer state finite
            for (c, arr), orig in zip(prepared, originals):
                for k, v in orig.items():
                    if isinstance(v, list):
                        for dst, src in zip(arr[k], v):
                            dst[...] = src


def test_small_calls_rss_flat(two_threads):
    _mixed_calls(5_000, 16, np.float32)  # warm up
    before = rss()
    _mixed_calls(SMALL_CALLS, 16, np.float32)
    grown = rss() - before
    assert grown < SLACK_SMALL, f"RSS grew by {grown / 2**20:.1f} MiB over {SMALL_CALLS} small calls"


def test_large_calls_rss_flat(two_threads):
    _mixed_calls(len(CASES) * 2, LARGE, np.float32)  # warm up
    before = rss()
    _mixed_calls(LARGE_CALLS, LARGE, np.float32)
    grown = rss() - before
    assert grown < SLACK_LARGE, f"RSS grew by {grown / 2**20:.1f} MiB over {LARGE_CALLS} large calls"


def test_errors_do_not_leak(two_threads):
    """The error paths (exceptions thrown after arrays were converted or created) free
    everything too."""
    x = np.ones(1000, np.float32)
    bad_out = np.ones(1000, np.float64)
    p, g = [np.ones(100, np.float32)], [np.ones(100, np.float32)]

    def fail_many(n):
        for _ in range(n):
            for call in (lambda: F.sigmoid(x, out=bad_out),
                         lambda: F.relu_backward(x, x[:999]),
                         lambda: F.gelu(x.astype(np.int32)),
                         lambda: F.adam_(p, g, [np.ones(100, np.float64)], [np.ones(100, np.float32)], step=1),
                         lambda: F.sgd_(p + p, g + g, lr=0.1),
                         lambda: F.clip_grad_norm_([x, x], 1.0)):
                try:
                    call()
                except (TypeError, ValueError):
                    pass
                else:  # pragma: no cover
                    raise AssertionError("expected an error")

    fail_many(1_000)
    before = rss()
    fail_many(10_000)
    grown = rss() - before
    assert grown < SLACK_SMALL, f"RSS grew by {grown / 2**20:.1f} MiB over 60,000 refused calls"


def test_argument_refcounts_unchanged(two_threads):
    """Every call leaves the reference counts of its arguments as they were."""
    rng = np.random.default_rng(1)
    for case in CASES:
        for n in (8, 100_003):
            a = case.setup(rng, n, np.float32)
            arrays = [x for v in a.values() for x in (v if isinstance(v, list) else [v])]
            before = [sys.getrefcount(x) for x in arrays]
            for _ in range(3):
                ret = case.call(F, a)
                del ret
            after = [sys.getrefcount(x) for x in arrays]
            assert after == before, f"{case} n={n}: refcounts {before} -> {after}"
    out = np.empty(100, np.float32)
    x = np.ones(100, np.float32)
    before = sys.getrefcount(out), sys.getrefcount(x)
    for _ in range(100):
        r = F.sigmoid(x, out=out)
        del r
        with pytest.raises(ValueError):
            F.sigmoid(x[:50], out=out[::2])  # not contiguous: refused
    assert (sys.getrefcount(out), sys.getrefcount(x)) == before
