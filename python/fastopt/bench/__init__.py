"""Measure fastopt's kernels against the NumPy code a user would write and PyTorch CPU.

For every case (kernel x size) the contenders run interleaved, round-robin within each
repeat so that drift (this machine's memory bandwidth can jump ~1.6x within a run) hits all
of them alike: fastopt (preallocated ``out=`` where there is one), the NumPy code a user would
write, PyTorch CPU at the same thread count (its fused optimizer where it has one), and the
bandwidth ceiling ("roof") of the kernel's access pattern (``CEILINGS``: a copy for kernels
that write a new array, an in-place update ``a += s*b`` for in-place kernels such as optimizer
steps, a sum for read-only ones) moving the same bytes, on N threads and on one (the faster
is the roof: a kernel may run on one thread where the copy forks). Each sample times enough
inner calls to last at least ``--min-time``; the figures are medians after a warm-up. A case
whose median sample took over ``DISTURBED_RATIO`` times its fastest is measured again, and
marked if it stays so; the summary leaves marked rows out.

Bytes counted are the minimum the kernel must move (an activation forward reads x and writes
y; Adam reads p, g, m, v and writes p, m, v: 28 bytes per float32 element). ``GB/s`` is
fastopt's; ``% roof`` is that over the roof's GB/s measured in the same case. A ratio
from one run is a result; an absolute time on a shared machine is not.

The environment (``_env``): ``python -m fastopt bench`` runs itself again with libgomp's wait
policy set (``GOMP_SPINCOUNT=1000``) unless the user set one, and without the OpenBLAS
overrides, before OpenMP loads; the header says what it changed.
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

from . import _env

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


# Bandwidth ceilings: the plainest loops with a kernel's kind of memory traffic, run by
# fastopt's own drivers on as many bytes as the kernel moves (ceiling_size), interleaved with
# the case: (arrays moved, description). The copy's write costs a write-allocate read that
# the byte count does not include; an in-place update writes lines it has read, so it needs
# none and runs ~1.5x faster here: in-place kernels (optimizer steps) are held to that ceiling.
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


def ceiling_size(case: Case) -> int:
    """Elements of the ceiling loop that moves the same bytes as the case's kernel: so both
    work on the same amount of memory, in the same cache level."""
    import numpy as np

    return max(1, round(case.bytes / (CEILINGS[case.ceiling][0] * np.dtype(case.dtype).itemsize)))


def _ceilings(case: Case, threads: int, cache: Dict[Any, Any]) -> Dict[str, Callable[[], Any]]:
    """The case's ceiling loop on `threads` threads and, if that is more than one, on one.

    A kernel may run on fewer threads than asked (small arrays, or an unaligned head that
    leaves fewer than two grains: fastopt/parallel.hpp), and a parallel call pays the
    OpenMP pool's wake-up; so the roof is the faster of the two, measured alike."""
    import numpy as np

    import fastopt as fo

    from .. import _core

    if case.ceiling not in CEILINGS:
        raise ValueError(f"unknown ceiling kind {case.ceiling!r}")
    key = (ceiling_size(case), case.dtype, case.ceiling)
    if key not in cache:
        cache.clear()  # one size at a time: keep memory down
        cache[key] = (np.ones(key[0], case.dtype), np.zeros(key[0], case.dtype))
    a, b = cache[key]
    if case.ceiling == "copy":
        fn: Callable[[], Any] = lambda: _core._copy(a, b)  # noqa: E731
    elif case.ceiling == "read":
        fn = lambda: _core._sum(a)  # noqa: E731
    else:
        fn = lambda: _core._axpy(b, a, 1e-30)  # noqa: E731
    if threads <= 1:
        return {"ceiling": fn}

    def one_thread() -> None:
        saved = fo.get_num_threads()
        fo.set_num_threads(1)
        try:
            fn()
        finally:
            fo.set_num_threads(saved)
    return {"ceiling": fn, "ceiling_1t": one_thread}


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

# Disturbance. Each sample of a contender times the same work, so on a quiet machine most of
# them come within tens of percent of its fastest (memory bandwidth drifts, but not 2x). When
# the median sample of a contender took over DISTURBED_RATIO times its fastest, something
# else had the CPUs or the memory for half the samples or more, and the median (the figure
# printed) is theirs; a few slow samples alone do not move it. A kernel that moved its bytes
# more than IMPOSSIBLE_ROOF times faster than the ceiling loop moved the same bytes means the
# loop was slowed: nothing that must move those bytes beats the plainest loop by that much.
# Such a case is measured again, up to ATTEMPTS times in all, and marked if it stays so.
DISTURBED_RATIO = 2.0
IMPOSSIBLE_ROOF = 3.0
ATTEMPTS = 3


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


def _sample(fns: Dict[str, Callable[[], Any]], inner: Dict[str, int], rounds: Dict[str, int],
            repeat: int) -> Dict[str, List[float]]:
    """Seconds per call of each contender, `repeat` rounds, round-robin from a rotating start."""
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
    return samples


def _result(case: Case, samples: Dict[str, List[float]], threads: int) -> Dict[str, Any]:
    """The row of one measured case; "disturbed" says why it is not a result ("" if it is)."""
    import numpy as np

    med = {k: statistics.median(v) for k, v in samples.items()}
    roof = min((k for k in med if k.startswith("ceiling")), key=lambda k: med[k])
    size = ceiling_size(case)
    ceil_bytes = CEILINGS[case.ceiling][0] * size * np.dtype(case.dtype).itemsize
    gbps, ceil_gbps = case.bytes / med["fastopt"] / 1e9, ceil_bytes / med[roof] / 1e9
    shown = [k for k in samples if not k.startswith("ceiling")] + [roof]  # what the row reports
    spreads = {k: med[k] / min(samples[k]) for k in shown if len(samples[k]) >= MIN_SAMPLES}
    who, spread = max(spreads.items(), key=lambda kv: kv[1]) if spreads else ("", 1.0)
    disturbed = ""
    if spread > DISTURBED_RATIO:
        disturbed = f"{who}'s median sample {spread:.1f}x its fastest"
    elif gbps > IMPOSSIBLE_ROOF * ceil_gbps:
        disturbed = f"{gbps / ceil_gbps:.0%} of the roof: the ceiling loop was slowed"
    return {
        "kernel": case.name, "family": case.family, "size": case.size, "dtype": case.dtype,
        "threads": threads, "fastopt_s": med["fastopt"], "numpy_s": med.get("numpy"),
        "torch_s": med.get("torch"),
        "speedup_numpy": med["numpy"] / med["fastopt"] if "numpy" in med else None,
        "speedup_torch": med["torch"] / med["fastopt"] if "torch" in med else None,
        "bytes": case.bytes, "gbps": gbps, "ceiling": case.ceiling, "ceiling_gbps": ceil_gbps,
        "ceiling_size": size, "ceiling_threads": 1 if roof == "ceiling_1t" else threads,
        "roofline_fraction": gbps / ceil_gbps, "in_cache": case.bytes <= _l3_bytes(),
        "ceiling_gbps_samples": [ceil_bytes / s / 1e9 for s in samples[roof]],
        "spread": spread, "disturbed": disturbed, "note": case.note,
        "fastopt_code": case.fastopt_code, "numpy_code": case.numpy_code,
        "torch_code": case.torch_code or None,
    }


def measure(cases: Sequence[Case], repeat: int, min_time: float, threads: int,
            on_case: Optional[Callable[[Case], None]] = None) -> List[Dict[str, Any]]:
    """Time every case: its contenders interleaved round-robin; medians of `repeat` samples.
    A disturbed case is measured again (ATTEMPTS in all); the least disturbed attempt counts."""
    import numpy as np

    results, cache = [], {}
    for case in cases:
        if on_case:
            on_case(case)
        fns = {"fastopt": case.fastopt, "numpy": case.numpy, "torch": case.torch,
               **_ceilings(case, threads, cache)}
        fns = {k: f for k, f in fns.items() if f is not None}
        with np.errstate(all="ignore"):
            ref = case.fastopt()  # warm-up of each contender, and a check of its expression
            ref = tuple(np.array(r) for r in ref) if isinstance(ref, tuple) else np.array(ref)
            for who in ("numpy", "torch"):
                if who in fns and case.check:
                    _check(case, who, fns[who](), ref)
            for k in fns:
                if k.startswith("ceiling"):
                    fns[k]()
            calibrated = {k: _calibrate(f, min_time) for k, f in fns.items()}
            inner = {k: n for k, (n, _) in calibrated.items()}
            rounds = {k: max(min(repeat, MIN_SAMPLES), min(repeat, int(CASE_BUDGET_S / max(t, 1e-9))))
                      for k, (_, t) in calibrated.items()}
            rows = []
            for attempt in range(1, ATTEMPTS + 1):
                rows.append(_result(case, _sample(fns, inner, rounds, repeat), threads))
                if not rows[-1]["disturbed"]:
                    break
            best = min(rows, key=lambda r: (bool(r["disturbed"]), r["spread"]))
            best["attempts"] = len(rows)
        results.append(best)
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


# The up-front estimate of a run's duration. Per case: CASE_OVERHEAD_S (building inputs,
# warm-up, calibration), then `repeat` + 4 rounds over its ~5 contenders (fastopt, NumPy,
# torch, the ceiling on N threads and on one), each taking at least `min_time`; at large sizes
# a round takes SECONDS_PER_BYTE per byte of one array of `size` elements instead (NumPy's
# temporaries included). Fitted to default runs on a 2-vCPU VM shared with builds; another
# machine scales it, and the progress lines rescale the rest by the time taken so far.
CONTENDERS = 5
CASE_OVERHEAD_S = 0.2
SECONDS_PER_BYTE = {"activations": 6.1e-9, "losses": 5.6e-9, "optimizers": 5.1e-9}


def estimate_seconds(kernels: Sequence[str], sizes: Sequence[int], dtype: str = "float32",
                     repeat: int = 9, min_time: float = 2e-3) -> float:
    """Rough seconds that benchmark() will take with these arguments (see SECONDS_PER_BYTE)."""
    import numpy as np

    item = np.dtype(dtype).itemsize
    total = 0.0
    for family, (names, _) in FAMILIES.items():
        count = sum(n in kernels for n in names)
        per_byte = SECONDS_PER_BYTE.get(family, max(SECONDS_PER_BYTE.values()))
        for size in sizes:
            total += count * (CASE_OVERHEAD_S + (repeat + 4) * (CONTENDERS * min_time + per_byte * size * item))
    return total


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def benchmark(kernels: Sequence[str], sizes: Sequence[int], dtype: str = "float32",
              threads: Optional[int] = None, repeat: int = 9, min_time: float = 2e-3,
              progress: bool = False) -> List[Dict[str, Any]]:
    """Run the chosen kernels at each size with fastopt and torch at `threads` threads.

    With `progress`, stderr gets a line per family and size (elapsed time, and the rest of the
    estimate rescaled by how the estimate did so far), and on a terminal a line per case."""
    import fastopt as fo

    torch = _import_torch()
    threads = threads or fo.get_num_threads()
    saved = (fo.get_num_threads(), torch.get_num_threads() if torch else None)
    fo.set_num_threads(threads)
    if torch:
        torch.set_num_threads(threads)
    groups = [(size, family) for size in sizes for family, (names, _) in FAMILIES.items()
              if any(n in kernels for n in names)]
    tty = progress and sys.stderr.isatty()
    results: List[Dict[str, Any]] = []
    start, estimated_done = time.perf_counter(), 0.0
    estimated_all = estimate_seconds(kernels, sizes, dtype, repeat, min_time)

    def on_case(case: Case) -> None:
        if tty:
            print(f"\r  {case.name} {_size(case.size)}" + " " * 30, end="", file=sys.stderr, flush=True)

    try:
        for i, (size, family) in enumerate(groups, 1):
            names, builder = FAMILIES[family]
            group_start = time.perf_counter()
            cases = [c for c in builder(size, dtype, torch) if c.name in kernels]
            rows = measure(cases, repeat, min_time, threads, on_case)
            results += rows
            if progress:
                now = time.perf_counter()
                estimated_done += estimate_seconds([c.name for c in cases], [size], dtype, repeat, min_time)
                left = (estimated_all - estimated_done) * (now - start) / max(estimated_done, 1e-9)
                again = sum(r["attempts"] > 1 for r in rows)
                print(("\r" if tty else "") + f"[{i}/{len(groups)}] {family} at {_size(size)}: "
                      f"{len(rows)} cases in {_duration(now - group_start)}"
                      + (f" ({again} measured again)" if again else "")
                      + (f"; about {_duration(left)} left" if i < len(groups) else "; done")
                      + " " * 10, file=sys.stderr, flush=True)
    finally:
        fo.set_num_threads(saved[0])
        if torch:
            torch.set_num_threads(saved[1])
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
    """The header: CPU, ISA in use, threads, versions, date, the environment variables that
    change timings, and what the bench changed in them (``_env``)."""
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
        "env_arranged": _env.changes(),
    }


def format_header(h: Dict[str, Any]) -> str:
    v = h["versions"]
    arranged = h.get("env_arranged", [])
    env = "".join(f" | {k}={x}" + (" (set by the bench)" if f"{k}={x} set" in arranged else " (yours)")
                  for k, x in h.get("env", {}).items())
    env += "".join(f" | {c} by the bench" for c in arranged if c.endswith(" unset"))
    return (f"fastopt {v['fastopt']} ({h['isa']}, {h['compiler']}) | numpy {v['numpy']} | "
            f"torch {v['torch'] or 'not installed'} | {h['cpu']} ({h['cpus']} CPUs) | "
            f"{h['threads']} threads | {h['date']}" + env)


def _size(n: int) -> str:
    return f"2^{n.bit_length() - 1}" if n > 0 and n & (n - 1) == 0 else str(n)


def _fmt(x: Optional[float], spec: str, suffix: str = "") -> str:
    return "-" if x is None else format(x, spec) + suffix


ROOF_EXPLAINED = (
    "The roof: how fast this machine moves the same bytes with the simplest loop of the same "
    "memory traffic, timed in the same run on the same number of bytes (on N threads and on "
    "one; the faster counts): a copy y = x for kernels that write a new array, an in-place "
    "update a += s*b (the \"inplace\" roof: it rereads nothing before writing, so it runs "
    "~1.5x faster than a copy) for in-place kernels such as optimizer steps, a read-only sum "
    "for the gradient norm. 100% of the roof: the kernel runs as fast as moving its bytes "
    "allows; above 100%: its own traffic is cheaper than the loop's (no write-allocate read, "
    "or data the cache holds).")


def _case(r: Dict[str, Any]) -> str:
    return f"{r['kernel']} {_size(r['size'])}"


def format_summary(results: Sequence[Dict[str, Any]]) -> str:
    """A few plain sentences per family: median and worst speed-up against NumPy and PyTorch,
    and the share of the bandwidth roof reached, over the rows that are results."""
    good = [r for r in results if not r.get("disturbed")]
    if not results:
        return "Summary: nothing was measured."
    threads = results[0]["threads"]
    out = [f"Summary ({threads} thread{'s' * (threads != 1)}, {results[0]['dtype']}; a speed-up is "
           "their time / fastopt's: above 1x fastopt is faster):"]
    for family in dict.fromkeys(r["family"] for r in results):
        rows = [r for r in good if r["family"] == family]
        if not rows:
            out.append(f"  {family}: every case was disturbed (see the table)")
            continue
        parts = []
        for who, key in (("NumPy", "speedup_numpy"), ("PyTorch", "speedup_torch")):
            have = [r for r in rows if r[key] is not None]
            if have:
                worst = min(have, key=lambda r: r[key])
                parts.append(f"vs {who} {statistics.median(r[key] for r in have):.2f}x median, "
                             f"worst {worst[key]:.2f}x ({_case(worst)})")
            else:
                parts.append(f"vs {who}: not measured")
        low = min(rows, key=lambda r: r["roofline_fraction"])
        parts.append(f"{statistics.median(r['roofline_fraction'] for r in rows):.0%} of the bandwidth "
                     f"roof median, lowest {low['roofline_fraction']:.0%} ({_case(low)})")
        sizes = sorted({r["size"] for r in rows})
        out.append(f"  {family} ({len(rows)} cases, {', '.join(map(_size, sizes))} elements): "
                   + "; ".join(parts) + ".")
    skipped = len(results) - len(good)
    if skipped:
        out.append(f"  Left out: {skipped} disturbed case{'s' * (skipped != 1)} (marked ! in the table).")
    out.append("")
    out += _wrap(ROOF_EXPLAINED)
    return "\n".join(out)


def _wrap(text: str, indent: str = "") -> List[str]:
    import textwrap

    return textwrap.wrap(text, 96, initial_indent=indent, subsequent_indent=indent)


def format_table(results: Sequence[Dict[str, Any]], markdown: bool = False) -> str:
    """The aligned (or Markdown) table, then the notes: columns, disturbance, timed code."""
    cols = ["kernel", "size", "dtype", "fastopt us", "numpy us", "torch us", "x numpy",
            "x torch", "GB/s", "% roof", "roof"]
    rows = [[("! " if r.get("disturbed") else "") + r["kernel"],
             _size(r["size"]) + ("*" if r["in_cache"] else ""), r["dtype"],
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
    notes = [
        "us: microseconds per call (medians of samples taken in turn with the other columns). "
        "x numpy, x torch: their time / fastopt's (above 1x: fastopt is faster). GB/s: the bytes "
        "the kernel must move / fastopt's time. % roof: that over the roof's GB/s; roof: which "
        "loop that is (" + "; ".join(f"{k} = {CEILINGS[k][1]}" for k in used) + ").",
        f"*: bytes moved <= {cache_mib} MiB (the largest cache): the data stays in cache, so the "
        "roof there is the cache's bandwidth and compute matters more.",
    ]
    bad = [r for r in results if r.get("disturbed")]
    if bad:
        notes.append(
            f"!: disturbed, not a result: measured {ATTEMPTS} times and each time something else "
            "took the CPUs or memory meanwhile (" + "; ".join(f"{_case(r)}: {r['disturbed']}" for r in bad)
            + "). Run again on a quieter machine, or only those: --kernels NAME --sizes N.")
    again = [r for r in results if r.get("attempts", 1) > 1 and not r.get("disturbed")]
    if again:
        notes.append(f"Measured again after a disturbed attempt (the figures are the clean one's): "
                     + ", ".join(_case(r) for r in again) + ".")
    by_size: Dict[Any, List[float]] = {}
    for r in results:
        by_size.setdefault((r["ceiling"], r["size"], r["dtype"]), []).extend(r["ceiling_gbps_samples"])
    notes.append("Roof GB/s over the run (min / median / max of its samples), by loop and "
                 "size: " + "; ".join(
                     f"{c} {_size(s)} {d}: {min(v):.1f} / {statistics.median(v):.1f} / {max(v):.1f}"
                     for (c, s, d), v in sorted(by_size.items())) + ".")
    out.append("")
    for note in notes:
        out += ["- " + note] if markdown else _wrap(note)
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


DESCRIPTION = """Time fastopt's kernels against the NumPy code you would write and against PyTorch
(if installed) on this machine, then print a short summary and the full table. The default run
takes a few minutes on a small machine; it says how long up front. Figures are medians of
samples taken in turn, so a slow moment of the machine hits every contender alike."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kernels", default=None,
                        help="comma list of kernels (e.g. sigmoid,adam) or families "
                             f"({', '.join(FAMILIES)}); default: all")
    parser.add_argument("--sizes", default=None, help="comma list of element counts, e.g. "
                        "2^16,1048576 (default 2^16,2^20,2^24)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for fastopt and PyTorch alike (default: fastopt's)")
    parser.add_argument("--repeat", type=int, default=None, help="samples per case (default 9)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="minimum duration of one sample, ms (default 2)")
    parser.add_argument("--quick", action="store_true",
                        help="sizes 2^12,2^16 and fewer samples: seconds, for a smoke test")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the results here")
    parser.add_argument("--plot", metavar="FILE.png", default=None,
                        help="draw speed-ups and share of the roof per kernel (needs matplotlib: "
                             "pip install 'fastopt[bench]')")
    parser.add_argument("--compare", metavar="OLD.json", default=None,
                        help="also print how each ratio changed since an earlier --json run")


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
    if _env.arranged(os.environ) is not None:  # run in-process, not through python -m fastopt bench
        print("warning: this process's OpenMP wait policy and OpenBLAS settings were not arranged "
              "for timing (python -m fastopt bench does it): figures may be disturbed",
              file=sys.stderr)
    threads = args.threads or fo.get_num_threads()
    repeat = args.repeat or (3 if args.quick else 9)
    min_time = (args.min_time if args.min_time is not None else (0.5 if args.quick else 2.0)) / 1e3
    header = environment(threads, args.dtype)
    print(format_header(header), flush=True)
    estimate = estimate_seconds(kernels, sizes, args.dtype, repeat, min_time)
    print(f"Measuring {len(kernels)} kernels at {len(sizes)} size{'s' * (len(sizes) > 1)} "
          f"({', '.join(map(_size, sizes))} elements, {args.dtype}, {threads} threads): "
          f"roughly {_duration(estimate)} on a 2-vCPU VM.", file=sys.stderr, flush=True)
    results = benchmark(kernels, sizes, args.dtype, threads, repeat, min_time, progress=True)
    print()
    print(format_summary(results))
    print()
    print(format_table(results))
    print()
    print("\n".join(_wrap("Notes: " + _notes(header))))
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


def _notes(header: Dict[str, Any]) -> str:
    """What the environment lines of the header mean, in a sentence or two."""
    arranged = header.get("env_arranged", [])
    env = header.get("env", {})
    if any(c.startswith(_env.WAIT_POLICY[0]) for c in arranged):
        text = (f"{_env.WAIT_POLICY[0]}={_env.WAIT_POLICY[1]} was set by the bench (it ran itself "
                "again with it, since OpenMP reads it when it loads: set your own to keep it): "
                "with OpenMP's default wait, "
                "a parallel call on a small VM can cost milliseconds whenever the host deschedules "
                "an idle vCPU, which would make fastopt's and PyTorch's times random.")
    elif any(k in env for k in _env.USER_WAIT_POLICY):
        text = ("The OpenMP wait policy in the header is yours, so the bench left it; with "
                "OpenMP's default wait a small VM can make parallel calls cost milliseconds "
                f"(unset it, and the bench sets {_env.WAIT_POLICY[0]}={_env.WAIT_POLICY[1]}).")
    else:
        text = "OpenMP's wait policy is its default."
    if any(c.endswith(" unset") for c in arranged):
        text += " OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE were unset: they slow a current NumPy."
    return text


from . import _activations, _losses, _optimizers  # noqa: E402  (they use Case from above)

FAMILIES["activations"] = ([a[0] for a in _activations.ACTIVATIONS], _activations.activation_cases)
FAMILIES["losses"] = (list(_losses.LOSS_NAMES), _losses.loss_cases)
FAMILIES["optimizers"] = (list(_optimizers.OPTIMIZER_NAMES), _optimizers.optimizer_cases)
