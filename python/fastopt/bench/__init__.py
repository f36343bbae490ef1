"""Measure fastopt's kernels against the NumPy code a user would write and PyTorch CPU.

For every case (kernel x size) four contenders run interleaved, round-robin within each
repeat so that drift (this machine's memory bandwidth can jump ~1.6x within a run) hits all
of them alike: fastopt (preallocated ``out=`` where there is one), the NumPy code a user would
write, PyTorch CPU at the same thread count (its fused optimizer where it has one), and the
bandwidth ceiling of the kernel's access pattern (``CEILINGS``: a copy for kernels that write
a new array, an in-place update ``a += s*b`` for in-place kernels such as optimizer steps)
on the same number of elements. Each sample times enough inner calls to last at least
``--min-time``; the figures are medians after a warm-up.

Bytes counted are the minimum the kernel must move (an activation forward reads x and writes
y; Adam reads p, g, m, v and writes p, m, v: 28 bytes per float32 element). ``GB/s`` is
fastopt's; ``% roof`` is that over the ceiling's GB/s measured in the same case. A ratio
from one run is a result; an absolute time on a shared machine is not.

OpenMP waiting: fastopt and torch share libgomp's thread pool. With libgomp's default
spin-then-sleep wait, a 2-vCPU VM (this project's machines) often makes every parallel call
cost ~8 ms (the spinning vCPU gets descheduled), for stretches of seconds. Set
``GOMP_SPINCOUNT=1000`` in the environment (it is read when libgomp loads, so it cannot be set
from here); the header records it, and a run whose ceiling bandwidth varies > 3x says so.
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
    ceiling: str = "copy"  # the access pattern whose bandwidth bounds it: a key of CEILINGS
    check: bool = True  # compare the NumPy/torch results with fastopt's (pure functions only)
    note: str = ""  # printed under the table, once per kernel


# Bandwidth ceilings, measured with fastopt's own kernels on `size` elements, interleaved with
# the case: (arrays moved, description). The copy's write costs a write-allocate read that the
# byte count does not include; an in-place update writes lines it has read, so it needs none
# and runs ~1.5x faster here: in-place kernels (optimizer steps) are held to that ceiling.
CEILINGS = {
    "copy": (2, "y = x (fastopt._core._copy)"),
    "inplace": (3, "a += s*b in place (fastopt._core._axpy)"),
    "read": (1, "sum(x), read only (fastopt._core._sum)"),
}


def _compile(code: str, namespace: Dict[str, Any]) -> Callable[[], Any]:
    """The expression as a function: the printed code is exactly what is timed."""
    return eval("lambda: " + code, namespace)  # noqa: S307 - our own constant strings


# family -> (kernel names in print order, builder(size, dtype, torch) -> cases)
# (imported at the end of this module: the families use Case and _compile from here)
FAMILIES: Dict[str, Any] = {}


# ------------------------------------------------------------------------------------------
# the generic interleaved runner
# ------------------------------------------------------------------------------------------


def _ceiling(case: Case, cache: Dict[Any, Any]) -> Callable[[], Any]:
    import numpy as np

    from .. import _core

    if case.ceiling not in CEILINGS:
        raise ValueError(f"unknown ceiling kind {case.ceiling!r}")
    key = (case.size, case.dtype, case.ceiling)
    if key not in cache:
        cache.clear()  # one size at a time: keep memory down
        cache[key] = (np.ones(case.size, case.dtype), np.zeros(case.size, case.dtype))
    a, b = cache[key]
    if case.ceiling == "copy":
        return lambda: _core._copy(a, b)
    if case.ceiling == "read":
        return lambda: _core._sum(a)
    return lambda: _core._axpy(b, a, 1e-30)


def _time(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - t0


# A contender whose samples would take longer than this in all gets fewer of them (at least
# MIN_SAMPLES, taken in the first rounds, still interleaved): NumPy's textbook GELU at 2^24
# takes 1-3 s a call and would otherwise dominate the run.
CASE_BUDGET_S = 1.5
MIN_SAMPLES = 3


def _calibrate(fn: Callable[[], Any], min_time: float):
    """(inner iterations so that one sample lasts >= min_time, seconds per sample)."""
    n = 1
    while True:
        t = _time(fn, n)
        if t >= min_time or n >= 1 << 24:
            return n, t
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
               "ceiling": _ceiling(case, cache)}
        fns = {k: f for k, f in fns.items() if f is not None}
        with np.errstate(all="ignore"):
            ref = case.fastopt()  # warm-up of each contender, and a check of its expression
            ref = tuple(np.array(r) for r in ref) if isinstance(ref, tuple) else np.array(ref)
            for who in ("numpy", "torch"):
                if who in fns and case.check:
                    _check(case, who, fns[who](), ref)
            fns["ceiling"]()
            calibrated = {k: _calibrate(f, min_time) for k, f in fns.items()}
            inner = {k: n for k, (n, _) in calibrated.items()}
            rounds = {k: max(min(repeat, MIN_SAMPLES), min(repeat, int(CASE_BUDGET_S / max(t, 1e-9))))
                      for k, (_, t) in calibrated.items()}
            samples: Dict[str, List[float]] = {k: [] for k in fns}
            names = list(fns)
            gc.collect()
            gc.disable()
            try:
                for r in range(repeat):
                    for k in names[r % len(names):] + names[:r % len(names)]:
                        if r < rounds[k]:
                            samples[k].append(_time(fns[k], inner[k]) / inner[k])
            finally:
                gc.enable()
        med = {k: statistics.median(v) for k, v in samples.items()}
        nbytes = case.size * np.dtype(case.dtype).itemsize
        ceil_bytes = CEILINGS[case.ceiling][0] * nbytes
        gbps, ceil_gbps = case.bytes / med["fastopt"] / 1e9, ceil_bytes / med["ceiling"] / 1e9
        results.append({
            "kernel": case.name, "family": case.family, "size": case.size, "dtype": case.dtype,
            "threads": threads, "fastopt_s": med["fastopt"], "numpy_s": med.get("numpy"),
            "torch_s": med.get("torch"),
            "speedup_numpy": med["numpy"] / med["fastopt"] if "numpy" in med else None,
            "speedup_torch": med["torch"] / med["fastopt"] if "torch" in med else None,
            "bytes": case.bytes, "gbps": gbps, "ceiling": case.ceiling, "ceiling_gbps": ceil_gbps,
            "roofline_fraction": gbps / ceil_gbps, "in_cache": case.bytes <= _l3_bytes(),
            "ceiling_gbps_samples": [ceil_bytes / s / 1e9 for s in samples["ceiling"]],
            "note": case.note,
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
            "x torch", "GB/s", "% roof", "roof"]
    rows = [[r["kernel"], _size(r["size"]) + ("*" if r["in_cache"] else ""), r["dtype"],
             _fmt(r["fastopt_s"] and r["fastopt_s"] * 1e6, ".1f"),
             _fmt(r["numpy_s"] and r["numpy_s"] * 1e6, ".1f"),
             _fmt(r["torch_s"] and r["torch_s"] * 1e6, ".1f"),
             _fmt(r["speedup_numpy"], ".2f", "x"), _fmt(r["speedup_torch"], ".2f", "x"),
             _fmt(r["gbps"], ".1f"), _fmt(100 * r["roofline_fraction"], ".0f", "%"), r["ceiling"]]
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
    used = sorted({r["ceiling"] for r in results})
    out += ["", "x numpy, x torch: their time / fastopt's (> 1: fastopt faster). GB/s: the bytes "
            "the kernel must move / fastopt's time; % roof: over the bandwidth of the ceiling "
            "named in `roof`, measured on the same elements, interleaved: "
            + "; ".join(f"{k} = {CEILINGS[k][1]}" for k in used) + ".",
            f"* bytes moved <= {cache_mib} MiB (largest cache): cache-resident, bound by compute "
            f"rather than memory; % roof there is against the in-cache ceiling."]
    by_size: Dict[Any, List[float]] = {}
    for r in results:
        by_size.setdefault((r["ceiling"], r["size"], r["dtype"]), []).extend(r["ceiling_gbps_samples"])
    out.append("ceiling GB/s over the run (min / median / max of all samples): " + "; ".join(
        f"{c} {_size(s)} {d}: {min(v):.1f} / {statistics.median(v):.1f} / {max(v):.1f}"
        for (c, s, d), v in sorted(by_size.items())))
    shaky = [f"{c} {_size(s)} {d}" for (c, s, d), v in sorted(by_size.items()) if max(v) > 3 * min(v)]
    if shaky:
        out.append(f"WARNING: the ceiling bandwidth varied more than 3x at {', '.join(shaky)}: these "
                   "timings were disturbed (see the note on GOMP_SPINCOUNT in fastopt.bench).")
    seen: Dict[str, Dict[str, Any]] = {}
    for r in results:
        seen.setdefault(r["kernel"], r)
    out += ["", "Timed code (fastopt | numpy | torch):"]
    tick = "`" if markdown else ""
    for name, r in seen.items():
        out.append(f"{'- ' if markdown else '  '}{name}: {tick}{r['fastopt_code']}{tick} | "
                   f"{tick}{r['numpy_code']}{tick} | {tick}{r['torch_code'] or '-'}{tick}")
        if r.get("note"):
            out.append(f"{'  ' if markdown else '    '}({r['note']})")
    return "\n".join(out)


def format_comparison(old: Sequence[Dict[str, Any]], new: Sequence[Dict[str, Any]]) -> str:
    """Each ratio of `new` next to the same case's in `old` (matched on kernel, size, dtype
    and threads), with the change as new / old."""
    key = lambda r: (r["kernel"], r["size"], r["dtype"], r["threads"])  # noqa: E731
    before = {key(r): r for r in old}
    cols = ["kernel", "size", "dtype", "threads", "x numpy old -> new", "x torch old -> new",
            "% roof old -> new"]
    rows = []
    for r in new:
        o = before.get(key(r))
        if o is None:
            continue

        def pair(field: str, scale: float = 1.0, spec: str = ".2f") -> str:
            a, b = o.get(field), r.get(field)
            if a is None or b is None:
                return "-"
            return f"{a * scale:{spec}} -> {b * scale:{spec}} ({b / a:.2f}x)" if a else "-"

        rows.append([r["kernel"], _size(r["size"]), r["dtype"], str(r["threads"]),
                     pair("speedup_numpy"), pair("speedup_torch"),
                     pair("roofline_fraction", 100, ".0f")])
    if not rows:
        return "--compare: no case of this run is in the earlier file"
    widths = [max(len(x) for x in col) for col in zip(cols, *rows)]
    lines = ["Change against the earlier run (new / old in parentheses):",
             "  ".join(c.ljust(w) for c, w in zip(cols, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def plot(results: Sequence[Dict[str, Any]], header: Dict[str, Any], path: str) -> None:
    """Speed-up against NumPy and torch (log scale) and the fraction of the roofline, per
    kernel, one column of panels per size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["size"] for r in results})
    kernels = list(dict.fromkeys(r["kernel"] for r in results))
    fig, axes = plt.subplots(2, len(sizes), figsize=(max(6, 0.35 * len(kernels)) * len(sizes), 8),
                             squeeze=False, sharey="row")
    for j, size in enumerate(sizes):
        rows = {r["kernel"]: r for r in results if r["size"] == size}
        xs = range(len(kernels))
        get = lambda k, f: (rows.get(k) or {}).get(f) or 0  # noqa: E731
        top, bottom = axes[0][j], axes[1][j]
        top.bar([x - 0.2 for x in xs], [get(k, "speedup_numpy") for k in kernels], 0.4, label="vs NumPy")
        top.bar([x + 0.2 for x in xs], [get(k, "speedup_torch") for k in kernels], 0.4, label="vs torch")
        top.axhline(1.0, color="k", lw=0.8)
        top.set_yscale("log")
        top.set_title(f"{_size(size)} elements")
        bottom.bar(list(xs), [100 * get(k, "roofline_fraction") for k in kernels], 0.6, color="tab:green")
        bottom.axhline(100, color="k", lw=0.8)
        for ax in (top, bottom):
            ax.set_xticks(list(xs))
            ax.set_xticklabels(kernels, rotation=90, fontsize=7)
    axes[0][0].set_ylabel("speed-up (their time / fastopt's)")
    axes[1][0].set_ylabel("% of the roofline of its access pattern")
    axes[0][0].legend()
    fig.suptitle(format_header(header), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    parser.add_argument("--plot", metavar="FILE.png", default=None,
                        help="draw speed-ups and roofline fraction per kernel (needs matplotlib: "
                             "pip install 'fastopt[bench]')")
    parser.add_argument("--compare", metavar="OLD.json", default=None,
                        help="print how each ratio changed against an earlier --json run")


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
    old = None
    if args.compare:
        try:
            with open(args.compare) as f:
                old = json.load(f)["cases"]
        except (OSError, ValueError, KeyError) as e:
            print(f"error: --compare {args.compare}: {e}", file=sys.stderr)
            return 2
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("error: --plot needs matplotlib: pip install 'fastopt[bench]' (or matplotlib)",
                  file=sys.stderr)
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
    if old is not None:
        print()
        print(format_comparison(old, results))
    if args.plot:
        plot(results, header, args.plot)
        print(f"plot written to {args.plot}")
    return 0


from . import _activations, _losses, _optimizers  # noqa: E402  (they use Case from above)

FAMILIES["activations"] = ([a[0] for a in _activations.ACTIVATIONS], _activations.activation_cases)
FAMILIES["losses"] = (list(_losses.LOSS_NAMES), _losses.loss_cases)
FAMILIES["optimizers"] = (list(_optimizers.OPTIMIZER_NAMES), _optimizers.optimizer_cases)
