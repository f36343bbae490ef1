"""Activation benchmark for bench/RESULTS.md: 2^16, 2^20, 2^24 float32 at 1 and 2 threads.

Run (the OpenBLAS overrides must be unset for benchmarks):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_activations.py

GOMP_SPINCOUNT defaults to 1000 here (set before fastopt loads libgomp; the header shows it):
with libgomp's default spin-wait, the 2-vCPU VMs make parallel calls cost ~8 ms at random.

Prints the header line and one Markdown table per thread count, with the notes (copy
bandwidth spread, timed code). Everything is measured by fastopt.bench; see its docstring
for the method. Takes a few minutes on a 2-core machine.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("GOMP_SPINCOUNT", "1000")  # before libgomp loads: see the docstring

from fastopt import bench  # noqa: E402

SIZES = [1 << 16, 1 << 20, 1 << 24]
THREADS = [1, 2]


def main() -> int:
    kernels = bench.resolve_kernels("activations")
    print(bench.format_header(bench.environment(", ".join(map(str, THREADS)), "float32")))
    for threads in THREADS:
        results = bench.benchmark(kernels, SIZES, "float32", threads, progress=sys.stderr.isatty())
        print(f"\n### {threads} thread{'s' if threads > 1 else ''}\n")
        print(bench.format_table(results, markdown=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
