"""Measure fastopt's kernels against the NumPy code a user would write and PyTorch CPU.

For every case (kernel x size) four contenders run interleaved, round-robin within each
repeat so that drift (this machine's memory bandwidth can jump ~1.6x within a run) hits all
of them alike: fastopt with a preallocated ``out=``, the idiomatic NumPy expression, PyTorch
CPU at the same thread count (``out=`` where the op has one), and the copy ceiling
``fastopt._core._copy`` on the same number of elements. Each sample times enough inner
calls to last at least ``--min-time``; the figures are medians after a warm-up.

Bytes counted: a forward reads x and writes y (2 arrays), a backward reads 2 arrays and
writes 1 (3 arrays), the copy moves 2. ``GB/s`` is fastopt's; ``% copy`` is that over the
copy's GB/s measured in the same case. A ratio from one run is a result; an absolute time
on a shared machine is not.

OpenMP waiting: fastopt and torch share libgomp's thread pool. With libgomp's default
spin-then-sleep wait, a 2-vCPU VM (this project's machines) often makes every parallel call
cost ~8 ms (the spinning vCPU gets descheduled), for stretches of seconds. Set
``GOMP_SPINCOUNT=1000`` in the environment (it is read when libgomp loads, so it cannot be set
from here); the header records it, and a run whose copy bandwidth varies > 3x says so.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

DEFAULT_SIZES = (1 << 16, 1 << 20, 1 << 24)
QUICK_SIZES = (1 << 12, 1 << 16)
PRELU_CHANNELS = 64

_K = "0.7978845608028654"  # sqrt(2 / pi)
_GELU_TANH_NP = f"0.5 * x * (1 + np.tanh({_K} * (x + 0.044715 * x**3)))"
_GELU_TANH_BACKWARD_NP = (
    f"gy * (0.5 * (1 + (t := np.tanh({_K} * (x + 0.044715 * x**3))))"
    f" + 0.5 * x * (1 - t * t) * {_K} * (1 + 0.134145 * x * x))"
)
_GELU_NP = "x * 0.5 * (1 + erf(x * 0.7071067811865476))"  # erf: scipy.special.erf
_GELU_BACKWARD_NP = (
    "gy * (0.5 * (1 + erf(x * 0.7071067811865476)) + x * np.exp(-0.5 * x * x) * 0.3989422804014327)"
)
_NO_ERF = "  # tanh form: NumPy has no erf (scipy not installed)"

# name, fastopt call, NumPy (what a user writes), torch CPU (the function F.* calls, with out=;
# backward: the aten op autograd calls, .grad_input overload). In the backward rows y is the
# forward's output (sigmoid, tanh), x its input; w is prelu's per-channel weight, x is (N, 64).
ACTIVATIONS = [
    ("sigmoid", "fo.sigmoid(x, out=out)", "1 / (1 + np.exp(-x))", "torch.sigmoid(x, out=out)"),
    ("sigmoid_backward", "fo.sigmoid_backward(gy, y, out=out)", "gy * y * (1 - y)",
     "aten.sigmoid_backward.grad_input(gy, y, grad_input=out)"),
    ("tanh", "fo.tanh(x, out=out)", "np.tanh(x, out=out)", "torch.tanh(x, out=out)"),
    ("tanh_backward", "fo.tanh_backward(gy, y, out=out)", "gy * (1 - y * y)",
     "aten.tanh_backward.grad_input(gy, y, grad_input=out)"),
    ("relu", "fo.relu(x, out=out)", "np.maximum(x, 0, out=out)",
     "torch.clamp_min(x, 0, out=out)  # = F.relu on CPU; torch.relu has no out="),
    ("relu_backward", "fo.relu_backward(gy, x, out=out)", "np.where(x > 0, gy, 0)",
     "aten.threshold_backward.grad_input(gy, x, 0, grad_input=out)"),
    ("leaky_relu", "fo.leaky_relu(x, 0.01, out=out)", "np.where(x > 0, x, 0.01 * x)",
     "torch._C._nn.leaky_relu(x, 0.01, out=out)"),
    ("leaky_relu_backward", "fo.leaky_relu_backward(gy, x, 0.01, out=out)",
     "np.where(x > 0, gy, 0.01 * gy)",
     "aten.leaky_relu_backward.grad_input(gy, x, 0.01, False, grad_input=out)"),
    ("prelu", "fo.prelu(x, w, out=out)", "np.where(x > 0, x, w * x)", "F.prelu(x, w)"),
    ("prelu_backward", "fo.prelu_backward(gy, x, w)",
     "(np.where(x > 0, gy, w * gy), np.where(x > 0, 0, x * gy).sum(axis=0))",
     "((r := aten._prelu_kernel_backward(gy, x, w.view(1, -1)))[0], r[1].sum(0))"
     "  # full-size grad_weight, then the reduction autograd does"),
    ("softplus", "fo.softplus(x, out=out)", "np.logaddexp(0, x)",
     "torch._C._nn.softplus(x, 1, 20, out=out)"),
    ("softplus_backward", "fo.softplus_backward(gy, x, out=out)", "gy / (1 + np.exp(-x))",
     "aten.softplus_backward.grad_input(gy, x, 1, 20, grad_input=out)"),
    ("elu", "fo.elu(x, out=out)", "np.where(x > 0, x, np.expm1(x))", "torch._C._nn.elu(x, out=out)"),
    ("elu_backward", "fo.elu_backward(gy, x, out=out)", "np.where(x > 0, gy, gy * np.exp(x))",
     "aten.elu_backward.grad_input(gy, 1, 1, 1, False, x, grad_input=out)"),
    ("gelu", "fo.gelu(x, out=out)", _GELU_NP, "torch._C._nn.gelu(x, out=out)"),
    ("gelu_backward", "fo.gelu_backward(gy, x, out=out)", _GELU_BACKWARD_NP,
     "aten.gelu_backward.grad_input(gy, x, grad_input=out)"),
    ("gelu_tanh", "fo.gelu(x, 'tanh', out=out)", _GELU_TANH_NP,
     "torch._C._nn.gelu(x, approximate='tanh', out=out)"),
    ("gelu_tanh_backward", "fo.gelu_backward(gy, x, 'tanh', out=out)", _GELU_TANH_BACKWARD_NP,
     "aten.gelu_backward.grad_input(gy, x, approximate='tanh', grad_input=out)"),
    ("silu", "fo.silu(x, out=out)", "x / (1 + np.exp(-x))", "torch._C._nn.silu(x, out=out)"),
    ("silu_backward", "fo.silu_backward(gy, x, out=out)",
     "gy * (s := 1 / (1 + np.exp(-x))) * (1 + x * (1 - s))",
     "aten.silu_backward.grad_input(gy, x, grad_input=out)"),
]


@dataclass
class Case:
    """One kernel at one size: the callables to time and what bounds them."""

    name: str
    family: str
    size: int  # elements
    dtype: str
    bytes: int  # bytes the kernel must move
    fastopt: Callable[[], Any]
    numpy: Optional[Callable[[], Any]]
    torch: Optional[Callable[[], Any]]
    numpy_code: str
    torch_code: str
    fastopt_code: str
    ceiling: str = "copy"  # the ceiling kind: fastopt._core._copy on `size` elements of `dtype`


def _compile(code: str, namespace: Dict[str, Any]) -> Callable[[], Any]:
    """The expression as a function: the printed code is exactly what is timed."""
    return eval("lambda: " + code, namespace)  # noqa: S307 - our own constant strings


def activation_cases(size: int, dtype: str, torch: Any = None) -> List[Case]:
    """The activation cases at one size (inputs shared by all of them, made once)."""
    import numpy as np

    import fastopt as fo

    try:
        from scipy.special import erf
    except ImportError:  # NumPy has no erf: time the tanh form and say so
        erf = None
    rng = np.random.default_rng(0)
    x = (2 * rng.standard_normal(size)).astype(dtype)  # half negative: the branches are random
    gy = rng.standard_normal(size).astype(dtype)
    out = np.empty_like(x)
    ys, yt = fo.sigmoid(x), fo.tanh(x)
    ch = PRELU_CHANNELS if size % PRELU_CHANNELS == 0 else 1
    w = np.linspace(0.05, 0.5, ch).astype(dtype)
    nbytes = size * np.dtype(dtype).itemsize
    cases = []
    for name, fo_code, np_code, torch_code in ACTIVATIONS:
        if erf is None and np_code in (_GELU_NP, _GELU_BACKWARD_NP):
            np_code = (_GELU_TANH_NP if np_code == _GELU_NP else _GELU_TANH_BACKWARD_NP) + _NO_ERF
        arrays = dict(x=x, gy=gy, out=out, y=ys if name.startswith("sigmoid") else yt, w=w)
        if name.startswith("prelu"):
            arrays = {k: (v.reshape(-1, ch) if k != "w" else v) for k, v in arrays.items()}
        ns = dict(arrays, fo=fo, np=np, erf=erf)
        tfn = None
        if torch is not None:
            import torch.nn.functional as F

            tns = {k: torch.from_numpy(v) for k, v in arrays.items()}
            tfn = _compile(torch_code, dict(tns, torch=torch, F=F, aten=torch.ops.aten))
        cases.append(Case(
            name=name, family="activations", size=size, dtype=str(np.dtype(dtype)),
            bytes=(3 if name.endswith("_backward") else 2) * nbytes,
            fastopt=_compile(fo_code, ns), numpy=_compile(np_code, ns), torch=tfn,
            numpy_code=np_code, torch_code=torch_code if torch is not None else "",
            fastopt_code=fo_code,
        ))
    return cases


# family -> (kernel names in print order, builder(size, dtype, torch) -> cases)
FAMILIES: Dict[str, Any] = {"activations": ([a[0] for a in ACTIVATIONS], activation_cases)}


# ------------------------------------------------------------------------------------------
# the generic interleaved runner
# ------------------------------------------------------------------------------------------


def _ceiling(case: Case, cache: Dict[Any, Any]) -> Callable[[], Any]:
    import numpy as np

    from . import _core

    if case.ceiling != "copy":
        raise ValueError(f"unknown ceiling kind {case.ceiling!r}")
    key = (case.size, case.dtype)
    if key not in cache:
        cache.clear()  # one size at a time: keep memory down
        cache[key] = (np.ones(case.size, case.dtype), np.empty(case.size, case.dtype))
    src, dst = cache[key]
    return lambda: _core._copy(src, dst)


def _time(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - t0


def _calibrate(fn: Callable[[], Any], min_time: float) -> int:
    """Inner iterations so that one sample lasts >= min_time (fn already warmed up)."""
    n = 1
    while True:
        t = _time(fn, n)
        if t >= min_time or n >= 1 << 24:
            return n
        n = max(n + 1, min(10 * n, math.ceil(1.2 * n * min_time / max(t, 1e-9))))


def _check(case: Case, who: str, got: Any, ref: Any) -> None:
    """Warn (stderr) when a contender's result disagrees with fastopt's: a wrong expression."""
    import numpy as np

    got = got if isinstance(got, tuple) else (got,)
    ref = ref if isinstance(ref, tuple) else (ref,)
    for g, r in zip(got, ref):
        g = g.numpy() if hasattr(g, "numpy") else np.asarray(g)
        ok = g.dtype == r.dtype and g.size == r.size and np.allclose(
            g.ravel(), r.ravel(), rtol=1e-3, atol=1e-3 * max(1.0, float(np.abs(r).max())))
        if not ok:
            print(f"warning: {case.name} {case.size}: {who} result ({g.dtype}) differs from"
                  " fastopt's", file=sys.stderr)


def measure(cases: Sequence[Case], repeat: int, min_time: float, threads: int,
            on_case: Optional[Callable[[Case], None]] = None) -> List[Dict[str, Any]]:
    """Time every case: its contenders interleaved round-robin; medians of `repeat` samples."""
    import numpy as np

    results, cache = [], {}
    for case in cases:
        if on_case:
            on_case(case)
        fns = {"fastopt": case.fastopt, "numpy": case.numpy, "torch": case.torch,
               "copy": _ceiling(case, cache)}
        fns = {k: f for k, f in fns.items() if f is not None}
        with np.errstate(all="ignore"):
            ref = case.fastopt()  # warm-up of each contender, and a check of its expression
            ref = tuple(np.array(r) for r in ref) if isinstance(ref, tuple) else np.array(ref)
            for who in ("numpy", "torch"):
                if who in fns:
                    _check(case, who, fns[who](), ref)
            fns["copy"]()
            inner = {k: _calibrate(f, min_time) for k, f in fns.items()}
            samples: Dict[str, List[float]] = {k: [] for k in fns}
            names = list(fns)
            gc.collect()
            gc.disable()
            try:
                for r in range(repeat):
                    for k in names[r % len(names):] + names[:r % len(names)]:
                        samples[k].append(_time(fns[k], inner[k]) / inner[k])
            finally:
                gc.enable()
        med = {k: statistics.median(v) for k, v in samples.items()}
        nbytes = case.size * np.dtype(case.dtype).itemsize
        gbps, copy_gbps = case.bytes / med["fastopt"] / 1e9, 2 * nbytes / med["copy"] / 1e9
        results.append({
            "kernel": case.name, "family": case.family, "size": case.size, "dtype": case.dtype,
            "threads": threads, "fastopt_s": med["fastopt"], "numpy_s": med.get("numpy"),
            "torch_s": med.get("torch"),
            "speedup_numpy": med["numpy"] / med["fastopt"] if "numpy" in med else None,
            "speedup_torch": med["torch"] / med["fastopt"] if "torch" in med else None,
            "bytes": case.bytes, "gbps": gbps, "copy_gbps": copy_gbps,
            "roofline_fraction": gbps / copy_gbps, "in_cache": case.bytes <= _l3_bytes(),
            "copy_gbps_samples": [2 * nbytes / s / 1e9 for s in samples["copy"]],
            "fastopt_code": case.fastopt_code, "numpy_code": case.numpy_code,
            "torch_code": case.torch_code or None,
        })
    return results


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def resolve_kernels(text: Optional[str]) -> List[str]:
    """'sigmoid,gelu_backward', a family name ('activations'), or None/'all' for everything."""
    every = [n for names, _ in FAMILIES.values() for n in names]
    if not text or text == "all":
        return every
    wanted = set()
    for item in (t.strip() for t in text.split(",") if t.strip()):
        if item in FAMILIES:
            wanted.update(FAMILIES[item][0])
        elif item in every:
            wanted.add(item)
        else:
            raise ValueError(f"unknown kernel {item!r}; known: {', '.join(list(FAMILIES) + every)}")
    return [n for n in every if n in wanted]


def benchmark(kernels: Sequence[str], sizes: Sequence[int], dtype: str = "float32",
              threads: Optional[int] = None, repeat: int = 9, min_time: float = 2e-3,
              progress: bool = False) -> List[Dict[str, Any]]:
    """Run the chosen kernels at each size with fastopt and torch at `threads` threads."""
    import fastopt as fo

    torch = _import_torch()
    threads = threads or fo.get_num_threads()
    saved = (fo.get_num_threads(), torch.get_num_threads() if torch else None)
    fo.set_num_threads(threads)
    if torch:
        torch.set_num_threads(threads)
    total, done, results = len(kernels) * len(sizes), [0], []

    def on_case(case: Case) -> None:
        done[0] += 1
        if progress:
            print(f"\r[{done[0]}/{total}] {case.name} {_size(case.size)}" + " " * 20,
                  end="", file=sys.stderr, flush=True)

    try:
        for size in sizes:
            for names, builder in FAMILIES.values():
                cases = [c for c in builder(size, dtype, torch) if c.name in kernels]
                if cases:
                    results += measure(cases, repeat, min_time, threads, on_case)
    finally:
        fo.set_num_threads(saved[0])
        if torch:
            torch.set_num_threads(saved[1])
        if progress:
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)
    order = {n: i for i, n in enumerate(kernels)}
    return sorted(results, key=lambda r: (order[r["kernel"]], r["size"]))


# ------------------------------------------------------------------------------------------
# environment, printing
# ------------------------------------------------------------------------------------------


def _l3_bytes() -> int:
    sizes = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for d in os.listdir(base):
            with open(os.path.join(base, d, "size")) as f:
                s = f.read().strip()
            sizes.append(int(s[:-1]) * {"K": 1 << 10, "M": 1 << 20}.get(s[-1], 1)
                         if s[-1] in "KM" else int(s))
    except (OSError, ValueError):
        pass
    return max(sizes) if sizes else 32 << 20


_ENV_VARS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_CORETYPE",
             "OPENBLAS_L2_SIZE")


def environment(threads: Any, dtype: str = "float32") -> Dict[str, Any]:
    """The header: CPU, ISA in use, threads, versions, date."""
    import numpy as np

    import fastopt as fo

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    torch = _import_torch()
    info = fo.info()
    return {
        "cpu": cpu, "cpus": os.cpu_count(), "isa": info["isa"], "compiler": info["compiler"],
        "threads": threads, "dtype": dtype, "cache_bytes": _l3_bytes(),
        "versions": {"fastopt": info["version"], "numpy": np.__version__,
                     "torch": torch.__version__ if torch else None,
                     "python": platform.python_version()},
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "env": {k: os.environ[k] for k in _ENV_VARS if k in os.environ},
    }


def format_header(h: Dict[str, Any]) -> str:
    v = h["versions"]
    return (f"fastopt {v['fastopt']} ({h['isa']}, {h['compiler']}) | numpy {v['numpy']} | "
            f"torch {v['torch'] or 'not installed'} | {h['cpu']} ({h['cpus']} CPUs) | "
            f"{h['threads']} threads | {h['date']}"
            + "".join(f" | {k}={v}" for k, v in h.get("env", {}).items()))


def _size(n: int) -> str:
    return f"2^{n.bit_length() - 1}" if n > 0 and n & (n - 1) == 0 else str(n)


def _fmt(x: Optional[float], spec: str, suffix: str = "") -> str:
    return "-" if x is None else format(x, spec) + suffix


def format_table(results: Sequence[Dict[str, Any]], markdown: bool = False) -> str:
    """The aligned (or Markdown) table, then the notes: cache, copy spread, timed code."""
    cols = ["kernel", "size", "dtype", "fastopt us", "numpy us", "torch us", "x numpy",
            "x torch", "GB/s", "% copy"]
    rows = [[r["kernel"], _size(r["size"]) + ("*" if r["in_cache"] else ""), r["dtype"],
             _fmt(r["fastopt_s"] and r["fastopt_s"] * 1e6, ".1f"),
             _fmt(r["numpy_s"] and r["numpy_s"] * 1e6, ".1f"),
             _fmt(r["torch_s"] and r["torch_s"] * 1e6, ".1f"),
             _fmt(r["speedup_numpy"], ".2f", "x"), _fmt(r["speedup_torch"], ".2f", "x"),
             _fmt(r["gbps"], ".1f"), _fmt(100 * r["roofline_fraction"], ".0f", "%")]
            for r in results]
    left = 3  # kernel, size, dtype left-aligned; figures right-aligned
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *rows)]

    def line(cells: Sequence[str]) -> str:
        cells = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return ("| " + " | ".join(cells) + " |") if markdown else "  ".join(cells)

    out = [line(cols)]
    out.append("|" + "|".join(("-" * (w + 1) + ":") if i >= left else "-" * (w + 2)
                              for i, w in enumerate(widths)) + "|" if markdown else
               "  ".join("-" * w for w in widths))
    out += [line(r) for r in rows]
    cache_mib = _l3_bytes() >> 20
    out += ["", f"x numpy, x torch: their time / fastopt's (> 1: fastopt faster). GB/s: fastopt's "
            f"bytes moved (forward 2 arrays, backward 3) / time; % copy: over fastopt._core._copy "
            f"of the same elements, interleaved.",
            f"* bytes moved <= {cache_mib} MiB (largest cache): cache-resident, bound by compute "
            f"rather than memory; % copy there is against an in-cache copy."]
    by_size: Dict[Any, List[float]] = {}
    for r in results:
        by_size.setdefault((r["size"], r["dtype"]), []).extend(r["copy_gbps_samples"])
    out.append("copy GB/s over the run (min / median / max of all samples): " + "; ".join(
        f"{_size(s)} {d}: {min(v):.1f} / {statistics.median(v):.1f} / {max(v):.1f}"
        for (s, d), v in sorted(by_size.items())))
    shaky = [f"{_size(s)} {d}" for (s, d), v in sorted(by_size.items()) if max(v) > 3 * min(v)]
    if shaky:
        out.append(f"WARNING: the copy bandwidth varied more than 3x at {', '.join(shaky)}: these "
                   "timings were disturbed (see the note on GOMP_SPINCOUNT in fastopt.bench).")
    seen: Dict[str, Dict[str, Any]] = {}
    for r in results:
        seen.setdefault(r["kernel"], r)
    out += ["", "Timed code (fastopt | numpy | torch):"]
    tick = "`" if markdown else ""
    for name, r in seen.items():
        out.append(f"{'- ' if markdown else '  '}{name}: {tick}{r['fastopt_code']}{tick} | "
                   f"{tick}{r['numpy_code']}{tick} | {tick}{r['torch_code'] or '-'}{tick}")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> List[int]:
    """'2^16,1048576,2**24' -> [65536, 1048576, 16777216]."""
    sizes = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        base, sep, exp = item.replace("**", "^").partition("^")
        n = int(base) ** int(exp) if sep else int(float(item))
        if n < 1:
            raise ValueError(f"size must be >= 1, got {item!r}")
        sizes.append(n)
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kernels", default=None,
                        help="comma list of kernels (e.g. sigmoid,gelu_backward) or a family "
                             f"({', '.join(FAMILIES)}); default all")
    parser.add_argument("--sizes", default=None, help="comma list of element counts, e.g. "
                        "2^16,1048576 (default 2^16,2^20,2^24)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for fastopt and torch alike (default fastopt's)")
    parser.add_argument("--repeat", type=int, default=None, help="samples per case (default 9)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="minimum duration of one sample, ms (default 2)")
    parser.add_argument("--quick", action="store_true", help="sizes 2^12,2^16 and few repeats")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the results here")


def run(args: argparse.Namespace) -> int:
    import fastopt as fo

    try:
        kernels = resolve_kernels(args.kernels)
        sizes = parse_sizes(args.sizes) if args.sizes else list(
            QUICK_SIZES if args.quick else DEFAULT_SIZES)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.threads is not None and args.threads < 1:
        print("error: --threads must be >= 1", file=sys.stderr)
        return 2
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"warning: {var} is set; unset it for benchmarks", file=sys.stderr)
    threads = args.threads or fo.get_num_threads()
    if threads > 1 and not ({"GOMP_SPINCOUNT", "OMP_WAIT_POLICY"} & set(os.environ)):
        print("warning: GOMP_SPINCOUNT is unset; on a VM whose idle vCPUs are descheduled a "
              "parallel call can cost ~8 ms (fastopt and torch alike). For stable figures run "
              "with GOMP_SPINCOUNT=1000 in the environment.", file=sys.stderr)
    repeat = args.repeat or (3 if args.quick else 9)
    min_time = (args.min_time if args.min_time is not None else (0.5 if args.quick else 2.0)) / 1e3
    header = environment(threads, args.dtype)
    print(format_header(header), flush=True)
    results = benchmark(kernels, sizes, args.dtype, threads, repeat, min_time,
                        progress=sys.stderr.isatty())
    print(format_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "cases": results}, f, indent=1)
    return 0
