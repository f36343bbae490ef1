"""A serial build (FASTOPT_OPENMP=OFF) against the OpenMP build, both on one thread.

A build without OpenMP must still vectorize: its kernels get `-fopenmp-simd` and
FASTOPT_OPENMP_SIMD, so every FASTOPT_SIMD loop keeps its `#pragma omp simd` (config.hpp).
Then, on one thread, the two builds run the same code: the same speed, and bitwise the same
results (an `omp simd reduction` sums in vector lanes, so a serial build without the pragmas
would differ in the last bits of every loss and norm, and run several times slower).

Both builds' extension modules are loaded into this one process (importlib, under distinct
module names; the file names stay _core.*.so) and each kernel is timed on both, interleaved
in a new random order every repeat, on the same inputs; medians of the repeats after a
warm-up. For each kernel the table gives both times, the ratio serial / OpenMP, and whether
the outputs (optimizer steps: the parameters and states after one step from the same state)
are bitwise equal.

Optionally a third build, one whose kernels lack the pragmas (as every serial build did
before they got FASTOPT_OPENMP_SIMD), is timed beside them as the unvectorized reference:

    pip wheel --no-build-isolation --no-deps -w /tmp/wheels -Cbuild-dir=build/nopragma \
        -Ccmake.define.FASTOPT_OPENMP=OFF -Ccmake.define.CMAKE_CXX_FLAGS=-UFASTOPT_OPENMP_SIMD .

The module paths are given on the command line, or found under build/ by what each module's
_build_info() says: the first _core*.so with openmp is the OpenMP build, the first without
openmp but with simd_pragmas the serial one, the first with neither the reference. E.g.

    pip install --no-build-isolation -Cbuild-dir=build/serial -Ccmake.define.FASTOPT_OPENMP=OFF -ve .
    python bench/bench_serial_build.py [--openmp SO] [--serial SO] [--nopragma SO|none]
                                       [--n N] [--repeats R] [--calls C] [--isa ISA]

The environment is fixed before OpenMP starts (the script re-executes itself once):
GOMP_SPINCOUNT=1000, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset. Absolute times on a
shared machine are noisy; the ratios measured in one run are the result.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import random
import statistics
import subprocess
import sys
import time

from _bench_env import fix_env

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(path: str, tag: str):
    # The extension's init function is PyInit__core: the module name must end in "._core".
    spec = importlib.util.spec_from_file_location(f"fastopt_{tag}._core", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def find_builds():
    # Each candidate is probed in a subprocess: a sanitizer build, say, aborts the process
    # that loads it without its runtime preloaded.
    probe = ("import importlib.util, sys; s = importlib.util.spec_from_file_location('probe._core', sys.argv[1]); "
             "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); i = m._build_info(); "
             "print('openmp' if i['openmp'] else 'serial' if i.get('simd_pragmas') else 'nopragma')")
    found = {}
    for path in sorted(glob.glob(os.path.join(_ROOT, "build", "*", "_core*.so"))):
        r = subprocess.run([sys.executable, "-c", probe, path], capture_output=True, text=True, timeout=60)
        if r.returncode == 0 and r.stdout.strip():
            found.setdefault(r.stdout.strip().splitlines()[-1], path)
    return found


def cases(n: int, dtype):
    """(name, make) pairs; make(core) returns (run, result): run() calls the kernel once,
    result() the arrays to compare after one call on fresh inputs."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    gy = rng.standard_normal(n).astype(dtype)
    t01 = (rng.random(n) < 0.5).astype(dtype)
    rows, cols = n // 1024, 1024
    logits = x.reshape(rows, cols)
    target = rng.integers(0, cols, rows).astype(np.int64)
    p0 = rng.standard_normal(n).astype(dtype)
    g0 = (rng.standard_normal(n) * 1e-2).astype(dtype)

    def act(name):
        def make(core):
            out = np.empty_like(x)
            f = getattr(core, name)
            return (lambda: f(x, out)), (lambda: [out])
        return make

    def act_back(name):
        def make(core):
            out = np.empty_like(x)
            f = getattr(core, name + "_backward")
            saved = getattr(core, name)(x) if name in ("sigmoid", "tanh") else x  # y or x
            return (lambda: f(gy, saved, out)), (lambda: [out])
        return make

    def softmax(core):
        out = np.empty_like(logits)
        return (lambda: core.softmax(logits, -1, out)), (lambda: [out])

    def cross_entropy(core):
        out = np.empty_like(logits)
        res = []

        def run():
            res[:] = [np.asarray(core.cross_entropy(logits, target, None, -100, "mean", 0.0, 1.0, True, out)[0])]
        return run, (lambda: res + [out])

    def bce(core):
        out = np.empty_like(x)
        res = []

        def run():
            res[:] = [np.asarray(core.binary_cross_entropy_with_logits(x, t01, None, None, "mean", 1.0, True, out)[0])]
        return run, (lambda: res + [out])

    def optim(name, hyper, state_names, unused=(), step=1):
        def make(core):
            p = p0.copy()
            # as fastopt.functional passes them: (name, list), or (name, None) for a slot not used
            states = [(s, [np.zeros_like(p)]) for s in state_names] + [(s, None) for s in unused]

            def run():
                core.optimizer_step(name, [p], [g0], states, None, step, False, hyper, 1.0, None, None)
            return run, (lambda: [p] + [s[1][0] for s in states if s[1] is not None])
        return make

    adam = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
                maximize=False, decoupled=False)
    adamw = dict(adam, weight_decay=1e-2, decoupled=True)
    sgd = dict(lr=1e-3, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False)

    def grad_norm(core):
        res = []

        def run():  # max_norm above the norm: a read-only pass, nothing scaled
            res[:] = [np.asarray(core.clip_grad_norm_([g0], 1e30, 2.0, False))]
        return run, (lambda: res)

    return [
        ("sigmoid", act("sigmoid")),
        ("sigmoid_backward", act_back("sigmoid")),
        ("tanh", act("tanh")),
        ("gelu", act("gelu")),
        ("gelu_backward", act_back("gelu")),
        ("silu", act("silu")),
        ("silu_backward", act_back("silu")),
        ("softplus", act("softplus")),
        ("softmax (n/1024, 1024)", softmax),
        ("cross_entropy (n/1024, 1024)", cross_entropy),
        ("bce_with_logits", bce),
        ("adam", optim("adam", adam, ["exp_avgs", "exp_avg_sqs"], ["max_exp_avg_sqs"])),
        ("adamw", optim("adamw", adamw, ["exp_avgs", "exp_avg_sqs"], ["max_exp_avg_sqs"])),
        ("sgd momentum", optim("sgd", sgd, ["momentum_buffers"])),
        ("grad norm (clip_grad_norm_)", grad_norm),
    ]


def bitwise_equal(a_list, b_list) -> bool:
    import numpy as np

    return len(a_list) == len(b_list) and all(
        a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))
        for a, b in zip((np.ascontiguousarray(v) for v in a_list), (np.ascontiguousarray(v) for v in b_list)))


def main() -> None:
    fix_env()
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--openmp", help="the OpenMP build's _core*.so (default: found under build/)")
    ap.add_argument("--serial", help="the serial build's _core*.so (default: found under build/)")
    ap.add_argument("--nopragma", help="a build without the simd pragmas, the reference ('none': skip it; "
                                       "default: found under build/ if there)")
    ap.add_argument("--n", type=int, default=1 << 20, help="elements per array (default 2^20)")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--calls", type=int, default=5, help="calls per timed sample")
    ap.add_argument("--isa", help="run this ISA's kernels in both builds (default: the best)")
    args = ap.parse_args()

    paths = {"openmp": args.openmp, "serial": args.serial, "nopragma": args.nopragma}
    if None in paths.values():
        for k, v in find_builds().items():
            paths[k] = paths[k] or v
    if paths["nopragma"] in (None, "none"):
        del paths["nopragma"]
    if paths["openmp"] is None or paths["serial"] is None:
        raise SystemExit("need an OpenMP and a serial build: --openmp SO --serial SO")
    builds = {k: load(p, k) for k, p in paths.items()}
    for core in builds.values():
        core.set_num_threads(1)
        if args.isa:
            core._set_isa(args.isa)
    info = {k: c._build_info() for k, c in builds.items()}
    if not info["openmp"]["openmp"] or info["serial"]["openmp"]:
        raise SystemExit("--openmp must be an OpenMP build and --serial one without")
    ref = "nopragma" in builds

    for k, c in builds.items():
        print(f"{k:8s} {paths[k]}\n         isa={c._get_isa()} threads={c.get_num_threads()} "
              f"simd_pragmas={info[k].get('simd_pragmas', '?')} flags[{c._get_isa()}]: {info[k]['flags'][c._get_isa()]}")
    print(f"n = {args.n}, {args.repeats} repeats x {args.calls} calls, medians, 1 thread, "
          f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}\n")
    head = f"{'kernel':29s} {'dtype':7s} {'OpenMP ms':>9s} {'serial ms':>9s} {'serial/OMP':>10s} {'bitwise':>7s}"
    if ref:
        head += f" {'no-pragma ms':>12s} {'no-pragma/OMP':>13s} {'bitwise':>7s}"
    print(head)

    rng = random.Random(0)
    all_equal = True
    ratios, ref_ratios = [], []
    for dtype in (np.float32, np.float64):
        for name, make in cases(args.n, dtype):
            # bitwise: one call on fresh inputs in each build
            results = {}
            for k, core in builds.items():
                run, result = make(core)
                run()
                results[k] = [np.array(a, copy=True) for a in result()]
            equal = bitwise_equal(results["openmp"], results["serial"])
            all_equal = all_equal and equal
            ref_equal = ref and bitwise_equal(results["openmp"], results["nopragma"])
            runs = {k: make(core)[0] for k, core in builds.items()}
            for run in runs.values():
                for _ in range(3):
                    run()
            samples = {k: [] for k in runs}
            order = list(runs)
            for _ in range(args.repeats):
                rng.shuffle(order)
                for k in order:
                    run = runs[k]
                    t0 = time.perf_counter()
                    for _ in range(args.calls):
                        run()
                    samples[k].append((time.perf_counter() - t0) / args.calls)
            med = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
            ratio = med["serial"] / med["openmp"]
            ratios.append(ratio)
            line = (f"{name:29s} {np.dtype(dtype).name:7s} {med['openmp']:9.3f} {med['serial']:9.3f} "
                    f"{ratio:10.2f} {'yes' if equal else 'NO':>7s}")
            if ref:
                ref_ratios.append(med["nopragma"] / med["openmp"])
                line += f" {med['nopragma']:12.3f} {ref_ratios[-1]:13.2f} {'yes' if ref_equal else 'no':>7s}"
            print(line)

    def gmean(v):
        return float(np.exp(np.mean(np.log(v))))
    print(f"\ngeometric mean serial/OpenMP: {gmean(ratios):.2f}; serial outputs bitwise equal to OpenMP's: "
          f"{'all' if all_equal else 'NOT all'}")
    if ref:
        print(f"geometric mean no-pragma/OpenMP: {gmean(ref_ratios):.2f}")


if __name__ == "__main__":
    main()
