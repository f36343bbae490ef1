"""Optimizer benchmark for bench/RESULTS.md: the `optimizers` family at 2^16, 2^20, 2^24 (and
2^26) float32, 1 and 2 threads, plus DeepSpeed's CPU Adam when deepspeed is installed.

Run (the OpenBLAS overrides must be unset for benchmarks):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_optimizers.py [--deepspeed]

GOMP_SPINCOUNT defaults to 1000 here (see bench_activations.py). DeepSpeed JIT-builds its
CPU Adam on first use (minutes); its row times DeepSpeedCPUAdam.step() on the same arrays,
interleaved with fastopt's adam_ and torch's fused Adam (fastopt.bench's runner, with
DeepSpeed in the `numpy` column: the table header says so).
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("GOMP_SPINCOUNT", "1000")  # before libgomp loads

from fastopt import bench  # noqa: E402
from fastopt.bench import Case  # noqa: E402

SIZES = [1 << 16, 1 << 20, 1 << 24, 1 << 26]
THREADS = [1, 2]


def deepspeed_cases(size: int, dtype: str, torch) -> list:
    """adam: fastopt vs DeepSpeedCPUAdam (in the numpy column) vs torch fused."""
    import numpy as np
    from deepspeed.ops.adam import DeepSpeedCPUAdam

    from fastopt import functional as F

    rng = np.random.default_rng(0)
    p, g = (rng.standard_normal(size).astype(dtype) for _ in range(2))
    m, v = np.zeros_like(p), np.zeros_like(p)
    tp = torch.tensor(p.copy(), requires_grad=True)
    tp.grad = torch.from_numpy(g)
    ds = DeepSpeedCPUAdam([tp], lr=1e-3, adamw_mode=False)
    tp2 = torch.tensor(p.copy(), requires_grad=True)
    tp2.grad = torch.from_numpy(g)
    fused = torch.optim.Adam([tp2], lr=1e-3, fused=True)
    return [Case(name="adam_vs_deepspeed", family="optimizers", size=size, dtype=dtype, bytes=28 * size,
                 fastopt=lambda: F.adam_(p, g, m, v, step=10, lr=1e-3), numpy=ds.step, torch=fused.step,
                 numpy_code="DeepSpeedCPUAdam(adamw_mode=False).step()  [in the numpy column]",
                 torch_code="torch.optim.Adam(fused=True).step()", fastopt_code="F.adam_(p, g, m, v, step=10)",
                 ceiling="inplace", check=False)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deepspeed", action="store_true", help="add DeepSpeed's CPU Adam")
    parser.add_argument("--sizes", default=None)
    args = parser.parse_args()
    sizes = bench.parse_sizes(args.sizes) if args.sizes else SIZES
    if args.deepspeed:
        bench.FAMILIES["deepspeed"] = (["adam_vs_deepspeed"], deepspeed_cases)
    kernels = bench.resolve_kernels("optimizers" + (",deepspeed" if args.deepspeed else ""))
    print(bench.format_header(bench.environment(", ".join(map(str, THREADS)), "float32")))
    for threads in THREADS:
        results = bench.benchmark(kernels, sizes, "float32", threads, repeat=9, min_time=2e-3,
                                  progress=sys.stderr.isatty())
        print(f"\n### {threads} thread{'s' if threads > 1 else ''}\n")
        print(bench.format_table(results, markdown=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
