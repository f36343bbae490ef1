"""Loss benchmark: cross_entropy value+gradient and mse_loss value+gradient, float32.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_losses.py [threads ...]

For each case, fastopt, the stable NumPy code a user would write and PyTorch's forward +
backward (when torch is installed) run interleaved, round after round, with the same thread
count, and the medians are reported, with the bandwidth each fastopt call reaches as a
fraction of a plain copy's measured in the same rounds (cross_entropy must read the logits
twice and write the gradient once; mse reads two arrays and writes one). On a shared
machine absolute times are noise; the same-run ratios are the result.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("GOMP_SPINCOUNT", "1000")  # before libgomp loads (see bench_activations)

import numpy as np  # noqa: E402

import fastopt  # noqa: E402
from fastopt import _core  # noqa: E402
from fastopt.bench._losses import numpy_cross_entropy, numpy_mse  # noqa: E402  (the same code the bench times)

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = None

ROUNDS = 15
CE_CASES = [(4096, 1000), (256, 32000), (65536, 10)]
MSE_N = 1 << 24


def time_once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(fns, rounds=ROUNDS):
    """Median seconds of each callable, run round-robin after one warm-up call each."""
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            times[k].append(time_once(f))
    return {k: statistics.median(v) for k, v in times.items()}


def run(threads):
    fastopt.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    copy_src = rng.standard_normal(1 << 24).astype(np.float32)
    copy_dst = np.empty_like(copy_src)
    print(f"\n### {threads} thread{'s' if threads > 1 else ''} (float32, medians of {ROUNDS} interleaved rounds)\n")
    print("| case | fastopt ms | fastopt out= ms | NumPy ms | torch ms | x NumPy | x torch | GB/s (out=) | of copy |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, c in CE_CASES:
        x = (rng.standard_normal((n, c)) * 3).astype(np.float32)
        t = rng.integers(0, c, n)
        g = np.empty_like(x)
        fns = {
            "fastopt": lambda: fastopt.cross_entropy(x, t),
            "fastopt_out": lambda: fastopt.cross_entropy(x, t, out=g),
            "numpy": lambda: numpy_cross_entropy(x, t),
            "copy": lambda: _core._copy(copy_src, copy_dst),
        }
        if torch is not None:
            xt = torch.tensor(x, requires_grad=True)
            tt = torch.tensor(t)

            def torch_ce():
                xt.grad = None
                TF.cross_entropy(xt, tt).backward()

            fns["torch"] = torch_ce
        med = interleaved(fns)
        report(f"cross_entropy {n}x{c}", med, 3 * x.nbytes, copy_src.nbytes)
    p = rng.standard_normal(MSE_N).astype(np.float32)
    q = rng.standard_normal(MSE_N).astype(np.float32)
    gm = np.empty_like(p)
    fns = {
        "fastopt": lambda: fastopt.mse_loss(p, q),
        "fastopt_out": lambda: fastopt.mse_loss(p, q, out=gm),
        "numpy": lambda: numpy_mse(p, q),
        "copy": lambda: _core._copy(copy_src, copy_dst),
    }
    if torch is not None:
        pt = torch.tensor(p, requires_grad=True)
        qt = torch.tensor(q)

        def torch_mse():
            pt.grad = None
            TF.mse_loss(pt, qt).backward()

        fns["torch"] = torch_mse
    med = interleaved(fns)
    report("mse_loss 2^24", med, 3 * p.nbytes, copy_src.nbytes)


def report(name, med, bytes_moved, copy_bytes):
    """Ratios use the call that allocates its gradient (as NumPy and torch do); the bandwidth
    uses the out= call (the copy it is compared with writes into existing memory too)."""
    f, fo = med["fastopt"], med["fastopt_out"]
    copy_gbs = 2 * copy_bytes / med["copy"] / 1e9
    gbs = bytes_moved / fo / 1e9
    tms = f"{med['torch'] * 1e3:.2f}" if "torch" in med else "-"
    xt = f"{med['torch'] / f:.2f}" if "torch" in med else "-"
    print(
        f"| {name} | {f * 1e3:.2f} | {fo * 1e3:.2f} | {med['numpy'] * 1e3:.2f} | {tms} | {med['numpy'] / f:.1f} | {xt} | "
        f"{gbs:.1f} | {gbs / copy_gbs:.0%} (copy {copy_gbs:.1f} GB/s) |"
    )


def main(argv):
    threads = [int(a) for a in argv] or [1, 2]
    info = fastopt.info()
    print(f"fastopt {info['version']} isa={info.get('isa')} torch={torch.__version__ if torch else None}")
    for th in threads:
        run(th)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
