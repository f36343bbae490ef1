"""fastopt.torch.AdamW.step against the raw kernel and torch's fused AdamW, on CPU tensors.

Three ways to apply the same AdamW update to the same params and grads (each with its own
state), timed interleaved (in a new random order every repeat), medians of the repeats after a
warm-up, at one thread count for all:

* ``fastopt.torch.AdamW.step()``: the torch.optim.Optimizer wrapper;
* ``fastopt.functional.adamw_(...)``: the raw multi-tensor kernel on prebuilt lists of NumPy
  views (the floor the wrapper's Python overhead is measured against);
* ``torch.optim.AdamW(fused=True).step()`` (and ``foreach=True`` with ``--foreach``).

Models: 15M parameters in 200 tensors, and 1M parameters in 200 tensors (sizes spread
log-uniformly, as a transformer's matrices and vectors are). ``--new-grads`` gives every
step fresh grad tensors, as ``zero_grad(set_to_none=True)`` + backward do (the wrapper then
re-creates the grads' NumPy views each step).

The environment is fixed before OpenMP starts (the script re-executes itself once):
GOMP_SPINCOUNT=1000, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset. Absolute times on a
shared machine are noisy; the ratios measured in one run are the result.

``--baseline REV`` also times fastopt.torch.AdamW as it was at git revision REV (its
``python/fastopt/torch/_optim.py`` loaded beside the current one, same kernels), interleaved
with the rest: the cost of a change to the wrapper, measured in one process.

    python bench/bench_torch_optim.py [--threads N] [--repeats R] [--baseline REV] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

from _bench_env import fix_env



def sizes_for(total: int, count: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    w = np.exp(rng.uniform(np.log(1.0), np.log(1000.0), count))
    s = np.maximum(1, np.round(w / w.sum() * total)).astype(int)
    s[np.argmax(s)] += total - s.sum()
    return [int(v) for v in s]


def load_baseline(rev: str):
    """fastopt.torch's optimizer module at git revision ``rev``, as a module beside the current
    one (it imports fastopt._core relatively, so it steps with the same kernels)."""
    import importlib.util
    import subprocess
    import tempfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = subprocess.run(["git", "-C", root, "show", f"{rev}:python/fastopt/torch/_optim.py"],
                         capture_output=True, text=True, check=True).stdout
    path = os.path.join(tempfile.mkdtemp(), "_optim_baseline.py")
    with open(path, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location("fastopt.torch._optim_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_case(total: int, count: int, repeats: int, new_grads: bool, foreach: bool, baseline=None):
    import numpy as np
    import torch

    import fastopt.torch as ft
    from fastopt import functional as F

    sizes = sizes_for(total, count)
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(n, generator=g).requires_grad_() for n in sizes]
    grads = [torch.randn(n, generator=g) * 1e-3 for n in sizes]
    for p, gr in zip(params, grads):
        p.grad = gr
    kw = dict(lr=1e-6, weight_decay=1e-2)

    wrapper = ft.AdamW(params, **kw)
    fused = torch.optim.AdamW(params, **kw, fused=True)
    variants = {"fastopt.torch.AdamW": wrapper.step, "torch AdamW fused": fused.step}
    if baseline is not None:
        variants["fastopt.torch.AdamW (baseline)"] = baseline.AdamW(params, **kw).step
    if foreach:
        variants["torch AdamW foreach"] = torch.optim.AdamW(params, **kw, foreach=True).step

    pv = [p.detach().numpy() for p in params]
    gv = [gr.numpy() for gr in grads]
    ea = [np.zeros_like(a) for a in pv]
    eq = [np.zeros_like(a) for a in pv]
    raw_step = [0]

    def raw():
        raw_step[0] += 1
        F.adamw_(pv, gv, ea, eq, step=raw_step[0], **kw)

    variants["fastopt.functional.adamw_ (raw)"] = raw

    def fresh_grads():  # what backward does after zero_grad(set_to_none=True)
        for p, gr in zip(params, grads):
            p.grad = gr.clone()

    times = {k: [] for k in variants}
    names = list(variants)
    shuffle = random.Random(0).shuffle
    for r in range(repeats + 2):
        order = list(names)
        shuffle(order)  # a new order every repeat: no variant always follows the same one
        for name in order:
            if new_grads:
                fresh_grads()
            t0 = time.perf_counter()
            variants[name]()
            dt = time.perf_counter() - t0
            if r >= 2:
                times[name].append(dt)
    return {k: statistics.median(v) for k, v in times.items()}, sizes


def python_overhead(count: int = 200, size: int = 16, repeats: int = 15, number: int = 200, baseline=None):
    """Per-step Python cost of the wrapper over the raw call, on tiny tensors (the kernel is then
    negligible): minimum over repeats of the mean of ``number`` steps, which a noisy machine
    disturbs least."""
    import timeit

    import numpy as np
    import torch

    import fastopt.torch as ft
    from fastopt import functional as F

    params = [torch.randn(size).requires_grad_() for _ in range(count)]
    for p in params:
        p.grad = torch.randn(size)
    opt = ft.AdamW(params, lr=1e-6)
    pv = [p.detach().numpy() for p in params]
    gv = [p.grad.numpy() for p in params]
    ea = [np.zeros_like(a) for a in pv]
    eq = [np.zeros_like(a) for a in pv]
    t_wrap = min(timeit.repeat(opt.step, number=number, repeat=repeats)) / number
    t_raw = min(timeit.repeat(lambda: F.adamw_(pv, gv, ea, eq, step=1, lr=1e-6), number=number,
                              repeat=repeats)) / number
    t_base = None
    if baseline is not None:
        t_base = min(timeit.repeat(baseline.AdamW(params, lr=1e-6).step, number=number, repeat=repeats)) / number
    return t_wrap, t_raw, t_base


def main() -> int:
    fix_env()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None, help="threads for torch and fastopt (default: all)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="small models, few repeats")
    ap.add_argument("--new-grads", action="store_true", help="fresh grad tensors every step")
    ap.add_argument("--foreach", action="store_true", help="also time torch's foreach AdamW")
    ap.add_argument("--baseline", default=None, metavar="REV",
                    help="also time fastopt.torch.AdamW as at this git revision")
    ap.add_argument("--json", default=None, help="write the medians here")
    args = ap.parse_args()

    import torch

    import fastopt

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    fastopt.set_num_threads(threads)
    cases = [(150_000, 200), (10_000, 200)] if args.quick else [(15_000_000, 200), (1_000_000, 200)]
    repeats = 5 if args.quick else args.repeats
    info = fastopt.info()
    print(f"threads {threads}, isa {info.get('isa')}, GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}, "
          f"repeats {repeats}, new grads each step: {args.new_grads}")
    baseline = load_baseline(args.baseline) if args.baseline else None
    out = {}
    for total, count in cases:
        med, _ = run_case(total, count, repeats, args.new_grads, args.foreach, baseline)
        raw = med["fastopt.functional.adamw_ (raw)"]
        wrap = med["fastopt.torch.AdamW"]
        print(f"\n{total / 1e6:g}M params in {count} tensors (median step time):")
        for name, t in med.items():
            print(f"  {name:32s} {t * 1e3:9.3f} ms   {t / wrap:5.2f}x the wrapper's time")
        print(f"  wrapper overhead over the raw kernel: {(wrap / raw - 1) * 100:+.1f}%   "
              f"torch fused / wrapper: {med['torch AdamW fused'] / wrap:.2f}x")
        if baseline is not None:
            base = med["fastopt.torch.AdamW (baseline)"]
            print(f"  wrapper / wrapper at {args.baseline}: {wrap / base:.3f} ({(wrap - base) * 1e6:+.1f} us)")
        out[f"{total}x{count}"] = med
    t_wrap, t_raw, t_base = python_overhead(baseline=baseline)
    print(f"\nPython overhead per step, 200 tensors of 16 elements (min of repeats): wrapper "
          f"{t_wrap * 1e6:.1f} us, raw call {t_raw * 1e6:.1f} us, difference {(t_wrap - t_raw) * 1e6:.1f} us"
          + (f"; wrapper at {args.baseline} {t_base * 1e6:.1f} us" if t_base is not None else ""))
    out["overhead_200_tensors"] = {"wrapper": t_wrap, "raw": t_raw, "baseline": t_base}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(threads=threads, new_grads=args.new_grads, medians_s=out), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
